/* The reference server's workload: see workload.h. */
#include "workload.h"

#include "takhin/host/context.h"
#include "takhin/host/log.h"
#include "takhin/host/sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    {"topics", TK_CONFIG_STRING, "", 0, 0,
     "topics with record weights, \"orders:3,audit:1\"; partitions go round-robin to them; "
     "empty: topic demo-N of partition N"},
    {"labels", TK_CONFIG_BOOL, "true", 0, 0,
     "set each request's context (kafka_api, topic, client_id), live; off: for benchmarks"},
    {"client_ids", TK_CONFIG_INT, "0", 0, 1000000,
     "distinct client_id labels the producers cycle through; 0: producer-N"},
    {0},
};

/* One stored record: compressed payload plus the producer's hash. */
typedef struct log_entry {
    uint64_t hash;
    uint32_t crc;
    uint32_t raw_len;
    uint32_t len;
    unsigned char data[];
} log_entry;

#define MAX_TOPICS 16

typedef struct topic {
    char name[64];
    int weight;
} topic;

typedef struct partition {
    tkh_mutex lock;
    const char *topic; /* its topic's name (the request context's topic) */
    char own_topic[16]; /* "demo-N" without demo.topics */
    log_entry **ring; /* the newest `retain` records; owned */
    uint64_t next;    /* offset of the next record */
} partition;

typedef struct settings {
    bool enabled, calibration, labels;
    int producers, consumers, partitions, record_bytes, retain, client_ids;
    topic topics[MAX_TOPICS];
    int ntopics, weights; /* weights: their sum */
} settings;

/* One workload thread's own: its index among its kind, its client_id. */
typedef struct worker {
    struct workload *wl;
    int index;
    char client_id[32];
    uint64_t seq; /* records produced (topic and client_id choice) */
    /* Its request contexts, interned at first use (takhin/host/context.h):
     * by partition, for its topic; and a produce's before the topic is
     * known. Switching to one then costs a pointer store. */
    const tk_context **by_partition, *untopic;
} worker;

struct workload {
    settings set;
    _Atomic long rate;
    _Atomic bool labels;         /* demo.labels: live */
    _Atomic bool running;
    partition *parts;
    tkh_mutex notify_lock;       /* consumers wait here for new records */
    tkh_cond notify;
    uint64_t appended;           /* under notify_lock */
    _Atomic uint64_t produced, consumed, bytes_in, corrupt;
    pthread_t *threads;
    worker *workers;
    int nworkers, nthreads;
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
        .labels = tkh_config_lookup(cfg, "demo.labels")->b,
        .producers = (int)cfg_int(cfg, "demo.producers"),
        .consumers = (int)cfg_int(cfg, "demo.consumers"),
        .partitions = (int)cfg_int(cfg, "demo.partitions"),
        .record_bytes = (int)cfg_int(cfg, "demo.record_bytes"),
        .retain = (int)cfg_int(cfg, "demo.retain_records"),
        .client_ids = (int)cfg_int(cfg, "demo.client_ids"),
    };
}

/* demo.topics: "name[:weight],..." into set->topics. 0, or -1 with err. */
static int parse_topics(const char *text, settings *set, char *err, size_t errlen)
{
    set->ntopics = set->weights = 0;
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, ",:");
        int weight = 1;
        const char *next = p + n;
        if (*next == ':') {
            char *end;
            long w = strtol(next + 1, &end, 10);
            if (end == next + 1 || w < 1 || w > 1000 || (*end != ',' && *end != '\0')) {
                snprintf(err, errlen, "demo.topics = \"%s\": expected name:weight with a "
                         "weight from 1 to 1000, comma-separated", text);
                return -1;
            }
            weight = (int)w;
            next = end;
        }
        if (n == 0 || n >= sizeof set->topics[0].name || set->ntopics == MAX_TOPICS) {
            snprintf(err, errlen, "demo.topics = \"%s\": expected 1 to %d names of 1 to 63 "
                     "characters", text, MAX_TOPICS);
            return -1;
        }
        topic *t = &set->topics[set->ntopics++];
        snprintf(t->name, sizeof t->name, "%.*s", (int)n, p);
        t->weight = weight;
        set->weights += weight;
        p = *next == ',' ? next + 1 : next;
    }
    if (set->ntopics > set->partitions) {
        snprintf(err, errlen, "demo.topics names %d topics but demo.partitions is %d: each "
                 "topic needs a partition", set->ntopics, set->partitions);
        return -1;
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
    log_entry *e = malloc(sizeof *e + bound);
    if (e == NULL)
        return NULL;
    if (compress2(e->data, &bound, p, (uLong)len, 1) != Z_OK) {
        free(e);
        return NULL;
    }
    e->hash = hash;
    e->raw_len = (uint32_t)len;
    e->len = (uint32_t)bound;
    return e;
}

