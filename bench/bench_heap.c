/* bench_heap.c - what heap sampling costs an allocation-heavy program.
 *
 * One loop of malloc/free pairs of mixed sizes (16 B .. 16 KiB, from four
 * call sites 6 frames deep, each object living for the next 4095
 * allocations), timed in a fresh child process per mode:
 *
 *   none        tcmalloc, no hook, no sampling
 *   hooks       profiler.so loaded with heap_sample_bytes = 1 GiB: our hooks
 *               installed, (almost) never sampling: the fast paths' cost
 *   ours        profiler.so at heap_sample_bytes = 524288 (the default)
 *   tcmalloc    no plugin, TCMALLOC_SAMPLE_PARAMETER=524288 (its own sampler)
 *   ours-64k    ours at 65536, and
 *   tc-64k      tcmalloc at 65536: many samples, for the cost of one sample
 *
 * Times are the loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a
 * shared machine, wall time also counts other processes.
 *
 * Every round runs each mode once (the order rotates from round to round);
 * the report gives min/median/max of each mode's time over `none`'s time of
 * the same round, and the cost of a sample:
 *   (t(mode) - t(baseline)) / expected samples,
 * with baseline `hooks` for ours and `none` for tcmalloc, and expected
 * samples = sum over allocations of 1 - exp(-size/rate) (the child counts).
 *
 * The plugin is loaded the way takhind loads it (the host library, a YAML
 * config), with the HTTP server disabled.
 *
 * Usage: bench_heap [-n pairs] [-r rounds] [-p path/to/profiler.so]
 * Build: see the Makefile rule in the report (links -ltcmalloc).
 */
#include "takhin/host/host.h"
#include "takhin/host/log.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RING 4096

typedef struct mode {
    const char *name;
    long plugin_rate; /* 0: no plugin */
    long tc_rate;     /* TCMALLOC_SAMPLE_PARAMETER, 0: unset */
} mode;

static const mode modes[] = {
    {"none", 0, 0},          {"hooks", 1L << 30, 0}, {"ours", 524288, 0},
    {"tcmalloc", 0, 524288}, {"ours-64k", 65536, 0}, {"tc-64k", 0, 65536},
};
#define NMODES (sizeof modes / sizeof *modes)

static void *volatile ring[RING];
static const size_t sizes[16] = {16, 16, 32, 32, 48, 64, 64, 96,
                                 128, 128, 256, 512, 1024, 2048, 4096, 16384};

/* CPU time of the thread: other processes on the machine do not count. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* Four allocation sites, each a few frames deep, as real code has. */
__attribute__((noinline)) static void *site(int which, size_t size)
{
    void *p = which == 3 ? calloc(1, size) : malloc(size);
    if (p != NULL)
        *(volatile char *)p = 1;
    return p;
}
#define LEVEL(name, next)                                                    \
    __attribute__((noinline)) static void *name(int which, size_t size)      \
    {                                                                        \
        void *p = next(which, size);                                         \
        __asm__ volatile("" ::: "memory");                                   \
        return p;                                                            \
    }
LEVEL(level1, site)
LEVEL(level2, level1)
LEVEL(level3, level2)
LEVEL(level4, level3)
LEVEL(level5, level4)

/* The timed loop; returns seconds, adds up bytes and expected samples. */
static double run_loop(long pairs, long rate, double *bytes, double *expected)
{
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    double total = 0, exp_samples = 0;
    double t0 = now();
    for (long i = 0; i < pairs; i++) {
        uint64_t r = next_random(&rng);
        size_t size = sizes[r & 15];
        size_t slot = (size_t)i % RING;
        free(ring[slot]);
        ring[slot] = level5((int)((r >> 8) & 3), size);
        total += (double)size;
    }
    double t = now() - t0;
    for (size_t i = 0; i < 16 && rate > 0; i++) /* per size class, same draw */
        exp_samples += (double)pairs / 16.0 * (1.0 - exp(-(double)sizes[i] / (double)rate));
    for (size_t i = 0; i < RING; i++) {
        free(ring[i]);
        ring[i] = NULL;
    }
    *bytes = total;
    *expected = exp_samples;
    return t;
}

/* Loads profiler.so through the host library, as takhind does; its
 * config and admin socket go in dir (made here; the caller removes it). */
static tkh_host *load_plugin(const char *so, long rate, char *dir)
{
    char yaml[256], err[1024];
    if (mkdtemp(dir) == NULL)
        return NULL;
    snprintf(yaml, sizeof yaml, "%s/b.yaml", dir);
    FILE *f = fopen(yaml, "w");
    if (f == NULL)
        return NULL;
    fprintf(f, "admin:\n  socket: %s/a.sock\nplugins:\n  - name: profiler\n    path: %s\n"
            "profiler:\n  enabled: false\n  heap_sample_bytes: %ld\nlog:\n  level: warn\n",
            dir, so, rate);
    fclose(f);
    char *envp[] = {NULL};
    tkh_host_options opt = {.config_path = yaml, .envp = envp, .name = "bench_heap",
                            .version = "0"};
    tkh_host *h = NULL;
    if (tkh_host_open(&h, &opt, err, sizeof err) != 0 || tkh_host_start(h, err, sizeof err) != 0) {
        fprintf(stderr, "bench_heap: %s\n", err);
        exit(1);
    }
    unlink(yaml);
    return h;
}

