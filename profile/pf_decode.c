/*
 * pf_decode.c - profile.proto reader, straight from the wire format into
 * the pf_decoded model (no intermediate message tree: a 500k-sample profile is
 * read in one sweep over its bytes, with memory for its distinct stacks).
 *
 * Two passes over the top-level fields: the first reads everything but the
 * samples (strings, mappings, functions, locations, header), the second the
 * samples, whose location ids can then be checked and turned into indices
 * at once. Fields may come in any order, repeated scalars packed or not;
 * unknown fields are skipped. Every length, index and id is checked.
 */
#include "pf_decode.h"
#include "pf_gzip.h"
#include "pf_internal.h"
#include "pf_legacy.h"
#include "pf_profile.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rd {
    const uint8_t *p, *end;
} rd;

typedef struct raw_fn {
    uint64_t id;
    int64_t name, sys, file, start_line;
} raw_fn;

typedef struct raw_map {
    pf_dmapping m;
    int64_t file, build_id;
} raw_map;

typedef struct raw_loc {
    uint64_t id, mapping_id, address;
    size_t line0;
    uint32_t nlines;
} raw_loc;

typedef struct raw_line {
    uint64_t fid;
    int64_t line;
} raw_line;

/* id -> index + 1: a direct table when ids are dense, else sorted pairs. */
typedef struct idmap {
    uint32_t *direct;
    size_t ndirect;
    uint64_t (*pairs)[2];
    size_t npairs;
} idmap;

typedef struct raw_label {
    int64_t key, str, num, unit;
} raw_label;

typedef struct pbctx {
    pf_decoded *p;
    pf_err *err;
    struct pbstr {
        const uint8_t *p;
        size_t len;
    } *str;
    size_t nstr, cap_str;
    const char **mat; /* materialized strings, by index */
    int64_t (*vt)[2];
    size_t nvt, cap_vt;
    int64_t period_type[2], drop, keep, default_type;
    int64_t *comments;
    size_t ncomments, cap_comments;
    raw_fn *fns;
    size_t nfns, cap_fns;
    raw_map *maps;
    size_t nmaps, cap_maps;
    raw_loc *locs;
    size_t nlocs, cap_locs;
    raw_line *lines;
    size_t nlines, cap_lines;
    idmap fn_ids, map_ids, loc_ids;
    uint64_t *ids;
    int64_t *vals;
    uint32_t *idx;
    size_t cap_ids, cap_vals, cap_idx;
    raw_label *rlab;
    pf_dlabel *lab;
    size_t cap_rlab, cap_lab;
    size_t sample_no, nrecords, stack_hint;
} pbctx;

