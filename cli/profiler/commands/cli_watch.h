/*
 * cli_watch.h - takhin-profiler watch: captures triggered by Alertmanager's
 * webhook or by a schedule, and the storage they go to.
 *
 * Layers, each its own file:
 *   webhook.c  Alertmanager's webhook payload (version 4), parsed with
 *              jansson into plain C; annotation values checked.
 *   lookback.c an alert's window into the target's flight recorder:
 *              ?past= from startsAt and the lookback, and the answer read.
 *   store.c    DIR/<target>/<YYYY-MM-DD>/<HHMMSS>_<reason>_<type>.pb.gz and a
 *              per-day index.jsonl; temp name, fsync, link into place;
 *              retention; `ls`; S3 upload (libcurl's AWS SigV4).
 *   watch.c    flags, the receiver (civetweb), dedupe, cooldown, capture
 *              threads on collect.c's fetch, /metrics, signals, -every
 *              (its entry points are in cli_commands.h).
 */
#ifndef CLI_WATCH_H
#define CLI_WATCH_H

#include "util/cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* ---- webhook.c ---- */

#define CLI_WEBHOOK_MAX_BODY (1u << 20) /* larger bodies are refused */
#define CLI_WEBHOOK_MAX_DEPTH 32        /* deeper JSON is refused */

typedef struct cli_wh_alert {
    bool firing;           /* status "firing" (else "resolved") */
    char *alertname;       /* labels.alertname, "" if none */
    char *instance;        /* labels.instance, NULL if none */
    char *fingerprint;     /* "" if none */
    char *starts_at;       /* "" if none */
    char *labels_json;     /* the labels, compact JSON object */
    char *ann_types;       /* annotations.takhin_profile_types, NULL if none */
    char *ann_seconds;     /* annotations.takhin_profile_seconds, NULL if none */
    char *ann_lookback;    /* annotations.takhin_profile_lookback, NULL if none */
} cli_wh_alert;

typedef struct cli_webhook {
    char *group_key;
    char *status;
    size_t nalerts;
    cli_wh_alert *alerts;
} cli_webhook;

/* Parses a webhook body. 0, or -1 with err (malformed JSON, version not
 * "4", no alerts array, a field of the wrong type). */
int cli_webhook_parse(const char *body, size_t len, cli_webhook *wh, char *err, size_t errlen);
void cli_webhook_free(cli_webhook *wh);

/* A set of profile kinds, bit (1 << cli_kind). */
typedef unsigned cli_kinds;
#define CLI_KIND_BIT(k) (1u << (unsigned)(k))

/* "cpu,heap,mutex" -> bits. 0, or -1 with err naming the bad name. */
int cli_parse_kinds(const char *s, cli_kinds *out, char *err, size_t errlen);
/* "3" (seconds, a whole number from 1 to max). 0 or -1 with err. */
int cli_parse_seconds(const char *s, long max, long *out, char *err, size_t errlen);

/* ---- lookback.c ---- */

#define CLI_LOOKBACK_MAX 3600 /* -lookback and takhin_profile_lookback: at most 1 h */
#define CLI_PAST_MAX 3600     /* the ?past= asked: at most 1 h */

/* RFC 3339 time (Alertmanager's startsAt: "2026-12-02T16:11:36.834Z",
 * "...+02:00") -> seconds since the epoch. 0, or -1 (not such a time, or
 * before 1970: Go's zero time 0001-01-01T00:00:00Z). */
int cli_parse_rfc3339(const char *s, double *out);

/* A lookback: a duration ("60s", "2m"; "0" turns it off), at most
 * CLI_LOOKBACK_MAX. 0, or -1 with err. */
int cli_parse_lookback(const char *s, double *out, char *err, size_t errlen);

/* The seconds of the past a capture at now asks for: back to starts (the
 * alert's startsAt; < 0: unknown, taken as now) minus lookback, rounded
 * up, at most CLI_PAST_MAX. 0 when lookback is 0 (off). */
long cli_past_seconds(double now, double starts, double lookback);

/* A capture's ?past=: asked, and what the profile covers of it. */
typedef struct cli_past_result {
    long asked, got;
    bool shortened;     /* got < asked */
    char note[256];     /* when shortened: why, and what it got instead */
} cli_past_result;

/* Reads the answer to ?past=r->asked (status, and X-Takhin-Past-Available
 * avail, "" or NULL if absent; r->got == r->asked before; key: the
 * target's setting that turns that recorder on, for the note). Returns 1 when
 * it is to be asked again with ?past=r->got (0: without ?past=, only the
 * seconds after now): a 400 naming less than asked, the ring off, or a
 * 400 that did not say. 0 when the answer is final: all of it got, a 2xx
 * without the header (the target ignored ?past=, r->got 0), or another
 * failure. r->shortened and r->note say what it got when less. */
int cli_past_answer(cli_past_result *r, int status, const char *avail, const char *key);

/* What a CPU or wall capture covers, for its index line. */
typedef struct cli_window {
    bool set;
    int64_t start_ns, end_ns; /* Unix nanoseconds */
    cli_past_result past;
} cli_window;

/* ---- store.c ---- */

typedef struct cli_store cli_store;

/* One file being written. */
typedef struct cli_store_file {
    char path[4096];      /* final path (or the S3 key) */
    char tmp[4200];       /* temp name beside it */
    char rel[1024];       /* path under the store's root */
    char day_dir[4096];
    FILE *f;
    time_t when;
    char target[300], type[16], reason[128];
    const char *labels_json;
    const char *starts_at;  /* the alert's startsAt (NULL or "": none) */
    cli_window window;      /* set after cli_store_begin */
} cli_store_file;

/* out is "DIR" or "s3://bucket/prefix"; s3_endpoint and s3_region for S3
 * (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Local
 * storage: the directory is created; temp files left by a killed process
 * are removed. NULL with err. */
cli_store *cli_store_open(const char *out, const char *s3_endpoint, const char *s3_region,
                          char *err, size_t errlen);
void cli_store_close(cli_store *s);
bool cli_store_is_s3(const cli_store *s);
/* The staging directory (local: the root; S3: a spool directory). */
const char *cli_store_root(const cli_store *s);

/* Unix nanoseconds (>= 0) as UTC with milliseconds: 2026-12-08T01:40:00.123Z. */
void cli_store_utc_ns(int64_t ns, char *buf, size_t len);

/* A name segment for target or reason: [A-Za-z0-9._-], others '_'. */
void cli_store_sanitize(char *out, size_t len, const char *in);

/* Opens a temp file for one capture. 0, or -1 with err. */
int cli_store_begin(cli_store *s, cli_store_file *f, const char *target, cli_kind kind,
                    const char *reason, const char *labels_json, time_t when,
                    char *err, size_t errlen);
/* fsync, give it its name (never over another file), index line. Returns
 * 0 and the file's bytes, or -1 with err (the temp file removed). */
int cli_store_commit(cli_store *s, cli_store_file *f, uint64_t *bytes, char *err, size_t errlen);
/* Removes the temp file and writes a failed index line naming why. */
void cli_store_fail(cli_store *s, cli_store_file *f, const char *why);

/* Retention: deletes the oldest finished files while older than max_age
 * seconds (0: no limit) or while the total is over max_bytes (0: no
 * limit). Sets *total to the bytes kept; returns the files deleted, each
 * one logged with log_fn. */
typedef void (*cli_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_store_retain(cli_store *s, double max_age, uint64_t max_bytes, uint64_t *total,
                     cli_log_fn log_fn);

/* takhin-profiler ls DIR: one line per capture. Exit code. */
int cli_store_list(const char *dir, FILE *out);

#endif
