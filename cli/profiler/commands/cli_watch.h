/*
 * cli_watch.h - takhin-profiler watch: captures triggered by Alertmanager's
 * webhook or by a schedule, and the storage they go to.
 *
 * Layers, each its own file:
 *   webhook.c  Alertmanager's webhook payload (version 4), parsed with
 *              jansson into plain C; annotation values checked.
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
