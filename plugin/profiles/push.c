/* Pushing profiles to Pyroscope: see push.h. */
#include "profiles/push.h"

#include "core/context.h"
#include "core/escape.h"
#include "core/own_threads.h"
#include "pf_gzip.h"
#include "pf_util.h"
#include "profiles/contention.h"
#include "profiles/heap.h"
#include "profiles/goroutine.h"
#include "profiles/wall.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUSH_STOP_MS 90          /* stop waits this long for the threads */
#define PUSH_BACKOFF_MIN_MS 500
#define PUSH_BACKOFF_MAX_MS 30000
#define PUSH_REPLY_MAX 4096      /* bytes of a reply kept for the log */
#define PUSH_REPLY_ABORT (64 << 10) /* a longer reply is cut off */
#define PUSH_LOG_EVERY_S 60
#define PUSH_MAX_LATE 16

/* ================= state ================= */

typedef struct push_item {
    struct push_item *next;
    int type;
    int64_t from_ns, until_ns;
    uint8_t *data; /* gzipped profile.proto */
    size_t len;
    int tries;
} push_item;

typedef struct push_run {
    prof_push *pp;
    prof_push_settings s;
    pthread_mutex_t lock;
    pthread_cond_t cond;     /* CLOCK_MONOTONIC */
    atomic_bool stop;
    push_item *head, *tail;  /* the queue, oldest first */
    size_t qbytes, qlen;
    CURLM *multi;
    pthread_t collector, sender;
    bool collector_joined, sender_joined;
} push_run;

struct prof_push {
    prof_push_sources src;
    _Atomic int cpu_hz;      /* the CPU windows' rate (profiler.cpu_hz) */
    _Atomic int wall_hz;     /* the wall windows' rate (profiler.wall_hz) */
    pthread_mutex_t lock;    /* guards everything below */
    push_run *run;
    push_run *late[PUSH_MAX_LATE];
    size_t nlate;
    char url[1024];
    uint64_t sent[PROF_PUSH_NTYPES], dropped[PROF_PUSH_NTYPES], pruned[PROF_PUSH_NTYPES];
    uint64_t refused, retries, bytes, send_failures;
    int64_t last_success_ns, last_error_ns; /* CLOCK_REALTIME */
    char last_error[600];
    double last_log[2]; /* CLOCK_MONOTONIC s of the last error logged: [refused] */
    bool failing;    /* the last attempt failed: a success is logged */
};

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records an error for status, and logs it at most once a minute; a
 * refusal (4xx, not retried) and the other errors each have their minute,
 * so the server's reason for refusing is never hidden by a retry's. */
static void push_log_error(prof_push *pp, bool refused, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define push_error(pp, ...) push_log_error((pp), false, __VA_ARGS__)
static void push_log_error(prof_push *pp, bool refused, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&pp->lock);
    snprintf(pp->last_error, sizeof pp->last_error, "%s", text);
    pp->last_error_ns = real_ns();
    pp->failing = true;
    double now = pf_mono_s();
    double *last = &pp->last_log[refused];
    bool log = *last == 0 || now - *last >= PUSH_LOG_EVERY_S;
    if (log)
        *last = now;
    pthread_mutex_unlock(&pp->lock);
    if (log)
        prof_log(pp->src.ph, TK_LOG_WARN, "push: %s (further push errors are logged at most "
                 "once a minute; profiler status shows the last)", text);
}

static void count(prof_push *pp, uint64_t *arr, int type, uint64_t n)
{
    pthread_mutex_lock(&pp->lock);
    arr[type] += n;
    pthread_mutex_unlock(&pp->lock);
}

/* ================= encoding ================= */

