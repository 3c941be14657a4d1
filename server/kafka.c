/* takhind's Kafka listener: see kafka.h. */
#include "kafka.h"

#include "kafka_api.h"
#include "klog.h"

#include "takhin/host/log.h"
#include "takhin/host/sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const tk_config_key kafka_config_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "true", 0, 0, "serve Kafka clients on kafka.listen"},
    {"listen", TK_CONFIG_STRING, "127.0.0.1:9092", 1, 0,
     "IPv4 address:port of the Kafka listener (port 0: any free port)"},
    {"default_partitions", TK_CONFIG_INT, "4", 1, 1024,
     "partitions of a topic created on its first produce or metadata request"},
    {"max_request_bytes", TK_CONFIG_INT, "16777216", 1024, 1 << 30,
     "longest request frame; a longer one closes the connection"},
    {"io_threads", TK_CONFIG_INT, "2", 1, 64, "request-handling threads"},
    {"retain_bytes", TK_CONFIG_INT, "16777216", 65536, (int64_t)1 << 40,
     "bytes of record batches kept in memory per partition (older ones are freed)"},
    {"max_topics", TK_CONFIG_INT, "1000", 1, 100000, "topics that may exist; more are refused"},
    {0},
};

typedef struct ksettings {
    bool enabled;
    char listen[128];
    char listen_origin[160]; /* where kafka.listen came from, for its errors */
    int default_partitions, io_threads, max_topics;
    int64_t max_request_bytes, retain_bytes;
} ksettings;

typedef struct kconn kconn;

/* A connection's buffers above this size are freed once empty. */
#define KAFKA_KEEP_BUFFER (256 * 1024)

/* One request on its way through the threads; owned by whichever queue
 * or thread holds it. */
typedef struct kjob {
    struct kjob *next;
    kconn *c;
    unsigned char *frame;
    size_t len;
    int64_t deadline;  /* parked: when to answer anyway (ns, monotonic); 0 = not yet */
    bool final;
    kres res;
    kw out;
    kprob prob;
    int16_t api_key;
    int32_t wait_ms;
    char why[200];
} kjob;

/* A client connection: owned by the loop thread. */
struct kconn {
    kconn *prev, *next;
    int fd;
    char peer[80], host[64];
    int port;
    unsigned char *in;
    size_t in_len, in_cap;
    kw out;
    size_t out_off;
    bool busy, gone, freed, logged;
    uint32_t events;
};

typedef struct kqueue {
    kjob *head, *tail;
} kqueue;

