/*
 * plugin/capture/convert.h - from what a CPU sampler gathered (gperftools' file,
 * or the plugin's own sampler) to the gzipped, symbolized profile.proto a
 * pprof client reads.
 */
#ifndef TAKHIN_PLUGIN_CONVERT_H
#define TAKHIN_PLUGIN_CONVERT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pf_profile.h"
#include "pf_symbolize.h"

/* What a CPU profile run measured. */
typedef struct prof_cpu_run {
    struct timespec started; /* CLOCK_REALTIME */
    double wall_seconds;
    double cpu_seconds; /* CPU time the whole process used meanwhile */
    int requested_hz;
    double signals_hz;  /* the plugin's sampler: its signals per CPU second */
    char sampler[1024]; /* which sampler and what it leaves out: a comment */
} prof_cpu_run;

/* An encoded profile; the caller frees data. */
typedef struct prof_blob {
    uint8_t *data;
    size_t len;
    double achieved_hz; /* samples per CPU second really taken */
} prof_blob;

/* Reads the legacy CPU profile at `path` (written by this process) and
 * encodes it. The sampling period is the one really achieved: samples
 * divided by the CPU time used, so cpu/nanoseconds adds up to the CPU time
 * the process used. 0, or -1 with err. */
int prof_convert_cpu(const char *path, const prof_cpu_run *run, pf_symbolizer *sym,
                     prof_blob *out, char *err, size_t errlen);

/* Adds the process's mappings, the run's comments and times to what the
 * plugin's sampler gathered (its period is the real one), and encodes it;
 * takes ownership of profile. 0, or -1 with err. */
int prof_convert_samples(pf_profile *profile, uint64_t samples, const prof_cpu_run *run,
                         pf_symbolizer *sym, prof_blob *out, char *err, size_t errlen);

/* prof_convert_samples without the encoding: adds the mappings, the
 * run's comments and times to `profile` (still the caller's) and sets
 * *achieved_hz. 0, or -1 with err. */
int prof_convert_prepare(pf_profile *profile, uint64_t samples, const prof_cpu_run *run,
                         double *achieved_hz, char *err, size_t errlen);

#endif
