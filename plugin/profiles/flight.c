/* The flight recorder: see flight.h. */
#include "profiles/flight.h"

#include "core/escape.h"
#include "core/own_threads.h"
#include "http/conn.h"
#include "http/query.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 250 /* the recorder's look at the bucket under way */
#define NS 1000000000LL

/* ---- the ring ---- */

static void bucket_free(prof_flight_bucket *b)
{
    pf_profile_free(b->profile);
    b->profile = NULL;
}

int prof_flight_ring_push(prof_flight_ring *r, const prof_flight_bucket *b)
{
    if (pf_grow(&r->b, &r->cap, r->len + 1, sizeof *r->b) != 0) {
        pf_profile_free(b->profile);
        return -1;
    }
    r->b[r->len++] = *b;
    r->bytes += b->bytes;
    return 0;
}

static void evict_oldest(prof_flight_ring *r)
{
    r->bytes -= r->b[0].bytes;
    bucket_free(&r->b[0]);
    memmove(r->b, r->b + 1, (r->len - 1) * sizeof *r->b);
    r->len--;
}

void prof_flight_ring_fit(prof_flight_ring *r, size_t max_bytes, int64_t oldest_ns)
{
    while (r->len > 0 && r->b[0].until_ns <= oldest_ns)
        evict_oldest(r);
    while (r->len > 0 && r->bytes > max_bytes) {
        evict_oldest(r);
        r->evicted++;
    }
}

void prof_flight_ring_clear(prof_flight_ring *r)
{
    for (size_t i = 0; i < r->len; i++)
        bucket_free(&r->b[i]);
    free(r->b);
    *r = (prof_flight_ring){0};
}

/* Counts bucket b (merged) in span. */
static void span_add(prof_flight_span *span, const prof_flight_bucket *b)
{
    if (span->buckets++ == 0 || b->from_ns < span->from_ns)
        span->from_ns = b->from_ns;
    if (b->until_ns > span->until_ns)
        span->until_ns = b->until_ns;
    span->signals += b->signals;
    span->samples += b->samples;
    span->cpu_seconds += b->cpu_seconds;
    span->lost += b->lost;
    span->dropped += b->dropped;
    span->dropped_buckets += b->lost + b->dropped > 0;
}

int prof_flight_merge_bucket(const prof_flight_bucket *b, pf_profile *dst,
                             prof_flight_span *span, char *err, size_t errlen)
{
    pf_err perr = {0};
    if (pf_profile_merge(dst, b->profile, &perr) != PF_OK) {
        snprintf(err, errlen, "merging the flight recorder's buckets: %s", perr.msg);
        return -1;
    }
    span_add(span, b);
    return 0;
}

int prof_flight_ring_merge(const prof_flight_ring *r, int64_t from_ns, pf_profile *dst,
                           prof_flight_span *span, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->len; i++)
        if (r->b[i].until_ns > from_ns &&
            prof_flight_merge_bucket(&r->b[i], dst, span, err, errlen) != 0)
            return -1;
    return 0;
}

void prof_flight_describe(const prof_flight_span *span, char *buf, size_t len)
{
    snprintf(buf, len, "flight recorder: %zu bucket%s merged, %.1f s from %.3f to %.3f "
             "(Unix time); %s%llu samples dropped (profiler.flight_recorder.max_bytes) and "
             "%llu lost (the sampler's ring was full) in %zu of them", span->buckets,
             span->buckets == 1 ? "" : "s", (double)(span->until_ns - span->from_ns) / 1e9,
             (double)span->from_ns / 1e9, (double)span->until_ns / 1e9,
             span->dropped + span->lost ? "SOME SAMPLES MISSING: " : "no sample missing: ",
             (unsigned long long)span->dropped, (unsigned long long)span->lost,
             span->dropped_buckets);
}

/* ---- the recorder ---- */

static const pf_value_type cpu_types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
static const pf_value_type wall_types[] = {{"samples", "count"}, {"wall", "nanoseconds"}};

