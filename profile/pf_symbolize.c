/* pf_symbolize.c - libdw symbolizer of the own process, with a cache. */
#include "pf_symbolize.h"
#include "pf_dwarf.h"
#include "pf_internal.h"
#include "pf_maps.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The cache's bound: entries plus their index. Full, it starts over. One
 * address takes 48 bytes or more, and up to 48 of index: some 80,000
 * addresses, more than a large server's CPU profile holds. */
#define CACHE_MAX_BYTES (8u << 20)

typedef struct cache_entry {
    uint64_t addr;
    uint8_t nframes;
    bool has_debug_info;
    pf_sym_frame frame[];
} cache_entry;

struct pf_symbolizer {
    pthread_mutex_t lock;
    Dwfl *dwfl;
    pf_dw *dw;       /* lookup indexes over dwfl */
    unsigned long long adds, subs; /* loader counters the Dwfl reflects */
    size_t modules;
    pf_strtab strings;   /* names and files; live until free */
    pf_arena entry_mem;  /* cache entries; dropped with the cache */
    size_t entry_bytes;  /* what entry_mem holds */
    cache_entry **entry;
    size_t nentry, cap_entry;
    pf_idxmap map;       /* addr -> entry index */
    uint64_t lookups, hits, misses, reloads;
    char *debug_dirs;    /* extra debug roots (pf_dw_new), NULL: none */
};

/* ---- debug info: local files only ----
 * dwfl_standard_find_debuginfo would, failing a local file, dlopen the
 * debuginfod client (and with it libcurl, gnutls, ... into the server) and
 * may go to the network. pf_dw_find_debuginfo looks at local files only:
 * by build ID under the debug roots and /usr/lib/debug (Debian's -dbg and
 * -dbgsym packages), then .gnu_debuglink (pf_dwarf.h). */

static char *debuginfo_path; /* NULL: libdwfl's default search path */

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf, /* unused: every module comes with an fd */
    .find_debuginfo = pf_dw_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

/* ---- reporting the loaded objects to libdwfl ---- */

/* The mapping of the object that has a file name, or NULL. */
static const pf_mapping *object_mapping(const pf_maps *maps, const pf_object *ob)
{
    for (size_t i = 0; maps != NULL && i < maps->len; i++) {
        const pf_mapping *m = &maps->map[i];
        if (m->start >= ob->lo && m->start < ob->hi && m->path[0] != '\0')
            return m;
    }
    return NULL;
}

