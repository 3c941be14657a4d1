/* The profiler's metrics: see metrics.h. */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const int status_codes[] = {200, 400, 401, 403, 404, 405, 409, 413, 500, 501, 503};
#define NSTATUS (sizeof status_codes / sizeof *status_codes + 1) /* + "other" */

static const double buckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300};
#define NBUCKETS (sizeof buckets / sizeof *buckets)

typedef struct endpoint_stats {
    _Atomic uint64_t requests[NSTATUS];
    _Atomic uint64_t bytes;
    _Atomic uint64_t le[NBUCKETS]; /* histogram: counts per upper bound */
    _Atomic uint64_t timed_count;
    _Atomic uint64_t timed_sum_us;
} endpoint_stats;

struct prof_metrics {
    const char *const *names;
    size_t count;
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t slow_clients[PROF_SLOW_REASONS];
    _Atomic uint64_t tls_handshake_failures;
    _Atomic long inflight;
    endpoint_stats ep[]; /* count + 1: the last is "other" */
};

prof_metrics *prof_metrics_new(const char *const *names, size_t count)
{
    prof_metrics *m = calloc(1, sizeof *m + (count + 1) * sizeof(endpoint_stats));
    if (m != NULL) {
        m->names = names;
        m->count = count;
    }
    return m;
}

void prof_metrics_free(prof_metrics *m)
{
    free(m);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (status_codes[i] == status)
            return i;
    return NSTATUS - 1;
}

void prof_metrics_request(prof_metrics *m, size_t endpoint, int status, uint64_t bytes,
                          double seconds, bool timed)
{
    endpoint_stats *e = &m->ep[endpoint < m->count ? endpoint : m->count];
    atomic_fetch_add(&e->requests[status_index(status)], 1);
    atomic_fetch_add(&e->bytes, bytes);
    if (!timed || status != 200)
        return;
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= buckets[b])
            atomic_fetch_add(&e->le[b], 1);
    atomic_fetch_add(&e->timed_count, 1);
    atomic_fetch_add(&e->timed_sum_us, (uint64_t)(seconds * 1e6));
}

void prof_metrics_auth_failure(prof_metrics *m)
{
    atomic_fetch_add(&m->auth_failures, 1);
}

void prof_metrics_inflight(prof_metrics *m, int delta)
{
    atomic_fetch_add(&m->inflight, delta);
}

void prof_metrics_slow_client(prof_metrics *m, prof_slow_reason reason)
{
    if (reason < PROF_SLOW_REASONS)
        atomic_fetch_add(&m->slow_clients[reason], 1);
}

void prof_metrics_tls_handshake_failure(prof_metrics *m)
{
    atomic_fetch_add(&m->tls_handshake_failures, 1);
}

static void render_slow_clients(const prof_metrics *m, pf_strbuf *out)
{
    static const char *const names[PROF_SLOW_REASONS] = {"header_timeout", "body_timeout",
                                                         "peer_cap", "conn_cap"};
    pf_strbuf_printf(out, "# HELP takhin_profiler_slow_clients_total Clients cut off before their "
                   "request was complete, by reason.\n"
                   "# TYPE takhin_profiler_slow_clients_total counter\n");
    for (int r = 0; r < PROF_SLOW_REASONS; r++)
        pf_strbuf_printf(out, "takhin_profiler_slow_clients_total{reason=\"%s\"} %llu\n", names[r],
                  (unsigned long long)atomic_load(&m->slow_clients[r]));
    pf_strbuf_printf(out, "# HELP takhin_profiler_tls_handshake_failures_total TLS handshakes on the "
                   "profiler port that failed: plain HTTP, an untrusted or missing client "
                   "certificate, no common protocol.\n"
                   "# TYPE takhin_profiler_tls_handshake_failures_total counter\n"
                   "takhin_profiler_tls_handshake_failures_total %llu\n",
              (unsigned long long)atomic_load(&m->tls_handshake_failures));
}

static const char *label(const prof_metrics *m, size_t i)
{
    if (i == m->count)
        return "other";
    return m->names[i][0] ? m->names[i] : "index";
}

