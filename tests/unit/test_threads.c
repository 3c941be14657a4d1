/*
 * The thread stacks profile (goroutine, alias threads) without a server:
 * real threads waiting in nanosleep, pthread_cond_wait and read, spinning,
 * blocking the signal, or running code whose frame pointer is garbage and
 * which has no unwind info, or lying unwind info; what a capture does to
 * them; the records, the debug=1 and debug=2 texts; and unloading with a
 * signal still pending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pf_symbolize.h"
#include "capture/threads.h"
#include "pf_util.h"
#include "profiles/goroutine.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%.3000s\"", part, text);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* ---- the workers ---- */

static _Atomic bool stop;
static _Atomic int sleeps_cut; /* nanosleep calls that returned EINTR */
static _Atomic int reads_done; /* read calls that returned at all */
static int pipe_fd[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

NOINLINE void sleeper_loop(void);
NOINLINE void sleeper_loop(void)
{
    while (!atomic_load(&stop)) {
        struct timespec ts = {10, 0};
        if (nanosleep(&ts, NULL) != 0 && errno == EINTR)
            atomic_fetch_add(&sleeps_cut, 1);
    }
}

NOINLINE void waiter_loop(void);
NOINLINE void waiter_loop(void)
{
    pthread_mutex_lock(&lock);
    while (!atomic_load(&stop))
        pthread_cond_wait(&never, &lock);
    pthread_mutex_unlock(&lock);
}

NOINLINE void reader_loop(void);
NOINLINE void reader_loop(void)
{
    char c;
    while (read(pipe_fd[0], &c, 1) != 0)
        atomic_fetch_add(&reads_done, 1);
}

NOINLINE void spinner_loop(void);
NOINLINE void spinner_loop(void)
{
    volatile uint64_t x = 1;
    while (!atomic_load(&stop))
        x = x * 3 + 1;
}

/* Code with no unwind info that holds garbage in RBP: the unwinder must
 * stop, not fault. */
volatile int bad_stop;
void bad_frame_spin(void);
__asm__(".text\n"
        ".globl bad_frame_spin\n"
        ".type bad_frame_spin, @function\n"
        "bad_frame_spin:\n"
        "  push %rbp\n"
        "  mov $0x10, %rbp\n"
        "1: pause\n"
        "  cmpl $0, bad_stop(%rip)\n"
        "  je 1b\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size bad_frame_spin, .-bad_frame_spin\n");

/* Unwind info that lies: the caller's frame 112 MiB above the stack
 * pointer. libunwind validates each read and stops instead of faulting. */
void bad_cfi_spin(void);
__asm__(".text\n"
        ".globl bad_cfi_spin\n"
        ".type bad_cfi_spin, @function\n"
        "bad_cfi_spin:\n"
        "  .cfi_startproc\n"
        "  .cfi_def_cfa_offset 0x7000000\n"
        "1: pause\n"
        "  cmpl $0, bad_stop(%rip)\n"
        "  je 1b\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size bad_cfi_spin, .-bad_cfi_spin\n");

/* Unwind info that lies within a frame's plausible size: the caller's
 * frame 2 MiB up, past the end of this thread's 64 KiB stack, where
 * readable memory full of a plausible return address lies (start_worker).
 * The walk may read only up to the end of the stack, so it stops at once. */
void bad_cfi_near_spin(void);
__asm__(".text\n"
        ".globl bad_cfi_near_spin\n"
        ".type bad_cfi_near_spin, @function\n"
        "bad_cfi_near_spin:\n"
        "  .cfi_startproc\n"
        "  .cfi_def_cfa_offset 0x200000\n"
        "1: pause\n"
        "  cmpl $0, bad_stop(%rip)\n"
        "  je 1b\n"
        "  ret\n"
        "  .cfi_endproc\n"
        ".size bad_cfi_near_spin, .-bad_cfi_near_spin\n");

typedef struct worker {
    const char *name;
    void (*loop)(void);
    size_t stack; /* 0: the default; else its size, and memory above it (start_worker) */
    pthread_t thread;
    _Atomic pid_t tid;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_setname_np(pthread_self(), w->name);
    atomic_store(&w->tid, my_tid());
    w->loop();
    return NULL;
}

static worker workers[] = {
    {"sleeper", sleeper_loop, 0, 0, 0},     {"waiter", waiter_loop, 0, 0, 0},
    {"reader", reader_loop, 0, 0, 0},       {"spinner", spinner_loop, 0, 0, 0},
    {"badframe", bad_frame_spin, 0, 0, 0},  {"badcfi", bad_cfi_spin, 0, 0, 0},
    {"badcfinear", bad_cfi_near_spin, 65536, 0, 0},
};
#define NWORKERS (sizeof workers / sizeof *workers)

static void start_worker(worker *w)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (w->stack != 0) { /* the stack, then 4 MiB read-only of a fake return address */
        size_t above = 4u << 20;
        uint8_t *m = mmap(NULL, w->stack + above, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(m != MAP_FAILED);
        for (uintptr_t *p = (uintptr_t *)(m + w->stack); p < (uintptr_t *)(m + w->stack + above); p++)
            *p = (uintptr_t)spinner_loop + 1;
        assert_int_equal(mprotect(m + w->stack, above, PROT_READ), 0);
        assert_int_equal(pthread_attr_setstack(&attr, m, w->stack), 0);
    }
    assert_int_equal(pthread_create(&w->thread, &attr, worker_main, w), 0);
    pthread_attr_destroy(&attr);
    while (atomic_load(&w->tid) == 0)
        usleep(1000);
}

/* A thread that blocks the capture signal until told otherwise. */
static struct {
    pthread_t thread;
    _Atomic pid_t tid;
    _Atomic bool unblock, unblocked;
} blocker;

static void *blocker_main(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, prof_threads_signal());
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_setname_np(pthread_self(), "blocker");
    atomic_store(&blocker.tid, my_tid());
    while (!atomic_load(&blocker.unblock))
        usleep(1000);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL); /* a pending signal acts here */
    atomic_store(&blocker.unblocked, true);
    return NULL;
}

