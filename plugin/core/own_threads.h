/*
 * plugin/core/own_threads.h - the profiler's own threads.
 * Every thread the plugin starts goes through prof_thread_spawn, which names
 * it for what it does before it runs its first instruction, whoever started
 * it: profiles, thread dumps and /proc show the profiler's cost under
 * tk-prof-* and tk-push-* names, never under the name of the creating thread.
 * The HTTP threads (civetweb's master and workers, handler threads, the
 * front) are also marked: thread dumps do not interrupt them unless they
 * run on it, since civetweb takes an EINTR from poll for a dead connection
 * and a dump signal would drop a request being read or answered. Such a
 * thread is listed without a stack.
 * Threads: any; a mutex guards the set.
 */
#ifndef TAKHIN_PLUGIN_OWN_THREADS_H
#define TAKHIN_PLUGIN_OWN_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROF_OWN_THREADS_MAX 1024 /* beyond it, threads are not marked */

/* The names, 15 characters at most (the kernel's limit). */
#define PROF_THREAD_COLLECT "tk-prof-collect" /* the CPU sampler's collector */
#define PROF_THREAD_REQUEST "tk-prof-request" /* a deep request's handler */
#define PROF_THREAD_FRONT "tk-prof-front"     /* the port's epoll front */
#define PROF_THREAD_HTTP "tk-prof-http"       /* civetweb's workers */
#define PROF_THREAD_ACCEPT "tk-prof-accept"   /* civetweb's master */
#define PROF_THREAD_KNOCK "tk-prof-knock"     /* wakes civetweb at stop */
#define PROF_THREAD_PUSH_SEND "tk-push-send"  /* push's sender */
#define PROF_THREAD_PUSH_COLLECT "tk-push-collect" /* push's collector */
#define PROF_THREAD_FLIGHT "tk-prof-flight" /* the flight recorder */

/* Starts fn(arg) on a new thread (joinable; stack_bytes 0 for the default)
 * that names itself `name` first. Returns 0 or an errno value. */
int prof_thread_spawn(pthread_t *t, const char *name, size_t stack_bytes, void *(*fn)(void *),
                      void *arg);

/* Marks (on) or unmarks the calling thread; unmark before it exits. */
void prof_own_thread_mark(bool on);
/* tid is a marked thread. */
bool prof_own_thread_is(pid_t tid);

#endif