static int fail(pbctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(pbctx *c, const char *fmt, ...)
{
    char msg[sizeof c->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pf_seterr(c->err, PF_ERR_FORMAT, "profile.proto: %s", msg);
    return -1;
}

#define NOMEM(c) (pf_seterr((c)->err, PF_ERR_NOMEM, "profile decode: out of memory"), -1)

/* ---- wire format ---- */

static inline bool varint(rd *r, uint64_t *v)
{
    const uint8_t *p = r->p;
    if (p < r->end && *p < 0x80) {
        *v = *p;
        r->p = p + 1;
        return true;
    }
    uint64_t x = 0;
    for (unsigned s = 0; s < 64 && p < r->end; s += 7) {
        uint8_t b = *p++;
        x |= (uint64_t)(b & 0x7f) << s;
        if (b < 0x80) {
            *v = x;
            r->p = p;
            return true;
        }
    }
    return false;
}

/* Reads a tag; false at the end or on a bad tag (*bad set). */
static bool next_field(rd *r, unsigned *field, unsigned *wt, bool *bad)
{
    uint64_t tag;
    *bad = false;
    if (r->p >= r->end)
        return false;
    if (!varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX) {
        *bad = true;
        return false;
    }
    *field = (unsigned)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    return true;
}

/* Reads a length-delimited payload into *sub. */
static bool bytes(rd *r, rd *sub)
{
    uint64_t n;
    if (!varint(r, &n) || n > (uint64_t)(r->end - r->p))
        return false;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return true;
}

static bool skip(rd *r, unsigned wt)
{
    uint64_t v;
    rd sub;
    switch (wt) {
    case 0: return varint(r, &v);
    case 1: if (r->end - r->p < 8) return false; r->p += 8; return true;
    case 2: return bytes(r, &sub);
    case 5: if (r->end - r->p < 4) return false; r->p += 4; return true;
    default: return false;
    }
}

/* A scalar field (wire type 0): its value, or false. */
static bool scalar(rd *r, unsigned wt, uint64_t *v)
{
    if (wt == 0)
        return varint(r, v);
    *v = 0;
    return skip(r, wt);
}

/* ---- small messages ---- */

static int bad_msg(pbctx *c, const char *what)
{
    return fail(c, "malformed %s (truncated or corrupt protobuf)", what);
}

/* A known field of the wrong wire type (protobuf parsers refuse it). */
static int bad_type(pbctx *c, const char *what, unsigned field, unsigned wt)
{
    return fail(c, "malformed %s: field %u has wire type %u", what, field, wt);
}

/* Generic loop over the fields of a message: calls fn for each. */
typedef int (*field_fn)(pbctx *c, rd *r, unsigned field, unsigned wt, void *out);

static int each_field(pbctx *c, rd r, const char *what, field_fn fn, void *out)
{
    unsigned field, wt;
    bool bad;
    while (next_field(&r, &field, &wt, &bad)) {
        int rc = fn(c, &r, field, wt, out);
        if (rc < 0)
            return -1;
        if (rc == 0 && !skip(&r, wt))
            return bad_msg(c, what);
    }
    return bad ? bad_msg(c, what) : 0;
}

/* Field handlers return 1 (consumed), 0 (skip it) or -1 (error). */
static int vt_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    int64_t *vt = out;
    uint64_t v;
    if (field != 1 && field != 2)
        return 0;
    if (wt != 0)
        return bad_type(c, "value type", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "value type");
    vt[field - 1] = (int64_t)v;
    return 1;
}

static int fn_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    raw_fn *f = out;
    uint64_t v;
    if (field < 1 || field > 5)
        return 0;
    if (wt != 0)
        return bad_type(c, "function", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "function");
    switch (field) {
    case 1: f->id = v; break;
    case 2: f->name = (int64_t)v; break;
    case 3: f->sys = (int64_t)v; break;
    case 4: f->file = (int64_t)v; break;
    default: f->start_line = (int64_t)v; break;
    }
    return 1;
}

static int map_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    raw_map *m = out;
    uint64_t v;
    if (field < 1 || field > 10)
        return 0;
    if (wt != 0)
        return bad_type(c, "mapping", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "mapping");
    switch (field) {
    case 1: m->m.id = v; break;
    case 2: m->m.start = v; break;
    case 3: m->m.limit = v; break;
    case 4: m->m.offset = v; break;
    case 5: m->file = (int64_t)v; break;
    case 6: m->build_id = (int64_t)v; break;
    case 7: m->m.has_functions = v != 0; break;
    case 8: m->m.has_filenames = v != 0; break;
    case 9: m->m.has_lines = v != 0; break;
    default: m->m.has_inline = v != 0; break;
    }
    return 1;
}

static int line_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    raw_line *l = out;
    uint64_t v;
    if (field != 1 && field != 2)
        return 0;
    if (wt != 0)
        return bad_type(c, "line", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "line");
    if (field == 1)
        l->fid = v;
    else
        l->line = (int64_t)v;
    return 1;
}

static int loc_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    raw_loc *l = out;
    uint64_t v;
    rd sub;
    if (field == 4) {
        raw_line ln = {0, 0};
        if (wt != 2)
            return bad_type(c, "location", field, wt);
        if (!bytes(r, &sub) || each_field(c, sub, "line", line_field, &ln) != 0)
            return bad_msg(c, "location line");
        if (pf_grow(&c->lines, &c->cap_lines, c->nlines + 1, sizeof ln) != 0)
            return NOMEM(c);
        if (l->nlines == 0)
            l->line0 = c->nlines;
        if (l->line0 + l->nlines != c->nlines)
            return fail(c, "location lines out of order");
        c->lines[c->nlines++] = ln;
        l->nlines++;
        return 1;
    }
    if (field < 1 || field > 5)
        return 0;
    if (wt != 0)
        return bad_type(c, "location", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "location");
    if (field == 1)
        l->id = v;
    else if (field == 2)
        l->mapping_id = v;
    else if (field == 3)
        l->address = v;
    return 1; /* 5: is_folded, not used */
}

/* ---- top level, first pass ---- */

