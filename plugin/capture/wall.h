/*
 * plugin/capture/wall.h - the wall-clock sampler and its slot: every
 * thread of the process, running or not, sampled at wall_hz
 * (/debug/pprof/wall serves it: profiles/wall.h).
 *
 * A ticker thread wakes wall_hz times a second on average (absolute
 * deadlines on CLOCK_MONOTONIC, each interval drawn uniformly between half
 * and one and a half periods, so that periodic work is not aliased; each
 * tick weighs the real time since the previous one) and looks at each
 * thread:
 *   - its CPU clock did not move since the last tick: it did not run, so it
 *     is parked in the same call as before: its last stack and state are
 *     counted for the interval, no signal, no /proc read (one
 *     clock_gettime); parked a second or more, its clock is read only once
 *     per 200 ms (so a long-parked thread's first run after it may be
 *     counted up to 200 ms late);
 *   - it ran: /proc/self/task/TID/syscall says where it is now: "running",
 *     or blocked in system call NR at user SP and PC. Blocked at the same
 *     (NR, SP, PC) as when its stack was last taken: the same call site, the
 *     stack is reused (no signal). Otherwise it gets the thread dumps'
 *     signal (threads.h: prof_threads_capture_list) and its stack is taken.
 *   - the profiler's own HTTP threads (core/own_threads.h) and threads that
 *     block the signal (how a host marks a thread not to be interrupted:
 *     plugin.h) are never signalled: counted from their last known state
 *     (the state from /proc, without a stack unless one was taken before).
 * A thread that moved in an interval has it split by its own clocks (CPU
 * time and schedstat's run_delay) between the stack it last ran in and
 * the one it last waited in. The ticker itself is not in the profile. The per-thread memory (CPU
 * clock, call site, stack) outlives a profile, so a thread parked for
 * good is signalled once in the life of the plugin.
 *
 * Readers share one ticker, as CPU profiles share one sampler: each
 * reader's window has its own profile (samples/count, wall/nanoseconds;
 * labels thread, thread_id, state and the thread's request context,
 * core/context.h). Up to max_readers profiles at once
 * (one more gets 409); push's windows come on top, as for CPU.
 *
 * Threads: claim, release and the window calls from any thread. The
 * ticker and the readers share the table under one mutex; the slot's own
 * mutex guards the reader counts and the ticker's start and stop.
 */
#ifndef TAKHIN_PLUGIN_CAPTURE_WALL_H
#define TAKHIN_PLUGIN_CAPTURE_WALL_H

#include "pf_profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_WALL_MAX_HZ 200
#define PROF_WALL_MAX_READERS 16 /* bound of profiler.max_wall_readers */

typedef struct prof_wall prof_wall;
typedef struct prof_wall_reader prof_wall_reader;

prof_wall *prof_wall_new(void); /* NULL when out of memory */
/* No reader may be left. NULL is fine. */
void prof_wall_free(prof_wall *w);

/* What the sampler did, since init (for /metrics) or in one window. */
typedef struct prof_wall_counts {
    uint64_t ticks;       /* ticks of the ticker (in a window: ticks it saw) */
    uint64_t signals;     /* signals sent: threads that ran and moved */
    uint64_t idle;        /* thread-ticks counted without a look: CPU clock unchanged */
    uint64_t same_site;   /* thread-ticks that ran but sat in the same call: no signal */
    uint64_t unsignalled; /* thread-ticks of threads never signalled (own, blocking) */
    uint64_t unanswered;  /* signals not answered in time */
} prof_wall_counts;
void prof_wall_totals(prof_wall *w, prof_wall_counts *out);
/* Wall profiles running now (push's windows not counted). */
int prof_wall_readers(prof_wall *w);

/* A window for a profile of about `seconds`, at hz (a running ticker keeps
 * its own rate). counted: one of the max_readers (an HTTP profile); push's
 * windows are not. 0, or the HTTP status (409, 503) with err. */
int prof_wall_claim(prof_wall *w, long seconds, int hz, int max_readers, bool counted,
                    prof_wall_reader **out, char *err, size_t errlen);

/* What a window gathered. */
typedef struct prof_wall_result {
    pf_profile *profile;  /* caller frees; mappings and time are the caller's */
    int hz;               /* the ticker's rate */
    double interval_ns;   /* mean real interval between its ticks */
    int64_t started_ns;   /* CLOCK_REALTIME at the window's start */
    double seconds;       /* the window's length */
    prof_wall_counts counts;
    int signal;           /* the signal used (threads.h) */
    uint64_t dropped;     /* samples left out to stay under the reader's cap */
} prof_wall_result;

/* Ends a window, hands over its profile; the last reader stops the ticker.
 * 0, or -1 when out of memory (out->profile NULL). Frees r. */
int prof_wall_release(prof_wall *w, prof_wall_reader *r, bool counted, prof_wall_result *out);

/* Ends r's window and starts the next at once, for push: out gets the
 * ended one. 0, or -1 when out of memory (r then stays valid). */
int prof_wall_next(prof_wall *w, prof_wall_reader *r, prof_wall_result *out);

/* Bounds the bytes of r's profile (pf_profile_bytes) to cap (0: none),
 * as prof_sampler_reader_cap does; the bytes it holds now. */
void prof_wall_reader_cap(prof_wall *w, prof_wall_reader *r, size_t cap);
size_t prof_wall_reader_bytes(prof_wall *w, prof_wall_reader *r);
/* Merges what r's window gathered so far into dst (the window goes on),
 * with its counts and times in *out (out->profile NULL). 0, or -1 when
 * out of memory. */
int prof_wall_peek(prof_wall *w, prof_wall_reader *r, pf_profile *dst, prof_wall_result *out);

/* The state label of a system call number ("futex", "epoll_wait", ...;
 * "syscall_N" for others; "blocked" for -1: waiting outside a system
 * call, e.g. a page fault). Into buf of len bytes. */
void prof_wall_state_name(long nr, char *buf, size_t len);

#endif
