/* bench_mutex.c - what the host's instrumented primitives cost.
 *
 * Side by side in one process, in paired runs (every variant once per
 * run, the order the same; plain pthread_mutex and tkh_mutex without hooks
 * in alternating slices, see bench_pair), min/median/max over the runs:
 *   1. uncontended lock+unlock: plain pthread_mutex, tkh_mutex with no
 *      hooks installed, tkh_mutex with hooks installed (the fast path
 *      never looks at them: the figures should match);
 *      pthread_mutex_trylock+unlock, which is what tkh_mutex_lock's fast
 *      path is, is shown too;
 *   2. a span (tkh_span_begin + tkh_span_end): no hooks (one atomic load),
 *      hooks without a span hook (what the profiler installs for mutex and
 *      block sampling alone: the host still reads the clock twice), an
 *      empty span hook, and the profiler's trace recording
 *      (prof_trace_span into the thread's buffer, batches of 16,000 spans
 *      so the buffer never fills).
 *
 * Then the ratios tkh_mutex / pthread_mutex of each run, min/median/max.
 *
 * Usage: bench_mutex [runs (default 7)]
 */
#include "takhin/host/sync.h"
#include "capture/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOCK_OPS 20000000L
#define SPAN_OPS 4000000L
#define TRACE_BATCH 16000L
#define MAX_RUNS 64

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Both mutexes on a cache line of their own, wherever the stack is. */
static double bench_pthread(long ops)
{
    _Alignas(64) pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        pthread_mutex_lock(&m);
        __asm__ volatile("" ::: "memory");
        pthread_mutex_unlock(&m);
    }
    return (now_ns() - t0) / (double)ops;
}

static double bench_pthread_trylock(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    double t0 = now_ns();
    for (long i = 0; i < LOCK_OPS; i++) {
        if (pthread_mutex_trylock(&m) != 0)
            abort();
        __asm__ volatile("" ::: "memory");
        pthread_mutex_unlock(&m);
    }
    return (now_ns() - t0) / LOCK_OPS;
}

static double bench_tkh(long ops)
{
    _Alignas(64) tkh_mutex m;
    tkh_mutex_init(&m);
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        tkh_mutex_lock(&m);
        __asm__ volatile("" ::: "memory");
        tkh_mutex_unlock(&m);
    }
    double ns = (now_ns() - t0) / (double)ops;
    tkh_mutex_destroy(&m);
    return ns;
}

/* pthread_mutex and tkh_mutex (no hooks) in alternating slices of
 * LOCK_OPS / SLICES operations, the order flipping each slice: the two
 * see the same interference from the rest of the machine. */
#define SLICES 40
static void bench_pair(double *pthread_ns, double *tkh_ns)
{
    double p = 0, t = 0;
    for (int k = 0; k < SLICES; k++) {
        if (k % 2 == 0) {
            p += bench_pthread(LOCK_OPS / SLICES);
            t += bench_tkh(LOCK_OPS / SLICES);
        } else {
            t += bench_tkh(LOCK_OPS / SLICES);
            p += bench_pthread(LOCK_OPS / SLICES);
        }
    }
    *pthread_ns = p / SLICES;
    *tkh_ns = t / SLICES;
}

static double bench_spans(long ops)
{
    double t0 = now_ns();
    for (long i = 0; i < ops; i++)
        tkh_span_end("produce", tkh_span_begin());
    return (now_ns() - t0) / (double)ops;
}

/* ---- hooks ---- */

static void empty_waited(void *ctx, tk_wait_kind kind, int64_t start, int64_t delay)
{
    (void)ctx, (void)kind, (void)start, (void)delay;
}

static void empty_released(void *ctx, int64_t delay)
{
    (void)ctx, (void)delay;
}

static void empty_span(void *ctx, const char *name, int64_t start, int64_t end)
{
    (void)ctx, (void)name, (void)start, (void)end;
}

static void trace_span(void *ctx, const char *name, int64_t start, int64_t end)
{
    prof_trace_span(ctx, name, start, end);
}

static const tk_event_hooks empty_hooks = {empty_waited, empty_released, empty_span};
static const tk_event_hooks no_span_hooks = {empty_waited, empty_released, NULL};
static const tk_event_hooks trace_hooks = {empty_waited, empty_released, trace_span};

