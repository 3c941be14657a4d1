/*
 * plugin/capture/sampler.h - the CPU sampler of /debug/pprof/profile: every thread
 * of the process is sampled on its own CPU clock, so CPU spent in short
 * bursts between sleeps is sampled as faithfully as a busy loop.
 *
 * Mechanisms, best first (profiler.cpu_sampler):
 * - windowed (chosen by name only: auto picks perf, see README): the perf
 *   events below, opened on each thread that used CPU since the last
 *   window for 1/64 of every PROF_SAMPLER_CYCLE_MS (at a random moment of
 *   it) at 64 times the rate asked (at most 8000 Hz: at 1000 Hz, an
 *   eighth of the time at 8000), and closed after. An always-on
 *   sampling event costs its thread about 2 us at every context switch
 *   on this kind of VM (an hrtimer cancelled and re-armed:
 *   bench/pingpong); windows pay that 1/64 of the time, with perf's
 *   placement of samples intact. Each window's samples weigh their
 *   threads' CPU time since their previous weighing (see Weights), so a
 *   thread's total stays what its CPU clock says. A thread that runs 0.5
 *   ms of CPU or more per context switch on average (its CPU clock and
 *   /proc/self/task/T/schedstat at each window: a CPU-bound one) keeps
 *   its event open at the rate asked, as perf does: its switches cost it
 *   0.5 % of its CPU at most, and its samples are spread over all its
 *   time.
 * - perf: one perf_event per thread, always on, software task-clock, sample_period
 *   1e9/hz ns, overflow delivered as a realtime signal to that thread
 *   (O_ASYNC, F_SETSIG, F_SETOWN_EX with F_OWNER_TID), re-armed by the
 *   handler with PERF_EVENT_IOC_REFRESH. Perf's clock is an hrtimer: it
 *   does not alias with the scheduler tick. Kernel time is counted when
 *   the process may (root, CAP_PERFMON, or kernel.perf_event_paranoid <=
 *   1); otherwise the events exclude the kernel and samples that land in
 *   system calls are lost (the profile says so).
 * - thread_timer: one POSIX timer per thread on that thread's CPU clock
 *   (CLOCK_THREAD_CPUTIME_ID of the TID, SIGEV_THREAD_ID), what Go does
 *   since 1.18. Checked at the tick: bursts shorter than a tick alias.
 * - gperftools: the process-wide ITIMER_PROF of libprofiler (cpu.c runs
 *   it; not this module).
 *
 * Threads: those in /proc/self/task at start, then a rescan every
 * PROF_SAMPLER_DRAIN_MS (windowed: before each window) arms new threads
 * and releases those of threads that exited. File descriptors: perf takes one per thread; it
 * never takes the last quarter of RLIMIT_NOFILE (at least 64 fds are left
 * to the host). Threads beyond that budget get a thread timer instead,
 * and the profile says how many.
 *
 * Samples: the handler (async-signal-safe: no lock, no allocation, no
 * system call but the perf re-arm ioctl when there is no buffer; the
 * thread comes from the event's fd or the timer's value, its name is read
 * by the collector)
 * unwinds the interrupted context with the plugin's unwinder, bounded by
 * the process's mappings (procself.h), into a lock-free ring; a collector
 * thread drains it every PROF_SAMPLER_DRAIN_MS into a pf_profile with
 * labels thread (the name, read at most once a second) and thread_id
 * (numeric). A full ring drops the sample and counts it. The collector
 * sleeps until there is work: every PROF_SAMPLER_DRAIN_MS (windowed: a
 * window's start and end), or when the handler finds the ring past half
 * full (it writes an eventfd), or a reader leaves (it drains itself).
 *
 * Weights: the signals say where a thread is; its CPU clock (the kernel's
 * account, what /proc shows), read by the collector at each drain, says
 * how much its samples count: the CPU time it used since it was last
 * weighed, shared among its samples of that drain, as cpu/nanoseconds and
 * in periods as samples/count (rounded, the rest carried on). Work the
 * kernel does for a thread that its perf event does not see (around its
 * context switches: ten microseconds and more each on a nested VM), or a
 * sample lost to a full ring, is counted all the same. A thread that
 * exits is weighed no more: its CPU since its last weighing (its last
 * drain with samples: windowed, up to a cycle) is not counted.
 *
 * Readers: one session serves several readers, each over its own window
 * (prof_sampler_join to prof_sampler_leave): every sample drained while a
 * reader is joined goes into that reader's profile. Samples drained with
 * no reader are dropped.
 *
 * Threads: prof_sampler_init and prof_sampler_fini from the plugin's
 * lifecycle; one session at a time (prof_sampler_start fails while one
 * runs); start and stop from one thread, with no reader left; join and
 * leave from any thread while the session runs.
 */
#ifndef TAKHIN_PLUGIN_SAMPLER_H
#define TAKHIN_PLUGIN_SAMPLER_H

