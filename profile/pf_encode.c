/* pf_encode.c - streaming profile.proto encoder with gzip framing.
 *
 * The Profile message is written field by field: each repeated submessage
 * (Sample, Location, ...) is packed on its own with protobuf-c and fed
 * through deflate to the writer, so memory stays small even for 100k
 * samples. Field order does not matter to protobuf parsers; locations go
 * before mappings and functions because symbolizing them fills both. */
#include "pf_profile_impl.h"
#include "profile.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BUF_SIZE (64u * 1024u)

typedef struct enc {
    ProtobufCBuffer base; /* first: protobuf-c calls base.append */
    pf_write_fn fn;
    void *ctx;
    bool gzip;
    z_stream zs;
    pf_code status;
    size_t inlen;
    uint8_t in[BUF_SIZE];
    uint8_t out[BUF_SIZE];
} enc;

/* ---- byte sink ---- */

static void emit(enc *e, const void *data, size_t len)
{
    if (len > 0 && e->status == PF_OK && e->fn(e->ctx, data, len) != 0)
        e->status = PF_ERR_WRITE;
}

/* Compresses (or passes on) the staged input. */
static void drain(enc *e, int flush)
{
    if (!e->gzip) {
        emit(e, e->in, e->inlen);
        e->inlen = 0;
        return;
    }
    e->zs.next_in = e->in;
    e->zs.avail_in = (uInt)e->inlen;
    int rc;
    do {
        e->zs.next_out = e->out;
        e->zs.avail_out = sizeof e->out;
        rc = deflate(&e->zs, flush);
        emit(e, e->out, sizeof e->out - e->zs.avail_out);
    } while (e->status == PF_OK && (e->zs.avail_out == 0 || (flush == Z_FINISH && rc == Z_OK)));
    e->inlen = 0;
}

static void put(enc *e, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0 && e->status == PF_OK) {
        size_t n = sizeof e->in - e->inlen < len ? sizeof e->in - e->inlen : len;
        memcpy(e->in + e->inlen, p, n);
        e->inlen += n;
        p += n;
        len -= n;
        if (e->inlen == sizeof e->in)
            drain(e, Z_NO_FLUSH);
    }
}

static void pb_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    put((enc *)b, data, len);
}

/* ---- protobuf wire helpers ---- */

static void put_varint(enc *e, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    put(e, b, n);
}

static void put_int(enc *e, unsigned field, int64_t v)
{
    if (v != 0) {
        put_varint(e, (uint64_t)field << 3);
        put_varint(e, (uint64_t)v);
    }
}

static void put_bytes(enc *e, unsigned field, const void *data, size_t len)
{
    put_varint(e, (uint64_t)field << 3 | 2);
    put_varint(e, len);
    put(e, data, len);
}

static void put_msg(enc *e, unsigned field, const ProtobufCMessage *m)
{
    put_varint(e, (uint64_t)field << 3 | 2);
    put_varint(e, protobuf_c_message_get_packed_size(m));
    protobuf_c_message_pack_to_buffer(m, &e->base);
}

static void put_value_type(enc *e, unsigned field, int64_t type, int64_t unit)
{
    Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    vt.type = type;
    vt.unit = unit;
    put_msg(e, field, &vt.base);
}

/* ---- samples ---- */

static bool all_zero(const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0)
            return false;
    }
    return true;
}

static void put_sample(enc *e, const pf_profile *p, const pf_sample *s, uint64_t *ids)
{
    Perftools__Profiles__Label lab[PF_MAX_LABELS], *labp[PF_MAX_LABELS];
    Perftools__Profiles__Sample m = PERFTOOLS__PROFILES__SAMPLE__INIT;
    for (uint32_t i = 0; i < s->nlocs; i++)
        ids[i] = (uint64_t)s->locs[i] + 1;
    for (uint32_t i = 0; i < s->nlabels; i++) {
        Perftools__Profiles__Label l = PERFTOOLS__PROFILES__LABEL__INIT;
        l.key = s->labels[i].key;
        l.str = s->labels[i].str;
        l.num = s->labels[i].num;
        l.num_unit = s->labels[i].unit;
        lab[i] = l;
        labp[i] = &lab[i];
    }
    m.n_location_id = s->nlocs;
    m.location_id = ids;
    m.n_value = p->nvalues;
    m.value = s->values;
    m.n_label = s->nlabels;
    m.label = labp;
    put_msg(e, 2, &m.base);
}

