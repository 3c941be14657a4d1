/*
 * push.h's pure parts: the push.* values operators write, the retry
 * policy, and the pruning that keeps a profile within Pyroscope's limits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pf_profile.h"
#include "profiles/push.h"

#include <stdlib.h>
#include <string.h>

static void test_durations(void **state)
{
    (void)state;
    long ms;
    assert_int_equal(prof_push_parse_duration("15s", &ms), 0);
    assert_int_equal(ms, 15000);
    assert_int_equal(prof_push_parse_duration("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(prof_push_parse_duration("1m", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(prof_push_parse_duration("15", &ms), 0);
    assert_int_equal(ms, 15000);
    assert_int_equal(prof_push_parse_duration("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(prof_push_parse_duration("", &ms), -1);
    assert_int_equal(prof_push_parse_duration("15x", &ms), -1);
    assert_int_equal(prof_push_parse_duration("-1s", &ms), -1);
    assert_int_equal(prof_push_parse_duration("nan", &ms), -1);
}

static void test_types(void **state)
{
    (void)state;
    unsigned t;
    char bad[32];
    assert_int_equal(prof_push_parse_types("cpu, allocs,heap,mutex,block,goroutine,wall", &t, bad,
                                           sizeof bad), 0);
    assert_int_equal(t, (1u << PROF_PUSH_NTYPES) - 1);
    assert_int_equal(prof_push_parse_types("cpu,heapp", &t, bad, sizeof bad), -1);
    assert_string_equal(bad, "heapp");
}

static void test_names(void **state)
{
    (void)state;
    char name[256], err[256];
    assert_int_equal(prof_push_make_name("takhin", "env=prod, region = eu-1", name, sizeof name,
                                         err, sizeof err), 0);
    assert_string_equal(name, "takhin{env=prod,region=eu-1}");
    assert_int_equal(prof_push_make_name("takhin", "", name, sizeof name, err, sizeof err), 0);
    assert_string_equal(name, "takhin{}");
    assert_int_equal(prof_push_make_name("takhin", "env", name, sizeof name, err, sizeof err), -1);
    assert_int_equal(prof_push_make_name("takhin", "a=b}", name, sizeof name, err, sizeof err), -1);
    assert_int_equal(prof_push_make_name("takhin", "__name__=x", name, sizeof name, err,
                                         sizeof err), -1);
    assert_int_equal(prof_push_make_name("takhin", "service_name=x", name, sizeof name, err,
                                         sizeof err), -1);
    assert_int_equal(prof_push_make_name("ta{k", "", name, sizeof name, err, sizeof err), -1);
}

static void test_retry_policy(void **state)
{
    (void)state;
    assert_true(prof_push_retryable(0));
    assert_true(prof_push_retryable(500));
    assert_true(prof_push_retryable(503));
    assert_true(prof_push_retryable(408));
    assert_true(prof_push_retryable(429));
    assert_false(prof_push_retryable(400));
    assert_false(prof_push_retryable(401));
    assert_false(prof_push_retryable(413));
    assert_false(prof_push_retryable(422));
    assert_int_equal(prof_push_backoff_ms(1, 0.999), 499);
    assert_int_equal(prof_push_backoff_ms(1, 0.0), 250);
    assert_int_equal(prof_push_backoff_ms(3, 0.999), 1999); /* 2 s, jitter to 1-2 s */
    assert_true(prof_push_backoff_ms(20, 0.999) <= 30000);
    assert_true(prof_push_backoff_ms(20, 0.0) >= 15000);
}

/* Issue 23, row 9: a 429 or 503's Retry-After (s, as libcurl reads
 * seconds or an HTTP date) is honoured up to push.max_retry_after. */
static void test_retry_after(void **state)
{
    (void)state;
    long max = 300000; /* the default, 5m */
    assert_int_equal(prof_push_retry_wait_ms(429, 3600, 500, max), 300000); /* capped */
    assert_int_equal(prof_push_retry_wait_ms(503, 7, 500, max), 7000);
    assert_int_equal(prof_push_retry_wait_ms(429, 1, 8000, 1500), 1000); /* the server's word */
    assert_int_equal(prof_push_retry_wait_ms(429, 1, 500, 1500), 1000);
    assert_int_equal(prof_push_retry_wait_ms(429, 2, 500, 1500), 1500);
    assert_int_equal(prof_push_retry_wait_ms(429, 0, 500, max), 500);  /* none, or a past date */
    assert_int_equal(prof_push_retry_wait_ms(500, 60, 500, max), 500); /* only 429 and 503 */
    assert_int_equal(prof_push_retry_wait_ms(429, 60, 500, 0), 500);   /* 0s: ignored */
    assert_int_equal(prof_push_retry_wait_ms(429, 1LL << 50, 500, max), 300000);
}

static void test_keep_largest(void **state)
{
    (void)state;
    pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    pf_err err = {0};
    pf_profile *p = pf_profile_new(types, 2, &err);
    assert_non_null(p);
    for (uintptr_t i = 1; i <= 100; i++) {
        uintptr_t pcs[2] = {0x1000 + i, 0x9000}; /* one shared frame */
        int64_t v[2] = {1, (int64_t)i};
        assert_int_equal(pf_profile_add_sample(p, pcs, 2, v, NULL, 0, &err), PF_OK);
    }
    assert_int_equal(pf_profile_location_count(p), 101);
    size_t pruned;
    assert_int_equal(pf_profile_keep_largest(p, 10, 1, &pruned), PF_OK);
    assert_int_equal(pruned, 90);
    assert_int_equal(pf_profile_sample_count(p), 10);
    assert_int_equal(pf_profile_location_count(p), 11); /* the kept leaves + the shared one */
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(pf_profile_encode(p, NULL, 0, &out, &len, &err), PF_OK);
    assert_true(len > 0);
    free(out);
    assert_int_equal(pf_profile_keep_largest(p, 50, 1, &pruned), PF_OK);
    assert_int_equal(pruned, 0);
    pf_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),   cmocka_unit_test(test_types),
        cmocka_unit_test(test_names),       cmocka_unit_test(test_retry_policy),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_keep_largest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
