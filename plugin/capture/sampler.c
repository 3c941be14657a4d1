/* The per-thread CPU sampler: see sampler.h. */
#include "capture/sampler.h"

#include "capture/procself.h"
#include "core/context.h"
#include "core/own_threads.h"
#include "core/rtsig.h"

#include "pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PREFERRED_OFFSET 12   /* SIGRTMIN+12; thread dumps start at +11 */
#define RING_SLOTS 4096       /* power of two */
#define FD_TABLE 16384        /* perf fds the handler can recognize */
#define FD_RESERVE_MIN 64     /* fds always left to the host */
#define RING_BYTES (2 * 4096) /* a perf buffer: metadata page + one data page */
#define RING_MARK (RING_SLOTS / 2) /* the handler wakes the collector past this */
#define TAIL_SAMPLES 8        /* a thread's latest samples, which share its tail */
#define STEADY_MIN_RUN_NS 500000 /* windowed: CPU a switch of a steady thread */
#define WINDOW_SHARE 64       /* windowed: perf is on 1/64 of the time ... */
#define WINDOW_MAX_HZ 8000    /* ... at 64x the rate, up to this */

/* ---- module state ---- */

/* One sample, written by the handler, read by the collector. */
typedef struct ring_slot {
    _Atomic uint64_t seq; /* Vyukov's bounded queue: pos = free, pos+1 = full */
    pid_t tid;
    uint32_t depth;
    const tk_context *ctx; /* the thread's request context (core/context.h) */
    uintptr_t pcs[PROF_SAMPLER_MAX_DEPTH];
} ring_slot;

/* One armed thread. */
typedef struct armed {
    pid_t tid;
    int fd;          /* perf event, or -1 */
    void *ring;      /* its mmap'ed buffer (RING_BYTES), or NULL */
    timer_t timer;   /* when has_timer */
    bool has_timer;
    bool seen;       /* in the latest scan */
    uint64_t window_cpu; /* windowed: its CPU clock when the last window opened */
    uint64_t switches;   /* windowed: its switches in (schedstat) then */
    bool steady;         /* windowed: it switches rarely: its event stays open */
    uint64_t cpu_ns; /* its CPU clock when last weighed (at arming, first) */
    double carry;    /* what rounding left of its CPU time, in periods */
    uint32_t batch;  /* its samples in the drain under way */
    int64_t count_each, cpu_each; /* what each of them counts for */
    uint32_t count_extra;         /* how many of them count one more */
    ring_slot *last; /* copies of its latest TAIL_SAMPLES samples, NULL before
                        one: a reader's window ends counting among them the
                        CPU used since (tail); windowed, that is up to a cycle */
    uint32_t nlast, next_last; /* how many are kept, the one to replace next */
    char name[16];   /* its name (comm), read at most once a second */
    double name_at;  /* CLOCK_MONOTONIC seconds of that read; 0: never */
} armed;

struct prof_sampler {
    prof_sampler_choice choice;
    int64_t period_ns;
    int token;                             /* a timer signal's si_value */
    ring_slot *ring;
    _Atomic uint64_t head;                 /* next slot a handler claims */
    _Atomic uint64_t tail;                 /* next slot the collector reads */
    int wake_fd;                           /* eventfd: the ring passed RING_MARK, or stop */
    _Atomic bool wake_sent;                /* the handler wrote it; the collector clears */
    int64_t on_period_ns;                  /* windowed: the period inside a window */
    int64_t window_ns, cycle_ns;           /* windowed: a window in each cycle */
    _Atomic uint64_t lost, signals, handler_ns; /* since the session began */
    _Atomic(const prof_stackmap *) map;    /* bounds the handler's walks */
    prof_stackmap maps[2];                 /* the one published, and a spare */
    armed *threads;
    size_t nthreads, cap, fd_budget, fds_used;
    bool scanned;                          /* the first scan is done */
    _Atomic size_t threads_perf, threads_timer, threads_windowed, unarmed;
    pthread_t collector;
    _Atomic bool quit;
    pthread_mutex_t lock;                  /* guards readers and threads */
    prof_sampler_reader *readers;
};

/* One reader's window: the samples drained while it is joined. */
struct prof_sampler_reader {
    pf_profile *profile;
    uint64_t samples, signals, cpu_ns;
    uint64_t lost0, handler_ns0, handled0; /* the session's counts at join */
    bool failed;                           /* out of memory while collecting */
    prof_context_fold *fold;               /* bounds its label sets, or NULL */
    _Atomic size_t cap;                    /* bound of its profile's bytes, 0 none */
    _Atomic size_t bytes;                  /* its profile's bytes (pf_profile_bytes) */
    uint64_t dropped;                      /* samples left out to stay under cap */
    prof_sampler_reader *next;
};

static struct {
    int sig;                              /* 0: not installed */
    struct sigaction old;
    _Atomic(prof_sampler *) current;      /* NULL between sessions */
    _Atomic int inflight;                 /* handlers running now */
    _Atomic int next_token;
    _Atomic uint64_t signals, lost, handler_ns; /* of the sessions ended */
    /* The perf fds of the current session: 1 = re-armed by ioctl, or the
     * buffer whose tail the handler moves. */
    _Atomic(void *) owned[FD_TABLE];
    _Atomic pid_t fd_tid[FD_TABLE]; /* the thread each of those fds samples */
} G;