static pf_code put_samples(enc *e, const pf_profile *p)
{
    size_t depth = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        depth = p->samples[i].nlocs > depth ? p->samples[i].nlocs : depth;
    uint64_t *ids = malloc((depth + 1) * sizeof *ids);
    if (ids == NULL)
        return PF_ERR_NOMEM;
    for (size_t i = 0; i < p->nsamples && e->status == PF_OK; i++) {
        if (!all_zero(p->samples[i].values, p->nvalues))
            put_sample(e, p, &p->samples[i], ids);
    }
    free(ids);
    return PF_OK;
}

/* ---- locations, symbolized on the way ---- */

typedef struct loc_ctx {
    pf_profile *p;
    pf_symbolizer *sym;
    uint32_t *by_start; /* mapping indices sorted by start */
    pf_pmapping fake;   /* for symbolic locations; used if fake_used */
    bool fake_used;
} loc_ctx;

/* Turns a symbolizer result into Lines; notes what it found in the mapping. */
static size_t symbolic_lines(loc_ctx *c, uint64_t addr, pf_pmapping *m,
                             Perftools__Profiles__Line *lines)
{
    pf_symbol s;
    if (!pf_symbolize(c->sym, addr, &s))
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < s.nframes; i++) {
        const pf_sym_frame *f = &s.frame[i];
        int64_t name = pf_strtab_intern(&c->p->strings, f->function);
        int64_t file = pf_strtab_intern(&c->p->strings, f->file);
        int64_t fn = name < 0 || file < 0 ? -1 : pf_profile_func(c->p, name, file, f->start_line);
        if (fn < 0)
            return 0; /* out of memory: leave the address unsymbolized */
        Perftools__Profiles__Line l = PERFTOOLS__PROFILES__LINE__INIT;
        l.function_id = (uint64_t)fn + 1;
        l.line = f->line;
        lines[n++] = l;
        if (m != NULL) {
            m->has_functions |= f->function != NULL;
            m->has_filenames |= f->file != NULL;
            m->has_lines |= f->line != 0;
        }
    }
    if (m != NULL)
        m->has_inline |= s.has_debug_info;
    return n;
}

static void put_location(enc *e, loc_ctx *c, size_t idx)
{
    const pf_loc *l = &c->p->locs[idx];
    Perftools__Profiles__Line lines[PF_SYM_MAX_FRAMES], *linep[PF_SYM_MAX_FRAMES];
    Perftools__Profiles__Location m = PERFTOOLS__PROFILES__LOCATION__INIT;
    m.id = (uint64_t)idx + 1;
    if (l->func != 0) {
        Perftools__Profiles__Line one = PERFTOOLS__PROFILES__LINE__INIT;
        one.function_id = l->func;
        one.line = l->line;
        lines[0] = one;
        m.n_line = 1;
        m.mapping_id = (uint64_t)c->p->nmaps + 1;
        c->fake_used = true;
        c->fake.has_filenames |= c->p->funcs[l->func - 1].file != 0;
        c->fake.has_lines |= l->line != 0;
    } else {
        int64_t mi = pf_profile_find_mapping(c->p, c->by_start, l->addr);
        pf_pmapping *map = mi >= 0 ? &c->p->maps[mi] : NULL;
        m.mapping_id = mi >= 0 ? (uint64_t)mi + 1 : 0;
        m.address = l->addr;
        if (c->sym != NULL)
            m.n_line = symbolic_lines(c, l->addr, map, lines);
    }
    for (size_t i = 0; i < m.n_line; i++)
        linep[i] = &lines[i];
    m.line = linep;
    put_msg(e, 4, &m.base);
}

/* Writes every location; fills c (mapping flags, the fake mapping). */
static pf_code put_locations(enc *e, loc_ctx *c)
{
    pf_profile *p = c->p;
    if ((c->by_start = pf_profile_maps_by_start(p)) == NULL)
        return PF_ERR_NOMEM;
    for (size_t i = 0; i < p->nmaps; i++) {
        p->maps[i].has_functions = p->maps[i].has_filenames = false;
        p->maps[i].has_lines = p->maps[i].has_inline = false;
    }
    if (c->sym != NULL)
        pf_symbolizer_sync(c->sym);
    for (size_t i = 0; i < p->nlocs && e->status == PF_OK; i++)
        put_location(e, c, i);
    free(c->by_start);
    c->by_start = NULL;
    return PF_OK;
}

/* ---- mappings, functions, strings, header ---- */

