/*
 * pf_legacy.h - the legacy gperftools CPU profile format (what
 * ProfilerStart writes), converted into the pf_profile model.
 *
 * Format: words of the writer's native size and byte order: a header
 * [0, 3, 0, period_us, 0], records [count, npcs, pc_0 .. pc_npcs-1], a
 * trailer [0, 1, 0], then the text of the writer's /proc/self/maps. Both
 * word sizes (4, 8) and both byte orders are recognized, as pprof does.
 * pc_0 is the exact PC of the leaf, later ones are return addresses.
 *
 * The result has sample types samples/count and cpu/nanoseconds (cpu =
 * count * period), period type cpu/nanoseconds, the executable mappings of
 * the embedded maps text, and address-only locations (symbolize them when
 * writing, with pf_profile_write and a pf_symbolizer, if the profile comes
 * from this process). Like pprof, a leaf duplicated by the unwinder as the
 * first return address is dropped.
 *
 * Hardened for untrusted input: empty, truncated, bad header, absurd
 * depth or count all give PF_ERR_FORMAT (or PF_ERR_LIMIT) with the byte
 * offset, never an out-of-bounds read.
 */
#ifndef PF_LEGACY_H
#define PF_LEGACY_H

#include <stdbool.h>
#include <stddef.h>

#include "pf_common.h"
#include "pf_profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* True if data starts with a legacy CPU profile header. */
bool pf_legacy_is_cpu(const void *data, size_t len);

/* Converts a legacy CPU profile. maps_flags are pf_maps_flags for the
 * embedded maps text: PF_MAPS_BUILD_ID_SELF when this very process wrote
 * the profile (exact build IDs), PF_MAPS_BUILD_ID_FILE to read them from
 * the files, 0 for none. Returns a new profile (caller frees) or NULL. */
pf_profile *pf_legacy_cpu_parse(const void *data, size_t len, unsigned maps_flags,
                                pf_err *err);

#ifdef __cplusplus
}
#endif
#endif
