/* The profiler's public port, event-driven: see front.h.
 *
 * A connection goes through: HEAD (reading the request line and headers,
 * in the `heads` list, oldest first), BODY (reading a declared body, in
 * `bodies`), then RELAY (in `relays`): connected to civetweb, writing the
 * request, copying the answer back. `heads` and `bodies` are ordered by
 * deadline, since every connection of a list has the same timeout.
 *
 * With TLS (cfg.tls_cert set) each client socket carries an SSL in
 * non-blocking mode: the handshake runs in HEAD, under the head's deadline,
 * and every read and write of the client side goes through it
 * (client_recv, client_send); civetweb's side stays plain. */
#include "http/front.h"
#include "http/request.h"

#include "core/escape.h"
#include "core/own_threads.h"
#include "core/tls.h"

#include "pf_util.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define OUT_BUF (64u * 1024)     /* answer bytes buffered per connection */
#define CHUNK_SLACK (64u * 1024) /* chunked framing over the body's bytes */
#define STOP_GRACE_MS 100        /* answers in flight may finish at stop */
#define LOG_BITS 10              /* 1024 peers remembered for rate-limited logs */
#define LOG_EVERY_S 60.0
#define PEER_BITS 12             /* 4096 buckets of per-peer counts */
#define PEER_BURST_S 0.25        /* connections younger are not cut for the
                                    per-address cap: a client opening many
                                    at once (curl -Z) is let in */

typedef enum phase { HEAD, BODY, RELAY } phase;

typedef struct fconn fconn;

/* What an epoll event points at: one side of a connection. */
typedef struct side {
    fconn *c;
    int fd;
    uint32_t events; /* registered interest */
} side;

struct fconn {
    phase ph;
    side client, backend;       /* backend.fd -1 until RELAY */
    char link[PROF_FRONT_LINK_MAX]; /* backend's name (see front.h) */
    struct sockaddr_in peer;
    double since;               /* accepted */
    double deadline;            /* HEAD, BODY: when it is cut off */
    fconn *prev, *next;         /* in the list of its phase */
    char *in;                   /* the request, as it will be sent */
    size_t in_len, in_cap, sent;
    size_t body_start;          /* BODY: where the body begins in `in` */
    prof_head head;
    prof_chunked chunk;
    char *out;                  /* RELAY: the answer, not yet written */
    size_t out_len, out_off;
    bool connected, client_eof, backend_eof, shut_backend;
    bool dead;                  /* closed; freed after the events at hand */
    SSL *ssl;                   /* TLS: the client side's, else NULL */
    bool handshaken;            /* TLS: the handshake is done */
    bool ssl_wants_out;         /* TLS: the last read waits for writability */
    double stalled_since;       /* RELAY: answer pending, client not reading */
};

typedef struct list {
    fconn *first, *last;
} list;

typedef struct peer_count {
    in_addr_t addr;
    int n;
    struct peer_count *next;
} peer_count;

typedef struct log_slot {
    in_addr_t addr;
    double at;
} log_slot;

struct prof_front {
    prof_front_config cfg;
    int port, max_conns;
    int listen_fd, epoll_fd, wake_fd;
    pthread_t thread;
    bool running;
    _Atomic bool stopping;
    list heads, bodies, relays;
    fconn *graveyard;            /* closed, events may still point at them */
    int nconns;
    SSL_CTX *tls;                /* NULL: plain HTTP */
    double listen_paused_until;  /* after EMFILE: 0 when listening */
    side listener, waker;        /* epoll markers of listen_fd and wake_fd */
    peer_count *peers[1u << PEER_BITS]; /* unfinished requests per address */
    log_slot logged[1u << LOG_BITS];
};

static const char *const reason_names[] = {"header_timeout", "body_timeout", "peer_cap",
                                           "conn_cap"};

/* ---- lists and per-peer counts ---- */

static void list_push(list *l, fconn *c)
{
    c->prev = l->last;
    c->next = NULL;
    if (l->last)
        l->last->next = c;
    else
        l->first = c;
    l->last = c;
}

static void list_remove(list *l, fconn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->last = c->prev;
    c->prev = c->next = NULL;
}

static list *list_of(prof_front *f, const fconn *c)
{
    return c->ph == HEAD ? &f->heads : c->ph == BODY ? &f->bodies : &f->relays;
}

/* Fibonacci hashing: the top bits, which every byte of the address moves. */
static uint32_t addr_hash(in_addr_t addr, int bits)
{
    return (uint32_t)(ntohl(addr) * 2654435761u) >> (32 - bits);
}

static peer_count **peer_slot(prof_front *f, in_addr_t addr)
{
    peer_count **p = &f->peers[addr_hash(addr, PEER_BITS)];
    while (*p && (*p)->addr != addr)
        p = &(*p)->next;
    return p;
}

static int peer_conns(prof_front *f, in_addr_t addr)
{
    peer_count *p = *peer_slot(f, addr);
    return p ? p->n : 0;
}

