/* pf_util.c - the small mechanisms of pf_util.h: arena, growable arrays,
 * hashing, index map, string table, string builder, clock. */
#include "pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

int pf_grow(void *arr, size_t *cap, size_t need, size_t elem)
{
    void **p = arr;
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return -1;
    void *n = realloc(*p, ncap * elem);
    if (n == NULL)
        return -1;
    *p = n;
    *cap = ncap;
    return 0;
}

/* ---- arena ---- */

#define CHUNK_SIZE (64u * 1024u)
#define FIRST_CHUNK (4u * 1024u)

struct pf_chunk {
    struct pf_chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void *pf_arena_alloc(pf_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    struct pf_chunk *c = a->head;
    if (c == NULL || c->size - c->used < size) {
        /* Blocks grow with the arena, from FIRST_CHUNK to CHUNK_SIZE: a
         * small one (a flight recorder's bucket) stays small. */
        size_t want = a->bytes < FIRST_CHUNK ? FIRST_CHUNK
                    : a->bytes < CHUNK_SIZE ? a->bytes : CHUNK_SIZE;
        bool big = size > want / 4;
        size_t csize = big ? size : want;
        if (csize > SIZE_MAX - sizeof *c)
            return NULL;
        struct pf_chunk *n = malloc(sizeof *n + csize);
        if (n == NULL)
            return NULL;
        n->size = csize;
        n->used = 0;
        a->bytes += sizeof *n + csize;
        if (c != NULL && big) {
            /* A big block: keep the current chunk in front for small ones. */
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void *pf_arena_array(pf_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > (SIZE_MAX - 16) / size)
        return NULL;
    return pf_arena_alloc(a, n * size);
}

char *pf_arena_strdup(pf_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = pf_arena_alloc(a, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void pf_arena_free(pf_arena *a)
{
    struct pf_chunk *c = a->head;
    while (c != NULL) {
        struct pf_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

void pf_hugepages(void *p, size_t len)
{
    const uintptr_t huge = 2u << 20;
    if (p == NULL || len < huge)
        return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + len) & ~(huge - 1);
    if (e > a)
        madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only: failure is harmless */
}

/* ---- hashing (64-bit FNV-1a over words, then a murmur finalizer) ---- */

uint64_t pf_hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t pf_hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        h = (h ^ *p++) * 0x100000001b3ULL;
    return pf_hash_u64(h);
}

/* ---- index map (open addressing, linear probing, load <= 1/2) ----
 * Only the low 32 bits of the (well mixed) hash are kept: they pick the
 * first probe slot and reject most mismatches before calling eq(). */

int64_t pf_idxmap_find(const pf_idxmap *m, uint64_t hash, pf_idx_eq eq,
                       const void *ctx, const void *key)
{
    if (m->cap == 0)
        return -1;
    size_t mask = m->cap - 1;
    uint32_t h32 = (uint32_t)hash;
    for (size_t pos = h32 & mask;; pos = (pos + 1) & mask) {
        uint64_t v = m->slot[pos];
        if (v == 0)
            return -1;
        if ((uint32_t)(v >> 32) == h32 && eq(ctx, (uint32_t)v - 1, key))
            return (uint32_t)v - 1;
    }
}

static void idxmap_put(pf_idxmap *m, uint64_t v)
{
    size_t mask = m->cap - 1;
    size_t pos = (uint32_t)(v >> 32) & mask;
    while (m->slot[pos] != 0)
        pos = (pos + 1) & mask;
    m->slot[pos] = v;
}

static int idxmap_rehash(pf_idxmap *m, size_t ncap)
{
    pf_idxmap n = {calloc(ncap, sizeof(uint64_t)), ncap, m->len};
    if (n.slot == NULL)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slot[i] != 0)
            idxmap_put(&n, m->slot[i]);
    }
    free(m->slot);
    *m = n;
    return 0;
}

int pf_idxmap_insert(pf_idxmap *m, uint64_t hash, uint32_t idx)
{
    if (idx == UINT32_MAX) /* idx + 1 would read as an empty slot */
        return -1;
    if ((m->len + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        if (ncap > ((size_t)1 << 32) || idxmap_rehash(m, ncap) != 0)
            return -1;
    }
    idxmap_put(m, (uint64_t)(uint32_t)hash << 32 | (idx + 1));
    m->len++;
    return 0;
}

void pf_idxmap_clear(pf_idxmap *m)
{
    if (m->cap)
        memset(m->slot, 0, m->cap * sizeof *m->slot);
    m->len = 0;
}

void pf_idxmap_free(pf_idxmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- string table ---- */

static bool str_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_strtab *t = ctx;
    return strcmp(t->str[idx], key) == 0;
}

int pf_strtab_init(pf_strtab *t)
{
    memset(t, 0, sizeof *t);
    return pf_strtab_intern(t, "") == 0 ? 0 : -1;
}

int64_t pf_strtab_intern(pf_strtab *t, const char *s)
{
    if (s == NULL)
        s = "";
    uint64_t h = pf_hash_bytes(s, strlen(s), 0);
    int64_t found = pf_idxmap_find(&t->map, h, str_eq, t, s);
    if (found >= 0)
        return found;
    if (t->len >= UINT32_MAX - 1 || pf_grow(&t->str, &t->cap, t->len + 1, sizeof(char *)) != 0)
        return -1;
    char *copy = pf_arena_strdup(&t->arena, s);
    if (copy == NULL || pf_idxmap_insert(&t->map, h, (uint32_t)t->len) != 0)
        return -1;
    t->str[t->len] = copy;
    return (int64_t)t->len++;
}

void pf_strtab_free(pf_strtab *t)
{
    free(t->str);
    pf_idxmap_free(&t->map);
    pf_arena_free(&t->arena);
    memset(t, 0, sizeof *t);
}

/* ---- string builder ---- */

int pf_strbuf_put(pf_strbuf *b, const char *s, size_t n)
{
    if (b->failed || n > SIZE_MAX - b->len - 1 ||
        pf_grow(&b->s, &b->cap, b->len + n + 1 < 256 ? 256 : b->len + n + 1, 1) != 0) {
        b->failed = true;
        return -1;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int pf_strbuf_puts(pf_strbuf *b, const char *s)
{
    return pf_strbuf_put(b, s, strlen(s));
}

int pf_strbuf_printf(pf_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->failed || n < 0 || pf_grow(&b->s, &b->cap, b->len + (size_t)n + 1, 1) != 0) {
        b->failed = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void pf_strbuf_free(pf_strbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---- clock ---- */

int64_t pf_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double pf_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double pf_mono_ms(void)
{
    return pf_mono_s() * 1e3;
}
