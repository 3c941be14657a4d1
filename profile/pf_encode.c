/* pf_encode.c - the profile.proto encoder (pf_encode.h) on the wire writer
 * (pf_wire.h), streamed through gzip (pf_gzip.h) or not. The builder
 * model's pf_profile_write and pf_profile_encode convert (pf_convert.c,
 * symbolizing on the way) and then encode here. */
#include "pf_encode.h"
#include "pf_gzip.h"
#include "pf_internal.h"
#include "pf_wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- the string table, built while writing ---- */

#define PTR_CACHE 256 /* recent strings by address: labels repeat them */

typedef struct strings {
    const char **s; /* borrowed from the profile; s[0] = "" */
    size_t n, cap;
    pf_idxmap map;
    struct {
        const char *ptr;
        uint32_t idx;
    } recent[PTR_CACHE];
} strings;

typedef struct enc {
    const pf_decoded *d;
    pf_wbuf top; /* to the output */
    pf_wbuf sub, tmp;
    strings st;
} enc;

static bool str_eq(const void *ctx, uint32_t idx, const void *key)
{
    return strcmp(((const strings *)ctx)->s[idx], key) == 0;
}

/* Index of s in the table, added when new; 0 for "" (and when out of
 * memory, which then fails the write). */
static uint64_t str(enc *e, const char *s)
{
    strings *t = &e->st;
    if (s == NULL || s[0] == '\0')
        return 0;
    size_t slot = ((uintptr_t)s >> 3 ^ (uintptr_t)s >> 11) & (PTR_CACHE - 1);
    if (t->recent[slot].ptr == s)
        return t->recent[slot].idx;
    uint64_t h = pf_hash_bytes(s, strlen(s), 0);
    int64_t i = pf_idxmap_find(&t->map, h, str_eq, t, s);
    if (i < 0) {
        if (t->n >= UINT32_MAX - 1 || pf_grow(&t->s, &t->cap, t->n + 1, sizeof *t->s) != 0 ||
            pf_idxmap_insert(&t->map, h, (uint32_t)t->n) != 0) {
            e->top.status = PF_ERR_NOMEM;
            return 0;
        }
        t->s[t->n] = s;
        i = (int64_t)t->n++;
    }
    t->recent[slot].ptr = s;
    t->recent[slot].idx = (uint32_t)i;
    return (uint64_t)i;
}

/* ---- the tables ---- */

static void value_type(enc *e, pf_wbuf *b, unsigned field, const pf_dvaluetype *vt)
{
    pf_wire_uint(&e->sub, 1, str(e, vt->type));
    pf_wire_uint(&e->sub, 2, str(e, vt->unit));
    pf_wire_msg(b, field, &e->sub);
}

static void sample(enc *e, size_t i)
{
    const pf_decoded *d = e->d;
    const pf_dsample *s = &d->samples[i];
    for (size_t k = 0; k < s->nlocs; k++)
        pf_wire_varint(&e->tmp, (uint64_t)d->stack[s->loc0 + k] + 1);
    if (s->nlocs > 0)
        pf_wire_msg(&e->sub, 1, &e->tmp);
    for (size_t k = 0; k < d->ntypes; k++)
        pf_wire_varint(&e->tmp, (uint64_t)d->values[i * d->ntypes + k]);
    if (d->ntypes > 0)
        pf_wire_msg(&e->sub, 2, &e->tmp);
    for (size_t k = 0; k < s->nlabels; k++) {
        const pf_dlabel *l = &d->labels[s->label0 + k];
        pf_wire_uint(&e->tmp, 1, str(e, l->key));
        pf_wire_uint(&e->tmp, 2, str(e, l->str));
        pf_wire_uint(&e->tmp, 3, (uint64_t)l->num);
        pf_wire_uint(&e->tmp, 4, str(e, l->num_unit));
        pf_wire_msg(&e->sub, 3, &e->tmp);
    }
    pf_wire_msg(&e->top, 2, &e->sub);
}

static void mapping(enc *e, size_t i)
{
    const pf_dmapping *m = &e->d->maps[i];
    pf_wbuf *b = &e->sub;
    pf_wire_uint(b, 1, i + 1);
    pf_wire_uint(b, 2, m->start);
    pf_wire_uint(b, 3, m->limit);
    pf_wire_uint(b, 4, m->offset);
    pf_wire_uint(b, 5, str(e, m->file));
    pf_wire_uint(b, 6, str(e, m->build_id));
    pf_wire_uint(b, 7, m->has_functions);
    pf_wire_uint(b, 8, m->has_filenames);
    pf_wire_uint(b, 9, m->has_lines);
    pf_wire_uint(b, 10, m->has_inline);
    pf_wire_msg(&e->top, 3, b);
}

static void location(enc *e, size_t i)
{
    const pf_dlocation *l = &e->d->locs[i];
    pf_wire_uint(&e->sub, 1, i + 1);
    pf_wire_uint(&e->sub, 2, l->mapping);
    pf_wire_uint(&e->sub, 3, l->address);
    for (uint32_t k = 0; k < l->nlines; k++) {
        const pf_dline *ln = &e->d->lines[l->line0 + k];
        pf_wire_uint(&e->tmp, 1, (uint64_t)ln->func + 1);
        pf_wire_uint(&e->tmp, 2, (uint64_t)ln->line);
        pf_wire_msg(&e->sub, 4, &e->tmp);
    }
    pf_wire_msg(&e->top, 4, &e->sub);
}

