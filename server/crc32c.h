/*
 * server/crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka record
 * batches: the one implementation the workload and the Kafka listener share.
 */
#ifndef TAKHIN_SERVER_CRC32C_H
#define TAKHIN_SERVER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of len bytes at p (thread-safe; bytewise, table-driven). */
uint32_t crc32c(const unsigned char *p, size_t len);

#endif
