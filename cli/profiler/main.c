/*
 * takhin-profiler - collects, analyzes and draws profiles of the Takhin
 * server (its /debug/pprof/ endpoints), or profiles a command locally
 * under gperftools. See cli_usage (flags.c) and the README's CLI section.
 */
#include "cli.h"
#include "cli_prof.h"
#include "cli_report.h"


int main(int argc, char **argv)
{
    cli_opts o;
    int rc = cli_parse_flags(argc, argv, &o);
    if (rc < 0)
        return CLI_OK;
    if (rc != CLI_OK)
        return rc;
    if (o.command)
        return cli_local_run(&o);
    if (o.remote)
        return cli_collect(&o);
    return cli_analyze_file(&o, o.input, NULL);
}