/* Encodes p (freed) within Pyroscope's limits into a queue item. */
static push_item *finish(prof_push *pp, int type, pf_profile *p, size_t value_index,
                         int64_t from_ns, int64_t until_ns)
{
    pf_err perr = {0};
    uint8_t *raw = NULL;
    size_t len = 0, pruned = 0, total = pf_profile_sample_count(p), n = 0;
    pf_code rc = PF_OK;
    if (total > PROF_PUSH_MAX_SAMPLES)
        rc = pf_profile_keep_largest(p, PROF_PUSH_MAX_SAMPLES, value_index, &pruned);
    for (int round = 0; rc == PF_OK; round++) {
        if ((rc = pf_profile_encode(p, pp->src.sym, 0, &raw, &len, &perr)) != PF_OK)
            break;
        size_t left = pf_profile_sample_count(p);
        if (len <= PROF_PUSH_MAX_BYTES * 0.98 || round == 8 || left <= 1)
            break;
        size_t keep = (size_t)((double)left * (PROF_PUSH_MAX_BYTES * 0.9) / (double)len);
        free(raw);
        raw = NULL;
        rc = pf_profile_keep_largest(p, keep ? keep : 1, value_index, &n);
        pruned += n;
    }
    if (rc == PF_OK && pruned > 0) {
        char text[300];
        snprintf(text, sizeof text, "push: %zu of %zu stacks pruned, the smallest by %s, to "
                 "keep within Pyroscope's limits of %d samples and %u bytes per profile",
                 pruned, total, value_index ? "the second value" : "the first value",
                 PROF_PUSH_MAX_SAMPLES, PROF_PUSH_MAX_BYTES);
        free(raw);
        raw = NULL;
        if (pf_profile_add_comment(p, text) == PF_OK)
            rc = pf_profile_encode(p, pp->src.sym, 0, &raw, &len, &perr);
        count(pp, pp->pruned, type, pruned);
    }
    pf_profile_free(p);
    push_item *it = calloc(1, sizeof *it);
    if (rc != PF_OK || it == NULL || pf_gzip(raw, len, &it->data, &it->len, &perr) != PF_OK) {
        push_error(pp, "%s: cannot encode the profile: %s", prof_push_type_name(type),
                   perr.msg[0] ? perr.msg : "out of memory");
        free(raw);
        free(it);
        return NULL;
    }
    free(raw);
    it->type = type;
    it->from_ns = from_ns;
    it->until_ns = until_ns;
    return it;
}

/* ================= the queue ================= */

static void item_free(push_item *it)
{
    if (it != NULL)
        free(it->data);
    free(it);
}

/* Under r->lock: drops the oldest until `more` bytes fit. */
static void make_room(push_run *r, size_t more)
{
    while (r->head != NULL && r->qbytes + more > (size_t)r->s.max_queue_bytes) {
        push_item *old = r->head;
        r->head = old->next;
        if (r->head == NULL)
            r->tail = NULL;
        r->qbytes -= old->len;
        r->qlen--;
        r->pp->dropped[old->type]++; /* pp->lock is taken by the caller */
        item_free(old);
    }
}

static void enqueue(push_run *r, push_item *it, bool at_head)
{
    prof_push *pp = r->pp;
    pthread_mutex_lock(&pp->lock);
    pthread_mutex_lock(&r->lock);
    if (it->len > (size_t)r->s.max_queue_bytes) {
        pp->dropped[it->type]++;
        item_free(it);
    } else {
        make_room(r, it->len);
        if (at_head) {
            it->next = r->head;
            r->head = it;
            if (r->tail == NULL)
                r->tail = it;
        } else {
            it->next = NULL;
            if (r->tail)
                r->tail->next = it;
            else
                r->head = it;
            r->tail = it;
        }
        r->qbytes += it->len;
        r->qlen++;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_unlock(&pp->lock);
}

/* Waits until `until` (CLOCK_MONOTONIC s) or a stop. False on a stop. */
static bool nap_until(push_run *r, double until)
{
    struct timespec ts = {(time_t)until, (long)((until - (double)(time_t)until) * 1e9)};
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stop) && pf_mono_s() < until)
        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&r->lock);
    return !atomic_load(&r->stop);
}

/* ================= the collector ================= */

typedef struct delta_base {
    bool valid;
    prof_records recs;
} delta_base;

static int copy_records(const prof_records *from, prof_records *to)
{
    prof_records_init(to, from->nvalues);
    for (size_t i = 0; i < from->len; i++)
        if (prof_records_add_ctx(to, from->rec[i].pcs, from->rec[i].depth, from->rec[i].values,
                                 from->rec[i].thread, from->rec[i].ctx) != 0)
            return -1;
    return 0;
}

