/*
 * pf_symbol.h - what a symbolizer finds for one address: its functions,
 * innermost (inlined) first, with file and line. The result type of the
 * online symbolizer (pf_symbolize.h) and of the per-module DWARF lookup
 * under it and under the CLI's offline symbolizer (pf_dwarf.h).
 */
#ifndef PF_SYMBOL_H
#define PF_SYMBOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PF_SYM_MAX_FRAMES 16 /* deeper inline chains keep the innermost
                                15 frames and the real function */

typedef struct pf_sym_frame {
    const char *function; /* NULL when unknown; symbol versions stripped */
    const char *file;     /* NULL when unknown */
    int64_t line;         /* 0 when unknown */
    int64_t start_line;   /* declaration line of the function, 0 if unknown */
} pf_sym_frame;

typedef struct pf_symbol {
    size_t nframes; /* 0: the address is not known */
    /* frame[0] is the innermost (inlined) function, frame[nframes - 1] the
     * function the code really belongs to (profile.proto's Line order). */
    pf_sym_frame frame[PF_SYM_MAX_FRAMES];
    bool has_debug_info; /* DWARF was found for the address's module */
} pf_symbol;

#ifdef __cplusplus
}
#endif
#endif
