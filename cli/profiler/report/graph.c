/*
 * graph.c - pprof's graph arithmetic (internal/graph/graph.go) at function
 * granularity: a node per function name (per object file for locations
 * without a function); for each sample, its value goes to the flat of the
 * leaf's node (the innermost inlined function of the first location) and
 * to the cum of every node on the stack, once even if the function
 * appears several times (recursion).
 */
#include "report/cli_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cli_graph *cli_graph_new(void)
{
    return calloc(1, sizeof(cli_graph));
}

void cli_graph_free(cli_graph *g)
{
    if (g == NULL)
        return;
    free(g->name);
    free(g->key);
    free(g->flat);
    free(g->cum);
    pf_idxmap_free(&g->by_key);
    free(g->stamp);
    pf_arena_free(&g->arena);
    free(g);
}

static int grow_nodes(cli_graph *g)
{
    /* Parallel arrays: each grows from the same capacity to the same. */
    size_t need = g->n + 1, c[5] = {g->cap, g->cap, g->cap, g->cap, g->cap};
    if (pf_grow(&g->name, &c[0], need, sizeof *g->name) != 0 ||
        pf_grow(&g->key, &c[1], need, sizeof *g->key) != 0 ||
        pf_grow(&g->flat, &c[2], need, sizeof *g->flat) != 0 ||
        pf_grow(&g->cum, &c[3], need, sizeof *g->cum) != 0 ||
        pf_grow(&g->stamp, &c[4], need, sizeof *g->stamp) != 0)
        return -1;
    g->cap = c[0];
    return 0;
}

static bool key_eq(const void *ctx, uint32_t idx, const void *key)
{
    return strcmp(((const cli_graph *)ctx)->key[idx], key) == 0;
}

/* The node of (key, printable name): found or added. -1 if no memory. */
static int64_t node_of(cli_graph *g, const char *key, const char *name)
{
    size_t kl = strlen(key);
    uint64_t h = pf_hash_bytes(key, kl, 0);
    int64_t i = pf_idxmap_find(&g->by_key, h, key_eq, g, key);
    if (i >= 0)
        return i;
    if (g->n >= UINT32_MAX - 1 || (g->n == g->cap && grow_nodes(g) != 0))
        return -1;
    size_t nl = strlen(name);
    char *k = pf_arena_alloc(&g->arena, kl + nl + 2);
    if (k == NULL || pf_idxmap_insert(&g->by_key, h, (uint32_t)g->n) != 0)
        return -1;
    memcpy(k, key, kl + 1);
    memcpy(k + kl + 1, name, nl + 1);
    g->key[g->n] = k;
    g->name[g->n] = k + kl + 1;
    g->flat[g->n] = g->cum[g->n] = 0;
    g->stamp[g->n] = 0;
    return (int64_t)g->n++;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* An address nothing names: "libz.so.1.2.13+0x4a10" (the file offset,
 * what addr2line and debuginfod-find's users want), or the address alone. */
static int64_t address_node(cli_graph *g, const pf_dmapping *m, uint64_t addr)
{
    char key[4200], name[4200];
    if (m != NULL && m->file[0] != '\0' && addr >= m->start && addr < m->limit) {
        uint64_t off = addr - m->start + m->offset;
        snprintf(name, sizeof name, "%s+0x%llx", base_name(m->file), (unsigned long long)off);
        snprintf(key, sizeof key, "A%s+%llx", m->file, (unsigned long long)off);
    } else {
        snprintf(name, sizeof name, "0x%llx", (unsigned long long)addr);
        snprintf(key, sizeof key, "A%llx", (unsigned long long)addr);
    }
    return node_of(g, key, name);
}

/* pprof's NodeInfo at function granularity, as (key, printable name). */
static int64_t line_node(cli_graph *g, const pf_decoded *p, const pf_dlocation *l,
                         const pf_dline *ln)
{
    const pf_dmapping *m = l->mapping ? &p->maps[l->mapping - 1] : NULL;
    const char *obj = m ? m->file : "";
    const pf_dfunction *f = ln ? &p->funcs[ln->func] : NULL;
    char *key = NULL, *name = NULL;
    int64_t n = -1;
    if (f == NULL && g->addresses)
        return address_node(g, m, l->address);
    if (f != NULL && f->name[0] != '\0') {
        if (asprintf(&key, "F%s", f->name) >= 0)
            n = node_of(g, key, f->name);
        free(key);
        return n;
    }
    int a = obj[0] ? asprintf(&name, "[%s]", base_name(obj)) : asprintf(&name, "<unknown>");
    int b = f ? asprintf(&key, "S%lld:%s", (long long)f->start_line, obj)
              : asprintf(&key, "O%s", obj);
    if (a >= 0 && b >= 0)
        n = node_of(g, key, name);
    if (a >= 0)
        free(name);
    if (b >= 0)
        free(key);
    return n;
}

void cli_locnodes_free(cli_locnodes *ln)
{
    free(ln->off);
    free(ln->cnt);
    free(ln->node);
    memset(ln, 0, sizeof *ln);
}

int cli_graph_locnodes(cli_graph *g, const pf_decoded *p, cli_locnodes *out)
{
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t i = 0; i < p->nlocs; i++)
        total += p->locs[i].nlines ? p->locs[i].nlines : 1;
    out->off = malloc((p->nlocs + 1) * sizeof *out->off);
    out->cnt = malloc((p->nlocs + 1) * sizeof *out->cnt);
    out->node = malloc((total + 1) * sizeof *out->node);
    if (out->off == NULL || out->cnt == NULL || out->node == NULL || total >= UINT32_MAX)
        goto nomem;
    size_t k = 0;
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_dlocation *l = &p->locs[i];
        out->off[i] = (uint32_t)k;
        out->cnt[i] = l->nlines ? l->nlines : 1;
        for (int64_t j = (int64_t)out->cnt[i] - 1; j >= 0; j--) { /* outermost first */
            int64_t n = line_node(g, p, l, l->nlines ? &p->lines[l->line0 + (size_t)j] : NULL);
            if (n < 0)
                goto nomem;
            out->node[k++] = (uint32_t)n;
        }
    }
    return 0;
nomem:
    cli_locnodes_free(out);
    return -1;
}

