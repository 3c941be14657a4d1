/* Watching a client's connection: see conn.h. */
#include "http/conn.h"

#include "http/http.h"

#include "pf_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* True when fd is a TCP socket from `peer` to local port `local_port`. */
static bool is_connection(int fd, const struct sockaddr_in *peer, int local_port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getpeername(fd, (struct sockaddr *)&a, &len) != 0 || a.sin_family != AF_INET ||
        a.sin_port != peer->sin_port || a.sin_addr.s_addr != peer->sin_addr.s_addr)
        return false;
    len = sizeof a;
    return getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
           ntohs(a.sin_port) == local_port;
}

int prof_conn_fd(const struct mg_request_info *info, int local_port)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)info->remote_port)};
    if (inet_pton(AF_INET, info->remote_addr, &peer.sin_addr) != 1)
        return -1;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd != dirfd(d) &&
            is_connection((int)fd, &peer, local_port))
            found = (int)fd;
    }
    closedir(d);
    return found;
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
    int fd = prof_conn_fd(req->info, prof_http_backend_port(req->http)); /* the front's end */
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