/* The profile of records with the values at `pick` under `types`. */
static pf_profile *records_profile(const prof_kind *kind, void *source, const prof_records *recs,
                                   const pf_value_type *types, const size_t *pick,
                                   size_t ntypes, int64_t time_ns, int64_t duration_ns,
                                   pf_err *perr)
{
    pf_profile *p = pf_profile_new(types, ntypes, perr);
    if (p == NULL)
        return NULL;
    pf_profile_set_time(p, time_ns, duration_ns);
    pf_profile_set_pc_mode(p, kind->pc_mode);
    pf_maps *maps = pf_maps_read_self(PF_MAPS_EXEC_ONLY, perr);
    bool ok = maps != NULL && pf_profile_add_maps(p, maps) == PF_OK &&
              (kind->period_type.type == NULL ||
               pf_profile_set_period(p, kind->period_type.type, kind->period_type.unit,
                                     kind->period ? kind->period(source) : 1) == PF_OK);
    pf_maps_free(maps);
    prof_context_fold fold; /* profiler.labels.max_series label sets, the rest other */
    prof_context_fold_start(&fold);
    for (size_t i = 0; ok && i < recs->len; i++) {
        const prof_record *rec = &recs->rec[i];
        int64_t v[PROF_RECORD_MAX_VALUES];
        bool zero = true, negative = false;
        for (size_t k = 0; k < ntypes; k++) {
            v[k] = rec->values[pick[k]];
            zero &= v[k] == 0;
            negative |= v[k] < 0;
        }
        if (zero || negative) /* negative: the counters were reset (sampling off, on) */
            continue;
        pf_label labels[PROF_RECORD_MAX_LABELS];
        size_t n = prof_record_labels(rec, prof_context_fold_one(&fold, rec->ctx), labels);
        ok = pf_profile_add_sample(p, rec->pcs, rec->depth, v, labels, n, perr) == PF_OK;
    }
    prof_context_fold_end(&fold);
    if (!ok) {
        pf_profile_free(p);
        return NULL;
    }
    if (duration_ns > 0)
        pf_profile_add_comment(p, "delta: what happened over [time_nanos, time_nanos + "
                               "duration_nanos), computed by the profiler (__delta__=false)");
    return p;
}

typedef struct named_push {
    int type;
    const prof_kind *kind;
    void *source;
    pf_value_type types[2];
    size_t pick[2], ntypes, prune_index;
    bool delta;
} named_push;

static void named_pushes(const prof_push_sources *src, named_push out[5])
{
    out[0] = (named_push){PROF_PUSH_ALLOCS, &prof_heap_allocs_kind, NULL,
                          {{"alloc_objects", "count"}, {"alloc_space", "bytes"}}, {0, 1}, 2, 1,
                          true};
    out[1] = (named_push){PROF_PUSH_HEAP, &prof_heap_kind, NULL,
                          {{"inuse_objects", "count"}, {"inuse_space", "bytes"}}, {2, 3}, 2, 1,
                          false};
    out[2] = (named_push){PROF_PUSH_MUTEX, &prof_mutex_kind, src->contention,
                          {{"mutex_count", "count"}, {"mutex_duration", "nanoseconds"}},
                          {0, 1}, 2, 1, true};
    out[3] = (named_push){PROF_PUSH_BLOCK, &prof_block_kind, src->contention,
                          {{"block_count", "count"}, {"block_duration", "nanoseconds"}},
                          {0, 1}, 2, 1, true};
    out[4] = (named_push){PROF_PUSH_GOROUTINE, &prof_threads_goroutine_kind, NULL,
                          {{"goroutines", "count"}, {NULL, NULL}}, {0, 0}, 1, 0, false};
}

/* Collects one named profile; for a delta, against *base (then replaced).
 * Enqueues it unless it is the first of a delta or has no sample. */
static void push_named(push_run *r, const named_push *np, delta_base *base, int64_t from_ns,
                       int64_t now_ns)
{
    prof_push *pp = r->pp;
    prof_records cur, next;
    char err[512] = "";
    prof_records_init(&cur, np->kind->nvalues);
    int status = np->kind->collect(np->source, &cur, err, sizeof err);
    if (status != 0) {
        prof_records_free(&cur);
        if (base != NULL && base->valid) {
            prof_records_free(&base->recs);
            base->valid = false;
        }
        push_error(pp, "%s: not collected (%d): %s", prof_push_type_name(np->type), status, err);
        return;
    }
    bool first = false;
    if (base != NULL) {
        if (copy_records(&cur, &next) != 0) {
            prof_records_free(&cur);
            prof_records_free(&next);
            push_error(pp, "%s: out of memory", prof_push_type_name(np->type));
            return;
        }
        first = !base->valid;
        if (!first && prof_records_subtract(&cur, &base->recs) != 0)
            first = true; /* out of memory: start over from here */
        if (base->valid)
            prof_records_free(&base->recs);
        base->recs = next;
        base->valid = true;
    }
    pf_err perr = {0};
    pf_profile *p = NULL;
    if (!first)
        p = records_profile(np->kind, np->source, &cur, np->types, np->pick, np->ntypes,
                            base ? from_ns : now_ns, base ? now_ns - from_ns : 0, &perr);
    prof_records_free(&cur);
    if (first)
        return;
    if (p == NULL) {
        push_error(pp, "%s: cannot build the profile: %s", prof_push_type_name(np->type),
                   perr.msg[0] ? perr.msg : "out of memory");
        return;
    }
    if (pf_profile_sample_count(p) == 0) { /* nothing happened: nothing to store */
        pf_profile_free(p);
        return;
    }
    push_item *it = finish(pp, np->type, p, np->prune_index, base ? from_ns : now_ns, now_ns);
    if (it != NULL)
        enqueue(r, it, false);
}

