/*
 * plugin/query.h - query parameters, checked the way Go's net/http/pprof
 * answers them, with messages that say what is wrong and what is expected.
 */
#ifndef TAKHIN_PLUGIN_QUERY_H
#define TAKHIN_PLUGIN_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* Looks up `name` in a query string (NULL is fine). Returns 1 and the
 * decoded value in buf when present, 0 when absent, -1 when the value does
 * not fit in buf. */
int prof_query_get(const char *query, const char *name, char *buf, size_t len);

/* A positive whole number of seconds in [1, max]. Absent: *out = dflt.
 * 0, or -1 with a message in err (the HTTP answer is then 400). */
int prof_query_seconds(const char *query, long dflt, long max, long *out,
                       char *err, size_t errlen);

#endif
