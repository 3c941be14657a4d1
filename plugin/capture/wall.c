/* The wall-clock sampler: see wall.h. */
#include "capture/wall.h"

#include "capture/procself.h"
#include "capture/sampler.h"
#include "capture/threads.h"
#include "core/context.h"
#include "core/own_threads.h"
#include "core/procstat.h"

#include "pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLOTS (PROF_WALL_MAX_READERS + 4) /* profiles, then push's windows */
#define RESCAN_NS 250000000LL             /* /proc/self/task listed at most this often */
#define ANSWER_MS 100                     /* a tick waits this long for stacks */
#define SITE_NONE (-1000L)                /* no wait site known */
#define LONG_IDLE_NS 1000000000LL         /* parked this long: its clock read less often */
#define RECHECK_NS 200000000LL            /* ... once per this much time */

/* What the ticker knows of one thread. Lives from its first sight to its
 * exit, across profiles. */
typedef struct wthread {
    pid_t tid;
    bool listed;      /* in the last listing of /proc/self/task */
    bool gone;        /* its CPU clock is gone: exited */
    bool known;       /* state (and stack, if any) taken at least once */
    bool blocks;      /* blocks the signal: never signalled */
    int64_t cpu_ns;   /* its CPU clock at the last tick */
    int64_t idle_since; /* CLOCK_MONOTONIC ns since when its clock has not moved (0: moving) */
    int64_t dcpu;     /* time it ran or was runnable in the interval before this
                         tick (CPU clock, plus schedstat's run_delay; -1: unknown) */
    int64_t run_delay; /* schedstat's time spent runnable, waiting for a CPU (-1: unknown) */
    long nr;          /* the last wait site whose stack was taken: system */
    uintptr_t sp, pc; /* call, user SP and PC (SITE_NONE: none) */
    char name[16];
    char state[24];
    const tk_context *ctx; /* its request context (core/context.h) at its last look */
    size_t depth;     /* the stack counted now */
    uintptr_t pcs[PROF_THREADS_MAX_DEPTH];
    size_t wait_depth; /* the stack at that wait site, and its state */
    char wait_state[24];
    uintptr_t wait_pcs[PROF_THREADS_MAX_DEPTH];
    size_t run_depth; /* the last stack taken while it ran (0: none) */
    uintptr_t run_pcs[PROF_THREADS_MAX_DEPTH];
    int64_t acc_count[SLOTS], acc_ns[SLOTS]; /* per reader, since the last flush */
} wthread;

/* Where a thread is now, from /proc/self/task/TID/syscall. */
typedef struct site {
    bool ok, running;
    long nr;
    uintptr_t sp, pc;
} site;

struct prof_wall_reader {
    int slot;
};

typedef struct rslot {
    bool active;
    pf_profile *profile;
    prof_context_fold fold;   /* profiler.labels.max_series for this profile */
    prof_wall_counts at_join; /* totals when the window began */
    int64_t started_ns, started_mono;
    prof_wall_reader handle;
    size_t cap;               /* bound of the profile's bytes (0: none) */
    uint64_t dropped;         /* samples left out to stay under it */
} rslot;

struct prof_wall {
    pthread_mutex_t lock;      /* readers, windows, the ticker's start/stop */
    int readers, windows;
    struct timespec first_end; /* CLOCK_MONOTONIC: when the first profile ends */
    bool running;
    pthread_t ticker;
    int hz;

