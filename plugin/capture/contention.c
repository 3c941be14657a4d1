/* The contention tables of the mutex and block profiles: see contention.h. */
#include "capture/contention.h"

#include "core/context.h"

#include "capture/records.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONT_MAX_DEPTH 48     /* frames kept per event, the hooks' own included */
#define CONT_SLOTS 4096       /* hash index: twice the stacks, a power of 2 */

typedef struct cont_entry {
    uint64_t hash;
    const tk_context *ctx; /* the waiting thread's request context */
    uint32_t depth;
    double count;   /* a float, as Go's: block samples add rate/d */
    int64_t delay;  /* ns */
    uintptr_t pcs[CONT_MAX_DEPTH]; /* return addresses, leaf first */
} cont_entry;

/* Stacks and their sums. The arrays are calloc'd: pages are touched only
 * as stacks arrive. */
typedef struct cont_table {
    pthread_mutex_t lock; /* a plain mutex, never the host's tkh_mutex */
    uint32_t *index;      /* CONT_SLOTS; entry number + 1, 0 = empty */
    cont_entry *entries;  /* PROF_CONTENTION_MAX_STACKS */
    size_t len;
    uint64_t dropped;     /* events not stored: the table was full */
} cont_table;

struct prof_contention {
    _Atomic long fraction;
    _Atomic int64_t rate;
    cont_table mutex, block;
};

/* ---- sampling ---- */

static int64_t sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

bool prof_contention_mutex_sample(long fraction, int64_t delay_ns, uint64_t rnd,
                                  double *count, int64_t *delay)
{
    if (fraction <= 0 || rnd % (uint64_t)fraction != 0)
        return false;
    *count = (double)fraction;
    *delay = sat_mul(delay_ns > 0 ? delay_ns : 0, fraction);
    return true;
}

bool prof_contention_block_sample(int64_t rate, int64_t delay_ns, uint64_t rnd,
                                  double *count, int64_t *delay)
{
    if (rate <= 0 || delay_ns <= 0)
        return false;
    if (delay_ns >= rate) {
        *count = 1;
        *delay = delay_ns;
        return true;
    }
    if (rnd % (uint64_t)rate >= (uint64_t)delay_ns)
        return false;
    *count = (double)rate / (double)delay_ns;
    *delay = rate;
    return true;
}

/* xorshift64* per thread, seeded from the thread's TLS address and the clock. */
static __thread uint64_t rng_state;

