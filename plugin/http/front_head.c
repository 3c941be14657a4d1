/* The front's request parsing and peer header: see front.h. Pure code,
 * no I/O but the secret's getrandom. */
#include "http/front.h"

#include "pf_common.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* RFC 9110 tchar: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Offset just past the blank line that ends the head, or 0. */
static size_t head_end(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Length of the line at p (up to end) without its "\r\n" or "\n". */
static size_t line_len(const char *p, const char *end, size_t *with_end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)(nl - p);
    *with_end = n + 1;
    return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

typedef struct head_fields {
    bool has_length, has_coding;
    uint64_t length;
} head_fields;

/* The status to answer, with its reason. */
static int bad(prof_head *out, int status, const char *why)
{
    out->why = why;
    return status;
}

/* Methods civetweb 1.15 hands to its handler; it answers others (TRACE)
 * itself, unlogged. */
static bool known_method(const char *m, size_t n)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                        "PATCH"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strlen(known[i]) == n && memcmp(m, known[i], n) == 0)
            return true;
    return false;
}

/* The target t[0, n): origin form (/path?query), absolute form
 * (http://authority/path?query: its path and query are served, RFC 9112
 * section 3.2.2), or * for OPTIONS. Sets out->target_*. */
static int parse_target(const char *t, size_t n, bool options, prof_head *out)
{
    out->target_off = 0;
    out->target_len = n;
    if (t[0] == '/')
        return 200;
    if (n == 1 && t[0] == '*')
        return options ? (out->asterisk = true, 200)
                       : bad(out, 400, "the target * is for OPTIONS only");
    size_t scheme = n > 7 && strncasecmp(t, "http://", 7) == 0    ? 7
                    : n > 8 && strncasecmp(t, "https://", 8) == 0 ? 8
                                                                  : 0;
    if (scheme == 0)
        return bad(out, 400, "a request target that is neither a path (/...), an http(s) URL "
                             "nor * (OPTIONS)");
    size_t path = scheme;
    while (path < n && t[path] != '/' && t[path] != '?')
        path++;
    if (path == scheme)
        return bad(out, 400, "an absolute URL without a host");
    if (memchr(t + scheme, '@', path - scheme) != NULL)
        return bad(out, 400, "an absolute URL with userinfo (user@host)");
    out->target_off = path;
    out->target_len = n - path;
    out->target_root = path == n || t[path] != '/'; /* http://x?q is /?q */
    return 200;
}

/* METHOD SP TARGET SP HTTP/1.x */
static int parse_request_line(const char *p, size_t n, prof_head *out)
{
    static const char malformed[] = "a malformed request line (expected METHOD TARGET "
                                    "HTTP/1.1)";
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return bad(out, 400, malformed);
    out->method_len = i++;
    size_t target = i;
    while (i < n && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == target || i >= n || p[i++] != ' ' || n - i != 8 ||
        (memcmp(p + i, "HTTP/1.1", 8) != 0 && memcmp(p + i, "HTTP/1.0", 8) != 0))
        return bad(out, 400, malformed);
    if (!known_method(p, out->method_len))
        return bad(out, 501, "a method the profiler does not know (it serves GET and POST)");
    int status = parse_target(p + target, i - 1 - target, out->method_len == 7 &&
                              memcmp(p, "OPTIONS", 7) == 0, out);
    out->target_off += target;
    return status;
}

/* The value of a header line, without surrounding blanks. */
static void trim(const char **v, size_t *n)
{
    while (*n > 0 && (**v == ' ' || **v == '\t'))
        (*v)++, (*n)--;
    while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

static bool parse_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 15)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* Splits a header line into its name and trimmed value: false when it
 * has no name with a colon right after it. */
static bool split_header(const char *p, size_t n, size_t *name, const char **v, size_t *vn)
{
    *name = 0;
    while (*name < n && is_tchar((unsigned char)p[*name]))
        (*name)++;
    if (*name == 0 || *name >= n || p[*name] != ':')
        return false;
    *v = p + *name + 1;
    *vn = n - *name - 1;
    trim(v, vn);
    return true;
}

static bool named(const char *p, size_t name, const char *want)
{
    return name == strlen(want) && strncasecmp(p, want, name) == 0;
}