/* One kind's state: its ring and its window. */
typedef struct flight_kind {
    prof_flight_ring ring;
    prof_cpu_window *cpu;     /* PROF_FLIGHT_CPU's window */
    prof_wall *wall_of;       /* the wall sampler of that window */
    prof_wall_reader *wall;   /* PROF_FLIGHT_WALL's window */
    int64_t bucket_from_ns;   /* CLOCK_REALTIME: the start of the bucket under way */
    _Atomic uint64_t dropped; /* samples dropped for max_bytes, since init */
    _Atomic uint64_t lost;    /* lost in the sampler, in buckets stored, since init */
} flight_kind;

struct prof_flight {
    const prof_host *ph;
    prof_cpu *cpu;
    prof_wall *wall;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool running, quit;
    pthread_t thread;
    long seconds, bucket_seconds;
    size_t max_bytes;
    bool record_wall;
    int cpu_hz, wall_hz;
    prof_sampler_mode mode; /* the CPU sampler its window was opened with */
    int64_t started_ns; /* CLOCK_REALTIME at start */
    flight_kind kinds[2];
    char error[512];    /* why the recorder is not running, "" */
};

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

prof_flight *prof_flight_new(const prof_host *ph, prof_cpu *cpu, prof_wall *wall)
{
    prof_flight *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->ph = ph;
    f->cpu = cpu;
    f->wall = wall;
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->wake, &ca);
    pthread_condattr_destroy(&ca);
    return f;
}

/* The bytes the kind holds: its buckets and the bucket under way. */
static size_t kind_bytes(flight_kind *k)
{
    size_t under_way = k->cpu ? prof_cpu_window_bytes(k->cpu)
                     : k->wall ? prof_wall_reader_bytes(k->wall_of, k->wall) : 0;
    return k->ring.bytes + under_way;
}

/* Thread-ticks a wall window counted. */
static uint64_t wall_samples(const prof_wall_counts *c)
{
    return c->signals + c->idle + c->same_site + c->unsignalled;
}

/* Each kind gets max_bytes over the kinds recorded. */
static size_t kind_budget(const prof_flight *f)
{
    return f->record_wall ? f->max_bytes / 2 : f->max_bytes;
}

/* Evicts what is too old, then the oldest buckets until the bucket under
 * way has room to grow three times over, and caps it at what is left. */
static void fit_locked(prof_flight *f, flight_kind *k)
{
    size_t budget = kind_budget(f);
    size_t under_way = kind_bytes(k) - k->ring.bytes;
    size_t room = 3 * under_way + 2 * PROF_SAMPLER_ADD_SLACK;
    prof_flight_ring_fit(&k->ring, budget > room ? budget - room : 0,
                         real_ns() - (int64_t)f->seconds * NS);
    size_t cap = budget > k->ring.bytes ? budget - k->ring.bytes : 1;
    if (k->cpu)
        prof_cpu_window_cap(k->cpu, cap);
    if (k->wall)
        prof_wall_reader_cap(k->wall_of, k->wall, cap);
}

/* A wall window's result as a bucket (its profile moves). */
static void wall_bucket(const prof_wall_result *r, prof_flight_bucket *b)
{
    b->profile = r->profile;
    b->from_ns = r->started_ns;
    b->until_ns = r->started_ns + (int64_t)(r->seconds * 1e9);
    b->signals = b->samples = wall_samples(&r->counts);
    b->dropped = r->dropped;
}

