/* The Kafka listener's log: see klog.h. */
#include "klog.h"

#include "takhin/host/sync.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define KLOG_FRAME __attribute__((noinline))

typedef struct kbatch {
    int64_t base, max_ts;
    uint32_t count;
    uint32_t len;
    unsigned char data[];
} kbatch;

/* The batches of a partition, oldest first, in a ring that doubles. */
typedef struct kpart {
    tkh_mutex lock;
    kbatch **ring;
    size_t cap, first, n;
    size_t bytes;
    int64_t start, next;
} kpart;

struct klog_topic {
    char *name;
    int npart;
    kpart *parts;
};

struct klog {
    pthread_rwlock_t lock;
    klog_topic **topics;
    int ntopics, max_topics, default_partitions;
    size_t retain_bytes;
    uint64_t retain_records;
    klog_append_fn on_append;
    void *ctx;
};

klog *klog_new(int default_partitions, int max_topics, size_t retain_bytes,
               klog_append_fn on_append, void *ctx)
{
    klog *log = calloc(1, sizeof *log);
    if (log == NULL)
        return NULL;
    log->topics = calloc((size_t)max_topics, sizeof *log->topics);
    if (log->topics == NULL) {
        free(log);
        return NULL;
    }
    pthread_rwlock_init(&log->lock, NULL);
    log->max_topics = max_topics;
    log->default_partitions = default_partitions;
    log->retain_bytes = retain_bytes;
    log->on_append = on_append;
    log->ctx = ctx;
    return log;
}

static void topic_free(klog_topic *t)
{
    for (int i = 0; t->parts != NULL && i < t->npart; i++) {
        kpart *p = &t->parts[i];
        for (size_t j = 0; j < p->n; j++)
            free(p->ring[(p->first + j) % p->cap]);
        free(p->ring);
        tkh_mutex_destroy(&p->lock);
    }
    free(t->parts);
    free(t->name);
    free(t);
}

void klog_free(klog *log)
{
    if (log == NULL)
        return;
    for (int i = 0; i < log->ntopics; i++)
        topic_free(log->topics[i]);
    free(log->topics);
    pthread_rwlock_destroy(&log->lock);
    free(log);
}

static klog_topic *topic_new(const char *name, size_t len, int npart)
{
    klog_topic *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->name = strndup(name, len);
    t->parts = calloc((size_t)npart, sizeof *t->parts);
    if (t->name == NULL || t->parts == NULL) {
        topic_free(t);
        return NULL;
    }
    t->npart = npart;
    for (int i = 0; i < npart; i++)
        tkh_mutex_init(&t->parts[i].lock);
    return t;
}

static klog_topic *find(klog *log, const char *name, size_t len)
{
    for (int i = 0; i < log->ntopics; i++)
        if (strlen(log->topics[i]->name) == len && memcmp(log->topics[i]->name, name, len) == 0)
            return log->topics[i];
    return NULL;
}

klog_topic *klog_topic_get(klog *log, const char *name, size_t len, bool create, bool *full)
{
    *full = false;
    pthread_rwlock_rdlock(&log->lock);
    klog_topic *t = find(log, name, len);
    pthread_rwlock_unlock(&log->lock);
    if (t != NULL || !create)
        return t;
    pthread_rwlock_wrlock(&log->lock);
    t = find(log, name, len); /* another thread may have made it meanwhile */
    if (t == NULL && log->ntopics == log->max_topics)
        *full = true;
    else if (t == NULL && (t = topic_new(name, len, log->default_partitions)) != NULL)
        log->topics[log->ntopics++] = t;
    pthread_rwlock_unlock(&log->lock);
    return t;
}

void klog_retain_records(klog *log, uint64_t n)
{
    log->retain_records = n;
}

int klog_topic_count(klog *log)
{
    pthread_rwlock_rdlock(&log->lock);
    int n = log->ntopics;
    pthread_rwlock_unlock(&log->lock);
    return n;
}

klog_topic *klog_topic_at(klog *log, int i)
{
    pthread_rwlock_rdlock(&log->lock);
    klog_topic *t = log->topics[i];
    pthread_rwlock_unlock(&log->lock);
    return t;
}

const char *klog_topic_name(const klog_topic *t) { return t->name; }
int klog_topic_partitions(const klog_topic *t) { return t->npart; }