struct kafka {
    ksettings set;
    klog *log;
    int lfd, epfd, evfd;
    char listen_addr[80];
    pthread_t loop, *workers;
    int nworkers;
    bool loop_started;
    _Atomic bool running;
    tkh_mutex qlock; /* the request threads' queue */
    tkh_cond qcond;
    kqueue work;
    tkh_mutex dlock; /* answered requests, back to the loop */
    kqueue done;
    kjob *parked;    /* loop only */
    _Atomic int nparked;
    _Atomic bool appended;
    kconn *conns;    /* loop only */
    kconn *dead;     /* closed and unlinked, freed after the loop's round */
    int64_t accept_paused_until;
    _Atomic uint64_t accepted, open, bytes_in, bytes_out;
    _Atomic uint64_t requests[KAFKA_API_KEYS], problems[KPROB_COUNT];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static ksettings read_settings(const tkh_config *cfg)
{
    ksettings s = {
        .enabled = tkh_config_lookup(cfg, "kafka.enabled")->b,
        .default_partitions = (int)tkh_config_lookup(cfg, "kafka.default_partitions")->i,
        .io_threads = (int)tkh_config_lookup(cfg, "kafka.io_threads")->i,
        .max_topics = (int)tkh_config_lookup(cfg, "kafka.max_topics")->i,
        .max_request_bytes = tkh_config_lookup(cfg, "kafka.max_request_bytes")->i,
        .retain_bytes = tkh_config_lookup(cfg, "kafka.retain_bytes")->i,
    };
    const tk_config_value *listen = tkh_config_lookup(cfg, "kafka.listen");
    snprintf(s.listen, sizeof s.listen, "%s", listen->s);
    snprintf(s.listen_origin, sizeof s.listen_origin, "%s", listen->origin);
    return s;
}

static void queue_push(kqueue *q, kjob *j)
{
    j->next = NULL;
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
}

static kjob *queue_pop(kqueue *q)
{
    kjob *j = q->head;
    if (j != NULL && (q->head = j->next) == NULL)
        q->tail = NULL;
    return j;
}

static void job_free(kjob *j)
{
    free(j->frame);
    free(j->out.p);
    free(j);
}

static void wake_loop(kafka *k)
{
    uint64_t one = 1;
    ssize_t rc = write(k->evfd, &one, sizeof one);
    (void)rc; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

/* klog's append callback: parked fetches have something new to look at. */
static void on_append(void *ctx)
{
    kafka *k = ctx;
    if (atomic_load_explicit(&k->nparked, memory_order_relaxed) > 0 &&
        !atomic_exchange(&k->appended, true))
        wake_loop(k);
}

/* ---- the request threads ---- */

static void submit(kafka *k, kjob *j)
{
    tkh_mutex_lock(&k->qlock);
    queue_push(&k->work, j);
    tkh_cond_signal(&k->qcond);
    tkh_mutex_unlock(&k->qlock);
}

static void run_job(kafka *k, kjob *j, kw *scratch)
{
    kreq q = {.frame = j->frame, .len = j->len, .host = j->c->host, .port = j->c->port,
              .final = j->final, .out = j->out};
    j->res = kafka_handle(k->log, &q, scratch);
    j->out = q.out;
    j->prob = q.prob;
    j->api_key = q.api_key;
    j->wait_ms = q.wait_ms;
    memcpy(j->why, q.why, sizeof j->why);
}

static void *worker_main(void *arg)
{
    kafka *k = arg;
    kw scratch = {0};
    for (;;) {
        tkh_mutex_lock(&k->qlock);
        while (k->work.head == NULL && atomic_load(&k->running))
            tkh_cond_wait(&k->qcond, &k->qlock);
        kjob *j = queue_pop(&k->work);
        tkh_mutex_unlock(&k->qlock);
        if (j == NULL)
            break;
        run_job(k, j, &scratch);
        tkh_mutex_lock(&k->dlock);
        queue_push(&k->done, j);
        tkh_mutex_unlock(&k->dlock);
        wake_loop(k);
    }
    free(scratch.p);
    return NULL;
}

/* ---- connections (loop thread only) ---- */

/* Printable ASCII as is, anything else as \xNN: peers' text in the log. */
static void escape(const char *s, char *out, size_t len)
{
    size_t n = 0;
    for (; *s != '\0' && n + 5 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, len - n, "\\x%02x", c);
    }
    out[n] = '\0';
}

/* Counts a problem; logs the first of each connection. */
static void problem(kafka *k, kconn *c, kprob prob, const char *why)
{
    atomic_fetch_add(&k->problems[prob], 1);
    if (c->logged)
        return;
    c->logged = true;
    char peer[96], text[400];
    escape(c->peer, peer, sizeof peer);
    escape(why, text, sizeof text);
    tkh_log(TK_LOG_WARN, "kafka", "client %s: %s (%s; later problems of this connection "
            "are only counted, see `takhin-admin kafka status`)", peer, text, kprob_names[prob]);
}

static void conn_free(kafka *k, kconn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        k->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->in);
    free(c->out.p);
    c->in = NULL;
    c->out.p = NULL;
    c->freed = true;
    /* Freed at the end of the loop's round: an event of this round may
     * still name it (it is `gone`, so nothing else happens to it). */
    c->next = k->dead;
    k->dead = c;
    atomic_fetch_sub(&k->open, 1);
}

static void free_dead(kafka *k)
{
    while (k->dead != NULL) {
        kconn *c = k->dead;
        k->dead = c->next;
        free(c);
    }
}

/* Closes the socket; the connection is freed now, or when its request
 * comes back from the threads. */
static void conn_close(kafka *k, kconn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also leaves the epoll set */
        c->fd = -1;
    }
    c->gone = true;
    if (!c->busy && !c->freed)
        conn_free(k, c);
}

/* The length of the first frame in the buffer, or -1 before its 4 bytes. */
static int64_t frame_len(const kconn *c)
{
    return c->in_len < 4 ? -1 : (int32_t)kw_load_be32(c->in);
}

static bool frame_complete(const kconn *c)
{
    int64_t n = frame_len(c);
    return n >= 0 && c->in_len >= 4 + (size_t)n;
}

