/*
 * analyze.c - the report of a profile as a whole: which kind it is, which
 * sample types to show (heap: in-use and allocated; mutex and block: delay
 * and contentions), the top stacks of goroutine (thread) profiles, the
 * difference against a base profile, and the dispatch of -analyze, -format
 * folded and -flamegraph for one file.
 */
#include "report/cli_report.h"
#include "util/cli.h"

#include <stdlib.h>
#include <string.h>

static bool has_type(const pf_decoded *p, const char *t)
{
    for (size_t i = 0; i < p->ntypes; i++) {
        if (strcmp(p->types[i].type, t) == 0)
            return true;
    }
    return false;
}

const char *cli_prof_kind(const pf_decoded *p, const char *hint)
{
    hint = hint ? hint : "";
    if (has_type(p, "cpu"))
        return "cpu";
    if (has_type(p, "goroutine"))
        return "goroutine";
    if (has_type(p, "contentions") || has_type(p, "delay"))
        return strcmp(hint, "mutex") == 0 || strcmp(hint, "block") == 0 ? hint : "contention";
    if (has_type(p, "inuse_space") && p->ntypes > 0) {
        if (strcmp(hint, "allocs") == 0 || strcmp(hint, "heap") == 0)
            return hint;
        return strncmp(p->types[p->default_type].type, "alloc", 5) == 0 ? "allocs" : "heap";
    }
    if (has_type(p, "space"))
        return "heap";
    return p->ntypes > 0 ? p->types[p->default_type].type : "profile";
}

typedef struct section {
    const char *type, *title;
} section;

/* The sample types a kind shows, in order; n = 0: the default one. */
static size_t sections_of(const char *kind, section out[2])
{
    if (strcmp(kind, "heap") == 0 || strcmp(kind, "allocs") == 0) {
        section inuse = {"inuse_space", "in-use memory (live objects)"};
        section alloc = {"alloc_space", "allocated memory (since the program started)"};
        out[0] = kind[0] == 'h' ? inuse : alloc;
        out[1] = kind[0] == 'h' ? alloc : inuse;
        return 2;
    }
    if (strcmp(kind, "mutex") == 0 || strcmp(kind, "block") == 0 ||
        strcmp(kind, "contention") == 0) {
        out[0] = (section){"delay", "time waited (delay)"};
        out[1] = (section){"contentions", "number of waits (contentions)"};
        return 2;
    }
    return 0;
}

static void print_header(FILE *out, const pf_decoded *p, const char *kind)
{
    uint64_t n = pf_decoded_samples(p);
    fprintf(out, "Profile: %s (%s), %llu sample%s, %zu distinct stack%s\n", kind, p->format,
            (unsigned long long)n, n == 1 ? "" : "s", p->nsamples, p->nsamples == 1 ? "" : "s");
    fprintf(out, "Sample types:");
    for (size_t i = 0; i < p->ntypes; i++)
        fprintf(out, " %s%s/%s%s", i == p->default_type ? "[" : "", p->types[i].type,
                p->types[i].unit, i == p->default_type ? "]" : "");
    fprintf(out, "\n");
}

/* ---- goroutine profiles: the most common stacks ---- */

typedef struct stk {
    uint32_t *nodes;
    size_t n;
    int64_t value;
} stk;

static int cmp_stk_nodes(const void *a, const void *b)
{
    const stk *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->n ? memcmp(x->nodes, y->nodes, x->n * sizeof *x->nodes) : 0;
}

static int cmp_stk_value(const void *a, const void *b)
{
    const stk *x = a, *y = b;
    return x->value > y->value ? -1 : x->value < y->value ? 1 : cmp_stk_nodes(a, b);
}

/* Stacks as node sequences (leaf first), merged when equal. */
static size_t collect_stacks(const pf_decoded *p, int vi, const cli_locnodes *ln, stk *s,
                             uint32_t *pool)
{
    size_t n = 0, used = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        const pf_dsample *sm = &p->samples[i];
        s[n] = (stk){pool + used, 0, p->values[i * p->ntypes + (size_t)vi]};
        for (size_t k = 0; k < sm->nlocs; k++) {
            uint32_t loc = p->stack[sm->loc0 + k];
            for (int64_t j = (int64_t)ln->cnt[loc] - 1; j >= 0; j--)
                s[n].nodes[s[n].n++] = ln->node[ln->off[loc] + (size_t)j];
        }
        used += s[n].n;
        n++;
    }
    qsort(s, n, sizeof *s, cmp_stk_nodes);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && cmp_stk_nodes(&s[m - 1], &s[i]) == 0)
            s[m - 1].value += s[i].value;
        else
            s[m++] = s[i];
    }
    qsort(s, m, sizeof *s, cmp_stk_value);
    return m;
}

