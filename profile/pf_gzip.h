/*
 * pf_gzip.h - gzip framing, for profile.proto and for anything else the
 * plugin and the CLI send or read gzipped (one implementation, on zlib):
 * inflating, deflating in one call, and deflating as a stream.
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
 * malloc'd buffer (*out, *out_len; the caller frees). Memory follows the
 * compressed size (16 times it and 1 MiB at most, until the real size is
 * known): PF_ERR_LIMIT beyond max bytes uncompressed (a gzip bomb) comes
 * before more is allocated,
 * PF_ERR_FORMAT on corrupt or truncated data or garbage after the last
 * member ("gzip: truncated data"), PF_ERR_NOMEM. */
pf_code pf_gunzip(const void *data, size_t len, size_t max, uint8_t **out, size_t *out_len,
                  pf_err *err);

/* Compresses data[0..len) into one gzip member, a malloc'd buffer the
 * caller frees. PF_OK, PF_ERR_ARG (len over 2 GiB) or PF_ERR_NOMEM. */
pf_code pf_gzip(const void *data, size_t len, uint8_t **out, size_t *out_len, pf_err *err);

/* A gzip member written as it goes, to fn(ctx, ...): memory stays at two
 * 64 KiB buffers whatever the size.
 *
 *   pf_gzw *z = pf_gzw_new(1, fn, ctx, &err);   // level 0-9, 1 is fastest
 *   pf_gzw_write(z, data, len);                 // any number of times
 *   rc = pf_gzw_finish(z, &err);                // the trailer; frees z
 *
 * pf_gzw_write has the shape of a pf_write_fn (z as its ctx), so a writer
 * can feed it directly. Errors are sticky: after the sink fails, writes do
 * nothing and pf_gzw_finish says PF_ERR_WRITE. */
typedef struct pf_gzw pf_gzw;

pf_gzw *pf_gzw_new(int level, pf_write_fn fn, void *ctx, pf_err *err); /* NULL: no memory */
int pf_gzw_write(void *z, const void *data, size_t len); /* 0, or -1 (the sink failed) */
/* Ends the member and frees z: PF_OK or PF_ERR_WRITE. NULL is fine. */
pf_code pf_gzw_finish(pf_gzw *z, pf_err *err);
/* Frees z without ending the member (after another failure). */
void pf_gzw_free(pf_gzw *z);

#ifdef __cplusplus
}
#endif
#endif
