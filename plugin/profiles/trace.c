/* /debug/pprof/trace: see profiles/trace.h. */
#include "profiles/trace.h"

#include "capture/trace.h"
#include "http/conn.h"
#include "http/query.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define TRACE_DEFAULT_SECONDS 1.0

static int count_only(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

static int to_client(void *ctx, const void *data, size_t len)
{
    return mg_write(ctx, data, len) == (int)len ? 0 : -1;
}

/* Two passes over the buffers: the length first, then the body, so the
 * answer has a Content-Length and no copy of the JSON is kept. */
static void send_trace(prof_request *req, const prof_trace *t)
{
    const prof_trace_endpoint *ep = req->ctx;
    size_t len = 0, sent = 0;
    const char *name = ep->process_name;
    int pid = (int)getpid();
    if (prof_trace_write(t, name, pid, count_only, NULL, &len) != 0) {
        prof_http_error(req->conn, 500, "out of memory writing the trace");
        return;
    }
    mg_printf(req->conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\nContent-Disposition: attachment; filename=\"trace.json\"\r\n"
              "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
              "Connection: close\r\n\r\n", len);
    if (prof_trace_write(t, name, pid, to_client, req->conn, &sent) != 0 || sent != len)
        prof_log(ep->ph, TK_LOG_WARN, "trace: the client took %zu of %zu bytes", sent, len);
    prof_http_record(req->conn, 200, sent);
}

/* Records for `seconds` holding the slot; answers every outcome. */
static void trace_and_answer(prof_request *req, prof_events *ev, double seconds)
{
    int rc = prof_events_trace_start(ev);
    if (rc != 0) {
        prof_events_trace_end(ev);
        prof_http_error(req->conn, rc == ENOTSUP ? 501 : 503, "Could not enable tracing: %s",
                        rc == ENOTSUP ? "this host does not report events (its "
                        "tk_host_api has no set_event_hooks)" : strerror(rc));
        return;
    }
    prof_wait_end waited = prof_conn_wait(req, seconds);
    prof_events_trace_end(ev); /* returns when no hook still writes a buffer */
    if (waited == PROF_WAIT_DONE)
        send_trace(req, ev->trace);
    else if (waited == PROF_WAIT_STOPPING)
        prof_http_error(req->conn, 503, "trace aborted: the profiler was disabled while it "
                        "ran (profiler disable or config reload)");
    /* PROF_WAIT_CLIENT_GONE: nobody to answer. */
}

void prof_trace_handle(prof_request *req)
{
    const prof_trace_endpoint *ep = req->ctx;
    const prof_settings *s = req->settings;
    double seconds;
    long ends_in = 0;
    char err[256];
    if (prof_query_seconds_frac(req->info->query_string, TRACE_DEFAULT_SECONDS, s->max_duration,
                                &seconds, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    if (!prof_trace_begin(ep->events->trace, seconds, &ends_in)) {
        prof_http_error(req->conn, 409, "Could not enable tracing: a trace is already running; "
                        "it ends in about %ld s, retry then", ends_in);
        return;
    }
    trace_and_answer(req, ep->events, seconds);
    prof_trace_discard(ep->events->trace);
}
