/* prof_records: stacks and values collected for a named profile. */
#include "capture/records.h"

#include <stdlib.h>
#include <string.h>

/* Arena chunks: stacks and labels live until prof_records_free. */
typedef struct prof_chunk {
    struct prof_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} prof_chunk;

static void *arena_alloc(prof_records *r, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    prof_chunk *c = r->mem;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        c = malloc(sizeof *c + cap);
        if (c == NULL)
            return NULL;
        *c = (prof_chunk){r->mem, 0, cap};
        r->mem = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

void prof_records_init(prof_records *r, size_t nvalues)
{
    *r = (prof_records){.nvalues = nvalues};
}

int prof_records_add(prof_records *r, const uintptr_t *pcs, size_t depth,
                     const int64_t *values, const char *thread)
{
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        prof_record *grown = realloc(r->rec, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        r->rec = grown;
        r->cap = cap;
    }
    uintptr_t *stack = arena_alloc(r, depth * sizeof *stack + 1);
    char *label = thread ? arena_alloc(r, strlen(thread) + 1) : NULL;
    if (stack == NULL || (thread != NULL && label == NULL))
        return -1;
    memcpy(stack, pcs, depth * sizeof *stack);
    if (label != NULL)
        strcpy(label, thread);
    prof_record *rec = &r->rec[r->len++];
    *rec = (prof_record){.pcs = stack, .depth = depth, .thread = label};
    memcpy(rec->values, values, r->nvalues * sizeof *values);
    return 0;
}

void prof_records_free(prof_records *r)
{
    while (r->mem != NULL) {
        prof_chunk *next = r->mem->next;
        free(r->mem);
        r->mem = next;
    }
    free(r->rec);
    *r = (prof_records){.nvalues = r->nvalues};
}

/* ---- subtraction: records keyed by stack and thread label ---- */

static bool same_key(const prof_record *a, const prof_record *b)
{
    if (a->depth != b->depth || memcmp(a->pcs, b->pcs, a->depth * sizeof *a->pcs) != 0)
        return false;
    if (a->thread == NULL || b->thread == NULL)
        return a->thread == b->thread;
    return strcmp(a->thread, b->thread) == 0;
}

static uint64_t key_hash(const prof_record *r)
{
    uint64_t h = 1469598103934665603ULL ^ r->depth;
    for (size_t i = 0; i < r->depth; i++)
        h = (h ^ r->pcs[i]) * 1099511628211ULL;
    for (const char *s = r->thread; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* An open-addressing index of `after`'s records: slot = record index + 1. */
typedef struct key_index {
    size_t *slot;
    size_t mask;
} key_index;

static int index_build(key_index *ix, const prof_records *r)
{
    size_t cap = 16;
    while (cap < r->len * 2)
        cap *= 2;
    ix->slot = calloc(cap, sizeof *ix->slot);
    ix->mask = cap - 1;
    if (ix->slot == NULL)
        return -1;
    for (size_t i = 0; i < r->len; i++) {
        size_t s = key_hash(&r->rec[i]) & ix->mask;
        while (ix->slot[s] != 0)
            s = (s + 1) & ix->mask;
        ix->slot[s] = i + 1;
    }
    return 0;
}

/* Index of the record of r equal to key, or -1. */
static long index_find(const key_index *ix, const prof_records *r, const prof_record *key)
{
    for (size_t s = key_hash(key) & ix->mask; ix->slot[s] != 0; s = (s + 1) & ix->mask)
        if (same_key(&r->rec[ix->slot[s] - 1], key))
            return (long)(ix->slot[s] - 1);
    return -1;
}

int prof_records_subtract(prof_records *after, const prof_records *before)
{
    key_index ix;
    if (index_build(&ix, after) != 0)
        return -1;
    size_t original = after->len;
    int rc = 0;
    for (size_t i = 0; i < before->len && rc == 0; i++) {
        const prof_record *b = &before->rec[i];
        long at = index_find(&ix, after, b);
        if (at >= 0 && (size_t)at < original) {
            for (size_t v = 0; v < after->nvalues; v++)
                after->rec[at].values[v] -= b->values[v];
            continue;
        }
        int64_t negated[PROF_RECORD_MAX_VALUES];
        for (size_t v = 0; v < after->nvalues; v++)
            negated[v] = -b->values[v];
        rc = prof_records_add(after, b->pcs, b->depth, negated, b->thread);
    }
    free(ix.slot);
    return rc;
}
