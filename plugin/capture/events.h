/*
 * plugin/capture/events.h - the plugin's one set of host event hooks
 * (tk_event_hooks: one set per process), dispatched to the contention
 * tables of the mutex and block profiles (contention.h) and to a running
 * trace (trace.h).
 *
 * The hooks are installed iff contention sampling is on (mutex_fraction or
 * block_rate > 0) or a trace is running; otherwise they are removed and the
 * host's primitives cost nothing extra.
 *
 * Ownership: the profiler owns its prof_events (p->events) from init to
 * fini; prof_events owns the prof_contention and the prof_trace.
 * Threads: every call may come from any thread (admin commands, HTTP
 * handlers); a pthread mutex serializes installs.
 */
#ifndef TAKHIN_PLUGIN_EVENTS_H
#define TAKHIN_PLUGIN_EVENTS_H

#include "core/settings.h"

#include <pthread.h>

struct prof_contention;
struct prof_trace;

typedef struct prof_events {
    const prof_host *ph;
    pthread_mutex_t lock;     /* serializes installs; guards `installed` */
    bool installed;           /* our hooks are the host's current ones */
    struct prof_contention *contention;
    struct prof_trace *trace;
} prof_events;

/* Creates the contention tables (sampling at these rates) and the trace
 * slot, and installs the hooks if sampling is on. NULL with err. */
prof_events *prof_events_new(const prof_host *ph, long mutex_fraction, int64_t block_rate,
                             char *err, size_t errlen);

/* Installs or removes the hooks as the state now asks. Returns when no
 * thread is still inside the hooks as they were before the call (also
 * when they stay installed): what a hook saw before is finished. 0, or an
 * errno value from the host (then the hooks are as they were). */
int prof_events_update(prof_events *ev);

/* New contention rates (reload, "profiler set"), hooks as they then
 * need. Returns prof_events_update's. */
int prof_events_set_contention(prof_events *ev, long mutex_fraction, int64_t block_rate);

/* A trace taken with prof_trace_begin: start installs the hooks with
 * spans (0, or ENOTSUP or the host's errno: then call end); end stops
 * it and returns when no hook still writes its buffers. */
int prof_events_trace_start(prof_events *ev);
void prof_events_trace_end(prof_events *ev);

/* Removes the hooks, then frees all. No trace may be running (the HTTP
 * server is stopped first). NULL is fine. */
void prof_events_free(prof_events *ev);

#endif