static void set_interest(kafka *k, kconn *c)
{
    uint32_t ev = 0;
    if (!frame_complete(c))
        ev |= EPOLLIN;
    if (c->out.len > c->out_off)
        ev |= EPOLLOUT;
    if (ev == c->events || c->fd < 0)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(k->epfd, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

/* Hands the first complete frame to the threads, when the connection has
 * no request out and nothing left to send. */
static void dispatch(kafka *k, kconn *c)
{
    if (c->busy || c->gone || c->out.len > c->out_off || !frame_complete(c))
        return;
    size_t n = (size_t)frame_len(c);
    kjob *j = calloc(1, sizeof *j);
    unsigned char *frame = malloc(n ? n : 1);
    if (j == NULL || frame == NULL) {
        free(j);
        free(frame);
        problem(k, c, KPROB_OVERSIZED, "out of memory for a request");
        conn_close(k, c);
        return;
    }
    memcpy(frame, c->in + 4, n);
    c->in_len -= 4 + n;
    memmove(c->in, c->in + 4 + n, c->in_len);
    if (c->in_len == 0 && c->in_cap > KAFKA_KEEP_BUFFER) {
        free(c->in); /* an idle connection keeps no large buffer */
        c->in = NULL;
        c->in_cap = 0;
    }
    j->c = c;
    j->frame = frame;
    j->len = n;
    c->busy = true;
    submit(k, j);
}

static bool frame_ok(kafka *k, kconn *c);

/* After a read or a write: closes on a bad frame length, else hands the
 * next frame on and updates what the loop waits for. */
static void advance(kafka *k, kconn *c)
{
    if (!frame_ok(k, c)) {
        conn_close(k, c);
        return;
    }
    dispatch(k, c);
    set_interest(k, c);
}

static void conn_write(kafka *k, kconn *c)
{
    while (c->out.len > c->out_off) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            conn_close(k, c);
            return;
        }
        c->out_off += (size_t)w;
        atomic_fetch_add(&k->bytes_out, (uint64_t)w);
    }
    if (c->out.len == c->out_off) {
        c->out.len = c->out_off = 0;
        if (c->out.cap > KAFKA_KEEP_BUFFER) {
            free(c->out.p);
            c->out = (kw){0};
        }
    }
    advance(k, c);
}

/* Checks the length of the frame at the head of the buffer. */
static bool frame_ok(kafka *k, kconn *c)
{
    int64_t n = frame_len(c);
    char why[160];
    if (n < 0 && c->in_len >= 4) {
        snprintf(why, sizeof why, "negative request length %lld", (long long)n);
        problem(k, c, KPROB_NEGATIVE, why);
        return false;
    }
    if (n > k->set.max_request_bytes) {
        snprintf(why, sizeof why, "request of %lld bytes, above kafka.max_request_bytes "
                 "(%lld): raise it if the client is right", (long long)n,
                 (long long)k->set.max_request_bytes);
        problem(k, c, KPROB_OVERSIZED, why);
        return false;
    }
    return true;
}

static void conn_read(kafka *k, kconn *c)
{
    for (;;) {
        if (!frame_ok(k, c)) {
            conn_close(k, c);
            return;
        }
        if (frame_complete(c))
            break;
        size_t want = c->in_len < 4 ? 4 : 4 + (size_t)frame_len(c);
        if (want < c->in_len + 16384)
            want = c->in_len + 16384;
        if (c->in_cap < want) {
            unsigned char *p = realloc(c->in, want);
            if (p == NULL) {
                problem(k, c, KPROB_OVERSIZED, "out of memory for a request");
                conn_close(k, c);
                return;
            }
            c->in = p;
            c->in_cap = want;
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r <= 0) {
            if (c->in_len > 0) {
                char why[160];
                snprintf(why, sizeof why, "connection closed inside a request: %zu bytes of %s",
                         c->in_len, c->in_len < 4 ? "its length" : "the frame");
                problem(k, c, KPROB_TRUNCATED, why);
            }
            conn_close(k, c);
            return;
        }
        c->in_len += (size_t)r;
        atomic_fetch_add(&k->bytes_in, (uint64_t)r);
    }
    advance(k, c);
}

static void addr_text(const struct sockaddr_in *sa, char *host, size_t hlen, int *port)
{
    inet_ntop(AF_INET, &sa->sin_addr, host, (socklen_t)hlen);
    *port = ntohs(sa->sin_port);
}