static void *collector_main(void *arg)
{
    push_run *r = arg;
    prof_push *pp = r->pp;
    named_push nps[5];
    named_pushes(&pp->src, nps);
    delta_base bases[5] = {{0}};
    prof_cpu_window *win = NULL;
    char err[512];
    bool want_cpu = r->s.types & (1u << PROF_PUSH_CPU);
    if (want_cpu && (win = prof_cpu_window_open(pp->src.cpu, atomic_load(&pp->cpu_hz), err,
                                                sizeof err)) == NULL)
        push_error(pp, "cpu: %s", err);
    prof_wall_window *wall = NULL;
    if ((r->s.types & (1u << PROF_PUSH_WALL)) &&
        (wall = prof_wall_window_open(pp->src.wall, atomic_load(&pp->wall_hz), err,
                                      sizeof err)) == NULL)
        push_error(pp, "wall: %s", err);
    int64_t from_ns = real_ns();
    for (size_t i = 0; i < 5; i++) /* the deltas' baselines */
        if ((r->s.types & (1u << nps[i].type)) && nps[i].delta)
            push_named(r, &nps[i], &bases[i], from_ns, from_ns);
    double next = pf_mono_s() + (double)r->s.interval_ms / 1000;
    while (nap_until(r, next)) {
        int64_t now_ns = real_ns();
        if (win != NULL) {
            int64_t f, u;
            pf_profile *cpu = prof_cpu_window_next(win, &f, &u, err, sizeof err);
            push_item *it = cpu ? finish(pp, PROF_PUSH_CPU, cpu, 1, f, u) : NULL;
            if (cpu == NULL)
                push_error(pp, "cpu: %s", err);
            if (it != NULL)
                enqueue(r, it, false);
        } else if (want_cpu && (win = prof_cpu_window_open(pp->src.cpu, atomic_load(&pp->cpu_hz), err,
                                                           sizeof err)) == NULL) {
            push_error(pp, "cpu: %s", err);
        }
        if (wall != NULL) {
            int64_t f, u;
            pf_profile *wp = prof_wall_window_next(wall, &f, &u, err, sizeof err);
            push_item *it = wp ? finish(pp, PROF_PUSH_WALL, wp, 1, f, u) : NULL;
            if (wp == NULL)
                push_error(pp, "wall: %s", err);
            if (it != NULL)
                enqueue(r, it, false);
        }
        for (size_t i = 0; i < 5 && !atomic_load(&r->stop); i++)
            if (r->s.types & (1u << nps[i].type))
                push_named(r, &nps[i], nps[i].delta ? &bases[i] : NULL, from_ns, now_ns);
        from_ns = now_ns;
        next += (double)r->s.interval_ms / 1000;
        if (next < pf_mono_s()) /* fell behind: the next window is a full one from now */
            next = pf_mono_s() + (double)r->s.interval_ms / 1000;
    }
    prof_cpu_window_close(pp->src.cpu, win);
    prof_wall_window_close(wall);
    for (size_t i = 0; i < 5; i++)
        if (bases[i].valid)
            prof_records_free(&bases[i].recs);
    return NULL;
}

/* ================= the sender ================= */

bool prof_push_retryable(long status)
{
    return status == 0 || status >= 500 || status == 408 || status == 429;
}

long prof_push_backoff_ms(int tries, double rnd)
{
    double ms = PUSH_BACKOFF_MIN_MS;
    for (int i = 1; i < tries && ms < PUSH_BACKOFF_MAX_MS; i++)
        ms *= 2;
    if (ms > PUSH_BACKOFF_MAX_MS)
        ms = PUSH_BACKOFF_MAX_MS;
    return (long)(ms * (0.5 + 0.5 * rnd)); /* jitter: half to all of it */
}

long prof_push_retry_wait_ms(long status, long long retry_after_s, long backoff_ms, long max_ms)
{
    if ((status != 429 && status != 503) || retry_after_s <= 0 || max_ms <= 0)
        return backoff_ms;
    long long want = retry_after_s > 400LL * 86400 ? (long long)max_ms : retry_after_s * 1000;
    return want > max_ms ? max_ms : (long)want; /* the server's word, not the backoff */
}

typedef struct reply_buf {
    char text[PUSH_REPLY_MAX];
    size_t len, total;
} reply_buf;

