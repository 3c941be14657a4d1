/* Converting gperftools' output: see convert.h. */
#include "capture/convert.h"

#include "pf_legacy.h"
#include "pf_maps.h"
#include "pf_profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONVERT_MAX_FILE (256u << 20)

/* The header's slots, in native words: [0, 3, 0, period_us, 0]. */
enum { HDR_WORDS = 5, HDR_PERIOD = 3 };

/* Sums the sample counts of our own (trusted, native) gperftools file. */
static uint64_t total_samples(const uint8_t *data, size_t len)
{
    const uintptr_t *w = (const uintptr_t *)data;
    size_t n = len / sizeof *w, i = HDR_WORDS;
    uint64_t total = 0;
    while (i + 2 <= n) {
        uintptr_t count = w[i], depth = w[i + 1];
        if (count == 0 && depth == 1) /* trailer */
            break;
        total += count;
        i += 2 + depth;
    }
    return total;
}

/* Rewrites the header's period to the rate achieved; returns that rate
 * (0 when no sample came: the period stays as asked). */
static double set_achieved_period(uint8_t *data, size_t len, const prof_cpu_run *run)
{
    double hz = 0;
    uint64_t samples = total_samples(data, len);
    if (samples > 0 && run->cpu_seconds > 0)
        hz = (double)samples / run->cpu_seconds;
    uintptr_t period_us = (uintptr_t)(1e6 / (hz > 0 ? hz : run->requested_hz) + 0.5);
    if (len >= HDR_WORDS * sizeof(uintptr_t))
        memcpy(data + HDR_PERIOD * sizeof(uintptr_t), &period_us, sizeof period_us);
    return hz;
}

static void add_comments(pf_profile *p, const prof_cpu_run *run, double hz)
{
    char text[200];
    snprintf(text, sizeof text, "sampling: asked for %d Hz, achieved %.1f Hz over %.2f s of "
             "CPU time", run->requested_hz, hz, run->cpu_seconds);
    pf_profile_add_comment(p, text);
    if (run->sampler[0])
        pf_profile_add_comment(p, run->sampler);
    pf_profile_set_time(p, (int64_t)run->started.tv_sec * 1000000000 + run->started.tv_nsec,
                        (int64_t)(run->wall_seconds * 1e9));
}

/* Encodes p (freed) gzipped into out. */
static int encode(pf_profile *p, pf_symbolizer *sym, prof_blob *out, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_code rc = pf_profile_encode(p, sym, PF_WRITE_GZIP, &out->data, &out->len, &perr);
    pf_profile_free(p);
    if (rc != PF_OK) {
        snprintf(err, errlen, "%s", perr.msg);
        return -1;
    }
    return 0;
}

int prof_convert_cpu(const char *path, const prof_cpu_run *run, pf_symbolizer *sym,
                     prof_blob *out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    pf_err perr = {0};
    if (pf_read_file(path, CONVERT_MAX_FILE, &data, &len, &perr) != PF_OK) {
        snprintf(err, errlen, "%s", perr.msg);
        return -1;
    }
    out->achieved_hz = set_achieved_period((uint8_t *)data, len, run);
    pf_profile *p = pf_legacy_cpu_parse((const uint8_t *)data, len, PF_MAPS_BUILD_ID_SELF, &perr);
    free(data);
    if (p == NULL) {
        snprintf(err, errlen, "%s", perr.msg);
        return -1;
    }
    add_comments(p, run, out->achieved_hz);
    return encode(p, sym, out, err, errlen);
}

int prof_convert_prepare(pf_profile *profile, uint64_t samples, const prof_cpu_run *run,
                         double *achieved_hz, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_maps *maps = pf_maps_read_self(0, &perr);
    if (maps == NULL || pf_profile_add_maps(profile, maps) != PF_OK) {
        snprintf(err, errlen, "cannot read this process's mappings: %s", perr.msg);
        pf_maps_free(maps);
        return -1;
    }
    pf_maps_free(maps);
    *achieved_hz = run->cpu_seconds > 0 ? (double)samples / run->cpu_seconds : 0;
    add_comments(profile, run, *achieved_hz);
    return 0;
}

int prof_convert_samples(pf_profile *profile, uint64_t samples, const prof_cpu_run *run,
                         pf_symbolizer *sym, prof_blob *out, char *err, size_t errlen)
{
    if (prof_convert_prepare(profile, samples, run, &out->achieved_hz, err, errlen) != 0) {
        pf_profile_free(profile);
        return -1;
    }
    return encode(profile, sym, out, err, errlen);
}
