/* The reference server's workload: see workload.h. */
#include "workload.h"

#include "crc32c.h"
#include "klog.h"

#include "takhin/host/context.h"
#include "takhin/host/log.h"
#include "takhin/host/sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Profiles must show these frames by name: keep them out of line. */
#define WORKLOAD_FRAME __attribute__((noinline))

const tk_config_key workload_config_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "true", 0, 0, "run the demo workload"},
    {"producers", TK_CONFIG_INT, "2", 1, 64, "producer threads"},
    {"consumers", TK_CONFIG_INT, "1", 1, 16, "consumer threads"},
    {"partitions", TK_CONFIG_INT, "4", 1, 256, "log partitions, one lock each"},
    {"record_bytes", TK_CONFIG_INT, "1024", 16, 1 << 20, "payload size of a record"},
    {"retain_records", TK_CONFIG_INT, "1024", 16, 1 << 20, "records kept per partition"},
    {"rate", TK_CONFIG_INT, "5000", 0, 10000000,
     "records per second per producer; 0 = as fast as possible"},
    {"calibration", TK_CONFIG_BOOL, "false", 0, 0,
     "one more thread that burns CPU 3:1 in calibrate_heavy and calibrate_light"},
    {"wall_calibration", TK_CONFIG_BOOL, "false", 0, 0,
     "one more thread alternating 50 ms spinning in wall_burn and 50 ms asleep in wall_sleep"},
    {"idle_threads", TK_CONFIG_INT, "0", 0, 10000,
     "threads parked for good (half in epoll_wait, half in a condition wait), plus one "
     "sleeper looping on 1 s nanosleeps that counts EINTRs (workload status: eintr)"},
    {"topics", TK_CONFIG_STRING, "demo", 0, 0,
     "topics with record weights, \"orders:3,audit:1\", each of demo.partitions partitions"},
    {"labels", TK_CONFIG_BOOL, "true", 0, 0,
     "set each request's context (kafka_api, topic, client_id), live; off: for benchmarks"},
    {"client_ids", TK_CONFIG_INT, "0", 0, 1000000,
     "distinct client_id labels the producers cycle through; 0: producer-N"},
    {0},
};

/* One stored record: compressed payload plus the producer's hash. It
 * lives in the log (klog.h, the Kafka listener's log, one record per
 * entry here), which writes its offset into the first 8 bytes. */
typedef struct log_entry {
    uint64_t offset; /* big-endian */
    uint64_t hash;
    uint32_t crc;
    uint32_t raw_len;
    uint32_t len;    /* compressed bytes in data */
    uint32_t size;   /* the whole entry as stored, header included */
    unsigned char data[];
} log_entry;

#define MAX_TOPICS 16

typedef struct topic {
    char name[64];
    int weight;
} topic;

typedef struct settings {
    bool enabled, calibration, labels, wall_calibration;
    int producers, consumers, partitions, record_bytes, retain, client_ids, idle_threads;
    topic topics[MAX_TOPICS];
    int ntopics, weights; /* weights: their sum */
} settings;

/* demo.idle_threads: threads parked until the stop. */
typedef struct idlers {
    int epfd, evfd;          /* half wait in epoll_wait on epfd; evfd wakes them */
    pthread_mutex_t lock;    /* the other half wait on `cond` */
    pthread_cond_t cond;
    pthread_t *threads;
    int n;
    pthread_t sleeper;
    bool has_sleeper;
    _Atomic uint64_t eintr;  /* nanosleeps of the sleeper cut short */
} idlers;

/* `workload hold_mutex MS`: one thread holds a mutex MS ms while another
 * waits for it in pthread_mutex_lock. */
typedef struct holder {
    pthread_mutex_t lock;    /* guards running and thread */
    pthread_mutex_t held;    /* the mutex held */
    bool running;
    pthread_t thread;
    long ms;
    _Atomic uint64_t done;
} holder;

/* One workload thread's own: its index among its kind, its client_id. */
typedef struct worker {
    struct workload *wl;
    int index;
    char client_id[32];
    uint64_t seq; /* records produced (topic and client_id choice) */
    /* Its request contexts by topic, interned at first use
     * (takhin/host/context.h): switching to one costs a pointer store. */
    const tk_context *by_topic[MAX_TOPICS];
} worker;

