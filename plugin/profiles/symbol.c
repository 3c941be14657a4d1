/* /debug/pprof/symbol: see symbol.h. */
#include "profiles/symbol.h"

#include "http/request.h"

#include "pf_symbolize.h"
#include "pf_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses one word: "0x1f" or "31". 0 and *out, or -1. */
static int parse_word(const char *w, size_t n, uint64_t *out)
{
    char text[24];
    if (n == 0 || n >= sizeof text)
        return -1;
    memcpy(text, w, n);
    text[n] = '\0';
    bool hex = n > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    for (size_t i = hex ? 2 : 0; i < n; i++)
        if (!(hex ? isxdigit((unsigned char)text[i]) : isdigit((unsigned char)text[i])))
            return -1;
    errno = 0;
    *out = strtoull(text, NULL, hex ? 16 : 10);
    return errno == 0 ? 0 : -1;
}

long prof_symbol_parse(const char *body, size_t len, uint64_t *addrs, size_t max,
                       char *err, size_t errlen)
{
    while (len > 0 && isspace((unsigned char)body[len - 1]))
        len--; /* a trailing newline is common */
    if (len == 0)
        return 0;
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && body[i] != '+')
            continue;
        if (count == max) {
            snprintf(err, errlen, "too many addresses: at most %zu per request", max);
            return -1;
        }
        if (parse_word(body + start, i - start, &addrs[count]) != 0) {
            snprintf(err, errlen, "malformed address \"%.*s\" at byte %zu: expected "
                     "addresses such as 0x4005d0 joined by '+'",
                     (int)(i - start > 40 ? 40 : i - start), body + start, start);
            return -1;
        }
        count++;
        start = i + 1;
    }
    return (long)count;
}

/* Reads the whole request body: 0; 413 over PROF_SYMBOL_MAX_BODY bytes;
 * 500 out of memory; 400 with err when the body is broken. mg_read
 * returns 0 at the end of a complete body, and -1 for a malformed chunk
 * or a connection that ended (or timed out) before the last chunk; for a
 * Content-Length body it returns 0 also when the connection ends early,
 * so the bytes are counted against the length declared. */
static int read_body(prof_request *req, pf_strbuf *body, char *err, size_t errlen)
{
    char chunk[8192];
    int n;
    while ((n = mg_read(req->conn, chunk, sizeof chunk)) > 0) {
        if (body->len + (size_t)n > PROF_SYMBOL_MAX_BODY)
            return 413;
        pf_strbuf_put(body, chunk, (size_t)n);
    }
    if (body->failed)
        return 500;
    return prof_request_body_end(req->info->content_length, body->len, n < 0, err, errlen) == 0
               ? 0 : 400;
}

static void answer(prof_request *req, const char *text, size_t len)
{
    pf_symbolizer *sym = req->ctx;
    size_t max = len / 2 + 1; /* "1+" is the shortest form of one address */
    uint64_t *addrs = malloc(max * sizeof *addrs);
    char err[256];
    long n = addrs ? prof_symbol_parse(text, len, addrs, max, err, sizeof err) : -1;
    if (addrs == NULL) {
        prof_http_error(req->conn, 500, "out of memory");
        return;
    }
    if (n < 0) {
        prof_http_error(req->conn, 400, "%s", err);
        free(addrs);
        return;
    }
    pf_strbuf out = {0};
    pf_strbuf_printf(&out, "num_symbols: 1\n");
    for (long i = 0; i < n; i++) {
        char name[1024];
        if (pf_symbolize_name(sym, addrs[i], name, sizeof name))
            pf_strbuf_printf(&out, "%#llx %s\n", (unsigned long long)addrs[i], name);
    }
    if (out.failed)
        prof_http_error(req->conn, 500, "out of memory");
    else
        prof_http_send(req->conn, 200, "text/plain; charset=utf-8", NULL, out.s, out.len);
    free(out.s);
    free(addrs);
}

void prof_symbol_handle(prof_request *req)
{
    const char *query = req->info->query_string;
    if (strcmp(req->info->request_method, "GET") == 0) {
        if (query == NULL || query[0] == '\0') {
            static const char one[] = "num_symbols: 1\n";
            prof_http_send(req->conn, 200, "text/plain; charset=utf-8", NULL, one,
                           sizeof one - 1);
        } else {
            answer(req, query, strlen(query)); /* GET ?0xA+0xB, as Go allows */
        }
        return;
    }
    pf_strbuf body = {0};
    char err[256];
    int status = read_body(req, &body, err, sizeof err);
    if (status == 413)
        prof_http_error(req->conn, 413, "request body too large: at most %d bytes of "
                        "addresses; split the lookup", PROF_SYMBOL_MAX_BODY);
    else if (status == 500)
        prof_http_error(req->conn, 500, "out of memory");
    else if (status == 400)
        prof_http_error(req->conn, 400, "%s", err);
    else
        answer(req, body.s ? body.s : "", body.len);
    free(body.s);
}
