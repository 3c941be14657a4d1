/* pf_decode.c - profile.proto decoder with reference validation. */
#include "pf_decode.h"
#include "pf_internal.h"
#include "pf_legacy.h"
#include "pf_profile.h"
#include "profile.pb-c.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct dec_impl {
    pf_decoded pub; /* first: pf_decoded * and dec_impl * convert */
    Perftools__Profiles__Profile *msg;
    pf_arena arena;
} dec_impl;

/* id -> index table, sorted by id. */
typedef struct id_ent {
    uint64_t id;
    size_t idx;
} id_ent;

typedef struct dctx {
    dec_impl *d;
    const Perftools__Profiles__Profile *m;
    pf_err *err;
    id_ent *map_ids, *fn_ids, *loc_ids;
} dctx;

#define BAD(c, ...) (pf_seterr((c)->err, PF_ERR_FORMAT, "profile: " __VA_ARGS__), -1)
#define NOMEM(c) (pf_seterr((c)->err, PF_ERR_NOMEM, "profile decode: out of memory"), -1)

/* ---- gzip ---- */

static pf_code inflate_loop(z_stream *zs, uint8_t **buf, size_t *len, size_t *cap,
                            size_t max, pf_err *err)
{
    for (;;) {
        if (*len == *cap && pf_grow(buf, cap, *cap + 1, 1) != 0)
            return pf_seterr(err, PF_ERR_NOMEM, "profile decode: out of memory");
        zs->next_out = *buf + *len;
        zs->avail_out = (uInt)(*cap - *len < (1u << 30) ? *cap - *len : (1u << 30));
        uInt before = zs->avail_out;
        int rc = inflate(zs, Z_NO_FLUSH);
        *len += before - zs->avail_out;
        if (*len > max)
            return pf_seterr(err, PF_ERR_LIMIT, "profile: more than %zu bytes uncompressed", max);
        if (rc == Z_STREAM_END)
            return PF_OK;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs->avail_out == 0))
            return pf_seterr(err, PF_ERR_FORMAT, "profile: bad gzip data (%s)",
                             rc == Z_BUF_ERROR ? "truncated" : zs->msg ? zs->msg : "corrupt");
    }
}

/* Inflates every gzip member of data into *out. */
static pf_code gunzip(const uint8_t *data, size_t len, size_t max, uint8_t **out,
                      size_t *out_len, pf_err *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return pf_seterr(err, PF_ERR_NOMEM, "profile decode: zlib init failed");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    pf_code rc = PF_OK;
    size_t pos = 0;
    while (rc == PF_OK && pos < len) {
        if (pos > 0 && (len - pos < 2 || data[pos] != 0x1f || data[pos + 1] != 0x8b))
            rc = pf_seterr(err, PF_ERR_FORMAT, "profile: bad gzip data (garbage after the end)");
        else {
            inflateReset(&zs);
            zs.next_in = (Bytef *)(uintptr_t)(data + pos);
            zs.avail_in = (uInt)(len - pos < (1u << 30) ? len - pos : (1u << 30));
            uInt before = zs.avail_in;
            rc = inflate_loop(&zs, &buf, &n, &cap, max, err);
            pos += before - zs.avail_in;
        }
    }
    inflateEnd(&zs);
    if (rc != PF_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return PF_OK;
}

/* ---- references ---- */

static int str_at(dctx *c, int64_t idx, const char **out, const char *what)
{
    if (idx < 0 || (uint64_t)idx >= c->m->n_string_table)
        return BAD(c, "%s: string index %" PRId64 " out of range (table has %zu)", what, idx,
                   c->m->n_string_table);
    *out = c->m->string_table[idx];
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const id_ent *)a)->id, y = ((const id_ent *)b)->id;
    return x < y ? -1 : x > y;
}

/* Builds the sorted id table; ids must be non-zero and unique. */
static int index_ids(dctx *c, id_ent **out, size_t n, const uint64_t *ids, const char *what)
{
    id_ent *t = pf_arena_array(&c->d->arena, n + 1, sizeof *t);
    if (t == NULL)
        return NOMEM(c);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0)
            return BAD(c, "%s %zu has id 0", what, i);
        t[i].id = ids[i];
        t[i].idx = i;
    }
    qsort(t, n, sizeof *t, cmp_id);
    for (size_t i = 1; i < n; i++) {
        if (t[i].id == t[i - 1].id)
            return BAD(c, "%s id %" PRIu64 " appears twice", what, t[i].id);
    }
    *out = t;
    return 0;
}

