/*
 * flags.c - command line of takhin-profiler, in Go's flag syntax (as the
 * original tool): -name value, -name=value, --name too; boolean flags
 * alone. "--" ends the flags: what follows is a command to profile.
 */
#include "util/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {"cpu", "heap", "allocs", "goroutine", "block", "mutex",
                                   "trace", "wall", "all"};

const char *cli_kind_name(cli_kind k)
{
    return k <= CLI_ALL ? kind_names[k] : "?";
}

void cli_usage(FILE *out)
{
    fputs(
"usage:\n"
"  takhin-profiler -remote HOST:PORT|URL [-type T] [-duration 30s] [-output FILE | -output-dir DIR]\n"
"                  [-analyze] [-flamegraph [FILE.svg]] [-token TOKEN]\n"
"                  [-ca FILE] [-cert FILE -key FILE] [-insecure] [-follow]\n"
"  takhin-profiler -input FILE [-top N] [-sample-index NAME] [-base FILE] [-cum]\n"
"                  [-format text|folded] [-flamegraph [FILE.svg]]\n"
"  takhin-profiler -type cpu|heap [-output FILE] [-sample-rate HZ] -- COMMAND [ARGS...]\n"
"  takhin-profiler -remote HOST:PORT -every 60s [-type T] -output-dir DIR [-retain AGE]\n"
"                  [-max-bytes N]          periodic capture into storage (see watch)\n"
"  takhin-profiler watch -help             Alertmanager webhook receiver that captures\n"
"  takhin-profiler ls DIR                  the captures in a storage directory\n"
"\n"
"Collect profiles from a Takhin server (/debug/pprof/), analyze them like\n"
"`go tool pprof -top`, draw flame graphs, or profile a command locally.\n"
"\n"
"Collect:\n"
"  -remote HOST:PORT   the server's profiler (e.g. 127.0.0.1:6060, [::1]:6060), or a URL\n"
"                      http[s]://[user:TOKEN@]HOST[:PORT][/PREFIX] (user:TOKEN@: HTTP Basic,\n"
"                      the token as password; PREFIX: the path the profiler is under)\n"
"  -type T             cpu (default), heap, allocs, goroutine, block, mutex, trace, wall, or\n"
"                      all: the instant profiles and the wall profile in parallel with the\n"
"                      CPU profile, then the trace. wall: every thread, running or waiting;\n"
"                      reports and flame graphs put its state on top of each stack as a\n"
"                      frame, (running) or (waiting: futex)\n"
"  -duration D         length of cpu, wall and trace profiles (default 30s; 500ms, 2m, ...)\n"
"  -output FILE        where to write (one type only)\n"
"  -output-dir DIR     directory for default names takhin_<type>_<YYYYMMDD_HHMMSS>.pb.gz\n"
"                      (.json for the trace); default /tmp\n"
"  -token TOKEN        sends \"Authorization: Bearer TOKEN\" (default $TAKHIN_PROFILER_TOKEN)\n"
"  -ca FILE            https: trust the certificates this CA (PEM) signed, not the system's\n"
"  -cert FILE          https: client certificate (PEM; may hold the key too)\n"
"  -key FILE           https: the client certificate's private key (PEM, unencrypted)\n"
"  -insecure           https: do not check the server's certificate (trusted networks only)\n"
"  -follow             follow redirects (not followed by default)\n"
"  -connect-timeout D  connect timeout (default 5s)\n"
"  -timeout D          idle timeout (no byte from the server) added to -duration (default 30s)\n"
"  proxies: $http_proxy, $https_proxy, $all_proxy and $no_proxy, as curl reads them\n"
"  -q, -quiet          no progress bar\n"
"  -analyze            print the report of what was collected\n"
"  -flamegraph [F.svg] also draw an SVG flame graph (default: next to the profile)\n"
"  -sample-rate HZ     local runs: CPUPROFILE_FREQUENCY. The server samples at its own\n"
"                      profiler.cpu_hz (set it in its config); collecting only reports it\n"
"  -mem-rate BYTES     the server's heap sampling is profiler.heap_sample_bytes; local heap\n"
"                      runs record every allocation: accepted for compatibility, unused\n"
"\n"
"Analyze (-input FILE, or -analyze after collecting):\n"
"  reads profile.proto (gzipped or not, from Go, pprof or this server), gperftools' legacy\n"
"  CPU profiles and legacy heap profiles; symbolizes address-only profiles from the\n"
"  binaries named in them when they exist on this machine\n"
"  -top N              rows per report (default 20; 0: every node above 0.5%)\n"
"  -sample-index S     one sample type by name (alloc_space, delay, ...) or number; default:\n"
"                      heap: inuse_space and alloc_space; mutex, block: delay and contentions\n"
"  -cum                sort by cumulative value\n"
"  -base FILE          report this profile minus FILE (growth since FILE: leak hunting)\n"
"  -format folded      collapsed stacks \"root;...;leaf VALUE\" on stdout (flamegraph.pl, speedscope)\n"
"  -flamegraph [F.svg] interactive SVG flame graph (click to zoom, Search, tooltips)\n"
"  -symbolize[=on|local|none]  frames left as addresses (stripped code, another machine):\n"
"                      looked up by build ID in -debug-dir, /usr/lib/debug, .gnu_debuglink,\n"
"                      then debuginfod ($DEBUGINFOD_URLS, its cache); local: no debuginfod;\n"
"                      none: as read (default on). Unresolved frames: [FILE] in the report,\n"
"                      FILE+0xOFFSET in flame graphs and folded stacks\n"
"  -debug-dir DIR      debug files as DIR/.build-id/xx/rest.debug (repeatable)\n"
"  -output FILE        with -input: write the profile, symbolized, to FILE\n"
"\n"
"Profile a command (-- COMMAND): runs it under gperftools (LD_PRELOAD: libprofiler for\n"
"cpu, libtcmalloc for heap) and writes a symbolized profile.proto when it exits.\n"
"\n"
"Exit status: 0 success; 1 cannot write output, out of memory; 2 usage error (also an\n"
"unusable -ca, -cert or -key file); 3 server not reached (unknown host, refused,\n"
"unreachable, connect timeout, proxy failure, TLS certificate refused either way);\n"
"4 server answered an error or a broken response (message printed; read timeout);\n"
"5 bad input profile (unreadable, corrupt, truncated, empty, unknown format, no samples);\n"
"6 local run: the command could not start or left no profile.\n",
        out);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (command != NULL)
        cli_error("%s: %s (see takhin-profiler %s -help)", command, msg, command);
    else
        cli_error("%s (see -help)", msg);
    return CLI_EXIT_USAGE;
}

