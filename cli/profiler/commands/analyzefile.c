/*
 * analyzefile.c - what is done with one profile file: the report (or the
 * difference against -base), collapsed stacks, the flame graph.
 */
#include "commands/cli_commands.h"
#include "input/cli_prof.h"
#include "render/cli_render.h"
#include "report/cli_report.h"
#include "util/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The kind a file name suggests ("takhin_mutex_..."), or NULL. */
static const char *kind_from_name(const char *path)
{
    static const char *kinds[] = {"mutex", "block", "allocs", "heap"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        if (strstr(base_name(path), kinds[i]) != NULL)
            return kinds[i];
    }
    return NULL;
}

static int draw(const cli_opts *o, const pf_decoded *p, const char *path, const char *hint,
                const cli_report_opts *ro)
{
    char svg[4096], title[512];
    if (o->flame_file && o->kind != CLI_ALL)
        snprintf(svg, sizeof svg, "%s", o->flame_file);
    else
        cli_flame_path(svg, sizeof svg, path);
    snprintf(title, sizeof title, "%s profile: %s", cli_prof_kind(p, hint), base_name(path));
    int rc = cli_flame_file(p, svg, title, ro);
    if (rc == CLI_OK)
        cli_note("flame graph: %s", svg);
    return rc;
}

static int outputs(const cli_opts *o, const pf_decoded *p, const pf_decoded *base, const char *path,
                   const char *hint)
{
    cli_report_opts ro = {o->top, o->cum, o->sample_index, hint};
    bool folded = o->format && strcmp(o->format, "folded") == 0;
    bool report = o->analyze || (!folded && !o->flamegraph);
    int vi = pf_decoded_type_index(p, o->sample_index);
    if (p->ntypes == 0 || p->nrecords == 0) {
        cli_error("%s: the profile has no %s", path, p->ntypes ? "samples" : "sample types");
        return CLI_EXIT_INPUT;
    }
    if (vi < 0) {
        cli_error("%s: no sample type %s; it has:", path, o->sample_index);
        for (size_t i = 0; i < p->ntypes; i++)
            fprintf(stderr, "  %s (%s)\n", p->types[i].type, p->types[i].unit);
        return CLI_EXIT_USAGE;
    }
    int rc = CLI_OK;
    if (report)
        rc = base ? cli_report_diff(stdout, p, base, &ro) : cli_report(stdout, p, &ro);
    if (folded && rc == CLI_OK)
        rc = cli_folded(stdout, p, vi) == 0 ? CLI_OK : CLI_EXIT_FAIL;
    if (o->flamegraph && rc == CLI_OK)
        rc = draw(o, p, path, hint, &ro);
    return rc;
}

int cli_analyze_file(const cli_opts *o, const char *path, const char *kind_hint)
{
    char err[512];
    const char *hint = kind_hint ? kind_hint : kind_from_name(path);
    pf_decoded *p = cli_prof_read(path, err, sizeof err), *base = NULL;
    if (p == NULL) {
        cli_error("%s: %s", path, err);
        return CLI_EXIT_INPUT;
    }
    if (o->input != NULL && path == o->input && o->output != NULL) { /* -input F -output G */
        if (cli_write_profile(p, o->output, err, sizeof err) != 0) {
            cli_error("%s", err);
            pf_decoded_free(p);
            return CLI_EXIT_FAIL;
        }
        cli_note("wrote %s", o->output);
    }
    cli_prof_finish(p);
    if (o->base && (base = cli_prof_load(o->base, err, sizeof err)) == NULL) {
        cli_error("%s: %s", o->base, err);
        pf_decoded_free(p);
        return CLI_EXIT_INPUT;
    }
    int rc = outputs(o, p, base, path, hint);
    fflush(stdout);
    if (ferror(stdout) && rc == CLI_OK) {
        cli_error("cannot write the report to stdout");
        rc = CLI_EXIT_FAIL;
    }
    pf_decoded_free(base);
    pf_decoded_free(p);
    return rc;
}

