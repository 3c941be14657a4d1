/*
 * pf_profile.h - in-memory profile model for building profiles, and its
 * writing as profile.proto (through pf_encode.h's encoder).
 *
 * Build a profile sample by sample, then write it as (gzipped)
 * profile.proto for pprof clients:
 *
 *   pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
 *   pf_profile *p = pf_profile_new(types, 2, &err);
 *   pf_profile_set_period(p, "cpu", "nanoseconds", 10000000);
 *   pf_profile_add_maps(p, maps);                 // from pf_maps_read_self
 *   pf_profile_add_sample(p, pcs, npcs, values, NULL, 0, &err);
 *   pf_profile_write(p, symbolizer, PF_WRITE_GZIP, write_fn, ctx, &err);
 *   pf_profile_free(p);
 *
 * Identical stacks (same locations and labels) are merged: their values
 * add up. Strings, functions and locations are interned.
 *
 * Addresses. pf_profile_add_sample takes the stack as an unwinder returns
 * it, leaf first. By default (PF_PCS_LEAF_EXACT, as gperftools' CPU
 * profiler and signal-context unwinding give) pcs[0] is the exact PC of the
 * leaf and pcs[1..] are return addresses; with PF_PCS_ALL_RETURN every
 * entry is a return address (backtrace() from inside the code, heap
 * samples). The model stores return address - 1 for return addresses, the
 * address of the call instruction: Location.address is thus the address of
 * the instruction of interest, as Go's runtime/pprof and google/pprof's
 * legacy importer write it. Symbolizers (the server's or the client's)
 * look Location.address up as is.
 *
 * Ownership: the profile copies every string and array it is given; the
 * caller keeps ownership of its arguments. Free with pf_profile_free.
 * Thread-safety: none; one thread builds and writes a profile. Writing may
 * add strings and functions (from symbolization) to the profile, so two
 * writes of one profile must not run concurrently either.
 */
#ifndef PF_PROFILE_H
#define PF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"
#include "pf_decoded.h"
#include "pf_encode.h"
#include "pf_maps.h"
#include "pf_symbolize.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PF_MAX_VALUES 64     /* sample types per profile */
#define PF_MAX_DEPTH 4096    /* frames per sample */
#define PF_MAX_LABELS 64     /* labels per sample */

typedef struct pf_profile pf_profile;

typedef struct pf_value_type {
    const char *type; /* "cpu", "alloc_space", ... */
    const char *unit; /* "nanoseconds", "bytes", "count" */
} pf_value_type;

/* A sample label: a string label when str != NULL, else a numeric one. */
typedef struct pf_label {
    const char *key;      /* "thread", "bytes" */
    const char *str;      /* value of a string label, or NULL */
    int64_t num;          /* value of a numeric label */
    const char *num_unit; /* unit of a numeric label, or NULL */
} pf_label;

/* A frame known by name only (no address): converted or synthetic data. */
typedef struct pf_frame {
    const char *function; /* required */
    const char *file;     /* NULL if unknown */
    int64_t line;         /* 0 if unknown */
} pf_frame;

typedef enum pf_pc_mode {
    PF_PCS_LEAF_EXACT = 0, /* pcs[0] exact, others return addresses (default) */
    PF_PCS_ALL_RETURN = 1, /* every pc is a return address */
} pf_pc_mode;

/* Creates an empty profile with `ntypes` (1..PF_MAX_VALUES) sample types;
 * every sample then carries ntypes values. The strings are copied. */
pf_profile *pf_profile_new(const pf_value_type *types, size_t ntypes, pf_err *err);
void pf_profile_free(pf_profile *p); /* NULL is fine */

/* ---- header fields (all optional) ---- */
pf_code pf_profile_set_period(pf_profile *p, const char *type, const char *unit, int64_t period);
void pf_profile_set_time(pf_profile *p, int64_t time_nanos, int64_t duration_nanos);
/* Names one of the sample types as the default view ("inuse_space"). */
pf_code pf_profile_set_default_type(pf_profile *p, const char *type);
pf_code pf_profile_add_comment(pf_profile *p, const char *comment);
void pf_profile_set_pc_mode(pf_profile *p, pf_pc_mode mode);

