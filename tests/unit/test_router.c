/*
 * The router (plugin/http/router.c): which table entry a path reaches,
 * which methods an entry takes, and the 404's list of paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/router.h"

#include <string.h>

static int index_ctx, profile_ctx, symbol_ctx;

static const prof_endpoint table[] = {
    {.name = "", .description = "this page", .ctx = &index_ctx},
    {.name = "profile", .description = "CPU", .ctx = &profile_ctx, .profile = true},
    {.name = "symbol", .description = "names", .ctx = &symbol_ctx, .post = true},
};
#define N (sizeof table / sizeof *table)

static void test_paths_reach_their_entry(void **state)
{
    (void)state;
    assert_ptr_equal(prof_route(table, N, "/debug/pprof/"), &table[0]);
    assert_ptr_equal(prof_route(table, N, "/debug/pprof"), &table[0]);
    assert_ptr_equal(prof_route(table, N, "/debug/pprof/profile"), &table[1]);
    assert_ptr_equal(prof_route(table, N, "/debug/pprof/symbol"), &table[2]);
    /* Each entry carries its own context to its handler. */
    assert_ptr_equal(prof_route(table, N, "/debug/pprof/profile")->ctx, &profile_ctx);
}

static void test_other_paths_reach_nothing(void **state)
{
    (void)state;
    static const char *const none[] = {
        "/", "", "/debug", "/debug/pprof/profile/", "/debug/pprof/profilex",
        "/debug/pprof/Profile", "/debug/pprofile", "/debug/pprof//profile",
        "/x/debug/pprof/profile", "/debug/pprof/../pprof/profile", "/metrics",
    };
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        if (prof_route(table, N, none[i]) != NULL)
            fail_msg("\"%s\" reached an entry", none[i]);
    assert_null(prof_route(table, 0, "/debug/pprof/")); /* an empty table */
}

/* A prefix entry ("buildid/") takes every longer path under it, and only
 * those: its handler reads the rest. */
static void test_prefix_entry(void **state)
{
    (void)state;
    static const prof_endpoint t[] = {
        {.name = "buildid/", .prefix = true},
        {.name = "profile"},
    };
    assert_ptr_equal(prof_route(t, 2, "/debug/pprof/buildid/ab12/executable"), &t[0]);
    assert_ptr_equal(prof_route(t, 2, "/debug/pprof/profile"), &t[1]);
    assert_null(prof_route(t, 2, "/debug/pprof/buildid/"));
    assert_null(prof_route(t, 2, "/debug/pprof/buildid"));
    assert_null(prof_route(t, 2, "/debug/pprof/buildidx/ab"));
    assert_null(prof_route(t, 2, "/debug/pprof/profile/x")); /* not a prefix entry */
}

static void test_methods(void **state)
{
    (void)state;
    assert_true(prof_route_allows(&table[1], "GET"));
    assert_false(prof_route_allows(&table[1], "POST"));
    assert_false(prof_route_allows(&table[1], "HEAD"));
    assert_false(prof_route_allows(&table[1], "get"));
    assert_true(prof_route_allows(&table[2], "GET"));
    assert_true(prof_route_allows(&table[2], "POST"));
    assert_false(prof_route_allows(&table[2], "PUT"));
    assert_string_equal(prof_route_allow_header(&table[1]), "Allow: GET\r\n");
    assert_string_equal(prof_route_allow_header(&table[2]), "Allow: GET, POST\r\n");
}

static void test_list_of_paths(void **state)
{
    (void)state;
    char buf[256];
    prof_route_list(table, N, buf, sizeof buf);
    assert_string_equal(buf, "  /debug/pprof/\n  /debug/pprof/profile\n  /debug/pprof/symbol\n");
    char small[20]; /* truncated, still terminated */
    prof_route_list(table, N, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "  /debug/pprof/\n  /", 19);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_reach_their_entry),
        cmocka_unit_test(test_other_paths_reach_nothing),
        cmocka_unit_test(test_prefix_entry),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_list_of_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
