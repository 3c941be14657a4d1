/* Watching a client's connection: see conn.h. */
#include "http/conn.h"

#include "http/http.h"
#include "http/private_listener.h"

#include "pf_util.h"

#include <stddef.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

/* True when fd's peer is the abstract Unix name "\0link". */
static bool is_connection(int fd, const char *link)
{
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    size_t n = strlen(link);
    return getpeername(fd, (struct sockaddr *)&a, &len) == 0 && a.sun_family == AF_UNIX &&
           len == offsetof(struct sockaddr_un, sun_path) + 1 + n && a.sun_path[0] == '\0' &&
           memcmp(a.sun_path + 1, link, n) == 0;
}

static bool link_matches(int fd, const void *link)
{
    return is_connection(fd, link);
}

int prof_conn_fd(const char *link)
{
    return link == NULL || link[0] == '\0' ? -1 : prof_conn_find(link_matches, link);
}

bool prof_conn_gone(int fd)
{
    if (fd < 0)
        return false;
    /* Not POLLRDHUP, nor a recv of 0: that is the client's FIN, which a
     * client that half-closed after its request (shutdown(SHUT_WR), nc -N,
     * some proxies) sends while it waits for the answer. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return false;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
        return true; /* reset, or closed both ways */
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == ECONNRESET || errno == EPIPE || errno == ETIMEDOUT);
}

prof_wait_end prof_conn_wait(struct prof_request *req, double seconds)
{
    int fd = prof_conn_fd(req->link); /* the front's end */
    double end = pf_mono_s() + seconds, left;
    while ((left = end - pf_mono_s()) > 0) {
        if (prof_http_stopping(req->http))
            return PROF_WAIT_STOPPING;
        if (prof_conn_gone(fd))
            return PROF_WAIT_CLIENT_GONE;
        /* Asleep until the connection errs or hangs up (POLLERR, POLLHUP:
         * always reported, with no event asked; the front resets its end
         * when its client goes), the server stops, or the time is up. */
        struct pollfd p[2] = {{.fd = prof_http_stop_fd(req->http), .events = POLLIN},
                              {.fd = fd, .events = 0}};
        int ms = p[0].fd < 0 && left > 0.02 ? 20 : (int)(left * 1000) + 1; /* no stop_fd */
        if (poll(p, 2, ms) > 0 && p[1].revents != 0 && !prof_conn_gone(fd)) {
            struct timespec ts = {0, 20 * 1000 * 1000}; /* a state that is not an end: */
            nanosleep(&ts, NULL);                      /* look again, without spinning */
        }
    }
    return PROF_WAIT_DONE;
}
