/*
 * plugin/core/settings.h - the profiler's config section (profiler.*),
 * copied out of a tk_config and checked, and the host handle every part
 * logs through. The bottom of the plugin: it includes nothing of it but
 * core/auth.h.
 *
 * Threads: read on the host's lifecycle thread; HTTP handlers read only
 * their request's own copy (http.h: prof_request.settings).
 */
#ifndef TAKHIN_PLUGIN_SETTINGS_H
#define TAKHIN_PLUGIN_SETTINGS_H

#include "takhin/plugin.h"

#include "core/auth.h"
#include "core/keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_VERSION "0.1.0"

/* profiler.cpu_sampler (see capture/sampler.h). */
typedef enum prof_sampler_mode {
    PROF_SAMPLER_AUTO,         /* the best that can be had: windowed, thread_timer, gperftools */
    PROF_SAMPLER_PERF,
    PROF_SAMPLER_THREAD_TIMER,
    PROF_SAMPLER_GPERFTOOLS,
    PROF_SAMPLER_WINDOWED,     /* perf events in short windows (issue 24) */
} prof_sampler_mode;

/* "auto", "perf", "thread_timer", "gperftools", "windowed". */
const char *prof_sampler_mode_name(prof_sampler_mode mode);
/* 0, or -1 for a name that is none of those. */
int prof_sampler_mode_parse(const char *name, prof_sampler_mode *out);

/* Upper bound of profiler.cpu_hz. The perf sampler delivers it; timers
 * are driven by the kernel tick (250 Hz on Debian's kernels), so with
 * them the rate achieved may be lower. The profile records the rate
 * achieved. */
#define PROF_MAX_CPU_HZ 1000

/* The plugin's config section, copied out of a tk_config. */
typedef struct prof_settings {
    bool enabled;
    char host[64];
    int port;
    int cpu_hz;
    prof_sampler_mode cpu_sampler; /* as configured; AUTO resolved at enable */
    int max_cpu_readers;
    int wall_hz;          /* /debug/pprof/wall (capture/wall.h) */
    int max_wall_readers;
    long max_duration; /* seconds */
    long heap_sample_bytes;
    long mutex_fraction;
    int64_t block_rate; /* ns */
    char token[PROF_TOKEN_MAX]; /* "" = no authentication */
    bool allow_unauthenticated_remote;
    /* TLS on the public port (front.c, tls.h): PEM files, "" unset. TLS is
     * on with cert and key; client_ca asks every client for a certificate
     * of that CA (mTLS), which counts as authentication. */
    char tls_cert[1024], tls_key[1024], tls_client_ca[1024];
    int max_requests, max_queued, max_header_bytes, request_timeout_ms;
    int header_timeout_ms, max_conns_per_peer, max_conns; /* the front's (front.h) */
    long label_max_series;  /* profiler.labels.max_series (core/context.h) */
    bool label_cpu_metrics; /* profiler.labels.cpu_metrics */
    char debug_dirs[4096]; /* extra debug roots for the symbolizer, "" none */
    bool serve_binaries;   /* /debug/pprof/buildid/ (profiles/buildid.h) */
    /* profiler.flight_recorder.* (profiles/flight.h) */
    long flight_seconds;   /* 0: off */
    int64_t flight_max_bytes;
    long flight_bucket_seconds;
    bool flight_wall;
} prof_settings;

#define PROF_FLIGHT_MAX_SECONDS 3600

extern const tk_config_key prof_config_keys[];

/* Copies the `profiler` section into *out (reading auth.token_file).
 * 0, or -1 with err. */
int prof_settings_read(const tk_host_api *api, const tk_config *cfg, prof_settings *out,
                       char *err, size_t errlen);
/* Checks what no single key can: the TLS files (each readable, PEM, the
 * key the certificate's), and safe binding when `serving` with these
 * settings (a token or mTLS off loopback). 0, or -1 with err. */
int prof_settings_check(const prof_settings *s, bool serving, char *err, size_t errlen);
/* TLS is configured (tls.cert or tls.key set). */
bool prof_settings_tls(const prof_settings *s);

/* The keys that differ between a and b, as "port, max_requests" ("" for
 * none), in buf of len bytes. Listener keys (host, port, max_requests,
 * max_queued, max_header_bytes, the timeouts and caps, tls.*) take a new
 * listener;
 * live keys (auth.token, max_duration, cpu_hz, wall_hz, max_wall_readers,
 * debug_dirs, serve_binaries,
 * allow_unauthenticated_remote) apply to the next request. `enabled`,
 * heap_sample_bytes and the contention rates (sampling that runs whether
 * or not the HTTP side serves) are neither. Returns the count. */
int prof_settings_listener_changes(const prof_settings *a, const prof_settings *b, char *buf,
                                   size_t len);
int prof_settings_live_changes(const prof_settings *a, const prof_settings *b, char *buf,
                               size_t len);

/* The host, as the plugin sees it: for logging from any thread. */
typedef struct prof_host {
    const tk_host_api *api;
    tk_host *host;
} prof_host;

#define prof_log(ph, level, ...) ((ph)->api->log((ph)->host, (level), __VA_ARGS__))

#endif
