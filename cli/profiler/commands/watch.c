/*
 * watch.c - takhin-profiler watch: Alertmanager's webhook receiver that
 * captures profiles of configured targets, and periodic capture (-every,
 * also `takhin-profiler -remote T -every D`).
 *
 * Threads: the main thread waits for signals (TERM/INT end, HUP re-reads
 * -targets FILE) and runs the schedule (-every, retention); the profiler
 * port's front (plugin/http/front.h: header and body deadlines, per-address
 * and total caps, the oldest unfinished request cut to make room) owns the
 * -listen port and hands complete requests to civetweb on 127.0.0.1:0,
 * whose threads answer them (a webhook is answered at once, never after a
 * capture); each accepted capture runs on a thread of its own, at most
 * -max-inflight at a time, through collect.c's fetch into store.c. An
 * alert's CPU and wall profiles reach back into the target's flight
 * recorder, to its startsAt minus -lookback (lookback.c).
 *
 * Nothing a request says is connected to: an alert's instance label only
 * selects one of the configured targets, whose address, token and TLS
 * files are the operator's.
 */
#include "commands/cli_commands.h"
#include "commands/cli_watch.h"
#include "http/front.h"
#include "http/metrics.h"
#include "http/private_listener.h"
#include "pf_util.h"
#include "transport/cli_http.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 256
#define DEDUPE_SLOTS 4096
#define RETAIN_EVERY 60.0
/* The front's limits on the webhook port: the profiler port's defaults
 * (plugin/core/settings.c). */
#define FRONT_HEADER_TIMEOUT_MS 2000
#define FRONT_BODY_TIMEOUT_MS 10000
#define FRONT_MAX_HEADER_BYTES 8192
#define FRONT_MAX_CONNS_PER_PEER 16
#define FRONT_MAX_CONNS 4096

typedef struct target {
    char spec[512];     /* as configured */
    char hostport[300]; /* host:port, what an instance label must say */
    cli_remote r;
} target;

enum { WH_ACCEPTED, WH_UNAUTHORIZED, WH_BAD_REQUEST, WH_NOT_FOUND, WH_METHOD, WH_N };
static const char *wh_names[WH_N] = {"accepted", "unauthorized", "bad_request", "not_found",
                                     "method_not_allowed"};
enum { AL_CAPTURE, AL_DUPLICATE, AL_COOLDOWN, AL_BUSY, AL_UNKNOWN, AL_NO_INSTANCE, AL_RESOLVED,
       AL_N };
static const char *al_names[AL_N] = {"capture", "duplicate", "cooldown", "busy",
                                     "unknown_instance", "no_instance", "resolved"};

typedef struct ccount {
    char target[300];
    int kind;
    bool ok;
    uint64_t n;
} ccount;

/* Per target: its last alert capture (the cooldown) and its captures in
 * flight (-max-inflight is per target: a slow target never holds up the
 * others). */
typedef struct last_capture {
    char hostport[300];
    double at;
    int inflight;
} last_capture;

static struct watch {
    /* configuration */
    const char *listen, *out, *s3_endpoint, *s3_region, *targets_file;
    const char *target_flags[MAX_TARGETS];
    size_t ntarget_flags;
    char webhook_token[512];
    const char *webhook_token_flag, *webhook_token_file;
    const char *token, *ca, *cert, *key;
    bool token_from_env, insecure;
    double lookback; /* -lookback: CPU and wall from this long before an alert's startsAt */
    double duration, cooldown, every, retain, shutdown_timeout, connect_timeout, read_margin;
    long max_seconds, max_inflight;
    long max_bytes;
    const char *types_flag;
    cli_kinds types;
    const char *symbolize; /* -symbolize: on or local; NULL: captures stored as fetched */
    const char *debug_dirs[CLI_MAX_DEBUG_DIRS];
    size_t ndebug_dirs;
    /* state */
    pthread_mutex_t lock;
    pthread_cond_t idle;
    target targets[MAX_TARGETS];
    size_t ntargets;
    int inflight;
    volatile int cancel;
    uint64_t dedupe[DEDUPE_SLOTS];
    size_t dedupe_next;
    last_capture *last;
    size_t nlast, cap_last;
    cli_store *store;
    uint64_t storage_bytes, deletions;
    uint64_t webhooks[WH_N], alerts[AL_N];
    ccount *counts;
    size_t ncounts, cap_counts;
    /* the receiver: the front on -listen, civetweb behind it */
    prof_front *front;
    struct mg_context *mg;
    prof_private_listener backend; /* civetweb's socket, removed by stop_listener */
    prof_metrics *front_metrics;
    char secret[PROF_FRONT_SECRET_LEN + 1];
} W;

/* ---- log ---- */

/* Lines are rate-limited per kind (the format string of the call):
 * LOG_BURST a window of LOG_WINDOW_S each, the rest counted and reported
 * as "(N similar lines suppressed)" when the window ends. A flood of
 * alerts or clients cannot fill the disk. */
#define LOG_KINDS 64
#define LOG_BURST 20
#define LOG_WINDOW_S 1.0

typedef struct log_kind {
    const char *fmt;
    double window;     /* start of the current window */
    unsigned lines;    /* written in it */
    uint64_t dropped;  /* suppressed in it */
} log_kind;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_kind log_kinds[LOG_KINDS];

static void log_line(const char *msg)
{
    char when[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ takhin-profiler watch: %s\n", when, ts.tv_nsec / 1000000, msg);
    fflush(stderr);
}

/* Ends k's window if it is over, reporting what it suppressed (log_lock
 * held). */
static void log_roll(log_kind *k, double now)
{
    if (now - k->window < LOG_WINDOW_S)
        return;
    if (k->dropped > 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%.120s... (%llu similar lines suppressed)", k->fmt,
                 (unsigned long long)k->dropped);
        log_line(msg);
    }
    k->window = now;
    k->lines = 0;
    k->dropped = 0;
}

/* Reports the suppressed lines of windows that ended (the main loop
 * calls it), or of every window (all: at the end). */
static void log_flush(bool all)
{
    double now = pf_mono_s() + (all ? LOG_WINDOW_S : 0);
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < LOG_KINDS && log_kinds[i].fmt; i++)
        log_roll(&log_kinds[i], now);
    pthread_mutex_unlock(&log_lock);
}

/* One line of kind `kind` (a format string: the call site). */
static void vwlog(const char *kind, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    double now = pf_mono_s();
    pthread_mutex_lock(&log_lock);
    log_kind *k = NULL;
    for (size_t i = 0; i < LOG_KINDS && !k; i++)
        if (log_kinds[i].fmt == kind || log_kinds[i].fmt == NULL)
            k = &log_kinds[i];
    if (k == NULL)
        k = &log_kinds[LOG_KINDS - 1]; /* more kinds than slots: the last ones share */
    if (k->fmt != kind && k->fmt != NULL)
        log_roll(k, now + LOG_WINDOW_S);
    if (k->fmt != kind)
        *k = (log_kind){kind, now, 0, 0};
    log_roll(k, now);
    if (k->lines < LOG_BURST) {
        k->lines++;
        log_line(msg);
    } else {
        k->dropped++;
    }
    pthread_mutex_unlock(&log_lock);
}