/* Adds delta to addr's count; false when out of memory. */
static bool peer_add(prof_front *f, in_addr_t addr, int delta)
{
    peer_count **slot = peer_slot(f, addr);
    if (*slot == NULL) {
        if ((*slot = calloc(1, sizeof **slot)) == NULL)
            return false;
        (*slot)->addr = addr;
    }
    if (((*slot)->n += delta) <= 0) {
        peer_count *dead = *slot;
        *slot = dead->next;
        free(dead);
    }
    return true;
}

/* ---- epoll interest ---- */

/* Sets the events s waits for. An internal socket with nothing to wait
 * for leaves epoll: its hang-up, reported whatever the mask, would spin. */
static void watch(prof_front *f, side *s, uint32_t events)
{
    if (s->fd < 0 || s->events == events)
        return;
    bool backend = s->c != NULL && s == &s->c->backend;
    struct epoll_event ev = {.events = events, .data.ptr = s};
    int op = !backend || (s->events && events) ? EPOLL_CTL_MOD
             : events                          ? EPOLL_CTL_ADD
                                               : EPOLL_CTL_DEL;
    epoll_ctl(f->epoll_fd, op, s->fd, &ev);
    s->events = events;
}

static int watch_new(prof_front *f, side *s, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = s};
    s->events = events;
    return events ? epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) : 0;
}

/* ---- ending connections ---- */

/* Reads what already arrived, so that close sends a FIN rather than a
 * reset that could destroy the answer just written. Never waits. */
static void discard_input(int fd)
{
    char junk[4096];
    for (int i = 0; i < 16 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++)
        continue;
}

static void close_abort(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Closes c, to be freed by bury(); reset: the internal side is closed
 * with a reset (the client reset its connection, civetweb must see the
 * same). */
static void conn_free(prof_front *f, fconn *c, bool reset)
{
    list_remove(list_of(f, c), c);
    c->dead = true;
    if (c->ph != RELAY)
        peer_add(f, c->peer.sin_addr.s_addr, -1);
    f->nconns--;
    if (c->backend.fd >= 0) {
        if (reset)
            close_abort(c->backend.fd);
        else
            close(c->backend.fd);
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->client.fd);
    free(c->in);
    free(c->out);
    c->next = f->graveyard;
    f->graveyard = c;
}

static void bury(prof_front *f)
{
    while (f->graveyard) {
        fconn *c = f->graveyard;
        f->graveyard = c->next;
        free(c);
    }
}

/* ---- the client's side, plain or through TLS ---- */

/* What an SSL call that returned ret means, as recv and send say it:
 * 0 the end of the client's stream (close_notify, or a FIN: see tls.c),
 * -1 with errno (EAGAIN: wait for the events the connection asks). */
static ssize_t ssl_result(fconn *c, int ret)
{
    int saved = errno;
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_WANT_WRITE:
        c->ssl_wants_out = true;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_SYSCALL:
        errno = saved ? saved : ECONNRESET;
        ERR_clear_error();
        return -1;
    default: /* a TLS protocol error: the stream cannot go on */
        errno = EPROTO;
        ERR_clear_error();
        return -1;
    }
}

static ssize_t client_recv(fconn *c, void *buf, size_t len)
{
    if (c->ssl == NULL)
        return recv(c->client.fd, buf, len, 0);
    size_t got = 0;
    c->ssl_wants_out = false;
    errno = 0;
    int ret = SSL_read_ex(c->ssl, buf, len, &got);
    return ret == 1 ? (ssize_t)got : ssl_result(c, ret);
}

/* Writes what it can now: the bytes written, or -1 with errno. A TLS
 * write left unfinished is retried with the same bytes at least (they may
 * have moved: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). */
