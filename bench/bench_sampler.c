/* bench_sampler.c - the CPU samplers side by side: perf task-clock events,
 * thread timers (plugin/capture/sampler.c) and gperftools' ITIMER_PROF.
 *
 * 1. Accuracy on a bursty workload, the shape of a lightly loaded broker:
 *    2 threads, each doing BURST us of CPU then sleeping to the next 1 ms
 *    boundary plus a phase, the phase swept from 0 to 800 us. Samples per
 *    CPU-second of the process, with 100 Hz asked (1.00 = every CPU
 *    millisecond got its share).
 *    1b. The same bursts, each split 2:1 between two functions (120 us
 *    in split_two, 60 us in split_one): the share of the CPU time
 *    (cpu/nanoseconds) each sampler gives split_two, expected 66.7 % in
 *    every phase. A sampler whose samples land at one place in a
 *    phase-locked burst (a tick-bound timer) gives it 0 or 100 %.
 * 2. Per-sample cost and overhead on a CPU-bound thread: chunks of fixed
 *    work (a hash loop under a 12-frame recursion) alternately without
 *    and with sampling; the on/off ratio of the thread's CPU time per
 *    pair (min, median, max), and for the plugin's samplers the time in
 *    the handler per sample (the samplers time it themselves).
 * 3. What a context switch costs with and without a perf event on the
 *    thread: 2 threads doing 20 us bursts on a 1 ms grid, CPU time per
 *    burst off, perf on, timer on. A per-thread event is switched out and
 *    in with its thread; that work is in the thread's CPU time but not in
 *    the event's count.
 *
 * 4. A host with 1000 threads: the time to start a session (arming every
 *    thread) and to stop it, the perf fds taken within RLIMIT_NOFILE, and
 *    the threads left to thread timers.
 *
 * Usage: bench_sampler [seconds per run (default 2)] [pairs (default 9)]
 *                      [sections, e.g. 1,1b (default all)]
 */
#include "bench_args.h"
#include "capture/sampler.h"
#include "pf_decoded.h"

#include <gperftools/profiler.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 12

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- samplers under one interface ---- */

typedef struct session {
    prof_sampler_mode mode;
    bool left; /* the reader left already: into res */
    prof_sampler_result res;
    prof_sampler *s;
    prof_sampler_reader *r;
    char path[64];
} session;

static void start(session *x, prof_sampler_mode mode, int hz)
{
    x->mode = mode;
    if (mode == PROF_SAMPLER_GPERFTOOLS) {
        snprintf(x->path, sizeof x->path, "/tmp/bench_sampler.%d.prof", (int)getpid());
        if (!ProfilerStart(x->path))
            abort();
        long us = 1000000L / hz;
        struct itimerval it = {{0, us}, {0, us}};
        setitimer(ITIMER_PROF, &it, NULL);
        return;
    }
    x->left = false;
    prof_sampler_choice c;
    char err[512];
    if (prof_sampler_resolve(mode, &c, err, sizeof err) != 0 ||
        (x->s = prof_sampler_start(&c, hz, err, sizeof err)) == NULL ||
        (x->r = prof_sampler_join(x->s)) == NULL) {
        fprintf(stderr, "bench_sampler: %s\n", err);
        exit(1);
    }
}

/* Samples of gperftools' file: records [count, depth, pcs...] after a
 * 5-word header, up to the trailer [0, 1, 0]. */
static uint64_t gperftools_samples(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t total = 0;
    uintptr_t hdr[5], rec[2], pc;
    if (f == NULL || fread(hdr, sizeof *hdr, 5, f) != 5) {
        if (f)
            fclose(f);
        return 0;
    }
    while (fread(rec, sizeof *rec, 2, f) == 2 && !(rec[0] == 0 && rec[1] == 1)) {
        total += rec[0];
        for (uintptr_t i = 0; i < rec[1] && fread(&pc, sizeof pc, 1, f) == 1; i++)
            ;
    }
    fclose(f);
    unlink(path);
    return total;
}

/* Stops; the signals taken (where samples were placed; gperftools: its
 * samples), the samples/count they weigh (the same for gperftools), and
 * the time in the handler per signal (us, 0 when not measured). */
static uint64_t stop_weighed(session *x, double *handler_us, uint64_t *weighed)
{
    *handler_us = 0;
    if (x->mode == PROF_SAMPLER_GPERFTOOLS) {
        ProfilerStop();
        return *weighed = gperftools_samples(x->path);
    }
    prof_sampler_result r = x->res;
    if (!x->left && prof_sampler_leave(x->s, x->r, &r) != 0)
        exit(1);
    prof_sampler_stop(x->s);
    pf_profile_free(r.profile);
    *handler_us = r.handled ? (double)r.handler_ns / (double)r.handled / 1e3 : 0;
    *weighed = r.samples;
    return r.signals;
}

