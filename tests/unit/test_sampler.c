/*
 * The per-thread CPU sampler without a server: samples per CPU-second of
 * a busy thread and of a bursty one (0.18 ms of CPU, then sleep to the
 * next 1 ms boundary: what the process-wide ITIMER_PROF misses), a thread
 * started mid-session, the thread labels, the thread_timer mode, modes
 * refused, and stray signals after a session and after fini.
 *
 * The ratios compare samples with the thread's own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID), which a busy machine does not skew.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pf_view.h"
#include "capture/procself.h"
#include "capture/sampler.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- workers: each burns `cpu` seconds of its own CPU, then reports ---- */

typedef struct worker {
    const char *name;
    double cpu;        /* seconds of CPU to burn */
    bool bursty;       /* 0.18 ms bursts on a 1 ms grid */
    double gap;        /* else, if > 0: bursts of 0.2 ms of CPU, this many seconds apart */
    double used;       /* out: its CPU time */
    double user;       /* out: of which in user mode */
    _Atomic bool ready, go; /* it runs only once told to */
    bool linger;            /* after its work, it waits to be let go */
    _Atomic bool done, leave;
    pthread_t t;
} worker;

static volatile uint64_t sink;

static double thread_user_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static void spin_until(double cpu_end)
{
    while (thread_cpu_seconds() < cpu_end)
        for (int i = 0; i < 1000; i++)
            sink += (uint64_t)i * 2654435761u;
}

static void sleep_to_next_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = now.tv_nsec / 1000000 + 1;
    struct timespec next = {now.tv_sec + ms / 1000, (ms % 1000) * 1000000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    atomic_store(&w->ready, true);
    while (!atomic_load(&w->go))
        usleep(1000);
    double start = thread_cpu_seconds(), end = start + w->cpu, user = thread_user_seconds();
    while (thread_cpu_seconds() < end) {
        if (w->gap > 0) {
            spin_until(thread_cpu_seconds() + 0.0002);
            struct timespec gap = {(time_t)w->gap, (long)((w->gap - (time_t)w->gap) * 1e9)};
            nanosleep(&gap, NULL);
            continue;
        }
        if (!w->bursty) {
            spin_until(end);
            break;
        }
        spin_until(thread_cpu_seconds() + 0.00018);
        sleep_to_next_ms();
    }
    w->used = thread_cpu_seconds() - start;
    w->user = thread_user_seconds() - user;
    atomic_store(&w->done, true);
    while (w->linger && !atomic_load(&w->leave))
        usleep(1000);
    return NULL;
}

/* Starts the worker's thread; it waits for run_worker. */
static void start_worker(worker *w)
{
    assert_int_equal(pthread_create(&w->t, NULL, worker_main, w), 0);
    while (!atomic_load(&w->ready))
        usleep(1000);
}

static void run_worker(worker *w)
{
    if (!atomic_load(&w->ready))
        start_worker(w);
    atomic_store(&w->go, true);
    if (!w->linger) {
        pthread_join(w->t, NULL);
        return;
    }
    while (!atomic_load(&w->done))
        usleep(1000);
}

/* Lets a lingering worker go. */
static void release_worker(worker *w)
{
    atomic_store(&w->leave, true);
    pthread_join(w->t, NULL);
}

/* ---- reading a session's profile ---- */

/* The sum of value `index` (0 samples/count, 1 cpu/nanoseconds; 2: how
 * many samples, each a stack where a signal fell) over the
 * samples whose thread label is `name`; *has_tid: every such sample also
 * carries a numeric thread_id. */
static int64_t value_of(pf_profile *p, const char *name, size_t index, bool *has_tid)
{
    uint8_t *data;
    size_t len;
    pf_err err = {0};
    assert_int_equal(pf_profile_encode(p, NULL, 0, &data, &len, &err), PF_OK);
    pv_decoded *d = pv_decode(data, len, 0, &err);
    assert_non_null(d);
    int64_t n = 0;
    *has_tid = true;
    for (size_t i = 0; i < d->nsamples; i++) {
        const pv_sample *s = &d->samples[i];
        bool mine = false, tid = false;
        for (size_t j = 0; j < s->nlabels; j++) {
            mine |= s->labels[j].str && strcmp(s->labels[j].key, "thread") == 0 &&
                    strcmp(s->labels[j].str, name) == 0;
            tid |= !s->labels[j].str && strcmp(s->labels[j].key, "thread_id") == 0 &&
                   s->labels[j].num > 0;
        }
        if (mine) {
            n += index < 2 ? s->values[index] : 1;
            *has_tid &= tid;
        }
    }
    pv_free(d);
    free(data);
    return n;
}

