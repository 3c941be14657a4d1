/*
 * The front's request parsing (plugin/http/front_head.c): where a head ends,
 * which heads it refuses, the head as civetweb gets it, chunked bodies fed
 * in pieces and decoded, the peer header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/front.h"

#include <stdio.h>
#include <string.h>

#define MAX_HEAD 8192
#define MAX_BODY 1000

static int parse(const char *text, prof_head *h)
{
    return prof_head_parse(text, strlen(text), MAX_HEAD, MAX_BODY, h);
}

static void test_head_complete(void **state)
{
    (void)state;
    prof_head h;
    const char *get = "GET /debug/pprof/ HTTP/1.1\r\nHost: x\r\n\r\nrest";
    assert_int_equal(parse(get, &h), 200);
    assert_int_equal(h.line_len, strlen("GET /debug/pprof/ HTTP/1.1\r\n"));
    assert_int_equal(h.len, strlen(get) - 4);
    assert_false(h.chunked);
    assert_int_equal(h.content_length, 0);
    assert_int_equal(parse("GET / HTTP/1.0\n\n", &h), 200); /* bare LF */
    assert_int_equal(parse("POST /x HTTP/1.1\r\ncontent-length:  12 \r\n\r\n", &h), 200);
    assert_int_equal(h.content_length, 12);
    assert_int_equal(parse("POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h), 200);
    assert_true(h.chunked);
    assert_false(h.expect_continue);
    assert_int_equal(parse("POST /x HTTP/1.1\r\nContent-Length: 9\r\nExpect: 100-Continue\r\n\r\n",
                           &h), 200);
    assert_true(h.expect_continue);
}

static void test_head_incomplete(void **state)
{
    (void)state;
    prof_head h;
    assert_int_equal(parse("", &h), PROF_HEAD_MORE);
    assert_int_equal(parse("GET /debug/pprof/ HT", &h), PROF_HEAD_MORE);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\n", &h), PROF_HEAD_MORE);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\n\r", &h), PROF_HEAD_MORE);
    /* a bad request line is refused before the rest comes (HTTP/0.9) */
    assert_int_equal(parse("GET /debug/pprof/\r\n", &h), 400);
    assert_int_equal(parse("TRACE / HTTP/1.1\r\n", &h), 501);
}

static void test_head_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GET /debug/pprof/\r\n\r\n", 400},                       /* no version */
        {"\x00\x01 garbage\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nbroken header\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX-Takhin-Peer: 1.2.3.4:5\r\n\r\n", 400}, /* forged */
        {"GET / HTTP/1.1\r\nx-takhin-peer: x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        /* issue 23 #7, #8: what civetweb would drop or not hand on */
        {"TRACE / HTTP/1.1\r\n\r\n", 501},
        {"CONNECT x:443 HTTP/1.1\r\n\r\n", 501},
        {"GET * HTTP/1.1\r\n\r\n", 400},
        {"GET x:443 HTTP/1.1\r\n\r\n", 400},
        {"GET ftp://x/ HTTP/1.1\r\n\r\n", 400},
        {"GET http:///x HTTP/1.1\r\n\r\n", 400},
        {"GET http://u:p@x/ HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\tb\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        prof_head h;
        size_t n = strlen(cases[i].text);
        if (n == 0)
            n = 14; /* the NUL-led case */
        int got = prof_head_parse(cases[i].text, n, MAX_HEAD, MAX_BODY, &h);
        if (got != cases[i].status)
            fail_msg("case %zu: got %d, expected %d", i, got, cases[i].status);
    }
}

/* canonical TEXT BODY_LEN: the head as civetweb gets it, with "P: 1\r\n"
 * as the front's own header. */
static const char *canonical(const char *text, uint64_t body_len)
{
    static char out[1024];
    prof_head h;
    if (parse(text, &h) != 200)
        fail_msg("refused: %s", text);
    size_t n = prof_head_canonical(text, &h, "P: 1\r\n", body_len, out, sizeof out - 1);
    assert_true(n > 0);
    out[n] = '\0';
    return out;
}

