/*
 * test_profile_legacy.c - gperftools' legacy CPU profile format
 * (profile/pf_legacy.c): conversion of hand-built buffers in every word
 * size and byte order, a real file written by gperftools 2.10
 * (tests/unit/data/profile/gperf_cpu.prof, checked against what
 * `go tool pprof -raw` reads from it), malformed inputs with their
 * messages, and every truncation and random corruption of a valid buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "pf_view.h"

#ifndef PROFILE_DATA
#define PROFILE_DATA "tests/unit/data/profile/"
#endif

typedef struct buf {
    uint8_t *d;
    size_t len, cap;
    unsigned w; /* word size */
    bool be;    /* big-endian */
} buf;

static void put_bytes(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->d = realloc(b->d, b->cap);
        assert_non_null(b->d);
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

static void put_word(buf *b, uint64_t v)
{
    uint8_t w[8];
    for (unsigned i = 0; i < b->w; i++)
        w[b->be ? b->w - 1 - i : i] = (uint8_t)(v >> (8 * i));
    put_bytes(b, w, b->w);
}

static void put_words(buf *b, const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_word(b, v[i]);
}

static const char maps_text[] =
    "00400000-00500000 r-xp 00001000 08:01 1234 /usr/bin/fake-server\n"
    "00500000-00600000 rw-p 00101000 08:01 1234 /usr/bin/fake-server\n"
    "7f0000000000-7f0000100000 r-xp 00000000 08:01 99 /lib/libfake.so (deleted)\n";

/* Header, four records (two merge, one repeats its leaf), trailer, maps. */
static buf sample_buffer(unsigned w, bool be, size_t *binary_len)
{
    buf b = {NULL, 0, 0, w, be};
    const uint64_t header[] = {0, 3, 0, 10000, 0};
    const uint64_t r1[] = {2, 3, 0x401000, 0x402005, 0x403009};
    const uint64_t r2[] = {5, 3, 0x401100, 0x402005, 0x403009};
    const uint64_t r3[] = {1, 3, 0x401000, 0x401000, 0x403009};
    const uint64_t r4[] = {3, 3, 0x401000, 0x402005, 0x403009};
    const uint64_t trailer[] = {0, 1, 0};
    put_words(&b, header, 5);
    put_words(&b, r1, 5);
    put_words(&b, r2, 5);
    put_words(&b, r3, 5);
    put_words(&b, r4, 5);
    put_words(&b, trailer, 3);
    if (binary_len != NULL)
        *binary_len = b.len;
    put_bytes(&b, maps_text, sizeof maps_text - 1);
    return b;
}

static pv_decoded *to_decoded(pf_profile *p)
{
    uint8_t *out;
    size_t n;
    pf_err err = {0};
    if (pf_profile_encode(p, NULL, 0, &out, &n, &err) != PF_OK)
        fail_msg("encode: %s", err.msg);
    pv_decoded *d = pv_decode(out, n, 0, &err);
    free(out);
    if (d == NULL)
        fail_msg("decode: %s", err.msg);
    return d;
}

static void check_sample_profile(pf_profile *p)
{
    pv_decoded *d = to_decoded(p);
    assert_int_equal(d->nsample_types, 2);
    assert_string_equal(d->sample_types[0].type, "samples");
    assert_string_equal(d->sample_types[1].unit, "nanoseconds");
    assert_int_equal(d->period, 10000000);
    assert_string_equal(d->period_type.type, "cpu");
    assert_int_equal(d->nsamples, 3);
    const pv_sample *s = &d->samples[0];
    assert_int_equal(s->values[0], 5); /* records 1 and 4 merged */
    assert_int_equal(s->values[1], 50000000);
    assert_int_equal(s->nlocations, 3);
    assert_int_equal(s->locations[0]->address, 0x401000); /* leaf: exact */
    assert_int_equal(s->locations[1]->address, 0x402004); /* return address - 1 */
    assert_int_equal(s->locations[2]->address, 0x403008);
    assert_string_equal(s->locations[0]->mapping->file, "/usr/bin/fake-server");
    assert_int_equal(s->locations[0]->mapping->offset, 0x1000);
    assert_int_equal(d->samples[1].values[0], 5);
    assert_int_equal(d->samples[2].nlocations, 2); /* repeated leaf dropped */
    assert_int_equal(d->samples[2].locations[1]->address, 0x403008);
    assert_int_equal(d->nmappings, 2); /* executable ones only */
    assert_string_equal(d->mappings[1].file, "/lib/libfake.so");
    pv_free(d);
}

static void test_all_layouts(void **state)
{
    (void)state;
    for (unsigned w = 4; w <= 8; w += 4) {
        for (int be = 0; be <= 1; be++) {
            buf b = sample_buffer(w, be, NULL);
            assert_true(pf_legacy_is_cpu(b.d, b.len));
            pf_err err = {0};
            pf_profile *p = pf_legacy_cpu_parse(b.d, b.len, 0, &err);
            if (p == NULL)
                fail_msg("w=%u be=%d: %s", w, be, err.msg);
            check_sample_profile(p);
            pf_profile_free(p);
            free(b.d);
        }
    }
}

static void expect_error(const void *data, size_t len, pf_code code, const char *part)
{
    pf_err err = {0};
    pf_profile *p = pf_legacy_cpu_parse(data, len, 0, &err);
    if (p != NULL)
        fail_msg("expected an error containing \"%s\"", part);
    assert_int_equal(err.code, code);
    if (strstr(err.msg, part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
    assert_non_null(strstr(err.msg, "legacy CPU profile"));
}

static void test_bad_headers(void **state)
{
    (void)state;
    expect_error(NULL, 0, PF_ERR_FORMAT, "empty input");
    expect_error("", 0, PF_ERR_FORMAT, "empty input");
    buf b = {NULL, 0, 0, 8, false};
    const uint64_t short_hdr[] = {0, 3, 0};
    put_words(&b, short_hdr, 3);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "bad header");
    b.len = 0;
    const uint64_t java[] = {0, 3, 1, 10000, 0, 0, 1, 0};
    put_words(&b, java, 8);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "bad header");
    b.len = 0;
    const uint64_t zero_period[] = {0, 3, 0, 0, 0, 0, 1, 0};
    put_words(&b, zero_period, 8);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "bad header");
    b.len = 0;
    const uint64_t huge_period[] = {0, 3, 0, 1ULL << 40, 0, 0, 1, 0};
    put_words(&b, huge_period, 8);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "absurd sampling period");
    expect_error("a text file, not a profile", 26, PF_ERR_FORMAT, "bad header");
    assert_false(pf_legacy_is_cpu("plain text", 10));
    free(b.d);
}