static int add_string(pbctx *c, rd *r)
{
    rd s;
    if (!bytes(r, &s))
        return bad_msg(c, "string table");
    if (pf_grow(&c->str, &c->cap_str, c->nstr + 1, sizeof *c->str) != 0)
        return NOMEM(c);
    c->str[c->nstr].p = s.p;
    c->str[c->nstr++].len = (size_t)(s.end - s.p);
    return 1;
}

static int push_comment(pbctx *c, rd *r)
{
    uint64_t v;
    if (!varint(r, &v))
        return bad_msg(c, "comment");
    if (pf_grow(&c->comments, &c->cap_comments, c->ncomments + 1, sizeof v) != 0)
        return NOMEM(c);
    c->comments[c->ncomments++] = (int64_t)v;
    return 1;
}

static int add_comments(pbctx *c, rd *r, unsigned wt)
{
    rd sub;
    if (wt == 0)
        return push_comment(c, r);
    if (wt != 2)
        return bad_type(c, "profile", 13, wt);
    if (!bytes(r, &sub))
        return bad_msg(c, "comment");
    while (sub.p < sub.end) {
        if (push_comment(c, &sub) < 0)
            return -1;
    }
    return 1;
}

/* Messages of the first pass: value types, mappings, locations, functions. */
static int table_msg(pbctx *c, rd *r, unsigned field)
{
    rd sub;
    if (!bytes(r, &sub))
        return bad_msg(c, "profile");
    switch (field) {
    case 1:
    case 11: {
        int64_t vt[2] = {0, 0};
        if (each_field(c, sub, "sample type", vt_field, vt) != 0)
            return -1;
        if (field == 11) {
            memcpy(c->period_type, vt, sizeof vt);
            return 1;
        }
        if (pf_grow(&c->vt, &c->cap_vt, c->nvt + 1, sizeof *c->vt) != 0)
            return NOMEM(c);
        memcpy(c->vt[c->nvt++], vt, sizeof vt);
        return 1;
    }
    case 3:
        if (pf_grow(&c->maps, &c->cap_maps, c->nmaps + 1, sizeof *c->maps) != 0)
            return NOMEM(c);
        c->maps[c->nmaps] = (raw_map){{0}, 0, 0};
        return each_field(c, sub, "mapping", map_field, &c->maps[c->nmaps++]) ? -1 : 1;
    case 4:
        if (pf_grow(&c->locs, &c->cap_locs, c->nlocs + 1, sizeof *c->locs) != 0)
            return NOMEM(c);
        c->locs[c->nlocs] = (raw_loc){0, 0, 0, 0, 0};
        return each_field(c, sub, "location", loc_field, &c->locs[c->nlocs++]) ? -1 : 1;
    default:
        if (pf_grow(&c->fns, &c->cap_fns, c->nfns + 1, sizeof *c->fns) != 0)
            return NOMEM(c);
        c->fns[c->nfns] = (raw_fn){0, 0, 0, 0, 0};
        return each_field(c, sub, "function", fn_field, &c->fns[c->nfns++]) ? -1 : 1;
    }
}

static int top_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    uint64_t v;
    (void)out;
    if (field == 13)
        return add_comments(c, r, wt);
    if (field < 1 || field > 14)
        return 0;
    bool msg = field <= 6 || field == 11;
    if (wt != (msg ? 2u : 0u))
        return bad_type(c, "profile", field, wt);
    if (field == 2)
        return 0; /* samples: second pass */
    if (field == 6)
        return add_string(c, r);
    if (msg)
        return table_msg(c, r, field);
    if (!scalar(r, wt, &v))
        return bad_msg(c, "profile header");
    switch (field) {
    case 7: c->drop = (int64_t)v; break;
    case 8: c->keep = (int64_t)v; break;
    case 9: c->p->time_nanos = (int64_t)v; break;
    case 10: c->p->duration_nanos = (int64_t)v; break;
    case 12: c->p->period = (int64_t)v; break;
    default: c->default_type = (int64_t)v; break;
    }
    return 1;
}

/* ---- sizes first: everything is allocated once, not grown by copying ---- */

typedef struct counts {
    size_t vt, samples, maps, locs, fns, strs, sample_bytes;
} counts;

