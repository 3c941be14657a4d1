/*
 * test_admin.c - the admin channel: splitting, the registry and dispatch,
 * replies, and real round trips over a Unix socket in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "takhin/host/admin.h"

/* ---- helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the last handler call saw. */
static struct {
    int calls, argc;
    char argv[8][64];
    void *ctx;
} seen;

static int record_cmd(void *ctx, int argc, char **argv, tk_reply *reply)
{
    seen.calls++;
    seen.argc = argc;
    seen.ctx = ctx;
    for (int i = 0; i < argc && i < 8; i++)
        snprintf(seen.argv[i], sizeof(seen.argv[i]), "%s", argv[i]);
    assert_null(argv[argc]);
    tkh_reply_printf(reply, "done %d\n", argc);
    return 0;
}

/* "ping a b" -> "pong a|b" */
static int ping_cmd(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)ctx;
    tkh_reply_printf(reply, "pong");
    for (int i = 0; i < argc; i++)
        tkh_reply_printf(reply, "%s%s", i ? "|" : " ", argv[i]);
    tkh_reply_printf(reply, "\n");
    return 0;
}

static int fail_cmd(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)ctx, (void)argc, (void)argv;
    tkh_reply_printf(reply, "it broke\n");
    return 3;
}

static int silent_fail_cmd(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)ctx, (void)argc, (void)argv, (void)reply;
    return 7;
}

/* Runs line through execute; returns the status, *text a copy of the reply. */
static int run(tkh_admin *a, const char *line, char **text)
{
    tk_reply *r = tkh_reply_new();
    assert_non_null(r);
    int rc = tkh_admin_execute(a, line, r);
    *text = strdup(tkh_reply_text(r));
    tkh_reply_free(r);
    return rc;
}

/* ---- splitting ---- */

static int split(const char *line, char buf[256], char **argv, int max, char *err)
{
    snprintf(buf, 256, "%s", line);
    err[0] = '\0';
    return tkh_admin_split(buf, argv, max, err, 128);
}

static void test_split_words(void **state)
{
    char buf[256], err[128], *argv[8];
    (void)state;

    assert_int_equal(split("a  bc\t d ", buf, argv, 8, err), 3);
    assert_string_equal(argv[0], "a");
    assert_string_equal(argv[1], "bc");
    assert_string_equal(argv[2], "d");
    assert_null(argv[3]);
    assert_int_equal(split("", buf, argv, 8, err), 0);
    assert_int_equal(split(" \t  ", buf, argv, 8, err), 0);
}

static void test_split_quotes_and_escapes(void **state)
{
    char buf[256], err[128], *argv[8];
    (void)state;

    assert_int_equal(split("say \"hello world\" 'x  y' a\"b c\"d", buf, argv, 8, err), 4);
    assert_string_equal(argv[1], "hello world");
    assert_string_equal(argv[2], "x  y");
    assert_string_equal(argv[3], "ab cd");
    assert_int_equal(split("x \"\" ''", buf, argv, 8, err), 3);
    assert_string_equal(argv[1], "");
    assert_string_equal(argv[2], "");
    assert_int_equal(split("a\\ b \"q\\\"x\\\\\" 'no\\esc' \\'", buf, argv, 8, err), 4);
    assert_string_equal(argv[0], "a b");
    assert_string_equal(argv[1], "q\"x\\");
    assert_string_equal(argv[2], "no\\esc");
    assert_string_equal(argv[3], "'");
}

static void test_split_errors(void **state)
{
    char buf[256], err[128], *argv[8];
    (void)state;

    assert_int_equal(split("a \"bc d", buf, argv, 8, err), -1);
    assert_string_equal(err, "unterminated \" quote starting at byte 3");
    assert_int_equal(split("'abc", buf, argv, 8, err), -1);
    assert_string_equal(err, "unterminated ' quote starting at byte 1");
    assert_int_equal(split("\"abc\\\"", buf, argv, 8, err), -1);
    assert_non_null(strstr(err, "unterminated"));
    assert_int_equal(split("abc\\", buf, argv, 8, err), -1);
    assert_non_null(strstr(err, "backslash"));
    assert_int_equal(split("ab\x01" "c", buf, argv, 8, err), -1);
    assert_string_equal(err, "control character 0x01 at byte 3: not allowed");
    assert_int_equal(split("'a\nb'", buf, argv, 8, err), -1);
    assert_string_equal(err, "control character 0x0a at byte 3: not allowed");
    assert_int_equal(split("a\x7f", buf, argv, 8, err), -1);
}