static void test_bad_records(void **state)
{
    (void)state;
    buf b = {NULL, 0, 0, 8, false};
    const uint64_t header[] = {0, 3, 0, 10000, 0};
    put_words(&b, header, 5);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "no end-of-data trailer");
    const uint64_t announce5[] = {1, 5, 0x401000};
    put_words(&b, announce5, 3);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "truncated record at byte 40: 5 PCs");
    b.len = 40;
    const uint64_t absurd[] = {1, 1ULL << 62, 0x401000};
    put_words(&b, absurd, 3);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "truncated record");
    b.len = 40;
    put_word(&b, 1);
    put_word(&b, 5000);
    for (int i = 0; i < 5000; i++)
        put_word(&b, 0x401000);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "stack depth 5000 exceeds");
    b.len = 40;
    const uint64_t neg_count[] = {1ULL << 63, 1, 0x401000};
    put_words(&b, neg_count, 3);
    expect_error(b.d, b.len, PF_ERR_FORMAT, "absurd sample count");
    b.len = 40;
    const uint64_t ok_then_odd[] = {1, 1, 0x401000};
    put_words(&b, ok_then_odd, 3);
    put_bytes(&b, "\0\0\0\0", 4); /* half a word */
    expect_error(b.d, b.len, PF_ERR_FORMAT, "no end-of-data trailer");
    free(b.d);
}

