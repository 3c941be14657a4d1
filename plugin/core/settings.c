/* The profiler's config section: schema, copy-out and the checks that
 * need more than one key. */
#include "core/settings.h"

#include "core/push_settings.h"
#include "core/tls.h"

#include <stdio.h>
#include <string.h>

const tk_config_key prof_config_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "false", 0, 0, "serve /debug/pprof/ (off by default)"},
    {"host", TK_CONFIG_HOST, "127.0.0.1", 0, 0, "address to bind (loopback by default)"},
    {"port", TK_CONFIG_INT, "6060", 0, 65535, "TCP port; 0 picks a free one"},
    {"cpu_hz", TK_CONFIG_INT, "100", 1, PROF_MAX_CPU_HZ,
     "CPU sampling rate asked of the kernel (the rate achieved is reported)"},
    {"cpu_sampler", TK_CONFIG_STRING, "auto", 0, 0,
     "CPU sampler: auto, windowed, perf, thread_timer or gperftools (README: CPU sampling)"},
    {"max_cpu_readers", TK_CONFIG_INT, "4", 1, 64,
     "CPU profiles served at once from one sample stream (not gperftools)"},
    {"wall_hz", TK_CONFIG_INT, "20", 1, 200,
     "wall-clock sampling rate of /debug/pprof/wall: every thread, running or not"},
    {"max_wall_readers", TK_CONFIG_INT, "4", 1, 16,
     "wall profiles served at once from one wall sampler"},
    {"max_duration", TK_CONFIG_INT, "120", 1, 3600,
     "longest CPU profile or trace, in seconds"},
    {"mutex_fraction", TK_CONFIG_INT, "0", 0, 1000000000,
     "report 1/N of mutex contention events (Go's SetMutexProfileFraction); 0 = off"},
    {"block_rate", TK_CONFIG_INT, "0", 0, 1000000000000LL,
     "sample one blocking event per N ns blocked (Go's SetBlockProfileRate); 0 = off"},
    {"heap_sample_bytes", TK_CONFIG_INT, "524288", 0, 1 << 30,
     "mean bytes between heap samples; 0 turns heap and allocs profiling off"},
    {"auth.token", TK_CONFIG_STRING, NULL, 0, 0,
     "bearer token every request must carry (or the Basic password); unset: no auth"},
    {"auth.token_file", TK_CONFIG_STRING, NULL, 0, 0, "file whose first line is the token"},
    {"allow_unauthenticated_remote", TK_CONFIG_BOOL, "false", 0, 0,
     "permit a non-loopback host without auth (not recommended)"},
    {"tls.cert", TK_CONFIG_STRING, NULL, 0, 0,
     "PEM certificate (chain) of the profiler port: with tls.key, it serves https only"},
    {"tls.key", TK_CONFIG_STRING, NULL, 0, 0, "PEM private key of tls.cert (mode 600)"},
    {"tls.client_ca", TK_CONFIG_STRING, NULL, 0, 0,
     "PEM CA: every client must present a certificate it signed (mTLS)"},
    {"debug_dirs", TK_CONFIG_STRING, NULL, 0, 0,
     "':'-separated directories searched for separate debug files (DIR/.build-id/xx/"
     "rest.debug, .gnu_debuglink) before /usr/lib/debug; local files only"},
    {"serve_binaries", TK_CONFIG_BOOL, "false", 0, 0,
     "serve the mapped files and their debug files by build ID under "
     "/debug/pprof/buildid/ (debuginfod's scheme)"},
    {"max_requests", TK_CONFIG_INT, "8", 1, 256, "requests served at once (worker threads)"},
    {"max_queued", TK_CONFIG_INT, "16", 1, 4096, "accepted connections waiting for a worker"},
    {"max_header_bytes", TK_CONFIG_INT, "8192", 1024, 1 << 20,
     "largest request line and headers"},
    {"request_timeout_ms", TK_CONFIG_INT, "10000", 100, 600000,
     "time a client has to send a request's body, and to take each write of the answer"},
    {"header_timeout_ms", TK_CONFIG_INT, "2000", 100, 600000,
     "time a client has to send its request line and headers"},
    {"max_conns_per_peer", TK_CONFIG_INT, "16", 1, 65536,
     "connections from one client address still sending their request; the oldest makes room"},
    {"max_conns", TK_CONFIG_INT, "4096", 16, 1000000,
     "connections in all (at most half the fd limit); the oldest unfinished request makes room"},
    {"labels.max_series", TK_CONFIG_INT, "100", 1, 10000,
     "distinct request-context label sets per pushed profile and on /metrics; the rest: other"},
    {"labels.cpu_metrics", TK_CONFIG_BOOL, "false", 0, 0,
     "exact CPU per request context on /metrics (reads the thread CPU clock at each change)"},
    {"flight_recorder.seconds", TK_CONFIG_INT, "0", 0, PROF_FLIGHT_MAX_SECONDS,
     "seconds of CPU profile history kept for ?past=N (0 = off; README: The flight recorder)"},
    {"flight_recorder.max_bytes", TK_CONFIG_INT, "33554432", 1 << 20, 1LL << 34,
     "memory bound of the flight recorder's history, in bytes (oldest buckets go first)"},
    {"flight_recorder.bucket_seconds", TK_CONFIG_INT, "10", 1, 300,
     "the flight recorder's time buckets, in seconds"},
    {"flight_recorder.wall", TK_CONFIG_BOOL, "false", 0, 0,
     "the flight recorder keeps wall profiles too (/debug/pprof/wall?past=N)"},
    PROF_PUSH_CONFIG_KEYS,
    {0},
};

