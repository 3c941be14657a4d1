/*
 * cli_http.h - a small HTTP/1.1 client for GET over TCP: IPv4, IPv6 and
 * host names (getaddrinfo), connect and read timeouts, bodies delimited by
 * Content-Length, chunked encoding or the end of the connection, an
 * optional "Authorization: Bearer" header, and a tick callback while it
 * waits (for a progress bar).
 */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H

#include <stddef.h>

typedef int (*cli_sink_fn)(void *ctx, const void *data, size_t len); /* 0 ok */
typedef void (*cli_tick_fn)(void *ctx);

typedef struct cli_http_req {
    const char *host, *port, *path; /* path with its query: "/debug/pprof/heap" */
    const char *token;              /* NULL or "": no Authorization header */
    double connect_timeout;         /* seconds, for each address tried */
    double read_timeout;            /* seconds without any byte from the server */
    cli_sink_fn sink;               /* receives the body of a 2xx answer */
    void *sink_ctx;
    cli_tick_fn tick;               /* called about 5 times a second while waiting */
    void *tick_ctx;
} cli_http_req;

typedef struct cli_http_resp {
    int status;
    char reason[64];
    char content_type[128];
    char cpu_hz[128];   /* X-Takhin-Cpu-Hz, "" if absent */
    size_t body_bytes;
    char body[4096];    /* the start of a non-2xx body (the server's message) */
} cli_http_resp;

/* Splits "HOST:PORT", "[IPV6]:PORT", "HOST" (port 6060) or
 * "http://HOST:PORT[/...]". 0, or -1 with err. */
int cli_parse_remote(const char *remote, char *host, size_t hostlen, char *port,
                     size_t portlen, char *err, size_t errlen);

/* GET. Returns 0 (any status: see rs->status), CLI_EXIT_CONNECT when the
 * server was not reached (unknown host, refused, unreachable, timeout),
 * CLI_EXIT_SERVER when the answer broke off or is not HTTP, or
 * CLI_EXIT_FAIL when the sink failed; err says what happened. */
int cli_http_get(const cli_http_req *rq, cli_http_resp *rs, char *err, size_t errlen);

#endif