#define OWNED_REFRESH ((void *)1)

/* ---- modes ---- */

/* ---- the signal handler (async-signal-safe) ---- */

/* True when the signal is one of the running session's, with the thread
 * it samples in *tid (a timer's value carries it, a perf fd maps to it:
 * no system call); re-arms a perf event. */
static bool ours(prof_sampler *s, const siginfo_t *si, pid_t *tid)
{
    if (si->si_code == SI_TIMER) {
        uintptr_t v = (uintptr_t)si->si_value.sival_ptr;
        *tid = (pid_t)(v & 0xffffffffu);
        return (int)(v >> 32) == s->token;
    }
    void *owned = si->si_code > 0 && si->si_fd >= 0 && si->si_fd < FD_TABLE
                      ? atomic_load(&G.owned[si->si_fd]) : NULL;
    if (owned == OWNED_REFRESH) {
        ioctl(si->si_fd, PERF_EVENT_IOC_REFRESH, 1);
    } else if (owned != NULL) { /* the records are empty: free them all */
        struct perf_event_mmap_page *meta = owned;
        uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
        __atomic_store_n(&meta->data_tail, head, __ATOMIC_RELEASE);
    }
    if (owned != NULL)
        *tid = atomic_load(&G.fd_tid[si->si_fd]);
    return owned != NULL;
}

/* Wakes the collector (write(2) is async-signal-safe). */
static void wake(prof_sampler *s)
{
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof one) < 0)
        atomic_store(&s->wake_sent, false);
}

/* Claims the next free slot of the ring; NULL when it is full. */
static ring_slot *claim(prof_sampler *s, uint64_t *pos)
{
    *pos = atomic_load_explicit(&s->head, memory_order_relaxed);
    for (;;) {
        ring_slot *slot = &s->ring[*pos & (RING_SLOTS - 1)];
        uint64_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        if (seq == *pos) {
            if (atomic_compare_exchange_weak(&s->head, pos, *pos + 1))
                return slot;
        } else if (seq < *pos) {
            return NULL;
        } else {
            *pos = atomic_load_explicit(&s->head, memory_order_relaxed);
        }
    }
}

static void record(prof_sampler *s, pid_t tid, void *uc)
{
    uint64_t pos;
    ring_slot *slot = claim(s, &pos);
    if (slot == NULL) { /* the next sample of the thread counts this one's time */
        atomic_fetch_add(&s->lost, 1);
        return;
    }
    bool truncated;
    slot->tid = tid;
    slot->ctx = prof_context_current(); /* async-signal-safe */
    slot->depth = (uint32_t)prof_stackmap_unwind(atomic_load(&s->map), uc, slot->pcs,
                                                 PROF_SAMPLER_MAX_DEPTH, &truncated);
    atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
    atomic_fetch_add(&s->signals, 1);
    if (pos + 1 - atomic_load_explicit(&s->tail, memory_order_relaxed) >= RING_MARK &&
        !atomic_exchange(&s->wake_sent, true))
        wake(s);
}

static void on_sample(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    int saved = errno;
    uint64_t t0 = (uint64_t)pf_mono_ns();
    atomic_fetch_add(&G.inflight, 1); /* before reading current: see stop */
    prof_sampler *s = atomic_load(&G.current);
    pid_t tid;
    if (s != NULL && ours(s, si, &tid)) {
        record(s, tid, uc);
        atomic_fetch_add(&s->handler_ns, (uint64_t)pf_mono_ns() - t0);
    }
    atomic_fetch_sub(&G.inflight, 1);
    errno = saved;
}

/* ---- arming threads ---- */

static int open_event(pid_t tid, int64_t period_ns, bool with_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.sample_period = (uint64_t)period_ns;
    a.disabled = 1;
    a.exclude_kernel = !with_kernel;
    a.exclude_hv = 1;
    a.wakeup_events = 1; /* with a buffer: a signal per overflow */
    return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Points the event's overflow signal at its own thread and enables it.
 * With a buffer (1 + 1 pages, within perf_event_mlock_kb), every overflow
 * signals and the event never stops; without, each signal must re-arm it
 * (PERF_EVENT_IOC_REFRESH), and the time until then is not counted. */
static int arm_event(armed *t)
{
    struct f_owner_ex owner = {F_OWNER_TID, t->tid};
    if (t->fd >= FD_TABLE || fcntl(t->fd, F_SETFL, O_ASYNC) != 0 ||
        fcntl(t->fd, F_SETSIG, G.sig) != 0 || fcntl(t->fd, F_SETOWN_EX, &owner) != 0)
        return -1;
    atomic_store(&G.fd_tid[t->fd], t->tid);
    void *ring = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
    t->ring = ring == MAP_FAILED ? NULL : ring;
    atomic_store(&G.owned[t->fd], t->ring ? t->ring : OWNED_REFRESH);
    return t->ring ? ioctl(t->fd, PERF_EVENT_IOC_ENABLE, 0)
                   : ioctl(t->fd, PERF_EVENT_IOC_REFRESH, 1);
}

/* The CPU clock of another thread of this process (the kernel's
 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), what Go computes too). */
static clockid_t thread_clock(pid_t tid)
{
    return (clockid_t)(((unsigned)~tid << 3) | 6u);
}

static int open_timer(pid_t tid, int sig, int token, int64_t period_ns, timer_t *out)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_ptr = (void *)(((uintptr_t)(unsigned)token << 32) | (uint32_t)tid);
    sev._sigev_un._tid = tid; /* sigev_notify_thread_id */
    if (timer_create(thread_clock(tid), &sev, out) != 0)
        return -1;
    struct timespec p = {period_ns / 1000000000, period_ns % 1000000000};
    struct itimerspec it = {p, p};
    if (timer_settime(*out, 0, &it, NULL) != 0) {
        timer_delete(*out);
        return -1;
    }
    return 0;
}

