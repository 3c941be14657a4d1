/*
 * webhook.c - Alertmanager's webhook payload (version 4), read with
 * jansson (Debian's libjansson-dev) into plain C strings. Only what watch
 * uses is kept: groupKey, status, and per alert its status, labels
 * (alertname, instance, all of them as compact JSON), the annotations
 * takhin_profile_types, takhin_profile_seconds and
 * takhin_profile_lookback, fingerprint and startsAt. A field of the wrong type is an error naming it; unknown
 * fields are ignored (Alertmanager adds some now and then).
 */
#include "commands/cli_watch.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALERTS 10000

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A string member of obj, or NULL if absent. -1 when present but not a
 * string (err says which). */
static int str_member(json_t *obj, const char *key, const char *where, const char **out,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s%s: expected a string", where, key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int object_member(json_t *obj, const char *key, const char *where, json_t **out,
                         char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        snprintf(err, errlen, "%s%s: expected an object", where, key);
        return -1;
    }
    *out = v;
    return 0;
}

/* Every value of a label set must be a string. */
static int check_strings(json_t *obj, const char *where, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v)) {
            snprintf(err, errlen, "%s.%.100s: expected a string", where, k);
            return -1;
        }
    }
    return 0;
}

static int one_alert(json_t *a, size_t i, cli_wh_alert *out, char *err, size_t errlen)
{
    char where[64];
    snprintf(where, sizeof where, "alerts[%zu].", i);
    if (!json_is_object(a)) {
        snprintf(err, errlen, "alerts[%zu]: expected an object", i);
        return -1;
    }
    const char *status, *fp, *starts, *name = NULL, *inst = NULL, *types = NULL, *secs = NULL;
    const char *back = NULL;
    json_t *labels, *ann;
    if (str_member(a, "status", where, &status, err, errlen) != 0 ||
        str_member(a, "fingerprint", where, &fp, err, errlen) != 0 ||
        str_member(a, "startsAt", where, &starts, err, errlen) != 0 ||
        object_member(a, "labels", where, &labels, err, errlen) != 0 ||
        object_member(a, "annotations", where, &ann, err, errlen) != 0)
        return -1;
    if (status == NULL || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0)) {
        snprintf(err, errlen, "%sstatus: expected \"firing\" or \"resolved\"", where);
        return -1;
    }
    char w2[80];
    if (labels) {
        snprintf(w2, sizeof w2, "%slabels", where);
        if (check_strings(labels, w2, err, errlen) != 0)
            return -1;
        name = json_string_value(json_object_get(labels, "alertname"));
        inst = json_string_value(json_object_get(labels, "instance"));
    }
    if (ann) {
        snprintf(w2, sizeof w2, "%sannotations", where);
        if (check_strings(ann, w2, err, errlen) != 0)
            return -1;
        types = json_string_value(json_object_get(ann, "takhin_profile_types"));
        secs = json_string_value(json_object_get(ann, "takhin_profile_seconds"));
        back = json_string_value(json_object_get(ann, "takhin_profile_lookback"));
    }
    out->firing = strcmp(status, "firing") == 0;
    out->alertname = strdup(name ? name : "");
    out->instance = dup_or_null(inst);
    out->fingerprint = strdup(fp ? fp : "");
    out->starts_at = strdup(starts ? starts : "");
    out->labels_json = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS)
                              : strdup("{}");
    out->ann_types = dup_or_null(types);
    out->ann_seconds = dup_or_null(secs);
    out->ann_lookback = dup_or_null(back);
    if (!out->alertname || !out->fingerprint || !out->starts_at || !out->labels_json ||
        (inst && !out->instance) || (types && !out->ann_types) || (secs && !out->ann_seconds) ||
        (back && !out->ann_lookback)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The deepest nesting of arrays and objects, strings skipped: jansson
 * recurses once a level, and a thread's stack is not the place to find
 * out how deep is too deep. Alertmanager's payload is 3 deep. */
static size_t nesting(const char *s, size_t len)
{
    size_t depth = 0, max = 0;
    bool str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
        } else if (c == '"')
            str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return max;
}