static void conn_open(kafka *k, int fd)
{
    kconn *c = calloc(1, sizeof *c);
    struct sockaddr_in peer, local;
    socklen_t pl = sizeof peer, ll = sizeof local;
    if (c == NULL || getpeername(fd, (struct sockaddr *)&peer, &pl) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &ll) != 0) {
        free(c);
        close(fd);
        return;
    }
    char host[64];
    int port;
    addr_text(&peer, host, sizeof host, &port);
    snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    addr_text(&local, c->host, sizeof c->host, &c->port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->events = EPOLLIN;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
        free(c);
        close(fd);
        return;
    }
    c->next = k->conns;
    if (k->conns != NULL)
        k->conns->prev = c;
    k->conns = c;
    atomic_fetch_add(&k->accepted, 1);
    atomic_fetch_add(&k->open, 1);
}

static void accept_all(kafka *k)
{
    for (;;) {
        int fd = accept4(k->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_open(k, fd);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
            /* Out of descriptors: stop accepting for 100 ms rather than spin. */
            tkh_log(TK_LOG_WARN, "kafka", "accept: %s; pausing new connections for 100 ms "
                    "(raise the open-files limit, ulimit -n)", strerror(errno));
            epoll_ctl(k->epfd, EPOLL_CTL_DEL, k->lfd, NULL);
            k->accept_paused_until = now_ns() + 100000000;
        }
        return;
    }
}

/* A request is back from the threads. */
static void complete(kafka *k, kjob *j)
{
    kconn *c = j->c;
    if (j->api_key >= 0 && j->api_key < KAFKA_API_KEYS && j->deadline == 0)
        atomic_fetch_add(&k->requests[j->api_key], 1);
    if (j->prob != KPROB_NONE && !c->gone)
        problem(k, c, j->prob, j->why);
    if (j->res == KRES_PARK && !c->gone) {
        if (j->deadline == 0)
            j->deadline = now_ns() + (int64_t)j->wait_ms * 1000000;
        j->next = k->parked;
        k->parked = j;
        atomic_fetch_add(&k->nparked, 1);
        return;
    }
    c->busy = false;
    if (j->res == KRES_CLOSE || c->gone) {
        job_free(j);
        conn_close(k, c);
        return;
    }
    if (j->res == KRES_REPLY)
        kw_raw(&c->out, j->out.p, j->out.len);
    job_free(j);
    conn_write(k, c);
}

static void drain_done(kafka *k)
{
    uint64_t n;
    ssize_t rc = read(k->evfd, &n, sizeof n);
    (void)rc;
    tkh_mutex_lock(&k->dlock);
    kjob *list = k->done.head;
    k->done.head = k->done.tail = NULL;
    tkh_mutex_unlock(&k->dlock);
    while (list != NULL) {
        kjob *next = list->next;
        complete(k, list);
        list = next;
    }
}

/* Sends parked fetches back to the threads: all of them after an append,
 * the expired ones (to be answered as they are) otherwise. */
static void requeue_parked(kafka *k)
{
    bool appended = atomic_exchange(&k->appended, false);
    int64_t now = now_ns();
    kjob **pp = &k->parked;
    while (*pp != NULL) {
        kjob *j = *pp;
        bool expired = j->deadline <= now;
        if (!appended && !expired && !j->c->gone) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        atomic_fetch_sub(&k->nparked, 1);
        if (j->c->gone) {
            j->c->busy = false;
            conn_close(k, j->c);
            job_free(j);
            continue;
        }
        j->final = expired;
        j->out.len = 0;
        submit(k, j);
    }
}

/* epoll_wait's timeout: the nearest parked deadline or accept pause. */
static int loop_timeout(const kafka *k)
{
    int64_t next = k->accept_paused_until;
    for (const kjob *j = k->parked; j != NULL; j = j->next)
        if (next == 0 || j->deadline < next)
            next = j->deadline;
    if (next == 0)
        return -1;
    int64_t ms = (next - now_ns() + 999999) / 1000000;
    return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void resume_accept(kafka *k)
{
    if (k->accept_paused_until == 0 || now_ns() < k->accept_paused_until)
        return;
    k->accept_paused_until = 0;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &k->lfd};
    epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->lfd, &e);
}

