/*
 * collect.c - fetching profiles from the server's /debug/pprof/ endpoints:
 * one type, or all of them (the instant ones in threads next to the timed
 * CPU profile, then the trace, which would otherwise compete with it).
 * Each file is written under a temporary name, checked (it must parse as a
 * profile, or look like trace JSON) and renamed into place; one summary
 * line per file says type, path, bytes and samples. While a timed profile
 * runs, a progress bar with the time left is drawn on stderr if that is a
 * terminal.
 */
#include "commands/cli_commands.h"
#include "input/cli_prof.h"
#include "pf_util.h"
#include "transport/cli_http.h"
#include "util/cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *endpoint[CLI_NKINDS] = {"profile", "heap", "allocs", "goroutine",
                                           "block", "mutex", "trace", "wall"};

typedef struct job {
    cli_kind kind;
    const cli_opts *o;
    const cli_remote *r;
    const cli_http_conf *conf;
    time_t stamp;
    char path[4096], tmp[4200];
    FILE *f;
    bool progress;
    double start;
    int rc;
    char err[1536], note[512], cpu_hz[128];
    size_t bytes, samples;
    volatile int *cancel;
    double total_timeout;   /* watch: the whole transfer's limit (0: none) */
    long past;              /* watch: ?past= of cpu and wall (0: none) */
    int status;             /* the answer's HTTP status */
    char past_available[32];/* its X-Takhin-Past-Available */
    int64_t time_nanos, duration_nanos; /* the profile's window */
    bool too_big;           /* the answer passed answer_limit: cut off */
} job;

static bool timed(cli_kind k)
{
    return k == CLI_CPU || k == CLI_TRACE || k == CLI_WALL;
}

/* -type all: fetched alongside the CPU profile (the instant ones, and the
 * wall profile, which has a sampler of its own). */
static bool alongside(cli_kind k)
{
    return !timed(k) || k == CLI_WALL;
}

/* ---- progress bar ---- */

static void tick(void *ctx)
{
    job *j = ctx;
    double total = j->o->duration, el = pf_mono_s() - j->start;
    int width = 30, done = total > 0 ? (int)(width * (el < total ? el / total : 1)) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < done ? '#' : '.';
    bar[width] = '\0';
    if (el < total)
        fprintf(stderr, "\r%-6s [%s] %4.0fs left ", cli_kind_name(j->kind), bar,
                ceil(total - el));
    else
        fprintf(stderr, "\r%-6s [%s] receiving...", cli_kind_name(j->kind), bar);
    fflush(stderr);
}

static void clear_progress(const job *j)
{
    if (j->progress)
        fprintf(stderr, "\r\033[K");
}

/* ---- one fetch ---- */

/* An answer is at most what the reader takes: the profile size limit
 * (CLI_MAX_INFLATE), or MAX_ANSWER for a trace's JSON. */
#define MAX_ANSWER (1u << 30)

static size_t answer_limit(const job *j)
{
    return j->kind == CLI_TRACE ? MAX_ANSWER : CLI_MAX_INFLATE;
}

static int sink(void *ctx, const void *data, size_t len)
{
    job *j = ctx;
    if (j->bytes + len > answer_limit(j)) {
        j->too_big = true;
        errno = EFBIG;
        return -1;
    }
    j->bytes += len;
    return fwrite(data, 1, len, j->f) == len ? 0 : -1;
}

static void request_path(const job *j, char *buf, size_t len)
{
    double d = j->o->duration;
    if ((j->kind == CLI_CPU || j->kind == CLI_WALL) && j->past > 0)
        snprintf(buf, len, "/debug/pprof/%s?past=%ld&seconds=%ld", endpoint[j->kind], j->past,
                 (long)ceil(d < 1 ? 1 : d));
    else if (j->kind == CLI_CPU || j->kind == CLI_WALL)
        snprintf(buf, len, "/debug/pprof/%s?seconds=%ld", endpoint[j->kind],
                 (long)ceil(d < 1 ? 1 : d));
    else if (j->kind == CLI_TRACE)
        snprintf(buf, len, "/debug/pprof/trace?seconds=%g", d);
    else
        snprintf(buf, len, "/debug/pprof/%s", endpoint[j->kind]);
}

