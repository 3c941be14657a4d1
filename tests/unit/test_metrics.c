/*
 * /metrics as plugin/http/metrics.c writes it: requests by endpoint and
 * status, bytes, the duration histogram, auth failures, slow clients, and
 * the figures other parts hand in (CPU sampler, tcmalloc), present only
 * when they have them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/metrics.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"", "heap", "profile"};

static char *render(prof_metrics *m, const prof_metrics_sampled *sampled)
{
    pf_strbuf out = {0};
    prof_metrics_render(m, &out, true, sampled);
    assert_false(out.failed);
    pf_strbuf_put(&out, "", 1);
    return out.s;
}

static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("no line \"%s\" in:\n%.4000s", line, text);
}

static void test_requests_by_endpoint_and_status(void **state)
{
    (void)state;
    prof_metrics *m = prof_metrics_new(names, 3);
    assert_non_null(m);
    prof_metrics_request(m, 1, 200, 1000, 0.002, true);
    prof_metrics_request(m, 1, 200, 500, 0.2, true);
    prof_metrics_request(m, 2, 409, 40, 0.001, true);
    prof_metrics_request(m, 3, 404, 10, 0.001, false); /* no endpoint: "other" */
    prof_metrics_auth_failure(m);
    char *text = render(m, &(prof_metrics_sampled){0});
    assert_line(text, "takhin_profiler_requests_total{endpoint=\"heap\",code=\"200\"} 2");
    assert_line(text, "takhin_profiler_requests_total{endpoint=\"profile\",code=\"409\"} 1");
    assert_line(text, "takhin_profiler_requests_total{endpoint=\"other\",code=\"404\"} 1");
    assert_line(text, "takhin_profiler_response_bytes_total{endpoint=\"heap\"} 1500");
    assert_line(text, "takhin_profiler_profile_duration_seconds_count{endpoint=\"heap\"} 2");
    assert_line(text, "takhin_profiler_profile_duration_seconds_bucket{endpoint=\"heap\",le=\"+Inf\"} 2");
    assert_line(text, "takhin_profiler_auth_failures_total 1");
    assert_line(text, "takhin_profiler_enabled 1");
    /* No sampler figures handed in: no sampler metrics. */
    assert_null(strstr(text, "takhin_profiler_cpu_sampler_info"));
    assert_null(strstr(text, "takhin_profiler_tcmalloc_"));
    free(text);
    prof_metrics_free(m);
}

static void test_slow_clients_by_reason(void **state)
{
    (void)state;
    prof_metrics *m = prof_metrics_new(names, 3);
    prof_metrics_slow_client(m, PROF_SLOW_HEADER_TIMEOUT);
    prof_metrics_slow_client(m, PROF_SLOW_HEADER_TIMEOUT);
    prof_metrics_slow_client(m, PROF_SLOW_PEER_CAP);
    char *text = render(m, &(prof_metrics_sampled){0});
    assert_line(text, "takhin_profiler_slow_clients_total{reason=\"header_timeout\"} 2");
    assert_line(text, "takhin_profiler_slow_clients_total{reason=\"peer_cap\"} 1");
    assert_line(text, "takhin_profiler_slow_clients_total{reason=\"body_timeout\"} 0");
    free(text);
    prof_metrics_free(m);
}

static void test_cpu_sampler_figures(void **state)
{
    (void)state;
    prof_metrics *m = prof_metrics_new(names, 3);
    prof_metrics_sampled s = {
        .cpu = {.sampler = "perf", .kernel = false, .samples = 1234, .lost = 5,
                .handler_ns = 2500000000ULL, .last_achieved_hz = 97.25},
    };
    char *text = render(m, &s);
    assert_line(text, "takhin_profiler_cpu_sampler_info{sampler=\"perf\",kernel=\"false\"} 1");
    assert_line(text, "takhin_profiler_cpu_samples_total 1234");
    assert_line(text, "takhin_profiler_cpu_samples_lost_total 5");
    assert_line(text, "takhin_profiler_cpu_sampler_handler_seconds_total 2.500000000");
    assert_line(text, "takhin_profiler_cpu_rate_achieved_hz 97.2");
    free(text);
    prof_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_by_endpoint_and_status),
        cmocka_unit_test(test_slow_clients_by_reason),
        cmocka_unit_test(test_cpu_sampler_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
