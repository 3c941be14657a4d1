/* The front's request parsing and peer header: see front.h. Pure code,
 * no I/O but the secret's getrandom. */
#include "http/front.h"

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

/* METHOD SP TARGET SP HTTP/1.x */
static bool valid_request_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i++] != ' ')
        return false;
    size_t target = i;
    while (i < n && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
        i++;
    if (i == target || i >= n || p[i++] != ' ')
        return false;
    return n - i == 8 && (memcmp(p + i, "HTTP/1.1", 8) == 0 || memcmp(p + i, "HTTP/1.0", 8) == 0);
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

typedef struct head_fields {
    bool has_length, has_coding;
    uint64_t length;
} head_fields;

/* One header line: 200, or the status to answer. */
static int bad(prof_head *out, int status, const char *why)
{
    out->why = why;
    return status;
}

static int header_line(const char *p, size_t n, head_fields *f, prof_head *out)
{
    size_t name = 0;
    while (name < n && is_tchar((unsigned char)p[name]))
        name++;
    if (name == 0 || name >= n || p[name] != ':')
        return bad(out, 400, "a header line without a name and a colon right after it");
    const char *v = p + name + 1;
    size_t vn = n - name - 1;
    for (size_t i = 0; i < vn; i++)
        if (((unsigned char)v[i] < ' ' && v[i] != '\t') || v[i] == 0x7f)
            return bad(out, 400, "a control character in a header value");
    trim(&v, &vn);
    if (name == strlen(PROF_FRONT_PEER_HEADER) && strncasecmp(p, PROF_FRONT_PEER_HEADER, name) == 0)
        return bad(out, 400, "the header " PROF_FRONT_PEER_HEADER " is the profiler's own");
    if (name == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
        uint64_t len;
        if (!parse_length(v, vn, &len))
            return bad(out, 400, "a Content-Length that is not a plain number");
        if (f->has_length && len != f->length)
            return bad(out, 400, "conflicting Content-Length headers");
        f->has_length = true;
        f->length = len;
    } else if (name == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
        if (f->has_coding)
            return bad(out, 400, "two Transfer-Encoding headers");
        if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
            return bad(out, 501, "a transfer coding other than chunked");
        f->has_coding = true;
        out->chunked = true;
    } else if (name == 6 && strncasecmp(p, "Expect", 6) == 0) {
        out->expect_continue = vn == 12 && strncasecmp(v, "100-continue", 12) == 0;
    }
    return 200;
}

int prof_head_parse(const char *buf, size_t n, size_t max_head, uint64_t max_body,
                    prof_head *out)
{
    size_t end = head_end(buf, n);
    static const char too_large[] = "a request line and headers over max_header_bytes";
    if (end == 0)
        return n >= max_head ? bad(out, 431, too_large) : PROF_HEAD_MORE;
    if (end > max_head)
        return bad(out, 431, too_large);
    *out = (prof_head){.len = end};
    const char *p = buf, *stop = buf + end;
    size_t step, len = line_len(p, stop, &step);
    if (!valid_request_line(p, len))
        return bad(out, 400, "a malformed request line");
    out->line_len = step;
    head_fields f = {0};
    for (p += step; (len = line_len(p, stop, &step)) > 0; p += step) {
        int status = header_line(p, len, &f, out);
        if (status != 200)
            return status;
    }
    if (f.has_length && f.has_coding) /* ambiguous framing: a smuggling attempt */
        return bad(out, 400, "Content-Length together with Transfer-Encoding");
    if (f.length > max_body)
        return bad(out, 413, "a request body over 1 MiB");
    out->content_length = f.length;
    return 200;
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

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

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
        if ((h = hex_value(ch)) >= 0) {
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

long prof_chunked_feed(prof_chunked *c, const char *p, size_t n, uint64_t max_body,
                       bool *done)
{
    *done = false;
    size_t i = 0;
    while (i < n) {
        if (c->state == CH_DATA) {
            size_t take = c->left < n - i ? (size_t)c->left : n - i;
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
    if (diff != 0 || value[PROF_FRONT_SECRET_LEN] != ' ' || strlen(addr) >= len ||
        strspn(addr, "0123456789.:") != strlen(addr))
        return false;
    snprintf(peer, len, "%s", addr);
    return true;
}
