/* civetweb's listener on a private Unix socket: see private_listener.h. */
#include "http/private_listener.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int prof_conn_find(bool (*match)(int fd, const void *ctx), const void *ctx)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd != dirfd(d) && match((int)fd, ctx))
            found = (int)fd;
    }
    closedir(d);
    return found;
}

/* True for civetweb's listening socket, on 127.0.0.1:*port. */
static bool is_listener(int fd, const void *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a, alen = sizeof(int);
    int listening = 0;
    return getsockname(fd, (struct sockaddr *)&a, &len) == 0 && a.sin_family == AF_INET &&
           ntohs(a.sin_port) == *(const int *)port && a.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &alen) == 0 && listening;
}

/* civetweb's master may be in a poll (2 s at most) begun on the TCP
 * listener, which sees the Unix socket only when it wakes: a connection
 * on the TCP one wakes it, and one waiting on the Unix one makes it
 * return. civetweb takes the latter and closes it. Non-blocking: a Unix
 * connect would otherwise wait while the backlog is full. */
static void knock_once(const char *path, int tcp_port)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    struct sockaddr_in tcp = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u >= 0 && t >= 0 && connect(u, (struct sockaddr *)&un, sizeof un) == 0)
        connect(t, (struct sockaddr *)&tcp, sizeof tcp);
    if (t >= 0)
        close(t);
    if (u >= 0)
        close(u);
}

int prof_private_listen(prof_private_listener *pl, int tcp_port, const char *whose, char *err,
                        size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(pl->dir, sizeof pl->dir, "%s/takhin-http-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    errno = ENAMETOOLONG;
    if (strlen(pl->dir) + sizeof "/civetweb.sock" > sizeof pl->path ||
        mkdtemp(pl->dir) == NULL) { /* mkdtemp makes it 0700 */
        snprintf(err, errlen, "cannot create a private directory for %s internal socket in "
                 "%s: %s (set TMPDIR to a short writable directory)",
                 whose, tmp && tmp[0] ? tmp : "/tmp", strerror(errno));
        pl->dir[0] = '\0';
        return -1;
    }
    snprintf(pl->path, sizeof pl->path, "%s/civetweb.sock", pl->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", pl->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int listener = prof_conn_find(is_listener, &tcp_port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, SOMAXCONN) != 0 || listener < 0 || dup3(fd, listener, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot set up %s internal socket %s: %s", whose, pl->path,
                 listener < 0 ? "civetweb's listener not found" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    knock_once(pl->path, tcp_port);
    return 0;
}

void prof_private_remove(prof_private_listener *pl)
{
    if (pl->path[0])
        unlink(pl->path);
    if (pl->dir[0])
        rmdir(pl->dir);
    pl->path[0] = pl->dir[0] = '\0';
}
