/*
 * test_profile_decode.c - the streaming profile.proto decoder (profile/pf_decode.c):
 * profiles written by Go 1.19's runtime/pprof (tests/unit/data/profile/
 * go_cpu.pb.gz, go_heap.pb.gz), gzip framing (bad, truncated, several
 * members, size limit), the encoder's round trip of Go's profiles, and
 * every kind of broken reference, built by hand with the wire writer
 * (pf_wire.h), each with its message; plus random corruption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.h"
#include "pf_view.h"

#ifndef PROFILE_DATA
#define PROFILE_DATA "tests/unit/data/profile/"
#endif

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

static pv_decoded *decode_ok(const void *data, size_t len)
{
    pf_err err = {0};
    pv_decoded *d = pv_decode(data, len, 0, &err);
    if (d == NULL)
        fail_msg("decode: %s", err.msg);
    return d;
}

static void expect_error(const void *data, size_t len, size_t max, pf_code code,
                         const char *part)
{
    pf_err err = {0};
    pv_decoded *d = pv_decode(data, len, max, &err);
    if (d != NULL)
        fail_msg("decoded, expected an error with \"%s\"", part);
    assert_int_equal(err.code, code);
    if (strstr(err.msg, part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
}

/* ---- Go's own profiles ---- */

static const pv_function *find_function(const pv_decoded *d, const char *name)
{
    for (size_t i = 0; i < d->nfunctions; i++) {
        if (strcmp(d->functions[i].name, name) == 0)
            return &d->functions[i];
    }
    return NULL;
}

static void test_go_cpu(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_fixture("go_cpu.pb.gz", &len);
    pv_decoded *d = decode_ok(data, len);
    assert_false(d->from_legacy);
    assert_int_equal(d->nsample_types, 2);
    assert_string_equal(d->sample_types[0].type, "samples");
    assert_string_equal(d->sample_types[1].type, "cpu");
    assert_int_equal(pv_type_index(d, "cpu"), 1);
    assert_int_equal(pv_type_index(d, "nope"), -1);
    assert_int_equal(d->period, 10000000);
    assert_true(d->duration_nanos > 0 && d->time_nanos > 0);
    const pv_function *f = find_function(d, "crypto/sha256.block");
    assert_non_null(f);
    assert_true(strstr(f->file, "sha256") != NULL);
    int64_t total = 0;
    for (size_t i = 0; i < d->nsamples; i++) {
        total += d->samples[i].values[1];
        for (size_t k = 0; k < d->samples[i].nlocations; k++)
            assert_non_null(d->samples[i].locations[k]->mapping);
    }
    assert_true(total >= 100000000); /* 0.4 s of hashing */
    pv_free(d);
    free(data);
}

static void test_go_heap(void **state)
{
    (void)state;
    size_t len;
    uint8_t *data = read_fixture("go_heap.pb.gz", &len);
    pv_decoded *d = decode_ok(data, len);
    assert_int_equal(d->nsample_types, 4);
    assert_string_equal(d->sample_types[0].type, "alloc_objects");
    assert_string_equal(d->sample_types[1].unit, "bytes");
    assert_string_equal(d->sample_types[d->default_sample_type].type, "inuse_space");
    assert_non_null(find_function(d, "main.allocate"));
    for (size_t i = 0; i < d->nsamples; i++) {
        for (size_t k = 0; k < d->samples[i].nlabels; k++)
            assert_non_null(d->samples[i].labels[k].key);
    }
    pv_free(d);
    free(data);
}

/* ---- the encoder on a foreign profile ---- */

