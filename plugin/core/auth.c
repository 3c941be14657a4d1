/* Authentication: see auth.h. */
#include "core/auth.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
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

int prof_auth_read_token_file(const char *path, char *token, size_t len,
                              char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read profiler.auth.token_file %s: %m", path);
        return -1;
    }
    char line[PROF_TOKEN_MAX + 2] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!got || line[0] == '\0' || strlen(line) >= len) {
        snprintf(err, errlen, "profiler.auth.token_file %s: expected the token on its first "
                 "line, 1 to %zu characters", path, len - 1);
        return -1;
    }
    snprintf(token, len, "%s", line);
    return 0;
}
