/*
 * cli_report.h - what takhin-profiler makes of a profile: the node graph
 * (pprof's arithmetic at function granularity), the text report in the
 * layout of `go tool pprof -top` and differences against a base profile.
 * The pictures drawn from the graph are in cli_render.h.
 */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pf_decoded.h"

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
    /* Frames nothing names: one node per address, "libz.so.1+0x4a10" (the
     * file offset), for the pictures; false (the report): pprof's one node
     * per object, "[libz.so.1]". Set before cli_graph_locnodes. */
    bool addresses;
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

#endif
