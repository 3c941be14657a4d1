/* bench_cpu.c - what CPU profiling costs a CPU-bound thread, per sample.
 *
 * The A/B windows of bench/cpu_overhead.sh (a whole takhind, with and
 * without a profile) resolve a few percent at best on a shared machine;
 * this resolves a fraction of one. One thread runs a fixed amount of work
 * (a hash loop at the bottom of a 12-frame recursion, so that every
 * sample walks a realistic stack) in chunks of about 0.2 s, alternately
 * without and with gperftools' CPU profiler running (what the plugin's
 * /debug/pprof/profile starts, ITIMER_PROF re-armed to the asked rate as
 * the plugin does). Times are the thread's CPU time, so other processes
 * move them little; starting and stopping the profiler are outside the
 * timed part (their cost is the end of a profile, measured by
 * cpu_overhead.sh's "whole profile" figure).
 *
 * Two measures per rate:
 *  - the ratio of CPU time on/off per pair (min, median, max): what the
 *    whole sampling costs, but a 1 % effect is within this machine's noise;
 *  - the time inside gperftools' SIGPROF handler, timed by a handler of
 *    ours wrapped around it (installed after ProfilerStart, removed before
 *    ProfilerStop): the cost of one sample, precise to a fraction of a
 *    microsecond. The overhead at a rate follows: rate x cost per
 *    CPU-second, plus the kernel's own signal delivery (about a
 *    microsecond a signal, not counted here).
 *
 * Usage: bench_cpu [pairs (default 15)] [rates... (default 100 1000)]
 */
#include <gperftools/profiler.h>

#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 12

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __attribute__((noinline)) uint64_t work(int depth, uint64_t n, uint64_t x)
{
    if (depth > 0)
        return work(depth - 1, n, x) + 1;
    for (uint64_t i = 0; i < n; i++)
        x = (x ^ (x >> 29)) * 0x9E3779B97F4A7C15ULL + i;
    return x;
}

static volatile uint64_t sink;

/* Runs `units` of work; returns the thread's CPU seconds. */
static double run(uint64_t units)
{
    double t0 = thread_cpu_s();
    sink = work(DEPTH, units, sink);
    return thread_cpu_s() - t0;
}

/* ---- timing gperftools' handler ---- */

static struct sigaction theirs;
static _Atomic uint64_t handler_ns, handler_calls;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void timed_handler(int sig, siginfo_t *si, void *uc)
{
    uint64_t t0 = mono_ns();
    theirs.sa_sigaction(sig, si, uc);
    atomic_fetch_add(&handler_ns, mono_ns() - t0);
    atomic_fetch_add(&handler_calls, 1);
}

/* Wraps gperftools' SIGPROF handler (on) or puts it back (off). */
static void wrap(bool on)
{
    if (!on) {
        sigaction(SIGPROF, &theirs, NULL);
        return;
    }
    sigaction(SIGPROF, NULL, &theirs);
    struct sigaction ours = theirs;
    ours.sa_sigaction = timed_handler;
    ours.sa_flags |= SA_SIGINFO;
    sigaction(SIGPROF, &ours, NULL);
}

static void arm(int hz)
{
    struct itimerval it = {{0, 1000000 / hz}, {0, 1000000 / hz}};
    setitimer(ITIMER_PROF, &it, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One rate: `pairs` pairs of chunks, the order alternating. */
static int measure(int hz, int pairs, uint64_t units, const char *path)
{
    double *ratio = calloc((size_t)pairs, sizeof *ratio);
    double *cost = calloc((size_t)pairs, sizeof *cost);
    double *rate = calloc((size_t)pairs, sizeof *rate);
    double *inside = calloc((size_t)pairs, sizeof *inside);
    if (ratio == NULL || cost == NULL || rate == NULL || inside == NULL)
        return -1;
    for (int p = 0; p < pairs; p++) {
        double off = 0, on = 0;
        int samples = 0;
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (p % 2 == 0)) {
                off = run(units);
                continue;
            }
            if (!ProfilerStart(path))
                return -1;
            wrap(true);
            arm(hz);
            struct ProfilerState s0, s1;
            ProfilerGetCurrentState(&s0);
            uint64_t ns0 = atomic_load(&handler_ns), n0 = atomic_load(&handler_calls);
            on = run(units);
            uint64_t ns1 = atomic_load(&handler_ns), n1 = atomic_load(&handler_calls);
            ProfilerGetCurrentState(&s1);
            wrap(false);
            ProfilerStop();
            samples = s1.samples_gathered - s0.samples_gathered;
            inside[p] = n1 > n0 ? (double)(ns1 - ns0) / (double)(n1 - n0) / 1e3 : 0;
        }
        ratio[p] = on / off;
        rate[p] = samples / on;
        cost[p] = samples > 0 ? (on - off) / samples * 1e6 : 0;
    }
    qsort(ratio, (size_t)pairs, sizeof *ratio, cmp_double);
    qsort(cost, (size_t)pairs, sizeof *cost, cmp_double);
    qsort(rate, (size_t)pairs, sizeof *rate, cmp_double);
    qsort(inside, (size_t)pairs, sizeof *inside, cmp_double);
    int m = pairs / 2, l = pairs - 1;
    printf("%4d Hz asked: %.0f samples per CPU-second delivered\n", hz, rate[m]);
    printf("%4d Hz: CPU time ratio on/off         min %8.4f  median %8.4f  max %8.4f  (n=%d)\n",
           hz, ratio[0], ratio[m], ratio[l], pairs);
    printf("%4d Hz: us in the SIGPROF handler     min %8.4f  median %8.4f  max %8.4f  (n=%d)\n",
           hz, inside[0], inside[m], inside[l], pairs);
    printf("%4d Hz: overhead ratio from the handler time min %8.4f  median %8.4f  max %8.4f  "
           "(n=%d)\n", hz, 1 + rate[m] * inside[0] / 1e6, 1 + rate[m] * inside[m] / 1e6,
           1 + rate[m] * inside[l] / 1e6, pairs);
    printf("%4d Hz: (the same at 100 Hz: %.5f; the A/B cost per sample, noisy: median %.1f us)\n",
           hz, 1 + 100 * inside[m] / 1e6, cost[m]);
    free(inside);
    free(ratio);
    free(cost);
    free(rate);
    return 0;
}

int main(int argc, char **argv)
{
    int pairs = argc > 1 ? atoi(argv[1]) : 15;
    if (pairs < 1) {
        fprintf(stderr, "usage: bench_cpu [pairs] [rates...]\n");
        return 2;
    }
    char path[] = "/tmp/bench_cpu.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    /* Units for a chunk of about 0.2 s of CPU. */
    uint64_t units = 1000000;
    while (run(units) < 0.2)
        units *= 2;
    printf("chunks of %llu units (about 0.2 s of CPU each), %d pairs per rate, "
           "stack depth %d\n", (unsigned long long)units, pairs, DEPTH + 2);
    int rc = 0;
    static const int dflt[] = {100, 1000};
    int nrates = argc > 2 ? argc - 2 : 2;
    for (int i = 0; i < nrates && rc == 0; i++)
        rc = measure(argc > 2 ? atoi(argv[i + 2]) : dflt[i], pairs, units, path);
    unlink(path);
    return rc == 0 ? 0 : 1;
}