struct workload {
    settings set;
    _Atomic long rate;
    _Atomic bool running;
    klog *log;                   /* demo.topics, demo.partitions partitions each */
    klog_topic *topic[MAX_TOPICS];
    _Atomic bool labels;         /* demo.labels: live */
    tkh_mutex notify_lock;       /* consumers wait here for new records */
    tkh_cond notify;
    uint64_t appended;           /* under notify_lock */
    _Atomic uint64_t produced, consumed, bytes_in, corrupt;
    pthread_t *threads;
    worker *workers;
    int nthreads;
    idlers idle;
    holder hold;
    _Atomic uint64_t burn_ns, sleep_ns; /* the wall calibration thread's own account */
    _Atomic bool calibrating;    /* demo.calibration: live (the thread parks when off) */
    pthread_t late_calibration;  /* the calibration thread a reload started */
    worker late_worker;
    bool has_late_calibration;
};

static int64_t cfg_int(const tkh_config *cfg, const char *key)
{
    return tkh_config_lookup(cfg, key)->i;
}

static settings read_settings(const tkh_config *cfg)
{
    return (settings){
        .enabled = tkh_config_lookup(cfg, "demo.enabled")->b,
        .calibration = tkh_config_lookup(cfg, "demo.calibration")->b,
        .wall_calibration = tkh_config_lookup(cfg, "demo.wall_calibration")->b,
        .idle_threads = (int)cfg_int(cfg, "demo.idle_threads"),
        .producers = (int)cfg_int(cfg, "demo.producers"),
        .consumers = (int)cfg_int(cfg, "demo.consumers"),
        .partitions = (int)cfg_int(cfg, "demo.partitions"),
        .record_bytes = (int)cfg_int(cfg, "demo.record_bytes"),
        .retain = (int)cfg_int(cfg, "demo.retain_records"),
        .labels = tkh_config_lookup(cfg, "demo.labels")->b,
        .client_ids = (int)cfg_int(cfg, "demo.client_ids"),
    };
}

/* demo.topics: "name[:weight],..." into set->topics ("" is "demo"). 0, or
 * -1 with err. */
/* demo.topics `v` into set; the errors name its value and origin. */
static int parse_topics(const tk_config_value *v, settings *set, char *err, size_t errlen)
{
    const char *text = v->s;
    set->ntopics = set->weights = 0;
    for (const char *p = text[0] ? text : "demo"; *p != '\0';) {
        size_t n = strcspn(p, ",:");
        int weight = 1;
        const char *next = p + n;
        if (*next == ':') {
            char *end;
            long w = strtol(next + 1, &end, 10);
            if (end == next + 1 || w < 1 || w > 1000 || (*end != ',' && *end != '\0')) {
                snprintf(err, errlen, "demo.topics = \"%s\" (%s): expected name:weight with a "
                         "weight from 1 to 1000, comma-separated", text, v->origin);
                return -1;
            }
            weight = (int)w;
            next = end;
        }
        if (n == 0 || n >= sizeof set->topics[0].name || set->ntopics == MAX_TOPICS) {
            snprintf(err, errlen, "demo.topics = \"%s\" (%s): expected 1 to %d names of 1 to 63 "
                     "characters", text, v->origin, MAX_TOPICS);
            return -1;
        }
        topic *t = &set->topics[set->ntopics++];
        snprintf(t->name, sizeof t->name, "%.*s", (int)n, p);
        t->weight = weight;
        set->weights += weight;
        p = *next == ',' ? next + 1 : next;
    }
    return 0;
}

/* ---- the produce path ---- */

/* xorshift64*: cheap, reproducible record contents. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* A record that compresses like real log lines: words from a small
 * vocabulary with random numbers in between. */
static WORKLOAD_FRAME unsigned char *record_generate(uint64_t *rng, int len)
{
    static const char *const words[] = {"topic", "orders", "partition", "offset", "user",
                                        "event", "click", "purchase", "session", "key"};
    unsigned char *buf = malloc((size_t)len);
    if (buf == NULL)
        return NULL;
    int n = 0;
    while (n < len) {
        uint64_t r = next_random(rng);
        n += snprintf((char *)buf + n, (size_t)(len - n), "%s=%llu ", words[r % 10],
                      (unsigned long long)(r >> 40));
    }
    return buf;
}