static void render_requests(const prof_metrics *m, pf_strbuf *out)
{
    pf_strbuf_printf(out, "# HELP takhin_profiler_requests_total HTTP requests by endpoint and status.\n"
                   "# TYPE takhin_profiler_requests_total counter\n");
    for (size_t i = 0; i <= m->count; i++)
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t n = atomic_load(&m->ep[i].requests[s]);
            if (n == 0)
                continue;
            char code[8] = "other";
            if (s < NSTATUS - 1)
                snprintf(code, sizeof code, "%d", status_codes[s]);
            pf_strbuf_printf(out, "takhin_profiler_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
                      label(m, i), code, (unsigned long long)n);
        }
    pf_strbuf_printf(out, "# HELP takhin_profiler_response_bytes_total Bytes of responses served.\n"
                   "# TYPE takhin_profiler_response_bytes_total counter\n");
    for (size_t i = 0; i <= m->count; i++)
        pf_strbuf_printf(out, "takhin_profiler_response_bytes_total{endpoint=\"%s\"} %llu\n",
                  label(m, i), (unsigned long long)atomic_load(&m->ep[i].bytes));
}

static void render_histogram(const prof_metrics *m, pf_strbuf *out)
{
    pf_strbuf_printf(out, "# HELP takhin_profiler_profile_duration_seconds Time to serve a profile.\n"
                   "# TYPE takhin_profiler_profile_duration_seconds histogram\n");
    for (size_t i = 0; i < m->count; i++) {
        const endpoint_stats *e = &m->ep[i];
        uint64_t total = atomic_load(&e->timed_count);
        if (total == 0)
            continue;
        for (size_t b = 0; b < NBUCKETS; b++)
            pf_strbuf_printf(out, "takhin_profiler_profile_duration_seconds_bucket{endpoint=\"%s\","
                           "le=\"%g\"} %llu\n", label(m, i), buckets[b],
                      (unsigned long long)atomic_load(&e->le[b]));
        pf_strbuf_printf(out, "takhin_profiler_profile_duration_seconds_bucket{endpoint=\"%s\","
                       "le=\"+Inf\"} %llu\n", label(m, i), (unsigned long long)total);
        pf_strbuf_printf(out, "takhin_profiler_profile_duration_seconds_sum{endpoint=\"%s\"} %.6f\n",
                  label(m, i), (double)atomic_load(&e->timed_sum_us) / 1e6);
        pf_strbuf_printf(out, "takhin_profiler_profile_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                  label(m, i), (unsigned long long)total);
    }
}

static void render_sampled(const prof_metrics_sampled *v, pf_strbuf *out)
{
    pf_strbuf_printf(out,
              "# HELP takhin_profiler_trace_dropped_events_total Trace events dropped because "
              "a thread's buffer was full.\n"
              "# TYPE takhin_profiler_trace_dropped_events_total counter\n"
              "takhin_profiler_trace_dropped_events_total %llu\n"
              "# HELP takhin_profiler_symbol_modules Loaded objects whose symbols the "
              "symbolizer has opened.\n"
              "# TYPE takhin_profiler_symbol_modules gauge\n"
              "takhin_profiler_symbol_modules %zu\n"
              "# HELP takhin_profiler_symbol_cache_entries Addresses in the symbol cache.\n"
              "# TYPE takhin_profiler_symbol_cache_entries gauge\n"
              "takhin_profiler_symbol_cache_entries %zu\n"
              "# HELP takhin_profiler_symbol_cache_bytes Memory of the symbol cache "
              "(at most 8 MiB).\n"
              "# TYPE takhin_profiler_symbol_cache_bytes gauge\n"
              "takhin_profiler_symbol_cache_bytes %zu\n",
              (unsigned long long)v->trace_dropped_events, v->symbol_modules,
              v->symbol_cache_entries, v->symbol_cache_bytes);
}

/* One gauge or counter without labels, its HELP and TYPE first. */
static void render_one(pf_strbuf *out, const char *name, const char *type, const char *help,
                       const char *fmt_value, ...) __attribute__((format(printf, 5, 6)));
static void render_one(pf_strbuf *out, const char *name, const char *type, const char *help,
                       const char *fmt_value, ...)
{
    char value[64];
    va_list ap;
    va_start(ap, fmt_value);
    vsnprintf(value, sizeof value, fmt_value, ap);
    va_end(ap);
    pf_strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, value);
}

/* The process collector of the Prometheus client libraries: the same
 * names, types and HELP, so dashboards made for them work unchanged. */
static void render_process(const prof_procstat *p, pf_strbuf *out)
{
    if (p->has_cpu)
        render_one(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", "%.6f", p->cpu_seconds);
    if (p->has_fds)
        render_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", "%llu",
                   (unsigned long long)p->open_fds);
    if (p->has_max_fds)
        render_one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   "%llu", (unsigned long long)p->max_fds);
    if (p->has_stat) {
        render_one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                   "%llu", (unsigned long long)p->virtual_bytes);
        render_one(out, "process_resident_memory_bytes", "gauge",
                   "Resident memory size in bytes.", "%llu",
                   (unsigned long long)p->resident_bytes);
        render_one(out, "process_threads", "gauge", "Number of OS threads in the process.",
                   "%lld", (long long)p->threads);
    }
    if (p->has_start)
        render_one(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.", "%.2f",
                   p->start_time_seconds);
}

