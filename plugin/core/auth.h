/*
 * plugin/core/auth.h - who may read profiles. With a token configured, every
 * request must carry it, as "Authorization: Bearer TOKEN" or as the
 * password of HTTP Basic (so that `go tool pprof http://u:TOKEN@host/...`
 * works unchanged). The comparison takes the same time whatever matches.
 */
#ifndef TAKHIN_PLUGIN_AUTH_H
#define TAKHIN_PLUGIN_AUTH_H

#include "takhin/plugin.h"

#include <stdbool.h>
#include <stddef.h>

#define PROF_TOKEN_MAX 256

/* True when `authorization` (the header's value, NULL if absent) carries
 * `token`. An empty token means no authentication: always true. */
bool prof_auth_check(const char *token, const char *authorization);

/* True for 127.0.0.0/8 and "localhost". */
bool prof_auth_is_loopback(const char *host);

/* One secret of the config section: KEY (e.g. "auth.token") or the first
 * line of the file KEY_file, at most one of them, into out ("" when
 * neither is set). A value or a file's line that is set but blank (empty,
 * or only blanks, which no Bearer client can send since header values are
 * trimmed) is an error naming the key and where it was set: an empty
 * TAKHIN_* variable overrides the YAML's secret, and must never turn
 * authentication off unnoticed. Errors never show a secret. 0, or -1 with
 * err. */
int prof_auth_read_secret(const tk_host_api *api, const tk_config *cfg, const char *key,
                          char *out, size_t len, char *err, size_t errlen);

#endif
