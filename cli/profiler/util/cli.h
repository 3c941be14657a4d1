/*
 * cli.h - takhin-profiler's shared base: options and their parsing (flags.c),
 * exit codes, profile kinds, messages, directories and file names
 * (util.c). Reading profiles is in cli_prof.h, reports in cli_report.h,
 * pictures in cli_render.h, the transport (libcurl) in cli_http.h, and the
 * commands built on them in cli_commands.h.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Exit codes (documented in the usage text and the README). */
enum cli_exit {
    CLI_OK = 0,
    CLI_EXIT_FAIL = 1,    /* writing output failed, out of memory, other */
    CLI_EXIT_USAGE = 2,   /* bad flags or arguments */
    CLI_EXIT_CONNECT = 3, /* server not reached: bad address, refused, timeout */
    CLI_EXIT_SERVER = 4,  /* server answered an error status or a bad response */
    CLI_EXIT_INPUT = 5,   /* input profile unreadable, corrupt, empty, no samples */
    CLI_EXIT_RUN = 6,     /* local run: the command could not run or left no profile */
};

/* Profile kinds the server serves (-type). */
typedef enum cli_kind {
    CLI_CPU, CLI_HEAP, CLI_ALLOCS, CLI_GOROUTINE, CLI_BLOCK, CLI_MUTEX, CLI_TRACE, CLI_WALL,
    CLI_NKINDS,
    CLI_ALL = CLI_NKINDS,
} cli_kind;

#define CLI_MAX_DEBUG_DIRS 16

typedef struct cli_opts {
    cli_kind kind;
    double duration;         /* seconds (-duration) */
    const char *output;      /* -output FILE */
    const char *output_dir;  /* -output-dir DIR */
    const char *remote;      /* -remote HOST:PORT or http[s]://[user:TOKEN@]HOST:PORT[/PREFIX] */
    const char *input;       /* -input FILE */
    const char *base;        /* -base FILE */
    const char *token;       /* -token or $TAKHIN_PROFILER_TOKEN */
    bool token_from_env;     /* the token is $TAKHIN_PROFILER_TOKEN's */
    const char *ca, *cert, *key; /* -ca, -cert, -key: PEM files for https */
    bool insecure, follow;   /* -insecure: no certificate check; -follow: redirects */
    const char *sample_index;/* -sample-index NAME|N */
    const char *format;      /* -format text|folded */
    const char *flame_file;  /* -flamegraph FILE.svg */
    long sample_rate;        /* -sample-rate HZ, 0 unset */
    long mem_rate;           /* -mem-rate BYTES, 0 unset */
    long top;                /* -top N */
    double connect_timeout;  /* seconds */
    double read_margin;      /* seconds added to -duration for the read timeout */
    bool analyze, flamegraph, cum, quiet;
    char **command;          /* after "--": run locally */
    double every;            /* -every D: periodic capture into storage (0: once) */
    double retain;           /* -retain AGE (seconds, 0: keep) */
    long max_bytes;          /* -max-bytes N (0: no limit) */
    const char *s3_endpoint, *s3_region; /* -output s3://... */
    const char *symbolize;   /* -symbolize on|local|none (NULL: on) */
    const char *debug_dirs[CLI_MAX_DEBUG_DIRS]; /* -debug-dir DIR, repeatable */
    size_t ndebug_dirs;
} cli_opts;

/* Parses argv into *o. Returns CLI_OK, CLI_EXIT_USAGE (message printed),
 * or -1 for -help (usage printed to stdout). */
int cli_parse_flags(int argc, char **argv, cli_opts *o);
void cli_usage(FILE *out);

const char *cli_kind_name(cli_kind k);
/* Parses "30s", "1m30s", "500ms", "2h" or a bare number of seconds. */
int cli_parse_duration(const char *s, double *out);

/* The SVG path for a profile path: its extension replaced by .svg. */
void cli_flame_path(char *buf, size_t len, const char *profile_path);

/* Messages on stderr, prefixed "takhin-profiler: ". */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: printed with where to find the flags (`command -help`,
 * or -help when command is NULL); returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* mkdir -p dir (0755). 0, or -1 with the message printed. */
int cli_make_dir(const char *dir);
/* The same, with the reason in err instead of on stderr. 0, or -1. */
int cli_make_dirs(const char *dir, char *err, size_t errlen);

/* "takhin_<kind>_<YYYYMMDD_HHMMSS><ext>" under dir into buf. */
void cli_default_name(char *buf, size_t len, const char *dir, const char *kind,
                      const char *ext, time_t when);

#endif