/* ---- fixture ---- */

static struct {
    pf_symbolizer *sym;
} prof; /* what the tests share */

static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    if (prof_threads_init(err, sizeof err) != 0) {
        fprintf(stderr, "prof_threads_init: %s\n", err);
        return -1;
    }
    pf_err perr = {0};
    prof.sym = pf_symbolizer_new(&perr);
    if (prof.sym == NULL || pipe(pipe_fd) != 0)
        return -1;
    for (size_t i = 0; i < NWORKERS; i++)
        start_worker(&workers[i]);
    usleep(50000); /* let them reach their waits */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&stop, true);
    bad_stop = 1;
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&never);
    pthread_mutex_unlock(&lock);
    close(pipe_fd[1]);
    prof_threads_dump d; /* a capture cuts the sleeper's nanosleep short */
    char err[256];
    if (prof_threads_capture(&d, false, err, sizeof err) == 0)
        prof_threads_dump_free(&d);
    for (size_t i = 0; i < NWORKERS; i++)
        pthread_join(workers[i].thread, NULL);
    pf_symbolizer_free(prof.sym);
    prof_threads_fini();
    return 0;
}

static const prof_thread *find(const prof_threads_dump *d, pid_t tid)
{
    for (size_t i = 0; i < d->len; i++)
        if (d->thread[i].tid == tid)
            return &d->thread[i];
    return NULL;
}

/* True when a function of the stack has `fn` in its name. */
static bool has_frame(const prof_thread *t, const char *fn)
{
    for (size_t i = 0; i < t->depth; i++) {
        char name[256];
        uint64_t addr = i == 0 ? t->pcs[0] : t->pcs[i] - 1;
        if (pf_symbolize_name(prof.sym, addr, name, sizeof name) && strstr(name, fn) != NULL)
            return true;
    }
    return false;
}

static void print_stack(const prof_thread *t)
{
    fprintf(stderr, "# %s (%d):", t->name, (int)t->tid);
    for (size_t i = 0; i < t->depth; i++) {
        char name[256] = "?";
        pf_symbolize_name(prof.sym, i == 0 ? t->pcs[0] : t->pcs[i] - 1, name, sizeof name);
        fprintf(stderr, " %s", name);
    }
    fprintf(stderr, "\n");
}

/* ---- tests ---- */

static void test_signal_installed(void **state)
{
    (void)state;
    int sig = prof_threads_signal();
    assert_true(sig >= SIGRTMIN + 11 && sig < SIGRTMAX);
    struct sigaction sa;
    assert_int_equal(sigaction(sig, NULL, &sa), 0);
    assert_true(sa.sa_flags & SA_SIGINFO);
    assert_true(sa.sa_flags & SA_RESTART);
}