/* Waits until no handler runs: one that loaded an event's buffer from
 * G.owned before it was cleared is done with it then. */
static void handlers_quiesce(void)
{
    while (atomic_load(&G.inflight) > 0)
        sched_yield();
}

/* Closes an event; a late signal of it is then not recognized. Its
 * thread may be running the handler on it (a window closing under a
 * live thread): the buffer is unmapped only once no handler runs. */
static void release_event(armed *t)
{
    if (t->fd < FD_TABLE)
        atomic_store(&G.owned[t->fd], NULL);
    if (t->ring != NULL) {
        handlers_quiesce();
        munmap(t->ring, RING_BYTES);
    }
    close(t->fd);
    t->fd = -1;
    t->ring = NULL;
}

/* The CPU clock of thread tid now (0 if it is gone). */
static uint64_t cpu_of(pid_t tid)
{
    struct timespec ts;
    if (clock_gettime(thread_clock(tid), &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *name_of(armed *t);

/* Arms one thread: a perf event within the fd budget, else a timer. */
static void arm(prof_sampler *s, armed *t)
{
    name_of(t); /* now: it may exit before its samples are drained */
    t->fd = -1;
    t->has_timer = false;
    /* A thread found by a rescan was born since the previous one: all
     * its CPU time is the session's (1: weighed from its birth). */
    t->cpu_ns = s->scanned ? 1 : cpu_of(t->tid);
    if (s->choice.mode == PROF_SAMPLER_WINDOWED)
        return; /* its events are opened window by window */
    if (s->choice.mode == PROF_SAMPLER_PERF && s->fds_used < s->fd_budget) {
        t->fd = open_event(t->tid, s->period_ns, s->choice.with_kernel);
        if (t->fd >= 0 && arm_event(t) == 0) {
            s->fds_used++;
            s->threads_perf++;
            return;
        }
        if (t->fd >= 0)
            release_event(t);
    }
    if (open_timer(t->tid, G.sig, s->token, s->period_ns, &t->timer) == 0) {
        t->has_timer = true;
        s->threads_timer++;
    } else {
        s->unarmed++; /* the thread exited meanwhile, most often */
    }
}

static void disarm(prof_sampler *s, armed *t)
{
    free(t->last);
    t->last = NULL;
    t->nlast = t->next_last = 0;
    if (t->fd >= 0) {
        ioctl(t->fd, PERF_EVENT_IOC_DISABLE, 0);
        release_event(t);
        s->fds_used--;
    }
    if (t->has_timer) {
        timer_delete(t->timer);
        t->has_timer = false;
    }
}

/* How many perf fds a session may take: never the last quarter of
 * RLIMIT_NOFILE, nor the last FD_RESERVE_MIN fds. */
static size_t fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        rl.rlim_cur = FD_TABLE;
    size_t limit = rl.rlim_cur < FD_TABLE ? (size_t)rl.rlim_cur : FD_TABLE;
    size_t used = prof_fds_count();
    size_t reserve = limit / 4 > FD_RESERVE_MIN ? limit / 4 : FD_RESERVE_MIN;
    return limit > used + reserve ? limit - used - reserve : 0;
}

/* ---- threads: scan and rescan ---- */

static armed *find_thread(prof_sampler *s, pid_t tid)
{
    size_t lo = 0, hi = s->nthreads; /* sorted by tid */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->threads[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nthreads && s->threads[lo].tid == tid ? &s->threads[lo] : NULL;
}

static int cmp_armed(const void *a, const void *b)
{
    pid_t x = ((const armed *)a)->tid, y = ((const armed *)b)->tid;
    return (x > y) - (x < y);
}

/* Publishes fresh mappings (a new thread's stack is a new mapping): the
 * handler reads the published one; the other is refilled. A handler that
 * loaded the old pointer has finished with it two rescans later, which
 * is far longer than a walk takes. */
static void refresh_maps(prof_sampler *s)
{
    prof_stackmap *spare = atomic_load(&s->map) == &s->maps[0] ? &s->maps[1] : &s->maps[0];
    if (prof_stackmap_read(spare) == 0)
        atomic_store(&s->map, spare);
}

/* Arms the threads not yet armed, releases those that exited. -1 when
 * out of memory. */
static int rescan_locked(prof_sampler *s, pid_t *tids, size_t n);

static int rescan(prof_sampler *s)
{
    pid_t *tids;
    size_t n;
    if (prof_tasks_list(&tids, &n) != 0)
        return -1;
    pthread_mutex_lock(&s->lock); /* drain reads the threads' CPU clocks */
    int rc = rescan_locked(s, tids, n);
    pthread_mutex_unlock(&s->lock);
    free(tids);
    return rc;
}

static int rescan_locked(prof_sampler *s, pid_t *tids, size_t n)
{
    size_t added = 0;
    for (size_t i = 0; i < s->nthreads; i++)
        s->threads[i].seen = false;
    for (size_t i = 0; i < n; i++) {
        armed *t = find_thread(s, tids[i]);
        if (t != NULL) {
            t->seen = true;
            continue;
        }
        if (s->nthreads + added == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            armed *grown = realloc(s->threads, cap * sizeof *grown);
            if (grown == NULL)
                break;
            s->threads = grown;
            s->cap = cap;
        }
        s->threads[s->nthreads + added++] = (armed){.tid = tids[i], .fd = -1, .seen = true};
    }
    if (added > 0)
        refresh_maps(s); /* before the new threads' first signal */
    for (size_t i = s->nthreads; i < s->nthreads + added; i++)
        arm(s, &s->threads[i]);
    s->nthreads += added;
    size_t kept = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        if (!s->threads[i].seen)
            disarm(s, &s->threads[i]);
        else
            s->threads[kept++] = s->threads[i];
    }
    s->nthreads = kept;
    s->scanned = true;
    qsort(s->threads, s->nthreads, sizeof *s->threads, cmp_armed);
    return 0;
}

/* ---- collecting ---- */

/* Weighing. The signals say where a thread is; its CPU clock (the
 * kernel's account, what /proc shows) says how much its samples count:
 * at each drain, the CPU time a thread used since it was last weighed is
 * shared among its samples in the ring, as cpu/nanoseconds and, in
 * periods, as samples/count (rounded, the rest carried to its next
 * drain). The kernel's work that a per-thread perf event does not see
 * (around its thread's context switches), or a sample dropped on a full
 * ring, is thus counted all the same. The clocks are read here, once per
 * thread per drain, not in the handler. */
static void weigh_thread(prof_sampler *s, armed *t)
{
    uint64_t now = cpu_of(t->tid);
    int64_t cpu = now > t->cpu_ns && t->cpu_ns > 0 ? (int64_t)(now - t->cpu_ns)
                                                   : s->period_ns * t->batch;
    if (now > 0)
        t->cpu_ns = now;
    double periods = (double)cpu / (double)s->period_ns + t->carry;
    int64_t count = (int64_t)(periods + 0.5); /* rounded: no bias either way */
    t->carry = periods - (double)count;
    t->count_each = count / t->batch;
    t->count_extra = (uint32_t)(count % t->batch);
    t->cpu_each = cpu / t->batch;
}

/* Weighs every thread that has samples in [tail, end). */
static void weigh_batch(prof_sampler *s, uint64_t end)
{
    for (uint64_t pos = atomic_load(&s->tail); pos < end; pos++) {
        armed *t = find_thread(s, s->ring[pos & (RING_SLOTS - 1)].tid);
        if (t != NULL)
            t->batch++;
    }
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].batch > 0)
            weigh_thread(s, &s->threads[i]);
}

