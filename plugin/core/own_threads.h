/*
 * plugin/core/own_threads.h - the profiler's own HTTP threads (civetweb's
 * master and workers, handler threads, the front), which thread dumps do
 * not interrupt unless they run on it: civetweb takes an EINTR from poll
 * for a dead connection, so a dump signal would drop a request being read
 * or answered. Such a thread is listed without a stack.
 * Threads: any; a mutex guards the set.
 */
#ifndef TAKHIN_PLUGIN_OWN_THREADS_H
#define TAKHIN_PLUGIN_OWN_THREADS_H

#include <stdbool.h>
#include <sys/types.h>

#define PROF_OWN_THREADS_MAX 1024 /* beyond it, threads are not marked */

/* Marks (on) or unmarks the calling thread; unmark before it exits. */
void prof_own_thread_mark(bool on);
/* tid is a marked thread. */
bool prof_own_thread_is(pid_t tid);

#endif
