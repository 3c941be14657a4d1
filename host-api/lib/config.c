/*
 * config.c - the config hierarchy: schema defaults < YAML document <
 * TAKHIN_* environment, checked against the sections' schemas, and the
 * immutable per-section views handed to plugins.
 *
 * Every layer that is present is validated, not just the one that wins: a
 * bad value in the file is an error even while an env var overrides it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_doc.h"

#define LIST_MAX 512  /* "expected one of ..." */
#define QUOTE_MAX 256 /* a value shown in a message */
#define FORM_MAX 128  /* "an integer from 0 to 65535" */
#define ENV_MAX (TKH_PATH_MAX + 8)
#define SUGGEST_MAX 2 /* edit distance for "did you mean" */

/* One section's view. Everything is owned by the view, and copied from
 * the schema so that the config does not depend on the plugin's memory. */
struct tk_config {
    char *name;
    size_t n;
    char **keys;             /* key names */
    tk_config_value *values; /* values[i] is keys[i]; s and origin owned */
};

struct tkh_config {
    size_t n;
    struct tk_config *sections; /* in the order of the sections given */
};

typedef struct builder {
    const tkh_doc *doc;        /* may be NULL */
    const tkh_section *secs;
    size_t nsecs;
    char *const *envp;         /* may be NULL */
    char *err;
    size_t errlen;
} builder;

/* A candidate value: its text (not owned) and where it came from. */
typedef struct layer {
    const char *text;
    char origin[TKH_ORIGIN_MAX];
} layer;

static int oom(const builder *b)
{
    return tkh_config_err(b->err, b->errlen, "out of memory building the config");
}

/* ---- public helpers ---- */

int tkh_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; text && i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

void tkh_env_name(const char *path, char *buf, size_t len)
{
    static const char prefix[] = "TAKHIN_";
    size_t o = 0;

    if (!len)
        return;
    for (const char *s = prefix; *s && o + 1 < len; s++)
        buf[o++] = *s;
    for (; *path && o + 1 < len; path++)
        buf[o++] = *path == '.' ? '_' : (char)toupper((unsigned char)*path);
    buf[o] = '\0';
}

/* ---- schema lookups and descriptions ---- */

static const tkh_section *find_section(const builder *b, const char *name,
                                       size_t len)
{
    for (size_t i = 0; i < b->nsecs; i++)
        if (strlen(b->secs[i].name) == len &&
            strncmp(b->secs[i].name, name, len) == 0)
            return &b->secs[i];
    return NULL;
}

static const tk_config_key *find_key(const tk_config_key *keys, const char *rel)
{
    for (; keys && keys->name; keys++)
        if (strcmp(keys->name, rel) == 0)
            return keys;
    return NULL;
}

/* True if `rel` is a map on the way to a key: "auth" for "auth.token". */
static bool is_key_prefix(const tk_config_key *keys, const char *rel)
{
    size_t n = strlen(rel);

    for (; keys && keys->name; keys++)
        if (strncmp(keys->name, rel, n) == 0 && keys->name[n] == '.')
            return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts names in place and joins them with ", " into buf. */
static void join_sorted(const char **names, size_t n, char *buf, size_t len)
{
    size_t o = 0;

    snprintf(buf, len, "%s", n ? "" : "(none)");
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && o < len; i++) {
        int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);

        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* The key names under `prefix` ("" = all, "auth" = auth.*, shown relative
 * to it), sorted, into buf. */
static void list_keys(const tk_config_key *keys, const char *prefix,
                      char *buf, size_t len)
{
    size_t n = 0, plen = strlen(prefix);
    const tk_config_key *k;
    const char **names;

    for (k = keys; k && k->name; k++)
        n++;
    names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        snprintf(buf, len, "(out of memory)");
        return;
    }
    n = 0;
    for (k = keys; k && k->name; k++) {
        if (!plen)
            names[n++] = k->name;
        else if (strncmp(k->name, prefix, plen) == 0 && k->name[plen] == '.')
            names[n++] = k->name + plen + 1;
    }
    join_sorted(names, n, buf, len);
    free(names);
}

/* "admin, demo, profiler, plugins": the sections, then the plugins list. */
static void list_sections(const builder *b, char *buf, size_t len)
{
    const char **names = malloc((b->nsecs ? b->nsecs : 1) * sizeof *names);
    size_t o;

    if (!names) {
        snprintf(buf, len, "plugins");
        return;
    }
    for (size_t i = 0; i < b->nsecs; i++)
        names[i] = b->secs[i].name;
    join_sorted(names, b->nsecs, buf, len);
    free(names);
    if (!b->nsecs)
        buf[0] = '\0';
    o = strlen(buf);
    if (o + 1 < len)
        snprintf(buf + o, len - o, "%splugins", o ? ", " : "");
}