int cli_parse_duration(const char *s, double *out)
{
    static const struct { const char *u; double f; } units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"m", 60},
        {"h", 3600}};
    double total = 0;
    char *end;
    if (*s == '\0')
        return -1;
    double bare = strtod(s, &end);
    if (*end == '\0' && end != s && isfinite(bare) && bare >= 0) { /* plain seconds */
        *out = bare;
        return 0;
    }
    while (*s) {
        double v = strtod(s, &end);
        if (end == s || !isfinite(v) || v < 0 || *s == '+' || *s == '-')
            return -1;
        size_t i = 0, best = 0, bestlen = 0;
        for (; i < sizeof units / sizeof *units; i++) {
            size_t l = strlen(units[i].u);
            if (strncmp(end, units[i].u, l) == 0 && l > bestlen) {
                best = i;
                bestlen = l;
            }
        }
        if (bestlen == 0)
            return -1;
        total += v * units[best].f;
        s = end + bestlen;
    }
    *out = total;
    return 0;
}

static int parse_long(const char *name, const char *v, long min, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || x < min)
        return cli_usage_error(NULL, "-%s %s: expected a whole number", name, v);
    *out = x;
    return CLI_OK;
}

static int parse_kind(const char *v, cli_kind *k)
{
    for (int i = 0; i <= CLI_ALL; i++) {
        if (strcmp(v, kind_names[i]) == 0) {
            *k = (cli_kind)i;
            return CLI_OK;
        }
    }
    if (strcmp(v, "threads") == 0 || strcmp(v, "profile") == 0) {
        *k = v[0] == 't' ? CLI_GOROUTINE : CLI_CPU;
        return CLI_OK;
    }
    return cli_usage_error(NULL, "-type %s: expected cpu, heap, allocs, goroutine, block, mutex, trace, "
                       "wall or all", v);
}

typedef enum ftype { F_BOOL, F_STR, F_DUR, F_LONG, F_KIND, F_FLAME, F_SYM, F_DIR } ftype;

typedef struct flag {
    const char *name;
    ftype type;
    size_t off;
} flag;

