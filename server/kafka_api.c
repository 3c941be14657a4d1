/* The Kafka requests takhind answers: see kafka_api.h. Field layouts follow
 * the protocol guide (kafka.apache.org/protocol) for the versions served. */
#include "kafka_api.h"

#include "crc32c.h"

#include "takhin/host/context.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* Profiles must show the request path by name: keep these out of line. */
#define KAFKA_FRAME __attribute__((noinline))

enum {
    ERR_NONE = 0,
    ERR_OFFSET_OUT_OF_RANGE = 1,
    ERR_CORRUPT_MESSAGE = 2,
    ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    ERR_INVALID_TOPIC = 17,
    ERR_INVALID_REQUIRED_ACKS = 21,
    ERR_UNSUPPORTED_VERSION = 35,
    ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
};

enum { API_PRODUCE = 0, API_FETCH = 1, API_LIST_OFFSETS = 2, API_METADATA = 3,
       API_VERSIONS = 18 };

const char *const kprob_names[KPROB_COUNT] = {
    "none", "oversized", "negative_length", "truncated", "unknown_api", "unsupported_version",
    "bad_crc", "bad_batch",
};

const char *const kafka_api_names[KAFKA_API_KEYS] = {
    [API_PRODUCE] = "produce", [API_FETCH] = "fetch", [API_LIST_OFFSETS] = "list_offsets",
    [API_METADATA] = "metadata", [API_VERSIONS] = "api_versions",
};

typedef struct req_header {
    int16_t key, version;
    int32_t correlation;
    kr_span client_id;
} req_header;

/* Kafka's names of the APIs: the kafka_api label of the request context. */
static const char *const kafka_api_labels[KAFKA_API_KEYS] = {
    [API_PRODUCE] = "Produce", [API_FETCH] = "Fetch", [API_LIST_OFFSETS] = "ListOffsets",
    [API_METADATA] = "Metadata", [API_VERSIONS] = "ApiVersions",
};

/* A wire string as C text, cut where it would not fit (the host cuts it
 * again to its bound, on a UTF-8 boundary). */
static void span_text(char *buf, size_t len, kr_span s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    if (n >= len)
        n = len - 1;
    memcpy(buf, s.p, n);
    buf[n] = '\0';
}

/* Sets the calling thread's request context (takhin/host/context.h) to
 * the work of request h, on `topic` when it is not empty: kafka_api,
 * topic, client_id. Returns the context it replaces. */
static const tk_context *request_context(const req_header *h, kr_span topic)
{
    char client[2 * TK_CONTEXT_MAX_BYTES], name[2 * TK_CONTEXT_MAX_BYTES];
    span_text(client, sizeof client, h->client_id);
    span_text(name, sizeof name, topic);
    tk_context_pair with_topic[3] = {{"kafka_api", kafka_api_labels[h->key]}, {"topic", name},
                                     {"client_id", client}};
    tk_context_pair without[2] = {{"kafka_api", kafka_api_labels[h->key]},
                                  {"client_id", client}};
    return topic.len > 0 ? tkh_context_set(with_topic, 3) : tkh_context_set(without, 2);
}

typedef kres (*handler_fn)(klog *log, kreq *q, const req_header *h, kr *r, kw *scratch);

typedef struct api {
    int16_t key, min, max;
    handler_fn fn;
} api;

static kres handle_produce(klog *, kreq *, const req_header *, kr *, kw *);
static kres handle_fetch(klog *, kreq *, const req_header *, kr *, kw *);
static kres handle_list_offsets(klog *, kreq *, const req_header *, kr *, kw *);
static kres handle_metadata(klog *, kreq *, const req_header *, kr *, kw *);
static kres handle_api_versions(klog *, kreq *, const req_header *, kr *, kw *);

static const api apis[] = {
    {API_PRODUCE, 3, 7, handle_produce},
    {API_FETCH, 4, 6, handle_fetch},
    {API_LIST_OFFSETS, 1, 5, handle_list_offsets},
    {API_METADATA, 0, 4, handle_metadata},
    {API_VERSIONS, 0, 3, handle_api_versions},
};
#define NAPIS (sizeof apis / sizeof apis[0])

static kres refuse(kreq *q, kprob prob, const char *fmt, const char *detail)
{
    q->prob = prob;
    snprintf(q->why, sizeof q->why, fmt, detail);
    return KRES_CLOSE;
}