static ssize_t client_send(fconn *c, const void *buf, size_t len)
{
    if (c->ssl == NULL)
        return send(c->client.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    size_t put = 0;
    errno = 0;
    int ret = SSL_write_ex(c->ssl, buf, len, &put); /* SIGPIPE is blocked (front_main) */
    return ret == 1 ? (ssize_t)put : ssl_result(c, ret);
}

/* Ends what the front sends: close_notify, then a FIN. */
static void client_shut(fconn *c)
{
    if (c->ssl != NULL && c->handshaken) {
        SSL_shutdown(c->ssl); /* one try: it never waits */
        ERR_clear_error();
    }
    shutdown(c->client.fd, SHUT_WR);
}

/* A short answer of the front's own: status line, headers (extra: whole
 * lines, or "") and body. */
static int format_reply(char *msg, size_t size, int status, const char *extra, const char *why)
{
    int body = (int)(strlen(prof_request_reason(status)) + 2 + strlen(why) + 1);
    int n = snprintf(msg, size, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
                     "charset=utf-8\r\nContent-Length: %d\r\nX-Content-Type-Options: nosniff\r\n"
                     "X-Go-Pprof: 1\r\n%sConnection: close\r\n\r\n%s: %s\n", status,
                     prof_request_reason(status), body, extra, prof_request_reason(status), why);
    return n < 0 ? 0 : (size_t)n < size ? n : (int)size - 1;
}

/* The answer on a plain socket, one non-blocking write. */
static void reply(int fd, int status, const char *why)
{
    char msg[640];
    int n = format_reply(msg, sizeof msg, status, "", why);
    send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Answers status and closes, without waiting for the rest of a request.
 * A TLS client still in its handshake gets no answer: it could not read
 * one. The bytes written, or 0. */
static size_t answer_close(prof_front *f, fconn *c, int status, const char *extra,
                           const char *why)
{
    char msg[768];
    int n = format_reply(msg, sizeof msg, status, extra, why);
    ssize_t put = 0;
    discard_input(c->client.fd);
    if (c->ssl == NULL)
        put = send(c->client.fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    else if (c->handshaken)
        put = client_send(c, msg, (size_t)n);
    client_shut(c);
    conn_free(f, c, false);
    return put > 0 ? (size_t)put : 0;
}

/* The request line as far as it came, for the log: without its version
 * and line end, escaped (escape.h); "-" when nothing came. */
static void request_line_of(const fconn *c, char *out, size_t len)
{
    size_t n = c->in_len;
    const char *nl = n ? memchr(c->in, '\n', n) : NULL;
    if (nl != NULL)
        n = (size_t)(nl - c->in);
    if (n > 0 && c->in[n - 1] == '\r')
        n--;
    if (n > 9 && memcmp(c->in + n - 9, " HTTP/1.", 8) == 0)
        n -= 9;
    if (n > 512)
        n = 512;
    if (n == 0)
        snprintf(out, len, "-");
    else
        prof_escape(out, len, c->in, n);
}

/* Answers c's request from the front and closes: one access log line
 * with the reason, and the request in /metrics (endpoint "other"). */
static void answer_logged(prof_front *f, fconn *c, int status, const char *extra,
                         const char *why)
{
    char ip[INET_ADDRSTRLEN], line[PROF_ESCAPED_MAX];
    inet_ntop(AF_INET, &c->peer.sin_addr, ip, sizeof ip);
    request_line_of(c, line, sizeof line);
    int port = ntohs(c->peer.sin_port);
    double ms = (pf_mono_s() - c->since) * 1e3;
    size_t bytes = answer_close(f, c, status, extra, why);
    prof_metrics_request(f->cfg.metrics, SIZE_MAX, status, bytes, 0, false);
    prof_log(f->cfg.ph, TK_LOG_INFO, "access %s:%d \"%s\" %d %zu B %.1f ms (the front: %s)", ip,
             port, line, status, bytes, ms, why);
}

static void refuse(prof_front *f, fconn *c, int status, const char *why)
{
    answer_logged(f, c, status, "", why);
}

/* Logs a slow client at most once per address per LOG_EVERY_S. */
static void log_slow(prof_front *f, const struct sockaddr_in *peer, prof_slow_reason reason)
{
    double now = pf_mono_s();
    in_addr_t a = peer->sin_addr.s_addr;
    uint32_t h = addr_hash(a, LOG_BITS);
    log_slot *free_slot = NULL;
    for (uint32_t i = 0; i < 8; i++) {
        log_slot *s = &f->logged[(h + i) & ((1u << LOG_BITS) - 1)];
        if (s->at > 0 && now - s->at < LOG_EVERY_S) {
            if (s->addr == a)
                return;
        } else if (free_slot == NULL) {
            free_slot = s;
        }
    }
    if (free_slot == NULL)
        return; /* every slot nearby is busy: dropping the line keeps the promise */
    *free_slot = (log_slot){a, now};
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
    prof_log(f->cfg.ph, TK_LOG_WARN, "slow client %s:%d cut off (%s); more from %s are counted "
             "in /metrics, not logged, for %.0f s", ip, ntohs(peer->sin_port),
             reason_names[reason], ip, LOG_EVERY_S);
}

/* Cuts off a slow or surplus client with its answer. */
static void cut(prof_front *f, fconn *c, prof_slow_reason reason)
{
    static const int status[] = {408, 408, 503, 503};
    static const char *const why[] = {
        "request headers not received in time (profiler.header_timeout_ms)",
        "request body not received in time (profiler.request_timeout_ms)",
        "too many connections from your address (profiler.max_conns_per_peer)",
        "too many connections (profiler.max_conns)"};
    prof_metrics_slow_client(f->cfg.metrics, reason);
    log_slow(f, &c->peer, reason);
    answer_close(f, c, status[reason], "", why[reason]);
}

/* ---- the request ---- */

/* Room for `more` bytes in c->in, doubling up to `limit` in all. */
static bool in_reserve(fconn *c, size_t more, size_t limit)
{
    size_t need = c->in_len + more;
    if (need <= c->in_cap)
        return true;
    if (need > limit)
        return false;
    size_t cap = c->in_cap ? c->in_cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *p = realloc(c->in, cap);
    if (p == NULL)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

/* The socket to civetweb, not connected yet, with a name of the kernel's
 * choosing (autobind): the peer header carries it, so that a handler can
 * find its connection's socket (conn.h). False when out of fds. */
static bool open_backend(fconn *c)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len = sizeof sa.sun_family;
    c->link[0] = '\0';
    c->backend = (side){c, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 0};
    if (c->backend.fd < 0 || bind(c->backend.fd, (struct sockaddr *)&sa, len) != 0)
        return false;
    len = sizeof sa;
    if (getsockname(c->backend.fd, (struct sockaddr *)&sa, &len) != 0 ||
        len <= offsetof(struct sockaddr_un, sun_path) + 1 || sa.sun_path[0] != '\0')
        return false;
    size_t n = len - offsetof(struct sockaddr_un, sun_path) - 1;
    if (n >= sizeof c->link || strspn(sa.sun_path + 1, "0123456789abcdef") < n)
        return false;
    memcpy(c->link, sa.sun_path + 1, n);
    c->link[n] = '\0';
    return true;
}

/* connect() to civetweb's Unix socket. */
static int connect_backend(prof_front *f, fconn *c)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->cfg.backend_path);
    return connect(c->backend.fd, (struct sockaddr *)&sa, sizeof sa);
}

/* The request as civetweb is to read it (prof_head_canonical): the
 * head rewritten with the peer header, then the body, de-chunked. */
static bool reframe(prof_front *f, fconn *c)
{
    char ip[INET_ADDRSTRLEN], peer[160];
    inet_ntop(AF_INET, &c->peer.sin_addr, ip, sizeof ip);
    snprintf(peer, sizeof peer, "%s: %s %s:%d %s\r\n", PROF_FRONT_PEER_HEADER, f->cfg.secret,
             ip, ntohs(c->peer.sin_port), c->link);
    size_t body = c->in_len - c->body_start, cap = 2 * c->head.len + strlen(peer) + 64 + body;
    char *out = malloc(cap);
    size_t n = out ? prof_head_canonical(c->in, &c->head, peer, body, out, cap) : 0;
    if (n == 0) {
        free(out);
        return false;
    }
    memcpy(out + n, c->in + c->body_start, body);
    free(c->in);
    c->in = out;
    c->in_len = n + body;
    c->in_cap = cap;
    return true;
}

static void to_relay(prof_front *f, fconn *c);
static bool backend_out(prof_front *f, fconn *c);

/* Moves c to `ph`'s list with a new deadline. */
static void enter(prof_front *f, fconn *c, phase ph, double deadline)
{
    list_remove(list_of(f, c), c);
    c->ph = ph;
    c->deadline = deadline;
    list_push(list_of(f, c), c);
}

/* After bytes arrived in BODY: is the body complete? Extra bytes after
 * it are dropped (no keep-alive). A chunked body is decoded in place as
 * it comes: only its data stays in c->in. */
static void check_body(prof_front *f, fconn *c, size_t fresh)
{
    bool done;
    if (c->head.chunked) {
        long used = prof_chunked_feed(&c->chunk, c->in + c->in_len - fresh, fresh,
                                      c->in + c->body_start, PROF_FRONT_MAX_BODY, &done);
        if (used < 0) {
            refuse(f, c, (int)-used, used == -413 ? "a request body over 1 MiB"
                                                  : "a malformed chunked body");
            return;
        }
        c->in_len = c->body_start + c->chunk.copied;
    } else {
        uint64_t have = c->in_len - c->body_start;
        done = have >= c->head.content_length;
        if (done)
            c->in_len = c->body_start + c->head.content_length;
    }
    if (done)
        to_relay(f, c);
}

/* OPTIONS *: what the server allows, answered by the front. */
static void answer_options(prof_front *f, fconn *c)
{
    answer_logged(f, c, 200, "Allow: GET, POST, OPTIONS\r\n",
                 "the profiler serves GET, and POST on /debug/pprof/symbol");
}

/* After bytes arrived in HEAD: parse, then on to BODY or RELAY. */
static void check_head(prof_front *f, fconn *c)
{
    int status = prof_head_parse(c->in, c->in_len, (size_t)f->cfg.max_header_bytes,
                                 PROF_FRONT_MAX_BODY, &c->head);
    if (status == PROF_HEAD_MORE)
        return;
    if (status != 200) {
        refuse(f, c, status, c->head.why ? c->head.why : "a malformed request");
        return;
    }
    if (c->head.asterisk) {
        answer_options(f, c);
        return;
    }
    c->body_start = c->head.len;
    if (!c->head.chunked && c->head.content_length == 0) {
        c->in_len = c->head.len;
        to_relay(f, c);
        return;
    }
    enter(f, c, BODY, pf_mono_s() + f->cfg.body_timeout_ms / 1e3);
    if (c->head.expect_continue && c->in_len == c->body_start) {
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        client_send(c, go_on, sizeof go_on - 1);
    }
    check_body(f, c, c->in_len - c->body_start);
}

/* The most the request may take in memory in its phase. */
static size_t in_limit(const prof_front *f, const fconn *c)
{
    if (c->ph == HEAD)
        return (size_t)f->cfg.max_header_bytes;
    if (c->head.chunked)
        return c->body_start + PROF_FRONT_MAX_BODY + CHUNK_SLACK;
    return c->body_start + c->head.content_length;
}

/* The client closed its side before its request was whole: 400, saying
 * what was missing. */
static void refuse_unfinished(prof_front *f, fconn *c)
{
    char why[160];
    if (c->ph == HEAD)
        snprintf(why, sizeof why, "the request ended before its headers did");
    else if (c->head.chunked)
        snprintf(why, sizeof why, "the chunked body ended before its last chunk");
    else
        snprintf(why, sizeof why, "the body ended after %llu of the %llu bytes of its "
                 "Content-Length", (unsigned long long)(c->in_len - c->body_start),
                 (unsigned long long)c->head.content_length);
    if (c->in_len == 0) /* no request at all (a port probe): not logged */
        answer_close(f, c, 400, "", why);
    else
        refuse(f, c, 400, why);
}

/* TLS: a handshake that failed. Plain HTTP gets a plain answer saying
 * so (as Go's servers do); other failures have had OpenSSL's alert. A
 * client that closed before sending a byte (a port probe) is not counted. */
static void handshake_failed(prof_front *f, fconn *c)
{
    unsigned long e = ERR_peek_last_error();
    char why[160] = "the connection ended";
    if (e != 0)
        ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    bool silent = BIO_number_read(SSL_get_rbio(c->ssl)) == 0;
    if (!silent) {
        prof_metrics_tls_handshake_failure(f->cfg.metrics);
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &c->peer.sin_addr, ip, sizeof ip);
        prof_log(f->cfg.ph, TK_LOG_DEBUG, "TLS handshake with %s:%d failed: %s", ip,
                 ntohs(c->peer.sin_port), why);
    }
    if (ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) {
        discard_input(c->client.fd);
        reply(c->client.fd, 400, "this port serves https: use an https:// URL");
        shutdown(c->client.fd, SHUT_WR);
    }
    conn_free(f, c, false);
}

