/* http.c - the HTTP/1.1 GET client (see cli_http.h). */
#include "cli_http.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 200
#define MAX_LINE 16384

typedef struct conn {
    int fd;
    const cli_http_req *rq;
    char *err;
    size_t errlen;
    size_t pos, len;
    char buf[65536];
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- address ---- */

int cli_parse_remote(const char *remote, char *host, size_t hostlen, char *port,
                     size_t portlen, char *err, size_t errlen)
{
    const char *s = remote;
    if (strncmp(s, "http://", 7) == 0)
        s += 7;
    else if (strstr(s, "://") != NULL) {
        snprintf(err, errlen, "-remote %s: only http:// is supported", remote);
        return -1;
    }
    size_t n = strcspn(s, "/");
    const char *colon = NULL, *h = s;
    size_t hl;
    if (*s == '[') { /* [v6]:port */
        const char *rb = memchr(s, ']', n);
        if (rb == NULL)
            goto bad;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1 < s + n && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(s, ':', n);
        hl = colon ? (size_t)(colon - s) : n;
    }
    const char *p = colon ? colon + 1 : "6060";
    size_t pl = colon ? (size_t)(s + n - p) : 4;
    if (hl == 0 || hl >= hostlen || pl == 0 || pl >= portlen || strspn(p, "0123456789") < pl)
        goto bad;
    snprintf(host, hostlen, "%.*s", (int)hl, h);
    snprintf(port, portlen, "%.*s", (int)pl, p);
    if (atoi(port) < 1 || atoi(port) > 65535)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "-remote %s: expected HOST:PORT, e.g. 127.0.0.1:6060", remote);
    return -1;
}

/* ---- connecting ---- */

/* Connects one address within timeout; 0, or an errno value. */
static int try_connect(const struct addrinfo *ai, double timeout, int *fdout)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0)
        return errno;
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int r = poll(&pfd, 1, (int)(timeout * 1000));
            socklen_t l = sizeof e;
            if (r == 0)
                e = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
                e = errno;
        }
    }
    if (e != 0) {
        close(fd);
        return e;
    }
    *fdout = fd;
    return 0;
}

static void connect_error(const cli_http_req *rq, int e, char *err, size_t errlen)
{
    const char *hp = rq->host, *pt = rq->port;
    if (e == ECONNREFUSED)
        snprintf(err, errlen, "connection to %s:%s refused: nothing listens there (is takhind "
                 "running with the profiler on? takhin-admin profiler enable)", hp, pt);
    else if (e == ETIMEDOUT)
        snprintf(err, errlen, "no answer from %s:%s within %gs (host down, wrong address, or a "
                 "firewall drops the packets)", hp, pt, rq->connect_timeout);
    else if (e == EHOSTUNREACH || e == ENETUNREACH)
        snprintf(err, errlen, "%s:%s is unreachable: %s", hp, pt, strerror(e));
    else
        snprintf(err, errlen, "cannot connect to %s:%s: %s", hp, pt, strerror(e));
}

static int open_conn(const cli_http_req *rq, int *fd, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(rq->host, rq->port, &hints, &res);
    if (g != 0) {
        if (g == EAI_NONAME || g == EAI_NODATA)
            snprintf(err, errlen, "unknown host %s (no such name or address)", rq->host);
        else
            snprintf(err, errlen, "cannot resolve %s: %s", rq->host,
                     g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        return CLI_EXIT_CONNECT;
    }
    int e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if ((e = try_connect(ai, rq->connect_timeout, fd)) == 0)
            break;
    }
    freeaddrinfo(res);
    if (e != 0) {
        connect_error(rq, e, err, errlen);
        return CLI_EXIT_CONNECT;
    }
    return CLI_OK;
}

/* ---- I/O with timeouts ---- */

