/*
 * symoff.c - offline symbolization: the profiled program has exited (a
 * local run) or ran elsewhere (a legacy profile from a file), so its
 * mappings are reported to libdw one by one (dwfl_report_elf, with the
 * load bias worked out from the mapping and the file's program headers)
 * and each address-only location is resolved with the profile core's fast
 * per-module lookup (pf_dwarf.h): function, file, line, inlined frames.
 * A file whose build ID differs from the mapping's is left alone (it was
 * rebuilt since: its names would be wrong).
 *
 * What the files here do not name is looked up by build ID (the profile
 * comes from another machine, or its libraries are stripped): in the
 * -debug-dir directories and /usr/lib/debug, through .gnu_debuglink, then
 * from debuginfod (cli_debuginfod_fetch) unless -symbolize=local. A debug
 * file found for a mapping whose binary is missing here stands in for it
 * (it has the symbol table and the program headers).
 */
#include "input/cli_prof.h"
#include "pf_dwarf.h"
#include "util/cli.h"
#include "profile.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *debuginfo_path; /* NULL: libdwfl's default (/usr/lib/debug) */

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = pf_dw_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static cli_sym_config config = {CLI_SYM_ON, NULL, false};

void cli_symbolize_config(const cli_sym_config *c)
{
    config = *c;
}

typedef struct symctx {
    pf_decoded *p;
    char *warn;
    size_t warnlen;
    pf_idxmap fn_of; /* (name, file) -> function index */
    pf_dw *dw;
    pf_strtab asked; /* build IDs asked of debuginfod: each once */
} symctx;

/* pf_dw's last resort: debuginfod, once per build ID. */
static int fetch(void *ctx, const char *build_id, const char *file, char **path)
{
    symctx *c = ctx;
    size_t before = c->asked.len;
    if (config.mode != CLI_SYM_ON || pf_strtab_intern(&c->asked, build_id) < 0 ||
        c->asked.len == before)
        return -1;
    return cli_debuginfod_fetch(build_id, file, path, config.quiet);
}

static void warn(symctx *c, const char *fmt, const char *path)
{
    size_t n = strlen(c->warn);
    if (n + 80 < c->warnlen)
        snprintf(c->warn + n, c->warnlen - n, fmt, n ? "; " : "", path);
}

/* ---- reporting the mapped files ---- */

/* Load bias of mapping m in the ELF file elf. A debug file (stand_in)
 * keeps the program headers but not the file offsets: there the mapping,
 * executable, starts at the page of the executable segment. */
static bool load_bias(Elf *elf, const pf_dmapping *m, bool stand_in, uint64_t *bias)
{
    size_t n;
    if (elf_getphdrnum(elf, &n) != 0)
        return false;
    uint64_t span = m->limit - m->start, page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
            continue;
        if (stand_in && (ph.p_flags & PF_X)) {
            *bias = m->start - (ph.p_vaddr & ~(page - 1));
            return true;
        }
        if (!stand_in && ph.p_offset >= m->offset && ph.p_offset - m->offset < span) {
            *bias = m->start - m->offset - (ph.p_vaddr - ph.p_offset);
            return true;
        }
    }
    return false;
}

/* A debug file for m's build ID stands in for its missing binary. */
static int stand_in(symctx *c, const pf_dmapping *m, char **path)
{
    if (m->build_id[0] == '\0')
        return -1;
    int fd = pf_dw_open_build_id(c->dw, m->build_id, path);
    return fd >= 0 ? fd : fetch(c, m->build_id, m->file, path);
}

static bool report_mapping(symctx *c, Dwfl *dwfl, const pf_dmapping *m)
{
    char id[81] = "", *path = NULL;
    if (m->file[0] != '/')
        return false;
    int fd = open(m->file, O_RDONLY | O_CLOEXEC);
    bool same = fd >= 0 && (m->build_id[0] == '\0' ||
                            pf_build_id_of_file(m->file, id, sizeof id) != 0 ||
                            strcmp(id, m->build_id) == 0);
    if (!same) {
        if (fd >= 0)
            close(fd);
        fd = stand_in(c, m, &path);
    }
    if (fd < 0) {
        warn(c, id[0] ? "%s%s: build ID differs from the profiled one (rebuilt?), not used"
                      : "%s%s: not found, its frames stay unnamed", m->file);
        return false;
    }
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    uint64_t bias = 0;
    bool ok = elf != NULL && load_bias(elf, m, path != NULL, &bias);
    if (elf != NULL)
        elf_end(elf);
    if (ok && dwfl_report_elf(dwfl, m->file, path != NULL ? path : m->file, fd, bias, false))
        ok = true;
    else {
        close(fd);
        ok = false;
    }
    free(path);
    return ok;
}

/* Reports each file of a mapping that needs symbols once (pprof's rule:
 * a mapping that says it has functions is left alone). Marks the mappings
 * to resolve in want[]. */
static void report_all(symctx *c, Dwfl *dwfl, bool *want)
{
    const pf_decoded *p = c->p;
    for (size_t i = 0; i < p->nlocs; i++) {
        const pf_dlocation *l = &p->locs[i];
        const pf_dmapping *m = l->mapping ? &p->maps[l->mapping - 1] : NULL;
        if (l->nlines == 0 && m && !(m->has_functions || m->has_filenames || m->has_lines))
            want[l->mapping - 1] = true;
    }
    dwfl_report_begin(dwfl);
    for (size_t i = 0; i < p->nmaps; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen && want[i]; j++)
            seen = want[j] && strcmp(p->maps[j].file, p->maps[i].file) == 0;
        if (want[i] && !seen)
            report_mapping(c, dwfl, &p->maps[i]);
    }
    dwfl_report_end(dwfl, NULL, NULL);
}

