/* pf_internal.c - error filling and whole-file reading for the profile
 * core's own modules (pf_internal.h). */
#include "pf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static pf_code read_fd(int fd, const char *path, size_t max, char **buf, size_t *len,
                       pf_err *err)
{
    size_t n = 0, cap = 0;
    char *b = NULL;
    for (;;) {
        if (pf_grow(&b, &cap, n + 65537, 1) != 0) {
            free(b);
            return pf_seterr(err, PF_ERR_NOMEM, "reading %s: out of memory", path);
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
    pf_code rc = read_fd(fd, path, max, buf, len, err);
    close(fd);
    return rc;
}
