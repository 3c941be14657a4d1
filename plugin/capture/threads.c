/*
 * /debug/pprof/goroutine and /debug/pprof/threads: see threads.h.
 *
 * Signal (rtsig.h). The first realtime signal from SIGRTMIN+11 (45 with glibc) up
 * whose action is SIG_DFL when the plugin loads: glibc keeps 32 and 33 for
 * itself (SIGRTMIN is 34), gperftools uses SIGPROF, and the low SIGRTMIN+n
 * are the ones applications pick first. It is installed once, at init, with
 * SA_SIGINFO | SA_RESTART and every other signal blocked while it runs;
 * prof_threads_fini sets it to SIG_IGN (which drops every instance still
 * pending in any thread), waits until no handler runs, then restores the
 * previous action.
 *
 * Capture. Each thread of /proc/self/task gets the signal through
 * rt_tgsigqueueinfo with a token (capture generation, slot index) in
 * si_value; a signal from anyone else, or from an earlier capture, is
 * ignored. The handler, async-signal-safe (no malloc, no lock, no stdio,
 * no system call but prctl), unwinds the interrupted context with the
 * plugin's DWARF unwinder (unwinder.h: .eh_frame through _dl_find_object,
 * rules cached process-wide) into the thread's preallocated slot, takes
 * the thread's name with prctl(PR_GET_NAME), and marks the slot done (an
 * atomic the requester polls, no futex). The requesting thread signals
 * itself too (the handler runs before the system call returns), so it is
 * in the dump like any other.
 *
 * Safety of the walk: before signalling, the requester reads the
 * process's readable mappings (/proc/self/maps); a handler bounds every
 * load to [RSP, end of the mapping that holds RSP), or to the thread's
 * own TCB when glibc put it in that mapping above RSP (the top of a
 * pthread stack). Unwind info that lies or a damaged stack then ends the
 * walk instead of faulting (tests/unit/test_threads.c: garbage RBP without
 * unwind info, unwind info that points 112 MiB or 2 MiB up); a thread
 * whose RSP lies in no mapping read (its stack mapped after the read) gets
 * its PC only.
 *
 * Why unwind info, not a frame-pointer walk: measured on the reference
 * server, a thread waiting in nanosleep, pthread_cond_wait or read is
 * interrupted inside libc, which has no frame pointers: a walk from RBP
 * skips the caller of libc (producer_main, consume_records...) and often
 * stops at once. Why not libunwind (what this module used before): Debian
 * builds it with conservative checks, about 27 system calls per thread
 * (mincore, a pipe write and read per page checked, sigprocmask around its
 * cache lock), which made a 1000-thread dump take twice as long
 * (bench/bench_threads.c); the bounds above give the same safety with
 * none.
 *
 * What a capture does to the signalled threads: each runs the handler for
 * a few microseconds. System calls that SA_RESTART restarts (read, write,
 * futex waits of pthread_cond_wait and pthread_mutex_lock, accept) go on
 * transparently. nanosleep, clock_nanosleep, poll, epoll_wait, select and
 * sigtimedwait are never restarted: they return early with EINTR (sleep
 * returns the time left). The reference server tolerates it: its producers
 * pace against an absolute schedule, so a short sleep makes one record come
 * early and the next sleep longer (the rate is unchanged); its admin loop
 * retries poll on EINTR, civetweb's loops take it for a timeout, sigwait
 * retries inside glibc (tests/integration/test_goroutine.sh: 40 dumps in a
 * row, the producers' rate holds, every request is answered). A debug=2
 * request captures twice (the records, then the dump with states).
 *
 * A thread that blocks the signal never answers: it is listed without a
 * stack ("blocks the signal", from SigBlk in /proc/self/task/TID/status)
 * after PROF_THREADS_TIMEOUT_MS, and while our signal stays pending there
 * later captures do not queue another one (PROF_THREAD_PENDING).
 */
#include "capture/threads.h"

#include "core/context.h"

#include "core/own_threads.h"

#include "pf_symbolize.h"
#include "pf_util.h"
#include "capture/procself.h"
#include "core/rtsig.h"
#include "capture/unwinder.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PREFERRED_OFFSET 11 /* SIGRTMIN+11 */
#define MAX_STUCK 64        /* threads remembered with our signal pending */

