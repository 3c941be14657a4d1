/* The profiler's HTTP server: see http.h. */
#include "http/http.h"

#include "core/auth.h"
#include "core/escape.h"
#include "http/conn.h"
#include "http/front.h"
#include "http/metrics.h"
#include "http/private_listener.h"
#include "http/http_check.h"
#include "http/request.h"
#include "core/own_threads.h"

#include "pf_util.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* civetweb listens on a Unix socket, backend.path, in a directory of its
 * own (mode 0700, private_listener.h); the front (front.h) owns the public port and hands it
 * complete requests. */
struct prof_http {
    struct mg_context *mg;
    prof_front *front;
    prof_http_config cfg;
    int port;                  /* the public port, the front's */
    prof_private_listener backend; /* civetweb's socket (private_listener.h) */
    char secret[PROF_FRONT_SECRET_LEN + 1]; /* the front's, in its peer header */
    _Atomic bool stopping;
    int stop_fd; /* an eventfd, readable once a stop began (-1: none) */
    _Atomic bool stopped; /* mg_stop returned: the waker may quit */
    _Atomic int inflight; /* handlers running */
    pthread_mutex_t live_lock; /* guards `live` */
    prof_settings live;        /* what the next request reads */
};

/* 404 that lists every valid path. */
static void not_found(prof_http *h, struct mg_connection *conn, const char *uri)
{
    char list[2048];
    prof_route_list(h->cfg.endpoints, h->cfg.count, list, sizeof list);
    char shown[PROF_ESCAPED_MAX]; /* a decoded %ff is not UTF-8 */
    prof_http_error(conn, 404, "Unknown profile or path: %s\nValid paths:\n%s",
                    prof_escape_str(shown, sizeof shown, uri), list);
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
    prof_own_thread_mark(true); /* see own_thread_start */
    call->handler(call->req);
    prof_own_thread_mark(false);
    return NULL;
}

static void run_deep(prof_handler handler, prof_request *req)
{
    deep_call call = {handler, req};
    pthread_t t;
    int rc = prof_thread_spawn(&t, PROF_THREAD_REQUEST, DEEP_STACK_BYTES, deep_main, &call);
    if (rc != 0) {
        prof_http_error(req->conn, 503, "cannot start a thread for this request: %s; "
                        "retry later", strerror(rc));
        return;
    }
    pthread_join(t, NULL);
}

/* Finds the endpoint of a path; sets *index (count for none). */
static const prof_endpoint *route(const prof_http *h, const char *uri, size_t *index)
{
    const prof_endpoint *ep = prof_route(h->cfg.endpoints, h->cfg.count, uri);
    *index = ep ? (size_t)(ep - h->cfg.endpoints) : h->cfg.count;
    return ep;
}

static bool authorized(prof_http *h, const prof_settings *s, struct mg_connection *conn,
                       const struct mg_request_info *info, const char *peer)
{
    const char *given = mg_get_header(conn, "Authorization");
    if (prof_auth_check(s->token, given))
        return true;
    prof_metrics_auth_failure(h->cfg.metrics);
    char method[64], path[PROF_ESCAPED_MAX];
    prof_log(h->cfg.ph, TK_LOG_WARN, "auth failure from %s: %s %s (%s)", peer,
             prof_escape_str(method, sizeof method, info->request_method),
             prof_escape_str(path, sizeof path, info->request_uri),
             given ? "wrong credentials" : "no credentials");
    prof_http_error_headers(conn, 401, "WWW-Authenticate: Basic realm=\"takhin-profiler\", "
                            "Bearer realm=\"takhin-profiler\"\r\n",
                            "Unauthorized: this profiler needs its token, as "
                            "\"Authorization: Bearer TOKEN\" or as the password of HTTP "
                            "Basic (go tool pprof http://user:TOKEN@HOST:PORT/...)");
    return false;
}

static void serve_metrics(prof_http *h, struct mg_connection *conn)
{
    pf_strbuf out = {0};
    prof_metrics_sampled sampled = {0};
    if (h->cfg.sample_metrics != NULL)
        h->cfg.sample_metrics(h->cfg.sample_metrics_arg, &sampled);
    prof_metrics_render(h->cfg.metrics, &out, true, &sampled);
    if (out.failed)
        prof_http_error(conn, 500, "out of memory");
    else
        prof_http_send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, out.s,
                       out.len);
    free(out.s);
}