static int64_t samples_of(pf_profile *p, const char *name, bool *has_tid)
{
    return value_of(p, name, 0, has_tid);
}

/* A session with one reader, and its end. */
typedef struct one_reader {
    prof_sampler *s;
    prof_sampler_reader *r;
} one_reader;

static one_reader begin(const prof_sampler_choice *c, int hz)
{
    char err[512];
    one_reader o = {prof_sampler_start(c, hz, err, sizeof err), NULL};
    if (o.s == NULL)
        fail_msg("prof_sampler_start: %s", err);
    o.r = prof_sampler_join(o.s);
    assert_non_null(o.r);
    return o;
}

static int end(one_reader o, prof_sampler_result *out)
{
    int rc = prof_sampler_leave(o.s, o.r, out);
    prof_sampler_stop(o.s);
    return rc;
}

/* The CPU time a sampler sees of w: perf without kernel time (paranoid 2
 * and no CAP_PERFMON) sees only its user time. */
static double seen_cpu(const prof_sampler_choice *c, const worker *w)
{
    return c->mode == PROF_SAMPLER_PERF && !c->with_kernel ? w->user : w->used;
}

static prof_sampler_choice resolve_or_skip(prof_sampler_mode mode)
{
    prof_sampler_choice c;
    char err[512];
    if (prof_sampler_resolve(mode, &c, err, sizeof err) != 0) {
        print_message("not available here: %s\n", err);
        skip();
    }
    return c;
}

/* Samples per CPU-second of the worker, as a share of hz; *signals: the
 * signals (every thread) per CPU-second of the worker, as a share of hz. */
static double sampled_share(prof_sampler_mode mode, int hz, worker *w, double *signals)
{
    prof_sampler_choice c = resolve_or_skip(mode);
    start_worker(w); /* in the first scan */
    one_reader o = begin(&c, hz);
    run_worker(w);
    prof_sampler_result r;
    assert_int_equal(end(o, &r), 0);
    bool has_tid;
    int64_t n = samples_of(r.profile, w->name, &has_tid);
    assert_true(has_tid);
    assert_int_equal(r.period_ns, 1000000000 / hz);
    pf_profile_free(r.profile);
    double share = (double)n / (seen_cpu(&c, w) * hz);
    *signals = (double)r.signals / (seen_cpu(&c, w) * hz);
    print_message("%s at %d Hz, %s: %lld samples over %.3f s of CPU: %.3f of the rate "
                  "(signals: %.3f), %.1f us in the handler per signal\n",
                  prof_sampler_mode_name(c.mode), hz, w->bursty ? "bursty" : "busy",
                  (long long)n, w->used, share, *signals,
                  r.handled ? (double)r.handler_ns / (double)r.handled / 1e3 : 0);
    return share;
}

/* ---- tests ---- */

static void test_modes_parse(void **state)
{
    (void)state;
    prof_sampler_mode m;
    assert_int_equal(prof_sampler_mode_parse("thread_timer", &m), 0);
    assert_int_equal(m, PROF_SAMPLER_THREAD_TIMER);
    assert_string_equal(prof_sampler_mode_name(PROF_SAMPLER_PERF), "perf");
    assert_int_equal(prof_sampler_mode_parse("Perf", &m), -1);
    assert_int_equal(prof_sampler_mode_parse("", &m), -1);
}

static void test_perf_busy_thread_at_1000_hz(void **state)
{
    (void)state;
    worker w = {.name = "busy-worker", .cpu = 0.6};
    double signals, share = sampled_share(PROF_SAMPLER_PERF, 1000, &w, &signals);
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_PERF);
    /* User time only: the kernel splits user from system time by ticks,
     * a coarser measure (250 Hz here). */
    double low = c.with_kernel ? 0.95 : 0.8, high = c.with_kernel ? 1.15 : 1.25;
    assert_true(share >= low && share <= high);
    assert_true(signals >= low && signals <= high + 0.1); /* + the other threads' */
}

