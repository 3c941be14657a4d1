/*
 * pf_decode.h - reading a profile for analysis: profile.proto from any
 * producer (Go's runtime, pprof, this project), gzipped or plain, and the
 * legacy gperftools CPU format, into pf_decoded, a validated, index-linked
 * form built for fast analysis (top functions, flat/cum, flame graphs).
 *
 * The profile.proto reader streams: no intermediate message tree, one
 * sweep over the bytes with memory for the distinct stacks (500k sample
 * records in about 0.3 s). Fields may come in any order, repeated scalars
 * packed or not; unknown fields are skipped, a known field with the wrong
 * wire type is refused. Every length, string index and id is checked
 * (labels included, even when they are not kept). A malformed input gives
 * a PF_ERR_FORMAT error with the place ("sample 12: location id 99 not
 * found"), never a crash; a gzip bomb PF_ERR_LIMIT.
 *
 * Samples. By default identical stacks are merged while reading (their
 * values add up, saturating) and labels are checked but dropped: what
 * analysis needs. PF_DECODE_RECORDS keeps each sample record as it is,
 * with its labels, in the order of the file.
 *
 * References are array indices: samples[i] has nlocs location indices at
 * stack[loc0..], leaf first; locs[j] has nlines lines at lines[line0..],
 * innermost (inlined) first, and mapping = index + 1 into maps (0: none);
 * lines[k].func indexes funcs. values has nsamples * ntypes entries.
 * Every string is NUL-terminated, never NULL ("" when absent).
 *
 * Building: readers of other formats (the CLI's legacy heap text, tests)
 * fill a pf_decoded with pf_decoded_new and the pf_decoded_add_* calls.
 *
 * Ownership: a pf_decoded owns everything reachable from it; free it with
 * pf_decoded_free. Not thread-safe to build; read-only use from several
 * threads is fine.
 */
#ifndef PF_DECODE_H
#define PF_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_dvaluetype {
    const char *type, *unit; /* never NULL ("" when absent) */
} pf_dvaluetype;

typedef struct pf_dmapping {
    uint64_t id, start, limit, offset;
    const char *file, *build_id;
    bool has_functions, has_filenames, has_lines, has_inline;
} pf_dmapping;

typedef struct pf_dfunction {
    uint64_t id;
    const char *name, *system_name, *file;
    int64_t start_line;
} pf_dfunction;

typedef struct pf_dline {
    uint32_t func; /* index into funcs */
    int64_t line;
} pf_dline;

typedef struct pf_dlocation {
    uint64_t id, address;
    uint32_t mapping; /* index + 1 into maps; 0: none */
    uint32_t nlines;  /* 0: not symbolized */
    size_t line0;     /* first line in lines[], innermost (inlined) first */
} pf_dlocation;

typedef struct pf_dlabel {
    const char *key;
    const char *str;      /* NULL for a numeric label */
    int64_t num;
    const char *num_unit; /* "" when absent */
} pf_dlabel;

typedef struct pf_dsample {
    uint32_t nlocs;
    uint32_t nlabels; /* PF_DECODE_RECORDS only; else 0 */
    size_t loc0;      /* first location index in stack[], leaf first */
    size_t label0;    /* first label in labels[] */
} pf_dsample;

typedef struct pf_decoded {
    size_t ntypes;
    pf_dvaluetype *types;
    size_t default_type; /* the named default, else the last (pprof's rule) */
    pf_dvaluetype period_type;
    int64_t period, time_nanos, duration_nanos;
    const char *drop_frames, *keep_frames; /* "" when absent */
    const char **comments;
    size_t ncomments;
    pf_dmapping *maps;
    size_t nmaps;
    pf_dfunction *funcs;
    size_t nfuncs;
    pf_dlocation *locs;
    size_t nlocs;
    pf_dline *lines;
    size_t nlines;
    pf_dsample *samples; /* distinct stacks (or records: PF_DECODE_RECORDS) */
    size_t nsamples;
    uint32_t *stack;     /* location indices of all samples */
    size_t nstack;
    int64_t *values;     /* nsamples * ntypes, saturating sums */
    pf_dlabel *labels;   /* PF_DECODE_RECORDS only */
    size_t nlabels;
    size_t nrecords;     /* sample records read (before merging) */
    const char *format;  /* static: "profile.proto", "legacy gperftools CPU profile", ... */
    pf_arena arena;      /* every string */
    /* private: growth and the stack hash */
    size_t cap_maps, cap_funcs, cap_locs, cap_lines, cap_samples, cap_stack, cap_labels;
    bool records;        /* no merging */
    uint32_t *agg_idx;   /* sample index + 1; 0 empty */
    uint64_t *agg_hash;  /* per sample */
    size_t agg_cap;
} pf_decoded;

