/* pf_decoded.c - the analysis model of pf_decode.h: tables, merging of
 * identical stacks, queries. */
#include "pf_decoded.h"
#include "pf_internal.h"

#include <stdlib.h>
#include <string.h>

const char *pf_decoded_str(pf_decoded *p, const char *s, size_t len)
{
    if (s == NULL)
        return "";
    if (len == SIZE_MAX)
        len = strlen(s);
    if (len == 0)
        return "";
    char *d = pf_arena_alloc(&p->arena, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* ---- tables ---- */

/* pf_grow, with huge pages asked for the large arrays of big profiles. */
static int grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0; /* the common case, without a call: once per sample */
    size_t old = *cap;
    if (pf_grow(arr, cap, need, elem) != 0)
        return -1;
    if (*cap != old)
        pf_hugepages(*(void **)arr, *cap * elem);
    return 0;
}

pf_decoded *pf_decoded_new(bool records)
{
    pf_decoded *p = calloc(1, sizeof *p);
    if (p != NULL) {
        p->records = records;
        p->period_type.type = p->period_type.unit = "";
        p->drop_frames = p->keep_frames = "";
        p->format = "profile.proto";
    }
    return p;
}

void pf_decoded_done(pf_decoded *p)
{
    pf_idxmap_free(&p->agg);
}

void pf_decoded_free(pf_decoded *p)
{
    if (p == NULL)
        return;
    pf_decoded_done(p);
    free(p->types);
    free(p->comments);
    free(p->maps);
    free(p->funcs);
    free(p->locs);
    free(p->lines);
    free(p->samples);
    free(p->stack);
    free(p->values);
    free(p->labels);
    pf_arena_free(&p->arena);
    free(p);
}

int pf_decoded_set_types(pf_decoded *p, const pf_dvaluetype *types, size_t n)
{
    if (n > SIZE_MAX / 4 / sizeof(int64_t))
        return -1;
    pf_dvaluetype *t = calloc(n + 1, sizeof *t);
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        t[i].type = pf_decoded_str(p, types[i].type, SIZE_MAX);
        t[i].unit = pf_decoded_str(p, types[i].unit, SIZE_MAX);
        if (t[i].type == NULL || t[i].unit == NULL) {
            free(t);
            return -1;
        }
    }
    free(p->types);
    p->types = t;
    p->ntypes = n;
    p->default_type = n > 0 ? n - 1 : 0;
    return 0;
}

int pf_decoded_reserve(pf_decoded *p, size_t maps, size_t funcs, size_t locs, size_t lines,
                     size_t samples, size_t stack)
{
    if (grow(&p->maps, &p->cap_maps, maps, sizeof *p->maps) != 0 ||
        grow(&p->funcs, &p->cap_funcs, funcs, sizeof *p->funcs) != 0 ||
        grow(&p->locs, &p->cap_locs, locs, sizeof *p->locs) != 0 ||
        grow(&p->lines, &p->cap_lines, lines, sizeof *p->lines) != 0 ||
        grow(&p->stack, &p->cap_stack, stack, sizeof *p->stack) != 0)
        return -1;
    if (samples > p->cap_samples && p->nsamples == 0 && p->ntypes > 0) {
        pf_dsample *sm = realloc(p->samples, samples * sizeof *sm);
        int64_t *vs = sm ? realloc(p->values, samples * p->ntypes * sizeof *vs) : NULL;
        if (sm)
            p->samples = sm;
        if (vs == NULL)
            return -1;
        pf_hugepages(sm, samples * sizeof *sm);
        pf_hugepages(vs, samples * p->ntypes * sizeof *vs);
        p->values = vs;
        p->cap_samples = samples;
    }
    return 0;
}

int64_t pf_decoded_add_mapping(pf_decoded *p, const pf_dmapping *m)
{
    if (grow(&p->maps, &p->cap_maps, p->nmaps + 1, sizeof *m) != 0)
        return -1;
    p->maps[p->nmaps] = *m;
    return (int64_t)p->nmaps++;
}

int64_t pf_decoded_add_function(pf_decoded *p, const pf_dfunction *f)
{
    if (grow(&p->funcs, &p->cap_funcs, p->nfuncs + 1, sizeof *f) != 0)
        return -1;
    p->funcs[p->nfuncs] = *f;
    return (int64_t)p->nfuncs++;
}

int64_t pf_decoded_add_location(pf_decoded *p, const pf_dlocation *l)
{
    if (p->nlocs >= UINT32_MAX - 1 || grow(&p->locs, &p->cap_locs, p->nlocs + 1, sizeof *l) != 0)
        return -1;
    p->locs[p->nlocs] = *l;
    return (int64_t)p->nlocs++;
}

int64_t pf_decoded_add_line(pf_decoded *p, uint32_t func, int64_t line)
{
    if (grow(&p->lines, &p->cap_lines, p->nlines + 1, sizeof *p->lines) != 0)
        return -1;
    p->lines[p->nlines] = (pf_dline){func, line};
    return (int64_t)p->nlines++;
}

/* ---- merging identical stacks ---- */

typedef struct stack_key {
    const uint32_t *locs;
    size_t n;
} stack_key;