static void test_perf_bursty_thread(void **state)
{
    (void)state;
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_PERF);
    if (!c.with_kernel) { /* the kernel's user/system split of a bursty thread is */
        print_message("user time only: no exact user time to compare with\n");
        skip();          /* tick-sampled, so not a measure to check against */
    }
    worker w = {.name = "bursty-worker", .cpu = 0.4, .bursty = true};
    double signals, share = sampled_share(PROF_SAMPLER_PERF, 1000, &w, &signals);
    assert_true(share >= 0.85 && share <= 1.15);
    assert_true(signals >= 0.7); /* a signal per CPU millisecond, less the switches' cost */
}

static void test_thread_timer_busy_thread(void **state)
{
    (void)state;
    worker w = {.name = "timer-worker", .cpu = 0.6};
    double signals, share = sampled_share(PROF_SAMPLER_THREAD_TIMER, 100, &w, &signals);
    assert_true(share >= 0.8 && share <= 1.2);
}

/* A windowed session at 100 Hz over lingering worker w's work, with one
 * reader from before w starts to after it is done (w still alive). */
static prof_sampler_result windowed_run(prof_sampler_choice *c, worker *w)
{
    *c = resolve_or_skip(PROF_SAMPLER_WINDOWED);
    w->linger = true;
    start_worker(w);
    one_reader o = begin(c, 100);
    run_worker(w);
    prof_sampler_result r;
    assert_int_equal(end(o, &r), 0);
    release_worker(w);
    return r;
}

/* windowed: a CPU-bound thread lives through a few windows; its samples
 * (weighed by its CPU clock) come to its CPU time once the reader leaves
 * while it is alive (a thread that exits first loses its CPU since its
 * last window: sampler.h). */
static void test_windowed_busy_thread(void **state)
{
    (void)state;
    prof_sampler_choice c;
    worker w = {.name = "window-worker", .cpu = 3.0 * PROF_SAMPLER_CYCLE_MS / 1000};
    prof_sampler_result r = windowed_run(&c, &w);
    bool has_tid;
    int64_t n = samples_of(r.profile, w.name, &has_tid);
    pf_profile_free(r.profile);
    double share = (double)n / (seen_cpu(&c, &w) * 100);
    print_message("windowed at 100 Hz, busy: %lld samples over %.3f s of CPU: %.3f; %llu "
                  "signals; %zu threads kept open, %zu in windows\n", (long long)n, w.used,
                  share, (unsigned long long)r.signals, r.threads_perf, r.threads_windowed);
    assert_true(has_tid);
    assert_true(share >= 0.9 && share <= 1.1);
    assert_true(r.signals > 0);
}

/* windowed: a thread that runs rarely and briefly (0.2 ms of CPU every
 * 250 ms, for 3 s) has a stack in the profile and its CPU time: the
 * event a window opened on it stays open until it signals once (after
 * 0.16 ms of its CPU at 100 Hz). Before, a window of 7.8 ms seldom saw
 * one of its bursts, so in 6 cycles it most often got no signal, and its
 * CPU time, with no stack to go to, was left out. */
static void test_windowed_light_thread(void **state)
{
    (void)state;
    prof_sampler_choice c;
    worker w = {.name = "light-worker", .cpu = 0.0024, .gap = 0.25};
    prof_sampler_result r = windowed_run(&c, &w);
    bool has_tid;
    int64_t n = value_of(r.profile, w.name, 2, &has_tid);
    int64_t cpu_ns = value_of(r.profile, w.name, 1, &has_tid);
    pf_profile_free(r.profile);
    print_message("windowed at 100 Hz, light: %lld stacks, %.2f ms of CPU in the profile, "
                  "%.2f ms used\n", (long long)n, (double)cpu_ns / 1e6, w.used * 1e3);
    assert_true(n > 0);
    assert_true((double)cpu_ns >= 0.9 * w.used * 1e9);
}