/* ---- reading ---- */

enum pf_decode_flags {
    PF_DECODE_RECORDS = 1u << 0,   /* one sample per record, labels kept */
    PF_DECODE_BUILD_IDS = 1u << 1, /* legacy CPU input: build IDs read from the
                                      mapped files (the profile is from this host) */
};

#define PF_DECODE_DEFAULT_MAX (256u << 20) /* uncompressed bytes */

/* Decodes data[0..len): gzipped (every member) or plain; profile.proto or
 * a legacy gperftools CPU profile (format says which). max_bytes bounds
 * the (uncompressed) size, 0 = the default above. NULL on error. */
pf_decoded *pf_decode(const void *data, size_t len, size_t max_bytes, unsigned flags,
                      pf_err *err);

/* Plain (already inflated) data only, profile.proto or legacy CPU. */
pf_decoded *pf_decode_plain(const void *data, size_t len, unsigned flags, pf_err *err);

/* Index of the sample type named (or numbered) by `which`; NULL or "" =
 * the default. pprof's rules ("inuse_" may be left out). -1 if none. */
int pf_decoded_type_index(const pf_decoded *d, const char *which);

/* Samples in the sense of the profile: the sum of its samples/count value
 * when it has one (a CPU profile's records carry counts), else the number
 * of sample records. */
uint64_t pf_decoded_samples(const pf_decoded *d);

/* True if some location has an address but no function, in a mapping
 * that does not say it is symbolized. */
bool pf_decoded_needs_symbols(const pf_decoded *d);

void pf_decoded_free(pf_decoded *d); /* NULL is fine */

/* ---- building ---- */
/* An empty profile ("" strings, format "profile.proto"); records: see
 * PF_DECODE_RECORDS. NULL when out of memory. */
pf_decoded *pf_decoded_new(bool records);
/* Copies s (len bytes, or strlen when len is SIZE_MAX) into the arena;
 * "" for NULL or empty; NULL when out of memory. */
const char *pf_decoded_str(pf_decoded *d, const char *s, size_t len);
/* Sets the sample types (copied); resets nothing else. 0 or -1. */
int pf_decoded_set_types(pf_decoded *d, const pf_dvaluetype *types, size_t n);
/* Reserves room (upper bounds are fine: untouched memory costs nothing)
 * so that large profiles are read without copying arrays as they grow.
 * samples needs the sample types set first. 0 or -1. */
int pf_decoded_reserve(pf_decoded *d, size_t maps, size_t funcs, size_t locs, size_t lines,
                       size_t samples, size_t stack);
/* Append and return the new element's index, or -1 when out of memory. */
int64_t pf_decoded_add_mapping(pf_decoded *d, const pf_dmapping *m);
int64_t pf_decoded_add_function(pf_decoded *d, const pf_dfunction *f);
int64_t pf_decoded_add_location(pf_decoded *d, const pf_dlocation *l);
int64_t pf_decoded_add_line(pf_decoded *d, uint32_t func, int64_t line);
/* Adds a sample record: locs (leaf first, valid indices), ntypes values,
 * labels (strings owned by d; ignored unless records). Merges with an
 * identical stack unless records. 0 or -1 (out of memory). */
int pf_decoded_add_sample(pf_decoded *d, const uint32_t *locs, size_t n, const int64_t *values,
                          const pf_dlabel *labels, size_t nlabels);
/* Frees the stack hash once no more samples come. */
void pf_decoded_done(pf_decoded *d);

#ifdef __cplusplus
}
#endif
#endif
