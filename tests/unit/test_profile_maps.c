/*
 * test_profile_maps.c - memory mappings and build IDs (profile/
 * pf_maps.c): parsing maps text (tests/unit/data/profile/maps_sample.txt:
 * deleted files, spaces in paths, anonymous and special mappings, garbage
 * lines, unsorted input), this process's own maps with build IDs read from
 * memory, compared with the ones read from the files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"

#ifndef PROFILE_DATA
#define PROFILE_DATA "tests/unit/data/profile/"
#endif

static char *read_fixture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", PROFILE_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root)", path);
    char *data = malloc(1 << 16);
    *len = fread(data, 1, 1 << 16, f);
    fclose(f);
    return data;
}

static pf_maps *parse(const char *text, size_t len, unsigned flags)
{
    pf_err err = {0};
    pf_maps *m = pf_maps_parse(text, len, flags, &err);
    if (m == NULL)
        fail_msg("parse: %s", err.msg);
    return m;
}

static void test_parse_exec_only(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("maps_sample.txt", &len);
    pf_maps *m = parse(text, len, PF_MAPS_EXEC_ONLY);
    assert_int_equal(m->len, 6);
    const pf_mapping *t = &m->map[0]; /* sorted by start */
    assert_int_equal(t->start, 0x55d0c0001000);
    assert_int_equal(t->limit, 0x55d0c0010000);
    assert_int_equal(t->offset, 0x1000);
    assert_int_equal(t->inode, 1234);
    assert_string_equal(t->path, "/srv/takhin/bin/takhind");
    assert_true(t->deleted);
    assert_true(t->exec);
    assert_string_equal(t->perms, "r-xp");
    assert_string_equal(t->build_id, ""); /* no build ID flag */
    assert_string_equal(m->map[1].path, "/opt/dir with spaces/libspace.so");
    assert_false(m->map[1].deleted);
    assert_string_equal(m->map[2].path, ""); /* anonymous rwxp */
    assert_string_equal(m->map[3].path, "/usr/lib/libunsorted.so");
    assert_string_equal(m->map[4].path, "[vdso]");
    assert_string_equal(m->map[5].path, "[vsyscall]"); /* last line, no newline */
    assert_string_equal(m->map[5].perms, "--xp");
    for (size_t i = 1; i < m->len; i++)
        assert_true(m->map[i - 1].start < m->map[i].start);
    pf_maps_free(m);
    free(text);
}

static void test_parse_all_and_find(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("maps_sample.txt", &len);
    pf_maps *m = parse(text, len, 0);
    assert_int_equal(m->len, 10); /* 4 garbage lines skipped */
    const pf_mapping *f = pf_maps_find(m, 0x55d0c0001000);
    assert_non_null(f);
    assert_string_equal(f->perms, "r-xp");
    f = pf_maps_find(m, 0x55d0c000ffff);
    assert_non_null(f);
    assert_int_equal(f->start, 0x55d0c0001000);
    f = pf_maps_find(m, 0x55d0c0010000); /* limit is exclusive: next one */
    assert_non_null(f);
    assert_string_equal(f->perms, "rw-p");
    assert_null(pf_maps_find(m, 0x1000));
    assert_null(pf_maps_find(m, 0x55d0c0011000)); /* gap */
    assert_null(pf_maps_find(NULL, 0x1000));
    pf_maps_free(m);
    free(text);
    pf_maps_free(NULL);
}

static void test_odd_text(void **state)
{
    (void)state;
    static const char crlf[] = "00400000-00401000 r-xp 00000000 08:01 1 /bin/x\r\n"
                               "00500000-00501000 r-xp 00000000 08:01 1 /bin/\0y\n"
                               "00600000-00601000 r-xp 00000000 08:01 1 /bin/z   \n";
    pf_maps *m = parse(crlf, sizeof crlf - 1, 0);
    assert_int_equal(m->len, 2); /* the line with a NUL byte is skipped */
    assert_string_equal(m->map[0].path, "/bin/x");
    assert_string_equal(m->map[1].path, "/bin/z");
    pf_maps_free(m);
    m = parse("", 0, 0);
    assert_int_equal(m->len, 0);
    pf_maps_free(m);
    /* Not NUL-terminated: the parser must stop at len. */
    char *exact = malloc(20);
    memcpy(exact, "00400000-00401000 r", 19);
    exact[19] = 'x';
    m = parse(exact, 20, 0);
    assert_int_equal(m->len, 0);
    pf_maps_free(m);
    free(exact);
}

static void test_random_text(void **state)
{
    (void)state;
    size_t len;
    char *text = read_fixture("maps_sample.txt", &len);
    uint64_t x = 0x853c49e6748fea9bULL;
    for (int iter = 0; iter < 2000; iter++) {
        char *copy = malloc(len);
        memcpy(copy, text, len);
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[x % len] = (char)(x >> 56);
        }
        pf_maps *m = parse(copy, (size_t)(x >> 20) % (len + 1), 0);
        for (size_t i = 0; i < m->len; i++)
            assert_true(m->map[i].start < m->map[i].limit);
        pf_maps_free(m);
        free(copy);
    }
    free(text);
}

/* Build IDs read from memory match the files on disk. */
static void test_self_build_ids(void **state)
{
    (void)state;
    pf_err err = {0};
    pf_maps *m = pf_maps_read_self(PF_MAPS_EXEC_ONLY, &err);
    if (m == NULL)
        fail_msg("%s", err.msg);
    const pf_mapping *self = pf_maps_find(m, (uintptr_t)&test_self_build_ids);
    assert_non_null(self);
    assert_true(self->exec);
    char exe[PATH_MAX], id[81];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_string_equal(self->path, exe);
    assert_int_equal(pf_build_id_of_file(exe, id, sizeof id), 0);
    assert_int_equal(strlen(id), 40); /* SHA-1 build ID */
    assert_string_equal(self->build_id, id);
    const pf_mapping *libc = pf_maps_find(m, (uintptr_t)&fopen);
    assert_non_null(libc);
    assert_int_equal(pf_build_id_of_file(libc->path, id, sizeof id), 0);
    assert_string_equal(libc->build_id, id);
    pf_maps_free(m);
}

static void test_build_ids_from_files(void **state)
{
    (void)state;
    char exe[PATH_MAX], line[PATH_MAX + 100], id[81];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    int len = snprintf(line, sizeof line, "10000-20000 r-xp 00001000 08:01 7 %s\n"
                       "20000-30000 r-xp 00000000 08:01 7 /nonexistent/lib.so\n", exe);
    pf_maps *m = parse(line, (size_t)len, PF_MAPS_BUILD_ID_FILE);
    assert_int_equal(pf_build_id_of_file("/proc/self/exe", id, sizeof id), 0);
    assert_string_equal(m->map[0].build_id, id);
    assert_string_equal(m->map[1].build_id, "");
    pf_maps_free(m);
    assert_int_equal(pf_build_id_of_file("/nonexistent", id, sizeof id), -1);
    assert_int_equal(pf_build_id_of_file(PROFILE_DATA "maps_sample.txt", id, sizeof id), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_exec_only),
        cmocka_unit_test(test_parse_all_and_find),
        cmocka_unit_test(test_odd_text),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_self_build_ids),
        cmocka_unit_test(test_build_ids_from_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
