/*
 * The flight recorder's ring (plugin/profiles/flight.h) without a server:
 * eviction oldest first (for age and for bytes), the byte bound after
 * every push, merging the buckets of a window (values, labels, the real
 * window, the drops said), a past beyond what is held and a recorder
 * that is off; and the profile core's merge and size it rests on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pf_view.h"
#include "profiles/flight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S 1000000000LL

static const pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};

/* A profile with `n` distinct stacks (leaf pc base + i), each of value
 * {1, ns}, labelled thread=name. */
static pf_profile *profile_of(uintptr_t base, int n, int64_t ns, const char *name)
{
    pf_err err = {0};
    pf_profile *p = pf_profile_new(types, 2, &err);
    assert_non_null(p);
    assert_int_equal(pf_profile_set_period(p, "cpu", "nanoseconds", 10000000), PF_OK);
    for (int i = 0; i < n; i++) {
        uintptr_t pcs[3] = {base + (uintptr_t)i, 0x2000, 0x3000};
        int64_t values[2] = {1, ns};
        pf_label labels[2] = {{.key = "thread", .str = name}, {.key = "thread_id", .num = 7}};
        assert_int_equal(pf_profile_add_sample(p, pcs, 3, values, labels, 2, &err), PF_OK);
    }
    return p;
}

/* A bucket of [from_s, until_s) with n stacks. */
static prof_flight_bucket bucket_of(int64_t from_s, int64_t until_s, int n, const char *name)
{
    prof_flight_bucket b = {.profile = profile_of(0x1000, n, 10000000, name),
                            .from_ns = from_s * S, .until_ns = until_s * S,
                            .signals = (uint64_t)n, .samples = (uint64_t)n,
                            .cpu_seconds = n * 0.01};
    b.bytes = pf_profile_bytes(b.profile);
    return b;
}

/* Sum of value `index` over the samples labelled thread=name. */
static int64_t total_of(pf_profile *p, const char *name, size_t index)
{
    uint8_t *data = NULL;
    size_t len = 0;
    pf_err err = {0};
    assert_int_equal(pf_profile_encode(p, NULL, 0, &data, &len, &err), PF_OK);
    pv_decoded *v = pv_decode(data, len, 0, &err);
    assert_non_null(v);
    int64_t sum = 0;
    for (size_t i = 0; i < v->nsamples; i++)
        for (size_t k = 0; k < v->samples[i].nlabels; k++)
            if (strcmp(v->samples[i].labels[k].key, "thread") == 0 &&
                strcmp(v->samples[i].labels[k].str, name) == 0)
                sum += v->samples[i].values[index];
    pv_free(v);
    free(data);
    return sum;
}

static void test_merge_adds_samples_and_keeps_labels(void **state)
{
    (void)state;
    pf_err err = {0};
    pf_profile *a = profile_of(0x1000, 3, 5, "alpha"), *b = profile_of(0x1000, 3, 7, "beta");
    pf_profile *c = profile_of(0x1000, 3, 11, "alpha");
    pf_profile *dst = pf_profile_new(types, 2, &err);
    assert_int_equal(pf_profile_merge(dst, a, &err), PF_OK);
    assert_int_equal(pf_profile_merge(dst, b, &err), PF_OK);
    assert_int_equal(pf_profile_merge(dst, c, &err), PF_OK);
    /* alpha's stacks merged with c's (same stacks and labels), beta apart */
    assert_int_equal(pf_profile_sample_count(dst), 6);
    assert_int_equal(pf_profile_location_count(dst), 5);
    assert_int_equal(total_of(dst, "alpha", 1), 3 * (5 + 11));
    assert_int_equal(total_of(dst, "beta", 1), 3 * 7);
    assert_int_equal(total_of(dst, "alpha", 0), 6);
    /* other sample types: refused */
    const pf_value_type wall[] = {{"samples", "count"}, {"wall", "nanoseconds"}};
    pf_profile *w = pf_profile_new(wall, 2, &err);
    assert_int_equal(pf_profile_merge(w, a, &err), PF_ERR_ARG);
    pf_profile_free(w);
    pf_profile_free(a);
    pf_profile_free(b);
    pf_profile_free(c);
    pf_profile_free(dst);
}

static void test_bytes_grow_with_samples(void **state)
{
    (void)state;
    pf_profile *small = profile_of(0x1000, 1, 1, "t"), *big = profile_of(0x1000, 5000, 1, "t");
    size_t s = pf_profile_bytes(small), b = pf_profile_bytes(big);
    print_message("1 stack: %zu bytes; 5000 stacks: %zu bytes\n", s, b);
    assert_true(s > 0);
    /* each stack holds at least its 3 location indices, values, a label pair */
    assert_true(b > s + 5000 * (3 * 4 + 2 * 8 + 2 * 32));
    pf_profile_free(small);
    pf_profile_free(big);
}