#define OFF(f) offsetof(cli_opts, f)
static const flag flags[] = {
    {"type", F_KIND, OFF(kind)},           {"duration", F_DUR, OFF(duration)},
    {"output", F_STR, OFF(output)},        {"output-dir", F_STR, OFF(output_dir)},
    {"remote", F_STR, OFF(remote)},        {"input", F_STR, OFF(input)},
    {"base", F_STR, OFF(base)},            {"token", F_STR, OFF(token)},
    {"sample-index", F_STR, OFF(sample_index)}, {"format", F_STR, OFF(format)},
    {"flamegraph", F_FLAME, OFF(flamegraph)},   {"sample-rate", F_LONG, OFF(sample_rate)},
    {"mem-rate", F_LONG, OFF(mem_rate)},   {"top", F_LONG, OFF(top)},
    {"connect-timeout", F_DUR, OFF(connect_timeout)}, {"timeout", F_DUR, OFF(read_margin)},
    {"analyze", F_BOOL, OFF(analyze)},     {"cum", F_BOOL, OFF(cum)},
    {"quiet", F_BOOL, OFF(quiet)},         {"q", F_BOOL, OFF(quiet)},
    {"ca", F_STR, OFF(ca)},                {"cert", F_STR, OFF(cert)},
    {"key", F_STR, OFF(key)},              {"insecure", F_BOOL, OFF(insecure)},
    {"follow", F_BOOL, OFF(follow)},
    {"every", F_DUR, OFF(every)},          {"retain", F_DUR, OFF(retain)},
    {"max-bytes", F_LONG, OFF(max_bytes)}, {"s3-endpoint", F_STR, OFF(s3_endpoint)},
    {"s3-region", F_STR, OFF(s3_region)},
    {"symbolize", F_SYM, OFF(symbolize)}, {"debug-dir", F_DIR, OFF(debug_dirs)},
};

static const flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    }
    return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Stores value v of flag f into o. */
static int set_flag(cli_opts *o, const flag *f, const char *v)
{
    void *dst = (char *)o + f->off;
    switch (f->type) {
    case F_BOOL:
    case F_FLAME:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0 && strcmp(v, "1") != 0 &&
            strcmp(v, "0") != 0)
            return cli_usage_error(NULL, "-%s=%s: expected true or false", f->name, v);
        *(bool *)dst = v[0] == 't' || v[0] == '1';
        return CLI_OK;
    case F_STR:
        *(const char **)dst = v;
        return CLI_OK;
    case F_DUR:
        if (cli_parse_duration(v, (double *)dst) != 0)
            return cli_usage_error(NULL, "-%s %s: expected a duration like 30s, 500ms, 2m", f->name, v);
        return CLI_OK;
    case F_LONG:
        return parse_long(f->name, v, 0, (long *)dst);
    case F_SYM:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            v = "on";
        if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            v = "none";
        if (strcmp(v, "on") != 0 && strcmp(v, "local") != 0 && strcmp(v, "none") != 0)
            return cli_usage_error(NULL, "-symbolize=%s: expected on, local (no debuginfod) "
                                   "or none", v);
        *(const char **)dst = v;
        return CLI_OK;
    case F_DIR:
        if (v[0] != '/' || strchr(v, ':') != NULL)
            return cli_usage_error(NULL, "-debug-dir %s: expected an absolute directory "
                                   "without ':'", v);
        if (o->ndebug_dirs == CLI_MAX_DEBUG_DIRS)
            return cli_usage_error(NULL, "-debug-dir: at most %d of them", CLI_MAX_DEBUG_DIRS);
        o->debug_dirs[o->ndebug_dirs++] = v;
        return CLI_OK;
    default:
        return parse_kind(v, (cli_kind *)dst);
    }
}

/* One flag at argv[*i]; may consume the next argument. */
static int one_flag(cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i] + (argv[*i][1] == '-' ? 2 : 1);
    size_t len = strcspn(a, "=");
    const char *eq = a[len] == '=' ? a + len + 1 : NULL;
    if ((len == 1 && a[0] == 'h') || (len == 4 && strncmp(a, "help", 4) == 0)) {
        cli_usage(stdout);
        return -1;
    }
    const flag *f = find_flag(a, len);
    if (f == NULL)
        return cli_usage_error(NULL, "unknown flag %s", argv[*i]);
    if (f->type == F_FLAME && eq == NULL && *i + 1 < argc && ends_with(argv[*i + 1], ".svg")) {
        o->flame_file = argv[++*i];
        eq = "true";
    } else if (f->type == F_FLAME && eq != NULL && ends_with(eq, ".svg")) {
        o->flame_file = eq;
        eq = "true";
    }
    if (eq == NULL && (f->type == F_BOOL || f->type == F_FLAME || f->type == F_SYM))
        eq = "true";
    if (eq == NULL) {
        if (*i + 1 >= argc)
            return cli_usage_error(NULL, "flag -%s needs a value", f->name);
        eq = argv[++*i];
    }
    return set_flag(o, f, eq);
}

