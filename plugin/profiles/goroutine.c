/* /debug/pprof/goroutine and its alias threads: see goroutine.h. */
#include "profiles/goroutine.h"

#include "capture/threads.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void describe(const prof_thread *t, char *buf, size_t len)
{
    int sig = prof_threads_signal();
    switch (t->status) {
    case PROF_THREAD_OK:
        snprintf(buf, len, "captured");
        break;
    case PROF_THREAD_BLOCKED:
        snprintf(buf, len, "the thread blocks signal %d (SIGRTMIN+%d)", sig, sig - SIGRTMIN);
        break;
    case PROF_THREAD_PENDING:
        snprintf(buf, len, "signal %d from an earlier capture is still pending there "
                 "(the thread blocks it?)", sig);
        break;
    case PROF_THREAD_NO_ANSWER:
        snprintf(buf, len, "no answer to signal %d within %d ms", sig, PROF_THREADS_TIMEOUT_MS);
        break;
    case PROF_THREAD_NOT_SENT:
        snprintf(buf, len, "signal %d could not be queued (RLIMIT_SIGPENDING reached?)", sig);
        break;
    case PROF_THREAD_OWN_HTTP:
        snprintf(buf, len, "a thread of the profiler's HTTP server, not interrupted "
                 "(a signal would cut its socket waits short)");
        break;
    }
}

static int collect(void *source, prof_records *out, char *err, size_t errlen)
{
    (void)source;
    prof_threads_dump d;
    int rc = prof_threads_capture(&d, false, err, errlen);
    const int64_t one = 1;
    for (size_t i = 0; rc == 0 && i < d.len; i++) {
        const prof_thread *t = &d.thread[i];
        char label[320], why[160];
        const char *thread = t->name[0] ? t->name : "?";
        if (t->status != PROF_THREAD_OK) {
            describe(t, why, sizeof why);
            snprintf(label, sizeof label, "%s (tid %d): no stack, %s", thread, (int)t->tid, why);
            thread = label;
        }
        if (prof_records_add_ctx(out, t->pcs, t->depth, &one, thread, t->ctx) != 0) {
            snprintf(err, errlen, "out of memory for the stacks of %zu threads", d.len);
            rc = 503;
        }
    }
    prof_threads_dump_free(&d);
    return rc;
}

typedef struct group {
    const prof_record *rec;
    int64_t count;
} group;

static int cmp_stack(const prof_record *a, const prof_record *b)
{
    if (a->ctx != b->ctx) /* Go groups by labels too */
        return (uintptr_t)a->ctx < (uintptr_t)b->ctx ? -1 : 1;
    if (a->depth != b->depth)
        return a->depth < b->depth ? -1 : 1;
    for (size_t i = 0; i < a->depth; i++)
        if (a->pcs[i] != b->pcs[i])
            return a->pcs[i] < b->pcs[i] ? -1 : 1;
    return 0;
}

static int cmp_group_stack(const void *a, const void *b)
{
    return cmp_stack(((const group *)a)->rec, ((const group *)b)->rec);
}

static int cmp_group_count(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return cmp_stack(x->rec, y->rec);
}

/* Merges records with the same stack (whatever their thread), most
 * frequent first. Returns the number of groups. */
static size_t group_stacks(const prof_records *recs, group *g)
{
    size_t n = 0;
    for (size_t i = 0; i < recs->len; i++)
        if (recs->rec[i].depth > 0)
            g[n++] = (group){&recs->rec[i], recs->rec[i].values[0]};
    qsort(g, n, sizeof *g, cmp_group_stack);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && cmp_stack(g[m - 1].rec, g[i].rec) == 0)
            g[m - 1].count += g[i].count;
        else
            g[m++] = g[i];
    }
    qsort(g, m, sizeof *g, cmp_group_count);
    return m;
}

/* Go's "goroutine profile: total N" text; threads without a stack are
 * listed in comment lines, which pprof's parser skips. */
