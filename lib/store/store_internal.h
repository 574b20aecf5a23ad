/* Private interface of the store module (tests reach it through the static library). */
#ifndef TW_STORE_INTERNAL_H
#define TW_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tagwire/store.h"

/* Replaces the wall clock (ms since the Unix epoch) used for record times and the age bound. */
void tw__store_set_clock(tw_store *s, int64_t (*fn)(void *ctx), void *ctx);
/* The portable slice-by-8 CRC32C, whatever the CPU offers. */
uint32_t tw__crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