/* CRC-32C (Castagnoli), as Kafka record batches carry it; bytewise. */
static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
        crc32c_table[i] = c;
    }
}

static uint32_t crc32c(const unsigned char *p, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    uint32_t crc = ~0u;
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* Stores an entry at the head of a partition, checking its CRC-32C as a
 * broker validates a batch on append; frees what falls off. */
static WORKLOAD_FRAME void log_write(workload *wl, partition *part, log_entry *e)
{
    e->crc = crc32c(e->data, e->len);
    size_t slot = part->next % (uint64_t)wl->set.retain;
    free(part->ring[slot]);
    part->ring[slot] = e;
    part->next++;
}

static WORKLOAD_FRAME void storage_append(workload *wl, partition *part, log_entry *e)
{
    tkh_mutex_lock(&part->lock);
    log_write(wl, part, e);
    tkh_mutex_unlock(&part->lock);
    tkh_mutex_lock(&wl->notify_lock);
    wl->appended++;
    tkh_cond_broadcast(&wl->notify);
    tkh_mutex_unlock(&wl->notify_lock);
}

/* The topic of a producer's next record by demo.topics' weights (-1:
 * none configured), and the partition of its hash within that topic's
 * (partitions go round-robin to the topics). */
static int pick_topic(const settings *set, uint64_t seq)
{
    if (set->ntopics == 0)
        return -1;
    int at = (int)(seq % (uint64_t)set->weights), t = 0;
    while (at >= set->topics[t].weight)
        at -= set->topics[t++].weight;
    return t;
}

static partition *pick_partition(workload *wl, int t, uint64_t hash)
{
    if (t < 0)
        return &wl->parts[hash % (uint64_t)wl->set.partitions];
    int n = wl->set.ntopics, of_topic = (wl->set.partitions - t + n - 1) / n;
    return &wl->parts[t + (int)(hash % (uint64_t)of_topic) * n];
}

/* Enters the context of a produce by `client_id` to partition p's topic
 * (p < 0: no topic yet); returns the one it replaces. The worker's own
 * client_id's are interned once; cycled ones (demo.client_ids) each time. */
static const tk_context *produce_context(workload *wl, worker *w, const char *client_id, int p)
{
    tk_context_pair ctx[3] = {{"kafka_api", "Produce"}, {"client_id", client_id},
                              {"topic", p >= 0 ? wl->parts[p].topic : NULL}};
    size_t n = p >= 0 ? 3 : 2;
    if (client_id != w->client_id || w->by_partition == NULL)
        return tkh_context_set(ctx, n);
    const tk_context **slot = p >= 0 ? &w->by_partition[p] : &w->untopic;
    if (*slot == NULL)
        *slot = tkh_context_intern(ctx, n);
    return tkh_context_enter(*slot);
}

/* Handles one produce request: hash, compress, append. Takes `payload`.
 * The thread's request context says what for, as a Kafka produce would:
 * kafka_api, topic, client_id. */
static WORKLOAD_FRAME void produce_handle(workload *wl, worker *w, unsigned char *payload, int len)
{
    int64_t span = tkh_span_begin();
    char client[24];
    const char *client_id = w->client_id;
    if (wl->set.client_ids > 0) {
        snprintf(client, sizeof client, "client-%llu", (unsigned long long)
                 ((w->seq * (uint64_t)wl->set.producers + (uint64_t)w->index) %
                  (uint64_t)wl->set.client_ids));
        client_id = client;
    }
    int t = pick_topic(&wl->set, w->seq++);
    bool labels = atomic_load_explicit(&wl->labels, memory_order_relaxed);
    /* Partition t is topic t's first (round-robin): its context is the topic's. */
    const tk_context *prev = labels ? produce_context(wl, w, client_id, t) : NULL;
    uint64_t hash = record_hash(payload, len);
    partition *part = pick_partition(wl, t, hash);
    if (labels && t < 0) /* the topic is the partition's: known now */
        produce_context(wl, w, client_id, (int)(part - wl->parts));
    log_entry *e = record_compress(payload, len, hash);
    free(payload);
    if (e != NULL) {
        storage_append(wl, part, e);
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
static WORKLOAD_FRAME bool record_verify(const log_entry *e, unsigned char *scratch)
{
    uLongf raw = e->raw_len;
    if (uncompress(scratch, &raw, e->data, e->len) != Z_OK || raw != e->raw_len)
        return false;
    return record_hash(scratch, (int)raw) == e->hash;
}

/* Reads what is new in one partition since *offset (records that were
 * evicted meanwhile are skipped), in the context of a fetch of its topic. */
static WORKLOAD_FRAME void partition_read(workload *wl, worker *w, partition *part,
                                          uint64_t *offset, unsigned char *scratch)
{
    bool labels = atomic_load_explicit(&wl->labels, memory_order_relaxed);
    const tk_context *prev = NULL;
    if (labels) {
        const tk_context **c = &w->by_partition[part - wl->parts];
        tk_context_pair ctx[3] = {{"kafka_api", "Fetch"}, {"topic", part->topic},
                                  {"client_id", w->client_id}};
        if (*c == NULL)
            *c = tkh_context_intern(ctx, 3);
        prev = tkh_context_enter(*c);
    }
    tkh_mutex_lock(&part->lock);
    uint64_t oldest = part->next > (uint64_t)wl->set.retain ? part->next - (uint64_t)wl->set.retain : 0;
    if (*offset < oldest)
        *offset = oldest;
    for (; *offset < part->next; (*offset)++) {
        const log_entry *e = part->ring[*offset % (uint64_t)wl->set.retain];
        if (!record_verify(e, scratch))
            atomic_fetch_add(&wl->corrupt, 1);
        atomic_fetch_add(&wl->consumed, 1);
    }
    tkh_mutex_unlock(&part->lock);
    if (labels)
        tkh_context_restore(prev);
}

/* Waits on the condition variable until records arrive, then reads them. */
static WORKLOAD_FRAME void consume_records(workload *wl, worker *w, uint64_t *offsets,
                                           uint64_t *seen, unsigned char *scratch)
{
    tkh_mutex_lock(&wl->notify_lock);
    while (wl->appended == *seen && atomic_load(&wl->running))
        tkh_cond_wait(&wl->notify, &wl->notify_lock);
    *seen = wl->appended;
    tkh_mutex_unlock(&wl->notify_lock);
    int64_t span = tkh_span_begin();
    for (int i = 0; i < wl->set.partitions; i++)
        partition_read(wl, w, &wl->parts[i], &offsets[i], scratch);
    tkh_span_end("consume", span);
}

static void *consumer_main(void *arg)
{
    worker *w = arg;
    workload *wl = w->wl;
    uint64_t *offsets = calloc((size_t)wl->set.partitions, sizeof *offsets);
    unsigned char *scratch = malloc((size_t)wl->set.record_bytes);
    uint64_t seen = 0;
    while (offsets != NULL && scratch != NULL && atomic_load(&wl->running))
        consume_records(wl, w, offsets, &seen, scratch);
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
        calibrate_heavy();
        calibrate_light();
    }
    return NULL;
}

/* ---- lifecycle ---- */

static int alloc_partitions(workload *wl)
{
    wl->parts = calloc((size_t)wl->set.partitions, sizeof *wl->parts);
    if (wl->parts == NULL)
        return -1;
    for (int i = 0; i < wl->set.partitions; i++) {
        partition *part = &wl->parts[i];
        snprintf(part->own_topic, sizeof part->own_topic, "demo-%d", i);
        part->topic = wl->set.ntopics > 0 ? wl->set.topics[i % wl->set.ntopics].name
                                          : part->own_topic;
        tkh_mutex_init(&wl->parts[i].lock);
        wl->parts[i].ring = calloc((size_t)wl->set.retain, sizeof(log_entry *));
        if (wl->parts[i].ring == NULL)
            return -1;
    }
    return 0;
}

typedef void *(*thread_fn)(void *);

/* Thread i: producers first, then consumers (when demo.enabled), then
 * the calibration thread. Its name is also its client_id. */
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
    snprintf(name, len, "calibration");
    return calibration_main;
}

static int start_threads(workload *wl, char *err, size_t errlen)
{
    int want = wl->set.enabled ? wl->set.producers + wl->set.consumers : 0;
    want += wl->set.calibration ? 1 : 0;
    wl->threads = calloc((size_t)want, sizeof *wl->threads);
    wl->workers = calloc((size_t)want, sizeof *wl->workers);
    wl->nworkers = wl->workers != NULL ? want : 0;
    if (wl->threads == NULL || wl->workers == NULL) {
        snprintf(err, errlen, "workload: out of memory");
        return -1;
    }
    atomic_store(&wl->running, true);
    for (int i = 0; i < want; i++) {
        char name[32];
        worker *w = &wl->workers[i];
        w->wl = wl;
        if ((w->by_partition = calloc((size_t)wl->set.partitions, sizeof *w->by_partition)) == NULL) {
            snprintf(err, errlen, "workload: out of memory");
            return -1;
        }
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
    if (parse_topics(tkh_config_lookup(cfg, "demo.topics")->s, &wl->set, err, errlen) != 0) {
        free(wl);
        return NULL;
    }
    atomic_store(&wl->rate, (long)cfg_int(cfg, "demo.rate"));
    atomic_store(&wl->labels, wl->set.labels);
    tkh_mutex_init(&wl->notify_lock);
    tkh_cond_init(&wl->notify);
    if (!wl->set.enabled && !wl->set.calibration)
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
    parse_topics(tkh_config_lookup(cfg, "demo.topics")->s, &next, ignored, sizeof ignored);
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
    next.labels = wl->set.labels; /* not a pending change */
    changed_keys(&wl->set, &next, pending, len);
    if (pending[0] != '\0')
        tkh_log(TK_LOG_WARN, "workload", "%s changed: they apply at the next start of "
                "takhind only; demo.rate changes live", pending);
}

void workload_status(const workload *wl, char *buf, size_t len)
{
    snprintf(buf, len,
             "{\"enabled\":%s,\"producers\":%d,\"consumers\":%d,\"rate\":%ld,"
             "\"produced\":%llu,\"consumed\":%llu,\"bytes_in\":%llu,\"corrupt\":%llu}",
             wl->set.enabled ? "true" : "false", wl->set.producers, wl->set.consumers,
             atomic_load(&wl->rate), (unsigned long long)atomic_load(&wl->produced),
             (unsigned long long)atomic_load(&wl->consumed),
             (unsigned long long)atomic_load(&wl->bytes_in),
             (unsigned long long)atomic_load(&wl->corrupt));
}

static void free_partitions(workload *wl)
{
    for (int i = 0; wl->parts != NULL && i < wl->set.partitions; i++) {
        for (int j = 0; wl->parts[i].ring != NULL && j < wl->set.retain; j++)
            free(wl->parts[i].ring[j]);
        free(wl->parts[i].ring);
        tkh_mutex_destroy(&wl->parts[i].lock);
    }
    free(wl->parts);
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
    free(wl->threads);
    for (int i = 0; i < wl->nworkers; i++)
        free(wl->workers[i].by_partition);
    free(wl->workers);
    free_partitions(wl);
    tkh_cond_destroy(&wl->notify);
    tkh_mutex_destroy(&wl->notify_lock);
    free(wl);
}