static void wlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wlog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwlog(fmt, fmt, ap);
    va_end(ap);
}

/* What a request sent, safe to log: control characters, non-ASCII bytes
 * and backslashes as \xNN, cut at 200 bytes. */
static const char *esc(const char *in, char *out, size_t len)
{
    size_t o = 0;
    if (in == NULL)
        in = "(none)";
    for (size_t i = 0; in[i] && o + 5 < len && i < 200; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(out + o, len - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

/* ---- targets ---- */

static int add_target(target *v, size_t *n, const char *spec, char *err, size_t errlen)
{
    if (*n >= MAX_TARGETS) {
        snprintf(err, errlen, "more than %d targets", MAX_TARGETS);
        return -1;
    }
    target *t = &v[*n];
    memset(t, 0, sizeof *t);
    snprintf(t->spec, sizeof t->spec, "%s", spec);
    char e[512];
    if (cli_parse_remote(spec, &t->r, e, sizeof e) != 0) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    cli_remote_hostport(&t->r, t->hostport, sizeof t->hostport);
    ++*n;
    return 0;
}

/* -target flags and -targets FILE into v. 0, or -1 with err naming the
 * flag or the file's line. */
static int load_targets(target *v, size_t *n, char *err, size_t errlen)
{
    char e[600];
    *n = 0;
    for (size_t i = 0; i < W.ntarget_flags; i++) {
        if (add_target(v, n, W.target_flags[i], e, sizeof e) != 0) {
            snprintf(err, errlen, "-target %.300s: %s", W.target_flags[i], e);
            return -1;
        }
    }
    if (W.targets_file == NULL)
        return 0;
    FILE *in = fopen(W.targets_file, "r");
    if (in == NULL) {
        snprintf(err, errlen, "-targets %.300s: %s (give a file with one HOST:PORT or URL "
                 "a line)", W.targets_file, strerror(errno));
        return -1;
    }
    char line[1024];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, in)) {
        ln++;
        char *s = line + strspn(line, " \t");
        char *hash = strchr(s, '#');
        if (hash)
            *hash = '\0';
        size_t l = strlen(s);
        while (l && (s[l - 1] == '\n' || s[l - 1] == '\r' || s[l - 1] == ' ' || s[l - 1] == '\t'))
            s[--l] = '\0';
        if (l == 0)
            continue;
        if (add_target(v, n, s, e, sizeof e) != 0) {
            snprintf(err, errlen, "-targets %.300s, line %d: %s", W.targets_file, ln, e);
            rc = -1;
        }
    }
    fclose(in);
    return rc;
}

static void reload_targets(void)
{
    target *v = malloc(sizeof W.targets);
    size_t n;
    char err[1024];
    if (v == NULL)
        return;
    if (load_targets(v, &n, err, sizeof err) != 0)
        wlog("SIGHUP: the targets stay as they were: %s", err);
    else {
        pthread_mutex_lock(&W.lock);
        memcpy(W.targets, v, n * sizeof *v);
        W.ntargets = n;
        pthread_mutex_unlock(&W.lock);
        wlog("SIGHUP: %zu target%s from -target and %s", n, n == 1 ? "" : "s",
             W.targets_file ? W.targets_file : "(no -targets file)");
    }
    free(v);
}

/* ---- counters (W.lock held) ---- */

static void count_capture(const char *hostport, int kind, bool ok)
{
    for (size_t i = 0; i < W.ncounts; i++) {
        ccount *c = &W.counts[i];
        if (c->kind == kind && c->ok == ok && strcmp(c->target, hostport) == 0) {
            c->n++;
            return;
        }
    }
    if (pf_grow(&W.counts, &W.cap_counts, W.ncounts + 1, sizeof *W.counts) != 0)
        return;
    ccount *c = &W.counts[W.ncounts++];
    snprintf(c->target, sizeof c->target, "%s", hostport);
    c->kind = kind;
    c->ok = ok;
    c->n = 1;
}

static last_capture *last_for(const char *hostport)
{
    for (size_t i = 0; i < W.nlast; i++)
        if (strcmp(W.last[i].hostport, hostport) == 0)
            return &W.last[i];
    if (pf_grow(&W.last, &W.cap_last, W.nlast + 1, sizeof *W.last) != 0)
        return NULL;
    last_capture *l = &W.last[W.nlast++];
    snprintf(l->hostport, sizeof l->hostport, "%s", hostport);
    l->at = -1e18;
    l->inflight = 0;
    return l;
}

/* ---- captures ---- */

typedef struct cjob {
    target t;
    cli_kinds kinds;
    double seconds;
    double lookback;     /* seconds before starts the CPU and wall profiles reach back */
    double starts;       /* the alert's startsAt, Unix seconds (-1: none) */
    char starts_at[64];  /* as the alert said it ("": none) */
    char reason[128];
    char *labels;
    time_t when;
} cjob;

/* -symbolize: a capture with address-only frames, read back, symbolized
 * and written over itself before it is committed. One that cannot be
 * read back is stored as fetched; -1 with err when the rewrite failed
 * (the capture is then marked failed). */
static int symbolize_capture(cli_store_file *f, const char *hostport, cli_kind k, char *err,
                             size_t errlen)
{
    char why[512];
    uint8_t *data = NULL;
    size_t len = 0;
    pf_decoded *p = NULL;
    if (fflush(f->f) == 0 && cli_read_file(f->tmp, CLI_MAX_INFLATE, &data, &len, why,
                                           sizeof why) == 0)
        p = cli_prof_parse(data, len, why, sizeof why);
    free(data);
    if (p == NULL)
        wlog("capture %s of %s: not symbolized, stored as fetched: %s", cli_kind_name(k),
             hostport, why);
    if (p == NULL || !pf_decoded_needs_symbols(p)) {
        pf_decoded_free(p);
        return 0;
    }
    cli_symbolize_offline(p, why, sizeof why);
    int rc = fseeko(f->f, 0, SEEK_SET) != 0 || ftruncate(fileno(f->f), 0) != 0 ? -1 : 0;
    if (rc != 0)
        snprintf(err, errlen, "cannot rewrite it symbolized: %s", strerror(errno));
    else if ((rc = cli_write_profile_to(p, f->f, why, sizeof why)) != 0)
        snprintf(err, errlen, "cannot rewrite it symbolized: %s", why);
    pf_decoded_free(p);
    return rc;
}

/* One fetch into f (emptied first): ?past=past and the profile seconds. */
static int fetch_window(cjob *j, cli_kind k, long past, cli_store_file *f,
                        cli_fetch_info *info, char *err, size_t errlen)
{
    cli_http_conf c = {W.token, W.token_from_env, W.ca, W.cert, W.key, W.insecure, false,
                       W.connect_timeout};
    bool timed = k == CLI_CPU || k == CLI_TRACE || k == CLI_WALL;
    if (fflush(f->f) != 0 || ftruncate(fileno(f->f), 0) != 0 || fseeko(f->f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot write %.1000s: %s", f->tmp, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    return cli_fetch_into(&j->t.r, &c, k, timed ? j->seconds : 0, past, W.read_margin, f->f,
                          f->tmp, &W.cancel, info, err, errlen);
}

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A CPU or wall capture reaches back into the target's flight recorder
 * (lookback.c): asked again once with what the target says it holds, or
 * without the past when it holds none. f->window says what it covers. */
static int fetch_past(cjob *j, cli_kind k, cli_store_file *f, cli_fetch_info *info, char *err,
                      size_t errlen)
{
    cli_past_result pr = {0};
    double now = real_now();
    pr.asked = pr.got = cli_past_seconds(now, j->starts, j->lookback);
    int rc = fetch_window(j, k, pr.asked, f, info, err, errlen);
    char rn[300];
    const char *key = k == CLI_WALL ? "profiler.flight_recorder.wall"
                                    : "profiler.flight_recorder.seconds";
    if (cli_past_answer(&pr, info->status, info->past_available, key) == 1) {
        wlog("capture %s of %s (%s): %s; asking again", cli_kind_name(k), j->t.hostport,
             esc(j->reason, rn, sizeof rn), pr.note);
        now = real_now();
        rc = fetch_window(j, k, pr.got, f, info, err, errlen);
    }
    /* the window: the profile's own, else the request's on this clock */
    int64_t start = info->time_nanos, end = start + info->duration_nanos;
    if (start <= 0 || end < start) {
        start = (int64_t)((now - (double)pr.got) * 1e9);
        end = (int64_t)(real_now() * 1e9);
    }
    f->window = (cli_window){rc == CLI_OK, start, end, pr};
    return rc;
}

static void capture_one(cjob *j, cli_kind k)
{
    cli_store_file f;
    char err[2048] = "", rn[300], win[400] = "";
    uint64_t bytes = 0;
    cli_fetch_info info = {0};
    double t0 = pf_mono_s();
    int rc = cli_store_begin(W.store, &f, j->t.hostport, k, j->reason, j->labels, j->when, err,
                             sizeof err);
    if (rc != 0) {
        wlog("capture %s of %s (%s) failed: %s", cli_kind_name(k), j->t.hostport,
             esc(j->reason, rn, sizeof rn), err);
        pthread_mutex_lock(&W.lock);
        count_capture(j->t.hostport, k, false);
        pthread_mutex_unlock(&W.lock);
        return;
    }
    f.starts_at = j->starts_at;
    if (k == CLI_CPU || k == CLI_WALL)
        rc = fetch_past(j, k, &f, &info, err, sizeof err);
    else
        rc = fetch_window(j, k, 0, &f, &info, err, sizeof err);
    if (rc == CLI_OK && W.symbolize != NULL && k != CLI_TRACE &&
        symbolize_capture(&f, j->t.hostport, k, err, sizeof err) != 0)
        rc = CLI_EXIT_FAIL;
    if (rc == CLI_OK && cli_store_commit(W.store, &f, &bytes, err, sizeof err) != 0)
        rc = CLI_EXIT_FAIL; /* the file is gone; say so in the index if it can be */
    if (rc != CLI_OK)
        cli_store_fail(W.store, &f, err);
    if (f.window.set) {
        char a[40], b[40];
        cli_store_utc_ns(f.window.start_ns, a, sizeof a);
        cli_store_utc_ns(f.window.end_ns, b, sizeof b);
        snprintf(win, sizeof win, ", window %s to %s (past %lds of %lds asked)%s%s", a, b,
                 f.window.past.got, f.window.past.asked,
                 f.window.past.shortened ? ": less than asked: " : "",
                 f.window.past.shortened ? f.window.past.note : "");
    }
    if (rc == CLI_OK)
        wlog("captured %s of %s (%s): %s, %llu bytes, %.1fs%s", cli_kind_name(k), j->t.hostport,
             esc(j->reason, rn, sizeof rn), f.path, (unsigned long long)bytes,
             pf_mono_s() - t0, win);
    else
        wlog("capture %s of %s (%s) failed: %s; marked failed in the index, not retried",
             cli_kind_name(k), j->t.hostport, esc(j->reason, rn, sizeof rn), err);
    pthread_mutex_lock(&W.lock);
    count_capture(j->t.hostport, k, rc == CLI_OK);
    if (rc == CLI_OK)
        W.storage_bytes += bytes;
    pthread_mutex_unlock(&W.lock);
}

static void *capture_thread(void *arg)
{
    cjob *j = arg;
    /* the instant profiles first (the state at alert time), then the timed ones */
    static const cli_kind order[] = {CLI_HEAP, CLI_ALLOCS, CLI_GOROUTINE, CLI_BLOCK, CLI_MUTEX,
                                     CLI_CPU, CLI_WALL, CLI_TRACE};
    for (size_t i = 0; i < sizeof order / sizeof *order && !W.cancel; i++)
        if (j->kinds & CLI_KIND_BIT(order[i]))
            capture_one(j, order[i]);
    pthread_mutex_lock(&W.lock);
    last_capture *l = last_for(j->t.hostport);
    if (l)
        l->inflight--;
    W.inflight--;
    free(j->labels);
    free(j);
    pthread_cond_broadcast(&W.idle);
    pthread_mutex_unlock(&W.lock);
    return NULL;
}

/* Starts a capture thread unless -max-inflight of t are running (W.lock
 * held). Takes labels (malloc'd). starts_at: the alert's startsAt, whose
 * CPU and wall profiles reach lookback seconds before it (NULL: a
 * periodic capture, none). 0, or -1 (busy). */
static int launch(const target *t, cli_kinds kinds, double seconds, const char *reason,
                  char *labels, const char *starts_at, double lookback)
{
    last_capture *l = last_for(t->hostport);
    cjob *j = calloc(1, sizeof *j);
    if (l == NULL || l->inflight >= W.max_inflight || j == NULL) {
        free(j);
        free(labels);
        return -1;
    }
    j->t = *t;
    j->kinds = kinds;
    j->seconds = seconds;
    j->lookback = starts_at ? lookback : 0;
    snprintf(j->starts_at, sizeof j->starts_at, "%s", starts_at ? starts_at : "");
    if (cli_parse_rfc3339(j->starts_at, &j->starts) != 0)
        j->starts = -1; /* none, or not a time: the lookback from now */
    snprintf(j->reason, sizeof j->reason, "%s", reason);
    j->labels = labels;
    j->when = time(NULL);
    pthread_attr_t a;
    pthread_t th;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &a, capture_thread, j);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        free(j->labels);
        free(j);
        return -1;
    }
    l->inflight++;
    W.inflight++;
    return 0;
}

