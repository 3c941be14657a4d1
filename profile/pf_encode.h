/*
 * pf_encode.h - the profile core's one profile.proto encoder: it writes
 * the analysis form (pf_decoded, pf_decode.h), plain or gzipped, streamed
 * to a writer or into a buffer. The builder model (pf_profile) is written
 * through it too: pf_profile_write converts, symbolizing on the way, then
 * encodes (pf_profile.h).
 *
 * What is written: every table of the profile, with ids that are the
 * indices + 1 (location i has id i + 1, its mapping index + 1 is the
 * mapping's id, a line's function index + 1 the function's id); the
 * sample records as they are (values, locations leaf first, labels when
 * kept); the header (period, times, comments, drop/keep frames) and the
 * default sample type when it is not the last (pprof's rule picks the
 * last). Strings are interned into one table while writing and written
 * at the end (index 0 is ""). Samples stream out as they are encoded:
 * with gzip, memory is bounded by the compressor's buffers, not by the
 * profile's size.
 */
#ifndef PF_ENCODE_H
#define PF_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"
#include "pf_decoded.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pf_write_flags {
    PF_WRITE_GZIP = 1u << 0, /* gzip framing (what pprof clients expect), level 1 */
};

/* Writes d as profile.proto to fn(ctx, ...). PF_OK, PF_ERR_ARG (no
 * profile or no writer), PF_ERR_WRITE (fn failed) or PF_ERR_NOMEM. */
pf_code pf_decoded_write(const pf_decoded *d, unsigned flags, pf_write_fn fn, void *ctx,
                         pf_err *err);

/* Same, into a malloc'd buffer the caller frees. PF_OK, PF_ERR_ARG or
 * PF_ERR_NOMEM. */
pf_code pf_decoded_encode(const pf_decoded *d, unsigned flags, uint8_t **out, size_t *out_len,
                          pf_err *err);

#ifdef __cplusplus
}
#endif
#endif
