/* The plugin's event hooks and "profiler set": see events.h. */
#include "events.h"

#include "contention.h"
#include "trace.h"

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

void prof_events_reconfigure(prof_events *ev, const prof_settings *s)
{
    prof_contention_set(ev->contention, s->mutex_fraction, s->block_rate);
    prof_events_update(ev);
}

/* ---- profiler set KEY VALUE ---- */

static const tk_config_key *settable_key(const char *name)
{
    if (strcmp(name, "mutex_fraction") != 0 && strcmp(name, "block_rate") != 0)
        return NULL;
    for (const tk_config_key *k = prof_config_keys; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

/* As the config reads an integer: decimal, no blanks, within bounds. */
static int parse_value(const char *text, const tk_config_key *k, int64_t *out)
{
    char *end = NULL;
    if (text[0] == '\0' || text[0] == ' ' || text[0] == '\t')
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < k->min || v > k->max)
        return -1;
    *out = v;
    return 0;
}

static void describe(const prof_events *ev, tk_reply *reply, const tk_host_api *api)
{
    long f = prof_contention_fraction(ev->contention);
    long long r = (long long)prof_contention_rate(ev->contention);
    api->reply_printf(reply, "; mutex profile %s", f > 0 ? "on" : "off");
    if (f > 0)
        api->reply_printf(reply, " (1 in %ld contended unlocks)", f);
    api->reply_printf(reply, ", block profile %s", r > 0 ? "on" : "off");
    if (r > 0)
        api->reply_printf(reply, " (one sample per %lld ns blocked)", r);
    api->reply_printf(reply, "; until the next config reload");
}

static int cmd_set(void *state, int argc, char **argv, tk_reply *reply)
{
    profiler *p = state;
    const tk_host_api *api = p->ph.api;
    const tk_config_key *k = argc == 2 ? settable_key(argv[0]) : NULL;
    int64_t v = 0;
    if (argc != 2) {
        api->reply_printf(reply, "usage: profiler set mutex_fraction|block_rate VALUE");
        return 1;
    }
    if (k == NULL) {
        api->reply_printf(reply, "profiler set: unknown key \"%.40s\": expected mutex_fraction "
                          "or block_rate", argv[0]);
        return 1;
    }
    if (parse_value(argv[1], k, &v) != 0) {
        api->reply_printf(reply, "profiler.%s = \"%.40s\": expected an integer from %lld to "
                          "%lld (%s)", k->name, argv[1], (long long)k->min, (long long)k->max,
                          k->help);
        return 1;
    }
    prof_contention *c = p->events->contention;
    bool fraction = strcmp(k->name, "mutex_fraction") == 0;
    long long was = fraction ? prof_contention_fraction(c) : (long long)prof_contention_rate(c);
    prof_contention_set(c, fraction ? (long)v : prof_contention_fraction(c),
                        fraction ? prof_contention_rate(c) : v);
    int rc = prof_events_update(p->events);
    api->reply_printf(reply, "profiler.%s = %lld (was %lld)", k->name, (long long)v, was);
    describe(p->events, reply, api);
    if (rc != 0 && prof_contention_on(c))
        api->reply_printf(reply, "\nbut no events arrive: %s", rc == ENOTSUP
                          ? "this host does not report them (no set_event_hooks)" : strerror(rc));
    return rc != 0 && prof_contention_on(c) ? 1 : 0;
}

/* ---- life ---- */

prof_events *prof_events_new(profiler *p, char *err, size_t errlen)
{
    prof_events *ev = calloc(1, sizeof *ev);
    if (ev == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ev->ph = &p->ph;
    pthread_mutex_init(&ev->lock, NULL);
    ev->contention = prof_contention_new(p->settings.mutex_fraction, p->settings.block_rate);
    ev->trace = prof_trace_new();
    int rc = ev->contention && ev->trace ? 0 : ENOMEM;
    if (rc == 0)
        rc = p->ph.api->register_command(p->ph.host, "profiler", "set",
                                         "profiler set mutex_fraction|block_rate N  change "
                                         "the mutex or block sampling now", cmd_set);
    if (rc != 0) {
        snprintf(err, errlen, "cannot set up the mutex, block and trace profiles: %s",
                 strerror(rc));
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