/* ---- one alert ---- */

/* The alert's identity for the dedupe ring: the three parts hashed in a
 * chain (each part's hash seeds the next), never 0 (an empty slot). */
static uint64_t alert_key(const char *a, const char *b, const char *c)
{
    uint64_t h = pf_hash_bytes(a, strlen(a), 0);
    h = pf_hash_bytes(b, strlen(b), h);
    h = pf_hash_bytes(c, strlen(c), h);
    return h ? h : 1;
}

static void on_alert(const cli_webhook *wh, const cli_wh_alert *a, const char *peer)
{
    char name[300], inst[300], v[300];
    esc(a->alertname, name, sizeof name);
    esc(a->instance, inst, sizeof inst);
    if (!a->firing) {
        wlog("alert %s (instance %s) resolved: nothing to capture", name, inst);
        pthread_mutex_lock(&W.lock);
        W.alerts[AL_RESOLVED]++;
        pthread_mutex_unlock(&W.lock);
        return;
    }
    cli_kinds kinds = W.types;
    double seconds = W.duration;
    char err[256];
    if (a->ann_types && cli_parse_kinds(a->ann_types, &kinds, err, sizeof err) != 0) {
        wlog("alert %s: annotation takhin_profile_types=\"%s\": %s; using -type", name,
             esc(a->ann_types, v, sizeof v), err);
        kinds = W.types;
    }
    long secs;
    if (a->ann_seconds) {
        if (cli_parse_seconds(a->ann_seconds, W.max_seconds, &secs, err, sizeof err) != 0)
            wlog("alert %s: annotation takhin_profile_seconds=\"%s\": %s; using -duration", name,
                 esc(a->ann_seconds, v, sizeof v), err);
        else
            seconds = (double)secs;
    }
    double lookback = W.lookback;
    if (a->ann_lookback && cli_parse_lookback(a->ann_lookback, &lookback, err, sizeof err) != 0) {
        wlog("alert %s: annotation takhin_profile_lookback=\"%s\": %s; using -lookback", name,
             esc(a->ann_lookback, v, sizeof v), err);
        lookback = W.lookback;
    }
    pthread_mutex_lock(&W.lock);
    int result;
    const target *t = NULL;
    for (size_t i = 0; a->instance && i < W.ntargets && !t; i++)
        if (strcmp(W.targets[i].hostport, a->instance) == 0 ||
            strcmp(W.targets[i].spec, a->instance) == 0)
            t = &W.targets[i];
    uint64_t key = alert_key(wh->group_key, a->fingerprint, a->starts_at);
    bool seen = false;
    for (size_t i = 0; i < DEDUPE_SLOTS && !seen; i++)
        seen = W.dedupe[i] == key;
    last_capture *last = t ? last_for(t->hostport) : NULL;
    double now = pf_mono_s();
    if (a->instance == NULL)
        result = AL_NO_INSTANCE;
    else if (t == NULL)
        result = AL_UNKNOWN;
    else if (seen)
        result = AL_DUPLICATE;
    else if (last && now - last->at < W.cooldown)
        result = AL_COOLDOWN;
    else if (launch(t, kinds, seconds, a->alertname[0] ? a->alertname : "alert",
                    strdup(a->labels_json), a->starts_at, lookback) != 0)
        result = AL_BUSY;
    else {
        result = AL_CAPTURE;
        if (last)
            last->at = now;
    }
    /* Only a capture marks the alert seen: one skipped for the cooldown
     * or -max-inflight is captured when it comes again after them. */
    if (result == AL_CAPTURE) {
        W.dedupe[W.dedupe_next] = key;
        W.dedupe_next = (W.dedupe_next + 1) % DEDUPE_SLOTS;
    }
    W.alerts[result]++;
    double left = last ? W.cooldown - (now - last->at) : 0;
    pthread_mutex_unlock(&W.lock);
    switch (result) {
    case AL_NO_INSTANCE:
        wlog("alert %s from %s refused: no instance label, nothing captured", name, peer);
        break;
    case AL_UNKNOWN:
        wlog("alert %s from %s refused: instance %s is not a configured target (-target, "
             "-targets), nothing captured", name, peer, inst);
        break;
    case AL_DUPLICATE:
        wlog("alert %s (instance %s): already seen (same groupKey, fingerprint, startsAt), "
             "nothing captured", name, inst);
        break;
    case AL_COOLDOWN:
        wlog("alert %s (instance %s): target in cooldown for %.0fs more (-cooldown), nothing "
             "captured", name, inst, left);
        break;
    case AL_BUSY:
        wlog("alert %s (instance %s): %ld captures of this target already in flight "
             "(-max-inflight), nothing captured", name, inst, W.max_inflight);
        break;
    default:
        if (kinds & (CLI_KIND_BIT(CLI_CPU) | CLI_KIND_BIT(CLI_WALL)) && lookback > 0)
            wlog("alert %s (instance %s): capturing for %.0fs, CPU and wall from %.0fs before "
                 "its startsAt %s", name, inst, seconds, lookback, esc(a->starts_at, v, sizeof v));
        else
            wlog("alert %s (instance %s): capturing for %.0fs", name, inst, seconds);
    }
}

