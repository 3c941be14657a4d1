/*
 * fuzz_request - a request as the handlers see it, past civetweb's parser:
 * its path and query as sent, its headers, its body.
 *
 * Input: a flags byte (bit 0: the body is chunked, else its
 * Content-Length is its size, one more with bit 2; bit 1: the read ended
 * on an error; bit 3: the rest is a raw request for the front, below),
 * then,
 * separated by NULs: the path, the query, header lines ("Name: value",
 * or "Name : value" for a space before the colon; one per '\n'; a line
 * starting with whitespace folds the one before), the body.
 * Exercises prof_request_path, prof_request_query, prof_request_headers,
 * prof_request_body_end (plugin/http/request.c), the query parameters the
 * handlers read (plugin/http/query.c, trace's seconds), prof_symbol_parse on
 * the body and on the query (GET /debug/pprof/symbol?0xA+0xB), and
 * prof_escape (plugin/core/escape.c) on everything that is logged.
 * Invariants: an accepted path is absolute, at most 1 KiB as sent, and
 * has no control character, backslash or dot segment once decoded; an
 * accepted query decodes to no control character; accepted headers have
 * one Content-Length value at most; a refusal has a message; an escaped
 * string is one line of printable UTF-8 that unescapes to the input.
 *
 * With bit 3, the rest goes byte for byte to the front's reading
 * (plugin/http/front_head.c): prof_head_parse, then the head civetweb
 * gets, prof_head_canonical, which must be one reading (issue 23):
 * civetweb's own end of the head is its end, every line ends in CRLF, no
 * byte civetweb refuses, at most 64 header lines with the front's own, the
 * method kept, the target a path, no Transfer-Encoding, and the front
 * parses it again alike; a chunked body is decoded in place, never into
 * more data than its bytes. A refusal has a reason.
 */
#include "fuzz.h"

#include "core/escape.h"
#include "http/front.h"
#include "http/query.h"
#include "http/request.h"
#include "profiles/symbol.h"
#include "capture/trace.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* Next NUL-separated part of data[*pos..size): a C string to free. */
static char *part(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
    size_t start = *pos, end = start;
    while (end < size && data[end] != 0)
        end++;
    *len = end - start;
    *pos = end < size ? end + 1 : end;
    return fuzz_cstr(data + start, end - start);
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (k == 0 || i + k > n)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* prof_escape's output must be printable UTF-8 on one line, undo to the
 * input when it fits, and stay in its buffer when it does not. */
static void check_escape(const char *in, size_t len)
{
    size_t outlen = 4 * len + 4;
    char *out = malloc(outlen);
    FUZZ_ASSERT(out != NULL, "out of memory");
    prof_escape(out, outlen, in, len);
    size_t n = strlen(out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_ASSERT(c >= 0x20 && c != 0x7f, "control byte 0x%02x escaped as itself", c);
        FUZZ_ASSERT(!(c == 0xc2 && i + 1 < n && (unsigned char)out[i + 1] <= 0x9f),
                    "C1 control kept");
    }
    FUZZ_ASSERT(utf8_ok((const unsigned char *)out, n), "escaped text is not UTF-8");
    char *back = malloc(len + 1);
    FUZZ_ASSERT(back != NULL, "out of memory");
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] != '\\') {
            back[b++] = out[i];
        } else if (out[i + 1] == '\\') {
            back[b++] = '\\';
            i++;
        } else {
            FUZZ_ASSERT(out[i + 1] == 'x' && hexv(out[i + 2]) >= 0 && hexv(out[i + 3]) >= 0,
                        "a lone backslash in the escaped text");
            back[b++] = (char)(hexv(out[i + 2]) * 16 + hexv(out[i + 3]));
            i += 3;
        }
        FUZZ_ASSERT(b <= len, "escaped text undoes to more than the input");
    }
    FUZZ_ASSERT(b == len && memcmp(back, in, len) == 0, "escaping is not reversible");
    char small[16];
    memset(small, 'Z', sizeof small);
    prof_escape(small, 9, in, len);
    FUZZ_ASSERT(memchr(small, '\0', 9) != NULL && small[9] == 'Z', "escape overflowed");
    free(back);
    free(out);
}

