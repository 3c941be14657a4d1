/*
 * plugin/capture/records.h - stacks and their values, as a recorder hands
 * them over for one profile (heap, contention, thread dumps). Stacks and
 * labels live in an arena of the prof_records until prof_records_free.
 * Ownership: the caller owns a prof_records; one thread at a time.
 */
#ifndef TAKHIN_PLUGIN_RECORDS_H
#define TAKHIN_PLUGIN_RECORDS_H

#include "takhin/plugin.h"

#include "pf_profile.h"
#include "pf_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_RECORD_MAX_VALUES 4

/* One stack and its values. Memory belongs to the prof_records. */
typedef struct prof_record {
    const uintptr_t *pcs; /* leaf first */
    size_t depth;
    int64_t values[PROF_RECORD_MAX_VALUES];
    const char *thread;   /* a "thread" label, or NULL */
    const tk_context *ctx; /* the request context (the host's, immutable), or NULL */
} prof_record;

typedef struct prof_records {
    size_t nvalues;       /* values per record, <= PROF_RECORD_MAX_VALUES */
    prof_record *rec;
    size_t len, cap;
    pf_arena mem;         /* stacks and labels */
} prof_records;

void prof_records_init(prof_records *r, size_t nvalues);
/* Copies the stack (and thread name) in. 0, or -1 when out of memory.
 * Identical stacks with the same thread label are NOT merged here. */
int prof_records_add(prof_records *r, const uintptr_t *pcs, size_t depth,
                     const int64_t *values, const char *thread);
/* after -= before, stack by stack (same pcs and thread label); records of
 * `before` missing from `after` are added negated. 0 or -1 (memory). */
int prof_records_subtract(prof_records *after, const prof_records *before);
void prof_records_free(prof_records *r);
/* The same with a request context (core/context.h): records of other
 * contexts are distinct (subtract keys on it too). */
int prof_records_add_ctx(prof_records *r, const uintptr_t *pcs, size_t depth,
                         const int64_t *values, const char *thread, const tk_context *ctx);

/* A record's sample labels: "thread" if any, then the pairs of `ctx` (the
 * record's own, or what a fold made of it). Returns how many. */
#define PROF_RECORD_MAX_LABELS (1 + TK_CONTEXT_MAX_PAIRS)
size_t prof_record_labels(const prof_record *r, const tk_context *ctx,
                          pf_label labels[PROF_RECORD_MAX_LABELS]);

/* A profile kind. Static, owned by its module. */

#endif