    pthread_mutex_t tick_lock; /* the fields below: the ticker and the readers */
    pthread_cond_t wake;       /* stop: the ticker leaves its wait at once */
    bool stop;
    wthread **thread;          /* sorted by tid */
    size_t nthreads, cap;
    rslot slot[SLOTS];
    int64_t last_tick, last_scan; /* CLOCK_MONOTONIC ns */
    int64_t tick_ns_sum;
    bool maps_stale;           /* a thread appeared since the last capture */
    prof_wall_counts total;
    /* scratch for one tick's captures */
    pid_t *send;
    wthread **send_t;
    site *send_site;
    prof_thread *answers;
    size_t send_cap;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU clock of any thread of this process: the kernel's per-thread
 * clock id for a TID (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD, as glibc builds
 * it for pthread_getcpuclockid). -1 once the thread is gone. */
static int64_t thread_cpu_ns(pid_t tid)
{
    clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static site read_site(pid_t tid)
{
    site s = {0};
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return s;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got)
        return s;
    s.ok = true;
    if (strncmp(line, "running", 7) == 0) {
        s.running = true;
        return s;
    }
    /* "NR a1 a2 a3 a4 a5 a6 SP PC", or "-1 SP PC" outside a system call. */
    char *end;
    s.nr = strtol(line, &end, 10);
    unsigned long long w[8];
    int n = 0;
    for (char *p = end; n < 8; n++) {
        w[n] = strtoull(p, &end, 16);
        if (end == p)
            break;
        p = end;
    }
    if (n < 2) {
        s.ok = false;
        return s;
    }
    s.sp = (uintptr_t)w[n - 2];
    s.pc = (uintptr_t)w[n - 1];
    return s;
}

/* The time the thread spent runnable but not running (ns, the second
 * field of /proc/self/task/TID/schedstat); -1 when unreadable. */
static int64_t read_run_delay(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    long long run = 0, delay = -1;
    if (fscanf(f, "%lld %lld", &run, &delay) != 2)
        delay = -1;
    fclose(f);
    return delay;
}

static const struct {
    long nr;
    const char *name;
} syscall_names[] = {
    {SYS_read, "read"}, {SYS_write, "write"}, {SYS_readv, "readv"}, {SYS_writev, "writev"},
    {SYS_pread64, "pread64"}, {SYS_pwrite64, "pwrite64"}, {SYS_futex, "futex"},
    {SYS_epoll_wait, "epoll_wait"}, {SYS_epoll_pwait, "epoll_pwait"},
    {SYS_nanosleep, "nanosleep"}, {SYS_clock_nanosleep, "clock_nanosleep"},
    {SYS_poll, "poll"}, {SYS_ppoll, "ppoll"}, {SYS_select, "select"},
    {SYS_pselect6, "pselect6"}, {SYS_accept, "accept"}, {SYS_accept4, "accept4"},
    {SYS_connect, "connect"}, {SYS_recvfrom, "recvfrom"}, {SYS_recvmsg, "recvmsg"},
    {SYS_sendto, "sendto"}, {SYS_sendmsg, "sendmsg"}, {SYS_wait4, "wait4"},
    {SYS_waitid, "waitid"}, {SYS_rt_sigtimedwait, "rt_sigtimedwait"},
    {SYS_rt_sigsuspend, "rt_sigsuspend"}, {SYS_pause, "pause"}, {SYS_fsync, "fsync"},
    {SYS_fdatasync, "fdatasync"}, {SYS_io_getevents, "io_getevents"},
    {SYS_openat, "openat"}, {SYS_close, "close"}, {SYS_flock, "flock"},
    {SYS_fcntl, "fcntl"}, {SYS_msgrcv, "msgrcv"}, {SYS_semop, "semop"},
    {SYS_semtimedop, "semtimedop"}, {SYS_sched_yield, "sched_yield"},
#ifdef SYS_io_uring_enter
    {SYS_io_uring_enter, "io_uring_enter"},
#endif
#ifdef SYS_epoll_pwait2
    {SYS_epoll_pwait2, "epoll_pwait2"},
#endif
};

void prof_wall_state_name(long nr, char *buf, size_t len)
{
    if (nr < 0) {
        snprintf(buf, len, "blocked");
        return;
    }
    for (size_t i = 0; i < sizeof syscall_names / sizeof *syscall_names; i++)
        if (syscall_names[i].nr == nr) {
            snprintf(buf, len, "%s", syscall_names[i].name);
            return;
        }
    snprintf(buf, len, "syscall_%ld", nr);
}

static void site_state(const site *s, char *buf, size_t len)
{
    if (!s->ok)
        snprintf(buf, len, "unknown");
    else if (s->running)
        snprintf(buf, len, "running");
    else
        prof_wall_state_name(s->nr, buf, len);
}

/* ---- per-reader accounts (tick_lock held) ---- */

/* The request-context labels (issue 27) of t's samples in reader slot i:
 * its context at its last look, folded past profiler.labels.max_series. */
static size_t request_labels(prof_wall *w, const wthread *t, int i, pf_label *out, size_t max)
{
    const tk_context *c = t->ctx ? prof_context_fold_one(&w->slot[i].fold, t->ctx) : NULL;
    return prof_context_labels(c, out, max);
}

/* Adds a sample to slot i's profile, unless it could take it past the
 * slot's cap (each array may triple while realloc copies, and an arena
 * block comes on top): then it is counted as dropped. Out of memory drops
 * it too; the comment's counts stay right. */
static void slot_add(rslot *s, const uintptr_t *pcs, size_t depth, const int64_t *values,
                     const pf_label *labels, size_t n)
{
    if (s->cap > 0 && 3 * pf_profile_bytes(s->profile) + PROF_SAMPLER_ADD_SLACK > s->cap) {
        s->dropped++;
        return;
    }
    pf_err err = {0};
    (void)pf_profile_add_sample(s->profile, pcs, depth, values, labels, n, &err);
}

/* Moves what thread t accumulated for reader slot i into its profile. */
static void flush_one(prof_wall *w, wthread *t, int i)
{
    if (t->acc_count[i] == 0)
        return;
    char tid[16];
    snprintf(tid, sizeof tid, "%d", (int)t->tid);
    pf_label labels[3 + PF_MAX_LABELS / 2] = {
        {.key = "thread", .str = t->name[0] ? t->name : "?"},
        {.key = "thread_id", .str = tid},
        {.key = "state", .str = t->state},
    };
    size_t n = 3 + request_labels(w, t, i, labels + 3, PF_MAX_LABELS / 2);
    int64_t values[2] = {t->acc_count[i], t->acc_ns[i]};
    slot_add(&w->slot[i], t->pcs, t->depth, values, labels, n);
    t->acc_count[i] = 0;
    t->acc_ns[i] = 0;
}

static void flush_thread(prof_wall *w, wthread *t)
{
    for (int i = 0; i < SLOTS; i++)
        if (w->slot[i].active)
            flush_one(w, t, i);
}

/* Part of an interval, `ns` of it, to another stack and state of t than
 * the one counted now, for every reader (no sample count: the tick's
 * sample is the state it was found in). */
static void count_part(prof_wall *w, wthread *t, const uintptr_t *pcs, size_t depth,
                       const char *state, int64_t ns)
{
    char tid[16];
    snprintf(tid, sizeof tid, "%d", (int)t->tid);
    pf_label labels[3 + PF_MAX_LABELS / 2] = {
        {.key = "thread", .str = t->name[0] ? t->name : "?"},
        {.key = "thread_id", .str = tid},
        {.key = "state", .str = state},
    };
    int64_t values[2] = {0, ns};
    for (int i = 0; i < SLOTS; i++)
        if (w->slot[i].active) {
            size_t n = 3 + request_labels(w, t, i, labels + 3, PF_MAX_LABELS / 2);
            slot_add(&w->slot[i], pcs, depth, values, labels, n);
        }
}

/* One more interval of `ns` for t, for every reader: a sample of its
 * current stack and state. When it moved in the interval, its own clocks
 * say how much of it it ran or waited for a CPU (dcpu), whenever the tick
 * came (a ticker that runs late on a busy machine would otherwise see a
 * thread at the moment it leaves the CPU more often than while it holds
 * it): found waiting, that time goes to the stack it last ran in (state
 * running); found running, the rest goes to the stack it last waited in
 * (that state). */
static void count(prof_wall *w, wthread *t, int64_t ns)
{
    int64_t run = t->dcpu < ns ? t->dcpu : ns;
    bool running = strcmp(t->state, "running") == 0;
    if (!running && run > 0 && t->run_depth > 0) {
        count_part(w, t, t->run_pcs, t->run_depth, "running", run);
        ns -= run;
    } else if (running && run > 0 && ns - run > 0 && t->wait_depth > 0) {
        count_part(w, t, t->wait_pcs, t->wait_depth, t->wait_state, ns - run);
        ns = run;
    }
    for (int i = 0; i < SLOTS; i++)
        if (w->slot[i].active) {
            t->acc_count[i]++;
            t->acc_ns[i] += ns;
        }
}

/* Sets t's state (and stack, when pcs is not NULL); what it accumulated
 * under the old ones goes to the readers first. */
static void set_state(prof_wall *w, wthread *t, const char *state, const uintptr_t *pcs,
                      size_t depth)
{
    bool same_stack = pcs == NULL ||
                      (depth == t->depth && memcmp(pcs, t->pcs, depth * sizeof *pcs) == 0);
    if (same_stack && strcmp(state, t->state) == 0)
        return;
    flush_thread(w, t);
    snprintf(t->state, sizeof t->state, "%s", state);
    if (pcs != NULL) {
        memcpy(t->pcs, pcs, depth * sizeof *pcs);
        t->depth = depth;
    }
}

/* ---- the thread table (tick_lock held) ---- */

static wthread *find(prof_wall *w, pid_t tid, size_t *at)
{
    size_t lo = 0, hi = w->nthreads;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->thread[mid]->tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return lo < w->nthreads && w->thread[lo]->tid == tid ? w->thread[lo] : NULL;
}

static void read_name(pid_t tid, char name[16])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    if (fgets(name, 16, f) != NULL)
        name[strcspn(name, "\n")] = '\0';
    fclose(f);
}

