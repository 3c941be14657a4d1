/*
 * profiler.so - Go-style /debug/pprof/ profiling for a Takhin host.
 * The entry point, the lifecycle the host drives and the endpoint table;
 * the admin commands are in admin.c.
 */
#include "profiler.h"

#include "capture/sampler.h"
#include "capture/threads.h"
#include "capture/trace.h"
#include "core/context.h"
#include "core/procstat.h"
#include "profiles/buildid.h"
#include "profiles/contention.h"
#include "capture/heap.h"
#include "profiles/heap.h"
#include "profiles/pages.h"
#include "profiles/symbol.h"
#include "profiles/goroutine.h"

#include "pf_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The endpoint table, sorted by name as the index lists them, each entry
 * with its handler's own context. */
static void build_endpoints(profiler *p)
{
    p->cpu_endpoint = (prof_cpu_endpoint){.cpu = p->cpu, .sym = p->sym, .ph = &p->ph,
                                          .flight = p->flight};
    p->trace_endpoint = (prof_trace_endpoint){
        .events = p->events,
        .process_name = p->info && p->info->host_name ? p->info->host_name : "takhin",
        .ph = &p->ph,
    };
    p->wall_endpoint = (prof_wall_endpoint){.wall = p->wall, .sym = p->sym,
                                            .flight = p->flight};
    p->heap = (prof_named){.kind = &prof_heap_kind, .sym = p->sym};
    p->allocs = (prof_named){.kind = &prof_heap_allocs_kind, .sym = p->sym};
    p->mutex = (prof_named){.kind = &prof_mutex_kind, .source = p->events->contention,
                            .sym = p->sym};
    p->block = (prof_named){.kind = &prof_block_kind, .source = p->events->contention,
                            .sym = p->sym};
    p->goroutine = (prof_named){.kind = &prof_threads_goroutine_kind, .sym = p->sym};
    p->threads = (prof_named){.kind = &prof_threads_alias_kind, .sym = p->sym};
    const prof_endpoint table[PROFILER_ENDPOINTS] = {
        {.name = "", .handler = prof_page_index, .description = "this page"},
        {.name = "allocs", .handler = prof_named_handle, .ctx = &p->allocs,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "a sampling of all memory allocations since the profiler was loaded "
                        "(profiler.heap_sample_bytes); ?seconds=N for a delta"},
        {.name = PROF_BUILDID_NAME, .prefix = true, .handler = prof_buildid_handle,
         .deep = true,
         .description = "<build ID>/executable and /debuginfo: the files mapped in this "
                        "process, for debuginfod clients (profiler.serve_binaries)"},
        {.name = "block", .handler = prof_named_handle, .ctx = &p->block,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "where threads waited on mutexes and conditions "
                        "(profiler.block_rate); ?seconds=N"},
        {.name = "cmdline", .handler = prof_page_cmdline, .ctx = (void *)p->info,
         .description = "the server's command line, NUL-separated"},
        {.name = "goroutine", .handler = prof_named_handle, .ctx = &p->goroutine,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "stacks of all threads (taken with a signal); debug=2 for a full "
                        "dump with states; ?seconds=N for a delta"},
        {.name = "heap", .handler = prof_named_handle, .ctx = &p->heap,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "a sampling of the memory allocations of live objects; ?seconds=N "
                        "for a delta"},
        {.name = "mutex", .handler = prof_named_handle, .ctx = &p->mutex,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "holders of contended mutexes (profiler.mutex_fraction); ?seconds=N "
                        "for a delta"},
        {.name = "profile", .handler = prof_cpu_handle, .ctx = &p->cpu_endpoint,
         .deep = true, .profile = true,
         .description = "CPU profile of the whole process; ?seconds=N (default 30), then go "
                        "tool pprof; ?past=N: the last N seconds at once "
                        "(profiler.flight_recorder.seconds)"},
        {.name = "symbol", .handler = prof_symbol_handle, .ctx = p->sym, .post = true,
         .deep = true,
         .description = "function names of addresses: POST 0xA+0xB (what pprof asks)"},
        {.name = "threads", .handler = prof_named_handle, .ctx = &p->threads,
         .count = prof_named_count, .deep = true, .profile = true,
         .description = "the same as goroutine, under its C name"},
        {.name = "trace", .handler = prof_trace_handle, .ctx = &p->trace_endpoint,
         .deep = true, .profile = true,
         .description = "what each thread did, Chrome trace JSON for ui.perfetto.dev; "
                        "?seconds=F (default 1)"},
        {.name = "wall", .handler = prof_wall_handle, .ctx = &p->wall_endpoint,
         .deep = true, .profile = true,
         .description = "wall-clock profile of every thread, running or waiting, with the "
                        "state (running or the system call); ?seconds=N (default 30, "
                        "profiler.wall_hz); ?past=N (profiler.flight_recorder.wall)"},
    };
    for (size_t i = 0; i < PROFILER_ENDPOINTS; i++) {
        p->endpoints[i] = table[i];
        p->endpoint_names[i] = table[i].name;
    }
}