/* ---- HTTP ---- */

static void reply(struct mg_connection *c, int status, const char *reason, const char *extra,
                  const char *ctype, const char *body)
{
    mg_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n%s",
              status, reason, ctype, strlen(body), extra ? extra : "", body);
}

static void text(struct mg_connection *c, int status, const char *reason, const char *extra,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void text(struct mg_connection *c, int status, const char *reason, const char *extra,
                 const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t n = strlen(body);
    if (n + 1 < sizeof body)
        body[n] = '\n', body[n + 1] = '\0';
    reply(c, status, reason, extra, "text/plain; charset=utf-8", body);
}

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

static int b64decode(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        int v = b64val((unsigned char)*in);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (int)o;
}

static bool same(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    unsigned char d = an != bn;
    for (size_t i = 0; i < an; i++)
        d |= (unsigned char)(a[i] ^ b[i < bn ? i : 0]);
    return d == 0 && bn > 0;
}

/* Bearer TOKEN, or Basic with TOKEN as the password (any user). */
static bool authorized(struct mg_connection *c)
{
    if (W.webhook_token[0] == '\0')
        return true;
    const char *h = mg_get_header(c, "Authorization");
    if (h == NULL)
        return false;
    if (strncasecmp(h, "Bearer ", 7) == 0)
        return same(h + 7, strlen(h + 7), W.webhook_token);
    if (strncasecmp(h, "Basic ", 6) == 0) {
        char dec[1024];
        int n = b64decode(h + 6, dec, sizeof dec);
        char *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
        return colon && same(colon + 1, (size_t)(n - (colon + 1 - dec)), W.webhook_token);
    }
    return false;
}

static void metrics(struct mg_connection *c)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    if (b == NULL) {
        text(c, 500, "Internal Server Error", NULL, "out of memory");
        return;
    }
#define OUT(...) do { if (n < cap) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__); } while (0)
    pthread_mutex_lock(&W.lock);
    OUT("# HELP takhin_watch_webhooks_total Webhook requests, by result.\n"
        "# TYPE takhin_watch_webhooks_total counter\n");
    for (int i = 0; i < WH_N; i++)
        OUT("takhin_watch_webhooks_total{result=\"%s\"} %llu\n", wh_names[i],
            (unsigned long long)W.webhooks[i]);
    OUT("# HELP takhin_watch_alerts_total Firing and resolved alerts received, by what was done.\n"
        "# TYPE takhin_watch_alerts_total counter\n");
    for (int i = 0; i < AL_N; i++)
        OUT("takhin_watch_alerts_total{result=\"%s\"} %llu\n", al_names[i],
            (unsigned long long)W.alerts[i]);
    OUT("# HELP takhin_watch_captures_total Profiles captured, by target, type and result.\n"
        "# TYPE takhin_watch_captures_total counter\n");
    for (size_t i = 0; i < W.ncounts; i++)
        OUT("takhin_watch_captures_total{target=\"%s\",type=\"%s\",result=\"%s\"} %llu\n",
            W.counts[i].target, cli_kind_name((cli_kind)W.counts[i].kind),
            W.counts[i].ok ? "ok" : "failed", (unsigned long long)W.counts[i].n);
    OUT("# HELP takhin_watch_captures_in_flight Captures running now.\n"
        "# TYPE takhin_watch_captures_in_flight gauge\n"
        "takhin_watch_captures_in_flight %d\n", W.inflight);
    OUT("# HELP takhin_watch_storage_bytes Bytes of the captures in local storage.\n"
        "# TYPE takhin_watch_storage_bytes gauge\n"
        "takhin_watch_storage_bytes %llu\n", (unsigned long long)W.storage_bytes);
    OUT("# HELP takhin_watch_retention_deletions_total Files deleted by retention.\n"
        "# TYPE takhin_watch_retention_deletions_total counter\n"
        "takhin_watch_retention_deletions_total %llu\n", (unsigned long long)W.deletions);
    pthread_mutex_unlock(&W.lock);
#undef OUT
    reply(c, 200, "OK", NULL, "text/plain; version=0.0.4; charset=utf-8", b);
    free(b);
}

