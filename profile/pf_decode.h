/*
 * pf_decode.h - reading a profile for analysis: profile.proto from any
 * producer (Go's runtime, pprof, this project), gzipped or plain, and the
 * legacy gperftools CPU format, into the analysis form (pf_decoded.h).
 *
 * The profile.proto reader streams: no intermediate message tree, one
 * sweep over the bytes with memory for the distinct stacks (500k sample
 * records in about 0.3 s). Fields may come in any order, repeated scalars
 * packed or not; unknown fields are skipped, a known field with the wrong
 * wire type is refused. Every length, string index and id is checked
 * (labels included, even when they are not kept). A malformed input gives
 * a PF_ERR_FORMAT error with the place ("sample 12: location id 99 not
 * found"), never a crash; a gzip bomb PF_ERR_LIMIT.
 *
 * Samples. By default identical stacks are merged while reading and
 * labels are checked but dropped: what analysis needs. PF_DECODE_RECORDS
 * keeps each sample record as it is, with its labels, in the order of the
 * file.
 */
#ifndef PF_DECODE_H
#define PF_DECODE_H

#include <stddef.h>

#include "pf_common.h"
#include "pf_decoded.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- reading ---- */

enum pf_decode_flags {
    PF_DECODE_RECORDS = 1u << 0,   /* one sample per record, labels kept */
    PF_DECODE_BUILD_IDS = 1u << 1, /* legacy CPU input: build IDs read from the
                                      mapped files (the profile is from this host) */
};

#define PF_DECODE_DEFAULT_MAX (256u << 20) /* uncompressed bytes */

/* Decodes data[0..len): gzipped (every member) or plain; profile.proto or
 * a legacy gperftools CPU profile (format says which). max_bytes bounds
 * the (uncompressed) size, 0 = the default above. NULL on error. */
pf_decoded *pf_decode(const void *data, size_t len, size_t max_bytes, unsigned flags,
                      pf_err *err);

/* Plain (already inflated) data only, profile.proto or legacy CPU. */
pf_decoded *pf_decode_plain(const void *data, size_t len, unsigned flags, pf_err *err);

#ifdef __cplusplus
}
#endif
#endif
