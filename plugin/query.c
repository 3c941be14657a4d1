/* Query parameters: see query.h. */
#include "query.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int prof_query_get(const char *query, const char *name, char *buf, size_t len)
{
    if (query == NULL)
        return 0;
    int n = mg_get_var(query, strlen(query), name, buf, len);
    if (n >= 0)
        return 1;
    return n == -1 ? 0 : -1; /* -1: absent; -2: buffer too small or bad */
}

int prof_query_seconds(const char *query, long dflt, long max, long *out,
                       char *err, size_t errlen)
{
    char text[32];
    int found = prof_query_get(query, "seconds", text, sizeof text);
    if (found == 0) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = found > 0 ? strtol(text, &end, 10) : 0;
    if (found < 0 || end == text || *end != '\0' || errno != 0 || v <= 0) {
        snprintf(err, errlen, "invalid value for \"seconds\" - must be a positive integer "
                 "(got \"%.20s\")", found < 0 ? "(too long)" : text);
        return -1;
    }
    if (v > max) {
        snprintf(err, errlen, "seconds=%ld exceeds the limit of %ld s (profiler.max_duration): "
                 "ask for at most %ld, or raise profiler.max_duration", v, max, max);
        return -1;
    }
    *out = v;
    return 0;
}