static void put_mapping(enc *e, uint64_t id, const pf_pmapping *pm)
{
    Perftools__Profiles__Mapping m = PERFTOOLS__PROFILES__MAPPING__INIT;
    m.id = id;
    m.memory_start = pm->start;
    m.memory_limit = pm->limit;
    m.file_offset = pm->offset;
    m.filename = pm->file;
    m.build_id = pm->build_id;
    m.has_functions = pm->has_functions;
    m.has_filenames = pm->has_filenames;
    m.has_line_numbers = pm->has_lines;
    m.has_inline_frames = pm->has_inline;
    put_msg(e, 3, &m.base);
}

/* The real mappings, then (as Go's runtime does) a fake one holding the
 * symbolic locations: marked symbolized, so pprof leaves them alone
 * instead of warning "Main binary filename not available". */
static void put_mappings(enc *e, loc_ctx *c)
{
    const pf_profile *p = c->p;
    for (size_t i = 0; i < p->nmaps; i++)
        put_mapping(e, (uint64_t)i + 1, &p->maps[i]);
    if (c->fake_used) {
        c->fake.has_functions = true;
        put_mapping(e, (uint64_t)p->nmaps + 1, &c->fake);
    }
}

static void put_functions(enc *e, const pf_profile *p)
{
    for (size_t i = 0; i < p->nfuncs; i++) {
        Perftools__Profiles__Function f = PERFTOOLS__PROFILES__FUNCTION__INIT;
        f.id = (uint64_t)i + 1;
        f.name = f.system_name = p->funcs[i].name;
        f.filename = p->funcs[i].file;
        f.start_line = p->funcs[i].start_line;
        put_msg(e, 5, &f.base);
    }
}

static void put_header(enc *e, const pf_profile *p)
{
    for (size_t i = 0; i < p->strings.len; i++)
        put_bytes(e, 6, p->strings.str[i], strlen(p->strings.str[i]));
    put_int(e, 9, p->time_nanos);
    put_int(e, 10, p->duration_nanos);
    if (p->period_type != 0 || p->period_unit != 0)
        put_value_type(e, 11, p->period_type, p->period_unit);
    put_int(e, 12, p->period);
    for (size_t i = 0; i < p->ncomments; i++)
        put_int(e, 13, p->comments[i]);
    put_int(e, 14, p->default_type);
}

/* ---- driver ---- */

static pf_code write_all(enc *e, pf_profile *p, pf_symbolizer *sym)
{
    for (size_t i = 0; i < p->nvalues; i++)
        put_value_type(e, 1, p->types[i].key, p->types[i].str);
    loc_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.sym = sym;
    pf_code rc = put_samples(e, p);
    if (rc == PF_OK)
        rc = put_locations(e, &c);
    if (rc != PF_OK)
        return rc;
    put_mappings(e, &c);
    put_functions(e, p);
    put_header(e, p);
    drain(e, Z_FINISH);
    return e->status;
}

pf_code pf_profile_write(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                         pf_write_fn fn, void *ctx, pf_err *err)
{
    if (p == NULL || fn == NULL)
        return pf_seterr(err, PF_ERR_ARG, "profile write: no profile or no writer");
    enc *e = calloc(1, sizeof *e);
    if (e == NULL)
        return pf_seterr(err, PF_ERR_NOMEM, "profile write: out of memory");
    e->base.append = pb_append;
    e->fn = fn;
    e->ctx = ctx;
    e->gzip = (flags & PF_WRITE_GZIP) != 0;
    if (e->gzip && deflateInit2(&e->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8,
                                Z_DEFAULT_STRATEGY) != Z_OK) {
        free(e);
        return pf_seterr(err, PF_ERR_NOMEM, "profile write: zlib init failed");
    }
    pf_code rc = write_all(e, p, sym);
    if (e->gzip)
        deflateEnd(&e->zs);
    free(e);
    if (rc == PF_ERR_WRITE)
        return pf_seterr(err, rc, "profile write: the output failed (client gone?)");
    if (rc != PF_OK)
        return pf_seterr(err, rc, "profile write: out of memory");
    return PF_OK;
}

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
} membuf;

static int mem_write(void *ctx, const void *data, size_t len)
{
    membuf *b = ctx;
    if (pf_grow(&b->data, &b->cap, b->len + len, 1) != 0)
        return -1;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

pf_code pf_profile_encode(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                          uint8_t **out, size_t *out_len, pf_err *err)
{
    membuf b = {NULL, 0, 0};
    pf_code rc = pf_profile_write(p, sym, flags, mem_write, &b, err);
    if (rc != PF_OK) {
        free(b.data);
        if (rc == PF_ERR_WRITE)
            return pf_seterr(err, PF_ERR_NOMEM, "profile encode: out of memory");
        return rc;
    }
    *out = b.data;
    *out_len = b.len;
    return PF_OK;
}
