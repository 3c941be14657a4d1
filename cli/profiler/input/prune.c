/*
 * prune.c - pprof's RemoveUninteresting (profile/prune.go): a profile may
 * name, in drop_frames, frames that are artifacts of the measurement
 * (allocator internals in heap profiles, the profiler's signal handler in
 * CPU profiles); those frames and everything on the leaf side of them are
 * removed, unless keep_frames also matches. The regular expressions are
 * RE2 in pprof; POSIX extended ones here, the same for the usual lists.
 */
#include "input/cli_prof.h"
#include "util/cli.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

enum { PRUNE = 1, BENEATH = 2 };

/* pprof's simplifyFunc: drops a leading '.' and the argument list, but not
 * the parentheses of "(anonymous namespace)" and "operator()". */
static char *simplify(const char *name)
{
    if (name[0] == '.')
        name++;
    size_t i = 0;
    while (name[i] != '\0') {
        if (strncmp(name + i, "(anonymous namespace)", 21) == 0)
            i += 21;
        else if (strncmp(name + i, "operator()", 10) == 0)
            i += 10;
        else if (name[i] == '(')
            break;
        else
            i++;
    }
    return strndup(name, i);
}

static bool compile(regex_t *rx, const char *expr)
{
    size_t n = strlen(expr) + 8;
    char *full = malloc(n);
    if (full == NULL)
        return false;
    snprintf(full, n, "^(%s)$", expr);
    bool ok = regcomp(rx, full, REG_EXTENDED | REG_NOSUB) == 0;
    free(full);
    return ok;
}

/* Flags for one location; trims its inlined lines below a match. */
static uint8_t prune_location(pf_decoded *p, pf_dlocation *l, regex_t *drop, regex_t *keep)
{
    int64_t i;
    for (i = (int64_t)l->nlines - 1; i >= 0; i--) {
        const char *name = p->funcs[p->lines[l->line0 + (size_t)i].func].name;
        char *s = name[0] ? simplify(name) : NULL;
        bool match = s != NULL && regexec(drop, s, 0, NULL, 0) == 0 &&
                     (keep == NULL || regexec(keep, s, 0, NULL, 0) != 0);
        free(s);
        if (match)
            break;
    }
    if (i < 0)
        return 0;
    if (i == (int64_t)l->nlines - 1)
        return PRUNE | BENEATH;
    l->line0 += (size_t)i + 1;
    l->nlines -= (uint32_t)i + 1;
    return BENEATH;
}

/* Cuts a sample at the first pruned frame from the root, past a user frame. */
static void prune_sample(pf_decoded *p, pf_dsample *s, const uint8_t *flag)
{
    bool user = false;
    for (int64_t i = (int64_t)s->nlocs - 1; i >= 0; i--) {
        uint8_t f = flag[p->stack[s->loc0 + (size_t)i]];
        if (f == 0) {
            user = true;
            continue;
        }
        if (!user)
            continue;
        size_t cut = (size_t)i + ((f & PRUNE) ? 1 : 0);
        s->loc0 += cut;
        s->nlocs -= (uint32_t)cut;
        return;
    }
}

void cli_prof_prune(pf_decoded *p)
{
    if (p->drop_frames[0] == '\0')
        return;
    regex_t drop, keep;
    if (!compile(&drop, p->drop_frames)) {
        cli_note("ignoring drop_frames, not a regular expression here: %.80s", p->drop_frames);
        return;
    }
    bool has_keep = p->keep_frames[0] != '\0' && compile(&keep, p->keep_frames);
    uint8_t *flag = calloc(p->nlocs + 1, 1);
    if (flag != NULL) {
        for (size_t i = 0; i < p->nlocs; i++)
            flag[i] = prune_location(p, &p->locs[i], &drop, has_keep ? &keep : NULL);
        for (size_t i = 0; i < p->nsamples; i++)
            prune_sample(p, &p->samples[i], flag);
    }
    free(flag);
    regfree(&drop);
    if (has_keep)
        regfree(&keep);
}