static int count_fields(pbctx *c, rd r, counts *n)
{
    unsigned field, wt;
    bool bad;
    while (next_field(&r, &field, &wt, &bad)) {
        const uint8_t *at = r.p;
        if (!skip(&r, wt))
            return bad_msg(c, "profile");
        if (wt != 2)
            continue;
        switch (field) {
        case 1: n->vt++; break;
        case 2: n->samples++; n->sample_bytes += (size_t)(r.p - at); break;
        case 3: n->maps++; break;
        case 4: n->locs++; break;
        case 5: n->fns++; break;
        case 6: n->strs++; break;
        default: break;
        }
    }
    return bad ? bad_msg(c, "profile") : 0;
}

static int reserve(pbctx *c, rd r)
{
    counts n = {0};
    if (count_fields(c, r, &n) != 0)
        return -1;
    if (pf_grow(&c->str, &c->cap_str, n.strs + 1, sizeof *c->str) != 0 ||
        pf_grow(&c->vt, &c->cap_vt, n.vt + 1, sizeof *c->vt) != 0 ||
        pf_grow(&c->maps, &c->cap_maps, n.maps + 1, sizeof *c->maps) != 0 ||
        pf_grow(&c->locs, &c->cap_locs, n.locs + 1, sizeof *c->locs) != 0 ||
        pf_grow(&c->fns, &c->cap_fns, n.fns + 1, sizeof *c->fns) != 0 ||
        pf_grow(&c->lines, &c->cap_lines, n.locs + 1, sizeof *c->lines) != 0)
        return NOMEM(c);
    c->nrecords = n.samples;
    c->stack_hint = n.sample_bytes < (16u << 20) ? n.sample_bytes : (16u << 20);
    return 0;
}

/* Model arrays at their final sizes (samples and stack: upper bounds). */
static int reserve_model(pbctx *c)
{
    return pf_decoded_reserve(c->p, c->nmaps + 1, c->nfns + 1, c->nlocs + 1, c->nlines + 1,
                            c->nrecords + 1, c->stack_hint + 1) != 0 ? NOMEM(c) : 0;
}

/* ---- resolving references ---- */

static int str_at(pbctx *c, int64_t i, const char **out, const char *what)
{
    if (i < 0 || (uint64_t)i >= c->nstr)
        return fail(c, "%s: string index %" PRId64 " out of range (table has %zu)", what, i,
                    c->nstr);
    if (c->mat[i] == NULL)
        c->mat[i] = pf_decoded_str(c->p, (const char *)c->str[i].p, c->str[i].len);
    *out = c->mat[i];
    return *out == NULL ? NOMEM(c) : 0;
}

static int cmp_pair(const void *a, const void *b)
{
    uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return x < y ? -1 : x > y;
}

/* Builds an id map; ids must be non-zero and unique. */
static int idmap_build(pbctx *c, idmap *m, size_t n, const void *base, size_t stride,
                       const char *what)
{
    uint64_t maxid = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = *(const uint64_t *)((const char *)base + i * stride);
        if (id == 0)
            return fail(c, "%s %zu has id 0", what, i);
        maxid = id > maxid ? id : maxid;
    }
    if (maxid <= 4 * (uint64_t)n + 64) {
        m->ndirect = (size_t)maxid + 1;
        if ((m->direct = calloc(m->ndirect, sizeof *m->direct)) == NULL)
            return NOMEM(c);
        for (size_t i = 0; i < n; i++) {
            uint64_t id = *(const uint64_t *)((const char *)base + i * stride);
            if (m->direct[id] != 0)
                return fail(c, "%s id %" PRIu64 " appears twice", what, id);
            m->direct[id] = (uint32_t)i + 1;
        }
        return 0;
    }
    if ((m->pairs = calloc(n + 1, sizeof *m->pairs)) == NULL)
        return NOMEM(c);
    for (size_t i = 0; i < n; i++) {
        m->pairs[i][0] = *(const uint64_t *)((const char *)base + i * stride);
        m->pairs[i][1] = i;
    }
    qsort(m->pairs, n, sizeof *m->pairs, cmp_pair);
    m->npairs = n;
    for (size_t i = 1; i < n; i++) {
        if (m->pairs[i][0] == m->pairs[i - 1][0])
            return fail(c, "%s id %" PRIu64 " appears twice", what, m->pairs[i][0]);
    }
    return 0;
}

/* Index of id, or -1. */
static inline int64_t idmap_find(const idmap *m, uint64_t id)
{
    if (m->direct != NULL)
        return id < m->ndirect ? (int64_t)m->direct[id] - 1 : -1;
    size_t lo = 0, hi = m->npairs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->pairs[mid][0] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->npairs && m->pairs[lo][0] == id ? (int64_t)m->pairs[lo][1] : -1;
}