static wthread *add_thread(prof_wall *w, pid_t tid, size_t at)
{
    if (w->nthreads == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        wthread **grown = realloc(w->thread, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        w->thread = grown;
        w->cap = cap;
    }
    wthread *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->tid = tid;
    t->cpu_ns = -1;
    t->run_delay = -1;
    t->nr = SITE_NONE;
    read_name(tid, t->name);
    snprintf(t->state, sizeof t->state, "unknown");
    memmove(&w->thread[at + 1], &w->thread[at], (w->nthreads - at) * sizeof *w->thread);
    w->thread[at] = t;
    w->nthreads++;
    w->maps_stale = true;
    return t;
}

/* Drops threads that exited (what they accumulated goes to the readers). */
static void sweep(prof_wall *w)
{
    size_t j = 0;
    for (size_t i = 0; i < w->nthreads; i++) {
        wthread *t = w->thread[i];
        if (t->listed && !t->gone) {
            w->thread[j++] = t;
            continue;
        }
        flush_thread(w, t);
        free(t);
    }
    w->nthreads = j;
}

/* The process's thread count (/proc/self/stat), -1 if unreadable. */
static int64_t thread_count(void)
{
    char line[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    prof_stat_fields f;
    if (n <= 0)
        return -1;
    line[n] = '\0';
    return prof_parse_stat(line, &f) == 0 ? f.num_threads : -1;
}

/* Lists /proc/self/task: new threads join the table, gone ones leave.
 * Skipped when the process has as many threads as the table holds alive
 * (exits are seen at once: their clock is gone). */
static void rescan(prof_wall *w)
{
    size_t alive = 0;
    for (size_t i = 0; i < w->nthreads; i++)
        alive += !w->thread[i]->gone;
    if (thread_count() == (int64_t)alive) {
        if (alive < w->nthreads)
            sweep(w);
        return;
    }
    pid_t *tids = NULL;
    size_t n = 0;
    if (prof_tasks_list(&tids, &n) != 0)
        return;
    for (size_t i = 0; i < w->nthreads; i++)
        w->thread[i]->listed = false;
    for (size_t i = 0; i < n; i++) {
        size_t at;
        wthread *t = find(w, tids[i], &at);
        if (t == NULL)
            t = add_thread(w, tids[i], at);
        if (t != NULL)
            t->listed = true;
    }
    free(tids);
    sweep(w);
}

/* ---- one tick (tick_lock held) ---- */

static int reserve_send(prof_wall *w, size_t n)
{
    if (n <= w->send_cap)
        return 0;
    pid_t *s = realloc(w->send, n * sizeof *s);
    if (s != NULL)
        w->send = s;
    wthread **st = realloc(w->send_t, n * sizeof *st);
    if (st != NULL)
        w->send_t = st;
    site *ss = realloc(w->send_site, n * sizeof *ss);
    if (ss != NULL)
        w->send_site = ss;
    prof_thread *a = realloc(w->answers, n * sizeof *a);
    if (a != NULL)
        w->answers = a;
    if (s == NULL || st == NULL || ss == NULL || a == NULL)
        return -1;
    w->send_cap = n;
    return 0;
}

/* Reads t's CPU clock: false when it did not run since the last tick (its
 * last stack and state are counted) or is gone; true when it ran. */
static bool ran(prof_wall *w, wthread *t, int64_t ns, int64_t now)
{
    /* Parked for a second or more: its clock is read once per RECHECK_NS
     * (ticks spread by TID), the ticks between counted as idle. */
    uint64_t every = (uint64_t)(RECHECK_NS * w->hz / 1000000000LL);
    if (t->known && t->idle_since && now - t->idle_since >= LONG_IDLE_NS && every > 1 &&
        (w->total.ticks + (uint64_t)t->tid) % every != 0) {
        t->dcpu = 0;
        w->total.idle++;
        count(w, t, ns);
        return false;
    }
    int64_t cpu = thread_cpu_ns(t->tid);
    if (cpu < 0) {
        t->gone = true;
        return false;
    }
    if (cpu < t->cpu_ns) /* a new thread under a recycled TID */
        t->known = false, t->depth = t->run_depth = t->wait_depth = 0, t->nr = SITE_NONE,
        t->cpu_ns = t->run_delay = -1;
    bool moved = cpu != t->cpu_ns;
    t->dcpu = t->cpu_ns >= 0 ? cpu - t->cpu_ns : -1;
    t->cpu_ns = cpu;
    t->idle_since = moved ? 0 : t->idle_since ? t->idle_since : now;
    if (!moved && t->known) {
        w->total.idle++;
        count(w, t, ns);
        return false;
    }
    return true;
}

/* Where a thread that ran is now; true when it needs a signal, false when
 * it is counted without one (never signalled, or back at the call site
 * where its stack was taken). */
static bool place(prof_wall *w, wthread *t, int64_t ns, site *where)
{
    const tk_context *ctx = prof_context_of_thread(t->tid);
    if (ctx != t->ctx) { /* what it accumulated was under the old one */
        flush_thread(w, t);
        t->ctx = ctx;
    }
    int64_t delay = read_run_delay(t->tid);
    if (delay >= 0 && t->run_delay >= 0 && t->dcpu >= 0 && delay > t->run_delay)
        t->dcpu += delay - t->run_delay;
    t->run_delay = delay;
    *where = read_site(t->tid);
    char state[24];
    site_state(where, state, sizeof state);
    if (!t->known)
        t->blocks = prof_threads_blocks_signal(t->tid);
    if (t->blocks || prof_own_thread_is(t->tid)) {
        w->total.unsignalled++;
        t->known = true;
        set_state(w, t, state, NULL, 0);
        count(w, t, ns);
        return false;
    }
    if (where->ok && !where->running && where->nr == t->nr && where->sp == t->sp &&
        where->pc == t->pc) {
        w->total.same_site++;
        set_state(w, t, state, t->wait_pcs, t->wait_depth);
        count(w, t, ns);
        return false;
    }
    return true;
}

#if defined(__x86_64__) || defined(__i386__)
#define SYSCALL_INSN 2 /* syscall, int 0x80 */
#else
#define SYSCALL_INSN 4 /* svc, ecall */
#endif

/* The stack was taken inside the system call /proc showed: its leaf is the
 * instruction after it, or the instruction itself when SA_RESTART rewound
 * the call to restart it after the handler. */
static bool taken_at(const site *s, const prof_thread *a)
{
    return a->depth > 0 && (a->pcs[0] == s->pc || a->pcs[0] + SYSCALL_INSN == s->pc);
}

/* Keeps a stack just taken, with the state it shows: as the thread's
 * running stack, or as the stack of the wait site it was taken at. A
 * thread seen waiting that had moved on before the signal came was
 * running. */
static void remember(prof_wall *w, wthread *t, const site *s, const prof_thread *a,
                     char *state)
{
    bool waits = s->ok && !s->running;
    if (waits && !taken_at(s, a)) {
        snprintf(state, 24, "running");
        waits = false;
    }
    set_state(w, t, state, a->pcs, a->depth);
    if (waits) {
        memcpy(t->wait_pcs, a->pcs, a->depth * sizeof *a->pcs);
        t->wait_depth = a->depth;
        snprintf(t->wait_state, sizeof t->wait_state, "%s", state);
        t->nr = s->nr;
        t->sp = s->sp;
        t->pc = s->pc;
    } else if (s->ok) {
        memcpy(t->run_pcs, a->pcs, a->depth * sizeof *a->pcs);
        t->run_depth = a->depth;
    }
}

/* The stacks of the threads queued by place(), then their counts. */
static void capture(prof_wall *w, size_t n, int64_t ns)
{
    size_t kept = 0;
    if (n > 0 && prof_threads_capture_list(w->send, n, w->answers, &kept, ANSWER_MS,
                                           !w->maps_stale) == 0)
        w->maps_stale = false;
    w->total.signals += n;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        wthread *t = w->send_t[i];
        const site *s = &w->send_site[i];
        char state[24];
        site_state(s, state, sizeof state);
        const prof_thread *a = j < kept && w->answers[j].tid == t->tid ? &w->answers[j++] : NULL;
        if (a != NULL && a->status == PROF_THREAD_OK) {
            if (a->name[0] != '\0')
                memcpy(t->name, a->name, sizeof t->name);
            remember(w, t, s, a, state);
        } else {
            /* No stack this time (on a busy machine a runnable thread may
             * not run within ANSWER_MS): running, the stack it last ran
             * in; else the time is the thread's, without a stack. */
            w->total.unanswered++;
            if (a != NULL && a->status == PROF_THREAD_BLOCKED)
                t->blocks = true;
            if (s->ok && s->running && t->run_depth > 0)
                set_state(w, t, state, t->run_pcs, t->run_depth);
            else
                set_state(w, t, state, t->pcs, 0);
        }
        t->known = true;
        count(w, t, ns);
    }
}

static void tick(prof_wall *w)
{
    int64_t now = mono_ns();
    int64_t ns = w->last_tick ? now - w->last_tick : 1000000000LL / w->hz;
    w->last_tick = now;
    w->tick_ns_sum += ns;
    w->total.ticks++;
    if (w->last_scan == 0 || now - w->last_scan >= RESCAN_NS) {
        rescan(w);
        w->last_scan = now;
    }
    if (reserve_send(w, w->nthreads) != 0)
        return;
    /* Every clock first, then the places of the threads that ran, then
     * the signals: the place is read just before the signal goes out. */
    pid_t self = (pid_t)syscall(SYS_gettid);
    size_t moved = 0, n = 0;
    for (size_t i = 0; i < w->nthreads; i++) {
        wthread *t = w->thread[i];
        if (t->tid != self && !t->gone && ran(w, t, ns, now))
            w->send_t[moved++] = t;
    }
    for (size_t i = 0; i < moved; i++) {
        wthread *t = w->send_t[i];
        if (place(w, t, ns, &w->send_site[n])) {
            w->send[n] = t->tid;
            w->send_t[n++] = t;
        }
    }
    capture(w, n, ns);
}

static void *ticker_main(void *arg)
{
    prof_wall *w = arg;
    pthread_setname_np(pthread_self(), "prof-wall");
    pthread_mutex_lock(&w->tick_lock);
    w->last_tick = 0;
    w->last_scan = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long period = 1000000000L / w->hz;
    uint64_t rng = (uint64_t)next.tv_nsec | 1;
    while (!w->stop) {
        /* Uniform in [period/2, 3 period/2): a workload that repeats at a
         * multiple of the period is not seen at the same phase each time
         * (each interval is weighed by its real length). */
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        next.tv_nsec += period / 2 + (long)(rng % (uint64_t)period);
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->tick_lock, &next) != ETIMEDOUT)
            ;
        if (w->stop)
            break;
        tick(w);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec + 1) /* far behind (suspended): no burst */
            next = now;
    }
    pthread_mutex_unlock(&w->tick_lock);
    return NULL;
}

