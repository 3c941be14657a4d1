/*
 * cli_render.h - takhin-profiler's pictures of a profile, drawn from the
 * node graph of cli_report.h: collapsed stacks ("root;...;leaf VALUE"
 * lines, for flamegraph.pl, speedscope, inferno) and the SVG flame graph.
 */
#ifndef CLI_RENDER_H
#define CLI_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report/cli_report.h"

/* ---- collapsed stacks: "root;...;leaf VALUE" lines ---- */
int cli_folded(FILE *out, const pf_decoded *p, int vi);

/* ---- flame graph ---- */
typedef struct cli_fnode {
    uint32_t name;      /* graph node */
    uint32_t parent;    /* index; the root is 0 and its own parent */
    uint32_t child, next; /* first child, next sibling (0 = none) */
    uint32_t depth;
    int64_t value;      /* inclusive */
    int64_t count;      /* inclusive value of the companion count type, or -1 */
    int64_t x;          /* offset in value units from the left */
} cli_fnode;

typedef struct cli_flame {
    cli_graph *g;
    cli_fnode *node;
    size_t n, cap;
    uint32_t max_depth;
    int count_type;     /* sample type of the counts, or -1 */
    pf_idxmap children; /* (parent, name) -> node index (the root is not in it) */
} cli_flame;

/* Builds the call tree of p for value vi (samples with value <= 0 are left
 * out), children ordered by name and laid out left to right. NULL if no
 * memory. */
cli_flame *cli_flame_build(const pf_decoded *p, int vi);
void cli_flame_free(cli_flame *f);

typedef struct cli_flame_meta {
    const char *title;    /* "takhind cpu profile" */
    const char *subtitle; /* "Total 1.23s, ..." */
    const char *unit;     /* the sample type's unit, for the labels */
    const char *count_name; /* "samples", or NULL */
} cli_flame_meta;

/* Writes a self-contained SVG (inline CSS and JS). 0 or -1 (write error). */
int cli_flame_svg(FILE *out, const cli_flame *f, const cli_flame_meta *m);
/* Truncates name to fit px pixels ("na.."); "" when not even 3 chars fit. */
void cli_flame_label(char *buf, size_t len, const char *name, double px);

/* Writes an SVG flame graph of p to path. Returns an exit code. */
int cli_flame_file(const pf_decoded *p, const char *path, const char *title,
                   const cli_report_opts *o);

#endif
