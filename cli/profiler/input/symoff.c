/*
 * symoff.c - offline symbolization: the profiled program has exited (a
 * local run) or ran elsewhere (a legacy profile from a file), so its
 * mappings are reported to libdw one by one (dwfl_report_elf, with the
 * load bias worked out from the mapping and the file's program headers)
 * and each address-only location is resolved with the profile core's fast
 * per-module lookup (pf_dwarf.h): function, file, line, inlined frames.
 * A file whose build ID differs from the mapping's is left alone (it was
 * rebuilt since: its names would be wrong).
 */
#include "input/cli_prof.h"
#include "pf_dwarf.h"
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
    .find_debuginfo = dwfl_build_id_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

typedef struct symctx {
    pf_decoded *p;
    char *warn;
    size_t warnlen;
    pf_idxmap fn_of; /* (name, file) -> function index */
} symctx;

static void warn(symctx *c, const char *fmt, const char *path)
{
    size_t n = strlen(c->warn);
    if (n + 80 < c->warnlen)
        snprintf(c->warn + n, c->warnlen - n, fmt, n ? "; " : "", path);
}

/* ---- reporting the mapped files ---- */

/* Load bias of mapping m in the ELF file elf. */
static bool load_bias(Elf *elf, const pf_dmapping *m, uint64_t *bias)
{
    size_t n;
    if (elf_getphdrnum(elf, &n) != 0)
        return false;
    uint64_t span = m->limit - m->start;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, (int)i, &ph) == NULL || ph.p_type != PT_LOAD)
            continue;
        if (ph.p_offset >= m->offset && ph.p_offset - m->offset < span) {
            *bias = m->start - m->offset - (ph.p_vaddr - ph.p_offset);
            return true;
        }
    }
    return false;
}

static bool report_mapping(symctx *c, Dwfl *dwfl, const pf_dmapping *m)
{
    char id[81] = "";
    if (m->file[0] != '/')
        return false;
    int fd = open(m->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        warn(c, "%s%s: not found, its frames stay unnamed", m->file);
        return false;
    }
    if (m->build_id[0] && pf_build_id_of_file(m->file, id, sizeof id) == 0 &&
        strcmp(id, m->build_id) != 0) {
        warn(c, "%s%s: build ID differs from the profiled one (rebuilt?), not used", m->file);
        close(fd);
        return false;
    }
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    uint64_t bias = 0;
    bool ok = elf != NULL && load_bias(elf, m, &bias);
    if (elf != NULL)
        elf_end(elf);
    if (ok && dwfl_report_elf(dwfl, m->file, m->file, fd, bias, false) != NULL)
        return true;
    close(fd);
    return false;
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
    symctx c = {p, warnbuf, warnlen, {0}};
    if (warnlen > 0)
        warnbuf[0] = '\0';
    elf_version(EV_CURRENT);
    Dwfl *dwfl = dwfl_begin(&callbacks);
    pf_dw *dw = pf_dw_new(NULL);
    bool *want = calloc(p->nmaps + 1, sizeof *want);
    size_t named = 0;
    if (dwfl != NULL && dw != NULL && want != NULL) {
        report_all(&c, dwfl, want);
        index_existing(&c);
        named = resolve_all(&c, dwfl, dw, want);
    }
    free(want);
    pf_dw_free(dw);
    if (dwfl != NULL)
        dwfl_end(dwfl);
    pf_idxmap_free(&c.fn_of);
    return named;
}