/* What one sample counts for: samples/count and cpu/nanoseconds. */
static void weight_of(prof_sampler *s, const ring_slot *slot, int64_t *count, int64_t *cpu_ns)
{
    armed *t = find_thread(s, slot->tid);
    if (t == NULL || t->batch == 0) { /* gone before it was weighed */
        *count = 1;
        *cpu_ns = s->period_ns;
        return;
    }
    *count = t->count_each + (t->count_extra > 0);
    t->count_extra -= t->count_extra > 0;
    *cpu_ns = t->cpu_each;
    t->batch--;
}

/* Keeps a copy of a thread's latest samples (none when out of memory:
 * its tail then goes uncounted). */
static void keep_last(armed *t, const ring_slot *slot)
{
    if (t->last == NULL)
        t->last = malloc(TAIL_SAMPLES * sizeof *t->last);
    if (t->last == NULL)
        return;
    memcpy(&t->last[t->next_last], slot, sizeof *slot);
    t->next_last = (t->next_last + 1) % TAIL_SAMPLES;
    t->nlast += t->nlast < TAIL_SAMPLES;
}

/* A thread's name (comm): read by the collector, not in the handler, as
 * it is armed and then at most once a second, so a rename shows within a
 * second (a thread gone keeps the name last read). */
static const char *name_of(armed *t)
{
    if (t == NULL)
        return "(exited)";
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    if (t->name_at == 0 || at - t->name_at >= 1) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)t->tid);
        FILE *f = fopen(path, "re");
        if (f != NULL) {
            if (fgets(t->name, sizeof t->name, f) != NULL)
                t->name[strcspn(t->name, "\n")] = '\0';
            fclose(f);
        }
        t->name_at = at;
    }
    return t->name;
}

/* Whether one more sample could take r's profile past its cap: a sample
 * may grow each array (doubling, with the old one alive while realloc
 * copies: 3 times the bytes at most) and take a new arena block. */
