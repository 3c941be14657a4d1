/*
 * takhin/host/log.h - the host's log: one line per call on stderr,
 * "2026-11-25T18:44:38.123Z INFO  [component] message", written with a
 * single write(2) so lines from threads never interleave.
 */
#ifndef TAKHIN_HOST_LOG_H
#define TAKHIN_HOST_LOG_H

#include "takhin/plugin.h"

void tkh_log_set_level(tk_log_level level);
/* Parses "debug", "info", "warn", "error". 0, or -1 if unknown. */
int tkh_log_parse_level(const char *text, tk_log_level *out);
void tkh_log(tk_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tkh_vlog(tk_log_level level, const char *component, const char *fmt, va_list ap);

#endif
