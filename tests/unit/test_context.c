/*
 * The host's request context store (host-api/lib/context.c): set, read,
 * restore and clear; interning (the caller's buffers may go); the bounds
 * (pairs dropped, strings cut on a UTF-8 boundary, both flagged); another
 * thread's context by TID; the context read from a signal handler that
 * interrupts a thread changing it; the CPU hook; the overflow context.
 * And the plugin's side (plugin/core/context.c): labels of a context, the
 * fold of label sets past max_series into other=true, /metrics' lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "takhin/host/context.h"
#include "core/context.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *value_of(const tk_context *c, const char *k)
{
    for (uint32_t i = 0; c != NULL && i < c->npairs; i++)
        if (strcmp(c->pairs[i].key, k) == 0)
            return c->pairs[i].value;
    return NULL;
}

static void test_set_read_clear(void **state)
{
    (void)state;
    assert_null(tkh_context_current());
    tk_context_pair a[] = {{"kafka_api", "Produce"}, {"topic", "orders"}};
    const tk_context *prev = tkh_context_set(a, 2);
    assert_null(prev);
    const tk_context *c = tkh_context_current();
    assert_non_null(c);
    assert_int_equal(c->npairs, 2);
    assert_int_equal(c->flags, 0);
    assert_string_equal(value_of(c, "topic"), "orders");
    tk_context_pair b[] = {{"topic", "audit"}};
    const tk_context *outer = tkh_context_set(b, 1);
    assert_ptr_equal(outer, c);
    assert_string_equal(value_of(tkh_context_current(), "topic"), "audit");
    tkh_context_restore(outer);
    assert_ptr_equal(tkh_context_current(), c);
    tkh_context_clear();
    assert_null(tkh_context_current());
}

static void test_interned_copy(void **state)
{
    (void)state;
    char *k = strdup("client_id"), *v = strdup("producer-7");
    tk_context_pair p[] = {{k, v}};
    const tk_context *c = tkh_context_intern(p, 1);
    memset(v, 'x', strlen(v));
    free(k);
    free(v);
    assert_string_equal(value_of(c, "client_id"), "producer-7");
    tk_context_pair again[] = {{"client_id", "producer-7"}};
    assert_ptr_equal(tkh_context_intern(again, 1), c);
    tk_context_pair other[] = {{"client_id", "producer-8"}};
    const tk_context *d = tkh_context_intern(other, 1);
    assert_ptr_not_equal(d, c);
    assert_true(d->id != c->id);
    assert_null(tkh_context_intern(other, 0));
}

static void test_bounds(void **state)
{
    (void)state;
    tk_context_pair many[12];
    char keys[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[i] = (tk_context_pair){keys[i], "v"};
    }
    const tk_context *c = tkh_context_intern(many, 12);
    assert_int_equal(c->npairs, TK_CONTEXT_MAX_PAIRS);
    assert_true(c->flags & TK_CONTEXT_TRUNCATED);
    assert_string_equal(c->pairs[7].key, "k7");

    char longv[200];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    tk_context_pair l[] = {{"topic", longv}};
    c = tkh_context_intern(l, 1);
    assert_int_equal(strlen(c->pairs[0].value), TK_CONTEXT_MAX_BYTES - 1);
    assert_true(c->flags & TK_CONTEXT_TRUNCATED);

    /* "é" (2 bytes) across the cut: cut before it, never inside */
    char utf[80];
    memset(utf, 'b', 62);
    memcpy(utf + 62, "\xc3\xa9" "cc", 5);
    tk_context_pair u[] = {{"topic", utf}};
    c = tkh_context_intern(u, 1);
    assert_int_equal(strlen(c->pairs[0].value), 62);

    tk_context_pair nul[] = {{NULL, NULL}};
    c = tkh_context_intern(nul, 1);
    assert_string_equal(c->pairs[0].key, "");
}

