/* pf_profile_impl.h - the model's layout, shared by pf_build.c (building),
 * pf_prune.c and pf_convert.c (into the form the encoder writes). Internal. */
#ifndef PF_PROFILE_IMPL_H
#define PF_PROFILE_IMPL_H

#include "pf_internal.h"
#include "pf_profile.h"

/* A location: an address (func == 0) or a symbolic frame (func > 0). */
typedef struct pf_loc {
    uint64_t addr;  /* adjusted address, see pf_profile.h; 0 if symbolic */
    uint32_t func;  /* function index + 1, symbolic locations only */
    int64_t line;
} pf_loc;

typedef struct pf_func {
    int64_t name, file; /* string indices */
    int64_t start_line;
} pf_func;

typedef struct pf_slabel {
    int64_t key, str, num, unit; /* string indices, except num */
} pf_slabel;

typedef struct pf_sample {
    uint32_t nlocs, nlabels;
    uint32_t *locs;     /* location indices, leaf first */
    pf_slabel *labels;  /* sorted */
    int64_t *values;    /* p->nvalues */
} pf_sample;

typedef struct pf_pmapping {
    uint64_t start, limit, offset;
    int64_t file, build_id;
} pf_pmapping;

struct pf_profile {
    size_t nvalues;
    pf_slabel types[PF_MAX_VALUES]; /* key = type, str = unit */
    int64_t period_type, period_unit, period;
    int64_t time_nanos, duration_nanos;
    int64_t default_type;
    pf_pc_mode mode;
    int64_t *comments;
    size_t ncomments, cap_comments;
    pf_strtab strings;
    pf_arena mem; /* sample arrays */
    pf_sample *samples;
    size_t nsamples, cap_samples;
    pf_idxmap sample_map;
    pf_loc *locs;
    size_t nlocs, cap_locs;
    pf_idxmap loc_map;
    pf_func *funcs;
    size_t nfuncs, cap_funcs;
    pf_idxmap func_map;
    pf_pmapping *maps;
    size_t nmaps, cap_maps;
    uint32_t *scratch;            /* location indices of the sample being added */
    size_t cap_scratch;
    pf_slabel scratch_labels[PF_MAX_LABELS];
};

/* Interns a function by (name, file); returns its index or -1 (no memory). */
int64_t pf_profile_func(pf_profile *p, int64_t name, int64_t file, int64_t start_line);

/* The mapping indices sorted by start address, a malloc'd array the
 * caller frees (NULL: no memory), for pf_profile_find_mapping. */
uint32_t *pf_profile_maps_by_start(const pf_profile *p);
/* Index of the mapping containing addr, or -1. */
int64_t pf_profile_find_mapping(const pf_profile *p, const uint32_t *by_start, uint64_t addr);

#endif
