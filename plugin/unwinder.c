/* Stack capture inside allocator hooks: see unwinder.h. */
#include "unwinder.h"

#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <unwind.h>

typedef int (*unw_backtrace_fn)(void **buffer, int size);
typedef _Unwind_Reason_Code (*gcc_backtrace_fn)(_Unwind_Trace_Fn fn, void *arg);
typedef _Unwind_Ptr (*gcc_getip_fn)(struct _Unwind_Context *ctx);

typedef struct code_range {
    uintptr_t lo, hi;
} code_range;

/* Set once by prof_unwind_init, read-only afterwards. */
static struct {
    unw_backtrace_fn unw;
    gcc_backtrace_fn gcc;
    gcc_getip_fn gcc_getip;
    code_range self, allocator;
    const char *method;
} U;

/* ---- where code lives ---- */

typedef struct range_query {
    uintptr_t addr;
    code_range *out;
} range_query;

/* dl_iterate_phdr callback: the executable segment holding q->addr. */
static int find_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    range_query *q = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (q->addr >= lo && q->addr < lo + ph->p_memsz) {
            *q->out = (code_range){lo, lo + ph->p_memsz};
            return 1;
        }
    }
    return 0;
}

static int code_of(const void *fn, code_range *out)
{
    range_query q = {(uintptr_t)fn, out};
    return dl_iterate_phdr(find_segment, &q) == 1 ? 0 : -1;
}

static bool in_range(const code_range *r, uintptr_t pc)
{
    return pc >= r->lo && pc < r->hi;
}

/* ---- the two unwinders ---- */

typedef struct gcc_trace {
    void **buf;
    int n, max;
} gcc_trace;

static _Unwind_Reason_Code gcc_step(struct _Unwind_Context *ctx, void *arg)
{
    gcc_trace *t = arg;
    if (t->n >= t->max)
        return _URC_END_OF_STACK;
    t->buf[t->n++] = (void *)U.gcc_getip(ctx);
    return _URC_NO_REASON;
}

static int capture(void **buf, int max)
{
    if (U.unw != NULL)
        return U.unw(buf, max);
    gcc_trace t = {buf, 0, max};
    U.gcc(gcc_step, &t);
    return t.n;
}

static int load_unwinder(char *err, size_t errlen)
{
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h != NULL && (U.unw = (unw_backtrace_fn)dlsym(h, "unw_backtrace")) != NULL) {
        U.method = "libunwind unw_backtrace";
        return 0;
    }
    h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h != NULL) {
        U.gcc = (gcc_backtrace_fn)dlsym(h, "_Unwind_Backtrace");
        U.gcc_getip = (gcc_getip_fn)dlsym(h, "_Unwind_GetIP");
    }
    if (U.gcc == NULL || U.gcc_getip == NULL) {
        snprintf(err, errlen, "no stack unwinder: neither libunwind.so.8 nor libgcc_s.so.1 "
                 "could be loaded (install libunwind8)");
        return -1;
    }
    U.method = "libgcc _Unwind_Backtrace";
    return 0;
}

int prof_unwind_init(const void *allocator_fn, char *err, size_t errlen)
{
    if (U.method != NULL)
        return 0;
    if (code_of((const void *)prof_unwind_init, &U.self) != 0 ||
        code_of(allocator_fn, &U.allocator) != 0) {
        snprintf(err, errlen, "cannot find the code of the allocator or of the profiler");
        return -1;
    }
    if (load_unwinder(err, errlen) != 0)
        return -1;
    void *warm[8];
    capture(warm, 8);
    return 0;
}

const char *prof_unwind_method(void)
{
    return U.method ? U.method : "none";
}

size_t prof_unwind_alloc_stack(uintptr_t *pcs, size_t max)
{
    void *buf[PROF_UNWIND_SKIP_MAX + 128];
    int cap = (int)(max + PROF_UNWIND_SKIP_MAX);
    if (cap > (int)(sizeof buf / sizeof *buf))
        cap = (int)(sizeof buf / sizeof *buf);
    int n = capture(buf, cap);
    int i = 0;
    while (i < n && in_range(&U.self, (uintptr_t)buf[i]))
        i++; /* this hook */
    while (i < n && in_range(&U.allocator, (uintptr_t)buf[i]))
        i++; /* tc_malloc, MallocHook::InvokeNewHookSlow, ... */
    size_t depth = 0;
    for (; i < n && depth < max && buf[i] != NULL; i++)
        pcs[depth++] = (uintptr_t)buf[i];
    return depth;
}