#include "core/context.h"
#include "core/settings.h"
#include "pf_profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_SAMPLER_MAX_DEPTH 128
#define PROF_SAMPLER_DRAIN_MS 250 /* and rescan: new threads are sampled within this */
#define PROF_SAMPLER_CYCLE_MS 500 /* windowed: one window in each */

/* What a mode resolved to on this process. */
typedef struct prof_sampler_choice {
    prof_sampler_mode mode;  /* never AUTO */
    bool with_kernel;        /* perf: kernel time is sampled too */
    char why[256];           /* auto: why a better mode was passed over ("" if none) */
} prof_sampler_choice;

/* Checks that `want` can be had here (opens and closes a probe event or
 * timer on the calling thread); AUTO takes the best that can. 0, or -1
 * with err naming the reason (errno, kernel.perf_event_paranoid) and the
 * fix. */
int prof_sampler_resolve(prof_sampler_mode want, prof_sampler_choice *out, char *err,
                         size_t errlen);

/* Installs the signal handler (a free realtime signal). 0, or -1 with
 * err: then only gperftools can sample. */
int prof_sampler_init(char *err, size_t errlen);
/* Restores the signal, with no handler of ours left running. */
void prof_sampler_fini(void);
/* The signal in use (0 before init). */
int prof_sampler_signal(void);

/* Whether mode samples with perf events (perf, windowed). */
bool prof_sampler_mode_is_perf(prof_sampler_mode mode);
/* windowed at hz: perf is on 1/this of the time, at this times hz. */
int prof_sampler_window_share(int hz);

typedef struct prof_sampler prof_sampler;
typedef struct prof_sampler_reader prof_sampler_reader;

/* What every session took since init (for /metrics). */
typedef struct prof_sampler_totals {
    uint64_t signals, lost, handler_ns;
} prof_sampler_totals;
void prof_sampler_totals_get(prof_sampler_totals *out);

/* Starts sampling every thread with choice->mode (not GPERFTOOLS)
 * at hz. NULL with err (another session runs, no memory, the signal is
 * not installed, or no thread could be armed). */
prof_sampler *prof_sampler_start(const prof_sampler_choice *choice, int hz, char *err,
                                 size_t errlen);

/* Stops sampling and releases every event and timer. No reader may be
 * joined. Frees s. */
void prof_sampler_stop(prof_sampler *s);

/* A new reader, whose window starts now. NULL when out of memory. */
prof_sampler_reader *prof_sampler_join(prof_sampler *s);
/* The same, its samples' request contexts bounded by `fold` (push: at
 * most profiler.labels.max_series label sets, core/context.h), which
 * must live until the reader leaves; only the collector touches it
 * meanwhile. */
prof_sampler_reader *prof_sampler_join_folded(prof_sampler *s, prof_context_fold *fold);

/* Bounds the bytes of r's profile (pf_profile_bytes) to cap (0: none):
 * a sample that could take it past cap is left out and counted (the
 * result's dropped). From any thread. */
#define PROF_SAMPLER_ADD_SLACK (128u << 10) /* an arena block and a sample */
void prof_sampler_reader_cap(prof_sampler_reader *r, size_t cap);
/* The bytes of r's profile now. From any thread. */
size_t prof_sampler_reader_bytes(prof_sampler_reader *r);

/* What a reader's window gathered. */
typedef struct prof_sampler_result {
    pf_profile *profile;      /* samples/count, cpu/nanoseconds; caller frees */
    int64_t period_ns;        /* the sampling period asked of the kernel */
    uint64_t samples;         /* samples/count in the window: CPU time in periods */
    uint64_t signals;         /* signals in the window (where samples were taken) */
    uint64_t cpu_ns;          /* cpu/nanoseconds in the window */
    uint64_t lost;            /* dropped in the window: the ring was full */
    uint64_t dropped;         /* left out to keep the profile under its cap */
    uint64_t handler_ns;      /* time spent in the handler in the window, */
    uint64_t handled;         /* over this many signals (every thread) */
    size_t threads_perf;      /* threads sampled with perf events (windowed: all along) */
    size_t threads_windowed;  /* windowed: threads sampled in the latest window only */
    size_t threads_timer;     /* with thread timers */
    size_t threads_unarmed;   /* that could not be armed at all */
} prof_sampler_result;

/* Merges what reader r gathered so far into dst (its window goes on),
 * with its counts in *out (out->profile NULL). 0, or -1 when out of
 * memory. */
int prof_sampler_peek(prof_sampler *s, prof_sampler_reader *r, pf_profile *dst,
                      prof_sampler_result *out);

/* Ends a reader's window and hands over its profile (its mappings and
 * comments are the caller's to add). 0, or -1 when out of memory (then
 * out->profile is NULL). Frees r. */
int prof_sampler_leave(prof_sampler *s, prof_sampler_reader *r, prof_sampler_result *out);

#endif
