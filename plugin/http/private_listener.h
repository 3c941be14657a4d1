/*
 * plugin/http/private_listener.h - civetweb's listener moved to a Unix
 * socket that only this user can reach.
 *
 * civetweb 1.15 listens only on TCP, where any local user could connect
 * and hold its workers with slow heads: the front's deadlines and caps
 * (front.h) do not apply there (issue 23 #2). So its listening socket on
 * 127.0.0.1 is replaced, under the same fd, by a Unix socket in a
 * directory of our own (mode 0700): civetweb's master thread polls and
 * accepts on that fd as before (it knows its listener by fd only). A
 * civetweb with Unix sockets of its own would make this a
 * listening_ports option. Used by the profiler (server.c) and by
 * takhin-profiler watch.
 *
 * Ownership: the caller owns the struct (zero-initialized); the socket
 * file and the directory are created by prof_private_listen and removed
 * by prof_private_remove, which the caller calls once civetweb has
 * stopped (mg_stop returned), also after a failed prof_private_listen.
 * The listening fd stays civetweb's, which closes it at mg_stop.
 */
#ifndef TAKHIN_PLUGIN_PRIVATE_LISTENER_H
#define TAKHIN_PLUGIN_PRIVATE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct prof_private_listener {
    char dir[108], path[108]; /* 108: sun_path's size; "" when none */
} prof_private_listener;

/* Swaps civetweb's listener on 127.0.0.1:tcp_port for a Unix socket,
 * pl->path, in a new directory under $TMPDIR (else /tmp), and wakes
 * civetweb's master so that it polls the new one. `whose` names the
 * socket in errors ("the profiler's"). 0, or -1 with err. */
int prof_private_listen(prof_private_listener *pl, int tcp_port, const char *whose, char *err,
                        size_t errlen);
/* Removes the socket file and the directory. A zeroed struct: nothing. */
void prof_private_remove(prof_private_listener *pl);

/* The first of the process's fds for which match(fd, ctx) holds, or -1:
 * a walk of /proc/self/fd (civetweb gives no handle on its sockets). */
int prof_conn_find(bool (*match)(int fd, const void *ctx), const void *ctx);

#endif