static void test_every_thread_with_its_stack(void **state)
{
    (void)state;
    prof_threads_dump d;
    char err[256] = "";
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
    assert_true(d.capture_ms < 500);
    static const char *const fn[] = {"sleeper_loop", "waiter_loop", "reader_loop",
                                     "spinner_loop", "bad_frame_spin", "bad_cfi_spin",
                                     "bad_cfi_near_spin"};
    for (size_t i = 0; i < NWORKERS; i++) {
        const prof_thread *t = find(&d, workers[i].tid);
        assert_non_null(t);
        print_stack(t);
        assert_int_equal(t->status, PROF_THREAD_OK);
        assert_string_equal(t->name, workers[i].name);
        if (!has_frame(t, fn[i]))
            fail_msg("%s: no %s in its stack", workers[i].name, fn[i]);
    }
    /* Through libc: the caller of the blocking call and the thread's start. */
    assert_true(has_frame(find(&d, workers[0].tid), "worker_main"));
    assert_true(has_frame(find(&d, workers[1].tid), "pthread_cond_wait"));
    assert_true(has_frame(find(&d, workers[2].tid), "read"));
    /* The requesting thread is in the dump too, with its own stack. */
    const prof_thread *self = find(&d, my_tid());
    assert_non_null(self);
    assert_int_equal(self->status, PROF_THREAD_OK);
    assert_true(has_frame(self, "test_every_thread_with_its_stack"));
    assert_true(d.len >= NWORKERS + 1);
    prof_threads_dump_free(&d);
}

static void test_garbage_frame_pointer_is_safe(void **state)
{
    (void)state;
    prof_threads_dump d;
    char err[256] = "";
    for (int round = 0; round < 20; round++) {
        assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
        for (size_t w = 4; w < NWORKERS; w++) {
            const prof_thread *t = find(&d, workers[w].tid);
            uintptr_t fn = (uintptr_t)workers[w].loop;
            assert_non_null(t);
            assert_int_equal(t->status, PROF_THREAD_OK);
            assert_true(t->depth >= 1);
            assert_true(t->pcs[0] >= fn && t->pcs[0] < fn + 32);
        }
        /* The lie within reach: no load past the end of the stack. */
        assert_int_equal(find(&d, workers[6].tid)->depth, 1);
        prof_threads_dump_free(&d);
    }
}

/* nanosleep returns early with EINTR; read is restarted (SA_RESTART). */
static void test_side_effects(void **state)
{
    (void)state;
    int cut = atomic_load(&sleeps_cut), reads = atomic_load(&reads_done);
    prof_threads_dump d;
    char err[256] = "";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
        prof_threads_dump_free(&d);
        usleep(20000);
    }
    assert_int_equal(atomic_load(&sleeps_cut), cut + 3);
    assert_int_equal(atomic_load(&reads_done), reads);
}

static void test_state_on_request(void **state)
{
    (void)state;
    prof_threads_dump d;
    char err[256] = "";
    assert_int_equal(prof_threads_capture(&d, true, err, sizeof err), 0);
    assert_int_equal(find(&d, workers[0].tid)->state, 'S');
    assert_int_equal(find(&d, workers[3].tid)->state == 'R' ||
                     find(&d, workers[3].tid)->state == 'S', 1);
    assert_int_equal(find(&d, my_tid())->state, 'R');
    prof_threads_dump_free(&d);
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
    assert_int_equal(find(&d, workers[0].tid)->state, '?');
    prof_threads_dump_free(&d);
}

static void test_blocked_thread_is_listed(void **state)
{
    (void)state;
    assert_int_equal(pthread_create(&blocker.thread, NULL, blocker_main, NULL), 0);
    while (atomic_load(&blocker.tid) == 0)
        usleep(1000);
    prof_threads_dump d;
    char err[256] = "";
    double t0 = now_ms();
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
    double took = now_ms() - t0;
    const prof_thread *t = find(&d, blocker.tid);
    assert_non_null(t);
    assert_int_equal(t->status, PROF_THREAD_BLOCKED);
    assert_int_equal(t->depth, 0);
    assert_string_equal(t->name, "blocker");
    /* It waited for the blocked thread, and no longer than a generous bound. */
    assert_true(took >= PROF_THREADS_TIMEOUT_MS * 0.9 && took < PROF_THREADS_TIMEOUT_MS * 10);
    assert_int_equal(find(&d, workers[0].tid)->status, PROF_THREAD_OK);
    prof_threads_dump_free(&d);
    /* Next time the signal is still pending there: no second one, no wait
     * (the status says so; how long a capture takes is a benchmark's). */
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
    assert_int_equal(find(&d, blocker.tid)->status, PROF_THREAD_PENDING);
    prof_threads_dump_free(&d);
}

static const prof_record *record_of(const prof_records *r, const char *thread)
{
    for (size_t i = 0; i < r->len; i++)
        if (r->rec[i].thread && strncmp(r->rec[i].thread, thread, strlen(thread)) == 0)
            return &r->rec[i];
    return NULL;
}