/* FNV-1a over the payload: the record key's hash picks the partition. */
static WORKLOAD_FRAME uint64_t record_hash(const unsigned char *p, int len)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static WORKLOAD_FRAME log_entry *record_compress(const unsigned char *p, int len, uint64_t hash)
{
    uLongf bound = compressBound((uLong)len);
    log_entry *e = (log_entry *)klog_buffer_new(sizeof *e + bound);
    if (e == NULL)
        return NULL;
    e->size = (uint32_t)(sizeof *e + bound);
    if (compress2(e->data, &bound, p, (uLong)len, 1) != Z_OK) {
        klog_buffer_free((unsigned char *)e);
        return NULL;
    }
    e->hash = hash;
    e->raw_len = (uint32_t)len;
    e->len = (uint32_t)bound;
    return e;
}

/* Stores an entry at the head of a partition, checking its CRC-32C as a
 * broker validates a batch on append; the log frees what falls off. */
static WORKLOAD_FRAME void log_write(workload *wl, int t, int part, log_entry *e)
{
    e->crc = crc32c(e->data, e->len);
    klog_append_buffer(wl->log, wl->topic[t], part, (unsigned char *)e, 1, 0);
}

static WORKLOAD_FRAME void storage_append(workload *wl, int t, int part, log_entry *e)
{
    log_write(wl, t, part, e);
    tkh_mutex_lock(&wl->notify_lock);
    wl->appended++;
    tkh_cond_broadcast(&wl->notify);
    tkh_mutex_unlock(&wl->notify_lock);
}

/* The topic of a producer's next record, by demo.topics' weights. */
static int pick_topic(const settings *set, uint64_t seq)
{
    int at = (int)(seq % (uint64_t)set->weights), t = 0;
    while (at >= set->topics[t].weight)
        at -= set->topics[t++].weight;
    return t;
}

/* Enters the context of `api` on topic t by `client_id`; returns the one
 * it replaces. The worker's own client_id's are interned once, cycled
 * ones (demo.client_ids) at each call. */
static const tk_context *enter_context(workload *wl, worker *w, const char *api, int t,
                                       const char *client_id)
{
    tk_context_pair ctx[3] = {{"kafka_api", api}, {"topic", wl->set.topics[t].name},
                              {"client_id", client_id}};
    if (client_id != w->client_id)
        return tkh_context_set(ctx, 3);
    if (w->by_topic[t] == NULL)
        w->by_topic[t] = tkh_context_intern(ctx, 3);
    return tkh_context_enter(w->by_topic[t]);
}

/* Handles one produce request: hash, compress, append. Takes `payload`.
 * The thread's request context says what for, as a Kafka produce's
 * would: kafka_api, topic, client_id. */