static const char *opt_string(const tk_host_api *api, const tk_config *cfg, const char *key)
{
    const tk_config_value *v = api->config_get(cfg, key);
    return v->set && v->s != NULL ? v->s : "";
}

/* profiler.debug_dirs: absolute directories, ':'-separated. */
static int read_debug_dirs(const tk_host_api *api, const tk_config *cfg, prof_settings *out,
                           char *err, size_t errlen)
{
    const char *dirs = opt_string(api, cfg, "debug_dirs");
    if (strlen(dirs) >= sizeof out->debug_dirs) {
        snprintf(err, errlen, "profiler.debug_dirs: expected at most %zu bytes",
                 sizeof out->debug_dirs - 1);
        return -1;
    }
    for (const char *d = dirs; *d; d += strcspn(d, ":")) {
        d += *d == ':';
        if (*d != '/' && *d != ':' && *d != '\0') {
            snprintf(err, errlen, "profiler.debug_dirs = \"%s\": expected absolute directories "
                     "separated by ':' (e.g. /opt/debug:/srv/symbols)", dirs);
            return -1;
        }
    }
    snprintf(out->debug_dirs, sizeof out->debug_dirs, "%s", dirs);
    return 0;
}

int prof_settings_read(const tk_host_api *api, const tk_config *cfg, prof_settings *out,
                       char *err, size_t errlen)
{
    *out = (prof_settings){
        .enabled = api->config_get(cfg, "enabled")->b,
        .port = (int)api->config_get(cfg, "port")->i,
        .cpu_hz = (int)api->config_get(cfg, "cpu_hz")->i,
        .max_duration = (long)api->config_get(cfg, "max_duration")->i,
        .max_cpu_readers = (int)api->config_get(cfg, "max_cpu_readers")->i,
        .wall_hz = (int)api->config_get(cfg, "wall_hz")->i,
        .max_wall_readers = (int)api->config_get(cfg, "max_wall_readers")->i,
        .heap_sample_bytes = (long)api->config_get(cfg, "heap_sample_bytes")->i,
        .mutex_fraction = (long)api->config_get(cfg, "mutex_fraction")->i,
        .block_rate = (int64_t)api->config_get(cfg, "block_rate")->i,
        .allow_unauthenticated_remote = api->config_get(cfg, "allow_unauthenticated_remote")->b,
        .serve_binaries = api->config_get(cfg, "serve_binaries")->b,
        .max_requests = (int)api->config_get(cfg, "max_requests")->i,
        .max_queued = (int)api->config_get(cfg, "max_queued")->i,
        .max_header_bytes = (int)api->config_get(cfg, "max_header_bytes")->i,
        .request_timeout_ms = (int)api->config_get(cfg, "request_timeout_ms")->i,
        .header_timeout_ms = (int)api->config_get(cfg, "header_timeout_ms")->i,
        .max_conns_per_peer = (int)api->config_get(cfg, "max_conns_per_peer")->i,
        .max_conns = (int)api->config_get(cfg, "max_conns")->i,
        .label_max_series = (long)api->config_get(cfg, "labels.max_series")->i,
        .label_cpu_metrics = api->config_get(cfg, "labels.cpu_metrics")->b,
        .flight_seconds = (long)api->config_get(cfg, "flight_recorder.seconds")->i,
        .flight_max_bytes = (int64_t)api->config_get(cfg, "flight_recorder.max_bytes")->i,
        .flight_bucket_seconds = (long)api->config_get(cfg, "flight_recorder.bucket_seconds")->i,
        .flight_wall = api->config_get(cfg, "flight_recorder.wall")->b,
    };
    snprintf(out->host, sizeof out->host, "%s", api->config_get(cfg, "host")->s);
    static const char *const tls_keys[] = {"tls.cert", "tls.key", "tls.client_ca"};
    char *tls_out[] = {out->tls_cert, out->tls_key, out->tls_client_ca};
    for (int i = 0; i < 3; i++) {
        const char *path = opt_string(api, cfg, tls_keys[i]);
        if (strlen(path) >= sizeof out->tls_cert) {
            snprintf(err, errlen, "profiler.%s: expected a path of at most %zu bytes",
                     tls_keys[i], sizeof out->tls_cert - 1);
            return -1;
        }
        snprintf(tls_out[i], sizeof out->tls_cert, "%s", path);
    }
    if (read_debug_dirs(api, cfg, out, err, errlen) != 0)
        return -1;
    const tk_config_value *sampler = api->config_get(cfg, "cpu_sampler");
    if (prof_sampler_mode_parse(sampler->s, &out->cpu_sampler) != 0) {
        snprintf(err, errlen, "profiler.cpu_sampler = \"%s\" (%s): expected auto, windowed, "
                 "perf, thread_timer or gperftools", sampler->s, sampler->origin);
        return -1;
    }
    return prof_auth_read_secret(api, cfg, "auth.token", out->token, sizeof out->token, err,
                                 errlen);
}

