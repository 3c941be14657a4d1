/*
 * plugin/profiles/push.h - pushing profiles to Grafana Pyroscope's /ingest, from
 * the plugin (profiler.push.*).
 *
 * What goes out: every profiler.push.interval, one POST /ingest per type
 * with name=<service_name>{labels}, from, until (Unix seconds) and a
 * gzipped profile.proto, as a raw body with format=pprof (or, with
 * push.multipart, a multipart `profile` field without format):
 *   cpu        the CPU sampler's window since the last push (one more
 *              reader of the running sampler, cpu.h), back to back
 *   allocs     alloc_objects/alloc_space over the window: the plugin's own
 *   mutex      delta (Pyroscope 2.0 computes none; /ingest labels every
 *   block      pprof __delta__="false"); mutex and block as mutex_count,
 *              mutex_duration, block_count, block_duration (the names
 *              pyroscope-go gives them, from which Pyroscope derives the
 *              profile's type)
 *   heap       inuse_objects/inuse_space now
 *   goroutine  goroutines/count now (one sample per thread)
 * Each profile keeps within Pyroscope's default limits, 16,000 samples and
 * 4 MiB uncompressed: beyond them the smallest stacks are pruned, which a
 * comment in the profile and takhin_profiler_push_pruned_samples_total say.
 *
 * Threads: a collector (windows, deltas, encoding into the queue) and a
 * sender (libcurl multi, interruptible) of their own, so a slow or absent
 * server costs the host nothing but the queue (push.max_queue_bytes; full,
 * it drops the oldest profiles, counted). Failures: 5xx, 408, 429 and
 * transport errors are retried with exponential backoff and jitter (0.5 s
 * doubling to 30 s, at most PROF_PUSH_MAX_TRIES tries); other 4xx are not,
 * and the server's message is logged at most once a minute.
 *
 * Lifecycle: the profiler's lifecycle and admin threads call start, stop
 * and the status/metrics readers. stop returns within 100 ms even with a
 * hung server: threads that have not ended by then are joined at the next
 * start or at free.
 */
#ifndef TAKHIN_PLUGIN_PUSH_H
#define TAKHIN_PLUGIN_PUSH_H

#include "capture/contention.h"
#include "capture/cpu.h"
#include "capture/wall.h"
#include "core/push_settings.h"
#include "core/settings.h"
#include "pf_symbolize.h"
#include "pf_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct prof_push prof_push;

/* What the push reads its profiles from (the profiles' own sources). */
typedef struct prof_push_sources {
    const prof_host *ph;
    pf_symbolizer *sym;
    prof_cpu *cpu;                /* CPU windows */
    prof_contention *contention;  /* mutex and block */
    prof_wall *wall;              /* wall windows */
} prof_push_sources;

/* The push state of the plugin's life (figures, status); NULL when out
 * of memory. The sources must outlive it. */
prof_push *prof_push_new(const prof_push_sources *src);
/* The CPU windows' rate from the next window on (profiler.cpu_hz). */
void prof_push_set_cpu_hz(prof_push *pp, int hz);
/* The wall windows' rate (profiler.wall_hz), from the next push start. */
void prof_push_set_wall_hz(prof_push *pp, int hz);
/* Stops (waiting for every thread) and frees. NULL is fine. */
void prof_push_free(prof_push *pp);

/* Starts pushing with s (stopping a push that runs). Nothing when !s->on.
 * 0, or -1 with err (the state says it too). */
int prof_push_start(prof_push *pp, const prof_push_settings *s, char *err, size_t errlen);
/* Stops pushing; queued profiles are dropped (counted). Returns the time
 * it took in ms (under 100). */
double prof_push_stop(prof_push *pp);
bool prof_push_running(prof_push *pp);

/* "push":{...} for profiler status (JSON, no secret). */
void prof_push_status_json(prof_push *pp, pf_strbuf *out);
/* The push metrics, Prometheus text. */
void prof_push_render_metrics(prof_push *pp, pf_strbuf *out);

/* ---- for tests ---- */
/* 1 for a retryable status (5xx, 408, 429, or 0: no answer). */
bool prof_push_retryable(long status);
/* The delay before try n (1-based) in ms, with jitter from rnd in [0,1). */
long prof_push_backoff_ms(int tries, double rnd);
/* The delay before a retry in ms: backoff_ms, or, when a 429 or 503 said
 * Retry-After (retry_after_s > 0, what libcurl made of seconds or an HTTP
 * date), that, capped by max_ms (push.max_retry_after; 0: ignored). */
long prof_push_retry_wait_ms(long status, long long retry_after_s, long backoff_ms, long max_ms);

#endif
