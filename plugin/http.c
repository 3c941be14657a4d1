/* The profiler's HTTP server: see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct prof_http {
    struct mg_context *mg;
    prof_settings settings;
    const prof_endpoint *endpoints;
    size_t count;
    void *ctx;
    const prof_host *ph;
    int port;
    _Atomic bool stopping;
    _Atomic bool stopped; /* mg_stop returned: the waker may quit */
    _Atomic int inflight; /* handlers running */
};

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void prof_http_send(struct mg_connection *conn, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len)
{
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %s\r\n"
              "Content-Length: %zu\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "Cache-Control: no-store\r\n"
              "Connection: close\r\n"
              "%s\r\n",
              status, status_text(status), content_type, len,
              extra_headers ? extra_headers : "");
    if (len > 0)
        mg_write(conn, body, len);
}

static void send_error_v(struct mg_connection *conn, int status, const char *extra,
                         const char *fmt, va_list ap)
{
    char body[2048];
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    char headers[512];
    snprintf(headers, sizeof headers, "X-Go-Pprof: 1\r\n%s", extra ? extra : "");
    prof_http_send(conn, status, "text/plain; charset=utf-8", headers, body, (size_t)n);
}

void prof_http_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(conn, status, NULL, fmt, ap);
    va_end(ap);
}

static void error_with_headers(struct mg_connection *conn, int status, const char *extra,
                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(conn, status, extra, fmt, ap);
    va_end(ap);
}

/* 404 that lists every valid path. */
static void not_found(prof_http *h, struct mg_connection *conn, const char *uri)
{
    char list[2048];
    size_t n = 0;
    for (size_t i = 0; i < h->count && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "  %s%s\n", PROF_HTTP_PREFIX,
                              h->endpoints[i].name);
    prof_http_error(conn, 404, "Unknown profile or path: %s\nValid paths:\n%s", uri, list);
}

static const prof_endpoint *find_endpoint(const prof_http *h, const char *name)
{
    for (size_t i = 0; i < h->count; i++)
        if (strcmp(h->endpoints[i].name, name) == 0)
            return &h->endpoints[i];
    return NULL;
}

/* civetweb's workers have about 100 KiB of stack (Debian builds it with
 * USE_STACK_SIZE); libdw's line-table reader alone needs more. Handlers
 * marked `deep` run on a thread with a normal 8 MiB stack. */
#define DEEP_STACK_BYTES (8u << 20)

typedef struct deep_call {
    prof_handler handler;
    prof_request *req;
} deep_call;

static void *deep_main(void *arg)
{
    deep_call *call = arg;
    call->handler(call->req);
    return NULL;
}

static void run_deep(prof_handler handler, prof_request *req)
{
    deep_call call = {handler, req};
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, DEEP_STACK_BYTES);
    int rc = pthread_create(&t, &attr, deep_main, &call);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        prof_http_error(req->conn, 503, "cannot start a thread for this request: %s; "
                        "retry later", strerror(rc));
        return;
    }
    pthread_join(t, NULL);
}

/* The one civetweb handler: every path of the server comes here. */
static int dispatch(struct mg_connection *conn, void *cbdata)
{
    prof_http *h = cbdata;
    const struct mg_request_info *info = mg_get_request_info(conn);
    const char *uri = info->local_uri ? info->local_uri : "";
    const char *name = NULL;
    if (strncmp(uri, PROF_HTTP_PREFIX, strlen(PROF_HTTP_PREFIX)) == 0)
        name = uri + strlen(PROF_HTTP_PREFIX);
    else if (strcmp(uri, "/debug/pprof") == 0)
        name = "";
    const prof_endpoint *ep = name ? find_endpoint(h, name) : NULL;
    if (ep == NULL) {
        not_found(h, conn, uri);
        return 404;
    }
    bool get = strcmp(info->request_method, "GET") == 0;
    bool post = strcmp(info->request_method, "POST") == 0;
    if (!get && !(post && ep->post)) {
        const char *allow = ep->post ? "Allow: GET, POST\r\n" : "Allow: GET\r\n";
        error_with_headers(conn, 405, allow, "Method %s not allowed on %s: use %s",
                           info->request_method, uri, ep->post ? "GET or POST" : "GET");
        return 405;
    }
    prof_request req = {conn, info, h, h->ctx};
    atomic_fetch_add(&h->inflight, 1);
    if (ep->deep)
        run_deep(ep->handler, &req);
    else
        ep->handler(&req);
    atomic_fetch_sub(&h->inflight, 1);
    return 200;
}

