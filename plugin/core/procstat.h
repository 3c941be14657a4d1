/*
 * plugin/core/procstat.h - figures of the whole process for /metrics: what the
 * process collector of every Prometheus client library exports
 * (process_cpu_seconds_total, ...), and tcmalloc's heap figures when the
 * host's allocator is tcmalloc. Read when /metrics is asked, from
 * /proc/self/stat, /proc/stat, /proc/self/fd, getrusage and getrlimit;
 * rendered by metrics.c.
 *
 * The parsers take text, so the unit tests give them lines as the kernel
 * writes them.
 */
#ifndef TAKHIN_PLUGIN_PROCSTAT_H
#define TAKHIN_PLUGIN_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>

/* The fields of /proc/[pid]/stat that /metrics uses (proc(5)). */
typedef struct prof_stat_fields {
    char state;                /* field 3 */
    uint64_t utime, stime;     /* 14, 15: clock ticks */
    int64_t num_threads;       /* 20 */
    uint64_t starttime;        /* 22: clock ticks after boot */
    uint64_t vsize;            /* 23: bytes */
    int64_t rss;               /* 24: pages */
} prof_stat_fields;

/* Parses one /proc/[pid]/stat line. The command name (field 2) may hold
 * spaces and parentheses: it ends at the last ')'. 0, or -1 when the
 * line is not one. */
int prof_parse_stat(const char *line, prof_stat_fields *out);

/* The boot time (seconds since the epoch) from the text of /proc/stat,
 * its "btime N" line. 0, or -1 when there is none. */
int prof_parse_btime(const char *text, uint64_t *btime);

/* The process figures; a `has_*` false leaves that metric out (no /proc). */
typedef struct prof_procstat {
    bool has_cpu, has_stat, has_start, has_fds, has_max_fds;
    double cpu_seconds;        /* user + system, getrusage */
    uint64_t resident_bytes;   /* stat rss * page size */
    uint64_t virtual_bytes;    /* stat vsize */
    int64_t threads;           /* stat num_threads */
    double start_time_seconds; /* btime + starttime / CLK_TCK */
    uint64_t open_fds;         /* entries of /proc/self/fd, less the one reading it */
    uint64_t max_fds;          /* RLIMIT_NOFILE soft limit */
} prof_procstat;

void prof_procstat_read(prof_procstat *out);

/* tcmalloc's MallocExtension numeric properties, when the process
 * allocator is tcmalloc (malloc resolves to tc_malloc). The plugin does
 * not link tcmalloc: `lookup` resolves names (dlsym(RTLD_DEFAULT, ...) in
 * the plugin; a fake in the tests). A property tcmalloc does not answer
 * is left out. */
typedef struct prof_tcmalloc_stats {
    bool has_allocated, has_heap_size, has_pageheap_free, has_pageheap_unmapped;
    uint64_t allocated_bytes;         /* generic.current_allocated_bytes */
    uint64_t heap_size_bytes;         /* generic.heap_size */
    uint64_t pageheap_free_bytes;     /* tcmalloc.pageheap_free_bytes */
    uint64_t pageheap_unmapped_bytes; /* tcmalloc.pageheap_unmapped_bytes */
} prof_tcmalloc_stats;

void prof_tcmalloc_read(void *(*lookup)(const char *name), prof_tcmalloc_stats *out);

#endif
