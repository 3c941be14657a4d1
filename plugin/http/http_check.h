/*
 * plugin/http/http_check.h - the strict checks of request.h applied to a
 * request as civetweb 1.15 parsed it (with decode_url=no: the target as
 * the client sent it). The one place that knows how civetweb lays out
 * what it parsed.
 */
#ifndef TAKHIN_PLUGIN_HTTP_CHECK_H
#define TAKHIN_PLUGIN_HTTP_CHECK_H

#include <civetweb.h>
#include <stddef.h>

/* 0 with the path decoded into path (pathlen: PROF_REQUEST_MAX_PATH + 1),
 * or -1 with why (the body of a 400). */
int prof_http_check_request(const struct mg_request_info *info, char *path, size_t pathlen,
                            char *why, size_t whylen);

#endif