bool prof_settings_tls(const prof_settings *s)
{
    return s->tls_cert[0] != '\0' || s->tls_key[0] != '\0';
}

int prof_settings_check(const prof_settings *s, bool serving, char *err, size_t errlen)
{
    bool tls = prof_settings_tls(s);
    if (!tls && s->tls_client_ca[0] != '\0') {
        snprintf(err, errlen, "profiler.tls.client_ca is set without profiler.tls.cert and "
                 "profiler.tls.key: client certificates need TLS on the port");
        return -1;
    }
    if (tls) { /* the files as the listener will load them, errors and all */
        prof_tls_ctx *ctx = prof_tls_ctx_new(s->tls_cert, s->tls_key, s->tls_client_ca, err,
                                             errlen, NULL, 0);
        if (ctx == NULL)
            return -1;
        prof_tls_ctx_free(ctx);
    }
    bool mtls = tls && s->tls_client_ca[0] != '\0';
    if (!serving || prof_auth_is_loopback(s->host) || s->token[0] != '\0' || mtls)
        return 0;
    if (s->allow_unauthenticated_remote)
        return 0;
    snprintf(err, errlen, "profiler.host = \"%s\" is not a loopback address and no token is "
             "set: anyone who reaches it could read this process's memory layout and code. "
             "Set profiler.auth.token or profiler.auth.token_file (TAKHIN_PROFILER_AUTH_TOKEN), "
             "require client certificates (profiler.tls.client_ca), bind 127.0.0.1, or, "
             "knowingly, profiler.allow_unauthenticated_remote: true",
             s->host);
    return -1;
}

