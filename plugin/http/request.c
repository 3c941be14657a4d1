/* Strict request checks: see request.h. */
#include "http/request.h"

#include "pf_common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Decodes the %XX at s (s[0] == '%'): the byte, or -1 if malformed. */
static int pct(const char *s)
{
    int hi = pf_hex_digit(s[1]);
    int lo = hi < 0 ? -1 : pf_hex_digit(s[2]);
    return lo < 0 ? -1 : hi * 16 + lo;
}

static bool control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

int prof_request_path(const char *raw, char *path, size_t pathlen, char *err, size_t errlen)
{
    size_t len = strlen(raw);
    if (len > PROF_REQUEST_MAX_PATH) {
        snprintf(err, errlen, "Bad request: the path is %zu bytes long, over the limit of %d",
                 len, PROF_REQUEST_MAX_PATH);
        return -1;
    }
    if (raw[0] != '/') {
        snprintf(err, errlen, "Bad request: the path must start with '/'");
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)raw[i];
        bool encoded = c == '%';
        if (encoded) {
            c = pct(raw + i);
            if (c < 0) {
                snprintf(err, errlen, "Bad request: malformed percent-encoding at byte %zu of "
                         "the path (expected %% and two hex digits)", i);
                return -1;
            }
            i += 2;
        }
        if (c == 0) {
            snprintf(err, errlen, "Bad request: NUL byte in the path");
            return -1;
        }
        if (control((unsigned char)c)) {
            snprintf(err, errlen, "Bad request: control character 0x%02x in the path", c);
            return -1;
        }
        if (c == '/' && encoded) {
            snprintf(err, errlen, "Bad request: encoded '/' (%%2F) in the path");
            return -1;
        }
        if (c == '\\') {
            snprintf(err, errlen, "Bad request: backslash in the path");
            return -1;
        }
        if (o + 1 >= pathlen) {
            snprintf(err, errlen, "Bad request: the path is too long");
            return -1;
        }
        path[o++] = (char)c;
    }
    path[o] = '\0';
    /* Dot segments, once decoded ("%2e" is "."). */
    for (const char *seg = path; seg != NULL; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            snprintf(err, errlen, "Bad request: dot segment \"%.*s\" in the path", (int)n, s);
            return -1;
        }
    }
    return 0;
}

int prof_request_query(const char *query, char *err, size_t errlen)
{
    if (query == NULL)
        return 0;
    for (size_t i = 0; query[i] != '\0'; i++) {
        int c = (unsigned char)query[i];
        if (c == '%') {
            c = pct(query + i);
            if (c < 0) {
                snprintf(err, errlen, "Bad request: malformed percent-encoding at byte %zu of "
                         "the query (expected %% and two hex digits)", i);
                return -1;
            }
            i += 2;
        }
        if (c == 0) {
            snprintf(err, errlen, "Bad request: NUL byte in the query");
            return -1;
        }
        if (control((unsigned char)c)) {
            snprintf(err, errlen, "Bad request: control character 0x%02x in the query", c);
            return -1;
        }
    }
    return 0;
}

int prof_request_headers(const prof_request_header *h, size_t n, const char *version,
                         char *err, size_t errlen)
{
    const char *length = NULL;
    bool chunked = false;
    size_t hosts = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = h[i].name ? h[i].name : "";
        const char *value = h[i].value ? h[i].value : "";
        if (h[i].space_before_colon) {
            snprintf(err, errlen, "Bad request: whitespace between the header name \"%.64s\" "
                     "and its colon", name);
            return -1;
        }
        if (h[i].folded) {
            snprintf(err, errlen, "Bad request: obsolete line folding (a line starting with "
                     "whitespace) after the header \"%.64s\"", name);
            return -1;
        }
        if (strcasecmp(name, "Transfer-Encoding") == 0)
            chunked = true;
        if (strcasecmp(name, "Host") == 0 && ++hosts > 1) {
            snprintf(err, errlen, "Bad request: more than one Host header");
            return -1;
        }
        if (strcasecmp(name, "Content-Length") != 0)
            continue;
        if (value[0] == '\0' || value[strspn(value, "0123456789")] != '\0' ||
            strlen(value) > 18) {
            snprintf(err, errlen, "Bad request: Content-Length must be a decimal number "
                     "(got \"%.32s\")", value);
            return -1;
        }
        if (length != NULL && strcmp(length, value) != 0) {
            snprintf(err, errlen, "Bad request: conflicting Content-Length headers "
                     "(%.20s and %.20s)", length, value);
            return -1;
        }
        length = value;
    }
    if (hosts == 0 && version != NULL && strcmp(version, "1.1") == 0) {
        snprintf(err, errlen, "Bad request: an HTTP/1.1 request needs a Host header");
        return -1;
    }
    if (length != NULL && chunked) {
        snprintf(err, errlen, "Bad request: both Content-Length and Transfer-Encoding");
        return -1;
    }
    return 0;
}

int prof_request_body_end(long long declared, size_t got, bool read_failed, char *err,
                          size_t errlen)
{
    if (declared >= 0 && (unsigned long long)got < (unsigned long long)declared) {
        snprintf(err, errlen, "Bad request: the body ended after %zu of the %lld bytes its "
                 "Content-Length declares", got, declared);
        return -1;
    }
    if (read_failed) {
        snprintf(err, errlen, declared < 0
                 ? "Bad request: malformed or unfinished chunked body (bad chunk size, or "
                   "the connection ended before the last chunk)"
                 : "Bad request: the body could not be read");
        return -1;
    }
    return 0;
}

const char *prof_request_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}