/* TLS: drives the handshake (in HEAD, under its deadline). True once it
 * is done; false while it waits for the client, or once c is gone. */
static bool handshake(prof_front *f, fconn *c)
{
    ERR_clear_error();
    int ret = SSL_accept(c->ssl);
    if (ret == 1) {
        c->handshaken = true;
        watch(f, &c->client, EPOLLIN | EPOLLRDHUP);
        return true;
    }
    int e = SSL_get_error(c->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        watch(f, &c->client, EPOLLIN | EPOLLRDHUP | (e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0));
        return false;
    }
    handshake_failed(f, c);
    return false;
}

/* Client readable in HEAD or BODY (or, TLS, writable for the handshake or
 * a read that waits for it). */
static void read_request(prof_front *f, fconn *c)
{
    if (c->ssl != NULL && !c->handshaken && !handshake(f, c))
        return;
    do { /* TLS: a record may hold more than one read takes */
        size_t limit = in_limit(f, c);
        if (c->in_len >= limit || !in_reserve(c, 1, limit + 1)) {
            refuse(f, c, c->in_len >= limit ? 413 : 503,
                   c->in_len >= limit ? "request too large" : "out of memory");
            return;
        }
        ssize_t n = client_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == 0) { /* a half-close before the request was whole */
            refuse_unfinished(f, c);
            return;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_free(f, c, false); /* the client gave up */
            return;
        }
        if (c->ssl != NULL)
            watch(f, &c->client, EPOLLIN | EPOLLRDHUP | (c->ssl_wants_out ? EPOLLOUT : 0));
        if (n < 0)
            return;
        c->in_len += (size_t)n;
        if (c->ph == HEAD)
            check_head(f, c);
        else
            check_body(f, c, (size_t)n);
    } while (!c->dead && c->ph != RELAY && c->ssl != NULL && SSL_pending(c->ssl) > 0);
}