/* ---- the slot ---- */

prof_wall *prof_wall_new(void)
{
    prof_wall *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->tick_lock, NULL);
    return w;
}

void prof_wall_free(prof_wall *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->nthreads; i++)
        free(w->thread[i]);
    free(w->thread);
    free(w->send);
    free(w->send_t);
    free(w->send_site);
    free(w->answers);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->tick_lock);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void prof_wall_totals(prof_wall *w, prof_wall_counts *out)
{
    pthread_mutex_lock(&w->tick_lock);
    *out = w->total;
    pthread_mutex_unlock(&w->tick_lock);
}

int prof_wall_readers(prof_wall *w)
{
    pthread_mutex_lock(&w->lock);
    int n = w->readers;
    pthread_mutex_unlock(&w->lock);
    return n;
}

static const pf_value_type wall_types[] = {{"samples", "count"}, {"wall", "nanoseconds"}};

/* A fresh window in slot i (tick_lock held). -1 when out of memory. */
static int open_window(prof_wall *w, int i)
{
    pf_err err = {0};
    pf_profile *p = pf_profile_new(wall_types, 2, &err);
    if (p == NULL)
        return -1;
    pf_profile_set_pc_mode(p, PF_PCS_LEAF_EXACT);
    pf_profile_set_default_type(p, "wall");
    rslot *s = &w->slot[i];
    *s = (rslot){.active = true, .profile = p, .at_join = w->total, .started_ns = real_ns(),
                 .started_mono = mono_ns(), .handle = {i}};
    prof_context_fold_start(&s->fold);
    return 0;
}