static uint64_t stop(session *x, double *handler_us)
{
    uint64_t weighed;
    return stop_weighed(x, handler_us, &weighed);
}

/* ---- the bursty workload ---- */

typedef struct bursty {
    double burst_s, phase_s, until;
    bool split; /* the burst is 2/3 in split_two, 1/3 in split_one */
    pthread_t t;
    uint64_t bursts;
} bursty;

static volatile uint64_t sink;

static void spin_for(double cpu_s)
{
    double end = clock_s(CLOCK_THREAD_CPUTIME_ID) + cpu_s;
    while (clock_s(CLOCK_THREAD_CPUTIME_ID) < end)
        for (int i = 0; i < 200; i++)
            sink += (uint64_t)i * 2654435761u;
}

/* Each in a section of its own: a sample is in one when a frame's
 * address is between the linker's __start_ and __stop_ symbols. */
__attribute__((noinline, section("bench_split_two"))) static void split_two(double cpu_s)
{
    spin_for(cpu_s);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
}

__attribute__((noinline, section("bench_split_one"))) static void split_one(double cpu_s)
{
    spin_for(cpu_s);
    __asm__ volatile("" ::: "memory");
}

extern const char __start_bench_split_two[], __stop_bench_split_two[];
extern const char __start_bench_split_one[], __stop_bench_split_one[];

static pthread_barrier_t bursty_done;

static void *bursty_main(void *arg)
{
    bursty *b = arg;
    while (clock_s(CLOCK_MONOTONIC) < b->until) {
        if (b->split) {
            split_two(b->burst_s * 2 / 3);
            split_one(b->burst_s / 3);
        } else {
            spin_for(b->burst_s);
        }
        b->bursts++;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ns = (now.tv_nsec / 1000000 + 1) * 1000000 + (long)(b->phase_s * 1e9);
        struct timespec next = {now.tv_sec + ns / 1000000000, ns % 1000000000};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    pthread_barrier_wait(&bursty_done);
    pthread_barrier_wait(&bursty_done); /* alive until the reader left: its CPU clock */
    return NULL;                        /* is read at the end of the reader's window */
}

/* Runs 2 bursty threads for `secs`; the process's CPU seconds meanwhile,
 * and the bursts done. With x, x's reader leaves before they exit. */
static double run_bursty_as(double burst_s, double phase_s, double secs, bool split,
                           uint64_t *bursts, session *x)
{
    bursty b[2];
    pthread_barrier_init(&bursty_done, NULL, 3);
    double cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < 2; i++) {
        b[i] = (bursty){.burst_s = burst_s, .phase_s = phase_s, .split = split,
                        .until = clock_s(CLOCK_MONOTONIC) + secs};
        pthread_create(&b[i].t, NULL, bursty_main, &b[i]);
    }
    pthread_barrier_wait(&bursty_done);
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    if (x != NULL && x->mode != PROF_SAMPLER_GPERFTOOLS) {
        if (prof_sampler_leave(x->s, x->r, &x->res) != 0)
            exit(1);
        x->left = true;
    }
    pthread_barrier_wait(&bursty_done);
    *bursts = 0;
    for (int i = 0; i < 2; i++) {
        pthread_join(b[i].t, NULL);
        *bursts += b[i].bursts;
    }
    pthread_barrier_destroy(&bursty_done);
    return cpu;
}

static double run_bursty(double burst_s, double phase_s, double secs, uint64_t *bursts,
                         session *x)
{
    return run_bursty_as(burst_s, phase_s, secs, false, bursts, x);
}

static const prof_sampler_mode modes[] = {PROF_SAMPLER_PERF, PROF_SAMPLER_THREAD_TIMER,
                                          PROF_SAMPLER_GPERFTOOLS, PROF_SAMPLER_WINDOWED};
#define NMODES (sizeof modes / sizeof *modes)

static void accuracy(double secs)
{
    printf("1. bursty workload (2 threads, 180 us of CPU then sleep to the next 1 ms + phase), "
           "100 Hz asked: signals (where samples are taken) per CPU-second / 100\n\n");
    printf("| phase (us) | perf | thread_timer | gperftools | windowed |\n|---|---|---|---|---|\n");
    for (int phase = 0; phase <= 800; phase += 200) {
        double share[NMODES]; /* the row is printed whole: gperftools writes to stderr */
        for (size_t m = 0; m < NMODES; m++) {
            session x;
            uint64_t bursts;
            double hus;
            start(&x, modes[m], 100);
            double cpu = run_bursty(0.00018, phase / 1e6, secs, &bursts, &x);
            share[m] = (double)stop(&x, &hus) / cpu / 100;
        }
        printf("| %d | %.2f | %.2f | %.2f | %.2f |\n", phase, share[0], share[1], share[2],
               share[3]);
        fflush(stdout);
    }
}

