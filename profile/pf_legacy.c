/* pf_legacy.c - gperftools legacy CPU profile reader. */
#include "pf_legacy.h"
#include "pf_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PERIOD_US 3600000000ULL /* one hour */

typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
    unsigned w; /* word size: 4 or 8 */
    bool be;    /* big-endian words */
} reader;

static bool rd(reader *r, uint64_t *v)
{
    if (r->len - r->pos < r->w)
        return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < r->w; i++) {
        unsigned b = r->be ? i : r->w - 1 - i;
        x = x << 8 | r->p[r->pos + b];
    }
    r->pos += r->w;
    *v = x;
    return true;
}

/* Finds word size and byte order from the header; leaves r after it. */
static bool read_header(reader *r, uint64_t *period_us)
{
    static const struct { unsigned w; bool be; } layouts[] = {
        {8, false}, {8, true}, {4, false}, {4, true}};
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        uint64_t h[5];
        r->w = layouts[i].w;
        r->be = layouts[i].be;
        r->pos = 0;
        bool ok = true;
        for (int k = 0; k < 5 && ok; k++)
            ok = rd(r, &h[k]);
        if (ok && h[0] == 0 && h[1] == 3 && h[2] == 0 && h[3] > 0 && h[4] == 0) {
            *period_us = h[3];
            return true;
        }
    }
    return false;
}

bool pf_legacy_is_cpu(const void *data, size_t len)
{
    reader r = {data, data ? len : 0, 0, 8, false};
    uint64_t period;
    return read_header(&r, &period);
}

#define BAD(err, ...) pf_seterr((err), PF_ERR_FORMAT, "legacy CPU profile: " __VA_ARGS__)

static pf_profile *new_cpu_profile(uint64_t period_us, pf_err *err)
{
    static const pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    pf_profile *p = pf_profile_new(types, 2, err);
    if (p != NULL &&
        pf_profile_set_period(p, "cpu", "nanoseconds", (int64_t)period_us * 1000) != PF_OK) {
        pf_profile_free(p);
        pf_seterr(err, PF_ERR_NOMEM, "legacy CPU profile: out of memory");
        return NULL;
    }
    return p;
}

/* Reads one record's PCs into pcs and adds the sample; *end set on trailer. */
static pf_code read_record(reader *r, pf_profile *p, int64_t period_ns, uintptr_t *pcs,
                           bool *end, pf_err *err)
{
    size_t at = r->pos;
    uint64_t count, n;
    if (!rd(r, &count) || !rd(r, &n))
        return BAD(err, "truncated at byte %zu: no end-of-data trailer", at);
    if (n > (r->len - r->pos) / r->w)
        return BAD(err, "truncated record at byte %zu: %" PRIu64 " PCs announced, %zu bytes left",
                   at, n, r->len - r->pos);
    if (n > PF_MAX_DEPTH)
        return BAD(err, "record at byte %zu: stack depth %" PRIu64 " exceeds %d", at, n,
                   PF_MAX_DEPTH);
    if (count > INT64_MAX)
        return BAD(err, "record at byte %zu: absurd sample count %" PRIu64, at, count);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v;
        rd(r, &v); /* cannot fail: length checked above */
        pcs[i] = (uintptr_t)v;
    }
    if (count == 0 && n == 1 && pcs[0] == 0) {
        *end = true;
        return PF_OK;
    }
    if (n >= 2 && pcs[1] == pcs[0]) { /* leaf duplicated by the unwinder */
        memmove(&pcs[1], &pcs[2], (n - 2) * sizeof *pcs);
        n--;
    }
    int64_t v[2] = {(int64_t)count, 0};
    if (__builtin_mul_overflow(v[0], period_ns, &v[1]))
        v[1] = INT64_MAX;
    return pf_profile_add_sample(p, pcs, (size_t)n, v, NULL, 0, err);
}

static pf_code read_records(reader *r, pf_profile *p, int64_t period_ns, pf_err *err)
{
    uintptr_t *pcs = malloc(PF_MAX_DEPTH * sizeof *pcs);
    if (pcs == NULL)
        return pf_seterr(err, PF_ERR_NOMEM, "legacy CPU profile: out of memory");
    bool end = false;
    pf_code rc = PF_OK;
    while (rc == PF_OK && !end)
        rc = read_record(r, p, period_ns, pcs, &end, err);
    free(pcs);
    return rc;
}

pf_profile *pf_legacy_cpu_parse(const void *data, size_t len, unsigned maps_flags,
                                pf_err *err)
{
    reader r = {data, data ? len : 0, 0, 8, false};
    uint64_t period_us;
    if (r.len == 0) {
        BAD(err, "empty input");
        return NULL;
    }
    if (!read_header(&r, &period_us)) {
        BAD(err, "bad header (%zu bytes): expected words [0, 3, 0, period, 0]", r.len);
        return NULL;
    }
    if (period_us > MAX_PERIOD_US) {
        BAD(err, "absurd sampling period %" PRIu64 " us in the header", period_us);
        return NULL;
    }
    pf_profile *p = new_cpu_profile(period_us, err);
    if (p == NULL || read_records(&r, p, (int64_t)period_us * 1000, err) != PF_OK) {
        pf_profile_free(p);
        return NULL;
    }
    pf_maps *maps = pf_maps_parse((const char *)r.p + r.pos, r.len - r.pos,
                                  maps_flags | PF_MAPS_EXEC_ONLY, err);
    if (maps == NULL || pf_profile_add_maps(p, maps) != PF_OK) {
        if (maps != NULL)
            pf_seterr(err, PF_ERR_NOMEM, "legacy CPU profile: out of memory");
        pf_maps_free(maps);
        pf_profile_free(p);
        return NULL;
    }
    pf_maps_free(maps);
    return p;
}
