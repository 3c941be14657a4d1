/*
 * fuzz_kafka - takhind's Kafka requests (server/kafka_api.c): what a
 * client sends on the Kafka port, past the listener's framing.
 *
 * Input: one request frame without its 4-byte length (header: API key,
 * version, correlation id, client id; then the body). kafka_handle runs it
 * against one log kept across inputs (10 topics of 2 partitions at most,
 * 64 KiB each), once as a first try and once as a final one (Fetch).
 * Invariants: the result is one of the four; a reply is a whole frame whose
 * length prefix matches and that carries the request's correlation id; a
 * close names its reason.
 */
#include "fuzz.h"

#include "../../server/kafka_api.h"

#include <string.h>

static klog *log_;
static kw scratch;

static void run(const uint8_t *data, size_t size, bool final)
{
    kreq q = {.frame = data, .len = size, .host = "127.0.0.1", .port = 9092, .final = final};
    kres r = kafka_handle(log_, &q, &scratch);
    FUZZ_ASSERT(r == KRES_REPLY || r == KRES_NO_REPLY || r == KRES_PARK || r == KRES_CLOSE,
                "result %d", (int)r);
    if (r == KRES_REPLY) {
        FUZZ_ASSERT(q.out.len >= 8, "a reply of %zu bytes", q.out.len);
        FUZZ_ASSERT(kw_load_be32(q.out.p) == q.out.len - 4, "length prefix %u for %zu bytes",
                    kw_load_be32(q.out.p), q.out.len);
        FUZZ_ASSERT(size >= 8 && memcmp(q.out.p + 4, data + 4, 4) == 0, "correlation id");
    }
    if (r == KRES_CLOSE)
        FUZZ_ASSERT(q.why[0] != '\0', "a close without a reason");
    if (r == KRES_PARK)
        FUZZ_ASSERT(!final, "a final fetch parked");
    free(q.out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    if (log_ == NULL)
        log_ = klog_new(2, 10, 65536, NULL, NULL);
    /* A copy of exactly `size` bytes: a read past the frame is ASan's. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    run(copy, size, false);
    run(copy, size, true);
    free(copy);
    return 0;
}
