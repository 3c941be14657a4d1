/*
 * heaptext.c - the legacy heap profile text of gperftools (HEAPPROFILE
 * dumps, GetHeapSample) and of old Go, read with pprof's semantics:
 *
 *   heap profile:   4:   262144 [    10:   400000] @ heapprofile
 *        1:   65536 [     1:    65536] @ 0x4005d0 0x7f12 ...
 *   MAPPED_LIBRARIES:
 *   <the /proc/self/maps text of the writer>
 *
 * Header "@ heap_v2/R" (sampled every R bytes on average): each record is
 * divided by its probability of being sampled, 1 - exp(-avg/R), as pprof's
 * scaleHeapSample does. "heapprofile" (full tracking) is taken as is.
 * When the allocation totals differ from the in-use ones, the sample types
 * are alloc_objects, alloc_space, inuse_objects, inuse_space (default
 * inuse_space); otherwise objects, space. Addresses are return addresses:
 * the location is address - 1. Allocator frames are dropped later through
 * drop_frames (pprof's list), so the report shows who allocated.
 */
#include "input/cli_prof.h"
#include "profile.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pprof's allocRxStr and allocSkipRxStr (profile/legacy_profile.go). */
static const char alloc_rx[] =
    "calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc|"
    "tcmalloc::.*|tc_calloc|tc_cfree|tc_malloc|tc_free|tc_memalign|tc_posix_memalign|"
    "tc_pvalloc|tc_valloc|tc_realloc|tc_new|tc_delete|tc_newarray|tc_deletearray|"
    "tc_new_nothrow|tc_newarray_nothrow|malloc_zone_malloc|malloc_zone_calloc|"
    "malloc_zone_valloc|malloc_zone_realloc|malloc_zone_memalign|malloc_zone_free|"
    "runtime\\..*|BaseArena::.*|(::)?do_malloc_no_errno|(::)?do_malloc_pages|(::)?do_malloc|"
    "DoSampledAllocation|MallocedMemBlock::MallocedMemBlock|_M_allocate|"
    "__builtin_(vec_)?delete|__builtin_(vec_)?new|__gnu_cxx::new_allocator::allocate|"
    "__libc_malloc|__malloc_alloc_template::allocate|allocate|cpp_alloc|operator new(\\[\\])?|"
    "simple_alloc::allocate";
static const char alloc_skip_rx[] = "runtime\\.panic|runtime\\.reflectcall|runtime\\.call[0-9]*";

#define MAX_ADDRS 4096

typedef struct hp {
    pf_decoded *p;
    char *err;
    size_t errlen;
    bool v2, has_alloc, growth;
    int64_t rate;
    size_t lineno;
    uint64_t *addrs;
    uint32_t *locs;
    pf_maps *maps;
    pf_idxmap loc_of; /* address -> location index */
} hp;

static int bad(hp *h, const char *what)
{
    snprintf(h->err, h->errlen, "legacy heap profile: line %zu: %s", h->lineno, what);
    return -1;
}

/* ---- scanning helpers over [s, e) ---- */

static void spaces(const char **s, const char *e)
{
    while (*s < e && (**s == ' ' || **s == '\t'))
        (*s)++;
}

static bool lit(const char **s, const char *e, char c)
{
    spaces(s, e);
    if (*s < e && **s == c) {
        (*s)++;
        return true;
    }
    return false;
}

/* A decimal integer (optionally negative); its digits into txt (for the
 * header's string comparison). */
static bool num(const char **s, const char *e, bool neg_ok, int64_t *v, char *txt, size_t tlen)
{
    spaces(s, e);
    const char *b = *s;
    bool neg = neg_ok && *s < e && **s == '-';
    if (neg)
        (*s)++;
    uint64_t x = 0;
    const char *d = *s;
    for (; *s < e && isdigit((unsigned char)**s); (*s)++) {
        if (x > (UINT64_MAX - 9) / 10)
            return false;
        x = x * 10 + (uint64_t)(**s - '0');
    }
    if (*s == d || x > (uint64_t)INT64_MAX + neg)
        return false;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    if (txt != NULL)
        snprintf(txt, tlen, "%.*s", (int)(*s - b), b);
    return true;
}

/* "N: M [ N: M ]": the four numbers (and their texts). */
static bool quad(const char **s, const char *e, bool neg_ok, int64_t v[4], char txt[4][24])
{
    return num(s, e, neg_ok, &v[0], txt[0], 24) && lit(s, e, ':') &&
           num(s, e, neg_ok, &v[1], txt[1], 24) && lit(s, e, '[') &&
           num(s, e, false, &v[2], txt[2], 24) && lit(s, e, ':') &&
           num(s, e, false, &v[3], txt[3], 24) && lit(s, e, ']');
}

/* ---- header ---- */

