/* pf_dwarf.c - per-module symbol tables and per-CU function indexes. */
#include "pf_dwarf.h"
#include "pf_internal.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_INLINE_DEPTH 32
#define MAX_SCOPE_NESTING 64
#define BACKTRACK 8 /* entries to step back for nested/overlapping ranges */

typedef struct fsym {
    uint64_t lo, hi; /* absolute addresses */
    const char *name;
    int rank;
} fsym;

typedef struct mod_idx {
    fsym *sym;
    size_t nsym;
} mod_idx;

typedef struct cu_fn {
    Dwarf_Addr lo, hi; /* DWARF (unbiased) addresses */
    Dwarf_Die die;
} cu_fn;

typedef struct cu_idx {
    const void *key; /* the CU DIE's data pointer: unique per CU */
    cu_fn *fn;
    size_t nfn;
} cu_idx;

struct pf_dw {
    char path[PF_SYM_MAX_FRAMES][PATH_MAX]; /* absolute file names of a result */
    mod_idx **mods;
    size_t nmods, cap_mods;
    cu_idx *cus;
    size_t ncus, cap_cus;
    pf_idxmap cu_map;
    char *dirs_buf;   /* debug roots, NUL-separated inside */
    const char **dir; /* absolute roots, /usr/lib/debug last */
    size_t ndirs;
    pf_dw_fetch_fn fetch;
    void *fetch_ctx;
};

#define SYSTEM_DEBUG_ROOT "/usr/lib/debug"

/* The pf_dw whose pf_dw_resolve runs on this thread: libdwfl's callbacks
 * have no context of their own. */
static __thread const pf_dw *resolving;

pf_dw *pf_dw_new(const char *debug_dirs)
{
    elf_version(EV_CURRENT); /* before any elf_begin; idempotent */
    pf_dw *d = calloc(1, sizeof(pf_dw));
    size_t n = 2;
    for (const char *c = debug_dirs; c != NULL && *c; c++)
        n += *c == ':';
    if (d == NULL || (d->dir = calloc(n, sizeof *d->dir)) == NULL ||
        (d->dirs_buf = strdup(debug_dirs != NULL ? debug_dirs : "")) == NULL) {
        pf_dw_free(d);
        return NULL;
    }
    for (char *save = NULL, *t = strtok_r(d->dirs_buf, ":", &save); t != NULL;
         t = strtok_r(NULL, ":", &save)) {
        if (t[0] == '/')
            d->dir[d->ndirs++] = t;
    }
    d->dir[d->ndirs++] = SYSTEM_DEBUG_ROOT;
    return d;
}

void pf_dw_set_fetch(pf_dw *d, pf_dw_fetch_fn fn, void *ctx)
{
    d->fetch = fn;
    d->fetch_ctx = ctx;
}

void pf_dw_free(pf_dw *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nmods; i++) {
        free(d->mods[i]->sym);
        free(d->mods[i]);
    }
    for (size_t i = 0; i < d->ncus; i++)
        free(d->cus[i].fn);
    free(d->mods);
    free(d->cus);
    pf_idxmap_free(&d->cu_map);
    free(d->dir);
    free(d->dirs_buf);
    free(d);
}

/* ---- separate debug files ---- */

int pf_dw_elf_build_id(int fd, char *out, size_t outlen)
{
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *bits = NULL;
    ssize_t n = elf != NULL ? dwelf_elf_gnu_build_id(elf, &bits) : -1;
    if (n > 0)
        pf_hex(bits, (size_t)n, out, outlen);
    if (elf != NULL)
        elf_end(elf);
    return n > 0 ? 0 : -1;
}

static uint32_t file_crc(int fd)
{
    unsigned char buf[65536];
    uLong crc = crc32(0, NULL, 0);
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
        crc = crc32(crc, buf, (uInt)n);
        off += n;
    }
    return (uint32_t)crc;
}

/* Opens path if it is the debug file wanted: same build ID when id is
 * not "", else the debuglink's CRC. fd or -1. */
static int open_checked(const char *path, const char *id, uint32_t crc, char **found)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char have[81] = "";
    bool ok = id[0] != '\0' ? pf_dw_elf_build_id(fd, have, sizeof have) == 0 &&
                                  strcmp(have, id) == 0
                            : file_crc(fd) == crc;
    if (ok && (*found = strdup(path)) != NULL)
        return fd;
    close(fd);
    return -1;
}

int pf_dw_open_build_id(const pf_dw *d, const char *id, char **path)
{
    static const char *const system_root[] = {SYSTEM_DEBUG_ROOT};
    const char *const *dir = d != NULL ? d->dir : system_root;
    size_t ndirs = d != NULL ? d->ndirs : 1;
    char buf[PATH_MAX];
    for (size_t i = 0; strlen(id) > 2 && i < ndirs; i++) {
        snprintf(buf, sizeof buf, "%s/.build-id/%.2s/%s.debug", dir[i], id, id + 2);
        int fd = open_checked(buf, id, 0, path);
        if (fd >= 0)
            return fd;
    }
    return -1;
}