static int check_collect(const cli_opts *o)
{
    if (o->kind == CLI_ALL && o->output)
        return cli_usage_error(NULL, "-type all writes several files: use -output-dir, not -output");
    if (o->duration <= 0 || o->duration > 3600)
        return cli_usage_error(NULL, "-duration: expected more than 0 and at most 1h");
    if (o->connect_timeout <= 0 || o->read_margin <= 0)
        return cli_usage_error(NULL, "-connect-timeout and -timeout must be more than 0");
    if (o->base && !o->analyze)
        return cli_usage_error(NULL, "-base compares reports: add -analyze (or use -input)");
    if (o->every > 0 && (o->analyze || o->flamegraph || o->format))
        return cli_usage_error(NULL, "-every stores captures: no -analyze, -flamegraph or -format with it "
                           "(read them later with -input, list them with ls DIR)");
    if (o->every > 0 && o->output && strncmp(o->output, "s3://", 5) != 0)
        return cli_usage_error(NULL, "-every %gs writes many files: give -output-dir DIR (or -output "
                           "s3://BUCKET/PREFIX), not -output FILE", o->every);
    if (o->every <= 0 && (o->retain > 0 || o->max_bytes > 0))
        return cli_usage_error(NULL, "-retain and -max-bytes prune the storage of -every (or of "
                           "takhin-profiler watch)");
    if (o->every <= 0 && o->output && strncmp(o->output, "s3://", 5) == 0)
        return cli_usage_error(NULL, "-output s3://... goes with -every (periodic capture) or watch");
    return CLI_OK;
}

static int check_local(const cli_opts *o)
{
    if (o->remote || o->input)
        return cli_usage_error(NULL, "a command to profile (after --) runs locally: no -remote or "
                           "-input with it");
    if (o->kind != CLI_CPU && o->kind != CLI_HEAP)
        return cli_usage_error(NULL, "-type %s: a command can be profiled for cpu or heap only",
                           cli_kind_name(o->kind));
    if (o->sample_rate != 0 && (o->sample_rate < 1 || o->sample_rate > 4000))
        return cli_usage_error(NULL, "-sample-rate: expected 1 to 4000 Hz");
    return CLI_OK;
}

static int check(cli_opts *o)
{
    if (o->format && strcmp(o->format, "text") != 0 && strcmp(o->format, "folded") != 0)
        return cli_usage_error(NULL, "-format %s: expected text or folded", o->format);
    if (o->command)
        return check_local(o);
    if (o->remote && o->input)
        return cli_usage_error(NULL, "-remote collects, -input reads a file: give one of them");
    if (o->remote)
        return check_collect(o);
    if (o->every > 0)
        return cli_usage_error(NULL, "-every %gs captures periodically: give -remote HOST:PORT", o->every);
    if (o->ca || o->cert || o->key || o->insecure || o->follow)
        return cli_usage_error(NULL, "-ca, -cert, -key, -insecure and -follow go with -remote");
    if (o->input)
        return CLI_OK;
    return cli_usage_error(NULL, "nothing to do: give -remote HOST:PORT (e.g. 127.0.0.1:6060) to "
                       "collect, -input FILE to analyze, or -- COMMAND to profile a command");
}

int cli_parse_flags(int argc, char **argv, cli_opts *o)
{
    *o = (cli_opts){.kind = CLI_CPU, .duration = 30, .output_dir = "/tmp", .top = 20,
                    .connect_timeout = 5, .read_margin = 30};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(NULL, "-- must be followed by a command to profile");
            o->command = argv + i + 1;
            break;
        }
        if (argv[i][0] != '-' || argv[i][1] == '\0')
            return cli_usage_error(NULL, "unexpected argument %s (a command to profile goes after --)",
                               argv[i]);
        int rc = one_flag(o, argc, argv, &i);
        if (rc != CLI_OK)
            return rc;
    }
    if (o->token == NULL) {
        const char *t = getenv("TAKHIN_PROFILER_TOKEN");
        o->token = t && *t ? t : NULL;
        o->token_from_env = o->token != NULL;
    }
    return check(o);
}
