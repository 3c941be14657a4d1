/*
 * The wall sampler's pieces that need no running host: the state names of
 * system calls, and a session on this test process (a thread parked in
 * epoll_wait is signalled once, then counted without a signal; a thread looping on
 * nanosleep sees no EINTR once seen; a stray signal after it is ignored).
 */
#include "capture/threads.h"
#include "capture/wall.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static void test_state_names(void **state)
{
    (void)state;
    char buf[24];
    prof_wall_state_name(SYS_futex, buf, sizeof buf);
    assert_string_equal(buf, "futex");
    prof_wall_state_name(SYS_epoll_wait, buf, sizeof buf);
    assert_string_equal(buf, "epoll_wait");
    prof_wall_state_name(SYS_nanosleep, buf, sizeof buf);
    assert_string_equal(buf, "nanosleep");
    prof_wall_state_name(SYS_read, buf, sizeof buf);
    assert_string_equal(buf, "read");
    prof_wall_state_name(-1, buf, sizeof buf);
    assert_string_equal(buf, "blocked");
    prof_wall_state_name(100000, buf, sizeof buf);
    assert_string_equal(buf, "syscall_100000");
}

static _Atomic bool stop;
static _Atomic int eintr;

static void *sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        struct timespec ts = {0, 300000000}, left;
        if (nanosleep(&ts, &left) != 0 && errno == EINTR)
            atomic_fetch_add(&eintr, 1);
    }
    return NULL;
}

static void *parked(void *arg)
{
    int ep = *(int *)arg;
    struct epoll_event ev;
    while (!atomic_load(&stop))
        epoll_wait(ep, &ev, 1, 200); /* wakes: back at the same call site */
    return NULL;
}

/* A window of `ms` at 100 Hz; its counts in *c. */
static void window(prof_wall *w, int ms, prof_wall_counts *c)
{
    prof_wall_reader *r = NULL;
    char err[256];
    assert_int_equal(prof_wall_claim(w, 1, 100, 1, true, &r, err, sizeof err), 0);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    prof_wall_result res;
    assert_int_equal(prof_wall_release(w, r, true, &res), 0);
    assert_non_null(res.profile);
    *c = res.counts;
    pf_profile_free(res.profile);
}

static void test_idle_threads_not_signalled(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(prof_threads_init(err, sizeof err), 0);
    prof_wall *w = prof_wall_new();
    assert_non_null(w);
    int ep = epoll_create1(0);
    pthread_t t[9];
    assert_int_equal(pthread_create(&t[0], NULL, sleeper, NULL), 0);
    for (int i = 1; i < 9; i++)
        assert_int_equal(pthread_create(&t[i], NULL, parked, &ep), 0);
    prof_wall_counts first, second;
    window(w, 400, &first); /* every thread is seen (and signalled) once */
    int e0 = atomic_load(&eintr);
    window(w, 1000, &second);
    assert_true(second.ticks >= 10);
    /* 8 parked threads and the sleeper: no signal once seen; the test's
     * own thread sleeps in nanosleep too */
    assert_true(second.signals <= 2);
    assert_true(second.idle + second.same_site >= 9 * (second.ticks - 1));
    assert_int_equal(atomic_load(&eintr), e0);
    assert_int_equal(prof_wall_readers(w), 0);
    /* a stray signal of ours now: ignored */
    union sigval v = {.sival_ptr = (void *)(uintptr_t)1};
    assert_int_equal(sigqueue(getpid(), prof_threads_signal(), v), 0);
    atomic_store(&stop, true);
    for (int i = 0; i < 9; i++)
        pthread_join(t[i], NULL);
    close(ep);
    prof_wall_free(w);
    prof_threads_fini();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_idle_threads_not_signalled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
