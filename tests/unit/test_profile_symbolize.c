/*
 * test_profile_symbolize.c - in-process symbolization (profile/
 * pf_symbolize.c, pf_dwarf.c) on this very test binary (built with -g and
 * frame pointers): static and exported functions, file and line, inlined
 * frames, return addresses, the cache, libc's versioned symbols, a binary
 * deleted while running, and profiles written with symbols.
 *
 * Modes besides the cmocka run:
 *   --deleted-child       (internal) run by test_deleted_binary from a
 *                         copy of this binary: deletes its own file, then
 *                         symbolizes a static function.
 *   --write-pprof FILE    writes a symbolized CPU profile of known shape to
 *                         FILE, for tests/integration/test_profile_pprof.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile.h"
#include "pf_view.h"

#define THIS_FILE "tests/unit/test_profile_symbolize.c"

/* ---- code to symbolize ---- */

static volatile int sink;

enum { STATIC_FIRST_LINE = __LINE__ + 1 };
__attribute__((noinline)) static int static_target(int x)
{
    sink = x * 3;
    return sink + 1;
}
enum { STATIC_LAST_LINE = __LINE__ - 1 };

int pf_test_exported_target(int x);
__attribute__((noinline)) int pf_test_exported_target(int x)
{
    sink = x + 5;
    return sink;
}

enum { INLINE_FIRST_LINE = __LINE__ + 1 };
static inline __attribute__((always_inline)) int inl_square(int x)
{
    volatile int y = x * x;
    return y + 1;
}

enum { INLINE_CALL_LINE = __LINE__ + 3 };
__attribute__((noinline)) static int calls_inlined(int x)
{
    return inl_square(x) + 3;
}

__attribute__((noinline)) static uintptr_t return_address(void)
{
    return (uintptr_t)__builtin_return_address(0);
}

enum { RA_CALL_LINE = __LINE__ + 3 };
__attribute__((noinline)) static uintptr_t caller_of_return_address(void)
{
    uintptr_t ra = return_address();
    sink = 1;
    return ra;
}

/* ---- helpers ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static pf_symbolizer *new_symbolizer(void)
{
    pf_err err = {0};
    pf_symbolizer *s = pf_symbolizer_new(&err);
    if (s == NULL)
        fail_msg("symbolizer: %s", err.msg);
    return s;
}

/* An address inside calls_inlined whose code comes from inl_square. */
static uintptr_t find_inlined_addr(pf_symbolizer *s, pf_symbol *out)
{
    for (uintptr_t off = 0; off < 256; off++) {
        uintptr_t a = (uintptr_t)&calls_inlined + off;
        if (pf_symbolize(s, a, out) && out->nframes == 2 &&
            strcmp(out->frame[0].function, "inl_square") == 0)
            return a;
    }
    return 0;
}

/* ---- tests ---- */

static void test_static_function(void **state)
{
    (void)state;
    pf_symbolizer *s = new_symbolizer();
    pf_symbol sym;
    assert_true(pf_symbolize(s, (uintptr_t)&static_target + 4, &sym));
    assert_int_equal(sym.nframes, 1);
    assert_true(sym.has_debug_info);
    assert_string_equal(sym.frame[0].function, "static_target");
    assert_non_null(sym.frame[0].file);
    if (!ends_with(sym.frame[0].file, THIS_FILE))
        fail_msg("file %s does not end with %s", sym.frame[0].file, THIS_FILE);
    assert_in_range(sym.frame[0].line, STATIC_FIRST_LINE, STATIC_LAST_LINE);
    assert_int_equal(sym.frame[0].start_line, STATIC_FIRST_LINE);
    pf_symbolizer_free(s);
}

static void test_exported_function(void **state)
{
    (void)state;
    pf_symbolizer *s = new_symbolizer();
    char name[64];
    assert_true(pf_symbolize_name(s, (uintptr_t)&pf_test_exported_target + 2, name, sizeof name));
    assert_string_equal(name, "pf_test_exported_target");
    char tiny[5];
    assert_true(pf_symbolize_name(s, (uintptr_t)&pf_test_exported_target, tiny, sizeof tiny));
    assert_string_equal(tiny, "pf_t"); /* truncated, terminated */
    assert_false(pf_symbolize_name(s, 0x10, name, sizeof name)); /* nothing mapped there */
    pf_symbol sym;
    assert_false(pf_symbolize(s, 0x10, &sym));
    assert_int_equal(sym.nframes, 0);
    pf_symbolizer_free(s);
}