/* The server's message of a non-2xx answer, on one line, with a hint.
 * The message is printed when it is text (the profiler's own errors are
 * text/plain with X-Go-Pprof); an HTML page (a proxy's, say) is not. */
static void http_error(job *j, const cli_http_resp *rs)
{
    char msg[1024];
    size_t n = 0;
    bool text = rs->go_pprof || rs->content_type[0] == '\0' ||
                strncasecmp(rs->content_type, "text/plain", 10) == 0;
    for (const char *s = rs->body; text && *s && n < sizeof msg - 1; s++)
        msg[n++] = *s == '\n' || *s == '\r' || *s == '\t' ? ' ' : (unsigned char)*s < 32 ? '?' : *s;
    while (n > 0 && msg[n - 1] == ' ')
        n--;
    msg[n] = '\0';
    if (!text)
        snprintf(msg, sizeof msg, "(a %.100s page, not the profiler's message)", rs->content_type);
    char hint[1200] = "";
    bool creds = j->o->token || j->r->has_user;
    if (rs->status == 401 || rs->status == 403)
        snprintf(hint, sizeof hint, "%s", creds ? " (the token was refused)"
                 : " (the server wants a token: -token or $TAKHIN_PROFILER_TOKEN)");
    else if (rs->status == 404)
        snprintf(hint, sizeof hint, " (this server has no such endpoint, or is not the "
                 "profiler port)");
    else if (rs->status >= 300 && rs->status < 400) {
        snprintf(j->err, sizeof j->err, "server answered %d %s: redirected to %.900s (add "
                 "-follow to follow redirects)", rs->status, rs->reason,
                 rs->location[0] ? rs->location : "(no Location)");
        return;
    }
    else if (rs->status == 407)
        snprintf(hint, sizeof hint, " (the proxy from $http_proxy/$https_proxy wants "
                 "credentials: put them in its URL, http://user:password@proxy:port)");
    snprintf(j->err, sizeof j->err, "server answered %d %s: %s%s", rs->status, rs->reason,
             n || !text ? msg : "(no message)", hint);
}

/* The request for path, as the flags and -remote say. */
static int plan(const cli_remote *r, const cli_http_conf *c, const char *path, double idle,
                cli_http_req *rq, char *err, size_t errlen)
{
    int rc = cli_http_plan(r, c, path, rq, err, errlen);
    rq->idle_timeout = idle;
    return rc;
}

/* Checks the downloaded file and counts its samples (trace: events). */
static int check_file(job *j)
{
    char err[512];
    uint8_t *data;
    size_t len;
    if (cli_read_file(j->tmp, answer_limit(j), &data, &len, err, sizeof err) != 0) {
        snprintf(j->err, sizeof j->err, "%.900s: %s", j->tmp, err);
        return CLI_EXIT_FAIL;
    }
    int rc = CLI_OK;
    if (j->kind == CLI_TRACE) {
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
            i++;
        if (i >= len || (data[i] != '{' && data[i] != '['))
            rc = CLI_EXIT_SERVER;
        for (const uint8_t *p = data; (p = memmem(p, len - (size_t)(p - data), "\"ph\"", 4));
             p += 4)
            j->samples++;
        if (rc != CLI_OK)
            snprintf(j->err, sizeof j->err, "the server sent something that is not trace JSON");
    } else {
        pf_decoded *p = cli_prof_parse(data, len, err, sizeof err);
        if (p == NULL) {
            snprintf(j->err, sizeof j->err, "the server sent an unreadable profile: %s", err);
            rc = CLI_EXIT_SERVER;
        } else {
            j->samples = (size_t)pf_decoded_samples(p);
            j->time_nanos = p->time_nanos;
            j->duration_nanos = p->duration_nanos;
        }
        pf_decoded_free(p);
    }
    free(data);
    return rc;
}