int prof_settings_listener_changes(const prof_settings *a, const prof_settings *b, char *buf,
                                   size_t len)
{
    prof_keys k = prof_keys_start(buf, len);
    prof_keys_note(&k, strcmp(a->host, b->host) != 0, "host");
    prof_keys_note(&k, a->port != b->port, "port");
    prof_keys_note(&k, a->max_requests != b->max_requests, "max_requests");
    prof_keys_note(&k, a->max_queued != b->max_queued, "max_queued");
    prof_keys_note(&k, a->max_header_bytes != b->max_header_bytes, "max_header_bytes");
    prof_keys_note(&k, a->request_timeout_ms != b->request_timeout_ms, "request_timeout_ms");
    prof_keys_note(&k, a->header_timeout_ms != b->header_timeout_ms, "header_timeout_ms");
    prof_keys_note(&k, a->max_conns_per_peer != b->max_conns_per_peer, "max_conns_per_peer");
    prof_keys_note(&k, a->max_conns != b->max_conns, "max_conns");
    prof_keys_note(&k, strcmp(a->tls_cert, b->tls_cert) != 0, "tls.cert");
    prof_keys_note(&k, strcmp(a->tls_key, b->tls_key) != 0, "tls.key");
    prof_keys_note(&k, strcmp(a->tls_client_ca, b->tls_client_ca) != 0, "tls.client_ca");
    return k.count;
}

int prof_settings_live_changes(const prof_settings *a, const prof_settings *b, char *buf,
                               size_t len)
{
    prof_keys k = prof_keys_start(buf, len);
    prof_keys_note(&k, strcmp(a->token, b->token) != 0, "auth.token");
    prof_keys_note(&k, a->max_duration != b->max_duration, "max_duration");
    prof_keys_note(&k, a->cpu_hz != b->cpu_hz, "cpu_hz");
    prof_keys_note(&k, a->cpu_sampler != b->cpu_sampler, "cpu_sampler");
    prof_keys_note(&k, a->max_cpu_readers != b->max_cpu_readers, "max_cpu_readers");
    prof_keys_note(&k, a->wall_hz != b->wall_hz, "wall_hz");
    prof_keys_note(&k, a->max_wall_readers != b->max_wall_readers, "max_wall_readers");
    prof_keys_note(&k, strcmp(a->debug_dirs, b->debug_dirs) != 0, "debug_dirs");
    prof_keys_note(&k, a->serve_binaries != b->serve_binaries, "serve_binaries");
    prof_keys_note(&k, a->allow_unauthenticated_remote != b->allow_unauthenticated_remote,
                   "allow_unauthenticated_remote");
    prof_keys_note(&k, a->label_max_series != b->label_max_series, "labels.max_series");
    prof_keys_note(&k, a->label_cpu_metrics != b->label_cpu_metrics, "labels.cpu_metrics");
    prof_keys_note(&k, a->flight_seconds != b->flight_seconds, "flight_recorder.seconds");
    prof_keys_note(&k, a->flight_max_bytes != b->flight_max_bytes, "flight_recorder.max_bytes");
    prof_keys_note(&k, a->flight_bucket_seconds != b->flight_bucket_seconds,
                   "flight_recorder.bucket_seconds");
    prof_keys_note(&k, a->flight_wall != b->flight_wall, "flight_recorder.wall");
    return k.count;
}

/* ---- profiler.cpu_sampler ---- */

static const char *const mode_names[] = {"auto", "perf", "thread_timer", "gperftools",
                                         "windowed"};

const char *prof_sampler_mode_name(prof_sampler_mode mode)
{
    return (unsigned)mode < sizeof mode_names / sizeof *mode_names ? mode_names[mode] : "?";
}

int prof_sampler_mode_parse(const char *name, prof_sampler_mode *out)
{
    for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++)
        if (strcmp(name, mode_names[i]) == 0) {
            *out = (prof_sampler_mode)i;
            return 0;
        }
    return -1;
}
