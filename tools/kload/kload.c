/*
 * takhin-kload - a Kafka load generator on librdkafka: N producers and M
 * consumers, each its own client (client.id kload-producer-I,
 * kload-consumer-I), against any Kafka broker; takhind's tests, benchmarks
 * and demo drive its Kafka listener with it.
 *
 *   takhin-kload [-b HOST:PORT] [-producers N] [-consumers M] [-rate R]
 *                [-topics orders:3,audit:1] [-size BYTES] [-duration S]
 *                [-compression none|gzip] [-acks 0|1|-1] [-X key=value]...
 *
 * Each producer sends R records/s (0: as fast as librdkafka takes them),
 * spread over the topics by weight, keyed so they spread over partitions.
 * Consumers read every partition of the topics from the beginning,
 * without a consumer group, until they have seen what was acknowledged.
 * Prints one summary line (see print_result). Exit codes: 0 every record
 * acknowledged (and read back by each consumer), 1 otherwise, 2 usage.
 */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TOPICS 16
#define MAX_PROPS 32

typedef struct options {
    const char *brokers;
    int producers, consumers, size, acks;
    long rate;
    double duration;
    const char *compression;
    char *topics[MAX_TOPICS];
    int weights[MAX_TOPICS], ntopics;
    const char *props[MAX_PROPS];
    int nprops;
} options;

typedef struct producer {
    const options *o;
    int id;
    pthread_t thread;
    uint64_t sent, acked, failed;
    uint32_t *lat_us; /* one per acknowledged record */
    size_t nlat, cap;
    char err[256];
} producer;

typedef struct consumer {
    const options *o;
    int id;
    pthread_t thread;
    _Atomic uint64_t consumed;
    char err[256];
} consumer;

static _Atomic bool producing_done;
static _Atomic uint64_t total_acked;
static _Atomic bool interrupted;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_us(void)
{
    return (int64_t)(now_s() * 1e6);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: takhin-kload [-b HOST:PORT] [-producers N] [-consumers M] [-rate R]\n"
            "                    [-topics NAME:WEIGHT,...] [-size BYTES] [-duration SECONDS]\n"
            "                    [-compression none|gzip] [-acks 0|1|-1] [-X key=value]...\n"
            "  -b            broker (default 127.0.0.1:9092)\n"
            "  -producers    producer clients (default 1); -consumers: consumer clients (default 0)\n"
            "  -rate         records/s per producer (default 1000; 0: as fast as possible)\n"
            "  -topics       topics and weights (default orders:1)\n"
            "  -size         record value bytes (default 1024); -duration: seconds (default 10)\n"
            "  -X            any librdkafka property, for every client\n"
            "Exit codes: 0 all acknowledged (and read back), 1 not, 2 usage.\n");
}

static int parse_topics(options *o, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (o->ntopics == MAX_TOPICS)
            return -1;
        char *colon = strchr(t, ':');
        int w = 1;
        if (colon != NULL) {
            *colon = '\0';
            w = atoi(colon + 1);
        }
        if (*t == '\0' || w < 1 || w > 1000)
            return -1;
        o->topics[o->ntopics] = strdup(t);
        o->weights[o->ntopics++] = w;
    }
    free(copy);
    return o->ntopics > 0 ? 0 : -1;
}

