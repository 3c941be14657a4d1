/*
 * plugin/cpu.h - /debug/pprof/profile: a CPU profile of the whole process
 * with gperftools, one at a time, converted to symbolized profile.proto.
 *
 * gperftools writes to a file only: each profile gets a mkstemp file in a
 * private 0700 directory made at init and removed at fini; the file is
 * removed in every case before the handler returns.
 */
#ifndef TAKHIN_PLUGIN_CPU_H
#define TAKHIN_PLUGIN_CPU_H

#include "http.h"

typedef struct prof_cpu prof_cpu;

/* Makes the private temp directory under $TMPDIR (or /tmp). */
prof_cpu *prof_cpu_new(char *err, size_t errlen);
/* Removes the directory. No profile may be running. NULL is fine. */
void prof_cpu_free(prof_cpu *cpu);

/* The handler of /debug/pprof/profile. */
void prof_cpu_handle(prof_request *req);

#endif