static void count_webhook(int r)
{
    pthread_mutex_lock(&W.lock);
    W.webhooks[r]++;
    pthread_mutex_unlock(&W.lock);
}

static void webhook(struct mg_connection *c, const char *peer)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    if (ri->content_length > (long long)CLI_WEBHOOK_MAX_BODY) {
        wlog("webhook from %s refused (400): body over %u bytes (Content-Length %lld)", peer,
             CLI_WEBHOOK_MAX_BODY, ri->content_length);
        count_webhook(WH_BAD_REQUEST);
        text(c, 400, "Bad Request", NULL, "body over %u bytes", CLI_WEBHOOK_MAX_BODY);
        return;
    }
    char *body = malloc(CLI_WEBHOOK_MAX_BODY + 1);
    size_t len = 0;
    int r;
    if (body == NULL) {
        text(c, 500, "Internal Server Error", NULL, "out of memory");
        return;
    }
    while (len <= CLI_WEBHOOK_MAX_BODY &&
           (r = mg_read(c, body + len, CLI_WEBHOOK_MAX_BODY + 1 - len)) > 0)
        len += (size_t)r;
    cli_webhook wh;
    char err[512], e2[600];
    if (len > CLI_WEBHOOK_MAX_BODY) {
        snprintf(err, sizeof err, "body over %u bytes", CLI_WEBHOOK_MAX_BODY);
        r = -1;
    } else
        r = cli_webhook_parse(body, len, &wh, err, sizeof err);
    free(body);
    if (r != 0) {
        wlog("webhook from %s refused (400): %s", peer, esc(err, e2, sizeof e2));
        count_webhook(WH_BAD_REQUEST);
        text(c, 400, "Bad Request", NULL, "%s", err);
        return;
    }
    count_webhook(WH_ACCEPTED);
    char gk[300];
    wlog("webhook from %s: %s, %zu alert%s, groupKey %s", peer, esc(wh.status, e2, sizeof e2),
         wh.nalerts, wh.nalerts == 1 ? "" : "s", esc(wh.group_key, gk, sizeof gk));
    for (size_t i = 0; i < wh.nalerts; i++)
        on_alert(&wh, &wh.alerts[i], peer);
    cli_webhook_free(&wh);
    text(c, 200, "OK", NULL, "ok");
}

static int handler(struct mg_connection *c, void *cb)
{
    (void)cb;
    const struct mg_request_info *ri = mg_get_request_info(c);
    char peer[64], path[300], meth[40];
    if (!prof_front_peer_check(W.secret, mg_get_header(c, PROF_FRONT_PEER_HEADER), peer,
                               sizeof peer)) {
        text(c, 403, "Forbidden", NULL, "requests come through the -listen port");
        return 403;
    }
    const char *uri = ri->local_uri ? ri->local_uri : "";
    bool is_hook = strcmp(uri, "/webhook") == 0, is_metrics = strcmp(uri, "/metrics") == 0;
    if (!is_hook && !is_metrics) {
        count_webhook(WH_NOT_FOUND);
        wlog("%s %s from %s: 404", esc(ri->request_method, meth, sizeof meth), esc(uri, path, sizeof path),
             peer);
        text(c, 404, "Not Found", NULL, "not found: POST /webhook (Alertmanager), GET /metrics");
        return 404;
    }
    const char *want = is_hook ? "POST" : "GET";
    if (strcmp(ri->request_method, want) != 0 &&
        !(is_metrics && strcmp(ri->request_method, "HEAD") == 0)) {
        count_webhook(WH_METHOD);
        char allow[32];
        snprintf(allow, sizeof allow, "Allow: %s\r\n", want);
        text(c, 405, "Method Not Allowed", allow, "%s takes %s", uri, want);
        return 405;
    }
    if (!authorized(c)) {
        count_webhook(WH_UNAUTHORIZED);
        wlog("%s from %s refused (401): %s", uri, peer,
             mg_get_header(c, "Authorization") ? "wrong token" : "no token");
        text(c, 401, "Unauthorized", "WWW-Authenticate: Bearer\r\n",
             "unauthorized: send the -webhook-token as Bearer or as the Basic password");
        return 401;
    }
    if (is_metrics)
        metrics(c);
    else
        webhook(c, peer);
    return 200;
}

/* ---- flags ---- */

