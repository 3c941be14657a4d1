/*
 * The plugin's HTTP handlers driven on a fake civetweb connection
 * (fake_conn.h): replies (plugin/http/reply.c), /debug/pprof/symbol,
 * cmdline and the index page (plugin/profiles/pages.c), named profiles (goroutine,
 * heap: plugin/profiles/named.c) and trace; and the fake itself: that its mg_*
 * are the ones the plugin calls, and that a real connection of a real
 * server in the same process is still served by civetweb.
 *
 * Each handler gets its own context (req->ctx), built in one place,
 * handler_context, as profiler.c builds them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_conn.h"
#include "pf_view.h"

#include "capture/events.h"
#include "capture/heap.h"
#include "capture/threads.h"
#include "capture/trace.h"
#include "http/http.h"
#include "http/metrics.h"
#include "pf_symbolize.h"
#include "profiles/goroutine.h"
#include "profiles/heap.h"
#include "profiles/named.h"
#include "profiles/pages.h"
#include "profiles/symbol.h"
#include "profiles/trace.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the host, as far as handlers reach it ---- */

static int hooks_calls;

static void host_log(tk_host *host, tk_log_level level, const char *fmt, ...)
{
    (void)host;
    (void)level;
    if (getenv("TK_TEST_VERBOSE") != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
}

static int host_register_command(tk_host *host, const char *prefix, const char *word,
                                 const char *usage, tk_command_fn fn)
{
    (void)host, (void)prefix, (void)word, (void)usage, (void)fn;
    return 0;
}

static int host_set_event_hooks(tk_host *host, const tk_event_hooks *hooks, void *ctx)
{
    (void)host, (void)hooks, (void)ctx;
    hooks_calls++;
    return 0;
}

static const tk_host_api host_api = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TK_ABI_MINOR,
    .size = sizeof(tk_host_api),
    .log = host_log,
    .register_command = host_register_command,
    .set_event_hooks = host_set_event_hooks,
};

/* ---- the handlers' context ---- */

static char *const test_argv[] = {"takhind", "-c", "configs/takhin.yaml", NULL};

typedef struct handler_env {
    prof_host ph;
    tk_process_info info;
    prof_settings settings;  /* what requests read (req->settings) */
    prof_metrics *metrics;
    pf_symbolizer *sym;
    prof_events *events;
    /* the endpoints' own contexts */
    prof_named goroutine, heap, allocs;
    prof_trace_endpoint trace;
    prof_http *http;         /* a real server on 127.0.0.1:0: the index, deltas
                                and traces ask it for its table, its stop flag
                                and its port */
} handler_env;

static handler_env env;

static long count_seven(void *ctx)
{
    assert_ptr_equal(ctx, &env.goroutine); /* a count gets its endpoint's context */
    return 7;
}

/* The table of the real server of these tests (the index page lists it). */
#define NENDPOINTS 7
static prof_endpoint endpoints[NENDPOINTS];

/* Builds each handler's context, as profiler.c does, and the table. */
static void handler_context(handler_env *e)
{
    char err[256];
    pf_err perr = {0};
    e->info = (tk_process_info){.argc = 3, .argv = test_argv, .pid = (int)getpid(),
                                .host_name = "takhind", .host_version = "test"};
    e->ph = (prof_host){&host_api, NULL};
    e->sym = pf_symbolizer_new(&perr);
    assert_non_null(e->sym);
    e->events = prof_events_new(&e->ph, 0, 0, err, sizeof err);
    assert_non_null(e->events);
    e->goroutine = (prof_named){.kind = &prof_threads_goroutine_kind, .sym = e->sym};
    e->heap = (prof_named){.kind = &prof_heap_kind, .sym = e->sym};
    e->allocs = (prof_named){.kind = &prof_heap_allocs_kind, .sym = e->sym};
    e->trace = (prof_trace_endpoint){.events = e->events, .process_name = "takhind",
                                     .ph = &e->ph};
    const prof_endpoint table[NENDPOINTS] = {
        {.name = "", .handler = prof_page_index, .description = "this page"},
        {.name = "allocs", .handler = prof_named_handle, .ctx = &e->allocs, .deep = true,
         .profile = true, .description = "allocations"},
        {.name = "cmdline", .handler = prof_page_cmdline, .ctx = &e->info,
         .description = "the command line, NUL-separated"},
        {.name = "goroutine", .handler = prof_named_handle, .ctx = &e->goroutine,
         .count = count_seven, .deep = true, .profile = true,
         .description = "stacks of all threads"},
        {.name = "heap", .handler = prof_named_handle, .ctx = &e->heap, .deep = true,
         .profile = true, .description = "live objects"},
        {.name = "symbol", .handler = prof_symbol_handle, .ctx = e->sym, .post = true,
         .deep = true, .description = "function names of addresses"},
        {.name = "trace", .handler = prof_trace_handle, .ctx = &e->trace, .deep = true,
         .profile = true, .description = "what each thread did"},
    };
    memcpy(endpoints, table, sizeof table);
}