/* One header line: 200, or the status to answer. */
static int header_line(const char *p, size_t n, head_fields *f, prof_head *out)
{
    size_t name, vn;
    const char *v;
    if (!split_header(p, n, &name, &v, &vn))
        return bad(out, 400, "a header line without a name and a colon right after it (or a "
                             "folded line, obs-fold)");
    for (const char *c = p + name + 1; c < p + n; c++)
        if (((unsigned char)*c < ' ' && *c != '\t') || *c == 0x7f)
            return bad(out, 400, "a control character in a header value");
    if (memchr(v, '\t', vn) != NULL) /* civetweb 1.15 refuses it, unlogged */
        return bad(out, 400, "a tab inside a header value");
    if (++out->headers > PROF_HEAD_MAX_HEADERS)
        return bad(out, 431, "more than 63 header lines: the server behind the front keeps 64, "
                             "with the profiler's own, and would drop the rest");
    if (named(p, name, PROF_FRONT_PEER_HEADER))
        return bad(out, 400, "the header " PROF_FRONT_PEER_HEADER " is the profiler's own");
    if (named(p, name, "Content-Length")) {
        uint64_t len;
        if (!parse_length(v, vn, &len))
            return bad(out, 400, "a Content-Length that is not a plain number");
        if (f->has_length && len != f->length)
            return bad(out, 400, "conflicting Content-Length headers");
        f->has_length = true;
        f->length = len;
    } else if (named(p, name, "Transfer-Encoding")) {
        if (f->has_coding)
            return bad(out, 400, "two Transfer-Encoding headers");
        if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
            return bad(out, 501, "a transfer coding other than chunked");
        f->has_coding = true;
        out->chunked = true;
    } else if (named(p, name, "Expect")) {
        out->expect_continue = vn == 12 && strncasecmp(v, "100-continue", 12) == 0;
    }
    return 200;
}

int prof_head_parse(const char *buf, size_t n, size_t max_head, uint64_t max_body,
                    prof_head *out)
{
    size_t end = head_end(buf, n);
    static const char too_large[] = "a request line and headers over max_header_bytes";
    if (end == 0) {
        /* A bad request line is refused at once (HTTP/0.9 has no more). */
        const char *nl = memchr(buf, '\n', n);
        size_t step;
        *out = (prof_head){0};
        int status = nl ? parse_request_line(buf, line_len(buf, buf + n, &step), out) : 200;
        if (status != 200)
            return status;
        return n >= max_head ? bad(out, 431, too_large) : PROF_HEAD_MORE;
    }
    if (end > max_head)
        return bad(out, 431, too_large);
    *out = (prof_head){.len = end};
    const char *p = buf, *stop = buf + end;
    size_t step, len = line_len(p, stop, &step);
    int status = parse_request_line(p, len, out);
    if (status != 200)
        return status;
    out->line_len = step;
    head_fields f = {0};
    for (p += step; (len = line_len(p, stop, &step)) > 0; p += step) {
        status = header_line(p, len, &f, out);
        if (status != 200)
            return status;
    }
    if (f.has_length && f.has_coding) /* ambiguous framing: a smuggling attempt */
        return bad(out, 400, "Content-Length together with Transfer-Encoding");
    if (f.length > max_body)
        return bad(out, 413, "a request body over 1 MiB");
    out->content_length = f.length;
    out->has_length = f.has_length;
    return 200;
}

/* Appends s[0, n) to out at *at, within cap; false once it does not fit. */
static bool put(char *out, size_t cap, size_t *at, const char *s, size_t n)
{
    if (*at + n > cap)
        return false;
    memcpy(out + *at, s, n);
    *at += n;
    return true;
}

size_t prof_head_canonical(const char *buf, const prof_head *head, const char *extra,
                           uint64_t body_len, char *out, size_t cap)
{
    size_t at = 0, step, len = line_len(buf, buf + head->len, &step);
    bool ok = put(out, cap, &at, buf, head->method_len + 1) &&
              (!head->target_root || put(out, cap, &at, "/", 1)) &&
              put(out, cap, &at, buf + head->target_off, head->target_len) &&
              put(out, cap, &at, buf + len - 9, 9) && put(out, cap, &at, "\r\n", 2) &&
              put(out, cap, &at, extra, strlen(extra));
    for (const char *p = buf + step; ok && (len = line_len(p, buf + head->len, &step)) > 0;
         p += step) {
        size_t name, vn;
        const char *v;
        split_header(p, len, &name, &v, &vn);
        if (named(p, name, "Content-Length") || named(p, name, "Transfer-Encoding") ||
            named(p, name, "Expect"))
            continue; /* the body goes on whole, under one Content-Length */
        ok = put(out, cap, &at, p, name) && put(out, cap, &at, ": ", 2) &&
             put(out, cap, &at, v, vn) && put(out, cap, &at, "\r\n", 2);
    }
    char length[48];
    int n = snprintf(length, sizeof length, "Content-Length: %llu\r\n",
                     (unsigned long long)body_len);
    ok = ok && (!(head->chunked || head->has_length) || put(out, cap, &at, length, (size_t)n)) &&
         put(out, cap, &at, "\r\n", 2);
    return ok ? at : 0;
}

