/* The CPU profiles' slot, samplers and windows: see cpu.h. */
#include "capture/cpu.h"

#include "pf_util.h"

#include <gperftools/profiler.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct prof_cpu {
    char dir[256];        /* private, mode 0700 */
    pthread_mutex_t lock; /* guards the fields below */
    prof_sampler_choice choice; /* the sampler in force for new sessions */
    int readers;                /* CPU profiles running */
    int windows;                /* push's readers (prof_cpu_window), not counted in readers */
    struct timespec first_end;  /* CLOCK_MONOTONIC: when the first of them ends */
    bool gperftools;            /* the running profiles are gperftools' (one at most) */
    prof_sampler *session;      /* the plugin's sampler, while readers > 0 */
    prof_sampler_choice session_choice;
    int session_hz;
    double last_hz;             /* rate achieved by the last profile answered */
};

prof_cpu *prof_cpu_new(char *err, size_t errlen)
{
    prof_cpu *cpu = calloc(1, sizeof *cpu);
    if (cpu == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cpu->dir, sizeof cpu->dir, "%s/takhin-profiler-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(cpu->dir) == NULL) { /* mkdtemp makes it 0700 */
        snprintf(err, errlen, "cannot create a private directory for CPU profiles in %s: %m "
                 "(set TMPDIR to a writable directory)", tmp && tmp[0] ? tmp : "/tmp");
        free(cpu);
        return NULL;
    }
    pthread_mutex_init(&cpu->lock, NULL);
    cpu->choice.mode = PROF_SAMPLER_GPERFTOOLS;
    return cpu;
}

void prof_cpu_set_sampler(prof_cpu *cpu, const prof_sampler_choice *choice)
{
    pthread_mutex_lock(&cpu->lock);
    cpu->choice = *choice;
    pthread_mutex_unlock(&cpu->lock);
}

double prof_cpu_last_achieved_hz(prof_cpu *cpu)
{
    pthread_mutex_lock(&cpu->lock);
    double hz = cpu->last_hz;
    pthread_mutex_unlock(&cpu->lock);
    return hz;
}

prof_sampler_choice prof_cpu_sampler(prof_cpu *cpu)
{
    pthread_mutex_lock(&cpu->lock);
    prof_sampler_choice c = cpu->choice;
    pthread_mutex_unlock(&cpu->lock);
    return c;
}

void prof_cpu_free(prof_cpu *cpu)
{
    if (cpu == NULL)
        return;
    rmdir(cpu->dir);
    pthread_mutex_destroy(&cpu->lock);
    free(cpu);
}

static double process_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void prof_cpu_run_begin(prof_cpu_run *run, int hz)
{
    run->cpu_seconds = process_cpu_seconds();
    run->wall_seconds = pf_mono_s();
    run->requested_hz = hz;
    clock_gettime(CLOCK_REALTIME, &run->started);
}

void prof_cpu_run_end(prof_cpu_run *run)
{
    run->cpu_seconds = process_cpu_seconds() - run->cpu_seconds;
    run->wall_seconds = pf_mono_s() - run->wall_seconds;
}

static long seconds_until(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (long)(t->tv_sec - now.tv_sec) + 1;
    return left > 1 ? left : 1;
}

/* Starts the plugin's sampler for the first reader. 0, or -1 with err. */
static int open_session(prof_cpu *cpu, int hz, char *err, size_t errlen)
{
    cpu->session = prof_sampler_start(&cpu->choice, hz, err, errlen);
    cpu->session_choice = cpu->choice;
    cpu->session_hz = hz;
    return cpu->session ? 0 : -1;
}

int prof_cpu_claim(prof_cpu *cpu, long seconds, int hz, int max_readers, prof_cpu_slot *slot,
                   char *err, size_t errlen)
{
    int status = 0;
    pthread_mutex_lock(&cpu->lock);
    bool gperftools = cpu->readers > 0 ? cpu->gperftools
                                       : cpu->choice.mode == PROF_SAMPLER_GPERFTOOLS;
    int cap = gperftools ? 1 : max_readers;
    if (cpu->readers >= cap) {
        snprintf(err, errlen, "Could not enable CPU profiling: %d CPU profile%s already "
                 "running (%s); the first ends in about %ld s, retry then", cpu->readers,
                 cpu->readers == 1 ? " is" : "s are", gperftools ? "gperftools takes one at "
                 "a time" : "profiler.max_cpu_readers", seconds_until(&cpu->first_end));
        status = 409;
    } else if (!gperftools && cpu->session == NULL && open_session(cpu, hz, err, errlen)) {
        status = 503;
    } else if (!gperftools && (slot->reader = prof_sampler_join(cpu->session)) == NULL) {
        snprintf(err, errlen, "out of memory for a CPU profile");
        status = 503;
    }
    if (status == 0) {
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += seconds;
        if (cpu->readers++ == 0 || end.tv_sec < cpu->first_end.tv_sec)
            cpu->first_end = end;
        cpu->gperftools = gperftools;
        slot->choice = gperftools ? cpu->choice : cpu->session_choice;
        slot->hz = gperftools ? hz : cpu->session_hz;
        slot->session = cpu->session;
    } else if (cpu->readers == 0 && cpu->windows == 0 && cpu->session != NULL) {
        prof_sampler_stop(cpu->session);
        cpu->session = NULL;
    }
    pthread_mutex_unlock(&cpu->lock);
    return status;
}

