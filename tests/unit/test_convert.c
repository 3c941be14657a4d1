/*
 * Converting gperftools' CPU output (plugin/capture/convert.c): the period is the
 * rate really achieved, and a profile with no sample says so instead of
 * claiming the rate asked for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/convert.h"
#include "pf_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes a legacy CPU profile (native words: header, samples, trailer)
 * with `counts[i]` samples of a one-frame stack each; returns its path. */
static char *write_legacy(const uintptr_t *counts, size_t n)
{
    static char path[] = "/tmp/test-convert-XXXXXX";
    strcpy(path, "/tmp/test-convert-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    uintptr_t header[] = {0, 3, 0, 10000, 0}; /* period 10 ms: 100 Hz */
    fwrite(header, sizeof header, 1, f);
    for (size_t i = 0; i < n; i++) {
        uintptr_t rec[] = {counts[i], 1, (uintptr_t)&write_legacy + 16 * i};
        fwrite(rec, sizeof rec, 1, f);
    }
    uintptr_t trailer[] = {0, 1, 0};
    fwrite(trailer, sizeof trailer, 1, f);
    fclose(f);
    return path;
}

/* Converts counts[] as a run of cpu_seconds at 100 Hz; decodes the result. */
static pv_decoded *convert(const uintptr_t *counts, size_t n, double cpu_seconds,
                           double *achieved)
{
    char *path = write_legacy(counts, n);
    prof_cpu_run run = {.wall_seconds = 1, .cpu_seconds = cpu_seconds, .requested_hz = 100};
    prof_blob out = {0};
    char err[256] = "";
    int rc = prof_convert_cpu(path, &run, NULL, &out, err, sizeof err);
    unlink(path);
    if (rc != 0)
        fail_msg("prof_convert_cpu: %s", err);
    *achieved = out.achieved_hz;
    pf_err perr = {0};
    pv_decoded *d = pv_decode(out.data, out.len, 64u << 20, &perr);
    free(out.data);
    if (d == NULL)
        fail_msg("decode: %s", perr.msg);
    return d;
}

static void assert_comment(const pv_decoded *d, const char *text)
{
    for (size_t i = 0; i < d->ncomments; i++)
        if (strcmp(d->comments[i], text) == 0)
            return;
    fail_msg("no comment \"%s\" (first: \"%s\")", text, d->ncomments ? d->comments[0] : "");
}

/* 30 samples in 0.5 s of CPU: 60 Hz achieved, a period of 1/60 s. */
static void test_period_is_rate_achieved(void **state)
{
    (void)state;
    uintptr_t counts[] = {20, 10};
    double hz = 0;
    pv_decoded *d = convert(counts, 2, 0.5, &hz);
    assert_true(hz > 59.99 && hz < 60.01);
    assert_int_equal(d->period, 16667000); /* ns, from 16667 us */
    assert_comment(d, "sampling: asked for 100 Hz, achieved 60.0 Hz over 0.50 s of CPU time");
    pv_free(d);
}

/* CPU was used but no sample came: 0 Hz achieved, not the 100 asked. */
static void test_no_sample_says_zero(void **state)
{
    (void)state;
    double hz = -1;
    pv_decoded *d = convert(NULL, 0, 0.28, &hz);
    assert_true(hz == 0);
    assert_int_equal(d->period, 10000000); /* the period asked, 10 ms */
    assert_int_equal(d->nsamples, 0);
    assert_comment(d, "sampling: asked for 100 Hz, achieved 0.0 Hz over 0.28 s of CPU time");
    pv_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_period_is_rate_achieved),
        cmocka_unit_test(test_no_sample_says_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
