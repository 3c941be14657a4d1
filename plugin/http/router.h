/*
 * plugin/http/router.h - the endpoint table and the routing of a request
 * to one of its entries: the only paths that exist are those in the table
 * (no file serving, no directory listing).
 *
 * Each entry is written with designated initializers and carries its own
 * context, of the type its handler expects (nginx's shape):
 *     {.name = "profile", .handler = prof_cpu_handle, .ctx = &cpu_endpoint,
 *      .deep = true, .profile = true, .description = "..."}
 * A handler sees only its entry's context (prof_request.ctx), never the
 * plugin's whole state.
 */
#ifndef TAKHIN_PLUGIN_ROUTER_H
#define TAKHIN_PLUGIN_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define PROF_HTTP_PREFIX "/debug/pprof/"

struct prof_request;
typedef void (*prof_handler)(struct prof_request *req);

/* One path under /debug/pprof/. The table is owned by its caller. */
typedef struct prof_endpoint {
    const char *name;        /* "profile"; "" is the index */
    bool prefix;             /* name is a prefix ("buildid/"): the handler
                                reads the rest of the path */
    const char *description; /* one line, for the index */
    prof_handler handler;
    void *ctx;               /* the handler's context (prof_request.ctx) */
    bool post;               /* POST accepted besides GET */
    bool deep;               /* needs a deep stack (libdw, encoders): runs on
                                a thread of its own, see server.c */
    bool profile;            /* a profile: in the index's table, timed in the
                                metrics and counted in flight */
    long (*count)(void *ctx); /* the index's Count column (-1: unknown); may
                                 be NULL; called with ctx */
} prof_endpoint;

/* The entry of a request path (as sent, checked by http_check.h):
 * PROF_HTTP_PREFIX + name (+ more after a prefix entry's name), or
 * "/debug/pprof" for the index. NULL when the path is none of them. */
const prof_endpoint *prof_route(const prof_endpoint *table, size_t n, const char *path);
/* The entry takes this method: GET, or POST where it says so. */
bool prof_route_allows(const prof_endpoint *ep, const char *method);
/* The Allow header line of the entry ("Allow: GET\r\n"). */
const char *prof_route_allow_header(const prof_endpoint *ep);
/* Every path of the table, one "  /debug/pprof/NAME\n" a line, into buf
 * (truncated to fit, NUL-terminated), for a 404. */
void prof_route_list(const prof_endpoint *table, size_t n, char *buf, size_t len);

#endif
