/* profiler.push.*: see push_settings.h. */
#include "core/push_settings.h"

#include "core/auth.h"
#include "core/keys.h"

#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[PROF_PUSH_NTYPES] = {
    "cpu", "allocs", "heap", "mutex", "block", "goroutine", "wall",
};

/* ================= settings ================= */

int prof_push_parse_duration(const char *text, long *ms)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno != 0 || !(v >= 0) || !isfinite(v))
        return -1;
    double scale = 1000;
    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        scale = 1000;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (strcmp(end, "h") == 0)
        scale = 3600000;
    else
        return -1;
    if (v * scale > 1e12)
        return -1;
    *ms = (long)(v * scale + 0.5);
    return 0;
}

int prof_push_parse_types(const char *text, unsigned *types, char *bad, size_t badlen)
{
    *types = 0;
    const char *s = text;
    while (*s) {
        while (*s == ',' || *s == ' ')
            s++;
        size_t n = strcspn(s, ", ");
        if (n == 0)
            break;
        int found = -1;
        for (int t = 0; t < PROF_PUSH_NTYPES; t++)
            if (strlen(type_names[t]) == n && strncmp(s, type_names[t], n) == 0)
                found = t;
        if (found < 0) {
            snprintf(bad, badlen, "%.*s", (int)n, s);
            return -1;
        }
        *types |= 1u << found;
        s += n;
    }
    return 0;
}

static bool label_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 1024 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.'))
            return false;
    return !(n >= 2 && s[0] == '_' && s[1] == '_'); /* __name__, __delta__: reserved */
}