/* What slot i's window gathered so far, its profile's samples flushed
 * (tick_lock held). */
static void window_result(prof_wall *w, int i, prof_wall_result *out)
{
    rslot *s = &w->slot[i];
    for (size_t k = 0; k < w->nthreads; k++)
        flush_one(w, w->thread[k], i);
    prof_wall_counts c = w->total, a = s->at_join;
    *out = (prof_wall_result){
        .profile = s->profile,
        .hz = w->hz,
        .started_ns = s->started_ns,
        .seconds = (double)(mono_ns() - s->started_mono) / 1e9,
        .counts = {c.ticks - a.ticks, c.signals - a.signals, c.idle - a.idle,
                   c.same_site - a.same_site, c.unsignalled - a.unsignalled,
                   c.unanswered - a.unanswered},
        .signal = prof_threads_signal(),
    };
    out->interval_ns = out->counts.ticks > 0 ? out->seconds * 1e9 / (double)out->counts.ticks
                                             : 1e9 / w->hz;
    out->dropped = s->dropped;
}

/* Ends slot i's window into out (tick_lock held). */
static void close_window(prof_wall *w, int i, prof_wall_result *out)
{
    rslot *s = &w->slot[i];
    window_result(w, i, out);
    pf_profile_set_period(s->profile, "wall", "nanoseconds", (int64_t)(out->interval_ns + 0.5));
    prof_context_fold_end(&s->fold);
    s->active = false;
    s->profile = NULL;
}

