/*
 * plugin/http/conn.h - noticing that a client went away during a long profile.
 * civetweb 1.15 gives a handler no handle on its socket, so the socket is
 * found among the process's fds by its peer's name.
 */
#ifndef TAKHIN_PLUGIN_CONN_H
#define TAKHIN_PLUGIN_CONN_H

#include <civetweb.h>
#include <stdbool.h>

/* The fd of the request's connection, or -1 if it cannot be found (then
 * the profile simply runs its full length). That connection comes from the
 * front (front.h), which passes on its client's FIN and its going away:
 * link is the abstract name of the front's end (prof_request.link). */
int prof_conn_fd(const char *link);
/* True when the connection is dead: reset by the peer (POLLERR,
 * ECONNRESET) or closed both ways (POLLHUP). fd -1: never.
 *
 * (The front's end closing is a POLLHUP: Unix sockets have no reset.)
 * A FIN alone is not a disconnect: a client may half-close after its
 * request (shutdown(SHUT_WR): nc -N, some proxies) and still read the
 * answer, so the profile goes on. A client that really closed its socket
 * also only sent a FIN; it is noticed when its kernel answers with a
 * reset, which it does once we write to it: by then the profile has run
 * to its end, and the answer is lost (a write error, in the access log).
 * A client that resets (a killed process with unread data, SO_LINGER 0,
 * a proxy giving up) ends the profile at once. */
bool prof_conn_gone(int fd);

struct prof_request;

typedef enum prof_wait_end {
    PROF_WAIT_DONE,        /* the time is up */
    PROF_WAIT_STOPPING,    /* the server is stopping (disable, reload) */
    PROF_WAIT_CLIENT_GONE, /* nobody is waiting for the answer any more */
} prof_wait_end;

/* Waits `seconds` for a timed profile, asleep in poll(2) until the time
 * is up, the server stops (prof_http_stop_fd) or the client's connection
 * errs or hangs up: no periodic wake-up. */
prof_wait_end prof_conn_wait(struct prof_request *req, double seconds);

#endif