static int text_counts(pf_symbolizer *sym, const prof_records *recs, pf_strbuf *sb, char *err,
                       size_t errlen)
{
    group *g = malloc((recs->len ? recs->len : 1) * sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return 503;
    }
    int64_t total = 0;
    for (size_t i = 0; i < recs->len; i++)
        total += recs->rec[i].values[0];
    pf_strbuf_printf(sb, "goroutine profile: total %lld\n", (long long)total);
    for (size_t i = 0; i < recs->len; i++)
        if (recs->rec[i].depth == 0)
            pf_strbuf_printf(sb, "# thread %s\n", recs->rec[i].thread ? recs->rec[i].thread : "?");
    size_t n = group_stacks(recs, g);
    for (size_t i = 0; i < n; i++) {
        const tk_context *c = g[i].rec->ctx;
        pf_strbuf_printf(sb, "%lld @", (long long)g[i].count);
        for (size_t k = 0; k < g[i].rec->depth; k++)
            pf_strbuf_printf(sb, " %#llx", (unsigned long long)g[i].rec->pcs[k]);
        pf_strbuf_printf(sb, "\n");
        for (uint32_t k = 0; c != NULL && k < c->npairs; k++) /* as Go writes labels */
            pf_strbuf_printf(sb, "%s\"%s\":\"%s\"%s", k ? ", " : "# labels: {", c->pairs[k].key,
                             c->pairs[k].value, k + 1 == c->npairs ? "}\n" : "");
        prof_named_text_frames(sb, sym, g[i].rec->pcs, g[i].rec->depth, PF_PCS_LEAF_EXACT,
                               PROF_TEXT_DEBUG1);
        pf_strbuf_printf(sb, "\n");
    }
    free(g);
    return 0;
}

static const char *state_word(char state)
{
    switch (state) {
    case 'R': return "running";
    case 'S': return "sleeping";
    case 'D': return "disk sleep";
    case 'T': return "stopped";
    case 't': return "tracing stop";
    case 'Z': return "zombie";
    case 'X': return "dead";
    case 'I': return "idle";
    default: return "unknown";
    }
}

/* The full dump: a capture of its own, with each thread's state. */
static int text_dump(pf_symbolizer *sym, pf_strbuf *sb, char *err, size_t errlen)
{
    prof_threads_dump d;
    int rc = prof_threads_capture(&d, true, err, errlen);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < d.len; i++) {
        const prof_thread *t = &d.thread[i];
        pf_strbuf_printf(sb, "thread %d [%s, name=%s", (int)t->tid, state_word(t->state),
                  t->name[0] ? t->name : "?");
        for (uint32_t k = 0; t->ctx != NULL && k < t->ctx->npairs; k++)
            pf_strbuf_printf(sb, ", %s=%s", t->ctx->pairs[k].key, t->ctx->pairs[k].value);
        pf_strbuf_printf(sb, "]:\n");
        if (t->status == PROF_THREAD_OK) {
            prof_named_text_frames(sb, sym, t->pcs, t->depth, PF_PCS_LEAF_EXACT,
                                   PROF_TEXT_DEBUG2);
            if (t->truncated)
                pf_strbuf_printf(sb, "...additional frames elided...\n");
        } else {
            char why[160];
            describe(t, why, sizeof why);
            pf_strbuf_printf(sb, "[no stack: %s]\n", why);
        }
        pf_strbuf_printf(sb, "\n");
    }
    prof_threads_dump_free(&d);
    return 0;
}

static int text(void *source, pf_symbolizer *sym, const prof_records *recs, int debug,
                pf_strbuf *out, char *err, size_t errlen)
{
    (void)source;
    if (debug >= 2)
        return text_dump(sym, out, err, errlen);
    return text_counts(sym, recs, out, err, errlen);
}

static long count(void *source)
{
    (void)source;
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    closedir(dir);
    return n;
}

/* ---- endpoints ---- */

static const pf_value_type goroutine_types[] = {{"goroutine", "count"}};

#define THREADS_KIND(kind_name)                                                          \
    {                                                                                    \
        .name = kind_name, .types = goroutine_types, .nvalues = 1, .default_type = NULL, \
        .period_type = {"goroutine", "count"}, .pc_mode = PF_PCS_LEAF_EXACT,             \
        .delta = true, .collect = collect, .period = NULL, .text = text, .count = count, \
    }

const prof_kind prof_threads_goroutine_kind = THREADS_KIND("goroutine");
const prof_kind prof_threads_alias_kind = THREADS_KIND("threads");