/* A value may not hold what the name syntax uses, nor controls. */
static bool label_value_ok(const char *s, size_t n)
{
    if (n == 0 || n > 2048)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("{},=\"\\", s[i]) || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int prof_push_make_name(const char *service, const char *labels, char *name, size_t len,
                        char *err, size_t errlen)
{
    if (!label_value_ok(service, strlen(service))) {
        snprintf(err, errlen, "expected a service name without {},=\"\\ or control characters");
        return -1;
    }
    size_t n = (size_t)snprintf(name, len, "%s{", service);
    int count = 0;
    for (const char *s = labels; *s;) {
        while (*s == ',' || *s == ' ')
            s++;
        size_t item = strcspn(s, ",");
        if (item == 0)
            break;
        const char *eq = memchr(s, '=', item);
        size_t klen = eq ? (size_t)(eq - s) : item;
        while (klen > 0 && s[klen - 1] == ' ')
            klen--;
        const char *v = eq ? eq + 1 : s + item;
        while (eq && v < s + item && *v == ' ')
            v++;
        size_t vlen = (size_t)(s + item - v);
        while (vlen > 0 && v[vlen - 1] == ' ')
            vlen--;
        if (eq == NULL || !label_name_ok(s, klen) || !label_value_ok(v, vlen) ||
            (klen == 12 && strncmp(s, "service_name", 12) == 0)) {
            snprintf(err, errlen, "expected k=v,k=v: a name of letters, digits, _ and . "
                     "(not starting with __, not service_name: see push.service_name), a "
                     "non-empty value without {},=\"\\; \"%.*s\" is not", (int)item, s);
            return -1;
        }
        if (++count > 25) {
            snprintf(err, errlen, "at most 25 labels (Pyroscope takes 30 per series)");
            return -1;
        }
        n += (size_t)snprintf(name + (n < len ? n : len), n < len ? len - n : 0, "%s%.*s=%.*s",
                              count > 1 ? "," : "", (int)klen, s, (int)vlen, v);
        s += item;
    }
    n += (size_t)snprintf(name + (n < len ? n : len), n < len ? len - n : 0, "}");
    if (n >= len) {
        snprintf(err, errlen, "the name with its labels is too long (at most %zu bytes)",
                 len - 1);
        return -1;
    }
    return 0;
}

static const char *opt(const tk_host_api *api, const tk_config *cfg, const char *key,
                       const char **origin)
{
    const tk_config_value *v = api->config_get(cfg, key);
    *origin = v->origin;
    return v->set && v->s != NULL ? v->s : "";
}

static int check_url(const char *url, const char *origin, prof_push_settings *out, char *err,
                     size_t errlen)
{
    char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *path = NULL;
    CURLU *u = curl_url();
    int rc = -1;
    const char *why = NULL;
    if (u == NULL)
        why = "out of memory";
    else if (strlen(url) >= sizeof out->url)
        why = "too long";
    else if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        why = "not a URL";
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        why = "the scheme must be http or https";
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0')
        why = "no host";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        why = "credentials in the URL: set profiler.push.auth.* instead";
    else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
        why = "a query string: give the server's base URL";
    else
        rc = 0;
    if (rc != 0) {
        /* Shown without userinfo, which may hold a password. */
        snprintf(err, errlen, "profiler.push.url = \"%s\" (%s): %s (expected "
                 "http[s]://HOST[:PORT][/PREFIX], e.g. http://pyroscope:4040)",
                 user ? "(hidden: it holds credentials)" : url, origin, why);
    } else {
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        size_t pl = path ? strlen(path) : 0;
        while (pl > 0 && path[pl - 1] == '/')
            pl--;
        curl_url_set(u, CURLUPART_PATH, NULL, 0);
        char *base = NULL;
        curl_url_get(u, CURLUPART_URL, &base, 0);
        size_t bl = base ? strlen(base) : 0;
        while (bl > 0 && base[bl - 1] == '/')
            bl--;
        snprintf(out->url, sizeof out->url, "%s", url);
        snprintf(out->ingest, sizeof out->ingest, "%.*s%.*s/ingest", (int)bl,
                 base ? base : "", (int)pl, path ? path : "");
        curl_free(base);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(query);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

static int read_duration(const tk_host_api *api, const tk_config *cfg, const char *key,
                         long min_ms, long max_ms, const char *range, long *ms, char *err,
                         size_t errlen)
{
    const tk_config_value *v = api->config_get(cfg, key);
    if (prof_push_parse_duration(v->s, ms) != 0 || *ms < min_ms || *ms > max_ms) {
        snprintf(err, errlen, "profiler.%s = \"%s\" (%s): expected a duration from %s, such "
                 "as 15s, 500ms or 1m", key, v->s, v->origin, range);
        return -1;
    }
    return 0;
}

int prof_push_settings_read(const tk_host_api *api, const tk_config *cfg,
                            prof_push_settings *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *origin;
    const char *url = opt(api, cfg, "push.url", &origin);
    if (url[0] && check_url(url, origin, out, err, errlen) != 0)
        return -1;
    out->on = url[0] != '\0';
    if (read_duration(api, cfg, "push.interval", 1000, 3600000, "1s to 1h", &out->interval_ms,
                      err, errlen) != 0 ||
        read_duration(api, cfg, "push.timeout", 100, 300000, "100ms to 5m", &out->timeout_ms,
                      err, errlen) != 0 ||
        read_duration(api, cfg, "push.max_retry_after", 0, 3600000, "0s to 1h",
                      &out->max_retry_after_ms, err, errlen) != 0)
        return -1;
    const tk_config_value *types = api->config_get(cfg, "push.types");
    char bad[64];
    if (prof_push_parse_types(types->s, &out->types, bad, sizeof bad) != 0) {
        snprintf(err, errlen, "profiler.push.types = \"%s\" (%s): unknown type \"%s\": "
                 "expected any of cpu, allocs, heap, mutex, block, goroutine, wall, comma-separated",
                 types->s, types->origin, bad);
        return -1;
    }
    const tk_config_value *svc = api->config_get(cfg, "push.service_name");
    const tk_config_value *labels = api->config_get(cfg, "push.labels");
    char why[400];
    snprintf(out->service_name, sizeof out->service_name, "%s", svc->s);
    snprintf(out->labels, sizeof out->labels, "%s", labels->s ? labels->s : "");
    if (strlen(svc->s) >= sizeof out->service_name ||
        prof_push_make_name(svc->s, "", out->name, sizeof out->name, why, sizeof why) != 0) {
        snprintf(err, errlen, "profiler.push.service_name = \"%s\" (%s): %s", svc->s,
                 svc->origin, strlen(svc->s) >= sizeof out->service_name ? "too long" : why);
        return -1;
    }
    if (prof_push_make_name(svc->s, out->labels, out->name, sizeof out->name, why,
                            sizeof why) != 0) {
        snprintf(err, errlen, "profiler.push.labels = \"%s\" (%s): %s", labels->s,
                 labels->origin, why);
        return -1;
    }
    const char *tenant = opt(api, cfg, "push.tenant", &origin);
    size_t tl = strlen(tenant);
    bool tenant_ok = tl < sizeof out->tenant && strcmp(tenant, ".") && strcmp(tenant, "..");
    for (size_t i = 0; i < tl && tenant_ok; i++)
        tenant_ok = isalnum((unsigned char)tenant[i]) || strchr("!-_.*'()", tenant[i]);
    if (!tenant_ok) {
        snprintf(err, errlen, "profiler.push.tenant = \"%s\" (%s): expected at most 150 of "
                 "A-Z a-z 0-9 ! - _ . * ' ( ), not . or .. (Pyroscope's tenant IDs)",
                 tenant, origin);
        return -1;
    }
    snprintf(out->tenant, sizeof out->tenant, "%s", tenant);
    const char *user = opt(api, cfg, "push.auth.username", &origin);
    if (strlen(user) >= sizeof out->user || strchr(user, ':')) {
        snprintf(err, errlen, "profiler.push.auth.username = \"%.64s\" (%s): expected at most "
                 "%zu characters and no colon", user, origin, sizeof out->user - 1);
        return -1;
    }
    snprintf(out->user, sizeof out->user, "%s", user);
    if (prof_auth_read_secret(api, cfg, "push.auth.password", out->password,
                              sizeof out->password, err, errlen) != 0 ||
        prof_auth_read_secret(api, cfg, "push.auth.token", out->token, sizeof out->token, err,
                              errlen) != 0)
        return -1;
    if (out->token[0] && (out->user[0] || out->password[0])) {
        snprintf(err, errlen, "profiler.push.auth: a token and a username/password are both "
                 "set: expected Basic (username and password or password_file) or Bearer "
                 "(token or token_file), not both");
        return -1;
    }
    if ((out->user[0] != '\0') != (out->password[0] != '\0')) {
        snprintf(err, errlen, "profiler.push.auth: Basic auth needs both username and "
                 "password (or password_file)");
        return -1;
    }
    out->multipart = api->config_get(cfg, "push.multipart")->b;
    out->max_queue_bytes = (long)api->config_get(cfg, "push.max_queue_bytes")->i;
    return 0;
}

int prof_push_settings_changes(const prof_push_settings *a, const prof_push_settings *b,
                               char *buf, size_t len)
{
    prof_keys k = prof_keys_start(buf, len);
    prof_keys_note(&k, strcmp(a->url, b->url) != 0, "push.url");
    prof_keys_note(&k, a->interval_ms != b->interval_ms, "push.interval");
    prof_keys_note(&k, a->timeout_ms != b->timeout_ms, "push.timeout");
    prof_keys_note(&k, a->max_retry_after_ms != b->max_retry_after_ms, "push.max_retry_after");
    prof_keys_note(&k, strcmp(a->service_name, b->service_name) != 0, "push.service_name");
    prof_keys_note(&k, strcmp(a->labels, b->labels) != 0, "push.labels");
    prof_keys_note(&k, a->types != b->types, "push.types");
    prof_keys_note(&k, strcmp(a->tenant, b->tenant) != 0, "push.tenant");
    prof_keys_note(&k, strcmp(a->user, b->user) != 0 || strcmp(a->password, b->password) != 0 ||
                           strcmp(a->token, b->token) != 0, "push.auth");
    prof_keys_note(&k, a->multipart != b->multipart, "push.multipart");
    prof_keys_note(&k, a->max_queue_bytes != b->max_queue_bytes, "push.max_queue_bytes");
    return k.count;
}

const char *prof_push_type_name(int type)
{
    return type >= 0 && type < PROF_PUSH_NTYPES ? type_names[type] : "?";
}
