/* pf_dwarf.h - fast per-module lookup structures over libdwfl, used by
 * pf_symbolize.c. Internal.
 *
 * libdwfl's own dwfl_module_addrinfo scans the whole symbol table per call
 * and dwarf_getscopes walks a whole CU per call; with libc's debug info
 * that is about 300 us per address. Here each module gets, on first use, a
 * sorted table of its function symbols, and each CU, on first use, a
 * sorted table of its functions' address ranges: a lookup is then two
 * binary searches and a walk down one function's DIEs. */
#ifndef PF_DWARF_H
#define PF_DWARF_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>

#include "pf_symbol.h"

typedef struct pf_dw pf_dw;

pf_dw *pf_dw_new(void);
/* Frees the indexes; call before dwfl_end of the Dwfl they were built on. */
void pf_dw_free(pf_dw *d);

/* Resolves addr inside mod into out (innermost first). The strings point
 * into libdw's data and live until dwfl_end: the caller copies them. */
void pf_dw_resolve(pf_dw *d, Dwfl_Module *mod, uint64_t addr, pf_symbol *out);

#endif