static void same_decoded(const pf_decoded *x, const pf_decoded *y)
{
    assert_int_equal(x->ntypes, y->ntypes);
    for (size_t i = 0; i < x->ntypes; i++) {
        assert_string_equal(x->types[i].type, y->types[i].type);
        assert_string_equal(x->types[i].unit, y->types[i].unit);
    }
    assert_int_equal(x->default_type, y->default_type);
    assert_string_equal(x->period_type.type, y->period_type.type);
    assert_string_equal(x->period_type.unit, y->period_type.unit);
    assert_int_equal(x->period, y->period);
    assert_int_equal(x->time_nanos, y->time_nanos);
    assert_int_equal(x->duration_nanos, y->duration_nanos);
    assert_string_equal(x->drop_frames, y->drop_frames);
    assert_string_equal(x->keep_frames, y->keep_frames);
    assert_int_equal(x->ncomments, y->ncomments);
    for (size_t i = 0; i < x->ncomments; i++)
        assert_string_equal(x->comments[i], y->comments[i]);
    assert_int_equal(x->nmaps, y->nmaps);
    for (size_t i = 0; i < x->nmaps; i++) {
        const pf_dmapping *a = &x->maps[i], *b = &y->maps[i];
        assert_int_equal(a->start, b->start);
        assert_int_equal(a->limit, b->limit);
        assert_int_equal(a->offset, b->offset);
        assert_string_equal(a->file, b->file);
        assert_string_equal(a->build_id, b->build_id);
        assert_int_equal(a->has_functions, b->has_functions);
        assert_int_equal(a->has_filenames, b->has_filenames);
        assert_int_equal(a->has_lines, b->has_lines);
        assert_int_equal(a->has_inline, b->has_inline);
    }
    assert_int_equal(x->nfuncs, y->nfuncs);
    for (size_t i = 0; i < x->nfuncs; i++) {
        assert_string_equal(x->funcs[i].name, y->funcs[i].name);
        assert_string_equal(x->funcs[i].system_name, y->funcs[i].system_name);
        assert_string_equal(x->funcs[i].file, y->funcs[i].file);
        assert_int_equal(x->funcs[i].start_line, y->funcs[i].start_line);
    }
    assert_int_equal(x->nlocs, y->nlocs);
    for (size_t i = 0; i < x->nlocs; i++) {
        assert_int_equal(x->locs[i].address, y->locs[i].address);
        assert_int_equal(x->locs[i].mapping, y->locs[i].mapping);
        assert_int_equal(x->locs[i].nlines, y->locs[i].nlines);
        for (size_t k = 0; k < x->locs[i].nlines; k++) {
            const pf_dline *a = &x->lines[x->locs[i].line0 + k];
            const pf_dline *b = &y->lines[y->locs[i].line0 + k];
            assert_int_equal(a->func, b->func);
            assert_int_equal(a->line, b->line);
        }
    }
    assert_int_equal(x->nsamples, y->nsamples);
    assert_int_equal(x->nstack, y->nstack);
    assert_memory_equal(x->stack, y->stack, x->nstack * sizeof *x->stack);
    assert_memory_equal(x->values, y->values, x->nsamples * x->ntypes * sizeof *x->values);
    assert_int_equal(x->nlabels, y->nlabels);
    for (size_t i = 0; i < x->nlabels; i++) {
        const pf_dlabel *a = &x->labels[i], *b = &y->labels[i];
        assert_string_equal(a->key, b->key);
        assert_true((a->str == NULL) == (b->str == NULL));
        if (a->str != NULL)
            assert_string_equal(a->str, b->str);
        assert_int_equal(a->num, b->num);
        assert_string_equal(a->num_unit, b->num_unit);
    }
}

static int fail_after(void *ctx, const void *data, size_t len)
{
    (void)data;
    size_t *left = ctx;
    if (*left < len)
        return -1;
    *left -= len;
    return 0;
}

/* Go's profiles (records and labels kept), encoded by the core's encoder
 * plain and gzipped, read back the same; a writer that fails stops it. */
static void test_encode_go(void **state)
{
    (void)state;
    static const char *const names[] = {"go_cpu.pb.gz", "go_heap.pb.gz"};
    for (size_t n = 0; n < 2; n++) {
        size_t len;
        uint8_t *data = read_fixture(names[n], &len);
        pf_decoded *x = pf_decode(data, len, 0, PF_DECODE_RECORDS, NULL);
        assert_non_null(x);
        for (unsigned flags = 0; flags <= PF_WRITE_GZIP; flags += PF_WRITE_GZIP) {
            uint8_t *out = NULL;
            size_t olen = 0;
            pf_err err = {0};
            if (pf_decoded_encode(x, flags, &out, &olen, &err) != PF_OK)
                fail_msg("encode: %s", err.msg);
            assert_int_equal(pf_is_gzip(out, olen), flags == PF_WRITE_GZIP);
            pf_decoded *y = pf_decode(out, olen, 0, PF_DECODE_RECORDS, &err);
            if (y == NULL)
                fail_msg("decode: %s", err.msg);
            same_decoded(x, y);
            pf_decoded_free(y);
            size_t left = olen / 2;
            assert_int_equal(pf_decoded_write(x, flags, fail_after, &left, &err), PF_ERR_WRITE);
            free(out);
        }
        assert_int_equal(pf_decoded_write(NULL, 0, fail_after, NULL, NULL), PF_ERR_ARG);
        pf_decoded_free(x);
        free(data);
    }
}

