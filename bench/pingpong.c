/* pingpong.c - what a CPU sampler costs at each context switch.
 *
 * Two threads pass a token through a futex, both pinned to one CPU: every
 * round trip is 2 context switches. The CPU time of the two threads per
 * round trip (their thread CPU clocks), with each sampling source on both
 * threads against none, gives the extra microseconds per switch. Modes
 * are rotated round by round (interleaved: the machine is shared), and
 * each figure is the median of the rounds with their min-max.
 *
 * Modes: none; the plugin's samplers as a profile runs them (perf,
 * thread_timer, windowed: plugin/capture/sampler.c at 100 Hz); and raw
 * candidates on both threads: a counting-only task-clock event
 * (counting), a sampling one opened disabled (disabled), one opened and
 * closed before the chunk (closed: what a thread keeps after a window),
 * and one task-clock event with inherit + inherit_thread + sigtrap +
 * remove_on_exec opened on the parent before the threads start
 * (inherit: the kernel swaps cloned contexts between them instead of
 * scheduling every event out and in; it covers only threads created
 * after it is opened, and ends when its fd is closed); and a sampling
 * event opened disabled on the main thread only (keyed: perf's scheduler
 * hook is on, as while any task event exists, the players have no perf
 * context: what windowed's session event costs other threads).
 *
 * Usage: pingpong [round trips per chunk (default 50000)] [rounds (default 7)]
 *                 [modes, comma-separated (default all)]
 */
#include "bench_args.h"
#include "capture/sampler.h"

#include <linux/futex.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 64