static size_t on_reply(char *data, size_t size, size_t n, void *ctx)
{
    reply_buf *b = ctx;
    size_t len = size * n;
    if (b->len < sizeof b->text - 1) {
        size_t take = len < sizeof b->text - 1 - b->len ? len : sizeof b->text - 1 - b->len;
        memcpy(b->text + b->len, data, take);
        b->len += take;
        b->text[b->len] = '\0';
    }
    b->total += len;
    return b->total > PUSH_REPLY_ABORT ? 0 : len; /* a huge reply is cut off */
}

/* Sends one profile. Returns the HTTP status (0: none), with what went
 * wrong in why and the answer's Retry-After in *retry_after (s, 0: none). */
static long post(push_run *r, CURL *e, const push_item *it, char *why, size_t whylen,
                 double *took, long long *retry_after)
{
    const prof_push_settings *s = &r->s;
    char *name = curl_easy_escape(e, s->name, 0);
    char url[2048];
    snprintf(url, sizeof url, "%s?name=%s&from=%lld&until=%lld&spyName=takhin%s", s->ingest,
             name ? name : "", (long long)(it->from_ns / 1000000000),
             (long long)((it->until_ns + 999999999) / 1000000000),
             s->multipart ? "" : "&format=pprof");
    curl_free(name);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    char line[300];
    if (!s->multipart)
        headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    if (s->tenant[0]) {
        snprintf(line, sizeof line, "X-Scope-OrgID: %s", s->tenant);
        headers = curl_slist_append(headers, line);
    }
    curl_mime *mime = NULL;
    reply_buf reply = {.len = 0};
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "takhin-profiler/" PROF_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms < 5000 ? s->timeout_ms : 5000L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &reply);
    if (s->token[0]) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, s->token);
    } else if (s->user[0]) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
    }
    if (s->multipart) {
        mime = curl_mime_init(e);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, "profile");
        curl_mime_filename(part, "profile.pb.gz");
        curl_mime_type(part, "application/octet-stream");
        curl_mime_data(part, (const char *)it->data, it->len);
        curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)it->data);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    }
    double t0 = pf_mono_s();
    CURLcode cc = CURLE_OK;
    curl_multi_add_handle(r->multi, e);
    int running = 1;
    bool stopped = false;
    while (running) {
        if (atomic_load(&r->stop)) {
            stopped = true;
            break;
        }
        if (curl_multi_perform(r->multi, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(r->multi, NULL, 0, 1000, NULL);
    }
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE && m->easy_handle == e)
            cc = m->data.result;
    long status = 0;
    curl_off_t ra = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
        ra = 0;
    *retry_after = ra > 0 ? (long long)ra : 0;
    curl_multi_remove_handle(r->multi, e);
    *took = pf_mono_s() - t0;
    curl_slist_free_all(headers);
    curl_mime_free(mime);
    if (stopped) {
        snprintf(why, whylen, "stopped");
        return -1;
    }
    char msg[PROF_ESCAPED_MAX];
    prof_escape(msg, sizeof msg, reply.text, reply.len);
    if (status >= 200 && status < 300)
        why[0] = '\0'; /* an answer cut off after a 2xx status is still a success */
    else if (status == 0)
        snprintf(why, whylen, "%.300s: %s", s->ingest, curl_easy_strerror(cc));
    else
        snprintf(why, whylen, "%.300s answered HTTP %ld: %s%s", s->ingest, status,
                 msg[0] ? msg : "(no message)", cc == CURLE_OPERATION_TIMEDOUT
                 ? " (then timed out)" : "");
    return status;
}

static push_item *next_item(push_run *r)
{
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stop) && r->head == NULL)
        pthread_cond_wait(&r->cond, &r->lock);
    push_item *it = NULL;
    if (!atomic_load(&r->stop) && r->head != NULL) {
        it = r->head;
        r->head = it->next;
        if (r->head == NULL)
            r->tail = NULL;
        r->qbytes -= it->len;
        r->qlen--;
    }
    pthread_mutex_unlock(&r->lock);
    return it;
}

