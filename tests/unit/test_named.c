/*
 * The plugin's request parsing and delta arithmetic: query parameters as
 * Go answers them, the symbol endpoint's body, records subtraction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "profiles/named.h"
#include "http/query.h"
#include "profiles/symbol.h"

#include <string.h>

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static void test_seconds_default_and_value(void **state)
{
    (void)state;
    long s = 0;
    char err[256] = "";
    assert_int_equal(prof_query_seconds(NULL, 30, 120, &s, err, sizeof err), 0);
    assert_int_equal(s, 30);
    assert_int_equal(prof_query_seconds("debug=1", 30, 120, &s, err, sizeof err), 0);
    assert_int_equal(s, 30);
    assert_int_equal(prof_query_seconds("seconds=7&x=1", 30, 120, &s, err, sizeof err), 0);
    assert_int_equal(s, 7);
}

static void test_seconds_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {"seconds=", "seconds=abc", "seconds=0", "seconds=-3",
                                      "seconds=1.5", "seconds=99999999999999999999",
                                      "seconds=%20"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        long s = -1;
        char err[256] = "";
        assert_int_equal(prof_query_seconds(bad[i], 30, 120, &s, err, sizeof err), -1);
        assert_contains(err, "invalid value for \"seconds\" - must be a positive integer");
        assert_int_equal(s, -1);
    }
    long s;
    char err[256] = "";
    assert_int_equal(prof_query_seconds("seconds=121", 30, 120, &s, err, sizeof err), -1);
    assert_contains(err, "limit of 120 s (profiler.max_duration)");
}

static void test_query_get_decodes(void **state)
{
    (void)state;
    char buf[16];
    assert_int_equal(prof_query_get("a=1&name=x%20y", "name", buf, sizeof buf), 1);
    assert_string_equal(buf, "x y");
    assert_int_equal(prof_query_get("a=1", "name", buf, sizeof buf), 0);
    assert_int_equal(prof_query_get("name=0123456789abcdefXYZ", "name", buf, sizeof buf), -1);
}

static void test_debug(void **state)
{
    (void)state;
    long d = -1;
    char err[256] = "";
    assert_int_equal(prof_query_debug(NULL, &d, err, sizeof err), 0);
    assert_int_equal(d, 0);
    assert_int_equal(prof_query_debug("seconds=3&debug=2", &d, err, sizeof err), 0);
    assert_int_equal(d, 2);
    static const char *const bad[] = {"debug=", "debug=x", "debug=-1", "debug=1.5",
                                      "debug=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        d = 7;
        err[0] = '\0';
        assert_int_equal(prof_query_debug(bad[i], &d, err, sizeof err), -1);
        assert_contains(err, "invalid value for \"debug\" - must be 0 (protobuf), 1 (text)");
        assert_int_equal(d, 7);
    }
}

static void test_symbol_body(void **state)
{
    (void)state;
    uint64_t a[4];
    char err[256] = "";
    assert_int_equal(prof_symbol_parse("0x10+0x2f+31\n", 13, a, 4, err, sizeof err), 3);
    assert_int_equal(a[0], 0x10);
    assert_int_equal(a[1], 0x2f);
    assert_int_equal(a[2], 31);
    assert_int_equal(prof_symbol_parse("", 0, a, 4, err, sizeof err), 0);
    assert_int_equal(prof_symbol_parse("0x10++0x20", 10, a, 4, err, sizeof err), -1);
    assert_contains(err, "malformed address \"\" at byte 5");
    assert_int_equal(prof_symbol_parse("0xZZ", 4, a, 4, err, sizeof err), -1);
    assert_contains(err, "malformed address \"0xZZ\" at byte 0");
    assert_int_equal(prof_symbol_parse("1+2+3+4+5", 9, a, 4, err, sizeof err), -1);
    assert_contains(err, "too many addresses");
    assert_int_equal(prof_symbol_parse("0x1ffffffffffffffff", 19, a, 4, err, sizeof err), -1);
}

static void add(prof_records *r, uintptr_t a, uintptr_t b, int64_t v0, int64_t v1,
                const char *thread)
{
    uintptr_t pcs[2] = {a, b};
    int64_t values[2] = {v0, v1};
    assert_int_equal(prof_records_add(r, pcs, 2, values, thread), 0);
}

static const prof_record *find(const prof_records *r, uintptr_t a, const char *thread)
{
    for (size_t i = 0; i < r->len; i++)
        if (r->rec[i].pcs[0] == a &&
            (thread ? r->rec[i].thread && strcmp(r->rec[i].thread, thread) == 0
                    : r->rec[i].thread == NULL))
            return &r->rec[i];
    return NULL;
}

static void test_records_subtract(void **state)
{
    (void)state;
    prof_records before, after;
    prof_records_init(&before, 2);
    prof_records_init(&after, 2);
    add(&before, 1, 9, 10, 100, NULL);
    add(&before, 2, 9, 5, 50, "t1");
    add(&before, 3, 9, 7, 70, NULL); /* gone later */
    add(&after, 1, 9, 15, 160, NULL);
    add(&after, 2, 9, 5, 50, "t2"); /* other thread label: no match */
    add(&after, 4, 9, 1, 10, NULL); /* new */
    assert_int_equal(prof_records_subtract(&after, &before), 0);
    assert_int_equal(find(&after, 1, NULL)->values[0], 5);
    assert_int_equal(find(&after, 1, NULL)->values[1], 60);
    assert_int_equal(find(&after, 2, "t2")->values[0], 5);
    assert_int_equal(find(&after, 2, "t1")->values[0], -5);
    assert_int_equal(find(&after, 3, NULL)->values[1], -70);
    assert_int_equal(find(&after, 4, NULL)->values[0], 1);
    assert_int_equal(after.len, 5);
    prof_records_free(&before);
    prof_records_free(&after);
}

static void test_records_many(void **state)
{
    (void)state;
    prof_records before, after;
    prof_records_init(&before, 1);
    prof_records_init(&after, 1);
    for (uintptr_t i = 0; i < 5000; i++) {
        int64_t v = (int64_t)i, w = 2 * (int64_t)i;
        uintptr_t pcs[1] = {i + 1};
        assert_int_equal(prof_records_add(&before, pcs, 1, &v, NULL), 0);
        assert_int_equal(prof_records_add(&after, pcs, 1, &w, NULL), 0);
    }
    assert_int_equal(prof_records_subtract(&after, &before), 0);
    assert_int_equal(after.len, 5000);
    for (size_t i = 0; i < after.len; i++)
        assert_int_equal(after.rec[i].values[0], (int64_t)i);
    prof_records_free(&before);
    prof_records_free(&after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_default_and_value),
        cmocka_unit_test(test_seconds_errors),
        cmocka_unit_test(test_query_get_decodes),
        cmocka_unit_test(test_debug),
        cmocka_unit_test(test_symbol_body),
        cmocka_unit_test(test_records_subtract),
        cmocka_unit_test(test_records_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
