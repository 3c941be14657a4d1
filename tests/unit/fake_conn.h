/*
 * tests/unit/fake_conn.h - a fake civetweb connection, to drive the
 * plugin's HTTP handlers in unit tests without a socket.
 *
 * fake_conn.c defines the mg_* functions that act on a connection:
 *   mg_get_request_info, mg_get_header, mg_read, mg_write, mg_printf,
 *   mg_get_user_connection_data, mg_set_user_connection_data,
 *   mg_get_context, mg_get_user_data (on the fake's context),
 *   mg_send_http_ok, mg_send_http_error, mg_send_http_redirect.
 * A test binary that links fake_conn.o (Makefile: FAKE_CONN_TESTS) has
 * these in the executable, which takes precedence over libcivetweb.so's,
 * for the plugin's code and for civetweb's own calls alike. Called on a
 * connection that is not a fake, each one forwards to libcivetweb's own
 * (dlsym RTLD_NEXT), so a real server (prof_http_start) still works in the
 * same process. Functions that act on no connection (mg_get_var, mg_start2,
 * ...) are libcivetweb's.
 *
 * A fake holds a request (method, target with its query, headers, a body
 * that mg_read hands out) and captures everything written to it, which the
 * fake_conn_status/_header/_body helpers read back as an HTTP response.
 * Thread-safe to use from one thread at a time (a handler may run on a
 * thread of its own, as http.c's deep handlers do).
 */
#ifndef TAKHIN_TESTS_FAKE_CONN_H
#define TAKHIN_TESTS_FAKE_CONN_H

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fake_conn fake_conn;

/* A request "METHOD target", e.g. ("GET", "/debug/pprof/heap?debug=1"):
 * the query is what follows '?'. From 127.0.0.1:40000, no body
 * (content_length -1), HTTP/1.1. Aborts when out of memory. */
fake_conn *fake_conn_new(const char *method, const char *target);
void fake_conn_free(fake_conn *c); /* NULL is fine */

/* Adds a request header (at most MG_MAX_HEADERS). */
void fake_conn_add_header(fake_conn *c, const char *name, const char *value);
/* The body mg_read hands out; sets content_length to len. */
void fake_conn_set_body(fake_conn *c, const void *body, size_t len);
/* The Content-Length the request declares (-1: none, as chunked), which
 * may differ from the body's size: a client that sent less than it said. */
void fake_conn_set_content_length(fake_conn *c, long long declared);
/* After the body, mg_read returns -1 (a broken chunk, a connection that
 * ended) instead of 0. */
void fake_conn_fail_read_at_end(fake_conn *c);
/* Each mg_read returns at most `max` bytes (0: as many as asked). */
void fake_conn_set_read_chunk(fake_conn *c, size_t max);
/* What mg_get_user_data(mg_get_context(conn)) returns (NULL by default). */
void fake_conn_set_user_data(fake_conn *c, void *user_data);

/* The civetweb handles of the fake. */
struct mg_connection *fake_conn_mg(fake_conn *c);
const struct mg_request_info *fake_conn_info(const fake_conn *c);
/* True if conn is a live fake. */
bool fake_conn_is_fake(const struct mg_connection *conn);

/* Everything written so far (NUL-terminated; *len without the NUL). */
const char *fake_conn_output(const fake_conn *c, size_t *len);
/* Calls of mg_write and mg_printf on this fake (whatever their origin). */
unsigned fake_conn_writes(const fake_conn *c);
/* Bytes the handler took with mg_read. */
size_t fake_conn_body_read(const fake_conn *c);

/* The response as written: the status of its "HTTP/1.x NNN ..." line, or
 * -1 when nothing parses as one. */
int fake_conn_status(const fake_conn *c);
/* The value of response header `name` (any case), copied into buf;
 * NULL when absent or when the header block never ended. */
const char *fake_conn_header(const fake_conn *c, const char *name, char *buf, size_t len);
/* How many times response header `name` appears. */
int fake_conn_header_count(const fake_conn *c, const char *name);
/* The body: what follows the blank line that ends the headers (NULL when
 * there is none); *len its size. */
const char *fake_conn_body(const fake_conn *c, size_t *len);

#endif
