/* Responses: see http.h. Every response records its status and size in
 * the request's exchange (for the access log and metrics). */
#include "http/http.h"
#include "http/request.h"

#include <stdarg.h>
#include <stdio.h>

void prof_http_record(struct mg_connection *conn, int status, size_t bytes)
{
    prof_exchange *ex = mg_get_user_connection_data(conn);
    if (ex != NULL) {
        ex->status = status;
        ex->bytes += bytes;
    }
}

void prof_http_send(struct mg_connection *conn, int status, const char *content_type,
                    const char *extra_headers, const void *body, size_t len)
{
    prof_http_record(conn, status, len);
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\n"
              "Content-Type: %s\r\n"
              "Content-Length: %zu\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "Cache-Control: no-store\r\n"
              "Connection: close\r\n"
              "%s\r\n",
              status, prof_request_reason(status), content_type, len,
              extra_headers ? extra_headers : "");
    if (len > 0)
        mg_write(conn, body, len);
}

static void send_error_v(struct mg_connection *conn, int status, const char *extra,
                         const char *fmt, va_list ap)
{
    char body[2048];
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    char headers[512];
    snprintf(headers, sizeof headers, "X-Go-Pprof: 1\r\n%s", extra ? extra : "");
    prof_http_send(conn, status, "text/plain; charset=utf-8", headers, body, (size_t)n);
}

void prof_http_error(struct mg_connection *conn, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(conn, status, NULL, fmt, ap);
    va_end(ap);
}

void prof_http_error_headers(struct mg_connection *conn, int status, const char *extra,
                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(conn, status, extra, fmt, ap);
    va_end(ap);
}

