/* Authentication: see auth.h. */
#include "core/auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Compares in time that depends only on the lengths of both inputs. */
static bool same_secret(const char *given, size_t given_len, const char *token)
{
    size_t token_len = strlen(token);
    unsigned char diff = given_len != token_len;
    for (size_t i = 0; i < token_len; i++)
        diff |= (unsigned char)(token[i] ^ (i < given_len ? given[i] : 0));
    return diff == 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes base64 into out; returns the length, or -1. */
static long b64_decode(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        int v = b64_value(*in);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= cap)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return (long)n;
}

bool prof_auth_check(const char *token, const char *authorization)
{
    if (token == NULL || token[0] == '\0')
        return true;
    if (authorization == NULL)
        return false;
    if (strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *given = authorization + 7;
        return same_secret(given, strlen(given), token);
    }
    if (strncasecmp(authorization, "Basic ", 6) == 0) {
        char userpass[2 * PROF_TOKEN_MAX];
        long n = b64_decode(authorization + 6, userpass, sizeof userpass);
        const char *colon = n > 0 ? memchr(userpass, ':', (size_t)n) : NULL;
        if (colon == NULL)
            return false;
        return same_secret(colon + 1, (size_t)(userpass + n - (colon + 1)), token);
    }
    return false;
}

bool prof_auth_is_loopback(const char *host)
{
    struct in_addr a;
    if (strcmp(host, "localhost") == 0)
        return true;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n\v\f")] == '\0';
}

/* The first line of a secret file, never its content in a message. */
static int read_secret_file(const char *fkey, const char *origin, const char *path, char *out,
                            size_t len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "profiler.%s = \"%s\" (%s): cannot read it: %s", fkey, path,
                 origin, strerror(errno));
        return -1;
    }
    char *line = calloc(1, len + 2); /* room to see a line too long */
    bool got = line != NULL && fgets(line, (int)len + 2, f) != NULL;
    fclose(f);
    if (got)
        line[strcspn(line, "\r\n")] = '\0';
    if (!got || blank(line) || strlen(line) >= len) {
        free(line);
        snprintf(err, errlen, "profiler.%s = \"%s\" (%s): expected the secret on its first "
                 "line, 1 to %zu characters, not only blanks", fkey, path, origin, len - 1);
        return -1;
    }
    snprintf(out, len, "%s", line);
    free(line);
    return 0;
}

int prof_auth_read_secret(const tk_host_api *api, const tk_config *cfg, const char *key,
                          char *out, size_t len, char *err, size_t errlen)
{
    char fkey[64];
    snprintf(fkey, sizeof fkey, "%s_file", key);
    const tk_config_value *val = api->config_get(cfg, key), *file = api->config_get(cfg, fkey);
    const tk_config_value *both[] = {val, file};
    const char *names[] = {key, fkey};
    out[0] = '\0';
    for (int i = 0; i < 2; i++)
        if (both[i]->set && (both[i]->s == NULL || blank(both[i]->s))) {
            snprintf(err, errlen, "profiler.%s is set but empty (%s): a blank secret would "
                     "quietly turn its authentication off. Give it a value, or unset it "
                     "(an empty variable still overrides the config file)", names[i],
                     both[i]->origin);
            return -1;
        }
    if (val->set && file->set) {
        snprintf(err, errlen, "profiler.%s (%s) and profiler.%s (%s) are both set: expected "
                 "one of them", key, val->origin, fkey, file->origin);
        return -1;
    }
    if (file->set)
        return read_secret_file(fkey, file->origin, file->s, out, len, err, errlen);
    if (val->set && strlen(val->s) >= len) {
        snprintf(err, errlen, "profiler.%s (%s): expected at most %zu characters", key,
                 val->origin, len - 1);
        return -1;
    }
    snprintf(out, len, "%s", val->set ? val->s : "");
    return 0;
}