static long seconds_until(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (long)(t->tv_sec - now.tv_sec) + 1;
    return left > 1 ? left : 1;
}

/* Starts the ticker for the first reader (w->lock held). 0, or -1. */
static int start_ticker(prof_wall *w, int hz, char *err, size_t errlen)
{
    if (prof_threads_signal() == 0) {
        snprintf(err, errlen, "wall profiles are unavailable: thread stacks are "
                 "(see the log: thread stacks unavailable)");
        return -1;
    }
    w->hz = hz < 1 ? 1 : hz > PROF_WALL_MAX_HZ ? PROF_WALL_MAX_HZ : hz;
    w->stop = false;
    int rc = pthread_create(&w->ticker, NULL, ticker_main, w);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the wall sampler's thread: %s", strerror(rc));
        return -1;
    }
    w->running = true;
    return 0;
}

static void stop_ticker(prof_wall *w)
{
    pthread_mutex_lock(&w->tick_lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->tick_lock);
    pthread_join(w->ticker, NULL);
    w->running = false;
}

/* A free reader slot: profiles in [0, MAX_READERS), windows above. */
static int free_slot(prof_wall *w, bool counted)
{
    int from = counted ? 0 : PROF_WALL_MAX_READERS, to = counted ? PROF_WALL_MAX_READERS : SLOTS;
    for (int i = from; i < to; i++)
        if (!w->slot[i].active)
            return i;
    return -1;
}