static void *sender_main(void *arg)
{
    push_run *r = arg;
    prof_push *pp = r->pp;
    CURL *e = curl_easy_init();
    unsigned seed = (unsigned)real_ns();
    push_item *it;
    while (e != NULL && (it = next_item(r)) != NULL) {
        char why[1200];
        double took;
        long long retry_after = 0;
        long status = post(r, e, it, why, sizeof why, &took, &retry_after);
        if (status < 0) { /* stopped */
            pthread_mutex_lock(&pp->lock);
            pp->dropped[it->type]++;
            pthread_mutex_unlock(&pp->lock);
            item_free(it);
            break;
        }
        if (status >= 200 && status < 300) {
            pthread_mutex_lock(&pp->lock);
            pp->sent[it->type]++;
            pp->bytes += it->len;
            pp->last_success_ns = real_ns();
            bool recovered = pp->failing;
            pp->failing = false;
            pthread_mutex_unlock(&pp->lock);
            if (recovered)
                prof_log(pp->src.ph, TK_LOG_INFO, "push: %s accepts profiles again",
                         r->s.ingest);
            item_free(it);
            continue;
        }
        pthread_mutex_lock(&pp->lock);
        pp->send_failures++;
        pthread_mutex_unlock(&pp->lock);
        if (!prof_push_retryable(status) || ++it->tries >= PROF_PUSH_MAX_TRIES) {
            push_log_error(pp, !prof_push_retryable(status), "%s profile dropped%s: %s",
                           prof_push_type_name(it->type),
                       prof_push_retryable(status) ? " after " "10 tries" : " (not retried)",
                       why);
            pthread_mutex_lock(&pp->lock);
            pp->dropped[it->type]++;
            pp->refused += !prof_push_retryable(status);
            pthread_mutex_unlock(&pp->lock);
            item_free(it);
            continue;
        }
        long backoff = prof_push_backoff_ms(it->tries, (double)rand_r(&seed) / RAND_MAX);
        long wait = prof_push_retry_wait_ms(status, retry_after, backoff,
                                            r->s.max_retry_after_ms);
        char asked[160] = "";
        if ((status == 429 || status == 503) && retry_after > 0 && r->s.max_retry_after_ms > 0)
            snprintf(asked, sizeof asked, " (Retry-After: %lld s%s)", retry_after,
                     (long long)wait < retry_after * 1000 ? ", capped by push.max_retry_after"
                                                          : "");
        push_error(pp, "%s profile not sent, retrying in %.1f s%s: %s",
                   prof_push_type_name(it->type), (double)wait / 1000, asked, why);
        pthread_mutex_lock(&pp->lock);
        pp->retries++;
        pthread_mutex_unlock(&pp->lock);
        enqueue(r, it, true); /* first in line again (dropped if the queue is full) */
        nap_until(r, pf_mono_s() + (double)wait / 1000);
    }
    curl_easy_cleanup(e);
    return NULL;
}

/* ================= start, stop ================= */

static void run_free(push_run *r)
{
    push_item *it = r->head;
    while (it != NULL) {
        push_item *next = it->next;
        item_free(it);
        it = next;
    }
    curl_multi_cleanup(r->multi);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Joins what has ended; with `wait`, everything. Under pp->lock. */
static void reap_late(prof_push *pp, bool wait)
{
    size_t n = 0;
    for (size_t i = 0; i < pp->nlate; i++) {
        push_run *r = pp->late[i];
        if (!r->collector_joined)
            r->collector_joined = (wait ? pthread_join(r->collector, NULL)
                                        : pthread_tryjoin_np(r->collector, NULL)) == 0;
        if (!r->sender_joined)
            r->sender_joined = (wait ? pthread_join(r->sender, NULL)
                                     : pthread_tryjoin_np(r->sender, NULL)) == 0;
        if (r->collector_joined && r->sender_joined)
            run_free(r);
        else
            pp->late[n++] = r;
    }
    pp->nlate = n;
}

/* Once per process: the plugin stays mapped after unload (profiler.c pins
 * it), so a second load finds libcurl initialized. */
static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

prof_push *prof_push_new(const prof_push_sources *src)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    prof_push *pp = calloc(1, sizeof *pp);
    if (pp == NULL)
        return NULL;
    pp->src = *src;
    atomic_store(&pp->cpu_hz, 100);
    atomic_store(&pp->wall_hz, 20);
    pthread_mutex_init(&pp->lock, NULL);
    return pp;
}

void prof_push_set_cpu_hz(prof_push *pp, int hz)
{
    atomic_store(&pp->cpu_hz, hz);
}

void prof_push_set_wall_hz(prof_push *pp, int hz)
{
    atomic_store(&pp->wall_hz, hz);
}

/* Drops what is queued (counted) and the run's profiles in the sender's
 * hands are counted by the sender. Under pp->lock. */
static void drop_queue(prof_push *pp, push_run *r)
{
    pthread_mutex_lock(&r->lock);
    for (push_item *it = r->head; it != NULL; it = it->next)
        pp->dropped[it->type]++;
    pthread_mutex_unlock(&r->lock);
}

