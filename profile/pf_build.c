/* pf_build.c - building the in-memory profile model of pf_profile.h:
 * samples added one by one, strings, functions and locations interned. */
#include "pf_profile_impl.h"

#include <stdlib.h>
#include <string.h>

#define NOMEM(err) pf_seterr((err), PF_ERR_NOMEM, "profile: out of memory")

pf_profile *pf_profile_new(const pf_value_type *types, size_t ntypes, pf_err *err)
{
    if (types == NULL || ntypes == 0 || ntypes > PF_MAX_VALUES) {
        pf_seterr(err, PF_ERR_ARG, "profile: needs 1 to %d sample types, got %zu",
                  PF_MAX_VALUES, ntypes);
        return NULL;
    }
    pf_profile *p = calloc(1, sizeof *p);
    if (p == NULL || pf_strtab_init(&p->strings) != 0)
        goto nomem;
    p->nvalues = ntypes;
    for (size_t i = 0; i < ntypes; i++) {
        if (types[i].type == NULL || types[i].unit == NULL) {
            pf_seterr(err, PF_ERR_ARG, "profile: sample type %zu has no type or unit", i);
            pf_profile_free(p);
            return NULL;
        }
        p->types[i].key = pf_strtab_intern(&p->strings, types[i].type);
        p->types[i].str = pf_strtab_intern(&p->strings, types[i].unit);
        if (p->types[i].key < 0 || p->types[i].str < 0)
            goto nomem;
    }
    return p;
nomem:
    pf_profile_free(p);
    NOMEM(err);
    return NULL;
}

void pf_profile_free(pf_profile *p)
{
    if (p == NULL)
        return;
    pf_strtab_free(&p->strings);
    pf_arena_free(&p->mem);
    free(p->comments);
    free(p->samples);
    pf_idxmap_free(&p->sample_map);
    free(p->locs);
    pf_idxmap_free(&p->loc_map);
    free(p->funcs);
    pf_idxmap_free(&p->func_map);
    free(p->maps);
    free(p->scratch);
    free(p);
}

/* ---- header fields ---- */

pf_code pf_profile_set_period(pf_profile *p, const char *type, const char *unit, int64_t period)
{
    int64_t t = pf_strtab_intern(&p->strings, type);
    int64_t u = pf_strtab_intern(&p->strings, unit);
    if (t < 0 || u < 0)
        return PF_ERR_NOMEM;
    p->period_type = t;
    p->period_unit = u;
    p->period = period;
    return PF_OK;
}

void pf_profile_set_time(pf_profile *p, int64_t time_nanos, int64_t duration_nanos)
{
    p->time_nanos = time_nanos;
    p->duration_nanos = duration_nanos;
}

pf_code pf_profile_set_default_type(pf_profile *p, const char *type)
{
    for (size_t i = 0; type != NULL && i < p->nvalues; i++) {
        if (strcmp(p->strings.str[p->types[i].key], type) == 0) {
            p->default_type = p->types[i].key;
            return PF_OK;
        }
    }
    return PF_ERR_ARG;
}

pf_code pf_profile_add_comment(pf_profile *p, const char *comment)
{
    int64_t c = pf_strtab_intern(&p->strings, comment);
    if (c < 0 || pf_grow(&p->comments, &p->cap_comments, p->ncomments + 1, sizeof c) != 0)
        return PF_ERR_NOMEM;
    p->comments[p->ncomments++] = c;
    return PF_OK;
}

void pf_profile_set_pc_mode(pf_profile *p, pf_pc_mode mode)
{
    p->mode = mode;
}

/* ---- mappings ---- */

pf_code pf_profile_add_mapping(pf_profile *p, const pf_mapping *m)
{
    if (m == NULL || m->start >= m->limit)
        return PF_ERR_ARG;
    if (pf_grow(&p->maps, &p->cap_maps, p->nmaps + 1, sizeof(pf_pmapping)) != 0)
        return PF_ERR_NOMEM;
    pf_pmapping *pm = &p->maps[p->nmaps];
    memset(pm, 0, sizeof *pm);
    pm->start = m->start;
    pm->limit = m->limit;
    pm->offset = m->offset;
    pm->file = pf_strtab_intern(&p->strings, m->path);
    pm->build_id = pf_strtab_intern(&p->strings, m->build_id);
    if (pm->file < 0 || pm->build_id < 0)
        return PF_ERR_NOMEM;
    p->nmaps++;
    return PF_OK;
}

pf_code pf_profile_add_maps(pf_profile *p, const pf_maps *maps)
{
    for (size_t i = 0; maps != NULL && i < maps->len; i++) {
        if (!maps->map[i].exec)
            continue;
        pf_code rc = pf_profile_add_mapping(p, &maps->map[i]);
        if (rc != PF_OK)
            return rc;
    }
    return PF_OK;
}