/* What key `k` accepts, e.g. "an integer from 0 to 65535"; `text` (may be
 * NULL) adds the IPv6 hint for hosts. */
static void describe(const tk_config_key *k, const char *text, char *buf, size_t len)
{
    switch (k->type) {
    case TK_CONFIG_BOOL:
        snprintf(buf, len, "a boolean: true/false, yes/no, on/off or 1/0");
        return;
    case TK_CONFIG_INT:
        snprintf(buf, len, "an integer from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        return;
    case TK_CONFIG_STRING:
        snprintf(buf, len, "%s", k->min == 0 ? "a string" : "a non-empty string");
        return;
    case TK_CONFIG_HOST:
        snprintf(buf, len, "%s", text && strchr(text, ':')
                 ? "an IPv4 address or localhost (civetweb has no IPv6 support)"
                 : "an IPv4 address such as 127.0.0.1, or localhost");
        return;
    }
    snprintf(buf, len, "a value of a known type (type %d in the schema is "
             "unknown)", (int)k->type);
}

/* ---- typed parsing ---- */

/* Decimal, optional sign, nothing else, no overflow. */
static int parse_int(const char *text, int64_t *out)
{
    char *end;
    long long v;

    if (!*text || isspace((unsigned char)*text))
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Parses text as k's type into v; -1 if it does not fit. */
static int parse_typed(const tk_config_key *k, const char *text, tk_config_value *v)
{
    struct in_addr a;

    switch (k->type) {
    case TK_CONFIG_BOOL:
        return tkh_parse_bool(text, &v->b);
    case TK_CONFIG_INT:
        return parse_int(text, &v->i) == 0 && v->i >= k->min && v->i <= k->max
               ? 0 : -1;
    case TK_CONFIG_STRING:
        return *text || k->min == 0 ? 0 : -1;
    case TK_CONFIG_HOST:
        return strcmp(text, "localhost") == 0 ||
               inet_pton(AF_INET, text, &a) == 1 ? 0 : -1;
    }
    return -1;
}

/* ---- the document against the schemas ---- */

static int unknown_section(const builder *b, const tkh_doc_entry *e)
{
    char origin[TKH_ORIGIN_MAX], list[LIST_MAX], q[QUOTE_MAX];

    tkh_doc_origin(b->doc, e->kline, e->kcol, origin, sizeof origin);
    tkh_quote(e->path, q, sizeof q);
    list_sections(b, list, sizeof list);
    return tkh_config_err(b->err, b->errlen, "unknown section \"%s\" (%s): "
                          "expected one of %s", q, origin, list);
}

/* e must be a map: a section, or "auth" on the way to "auth.token".
 * YAML's null (`profiler:` with nothing below) counts as an empty map. */
static int check_map(const builder *b, const tkh_doc_entry *e,
                     const tk_config_key *keys, const char *prefix)
{
    char origin[TKH_ORIGIN_MAX], list[LIST_MAX], q[QUOTE_MAX];

    if (e->kind == TKH_DOC_MAP || e->null)
        return 0;
    tkh_doc_origin(b->doc, e->line, e->col, origin, sizeof origin);
    tkh_quote(e->value ? e->value : "", q, sizeof q);
    list_keys(keys, prefix, list, sizeof list);
    return tkh_config_err(b->err, b->errlen, "%s = \"%s\" (%s): expected a map "
                          "of keys: %s", e->path, q, origin, list);
}

/* e is `rel` ("port", "auth", "auth.token") inside section s. */
static int check_key(const builder *b, const tkh_doc_entry *e,
                     const tkh_section *s, const char *rel)
{
    const tk_config_key *k = find_key(s->keys, rel);
    char origin[TKH_ORIGIN_MAX], list[LIST_MAX], form[FORM_MAX];

    tkh_doc_origin(b->doc, e->kline, e->kcol, origin, sizeof origin);
    if (k) {
        if (e->kind == TKH_DOC_SCALAR)
            return 0; /* the value is checked by build_value */
        describe(k, NULL, form, sizeof form);
        return tkh_config_err(b->err, b->errlen, "%s (%s): expected %s, not a "
                              "map", e->path, origin, form);
    }
    if (is_key_prefix(s->keys, rel))
        return check_map(b, e, s->keys, rel);
    list_keys(s->keys, "", list, sizeof list);
    return tkh_config_err(b->err, b->errlen, "unknown key %s (%s): expected one "
                          "of %s", e->path, origin, list);
}

/* Every node outside `plugins`, in document order: the first error wins. */
static int check_doc(const builder *b)
{
    for (size_t i = 0; b->doc && i < b->doc->n; i++) {
        const tkh_doc_entry *e = &b->doc->entries[i];
        const char *dot = strchr(e->path, '.');
        size_t len = dot ? (size_t)(dot - e->path) : strlen(e->path);
        const tkh_section *s;
        int rc;

        if (len == 7 && strncmp(e->path, "plugins", 7) == 0)
            continue; /* tkh_doc_plugins' business */
        s = find_section(b, e->path, len);
        if (!s)
            rc = unknown_section(b, e); /* a top-level node: parents come first */
        else if (!dot)
            rc = check_map(b, e, s->keys, "");
        else
            rc = check_key(b, e, s, dot + 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Section names: set, unique, no '.', not the reserved "plugins". */
static int check_sections(const builder *b)
{
    for (size_t i = 0; i < b->nsecs; i++) {
        const char *name = b->secs[i].name;

        if (!name || !*name || strchr(name, '.') || strcmp(name, "plugins") == 0)
            return tkh_config_err(b->err, b->errlen, "config schema: invalid "
                                  "section name \"%s\"", name ? name : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(b->secs[j].name, name) == 0)
                return tkh_config_err(b->err, b->errlen, "config schema: "
                                      "section \"%s\" is given twice", name);
    }
    return 0;
}

/* ---- the environment ---- */

/* The value of NAME in envp, or NULL. The first NAME= wins, as getenv. */
static const char *env_value(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* Levenshtein distance; SIZE_MAX if a string is 64 bytes or longer. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= 64 || lb >= 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known env name closest to `name` into best; its distance (0: known). */
static size_t closest_env(const builder *b, const char *name, char *best, size_t len)
{
    size_t min = SIZE_MAX;

    for (size_t i = 0; i < b->nsecs; i++) {
        for (const tk_config_key *k = b->secs[i].keys; k && k->name; k++) {
            char path[TKH_PATH_MAX], env[ENV_MAX];
            size_t d;

            snprintf(path, sizeof path, "%s.%s", b->secs[i].name, k->name);
            tkh_env_name(path, env, sizeof env);
            d = strcmp(env, name) == 0 ? 0 : distance(env, name);
            if (d < min) {
                min = d;
                snprintf(best, len, "%s", env);
            }
        }
    }
    return min;
}

/* Warns about each TAKHIN_* variable that is no config key. Never an error:
 * other tools (a CLI's TAKHIN_PROFILER_TOKEN) share the prefix. */
static void warn_env(const builder *b, tkh_warn_fn warn, void *ctx)
{
    for (char *const *e = b->envp; warn && e && *e; e++) {
        char name[ENV_MAX], best[ENV_MAX], msg[2 * ENV_MAX + 64];
        const char *eq = strchr(*e, '=');
        size_t d;

        if (strncmp(*e, "TAKHIN_", 7) != 0 || !eq)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(eq - *e), *e);
        d = closest_env(b, name, best, sizeof best);
        if (d == 0)
            continue;
        if (d <= SUGGEST_MAX)
            snprintf(msg, sizeof msg, "ignoring %s: no such config key (did you "
                     "mean %s?)", name, best);
        else
            snprintf(msg, sizeof msg, "ignoring %s: no such config key", name);
        warn(ctx, msg);
    }
}

/* ---- building the values ---- */

/* Parses layer l into v, or writes "key = "value" (origin): expected ...". */
static int check_layer(const builder *b, const char *path, const tk_config_key *k,
                       const layer *l, tk_config_value *v)
{
    char q[QUOTE_MAX], form[FORM_MAX];

    if (parse_typed(k, l->text, v) == 0)
        return 0;
    tkh_quote(l->text, q, sizeof q);
    describe(k, l->text, form, sizeof form);
    return tkh_config_err(b->err, b->errlen, "%s = \"%s\" (%s): expected %s",
                          path, q, l->origin, form);
}

/* The layers present for key `path`, lowest first, into l; their count. */
static size_t gather_layers(const builder *b, const tk_config_key *k,
                            const char *path, layer l[3])
{
    const tkh_doc_entry *e = b->doc ? tkh_doc_find(b->doc, path) : NULL;
    char env[ENV_MAX];
    size_t n = 0;

    if (k->default_value) {
        l[n].text = k->default_value;
        snprintf(l[n++].origin, sizeof l->origin, "default");
    }
    if (e && e->kind == TKH_DOC_SCALAR) { /* maps were refused by check_doc */
        l[n].text = e->value;
        tkh_doc_origin(b->doc, e->line, e->col, l[n++].origin, sizeof l->origin);
    }
    tkh_env_name(path, env, sizeof env);
    if ((l[n].text = env_value(b->envp, env)) != NULL)
        snprintf(l[n++].origin, sizeof l->origin, "env %s", env);
    return n;
}

/* Fills v for key k of section `sec`: the last layer wins, all are checked. */
static int build_value(const builder *b, const char *sec, const tk_config_key *k,
                       tk_config_value *v)
{
    char path[TKH_PATH_MAX];
    layer l[3];
    size_t n;
    int w = snprintf(path, sizeof path, "%s.%s", sec, k->name);

    if (w < 0 || (size_t)w >= sizeof path)
        return tkh_config_err(b->err, b->errlen, "config schema: key %s.%s is "
                              "too long", sec, k->name);
    n = gather_layers(b, k, path, l);
    v->type = k->type;
    for (size_t i = 0; i < n; i++)
        if (check_layer(b, path, k, &l[i], v) < 0)
            return -1;
    v->set = n > 0;
    v->s = n ? strdup(l[n - 1].text) : NULL;
    v->origin = strdup(n ? l[n - 1].origin : "default");
    if ((n && !v->s) || !v->origin)
        return oom(b);
    return 0;
}

static void section_free(struct tk_config *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->keys[i]);
        free((char *)s->values[i].s);
        free((char *)s->values[i].origin);
    }
    free(s->keys);
    free(s->values);
    free(s->name);
}

/* Builds the view of section s into out (zeroed; section_free cleans up). */
static int build_section(const builder *b, const tkh_section *s, struct tk_config *out)
{
    size_t n = 0;

    for (const tk_config_key *k = s->keys; k && k->name; k++)
        n++;
    out->name = strdup(s->name);
    out->keys = calloc(n ? n : 1, sizeof *out->keys);
    out->values = calloc(n ? n : 1, sizeof *out->values);
    if (!out->name || !out->keys || !out->values)
        return oom(b);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        if (!(out->keys[i] = strdup(s->keys[i].name)))
            return oom(b);
        if (build_value(b, s->name, &s->keys[i], &out->values[i]) < 0)
            return -1;
    }
    return 0;
}

int tkh_config_build(tkh_config **out, const tkh_doc *doc,
                     const tkh_section *sections, size_t nsections,
                     char *const *envp, tkh_warn_fn warn, void *warn_ctx,
                     char *err, size_t errlen)
{
    builder b = {doc, sections, nsections, envp, err, errlen};
    tkh_config *cfg;

    *out = NULL;
    if (check_sections(&b) < 0)
        return -1;
    warn_env(&b, warn, warn_ctx);
    if (check_doc(&b) < 0)
        return -1;
    cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->sections = calloc(nsections ? nsections : 1,
                                         sizeof *cfg->sections))) {
        free(cfg);
        return oom(&b);
    }
    cfg->n = nsections;
    for (size_t i = 0; i < nsections; i++) {
        if (build_section(&b, &sections[i], &cfg->sections[i]) < 0) {
            tkh_config_free(cfg);
            return -1;
        }
    }
    *out = cfg; /* the caller owns it now */
    return 0;
}

void tkh_config_free(tkh_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->sections && i < cfg->n; i++)
        section_free(&cfg->sections[i]);
    free(cfg->sections);
    free(cfg);
}

/* ---- reading ---- */

const tk_config *tkh_config_section(const tkh_config *cfg, const char *section)
{
    for (size_t i = 0; cfg && section && i < cfg->n; i++)
        if (strcmp(cfg->sections[i].name, section) == 0)
            return &cfg->sections[i];
    return NULL;
}

const tk_config_value *tkh_config_get(const tk_config *section, const char *key)
{
    for (size_t i = 0; section && key && i < section->n; i++)
        if (strcmp(section->keys[i], key) == 0)
            return &section->values[i];
    return NULL;
}

const tk_config_value *tkh_config_lookup(const tkh_config *cfg, const char *path)
{
    const char *dot = path ? strchr(path, '.') : NULL;

    if (!cfg || !dot)
        return NULL;
    for (size_t i = 0; i < cfg->n; i++) {
        const struct tk_config *s = &cfg->sections[i];

        if (strlen(s->name) == (size_t)(dot - path) &&
            strncmp(s->name, path, (size_t)(dot - path)) == 0)
            return tkh_config_get(s, dot + 1);
    }
    return NULL;
}