static void idmap_free(idmap *m)
{
    free(m->direct);
    free(m->pairs);
}

static int resolve_header(pbctx *c)
{
    pf_decoded *p = c->p;
    if (c->nstr == 0 || c->str[0].len != 0)
        return fail(c, "not a profile (its string table must start with \"\")");
    if ((c->mat = calloc(c->nstr, sizeof *c->mat)) == NULL)
        return NOMEM(c);
    p->types = calloc(c->nvt + 1, sizeof *p->types);
    p->comments = calloc(c->ncomments + 1, sizeof *p->comments);
    if (p->types == NULL || p->comments == NULL)
        return NOMEM(c);
    p->ntypes = c->nvt;
    for (size_t i = 0; i < c->nvt; i++) {
        if (str_at(c, c->vt[i][0], &p->types[i].type, "sample type") ||
            str_at(c, c->vt[i][1], &p->types[i].unit, "sample type"))
            return -1;
    }
    p->ncomments = c->ncomments;
    for (size_t i = 0; i < c->ncomments; i++) {
        if (str_at(c, c->comments[i], &p->comments[i], "comment"))
            return -1;
    }
    const char *def;
    if (str_at(c, c->period_type[0], &p->period_type.type, "period type") ||
        str_at(c, c->period_type[1], &p->period_type.unit, "period type") ||
        str_at(c, c->drop, &p->drop_frames, "drop_frames") ||
        str_at(c, c->keep, &p->keep_frames, "keep_frames") ||
        str_at(c, c->default_type, &def, "default sample type"))
        return -1;
    int di = def[0] ? pf_decoded_type_index(p, def) : -1;
    p->default_type = di >= 0 && strcmp(p->types[di].type, def) == 0 ? (size_t)di
                      : (p->ntypes > 0 ? p->ntypes - 1 : 0);
    return 0;
}

static int resolve_functions(pbctx *c)
{
    if (idmap_build(c, &c->fn_ids, c->nfns, c->fns, sizeof *c->fns, "function") != 0)
        return -1;
    for (size_t i = 0; i < c->nfns; i++) {
        const raw_fn *r = &c->fns[i];
        pf_dfunction f = {r->id, NULL, NULL, NULL, r->start_line};
        if (str_at(c, r->name, &f.name, "function name") ||
            str_at(c, r->sys, &f.system_name, "function system name") ||
            str_at(c, r->file, &f.file, "function file"))
            return -1;
        if (pf_decoded_add_function(c->p, &f) < 0)
            return NOMEM(c);
    }
    return 0;
}

static int resolve_mappings(pbctx *c)
{
    if (idmap_build(c, &c->map_ids, c->nmaps, c->maps, sizeof *c->maps, "mapping") != 0)
        return -1;
    for (size_t i = 0; i < c->nmaps; i++) {
        pf_dmapping m = c->maps[i].m;
        if (str_at(c, c->maps[i].file, &m.file, "mapping file") ||
            str_at(c, c->maps[i].build_id, &m.build_id, "mapping build id"))
            return -1;
        if (pf_decoded_add_mapping(c->p, &m) < 0)
            return NOMEM(c);
    }
    return 0;
}

static int resolve_location(pbctx *c, const raw_loc *r)
{
    pf_dlocation l = {r->id, r->address, 0, r->nlines, c->p->nlines};
    if (r->mapping_id != 0) {
        int64_t m = idmap_find(&c->map_ids, r->mapping_id);
        if (m < 0)
            return fail(c, "location id %" PRIu64 ": mapping id %" PRIu64 " not found", r->id,
                        r->mapping_id);
        l.mapping = (uint32_t)m + 1;
    }
    for (uint32_t j = 0; j < r->nlines; j++) {
        const raw_line *ln = &c->lines[r->line0 + j];
        int64_t f = idmap_find(&c->fn_ids, ln->fid);
        if (f < 0)
            return fail(c, "location id %" PRIu64 ": line %" PRIu32 ": function id %" PRIu64
                        " not found", r->id, j, ln->fid);
        if (pf_decoded_add_line(c->p, (uint32_t)f, ln->line) < 0)
            return NOMEM(c);
    }
    return pf_decoded_add_location(c->p, &l) < 0 ? NOMEM(c) : 0;
}

