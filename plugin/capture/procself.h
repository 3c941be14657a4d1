/*
 * plugin/capture/procself.h - what the plugin reads of its own process in /proc:
 * the thread ids, and the readable mappings, read ahead of time so that
 * a signal handler can bound every stack load of its walk:
 * unwind info that lies or a damaged stack then ends the walk instead of
 * faulting. Used by the thread dumps (threads.c) and the CPU sampler
 * (sampler.c).
 *
 * Ownership: a prof_stackmap owns its ranges; prof_stackmap_read refills
 * it (the caller makes sure no handler reads it meanwhile: publish a new
 * one instead), prof_stackmap_free releases them. The lookups are
 * async-signal-safe: no lock, no allocation, no system call.
 */
#ifndef TAKHIN_PLUGIN_PROCSELF_H
#define TAKHIN_PLUGIN_PROCSELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The TIDs of the process (/proc/self/task), sorted, in a malloc'd array
 * the caller frees. 0, or -1 on failure. */
int prof_tasks_list(pid_t **out, size_t *len);
/* The open fds of the process (0 without /proc). */
size_t prof_fds_count(void);

typedef struct prof_mem_range {
    uintptr_t lo, hi; /* [lo, hi) */
} prof_mem_range;

typedef struct prof_stackmap {
    prof_mem_range *range; /* sorted by address */
    size_t n, cap;
} prof_stackmap;

/* Reads /proc/self/maps' readable mappings into m. Without /proc there are
 * none (every walk then gets its PC only). 0, or -1 when out of memory. */
int prof_stackmap_read(prof_stackmap *m);
void prof_stackmap_free(prof_stackmap *m);

/* Where the stack that holds sp ends: the end of its mapping, or the
 * calling thread's TCB if that lies in the same mapping above sp (glibc
 * puts it at the top of a pthread's stack). 0 if no mapping holds sp. */
uintptr_t prof_stackmap_limit(const prof_stackmap *m, uintptr_t sp);

/* Unwinds an interrupted context (a signal handler's ucontext_t) with
 * the plugin's unwinder, bounded by m: pcs[0] is its exact PC, then
 * return addresses, at most max. A context whose RSP lies in no mapping
 * gets its PC only (*truncated). */
size_t prof_stackmap_unwind(const prof_stackmap *m, const void *ucontext, uintptr_t *pcs,
                            size_t max, bool *truncated);

#endif
