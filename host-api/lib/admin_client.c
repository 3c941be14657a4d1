/*
 * admin_client.c - tkh_admin_call, the client side of the admin channel:
 * connect, send one line, read the whole reply, parse "ok"/"error".
 * One deadline bounds the whole call. Thread-safe (no shared state).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "takhin/host/admin.h"

#define MAX_REPLY (16u << 20) /* a sane bound on what a server may send */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when fd is ready for `events`, 0 at the deadline, -1 on error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            return 1;
    }
}

/* Why connect() failed, with what to do about it. */
static void connect_error(const char *path, int e, int timeout_ms, char *err, size_t errlen)
{
    const char *hint = "";

    if (e == EAGAIN || e == ETIMEDOUT) {
        set_err(err, errlen, "timed out after %d ms connecting to admin socket %s "
                "(the server is busy)", timeout_ms, path);
        return;
    }
    if (e == ENOENT)
        hint = " (is takhind running? the socket is set by admin.socket or TAKHIN_ADMIN_SOCKET)";
    else if (e == ECONNREFUSED)
        hint = " (nobody listens there: takhind has stopped and left a stale socket)";
    else if (e == EACCES || e == EPERM)
        hint = " (the socket has mode 0600: run as the user that runs takhind)";
    set_err(err, errlen, "cannot connect to admin socket %s: %s%s", path, strerror(e), hint);
}

/* A connected, non-blocking socket, or -1. connect() itself is bounded
 * by SO_SNDTIMEO (it waits there when the server's backlog is full). */
static int connect_to(const char *path, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

    if (strlen(path) >= sizeof(sa.sun_path)) {
        set_err(err, errlen, "admin socket path too long (%zu bytes, at most %zu): %s",
                strlen(path), sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR)
        ;
    if (rc < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        connect_error(path, errno, timeout_ms, err, errlen);
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends buf. EPIPE/ECONNRESET count as sent: the server may have
 * answered already (e.g. "command too long") and closed. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return 0;
        if (n < 0 && (errno == EINTR || (errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) > 0)))
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads until EOF into *out (NUL-terminated). 0, -1 with errno
 * (ETIMEDOUT, EMSGSIZE, ENOMEM, or recv's). */
static int recv_all(int fd, int64_t deadline, char **out, size_t *outlen)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);

    while (buf) {
        if (len + 1 == cap) {
            char *p = cap < MAX_REPLY ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                errno = cap < MAX_REPLY ? ENOMEM : EMSGSIZE;
                break;
            }
            buf = p;
            cap *= 2;
        }
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            if (w == 0)
                errno = ETIMEDOUT;
            break;
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        /* ECONNRESET after data: the server closed with our input unread. */
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            buf[len] = '\0';
            *out = buf;
            *outlen = len;
            return 0;
        }
        if (n < 0)
            break;
        len += (size_t)n;
    }
    free(buf);
    return -1;
}

/* Splits "ok\n<text>" / "error\n<text>": 0, 1, or -1 (not the protocol). */
static int parse_reply(char *buf, size_t len, const char *path, char **text,
                       char *err, size_t errlen)
{
    char *nl = memchr(buf, '\n', len);
    int rc = -1;

    if (nl && nl - buf == 2 && memcmp(buf, "ok", 2) == 0)
        rc = 0;
    else if (nl && nl - buf == 5 && memcmp(buf, "error", 5) == 0)
        rc = 1;
    if (rc < 0) {
        if (len == 0)
            set_err(err, errlen, "admin socket %s closed the connection without a reply", path);
        else
            set_err(err, errlen, "unexpected reply from admin socket %s "
                    "(is it a takhin admin socket?): \"%.40s\"", path, buf);
        free(buf);
        return -1;
    }
    memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf) + 1);
    if (text)
        *text = buf;
    else
        free(buf);
    return rc;
}

int tkh_admin_call(const char *path, const char *line, int timeout_ms,
                   char **text, char *err, size_t errlen)
{
    char *buf;
    size_t len;

    if (text)
        *text = NULL;
    if (!path || !*path || !line || timeout_ms <= 0 || strchr(line, '\n')) {
        set_err(err, errlen, "invalid admin call: %s", !path || !*path ? "no socket path"
                : !line ? "no command" : timeout_ms <= 0 ? "the timeout must be positive"
                : "the command contains a newline");
        return -1;
    }
    int64_t deadline = now_ms() + timeout_ms;
    int fd = connect_to(path, timeout_ms, err, errlen);
    if (fd < 0)
        return -1;
    if (send_all(fd, line, strlen(line), deadline) < 0 ||
        send_all(fd, "\n", 1, deadline) < 0 || recv_all(fd, deadline, &buf, &len) < 0) {
        if (errno == ETIMEDOUT || errno == EAGAIN)
            set_err(err, errlen, "timed out after %d ms waiting for admin socket %s",
                    timeout_ms, path);
        else
            set_err(err, errlen, "admin socket %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return parse_reply(buf, len, path, text, err, errlen);
}