static kbatch *at(const kpart *p, size_t i)
{
    return p->ring[(p->first + i) % p->cap];
}

static int ring_push(kpart *p, kbatch *b)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        kbatch **ring = malloc(cap * sizeof *ring);
        if (ring == NULL)
            return -1;
        for (size_t i = 0; i < p->n; i++)
            ring[i] = at(p, i);
        free(p->ring);
        p->ring = ring;
        p->cap = cap;
        p->first = 0;
    }
    p->ring[(p->first + p->n++) % p->cap] = b;
    return 0;
}

/* Frees the oldest batches beyond the retention, keeping the newest. */
static void retain(kpart *p, const klog *log)
{
    while (p->n > 1 && ((log->retain_bytes > 0 && p->bytes > log->retain_bytes) ||
                        (log->retain_records > 0 &&
                         (uint64_t)(p->next - at(p, 1)->base) >= log->retain_records))) {
        kbatch *old = at(p, 0);
        p->bytes -= old->len;
        p->first = (p->first + 1) % p->cap;
        p->n--;
        p->start = at(p, 0)->base;
        free(old);
    }
}

unsigned char *klog_buffer_new(size_t len)
{
    kbatch *b = malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    b->len = (uint32_t)len;
    return b->data;
}

static kbatch *batch_of(unsigned char *buf)
{
    return (kbatch *)(buf - offsetof(kbatch, data));
}

void klog_buffer_free(unsigned char *buf)
{
    if (buf != NULL)
        free(batch_of(buf));
}

KLOG_FRAME int64_t klog_append_buffer(klog *log, klog_topic *t, int part, unsigned char *buf,
                                      uint32_t count, int64_t max_ts)
{
    kbatch *b = batch_of(buf);
    b->count = count;
    b->max_ts = max_ts;
    kpart *p = &t->parts[part];
    tkh_mutex_lock(&p->lock);
    b->base = p->next;
    kw_store_be64(b->data, (uint64_t)b->base);
    if (ring_push(p, b) != 0) {
        tkh_mutex_unlock(&p->lock);
        free(b);
        return -1;
    }
    p->next += count;
    p->bytes += b->len;
    retain(p, log);
    int64_t base = b->base; /* b may be freed by the next append once unlocked */
    tkh_mutex_unlock(&p->lock);
    if (log->on_append != NULL)
        log->on_append(log->ctx);
    return base;
}

KLOG_FRAME int64_t klog_append(klog *log, klog_topic *t, int part, const unsigned char *batch,
                               size_t len, uint32_t count, int64_t max_ts)
{
    unsigned char *buf = klog_buffer_new(len);
    if (buf == NULL)
        return -1;
    memcpy(buf, batch, len);
    return klog_append_buffer(log, t, part, buf, count, max_ts);
}

klog_offsets klog_offsets_of(klog_topic *t, int part)
{
    kpart *p = &t->parts[part];
    tkh_mutex_lock(&p->lock);
    klog_offsets o = {p->start, p->next};
    tkh_mutex_unlock(&p->lock);
    return o;
}

int64_t klog_offset_for_time(klog_topic *t, int part, int64_t ts)
{
    kpart *p = &t->parts[part];
    int64_t found = -1;
    tkh_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n && found < 0; i++)
        if (at(p, i)->max_ts >= ts)
            found = at(p, i)->base;
    tkh_mutex_unlock(&p->lock);
    return found;
}

/* The index of the batch holding `offset` (binary search on base offsets). */
static size_t find_batch(const kpart *p, int64_t offset)
{
    size_t lo = 0, hi = p->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(p, mid)->base <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

KLOG_FRAME long klog_read(klog_topic *t, int part, int64_t offset, size_t max_bytes, kw *out,
                          klog_offsets *off)
{
    kpart *p = &t->parts[part];
    long written = 0;
    tkh_mutex_lock(&p->lock);
    *off = (klog_offsets){p->start, p->next};
    if (offset < p->start || offset > p->next) {
        tkh_mutex_unlock(&p->lock);
        return -1;
    }
    for (size_t i = offset < p->next ? find_batch(p, offset) : p->n; i < p->n; i++) {
        const kbatch *b = at(p, i);
        if (written > 0 && (size_t)written + b->len > max_bytes)
            break;
        kw_raw(out, b->data, b->len);
        written += b->len;
    }
    tkh_mutex_unlock(&p->lock);
    return written;
}
