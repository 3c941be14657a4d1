/*
 * plugin/capture/trace.h - the recorder of /debug/pprof/trace (served by
 * profiles/trace.c): what the host's threads did, written as Chrome Trace
 * Event JSON (opens in ui.perfetto.dev and chrome://tracing).
 *
 * While a trace runs, the event hooks (events.h) append spans ("produce",
 * "consume"), waits ("mutex wait", "cond wait") and contended unlocks to a
 * buffer per thread: allocated by the thread at its first event of the
 * trace, TRACE_EVENTS_PER_THREAD events at most (more are dropped and
 * counted), TRACE_MAX_THREADS threads at most. One trace at a time; the
 * buffers are freed when its answer is sent.
 *
 * Threads: the hook entry points run in the host's threads, each writing
 * only its own buffer; the buffers are read only after
 * prof_events_trace_end returned (no hook is then still writing).
 * Ownership: prof_events owns the prof_trace (events.h).
 */
#ifndef TAKHIN_PLUGIN_CAPTURE_TRACE_H
#define TAKHIN_PLUGIN_CAPTURE_TRACE_H

#include "core/settings.h"

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#define TRACE_EVENTS_PER_THREAD 16384
#define TRACE_MAX_THREADS 128

typedef struct prof_trace prof_trace;

prof_trace *prof_trace_new(void);
void prof_trace_free(prof_trace *t); /* no trace may be running; NULL is fine */

/* True while a trace records: the hooks are needed. */
bool prof_trace_active(const prof_trace *t);

/* Hook entry points (events.c), in the thread of the event. */
void prof_trace_span(prof_trace *t, const char *name, int64_t start_ns, int64_t end_ns);
void prof_trace_waited(prof_trace *t, tk_wait_kind kind, int64_t start_ns, int64_t delay_ns);
void prof_trace_released(prof_trace *t, int64_t delay_ns);

/* Events dropped by all traces so far (full buffers, threads over the
 * limit), for /metrics. */
uint64_t prof_trace_dropped(const prof_trace *t);

/* ---- one trace (through prof_events_trace_begin and _end) ---- */

/* Takes the one trace slot and starts recording; false when a trace is
 * running (*ends_in: about how many seconds it still runs). */
bool prof_trace_begin(prof_trace *t, double seconds, long *ends_in);
/* Stops recording. The caller then makes sure no hook still runs
 * (prof_events_trace_end does) before writing or discarding. */
void prof_trace_stop(prof_trace *t);
/* Frees the buffers and gives the slot back. */
void prof_trace_discard(prof_trace *t);

/* Where the JSON goes, in pieces; non-zero stops the writing. */
typedef int (*prof_trace_sink)(void *ctx, const void *data, size_t len);

/* Writes the stopped trace as JSON; *total gets the byte count. 0, or -1
 * when the sink failed or memory ran out. */
int prof_trace_write(const prof_trace *t, const char *process_name, int pid,
                     prof_trace_sink sink, void *ctx, size_t *total);

/* s as a quoted JSON string into out (NUL-terminated, truncated to fit
 * at a character boundary); invalid UTF-8 becomes U+FFFD. Returns the
 * length written. */
size_t prof_trace_json_string(const char *s, char *out, size_t outlen);

#endif
