/* pf_profile_keep_largest: see pf_profile.h. */
#include "pf_profile_impl.h"

#include <stdlib.h>

typedef struct prune_key {
    uint64_t weight;
    uint32_t idx;
} prune_key;

static int by_weight_desc(const void *a, const void *b)
{
    const prune_key *x = a, *y = b;
    if (x->weight != y->weight)
        return x->weight < y->weight ? 1 : -1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* stable: first added first */
}

static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

pf_code pf_profile_keep_largest(pf_profile *p, size_t keep, size_t value_index,
                                size_t *pruned)
{
    *pruned = 0;
    if (p->nsamples <= keep)
        return PF_OK;
    if (value_index >= p->nvalues)
        return PF_ERR_ARG;
    prune_key *order = malloc(p->nsamples * sizeof *order);
    uint32_t *newloc = calloc(p->nlocs ? p->nlocs : 1, sizeof *newloc);
    bool *kept = calloc(p->nsamples, sizeof *kept);
    if (order == NULL || newloc == NULL || kept == NULL) {
        free(order);
        free(newloc);
        free(kept);
        return PF_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->nsamples; i++)
        order[i] = (prune_key){magnitude(p->samples[i].values[value_index]), (uint32_t)i};
    qsort(order, p->nsamples, sizeof *order, by_weight_desc);
    for (size_t i = 0; i < keep; i++)
        kept[order[i].idx] = true;
    /* Samples: keep the chosen ones in their order; mark their locations. */
    size_t n = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        if (!kept[i])
            continue;
        p->samples[n++] = p->samples[i];
        for (uint32_t l = 0; l < p->samples[i].nlocs; l++)
            newloc[p->samples[i].locs[l]] = 1;
    }
    *pruned = p->nsamples - n;
    p->nsamples = n;
    /* Locations: drop those no kept sample uses, renumber the rest. */
    size_t m = 0;
    for (size_t i = 0; i < p->nlocs; i++) {
        if (!newloc[i])
            continue;
        newloc[i] = (uint32_t)m;
        p->locs[m++] = p->locs[i];
    }
    p->nlocs = m;
    for (size_t i = 0; i < p->nsamples; i++)
        for (uint32_t l = 0; l < p->samples[i].nlocs; l++)
            p->samples[i].locs[l] = newloc[p->samples[i].locs[l]];
    /* The interning maps index what was removed: no sample may be added
     * from now on (see pf_profile.h), so they are simply emptied. */
    pf_idxmap_clear(&p->sample_map);
    pf_idxmap_clear(&p->loc_map);
    free(order);
    free(newloc);
    free(kept);
    return PF_OK;
}
