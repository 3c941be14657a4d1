/* bench_context.c - what setting and clearing a request context costs
 * (host-api/lib/context.c; issue 27's budget: set+clear <= 50 ns with no
 * profile running, <= 100 ns with one).
 *
 * Variants, each once per run in the same order, min/median/max of the
 * runs, ns per set+clear pair:
 *   none        an empty loop's cost (subtract it by eye)
 *   set3        tkh_context_set of 3 known pairs (kafka_api, topic,
 *               client_id: interning finds them) + tkh_context_clear
 *   set3x64     the same over 64 client ids in turn (ids that differ in
 *               their last bytes, as many clients' would)
 *   enter       tkh_context_enter of an interned context + clear
 *   set3+prof   set3 while a 100 Hz CPU timer's signal handler reads the
 *               context (what the CPU sampler's handler adds)
 *   set3+hook   set3 with a context hook installed (an empty one): each
 *               change reads the thread's CPU clock (the exact CPU per
 *               label of /metrics, profiler.labels.cpu_metrics)
 *
 * Times are the thread's CPU time (the machine is shared).
 *
 * Usage: bench_context [runs (default 11)]
 */
#include "takhin/host/context.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define OPS 2000000L
#define HOOK_OPS 200000L
#define MAX_RUNS 64
#define VARIANTS 6
#define IDS 64

/* The thread's own CPU time: the machine is shared, and other processes'
 * time would count otherwise. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const tk_context_pair pairs[2][3] = {
    {{"kafka_api", "Produce"}, {"topic", "orders"}, {"client_id", "producer-0"}},
    {{"kafka_api", "Produce"}, {"topic", "audit"}, {"client_id", "producer-1"}},
};
static char ids[IDS][24];
static tk_context_pair many[IDS][3];
static const tk_context *interned[2];
static volatile const tk_context *sink;

static void on_prof(int sig)
{
    (void)sig;
    sink = tkh_context_current();
}

static void empty_hook(void *ctx, const tk_context *out, int64_t cpu_ns)
{
    (void)ctx;
    (void)out;
    (void)cpu_ns;
}

static double run_set(long ops)
{
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        tkh_context_set(pairs[i & 1], 3);
        tkh_context_clear();
    }
    return (now_ns() - t0) / (double)ops;
}

static double run_set64(long ops)
{
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        tkh_context_set(many[i % IDS], 3);
        tkh_context_clear();
    }
    return (now_ns() - t0) / (double)ops;
}

static double run_enter(long ops)
{
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        tkh_context_enter(interned[i & 1]);
        tkh_context_clear();
    }
    return (now_ns() - t0) / (double)ops;
}

static double run_none(long ops)
{
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        sink = interned[i & 1];
        __asm__ volatile("" ::: "memory");
    }
    return (now_ns() - t0) / (double)ops;
}

static timer_t timer;

static void profile_on(bool on)
{
    struct itimerspec its = {{0, on ? 10000000 : 0}, {0, on ? 10000000 : 0}};
    timer_settime(timer, 0, &its, NULL);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 11;
    if (runs < 1 || runs > MAX_RUNS)
        runs = 11;
    for (int i = 0; i < IDS; i++) {
        snprintf(ids[i], sizeof ids[i], "kload-producer-%d", 100 + i);
        many[i][0] = pairs[0][0];
        many[i][1] = pairs[0][1];
        many[i][2] = (tk_context_pair){"client_id", ids[i]};
    }
    interned[0] = tkh_context_intern(pairs[0], 3);
    interned[1] = tkh_context_intern(pairs[1], 3);
    struct sigaction sa = {.sa_handler = on_prof, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, NULL);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGPROF};
    ev._sigev_un._tid = (int)syscall(SYS_gettid);
    if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &timer) != 0) {
        perror("timer_create");
        return 1;
    }
    static const char *const names[VARIANTS] = {"none", "set3", "enter", "set3+prof",
                                                "set3+hook", "set3x64"};
    double r[VARIANTS][MAX_RUNS];
    run_set(OPS); /* warm up */
    run_set64(OPS);
    for (int k = 0; k < runs; k++) {
        r[0][k] = run_none(OPS);
        r[1][k] = run_set(OPS);
        r[2][k] = run_enter(OPS);
        profile_on(true);
        r[3][k] = run_set(OPS);
        profile_on(false);
        tkh_set_context_hook(empty_hook, NULL);
        r[4][k] = run_set(HOOK_OPS);
        tkh_set_context_hook(NULL, NULL);
        r[5][k] = run_set64(OPS);
    }
    printf("| variant | ns per set+clear, min | median | max |\n|---|---|---|---|\n");
    for (int v = 0; v < VARIANTS; v++) {
        qsort(r[v], (size_t)runs, sizeof(double), cmp);
        printf("| %s | %.1f | %.1f | %.1f |\n", names[v], r[v][0], r[v][runs / 2],
               r[v][runs - 1]);
    }
    return 0;
}