/* Waits for events on c->fd for at most the read timeout, ticking. */
static int wait_fd(conn *c, short events)
{
    double deadline = now() + c->rq->read_timeout;
    for (;;) {
        double left = deadline - now();
        if (left <= 0) {
            snprintf(c->err, c->errlen, "no data from %s:%s for %gs (read timeout)",
                     c->rq->host, c->rq->port, c->rq->read_timeout);
            return -1;
        }
        struct pollfd pfd = {c->fd, events, 0};
        int ms = left * 1000 < TICK_MS ? (int)(left * 1000) + 1 : TICK_MS;
        int r = poll(&pfd, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR) {
            snprintf(c->err, c->errlen, "poll: %s", strerror(errno));
            return -1;
        }
        if (c->rq->tick)
            c->rq->tick(c->rq->tick_ctx);
    }
}

static int send_all(conn *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(c, POLLOUT) != 0)
                return -1;
            continue;
        }
        if (w < 0) {
            snprintf(c->err, c->errlen, "sending the request: %s", strerror(errno));
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Refills the buffer: >0 bytes, 0 at the end, -1 on error. */
static ssize_t fill(conn *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (r >= 0) {
            c->pos = 0;
            c->len = (size_t)r;
            return r;
        }
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(c->err, c->errlen, "reading the answer: %s", strerror(errno));
            return -1;
        }
        if (wait_fd(c, POLLIN) != 0)
            return -1;
    }
}

/* Reads a CRLF- or LF-terminated line (terminator removed). 0, 1 at EOF
 * before any byte, -1 on error or overlong line. */
static int read_line(conn *c, char *line, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (c->pos == c->len) {
            ssize_t r = fill(c);
            if (r < 0)
                return -1;
            if (r == 0)
                return n == 0 ? 1 : -1;
        }
        char ch = c->buf[c->pos++];
        if (ch == '\n') {
            if (n > 0 && line[n - 1] == '\r')
                n--;
            line[n] = '\0';
            return 0;
        }
        if (n + 1 >= max) {
            snprintf(c->err, c->errlen, "answer line longer than %zu bytes", max);
            return -1;
        }
        line[n++] = ch;
    }
}

/* ---- the answer ---- */

typedef struct body {
    bool chunked, has_length;
    unsigned long long length;
} body;

/* Hands n bytes to the sink (2xx) or keeps the start of the message. */
static int deliver(conn *c, cli_http_resp *rs, const char *d, size_t n)
{
    if (rs->status >= 200 && rs->status < 300) {
        if (c->rq->sink && c->rq->sink(c->rq->sink_ctx, d, n) != 0) {
            snprintf(c->err, c->errlen, "cannot store the answer: %s", strerror(errno));
            return CLI_EXIT_FAIL;
        }
    } else if (rs->body_bytes < sizeof rs->body - 1) {
        size_t k = sizeof rs->body - 1 - rs->body_bytes;
        memcpy(rs->body + rs->body_bytes, d, n < k ? n : k);
        rs->body[rs->body_bytes + (n < k ? n : k)] = '\0';
    }
    rs->body_bytes += n;
    return 0;
}

/* Copies exactly n bytes (or up to EOF when n is 0 and !exact). */
static int copy_body(conn *c, cli_http_resp *rs, unsigned long long n, bool exact)
{
    unsigned long long done = 0;
    while (!exact || done < n) {
        if (c->pos == c->len) {
            ssize_t r = fill(c);
            if (r < 0)
                return CLI_EXIT_SERVER;
            if (r == 0) {
                if (!exact)
                    return 0;
                snprintf(c->err, c->errlen, "the connection closed after %llu of %llu bytes",
                         (unsigned long long)rs->body_bytes, (unsigned long long)rs->body_bytes + n - done);
                return CLI_EXIT_SERVER;
            }
        }
        size_t k = c->len - c->pos;
        if (exact && k > n - done)
            k = (size_t)(n - done);
        int rc = deliver(c, rs, c->buf + c->pos, k);
        if (rc != 0)
            return rc;
        c->pos += k;
        done += k;
    }
    return 0;
}

