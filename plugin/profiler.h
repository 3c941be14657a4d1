/*
 * plugin/profiler.h - the top of the plugin: its state from init to fini,
 * the lifecycle the host drives (profiler.c) and the admin commands
 * (admin.c). Prefix profiler_. Only this layer sees the whole state; each
 * endpoint gets its own context (http/router.h).
 *
 * Threads: lifecycle callbacks and admin commands run one at a time on a
 * host thread; HTTP handlers run on civetweb's workers and read only their
 * request's own copy of the settings (prof_request.settings), which a
 * reload replaces for the next request through prof_http_update.
 */
#ifndef TAKHIN_PLUGIN_PROFILER_H
#define TAKHIN_PLUGIN_PROFILER_H

#include "capture/cpu.h"
#include "capture/events.h"
#include "core/push_settings.h"
#include "core/settings.h"
#include "http/http.h"
#include "profiles/cpu.h"
#include "profiles/flight.h"
#include "profiles/named.h"
#include "profiles/push.h"
#include "profiles/trace.h"
#include "profiles/wall.h"

#define PROFILER_ENDPOINTS 13

/* The plugin's state. Ownership: all of it, from init to fini. */
typedef struct profiler {
    prof_host ph;
    const tk_process_info *info;
    prof_settings settings;  /* the config in force */
    prof_http *http;         /* NULL while disabled */
    prof_cpu *cpu;           /* the CPU profiles' slot */
    prof_wall *wall;         /* the wall profiles' sampler */
    pf_symbolizer *sym;      /* shared by every profile; thread-safe */
    prof_metrics *metrics;   /* from init to fini, across restarts */
    prof_events *events;     /* event hooks, contention tables, trace */
    bool started;            /* between the host's start and stop */
    prof_push_settings push_settings; /* profiler.push.* in force */
    prof_push *push;         /* from init to fini; pushes while serving */
    prof_flight *flight;     /* from init to fini; records while serving */
    /* The endpoints, each with its own context. */
    prof_cpu_endpoint cpu_endpoint;
    prof_trace_endpoint trace_endpoint;
    prof_wall_endpoint wall_endpoint;
    prof_named heap, allocs, mutex, block, goroutine, threads;
    prof_endpoint endpoints[PROFILER_ENDPOINTS];
    const char *endpoint_names[PROFILER_ENDPOINTS]; /* as the metrics label them */
} profiler;

/* ---- the lifecycle, for the admin commands (profiler.c) ---- */

/* Starts serving with p->settings. 0, or -1 with err. */
int profiler_serve_on(profiler *p, char *err, size_t errlen);
/* Stops serving; returns how long it took in ms. */
double profiler_serve_off(profiler *p);
/* Starts pushing if profiler.push.url is set (errors are logged). */
void profiler_push_on(profiler *p);
/* The flight recorder follows p->settings while serving, and stops and
 * frees its history when not (errors are logged). */
void profiler_flight_apply(profiler *p);

/* ---- the admin commands (admin.c) ---- */

/* Registers "profiler status|enable|disable|set" (during init only). 0,
 * or the host's errno. */
int profiler_admin_register(profiler *p);

#endif
