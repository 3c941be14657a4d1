/*
 * pf_wire.h - the protobuf wire format, writing side: a byte buffer with
 * varints, scalar fields, length-delimited fields and nested messages.
 * The profile core's encoder (pf_encode.h) writes profile.proto with it,
 * and tests build inputs the encoder would never write (broken ids,
 * wrong wire types) with it.
 *
 *   pf_wbuf top = PF_WBUF_INIT, sub = PF_WBUF_INIT;
 *   pf_wbuf_sink(&top, write_fn, ctx);    // optional: drain past 64 KiB
 *   pf_wire_uint(&sub, 1, type);          // a ValueType
 *   pf_wire_uint(&sub, 2, unit);
 *   pf_wire_msg(&top, 1, &sub);           // as field 1 of the Profile; sub emptied
 *   pf_wire_bytes(&top, 6, "cpu", 3);     // a string
 *   pf_code rc = pf_wbuf_flush(&top);     // PF_OK, PF_ERR_NOMEM or PF_ERR_WRITE
 *   pf_wbuf_free(&top), pf_wbuf_free(&sub);
 *
 * A buffer without a sink grows as needed and keeps everything (data,
 * len). With a sink, its content goes to the sink whenever it passes
 * PF_WBUF_DRAIN bytes and at pf_wbuf_flush, so memory stays bounded.
 * Errors are sticky: after an allocation or a sink failure every call does
 * nothing and status says why; check it once at the end. Nested messages
 * are built in a buffer of their own, then appended with their length.
 */
#ifndef PF_WIRE_H
#define PF_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PF_WBUF_DRAIN (64u * 1024u)

typedef struct pf_wbuf {
    uint8_t *data;
    size_t len, cap;
    pf_code status;   /* PF_OK, PF_ERR_NOMEM, or PF_ERR_WRITE (the sink failed) */
    pf_write_fn sink; /* NULL: keep everything */
    void *sink_ctx;
} pf_wbuf;

#define PF_WBUF_INIT {NULL, 0, 0, PF_OK, NULL, NULL}

/* Drains the buffer to fn(ctx, ...) from now on. */
void pf_wbuf_sink(pf_wbuf *b, pf_write_fn fn, void *ctx);
/* Sends what is buffered to the sink (if any); returns the status. */
pf_code pf_wbuf_flush(pf_wbuf *b);
/* Frees the memory; the buffer is empty (and sinkless) again. */
void pf_wbuf_free(pf_wbuf *b);
/* Makes room for n more bytes (draining to the sink first if it has
 * one). 0, or -1 with status set. */
int pf_wbuf_reserve(pf_wbuf *b, size_t n);

/* Raw bytes. */
static inline void pf_wire_raw(pf_wbuf *b, const void *data, size_t len)
{
    if (len == 0 || (b->cap - b->len < len && pf_wbuf_reserve(b, len) != 0))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* A base-128 varint (int64 values as their two's complement, 10 bytes). */
static inline void pf_wire_varint(pf_wbuf *b, uint64_t v)
{
    if (b->cap - b->len < 10 && pf_wbuf_reserve(b, 10) != 0)
        return;
    uint8_t *p = b->data + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->data);
}

/* A varint field (wire type 0); left out when v is 0, as proto3 does. */
static inline void pf_wire_uint(pf_wbuf *b, unsigned field, uint64_t v)
{
    if (v != 0) {
        pf_wire_varint(b, (uint64_t)field << 3);
        pf_wire_varint(b, v);
    }
}

/* A length-delimited field (wire type 2): a string, bytes, a packed
 * array or a message already encoded. Always written, even when empty. */
static inline void pf_wire_bytes(pf_wbuf *b, unsigned field, const void *data, size_t len)
{
    pf_wire_varint(b, (uint64_t)field << 3 | 2);
    pf_wire_varint(b, len);
    pf_wire_raw(b, data, len);
}

/* sub's content as the length-delimited field `field` of b, then sub is
 * emptied (its memory kept for the next message); sub's failure is b's. */
static inline void pf_wire_msg(pf_wbuf *b, unsigned field, pf_wbuf *sub)
{
    pf_wire_bytes(b, field, sub->data, sub->len);
    if (b->status == PF_OK)
        b->status = sub->status;
    sub->len = 0;
}

#ifdef __cplusplus
}
#endif
#endif
