/*
 * test_cli_report.c - takhin-profiler's analysis (cli/profiler/report, render): pprof's
 * arithmetic (flat to the leaf, cum once per sample even through
 * recursion, inlined frames as their own functions), the value and
 * percentage formatting of pprof's measurement package, the `-top` block
 * (expected texts checked against `go tool pprof -top` on the same
 * profiles), the difference against a base, collapsed stacks, and the flame
 * graph's layout (widths proportional to values, children inside their
 * parents) and SVG.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "input/cli_prof.h"
#include "pf_encode.h"
#include "render/cli_render.h"
#include "report/cli_report.h"

/* ---- building profiles from text ----
 * A sample is "root;caller;leaf V1 [V2]"; a frame "outer+inner" is one
 * location with an inlined call (inner inlined into outer). One location
 * per distinct frame text, one function per name. */

static uint32_t func_of(pf_decoded *p, const char *name)
{
    for (size_t i = 0; i < p->nfuncs; i++) {
        if (strcmp(p->funcs[i].name, name) == 0)
            return (uint32_t)i;
    }
    const char *s = pf_decoded_str(p, name, SIZE_MAX);
    pf_dfunction f = {p->nfuncs + 1, s, s, "x.c", 0};
    int64_t i = pf_decoded_add_function(p, &f);
    assert_true(i >= 0);
    return (uint32_t)i;
}

/* The location of frame text t ("a" or "a+b+c", outermost first). */
static uint32_t loc_of(pf_decoded *p, char **texts, const char *t)
{
    for (size_t i = 0; i < p->nlocs; i++) {
        if (strcmp(texts[i], t) == 0)
            return (uint32_t)i;
    }
    char buf[256], *parts[16];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", t);
    for (char *s = strtok(buf, "+"); s && n < 16; s = strtok(NULL, "+"))
        parts[n++] = s;
    pf_dlocation l = {p->nlocs + 1, 0x1000 + 16 * p->nlocs, 1, (uint32_t)n, p->nlines};
    for (size_t k = n; k-- > 0;) /* innermost first */
        assert_true(pf_decoded_add_line(p, func_of(p, parts[k]), (int64_t)k + 1) >= 0);
    texts[p->nlocs] = strdup(t);
    int64_t i = pf_decoded_add_location(p, &l);
    assert_true(i >= 0);
    return (uint32_t)i;
}

static pf_decoded *build(const pf_dvaluetype *types, size_t ntypes, const char *const *samples)
{
    pf_decoded *p = pf_decoded_new(false);
    char *texts[256] = {0};
    assert_non_null(p);
    assert_int_equal(pf_decoded_set_types(p, types, ntypes), 0);
    pf_dmapping m = {1, 0x1000, 0x100000, 0, "/usr/bin/app", "", true, true, true, true};
    assert_true(pf_decoded_add_mapping(p, &m) == 0);
    for (size_t s = 0; samples[s]; s++) {
        char buf[512], *frames[64];
        uint32_t locs[64];
        int64_t v[4] = {0};
        size_t n = 0;
        snprintf(buf, sizeof buf, "%s", samples[s]);
        char *sp = strchr(buf, ' ');
        assert_non_null(sp);
        *sp = '\0';
        sscanf(sp + 1, "%lld %lld", (long long *)&v[0], (long long *)&v[1]);
        for (char *f = strtok(buf, ";"); f && n < 64; f = strtok(NULL, ";"))
            frames[n++] = f;
        for (size_t k = 0; k < n; k++) /* leaf first */
            locs[k] = loc_of(p, texts, frames[n - 1 - k]);
        assert_int_equal(pf_decoded_add_sample(p, locs, n, v, NULL, 0), 0);
    }
    pf_decoded_done(p);
    for (size_t i = 0; i < 256; i++)
        free(texts[i]);
    return p;
}

static const pf_dvaluetype cpu_type[] = {{"cpu", "nanoseconds"}};

static int64_t node_value(const cli_graph *g, const char *name, bool cum)
{
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->name[i], name) == 0)
            return cum ? g->cum[i] : g->flat[i];
    }
    fail_msg("no node %s", name);
    return 0;
}

/* ---- arithmetic ---- */

static const char *const basic[] = {
    "main;a;b 100000000", "main;a 50000000", "main;r;r;r 30000000", "main;b 20000000", NULL};

