/*
 * plugin/capture/unwinder.h - the stack of an allocation, captured from inside a
 * tcmalloc malloc hook, with the allocator's and the hook's own frames cut
 * off: pcs[0] is the return address into the function that called
 * malloc/calloc/realloc/new; and the stack of a thread interrupted by a
 * signal, for the thread dumps (threads.c).
 *
 * Method: a DWARF call-frame (CFI) unwinder of our own for x86-64. Each
 * return address is looked up in its object's .eh_frame_hdr (found with
 * glibc's _dl_find_object: lock-free, no system call), its FDE's rule
 * (CFA = rsp|rbp + offset, where rbp and the return address were saved) is
 * computed once and kept in a process-wide cache keyed by address, then a
 * frame costs a cache probe and two loads. It goes through code built
 * without frame pointers (Debian's libtcmalloc, libc, zlib), which a
 * frame-pointer walk cannot.
 *
 * Why not the others (measured, see the module's report): libgcc's
 * _Unwind_Backtrace re-parses the CFI for every frame (about 3 us for 17
 * frames here) and takes a mutex that a malloc hook can deadlock on when a
 * JIT registered frames; libunwind's unw_backtrace is as fast as this one
 * but gives every thread that samples a 256 KiB cache, resident until the
 * thread exits; unw_step (what tcmalloc's sampler uses) makes system calls
 * for every frame.
 *
 * Stops (the stack is then shorter, never wrong) at an address without
 * CFI, at rules it does not handle (DWARF expressions: signal trampolines,
 * stack-realigning functions; a CFA on another register than rsp or rbp),
 * at the outermost frame, and at frames over 4 MiB. Cached rules carry the
 * address of their object's .eh_frame_hdr: a library unloaded and another
 * loaded at the same address do not share them.
 *
 * Threads: prof_unwind_init once (it is idempotent) before
 * prof_unwind_alloc_stack; the rest from any thread, lock-free, also in a
 * signal handler (_dl_find_object is async-signal-safe).
 */
#ifndef TAKHIN_PLUGIN_UNWINDER_H
#define TAKHIN_PLUGIN_UNWINDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Finds the code of this plugin and of the allocator (the object that
 * defines `allocator_fn`, e.g. tc_malloc). 0, or -1 with err. */
int prof_unwind_init(const void *allocator_fn, char *err, size_t errlen);

/* Return addresses of the caller of the allocator, leaf first, at most
 * max. To be called from inside an allocator hook of this plugin: the
 * frames of this plugin on top of the stack, then the allocator's, are
 * dropped. Returns the depth (0 if nothing was found). */
size_t prof_unwind_alloc_stack(uintptr_t *pcs, size_t max);

/* The raw stack from the caller of this function: return addresses,
 * leaf first (for tests and benchmarks). */
size_t prof_unwind_stack(uintptr_t *pcs, size_t max);

/* The stack of an interrupted context (a signal handler's ucontext_t):
 * pcs[0] is its exact PC, then return addresses, at most max; *truncated
 * when the stack went on. Every stack load lies in [RSP, limit): the
 * caller passes the end of the memory that holds the context's RSP, so
 * that unwind info that lies or a damaged stack ends the walk instead of
 * faulting. Async-signal-safe: no lock, no allocation, no system call. */
size_t prof_unwind_context(const void *ucontext, uintptr_t limit, uintptr_t *pcs, size_t max,
                           bool *truncated);

/* The start of the function holding pc (its FDE's), 0 if unknown. */
uintptr_t prof_unwind_func_start(uintptr_t pc);

/* "DWARF CFI (.eh_frame_hdr, cached)". */
const char *prof_unwind_method(void);

#endif
