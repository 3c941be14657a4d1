/*
 * takhind's Kafka requests (server/kafka_api.c) without sockets: a produce
 * is stored byte for byte and fetched back, a bad CRC gets CORRUPT_MESSAGE,
 * and every truncation and many corruptions of valid requests get an
 * answer or a close, never a crash or a read past the frame (run under
 * ASan by make check-sanitize).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../server/crc32c.h"
#include "../../server/kafka_api.h"

#include <stdlib.h>
#include <string.h>

static klog *log_;
static kw scratch;

static int setup(void **state)
{
    (void)state;
    log_ = klog_new(2, 10, 1 << 20, NULL, NULL);
    return log_ == NULL;
}

static int teardown(void **state)
{
    (void)state;
    klog_free(log_);
    free(scratch.p);
    scratch = (kw){0};
    return 0;
}

static void put_header(kw *w, int16_t key, int16_t version)
{
    kw_i16(w, key);
    kw_i16(w, version);
    kw_i32(w, 42);
    kw_str(w, "unit", 4);
}

/* A RecordBatch v2 of one record with this value (CRC right unless bad). */
static void put_batch(kw *w, const char *value, bool bad_crc)
{
    size_t start = w->len;
    unsigned char rec[64];
    size_t vlen = strlen(value), n = 0;
    rec[n++] = 0;                    /* attributes */
    rec[n++] = 0;                    /* timestamp delta */
    rec[n++] = 0;                    /* offset delta */
    rec[n++] = 1;                    /* key length -1 (zigzag) */
    rec[n++] = (unsigned char)(vlen * 2);
    memcpy(rec + n, value, vlen);
    n += vlen;
    rec[n++] = 0;                    /* headers */
    kw_i64(w, 0);                    /* base offset */
    kw_i32(w, (int32_t)(49 + 1 + n)); /* batch length */
    kw_i32(w, 0);                    /* partition leader epoch */
    kw_i8(w, 2);                     /* magic */
    size_t crc_at = w->len;
    kw_i32(w, 0);
    kw_i16(w, 0);                    /* attributes */
    kw_i32(w, 0);                    /* last offset delta */
    kw_i64(w, 1000);
    kw_i64(w, 1000);
    kw_i64(w, -1);
    kw_i16(w, -1);
    kw_i32(w, -1);
    kw_i32(w, 1);                    /* records */
    kw_i8(w, (int8_t)(n * 2));       /* record length (zigzag) */
    kw_raw(w, rec, n);
    uint32_t crc = crc32c(w->p + crc_at + 4, w->len - crc_at - 4) ^ (bad_crc ? 1u : 0u);
    kw_put_i32(w, crc_at, (int32_t)crc);
    (void)start;
}

static kw produce_request(const char *topic, const char *value, bool bad_crc)
{
    kw w = {0}, b = {0};
    put_batch(&b, value, bad_crc);
    put_header(&w, 0, 3);
    kw_str(&w, NULL, -1);
    kw_i16(&w, 1);
    kw_i32(&w, 1000);
    kw_i32(&w, 1);
    kw_str(&w, topic, (int32_t)strlen(topic));
    kw_i32(&w, 1);
    kw_i32(&w, 0);
    kw_i32(&w, (int32_t)b.len);
    kw_raw(&w, b.p, b.len);
    free(b.p);
    return w;
}

static kw fetch_request(const char *topic, int64_t offset)
{
    kw w = {0};
    put_header(&w, 1, 4);
    kw_i32(&w, -1);
    kw_i32(&w, 0);       /* max wait: answer at once */
    kw_i32(&w, 1);
    kw_i32(&w, 1 << 20);
    kw_i8(&w, 0);
    kw_i32(&w, 1);
    kw_str(&w, topic, (int32_t)strlen(topic));
    kw_i32(&w, 1);
    kw_i32(&w, 0);
    kw_i64(&w, offset);
    kw_i32(&w, 1 << 20);
    return w;
}

static kres handle(const kw *req, kreq *q)
{
    *q = (kreq){.frame = req->p, .len = req->len, .host = "127.0.0.1", .port = 9092};
    return kafka_handle(log_, q, &scratch);
}

/* The produce response's first partition: error code and base offset. */
static void produce_result(const kreq *q, int16_t *err, int64_t *base)
{
    kr r = {q->out.p + 8, q->out.p + q->out.len, false};
    assert_int_equal(kr_i32(&r), 1);
    kr_str(&r);
    assert_int_equal(kr_i32(&r), 1);
    assert_int_equal(kr_i32(&r), 0);
    *err = kr_i16(&r);
    *base = kr_i64(&r);
    assert_false(r.bad);
}

