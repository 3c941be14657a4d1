/*
 * pf_util.h - the small mechanisms of the profile core, for the plugin,
 * the CLI and the tests alike (one copy each): an arena, growable arrays,
 * hashing, an index map (a hash table whose entries are array indices), a
 * string table, a string builder and the monotonic clock.
 *
 * Conventions: a zero-initialized struct is an empty, valid one (except
 * pf_strtab: pf_strtab_init); functions that can run out of memory return
 * 0 / an index, or -1 / NULL and leave the structure as it was.
 * None of them locks: one thread at a time per structure.
 */
#ifndef PF_UTIL_H
#define PF_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arena: many small allocations freed at once ----
 * The memory is 16-aligned and zeroed; NULL when out of memory. Blocks of
 * 4 KiB growing with the arena to 64 KiB; an allocation larger than a
 * quarter of a block gets a block of its own. */
typedef struct pf_arena {
    struct pf_chunk *head;
    size_t bytes; /* asked of malloc for its blocks, headers included */
} pf_arena;

void *pf_arena_alloc(pf_arena *a, size_t size);
void *pf_arena_array(pf_arena *a, size_t n, size_t size); /* overflow-checked */
char *pf_arena_strdup(pf_arena *a, const char *s);
void pf_arena_free(pf_arena *a); /* and it is empty again */

/* Asks for transparent huge pages on a large buffer (fewer page faults,
 * which cost much in VMs); advice only, harmless when refused. */
void pf_hugepages(void *p, size_t len);

/* ---- growable arrays ----
 * Grows *arr (a pointer to the array pointer; elements of `elem` bytes,
 * capacity *cap) so that it holds `need` elements, doubling from 8.
 * 0, or -1 on overflow or out of memory (*arr and *cap unchanged).
 *   if (pf_grow(&v, &cap, n + 1, sizeof *v) != 0) return -1;
 *   v[n++] = x; */
int pf_grow(void *arr, size_t *cap, size_t need, size_t elem);

/* ---- hashing: 64-bit FNV-1a over words with a murmur finalizer ----
 * Well mixed in every bit: any bits of it may pick a slot. Chain parts by
 * passing one's hash as the next one's seed. */
uint64_t pf_hash_bytes(const void *data, size_t len, uint64_t seed);
uint64_t pf_hash_u64(uint64_t x);

/* ---- index map: hash -> uint32 index into the caller's array ----
 * The caller keeps the elements (in an array) and decides equality; the
 * map keeps only their indices and the low 32 bits of their hashes (open
 * addressing, linear probing, load at most 1/2).
 *   static bool eq(const void *ctx, uint32_t i, const void *key)
 *   { return strcmp(((const tab *)ctx)->name[i], key) == 0; }
 *   int64_t i = pf_idxmap_find(&t->map, h, eq, t, name);
 *   if (i < 0) { ...append at n...; pf_idxmap_insert(&t->map, h, n); } */
typedef bool (*pf_idx_eq)(const void *ctx, uint32_t idx, const void *key);

typedef struct pf_idxmap {
    uint64_t *slot;  /* low 32 bits of the hash << 32 | index + 1; 0 = empty:
                      * a probe reads one word, for rehash and fast reject */
    size_t cap, len; /* cap is a power of two */
} pf_idxmap;

/* The stored index whose element eq() says is key, or -1. */
int64_t pf_idxmap_find(const pf_idxmap *m, uint64_t hash, pf_idx_eq eq,
                       const void *ctx, const void *key);
/* Inserts (the caller checked absence). 0 or -1 (out of memory). */
int pf_idxmap_insert(pf_idxmap *m, uint64_t hash, uint32_t idx);
void pf_idxmap_clear(pf_idxmap *m); /* empty, memory kept */
void pf_idxmap_free(pf_idxmap *m);

/* ---- string table: interned copies, index 0 is "" ---- */
typedef struct pf_strtab {
    char **str;
    size_t len, cap;
    pf_idxmap map;
    pf_arena arena;
} pf_strtab;

int pf_strtab_init(pf_strtab *t);                      /* 0 or -1 */
int64_t pf_strtab_intern(pf_strtab *t, const char *s); /* index or -1; NULL -> 0 */
void pf_strtab_free(pf_strtab *t);

/* ---- string builder: a growing, NUL-terminated string ----
 * Errors are sticky: after running out of memory, appends do nothing and
 * failed says so; s is NULL until something is appended. */
typedef struct pf_strbuf {
    char *s;
    size_t len, cap;
    bool failed;
} pf_strbuf;

int pf_strbuf_put(pf_strbuf *b, const char *s, size_t n); /* 0 or -1 */
int pf_strbuf_puts(pf_strbuf *b, const char *s);          /* 0 or -1 */
int pf_strbuf_printf(pf_strbuf *b, const char *fmt, ...)  /* 0 or -1 */
    __attribute__((format(printf, 2, 3)));
void pf_strbuf_free(pf_strbuf *b); /* and it is empty again */

/* ---- clock ---- */
/* CLOCK_MONOTONIC: for durations and deadlines, never for dates.
 * Async-signal-safe (clock_gettime only). */
int64_t pf_mono_ns(void);
double pf_mono_s(void);
double pf_mono_ms(void);

#ifdef __cplusplus
}
#endif
#endif