static int log_civetweb(const struct mg_connection *conn, const char *message)
{
    const struct mg_context *mg = mg_get_context(conn);
    prof_http *h = mg ? mg_get_user_data(mg) : NULL;
    if (h != NULL)
        prof_log(h->ph, TK_LOG_WARN, "http: %s", message);
    return 1;
}

static int start_civetweb(prof_http *h, char *err, size_t errlen)
{
    char listen[96];
    snprintf(listen, sizeof listen, "%s:%d", h->settings.host, h->settings.port);
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", "8",
        "enable_keep_alive", "no",
        "enable_directory_listing", "no",
        "request_timeout_ms", "30000",
        NULL,
    };
    static const struct mg_callbacks callbacks = {.log_message = log_civetweb};
    struct mg_init_data init = {&callbacks, h, options};
    char why[256] = "";
    unsigned code = 0;
    struct mg_error_data error = {&code, why, sizeof why};
    h->mg = mg_start2(&init, &error);
    if (h->mg == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s (is the port in use? set "
                 "profiler.port or TAKHIN_PROFILER_PORT, 0 picks a free port)",
                 listen, why[0] ? why : "civetweb failed to start");
        return -1;
    }
    struct mg_server_port ports[1];
    if (mg_get_server_ports(h->mg, 1, ports) != 1) {
        snprintf(err, errlen, "cannot read the bound port of %s", listen);
        return -1;
    }
    h->port = ports[0].port;
    mg_set_request_handler(h->mg, "/", dispatch, h);
    return 0;
}

prof_http *prof_http_start(const prof_settings *s, const prof_endpoint *endpoints,
                           size_t count, void *ctx, const prof_host *ph,
                           char *err, size_t errlen)
{
    prof_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *h = (prof_http){.settings = *s, .endpoints = endpoints, .count = count,
                     .ctx = ctx, .ph = ph};
    if (start_civetweb(h, err, errlen) != 0) {
        prof_http_stop(h);
        return NULL;
    }
    return h;
}

int prof_http_port(const prof_http *h)
{
    return h->port;
}

const prof_settings *prof_http_settings(const prof_http *h)
{
    return &h->settings;
}

const prof_endpoint *prof_http_endpoints(const prof_http *h, size_t *count)
{
    *count = h->count;
    return h->endpoints;
}

bool prof_http_stopping(const prof_http *h)
{
    return atomic_load(&h->stopping);
}

/* civetweb's master thread polls its sockets with a 2 s quantum; mg_stop
 * waits for it. A connection to the port wakes it at once, so this thread
 * knocks until mg_stop has returned. */
static void *knock(void *arg)
{
    prof_http *h = arg;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    if (inet_pton(AF_INET, h->settings.host, &sa.sin_addr) != 1 || sa.sin_addr.s_addr == 0)
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    /* Knock only once mg_stop has raised civetweb's stop flag (it does so
     * first thing): a connection accepted before that could be queued for
     * a worker that is about to exit, and its socket would leak. */
    for (int i = 0; i < 600 && !atomic_load(&h->stopped); i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            connect(fd, (struct sockaddr *)&sa, sizeof sa);
            close(fd);
        }
    }
    return NULL;
}

/* Gives running handlers up to STOP_GRACE_MS to see `stopping` and answer:
 * once mg_stop begins, civetweb drops every write. */
#define STOP_GRACE_MS 1000

static void drain(prof_http *h)
{
    for (int waited = 0; waited < STOP_GRACE_MS && atomic_load(&h->inflight) > 0; waited++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void prof_http_stop(prof_http *h)
{
    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    if (h->mg != NULL) {
        drain(h);
        pthread_t knocker;
        bool knocking = h->port > 0 && pthread_create(&knocker, NULL, knock, h) == 0;
        mg_stop(h->mg); /* waits for in-flight handlers, which see `stopping` */
        atomic_store(&h->stopped, true);
        if (knocking)
            pthread_join(knocker, NULL);
    }
    free(h);
}