static bool over_cap(prof_sampler_reader *r)
{
    size_t cap = atomic_load_explicit(&r->cap, memory_order_relaxed);
    return cap > 0 && 3 * pf_profile_bytes(r->profile) + PROF_SAMPLER_ADD_SLACK > cap;
}

static void add_to(prof_sampler_reader *r, const ring_slot *slot, const char *name,
                   int64_t count, int64_t cpu_ns)
{
    if (over_cap(r)) {
        r->dropped++;
        return;
    }
    int64_t values[2] = {count, cpu_ns};
    pf_label labels[2 + TK_CONTEXT_MAX_PAIRS] = {{.key = "thread", .str = name},
                                                 {.key = "thread_id", .num = slot->tid}};
    const tk_context *ctx = r->fold ? prof_context_fold_one(r->fold, slot->ctx) : slot->ctx;
    size_t nlabels = 2 + prof_context_labels(ctx, labels + 2, TK_CONTEXT_MAX_PAIRS);
    pf_err err = {0};
    r->samples += (uint64_t)count;
    r->cpu_ns += (uint64_t)cpu_ns;
    if (slot->depth > 0 && pf_profile_add_sample(r->profile, slot->pcs, slot->depth, values,
                                                 labels, nlabels, &err) != PF_OK)
        r->failed = true;
    atomic_store_explicit(&r->bytes, pf_profile_bytes(r->profile), memory_order_relaxed);
}

/* Shares one thread's tail (cpu ns) among its latest samples, in r's
 * profile. */
static void add_tail(prof_sampler *s, prof_sampler_reader *r, armed *t, int64_t cpu)
{
    double periods = (double)cpu / (double)s->period_ns, carry = 0;
    for (uint32_t k = 0; k < t->nlast; k++) {
        double share = periods / t->nlast + carry;
        int64_t count = (int64_t)(share + 0.5);
        carry = share - (double)count;
        add_to(r, &t->last[k], name_of(t), count, cpu / t->nlast);
    }
}

/* Each thread's CPU time since it was last weighed goes to its latest
 * samples: at the end of reader r's window, in r's profile only (the
 * others' windows go on, and count it at the next drain); as a reader
 * joins (r NULL), in every other reader's, and the thread counts as
 * weighed, so the new reader's window starts clean. */
static void add_tails(prof_sampler *s, prof_sampler_reader *r)
{
    for (size_t i = 0; i < s->nthreads; i++) {
        armed *t = &s->threads[i];
        uint64_t now = cpu_of(t->tid);
        if (now <= t->cpu_ns)
            continue;
        for (prof_sampler_reader *to = r ? r : s->readers; to != NULL; to = r ? NULL : to->next)
            add_tail(s, to, t, (int64_t)(now - t->cpu_ns));
        if (r == NULL)
            t->cpu_ns = now;
    }
}

/* Adds one sample to every reader's profile. */
static void deliver(prof_sampler *s, const ring_slot *slot)
{
    int64_t count, cpu_ns;
    weight_of(s, slot, &count, &cpu_ns);
    armed *t = find_thread(s, slot->tid);
    const char *name = name_of(t);
    if (t != NULL)
        keep_last(t, slot);
    for (prof_sampler_reader *r = s->readers; r != NULL; r = r->next) {
        r->signals++;
        add_to(r, slot, name, count, cpu_ns);
    }
}

