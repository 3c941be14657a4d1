/*
 * The heap sampler (plugin/capture/heap.c): allocator detection and the 501 path
 * in this process (not linked with tcmalloc), the unsampling weights, and
 * the sampler itself in a child run under LD_PRELOAD=libtcmalloc.so.4:
 * estimates within a few standard deviations of what was allocated, the
 * allocating function as the leaf, in-use after frees, other threads,
 * sampling off (503) and on again, the live-object bound, unloading.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/heap.h"
#include "profiles/heap.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a host that only logs ---- */

static char last_log[512];

static void fake_log(tk_host *host, tk_log_level level, const char *fmt, ...)
{
    (void)host;
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
}

static const tk_host_api fake_api = {.log = fake_log};
static const prof_host fake_host = {&fake_api, NULL};

/* ---- detection ---- */

static int fake_a, fake_b;
static bool fake_hooks = true;

static void *lookup_tcmalloc(const char *name)
{
    if (strncmp(name, "MallocHook_", 11) == 0)
        return fake_hooks ? &fake_a : NULL;
    return &fake_a; /* malloc and tc_malloc are the same function */
}

static void *lookup_glibc(const char *name)
{
    return strcmp(name, "malloc") == 0 ? (void *)&fake_b : (void *)&fake_a;
}

static void *lookup_nothing(const char *name)
{
    return strcmp(name, "malloc") == 0 ? (void *)&fake_b : NULL;
}

static void test_detection(void **state)
{
    (void)state;
    fake_hooks = true;
    assert_null(prof_heap_check_allocator(lookup_tcmalloc));
    const char *why = prof_heap_check_allocator(lookup_glibc);
    assert_non_null(why);
    assert_non_null(strstr(why, "needs tcmalloc as the process allocator"));
    assert_non_null(strstr(why, "LD_PRELOAD=libtcmalloc.so.4"));
    assert_string_equal(prof_heap_check_allocator(lookup_nothing), why);
    fake_hooks = false;
    assert_non_null(strstr(prof_heap_check_allocator(lookup_tcmalloc), "malloc hooks"));
    fake_hooks = true;
}