static void *loop_main(void *arg)
{
    kafka *k = arg;
    struct epoll_event ev[64];
    while (atomic_load(&k->running)) {
        int n = epoll_wait(k->epfd, ev, 64, loop_timeout(k));
        for (int i = 0; i < n; i++) {
            void *tag = ev[i].data.ptr;
            if (tag == &k->lfd) {
                accept_all(k);
            } else if (tag == &k->evfd) {
                drain_done(k);
            } else {
                kconn *c = tag;
                if (c->gone)
                    continue;
                if ((ev[i].events & (EPOLLHUP | EPOLLERR)) && c->busy) {
                    conn_close(k, c); /* no answer can reach the peer any more */
                    continue;
                }
                if (ev[i].events & (EPOLLHUP | EPOLLERR)) {
                    conn_read(k, c); /* what is left, then the end: closes it */
                    continue;
                }
                if (!c->gone && (ev[i].events & EPOLLOUT))
                    conn_write(k, c);
                if (!c->gone && (ev[i].events & EPOLLIN))
                    conn_read(k, c);
            }
        }
        requeue_parked(k);
        resume_accept(k);
        free_dead(k);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int parse_listen(const char *text, const char *origin, struct sockaddr_in *sa, char *err,
                        size_t errlen)
{
    const char *colon = strrchr(text, ':');
    char host[64];
    char *end;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == text || (size_t)(colon - text) >= sizeof host ||
        colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf(err, errlen, "kafka.listen = \"%s\" (%s): expected IPV4:PORT, e.g. "
                 "127.0.0.1:9092 (port 0: any free port)", text, origin);
        return -1;
    }
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "kafka.listen = \"%s\" (%s): \"%s\" is not an IPv4 address", text,
                 origin, host);
        return -1;
    }
    return 0;
}

static int open_listener(kafka *k, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    if (parse_listen(k->set.listen, k->set.listen_origin, &sa, err, errlen) != 0)
        return -1;
    k->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(k->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (k->lfd < 0 || bind(k->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(k->lfd, 1024) != 0) {
        snprintf(err, errlen, "kafka.listen = \"%s\": cannot listen: %s (choose another "
                 "address, or set kafka.enabled: false)", k->set.listen, strerror(errno));
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(k->lfd, (struct sockaddr *)&sa, &len);
    char host[64];
    int port;
    addr_text(&sa, host, sizeof host, &port);
    snprintf(k->listen_addr, sizeof k->listen_addr, "%s:%d", host, port);
    return 0;
}

static int start_threads(kafka *k, char *err, size_t errlen)
{
    k->epfd = epoll_create1(EPOLL_CLOEXEC);
    k->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &k->lfd};
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &k->evfd};
    if (k->epfd < 0 || k->evfd < 0 || epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->lfd, &le) != 0 ||
        epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->evfd, &ee) != 0) {
        snprintf(err, errlen, "kafka: epoll: %s", strerror(errno));
        return -1;
    }
    k->workers = calloc((size_t)k->set.io_threads, sizeof *k->workers);
    if (k->workers == NULL) {
        snprintf(err, errlen, "kafka: out of memory");
        return -1;
    }
    atomic_store(&k->running, true);
    for (int i = 0; i < k->set.io_threads; i++) {
        if (pthread_create(&k->workers[i], NULL, worker_main, k) != 0) {
            snprintf(err, errlen, "kafka: cannot create request thread %d", i);
            return -1;
        }
        char name[32];
        snprintf(name, sizeof name, "kafka-io-%d", i);
        name[15] = '\0'; /* the kernel's limit for thread names */
        pthread_setname_np(k->workers[i], name);
        k->nworkers++;
    }
    if (pthread_create(&k->loop, NULL, loop_main, k) != 0) {
        snprintf(err, errlen, "kafka: cannot create the event-loop thread");
        return -1;
    }
    pthread_setname_np(k->loop, "kafka-loop");
    k->loop_started = true;
    return 0;
}

kafka *kafka_start(const tkh_config *cfg, char *err, size_t errlen)
{
    kafka *k = calloc(1, sizeof *k);
    if (k == NULL) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    k->set = read_settings(cfg);
    k->lfd = k->epfd = k->evfd = -1;
    tkh_mutex_init(&k->qlock);
    tkh_cond_init(&k->qcond);
    tkh_mutex_init(&k->dlock);
    if (!k->set.enabled)
        return k;
    k->log = klog_new(k->set.default_partitions, k->set.max_topics,
                      (size_t)k->set.retain_bytes, on_append, k);
    if (k->log == NULL) {
        snprintf(err, errlen, "kafka: out of memory");
        kafka_stop(k);
        return NULL;
    }
    if (open_listener(k, err, errlen) != 0 || start_threads(k, err, errlen) != 0) {
        kafka_stop(k);
        return NULL;
    }
    tkh_log(TK_LOG_INFO, "kafka", "listening on %s: %d request threads, %d partitions per new "
            "topic", k->listen_addr, k->set.io_threads, k->set.default_partitions);
    if (strncmp(k->listen_addr, "127.", 4) != 0)
        tkh_log(TK_LOG_WARN, "kafka", "kafka.listen %s is not a loopback address: the Kafka "
                "listener has no authentication and no TLS, anyone who reaches it may produce "
                "and consume; bind 127.0.0.1 unless the network is trusted", k->listen_addr);
    return k;
}