/* ---- gzip framing ---- */

/* gzip of data in `members` separate gzip members. */
static uint8_t *gzip(const uint8_t *data, size_t len, int members, size_t *out_len)
{
    size_t cap = len + 1024 * (size_t)members, n = 0;
    uint8_t *out = malloc(cap);
    for (int m = 0; m < members; m++) {
        size_t lo = len * (size_t)m / (size_t)members, hi = len * (size_t)(m + 1) / (size_t)members;
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)(data + lo);
        zs.avail_in = (uInt)(hi - lo);
        zs.next_out = out + n;
        zs.avail_out = (uInt)(cap - n);
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        n = cap - zs.avail_out;
        deflateEnd(&zs);
    }
    *out_len = n;
    return out;
}

static uint8_t *plain_profile(size_t *len)
{
    static const pf_value_type types[] = {{"samples", "count"}};
    pf_profile *p = pf_profile_new(types, 1, NULL);
    for (uintptr_t i = 0; i < 50; i++) {
        uintptr_t st[3] = {0x401000 + i, 0x402001, 0x403001};
        int64_t v = (int64_t)i + 1;
        pf_frame fr[2] = {{"leaf", "a.c", (int64_t)i}, {"main", "main.c", 3}};
        pf_profile_add_sample(p, st, 3, &v, NULL, 0, NULL);
        pf_profile_add_sample_frames(p, fr, 2, &v, NULL, 0, NULL);
    }
    uint8_t *out;
    assert_int_equal(pf_profile_encode(p, NULL, 0, &out, len, NULL), PF_OK);
    pf_profile_free(p);
    return out;
}