double prof_push_stop(prof_push *pp)
{
    double t0 = pf_mono_s();
    pthread_mutex_lock(&pp->lock);
    push_run *r = pp->run;
    pp->run = NULL;
    reap_late(pp, false);
    pthread_mutex_unlock(&pp->lock);
    if (r == NULL)
        return (pf_mono_s() - t0) * 1000;
    atomic_store(&r->stop, true);
    pthread_mutex_lock(&r->lock);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    curl_multi_wakeup(r->multi);
    double until = t0 + PUSH_STOP_MS / 1000.0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t dl = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (int64_t)((until - pf_mono_s()) * 1e9);
    struct timespec deadline = {(time_t)(dl / 1000000000), (long)(dl % 1000000000)};
    r->sender_joined = pthread_timedjoin_np(r->sender, NULL, &deadline) == 0;
    r->collector_joined = pthread_timedjoin_np(r->collector, NULL, &deadline) == 0;
    pthread_mutex_lock(&pp->lock);
    drop_queue(pp, r);
    if (r->sender_joined && r->collector_joined) {
        run_free(r);
    } else if (pp->nlate < PUSH_MAX_LATE) {
        pp->late[pp->nlate++] = r;
    } else { /* never in practice: 16 stops in a row, each with a hung thread */
        pp->late[0] = r;
        pthread_mutex_unlock(&pp->lock);
        pthread_join(r->collector, NULL);
        pthread_join(r->sender, NULL);
        run_free(r);
        pthread_mutex_lock(&pp->lock);
        pp->late[0] = pp->late[--pp->nlate];
    }
    pthread_mutex_unlock(&pp->lock);
    double took = (pf_mono_s() - t0) * 1000;
    prof_log(pp->src.ph, TK_LOG_INFO, "push: stopped (%.1f ms)%s", took,
             r->sender_joined && r->collector_joined ? ""
             : "; a push thread still ends its work and is joined later");
    return took;
}

int prof_push_start(prof_push *pp, const prof_push_settings *s, char *err, size_t errlen)
{
    prof_push_stop(pp);
    pthread_mutex_lock(&pp->lock);
    snprintf(pp->url, sizeof pp->url, "%s", s->on ? s->url : "");
    pthread_mutex_unlock(&pp->lock);
    if (!s->on)
        return 0;
    push_run *r = calloc(1, sizeof *r);
    if (r == NULL || (r->multi = curl_multi_init()) == NULL) {
        free(r);
        snprintf(err, errlen, "push: out of memory");
        return -1;
    }
    r->pp = pp;
    r->s = *s;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = prof_thread_spawn(&r->sender, PROF_THREAD_PUSH_SEND, 0, sender_main, r);
    if (rc == 0 && (rc = prof_thread_spawn(&r->collector, PROF_THREAD_PUSH_COLLECT, 0, collector_main,
                                           r)) != 0) {
        atomic_store(&r->stop, true);
        pthread_mutex_lock(&r->lock);
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->sender, NULL);
    }
    if (rc != 0) {
        run_free(r);
        snprintf(err, errlen, "push: cannot start its threads: %s", strerror(rc));
        return -1;
    }
    pthread_mutex_lock(&pp->lock);
    pp->run = r;
    pthread_mutex_unlock(&pp->lock);
    char types[80] = "";
    for (int t = 0; t < PROF_PUSH_NTYPES; t++)
        if (s->types & (1u << t))
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%s",
                     types[0] ? "," : "", prof_push_type_name(t));
    prof_log(pp->src.ph, TK_LOG_INFO, "push: %s every %.1f s to %s as %s%s%s", types,
             (double)s->interval_ms / 1000, s->ingest, s->name,
             s->tenant[0] ? ", tenant " : "", s->tenant);
    return 0;
}

bool prof_push_running(prof_push *pp)
{
    pthread_mutex_lock(&pp->lock);
    bool on = pp->run != NULL;
    pthread_mutex_unlock(&pp->lock);
    return on;
}

void prof_push_free(prof_push *pp)
{
    if (pp == NULL)
        return;
    prof_push_stop(pp);
    pthread_mutex_lock(&pp->lock);
    reap_late(pp, true);
    pthread_mutex_unlock(&pp->lock);
    pthread_mutex_destroy(&pp->lock);
    free(pp);
}

/* ================= status and metrics ================= */

