/* /debug/pprof/heap and /debug/pprof/allocs: see heap.h. */
#include "capture/heap.h"

#include "capture/unwinder.h"
#include "core/context.h"

#include <dlfcn.h>
#include <gperftools/malloc_hook_c.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HEAP_ARENA_BYTES (4u << 20)             /* stacks */
#define HEAP_SLOTS (2 * PROF_HEAP_MAX_STACKS)   /* stack index, load <= 1/2 */
#define HEAP_HASH_BITS 18                       /* delete hook's filter: 32 KiB */
#define HEAP_CHAIN_BITS 15                      /* live chains: 128 KiB of heads */
#define HEAP_STRIPES 64                         /* locks over the live chains */
#define HEAP_FX 256                             /* estimated objects, fixed point */
#define HEAP_GRACE_MS 20                        /* after removing the hooks */
#define HEAP_NO_BUCKET UINT32_MAX
#define HEAP_TLS __thread __attribute__((tls_model("initial-exec")))

static const char not_tcmalloc_msg[] =
    "heap profiling needs tcmalloc as the process allocator: link the host with "
    "-ltcmalloc or start it with LD_PRELOAD=libtcmalloc.so.4";
static const char sampling_off_msg[] =
    "heap sampling is off: set profiler.heap_sample_bytes "
    "(TAKHIN_PROFILER_HEAP_SAMPLE_BYTES) to e.g. 524288 and run config reload";

/* One stack and its counters. Raw: samples as taken (debug=1); est:
 * unsampled estimates (objects in 1/HEAP_FX). Lives in the arena. */
typedef struct bucket {
    _Atomic uint64_t allocs, alloc_bytes, frees, free_bytes;
    _Atomic uint64_t est_allocs, est_alloc_bytes, est_frees, est_free_bytes;
    uint64_t hash;
    const tk_context *ctx; /* the allocating thread's request context */
    uint32_t depth, pad;
    uintptr_t pcs[];
} bucket;

/* A sampled object still allocated. */
typedef struct live {
    uintptr_t ptr;
    uint32_t next;   /* index + 1 of the next entry of the chain; 0 ends */
    uint32_t bucket; /* offset in the arena */
    uint64_t size, est_objs, est_bytes;
} live;

typedef struct spin {
    _Alignas(64) atomic_int held;
} spin;

typedef struct malloc_hooks {
    int (*add_new)(MallocHook_NewHook);
    int (*remove_new)(MallocHook_NewHook);
    int (*add_delete)(MallocHook_DeleteHook);
    int (*remove_delete)(MallocHook_DeleteHook);
    int (*numeric)(const char *name, size_t *value); /* may be NULL */
    const void *tc_malloc;
} malloc_hooks;

static struct sampler {
    prof_host ph;
    pthread_mutex_t admin;    /* lifecycle and readers; never taken in hooks */
    const char *unavailable;  /* the 501 message, or NULL */
    char failed[256];         /* why the sampler could not start (500) */
    malloc_hooks api;
    bool installed, atfork;
    unsigned char *arena;     /* mmap'd at first start, unmapped at fini */
    _Atomic uint32_t *slots;  /* stack index: arena offset + 1, 0 empty */
    live *entries;            /* PROF_HEAP_MAX_LIVE */
    uint32_t *heads;          /* chains of entries (index + 1), under stripes */
    _Atomic long rate;        /* mean bytes between samples, 0 off */
    _Atomic bool active;      /* the tables may be written */
    _Atomic int inflight;     /* hooks inside their slow path */
    _Atomic uint32_t arena_used, nstacks;
    uint32_t pool_free, pool_bump; /* free entries (index + 1), under pool_lock */
    spin stack_lock, pool_lock, stripe[HEAP_STRIPES];
    _Atomic uint64_t samples, dropped, untracked;
} S = {.admin = PTHREAD_MUTEX_INITIALIZER};

