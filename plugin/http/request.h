/*
 * plugin/http/request.h - strict checks of a request before it is routed.
 *
 * civetweb 1.15 is lenient: it decodes %00 (cutting the path), takes '\'
 * for '/', removes dot segments, ignores a space before a header's colon,
 * and takes the first of two conflicting Content-Length headers. A
 * request that could mean two things is refused with 400 and a message
 * naming the problem, never served as some other path (RFC 9110, 9112).
 * The server runs civetweb with decode_url=no: these functions see the
 * target as the client sent it and do the one decoding.
 *
 * Everything here is pure (no civetweb), so unit tests and the fuzz
 * target (tests/fuzz/request) call it directly.
 */
#ifndef TAKHIN_PLUGIN_REQUEST_H
#define TAKHIN_PLUGIN_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define PROF_REQUEST_MAX_PATH 1024 /* bytes of the path as sent, at most */

/* Checks the path of a request target as sent (percent-encoded, without
 * the query) and writes it decoded into path (pathlen >=
 * PROF_REQUEST_MAX_PATH + 1 always suffices). Refused: a path over
 * PROF_REQUEST_MAX_PATH bytes, not starting with '/', a malformed %
 * escape, NUL or any control character (raw or encoded), an encoded '/'
 * (%2F), a backslash (raw or %5C), a "." or ".." segment (raw or
 * encoded). 0, or -1 with err. */
int prof_request_path(const char *raw, char *path, size_t pathlen, char *err, size_t errlen);

/* Checks a query string as sent (NULL: none): well-formed % escapes, and
 * no NUL or control character once decoded. 0, or -1 with err. */
int prof_request_query(const char *query, char *err, size_t errlen);

/* One header line as received. */
typedef struct prof_request_header {
    const char *name, *value;
    bool space_before_colon; /* "Name : value" */
    bool folded;             /* the next line starts with whitespace (obs-fold) */
} prof_request_header;

/* Checks the headers of a request of HTTP `version` ("1.1"; NULL:
 * unknown): no whitespace between a name and its colon; no line folding
 * (RFC 9112 section 5.2: civetweb drops the folded line and every header
 * after it); one Host at most,
 * and one in HTTP/1.1; a Content-Length is digits only, and several must
 * agree; not both Content-Length and Transfer-Encoding. 0, or -1 with
 * err. */
int prof_request_headers(const prof_request_header *h, size_t n, const char *version,
                         char *err, size_t errlen);

/* The body of a request as read: `declared` is its Content-Length (-1:
 * chunked or none), `got` the bytes read, `read_failed` whether the read
 * ended on an error (a malformed chunk, a connection closed or timed out
 * before the last chunk). 0 for a complete body, or -1 with err. */
int prof_request_body_end(long long declared, size_t got, bool read_failed, char *err,
                          size_t errlen);

/* The reason phrase of an HTTP status the profiler answers with ("Not
 * Found"); "Error" for one it never sends. For the front's refusals and
 * the handlers' replies alike. */
const char *prof_request_reason(int status);

#endif