/* Moves every sample in the ring into the readers' profiles. */
static void drain(prof_sampler *s)
{
    pthread_mutex_lock(&s->lock);
    uint64_t tail = atomic_load(&s->tail), end = tail;
    while (atomic_load_explicit(&s->ring[end & (RING_SLOTS - 1)].seq, memory_order_acquire) ==
           end + 1)
        end++;
    weigh_batch(s, end);
    for (; tail < end; tail++) {
        ring_slot *slot = &s->ring[tail & (RING_SLOTS - 1)];
        deliver(s, slot);
        atomic_store_explicit(&slot->seq, tail + RING_SLOTS, memory_order_release);
        atomic_store(&s->tail, tail + 1);
    }
    pthread_mutex_unlock(&s->lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Sleeps until CLOCK_MONOTONIC `until_ns` or stop, draining the ring
 * whenever the handler says it passed RING_MARK. */
static void wait_until(prof_sampler *s, int64_t until_ns)
{
    int64_t left;
    while (!atomic_load(&s->quit) && (left = until_ns - pf_mono_ns()) > 0) {
        struct pollfd p = {.fd = s->wake_fd, .events = POLLIN};
        if (poll(&p, 1, (int)((left + 999999) / 1000000)) <= 0)
            continue;
        uint64_t n;
        if (read(s->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
            continue;
        atomic_store(&s->wake_sent, false);
        drain(s);
    }
}

/* The times thread tid was switched in (schedstat's third field), or 0. */
static uint64_t switches_of(pid_t tid)
{
    char path[64];
    unsigned long long cpu, wait, slices = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    FILE *f = fopen(path, "re");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu %llu", &cpu, &wait, &slices) != 3)
            slices = 0;
        fclose(f);
    }
    return slices;
}

/* windowed: whether thread t, which ran `cpu` ns since the last window,
 * runs long enough between context switches (STEADY_MIN_RUN_NS on
 * average) to keep an event open all along: at about 2 us a switch on a
 * VM, that costs it 0.5 % of its CPU time at most. Its first window
 * measures it. */
static bool steady(armed *t, uint64_t cpu)
{
    uint64_t now = switches_of(t->tid);
    bool first = t->switches == 0;
    uint64_t switched = now - t->switches;
    t->switches = now;
    return !first && now > 0 && cpu >= STEADY_MIN_RUN_NS * switched;
}

/* windowed: opens an event on each thread that used CPU since the last
 * window (every thread at the first), within the fd budget: for this
 * window, at on_period_ns, or for good, at period_ns, on a thread that
 * switches rarely (an event left open on a thread that switches often
 * is closed). */
static void window_open(prof_sampler *s)
{
    size_t windowed = 0, steadies = 0, failed = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nthreads; i++) {
        armed *t = &s->threads[i];
        uint64_t now = cpu_of(t->tid);
        bool ran = t->window_cpu == 0 || now != t->window_cpu;
        bool keep = ran ? steady(t, now - t->window_cpu) : t->steady;
        t->window_cpu = now;
        if (t->fd >= 0 && t->steady && !keep) {
            ioctl(t->fd, PERF_EVENT_IOC_DISABLE, 0);
            release_event(t);
            s->fds_used--;
        }
        t->steady = keep;
        if (t->fd >= 0 || (!ran && !keep) || s->fds_used >= s->fd_budget) {
            steadies += t->fd >= 0;
            continue;
        }
        t->fd = open_event(t->tid, keep ? s->period_ns : s->on_period_ns, s->choice.with_kernel);
        if (t->fd >= 0 && arm_event(t) == 0) {
            s->fds_used++;
            keep ? steadies++ : windowed++;
            continue;
        }
        if (t->fd >= 0)
            release_event(t);
        failed++; /* the thread exited meanwhile, most often */
    }
    atomic_store(&s->threads_perf, steadies);
    atomic_store(&s->threads_windowed, windowed);
    atomic_store(&s->unarmed, failed);
    pthread_mutex_unlock(&s->lock);
}

/* windowed: closes the events of the window (not the steady ones). */
static void window_close(prof_sampler *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].fd >= 0 && !s->threads[i].steady) {
            ioctl(s->threads[i].fd, PERF_EVENT_IOC_DISABLE, 0);
            release_event(&s->threads[i]);
            s->fds_used--;
        }
    pthread_mutex_unlock(&s->lock);
}

/* A number in [0, n) from a xorshift of the collector's own. */
static int64_t random_below(uint64_t *state, int64_t n)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return n > 0 ? (int64_t)(*state % (uint64_t)n) : 0;
}

/* windowed: in each cycle, one window at a random offset (no workload
 * can lock to it); the samples of a window weigh every thread's CPU time
 * since its previous weighing. */
static void collect_windows(prof_sampler *s)
{
    uint64_t rnd = (uint64_t)pf_mono_ns() | 1;
    while (!atomic_load(&s->quit)) {
        int64_t start = pf_mono_ns();
        int64_t at = start + random_below(&rnd, s->cycle_ns - s->window_ns);
        wait_until(s, at);
        rescan(s); /* out of memory: new threads wait for the next one */
        window_open(s);
        wait_until(s, at + s->window_ns);
        window_close(s);
        drain(s);
        wait_until(s, start + s->cycle_ns);
    }
}

static void *collect_main(void *arg)
{
    prof_sampler *s = arg;
    if (s->choice.mode == PROF_SAMPLER_WINDOWED) {
        collect_windows(s);
        return NULL;
    }
    while (!atomic_load(&s->quit)) {
        wait_until(s, pf_mono_ns() + PROF_SAMPLER_DRAIN_MS * 1000000LL);
        drain(s);
        rescan(s); /* out of memory: new threads wait for the next one */
    }
    return NULL;
}

/* ---- sessions ---- */

static const pf_value_type cpu_types[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};

static prof_sampler *session_new(const prof_sampler_choice *choice, int hz)
{
    prof_sampler *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->choice = *choice;
    s->period_ns = 1000000000LL / hz;
    s->token = atomic_fetch_add(&G.next_token, 1) + 1;
    s->ring = calloc(RING_SLOTS, sizeof *s->ring);
    s->wake_fd = -1;
    if (s->ring == NULL || prof_stackmap_read(&s->maps[0]) != 0) {
        free(s->ring);
        prof_stackmap_free(&s->maps[0]);
        free(s);
        return NULL;
    }
    for (uint64_t i = 0; i < RING_SLOTS; i++)
        atomic_init(&s->ring[i].seq, i);
    atomic_init(&s->map, &s->maps[0]);
    pthread_mutex_init(&s->lock, NULL);
    s->fd_budget = prof_sampler_mode_is_perf(choice->mode) ? fd_budget() : 0;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (choice->mode == PROF_SAMPLER_WINDOWED) {
        int share = prof_sampler_window_share(hz);
        s->cycle_ns = PROF_SAMPLER_CYCLE_MS * 1000000LL;
        s->window_ns = s->cycle_ns / share;
        s->on_period_ns = s->period_ns / share;
    }
    return s;
}

