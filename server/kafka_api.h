/*
 * server/kafka_api.h - the Kafka requests takhind answers: the decoding of
 * one request frame, its handling against the log (klog.h), and the
 * encoding of its response. No sockets here: the listener (kafka.c) owns
 * the connections and calls kafka_handle from its request threads.
 *
 * APIs and versions (all non-flexible except ApiVersions v3):
 *   ApiVersions 0-3, Metadata 0-4, Produce 3-7, ListOffsets 1-5, Fetch 4-6.
 */
#ifndef TAKHIN_SERVER_KAFKA_API_H
#define TAKHIN_SERVER_KAFKA_API_H

#include "kafka_wire.h"
#include "klog.h"

/* What went wrong with a request, for the listener's log and counters. */
typedef enum kprob {
    KPROB_NONE,
    KPROB_OVERSIZED,      /* frame longer than kafka.max_request_bytes */
    KPROB_NEGATIVE,       /* negative frame length */
    KPROB_TRUNCATED,      /* the frame ended inside a field, or the peer left mid-frame */
    KPROB_UNKNOWN_API,    /* an API key takhind does not serve */
    KPROB_BAD_VERSION,    /* a version of a served API outside its range */
    KPROB_BAD_CRC,        /* a record batch whose CRC-32C does not match */
    KPROB_BAD_BATCH,      /* a batch that is not a valid RecordBatch v2 */
    KPROB_COUNT
} kprob;

extern const char *const kprob_names[KPROB_COUNT];

typedef enum kres {
    KRES_REPLY,    /* q->out holds the whole response frame */
    KRES_NO_REPLY, /* Produce with acks=0 */
    KRES_PARK,     /* Fetch short of min_bytes: ask again after new records or q->wait_ms */
    KRES_CLOSE,    /* bad request: close the connection (q->why says why) */
} kres;

typedef struct kreq {
    const unsigned char *frame; /* the request, without its 4-byte length */
    size_t len;
    const char *host;           /* where this connection reached us: Metadata's broker */
    int port;
    bool final;                 /* Fetch: answer now, whatever min_bytes says */
    /* out */
    kw out;
    int16_t api_key;            /* -1 until the header is read */
    int32_t wait_ms;            /* KRES_PARK: the fetch's max wait */
    kprob prob;                 /* also set with KRES_REPLY (a bad CRC gets its error code) */
    char why[200];
} kreq;

#define KAFKA_API_KEYS 19 /* keys 0..18 are counted by name */
extern const char *const kafka_api_names[KAFKA_API_KEYS];

/* Handles one request; the caller frees q->out.p. `scratch` is a per-
 * thread buffer for decompressing batches (kept between calls). */
kres kafka_handle(klog *log, kreq *q, kw *scratch);

#endif