static int64_t find_id(const id_ent *t, size_t n, uint64_t id)
{
    id_ent key = {id, 0};
    const id_ent *e = t ? bsearch(&key, t, n, sizeof key, cmp_id) : NULL;
    return e ? (int64_t)e->idx : -1;
}

static int value_type(dctx *c, const Perftools__Profiles__ValueType *vt, pf_dvaluetype *out,
                      const char *what)
{
    if (vt == NULL) {
        out->type = out->unit = "";
        return 0;
    }
    return str_at(c, vt->type, &out->type, what) || str_at(c, vt->unit, &out->unit, what)
               ? -1 : 0;
}

/* ---- tables ---- */

/* Copies the id field (at id_off) of n messages. */
static uint64_t *gather_ids(dctx *c, size_t n, const void *const *msgs, size_t id_off)
{
    uint64_t *ids = pf_arena_array(&c->d->arena, n + 1, sizeof *ids);
    for (size_t i = 0; ids != NULL && i < n; i++)
        memcpy(&ids[i], (const char *)msgs[i] + id_off, sizeof *ids);
    return ids;
}

static int decode_mappings(dctx *c)
{
    size_t n = c->m->n_mapping;
    pf_dmapping *out = pf_arena_array(&c->d->arena, n + 1, sizeof *out);
    uint64_t *ids = gather_ids(c, n, (const void *const *)c->m->mapping,
                               offsetof(Perftools__Profiles__Mapping, id));
    if (out == NULL || ids == NULL)
        return NOMEM(c);
    if (index_ids(c, &c->map_ids, n, ids, "mapping") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Perftools__Profiles__Mapping *m = c->m->mapping[i];
        pf_dmapping *o = &out[i];
        *o = (pf_dmapping){m->id, m->memory_start, m->memory_limit, m->file_offset, NULL, NULL,
                           m->has_functions, m->has_filenames, m->has_line_numbers,
                           m->has_inline_frames};
        if (str_at(c, m->filename, &o->file, "mapping file") ||
            str_at(c, m->build_id, &o->build_id, "mapping build id"))
            return -1;
    }
    c->d->pub.mappings = out;
    c->d->pub.nmappings = n;
    return 0;
}

static int decode_functions(dctx *c)
{
    size_t n = c->m->n_function;
    pf_dfunction *out = pf_arena_array(&c->d->arena, n + 1, sizeof *out);
    uint64_t *ids = gather_ids(c, n, (const void *const *)c->m->function,
                               offsetof(Perftools__Profiles__Function, id));
    if (out == NULL || ids == NULL)
        return NOMEM(c);
    if (index_ids(c, &c->fn_ids, n, ids, "function") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Perftools__Profiles__Function *f = c->m->function[i];
        out[i].id = f->id;
        out[i].start_line = f->start_line;
        if (str_at(c, f->name, &out[i].name, "function name") ||
            str_at(c, f->system_name, &out[i].system_name, "function system name") ||
            str_at(c, f->filename, &out[i].file, "function file"))
            return -1;
    }
    c->d->pub.functions = out;
    c->d->pub.nfunctions = n;
    return 0;
}

static int decode_lines(dctx *c, const Perftools__Profiles__Location *l, pf_dlocation *o)
{
    pf_dline *lines = pf_arena_array(&c->d->arena, l->n_line + 1, sizeof *lines);
    if (lines == NULL)
        return NOMEM(c);
    for (size_t j = 0; j < l->n_line; j++) {
        const Perftools__Profiles__Line *ln = l->line[j];
        int64_t f = find_id(c->fn_ids, c->d->pub.nfunctions, ln->function_id);
        if (f < 0)
            return BAD(c, "location id %" PRIu64 ": line %zu: function id %" PRIu64 " not found",
                       l->id, j, ln->function_id);
        lines[j].function = &c->d->pub.functions[f];
        lines[j].line = ln->line;
    }
    o->lines = lines;
    o->nlines = l->n_line;
    return 0;
}