static void test_split_max_words(void **state)
{
    char buf[256], err[128], *argv[3];
    (void)state;

    assert_int_equal(split("a b c", buf, argv, 3, err), 3);
    assert_string_equal(argv[2], "c");
    assert_int_equal(split("a b c d", buf, argv, 3, err), -1);
    assert_string_equal(err, "too many words: at most 3");
    assert_int_equal(split("a b c   ", buf, argv, 3, err), 3);
}

/* ---- replies ---- */

static void test_reply_buffer(void **state)
{
    (void)state;
    tk_reply *r = tkh_reply_new();
    assert_non_null(r);
    assert_string_equal(tkh_reply_text(r), "");
    tkh_reply_printf(r, "%s=%d", "n", 42);
    tkh_reply_printf(r, "%s", "");
    tkh_reply_printf(r, ";");
    assert_string_equal(tkh_reply_text(r), "n=42;");
    char big[10001];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 3; i++)
        tkh_reply_printf(r, "%s", big);
    assert_int_equal(strlen(tkh_reply_text(r)), 5 + 3 * 10000);
    assert_memory_equal(tkh_reply_text(r), "n=42;xxx", 8);
    assert_int_equal(tkh_reply_text(r)[5 + 3 * 10000 - 1], 'x');
    tkh_reply_free(r);
    tkh_reply_free(NULL);
    assert_string_equal(tkh_reply_text(NULL), "");
}

/* ---- registry and dispatch ---- */

static int plugin_a, plugin_b; /* two plugins' ctx */

static int registry_setup(void **state)
{
    tkh_admin *a = tkh_admin_new();

    if (!a)
        return -1;
    memset(&seen, 0, sizeof(seen));
    if (tkh_admin_register(a, "profiler", "status", "profiler status: show the state",
                           record_cmd, &plugin_a) ||
        tkh_admin_register(a, "profiler", "enable", "enable [cpu|heap]", record_cmd, &plugin_a) ||
        tkh_admin_register(a, "ping", NULL, NULL, ping_cmd, &plugin_b) ||
        tkh_admin_register(a, "fail", NULL, "fail: always fails", fail_cmd, &plugin_b) ||
        tkh_admin_register(a, "quiet", "fail", NULL, silent_fail_cmd, &plugin_b))
        return -1;
    *state = a;
    return 0;
}

static int registry_teardown(void **state)
{
    tkh_admin_free(*state);
    return 0;
}

static void test_register_errors(void **state)
{
    tkh_admin *a = *state;

    assert_int_equal(tkh_admin_register(a, "profiler", "status", NULL, ping_cmd, NULL), EEXIST);
    assert_int_equal(tkh_admin_register(a, "help", NULL, NULL, ping_cmd, NULL), EEXIST);
    /* a one-word command and "prefix word" commands cannot share a prefix */
    assert_int_equal(tkh_admin_register(a, "profiler", NULL, NULL, ping_cmd, NULL), EEXIST);
    assert_int_equal(tkh_admin_register(a, "ping", "x", NULL, ping_cmd, NULL), EEXIST);
    assert_int_equal(tkh_admin_register(a, "", "x", NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "  ", NULL, NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, NULL, NULL, NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "x", "", NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "x", " \t", NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "x y", NULL, NULL, ping_cmd, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "x", NULL, NULL, NULL, NULL), EINVAL);
    assert_int_equal(tkh_admin_register(a, "profiler", "disable", NULL, ping_cmd, NULL), 0);
}

static void test_dispatch_args(void **state)
{
    tkh_admin *a = *state;
    char *text;

    assert_int_equal(run(a, "  profiler enable cpu \"10 s\" ", &text), 0);
    assert_string_equal(text, "done 2\n");
    free(text);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.argc, 2);
    assert_string_equal(seen.argv[0], "cpu");
    assert_string_equal(seen.argv[1], "10 s");
    assert_int_equal(run(a, "profiler status", &text), 0);
    free(text);
    assert_int_equal(seen.argc, 0);
    assert_int_equal(run(a, "ping a 'b c'", &text), 0);
    assert_string_equal(text, "pong a|b c\n");
    free(text);
    assert_int_equal(run(a, "fail now", &text), 3);
    assert_string_equal(text, "it broke\n");
    free(text);
    assert_int_equal(run(a, "quiet fail", &text), 7);
    assert_string_equal(text, "command \"quiet fail\" failed (status 7)\n");
    free(text);
}