static void free_context(handler_env *e)
{
    prof_events_free(e->events);
    pf_symbolizer_free(e->sym);
}

static int setup(void **state)
{
    (void)state;
    env.settings = (prof_settings){
        .host = "127.0.0.1", .port = 0, .cpu_hz = 100, .max_cpu_readers = 4,
        .max_duration = 120, .max_requests = 4, .max_queued = 16, .max_header_bytes = 8192,
        .request_timeout_ms = 10000, .header_timeout_ms = 2000, .max_conns_per_peer = 16,
        .max_conns = 64,
    };
    const char *names[NENDPOINTS];
    for (size_t i = 0; i < NENDPOINTS; i++)
        names[i] = endpoints[i].name;
    env.metrics = prof_metrics_new(names, NENDPOINTS);
    if (env.metrics == NULL)
        return -1;
    handler_context(&env);
    char err[256];
    if (prof_threads_init(err, sizeof err) != 0) {
        fprintf(stderr, "prof_threads_init: %s\n", err);
        return -1;
    }
    prof_http_config cfg = {
        .settings = env.settings, .endpoints = endpoints, .count = NENDPOINTS,
        .ph = &env.ph, .metrics = env.metrics,
    };
    env.http = prof_http_start(&cfg, err, sizeof err);
    if (env.http == NULL) {
        fprintf(stderr, "prof_http_start: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    prof_http_stop(env.http);
    prof_threads_fini();
    free_context(&env);
    prof_metrics_free(env.metrics);
    return 0;
}

/* ---- running a handler ---- */

/* Runs the handler of endpoint `name` on c as the dispatcher would (its
 * context, an exchange attached for the access log), and checks what every response must be: one status line,
 * recorded in the exchange, nosniff, and a Content-Length that is the
 * body's. */
static void run(const char *name, fake_conn *c)
{
    const prof_endpoint *ep = NULL;
    for (size_t i = 0; i < NENDPOINTS && ep == NULL; i++)
        if (strcmp(endpoints[i].name, name) == 0)
            ep = &endpoints[i];
    assert_non_null(ep);
    prof_exchange ex = {0};
    mg_set_user_connection_data(fake_conn_mg(c), &ex);
    prof_request req = {
        .conn = fake_conn_mg(c),
        .info = mg_get_request_info(fake_conn_mg(c)),
        .http = env.http,
        .ctx = ep->ctx,
        .settings = &env.settings,
    };
    ep->handler(&req);
    mg_set_user_connection_data(fake_conn_mg(c), NULL);
    int status = fake_conn_status(c);
    assert_in_range(status, 200, 599);
    assert_int_equal(ex.status, status);
    char v[64];
    assert_non_null(fake_conn_header(c, "X-Content-Type-Options", v, sizeof v));
    assert_string_equal(v, "nosniff");
    size_t len;
    assert_non_null(fake_conn_body(c, &len));
    assert_int_equal(ex.bytes, len);
    assert_non_null(fake_conn_header(c, "Content-Length", v, sizeof v));
    assert_int_equal(strtoull(v, NULL, 10), len);
}

/* A request with a body, its response run and checked; the caller frees. */
static fake_conn *request(const char *name, const char *method, const char *target,
                          const char *body)
{
    fake_conn *c = fake_conn_new(method, target);
    if (body != NULL)
        fake_conn_set_body(c, body, strlen(body));
    run(name, c);
    return c;
}

static void assert_body_has(const fake_conn *c, const char *text)
{
    size_t len;
    const char *body = fake_conn_body(c, &len);
    assert_non_null(body);
    if (memmem(body, len, text, strlen(text)) == NULL)
        fail_msg("body lacks \"%s\":\n%.*s", text, (int)(len > 2000 ? 2000 : len), body);
}

/* ---- the fake itself ---- */

static void test_fake_is_the_one_called(void **state)
{
    (void)state;
    /* The executable's definitions win over libcivetweb's, for everyone
     * who looks the name up (the plugin's archive is linked in, and
     * libcivetweb's own calls go through its PLT). */
    assert_ptr_equal(dlsym(RTLD_DEFAULT, "mg_write"), (void *)mg_write);
    void *theirs = dlsym(RTLD_NEXT, "mg_write");
    assert_non_null(theirs);
    assert_ptr_not_equal(theirs, (void *)mg_write);
    Dl_info where;
    assert_true(dladdr(theirs, &where) != 0);
    assert_non_null(strstr(where.dli_fname, "civetweb"));
    /* and the plugin's code calls them: prof_http_send writes into it */
    fake_conn *c = fake_conn_new("GET", "/x");
    prof_http_send(fake_conn_mg(c), 200, "text/plain", NULL, "abc", 3);
    assert_true(fake_conn_writes(c) > 0);
    size_t len;
    assert_memory_equal(fake_conn_body(c, &len), "abc", 3);
    assert_int_equal(len, 3);
    fake_conn_free(c);
}

static void test_fake_request(void **state)
{
    (void)state;
    fake_conn *c = fake_conn_new("POST", "/debug/pprof/symbol?a=1&b=2");
    struct mg_connection *mg = fake_conn_mg(c);
    assert_true(fake_conn_is_fake(mg));
    const struct mg_request_info *info = mg_get_request_info(mg);
    assert_string_equal(info->request_method, "POST");
    assert_string_equal(info->local_uri, "/debug/pprof/symbol");
    assert_string_equal(info->query_string, "a=1&b=2");
    assert_int_equal(info->content_length, -1);
    fake_conn_add_header(c, "Authorization", "Bearer x");
    assert_string_equal(mg_get_header(mg, "authorization"), "Bearer x");
    assert_null(mg_get_header(mg, "Host"));
    /* the body in chunks, then the end; a declared length caps it */
    fake_conn_set_body(c, "0123456789", 10);
    fake_conn_set_read_chunk(c, 4);
    fake_conn_set_content_length(c, 9);
    char buf[16];
    assert_int_equal(mg_read(mg, buf, sizeof buf), 4);
    assert_int_equal(mg_read(mg, buf, 2), 2);
    assert_int_equal(mg_read(mg, buf, sizeof buf), 3);
    assert_memory_equal(buf, "678", 3);
    assert_int_equal(mg_read(mg, buf, sizeof buf), 0);
    fake_conn_fail_read_at_end(c);
    assert_int_equal(mg_read(mg, buf, sizeof buf), -1);
    assert_int_equal(fake_conn_body_read(c), 9);
    /* connection data and the context's user data */
    int data;
    mg_set_user_connection_data(mg, &data);
    assert_ptr_equal(mg_get_user_connection_data(mg), &data);
    fake_conn_set_user_data(c, &env);
    assert_ptr_equal(mg_get_user_data(mg_get_context(mg)), &env);
    fake_conn_free(c);
    assert_false(fake_conn_is_fake(mg));
}

static void test_fake_response_parsing(void **state)
{
    (void)state;
    fake_conn *c = fake_conn_new("GET", "/");
    assert_int_equal(fake_conn_status(c), -1); /* nothing written */
    mg_printf(fake_conn_mg(c), "HTTP/1.1 418 Teapot\r\nX-A: 1\r\nx-a:  two \r\n");
    char v[16];
    assert_null(fake_conn_header(c, "X-A", v, sizeof v)); /* the head has not ended */
    size_t len;
    assert_null(fake_conn_body(c, &len));
    mg_write(fake_conn_mg(c), "\r\nbody", 6);
    assert_int_equal(fake_conn_status(c), 418);
    assert_string_equal(fake_conn_header(c, "x-a", v, sizeof v), "1");
    assert_int_equal(fake_conn_header_count(c, "X-A"), 2);
    assert_int_equal(fake_conn_header_count(c, "X-B"), 0);
    assert_string_equal(fake_conn_body(c, &len), "body");
    assert_int_equal(len, 4);
    fake_conn_free(c);

    c = fake_conn_new("GET", "/");
    mg_send_http_error(fake_conn_mg(c), 404, "no %s here", "page");
    assert_int_equal(fake_conn_status(c), 404);
    assert_string_equal(fake_conn_body(c, &len), "no page here");
    fake_conn_free(c);
    c = fake_conn_new("GET", "/");
    mg_send_http_redirect(fake_conn_mg(c), "/debug/pprof/", 302);
    assert_int_equal(fake_conn_status(c), 302);
    assert_string_equal(fake_conn_header(c, "Location", v, sizeof v), "/debug/pprof/");
    fake_conn_free(c);
    c = fake_conn_new("GET", "/");
    mg_send_http_ok(fake_conn_mg(c), "text/plain", 5);
    assert_int_equal(fake_conn_status(c), 200);
    assert_string_equal(fake_conn_header(c, "Content-Length", v, sizeof v), "5");
    fake_conn_free(c);
}

/* Through the real server, on a real socket: civetweb serves it, though
 * its calls of mg_* reach the fake's (which hand them back). */
static void test_real_connection_still_served(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)prof_http_port(env.http))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char req[] = "GET /debug/pprof/cmdline HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char resp[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof resp - 1 && (r = read(fd, resp + n, sizeof resp - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    resp[n] = '\0';
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    const char *body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    static const char want[] = "takhind\0-c\0configs/takhin.yaml";
    assert_int_equal(n - (size_t)(body + 4 - resp), sizeof want - 1);
    assert_memory_equal(body + 4, want, sizeof want - 1);
}