static void test_inlined_frames(void **state)
{
    (void)state;
    assert_int_equal(calls_inlined(3), 13); /* and keep it referenced */
    pf_symbolizer *s = new_symbolizer();
    pf_symbol sym;
    if (find_inlined_addr(s, &sym) == 0)
        fail_msg("no address of calls_inlined resolves to inl_square + calls_inlined");
    assert_string_equal(sym.frame[0].function, "inl_square");
    assert_true(ends_with(sym.frame[0].file, THIS_FILE));
    assert_in_range(sym.frame[0].line, INLINE_FIRST_LINE, INLINE_FIRST_LINE + 4);
    assert_string_equal(sym.frame[1].function, "calls_inlined");
    assert_true(ends_with(sym.frame[1].file, THIS_FILE));
    assert_int_equal(sym.frame[1].line, INLINE_CALL_LINE);
    pf_symbolizer_free(s);
}

static void test_cache_stats(void **state)
{
    (void)state;
    pf_symbolizer *s = new_symbolizer();
    pf_symbolizer_stats st;
    pf_symbolizer_get_stats(s, &st);
    assert_int_equal(st.lookups, 0);
    assert_true(st.modules >= 2); /* this binary, libc, ... */
    pf_symbol sym;
    uintptr_t a = (uintptr_t)&static_target + 1;
    pf_symbolize(s, a, &sym);
    pf_symbolize(s, a, &sym);
    char name[64];
    pf_symbolize_name(s, a, name, sizeof name);
    pf_symbolizer_get_stats(s, &st);
    assert_int_equal(st.lookups, 3);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.entries, 1);
    assert_string_equal(name, "static_target");

    /* Releasing libdw's data keeps the cache; a miss reloads. */
    pf_symbolizer_release(s);
    pf_symbolizer_get_stats(s, &st);
    assert_int_equal(st.modules, 0);
    assert_true(pf_symbolize(s, a, &sym));
    pf_symbolizer_get_stats(s, &st);
    assert_int_equal(st.hits, 3);
    assert_true(pf_symbolize(s, (uintptr_t)&pf_test_exported_target + 1, &sym));
    pf_symbolizer_get_stats(s, &st);
    assert_int_equal(st.reloads, 1);
    assert_true(st.modules >= 2);
    assert_string_equal(sym.frame[0].function, "pf_test_exported_target");
    pf_symbolizer_free(s);
}

typedef struct span {
    uintptr_t lo, hi;
} span;

static int find_libc_text(struct dl_phdr_info *info, size_t size, void *data)
{
    span *sp = data;
    (void)size;
    if (strstr(info->dlpi_name, "/libc.so") == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            sp->lo = info->dlpi_addr + ph->p_vaddr;
            sp->hi = sp->lo + ph->p_memsz;
        }
    }
    return 1;
}

static span libc_text(void)
{
    span libc = {0, 0};
    dl_iterate_phdr(find_libc_text, &libc);
    assert_true(libc.hi > libc.lo);
    return libc;
}

/* The cache stays within 8 MiB however many addresses are looked up: full,
 * it starts over, answers stay right and names handed out stay valid. */
static void test_cache_bound(void **state)
{
    (void)state;
    span libc = libc_text();
    pf_symbolizer *s = new_symbolizer();
    pf_symbol before;
    assert_true(pf_symbolize(s, (uintptr_t)&static_target + 1, &before));
    pf_symbolizer_stats st;
    size_t max_bytes = 0, restarts = 0, prev_entries = 0;
    for (uintptr_t a = libc.lo; a < libc.hi && restarts < 2; a += 4) {
        pf_symbol sym;
        pf_symbolize(s, a, &sym);
        pf_symbolizer_get_stats(s, &st);
        if (st.cache_bytes > max_bytes)
            max_bytes = st.cache_bytes;
        if (st.entries < prev_entries)
            restarts++;
        prev_entries = st.entries;
    }
    print_message("cache: at most %zu bytes, %zu restarts\n", max_bytes, restarts);
    assert_true(restarts >= 1); /* libc's text has enough addresses to fill it */
    assert_in_range(max_bytes, 4u << 20, 8u << 20); /* fills up, then starts over */
    pf_symbol after;
    assert_true(pf_symbolize(s, (uintptr_t)&static_target + 1, &after));
    assert_string_equal(after.frame[0].function, "static_target");
    assert_ptr_equal(after.frame[0].function, before.frame[0].function); /* names outlive it */
    pf_symbolizer_free(s);
}

