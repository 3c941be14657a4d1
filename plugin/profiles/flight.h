/*
 * plugin/profiles/flight.h - the flight recorder (profiler.flight_recorder.*):
 * the CPU profile (and, with .wall, the wall profile) of the recent past,
 * for /debug/pprof/profile?past=N and /debug/pprof/wall?past=N.
 *
 * Design. While the profiler serves with flight_recorder.seconds > 0, one
 * thread ("takhin-flight") holds a CPU window (capture/cpu.h: a reader of
 * the sampler like push's, not counted against max_cpu_readers) and
 * rotates it every bucket_seconds: each ended window is a bucket, a
 * pf_profile in which identical stacks with identical labels (thread,
 * thread_id, the request context) are already merged, with its real
 * times and counts. The ring keeps the buckets oldest first. A read
 * merges the buckets that overlap the window asked for, and a copy of the
 * bucket under way, into one profile (pf_profile_merge), encoded as a
 * regular CPU profile.
 *
 * Memory bound: the ring's bytes are the sum of pf_profile_bytes of its
 * buckets (exact capacities of their arrays, tables and arenas) plus the
 * bucket under way. max_bytes is never exceeded: the bucket under way is
 * capped (prof_cpu_window_cap: a sample that could take it past the cap
 * is dropped and counted) at max_bytes minus the stored buckets, and
 * once a second the oldest buckets are evicted until the one under way
 * has room to grow three times over (what a doubling array may take
 * while realloc copies). Buckets older than seconds are evicted too.
 *
 * Ownership: prof_flight from init to fini (profiler.c); its rings and
 * windows between set (seconds > 0, serving) and set off. Threads: set
 * from the lifecycle thread; read and status from any thread.
 */
#ifndef TAKHIN_PLUGIN_PROFILES_FLIGHT_H
#define TAKHIN_PLUGIN_PROFILES_FLIGHT_H

#include "capture/cpu.h"
#include "capture/wall.h"
#include "core/settings.h"
#include "http/http.h"

#include "pf_profile.h"
#include "pf_util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the ring (one per kind: CPU, wall) ---- */

/* One bucket: the profile of [from_ns, until_ns) (CLOCK_REALTIME). */
typedef struct prof_flight_bucket {
    pf_profile *profile; /* owned by the ring */
    int64_t from_ns, until_ns;
    size_t bytes;        /* pf_profile_bytes(profile) */
    uint64_t signals;    /* samples taken */
    uint64_t samples;    /* samples/count: CPU time in periods */
    double cpu_seconds;  /* CPU time the process used meanwhile */
    uint64_t lost;       /* lost in the sampler (its ring was full) */
    uint64_t dropped;    /* left out to stay under max_bytes */
} prof_flight_bucket;

/* The buckets, oldest first. Zero-initialized: empty. One thread at a
 * time (the recorder's lock). */
typedef struct prof_flight_ring {
    prof_flight_bucket *b;
    size_t len, cap;
    size_t bytes;        /* the sum of the buckets' bytes */
    uint64_t evicted;    /* buckets evicted for max_bytes (not for age) */
} prof_flight_ring;

/* Appends b (the ring owns its profile from then, also on failure). 0, or
 * -1 when out of memory (the bucket is freed). */
int prof_flight_ring_push(prof_flight_ring *r, const prof_flight_bucket *b);
/* Evicts the oldest buckets while the ring holds more than max_bytes, and
 * those that ended before oldest_ns. */
void prof_flight_ring_fit(prof_flight_ring *r, size_t max_bytes, int64_t oldest_ns);
void prof_flight_ring_clear(prof_flight_ring *r);

/* What a merge covered. */
typedef struct prof_flight_span {
    int64_t from_ns, until_ns; /* the real window: first bucket's start to last's end */
    size_t buckets;
    uint64_t signals, samples, lost, dropped;
    double cpu_seconds;
    size_t dropped_buckets; /* buckets in the window with lost or dropped samples */
} prof_flight_span;

/* Merges the buckets that overlap [from_ns, +inf) into dst (its sample
 * types), adding to *span. 0, or -1 with err. */
int prof_flight_ring_merge(const prof_flight_ring *r, int64_t from_ns, pf_profile *dst,
                           prof_flight_span *span, char *err, size_t errlen);
/* Adds one bucket (not in a ring) to a merge the same way. */
int prof_flight_merge_bucket(const prof_flight_bucket *b, pf_profile *dst,
                             prof_flight_span *span, char *err, size_t errlen);

/* ---- the recorder ---- */

typedef struct prof_flight prof_flight;

prof_flight *prof_flight_new(const prof_host *ph, prof_cpu *cpu, prof_wall *wall);
/* Stops the recorder first. NULL is fine. */
void prof_flight_free(prof_flight *f);

/* Applies the settings: records while `on` (serving) and s's seconds > 0;
 * a running recorder keeps what fits the new bounds; off frees the
 * rings. A recorder that cannot start is logged and its status says why.
 * From the lifecycle thread. */
void prof_flight_set(prof_flight *f, const prof_settings *s, bool on);

typedef enum prof_flight_kind { PROF_FLIGHT_CPU, PROF_FLIGHT_WALL } prof_flight_kind;

/* Whether the kind holds `past` seconds: 0, or 400 with err naming how
 * much it holds, or the key to set when it records none. *held is the
 * whole seconds held (0 when off), in every case. */
int prof_flight_check(prof_flight *f, prof_flight_kind kind, long past, long *held, char *err,
                      size_t errlen);
/* The profile since from_ns (CLOCK_REALTIME): the buckets that overlap
 * it and a copy of the bucket under way. 0 with *out (the caller's: add
 * mappings and comments, encode, free) and *span; or the HTTP status
 * (400 when it records nothing, 500 out of memory) with err. *held as
 * for check. */
int prof_flight_read(prof_flight *f, prof_flight_kind kind, int64_t from_ns, pf_profile **out,
                     prof_flight_span *span, long *held, char *err, size_t errlen);

/* How an endpoint answers with what its ring held: p (its own from then:
 * add mappings and comments, encode, free), the span it covers, and
 * hdr, the X-Takhin-Past-Available header line to send with it. */
typedef void (*prof_flight_answer)(prof_request *req, pf_profile *p,
                                   const prof_flight_span *span, const char *hdr);

/* ?past=N[&seconds=M] on an endpoint of that kind: false without past
 * (the caller serves as usual); else true, answered: a 400 naming how
 * much the ring holds or the key to set, or after M seconds the last
 * N + M seconds through `answer`. */
bool prof_flight_serve(prof_request *req, prof_flight *f, prof_flight_kind kind,
                       prof_flight_answer answer);

/* A comment for a profile read from the ring: buckets merged, drops. */
void prof_flight_describe(const prof_flight_span *span, char *buf, size_t len);

/* ",\"flight_recorder\":{...}" for the status JSON, into out. */
void prof_flight_status_json(prof_flight *f, pf_strbuf *out);
/* Its /metrics lines (span, bytes, buckets, drops). */
void prof_flight_render_metrics(prof_flight *f, pf_strbuf *out);

#endif
