/*
 * fuzz_query - the HTTP request parameters the plugin reads itself.
 *
 * Input: one query string (what follows '?'; NUL cuts it, as civetweb's
 * request line does), then, after a NUL, an Authorization header value.
 * Exercises prof_query_get (names seconds, debug, gc, a missing one; buffer
 * sizes 1 to 64), prof_query_seconds (the CPU and delta profiles' rule),
 * prof_query_seconds_frac (trace's fractional seconds), prof_query_debug, and
 * prof_auth_check (Bearer and Basic tokens) against a fixed token and one
 * taken from the query. Invariants: a value found fits its buffer and is
 * NUL-terminated; seconds accepted are in [1, max]; errors have messages.
 */
#include "fuzz.h"

#include "core/auth.h"
#include "http/query.h"

#include <math.h>
#include <string.h>

static void get(const char *query, const char *name)
{
    static const size_t sizes[] = {1, 2, 8, 32, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        char buf[64 + 8];
        memset(buf, 'Z', sizeof buf);
        int r = prof_query_get(query, name, buf, sizes[i]);
        FUZZ_ASSERT(r >= -1 && r <= 1, "prof_query_get returned %d", r);
        if (r == 1)
            FUZZ_ASSERT(memchr(buf, '\0', sizes[i]) != NULL, "%s: value not terminated", name);
        FUZZ_ASSERT(buf[sizes[i]] == 'Z', "%s: wrote past a %zu-byte buffer", name, sizes[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16 * 1024)
        return 0;
    char *query = fuzz_cstr(data, size);
    size_t qlen = strlen(query);
    char *authz = qlen < size ? fuzz_cstr(data + qlen + 1, size - qlen - 1) : NULL;

    get(query, "seconds");
    get(query, "debug");
    get(query, "gc");
    get(query, "");
    get(NULL, "seconds");

    static const long maxes[] = {1, 30, 120, 86400};
    for (size_t i = 0; i < sizeof maxes / sizeof *maxes; i++) {
        char err[256] = "";
        long secs = -7;
        if (prof_query_seconds(query, 30, maxes[i], &secs, err, sizeof err) == 0)
            FUZZ_ASSERT(secs == 30 || (secs >= 1 && secs <= maxes[i]), "seconds %ld", secs);
        else
            FUZZ_ASSERT(err[0] != '\0', "seconds refused without a message");
        double fsecs = -7;
        err[0] = '\0';
        if (prof_query_seconds_frac(query, 1.0, maxes[i], &fsecs, err, sizeof err) == 0)
            FUZZ_ASSERT(isfinite(fsecs) && fsecs > 0 && (fsecs <= (double)maxes[i] || fsecs == 1),
                        "trace seconds %g", fsecs);
        else
            FUZZ_ASSERT(err[0] != '\0', "trace seconds refused without a message");
    }
    long debug = -7;
    char derr[256] = "";
    if (prof_query_debug(query, &debug, derr, sizeof derr) == 0)
        FUZZ_ASSERT(debug >= 0, "debug %ld", debug);
    else
        FUZZ_ASSERT(derr[0] != '\0', "debug refused without a message");

    char token[PROF_TOKEN_MAX];
    if (prof_query_get(query, "token", token, sizeof token) != 1)
        snprintf(token, sizeof token, "s3cret-token");
    (void)prof_auth_check(token, authz ? authz : query);
    (void)prof_auth_check("s3cret-token", authz ? authz : query);
    (void)prof_auth_check("", authz);
    (void)prof_auth_check(token, NULL);
    (void)prof_auth_is_loopback(query);

    free(authz);
    free(query);
    return 0;
}
