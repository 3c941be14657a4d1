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

/* Where separate debug files are looked for, local files only (no
 * network): for a module with build ID ab12..., ROOT/.build-id/ab/12....debug
 * under each root of debug_dirs (':'-separated absolute directories, may be
 * NULL) then /usr/lib/debug; failing that its .gnu_debuglink name beside
 * the file, in .debug/ beside it, and under each root + the file's
 * directory. A debug file is used only if its build ID is the module's
 * (or, for a module without one, its CRC the debuglink's). MiniDebugInfo
 * (.gnu_debugdata) is libdwfl's own fallback for the symbol table. A dwz
 * alternate file (.gnu_debugaltlink) is libdwfl's build-ID lookup's
 * (under /usr/lib/debug only). */
pf_dw *pf_dw_new(const char *debug_dirs);

/* An extra source of debug files tried after the local ones (the CLI's
 * debuginfod): returns an open fd of a file for build_id (hex) and sets
 * *path (malloc'd), or -1. file is the module's file name. */
typedef int (*pf_dw_fetch_fn)(void *ctx, const char *build_id, const char *file, char **path);
void pf_dw_set_fetch(pf_dw *d, pf_dw_fetch_fn fn, void *ctx);

/* libdwfl's find_debuginfo callback implementing the search above, for
 * the pf_dw whose pf_dw_resolve is running on this thread (only
 * /usr/lib/debug outside one). Put it in the Dwfl_Callbacks. */
int pf_dw_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                         Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                         GElf_Word debuglink_crc, char **debuginfo_file_name);

/* Opens a local debug file for build_id (hex) under d's roots, checked.
 * Returns an fd and *path (malloc'd), or -1. */
int pf_dw_open_build_id(const pf_dw *d, const char *build_id, char **path);

/* The debug file of an object whose file is open as fd (path names it,
 * id is its build ID): by build ID, then .gnu_debuglink, as above; failing
 * those, the file itself when it carries DWARF (-1 then, with *path NULL,
 * and *self true). Returns an fd and *path (malloc'd), or -1. */
int pf_dw_open_debug_of(const pf_dw *d, int fd, const char *path, const char *id,
                        char **found, bool *self);

/* The GNU build ID of an ELF file (hex, section or segment notes) into out
 * (>= 81 bytes). 0, or -1. */
int pf_dw_elf_build_id(int fd, char *out, size_t outlen);
/* Frees the indexes; call before dwfl_end of the Dwfl they were built on. */
void pf_dw_free(pf_dw *d);

/* Resolves addr inside mod into out (innermost first). The strings point
 * into libdw's data and live until dwfl_end: the caller copies them. */
void pf_dw_resolve(pf_dw *d, Dwfl_Module *mod, uint64_t addr, pf_symbol *out);

#endif