/* The response frame's start: its length (patched by finish) and the
 * correlation id (response header v0: no tagged fields for what we serve). */
static void begin_response(kreq *q, const req_header *h)
{
    kw_i32(&q->out, 0);
    kw_i32(&q->out, h->correlation);
}

static kres finish(kreq *q)
{
    kw_put_i32(&q->out, 0, (int32_t)(q->out.len - 4));
    return q->out.oom ? refuse(q, KPROB_NONE, "%sout of memory for the response", "") : KRES_REPLY;
}

static kres truncated(kreq *q, const req_header *h)
{
    char what[64];
    snprintf(what, sizeof what, "%s v%d", kafka_api_names[h->key], h->version);
    return refuse(q, KPROB_TRUNCATED, "%s request malformed or cut short", what);
}

/* ---- ApiVersions ---- */

static void write_api_list(kw *w, bool compact)
{
    if (compact)
        kw_uvarint(w, NAPIS + 1);
    else
        kw_i32(w, (int32_t)NAPIS);
    for (size_t i = 0; i < NAPIS; i++) {
        kw_i16(w, apis[i].key);
        kw_i16(w, apis[i].min);
        kw_i16(w, apis[i].max);
        if (compact)
            kw_uvarint(w, 0); /* tagged fields */
    }
}

static kres handle_api_versions(klog *log, kreq *q, const req_header *h, kr *r, kw *scratch)
{
    (void)log, (void)scratch, (void)r; /* v3's client software name is not needed */
    begin_response(q, h);
    kw_i16(&q->out, ERR_NONE);
    write_api_list(&q->out, h->version >= 3);
    if (h->version >= 1)
        kw_i32(&q->out, 0); /* throttle_time_ms */
    if (h->version >= 3)
        kw_uvarint(&q->out, 0);
    return finish(q);
}

/* An ApiVersions request of a version above ours: a v0 response with
 * UNSUPPORTED_VERSION and our versions, so the client retries lower. */
static kres api_versions_too_new(kreq *q, const req_header *h)
{
    begin_response(q, h);
    kw_i16(&q->out, ERR_UNSUPPORTED_VERSION);
    write_api_list(&q->out, false);
    return finish(q);
}

/* ---- topics ---- */

/* Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..". */
static bool topic_name_valid(kr_span name)
{
    if (name.len < 1 || name.len > 249)
        return false;
    if ((name.len == 1 && name.p[0] == '.') || (name.len == 2 && memcmp(name.p, "..", 2) == 0))
        return false;
    for (int32_t i = 0; i < name.len; i++) {
        unsigned char c = name.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The topic, created when absent and `create`; *err the error for the
 * client when NULL. */
static klog_topic *topic_lookup(klog *log, kr_span name, bool create, int16_t *err)
{
    bool full = false;
    *err = ERR_NONE;
    if (!topic_name_valid(name)) {
        *err = ERR_INVALID_TOPIC;
        return NULL;
    }
    klog_topic *t = klog_topic_get(log, (const char *)name.p, (size_t)name.len, create, &full);
    if (t == NULL)
        *err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
    return t;
}

/* ---- Metadata ---- */

static void write_topic_metadata(kw *w, int version, int16_t err, kr_span name, klog_topic *t)
{
    kw_i16(w, err);
    kw_str(w, (const char *)name.p, name.len);
    if (version >= 1)
        kw_i8(w, 0); /* is_internal */
    int n = t != NULL ? klog_topic_partitions(t) : 0;
    kw_i32(w, n);
    for (int i = 0; i < n; i++) {
        kw_i16(w, ERR_NONE);
        kw_i32(w, i);
        kw_i32(w, 0); /* leader: the only broker, node 0 */
        kw_i32(w, 1); /* replicas */
        kw_i32(w, 0);
        kw_i32(w, 1); /* isr */
        kw_i32(w, 0);
    }
}

static KAFKA_FRAME kres handle_metadata(klog *log, kreq *q, const req_header *h, kr *r,
                                        kw *scratch)
{
    (void)scratch;
    int v = h->version;
    int32_t raw = kr_i32(r); /* -1 (v1+): every topic */
    bool all = raw == -1 || (v == 0 && raw == 0);
    r->p -= 4;
    int32_t ntopics = kr_count(r, 2);
    const unsigned char *names = r->p;
    for (int32_t i = 0; i < ntopics; i++)
        kr_str(r);
    bool create = v >= 4 ? kr_i8(r) != 0 : true;
    if (r->bad)
        return truncated(q, h);

    begin_response(q, h);
    kw *w = &q->out;
    if (v >= 3)
        kw_i32(w, 0); /* throttle_time_ms */
    kw_i32(w, 1);     /* brokers: this one */
    kw_i32(w, 0);
    kw_str(w, q->host, (int32_t)strlen(q->host));
    kw_i32(w, q->port);
    if (v >= 1)
        kw_str(w, NULL, -1); /* rack */
    if (v >= 2)
        kw_str(w, "takhin", 6); /* cluster_id */
    if (v >= 1)
        kw_i32(w, 0); /* controller */
    if (all) {
        int n = klog_topic_count(log);
        kw_i32(w, n);
        for (int i = 0; i < n; i++) {
            klog_topic *t = klog_topic_at(log, i);
            const char *name = klog_topic_name(t);
            kr_span s = {(const unsigned char *)name, (int32_t)strlen(name)};
            write_topic_metadata(w, v, ERR_NONE, s, t);
        }
        return finish(q);
    }
    kr again = {names, r->end, false};
    kw_i32(w, ntopics);
    for (int32_t i = 0; i < ntopics; i++) {
        kr_span name = kr_str(&again);
        int16_t err;
        klog_topic *t = topic_lookup(log, name, create, &err);
        write_topic_metadata(w, v, err, name, t);
    }
    return finish(q);
}

/* ---- Produce: record batch validation ---- */

enum { BATCH_HEADER = 61 }; /* RecordBatch v2 up to and including its record count */

/* Walks `count` records of a batch's (uncompressed) record section: every
 * length within bounds, offset deltas 0..count-1, nothing left over. */
static KAFKA_FRAME bool records_valid(const unsigned char *p, size_t len, int32_t count)
{
    kr r = {p, p + len, false};
    for (int32_t i = 0; i < count && !r.bad; i++) {
        int64_t rlen = kr_varint(&r);
        if (rlen < 0 || rlen > r.end - r.p)
            return false;
        kr rec = {r.p, r.p + rlen, false};
        r.p += rlen;
        kr_i8(&rec); /* attributes */
        kr_varint(&rec); /* timestamp delta */
        if (kr_varint(&rec) != i)
            return false;
        int64_t klen = kr_varint(&rec);
        if (klen < -1 || (klen > 0 && kr_take(&rec, (size_t)klen) == NULL))
            return false;
        int64_t vlen = kr_varint(&rec);
        if (vlen < -1 || (vlen > 0 && kr_take(&rec, (size_t)vlen) == NULL))
            return false;
        int64_t nh = kr_varint(&rec);
        for (int64_t j = 0; j < nh && !rec.bad; j++) {
            int64_t hk = kr_varint(&rec);
            if (hk < 0 || kr_take(&rec, (size_t)hk) == NULL)
                return false;
            int64_t hv = kr_varint(&rec);
            if (hv < -1 || (hv > 0 && kr_take(&rec, (size_t)hv) == NULL))
                return false;
        }
        if (nh < 0 || rec.bad || rec.p != rec.end)
            return false;
    }
    return !r.bad && r.p == r.end;
}

/* Inflates a gzip record section into scratch, at most 64 MiB. */
static KAFKA_FRAME bool gzip_inflate(const unsigned char *p, size_t len, kw *scratch)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return false;
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)len;
    scratch->len = 0;
    int rc = Z_OK;
    while (rc == Z_OK && scratch->len < ((size_t)64 << 20)) {
        size_t chunk = len * 4 > 65536 ? len * 4 : 65536;
        unsigned char *at = kw_grow(scratch, chunk);
        if (at == NULL)
            break;
        z.next_out = at;
        z.avail_out = (uInt)chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        scratch->len -= z.avail_out;
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END && z.avail_in == 0;
}

typedef struct batch_info {
    size_t len;
    int32_t count;
    int64_t max_ts;
} batch_info;

/* Checks the batch at the start of p (whose length is `avail`): header,
 * CRC-32C, compression, records. The Kafka error code, or 0 with *b. */
static KAFKA_FRAME int16_t batch_validate(kprob *prob, const unsigned char *p, size_t avail,
                                          batch_info *b, kw *scratch)
{
    if (avail < BATCH_HEADER)
        return ERR_CORRUPT_MESSAGE;
    int32_t blen = (int32_t)kw_load_be32(p + 8);
    if (blen < BATCH_HEADER - 12 || (size_t)blen > avail - 12)
        return ERR_CORRUPT_MESSAGE;
    b->len = (size_t)blen + 12;
    if (p[16] != 2)
        return ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    if (crc32c(p + 21, b->len - 21) != kw_load_be32(p + 17)) {
        *prob = KPROB_BAD_CRC;
        return ERR_CORRUPT_MESSAGE;
    }
    int codec = p[22] & 7; /* attributes, low byte */
    b->count = (int32_t)kw_load_be32(p + 57);
    b->max_ts = (int64_t)kw_load_be64(p + 35);
    if (codec != 0 && codec != 1)
        return ERR_UNSUPPORTED_COMPRESSION_TYPE;
    if (b->count < 1 || (int32_t)kw_load_be32(p + 23) != b->count - 1)
        return ERR_CORRUPT_MESSAGE;
    const unsigned char *rec = p + BATCH_HEADER;
    size_t rlen = b->len - BATCH_HEADER;
    if (codec == 1) {
        if (!gzip_inflate(rec, rlen, scratch))
            return ERR_CORRUPT_MESSAGE;
        rec = scratch->p;
        rlen = scratch->len;
    }
    return records_valid(rec, rlen, b->count) ? ERR_NONE : ERR_CORRUPT_MESSAGE;
}

/* Validates every batch of a partition's records, then appends them all.
 * *base gets the first batch's offset. */
static KAFKA_FRAME int16_t produce_partition(klog *log, kreq *q, klog_topic *t, int part,
                                             kr_span records, int64_t *base, kw *scratch)
{
    if (records.len <= 0)
        return ERR_CORRUPT_MESSAGE;
    size_t off = 0;
    while (off < (size_t)records.len) {
        batch_info b;
        kprob prob = KPROB_BAD_BATCH;
        int16_t err = batch_validate(&prob, records.p + off, (size_t)records.len - off, &b,
                                     scratch);
        if (err != ERR_NONE) {
            q->prob = prob;
            snprintf(q->why, sizeof q->why, "produce to %s-%d: %s at byte %zu of the records "
                     "(error %d)", klog_topic_name(t), part, prob == KPROB_BAD_CRC
                     ? "CRC-32C mismatch" : "invalid record batch", off, err);
            return err;
        }
        off += b.len;
    }
    for (off = 0; off < (size_t)records.len;) {
        batch_info b = {.len = (size_t)kw_load_be32(records.p + off + 8) + 12,
                        .count = (int32_t)kw_load_be32(records.p + off + 57),
                        .max_ts = (int64_t)kw_load_be64(records.p + off + 35)};
        int64_t at = klog_append(log, t, part, records.p + off, b.len, (uint32_t)b.count,
                                 b.max_ts);
        if (at < 0)
            return ERR_CORRUPT_MESSAGE; /* out of memory */
        if (off == 0)
            *base = at;
        off += b.len;
    }
    return ERR_NONE;
}

static KAFKA_FRAME kres handle_produce(klog *log, kreq *q, const req_header *h, kr *r,
                                       kw *scratch)
{
    kr_str(r); /* transactional_id: takhind has no transactions */
    int16_t acks = kr_i16(r);
    kr_i32(r); /* timeout_ms */
    int32_t ntopics = kr_count(r, 6);
    begin_response(q, h);
    kw *w = &q->out;
    kw_i32(w, ntopics);
    const tk_context *whole = tkh_context_current(); /* the request's, between topics */
    for (int32_t i = 0; i < ntopics && !r->bad; i++) {
        kr_span name = kr_str(r);
        request_context(h, name); /* the work on one topic is labelled with it */
        int32_t nparts = kr_count(r, 8);
        kw_str(w, (const char *)name.p, name.len);
        kw_i32(w, nparts);
        int16_t terr;
        klog_topic *t = r->bad ? NULL : topic_lookup(log, name, true, &terr);
        for (int32_t j = 0; j < nparts && !r->bad; j++) {
            int32_t part = kr_i32(r);
            kr_span records = kr_bytes(r);
            int64_t base = -1;
            int16_t err = terr;
            if (r->bad)
                break;
            if (acks != 0 && acks != 1 && acks != -1)
                err = ERR_INVALID_REQUIRED_ACKS;
            else if (t != NULL && (part < 0 || part >= klog_topic_partitions(t)))
                err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (t != NULL)
                err = produce_partition(log, q, t, part, records, &base, scratch);
            kw_i32(w, part);
            kw_i16(w, err);
            kw_i64(w, base);
            kw_i64(w, -1); /* log_append_time: CreateTime topics */
            if (h->version >= 5)
                kw_i64(w, t != NULL && err == ERR_NONE ? klog_offsets_of(t, part).start : -1);
        }
    }
    tkh_context_enter(whole);
    if (r->bad)
        return truncated(q, h);
    kw_i32(w, 0); /* throttle_time_ms */
    if (acks == 0)
        return KRES_NO_REPLY;
    return finish(q);
}

/* ---- ListOffsets ---- */

static KAFKA_FRAME kres handle_list_offsets(klog *log, kreq *q, const req_header *h, kr *r,
                                            kw *scratch)
{
    (void)scratch;
    int v = h->version;
    kr_i32(r); /* replica_id */
    if (v >= 2)
        kr_i8(r); /* isolation_level: every record is committed here */
    int32_t ntopics = kr_count(r, 6);
    begin_response(q, h);
    kw *w = &q->out;
    if (v >= 2)
        kw_i32(w, 0);
    kw_i32(w, ntopics);
    const tk_context *whole = tkh_context_current(); /* the request's, between topics */
    for (int32_t i = 0; i < ntopics && !r->bad; i++) {
        kr_span name = kr_str(r);
        request_context(h, name); /* the work on one topic is labelled with it */
        int32_t nparts = kr_count(r, 12);
        kw_str(w, (const char *)name.p, name.len);
        kw_i32(w, nparts);
        int16_t terr;
        klog_topic *t = r->bad ? NULL : topic_lookup(log, name, false, &terr);
        for (int32_t j = 0; j < nparts && !r->bad; j++) {
            int32_t part = kr_i32(r);
            if (v >= 4)
                kr_i32(r); /* current_leader_epoch */
            int64_t ts = kr_i64(r), offset = -1;
            int16_t err = terr;
            if (t != NULL && (part < 0 || part >= klog_topic_partitions(t)))
                err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
            else if (t != NULL) {
                klog_offsets o = klog_offsets_of(t, part);
                offset = ts == -1 ? o.next : ts == -2 ? o.start
                                                      : klog_offset_for_time(t, part, ts);
            }
            kw_i32(w, part);
            kw_i16(w, err);
            kw_i64(w, -1); /* timestamp */
            kw_i64(w, offset);
            if (v >= 4)
                kw_i32(w, -1); /* leader_epoch */
        }
    }
    tkh_context_enter(whole);
    return r->bad ? truncated(q, h) : finish(q);
}

/* ---- Fetch ---- */

/* One partition of a fetch: its header and as many batches as fit. */
static KAFKA_FRAME size_t fetch_partition(kw *w, int v, klog_topic *t, int16_t terr, int32_t part,
                                          int64_t offset, size_t max_bytes)
{
    klog_offsets o = {-1, -1};
    int16_t err = terr;
    if (t != NULL && (part < 0 || part >= klog_topic_partitions(t)))
        err = ERR_UNKNOWN_TOPIC_OR_PARTITION;
    kw_i32(w, part);
    size_t at_err = w->len;
    kw_i16(w, err);
    size_t at_offsets = w->len;
    kw_i64(w, -1); /* high watermark */
    kw_i64(w, -1); /* last stable offset */
    if (v >= 5)
        kw_i64(w, -1); /* log start offset */
    kw_i32(w, -1); /* aborted transactions: none */
    size_t at_len = w->len;
    kw_i32(w, 0);
    long n = 0;
    if (err == ERR_NONE && t != NULL) {
        n = max_bytes > 0 ? klog_read(t, part, offset, max_bytes, w, &o) : 0;
        if (max_bytes == 0)
            o = klog_offsets_of(t, part);
        if (n < 0) {
            n = 0;
            kw_put_i16(w, at_err, ERR_OFFSET_OUT_OF_RANGE);
        }
        kw_put_i32(w, at_len, (int32_t)n);
    }
    if (!w->oom) {
        kw_store_be64(w->p + at_offsets, (uint64_t)o.next);
        kw_store_be64(w->p + at_offsets + 8, (uint64_t)o.next);
        if (v >= 5)
            kw_store_be64(w->p + at_offsets + 16, (uint64_t)o.start);
    }
    return (size_t)n;
}

static KAFKA_FRAME kres handle_fetch(klog *log, kreq *q, const req_header *h, kr *r, kw *scratch)
{
    (void)scratch;
    int v = h->version;
    kr_i32(r); /* replica_id */
    int32_t max_wait = kr_i32(r), min_bytes = kr_i32(r), max_bytes = kr_i32(r);
    kr_i8(r); /* isolation_level */
    int32_t ntopics = kr_count(r, 6);
    begin_response(q, h);
    kw *w = &q->out;
    kw_i32(w, 0); /* throttle_time_ms */
    kw_i32(w, ntopics);
    size_t budget = max_bytes > 0 ? (size_t)max_bytes : 0, total = 0;
    const tk_context *whole = tkh_context_current(); /* the request's, between topics */
    for (int32_t i = 0; i < ntopics && !r->bad; i++) {
        kr_span name = kr_str(r);
        request_context(h, name); /* the work on one topic is labelled with it */
        int32_t nparts = kr_count(r, 16);
        kw_str(w, (const char *)name.p, name.len);
        kw_i32(w, nparts);
        int16_t terr;
        klog_topic *t = r->bad ? NULL : topic_lookup(log, name, false, &terr);
        for (int32_t j = 0; j < nparts && !r->bad; j++) {
            int32_t part = kr_i32(r);
            int64_t offset = kr_i64(r);
            if (v >= 5)
                kr_i64(r); /* log_start_offset: for followers */
            int32_t pmax = kr_i32(r);
            if (r->bad)
                break;
            size_t room = pmax > 0 ? (size_t)pmax : 0;
            if (room > budget - total)
                room = budget - total;
            total += fetch_partition(w, v, t, terr, part, offset, room);
            if (total > budget)
                total = budget; /* the first batch goes whole (KIP-74) */
        }
    }
    tkh_context_enter(whole);
    if (r->bad)
        return truncated(q, h);
    if (!q->final && max_wait > 0 && (int64_t)total < (int64_t)min_bytes) {
        q->wait_ms = max_wait;
        return KRES_PARK;
    }
    return finish(q);
}

/* ---- dispatch ---- */

static const api *find_api(int16_t key)
{
    for (size_t i = 0; i < NAPIS; i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

KAFKA_FRAME kres kafka_handle(klog *log, kreq *q, kw *scratch)
{
    kr r = {q->frame, q->frame + q->len, false};
    req_header h = {.key = kr_i16(&r), .version = kr_i16(&r), .correlation = kr_i32(&r)};
    h.client_id = kr_str(&r);
    q->api_key = -1;
    q->prob = KPROB_NONE;
    q->out.len = 0;
    if (r.bad)
        return refuse(q, KPROB_TRUNCATED, "%srequest header cut short", "");
    const api *a = find_api(h.key);
    if (a == NULL) {
        char key[16];
        snprintf(key, sizeof key, "%d", h.key);
        return refuse(q, KPROB_UNKNOWN_API, "unknown API key %s", key);
    }
    q->api_key = h.key;
    if (h.key == API_VERSIONS && h.version > a->max)
        return api_versions_too_new(q, &h);
    if (h.version < a->min || h.version > a->max) {
        char what[64];
        snprintf(what, sizeof what, "%s v%d (served: v%d-v%d)", kafka_api_names[h.key],
                 h.version, a->min, a->max);
        return refuse(q, KPROB_BAD_VERSION, "unsupported version: %s", what);
    }
    if (h.key == API_VERSIONS && h.version >= 3)
        kr_skip_tags(&r); /* request header v2 */
    if (r.bad)
        return truncated(q, &h);
    const tk_context *prev = request_context(&h, (kr_span){0});
    kres rc = a->fn(log, q, &h, &r, scratch);
    tkh_context_restore(prev);
    return rc;
}
