/* A fake civetweb connection for handler tests: see fake_conn.h. */
#include "fake_conn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What mg_get_context returns for a fake: mg_get_user_data reads it. */
typedef struct fake_ctx {
    void *user_data;
} fake_ctx;

struct fake_conn {
    struct mg_request_info info;
    char *method, *uri, *query;
    char *hname[MG_MAX_HEADERS], *hvalue[MG_MAX_HEADERS];
    /* the request body */
    char *body;
    size_t body_len, body_pos, read_chunk;
    bool fail_at_end;
    /* the response */
    char *out;
    size_t out_len, out_cap;
    unsigned writes;
    void *conn_data;
    fake_ctx ctx;
    fake_conn *next; /* the live fakes */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static fake_conn *live;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- libcivetweb's own, for connections that are not fakes ---- */

static struct {
    int (*write)(struct mg_connection *, const void *, size_t);
    int (*read)(struct mg_connection *, void *, size_t);
    const char *(*get_header)(const struct mg_connection *, const char *);
    const struct mg_request_info *(*get_request_info)(const struct mg_connection *);
    void *(*get_user_connection_data)(const struct mg_connection *);
    void (*set_user_connection_data)(const struct mg_connection *, void *);
    struct mg_context *(*get_context)(const struct mg_connection *);
    void *(*get_user_data)(const struct mg_context *);
    int (*send_http_ok)(struct mg_connection *, const char *, long long);
    int (*send_http_error)(struct mg_connection *, int, const char *, ...);
    int (*send_http_redirect)(struct mg_connection *, const char *, int);
} real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void *next_symbol(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) {
        fprintf(stderr, "fake_conn: no %s after the executable: is -lcivetweb linked?\n", name);
        abort();
    }
    return f;
}

static void find_real(void)
{
    *(void **)&real.write = next_symbol("mg_write");
    *(void **)&real.read = next_symbol("mg_read");
    *(void **)&real.get_header = next_symbol("mg_get_header");
    *(void **)&real.get_request_info = next_symbol("mg_get_request_info");
    *(void **)&real.get_user_connection_data = next_symbol("mg_get_user_connection_data");
    *(void **)&real.set_user_connection_data = next_symbol("mg_set_user_connection_data");
    *(void **)&real.get_context = next_symbol("mg_get_context");
    *(void **)&real.get_user_data = next_symbol("mg_get_user_data");
    *(void **)&real.send_http_ok = next_symbol("mg_send_http_ok");
    *(void **)&real.send_http_error = next_symbol("mg_send_http_error");
    *(void **)&real.send_http_redirect = next_symbol("mg_send_http_redirect");
}

#define REAL(f) (pthread_once(&real_once, find_real), real.f)

/* The fake behind conn, or NULL when conn is not one. */
static fake_conn *as_fake(const struct mg_connection *conn)
{
    pthread_mutex_lock(&live_lock);
    fake_conn *c = live;
    while (c != NULL && (const struct mg_connection *)(const void *)c != conn)
        c = c->next;
    pthread_mutex_unlock(&live_lock);
    return c;
}

static fake_conn *as_fake_ctx(const struct mg_context *ctx)
{
    pthread_mutex_lock(&live_lock);
    fake_conn *c = live;
    while (c != NULL && (const struct mg_context *)(const void *)&c->ctx != ctx)
        c = c->next;
    pthread_mutex_unlock(&live_lock);
    return c;
}

bool fake_conn_is_fake(const struct mg_connection *conn)
{
    return as_fake(conn) != NULL;
}

/* ---- building a request ---- */

fake_conn *fake_conn_new(const char *method, const char *target)
{
    fake_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    const char *q = strchr(target, '?');
    c->method = xstrndup(method, strlen(method));
    c->uri = xstrndup(target, q ? (size_t)(q - target) : strlen(target));
    c->query = q ? xstrndup(q + 1, strlen(q + 1)) : NULL;
    c->info.request_method = c->method;
    c->info.request_uri = c->uri;
    c->info.local_uri_raw = c->uri;
    c->info.local_uri = c->uri;
    c->info.http_version = "1.1";
    c->info.query_string = c->query;
    snprintf(c->info.remote_addr, sizeof c->info.remote_addr, "127.0.0.1");
    c->info.remote_port = 40000;
    c->info.server_port = 6060;
    c->info.content_length = -1;
    c->out = xmalloc(c->out_cap = 256);
    c->out[0] = '\0';
    pthread_mutex_lock(&live_lock);
    c->next = live;
    live = c;
    pthread_mutex_unlock(&live_lock);
    return c;
}

