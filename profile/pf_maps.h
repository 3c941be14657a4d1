/*
 * pf_maps.h - memory mappings (the /proc/<pid>/maps format) with ELF
 * build IDs, for the Mapping table of a profile.
 *
 * Ownership: a pf_maps and every string in it belong to the pf_maps; free
 * it with pf_maps_free. Thread-safety: a pf_maps is immutable once built;
 * concurrent readers are fine.
 */
#ifndef PF_MAPS_H
#define PF_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pf_mapping {
    uint64_t start, limit; /* [start, limit) in the process */
    uint64_t offset;       /* file offset of start */
    uint64_t inode;
    const char *path;      /* "" when anonymous; " (deleted)" removed */
    char build_id[81];     /* lowercase hex of NT_GNU_BUILD_ID; "" if unknown */
    char perms[5];         /* "r-xp" */
    bool exec;             /* 'x' in perms */
    bool deleted;          /* the path carried " (deleted)": file replaced */
} pf_mapping;

typedef struct pf_maps {
    pf_mapping *map; /* sorted by start, as the kernel writes them */
    size_t len;
} pf_maps;

enum pf_maps_flags {
    PF_MAPS_EXEC_ONLY = 1u << 0,     /* keep executable mappings only */
    PF_MAPS_BUILD_ID_SELF = 1u << 1, /* build IDs from the objects loaded in
                                        this process (memory, exact even for
                                        deleted files) */
    PF_MAPS_BUILD_ID_FILE = 1u << 2, /* build IDs read from the files named by
                                        the paths (for maps of another time
                                        or process); used where SELF fails */
};

/* Parses maps text (need not be NUL-terminated). Lines that do not parse are
 * skipped; only an allocation failure or more than 1,000,000 mappings fail.
 * Returns a new pf_maps or NULL with *err set. */
pf_maps *pf_maps_parse(const char *text, size_t len, unsigned flags, pf_err *err);

/* Reads /proc/self/maps; PF_MAPS_BUILD_ID_SELF is implied. */
pf_maps *pf_maps_read_self(unsigned flags, pf_err *err);

/* The mapping containing addr, or NULL (binary search). */
const pf_mapping *pf_maps_find(const pf_maps *m, uint64_t addr);

/* Reads the build ID of an ELF file into out (hex, >= 81 bytes).
 * Returns 0, or -1 when the file has none or cannot be read. */
int pf_build_id_of_file(const char *path, char *out, size_t outlen);

void pf_maps_free(pf_maps *m); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