/* The .gnu_debuglink search: beside file, in .debug/ beside it, under
 * each root + file's directory. */
static int open_debuglink(const pf_dw *d, const char *file, const char *link, const char *id,
                          uint32_t crc, char **path)
{
    const char *slash = strrchr(file, '/');
    if (file[0] != '/' || slash == NULL || strchr(link, '/') != NULL)
        return -1;
    int dirlen = (int)(slash - file);
    char buf[PATH_MAX];
    int fd = -1;
    snprintf(buf, sizeof buf, "%.*s/%s", dirlen, file, link);
    if (strcmp(buf, file) != 0)
        fd = open_checked(buf, id, crc, path);
    snprintf(buf, sizeof buf, "%.*s/.debug/%s", dirlen, file, link);
    if (fd < 0)
        fd = open_checked(buf, id, crc, path);
    for (size_t i = 0; fd < 0 && d != NULL && i < d->ndirs; i++) {
        snprintf(buf, sizeof buf, "%s%.*s/%s", d->dir[i], dirlen, file, link);
        fd = open_checked(buf, id, crc, path);
    }
    if (fd < 0 && d == NULL) {
        snprintf(buf, sizeof buf, SYSTEM_DEBUG_ROOT "%.*s/%s", dirlen, file, link);
        fd = open_checked(buf, id, crc, path);
    }
    return fd;
}

int pf_dw_open_debug_of(const pf_dw *d, int fd, const char *path, const char *id,
                        char **found, bool *self)
{
    *self = false;
    *found = NULL;
    int out = pf_dw_open_build_id(d, id, found);
    Elf *elf = out < 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
    GElf_Word crc = 0;
    const char *link = elf != NULL ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;
    if (link != NULL)
        out = open_debuglink(d, path, link, id, crc, found);
    if (out < 0 && elf != NULL) {
        Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
        *self = dw != NULL;
        if (dw != NULL)
            dwarf_end(dw);
    }
    if (elf != NULL)
        elf_end(elf);
    return out;
}

int pf_dw_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                         Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                         GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    /* libdwfl calls again for a dwz alternate file (.gnu_debugaltlink: a
     * path, no CRC) once it has the DWARF: its own build-ID lookup knows
     * that case (the alternate file's build ID, under /usr/lib/debug). */
    if (debuglink_file != NULL && strchr(debuglink_file, '/') != NULL && debuglink_crc == 0)
        return dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
                                            debuglink_file, debuglink_crc,
                                            debuginfo_file_name);
    const pf_dw *d = resolving;
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    char id[81] = "";
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    if (n > 0)
        pf_hex(bits, (size_t)n, id, sizeof id);
    int fd = id[0] != '\0' ? pf_dw_open_build_id(d, id, debuginfo_file_name) : -1;
    if (fd < 0 && debuglink_file != NULL && file_name != NULL)
        fd = open_debuglink(d, file_name, debuglink_file, id, debuglink_crc,
                            debuginfo_file_name);
    if (fd < 0 && d != NULL && d->fetch != NULL && id[0] != '\0')
        fd = d->fetch(d->fetch_ctx, id, file_name, debuginfo_file_name);
    if (fd < 0)
        errno = ENOENT;
    return fd;
}

/* ---- symbol tables ---- */

/* Preferred name among aliases: global > weak > local, then fewer
 * leading underscores (printf over _IO_printf). */
static int sym_rank(const GElf_Sym *s, const char *name)
{
    int bind = GELF_ST_BIND(s->st_info);
    int r = bind == STB_GLOBAL ? 3 : bind == STB_WEAK ? 2 : 1;
    int u = 0;
    while (u < 3 && name[u] == '_')
        u++;
    return r * 4 + (3 - u);
}

static int cmp_fsym(const void *a, const void *b)
{
    const fsym *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return y->rank - x->rank; /* best first */
}

/* Keeps the best symbol per address; size 0 extends to the next one. */
static void dedupe_syms(mod_idx *m)
{
    size_t out = 0;
    for (size_t i = 0; i < m->nsym; i++) {
        if (out > 0 && m->sym[out - 1].lo == m->sym[i].lo) {
            if (m->sym[i].hi > m->sym[out - 1].hi)
                m->sym[out - 1].hi = m->sym[i].hi;
            continue;
        }
        m->sym[out++] = m->sym[i];
    }
    m->nsym = out;
    for (size_t i = 0; i < out; i++) {
        if (m->sym[i].hi == m->sym[i].lo)
            m->sym[i].hi = i + 1 < out ? m->sym[i + 1].lo : m->sym[i].lo + 1;
    }
}

