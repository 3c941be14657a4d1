/*
 * test_profile_model.c - the profile model and its encoder
 * (profile/pf_build.c, pf_convert.c, pf_encode.c): building, merging identical stacks,
 * labels, symbolic frames, header fields, and round trips through the
 * decoder (pf_decode.c), gzipped and plain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "pf_view.h"

static const pf_value_type cpu_types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};

static pf_profile *new_cpu_profile(void)
{
    pf_err err = {0};
    pf_profile *p = pf_profile_new(cpu_types, 2, &err);
    assert_non_null(p);
    assert_int_equal(pf_profile_set_period(p, "cpu", "nanoseconds", 10000000), PF_OK);
    return p;
}

/* Encodes p (no symbolizer) and decodes the bytes back. */
static pv_decoded *roundtrip(pf_profile *p, unsigned flags)
{
    pf_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    pf_code rc = pf_profile_encode(p, NULL, flags, &buf, &len, &err);
    if (rc != PF_OK)
        fail_msg("encode: %s", err.msg);
    if (flags & PF_WRITE_GZIP) {
        assert_true(len > 18);
        assert_int_equal(buf[0], 0x1f);
        assert_int_equal(buf[1], 0x8b);
    }
    pv_decoded *d = pv_decode(buf, len, 0, &err);
    free(buf);
    if (d == NULL)
        fail_msg("decode: %s", err.msg);
    return d;
}

static void add(pf_profile *p, const uintptr_t *pcs, size_t n, int64_t count,
                const pf_label *labels, size_t nlabels)
{
    pf_err err = {0};
    int64_t v[2] = {count, count * 10000000};
    if (pf_profile_add_sample(p, pcs, n, v, labels, nlabels, &err) != PF_OK)
        fail_msg("add_sample: %s", err.msg);
}

static void test_roundtrip_header(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= PF_WRITE_GZIP; flags += PF_WRITE_GZIP) {
        pf_profile *p = new_cpu_profile();
        pf_profile_set_time(p, 1700000000123456789LL, 30000000000LL);
        assert_int_equal(pf_profile_add_comment(p, "first comment"), PF_OK);
        assert_int_equal(pf_profile_add_comment(p, "second"), PF_OK);
        assert_int_equal(pf_profile_set_default_type(p, "cpu"), PF_OK);
        assert_int_equal(pf_profile_set_default_type(p, "nope"), PF_ERR_ARG);
        pv_decoded *d = roundtrip(p, flags);
        assert_int_equal(d->nsample_types, 2);
        assert_string_equal(d->sample_types[0].type, "samples");
        assert_string_equal(d->sample_types[0].unit, "count");
        assert_string_equal(d->sample_types[1].type, "cpu");
        assert_string_equal(d->sample_types[1].unit, "nanoseconds");
        assert_int_equal(d->default_sample_type, 1);
        assert_string_equal(d->period_type.type, "cpu");
        assert_string_equal(d->period_type.unit, "nanoseconds");
        assert_int_equal(d->period, 10000000);
        assert_int_equal(d->time_nanos, 1700000000123456789LL);
        assert_int_equal(d->duration_nanos, 30000000000LL);
        assert_int_equal(d->ncomments, 2);
        assert_string_equal(d->comments[0], "first comment");
        assert_string_equal(d->comments[1], "second");
        assert_int_equal(d->nsamples, 0);
        pv_free(d);
        pf_profile_free(p);
    }
}