static void *dl_lookup(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

/* This binary runs on glibc's malloc: both profiles say 501 and why. */
static void test_not_tcmalloc_is_501(void **state)
{
    (void)state;
    if (dlsym(RTLD_DEFAULT, "tc_malloc") != NULL)
        skip();
    assert_non_null(prof_heap_check_allocator(dl_lookup));
    prof_heap_init(&fake_host, 524288);
    assert_non_null(strstr(last_log, "unavailable"));
    const prof_kind *kinds[] = {&prof_heap_kind, &prof_heap_allocs_kind};
    for (int i = 0; i < 2; i++) {
        prof_records recs;
        prof_records_init(&recs, 4);
        char err[512] = "";
        assert_int_equal(kinds[i]->collect(NULL, &recs, err, sizeof err), 501);
        assert_non_null(strstr(err, "link the host with -ltcmalloc"));
        pf_strbuf sb = {0};
        assert_int_equal(kinds[i]->text(NULL, NULL, &recs, 1, &sb, err, sizeof err), 501);
        free(sb.s);
        prof_records_free(&recs);
    }
    assert_int_equal(prof_heap_kind.count(NULL), -1);
    prof_heap_reconfigure(0); /* harmless */
    prof_heap_fini();
}

static void test_kinds(void **state)
{
    (void)state;
    assert_string_equal(prof_heap_kind.name, "heap");
    assert_string_equal(prof_heap_kind.default_type, "inuse_space");
    assert_string_equal(prof_heap_allocs_kind.name, "allocs");
    assert_string_equal(prof_heap_allocs_kind.default_type, "alloc_space");
    const char *want[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    assert_int_equal(prof_heap_kind.nvalues, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(prof_heap_kind.types[i].type, want[i]);
    assert_string_equal(prof_heap_kind.period_type.type, "space");
    assert_true(prof_heap_kind.delta && prof_heap_allocs_kind.delta);
    assert_int_equal(prof_heap_kind.pc_mode, PF_PCS_ALL_RETURN);
}

static void assert_near(double got, double want, double rel)
{
    if (got < want * (1 - rel) || got > want * (1 + rel))
        fail_msg("got %.12g, want %.12g (within %g)", got, want, rel);
}

/* Go's scaleHeapSample: 1/(1-exp(-size/rate)). References: Python's
 * 1/-expm1(-size/rate) (1 - exp() itself loses digits for small sizes). */
static void test_weights(void **state)
{
    (void)state;
    assert_near(prof_heap_sample_weight(524288, 524288), 1.5819767068693265, 1e-12);
    assert_near(prof_heap_sample_weight(4096, 4096), 1.5819767068693265, 1e-12);
    assert_near(prof_heap_sample_weight(16, 524288), 32768.50000254313, 1e-12);
    assert_near(prof_heap_sample_weight(40960, 4096), 1.0000454019910097, 1e-12);
    assert_near(prof_heap_sample_weight(100, 1L << 30), 10737418.740000008, 1e-12);
    assert_near(prof_heap_sample_weight(3000000, 524288), 1.0032837555637921, 1e-12);
    assert_near(prof_heap_sample_weight(1UL << 40, 524288), 1.0, 1e-15);
    assert_near(prof_heap_sample_weight(0, 524288), 1.0, 0);
    double prev = 1e300;
    for (uint64_t s = 1; s < (1u << 24); s = s * 3 + 1) { /* decreasing in size */
        double w = prof_heap_sample_weight(s, 65536);
        assert_true(w < prev && w >= 1.0);
        prev = w;
    }
}

/* ---- the child under tcmalloc ---- */

static int failures;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "child: line %d: ", __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
        }                                                                    \
    } while (0)

#define SITE_N 50000
static void *kept[SITE_N];

/* Non-static: dladdr names them (tests link with -rdynamic). */
__attribute__((noinline)) void *heap_test_site_kept(size_t size);
__attribute__((noinline)) void *heap_test_site_freed(size_t size);
__attribute__((noinline)) void *heap_test_site_thread(size_t size);
__attribute__((noinline)) void *heap_test_site_kept(size_t size)
{
    void *p = malloc(size);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}
__attribute__((noinline)) void *heap_test_site_freed(size_t size)
{
    void *p = calloc(1, size);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}
__attribute__((noinline)) void *heap_test_site_thread(size_t size)
{
    void *p = malloc(size);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

/* Sums the values of the records whose leaf is in function `name`. */
static int sum_site(const char *name, int64_t v[4])
{
    prof_records recs;
    prof_records_init(&recs, 4);
    char err[512] = "";
    int status = prof_heap_kind.collect(NULL, &recs, err, sizeof err);
    memset(v, 0, 4 * sizeof *v);
    for (size_t i = 0; status == 0 && i < recs.len; i++) {
        Dl_info info;
        if (dladdr((void *)(recs.rec[i].pcs[0] - 1), &info) && info.dli_sname &&
            strcmp(info.dli_sname, name) == 0)
            for (int k = 0; k < 4; k++)
                v[k] += recs.rec[i].values[k];
    }
    prof_records_free(&recs);
    return status;
}

static void check_near(const char *what, int64_t got, double want, double rel)
{
    CHECK(got >= want * (1 - rel) && got <= want * (1 + rel), "%s: %lld, want %.0f +- %.0f%%",
          what, (long long)got, want, rel * 100);
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        free(heap_test_site_thread(1000));
    return NULL;
}

/* Estimates at rate 4096: about 2400 samples of the kept site (sd ~2%). */
static void child_accuracy(void)
{
    int64_t v[4];
    for (int i = 0; i < SITE_N; i++)
        kept[i] = heap_test_site_kept(200);
    for (int i = 0; i < SITE_N; i++)
        free(heap_test_site_freed(1000));
    CHECK(sum_site("heap_test_site_kept", v) == 0, "collect failed");
    check_near("kept alloc_objects", v[0], SITE_N, 0.10);
    check_near("kept alloc_space", v[1], SITE_N * 200.0, 0.10);
    check_near("kept inuse_space", v[3], SITE_N * 200.0, 0.10);
    sum_site("heap_test_site_freed", v);
    check_near("freed alloc_space", v[1], SITE_N * 1000.0, 0.10);
    CHECK(v[2] == 0 && v[3] == 0, "freed: in use %lld objects %lld bytes", (long long)v[2],
          (long long)v[3]);
    for (int i = 0; i < SITE_N / 2; i++)
        free(kept[i]);
    sum_site("heap_test_site_kept", v);
    check_near("kept inuse_space after half freed", v[3], SITE_N * 100.0, 0.15);
    check_near("kept alloc_space after half freed", v[1], SITE_N * 200.0, 0.10);
    pthread_t t;
    pthread_create(&t, NULL, thread_main, NULL);
    pthread_join(t, NULL);
    sum_site("heap_test_site_thread", v);
    check_near("thread alloc_space", v[1], 10000 * 1000.0, 0.15);
}

static void child_text(void)
{
    prof_records recs;
    prof_records_init(&recs, 4);
    pf_strbuf sb = {0};
    char err[512] = "";
    CHECK(prof_heap_kind.text(NULL, NULL, &recs, 1, &sb, err, sizeof err) == 0, "text: %s", err);
    CHECK(sb.s && strncmp(sb.s, "heap profile: ", 14) == 0, "text header");
    CHECK(sb.s && strstr(sb.s, "] @ heap/8192\n"), "text: rate 2*4096");
    CHECK(sb.s && strstr(sb.s, "# Samples = "), "text trailer");
    free(sb.s);
    prof_records_free(&recs);
}

/* 0 turns sampling off (503, data dropped); N again starts afresh. */
static void child_off_and_on(void)
{
    prof_heap_reconfigure(0);
    prof_records recs;
    prof_records_init(&recs, 4);
    char err[512] = "";
    CHECK(prof_heap_kind.collect(NULL, &recs, err, sizeof err) == 503, "off: not 503");
    CHECK(strstr(err, "heap_sample_bytes") != NULL, "off: message %s", err);
    prof_heap_reconfigure(4096);
    int64_t v[4];
    CHECK(sum_site("heap_test_site_kept", v) == 0, "on again: collect failed");
    CHECK(v[0] == 0, "on again: old samples kept (%lld)", (long long)v[0]);
    for (int i = SITE_N / 2; i < SITE_N; i++) /* allocated before: not tracked */
        free(kept[i]);
    sum_site("heap_test_site_kept", v);
    CHECK(v[2] == 0 && v[3] == 0, "frees of untracked objects counted");
    prof_records_free(&recs);
}

/* Rate 1 samples every allocation: more than PROF_HEAP_MAX_LIVE live
 * samples are counted as untracked, never written out of bounds. */
static void child_live_bound(void)
{
    enum { N = PROF_HEAP_MAX_LIVE + 5000 };
    void **many = calloc(N, sizeof *many);
    prof_heap_reconfigure(0); /* a clean table */
    prof_heap_reconfigure(1);
    for (int i = 0; i < 10000; i++) /* past this thread's countdown at 4096 */
        free(heap_test_site_kept(16)); /* not malloc: gcc drops free(malloc()) */
    for (int i = 0; i < N; i++)
        many[i] = heap_test_site_kept(16);
    prof_records recs;
    prof_records_init(&recs, 4);
    pf_strbuf sb = {0};
    char err[512] = "";
    prof_heap_kind.text(NULL, NULL, &recs, 1, &sb, err, sizeof err);
    const char *u = sb.s ? strstr(sb.s, "# Untracked = ") : NULL;
    CHECK(u != NULL && atol(u + 14) >= 4900, "untracked: %s", u ? strstr(sb.s, "# heap") : "(none)");
    free(sb.s);
    prof_records_free(&recs);
    for (int i = 0; i < N; i++)
        free(many[i]);
    free(many);
    int64_t v[4];
    sum_site("heap_test_site_kept", v);
    CHECK(v[2] == 0 && v[3] == 0, "all freed, yet %lld in use", (long long)v[2]);
    CHECK(v[0] >= N * 0.9, "rate 1: %lld of %d allocations", (long long)v[0], N);
}

/* Threads allocate and free (some objects live on) at a high sampling
 * rate while sampling is switched off and on: no crash, no deadlock, and
 * once everything is freed nothing of the site is in use. */
enum { STRESS_THREADS = 4, STRESS_OPS = 100000, STRESS_KEEP = 256 };
__attribute__((noinline)) void *heap_test_site_stress(size_t size);
__attribute__((noinline)) void *heap_test_site_stress(size_t size)
{
    void *p = malloc(size);
    __asm__ volatile("" ::"r"(p) : "memory");
    return p;
}

static void *stress_main(void *arg)
{
    void *keep[STRESS_KEEP] = {0};
    uint64_t r = (uintptr_t)arg | 1;
    for (int i = 0; i < STRESS_OPS; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t slot = r % STRESS_KEEP;
        free(keep[slot]);
        keep[slot] = heap_test_site_stress(16 + (r >> 40) % 2000);
    }
    for (int i = 0; i < STRESS_KEEP; i++)
        free(keep[i]);
    return NULL;
}

static void child_stress(void)
{
    prof_heap_reconfigure(256);
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_create(&t[i], NULL, stress_main, (void *)(uintptr_t)(i + 1));
    for (int k = 0; k < 20; k++) {
        struct timespec ms = {0, 5000000};
        nanosleep(&ms, NULL);
        prof_heap_reconfigure(k % 2 ? 256 : 0);
    }
    prof_heap_reconfigure(256);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    int64_t v[4];
    CHECK(sum_site("heap_test_site_stress", v) == 0, "stress: collect failed");
    CHECK(v[2] == 0 && v[3] == 0, "stress: all freed, yet %lld objects %lld bytes in use",
          (long long)v[2], (long long)v[3]);
}

static int child_main(void)
{
    prof_heap_init(&fake_host, 4096);
    CHECK(strstr(last_log, "heap sampling on") != NULL, "init: %s", last_log);
    child_accuracy();
    child_text();
    child_off_and_on();
    child_live_bound();
    child_stress();
    prof_heap_fini();
    for (int i = 0; i < 1000; i++) /* hooks gone: allocation still works */
        free(heap_test_site_freed(64));
    fprintf(stderr, "child: %d failures\n", failures);
    return failures ? 1 : 0;
}

static void test_sampler_under_tcmalloc(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan's allocator cannot run under a preloaded tcmalloc */
#endif
    void *tc = dlopen("libtcmalloc.so.4", RTLD_LAZY | RTLD_NOLOAD);
    if (tc == NULL && access("/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", R_OK) != 0)
        skip();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("LD_PRELOAD", "libtcmalloc.so.4", 1);
        setenv("TK_TEST_HEAP_CHILD", "1", 1);
        execl("/proc/self/exe", "test_heap", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    if (getenv("TK_TEST_HEAP_CHILD") != NULL)
        return child_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_not_tcmalloc_is_501),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_sampler_under_tcmalloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