/* ---- serving on and off ---- */

/* /metrics' figures that live in other parts. */
static void *dl_lookup(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

static void render_more_metrics(void *arg, pf_strbuf *out)
{
    profiler *p = arg;
    prof_push_render_metrics(p->push, out);
    prof_context_render_metrics(out);
    prof_wall_render_metrics(p->wall, out);
    prof_flight_render_metrics(p->flight, out);
}

static void sample_metrics(void *arg, prof_metrics_sampled *out)
{
    profiler *p = arg;
    pf_symbolizer_stats st;
    pf_symbolizer_get_stats(p->sym, &st);
    out->trace_dropped_events = prof_trace_dropped(p->events->trace);
    out->symbol_modules = st.modules;
    out->symbol_cache_entries = st.entries;
    out->symbol_cache_bytes = st.cache_bytes;
    prof_procstat_read(&out->process);
    prof_tcmalloc_read(dl_lookup, &out->tcmalloc);
    prof_sampler_choice c = prof_cpu_sampler(p->cpu);
    prof_sampler_totals t;
    prof_sampler_totals_get(&t);
    out->cpu = (prof_cpu_figures){
        .sampler = prof_sampler_mode_name(c.mode),
        .kernel = prof_sampler_mode_is_perf(c.mode) && c.with_kernel,
        .samples = t.signals,
        .lost = t.lost,
        .handler_ns = t.handler_ns,
        .last_achieved_hz = prof_cpu_last_achieved_hz(p->cpu),
    };
    out->render_more = render_more_metrics;
    out->render_more_arg = p;
}

/* Push runs while the profiler serves and profiler.push.url is set. A
 * push that cannot start is logged and shown by status; serving goes on. */
void profiler_push_on(profiler *p)
{
    char err[512];
    if (p->push_settings.on && prof_push_start(p->push, &p->push_settings, err, sizeof err))
        prof_log(&p->ph, TK_LOG_ERROR, "%s", err);
}

void profiler_flight_apply(profiler *p)
{
    prof_flight_set(p->flight, &p->settings, p->http != NULL);
}

/* Resolves profiler.cpu_sampler to what this process can have, for the
 * next CPU profiles. 0, or -1 with err: that mode cannot be had. */
static int apply_sampler(profiler *p, const prof_settings *s, char *err, size_t errlen)
{
    prof_sampler_choice choice;
    if (prof_sampler_resolve(s->cpu_sampler, &choice, err, errlen) != 0)
        return -1;
    prof_sampler_choice was = prof_cpu_sampler(p->cpu);
    if (was.mode != choice.mode || was.with_kernel != choice.with_kernel)
        prof_log(&p->ph, choice.why[0] ? TK_LOG_WARN : TK_LOG_INFO,
                 "CPU sampler: %s%s%s%s", prof_sampler_mode_name(choice.mode),
                 !prof_sampler_mode_is_perf(choice.mode) ? ""
                 : choice.with_kernel ? " (user and kernel time)" : " (user time only)",
                 choice.why[0] ? "; a better one was refused: " : "", choice.why);
    prof_cpu_set_sampler(p->cpu, &choice);
    return 0;
}

/* Starts a server with settings s. NULL with err. */
static struct prof_http *listen_on(profiler *p, const prof_settings *s, char *err,
                                   size_t errlen)
{
    if (prof_settings_check(s, true, err, errlen) != 0 || apply_sampler(p, s, err, errlen) != 0)
        return NULL;
    prof_http_config cfg = {
        .settings = *s,
        .endpoints = p->endpoints,
        .count = PROFILER_ENDPOINTS,
        .ph = &p->ph,
        .metrics = p->metrics,
        .sample_metrics = sample_metrics,
        .sample_metrics_arg = p,
    };
    struct prof_http *http = prof_http_start(&cfg, err, errlen);
    if (http == NULL)
        return NULL;
    bool tls = prof_settings_tls(s), mtls = tls && s->tls_client_ca[0];
    prof_log(&p->ph, TK_LOG_INFO, "serving /debug/pprof/ on %s://%s:%d%s%s%s",
             tls ? "https" : "http", s->host, prof_http_port(http), PROF_HTTP_PREFIX,
             s->token[0] ? " (token required)" : "",
             mtls ? " (client certificate required)" : "");
    if (!prof_auth_is_loopback(s->host) && !s->token[0] && !mtls)
        prof_log(&p->ph, TK_LOG_WARN, "profiles are served WITHOUT authentication on %s "
                 "(profiler.allow_unauthenticated_remote): anyone who reaches this port can "
                 "read this process's memory layout and code", s->host);
    return http;
}

int profiler_serve_on(profiler *p, char *err, size_t errlen)
{
    p->http = listen_on(p, &p->settings, err, errlen);
    return p->http != NULL ? 0 : -1;
}

double profiler_serve_off(profiler *p)
{
    double t0 = pf_mono_ms();
    prof_http_stop(p->http);
    p->http = NULL;
    double took = pf_mono_ms() - t0;
    prof_log(&p->ph, TK_LOG_INFO, "stopped serving (%.1f ms)", took);
    return took;
}

/* Moves serving to a listener made from `next` (see plugin_reconfigure).
 * A new address is bound before the old listener closes, so a failure
 * leaves the old one serving. The same port must be freed first; if the
 * new listener then fails, the old address is bound again. 0, or -1 with
 * err saying what failed and what serves now; p->settings is unchanged. */
static int move_listener(profiler *p, const prof_settings *next, char *err, size_t errlen)
{
    int was_port = prof_http_port(p->http);
    char why[512];
    if (next->port == 0 || next->port != was_port) {
        struct prof_http *fresh = listen_on(p, next, why, sizeof why);
        if (fresh == NULL) {
            snprintf(err, errlen, "%s; the profiler keeps its previous settings and is still "
                     "serving on %s:%d", why, p->settings.host, was_port);
            return -1;
        }
        profiler_serve_off(p);
        p->http = fresh;
        return 0;
    }
    profiler_serve_off(p); /* it holds the port the new listener needs */
    if ((p->http = listen_on(p, next, why, sizeof why)) != NULL)
        return 0;
    prof_settings back = p->settings;
    back.port = was_port; /* the same address, also when port 0 picked it */
    char again[512];
    if ((p->http = listen_on(p, &back, again, sizeof again)) != NULL)
        snprintf(err, errlen, "%s; the profiler keeps its previous settings and is serving "
                 "again on %s:%d (requests in flight were ended)", why, back.host, was_port);
    else
        snprintf(err, errlen, "%s; and it could not listen again on %s:%d (%s): the profiler "
                 "is now off (profiler enable retries with the previous settings)", why,
                 back.host, was_port, again);
    return -1;
}

/* ---- lifecycle ---- */

/* Keeps a library mapped after dlclose. */
static int pin(const char *path, char *err, size_t errlen)
{
    if (dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL)
        return 0;
    const char *why = dlerror();
    snprintf(err, errlen, "cannot pin %s: %s", path, why ? why : "it is not loaded");
    return -1;
}

/* Code of ours can still be reached after fini: gperftools' SIGPROF
 * handler (libprofiler), a malloc hook or a signal handler a thread had
 * just entered (profiler.so). Both stay mapped after the host's dlclose,
 * so a late entry runs valid code instead of killing the host; fini has
 * released everything else. */
static int pin_libraries(char *err, size_t errlen)
{
    Dl_info self;
    if (dladdr((void *)pin_libraries, &self) == 0 || self.dli_fname == NULL) {
        snprintf(err, errlen, "cannot find profiler.so's own path (dladdr)");
        return -1;
    }
    return pin("libprofiler.so.0", err, errlen) == 0 ? pin(self.dli_fname, err, errlen) : -1;
}

/* profiler.labels.*: a hook the host cannot install is logged, not fatal. */
static void apply_labels(profiler *p, const prof_settings *s)
{
    int rc = prof_context_configure(s->label_max_series, s->label_cpu_metrics);
    if (rc != 0)
        prof_log(&p->ph, TK_LOG_WARN, "labels.cpu_metrics: cannot install the context hook: %s",
                 rc == ENOTSUP ? prof_context_why() : strerror(rc));
}

/* Makes the parts that live from init to fini. 0, or -1 with err. */
static int create_parts(profiler *p, char *err, size_t errlen)
{
    pf_err perr = {0};
    int rc = profiler_admin_register(p);
    if (rc != 0) {
        snprintf(err, errlen, "cannot register admin commands: %s", strerror(rc));
        return -1;
    }
    if ((p->sym = pf_symbolizer_new(&perr)) == NULL ||
        pf_symbolizer_set_debug_dirs(p->sym, p->settings.debug_dirs) != 0) {
        snprintf(err, errlen, "cannot start the symbolizer: %s",
                 p->sym == NULL ? perr.msg : "out of memory");
        return -1;
    }
    if ((p->wall = prof_wall_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((p->cpu = prof_cpu_new(err, errlen)) == NULL ||
        (p->events = prof_events_new(&p->ph, p->settings.mutex_fraction,
                                     p->settings.block_rate, err, errlen)) == NULL)
        return -1;
    if ((p->flight = prof_flight_new(&p->ph, p->cpu, p->wall)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    build_endpoints(p);
    p->metrics = prof_metrics_new(p->endpoint_names, PROFILER_ENDPOINTS);
    prof_push_sources sources = {&p->ph, p->sym, p->cpu, p->events->contention, p->wall};
    if (p->metrics == NULL || (p->push = prof_push_new(&sources)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    prof_push_set_cpu_hz(p->push, p->settings.cpu_hz);
    prof_push_set_wall_hz(p->push, p->settings.wall_hz);
    return 0;
}

static void free_parts(profiler *p)
{
    prof_push_free(p->push); /* its threads use every part below */
    prof_flight_free(p->flight); /* its thread and windows, before cpu and wall */
    prof_events_free(p->events); /* hooks out before what they use is freed */
    prof_cpu_free(p->cpu);
    prof_wall_free(p->wall); /* no profile runs: serving and push stopped */
    prof_metrics_free(p->metrics);
    pf_symbolizer_free(p->sym);
    free(p);
}

static int plugin_init(const tk_host_api *api, tk_host *host, const tk_config *cfg,
                       void **state, char *err, size_t errlen)
{
    if (pin_libraries(err, errlen) != 0)
        return -1;
    profiler *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->ph = (prof_host){api, host};
    p->info = api->process_info(host);
    if (prof_settings_read(api, cfg, &p->settings, err, errlen) != 0 ||
        prof_push_settings_read(api, cfg, &p->push_settings, err, errlen) != 0 ||
        prof_settings_check(&p->settings, p->settings.enabled, err, errlen) != 0 ||
        create_parts(p, err, errlen) != 0) {
        free_parts(p);
        return -1;
    }
    mg_init_library(0);
    prof_context_init(api, host);
    apply_labels(p, &p->settings);
    prof_heap_init(&p->ph, p->settings.heap_sample_bytes); /* never fails */
    char terr[256]; /* without it, goroutine/threads answer 501 with the reason */
    if (prof_threads_init(terr, sizeof terr) != 0)
        prof_log(&p->ph, TK_LOG_WARN, "thread stacks unavailable: %s", terr);
    if (prof_sampler_init(terr, sizeof terr) != 0) /* then only gperftools samples */
        prof_log(&p->ph, TK_LOG_WARN, "CPU sampler unavailable: %s", terr);
    *state = p;
    return 0;
}

static int plugin_start(void *state, char *err, size_t errlen)
{
    profiler *p = state;
    p->started = true;
    if (!p->settings.enabled)
        return 0;
    if (profiler_serve_on(p, err, errlen) != 0)
        return -1;
    profiler_push_on(p);
    profiler_flight_apply(p);
    return 0;
}

static void plugin_stop(void *state)
{
    profiler *p = state;
    if (p->http != NULL)
        profiler_serve_off(p);
    prof_push_stop(p->push);
    profiler_flight_apply(p);
    p->started = false;
}

/* Adds a line to the reload's answer (host API 1.1). */
#define reload_note(p, ...) \
    do { \
        if (TK_API_HAS((p)->ph.api, reload_note)) \
            (p)->ph.api->reload_note((p)->ph.host, __VA_ARGS__); \
    } while (0)

/* Applies a new config, all of it or nothing: serving follows
 * profiler.enabled; a change of a listener key moves serving to a new
 * listener (move_listener); every other key applies to the next request
 * (prof_http_update), and the contention rates and heap sampling at once.
 * The reload's answer says which was which. */
static int plugin_reconfigure(void *state, const tk_config *cfg, char *err, size_t errlen)
{
    profiler *p = state;
    prof_settings next;
    prof_push_settings push_next;
    if (prof_settings_read(p->ph.api, cfg, &next, err, errlen) != 0 ||
        prof_push_settings_read(p->ph.api, cfg, &push_next, err, errlen) != 0)
        return -1;
    char live[256], listener[256], sampling[128] = "", where[160] = "", pushed[256];
    prof_push_settings_changes(&p->push_settings, &push_next, pushed, sizeof pushed);
    prof_settings_live_changes(&p->settings, &next, live, sizeof live);
    prof_settings_listener_changes(&p->settings, &next, listener, sizeof listener);
    /* Against the rates in force: profiler set may have changed them. */
    snprintf(sampling, sizeof sampling, "%s%s%s",
             p->settings.heap_sample_bytes != next.heap_sample_bytes ? ", heap_sample_bytes" : "",
             prof_contention_fraction(p->events->contention) != next.mutex_fraction
                 ? ", mutex_fraction" : "",
             prof_contention_rate(p->events->contention) != next.block_rate ? ", block_rate" : "");
    bool serve = p->started && next.enabled, stopped = false, started = false;
    if (serve && p->http != NULL && apply_sampler(p, &next, err, errlen) != 0)
        return -1;
    if (p->http != NULL && !serve) {
        profiler_serve_off(p);
        stopped = true;
    } else if (p->http == NULL && serve) {
        char why[512];
        if ((p->http = listen_on(p, &next, why, sizeof why)) == NULL) {
            snprintf(err, errlen, "%s; the profiler keeps its previous settings and stays off",
                     why);
            return -1;
        }
        started = true;
    } else if (p->http != NULL && listener[0] != '\0') {
        if (move_listener(p, &next, err, errlen) != 0)
            return -1;
    }
    if (p->http != NULL) {
        prof_http_update(p->http, &next);
        snprintf(where, sizeof where, "%s:%d", next.host, prof_http_port(p->http));
    }
    if (pf_symbolizer_set_debug_dirs(p->sym, next.debug_dirs) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->settings = next;
    prof_events_set_contention(p->events, next.mutex_fraction, next.block_rate);
    prof_push_set_cpu_hz(p->push, next.cpu_hz);
    prof_push_set_wall_hz(p->push, next.wall_hz);
    prof_heap_reconfigure(next.heap_sample_bytes);
    apply_labels(p, &next);
    profiler_flight_apply(p);
    if (sampling[0] != '\0')
        reload_note(p, "applied at once: %s", sampling + 2);
    if (started)
        reload_note(p, "started serving (enabled: true): now serving on %s", where);
    else if (listener[0] != '\0' && p->http != NULL)
        reload_note(p, "restarted the listener for %s: now serving on %s (any requests "
                    "in flight on the old one were ended)", listener, where);
    if (p->http != NULL && !started && live[0] != '\0')
        reload_note(p, "applied at once: %s", live);
    if (stopped)
        reload_note(p, "stopped serving (enabled: false)");
    p->push_settings = push_next;
    if (p->http == NULL && prof_push_running(p->push)) {
        prof_push_stop(p->push);
        if (!stopped)
            reload_note(p, "stopped pushing (not serving)");
    } else if (p->http != NULL && (pushed[0] != '\0' || !prof_push_running(p->push))) {
        bool was = prof_push_running(p->push);
        prof_push_stop(p->push);
        profiler_push_on(p);
        if (pushed[0] != '\0' && push_next.on)
            reload_note(p, "%s push with %s: now pushing to %s", was ? "restarted" : "started",
                        pushed, push_next.url);
        else if (pushed[0] != '\0')
            reload_note(p, "stopped pushing (push.url unset)");
    } else if (pushed[0] != '\0') {
        reload_note(p, "not serving; stored for the next profiler enable: %s", pushed);
    }
    if (p->http == NULL && (listener[0] != '\0' || live[0] != '\0'))
        reload_note(p, "not serving; stored for the next profiler enable: %s%s%s", listener,
                    listener[0] && live[0] ? ", " : "", live);
    return 0;
}

/* May the host switch to cfg? Refuses what start or enable would refuse. */
static int plugin_check_config(void *state, const tk_config *cfg, char *err, size_t errlen)
{
    profiler *p = state;
    prof_settings next;
    prof_sampler_choice choice;
    prof_push_settings push_next;
    if (prof_settings_read(p->ph.api, cfg, &next, err, errlen) != 0 ||
        prof_push_settings_read(p->ph.api, cfg, &push_next, err, errlen) != 0 ||
        (next.enabled && prof_sampler_resolve(next.cpu_sampler, &choice, err, errlen) != 0))
        return -1;
    return prof_settings_check(&next, next.enabled, err, errlen);
}

static void plugin_fini(void *state)
{
    profiler *p = state;
    if (p->http != NULL)
        profiler_serve_off(p);
    prof_push_free(p->push); /* its threads joined before what they use goes */
    p->push = NULL;
    prof_flight_free(p->flight); /* its windows closed before the sampler goes */
    p->flight = NULL;
    prof_heap_fini(); /* malloc hooks out before dlclose */
    prof_threads_fini(); /* signal handlers out before dlclose */
    prof_sampler_fini();
    prof_context_fini(); /* the context hook out before dlclose */
    mg_exit_library();
    free_parts(p);
}

static const tk_plugin_def definition = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = 1, /* runs in a 1.1 host; 1.2's context members when present */
    .name = "profiler",
    .version = PROF_VERSION,
    .description = "Go-style /debug/pprof/ profiling over HTTP",
    .config_keys = prof_config_keys,
    .init = plugin_init,
    .start = plugin_start,
    .stop = plugin_stop,
    .check_config = plugin_check_config,
    .reconfigure = plugin_reconfigure,
    .fini = plugin_fini,
};

const tk_plugin_def *takhin_plugin_entry(void);
__attribute__((visibility("default"))) const tk_plugin_def *takhin_plugin_entry(void)
{
    return &definition;
}