static void check_path(const char *raw)
{
    char path[PROF_REQUEST_MAX_PATH + 1], err[256] = "";
    if (prof_request_path(raw, path, sizeof path, err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0', "path refused without a message");
        return;
    }
    FUZZ_ASSERT(strlen(raw) <= PROF_REQUEST_MAX_PATH, "a path over the limit accepted");
    FUZZ_ASSERT(path[0] == '/', "a relative path accepted");
    FUZZ_ASSERT(strlen(path) <= strlen(raw), "decoding grew the path");
    for (const char *p = path; *p; p++)
        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f && *p != '\\',
                    "byte 0x%02x accepted in a path", (unsigned char)*p);
    FUZZ_ASSERT(strstr(path, "/./") == NULL && strstr(path, "/../") == NULL,
                "dot segment accepted: %s", path);
    size_t n = strlen(path);
    FUZZ_ASSERT(!(n >= 2 && strcmp(path + n - 2, "/.") == 0) &&
                !(n >= 3 && strcmp(path + n - 3, "/..") == 0), "final dot segment accepted");
    /* A path that fits only barely must be refused, not overflow. */
    char tiny[4];
    err[0] = '\0';
    if (prof_request_path(raw, tiny, sizeof tiny, err, sizeof err) != 0)
        FUZZ_ASSERT(err[0] != '\0', "refused without a message");
    else
        FUZZ_ASSERT(strlen(tiny) < sizeof tiny, "tiny buffer overflowed");
}

static void check_query(const char *query)
{
    char err[256] = "";
    bool ok = prof_request_query(query, err, sizeof err) == 0;
    FUZZ_ASSERT(ok || err[0] != '\0', "query refused without a message");
    static const char *const names[] = {"seconds", "debug", "gc", "x"};
    for (size_t i = 0; ok && i < sizeof names / sizeof *names; i++) {
        char v[64];
        if (prof_query_get(query, names[i], v, sizeof v) == 1)
            for (const char *p = v; *p; p++)
                FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f,
                            "accepted query decodes to byte 0x%02x", (unsigned char)*p);
    }
    long secs = -7;
    err[0] = '\0';
    if (prof_query_seconds(query, 30, 120, &secs, err, sizeof err) == 0)
        FUZZ_ASSERT(secs == 30 || (secs >= 1 && secs <= 120), "seconds %ld", secs);
    else
        FUZZ_ASSERT(err[0] != '\0', "seconds refused without a message");
    double fsecs = -7;
    err[0] = '\0';
    if (prof_query_seconds_frac(query, 1.0, 120, &fsecs, err, sizeof err) == 0)
        FUZZ_ASSERT(isfinite(fsecs) && fsecs > 0 && fsecs <= 120, "trace seconds %g", fsecs);
    else
        FUZZ_ASSERT(err[0] != '\0', "trace seconds refused without a message");
}

static void check_headers(char *lines)
{
    prof_request_header h[64] = {{0}};
    size_t n = 0;
    for (char *line = lines; line != NULL && n < 64;) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (n > 0 && (line[0] == ' ' || line[0] == '\t'))
            h[n - 1].folded = true;
        char *colon = strchr(line, ':');
        if (colon != NULL) {
            bool gap = colon > line && colon[-1] == ' ';
            char *end = colon;
            while (end > line && end[-1] == ' ')
                end--;
            *end = '\0'; /* as civetweb leaves it */
            char *value = colon + 1;
            while (*value == ' ')
                value++;
            h[n++] = (prof_request_header){line, value, gap, false};
        }
        line = next;
    }
    char err[256] = "";
    prof_request_headers(h, n, NULL, err, sizeof err);
    if (prof_request_headers(h, n, "1.1", err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0', "headers refused without a message");
        return;
    }
    const char *length = NULL;
    size_t hosts = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(!h[i].space_before_colon, "a space before a colon accepted");
        FUZZ_ASSERT(!h[i].folded, "a folded header line accepted");
        hosts += strcasecmp(h[i].name, "Host") == 0;
        if (strcasecmp(h[i].name, "Content-Length") == 0) {
            FUZZ_ASSERT(h[i].value[0] != '\0' && strspn(h[i].value, "0123456789") ==
                        strlen(h[i].value), "Content-Length %s accepted", h[i].value);
            FUZZ_ASSERT(length == NULL || strcmp(length, h[i].value) == 0,
                        "conflicting Content-Length accepted");
            length = h[i].value;
        }
    }
    FUZZ_ASSERT(hosts == 1, "an HTTP/1.1 request with %zu Host headers accepted", hosts);
}

static void check_body(const char *body, size_t len, unsigned flags)
{
    char err[256] = "";
    long long declared = (flags & 1) ? -1 : (long long)len + ((flags & 4) ? 1 : 0);
    bool failed = (flags & 2) != 0;
    int r = prof_request_body_end(declared, len, failed, err, sizeof err);
    FUZZ_ASSERT(r == 0 || err[0] != '\0', "body refused without a message");
    FUZZ_ASSERT((r == 0) == (!failed && (declared < 0 || (size_t)declared <= len)),
                "body verdict %d for declared %lld, got %zu, failed %d", r, declared, len,
                failed);
    size_t max = len / 2 + 1;
    uint64_t *addrs = malloc(max * sizeof *addrs);
    FUZZ_ASSERT(addrs != NULL, "out of memory");
    err[0] = '\0';
    long n = prof_symbol_parse(body, len, addrs, max, err, sizeof err);
    FUZZ_ASSERT(n >= -1 && n <= (long)max, "count %ld for a bound of %zu", n, max);
    FUZZ_ASSERT(n >= 0 || err[0] != '\0', "symbol body refused without a message");
    free(addrs);
}