static int resolve_locations(pbctx *c)
{
    if (idmap_build(c, &c->loc_ids, c->nlocs, c->locs, sizeof *c->locs, "location") != 0)
        return -1;
    for (size_t i = 0; i < c->nlocs; i++) {
        if (resolve_location(c, &c->locs[i]) != 0)
            return -1;
    }
    return 0;
}

/* ---- samples, second pass ---- */

/* Appends the varints of a packed or single field to *arr. */
static int read_repeated(pbctx *c, rd *r, unsigned wt, uint64_t **arr, size_t *n, size_t *cap)
{
    rd sub;
    uint64_t v;
    if (wt == 0) {
        if (!varint(r, &v))
            return bad_msg(c, "sample");
        if (pf_grow(arr, cap, *n + 1, sizeof v) != 0)
            return NOMEM(c);
        (*arr)[(*n)++] = v;
        return 1;
    }
    if (wt != 2)
        return bad_type(c, "sample", 0, wt);
    if (!bytes(r, &sub))
        return bad_msg(c, "sample");
    if (pf_grow(arr, cap, *n + (size_t)(sub.end - sub.p), sizeof v) != 0)
        return NOMEM(c);
    while (sub.p < sub.end) {
        if (!varint(&sub, &(*arr)[*n]))
            return bad_msg(c, "sample");
        (*n)++;
    }
    return 1;
}

typedef struct sample_acc {
    size_t nids, nvals, nlabels;
} sample_acc;

static int label_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    raw_label *l = out;
    uint64_t v;
    if (field < 1 || field > 4)
        return 0;
    if (wt != 0)
        return bad_type(c, "label", field, wt);
    if (!varint(r, &v))
        return bad_msg(c, "label");
    switch (field) {
    case 1: l->key = (int64_t)v; break;
    case 2: l->str = (int64_t)v; break;
    case 3: l->num = (int64_t)v; break;
    default: l->unit = (int64_t)v; break;
    }
    return 1;
}

static int sample_field(pbctx *c, rd *r, unsigned field, unsigned wt, void *out)
{
    sample_acc *a = out;
    rd sub;
    if (field == 1)
        return read_repeated(c, r, wt, &c->ids, &a->nids, &c->cap_ids);
    if (field == 2)
        return read_repeated(c, r, wt, (uint64_t **)&c->vals, &a->nvals, &c->cap_vals);
    if (field != 3)
        return 0;
    if (wt != 2)
        return bad_type(c, "sample", field, wt);
    if (!bytes(r, &sub))
        return bad_msg(c, "sample");
    if (pf_grow(&c->rlab, &c->cap_rlab, a->nlabels + 1, sizeof *c->rlab) != 0)
        return NOMEM(c);
    c->rlab[a->nlabels] = (raw_label){0, 0, 0, 0};
    if (each_field(c, sub, "label", label_field, &c->rlab[a->nlabels]) != 0)
        return -1;
    a->nlabels++;
    return 1;
}

/* Checks the labels' strings; keeps them in c->lab when records are kept. */
static int resolve_labels(pbctx *c, size_t n)
{
    if (c->p->records && pf_grow(&c->lab, &c->cap_lab, n + 1, sizeof *c->lab) != 0)
        return NOMEM(c);
    for (size_t k = 0; k < n; k++) {
        const raw_label *r = &c->rlab[k];
        pf_dlabel l = {NULL, NULL, r->num, NULL};
        if (str_at(c, r->key, &l.key, "label key") ||
            str_at(c, r->unit, &l.num_unit, "label unit") ||
            (r->str != 0 && str_at(c, r->str, &l.str, "label value")))
            return -1;
        if (c->p->records)
            c->lab[k] = l;
    }
    return 0;
}

static int add_sample(pbctx *c, rd sub)
{
    sample_acc a = {0, 0, 0};
    size_t i = c->sample_no++;
    if (each_field(c, sub, "sample", sample_field, &a) != 0)
        return -1;
    if (a.nvals != c->p->ntypes)
        return fail(c, "sample %zu has %zu values for %zu sample types", i, a.nvals,
                    c->p->ntypes);
    if (pf_grow(&c->idx, &c->cap_idx, a.nids + 1, sizeof *c->idx) != 0)
        return NOMEM(c);
    for (size_t k = 0; k < a.nids; k++) {
        int64_t li = idmap_find(&c->loc_ids, c->ids[k]);
        if (li < 0)
            return fail(c, "sample %zu: location id %" PRIu64 " not found", i, c->ids[k]);
        c->idx[k] = (uint32_t)li;
    }
    if (a.nlabels > 0 && resolve_labels(c, a.nlabels) != 0)
        return -1;
    if (pf_decoded_add_sample(c->p, c->idx, a.nids, c->vals ? c->vals : (int64_t[1]){0},
                              c->lab, c->p->records ? a.nlabels : 0) != 0)
        return NOMEM(c);
    return 0;
}