/* ---- module state ---- */

enum slot_state { SLOT_SKIPPED, SLOT_ASKED, SLOT_BUSY, SLOT_DONE, SLOT_ABANDONED };

/* One thread's answer, written by its signal handler. */
typedef struct slot {
    _Atomic int state;
    pid_t tid;
    prof_thread_status why; /* SLOT_SKIPPED: the reason */
    bool gone;              /* exited before it was signalled */
    bool truncated;
    const tk_context *ctx;  /* the thread's request context */
    size_t depth;
    char name[16];
    uintptr_t pcs[PROF_THREADS_MAX_DEPTH];
} slot;

/* The running capture, as the handler sees it. Immutable while published. */
typedef struct capture {
    slot *slots;
    size_t n;
    uint32_t gen;
    const prof_stackmap *map; /* read before signalling */
} capture;

static struct {
    pthread_mutex_t lock; /* one capture at a time; guards the plain fields */
    int sig;              /* 0: not installed */
    struct sigaction old; /* the action before ours */
    pid_t pid;
    uid_t uid;
    capture cap;          /* storage of the published capture */
    size_t slots_cap;     /* slots allocated in cap.slots */
    prof_stackmap map;    /* storage of cap.map */
    bool ever_unanswered; /* a signal of ours may still be on its way */
    pid_t stuck[MAX_STUCK];
    size_t nstuck;
    char error[256];      /* why captures are unavailable */
    _Atomic(const capture *) current; /* NULL between captures */
    _Atomic int inflight;             /* handlers running now */
    _Atomic size_t answered;          /* slots done in this capture */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER, .error = "the thread profile was not initialized"};

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

/* ---- the signal handler (async-signal-safe) ---- */

/* The slot this signal asks to fill, claimed; NULL if the signal is not
 * one of the running capture's, or for another thread. */
static slot *claim_slot(const capture *c, const siginfo_t *si)
{
    if (si->si_code != SI_QUEUE || si->si_pid != T.pid)
        return NULL;
    uintptr_t token = (uintptr_t)si->si_value.sival_ptr;
    size_t index = (size_t)(token & 0xffffffffu);
    if ((uint32_t)(token >> 32) != c->gen || index >= c->n)
        return NULL;
    slot *s = &c->slots[index];
    int asked = SLOT_ASKED;
    if (s->tid != (pid_t)syscall(SYS_gettid) ||
        !atomic_compare_exchange_strong(&s->state, &asked, SLOT_BUSY))
        return NULL;
    return s;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    int saved = errno;
    atomic_fetch_add(&T.inflight, 1); /* before reading current: see finish */
    const capture *c = atomic_load(&T.current);
    slot *s = c != NULL ? claim_slot(c, si) : NULL;
    if (s != NULL) {
        s->depth = prof_stackmap_unwind(c->map, uc, s->pcs, PROF_THREADS_MAX_DEPTH,
                                        &s->truncated);
        prctl(PR_GET_NAME, s->name);
        s->ctx = prof_context_current(); /* async-signal-safe */
        atomic_store(&s->state, SLOT_DONE);
        atomic_fetch_add(&T.answered, 1);
    }
    atomic_fetch_sub(&T.inflight, 1);
    errno = saved;
}

/* ---- /proc/self/task ---- */

/* Reads /proc/self/task/TID/<file> into buf (NUL-terminated); length or -1. */
static ssize_t read_task_file(pid_t tid, const char *file, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, file);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* Name and state from the task's stat line "tid (comm) S ...". */
static int read_stat(pid_t tid, char name[16], char *state)
{
    char line[512];
    if (read_task_file(tid, "stat", line, sizeof line) < 0)
        return -1;
    char *open = strchr(line, '('), *close = strrchr(line, ')');
    if (open == NULL || close == NULL || close < open || close[1] == '\0')
        return -1;
    snprintf(name, 16, "%.*s", (int)(close - open - 1), open + 1);
    *state = close[2] ? close[2] : '?';
    return 0;
}