static inline void add_wrap(int64_t *dst, int64_t v)
{
    *dst = (int64_t)((uint64_t)*dst + (uint64_t)v);
}

int cli_graph_add(cli_graph *g, const pf_decoded *p, int vi, int sign)
{
    cli_locnodes ln;
    if (cli_graph_locnodes(g, p, &ln) != 0)
        return -1;
    for (size_t i = 0; i < g->n; i++)
        g->stamp[i] = 0;
    for (size_t s = 0; s < p->nsamples; s++) {
        const pf_dsample *sm = &p->samples[s];
        int64_t w = p->values[s * p->ntypes + (size_t)vi];
        if (w == 0 || sm->nlocs == 0)
            continue;
        w = sign < 0 ? (int64_t)(0 - (uint64_t)w) : w;
        uint32_t stamp = (uint32_t)s + 1, last = 0;
        for (int64_t i = (int64_t)sm->nlocs - 1; i >= 0; i--) {
            uint32_t loc = p->stack[sm->loc0 + (size_t)i];
            for (uint32_t k = 0; k < ln.cnt[loc]; k++) {
                uint32_t n = ln.node[ln.off[loc] + k];
                if (g->stamp[n] != stamp) {
                    g->stamp[n] = stamp;
                    add_wrap(&g->cum[n], w);
                }
                last = n;
            }
        }
        add_wrap(&g->flat[last], w);
    }
    cli_locnodes_free(&ln);
    return 0;
}

int64_t cli_prof_total(const pf_decoded *p, int vi)
{
    int64_t total = 0;
    for (size_t s = 0; s < p->nsamples; s++) {
        int64_t v = p->values[s * p->ntypes + (size_t)vi];
        add_wrap(&total, v < 0 ? (int64_t)(0 - (uint64_t)v) : v);
    }
    return total;
}
