/*
 * pf_view.h - for tests: decodes with the profile core's streaming decoder
 * (pf_decode, PF_DECODE_RECORDS: one sample per record, labels kept) and
 * presents the result linked by pointers (sample -> location -> mapping,
 * line -> function), so that assertions read as the profile does. Only
 * navigation: every check of the input is pf_decode's.
 */
#ifndef TESTS_PF_VIEW_H
#define TESTS_PF_VIEW_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

typedef pf_dvaluetype pv_valuetype;
typedef pf_dlabel pv_label;

typedef struct pv_mapping {
    uint64_t id, start, limit, offset;
    const char *file, *build_id;
    bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
} pv_mapping;

typedef pf_dfunction pv_function;

typedef struct pv_line {
    const pv_function *function;
    int64_t line;
} pv_line;

typedef struct pv_location {
    uint64_t id, address;
    const pv_mapping *mapping; /* NULL: none */
    size_t nlines;
    const pv_line *lines;
} pv_location;

typedef struct pv_sample {
    size_t nlocations;
    const pv_location **locations;
    const int64_t *values;
    size_t nlabels;
    const pv_label *labels;
} pv_sample;

typedef struct pv_decoded {
    size_t nsample_types;
    const pv_valuetype *sample_types;
    size_t default_sample_type;
    pv_valuetype period_type;
    int64_t period, time_nanos, duration_nanos;
    const char *drop_frames, *keep_frames;
    size_t ncomments;
    const char *const *comments;
    size_t nsamples;
    pv_sample *samples;
    size_t nlocations;
    pv_location *locations;
    size_t nfunctions;
    const pv_function *functions;
    size_t nmappings;
    pv_mapping *mappings;
    bool from_legacy;
    pf_decoded *d;
    pv_line *lines;
    const pv_location **stack;
} pv_decoded;

static inline void pv_free(pv_decoded *v)
{
    if (v == NULL)
        return;
    free(v->samples);
    free(v->locations);
    free(v->mappings);
    free(v->lines);
    free(v->stack);
    pf_decoded_free(v->d);
    free(v);
}

static inline pv_decoded *pv_decode(const void *data, size_t len, size_t max, pf_err *err)
{
    pf_decoded *d = pf_decode(data, len, max, PF_DECODE_RECORDS, err);
    if (d == NULL)
        return NULL;
    pv_decoded *v = calloc(1, sizeof *v);
    v->d = d;
    v->nsample_types = d->ntypes;
    v->sample_types = d->types;
    v->default_sample_type = d->default_type;
    v->period_type = d->period_type;
    v->period = d->period;
    v->time_nanos = d->time_nanos;
    v->duration_nanos = d->duration_nanos;
    v->drop_frames = d->drop_frames;
    v->keep_frames = d->keep_frames;
    v->ncomments = d->ncomments;
    v->comments = d->comments;
    v->from_legacy = strcmp(d->format, "profile.proto") != 0;
    v->nfunctions = d->nfuncs;
    v->functions = d->funcs;
    v->nmappings = d->nmaps;
    v->mappings = calloc(d->nmaps + 1, sizeof *v->mappings);
    for (size_t i = 0; i < d->nmaps; i++) {
        const pf_dmapping *m = &d->maps[i];
        v->mappings[i] = (pv_mapping){m->id, m->start, m->limit, m->offset, m->file,
                                      m->build_id, m->has_functions, m->has_filenames,
                                      m->has_lines, m->has_inline};
    }
    v->lines = calloc(d->nlines + 1, sizeof *v->lines);
    for (size_t i = 0; i < d->nlines; i++)
        v->lines[i] = (pv_line){&d->funcs[d->lines[i].func], d->lines[i].line};
    v->nlocations = d->nlocs;
    v->locations = calloc(d->nlocs + 1, sizeof *v->locations);
    for (size_t i = 0; i < d->nlocs; i++) {
        const pf_dlocation *l = &d->locs[i];
        v->locations[i] = (pv_location){l->id, l->address,
                                        l->mapping ? &v->mappings[l->mapping - 1] : NULL,
                                        l->nlines, &v->lines[l->line0]};
    }
    v->stack = calloc(d->nstack + 1, sizeof *v->stack);
    for (size_t i = 0; i < d->nstack; i++)
        v->stack[i] = &v->locations[d->stack[i]];
    v->nsamples = d->nsamples;
    v->samples = calloc(d->nsamples + 1, sizeof *v->samples);
    for (size_t i = 0; i < d->nsamples; i++) {
        const pf_dsample *s = &d->samples[i];
        v->samples[i] = (pv_sample){s->nlocs, &v->stack[s->loc0], &d->values[i * d->ntypes],
                                    s->nlabels, d->labels ? &d->labels[s->label0] : NULL};
    }
    return v;
}

/* Index of the sample type named exactly `type`, or -1. */
static inline int pv_type_index(const pv_decoded *v, const char *type)
{
    for (size_t i = 0; type != NULL && i < v->nsample_types; i++) {
        if (strcmp(v->sample_types[i].type, type) == 0)
            return (int)i;
    }
    return -1;
}

#endif
