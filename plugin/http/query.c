/* Query parameters: see query.h. */
#include "http/query.h"

#include <civetweb.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
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

/* Reads parameter `name` as a number: 1 with *out, 0 when absent, -1 for
 * a value that is not one (text then holds what was sent, for messages). */
static int get_number(const char *query, const char *name, bool whole, double *out,
                      char *text, size_t len)
{
    int found = prof_query_get(query, name, text, len);
    if (found == 0)
        return 0;
    if (found < 0) {
        snprintf(text, len, "(too long)");
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = whole ? (double)strtol(text, &end, 10) : strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v))
        return -1;
    *out = v;
    return 1;
}

/* seconds=N (whole) or seconds=F: positive, at most max. */
static int get_seconds(const char *query, bool whole, double dflt, long max, double *out,
                       char *err, size_t errlen)
{
    char text[32];
    double v = 0;
    int found = get_number(query, "seconds", whole, &v, text, sizeof text);
    if (found == 0) {
        *out = dflt;
        return 0;
    }
    if (found < 0 || v <= 0) {
        snprintf(err, errlen, "invalid value for \"seconds\" - must be a positive %s "
                 "(got \"%.20s\")", whole ? "integer" : "number of seconds, such as 0.5 or 5",
                 text);
        return -1;
    }
    if (v > (double)max) {
        snprintf(err, errlen, "seconds=%g exceeds the limit of %ld s (profiler.max_duration): "
                 "ask for at most %ld, or raise profiler.max_duration", v, max, max);
        return -1;
    }
    *out = v;
    return 0;
}

int prof_query_past(const char *query, long max, long *out, char *err, size_t errlen)
{
    char text[32];
    double v = 0;
    int found = get_number(query, "past", true, &v, text, sizeof text);
    *out = 0;
    if (found == 0)
        return 0;
    if (found < 0 || v <= 0 || v > (double)max) {
        snprintf(err, errlen, "invalid value for \"past\" - must be a whole number of seconds "
                 "from 1 to %ld (got \"%.20s\")", max, text);
        return -1;
    }
    *out = (long)v;
    return 1;
}

int prof_query_seconds(const char *query, long dflt, long max, long *out,
                       char *err, size_t errlen)
{
    double v;
    if (get_seconds(query, true, (double)dflt, max, &v, err, errlen) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

int prof_query_seconds_frac(const char *query, double dflt, long max, double *out,
                            char *err, size_t errlen)
{
    return get_seconds(query, false, dflt, max, out, err, errlen);
}

int prof_query_debug(const char *query, long *out, char *err, size_t errlen)
{
    char text[32];
    double v = 0;
    int found = get_number(query, "debug", true, &v, text, sizeof text);
    if (found == 0) {
        *out = 0;
        return 0;
    }
    if (found < 0 || v < 0) {
        snprintf(err, errlen, "invalid value for \"debug\" - must be 0 (protobuf), 1 (text) "
                 "or 2 (goroutine: full dump)");
        return -1;
    }
    *out = (long)v;
    return 0;
}