static int header_kind(hp *h, const char *s, const char *e)
{
    size_t n = 0;
    while (s + n < e && (islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) ||
                         s[n] == '_'))
        n++;
    h->rate = 0;
    if (s + n < e && s[n] == '/') {
        const char *r = s + n + 1;
        if (!num(&r, e, false, &h->rate, NULL, 0))
            h->rate = 0;
    }
    if ((n == 8 && !memcmp(s, "heapz_v2", 8)) || (n == 7 && !memcmp(s, "heap_v2", 7)))
        h->v2 = true;
    else if (n == 4 && !memcmp(s, "heap", 4)) {
        h->v2 = true;
        h->rate /= 2;
    } else if (n == 11 && !memcmp(s, "heapprofile", 11))
        h->rate = 1;
    else if ((n >= 6 && !memcmp(s, "growth", 6)) || (n >= 13 && !memcmp(s, "fragmentation", 13))) {
        h->rate = 1;
        h->growth = true;
    }
    else
        return bad(h, "unknown heap profile kind after '@'");
    return 0;
}

static int set_types(hp *h)
{
    static const pf_dvaluetype four[] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                     {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    static const pf_dvaluetype two[] = {{"objects", "count"}, {"space", "bytes"}};
    pf_decoded *p = h->p;
    if (pf_decoded_set_types(p, h->has_alloc ? four : two, h->has_alloc ? 4 : 2) != 0)
        return bad(h, "out of memory");
    p->period_type = (pf_dvaluetype){"space", "bytes"};
    p->period = h->rate;
    p->drop_frames = alloc_rx;
    p->keep_frames = alloc_skip_rx;
    p->format = "legacy heap profile";
    return 0;
}

static int parse_header(hp *h, const char *s, const char *e)
{
    const char *at = memmem(s, (size_t)(e - s), "heap profile:", 13);
    int64_t v[4];
    char txt[4][24];
    h->lineno = 1;
    if (at == NULL)
        return bad(h, "expected \"heap profile: N: BYTES [N: BYTES] @ KIND\"");
    s = at + 13;
    if (!quad(&s, e, false, v, txt) || !lit(&s, e, '@'))
        return bad(h, "malformed header, expected \"heap profile: N: BYTES [N: BYTES] @ KIND\"");
    spaces(&s, e);
    if (header_kind(h, s, e) != 0)
        return -1;
    h->has_alloc = !h->growth &&
                   ((strcmp(txt[2], txt[0]) != 0 && strcmp(txt[2], "0") != 0) ||
                    (strcmp(txt[3], txt[1]) != 0 && strcmp(txt[3], "0") != 0));
    return set_types(h);
}

/* ---- samples ---- */

/* pprof's scaleHeapSample. */
static void unsample(int64_t *count, int64_t *size, int64_t rate)
{
    if (*count == 0 || *size == 0) {
        *count = *size = 0;
        return;
    }
    if (rate <= 1)
        return;
    double avg = (double)*size / (double)*count;
    double scale = 1 / (1 - exp(-avg / (double)rate));
    *count = (int64_t)((double)*count * scale);
    *size = (int64_t)((double)*size * scale);
}

static int values(hp *h, int64_t count, int64_t size, const char *what, int64_t *out)
{
    if (count == 0 && size != 0) {
        char m[96];
        snprintf(m, sizeof m, "%s count was 0 but %s bytes was %" PRId64, what, what, size);
        return bad(h, m);
    }
    if (count != 0 && h->v2)
        unsample(&count, &size, h->rate);
    out[0] = count;
    out[1] = size;
    return 0;
}

static bool addr_eq(const void *ctx, uint32_t idx, const void *key)
{
    return ((const pf_decoded *)ctx)->locs[idx].address == *(const uint64_t *)key;
}

/* The location index of address a (already adjusted), created on demand. */
static int64_t location(hp *h, uint64_t a)
{
    uint64_t hash = pf_hash_u64(a);
    int64_t i = pf_idxmap_find(&h->loc_of, hash, addr_eq, h->p, &a);
    if (i >= 0)
        return i;
    i = pf_decoded_add_location(h->p, &(pf_dlocation){h->p->nlocs + 1, a, 0, 0, 0});
    if (i >= 0 && pf_idxmap_insert(&h->loc_of, hash, (uint32_t)i) != 0)
        return -1;
    return i;
}

static bool lhex(char c)
{
    return isdigit((unsigned char)c) || (c >= 'a' && c <= 'f');
}

/* The hex addresses after '@' (pprof: [ x0-9a-f]*, then 0x[0-9a-f]+). */
static int addresses(hp *h, const char *s, const char *e, size_t *n)
{
    const char *end = s;
    while (end < e && (*end == ' ' || *end == 'x' || lhex(*end)))
        end++;
    *n = 0;
    for (const char *q = s; q < end;) {
        if (!(q[0] == '0' && end - q > 2 && q[1] == 'x' && lhex(q[2]))) {
            q++;
            continue;
        }
        uint64_t a = 0;
        for (q += 2; q < end && lhex(*q); q++) {
            if (a >> 60)
                return bad(h, "address does not fit 64 bits");
            a = a << 4 | (uint64_t)(isdigit((unsigned char)*q) ? *q - '0' : *q - 'a' + 10);
        }
        if (*n >= MAX_ADDRS)
            return bad(h, "stack deeper than 4096 frames");
        h->addrs[(*n)++] = a;
    }
    return 0;
}

static int parse_sample(hp *h, const char *s, const char *e)
{
    int64_t v[4], vals[4];
    char txt[4][24];
    size_t n;
    if (!quad(&s, e, true, v, txt) || !lit(&s, e, '@'))
        return bad(h, "malformed sample, expected \"N: BYTES [N: BYTES] @ 0x... 0x...\"");
    size_t k = 0;
    if (h->has_alloc) {
        if (values(h, v[2], v[3], "allocation", vals) != 0)
            return -1;
        k = 2;
    }
    if (values(h, v[0], v[1], "inuse", vals + k) != 0 || addresses(h, s, e, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t li = location(h, h->addrs[i] - 1);
        if (li < 0)
            return bad(h, "out of memory");
        h->locs[i] = (uint32_t)li;
    }
    return pf_decoded_add_sample(h->p, h->locs, n, vals, NULL, 0) != 0 ? bad(h, "out of memory") : 0;
}

/* ---- mappings ---- */

static int add_maps(hp *h, const char *s, const char *e)
{
    pf_err perr;
    h->maps = pf_maps_parse(s, (size_t)(e - s), PF_MAPS_EXEC_ONLY | PF_MAPS_BUILD_ID_FILE, &perr);
    if (h->maps == NULL)
        return bad(h, perr.msg);
    for (size_t i = 0; i < h->maps->len; i++) {
        const pf_mapping *m = &h->maps->map[i];
        pf_dmapping cm = {i + 1, m->start, m->limit, m->offset,
                          pf_decoded_str(h->p, m->path, SIZE_MAX),
                          pf_decoded_str(h->p, m->build_id, SIZE_MAX), false, false, false, false};
        if (cm.file == NULL || cm.build_id == NULL || pf_decoded_add_mapping(h->p, &cm) < 0)
            return bad(h, "out of memory");
    }
    for (size_t i = 0; i < h->p->nlocs; i++) {
        const pf_mapping *m = pf_maps_find(h->maps, h->p->locs[i].address);
        if (m != NULL)
            h->p->locs[i].mapping = (uint32_t)(m - h->maps->map) + 1;
    }
    return 0;
}

/* ---- lines ---- */

static bool is_sentinel(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    return memmem(s, n, "--- Memory map: ---", 19) != NULL ||
           memmem(s, n, "MAPPED_LIBRARIES:", 17) != NULL;
}

/* Walks the lines after the header; returns the start of the maps or end. */
static int body(hp *h, const char *s, const char *end, const char **maps)
{
    *maps = end;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end, *next = nl ? nl + 1 : end;
        h->lineno++;
        if (is_sentinel(s, e)) {
            *maps = next;
            return 0;
        }
        const char *t = s;
        spaces(&t, e);
        while (e > t && isspace((unsigned char)e[-1]))
            e--;
        if (t < e && *t != '#' && parse_sample(h, t, e) != 0)
            return -1;
        s = next;
    }
    return 0;
}

bool cli_heap_text_is(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len && isspace(data[i]))
        i++;
    return len - i >= 13 && memcmp(data + i, "heap profile:", 13) == 0;
}

pf_decoded *cli_heap_text_parse(const char *text, size_t len, char *err, size_t errlen)
{
    hp h = {.err = err, .errlen = errlen};
    h.p = pf_decoded_new(false);
    h.addrs = malloc(MAX_ADDRS * sizeof *h.addrs);
    h.locs = malloc(MAX_ADDRS * sizeof *h.locs);
    const char *end = text + len, *nl = memchr(text, '\n', len), *maps = end;
    int rc = h.p == NULL || h.addrs == NULL || h.locs == NULL ? bad(&h, "out of memory") : 0;
    if (rc == 0)
        rc = parse_header(&h, text, nl ? nl : end);
    if (rc == 0)
        rc = body(&h, nl ? nl + 1 : end, end, &maps);
    if (rc == 0)
        rc = add_maps(&h, maps, end);
    pf_maps_free(h.maps);
    free(h.addrs);
    free(h.locs);
    pf_idxmap_free(&h.loc_of);
    if (rc != 0) {
        pf_decoded_free(h.p);
        return NULL;
    }
    pf_decoded_done(h.p);
    return h.p;
}
