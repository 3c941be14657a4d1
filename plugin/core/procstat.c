/* Figures of the whole process for /metrics: see procstat.h. */
#include "core/procstat.h"

#include "pf_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One decimal field (optionally signed) at *p; moves *p past it and the
 * blank after. false when there is none. */
static bool next_u64(const char **p, uint64_t *v)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
        return false;
    *v = n;
    *p = end;
    return true;
}

static bool next_i64(const char **p, int64_t *v)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    bool neg = *s == '-';
    uint64_t u;
    s += neg;
    if (!next_u64(&s, &u) || u > (uint64_t)INT64_MAX)
        return false;
    *v = neg ? -(int64_t)u : (int64_t)u;
    *p = s;
    return true;
}

int prof_parse_stat(const char *line, prof_stat_fields *out)
{
    /* "pid (comm) state ppid ...": comm may hold ") (" itself, so the
     * fields start after the last ')'. */
    const char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (open == NULL || close == NULL || close < open || close[1] != ' ')
        return -1;
    const char *p = close + 2;
    if (p[0] == '\0' || p[1] != ' ')
        return -1;
    prof_stat_fields f = {.state = p[0]};
    p += 1;
    /* Fields 4 to 24; field n is at index n - 4. */
    int64_t v[21];
    for (int i = 0; i < 21; i++) {
        if (i == 23 - 4) { /* vsize: an unsigned long, may exceed INT64_MAX */
            if (!next_u64(&p, &f.vsize))
                return -1;
            v[i] = 0;
            continue;
        }
        if (!next_i64(&p, &v[i]))
            return -1;
    }
    f.utime = (uint64_t)v[14 - 4];
    f.stime = (uint64_t)v[15 - 4];
    f.num_threads = v[20 - 4];
    f.starttime = (uint64_t)v[22 - 4];
    f.rss = v[24 - 4];
    *out = f;
    return 0;
}

int prof_parse_btime(const char *text, uint64_t *btime)
{
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, "btime ", 6) == 0) {
            const char *p = line + 6;
            return next_u64(&p, btime) ? 0 : -1;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}

/* The whole of a /proc file, NUL-terminated, in a malloc'd buffer the
 * caller frees; NULL when unreadable. */
static char *slurp(const char *path)
{
    char *text;
    size_t len;
    return pf_read_file(path, 1u << 20, &text, &len, NULL) == PF_OK ? text : NULL;
}

/* The boot time does not change: read once. 0 until read. */
static _Atomic uint64_t boot_time;

static bool read_btime(uint64_t *btime)
{
    uint64_t bt = atomic_load(&boot_time);
    if (bt == 0) {
        char *text = slurp("/proc/stat");
        if (text == NULL || prof_parse_btime(text, &bt) != 0)
            bt = 0;
        free(text);
        if (bt == 0)
            return false;
        atomic_store(&boot_time, bt);
    }
    *btime = bt;
    return true;
}

/* Open fds: the entries of /proc/self/fd, less the one reading it. -1
 * without /proc. */
static int64_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int64_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

void prof_procstat_read(prof_procstat *out)
{
    *out = (prof_procstat){0};
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->has_cpu = true;
        out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    }
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char *line = slurp("/proc/self/stat");
    prof_stat_fields st;
    if (line != NULL && prof_parse_stat(line, &st) == 0 && page > 0) {
        out->has_stat = true;
        out->resident_bytes = st.rss > 0 ? (uint64_t)st.rss * (uint64_t)page : 0;
        out->virtual_bytes = st.vsize;
        out->threads = st.num_threads;
        uint64_t bt;
        if (tck > 0 && read_btime(&bt)) {
            out->has_start = true;
            out->start_time_seconds = (double)bt + (double)st.starttime / (double)tck;
        }
    }
    free(line);
    int64_t fds = count_fds();
    if (fds >= 0) {
        out->has_fds = true;
        out->open_fds = (uint64_t)fds;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        out->has_max_fds = true;
        out->max_fds = (uint64_t)rl.rlim_cur;
    }
}

void prof_tcmalloc_read(void *(*lookup)(const char *name), prof_tcmalloc_stats *out)
{
    *out = (prof_tcmalloc_stats){0};
    void *m = lookup("malloc"), *tc = lookup("tc_malloc");
    if (m == NULL || m != tc)
        return; /* another allocator: its figures would not be tcmalloc's */
    int (*numeric)(const char *, size_t *) =
        (int (*)(const char *, size_t *))lookup("MallocExtension_GetNumericProperty");
    if (numeric == NULL)
        return;
    size_t v;
    if ((out->has_allocated = numeric("generic.current_allocated_bytes", &v)))
        out->allocated_bytes = v;
    if ((out->has_heap_size = numeric("generic.heap_size", &v)))
        out->heap_size_bytes = v;
    if ((out->has_pageheap_free = numeric("tcmalloc.pageheap_free_bytes", &v)))
        out->pageheap_free_bytes = v;
    if ((out->has_pageheap_unmapped = numeric("tcmalloc.pageheap_unmapped_bytes", &v)))
        out->pageheap_unmapped_bytes = v;
}
