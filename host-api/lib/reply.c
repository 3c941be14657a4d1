/*
 * reply.c - tk_reply, the growable text buffer an admin command writes its
 * answer into. One reply belongs to one command on one thread; it is not
 * locked. Out of memory: the text written so far stays, the rest is lost.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "takhin/host/admin.h"

struct tk_reply {
    char *buf;  /* NUL-terminated when non-NULL */
    size_t len; /* bytes of text, without the NUL */
    size_t cap; /* bytes allocated */
};

tk_reply *tkh_reply_new(void)
{
    return calloc(1, sizeof(tk_reply));
}

void tkh_reply_free(tk_reply *reply)
{
    if (!reply)
        return;
    free(reply->buf);
    free(reply);
}

/* Makes room for `extra` more bytes plus the NUL. false when out of memory. */
static bool reserve(tk_reply *reply, size_t extra)
{
    size_t need = reply->len + extra + 1, cap = reply->cap ? reply->cap : 256;

    if (need <= reply->cap)
        return true;
    if (extra > SIZE_MAX / 4)
        return false;
    while (cap < need)
        cap *= 2;
    char *p = realloc(reply->buf, cap);
    if (!p)
        return false;
    reply->buf = p;
    reply->cap = cap;
    return true;
}

void tkh_reply_vprintf(tk_reply *reply, const char *fmt, va_list ap)
{
    if (!reply || !fmt)
        return;
    va_list copy;
    va_copy(copy, ap);
    size_t room = reply->cap - reply->len;
    int n = vsnprintf(reply->buf ? reply->buf + reply->len : NULL, room, fmt, copy);
    va_end(copy);
    if (n >= 0 && (size_t)n < room) {
        reply->len += (size_t)n;
        return;
    }
    if (n >= 0 && reserve(reply, (size_t)n)) {
        vsnprintf(reply->buf + reply->len, (size_t)n + 1, fmt, ap);
        reply->len += (size_t)n;
        return;
    }
    if (reply->buf) /* undo a truncated attempt: keep only the old text */
        reply->buf[reply->len] = '\0';
}

void tkh_reply_printf(tk_reply *reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tkh_reply_vprintf(reply, fmt, ap);
    va_end(ap);
}

const char *tkh_reply_text(const tk_reply *reply)
{
    return reply && reply->buf ? reply->buf : "";
}
