/*
 * server/klog.h - the Kafka listener's log: topics of partitions, each an
 * in-memory sequence of record batches stored byte for byte as producers
 * sent them (the broker only writes the base offset into a batch's first
 * 8 bytes, which its CRC does not cover). Retention is by size: a
 * partition keeps its newest batches within `retain_bytes` (always the
 * newest one) and frees older ones, moving its log start offset; a log
 * may also keep at most a number of records (klog_retain_records).
 *
 * Two users, each with its own log: the Kafka listener (batches as clients
 * sent them) and the in-process workload (one record per entry, its own
 * format; workload.c), which writes entries it allocated itself
 * (klog_buffer_new, klog_append_buffer) so heap profiles name its frames.
 *
 * Thread-safe: topics are created under a rwlock and never removed while
 * the log lives; each partition has its own lock.
 */
#ifndef TAKHIN_SERVER_KLOG_H
#define TAKHIN_SERVER_KLOG_H

#include "kafka_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct klog klog;
typedef struct klog_topic klog_topic;

/* Called after each append, outside every lock (the listener wakes
 * parked fetches with it). */
typedef void (*klog_append_fn)(void *ctx);

klog *klog_new(int default_partitions, int max_topics, size_t retain_bytes,
               klog_append_fn on_append, void *ctx);
void klog_free(klog *log);
/* Also keeps at most about n records per partition (0: no limit), whole
 * entries only. Call before the first append. */
void klog_retain_records(klog *log, uint64_t n);

/* The topic called name[0..len); created with the default partition count
 * when absent and `create`. NULL when absent (not created) or when the log
 * already holds max_topics (*full set). */
klog_topic *klog_topic_get(klog *log, const char *name, size_t len, bool create, bool *full);
/* The number of topics, and topic i (0 <= i < count; topics are never removed). */
int klog_topic_count(klog *log);
klog_topic *klog_topic_at(klog *log, int i);
const char *klog_topic_name(const klog_topic *t);
int klog_topic_partitions(const klog_topic *t);

/* Appends one batch (len bytes, `count` records, the greatest timestamp
 * max_ts) to partition `part`: writes its base offset into the copy
 * stored and returns it. -1 when out of memory. */
int64_t klog_append(klog *log, klog_topic *t, int part, const unsigned char *batch, size_t len,
                    uint32_t count, int64_t max_ts);

typedef struct klog_offsets {
    int64_t start, next; /* log start offset, high watermark */
} klog_offsets;

/* A buffer of len bytes for klog_append_buffer, which takes it; or
 * klog_buffer_free. NULL when out of memory. */
unsigned char *klog_buffer_new(size_t len);
void klog_buffer_free(unsigned char *buf);
/* klog_append without the copy: stores `buf` (from klog_buffer_new) and
 * takes it, also on failure (-1). */
int64_t klog_append_buffer(klog *log, klog_topic *t, int part, unsigned char *buf,
                           uint32_t count, int64_t max_ts);

klog_offsets klog_offsets_of(klog_topic *t, int part);
/* The offset of the first batch whose greatest timestamp is >= ts, -1 if none. */
int64_t klog_offset_for_time(klog_topic *t, int part, int64_t ts);

/* Appends to `out` the batches from the one holding `offset` on, whole,
 * while they fit in max_bytes (the first always goes, as KIP-74 wants).
 * Returns the bytes written, or -1 when `offset` is outside
 * [start, next] (OFFSET_OUT_OF_RANGE). *off gets the partition's offsets. */
long klog_read(klog_topic *t, int part, int64_t offset, size_t max_bytes, kw *out,
               klog_offsets *off);

#endif