static void iso_time(int64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void prof_push_status_json(prof_push *pp, pf_strbuf *out)
{
    pthread_mutex_lock(&pp->lock);
    push_run *r = pp->run;
    size_t qlen = 0, qbytes = 0;
    if (r != NULL) {
        pthread_mutex_lock(&r->lock);
        qlen = r->qlen;
        qbytes = r->qbytes;
        pthread_mutex_unlock(&r->lock);
    }
    uint64_t sent = 0, dropped = 0;
    for (int t = 0; t < PROF_PUSH_NTYPES; t++) {
        sent += pp->sent[t];
        dropped += pp->dropped[t];
    }
    pf_strbuf_printf(out, "{\"running\":%s,\"url\":", r ? "true" : "false");
    if (pp->url[0])
        prof_json_string(out, pp->url);
    else
        pf_strbuf_printf(out, "null");
    char when[40];
    pf_strbuf_printf(out, ",\"last_success\":");
    if (pp->last_success_ns) {
        iso_time(pp->last_success_ns, when, sizeof when);
        pf_strbuf_printf(out, "\"%s\"", when);
    } else {
        pf_strbuf_printf(out, "null");
    }
    pf_strbuf_printf(out, ",\"last_error\":");
    if (pp->last_error_ns) {
        iso_time(pp->last_error_ns, when, sizeof when);
        pf_strbuf_printf(out, "{\"time\":\"%s\",\"message\":", when);
        prof_json_string(out, pp->last_error);
        pf_strbuf_printf(out, "}");
    } else {
        pf_strbuf_printf(out, "null");
    }
    pf_strbuf_printf(out, ",\"queue\":{\"profiles\":%zu,\"bytes\":%zu},\"sent\":%llu,"
              "\"dropped\":%llu,\"retries\":%llu}", qlen, qbytes, (unsigned long long)sent,
              (unsigned long long)dropped, (unsigned long long)pp->retries);
    pthread_mutex_unlock(&pp->lock);
}

static void by_type(pf_strbuf *out, const char *name, const char *help, const uint64_t *v)
{
    pf_strbuf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int t = 0; t < PROF_PUSH_NTYPES; t++)
        pf_strbuf_printf(out, "%s{type=\"%s\"} %llu\n", name, prof_push_type_name(t), (unsigned long long)v[t]);
}

void prof_push_render_metrics(prof_push *pp, pf_strbuf *out)
{
    if (pp == NULL)
        return;
    pthread_mutex_lock(&pp->lock);
    size_t qlen = 0, qbytes = 0;
    if (pp->run != NULL) {
        pthread_mutex_lock(&pp->run->lock);
        qlen = pp->run->qlen;
        qbytes = pp->run->qbytes;
        pthread_mutex_unlock(&pp->run->lock);
    }
    by_type(out, "takhin_profiler_push_profiles_sent_total",
            "Profiles pushed and accepted (2xx), by type.", pp->sent);
    by_type(out, "takhin_profiler_push_profiles_dropped_total",
            "Profiles never delivered: queue full, refused (4xx), 10 tries failed, or "
            "queued at a stop; by type.", pp->dropped);
    by_type(out, "takhin_profiler_push_pruned_samples_total",
            "Stacks left out of pushed profiles to keep within Pyroscope's limits (16000 "
            "samples, 4 MiB).", pp->pruned);
    pf_strbuf_printf(out, "# HELP takhin_profiler_push_bytes_total Compressed bytes of the profiles "
              "accepted.\n# TYPE takhin_profiler_push_bytes_total counter\n"
              "takhin_profiler_push_bytes_total %llu\n"
              "# HELP takhin_profiler_push_retries_total Push attempts retried (5xx, 408, 429, "
              "no answer).\n# TYPE takhin_profiler_push_retries_total counter\n"
              "takhin_profiler_push_retries_total %llu\n"
              "# HELP takhin_profiler_push_refused_total Profiles the server refused with a "
              "4xx other than 408 and 429 (not retried).\n"
              "# TYPE takhin_profiler_push_refused_total counter\n"
              "takhin_profiler_push_refused_total %llu\n"
              "# HELP takhin_profiler_push_last_success_timestamp_seconds When a push last "
              "succeeded (0: never).\n"
              "# TYPE takhin_profiler_push_last_success_timestamp_seconds gauge\n"
              "takhin_profiler_push_last_success_timestamp_seconds %.3f\n"
              "# HELP takhin_profiler_push_queue_profiles Profiles waiting to be sent.\n"
              "# TYPE takhin_profiler_push_queue_profiles gauge\n"
              "takhin_profiler_push_queue_profiles %zu\n"
              "# HELP takhin_profiler_push_queue_bytes Their bytes.\n"
              "# TYPE takhin_profiler_push_queue_bytes gauge\n"
              "takhin_profiler_push_queue_bytes %zu\n"
              "# HELP takhin_profiler_push_running 1 while pushing.\n"
              "# TYPE takhin_profiler_push_running gauge\n"
              "takhin_profiler_push_running %d\n",
              (unsigned long long)pp->bytes, (unsigned long long)pp->retries,
              (unsigned long long)pp->refused, (double)pp->last_success_ns / 1e9, qlen, qbytes,
              pp->run != NULL);
    pthread_mutex_unlock(&pp->lock);
}
