/* /debug/pprof/mutex and /debug/pprof/block: see contention.h. */
#include "profiles/contention.h"

#include "capture/contention.h"

#include <stdio.h>
#include <stdlib.h>

static const pf_value_type cont_types[] = {{"contentions", "count"}, {"delay", "nanoseconds"}};

static prof_contention *of(void *source)
{
    return source;
}

static int collect_mutex(void *source, prof_records *out, char *err, size_t errlen)
{
    return prof_contention_collect(of(source), false, out, err, errlen);
}

static int collect_block(void *source, prof_records *out, char *err, size_t errlen)
{
    return prof_contention_collect(of(source), true, out, err, errlen);
}

static int64_t period_mutex(void *source)
{
    return prof_contention_fraction(of(source));
}

static int64_t period_block(void *source)
{
    return prof_contention_rate(of(source));
}

static long count_mutex(void *source)
{
    return prof_contention_count(of(source), false);
}

static long count_block(void *source)
{
    return prof_contention_count(of(source), true);
}

/* ---- debug=1: Go's legacy text ---- */

static int by_delay(const void *a, const void *b)
{
    int64_t x = (*(const prof_record *const *)a)->values[1];
    int64_t y = (*(const prof_record *const *)b)->values[1];
    return x < y ? 1 : x > y ? -1 : 0;
}

static void text_record(pf_strbuf *sb, pf_symbolizer *sym, const prof_record *r)
{
    pf_strbuf_printf(sb, "%lld %lld @", (long long)r->values[1], (long long)r->values[0]);
    for (size_t i = 0; i < r->depth; i++)
        pf_strbuf_printf(sb, " %#lx", (unsigned long)r->pcs[i]);
    pf_strbuf_printf(sb, "\n");
    prof_named_text_frames(sb, sym, r->pcs, r->depth, PF_PCS_ALL_RETURN,
                           PROF_TEXT_DEBUG1);
    pf_strbuf_printf(sb, "\n");
}

/* The header, then records by delay, largest first (as Go sorts). */
static int write_text(pf_symbolizer *sym, const prof_records *recs, uint64_t dropped,
                      const char *header, pf_strbuf *out, char *err, size_t errlen)
{
    pf_strbuf_printf(out, "%s", header);
    if (dropped > 0)
        pf_strbuf_printf(out, "# %llu events not recorded: the profile holds %d stacks at most\n",
                  (unsigned long long)dropped, PROF_CONTENTION_MAX_STACKS);
    const prof_record **order = malloc((recs->len ? recs->len : 1) * sizeof *order);
    if (order == NULL) {
        snprintf(err, errlen, "out of memory writing the profile");
        return 500;
    }
    for (size_t i = 0; i < recs->len; i++)
        order[i] = &recs->rec[i];
    qsort(order, recs->len, sizeof *order, by_delay);
    for (size_t i = 0; i < recs->len; i++)
        if (order[i]->values[0] != 0 || order[i]->values[1] != 0)
            text_record(out, sym, order[i]);
    free(order);
    return 0;
}

static int text_mutex(void *source, pf_symbolizer *sym, const prof_records *recs, int debug,
                      pf_strbuf *out, char *err, size_t errlen)
{
    (void)debug;
    char header[320];
    long fraction = prof_contention_fraction(of(source));
    int n = snprintf(header, sizeof header, "--- mutex:\ncycles/second=1000000000\n"
                     "sampling period=%ld\n", fraction);
    if (fraction == 0)
        snprintf(header + n, sizeof header - (size_t)n, "# sampling is off: set "
                 "profiler.mutex_fraction or run `takhin-admin profiler set mutex_fraction 5`\n");
    return write_text(sym, recs, prof_contention_dropped(of(source), false), header, out, err,
                      errlen);
}

static int text_block(void *source, pf_symbolizer *sym, const prof_records *recs, int debug,
                      pf_strbuf *out, char *err, size_t errlen)
{
    (void)debug;
    char header[320];
    int64_t rate = prof_contention_rate(of(source));
    int n = snprintf(header, sizeof header, "--- contention:\ncycles/second=1000000000\n");
    if (rate == 0)
        snprintf(header + n, sizeof header - (size_t)n, "# sampling is off: set "
                 "profiler.block_rate or run `takhin-admin profiler set block_rate 10000`\n");
    else
        snprintf(header + n, sizeof header - (size_t)n, "# block_rate=%lld ns\n",
                 (long long)rate);
    return write_text(sym, recs, prof_contention_dropped(of(source), true), header, out, err,
                      errlen);
}

const prof_kind prof_mutex_kind = {
    .name = "mutex",
    .types = cont_types,
    .nvalues = 2,
    .default_type = NULL,
    .period_type = {"contentions", "count"},
    .pc_mode = PF_PCS_ALL_RETURN,
    .delta = true,
    .collect = collect_mutex,
    .period = period_mutex,
    .text = text_mutex,
    .count = count_mutex,
};

const prof_kind prof_block_kind = {
    .name = "block",
    .types = cont_types,
    .nvalues = 2,
    .default_type = NULL,
    .period_type = {"contentions", "count"},
    .pc_mode = PF_PCS_ALL_RETURN,
    .delta = true,
    .collect = collect_block,
    .period = period_block,
    .text = text_block,
    .count = count_block,
};
