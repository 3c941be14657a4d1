/*
 * pf_internal.h - helpers shared by the profile core's own .c files.
 * Not part of the public API: plugin and CLI code include profile.h.
 */
#ifndef PF_INTERNAL_H
#define PF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"

/* Fills *err (if non-NULL) and returns `code`. */
pf_code pf_seterr(pf_err *err, pf_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole file (procfs too) into a malloc'd buffer, NUL-terminated
 * (not counted in *len). Fails with PF_ERR_LIMIT beyond max bytes. */
pf_code pf_read_file(const char *path, size_t max, char **buf, size_t *len, pf_err *err);

/* Grows *arr (elements of `elem` bytes) so that it holds `need` elements.
 * Returns 0, or -1 on overflow or out of memory (*arr unchanged). */
int pf_grow(void *arr, size_t *cap, size_t need, size_t elem);

/* ---- hashing ---- */
uint64_t pf_hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t pf_hash_u64(uint64_t x);

/* ---- index map: hash -> uint32 index, equality decided by the caller ---- */
typedef bool (*pf_idx_eq)(const void *ctx, uint32_t idx, const void *key);

typedef struct pf_idxmap {
    uint32_t *idx;   /* index + 1; 0 = empty slot */
    uint32_t *hash;  /* low 32 bits of the hash, for rehash and fast reject */
    size_t cap, len; /* cap is a power of two */
} pf_idxmap;

/* Returns the stored index or -1. */
int64_t pf_idxmap_find(const pf_idxmap *m, uint64_t hash, pf_idx_eq eq,
                       const void *ctx, const void *key);
/* Inserts (caller checked absence). Returns 0 or -1 (out of memory). */
int pf_idxmap_insert(pf_idxmap *m, uint64_t hash, uint32_t idx);
void pf_idxmap_clear(pf_idxmap *m);
void pf_idxmap_free(pf_idxmap *m);

/* ---- string table: interned strings, index 0 is "" ---- */
typedef struct pf_strtab {
    char **str;
    size_t len, cap;
    pf_idxmap map;
    pf_arena arena;
} pf_strtab;

int pf_strtab_init(pf_strtab *t);                    /* 0 or -1 */
int64_t pf_strtab_intern(pf_strtab *t, const char *s); /* index or -1; NULL -> 0 */
void pf_strtab_free(pf_strtab *t);

/* ---- loaded objects of this process (dl_iterate_phdr) ---- */
typedef struct pf_object {
    char *name;        /* as the loader knows it; "" for the main program */
    uint64_t bias;     /* load bias (dlpi_addr) */
    uint64_t lo, hi;   /* span of the PT_LOAD segments, absolute */
    char build_id[81]; /* hex; "" when absent */
} pf_object;

typedef struct pf_objects {
    pf_object *obj;
    size_t len;
    unsigned long long adds, subs; /* loader counters at collection time */
} pf_objects;

int pf_objects_collect(pf_objects *out); /* 0 or -1 (out of memory) */
const pf_object *pf_objects_find(const pf_objects *o, uint64_t addr);
void pf_objects_free(pf_objects *o);
/* The loader's (adds, subs) counters, to detect dlopen/dlclose cheaply. */
void pf_objects_counters(unsigned long long *adds, unsigned long long *subs);

/* Build ID of an ELF file, read by hand from its PT_NOTE segments.
 * Writes hex into out (>= 81 bytes). Returns 0, or -1 if none/unreadable. */
int pf_elf_build_id_fd(int fd, char *out, size_t outlen);
/* Hex-encodes a build ID note descriptor; truncates to outlen - 1. */
void pf_hex(const uint8_t *data, size_t len, char *out, size_t outlen);

#endif
