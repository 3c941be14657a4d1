/*
 * server/kafka.h - takhind's Kafka listener (the `kafka` config section):
 * one event-loop thread owns the listening socket and every connection
 * (epoll, non-blocking sockets, a buffer in and out per connection); a
 * fixed pool of kafka.io_threads request threads decodes and answers the
 * requests (kafka_api.h) against the log (klog.h). A connection has at
 * most one request with the threads at a time, so its responses go out
 * in order; an idle connection costs its buffers and no thread. A Fetch
 * that must wait for records is parked in the loop until an append or
 * its max wait, never in a blocked thread.
 */
#ifndef TAKHIN_SERVER_KAFKA_H
#define TAKHIN_SERVER_KAFKA_H

#include "takhin/host/config.h"

typedef struct kafka kafka;

extern const tk_config_key kafka_config_keys[];

/* Binds kafka.listen and starts the threads when kafka.enabled; NULL
 * with err on failure (bad address, port in use). A disabled listener is
 * a valid, idle object. The caller owns the result. */
kafka *kafka_start(const tkh_config *cfg, char *err, size_t errlen);
/* Names the kafka.* keys that differ in cfg (they need a restart). */
void kafka_changed_keys(const kafka *k, const tkh_config *cfg, char *buf, size_t len);
/* One line of JSON: address, connections, requests per API, problems. */
void kafka_status(kafka *k, char *buf, size_t len);
/* Stops and joins the threads, closes every connection, frees the log. */
void kafka_stop(kafka *k);

#endif
