/*
 * pf_symbolize.h - symbolization of addresses of this process with
 * elfutils libdw: function names (static ones too), source file and line,
 * inlined frames, and a cache of the results.
 *
 * Addresses are looked up exactly as given. A profile's Location.address
 * is already the address of the instruction of interest (the leaf PC, or
 * return address - 1 for callers; see pf_profile.h), and so are the
 * addresses `go tool pprof` posts to /debug/pprof/symbol.
 *
 * Binaries replaced on disk since they were loaded (" (deleted)" in
 * /proc/self/maps, e.g. after a package upgrade) still resolve: the main
 * program is read through /proc/self/exe, a library whose file changed
 * through /proc/self/map_files/<start>-<end> (that one needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE; without it the library's
 * addresses stay unresolved).
 *
 * Debug info: DWARF and symbols in the binary itself, or a separate file
 * found by build ID under the debug roots and /usr/lib/debug/.build-id
 * (Debian's -dbg and -dbgsym packages), or through .gnu_debuglink, checked
 * against the build ID (pf_dwarf.h); failing those, the MiniDebugInfo
 * symbol table (.gnu_debugdata, read by libdwfl). Never the debuginfod
 * client (no network, no libcurl loaded into the server).
 *
 * Thread-safety: every function may be called from any thread; a mutex
 * serializes lookups (libdw is not thread-safe).
 * Ownership: the strings in a pf_symbol belong to the symbolizer and stay
 * valid until pf_symbolizer_free, even across pf_symbolizer_sync.
 */
#ifndef PF_SYMBOLIZE_H
#define PF_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"
#include "pf_symbol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_symbolizer pf_symbolizer;

typedef struct pf_symbolizer_stats {
    uint64_t lookups;   /* pf_symbolize + pf_symbolize_name calls */
    uint64_t hits;      /* answered from the cache */
    uint64_t misses;    /* resolved with libdw */
    uint64_t reloads;   /* module list rebuilt (dlopen/dlclose seen) */
    size_t entries;     /* addresses currently cached */
    size_t cache_bytes; /* their memory, index included: at most 8 MiB */
    size_t modules;     /* modules reported to libdw */
} pf_symbolizer_stats;

/* Creates a symbolizer for this process and reports its loaded objects
 * (cheap: symbol tables and DWARF are read on first use). NULL on error. */
pf_symbolizer *pf_symbolizer_new(pf_err *err);

/* Resolves one address. Returns true if anything is known (out->nframes >
 * 0). Results are cached; a miss outside every known module first picks
 * up objects dlopen'd since. */
bool pf_symbolize(pf_symbolizer *s, uint64_t addr, pf_symbol *out);

/* For /debug/pprof/symbol: copies the innermost function name of addr into
 * buf (truncated to len - 1). Returns true if a name was found. */
bool pf_symbolize_name(pf_symbolizer *s, uint64_t addr, char *buf, size_t len);

/* Extra debug roots (':'-separated absolute directories; NULL or "":
 * none) searched before /usr/lib/debug. A change drops the cache. 0, or
 * -1 when out of memory (nothing changed). */
int pf_symbolizer_set_debug_dirs(pf_symbolizer *s, const char *dirs);

/* Rereads the list of loaded objects if dlopen/dlclose happened since the
 * last look; the cache is dropped then. The encoder calls it once per
 * profile. */
void pf_symbolizer_sync(pf_symbolizer *s);

/* Frees libdw's data (with debug info packages installed, tens of MB:
 * libc's decompressed DWARF alone is about 20 MB) but keeps the cache; the
 * next cache miss loads it again (about 0.1 s with libc's debug info).
 * For a server that profiles rarely: call it after each profile. */
void pf_symbolizer_release(pf_symbolizer *s);

void pf_symbolizer_get_stats(pf_symbolizer *s, pf_symbolizer_stats *out);

void pf_symbolizer_free(pf_symbolizer *s); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