/* Issue 23 #1, #7, #8: one reading. The head civetweb gets has CRLF line
 * ends, an origin-form target, one Content-Length for a body, and no
 * Transfer-Encoding or Expect; ">63 headers" is 431. */
static void test_head_canonical(void **state)
{
    (void)state;
    prof_head h;
    /* "\n\r\n" ends the head, for the front and then for civetweb */
    assert_int_equal(parse("GET /a HTTP/1.1\r\nHost: x\n\r\nrest", &h), 200);
    assert_int_equal(h.len, strlen("GET /a HTTP/1.1\r\nHost: x\n\r\n"));
    assert_string_equal(canonical("GET /a HTTP/1.1\r\nHost: x\n\r\n", 0),
                        "GET /a HTTP/1.1\r\nP: 1\r\nHost: x\r\n\r\n");
    assert_string_equal(canonical("GET /a?b HTTP/1.0\nHost:x\t\nX:  y z \n\n", 0),
                        "GET /a?b HTTP/1.0\r\nP: 1\r\nHost: x\r\nX: y z\r\n\r\n");
    /* absolute form: served as its path */
    assert_string_equal(canonical("GET http://x:1/debug/pprof/cmdline?q HTTP/1.1\r\n"
                                  "Host: x\r\n\r\n", 0),
                        "GET /debug/pprof/cmdline?q HTTP/1.1\r\nP: 1\r\nHost: x\r\n\r\n");
    assert_string_equal(canonical("GET HTTPS://x HTTP/1.1\r\n\r\n", 0),
                        "GET / HTTP/1.1\r\nP: 1\r\n\r\n");
    assert_string_equal(canonical("GET http://x?a=1 HTTP/1.1\r\n\r\n", 0),
                        "GET /?a=1 HTTP/1.1\r\nP: 1\r\n\r\n");
    /* a chunked body goes on decoded, under Content-Length */
    assert_string_equal(canonical("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                  "Expect: 100-continue\r\nHost: x\r\n\r\n", 11),
                        "POST /s HTTP/1.1\r\nP: 1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
    assert_string_equal(canonical("POST /s HTTP/1.1\r\nContent-Length: 3\r\n"
                                  "content-length: 3\r\n\r\n", 3),
                        "POST /s HTTP/1.1\r\nP: 1\r\nContent-Length: 3\r\n\r\n");
    /* OPTIONS * is the front's own to answer */
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", &h), 200);
    assert_true(h.asterisk);
    /* 63 header lines pass, 64 are 431 */
    char head[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < PROF_HEAD_MAX_HEADERS; i++)
        snprintf(head + strlen(head), sizeof head - strlen(head), "H%d: v\r\n", i);
    strcat(head, "\r\n");
    assert_int_equal(parse(head, &h), 200);
    head[strlen(head) - 2] = '\0';
    strcat(head, "Authorization: Bearer t\r\n\r\n");
    assert_int_equal(parse(head, &h), 431);
    assert_non_null(strstr(h.why, "more than 63 header lines"));
    /* too small a buffer: 0, never an overflow */
    assert_int_equal(parse("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &h), 200);
    char small[8];
    assert_int_equal(prof_head_canonical("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &h, "", 0,
                                         small, sizeof small), 0);
}

static void test_head_too_large(void **state)
{
    (void)state;
    char big[300];
    memset(big, 'a', sizeof big);
    prof_head h;
    assert_int_equal(prof_head_parse(big, sizeof big, 256, MAX_BODY, &h), 431);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    assert_int_equal(prof_head_parse(big, sizeof big, 256, MAX_BODY, &h), 431);
    assert_int_equal(prof_head_parse(big, sizeof big, 512, MAX_BODY, &h), 200);
}

/* Feeds text one byte at a time: the bytes consumed when it ended, or the
 * negative status; -1 if it never ended. */
static long feed_bytes(const char *text, size_t n)
{
    prof_chunked c = {0};
    for (size_t i = 0; i < n; i++) {
        bool done;
        long used = prof_chunked_feed(&c, text + i, 1, NULL, MAX_BODY, &done);
        if (used < 0)
            return used;
        if (done)
            return (long)i + 1;
    }
    return -1;
}

static void test_chunked(void **state)
{
    (void)state;
    const char *body = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nEXTRA";
    size_t whole = strlen(body) - 5;
    assert_int_equal(feed_bytes(body, strlen(body)), (long)whole);
    prof_chunked c = {0};
    bool done;
    char data[64];
    assert_int_equal(prof_chunked_feed(&c, body, strlen(body), data, MAX_BODY, &done),
                     (long)whole);
    assert_true(done);
    assert_int_equal(c.total, 11);
    assert_int_equal(c.copied, 11);
    assert_memory_equal(data, "hello world", 11);
    /* issue 23 #8: an extension, bare-LF and CR CR LF lines, decoded in
     * place, in pieces */
    char buf[64] = "6;a=b\nab\r\ncd\r\n2\r\r\nef\n0\n\n";
    size_t n = strlen(buf);
    prof_chunked d = {0};
    long used = 0;
    done = false;
    for (size_t i = 0; i < n && !done; i += 3) {
        size_t piece = n - i < 3 ? n - i : 3;
        used = prof_chunked_feed(&d, buf + i, piece, buf, MAX_BODY, &done);
        assert_true(used >= 0);
    }
    assert_true(done);
    assert_int_equal(d.copied, 8);
    assert_memory_equal(buf, "ab\r\ncdef", 8);
    const char *trailer = "0\r\nX-T: 1\r\n\r\n";
    assert_int_equal(feed_bytes(trailer, strlen(trailer)), (long)strlen(trailer));
    assert_int_equal(feed_bytes("5\r\nhel", 6), -1);
    assert_int_equal(feed_bytes("zz\r\n", 4), -400);
    assert_int_equal(feed_bytes("\r\n", 2), -400);
    assert_int_equal(feed_bytes("3e9\r\n", 5), -413);
    assert_int_equal(feed_bytes("ffffffffffffffffff\r\n", 20), -413);
}

static void test_peer_header(void **state)
{
    (void)state;
    char secret[PROF_FRONT_SECRET_LEN + 1], other[PROF_FRONT_SECRET_LEN + 1];
    assert_int_equal(prof_front_new_secret(secret), 0);
    assert_int_equal(prof_front_new_secret(other), 0);
    assert_int_equal(strlen(secret), PROF_FRONT_SECRET_LEN);
    assert_string_not_equal(secret, other);
    char value[128], peer[64] = "", link[PROF_FRONT_LINK_MAX] = "";
    snprintf(value, sizeof value, "%s 127.0.0.2:4242 0001f", secret);
    assert_true(prof_front_peer_check(secret, value, peer, sizeof peer));
    assert_string_equal(peer, "127.0.0.2:4242");
    assert_true(prof_front_peer_link(value, link));
    assert_string_equal(link, "0001f");
    assert_false(prof_front_peer_check(other, value, peer, sizeof peer));
    assert_false(prof_front_peer_check(secret, NULL, peer, sizeof peer));
    assert_false(prof_front_peer_check(secret, "127.0.0.2:4242 0001f", peer, sizeof peer));
    snprintf(value, sizeof value, "%s 127.0.0.2:4242", secret); /* no link */
    assert_false(prof_front_peer_check(secret, value, peer, sizeof peer));
    assert_false(prof_front_peer_link(value, link));
    snprintf(value, sizeof value, "%s 127.0.0.2:4242 ../x", secret);
    assert_false(prof_front_peer_check(secret, value, peer, sizeof peer));
    snprintf(value, sizeof value, "%s 127.0.0.2:1 1\r\nX: y", secret);
    assert_false(prof_front_peer_check(secret, value, peer, sizeof peer));
    snprintf(value, sizeof value, "%s 127.0.0.2:1\r\nX: y", secret);
    assert_false(prof_front_peer_check(secret, value, peer, sizeof peer));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_complete),
        cmocka_unit_test(test_head_incomplete),
        cmocka_unit_test(test_head_refused),
        cmocka_unit_test(test_head_canonical),
        cmocka_unit_test(test_head_too_large),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_peer_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
