/* plugin/core/strbuf.h - a growable byte string for building responses. */
#ifndef TAKHIN_PLUGIN_STRBUF_H
#define TAKHIN_PLUGIN_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialize; the caller owns `data` and frees it. After an
 * allocation failure `failed` is set and further appends do nothing. */
typedef struct strbuf {
    char *data;
    size_t len, cap;
    bool failed;
} strbuf;

void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_append(strbuf *sb, const void *bytes, size_t len);

#endif