static void test_eviction_oldest_first_and_bound_never_exceeded(void **state)
{
    (void)state;
    prof_flight_ring r = {0};
    size_t max = 0;
    for (int i = 0; i < 20; i++) {
        prof_flight_bucket b = bucket_of(100 + 10 * i, 110 + 10 * i, 50 + 40 * (i % 3), "t");
        if (i == 0)
            max = 4 * b.bytes; /* room for about four buckets */
        assert_int_equal(prof_flight_ring_push(&r, &b), 0);
        prof_flight_ring_fit(&r, max, 0);
        size_t sum = 0;
        for (size_t k = 0; k < r.len; k++) {
            sum += r.b[k].bytes;
            if (k > 0) /* oldest first, contiguous: the newest are kept */
                assert_int_equal(r.b[k].from_ns, r.b[k - 1].until_ns);
        }
        assert_int_equal(sum, r.bytes);
        assert_true(r.bytes <= max);
        assert_int_equal(r.b[r.len - 1].from_ns, (100 + 10 * i) * S);
    }
    assert_true(r.len >= 2 && r.len < 20);
    assert_int_equal(r.evicted, 20 - r.len);
    /* age: buckets that ended by then go, and do not count as evicted for bytes */
    uint64_t evicted = r.evicted;
    int64_t newest_from = r.b[r.len - 1].from_ns;
    prof_flight_ring_fit(&r, max, newest_from);
    assert_int_equal(r.len, 1);
    assert_int_equal(r.b[0].from_ns, newest_from);
    assert_int_equal(r.evicted, evicted);
    prof_flight_ring_clear(&r);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.bytes, 0);
}

static void test_merge_window(void **state)
{
    (void)state;
    prof_flight_ring r = {0};
    /* [100,110) old, [110,120) hot, [120,130) and [130,140) after */
    prof_flight_bucket b[4] = {bucket_of(100, 110, 2, "old"), bucket_of(110, 120, 5, "hot"),
                               bucket_of(120, 130, 3, "after"), bucket_of(130, 140, 3, "after")};
    b[2].dropped = 4; /* the ring's bound left samples out in that bucket */
    b[3].lost = 1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(prof_flight_ring_push(&r, &b[i]), 0);
    char err[256];
    pf_err perr = {0};
    /* from 125: the buckets that overlap it, [120,140) */
    pf_profile *p = pf_profile_new(types, 2, &perr);
    prof_flight_span span = {0};
    assert_int_equal(prof_flight_ring_merge(&r, 125 * S, p, &span, err, sizeof err), 0);
    assert_int_equal(span.buckets, 2);
    assert_int_equal(span.from_ns, 120 * S);
    assert_int_equal(span.until_ns, 140 * S);
    assert_int_equal(span.dropped, 4);
    assert_int_equal(span.lost, 1);
    assert_int_equal(span.dropped_buckets, 2);
    assert_int_equal(total_of(p, "hot", 1), 0);
    assert_int_equal(total_of(p, "after", 0), 6);
    char text[512];
    prof_flight_describe(&span, text, sizeof text);
    print_message("%s\n", text);
    assert_non_null(strstr(text, "2 buckets merged"));
    assert_non_null(strstr(text, "4 samples dropped"));
    pf_profile_free(p);
    /* from 105: everything from [100,110) on */
    p = pf_profile_new(types, 2, &perr);
    span = (prof_flight_span){0};
    assert_int_equal(prof_flight_ring_merge(&r, 105 * S, p, &span, err, sizeof err), 0);
    assert_int_equal(span.buckets, 4);
    assert_int_equal(span.from_ns, 100 * S);
    assert_int_equal(total_of(p, "hot", 1), 5 * 10000000);
    assert_int_equal(span.samples, 13);
    pf_profile_free(p);
    prof_flight_ring_clear(&r);
}