/* ---- relaying ---- */

static void update_relay(prof_front *f, fconn *c)
{
    uint32_t cl = 0, be = 0;
    if (!c->client_eof)
        cl |= EPOLLIN | EPOLLRDHUP;
    if (c->out_off < c->out_len || c->ssl_wants_out)
        cl |= EPOLLOUT;
    if (!c->connected || c->sent < c->in_len)
        be |= EPOLLOUT;
    if (c->connected && !c->backend_eof && c->out_len - c->out_off < OUT_BUF)
        be |= EPOLLIN;
    watch(f, &c->client, cl);
    watch(f, &c->backend, be);
}

/* The request is complete: reframe it and connect to civetweb. Its
 * address has one unfinished request less. */
static void to_relay(prof_front *f, fconn *c)
{
    peer_add(f, c->peer.sin_addr.s_addr, -1);
    enter(f, c, RELAY, 0);
    if (!open_backend(c) || !reframe(f, c)) {
        refuse(f, c, 503, "out of memory or file descriptors");
        return;
    }
    int one = 1, rc = -1;
    c->out = malloc(OUT_BUF);
    bool ok = c->out != NULL && watch_new(f, &c->backend, 0) == 0;
    if (ok) {
        /* Each piece of the answer goes on as it comes. */
        setsockopt(c->client.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rc = connect_backend(f, c);
        ok = rc == 0 || errno == EINPROGRESS;
    }
    if (!ok) {
        refuse(f, c, 503, errno == EAGAIN ? "the profiler is busy (its internal queue is full); "
               "retry later" : "the profiler is not serving (internal connection failed)");
        return;
    }
    if (rc == 0 && !backend_out(f, c))
        return;
    update_relay(f, c);
}

/* Ends a relay when both directions are done. */
static bool relay_done(prof_front *f, fconn *c)
{
    if (!c->backend_eof || c->out_off < c->out_len)
        return false;
    client_shut(c);
    discard_input(c->client.fd);
    conn_free(f, c, false);
    return true;
}

/* After the client's FIN: civetweb sees a FIN too, once it has the whole
 * request; the internal connection stays open for the answer. */
static void pass_half_close(fconn *c)
{
    if (c->client_eof && !c->shut_backend && c->sent == c->in_len) {
        shutdown(c->backend.fd, SHUT_WR);
        c->shut_backend = true;
    }
}

/* Backend writable: finish connecting, then send the request. */
static bool backend_out(prof_front *f, fconn *c)
{
    if (!c->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->backend.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            refuse(f, c, 503, "the profiler is not serving (internal connection failed)");
            return false;
        }
        c->connected = true;
    }
    ssize_t n = send(c->backend.fd, c->in + c->sent, c->in_len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        n = (ssize_t)(c->in_len - c->sent); /* civetweb answered early: read it */
    c->sent += n > 0 ? (size_t)n : 0;
    pass_half_close(c);
    return true;
}

/* Writes what the answer has buffered; false once c is gone. */
static bool client_out(prof_front *f, fconn *c)
{
    if (c->out_off == c->out_len)
        return !relay_done(f, c);
    ssize_t n = client_send(c, c->out + c->out_off, c->out_len - c->out_off);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        conn_free(f, c, true);
        return false;
    }
    if (n > 0) {
        c->out_off += (size_t)n;
        c->stalled_since = 0;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0; /* all written: room for the whole buffer */
    return !relay_done(f, c);
}

/* Backend readable: buffer the answer. At its end civetweb is done: the
 * internal socket is closed at once. */
static bool backend_in(prof_front *f, fconn *c)
{
    if (c->out_len == OUT_BUF && c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    if (c->out_len == OUT_BUF)
        return true;
    ssize_t n = recv(c->backend.fd, c->out + c->out_len, OUT_BUF - c->out_len, 0);
    if (n > 0) {
        c->out_len += (size_t)n;
        return client_out(f, c); /* at once: usually the client can take it */
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        c->backend_eof = true;
        close(c->backend.fd);
        c->backend.fd = -1;
    }
    return !relay_done(f, c);
}

/* Client readable in RELAY: anything after the request is dropped; what
 * matters is a FIN (passed on) or a reset (passed on as a reset). */
static bool client_in(prof_front *f, fconn *c)
{
    char junk[4096];
    ssize_t n;
    do {
        n = client_recv(c, junk, sizeof junk);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_free(f, c, true);
            return false;
        }
        if (n == 0) {
            c->client_eof = true;
            pass_half_close(c);
        }
    } while (n > 0 && c->ssl != NULL && SSL_pending(c->ssl) > 0);
    return true;
}

static void relay_event(prof_front *f, side *s, uint32_t ev)
{
    fconn *c = s->c;
    bool client = s == &c->client;
    if (client && (ev & (EPOLLERR | EPOLLHUP))) {
        conn_free(f, c, true); /* reset by the client */
        return;
    }
    bool alive = true;
    if (client) {
        bool read_waits = c->ssl_wants_out;
        if (alive && (ev & EPOLLOUT))
            alive = client_out(f, c);
        if (alive && ((ev & (EPOLLIN | EPOLLRDHUP)) || (read_waits && (ev & EPOLLOUT))) &&
            !c->client_eof)
            alive = client_in(f, c);
    } else {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            alive = c->connected && c->sent == c->in_len ? true : backend_out(f, c);
        if (alive && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->connected && !c->backend_eof)
            alive = backend_in(f, c);
    }
    if (alive)
        update_relay(f, c);
}

/* ---- accepting ---- */

/* The oldest connection still sending its request, of addr (or of
 * anyone: addr 0), HEAD before BODY. */
static fconn *oldest_waiting(prof_front *f, in_addr_t addr, bool any)
{
    list *lists[] = {&f->heads, &f->bodies};
    for (int i = 0; i < 2; i++)
        for (fconn *c = lists[i]->first; c; c = c->next)
            if (any || c->peer.sin_addr.s_addr == addr)
                return c;
    return NULL;
}

/* Cuts c off to make room, unless what it sent meanwhile completes its
 * request (it was accepted in a batch just before its bytes came). */
static void cut_for_room(prof_front *f, fconn *c, prof_slow_reason why)
{
    char b;
    if (recv(c->client.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
        read_request(f, c);
    if (!c->dead && c->ph != RELAY)
        cut(f, c, why);
}

/* Room for one more connection from addr. Per address, one in, one out:
 * its oldest unfinished request is cut off, unless that one is part of a
 * burst. In all, the oldest unfinished requests are cut off until there
 * is room: slow clients never lock a fast one out. False (refuse the new
 * one) when max_conns is full of complete requests. */
static bool make_room(prof_front *f, in_addr_t addr)
{
    if (peer_conns(f, addr) >= f->cfg.max_conns_per_peer) {
        fconn *victim = oldest_waiting(f, addr, false);
        if (victim != NULL && pf_mono_s() - victim->since >= PEER_BURST_S)
            cut_for_room(f, victim, PROF_SLOW_PEER_CAP);
    }
    for (int tries = 0; f->nconns >= f->max_conns; tries++) {
        fconn *victim = oldest_waiting(f, 0, true);
        if (victim == NULL || tries == 8)
            return false;
        cut_for_room(f, victim, PROF_SLOW_CONN_CAP);
    }
    return true;
}

static void add_conn(prof_front *f, int fd, const struct sockaddr_in *peer)
{
    fconn *c = NULL;
    if (!make_room(f, peer->sin_addr.s_addr)) {
        prof_metrics_slow_client(f->cfg.metrics, PROF_SLOW_CONN_CAP);
        log_slow(f, peer, PROF_SLOW_CONN_CAP);
        if (f->tls == NULL) /* a TLS client could not read it */
            reply(fd, 503, "too many connections (profiler.max_conns)");
        close(fd);
        return;
    }
    if ((c = calloc(1, sizeof *c)) == NULL || !peer_add(f, peer->sin_addr.s_addr, 1)) {
        free(c);
        close(fd);
        return;
    }
    double now = pf_mono_s();
    *c = (fconn){.ph = HEAD, .client = {c, fd, 0}, .backend = {c, -1, 0}, .peer = *peer,
                 .since = now, .deadline = now + f->cfg.header_timeout_ms / 1e3};
    f->nconns++;
    list_push(&f->heads, c);
    if (f->tls != NULL && ((c->ssl = SSL_new(f->tls)) == NULL || SSL_set_fd(c->ssl, fd) != 1)) {
        ERR_clear_error();
        conn_free(f, c, false);
        return;
    }
    if (f->tls != NULL)
        SSL_set_accept_state(c->ssl);
    if (watch_new(f, &c->client, EPOLLIN | EPOLLRDHUP) != 0)
        conn_free(f, c, false);
    else
        read_request(f, c); /* the request often came with the connection */
}

static void accept_some(prof_front *f)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept4(f->listen_fd, (struct sockaddr *)&peer, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_conn(f, fd, &peer);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Out of fds: listen again in a moment rather than spin. */
            f->listen_paused_until = pf_mono_s() + 0.05;
            watch(f, &f->listener, 0);
        }
        return;
    }
}

/* ---- the loop ---- */

/* Cuts off the connections whose deadline passed; ms to the next one. */
static int expire(prof_front *f)
{
    double now = pf_mono_s(), next = now + 1.0;
    fconn *c;
    while ((c = f->heads.first) && c->deadline <= now)
        cut(f, c, PROF_SLOW_HEADER_TIMEOUT);
    while ((c = f->bodies.first) && c->deadline <= now)
        cut(f, c, PROF_SLOW_BODY_TIMEOUT);
    if (f->heads.first && f->heads.first->deadline < next)
        next = f->heads.first->deadline;
    if (f->bodies.first && f->bodies.first->deadline < next)
        next = f->bodies.first->deadline;
    if (f->listen_paused_until > 0) {
        if (f->listen_paused_until <= now) {
            f->listen_paused_until = 0;
            watch(f, &f->listener, EPOLLIN);
        } else if (f->listen_paused_until < next) {
            next = f->listen_paused_until;
        }
    }
    return (int)((next - now) * 1e3) + 1;
}

/* Relays whose client leaves the answer unread for body_timeout_ms end:
 * civetweb has long given up on them. Checked about once a second. */
static void expire_stalled(prof_front *f)
{
    double now = pf_mono_s();
    fconn *c = f->relays.first;
    while (c) {
        fconn *next = c->next;
        if (c->out_off == c->out_len)
            c->stalled_since = 0;
        else if (c->stalled_since == 0)
            c->stalled_since = now;
        else if (now - c->stalled_since > f->cfg.body_timeout_ms / 1e3)
            conn_free(f, c, true);
        c = next;
    }
}

static void dispatch_event(prof_front *f, struct epoll_event *ev)
{
    side *s = ev->data.ptr;
    if (s == &f->listener) {
        accept_some(f);
    } else if (s == &f->waker) {
        uint64_t v;
        if (read(f->wake_fd, &v, sizeof v) < 0)
            return;
    } else if (s->c->dead) {
        return; /* closed by an earlier event of the same batch */
    } else if (s->c->ph == RELAY) {
        relay_event(f, s, ev->events);
    } else if (ev->events & (EPOLLERR | EPOLLHUP)) {
        conn_free(f, s->c, false);
    } else {
        read_request(f, s->c);
    }
}

/* At stop: no new connections, no unfinished requests; relays get
 * STOP_GRACE_MS to deliver their answers. */
static void begin_stop(prof_front *f)
{
    epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, f->listen_fd, NULL);
    while (f->heads.first)
        conn_free(f, f->heads.first, false);
    while (f->bodies.first)
        conn_free(f, f->bodies.first, false);
}

