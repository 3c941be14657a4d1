/* pf_gzip.c - gzip framing on zlib (see pf_gzip.h). */
#include "pf_gzip.h"
#include "pf_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

bool pf_is_gzip(const void *data, size_t len)
{
    const uint8_t *d = data;
    return d != NULL && len >= 2 && d[0] == 0x1f && d[1] == 0x8b;
}

/* Where inflated bytes go: buf, grown up to `keep` bytes; past that only
 * counted (`spilled`). n counts every byte, stored or not. */
typedef struct gz_out {
    uint8_t *buf;
    size_t cap, keep, n;
    bool spilled;
} gz_out;

/* Room for more in o->buf, or the switch to counting. */
static pf_code gz_room(gz_out *o, pf_err *err)
{
    if (o->spilled || o->n < o->cap)
        return PF_OK;
    if (o->cap >= o->keep) {
        o->spilled = true;
        return PF_OK;
    }
    size_t nc = o->cap * 2 > o->keep ? o->keep : o->cap * 2;
    uint8_t *b = realloc(o->buf, nc);
    if (b == NULL)
        return pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory");
    o->buf = b;
    o->cap = nc;
    return PF_OK;
}

/* Inflates one member from zs into o. Fails past max bytes in all. */
static pf_code inflate_member(z_stream *zs, gz_out *o, size_t max, pf_err *err)
{
    uint8_t scratch[16384];
    for (;;) {
        pf_code rc = gz_room(o, err);
        if (rc != PF_OK)
            return rc;
        size_t room = o->spilled ? sizeof scratch : o->cap - o->n;
        zs->next_out = o->spilled ? scratch : o->buf + o->n;
        zs->avail_out = (uInt)(room < (1u << 30) ? room : (1u << 30));
        uInt before = zs->avail_out;
        int zrc = inflate(zs, Z_NO_FLUSH);
        o->n += before - zs->avail_out;
        if (o->n > max)
            return pf_seterr(err, PF_ERR_LIMIT, "gzip: more than %zu bytes uncompressed (the "
                             "size limit; a gzip bomb?), refused before it was stored", max);
        if (zrc == Z_STREAM_END)
            return PF_OK;
        if (zrc != Z_OK && !(zrc == Z_BUF_ERROR && zs->avail_out == 0))
            return pf_seterr(err, PF_ERR_FORMAT, "gzip: %s",
                             zrc == Z_BUF_ERROR ? "truncated data"
                             : zs->msg ? zs->msg : "corrupt data");
    }
}

/* Inflates every member of d[0, len) into o. */
static pf_code inflate_all(z_stream *zs, const uint8_t *d, size_t len, gz_out *o, size_t max,
                           pf_err *err)
{
    pf_code rc = PF_OK;
    size_t pos = 0;
    while (rc == PF_OK && pos < len) {
        if (pos > 0 && !pf_is_gzip(d + pos, len - pos))
            return pf_seterr(err, PF_ERR_FORMAT, "gzip: garbage after the compressed data");
        inflateReset(zs);
        zs->next_in = (Bytef *)(uintptr_t)(d + pos);
        zs->avail_in = (uInt)(len - pos < (1u << 30) ? len - pos : (1u << 30));
        uInt before = zs->avail_in;
        rc = inflate_member(zs, o, max, err);
        pos += before - zs->avail_in;
    }
    return rc;
}

/* Memory follows the compressed size, not what the data claims: at most
 * GZ_RATIO times it (and 1 MiB) is stored in the first pass. Past that,
 * the rest is only counted; a total past max (a gzip bomb) fails having
 * allocated no more, and a real profile that compresses better than
 * that is inflated a second time into a buffer of its exact size. */
#define GZ_RATIO 16