void kafka_changed_keys(const kafka *k, const tkh_config *cfg, char *buf, size_t len)
{
    ksettings n = read_settings(cfg);
    const ksettings *o = &k->set;
    const struct {
        bool changed;
        const char *key;
    } keys[] = {
        {n.enabled != o->enabled, "kafka.enabled"},
        {strcmp(n.listen, o->listen) != 0, "kafka.listen"},
        {n.default_partitions != o->default_partitions, "kafka.default_partitions"},
        {n.max_request_bytes != o->max_request_bytes, "kafka.max_request_bytes"},
        {n.io_threads != o->io_threads, "kafka.io_threads"},
        {n.retain_bytes != o->retain_bytes, "kafka.retain_bytes"},
        {n.max_topics != o->max_topics, "kafka.max_topics"},
    };
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && used < len; i++)
        if (keys[i].changed)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
                                     keys[i].key);
}

static size_t put_counters(char *buf, size_t len, const char *const *names, int n,
                           _Atomic uint64_t *values)
{
    size_t used = 0;
    bool first = true;
    for (int i = 0; i < n && used < len; i++) {
        if (names[i] == NULL || (i == KPROB_NONE && names == kprob_names))
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s\"%s\":%llu", first ? "" : ",",
                                 names[i], (unsigned long long)atomic_load(&values[i]));
        first = false;
    }
    return used < len ? used : len;
}

void kafka_status(kafka *k, char *buf, size_t len)
{
    char req[512], prob[512];
    put_counters(req, sizeof req, kafka_api_names, KAFKA_API_KEYS, k->requests);
    put_counters(prob, sizeof prob, kprob_names, KPROB_COUNT, k->problems);
    snprintf(buf, len,
             "{\"enabled\":%s,\"listen\":\"%s\",\"io_threads\":%d,\"topics\":%d,"
             "\"connections\":%llu,\"accepted\":%llu,\"bytes_in\":%llu,\"bytes_out\":%llu,"
             "\"requests\":{%s},\"problems\":{%s}}",
             k->set.enabled ? "true" : "false", k->listen_addr, k->set.io_threads,
             k->log != NULL ? klog_topic_count(k->log) : 0,
             (unsigned long long)atomic_load(&k->open),
             (unsigned long long)atomic_load(&k->accepted),
             (unsigned long long)atomic_load(&k->bytes_in),
             (unsigned long long)atomic_load(&k->bytes_out), req, prob);
}

void kafka_stop(kafka *k)
{
    if (k == NULL)
        return;
    atomic_store(&k->running, false);
    if (k->loop_started) {
        wake_loop(k);
        pthread_join(k->loop, NULL);
    }
    tkh_mutex_lock(&k->qlock);
    tkh_cond_broadcast(&k->qcond);
    tkh_mutex_unlock(&k->qlock);
    for (int i = 0; i < k->nworkers; i++)
        pthread_join(k->workers[i], NULL);
    free(k->workers);
    kjob *j;
    while ((j = queue_pop(&k->work)) != NULL)
        job_free(j);
    while ((j = queue_pop(&k->done)) != NULL)
        job_free(j);
    while ((j = k->parked) != NULL) {
        k->parked = j->next;
        job_free(j);
    }
    while (k->conns != NULL) {
        k->conns->busy = false;
        conn_close(k, k->conns);
    }
    free_dead(k);
    if (k->lfd >= 0)
        close(k->lfd);
    if (k->epfd >= 0)
        close(k->epfd);
    if (k->evfd >= 0)
        close(k->evfd);
    klog_free(k->log);
    tkh_cond_destroy(&k->qcond);
    tkh_mutex_destroy(&k->qlock);
    tkh_mutex_destroy(&k->dlock);
    free(k);
}