void prof_cpu_release(prof_cpu *cpu)
{
    pthread_mutex_lock(&cpu->lock);
    if (--cpu->readers == 0 && cpu->windows == 0 && cpu->session != NULL) {
        prof_sampler_stop(cpu->session);
        cpu->session = NULL;
    }
    pthread_mutex_unlock(&cpu->lock);
}

/* gperftools arms ITIMER_PROF at its own frequency (read once, from
 * CPUPROFILE_FREQUENCY); re-arming it sets the rate we were asked for. */
static void set_rate(int hz)
{
    long us = 1000000L / hz;
    struct itimerval it = {{us / 1000000, us % 1000000}, {us / 1000000, us % 1000000}};
    setitimer(ITIMER_PROF, &it, NULL);
}

bool prof_cpu_gperftools_start(const char *path, int hz)
{
    if (!ProfilerStart(path))
        return false;
    set_rate(hz);
    return true;
}

void prof_cpu_gperftools_stop(void)
{
    ProfilerStop();
}

void prof_cpu_note_achieved(prof_cpu *cpu, double hz)
{
    pthread_mutex_lock(&cpu->lock);
    cpu->last_hz = hz;
    pthread_mutex_unlock(&cpu->lock);
}

int prof_cpu_temp_file(prof_cpu *cpu, char *path, size_t len)
{
    snprintf(path, len, "%s/cpu-XXXXXX", cpu->dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

void prof_cpu_describe(const prof_sampler_choice *c, const prof_sampler_result *r,
                       prof_cpu_run *run)
{
    int n = snprintf(run->sampler, sizeof run->sampler, "cpu sampler: %s",
                     prof_sampler_mode_name(c->mode));
    if (c->mode == PROF_SAMPLER_WINDOWED)
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, " (task-clock perf "
                      "events on each thread that ran, for 1/%d of every %d ms at %d times "
                      "the rate, at a random moment: perf's placement of samples for 1/%d of "
                      "its cost at each context switch, which always-on perf events pay)",
                      prof_sampler_window_share(run->requested_hz), PROF_SAMPLER_CYCLE_MS,
                      prof_sampler_window_share(run->requested_hz),
                      prof_sampler_window_share(run->requested_hz));
    if (prof_sampler_mode_is_perf(c->mode))
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, c->with_kernel
                      ? " (a task-clock perf event per thread; user and kernel time)"
                      : " (a task-clock perf event per thread; user time only: "
                        "kernel.perf_event_paranoid >= 2 without CAP_PERFMON, so time in "
                        "system calls is not sampled)");
    else
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, " (a CPU-clock "
                      "timer per thread, checked at the kernel tick: CPU spent in bursts "
                      "shorter than a tick is undersampled%s%s)", c->why[0] ? "; perf: " : "",
                      c->why);
    if (c->mode == PROF_SAMPLER_WINDOWED && (size_t)n < sizeof run->sampler)
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, "; at the end, %zu "
                      "threads in windows and %zu sampled all along (0.5 ms of CPU or more "
                      "per context switch: their events stay open)", r->threads_windowed,
                      r->threads_perf);
    if (r->threads_timer > 0 && prof_sampler_mode_is_perf(c->mode))
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, "; %zu of %zu "
                      "threads on thread timers (RLIMIT_NOFILE budget)", r->threads_timer,
                      r->threads_timer + r->threads_perf);
    if (r->lost > 0 && (size_t)n < sizeof run->sampler)
        n += snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, "; %llu samples lost "
                      "(ring full), their CPU time counted in the next ones",
                      (unsigned long long)r->lost);
    if ((size_t)n < sizeof run->sampler && run->cpu_seconds > 0)
        snprintf(run->sampler + n, sizeof run->sampler - (size_t)n, "; %llu signals (%.1f per "
                 "CPU-second), each weighted by its thread's CPU clock since its previous one",
                 (unsigned long long)r->signals, (double)r->signals / run->cpu_seconds);
}

/* ---- windows for push (cpu.h) ---- */

struct prof_cpu_window {
    prof_sampler_choice choice;
    int hz;
    prof_sampler *session;
    prof_sampler_reader *reader;
    prof_context_fold fold; /* the reader's: label sets per pushed profile */
    prof_cpu_run run;
    size_t cap;             /* prof_cpu_window_cap, kept across windows */
    prof_cpu_window_counts last; /* of the window that ended last */
};