static int decode_locations(dctx *c)
{
    size_t n = c->m->n_location;
    pf_dlocation *out = pf_arena_array(&c->d->arena, n + 1, sizeof *out);
    uint64_t *ids = gather_ids(c, n, (const void *const *)c->m->location,
                               offsetof(Perftools__Profiles__Location, id));
    if (out == NULL || ids == NULL)
        return NOMEM(c);
    if (index_ids(c, &c->loc_ids, n, ids, "location") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const Perftools__Profiles__Location *l = c->m->location[i];
        out[i].id = l->id;
        out[i].address = l->address;
        out[i].is_folded = l->is_folded;
        if (l->mapping_id != 0) {
            int64_t mi = find_id(c->map_ids, c->d->pub.nmappings, l->mapping_id);
            if (mi < 0)
                return BAD(c, "location id %" PRIu64 ": mapping id %" PRIu64 " not found",
                           l->id, l->mapping_id);
            out[i].mapping = &c->d->pub.mappings[mi];
        }
        if (decode_lines(c, l, &out[i]) != 0)
            return -1;
    }
    c->d->pub.locations = out;
    c->d->pub.nlocations = n;
    return 0;
}

static int decode_labels(dctx *c, const Perftools__Profiles__Sample *s, pf_dsample *o)
{
    pf_dlabel *labels = pf_arena_array(&c->d->arena, s->n_label + 1, sizeof *labels);
    if (labels == NULL)
        return NOMEM(c);
    for (size_t j = 0; j < s->n_label; j++) {
        const Perftools__Profiles__Label *l = s->label[j];
        labels[j].num = l->num;
        if (str_at(c, l->key, &labels[j].key, "label key") ||
            str_at(c, l->num_unit, &labels[j].num_unit, "label unit"))
            return -1;
        if (l->str != 0 && str_at(c, l->str, &labels[j].str, "label value"))
            return -1;
    }
    o->labels = labels;
    o->nlabels = s->n_label;
    return 0;
}

static int decode_sample(dctx *c, size_t i, pf_dsample *o)
{
    const Perftools__Profiles__Sample *s = c->m->sample[i];
    if (s->n_value != c->d->pub.nsample_types)
        return BAD(c, "sample %zu has %zu values for %zu sample types", i, s->n_value,
                   c->d->pub.nsample_types);
    const pf_dlocation **locs = pf_arena_array(&c->d->arena, s->n_location_id + 1, sizeof *locs);
    if (locs == NULL)
        return NOMEM(c);
    for (size_t j = 0; j < s->n_location_id; j++) {
        int64_t li = find_id(c->loc_ids, c->d->pub.nlocations, s->location_id[j]);
        if (li < 0)
            return BAD(c, "sample %zu: location id %" PRIu64 " not found", i, s->location_id[j]);
        locs[j] = &c->d->pub.locations[li];
    }
    o->locations = locs;
    o->nlocations = s->n_location_id;
    o->values = s->value;
    return decode_labels(c, s, o);
}

static int decode_samples(dctx *c)
{
    size_t n = c->m->n_sample;
    pf_dsample *out = pf_arena_array(&c->d->arena, n + 1, sizeof *out);
    if (out == NULL)
        return NOMEM(c);
    for (size_t i = 0; i < n; i++) {
        if (decode_sample(c, i, &out[i]) != 0)
            return -1;
    }
    c->d->pub.samples = out;
    c->d->pub.nsamples = n;
    return 0;
}

/* ---- header ---- */