static void test_flat_cum_recursion(void **state)
{
    (void)state;
    pf_decoded *p = build(cpu_type, 1, basic);
    cli_graph *g = cli_graph_new();
    assert_int_equal(cli_graph_add(g, p, 0, 1), 0);
    assert_int_equal(node_value(g, "b", false), 120000000);
    assert_int_equal(node_value(g, "b", true), 120000000);
    assert_int_equal(node_value(g, "a", false), 50000000);
    assert_int_equal(node_value(g, "a", true), 150000000);
    assert_int_equal(node_value(g, "r", false), 30000000);
    assert_int_equal(node_value(g, "r", true), 30000000); /* once, not 3 times */
    assert_int_equal(node_value(g, "main", false), 0);
    assert_int_equal(node_value(g, "main", true), 200000000);
    assert_int_equal(cli_prof_total(p, 0), 200000000);
    cli_graph_free(g);
    pf_decoded_free(p);
}

static void test_inline_frames(void **state)
{
    (void)state;
    static const char *const s[] = {"main;outer+inner 7", "main;outer 3", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    cli_graph *g = cli_graph_new();
    assert_int_equal(cli_graph_add(g, p, 0, 1), 0);
    assert_int_equal(node_value(g, "inner", false), 7); /* the innermost gets the flat */
    assert_int_equal(node_value(g, "inner", true), 7);
    assert_int_equal(node_value(g, "outer", false), 3);
    assert_int_equal(node_value(g, "outer", true), 10);
    cli_graph_free(g);
    pf_decoded_free(p);
}

static void test_identical_stacks_merge(void **state)
{
    (void)state;
    static const char *const s[] = {"main;x 1", "main;x 2", "main;y 4", "main;x 8", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    assert_int_equal(p->nrecords, 4);
    assert_int_equal(p->nsamples, 2);
    assert_int_equal(cli_prof_total(p, 0), 15);
    pf_decoded_free(p);
}

/* ---- units and percentages (expected: pprof's measurement package) ---- */

static void label(const char *want, int64_t v, const char *from, const char *to)
{
    char buf[64];
    cli_scaled_label(buf, sizeof buf, v, from, to);
    assert_string_equal(buf, want);
}

static void test_units(void **state)
{
    (void)state;
    label("1.50kB", 1536, "bytes", "auto");
    label("0", 0, "bytes", "auto");
    label("1s", 1000000000, "nanoseconds", "auto");
    label("1.50ms", 1500000, "nanoseconds", "auto");
    label("-2.50s", -2500000000LL, "nanoseconds", "auto");
    label("2hrs", 7200000000000LL, "nanoseconds", "auto");
    label("42", 42, "count", "count");
    label("117.74MB", 123456789, "bytes", "MB");
    label("2237.38ms", 2237380000LL, "nanoseconds", "ms");
    label("0.01s", 5000000, "nanoseconds", "s");
    label("512B", 512, "bytes", "auto");
}

static void pct(const char *want, int64_t v, int64_t total)
{
    char buf[16];
    cli_percentage(buf, sizeof buf, v, total);
    assert_string_equal(buf, want);
}

static void test_percentages(void **state)
{
    (void)state;
    pct("33.33%", 1, 3);
    pct("  0.1%", 1, 1000);
    pct("0.001%", 1, 100000);
    pct("99.90%", 999, 1000);
    pct("  100%", 9996, 10000);
    pct("    0%", 0, 0);
    pct("50.00%", -5, 10);
    pct(" 0.05%", 5, 10000);
    pct(" 1.23%", 12345, 1000000);
}

/* ---- the -top block ---- */

static char *block_text(const pf_decoded *p, int vi, const pf_decoded *base, long n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_report_opts o = {n, false, NULL, NULL};
    assert_int_equal(cli_report_block(f, p, vi, base, 0, &o), 0);
    fclose(f);
    return text;
}

/* Checked against `go tool pprof -top` on the same profile written out. */
static void test_top_block(void **state)
{
    (void)state;
    pf_decoded *p = build(cpu_type, 1, basic);
    char *t = block_text(p, 0, NULL, 0);
    assert_string_equal(t,
        "File: app\n"
        "Type: cpu\n"
        "Showing nodes accounting for 200ms, 100% of 200ms total\n"
        "      flat  flat%   sum%        cum   cum%\n"
        "     120ms 60.00% 60.00%      120ms 60.00%  b\n"
        "      50ms 25.00% 85.00%      150ms 75.00%  a\n"
        "      30ms 15.00%   100%       30ms 15.00%  r\n"
        "         0     0%   100%      200ms   100%  main\n");
    free(t);
    t = block_text(p, 0, NULL, 2);
    assert_non_null(strstr(t, "Showing top 2 nodes out of 4\n"));
    assert_non_null(strstr(t, "Showing nodes accounting for 170ms, 85.00% of 200ms total\n"));
    assert_null(strstr(t, "  r\n"));
    free(t);
    pf_decoded_free(p);
}

/* Nodes under 0.5% of the total are dropped, as pprof's nodefraction. */
static void test_cutoff(void **state)
{
    (void)state;
    static const char *const s[] = {"main;hot 10000", "main;tiny 4", "main;small 60", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    char *text = block_text(p, 0, NULL, 0);
    assert_non_null(strstr(text, "Dropped 1 node (cum <= 50)\n"));
    assert_null(strstr(text, "tiny"));
    assert_non_null(strstr(text, "small"));
    free(text);
    pf_decoded_free(p);
}

static void test_inline_marks(void **state)
{
    (void)state;
    static const char *const s[] = {"main;outer+inner 7", "main;outer 3", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    char *text = block_text(p, 0, NULL, 0);
    assert_non_null(strstr(text, "  inner (inline)\n"));
    assert_non_null(strstr(text, "  outer\n"));
    free(text);
    pf_decoded_free(p);
}

/* ---- difference ---- */

static void test_diff(void **state)
{
    (void)state;
    static const pf_dvaluetype t[] = {{"inuse_space", "bytes"}};
    static const char *const base_s[] = {"main;grow 1024", "main;same 4096", "main;gone 2048", NULL};
    static const char *const cur_s[] = {"main;grow 9216", "main;same 4096", "main;new 512", NULL};
    pf_decoded *base = build(t, 1, base_s), *cur = build(t, 1, cur_s);
    cli_graph *g = cli_graph_new();
    assert_int_equal(cli_graph_add(g, cur, 0, 1), 0);
    assert_int_equal(cli_graph_add(g, base, 0, -1), 0);
    assert_int_equal(node_value(g, "grow", false), 8192);
    assert_int_equal(node_value(g, "same", false), 0);
    assert_int_equal(node_value(g, "gone", false), -2048);
    assert_int_equal(node_value(g, "new", false), 512);
    assert_int_equal(node_value(g, "main", true), 6656);
    cli_graph_free(g);
    char *text = block_text(cur, 0, base, 0);
    /* percentages of the base's total (7168 B), sorted by |flat| */
    assert_non_null(strstr(text, "Showing nodes accounting for 6656B, 92.86% of 7168B total\n"));
    const char *grow = strstr(text, "  grow\n"), *gone = strstr(text, "  gone\n");
    assert_non_null(grow);
    assert_non_null(gone);
    assert_true(grow < gone);
    assert_non_null(strstr(text, "    -2048B 28.57% 85.71%     -2048B 28.57%  gone\n"));
    assert_non_null(strstr(text, "     8192B 114.29% 114.29%      8192B 114.29%  grow\n"));
    free(text);
    pf_decoded_free(base);
    pf_decoded_free(cur);
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in:\n%s", part, text);
}

/* pprof trims the edges under 0.1% of the total before it marks inlining:
 * an inline edge whose two sides cancel out in a difference marks
 * nothing. Expected text checked against `go tool pprof -top -diff_base`
 * on the two profiles written out. */
static void test_diff_cancelled_inline_edge(void **state)
{
    (void)state;
    static const char *const cur_s[] = {"wait 1000", "main;lock+wait 2", "main;lock 100", NULL};
    static const char *const base_s[] = {"main;lock+wait 2", NULL};
    pf_decoded *base = build(cpu_type, 1, base_s), *cur = build(cpu_type, 1, cur_s);
    char *text = block_text(cur, 0, base, 25);
    assert_contains(text, "  wait\n");
    assert_null(strstr(text, "(inline)"));
    free(text);
    /* Without the base the edge weighs 2 of 1102, over the cutoff: wait has
     * that inline in-edge only. */
    text = block_text(cur, 0, NULL, 25);
    assert_contains(text, "  wait (inline)\n");
    free(text);
    pf_decoded_free(base);
    pf_decoded_free(cur);
}

/* comments: a malloc'd array (the profile frees it) of static strings. */
static void set_header(pf_decoded *p, int64_t time, int64_t duration, const char *c1,
                       const char *c2)
{
    p->time_nanos = time;
    p->duration_nanos = duration;
    p->comments = calloc(2, sizeof *p->comments);
    assert_non_null(p->comments);
    p->comments[0] = c1;
    p->comments[1] = c2;
    p->ncomments = c2 ? 2 : 1;
}

/* Against a base, the header is pprof's merge of the two: the earliest
 * time, the durations added up, the base's new comments after the
 * profile's. */
static void test_diff_header(void **state)
{
    (void)state;
    static const char *const s[] = {"main;work 300", NULL};
    pf_decoded *base = build(cpu_type, 1, s), *cur = build(cpu_type, 1, s);
    const int64_t t0 = 1700000000LL * 1000000000; /* 22:13:20 UTC */
    set_header(base, t0, 2000000000, "rate: 100 Hz", "base only");
    set_header(cur, t0 + 60LL * 1000000000, 1000000000, "rate: 100 Hz", NULL);
    setenv("TZ", "UTC", 1); /* pprof prints local time */
    tzset();
    char *text = block_text(cur, 0, base, 0);
    assert_contains(text, "rate: 100 Hz\nbase only\nType: cpu\n");
    assert_contains(text, "Time: Nov 14, 2023 at 10:13pm (UTC)\n"); /* the base's */
    assert_contains(text, "Duration: 3s, ");
    free(text);
    pf_decoded_free(base);
    pf_decoded_free(cur);
}

/* ---- collapsed stacks ---- */

static void test_folded(void **state)
{
    (void)state;
    static const char *const s[] = {"main;a;b 3", "main;a 2", "main;a;b 4", "main;x;y 0",
                                    "w;o+i 1", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(cli_folded(f, p, 0), 0);
    fclose(f);
    assert_string_equal(text, "main;a 2\nmain;a;b 7\nw;o;i 1\n");
    free(text);
    pf_decoded_free(p);
}

/* Frames nothing names show as their file and file offset (or the bare
 * address without a mapping), one node per address; a mapping with such
 * a location stops claiming functions. */
static void test_unresolved_frames(void **state)
{
    (void)state;
    pf_decoded *p = pf_decoded_new(false);
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    assert_int_equal(pf_decoded_set_types(p, t, 1), 0);
    pf_dmapping app = {1, 0x1000, 0x2000, 0, "/usr/bin/app", "", true, true, true, true};
    pf_dmapping lib = {2, 0x7000, 0x9000, 0x2000, "/usr/lib/libz.so.1", "ab12", true, true,
                       true, true};
    assert_true(pf_decoded_add_mapping(p, &app) == 0 && pf_decoded_add_mapping(p, &lib) == 1);
    pf_dlocation main_loc = {1, 0x1010, 1, 1, p->nlines};
    assert_true(pf_decoded_add_line(p, func_of(p, "main"), 3) >= 0);
    pf_dlocation in_lib = {2, 0x7123, 2, 0, 0}, nowhere = {3, 0x42, 0, 0, 0};
    assert_true(pf_decoded_add_location(p, &main_loc) == 0);
    assert_true(pf_decoded_add_location(p, &in_lib) == 1);
    assert_true(pf_decoded_add_location(p, &nowhere) == 2);
    int64_t five = 5, one = 1;
    assert_int_equal(pf_decoded_add_sample(p, (uint32_t[]){1, 0}, 2, &five, NULL, 0), 0);
    assert_int_equal(pf_decoded_add_sample(p, (uint32_t[]){2, 0}, 2, &one, NULL, 0), 0);
    pf_decoded_done(p);
    pf_decoded_mark_unresolved(p);
    assert_true(p->maps[0].has_functions);
    assert_false(p->maps[1].has_functions || p->maps[1].has_filenames || p->maps[1].has_lines);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(cli_folded(f, p, 0), 0);
    fclose(f);
    assert_non_null(strstr(text, "main;libz.so.1+0x2123 5\n"));
    assert_non_null(strstr(text, "main;0x42 1\n"));
    free(text);
    pf_decoded_free(p);
}

/* ---- flame graph ---- */

static void check_children(const cli_flame *f, uint32_t i)
{
    int64_t x = f->node[i].x, sum = 0;
    const char *prev = "";
    for (uint32_t c = f->node[i].child; c != 0; c = f->node[c].next) {
        const cli_fnode *n = &f->node[c];
        assert_int_equal(n->parent, i);
        assert_int_equal(n->depth, f->node[i].depth + 1);
        assert_int_equal(n->x, x + sum); /* left to right, no gap, no overlap */
        assert_true(n->x >= f->node[i].x);
        assert_true(n->x + n->value <= f->node[i].x + f->node[i].value); /* inside */
        assert_true(strcmp(prev, f->g->name[n->name]) < 0);              /* by name */
        prev = f->g->name[n->name];
        sum += n->value;
        check_children(f, c);
    }
    assert_true(sum <= f->node[i].value);
}

static void test_flame_layout(void **state)
{
    (void)state;
    static const char *const s[] = {"main;a;b 30", "main;a 20", "main;c;b 40", "main;r;r 5",
                                    "other 5", "main;neg -7", NULL};
    static const pf_dvaluetype t[] = {{"samples", "count"}};
    pf_decoded *p = build(t, 1, s);
    cli_flame *f = cli_flame_build(p, 0);
    assert_non_null(f);
    assert_int_equal(f->node[0].value, 100); /* negative samples left out */
    assert_int_equal(f->max_depth, 3);
    check_children(f, 0);
    /* widths proportional: main is 95 of 100, a;b 30, c;b 40 */
    for (size_t i = 1; i < f->n; i++) {
        const cli_fnode *n = &f->node[i];
        const char *name = f->g->name[n->name];
        if (strcmp(name, "main") == 0)
            assert_int_equal(n->value, 95);
        if (strcmp(name, "b") == 0 && strcmp(f->g->name[f->node[n->parent].name], "c") == 0)
            assert_int_equal(n->value, 40);
        if (strcmp(name, "r") == 0 && n->depth == 3)
            assert_int_equal(n->value, 5); /* recursion stacks up */
    }
    cli_flame_free(f);
    pf_decoded_free(p);
}

static void test_flame_label(void **state)
{
    (void)state;
    char buf[256];
    cli_flame_label(buf, sizeof buf, "produce_handle", 500);
    assert_string_equal(buf, "produce_handle");
    cli_flame_label(buf, sizeof buf, "produce_handle", 60); /* (60-6)/7.08 = 7 chars */
    assert_string_equal(buf, "produ..");
    cli_flame_label(buf, sizeof buf, "produce_handle", 20);
    assert_string_equal(buf, "");
    cli_flame_label(buf, sizeof buf, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 50);
    assert_string_equal(buf, "\xc3\xa9\xc3\xa9.."); /* never half a character */
}

static void test_flame_svg(void **state)
{
    (void)state;
    static const char *const s[] = {"main;<script>&\"x\" 30", "main;a 70", NULL};
    static const pf_dvaluetype t[] = {{"cpu", "nanoseconds"}};
    pf_decoded *p = build(t, 1, s);
    cli_flame *f = cli_flame_build(p, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cli_flame_meta m = {"title <1>", "sub", "nanoseconds", NULL};
    assert_int_equal(cli_flame_svg(out, f, &m), 0);
    fclose(out);
    assert_non_null(strstr(text, "<svg "));
    assert_non_null(strstr(text, "<script type=\"text/ecmascript\"><![CDATA["));
    assert_non_null(strstr(text, "&lt;script&gt;&amp;&quot;x&quot;"));
    assert_null(strstr(text, "<script>&"));
    assert_non_null(strstr(text, "title &lt;1&gt;"));
    assert_non_null(strstr(text, "<title>a (70ns, 70.00%)</title>"));
    assert_null(strstr(text, "href=")); /* nothing external */
    assert_null(strstr(text, "src="));
    /* main spans the whole width: 1180 px */
    assert_non_null(strstr(text, "data-n=\"main\"><title>main (100ns, 100%)</title><rect x=\"10.00\""));
    assert_non_null(strstr(text, "width=\"1180.00\""));
    free(text);
    cli_flame_free(f);
    pf_decoded_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_cum_recursion),
        cmocka_unit_test(test_inline_frames),
        cmocka_unit_test(test_identical_stacks_merge),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_percentages),
        cmocka_unit_test(test_top_block),
        cmocka_unit_test(test_cutoff),
        cmocka_unit_test(test_inline_marks),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_diff_header),
        cmocka_unit_test(test_diff_cancelled_inline_edge),
        cmocka_unit_test(test_folded),
        cmocka_unit_test(test_unresolved_frames),
        cmocka_unit_test(test_flame_layout),
        cmocka_unit_test(test_flame_label),
        cmocka_unit_test(test_flame_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
