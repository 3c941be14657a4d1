/*
 * The process figures of /metrics: /proc/self/stat and /proc/stat parsed
 * from text as the kernel writes it (a command name with spaces and
 * parentheses included), the figures of this very process, tcmalloc's
 * figures through a fake symbol lookup, and how metrics.c writes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/metrics.h"
#include "core/procstat.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static void assert_lacks(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("did not expect \"%s\" in \"%s\"", part, text);
}

/* A line as Linux 6 writes it, after the command name: utime 71, stime 29,
 * 7 threads, started 112201 ticks after boot, 3133440 bytes of address
 * space, 415 pages resident (and an rsslim of 2^64 - 1). */
#define STAT_REST                                                                              \
    " R 16648 16648 3004 0 -1 4194304 102 0 0 0 71 29 0 0 20 0 7 0 112201 3133440 415 "         \
    "18446744073709551615 94597067194368 94597067214249 140736825028784 0 0 0 0 0 0 0 0 0 17 " \
    "0 0 0 0 0 0 94597067230256 94597067231872 94597260705792 140736825035207 "                 \
    "140736825035227 140736825035227 140736825036779 0\n"

static void assert_fields(const prof_stat_fields *f)
{
    assert_int_equal(f->state, 'R');
    assert_int_equal(f->utime, 71);
    assert_int_equal(f->stime, 29);
    assert_int_equal(f->num_threads, 7);
    assert_int_equal(f->starttime, 112201);
    assert_int_equal(f->vsize, 3133440);
    assert_int_equal(f->rss, 415);
}

static void test_stat_line(void **state)
{
    (void)state;
    prof_stat_fields f;
    assert_int_equal(prof_parse_stat("16650 (takhind)" STAT_REST, &f), 0);
    assert_fields(&f);
}

/* A thread may name itself anything up to 15 bytes: the name ends at the
 * last ')', not the first, and its spaces are not field separators. */
static void test_stat_comm_with_spaces_and_parens(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "7 (a b c)" STAT_REST,
        "7 (x) R 1 2 3)" STAT_REST,   /* looks like fields inside the name */
        "7 ((sd-pam))" STAT_REST,
        "7 ()" STAT_REST,
        "7 (:) ) ( )" STAT_REST,
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        prof_stat_fields f;
        if (prof_parse_stat(lines[i], &f) != 0)
            fail_msg("refused: %s", lines[i]);
        assert_fields(&f);
    }
}

static void test_stat_refuses_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "16650 takhind R 1 2 3",                               /* no parentheses */
        "16650 (takhind)",                                     /* nothing after */
        "16650 (takhind) R 16648 16648 3004 0 -1 4194304 102", /* cut short */
        "16650 (takhind) R 16648 16648 3004 0 -1 4194304 102 0 0 0 x1 29 0 0 20 0 7 0 112201 "
        "3133440 415\n",                                       /* a field not a number */
        "16650 (takhind)R 16648",                              /* no blank after ')' */
        "16650 )takhind( R 16648 16648 3004 0 -1 4194304 102 0 0 0 71 29 0 0 20 0 7 0 112201 "
        "3133440 415\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        prof_stat_fields f;
        if (prof_parse_stat(bad[i], &f) == 0)
            fail_msg("accepted: %s", bad[i]);
    }
}

static void test_btime(void **state)
{
    (void)state;
    const char *text = "cpu  5133 12 3209 1093392 421 0 44 0 0 0\n"
                       "cpu0 2566 6 1604 546696 210 0 22 0 0 0\n"
                       "intr 253411 9 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0\n"
                       "ctxt 502934\n"
                       "xbtime 5\n"
                       "btime 1796114352\n"
                       "processes 16657\n";
    uint64_t bt = 0;
    assert_int_equal(prof_parse_btime(text, &bt), 0);
    assert_int_equal(bt, 1796114352);
    assert_int_equal(prof_parse_btime("cpu 1 2 3\nctxt 4\n", &bt), -1);
    assert_int_equal(prof_parse_btime("", &bt), -1);
    assert_int_equal(prof_parse_btime("btime x\n", &bt), -1);
}

static void burn_cpu(double seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

/* This test's own process, against what the C library says of it. */
static void test_read_self(void **state)
{
    (void)state;
    prof_procstat a, b;
    prof_procstat_read(&a);
    assert_true(a.has_cpu && a.has_stat && a.has_start && a.has_fds && a.has_max_fds);
    assert_true(a.threads >= 1);
    assert_true(a.resident_bytes > 0 && a.virtual_bytes >= a.resident_bytes);
    double now = (double)time(NULL);
    /* Started before now, and not long before (the process is a test). */
    assert_true(a.start_time_seconds <= now + 1 && a.start_time_seconds > now - 600);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(a.max_fds, rl.rlim_cur);

    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    burn_cpu(0.05);
    prof_procstat_read(&b);
    close(fd);
    assert_int_equal(b.open_fds, a.open_fds + 1);
    assert_true(b.cpu_seconds >= a.cpu_seconds + 0.04);
    assert_true(b.start_time_seconds == a.start_time_seconds);
}

/* ---- tcmalloc through a fake lookup ---- */

static int fake_malloc, fake_other;
static int answers; /* bit i: answer property i */

static int fake_numeric(const char *name, size_t *value)
{
    static const char *const props[] = {"generic.current_allocated_bytes", "generic.heap_size",
                                        "tcmalloc.pageheap_free_bytes",
                                        "tcmalloc.pageheap_unmapped_bytes"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, props[i]) == 0 && (answers & (1 << i))) {
            *value = (size_t)(i + 1) * 1000;
            return 1;
        }
    return 0;
}

