/*
 * lookback.c - watch's window into a target's flight recorder: an alert's
 * capture asks for ?past= seconds reaching back from now to its startsAt
 * minus the lookback (-lookback, annotation takhin_profile_lookback), and
 * reads what the target answered: the whole past, less (a 400 naming in
 * X-Takhin-Past-Available what its ring holds: asked again with that), or
 * none (the ring off, or a target that does not know ?past=: the capture
 * covers only the profile seconds after now, as before).
 */
#include "commands/cli_watch.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n digits at *s as a number, *s moved past them; -1 if not digits. */
static int digits(const char **s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s))
            return -1;
        v = v * 10 + (**s - '0');
    }
    return v;
}

/* c at *s: true with *s moved past it (never past the string's end). */
static bool lit(const char **s, char c)
{
    if (**s != c)
        return false;
    (*s)++;
    return true;
}

int cli_parse_rfc3339(const char *s, double *out)
{
    const char *p = s;
    int y = digits(&p, 4), mo = lit(&p, '-') ? digits(&p, 2) : -1;
    int d = lit(&p, '-') ? digits(&p, 2) : -1;
    int h = lit(&p, 'T') || lit(&p, 't') ? digits(&p, 2) : -1;
    int mi = lit(&p, ':') ? digits(&p, 2) : -1;
    int se = lit(&p, ':') ? digits(&p, 2) : -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || se < 0 || se > 60)
        return -1;
    double frac = 0, scale = 0.1;
    if (lit(&p, '.')) {
        if (!isdigit((unsigned char)*p))
            return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    long off = 0;
    if (!lit(&p, 'Z') && !lit(&p, 'z')) {
        int sign = lit(&p, '-') ? -1 : lit(&p, '+') ? 1 : 0;
        int oh = digits(&p, 2), om = lit(&p, ':') ? digits(&p, 2) : -1;
        if (sign == 0 || oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        off = sign * (oh * 3600L + om * 60L);
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = se};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (double)t - (double)off + frac;
    return 0;
}

int cli_parse_lookback(const char *s, double *out, char *err, size_t errlen)
{
    double v;
    if (cli_parse_duration(s, &v) != 0 || v > CLI_LOOKBACK_MAX) {
        snprintf(err, errlen, "\"%.40s\" is not a duration from 0 to %ds, such as 60s or 2m "
                 "(0 turns the look back off)", s, CLI_LOOKBACK_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

long cli_past_seconds(double now, double starts, double lookback)
{
    if (!(lookback > 0))
        return 0;
    double since = starts >= 0 && now > starts ? now - starts : 0;
    double past = ceil(since + lookback - 1e-9); /* 60.0000000001 from float noise is 60 */
    return past > CLI_PAST_MAX ? CLI_PAST_MAX : (long)past;
}

/* X-Takhin-Past-Available: a whole number of seconds, or -1. */
static long past_available(const char *v)
{
    char *end;
    errno = 0;
    long a = strtol(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return isdigit((unsigned char)*v) && *end == '\0' && errno == 0 ? a : -1;
}

int cli_past_answer(cli_past_result *r, int status, const char *avail, const char *key)
{
    long a = past_available(avail ? avail : "");
    bool ok = status >= 200 && status <= 299;
    if (r->asked <= 0 || (ok && a >= 0) || (!ok && status != 400))
        return 0; /* nothing asked, all of it got, or a failure of its own */
    r->shortened = true;
    r->got = ok || a >= r->asked ? 0 : a > 0 ? a : 0;
    if (ok)
        snprintf(r->note, sizeof r->note, "the target ignored ?past=%ld (no "
                 "X-Takhin-Past-Available: a profiler without the flight recorder): only the "
                 "seconds after the alert", r->asked);
    else if (r->got > 0)
        snprintf(r->note, sizeof r->note, "the target's flight recorder holds %lds, not the "
                 "%lds asked: got its last %lds", a, r->asked, a);
    else if (a == 0)
        snprintf(r->note, sizeof r->note, "the target's flight recorder is off "
                 "(X-Takhin-Past-Available: 0; its %s): only the seconds after the alert", key);
    else if (a < 0)
        snprintf(r->note, sizeof r->note, "the target refused ?past=%ld (400 without "
                 "X-Takhin-Past-Available): only the seconds after the alert", r->asked);
    else
        snprintf(r->note, sizeof r->note, "the target refused ?past=%ld though it holds %lds: "
                 "only the seconds after the alert", r->asked, a);
    return ok ? 0 : 1;
}