/* A copy of the vDSO image in a memfd, so libdwfl can read its symbols. */
static int vdso_fd(const pf_mapping *m)
{
    int fd = memfd_create("vdso", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = (size_t)(m->limit - m->start);
    if (write(fd, (const void *)(uintptr_t)m->start, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Opens the file an object was loaded from, also when it was replaced. */
static int object_fd(const pf_object *ob, const pf_mapping *m, bool main_program)
{
    if (main_program)
        return open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (m == NULL)
        return -1;
    if (strcmp(m->path, "[vdso]") == 0)
        return vdso_fd(m);
    if (m->path[0] != '/')
        return -1;
    if (!m->deleted) {
        char id[81] = "";
        int fd = open(m->path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && (ob->build_id[0] == '\0' ||
                        (pf_elf_build_id_fd(fd, id, sizeof id) == 0 &&
                         strcmp(id, ob->build_id) == 0)))
            return fd;
        if (fd >= 0)
            close(fd);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/map_files/%" PRIx64 "-%" PRIx64, m->start, m->limit);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static void report_object(pf_symbolizer *s, const pf_object *ob, const pf_maps *maps)
{
    if (ob->hi == 0)
        return;
    bool main_program = ob->name[0] == '\0';
    const pf_mapping *m = object_mapping(maps, ob);
    if (m == NULL && !main_program)
        return;
    int fd = object_fd(ob, m, main_program);
    if (fd < 0)
        return;
    const char *path = m != NULL ? m->path : "/proc/self/exe";
    if (dwfl_report_elf(s->dwfl, path, path, fd, ob->bias, false) == NULL)
        close(fd);
    else
        s->modules++;
}

/* Frees libdw's state (the cache stays). Caller holds the lock. */
static void drop_dwfl(pf_symbolizer *s)
{
    pf_dw_free(s->dw);
    s->dw = NULL;
    if (s->dwfl != NULL)
        dwfl_end(s->dwfl);
    s->dwfl = NULL;
    s->modules = 0;
}

/* Builds a new Dwfl with every object loaded now. Caller holds the lock. */
static void reload(pf_symbolizer *s)
{
    drop_dwfl(s);
    s->dwfl = dwfl_begin(&callbacks);
    s->dw = pf_dw_new(s->debug_dirs);
    pf_objects objs;
    if (s->dwfl == NULL || s->dw == NULL || pf_objects_collect(&objs) != 0)
        return;
    char *text;
    size_t len;
    pf_maps *maps = NULL;
    if (pf_read_file("/proc/self/maps", 64u << 20, &text, &len, NULL) == PF_OK) {
        maps = pf_maps_parse(text, len, 0, NULL);
        free(text);
    }
    dwfl_report_begin(s->dwfl);
    for (size_t i = 0; i < objs.len; i++)
        report_object(s, &objs.obj[i], maps);
    dwfl_report_end(s->dwfl, NULL, NULL);
    s->adds = objs.adds;
    s->subs = objs.subs;
    pf_maps_free(maps);
    pf_objects_free(&objs);
}

/* ---- cache ---- */

static bool entry_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_symbolizer *s = ctx;
    return s->entry[idx]->addr == *(const uint64_t *)key;
}

static cache_entry *cache_find(pf_symbolizer *s, uint64_t addr)
{
    int64_t i = pf_idxmap_find(&s->map, pf_hash_u64(addr), entry_eq, s, &addr);
    return i < 0 ? NULL : s->entry[i];
}

/* Empties the cache and frees its memory, index included. */
static void cache_clear(pf_symbolizer *s)
{
    pf_idxmap_free(&s->map);
    pf_arena_free(&s->entry_mem);
    free(s->entry);
    s->entry = NULL;
    s->entry_bytes = 0;
    s->nentry = s->cap_entry = 0;
}

/* The most the index of n entries can take: the pointer array grows by
 * doubling from 8 (16 bytes an entry at worst), the map keeps at most half
 * its slots full and doubles from 64 (4 slots of 8 bytes an entry). */
static size_t index_bytes_bound(size_t n)
{
    return 48 * n + 8 * sizeof(cache_entry *) + 64 * 2 * sizeof(uint32_t);
}

/* Stores a result; on allocation failure the result is just not cached. */
static void cache_add(pf_symbolizer *s, uint64_t addr, const pf_symbol *sym)
{
    size_t size = (sizeof(cache_entry) + sym->nframes * sizeof(pf_sym_frame) + 15) & ~(size_t)15;
    if (s->entry_bytes + size + index_bytes_bound(s->nentry + 1) > CACHE_MAX_BYTES)
        cache_clear(s);
    cache_entry *e = pf_arena_alloc(&s->entry_mem, size);
    if (e == NULL || pf_grow(&s->entry, &s->cap_entry, s->nentry + 1, sizeof e) != 0)
        return;
    s->entry_bytes += size;
    e->addr = addr;
    e->nframes = (uint8_t)sym->nframes;
    e->has_debug_info = sym->has_debug_info;
    memcpy(e->frame, sym->frame, sym->nframes * sizeof(pf_sym_frame));
    if (pf_idxmap_insert(&s->map, pf_hash_u64(addr), (uint32_t)s->nentry) == 0)
        s->entry[s->nentry++] = e;
}

/* ---- resolving one address ---- */

static const char *intern(pf_symbolizer *s, const char *str)
{
    if (str == NULL)
        return NULL;
    int64_t i = pf_strtab_intern(&s->strings, str);
    return i < 0 ? NULL : s->strings.str[i];
}

/* Function names lose ELF symbol versions: "memcpy@@GLIBC_2.14" -> "memcpy". */
static const char *intern_function(pf_symbolizer *s, const char *name)
{
    const char *at = name != NULL ? strchr(name, '@') : NULL;
    if (at == NULL || at == name)
        return intern(s, name);
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(at - name), name);
    return intern(s, buf);
}

/* Resolves with libdw and copies the strings into the symbolizer. */
static void resolve(pf_symbolizer *s, uint64_t addr, pf_symbol *out)
{
    memset(out, 0, sizeof *out);
    Dwfl_Module *mod = s->dwfl ? dwfl_addrmodule(s->dwfl, addr) : NULL;
    if (mod == NULL || s->dw == NULL)
        return;
    pf_dw_resolve(s->dw, mod, addr, out);
    for (size_t i = 0; i < out->nframes; i++) {
        out->frame[i].function = intern_function(s, out->frame[i].function);
        out->frame[i].file = intern(s, out->frame[i].file);
    }
}

/* ---- public API ---- */

pf_symbolizer *pf_symbolizer_new(pf_err *err)
{
    pf_symbolizer *s = calloc(1, sizeof *s);
    if (s == NULL || pf_strtab_init(&s->strings) != 0) {
        free(s);
        pf_seterr(err, PF_ERR_NOMEM, "symbolizer: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    reload(s);
    if (s->dwfl == NULL) {
        pf_seterr(err, PF_ERR_NOMEM, "symbolizer: libdw: %s", dwfl_errmsg(-1));
        pf_symbolizer_free(s);
        return NULL;
    }
    return s;
}

/* Loads the module list if it was dropped. Lock held. */
static void ensure_loaded(pf_symbolizer *s)
{
    if (s->dwfl == NULL) {
        reload(s);
        s->reloads++;
    }
}

/* After dlopen/dlclose: drops the cache and the module list (reloaded on
 * the next miss). Returns true if anything changed. Lock held. */
static bool sync_locked(pf_symbolizer *s)
{
    unsigned long long adds, subs;
    pf_objects_counters(&adds, &subs);
    if (adds == s->adds && subs == s->subs)
        return false;
    cache_clear(s);
    drop_dwfl(s);
    s->adds = adds;
    s->subs = subs;
    return true;
}

void pf_symbolizer_sync(pf_symbolizer *s)
{
    pthread_mutex_lock(&s->lock);
    sync_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* Fills *out for addr under the lock. */
static void lookup_locked(pf_symbolizer *s, uint64_t addr, pf_symbol *out)
{
    s->lookups++;
    cache_entry *e = cache_find(s, addr);
    if (e != NULL) {
        s->hits++;
        out->nframes = e->nframes;
        out->has_debug_info = e->has_debug_info;
        memcpy(out->frame, e->frame, e->nframes * sizeof(pf_sym_frame));
        return;
    }
    s->misses++;
    ensure_loaded(s);
    if (s->dwfl != NULL && dwfl_addrmodule(s->dwfl, addr) == NULL && sync_locked(s))
        ensure_loaded(s);
    resolve(s, addr, out);
    cache_add(s, addr, out);
}

bool pf_symbolize(pf_symbolizer *s, uint64_t addr, pf_symbol *out)
{
    pthread_mutex_lock(&s->lock);
    lookup_locked(s, addr, out);
    pthread_mutex_unlock(&s->lock);
    return out->nframes > 0;
}

bool pf_symbolize_name(pf_symbolizer *s, uint64_t addr, char *buf, size_t len)
{
    pf_symbol sym;
    bool found = false;
    pthread_mutex_lock(&s->lock);
    lookup_locked(s, addr, &sym);
    if (sym.nframes > 0 && sym.frame[0].function != NULL && len > 0) {
        snprintf(buf, len, "%s", sym.frame[0].function);
        found = true;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

int pf_symbolizer_set_debug_dirs(pf_symbolizer *s, const char *dirs)
{
    char *copy = dirs != NULL && dirs[0] != '\0' ? strdup(dirs) : NULL;
    if (copy == NULL && dirs != NULL && dirs[0] != '\0')
        return -1;
    pthread_mutex_lock(&s->lock);
    bool same = (copy == NULL && s->debug_dirs == NULL) ||
                (copy != NULL && s->debug_dirs != NULL && strcmp(copy, s->debug_dirs) == 0);
    if (!same) {
        free(s->debug_dirs);
        s->debug_dirs = copy;
        copy = NULL;
        cache_clear(s);
        drop_dwfl(s);
    }
    pthread_mutex_unlock(&s->lock);
    free(copy);
    return 0;
}

void pf_symbolizer_release(pf_symbolizer *s)
{
    pthread_mutex_lock(&s->lock);
    drop_dwfl(s);
    pthread_mutex_unlock(&s->lock);
}

void pf_symbolizer_get_stats(pf_symbolizer *s, pf_symbolizer_stats *out)
{
    pthread_mutex_lock(&s->lock);
    out->lookups = s->lookups;
    out->hits = s->hits;
    out->misses = s->misses;
    out->reloads = s->reloads;
    out->entries = s->nentry;
    out->cache_bytes = s->entry_bytes + s->cap_entry * sizeof *s->entry +
                       s->map.cap * sizeof *s->map.slot;
    out->modules = s->modules;
    pthread_mutex_unlock(&s->lock);
}

void pf_symbolizer_free(pf_symbolizer *s)
{
    if (s == NULL)
        return;
    drop_dwfl(s);
    cache_clear(s);
    pf_strtab_free(&s->strings);
    free(s->debug_dirs);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