/* ---- interning of functions and locations ---- */

static bool func_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_func *a = &((const pf_profile *)ctx)->funcs[idx], *b = key;
    return a->name == b->name && a->file == b->file;
}

int64_t pf_profile_func(pf_profile *p, int64_t name, int64_t file, int64_t start_line)
{
    pf_func f = {name, file, start_line};
    int64_t kv[2] = {name, file};
    uint64_t h = pf_hash_bytes(kv, sizeof kv, 1);
    int64_t i = pf_idxmap_find(&p->func_map, h, func_eq, p, &f);
    if (i >= 0)
        return i;
    if (p->nfuncs >= UINT32_MAX - 1 ||
        pf_grow(&p->funcs, &p->cap_funcs, p->nfuncs + 1, sizeof f) != 0 ||
        pf_idxmap_insert(&p->func_map, h, (uint32_t)p->nfuncs) != 0)
        return -1;
    p->funcs[p->nfuncs] = f;
    return (int64_t)p->nfuncs++;
}

static bool loc_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_loc *a = &((const pf_profile *)ctx)->locs[idx], *b = key;
    return a->addr == b->addr && a->func == b->func && a->line == b->line;
}

/* Index of the location, added if new; -1 when out of memory. */
static int64_t intern_loc(pf_profile *p, const pf_loc *l)
{
    uint64_t kv[3] = {l->addr, l->func, (uint64_t)l->line};
    uint64_t h = pf_hash_bytes(kv, sizeof kv, 2);
    int64_t i = pf_idxmap_find(&p->loc_map, h, loc_eq, p, l);
    if (i >= 0)
        return i;
    if (p->nlocs >= UINT32_MAX - 1 ||
        pf_grow(&p->locs, &p->cap_locs, p->nlocs + 1, sizeof *l) != 0 ||
        pf_idxmap_insert(&p->loc_map, h, (uint32_t)p->nlocs) != 0)
        return -1;
    p->locs[p->nlocs] = *l;
    return (int64_t)p->nlocs++;
}

static int64_t intern_frame(pf_profile *p, const pf_frame *f)
{
    int64_t name = pf_strtab_intern(&p->strings, f->function);
    int64_t file = pf_strtab_intern(&p->strings, f->file);
    if (name < 0 || file < 0)
        return -1;
    int64_t fn = pf_profile_func(p, name, file, 0);
    if (fn < 0)
        return -1;
    pf_loc l = {0, (uint32_t)fn + 1, f->line};
    return intern_loc(p, &l);
}

/* ---- samples ---- */

typedef struct sample_key {
    size_t nlocs, nlabels;
    const uint32_t *locs;
    const pf_slabel *labels;
} sample_key;

static bool sample_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_sample *s = &((const pf_profile *)ctx)->samples[idx];
    const sample_key *k = key;
    return s->nlocs == k->nlocs && s->nlabels == k->nlabels &&
           memcmp(s->locs, k->locs, k->nlocs * sizeof *k->locs) == 0 &&
           memcmp(s->labels, k->labels, k->nlabels * sizeof *k->labels) == 0;
}

static int label_cmp(const pf_slabel *a, const pf_slabel *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    if (a->str != b->str)
        return a->str < b->str ? -1 : 1;
    if (a->num != b->num)
        return a->num < b->num ? -1 : 1;
    return a->unit < b->unit ? -1 : a->unit > b->unit;
}

/* Interns the labels into p->scratch_labels in a canonical order. */
static pf_code intern_labels(pf_profile *p, const pf_label *in, size_t n, pf_err *err)
{
    if (n > PF_MAX_LABELS || (n > 0 && in == NULL))
        return pf_seterr(err, PF_ERR_ARG, "profile: bad labels (%zu, max %d)", n, PF_MAX_LABELS);
    for (size_t i = 0; i < n; i++) {
        if (in[i].key == NULL)
            return pf_seterr(err, PF_ERR_ARG, "profile: label %zu has no key", i);
        pf_slabel l = {pf_strtab_intern(&p->strings, in[i].key),
                       in[i].str ? pf_strtab_intern(&p->strings, in[i].str) : 0,
                       in[i].str ? 0 : in[i].num,
                       in[i].str ? 0 : pf_strtab_intern(&p->strings, in[i].num_unit)};
        if (l.key < 0 || l.str < 0 || l.unit < 0)
            return NOMEM(err);
        size_t j = i; /* insertion sort: label lists are short */
        while (j > 0 && label_cmp(&p->scratch_labels[j - 1], &l) > 0) {
            p->scratch_labels[j] = p->scratch_labels[j - 1];
            j--;
        }
        p->scratch_labels[j] = l;
    }
    return PF_OK;
}

static void add_values(int64_t *dst, const int64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (__builtin_add_overflow(dst[i], src[i], &dst[i]))
            dst[i] = src[i] > 0 ? INT64_MAX : INT64_MIN;
    }
}

