/*
 * plugin/capture/threads.h - the stack of every thread of the process,
 * captured with a signal: what /debug/pprof/goroutine (alias threads)
 * serves (profiles/goroutine.h).
 *
 * Each thread listed in /proc/self/task gets a realtime signal (see
 * threads.c for which one and why); its handler unwinds the interrupted
 * context with the plugin's DWARF unwinder (unwinder.h: stacks go through
 * libc and other code built without frame pointers; loads bounded to the
 * thread's stack) into a slot preallocated for it. The
 * requesting thread waits up to PROF_THREADS_TIMEOUT_MS for the answers; a
 * thread that blocks the signal or does not answer in time is listed
 * without a stack and with the reason.
 *
 * Threads: prof_threads_init and prof_threads_fini from the plugin's
 * lifecycle (one at a time); everything else from any thread. One capture
 * runs at a time (a mutex); others wait their turn.
 */
#ifndef TAKHIN_PLUGIN_THREADS_H
#define TAKHIN_PLUGIN_THREADS_H

#include "takhin/plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#define PROF_THREADS_MAX_DEPTH 128   /* frames kept per thread */
#define PROF_THREADS_TIMEOUT_MS 1000 /* for all threads to answer */

typedef enum prof_thread_status {
    PROF_THREAD_OK,         /* the stack was captured */
    PROF_THREAD_BLOCKED,    /* the thread blocks the signal */
    PROF_THREAD_PENDING,    /* our signal from an earlier capture is still
                               pending there: not sent again */
    PROF_THREAD_NO_ANSWER,  /* did not answer within the timeout */
    PROF_THREAD_NOT_SENT,   /* the signal could not be queued (EAGAIN) */
    PROF_THREAD_OWN_HTTP,   /* a thread of the profiler's HTTP server, left
                               alone (core/own_threads.h) */
} prof_thread_status;

typedef struct prof_thread {
    pid_t tid;
    prof_thread_status status;
    char state;     /* from /proc/self/task/TID/stat ('R', 'S', 'D'...);
                       '?' unless asked for */
    char name[16];  /* the kernel's thread name (comm) */
    bool truncated; /* deeper than PROF_THREADS_MAX_DEPTH */
    const tk_context *ctx; /* its request context at the capture (core/context.h) */
    size_t depth;
    uintptr_t pcs[PROF_THREADS_MAX_DEPTH]; /* pcs[0] exact, then return
                                              addresses (PF_PCS_LEAF_EXACT) */
} prof_thread;

/* One capture: every thread alive at its start that is still alive at its
 * end, sorted by TID. */
typedef struct prof_threads_dump {
    prof_thread *thread;
    size_t len;
    double capture_ms; /* signal round trip for all threads */
} prof_threads_dump;

/* Installs the signal handler and checks it with a capture of the
 * calling thread. 0, or -1 with err: then the profile
 * answers 501 with that reason (the plugin can run on without it). */
int prof_threads_init(char *err, size_t errlen);
/* Restores the signal's previous action, with no signal of ours left
 * pending or running. Safe without a successful init. */
void prof_threads_fini(void);
/* The signal in use (0 before init). */
int prof_threads_signal(void);

/* Captures every thread; with_state also reads each thread's state first.
 * 0, or an HTTP status (501, 503) with err. Free with
 * prof_threads_dump_free. */
int prof_threads_capture(prof_threads_dump *out, bool with_state, char *err, size_t errlen);
void prof_threads_dump_free(prof_threads_dump *d);

/* Captures only the threads tids[0..n) (the wall sampler's: those that ran
 * since its last tick), waiting up to timeout_ms for their answers; with
 * reuse_maps, the mappings read by the previous capture bound the walks
 * (a thread whose stack was mapped since then gets its PC only). out[] has
 * n entries; *kept of them, packed at the front, are threads still alive.
 * Same exclusions as prof_threads_capture (the profiler's HTTP threads are
 * not signalled). 0, or -1 (not initialized, out of memory). */
int prof_threads_capture_list(const pid_t *tids, size_t n, prof_thread *out, size_t *kept,
                              int timeout_ms, bool reuse_maps);
/* The thread blocks the signal (SigBlk in /proc/self/task/TID/status): a
 * signal would never be answered. How a host keeps a thread from being
 * interrupted (plugin.h). */
bool prof_threads_blocks_signal(pid_t tid);

#endif
