/*
 * cli_commands.h - takhin-profiler's commands, the top of the CLI: each
 * takes the parsed options and returns an exit code. main.c dispatches to
 * them; they build on the readers (cli_prof.h), the reports (cli_report.h),
 * the pictures (cli_render.h), the transport (cli_http.h) and the storage
 * of watch (cli_watch.h).
 */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "input/cli_prof.h"
#include "transport/cli_http.h"
#include "util/cli.h"

/* -remote: fetches profiles from the server (collect.c). */
int cli_collect(const cli_opts *o);

/* What a fetch learned besides the file. */
typedef struct cli_fetch_info {
    size_t bytes;
    int status;                /* the HTTP status (0: no answer) */
    char past_available[32];   /* X-Takhin-Past-Available, "" if absent */
    int64_t time_nanos, duration_nanos; /* the profile's window (0: not said) */
} cli_fetch_info;

/* Fetches one profile of kind k (seconds: cpu, wall and trace; past > 0:
 * ?past= of cpu and wall, the flight recorder's last seconds) from r into
 * f (tmp: its path, for the check that it parses). *cancel set ends it;
 * so does the deadline: seconds (cpu, wall and trace) + margin for the
 * whole transfer, whatever the target trickles. Exit code (info filled
 * in any case); err says what went wrong. (collect.c, for watch.c) */
int cli_fetch_into(const cli_remote *r, const cli_http_conf *c, cli_kind k, double seconds,
                   long past, double margin, FILE *f, const char *tmp, volatile int *cancel,
                   cli_fetch_info *info, char *err, size_t errlen);

/* Reads one profile file and does what the options ask: the report
 * (-analyze, or -input alone), -format folded, -flamegraph. kind_hint names
 * the kind when the file's sample types leave it open (mutex or block).
 * (analyzefile.c) */
int cli_analyze_file(const cli_opts *o, const char *path, const char *kind_hint);
/* p as gzipped profile.proto at path: a temp file beside it, fsync,
 * rename. 0, or -1 with err. */
int cli_write_profile(const pf_decoded *p, const char *path, char *err, size_t errlen);
/* p as gzipped profile.proto into f (flushed, not synced). 0, or -1 with err. */
int cli_write_profile_to(const pf_decoded *p, FILE *f, char *err, size_t errlen);
/* Process-wide symbolization settings from -symbolize (NULL: on) and
 * -debug-dir (see cli_symbolize_config). */
void cli_symbolize_setup(const char *mode, const char *const *dirs, size_t ndirs, bool quiet);

/* takhin-profiler [flags] -- COMMAND...: profiles a command on this machine
 * (localrun.c). */
int cli_local_run(const cli_opts *o);

/* takhin-profiler watch ARGS (argv[0] is "watch"). (watch.c) */
int cli_watch_main(int argc, char **argv);
/* takhin-profiler -remote T -every D ...: periodic capture without a
 * receiver. (watch.c) */
int cli_periodic_main(const cli_opts *o);

#endif