static bool in_section(const pf_decoded *d, const pf_dsample *x, const char *lo, const char *hi)
{
    for (uint32_t i = 0; i < x->nlocs; i++) {
        uint64_t a = d->locs[d->stack[x->loc0 + i]].address;
        if (a >= (uintptr_t)lo && a < (uintptr_t)hi)
            return true;
    }
    return false;
}

/* The share of the CPU time (cpu/nanoseconds) in split_two against both,
 * in percent; *cpu_s: the CPU seconds the profile holds. */
static double split_share(pf_profile *p, double *cpu_s)
{
    pf_err err = {0};
    pf_decoded *d = pf_profile_to_decoded(p, 0, &err);
    if (d == NULL)
        exit(1);
    double two = 0, one = 0;
    for (size_t i = 0; i < d->nsamples; i++) {
        double ns = (double)d->values[i * d->ntypes + 1];
        if (in_section(d, &d->samples[i], __start_bench_split_two, __stop_bench_split_two))
            two += ns;
        else if (in_section(d, &d->samples[i], __start_bench_split_one, __stop_bench_split_one))
            one += ns;
    }
    pf_decoded_free(d);
    *cpu_s = (two + one) / 1e9;
    return two + one > 0 ? 100 * two / (two + one) : 0;
}

static void accuracy_split(double secs)
{
    static const prof_sampler_mode split_modes[] = {PROF_SAMPLER_PERF,
                                                    PROF_SAMPLER_THREAD_TIMER,
                                                    PROF_SAMPLER_WINDOWED};
    printf("\n1b. the same bursts split 2:1 (120 us in split_two, 60 us in split_one), "
           "100 Hz asked, %.0f s a run: split_two's share of the CPU time both got in the "
           "profile (expected 66.7 %%), and the CPU seconds the profile holds over the "
           "process's\n\n", secs);
    printf("| phase (us) | perf | thread_timer | windowed |\n|---|---|---|---|\n");
    for (int phase = 0; phase <= 800; phase += 200) {
        printf("| %d |", phase);
        for (size_t m = 0; m < 3; m++) {
            session x;
            uint64_t bursts;
            start(&x, split_modes[m], 100);
            double cpu = run_bursty_as(0.00018, phase / 1e6, secs, true, &bursts, &x), held;
            prof_sampler_result r = x.res;
            prof_sampler_stop(x.s);
            double share = split_share(r.profile, &held);
            pf_profile_free(r.profile);
            printf(" %.1f %% (%.2f) |", share, held / cpu);
        }
        printf("\n");
        fflush(stdout);
    }
}

/* ---- the CPU-bound thread ---- */

static __attribute__((noinline)) uint64_t work(int depth, uint64_t n, uint64_t x)
{
    if (depth > 0)
        return work(depth - 1, n, x) + 1;
    for (uint64_t i = 0; i < n; i++)
        x = (x ^ (x >> 29)) * 0x9E3779B97F4A7C15ULL + i;
    return x;
}

