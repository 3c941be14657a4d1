/* The plugin's event hooks: see events.h. */
#include "capture/events.h"

#include "capture/contention.h"
#include "capture/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hooks: in the host's threads, after the event ---- */

static void hook_waited(void *ctx, tk_wait_kind kind, int64_t start_ns, int64_t delay_ns)
{
    prof_events *ev = ctx;
    prof_contention_waited(ev->contention, delay_ns);
    prof_trace_waited(ev->trace, kind, start_ns, delay_ns);
}

static void hook_released(void *ctx, int64_t delay_ns)
{
    prof_events *ev = ctx;
    prof_contention_released(ev->contention, delay_ns);
    prof_trace_released(ev->trace, delay_ns);
}

static void hook_span(void *ctx, const char *name, int64_t start_ns, int64_t end_ns)
{
    prof_events *ev = ctx;
    prof_trace_span(ev->trace, name, start_ns, end_ns);
}

/* Without a trace, spans are of no use: the host then skips the call. */
static const tk_event_hooks with_spans = {hook_waited, hook_released, hook_span};
static const tk_event_hooks without_spans = {hook_waited, hook_released, NULL};

/* ---- installing ---- */

static void log_change(prof_events *ev, bool want)
{
    if (want == ev->installed)
        return;
    /* A trace's own install and removal are routine: debug level. */
    tk_log_level level = prof_contention_on(ev->contention) ? TK_LOG_INFO : TK_LOG_DEBUG;
    prof_log(ev->ph, level, "event hooks %s (mutex_fraction %ld, block_rate %lld ns, "
             "trace %s)", want ? "installed" : "removed",
             prof_contention_fraction(ev->contention),
             (long long)prof_contention_rate(ev->contention),
             prof_trace_active(ev->trace) ? "running" : "off");
}

int prof_events_update(prof_events *ev)
{
    const tk_host_api *api = ev->ph->api;
    if (!TK_API_HAS(api, set_event_hooks))
        return ENOTSUP;
    pthread_mutex_lock(&ev->lock);
    bool want = prof_contention_on(ev->contention) || prof_trace_active(ev->trace);
    int rc = 0;
    /* Installing again when installed is on purpose: the host returns
     * once the hooks as they were are out of use. */
    if (want || ev->installed) {
        const tk_event_hooks *h = prof_trace_active(ev->trace) ? &with_spans : &without_spans;
        rc = api->set_event_hooks(ev->ph->host, want ? h : NULL, ev);
        if (rc != 0 && ev->installed) /* ours stay in force: take them out */
            api->set_event_hooks(ev->ph->host, NULL, NULL);
        if (rc != 0)
            prof_log(ev->ph, TK_LOG_WARN, "cannot install the event hooks: %s", strerror(rc));
        log_change(ev, want && rc == 0);
        ev->installed = want && rc == 0;
    }
    pthread_mutex_unlock(&ev->lock);
    return rc;
}

/* ---- what the parts above ask ---- */

int prof_events_set_contention(prof_events *ev, long mutex_fraction, int64_t block_rate)
{
    prof_contention_set(ev->contention, mutex_fraction, block_rate);
    return prof_events_update(ev);
}

int prof_events_trace_start(prof_events *ev)
{
    return prof_events_update(ev);
}

void prof_events_trace_end(prof_events *ev)
{
    prof_trace_stop(ev->trace);
    prof_events_update(ev);
}

/* ---- life ---- */

prof_events *prof_events_new(const prof_host *ph, long mutex_fraction, int64_t block_rate,
                             char *err, size_t errlen)
{
    prof_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ev->ph = ph;
    pthread_mutex_init(&ev->lock, NULL);
    ev->contention = prof_contention_new(mutex_fraction, block_rate);
    ev->trace = prof_trace_new();
    if (ev->contention == NULL || ev->trace == NULL) {
        snprintf(err, errlen, "cannot set up the mutex, block and trace profiles: %s",
                 strerror(ENOMEM));
        prof_events_free(ev);
        return NULL;
    }
    if (prof_events_update(ev) == ENOTSUP && prof_contention_on(ev->contention))
        prof_log(ev->ph, TK_LOG_WARN, "this host reports no events: the mutex and block "
                 "profiles stay empty");
    return ev;
}

void prof_events_free(prof_events *ev)
{
    if (ev == NULL)
        return;
    if (ev->installed) /* returns when no thread is inside them any more */
        ev->ph->api->set_event_hooks(ev->ph->host, NULL, NULL);
    ev->installed = false;
    prof_trace_free(ev->trace);
    prof_contention_free(ev->contention);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}
