/*
 * plugin/core/tls.h - the profiler port's TLS, terminated by the front
 * (front.c) with OpenSSL 3; civetweb stays plain on 127.0.0.1.
 *
 * Why here and not in civetweb: the front must see plaintext to enforce
 * its deadlines and caps, and Debian's civetweb 1.15 cannot load OpenSSL 3
 * (README: TLS).
 */
#ifndef TAKHIN_PLUGIN_TLS_H
#define TAKHIN_PLUGIN_TLS_H

#include <stddef.h>

/* An SSL_CTX (opaque here: only tls.c and front.c include OpenSSL). */
typedef struct ssl_ctx_st prof_tls_ctx;

/* Builds a server context from PEM files: cert (a chain, leaf first),
 * key, and client_ca ("" for none: no client certificate asked; else one
 * is required and verified against it). TLS 1.2 at least. NULL with err
 * naming the file and the fix. *warn (may be NULL) gets a warning that
 * does not stop serving (a key readable by others), "" for none. */
prof_tls_ctx *prof_tls_ctx_new(const char *cert, const char *key, const char *client_ca,
                               char *err, size_t errlen, char *warn, size_t warnlen);
void prof_tls_ctx_free(prof_tls_ctx *ctx);

#endif
