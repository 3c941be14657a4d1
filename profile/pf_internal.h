/*
 * pf_internal.h - helpers shared by the profile core's own .c files.
 * Not part of the public API: plugin and CLI code include profile.h (the
 * small mechanisms everybody uses are public, in pf_util.h).
 */
#ifndef PF_INTERNAL_H
#define PF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_common.h"

/* ---- loaded objects of this process (dl_iterate_phdr) ---- */
typedef struct pf_object {
    char *name;        /* as the loader knows it; "" for the main program */
    uint64_t bias;     /* load bias (dlpi_addr) */
    uint64_t lo, hi;   /* span of the PT_LOAD segments, absolute */
    char build_id[81]; /* hex; "" when absent */
} pf_object;

typedef struct pf_objects {
    pf_object *obj;
    size_t len;
    unsigned long long adds, subs; /* loader counters at collection time */
} pf_objects;

int pf_objects_collect(pf_objects *out); /* 0 or -1 (out of memory) */
const pf_object *pf_objects_find(const pf_objects *o, uint64_t addr);
void pf_objects_free(pf_objects *o);
/* The loader's (adds, subs) counters, to detect dlopen/dlclose cheaply. */
void pf_objects_counters(unsigned long long *adds, unsigned long long *subs);

/* Build ID of an ELF file, read by hand from its PT_NOTE segments.
 * Writes hex into out (>= 81 bytes). Returns 0, or -1 if none/unreadable. */
int pf_elf_build_id_fd(int fd, char *out, size_t outlen);
/* Hex-encodes a build ID note descriptor; truncates to outlen - 1. */
void pf_hex(const uint8_t *data, size_t len, char *out, size_t outlen);

#endif
