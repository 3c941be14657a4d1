/* /debug/pprof/heap and /debug/pprof/allocs: see profiles/heap.h. */
#include "profiles/heap.h"

#include "capture/heap.h"
#include "capture/unwinder.h"

#include <stdio.h>
#include <stdlib.h>

static long sample_rate(void)
{
    prof_heap_stats st;
    prof_heap_stats_get(&st);
    return st.rate;
}

static int heap_collect(void *source, prof_records *out, char *err, size_t errlen)
{
    (void)source;
    return prof_heap_snapshot(out, true, err, errlen);
}

static int64_t heap_period(void *source)
{
    (void)source;
    return sample_rate();
}

static long heap_count(void *source)
{
    (void)source;
    return prof_heap_stacks();
}

/* ---- debug=1: Go's legacy text ---- */

static int by_inuse_bytes(const void *a, const void *b)
{
    const prof_record *x = *(const prof_record *const *)a, *y = *(const prof_record *const *)b;
    return (x->values[3] < y->values[3]) - (x->values[3] > y->values[3]);
}

static void write_record(pf_symbolizer *sym, const prof_record *r, pf_strbuf *out)
{
    pf_strbuf_printf(out, "%lld: %lld [%lld: %lld] @", (long long)r->values[2],
              (long long)r->values[3], (long long)r->values[0], (long long)r->values[1]);
    for (size_t i = 0; i < r->depth; i++)
        pf_strbuf_printf(out, " %#llx", (unsigned long long)r->pcs[i]);
    pf_strbuf_put(out, "\n", 1);
    prof_named_text_frames(out, sym, r->pcs, r->depth, PF_PCS_ALL_RETURN,
                           PROF_TEXT_DEBUG1);
    pf_strbuf_put(out, "\n", 1);
}

/* The sampler's own figures and tcmalloc's, where Go prints MemStats. */
static void write_trailer(pf_strbuf *out)
{
    prof_heap_stats st;
    prof_heap_stats_get(&st);
    pf_strbuf_printf(out, "\n# heap sampler (takhin profiler)\n# SampleBytes = %ld\n"
              "# Samples = %llu\n# Stacks = %u of at most %d (samples dropped: %llu)\n"
              "# Untracked = %llu (samples left out of in-use: over %d live at once)\n"
              "# Unwinder = %s\n", st.rate, (unsigned long long)st.samples, (unsigned)st.stacks,
              PROF_HEAP_MAX_STACKS, (unsigned long long)st.dropped,
              (unsigned long long)st.untracked, PROF_HEAP_MAX_LIVE, prof_unwind_method());
    static const char *const props[] = {"generic.current_allocated_bytes", "generic.heap_size",
                                        "tcmalloc.pageheap_free_bytes",
                                        "tcmalloc.pageheap_unmapped_bytes"};
    for (size_t i = 0; i < sizeof props / sizeof *props; i++) {
        size_t v = 0;
        if (prof_heap_allocator_property(props[i], &v))
            pf_strbuf_printf(out, "# %s = %zu\n", props[i], v);
    }
}

/* The process's mappings, after gperftools' sentinel: pprof reads a saved
 * debug=1 text with them (MAPPED_LIBRARIES, as gperftools' heap profiles). */
static void write_maps(pf_strbuf *out)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return;
    pf_strbuf_printf(out, "\nMAPPED_LIBRARIES:\n");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        pf_strbuf_put(out, buf, n);
    fclose(f);
}

static void write_text(pf_symbolizer *sym, const prof_records *raw, pf_strbuf *out)
{
    int64_t t[4] = {0};
    const prof_record **order = malloc((raw->len + 1) * sizeof *order);
    if (order == NULL) {
        out->failed = true;
        return;
    }
    for (size_t i = 0; i < raw->len; i++) {
        order[i] = &raw->rec[i];
        for (int v = 0; v < 4; v++)
            t[v] += raw->rec[i].values[v];
    }
    qsort(order, raw->len, sizeof *order, by_inuse_bytes);
    pf_strbuf_printf(out, "heap profile: %lld: %lld [%lld: %lld] @ heap/%ld\n", (long long)t[2],
              (long long)t[3], (long long)t[0], (long long)t[1], 2 * sample_rate());
    for (size_t i = 0; i < raw->len; i++)
        write_record(sym, order[i], out);
    write_trailer(out);
    write_maps(out);
    free(order);
}

/* Re-reads the table for raw counts (recs holds estimates; a text profile
 * is never a delta: named.c refuses seconds with debug). */
static int heap_text(void *source, pf_symbolizer *sym, const prof_records *recs, int debug,
                     pf_strbuf *out, char *err, size_t errlen)
{
    (void)source;
    (void)recs;
    (void)debug;
    prof_records raw;
    prof_records_init(&raw, 4);
    int status = prof_heap_snapshot(&raw, false, err, errlen);
    if (status == 0)
        write_text(sym, &raw, out);
    prof_records_free(&raw);
    return status;
}

/* ---- the two profiles ---- */

static const pf_value_type heap_types[] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

const prof_kind prof_heap_kind = {
    .name = "heap",
    .types = heap_types,
    .nvalues = 4,
    .default_type = "inuse_space",
    .period_type = {"space", "bytes"},
    .pc_mode = PF_PCS_ALL_RETURN,
    .delta = true,
    .collect = heap_collect,
    .period = heap_period,
    .text = heap_text,
    .count = heap_count,
};

const prof_kind prof_heap_allocs_kind = {
    .name = "allocs",
    .types = heap_types,
    .nvalues = 4,
    .default_type = "alloc_space",
    .period_type = {"space", "bytes"},
    .pc_mode = PF_PCS_ALL_RETURN,
    .delta = true,
    .collect = heap_collect,
    .period = heap_period,
    .text = heap_text,
    .count = heap_count,
};
