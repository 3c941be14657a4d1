/*
 * plugin/capture/contention.h - the recorder of /debug/pprof/mutex and
 * /debug/pprof/block (profiles/contention.c serves them), with Go's
 * sampling semantics, fed by the host's event hooks (events.h):
 *
 *   mutex  a contended unlock ("released"): the holder's stack. One event
 *          in mutex_fraction is sampled at random; its count and delay are
 *          scaled by mutex_fraction (runtime.SetMutexProfileFraction).
 *   block  a wait on a mutex or a condition ("waited"): the waiter's
 *          stack. A wait of d >= block_rate ns is always recorded; a
 *          shorter one with probability d / block_rate, then counted as
 *          block_rate / d events of block_rate ns, so that the estimate is
 *          unbiased (runtime.SetBlockProfileRate).
 *
 * Both are cumulative since the plugin was loaded, as in Go; ?seconds=N
 * gives a delta. Stacks go to a bounded table per profile (events beyond
 * it are counted as dropped and said so in debug=1). The frames of the
 * hooks and of the host's primitives are cut off when the profile is read,
 * so the leaf is the caller of tkh_mutex_unlock / tkh_mutex_lock /
 * tkh_cond_wait.
 *
 * Threads: the hook entry points run in the host's threads and take only a
 * plain pthread mutex per table, for the time of a hash-table insert; the
 * setters and readers may run on any thread.
 * Ownership: prof_events owns the prof_contention (events.h).
 */
#ifndef TAKHIN_PLUGIN_CAPTURE_CONTENTION_H
#define TAKHIN_PLUGIN_CAPTURE_CONTENTION_H

#include "capture/records.h"

#include <stdbool.h>

#include <stdint.h>

#define PROF_CONTENTION_MAX_STACKS 2048 /* distinct stacks per profile */

typedef struct prof_contention prof_contention;

/* Tables for both profiles (address space reserved, touched as used).
 * NULL when out of memory. */
prof_contention *prof_contention_new(long mutex_fraction, int64_t block_rate);
/* The hooks must be out first (prof_events_free sees to it). NULL is fine. */
void prof_contention_free(prof_contention *c);

/* The settings in force; the hooks see a change at once. */
void prof_contention_set(prof_contention *c, long mutex_fraction, int64_t block_rate);
long prof_contention_fraction(const prof_contention *c);
int64_t prof_contention_rate(const prof_contention *c);
/* True when either profile samples: the hooks are needed. */
bool prof_contention_on(const prof_contention *c);

/* Hook entry points (events.c), in the thread of the event. */
void prof_contention_released(prof_contention *c, int64_t delay_ns);
void prof_contention_waited(prof_contention *c, int64_t delay_ns);

/* Go's sampling decisions, pure (for tests): `rnd` is a uniform random
 * number. True when the event is recorded, with the count and delay to
 * add. */
bool prof_contention_mutex_sample(long fraction, int64_t delay_ns, uint64_t rnd,
                                  double *count, int64_t *delay);
bool prof_contention_block_sample(int64_t rate, int64_t delay_ns, uint64_t rnd,
                                  double *count, int64_t *delay);

/* Reading a profile: the stacks of one table (block's, or mutex's) as
 * records with values {contentions, delay ns}, the hooks' and the host's
 * primitives' frames cut off. 0, or an HTTP status with err. */
int prof_contention_collect(prof_contention *c, bool block, prof_records *out, char *err,
                            size_t errlen);
/* Stacks in a table; events dropped because it was full. */
long prof_contention_count(prof_contention *c, bool block);
uint64_t prof_contention_dropped(prof_contention *c, bool block);

#endif
