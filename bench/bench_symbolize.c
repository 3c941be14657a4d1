/* bench_symbolize.c - symbolizer and encoder figures.
 *
 * 1. Symbolization of 10,000 distinct addresses spread over the text of
 *    libc and of this binary: cold (fresh symbolizer, libdw does the work,
 *    including reading symbol tables and DWARF) and warm (same addresses
 *    again, from the cache). A second cold pass on another fresh
 *    symbolizer shows the cost without first-time file loading skew.
 * 2. Encoding time and gzipped size vs number of samples (1k, 10k, 100k
 *    distinct stacks of depth 20 drawn from 2,000 addresses), with and
 *    without symbolization.
 *
 * Usage: bench_symbolize [naddrs [sym|enc]]
 */
#include "profile.h"

#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct span {
    uint64_t lo, hi;
} span;

typedef struct text_spans {
    span libc, self;
} text_spans;

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

/* Wall and CPU time: on a busy machine the CPU time is the steadier. */
typedef struct lap {
    double wall, cpu;
} lap;

static lap lap_start(void)
{
    return (lap){now_ms(), clock_ms(CLOCK_THREAD_CPUTIME_ID)};
}

static lap lap_end(lap t0)
{
    return (lap){now_ms() - t0.wall, clock_ms(CLOCK_THREAD_CPUTIME_ID) - t0.cpu};
}

/* Executable PT_LOAD span of libc and of the main program. */
static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
    text_spans *t = data;
    (void)size;
    span *dst = NULL;
    if (info->dlpi_name[0] == '\0')
        dst = &t->self;
    else if (strstr(info->dlpi_name, "/libc.so") != NULL)
        dst = &t->libc;
    for (int i = 0; dst != NULL && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            dst->lo = info->dlpi_addr + ph->p_vaddr;
            dst->hi = dst->lo + ph->p_memsz;
        }
    }
    return 0;
}

/* n distinct addresses: 3/4 spread over libc's text, 1/4 over ours. */
static uint64_t *make_addrs(size_t n)
{
    text_spans t;
    memset(&t, 0, sizeof t);
    dl_iterate_phdr(find_text, &t);
    uint64_t *a = malloc(n * sizeof *a);
    size_t nself = n / 4, nlibc = n - nself;
    for (size_t i = 0; i < nlibc; i++)
        a[i] = t.libc.lo + (t.libc.hi - t.libc.lo) * i / nlibc;
    for (size_t i = 0; i < nself; i++)
        a[nlibc + i] = t.self.lo + (t.self.hi - t.self.lo) * i / nself + (i & 1);
    return a;
}

static lap pass(pf_symbolizer *s, const uint64_t *a, size_t n, size_t *found)
{
    pf_symbol sym;
    lap t0 = lap_start();
    *found = 0;
    for (size_t i = 0; i < n; i++)
        *found += pf_symbolize(s, a[i], &sym);
    return lap_end(t0);
}

/* Resident memory in MiB, from /proc/self/status. */
static double rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    }
    if (f != NULL)
        fclose(f);
    return (double)kb / 1024.0;
}

static void row(const char *what, lap t, size_t found)
{
    printf("  %-48s %9.2f %9.2f %9zu %8.1f\n", what, t.wall, t.cpu, found, rss_mib());
}

static void bench_symbolize(size_t n)
{
    uint64_t *a = make_addrs(n);
    size_t found = 0;
    lap none = {0, 0}, t;
    printf("symbolization: %zu distinct addresses, 3/4 spread over libc's text, "
           "1/4 over this binary's\n", n);
    printf("  %-48s %9s %9s %9s %8s\n", "case", "wall ms", "cpu ms", "resolved", "RSS MiB");
    row("(before)", none, 0);
    t = lap_start();
    pf_symbolizer *s = pf_symbolizer_new(NULL);
    row("create the symbolizer (report the modules)", lap_end(t), 0);
    t = pass(s, a, n, &found);
    row("cold: first pass, all through libdw", t, found);
    t = pass(s, a, n, &found);
    row("warm: second pass, from the cache", t, found);
    pf_symbolizer_release(s);
    row("after pf_symbolizer_release (cache kept)", none, 0);
    t = pass(s, a, n, &found);
    row("warm after release, from the cache", t, found);
    pf_symbolizer_free(s);

    s = pf_symbolizer_new(NULL); /* split: one-time loading vs per address */
    uint64_t first[2] = {a[0], a[n - 1]};
    t = pass(s, first, 2, &found);
    row("cold again: load symbols + DWARF (2 lookups)", t, found);
    t = pass(s, a, n, &found);
    row("cold again: the lookups, files already loaded", t, found);
    pf_symbolizer_stats st;
    pf_symbolizer_get_stats(s, &st);
    printf("  cache: %zu entries, %llu hits, %llu misses; %zu modules\n\n", st.entries,
           (unsigned long long)st.hits, (unsigned long long)st.misses, st.modules);
    pf_symbolizer_free(s);
    free(a);
}

static int count_write(void *ctx, const void *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return 0;
}

static pf_profile *make_profile(const uint64_t *pool, size_t npool, size_t nsamples)
{
    static const pf_value_type types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
    pf_profile *p = pf_profile_new(types, 2, NULL);
    pf_maps *maps = pf_maps_read_self(PF_MAPS_EXEC_ONLY, NULL);
    pf_profile_add_maps(p, maps);
    pf_maps_free(maps);
    pf_profile_set_period(p, "cpu", "nanoseconds", 10000000);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < nsamples; i++) {
        uintptr_t pcs[20];
        for (size_t d = 0; d < 20; d++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            pcs[d] = (uintptr_t)pool[x % npool];
        }
        int64_t v[2] = {1 + (int64_t)(i % 7), (1 + (int64_t)(i % 7)) * 10000000};
        pf_profile_add_sample(p, pcs, 20, v, NULL, 0, NULL);
    }
    return p;
}

static void bench_encode(void)
{
    size_t npool = 2000;
    uint64_t *pool = make_addrs(npool);
    pf_symbolizer *s = pf_symbolizer_new(NULL);
    printf("encoding (stacks of depth 20 over %zu addresses, gzip level 1)\n", npool);
    printf("  %8s %10s %10s %12s %10s %10s   (CPU ms)\n", "samples", "build", "encode",
           "encode+sym", "bytes", "bytes+sym");
    for (size_t n = 1000; n <= 100000; n *= 10) {
        lap t0 = lap_start();
        pf_profile *p = make_profile(pool, npool, n);
        double tb = lap_end(t0).cpu;
        size_t plain = 0, sym = 0;
        t0 = lap_start();
        pf_profile_write(p, NULL, PF_WRITE_GZIP, count_write, &plain, NULL);
        double te = lap_end(t0).cpu;
        pf_profile_write(p, s, PF_WRITE_GZIP, count_write, &sym, NULL); /* warm the cache */
        sym = 0;
        t0 = lap_start();
        pf_profile_write(p, s, PF_WRITE_GZIP, count_write, &sym, NULL);
        double ts = lap_end(t0).cpu;
        printf("  %8zu %10.2f %10.2f %12.2f %10zu %10zu\n", n, tb, te, ts, plain, sym);
        pf_profile_free(p);
    }
    pf_symbolizer_free(s);
    free(pool);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    if (n == 0)
        n = 10000;
    const char *only = argc > 2 ? argv[2] : "";
    if (strcmp(only, "enc") != 0)
        bench_symbolize(n);
    if (strcmp(only, "sym") != 0)
        bench_encode();
    return 0;
}