static void read_comm(pid_t tid, char name[16])
{
    char buf[32];
    if (read_task_file(tid, "comm", buf, sizeof buf) <= 0)
        return;
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(name, 16, "%.15s", buf);
}

/* Whether our signal is blocked / pending in the thread. -1: gone. */
static int read_sig_bits(pid_t tid, bool *blocked, bool *pending)
{
    char buf[2048];
    if (read_task_file(tid, "status", buf, sizeof buf) < 0)
        return -1;
    unsigned long long bit = 1ULL << (T.sig - 1), blk = 0, pnd = 0;
    const char *b = strstr(buf, "\nSigBlk:"), *p = strstr(buf, "\nSigPnd:");
    if (b != NULL)
        blk = strtoull(b + 8, NULL, 16);
    if (p != NULL)
        pnd = strtoull(p + 8, NULL, 16);
    *blocked = (blk & bit) != 0;
    *pending = (pnd & bit) != 0;
    return 0;
}

/* ---- one capture (T.lock held) ---- */

static bool was_stuck(pid_t tid)
{
    for (size_t i = 0; i < T.nstuck; i++)
        if (T.stuck[i] == tid)
            return true;
    return false;
}

static void remember_stuck(pid_t tid)
{
    if (T.nstuck < MAX_STUCK)
        T.stuck[T.nstuck++] = tid;
}

/* Slots are replaced only between captures (nothing published, no
 * handler running), never moved under a handler. */
static int reserve_slots(size_t n)
{
    if (n <= T.slots_cap)
        return 0;
    slot *s = calloc(n, sizeof *s);
    if (s == NULL)
        return -1;
    free(T.cap.slots);
    T.cap.slots = s;
    T.slots_cap = n;
    return 0;
}

/* A thread where our signal from an earlier capture still waits gets no
 * second one: it would only queue up behind the first. */
/* own: one of the profiler's HTTP threads, not the caller: not signalled. */
static void prepare_slot(slot *s, pid_t tid, bool own)
{
    bool blocked, pending;
    s->tid = tid;
    s->why = PROF_THREAD_OK;
    s->gone = false;
    s->depth = 0;
    s->truncated = false;
    s->name[0] = '\0';
    if (own) {
        s->why = PROF_THREAD_OWN_HTTP;
        atomic_store(&s->state, SLOT_SKIPPED);
    } else if (was_stuck(tid) && read_sig_bits(tid, &blocked, &pending) == 0 && pending) {
        s->why = PROF_THREAD_PENDING;
        atomic_store(&s->state, SLOT_SKIPPED);
    } else {
        atomic_store(&s->state, SLOT_ASKED);
    }
}

static int send_signal(pid_t tid, uintptr_t token)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = T.sig;
    si.si_code = SI_QUEUE;
    si.si_pid = T.pid;
    si.si_uid = T.uid;
    si.si_value.sival_ptr = (void *)token;
    return syscall(SYS_rt_tgsigqueueinfo, T.pid, tid, T.sig, &si) == 0 ? 0 : errno;
}

/* Signals every asked slot's thread; returns how many signals went out. */
static size_t send_all(const capture *c)
{
    size_t sent = 0;
    for (size_t i = 0; i < c->n; i++) {
        slot *s = &c->slots[i];
        if (atomic_load(&s->state) != SLOT_ASKED)
            continue;
        int e = send_signal(s->tid, ((uintptr_t)c->gen << 32) | i);
        int asked = SLOT_ASKED;
        if (e == 0)
            sent++;
        else if (atomic_compare_exchange_strong(&s->state, &asked, SLOT_SKIPPED)) {
            s->why = PROF_THREAD_NOT_SENT;
            s->gone = e == ESRCH;
        }
    }
    return sent;
}

/* Polls the answer count (no futex in the handler, as Kudu does). */
static void wait_answers(size_t expected, int timeout_ms)
{
    double deadline = pf_mono_ms() + timeout_ms;
    for (unsigned spins = 0; atomic_load(&T.answered) < expected; spins++) {
        if (pf_mono_ms() >= deadline)
            return;
        if (spins < 100)
            sched_yield();
        else
            sleep_us(50);
    }
}

