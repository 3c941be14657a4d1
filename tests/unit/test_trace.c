/*
 * The trace's parts without a server: ?seconds=F (the query parser), JSON strings, per-thread
 * buffers with their limits, and the JSON written from them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/trace.h"
#include "pf_util.h"
#include "http/query.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%.300s\"", part, text);
}

static size_t occurrences(const char *text, const char *part)
{
    size_t n = 0;
    for (const char *p = strstr(text, part); p != NULL; p = strstr(p + 1, part))
        n++;
    return n;
}

static void test_seconds(void **state)
{
    (void)state;
    double s = 0;
    char err[256] = "";
    assert_int_equal(prof_query_seconds_frac(NULL, 1.0, 120, &s, err, sizeof err), 0);
    assert_true(s == 1.0);
    assert_int_equal(prof_query_seconds_frac("seconds=0.25", 1.0, 120, &s, err, sizeof err), 0);
    assert_true(s == 0.25);
    assert_int_equal(prof_query_seconds_frac("debug=1&seconds=3", 1.0, 120, &s, err, sizeof err), 0);
    assert_true(s == 3.0);
    static const char *const bad[] = {"seconds=", "seconds=0", "seconds=-1", "seconds=abc",
                                      "seconds=nan", "seconds=inf", "seconds=1s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(prof_query_seconds_frac(bad[i], 1.0, 120, &s, err, sizeof err), -1);
        assert_contains(err, "must be a positive number of seconds");
    }
    assert_int_equal(prof_query_seconds_frac("seconds=120.5", 1.0, 120, &s, err, sizeof err), -1);
    assert_contains(err, "exceeds the limit of 120 s (profiler.max_duration)");
}

static void test_json_strings(void **state)
{
    (void)state;
    char out[64];
    prof_trace_json_string("producer-0", out, sizeof out);
    assert_string_equal(out, "\"producer-0\"");
    prof_trace_json_string("a\"b\\c\n\x01", out, sizeof out);
    assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    prof_trace_json_string("h\xc3\xa9llo \xe2\x82\xac", out, sizeof out);
    assert_string_equal(out, "\"h\xc3\xa9llo \xe2\x82\xac\"");
    /* Invalid UTF-8: a stray byte, an overlong '/', a surrogate, a cut sequence. */
    prof_trace_json_string("x\xffy\xc0\xaf\xed\xa0\x80\xe2\x82", out, sizeof out);
    assert_string_equal(out, "\"x\\ufffdy\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    prof_trace_json_string(NULL, out, sizeof out);
    assert_string_equal(out, "\"\"");
    /* Truncated at a character, still a valid string. */
    assert_int_equal(prof_trace_json_string("ab\xc3\xa9", out, 6), 4);
    assert_string_equal(out, "\"ab\"");
    assert_int_equal(prof_trace_json_string("a\"", out, 5), 3);
    assert_string_equal(out, "\"a\"");
}

