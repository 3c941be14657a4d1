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
 * functions). Deterministic: the same files every run.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define NSTACKS 50000
#define NSAMPLES 500000
#define NFUNCS 5000
#define NLOCS 20000
#define NROOTS 16
#define PERIOD 10000000 /* 10 ms */

typedef struct buf {
    uint8_t *d;
    size_t len, cap;
} buf;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->d = realloc(b->d, b->cap);
        if (b->d == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void varint(buf *b, uint64_t v)
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

static void field(buf *b, unsigned f, uint64_t v)
{
    varint(b, (uint64_t)f << 3);
    varint(b, v);
}

static void msg(buf *b, unsigned f, buf *sub)
{
    varint(b, (uint64_t)f << 3 | 2);
    varint(b, sub->len);
    put(b, sub->d, sub->len);
    sub->len = 0;
}

static void str(buf *b, const char *s)
{
    varint(b, 6 << 3 | 2);
    varint(b, strlen(s));
    put(b, s, strlen(s));
}

/* String table: "", 4 type strings, then function names and files. */
enum { S_SAMPLES = 1, S_COUNT, S_CPU, S_NS, S_BIN, S_FN0 };

static void strings(buf *b)
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

static void tables(buf *b, buf *sub, buf *line)
{
    for (int i = 0; i < 2; i++) {
        field(sub, 1, i ? S_CPU : S_SAMPLES);
        field(sub, 2, i ? S_NS : S_COUNT);
        msg(b, 1, sub);
    }
    field(sub, 1, 1);
    field(sub, 2, 0x400000);
    field(sub, 3, 0x400000 + 16 * NLOCS + 4096);
    field(sub, 5, S_BIN);
    field(sub, 7, 1);
    field(sub, 9, 1);
    msg(b, 3, sub);
    for (int i = 0; i < NLOCS; i++) {
        field(sub, 1, (uint64_t)i + 1);
        field(sub, 2, 1);
        field(sub, 3, 0x401000 + 16 * (uint64_t)i);
        field(line, 1, (uint64_t)(i % NFUNCS) + 1);
        field(line, 2, 10 + (uint64_t)i / NFUNCS);
        msg(sub, 4, line);
        msg(b, 4, sub);
    }
    for (int i = 0; i < NFUNCS; i++) {
        field(sub, 1, (uint64_t)i + 1);
        field(sub, 2, S_FN0 + (uint64_t)i);
        field(sub, 3, S_FN0 + (uint64_t)i);
        field(sub, 4, S_FN0 + NFUNCS + (uint64_t)(i % 97));
        msg(b, 5, sub);
    }
    field(b, 9, 1700000000000000000ull);
    field(b, 10, 60000000000ull);
    field(sub, 1, S_CPU);
    field(sub, 2, S_NS);
    msg(b, 11, sub);
    field(b, 12, PERIOD);
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

static void sample(buf *b, buf *sub, buf *packed, int s, uint64_t count)
{
    uint32_t locs[64];
    int n;
    stack_of(s, locs, &n);
    for (int k = 0; k < n; k++)
        varint(packed, (uint64_t)locs[k] + 1);
    msg(sub, 1, packed);
    varint(packed, count);
    varint(packed, count * PERIOD);
    msg(sub, 2, packed);
    msg(b, 2, sub);
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

static void samples(buf *b, bool records)
{
    static uint32_t c[NSTACKS];
    buf sub = {0}, packed = {0};
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
    free(sub.d);
    free(packed.d);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "counts") != 0 && strcmp(argv[1], "records") != 0)) {
        fprintf(stderr, "usage: gen_profile counts|records OUT.pb.gz\n");
        return 2;
    }
    buf b = {0}, sub = {0}, line = {0};
    tables(&b, &sub, &line);
    samples(&b, strcmp(argv[1], "records") == 0);
    strings(&b);
    gzFile f = gzopen(argv[2], "wb6");
    if (f == NULL || gzwrite(f, b.d, (unsigned)b.len) != (int)b.len || gzclose(f) != Z_OK) {
        fprintf(stderr, "gen_profile: cannot write %s\n", argv[2]);
        return 1;
    }
    fprintf(stderr, "gen_profile: %s: %zu bytes uncompressed\n", argv[2], b.len);
    free(b.d);
    free(sub.d);
    free(line.d);
    return 0;
}
