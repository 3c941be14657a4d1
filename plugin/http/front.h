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
 * all. Only a complete request reaches civetweb, which listens on
 * 127.0.0.1:0: the front connects there, writes the request with one
 * header added (PROF_FRONT_PEER_HEADER: a per-start secret and the
 * client's address), then relays the answer back.
 *
 * Ownership: prof_front_start creates the listening socket and the thread;
 * the thread owns every client and internal socket it accepts or opens
 * until prof_front_stop, which joins it and closes every fd left. The
 * config's pointers (secret, metrics, ph) must outlive the front; the TLS
 * files are read at start.
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

/* The header the front adds: "SECRET IP:PORT". A client's own copy is
 * refused (400), and civetweb's handler refuses a request without the
 * right secret (403): it did not come through the front. */
#define PROF_FRONT_PEER_HEADER "X-Takhin-Peer"
#define PROF_FRONT_SECRET_LEN 32 /* hex digits */
/* The largest body the front buffers: what /symbol reads at most. */
#define PROF_FRONT_MAX_BODY (1u << 20)

typedef struct prof_front prof_front;

typedef struct prof_front_config {
    const char *host;          /* public address and port (0: any free) */
    int port;
    int backend_port;          /* civetweb's, on 127.0.0.1 */
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

/* ---- Parsing the request as it arrives (front_head.c, pure) ---- */

#define PROF_HEAD_MORE 0 /* prof_head_parse: the head is not complete yet */

typedef struct prof_head {
    size_t line_len;         /* the request line with its line end */
    size_t len;              /* the whole head, blank line included */
    bool chunked;            /* Transfer-Encoding: chunked */
    bool expect_continue;    /* Expect: 100-continue: the client waits for a
                                100 before it sends the body */
    uint64_t content_length; /* 0 without one */
    const char *why;         /* what is wrong, when the status is not 200 */
} prof_head;

/* Parses the head at the start of buf[0, n): PROF_HEAD_MORE, 200 (parsed
 * into *out), or the status to answer: 400 malformed or carrying
 * PROF_FRONT_PEER_HEADER, 413 body over max_body, 431 head over max_head,
 * 501 a transfer coding other than chunked. */
int prof_head_parse(const char *buf, size_t n, size_t max_head, uint64_t max_body,
                    prof_head *out);

/* Finds the end of a chunked body fed in pieces. Zero-initialize. */
typedef struct prof_chunked {
    int state;
    uint64_t left;  /* bytes of the current chunk, or its size being read */
    uint64_t total; /* data bytes so far */
    bool digits;    /* the size line has a digit */
} prof_chunked;

/* Consumes p[0, n): the bytes used, with *done set once the body (and its
 * trailer) ended there; or -400 (malformed), -413 (over max_body). */
long prof_chunked_feed(prof_chunked *c, const char *p, size_t n, uint64_t max_body,
                       bool *done);

#endif