static void test_records_and_texts(void **state)
{
    (void)state;
    const prof_kind *k = &prof_threads_goroutine_kind;
    assert_string_equal(k->name, "goroutine");
    assert_string_equal(k->types[0].type, "goroutine");
    assert_true(k->delta && k->pc_mode == PF_PCS_LEAF_EXACT);
    prof_records recs;
    prof_records_init(&recs, 1);
    char err[256] = "";
    assert_int_equal(k->collect(NULL, &recs, err, sizeof err), 0);
    const prof_record *r = record_of(&recs, "sleeper");
    assert_non_null(r);
    assert_true(r->depth > 2 && r->values[0] == 1);
    r = record_of(&recs, "blocker (tid ");
    assert_non_null(r);
    assert_int_equal(r->depth, 0);
    assert_contains(r->thread, "no stack, ");

    pf_strbuf text = {0};
    assert_int_equal(k->text(NULL, prof.sym, &recs, 1, &text, err, sizeof err), 0);
    pf_strbuf_put(&text, "", 1);
    char head[64];
    snprintf(head, sizeof head, "goroutine profile: total %zu\n", recs.len);
    assert_true(strncmp(text.s, head, strlen(head)) == 0);
    assert_contains(text.s, "# thread blocker (tid ");
    assert_contains(text.s, "\tsleeper_loop+0x");
    assert_contains(text.s, "1 @ 0x");
    free(text.s);

    text = (pf_strbuf){0};
    assert_int_equal(k->text(NULL, prof.sym, &recs, 2, &text, err, sizeof err), 0);
    pf_strbuf_put(&text, "", 1);
    char line[96];
    snprintf(line, sizeof line, "thread %d [sleeping, name=sleeper]:\n", (int)workers[0].tid);
    assert_contains(text.s, line);
    assert_contains(text.s, "\nsleeper_loop\n\t");
    assert_contains(text.s, "test_threads.c:");
    snprintf(line, sizeof line, "thread %d [", (int)blocker.tid);
    assert_contains(text.s, line);
    assert_contains(text.s, ", name=blocker]:\n[no stack: signal ");
    assert_contains(text.s, line);
    free(text.s);
    prof_records_free(&recs);
}

static _Atomic int idle_started;

static pthread_cond_t idle_end = PTHREAD_COND_INITIALIZER;

static void *idle_main(void *arg)
{
    _Atomic bool *done = arg;
    pthread_mutex_lock(&lock);
    atomic_fetch_add(&idle_started, 1);
    while (!atomic_load(done))
        pthread_cond_wait(&idle_end, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    enum { N = 300 };
    pthread_t th[N];
    _Atomic bool done = false;
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, idle_main, &done), 0);
    while (atomic_load(&idle_started) < N)
        usleep(1000);
    prof_threads_dump d;
    char err[256] = "";
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 0);
    fprintf(stderr, "# %zu threads in %.2f ms\n", d.len, d.capture_ms);
    assert_true(d.len >= N);
    size_t ok = 0;
    for (size_t i = 0; i < d.len; i++)
        ok += d.thread[i].status == PROF_THREAD_OK && has_frame(&d.thread[i], "idle_main");
    assert_int_equal(ok, N);
    prof_threads_dump_free(&d);
    pthread_mutex_lock(&lock);
    atomic_store(&done, true);
    pthread_cond_broadcast(&idle_end);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
}

/* Unloading with our signal pending in the blocker: fini drops it, so the
 * blocker survives unblocking it (the default action would kill). */
static void test_fini_drops_pending_signal(void **state)
{
    (void)state;
    int sig = prof_threads_signal();
    prof_threads_fini();
    assert_int_equal(prof_threads_signal(), 0);
    struct sigaction sa;
    assert_int_equal(sigaction(sig, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO));
    atomic_store(&blocker.unblock, true);
    pthread_join(blocker.thread, NULL);
    assert_true(atomic_load(&blocker.unblocked));
    prof_threads_dump d;
    char err[256] = "";
    assert_int_equal(prof_threads_capture(&d, false, err, sizeof err), 501);
    assert_contains(err, "shut down");
    assert_int_equal(prof_threads_init(err, sizeof err), 0); /* again, as after a reload */
    assert_int_equal(prof_threads_signal(), sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_installed),
        cmocka_unit_test(test_every_thread_with_its_stack),
        cmocka_unit_test(test_garbage_frame_pointer_is_safe),
        cmocka_unit_test(test_side_effects),
        cmocka_unit_test(test_state_on_request),
        cmocka_unit_test(test_blocked_thread_is_listed),
        cmocka_unit_test(test_records_and_texts),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_fini_drops_pending_signal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