static void session_free(prof_sampler *s)
{
    for (size_t i = 0; i < s->nthreads; i++)
        disarm(s, &s->threads[i]);
    free(s->threads);
    free(s->ring);
    prof_stackmap_free(&s->maps[0]);
    prof_stackmap_free(&s->maps[1]);
    while (s->readers != NULL) {
        prof_sampler_reader *r = s->readers;
        s->readers = r->next;
        pf_profile_free(r->profile);
        free(r);
    }
    pthread_mutex_destroy(&s->lock);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
}

prof_sampler *prof_sampler_start(const prof_sampler_choice *choice, int hz, char *err,
                                 size_t errlen)
{
    if (G.sig == 0) {
        snprintf(err, errlen, "the CPU sampler's signal handler is not installed");
        return NULL;
    }
    prof_sampler *s = session_new(choice, hz);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory for the CPU sampler");
        return NULL;
    }
    prof_sampler *none = NULL;
    if (!atomic_compare_exchange_strong(&G.current, &none, s)) {
        session_free(s);
        snprintf(err, errlen, "a CPU sampling session is already running");
        return NULL;
    }
    if (s->wake_fd < 0 || rescan(s) != 0 ||
        (choice->mode != PROF_SAMPLER_WINDOWED && s->threads_perf + s->threads_timer == 0)) {
        snprintf(err, errlen, "could not arm any thread for CPU sampling (%s)",
                 s->nthreads ? "every perf_event_open and timer_create failed"
                             : "cannot list /proc/self/task");
        atomic_store(&G.current, NULL);
        while (atomic_load(&G.inflight) > 0)
            sleep_ms(1);
        session_free(s);
        return NULL;
    }
    if (prof_thread_spawn(&s->collector, PROF_THREAD_COLLECT, 0, collect_main, s) != 0) {
        snprintf(err, errlen, "cannot start the CPU sampler's collector thread");
        atomic_store(&G.current, NULL);
        while (atomic_load(&G.inflight) > 0)
            sleep_ms(1);
        session_free(s);
        return NULL;
    }
    return s;
}

void prof_sampler_stop(prof_sampler *s)
{
    atomic_store(&s->quit, true);
    wake(s);
    pthread_join(s->collector, NULL);
    for (size_t i = 0; i < s->nthreads; i++)
        disarm(s, &s->threads[i]);
    atomic_store(&G.current, NULL);
    while (atomic_load(&G.inflight) > 0) /* a handler that saw the session */
        sleep_ms(1);
    atomic_fetch_add(&G.signals, atomic_load(&s->signals));
    atomic_fetch_add(&G.lost, atomic_load(&s->lost));
    atomic_fetch_add(&G.handler_ns, atomic_load(&s->handler_ns));
    session_free(s);
}

void prof_sampler_totals_get(prof_sampler_totals *out)
{
    /* A running session's counts join the totals when it ends. */
    *out = (prof_sampler_totals){atomic_load(&G.signals), atomic_load(&G.lost),
                                 atomic_load(&G.handler_ns)};
}

prof_sampler_reader *prof_sampler_join(prof_sampler *s)
{
    return prof_sampler_join_folded(s, NULL);
}

prof_sampler_reader *prof_sampler_join_folded(prof_sampler *s, prof_context_fold *fold)
{
    prof_sampler_reader *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->fold = fold;
    pf_err err = {0};
    if (r == NULL || (r->profile = pf_profile_new(cpu_types, 2, &err)) == NULL) {
        free(r);
        return NULL;
    }
    pf_profile_set_period(r->profile, "cpu", "nanoseconds", s->period_ns);
    atomic_store(&r->bytes, pf_profile_bytes(r->profile));
    drain(s); /* what was sampled before belongs to the readers already there */
    pthread_mutex_lock(&s->lock);
    add_tails(s, NULL);
    r->lost0 = atomic_load(&s->lost);
    r->handler_ns0 = atomic_load(&s->handler_ns);
    r->handled0 = atomic_load(&s->signals);
    r->next = s->readers;
    s->readers = r;
    pthread_mutex_unlock(&s->lock);
    return r;
}

/* What reader r counted so far (s->lock held); the rest of out zeroed. */
static void reader_counts(prof_sampler *s, const prof_sampler_reader *r,
                          prof_sampler_result *out)
{
    *out = (prof_sampler_result){
        .period_ns = s->period_ns,
        .samples = r->samples,
        .signals = r->signals,
        .cpu_ns = r->cpu_ns,
        .lost = atomic_load(&s->lost) - r->lost0,
        .dropped = r->dropped,
    };
}

