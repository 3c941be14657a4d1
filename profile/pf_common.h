/*
 * pf_common.h - error reporting and output callback shared by the profile
 * core (prefix pf_). See profile.h for the map of the modules.
 *
 * Errors: every fallible function returns a pf_code (0 = PF_OK) or NULL,
 * and, when given a non-NULL `pf_err *`, fills it with the code and a
 * one-line human message ("legacy CPU profile: truncated record at byte
 * 4096 (needs 24 bytes, 8 left)"). The message is owned by the caller's
 * pf_err; nothing is allocated for it.
 */
#ifndef PF_COMMON_H
#define PF_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "pf_util.h" /* the small mechanisms (arena, arrays, maps, clock) */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pf_code {
    PF_OK = 0,
    PF_ERR_NOMEM,  /* out of memory */
    PF_ERR_ARG,    /* the caller passed an invalid argument */
    PF_ERR_IO,     /* a system call failed; the message carries errno text */
    PF_ERR_FORMAT, /* input data is malformed; the message says where */
    PF_ERR_LIMIT,  /* input exceeds a safety limit (size, depth, count) */
    PF_ERR_WRITE,  /* the output callback reported a failure */
} pf_code;

typedef struct pf_err {
    pf_code code;
    char msg[256];
} pf_err;

/* Output sink: write `len` bytes; return 0 on success, non-zero to abort
 * (e.g. the HTTP client went away). Called from the writing thread only. */
typedef int (*pf_write_fn)(void *ctx, const void *data, size_t len);

/* Static name of a code ("out of memory", "malformed input", ...). */
const char *pf_code_name(pf_code code);
/* Fills *err (when not NULL) with code and the formatted message, and
 * returns code: `return pf_seterr(err, PF_ERR_IO, "reading %s: ...", ...)`. */
pf_code pf_seterr(pf_err *err, pf_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole file (procfs too) into a malloc'd buffer the caller
 * frees, NUL-terminated (not counted in *len). Fails with PF_ERR_LIMIT
 * beyond max bytes; the messages name the path. */
pf_code pf_read_file(const char *path, size_t max, char **buf, size_t *len, pf_err *err);
/* The same from an open fd (left open), `name` standing for it in the
 * messages ("reading <name>: ...", "<name> is larger than ..."). */
pf_code pf_read_fd(int fd, const char *name, size_t max, char **buf, size_t *len, pf_err *err);

/* The value of a hexadecimal digit, or -1 (for %XX escapes and the like). */
int pf_hex_digit(char c);

#ifdef __cplusplus
}
#endif
#endif