/* A thread started after the session began is found by the rescan. */
static void test_late_thread_is_sampled(void **state)
{
    (void)state;
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_AUTO);
    one_reader o = begin(&c, 1000);
    /* Twice the windowed sampler's cycle: a window falls in its life. It
     * lives until the reader has left: a thread that exits first loses
     * its CPU time since it was last weighed (sampler.h). */
    worker w = {.name = "late-worker", .cpu = 2.0 * PROF_SAMPLER_CYCLE_MS / 1000,
                .linger = true};
    run_worker(&w); /* created after the first scan */
    prof_sampler_result r;
    assert_int_equal(end(o, &r), 0);
    release_worker(&w);
    bool has_tid;
    int64_t n = samples_of(r.profile, "late-worker", &has_tid);
    int64_t cpu_ns = value_of(r.profile, "late-worker", 1, &has_tid);
    pf_profile_free(r.profile);
    /* It runs unsampled until the next rescan (PROF_SAMPLER_DRAIN_MS, or a
     * window), then its samples weigh its CPU time since its birth: the
     * profile's CPU time for it is its CPU clock's (how many samples it
     * got before the rescan depends on the machine's load). */
    print_message("late thread: %lld samples, %.3f s of CPU in the profile, %.3f s used\n",
                  (long long)n, (double)cpu_ns / 1e9, w.used);
    assert_true(has_tid);
    assert_true(n > 0);
    assert_true((double)cpu_ns >= 0.8 * seen_cpu(&c, &w) * 1e9);
}

/* ---- fds ---- */

static _Atomic bool idle_quit;

static void *idle_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&idle_quit))
        usleep(2000);
    return NULL;
}

/* A thread that exits during a session gives its event's fd back at the
 * next rescan. */
static void test_exited_thread_releases_fd(void **state)
{
    (void)state;
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_PERF);
    pthread_t t;
    atomic_store(&idle_quit, false);
    assert_int_equal(pthread_create(&t, NULL, idle_main, NULL), 0);
    one_reader o = begin(&c, 100);
    usleep(2 * PROF_SAMPLER_DRAIN_MS * 1000); /* the collector's own thread is armed too */
    size_t with = prof_fds_count();
    atomic_store(&idle_quit, true);
    pthread_join(t, NULL);
    size_t after = with;
    for (int waited = 0; after != with - 1 && waited < 10000; waited += 50) {
        usleep(50 * 1000); /* the next rescan: PROF_SAMPLER_DRAIN_MS */
        after = prof_fds_count();
    }
    prof_sampler_result r;
    assert_int_equal(end(o, &r), 0);
    pf_profile_free(r.profile);
    print_message("fds: %zu with the thread, %zu after it exited\n", with, after);
    assert_int_equal(after, with - 1);
}

/* perf never takes the last quarter of RLIMIT_NOFILE (nor the last 64
 * fds): threads beyond the budget get thread timers. */
static void test_fd_budget_falls_back_to_timers(void **state)
{
    (void)state;
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_PERF);
    enum { IDLE = 12 };
    pthread_t t[IDLE];
    atomic_store(&idle_quit, false);
    for (int i = 0; i < IDLE; i++)
        assert_int_equal(pthread_create(&t[i], NULL, idle_main, NULL), 0);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = prof_fds_count() + 64 + 4; /* under 256: the reserve is 64 */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    one_reader o = begin(&c, 100);
    setrlimit(RLIMIT_NOFILE, &old);
    prof_sampler_result r;
    assert_int_equal(end(o, &r), 0);
    pf_profile_free(r.profile);
    atomic_store(&idle_quit, true);
    for (int i = 0; i < IDLE; i++)
        pthread_join(t[i], NULL);
    print_message("%zu threads on perf, %zu on timers\n", r.threads_perf, r.threads_timer);
    assert_int_equal(r.threads_perf, 4);
    assert_true(r.threads_timer >= IDLE - 4);
}

/* Two readers of one session, each over its own window: the first sees
 * both workers, the second only the one that ran while it was joined. */
