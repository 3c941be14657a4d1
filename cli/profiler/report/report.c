/*
 * report.c - the text report: one block per sample type in the layout and
 * with the arithmetic of `go tool pprof -top -nodecount=N` (node cutoff at
 * 0.5% of the total, sort by flat then name, output unit chosen from the
 * smallest shown value, "(inline)" marks), framed by a header that names
 * the kind of profile.
 */
#include "report/cli_report.h"
#include "util/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODE_FRACTION 0.005
#define EDGE_FRACTION 0.001

typedef struct block {
    const pf_decoded *p, *base;
    int vi, bvi;
    cli_graph *g;
    uint32_t *rows; /* kept nodes, sorted */
    size_t nrows, shown, dropped;
    int64_t total, sum; /* sum: of the flat values, signed (pprof's cutoff base) */
    char unit[32], out_unit[32];
    uint8_t *inl; /* per node: 1 inline in-edge, 2 non-inline in-edge */
    bool cum;     /* sort by cum */
} block;

static int64_t iabs(int64_t v)
{
    return v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
}

static void fmt_value(const block *b, char *buf, size_t len, int64_t v)
{
    cli_scaled_label(buf, len, v, b->unit, b->out_unit);
}

/* ---- sorting (pprof's FlatNameOrder and CumNameOrder) ---- */

static int cmp_i64(int64_t a, int64_t b)
{
    return a > b ? -1 : a < b;
}

static int cmp_rows(const void *x, const void *y, void *ctx)
{
    const block *b = ctx;
    uint32_t l = *(const uint32_t *)x, r = *(const uint32_t *)y;
    const int64_t *first = b->cum ? b->g->cum : b->g->flat;
    const int64_t *second = b->cum ? b->g->flat : b->g->cum;
    int c = cmp_i64(iabs(first[l]), iabs(first[r]));
    if (c == 0)
        c = strcmp(b->g->name[l], b->g->name[r]);
    if (c == 0)
        c = cmp_i64(iabs(second[l]), iabs(second[r]));
    return c != 0 ? c : strcmp(b->g->key[l], b->g->key[r]);
}

/* Keeps the nodes at or above the cutoff and sorts them. 0 or -1. */
static int select_rows(block *b, const cli_report_opts *o)
{
    cli_graph *g = b->g;
    int64_t sum = 0;
    size_t nonzero = 0;
    for (size_t i = 0; i < g->n; i++)
        sum = (int64_t)((uint64_t)sum + (uint64_t)g->flat[i]);
    b->sum = sum;
    int64_t cutoff = iabs((int64_t)((double)sum * NODE_FRACTION));
    if ((b->rows = malloc((g->n + 1) * sizeof *b->rows)) == NULL)
        return -1;
    for (size_t i = 0; i < g->n; i++) {
        if (g->flat[i] == 0 && g->cum[i] == 0)
            continue;
        nonzero++;
        if (iabs(g->cum[i]) >= cutoff)
            b->rows[b->nrows++] = (uint32_t)i;
    }
    b->dropped = nonzero - b->nrows;
    b->cum = o->cum_sort;
    qsort_r(b->rows, b->nrows, sizeof *b->rows, cmp_rows, b);
    b->shown = o->nodecount > 0 && (size_t)o->nodecount < b->nrows ? (size_t)o->nodecount
                                                                     : b->nrows;
    return 0;
}

/* pprof's selectOutputUnit: the unit of the smallest shown value. */
static void select_unit(block *b)
{
    int64_t minv = 0, maxv = b->total;
    for (size_t i = 0; i < b->shown; i++) {
        int64_t v = iabs(b->g->flat[b->rows[i]]);
        if (v == 0)
            v = iabs(b->g->cum[b->rows[i]]);
        if (v > 0 && (minv == 0 || v < minv))
            minv = v;
    }
    if (minv == 0)
        minv = maxv;
    const char *minu, *maxu, *u;
    cli_scale(minv, b->unit, "minimum", &minu);
    cli_scale(maxv, b->unit, "minimum", &maxu);
    u = minu;
    if (strcmp(minu, maxu) != 0 && minv * 100 < maxv)
        cli_scale(100 * minv, b->unit, "minimum", &u);
    snprintf(b->out_unit, sizeof b->out_unit, "%s", u[0] ? u : b->unit);
}

