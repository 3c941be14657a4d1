/*
 * flame.c - the call tree behind the flame graph: one node per distinct
 * path of function names from the root, its value the sum of the samples
 * through it; children sorted by name and placed left to right inside
 * their parent (x), so a frame's width is proportional to its value and
 * every child lies within its parent.
 */
#include "render/cli_render.h"

#include <stdlib.h>
#include <string.h>

#define ROOT_NAME UINT32_MAX

void cli_flame_free(cli_flame *f)
{
    if (f == NULL)
        return;
    cli_graph_free(f->g);
    free(f->node);
    pf_idxmap_free(&f->children);
    free(f);
}

static uint64_t child_hash(uint32_t parent, uint32_t name)
{
    return pf_hash_u64((uint64_t)parent << 32 | name);
}

static bool child_eq(const void *ctx, uint32_t idx, const void *key)
{
    const cli_fnode *c = &((const cli_flame *)ctx)->node[idx], *k = key;
    return c->parent == k->parent && c->name == k->name;
}

/* The child of parent named name, created when new; -1 if no memory. */
static int64_t child(cli_flame *f, uint32_t parent, uint32_t name)
{
    uint64_t h = child_hash(parent, name);
    cli_fnode key = {.name = name, .parent = parent};
    int64_t i = pf_idxmap_find(&f->children, h, child_eq, f, &key);
    if (i >= 0)
        return i;
    if (f->n >= UINT32_MAX - 1 || pf_grow(&f->node, &f->cap, f->n + 1, sizeof *f->node) != 0 ||
        pf_idxmap_insert(&f->children, h, (uint32_t)f->n) != 0)
        return -1;
    uint32_t d = f->node[parent].depth + 1;
    f->node[f->n] = (cli_fnode){name, parent, 0, 0, d, 0, 0, 0};
    f->max_depth = d > f->max_depth ? d : f->max_depth;
    return (int64_t)f->n++;
}

/* Adds one sample's path, root first. */
static int add_path(cli_flame *f, const pf_decoded *p, const pf_dsample *sm,
                    const cli_locnodes *ln, int64_t v, int64_t c)
{
    uint32_t cur = 0;
    f->node[0].value += v;
    f->node[0].count += c;
    for (int64_t i = (int64_t)sm->nlocs - 1; i >= 0; i--) {
        uint32_t loc = p->stack[sm->loc0 + (size_t)i];
        for (uint32_t k = 0; k < ln->cnt[loc]; k++) {
            int64_t n = child(f, cur, ln->node[ln->off[loc] + k]);
            if (n < 0)
                return -1;
            cur = (uint32_t)n;
            f->node[cur].value += v;
            f->node[cur].count += c;
        }
    }
    return 0;
}

/* The count type that goes with value type vi ("samples" for "cpu"), or -1. */
static int companion(const pf_decoded *p, int vi)
{
    const char *t = p->types[vi].type;
    char want[128] = "";
    size_t n = strlen(t);
    if (strcmp(t, "cpu") == 0)
        snprintf(want, sizeof want, "samples");
    else if (strcmp(t, "delay") == 0)
        snprintf(want, sizeof want, "contentions");
    else if (n > 6 && strcmp(t + n - 6, "_space") == 0)
        snprintf(want, sizeof want, "%.*s_objects", (int)(n - 6), t);
    int ci = want[0] ? pf_decoded_type_index(p, want) : -1;
    return ci >= 0 && strcmp(p->types[ci].type, want) == 0 ? ci : -1;
}

static const cli_graph *cmp_graph;
static const cli_fnode *cmp_nodes;

static int cmp_child(const void *a, const void *b)
{
    const cli_fnode *x = &cmp_nodes[*(const uint32_t *)a], *y = &cmp_nodes[*(const uint32_t *)b];
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    int c = strcmp(cmp_graph->name[x->name], cmp_graph->name[y->name]);
    return c != 0 ? c : (x->name > y->name) - (x->name < y->name);
}

/* Links children in name order and sets every x (parents come first). */
static int layout(cli_flame *f)
{
    uint32_t *order = malloc((f->n + 1) * sizeof *order);
    if (order == NULL)
        return -1;
    size_t m = 0;
    for (size_t i = 1; i < f->n; i++)
        order[m++] = (uint32_t)i;
    cmp_graph = f->g;
    cmp_nodes = f->node;
    qsort(order, m, sizeof *order, cmp_child);
    for (size_t i = m; i-- > 0;) { /* prepend in reverse: lists end up sorted */
        cli_fnode *c = &f->node[order[i]];
        c->next = f->node[c->parent].child;
        f->node[c->parent].child = order[i];
    }
    free(order);
    for (size_t i = 0; i < f->n; i++) { /* a parent's index is below its children's */
        int64_t x = f->node[i].x;
        for (uint32_t c = f->node[i].child; c != 0; c = f->node[c].next) {
            f->node[c].x = x;
            x += f->node[c].value;
        }
    }
    return 0;
}

cli_flame *cli_flame_build(const pf_decoded *p, int vi)
{
    cli_flame *f = calloc(1, sizeof *f);
    cli_locnodes ln = {0};
    int ci = companion(p, vi);
    int rc = f == NULL || (f->g = cli_graph_new()) == NULL ? -1 : 0;
    if (rc == 0)
        f->g->addresses = true; /* unnamed frames as FILE+0xOFFSET */
    if (rc == 0 && ((f->node = malloc(1024 * sizeof *f->node)) == NULL ||
                    cli_graph_locnodes(f->g, p, &ln) != 0))
        rc = -1;
    if (rc == 0) {
        f->count_type = ci;
        f->cap = 1024;
        f->n = 1;
        f->node[0] = (cli_fnode){ROOT_NAME, 0, 0, 0, 0, 0, ci >= 0 ? 0 : -1, 0};
    }
    for (size_t s = 0; rc == 0 && s < p->nsamples; s++) {
        int64_t v = p->values[s * p->ntypes + (size_t)vi];
        int64_t c = ci >= 0 ? p->values[s * p->ntypes + (size_t)ci] : 0;
        if (v > 0)
            rc = add_path(f, p, &p->samples[s], &ln, v, c);
    }
    if (rc == 0)
        rc = layout(f);
    cli_locnodes_free(&ln);
    if (rc != 0) {
        cli_flame_free(f);
        return NULL;
    }
    return f;
}