/* Withdraws the capture: unanswered slots are abandoned (a late handler
 * leaves them alone), then no handler may still hold `current`. Handlers
 * count themselves in before reading `current` and we clear it before
 * reading the count (both seq_cst): once the count is 0, none has it. */
static void retract(const capture *c)
{
    for (size_t i = 0; i < c->n; i++) {
        int asked = SLOT_ASKED;
        if (atomic_compare_exchange_strong(&c->slots[i].state, &asked, SLOT_ABANDONED))
            T.ever_unanswered = true;
    }
    atomic_store(&T.current, NULL);
    while (atomic_load(&T.inflight) > 0)
        sleep_us(20);
}

/* The result for slot s into t (name and state may be there already).
 * False when the thread no longer exists. */
static bool take_slot(const slot *s, prof_thread *t)
{
    t->tid = s->tid;
    t->depth = 0;
    t->truncated = false;
    t->ctx = prof_context_of_thread(s->tid); /* without an answer: as it is now */
    if (atomic_load(&s->state) == SLOT_DONE) {
        t->ctx = s->ctx;
        t->status = PROF_THREAD_OK;
        t->depth = s->depth;
        t->truncated = s->truncated;
        memcpy(t->pcs, s->pcs, s->depth * sizeof *s->pcs);
        if (s->name[0] != '\0')
            memcpy(t->name, s->name, sizeof t->name);
        return true;
    }
    bool blocked = false, pending = false;
    if (s->gone || read_sig_bits(s->tid, &blocked, &pending) != 0)
        return false;
    if (atomic_load(&s->state) == SLOT_SKIPPED)
        t->status = s->why;
    else
        t->status = blocked ? PROF_THREAD_BLOCKED : PROF_THREAD_NO_ANSWER;
    if (pending)
        remember_stuck(s->tid);
    if (t->name[0] == '\0')
        read_comm(s->tid, t->name);
    return true;
}

/* The readable mappings of the process, published in T.cap; those of the
 * last capture when `reuse` and it read them. -1 when out of memory. */
static int read_maps(bool reuse)
{
    if (reuse && T.cap.map == &T.map)
        return 0;
    T.cap.map = &T.map;
    return prof_stackmap_read(&T.map);
}

/* Captures the threads `tids` into out[] (prefilled with names and states
 * or zeroes), waiting up to timeout_ms for answers; *kept: how many are
 * still alive, packed at the front. */
static int capture_tids(const pid_t *tids, size_t n, prof_thread *out, size_t *kept,
                        double *ms, int timeout_ms, bool reuse_maps)
{
    if (n > 0xffffffffu || reserve_slots(n) != 0 || read_maps(reuse_maps) != 0)
        return -1;
    capture *c = &T.cap;
    c->n = n;
    c->gen++;
    pid_t self = (pid_t)syscall(SYS_gettid);
    for (size_t i = 0; i < n; i++)
        prepare_slot(&c->slots[i], tids[i], tids[i] != self && prof_own_thread_is(tids[i]));
    atomic_store(&T.answered, 0);
    double t0 = pf_mono_ms();
    atomic_store(&T.current, c);
    wait_answers(send_all(c), timeout_ms);
    retract(c);
    *ms = pf_mono_ms() - t0;
    T.nstuck = 0;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (!take_slot(&c->slots[i], &out[i]))
            continue;
        if (j != i)
            out[j] = out[i];
        j++;
    }
    *kept = j;
    return 0;
}

/* ---- captures ---- */

static void prefill(const pid_t *tids, size_t n, prof_thread *out, bool with_state)
{
    for (size_t i = 0; i < n; i++) {
        out[i].tid = tids[i];
        out[i].state = '?';
        if (with_state && read_stat(tids[i], out[i].name, &out[i].state) != 0)
            out[i].state = '?';
    }
}