int prof_sampler_leave(prof_sampler *s, prof_sampler_reader *r, prof_sampler_result *out)
{
    drain(s); /* the samples taken up to now are the reader's too */
    pthread_mutex_lock(&s->lock);
    add_tails(s, r);
    prof_sampler_reader **link = &s->readers;
    while (*link != r)
        link = &(*link)->next;
    *link = r->next;
    uint64_t handled = atomic_load(&s->signals) - r->handled0;
    reader_counts(s, r, out);
    out->profile = r->failed ? NULL : r->profile;
    out->handler_ns = handled ? (atomic_load(&s->handler_ns) - r->handler_ns0) : 0;
    out->handled = handled;
    out->threads_perf = atomic_load(&s->threads_perf);
    out->threads_timer = atomic_load(&s->threads_timer);
    out->threads_windowed = atomic_load(&s->threads_windowed);
    out->threads_unarmed = atomic_load(&s->unarmed);
    pthread_mutex_unlock(&s->lock);
    bool failed = r->failed;
    if (failed)
        pf_profile_free(r->profile);
    free(r);
    return failed ? -1 : 0;
}

int prof_sampler_peek(prof_sampler *s, prof_sampler_reader *r, pf_profile *dst,
                      prof_sampler_result *out)
{
    drain(s);
    pthread_mutex_lock(&s->lock);
    pf_err err = {0};
    int rc = r->failed || pf_profile_merge(dst, r->profile, &err) != PF_OK ? -1 : 0;
    reader_counts(s, r, out);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void prof_sampler_reader_cap(prof_sampler_reader *r, size_t cap)
{
    atomic_store(&r->cap, cap);
}

size_t prof_sampler_reader_bytes(prof_sampler_reader *r)
{
    return atomic_load(&r->bytes);
}

/* ---- resolving a mode ---- */

static int paranoid_level(void)
{
    FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
    int level = -99;
    if (f != NULL) {
        if (fscanf(f, "%d", &level) != 1)
            level = -99;
        fclose(f);
    }
    return level;
}

/* Opens and closes a probe event on the calling thread. */
static int probe_perf(bool *with_kernel, char *err, size_t errlen)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    int fd = open_event(self, 10000000, true);
    *with_kernel = fd >= 0;
    if (fd < 0 && (errno == EACCES || errno == EPERM))
        fd = open_event(self, 10000000, false);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    int e = errno;
    snprintf(err, errlen, "perf_event_open(task-clock) on this process failed: %s "
             "(kernel.perf_event_paranoid = %d; the fix: sysctl kernel.perf_event_paranoid=2, "
             "or CAP_PERFMON for the server, or allow perf_event_open in its seccomp profile)",
             strerror(e), paranoid_level());
    return -1;
}

static int probe_timer(char *err, size_t errlen)
{
    timer_t t;
    if (open_timer((pid_t)syscall(SYS_gettid), G.sig ? G.sig : SIGRTMIN + PREFERRED_OFFSET,
                   0, 1000000000LL, &t) == 0) {
        timer_delete(t);
        return 0;
    }
    snprintf(err, errlen, "timer_create(the thread's CPU clock, SIGEV_THREAD_ID) failed: %m");
    return -1;
}

int prof_sampler_resolve(prof_sampler_mode want, prof_sampler_choice *out, char *err,
                         size_t errlen)
{
    *out = (prof_sampler_choice){.mode = want};
    if (want == PROF_SAMPLER_GPERFTOOLS)
        return 0;
    char why[256] = "no free realtime signal for the sampler";
    if (G.sig != 0 && want != PROF_SAMPLER_THREAD_TIMER) {
        if (probe_perf(&out->with_kernel, why, sizeof why) == 0) {
            out->mode = want == PROF_SAMPLER_WINDOWED ? want : PROF_SAMPLER_PERF;
            return 0;
        }
        if (prof_sampler_mode_is_perf(want))
            goto refuse;
    }
    if (G.sig != 0) {
        char timer_why[256];
        if (probe_timer(timer_why, sizeof timer_why) == 0) {
            out->mode = PROF_SAMPLER_THREAD_TIMER;
            snprintf(out->why, sizeof out->why, "%s", want == PROF_SAMPLER_AUTO ? why : "");
            return 0;
        }
        snprintf(why, sizeof why, "%s", timer_why);
    }
    if (want != PROF_SAMPLER_AUTO)
        goto refuse;
    out->mode = PROF_SAMPLER_GPERFTOOLS;
    snprintf(out->why, sizeof out->why, "%s", why);
    return 0;
refuse:
    snprintf(err, errlen, "profiler.cpu_sampler = %s: %s", prof_sampler_mode_name(want), why);
    return -1;
}

/* ---- lifecycle ---- */

int prof_sampler_init(char *err, size_t errlen)
{
    G.sig = prof_rtsig_claim(PREFERRED_OFFSET, on_sample, &G.old, err, errlen);
    return G.sig ? 0 : -1;
}

void prof_sampler_fini(void)
{
    if (G.sig == 0)
        return;
    prof_rtsig_release(G.sig, &G.old, &G.inflight, 0);
    G.sig = 0;
}

int prof_sampler_window_share(int hz)
{
    int share = hz > 0 && WINDOW_SHARE * hz > WINDOW_MAX_HZ ? WINDOW_MAX_HZ / hz : WINDOW_SHARE;
    return share > 1 ? share : 1;
}

bool prof_sampler_mode_is_perf(prof_sampler_mode mode)
{
    return mode == PROF_SAMPLER_PERF || mode == PROF_SAMPLER_WINDOWED;
}

int prof_sampler_signal(void)
{
    return G.sig;
}
