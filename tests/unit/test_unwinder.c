/*
 * The heap sampler's stack walker (plugin/capture/unwinder.c) against libgcc's
 * _Unwind_Backtrace, frame for frame: plain calls, through libc (qsort)
 * and zlib (a zalloc callback), which are built without frame pointers, in
 * another thread, from a cold and a warm cache; no crash in a signal
 * handler (where it stops); and its speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/unwinder.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unwind.h>
#include <zlib.h>

#define MAXD 64

typedef _Unwind_Reason_Code (*gcc_backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*gcc_getip_fn)(struct _Unwind_Context *);
static gcc_backtrace_fn gcc_backtrace;
static gcc_getip_fn gcc_getip;

typedef struct trace {
    uintptr_t pcs[MAXD];
    size_t n;
} trace;

static _Unwind_Reason_Code gcc_step(struct _Unwind_Context *ctx, void *arg)
{
    trace *t = arg;
    if (t->n == MAXD)
        return _URC_END_OF_STACK;
    t->pcs[t->n++] = gcc_getip(ctx);
    return _URC_NO_REASON;
}

/* Both walks from the same frame. */
typedef struct pair {
    trace mine, ref;
} pair;

__attribute__((noinline)) static void capture(pair *p)
{
    p->mine.n = prof_unwind_stack(p->mine.pcs, MAXD);
    p->ref.n = 0;
    gcc_backtrace(gcc_step, &p->ref);
    __asm__ volatile("" ::: "memory");
}

/* From the caller of capture() on, both walks agree; ours may stop one
 * frame earlier (libgcc also reports the outermost frame's address). */
static void assert_same_callers(const pair *p, size_t min_depth)
{
    assert_true(p->mine.n >= 2);
    size_t k = 0;
    while (k < p->ref.n && p->ref.pcs[k] != p->mine.pcs[1])
        k++;
    if (k == p->ref.n)
        fail_msg("caller %#lx of capture() not in libgcc's stack", (unsigned long)p->mine.pcs[1]);
    size_t mine = p->mine.n - 1, ref = p->ref.n - k;
    for (size_t i = 0; i < mine && i < ref; i++)
        if (p->mine.pcs[1 + i] != p->ref.pcs[k + i])
            fail_msg("frame %zu: %#lx, libgcc %#lx", i, (unsigned long)p->mine.pcs[1 + i],
                     (unsigned long)p->ref.pcs[k + i]);
    if (mine + 1 < ref || mine > ref)
        fail_msg("depth %zu, libgcc %zu", mine, ref);
    assert_true(mine >= min_depth);
}

static int setup(void **state)
{
    (void)state;
    void *h = dlopen("libgcc_s.so.1", RTLD_NOW);
    gcc_backtrace = h ? (gcc_backtrace_fn)dlsym(h, "_Unwind_Backtrace") : NULL;
    gcc_getip = h ? (gcc_getip_fn)dlsym(h, "_Unwind_GetIP") : NULL;
    char err[256];
    return gcc_backtrace && gcc_getip && prof_unwind_init((void *)malloc, err, sizeof err) == 0
               ? 0 : -1;
}

#define LEVEL(name, next)                                                    \
    __attribute__((noinline)) static void name(pair *p)                      \
    {                                                                        \
        next(p);                                                             \
        __asm__ volatile("" ::: "memory");                                   \
    }
LEVEL(level1, capture)
LEVEL(level2, level1)
LEVEL(level3, level2)
LEVEL(level4, level3)

static void test_plain_calls(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) { /* cold cache, then warm */
        pair p;
        level4(&p);
        assert_same_callers(&p, 6);
    }
}

static pair in_qsort;

static int compare(const void *a, const void *b)
{
    if (in_qsort.mine.n == 0)
        capture(&in_qsort);
    return *(const int *)a - *(const int *)b;
}

static void test_through_libc(void **state)
{
    (void)state;
    int v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (i * 37) % 64;
    for (int i = 0; i < 2; i++) {
        in_qsort.mine.n = 0;
        qsort(v, 64, sizeof *v, compare);
        assert_same_callers(&in_qsort, 4);
    }
}

static pair in_zlib;

static void *zalloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    if (in_zlib.mine.n == 0)
        capture(&in_zlib);
    return calloc(items, size);
}

static void zfree(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static void test_through_zlib(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        z_stream z = {.zalloc = zalloc, .zfree = zfree};
        in_zlib.mine.n = 0;
        assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        deflateEnd(&z);
        assert_same_callers(&in_zlib, 4);
        Dl_info info; /* the first caller is zlib's deflateInit2_ */
        assert_true(dladdr((void *)(in_zlib.mine.pcs[2] - 1), &info) && info.dli_fname);
        assert_non_null(strstr(info.dli_fname, "libz"));
    }
}

static void *thread_main(void *arg)
{
    level2(arg);
    return NULL;
}

static void test_other_thread(void **state)
{
    (void)state;
    pair p;
    pthread_t t;
    pthread_create(&t, NULL, thread_main, &p);
    pthread_join(t, NULL);
    assert_same_callers(&p, 4); /* down to start_thread, clone3 */
}

static volatile size_t in_handler;

static void handler(int sig)
{
    (void)sig;
    uintptr_t pcs[MAXD];
    in_handler = prof_unwind_stack(pcs, MAXD);
}

/* A signal trampoline's CFI is a DWARF expression: the walk stops there. */
static void test_signal_handler(void **state)
{
    (void)state;
    signal(SIGUSR1, handler);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    assert_true(in_handler >= 1);
}

__attribute__((noinline)) static size_t deep(int n, uintptr_t *pcs)
{
    size_t d = n > 0 ? deep(n - 1, pcs) : prof_unwind_stack(pcs, MAXD);
    __asm__ volatile("" ::: "memory");
    return d;
}

static void test_deep_stack_timed(void **state)
{
    (void)state;
    uintptr_t pcs[MAXD];
    size_t depth = deep(10, pcs);
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (int i = 0; i < 100000; i++)
        deep(10, pcs);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e5;
    printf("# %zu frames in %.0f ns (%.1f ns a frame)\n", depth, ns, ns / (double)depth);
    assert_true(depth >= 13); /* the time is printed, not asserted: bench_sampler measures it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_calls),  cmocka_unit_test(test_through_libc),
        cmocka_unit_test(test_through_zlib), cmocka_unit_test(test_other_thread),
        cmocka_unit_test(test_signal_handler), cmocka_unit_test(test_deep_stack_timed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