static void test_dispatch_errors(void **state)
{
    tkh_admin *a = *state;
    char *text;

    assert_int_not_equal(run(a, "foo bar", &text), 0);
    assert_string_equal(text, "unknown command \"foo\": run \"help\" for the list\n");
    free(text);
    assert_int_not_equal(run(a, "profiler foo", &text), 0);
    assert_string_equal(text,
        "unknown command \"profiler foo\": expected one of: profiler enable, profiler status\n"
        "  profiler enable: enable [cpu|heap]\n"
        "  profiler status: show the state\n");
    free(text);
    assert_int_not_equal(run(a, "profiler", &text), 0);
    assert_non_null(strstr(text, "unknown command \"profiler\": expected one of: profiler enable"));
    free(text);
    assert_int_not_equal(run(a, " \t ", &text), 0);
    assert_string_equal(text, "empty command: run \"help\"\n");
    free(text);
    assert_int_not_equal(run(a, "ping \"x", &text), 0);
    assert_string_equal(text, "unterminated \" quote starting at byte 6\n");
    free(text);
    assert_int_equal(seen.calls, 0);
}

static void test_execute_limits(void **state)
{
    tkh_admin *a = *state;
    char line[TKH_ADMIN_MAX_LINE + 2], *text;

    memset(line, 'a', sizeof(line));
    memcpy(line, "ping ", 5);
    line[TKH_ADMIN_MAX_LINE] = '\0'; /* exactly the limit: fine */
    assert_int_equal(run(a, line, &text), 0);
    free(text);
    line[TKH_ADMIN_MAX_LINE] = 'a';
    line[TKH_ADMIN_MAX_LINE + 1] = '\0';
    assert_int_not_equal(run(a, line, &text), 0);
    assert_string_equal(text, "command too long: at most 4096 bytes\n");
    free(text);
    char many[512] = "ping";
    for (int i = 0; i < TKH_ADMIN_MAX_ARGS; i++)
        strcat(many, " w");
    assert_int_not_equal(run(a, many, &text), 0); /* 33 words */
    assert_string_equal(text, "too many words: at most 32\n");
    free(text);
}

static void test_help_lists_sorted(void **state)
{
    tkh_admin *a = *state;
    char *text;

    assert_int_equal(run(a, "help", &text), 0);
    assert_string_equal(text,
        "fail: always fails\n"
        "help [PREFIX]: list the admin commands\n"
        "ping\n"
        "profiler enable: enable [cpu|heap]\n"
        "profiler status: show the state\n"
        "quiet fail\n");
    free(text);
    assert_int_equal(run(a, "help profiler", &text), 0);
    assert_string_equal(text, "profiler enable: enable [cpu|heap]\n"
                              "profiler status: show the state\n");
    free(text);
    assert_int_not_equal(run(a, "help nope", &text), 0);
    free(text);
}

static void test_help_usage_forms(void **state)
{
    tkh_admin *a = tkh_admin_new();
    char *text;
    (void)state;

    assert_int_equal(tkh_admin_register(a, "zz", NULL, "zzz words", ping_cmd, NULL), 0);
    assert_int_equal(tkh_admin_register(a, "p", "s", "p s [N]: status", ping_cmd, NULL), 0);
    assert_int_equal(tkh_admin_register(a, "p", "t", "p tt", ping_cmd, NULL), 0);
    assert_int_equal(tkh_admin_register(a, "p", "u", "", ping_cmd, NULL), 0);
    assert_int_equal(run(a, "help", &text), 0);
    assert_string_equal(text, "help [PREFIX]: list the admin commands\n"
                              "p s [N]: status\n"
                              "p t: p tt\n"
                              "p u\n"
                              "zz: zzz words\n");
    free(text);
    tkh_admin_free(a);
}

static void test_unregister_ctx(void **state)
{
    tkh_admin *a = *state;
    char *text;

    tkh_admin_unregister_ctx(a, &plugin_a);
    assert_int_not_equal(run(a, "profiler status", &text), 0);
    assert_string_equal(text, "unknown command \"profiler\": run \"help\" for the list\n");
    free(text);
    assert_int_equal(run(a, "help", &text), 0);
    assert_string_equal(text, "fail: always fails\n"
                              "help [PREFIX]: list the admin commands\n"
                              "ping\n"
                              "quiet fail\n");
    free(text);
    /* the name is free again */
    assert_int_equal(tkh_admin_register(a, "profiler", NULL, NULL, ping_cmd, NULL), 0);
    tkh_admin_unregister_ctx(a, NULL);
    tkh_admin_unregister_ctx(a, &plugin_b);
    assert_int_equal(run(a, "help", &text), 0); /* help itself stays */
    assert_string_equal(text, "help [PREFIX]: list the admin commands\n");
    free(text);
}

