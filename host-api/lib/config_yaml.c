/*
 * config_yaml.c - YAML text -> tkh_doc with libyaml's event API, and the
 * top-level `plugins:` list.
 *
 * The document becomes a flat list of nodes with their positions. Rules
 * that need no schema are checked here: one document, a map at the top,
 * keys are non-empty scalars without '.', no duplicate keys, no aliases,
 * and lists only as the top-level `plugins:`. Everything else (unknown
 * sections and keys, types) is config.c's job.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config_doc.h"

#define MAX_DEPTH 32               /* maps nested deeper are an error */
#define MAX_FILE_SIZE (1u << 20)   /* a bigger config file is a mistake */
#define QUOTE_MAX 256              /* a value or key shown in a message */
#define SYNTAX_HINT "check the indentation (spaces, not tabs) and quote " \
                    "values that contain \": \" or \" #\""

typedef struct yparser {
    yaml_parser_t yp;
    const char *text; /* the input, to place reader errors */
    size_t len;
    tkh_doc *doc;     /* being filled */
    char *err;
    size_t errlen;
} yparser;

/* ---- helpers shared with config.c (declared in config_doc.h) ---- */

int tkh_config_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (err && len) {
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void tkh_doc_origin(const tkh_doc *doc, unsigned line, unsigned col,
                    char *buf, size_t len)
{
    snprintf(buf, len, "%s:%u:%u", doc->name, line, col);
}

const tkh_doc_entry *tkh_doc_find(const tkh_doc *doc, const char *path)
{
    for (size_t i = 0; doc && i < doc->n; i++)
        if (strcmp(doc->entries[i].path, path) == 0)
            return &doc->entries[i];
    return NULL;
}

/* One character of tkh_quote's output into tmp (at least 5 bytes). */
static void quote_char(unsigned char c, char *tmp)
{
    if (c == '"' || c == '\\')
        snprintf(tmp, 5, "\\%c", c);
    else if (c == '\n')
        snprintf(tmp, 5, "\\n");
    else if (c == '\t')
        snprintf(tmp, 5, "\\t");
    else if (c < 0x20 || c == 0x7f)
        snprintf(tmp, 5, "\\x%02x", c);
    else
        snprintf(tmp, 5, "%c", c);
}

void tkh_quote(const char *text, char *buf, size_t len)
{
    size_t o = 0, room = len > 4 ? len - 4 : 0; /* keep space for "..." */

    if (!len)
        return;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
        char tmp[5];
        size_t t;

        quote_char(*s, tmp);
        t = strlen(tmp);
        if (o + t > room) {
            if (len >= 4) {
                memcpy(buf + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(buf + o, tmp, t);
        o += t;
    }
    buf[o] = '\0';
}

/* ---- the parser ---- */

static int oom(yparser *p)
{
    return tkh_config_err(p->err, p->errlen, "out of memory reading %s",
                          p->doc->name);
}

/* Origin of a libyaml mark (0-based) in the document. */
static void mark_origin(const yparser *p, yaml_mark_t m, char *buf, size_t len)
{
    tkh_doc_origin(p->doc, (unsigned)m.line + 1, (unsigned)m.column + 1, buf, len);
}

/* A plain "", "~" or "null": YAML's null, which may stand for an empty map. */
static bool is_null(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;

    return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*v || !strcmp(v, "~") || !strcmp(v, "null") ||
            !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

/* Line and column of byte `off` of the input (reader errors give bytes). */
static yaml_mark_t place_offset(const yparser *p, size_t off)
{
    yaml_mark_t m = {0, 0, 0};

    for (size_t i = 0; i < off && i < p->len; i++) {
        if (p->text[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    return m;
}

/* "FILE:LINE:COL: malformed YAML: <problem> (<context>); <hint>". */
static int malformed(yparser *p)
{
    const yaml_parser_t *y = &p->yp;
    yaml_mark_t m = y->problem_mark;
    char ctx[256] = "";

    if (y->error == YAML_MEMORY_ERROR)
        return oom(p);
    if (y->error == YAML_READER_ERROR)
        m = place_offset(p, y->problem_offset);
    if (y->context)
        snprintf(ctx, sizeof ctx, " (%s at line %zu, column %zu)", y->context,
                 y->context_mark.line + 1, y->context_mark.column + 1);
    return tkh_config_err(p->err, p->errlen,
                          "%s:%zu:%zu: malformed YAML: %s%s; " SYNTAX_HINT,
                          p->doc->name, m.line + 1, m.column + 1,
                          y->problem ? y->problem : "syntax error", ctx);
}

/* The next event into *ev (the caller deletes it), or -1 and the error. */
static int next_event(yparser *p, yaml_event_t *ev)
{
    return yaml_parser_parse(&p->yp, ev) ? 0 : malformed(p);
}

/* Appends a node at `path`; `key` is its key's mark. The doc owns copies. */
static int doc_add(yparser *p, const char *path, tkh_doc_kind kind,
                   yaml_mark_t key, const yaml_event_t *ev)
{
    tkh_doc *d = p->doc;
    tkh_doc_entry *e;

    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        tkh_doc_entry *grown = realloc(d->entries, cap * sizeof *grown);

        if (!grown)
            return oom(p);
        d->entries = grown;
        d->cap = cap;
    }
    e = &d->entries[d->n];
    memset(e, 0, sizeof *e);
    e->path = strdup(path);
    if (kind == TKH_DOC_SCALAR)
        e->value = strdup((const char *)ev->data.scalar.value);
    if (!e->path || (kind == TKH_DOC_SCALAR && !e->value)) {
        free(e->path);
        free(e->value);
        return oom(p);
    }
    e->kind = kind;
    e->null = kind == TKH_DOC_SCALAR && is_null(ev);
    e->line = (unsigned)ev->start_mark.line + 1;
    e->col = (unsigned)ev->start_mark.column + 1;
    e->kline = (unsigned)key.line + 1;
    e->kcol = (unsigned)key.column + 1;
    d->n++;
    return 0;
}

static int parse_map(yparser *p, const char *prefix, int depth);
static int parse_list(yparser *p, const char *path, int depth);

/* Records the node that starts with `ev` (and its children) at `path`. */
static int add_value(yparser *p, const char *path, yaml_mark_t key,
                     const yaml_event_t *ev, int depth)
{
    char origin[TKH_ORIGIN_MAX], korigin[TKH_ORIGIN_MAX];

    mark_origin(p, ev->start_mark, origin, sizeof origin);
    mark_origin(p, key, korigin, sizeof korigin);
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
            return tkh_config_err(p->err, p->errlen, "%s (%s): the value "
                                  "contains a NUL character", path, origin);
        return doc_add(p, path, TKH_DOC_SCALAR, key, ev);
    case YAML_MAPPING_START_EVENT:
        if (depth >= MAX_DEPTH)
            return tkh_config_err(p->err, p->errlen, "%s (%s): maps nested "
                                  "more than %d levels deep", path, korigin, MAX_DEPTH);
        return doc_add(p, path, TKH_DOC_MAP, key, ev) < 0 ? -1
               : parse_map(p, path, depth + 1);
    case YAML_SEQUENCE_START_EVENT:
        if (strcmp(path, "plugins") != 0)
            return tkh_config_err(p->err, p->errlen, "%s (%s): a list is not "
                                  "allowed here; only the top-level \"plugins:\" "
                                  "is a list", path, korigin);
        return doc_add(p, path, TKH_DOC_LIST, key, ev) < 0 ? -1
               : parse_list(p, path, depth + 1);
    case YAML_ALIAS_EVENT:
        return tkh_config_err(p->err, p->errlen, "%s (%s): aliases (*%s) are "
                              "not supported; write the value out", path, origin,
                              (const char *)ev->data.alias.anchor);
    default:
        return tkh_config_err(p->err, p->errlen, "%s (%s): unexpected YAML "
                              "event %d", path, origin, (int)ev->type);
    }
}

/* Reads the value of the key at `path` whose mark is `key`. */
static int parse_value(yparser *p, const char *path, yaml_mark_t key, int depth)
{
    yaml_event_t ev;
    int rc;

    if (next_event(p, &ev) < 0)
        return -1;
    rc = add_value(p, path, key, &ev, depth);
    yaml_event_delete(&ev);
    return rc;
}

/* Checks the key `key` of map `prefix` ("" at the top), then reads its value. */
static int parse_pair(yparser *p, const char *prefix, const yaml_event_t *key,
                      int depth)
{
    char path[TKH_PATH_MAX], origin[TKH_ORIGIN_MAX], q[QUOTE_MAX];
    const char *in = *prefix ? " in " : "";
    const tkh_doc_entry *dup;
    const char *name;
    int n;

    mark_origin(p, key->start_mark, origin, sizeof origin);
    if (key->type != YAML_SCALAR_EVENT)
        return tkh_config_err(p->err, p->errlen, "%s: keys must be plain words, "
                              "not maps or lists", origin);
    name = (const char *)key->data.scalar.value;
    tkh_quote(name, q, sizeof q);
    if (!*name || strchr(name, '.') || strlen(name) != key->data.scalar.length)
        return tkh_config_err(p->err, p->errlen, "key \"%s\"%s%s (%s): expected "
                              "a name without '.' (write nested maps instead of "
                              "dotted keys)", q, in, prefix, origin);
    n = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
    if (n < 0 || (size_t)n >= sizeof path)
        return tkh_config_err(p->err, p->errlen, "key \"%s\"%s%s (%s): the key "
                              "path is too long", q, in, prefix, origin);
    dup = tkh_doc_find(p->doc, path);
    if (dup) {
        char first[TKH_ORIGIN_MAX];

        tkh_doc_origin(p->doc, dup->kline, dup->kcol, first, sizeof first);
        return tkh_config_err(p->err, p->errlen, "duplicate key %s (%s): "
                              "already set at %s; expected each key once",
                              path, origin, first);
    }
    return parse_value(p, path, key->start_mark, depth);
}

/* The pairs of a map whose MAPPING-START was read, up to its end. */
static int parse_map(yparser *p, const char *prefix, int depth)
{
    for (;;) {
        yaml_event_t ev;
        int rc = 0, end;

        if (next_event(p, &ev) < 0)
            return -1;
        end = ev.type == YAML_MAPPING_END_EVENT;
        if (!end)
            rc = parse_pair(p, prefix, &ev, depth);
        yaml_event_delete(&ev);
        if (end || rc < 0)
            return rc;
    }
}

/* The items of the `plugins` list, stored as "plugins.0", "plugins.1"... */
static int parse_list(yparser *p, const char *path, int depth)
{
    for (unsigned i = 0;; i++) {
        char item[TKH_PATH_MAX];
        yaml_event_t ev;
        int rc = 0, end;

        if (next_event(p, &ev) < 0)
            return -1;
        end = ev.type == YAML_SEQUENCE_END_EVENT;
        if (!end) {
            snprintf(item, sizeof item, "%s.%u", path, i);
            rc = add_value(p, item, ev.start_mark, &ev, depth);
        }
        yaml_event_delete(&ev);
        if (end || rc < 0)
            return rc;
    }
}

/* The document's root: a map of sections, or nothing at all. */
static int parse_root(yparser *p)
{
    yaml_event_t ev;
    char origin[TKH_ORIGIN_MAX];
    int rc = 0;

    if (next_event(p, &ev) < 0)
        return -1;
    mark_origin(p, ev.start_mark, origin, sizeof origin);
    if (ev.type == YAML_MAPPING_START_EVENT)
        rc = parse_map(p, "", 1);
    else if (ev.type != YAML_SCALAR_EVENT || !is_null(&ev))
        rc = tkh_config_err(p->err, p->errlen, "%s: expected a map of sections "
                            "at the top level (such as \"profiler:\"), not %s",
                            origin, ev.type == YAML_SCALAR_EVENT ? "a scalar"
                            : ev.type == YAML_SEQUENCE_START_EVENT ? "a list"
                            : "an alias");
    yaml_event_delete(&ev);
    return rc;
}

/* STREAM-START, then nothing or one document, then STREAM-END. */
static int parse_stream(yparser *p)
{
    yaml_event_t ev;
    yaml_event_type_t type;
    char origin[TKH_ORIGIN_MAX];

    if (next_event(p, &ev) < 0) /* STREAM-START */
        return -1;
    yaml_event_delete(&ev);
    if (next_event(p, &ev) < 0) /* DOCUMENT-START, or STREAM-END if empty */
        return -1;
    type = ev.type;
    yaml_event_delete(&ev);
    if (type == YAML_STREAM_END_EVENT)
        return 0;
    if (parse_root(p) < 0 || next_event(p, &ev) < 0) /* DOCUMENT-END */
        return -1;
    yaml_event_delete(&ev);
    if (next_event(p, &ev) < 0)
        return -1;
    type = ev.type;
    mark_origin(p, ev.start_mark, origin, sizeof origin);
    yaml_event_delete(&ev);
    if (type != YAML_STREAM_END_EVENT)
        return tkh_config_err(p->err, p->errlen, "%s: a second YAML document; "
                              "expected one document (remove the \"---\")", origin);
    return 0;
}

/* Parses text[0..len) into *out; `dir` (dirlen bytes, may be 0) is where
 * the plugin paths of the file resolve. */
static int parse_text(tkh_doc **out, const char *text, size_t len,
                      const char *name, const char *dir, size_t dirlen,
                      char *err, size_t errlen)
{
    yparser p = {.text = text, .len = len, .err = err, .errlen = errlen};
    int rc;

    *out = NULL;
    p.doc = calloc(1, sizeof *p.doc);
    if (!p.doc || !(p.doc->name = strdup(name)) ||
        (dirlen && !(p.doc->dir = strndup(dir, dirlen)))) {
        tkh_doc_free(p.doc);
        return tkh_config_err(err, errlen, "out of memory reading %s", name);
    }
    if (!yaml_parser_initialize(&p.yp)) {
        tkh_doc_free(p.doc);
        return tkh_config_err(err, errlen, "out of memory reading %s", name);
    }
    yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
    rc = parse_stream(&p);
    yaml_parser_delete(&p.yp);
    if (rc < 0) {
        tkh_doc_free(p.doc);
        return -1;
    }
    *out = p.doc;
    return 0;
}

/* Reads a whole file into *text (NUL-terminated, caller frees). */
static int read_file(const char *path, char **text, size_t *len,
                     char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    int e;

    if (!f)
        return tkh_config_err(err, errlen, "cannot open config file %s: %s",
                              path, strerror(errno));
    buf = malloc(MAX_FILE_SIZE + 1);
    n = buf ? fread(buf, 1, MAX_FILE_SIZE + 1, f) : 0;
    e = ferror(f) ? errno : 0;
    fclose(f);
    if (!buf)
        return tkh_config_err(err, errlen, "out of memory reading %s", path);
    if (e || n > MAX_FILE_SIZE) {
        free(buf);
        return e ? tkh_config_err(err, errlen, "cannot read config file %s: %s",
                                  path, strerror(e))
                 : tkh_config_err(err, errlen, "config file %s is larger than "
                                  "%u bytes", path, MAX_FILE_SIZE);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int tkh_doc_parse_file(tkh_doc **out, const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *text = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (read_file(path, &text, &len, err, errlen) < 0)
        return -1;
    /* "configs/takhin.yaml" -> "configs/"; no slash: the cwd, keep as is */
    rc = parse_text(out, text, len, path, path,
                    slash ? (size_t)(slash - path) + 1 : 0, err, errlen);
    free(text);
    return rc;
}

int tkh_doc_parse_string(tkh_doc **out, const char *text, const char *name,
                         char *err, size_t errlen)
{
    if (!text)
        text = "";
    return parse_text(out, text, strlen(text), name ? name : "<string>",
                      NULL, 0, err, errlen);
}

void tkh_doc_free(tkh_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n; i++) {
        free(doc->entries[i].path);
        free(doc->entries[i].value);
    }
    free(doc->entries);
    free(doc->name);
    free(doc->dir);
    free(doc);
}

/* ---- the plugins list ---- */

/* Number of items: "plugins.0" ... up to the first missing one. */
static size_t plugin_count(const tkh_doc *doc)
{
    char path[32];
    size_t n = 0;

    for (;; n++) {
        snprintf(path, sizeof path, "plugins.%zu", n);
        if (!tkh_doc_find(doc, path))
            return n;
    }
}

/* The keys of list item `item` must be `name` and `path`, with scalars. */
static int check_plugin_keys(const tkh_doc *doc, const char *item,
                             char *err, size_t errlen)
{
    size_t plen = strlen(item);

    for (size_t i = 0; i < doc->n; i++) {
        const tkh_doc_entry *e = &doc->entries[i];
        const char *key = e->path + plen + 1;
        char origin[TKH_ORIGIN_MAX];

        if (strncmp(e->path, item, plen) != 0 || e->path[plen] != '.')
            continue;
        tkh_doc_origin(doc, e->kline, e->kcol, origin, sizeof origin);
        if (strcmp(key, "name") != 0 && strcmp(key, "path") != 0)
            return tkh_config_err(err, errlen, "unknown key %s (%s): expected "
                                  "one of name, path", e->path, origin);
        if (e->kind != TKH_DOC_SCALAR)
            return tkh_config_err(err, errlen, "%s (%s): expected a string, "
                                  "not a map", e->path, origin);
    }
    return 0;
}

/* *value = the non-empty scalar `field` of item `item` (at item_origin). */
static int plugin_field(const tkh_doc *doc, const char *item, const char *field,
                        const char *item_origin, const char **value,
                        char *err, size_t errlen)
{
    char path[TKH_PATH_MAX], origin[TKH_ORIGIN_MAX];
    const tkh_doc_entry *e;

    snprintf(path, sizeof path, "%s.%s", item, field);
    e = tkh_doc_find(doc, path);
    if (!e)
        return tkh_config_err(err, errlen, "%s (%s): missing %s; expected a "
                              "map with name and path", item, item_origin, field);
    if (!*e->value) {
        tkh_doc_origin(doc, e->line, e->col, origin, sizeof origin);
        return tkh_config_err(err, errlen, "%s = \"\" (%s): expected a "
                              "non-empty %s", path, origin, field);
    }
    *value = e->value;
    return 0;
}

/* A relative path resolves against the YAML file's directory. Caller frees. */
static char *resolve_path(const tkh_doc *doc, const char *path)
{
    size_t a, b;
    char *r;

    if (path[0] == '/' || !doc->dir)
        return strdup(path);
    a = strlen(doc->dir);
    b = strlen(path);
    r = malloc(a + b + 1);
    if (r) {
        memcpy(r, doc->dir, a);
        memcpy(r + a, path, b + 1);
    }
    return r;
}

/* Fills *spec from item i; on failure the caller frees what was set. */
static int read_spec(const tkh_doc *doc, size_t i, tkh_plugin_spec *spec,
                     char *err, size_t errlen)
{
    char item[32], origin[TKH_ORIGIN_MAX], q[QUOTE_MAX];
    const char *name, *path;
    const tkh_doc_entry *e;

    snprintf(item, sizeof item, "plugins.%zu", i);
    e = tkh_doc_find(doc, item);
    if (!e) /* cannot happen: plugin_count found it */
        return tkh_config_err(err, errlen, "%s: missing", item);
    tkh_doc_origin(doc, e->line, e->col, origin, sizeof origin);
    if (e->kind != TKH_DOC_MAP) {
        tkh_quote(e->value ? e->value : "", q, sizeof q);
        return tkh_config_err(err, errlen, "%s = \"%s\" (%s): expected a map "
                              "with name and path", item, q, origin);
    }
    if (check_plugin_keys(doc, item, err, errlen) < 0 ||
        plugin_field(doc, item, "name", origin, &name, err, errlen) < 0 ||
        plugin_field(doc, item, "path", origin, &path, err, errlen) < 0)
        return -1;
    spec->name = strdup(name);
    spec->path = resolve_path(doc, path);
    spec->origin = strdup(origin);
    if (!spec->name || !spec->path || !spec->origin)
        return tkh_config_err(err, errlen, "out of memory reading %s", doc->name);
    return 0;
}

/* specs[i]'s name must not appear in specs[0..i). */
static int check_unique(const tkh_plugin_spec *specs, size_t i,
                        char *err, size_t errlen)
{
    char q[QUOTE_MAX];

    for (size_t j = 0; j < i; j++) {
        if (strcmp(specs[j].name, specs[i].name) != 0)
            continue;
        tkh_quote(specs[i].name, q, sizeof q);
        return tkh_config_err(err, errlen, "plugins.%zu.name = \"%s\" (%s): "
                              "expected a unique name; plugins.%zu (%s) has it "
                              "too", i, q, specs[i].origin, j, specs[j].origin);
    }
    return 0;
}

int tkh_doc_plugins(const tkh_doc *doc, tkh_plugin_spec **specs, size_t *count,
                    char *err, size_t errlen)
{
    const tkh_doc_entry *list = doc ? tkh_doc_find(doc, "plugins") : NULL;
    char origin[TKH_ORIGIN_MAX];
    tkh_plugin_spec *s;
    size_t n;

    *specs = NULL;
    *count = 0;
    if (!list || (list->kind == TKH_DOC_SCALAR && list->null))
        return 0;
    if (list->kind != TKH_DOC_LIST) {
        tkh_doc_origin(doc, list->kline, list->kcol, origin, sizeof origin);
        return tkh_config_err(err, errlen, "plugins (%s): expected a list of "
                              "maps with name and path", origin);
    }
    n = plugin_count(doc);
    if (n == 0)
        return 0;
    s = calloc(n, sizeof *s);
    if (!s)
        return tkh_config_err(err, errlen, "out of memory reading %s", doc->name);
    for (size_t i = 0; i < n; i++) {
        if (read_spec(doc, i, &s[i], err, errlen) < 0 ||
            check_unique(s, i, err, errlen) < 0) {
            tkh_plugin_specs_free(s, n);
            return -1;
        }
    }
    *specs = s; /* the caller owns it now */
    *count = n;
    return 0;
}

void tkh_plugin_specs_free(tkh_plugin_spec *specs, size_t count)
{
    for (size_t i = 0; specs && i < count; i++) {
        free(specs[i].name);
        free(specs[i].path);
        free(specs[i].origin);
    }
    free(specs);
}