/* libc's symbol table names compat symbols "pthread_kill@GLIBC_2.2.5":
 * profiles show plain names. */
static void test_libc_no_versions(void **state)
{
    (void)state;
    span libc = libc_text();
    pf_symbolizer *s = new_symbolizer();
    size_t n = 2000, resolved = 0;
    for (size_t i = 0; i < n; i++) {
        pf_symbol sym;
        uintptr_t a = libc.lo + (libc.hi - libc.lo) * i / n;
        if (!pf_symbolize(s, a, &sym))
            continue;
        resolved++;
        for (size_t k = 0; k < sym.nframes; k++) {
            if (sym.frame[k].function != NULL && strchr(sym.frame[k].function, '@') != NULL)
                fail_msg("versioned name at %#lx: %s", (unsigned long)a, sym.frame[k].function);
        }
    }
    assert_true(resolved * 2 > n);
    char name[128];
    assert_true(pf_symbolize_name(s, (uintptr_t)&fopen, name, sizeof name));
    assert_null(strchr(name, '@'));
    pf_symbolizer_free(s);
}

/* ---- profiles written with symbols ---- */

static pv_decoded *encode_decode(pf_profile *p, pf_symbolizer *s)
{
    pf_err err = {0};
    uint8_t *buf;
    size_t len;
    if (pf_profile_encode(p, s, PF_WRITE_GZIP, &buf, &len, &err) != PF_OK)
        fail_msg("encode: %s", err.msg);
    pv_decoded *d = pv_decode(buf, len, 0, &err);
    free(buf);
    if (d == NULL)
        fail_msg("decode: %s", err.msg);
    return d;
}

static pf_profile *self_profile(void)
{
    static const pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    pf_err err = {0};
    pf_profile *p = pf_profile_new(types, 2, &err);
    pf_maps *maps = pf_maps_read_self(PF_MAPS_EXEC_ONLY, &err);
    if (p == NULL || maps == NULL)
        fail_msg("setup: %s", err.msg);
    assert_int_equal(pf_profile_add_maps(p, maps), PF_OK);
    pf_maps_free(maps);
    pf_profile_set_period(p, "cpu", "nanoseconds", 10000000);
    return p;
}

static void check_self_mapping(const pv_mapping *m)
{
    char exe[PATH_MAX], id[81];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_non_null(m);
    assert_string_equal(m->file, exe);
    assert_int_equal(pf_build_id_of_file("/proc/self/exe", id, sizeof id), 0);
    assert_string_equal(m->build_id, id);
    assert_true(m->has_functions && m->has_filenames && m->has_line_numbers &&
                m->has_inline_frames);
}

/* Leaf exact, caller by return address: each lands on its own line. */
static void test_profile_with_symbols(void **state)
{
    (void)state;
    pf_symbolizer *s = new_symbolizer();
    pf_profile *p = self_profile();
    pf_symbol isym;
    uintptr_t inl = find_inlined_addr(s, &isym);
    assert_true(inl != 0);
    uintptr_t ra = caller_of_return_address();
    uintptr_t st1[] = {(uintptr_t)&static_target + 4, ra};
    uintptr_t st2[] = {inl, ra};
    int64_t v[2] = {3, 30000000};
    assert_int_equal(pf_profile_add_sample(p, st1, 2, v, NULL, 0, NULL), PF_OK);
    assert_int_equal(pf_profile_add_sample(p, st2, 2, v, NULL, 0, NULL), PF_OK);
    pv_decoded *d = encode_decode(p, s);
    assert_int_equal(d->nsamples, 2);
    const pv_location *leaf = d->samples[0].locations[0];
    check_self_mapping(leaf->mapping);
    assert_int_equal(leaf->nlines, 1);
    assert_string_equal(leaf->lines[0].function->name, "static_target");
    assert_int_equal(leaf->lines[0].function->start_line, STATIC_FIRST_LINE);
    const pv_location *caller = d->samples[0].locations[1];
    assert_int_equal(caller->address, ra - 1);
    assert_string_equal(caller->lines[caller->nlines - 1].function->name,
                        "caller_of_return_address");
    assert_int_equal(caller->lines[caller->nlines - 1].line, RA_CALL_LINE);
    const pv_location *in = d->samples[1].locations[0];
    assert_int_equal(in->nlines, 2);
    assert_string_equal(in->lines[0].function->name, "inl_square");
    assert_string_equal(in->lines[1].function->name, "calls_inlined");
    assert_int_equal(in->lines[1].line, INLINE_CALL_LINE);
    pv_free(d);
    pf_profile_free(p);
    pf_symbolizer_free(s);
}

