/*
 * plugin/http/query.h - the one parser of query parameters: each checked
 * the way Go's net/http/pprof answers it, with a message that says what
 * is wrong and what is expected (the HTTP answer is then 400).
 */
#ifndef TAKHIN_PLUGIN_QUERY_H
#define TAKHIN_PLUGIN_QUERY_H

#include <stddef.h>

/* Looks up `name` in a query string (NULL is fine). Returns 1 and the
 * decoded value in buf when present, 0 when absent, -1 when the value does
 * not fit in buf. */
int prof_query_get(const char *query, const char *name, char *buf, size_t len);

/* seconds=N, a positive whole number in [1, max]. Absent: *out = dflt.
 * 0, or -1 with err. */
int prof_query_seconds(const char *query, long dflt, long max, long *out,
                       char *err, size_t errlen);
/* seconds=F, a positive number (0.5, 5) up to max. Absent: *out = dflt.
 * 0, or -1 with err. */
int prof_query_seconds_frac(const char *query, double dflt, long max, double *out,
                            char *err, size_t errlen);
/* past=N, a whole number of seconds in [1, max] (the flight recorder's
 * window). 1 with *out, 0 when absent (*out = 0), -1 with err. */
int prof_query_past(const char *query, long max, long *out, char *err, size_t errlen);
/* debug=N, N >= 0. Absent: *out = 0. 0, or -1 with err. */
int prof_query_debug(const char *query, long *out, char *err, size_t errlen);

#endif
