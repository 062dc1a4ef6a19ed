/*
 * Redis Cluster key slots, as the Redis Cluster specification defines
 * them: HASH_SLOT = CRC16(key) mod 16384, where CRC16 is the XMODEM
 * variant (polynomial 0x1021, initial value 0, no reflection, no final
 * XOR), and only the hash tag is hashed when the key has one: the bytes
 * between the first '{' and the first '}' after it, if there is at least
 * one byte between them.
 */
#ifndef SESSIONLAB_CLUSTER_SLOT_H
#define SESSIONLAB_CLUSTER_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384

/* CRC16-XMODEM of buf[0..len). */
uint16_t cluster_crc16(const char *buf, size_t len);

/* The slot of key[0..len): 0..CLUSTER_SLOTS-1. */
unsigned cluster_key_slot(const char *key, size_t len);

#endif
