/*
 * fuzz_legacy - the legacy gperftools CPU profile parser (pf_legacy_cpu_parse),
 * what the plugin reads back from ProfilerStart's file and the CLI reads
 * from disk. A profile it accepts must encode (pf_profile_encode, plain
 * and gzipped, no symbolizer) into profile.proto that pf_decode accepts:
 * the core's own round trip.
 */
#include "fuzz.h"

#include "pf_decode.h"
#include "pf_legacy.h"
#include "pf_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    (void)pf_legacy_is_cpu(data, size);
    pf_err err = {0};
    pf_profile *p = pf_legacy_cpu_parse(data, size, 0, &err);
    if (p == NULL) {
        FUZZ_ASSERT(err.code != PF_OK && err.msg[0] != '\0', "refused without a reason");
        return 0;
    }
    for (unsigned flags = 0; flags <= PF_WRITE_GZIP; flags += PF_WRITE_GZIP) {
        uint8_t *out = NULL;
        size_t len = 0;
        pf_err e2 = {0};
        pf_code rc = pf_profile_encode(p, NULL, flags, &out, &len, &e2);
        FUZZ_ASSERT(rc == PF_OK, "encode failed: %s", e2.msg);
        pf_err e3 = {0};
        pf_decoded *d = pf_decode(out, len, 0, 0, &e3);
        FUZZ_ASSERT(d != NULL, "our encoding of an accepted legacy profile does not decode: %s",
                    e3.msg);
        FUZZ_ASSERT(d->ntypes == 2, "%zu sample types", d->ntypes);
        pf_decoded_free(d);
        free(out);
    }
    pf_profile_free(p);
    return 0;
}
