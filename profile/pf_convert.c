/* pf_convert.c - the building model (pf_profile) into the analysis form
 * (pf_decoded), the form the encoder writes (pf_encode.h): ids are indices
 * + 1, symbolic locations go under one placeholder mapping, all-zero
 * samples are left out. With a symbolizer, address locations get their
 * lines (inlined frames included) and their mappings say what was found;
 * the functions and strings found are added to the profile too. Writing
 * the model (pf_profile_write, pf_profile_encode) is this conversion, then
 * the encoder (pf_encode.h). */
#include "pf_decode.h"
#include "pf_encode.h"
#include "pf_profile_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct conv {
    pf_profile *p;
    pf_symbolizer *sym;
    pf_decoded *d;
    const char **str; /* materialized strings, by index */
    size_t nstr;
    uint32_t *by_start;
    bool oom;
} conv;

static const char *cstr(conv *c, int64_t i)
{
    if (i <= 0 || (size_t)i >= c->p->strings.len)
        return "";
    if ((size_t)i >= c->nstr) { /* symbolization added strings */
        size_t n = c->nstr;
        if (pf_grow(&c->str, &n, c->p->strings.len, sizeof *c->str) != 0) {
            c->oom = true;
            return "";
        }
        memset(c->str + c->nstr, 0, (n - c->nstr) * sizeof *c->str);
        c->nstr = n;
    }
    if (c->str[i] == NULL && (c->str[i] = pf_decoded_str(c->d, c->p->strings.str[i],
                                                          SIZE_MAX)) == NULL) {
        c->oom = true;
        return "";
    }
    return c->str[i];
}

static bool all_zero(const int64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0)
            return false;
    }
    return true;
}

static int header(conv *c)
{
    const pf_profile *p = c->p;
    pf_decoded *d = c->d;
    pf_dvaluetype types[PF_MAX_VALUES];
    for (size_t i = 0; i < p->nvalues; i++)
        types[i] = (pf_dvaluetype){cstr(c, p->types[i].key), cstr(c, p->types[i].str)};
    if (pf_decoded_set_types(d, types, p->nvalues) != 0)
        return -1;
    for (size_t i = 0; i < p->nvalues; i++) {
        if (p->default_type != 0 && p->types[i].key == p->default_type) {
            d->default_type = i;
            break;
        }
    }
    d->period_type = (pf_dvaluetype){cstr(c, p->period_type), cstr(c, p->period_unit)};
    d->period = p->period;
    d->time_nanos = p->time_nanos;
    d->duration_nanos = p->duration_nanos;
    d->comments = calloc(p->ncomments + 1, sizeof *d->comments);
    if (d->comments == NULL)
        return -1;
    for (size_t i = 0; i < p->ncomments; i++)
        d->comments[i] = cstr(c, p->comments[i]);
    d->ncomments = p->ncomments;
    return 0;
}

/* The lines of a symbolized address, innermost first, with what they tell
 * noted in the mapping m (may be NULL). 0 lines when nothing is known or
 * memory ran out (the address stays unsymbolized); -1 when out of memory
 * in the decoded form. */
static int symbolic_lines(conv *c, uint64_t addr, pf_dmapping *m)
{
    pf_symbol s;
    if (!pf_symbolize(c->sym, addr, &s))
        return 0;
    uint32_t fn[PF_SYM_MAX_FRAMES];
    for (size_t i = 0; i < s.nframes; i++) {
        int64_t name = pf_strtab_intern(&c->p->strings, s.frame[i].function);
        int64_t file = pf_strtab_intern(&c->p->strings, s.frame[i].file);
        int64_t f = name < 0 || file < 0 ? -1 : pf_profile_func(c->p, name, file,
                                                                s.frame[i].start_line);
        if (f < 0)
            return 0; /* out of memory: leave the address unsymbolized */
        fn[i] = (uint32_t)f;
    }
    for (size_t i = 0; i < s.nframes; i++) {
        const pf_sym_frame *f = &s.frame[i];
        if (pf_decoded_add_line(c->d, fn[i], f->line) < 0)
            return -1;
        if (m != NULL) {
            m->has_functions |= f->function != NULL;
            m->has_filenames |= f->file != NULL;
            m->has_lines |= f->line != 0;
        }
    }
    if (m != NULL && s.nframes > 0)
        m->has_inline |= s.has_debug_info;
    return (int)s.nframes;
}

