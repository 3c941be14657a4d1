/*
 * test_cli_http.c - takhin-profiler's HTTP/1.1 client (cli/profiler/http.c)
 * against a scripted server on a loopback socket: bodies by Content-Length,
 * chunked and until close; the request it sends (token included); error
 * statuses with the server's message; a body cut short; a server that is
 * not HTTP, that closes at once, that never answers (read timeout, ticks);
 * a refused connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../cli/profiler/cli.h"
#include "../../cli/profiler/cli_http.h"

typedef struct server {
    int lfd;
    char port[16];
    const char *answer;   /* sent after the request; NULL: send nothing */
    size_t answer_len;
    int linger_ms;        /* then wait before closing */
    char request[4096];
    pthread_t th;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    int fd = accept(s->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof s->request - 1 && strstr(s->request, "\r\n\r\n") == NULL) {
        ssize_t r = read(fd, s->request + n, sizeof s->request - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
    }
    if (s->answer)
        (void)!write(fd, s->answer, s->answer_len ? s->answer_len : strlen(s->answer));
    usleep((useconds_t)s->linger_ms * 1000);
    close(fd);
    return NULL;
}

static void start(server *s, const char *answer, int linger_ms)
{
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->linger_ms = linger_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->lfd, 1), 0);
    getsockname(s->lfd, (struct sockaddr *)&a, &l);
    snprintf(s->port, sizeof s->port, "%d", ntohs(a.sin_port));
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void stop(server *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

typedef struct body {
    char d[4096];
    size_t n;
    int ticks;
} body;

static int collect(void *ctx, const void *data, size_t len)
{
    body *b = ctx;
    if (b->n + len >= sizeof b->d)
        return -1;
    memcpy(b->d + b->n, data, len);
    b->n += len;
    b->d[b->n] = '\0';
    return 0;
}

static void tick(void *ctx)
{
    ((body *)ctx)->ticks++;
}

static int get(server *s, const char *token, double read_timeout, body *b, cli_http_resp *rs,
               char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    cli_http_req rq = {"127.0.0.1", s->port, "/debug/pprof/heap", token, 2, read_timeout,
                       collect, b, tick, b};
    return cli_http_get(&rq, rs, err, errlen);
}

static void expect_body(const char *answer, const char *want)
{
    server s;
    body b;
    cli_http_resp rs;
    char err[512];
    start(&s, answer, 0);
    assert_int_equal(get(&s, NULL, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_int_equal(rs.status, 200);
    assert_string_equal(b.d, want);
    assert_int_equal(rs.body_bytes, strlen(want));
}

static void test_bodies(void **state)
{
    (void)state;
    expect_body("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", "hello");
    expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", "hello world");
    expect_body("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close", "until close");
    expect_body("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", "ok");
    expect_body("HTTP/1.0 200 OK\nContent-Length: 3\n\nlf!", "lf!");
}

static void test_request_and_token(void **state)
{
    (void)state;
    server s;
    body b;
    cli_http_resp rs;
    char err[512], host[64];
    start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Takhin-Cpu-Hz: requested=100\r\n\r\n", 0);
    assert_int_equal(get(&s, "s3cret", 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_non_null(strstr(s.request, "GET /debug/pprof/heap HTTP/1.1\r\n"));
    snprintf(host, sizeof host, "Host: 127.0.0.1:%s\r\n", s.port);
    assert_non_null(strstr(s.request, host));
    assert_non_null(strstr(s.request, "Authorization: Bearer s3cret\r\n"));
    assert_string_equal(rs.cpu_hz, "requested=100");
    start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
    assert_int_equal(get(&s, NULL, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_null(strstr(s.request, "Authorization"));
}

static void test_error_status(void **state)
{
    (void)state;
    server s;
    body b;
    cli_http_resp rs;
    char err[512];
    start(&s, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 14\r\n\r\nmissing token\n", 0);
    assert_int_equal(get(&s, NULL, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_int_equal(rs.status, 401);
    assert_string_equal(rs.reason, "Unauthorized");
    assert_string_equal(rs.body, "missing token\n");
    assert_int_equal(b.n, 0); /* an error body does not go to the sink */
}

static void expect_failure(const char *answer, int linger_ms, double timeout, int code,
                           const char *msg, int min_ticks)
{
    server s;
    body b;
    cli_http_resp rs;
    char err[512] = "";
    start(&s, answer, linger_ms);
    assert_int_equal(get(&s, NULL, timeout, &b, &rs, err, sizeof err), code);
    stop(&s);
    if (strstr(err, msg) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", msg, err);
    assert_true(b.ticks >= min_ticks);
}

static void test_broken_answers(void **state)
{
    (void)state;
    expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 5, CLI_EXIT_SERVER,
                   "closed after 3 of 10 bytes", 0);
    expect_failure("SSH-2.0-OpenSSH_9.2\r\n", 0, 5, CLI_EXIT_SERVER, "not an HTTP answer", 0);
    expect_failure("", 0, 5, CLI_EXIT_SERVER, "closed the connection without answering", 0);
    expect_failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 5,
                   CLI_EXIT_SERVER, "malformed chunked", 0);
    expect_failure(NULL, 1200, 0.6, CLI_EXIT_SERVER, "read timeout", 2);
}

static void test_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    char port[16], err[512];
    snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
    close(fd); /* nothing listens there now */
    cli_http_req rq = {"127.0.0.1", port, "/", NULL, 2, 2, NULL, NULL, NULL, NULL};
    cli_http_resp rs;
    assert_int_equal(cli_http_get(&rq, &rs, err, sizeof err), CLI_EXIT_CONNECT);
    assert_non_null(strstr(err, "refused"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_request_and_token),
        cmocka_unit_test(test_error_status),
        cmocka_unit_test(test_broken_answers),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
