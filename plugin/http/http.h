/*
 * plugin/http/http.h - the profiler's HTTP server on civetweb: one
 * dispatcher for every path (routed by router.h: only the endpoints in the
 * table exist), Go-compatible error responses, and a fast stop.
 */
#ifndef TAKHIN_PLUGIN_HTTP_H
#define TAKHIN_PLUGIN_HTTP_H

#include "core/settings.h"
#include "http/metrics.h"
#include "http/router.h"

#include <civetweb.h>

typedef struct prof_http prof_http;

/* One request as a handler sees it; valid during the handler call. */
typedef struct prof_request {
    struct mg_connection *conn;
    const struct mg_request_info *info;
    prof_http *http;
    void *ctx; /* the endpoint's own context (prof_endpoint.ctx) */
    /* The settings in force when the request arrived: the request's own
     * copy, unchanged by a reload while it runs (see prof_http_update). */
    const prof_settings *settings;
    const char *link; /* the front's end of the connection (conn.h) */
} prof_request;

/* What a server is started with. Copied by prof_http_start; the pointers
 * must outlive the server. */
typedef struct prof_http_config {
    /* The listener (host, port and the civetweb options: max_requests,
     * max_queued, max_header_bytes, request_timeout_ms) comes from these
     * for the server's life; the rest is only the first version of what
     * requests read, which prof_http_update replaces. */
    prof_settings settings;
    const prof_endpoint *endpoints;
    size_t count;
    const prof_host *ph;
    prof_metrics *metrics;         /* counted into, served at /metrics */
    /* Fills the figures /metrics shows of other parts; may be NULL. */
    void (*sample_metrics)(void *arg, prof_metrics_sampled *out);
    void *sample_metrics_arg;
} prof_http_config;

/* Starts serving on settings.host:settings.port. NULL with err (e.g. port
 * in use). */
prof_http *prof_http_start(const prof_http_config *cfg, char *err, size_t errlen);
/* The port really bound (differs from the setting when it was 0). */
int prof_http_port(const prof_http *http);
/* Publishes new settings: every request that arrives from now on reads
 * them (auth.token, max_duration, cpu_hz, ...); requests in flight keep
 * the copy they started with. The listener's own keys are not changed
 * (see prof_settings_listener_changes): a new listener takes them. Safe
 * while requests run. */
void prof_http_update(prof_http *http, const prof_settings *settings);
const prof_endpoint *prof_http_endpoints(const prof_http *http, size_t *count);
/* True once a stop began: long handlers poll it and end early. */
bool prof_http_stopping(const prof_http *http);
/* An fd that turns readable (POLLIN) once a stop began, for handlers
 * that wait in poll(2); -1 when none could be made. Owned by http. */
int prof_http_stop_fd(const prof_http *http);
/* Ends in-flight requests, closes the port, frees. NULL is fine. */
void prof_http_stop(prof_http *http);

/* Responses. Every one carries X-Content-Type-Options: nosniff and
 * Connection: close. */
void prof_http_send(struct mg_connection *conn, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len);
/* For a response written directly (mg_printf, mg_write: a streamed body):
 * records its status and body size for the access log and metrics. */
void prof_http_record(struct mg_connection *conn, int status, size_t bytes);
/* A text/plain error with X-Go-Pprof: 1, which makes pprof print it. */
void prof_http_error(struct mg_connection *conn, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with extra header lines ("Allow: GET\r\n"). */
void prof_http_error_headers(struct mg_connection *conn, int status, const char *extra,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* What was answered to one request, for the access log and metrics; the
 * dispatcher attaches it to the connection, responses fill it in. */
typedef struct prof_exchange {
    int status;
    uint64_t bytes;
} prof_exchange;

#endif
