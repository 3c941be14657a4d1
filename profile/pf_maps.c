/* pf_maps.c - maps parsing, loaded objects and ELF build IDs. */
#include "pf_maps.h"
#include "pf_internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_MAPPINGS 1000000u
#define MAX_LINE 8192u
#define MAX_NOTE_BYTES (1u << 20)

/* ---- build ID notes ---- */

void pf_hex(const uint8_t *data, size_t len, char *out, size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && o + 2 < outlen; i++) {
        out[o++] = digits[data[i] >> 4];
        out[o++] = digits[data[i] & 15];
    }
    if (outlen > 0)
        out[o] = '\0';
}

/* Scans a note segment; fills out with the GNU build ID. 0 or -1. */
static int note_build_id(const uint8_t *p, size_t len, size_t align, char *out, size_t outlen)
{
    size_t pos = 0;
    align = align == 8 ? 8 : 4;
    while (len - pos >= sizeof(ElfW(Nhdr))) {
        ElfW(Nhdr) nh;
        memcpy(&nh, p + pos, sizeof nh);
        pos += sizeof nh;
        size_t namesz = ((size_t)nh.n_namesz + align - 1) & ~(align - 1);
        size_t descsz = ((size_t)nh.n_descsz + align - 1) & ~(align - 1);
        if (namesz > len - pos || descsz > len - pos - namesz || nh.n_descsz > descsz)
            return -1;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            memcmp(p + pos, "GNU", 4) == 0 && nh.n_descsz > 0) {
            pf_hex(p + pos + namesz, nh.n_descsz, out, outlen);
            return 0;
        }
        pos += namesz + descsz;
    }
    return -1;
}

static int read_phdrs(int fd, ElfW(Phdr) **out, size_t *n)
{
    ElfW(Ehdr) eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > 4096)
        return -1;
    size_t bytes = (size_t)eh.e_phnum * sizeof(ElfW(Phdr));
    ElfW(Phdr) *ph = malloc(bytes);
    if (ph == NULL || pread(fd, ph, bytes, (off_t)eh.e_phoff) != (ssize_t)bytes) {
        free(ph);
        return -1;
    }
    *out = ph;
    *n = eh.e_phnum;
    return 0;
}

int pf_elf_build_id_fd(int fd, char *out, size_t outlen)
{
    ElfW(Phdr) *ph;
    size_t n;
    if (read_phdrs(fd, &ph, &n) != 0)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < n && rc != 0; i++) {
        if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0 || ph[i].p_filesz > MAX_NOTE_BYTES)
            continue;
        uint8_t *buf = malloc(ph[i].p_filesz);
        if (buf != NULL && pread(fd, buf, ph[i].p_filesz, (off_t)ph[i].p_offset) ==
                               (ssize_t)ph[i].p_filesz)
            rc = note_build_id(buf, ph[i].p_filesz, ph[i].p_align, out, outlen);
        free(buf);
    }
    free(ph);
    return rc;
}

int pf_build_id_of_file(const char *path, char *out, size_t outlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = pf_elf_build_id_fd(fd, out, outlen);
    close(fd);
    return rc;
}

/* ---- loaded objects ---- */

/* What collect_cb fills while the loader's lock is held: memory allocated
 * beforehand, because it must not allocate there (see pf_objects_collect). */
typedef struct collect_ctx {
    pf_objects *o;
    size_t cap;                  /* entries of o->obj */
    char *names;                 /* the names, back to back */
    size_t names_len, names_cap;
    size_t want, want_names;     /* what the whole list needs */
} collect_ctx;

/* True if [addr, addr+len) lies inside a readable PT_LOAD of the object. */
static bool in_loaded(const struct dl_phdr_info *info, uint64_t addr, uint64_t len)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && addr >= lo &&
            len <= ph->p_filesz && addr - lo <= ph->p_filesz - len)
            return true;
    }
    return false;
}

static void object_span(const struct dl_phdr_info *info, pf_object *ob)
{
    ob->lo = UINT64_MAX;
    ob->hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            uint64_t lo = info->dlpi_addr + ph->p_vaddr;
            if (lo < ob->lo)
                ob->lo = lo;
            if (lo + ph->p_memsz > ob->hi)
                ob->hi = lo + ph->p_memsz;
        }
        if (ph->p_type == PT_NOTE && ob->build_id[0] == '\0' &&
            in_loaded(info, info->dlpi_addr + ph->p_vaddr, ph->p_filesz))
            note_build_id((const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz,
                          ph->p_align, ob->build_id, sizeof ob->build_id);
    }
    if (ob->lo > ob->hi)
        ob->lo = ob->hi = 0;
}

