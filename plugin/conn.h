/*
 * plugin/conn.h - noticing that a client went away during a long profile.
 * civetweb 1.15 gives a handler no handle on its socket, so the socket is
 * found among the process's fds by its peer address and local port.
 */
#ifndef TAKHIN_PLUGIN_CONN_H
#define TAKHIN_PLUGIN_CONN_H

#include <civetweb.h>
#include <stdbool.h>

/* The fd of the request's connection, or -1 if it cannot be found (then
 * the profile simply runs its full length). */
int prof_conn_fd(const struct mg_request_info *info, int local_port);
/* True when the peer closed the connection (fd -1: never). */
bool prof_conn_gone(int fd);

#endif