static void rate_notes(job *j)
{
    if (j->kind == CLI_CPU && j->o->sample_rate)
        snprintf(j->note, sizeof j->note, "-sample-rate is not sent: the server samples at its "
                 "profiler.cpu_hz (%s)", j->cpu_hz[0] ? j->cpu_hz : "rate not reported");
    else if ((j->kind == CLI_HEAP || j->kind == CLI_ALLOCS) && j->o->mem_rate)
        snprintf(j->note, sizeof j->note, "-mem-rate is not sent: the server samples the heap "
                 "every profiler.heap_sample_bytes (its config)");
    else if (j->samples == 0 && (j->kind == CLI_MUTEX || j->kind == CLI_BLOCK))
        snprintf(j->note, sizeof j->note, "no samples: is contention sampling on? (takhin-admin "
                 "profiler set %s 1, or profiler.%s in the server's config)",
                 j->kind == CLI_MUTEX ? "mutex_fraction" : "block_rate",
                 j->kind == CLI_MUTEX ? "mutex_fraction" : "block_rate");
    else if (j->samples == 0 && (j->kind == CLI_HEAP || j->kind == CLI_ALLOCS))
        snprintf(j->note, sizeof j->note, "no samples: heap sampling off? (server config "
                 "profiler.heap_sample_bytes, and tcmalloc must be the allocator)");
}

static int fetch(job *j)
{
    char path[256];
    request_path(j, path, sizeof path);
    double wait = timed(j->kind) ? j->o->duration : 0;
    cli_http_req rq;
    cli_http_resp rs = {0};
    int rc = plan(j->r, j->conf, path, wait + j->o->read_margin, &rq, j->err,
                  sizeof j->err);
    if (rc != CLI_OK)
        return rc;
    rq.sink = sink;
    rq.sink_ctx = j;
    rq.tick = j->progress ? tick : NULL;
    rq.tick_ctx = j;
    rq.cancel = j->cancel;
    rq.total_timeout = j->total_timeout;
    j->start = pf_mono_s();
    rc = cli_http_get(&rq, &rs, j->err, sizeof j->err);
    clear_progress(j);
    if (j->too_big) {
        snprintf(j->err, sizeof j->err, "%s sent more than %zu bytes, the size limit of a "
                 "profile: cut off, nothing stored", rq.hostport, answer_limit(j));
        rc = CLI_EXIT_SERVER;
    }
    if (rc == CLI_OK && (rs.status < 200 || rs.status > 299)) {
        http_error(j, &rs);
        rc = CLI_EXIT_SERVER;
    }
    snprintf(j->cpu_hz, sizeof j->cpu_hz, "%s", rs.cpu_hz);
    j->status = rs.status;
    snprintf(j->past_available, sizeof j->past_available, "%s", rs.past_available);
    return rc;
}

/* Files being downloaded, removed when a signal (Ctrl-C) ends the tool. */
static char *volatile pending[CLI_NKINDS];