int prof_threads_capture(prof_threads_dump *out, bool with_state, char *err, size_t errlen)
{
    *out = (prof_threads_dump){0};
    pid_t *tids = NULL;
    size_t n = 0;
    int rc = 0;
    pthread_mutex_lock(&T.lock);
    if (T.sig == 0) {
        snprintf(err, errlen, "thread stacks are unavailable: %s", T.error);
        rc = 501;
    } else if (prof_tasks_list(&tids, &n) != 0) {
        snprintf(err, errlen, "cannot list /proc/self/task: %s", strerror(errno));
        rc = 503;
    } else if ((out->thread = calloc(n ? n : 1, sizeof *out->thread)) == NULL) {
        snprintf(err, errlen, "out of memory for %zu threads", n);
        rc = 503;
    } else {
        prefill(tids, n, out->thread, with_state);
        if (capture_tids(tids, n, out->thread, &out->len, &out->capture_ms,
                         PROF_THREADS_TIMEOUT_MS, false) != 0) {
            snprintf(err, errlen, "out of memory for %zu threads", n);
            rc = 503;
        }
    }
    pthread_mutex_unlock(&T.lock);
    free(tids);
    if (rc != 0)
        prof_threads_dump_free(out);
    return rc;
}

int prof_threads_capture_list(const pid_t *tids, size_t n, prof_thread *out, size_t *kept,
                              int timeout_ms, bool reuse_maps)
{
    double ms;
    pthread_mutex_lock(&T.lock);
    int rc = T.sig == 0 ? -1 : 0;
    if (rc == 0) {
        memset(out, 0, n * sizeof *out);
        prefill(tids, n, out, false);
        rc = capture_tids(tids, n, out, kept, &ms, timeout_ms, reuse_maps);
    }
    pthread_mutex_unlock(&T.lock);
    return rc;
}

bool prof_threads_blocks_signal(pid_t tid)
{
    bool blocked = false, pending = false;
    return T.sig != 0 && read_sig_bits(tid, &blocked, &pending) == 0 && blocked;
}

void prof_threads_dump_free(prof_threads_dump *d)
{
    free(d->thread);
    *d = (prof_threads_dump){0};
}

/* ---- lifecycle ---- */

static int install_handler(char *err, size_t errlen)
{
    T.sig = prof_rtsig_claim(PREFERRED_OFFSET, on_signal, &T.old, err, errlen);
    return T.sig ? 0 : -1;
}

/* Puts the signal back as it was, with no signal of ours left anywhere. */
static void uninstall(void)
{
    /* A delivery already under way runs during the grace. */
    prof_rtsig_release(T.sig, &T.old, &T.inflight, T.ever_unanswered ? 20000 : 0);
    T.sig = 0;
}

/* Captures the calling thread once: the signal arrives, the walk works,
 * and _dl_find_object's first call is not made inside a handler. */
static int warm_up(char *err, size_t errlen)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    prof_thread t = {0};
    size_t kept = 0;
    double ms;
    if (capture_tids(&self, 1, &t, &kept, &ms, PROF_THREADS_TIMEOUT_MS, false) == 0 &&
        kept == 1 &&
        t.status == PROF_THREAD_OK && t.depth > 0)
        return 0;
    snprintf(err, errlen, "the warm-up capture of the initializing thread failed "
             "(does it block signal %d?)", T.sig);
    return -1;
}

int prof_threads_init(char *err, size_t errlen)
{
    pthread_mutex_lock(&T.lock);
    int rc = 0;
    if (T.sig == 0) {
        T.pid = getpid();
        T.uid = getuid();
        rc = install_handler(err, errlen);
        if (rc == 0 && (rc = warm_up(err, errlen)) != 0)
            uninstall();
        snprintf(T.error, sizeof T.error, "%s", rc == 0 ? "" : err);
    }
    pthread_mutex_unlock(&T.lock);
    return rc;
}

void prof_threads_fini(void)
{
    pthread_mutex_lock(&T.lock);
    if (T.sig != 0)
        uninstall();
    free(T.cap.slots);
    T.cap.slots = NULL;
    T.slots_cap = 0;
    prof_stackmap_free(&T.map);
    T.cap.map = NULL;
    T.nstuck = 0;
    snprintf(T.error, sizeof T.error, "the thread profile was shut down");
    pthread_mutex_unlock(&T.lock);
}

int prof_threads_signal(void)
{
    return T.sig;
}