static void *front_main(void *arg)
{
    prof_front *f = arg;
    prof_own_thread_mark(true); /* an HTTP thread, as civetweb's (http.c) */
    /* OpenSSL writes with write(2): a client's reset must not kill the
     * process. SIGPIPE raised here stays pending on this thread. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    struct epoll_event evs[64];
    double stop_by = 0, last_scan = pf_mono_s();
    for (;;) {
        if (atomic_load(&f->stopping) && stop_by == 0) {
            begin_stop(f);
            stop_by = pf_mono_s() + STOP_GRACE_MS / 1e3;
        }
        if (stop_by > 0 && (f->relays.first == NULL || pf_mono_s() >= stop_by))
            break;
        int timeout = stop_by > 0 ? 5 : expire(f);
        int n = epoll_wait(f->epoll_fd, evs, 64, timeout);
        for (int i = 0; i < n; i++)
            dispatch_event(f, &evs[i]);
        bury(f);
        if (pf_mono_s() - last_scan >= 1.0) {
            expire_stalled(f);
            last_scan = pf_mono_s();
        }
    }
    prof_own_thread_mark(false);
    return NULL;
}

/* ---- start and stop ---- */

static int listen_on(prof_front *f, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->cfg.port)};
    int one = 1;
    socklen_t len = sizeof sa;
    if (inet_pton(AF_INET, f->cfg.host, &sa.sin_addr) != 1)
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr); /* "localhost" */
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0 ||
        setsockopt(f->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(f->listen_fd, SOMAXCONN) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&sa, &len) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s (is the port in use? set "
                 "profiler.port or TAKHIN_PROFILER_PORT, 0 picks a free port)",
                 f->cfg.host, f->cfg.port, strerror(errno));
        return -1;
    }
    f->port = ntohs(sa.sin_port);
    return 0;
}