static pf_code new_sample(pf_profile *p, const sample_key *k, uint64_t h,
                          const int64_t *values, pf_err *err)
{
    if (p->nsamples >= UINT32_MAX - 1 ||
        pf_grow(&p->samples, &p->cap_samples, p->nsamples + 1, sizeof(pf_sample)) != 0)
        return NOMEM(err);
    pf_sample *s = &p->samples[p->nsamples];
    s->nlocs = (uint32_t)k->nlocs;
    s->nlabels = (uint32_t)k->nlabels;
    s->locs = pf_arena_array(&p->mem, k->nlocs, sizeof *s->locs);
    s->labels = pf_arena_array(&p->mem, k->nlabels, sizeof *s->labels);
    s->values = pf_arena_array(&p->mem, p->nvalues, sizeof *s->values);
    if (s->locs == NULL || s->labels == NULL || s->values == NULL ||
        pf_idxmap_insert(&p->sample_map, h, (uint32_t)p->nsamples) != 0)
        return NOMEM(err);
    memcpy(s->locs, k->locs, k->nlocs * sizeof *s->locs);
    memcpy(s->labels, k->labels, k->nlabels * sizeof *s->labels);
    memcpy(s->values, values, p->nvalues * sizeof *values);
    p->nsamples++;
    return PF_OK;
}

/* Merges into an existing sample or adds one; p->scratch holds the stack. */
static pf_code add_stack(pf_profile *p, size_t nlocs, const int64_t *values,
                         const pf_label *labels, size_t nlabels, pf_err *err)
{
    pf_code rc = intern_labels(p, labels, nlabels, err);
    if (rc != PF_OK)
        return rc;
    sample_key k = {nlocs, nlabels, p->scratch, p->scratch_labels};
    uint64_t h = pf_hash_bytes(p->scratch, nlocs * sizeof *p->scratch, nlabels);
    if (nlabels > 0)
        h = pf_hash_bytes(p->scratch_labels, nlabels * sizeof(pf_slabel), h);
    int64_t i = pf_idxmap_find(&p->sample_map, h, sample_eq, p, &k);
    if (i >= 0) {
        add_values(p->samples[i].values, values, p->nvalues);
        return PF_OK;
    }
    return new_sample(p, &k, h, values, err);
}

static pf_code check_sample(pf_profile *p, const void *stack, size_t n,
                            const int64_t *values, pf_err *err)
{
    if (values == NULL || (n > 0 && stack == NULL))
        return pf_seterr(err, PF_ERR_ARG, "profile: sample without values or stack");
    if (n > PF_MAX_DEPTH)
        return pf_seterr(err, PF_ERR_LIMIT, "profile: stack of %zu frames (max %d)", n,
                         PF_MAX_DEPTH);
    if (pf_grow(&p->scratch, &p->cap_scratch, n + 1, sizeof *p->scratch) != 0)
        return NOMEM(err);
    return PF_OK;
}

pf_code pf_profile_add_sample(pf_profile *p, const uintptr_t *pcs, size_t npcs,
                              const int64_t *values, const pf_label *labels,
                              size_t nlabels, pf_err *err)
{
    pf_code rc = check_sample(p, pcs, npcs, values, err);
    if (rc != PF_OK)
        return rc;
    for (size_t i = 0; i < npcs; i++) {
        bool ret = i > 0 || p->mode == PF_PCS_ALL_RETURN;
        pf_loc l = {(uint64_t)pcs[i] - (ret && pcs[i] > 0 ? 1 : 0), 0, 0};
        int64_t li = intern_loc(p, &l);
        if (li < 0)
            return NOMEM(err);
        p->scratch[i] = (uint32_t)li;
    }
    return add_stack(p, npcs, values, labels, nlabels, err);
}

pf_code pf_profile_add_sample_frames(pf_profile *p, const pf_frame *frames, size_t nframes,
                                     const int64_t *values, const pf_label *labels,
                                     size_t nlabels, pf_err *err)
{
    pf_code rc = check_sample(p, frames, nframes, values, err);
    if (rc != PF_OK)
        return rc;
    for (size_t i = 0; i < nframes; i++) {
        if (frames[i].function == NULL)
            return pf_seterr(err, PF_ERR_ARG, "profile: frame %zu has no function name", i);
        int64_t li = intern_frame(p, &frames[i]);
        if (li < 0)
            return NOMEM(err);
        p->scratch[i] = (uint32_t)li;
    }
    return add_stack(p, nframes, values, labels, nlabels, err);
}

/* ---- merging and size ---- */