/* tcmalloc's own account of the heap; nothing under another allocator. */
static void render_tcmalloc(const prof_tcmalloc_stats *t, pf_strbuf *out)
{
    if (t->has_allocated)
        render_one(out, "takhin_profiler_tcmalloc_allocated_bytes", "gauge",
                   "Bytes the application has allocated and not freed (tcmalloc "
                   "generic.current_allocated_bytes).", "%llu",
                   (unsigned long long)t->allocated_bytes);
    if (t->has_heap_size)
        render_one(out, "takhin_profiler_tcmalloc_heap_size_bytes", "gauge",
                   "Bytes of tcmalloc's heap: allocated, fragmentation and free pages, "
                   "mapped or not (tcmalloc generic.heap_size).", "%llu",
                   (unsigned long long)t->heap_size_bytes);
    if (t->has_pageheap_free)
        render_one(out, "takhin_profiler_tcmalloc_pageheap_free_bytes", "gauge",
                   "Free bytes in tcmalloc's page heap, still mapped "
                   "(tcmalloc.pageheap_free_bytes).", "%llu",
                   (unsigned long long)t->pageheap_free_bytes);
    if (t->has_pageheap_unmapped)
        render_one(out, "takhin_profiler_tcmalloc_pageheap_unmapped_bytes", "gauge",
                   "Free bytes in tcmalloc's page heap returned to the system "
                   "(tcmalloc.pageheap_unmapped_bytes).", "%llu",
                   (unsigned long long)t->pageheap_unmapped_bytes);
}

/* The CPU sampler: which one, and what it took. */
static void render_cpu(const prof_cpu_figures *c, pf_strbuf *out)
{
    if (c->sampler == NULL)
        return;
    pf_strbuf_printf(out, "# HELP takhin_profiler_cpu_sampler_info The CPU sampler in force "
              "(profiler.cpu_sampler resolved) and whether it counts kernel time.\n"
              "# TYPE takhin_profiler_cpu_sampler_info gauge\n"
              "takhin_profiler_cpu_sampler_info{sampler=\"%s\",kernel=\"%s\"} 1\n",
              c->sampler, c->kernel ? "true" : "false");
    render_one(out, "takhin_profiler_cpu_samples_total", "counter",
               "CPU samples (signals) the plugin's sampler took (not gperftools).", "%llu",
               (unsigned long long)c->samples);
    render_one(out, "takhin_profiler_cpu_samples_lost_total", "counter",
               "CPU samples dropped because the sampler's ring was full.", "%llu",
               (unsigned long long)c->lost);
    render_one(out, "takhin_profiler_cpu_sampler_handler_seconds_total", "counter",
               "Time the sampled threads spent in the sampler's signal handler.", "%.9f",
               (double)c->handler_ns / 1e9);
    render_one(out, "takhin_profiler_cpu_rate_achieved_hz", "gauge",
               "Samples (signals) per second of the process's CPU time in the last CPU "
               "profile answered (0 before the first).", "%.1f", c->last_achieved_hz);
}

void prof_metrics_render(const prof_metrics *m, pf_strbuf *out, bool enabled,
                         const prof_metrics_sampled *sampled)
{
    render_requests(m, out);
    render_histogram(m, out);
    pf_strbuf_printf(out,
              "# HELP takhin_profiler_profiles_in_flight Profiles being served now.\n"
              "# TYPE takhin_profiler_profiles_in_flight gauge\n"
              "takhin_profiler_profiles_in_flight %ld\n"
              "# HELP takhin_profiler_enabled 1 while the profiler serves.\n"
              "# TYPE takhin_profiler_enabled gauge\n"
              "takhin_profiler_enabled %d\n"
              "# HELP takhin_profiler_auth_failures_total Requests refused for a missing or "
              "wrong token.\n"
              "# TYPE takhin_profiler_auth_failures_total counter\n"
              "takhin_profiler_auth_failures_total %llu\n",
              atomic_load(&m->inflight), enabled ? 1 : 0,
              (unsigned long long)atomic_load(&m->auth_failures));
    render_slow_clients(m, out);
    render_sampled(sampled, out);
    render_process(&sampled->process, out);
    render_tcmalloc(&sampled->tcmalloc, out);
    render_cpu(&sampled->cpu, out);
    if (sampled->render_more != NULL)
        sampled->render_more(sampled->render_more_arg, out);
}
