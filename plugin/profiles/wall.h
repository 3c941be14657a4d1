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
    struct prof_flight *flight; /* ?past=N (flight.h) */
} prof_wall_endpoint;

/* The handler; req->ctx is a prof_wall_endpoint. */
void prof_wall_handle(prof_request *req);

/* Adds the process's mappings, the window's comments and times to r's
 * profile. 0, or -1 with err (the profile is still the caller's). */
int prof_wall_finish(const prof_wall_result *r, char *err, size_t errlen);

/* Wall windows for push, as CPU windows (capture/cpu.h): one more reader
 * of the wall sampler, not counted against max_wall_readers. Open starts a
 * window; next ends it, starts the next at once and returns the ended
 * one's profile with mappings, comments and times (caller frees; NULL with
 * err); close ends the last. NULL is fine for close. */
typedef struct prof_wall_window prof_wall_window;
prof_wall_window *prof_wall_window_open(prof_wall *w, int hz, char *err, size_t errlen);
pf_profile *prof_wall_window_next(prof_wall_window *ww, int64_t *from_ns, int64_t *until_ns,
                                  char *err, size_t errlen);
void prof_wall_window_close(prof_wall_window *ww);

/* takhin_profiler_wall_* for /metrics: signals sent against thread-ticks
 * counted without one. */
void prof_wall_render_metrics(prof_wall *w, pf_strbuf *out);

#endif
