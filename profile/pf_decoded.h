/*
 * pf_decoded.h - the analysis form of a profile (pf_decoded): validated,
 * index-linked, built for fast analysis (top functions, flat/cum, flame
 * graphs). The decoder reads into it (pf_decode.h), the encoder writes it
 * (pf_encode.h), the building model converts into it (pf_profile.h), and
 * readers of other formats (the CLI's legacy heap text, tests) fill one
 * with pf_decoded_new and the pf_decoded_add_* calls.
 *
 * Samples. By default identical stacks are merged as they are added
 * (their values add up, saturating) and labels are dropped: what analysis
 * needs. A profile made with records = true keeps each sample record as
 * it is, with its labels, in the order added.
 *
 * References are array indices: samples[i] has nlocs location indices at
 * stack[loc0..], leaf first; locs[j] has nlines lines at lines[line0..],
 * innermost (inlined) first, and mapping = index + 1 into maps (0: none);
 * lines[k].func indexes funcs. values has nsamples * ntypes entries.
 * Every string is NUL-terminated, never NULL ("" when absent).
 *
 * Ownership: a pf_decoded owns everything reachable from it; free it with
 * pf_decoded_free. Not thread-safe to build; read-only use from several
 * threads is fine.
 */
#ifndef PF_DECODED_H
#define PF_DECODED_H

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
    uint32_t nlabels; /* records only; else 0 */
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
    pf_dsample *samples; /* distinct stacks (or records) */
    size_t nsamples;
    uint32_t *stack;     /* location indices of all samples */
    size_t nstack;
    int64_t *values;     /* nsamples * ntypes, saturating sums */
    pf_dlabel *labels;   /* records only */
    size_t nlabels;
    size_t nrecords;     /* sample records read (before merging) */
    const char *format;  /* static: "profile.proto", "legacy gperftools CPU profile", ... */
    pf_arena arena;      /* every string */
    /* private: growth and the stack hash */
    size_t cap_maps, cap_funcs, cap_locs, cap_lines, cap_samples, cap_stack, cap_labels;
    bool records;        /* no merging */
    pf_idxmap agg;       /* stack -> sample, while merging */
} pf_decoded;

/* ---- queries ---- */
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
/* Clears has_functions (and the other has_ flags) of every mapping that
 * has a location without lines: pprof's rule is that the flags speak for
 * every location, and symbolizers (pprof's, Parca's, takhin-profiler's)
 * skip a mapping that claims them. */
void pf_decoded_mark_unresolved(pf_decoded *d);

void pf_decoded_free(pf_decoded *d); /* NULL is fine */

/* ---- building ---- */
/* An empty profile ("" strings, format "profile.proto"); records: keep
 * every sample record with its labels (see above). NULL when out of
 * memory. */
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