static WORKLOAD_FRAME void produce_handle(workload *wl, worker *w, unsigned char *payload,
                                          int len)
{
    int64_t span = tkh_span_begin();
    char client[32];
    const char *client_id = w->client_id;
    if (wl->set.client_ids > 0) {
        snprintf(client, sizeof client, "client-%llu", (unsigned long long)
                 ((w->seq * (uint64_t)wl->set.producers + (uint64_t)w->index) %
                  (uint64_t)wl->set.client_ids));
        client_id = client;
    }
    int t = pick_topic(&wl->set, w->seq++);
    bool labels = atomic_load_explicit(&wl->labels, memory_order_relaxed);
    const tk_context *prev = labels ? enter_context(wl, w, "Produce", t, client_id) : NULL;
    uint64_t hash = record_hash(payload, len);
    log_entry *e = record_compress(payload, len, hash);
    free(payload);
    if (e != NULL) {
        storage_append(wl, t, (int)(hash % (uint64_t)wl->set.partitions), e);
        atomic_fetch_add(&wl->produced, 1);
        atomic_fetch_add(&wl->bytes_in, (uint64_t)len);
    }
    tkh_span_end("produce", span);
    if (labels)
        tkh_context_restore(prev);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps until `done` records are due at `rate` per second since `start`. */
static void pace(double start, uint64_t done, long rate)
{
    double due = start + (double)done / (double)rate;
    double ahead = due - now_seconds();
    if (ahead > 0.001) {
        struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static void *producer_main(void *arg)
{
    worker *w = arg;
    workload *wl = w->wl;
    uint64_t rng = (uint64_t)(uintptr_t)&rng | 1;
    double start = now_seconds();
    uint64_t done = 0;
    long rate_seen = atomic_load(&wl->rate);
    while (atomic_load(&wl->running)) {
        long rate = atomic_load(&wl->rate);
        if (rate != rate_seen) { /* re-base pacing after a reload */
            start = now_seconds();
            done = 0;
            rate_seen = rate;
        }
        unsigned char *payload = record_generate(&rng, wl->set.record_bytes);
        if (payload != NULL)
            produce_handle(wl, w, payload, wl->set.record_bytes);
        if (rate > 0)
            pace(start, ++done, rate);
    }
    return NULL;
}

/* ---- the consume path ---- */

/* Verifies one record: decompress and re-hash. */
static WORKLOAD_FRAME bool record_verify(const log_entry *e, const unsigned char *data,
                                         unsigned char *scratch)
{
    uLongf raw = e->raw_len;
    if (uncompress(scratch, &raw, data, e->len) != Z_OK || raw != e->raw_len)
        return false;
    return record_hash(scratch, (int)raw) == e->hash;
}

/* Reads what is new in partition `part` of topic t since *offset
 * (records that were evicted meanwhile are skipped), copied out of the
 * log into buf, in the context of a fetch of that topic. */
static WORKLOAD_FRAME void partition_read(workload *wl, worker *w, int t, int part,
                                          uint64_t *offset, kw *buf, unsigned char *scratch)
{
    bool labels = atomic_load_explicit(&wl->labels, memory_order_relaxed);
    const tk_context *prev = labels ? enter_context(wl, w, "Fetch", t, w->client_id) : NULL;
    klog_offsets o;
    buf->len = 0;
    long n = klog_read(wl->topic[t], part, (int64_t)*offset, SIZE_MAX, buf, &o);
    if (n < 0 && (int64_t)*offset < o.start) { /* evicted meanwhile */
        buf->len = 0;
        n = klog_read(wl->topic[t], part, o.start, SIZE_MAX, buf, &o);
    }
    for (size_t at = 0; n > 0 && at + sizeof(log_entry) <= buf->len;) {
        log_entry e;
        memcpy(&e, buf->p + at, sizeof e); /* entries follow each other unaligned */
        if (e.size < sizeof e || at + e.size > buf->len)
            break;
        if (!record_verify(&e, buf->p + at + sizeof e, scratch))
            atomic_fetch_add(&wl->corrupt, 1);
        atomic_fetch_add(&wl->consumed, 1);
        *offset = kw_load_be64(buf->p + at) + 1; /* written big-endian, as Kafka's */
        at += e.size;
    }
    if (labels)
        tkh_context_restore(prev);
}

/* Waits on the condition variable until records arrive, then reads them. */
static WORKLOAD_FRAME void consume_records(workload *wl, worker *w, uint64_t *offsets,
                                           uint64_t *seen, kw *buf, unsigned char *scratch)
{
    tkh_mutex_lock(&wl->notify_lock);
    while (wl->appended == *seen && atomic_load(&wl->running))
        tkh_cond_wait(&wl->notify, &wl->notify_lock);
    *seen = wl->appended;
    tkh_mutex_unlock(&wl->notify_lock);
    int64_t span = tkh_span_begin();
    for (int i = 0; i < wl->set.ntopics * wl->set.partitions; i++)
        partition_read(wl, w, i / wl->set.partitions, i % wl->set.partitions, &offsets[i], buf,
                       scratch);
    tkh_span_end("consume", span);
}

static void *consumer_main(void *arg)
{
    worker *w = arg;
    workload *wl = w->wl;
    uint64_t *offsets = calloc((size_t)(wl->set.ntopics * wl->set.partitions), sizeof *offsets);
    unsigned char *scratch = malloc((size_t)wl->set.record_bytes);
    uint64_t seen = 0;
    kw buf = {0};
    while (offsets != NULL && scratch != NULL && atomic_load(&wl->running))
        consume_records(wl, w, offsets, &seen, &buf, scratch);
    free(buf.p);
    free(offsets);
    free(scratch);
    return NULL;
}

/* ---- calibration: a known CPU split for checking profiles ---- */

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Burns `seconds` of this thread's CPU time. */
static WORKLOAD_FRAME void burn(double seconds)
{
    double end = thread_cpu_seconds() + seconds;
    volatile uint64_t x = 1;
    while (thread_cpu_seconds() < end)
        for (int i = 0; i < 20000; i++)
            x = x * 6364136223846793005ULL + 1;
}

static WORKLOAD_FRAME void calibrate_heavy(void)
{
    burn(0.003);
}

static WORKLOAD_FRAME void calibrate_light(void)
{
    burn(0.001);
}

static void *calibration_main(void *arg)
{
    workload *wl = ((worker *)arg)->wl;
    while (atomic_load(&wl->running)) {
        if (!atomic_load(&wl->calibrating)) { /* off by a reload: parked, 20 ms a look */
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
            continue;
        }
        calibrate_heavy();
        calibrate_light();
    }
    return NULL;
}

/* demo.calibration turned on by a reload: its thread, if none runs. */
static void start_late_calibration(workload *wl)
{
    if (wl->set.calibration || wl->has_late_calibration)
        return;
    wl->late_worker.wl = wl;
    if (pthread_create(&wl->late_calibration, NULL, calibration_main, &wl->late_worker) != 0) {
        tkh_log(TK_LOG_WARN, "workload", "cannot start the calibration thread");
        return;
    }
    pthread_setname_np(wl->late_calibration, "calibration");
    wl->has_late_calibration = true;
}

/* ---- wall calibration: a known split between running and sleeping ---- */

static void add_ns(struct timespec *t, long ns)
{
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static int64_t elapsed_ns(const struct timespec *from, const struct timespec *to)
{
    return (int64_t)(to->tv_sec - from->tv_sec) * 1000000000 + (to->tv_nsec - from->tv_nsec);
}

/* Spins until `until` (CLOCK_MONOTONIC): wall time on the CPU, or
 * runnable when the machine is busy. */
static WORKLOAD_FRAME void wall_burn(const struct timespec *until)
{
    volatile uint64_t x = 1;
    struct timespec now;
    do {
        for (int i = 0; i < 2000; i++)
            x = x * 6364136223846793005ULL + 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (before(&now, until));
}

/* Sleeps until `until`, whatever signals come. */
static WORKLOAD_FRAME void wall_sleep(const struct timespec *until)
{
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, until, NULL) == EINTR)
        ;
}

/* 50 ms spinning, 50 ms asleep, on a fixed schedule. */
static void *wall_calibration_main(void *arg)
{
    workload *wl = ((worker *)arg)->wl;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    struct timespec a, b, c;
    while (atomic_load(&wl->running)) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        add_ns(&t, 50000000L);
        wall_burn(&t);
        clock_gettime(CLOCK_MONOTONIC, &b);
        add_ns(&t, 50000000L);
        wall_sleep(&t);
        clock_gettime(CLOCK_MONOTONIC, &c);
        atomic_fetch_add(&wl->burn_ns, (uint64_t)elapsed_ns(&a, &b));
        atomic_fetch_add(&wl->sleep_ns, (uint64_t)elapsed_ns(&b, &c));
    }
    return NULL;
}

/* ---- idle threads (demo.idle_threads) ---- */

static WORKLOAD_FRAME void idle_epoll_park(workload *wl)
{
    struct epoll_event ev;
    while (atomic_load(&wl->running))
        epoll_wait(wl->idle.epfd, &ev, 1, -1);
}

static WORKLOAD_FRAME void idle_cond_park(workload *wl)
{
    pthread_mutex_lock(&wl->idle.lock);
    while (atomic_load(&wl->running))
        pthread_cond_wait(&wl->idle.cond, &wl->idle.lock);
    pthread_mutex_unlock(&wl->idle.lock);
}

static void *idle_epoll_main(void *arg)
{
    idle_epoll_park(arg);
    return NULL;
}

static void *idle_cond_main(void *arg)
{
    idle_cond_park(arg);
    return NULL;
}

/* Sleeps 1 s at a time with plain nanosleep, counting the sleeps a
 * signal cut short. */
static WORKLOAD_FRAME void sleeper_nap(workload *wl)
{
    struct timespec ts = {1, 0}, left;
    if (nanosleep(&ts, &left) != 0 && errno == EINTR)
        atomic_fetch_add(&wl->idle.eintr, 1);
}

static void *sleeper_main(void *arg)
{
    workload *wl = arg;
    while (atomic_load(&wl->running))
        sleeper_nap(wl);
    return NULL;
}

static int start_idlers(workload *wl, char *err, size_t errlen)
{
    idlers *d = &wl->idle;
    int n = wl->set.idle_threads;
    d->threads = calloc((size_t)n, sizeof *d->threads);
    struct epoll_event ev = {.events = EPOLLIN};
    if (d->threads == NULL || d->epfd < 0 || d->evfd < 0 ||
        epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->evfd, &ev) != 0) {
        snprintf(err, errlen, "workload: cannot set up %d idle threads: %s", n, strerror(errno));
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 << 10);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = pthread_create(&d->threads[i], &attr, i % 2 ? idle_cond_main : idle_epoll_main, wl);
        if (rc == 0) {
            char name[16];
            snprintf(name, sizeof name, "idle-%d", i);
            pthread_setname_np(d->threads[i], name);
            d->n++;
        }
    }
    if (rc == 0 && (rc = pthread_create(&d->sleeper, &attr, sleeper_main, wl)) == 0) {
        pthread_setname_np(d->sleeper, "sleeper");
        d->has_sleeper = true;
    }
    pthread_attr_destroy(&attr);
    if (rc != 0)
        snprintf(err, errlen, "workload: cannot create idle thread %d of %d: %s", d->n + 1, n,
                 strerror(rc));
    return rc == 0 ? 0 : -1;
}