static int decode_header(dctx *c)
{
    const Perftools__Profiles__Profile *m = c->m;
    pf_decoded *d = &c->d->pub;
    if (m->n_string_table == 0 || m->string_table[0][0] != '\0')
        return BAD(c, "string table must start with \"\" (is this a profile.proto file?)");
    size_t n = m->n_sample_type;
    pf_dvaluetype *types = pf_arena_array(&c->d->arena, n + 1, sizeof *types);
    const char **comments = pf_arena_array(&c->d->arena, m->n_comment + 1, sizeof *comments);
    if (types == NULL || comments == NULL)
        return NOMEM(c);
    const char *def = "";
    for (size_t i = 0; i < n; i++) {
        if (value_type(c, m->sample_type[i], &types[i], "sample type"))
            return -1;
    }
    for (size_t i = 0; i < m->n_comment; i++) {
        if (str_at(c, m->comment[i], &comments[i], "comment"))
            return -1;
    }
    if (value_type(c, m->period_type, &d->period_type, "period type") ||
        str_at(c, m->drop_frames, &d->drop_frames, "drop_frames") ||
        str_at(c, m->keep_frames, &d->keep_frames, "keep_frames") ||
        str_at(c, m->default_sample_type, &def, "default sample type"))
        return -1;
    d->sample_types = types;
    d->nsample_types = n;
    d->comments = comments;
    d->ncomments = m->n_comment;
    d->period = m->period;
    d->time_nanos = m->time_nanos;
    d->duration_nanos = m->duration_nanos;
    int di = def[0] ? pf_decoded_type_index(d, def) : -1;
    d->default_sample_type = di >= 0 ? (size_t)di : (n > 0 ? n - 1 : 0);
    return 0;
}

/* ---- entry points ---- */

static pf_decoded *decode_plain(const uint8_t *buf, size_t len, pf_err *err)
{
    dec_impl *d = calloc(1, sizeof *d);
    if (d == NULL) {
        pf_seterr(err, PF_ERR_NOMEM, "profile decode: out of memory");
        return NULL;
    }
    d->msg = perftools__profiles__profile__unpack(NULL, len, buf);
    if (d->msg == NULL) {
        pf_seterr(err, PF_ERR_FORMAT, "profile: not a profile.proto message (%zu bytes "
                  "that do not parse as protobuf)", len);
        free(d);
        return NULL;
    }
    dctx c = {d, d->msg, err, NULL, NULL, NULL};
    if (decode_header(&c) || decode_mappings(&c) || decode_functions(&c) ||
        decode_locations(&c) || decode_samples(&c)) {
        pf_decoded_free(&d->pub);
        return NULL;
    }
    return &d->pub;
}

/* Legacy CPU input: convert, encode plain, decode that. */
static pf_decoded *decode_legacy(const uint8_t *data, size_t len, pf_err *err)
{
    pf_profile *p = pf_legacy_cpu_parse(data, len, 0, err);
    if (p == NULL)
        return NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    pf_decoded *d = NULL;
    if (pf_profile_encode(p, NULL, 0, &buf, &n, err) == PF_OK) {
        d = decode_plain(buf, n, err);
        free(buf);
    }
    pf_profile_free(p);
    if (d != NULL)
        d->from_legacy = true;
    return d;
}

pf_decoded *pf_decode(const void *data, size_t len, size_t max_bytes, pf_err *err)
{
    const uint8_t *p = data;
    if (data == NULL || len == 0) {
        pf_seterr(err, PF_ERR_FORMAT, "profile: empty input");
        return NULL;
    }
    if (max_bytes == 0)
        max_bytes = PF_DECODE_DEFAULT_MAX;
    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        uint8_t *buf = NULL;
        size_t n = 0;
        if (gunzip(p, len, max_bytes, &buf, &n, err) != PF_OK)
            return NULL;
        pf_decoded *d = pf_legacy_is_cpu(buf, n) ? decode_legacy(buf, n, err)
                                                 : decode_plain(buf, n, err);
        free(buf);
        return d;
    }
    if (len > max_bytes) {
        pf_seterr(err, PF_ERR_LIMIT, "profile: input larger than %zu bytes", max_bytes);
        return NULL;
    }
    return pf_legacy_is_cpu(p, len) ? decode_legacy(p, len, err) : decode_plain(p, len, err);
}

int pf_decoded_type_index(const pf_decoded *d, const char *type)
{
    for (size_t i = 0; type != NULL && i < d->nsample_types; i++) {
        if (strcmp(d->sample_types[i].type, type) == 0)
            return (int)i;
    }
    return -1;
}

void pf_decoded_free(pf_decoded *d)
{
    if (d == NULL)
        return;
    dec_impl *di = (dec_impl *)d;
    if (di->msg != NULL)
        perftools__profiles__profile__free_unpacked(di->msg, NULL);
    pf_arena_free(&di->arena);
    free(di);
}
