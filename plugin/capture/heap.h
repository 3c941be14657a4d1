/*
 * plugin/capture/heap.h - the sampler of /debug/pprof/heap and /allocs
 * (served by profiles/heap.c): one
 * sampler of our own on tcmalloc's C malloc hooks (malloc_hook_c.h,
 * resolved with dlsym: the plugin never links tcmalloc).
 *
 * Availability. tcmalloc must be the process allocator (the host links
 * -ltcmalloc or runs with LD_PRELOAD); otherwise both endpoints answer 501.
 * profiler.heap_sample_bytes = 0 turns sampling off: hooks removed, data
 * dropped, both endpoints answer 503 with how to turn it on.
 *
 * Lifetime of the hooks. Installed at plugin init (and when a reload turns
 * heap_sample_bytes from 0 to N), whether or not the HTTP server is
 * enabled: allocs is cumulative since the plugin was loaded (or since
 * sampling was last turned on), and heap covers objects allocated since
 * then. Removed at fini and when a reload sets 0: then the sampler waits
 * 20 ms (a hook may have been fetched by tcmalloc before its removal) and
 * until no hook is inside its slow path (an atomic counter), and only then
 * clears or frees its tables. A new N on reload applies to the next
 * sample of each thread; each sample is scaled with the rate it was taken
 * at, so estimates stay right across changes.
 *
 * Sampling, as Go's runtime does: each thread counts down bytes to its next
 * sample, drawn from an exponential distribution of mean heap_sample_bytes;
 * the allocation that crosses zero is sampled and counts for
 * 1/(1-exp(-size/rate)) objects of its size (Go's scaleHeapSample, applied
 * per sample). debug=1 prints the raw sample counts with "heap/2*rate", as
 * Go does (pprof unsamples them), then the sampler's figures as comments
 * and, as gperftools does, the process's mappings after
 * "MAPPED_LIBRARIES:", so that pprof can read a saved text.
 *
 * Cost: the new hook's fast path is a subtract and a branch on a
 * thread-local counter; the delete hook's is a bit test in a 32 KiB bitmap
 * (one bit per chain of sampled objects, by pointer hash; set for about
 * live samples / 2^18 of all pointers). tcmalloc's dispatch to any hook
 * costs more than both (about +9 ns a malloc/free pair here, ours +1-2 ns
 * on top). A sample (stack walk, see unwinder.h; table insert) costs about
 * 0.4 us, tcmalloc's own sampler about 40 us: see bench/bench_heap.c.
 *
 * Memory bounds: at most PROF_HEAP_MAX_STACKS distinct stacks of at most
 * PROF_HEAP_MAX_DEPTH frames in a 4 MiB arena (samples of further stacks
 * are dropped and counted), at most PROF_HEAP_MAX_LIVE sampled objects
 * tracked for in-use (further ones count in allocs but not in heap: counted
 * as untracked). 6.8 MiB of address space mmap'd at first start, touched
 * as used, unmapped at fini; 224 KiB of .bss (the delete hook's bitmap,
 * the unwinder's cache). Resident from the start: 480 KiB (the tables
 * indexed by hash); then the arena and the live entries as they fill. The
 * counts of drops are in the debug=1 trailer.
 *
 * Threads: init, reconfigure and fini from the host's lifecycle thread;
 * handlers on HTTP workers; hooks on every thread. Ownership: the sampler
 * is process-wide state of this file (the hooks have no context).
 */
#ifndef TAKHIN_PLUGIN_CAPTURE_HEAP_H
#define TAKHIN_PLUGIN_CAPTURE_HEAP_H

#include "capture/records.h"
#include "core/settings.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROF_HEAP_MAX_STACKS 16384
#define PROF_HEAP_MAX_DEPTH 64
#define PROF_HEAP_MAX_LIVE 65536

/* Starts sampling at `sample_bytes` (0: off) if tcmalloc is the allocator;
 * logs what it did. Never fails the plugin: what is missing is told to
 * the HTTP clients (501, 503, 500). */
void prof_heap_init(const prof_host *ph, long sample_bytes);
/* heap_sample_bytes from a config reload. */
void prof_heap_reconfigure(long sample_bytes);
/* Removes the hooks, waits for them, frees the tables. No handler may run. */
void prof_heap_fini(void);


/* Copies the stack table into out (4 values a stack: alloc objects, alloc
 * bytes, in-use objects, in-use bytes), as estimates of the real counts
 * or as the raw samples. 0, or the HTTP status that says why there is no
 * profile (501, 503, 500) with err. */
int prof_heap_snapshot(prof_records *out, bool estimates, char *err, size_t errlen);
/* Stacks in the table, -1 while heap profiling is off or unavailable. */
long prof_heap_stacks(void);

/* The sampler's own figures, for the text's trailer. */
typedef struct prof_heap_stats {
    long rate; /* profiler.heap_sample_bytes in force */
    uint64_t samples, dropped, untracked;
    unsigned stacks;
} prof_heap_stats;
void prof_heap_stats_get(prof_heap_stats *out);
/* A numeric property of tcmalloc ("generic.heap_size"); false if none. */
bool prof_heap_allocator_property(const char *name, size_t *value);

/* ---- for tests ---- */

/* What the allocator offers, found with `lookup` (dlsym in production).
 * NULL when heap profiling can work, else why not (the 501 message). */
const char *prof_heap_check_allocator(void *(*lookup)(const char *name));
/* 1/(1-exp(-size/rate)): objects one sample of `size` bytes stands for. */
double prof_heap_sample_weight(uint64_t size, long rate);

#endif
