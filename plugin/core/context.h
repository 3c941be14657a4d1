/*
 * plugin/core/context.h - the request context of the host's threads
 * (host API 1.2, takhin/plugin.h "Request context"), as every recorder of
 * the plugin reads it, and what is made of it: pprof sample labels, the
 * fold of label sets beyond profiler.labels.max_series into `other`, and
 * the exact CPU per context on /metrics.
 *
 * Readers (any recorder, including wall-clock ones):
 *   prof_context_current()      the calling thread's context; async-signal-
 *                               safe (no lock, no allocation, no system
 *                               call): call it in a signal handler to get
 *                               the context of the thread it interrupted
 *   prof_context_of_thread(tid) any thread's current context (lock-free)
 *   prof_context_of_waiter()    in a `released` event hook: the waiter's
 * All return NULL when the thread has no context or the host has no
 * context API (a 1.1 host: prof_context_why says so). A tk_context is the
 * host's, immutable and never freed: keep the pointer with a sample and
 * turn it into labels when the profile is built (prof_context_labels).
 *
 * Threads: init, configure and fini from the plugin's lifecycle thread;
 * everything else from any thread. Ownership: module state (the host's
 * API table is valid from init to fini).
 */
#ifndef TAKHIN_PLUGIN_CORE_CONTEXT_H
#define TAKHIN_PLUGIN_CORE_CONTEXT_H

#include "takhin/plugin.h"

#include "pf_profile.h"
#include "pf_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_LABELS_MAX_SERIES 10000 /* upper bound of profiler.labels.max_series */

/* Reads the host's context API; logs when there is none. */
void prof_context_init(const tk_host_api *api, tk_host *host);
/* profiler.labels.max_series and .cpu_metrics (installs or removes the
 * host's context hook). 0, or the host's errno (the hook could not be
 * installed: ENOTSUP without the context API). */
int prof_context_configure(long max_series, bool cpu_metrics);
/* Removes the hook (returns when no thread is inside it). */
void prof_context_fini(void);

/* True when the host offers contexts; else why not, for status and logs. */
bool prof_context_available(void);
const char *prof_context_why(void);

const tk_context *prof_context_current(void);
const tk_context *prof_context_of_thread(int tid);
const tk_context *prof_context_of_waiter(void);

/* Appends c's pairs to labels[0..room) as string labels (pointers into
 * c, valid for ever); returns how many. NULL c: none. */
size_t prof_context_labels(const tk_context *c, pf_label *labels, size_t room);

/* A bound on the distinct contexts of one profile (profiler.labels.
 * max_series, read at start): the first max_series keep their labels,
 * the others are folded into {other="true"} and counted. One thread. */
typedef struct prof_context_fold {
    const tk_context **kept;
    size_t len, cap, max;
    uint64_t folded;   /* samples folded into other */
} prof_context_fold;
void prof_context_fold_start(prof_context_fold *f);
/* c itself, or the `other` context. */
const tk_context *prof_context_fold_one(prof_context_fold *f, const tk_context *c);
/* Adds f's folded count to the totals of /metrics, frees f. */
void prof_context_fold_end(prof_context_fold *f);

/* Writes takhin_profiler_label_cpu_seconds_total (with cpu_metrics on)
 * and takhin_profiler_label_folded_total. */
void prof_context_render_metrics(pf_strbuf *out);
/* ",\"labels\":{...}" for profiler status. */
void prof_context_status_json(char *buf, size_t len);

#endif