static void function(enc *e, size_t i)
{
    const pf_dfunction *f = &e->d->funcs[i];
    pf_wire_uint(&e->sub, 1, i + 1);
    pf_wire_uint(&e->sub, 2, str(e, f->name));
    pf_wire_uint(&e->sub, 3, str(e, f->system_name));
    pf_wire_uint(&e->sub, 4, str(e, f->file));
    pf_wire_uint(&e->sub, 5, (uint64_t)f->start_line);
    pf_wire_msg(&e->top, 5, &e->sub);
}

static void header(enc *e)
{
    const pf_decoded *d = e->d;
    pf_wbuf *b = &e->top;
    pf_wire_uint(b, 7, str(e, d->drop_frames));
    pf_wire_uint(b, 8, str(e, d->keep_frames));
    pf_wire_uint(b, 9, (uint64_t)d->time_nanos);
    pf_wire_uint(b, 10, (uint64_t)d->duration_nanos);
    if (d->period_type.type[0] != '\0' || d->period_type.unit[0] != '\0')
        value_type(e, b, 11, &d->period_type);
    pf_wire_uint(b, 12, (uint64_t)d->period);
    for (size_t i = 0; i < d->ncomments; i++)
        pf_wire_varint(&e->tmp, str(e, d->comments[i]));
    if (d->ncomments > 0)
        pf_wire_msg(b, 13, &e->tmp);
    if (d->ntypes > 0 && d->default_type < d->ntypes - 1)
        pf_wire_uint(b, 14, str(e, d->types[d->default_type].type));
}

static void write_all(enc *e)
{
    const pf_decoded *d = e->d;
    for (size_t i = 0; i < d->ntypes; i++)
        value_type(e, &e->top, 1, &d->types[i]);
    for (size_t i = 0; i < d->nsamples && e->top.status == PF_OK; i++)
        sample(e, i);
    for (size_t i = 0; i < d->nmaps; i++)
        mapping(e, i);
    for (size_t i = 0; i < d->nlocs && e->top.status == PF_OK; i++)
        location(e, i);
    for (size_t i = 0; i < d->nfuncs; i++)
        function(e, i);
    header(e);
    for (size_t i = 0; i < e->st.n && e->top.status == PF_OK; i++)
        pf_wire_bytes(&e->top, 6, e->st.s[i], strlen(e->st.s[i]));
    pf_wbuf_flush(&e->top);
}

pf_code pf_decoded_write(const pf_decoded *d, unsigned flags, pf_write_fn fn, void *ctx,
                         pf_err *err)
{
    if (d == NULL || fn == NULL)
        return pf_seterr(err, PF_ERR_ARG, "profile write: no profile or no writer");
    enc *e = calloc(1, sizeof *e);
    pf_gzw *z = NULL;
    if (e == NULL || ((flags & PF_WRITE_GZIP) && (z = pf_gzw_new(1, fn, ctx, NULL)) == NULL)) {
        free(e);
        return pf_seterr(err, PF_ERR_NOMEM, "profile write: out of memory");
    }
    e->d = d;
    e->top = e->sub = e->tmp = (pf_wbuf)PF_WBUF_INIT;
    if (z != NULL)
        pf_wbuf_sink(&e->top, pf_gzw_write, z);
    else
        pf_wbuf_sink(&e->top, fn, ctx);
    if (pf_grow(&e->st.s, &e->st.cap, 256, sizeof *e->st.s) == 0)
        e->st.s[e->st.n++] = "";
    else
        e->top.status = PF_ERR_NOMEM;
    write_all(e);
    pf_code rc = e->top.status;
    if (z != NULL && rc == PF_OK)
        rc = pf_gzw_finish(z, NULL);
    else
        pf_gzw_free(z);
    pf_wbuf_free(&e->top);
    pf_wbuf_free(&e->sub);
    pf_wbuf_free(&e->tmp);
    free(e->st.s);
    pf_idxmap_free(&e->st.map);
    free(e);
    if (rc == PF_ERR_WRITE)
        return pf_seterr(err, rc, "profile write: the output failed (client gone?)");
    if (rc != PF_OK)
        return pf_seterr(err, rc, "profile write: out of memory");
    return PF_OK;
}

/* ---- into memory ---- */

static int mem_write(void *ctx, const void *data, size_t len)
{
    pf_wbuf *b = ctx;
    pf_wire_raw(b, data, len);
    return b->status == PF_OK ? 0 : -1;
}

pf_code pf_decoded_encode(const pf_decoded *d, unsigned flags, uint8_t **out, size_t *out_len,
                          pf_err *err)
{
    pf_wbuf b = PF_WBUF_INIT;
    pf_code rc = pf_decoded_write(d, flags, mem_write, &b, err);
    if (rc != PF_OK) {
        pf_wbuf_free(&b);
        if (rc == PF_ERR_WRITE)
            return pf_seterr(err, PF_ERR_NOMEM, "profile encode: out of memory");
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return PF_OK;
}