/* ---- "(inline)" marks: which in-edges of a node come from inlining ---- */

typedef struct edges {
    uint64_t *key;
    uint32_t *stamp;
    uint8_t *noninline; /* 1: a traversal was a real call; 0: all inlined */
    int64_t *weight;    /* the samples' values through the edge */
    size_t cap, n;
    uint32_t cur; /* stamp of the sample being walked */
} edges;

static int edge_add(edges *e, uint32_t from, uint32_t to, bool inl, int64_t w, uint32_t stamp);

static void edges_free(edges *e)
{
    free(e->key);
    free(e->stamp);
    free(e->noninline);
    free(e->weight);
}

static int edges_grow(edges *e)
{
    edges ne = {calloc(e->cap ? e->cap * 2 : 4096, sizeof(uint64_t)), NULL, NULL, NULL,
                e->cap ? e->cap * 2 : 4096, 0, e->cur};
    ne.stamp = calloc(ne.cap, sizeof *ne.stamp);
    ne.noninline = calloc(ne.cap, 1);
    ne.weight = calloc(ne.cap, sizeof *ne.weight);
    if (ne.key == NULL || ne.stamp == NULL || ne.noninline == NULL || ne.weight == NULL) {
        edges_free(&ne);
        return -1;
    }
    for (size_t i = 0; i < e->cap; i++) {
        if (e->key[i] != 0)
            edge_add(&ne, (uint32_t)(e->key[i] >> 32) - 1, (uint32_t)e->key[i], !e->noninline[i],
                     e->weight[i], e->stamp[i]);
    }
    edges_free(e);
    *e = ne;
    return 0;
}

/* Records a traversal from -> to carrying w; only the first one of a
 * sample counts. */
static int edge_add(edges *e, uint32_t from, uint32_t to, bool inl, int64_t w, uint32_t stamp)
{
    if (e->n * 2 >= e->cap && edges_grow(e) != 0)
        return -1;
    uint64_t k = ((uint64_t)from + 1) << 32 | to, h = k * 0x9e3779b97f4a7c15ull;
    size_t j = (size_t)(h ^ h >> 32) & (e->cap - 1);
    while (e->key[j] != 0 && e->key[j] != k)
        j = (j + 1) & (e->cap - 1);
    if (e->key[j] == 0) {
        e->key[j] = k;
        e->n++;
        e->noninline[j] = !inl;
    } else if (e->stamp[j] == stamp) {
        return 0;
    } else if (!inl) {
        e->noninline[j] = 1;
    }
    e->weight[j] = (int64_t)((uint64_t)e->weight[j] + (uint64_t)w);
    e->stamp[j] = stamp;
    return 0;
}

/* Walks p's samples (their values times sign) over the kept nodes (flag 4
 * in b->inl), as pprof's trimmed graph does, recording edges. */
static int walk_edges(block *b, const pf_decoded *p, int vi, int sign, edges *e)
{
    cli_locnodes ln;
    if (cli_graph_locnodes(b->g, p, &ln) != 0)
        return -1;
    for (size_t s = 0; s < p->nsamples; s++) {
        const pf_dsample *sm = &p->samples[s];
        int64_t w = p->values[s * p->ntypes + (size_t)vi];
        if (w == 0)
            continue;
        w = sign < 0 ? (int64_t)(0 - (uint64_t)w) : w;
        int64_t parent = -1;
        if (++e->cur == 0)
            e->cur = 1;
        for (int64_t i = (int64_t)sm->nlocs - 1; i >= 0; i--) {
            uint32_t loc = p->stack[sm->loc0 + (size_t)i];
            for (uint32_t k = 0; k < ln.cnt[loc]; k++) {
                uint32_t n = ln.node[ln.off[loc] + k];
                if (!(b->inl[n] & 4))
                    continue;
                if (parent >= 0 && (uint32_t)parent != n &&
                    edge_add(e, (uint32_t)parent, n, k != 0, w, e->cur) != 0) {
                    cli_locnodes_free(&ln);
                    return -1;
                }
                parent = n;
            }
        }
    }
    cli_locnodes_free(&ln);
    return 0;
}

