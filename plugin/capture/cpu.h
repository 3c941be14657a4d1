/*
 * plugin/capture/cpu.h - the slot of the CPU profiles (profiles/cpu.c
 * serves them): who profiles now, with which sampler, and push's windows.
 * Profiles are taken with the sampler in force (sampler.h: perf events or thread timers per thread; or
 * gperftools' process-wide ITIMER_PROF).
 *
 * gperftools writes to a file only: each of its profiles gets a mkstemp
 * file in a private 0700 directory made at init and removed at fini; the
 * file is removed in every case before the handler returns.
 */
#ifndef TAKHIN_PLUGIN_CAPTURE_CPU_H
#define TAKHIN_PLUGIN_CAPTURE_CPU_H

#include "capture/convert.h"
#include "capture/sampler.h"

#include <stdbool.h>

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

/* A place among the running CPU profiles: what to profile with. */
typedef struct prof_cpu_slot {
    prof_sampler_choice choice;
    int hz;
    prof_sampler *session;       /* the plugin's sampler, valid while the slot is held */
    prof_sampler_reader *reader; /* NULL with gperftools */
} prof_cpu_slot;

/* Takes a place for a profile of `seconds`: the plugin's sampler serves
 * up to max_readers at once from one session; gperftools serves one. 0,
 * or the HTTP status (409, 503) with err. */
int prof_cpu_claim(prof_cpu *cpu, long seconds, int hz, int max_readers, prof_cpu_slot *slot,
                   char *err, size_t errlen);
/* Gives the place back; the last reader stops the sampler. */
void prof_cpu_release(prof_cpu *cpu);
/* Records the signals per CPU-second of the profile just answered. */
void prof_cpu_note_achieved(prof_cpu *cpu, double hz);

/* gperftools (a slot without reader): a fresh file in the private
 * directory (0, or -1 with errno; path holds its name), then its profiler
 * at hz into it (false: already in use in this process), then stop. */
int prof_cpu_temp_file(prof_cpu *cpu, char *path, size_t len);
bool prof_cpu_gperftools_start(const char *path, int hz);
void prof_cpu_gperftools_stop(void);

/* A run's clocks: begin notes the start (and the rate asked), end turns
 * cpu_seconds and wall_seconds into what the process used since. */
void prof_cpu_run_begin(prof_cpu_run *run, int hz);
void prof_cpu_run_end(prof_cpu_run *run);
/* Says in run->sampler which sampler ran and what it leaves out. */
void prof_cpu_describe(const prof_sampler_choice *c, const prof_sampler_result *r,
                       prof_cpu_run *run);

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
/* Bounds the bytes of this window's profile and the next ones'
 * (prof_sampler_reader_cap; 0: none); the bytes it holds now. */
void prof_cpu_window_cap(prof_cpu_window *w, size_t cap);
size_t prof_cpu_window_bytes(prof_cpu_window *w);
/* What the window that ended last counted. */
typedef struct prof_cpu_window_counts {
    uint64_t signals; /* samples taken */
    uint64_t lost;    /* lost: the sampler's ring was full */
    uint64_t dropped; /* left out to keep under the cap */
    uint64_t samples; /* samples/count: CPU time in periods */
    double cpu_seconds; /* CPU time the process used meanwhile */
} prof_cpu_window_counts;
prof_cpu_window_counts prof_cpu_window_last(const prof_cpu_window *w);
/* Merges what the window under way gathered so far into dst (the window
 * goes on), with its counts and times. 0, or -1 with err. */
int prof_cpu_window_peek(prof_cpu_window *w, pf_profile *dst, prof_cpu_window_counts *c,
                         int64_t *from_ns, int64_t *until_ns, char *err, size_t errlen);

#endif