/* ---- binary deleted while running ---- */

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    char buf[65536];
    ssize_t n = 0;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n)
            n = -1;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        n = -1;
    return in >= 0 && out >= 0 && n == 0 ? 0 : -1;
}

/* Child side: delete our own file, then symbolize. Exit status 0 = ok. */
static int deleted_child(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (exe[n] = '\0', unlink(exe)) != 0)
        return 2;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (!ends_with(exe, " (deleted)"))
        return 3;
    pf_symbolizer *s = pf_symbolizer_new(NULL);
    pf_symbol sym;
    bool ok = s != NULL && pf_symbolize(s, (uintptr_t)&static_target + 4, &sym);
    printf("%s %s %ld\n", ok ? sym.frame[0].function : "-",
           ok && sym.frame[0].file ? sym.frame[0].file : "-", ok ? (long)sym.frame[0].line : 0L);
    pf_maps *m = pf_maps_read_self(PF_MAPS_EXEC_ONLY, NULL);
    const pf_mapping *mine = m ? pf_maps_find(m, (uintptr_t)&static_target) : NULL;
    printf("mapping deleted=%d build_id=%s\n", mine ? mine->deleted : -1,
           mine ? mine->build_id : "-");
    pf_maps_free(m);
    pf_symbolizer_free(s);
    return ok ? 0 : 4;
}

static void run_child(const char *copy, char *out, size_t outlen, int *status)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        execl(copy, copy, "--deleted-child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < outlen - 1 && (n = read(fds[0], out + got, outlen - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, status, 0), pid);
}

static void test_deleted_binary(void **state)
{
    (void)state;
    char dir[] = "/tmp/pf-deleted-XXXXXX", copy[PATH_MAX], out[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(copy, sizeof copy, "%s/copy-of-test", dir);
    assert_int_equal(copy_file("/proc/self/exe", copy), 0);
    int status = 0;
    run_child(copy, out, sizeof out, &status);
    unlink(copy); /* normally gone already */
    rmdir(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child failed (status %#x), said: %s", status, out);
    assert_non_null(strstr(out, "static_target "));
    assert_non_null(strstr(out, THIS_FILE));
    assert_non_null(strstr(out, "mapping deleted=1 build_id="));
    assert_null(strstr(out, "build_id=\n"));
}

/* ---- --write-pprof ---- */

static int file_write(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* 3 samples of static_target, 2 of the inlined code, under the caller. */
static int write_pprof(const char *path)
{
    pf_symbolizer *s = pf_symbolizer_new(NULL);
    pf_profile *p = self_profile();
    pf_symbol isym;
    uintptr_t inl = find_inlined_addr(s, &isym), ra = caller_of_return_address();
    uintptr_t st1[] = {(uintptr_t)&static_target + 4, ra}, st2[] = {inl, ra};
    int64_t v1[2] = {3, 30000000}, v2[2] = {2, 20000000};
    pf_profile_add_sample(p, st1, 2, v1, NULL, 0, NULL);
    pf_profile_add_sample(p, st2, 2, v2, NULL, 0, NULL);
    FILE *f = fopen(path, "wb");
    pf_err err = {0};
    pf_code rc = f ? pf_profile_write(p, s, PF_WRITE_GZIP, file_write, f, &err) : PF_ERR_IO;
    if (f != NULL && fclose(f) != 0)
        rc = PF_ERR_IO;
    if (rc != PF_OK)
        fprintf(stderr, "write-pprof: %s\n", f ? err.msg : "cannot open the file");
    pf_profile_free(p);
    pf_symbolizer_free(s);
    return rc == PF_OK && inl != 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--deleted-child") == 0)
        return deleted_child();
    if (argc >= 3 && strcmp(argv[1], "--write-pprof") == 0)
        return write_pprof(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_function),
        cmocka_unit_test(test_exported_function),
        cmocka_unit_test(test_inlined_frames),
        cmocka_unit_test(test_cache_stats),
        cmocka_unit_test(test_libc_no_versions),
        cmocka_unit_test(test_cache_bound),
        cmocka_unit_test(test_profile_with_symbols),
        cmocka_unit_test(test_deleted_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
