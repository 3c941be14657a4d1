/*
 * plugin/cpu.h - /debug/pprof/profile: a CPU profile of the whole process,
 * one at a time, as symbolized profile.proto, taken with the sampler in
 * force (sampler.h: perf events or thread timers per thread; or
 * gperftools' process-wide ITIMER_PROF).
 *
 * gperftools writes to a file only: each of its profiles gets a mkstemp
 * file in a private 0700 directory made at init and removed at fini; the
 * file is removed in every case before the handler returns.
 */
#ifndef TAKHIN_PLUGIN_CPU_H
#define TAKHIN_PLUGIN_CPU_H

#include "http.h"
#include "sampler.h"

typedef struct prof_cpu prof_cpu;

/* Makes the private temp directory under $TMPDIR (or /tmp). */
prof_cpu *prof_cpu_new(char *err, size_t errlen);
/* Removes the directory. No profile may be running. NULL is fine. */
void prof_cpu_free(prof_cpu *cpu);

/* The sampler the next profiles use (a running one keeps its own). The
 * default is gperftools. */
void prof_cpu_set_sampler(prof_cpu *cpu, const prof_sampler_choice *choice);
prof_sampler_choice prof_cpu_sampler(prof_cpu *cpu);
/* Samples per CPU-second of the last profile answered (0 before one). */
double prof_cpu_last_achieved_hz(prof_cpu *cpu);

/* The handler of /debug/pprof/profile. */
void prof_cpu_handle(prof_request *req);

/* CPU windows for push: one more reader of the plugin's sampler, not
 * counted against max_cpu_readers, so operators' profiles still run
 * meanwhile. Not with gperftools (one profile at a time). Open starts a
 * window (and the sampler if none runs); next ends it, starts the next at
 * once, and returns the ended window's profile with mappings, comments and
 * times (caller frees; NULL with err); close ends the last window. One
 * thread drives a window. */
typedef struct prof_cpu_window prof_cpu_window;
prof_cpu_window *prof_cpu_window_open(prof_cpu *cpu, int hz, char *err, size_t errlen);
pf_profile *prof_cpu_window_next(prof_cpu_window *w, int64_t *from_ns, int64_t *until_ns,
                                 char *err, size_t errlen);
void prof_cpu_window_close(prof_cpu *cpu, prof_cpu_window *w); /* NULL is fine */

#endif