/* ---- recording from threads ---- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct recorder {
    prof_trace *t;
    const char *name;
    int spans;
} recorder;

static void *record_main(void *arg)
{
    recorder *r = arg;
    pthread_setname_np(pthread_self(), r->name);
    int64_t base = now_ns();
    for (int i = 0; i < r->spans; i++)
        prof_trace_span(r->t, "produce", base + 1000 + i, base + 2500 + i);
    prof_trace_waited(r->t, TK_WAIT_COND, base + 5000, 1234);
    prof_trace_waited(r->t, TK_WAIT_MUTEX, base + 7000, 10);
    prof_trace_released(r->t, 42);
    return NULL;
}

static void run_recorders(prof_trace *t, recorder *r, size_t n)
{
    pthread_t th[8];
    for (size_t i = 0; i < n; i++) {
        r[i].t = t;
        assert_int_equal(pthread_create(&th[i], NULL, record_main, &r[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

static int to_strbuf(void *ctx, const void *data, size_t len)
{
    pf_strbuf_put(ctx, data, len);
    return 0;
}

static char *write_json(prof_trace *t)
{
    pf_strbuf sb = {0};
    size_t total = 0;
    assert_int_equal(prof_trace_write(t, "takhind", 77, to_strbuf, &sb, &total), 0);
    assert_false(sb.failed);
    assert_int_equal(total, sb.len);
    return sb.s;
}

static void test_record_and_write(void **state)
{
    (void)state;
    prof_trace *t = prof_trace_new();
    long ends_in = 0;
    prof_trace_span(t, "produce", 1, 2); /* no trace running: ignored */
    assert_true(prof_trace_begin(t, 5, &ends_in));
    assert_false(prof_trace_begin(t, 1, &ends_in));
    assert_true(ends_in >= 5 && ends_in <= 6);
    recorder r[2] = {{.name = "producer-0", .spans = 3}, {.name = "consumer-0", .spans = 2}};
    run_recorders(t, r, 2);
    prof_trace_stop(t);
    char *json = write_json(t);
    assert_true(strncmp(json, "{\"traceEvents\":[\n", 17) == 0);
    assert_contains(json, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":77,\"tid\":77,"
                          "\"args\":{\"name\":\"takhind\"}}");
    assert_contains(json, "\"args\":{\"name\":\"producer-0\"}}");
    assert_contains(json, "\"args\":{\"name\":\"consumer-0\"}}");
    assert_int_equal(occurrences(json, "{\"name\":\"produce\",\"cat\":\"span\",\"ph\":\"X\""), 5);
    assert_int_equal(occurrences(json, "\"name\":\"cond wait\""), 2);
    assert_int_equal(occurrences(json, "\"name\":\"mutex wait\""), 2);
    assert_int_equal(occurrences(json, "\"name\":\"contended unlock\""), 2);
    assert_contains(json, "\"dur\":1.234,");
    assert_contains(json, "\"waiters_delay_ns\":42");
    assert_contains(json, "\"displayTimeUnit\":\"ns\"");
    assert_contains(json, "\"events\":11,\"dropped_events\":0,\"threads\":2,");
    assert_contains(json, "}}\n");
    free(json);
    prof_trace_discard(t);
    assert_true(prof_trace_begin(t, 1, &ends_in));
    prof_trace_stop(t);
    prof_trace_discard(t);
    prof_trace_free(t);
}

static void test_limits_count_drops(void **state)
{
    (void)state;
    prof_trace *t = prof_trace_new();
    long ends_in;
    assert_true(prof_trace_begin(t, 1, &ends_in));
    recorder r[1] = {{.name = "busy", .spans = TRACE_EVENTS_PER_THREAD + 7}};
    run_recorders(t, r, 1);
    prof_trace_stop(t);
    char *json = write_json(t);
    /* The buffer holds the spans up to its limit; the rest and the three
     * events after them are counted. */
    char expect[128];
    snprintf(expect, sizeof expect, "\"events\":%d,\"dropped_events\":10,\"threads\":1,",
             TRACE_EVENTS_PER_THREAD);
    assert_contains(json, expect);
    free(json);
    prof_trace_discard(t);
    assert_int_equal(prof_trace_dropped(t), 10); /* what /metrics shows */
    /* A new trace: the same thread gets a fresh buffer. */
    assert_true(prof_trace_begin(t, 1, &ends_in));
    prof_trace_span(t, "consume", now_ns(), now_ns() + 10);
    prof_trace_stop(t);
    json = write_json(t);
    assert_contains(json, "\"events\":1,\"dropped_events\":0,\"threads\":1,");
    free(json);
    prof_trace_free(t);
}

static void test_events_before_start_are_clipped(void **state)
{
    (void)state;
    prof_trace *t = prof_trace_new();
    long ends_in;
    assert_true(prof_trace_begin(t, 1, &ends_in));
    prof_trace_waited(t, TK_WAIT_COND, 1, 1); /* began and ended long before the trace */
    prof_trace_stop(t);
    char *json = write_json(t);
    assert_contains(json, "\"ts\":0.000,\"dur\":0.000,");
    assert_contains(json, "\"args\":{\"began_before_trace\":true}");
    free(json);
    prof_trace_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_record_and_write),
        cmocka_unit_test(test_limits_count_drops),
        cmocka_unit_test(test_events_before_start_are_clipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