static int tables(conv *c)
{
    pf_profile *p = c->p;
    pf_decoded *d = c->d;
    pf_dmapping fake = {p->nmaps + 1, 0, 0, 0, "", "", true, false, false, false};
    bool fake_used = false;
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_loc *l = &p->locs[i];
        if (l->func != 0) {
            fake_used = true;
            fake.has_filenames |= p->funcs[l->func - 1].file != 0;
            fake.has_lines |= l->line != 0;
        }
    }
    size_t nstack = 0;
    for (size_t i = 0; i < p->nsamples; i++)
        nstack += p->samples[i].nlocs;
    if (pf_decoded_reserve(d, p->nmaps + 1, p->nfuncs + 1, p->nlocs + 1, p->nlocs + 1,
                           p->nsamples + 1, nstack + 1) != 0)
        return -1;
    for (size_t i = 0; i < p->nmaps; i++) {
        const pf_pmapping *m = &p->maps[i];
        pf_dmapping dm = {i + 1, m->start, m->limit, m->offset, cstr(c, m->file),
                          cstr(c, m->build_id), false, false, false, false};
        if (pf_decoded_add_mapping(d, &dm) < 0)
            return -1;
    }
    if (fake_used && pf_decoded_add_mapping(d, &fake) < 0)
        return -1;
    if ((c->by_start = pf_profile_maps_by_start(p)) == NULL)
        return -1;
    if (c->sym != NULL)
        pf_symbolizer_sync(c->sym);
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_loc *l = &p->locs[i];
        pf_dlocation dl = {i + 1, l->addr, 0, 0, d->nlines};
        if (l->func != 0) {
            dl.mapping = (uint32_t)p->nmaps + 1;
            dl.nlines = 1;
            if (pf_decoded_add_line(d, l->func - 1, l->line) < 0)
                return -1;
        } else {
            int64_t mi = pf_profile_find_mapping(c->p, c->by_start, l->addr);
            dl.mapping = mi >= 0 ? (uint32_t)mi + 1 : 0;
            int n = c->sym != NULL ? symbolic_lines(c, l->addr, mi >= 0 ? &d->maps[mi] : NULL)
                                   : 0;
            if (n < 0)
                return -1;
            dl.nlines = (uint32_t)n;
        }
        if (pf_decoded_add_location(d, &dl) < 0)
            return -1;
    }
    pf_decoded_mark_unresolved(d); /* the placeholder mapping has lines */
    /* After the locations: symbolizing them may have added functions. */
    for (size_t i = 0; i < p->nfuncs; i++) {
        const char *name = cstr(c, p->funcs[i].name);
        pf_dfunction f = {i + 1, name, name, cstr(c, p->funcs[i].file), p->funcs[i].start_line};
        if (pf_decoded_add_function(d, &f) < 0)
            return -1;
    }
    return 0;
}

static int samples(conv *c)
{
    const pf_profile *p = c->p;
    pf_dlabel labels[PF_MAX_LABELS];
    for (size_t i = 0; i < p->nsamples; i++) {
        const pf_sample *s = &p->samples[i];
        if (all_zero(s->values, p->nvalues))
            continue; /* as the encoder leaves them out */
        size_t nl = c->d->records ? s->nlabels : 0;
        for (size_t k = 0; k < nl; k++) {
            const pf_slabel *l = &s->labels[k];
            labels[k] = (pf_dlabel){cstr(c, l->key), l->str != 0 ? cstr(c, l->str) : NULL,
                                    l->num, cstr(c, l->unit)};
        }
        if (pf_decoded_add_sample(c->d, s->locs, s->nlocs, s->values, labels, nl) != 0)
            return -1;
    }
    return 0;
}

/* The profile in the analysis form, its address locations symbolized with
 * sym when not NULL (which adds the functions and strings found to p). */
static pf_decoded *pf_profile_convert(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                                      pf_err *err)
{
    if (p == NULL) {
        pf_seterr(err, PF_ERR_ARG, "profile convert: no profile");
        return NULL;
    }
    conv c = {p, sym, pf_decoded_new((flags & PF_DECODE_RECORDS) != 0), NULL, 0, NULL, false};
    c.str = calloc(p->strings.len + 1, sizeof *c.str);
    c.nstr = p->strings.len + 1;
    int rc = c.d == NULL || c.str == NULL ? -1 : 0;
    if (rc == 0)
        rc = header(&c) || tables(&c) || samples(&c) ? -1 : 0;
    if (c.oom)
        rc = -1;
    free(c.str);
    free(c.by_start);
    if (rc != 0) {
        pf_decoded_free(c.d);
        pf_seterr(err, PF_ERR_NOMEM, "profile convert: out of memory");
        return NULL;
    }
    pf_decoded_done(c.d);
    return c.d;
}

pf_decoded *pf_profile_to_decoded(const pf_profile *p, unsigned flags, pf_err *err)
{
    /* Without a symbolizer nothing is added to p. */
    return pf_profile_convert((pf_profile *)(uintptr_t)p, NULL, flags, err);
}

/* ---- writing: convert, then encode ---- */

/* p in the form the encoder writes (records and labels kept). */
static pf_decoded *convert(pf_profile *p, pf_symbolizer *sym, bool have_out, pf_err *err)
{
    if (p == NULL || !have_out) {
        pf_seterr(err, PF_ERR_ARG, "profile write: no profile or no writer");
        return NULL;
    }
    pf_decoded *d = pf_profile_convert(p, sym, PF_DECODE_RECORDS, NULL);
    if (d == NULL)
        pf_seterr(err, PF_ERR_NOMEM, "profile write: out of memory");
    return d;
}

pf_code pf_profile_write(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                         pf_write_fn fn, void *ctx, pf_err *err)
{
    pf_err e = {PF_OK, ""};
    pf_decoded *d = convert(p, sym, fn != NULL, &e);
    pf_code rc = d != NULL ? pf_decoded_write(d, flags, fn, ctx, &e) : e.code;
    pf_decoded_free(d);
    return rc == PF_OK ? PF_OK : pf_seterr(err, rc, "%s", e.msg);
}

pf_code pf_profile_encode(pf_profile *p, pf_symbolizer *sym, unsigned flags,
                          uint8_t **out, size_t *out_len, pf_err *err)
{
    pf_err e = {PF_OK, ""};
    pf_decoded *d = convert(p, sym, out != NULL && out_len != NULL, &e);
    pf_code rc = d != NULL ? pf_decoded_encode(d, flags, out, out_len, &e) : e.code;
    pf_decoded_free(d);
    return rc == PF_OK ? PF_OK : pf_seterr(err, rc, "%s", e.msg);
}
