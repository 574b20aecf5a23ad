/* S7 addresses and values (private to the s7 adapter). SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_S7_ADDRESS_H
#define TW_S7_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "tagwire/types.h"
#include "tagwire/core.h"

/* S7 area codes as carried on the wire (Read Var / Write Var item "area"). */
#define S7_AREA_I 0x81  /* process inputs (PE) */
#define S7_AREA_Q 0x82  /* process outputs (PA) */
#define S7_AREA_M 0x83  /* flags / merker (MK) */
#define S7_AREA_DB 0x84 /* data blocks */

typedef enum {
    S7_DT_BOOL, S7_DT_BYTE, S7_DT_SINT, S7_DT_USINT, S7_DT_CHAR, S7_DT_WORD, S7_DT_INT, S7_DT_UINT,
    S7_DT_DWORD, S7_DT_DINT, S7_DT_UDINT, S7_DT_REAL, S7_DT_LREAL, S7_DT_LINT, S7_DT_ULINT, S7_DT_STRING
} s7_dtype;

typedef struct s7_addr {
    uint8_t area;      /* S7_AREA_* */
    uint16_t db;       /* data block number (S7_AREA_DB), else 0 */
    uint32_t byte;     /* byte offset, 0..65535 */
    int8_t bit;        /* 0..7 for BOOL, else -1 */
    s7_dtype dtype;
    uint16_t size;     /* bytes occupied in the PLC (STRING[n]: n + 2) */
    uint16_t strmax;   /* STRING[n]: n (1..254) */
    tw_type type;      /* the tag-model type delivered */
} s7_addr;

/* Parses "DB1.DBX0.0", "DB1.DBW10:INT", "MW10", "I0.0", "DB2.DBB0:STRING[20]", ... (docs/addresses.md).
 * Returns TW_OK or TW_ERR_ADDRESS with a message naming the problem in err. */
tw_status tw__s7_parse_address(const char *s, s7_addr *out, char *err, size_t errlen);

/* The largest value in bytes the item delivers (STRING: UTF-8 of Latin-1, 2 bytes a character). */
size_t tw__s7_max_bytes(const s7_addr *a);

/* Decodes the item's bytes as read from the PLC (len must be a->size; STRING: the header is checked
 * against the buffer). `buf`/`buf_size` receive STRING text as UTF-8. Returns TW_OK or
 * TW_ERR_PROTOCOL (bad length, bad STRING header) with a message. */
tw_status tw__s7_decode(const s7_addr *a, const uint8_t *data, size_t len, tw_value *out, char *buf, size_t buf_size,
                        char *err, size_t errlen);

/* Encodes a value for writing into out (at least a->size bytes); *out_len receives the number of bytes
 * to write (STRING: 2 + actual length). Errors: TW_ERR_TYPE_MISMATCH, TW_ERR_RANGE. */
tw_status tw__s7_encode(const s7_addr *a, const tw_value *v, uint8_t *out, size_t *out_len, char *err, size_t errlen);

#endif