/* ---- the socket ---- */

struct sock_fixture {
    char dir[64], path[100];
    tkh_admin *admin;
};

static int sock_setup(void **state)
{
    struct sock_fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/test_admin.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/admin.sock", f->dir);
    f->admin = tkh_admin_new();
    if (!f->admin || tkh_admin_register(f->admin, "ping", NULL, NULL, ping_cmd, NULL) ||
        tkh_admin_register(f->admin, "fail", NULL, NULL, fail_cmd, NULL))
        return -1;
    *state = f;
    return 0;
}

static int sock_teardown(void **state)
{
    struct sock_fixture *f = *state;

    tkh_admin_free(f->admin);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void listen_ok(struct sock_fixture *f)
{
    char err[256] = "";
    int rc = tkh_admin_listen(f->admin, f->path, err, sizeof(err));
    if (rc != 0)
        fail_msg("listen: %s", err);
}

static int call(struct sock_fixture *f, const char *line, char **text, char *err)
{
    err[0] = '\0';
    return tkh_admin_call(f->path, line, 3000, text, err, 256);
}

/* A socket bound at path. */
static int bound_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static int raw_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void test_round_trip(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text;
    struct stat st;
    mode_t old = umask(0); /* the mode must not depend on the umask */
    int rc = tkh_admin_listen(f->admin, f->path, err, sizeof(err));

    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(call(f, "ping a 'b c' \"d\\\"e\"", &text, err), 0);
    assert_string_equal(text, "pong a|b c|d\"e\n");
    free(text);
    assert_int_equal(call(f, "fail", &text, err), 1);
    assert_string_equal(text, "it broke\n");
    free(text);
    assert_int_equal(call(f, "nope", &text, err), 1);
    assert_string_equal(text, "unknown command \"nope\": run \"help\" for the list\n");
    free(text);
    assert_int_equal(call(f, "", &text, err), 1);
    assert_string_equal(text, "empty command: run \"help\"\n");
    free(text);
    assert_int_equal(tkh_admin_listen(f->admin, f->path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "already listens"));
}

static void test_stop_removes_socket(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text;

    listen_ok(f);
    tkh_admin_stop(f->admin);
    assert_int_equal(access(f->path, F_OK), -1);
    tkh_admin_stop(f->admin); /* idempotent */
    assert_int_equal(call(f, "ping", &text, err), -1);
    assert_null(text);
    char want[512];
    snprintf(want, sizeof(want), "cannot connect to admin socket %s: No such file or directory "
             "(is takhind running? the socket is set by admin.socket or TAKHIN_ADMIN_SOCKET)",
             f->path);
    assert_string_equal(err, want);
    listen_ok(f); /* and it can listen again */
    assert_int_equal(call(f, "ping", &text, err), 0);
    free(text);
}

static void test_stale_socket_replaced(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text;

    close(bound_socket(f->path)); /* a socket file nobody listens on */
    assert_int_equal(call(f, "ping", &text, err), -1);
    assert_non_null(strstr(err, "Connection refused"));
    listen_ok(f);
    assert_int_equal(call(f, "ping", &text, err), 0);
    free(text);
}

static void test_live_socket_refused(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], want[256], *text;
    tkh_admin *second = tkh_admin_new();

    listen_ok(f);
    assert_int_equal(tkh_admin_listen(second, f->path, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "another server is listening on %s", f->path);
    assert_string_equal(err, want);
    tkh_admin_free(second); /* must not remove the first one's socket */
    assert_int_equal(call(f, "ping", &text, err), 0);
    free(text);
}

static void test_other_file_refused(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], buf[16] = "";
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    fputs("precious", fp);
    fclose(fp);
    assert_int_equal(tkh_admin_listen(f->admin, f->path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "exists and is not a socket"));
    fp = fopen(f->path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(buf, sizeof(buf), fp));
    fclose(fp);
    assert_string_equal(buf, "precious");
}

static void test_path_too_long(void **state)
{
    struct sock_fixture *f = *state;
    char err[512], path[300];

    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(tkh_admin_listen(f->admin, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "admin socket path too long (299 bytes, at most 107)"));
}

static void test_line_too_long(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text, line[TKH_ADMIN_MAX_LINE + 100];

    listen_ok(f);
    memset(line, 'a', sizeof(line) - 1);
    memcpy(line, "ping ", 5);
    line[sizeof(line) - 1] = '\0';
    assert_int_equal(call(f, line, &text, err), 1);
    assert_string_equal(text, "command too long: at most 4096 bytes\n");
    free(text);
    line[TKH_ADMIN_MAX_LINE] = '\0'; /* exactly the limit */
    assert_int_equal(call(f, line, &text, err), 0);
    assert_int_equal(strlen(text), TKH_ADMIN_MAX_LINE + 1);
    free(text);
}

