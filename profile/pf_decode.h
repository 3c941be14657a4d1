/*
 * pf_decode.h - reading profile.proto from any producer (Go's runtime,
 * pprof, this project) into a validated, pointer-linked form for analysis
 * (top functions, flat/cum, flame graphs).
 *
 * Input: gzipped or plain profile.proto; also a legacy gperftools CPU
 * profile (converted through pf_legacy). Every reference is checked:
 * string indices, location/function/mapping ids, the number of values per
 * sample. A malformed input gives a PF_ERR_FORMAT error with the place
 * ("sample 12: location id 99 not found"), never a crash.
 *
 * Ownership: pf_decode returns one pf_decoded that owns every array and
 * string reachable from it; free it with pf_decoded_free. Read-only after
 * decoding; concurrent readers are fine.
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
    bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
} pf_dmapping;

typedef struct pf_dfunction {
    uint64_t id;
    const char *name, *system_name, *file;
    int64_t start_line;
} pf_dfunction;

typedef struct pf_dline {
    const pf_dfunction *function; /* never NULL */
    int64_t line;
} pf_dline;

typedef struct pf_dlocation {
    uint64_t id, address;
    const pf_dmapping *mapping; /* NULL when the location has none */
    size_t nlines;              /* 0: unsymbolized */
    const pf_dline *lines;      /* innermost (inlined) first */
    bool is_folded;
} pf_dlocation;

typedef struct pf_dlabel {
    const char *key;
    const char *str;      /* NULL for a numeric label */
    int64_t num;
    const char *num_unit; /* "" when absent */
} pf_dlabel;

typedef struct pf_dsample {
    size_t nlocations;
    const pf_dlocation *const *locations; /* leaf first */
    const int64_t *values;                /* nsample_types entries */
    size_t nlabels;
    const pf_dlabel *labels;
} pf_dsample;

typedef struct pf_decoded {
    size_t nsample_types;
    const pf_dvaluetype *sample_types;
    size_t default_sample_type; /* index into sample_types: the named
                                   default, else the last (pprof's rule) */
    pf_dvaluetype period_type;
    int64_t period, time_nanos, duration_nanos;
    const char *drop_frames, *keep_frames;
    size_t ncomments;
    const char *const *comments;
    size_t nsamples;
    const pf_dsample *samples;
    size_t nlocations;
    const pf_dlocation *locations;
    size_t nfunctions;
    const pf_dfunction *functions;
    size_t nmappings;
    const pf_dmapping *mappings;
    bool from_legacy; /* input was a legacy gperftools CPU profile */
} pf_decoded;

#define PF_DECODE_DEFAULT_MAX (256u << 20) /* uncompressed bytes */

/* Decodes data[0..len). max_bytes bounds the uncompressed size (0 = the
 * default above; a gzip bomb fails with PF_ERR_LIMIT). NULL on error. */
pf_decoded *pf_decode(const void *data, size_t len, size_t max_bytes, pf_err *err);

/* Index of the sample type named `type` ("cpu"), or -1. */
int pf_decoded_type_index(const pf_decoded *d, const char *type);

void pf_decoded_free(pf_decoded *d); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