/* ---- replies (http_reply.c) ---- */

static void test_error_reply(void **state)
{
    (void)state;
    fake_conn *c = fake_conn_new("GET", "/");
    prof_exchange ex = {0};
    mg_set_user_connection_data(fake_conn_mg(c), &ex);
    prof_http_error(fake_conn_mg(c), 503, "busy: %d readers", 4);
    assert_int_equal(fake_conn_status(c), 503);
    assert_true(strncmp(fake_conn_output(c, NULL), "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    char v[64];
    assert_string_equal(fake_conn_header(c, "X-Go-Pprof", v, sizeof v), "1");
    assert_string_equal(fake_conn_header(c, "X-Content-Type-Options", v, sizeof v), "nosniff");
    assert_string_equal(fake_conn_header(c, "Content-Type", v, sizeof v),
                        "text/plain; charset=utf-8");
    assert_string_equal(fake_conn_header(c, "Connection", v, sizeof v), "close");
    assert_string_equal(fake_conn_header(c, "Content-Length", v, sizeof v), "16");
    size_t len;
    assert_string_equal(fake_conn_body(c, &len), "busy: 4 readers\n");
    assert_int_equal(ex.status, 503);
    assert_int_equal(ex.bytes, 16);
    fake_conn_free(c);

    /* extra headers come before the blank line; a long message is cut */
    c = fake_conn_new("GET", "/");
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    prof_http_error_headers(fake_conn_mg(c), 405, "Allow: GET\r\n", "%s", big);
    assert_int_equal(fake_conn_status(c), 405);
    assert_string_equal(fake_conn_header(c, "Allow", v, sizeof v), "GET");
    assert_string_equal(fake_conn_header(c, "X-Go-Pprof", v, sizeof v), "1");
    const char *body = fake_conn_body(c, &len);
    assert_true(len < sizeof big);
    assert_int_equal(body[len - 1], '\n');
    fake_conn_free(c);
}

static void test_send_reply(void **state)
{
    (void)state;
    fake_conn *c = fake_conn_new("GET", "/");
    prof_exchange ex = {0};
    mg_set_user_connection_data(fake_conn_mg(c), &ex);
    static const char data[] = "bin\0ary";
    prof_http_send(fake_conn_mg(c), 200, "application/octet-stream",
                   "Content-Disposition: attachment; filename=\"x\"\r\n", data, sizeof data - 1);
    assert_int_equal(fake_conn_status(c), 200);
    char v[64];
    assert_null(fake_conn_header(c, "X-Go-Pprof", v, sizeof v)); /* success: not an error */
    assert_string_equal(fake_conn_header(c, "Cache-Control", v, sizeof v), "no-store");
    assert_string_equal(fake_conn_header(c, "Content-Disposition", v, sizeof v),
                        "attachment; filename=\"x\"");
    assert_int_equal(fake_conn_header_count(c, "X-Content-Type-Options"), 1);
    size_t len;
    const char *body = fake_conn_body(c, &len);
    assert_int_equal(len, sizeof data - 1);
    assert_memory_equal(body, data, len);
    assert_int_equal(ex.bytes, len);
    fake_conn_free(c);

    /* an empty body: the head only; no exchange attached is fine */
    c = fake_conn_new("GET", "/");
    prof_http_send(fake_conn_mg(c), 404, "text/plain", NULL, NULL, 0);
    assert_true(strncmp(fake_conn_output(c, NULL), "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    body = fake_conn_body(c, &len);
    assert_non_null(body);
    assert_int_equal(len, 0);
    fake_conn_free(c);
}

/* ---- /debug/pprof/symbol ---- */

static __attribute__((noinline)) int symbol_target(int x)
{
    __asm__ volatile("" ::: "memory");
    return x * 3 + 1;
}

static void test_symbol_post(void **state)
{
    (void)state;
    assert_int_equal(symbol_target(1), 4);
    char body[128], want[128];
    uintptr_t addr = (uintptr_t)symbol_target;
    snprintf(body, sizeof body, "%#llx+0x1\n", (unsigned long long)addr);
    fake_conn *c = fake_conn_new("POST", "/debug/pprof/symbol");
    fake_conn_set_body(c, body, strlen(body));
    fake_conn_set_read_chunk(c, 3); /* the handler reads on until the end */
    run("symbol", c);
    assert_int_equal(fake_conn_status(c), 200);
    assert_int_equal(fake_conn_body_read(c), strlen(body));
    size_t len;
    const char *out = fake_conn_body(c, &len);
    snprintf(want, sizeof want, "num_symbols: 1\n%#llx symbol_target\n",
             (unsigned long long)addr);
    /* 0x1 names nothing: left out, as Go does */
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    fake_conn_free(c);
}

static void test_symbol_get(void **state)
{
    (void)state;
    fake_conn *c = request("symbol", "GET", "/debug/pprof/symbol", NULL);
    assert_int_equal(fake_conn_status(c), 200);
    size_t len;
    assert_string_equal(fake_conn_body(c, &len), "num_symbols: 1\n");
    fake_conn_free(c);

    char target[128];
    snprintf(target, sizeof target, "/debug/pprof/symbol?%#llx",
             (unsigned long long)(uintptr_t)symbol_target);
    c = request("symbol", "GET", target, NULL);
    assert_int_equal(fake_conn_status(c), 200);
    assert_body_has(c, " symbol_target\n");
    fake_conn_free(c);
}

static void test_symbol_broken_bodies(void **state)
{
    (void)state;
    fake_conn *c = request("symbol", "POST", "/debug/pprof/symbol", "0x12+zz");
    assert_int_equal(fake_conn_status(c), 400);
    char v[16];
    assert_string_equal(fake_conn_header(c, "X-Go-Pprof", v, sizeof v), "1");
    assert_body_has(c, "malformed address \"zz\" at byte 5");
    fake_conn_free(c);

    c = request("symbol", "POST", "/debug/pprof/symbol", "0x12++0x13");
    assert_int_equal(fake_conn_status(c), 400);
    assert_body_has(c, "at byte 5");
    fake_conn_free(c);

    /* less than the Content-Length declares */
    c = fake_conn_new("POST", "/debug/pprof/symbol");
    fake_conn_set_body(c, "0x12", 4);
    fake_conn_set_content_length(c, 100);
    run("symbol", c);
    assert_int_equal(fake_conn_status(c), 400);
    assert_body_has(c, "the body ended after 4 of the 100 bytes");
    fake_conn_free(c);

    /* a chunked body that breaks off */
    c = fake_conn_new("POST", "/debug/pprof/symbol");
    fake_conn_set_body(c, "0x12", 4);
    fake_conn_set_content_length(c, -1);
    fake_conn_fail_read_at_end(c);
    run("symbol", c);
    assert_int_equal(fake_conn_status(c), 400);
    assert_body_has(c, "malformed or unfinished chunked body");
    fake_conn_free(c);

    /* over the limit: 413, without reading it all */
    size_t big = PROF_SYMBOL_MAX_BODY + 100000;
    char *text = malloc(big);
    assert_non_null(text);
    for (size_t i = 0; i < big; i++)
        text[i] = i % 2 ? '+' : '1';
    c = fake_conn_new("POST", "/debug/pprof/symbol");
    fake_conn_set_body(c, text, big);
    run("symbol", c);
    free(text);
    assert_int_equal(fake_conn_status(c), 413);
    assert_body_has(c, "request body too large");
    assert_true(fake_conn_body_read(c) < big);
    fake_conn_free(c);
}

/* ---- pages.c ---- */

static void test_cmdline(void **state)
{
    (void)state;
    fake_conn *c = request("cmdline", "GET", "/debug/pprof/cmdline", NULL);
    assert_int_equal(fake_conn_status(c), 200);
    static const char want[] = "takhind\0-c\0configs/takhin.yaml"; /* no NUL at the end */
    size_t len;
    const char *body = fake_conn_body(c, &len);
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(body, want, len);
    char v[64];
    assert_string_equal(fake_conn_header(c, "Content-Type", v, sizeof v),
                        "text/plain; charset=utf-8");
    fake_conn_free(c);
}

static void test_index(void **state)
{
    (void)state;
    fake_conn *c = request("", "GET", "/debug/pprof/", NULL);
    assert_int_equal(fake_conn_status(c), 200);
    char v[64];
    assert_string_equal(fake_conn_header(c, "Content-Type", v, sizeof v),
                        "text/html; charset=utf-8");
    /* profiles (a count) in the table, with their counts and text links */
    assert_body_has(c, "<td class=\"n\">7</td><td><a href=\"goroutine?debug=1\">goroutine</a>"
                       "</td><td class=\"d\">stacks of all threads</td>");
    assert_body_has(c, "<td class=\"n\"></td><td><a href=\"trace\">trace</a>");
    assert_body_has(c, "<a href=\"goroutine?debug=2\">full thread stack dump</a>");
    /* the others in a list, the index itself not */
    assert_body_has(c, "<li><a href=\"cmdline\">cmdline</a>: "
                       "<span class=\"d\">the command line, NUL-separated</span></li>");
    assert_body_has(c, "<li><a href=\"symbol\">symbol</a>");
    assert_body_has(c, "takhin profiler plugin " PROF_VERSION);
    size_t len;
    const char *body = fake_conn_body(c, &len);
    assert_null(memmem(body, len, "<li><a href=\"\">", 15));
    assert_null(memmem(body, len, "href=\"cmdline?debug=1\"", 22));
    fake_conn_free(c);
}

/* ---- named profiles (named.c) ---- */

static void test_goroutine_text(void **state)
{
    (void)state;
    long before = prof_threads_goroutine_kind.count(NULL);
    fake_conn *c = request("goroutine", "GET",
                           "/debug/pprof/goroutine?debug=1", NULL);
    long after = prof_threads_goroutine_kind.count(NULL);
    assert_int_equal(fake_conn_status(c), 200);
    char head[64];
    snprintf(head, sizeof head, "goroutine profile: total %ld\n", before);
    size_t len;
    const char *body = fake_conn_body(c, &len);
    if (before == after) /* no thread came or went meanwhile */
        assert_true(len > strlen(head) && memcmp(body, head, strlen(head)) == 0);
    /* this thread's stack, symbolized with the context's symbolizer */
    assert_body_has(c, "\tprof_named_handle+0x");
    assert_body_has(c, "\ttest_goroutine_text+0x");
    fake_conn_free(c);
}

static void test_goroutine_bad_queries(void **state)
{
    (void)state;
    static const struct {
        const char *target, *says;
    } bad[] = {
        {"/debug/pprof/goroutine?debug=x", "invalid value for \"debug\""},
        {"/debug/pprof/goroutine?debug=-1", "invalid value for \"debug\""},
        {"/debug/pprof/goroutine?debug=1&seconds=1", "seconds and debug params are incompatible"},
        {"/debug/pprof/goroutine?seconds=0", "seconds"},
        {"/debug/pprof/goroutine?seconds=121", "121"}, /* over max_duration */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fake_conn *c = request("goroutine", "GET", bad[i].target, NULL);
        if (fake_conn_status(c) != 400)
            fail_msg("%s: status %d", bad[i].target, fake_conn_status(c));
        assert_body_has(c, bad[i].says);
        fake_conn_free(c);
    }
}

static void test_goroutine_delta_proto(void **state)
{
    (void)state;
    fake_conn *c = request("goroutine", "GET",
                           "/debug/pprof/goroutine?seconds=1", NULL);
    assert_int_equal(fake_conn_status(c), 200);
    char v[128];
    assert_string_equal(fake_conn_header(c, "Content-Disposition", v, sizeof v),
                        "attachment; filename=\"goroutine-delta\"");
    size_t len;
    const unsigned char *body = (const unsigned char *)fake_conn_body(c, &len);
    assert_true(len > 2 && body[0] == 0x1f && body[1] == 0x8b); /* gzip */
    pf_err err = {0};
    pv_decoded *v2 = pv_decode(body, len, 64 << 20, &err);
    if (v2 == NULL)
        fail_msg("decode: %s", err.msg);
    assert_int_equal(v2->nsample_types, 1);
    assert_string_equal(v2->sample_types[0].type, "goroutine");
    assert_int_equal(v2->duration_nanos, 1000000000LL);
    pv_free(v2);
    fake_conn_free(c);
}

/* Heap state is the module's own (not the context's): sampling off until
 * prof_heap_init, and no tcmalloc in this process. */
static void test_heap_unavailable(void **state)
{
    (void)state;
    fake_conn *c = request("heap", "GET", "/debug/pprof/heap", NULL);
    assert_int_equal(fake_conn_status(c), 503);
    assert_body_has(c, "heap sampling is off: set profiler.heap_sample_bytes");
    fake_conn_free(c);
    prof_heap_init(&env.ph, 524288);
    c = request("heap", "GET", "/debug/pprof/heap?debug=1", NULL);
    assert_int_equal(fake_conn_status(c), 501);
    assert_body_has(c, "heap profiling needs tcmalloc as the process allocator");
    fake_conn_free(c);
    c = request("allocs", "GET", "/debug/pprof/allocs", NULL);
    assert_int_equal(fake_conn_status(c), 501);
    fake_conn_free(c);
    prof_heap_fini();
}

/* ---- trace ---- */

static void test_trace(void **state)
{
    (void)state;
    int calls = hooks_calls;
    fake_conn *c = request("trace", "GET", "/debug/pprof/trace?seconds=0.05", NULL);
    assert_int_equal(fake_conn_status(c), 200);
    char v[64];
    assert_string_equal(fake_conn_header(c, "Content-Type", v, sizeof v), "application/json");
    assert_body_has(c, "\"traceEvents\"");
    assert_body_has(c, "takhind");
    assert_true(hooks_calls >= calls + 2); /* installed for the trace, then removed */
    assert_false(prof_trace_active(env.events->trace));
    fake_conn_free(c);

    c = request("trace", "GET", "/debug/pprof/trace?seconds=abc", NULL);
    assert_int_equal(fake_conn_status(c), 400);
    assert_body_has(c, "invalid value for \"seconds\"");
    fake_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fake_is_the_one_called),
        cmocka_unit_test(test_fake_request),
        cmocka_unit_test(test_fake_response_parsing),
        cmocka_unit_test(test_real_connection_still_served),
        cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_send_reply),
        cmocka_unit_test(test_symbol_post),
        cmocka_unit_test(test_symbol_get),
        cmocka_unit_test(test_symbol_broken_bodies),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_goroutine_text),
        cmocka_unit_test(test_goroutine_bad_queries),
        cmocka_unit_test(test_goroutine_delta_proto),
        cmocka_unit_test(test_heap_unavailable),
        cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