/* dst's index of src's location li; -1 when out of memory. */
static int64_t merge_loc(pf_profile *dst, const pf_profile *src, uint32_t li)
{
    pf_loc l = src->locs[li];
    if (l.func > 0) {
        const pf_func *f = &src->funcs[l.func - 1];
        int64_t name = pf_strtab_intern(&dst->strings, src->strings.str[f->name]);
        int64_t file = pf_strtab_intern(&dst->strings, src->strings.str[f->file]);
        int64_t fn = name < 0 || file < 0 ? -1 : pf_profile_func(dst, name, file, f->start_line);
        if (fn < 0)
            return -1;
        l.func = (uint32_t)fn + 1;
    }
    return intern_loc(dst, &l);
}

pf_code pf_profile_merge(pf_profile *dst, const pf_profile *src, pf_err *err)
{
    if (dst->nvalues != src->nvalues)
        return pf_seterr(err, PF_ERR_ARG, "profile: merging %zu sample types into %zu",
                         src->nvalues, dst->nvalues);
    for (size_t i = 0; i < src->nvalues; i++)
        if (strcmp(src->strings.str[src->types[i].key], dst->strings.str[dst->types[i].key]) ||
            strcmp(src->strings.str[src->types[i].str], dst->strings.str[dst->types[i].str]))
            return pf_seterr(err, PF_ERR_ARG, "profile: merging profiles of other sample types");
    if (dst->period == 0 && src->period != 0 &&
        pf_profile_set_period(dst, src->strings.str[src->period_type],
                              src->strings.str[src->period_unit], src->period) != PF_OK)
        return NOMEM(err);
    for (size_t i = 0; i < src->nsamples; i++) {
        const pf_sample *s = &src->samples[i];
        pf_code rc = check_sample(dst, s->locs, s->nlocs, s->values, err);
        for (uint32_t k = 0; rc == PF_OK && k < s->nlocs; k++) {
            int64_t li = merge_loc(dst, src, s->locs[k]);
            if (li < 0)
                return NOMEM(err);
            dst->scratch[k] = (uint32_t)li;
        }
        pf_label labels[PF_MAX_LABELS];
        for (uint32_t k = 0; rc == PF_OK && k < s->nlabels; k++) {
            const pf_slabel *l = &s->labels[k];
            labels[k] = (pf_label){src->strings.str[l->key],
                                   l->str ? src->strings.str[l->str] : NULL, l->num,
                                   l->unit ? src->strings.str[l->unit] : NULL};
        }
        if (rc == PF_OK)
            rc = add_stack(dst, s->nlocs, s->values, labels, s->nlabels, err);
        if (rc != PF_OK)
            return rc;
    }
    return PF_OK;
}

/* An array of cap elements and the index map over it. */
#define ARRAY_BYTES(cap, elem) ((cap) * (elem))
#define MAP_BYTES(m) ((m).cap * sizeof *(m).slot)

size_t pf_profile_bytes(const pf_profile *p)
{
    return sizeof *p + p->mem.bytes + p->strings.arena.bytes +
           ARRAY_BYTES(p->strings.cap, sizeof(char *)) + MAP_BYTES(p->strings.map) +
           ARRAY_BYTES(p->cap_comments, sizeof *p->comments) +
           ARRAY_BYTES(p->cap_samples, sizeof *p->samples) + MAP_BYTES(p->sample_map) +
           ARRAY_BYTES(p->cap_locs, sizeof *p->locs) + MAP_BYTES(p->loc_map) +
           ARRAY_BYTES(p->cap_funcs, sizeof *p->funcs) + MAP_BYTES(p->func_map) +
           ARRAY_BYTES(p->cap_maps, sizeof *p->maps) +
           ARRAY_BYTES(p->cap_scratch, sizeof *p->scratch);
}

size_t pf_profile_sample_count(const pf_profile *p)
{
    return p->nsamples;
}

size_t pf_profile_location_count(const pf_profile *p)
{
    return p->nlocs;
}

static int cmp_start(const void *a, const void *b, void *arg)
{
    const pf_pmapping *maps = arg;
    uint64_t x = maps[*(const uint32_t *)a].start, y = maps[*(const uint32_t *)b].start;
    return x < y ? -1 : x > y;
}

uint32_t *pf_profile_maps_by_start(const pf_profile *p)
{
    uint32_t *by_start = malloc((p->nmaps + 1) * sizeof *by_start);
    if (by_start == NULL)
        return NULL;
    for (size_t i = 0; i < p->nmaps; i++)
        by_start[i] = (uint32_t)i;
    qsort_r(by_start, p->nmaps, sizeof *by_start, cmp_start, p->maps);
    return by_start;
}

int64_t pf_profile_find_mapping(const pf_profile *p, const uint32_t *by_start, uint64_t addr)
{
    size_t lo = 0, hi = p->nmaps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->maps[by_start[mid]].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= p->maps[by_start[lo - 1]].limit)
        return -1;
    return by_start[lo - 1];
}