static uint64_t thread_random(void)
{
    uint64_t x = rng_state;
    if (x == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = ((uint64_t)(uintptr_t)&rng_state * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)ts.tv_nsec;
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 2685821657736338717ULL;
}

/* ---- the tables ---- */

static int table_init(cont_table *t)
{
    pthread_mutex_init(&t->lock, NULL);
    t->index = calloc(CONT_SLOTS, sizeof *t->index);
    t->entries = calloc(PROF_CONTENTION_MAX_STACKS, sizeof *t->entries);
    t->len = 0;
    t->dropped = 0;
    return t->index != NULL && t->entries != NULL ? 0 : -1;
}

static void table_destroy(cont_table *t)
{
    free(t->index);
    free(t->entries);
    pthread_mutex_destroy(&t->lock);
}

static uint64_t stack_hash(const uintptr_t *pcs, size_t depth)
{
    uint64_t h = 14695981039346656037ULL ^ depth;
    for (size_t i = 0; i < depth; i++)
        h = (h ^ pcs[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

/* Adds to the stack's sums, making its entry if new. The caller holds
 * the lock or owns the table. */
static void table_add(cont_table *t, const uintptr_t *pcs, size_t depth, const tk_context *ctx,
                      double count, int64_t delay)
{
    uint64_t h = stack_hash(pcs, depth) ^ (uintptr_t)ctx;
    size_t s = h & (CONT_SLOTS - 1);
    for (; t->index[s] != 0; s = (s + 1) & (CONT_SLOTS - 1)) {
        cont_entry *e = &t->entries[t->index[s] - 1];
        if (e->hash == h && e->depth == depth && e->ctx == ctx && memcmp(e->pcs, pcs, depth * sizeof *pcs) == 0) {
            e->count += count;
            e->delay = sat_add(e->delay, delay);
            return;
        }
    }
    if (t->len == PROF_CONTENTION_MAX_STACKS) {
        t->dropped++;
        return;
    }
    cont_entry *e = &t->entries[t->len];
    e->hash = h;
    e->ctx = ctx;
    e->depth = (uint32_t)depth;
    e->count = count;
    e->delay = delay;
    memcpy(e->pcs, pcs, depth * sizeof *pcs);
    t->index[s] = (uint32_t)++t->len;
}

/* In a hook: the stack of this thread into t. Out of line, so that the
 * frames to cut off are always the same. */
static __attribute__((noinline)) void record(cont_table *t, const tk_context *ctx, double count,
                                             int64_t delay)
{
    void *frames[CONT_MAX_DEPTH];
    uintptr_t pcs[CONT_MAX_DEPTH];
    int n = backtrace(frames, CONT_MAX_DEPTH);
    for (int i = 0; i < n; i++)
        pcs[i] = (uintptr_t)frames[i];
    pthread_mutex_lock(&t->lock);
    table_add(t, pcs, n > 0 ? (size_t)n : 0, ctx, count, delay);
    pthread_mutex_unlock(&t->lock);
}

/* ---- state ---- */

prof_contention *prof_contention_new(long mutex_fraction, int64_t block_rate)
{
    prof_contention *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    int rc = table_init(&c->mutex);
    if (table_init(&c->block) != 0 || rc != 0) {
        prof_contention_free(c);
        return NULL;
    }
    /* The first backtrace() loads libgcc_s: not inside a hook. */
    void *warm[4];
    backtrace(warm, 4);
    prof_contention_set(c, mutex_fraction, block_rate);
    return c;
}

void prof_contention_free(prof_contention *c)
{
    if (c == NULL)
        return;
    table_destroy(&c->mutex);
    table_destroy(&c->block);
    free(c);
}

void prof_contention_set(prof_contention *c, long mutex_fraction, int64_t block_rate)
{
    atomic_store(&c->fraction, mutex_fraction > 0 ? mutex_fraction : 0);
    atomic_store(&c->rate, block_rate > 0 ? block_rate : 0);
}

long prof_contention_fraction(const prof_contention *c)
{
    return atomic_load(&c->fraction);
}

int64_t prof_contention_rate(const prof_contention *c)
{
    return atomic_load(&c->rate);
}

bool prof_contention_on(const prof_contention *c)
{
    return prof_contention_fraction(c) > 0 || prof_contention_rate(c) > 0;
}

/* ---- hooks ---- */

void prof_contention_released(prof_contention *c, int64_t delay_ns)
{
    long fraction = atomic_load_explicit(&c->fraction, memory_order_relaxed);
    double count;
    int64_t delay;
    if (fraction > 0 &&
        prof_contention_mutex_sample(fraction, delay_ns, fraction > 1 ? thread_random() : 0,
                                     &count, &delay))
        record(&c->mutex, prof_context_of_waiter(), count, delay);
}

void prof_contention_waited(prof_contention *c, int64_t delay_ns)
{
    int64_t rate = atomic_load_explicit(&c->rate, memory_order_relaxed);
    double count;
    int64_t delay;
    if (rate > 0 &&
        prof_contention_block_sample(rate, delay_ns, delay_ns < rate ? thread_random() : 0,
                                     &count, &delay))
        record(&c->block, prof_context_current(), count, delay);
}

/* ---- reading a profile: cut the hooks' frames, merge, hand over ---- */

typedef enum frame_class { FRAME_OTHER, FRAME_PLUGIN, FRAME_HOST_SYNC } frame_class;

/* dladdr answers, per return address, for one read of a profile. */
typedef struct frame_cache {
    void *self; /* this plugin's load address */
    uintptr_t pc[64];
    unsigned char cls[64];
} frame_cache;

static frame_class classify(frame_cache *fc, uintptr_t pc)
{
    size_t i = (pc >> 3) & 63;
    if (fc->pc[i] == pc)
        return (frame_class)fc->cls[i];
    Dl_info info;
    frame_class c = FRAME_OTHER;
    if (pc > 0 && dladdr((void *)(pc - 1), &info) != 0) {
        if (info.dli_fbase == fc->self)
            c = FRAME_PLUGIN;
        else if (info.dli_sname != NULL && strncmp(info.dli_sname, "tkh_", 4) == 0)
            c = FRAME_HOST_SYNC;
    }
    fc->pc[i] = pc;
    fc->cls[i] = (unsigned char)c;
    return c;
}

/* Index of the first frame to keep: past the hooks (this plugin's frames
 * among the first few; a sanitizer's backtrace interceptor may come
 * first) and the host's primitives (a tkh_* function within the next few
 * frames; a static helper of theirs may sit in between). Without tkh_*
 * names (a host linked without -rdynamic) the host's frames stay. */
static size_t first_kept(frame_cache *fc, const uintptr_t *pcs, size_t n)
{
    size_t i = 0;
    for (size_t j = 0; j < n && j < 8; j++)
        if (classify(fc, pcs[j]) == FRAME_PLUGIN)
            i = j + 1;
    size_t keep = i;
    for (size_t j = i; j < n && j < i + 4; j++)
        if (classify(fc, pcs[j]) == FRAME_HOST_SYNC)
            keep = j + 1;
    return keep < n ? keep : i;
}

/* A copy of the table's entries (the hooks wait meanwhile). */
static cont_entry *snapshot(cont_table *t, size_t *len)
{
    pthread_mutex_lock(&t->lock);
    *len = t->len;
    cont_entry *copy = malloc(t->len ? t->len * sizeof *copy : 1);
    if (copy != NULL)
        memcpy(copy, t->entries, t->len * sizeof *copy);
    pthread_mutex_unlock(&t->lock);
    return copy;
}

static int to_records(const cont_table *merged, prof_records *out)
{
    for (size_t i = 0; i < merged->len; i++) {
        const cont_entry *e = &merged->entries[i];
        int64_t values[2] = {(int64_t)(e->count + 0.5), e->delay};
        if (prof_records_add_ctx(out, e->pcs, e->depth, values, NULL, e->ctx) != 0)
            return -1;
    }
    return 0;
}

static int collect_table(cont_table *t, prof_records *out, char *err, size_t errlen)
{
    size_t n = 0;
    cont_entry *snap = snapshot(t, &n);
    cont_table merged;
    bool ready = snap != NULL && table_init(&merged) == 0;
    int rc = ready ? 0 : -1;
    frame_cache fc = {0};
    Dl_info self;
    fc.self = dladdr((void *)collect_table, &self) ? self.dli_fbase : NULL;
    for (size_t i = 0; ready && i < n; i++) {
        size_t k = first_kept(&fc, snap[i].pcs, snap[i].depth);
        table_add(&merged, snap[i].pcs + k, snap[i].depth - k, snap[i].ctx, snap[i].count, snap[i].delay);
    }
    if (ready)
        rc = to_records(&merged, out);
    if (snap != NULL)
        table_destroy(&merged);
    free(snap);
    if (rc != 0)
        snprintf(err, errlen, "out of memory reading the profile");
    return rc == 0 ? 0 : 500;
}

/* ---- reading ---- */

static cont_table *table_of(prof_contention *c, bool block)
{
    return block ? &c->block : &c->mutex;
}

int prof_contention_collect(prof_contention *c, bool block, prof_records *out, char *err,
                            size_t errlen)
{
    return collect_table(table_of(c, block), out, err, errlen);
}

long prof_contention_count(prof_contention *c, bool block)
{
    cont_table *t = table_of(c, block);
    pthread_mutex_lock(&t->lock);
    long n = (long)t->len;
    pthread_mutex_unlock(&t->lock);
    return n;
}

uint64_t prof_contention_dropped(prof_contention *c, bool block)
{
    cont_table *t = table_of(c, block);
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->dropped;
    pthread_mutex_unlock(&t->lock);
    return n;
}
