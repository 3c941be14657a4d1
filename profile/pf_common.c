/* pf_common.c - the error codes' names and the hex digit reader of
 * pf_common.h. */
#include "pf_common.h"

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