static void on_signal(int sig)
{
    for (int i = 0; i < CLI_NKINDS; i++) {
        char *p = pending[i];
        if (p != NULL)
            unlink(p);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static void *run_job(void *arg)
{
    job *j = arg;
    const char *ext = j->kind == CLI_TRACE ? ".json" : ".pb.gz";
    if (j->o->output)
        snprintf(j->path, sizeof j->path, "%s", j->o->output);
    else
        cli_default_name(j->path, sizeof j->path, j->o->output_dir, cli_kind_name(j->kind), ext,
                         j->stamp);
    snprintf(j->tmp, sizeof j->tmp, "%s.part%ld", j->path, (long)getpid());
    if ((j->f = fopen(j->tmp, "wbx")) == NULL) {
        snprintf(j->err, sizeof j->err, "cannot create %.900s: %s", j->tmp, strerror(errno));
        j->rc = CLI_EXIT_FAIL;
        return NULL;
    }
    pending[j->kind] = j->tmp;
    j->rc = fetch(j);
    /* On disk before the rename: a crash leaves the old file or the new. */
    if ((fflush(j->f) != 0 || fsync(fileno(j->f)) != 0) && j->rc == CLI_OK) {
        snprintf(j->err, sizeof j->err, "cannot write %.900s: %s", j->tmp, strerror(errno));
        j->rc = CLI_EXIT_FAIL;
    }
    if (fclose(j->f) != 0 && j->rc == CLI_OK) {
        snprintf(j->err, sizeof j->err, "cannot write %.900s: %s", j->tmp, strerror(errno));
        j->rc = CLI_EXIT_FAIL;
    }
    if (j->rc == CLI_OK)
        j->rc = check_file(j);
    if (j->rc == CLI_OK)
        rate_notes(j);
    if (j->rc == CLI_OK && rename(j->tmp, j->path) != 0) {
        snprintf(j->err, sizeof j->err, "cannot rename to %.900s: %s", j->path, strerror(errno));
        j->rc = CLI_EXIT_FAIL;
    }
    if (j->rc != CLI_OK)
        unlink(j->tmp);
    pending[j->kind] = NULL;
    return NULL;
}

/* ---- results ---- */

static void summary(FILE *out, const job *j)
{
    if (j->rc != CLI_OK) {
        fflush(stdout);
        cli_error("%s: %s", cli_kind_name(j->kind), j->err);
        return;
    }
    fprintf(out, "%-9s %s  %zu bytes  %zu %s\n", cli_kind_name(j->kind), j->path, j->bytes,
            j->samples, j->kind == CLI_TRACE ? "events" : "samples");
    fflush(out);
    if (j->note[0])
        cli_note("%s: %s", cli_kind_name(j->kind), j->note);
}

/* Reports, flame graphs of a collected file as the options ask. */
static int follow_up(const job *j)
{
    const cli_opts *o = j->o;
    bool folded = o->format && strcmp(o->format, "folded") == 0;
    if (j->rc != CLI_OK || !(o->analyze || o->flamegraph || folded))
        return CLI_OK;
    if (j->kind == CLI_TRACE) {
        cli_note("trace: open %s in https://ui.perfetto.dev or chrome://tracing", j->path);
        return CLI_OK;
    }
    if (j->samples == 0) {
        cli_note("%s: no samples, nothing to analyze", cli_kind_name(j->kind));
        return CLI_OK;
    }
    if (o->analyze && !folded)
        printf("\n#### %s: %s\n", cli_kind_name(j->kind), j->path);
    fflush(stdout);
    return cli_analyze_file(o, j->path, cli_kind_name(j->kind));
}

static int discard(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 0;
}

/* One cheap request first, so that an unreachable server or a refused
 * token gives one message instead of one per profile. */
static int probe(const cli_opts *o, const cli_remote *r, const cli_http_conf *c)
{
    cli_http_req rq;
    cli_http_resp rs = {0};
    job j = {.o = o, .r = r, .conf = c};
    int rc = plan(r, c, "/debug/pprof/cmdline", o->read_margin, &rq, j.err, sizeof j.err);
    rq.sink = discard;
    if (rc == CLI_OK)
        rc = cli_http_get(&rq, &rs, j.err, sizeof j.err);
    if (rc == CLI_OK && (rs.status == 401 || rs.status == 403 || rs.status == 407 ||
                         (rs.status >= 300 && rs.status < 400))) {
        http_error(&j, &rs);
        rc = CLI_EXIT_SERVER;
    }
    if (rc != CLI_OK)
        cli_error("%s", j.err);
    return rc;
}

static void init_job(job *j, cli_kind k, const cli_opts *o, const cli_remote *r,
                     const cli_http_conf *c, time_t stamp, bool tty)
{
    memset(j, 0, sizeof *j);
    j->kind = k;
    j->o = o;
    j->r = r;
    j->conf = c;
    j->stamp = stamp;
    j->progress = tty && timed(k);
}

static int collect_all(const cli_opts *o, const cli_remote *r, const cli_http_conf *c,
                       time_t stamp, FILE *out, bool tty)
{
    int rc = probe(o, r, c);
    job *jobs = calloc(CLI_NKINDS, sizeof *jobs);
    pthread_t th[CLI_NKINDS];
    bool started[CLI_NKINDS] = {false};
    if (rc != CLI_OK || jobs == NULL) {
        free(jobs);
        return rc != CLI_OK ? rc : CLI_EXIT_FAIL;
    }
    for (int k = 0; k < CLI_NKINDS; k++)
        init_job(&jobs[k], (cli_kind)k, o, r, c, stamp, tty);
    for (int k = 0; k < CLI_NKINDS; k++) { /* in parallel with the CPU profile */
        if (alongside((cli_kind)k))
            started[k] = pthread_create(&th[k], NULL, run_job, &jobs[k]) == 0;
    }
    run_job(&jobs[CLI_CPU]);
    for (int k = 0; k < CLI_NKINDS; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else if (alongside((cli_kind)k))
            run_job(&jobs[k]);
    }
    run_job(&jobs[CLI_TRACE]);
    for (int k = 0; k < CLI_NKINDS; k++)
        summary(out, &jobs[k]);
    for (int k = 0; k < CLI_NKINDS; k++) {
        int jr = jobs[k].rc != CLI_OK ? jobs[k].rc : follow_up(&jobs[k]);
        if (rc == CLI_OK)
            rc = jr;
    }
    free(jobs);
    return rc;
}

/* -remote and the transport flags, checked before anything is fetched. */
static int transport(const cli_opts *o, cli_remote *r, cli_http_conf *c)
{
    char err[1024];
    cli_http_req rq;
    *c = (cli_http_conf){o->token, o->token_from_env, o->ca, o->cert, o->key, o->insecure,
                         o->follow, o->connect_timeout};
    int rc = cli_parse_remote(o->remote, r, err, sizeof err) == 0 ? CLI_OK : CLI_EXIT_USAGE;
    if (rc == CLI_OK)
        rc = cli_http_plan(r, c, "/", &rq, err, sizeof err);
    if (rc == CLI_OK)
        rc = cli_http_check_files(c, err, sizeof err);
    if (rc != CLI_OK)
        cli_error("%s (see -help)", err);
    return rc;
}

int cli_collect(const cli_opts *o)
{
    cli_remote r;
    cli_http_conf c;
    int rc = transport(o, &r, &c);
    if (rc != CLI_OK)
        return rc;
    if (o->output == NULL && cli_make_dir(o->output_dir) != 0)
        return CLI_EXIT_FAIL;
    catch_signals();
    bool folded = o->format && strcmp(o->format, "folded") == 0;
    FILE *out = folded ? stderr : stdout;
    bool tty = isatty(STDERR_FILENO) && !o->quiet;
    time_t stamp = time(NULL);
    if (o->kind == CLI_ALL)
        return collect_all(o, &r, &c, stamp, out, tty);
    job *j = malloc(sizeof *j);
    if (j == NULL)
        return CLI_EXIT_FAIL;
    init_job(j, o->kind, o, &r, &c, stamp, tty);
    run_job(j);
    summary(out, j);
    rc = j->rc != CLI_OK ? j->rc : follow_up(j);
    free(j);
    return rc;
}

int cli_fetch_into(const cli_remote *r, const cli_http_conf *c, cli_kind k, double seconds,
                   long past, double margin, FILE *f, const char *tmp, volatile int *cancel,
                   cli_fetch_info *info, char *err, size_t errlen)
{
    cli_opts o = {.kind = k, .duration = seconds, .read_margin = margin};
    job *j = malloc(sizeof *j);
    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_FAIL;
    }
    init_job(j, k, &o, r, c, time(NULL), false);
    j->f = f;
    j->cancel = cancel;
    j->past = past;
    j->total_timeout = (timed(k) ? seconds : 0) + margin; /* a slow target never holds on */
    snprintf(j->tmp, sizeof j->tmp, "%s", tmp);
    int rc = fetch(j);
    if (fflush(f) != 0 && rc == CLI_OK) {
        snprintf(j->err, sizeof j->err, "cannot write %.900s: %s", tmp, strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
    if (rc == CLI_OK)
        rc = check_file(j);
    *info = (cli_fetch_info){j->bytes, j->status, "", j->time_nanos, j->duration_nanos};
    snprintf(info->past_available, sizeof info->past_available, "%s", j->past_available);
    snprintf(err, errlen, "%s", rc == CLI_OK ? "" : j->err);
    free(j);
    return rc;
}