static bool has_inlining(const pf_decoded *p)
{
    for (size_t i = 0; i < p->nlocs; i++) {
        if (p->locs[i].nlines > 1)
            return true;
    }
    return false;
}

/* Marks the nodes (flag 4) that the graph pprof prints is built over, and
 * returns its smallest edge weight kept. pprof rebuilds its graph from the
 * samples over the shown nodes when -nodecount leaves nodes out; when all
 * kept nodes are shown it keeps the graph of its cutoff step, over the
 * rows, or over every node when the cutoff dropped none. Last, it trims
 * the edges under EDGE_FRACTION of the total, which in a difference are
 * often the ones whose two sides cancel out. */
static int64_t graph_nodes(block *b)
{
    bool all = b->shown == b->nrows && b->dropped == 0;
    for (size_t i = 0; all && i < b->g->n; i++)
        b->inl[i] = 4;
    for (size_t i = 0; i < b->shown; i++)
        b->inl[b->rows[i]] = 4;
    return iabs((int64_t)((double)b->sum * EDGE_FRACTION));
}

/* Fills b->inl for the shown nodes. Skipped when nothing is inlined. */
static void inline_marks(block *b)
{
    if (!has_inlining(b->p) && (b->base == NULL || !has_inlining(b->base)))
        return;
    if ((b->inl = calloc(b->g->n + 1, 1)) == NULL)
        return;
    int64_t edge_cutoff = graph_nodes(b);
    edges e = {0};
    if (walk_edges(b, b->p, b->vi, 1, &e) == 0 &&
        (b->base == NULL || walk_edges(b, b->base, b->bvi, -1, &e) == 0)) {
        for (size_t j = 0; j < e.cap; j++) {
            if (e.key[j] != 0 && iabs(e.weight[j]) >= edge_cutoff)
                b->inl[(uint32_t)e.key[j]] |= e.noninline[j] ? 2 : 1;
        }
    }
    edges_free(&e);
}

static const char *inline_label(const block *b, uint32_t n)
{
    if (b->inl == NULL || !(b->inl[n] & 1))
        return "";
    return (b->inl[n] & 2) ? " (partial-inline)" : " (inline)";
}

/* ---- printing ---- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "Jan 2, 2006 at 3:04pm (MST)", local time, as pprof prints it. */
static void fmt_time(char *buf, size_t len, int64_t nanos)
{
    static const char *mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(nanos / 1000000000);
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    int h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
    snprintf(buf, len, "%s %d, %d at %d:%02d%s (%s)", mon[tm.tm_mon % 12], tm.tm_mday,
             tm.tm_year + 1900, h, tm.tm_min, tm.tm_hour < 12 ? "am" : "pm",
             tm.tm_zone ? tm.tm_zone : "UTC");
}

static bool has_comment(const pf_decoded *p, size_t upto, const char *c)
{
    for (size_t i = 0; i < upto; i++)
        if (strcmp(p->comments[i], c) == 0)
            return true;
    return false;
}

/* The comments, as pprof merges them (its combineHeaders): each once, the
 * profile's, then the base's; "#" ones are ours, not shown. */
static void print_comments(FILE *out, const pf_decoded *p, const pf_decoded *base)
{
    for (size_t i = 0; i < p->ncomments; i++)
        if (p->comments[i][0] != '#' && !has_comment(p, i, p->comments[i]))
            fprintf(out, "%s\n", p->comments[i]);
    for (size_t i = 0; base != NULL && i < base->ncomments; i++) {
        const char *c = base->comments[i];
        if (c[0] != '#' && !has_comment(p, p->ncomments, c) && !has_comment(base, i, c))
            fprintf(out, "%s\n", c);
    }
}