static int read_chunked(conn *c, cli_http_resp *rs)
{
    char line[MAX_LINE];
    for (;;) {
        char *end;
        if (read_line(c, line, sizeof line) != 0)
            goto bad;
        unsigned long long n = strtoull(line, &end, 16);
        if (end == line || (*end != '\0' && *end != ';' && *end != ' '))
            goto bad;
        if (n == 0)
            break;
        int rc = copy_body(c, rs, n, true);
        if (rc != 0)
            return rc;
        if (read_line(c, line, sizeof line) != 0 || line[0] != '\0')
            goto bad;
    }
    do { /* trailers */
        if (read_line(c, line, sizeof line) < 0)
            goto bad;
    } while (line[0] != '\0');
    return 0;
bad:
    if (c->err[0] == '\0')
        snprintf(c->err, c->errlen, "malformed chunked answer");
    return CLI_EXIT_SERVER;
}

static void header(char *line, cli_http_resp *rs, body *b)
{
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return;
    *colon = '\0';
    char *v = colon + 1 + strspn(colon + 1, " \t");
    if (strcasecmp(line, "Content-Length") == 0) {
        b->has_length = true;
        b->length = strtoull(v, NULL, 10);
    } else if (strcasecmp(line, "Transfer-Encoding") == 0)
        b->chunked = strcasestr(v, "chunked") != NULL;
    else if (strcasecmp(line, "Content-Type") == 0)
        snprintf(rs->content_type, sizeof rs->content_type, "%s", v);
    else if (strcasecmp(line, "X-Takhin-Cpu-Hz") == 0)
        snprintf(rs->cpu_hz, sizeof rs->cpu_hz, "%s", v);
}

/* Status line and headers; 1xx answers are skipped. */
static int read_head(conn *c, cli_http_resp *rs, body *b)
{
    char line[MAX_LINE];
    do {
        int r = read_line(c, line, sizeof line);
        if (r != 0) {
            if (r == 1)
                snprintf(c->err, c->errlen, "%s:%s closed the connection without answering "
                         "(not an HTTP server, or it refused the request)", c->rq->host,
                         c->rq->port);
            return CLI_EXIT_SERVER;
        }
        int n = 0;
        if (sscanf(line, "HTTP/1.%*d %3d%n", &rs->status, &n) != 1 || rs->status < 100) {
            snprintf(c->err, c->errlen, "not an HTTP answer: %.60s", line);
            return CLI_EXIT_SERVER;
        }
        snprintf(rs->reason, sizeof rs->reason, "%s", line + n + strspn(line + n, " "));
        *b = (body){false, false, 0};
        for (;;) {
            if (read_line(c, line, sizeof line) != 0)
                return CLI_EXIT_SERVER;
            if (line[0] == '\0')
                break;
            header(line, rs, b);
        }
    } while (rs->status < 200);
    return 0;
}

static int exchange(conn *c, cli_http_resp *rs)
{
    char req[8192];
    const char *tok = c->rq->token;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: takhin-profiler/1\r\n"
                     "Accept-Encoding: identity\r\nConnection: close\r\n%s%s%s\r\n",
                     c->rq->path, strchr(c->rq->host, ':') ? "[" : "", c->rq->host,
                     strchr(c->rq->host, ':') ? "]" : "", c->rq->port,
                     tok && *tok ? "Authorization: Bearer " : "", tok && *tok ? tok : "",
                     tok && *tok ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof req) {
        snprintf(c->err, c->errlen, "request too long");
        return CLI_EXIT_FAIL;
    }
    if (send_all(c, req, (size_t)n) != 0)
        return CLI_EXIT_SERVER;
    body b;
    int rc = read_head(c, rs, &b);
    if (rc != 0)
        return rc;
    if (b.chunked)
        return read_chunked(c, rs);
    return copy_body(c, rs, b.length, b.has_length);
}

int cli_http_get(const cli_http_req *rq, cli_http_resp *rs, char *err, size_t errlen)
{
    memset(rs, 0, sizeof *rs);
    err[0] = '\0';
    conn *c = malloc(sizeof *c);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_FAIL;
    }
    c->fd = -1;
    c->rq = rq;
    c->err = err;
    c->errlen = errlen;
    c->pos = c->len = 0;
    int rc = open_conn(rq, &c->fd, err, errlen);
    if (rc == CLI_OK)
        rc = exchange(c, rs);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return rc;
}