/* Spans recorded by a running trace, TRACE_BATCH per trace. */
static double bench_traced(prof_trace *t)
{
    double total = 0;
    long done = 0, ends_in;
    tkh_set_event_hooks(&trace_hooks, t);
    while (done < SPAN_OPS) {
        prof_trace_begin(t, 1, &ends_in);
        total += bench_spans(TRACE_BATCH) * TRACE_BATCH;
        prof_trace_stop(t);
        prof_trace_discard(t);
        done += TRACE_BATCH;
    }
    tkh_set_event_hooks(NULL, NULL);
    return total / (double)done;
}

/* ---- runs ---- */

enum { PTHREAD, TRYLOCK, TKH_OFF, TKH_ON, SPAN_OFF, SPAN_NOSPAN, SPAN_ON, SPAN_TRACE, NVARIANTS };
static const char *const names[NVARIANTS] = {
    "pthread_mutex lock+unlock", "pthread_mutex trylock+unlock",
    "tkh_mutex lock+unlock, no hooks", "tkh_mutex lock+unlock, hooks on",
    "span begin+end, no hooks", "span begin+end, hooks, span NULL",
    "span begin+end, empty span hook", "span begin+end, trace recording",
};

static void one_run(prof_trace *t, double *out)
{
    bench_pair(&out[PTHREAD], &out[TKH_OFF]);
    out[TRYLOCK] = bench_pthread_trylock();
    tkh_set_event_hooks(&empty_hooks, NULL);
    out[TKH_ON] = bench_tkh(LOCK_OPS);
    tkh_set_event_hooks(NULL, NULL);
    out[SPAN_OFF] = bench_spans(SPAN_OPS);
    tkh_set_event_hooks(&no_span_hooks, NULL);
    out[SPAN_NOSPAN] = bench_spans(SPAN_OPS);
    tkh_set_event_hooks(&empty_hooks, NULL);
    out[SPAN_ON] = bench_spans(SPAN_OPS);
    tkh_set_event_hooks(NULL, NULL);
    out[SPAN_TRACE] = bench_traced(t);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and prints the per-run figures of tkh_mutex without and with hooks. */
static void print_per_run(const char *unit, const char *what, double v[2][MAX_RUNS], int runs)
{
    printf("%-34s %8s %8s %8s   %s\n", "", "min", "median", "max", unit);
    for (int k = 0; k < 2; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s tkh_mutex, %s", what, k ? "hooks on" : "no hooks");
        qsort(v[k], (size_t)runs, sizeof v[k][0], by_value);
        printf("%-34s %8.3f %8.3f %8.3f\n", label, v[k][0], v[k][runs / 2], v[k][runs - 1]);
    }
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench_mutex [runs 1..%d]\n", MAX_RUNS);
        return 2;
    }
    prof_trace *t = prof_trace_new();
    static double r[NVARIANTS][MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        double one[NVARIANTS];
        one_run(t, one);
        for (int v = 0; v < NVARIANTS; v++)
            r[v][i] = one[v];
    }
    /* Ratios to plain pthread_mutex within each run, before sorting. */
    static double ratio[2][MAX_RUNS], extra[2][MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        ratio[0][i] = r[TKH_OFF][i] / r[PTHREAD][i];
        ratio[1][i] = r[TKH_ON][i] / r[PTHREAD][i];
        extra[0][i] = r[TKH_OFF][i] - r[PTHREAD][i];
        extra[1][i] = r[TKH_ON][i] - r[PTHREAD][i];
    }
    printf("%-34s %8s %8s %8s   (ns per op, %d paired runs)\n", "", "min", "median", "max",
           runs);
    for (int v = 0; v < NVARIANTS; v++) {
        qsort(r[v], (size_t)runs, sizeof r[v][0], by_value);
        printf("%-34s %8.2f %8.2f %8.2f\n", names[v], r[v][0], r[v][runs / 2], r[v][runs - 1]);
    }
    print_per_run("(per run, over pthread_mutex lock+unlock)", "ratio", ratio, runs);
    print_per_run("(ns per lock+unlock over pthread_mutex, per run)", "extra ns", extra, runs);
    prof_trace_free(t);
    return 0;
}