/* Child: one timed run; prints "seconds bytes expected_samples". */
static int child(const char *name, long pairs, const char *so)
{
    const mode *m = NULL;
    for (size_t i = 0; i < NMODES; i++)
        if (strcmp(modes[i].name, name) == 0)
            m = &modes[i];
    if (m == NULL)
        return 2;
    char dir[] = "/tmp/bench-heap-XXXXXX";
    tkh_host *h = m->plugin_rate ? load_plugin(so, m->plugin_rate, dir) : NULL;
    double bytes, expected;
    long rate = m->plugin_rate ? m->plugin_rate : m->tc_rate;
    run_loop(pairs / 10, rate, &bytes, &expected); /* warm up: size classes, caches */
    double t = run_loop(pairs, rate, &bytes, &expected);
    printf("%.6f %.0f %.1f\n", t, bytes, expected);
    fflush(stdout);
    if (h != NULL) {
        tkh_host_close(h);
        rmdir(dir);
    }
    return 0;
}

/* Runs one child; its seconds, or -1. */
static double spawn(const mode *m, long pairs, const char *so, double *expected)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char n[32], rate[32];
        snprintf(n, sizeof n, "%ld", pairs);
        snprintf(rate, sizeof rate, "%ld", m->tc_rate);
        if (m->tc_rate)
            setenv("TCMALLOC_SAMPLE_PARAMETER", rate, 1);
        dup2(fd[1], 1);
        close(fd[0]);
        execl("/proc/self/exe", "bench_heap", "--child", m->name, n, so, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[128] = "";
    ssize_t got = read(fd[0], buf, sizeof buf - 1);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    double t = -1, bytes = 0;
    if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(buf, "%lf %lf %lf", &t, &bytes, expected) != 3)
        return -1;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stats(double *v, int n, double *min, double *med, double *max)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *min = v[0];
    *max = v[n - 1];
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 50

static double median(double *v, int n)
{
    double lo, med, hi;
    stats(v, n, &lo, &med, &hi);
    return med;
}

static void report(double t[][NMODES], int rounds, const double *expected, long pairs)
{
    printf("\n%-9s %8s   %-25s %s\n", "mode", "ns/pair", "time/none: min median max",
           "us per sample (median)");
    for (size_t m = 0; m < NMODES; m++) {
        double ratio[MAX_ROUNDS], per[MAX_ROUNDS], abs_t[MAX_ROUNDS], lo, med, hi;
        size_t base = modes[m].plugin_rate ? 1 : 0; /* ours vs hooks, tcmalloc vs none */
        for (int r = 0; r < rounds; r++) {
            ratio[r] = t[r][m] / t[r][0];
            abs_t[r] = t[r][m];
            per[r] = (t[r][m] - t[r][base]) / (expected[m] > 1 ? expected[m] : 1) * 1e6;
        }
        stats(ratio, rounds, &lo, &med, &hi);
        printf("%-9s %8.1f   %7.3f %6.3f %6.3f", modes[m].name,
               median(abs_t, rounds) / (double)pairs * 1e9, lo, med, hi);
        if (m >= 2)
            printf("      %6.2f  (%.0f samples a run)", median(per, rounds), expected[m]);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--child") == 0)
        return child(argv[2], atol(argv[3]), argv[4]);
    long pairs = 20000000;
    int rounds = 5, opt;
    const char *so = "build/profiler.so";
    while ((opt = getopt(argc, argv, "n:r:p:")) != -1) {
        if (opt == 'n')
            pairs = atol(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else if (opt == 'p')
            so = optarg;
        else
            return 2;
    }
    char path[4096];
    if (realpath(so, path) == NULL || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_heap [-n pairs] [-r rounds (1-50)] [-p profiler.so]\n");
        return 2;
    }
    static double t[MAX_ROUNDS][NMODES];
    double expected[NMODES] = {0};
    printf("%ld malloc/free pairs per run, %d rounds, %zu modes\n", pairs, rounds, NMODES);
    for (int r = 0; r < rounds; r++) {
        for (size_t k = 0; k < NMODES; k++) {
            size_t m = (k + (size_t)r) % NMODES;
            if ((t[r][m] = spawn(&modes[m], pairs, path, &expected[m])) < 0) {
                fprintf(stderr, "bench_heap: the %s run failed\n", modes[m].name);
                return 1;
            }
        }
        printf("round %d:", r + 1);
        for (size_t m = 0; m < NMODES; m++)
            printf(" %s %.3fs", modes[m].name, t[r][m]);
        printf("\n");
        fflush(stdout);
    }
    report(t, rounds, expected, pairs);
    return 0;
}