static void print_top_stacks(FILE *out, const pf_decoded *p, int vi, long top, cli_graph *g,
                             const cli_locnodes *ln, stk *s, uint32_t *pool)
{
    size_t m = collect_stacks(p, vi, ln, s, pool);
    int64_t total = cli_prof_total(p, vi);
    fprintf(out, "\n== top stacks: %lld threads, %zu distinct stacks ==\n", (long long)total, m);
    for (size_t i = 0; i < m && (top <= 0 || (long)i < top); i++) {
        char pct[16];
        cli_percentage(pct, sizeof pct, s[i].value, total);
        fprintf(out, "%10lld %s  %s\n", (long long)s[i].value, pct,
                s[i].n ? g->name[s[i].nodes[0]] : "(no stack)");
        for (size_t k = 1; k < s[i].n; k++)
            fprintf(out, "%19s%s\n", "", g->name[s[i].nodes[k]]);
    }
}

static void print_stacks(FILE *out, const pf_decoded *p, int vi, long top)
{
    cli_graph *g = cli_graph_new();
    cli_locnodes ln;
    if (g == NULL || cli_graph_locnodes(g, p, &ln) != 0) {
        cli_graph_free(g);
        return;
    }
    size_t frames = 0;
    for (size_t i = 0; i < p->nsamples; i++) {
        for (size_t k = 0; k < p->samples[i].nlocs; k++)
            frames += ln.cnt[p->stack[p->samples[i].loc0 + k]];
    }
    stk *s = malloc((p->nsamples + 1) * sizeof *s);
    uint32_t *pool = malloc((frames + 1) * sizeof *pool);
    if (s != NULL && pool != NULL)
        print_top_stacks(out, p, vi, top, g, &ln, s, pool);
    free(pool);
    free(s);
    cli_locnodes_free(&ln);
    cli_graph_free(g);
}

/* ---- reports ---- */

static int check_samples(const pf_decoded *p)
{
    if (p->ntypes == 0) {
        cli_error("the profile has no sample types");
        return CLI_EXIT_INPUT;
    }
    if (p->nrecords == 0) {
        cli_error("the profile has no samples");
        return CLI_EXIT_INPUT;
    }
    return CLI_OK;
}

/* Runs one block (or a diff block) per section. */
static int run_sections(FILE *out, const pf_decoded *p, const pf_decoded *base,
                        const cli_report_opts *o, const char *kind)
{
    section sec[2];
    size_t n = o->sample_index ? 0 : sections_of(kind, sec);
    int shown = 0;
    for (size_t i = 0; i < n || (i == 0 && shown == 0); i++) {
        int vi = pf_decoded_type_index(p, n ? sec[i].type : o->sample_index);
        if (vi < 0 && n > 0)
            continue;
        if (vi < 0) {
            cli_error("no sample type %s in the profile", o->sample_index);
            return CLI_EXIT_USAGE;
        }
        int bvi = base ? pf_decoded_type_index(base, p->types[vi].type) : 0;
        if (bvi < 0) {
            cli_error("the base profile has no sample type %s", p->types[vi].type);
            return CLI_EXIT_INPUT;
        }
        fprintf(out, "\n== %s ==\n", n ? sec[i].title : p->types[vi].type);
        if (cli_report_block(out, p, vi, base, bvi, o) != 0) {
            cli_error("out of memory");
            return CLI_EXIT_FAIL;
        }
        shown++;
        if (n == 0)
            break;
    }
    return CLI_OK;
}

int cli_report(FILE *out, const pf_decoded *p, const cli_report_opts *o)
{
    int rc = check_samples(p);
    if (rc != CLI_OK)
        return rc;
    const char *kind = cli_prof_kind(p, o->kind_hint);
    print_header(out, p, kind);
    rc = run_sections(out, p, NULL, o, kind);
    if (rc == CLI_OK && strcmp(kind, "goroutine") == 0)
        print_stacks(out, p, pf_decoded_type_index(p, o->sample_index), o->nodecount);
    return rc;
}

int cli_report_diff(FILE *out, const pf_decoded *p, const pf_decoded *base, const cli_report_opts *o)
{
    int rc = check_samples(p);
    if (rc == CLI_OK && base->ntypes == 0)
        rc = check_samples(base);
    if (rc != CLI_OK)
        return rc;
    const char *kind = cli_prof_kind(p, o->kind_hint);
    print_header(out, p, kind);
    fprintf(out, "Difference: this profile minus the base (%zu samples); percentages of the "
            "base's total; negative: less than in the base\n", base->nrecords);
    return run_sections(out, p, base, o, kind);
}