static int parse_args(options *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0)
            return 1;
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "-b") == 0)
            o->brokers = v;
        else if (strcmp(a, "-producers") == 0)
            o->producers = atoi(v);
        else if (strcmp(a, "-consumers") == 0)
            o->consumers = atoi(v);
        else if (strcmp(a, "-rate") == 0)
            o->rate = atol(v);
        else if (strcmp(a, "-size") == 0)
            o->size = atoi(v);
        else if (strcmp(a, "-duration") == 0)
            o->duration = atof(v);
        else if (strcmp(a, "-acks") == 0)
            o->acks = atoi(v);
        else if (strcmp(a, "-compression") == 0)
            o->compression = v;
        else if (strcmp(a, "-topics") == 0) {
            o->ntopics = 0;
            if (parse_topics(o, v) != 0)
                return -1;
        } else if (strcmp(a, "-X") == 0 && o->nprops < MAX_PROPS && strchr(v, '=') != NULL)
            o->props[o->nprops++] = v;
        else
            return -1;
    }
    if (o->producers < 0 || o->producers > 256 || o->consumers < 0 || o->consumers > 256 ||
        o->rate < 0 || o->size < 0 || o->size > (16 << 20) || o->duration <= 0 ||
        (o->acks != 0 && o->acks != 1 && o->acks != -1))
        return -1;
    return 0;
}

/* A client configuration with the common properties and the -X ones. */
static rd_kafka_conf_t *make_conf(const options *o, const char *client_id, bool for_producer,
                                  char *err, size_t len)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char acks[8];
    snprintf(acks, sizeof acks, "%d", o->acks);
    const char *pairs[][2] = {
        {"bootstrap.servers", o->brokers}, {"client.id", client_id},
        {"request.required.acks", acks}, {"compression.codec", o->compression},
    };
    for (size_t i = 0; i < (for_producer ? 4u : 2u); i++)
        if (rd_kafka_conf_set(conf, pairs[i][0], pairs[i][1], err, len) != RD_KAFKA_CONF_OK)
            goto fail;
    for (int i = 0; i < o->nprops; i++) {
        char key[128];
        const char *eq = strchr(o->props[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->props[i]), o->props[i]);
        if (rd_kafka_conf_set(conf, key, eq + 1, err, len) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    err[0] = '\0';
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* ---- producers ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    producer *p = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (p->failed++ == 0)
            snprintf(p->err, sizeof p->err, "delivery failed: %s", rd_kafka_err2str(m->err));
        return;
    }
    p->acked++;
    atomic_fetch_add(&total_acked, 1);
    if (p->nlat == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        uint32_t *lat = realloc(p->lat_us, cap * sizeof *lat);
        if (lat == NULL)
            return;
        p->lat_us = lat;
        p->cap = cap;
    }
    int64_t us = now_us() - (int64_t)(intptr_t)m->_private;
    p->lat_us[p->nlat++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* A value that compresses like log lines, `size` bytes. */
static char *make_value(int size, int seed)
{
    static const char *const words[] = {"order", "user", "item", "price", "click", "session"};
    char *v = malloc((size_t)size + 32);
    int n = 0;
    while (v != NULL && n < size)
        n += snprintf(v + n, (size_t)size + 32 - (size_t)n, "%s=%d ", words[(n + seed) % 6],
                      (n * 7919 + seed) % 100000);
    return v;
}

/* Produces one record; false on an error other than a full queue. */
static bool send_one(producer *p, rd_kafka_t *rk, rd_kafka_topic_t *t, const char *value)
{
    char key[48];
    int klen = snprintf(key, sizeof key, "p%d-%" PRIu64, p->id, p->sent);
    for (;;) {
        if (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value,
                             (size_t)p->o->size, key, (size_t)klen,
                             (void *)(intptr_t)now_us()) == 0) {
            p->sent++;
            return true;
        }
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(p->err, sizeof p->err, "produce: %s", rd_kafka_err2str(e));
            return false;
        }
        rd_kafka_poll(rk, 1);
    }
}