/* Pairs are told apart by every string and where each ends. */
static void test_distinct(void **state)
{
    (void)state;
    tk_context_pair ab_c[] = {{"ab", "c"}}, a_bc[] = {{"a", "bc"}};
    tk_context_pair two[] = {{"a", ""}, {"", ""}}, one[] = {{"a", ""}};
    assert_ptr_not_equal(tkh_context_intern(ab_c, 1), tkh_context_intern(a_bc, 1));
    assert_ptr_not_equal(tkh_context_intern(two, 2), tkh_context_intern(one, 1));
    assert_int_equal(tkh_context_intern(two, 2)->npairs, 2);

    /* 63 bytes as given, and 63 bytes cut from 70: two contexts */
    char exact[64], longer[71];
    memset(exact, 'x', 63), exact[63] = '\0';
    memset(longer, 'x', 70), longer[70] = '\0';
    tk_context_pair e[] = {{"topic", exact}}, l[] = {{"topic", longer}};
    const tk_context *ce = tkh_context_intern(e, 1), *cl = tkh_context_intern(l, 1);
    assert_ptr_not_equal(ce, cl);
    assert_int_equal(ce->flags, 0);
    assert_true(cl->flags & TK_CONTEXT_TRUNCATED);
    assert_ptr_equal(tkh_context_intern(l, 1), cl);

    /* ids that differ in their last bytes only, each found again */
    const tk_context *seen[300];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            char v[32];
            snprintf(v, sizeof v, "kload-producer-%d", i);
            tk_context_pair p[] = {{"kafka_api", "Produce"}, {"topic", "orders"},
                                   {"client_id", v}};
            const tk_context *c = tkh_context_intern(p, 3);
            if (round == 0) {
                assert_string_equal(c->pairs[2].value, v);
                for (int j = 0; j < i; j++)
                    assert_ptr_not_equal(seen[j], c);
                seen[i] = c;
            } else {
                assert_ptr_equal(seen[i], c);
            }
        }
}

/* ---- another thread ---- */

static _Atomic int other_tid;
static _Atomic int other_phase;

static void *other_main(void *arg)
{
    (void)arg;
    tk_context_pair p[] = {{"topic", "audit"}};
    tkh_context_set(p, 1);
    atomic_store(&other_tid, (int)syscall(SYS_gettid));
    atomic_store(&other_phase, 1);
    while (atomic_load(&other_phase) != 2)
        usleep(1000);
    return NULL;
}

static void test_of_thread(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_main, NULL), 0);
    while (atomic_load(&other_phase) != 1)
        usleep(1000);
    const tk_context *c = tkh_context_of_thread(atomic_load(&other_tid));
    assert_non_null(c);
    assert_string_equal(value_of(c, "topic"), "audit");
    atomic_store(&other_phase, 2);
    pthread_join(t, NULL);
    /* an exited thread's slot is released with its context */
    assert_null(tkh_context_of_thread(atomic_load(&other_tid)));
}

/* ---- from a signal handler ---- */

static const tk_context *ctx_a, *ctx_b;
static _Atomic long seen_a, seen_b, seen_none, seen_bad;

static void on_signal(int sig)
{
    (void)sig;
    const tk_context *c = tkh_context_current();
    if (c == NULL)
        atomic_fetch_add(&seen_none, 1);
    else if (c == ctx_a && strcmp(c->pairs[0].value, "orders") == 0)
        atomic_fetch_add(&seen_a, 1);
    else if (c == ctx_b && strcmp(c->pairs[0].value, "audit") == 0)
        atomic_fetch_add(&seen_b, 1);
    else
        atomic_fetch_add(&seen_bad, 1);
}

static void test_signal_handler(void **state)
{
    (void)state;
    tk_context_pair a[] = {{"topic", "orders"}}, b[] = {{"topic", "audit"}};
    ctx_a = tkh_context_intern(a, 1);
    ctx_b = tkh_context_intern(b, 1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGPROF, &sa, NULL), 0);
    /* A CPU timer on this thread interrupts it anywhere in the loop, set
     * and clear included. */
    timer_t timer;
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGPROF};
    ev._sigev_un._tid = (int)syscall(SYS_gettid);
    assert_int_equal(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &timer), 0);
    struct itimerspec its = {{0, 100000}, {0, 100000}};
    assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
    for (long i = 0; atomic_load(&seen_a) + atomic_load(&seen_b) < 200 && i < 200000000; i++) {
        tkh_context_set(i % 2 ? a : b, 1);
        tkh_context_clear();
        tkh_context_enter(i % 2 ? ctx_b : ctx_a);
    }
    timer_delete(timer);
    tkh_context_clear();
    signal(SIGPROF, SIG_DFL);
    assert_int_equal(atomic_load(&seen_bad), 0);
    assert_true(atomic_load(&seen_a) > 0);
    assert_true(atomic_load(&seen_b) > 0);
}