int prof_wall_claim(prof_wall *w, long seconds, int hz, int max_readers, bool counted,
                    prof_wall_reader **out, char *err, size_t errlen)
{
    int status = 0;
    pthread_mutex_lock(&w->lock);
    if (counted && w->readers >= max_readers) {
        snprintf(err, errlen, "Could not start a wall profile: %d wall profile%s already "
                 "running (profiler.max_wall_readers); the first ends in about %ld s, retry "
                 "then", w->readers, w->readers == 1 ? " is" : "s are",
                 seconds_until(&w->first_end));
        status = 409;
    } else if (!w->running && start_ticker(w, hz, err, errlen) != 0) {
        status = 503;
    }
    if (status == 0) {
        pthread_mutex_lock(&w->tick_lock);
        int i = free_slot(w, counted);
        if (i < 0 || open_window(w, i) != 0) {
            snprintf(err, errlen, i < 0 ? "every wall reader is taken" : "out of memory");
            status = i < 0 ? 409 : 503;
        } else {
            *out = &w->slot[i].handle;
        }
        pthread_mutex_unlock(&w->tick_lock);
    }
    if (status == 0 && counted) {
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += seconds;
        if (w->readers++ == 0 || end.tv_sec < w->first_end.tv_sec)
            w->first_end = end;
    } else if (status == 0) {
        w->windows++;
    } else if (w->running && w->readers == 0 && w->windows == 0) {
        stop_ticker(w);
    }
    pthread_mutex_unlock(&w->lock);
    return status;
}