/* Every prefix fails cleanly until the trailer is complete. */
static void test_every_truncation(void **state)
{
    (void)state;
    size_t binary;
    buf b = sample_buffer(8, false, &binary);
    for (size_t n = 0; n <= b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: valgrind sees over-reads */
        memcpy(copy, b.d, n);
        pf_err err = {0};
        pf_profile *p = pf_legacy_cpu_parse(copy, n, 0, &err);
        if (n < binary) {
            assert_null(p);
            assert_int_equal(err.code, PF_ERR_FORMAT);
        } else {
            assert_non_null(p);
        }
        pf_profile_free(p);
        free(copy);
    }
    free(b.d);
}

/* Random corruption: an error or a profile, never a crash or over-read. */
static void test_random_corruption(void **state)
{
    (void)state;
    size_t binary;
    buf b = sample_buffer(8, false, &binary);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    size_t ok = 0, failed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        uint8_t *copy = malloc(b.len);
        memcpy(copy, b.d, b.len);
        for (int k = 0; k < 1 + iter % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[x % b.len] ^= (uint8_t)(x >> 32);
        }
        size_t len = iter % 3 == 0 ? (size_t)(x >> 40) % b.len : b.len;
        pf_err err = {0};
        pf_profile *p = pf_legacy_cpu_parse(copy, len, 0, &err);
        if (p != NULL) {
            uint8_t *out;
            size_t n;
            assert_int_equal(pf_profile_encode(p, NULL, PF_WRITE_GZIP, &out, &n, NULL), PF_OK);
            free(out);
            ok++;
        } else {
            assert_true(err.code == PF_ERR_FORMAT || err.code == PF_ERR_LIMIT);
            assert_true(err.msg[0] != '\0');
            failed++;
        }
        pf_profile_free(p);
        free(copy);
    }
    assert_true(ok > 0 && failed > 0);
    free(b.d);
}

static uint8_t *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", PROFILE_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)", path);
    uint8_t *data = malloc(1 << 20);
    *len = fread(data, 1, 1 << 20, f);
    fclose(f);
    return data;
}

/* A file from gperftools 2.10 (CPUPROFILE_FREQUENCY=200); pprof -raw of
 * it shows 99 samples in 9 stacks, a 47-sample stack of depth 6 with leaf
 * 0x557b790651a4 and caller 0x557b790651d4. */
static void test_real_gperftools_file(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_fixture("gperf_cpu.prof", &len);
    pf_err err = {0};
    pf_profile *p = pf_legacy_cpu_parse(data, len, PF_MAPS_BUILD_ID_FILE, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    pv_decoded *d = to_decoded(p);
    assert_int_equal(d->period, 5000000);
    assert_int_equal(d->nsamples, 9);
    int64_t total = 0;
    const pv_sample *big = NULL;
    for (size_t i = 0; i < d->nsamples; i++) {
        total += d->samples[i].values[0];
        assert_int_equal(d->samples[i].values[1], d->samples[i].values[0] * 5000000);
        if (d->samples[i].values[0] == 47)
            big = &d->samples[i];
    }
    assert_int_equal(total, 99);
    assert_non_null(big);
    assert_int_equal(big->nlocations, 6);
    assert_int_equal(big->locations[0]->address, 0x557b790651a4);
    assert_int_equal(big->locations[1]->address, 0x557b790651d4);
    assert_string_equal(big->locations[0]->mapping->file, "/tmp/gpfx/busy");
    assert_string_equal(d->mappings[0].file, "/tmp/gpfx/busy");
    pv_free(d);
    pf_profile_free(p);

    d = pv_decode(data, len, 0, &err); /* the decoder takes legacy input too */
    assert_non_null(d);
    assert_true(d->from_legacy);
    assert_int_equal(d->nsamples, 9);
    pv_free(d);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_layouts),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_real_gperftools_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