/* Reads what the server sends on fd until EOF. */
static void read_all(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

static void test_silent_client(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text, buf[256];

    listen_ok(f);
    int silent = raw_connect(f->path);
    int64_t t0 = now_ms();
    assert_int_equal(call(f, "ping", &text, err), 0); /* waits for the silent one */
    int64_t waited = now_ms() - t0;
    free(text);
    assert_true(waited >= 1500 && waited < 20000); /* the 2 s time-out, not forever */
    read_all(silent, buf, sizeof(buf));
    assert_string_equal(buf, "error\ntimed out after 2000 ms waiting for the command line\n");
    close(silent);
    /* a client that sends raw text without a newline, then EOF: still served */
    int fd = raw_connect(f->path);
    assert_int_equal(write(fd, "ping x\r", 7), 7);
    shutdown(fd, SHUT_WR);
    read_all(fd, buf, sizeof(buf));
    assert_string_equal(buf, "ok\npong x\n");
    close(fd);
}

static void test_stop_interrupts_silent_client(void **state)
{
    struct sock_fixture *f = *state;
    char buf[64];

    listen_ok(f);
    int silent = raw_connect(f->path);
    struct pollfd p = {silent, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 100), 0); /* let the server take it */
    tkh_admin_stop(f->admin); /* interrupts it: no time-out reply below */
    assert_int_equal(access(f->path, F_OK), -1);
    read_all(silent, buf, sizeof(buf));
    assert_string_equal(buf, ""); /* closed, no reply */
    close(silent);
}

/* A server that is not ours: answers with `answer` to one connection. */
struct fake {
    int fd;
    const char *answer;
};

static void *fake_server(void *arg)
{
    struct fake *fk = arg;
    char buf[64];
    int c = accept(fk->fd, NULL, NULL);

    if (c >= 0) {
        if (read(c, buf, sizeof(buf)) > 0 &&
            send(c, fk->answer, strlen(fk->answer), MSG_NOSIGNAL) < 0)
            perror("fake server");
        close(c);
    }
    return NULL;
}

static void test_call_errors(void **state)
{
    struct sock_fixture *f = *state;
    char err[256], *text;
    int fd = bound_socket(f->path);

    assert_int_equal(listen(fd, 4), 0);
    /* listening, never accepting: the call times out */
    int64_t t0 = now_ms();
    assert_int_equal(tkh_admin_call(f->path, "ping", 200, &text, err, sizeof(err)), -1);
    assert_true(now_ms() - t0 < 20000); /* its time-out, not forever */
    assert_non_null(strstr(err, "timed out after 200 ms"));
    close(accept(fd, NULL, NULL)); /* the given-up connection */
    /* a server that speaks another protocol */
    struct fake fk = {fd, "HTTP/1.0 400 Bad Request\r\n"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fake_server, &fk), 0);
    assert_int_equal(call(f, "ping", &text, err), -1);
    pthread_join(th, NULL);
    assert_non_null(strstr(err, "unexpected reply"));
    fk.answer = "";
    assert_int_equal(pthread_create(&th, NULL, fake_server, &fk), 0);
    assert_int_equal(call(f, "ping", &text, err), -1);
    pthread_join(th, NULL);
    assert_non_null(strstr(err, "without a reply"));
    close(fd);
    assert_int_equal(call(f, "a\nb", &text, err), -1);
    assert_non_null(strstr(err, "newline"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_words),
        cmocka_unit_test(test_split_quotes_and_escapes),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_split_max_words),
        cmocka_unit_test(test_reply_buffer),
        cmocka_unit_test_setup_teardown(test_register_errors, registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_args, registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_errors, registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(test_execute_limits, registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(test_help_lists_sorted, registry_setup, registry_teardown),
        cmocka_unit_test(test_help_usage_forms),
        cmocka_unit_test_setup_teardown(test_unregister_ctx, registry_setup, registry_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_stop_removes_socket, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_stale_socket_replaced, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_live_socket_refused, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_other_file_refused, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_path_too_long, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_line_too_long, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_silent_client, sock_setup, sock_teardown),
        cmocka_unit_test_setup_teardown(test_stop_interrupts_silent_client, sock_setup,
                                        sock_teardown),
        cmocka_unit_test_setup_teardown(test_call_errors, sock_setup, sock_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