static void watch_usage(FILE *out)
{
    fputs(
"usage: takhin-profiler watch -output-dir DIR | -output s3://BUCKET/PREFIX\n"
"                             (-target HOST:PORT ... | -targets FILE) [options]\n"
"\n"
"Alertmanager's webhook receiver (POST /webhook, payload version 4): a firing alert\n"
"whose instance label names a configured target gets that target's profiles captured\n"
"into storage; -every D captures on a schedule too. GET /metrics: its own metrics.\n"
"\n"
"  -listen HOST:PORT     where to listen (default 127.0.0.1:9095; port 0 picks one)\n"
"  -webhook-token T      the token Alertmanager must send (Bearer, or the Basic password);\n"
"  -webhook-token-file F   or its first line from a file; required off loopback\n"
"  -target HOST:PORT|URL a target (repeatable); -targets FILE: one a line, re-read on SIGHUP\n"
"  -token T              the targets' profiler token (default $TAKHIN_PROFILER_TOKEN)\n"
"  -ca, -cert, -key, -insecure   https targets, as for -remote\n"
"  -type LIST            what to capture (default cpu,heap,goroutine); an alert's\n"
"                        annotation takhin_profile_types overrides it\n"
"  -duration D           CPU profile and trace length (default 30s); annotation\n"
"                        takhin_profile_seconds overrides it, up to -max-seconds (120)\n"
"  -lookback D           an alert's CPU (and wall) profile reaches back to D before its\n"
"                        startsAt when the target's flight recorder holds it (default\n"
"                        60s, at most 1h; 0: off); annotation takhin_profile_lookback\n"
"                        overrides it\n"
"  -cooldown D           per target, no new alert capture for D after one (default 5m)\n"
"  -max-inflight N       captures at once per target (default 2); more alerts for it\n"
"                        are skipped, logged\n"
"  -every D              also capture every target every D (reason \"periodic\")\n"
"  -retain AGE           delete captures older than AGE (e.g. 7d is 168h)\n"
"  -max-bytes N          delete the oldest captures while storage is over N bytes\n"
"  -s3-endpoint URL, -s3-region R   with -output s3://...; credentials from AWS_*\n"
"  -shutdown-timeout D   on SIGTERM, time given to captures in flight (default 10s)\n"
"  -connect-timeout D, -timeout D   as for -remote (5s, 30s); a capture also ends\n"
"                        after its profile's seconds + -timeout in all\n"
"  -symbolize[=on|local] resolve what the server left as addresses before storing\n"
"                        (see takhin-profiler -help); -debug-dir DIR as there\n",
        out);
}

static int parse_dur_flag(const char *name, const char *v, double *out)
{
    if (cli_parse_duration(v, out) != 0)
        return cli_usage_error("watch", "-%s %s: expected a duration like 30s, 5m, 24h", name, v);
    return CLI_OK;
}

static int parse_long_flag(const char *name, const char *v, long min, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || x < min)
        return cli_usage_error("watch", "-%s %s: expected a whole number, at least %ld", name, v, min);
    *out = x;
    return CLI_OK;
}

static int read_token_file(const char *path, char *out, size_t len)
{
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return cli_usage_error("watch", "-webhook-token-file %s: %s", path, strerror(errno));
    if (fgets(out, (int)len, in) == NULL)
        out[0] = '\0';
    fclose(in);
    out[strcspn(out, "\r\n")] = '\0';
    if (out[0] == '\0')
        return cli_usage_error("watch", "-webhook-token-file %s: the first line is empty (put the token "
                           "there)", path);
    return CLI_OK;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            return cli_usage_error("watch", "unexpected argument %s", a);
        a += a[1] == '-' ? 2 : 1;
        size_t len = strcspn(a, "=");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, a);
        if (!strcmp(name, "h") || !strcmp(name, "help")) {
            watch_usage(stdout);
            return -1;
        }
        if (!strcmp(name, "insecure")) {
            W.insecure = true;
            continue;
        }
        const char *v = a[len] == '=' ? a + len + 1 : NULL;
        if (!strcmp(name, "symbolize")) {
            W.symbolize = v == NULL || !strcmp(v, "true") ? "on" : v;
            if (strcmp(W.symbolize, "on") != 0 && strcmp(W.symbolize, "local") != 0)
                return cli_usage_error("watch", "-symbolize=%s: expected on or local", v);
            continue;
        }
        if (v == NULL) {
            if (i + 1 >= argc)
                return cli_usage_error("watch", "flag -%s needs a value", name);
            v = argv[++i];
        }
        int rc = CLI_OK;
        if (!strcmp(name, "listen"))
            W.listen = v;
        else if (!strcmp(name, "output-dir") || !strcmp(name, "output"))
            W.out = v;
        else if (!strcmp(name, "s3-endpoint"))
            W.s3_endpoint = v;
        else if (!strcmp(name, "s3-region"))
            W.s3_region = v;
        else if (!strcmp(name, "target")) {
            if (W.ntarget_flags >= MAX_TARGETS)
                return cli_usage_error("watch", "-target: at most %d", MAX_TARGETS);
            W.target_flags[W.ntarget_flags++] = v;
        } else if (!strcmp(name, "targets"))
            W.targets_file = v;
        else if (!strcmp(name, "webhook-token"))
            W.webhook_token_flag = v;
        else if (!strcmp(name, "webhook-token-file"))
            W.webhook_token_file = v;
        else if (!strcmp(name, "token"))
            W.token = v;
        else if (!strcmp(name, "ca"))
            W.ca = v;
        else if (!strcmp(name, "cert"))
            W.cert = v;
        else if (!strcmp(name, "key"))
            W.key = v;
        else if (!strcmp(name, "type"))
            W.types_flag = v;
        else if (!strcmp(name, "debug-dir")) {
            if (v[0] != '/' || strchr(v, ':') != NULL || W.ndebug_dirs == CLI_MAX_DEBUG_DIRS)
                return cli_usage_error("watch", "-debug-dir %s: expected an absolute directory "
                                       "without ':' (at most %d)", v, CLI_MAX_DEBUG_DIRS);
            W.debug_dirs[W.ndebug_dirs++] = v;
        }
        else if (!strcmp(name, "duration"))
            rc = parse_dur_flag(name, v, &W.duration);
        else if (!strcmp(name, "cooldown"))
            rc = parse_dur_flag(name, v, &W.cooldown);
        else if (!strcmp(name, "lookback")) {
            char e[256];
            if (cli_parse_lookback(v, &W.lookback, e, sizeof e) != 0)
                return cli_usage_error("watch", "-lookback %s: %s", v, e);
        }
        else if (!strcmp(name, "every"))
            rc = parse_dur_flag(name, v, &W.every);
        else if (!strcmp(name, "retain"))
            rc = parse_dur_flag(name, v, &W.retain);
        else if (!strcmp(name, "shutdown-timeout"))
            rc = parse_dur_flag(name, v, &W.shutdown_timeout);
        else if (!strcmp(name, "connect-timeout"))
            rc = parse_dur_flag(name, v, &W.connect_timeout);
        else if (!strcmp(name, "timeout"))
            rc = parse_dur_flag(name, v, &W.read_margin);
        else if (!strcmp(name, "max-seconds"))
            rc = parse_long_flag(name, v, 1, &W.max_seconds);
        else if (!strcmp(name, "max-inflight"))
            rc = parse_long_flag(name, v, 1, &W.max_inflight);
        else if (!strcmp(name, "max-bytes"))
            rc = parse_long_flag(name, v, 0, &W.max_bytes);
        else
            return cli_usage_error("watch", "unknown flag %s", argv[i]);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