static void test_produce_then_fetch_byte_for_byte(void **state)
{
    (void)state;
    kreq q;
    int16_t err;
    int64_t base;
    for (int i = 0; i < 2; i++) {
        kw req = produce_request("orders", "hello", false);
        assert_int_equal(handle(&req, &q), KRES_REPLY);
        produce_result(&q, &err, &base);
        assert_int_equal(err, 0);
        assert_int_equal(base, i);
        free(q.out.p);
        free(req.p);
    }
    kw sent = {0};
    put_batch(&sent, "hello", false);
    kw req = fetch_request("orders", 1);
    assert_int_equal(handle(&req, &q), KRES_REPLY);
    /* The stored batch is the one sent, its base offset (1) written in. */
    kw_store_be64(sent.p, 1);
    assert_true(q.out.len > sent.len);
    assert_memory_equal(q.out.p + q.out.len - sent.len, sent.p, sent.len);
    free(q.out.p);
    free(req.p);
    free(sent.p);
}

static void test_bad_crc_is_corrupt_message(void **state)
{
    (void)state;
    kreq q;
    int16_t err;
    int64_t base;
    kw req = produce_request("orders", "hello", true);
    assert_int_equal(handle(&req, &q), KRES_REPLY);
    produce_result(&q, &err, &base);
    assert_int_equal(err, 2);
    assert_int_equal(base, -1);
    assert_int_equal(q.prob, KPROB_BAD_CRC);
    free(q.out.p);
    free(req.p);
}

static void test_unknown_key_and_version_close(void **state)
{
    (void)state;
    kreq q;
    kw req = {0};
    put_header(&req, 999, 0);
    assert_int_equal(handle(&req, &q), KRES_CLOSE);
    assert_int_equal(q.prob, KPROB_UNKNOWN_API);
    req.len = 0;
    put_header(&req, 0, 2);
    assert_int_equal(handle(&req, &q), KRES_CLOSE);
    assert_int_equal(q.prob, KPROB_BAD_VERSION);
    req.len = 0;
    put_header(&req, 18, 7); /* ApiVersions too new: an answer with error 35 */
    assert_int_equal(handle(&req, &q), KRES_REPLY);
    assert_int_equal(q.out.p[8] << 8 | q.out.p[9], 35);
    free(q.out.p);
    free(req.p);
}

/* Every prefix of a request, and byte flips, on a copy of exactly that
 * length (so ASan sees any read past it): an answer or a close. */
static void hammer(const kw *req)
{
    for (size_t len = 0; len < req->len; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, req->p, len);
        kw cut = {copy, len, len, false};
        kreq q;
        kres res = handle(&cut, &q);
        assert_true(res == KRES_REPLY || res == KRES_CLOSE || res == KRES_NO_REPLY);
        free(q.out.p);
        free(copy);
    }
    uint64_t rng = 26;
    for (int i = 0; i < 2000; i++) {
        unsigned char *copy = malloc(req->len);
        memcpy(copy, req->p, req->len);
        for (int k = 0; k < 3; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            copy[(rng >> 33) % req->len] ^= (unsigned char)(rng >> 16);
        }
        kw bad = {copy, req->len, req->len, false};
        kreq q;
        handle(&bad, &q);
        free(q.out.p);
        free(copy);
    }
}

static void test_truncations_and_corruptions(void **state)
{
    (void)state;
    kw p = produce_request("orders", "hello world", false);
    kw f = fetch_request("orders", 0);
    kw m = {0}, l = {0}, v = {0};
    put_header(&m, 3, 4);
    kw_i32(&m, 1);
    kw_str(&m, "orders", 6);
    kw_i8(&m, 1);
    put_header(&l, 2, 2);
    kw_i32(&l, -1);
    kw_i8(&l, 0);
    kw_i32(&l, 1);
    kw_str(&l, "orders", 6);
    kw_i32(&l, 1);
    kw_i32(&l, 0);
    kw_i64(&l, -2);
    put_header(&v, 18, 3);
    kw_uvarint(&v, 0); /* header tags */
    kw_uvarint(&v, 5);
    kw_raw(&v, "unit", 4);
    kw_uvarint(&v, 2);
    kw_raw(&v, "1", 1);
    kw_uvarint(&v, 0);
    const kw *all[] = {&p, &f, &m, &l, &v};
    for (size_t i = 0; i < 5; i++) {
        hammer(all[i]);
        free(all[i]->p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_produce_then_fetch_byte_for_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc_is_corrupt_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_and_version_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncations_and_corruptions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