static _Atomic int token;
static long trips;
static pthread_barrier_t ready;
static _Atomic unsigned long traps;

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void futex_wait(_Atomic int *a, int v)
{
    syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic int *a)
{
    syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

typedef struct player {
    int me;      /* 0 or 1: plays when token == me */
    int counting_fd;
    bool counting, disabled; /* an event of its own: counting, or sampling but disabled */
    bool closed;             /* a sampling event enabled, then closed before the chunk */
    double cpu_s; /* CPU used over the chunk */
} player;

static int perf_open(struct perf_event_attr *a, pid_t tid)
{
    return (int)syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void task_clock(struct perf_event_attr *a)
{
    memset(a, 0, sizeof *a);
    a->size = sizeof *a;
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_TASK_CLOCK;
    a->exclude_kernel = 1;
    a->exclude_hv = 1;
}

static void *play(void *arg)
{
    player *p = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    p->counting_fd = -1;
    if (p->counting || p->disabled) {
        struct perf_event_attr a;
        task_clock(&a);
        a.disabled = p->disabled;
        a.sample_period = p->disabled ? 10000000 : 0;
        p->counting_fd = perf_open(&a, 0);
    }
    if (p->closed) {
        struct perf_event_attr a;
        task_clock(&a);
        a.sample_period = 10000000;
        close(perf_open(&a, 0));
    }
    pthread_barrier_wait(&ready); /* the sampler arms us here */
    pthread_barrier_wait(&ready);
    double c0 = thread_cpu_s();
    for (long i = 0; i < trips; i++) {
        while (atomic_load(&token) != p->me)
            futex_wait(&token, !p->me);
        atomic_store(&token, !p->me);
        futex_wake(&token);
    }
    p->cpu_s = thread_cpu_s() - c0;
    if (p->counting_fd >= 0)
        close(p->counting_fd);
    return NULL;
}

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    atomic_fetch_add(&traps, 1);
}

enum { NONE, PERF, TIMER, WINDOWED, COUNTING, DISABLED, CLOSED, INHERIT, KEYED, NMODES };
static const char *names[NMODES] = {"none", "perf", "thread_timer", "windowed", "counting",
                                     "disabled", "closed", "inherit", "keyed"};

/* One chunk in `mode`: microseconds of CPU per round trip. */
static double chunk(int mode)
{
    player p[2] = {{.me = 0, .counting = mode == COUNTING, .disabled = mode == DISABLED,
                    .closed = mode == CLOSED},
                   {.me = 1, .counting = mode == COUNTING, .disabled = mode == DISABLED,
                    .closed = mode == CLOSED}};
    int inherit_fd = -1;
    if (mode == KEYED) {
        struct perf_event_attr a;
        task_clock(&a);
        a.sample_period = 10000000;
        a.disabled = 1;
        inherit_fd = perf_open(&a, 0);
    }
    if (mode == INHERIT) {
        struct perf_event_attr a;
        task_clock(&a);
        a.sample_period = 10000000;
        a.inherit = 1;
        a.inherit_thread = 1;
        a.sigtrap = 1;
        a.remove_on_exec = 1;
        if ((inherit_fd = perf_open(&a, 0)) < 0) {
            perror("pingpong: perf_event_open(inherit, sigtrap)");
            exit(1);
        }
    }
    atomic_store(&token, 0);
    pthread_barrier_init(&ready, NULL, 3);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, play, &p[i]);
    pthread_barrier_wait(&ready);
    prof_sampler *s = NULL;
    if (mode == PERF || mode == TIMER || mode == WINDOWED) {
        prof_sampler_mode want = mode == PERF    ? PROF_SAMPLER_PERF
                                 : mode == TIMER ? PROF_SAMPLER_THREAD_TIMER
                                                 : PROF_SAMPLER_WINDOWED;
        prof_sampler_choice c;
        char err[512];
        if (prof_sampler_resolve(want, &c, err, sizeof err) != 0 ||
            (s = prof_sampler_start(&c, 100, err, sizeof err)) == NULL) {
            fprintf(stderr, "pingpong: %s\n", err);
            exit(1);
        }
    }
    pthread_barrier_wait(&ready);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (inherit_fd >= 0)
        close(inherit_fd); /* closing it ends the inherited events too */
    if (s != NULL)
        prof_sampler_stop(s);
    pthread_barrier_destroy(&ready);
    return (p[0].cpu_s + p[1].cpu_s) * 1e6 / (double)trips;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    trips = argc > 1 ? atol(argv[1]) : 50000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    const char *want = argc > 3 ? argv[3] : NULL;
    if (trips <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: pingpong [round trips per chunk] [rounds <= %d] [modes]\n",
                MAX_ROUNDS);
        return 2;
    }
    char err[256];
    if (prof_sampler_init(err, sizeof err) != 0) {
        fprintf(stderr, "pingpong: %s\n", err);
        return 1;
    }
    struct sigaction sa = {.sa_sigaction = on_trap, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigaction(SIGTRAP, &sa, NULL);
    bool on[NMODES];
    for (int m = 0; m < NMODES; m++)
        on[m] = m == NONE || want == NULL || bench_listed(want, names[m]);
    static double us[NMODES][MAX_ROUNDS];
    chunk(NONE); /* warm-up */
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < NMODES; m++)
            if (on[m])
                us[m][r] = chunk(m);
    printf("futex ping-pong, 2 threads pinned to CPU 1, %ld round trips (2 switches each) "
           "per chunk, %d interleaved rounds, 100 Hz\n\n", trips, rounds);
    printf("| mode | us of CPU per round trip, median (min-max) | extra us per switch, "
           "median (min-max of the rounds) |\n|---|---|---|\n");
    for (int m = 0; m < NMODES; m++) {
        if (!on[m])
            continue;
        double d[MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            d[r] = (us[m][r] - us[NONE][r]) / 2;
        double sorted[MAX_ROUNDS];
        memcpy(sorted, us[m], sizeof(double) * (size_t)rounds);
        qsort(sorted, (size_t)rounds, sizeof *sorted, cmp_double);
        qsort(d, (size_t)rounds, sizeof *d, cmp_double);
        printf("| %s | %.2f (%.2f-%.2f) | %+.2f (%+.2f to %+.2f) |\n", names[m],
               sorted[rounds / 2], sorted[0], sorted[rounds - 1], d[rounds / 2], d[0],
               d[rounds - 1]);
    }
    printf("\nSIGTRAPs taken by the inherited events: %lu\n", atomic_load(&traps));
    prof_sampler_fini();
    return 0;
}
