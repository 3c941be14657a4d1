/* Stack capture inside allocator hooks and signal handlers: see unwinder.h.
 * x86-64 only. */
#include "capture/unwinder.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#if !defined(__x86_64__)
#error "plugin/capture/unwinder.c knows x86-64's registers only (rsp 7, rbp 6, return address 16)"
#endif

#define SKIP_MAX 16           /* frames of the hook and the allocator at most */
#define CACHE_BITS 13         /* 8192 addresses, 192 KiB */
#define CACHE_PROBES 8
#define MAX_FRAME (4u << 20)  /* a frame larger than this ends the walk */
#define MAX_STATES 8          /* DW_CFA_remember_state nesting */
#define DW_RBP 6
#define DW_RSP 7

/* ---- a frame's rule, packed in 64 bits for the cache ----
 * bit 0 valid, bit 1 stop here, bit 2 CFA on rbp (else rsp),
 * bits 3-4 rbp: 0 same, 1 saved at CFA + rbp_off, 2 unknown,
 * bits 8-31 CFA offset, bits 32-47 rbp_off, bits 48-63 ra_off. */
#define R_VALID 1ULL
#define R_STOP 2ULL
#define R_CFA_RBP 4ULL
enum { RBP_SAME, RBP_AT, RBP_UNKNOWN };

static uint64_t rule_stop(void)
{
    return R_VALID | R_STOP;
}

static uint32_t rule_cfa_off(uint64_t r) { return (uint32_t)(r >> 8) & 0xffffff; }
static int16_t rule_rbp_off(uint64_t r) { return (int16_t)(r >> 32); }
static int16_t rule_ra_off(uint64_t r) { return (int16_t)(r >> 48); }
static int rule_rbp(uint64_t r) { return (int)(r >> 3) & 3; }

/* ---- reading .eh_frame ---- */

typedef struct cursor {
    const uint8_t *p, *end;
    bool bad;
} cursor;

static uint64_t rd_fixed(cursor *c, size_t n)
{
    uint64_t v = 0;
    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, n); /* little endian */
    c->p += n;
    return v;
}

static uint64_t rd_uleb(cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end && shift < 64; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t rd_sleb(cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end && shift < 64; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (shift + 7 < 64 && (b & 0x40))
                v |= ~0ULL << (shift + 7);
            return (int64_t)v;
        }
    }
    c->bad = true;
    return 0;
}

/* A value of DW_EH_PE format `fmt` (the low 4 bits of an encoding). */
static uint64_t rd_raw(cursor *c, unsigned fmt)
{
    switch (fmt) {
    case 0x00: case 0x04: case 0x0c: return rd_fixed(c, 8);
    case 0x01: return rd_uleb(c);
    case 0x02: return rd_fixed(c, 2);
    case 0x03: return rd_fixed(c, 4);
    case 0x09: return (uint64_t)rd_sleb(c);
    case 0x0a: return (uint64_t)(int64_t)(int16_t)rd_fixed(c, 2);
    case 0x0b: return (uint64_t)(int64_t)(int32_t)rd_fixed(c, 4);
    default: c->bad = true; return 0;
    }
}

/* An encoded address: absolute or pc-relative (what FDEs use). */
static uint64_t rd_encoded(cursor *c, uint8_t enc)
{
    const uint8_t *at = c->p;
    uint64_t v = rd_raw(c, enc & 0x0f);
    if ((enc & 0x70) == 0x10)
        v += (uint64_t)(uintptr_t)at;
    else if ((enc & 0x70) != 0 || (enc & 0x80))
        c->bad = true;
    return v;
}

typedef struct cie_info {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    bool has_z, signal;
    cursor insns; /* initial instructions */
} cie_info;

