/*
 * test_cli_transport.c - takhin-profiler's transport (cli/profiler/transport/curl.c):
 * -remote parsing (HOST:PORT, IPv6, URLs with credentials and prefixes,
 * and what is refused, never echoing the token); the request plan the
 * flags make (URL, Bearer or Basic, TLS files, redirects, timeouts); what
 * libcurl's failures become (exit code and advice); and real transfers
 * through libcurl against a scripted server on a loopback socket: the
 * headers sent, a streamed body, an error body, a redirect not followed,
 * broken answers, the idle timeout with its ticks, a refused connection;
 * libcurl loaded at its first use, every function of the table found.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cli.h"
#include "transport/cli_curl.h"
#include "transport/cli_http.h"

/* ---- -remote ---- */

typedef struct remote_case {
    const char *in;
    bool tls;
    const char *host, *port, *prefix, *user, *password;
} remote_case;

static void test_parse_remote(void **state)
{
    (void)state;
    static const remote_case cases[] = {
        {"127.0.0.1:6060", false, "127.0.0.1", "6060", "", NULL, NULL},
        {"localhost", false, "localhost", "6060", "", NULL, NULL},
        {"[::1]:7070", false, "::1", "7070", "", NULL, NULL},
        {"[::1]", false, "::1", "6060", "", NULL, NULL},
        {"http://h.example:81", false, "h.example", "81", "", NULL, NULL},
        {"http://h.example", false, "h.example", "80", "", NULL, NULL},
        {"https://h.example", true, "h.example", "443", "", NULL, NULL},
        {"HTTPS://[::1]:6443/", true, "::1", "6443", "", NULL, NULL},
        {"http://[::1]:6060/debug/pprof/", false, "::1", "6060", "", NULL, NULL},
        {"https://gw:8443/svc/a/debug/pprof", true, "gw", "8443", "/svc/a", NULL, NULL},
        {"https://gw:8443/svc//", true, "gw", "8443", "/svc", NULL, NULL},
        {"http://pprof:s3cret@127.0.0.1:6060", false, "127.0.0.1", "6060", "", "pprof", "s3cret"},
        {"http://u%40x:p%3Aq%2F@[::1]:1/p", false, "::1", "1", "/p", "u@x", "p:q/"},
        {"http://u:a@b@h:2", false, "h", "2", "", "u", "a@b"},
        {"http://u:@h:2", false, "h", "2", "", "u", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const remote_case *c = &cases[i];
        cli_remote r;
        char err[512] = "";
        if (cli_parse_remote(c->in, &r, err, sizeof err) != 0)
            fail_msg("%s: %s", c->in, err);
        assert_int_equal(r.tls, c->tls);
        assert_string_equal(r.host, c->host);
        assert_string_equal(r.port, c->port);
        assert_string_equal(r.prefix, c->prefix);
        assert_int_equal(r.has_user, c->user != NULL);
        if (c->user) {
            assert_string_equal(r.user, c->user);
            assert_string_equal(r.password, c->password);
        }
    }
}

static void test_parse_remote_refused(void **state)
{
    (void)state;
    static const struct { const char *in, *why; } cases[] = {
        {"127.0.0.1:x", "expected HOST:PORT"},
        {"127.0.0.1:0", "expected HOST:PORT"},
        {"127.0.0.1:65536", "expected HOST:PORT"},
        {"127.0.0.1:", "expected HOST:PORT"},
        {":6060", "expected HOST:PORT"},
        {"::1:6060", "in brackets"},
        {"[::1:6060", "expected HOST:PORT"},
        {"[::1]x", "expected HOST:PORT"},
        {"ftp://h:21", "only http:// and https://"},
        {"pprof:hunter2@h:6060", "URL form"},
        {"hunter2@h:6060", "URL form"},
        {"127.0.0.1:6060/x", "URL form"},
        {"http://hunter2@h:1", "user:TOKEN@"},
        {"http://u:hunter2%zz@h:1", "%XX"},
        {"http://u:hunter2@h:1/a?b=c", "no query"},
        {"http://u:hunter2@h:1#x", "no query"},
        {"http://h:1/a b", "cannot hold"},
        {"http://bad host:1", "expected HOST:PORT"},
        {"", "expected HOST:PORT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cli_remote r;
        char err[512] = "";
        if (cli_parse_remote(cases[i].in, &r, err, sizeof err) == 0)
            fail_msg("%s: accepted", cases[i].in);
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("%s: expected \"%s\" in \"%s\"", cases[i].in, cases[i].why, err);
        if (strstr(err, "hunter2") != NULL)
            fail_msg("%s: the message shows the token: %s", cases[i].in, err);
        assert_string_equal(r.password, "");
    }
}

/* ---- the plan ---- */

static int plan(const char *remote, const cli_http_conf *c, cli_http_req *rq, char *err)
{
    cli_remote r;
    static cli_remote keep; /* rq points into it */
    assert_int_equal(cli_parse_remote(remote, &r, err, 512), 0);
    keep = r;
    return cli_http_plan(&keep, c, "/debug/pprof/heap", rq, err, 512);
}

static void test_plan(void **state)
{
    (void)state;
    cli_http_req rq;
    char err[512];
    cli_http_conf c = {.connect_timeout = 2.5};

    assert_int_equal(plan("[::1]:6060", &c, &rq, err), CLI_OK);
    assert_string_equal(rq.url, "http://[::1]:6060/debug/pprof/heap");
    assert_string_equal(rq.hostport, "[::1]:6060");
    assert_int_equal(rq.auth, CLI_AUTH_NONE);
    assert_false(rq.follow);
    assert_int_equal(rq.max_redirs, 0);
    assert_int_equal(rq.connect_timeout_ms, 2500);
    assert_true(rq.verify);

    c.token = "tok";
    assert_int_equal(plan("https://gw:8443/svc/", &c, &rq, err), CLI_OK);
    assert_string_equal(rq.url, "https://gw:8443/svc/debug/pprof/heap");
    assert_true(rq.tls);
    assert_int_equal(rq.auth, CLI_AUTH_BEARER);
    assert_string_equal(rq.secret, "tok");

    /* user:TOKEN@: Basic; next to -token it is ambiguous; an env token yields */
    assert_int_equal(plan("http://pprof:s3@h:1", &c, &rq, err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "two tokens"));
    c.token_from_env = true;
    assert_int_equal(plan("http://pprof:s3@h:1", &c, &rq, err), CLI_OK);
    assert_int_equal(rq.auth, CLI_AUTH_BASIC);
    assert_string_equal(rq.user, "pprof");
    assert_string_equal(rq.secret, "s3");
    assert_null(strstr(rq.url, "s3")); /* the credentials are not in the URL */
    c.token = NULL;
    c.token_from_env = false;

    /* TLS options */
    c.ca = "ca.pem";
    assert_int_equal(plan("127.0.0.1:6060", &c, &rq, err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "https://"));
    c.insecure = true;
    c.cert = "c.pem";
    c.key = "k.pem";
    c.follow = true;
    assert_int_equal(plan("https://127.0.0.1:6443", &c, &rq, err), CLI_OK);
    assert_string_equal(rq.ca, "ca.pem");
    assert_string_equal(rq.cert, "c.pem");
    assert_string_equal(rq.key, "k.pem");
    assert_false(rq.verify);
    assert_true(rq.follow);
    assert_true(rq.max_redirs > 0);
    c.cert = NULL;
    assert_int_equal(plan("https://127.0.0.1:6443", &c, &rq, err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "-key goes with -cert"));
}

static void test_check_files(void **state)
{
    (void)state;
    char err[512];
    cli_http_conf c = {.ca = "/proc/self/status"};
    assert_int_equal(cli_http_check_files(&c, err, sizeof err), CLI_OK);
    c.cert = "/nonexistent/client.pem";
    assert_int_equal(cli_http_check_files(&c, err, sizeof err), CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "-cert /nonexistent/client.pem: cannot read it"));
}

/* ---- libcurl, loaded at its first use ---- */

static void test_curl_loaded(void **state)
{
    (void)state;
    char err[512] = "";
    const cli_curl_api *curl = cli_curl(err, sizeof err);
    if (curl == NULL)
        fail_msg("libcurl not loaded: %s", err);
    const void *const *f = (const void *const *)curl; /* a table of pointers only */
    for (size_t i = 0; i < sizeof *curl / sizeof *f; i++)
        assert_non_null(f[i]);
    assert_ptr_equal(cli_curl(NULL, 0), curl); /* loaded once */
    assert_string_equal(curl->easy_strerror(CURLE_OK), "No error");
    CURL *h = curl->easy_init();
    assert_non_null(h);
    assert_int_equal(curl->easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
    curl->easy_cleanup(h);
}

/* ---- what failures mean ---- */

static void expect(int code, long os_errno, const char *curl_msg, bool connected, int want,
                   const char *part, const cli_http_req *rq)
{
    char err[1024];
    int rc = cli_http_explain(rq, code, os_errno, curl_msg, connected, false, err, sizeof err);
    if (rc != want || strstr(err, part) == NULL)
        fail_msg("curl %d: got %d \"%s\", want %d with \"%s\"", code, rc, err, want, part);
}

static void test_explain(void **state)
{
    (void)state;
    cli_http_req rq = {.hostport = "127.0.0.1:6060", .connect_timeout_ms = 1500,
                       .max_redirs = 10};
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    expect(CURLE_COULDNT_CONNECT, ECONNREFUSED, "Failed to connect", false, CLI_EXIT_CONNECT,
           "connection to 127.0.0.1:6060 refused", &rq);
    expect(CURLE_COULDNT_CONNECT, EHOSTUNREACH, "x", false, CLI_EXIT_CONNECT, "unreachable", &rq);
    expect(CURLE_COULDNT_RESOLVE_HOST, 0, "x", false, CLI_EXIT_CONNECT, "unknown host", &rq);
    expect(CURLE_OPERATION_TIMEDOUT, 0, "x", false, CLI_EXIT_CONNECT, "within 1.5s", &rq);
    expect(CURLE_GOT_NOTHING, 0, "x", true, CLI_EXIT_SERVER, "without answering", &rq);
    expect(CURLE_UNSUPPORTED_PROTOCOL, 0, "Received HTTP/0.9", true, CLI_EXIT_SERVER,
           "not an HTTP answer", &rq);
    expect(CURLE_PARTIAL_FILE, 0, "x", true, CLI_EXIT_SERVER, "before the whole answer", &rq);
    expect(CURLE_TOO_MANY_REDIRECTS, 0, "x", true, CLI_EXIT_SERVER, "more than 10", &rq);
    expect(CURLE_WRITE_ERROR, ENOSPC, "x", true, CLI_EXIT_FAIL, strerror(ENOSPC), &rq);

    /* the proxy, when libcurl's message names it */
    setenv("http_proxy", "http://user:pw@proxy.test:3128", 1);
    expect(CURLE_COULDNT_CONNECT, ECONNREFUSED,
           "Failed to connect to proxy.test port 3128 after 0 ms: Couldn't connect to server",
           false, CLI_EXIT_CONNECT, "cannot connect to the proxy proxy.test (from $http_proxy)",
           &rq);
    expect(CURLE_COULDNT_CONNECT, ECONNREFUSED, "Failed to connect to 127.0.0.1 port 6060", false,
           CLI_EXIT_CONNECT, "connection to 127.0.0.1:6060 refused", &rq);
    expect(CURLE_COULDNT_RESOLVE_PROXY, 0, "x", false, CLI_EXIT_CONNECT,
           "unknown proxy host proxy.test", &rq);
    /* a proxy on the server's host: its port tells them apart */
    setenv("http_proxy", "127.0.0.1", 1);
    expect(CURLE_COULDNT_CONNECT, ECONNREFUSED, "Failed to connect to 127.0.0.1 port 1080 after "
           "0 ms", false, CLI_EXIT_CONNECT, "the proxy 127.0.0.1 (from $http_proxy)", &rq);
    expect(CURLE_COULDNT_CONNECT, ECONNREFUSED, "Failed to connect to 127.0.0.1 port 6060 after "
           "0 ms", false, CLI_EXIT_CONNECT, "connection to 127.0.0.1:6060 refused", &rq);
    unsetenv("http_proxy");

    /* TLS */
    rq.tls = true;
    rq.ca = "ca.pem";
    expect(CURLE_PEER_FAILED_VERIFICATION, 0, "SSL certificate problem: unable to get local "
           "issuer certificate", true, CLI_EXIT_CONNECT, "-ca FILE, or -insecure", &rq);
    expect(CURLE_PEER_FAILED_VERIFICATION, 0, "SSL: no alternative certificate subject name "
           "matches target host name 'x'", true, CLI_EXIT_CONNECT, "not for that name", &rq);
    expect(CURLE_SSL_CACERT_BADFILE, 0, "error setting certificate file", false, CLI_EXIT_USAGE,
           "-ca ca.pem: no usable CA certificate", &rq);
    rq.cert = "c.pem";
    expect(CURLE_SSL_CERTPROBLEM, 0, "could not load PEM client certificate", false,
           CLI_EXIT_USAGE, "-cert c.pem: the client certificate or key cannot be used", &rq);
    expect(CURLE_RECV_ERROR, 0, "OpenSSL SSL_read: error:0A000418:SSL routines::tlsv1 alert "
           "unknown ca", true, CLI_EXIT_CONNECT, "refused the client certificate c.pem", &rq);
    rq.cert = NULL;
    expect(CURLE_SSL_CONNECT_ERROR, 0, "error:0A00045C:SSL routines::tlsv13 alert certificate "
           "required", true, CLI_EXIT_CONNECT, "wants a client certificate", &rq);
    expect(CURLE_SSL_CONNECT_ERROR, 0, "error:0A00010B:SSL routines::wrong version number", true,
           CLI_EXIT_CONNECT, "serving plain http?", &rq);
    /* TLS 1.3: a refused client certificate may come as a reset */
    expect(CURLE_RECV_ERROR, 0, "getpeername() failed with errno 107", true, CLI_EXIT_CONNECT,
           "if it wants a client certificate, give -cert", &rq);
    char err[512];
    assert_int_equal(cli_http_explain(&rq, CURLE_RECV_ERROR, ECONNRESET, "Connection reset",
                                      true, true, err, sizeof err), CLI_EXIT_SERVER);
    assert_non_null(strstr(err, "the connection broke"));
}

/* ---- real transfers against a scripted server ---- */

typedef struct server {
    int lfd;
    char port[16];
    const char *answer;   /* sent after the request; NULL: send nothing */
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
        (void)!write(fd, s->answer, strlen(s->answer));
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
    if (b->n + len >= sizeof b->d) {
        errno = ENOSPC;
        return -1;
    }
    memcpy(b->d + b->n, data, len);
    b->n += len;
    b->d[b->n] = '\0';
    return 0;
}

static void tick(void *ctx)
{
    ((body *)ctx)->ticks++;
}

/* GET /debug/pprof/heap from s, with remote's scheme and credentials. */
static int get(server *s, const char *remote_fmt, const cli_http_conf *conf, double idle,
               body *b, cli_http_resp *rs, char *err, size_t errlen)
{
    static cli_remote r;
    char remote[256];
    cli_http_req rq;
    snprintf(remote, sizeof remote, remote_fmt, s->port);
    memset(b, 0, sizeof *b);
    assert_int_equal(cli_parse_remote(remote, &r, err, errlen), 0);
    assert_int_equal(cli_http_plan(&r, conf, "/debug/pprof/heap", &rq, err, errlen), CLI_OK);
    rq.idle_timeout = idle;
    rq.sink = collect;
    rq.sink_ctx = b;
    rq.tick = tick;
    rq.tick_ctx = b;
    return cli_http_get(&rq, rs, err, errlen);
}

static const cli_http_conf plain = {.connect_timeout = 2};

static void test_transfer(void **state)
{
    (void)state;
    server s;
    body b;
    cli_http_resp rs;
    char err[512], host[64];
    cli_http_conf bearer = {.token = "s3cret", .connect_timeout = 2};

    start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Takhin-Cpu-Hz: requested=100\r\n"
              "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0);
    assert_int_equal(get(&s, "127.0.0.1:%s", &bearer, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_int_equal(rs.status, 200);
    assert_string_equal(b.d, "hello world");
    assert_int_equal(rs.body_bytes, 11);
    assert_string_equal(rs.cpu_hz, "requested=100");
    assert_non_null(strstr(s.request, "GET /debug/pprof/heap HTTP/1.1\r\n"));
    snprintf(host, sizeof host, "Host: 127.0.0.1:%s\r\n", s.port);
    assert_non_null(strstr(s.request, host));
    assert_non_null(strstr(s.request, "Authorization: Bearer s3cret\r\n"));
    assert_non_null(strstr(s.request, "User-Agent: takhin-profiler/"));

    /* user:TOKEN@ in the URL: HTTP Basic, percent-decoded ("pprof:s3cret/x") */
    start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
    assert_int_equal(get(&s, "http://pprof:s3cret%%2Fx@127.0.0.1:%s/pfx", &plain, 5, &b, &rs,
                         err, sizeof err), CLI_OK);
    stop(&s);
    assert_non_null(strstr(s.request, "GET /pfx/debug/pprof/heap HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "Authorization: Basic cHByb2Y6czNjcmV0L3g=\r\n"));
    assert_string_equal(b.d, "ok");

    start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
    assert_int_equal(get(&s, "127.0.0.1:%s", &plain, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_null(strstr(s.request, "Authorization"));
}

static void test_error_answers(void **state)
{
    (void)state;
    server s;
    body b;
    cli_http_resp rs;
    char err[512];
    start(&s, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "X-Go-Pprof: 1\r\nContent-Length: 14\r\n\r\ntoo long, 1 h\n", 0);
    assert_int_equal(get(&s, "127.0.0.1:%s", &plain, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_int_equal(rs.status, 400);
    assert_string_equal(rs.reason, "Bad Request");
    assert_true(rs.go_pprof);
    assert_string_equal(rs.body, "too long, 1 h\n");
    assert_int_equal(b.n, 0); /* an error body does not go to the sink */

    /* a redirect is an answer, not followed without -follow */
    start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
              "Content-Length: 0\r\n\r\n", 0);
    assert_int_equal(get(&s, "127.0.0.1:%s", &plain, 5, &b, &rs, err, sizeof err), CLI_OK);
    stop(&s);
    assert_int_equal(rs.status, 302);
    assert_string_equal(rs.location, "http://127.0.0.1:1/elsewhere");
}

static void expect_failure(const char *answer, int linger_ms, double idle, int code,
                           const char *msg, int min_ticks)
{
    server s;
    body b;
    cli_http_resp rs;
    char err[512] = "";
    start(&s, answer, linger_ms);
    assert_int_equal(get(&s, "127.0.0.1:%s", &plain, idle, &b, &rs, err, sizeof err), code);
    stop(&s);
    if (strstr(err, msg) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", msg, err);
    if (b.ticks < min_ticks)
        fail_msg("%d ticks, expected at least %d", b.ticks, min_ticks);
}

static void test_broken_answers(void **state)
{
    (void)state;
    expect_failure("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 5, CLI_EXIT_SERVER,
                   "before the whole answer", 0);
    expect_failure("SSH-2.0-OpenSSH_9.2\r\n", 0, 5, CLI_EXIT_SERVER, "not an HTTP answer", 0);
    expect_failure("", 0, 5, CLI_EXIT_SERVER, "closed the connection without answering", 0);
    /* silent for longer than the idle timeout: read timeout, ticking meanwhile */
    expect_failure(NULL, 1500, 0.6, CLI_EXIT_SERVER, "no data from 127.0.0.1", 2);
    /* a sink that fails (the body does not fit): exit 1 with its errno */
    static char big[8192];
    int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nContent-Length: 6000\r\n\r\n");
    memset(big + n, 'x', 6000);
    big[n + 6000] = '\0';
    expect_failure(big, 0, 5, CLI_EXIT_FAIL, strerror(ENOSPC), 0);
}

static void test_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    char remote[64], err[512];
    snprintf(remote, sizeof remote, "127.0.0.1:%d", ntohs(a.sin_port));
    close(fd); /* nothing listens there now */
    cli_remote r;
    cli_http_req rq;
    cli_http_resp rs;
    assert_int_equal(cli_parse_remote(remote, &r, err, sizeof err), 0);
    assert_int_equal(cli_http_plan(&r, &plain, "/", &rq, err, sizeof err), CLI_OK);
    assert_int_equal(cli_http_get(&rq, &rs, err, sizeof err), CLI_EXIT_CONNECT);
    assert_non_null(strstr(err, "refused"));
}

int main(void)
{
    /* The transfers go to loopback directly, whatever this shell's proxy. */
    static const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                    "ALL_PROXY", "no_proxy", "NO_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_remote),
        cmocka_unit_test(test_parse_remote_refused),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_check_files),
        cmocka_unit_test(test_curl_loaded),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_error_answers),
        cmocka_unit_test(test_broken_answers),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