int prof_wall_release(prof_wall *w, prof_wall_reader *r, bool counted, prof_wall_result *out)
{
    pthread_mutex_lock(&w->lock);
    pthread_mutex_lock(&w->tick_lock);
    close_window(w, r->slot, out);
    pthread_mutex_unlock(&w->tick_lock);
    if (counted)
        w->readers--;
    else
        w->windows--;
    if (w->running && w->readers == 0 && w->windows == 0)
        stop_ticker(w);
    pthread_mutex_unlock(&w->lock);
    return out->profile != NULL ? 0 : -1;
}

int prof_wall_next(prof_wall *w, prof_wall_reader *r, prof_wall_result *out)
{
    pthread_mutex_lock(&w->tick_lock);
    rslot kept = w->slot[r->slot];
    close_window(w, r->slot, out);
    int rc = open_window(w, r->slot);
    w->slot[r->slot].cap = kept.cap;
    if (rc != 0) { /* the window goes on with its old profile (a fresh fold) */
        w->slot[r->slot] = kept;
        prof_context_fold_start(&w->slot[r->slot].fold);
        out->profile = NULL;
    }
    pthread_mutex_unlock(&w->tick_lock);
    return rc;
}

void prof_wall_reader_cap(prof_wall *w, prof_wall_reader *r, size_t cap)
{
    pthread_mutex_lock(&w->tick_lock);
    w->slot[r->slot].cap = cap;
    pthread_mutex_unlock(&w->tick_lock);
}

size_t prof_wall_reader_bytes(prof_wall *w, prof_wall_reader *r)
{
    pthread_mutex_lock(&w->tick_lock);
    size_t n = pf_profile_bytes(w->slot[r->slot].profile);
    pthread_mutex_unlock(&w->tick_lock);
    return n;
}

int prof_wall_peek(prof_wall *w, prof_wall_reader *r, pf_profile *dst, prof_wall_result *out)
{
    pthread_mutex_lock(&w->tick_lock);
    window_result(w, r->slot, out);
    pf_err err = {0};
    int rc = pf_profile_merge(dst, out->profile, &err) == PF_OK ? 0 : -1;
    out->profile = NULL;
    pthread_mutex_unlock(&w->tick_lock);
    return rc;
}