/* The augmentation data of a "z..." CIE. */
static void parse_augmentation(cursor *c, const char *aug, cie_info *out)
{
    uint64_t len = rd_uleb(c);
    if (c->bad || len > (uint64_t)(c->end - c->p)) {
        c->bad = true;
        return;
    }
    const uint8_t *end = c->p + len;
    for (const char *a = aug + 1; *a != '\0' && !c->bad; a++) {
        if (*a == 'R')
            out->fde_enc = (uint8_t)rd_fixed(c, 1);
        else if (*a == 'P')
            rd_raw(c, (unsigned)rd_fixed(c, 1) & 0x0f);
        else if (*a == 'L')
            rd_fixed(c, 1);
        else if (*a == 'S')
            out->signal = true;
        else
            break; /* unknown: the length lets us skip the rest */
    }
    c->p = end;
}

static bool parse_cie(const uint8_t *cie, cie_info *out)
{
    cursor c = {cie, cie + 4, false};
    uint64_t len = rd_fixed(&c, 4);
    if (len == 0 || len >= 0xfffffff0u)
        return false;
    c.end = cie + 4 + len;
    uint64_t id = rd_fixed(&c, 4), version = rd_fixed(&c, 1);
    const char *aug = (const char *)c.p;
    size_t alen = strnlen(aug, (size_t)(c.end - c.p));
    if (id != 0 || (version != 1 && version != 3) || c.bad || alen == (size_t)(c.end - c.p))
        return false;
    c.p += alen + 1;
    *out = (cie_info){.code_align = rd_uleb(&c), .data_align = rd_sleb(&c)};
    out->ra_reg = version == 1 ? rd_fixed(&c, 1) : rd_uleb(&c);
    if (aug[0] == 'z') {
        out->has_z = true;
        parse_augmentation(&c, aug, out);
    } else if (aug[0] != '\0') {
        return false; /* "eh" and other ancient forms */
    }
    out->insns = (cursor){c.p, c.end, false};
    return !c.bad;
}

/* The FDE covering pc: its CIE, its start and its instructions. */
static bool parse_fde(const uint8_t *fde, uintptr_t pc, cie_info *cie, uint64_t *start,
                      cursor *insns)
{
    cursor c = {fde, fde + 4, false};
    uint64_t len = rd_fixed(&c, 4);
    if (len == 0 || len >= 0xfffffff0u)
        return false;
    c.end = fde + 4 + len;
    const uint8_t *id_at = c.p;
    uint32_t id = (uint32_t)rd_fixed(&c, 4);
    if (id == 0 || !parse_cie(id_at - id, cie))
        return false;
    uint64_t begin = rd_encoded(&c, cie->fde_enc);
    uint64_t range = rd_raw(&c, cie->fde_enc & 0x0f);
    if (c.bad || pc < begin || pc - begin >= range)
        return false;
    if (cie->has_z) {
        uint64_t zlen = rd_uleb(&c);
        if (c.bad || zlen > (uint64_t)(c.end - c.p))
            return false;
        c.p += zlen;
    }
    *start = begin;
    *insns = (cursor){c.p, c.end, false};
    return true;
}