/* Where civetweb 1.15 ends a head: after its first "\n\n" or "\r\n\r\n". */
static size_t civetweb_head_end(const char *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] == '\n' && b[i + 1] == '\n')
            return i + 2;
        if (i + 3 < n && memcmp(b + i, "\r\n\r\n", 4) == 0)
            return i + 4;
    }
    return 0;
}

static void check_canonical(const char *buf, const prof_head *h)
{
    static const char extra[] = "X-Extra: 1\r\n";
    size_t cap = 2 * h->len + sizeof extra + 64;
    char *out = malloc(cap);
    FUZZ_ASSERT(out != NULL, "out of memory");
    size_t n = prof_head_canonical(buf, h, extra, 7, out, cap);
    FUZZ_ASSERT(n > 0, "the canonical head did not fit in %zu bytes", cap);
    FUZZ_ASSERT(n <= h->len + 166 + strlen(extra), "the head grew from %zu to %zu bytes", h->len,
                n);
    FUZZ_ASSERT(civetweb_head_end(out, n) == n, "civetweb would end the head at %zu of %zu",
                civetweb_head_end(out, n), n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_ASSERT(c != '\n' || (i > 0 && out[i - 1] == '\r'), "a bare LF at %zu", i);
        FUZZ_ASSERT(c == '\r' || c == '\n' || (c >= 0x20 && c != 0x7f),
                    "byte 0x%02x civetweb refuses", c);
    }
    /* Read again without the front's own line (the front refuses a 64th):
     * civetweb gets at most 63 and that one. */
    n = prof_head_canonical(buf, h, "", 7, out, cap);
    prof_head again;
    int status = prof_head_parse(out, n, cap, 1 << 20, &again);
    FUZZ_ASSERT(status == 200, "the canonical head is refused (%d): %s", status,
                again.why ? again.why : "");
    FUZZ_ASSERT(again.len == n, "read again as %zu bytes of %zu", again.len, n);
    FUZZ_ASSERT(again.method_len == h->method_len && memcmp(out, buf, h->method_len) == 0,
                "the method changed");
    FUZZ_ASSERT(again.target_off == h->method_len + 1 && out[again.target_off] == '/' &&
                !again.target_root, "the target is not a path");
    FUZZ_ASSERT(!again.chunked && !again.expect_continue &&
                again.content_length == (h->chunked || h->has_length ? 7u : 0u),
                "the framing was not rewritten");
    free(out);
}

static void check_front(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    prof_head h;
    int status = prof_head_parse(buf, size, 8192, 1 << 20, &h);
    if (status == PROF_HEAD_MORE)
        return;
    if (status != 200) {
        FUZZ_ASSERT(h.why != NULL && h.why[0] != '\0', "refused %d without a reason", status);
        return;
    }
    FUZZ_ASSERT(h.len <= size && h.headers <= PROF_HEAD_MAX_HEADERS, "head %zu, %d headers",
                h.len, h.headers);
    if (!h.asterisk)
        check_canonical(buf, &h);
    if (!h.chunked)
        return;
    size_t blen = size - h.len;
    char *body = malloc(blen + 1);
    FUZZ_ASSERT(body != NULL, "out of memory");
    memcpy(body, buf + h.len, blen);
    prof_chunked c = {0};
    bool done;
    long used = prof_chunked_feed(&c, body, blen, body, 1 << 20, &done);
    FUZZ_ASSERT(used < 0 || (size_t)used <= blen, "used %ld of %zu", used, blen);
    FUZZ_ASSERT(c.copied <= blen && c.copied <= c.total, "decoded %llu of %zu bytes",
                (unsigned long long)c.copied, blen);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16 * 1024)
        return 0;
    unsigned flags = data[0];
    if (flags & 8) {
        check_front(data + 1, size - 1);
        return 0;
    }
    size_t pos = 1, plen, qlen, hlen, blen = size - 1;
    char *path = part(data, size, &pos, &plen);
    char *query = part(data, size, &pos, &qlen);
    char *headers = part(data, size, &pos, &hlen);
    blen = size - pos;
    const char *body = (const char *)data + pos; /* not NUL-terminated, as from mg_read */

    check_escape(path, plen);
    check_escape(query, qlen);
    check_escape(body, blen);
    check_path(path);
    check_query(query);
    check_query(NULL);
    check_headers(headers);
    check_body(body, blen, flags);
    /* GET /debug/pprof/symbol?0xA+0xB reads the query as the body. */
    check_body(query, qlen, 0);

    free(headers);
    free(query);
    free(path);
    return 0;
}
