/*
 * pf_gzip.h - gzip framing, for profile.proto and for anything else the
 * plugin and the CLI send or read gzipped (one implementation, on zlib).
 */
#ifndef PF_GZIP_H
#define PF_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True if data starts with the gzip magic (1f 8b). */
bool pf_is_gzip(const void *data, size_t len);

/* Inflates gzip data, every member (as `cat a.gz b.gz` makes), into a
 * malloc'd buffer (*out, *out_len; the caller frees). Fails with
 * PF_ERR_LIMIT beyond max bytes uncompressed (a gzip bomb),
 * PF_ERR_FORMAT on corrupt or truncated data or garbage after the last
 * member ("gzip: truncated data"), PF_ERR_NOMEM. */
pf_code pf_gunzip(const void *data, size_t len, size_t max, uint8_t **out, size_t *out_len,
                  pf_err *err);

/* Compresses data[0..len) into one gzip member, a malloc'd buffer the
 * caller frees. PF_OK, PF_ERR_ARG (len over 2 GiB) or PF_ERR_NOMEM. */
pf_code pf_gzip(const void *data, size_t len, uint8_t **out, size_t *out_len, pf_err *err);

#ifdef __cplusplus
}
#endif
#endif
