/* The request context of host threads: see takhin/host/context.h. */
#include "takhin/host/context.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TABLE_SLOTS (2 * TKH_CONTEXT_MAX) /* open addressing, load <= 1/2 */
#define CTX_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- interning: a table of immutable records, never freed ---- */

typedef struct record {
    tk_context c;    /* first: a tk_context * is a record * */
    uint64_t hash;
    uint32_t bytes;  /* of text */
    char text[];     /* the strings, key, value, ..., each with its NUL */
} record;

static _Atomic(record *) table[TABLE_SLOTS];
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t interned;  /* under intern_lock */
static record overflow = {
    .c = {.id = UINT64_MAX, .npairs = 1, .flags = TK_CONTEXT_OVERFLOW,
          .pairs = {{"context", "overflow"}}},
};

/* A string's length cut to the bound, on a UTF-8 character boundary. */
static size_t cut_len(const char *s, bool *cut)
{
    size_t n = strnlen(s, TK_CONTEXT_MAX_BYTES);
    if (n < TK_CONTEXT_MAX_BYTES)
        return n;
    *cut = true;
    n = TK_CONTEXT_MAX_BYTES - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* 64x64 -> 128 bits, folded: one independent multiply per 16 bytes. */
static uint64_t fold_mul(uint64_t a, uint64_t b)
{
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* The hash of text, read 16 bytes at a time (it is padded with zeros). */
static uint64_t hash_text(const char *text, size_t bytes, uint64_t seed)
{
    uint64_t h = seed ^ bytes, a, b;
    for (size_t i = 0; i < bytes; i += 16) {
        memcpy(&a, text + i, 8);
        memcpy(&b, text + i + 8, 8);
        h = ((h << 23) | (h >> 41)) ^
            fold_mul(a ^ 0xA0761D6478BD642FULL, b ^ 0xE7037ED1A0B428DBULL ^ i);
    }
    return fold_mul(h ^ 0x8EBC6AF09C88C6E3ULL, 0x589965CC75374CC3ULL);
}

/* The pairs as they will be kept: the record's text (strings with their
 * NULs, so one memcmp compares them all), its hash. Copying first and
 * hashing the copy a word at a time costs less than hashing and comparing
 * each string in place (bench_context: 55 -> 37 ns a set+clear). */
typedef struct key {
    uint32_t n;      /* strings: 2 * pairs */
    uint32_t flags;
    uint32_t bytes;
    uint64_t hash;
    char text[2 * TK_CONTEXT_MAX_PAIRS * TK_CONTEXT_MAX_BYTES + 16];
} key;

static void make_key(const tk_context_pair *pairs, size_t n, key *k)
{
    bool cut = n > TK_CONTEXT_MAX_PAIRS;
    k->n = 2 * (uint32_t)(cut ? TK_CONTEXT_MAX_PAIRS : n);
    char *at = k->text;
    for (uint32_t i = 0; i < k->n; i++) {
        const char *s = i % 2 ? pairs[i / 2].value : pairs[i / 2].key;
        s = s != NULL ? s : "";
        size_t len = cut_len(s, &cut);
        memcpy(at, s, len);
        at[len] = '\0';
        at += len + 1;
    }
    k->bytes = (uint32_t)(at - k->text);
    memset(at, 0, 16);
    k->flags = cut ? TK_CONTEXT_TRUNCATED : 0;
    k->hash = hash_text(k->text, k->bytes, k->n);
}

static bool same(const record *r, const key *k)
{
    return r->hash == k->hash && r->bytes == k->bytes && 2 * r->c.npairs == k->n &&
           (r->c.flags & TK_CONTEXT_TRUNCATED) == k->flags &&
           memcmp(r->text, k->text, k->bytes) == 0;
}

/* The record of k, or NULL with *slot where it would go. */
static record *find(const key *k, size_t *slot)
{
    for (size_t i = k->hash % TABLE_SLOTS;; i = (i + 1) % TABLE_SLOTS) {
        record *r = atomic_load_explicit(&table[i], memory_order_acquire);
        *slot = i;
        if (r == NULL || same(r, k))
            return r;
    }
}

static record *make_record(const key *k)
{
    record *r = malloc(sizeof *r + k->bytes);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    r->c.npairs = k->n / 2;
    r->c.flags = k->flags;
    r->hash = k->hash;
    r->bytes = k->bytes;
    memcpy(r->text, k->text, k->bytes);
    const char *at = r->text;
    for (uint32_t i = 0; i < k->n; i++, at += strlen(at) + 1)
        if (i % 2)
            r->c.pairs[i / 2].value = at;
        else
            r->c.pairs[i / 2].key = at;
    return r;
}

const tk_context *tkh_context_intern(const tk_context_pair *pairs, size_t n)
{
    if (n == 0)
        return NULL;
    key k;
    size_t slot;
    make_key(pairs, n, &k);
    record *r = find(&k, &slot);
    if (r != NULL)
        return &r->c;
    pthread_mutex_lock(&intern_lock);
    if ((r = find(&k, &slot)) == NULL && interned < TKH_CONTEXT_MAX &&
        (r = make_record(&k)) != NULL) {
        r->c.id = ++interned;
        atomic_store_explicit(&table[slot], r, memory_order_release);
    }
    pthread_mutex_unlock(&intern_lock);
    return r != NULL ? &r->c : &overflow.c;
}

/* ---- each thread's current context ---- */

typedef struct slot {
    _Atomic int tid;                 /* 0: free */
    _Atomic(const tk_context *) cur;
} slot;

static slot slots[TKH_CONTEXT_THREADS];
static _Atomic int slots_high;       /* slots ever used: readers scan these */
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static CTX_TLS slot *t_slot;         /* NULL until the thread's first change */
static CTX_TLS slot t_own;           /* when every shared slot is taken */
static CTX_TLS int64_t t_cpu;        /* the thread's CPU clock at its last change */
static CTX_TLS unsigned t_gen;       /* the hook generation t_cpu was read under */
static CTX_TLS const tk_context *t_waiter;

/* At thread exit: the slot goes back, its context with it. */
static void release_slot(void *p)
{
    slot *s = p;
    atomic_store(&s->cur, NULL);
    if (s != &t_own)
        atomic_store(&s->tid, 0);
    t_slot = NULL;
}

static void make_slot_key(void)
{
    pthread_key_create(&slot_key, release_slot);
}

static slot *claim_slot(void)
{
    pthread_once(&slot_once, make_slot_key);
    int tid = (int)syscall(SYS_gettid);
    slot *s = &t_own;
    for (int i = 0; i < TKH_CONTEXT_THREADS; i++) {
        int free_tid = 0;
        if (atomic_load_explicit(&slots[i].tid, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&slots[i].tid, &free_tid, tid)) {
            s = &slots[i];
            int high = atomic_load(&slots_high);
            while (high < i + 1 && !atomic_compare_exchange_weak(&slots_high, &high, i + 1))
                ;
            break;
        }
    }
    atomic_store(&s->tid, tid);
    t_slot = s;
    pthread_setspecific(slot_key, s);
    return s;
}

/* ---- the hook: exact CPU per context ---- */

typedef struct hook_set {
    tk_context_hook fn;
    void *ctx;
} hook_set;

static _Atomic(hook_set *) hook;
static _Atomic long hook_readers;
static _Atomic unsigned hook_gen;  /* odd while one is installed */

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __attribute__((noinline)) void report(const tk_context *outgoing)
{
    atomic_fetch_add(&hook_readers, 1);
    const hook_set *h = atomic_load(&hook);
    unsigned gen = atomic_load(&hook_gen);
    if (h != NULL) {
        int64_t now = thread_cpu_ns();
        if (t_gen == gen && now >= t_cpu)
            h->fn(h->ctx, outgoing, now - t_cpu);
        t_cpu = now;
        t_gen = gen;
    }
    atomic_fetch_sub(&hook_readers, 1);
}

int tkh_set_context_hook(tk_context_hook fn, void *ctx)
{
    hook_set *next = NULL;
    if (fn != NULL && (next = malloc(sizeof *next)) == NULL)
        return -1;
    if (next != NULL)
        *next = (hook_set){fn, ctx};
    hook_set *old = atomic_exchange(&hook, next);
    unsigned gen = atomic_load(&hook_gen); /* a new generation: no thread's old clock counts */
    if (next != NULL)
        gen += gen % 2 ? 2 : 1;
    else if (gen % 2)
        gen++;
    atomic_store(&hook_gen, gen);
    while (atomic_load(&hook_readers) != 0)
        sched_yield();
    free(old);
    return 0;
}

/* ---- set and read ---- */

const tk_context *tkh_context_enter(const tk_context *c)
{
    slot *s = t_slot;
    if (__builtin_expect(s == NULL, 0))
        s = claim_slot();
    const tk_context *prev = atomic_load_explicit(&s->cur, memory_order_relaxed);
    if (__builtin_expect(atomic_load_explicit(&hook_gen, memory_order_relaxed) % 2 == 1, 0))
        report(prev);
    atomic_store_explicit(&s->cur, c, memory_order_release);
    return prev;
}

const tk_context *tkh_context_set(const tk_context_pair *pairs, size_t n)
{
    return tkh_context_enter(tkh_context_intern(pairs, n));
}

const tk_context *tkh_context_current(void)
{
    slot *s = t_slot;
    return s != NULL ? atomic_load_explicit(&s->cur, memory_order_acquire) : NULL;
}

const tk_context *tkh_context_of_thread(int tid)
{
    int high = atomic_load_explicit(&slots_high, memory_order_acquire);
    for (int i = 0; i < high; i++)
        if (atomic_load_explicit(&slots[i].tid, memory_order_acquire) == tid)
            return atomic_load_explicit(&slots[i].cur, memory_order_acquire);
    return NULL;
}

const tk_context *tkh_context_of_waiter(void)
{
    return t_waiter;
}

void tkh_context_set_waiter(const tk_context *c)
{
    t_waiter = c;
}
