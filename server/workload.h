/*
 * server/workload.h - the reference server's workload, modelled on Takhin:
 * producer threads hash and compress records and append them to a
 * partitioned in-memory log (produce_handle -> storage_append -> log_write);
 * consumer threads wait for new records (consume_records), read them back
 * and verify them. The log (klog.h, the implementation the Kafka listener
 * stores its batches in, a log of its own here) keeps the newest
 * demo.retain_records records of each partition and frees older ones, so
 * allocations and frees run steadily.
 */
#ifndef TAKHIN_SERVER_WORKLOAD_H
#define TAKHIN_SERVER_WORKLOAD_H

#include "takhin/host/config.h"

typedef struct workload workload;

/* The `demo` config section. */
extern const tk_config_key workload_config_keys[];

/* Reads the `demo` section of cfg; starts the threads when demo.enabled.
 * NULL with err on failure. The caller owns the result. */
workload *workload_start(const tkh_config *cfg, char *err, size_t errlen);
/* Applies a reloaded config: demo.rate and demo.labels take effect at once; a change of
 * any other demo key (threads, partitions, sizes) needs a restart of the
 * process and is logged as such. Writes the keys that changed, comma-
 * separated ("" for none), into `applied` (in effect now) and `pending`
 * (not applied until a restart); both hold `len` bytes. */
void workload_reconfigure(workload *wl, const tkh_config *cfg, char *applied, char *pending,
                          size_t len);
/* One line of JSON: records produced and consumed, bytes, rate. */
void workload_status(const workload *wl, char *buf, size_t len);
/* `workload hold_mutex MS`: a thread (mutex-holder) takes a pthread mutex
 * and holds it MS ms while another (mutex-waiter) waits for it in
 * wall_lock_wait -> pthread_mutex_lock; both then end. 0, or -1 with err
 * (one is still held). */
int workload_hold_mutex(workload *wl, long ms, char *err, size_t errlen);
/* Stops and joins the threads, frees everything. NULL is fine. */
void workload_stop(workload *wl);

#endif
