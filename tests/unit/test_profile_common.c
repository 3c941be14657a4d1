/*
 * test_profile_common.c - the profile core's errors and whole-file reader
 * (profile/pf_common.c): a regular file at and over the limit (refused
 * from its size, before any read), pipes growing to the limit and not
 * past it, procfs files that report size 0, a missing file, and
 * pf_seterr's filling.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pf_common.h"
#include "pf_gzip.h"

/* A temporary file of n bytes of 'x'; its path in path (>= 64 bytes). */
static void make_file(char *path, size_t n)
{
    snprintf(path, 64, "/tmp/tk-common-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *data = malloc(n + 1);
    assert_non_null(data);
    memset(data, 'x', n);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    free(data);
    close(fd);
}

static void test_regular_file_limit(void **state)
{
    (void)state;
    char path[64], *buf = NULL;
    size_t len = 0;
    pf_err err = {PF_OK, ""};
    make_file(path, 1000);
    assert_int_equal(pf_read_file(path, 1000, &buf, &len, &err), PF_OK);
    assert_int_equal(len, 1000);
    assert_int_equal(buf[len], '\0');
    assert_int_equal(buf[999], 'x');
    free(buf);
    assert_int_equal(pf_read_file(path, 999, &buf, &len, &err), PF_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "is larger than 999 bytes"));
    /* Refused from its size: a descriptor that cannot be read says so
     * by the limit, not by a read error. */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pf_read_fd(fd, "the file", 999, &buf, &len, &err), PF_ERR_LIMIT);
    assert_string_equal(err.msg, "the file is larger than 999 bytes");
    close(fd);
    unlink(path);
}

/* n bytes through a pipe read with pf_read_fd(max). */
static pf_code read_pipe(size_t n, size_t max, size_t *len, pf_err *err)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    char *data = malloc(n + 1);
    assert_non_null(data);
    memset(data, 'y', n);
    assert_true(n <= 65536); /* within the pipe's buffer: no writer thread */
    assert_int_equal(write(p[1], data, n), (ssize_t)n);
    close(p[1]);
    free(data);
    char *buf = NULL;
    pf_code rc = pf_read_fd(p[0], "the pipe", max, &buf, len, err);
    close(p[0]);
    if (rc == PF_OK) {
        assert_int_equal(buf[*len], '\0');
        free(buf);
    }
    return rc;
}

static void test_pipe_limit(void **state)
{
    (void)state;
    size_t len = 0;
    pf_err err = {PF_OK, ""};
    assert_int_equal(read_pipe(100, 100, &len, &err), PF_OK);
    assert_int_equal(len, 100);
    assert_int_equal(read_pipe(0, 100, &len, &err), PF_OK);
    assert_int_equal(len, 0);
    assert_int_equal(read_pipe(60000, 100, &len, &err), PF_ERR_LIMIT);
    assert_string_equal(err.msg, "the pipe is larger than 100 bytes");
}

static void test_procfs(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(pf_read_file("/proc/self/status", 1 << 20, &buf, &len, NULL), PF_OK);
    assert_true(len > 0);
    assert_int_equal(strlen(buf), len);
    assert_non_null(strstr(buf, "Name:"));
    free(buf);
}

static void test_missing_file(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    pf_err err = {PF_OK, ""};
    assert_int_equal(pf_read_file("/nonexistent/x.pb.gz", 10, &buf, &len, &err), PF_ERR_IO);
    assert_int_equal(err.code, PF_ERR_IO);
    assert_string_equal(err.msg, "cannot open /nonexistent/x.pb.gz: No such file or directory");
}

static void test_seterr(void **state)
{
    (void)state;
    pf_err err = {PF_OK, ""};
    assert_int_equal(pf_seterr(NULL, PF_ERR_FORMAT, "x"), PF_ERR_FORMAT);
    assert_int_equal(pf_seterr(&err, PF_ERR_LIMIT, "%d of %s", 3, "4"), PF_ERR_LIMIT);
    assert_int_equal(err.code, PF_ERR_LIMIT);
    assert_string_equal(err.msg, "3 of 4");
    assert_string_equal(pf_code_name(PF_ERR_NOMEM), "out of memory");
}

/* pf_gunzip keeps memory to 16 times the compressed size until it knows
 * the real one (issue 23, row 10): data that compresses better is
 * counted, then inflated again at its exact size when under the limit,
 * and refused at the limit otherwise. */
static void test_gunzip_high_ratio(void **state)
{
    (void)state;
    size_t plain_len = 4u << 20, glen, n;
    uint8_t *plain = malloc(plain_len), *gz, *out;
    assert_non_null(plain);
    for (size_t i = 0; i < plain_len; i++)
        plain[i] = (uint8_t)(i % 7 == 0 ? i / 4096 : 0); /* compresses far past 16x */
    assert_int_equal(pf_gzip(plain, plain_len, &gz, &glen, NULL), PF_OK);
    assert_true(glen * 16 + (1u << 20) < plain_len); /* so the first pass spills */
    pf_err err = {0};
    assert_int_equal(pf_gunzip(gz, glen, plain_len, &out, &n, &err), PF_OK);
    assert_int_equal(n, plain_len);
    assert_memory_equal(out, plain, plain_len);
    free(out);
    assert_int_equal(pf_gunzip(gz, glen, plain_len - 1, &out, &n, &err), PF_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "gzip: more than 4194303 bytes uncompressed"));
    uint8_t *empty;
    assert_int_equal(pf_gzip("", 0, &empty, &glen, NULL), PF_OK);
    assert_int_equal(pf_gunzip(empty, glen, 100, &out, &n, &err), PF_OK);
    assert_int_equal(n, 0);
    free(out);
    free(empty);
    free(gz);
    free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file_limit),
        cmocka_unit_test(test_pipe_limit),
        cmocka_unit_test(test_procfs),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_seterr),
        cmocka_unit_test(test_gunzip_high_ratio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
