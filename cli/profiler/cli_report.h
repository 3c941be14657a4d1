/*
 * cli_report.h - what takhin-profiler makes of a profile: the node graph
 * (pprof's arithmetic at function granularity), the text report in the
 * layout of `go tool pprof -top`, differences against a base profile,
 * collapsed stacks and the SVG flame graph.
 */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_prof.h"

/* ---- units, as pprof's measurement package formats them ---- */
/* value in unit `from`, scaled to `to` ("auto"/"minimum" pick a unit).
 * *unit receives the unit's name ("ms", "MB"; "" for counts). */
double cli_scale(int64_t value, const char *from, const char *to, const char **unit);
/* "1.50MB", "30ms", "0" (pprof's ScaledLabel). */
void cli_scaled_label(char *buf, size_t len, int64_t value, const char *from, const char *to);
/* " 4.10%", "  100%", "0.013%" (pprof's Percentage). */
void cli_percentage(char *buf, size_t len, int64_t value, int64_t total);

/* ---- the graph: one node per function (pprof's granularity=functions) ---- */
typedef struct cli_graph {
    size_t n;            /* nodes */
    const char **name;   /* printable names */
    const char **key;    /* identity ("F" name, "O" object file, ...) */
    int64_t *flat, *cum;
    size_t cap;
    pf_idxmap by_key;    /* key -> node index */
    uint32_t *stamp;     /* per node: last sample seen (cum once per sample) */
    pf_arena arena;
} cli_graph;

/* Per location of one profile: its nodes, outermost line first. */
typedef struct cli_locnodes {
    uint32_t *off, *cnt; /* per location */
    uint32_t *node;
} cli_locnodes;

cli_graph *cli_graph_new(void);
void cli_graph_free(cli_graph *g);
int cli_graph_locnodes(cli_graph *g, const pf_decoded *p, cli_locnodes *out);
void cli_locnodes_free(cli_locnodes *ln);
/* Adds sign * value[vi] of every sample of p: flat to the leaf's node, cum
 * once per sample to each node on the stack. 0 or -1 (out of memory). */
int cli_graph_add(cli_graph *g, const pf_decoded *p, int vi, int sign);
/* Sum of |value[vi]| over all samples (pprof's report total). */
int64_t cli_prof_total(const pf_decoded *p, int vi);

/* ---- the text report ---- */
typedef struct cli_report_opts {
    long nodecount;           /* rows, 0 = all that pass the 0.5% cutoff */
    bool cum_sort;            /* sort by cum instead of flat */
    const char *sample_index; /* NULL: by kind (both heap sections, ...) */
    const char *kind_hint;    /* "mutex", "block", "heap" ... or NULL */
} cli_report_opts;

/* The kind of profile from its sample types ("cpu", "heap", "allocs",
 * "goroutine", "mutex", "block", "contention", or the sample type). */
const char *cli_prof_kind(const pf_decoded *p, const char *hint);
/* One pprof -top block for sample type vi (against base when non-NULL:
 * current minus base, percentages of the base's total, as -diff_base). */
int cli_report_block(FILE *out, const pf_decoded *p, int vi, const pf_decoded *base, int base_vi,
                     const cli_report_opts *o);
/* The full report: header, the sections of the kind, top stacks for
 * goroutine profiles. Returns an exit code (5 when there is nothing). */
int cli_report(FILE *out, const pf_decoded *p, const cli_report_opts *o);
/* The difference report of p against base. */
int cli_report_diff(FILE *out, const pf_decoded *p, const pf_decoded *base, const cli_report_opts *o);

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
