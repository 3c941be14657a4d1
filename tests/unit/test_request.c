/*
 * Strict request checks (plugin/http/request.c): a request that could mean two
 * things is refused with a message naming the problem (issues 15, 17).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/request.h"

#include <string.h>

static void refused(const char *raw, const char *why)
{
    char path[PROF_REQUEST_MAX_PATH + 1] = "", err[256] = "";
    if (prof_request_path(raw, path, sizeof path, err, sizeof err) != -1)
        fail_msg("\"%s\" accepted as \"%s\"", raw, path);
    if (strstr(err, why) == NULL)
        fail_msg("\"%s\": expected \"%s\" in \"%s\"", raw, why, err);
}

static void test_paths_accepted(void **state)
{
    (void)state;
    char path[PROF_REQUEST_MAX_PATH + 1], err[256];
    assert_int_equal(prof_request_path("/debug/pprof/heap", path, sizeof path, err, sizeof err), 0);
    assert_string_equal(path, "/debug/pprof/heap");
    assert_int_equal(prof_request_path("/debug/pprof/cmd%6Cine", path, sizeof path, err,
                                       sizeof err), 0);
    assert_string_equal(path, "/debug/pprof/cmdline");
    assert_int_equal(prof_request_path("/a/..b/.c/%2e%2e%2e", path, sizeof path, err,
                                       sizeof err), 0);
    assert_string_equal(path, "/a/..b/.c/...");
    char max[PROF_REQUEST_MAX_PATH + 2];
    memset(max, 'a', PROF_REQUEST_MAX_PATH);
    max[0] = '/';
    max[PROF_REQUEST_MAX_PATH] = '\0';
    assert_int_equal(prof_request_path(max, path, sizeof path, err, sizeof err), 0);
    max[PROF_REQUEST_MAX_PATH] = 'a';
    max[PROF_REQUEST_MAX_PATH + 1] = '\0';
    refused(max, "1025 bytes long, over the limit of 1024");
}

static void test_paths_refused(void **state)
{
    (void)state;
    refused("/debug/pprof/heap%00", "NUL byte in the path");
    refused("/debug/pprof/cmdline%00tail", "NUL byte");
    refused("/%0a2026-01-01T00:00:00.000Z", "control character 0x0a");
    refused("/x%1b[31m", "control character 0x1b");
    refused("/x\x01", "control character 0x01");
    refused("/x%7F", "control character 0x7f");
    refused("/debug/pprof%2fcmdline", "encoded '/'");
    refused("/debug%2Fpprof", "encoded '/'");
    refused("/debug/pprof\\cmdline", "backslash");
    refused("/debug/pprof%5Ccmdline", "backslash");
    refused("/debug/pprof/./cmdline", "dot segment \".\"");
    refused("/debug/pprof/x/../cmdline", "dot segment \"..\"");
    refused("/debug/pprof/x/%2e%2E/cmdline", "dot segment \"..\"");
    refused("/debug/pprof/.", "dot segment");
    refused("/..", "dot segment");
    refused("/x%zz", "malformed percent-encoding at byte 2");
    refused("/x%2", "malformed percent-encoding");
    refused("/x%", "malformed percent-encoding");
    refused("debug/pprof/", "must start with '/'");
    refused("", "must start with '/'");
}

static void test_queries(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(prof_request_query(NULL, err, sizeof err), 0);
    assert_int_equal(prof_request_query("seconds=5&debug=1&x=%41+b", err, sizeof err), 0);
    assert_int_equal(prof_request_query("0x1+0x2", err, sizeof err), 0);
    assert_int_equal(prof_request_query("debug=%00", err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL byte in the query"));
    assert_int_equal(prof_request_query("x=%0d%0a", err, sizeof err), -1);
    assert_non_null(strstr(err, "control character 0x0d in the query"));
    assert_int_equal(prof_request_query("x=\x1b", err, sizeof err), -1);
    assert_int_equal(prof_request_query("seconds=%zz", err, sizeof err), -1);
    assert_non_null(strstr(err, "malformed percent-encoding at byte 8 of the query"));
}

static int headers(const char *err_part, size_t n, ...)
{
    prof_request_header h[8];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        h[i].name = va_arg(ap, const char *);
        h[i].value = va_arg(ap, const char *);
        int flags = va_arg(ap, int);
        h[i].space_before_colon = flags & 1;
        h[i].folded = flags & 2;
    }
    va_end(ap);
    char err[256] = "";
    int r = prof_request_headers(h, n, "1.1", err, sizeof err);
    if (err_part != NULL && strstr(err, err_part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", err_part, err);
    return r;
}

static void test_headers(void **state)
{
    (void)state;
    assert_int_equal(headers(NULL, 2, "Host", "x", 0, "Content-Length", "12", 0), 0);
    assert_int_equal(headers(NULL, 3, "Content-Length", "3", 0, "content-length", "3", 0,
                             "host", "x", 0), 0);
    assert_int_equal(headers("more than one Host header", 2, "Host", "x", 0, "HOST", "x", 0), -1);
    assert_int_equal(headers("needs a Host header", 1, "X", "x", 0), -1);
    prof_request_header one = {"X", "y", false, false};
    char err[128];
    assert_int_equal(prof_request_headers(&one, 1, "1.0", err, sizeof err), 0);
    assert_int_equal(headers("obsolete line folding (a line starting with whitespace) after the "
                             "header \"X\"", 2, "Host", "x", 0, "X", "a", 2), -1);
    assert_int_equal(headers("whitespace between the header name \"Host\"", 1, "Host", "x", 1),
                     -1);
    assert_int_equal(headers("conflicting Content-Length headers (3 and 5)", 3, "Host", "x", 0,
                             "Content-Length", "3", 0, "Content-Length", "5", 0), -1);
    assert_int_equal(headers("must be a decimal number", 1, "Content-Length", "+3", 0), -1);
    assert_int_equal(headers("must be a decimal number", 1, "Content-Length", "3x", 0), -1);
    assert_int_equal(headers("must be a decimal number", 1, "Content-Length", "", 0), -1);
    assert_int_equal(headers("both Content-Length and Transfer-Encoding", 3, "Host", "x", 0,
                             "Content-Length", "3", 0, "Transfer-Encoding", "chunked", 0), -1);
}

static void test_body_end(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(prof_request_body_end(6, 6, false, err, sizeof err), 0);
    assert_int_equal(prof_request_body_end(-1, 3, false, err, sizeof err), 0);
    assert_int_equal(prof_request_body_end(100, 6, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "ended after 6 of the 100 bytes"));
    assert_int_equal(prof_request_body_end(-1, 3, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "chunked body"));
    assert_int_equal(prof_request_body_end(6, 6, true, err, sizeof err), -1);
}

/* One table of reason phrases for the front's refusals and the replies. */
static void test_reasons(void **state)
{
    (void)state;
    assert_string_equal(prof_request_reason(404), "Not Found");
    assert_string_equal(prof_request_reason(408), "Request Timeout");
    assert_string_equal(prof_request_reason(431), "Request Header Fields Too Large");
    assert_string_equal(prof_request_reason(503), "Service Unavailable");
    assert_string_equal(prof_request_reason(418), "Error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_accepted),
        cmocka_unit_test(test_paths_refused),
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_body_end),
        cmocka_unit_test(test_reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