static void print_profile_labels(FILE *out, const block *b)
{
    const pf_decoded *p = b->p;
    char v[64], t[64], pct[32], when[96];
    if (p->nmaps > 0 && p->maps[0].file[0])
        fprintf(out, "File: %s\n", base_name(p->maps[0].file));
    if (p->nmaps > 0 && p->maps[0].build_id[0])
        fprintf(out, "Build ID: %s\n", p->maps[0].build_id);
    print_comments(out, p, b->base);
    fprintf(out, "Type: %s\n", p->types[b->vi].type);
    /* Against a base, as pprof's merge: the earlier time, the durations
     * added up. */
    int64_t time = p->time_nanos, duration = p->duration_nanos;
    if (b->base != NULL) {
        if (time == 0 || b->base->time_nanos < time)
            time = b->base->time_nanos;
        duration += b->base->duration_nanos;
    }
    if (time != 0) {
        fmt_time(when, sizeof when, time);
        fprintf(out, "Time: %s\n", when);
    }
    if (duration == 0)
        return;
    cli_scaled_label(v, sizeof v, duration, "nanoseconds", "auto");
    fmt_value(b, t, sizeof t, b->total);
    const char *u;
    double ns = cli_scale(b->total, b->unit, "nanoseconds", &u);
    pct[0] = '\0';
    if (strcmp(u, "ns") == 0 && ns != 0) {
        char r[16];
        cli_percentage(r, sizeof r, (int64_t)ns, duration);
        snprintf(pct, sizeof pct, "(%s)", r);
    }
    fprintf(out, "Duration: %s, Total samples = %s %s\n", v, t, pct);
}

static void print_report_labels(FILE *out, const block *b)
{
    char sum[64], tot[64], pct[16], cut[64];
    int64_t flat = 0;
    for (size_t i = 0; i < b->shown; i++)
        flat += b->g->flat[b->rows[i]];
    fmt_value(b, sum, sizeof sum, flat);
    fmt_value(b, tot, sizeof tot, b->total);
    cli_percentage(pct, sizeof pct, flat, b->total);
    fprintf(out, "Showing nodes accounting for %s, %s of %s total\n", sum,
            pct + strspn(pct, " "), tot);
    if (b->total == 0)
        return;
    if (b->dropped > 0) {
        fmt_value(b, cut, sizeof cut, iabs((int64_t)((double)b->total * NODE_FRACTION)));
        fprintf(out, "Dropped %zu node%s (cum <= %s)\n", b->dropped, b->dropped > 1 ? "s" : "",
                cut);
    }
    if (b->shown > 0 && b->shown < b->nrows)
        fprintf(out, "Showing top %zu nodes out of %zu\n", b->shown, b->nrows);
}

static void print_rows(FILE *out, const block *b)
{
    fprintf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
    int64_t sum = 0;
    for (size_t i = 0; i < b->shown; i++) {
        uint32_t n = b->rows[i];
        char f[64], c[64], fp[16], sp[16], cp[16];
        sum += b->g->flat[n];
        fmt_value(b, f, sizeof f, b->g->flat[n]);
        fmt_value(b, c, sizeof c, b->g->cum[n]);
        cli_percentage(fp, sizeof fp, b->g->flat[n], b->total);
        cli_percentage(sp, sizeof sp, sum, b->total);
        cli_percentage(cp, sizeof cp, b->g->cum[n], b->total);
        fprintf(out, "%10s %s %s %10s %s  %s%s\n", f, fp, sp, c, cp, b->g->name[n],
                inline_label(b, n));
    }
}

static void lower(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i < len - 1; i++)
        dst[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    dst[i] = '\0';
}

int cli_report_block(FILE *out, const pf_decoded *p, int vi, const pf_decoded *base, int base_vi,
                     const cli_report_opts *o)
{
    block b = {p, base, vi, base_vi, cli_graph_new(), NULL, 0, 0, 0, 0, 0, "", "", NULL, false};
    int rc = -1;
    if (b.g == NULL || cli_graph_add(b.g, p, vi, 1) != 0 ||
        (base != NULL && cli_graph_add(b.g, base, base_vi, -1) != 0))
        goto done;
    b.total = cli_prof_total(p, vi);
    if (base != NULL) { /* pprof: the base's total, or all when the base has none */
        int64_t bt = cli_prof_total(base, base_vi);
        b.total = bt > 0 ? bt : b.total;
    }
    lower(b.unit, sizeof b.unit, p->types[vi].unit);
    if (select_rows(&b, o) != 0)
        goto done;
    select_unit(&b);
    inline_marks(&b);
    print_profile_labels(out, &b);
    print_report_labels(out, &b);
    print_rows(out, &b);
    rc = 0;
done:
    free(b.rows);
    free(b.inl);
    cli_graph_free(b.g);
    return rc;
}
