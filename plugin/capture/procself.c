/* The plugin's own process in /proc: see procself.h. */
#include "capture/procself.h"

#include "capture/unwinder.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

static int cmp_tid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int prof_tasks_list(pid_t **out, size_t *len)
{
    DIR *dir = opendir("/proc/self/task");
    size_t n = 0, cap = 256;
    pid_t *tids = malloc(cap * sizeof *tids);
    struct dirent *e;
    while (dir != NULL && tids != NULL && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (n == cap) {
            pid_t *grown = realloc(tids, (cap *= 2) * sizeof *tids);
            if (grown == NULL) {
                free(tids);
                tids = NULL;
                break;
            }
            tids = grown;
        }
        tids[n++] = (pid_t)atoi(e->d_name);
    }
    if (dir != NULL)
        closedir(dir);
    if (tids == NULL || dir == NULL) {
        free(tids);
        return -1;
    }
    qsort(tids, n, sizeof *tids, cmp_tid);
    *out = tids;
    *len = n;
    return 0;
}

static int append(prof_stackmap *m, uintptr_t lo, uintptr_t hi)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 1024;
        prof_mem_range *grown = realloc(m->range, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        m->range = grown;
        m->cap = cap;
    }
    m->range[m->n++] = (prof_mem_range){lo, hi};
    return 0;
}

int prof_stackmap_read(prof_stackmap *m)
{
    m->n = 0;
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return 0;
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        char perms[5];
        if (strchr(line, '\n') == NULL) { /* a long path: skip the rest */
            int ch;
            while ((ch = getc(f)) != EOF && ch != '\n')
                ;
        }
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && perms[0] == 'r')
            rc = append(m, lo, hi);
    }
    fclose(f);
    return rc;
}

void prof_stackmap_free(prof_stackmap *m)
{
    free(m->range);
    *m = (prof_stackmap){0};
}

uintptr_t prof_stackmap_limit(const prof_stackmap *m, uintptr_t sp)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->range[mid].hi <= sp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->n || m->range[lo].lo > sp)
        return 0;
    uintptr_t tcb = (uintptr_t)pthread_self();
    return tcb > sp && tcb < m->range[lo].hi ? tcb : m->range[lo].hi;
}

size_t prof_stackmap_unwind(const prof_stackmap *m, const void *ucontext, uintptr_t *pcs,
                            size_t max, bool *truncated)
{
    const ucontext_t *uc = ucontext;
    uintptr_t limit = prof_stackmap_limit(m, (uintptr_t)uc->uc_mcontext.gregs[REG_RSP]);
    if (limit != 0)
        return prof_unwind_context(uc, limit, pcs, max, truncated);
    pcs[0] = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    *truncated = true;
    return 1;
}

size_t prof_fds_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* less the directory's own fd */
}