/* ---- functions ---- */

typedef struct fn_key {
    const char *name, *file;
} fn_key;

static uint64_t fn_hash(const fn_key *k)
{
    return pf_hash_bytes(k->file, strlen(k->file), pf_hash_bytes(k->name, strlen(k->name), 0));
}

static bool fn_eq(const void *ctx, uint32_t idx, const void *key)
{
    const pf_dfunction *f = &((const pf_decoded *)ctx)->funcs[idx];
    const fn_key *k = key;
    return strcmp(f->name, k->name) == 0 && strcmp(f->file, k->file) == 0;
}

/* Function index of (name, file), added when new; -1 if out of memory. */
static int64_t function(symctx *c, const char *name, const char *file, int64_t start_line)
{
    fn_key k = {name, file};
    uint64_t h = fn_hash(&k);
    int64_t i = pf_idxmap_find(&c->fn_of, h, fn_eq, c->p, &k);
    if (i >= 0)
        return i;
    pf_dfunction f = {c->p->nfuncs + 1, pf_decoded_str(c->p, name, SIZE_MAX), NULL,
                      pf_decoded_str(c->p, file, SIZE_MAX), start_line};
    f.system_name = f.name;
    i = f.name && f.file ? pf_decoded_add_function(c->p, &f) : -1;
    if (i >= 0 && pf_idxmap_insert(&c->fn_of, h, (uint32_t)i) != 0)
        return -1;
    return i;
}

/* Indexes the functions the profile already has (the first of equal ones). */
static void index_existing(symctx *c)
{
    for (size_t i = 0; i < c->p->nfuncs; i++) {
        fn_key k = {c->p->funcs[i].name, c->p->funcs[i].file};
        uint64_t h = fn_hash(&k);
        if (pf_idxmap_find(&c->fn_of, h, fn_eq, c->p, &k) < 0 &&
            pf_idxmap_insert(&c->fn_of, h, (uint32_t)i) != 0)
            return;
    }
}

/* ---- locations ---- */

/* Copies name without an ELF symbol version ("memcpy@@GLIBC_2.14"). */
static const char *unversioned(const char *name, char *buf, size_t len)
{
    const char *at = strchr(name, '@');
    if (at == NULL || at == name)
        return name;
    snprintf(buf, len, "%.*s", (int)(at - name), name);
    return buf;
}

static bool resolve_location(symctx *c, Dwfl *dwfl, pf_dw *dw, pf_dlocation *l)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, l->address);
    pf_symbol sym;
    if (mod == NULL)
        return false;
    pf_dw_resolve(dw, mod, l->address, &sym);
    size_t first = c->p->nlines;
    uint32_t n = 0;
    for (size_t i = 0; i < sym.nframes; i++) {
        const pf_sym_frame *f = &sym.frame[i];
        char buf[1024];
        if (f->function == NULL)
            continue;
        int64_t fi = function(c, unversioned(f->function, buf, sizeof buf),
                              f->file ? f->file : "", f->start_line);
        if (fi < 0 || pf_decoded_add_line(c->p, (uint32_t)fi, f->line) < 0)
            return false;
        n++;
    }
    if (n > 0) {
        l->line0 = first;
        l->nlines = n;
    }
    return n > 0;
}

/* Resolves the locations of the wanted mappings; marks those mappings. */
static size_t resolve_all(symctx *c, Dwfl *dwfl, pf_dw *dw, const bool *want)
{
    pf_decoded *p = c->p;
    size_t named = 0;
    for (size_t i = 0; i < p->nlocs; i++) {
        pf_dlocation *l = &p->locs[i];
        if (l->nlines == 0 && l->mapping != 0 && want[l->mapping - 1] &&
            resolve_location(c, dwfl, dw, l)) {
            pf_dmapping *m = &p->maps[l->mapping - 1];
            m->has_functions = m->has_filenames = m->has_lines = m->has_inline = true;
            named++;
        }
    }
    return named;
}

size_t cli_symbolize_offline(pf_decoded *p, char *warnbuf, size_t warnlen)
{
    symctx c = {p, warnbuf, warnlen, {0}, NULL, {0}};
    if (warnlen > 0)
        warnbuf[0] = '\0';
    if (config.mode == CLI_SYM_NONE)
        return 0;
    elf_version(EV_CURRENT);
    Dwfl *dwfl = dwfl_begin(&callbacks);
    pf_dw *dw = c.dw = pf_dw_new(config.debug_dirs);
    bool *want = calloc(p->nmaps + 1, sizeof *want);
    size_t named = 0;
    if (dw != NULL)
        pf_dw_set_fetch(dw, fetch, &c);
    if (dwfl != NULL && dw != NULL && want != NULL && pf_strtab_init(&c.asked) == 0) {
        report_all(&c, dwfl, want);
        index_existing(&c);
        named = resolve_all(&c, dwfl, dw, want);
        pf_decoded_mark_unresolved(p);
    }
    free(want);
    pf_dw_free(dw);
    if (dwfl != NULL)
        dwfl_end(dwfl);
    pf_idxmap_free(&c.fn_of);
    pf_strtab_free(&c.asked);
    return named;
}
