/*
 * plugin/profiles/trace.h - /debug/pprof/trace?seconds=F (default 1): runs
 * one trace (capture/trace.h) through the event hooks and answers with its
 * Chrome Trace Event JSON, Content-Length first (two passes, no copy).
 */
#ifndef TAKHIN_PLUGIN_PROFILES_TRACE_H
#define TAKHIN_PLUGIN_PROFILES_TRACE_H

#include "capture/events.h"
#include "http/http.h"

/* The endpoint's context. */
typedef struct prof_trace_endpoint {
    prof_events *events;
    const char *process_name; /* the trace's process name */
    const prof_host *ph;
} prof_trace_endpoint;

/* The handler; req->ctx is a prof_trace_endpoint. */
void prof_trace_handle(prof_request *req);

#endif