static double timed_work(uint64_t units)
{
    double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    sink += work(DEPTH, units, sink); /* sink: no call is folded away */
    return clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void overhead(int pairs)
{
    printf("\n2. CPU-bound thread (12-frame stack), chunks of ~0.2 s alternately off and on: "
           "CPU time on/off (min median max), samples per CPU-second, us in the handler per "
           "sample\n\n");
    printf("| sampler | rate | on/off | samples per CPU-s | us per sample (handler) |\n"
           "|---|---|---|---|---|\n");
    uint64_t units = 1000;
    while (timed_work(units) < 0.2)
        units *= 2;
    static const int rates[] = {100, 1000};
    for (size_t m = 0; m < NMODES; m++)
        for (size_t r = 0; r < 2; r++) {
            double ratio[64], on_cpu = 0, hus_sum = 0;
            uint64_t samples = 0;
            for (int p = 0; p < pairs && p < 64; p++) {
                double off = timed_work(units), hus;
                session x;
                start(&x, modes[m], rates[r]);
                double on = timed_work(units);
                samples += stop(&x, &hus);
                on_cpu += on;
                hus_sum += hus;
                ratio[p] = on / off;
            }
            int n = pairs < 64 ? pairs : 64;
            qsort(ratio, (size_t)n, sizeof *ratio, cmp_double);
            printf("| %s | %d Hz | %.4f %.4f %.4f | %.0f | %s%.1f |\n",
                   prof_sampler_mode_name(modes[m]), rates[r], ratio[0], ratio[n / 2],
                   ratio[n - 1], (double)samples / on_cpu,
                   modes[m] == PROF_SAMPLER_GPERFTOOLS ? "not timed: " : "",
                   modes[m] == PROF_SAMPLER_GPERFTOOLS ? 0.0 : hus_sum / n);
            fflush(stdout);
        }
}

static void switch_cost(double secs)
{
    printf("\n3. short bursts (2 threads, 20 us of CPU on a 1 ms grid): the process's CPU per "
           "burst; signals per CPU-second / 1000 at 1000 Hz; and the samples they weigh "
           "(each thread's CPU clock since its previous signal) per CPU-second / 1000\n\n");
    printf("| sampler | CPU per burst (us) | signals share | weighed samples share |\n"
           "|---|---|---|---|\n");
    uint64_t bursts;
    double off = run_bursty(0.00002, 0, secs, &bursts, NULL);
    printf("| off | %.1f | | |\n", off / (double)bursts * 1e6);
    for (size_t m = 0; m < 2; m++) {
        session x;
        double hus;
        uint64_t weighed;
        start(&x, modes[m], 1000);
        double cpu = run_bursty(0.00002, 0, secs, &bursts, &x);
        uint64_t n = stop_weighed(&x, &hus, &weighed);
        printf("| %s | %.1f | %.2f | %.2f |\n", prof_sampler_mode_name(modes[m]),
               cpu / (double)bursts * 1e6, (double)n / cpu / 1000, (double)weighed / cpu / 1000);
    }
}

static _Atomic bool idle_quit;

static void *idle_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&idle_quit))
        usleep(20000);
    return NULL;
}

static void many_threads(int n)
{
    pthread_t *t = calloc((size_t)n, sizeof *t);
    int made = 0;
    while (t != NULL && made < n && pthread_create(&t[made], NULL, idle_main, NULL) == 0)
        made++;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    prof_sampler_choice c;
    char err[512];
    prof_sampler_resolve(PROF_SAMPLER_PERF, &c, err, sizeof err);
    double t0 = clock_s(CLOCK_MONOTONIC);
    prof_sampler *s = prof_sampler_start(&c, 100, err, sizeof err);
    double t1 = clock_s(CLOCK_MONOTONIC);
    prof_sampler_reader *r = s ? prof_sampler_join(s) : NULL;
    if (r == NULL) {
        fprintf(stderr, "bench_sampler: %s\n", err);
        exit(1);
    }
    usleep(200000);
    prof_sampler_result res;
    prof_sampler_leave(s, r, &res);
    pf_profile_free(res.profile);
    double t2 = clock_s(CLOCK_MONOTONIC);
    prof_sampler_stop(s);
    double t3 = clock_s(CLOCK_MONOTONIC);
    printf("\n4. %d threads, RLIMIT_NOFILE %llu: start (arm every thread) %.1f ms, stop %.1f ms; "
           "%zu threads on perf events, %zu on thread timers, %zu not armed\n", made + 2,
           (unsigned long long)rl.rlim_cur, (t1 - t0) * 1e3, (t3 - t2) * 1e3,
           res.threads_perf, res.threads_timer, res.threads_unarmed);
    atomic_store(&idle_quit, true);
    for (int i = 0; i < made; i++)
        pthread_join(t[i], NULL);
    free(t);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2;
    int pairs = argc > 2 ? atoi(argv[2]) : 9;
    char err[256];
    if (prof_sampler_init(err, sizeof err) != 0) {
        fprintf(stderr, "bench_sampler: %s\n", err);
        return 1;
    }
    prof_sampler_choice c;
    prof_sampler_resolve(PROF_SAMPLER_PERF, &c, err, sizeof err);
    printf("perf sampler: %s\n\n", c.mode == PROF_SAMPLER_PERF
           ? (c.with_kernel ? "user and kernel time" : "user time only") : err);
    const char *only = argc > 3 ? argv[3] : "1,1b,2,3,4";
    if (bench_listed(only, "1"))
        accuracy(secs);
    if (bench_listed(only, "1b"))
        accuracy_split(secs);
    if (bench_listed(only, "2"))
        overhead(pairs);
    if (bench_listed(only, "3"))
        switch_cost(secs);
    if (bench_listed(only, "4"))
        many_threads(1000);
    prof_sampler_fini();
    return 0;
}