/* Answers a request for a known endpoint (method check, then handler). */
static void serve(prof_http *h, const prof_settings *s, const prof_endpoint *ep,
                  struct mg_connection *conn, const struct mg_request_info *info,
                  const char *link)
{
    if (!prof_route_allows(ep, info->request_method)) {
        prof_http_error_headers(conn, 405, prof_route_allow_header(ep),
                                "Method %s not allowed on %s: use %s", info->request_method,
                                info->local_uri, ep->post ? "GET or POST" : "GET");
        return;
    }
    prof_request req = {conn, info, h, ep->ctx, s, link};
    if (ep->profile)
        prof_metrics_inflight(h->cfg.metrics, 1);
    if (ep->deep)
        run_deep(ep->handler, &req);
    else
        ep->handler(&req);
    if (ep->profile)
        prof_metrics_inflight(h->cfg.metrics, -1);
}

/* One access log line and the request's metrics. */
static void account(prof_http *h, const struct mg_request_info *info, const char *peer,
                    size_t index, const prof_exchange *ex, double seconds)
{
    bool timed = index < h->cfg.count && h->cfg.endpoints[index].profile;
    prof_metrics_request(h->cfg.metrics, index, ex->status, ex->bytes, seconds, timed);
    /* The target as sent (civetweb runs with decode_url=no), escaped:
     * nothing a client sends can forge a log line (escape.h). */
    char method[64], path[PROF_ESCAPED_MAX], query[PROF_ESCAPED_MAX];
    prof_log(h->cfg.ph, TK_LOG_INFO, "access %s \"%s %s%s%s\" %d %llu B %.1f ms", peer,
             prof_escape_str(method, sizeof method, info->request_method),
             prof_escape_str(path, sizeof path, info->request_uri),
             info->query_string ? "?" : "",
             prof_escape_str(query, sizeof query, info->query_string),
             ex->status, (unsigned long long)ex->bytes, seconds * 1e3);
}

/* The client's address, from the front's header: false (403 answered)
 * for a request that did not come through the front. */
static bool front_peer(prof_http *h, struct mg_connection *conn, char *peer, size_t len,
                       char link[PROF_FRONT_LINK_MAX])
{
    const char *value = mg_get_header(conn, PROF_FRONT_PEER_HEADER);
    if (prof_front_peer_check(h->secret, value, peer, len) && prof_front_peer_link(value, link))
        return true;
    snprintf(peer, len, "(internal socket)");
    prof_http_error(conn, 403, "Forbidden: requests come through the profiler's port");
    return false;
}

/* The one civetweb handler: every path of the server comes here. */
static int dispatch(struct mg_connection *conn, void *cbdata)
{
    prof_http *h = cbdata;
    const struct mg_request_info *info = mg_get_request_info(conn);
    char uri[PROF_REQUEST_MAX_PATH + 1], why[256];
    bool bad = prof_http_check_request(info, uri, sizeof uri, why, sizeof why) != 0;
    prof_exchange ex = {0};
    double start = pf_mono_s();
    prof_settings s; /* this request's copy: a reload may publish others */
    pthread_mutex_lock(&h->live_lock);
    s = h->live;
    pthread_mutex_unlock(&h->live_lock);
    size_t index;
    char peer[96], link[PROF_FRONT_LINK_MAX];
    const prof_endpoint *ep = route(h, uri, &index);
    mg_set_user_connection_data(conn, &ex);
    atomic_fetch_add(&h->inflight, 1);
    if (!front_peer(h, conn, peer, sizeof peer, link))
        index = h->cfg.count;
    else if (bad)
        prof_http_error(conn, 400, "%s", why);
    else if (!authorized(h, &s, conn, info, peer))
        index = h->cfg.count;
    else if (strcmp(uri, "/metrics") == 0)
        serve_metrics(h, conn);
    else if (ep == NULL)
        not_found(h, conn, uri);
    else
        serve(h, &s, ep, conn, info, link);
    atomic_fetch_sub(&h->inflight, 1);
    mg_set_user_connection_data(conn, NULL);
    account(h, info, peer, index, &ex, pf_mono_s() - start);
    return ex.status ? ex.status : 500;
}

static int begin_request(struct mg_connection *conn)
{
    return dispatch(conn, mg_get_user_data(mg_get_context(conn)));
}

/* civetweb's threads and the handler threads are left alone by thread
 * dumps (threads.h): civetweb takes an EINTR from poll for a dead
 * connection, so a dump signal would drop a request being read or
 * answered. */
static void *own_thread_start(const struct mg_context *ctx, int thread_type)
{
    (void)ctx;
    /* civetweb names its threads civetweb-*: ours say whose they are. */
    prctl(PR_SET_NAME, thread_type == 0 ? PROF_THREAD_ACCEPT : PROF_THREAD_HTTP);
    prof_own_thread_mark(true);
    return NULL;
}

static void own_thread_exit(const struct mg_context *ctx, int thread_type, void *user)
{
    (void)ctx;
    (void)thread_type;
    (void)user;
    prof_own_thread_mark(false);
}