/* ---- chunked bodies ---- */

enum {
    CH_SIZE,       /* hex digits of a chunk size */
    CH_EXT,        /* ignoring ";ext" up to the line end */
    CH_DATA,       /* `left` bytes of data */
    CH_DATA_END,   /* the CRLF after the data */
    CH_TRAILER,    /* at the start of a trailer line */
    CH_TRAILER_LINE,
    CH_LAST_LF,    /* the final CR seen, its LF to come */
};

/* The end of a size line: on to the data, or to the trailer after 0. */
static long size_line_end(prof_chunked *c, uint64_t max_body)
{
    if (!c->digits)
        return -400;
    if (c->total + c->left > max_body)
        return -413;
    c->state = c->left == 0 ? CH_TRAILER : CH_DATA;
    c->total += c->left;
    return 0;
}

/* One byte outside chunk data: 0, 1 when the body ended, or -status. */
static long chunked_byte(prof_chunked *c, char ch, uint64_t max_body)
{
    int h;
    switch (c->state) {
    case CH_SIZE:
        if ((h = pf_hex_digit(ch)) >= 0) {
            if (c->left > (UINT64_MAX >> 4))
                return -413;
            c->left = c->left * 16 + (uint64_t)h;
            c->digits = true;
            return 0;
        }
        if (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r') {
            c->state = CH_EXT;
            return 0;
        }
        return ch == '\n' ? size_line_end(c, max_body) : -400;
    case CH_EXT:
        return ch == '\n' ? size_line_end(c, max_body) : 0;
    case CH_DATA_END:
        if (ch == '\n') {
            c->state = CH_SIZE;
            c->left = 0;
            c->digits = false;
        }
        return ch == '\r' || ch == '\n' ? 0 : -400;
    case CH_TRAILER:
        if (ch == '\n')
            return 1;
        c->state = ch == '\r' ? CH_LAST_LF : CH_TRAILER_LINE;
        return 0;
    case CH_TRAILER_LINE:
        if (ch == '\n')
            c->state = CH_TRAILER;
        return 0;
    case CH_LAST_LF:
        return ch == '\n' ? 1 : -400;
    }
    return -400;
}

long prof_chunked_feed(prof_chunked *c, const char *p, size_t n, char *out, uint64_t max_body,
                       bool *done)
{
    *done = false;
    size_t i = 0;
    while (i < n) {
        if (c->state == CH_DATA) {
            size_t take = c->left < n - i ? (size_t)c->left : n - i;
            if (out != NULL)
                memmove(out + c->copied, p + i, take);
            c->copied += take;
            i += take;
            c->left -= take;
            if (c->left == 0)
                c->state = CH_DATA_END;
            continue;
        }
        long r = chunked_byte(c, p[i++], max_body);
        if (r < 0)
            return r;
        if (r == 1) {
            *done = true;
            break;
        }
    }
    return (long)i;
}

/* ---- the peer header ---- */

int prof_front_new_secret(char out[PROF_FRONT_SECRET_LEN + 1])
{
    unsigned char raw[PROF_FRONT_SECRET_LEN / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

bool prof_front_peer_check(const char *secret, const char *value, char *peer, size_t len)
{
    if (value == NULL || strlen(value) < PROF_FRONT_SECRET_LEN + 2)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < PROF_FRONT_SECRET_LEN; i++)
        diff |= (unsigned char)(secret[i] ^ value[i]);
    const char *addr = value + PROF_FRONT_SECRET_LEN + 1;
    size_t alen = strspn(addr, "0123456789.:");
    char link[PROF_FRONT_LINK_MAX];
    if (diff != 0 || value[PROF_FRONT_SECRET_LEN] != ' ' || alen == 0 || alen >= len ||
        !prof_front_peer_link(value, link))
        return false;
    snprintf(peer, len, "%.*s", (int)alen, addr);
    return true;
}

bool prof_front_peer_link(const char *value, char link[PROF_FRONT_LINK_MAX])
{
    if (value == NULL || strlen(value) < PROF_FRONT_SECRET_LEN + 2)
        return false;
    const char *addr = value + PROF_FRONT_SECRET_LEN + 1;
    size_t alen = strspn(addr, "0123456789.:");
    const char *name = addr + alen + 1;
    size_t nlen = addr[alen] == ' ' ? strspn(name, "0123456789abcdef") : 0;
    if (nlen == 0 || nlen >= PROF_FRONT_LINK_MAX || name[nlen] != '\0')
        return false;
    memcpy(link, name, nlen);
    link[nlen] = '\0';
    return true;
}