static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    collect_ctx *c = data;
    (void)size;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    size_t n = strlen(name) + 1;
    c->want++;
    c->want_names += n;
    if (c->o->len == c->cap || c->names_cap - c->names_len < n)
        return 0; /* keep counting: the next try gets room for all */
    pf_object *ob = &c->o->obj[c->o->len];
    memset(ob, 0, sizeof *ob);
    ob->name = memcpy(c->names + c->names_len, name, n);
    c->names_len += n;
    ob->bias = info->dlpi_addr;
    object_span(info, ob);
    c->o->len++;
    c->o->adds = info->dlpi_adds;
    c->o->subs = info->dlpi_subs;
    return 0;
}

/* dl_iterate_phdr with every signal blocked. It holds the loader's lock
 * while it runs; a signal handler that unwinds (the thread-stack dump,
 * through libunwind) may wait for that lock while holding one of its own
 * that this thread's handler would then need: a deadlock of the host. */
static int iterate_objects(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = dl_iterate_phdr(cb, data);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* No allocation while the loader's lock is held: a thread interrupted
 * inside the allocator (holding one of its locks) may be running a SIGPROF
 * or stack-dump handler that waits, through libunwind, for the loader's
 * lock: a deadlock of the host (seen in make soak: a strdup here waited for
 * tcmalloc's central free list). So: room first, then the walk, again with
 * more room if objects were loaded meanwhile. */
int pf_objects_collect(pf_objects *out)
{
    size_t cap = 64, names_cap = 16384;
    for (int tries = 0; tries < 8; tries++) {
        memset(out, 0, sizeof *out);
        collect_ctx c = {out, cap, malloc(names_cap), 0, names_cap, 0, 0};
        out->obj = calloc(cap, sizeof *out->obj);
        if (out->obj == NULL || c.names == NULL) {
            free(out->obj);
            free(c.names);
            memset(out, 0, sizeof *out);
            return -1;
        }
        iterate_objects(collect_cb, &c);
        bool complete = c.want <= cap && c.want_names <= names_cap;
        for (size_t i = 0; i < out->len; i++) /* own copies, outside the lock */
            out->obj[i].name = complete ? strdup(out->obj[i].name) : NULL;
        free(c.names);
        bool names_ok = true;
        for (size_t i = 0; i < out->len; i++)
            names_ok = names_ok && out->obj[i].name != NULL;
        if (complete && names_ok)
            return 0;
        pf_objects_free(out);
        if (complete)
            return -1; /* out of memory */
        cap = c.want + 16;
        names_cap = c.want_names + 4096;
    }
    return -1;
}

const pf_object *pf_objects_find(const pf_objects *o, uint64_t addr)
{
    for (size_t i = 0; i < o->len; i++) {
        if (addr >= o->obj[i].lo && addr < o->obj[i].hi)
            return &o->obj[i];
    }
    return NULL;
}

void pf_objects_free(pf_objects *o)
{
    for (size_t i = 0; i < o->len; i++)
        free(o->obj[i].name);
    free(o->obj);
    memset(o, 0, sizeof *o);
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned long long *c = data;
    (void)size;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1; /* the counters are the same in every entry */
}

void pf_objects_counters(unsigned long long *adds, unsigned long long *subs)
{
    unsigned long long c[2] = {0, 0};
    iterate_objects(counters_cb, c);
    *adds = c[0];
    *subs = c[1];
}

/* ---- maps text ---- */

typedef struct maps_impl {
    pf_maps pub; /* first: pf_maps * and maps_impl * convert */
    pf_arena arena;
    size_t cap;
} maps_impl;

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Parses an unsigned hex or decimal field ending at a delimiter. */
static int parse_num(const char **s, int base, char delim, uint64_t *out)
{
    char *end;
    if (!((**s >= '0' && **s <= '9') || (base == 16 && ((**s | 0x20) >= 'a' && (**s | 0x20) <= 'f'))))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(*s, &end, base);
    if (errno != 0 || *end != delim)
        return -1;
    *out = v;
    *s = end + 1;
    return 0;
}

/* "start-end perms offset dev inode [path]"; the path is left in *path. */
static int parse_line(char *line, pf_mapping *m, char **path)
{
    const char *s = line;
    uint64_t dmaj, dmin;
    if (parse_num(&s, 16, '-', &m->start) != 0 || parse_num(&s, 16, ' ', &m->limit) != 0 ||
        m->start >= m->limit)
        return -1;
    s = skip_spaces(s);
    if (strlen(s) < 5 || s[4] != ' ')
        return -1;
    memcpy(m->perms, s, 4);
    m->perms[4] = '\0';
    m->exec = s[2] == 'x';
    s = skip_spaces(s + 5);
    if (parse_num(&s, 16, ' ', &m->offset) != 0)
        return -1;
    s = skip_spaces(s);
    if (parse_num(&s, 16, ':', &dmaj) != 0 || parse_num(&s, 16, ' ', &dmin) != 0)
        return -1;
    s = skip_spaces(s);
    char *end;
    m->inode = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    char *p = (char *)skip_spaces(end);
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r'))
        p[--n] = '\0';
    static const char del[] = " (deleted)";
    if (n >= sizeof del - 1 && strcmp(p + n - (sizeof del - 1), del) == 0) {
        p[n - (sizeof del - 1)] = '\0';
        m->deleted = true;
    }
    *path = p;
    return 0;
}

static pf_code add_line(maps_impl *mi, char *line, unsigned flags, pf_err *err)
{
    pf_mapping m;
    char *path;
    memset(&m, 0, sizeof m);
    if (parse_line(line, &m, &path) != 0 || ((flags & PF_MAPS_EXEC_ONLY) && !m.exec))
        return PF_OK;
    if (mi->pub.len >= MAX_MAPPINGS)
        return pf_seterr(err, PF_ERR_LIMIT, "maps: more than %u mappings", MAX_MAPPINGS);
    pf_maps *pm = &mi->pub;
    if (pf_grow(&pm->map, &mi->cap, pm->len + 1, sizeof m) != 0 ||
        (m.path = pf_arena_strdup(&mi->arena, path)) == NULL)
        return pf_seterr(err, PF_ERR_NOMEM, "maps: out of memory");
    pm->map[pm->len++] = m;
    return PF_OK;
}

static int cmp_mapping(const void *a, const void *b)
{
    const pf_mapping *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void fill_build_ids(pf_maps *m, unsigned flags)
{
    pf_objects objs = {0};
    if ((flags & PF_MAPS_BUILD_ID_SELF) && pf_objects_collect(&objs) != 0)
        memset(&objs, 0, sizeof objs);
    for (size_t i = 0; i < m->len; i++) {
        pf_mapping *mp = &m->map[i];
        const pf_object *ob = pf_objects_find(&objs, mp->start);
        if (ob != NULL && ob->build_id[0] != '\0') {
            memcpy(mp->build_id, ob->build_id, sizeof mp->build_id);
        } else if ((flags & PF_MAPS_BUILD_ID_FILE) && mp->path[0] == '/' && !mp->deleted) {
            if (i > 0 && strcmp(m->map[i - 1].path, mp->path) == 0)
                memcpy(mp->build_id, m->map[i - 1].build_id, sizeof mp->build_id);
            else
                pf_build_id_of_file(mp->path, mp->build_id, sizeof mp->build_id);
        }
    }
    pf_objects_free(&objs);
}

pf_maps *pf_maps_parse(const char *text, size_t len, unsigned flags, pf_err *err)
{
    maps_impl *mi = calloc(1, sizeof *mi);
    char *line = malloc(MAX_LINE);
    if (mi == NULL || line == NULL) {
        free(mi);
        free(line);
        pf_seterr(err, PF_ERR_NOMEM, "maps: out of memory");
        return NULL;
    }
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        if (n < MAX_LINE && memchr(text + pos, '\0', n) == NULL) {
            memcpy(line, text + pos, n);
            line[n] = '\0';
            if (add_line(mi, line, flags, err) != PF_OK) {
                free(line);
                pf_maps_free(&mi->pub);
                return NULL;
            }
        }
        pos += n + 1;
    }
    free(line);
    if (mi->pub.len > 1)
        qsort(mi->pub.map, mi->pub.len, sizeof(pf_mapping), cmp_mapping);
    fill_build_ids(&mi->pub, flags);
    return &mi->pub;
}

pf_maps *pf_maps_read_self(unsigned flags, pf_err *err)
{
    char *buf;
    size_t len;
    if (pf_read_file("/proc/self/maps", 64u << 20, &buf, &len, err) != PF_OK)
        return NULL;
    pf_maps *m = pf_maps_parse(buf, len, flags | PF_MAPS_BUILD_ID_SELF, err);
    free(buf);
    return m;
}

const pf_mapping *pf_maps_find(const pf_maps *m, uint64_t addr)
{
    size_t lo = 0, hi = m ? m->len : 0;
    while (lo < hi) { /* first mapping with start > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (m->map[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr >= m->map[lo - 1].limit)
        return NULL;
    return &m->map[lo - 1];
}

void pf_maps_free(pf_maps *m)
{
    if (m == NULL)
        return;
    maps_impl *mi = (maps_impl *)m;
    free(m->map);
    pf_arena_free(&mi->arena);
    free(mi);
}
