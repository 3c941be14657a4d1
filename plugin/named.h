/*
 * plugin/named.h - the profiles served under Go's query contract: heap,
 * allocs, goroutine (alias threads), mutex, block.
 *
 * Each kind describes itself with a prof_kind and fills prof_records with
 * one record per stack; prof_named_handle does the rest, as Go does:
 *   debug=0 (default)  gzipped profile.proto, symbolized by the server
 *   debug=N>0          the kind's legacy text (kind->text)
 *   seconds=N          delta: collect, wait N s, collect, subtract
 *                      (filename "<name>-delta", DurationNanos = N s)
 * and Go's 400 answers for a bad seconds, seconds with debug, and seconds
 * on a kind that has no delta.
 */
#ifndef TAKHIN_PLUGIN_NAMED_H
#define TAKHIN_PLUGIN_NAMED_H

#include "http.h"
#include "pf_profile.h"
#include "strbuf.h"

#define PROF_RECORD_MAX_VALUES 4

/* One stack and its values. Memory belongs to the prof_records. */
typedef struct prof_record {
    const uintptr_t *pcs; /* leaf first */
    size_t depth;
    int64_t values[PROF_RECORD_MAX_VALUES];
    const char *thread;   /* a "thread" label, or NULL */
} prof_record;

typedef struct prof_records {
    size_t nvalues;       /* values per record, <= PROF_RECORD_MAX_VALUES */
    prof_record *rec;
    size_t len, cap;
    struct prof_chunk *mem; /* arena for stacks and labels */
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

/* A profile kind. Static, owned by its module. */
typedef struct prof_kind {
    const char *name;              /* path under /debug/pprof/ */
    const pf_value_type *types;    /* nvalues sample types */
    size_t nvalues;
    const char *default_type;      /* or NULL */
    pf_value_type period_type;     /* {NULL, NULL}: none */
    pf_pc_mode pc_mode;            /* what the stacks' pcs[0] is */
    bool delta;                    /* ?seconds=N allowed */
    /* Fills `out` (initialized with nvalues). 0, or an HTTP status (501,
     * 503, ...) with a message in err that says how to fix it. */
    int (*collect)(void *ctx, prof_records *out, char *err, size_t errlen);
    /* The period of the profile (bytes for heap, ...); may be NULL. */
    int64_t (*period)(void *ctx);
    /* Legacy text for debug >= 1 (goroutine's debug=2 may ignore `recs`
     * and dump on its own). 0, or an HTTP status with err. */
    int (*text)(void *ctx, const prof_records *recs, int debug, strbuf *out,
                char *err, size_t errlen);
} prof_kind;

/* Serves one request for `kind`; ctx is the plugin's profiler. */
void prof_named_handle(prof_request *req, const prof_kind *kind);

/* Builds the profile.proto of records (for kinds and tests). NULL with
 * err. The caller frees with pf_profile_free. */
pf_profile *prof_named_profile(const prof_kind *kind, void *ctx, const prof_records *recs,
                               int64_t duration_ns, char *err, size_t errlen);

#endif