/* Leaf exact, callers are return addresses: stored as address - 1. */
static void test_roundtrip_stacks(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    uintptr_t a[] = {0x401000, 0x402005, 0x403009};
    uintptr_t b[] = {0x401100, 0x402005, 0x403009};
    add(p, a, 3, 2, NULL, 0);
    add(p, b, 3, 5, NULL, 0);
    add(p, a, 3, 3, NULL, 0); /* same stack: merged */
    assert_int_equal(pf_profile_sample_count(p), 2);
    assert_int_equal(pf_profile_location_count(p), 4);
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    assert_int_equal(d->nsamples, 2);
    assert_int_equal(d->nlocations, 4);
    const pv_sample *s = &d->samples[0];
    assert_int_equal(s->nlocations, 3);
    assert_int_equal(s->values[0], 5);
    assert_int_equal(s->values[1], 50000000);
    assert_int_equal(s->locations[0]->address, 0x401000);
    assert_int_equal(s->locations[1]->address, 0x402004);
    assert_int_equal(s->locations[2]->address, 0x403008);
    assert_null(s->locations[0]->mapping);
    assert_int_equal(s->locations[0]->nlines, 0);
    s = &d->samples[1];
    assert_int_equal(s->values[0], 5);
    assert_int_equal(s->locations[0]->address, 0x401100);
    assert_ptr_equal(s->locations[1], d->samples[0].locations[1]); /* shared */
    pv_free(d);
    pf_profile_free(p);
}

static void test_pc_mode_all_return(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    pf_profile_set_pc_mode(p, PF_PCS_ALL_RETURN);
    uintptr_t a[] = {0x401000, 0x402005};
    add(p, a, 2, 1, NULL, 0);
    pv_decoded *d = roundtrip(p, 0);
    assert_int_equal(d->samples[0].locations[0]->address, 0x400fff);
    assert_int_equal(d->samples[0].locations[1]->address, 0x402004);
    pv_free(d);
    pf_profile_free(p);
}

static void test_labels(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    uintptr_t a[] = {0x401000, 0x402005};
    pf_label t1[] = {{"thread", "worker-1", 0, NULL}, {"bytes", NULL, 4096, "bytes"}};
    pf_label t1_swapped[] = {t1[1], t1[0]};
    pf_label t2[] = {{"thread", "worker-2", 0, NULL}};
    add(p, a, 2, 1, t1, 2);
    add(p, a, 2, 1, t1_swapped, 2); /* same labels in another order: merged */
    add(p, a, 2, 1, t2, 1);
    add(p, a, 2, 1, NULL, 0);
    assert_int_equal(pf_profile_sample_count(p), 3);
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    assert_int_equal(d->nsamples, 3);
    const pv_sample *s = &d->samples[0];
    assert_int_equal(s->values[0], 2);
    assert_int_equal(s->nlabels, 2);
    for (size_t i = 0; i < 2; i++) {
        if (strcmp(s->labels[i].key, "thread") == 0) {
            assert_string_equal(s->labels[i].str, "worker-1");
        } else {
            assert_string_equal(s->labels[i].key, "bytes");
            assert_null(s->labels[i].str);
            assert_int_equal(s->labels[i].num, 4096);
            assert_string_equal(s->labels[i].num_unit, "bytes");
        }
    }
    assert_string_equal(d->samples[1].labels[0].str, "worker-2");
    assert_int_equal(d->samples[2].nlabels, 0);
    pv_free(d);
    pf_profile_free(p);
}

