/*
 * folded.c - collapsed stacks, the input of flamegraph.pl, speedscope and
 * inferno: one line per distinct stack, "root;caller;...;leaf VALUE",
 * function names as in the report (inlined frames expanded), identical
 * lines merged, sorted. Samples whose value is not positive are left out.
 * ';' in a name becomes ':' and line breaks become spaces, so that every
 * line splits back into the same frames.
 */
#include "render/cli_render.h"

#include <stdlib.h>
#include <string.h>

typedef struct fline {
    size_t off, len;
    int64_t value;
} fline;

/* Appends a frame name with ';' and line breaks replaced. */
static int put_name(pf_strbuf *b, const char *name)
{
    size_t start = b->len;
    if (pf_strbuf_puts(b, name) != 0)
        return -1;
    for (size_t i = start; i < b->len; i++) {
        if (b->s[i] == ';')
            b->s[i] = ':';
        else if (b->s[i] == '\n' || b->s[i] == '\r')
            b->s[i] = ' ';
    }
    return 0;
}

/* The line of one sample, root first. */
static int sample_line(pf_strbuf *b, const pf_decoded *p, const pf_dsample *sm, const cli_graph *g,
                       const cli_locnodes *ln)
{
    bool first = true;
    for (int64_t i = (int64_t)sm->nlocs - 1; i >= 0; i--) {
        uint32_t loc = p->stack[sm->loc0 + (size_t)i];
        for (uint32_t k = 0; k < ln->cnt[loc]; k++) {
            if ((!first && pf_strbuf_put(b, ";", 1) != 0) ||
                put_name(b, g->name[ln->node[ln->off[loc] + k]]) != 0)
                return -1;
            first = false;
        }
    }
    return 0;
}

static const char *sort_base;

static int cmp_line(const void *a, const void *b)
{
    const fline *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(sort_base + x->off, sort_base + y->off, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int emit(FILE *out, const pf_strbuf *b, fline *l, size_t n)
{
    sort_base = b->s;
    qsort(l, n, sizeof *l, cmp_line);
    for (size_t i = 0; i < n;) {
        int64_t v = l[i].value;
        size_t j = i + 1;
        for (; j < n && cmp_line(&l[i], &l[j]) == 0; j++)
            v += l[j].value;
        if (fprintf(out, "%.*s %lld\n", (int)l[i].len, b->s + l[i].off, (long long)v) < 0)
            return -1;
        i = j;
    }
    return 0;
}

int cli_folded(FILE *out, const pf_decoded *p, int vi)
{
    cli_graph *g = cli_graph_new();
    cli_locnodes ln = {0};
    pf_strbuf b = {0};
    fline *l = malloc((p->nsamples + 1) * sizeof *l);
    size_t n = 0;
    if (g != NULL)
        g->addresses = true; /* unnamed frames as FILE+0xOFFSET */
    int rc = g == NULL || l == NULL || cli_graph_locnodes(g, p, &ln) != 0 ? -1 : 0;
    for (size_t s = 0; rc == 0 && s < p->nsamples; s++) {
        int64_t v = p->values[s * p->ntypes + (size_t)vi];
        if (v <= 0 || p->samples[s].nlocs == 0)
            continue;
        l[n] = (fline){b.len, 0, v};
        rc = sample_line(&b, p, &p->samples[s], g, &ln);
        l[n].len = b.len - l[n].off;
        n++;
    }
    if (rc == 0)
        rc = emit(out, &b, l, n);
    pf_strbuf_free(&b);
    free(l);
    cli_locnodes_free(&ln);
    cli_graph_free(g);
    return rc;
}
