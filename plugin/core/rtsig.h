/*
 * plugin/core/rtsig.h - a realtime signal of the plugin's own, taken and given
 * back: the thread dumps (threads.c) and the CPU sampler (sampler.c) each
 * take one.
 *
 * The signal taken is the first from SIGRTMIN+offset up whose action is
 * SIG_DFL when asked (glibc keeps 32 and 33 for itself, and applications
 * pick the low SIGRTMIN+n first). The handler runs with SA_SIGINFO |
 * SA_RESTART and every other signal blocked. Giving it back sets SIG_IGN
 * first, which drops every instance still pending in any thread, waits
 * until no handler runs (the caller's inflight counter, which its handler
 * raises on entry and lowers on exit), then restores the action before.
 */
#ifndef TAKHIN_PLUGIN_RTSIG_H
#define TAKHIN_PLUGIN_RTSIG_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

typedef void (*prof_rtsig_handler)(int sig, siginfo_t *si, void *ucontext);

/* The signal taken, or 0 with err; *old receives the action before. */
int prof_rtsig_claim(int offset, prof_rtsig_handler handler, struct sigaction *old, char *err,
                     size_t errlen);

/* Gives sig back as described above; grace_us first lets a delivery
 * already under way run (0: none). */
void prof_rtsig_release(int sig, const struct sigaction *old, _Atomic int *inflight,
                        long grace_us);

#endif
