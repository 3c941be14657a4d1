/*
 * pbwrite.c - writing a pf_decoded as profile.proto (gzipped for files), for
 * the profiles of local runs: the same form the server sends, symbolized
 * (functions, files, lines, inlined frames) and with its mappings, so that
 * `go tool pprof` reads it without the binaries. Location, function and
 * mapping ids are the indices + 1.
 */
#include "cli_prof.h"
#include "pf_gzip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct wbuf {
    uint8_t *d;
    size_t len, cap;
    bool bad;
} wbuf;

typedef struct strtab {
    const char **s;
    size_t n, cap;
    uint32_t *ht; /* index + 1 */
    size_t ht_cap;
} strtab;

static void put(wbuf *b, const void *p, size_t n)
{
    if (b->bad || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *d = realloc(b->d, cap);
        if (d == NULL) {
            b->bad = true;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void varint(wbuf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    put(b, t, n);
}

static void field(wbuf *b, unsigned f, uint64_t v)
{
    if (v != 0) {
        varint(b, (uint64_t)f << 3);
        varint(b, v);
    }
}

/* Appends sub as a length-delimited field f, then empties sub. */
static void message(wbuf *b, unsigned f, wbuf *sub)
{
    varint(b, (uint64_t)f << 3 | 2);
    varint(b, sub->len);
    put(b, sub->d, sub->len);
    b->bad |= sub->bad;
    sub->len = 0;
}

/* ---- strings ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int st_rehash(strtab *t)
{
    size_t cap = t->ht_cap ? t->ht_cap * 2 : 256;
    uint32_t *ht = calloc(cap, sizeof *ht);
    if (ht == NULL)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_str(t->s[i]) & (cap - 1);
        while (ht[j] != 0)
            j = (j + 1) & (cap - 1);
        ht[j] = (uint32_t)i + 1;
    }
    free(t->ht);
    t->ht = ht;
    t->ht_cap = cap;
    return 0;
}

/* Index of s in the table (added when new); 0 for "" and on failure. */
static uint64_t str(strtab *t, const char *s)
{
    if (s == NULL || s[0] == '\0' || (t->n * 2 >= t->ht_cap && st_rehash(t) != 0))
        return 0;
    size_t j = hash_str(s) & (t->ht_cap - 1);
    for (; t->ht[j] != 0; j = (j + 1) & (t->ht_cap - 1)) {
        if (strcmp(t->s[t->ht[j] - 1], s) == 0)
            return t->ht[j] - 1;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        const char **ns = realloc(t->s, cap * sizeof *ns);
        if (ns == NULL)
            return 0;
        t->s = ns;
        t->cap = cap;
    }
    t->s[t->n] = s;
    t->ht[j] = (uint32_t)t->n + 1;
    return t->n++;
}

/* ---- tables ---- */

static void value_type(wbuf *b, wbuf *sub, unsigned f, strtab *t, const pf_dvaluetype *vt)
{
    field(sub, 1, str(t, vt->type));
    field(sub, 2, str(t, vt->unit));
    message(b, f, sub);
}

static void samples(wbuf *b, wbuf *sub, wbuf *packed, const pf_decoded *p)
{
    for (size_t i = 0; i < p->nsamples; i++) {
        const pf_dsample *s = &p->samples[i];
        for (size_t k = 0; k < s->nlocs; k++)
            varint(packed, (uint64_t)p->stack[s->loc0 + k] + 1);
        if (packed->len)
            message(sub, 1, packed);
        for (size_t k = 0; k < p->ntypes; k++)
            varint(packed, (uint64_t)p->values[i * p->ntypes + k]);
        message(sub, 2, packed);
        message(b, 2, sub);
    }
}

static void mappings(wbuf *b, wbuf *sub, strtab *t, const pf_decoded *p)
{
    for (size_t i = 0; i < p->nmaps; i++) {
        const pf_dmapping *m = &p->maps[i];
        field(sub, 1, i + 1);
        field(sub, 2, m->start);
        field(sub, 3, m->limit);
        field(sub, 4, m->offset);
        field(sub, 5, str(t, m->file));
        field(sub, 6, str(t, m->build_id));
        field(sub, 7, m->has_functions);
        field(sub, 8, m->has_filenames);
        field(sub, 9, m->has_lines);
        field(sub, 10, m->has_inline);
        message(b, 3, sub);
    }
}

static void locations(wbuf *b, wbuf *sub, wbuf *line, const pf_decoded *p)
{
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_dlocation *l = &p->locs[i];
        field(sub, 1, i + 1);
        field(sub, 2, l->mapping);
        field(sub, 3, l->address);
        for (uint32_t k = 0; k < l->nlines; k++) {
            const pf_dline *ln = &p->lines[l->line0 + k];
            field(line, 1, (uint64_t)ln->func + 1);
            field(line, 2, (uint64_t)ln->line);
            message(sub, 4, line);
        }
        message(b, 4, sub);
    }
}

static void functions(wbuf *b, wbuf *sub, strtab *t, const pf_decoded *p)
{
    for (size_t i = 0; i < p->nfuncs; i++) {
        const pf_dfunction *f = &p->funcs[i];
        field(sub, 1, i + 1);
        field(sub, 2, str(t, f->name));
        field(sub, 3, str(t, f->system_name));
        field(sub, 4, str(t, f->file));
        field(sub, 5, (uint64_t)f->start_line);
        message(b, 5, sub);
    }
}

static void header(wbuf *b, wbuf *sub, strtab *t, const pf_decoded *p)
{
    field(b, 7, str(t, p->drop_frames));
    field(b, 8, str(t, p->keep_frames));
    field(b, 9, (uint64_t)p->time_nanos);
    field(b, 10, (uint64_t)p->duration_nanos);
    if (p->period_type.type[0])
        value_type(b, sub, 11, t, &p->period_type);
    field(b, 12, (uint64_t)p->period);
    for (size_t i = 0; i < p->ncomments; i++) {
        varint(b, 13 << 3);
        varint(b, str(t, p->comments[i]));
    }
    if (p->ntypes > 0 && p->default_type != p->ntypes - 1)
        field(b, 14, str(t, p->types[p->default_type].type));
}

int cli_pb_encode(const pf_decoded *p, uint8_t **out, size_t *len)
{
    wbuf b = {0}, sub = {0}, tmp = {0};
    strtab t = {malloc(256 * sizeof(char *)), 1, 256, NULL, 0};
    if (t.s != NULL)
        t.s[0] = ""; /* index 0 is "" */
    else
        t.n = t.cap = 0;
    for (size_t i = 0; i < p->ntypes; i++)
        value_type(&b, &sub, 1, &t, &p->types[i]);
    samples(&b, &sub, &tmp, p);
    mappings(&b, &sub, &t, p);
    locations(&b, &sub, &tmp, p);
    functions(&b, &sub, &t, p);
    header(&b, &sub, &t, p);
    for (size_t i = 0; i < t.n; i++) {
        varint(&b, 6 << 3 | 2);
        varint(&b, strlen(t.s[i]));
        put(&b, t.s[i], strlen(t.s[i]));
    }
    bool bad = b.bad || sub.bad || tmp.bad || t.s == NULL;
    free(sub.d);
    free(tmp.d);
    free(t.s);
    free(t.ht);
    if (bad) {
        free(b.d);
        return -1;
    }
    *out = b.d;
    *len = b.len;
    return 0;
}

int cli_pb_write_file(const pf_decoded *p, const char *path, char *err, size_t errlen)
{
    uint8_t *raw = NULL, *gz = NULL;
    size_t n = 0, gn = 0;
    if (cli_pb_encode(p, &raw, &n) != 0 || pf_gzip(raw, n, &gz, &gn, NULL) != PF_OK) {
        free(raw);
        snprintf(err, errlen, "out of memory encoding the profile");
        return -1;
    }
    free(raw);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.part%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && fwrite(gz, 1, gn, f) == gn;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(gz);
    return ok ? 0 : -1;
}