static void stop_idlers(workload *wl)
{
    idlers *d = &wl->idle;
    uint64_t one = 1;
    if (d->evfd >= 0 && write(d->evfd, &one, sizeof one) < 0)
        tkh_log(TK_LOG_WARN, "workload", "cannot wake the idle threads: %s", strerror(errno));
    pthread_mutex_lock(&d->lock);
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    for (int i = 0; i < d->n; i++)
        pthread_join(d->threads[i], NULL);
    if (d->has_sleeper)
        pthread_join(d->sleeper, NULL); /* within its 1 s nap */
    free(d->threads);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->evfd >= 0)
        close(d->evfd);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
}

/* ---- a mutex held for a while (workload hold_mutex) ---- */

static WORKLOAD_FRAME void wall_lock_wait(workload *wl)
{
    pthread_mutex_lock(&wl->hold.held);
    pthread_mutex_unlock(&wl->hold.held);
}

static void *waiter_main(void *arg)
{
    wall_lock_wait(arg);
    return NULL;
}

static void *holder_main(void *arg)
{
    workload *wl = arg;
    holder *h = &wl->hold;
    pthread_t waiter;
    pthread_mutex_lock(&h->held);
    bool waits = pthread_create(&waiter, NULL, waiter_main, wl) == 0;
    if (waits)
        pthread_setname_np(waiter, "mutex-waiter");
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    add_ns(&until, h->ms * 1000000L);
    wall_sleep(&until);
    pthread_mutex_unlock(&h->held);
    if (waits)
        pthread_join(waiter, NULL);
    atomic_fetch_add(&h->done, 1);
    return NULL;
}