/* Ends the bucket under way into the ring and starts the next. */
static void rotate_locked(prof_flight *f, flight_kind *k)
{
    char err[512];
    prof_flight_bucket b = {0};
    if (k->cpu != NULL) {
        b.profile = prof_cpu_window_next(k->cpu, &b.from_ns, &b.until_ns, err, sizeof err);
        prof_cpu_window_counts c = prof_cpu_window_last(k->cpu);
        b.signals = c.signals;
        b.samples = c.samples;
        b.cpu_seconds = c.cpu_seconds;
        b.lost = c.lost;
        b.dropped = c.dropped;
    } else if (k->wall != NULL) {
        prof_wall_result r;
        snprintf(err, sizeof err, "out of memory for a wall window");
        if (prof_wall_next(k->wall_of, k->wall, &r) == 0)
            wall_bucket(&r, &b);
    }
    if (b.profile == NULL) {
        prof_log(f->ph, TK_LOG_WARN, "flight recorder: a bucket was lost: %s", err);
        return;
    }
    k->bucket_from_ns = b.until_ns;
    b.bytes = pf_profile_bytes(b.profile);
    atomic_fetch_add(&k->dropped, b.dropped);
    atomic_fetch_add(&k->lost, b.lost);
    if (prof_flight_ring_push(&k->ring, &b) != 0)
        prof_log(f->ph, TK_LOG_WARN, "flight recorder: out of memory: a bucket was lost");
    /* The oldest go first while the stored buckets exceed the budget. */
    prof_flight_ring_fit(&k->ring, kind_budget(f), real_ns() - (int64_t)f->seconds * NS);
}