int cli_webhook_parse(const char *body, size_t len, cli_webhook *wh, char *err, size_t errlen)
{
    memset(wh, 0, sizeof *wh);
    if (len > CLI_WEBHOOK_MAX_BODY) {
        snprintf(err, errlen, "body of %zu bytes: at most %u", len, CLI_WEBHOOK_MAX_BODY);
        return -1;
    }
    if (nesting(body, len) > CLI_WEBHOOK_MAX_DEPTH) {
        snprintf(err, errlen, "malformed JSON: nested more than %d deep", CLI_WEBHOOK_MAX_DEPTH);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "malformed JSON at line %d column %d: %s", je.line, je.column,
                 je.text);
        return -1;
    }
    int rc = -1;
    const char *version, *gk, *status;
    json_t *alerts;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "expected a JSON object (Alertmanager's webhook payload)");
        goto out;
    }
    if (str_member(root, "version", "", &version, err, errlen) != 0 ||
        str_member(root, "groupKey", "", &gk, err, errlen) != 0 ||
        str_member(root, "status", "", &status, err, errlen) != 0)
        goto out;
    if (version == NULL || strcmp(version, "4") != 0) {
        snprintf(err, errlen, "version %s%.20s%s: this receiver reads Alertmanager's webhook "
                 "version \"4\"", version ? "\"" : "", version ? version : "missing",
                 version ? "\"" : "");
        goto out;
    }
    alerts = json_object_get(root, "alerts");
    if (alerts == NULL || !json_is_array(alerts)) {
        snprintf(err, errlen, "alerts: %s", alerts ? "expected an array" : "missing");
        goto out;
    }
    size_t n = json_array_size(alerts);
    if (n > MAX_ALERTS) {
        snprintf(err, errlen, "alerts: %zu of them, at most %d", n, MAX_ALERTS);
        goto out;
    }
    wh->group_key = strdup(gk ? gk : "");
    wh->status = strdup(status ? status : "");
    wh->alerts = calloc(n ? n : 1, sizeof *wh->alerts);
    if (!wh->group_key || !wh->status || !wh->alerts) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        wh->nalerts = i + 1;
        if (one_alert(json_array_get(alerts, i), i, &wh->alerts[i], err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    if (rc != 0)
        cli_webhook_free(wh);
    return rc;
}

void cli_webhook_free(cli_webhook *wh)
{
    for (size_t i = 0; i < wh->nalerts && wh->alerts; i++) {
        cli_wh_alert *a = &wh->alerts[i];
        free(a->alertname);
        free(a->instance);
        free(a->fingerprint);
        free(a->starts_at);
        free(a->labels_json);
        free(a->ann_types);
        free(a->ann_seconds);
        free(a->ann_lookback);
    }
    free(wh->alerts);
    free(wh->group_key);
    free(wh->status);
    memset(wh, 0, sizeof *wh);
}

int cli_parse_kinds(const char *s, cli_kinds *out, char *err, size_t errlen)
{
    cli_kinds k = 0;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *w = p;
        size_t wn = n;
        while (wn && (*w == ' ' || *w == '\t'))
            w++, wn--;
        while (wn && (w[wn - 1] == ' ' || w[wn - 1] == '\t'))
            wn--;
        int found = -1;
        for (int i = 0; i < CLI_NKINDS && wn; i++) {
            const char *name = cli_kind_name((cli_kind)i);
            if (strlen(name) == wn && strncmp(name, w, wn) == 0)
                found = i;
        }
        if (found < 0) {
            snprintf(err, errlen, "\"%.*s\" is not a profile type (cpu, heap, allocs, "
                     "goroutine, block, mutex, trace)", (int)(wn > 40 ? 40 : wn), w);
            return -1;
        }
        k |= CLI_KIND_BIT(found);
        p += n;
        if (*p == ',')
            p++;
    }
    if (k == 0) {
        snprintf(err, errlen, "no profile type given");
        return -1;
    }
    *out = k;
    return 0;
}

int cli_parse_seconds(const char *s, long max, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 || v > max) {
        snprintf(err, errlen, "\"%.40s\" is not a whole number of seconds from 1 to %ld", s, max);
        return -1;
    }
    *out = v;
    return 0;
}
