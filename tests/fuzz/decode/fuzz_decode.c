/*
 * fuzz_decode - the profile.proto decoder (pf_decode): gzipped or plain,
 * any producer, and legacy CPU profiles through it. Everything reachable
 * from an accepted profile is read (ASan checks each pointer): strings,
 * every sample's locations, lines and functions, labels. The uncompressed
 * bound is 8 MiB here, so a gzip bomb must fail with PF_ERR_LIMIT.
 */
#include "fuzz.h"

#include "pf_decode.h"

#include <string.h>

static size_t sink;

static void str(const char *s)
{
    FUZZ_ASSERT(s != NULL, "NULL string");
    sink += strlen(s);
}

static void walk(const pf_decoded *d)
{
    FUZZ_ASSERT(d->nsample_types == 0 || d->default_sample_type < d->nsample_types,
                "default type %zu of %zu", d->default_sample_type, d->nsample_types);
    for (size_t i = 0; i < d->nsample_types; i++) {
        str(d->sample_types[i].type);
        str(d->sample_types[i].unit);
        FUZZ_ASSERT(pf_decoded_type_index(d, d->sample_types[i].type) >= 0, "type not found");
    }
    str(d->period_type.type);
    for (size_t i = 0; i < d->ncomments; i++)
        str(d->comments[i]);
    for (size_t i = 0; i < d->nsamples; i++) {
        const pf_dsample *s = &d->samples[i];
        for (size_t k = 0; k < d->nsample_types; k++)
            sink += (size_t)s->values[k];
        for (size_t k = 0; k < s->nlocations; k++) {
            const pf_dlocation *l = s->locations[k];
            FUZZ_ASSERT(l != NULL, "NULL location");
            if (l->mapping != NULL) {
                str(l->mapping->file);
                str(l->mapping->build_id);
            }
            for (size_t j = 0; j < l->nlines; j++) {
                str(l->lines[j].function->name);
                str(l->lines[j].function->system_name);
                str(l->lines[j].function->file);
            }
        }
        for (size_t k = 0; k < s->nlabels; k++) {
            str(s->labels[k].key);
            if (s->labels[k].str != NULL)
                str(s->labels[k].str);
            else
                str(s->labels[k].num_unit);
        }
    }
    (void)pf_decoded_type_index(d, "cpu");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    pf_err err = {0};
    pf_decoded *d = pf_decode(data, size, 8u << 20, &err);
    if (d == NULL) {
        FUZZ_ASSERT(err.code != PF_OK && err.msg[0] != '\0', "refused without a reason");
        return 0;
    }
    walk(d);
    pf_decoded_free(d);
    return 0;
}
