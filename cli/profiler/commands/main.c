/*
 * takhin-profiler - collects, analyzes and draws profiles of the Takhin
 * server (its /debug/pprof/ endpoints), or profiles a command locally
 * under gperftools. See cli_usage (flags.c) and the README's CLI section.
 */
#include "commands/cli_commands.h"
#include "commands/cli_watch.h"
#include "util/cli.h"

#include <string.h>


int main(int argc, char **argv)
{
    cli_opts o;
    if (argc > 1 && strcmp(argv[1], "watch") == 0)
        return cli_watch_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ls") == 0) {
        if (argc != 3) {
            cli_error("usage: takhin-profiler ls DIR (a -output-dir of watch or -every)");
            return CLI_EXIT_USAGE;
        }
        return cli_store_list(argv[2], stdout);
    }
    int rc = cli_parse_flags(argc, argv, &o);
    if (rc < 0)
        return CLI_OK;
    if (rc != CLI_OK)
        return rc;
    if (o.command)
        return cli_local_run(&o);
    if (o.remote && o.every > 0)
        return cli_periodic_main(&o);
    if (o.remote)
        return cli_collect(&o);
    return cli_analyze_file(&o, o.input, NULL);
}
