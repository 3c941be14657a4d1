/*
 * plugin/core/push_settings.h - profiler.push.*: the keys, their checks
 * and the profile types pushed (the push itself: profiles/push.h).
 */
#ifndef TAKHIN_PLUGIN_PUSH_SETTINGS_H
#define TAKHIN_PLUGIN_PUSH_SETTINGS_H

#include "takhin/plugin.h"

#include <stdbool.h>
#include <stddef.h>

enum {
    PROF_PUSH_CPU,
    PROF_PUSH_ALLOCS,
    PROF_PUSH_HEAP,
    PROF_PUSH_MUTEX,
    PROF_PUSH_BLOCK,
    PROF_PUSH_GOROUTINE,
    PROF_PUSH_WALL,       /* off by default */
    PROF_PUSH_NTYPES,
};

#define PROF_PUSH_MAX_SAMPLES 16000
#define PROF_PUSH_MAX_BYTES (4u << 20) /* uncompressed */
#define PROF_PUSH_MAX_TRIES 10
#define PROF_PUSH_SECRET_MAX 1024

/* profiler.push.*, checked. */
typedef struct prof_push_settings {
    bool on;                     /* push.url set */
    char url[1024];              /* as configured (no credentials in it) */
    char ingest[1100];           /* url + /ingest */
    long interval_ms, timeout_ms;
    char service_name[256];
    char labels[1024];           /* "k=v,k=v", checked */
    char name[1400];             /* service_name{labels}: the name= sent */
    unsigned types;              /* 1 << PROF_PUSH_* */
    char tenant[160];            /* X-Scope-OrgID, "" = none */
    char user[256];              /* Basic auth with password */
    char password[PROF_PUSH_SECRET_MAX];
    char token[PROF_PUSH_SECRET_MAX]; /* Bearer */
    bool multipart;
    long max_queue_bytes;
    long max_retry_after_ms;     /* the longest Retry-After honoured (0: ignored) */
} prof_push_settings;

/* The keys, for the plugin's schema (settings.c). */
#define PROF_PUSH_CONFIG_KEYS                                                                 \
    {"push.url", TK_CONFIG_STRING, NULL, 0, 0,                                                \
     "Pyroscope's base URL (http or https) to push profiles to; unset: no push"},             \
    {"push.interval", TK_CONFIG_STRING, "15s", 0, 0,                                          \
     "time between pushes, and the CPU window: 15s, 1m, 500ms (1s to 1h)"},                   \
    {"push.timeout", TK_CONFIG_STRING, "10s", 0, 0,                                           \
     "time one push request may take (100ms to 5m)"},                                         \
    {"push.service_name", TK_CONFIG_STRING, "takhin", 1, 0, "the service_name of pushes"},    \
    {"push.labels", TK_CONFIG_STRING, "", 0, 0, "extra labels, k=v,k=v"},                     \
    {"push.types", TK_CONFIG_STRING, "cpu,allocs,mutex,block,goroutine", 0, 0,                \
     "profiles pushed: any of cpu, allocs, heap, mutex, block, goroutine, wall"},                   \
    {"push.tenant", TK_CONFIG_STRING, NULL, 0, 0, "sent as X-Scope-OrgID"},                   \
    {"push.auth.username", TK_CONFIG_STRING, NULL, 0, 0, "HTTP Basic user"},                  \
    {"push.auth.password", TK_CONFIG_STRING, NULL, 0, 0, "HTTP Basic password"},              \
    {"push.auth.password_file", TK_CONFIG_STRING, NULL, 0, 0,                                 \
     "file whose first line is the Basic password"},                                          \
    {"push.auth.token", TK_CONFIG_STRING, NULL, 0, 0, "bearer token"},                        \
    {"push.auth.token_file", TK_CONFIG_STRING, NULL, 0, 0,                                    \
     "file whose first line is the bearer token"},                                            \
    {"push.multipart", TK_CONFIG_BOOL, "false", 0, 0,                                         \
     "send a multipart `profile` field instead of a raw body with format=pprof"},             \
    {"push.max_queue_bytes", TK_CONFIG_INT, "4194304", 65536, 1LL << 30,                      \
     "profiles waiting to be sent, in bytes; full: the oldest are dropped"},                  \
    {"push.max_retry_after", TK_CONFIG_STRING, "5m", 0, 0,                                    \
     "the longest wait a 429 or 503 answer's Retry-After may ask (0s to 1h; 0s: ignore it)"}

/* Copies and checks profiler.push.* (reading the auth files). 0, or -1
 * with err naming the key, its value (never a secret) and its origin. */
int prof_push_settings_read(const tk_host_api *api, const tk_config *cfg,
                            prof_push_settings *out, char *err, size_t errlen);
/* The push.* keys that differ, as "push.url, push.labels" ("" for none). */
int prof_push_settings_changes(const prof_push_settings *a, const prof_push_settings *b,
                               char *buf, size_t len);

/* "cpu", "allocs", ... for a PROF_PUSH_* type. */
const char *prof_push_type_name(int type);

/* ---- for tests ---- */
/* Milliseconds in "15s", "500ms", "1m", "1h" or "15" (seconds). 0, or -1. */
int prof_push_parse_duration(const char *text, long *ms);
/* 0 with *types set, or -1 with the unknown word in bad. */
int prof_push_parse_types(const char *text, unsigned *types, char *bad, size_t badlen);
/* Checks "k=v,k=v" and writes service{k=v,...} into name. 0, or -1 with err. */
int prof_push_make_name(const char *service, const char *labels, char *name, size_t len,
                        char *err, size_t errlen);

#endif