/* max_conns, lowered so that the front and civetweb stay within the fd
 * limit: a relayed connection takes three fds. */
static int conn_limit(const prof_front *f)
{
    struct rlimit rl;
    int limit = f->cfg.max_conns;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)limit > rl.rlim_cur / 2) {
        limit = rl.rlim_cur > 256 ? (int)(rl.rlim_cur / 2) : 128;
        prof_log(f->cfg.ph, TK_LOG_INFO, "profiler.max_conns lowered from %d to %d to fit "
                 "the fd limit (ulimit -n %llu)", f->cfg.max_conns, limit,
                 (unsigned long long)rl.rlim_cur);
    }
    return limit;
}

prof_front *prof_front_start(const prof_front_config *cfg, char *err, size_t errlen)
{
    prof_front *f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cfg = *cfg;
    f->listen_fd = f->epoll_fd = f->wake_fd = -1;
    f->max_conns = conn_limit(f);
    if (cfg->tls_cert != NULL && cfg->tls_cert[0] != '\0') {
        char warn[512];
        f->tls = prof_tls_ctx_new(cfg->tls_cert, cfg->tls_key ? cfg->tls_key : "",
                                  cfg->tls_client_ca ? cfg->tls_client_ca : "", err, errlen,
                                  warn, sizeof warn);
        if (f->tls == NULL)
            goto fail;
        if (warn[0] != '\0')
            prof_log(f->cfg.ph, TK_LOG_WARN, "%s", warn);
    }
    if (listen_on(f, err, errlen) != 0)
        goto fail;
    f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->listener = (side){NULL, f->listen_fd, 0};
    f->waker = (side){NULL, f->wake_fd, 0};
    if (f->epoll_fd < 0 || f->wake_fd < 0 || watch_new(f, &f->listener, EPOLLIN) != 0 ||
        watch_new(f, &f->waker, EPOLLIN) != 0) {
        snprintf(err, errlen, "cannot set up the profiler's front: %s", strerror(errno));
        goto fail;
    }
    int rc = prof_thread_spawn(&f->thread, PROF_THREAD_FRONT, 0, front_main, f);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the profiler's front thread: %s", strerror(rc));
        goto fail;
    }
    f->running = true;
    return f;
fail:
    prof_front_stop(f);
    return NULL;
}

int prof_front_port(const prof_front *f)
{
    return f->port;
}

static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

void prof_front_stop(prof_front *f)
{
    if (f == NULL)
        return;
    if (f->running) {
        atomic_store(&f->stopping, true);
        uint64_t one = 1;
        if (write(f->wake_fd, &one, sizeof one) < 0)
            prof_log(f->cfg.ph, TK_LOG_WARN, "front: cannot wake its thread: %s",
                     strerror(errno));
        pthread_join(f->thread, NULL);
    }
    list *lists[] = {&f->heads, &f->bodies, &f->relays};
    for (int i = 0; i < 3; i++)
        while (lists[i]->first)
            conn_free(f, lists[i]->first, false);
    bury(f);
    close_fd(f->listen_fd);
    close_fd(f->epoll_fd);
    close_fd(f->wake_fd);
    prof_tls_ctx_free(f->tls);
    free(f);
}
