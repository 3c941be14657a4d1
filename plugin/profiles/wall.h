/*
 * plugin/profiles/wall.h - /debug/pprof/wall?seconds=N: a wall-clock
 * profile of every thread, running or waiting, from a window of the wall
 * sampler (capture/wall.h), as symbolized profile.proto: samples/count and
 * wall/nanoseconds (period: the real mean interval between ticks), labels
 * thread, thread_id and state ("running", or the system call it waits in).
 */
#ifndef TAKHIN_PLUGIN_PROFILES_WALL_H
#define TAKHIN_PLUGIN_PROFILES_WALL_H

#include "capture/wall.h"
#include "core/settings.h"
#include "http/http.h"

#include "pf_util.h"

/* The endpoint's context. */
typedef struct prof_wall_endpoint {
    prof_wall *wall;
    pf_symbolizer *sym;
} prof_wall_endpoint;

/* The handler; req->ctx is a prof_wall_endpoint. */
void prof_wall_handle(prof_request *req);

/* Adds the process's mappings, the window's comments and times to r's
 * profile. 0, or -1 with err (the profile is still the caller's). */
int prof_wall_finish(const prof_wall_result *r, char *err, size_t errlen);

/* takhin_profiler_wall_* for /metrics: signals sent against thread-ticks
 * counted without one. */
void prof_wall_render_metrics(prof_wall *w, pf_strbuf *out);

#endif
