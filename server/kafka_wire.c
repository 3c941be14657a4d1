/* Kafka's primitive types: see kafka_wire.h. */
#include "kafka_wire.h"

#include <stdlib.h>
#include <string.h>

const unsigned char *kr_take(kr *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *at = r->p;
    r->p += n;
    return at;
}

uint32_t kw_load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t kw_load_be64(const unsigned char *p)
{
    return (uint64_t)kw_load_be32(p) << 32 | kw_load_be32(p + 4);
}

void kw_store_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

int8_t kr_i8(kr *r)
{
    const unsigned char *p = kr_take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t kr_i16(kr *r)
{
    const unsigned char *p = kr_take(r, 2);
    return p ? (int16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

int32_t kr_i32(kr *r)
{
    const unsigned char *p = kr_take(r, 4);
    return p ? (int32_t)kw_load_be32(p) : 0;
}

int64_t kr_i64(kr *r)
{
    const unsigned char *p = kr_take(r, 8);
    return p ? (int64_t)kw_load_be64(p) : 0;
}

static kr_span span_of(kr *r, int64_t len)
{
    if (len < 0)
        return (kr_span){NULL, -1};
    if (len > INT32_MAX) {
        r->bad = true;
        return (kr_span){NULL, -1};
    }
    const unsigned char *p = kr_take(r, (size_t)len);
    return p ? (kr_span){p, (int32_t)len} : (kr_span){NULL, -1};
}

kr_span kr_str(kr *r)
{
    int16_t len = kr_i16(r);
    if (len < -1)
        r->bad = true;
    return span_of(r, len);
}

kr_span kr_bytes(kr *r)
{
    int32_t len = kr_i32(r);
    if (len < -1)
        r->bad = true;
    return span_of(r, len);
}

uint64_t kr_uvarint(kr *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const unsigned char *p = kr_take(r, 1);
        if (p == NULL)
            return 0;
        v |= (uint64_t)(*p & 0x7f) << shift;
        if ((*p & 0x80) == 0)
            return v;
    }
    r->bad = true; /* more than 10 bytes */
    return 0;
}

int64_t kr_varint(kr *r)
{
    uint64_t u = kr_uvarint(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

kr_span kr_compact_str(kr *r)
{
    uint64_t n = kr_uvarint(r);
    return span_of(r, n == 0 ? -1 : (int64_t)(n - 1));
}

int32_t kr_count(kr *r, size_t min_elem)
{
    int32_t n = kr_i32(r);
    if (n < -1 || (n > 0 && (size_t)n > (size_t)(r->end - r->p) / (min_elem ? min_elem : 1)))
        r->bad = true;
    return n < 0 || r->bad ? 0 : n;
}

void kr_skip_tags(kr *r)
{
    uint64_t n = kr_uvarint(r);
    for (uint64_t i = 0; i < n && !r->bad; i++) {
        kr_uvarint(r); /* tag */
        uint64_t size = kr_uvarint(r);
        if (size > (uint64_t)(r->end - r->p))
            r->bad = true;
        else
            r->p += size;
    }
}

unsigned char *kw_grow(kw *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n)
            cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (p == NULL) {
            w->oom = true;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    unsigned char *at = w->p + w->len;
    w->len += n;
    return at;
}

void kw_raw(kw *w, const void *p, size_t n)
{
    unsigned char *at = kw_grow(w, n);
    if (at != NULL && n > 0)
        memcpy(at, p, n);
}

static void put_be(kw *w, uint64_t v, int bytes)
{
    unsigned char *at = kw_grow(w, (size_t)bytes);
    for (int i = bytes - 1; at != NULL && i >= 0; i--, v >>= 8)
        at[i] = (unsigned char)v;
}

void kw_i8(kw *w, int8_t v) { put_be(w, (uint8_t)v, 1); }
void kw_i16(kw *w, int16_t v) { put_be(w, (uint16_t)v, 2); }
void kw_i32(kw *w, int32_t v) { put_be(w, (uint32_t)v, 4); }
void kw_i64(kw *w, int64_t v) { put_be(w, (uint64_t)v, 8); }

void kw_uvarint(kw *w, uint64_t v)
{
    while (v >= 0x80) {
        kw_i8(w, (int8_t)(v | 0x80));
        v >>= 7;
    }
    kw_i8(w, (int8_t)v);
}

void kw_str(kw *w, const char *s, int32_t len)
{
    kw_i16(w, (int16_t)len);
    if (len > 0)
        kw_raw(w, s, (size_t)len);
}

static void put_at(kw *w, size_t at, uint32_t v, int bytes)
{
    if (w->oom || at + (size_t)bytes > w->len)
        return;
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        w->p[at + (size_t)i] = (unsigned char)v;
}

void kw_put_i32(kw *w, size_t at, int32_t v) { put_at(w, at, (uint32_t)v, 4); }
void kw_put_i16(kw *w, size_t at, int16_t v) { put_at(w, at, (uint16_t)v, 2); }