/* ---- the CPU hook ---- */

static const tk_context *hook_last;
static int64_t hook_cpu;
static int hook_calls;

static void hook(void *ctx, const tk_context *outgoing, int64_t cpu_ns)
{
    (void)ctx;
    hook_calls++;
    if (outgoing != NULL) {
        hook_last = outgoing;
        hook_cpu += cpu_ns;
    }
}

static void burn_ms(int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    volatile uint64_t x = 1;
    do {
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ULL + 1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ms * 1000000L);
}

static void test_cpu_hook(void **state)
{
    (void)state;
    tk_context_pair a[] = {{"topic", "orders"}};
    assert_int_equal(tkh_set_context_hook(hook, NULL), 0);
    const tk_context *c = tkh_context_intern(a, 1);
    tkh_context_enter(c); /* the first change after install counts nothing */
    assert_int_equal(hook_cpu, 0);
    burn_ms(20);
    tkh_context_clear();
    assert_ptr_equal(hook_last, c);
    assert_true(hook_cpu >= 15 * 1000000L); /* the thread's own clock: exact */
    assert_int_equal(tkh_set_context_hook(NULL, NULL), 0);
    int calls = hook_calls;
    tkh_context_enter(c);
    tkh_context_clear();
    assert_int_equal(hook_calls, calls);
}

/* ---- the plugin's side ---- */

static void test_plugin_labels_and_fold(void **state)
{
    (void)state;
    tk_context_pair p[] = {{"kafka_api", "Produce"}, {"topic", "orders"}};
    const tk_context *c = tkh_context_intern(p, 2);
    pf_label l[4];
    assert_int_equal(prof_context_labels(c, l, 4), 2);
    assert_string_equal(l[1].key, "topic");
    assert_string_equal(l[1].str, "orders");
    assert_int_equal(prof_context_labels(c, l, 1), 1); /* bounded by the room */
    assert_int_equal(prof_context_labels(NULL, l, 4), 0);

    prof_context_configure(2, false); /* no host API here: max_series only */
    prof_context_fold f;
    prof_context_fold_start(&f);
    const tk_context *kept[3];
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof v, "c%d", i);
        tk_context_pair q[] = {{"client_id", v}};
        kept[i] = prof_context_fold_one(&f, tkh_context_intern(q, 1));
    }
    assert_string_equal(kept[0]->pairs[0].value, "c0");
    assert_string_equal(kept[1]->pairs[0].value, "c1");
    assert_string_equal(kept[2]->pairs[0].key, "other"); /* the third set is folded */
    assert_ptr_equal(prof_context_fold_one(&f, kept[0]), kept[0]); /* kept ones stay */
    assert_null(prof_context_fold_one(&f, NULL));
    assert_int_equal(f.folded, 1);
    prof_context_fold_end(&f);
    pf_strbuf out = {0};
    prof_context_render_metrics(&out);
    assert_non_null(strstr(out.s, "takhin_profiler_label_folded_total{where=\"push\"} 1\n"));
    pf_strbuf_free(&out);
    char status[256];
    prof_context_status_json(status, sizeof status);
    assert_non_null(strstr(status, "\"available\":false"));
}

/* Last: fills the table. */
static void test_overflow(void **state)
{
    (void)state;
    const tk_context *c = NULL;
    char v[32];
    for (int i = 0; i < TKH_CONTEXT_MAX + 10; i++) {
        snprintf(v, sizeof v, "client-%d", i);
        tk_context_pair p[] = {{"client_id", v}};
        c = tkh_context_intern(p, 1);
    }
    assert_true(c->flags & TK_CONTEXT_OVERFLOW);
    assert_string_equal(value_of(c, "context"), "overflow");
    tk_context_pair known[] = {{"topic", "orders"}};
    assert_ptr_equal(tkh_context_intern(known, 1), ctx_a); /* known ones still found */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_read_clear),
        cmocka_unit_test(test_interned_copy),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_distinct),
        cmocka_unit_test(test_of_thread),
        cmocka_unit_test(test_signal_handler),
        cmocka_unit_test(test_cpu_hook),
        cmocka_unit_test(test_plugin_labels_and_fold),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
