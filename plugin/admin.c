/* The admin commands "profiler status|enable|disable|set", all of them:
 * see profiler.h. */
#include "profiler.h"

#include "capture/contention.h"
#include "core/context.h"

#include "pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- profiler status, enable, disable ---- */

static int cmd_status(void *state, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    profiler *p = state;
    const tk_host_api *api = p->ph.api;
    if (argc != 0) {
        api->reply_printf(reply, "usage: profiler status");
        return 1;
    }
    api->reply_printf(reply, "{\"enabled\":%s,\"listen\":", p->http ? "true" : "false");
    if (p->http != NULL)
        api->reply_printf(reply, "\"%s:%d\"", p->settings.host, prof_http_port(p->http));
    else
        api->reply_printf(reply, "null");
    prof_sampler_choice sampler = prof_cpu_sampler(p->cpu);
    api->reply_printf(reply, ",\"cpu_sampler\":\"%s\",\"cpu_sampler_kernel\":%s",
                      prof_sampler_mode_name(sampler.mode),
                      prof_sampler_mode_is_perf(sampler.mode) && sampler.with_kernel ? "true"
                                                                            : "false");
    api->reply_printf(reply, ",\"mutex_fraction\":%ld,\"block_rate\":%lld",
                      prof_contention_fraction(p->events->contention),
                      (long long)prof_contention_rate(p->events->contention));
    pf_strbuf push = {0};
    prof_push_status_json(p->push, &push);
    api->reply_printf(reply, ",\"push\":%s", push.failed || !push.s ? "null" : push.s);
    pf_strbuf flight = {0};
    prof_flight_status_json(p->flight, &flight);
    api->reply_printf(reply, "%s", flight.failed || !flight.s ? "" : flight.s);
    free(flight.s);
    char labels[256];
    prof_context_status_json(labels, sizeof labels);
    api->reply_printf(reply, "%s", labels);
    free(push.s);
    api->reply_printf(reply, ",\"tls\":{\"enabled\":%s,\"client_ca\":%s}",
                      prof_settings_tls(&p->settings) ? "true" : "false",
                      p->settings.tls_client_ca[0] ? "true" : "false");
    api->reply_printf(reply, ",\"configured\":{\"enabled\":%s,\"host\":\"%s\",\"port\":%d},"
                      "\"version\":\"%s\"}",
                      p->settings.enabled ? "true" : "false", p->settings.host,
                      p->settings.port, PROF_VERSION);
    return 0;
}

static int cmd_enable(void *state, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    profiler *p = state;
    const tk_host_api *api = p->ph.api;
    char err[512];
    if (argc != 0) {
        api->reply_printf(reply, "usage: profiler enable");
        return 1;
    }
    if (p->http == NULL && profiler_serve_on(p, err, sizeof err) != 0) {
        api->reply_printf(reply, "profiler enable failed: %s", err);
        return 1;
    }
    if (!prof_push_running(p->push))
        profiler_push_on(p);
    profiler_flight_apply(p);
    api->reply_printf(reply, "enabled, listening on %s:%d", p->settings.host,
                      prof_http_port(p->http));
    return 0;
}

static int cmd_disable(void *state, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    profiler *p = state;
    const tk_host_api *api = p->ph.api;
    if (argc != 0) {
        api->reply_printf(reply, "usage: profiler disable");
        return 1;
    }
    if (p->http == NULL) {
        api->reply_printf(reply, "already disabled");
        return 0;
    }
    double t0 = pf_mono_ms();
    profiler_serve_off(p);
    prof_push_stop(p->push);
    profiler_flight_apply(p);
    api->reply_printf(reply, "disabled in %.1f ms", pf_mono_ms() - t0);
    return 0;
}

/* ---- profiler set KEY VALUE: the contention rates until the next reload ---- */

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
    int rc = prof_events_set_contention(p->events, fraction ? (long)v : prof_contention_fraction(c),
                                        fraction ? prof_contention_rate(c) : v);
    api->reply_printf(reply, "profiler.%s = %lld (was %lld)", k->name, (long long)v, was);
    describe(p->events, reply, api);
    if (rc != 0 && prof_contention_on(c))
        api->reply_printf(reply, "\nbut no events arrive: %s", rc == ENOTSUP
                          ? "this host does not report them (no set_event_hooks)" : strerror(rc));
    return rc != 0 && prof_contention_on(c) ? 1 : 0;
}

/* ---- registration ---- */

int profiler_admin_register(profiler *p)
{
    static const struct {
        const char *name, *help;
        tk_command_fn fn;
    } commands[] = {
        {"status", "profiler status  state and listen address (JSON)", cmd_status},
        {"enable", "profiler enable  start serving with the current config", cmd_enable},
        {"disable", "profiler disable stop serving and close the port", cmd_disable},
        {"set", "profiler set mutex_fraction|block_rate N  change the mutex or block "
                "sampling now", cmd_set},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof commands / sizeof *commands; i++)
        rc = p->ph.api->register_command(p->ph.host, "profiler", commands[i].name,
                                         commands[i].help, commands[i].fn);
    return rc;
}