pf_code pf_gunzip(const void *data, size_t len, size_t max, uint8_t **out, size_t *out_len,
                  pf_err *err)
{
    const uint8_t *d = data;
    if (max >= SIZE_MAX / 2)
        max = SIZE_MAX / 2 - 1;
    size_t keep = len < (SIZE_MAX / 2 - (1u << 20)) / GZ_RATIO ? len * GZ_RATIO + (1u << 20)
                                                              : SIZE_MAX / 2;
    if (keep > max + 1)
        keep = max + 1;
    /* The trailer's ISIZE (size mod 2^32 of the last member) sizes the
     * buffer at once when it is plausible; else grow from 8x. */
    size_t isize = len >= 18 ? (size_t)d[len - 4] | (size_t)d[len - 3] << 8 |
                               (size_t)d[len - 2] << 16 | (size_t)d[len - 1] << 24 : 0;
    gz_out o = {.cap = len < keep / 8 ? len * 8 + 4096 : keep, .keep = keep};
    if (isize >= len / 2 && isize < keep)
        o.cap = isize + 1;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    o.buf = malloc(o.cap);
    pf_hugepages(o.buf, o.cap);
    if (o.buf == NULL || inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(o.buf);
        return pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory");
    }
    pf_code rc = inflate_all(&zs, d, len, &o, max, err);
    if (rc == PF_OK && o.spilled) { /* the second pass, at the exact size */
        free(o.buf);
        o = (gz_out){.buf = malloc(o.n + 1), .cap = o.n + 1, .keep = o.n + 1};
        pf_hugepages(o.buf, o.cap);
        rc = o.buf == NULL ? pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory")
                           : inflate_all(&zs, d, len, &o, o.cap - 1, err);
    }
    inflateEnd(&zs);
    if (rc != PF_OK) {
        free(o.buf);
        return rc;
    }
    *out = o.buf;
    *out_len = o.n;
    return PF_OK;
}

pf_code pf_gzip(const void *data, size_t len, uint8_t **out, size_t *out_len, pf_err *err)
{
    if (len >= (1u << 31))
        return pf_seterr(err, PF_ERR_ARG, "gzip: input over 2 GiB");
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory");
    size_t cap = deflateBound(&zs, (uLong)len) + 64;
    uint8_t *buf = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int rc = buf != NULL ? deflate(&zs, Z_FINISH) : Z_MEM_ERROR;
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory");
    }
    *out = buf;
    return PF_OK;
}

/* ---- streaming ---- */

#define GZW_BUF (64u * 1024u)

struct pf_gzw {
    z_stream zs;
    pf_write_fn fn;
    void *ctx;
    bool failed;
    uint8_t out[GZW_BUF];
};

pf_gzw *pf_gzw_new(int level, pf_write_fn fn, void *ctx, pf_err *err)
{
    pf_gzw *z = calloc(1, sizeof *z);
    if (z != NULL && deflateInit2(&z->zs, level, Z_DEFLATED, 15 + 16, 8,
                                  Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        z = NULL;
    }
    if (z == NULL) {
        pf_seterr(err, PF_ERR_NOMEM, "gzip: out of memory");
        return NULL;
    }
    z->fn = fn;
    z->ctx = ctx;
    return z;
}

/* Deflates what is in zs.next_in (all of it) with `flush`, passing the
 * output on. */
static void gzw_run(pf_gzw *z, int flush)
{
    int rc;
    do {
        z->zs.next_out = z->out;
        z->zs.avail_out = sizeof z->out;
        rc = deflate(&z->zs, flush);
        size_t n = sizeof z->out - z->zs.avail_out;
        if (n > 0 && z->fn(z->ctx, z->out, n) != 0)
            z->failed = true;
    } while (!z->failed && (z->zs.avail_out == 0 || (flush == Z_FINISH && rc == Z_OK)));
}

int pf_gzw_write(void *zv, const void *data, size_t len)
{
    pf_gzw *z = zv;
    const uint8_t *p = data;
    while (len > 0 && !z->failed) {
        uInt n = len < (1u << 30) ? (uInt)len : (1u << 30);
        z->zs.next_in = (Bytef *)(uintptr_t)p;
        z->zs.avail_in = n;
        gzw_run(z, Z_NO_FLUSH);
        p += n;
        len -= n;
    }
    return z->failed ? -1 : 0;
}

pf_code pf_gzw_finish(pf_gzw *z, pf_err *err)
{
    if (z == NULL)
        return PF_OK;
    z->zs.next_in = NULL;
    z->zs.avail_in = 0;
    if (!z->failed)
        gzw_run(z, Z_FINISH);
    bool failed = z->failed;
    pf_gzw_free(z);
    return failed ? pf_seterr(err, PF_ERR_WRITE, "gzip: the output failed") : PF_OK;
}

void pf_gzw_free(pf_gzw *z)
{
    if (z == NULL)
        return;
    deflateEnd(&z->zs);
    free(z);
}
