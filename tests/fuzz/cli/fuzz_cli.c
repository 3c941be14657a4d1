/*
 * fuzz_cli - takhin-profiler's readers (cli/profiler/input): cli_prof_parse, which
 * recognizes gzip, profile.proto (the CLI's own decoder), the legacy
 * gperftools CPU format and the legacy heap text, then the analysis steps
 * that follow reading (prune, demangle, sample count, type lookup) and a
 * re-encoding (the core's pf_decoded_encode) that must parse again.
 */
#include "fuzz.h"

#include "input/cli_prof.h"
#include "pf_encode.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    char err[512] = "";
    (void)cli_heap_text_is(data, size);
    pf_decoded *p = cli_prof_parse(data, size, err, sizeof err);
    if (p == NULL) {
        FUZZ_ASSERT(err[0] != '\0', "refused without a message");
        return 0;
    }
    (void)pf_decoded_samples(p);
    (void)pf_decoded_type_index(p, NULL);
    (void)pf_decoded_type_index(p, "cpu");
    (void)pf_decoded_type_index(p, "space");
    (void)pf_decoded_needs_symbols(p);
    cli_prof_prune(p);
    cli_prof_demangle(p);
    uint8_t *out = NULL;
    size_t len = 0;
    if (pf_decoded_encode(p, 0, &out, &len, NULL) == PF_OK) {
        err[0] = '\0';
        pf_decoded *q = pf_decode_plain(out, len, 0, NULL);
        FUZZ_ASSERT(q != NULL, "our own encoding does not parse: %s", err);
        FUZZ_ASSERT(q->nsamples <= p->nsamples, "%zu samples became %zu", p->nsamples,
                    q->nsamples);
        pf_decoded_free(q);
        free(out);
    }
    pf_decoded_free(p);
    return 0;
}
