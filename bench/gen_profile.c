/*
 * gen_profile - writes a large synthetic CPU profile (gzipped profile.proto)
 * for bench/bench_analyze.sh:
 *
 *   gen_profile counts  OUT.pb.gz   50,000 sample records carrying counts
 *   gen_profile records OUT.pb.gz   500,000 records of count 1
 *
 * Both hold 500,000 samples over 50,000 distinct stacks (8 to 40 frames,
 * over 20,000 locations in 5,000 functions, skewed so that some stacks are
 * much hotter than others), in the form Go's runtime and this project's
 * server write (packed location ids and values, one mapping with
 * functions), with the profile core's wire writer. Deterministic: the
 * same files every run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pf_wire.h" /* the profile core's wire writer (build/libtkprofile.a) */

#define NSTACKS 50000
#define NSAMPLES 500000
#define NFUNCS 5000
#define NLOCS 20000
#define NROOTS 16
#define PERIOD 10000000 /* 10 ms */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void str(pf_wbuf *b, const char *s)
{
    pf_wire_bytes(b, 6, s, strlen(s));
}

/* String table: "", 4 type strings, then function names and files. */
enum { S_SAMPLES = 1, S_COUNT, S_CPU, S_NS, S_BIN, S_FN0 };

static void strings(pf_wbuf *b)
{
    char s[128];
    const char *fixed[] = {"", "samples", "count", "cpu", "nanoseconds", "/usr/bin/takhind-bench"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        str(b, fixed[i]);
    for (int i = 0; i < NFUNCS; i++) {
        if (i < NROOTS)
            snprintf(s, sizeof s, "worker_main_%d", i);
        else
            snprintf(s, sizeof s, "takhin_module%03d_function_%04d", i % 97, i);
        str(b, s);
    }
    for (int i = 0; i < 97; i++) {
        snprintf(s, sizeof s, "/src/takhin/module%03d.c", i);
        str(b, s);
    }
}

static void tables(pf_wbuf *b, pf_wbuf *sub, pf_wbuf *line)
{
    for (int i = 0; i < 2; i++) {
        pf_wire_uint(sub, 1, i ? S_CPU : S_SAMPLES);
        pf_wire_uint(sub, 2, i ? S_NS : S_COUNT);
        pf_wire_msg(b, 1, sub);
    }
    pf_wire_uint(sub, 1, 1);
    pf_wire_uint(sub, 2, 0x400000);
    pf_wire_uint(sub, 3, 0x400000 + 16 * NLOCS + 4096);
    pf_wire_uint(sub, 5, S_BIN);
    pf_wire_uint(sub, 7, 1);
    pf_wire_uint(sub, 9, 1);
    pf_wire_msg(b, 3, sub);
    for (int i = 0; i < NLOCS; i++) {
        pf_wire_uint(sub, 1, (uint64_t)i + 1);
        pf_wire_uint(sub, 2, 1);
        pf_wire_uint(sub, 3, 0x401000 + 16 * (uint64_t)i);
        pf_wire_uint(line, 1, (uint64_t)(i % NFUNCS) + 1);
        pf_wire_uint(line, 2, 10 + (uint64_t)i / NFUNCS);
        pf_wire_msg(sub, 4, line);
        pf_wire_msg(b, 4, sub);
    }
    for (int i = 0; i < NFUNCS; i++) {
        pf_wire_uint(sub, 1, (uint64_t)i + 1);
        pf_wire_uint(sub, 2, S_FN0 + (uint64_t)i);
        pf_wire_uint(sub, 3, S_FN0 + (uint64_t)i);
        pf_wire_uint(sub, 4, S_FN0 + NFUNCS + (uint64_t)(i % 97));
        pf_wire_msg(b, 5, sub);
    }
    pf_wire_uint(b, 9, 1700000000000000000ull);
    pf_wire_uint(b, 10, 60000000000ull);
    pf_wire_uint(sub, 1, S_CPU);
    pf_wire_uint(sub, 2, S_NS);
    pf_wire_msg(b, 11, sub);
    pf_wire_uint(b, 12, PERIOD);
}

/* Stack s: a root, then frames drawn from the locations. */
static void stack_of(int s, uint32_t *locs, int *n)
{
    uint64_t save = rng;
    rng = 0x2545f4914f6cdd1dull * (uint64_t)(s + 1) | 1;
    *n = 8 + (int)(next() % 33);
    for (int k = 0; k < *n - 1; k++)
        locs[k] = NROOTS + (uint32_t)(next() % (NLOCS - NROOTS));
    locs[*n - 1] = (uint32_t)(s % NROOTS); /* root: a worker_main */
    rng = save;
}

static void sample(pf_wbuf *b, pf_wbuf *sub, pf_wbuf *packed, int s, uint64_t count)
{
    uint32_t locs[64];
    int n;
    stack_of(s, locs, &n);
    for (int k = 0; k < n; k++)
        pf_wire_varint(packed, (uint64_t)locs[k] + 1);
    pf_wire_msg(sub, 1, packed);
    pf_wire_varint(packed, count);
    pf_wire_varint(packed, count * PERIOD);
    pf_wire_msg(sub, 2, packed);
    pf_wire_msg(b, 2, sub);
}

/* Skewed counts summing to NSAMPLES, at least 1 each. */
static void counts(uint32_t *c)
{
    double w[NSTACKS], sum = 0;
    for (int i = 0; i < NSTACKS; i++)
        sum += w[i] = 1.0 / (1.0 + (double)(next() % 1000));
    uint64_t total = 0;
    for (int i = 0; i < NSTACKS; i++) {
        c[i] = 1 + (uint32_t)((NSAMPLES - NSTACKS) * w[i] / sum);
        total += c[i];
    }
    c[0] += (uint32_t)(NSAMPLES - total);
}

static void samples(pf_wbuf *b, bool records)
{
    static uint32_t c[NSTACKS];
    pf_wbuf sub = PF_WBUF_INIT, packed = PF_WBUF_INIT;
    counts(c);
    if (!records) {
        for (int i = 0; i < NSTACKS; i++)
            sample(b, &sub, &packed, i, c[i]);
    } else {
        int32_t *order = malloc(NSAMPLES * sizeof *order);
        size_t n = 0;
        for (int i = 0; i < NSTACKS; i++)
            for (uint32_t k = 0; k < c[i]; k++)
                order[n++] = i;
        for (size_t i = n - 1; i > 0; i--) { /* shuffle */
            size_t j = next() % (i + 1);
            int32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < n; i++)
            sample(b, &sub, &packed, order[i], 1);
        free(order);
    }
    pf_wbuf_free(&sub);
    pf_wbuf_free(&packed);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "counts") != 0 && strcmp(argv[1], "records") != 0)) {
        fprintf(stderr, "usage: gen_profile counts|records OUT.pb.gz\n");
        return 2;
    }
    pf_wbuf b = PF_WBUF_INIT, sub = PF_WBUF_INIT, line = PF_WBUF_INIT;
    tables(&b, &sub, &line);
    samples(&b, strcmp(argv[1], "records") == 0);
    strings(&b);
    if (b.status != PF_OK) {
        fprintf(stderr, "gen_profile: out of memory\n");
        return 1;
    }
    gzFile f = gzopen(argv[2], "wb6");
    if (f == NULL || gzwrite(f, b.data, (unsigned)b.len) != (int)b.len || gzclose(f) != Z_OK) {
        fprintf(stderr, "gen_profile: cannot write %s\n", argv[2]);
        return 1;
    }
    fprintf(stderr, "gen_profile: %s: %zu bytes uncompressed\n", argv[2], b.len);
    pf_wbuf_free(&b);
    pf_wbuf_free(&sub);
    pf_wbuf_free(&line);
    return 0;
}
