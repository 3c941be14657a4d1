/*
 * takhin-profiler - collects, analyzes and draws profiles of the Takhin
 * server (its /debug/pprof/ endpoints), or profiles a command locally
 * under gperftools. See cli_usage (flags.c) and the README's CLI section.
 */
#include "commands/cli_commands.h"
#include "commands/cli_watch.h"
#include "input/cli_prof.h"
#include "util/cli.h"

#include <string.h>

void cli_symbolize_setup(const char *mode, const char *const *dirs, size_t ndirs, bool quiet)
{
    static char joined[CLI_MAX_DEBUG_DIRS * 4097];
    size_t n = 0;
    for (size_t i = 0; i < ndirs && n < sizeof joined; i++)
        n += (size_t)snprintf(joined + n, sizeof joined - n, "%s%s", i ? ":" : "", dirs[i]);
    mode = mode != NULL ? mode : "on";
    cli_sym_config c = {strcmp(mode, "none") == 0    ? CLI_SYM_NONE
                        : strcmp(mode, "local") == 0 ? CLI_SYM_LOCAL
                                                     : CLI_SYM_ON,
                        joined, quiet};
    cli_symbolize_config(&c);
}

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
    cli_symbolize_setup(o.symbolize, o.debug_dirs, o.ndebug_dirs, o.quiet);
    if (o.command)
        return cli_local_run(&o);
    if (o.remote && o.every > 0)
        return cli_periodic_main(&o);
    if (o.remote)
        return cli_collect(&o);
    return cli_analyze_file(&o, o.input, NULL);
}