static int log_civetweb(const struct mg_connection *conn, const char *message)
{
    const struct mg_context *mg = mg_get_context(conn);
    prof_http *h = mg ? mg_get_user_data(mg) : NULL;
    char text[PROF_ESCAPED_MAX * 2];
    if (h != NULL) /* civetweb's messages may quote the request */
        prof_log(h->cfg.ph, TK_LOG_WARN, "http: %s", prof_escape_str(text, sizeof text, message));
    return 1;
}

static int start_civetweb(prof_http *h, char *err, size_t errlen)
{
    const prof_settings *s = &h->cfg.settings;
    char listen[] = "127.0.0.1:0", threads[16], queue[16], header[16], timeout[16];
    snprintf(threads, sizeof threads, "%d", s->max_requests);
    snprintf(queue, sizeof queue, "%d", s->max_queued);
    /* The front checked max_header_bytes; room for what its rewriting adds
     * (prof_head_canonical: CRs, blanks after colons, its own header). */
    snprintf(header, sizeof header, "%d", s->max_header_bytes + 512);
    snprintf(timeout, sizeof timeout, "%d", s->request_timeout_ms);
    /* No document_root: civetweb serves no files and lists no directory. */
    const char *options[] = {
        "listening_ports", listen,
        "num_threads", threads,
        "connection_queue", queue,
        "max_request_size", header,
        "request_timeout_ms", timeout,
        "enable_keep_alive", "no",
        "enable_directory_listing", "no",
        "decode_url", "no", /* dispatch decodes the path itself, strictly (request.h) */
        NULL,
    };
    /* Every request goes to dispatch through begin_request, which civetweb
     * calls from the moment it listens: a handler set with
     * mg_set_request_handler after mg_start2 would leave a window in which
     * a request gets civetweb's own 404 (seen in make soak). */
    static const struct mg_callbacks callbacks = {.begin_request = begin_request,
                                                  .log_message = log_civetweb,
                                                  .init_thread = own_thread_start,
                                                  .exit_thread = own_thread_exit};
    struct mg_init_data init = {&callbacks, h, options};
    char why[256] = "";
    unsigned code = 0;
    struct mg_error_data error = {&code, why, sizeof why};
    h->mg = mg_start2(&init, &error);
    if (h->mg == NULL) {
        snprintf(err, errlen, "cannot listen on %s (internal): %s", listen,
                 why[0] ? why : "civetweb failed to start");
        return -1;
    }
    struct mg_server_port ports[1];
    if (mg_get_server_ports(h->mg, 1, ports) != 1) {
        snprintf(err, errlen, "cannot read the bound port of %s", listen);
        return -1;
    }
    return prof_private_listen(&h->backend, ports[0].port, "the profiler's", err, errlen);
}

static int start_front(prof_http *h, char *err, size_t errlen)
{
    const prof_settings *s = &h->cfg.settings;
    prof_front_config fc = {
        .host = s->host,
        .port = s->port,
        .backend_path = h->backend.path,
        .secret = h->secret,
        .header_timeout_ms = s->header_timeout_ms,
        .body_timeout_ms = s->request_timeout_ms,
        .max_header_bytes = s->max_header_bytes,
        .max_conns_per_peer = s->max_conns_per_peer,
        .max_conns = s->max_conns,
        .tls_cert = s->tls_cert,
        .tls_key = s->tls_key,
        .tls_client_ca = s->tls_client_ca,
        .metrics = h->cfg.metrics,
        .ph = h->cfg.ph,
    };
    if ((h->front = prof_front_start(&fc, err, errlen)) == NULL)
        return -1;
    h->port = prof_front_port(h->front);
    return 0;
}

prof_http *prof_http_start(const prof_http_config *cfg, char *err, size_t errlen)
{
    prof_http *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->live = cfg->settings;
    pthread_mutex_init(&h->live_lock, NULL);
    if (prof_front_new_secret(h->secret) != 0) {
        snprintf(err, errlen, "cannot draw a random secret (getrandom)");
        free(h);
        return NULL;
    }
    h->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* -1: waits time out instead */
    if (start_civetweb(h, err, errlen) != 0 || start_front(h, err, errlen) != 0) {
        prof_http_stop(h);
        return NULL;
    }
    return h;
}

int prof_http_port(const prof_http *h)
{
    return h->port;
}

void prof_http_update(prof_http *h, const prof_settings *settings)
{
    pthread_mutex_lock(&h->live_lock);
    h->live = *settings;
    pthread_mutex_unlock(&h->live_lock);
}

const prof_endpoint *prof_http_endpoints(const prof_http *h, size_t *count)
{
    *count = h->cfg.count;
    return h->cfg.endpoints;
}

