/*
 * wallstate.c - a wall profile's `state` label as a leaf frame: each
 * sample gets one more frame above its leaf, "(running)" or "(waiting:
 * futex)", so that the flame graph, -top and the folded stacks all show
 * what a thread was doing at the top of each stack. See cli_prof.h.
 */
#include "input/cli_prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATES 256 /* distinct states given a frame; beyond, "(waiting)" */

bool cli_prof_is_wall(const pf_decoded *p)
{
    return strcmp(p->period_type.type, "wall") == 0;
}

static const char *state_of(const pf_decoded *p, const pf_dsample *s)
{
    for (uint32_t i = 0; i < s->nlabels; i++) {
        const pf_dlabel *l = &p->labels[s->label0 + i];
        if (l->str != NULL && strcmp(l->key, "state") == 0)
            return l->str;
    }
    return NULL;
}

/* The location of the frame for `state`, made at its first use. */
static int64_t state_loc(pf_decoded *p, const char *state, const char **names, uint32_t *locs,
                         size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(names[i], state) == 0)
            return locs[i];
    char text[96];
    if (*n == MAX_STATES)
        state = "?";
    snprintf(text, sizeof text, strcmp(state, "running") == 0 ? "(running)" : "(waiting: %s)",
             state);
    const char *name = pf_decoded_str(p, text, SIZE_MAX);
    pf_dfunction f = {.name = name, .system_name = name, .file = ""};
    int64_t fi = name != NULL ? pf_decoded_add_function(p, &f) : -1;
    int64_t line0 = fi >= 0 ? (int64_t)p->nlines : -1;
    if (line0 < 0 || pf_decoded_add_line(p, (uint32_t)fi, 0) < 0)
        return -1;
    pf_dlocation l = {.id = 0, .address = 0, .mapping = 0, .nlines = 1, .line0 = (size_t)line0};
    int64_t li = pf_decoded_add_location(p, &l);
    if (li < 0 || *n == MAX_STATES)
        return li;
    names[*n] = state;
    locs[(*n)++] = (uint32_t)li;
    return li;
}

int cli_prof_wall_states(pf_decoded *p)
{
    const char *names[MAX_STATES];
    uint32_t slocs[MAX_STATES];
    size_t nstates = 0, n = p->nsamples, nt = p->ntypes;
    uint32_t *locs = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const pf_dsample s = p->samples[i];
        const char *state = state_of(p, &s);
        int64_t sl = state != NULL ? state_loc(p, state, names, slocs, &nstates) : -1;
        if (pf_grow(&locs, &cap, s.nlocs + 1, sizeof *locs) != 0 || (state != NULL && sl < 0)) {
            rc = -1;
            break;
        }
        size_t k = 0;
        if (sl >= 0)
            locs[k++] = (uint32_t)sl;
        memcpy(locs + k, p->stack + s.loc0, s.nlocs * sizeof *locs);
        /* values may move as samples grow: copy them first */
        int64_t v[16];
        if (nt > 16) {
            rc = -1;
            break;
        }
        memcpy(v, p->values + i * nt, nt * sizeof *v);
        rc = pf_decoded_add_sample(p, locs, k + s.nlocs, v, NULL, 0);
    }
    free(locs);
    if (rc != 0)
        return -1;
    /* Only the new samples stay (their labels are gone: they are folded in). */
    memmove(p->samples, p->samples + n, (p->nsamples - n) * sizeof *p->samples);
    memmove(p->values, p->values + n * nt, (p->nsamples - n) * nt * sizeof *p->values);
    p->nsamples -= n;
    return 0;
}
