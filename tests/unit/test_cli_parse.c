/*
 * test_cli_parse.c - takhin-profiler's readers (cli/profiler/input): profile.proto
 * from the profile core's encoder (of both models) and from Go's
 * runtime (tests/unit/data/cli/go_*.pb.gz); the legacy heap text of
 * gperftools (a real HEAPPROFILE dump and a sampled heap_v2 text, with
 * pprof's unsampling); the legacy CPU format; bad inputs (empty, text,
 * JSON, every truncation, random corruption) that must give a message and
 * never crash; frame pruning and C++ demangling as pprof does them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/cli.h"
#include "input/cli_prof.h"
#include "report/cli_report.h"
#include "profile.h"

#ifndef CLI_DATA
#define CLI_DATA "tests/unit/data/cli/"
#endif

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *d;
    char err[256];
    if (cli_read_file(path, 1u << 26, &d, len, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    return d;
}

static int type_of(const pf_decoded *p, const char *t)
{
    int i = pf_decoded_type_index(p, t);
    assert_true(i >= 0);
    return i;
}

static int64_t total(const pf_decoded *p, const char *t)
{
    return cli_prof_total(p, type_of(p, t));
}

/* ---- profile.proto ---- */

/* A profile from the core's encoder: symbolic frames, two sample types. */
static uint8_t *core_profile(size_t *len, unsigned flags)
{
    static const pf_value_type types[] = {{"contentions", "count"}, {"delay", "nanoseconds"}};
    pf_err err;
    pf_profile *p = pf_profile_new(types, 2, &err);
    assert_non_null(p);
    pf_frame a[] = {{"leaf", "a.c", 10}, {"mid", "a.c", 20}, {"main", "m.c", 5}};
    pf_frame b[] = {{"other", "b.c", 1}, {"main", "m.c", 6}};
    int64_t va[] = {3, 3000}, vb[] = {1, 500};
    assert_int_equal(pf_profile_add_sample_frames(p, a, 3, va, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample_frames(p, b, 2, vb, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample_frames(p, a, 3, va, NULL, 0, &err), PF_OK);
    pf_profile_set_time(p, 1700000000000000000LL, 2000000000LL);
    uint8_t *out;
    assert_int_equal(pf_profile_encode(p, NULL, flags, &out, len, &err), PF_OK);
    pf_profile_free(p);
    return out;
}

static void check_core(const pf_decoded *p)
{
    assert_int_equal(p->ntypes, 2);
    assert_string_equal(p->types[1].type, "delay");
    assert_string_equal(p->types[1].unit, "nanoseconds");
    assert_int_equal(p->default_type, 1);
    assert_int_equal(p->duration_nanos, 2000000000LL);
    assert_int_equal(total(p, "delay"), 6500);
    assert_int_equal(total(p, "contentions"), 7);
    uint32_t leaf = p->stack[p->samples[0].loc0];
    assert_string_equal(p->funcs[p->lines[p->locs[leaf].line0].func].name, "leaf");
}

static void test_proto_plain_and_gzip(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    for (unsigned flags = 0; flags <= PF_WRITE_GZIP; flags += PF_WRITE_GZIP) {
        uint8_t *d = core_profile(&len, flags);
        pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
        if (p == NULL)
            fail_msg("%s", err);
        check_core(p);
        pf_decoded_free(p);
        free(d);
    }
}

/* The core's encoder writes the analysis form as pf_decode reads it back. */
static void test_proto_roundtrip(void **state)
{
    (void)state;
    char err[256];
    size_t len, len2;
    uint8_t *d = core_profile(&len, 0), *d2;
    pf_decoded *p = pf_decode_plain(d, len, 0, NULL);
    assert_non_null(p);
    assert_int_equal(pf_decoded_encode(p, 0, &d2, &len2, NULL), PF_OK);
    pf_decoded *q = pf_decode_plain(d2, len2, 0, NULL);
    if (q == NULL)
        fail_msg("%s", err);
    check_core(q);
    assert_int_equal(q->nsamples, p->nsamples);
    assert_int_equal(q->nlocs, p->nlocs);
    pf_decoded_free(p);
    pf_decoded_free(q);
    free(d);
    free(d2);
}

/* Go's own CPU profile: cum of the recursive main.fib counts each sample
 * once, checked against a direct count over the samples. */
static void test_go_cpu(void **state)
{
    (void)state;
    char err[256];
    pf_decoded *p = cli_prof_load(CLI_DATA "go_cpu.pb.gz", err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_string_equal(cli_prof_kind(p, NULL), "cpu");
    int vi = type_of(p, "cpu");
    int64_t want = 0;
    for (size_t s = 0; s < p->nsamples; s++) {
        bool has = false;
        for (size_t k = 0; k < p->samples[s].nlocs && !has; k++) {
            const pf_dlocation *l = &p->locs[p->stack[p->samples[s].loc0 + k]];
            for (uint32_t j = 0; j < l->nlines; j++)
                has |= strcmp(p->funcs[p->lines[l->line0 + j].func].name, "main.fib") == 0;
        }
        want += has ? p->values[s * p->ntypes + (size_t)vi] : 0;
    }
    cli_graph *g = cli_graph_new();
    assert_int_equal(cli_graph_add(g, p, vi, 1), 0);
    bool found = false;
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->name[i], "main.fib") == 0) {
            assert_int_equal(g->cum[i], want);
            assert_true(want > 0);
            found = true;
        }
    }
    assert_true(found);
    cli_graph_free(g);
    pf_decoded_free(p);
}