static void build_syms(mod_idx *m, Dwfl_Module *mod)
{
    int n = dwfl_module_getsymtab(mod);
    size_t cap = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym s;
        GElf_Addr addr;
        GElf_Word shndx;
        const char *name = dwfl_module_getsym_info(mod, i, &s, &addr, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(s.st_info);
        if (name == NULL || name[0] == '\0' || shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        if (pf_grow(&m->sym, &cap, m->nsym + 1, sizeof(fsym)) != 0)
            break; /* out of memory: a partial table still helps */
        m->sym[m->nsym++] = (fsym){addr, addr + s.st_size, name, sym_rank(&s, name)};
    }
    if (m->nsym > 1) /* none at all: a stripped object without exports (NULL table) */
        qsort(m->sym, m->nsym, sizeof(fsym), cmp_fsym);
    dedupe_syms(m);
}

/* The module's index, built on first use (kept in libdwfl's userdata). */
static mod_idx *mod_index(pf_dw *d, Dwfl_Module *mod)
{
    void **ud = NULL;
    dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
    if (ud == NULL)
        return NULL;
    if (*ud != NULL)
        return *ud;
    mod_idx *m = calloc(1, sizeof *m);
    if (m == NULL || pf_grow(&d->mods, &d->cap_mods, d->nmods + 1, sizeof m) != 0) {
        free(m);
        return NULL;
    }
    d->mods[d->nmods++] = m;
    build_syms(m, mod);
    *ud = m;
    return m;
}

static const char *sym_lookup(const mod_idx *m, uint64_t addr)
{
    size_t lo = 0, hi = m->nsym;
    while (lo < hi) { /* first symbol above addr */
        size_t mid = lo + (hi - lo) / 2;
        if (m->sym[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k > 0 && k + BACKTRACK > lo; k--) {
        if (addr < m->sym[k - 1].hi)
            return m->sym[k - 1].name;
    }
    return NULL;
}

/* ---- CU function indexes ---- */

typedef struct fn_vec {
    cu_fn *fn;
    size_t n, cap;
} fn_vec;

static int add_fn(Dwarf_Die *die, fn_vec *v)
{
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
        if (pf_grow(&v->fn, &v->cap, v->n + 1, sizeof(cu_fn)) != 0)
            return -1;
        v->fn[v->n++] = (cu_fn){lo, hi, *die};
    }
    return 0;
}

/* Collects the functions with code among the children of parent, looking
 * into namespaces and classes but not into function bodies: cheaper than
 * dwarf_getfuncs, which walks every DIE of the CU. */
static void collect_fns(Dwarf_Die *parent, fn_vec *v, int depth)
{
    Dwarf_Die child;
    if (depth > MAX_SCOPE_NESTING || dwarf_child(parent, &child) != 0)
        return;
    do {
        switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram:
            if (add_fn(&child, v) != 0)
                return;
            break;
        case DW_TAG_namespace:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
            collect_fns(&child, v, depth + 1);
            break;
        default:
            break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

static int cmp_cu_fn(const void *a, const void *b)
{
    const cu_fn *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool cu_eq(const void *ctx, uint32_t idx, const void *key)
{
    return ((const pf_dw *)ctx)->cus[idx].key == key;
}

static const cu_idx *cu_index(pf_dw *d, Dwarf_Die *cu)
{
    uint64_t h = pf_hash_u64((uintptr_t)cu->addr);
    int64_t i = pf_idxmap_find(&d->cu_map, h, cu_eq, d, cu->addr);
    if (i >= 0)
        return &d->cus[i];
    fn_vec v = {NULL, 0, 0};
    collect_fns(cu, &v, 0);
    if (v.n > 1)
        qsort(v.fn, v.n, sizeof(cu_fn), cmp_cu_fn);
    if (pf_grow(&d->cus, &d->cap_cus, d->ncus + 1, sizeof(cu_idx)) != 0 ||
        pf_idxmap_insert(&d->cu_map, h, (uint32_t)d->ncus) != 0) {
        free(v.fn);
        return NULL;
    }
    d->cus[d->ncus] = (cu_idx){cu->addr, v.fn, v.n};
    return &d->cus[d->ncus++];
}

/* The function DIE whose ranges contain pc. */
static bool find_fn(pf_dw *d, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die *out)
{
    const cu_idx *c = cu_index(d, cu);
    if (c == NULL)
        return false;
    size_t lo = 0, hi = c->nfn;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->fn[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k > 0 && k + BACKTRACK > lo; k--) {
        if (pc < c->fn[k - 1].hi) {
            *out = c->fn[k - 1].die;
            return true;
        }
    }
    return false;
}

/* ---- inline chains ---- */

static bool is_scope(int tag)
{
    return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
           tag == DW_TAG_try_block || tag == DW_TAG_catch_block;
}

/* Appends to chain (outermost first) the inlined_subroutine DIEs below
 * parent whose ranges contain pc. */
static void find_inlined(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *chain, size_t *n,
                         int depth)
{
    Dwarf_Die child;
    if (depth > MAX_SCOPE_NESTING || dwarf_child(parent, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);
        if (!is_scope(tag))
            continue;
        bool has_pc = dwarf_hasattr(&child, DW_AT_low_pc) || dwarf_hasattr(&child, DW_AT_ranges);
        if (!has_pc) { /* a block without addresses: look inside */
            size_t before = *n;
            if (tag != DW_TAG_inlined_subroutine)
                find_inlined(&child, pc, chain, n, depth + 1);
            if (*n > before)
                return;
            continue;
        }
        if (dwarf_haspc(&child, pc) <= 0)
            continue;
        if (tag == DW_TAG_inlined_subroutine && *n < MAX_INLINE_DEPTH)
            chain[(*n)++] = child;
        find_inlined(&child, pc, chain, n, depth + 1);
        return;
    } while (dwarf_siblingof(&child, &child) == 0);
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
    if (n == NULL)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (n == NULL)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    return n;
}

/* Source file of an inlined call site (DW_AT_call_file). */
static const char *call_file(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    Dwarf_Word idx;
    Dwarf_Die cu;
    Dwarf_Files *files;
    size_t nfiles;
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &idx) != 0 ||
        dwarf_diecu(die, &cu, NULL, NULL) == NULL ||
        dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

static int64_t call_line(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    Dwarf_Word v;
    return dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &v) == 0 ? (int64_t)v : 0;
}

/* Appends a frame; beyond the limit the last slot is overwritten, so the
 * outermost (real) function always stays last. */
static void add_frame(pf_symbol *out, const pf_sym_frame *f)
{
    size_t slot = out->nframes < PF_SYM_MAX_FRAMES ? out->nframes++ : PF_SYM_MAX_FRAMES - 1;
    out->frame[slot] = *f;
}

static void named_frame(pf_symbol *out, Dwarf_Die *die, pf_sym_frame pos, const char *fallback)
{
    const char *name = die_name(die);
    int decl = 0;
    pos.function = name != NULL ? name : fallback;
    pos.start_line = dwarf_decl_line(die, &decl) == 0 ? decl : 0;
    add_frame(out, &pos);
}

/* Frames for pc in function fn: inlined ones innermost first, then fn. */
static void function_frames(Dwarf_Die *fn, Dwarf_Addr pc, pf_sym_frame pos,
                            const char *symname, pf_symbol *out)
{
    Dwarf_Die chain[MAX_INLINE_DEPTH];
    size_t n = 0;
    find_inlined(fn, pc, chain, &n, 0);
    for (size_t k = n; k-- > 0;) {
        named_frame(out, &chain[k], pos, NULL);
        pos.file = call_file(&chain[k]);
        pos.line = call_line(&chain[k]);
    }
    named_frame(out, fn, pos, symname);
}

/* Relative file names (as compiled: "src/x.c") become absolute with the
 * CU's compilation directory, as Go's toolchain records them. */
static void absolute_files(pf_dw *d, pf_symbol *out, const char *comp_dir)
{
    for (size_t i = 0; comp_dir != NULL && comp_dir[0] == '/' && i < out->nframes; i++) {
        const char *f = out->frame[i].file;
        if (f == NULL || f[0] == '/')
            continue;
        while (f[0] == '.' && f[1] == '/')
            f += 2;
        snprintf(d->path[i], sizeof d->path[i], "%s/%s", comp_dir, f);
        out->frame[i].file = d->path[i];
    }
}

void pf_dw_resolve(pf_dw *d, Dwfl_Module *mod, uint64_t addr, pf_symbol *out)
{
    memset(out, 0, sizeof *out);
    resolving = d;
    mod_idx *m = mod_index(d, mod);
    const char *symname = m != NULL ? sym_lookup(m, addr) : NULL;
    pf_sym_frame pos = {symname, NULL, 0, 0};
    Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
    int lineno = 0;
    if (line != NULL) {
        pos.file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
        pos.line = lineno;
    }
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
    Dwarf_Die fn;
    out->has_debug_info = cu != NULL;
    if (cu != NULL && find_fn(d, cu, addr - bias, &fn))
        function_frames(&fn, addr - bias, pos, symname, out);
    if (out->nframes == 0 && symname != NULL)
        add_frame(out, &pos);
    Dwarf_Attribute a;
    const char *comp_dir = cu != NULL ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &a))
                                      : line != NULL ? dwfl_line_comp_dir(line) : NULL;
    absolute_files(d, out, comp_dir);
    resolving = NULL;
}
