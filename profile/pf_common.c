/* pf_common.c - the error codes' names and filling, the whole-file reader
 * and the hex digit reader of pf_common.h. */
#include "pf_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *pf_code_name(pf_code code)
{
    switch (code) {
    case PF_OK: return "ok";
    case PF_ERR_NOMEM: return "out of memory";
    case PF_ERR_ARG: return "invalid argument";
    case PF_ERR_IO: return "I/O error";
    case PF_ERR_FORMAT: return "malformed input";
    case PF_ERR_LIMIT: return "limit exceeded";
    case PF_ERR_WRITE: return "write failed";
    }
    return "unknown error";
}

pf_code pf_seterr(pf_err *err, pf_code code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int pf_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A regular file's size sizes the buffer at once (one byte more to see
 * the end, one for the NUL) and refuses one over max before reading;
 * anything else (procfs says size 0, pipes) grows, never past max + 2. */
pf_code pf_read_fd(int fd, const char *path, size_t max, char **buf, size_t *len, pf_err *err)
{
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (uint64_t)st.st_size > max)
        return pf_seterr(err, PF_ERR_LIMIT, "%s is larger than %zu bytes", path, max);
    size_t limit = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
    size_t n = 0, cap = regular && st.st_size > 0 ? (size_t)st.st_size + 2 : 0;
    char *b = cap > 0 ? malloc(cap) : NULL;
    if (cap > 0 && b == NULL)
        return pf_seterr(err, PF_ERR_NOMEM, "reading %s: out of memory", path);
    pf_hugepages(b, cap);
    for (;;) {
        if (n + 1 >= cap) { /* so n <= max: cap < limit */
            size_t want = cap < 65536 ? 65536 : cap > limit / 2 ? limit : cap * 2;
            want = want < limit ? want : limit;
            char *grown = realloc(b, want);
            if (grown == NULL) {
                free(b);
                return pf_seterr(err, PF_ERR_NOMEM, "reading %s: out of memory", path);
            }
            b = grown;
            cap = want;
        }
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(b);
            return pf_seterr(err, PF_ERR_IO, "reading %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            free(b);
            return pf_seterr(err, PF_ERR_LIMIT, "%s is larger than %zu bytes", path, max);
        }
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return PF_OK;
}

pf_code pf_read_file(const char *path, size_t max, char **buf, size_t *len, pf_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pf_seterr(err, PF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    pf_code rc = pf_read_fd(fd, path, max, buf, len, err);
    close(fd);
    return rc;
}
