/*
 * server/kafka_wire.h - the Kafka protocol's primitive types: a bounds-
 * checked reader over a request and a growable writer for a response
 * (big-endian integers, int16-length strings, int32-length bytes, the
 * unsigned varints of compact fields and tagged fields, and the zigzag
 * varints of records).
 *
 * The reader never reads past its end: a read that would sets `bad` and
 * returns 0 or an empty value, so a handler decodes a whole request and
 * checks `bad` once. The writer sets `oom` instead of failing each call.
 */
#ifndef TAKHIN_SERVER_KAFKA_WIRE_H
#define TAKHIN_SERVER_KAFKA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kr {
    const unsigned char *p, *end;
    bool bad;
} kr;

/* A string or bytes field as read: `len` -1 for null; points into the request. */
typedef struct kr_span {
    const unsigned char *p;
    int32_t len;
} kr_span;

int8_t kr_i8(kr *r);
int16_t kr_i16(kr *r);
int32_t kr_i32(kr *r);
int64_t kr_i64(kr *r);
kr_span kr_str(kr *r);          /* int16 length, -1 = null */
kr_span kr_bytes(kr *r);        /* int32 length, -1 = null */
kr_span kr_compact_str(kr *r);  /* uvarint length + 1, 0 = null */
uint64_t kr_uvarint(kr *r);
int64_t kr_varint(kr *r);       /* zigzag */
const unsigned char *kr_take(kr *r, size_t n); /* n raw bytes or NULL */
/* An array count (int32): -1 (null) reads as 0; a count that cannot fit
 * in what is left (each element takes at least min_elem bytes) is bad. */
int32_t kr_count(kr *r, size_t min_elem);
void kr_skip_tags(kr *r);       /* a tagged-field section */

typedef struct kw {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} kw;

void kw_i8(kw *w, int8_t v);
void kw_i16(kw *w, int16_t v);
void kw_i32(kw *w, int32_t v);
void kw_i64(kw *w, int64_t v);
void kw_uvarint(kw *w, uint64_t v);
void kw_str(kw *w, const char *s, int32_t len);   /* len -1: null */
void kw_raw(kw *w, const void *p, size_t n);
/* Room for n more bytes; NULL (and oom) when out of memory. */
unsigned char *kw_grow(kw *w, size_t n);
/* Overwrites an int32 at `at` (a length written before its contents). */
void kw_put_i32(kw *w, size_t at, int32_t v);
void kw_put_i16(kw *w, size_t at, int16_t v);

uint32_t kw_load_be32(const unsigned char *p);
uint64_t kw_load_be64(const unsigned char *p);
void kw_store_be64(unsigned char *p, uint64_t v);

#endif