void fake_conn_free(fake_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&live_lock);
    for (fake_conn **p = &live; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    for (int i = 0; i < c->info.num_headers; i++) {
        free(c->hname[i]);
        free(c->hvalue[i]);
    }
    free(c->method);
    free(c->uri);
    free(c->query);
    free(c->body);
    free(c->out);
    free(c);
}

void fake_conn_add_header(fake_conn *c, const char *name, const char *value)
{
    int i = c->info.num_headers;
    if (i >= MG_MAX_HEADERS)
        abort();
    c->hname[i] = xstrndup(name, strlen(name));
    c->hvalue[i] = xstrndup(value, strlen(value));
    c->info.http_headers[i].name = c->hname[i];
    c->info.http_headers[i].value = c->hvalue[i];
    c->info.num_headers = i + 1;
}

void fake_conn_set_body(fake_conn *c, const void *body, size_t len)
{
    free(c->body);
    c->body = xmalloc(len);
    memcpy(c->body, body, len);
    c->body_len = len;
    c->body_pos = 0;
    c->info.content_length = (long long)len;
}

void fake_conn_set_content_length(fake_conn *c, long long declared)
{
    c->info.content_length = declared;
}

void fake_conn_fail_read_at_end(fake_conn *c)
{
    c->fail_at_end = true;
}

void fake_conn_set_read_chunk(fake_conn *c, size_t max)
{
    c->read_chunk = max;
}

void fake_conn_set_user_data(fake_conn *c, void *user_data)
{
    c->ctx.user_data = user_data;
}

struct mg_connection *fake_conn_mg(fake_conn *c)
{
    return (struct mg_connection *)(void *)c;
}

const struct mg_request_info *fake_conn_info(const fake_conn *c)
{
    return &c->info;
}

/* ---- reading the response ---- */

const char *fake_conn_output(const fake_conn *c, size_t *len)
{
    if (len != NULL)
        *len = c->out_len;
    return c->out;
}

unsigned fake_conn_writes(const fake_conn *c)
{
    return c->writes;
}

size_t fake_conn_body_read(const fake_conn *c)
{
    return c->body_pos;
}

int fake_conn_status(const fake_conn *c)
{
    const char *o = c->out;
    if (c->out_len < 12 || strncmp(o, "HTTP/1.", 7) != 0 || o[8] != ' ')
        return -1;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (o[i] < '0' || o[i] > '9')
            return -1;
        status = status * 10 + (o[i] - '0');
    }
    return o[12] == ' ' || o[12] == '\r' ? status : -1;
}

/* The end of the header block (the blank line), or NULL. */
static const char *headers_end(const fake_conn *c)
{
    return memmem(c->out, c->out_len, "\r\n\r\n", 4);
}

/* The text after "name:" in the nth header line of that name (0: the
 * first) of the response, or NULL. */
static const char *find_header(const fake_conn *c, const char *name, int nth)
{
    const char *end = headers_end(c);
    if (end == NULL)
        return NULL;
    size_t nlen = strlen(name);
    const char *line = strstr(c->out, "\r\n");
    while (line != NULL && line < end) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':' && nth-- == 0)
            return line + nlen + 1;
        line = strstr(line, "\r\n");
    }
    return NULL;
}