prof_cpu_window *prof_cpu_window_open(prof_cpu *cpu, int hz, char *err, size_t errlen)
{
    prof_cpu_window *w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = 0;
    pthread_mutex_lock(&cpu->lock);
    if (cpu->choice.mode == PROF_SAMPLER_GPERFTOOLS || (cpu->readers > 0 && cpu->gperftools)) {
        snprintf(err, errlen, "the gperftools CPU sampler serves one profile at a time, and "
                 "it belongs to /debug/pprof/profile: pushing CPU profiles and the flight "
                 "recorder need profiler.cpu_sampler perf, windowed or thread_timer");
        rc = -1;
    } else if (cpu->session == NULL && open_session(cpu, hz, err, errlen) != 0) {
        rc = -1;
    } else if (prof_context_fold_start(&w->fold),
               (w->reader = prof_sampler_join_folded(cpu->session, &w->fold)) == NULL) {
        snprintf(err, errlen, "out of memory for a CPU reader");
        if (cpu->readers == 0 && cpu->windows == 0) {
            prof_sampler_stop(cpu->session);
            cpu->session = NULL;
        }
        rc = -1;
    }
    if (rc == 0) {
        cpu->windows++;
        w->session = cpu->session;
        w->choice = cpu->session_choice;
        w->hz = cpu->session_hz;
    }
    pthread_mutex_unlock(&cpu->lock);
    if (rc != 0) {
        free(w);
        return NULL;
    }
    prof_cpu_run_begin(&w->run, w->hz);
    return w;
}

pf_profile *prof_cpu_window_next(prof_cpu_window *w, int64_t *from_ns, int64_t *until_ns,
                                 char *err, size_t errlen)
{
    prof_cpu_run run = w->run;
    prof_cpu_run_end(&run);
    prof_sampler_result r;
    int left = prof_sampler_leave(w->session, w->reader, &r);
    prof_context_fold_end(&w->fold);
    prof_context_fold_start(&w->fold);
    /* The next window starts at once: back to back, microseconds apart. */
    w->reader = prof_sampler_join_folded(w->session, &w->fold);
    if (w->reader != NULL)
        prof_sampler_reader_cap(w->reader, w->cap);
    prof_cpu_run_begin(&w->run, w->hz);
    w->last = (prof_cpu_window_counts){r.signals, r.lost, left == 0 ? r.dropped : 0,
                                       r.samples, run.cpu_seconds};
    if (left != 0 || w->reader == NULL) {
        snprintf(err, errlen, "out of memory while collecting CPU samples");
        if (left == 0)
            pf_profile_free(r.profile);
        return NULL;
    }
    prof_cpu_describe(&w->choice, &r, &run);
    double hz;
    if (prof_convert_prepare(r.profile, r.samples, &run, &hz, err, errlen) != 0) {
        pf_profile_free(r.profile);
        return NULL;
    }
    *from_ns = (int64_t)run.started.tv_sec * 1000000000 + run.started.tv_nsec;
    *until_ns = *from_ns + (int64_t)(run.wall_seconds * 1e9);
    return r.profile;
}

void prof_cpu_window_cap(prof_cpu_window *w, size_t cap)
{
    w->cap = cap;
    if (w->reader != NULL)
        prof_sampler_reader_cap(w->reader, cap);
}

size_t prof_cpu_window_bytes(prof_cpu_window *w)
{
    return w->reader != NULL ? prof_sampler_reader_bytes(w->reader) : 0;
}

prof_cpu_window_counts prof_cpu_window_last(const prof_cpu_window *w)
{
    return w->last;
}

int prof_cpu_window_peek(prof_cpu_window *w, pf_profile *dst, prof_cpu_window_counts *c,
                         int64_t *from_ns, int64_t *until_ns, char *err, size_t errlen)
{
    prof_cpu_run run = w->run;
    prof_cpu_run_end(&run);
    prof_sampler_result r;
    if (w->reader == NULL || prof_sampler_peek(w->session, w->reader, dst, &r) != 0) {
        snprintf(err, errlen, "out of memory while copying the CPU samples under way");
        return -1;
    }
    *c = (prof_cpu_window_counts){r.signals, r.lost, r.dropped, r.samples, run.cpu_seconds};
    *from_ns = (int64_t)run.started.tv_sec * 1000000000 + run.started.tv_nsec;
    *until_ns = *from_ns + (int64_t)(run.wall_seconds * 1e9);
    return 0;
}

void prof_cpu_window_close(prof_cpu *cpu, prof_cpu_window *w)
{
    if (w == NULL)
        return;
    prof_sampler_result r;
    if (w->reader != NULL && prof_sampler_leave(w->session, w->reader, &r) == 0)
        pf_profile_free(r.profile);
    prof_context_fold_end(&w->fold);
    pthread_mutex_lock(&cpu->lock);
    if (--cpu->windows == 0 && cpu->readers == 0 && cpu->session != NULL) {
        prof_sampler_stop(cpu->session);
        cpu->session = NULL;
    }
    pthread_mutex_unlock(&cpu->lock);
    free(w);
}
