/*
 * plugin/core/auth.h - who may read profiles. With a token configured, every
 * request must carry it, as "Authorization: Bearer TOKEN" or as the
 * password of HTTP Basic (so that `go tool pprof http://u:TOKEN@host/...`
 * works unchanged). The comparison takes the same time whatever matches.
 */
#ifndef TAKHIN_PLUGIN_AUTH_H
#define TAKHIN_PLUGIN_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define PROF_TOKEN_MAX 256

/* True when `authorization` (the header's value, NULL if absent) carries
 * `token`. An empty token means no authentication: always true. */
bool prof_auth_check(const char *token, const char *authorization);

/* True for 127.0.0.0/8 and "localhost". */
bool prof_auth_is_loopback(const char *host);

/* Reads a token file: the first line, without its newline. 0, or -1 with
 * err (unreadable, empty, too long). */
int prof_auth_read_token_file(const char *path, char *token, size_t len,
                              char *err, size_t errlen);

#endif
