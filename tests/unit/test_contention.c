/*
 * The mutex and block profiles' sampling decisions (Go's semantics): what
 * is recorded, how it is scaled, and that the estimates are unbiased.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/contention.h"

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void test_mutex_off_and_every_event(void **state)
{
    (void)state;
    double count = 0;
    int64_t delay = 0;
    assert_false(prof_contention_mutex_sample(0, 100, 0, &count, &delay));
    assert_false(prof_contention_mutex_sample(-1, 100, 0, &count, &delay));
    assert_true(prof_contention_mutex_sample(1, 100, 12345, &count, &delay));
    assert_true(count == 1.0);
    assert_int_equal(delay, 100);
}

static void test_mutex_scales_by_fraction(void **state)
{
    (void)state;
    double count = 0;
    int64_t delay = 0;
    assert_false(prof_contention_mutex_sample(5, 100, 3, &count, &delay));
    assert_true(prof_contention_mutex_sample(5, 100, 10, &count, &delay));
    assert_true(count == 5.0);
    assert_int_equal(delay, 500);
    /* The scaled delay saturates instead of wrapping. */
    assert_true(prof_contention_mutex_sample(1000000000, INT64_MAX / 2, 0, &count, &delay));
    assert_true(delay == INT64_MAX);
}

static void test_block_long_waits_always(void **state)
{
    (void)state;
    double count = 0;
    int64_t delay = 0;
    assert_false(prof_contention_block_sample(0, 5000, 0, &count, &delay));
    assert_false(prof_contention_block_sample(1000, 0, 0, &count, &delay));
    for (uint64_t rnd = 0; rnd < 100; rnd++) {
        assert_true(prof_contention_block_sample(1000, 1000, rnd * 7919, &count, &delay));
        assert_true(count == 1.0);
        assert_int_equal(delay, 1000);
    }
    assert_true(prof_contention_block_sample(1000, 5000, 1, &count, &delay));
    assert_int_equal(delay, 5000);
}

static void test_block_short_waits_scaled(void **state)
{
    (void)state;
    double count = 0;
    int64_t delay = 0;
    /* d = 250 of rate 1000: recorded when rnd % 1000 < 250, as 4 events of 1000 ns. */
    assert_true(prof_contention_block_sample(1000, 250, 249, &count, &delay));
    assert_true(count == 4.0);
    assert_int_equal(delay, 1000);
    assert_false(prof_contention_block_sample(1000, 250, 250, &count, &delay));
}

/* Many events of known delays: the sampled sums estimate the true ones. */
static void expect_unbiased(bool block, int64_t setting, const int64_t *delays, size_t nd)
{
    uint64_t rng = 0x243f6a8885a308d3ULL;
    double events = 0, true_delay = 0, est_count = 0, est_delay = 0;
    for (int i = 0; i < 400000; i++) {
        int64_t d = delays[(size_t)i % nd];
        double c;
        int64_t x;
        bool hit = block ? prof_contention_block_sample(setting, d, next_random(&rng), &c, &x)
                         : prof_contention_mutex_sample((long)setting, d, next_random(&rng),
                                                        &c, &x);
        events += 1;
        true_delay += (double)d;
        if (hit) {
            est_count += c;
            est_delay += (double)x;
        }
    }
    double ce = est_count / events - 1, de = est_delay / true_delay - 1;
    if (ce > 0.03 || ce < -0.03 || de > 0.03 || de < -0.03)
        fail_msg("%s setting %lld: count off by %.1f%%, delay off by %.1f%%",
                 block ? "block" : "mutex", (long long)setting, ce * 100, de * 100);
}

static void test_estimates_unbiased(void **state)
{
    (void)state;
    static const int64_t delays[] = {50, 400, 900, 3000, 20000, 125};
    expect_unbiased(true, 1000, delays, 6);
    expect_unbiased(true, 10000, delays, 6);
    expect_unbiased(false, 1, delays, 6);
    expect_unbiased(false, 5, delays, 6);
    expect_unbiased(false, 100, delays, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutex_off_and_every_event),
        cmocka_unit_test(test_mutex_scales_by_fraction),
        cmocka_unit_test(test_block_long_waits_always),
        cmocka_unit_test(test_block_short_waits_scaled),
        cmocka_unit_test(test_estimates_unbiased),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