/* ---- mappings ---- */
/* Adds one mapping (copied). Only mappings that contain sampled addresses
 * matter; non-executable ones are accepted but useless. Add the mappings
 * of every sampled address: pprof treats a location without mapping as
 * unsymbolized and complains "Main binary filename not available". */
pf_code pf_profile_add_mapping(pf_profile *p, const pf_mapping *m);
/* Adds every executable mapping of maps (copied). */
pf_code pf_profile_add_maps(pf_profile *p, const pf_maps *maps);

/* ---- samples ---- */
/* Adds a sample: a stack of npcs (<= PF_MAX_DEPTH) addresses, leaf first,
 * see "Addresses" above; values has one entry per sample type; labels may
 * be NULL when nlabels is 0. Same stack and labels: the values are added
 * (saturating at INT64_MIN/INT64_MAX). */
pf_code pf_profile_add_sample(pf_profile *p, const uintptr_t *pcs, size_t npcs,
                              const int64_t *values, const pf_label *labels,
                              size_t nlabels, pf_err *err);

/* Adds a sample whose frames are already symbolic, leaf first. Such
 * locations have no address; they are written under one placeholder
 * mapping (start = limit = 0, no file, HasFunctions set), as Go's runtime
 * does, so that pprof does not try to symbolize them. */
pf_code pf_profile_add_sample_frames(pf_profile *p, const pf_frame *frames, size_t nframes,
                                     const int64_t *values, const pf_label *labels,
                                     size_t nlabels, pf_err *err);

/* Keeps the `keep` samples of largest |value[value_index]| and removes
 * the others, with the locations only they used (to fit a receiver's
 * limits on samples and size). *pruned is how many were removed. After a
 * prune, no sample may be added to p. PF_OK, PF_ERR_ARG or PF_ERR_NOMEM
 * (then p is unchanged). */
pf_code pf_profile_keep_largest(pf_profile *p, size_t keep, size_t value_index,
                                size_t *pruned);

/* Adds every sample of src into dst (same sample types, in the same
 * order: else PF_ERR_ARG), interning its locations, functions and labels
 * in dst; src's mappings, comments and times are not copied, its period
 * only when dst has none. On
 * PF_ERR_NOMEM, dst holds part of src's samples. */
pf_code pf_profile_merge(pf_profile *dst, const pf_profile *src, pf_err *err);

/* The bytes p holds: what its arrays, tables and arenas asked malloc for
 * (capacities, not lengths; the allocator's own overhead aside). O(1). */
size_t pf_profile_bytes(const pf_profile *p);

/* Number of distinct samples (after merging) and locations so far. */
size_t pf_profile_sample_count(const pf_profile *p);
size_t pf_profile_location_count(const pf_profile *p);

/* ---- output ---- */
/* Encodes the profile as profile.proto and streams it to fn(ctx, ...):
 * the profile in the analysis form (pf_profile_to_decoded, with its sample
 * records and labels) written by the core's encoder (pf_encode.h); flags
 * are its PF_WRITE_* flags.
 * With a symbolizer, every address location gets its function, file, line
 * and inlined frames, and the mappings say so (HasFunctions, ...);
 * without, locations carry addresses only and pprof symbolizes them
 * (locally or through /debug/pprof/symbol). Samples whose values are all
 * zero are left out. Returns PF_OK, PF_ERR_WRITE if fn failed, or
 * PF_ERR_NOMEM. */
pf_code pf_profile_write(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                         pf_write_fn fn, void *ctx, pf_err *err);

/* Same, into a malloc'd buffer the caller frees. */
pf_code pf_profile_encode(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                          uint8_t **out, size_t *out_len, pf_err *err);

/* The profile in the analysis form, directly: what pf_decode would read
 * from pf_profile_encode(p, NULL, 0, ...) (ids are indices + 1, the
 * placeholder mapping of symbolic locations, all-zero samples left out),
 * without encoding. flags: PF_DECODE_RECORDS (pf_decode.h) or 0. NULL
 * with err when out of memory. */
pf_decoded *pf_profile_to_decoded(const pf_profile *p, unsigned flags, pf_err *err);

#ifdef __cplusplus
}
#endif
#endif
