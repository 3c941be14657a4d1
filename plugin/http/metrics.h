/*
 * plugin/http/metrics.h - the profiler's own metrics, served at /metrics in the
 * Prometheus text format (behind the same auth as the profiles). Counters
 * run from plugin load; updates are lock-free and any thread may make them.
 */
#ifndef TAKHIN_PLUGIN_METRICS_H
#define TAKHIN_PLUGIN_METRICS_H

#include "core/procstat.h"

#include "pf_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prof_metrics prof_metrics;

/* `names` are the endpoint labels, indexed as the caller reports them;
 * the array must outlive the metrics. */
prof_metrics *prof_metrics_new(const char *const *names, size_t count);
void prof_metrics_free(prof_metrics *m);

/* One finished request. endpoint: an index < count, or count for "other"
 * (unknown paths). `timed`: a profile whose duration goes into the
 * histogram. */
void prof_metrics_request(prof_metrics *m, size_t endpoint, int status, uint64_t bytes,
                          double seconds, bool timed);
void prof_metrics_auth_failure(prof_metrics *m);
/* +1 when a profile starts being served, -1 when it ends. */
void prof_metrics_inflight(prof_metrics *m, int delta);

/* The CPU sampler's figures since the plugin loaded. */
typedef struct prof_cpu_figures {
    const char *sampler;     /* "windowed", "perf", "thread_timer", "gperftools" */
    bool kernel;             /* perf counts kernel time too */
    uint64_t samples;        /* signals the plugin's sampler took (not gperftools) */
    uint64_t lost;           /* dropped: its ring was full */
    uint64_t handler_ns;     /* time in its signal handler */
    double last_achieved_hz; /* of the last CPU profile answered; 0 before */
} prof_cpu_figures;

/* Why the front (front.h) cut a client off before its request was whole. */
typedef enum prof_slow_reason {
    PROF_SLOW_HEADER_TIMEOUT, /* head not in within header_timeout_ms */
    PROF_SLOW_BODY_TIMEOUT,   /* declared body not in within request_timeout_ms */
    PROF_SLOW_PEER_CAP,       /* max_conns_per_peer reached */
    PROF_SLOW_CONN_CAP,       /* max_conns reached */
    PROF_SLOW_REASONS
} prof_slow_reason;
void prof_metrics_slow_client(prof_metrics *m, prof_slow_reason reason);
/* A TLS handshake on the profiler port that failed (front.c). */
void prof_metrics_tls_handshake_failure(prof_metrics *m);

/* Figures other parts keep, read by the caller when /metrics is asked. */
typedef struct prof_metrics_sampled {
    uint64_t trace_dropped_events;
    size_t symbol_modules;       /* objects whose symbols libdw holds now */
    size_t symbol_cache_entries; /* addresses in the symbol cache */
    size_t symbol_cache_bytes;   /* its memory */
    prof_procstat process;       /* process_*: the whole process (procstat.h) */
    prof_tcmalloc_stats tcmalloc; /* takhin_profiler_tcmalloc_*: all absent unless tcmalloc */
    prof_cpu_figures cpu;        /* takhin_profiler_cpu_* */
    /* Metrics of parts above the HTTP layer (the push's
     * takhin_profiler_push_*), appended by this callback; NULL: none. */
    void (*render_more)(void *arg, pf_strbuf *out);
    void *render_more_arg;
    /* More figures of a part go here as a struct of that part, filled by
     * sample_metrics (profiler.c) and written by a render_* block of their
     * own in metrics.c. */
} prof_metrics_sampled;

/* Writes every metric. */
void prof_metrics_render(const prof_metrics *m, pf_strbuf *out, bool enabled,
                         const prof_metrics_sampled *sampled);

#endif