/* One bit per pointer hash: set while a sampled object of that hash is
 * live. What the delete hook's fast path reads (32 KiB: stays in cache).
 * In .bss, not mmap'd: the fast path must find it mapped as long as the
 * hook's code is. Changes under the stripe lock of the hash's chain. */
static _Atomic uint64_t live_bits[(1u << HEAP_HASH_BITS) / 64];

static HEAP_TLS int64_t t_until; /* bytes until this thread's next sample */
static HEAP_TLS uint64_t t_rng;  /* 0: thread not seeded yet */
static HEAP_TLS int t_busy;      /* inside our slow path (no recursion) */

double prof_heap_sample_weight(uint64_t size, long rate)
{
    if (size == 0 || rate <= 0)
        return 1.0;
    return 1.0 / -expm1(-(double)size / (double)rate); /* 1 / (1 - e^-x) */
}

/* xorshift64*, per thread. */
static uint64_t next_random(void)
{
    t_rng ^= t_rng >> 12;
    t_rng ^= t_rng << 25;
    t_rng ^= t_rng >> 27;
    return t_rng * 2685821657736338717ULL;
}

static void seed_thread(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = (uint64_t)(uintptr_t)&t_rng ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL; /* splitmix64 finalizer */
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    t_rng = (z ^ (z >> 31)) | 1;
}

/* Bytes to the next sample: exponential with mean `rate`. */
static int64_t draw_interval(long rate)
{
    double u = (double)((next_random() >> 11) + 1) / 9007199254740992.0; /* (0, 1] */
    double x = -log(u) * (double)rate;
    return x < 1.0 ? 1 : (int64_t)x;
}

/* ---- locks for the slow paths ---- */

static void spin_lock(spin *s)
{
    for (int n = 0; atomic_exchange_explicit(&s->held, 1, memory_order_acquire); ) {
        while (atomic_load_explicit(&s->held, memory_order_relaxed)) {
            if (++n > 64)
                sched_yield();
#if defined(__x86_64__) || defined(__i386__)
            else
                __asm__ volatile("pause");
#endif
        }
    }
}

static void spin_unlock(spin *s)
{
    atomic_store_explicit(&s->held, 0, memory_order_release);
}

/* ---- the stack table: append-only arena, lock-free lookup ---- */

static size_t bucket_size(uint32_t depth)
{
    return sizeof(bucket) + depth * sizeof(uintptr_t);
}

static bucket *bucket_at(uint32_t off)
{
    return (bucket *)(S.arena + off);
}

