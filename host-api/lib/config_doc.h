/*
 * config_doc.h - private to host-api/lib/config*.c: the parsed YAML
 * document shared by the parser (config_yaml.c) and the validator
 * (config.c). Not installed, not part of the host API.
 */
#ifndef TAKHIN_HOST_CONFIG_DOC_H
#define TAKHIN_HOST_CONFIG_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "takhin/host/config.h"

/* Room for "FILE:LINE:COL" and "env NAME"; longer origins are truncated. */
#define TKH_ORIGIN_MAX 1024
/* Room for a key path such as "profiler.auth.token". */
#define TKH_PATH_MAX 256

typedef enum tkh_doc_kind {
    TKH_DOC_SCALAR,
    TKH_DOC_MAP,
    TKH_DOC_LIST, /* only "plugins" */
} tkh_doc_kind;

/* One node of the document, in document order (a map before its keys). */
typedef struct tkh_doc_entry {
    char *path;           /* "profiler.auth.token", "plugins.0.name"; owned */
    char *value;          /* scalar text, owned; NULL for maps and lists */
    tkh_doc_kind kind;
    bool null;            /* plain "", "~" or "null": may stand for an empty map */
    unsigned line, col;   /* 1-based position of the value */
    unsigned kline, kcol; /* of its key (of the item itself in a list) */
} tkh_doc_entry;

struct tkh_doc {
    char *name;  /* file path or string name, used in origins; owned */
    char *dir;   /* "configs/": plugin paths resolve against it; NULL = cwd */
    tkh_doc_entry *entries; /* owned, with everything they point to */
    size_t n, cap;
};

/* The entry at `path`, or NULL. */
const tkh_doc_entry *tkh_doc_find(const tkh_doc *doc, const char *path);

/* Writes "NAME:LINE:COL" into buf. */
void tkh_doc_origin(const tkh_doc *doc, unsigned line, unsigned col,
                    char *buf, size_t len);

/* Writes text into buf for use inside "...": quotes, backslashes and
 * control characters are escaped, long text is cut with "...". */
void tkh_quote(const char *text, char *buf, size_t len);

/* snprintf into err (when err and len are usable); returns -1. */
int tkh_config_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