static void test_two_readers_two_windows(void **state)
{
    (void)state;
    /* perf: the windowed sampler places samples only in its windows, a
     * fraction of each second, and these windows are shorter. */
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_PERF);
    worker a = {.name = "first-window", .cpu = 0.2}, b = {.name = "both-windows", .cpu = 0.2};
    start_worker(&a);
    start_worker(&b);
    one_reader o = begin(&c, 1000);
    run_worker(&a);
    prof_sampler_reader *second = prof_sampler_join(o.s);
    assert_non_null(second);
    run_worker(&b);
    prof_sampler_result r2, r1;
    assert_int_equal(prof_sampler_leave(o.s, second, &r2), 0);
    assert_int_equal(end(o, &r1), 0);
    bool tid;
    int64_t a1 = samples_of(r1.profile, "first-window", &tid),
            b1 = samples_of(r1.profile, "both-windows", &tid),
            a2 = samples_of(r2.profile, "first-window", &tid),
            b2 = samples_of(r2.profile, "both-windows", &tid);
    pf_profile_free(r1.profile);
    pf_profile_free(r2.profile);
    print_message("first reader: %lld + %lld; second: %lld + %lld\n", (long long)a1,
                  (long long)b1, (long long)a2, (long long)b2);
    double ua = seen_cpu(&c, &a) * 1000, ub = seen_cpu(&c, &b) * 1000;
    assert_true(a1 >= 0.8 * ua && b1 >= 0.8 * ub);
    assert_true(a2 <= 0.05 * ua); /* a drain's worth at most */
    assert_true(b2 >= 0.8 * ub);
    assert_true(r1.samples >= r2.samples);
}

/* One session at a time. */
static void test_second_session_refused(void **state)
{
    (void)state;
    prof_sampler_choice c = resolve_or_skip(PROF_SAMPLER_AUTO);
    char err[512];
    prof_sampler *s = prof_sampler_start(&c, 100, err, sizeof err);
    assert_non_null(s);
    assert_null(prof_sampler_start(&c, 100, err, sizeof err));
    assert_non_null(strstr(err, "already running"));
    prof_sampler_stop(s);
}

/* A late copy of the signal after a session (its event or timer gone)
 * runs the handler, which finds no session and returns. */
static void test_stray_signal_after_session(void **state)
{
    (void)state;
    int sig = prof_sampler_signal();
    assert_true(sig > 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sigqueue(getpid(), sig, (union sigval){.sival_int = 1}), 0);
    worker w = {.name = "after", .cpu = 0.01};
    run_worker(&w); /* still alive: the copies were delivered meanwhile */
    assert_true(w.used > 0);
}

/* fini drops a copy pending in a thread that blocks the signal, and gives
 * the signal back as it was. */
static void test_fini_drops_pending_copy(void **state)
{
    (void)state;
    int sig = prof_sampler_signal();
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    assert_int_equal(raise(sig), 0);
    prof_sampler_fini();
    struct sigaction now;
    sigaction(sig, NULL, &now);
    assert_false(now.sa_flags & SA_SIGINFO);
    assert_ptr_equal(now.sa_handler, SIG_DFL);
    /* Set to SIG_IGN by fini before the restore: nothing is pending. */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, sig));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    char err[256];
    assert_int_equal(prof_sampler_init(err, sizeof err), 0);
}

static void test_mode_refused_names_the_reason(void **state)
{
    (void)state;
    prof_sampler_fini(); /* no signal: only gperftools can sample */
    prof_sampler_choice c;
    char err[512];
    assert_int_equal(prof_sampler_resolve(PROF_SAMPLER_PERF, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.cpu_sampler = perf"));
    assert_int_equal(prof_sampler_resolve(PROF_SAMPLER_AUTO, &c, err, sizeof err), 0);
    assert_int_equal(c.mode, PROF_SAMPLER_GPERFTOOLS);
    assert_true(c.why[0] != '\0');
    assert_int_equal(prof_sampler_init(err, sizeof err), 0);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    return prof_sampler_init(err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    prof_sampler_fini();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_parse),
        cmocka_unit_test(test_perf_busy_thread_at_1000_hz),
        cmocka_unit_test(test_perf_bursty_thread),
        cmocka_unit_test(test_thread_timer_busy_thread),
        cmocka_unit_test(test_windowed_busy_thread),
        cmocka_unit_test(test_windowed_light_thread),
        cmocka_unit_test(test_late_thread_is_sampled),
        cmocka_unit_test(test_exited_thread_releases_fd),
        cmocka_unit_test(test_fd_budget_falls_back_to_timers),
        cmocka_unit_test(test_two_readers_two_windows),
        cmocka_unit_test(test_second_session_refused),
        cmocka_unit_test(test_stray_signal_after_session),
        cmocka_unit_test(test_fini_drops_pending_copy),
        cmocka_unit_test(test_mode_refused_names_the_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