static int read_samples(pbctx *c, rd r)
{
    unsigned field, wt;
    bool bad;
    while (next_field(&r, &field, &wt, &bad)) {
        rd sub;
        if (field != 2 || wt != 2) {
            if (!skip(&r, wt))
                return bad_msg(c, "profile");
            continue;
        }
        if (!bytes(&r, &sub))
            return bad_msg(c, "sample");
        if (add_sample(c, sub) != 0)
            return -1;
    }
    return bad ? bad_msg(c, "profile") : 0;
}

static void ctx_free(pbctx *c)
{
    free(c->str);
    free(c->mat);
    free(c->vt);
    free(c->comments);
    free(c->fns);
    free(c->maps);
    free(c->locs);
    free(c->lines);
    idmap_free(&c->fn_ids);
    idmap_free(&c->map_ids);
    idmap_free(&c->loc_ids);
    free(c->ids);
    free(c->vals);
    free(c->idx);
    free(c->rlab);
    free(c->lab);
}

/* profile.proto, plain. */
static pf_decoded *decode_proto(const uint8_t *data, size_t len, unsigned flags, pf_err *err)
{
    pbctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.p = pf_decoded_new((flags & PF_DECODE_RECORDS) != 0);
    rd r = {data, data + len};
    int rc = c.p == NULL ? NOMEM(&c) : 0;
    if (rc == 0 && len == 0)
        rc = fail(&c, "empty input");
    if (rc == 0)
        rc = reserve(&c, r) || each_field(&c, r, "profile", top_field, NULL) ? -1 : 0;
    if (rc == 0)
        rc = resolve_header(&c) || reserve_model(&c) || resolve_functions(&c) ||
             resolve_mappings(&c) || resolve_locations(&c) || read_samples(&c, r) ? -1 : 0;
    ctx_free(&c);
    if (rc != 0) {
        pf_decoded_free(c.p);
        return NULL;
    }
    pf_decoded_done(c.p);
    return c.p;
}

/* ---- entry points ---- */

/* Legacy CPU input: into the building model, then converted directly. */
static pf_decoded *decode_legacy(const uint8_t *data, size_t len, unsigned flags, pf_err *err)
{
    pf_profile *p = pf_legacy_cpu_parse(data, len,
                                        flags & PF_DECODE_BUILD_IDS ? PF_MAPS_BUILD_ID_FILE : 0,
                                        err);
    if (p == NULL)
        return NULL;
    pf_decoded *d = pf_profile_to_decoded(p, flags, err);
    pf_profile_free(p);
    if (d != NULL)
        d->format = "legacy gperftools CPU profile";
    return d;
}

pf_decoded *pf_decode_plain(const void *data, size_t len, unsigned flags, pf_err *err)
{
    if (data == NULL || len == 0) {
        pf_seterr(err, PF_ERR_FORMAT, "profile.proto: empty input");
        return NULL;
    }
    return pf_legacy_is_cpu(data, len) ? decode_legacy(data, len, flags, err)
                                       : decode_proto(data, len, flags, err);
}

pf_decoded *pf_decode(const void *data, size_t len, size_t max_bytes, unsigned flags,
                      pf_err *err)
{
    if (data == NULL || len == 0) {
        pf_seterr(err, PF_ERR_FORMAT, "profile.proto: empty input");
        return NULL;
    }
    if (max_bytes == 0)
        max_bytes = PF_DECODE_DEFAULT_MAX;
    if (!pf_is_gzip(data, len)) {
        if (len > max_bytes) {
            pf_seterr(err, PF_ERR_LIMIT, "profile.proto: input larger than %zu bytes", max_bytes);
            return NULL;
        }
        return pf_decode_plain(data, len, flags, err);
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    if (pf_gunzip(data, len, max_bytes, &buf, &n, err) != PF_OK)
        return NULL;
    pf_decoded *d = pf_decode_plain(buf, n, flags, err);
    free(buf);
    return d;
}