static void log_nothing(tk_host *h, tk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_nothing(tk_host *h, tk_log_level level, const char *fmt, ...)
{
    (void)h;
    (void)level;
    (void)fmt;
}

static void test_off_names_the_key(void **state)
{
    (void)state;
    tk_host_api api = {.log = log_nothing};
    prof_host ph = {&api, NULL};
    prof_flight *f = prof_flight_new(&ph, NULL, NULL);
    assert_non_null(f);
    long held = 99;
    char err[512];
    assert_int_equal(prof_flight_check(f, PROF_FLIGHT_CPU, 60, &held, err, sizeof err), 400);
    assert_int_equal(held, 0);
    assert_non_null(strstr(err, "profiler.flight_recorder.seconds"));
    assert_int_equal(prof_flight_check(f, PROF_FLIGHT_WALL, 60, &held, err, sizeof err), 400);
    assert_non_null(strstr(err, "profiler.flight_recorder.seconds"));
    pf_profile *p = NULL;
    prof_flight_span span;
    assert_int_equal(prof_flight_read(f, PROF_FLIGHT_CPU, 0, &p, &span, &held, err,
                                      sizeof err), 400);
    assert_null(p);
    prof_flight_free(f);
}

static volatile uint64_t sink;

static void spin(double seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            sink += (uint64_t)i * 7;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

/* A running recorder on the real sampler: a past beyond what it holds is
 * refused with how much it holds; within, it reads; a budget too small
 * for any sample drops them and says so. */
/* Reads the recorder from `since` once it has seen a sample there (kept
 * or dropped): burns CPU in 0.3 s steps and reads again, 60 s at most, as
 * the sampler's windows and drains come when a loaded machine lets them. */
static int read_once_sampled(prof_flight *f, int64_t since, pf_profile **p,
                             prof_flight_span *span)
{
    char err[512];
    long held = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        spin(0.3);
        if (prof_flight_read(f, PROF_FLIGHT_CPU, since, p, span, &held, err, sizeof err) != 0) {
            print_message("%s\n", err);
            return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (span->samples + span->dropped > 0 || t.tv_sec - t0.tv_sec > 60)
            return 0;
        pf_profile_free(*p);
        *p = NULL;
    }
}

static void test_recorder_past_and_drops(void **state)
{
    (void)state;
    tk_host_api api = {.log = log_nothing};
    prof_host ph = {&api, NULL};
    char err[512];
    prof_cpu *cpu = prof_cpu_new(err, sizeof err);
    assert_non_null(cpu);
    prof_sampler_choice c;
    if (prof_sampler_resolve(PROF_SAMPLER_AUTO, &c, err, sizeof err) != 0 ||
        c.mode == PROF_SAMPLER_GPERFTOOLS) {
        prof_cpu_free(cpu);
        skip(); /* no per-thread sampler here: the recorder cannot run */
    }
    prof_cpu_set_sampler(cpu, &c);
    prof_flight *f = prof_flight_new(&ph, cpu, NULL);
    prof_settings s = {.cpu_hz = 1000, .flight_seconds = 60, .flight_max_bytes = 32 << 20,
                       .flight_bucket_seconds = 1};
    prof_flight_set(f, &s, true);
    spin(0.3);
    long held = 0;
    assert_int_equal(prof_flight_check(f, PROF_FLIGHT_CPU, 3600, &held, err, sizeof err), 400);
    print_message("%s\n", err);
    assert_non_null(strstr(err, "asks for more than the flight recorder holds"));
    assert_non_null(strstr(err, "profiler.flight_recorder.seconds=60"));
    pf_profile *p = NULL;
    prof_flight_span span;
    assert_int_equal(read_once_sampled(f, 0, &p, &span), 0);
    assert_true(span.samples > 0 && span.dropped == 0);
    pf_profile_free(p);
    /* a budget below what one sample may take: every sample is dropped */
    s.flight_max_bytes = 1;
    prof_flight_set(f, &s, true);
    usleep(1500000); /* the bucket under way then, with its samples, is rotated out */
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    assert_int_equal(read_once_sampled(f, (int64_t)at.tv_sec * S + at.tv_nsec, &p, &span), 0);
    print_message("tiny budget: %llu samples kept, %llu dropped\n",
                  (unsigned long long)span.samples, (unsigned long long)span.dropped);
    assert_true(span.dropped > 0);
    assert_int_equal(pf_profile_sample_count(p), 0);
    pf_profile_free(p);
    prof_flight_set(f, &s, false); /* off: freed, and says it is off */
    assert_int_equal(prof_flight_check(f, PROF_FLIGHT_CPU, 1, &held, err, sizeof err), 400);
    assert_int_equal(held, 0);
    prof_flight_free(f);
    prof_cpu_free(cpu);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    return prof_sampler_init(err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    prof_sampler_fini();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_adds_samples_and_keeps_labels),
        cmocka_unit_test(test_bytes_grow_with_samples),
        cmocka_unit_test(test_eviction_oldest_first_and_bound_never_exceeded),
        cmocka_unit_test(test_merge_window),
        cmocka_unit_test(test_off_names_the_key),
        cmocka_unit_test(test_recorder_past_and_drops),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
