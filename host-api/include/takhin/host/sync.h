/*
 * takhin/host/sync.h - instrumented primitives and trace spans for host
 * code. They behave as pthread's; when a plugin has installed event hooks
 * (tk_host_api.set_event_hooks), contended waits and spans are reported to
 * it, which is what the mutex, block and trace profiles are made of.
 *
 * Cost with no hooks installed: one relaxed load of a global flag on top
 * of pthread_mutex_lock, pthread_cond_wait, or nothing (spans). With wait
 * hooks, the lock tries first and times only contended waits.
 */
#ifndef TAKHIN_HOST_SYNC_H
#define TAKHIN_HOST_SYNC_H

#include "takhin/plugin.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct tkh_mutex {
    pthread_mutex_t m;
    _Atomic int waiters;         /* threads in the slow path */
    _Atomic int64_t wait_start;  /* when the oldest current waiter began, ns */
    _Atomic(const tk_context *) wait_ctx; /* that waiter's context (context.h) */
} tkh_mutex;

typedef struct tkh_cond {
    pthread_cond_t c;
} tkh_cond;

/* Which hooks are installed: TKH_SYNC_WAITS, TKH_SYNC_SPANS. Written by
 * tkh_set_event_hooks only. */
#define TKH_SYNC_WAITS 1
#define TKH_SYNC_SPANS 2
extern _Atomic int tkh_sync_hooked;

static inline bool tkh_sync_watching(int what)
{
    return (atomic_load_explicit(&tkh_sync_hooked, memory_order_relaxed) & what) != 0;
}

void tkh_mutex_init(tkh_mutex *m);
void tkh_mutex_destroy(tkh_mutex *m);
void tkh_mutex_lock_slow(tkh_mutex *m);
void tkh_mutex_unlock_contended(tkh_mutex *m);

static inline void tkh_mutex_lock(tkh_mutex *m)
{
    if (__builtin_expect(!tkh_sync_watching(TKH_SYNC_WAITS), 1))
        pthread_mutex_lock(&m->m);
    else if (pthread_mutex_trylock(&m->m) != 0)
        tkh_mutex_lock_slow(m);
}

static inline void tkh_mutex_unlock(tkh_mutex *m)
{
    if (__builtin_expect(atomic_load_explicit(&m->waiters, memory_order_relaxed) == 0, 1))
        pthread_mutex_unlock(&m->m);
    else
        tkh_mutex_unlock_contended(m);
}

void tkh_cond_init(tkh_cond *c);
void tkh_cond_destroy(tkh_cond *c);
void tkh_cond_broadcast(tkh_cond *c);
void tkh_cond_signal(tkh_cond *c); /* wakes one waiter */
/* Waits as pthread_cond_wait does; the wait is reported as blocking. */
void tkh_cond_wait(tkh_cond *c, tkh_mutex *m);

/* Marks a span of work in the calling thread ("produce"); `name` must be
 * a string that lives as long as the process (a literal). */
int64_t tkh_span_begin_slow(void);
void tkh_span_end_slow(const char *name, int64_t begun);

static inline int64_t tkh_span_begin(void)
{
    return tkh_sync_watching(TKH_SYNC_SPANS) ? tkh_span_begin_slow() : 0;
}

static inline void tkh_span_end(const char *name, int64_t begun)
{
    if (begun != 0)
        tkh_span_end_slow(name, begun);
}

/* The host's side of tk_host_api.set_event_hooks: installs (or, with
 * NULL, removes) the hooks. Returns only when no thread is still inside
 * the hooks it replaced. */
int tkh_set_event_hooks(const tk_event_hooks *hooks, void *ctx);

#endif
