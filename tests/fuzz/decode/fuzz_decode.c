/*
 * fuzz_decode - the streaming profile.proto decoder (pf_decode): gzipped or plain,
 * read merged and as records (labels kept),
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

/* Every index in range, every string usable. */
static void walk(const pf_decoded *d)
{
    FUZZ_ASSERT(d->ntypes == 0 || d->default_type < d->ntypes,
                "default type %zu of %zu", d->default_type, d->ntypes);
    for (size_t i = 0; i < d->ntypes; i++) {
        str(d->types[i].type);
        str(d->types[i].unit);
        FUZZ_ASSERT(pf_decoded_type_index(d, d->types[i].type) >= 0, "type not found");
    }
    str(d->period_type.type);
    for (size_t i = 0; i < d->ncomments; i++)
        str(d->comments[i]);
    for (size_t i = 0; i < d->nsamples; i++) {
        const pf_dsample *s = &d->samples[i];
        for (size_t k = 0; k < d->ntypes; k++)
            sink += (size_t)d->values[i * d->ntypes + k];
        FUZZ_ASSERT(s->loc0 + s->nlocs <= d->nstack, "sample %zu: stack out of range", i);
        for (size_t k = 0; k < s->nlocs; k++) {
            uint32_t li = d->stack[s->loc0 + k];
            FUZZ_ASSERT(li < d->nlocs, "location index %u of %zu", li, d->nlocs);
            const pf_dlocation *l = &d->locs[li];
            FUZZ_ASSERT(l->mapping <= d->nmaps, "mapping %u of %zu", l->mapping, d->nmaps);
            if (l->mapping != 0) {
                str(d->maps[l->mapping - 1].file);
                str(d->maps[l->mapping - 1].build_id);
            }
            FUZZ_ASSERT(l->line0 + l->nlines <= d->nlines, "lines out of range");
            for (size_t j = 0; j < l->nlines; j++) {
                uint32_t f = d->lines[l->line0 + j].func;
                FUZZ_ASSERT(f < d->nfuncs, "function index %u of %zu", f, d->nfuncs);
                str(d->funcs[f].name);
                str(d->funcs[f].system_name);
                str(d->funcs[f].file);
            }
        }
        FUZZ_ASSERT(s->nlabels == 0 || s->label0 + s->nlabels <= d->nlabels, "labels");
        for (size_t k = 0; k < s->nlabels; k++) {
            const pf_dlabel *l = &d->labels[s->label0 + k];
            str(l->key);
            if (l->str != NULL)
                str(l->str);
            else
                str(l->num_unit);
        }
    }
    (void)pf_decoded_type_index(d, "cpu");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    size_t nrecords = 0;
    for (unsigned flags = 0; flags <= PF_DECODE_RECORDS; flags += PF_DECODE_RECORDS) {
        pf_err err = {0};
        pf_decoded *d = pf_decode(data, size, 8u << 20, flags, &err);
        if (d == NULL) {
            FUZZ_ASSERT(err.code != PF_OK && err.msg[0] != '\0', "refused without a reason");
            FUZZ_ASSERT(flags == 0 || err.code == PF_ERR_NOMEM, "merged read accepted, "
                        "records refused: %s", err.msg);
            return 0;
        }
        walk(d);
        FUZZ_ASSERT(flags == 0 || d->nsamples == d->nrecords, "records mode merged");
        FUZZ_ASSERT(flags == 0 || d->nrecords == nrecords, "%zu records, then %zu", nrecords,
                    d->nrecords);
        nrecords = d->nrecords;
        pf_decoded_free(d);
    }
    return 0;
}