static void test_go_heap(void **state)
{
    (void)state;
    char err[256];
    pf_decoded *p = cli_prof_load(CLI_DATA "go_heap.pb.gz", err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(p->ntypes, 4);
    assert_string_equal(p->types[p->default_type].type, "inuse_space");
    assert_string_equal(cli_prof_kind(p, NULL), "heap");
    assert_true(total(p, "alloc_space") >= total(p, "inuse_space"));
    pf_decoded_free(p);
}

/* ---- legacy heap text ---- */

static pf_decoded *heap_text(const char *text, char *err, size_t errlen)
{
    return cli_prof_parse((const uint8_t *)text, strlen(text), err, errlen);
}

static void test_heap_gperftools_dump(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    uint8_t *d = slurp(CLI_DATA "gperf_exit.heap", &len);
    pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_string_equal(p->format, "legacy heap profile");
    assert_int_equal(p->ntypes, 2); /* allocation totals equal the in-use ones */
    assert_string_equal(p->types[1].type, "space");
    assert_int_equal(total(p, "space"), 4100096);
    assert_int_equal(total(p, "objects"), 1001);
    assert_int_equal(p->nrecords, 2);
    assert_int_equal(p->locs[p->stack[p->samples[0].loc0]].address, 0x55cb56b5516cull);
    assert_true(p->nmaps >= 4); /* the executable mappings of MAPPED_LIBRARIES */
    assert_non_null(strstr(p->drop_frames, "tc_malloc"));
    pf_decoded_free(p);
    free(d);
}

static void test_heap_v2_unsampled(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    uint8_t *d = slurp(CLI_DATA "heap_v2.heap", &len);
    pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(p->ntypes, 4);
    assert_string_equal(p->types[p->default_type].type, "inuse_space");
    assert_int_equal(p->period, 524288);
    /* pprof's scaleHeapSample: value / (1 - exp(-avg/rate)) */
    double s1 = 1 / (1 - exp(-1024.0 / 524288)), s2 = 1 / (1 - exp(-1024.0 / 524288));
    assert_int_equal(total(p, "inuse_objects"), (int64_t)(1 * s1) + (int64_t)(2 * s2));
    assert_int_equal(total(p, "inuse_objects"), 1537); /* as go tool pprof reports */
    assert_int_equal(total(p, "alloc_objects"), 2565);
    pf_decoded_free(p);
    free(d);
}

static void test_heap_bad(void **state)
{
    (void)state;
    static const struct { const char *text, *msg; } cases[] = {
        {"heap profile: 1: 10 [1: 10] @ heapprofile\n  0: 5 [0: 0] @ 0x1\n",
         "line 2: inuse count was 0 but inuse bytes was 5"},
        {"heap profile: x\n", "line 1: malformed header"},
        {"heap profile: 1: 1 [1: 1] @ weird\n", "line 1: unknown heap profile kind"},
        {"heap profile: 1: 1 [1: 1] @ heapprofile\n 1: 1 [ 1: 1 @ 0x1\n", "line 2: malformed sample"},
        {"heap profile: 1: 1 [1: 1] @ heapprofile\n 1: 99999999999999999999 [1: 1] @ 0x1\n",
         "line 2: malformed sample"},
        {"heap profile: 1: 1 [1: 1] @ heapprofile\n 1: 1 [1: 1] @ 0x11112222333344445\n",
         "line 2: address does not fit 64 bits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[256] = "";
        pf_decoded *p = heap_text(cases[i].text, err, sizeof err);
        assert_null(p);
        if (strstr(err, cases[i].msg) == NULL)
            fail_msg("case %zu: %s", i, err);
    }
}

static void test_heap_comments_and_sentinel(void **state)
{
    (void)state;
    char err[256];
    pf_decoded *p = heap_text("heap profile: 2: 20 [3: 30] @ heapprofile\n"
                            "# a comment\n\n"
                            "  1: 10 [2: 20] @ 0x10 0x20\n"
                            "  1: 10 [1: 10] @ 0x10 0x20\n"
                            "--- Memory map: ---\n"
                            "garbage that is not a sample\n",
                            err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(p->ntypes, 4);
    assert_int_equal(p->nsamples, 1); /* same stack: merged */
    assert_int_equal(total(p, "alloc_space"), 30);
    assert_int_equal(total(p, "inuse_space"), 20);
    pf_decoded_free(p);
}

/* ---- legacy CPU ---- */

static void test_legacy_cpu(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    uint8_t *d = slurp("tests/unit/data/profile/gperf_cpu.prof", &len);
    pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
    if (p == NULL)
        fail_msg("%s", err);
    assert_string_equal(p->format, "legacy gperftools CPU profile");
    assert_string_equal(cli_prof_kind(p, NULL), "cpu");
    assert_true(p->nrecords > 0);
    assert_non_null(strstr(p->drop_frames, "ProfileData::Add"));
    pf_decoded_free(p);
    free(d);
}

/* ---- bad input ---- */

static void expect_error(const void *d, size_t len, const char *msg)
{
    char err[512] = "";
    pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
    assert_null(p);
    if (strstr(err, msg) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", msg, err);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    expect_error("", 0, "empty file");
    expect_error("hello world\n", 12, "unknown format");
    expect_error("{\"traceEvents\":[]}", 18, "trace");
    expect_error("<html>404</html>", 16, "HTML");
    expect_error("goroutine profile: total 3\n", 27, "debug=1");
    expect_error("\x1f\x8b\x08\x00garbage", 11, "gzip");
    static const uint8_t junk[] = {0x0a, 0x05, 0x01, 0x02};
    expect_error(junk, sizeof junk, "profile.proto");
    static const uint8_t nostrings[] = {0x60, 0x01}; /* period = 1, no string table */
    expect_error(nostrings, sizeof nostrings, "string table must start");
}

/* Every truncation: a gzipped profile must fail cleanly; a plain one may
 * still parse (a prefix of a protobuf can be a valid message) but never
 * crash or read out of bounds (run under ASan to see). */
static void test_truncations(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    for (unsigned flags = 0; flags <= PF_WRITE_GZIP; flags += PF_WRITE_GZIP) {
        uint8_t *d = core_profile(&len, flags);
        for (size_t n = 1; n < len; n++) {
            uint8_t *c = malloc(n);
            memcpy(c, d, n);
            err[0] = '\0';
            pf_decoded *p = cli_prof_parse(c, n, err, sizeof err);
            if (flags)
                assert_null(p);
            if (p == NULL)
                assert_true(err[0] != '\0');
            pf_decoded_free(p);
            free(c);
        }
        free(d);
    }
}

static void test_random_corruption(void **state)
{
    (void)state;
    char err[512];
    size_t len;
    uint8_t *d = core_profile(&len, 0);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 20000; round++) {
        uint8_t *c = malloc(len);
        memcpy(c, d, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c[x % len] = (uint8_t)(x >> 32);
        }
        err[0] = '\0';
        pf_decoded *p = cli_prof_parse(c, len, err, sizeof err);
        if (p == NULL)
            assert_true(err[0] != '\0');
        else {
            cli_report_opts o = {5, false, NULL, NULL};
            FILE *devnull = fopen("/dev/null", "w");
            for (size_t t = 0; t < p->ntypes; t++)
                cli_report_block(devnull, p, (int)t, NULL, 0, &o);
            fclose(devnull);
        }
        pf_decoded_free(p);
        free(c);
    }
    free(d);
}

static void test_no_samples(void **state)
{
    (void)state;
    static const pf_value_type types[] = {{"contentions", "count"}, {"delay", "nanoseconds"}};
    pf_err perr;
    char err[256];
    pf_profile *pp = pf_profile_new(types, 2, &perr);
    uint8_t *d;
    size_t len;
    assert_int_equal(pf_profile_encode(pp, NULL, PF_WRITE_GZIP, &d, &len, &perr), PF_OK);
    pf_decoded *p = cli_prof_parse(d, len, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(p->nrecords, 0);
    FILE *devnull = fopen("/dev/null", "w");
    cli_report_opts o = {20, false, NULL, NULL};
    assert_int_equal(cli_report(devnull, p, &o), CLI_EXIT_INPUT);
    fclose(devnull);
    pf_decoded_free(p);
    pf_profile_free(pp);
    free(d);
}

/* ---- pruning and names ---- */

static void test_prune_allocator_frames(void **state)
{
    (void)state;
    char err[256];
    pf_decoded *p = heap_text("heap profile: 1: 8 [1: 8] @ heapprofile\n"
                            " 1: 8 [1: 8] @ 0x11 0x21 0x31 0x41\n", err, sizeof err);
    assert_non_null(p);
    static const char *names[] = {"tc_malloc", "operator new(unsigned long)", "make_thing",
                                  "main"};
    for (size_t i = 0; i < 4; i++) { /* symbolize by hand: location i = names[i] */
        pf_dfunction f = {i + 1, names[i], names[i], "", 0};
        int64_t fi = pf_decoded_add_function(p, &f);
        p->locs[i].line0 = p->nlines;
        p->locs[i].nlines = 1;
        pf_decoded_add_line(p, (uint32_t)fi, 0);
    }
    cli_prof_prune(p);
    const pf_dsample *s = &p->samples[0];
    assert_int_equal(s->nlocs, 2);
    assert_string_equal(p->funcs[p->lines[p->locs[p->stack[s->loc0]].line0].func].name,
                        "make_thing");
    pf_decoded_free(p);
}

static void test_demangle(void **state)
{
    (void)state;
    static const char *const cases[][2] = { /* as go tool pprof -top shows them */
        {"_ZN8tcmalloc15CentralFreeList8PopulateEv", "tcmalloc::CentralFreeList::Populate"},
        {"_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector::push_back"},
        {"_Z3fooIiET_S0_", "foo"},
        {"_ZN12_GLOBAL__N_13barEv", "(anonymous namespace)::bar"},
        {"_ZNK3Foo3getEv", "Foo::get"},
        {"_ZN3FooclEv", "Foo::operator()"},
        {"_ZN3FooltERKS_", "Foo::operator<"},
        {"_ZZ4mainENKUlvE_clEv", "main::{lambda()#1}::operator()"},
        {"_Z3bazv.cold", "baz"},
        {"_Znwm", "operator new"},
        {"std::map<int, int>::find(int const&)", "std::map::find"},
        {"main", "main"},
    };
    pf_decoded *p = pf_decoded_new(false);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pf_dfunction f = {i + 1, cases[i][0], cases[i][0], "", 0};
        pf_decoded_add_function(p, &f);
    }
    cli_prof_demangle(p);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_string_equal(p->funcs[i].name, cases[i][1]);
    pf_decoded_free(p);
}

/* ---- a gzip bomb (issue 23, row 10) ---- */

/* A fetched answer of 500 gzip members of 1 MiB of zeros each: about 500
 * KiB that expand to 500 MiB, past the profile size limit. It must fail
 * there with the limit named, before the memory is taken: the process's
 * peak RSS grows by far less than the profile would need. */
static void test_gzip_bomb(void **state)
{
    (void)state;
    uint8_t *zeros = calloc(1, 1u << 20), *member, *bomb;
    size_t mlen;
    assert_non_null(zeros);
    assert_int_equal(pf_gzip(zeros, 1u << 20, &member, &mlen, NULL), PF_OK);
    free(zeros);
    assert_non_null(bomb = malloc(500 * mlen));
    for (size_t i = 0; i < 500; i++)
        memcpy(bomb + i * mlen, member, mlen);
    free(member);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    char err[512] = "";
    pf_decoded *p = cli_prof_parse(bomb, 500 * mlen, err, sizeof err);
    getrusage(RUSAGE_SELF, &after);
    free(bomb);
    assert_null(p);
    char want[128];
    snprintf(want, sizeof want, "gzip: more than %u bytes uncompressed", CLI_MAX_INFLATE);
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
    long grew_kib = after.ru_maxrss - before.ru_maxrss;
    if (grew_kib > 32 * 1024)
        fail_msg("peak RSS grew by %ld KiB inflating a bomb", grew_kib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proto_plain_and_gzip),
        cmocka_unit_test(test_proto_roundtrip),
        cmocka_unit_test(test_go_cpu),
        cmocka_unit_test(test_go_heap),
        cmocka_unit_test(test_heap_gperftools_dump),
        cmocka_unit_test(test_heap_v2_unsampled),
        cmocka_unit_test(test_heap_bad),
        cmocka_unit_test(test_heap_comments_and_sentinel),
        cmocka_unit_test(test_legacy_cpu),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_no_samples),
        cmocka_unit_test(test_prune_allocator_frames),
        cmocka_unit_test(test_demangle),
        cmocka_unit_test(test_gzip_bomb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