static void defaults(void)
{
    memset(&W, 0, sizeof W);
    pthread_mutex_init(&W.lock, NULL);
    pthread_cond_init(&W.idle, NULL);
    W.duration = 30;
    W.lookback = 60;
    W.cooldown = 300;
    W.shutdown_timeout = 10;
    W.connect_timeout = 5;
    W.read_margin = 30;
    W.max_seconds = 120;
    W.max_inflight = 2;
    W.types = CLI_KIND_BIT(CLI_CPU) | CLI_KIND_BIT(CLI_HEAP) | CLI_KIND_BIT(CLI_GOROUTINE);
}

static bool loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0;
}

/* Checks the configuration after the flags. */
static int check_config(bool receiver)
{
    char err[1200];
    if (W.out == NULL)
        return cli_usage_error("watch", "no storage: give -output-dir DIR (or -output s3://BUCKET/PREFIX)");
    if (W.types_flag && cli_parse_kinds(W.types_flag, &W.types, err, sizeof err) != 0)
        return cli_usage_error("watch", "-type %s: %s", W.types_flag, err);
    if (W.duration <= 0 || W.duration > (double)W.max_seconds)
        return cli_usage_error("watch", "-duration: expected more than 0 and at most -max-seconds (%lds)",
                           W.max_seconds);
    if (W.every < 0 || (W.every > 0 && W.every < 1))
        return cli_usage_error("watch", "-every: expected at least 1s");
    if (!receiver && W.every <= 0)
        return cli_usage_error("watch", "-every: give the interval of periodic capture, e.g. -every 60s");
    if (W.connect_timeout <= 0 || W.read_margin <= 0)
        return cli_usage_error("watch", "-connect-timeout and -timeout must be more than 0");
    if (W.webhook_token_flag && W.webhook_token_file)
        return cli_usage_error("watch", "-webhook-token and -webhook-token-file: give one of them");
    if (W.webhook_token_flag)
        snprintf(W.webhook_token, sizeof W.webhook_token, "%s", W.webhook_token_flag);
    else if (W.webhook_token_file &&
             read_token_file(W.webhook_token_file, W.webhook_token, sizeof W.webhook_token))
        return CLI_EXIT_USAGE;
    if (W.token == NULL) {
        const char *t = getenv("TAKHIN_PROFILER_TOKEN");
        W.token = t && *t ? t : NULL;
        W.token_from_env = W.token != NULL;
    }
    if (W.ntarget_flags == 0 && W.targets_file == NULL)
        return cli_usage_error("watch", "no target: give -target HOST:PORT (repeatable) or -targets FILE");
    if (load_targets(W.targets, &W.ntargets, err, sizeof err) != 0)
        return cli_usage_error("watch", "%s", err);
    for (size_t i = 0; i < W.ntargets; i++) {
        cli_http_conf c = {W.token, W.token_from_env, W.ca, W.cert, W.key, W.insecure, false,
                           W.connect_timeout};
        cli_http_req rq;
        if (cli_http_plan(&W.targets[i].r, &c, "/", &rq, err, sizeof err) != CLI_OK ||
            cli_http_check_files(&c, err, sizeof err) != CLI_OK)
            return cli_usage_error("watch", "target %s: %s", W.targets[i].spec, err);
    }
    return CLI_OK;
}

/* ---- the run ---- */

static void retain_now(void)
{
    if (cli_store_is_s3(W.store))
        return;
    uint64_t total = 0;
    int n = cli_store_retain(W.store, W.retain, (uint64_t)W.max_bytes, &total, wlog);
    pthread_mutex_lock(&W.lock);
    W.storage_bytes = total;
    W.deletions += (uint64_t)n;
    pthread_mutex_unlock(&W.lock);
}

static void periodic_round(void)
{
    pthread_mutex_lock(&W.lock);
    for (size_t i = 0; i < W.ntargets; i++)
        if (launch(&W.targets[i], W.types, W.duration, "periodic", NULL, NULL, 0) != 0)
            wlog("periodic capture of %s skipped: %ld captures of it in flight (-max-inflight)",
                 W.targets[i].hostport, W.max_inflight);
    pthread_mutex_unlock(&W.lock);
}