static void *producer_main(void *arg)
{
    producer *p = arg;
    const options *o = p->o;
    char id[64];
    snprintf(id, sizeof id, "kload-producer-%d", p->id);
    rd_kafka_conf_t *conf = make_conf(o, id, true, p->err, sizeof p->err);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, p->err, sizeof p->err);
    if (rk == NULL)
        return NULL;
    rd_kafka_topic_t *topics[MAX_TOPICS];
    int wheel[MAX_TOPICS * 1000], nwheel = 0;
    for (int i = 0; i < o->ntopics; i++) {
        topics[i] = rd_kafka_topic_new(rk, o->topics[i], NULL);
        for (int w = 0; w < o->weights[i]; w++)
            wheel[nwheel++] = i;
    }
    char *value = make_value(o->size, p->id);
    double start = now_s(), end = start + o->duration;
    bool ok = value != NULL;
    while (ok && !atomic_load(&interrupted) && now_s() < end) {
        uint64_t due = o->rate > 0 ? (uint64_t)((now_s() - start) * (double)o->rate) + 1
                                   : p->sent + 1000;
        while (ok && p->sent < due)
            ok = send_one(p, rk, topics[wheel[p->sent % (uint64_t)nwheel]], value);
        rd_kafka_poll(rk, o->rate > 0 ? 1 : 0);
    }
    rd_kafka_flush(rk, 30000);
    if (rd_kafka_outq_len(rk) > 0 && p->err[0] == '\0')
        snprintf(p->err, sizeof p->err, "%d records still unacknowledged after 30 s",
                 rd_kafka_outq_len(rk));
    free(value);
    for (int i = 0; i < o->ntopics; i++)
        rd_kafka_topic_destroy(topics[i]);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ---- consumers ---- */

/* Starts consuming every partition of topic t into q from the beginning. */
/* The topic's metadata; waits up to 10 s for the producers to create it. */
static rd_kafka_resp_err_t topic_metadata(rd_kafka_t *rk, rd_kafka_topic_t *t,
                                          const rd_kafka_metadata_t **md)
{
    double end = now_s() + 10;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, md, 10000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (*md)->topic_cnt == 1)
            e = (*md)->topics[0].err;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR || now_s() > end ||
            e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return e;
        rd_kafka_metadata_destroy(*md);
        *md = NULL;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
}

/* Starts consuming every partition of topic `name` into q from the
 * beginning; *npart gets their number. */
