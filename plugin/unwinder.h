/*
 * plugin/unwinder.h - the stack of an allocation, captured from inside a
 * tcmalloc malloc hook, with the allocator's and the hook's own frames cut
 * off: pcs[0] is the return address into the function that called
 * malloc/calloc/realloc/new.
 *
 * Method: libunwind's unw_backtrace (dlopen'd, never linked): its
 * per-thread cache of frame descriptions makes a warm capture cost about
 * 15-25 ns a frame with no system call and no malloc, and it unwinds
 * through code built without frame pointers (Debian's libtcmalloc, libc,
 * zlib) from .eh_frame. Fallback when libunwind is missing: libgcc's
 * _Unwind_Backtrace (lock-free FDE lookup through _dl_find_object, but
 * the CFI is re-parsed for every frame: about 10x slower). A plain
 * frame-pointer walk cannot be used: it breaks in the allocator's frames.
 * Both libraries are opened with RTLD_NODELETE and never closed: libunwind
 * keeps a per-thread cache whose destructor runs at every thread exit.
 *
 * Threads: prof_unwind_init and prof_unwind_fini once, from the plugin's
 * lifecycle; prof_unwind_alloc_stack from any thread, lock-free.
 */
#ifndef TAKHIN_PLUGIN_UNWINDER_H
#define TAKHIN_PLUGIN_UNWINDER_H

#include <stddef.h>
#include <stdint.h>

#define PROF_UNWIND_SKIP_MAX 16 /* frames of the hook and allocator at most */

/* Loads the unwinder and finds the code of this plugin and of the
 * allocator (the object that defines `allocator_fn`, e.g. tc_malloc).
 * Warms the unwinder up once (libgcc_s and libunwind initialize lazily).
 * 0, or -1 with err. */
int prof_unwind_init(const void *allocator_fn, char *err, size_t errlen);

/* Fills pcs (return addresses, leaf first) with at most max frames of the
 * caller of the allocator. Returns the depth (0 if nothing was found).
 * To be called from inside an allocator hook of this plugin: the frames of
 * this plugin on top of the stack, then the allocator's, are dropped. */
size_t prof_unwind_alloc_stack(uintptr_t *pcs, size_t max);

/* "libunwind unw_backtrace" or "libgcc _Unwind_Backtrace". */
const char *prof_unwind_method(void);

#endif