/* The front's log lines (slow clients cut off), into watch's log. */
static void front_log(tk_host *host, tk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void front_log(tk_host *host, tk_log_level level, const char *fmt, ...)
{
    (void)host;
    va_list ap;
    va_start(ap, fmt);
    if (level >= TK_LOG_INFO)
        vwlog(fmt, fmt, ap);
    va_end(ap);
}
static const tk_host_api front_api = {.log = front_log};
static const prof_host front_host = {&front_api, NULL};

/* civetweb on a Unix socket of W.backend (private_listener.h: no other
 * local user can reach it and hold its workers), reached only through the
 * front: it sees only complete requests. False with the error printed. */
static bool start_backend(void)
{
    char header[16], err[512];
    snprintf(header, sizeof header, "%d", FRONT_MAX_HEADER_BYTES + 256); /* + the peer header */
    const char *opts[] = {"listening_ports", "127.0.0.1:0", "num_threads", "4",
                          "max_request_size", header, "request_timeout_ms", "10000",
                          "enable_keep_alive", "no", NULL};
    mg_init_library(0);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_server_port sp[4];
    if ((W.mg = mg_start(&cb, NULL, opts)) == NULL)
        mg_exit_library(); /* else stop_listener pairs it */
    if (W.mg == NULL || mg_get_server_ports(W.mg, 4, sp) < 1) {
        cli_error("watch: cannot start the internal HTTP server on 127.0.0.1");
        return false;
    }
    mg_set_request_handler(W.mg, "/", handler, NULL);
    if (prof_private_listen(&W.backend, sp[0].port, "watch's", err, sizeof err) != 0) {
        cli_error("watch: %s", err);
        return false;
    }
    return true;
}

static void stop_listener(void)
{
    prof_front_stop(W.front);
    W.front = NULL;
    if (W.mg) {
        mg_stop(W.mg);
        mg_exit_library(); /* pairs with start_backend's mg_init_library */
    }
    W.mg = NULL;
    prof_private_remove(&W.backend); /* after mg_stop: civetweb closed the socket */
    prof_metrics_free(W.front_metrics);
    W.front_metrics = NULL;
}

static bool start_listener(void)
{
    char host[256];
    const char *l = W.listen ? W.listen : "127.0.0.1:9095";
    const char *colon = strrchr(l, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || colon == l || colon[1] == '\0' || *end != '\0' || port < 0 ||
        port > 65535 || (size_t)(colon - l) >= sizeof host) {
        cli_usage_error("watch", "-listen %s: expected HOST:PORT, e.g. 127.0.0.1:9095", l);
        return false;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    struct in_addr ia;
    if (inet_pton(AF_INET, host, &ia) != 1) {
        cli_usage_error("watch", "-listen %s: %s is not an IPv4 address (give one of this "
                        "machine's, or 127.0.0.1)", l, host);
        return false;
    }
    if (!loopback(host) && W.webhook_token[0] == '\0') {
        cli_usage_error("watch", "-listen %s is off loopback and no -webhook-token is set: anyone could "
                    "trigger captures; give -webhook-token (or -webhook-token-file) and put it "
                    "in Alertmanager's http_config.authorization", l);
        return false;
    }
    char err[512];
    if (prof_front_new_secret(W.secret) != 0 ||
        (W.front_metrics = prof_metrics_new(NULL, 0)) == NULL) {
        cli_error("watch: cannot set up the receiver (no randomness or memory)");
        return false;
    }
    if (!start_backend()) {
        stop_listener();
        return false;
    }
    prof_front_config fc = {
        .host = host, .port = (int)port, .backend_path = W.backend.path, .secret = W.secret,
        .header_timeout_ms = FRONT_HEADER_TIMEOUT_MS, .body_timeout_ms = FRONT_BODY_TIMEOUT_MS,
        .max_header_bytes = FRONT_MAX_HEADER_BYTES, .max_conns_per_peer = FRONT_MAX_CONNS_PER_PEER,
        .max_conns = FRONT_MAX_CONNS, .metrics = W.front_metrics, .ph = &front_host};
    if ((W.front = prof_front_start(&fc, err, sizeof err)) == NULL) {
        char *hint = strstr(err, " (is the port in use?"); /* names the plugin's keys */
        if (hint)
            *hint = '\0';
        cli_error("watch: -listen %s: %s; pick another -listen (port 0 picks a free one)", l,
                  err);
        stop_listener();
        return false;
    }
    wlog("listening on http://%s:%d/webhook (metrics: /metrics), %s, %zu target%s", host,
         prof_front_port(W.front),
         W.webhook_token[0] ? "webhook token required" : "no webhook token (loopback only)",
         W.ntargets, W.ntargets == 1 ? "" : "s");
    return true;
}

static int run(bool receiver)
{
    char err[1200];
    W.store = cli_store_open(W.out, W.s3_endpoint, W.s3_region, err, sizeof err);
    if (W.store == NULL) {
        cli_error("%s %s: %s", strncmp(W.out, "s3://", 5) ? "-output-dir" : "-output", W.out,
                  err);
        return CLI_EXIT_USAGE;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread from here on inherits it */
    signal(SIGPIPE, SIG_IGN);
    retain_now();
    if (receiver && !start_listener()) {
        cli_store_close(W.store);
        return CLI_EXIT_USAGE;
    }
    if (W.every > 0)
        wlog("capturing %zu target%s every %gs", W.ntargets, W.ntargets == 1 ? "" : "s",
             W.every);
    double next_periodic = W.every > 0 ? pf_mono_s() : INFINITY;
    double next_retain = pf_mono_s() + RETAIN_EVERY;
    for (;;) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            wlog("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP)
            reload_targets();
        log_flush(false);
        double now = pf_mono_s();
        if (now >= next_periodic) {
            periodic_round();
            while (next_periodic <= now)
                next_periodic += W.every;
        }
        if (now >= next_retain) {
            retain_now();
            next_retain = now + RETAIN_EVERY;
        }
    }
    stop_listener();
    /* captures in flight get -shutdown-timeout, then are cancelled */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)W.shutdown_timeout;
    dl.tv_nsec += (long)((W.shutdown_timeout - floor(W.shutdown_timeout)) * 1e9);
    if (dl.tv_nsec >= 1000000000L)
        dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&W.lock);
    if (W.inflight)
        wlog("waiting up to %gs for %d capture%s in flight (-shutdown-timeout)",
             W.shutdown_timeout, W.inflight, W.inflight == 1 ? "" : "s");
    while (W.inflight > 0 && pthread_cond_timedwait(&W.idle, &W.lock, &dl) != ETIMEDOUT)
        ;
    if (W.inflight > 0) {
        wlog("cancelling %d capture%s in flight (marked failed in the index)", W.inflight,
             W.inflight == 1 ? "" : "s");
        W.cancel = 1;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5;
        while (W.inflight > 0 && pthread_cond_timedwait(&W.idle, &W.lock, &dl) != ETIMEDOUT)
            ;
    }
    int left = W.inflight;
    pthread_mutex_unlock(&W.lock);
    log_flush(true);
    wlog("stopped%s", left ? " (a capture did not end in time; its temp file is left and "
                             "removed at the next start)" : "");
    if (left == 0) {
        cli_store_close(W.store);
        free(W.counts);
        free(W.last);
    }
    return CLI_OK;
}

int cli_watch_main(int argc, char **argv)
{
    defaults();
    int rc = parse_args(argc, argv);
    if (rc < 0)
        return CLI_OK;
    cli_symbolize_setup(W.symbolize, W.debug_dirs, W.ndebug_dirs, true);
    if (rc == CLI_OK)
        rc = check_config(true);
    return rc == CLI_OK ? run(true) : rc;
}

int cli_periodic_main(const cli_opts *o)
{
    defaults();
    W.out = o->output ? o->output : o->output_dir;
    W.target_flags[W.ntarget_flags++] = o->remote;
    W.token = o->token;
    W.token_from_env = o->token_from_env;
    W.ca = o->ca;
    W.cert = o->cert;
    W.key = o->key;
    W.insecure = o->insecure;
    W.duration = o->duration;
    W.every = o->every;
    W.retain = o->retain;
    W.max_bytes = o->max_bytes;
    W.max_seconds = 3600;
    W.s3_endpoint = o->s3_endpoint;
    W.s3_region = o->s3_region;
    W.connect_timeout = o->connect_timeout;
    W.read_margin = o->read_margin;
    W.max_inflight = 1;
    W.symbolize = o->symbolize != NULL && strcmp(o->symbolize, "none") != 0 ? o->symbolize : NULL;
    W.types = o->kind == CLI_ALL ? (CLI_KIND_BIT(CLI_NKINDS) - 1) & ~CLI_KIND_BIT(CLI_TRACE) &
                                       ~CLI_KIND_BIT(CLI_WALL)
                                 : CLI_KIND_BIT(o->kind);
    int rc = check_config(false);
    return rc == CLI_OK ? run(false) : rc;
}