static void test_gzip_framing(void **state)
{
    (void)state;
    size_t plen, glen;
    uint8_t *plain = plain_profile(&plen);
    pv_decoded *d = decode_ok(plain, plen); /* plain protobuf is fine too */
    assert_int_equal(d->nsamples, 100);
    pv_free(d);
    uint8_t *gz = gzip(plain, plen, 3, &glen); /* three members, as `cat a.gz b.gz` */
    d = decode_ok(gz, glen);
    assert_int_equal(d->nsamples, 100);
    pv_free(d);
    expect_error(gz, glen - 9, 0, PF_ERR_FORMAT, "gzip: truncated data");
    expect_error(gz, 12, 0, PF_ERR_FORMAT, "gzip: ");
    expect_error(gz, glen, 100, PF_ERR_LIMIT, "gzip: more than 100 bytes uncompressed");
    expect_error(plain, plen, 100, PF_ERR_LIMIT, "larger than 100 bytes");
    uint8_t *junk = malloc(glen + 4);
    memcpy(junk, gz, glen);
    memcpy(junk + glen, "junk", 4);
    expect_error(junk, glen + 4, 0, PF_ERR_FORMAT, "gzip: garbage after the compressed data");
    static const uint8_t bad[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    expect_error(bad, sizeof bad, 0, PF_ERR_FORMAT, "gzip: ");
    free(junk);
    free(gz);
    free(plain);
}

static void test_not_a_profile(void **state)
{
    (void)state;
    expect_error(NULL, 0, 0, PF_ERR_FORMAT, "empty input");
    const char text[] = "hello, this is a text file";
    expect_error(text, sizeof text - 1, 0, PF_ERR_FORMAT, "profile");
    size_t glen;
    uint8_t *gz = gzip((const uint8_t *)text, sizeof text - 1, 1, &glen);
    expect_error(gz, glen, 0, PF_ERR_FORMAT, "profile");
    free(gz);
}

/* ---- broken references, built with the wire writer ---- */

/* The fields of a one-sample profile, written as they are set (0 left
 * out, as proto3 does): any id or string index can be made wrong. */
typedef struct fake {
    struct {
        size_t n_string_table, n_comment;
        const int64_t *comment;
        int64_t default_sample_type;
    } p;
    struct {
        int64_t type, unit;
    } vt;
    struct {
        size_t n_value;
    } s;
    uint64_t locid[1];
    int64_t val[2];
    struct {
        uint64_t id, mapping_id, address;
        size_t n_line;
    } l[2];
    struct {
        uint64_t function_id;
        int64_t line;
    } ln;
    struct {
        uint64_t id;
        int64_t name;
    } f;
    struct {
        uint64_t id, memory_start, memory_limit;
        int64_t filename;
    } m;
    const char *str[4];
} fake;

/* A valid one-sample profile: strings "", samples, count, fn. */
static void fake_init(fake *x)
{
    memset(x, 0, sizeof *x);
    x->str[0] = "", x->str[1] = "samples", x->str[2] = "count", x->str[3] = "fn";
    x->vt.type = 1, x->vt.unit = 2;
    x->f.id = 1, x->f.name = 3;
    x->m.id = 1, x->m.memory_start = 0x1000, x->m.memory_limit = 0x2000;
    x->ln.function_id = 1, x->ln.line = 7;
    x->l[0].id = 1, x->l[0].mapping_id = 1, x->l[0].address = 0x1100, x->l[0].n_line = 1;
    x->l[1].id = 2;
    x->locid[0] = 1, x->val[0] = 42;
    x->s.n_value = 1;
    x->p.n_string_table = 4;
}

static uint8_t *fake_pack(const fake *x, size_t *len)
{
    pf_wbuf b = PF_WBUF_INIT, sub = PF_WBUF_INIT, tmp = PF_WBUF_INIT;
    pf_wire_uint(&sub, 1, (uint64_t)x->vt.type);
    pf_wire_uint(&sub, 2, (uint64_t)x->vt.unit);
    pf_wire_msg(&b, 1, &sub);
    pf_wire_varint(&tmp, x->locid[0]);
    pf_wire_msg(&sub, 1, &tmp);
    for (size_t i = 0; i < x->s.n_value; i++)
        pf_wire_varint(&tmp, (uint64_t)x->val[i]);
    pf_wire_msg(&sub, 2, &tmp);
    pf_wire_msg(&b, 2, &sub);
    pf_wire_uint(&sub, 1, x->m.id);
    pf_wire_uint(&sub, 2, x->m.memory_start);
    pf_wire_uint(&sub, 3, x->m.memory_limit);
    pf_wire_uint(&sub, 5, (uint64_t)x->m.filename);
    pf_wire_msg(&b, 3, &sub);
    for (size_t i = 0; i < 2; i++) {
        pf_wire_uint(&sub, 1, x->l[i].id);
        pf_wire_uint(&sub, 2, x->l[i].mapping_id);
        pf_wire_uint(&sub, 3, x->l[i].address);
        for (size_t k = 0; k < x->l[i].n_line; k++) {
            pf_wire_uint(&tmp, 1, x->ln.function_id);
            pf_wire_uint(&tmp, 2, (uint64_t)x->ln.line);
            pf_wire_msg(&sub, 4, &tmp);
        }
        pf_wire_msg(&b, 4, &sub);
    }
    pf_wire_uint(&sub, 1, x->f.id);
    pf_wire_uint(&sub, 2, (uint64_t)x->f.name);
    pf_wire_msg(&b, 5, &sub);
    for (size_t i = 0; i < x->p.n_string_table; i++)
        pf_wire_bytes(&b, 6, x->str[i], strlen(x->str[i]));
    for (size_t i = 0; i < x->p.n_comment; i++)
        pf_wire_varint(&tmp, (uint64_t)x->p.comment[i]);
    if (x->p.n_comment > 0)
        pf_wire_msg(&b, 13, &tmp);
    pf_wire_uint(&b, 14, (uint64_t)x->p.default_sample_type);
    assert_int_equal(b.status, PF_OK);
    pf_wbuf_free(&sub);
    pf_wbuf_free(&tmp);
    *len = b.len;
    return b.data;
}

static void fake_expect(const fake *x, const char *part)
{
    size_t len;
    uint8_t *buf = fake_pack(x, &len);
    expect_error(buf, len, 0, PF_ERR_FORMAT, part);
    free(buf);
}

static void test_fake_valid(void **state)
{
    (void)state;
    fake x;
    fake_init(&x);
    size_t len;
    uint8_t *buf = fake_pack(&x, &len);
    pv_decoded *d = decode_ok(buf, len);
    assert_int_equal(d->nsamples, 1);
    assert_int_equal(d->samples[0].values[0], 42);
    const pv_location *l = d->samples[0].locations[0];
    assert_int_equal(l->address, 0x1100);
    assert_int_equal(l->mapping->start, 0x1000);
    assert_string_equal(l->lines[0].function->name, "fn");
    assert_int_equal(l->lines[0].line, 7);
    assert_string_equal(d->period_type.type, ""); /* absent: "" */
    assert_string_equal(d->drop_frames, "");
    pv_free(d);
    free(buf);
}

static void test_fake_strings(void **state)
{
    (void)state;
    fake x;
    fake_init(&x);
    x.vt.unit = 99;
    fake_expect(&x, "sample type: string index 99 out of range (table has 4)");
    fake_init(&x);
    x.f.name = -1;
    fake_expect(&x, "function name: string index -1 out of range");
    fake_init(&x);
    x.m.filename = 4;
    fake_expect(&x, "mapping file: string index 4");
    fake_init(&x);
    x.str[0] = "x";
    fake_expect(&x, "string table must start with \"\"");
    fake_init(&x);
    x.p.n_string_table = 0;
    fake_expect(&x, "string table must start with \"\"");
    fake_init(&x);
    int64_t comment = 12;
    x.p.n_comment = 1, x.p.comment = &comment;
    fake_expect(&x, "comment: string index 12");
    fake_init(&x);
    x.p.default_sample_type = 77;
    fake_expect(&x, "default sample type: string index 77");
}

static void test_fake_ids(void **state)
{
    (void)state;
    fake x;
    fake_init(&x);
    x.locid[0] = 7;
    fake_expect(&x, "sample 0: location id 7 not found");
    fake_init(&x);
    x.ln.function_id = 9;
    fake_expect(&x, "location id 1: line 0: function id 9 not found");
    fake_init(&x);
    x.ln.function_id = 0;
    fake_expect(&x, "function id 0 not found");
    fake_init(&x);
    x.l[0].mapping_id = 5;
    fake_expect(&x, "location id 1: mapping id 5 not found");
    fake_init(&x);
    x.l[1].id = 1;
    fake_expect(&x, "location id 1 appears twice");
    fake_init(&x);
    x.l[1].id = 0;
    fake_expect(&x, "location 1 has id 0");
    fake_init(&x);
    x.f.id = 0;
    fake_expect(&x, "function 0 has id 0");
    fake_init(&x);
    x.s.n_value = 2;
    fake_expect(&x, "sample 0 has 2 values for 1 sample types");
}

/* Random corruption of plain and gzipped bytes: error or profile, no crash. */
static void test_random_corruption(void **state)
{
    (void)state;
    size_t plen, glen;
    uint8_t *plain = plain_profile(&plen);
    uint8_t *gz = gzip(plain, plen, 1, &glen);
    uint64_t x = 0x2545f4914f6cdd1dULL;
    size_t decoded = 0;
    for (int iter = 0; iter < 4000; iter++) {
        const uint8_t *src = iter % 4 == 0 ? gz : plain;
        size_t len = iter % 4 == 0 ? glen : plen;
        uint8_t *copy = malloc(len);
        memcpy(copy, src, len);
        for (int k = 0; k < 1 + iter % 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[x % len] ^= (uint8_t)(1u << (x >> 61));
        }
        if (iter % 5 == 0)
            len = (size_t)(x >> 33) % len;
        pf_err err = {0};
        pv_decoded *d = pv_decode(copy, len, 1 << 20, &err);
        if (d != NULL) {
            decoded++;
            for (size_t i = 0; i < d->nsamples; i++) /* every pointer usable */
                for (size_t k = 0; k < d->samples[i].nlocations; k++)
                    assert_true(d->samples[i].locations[k]->nlines <= 16);
        } else {
            assert_true(err.msg[0] != '\0');
        }
        pv_free(d);
        free(copy);
    }
    assert_true(decoded > 0);
    free(gz);
    free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_cpu),
        cmocka_unit_test(test_go_heap),
        cmocka_unit_test(test_encode_go),
        cmocka_unit_test(test_gzip_framing),
        cmocka_unit_test(test_not_a_profile),
        cmocka_unit_test(test_fake_valid),
        cmocka_unit_test(test_fake_strings),
        cmocka_unit_test(test_fake_ids),
        cmocka_unit_test(test_random_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
