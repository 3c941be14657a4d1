/*
 * plugin/http/front.h - the profiler's public port: one event-driven thread
 * (epoll, non-blocking sockets) in front of civetweb.
 *
 * civetweb gives each connection a blocking worker from a FIFO queue, so
 * clients that dribble their headers, trickle a declared body or send
 * nothing hold every worker and lock the operator out (issues 17, 15).
 * The front reads each request itself, under a deadline for the head
 * (header_timeout_ms) and one for the body (request_timeout_ms in all),
 * with caps on head size, unfinished requests per address and connections in
 * all. Only a complete request reaches civetweb, which listens on a Unix
 * socket in a private directory (mode 0700, private_listener.h: no other local
 * user can reach civetweb and hold its workers, issue 23 #2). The front
 * connects there and writes the request as civetweb is to read it, the
 * way the front read it (prof_head_canonical), with one header added
 * (PROF_FRONT_PEER_HEADER: a per-start secret, the client's address and
 * the name of the front's socket), then relays the answer back.
 *
 * Ownership: prof_front_start creates the listening socket and the thread;
 * the thread owns every client and internal socket it accepts or opens
 * until prof_front_stop, which joins it and closes every fd left. The
 * config's pointers (backend_path, secret, metrics, ph) must outlive the
 * front; the TLS files are read at start.
 *
 * TLS (tls_cert set) is terminated here, not in civetweb: the front needs
 * the plaintext for its deadlines and caps. The handshake counts as part
 * of the head (header_timeout_ms).
 */
#ifndef TAKHIN_PLUGIN_FRONT_H
#define TAKHIN_PLUGIN_FRONT_H

#include "http/metrics.h"
#include "core/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The header the front adds: "SECRET IP:PORT LINK", LINK the abstract
 * name (hex digits) the kernel gave the front's end of the connection to
 * civetweb. A client's own copy is refused (400), and civetweb's handler
 * refuses a request without the right secret (403): it did not come
 * through the front. */
#define PROF_FRONT_PEER_HEADER "X-Takhin-Peer"
#define PROF_FRONT_SECRET_LEN 32 /* hex digits */
#define PROF_FRONT_LINK_MAX 16   /* LINK and its NUL, at most */
/* The largest body the front buffers: what /symbol reads at most. */
#define PROF_FRONT_MAX_BODY (1u << 20)

typedef struct prof_front prof_front;

typedef struct prof_front_config {
    const char *host;          /* public address and port (0: any free) */
    int port;
    const char *backend_path;  /* civetweb's Unix socket (private_listener.h) */
    const char *secret;        /* PROF_FRONT_SECRET_LEN hex digits */
    int header_timeout_ms;     /* request line and headers */
    int body_timeout_ms;       /* the whole declared body; also how long a
                                  client may leave an answer unread */
    int max_header_bytes;
    int max_conns_per_peer;    /* unfinished requests per client IP address */
    int max_conns;             /* in all (lowered to fit RLIMIT_NOFILE) */
    const char *tls_cert;      /* PEM files: with tls_cert set the port */
    const char *tls_key;       /* serves TLS only (tls.h); NULL or "" */
    const char *tls_client_ca; /* for none, or no client certificate */
    prof_metrics *metrics;     /* slow clients cut off are counted here */
    const prof_host *ph;
} prof_front_config;

/* Binds host:port and starts the thread. NULL with err. */
prof_front *prof_front_start(const prof_front_config *cfg, char *err, size_t errlen);
/* The port really bound. */
int prof_front_port(const prof_front *f);
/* Stops accepting, lets answers in flight finish for a moment (bounded),
 * joins the thread and closes every socket. NULL is fine. */
void prof_front_stop(prof_front *f);

/* A fresh secret: PROF_FRONT_SECRET_LEN hex digits and a NUL. 0 or -1. */
int prof_front_new_secret(char out[PROF_FRONT_SECRET_LEN + 1]);
/* Checks a PROF_FRONT_PEER_HEADER value (NULL if absent) against secret,
 * in constant time; on success copies "IP:PORT" into peer. */
bool prof_front_peer_check(const char *secret, const char *value, char *peer, size_t len);
/* The LINK of a value prof_front_peer_check accepted. */
bool prof_front_peer_link(const char *value, char link[PROF_FRONT_LINK_MAX]);

/* ---- Parsing the request as it arrives (front_head.c, pure) ---- */

#define PROF_HEAD_MORE 0 /* prof_head_parse: the head is not complete yet */

/* The header lines a request may have: civetweb 1.15 keeps 64
 * (MG_MAX_HEADERS) and silently drops the rest, and the front adds one. */
#define PROF_HEAD_MAX_HEADERS 63

typedef struct prof_head {
    size_t line_len;         /* the request line with its line end */
    size_t len;              /* the whole head, blank line included */
    size_t method_len;
    size_t target_off, target_len; /* the path and query of the target */
    bool target_root;        /* a "/" goes before them (http://host?q) */
    bool asterisk;           /* OPTIONS * */
    int headers;             /* header lines */
    bool has_length;         /* a Content-Length header */
    bool chunked;            /* Transfer-Encoding: chunked */
    bool expect_continue;    /* Expect: 100-continue: the client waits for a
                                100 before it sends the body */
    uint64_t content_length; /* 0 without one */
    const char *why;         /* what is wrong, when the status is not 200 */
} prof_head;

/* Parses the head at the start of buf[0, n): PROF_HEAD_MORE, 200 (parsed
 * into *out), or the status to answer with out->why: 400 malformed or
 * carrying PROF_FRONT_PEER_HEADER, 413 body over max_body, 431 head over
 * max_head or more than PROF_HEAD_MAX_HEADERS header lines, 501 a method
 * civetweb would not hand on (TRACE, CONNECT) or a transfer coding other
 * than chunked. Lines may end in CRLF or a bare LF, and the head ends at
 * the first empty line (so "\n\r\n" ends it). The target may be a path,
 * an absolute http(s) URL or, for OPTIONS, "*". */
int prof_head_parse(const char *buf, size_t n, size_t max_head, uint64_t max_body,
                    prof_head *out);

/* The head of buf (parsed by prof_head_parse, not OPTIONS *) as civetweb
 * is to read it, the one reading of the request: "METHOD PATH HTTP/1.x",
 * `extra` (whole header lines), each header line as "Name: value" (the
 * value trimmed), every line ending in CRLF. Content-Length,
 * Transfer-Encoding and Expect are left out: with a body (declared, or
 * chunked and decoded by the front) one "Content-Length: body_len" says
 * its size. Writes into out[0, cap): the length, or 0 if it does not fit
 * (2 * head->len + strlen(extra) + 64 always does). */
size_t prof_head_canonical(const char *buf, const prof_head *head, const char *extra,
                           uint64_t body_len, char *out, size_t cap);

/* Decodes a chunked body fed in pieces. Zero-initialize. Chunk
 * extensions (";name=value") and trailers are read and dropped. */
typedef struct prof_chunked {
    int state;
    uint64_t left;   /* bytes of the current chunk, or its size being read */
    uint64_t total;  /* data bytes announced so far */
    uint64_t copied; /* data bytes written to out so far */
    bool digits;     /* the size line has a digit */
} prof_chunked;

/* Consumes p[0, n), writing the data bytes to out + c->copied (out may be
 * p's own buffer, at or before p: the data moves down; NULL: not
 * written): the bytes used, with *done set once the body (and its
 * trailer) ended there; or -400 (malformed), -413 (over max_body). */
long prof_chunked_feed(prof_chunked *c, const char *p, size_t n, char *out, uint64_t max_body,
                       bool *done);

#endif