static bool same_stack(const void *ctx, uint32_t i, const void *key)
{
    const pf_decoded *p = ctx;
    const stack_key *k = key;
    const pf_dsample *x = &p->samples[i];
    return x->nlocs == k->n &&
           (k->n == 0 || memcmp(&p->stack[x->loc0], k->locs, k->n * sizeof *k->locs) == 0);
}

static void add_values(int64_t *dst, const int64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(dst[i], src[i], &dst[i]))
            dst[i] = src[i] > 0 ? INT64_MAX : INT64_MIN;
    }
}

/* Appends a new distinct sample. 0 or -1. */
static int new_sample(pf_decoded *p, const uint32_t *locs, size_t n, const int64_t *values,
                      const pf_dlabel *labels, size_t nlabels)
{
    if (nlabels > 0 && (nlabels > UINT32_MAX ||
                        grow(&p->labels, &p->cap_labels, p->nlabels + nlabels,
                             sizeof *labels) != 0))
        return -1;
    size_t old = p->cap_samples;
    if (grow(&p->stack, &p->cap_stack, p->nstack + n, sizeof *locs) != 0 ||
        grow(&p->samples, &p->cap_samples, p->nsamples + 1, sizeof *p->samples) != 0)
        return -1;
    if (p->cap_samples != old || p->values == NULL) {
        int64_t *vs = realloc(p->values, (p->cap_samples * p->ntypes + 1) * sizeof *vs);
        if (vs == NULL)
            return -1;
        p->values = vs;
    }
    if (n > 0)
        memcpy(&p->stack[p->nstack], locs, n * sizeof *locs);
    p->samples[p->nsamples] = (pf_dsample){(uint32_t)n, (uint32_t)nlabels, p->nstack, p->nlabels};
    if (nlabels > 0)
        memcpy(&p->labels[p->nlabels], labels, nlabels * sizeof *labels);
    p->nlabels += nlabels;
    memcpy(&p->values[p->nsamples * p->ntypes], values, p->ntypes * sizeof *values);
    p->nstack += n;
    p->nsamples++;
    return 0;
}

int pf_decoded_add_sample(pf_decoded *p, const uint32_t *locs, size_t n, const int64_t *values,
                          const pf_dlabel *labels, size_t nlabels)
{
    if (n > UINT32_MAX || p->nsamples >= UINT32_MAX - 1)
        return -1;
    if (p->records) {
        if (new_sample(p, locs, n, values, labels, nlabels) != 0)
            return -1;
        p->nrecords++;
        return 0;
    }
    uint64_t h = pf_hash_bytes(locs, n * sizeof *locs, 0);
    stack_key key = {locs, n};
    int64_t s = pf_idxmap_find(&p->agg, h, same_stack, p, &key);
    p->nrecords++;
    if (s >= 0) {
        add_values(&p->values[(size_t)s * p->ntypes], values, p->ntypes);
        return 0;
    }
    if (new_sample(p, locs, n, values, NULL, 0) != 0 ||
        pf_idxmap_insert(&p->agg, h, (uint32_t)p->nsamples - 1) != 0)
        return -1;
    return 0;
}

/* ---- queries ---- */

int pf_decoded_type_index(const pf_decoded *p, const char *which)
{
    if (which == NULL || which[0] == '\0')
        return p->ntypes > 0 ? (int)p->default_type : -1;
    char *end;
    long i = strtol(which, &end, 10);
    if (*end == '\0' && end != which)
        return i >= 0 && (size_t)i < p->ntypes ? (int)i : -1;
    const char *no_inuse = strncmp(which, "inuse_", 6) == 0 ? which + 6 : which;
    for (size_t k = 0; k < p->ntypes; k++) {
        if (strcmp(p->types[k].type, which) == 0 || strcmp(p->types[k].type, no_inuse) == 0)
            return (int)k;
    }
    return -1;
}

bool pf_decoded_needs_symbols(const pf_decoded *p)
{
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_dlocation *l = &p->locs[i];
        const pf_dmapping *m = l->mapping ? &p->maps[l->mapping - 1] : NULL;
        if (l->nlines == 0 && m && !(m->has_functions || m->has_filenames || m->has_lines))
            return true;
    }
    return false;
}

void pf_decoded_mark_unresolved(pf_decoded *d)
{
    for (size_t i = 0; i < d->nlocs; i++) {
        const pf_dlocation *l = &d->locs[i];
        if (l->nlines == 0 && l->mapping != 0 && l->mapping <= d->nmaps) {
            pf_dmapping *m = &d->maps[l->mapping - 1];
            m->has_functions = m->has_filenames = m->has_lines = m->has_inline = false;
        }
    }
}

uint64_t pf_decoded_samples(const pf_decoded *p)
{
    int i = -1;
    for (size_t k = 0; k < p->ntypes && i < 0; k++) {
        if (strcmp(p->types[k].type, "samples") == 0 && strcmp(p->types[k].unit, "count") == 0)
            i = (int)k;
    }
    if (i < 0)
        return p->nrecords;
    uint64_t n = 0;
    for (size_t s = 0; s < p->nsamples; s++) {
        int64_t v = p->values[s * p->ntypes + (size_t)i];
        n += v > 0 ? (uint64_t)v : 0;
    }
    return n;
}