static uint64_t stack_hash(const uintptr_t *pcs, size_t depth, const tk_context *ctx)
{
    uint64_t h = depth ^ (uintptr_t)ctx;
    for (size_t i = 0; i < depth; i++) {
        h = (h ^ pcs[i]) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h;
}

/* The bucket of the stack and context, or HEAP_NO_BUCKET; *slot: where
 * it would go. */
static uint32_t stack_find(const uintptr_t *pcs, uint32_t depth, const tk_context *ctx,
                           uint64_t hash, uint32_t *slot)
{
    for (uint32_t s = (uint32_t)hash % HEAP_SLOTS, n = 0; n < HEAP_SLOTS;
         s = (s + 1) % HEAP_SLOTS, n++) {
        uint32_t v = atomic_load_explicit(&S.slots[s], memory_order_acquire);
        *slot = s;
        if (v == 0)
            return HEAP_NO_BUCKET;
        const bucket *b = bucket_at(v - 1);
        if (b->hash == hash && b->depth == depth && b->ctx == ctx &&
            memcmp(b->pcs, pcs, depth * sizeof *pcs) == 0)
            return v - 1;
    }
    return HEAP_NO_BUCKET;
}

/* Finds or adds the bucket of the stack and context; HEAP_NO_BUCKET when
 * the table is full. */
static uint32_t stack_bucket(const uintptr_t *pcs, uint32_t depth, const tk_context *ctx)
{
    uint64_t hash = stack_hash(pcs, depth, ctx);
    uint32_t slot, off = stack_find(pcs, depth, ctx, hash, &slot);
    if (off != HEAP_NO_BUCKET)
        return off;
    spin_lock(&S.stack_lock);
    off = stack_find(pcs, depth, ctx, hash, &slot); /* another thread's insert? */
    uint32_t used = atomic_load_explicit(&S.arena_used, memory_order_relaxed);
    if (off == HEAP_NO_BUCKET && atomic_load(&S.nstacks) < PROF_HEAP_MAX_STACKS &&
        used + bucket_size(depth) <= HEAP_ARENA_BYTES) {
        bucket *b = bucket_at(used);
        b->hash = hash;
        b->ctx = ctx;
        b->depth = depth;
        memcpy(b->pcs, pcs, depth * sizeof *pcs);
        off = used;
        atomic_store_explicit(&S.arena_used, used + (uint32_t)bucket_size(depth),
                              memory_order_release);
        atomic_store_explicit(&S.slots[slot], off + 1, memory_order_release);
        atomic_fetch_add(&S.nstacks, 1);
    }
    spin_unlock(&S.stack_lock);
    return off;
}

/* ---- live objects: chains by pointer hash ---- */

static uint32_t ptr_hash(const void *ptr)
{
    return (uint32_t)(((uintptr_t)ptr * 0x9E3779B97F4A7C15ULL) >> (64 - HEAP_HASH_BITS));
}

/* Objects of one hash are all on one chain, under one stripe lock. */
static uint32_t chain_of(uint32_t h)
{
    return h >> (HEAP_HASH_BITS - HEAP_CHAIN_BITS);
}

static spin *stripe_of(uint32_t h)
{
    return &S.stripe[chain_of(h) % HEAP_STRIPES];
}

static uint32_t pool_get(void)
{
    spin_lock(&S.pool_lock);
    uint32_t idx = S.pool_free;
    if (idx != 0)
        S.pool_free = S.entries[idx - 1].next;
    else if (S.pool_bump < PROF_HEAP_MAX_LIVE)
        idx = ++S.pool_bump;
    spin_unlock(&S.pool_lock);
    return idx;
}

static void pool_put(uint32_t idx)
{
    spin_lock(&S.pool_lock);
    S.entries[idx - 1].next = S.pool_free;
    S.pool_free = idx;
    spin_unlock(&S.pool_lock);
}

/* Remembers a sampled object; false when PROF_HEAP_MAX_LIVE are tracked. */
static bool live_insert(const live *obj)
{
    uint32_t idx = pool_get();
    if (idx == 0)
        return false;
    live *e = &S.entries[idx - 1];
    *e = *obj;
    uint32_t h = ptr_hash((const void *)obj->ptr), c = chain_of(h);
    spin_lock(stripe_of(h));
    e->next = S.heads[c];
    S.heads[c] = idx;
    atomic_fetch_or(&live_bits[h / 64], 1ULL << (h % 64));
    spin_unlock(stripe_of(h));
    return true;
}

/* Unlinks ptr's entry; its index + 1, or 0 if ptr was not sampled. Clears
 * the hash's bit when no other live object has that hash. */
static uint32_t live_remove(const void *ptr, uint32_t h)
{
    uint32_t c = chain_of(h);
    spin_lock(stripe_of(h));
    uint32_t *link = &S.heads[c];
    while (*link != 0 && S.entries[*link - 1].ptr != (uintptr_t)ptr)
        link = &S.entries[*link - 1].next;
    uint32_t found = *link;
    if (found != 0)
        *link = S.entries[found - 1].next;
    bool others = false;
    for (uint32_t x = S.heads[c]; x != 0 && !others; x = S.entries[x - 1].next)
        others = ptr_hash((const void *)S.entries[x - 1].ptr) == h;
    if (!others)
        atomic_fetch_and(&live_bits[h / 64], ~(1ULL << (h % 64)));
    spin_unlock(stripe_of(h));
    return found;
}

/* ---- the hooks ---- */

static void count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void count_free(bucket *b, const live *obj)
{
    count(&b->frees, 1);
    count(&b->free_bytes, obj->size);
    count(&b->est_frees, obj->est_objs);
    count(&b->est_free_bytes, obj->est_bytes);
}

static void take_sample(const void *ptr, size_t size, long rate)
{
    uintptr_t pcs[PROF_HEAP_MAX_DEPTH];
    uint32_t depth = (uint32_t)prof_unwind_alloc_stack(pcs, PROF_HEAP_MAX_DEPTH);
    uint32_t off = depth > 0 ? stack_bucket(pcs, depth, prof_context_current()) : HEAP_NO_BUCKET;
    count(&S.samples, 1);
    if (off == HEAP_NO_BUCKET) {
        count(&S.dropped, 1);
        return;
    }
    double w = prof_heap_sample_weight(size, rate);
    live obj = {.ptr = (uintptr_t)ptr, .bucket = off, .size = size,
                .est_objs = (uint64_t)(w * HEAP_FX + 0.5),
                .est_bytes = (uint64_t)(w * (double)size + 0.5)};
    bucket *b = bucket_at(off);
    count(&b->allocs, 1);
    count(&b->alloc_bytes, size);
    count(&b->est_allocs, obj.est_objs);
    count(&b->est_alloc_bytes, obj.est_bytes);
    if (!live_insert(&obj)) { /* its free would go unseen: never in use */
        count(&S.untracked, 1);
        count_free(b, &obj);
    }
}

static __attribute__((noinline)) void new_slow(const void *ptr, size_t size)
{
    if (t_busy)
        return; /* an allocation of our own slow path: never sampled */
    t_busy = 1;
    atomic_fetch_add(&S.inflight, 1);
    long rate = atomic_load_explicit(&S.rate, memory_order_relaxed);
    if (!atomic_load(&S.active) || rate <= 0) {
        t_until = 1 << 20; /* look again later */
    } else if (t_rng == 0) { /* the thread's first allocation: start counting */
        seed_thread();
        t_until = draw_interval(rate) - (int64_t)size;
    }
    if (t_until < 0) {
        if (size > 0)
            take_sample(ptr, size, rate);
        t_until = draw_interval(rate);
    }
    atomic_fetch_sub(&S.inflight, 1);
    t_busy = 0;
}

/* Fast path: one subtract and one branch. */
static void new_hook(const void *ptr, size_t size)
{
    int64_t left = t_until - (int64_t)size;
    t_until = left;
    if (__builtin_expect(left < 0, 0))
        new_slow(ptr, size);
}

static __attribute__((noinline)) void delete_slow(const void *ptr, uint32_t h)
{
    atomic_fetch_add(&S.inflight, 1);
    uint32_t idx = atomic_load(&S.active) ? live_remove(ptr, h) : 0;
    if (idx != 0) {
        const live *e = &S.entries[idx - 1];
        count_free(bucket_at(e->bucket), e);
        pool_put(idx);
    }
    atomic_fetch_sub(&S.inflight, 1);
}

/* Fast path: one load and a bit test, clear for almost every pointer. A
 * sampled object's insert happened before its free (the program hands a
 * pointer over before freeing it), and its hash's bit is only cleared
 * once no live sample has that hash, so a relaxed load cannot miss it. */
static void delete_hook(const void *ptr)
{
    uint32_t h = ptr_hash(ptr);
    uint64_t bits = atomic_load_explicit(&live_bits[h / 64], memory_order_relaxed);
    if (__builtin_expect((bits >> (h % 64)) & 1, 0))
        delete_slow(ptr, h);
}

/* ---- tables, hooks on and off ---- */

static void *map_zeroed(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

#define HEAP_SLOTS_BYTES (HEAP_SLOTS * sizeof(uint32_t))
#define HEAP_HEADS_BYTES ((1u << HEAP_CHAIN_BITS) * sizeof(uint32_t))
#define HEAP_ENTRIES_BYTES (PROF_HEAP_MAX_LIVE * sizeof(live))

static void free_tables(void)
{
    if (S.arena != NULL)
        munmap(S.arena, HEAP_ARENA_BYTES);
    if (S.slots != NULL)
        munmap((void *)S.slots, HEAP_SLOTS_BYTES);
    if (S.heads != NULL)
        munmap(S.heads, HEAP_HEADS_BYTES);
    if (S.entries != NULL)
        munmap(S.entries, HEAP_ENTRIES_BYTES);
    S.arena = NULL;
    S.slots = NULL;
    S.heads = NULL;
    S.entries = NULL;
}

/* The tables and the unwinder, once. 0, or -1 with S.failed. */
static int ensure_tables(void)
{
    if (S.arena != NULL)
        return 0;
    if (prof_unwind_init(S.api.tc_malloc, S.failed, sizeof S.failed) != 0)
        return -1;
    S.arena = map_zeroed(HEAP_ARENA_BYTES);
    S.slots = map_zeroed(HEAP_SLOTS_BYTES);
    S.heads = map_zeroed(HEAP_HEADS_BYTES);
    S.entries = map_zeroed(HEAP_ENTRIES_BYTES);
    if (S.arena == NULL || S.slots == NULL || S.heads == NULL || S.entries == NULL) {
        snprintf(S.failed, sizeof S.failed, "cannot map %zu KiB for the sample tables: %m",
                 (HEAP_ARENA_BYTES + HEAP_SLOTS_BYTES + HEAP_HEADS_BYTES +
                  HEAP_ENTRIES_BYTES) >> 10);
        free_tables();
        return -1;
    }
    return 0;
}

/* Zeroes the hash-indexed tables, which makes them resident (288 KiB):
 * samples touch them at random, so they would be soon anyway, and the
 * resident size stays flat from the start. */
static void clear_hashed(void)
{
    memset((void *)live_bits, 0, sizeof live_bits);
    memset(S.heads, 0, HEAP_HEADS_BYTES);
    memset((void *)S.slots, 0, HEAP_SLOTS_BYTES);
}

/* The counts that go with the tables' contents. */
static void reset_counts(void)
{
    atomic_store(&S.arena_used, 0);
    atomic_store(&S.nstacks, 0);
    S.pool_free = S.pool_bump = 0;
    atomic_store(&S.samples, 0);
    atomic_store(&S.dropped, 0);
    atomic_store(&S.untracked, 0);
}

/* Forgets every sample. No hook may be inside a slow path. */
static void clear_tables(void)
{
    clear_hashed();
    madvise(S.arena, HEAP_ARENA_BYTES, MADV_DONTNEED); /* zero pages again */
    madvise(S.entries, HEAP_ENTRIES_BYTES, MADV_DONTNEED);
    reset_counts();
}

/* Delete hook first, so that no sampled object's free is missed. */
static int install(void)
{
    if (ensure_tables() != 0)
        return -1;
    clear_hashed();
    atomic_store(&S.active, true);
    if (!S.api.add_delete(delete_hook)) {
        snprintf(S.failed, sizeof S.failed, "tcmalloc refused the delete hook "
                 "(MallocHook_AddDeleteHook: its list of hooks is full)");
    } else if (!S.api.add_new(new_hook)) {
        S.api.remove_delete(delete_hook);
        snprintf(S.failed, sizeof S.failed, "tcmalloc refused the new hook "
                 "(MallocHook_AddNewHook: its list of hooks is full)");
    } else {
        S.installed = true;
        return 0;
    }
    atomic_store(&S.active, false);
    return -1;
}

/* Removes the hooks and returns once none can touch the tables: tcmalloc
 * may have fetched a hook just before its removal (grace period), and
 * slow paths in flight are counted. The fast paths touch only TLS and
 * live_bits (.bss). */
static void uninstall(void)
{
    S.api.remove_new(new_hook);
    S.api.remove_delete(delete_hook);
    atomic_store(&S.active, false);
    struct timespec grace = {0, HEAP_GRACE_MS * 1000000L};
    nanosleep(&grace, NULL);
    while (atomic_load(&S.inflight) != 0) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    S.installed = false;
}

/* fork() while another thread holds a table lock would leave it locked in
 * the child: hold them all across fork. */
static void fork_prepare(void)
{
    spin_lock(&S.stack_lock);
    spin_lock(&S.pool_lock);
    for (int i = 0; i < HEAP_STRIPES; i++)
        spin_lock(&S.stripe[i]);
}

static void fork_parent(void)
{
    for (int i = HEAP_STRIPES - 1; i >= 0; i--)
        spin_unlock(&S.stripe[i]);
    spin_unlock(&S.pool_lock);
    spin_unlock(&S.stack_lock);
}

static void fork_child(void)
{
    fork_parent();
    atomic_store(&S.inflight, 0); /* the other threads are gone */
}

/* ---- lifecycle ---- */

static void *dl_lookup(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

const char *prof_heap_check_allocator(void *(*lookup)(const char *name))
{
    void *m = lookup("malloc"), *tc = lookup("tc_malloc");
    if (m == NULL || tc == NULL || m != tc)
        return not_tcmalloc_msg;
    if (!lookup("MallocHook_AddNewHook") || !lookup("MallocHook_RemoveNewHook") ||
        !lookup("MallocHook_AddDeleteHook") || !lookup("MallocHook_RemoveDeleteHook"))
        return "heap profiling needs tcmalloc's malloc hooks (MallocHook_AddNewHook, ...), "
               "which this allocator does not export: use gperftools' libtcmalloc.so.4";
    return NULL;
}

static void resolve_api(void)
{
    S.api.add_new = (int (*)(MallocHook_NewHook))dl_lookup("MallocHook_AddNewHook");
    S.api.remove_new = (int (*)(MallocHook_NewHook))dl_lookup("MallocHook_RemoveNewHook");
    S.api.add_delete = (int (*)(MallocHook_DeleteHook))dl_lookup("MallocHook_AddDeleteHook");
    S.api.remove_delete =
        (int (*)(MallocHook_DeleteHook))dl_lookup("MallocHook_RemoveDeleteHook");
    S.api.numeric =
        (int (*)(const char *, size_t *))dl_lookup("MallocExtension_GetNumericProperty");
    S.api.tc_malloc = dl_lookup("tc_malloc");
}

void prof_heap_init(const prof_host *ph, long sample_bytes)
{
    S.ph = *ph;
    S.unavailable = prof_heap_check_allocator(dl_lookup);
    if (S.unavailable != NULL) {
        prof_log(ph, TK_LOG_INFO, "heap and allocs profiles unavailable: %s", S.unavailable);
        return;
    }
    resolve_api();
    if (!S.atfork && pthread_atfork(fork_prepare, fork_parent, fork_child) == 0)
        S.atfork = true;
    prof_heap_reconfigure(sample_bytes);
}

void prof_heap_reconfigure(long sample_bytes)
{
    if (S.unavailable != NULL)
        return;
    pthread_mutex_lock(&S.admin);
    long was = atomic_exchange(&S.rate, sample_bytes > 0 ? sample_bytes : 0);
    if (sample_bytes > 0 && !S.installed) {
        if (install() == 0)
            prof_log(&S.ph, TK_LOG_INFO, "heap sampling on: one sample per %ld bytes "
                     "allocated on average (%s)", sample_bytes, prof_unwind_method());
        else
            prof_log(&S.ph, TK_LOG_WARN, "heap sampling could not start: %s", S.failed);
    } else if (sample_bytes <= 0 && S.installed) {
        uninstall();
        clear_tables();
        prof_log(&S.ph, TK_LOG_INFO, "heap sampling off: hooks removed, samples dropped");
    } else if (sample_bytes != was && S.installed) {
        prof_log(&S.ph, TK_LOG_INFO, "heap sampling: one sample per %ld bytes from now on",
                 sample_bytes);
    }
    pthread_mutex_unlock(&S.admin);
}

void prof_heap_fini(void)
{
    if (S.unavailable != NULL)
        return;
    pthread_mutex_lock(&S.admin);
    if (S.installed)
        uninstall();
    free_tables();
    reset_counts(); /* a later load (same statics: the plugin stays mapped) starts empty */
    atomic_store(&S.rate, 0);
    pthread_mutex_unlock(&S.admin);
}

/* ---- readers ---- */

/* 0, or the HTTP status that says why there is no profile. Under admin. */
static int availability(char *err, size_t errlen)
{
    if (S.unavailable != NULL) {
        snprintf(err, errlen, "%s", S.unavailable);
        return 501;
    }
    if (atomic_load(&S.rate) <= 0) {
        snprintf(err, errlen, "%s", sampling_off_msg);
        return 503;
    }
    if (!S.installed) {
        snprintf(err, errlen, "heap sampling could not start: %s", S.failed);
        return 500;
    }
    return 0;
}

/* A bucket's four values: alloc objects, alloc bytes, in-use objects,
 * in-use bytes; estimates or raw samples. Frees are read first: in-use
 * is never negative. */
static void bucket_values(const bucket *b, bool estimates, int64_t v[4])
{
    uint64_t fo = atomic_load(estimates ? &b->est_frees : &b->frees);
    uint64_t fb = atomic_load(estimates ? &b->est_free_bytes : &b->free_bytes);
    uint64_t ao = atomic_load(estimates ? &b->est_allocs : &b->allocs);
    uint64_t ab = atomic_load(estimates ? &b->est_alloc_bytes : &b->alloc_bytes);
    uint64_t div = estimates ? HEAP_FX : 1;
    v[0] = (int64_t)((ao + div / 2) / div);
    v[1] = (int64_t)ab;
    v[2] = (int64_t)((ao - fo + div / 2) / div);
    v[3] = (int64_t)(ab - fb);
}

int prof_heap_snapshot(prof_records *out, bool estimates, char *err, size_t errlen)
{
    pthread_mutex_lock(&S.admin);
    int status = availability(err, errlen);
    uint32_t end = status == 0 ? atomic_load_explicit(&S.arena_used, memory_order_acquire) : 0;
    for (uint32_t off = 0; status == 0 && off < end;) {
        const bucket *b = bucket_at(off);
        int64_t v[4];
        bucket_values(b, estimates, v);
        if (prof_records_add_ctx(out, b->pcs, b->depth, v, NULL, b->ctx) != 0) {
            snprintf(err, errlen, "out of memory copying the heap samples");
            status = 500;
        }
        off += (uint32_t)bucket_size(b->depth);
    }
    pthread_mutex_unlock(&S.admin);
    return status;
}

long prof_heap_stacks(void)
{
    if (S.unavailable != NULL)
        return -1;
    pthread_mutex_lock(&S.admin);
    long n = S.installed ? (long)atomic_load(&S.nstacks) : -1;
    pthread_mutex_unlock(&S.admin);
    return n;
}

void prof_heap_stats_get(prof_heap_stats *out)
{
    *out = (prof_heap_stats){
        .rate = atomic_load(&S.rate),
        .samples = atomic_load(&S.samples),
        .stacks = atomic_load(&S.nstacks),
        .dropped = atomic_load(&S.dropped),
        .untracked = atomic_load(&S.untracked),
    };
}

bool prof_heap_allocator_property(const char *name, size_t *value)
{
    return S.api.numeric != NULL && S.api.numeric(name, value);
}