static void *lookup_tcmalloc(const char *name)
{
    if (strcmp(name, "malloc") == 0 || strcmp(name, "tc_malloc") == 0)
        return &fake_malloc;
    if (strcmp(name, "MallocExtension_GetNumericProperty") == 0)
        return (void *)fake_numeric;
    return NULL;
}

static void *lookup_glibc(const char *name)
{
    if (strcmp(name, "malloc") == 0)
        return &fake_other;
    /* tcmalloc loaded but not the allocator (dlopen'd, say). */
    return lookup_tcmalloc(name);
}

static void *lookup_no_extension(const char *name)
{
    return strcmp(name, "MallocExtension_GetNumericProperty") == 0 ? NULL
                                                                   : lookup_tcmalloc(name);
}

static void test_tcmalloc(void **state)
{
    (void)state;
    prof_tcmalloc_stats t;
    answers = 0xf;
    prof_tcmalloc_read(lookup_tcmalloc, &t);
    assert_true(t.has_allocated && t.has_heap_size && t.has_pageheap_free &&
                t.has_pageheap_unmapped);
    assert_int_equal(t.allocated_bytes, 1000);
    assert_int_equal(t.heap_size_bytes, 2000);
    assert_int_equal(t.pageheap_free_bytes, 3000);
    assert_int_equal(t.pageheap_unmapped_bytes, 4000);

    answers = 0x5; /* the page heap's unmapped bytes unknown, heap size too */
    prof_tcmalloc_read(lookup_tcmalloc, &t);
    assert_true(t.has_allocated && !t.has_heap_size && t.has_pageheap_free &&
                !t.has_pageheap_unmapped);

    answers = 0xf;
    prof_tcmalloc_read(lookup_glibc, &t);
    assert_false(t.has_allocated || t.has_heap_size || t.has_pageheap_free ||
                 t.has_pageheap_unmapped);
    prof_tcmalloc_read(lookup_no_extension, &t);
    assert_false(t.has_allocated || t.has_heap_size || t.has_pageheap_free ||
                 t.has_pageheap_unmapped);
}

/* ---- what /metrics writes ---- */

static char *render(const prof_metrics_sampled *s)
{
    static const char *const names[] = {"profile"};
    prof_metrics *m = prof_metrics_new(names, 1);
    assert_non_null(m);
    pf_strbuf out = {0};
    prof_metrics_render(m, &out, true, s);
    prof_metrics_free(m);
    assert_false(out.failed);
    pf_strbuf_put(&out, "", 1);
    return out.s;
}

static void test_render_process(void **state)
{
    (void)state;
    prof_metrics_sampled s = {0};
    s.process = (prof_procstat){
        .has_cpu = true, .has_stat = true, .has_start = true, .has_fds = true,
        .has_max_fds = true, .cpu_seconds = 12.5, .resident_bytes = 4096 * 415,
        .virtual_bytes = 3133440, .threads = 7, .start_time_seconds = 1796115474.01,
        .open_fds = 31, .max_fds = 1024,
    };
    s.tcmalloc = (prof_tcmalloc_stats){.has_allocated = true, .allocated_bytes = 2902744,
                                       .has_pageheap_unmapped = true};
    char *text = render(&s);
    /* As the Prometheus client libraries write them. */
    assert_contains(text, "# HELP process_cpu_seconds_total Total user and system CPU time "
                          "spent in seconds.\n# TYPE process_cpu_seconds_total counter\n"
                          "process_cpu_seconds_total 12.5");
    assert_contains(text, "# HELP process_open_fds Number of open file descriptors.\n"
                          "# TYPE process_open_fds gauge\nprocess_open_fds 31\n");
    assert_contains(text, "# HELP process_max_fds Maximum number of open file descriptors.\n"
                          "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n");
    assert_contains(text, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                          "# TYPE process_virtual_memory_bytes gauge\n"
                          "process_virtual_memory_bytes 3133440\n");
    assert_contains(text, "# HELP process_resident_memory_bytes Resident memory size in "
                          "bytes.\n# TYPE process_resident_memory_bytes gauge\n"
                          "process_resident_memory_bytes 1699840\n");
    assert_contains(text, "# HELP process_start_time_seconds Start time of the process since "
                          "unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n"
                          "process_start_time_seconds 1796115474.01\n");
    assert_contains(text, "# HELP process_threads Number of OS threads in the process.\n"
                          "# TYPE process_threads gauge\nprocess_threads 7\n");
    assert_contains(text, "# TYPE takhin_profiler_tcmalloc_allocated_bytes gauge\n"
                          "takhin_profiler_tcmalloc_allocated_bytes 2902744\n");
    assert_contains(text, "takhin_profiler_tcmalloc_pageheap_unmapped_bytes 0\n");
    assert_lacks(text, "takhin_profiler_tcmalloc_heap_size_bytes");
    assert_lacks(text, "takhin_profiler_tcmalloc_pageheap_free_bytes");
    free(text);
}

/* Without /proc and under another allocator: those metrics are absent,
 * never 0. */
static void test_render_absent(void **state)
{
    (void)state;
    prof_metrics_sampled s = {0};
    char *text = render(&s);
    assert_lacks(text, "process_");
    assert_lacks(text, "tcmalloc");
    assert_contains(text, "takhin_profiler_enabled 1\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_line),
        cmocka_unit_test(test_stat_comm_with_spaces_and_parens),
        cmocka_unit_test(test_stat_refuses_garbage),
        cmocka_unit_test(test_btime),
        cmocka_unit_test(test_read_self),
        cmocka_unit_test(test_tcmalloc),
        cmocka_unit_test(test_render_process),
        cmocka_unit_test(test_render_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