const char *fake_conn_header(const fake_conn *c, const char *name, char *buf, size_t len)
{
    const char *v = find_header(c, name, 0);
    if (v == NULL || len == 0)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = (size_t)(strstr(v, "\r\n") - v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= len)
        n = len - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

int fake_conn_header_count(const fake_conn *c, const char *name)
{
    int n = 0;
    while (find_header(c, name, n) != NULL)
        n++;
    return n;
}

const char *fake_conn_body(const fake_conn *c, size_t *len)
{
    const char *end = headers_end(c);
    if (end == NULL) {
        *len = 0;
        return NULL;
    }
    *len = c->out_len - (size_t)(end + 4 - c->out);
    return end + 4;
}

/* ---- civetweb's functions ---- */

static void append(fake_conn *c, const void *data, size_t len)
{
    if (c->out_len + len + 1 > c->out_cap) {
        while (c->out_len + len + 1 > c->out_cap)
            c->out_cap *= 2;
        char *grown = realloc(c->out, c->out_cap);
        if (grown == NULL)
            abort();
        c->out = grown;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    c->out[c->out_len] = '\0';
    c->writes++;
}

int mg_write(struct mg_connection *conn, const void *buf, size_t len)
{
    fake_conn *c = as_fake(conn);
    if (c == NULL)
        return REAL(write)(conn, buf, len);
    append(c, buf, len);
    return (int)len;
}

int mg_printf(struct mg_connection *conn, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    fake_conn *c = as_fake(conn);
    int rc = n;
    if (c != NULL)
        append(c, text, (size_t)n);
    else
        rc = REAL(write)(conn, text, (size_t)n);
    free(text);
    return rc;
}

int mg_read(struct mg_connection *conn, void *buf, size_t len)
{
    fake_conn *c = as_fake(conn);
    if (c == NULL)
        return REAL(read)(conn, buf, len);
    size_t limit = c->body_len;
    if (c->info.content_length >= 0 && (unsigned long long)c->info.content_length < limit)
        limit = (size_t)c->info.content_length; /* civetweb stops at the length declared */
    size_t n = limit - c->body_pos;
    if (n > len)
        n = len;
    if (c->read_chunk != 0 && n > c->read_chunk)
        n = c->read_chunk;
    if (n == 0)
        return c->fail_at_end ? -1 : 0;
    memcpy(buf, c->body + c->body_pos, n);
    c->body_pos += n;
    return (int)n;
}

const struct mg_request_info *mg_get_request_info(const struct mg_connection *conn)
{
    fake_conn *c = as_fake(conn);
    return c != NULL ? &c->info : REAL(get_request_info)(conn);
}

const char *mg_get_header(const struct mg_connection *conn, const char *name)
{
    fake_conn *c = as_fake(conn);
    if (c == NULL)
        return REAL(get_header)(conn, name);
    for (int i = 0; i < c->info.num_headers; i++)
        if (strcasecmp(c->info.http_headers[i].name, name) == 0)
            return c->info.http_headers[i].value;
    return NULL;
}

void *mg_get_user_connection_data(const struct mg_connection *conn)
{
    fake_conn *c = as_fake(conn);
    return c != NULL ? c->conn_data : REAL(get_user_connection_data)(conn);
}

void mg_set_user_connection_data(const struct mg_connection *conn, void *data)
{
    fake_conn *c = as_fake(conn);
    if (c != NULL) {
        c->conn_data = data;
        c->info.conn_data = data;
    } else {
        REAL(set_user_connection_data)(conn, data);
    }
}

struct mg_context *mg_get_context(const struct mg_connection *conn)
{
    fake_conn *c = as_fake(conn);
    return c != NULL ? (struct mg_context *)(void *)&c->ctx : REAL(get_context)(conn);
}

void *mg_get_user_data(const struct mg_context *ctx)
{
    fake_conn *c = as_fake_ctx(ctx);
    return c != NULL ? c->ctx.user_data : REAL(get_user_data)(ctx);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    default: return "Unknown";
    }
}

int mg_send_http_ok(struct mg_connection *conn, const char *mime_type, long long content_length)
{
    if (as_fake(conn) == NULL)
        return REAL(send_http_ok)(conn, mime_type, content_length);
    if (content_length < 0)
        mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n", mime_type);
    else
        mg_printf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %lld\r\n\r\n",
                  mime_type, content_length);
    return 0;
}

int mg_send_http_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = 0;
    if (as_fake(conn) == NULL)
        rc = REAL(send_http_error)(conn, status, "%s", text);
    else
        mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                  status, reason(status), n, text);
    free(text);
    return rc;
}

int mg_send_http_redirect(struct mg_connection *conn, const char *target_url, int redirect_code)
{
    if (as_fake(conn) == NULL)
        return REAL(send_http_redirect)(conn, target_url, redirect_code);
    mg_printf(conn, "HTTP/1.1 %d %s\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
              redirect_code, reason(redirect_code), target_url);
    return 0;
}