static void *recorder_main(void *arg)
{
    prof_flight *f = arg;
    pthread_mutex_lock(&f->lock);
    int64_t bucket_end = pf_mono_ns() + (int64_t)f->bucket_seconds * NS;
    while (!f->quit) {
        bool rotate = pf_mono_ns() >= bucket_end;
        for (int i = 0; i < 2; i++) {
            if (rotate)
                rotate_locked(f, &f->kinds[i]);
            fit_locked(f, &f->kinds[i]);
        }
        if (rotate)
            bucket_end = pf_mono_ns() + (int64_t)f->bucket_seconds * NS;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        until.tv_sec += until.tv_nsec / NS;
        until.tv_nsec %= NS;
        pthread_cond_timedwait(&f->wake, &f->lock, &until);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* Opens the kind's window. 0, or -1 with f->error. */
static int kind_open(prof_flight *f, prof_flight_kind which)
{
    flight_kind *k = &f->kinds[which];
    char err[400];
    if (which == PROF_FLIGHT_CPU)
        k->cpu = prof_cpu_window_open(f->cpu, f->cpu_hz, err, sizeof err);
    else if (prof_wall_claim(f->wall, 0, f->wall_hz, 0, false, &k->wall, err, sizeof err))
        k->wall = NULL;
    k->wall_of = f->wall;
    if (k->cpu == NULL && k->wall == NULL) {
        snprintf(f->error, sizeof f->error, "%s", err);
        return -1;
    }
    k->bucket_from_ns = real_ns();
    fit_locked(f, k);
    return 0;
}

static void kind_close(prof_flight *f, flight_kind *k)
{
    prof_cpu_window_close(f->cpu, k->cpu);
    prof_wall_result r;
    if (k->wall != NULL && prof_wall_release(f->wall, k->wall, false, &r) == 0)
        pf_profile_free(r.profile);
    k->cpu = NULL;
    k->wall = NULL;
    prof_flight_ring_clear(&k->ring);
}

static void stop_locked(prof_flight *f)
{
    if (f->running) {
        f->quit = true;
        pthread_cond_signal(&f->wake);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        pthread_mutex_lock(&f->lock);
        f->running = false;
        f->quit = false;
    }
    for (int i = 0; i < 2; i++)
        kind_close(f, &f->kinds[i]);
}

static int start_locked(prof_flight *f)
{
    f->error[0] = '\0';
    if (kind_open(f, PROF_FLIGHT_CPU) != 0 ||
        (f->record_wall && kind_open(f, PROF_FLIGHT_WALL) != 0)) {
        stop_locked(f);
        return -1;
    }
    int rc = prof_thread_spawn(&f->thread, PROF_THREAD_FLIGHT, 0, recorder_main, f);
    if (rc != 0) {
        snprintf(f->error, sizeof f->error, "cannot start its thread: %s", strerror(rc));
        stop_locked(f);
        return -1;
    }
    f->running = true;
    f->started_ns = real_ns();
    return 0;
}

void prof_flight_set(prof_flight *f, const prof_settings *s, bool on)
{
    if (f == NULL)
        return;
    bool want = on && s->flight_seconds > 0;
    pthread_mutex_lock(&f->lock);
    prof_sampler_mode mode = prof_cpu_sampler(f->cpu).mode;
    bool restart = f->running && (!want || f->cpu_hz != s->cpu_hz || f->mode != mode ||
                                  f->record_wall != s->flight_wall ||
                                  (f->record_wall && f->wall_hz != s->wall_hz));
    if (restart || !want)
        stop_locked(f);
    f->seconds = s->flight_seconds;
    f->max_bytes = (size_t)s->flight_max_bytes;
    f->bucket_seconds = s->flight_bucket_seconds;
    f->record_wall = s->flight_wall;
    f->cpu_hz = s->cpu_hz;
    f->wall_hz = s->wall_hz;
    f->mode = mode;
    if (!want)
        f->error[0] = '\0';
    if (want && !f->running && start_locked(f) != 0)
        prof_log(f->ph, TK_LOG_ERROR, "flight recorder (profiler.flight_recorder.seconds = "
                 "%ld) cannot start: %s", f->seconds, f->error);
    for (int i = 0; want && f->running && i < 2; i++)
        fit_locked(f, &f->kinds[i]); /* new bounds at once */
    pthread_mutex_unlock(&f->lock);
}

void prof_flight_free(prof_flight *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    stop_locked(f);
    pthread_mutex_unlock(&f->lock);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* ---- reading ---- */

/* Seconds the kind holds now: from its oldest bucket (or the bucket under
 * way) to now. */
static bool recording(const prof_flight *f, const flight_kind *k)
{
    return f->running && (k->cpu != NULL || k->wall != NULL);
}

static long held_locked(prof_flight *f, flight_kind *k)
{
    if (!recording(f, k))
        return 0;
    int64_t from = k->ring.len > 0 ? k->ring.b[0].from_ns : k->bucket_from_ns;
    return (long)((real_ns() - from) / NS);
}

static int refuse(prof_flight *f, prof_flight_kind kind, long past, long held, char *err,
                  size_t errlen)
{
    if (f->running && !recording(f, &f->kinds[kind]))
        snprintf(err, errlen, "past=%ld: the flight recorder does not record wall profiles "
                 "(set profiler.flight_recorder.wall: true)", past);
    else if (!f->running && f->error[0])
        snprintf(err, errlen, "past=%ld: the flight recorder is not running: it could not "
                 "start (%s); see profiler status", past, f->error);
    else if (!f->running)
        snprintf(err, errlen, "past=%ld: the flight recorder is off (set "
                 "profiler.flight_recorder.seconds > 0%s, with the profiler enabled)", past,
                 kind == PROF_FLIGHT_WALL ? " and profiler.flight_recorder.wall: true" : "");
    else
        snprintf(err, errlen, "past=%ld asks for more than the flight recorder holds: %ld s "
                 "(profiler.flight_recorder.seconds=%ld, running for %ld s%s); ask for "
                 "past<=%ld", past, held, f->seconds, (long)((real_ns() - f->started_ns) / NS),
                 f->kinds[kind].ring.evicted ? "; older buckets were evicted to stay under "
                 "profiler.flight_recorder.max_bytes" : "", held);
    return 400;
}

int prof_flight_check(prof_flight *f, prof_flight_kind kind, long past, long *held, char *err,
                      size_t errlen)
{
    pthread_mutex_lock(&f->lock);
    *held = held_locked(f, &f->kinds[kind]);
    int status = !recording(f, &f->kinds[kind]) || past > *held
                     ? refuse(f, kind, past, *held, err, errlen) : 0;
    pthread_mutex_unlock(&f->lock);
    return status;
}

int prof_flight_read(prof_flight *f, prof_flight_kind kind, int64_t from_ns, pf_profile **out,
                     prof_flight_span *span, long *held, char *err, size_t errlen)
{
    *out = NULL;
    *span = (prof_flight_span){0};
    pthread_mutex_lock(&f->lock);
    flight_kind *k = &f->kinds[kind];
    *held = held_locked(f, k);
    if (!recording(f, k)) {
        int status = refuse(f, kind, 0, 0, err, errlen);
        pthread_mutex_unlock(&f->lock);
        return status;
    }
    pf_err perr = {0};
    pf_profile *p = pf_profile_new(kind == PROF_FLIGHT_CPU ? cpu_types : wall_types, 2, &perr);
    int rc = p == NULL ? -1 : prof_flight_ring_merge(&k->ring, from_ns, p, span, err, errlen);
    prof_flight_bucket now = {0};
    if (rc == 0 && k->cpu != NULL) {
        prof_cpu_window_counts c = {0};
        rc = prof_cpu_window_peek(k->cpu, p, &c, &now.from_ns, &now.until_ns, err, errlen);
        now.signals = c.signals;
        now.samples = c.samples;
        now.cpu_seconds = c.cpu_seconds;
        now.lost = c.lost;
        now.dropped = c.dropped;
    } else if (rc == 0 && k->wall != NULL) {
        prof_wall_result r;
        rc = prof_wall_peek(f->wall, k->wall, p, &r);
        if (rc != 0)
            snprintf(err, errlen, "out of memory while copying the wall samples under way");
        wall_bucket(&r, &now);
    }
    pthread_mutex_unlock(&f->lock);
    if (rc == 0) /* its counts and times; its samples are in p already */
        span_add(span, &now);
    if (p == NULL)
        snprintf(err, errlen, "out of memory");
    if (rc != 0 || p == NULL) {
        pf_profile_free(p);
        return 500;
    }
    *out = p;
    return 0;
}

bool prof_flight_serve(prof_request *req, prof_flight *f, prof_flight_kind kind,
                       prof_flight_answer answer)
{
    const char *q = req->info->query_string;
    long past, seconds, held = 0;
    int64_t asked = real_ns();
    char err[768], hdr[64];
    int found = prof_query_past(q, 1000000, &past, err, sizeof err);
    if (found == 0)
        return false;
    int status = found < 0 ? 400
               : prof_query_seconds(q, 0, req->settings->max_duration, &seconds, err,
                                    sizeof err) != 0 ? 400
               : prof_flight_check(f, kind, past, &held, err, sizeof err);
    snprintf(hdr, sizeof hdr, "X-Takhin-Past-Available: %ld\r\n", held);
    if (status == 0 && seconds > 0) {
        prof_wait_end how = prof_conn_wait(req, (double)seconds);
        if (how == PROF_WAIT_CLIENT_GONE)
            return true;
        if (how == PROF_WAIT_STOPPING) {
            status = 503;
            snprintf(err, sizeof err, "profile aborted: the profiler was disabled while it "
                     "ran (profiler disable or config reload)");
        }
    }
    pf_profile *p = NULL;
    prof_flight_span span;
    if (status == 0)
        status = prof_flight_read(f, kind, asked - past * NS, &p, &span, &held, err,
                                  sizeof err);
    snprintf(hdr, sizeof hdr, "X-Takhin-Past-Available: %ld\r\n", held);
    if (status == 0)
        answer(req, p, &span, hdr);
    else
        prof_http_error_headers(req->conn, status, hdr, "%s", err);
    return true;
}

/* ---- status and metrics ---- */

typedef struct kind_figures {
    long held;
    size_t bytes, buckets;
    uint64_t dropped, lost, evicted;
} kind_figures;

static void figures(prof_flight *f, prof_flight_kind which, kind_figures *out)
{
    flight_kind *k = &f->kinds[which];
    *out = (kind_figures){held_locked(f, k), kind_bytes(k), k->ring.len,
                          atomic_load(&k->dropped), atomic_load(&k->lost), k->ring.evicted};
}

void prof_flight_status_json(prof_flight *f, pf_strbuf *out)
{
    pthread_mutex_lock(&f->lock);
    kind_figures c, w;
    figures(f, PROF_FLIGHT_CPU, &c);
    figures(f, PROF_FLIGHT_WALL, &w);
    pf_strbuf_printf(out, ",\"flight_recorder\":{\"running\":%s,\"seconds\":%ld,"
                     "\"max_bytes\":%zu,\"bucket_seconds\":%ld,\"wall\":%s,"
                     "\"span_seconds\":%ld,\"bytes\":%zu,\"buckets\":%zu,"
                     "\"dropped_samples\":%llu,\"lost_samples\":%llu,\"evicted_buckets\":%llu,"
                     "\"wall_span_seconds\":%ld,\"wall_bytes\":%zu,\"wall_buckets\":%zu,"
                     "\"wall_dropped_samples\":%llu,\"error\":",
                     f->running ? "true" : "false", f->seconds, f->max_bytes,
                     f->bucket_seconds, f->record_wall ? "true" : "false", c.held, c.bytes,
                     c.buckets, (unsigned long long)c.dropped, (unsigned long long)c.lost,
                     (unsigned long long)c.evicted, w.held, w.bytes, w.buckets,
                     (unsigned long long)w.dropped);
    if (f->error[0] == '\0')
        pf_strbuf_puts(out, "null");
    else
        prof_json_string(out, f->error);
    pf_strbuf_puts(out, "}");
    pthread_mutex_unlock(&f->lock);
}

void prof_flight_render_metrics(prof_flight *f, pf_strbuf *out)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    kind_figures k[2];
    figures(f, PROF_FLIGHT_CPU, &k[0]);
    figures(f, PROF_FLIGHT_WALL, &k[1]);
    bool running = f->running;
    pthread_mutex_unlock(&f->lock);
    static const char *const names[] = {"cpu", "wall"};
    pf_strbuf_printf(out,
        "# HELP takhin_profiler_flight_recorder_running 1 while the flight recorder records "
        "(profiler.flight_recorder.seconds).\n"
        "# TYPE takhin_profiler_flight_recorder_running gauge\n"
        "takhin_profiler_flight_recorder_running %d\n", running);
    const char *help[][3] = {
        {"span_seconds", "gauge", "Seconds of the past the flight recorder holds now."},
        {"bytes", "gauge", "Bytes the flight recorder's buckets hold (the bound: "
                           "profiler.flight_recorder.max_bytes)."},
        {"buckets", "gauge", "Buckets the flight recorder holds."},
        {"dropped_samples_total", "counter", "Samples the flight recorder left out to stay "
                                             "under profiler.flight_recorder.max_bytes."},
        {"evicted_buckets_total", "counter", "Buckets evicted before their time to stay "
                                             "under profiler.flight_recorder.max_bytes."},
    };
    for (size_t m = 0; m < sizeof help / sizeof *help; m++) {
        pf_strbuf_printf(out, "# HELP takhin_profiler_flight_recorder_%s %s\n"
                         "# TYPE takhin_profiler_flight_recorder_%s %s\n", help[m][0],
                         help[m][2], help[m][0], help[m][1]);
        for (int i = 0; i < 2; i++) {
            unsigned long long v = m == 0 ? (unsigned long long)k[i].held
                                 : m == 1 ? k[i].bytes : m == 2 ? k[i].buckets
                                 : m == 3 ? k[i].dropped : k[i].evicted;
            pf_strbuf_printf(out, "takhin_profiler_flight_recorder_%s{profile=\"%s\"} %llu\n",
                             help[m][0], names[i], v);
        }
    }
}