bool prof_http_stopping(const prof_http *h)
{
    return atomic_load(&h->stopping);
}

int prof_http_stop_fd(const prof_http *h)
{
    return h->stop_fd;
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

/* True if fd is a connection civetweb accepted on its internal socket:
 * bound there, not listening. */
static bool is_our_connection(const prof_http *h, int fd)
{
    struct sockaddr_un local;
    socklen_t llen = sizeof local, alen = sizeof(int);
    int listening = 0;
    return getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
           local.sun_family == AF_UNIX && llen > offsetof(struct sockaddr_un, sun_path) &&
           strncmp(local.sun_path, h->backend.path, sizeof local.sun_path) == 0 &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &alen) == 0 && !listening;
}

/* Calls act(fd, dup, ctx) for each of our connections, where dup is a
 * duplicate of fd made before the check: the socket checked is the socket
 * acted on through dup, even if civetweb closes fd meanwhile and the host
 * reuses its number. */
static void for_each_connection(const prof_http *h, void (*act)(int fd, int dup, void *ctx),
                                void *ctx)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || fd == dirfd(d))
            continue;
        int dup = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0)
            continue;
        if (is_our_connection(h, dup))
            act((int)fd, dup, ctx);
        close(dup);
    }
    closedir(d);
}

/* civetweb's workers wait for a request, or for a slow client to read its
 * answer, in poll quanta of up to 2 s before they look at the stop flag,
 * and mg_stop waits for them. Shutting their sockets down wakes them at
 * once (civetweb still closes them). */
static void wake(int fd, int dup, void *ctx)
{
    (void)fd;
    (void)ctx;
    shutdown(dup, SHUT_RDWR);
}

typedef struct orphan_list {
    int fd[256];
    int n;
} orphan_list;

static void note_orphan(int fd, int dup, void *ctx)
{
    (void)dup;
    orphan_list *o = ctx;
    if (o->n < (int)(sizeof o->fd / sizeof *o->fd))
        o->fd[o->n++] = fd;
}

/* civetweb 1.15 leaks the connections it has accepted and queued when
 * mg_stop comes: its workers exit without taking them (make soak: about 3
 * sockets in CLOSE-WAIT per 100 disable/enable cycles under load). Once
 * mg_stop has returned no thread of civetweb is left, so a connection of
 * ours still open is such an orphan, which nobody else will close: closed
 * here. Returns how many. */
static int close_orphans(const prof_http *h)
{
    orphan_list o = {.n = 0};
    for_each_connection(h, note_orphan, &o);
    for (int i = 0; i < o.n; i++)
        close(o.fd[i]);
    return o.n;
}

/* civetweb's master thread polls its sockets with a 2 s quantum; mg_stop
 * waits for it. A connection to the port wakes it at once, so this thread
 * knocks until mg_stop has returned, and wakes the workers (see wake). */
static void *knock(void *arg)
{
    prof_http *h = arg;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", h->backend.path);
    /* Knock only once mg_stop has raised civetweb's stop flag (it does so
     * first thing): a connection accepted before that could be queued for
     * a worker that is about to exit, and its socket would leak. */
    for (int i = 0; i < 600 && !atomic_load(&h->stopped); i++) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            connect(fd, (struct sockaddr *)&sa, sizeof sa);
            close(fd);
        }
        for_each_connection(h, wake, NULL);
    }
    return NULL;
}

void prof_http_stop(prof_http *h)
{
    if (h == NULL)
        return;
    atomic_store(&h->stopping, true);
    uint64_t one = 1;
    if (h->stop_fd >= 0 && write(h->stop_fd, &one, sizeof one) < 0)
        prof_log(h->cfg.ph, TK_LOG_DEBUG, "cannot wake the waiting handlers: %m");
    if (h->mg != NULL) {
        drain(h);
        prof_front_stop(h->front); /* after drain: it carries the last answers */
        pthread_t knocker;
        bool knocking = h->backend.path[0] &&
                        prof_thread_spawn(&knocker, PROF_THREAD_KNOCK, 0, knock, h) == 0;
        mg_stop(h->mg); /* waits for in-flight handlers, which see `stopping` */
        atomic_store(&h->stopped, true);
        if (knocking)
            pthread_join(knocker, NULL);
        int orphans = h->backend.path[0] ? close_orphans(h) : 0;
        if (orphans > 0)
            prof_log(h->cfg.ph, TK_LOG_DEBUG, "closed %d connection(s) civetweb left open "
                     "at stop", orphans);
    }
    prof_private_remove(&h->backend);
    pthread_mutex_destroy(&h->live_lock);
    if (h->stop_fd >= 0)
        close(h->stop_fd);
    free(h);
}