/* The FDE for pc from the object's .eh_frame_hdr binary search table. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t pc)
{
    if (hdr == NULL || hdr[0] != 1 || hdr[2] != 0x03 || hdr[3] != 0x3b)
        return NULL; /* version 1, udata4 count, datarel sdata4 table */
    cursor c = {hdr + 4, hdr + 32, false};
    if (hdr[1] != 0xff)
        rd_raw(&c, hdr[1] & 0x0f); /* eh_frame_ptr: unused */
    uint32_t count = (uint32_t)rd_fixed(&c, 4);
    if (c.bad || count == 0)
        return NULL;
    const uint8_t *table = c.p;
    size_t lo = 0, hi = count;
    while (lo < hi) { /* the last entry whose start <= pc */
        size_t mid = lo + (hi - lo) / 2;
        int32_t loc;
        memcpy(&loc, table + mid * 8, 4);
        if ((uintptr_t)hdr + (intptr_t)loc <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    int32_t off;
    memcpy(&off, table + (lo - 1) * 8 + 4, 4);
    return hdr + off;
}

/* ---- running the CFI program to a location ---- */

typedef struct reg_rule {
    int kind; /* RBP_SAME, RBP_AT, RBP_UNKNOWN (also for the return address) */
    int64_t off;
} reg_rule;

typedef struct cfi_row {
    uint64_t cfa_reg; /* DW_RSP, DW_RBP; anything else: unsupported */
    int64_t cfa_off;
    bool cfa_expr;
    reg_rule rbp, ra;
} cfi_row;

typedef struct cfi_vm {
    cfi_row row, initial, saved[MAX_STATES];
    int depth;
    uint64_t loc, target;
    const cie_info *cie;
} cfi_vm;

typedef enum cfi_end { CFI_DONE, CFI_UNSUPPORTED } cfi_end;

static void set_rule(cfi_vm *vm, uint64_t reg, int kind, int64_t off)
{
    if (reg == DW_RBP)
        vm->row.rbp = (reg_rule){kind, off};
    else if (reg == vm->cie->ra_reg)
        vm->row.ra = (reg_rule){kind, off};
}

static void restore_rule(cfi_vm *vm, uint64_t reg)
{
    if (reg == DW_RBP)
        vm->row.rbp = vm->initial.rbp;
    else if (reg == vm->cie->ra_reg)
        vm->row.ra = vm->initial.ra;
}

/* false when the new location is past the target: the row is final. */
static bool advance(cfi_vm *vm, uint64_t delta)
{
    if (vm->loc + delta > vm->target)
        return false;
    vm->loc += delta;
    return true;
}

static void skip_block(cursor *c)
{
    uint64_t len = rd_uleb(c);
    if (len > (uint64_t)(c->end - c->p))
        c->bad = true;
    else
        c->p += len;
}

static void def_cfa(cfi_vm *vm, uint64_t reg, int64_t off)
{
    vm->row.cfa_reg = reg;
    vm->row.cfa_off = off;
    vm->row.cfa_expr = false;
}

/* CFA definitions and state stack: false for an unknown opcode. */
static bool run_cfa_op(cfi_vm *vm, cursor *c, uint8_t op)
{
    uint64_t reg;
    int64_t daf = vm->cie->data_align;
    switch (op) {
    case 0x0c: /* def_cfa */
        reg = rd_uleb(c);
        def_cfa(vm, reg, (int64_t)rd_uleb(c));
        return true;
    case 0x12: /* def_cfa_sf */
        reg = rd_uleb(c);
        def_cfa(vm, reg, rd_sleb(c) * daf);
        return true;
    case 0x0d: /* def_cfa_register */
        def_cfa(vm, rd_uleb(c), vm->row.cfa_off);
        return true;
    case 0x0e: /* def_cfa_offset */
        vm->row.cfa_off = (int64_t)rd_uleb(c);
        return true;
    case 0x13: /* def_cfa_offset_sf */
        vm->row.cfa_off = rd_sleb(c) * daf;
        return true;
    case 0x0f: /* def_cfa_expression: not followed */
        skip_block(c);
        vm->row.cfa_expr = true;
        return true;
    case 0x0a: /* remember_state */
        if (vm->depth == MAX_STATES)
            return false;
        vm->saved[vm->depth++] = vm->row;
        return true;
    case 0x0b: /* restore_state */
        if (vm->depth == 0)
            return false;
        vm->row = vm->saved[--vm->depth];
        return true;
    default:
        return false;
    }
}

/* Register rules and CFA definitions: false for an unknown opcode. */
static bool run_op(cfi_vm *vm, cursor *c, uint8_t op)
{
    uint64_t reg;
    int64_t daf = vm->cie->data_align;
    switch (op) {
    case 0x00: /* nop */
        return true;
    case 0x2e: /* GNU_args_size */
        rd_uleb(c);
        return true;
    case 0x05: /* offset_extended */
        reg = rd_uleb(c);
        set_rule(vm, reg, RBP_AT, (int64_t)rd_uleb(c) * daf);
        return true;
    case 0x11: /* offset_extended_sf */
        reg = rd_uleb(c);
        set_rule(vm, reg, RBP_AT, rd_sleb(c) * daf);
        return true;
    case 0x2f: /* GNU_negative_offset_extended */
        reg = rd_uleb(c);
        set_rule(vm, reg, RBP_AT, -(int64_t)rd_uleb(c) * daf);
        return true;
    case 0x06: /* restore_extended */
        restore_rule(vm, rd_uleb(c));
        return true;
    case 0x07: /* undefined */
        set_rule(vm, rd_uleb(c), RBP_UNKNOWN, 0);
        return true;
    case 0x08: /* same_value */
        set_rule(vm, rd_uleb(c), RBP_SAME, 0);
        return true;
    case 0x09: case 0x14: case 0x15: /* register, val_offset(_sf): not followed */
        reg = rd_uleb(c);
        rd_uleb(c);
        set_rule(vm, reg, RBP_UNKNOWN, 0);
        return true;
    case 0x10: case 0x16: /* expression, val_expression */
        reg = rd_uleb(c);
        skip_block(c);
        set_rule(vm, reg, RBP_UNKNOWN, 0);
        return true;
    default:
        return run_cfa_op(vm, c, op);
    }
}

/* Runs instructions until the location passes the target. */
static cfi_end run_cfi(cfi_vm *vm, cursor *c)
{
    const cie_info *cie = vm->cie;
    while (c->p < c->end && !c->bad) {
        uint8_t op = (uint8_t)rd_fixed(c, 1);
        bool go = true;
        if (op >> 6 == 1)
            go = advance(vm, (op & 0x3f) * cie->code_align);
        else if (op >> 6 == 2)
            set_rule(vm, op & 0x3f, RBP_AT, (int64_t)rd_uleb(c) * cie->data_align);
        else if (op >> 6 == 3)
            restore_rule(vm, op & 0x3f);
        else if (op >= 0x02 && op <= 0x04)
            go = advance(vm, rd_fixed(c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4) * cie->code_align);
        else if (op == 0x01) {
            uint64_t to = rd_encoded(c, cie->fde_enc);
            go = to <= vm->target;
            vm->loc = go ? to : vm->loc;
        } else if (!run_op(vm, c, op))
            return CFI_UNSUPPORTED;
        if (!go)
            return CFI_DONE;
    }
    return c->bad ? CFI_UNSUPPORTED : CFI_DONE;
}

static uint64_t encode_row(const cfi_row *row)
{
    bool cfa_ok = !row->cfa_expr && (row->cfa_reg == DW_RSP || row->cfa_reg == DW_RBP) &&
                  row->cfa_off >= 8 && row->cfa_off < (1 << 24);
    bool ra_ok = row->ra.kind == RBP_AT && row->ra.off >= -32768 && row->ra.off < 0;
    bool rbp_at = row->rbp.kind == RBP_AT && row->rbp.off >= -32768 && row->rbp.off < 0;
    if (!cfa_ok || !ra_ok)
        return rule_stop(); /* also the outermost frame (return address undefined) */
    uint64_t r = R_VALID | (row->cfa_reg == DW_RBP ? R_CFA_RBP : 0);
    r |= (uint64_t)(rbp_at ? RBP_AT : row->rbp.kind == RBP_SAME ? RBP_SAME : RBP_UNKNOWN) << 3;
    r |= (uint64_t)row->cfa_off << 8;
    r |= (uint64_t)(uint16_t)(rbp_at ? row->rbp.off : 0) << 32;
    r |= (uint64_t)(uint16_t)row->ra.off << 48;
    return r;
}

/* The rule at pc (a call site) in the object whose .eh_frame_hdr is hdr. */
static uint64_t compute_rule(uintptr_t pc, const uint8_t *hdr)
{
    const uint8_t *fde = find_fde(hdr, pc);
    cie_info cie;
    uint64_t start;
    cursor insns;
    if (fde == NULL || !parse_fde(fde, pc, &cie, &start, &insns) || cie.signal)
        return rule_stop();
    cfi_vm vm = {.loc = start, .target = pc, .cie = &cie};
    vm.row = (cfi_row){.cfa_reg = ~0ULL, .rbp = {RBP_SAME, 0}, .ra = {RBP_UNKNOWN, 0}};
    cursor init = cie.insns;
    if (run_cfi(&vm, &init) != CFI_DONE)
        return rule_stop();
    vm.initial = vm.row;
    vm.loc = start;
    if (run_cfi(&vm, &insns) != CFI_DONE)
        return rule_stop();
    return encode_row(&vm.row);
}

/* ---- the cache: address -> rule, insert-only, lock-free ---- */

typedef struct cache_entry {
    _Atomic uint64_t pc;     /* 0: free */
    _Atomic uint64_t rule;   /* 0: being written */
    _Atomic uint64_t object; /* the object's .eh_frame_hdr */
} cache_entry;

static cache_entry cache[1u << CACHE_BITS];

static uint64_t rule_for(uintptr_t pc)
{
    struct dl_find_object obj;
    if (_dl_find_object((void *)pc, &obj) != 0 || obj.dlfo_eh_frame == NULL)
        return rule_stop();
    uint64_t tag = (uint64_t)(uintptr_t)obj.dlfo_eh_frame;
    size_t h = (size_t)((pc * 0x9E3779B97F4A7C15ULL) >> (64 - CACHE_BITS));
    for (size_t i = 0; i < CACHE_PROBES; i++) {
        cache_entry *e = &cache[(h + i) & ((1u << CACHE_BITS) - 1)];
        uint64_t key = atomic_load_explicit(&e->pc, memory_order_relaxed);
        if (key == pc) {
            uint64_t r = atomic_load_explicit(&e->rule, memory_order_acquire);
            if (r != 0 && atomic_load_explicit(&e->object, memory_order_relaxed) == tag)
                return r;
            break; /* being written, or of an object unloaded since */
        }
        if (key == 0) {
            uint64_t r = compute_rule(pc, obj.dlfo_eh_frame), free_key = 0;
            if (atomic_compare_exchange_strong(&e->pc, &free_key, pc)) {
                atomic_store_explicit(&e->object, tag, memory_order_relaxed);
                atomic_store_explicit(&e->rule, r, memory_order_release);
            }
            return r;
        }
    }
    return compute_rule(pc, obj.dlfo_eh_frame); /* crowded: not cached */
}

/* ---- walking ---- */

typedef struct regs {
    uintptr_t pc, sp, fp;
    uintptr_t limit; /* no load at or above it: the end of the stack */
    bool fp_ok;
} regs;

/* The word at addr, if it lies in [sp, limit). A walker reads stack slots
 * no C object owns: not instrumented by ASan (make check-sanitize). */
__attribute__((no_sanitize_address))
static bool load(const regs *r, uintptr_t addr, uintptr_t *out)
{
    if (addr < r->sp || addr > r->limit - sizeof *out)
        return false;
    *out = *(const uintptr_t *)addr;
    return true;
}

/* One frame up. false at the end of what can be unwound. Every load is
 * inside the frame [sp, cfa) and below r->limit. */
static bool step(regs *r, uint64_t rule)
{
    if (rule & R_STOP)
        return false;
    uintptr_t base = r->sp;
    if (rule & R_CFA_RBP) {
        if (!r->fp_ok || r->fp < r->sp || r->fp - r->sp > MAX_FRAME)
            return false;
        base = r->fp;
    }
    uintptr_t cfa = base + rule_cfa_off(rule);
    if (cfa < r->sp + 8 || cfa - r->sp > MAX_FRAME || (cfa & 7) != 0)
        return false;
    if (rule_rbp(rule) == RBP_AT)
        r->fp_ok = load(r, cfa + (intptr_t)rule_rbp_off(rule), &r->fp);
    else if (rule_rbp(rule) != RBP_SAME)
        r->fp_ok = false;
    uintptr_t pc;
    if (!load(r, cfa + (intptr_t)rule_ra_off(rule), &pc))
        return false;
    r->pc = pc;
    r->sp = cfa;
    return r->pc != 0;
}

/* pcs[0] is r.pc; the rule of the first frame is looked up at r.pc itself
 * if `exact` (an interrupted instruction), else at r.pc - 1 (the call
 * instruction before a return address), as for every frame above it.
 * *more: the stack went on past `max` frames. */
static size_t walk(regs r, bool exact, uintptr_t *pcs, size_t max, bool *more)
{
    size_t n = 0;
    *more = false;
    while (n < max) {
        pcs[n++] = r.pc;
        if (!step(&r, rule_for(exact ? r.pc : r.pc - 1)))
            return n;
        exact = false;
    }
    *more = true;
    return n;
}

/* Starts at our caller: this function keeps a frame pointer (the build
 * flags and the attribute), so its caller's registers are at hand. */
__attribute__((noinline, optimize("no-omit-frame-pointer")))
size_t prof_unwind_stack(uintptr_t *pcs, size_t max)
{
    const uintptr_t *frame = __builtin_frame_address(0);
    regs r = {.pc = (uintptr_t)__builtin_return_address(0), .sp = (uintptr_t)(frame + 2),
              .fp = frame[0], .limit = UINTPTR_MAX, .fp_ok = true};
    bool more;
    return max > 0 ? walk(r, false, pcs, max, &more) : 0;
}

size_t prof_unwind_context(const void *ucontext, uintptr_t limit, uintptr_t *pcs, size_t max,
                           bool *truncated)
{
    const mcontext_t *m = &((const ucontext_t *)ucontext)->uc_mcontext;
    regs r = {.pc = (uintptr_t)m->gregs[REG_RIP], .sp = (uintptr_t)m->gregs[REG_RSP],
              .fp = (uintptr_t)m->gregs[REG_RBP], .limit = limit, .fp_ok = true};
    *truncated = false;
    return max > 0 ? walk(r, true, pcs, max, truncated) : 0;
}

uintptr_t prof_unwind_func_start(uintptr_t pc)
{
    struct dl_find_object obj;
    if (_dl_find_object((void *)pc, &obj) != 0 || obj.dlfo_eh_frame == NULL)
        return 0;
    const uint8_t *fde = find_fde(obj.dlfo_eh_frame, pc);
    cie_info cie;
    uint64_t start;
    cursor insns;
    return fde != NULL && parse_fde(fde, pc, &cie, &start, &insns) ? (uintptr_t)start : 0;
}

/* ---- where code lives, and the allocation stack ---- */

typedef struct code_range {
    uintptr_t lo, hi;
} code_range;

static struct {
    code_range self, allocator;
    bool ready;
} U;

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
    /* Signals blocked while the loader's lock is held: see pf_maps.c. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = dl_iterate_phdr(find_segment, &q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 1 ? 0 : -1;
}

static bool in_range(const code_range *r, uintptr_t pc)
{
    return pc >= r->lo && pc < r->hi;
}

int prof_unwind_init(const void *allocator_fn, char *err, size_t errlen)
{
    if (U.ready)
        return 0;
    if (code_of((const void *)prof_unwind_init, &U.self) != 0 ||
        code_of(allocator_fn, &U.allocator) != 0) {
        snprintf(err, errlen, "cannot find the code of the allocator or of the profiler");
        return -1;
    }
    U.ready = true;
    return 0;
}

const char *prof_unwind_method(void)
{
    return "DWARF CFI (.eh_frame_hdr, cached)";
}

size_t prof_unwind_alloc_stack(uintptr_t *pcs, size_t max)
{
    uintptr_t buf[SKIP_MAX + 128];
    size_t cap = max + SKIP_MAX < sizeof buf / sizeof *buf ? max + SKIP_MAX
                                                           : sizeof buf / sizeof *buf;
    size_t n = prof_unwind_stack(buf, cap), i = 0;
    while (i < n && in_range(&U.self, buf[i]))
        i++; /* this hook */
    while (i < n && in_range(&U.allocator, buf[i]))
        i++; /* tc_malloc, MallocHook::InvokeNewHookSlow, ... */
    size_t depth = 0;
    for (; i < n && depth < max; i++)
        pcs[depth++] = buf[i];
    return depth;
}
