/* prof_records: stacks and values collected for a named profile. */
#include "capture/records.h"

#include "core/context.h"

#include <stdlib.h>
#include <string.h>

void prof_records_init(prof_records *r, size_t nvalues)
{
    *r = (prof_records){.nvalues = nvalues};
}

int prof_records_add(prof_records *r, const uintptr_t *pcs, size_t depth,
                     const int64_t *values, const char *thread)
{
    return prof_records_add_ctx(r, pcs, depth, values, thread, NULL);
}

int prof_records_add_ctx(prof_records *r, const uintptr_t *pcs, size_t depth,
                         const int64_t *values, const char *thread, const tk_context *ctx)
{
    if (pf_grow(&r->rec, &r->cap, r->len + 1, sizeof *r->rec) != 0)
        return -1;
    uintptr_t *stack = pf_arena_array(&r->mem, depth + 1, sizeof *stack);
    char *label = thread ? pf_arena_strdup(&r->mem, thread) : NULL;
    if (stack == NULL || (thread != NULL && label == NULL))
        return -1;
    memcpy(stack, pcs, depth * sizeof *stack);
    prof_record *rec = &r->rec[r->len++];
    *rec = (prof_record){.pcs = stack, .depth = depth, .thread = label, .ctx = ctx};
    memcpy(rec->values, values, r->nvalues * sizeof *values);
    return 0;
}

size_t prof_record_labels(const prof_record *r, const tk_context *ctx,
                          pf_label labels[PROF_RECORD_MAX_LABELS])
{
    size_t n = 0;
    if (r->thread != NULL)
        labels[n++] = (pf_label){.key = "thread", .str = r->thread};
    return n + prof_context_labels(ctx, labels + n, PROF_RECORD_MAX_LABELS - n);
}

void prof_records_free(prof_records *r)
{
    pf_arena_free(&r->mem);
    free(r->rec);
    *r = (prof_records){.nvalues = r->nvalues};
}

/* ---- subtraction: records keyed by stack and thread label ---- */

static uint64_t key_hash(const prof_record *r)
{
    uint64_t h = pf_hash_bytes(r->pcs, r->depth * sizeof *r->pcs, r->depth ^ (uintptr_t)r->ctx);
    return r->thread ? pf_hash_bytes(r->thread, strlen(r->thread), h) : h;
}

static bool same_key(const void *ctx, uint32_t i, const void *key)
{
    const prof_record *a = &((const prof_records *)ctx)->rec[i], *b = key;
    if (a->depth != b->depth || a->ctx != b->ctx ||
        memcmp(a->pcs, b->pcs, a->depth * sizeof *a->pcs) != 0)
        return false;
    if (a->thread == NULL || b->thread == NULL)
        return a->thread == b->thread;
    return strcmp(a->thread, b->thread) == 0;
}

int prof_records_subtract(prof_records *after, const prof_records *before)
{
    /* An index of after's own records only: those added negated below are
     * never matched (a stack twice in `before` is added twice). */
    pf_idxmap ix = {0};
    for (size_t i = 0; i < after->len; i++)
        if (i > UINT32_MAX - 2 || pf_idxmap_insert(&ix, key_hash(&after->rec[i]), (uint32_t)i) != 0) {
            pf_idxmap_free(&ix);
            return -1;
        }
    int rc = 0;
    for (size_t i = 0; i < before->len && rc == 0; i++) {
        const prof_record *b = &before->rec[i];
        int64_t at = pf_idxmap_find(&ix, key_hash(b), same_key, after, b);
        if (at >= 0) {
            for (size_t v = 0; v < after->nvalues; v++)
                after->rec[at].values[v] -= b->values[v];
            continue;
        }
        int64_t negated[PROF_RECORD_MAX_VALUES];
        for (size_t v = 0; v < after->nvalues; v++)
            negated[v] = -b->values[v];
        rc = prof_records_add_ctx(after, b->pcs, b->depth, negated, b->thread, b->ctx);
    }
    pf_idxmap_free(&ix);
    return rc;
}
