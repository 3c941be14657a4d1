/* The host's log: see takhin/host/log.h. */
#include "takhin/host/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_threshold = TK_LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void tkh_log_set_level(tk_log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

int tkh_log_parse_level(const char *text, tk_log_level *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *out = (tk_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Formats the UTC time stamp "2026-11-25T18:44:38.123Z". */
static size_t format_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void tkh_vlog(tk_log_level level, const char *component, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&log_threshold) || level > TK_LOG_ERROR)
        return;
    char line[2048];
    size_t n = format_time(line, sizeof line);
    n += (size_t)snprintf(line + n, sizeof line - n, " %-5s [%s] ",
                          level_names[level], component);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    n = m < 0 ? n : n + (size_t)m;
    if (n > sizeof line - 2)
        n = sizeof line - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    /* One write(2) per line, so lines from threads never interleave. */
    ssize_t ignored = write(STDERR_FILENO, line, n);
    (void)ignored;
}

void tkh_log(tk_log_level level, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tkh_vlog(level, component, fmt, ap);
    va_end(ap);
}
