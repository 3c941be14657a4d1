/*
 * takhin/host/context.h - the request context of host threads (the
 * setting side of tk_host_api's context_*, see takhin/plugin.h).
 *
 *   prev = tkh_context_set(pairs, n);   work on the request ...
 *   tkh_context_restore(prev);          or tkh_context_clear()
 *
 * Contexts are interned (a copy of the pairs, never freed): setting the
 * same pairs again finds the same tk_context. A server that knows its
 * contexts ahead (a worker bound to one topic) interns them once with
 * tkh_context_intern and switches with tkh_context_enter, which only
 * stores a pointer.
 *
 * Threads: each thread sets only its own context; every function here may
 * run on any thread at once. Bounds: TKH_CONTEXT_MAX distinct contexts
 * (then the shared {context=overflow}), TKH_CONTEXT_THREADS threads
 * visible to context_of_thread at once (a thread beyond them still has
 * its context, for itself and its signal handlers). A thread's slot is
 * released when it exits.
 *
 * Cost (bench/bench_context.c): set+clear of 3 known pairs, and
 * enter+clear, with no context hook; with the plugin's hook installed,
 * each change also reads the thread's CPU clock (a system call).
 */
#ifndef TAKHIN_HOST_CONTEXT_H
#define TAKHIN_HOST_CONTEXT_H

#include "takhin/plugin.h"

#define TKH_CONTEXT_MAX 32768     /* distinct contexts interned */
#define TKH_CONTEXT_THREADS 4096  /* threads findable by TID */

/* The interned context of `pairs` (n of them; NULL keys or values are
 * read as ""): the same pointer for the same pairs, cut to the bounds of
 * plugin.h. NULL when n is 0. Never fails: out of room or memory, the
 * overflow context. */
const tk_context *tkh_context_intern(const tk_context_pair *pairs, size_t n);
/* Makes `c` (from intern, or NULL for none) the calling thread's context;
 * returns the one it replaces, for a later restore. */
const tk_context *tkh_context_enter(const tk_context *c);
/* intern + enter. */
const tk_context *tkh_context_set(const tk_context_pair *pairs, size_t n);
static inline void tkh_context_restore(const tk_context *prev)
{
    tkh_context_enter(prev);
}
static inline void tkh_context_clear(void)
{
    tkh_context_enter(NULL);
}

/* The host's side of tk_host_api (async-signal-safe readers). */
const tk_context *tkh_context_current(void);
const tk_context *tkh_context_of_thread(int tid);
const tk_context *tkh_context_of_waiter(void);
int tkh_set_context_hook(tk_context_hook hook, void *ctx);
/* For sync.c: the context of the waiter a release ends, during the
 * released hook. */
void tkh_context_set_waiter(const tk_context *c);

#endif