int workload_hold_mutex(workload *wl, long ms, char *err, size_t errlen)
{
    holder *h = &wl->hold;
    int rc = 0;
    pthread_mutex_lock(&h->lock);
    if (h->running && atomic_load(&h->done) == 0) {
        snprintf(err, errlen, "a mutex is already held; wait for it (workload status: held)");
        rc = -1;
    } else {
        if (h->running)
            pthread_join(h->thread, NULL);
        atomic_store(&h->done, 0);
        h->ms = ms;
        h->running = pthread_create(&h->thread, NULL, holder_main, wl) == 0;
        if (!h->running) {
            snprintf(err, errlen, "cannot start the holder thread");
            rc = -1;
        } else {
            pthread_setname_np(h->thread, "mutex-holder");
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* ---- lifecycle ---- */

static int alloc_partitions(workload *wl)
{
    bool full;
    wl->log = klog_new(wl->set.partitions, wl->set.ntopics, 0, NULL, NULL);
    if (wl->log == NULL)
        return -1;
    klog_retain_records(wl->log, (uint64_t)wl->set.retain);
    for (int t = 0; t < wl->set.ntopics; t++) {
        const char *name = wl->set.topics[t].name;
        if ((wl->topic[t] = klog_topic_get(wl->log, name, strlen(name), true, &full)) == NULL)
            return -1;
    }
    return 0;
}

typedef void *(*thread_fn)(void *);

/* Thread i: producers first, then consumers (when demo.enabled), then
 * the calibration thread, then the wall calibration thread. Its name is
 * also its client_id. */
static thread_fn thread_main(const settings *set, int i, worker *w, char *name, size_t len)
{
    int producers = set->enabled ? set->producers : 0;
    int consumers = set->enabled ? set->consumers : 0;
    if (i < producers) {
        w->index = i;
        snprintf(name, len, "producer-%d", i);
        snprintf(w->client_id, sizeof w->client_id, "%s", name);
        return producer_main;
    }
    if (i < producers + consumers) {
        w->index = i - producers;
        snprintf(name, len, "consumer-%d", i - producers);
        snprintf(w->client_id, sizeof w->client_id, "%s", name);
        return consumer_main;
    }
    if (set->calibration && i == producers + consumers) {
        snprintf(name, len, "calibration");
        return calibration_main;
    }
    snprintf(name, len, "wall-calib");
    return wall_calibration_main;
}

static int start_threads(workload *wl, char *err, size_t errlen)
{
    int want = wl->set.enabled ? wl->set.producers + wl->set.consumers : 0;
    want += wl->set.calibration ? 1 : 0;
    want += wl->set.wall_calibration ? 1 : 0;
    wl->threads = calloc((size_t)want, sizeof *wl->threads);
    wl->workers = calloc((size_t)want, sizeof *wl->workers);
    if (wl->threads == NULL || wl->workers == NULL) {
        snprintf(err, errlen, "workload: out of memory");
        return -1;
    }
    atomic_store(&wl->running, true);
    for (int i = 0; i < want; i++) {
        char name[32];
        worker *w = &wl->workers[i];
        w->wl = wl;
        if (pthread_create(&wl->threads[i], NULL, thread_main(&wl->set, i, w, name, sizeof name),
                           w) != 0) {
            snprintf(err, errlen, "workload: cannot create thread %d of %d", i + 1, want);
            return -1;
        }
        name[15] = '\0'; /* the kernel's limit for thread names */
        pthread_setname_np(wl->threads[i], name);
        wl->nthreads++;
    }
    return 0;
}

workload *workload_start(const tkh_config *cfg, char *err, size_t errlen)
{
    workload *wl = calloc(1, sizeof *wl);
    if (wl == NULL) {
        snprintf(err, errlen, "workload: out of memory");
        return NULL;
    }
    wl->set = read_settings(cfg);
    if (parse_topics(tkh_config_lookup(cfg, "demo.topics"), &wl->set, err, errlen) != 0) {
        free(wl);
        return NULL;
    }
    atomic_store(&wl->rate, (long)cfg_int(cfg, "demo.rate"));
    atomic_store(&wl->labels, wl->set.labels);
    atomic_store(&wl->calibrating, wl->set.calibration);
    tkh_mutex_init(&wl->notify_lock);
    tkh_cond_init(&wl->notify);
    pthread_mutex_init(&wl->hold.lock, NULL);
    pthread_mutex_init(&wl->hold.held, NULL);
    pthread_mutex_init(&wl->idle.lock, NULL);
    pthread_cond_init(&wl->idle.cond, NULL);
    wl->idle.epfd = wl->set.idle_threads > 0 ? epoll_create1(EPOLL_CLOEXEC) : -1;
    wl->idle.evfd = wl->set.idle_threads > 0 ? eventfd(0, EFD_CLOEXEC) : -1;
    atomic_store(&wl->running, true);
    if (wl->set.idle_threads > 0 && start_idlers(wl, err, errlen) != 0) {
        workload_stop(wl);
        return NULL;
    }
    if (!wl->set.enabled && !wl->set.calibration && !wl->set.wall_calibration)
        return wl;
    if (alloc_partitions(wl) != 0) {
        snprintf(err, errlen, "workload: out of memory for %d partitions", wl->set.partitions);
        workload_stop(wl);
        return NULL;
    }
    if (start_threads(wl, err, errlen) != 0) {
        workload_stop(wl);
        return NULL;
    }
    tkh_log(TK_LOG_INFO, "workload", "%d producers, %d consumers, %d partitions, "
            "%d-byte records at %ld/s per producer", wl->set.producers, wl->set.consumers,
            wl->set.partitions, wl->set.record_bytes, atomic_load(&wl->rate));
    return wl;
}

/* Appends `key` to the comma-separated list in buf. */
static void add_key(char *buf, size_t len, const char *key)
{
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s", n ? ", " : "", key);
}

/* Names the keys that differ between a and b, field by field (a memcmp
 * would also compare the struct's padding, which holds anything). */
static void changed_keys(const settings *a, const settings *b, char *buf, size_t len)
{
    buf[0] = '\0';
    if (a->enabled != b->enabled)
        add_key(buf, len, "demo.enabled");
    if (a->calibration != b->calibration)
        add_key(buf, len, "demo.calibration");
    if (a->wall_calibration != b->wall_calibration)
        add_key(buf, len, "demo.wall_calibration");
    if (a->idle_threads != b->idle_threads)
        add_key(buf, len, "demo.idle_threads");
    if (a->producers != b->producers)
        add_key(buf, len, "demo.producers");
    if (a->consumers != b->consumers)
        add_key(buf, len, "demo.consumers");
    if (a->partitions != b->partitions)
        add_key(buf, len, "demo.partitions");
    if (a->record_bytes != b->record_bytes)
        add_key(buf, len, "demo.record_bytes");
    if (a->retain != b->retain)
        add_key(buf, len, "demo.retain_records");
    if (a->client_ids != b->client_ids)
        add_key(buf, len, "demo.client_ids");
    bool topics = a->ntopics != b->ntopics;
    for (int i = 0; !topics && i < a->ntopics; i++)
        topics = strcmp(a->topics[i].name, b->topics[i].name) != 0 ||
                 a->topics[i].weight != b->topics[i].weight;
    if (topics)
        add_key(buf, len, "demo.topics");
}

void workload_reconfigure(workload *wl, const tkh_config *cfg, char *applied, char *pending,
                          size_t len)
{
    settings next = read_settings(cfg);
    char ignored[256]; /* a bad value waits for the restart that applies it */
    parse_topics(tkh_config_lookup(cfg, "demo.topics"), &next, ignored, sizeof ignored);
    long rate = (long)cfg_int(cfg, "demo.rate");
    applied[0] = '\0';
    if (rate != atomic_load(&wl->rate)) {
        atomic_store(&wl->rate, rate);
        add_key(applied, len, "demo.rate");
        tkh_log(TK_LOG_INFO, "workload", "rate is now %ld records/s per producer", rate);
    }
    if (next.labels != atomic_load(&wl->labels)) {
        atomic_store(&wl->labels, next.labels);
        add_key(applied, len, "demo.labels");
    }
    if (next.calibration != atomic_load(&wl->calibrating)) {
        atomic_store(&wl->calibrating, next.calibration);
        if (next.calibration)
            start_late_calibration(wl);
        add_key(applied, len, "demo.calibration");
    }
    next.labels = wl->set.labels; /* not a pending change */
    next.calibration = wl->set.calibration;
    changed_keys(&wl->set, &next, pending, len);
    if (pending[0] != '\0')
        tkh_log(TK_LOG_WARN, "workload", "%s changed: they apply at the next start of "
                "takhind only; demo.rate changes live", pending);
}

void workload_status(const workload *wl, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"enabled\":%s,\"producers\":%d,\"consumers\":%d,\"rate\":%ld,"
             "\"produced\":%llu,\"consumed\":%llu,\"bytes_in\":%llu,\"corrupt\":%llu,"
             "\"idle_threads\":%d,\"eintr\":%llu,\"held\":%llu,\"wall_burn_ms\":%llu,"
             "\"wall_sleep_ms\":%llu}",
             wl->set.enabled ? "true" : "false", wl->set.producers, wl->set.consumers,
             atomic_load(&wl->rate), (unsigned long long)atomic_load(&wl->produced),
             (unsigned long long)atomic_load(&wl->consumed),
             (unsigned long long)atomic_load(&wl->bytes_in),
             (unsigned long long)atomic_load(&wl->corrupt), wl->idle.n,
             (unsigned long long)atomic_load(&wl->idle.eintr),
             (unsigned long long)atomic_load(&wl->hold.done),
             (unsigned long long)(atomic_load(&wl->burn_ns) / 1000000),
             (unsigned long long)(atomic_load(&wl->sleep_ns) / 1000000));
}

static void free_partitions(workload *wl)
{
    klog_free(wl->log);
}

void workload_stop(workload *wl)
{
    if (wl == NULL)
        return;
    atomic_store(&wl->running, false);
    tkh_mutex_lock(&wl->notify_lock);
    tkh_cond_broadcast(&wl->notify);
    tkh_mutex_unlock(&wl->notify_lock);
    for (int i = 0; i < wl->nthreads; i++)
        pthread_join(wl->threads[i], NULL);
    if (wl->has_late_calibration)
        pthread_join(wl->late_calibration, NULL);
    free(wl->threads);
    free(wl->workers);
    stop_idlers(wl);
    pthread_mutex_lock(&wl->hold.lock);
    if (wl->hold.running)
        pthread_join(wl->hold.thread, NULL);
    pthread_mutex_unlock(&wl->hold.lock);
    pthread_mutex_destroy(&wl->hold.held);
    pthread_mutex_destroy(&wl->hold.lock);
    free_partitions(wl);
    tkh_cond_destroy(&wl->notify);
    tkh_mutex_destroy(&wl->notify_lock);
    free(wl);
}
