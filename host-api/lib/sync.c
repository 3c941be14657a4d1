/* Instrumented primitives and spans: see takhin/host/sync.h. */
#include "takhin/host/sync.h"

#include "takhin/host/context.h"

#include <sched.h>
#include <stdlib.h>
#include <time.h>

/* The hooks in force (NULL: none) and their context. Readers announce
 * themselves in `readers` before loading `current`, so a setter that
 * swapped the pointer knows when the old hooks are out of use. */
typedef struct hook_set {
    tk_event_hooks hooks;
    void *ctx;
} hook_set;

static _Atomic(hook_set *) current;
static _Atomic long readers;
_Atomic int tkh_sync_hooked;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Enters the hooks; NULL when none. Pair with leave(). */
static const hook_set *enter(void)
{
    atomic_fetch_add(&readers, 1);
    return atomic_load(&current);
}

static void leave(void)
{
    atomic_fetch_sub(&readers, 1);
}

int tkh_set_event_hooks(const tk_event_hooks *hooks, void *ctx)
{
    hook_set *next = NULL;
    if (hooks != NULL) {
        next = malloc(sizeof *next);
        if (next == NULL)
            return -1;
        *next = (hook_set){*hooks, ctx};
    }
    int hooked = 0;
    if (hooks != NULL && (hooks->waited != NULL || hooks->released != NULL))
        hooked |= TKH_SYNC_WAITS;
    if (hooks != NULL && hooks->span != NULL)
        hooked |= TKH_SYNC_SPANS;
    hook_set *old = atomic_exchange(&current, next);
    atomic_store(&tkh_sync_hooked, hooked);
    while (atomic_load(&readers) != 0)
        sched_yield();
    free(old);
    return 0;
}

static void report_wait(tk_wait_kind kind, int64_t start, int64_t end)
{
    const hook_set *h = enter();
    if (h != NULL && h->hooks.waited != NULL)
        h->hooks.waited(h->ctx, kind, start, end - start);
    leave();
}

/* ---- mutex ---- */

void tkh_mutex_init(tkh_mutex *m)
{
    pthread_mutex_init(&m->m, NULL);
    atomic_init(&m->waiters, 0);
    atomic_init(&m->wait_start, 0);
    atomic_init(&m->wait_ctx, NULL);
}

void tkh_mutex_destroy(tkh_mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void tkh_mutex_lock_slow(tkh_mutex *m)
{
    if (!tkh_sync_watching(TKH_SYNC_WAITS)) { /* the hooks went away meanwhile */
        pthread_mutex_lock(&m->m);
        return;
    }
    int64_t start = now_ns(), expected = 0;
    atomic_fetch_add(&m->waiters, 1);
    if (atomic_compare_exchange_strong(&m->wait_start, &expected, start))
        atomic_store(&m->wait_ctx, tkh_context_current());
    pthread_mutex_lock(&m->m);
    atomic_fetch_sub(&m->waiters, 1);
    report_wait(TK_WAIT_MUTEX, start, now_ns());
}

/* Releasing a mutex others wait for: the holder made them wait since the
 * oldest waiter began; the next waiter's clock starts now. */
void tkh_mutex_unlock_contended(tkh_mutex *m)
{
    int64_t start = atomic_exchange(&m->wait_start, 0);
    const tk_context *waiter = atomic_exchange(&m->wait_ctx, NULL);
    int64_t now = start ? now_ns() : 0;
    pthread_mutex_unlock(&m->m);
    if (start == 0)
        return;
    if (atomic_load(&m->waiters) > 1) { /* the next waiter's context is not known: keep this one's */
        int64_t expected = 0;
        if (atomic_compare_exchange_strong(&m->wait_start, &expected, now))
            atomic_store(&m->wait_ctx, waiter);
    }
    const hook_set *h = enter();
    tkh_context_set_waiter(waiter);
    if (h != NULL && h->hooks.released != NULL)
        h->hooks.released(h->ctx, now - start);
    tkh_context_set_waiter(NULL);
    leave();
}

/* ---- condition variable ---- */

void tkh_cond_init(tkh_cond *c)
{
    pthread_cond_init(&c->c, NULL);
}

void tkh_cond_destroy(tkh_cond *c)
{
    pthread_cond_destroy(&c->c);
}

void tkh_cond_broadcast(tkh_cond *c)
{
    pthread_cond_broadcast(&c->c);
}

void tkh_cond_signal(tkh_cond *c)
{
    pthread_cond_signal(&c->c);
}

void tkh_cond_wait(tkh_cond *c, tkh_mutex *m)
{
    if (!tkh_sync_watching(TKH_SYNC_WAITS)) {
        pthread_cond_wait(&c->c, &m->m);
        return;
    }
    int64_t start = now_ns();
    pthread_cond_wait(&c->c, &m->m);
    report_wait(TK_WAIT_COND, start, now_ns());
}

/* ---- spans ---- */

int64_t tkh_span_begin_slow(void)
{
    return now_ns();
}

void tkh_span_end_slow(const char *name, int64_t begun)
{
    const hook_set *h = enter();
    if (h != NULL && h->hooks.span != NULL)
        h->hooks.span(h->ctx, name, begun, now_ns());
    leave();
}