static void test_symbolic_frames(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    pf_err err = {0};
    pf_frame f1[] = {{"leaf_fn", "src/a.c", 12}, {"main", "src/main.c", 40}};
    pf_frame f2[] = {{"leaf_fn", "src/a.c", 13}, {"main", "src/main.c", 40}};
    int64_t v[2] = {7, 70000000};
    assert_int_equal(pf_profile_add_sample_frames(p, f1, 2, v, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample_frames(p, f2, 2, v, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample_frames(p, f1, 2, v, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_sample_count(p), 2);
    assert_int_equal(pf_profile_location_count(p), 3); /* leaf_fn:12, :13, main:40 */
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    assert_int_equal(d->nfunctions, 2); /* functions shared across lines */
    const pv_sample *s = &d->samples[0];
    assert_int_equal(s->values[0], 14);
    const pv_location *leaf = s->locations[0];
    assert_int_equal(leaf->address, 0);
    assert_non_null(leaf->mapping); /* the placeholder, marked symbolized */
    assert_int_equal(d->nmappings, 1);
    assert_int_equal(leaf->mapping->start, 0);
    assert_int_equal(leaf->mapping->limit, 0);
    assert_string_equal(leaf->mapping->file, "");
    assert_true(leaf->mapping->has_functions && leaf->mapping->has_filenames &&
                leaf->mapping->has_line_numbers);
    assert_false(leaf->mapping->has_inline_frames);
    assert_int_equal(leaf->nlines, 1);
    assert_string_equal(leaf->lines[0].function->name, "leaf_fn");
    assert_string_equal(leaf->lines[0].function->system_name, "leaf_fn");
    assert_string_equal(leaf->lines[0].function->file, "src/a.c");
    assert_int_equal(leaf->lines[0].line, 12);
    assert_string_equal(s->locations[1]->lines[0].function->name, "main");
    assert_int_equal(d->samples[1].locations[0]->lines[0].line, 13);
    assert_ptr_equal(d->samples[1].locations[0]->lines[0].function, leaf->lines[0].function);
    pv_free(d);
    pf_profile_free(p);
}

static void test_mappings(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    pf_mapping m1 = {.start = 0x400000, .limit = 0x500000, .offset = 0x1000,
                     .path = "/usr/bin/takhind", .build_id = "abcdef0123", .exec = true};
    pf_mapping m2 = {.start = 0x7f0000000000, .limit = 0x7f0000100000, .offset = 0,
                     .path = "/lib/libc.so.6", .exec = true};
    assert_int_equal(pf_profile_add_mapping(p, &m2), PF_OK);
    assert_int_equal(pf_profile_add_mapping(p, &m1), PF_OK);
    pf_mapping bad = {.start = 10, .limit = 10, .path = ""};
    assert_int_equal(pf_profile_add_mapping(p, &bad), PF_ERR_ARG);
    uintptr_t a[] = {0x400010, 0x7f0000000100, 0x900000};
    add(p, a, 3, 1, NULL, 0);
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    assert_int_equal(d->nmappings, 2);
    const pv_sample *s = &d->samples[0];
    assert_non_null(s->locations[0]->mapping);
    assert_string_equal(s->locations[0]->mapping->file, "/usr/bin/takhind");
    assert_string_equal(s->locations[0]->mapping->build_id, "abcdef0123");
    assert_int_equal(s->locations[0]->mapping->start, 0x400000);
    assert_int_equal(s->locations[0]->mapping->limit, 0x500000);
    assert_int_equal(s->locations[0]->mapping->offset, 0x1000);
    assert_false(s->locations[0]->mapping->has_functions); /* not symbolized */
    assert_string_equal(s->locations[1]->mapping->file, "/lib/libc.so.6");
    assert_null(s->locations[2]->mapping); /* outside every mapping */
    pv_free(d);
    pf_profile_free(p);
}

static void test_many_samples_merge(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    for (int i = 0; i < 20000; i++) {
        uintptr_t st[8];
        for (int k = 0; k < 8; k++)
            st[k] = 0x400000 + (uintptr_t)((i % 250) * 64 + k * 4096 + 1);
        add(p, st, 8, 1, NULL, 0);
    }
    assert_int_equal(pf_profile_sample_count(p), 250);
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    int64_t total = 0;
    for (size_t i = 0; i < d->nsamples; i++) {
        assert_int_equal(d->samples[i].values[0], 80);
        total += d->samples[i].values[0];
    }
    assert_int_equal(total, 20000);
    pv_free(d);
    pf_profile_free(p);
}

static void test_zero_and_saturation(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    pf_err err = {0};
    uintptr_t a[] = {0x401000}, b[] = {0x402000};
    int64_t big[2] = {INT64_MAX - 1, 1}, zero[2] = {0, 0};
    assert_int_equal(pf_profile_add_sample(p, a, 1, big, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample(p, a, 1, big, NULL, 0, &err), PF_OK);
    assert_int_equal(pf_profile_add_sample(p, b, 1, zero, NULL, 0, &err), PF_OK);
    pv_decoded *d = roundtrip(p, 0);
    assert_int_equal(d->nsamples, 1); /* the all-zero sample is left out */
    assert_int_equal(d->samples[0].values[0], INT64_MAX);
    assert_int_equal(d->samples[0].values[1], 2);
    pv_free(d);
    pf_profile_free(p);
}

static void test_empty_stack(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    add(p, NULL, 0, 3, NULL, 0);
    pv_decoded *d = roundtrip(p, PF_WRITE_GZIP);
    assert_int_equal(d->nsamples, 1);
    assert_int_equal(d->samples[0].nlocations, 0);
    pv_free(d);
    pf_profile_free(p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    pf_err err = {0};
    assert_null(pf_profile_new(cpu_types, 0, &err));
    assert_int_equal(err.code, PF_ERR_ARG);
    assert_non_null(strstr(err.msg, "sample types"));
    pf_value_type nounit[] = {{"cpu", NULL}};
    assert_null(pf_profile_new(nounit, 1, &err));
    assert_int_equal(err.code, PF_ERR_ARG);

    pf_profile *p = new_cpu_profile();
    int64_t v[2] = {1, 1};
    uintptr_t *deep = calloc(PF_MAX_DEPTH + 1, sizeof *deep);
    assert_int_equal(pf_profile_add_sample(p, deep, PF_MAX_DEPTH + 1, v, NULL, 0, &err),
                     PF_ERR_LIMIT);
    assert_int_equal(pf_profile_add_sample(p, deep, PF_MAX_DEPTH, v, NULL, 0, &err), PF_OK);
    free(deep);
    uintptr_t a[] = {1};
    assert_int_equal(pf_profile_add_sample(p, a, 1, NULL, NULL, 0, &err), PF_ERR_ARG);
    pf_label nokey[] = {{NULL, "x", 0, NULL}};
    assert_int_equal(pf_profile_add_sample(p, a, 1, v, nokey, 1, &err), PF_ERR_ARG);
    assert_non_null(strstr(err.msg, "no key"));
    pf_frame noname[] = {{NULL, "f.c", 1}};
    assert_int_equal(pf_profile_add_sample_frames(p, noname, 1, v, NULL, 0, &err), PF_ERR_ARG);
    assert_int_equal(pf_profile_write(p, NULL, 0, NULL, NULL, &err), PF_ERR_ARG);
    pf_profile_free(p);
    pf_profile_free(NULL);
}

typedef struct failing_writer {
    size_t calls, fail_at;
} failing_writer;

static int fail_write(void *ctx, const void *data, size_t len)
{
    failing_writer *w = ctx;
    (void)data;
    (void)len;
    return ++w->calls >= w->fail_at ? -1 : 0;
}

/* A writer failing (client gone) stops the encoder with PF_ERR_WRITE. */
static void test_writer_failure(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    for (int i = 0; i < 5000; i++) {
        uintptr_t st[4] = {0x400000 + (uintptr_t)i * 16, 0x500001 + (uintptr_t)i * 8, 0x600001,
                           0x700001};
        add(p, st, 4, 1, NULL, 0);
    }
    for (size_t fail_at = 1; fail_at <= 3; fail_at++) {
        failing_writer w = {0, fail_at};
        pf_err err = {0};
        assert_int_equal(pf_profile_write(p, NULL, PF_WRITE_GZIP, fail_write, &w, &err),
                         PF_ERR_WRITE);
        assert_int_equal(w.calls, fail_at); /* no call after the failure */
        assert_non_null(strstr(err.msg, "output failed"));
    }
    pf_profile_free(p);
}

/* Writing twice gives the same bytes (writing must not disturb the model). */
static void test_write_twice(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    uintptr_t a[] = {0x401000, 0x402005};
    add(p, a, 2, 4, NULL, 0);
    uint8_t *b1, *b2;
    size_t n1, n2;
    assert_int_equal(pf_profile_encode(p, NULL, PF_WRITE_GZIP, &b1, &n1, NULL), PF_OK);
    assert_int_equal(pf_profile_encode(p, NULL, PF_WRITE_GZIP, &b2, &n2, NULL), PF_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    pf_profile_free(p);
}

/* pf_profile_to_decoded gives what encoding and decoding give. */
static void test_to_decoded(void **state)
{
    (void)state;
    pf_profile *p = new_cpu_profile();
    pf_mapping m1 = {.start = 0x400000, .limit = 0x500000, .path = "/bin/x", .exec = true};
    assert_int_equal(pf_profile_add_mapping(p, &m1), PF_OK);
    pf_label t1[] = {{"thread", "w1", 0, NULL}};
    uintptr_t a[] = {0x400010, 0x400105, 0x900000};
    pf_frame f[] = {{"leaf", "a.c", 3}, {"main", "m.c", 9}};
    int64_t v[2] = {2, 20000000}, zero[2] = {0, 0};
    add(p, a, 3, 1, t1, 1);
    add(p, a, 3, 1, NULL, 0);
    assert_int_equal(pf_profile_add_sample_frames(p, f, 2, v, NULL, 0, NULL), PF_OK);
    assert_int_equal(pf_profile_add_sample_frames(p, f, 1, zero, NULL, 0, NULL), PF_OK);
    assert_int_equal(pf_profile_set_default_type(p, "samples"), PF_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(pf_profile_encode(p, NULL, 0, &buf, &len, NULL), PF_OK);
    for (unsigned flags = 0; flags <= PF_DECODE_RECORDS; flags += PF_DECODE_RECORDS) {
        pf_decoded *x = pf_decode(buf, len, 0, flags, NULL), *y = pf_profile_to_decoded(p, flags, NULL);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(x->ntypes, y->ntypes);
        assert_int_equal(x->default_type, y->default_type);
        assert_string_equal(x->period_type.type, y->period_type.type);
        assert_int_equal(x->period, y->period);
        assert_int_equal(x->nmaps, y->nmaps);
        for (size_t i = 0; i < x->nmaps; i++) {
            assert_int_equal(x->maps[i].start, y->maps[i].start);
            assert_string_equal(x->maps[i].file, y->maps[i].file);
            assert_int_equal(x->maps[i].has_functions, y->maps[i].has_functions);
            assert_int_equal(x->maps[i].has_filenames, y->maps[i].has_filenames);
            assert_int_equal(x->maps[i].has_lines, y->maps[i].has_lines);
        }
        assert_int_equal(x->nfuncs, y->nfuncs);
        assert_int_equal(x->nlocs, y->nlocs);
        for (size_t i = 0; i < x->nlocs; i++) {
            assert_int_equal(x->locs[i].address, y->locs[i].address);
            assert_int_equal(x->locs[i].mapping, y->locs[i].mapping);
            assert_int_equal(x->locs[i].nlines, y->locs[i].nlines);
        }
        assert_int_equal(x->nsamples, y->nsamples);
        assert_int_equal(x->nrecords, y->nrecords);
        assert_int_equal(x->nstack, y->nstack);
        assert_memory_equal(x->stack, y->stack, x->nstack * sizeof *x->stack);
        assert_memory_equal(x->values, y->values, x->nsamples * x->ntypes * sizeof *x->values);
        assert_int_equal(x->nlabels, y->nlabels);
        for (size_t i = 0; i < x->nlabels; i++)
            assert_string_equal(x->labels[i].str, y->labels[i].str);
        pf_decoded_free(x);
        pf_decoded_free(y);
    }
    free(buf);
    pf_profile_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_header),
        cmocka_unit_test(test_roundtrip_stacks),
        cmocka_unit_test(test_pc_mode_all_return),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_symbolic_frames),
        cmocka_unit_test(test_mappings),
        cmocka_unit_test(test_many_samples_merge),
        cmocka_unit_test(test_zero_and_saturation),
        cmocka_unit_test(test_empty_stack),
        cmocka_unit_test(test_to_decoded),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_writer_failure),
        cmocka_unit_test(test_write_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