static int consume_topic(consumer *c, rd_kafka_t *rk, const char *name, rd_kafka_queue_t *q,
                         rd_kafka_topic_t **out, int *npart)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, name, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = topic_metadata(rk, t, &md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(c->err, sizeof c->err, "metadata of %s: %s", name, rd_kafka_err2str(e));
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        return -1;
    }
    *npart = md->topics[0].partition_cnt;
    for (int i = 0; i < *npart; i++)
        rd_kafka_consume_start_queue(t, md->topics[0].partitions[i].id,
                                     RD_KAFKA_OFFSET_BEGINNING, q);
    *out = t;
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void *consumer_main(void *arg)
{
    consumer *c = arg;
    const options *o = c->o;
    char id[64];
    snprintf(id, sizeof id, "kload-consumer-%d", c->id);
    rd_kafka_conf_t *conf = make_conf(o, id, false, c->err, sizeof c->err);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, c->err, sizeof c->err) : NULL;
    if (rk == NULL)
        return NULL;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_topic_t *topics[MAX_TOPICS] = {0};
    int started = 0, npart[MAX_TOPICS] = {0};
    while (started < o->ntopics &&
           consume_topic(c, rk, o->topics[started], q, &topics[started], &npart[started]) == 0)
        started++;
    double drain_end = 0;
    while (started == o->ntopics && !atomic_load(&interrupted)) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
        if (m != NULL) {
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                atomic_fetch_add(&c->consumed, 1);
            rd_kafka_message_destroy(m);
        }
        if (!atomic_load(&producing_done))
            continue;
        if (atomic_load(&c->consumed) >= atomic_load(&total_acked))
            break;
        if (drain_end == 0)
            drain_end = now_s() + 30;
        if (now_s() > drain_end) {
            snprintf(c->err, sizeof c->err, "read back %" PRIu64 " of %" PRIu64 " records in 30 s",
                     atomic_load(&c->consumed), atomic_load(&total_acked));
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        for (int part = 0; part < npart[i]; part++)
            rd_kafka_consume_stop(topics[i], part);
        rd_kafka_topic_destroy(topics[i]);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ---- results ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_ms(const uint32_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

/* The summary line: key=value pairs, for people and scripts alike. */
static int print_result(const options *o, producer *ps, consumer *cs, double seconds)
{
    uint64_t sent = 0, acked = 0, failed = 0;
    size_t nlat = 0;
    for (int i = 0; i < o->producers; i++)
        nlat += ps[i].nlat;
    uint32_t *all = malloc((nlat ? nlat : 1) * sizeof *all);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i < o->producers; i++) {
        sent += ps[i].sent, acked += ps[i].acked, failed += ps[i].failed;
        if (all != NULL)
            memcpy(all + at, ps[i].lat_us, ps[i].nlat * sizeof *all);
        at += ps[i].nlat;
        if (ps[i].err[0] != '\0') {
            fprintf(stderr, "takhin-kload: producer %d: %s\n", i, ps[i].err);
            rc = 1;
        }
    }
    if (all != NULL)
        qsort(all, nlat, sizeof *all, cmp_u32);
    uint64_t min_consumed = UINT64_MAX;
    for (int i = 0; i < o->consumers; i++) {
        uint64_t n = atomic_load(&cs[i].consumed);
        min_consumed = n < min_consumed ? n : min_consumed;
        if (cs[i].err[0] != '\0') {
            fprintf(stderr, "takhin-kload: consumer %d: %s\n", i, cs[i].err);
            rc = 1;
        }
    }
    printf("produced=%" PRIu64 " acked=%" PRIu64 " failed=%" PRIu64 " seconds=%.2f "
           "records_per_s=%.0f p50_ms=%.3f p99_ms=%.3f consumers=%d consumed_min=%" PRIu64 "\n",
           sent, acked, failed, seconds, (double)acked / seconds,
           all ? percentile_ms(all, nlat, 0.5) : 0, all ? percentile_ms(all, nlat, 0.99) : 0,
           o->consumers, o->consumers ? min_consumed : 0);
    free(all);
    if (acked != sent || failed != 0 || (o->consumers > 0 && min_consumed < acked))
        rc = 1;
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

int main(int argc, char **argv)
{
    options o = {.brokers = "127.0.0.1:9092", .producers = 1, .rate = 1000, .size = 1024,
                 .duration = 10, .compression = "none", .acks = 1};
    int prc = parse_args(&o, argc, argv);
    if (prc != 0) {
        usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    if (o.ntopics == 0)
        parse_topics(&o, "orders:1");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    producer *ps = calloc((size_t)o.producers + 1, sizeof *ps);
    consumer *cs = calloc((size_t)o.consumers + 1, sizeof *cs);
    if (ps == NULL || cs == NULL)
        return 1;
    double start = now_s();
    for (int i = 0; i < o.producers; i++) {
        ps[i] = (producer){.o = &o, .id = i};
        pthread_create(&ps[i].thread, NULL, producer_main, &ps[i]);
    }
    for (int i = 0; i < o.consumers; i++) {
        cs[i].o = &o;
        cs[i].id = i;
        pthread_create(&cs[i].thread, NULL, consumer_main, &cs[i]);
    }
    for (int i = 0; i < o.producers; i++)
        pthread_join(ps[i].thread, NULL);
    double seconds = now_s() - start;
    atomic_store(&producing_done, true);
    for (int i = 0; i < o.consumers; i++)
        pthread_join(cs[i].thread, NULL);
    int rc = print_result(&o, ps, cs, seconds);
    for (int i = 0; i < o.producers; i++)
        free(ps[i].lat_us);
    for (int i = 0; i < o.ntopics; i++)
        free(o.topics[i]);
    free(ps);
    free(cs);
    return rc;
}
