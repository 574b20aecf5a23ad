/* Modbus codec: addresses, PDUs, MBAP and RTU framing, CRC16, value conversion. Pure functions,
 * no I/O, every input bounds-checked (fuzzed by fuzz/modbus_response_fuzzer.c and modbus_address_fuzzer.c).
 * SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_MB_CODEC_H
#define TW_MB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "tagwire/types.h"

/* Protocol limits (Modbus Application Protocol v1.1b3, section 6). */
#define MB_MAX_PDU 253
#define MB_TCP_MBAP 7          /* transaction(2) protocol(2) length(2) unit(1) */
#define MB_TCP_MAX_ADU 260
#define MB_RTU_MAX_ADU 256
#define MB_MAX_READ_REGS 125   /* FC 3, 4 */
#define MB_MAX_READ_BITS 2000  /* FC 1, 2 */
#define MB_MAX_WRITE_REGS 123  /* FC 16 */
#define MB_MAX_WRITE_BITS 1968 /* FC 15 */
#define MB_MAX_RW_WRITE_REGS 121 /* FC 23 write part */

enum {
    MB_FC_READ_COILS = 0x01,
    MB_FC_READ_DISCRETE = 0x02,
    MB_FC_READ_HOLDING = 0x03,
    MB_FC_READ_INPUT = 0x04,
    MB_FC_WRITE_COIL = 0x05,
    MB_FC_WRITE_REGISTER = 0x06,
    MB_FC_WRITE_COILS = 0x0F,
    MB_FC_WRITE_REGISTERS = 0x10,
    MB_FC_READ_WRITE_REGISTERS = 0x17
};

typedef enum mb_area { MB_AREA_COIL = 0, MB_AREA_DISCRETE = 1, MB_AREA_INPUT = 3, MB_AREA_HOLDING = 4 } mb_area;

typedef enum mb_dtype {
    MB_DT_BOOL, MB_DT_INT16, MB_DT_UINT16, MB_DT_INT32, MB_DT_UINT32, MB_DT_INT64, MB_DT_UINT64,
    MB_DT_FLOAT32, MB_DT_FLOAT64, MB_DT_STRING
} mb_dtype;

/* ABCD = big-endian words, high word first (the Modbus default); CDAB = low word first;
 * BADC = bytes swapped inside each word; DCBA = both (little-endian). */
typedef enum mb_order { MB_ABCD = 0, MB_CDAB = 1, MB_BADC = 2, MB_DCBA = 3 } mb_order;

typedef struct mb_addr {
    mb_area area;
    mb_dtype dtype;
    mb_order order;
    uint16_t offset;  /* zero-based protocol address */
    uint16_t count;   /* registers (register areas) or bits (bit areas) the item spans */
    int8_t bit;       /* 0..15: a single bit of a register (BOOL); -1 otherwise */
    uint16_t strlen_; /* STRING: length in bytes */
    tw_type type;     /* the tagwire value type delivered */
} mb_addr;

/* Parses an address (syntax in docs/addresses.md). Returns TW_OK, TW_ERR_ADDRESS or
 * TW_ERR_UNSUPPORTED (arrays) with a message naming the problem in err. */
tw_status mb_parse_address(const char *s, mb_addr *out, char *err, size_t errlen);

/* ---- PDUs (requests) ----  each returns the PDU length, 0 on invalid arguments */
size_t mb_pdu_read(uint8_t *pdu, uint8_t fc, uint16_t addr, uint16_t qty);
size_t mb_pdu_write_single(uint8_t *pdu, uint8_t fc, uint16_t addr, uint16_t value);
size_t mb_pdu_write_registers(uint8_t *pdu, uint16_t addr, uint16_t qty, const uint16_t *regs);
size_t mb_pdu_write_coils(uint8_t *pdu, uint16_t addr, uint16_t qty, const uint8_t *packed_bits);
size_t mb_pdu_read_write_registers(uint8_t *pdu, uint16_t raddr, uint16_t rqty, uint16_t waddr, uint16_t wqty,
                                   const uint16_t *regs);

/*
 * Validates response PDU `rsp` against request PDU `req`: function code, exception, byte count
 * against the requested quantity (exactly), echoed address/quantity/value of writes, no trailing
 * bytes. On TW_OK, *data and *data_len give the payload of reads (register bytes big-endian / packed
 * bits). TW_ERR_MODBUS_EXCEPTION sets *exception. TW_ERR_PROTOCOL for anything malformed.
 */
tw_status mb_check_response(const uint8_t *req, size_t req_len, const uint8_t *rsp, size_t rsp_len,
                            const uint8_t **data, size_t *data_len, uint8_t *exception, char *err,
                            size_t errlen);

/* ---- Modbus TCP (MBAP) ---- */
/* Writes the 7-byte MBAP header for a PDU of pdu_len bytes. */
void mb_tcp_header(uint8_t *buf, uint16_t tid, uint8_t unit, size_t pdu_len);
/* Frames the first ADU in buf[0..have): TW_ERR_AGAIN (need more bytes), TW_ERR_PROTOCOL (protocol
 * id not 0, length outside 2..254), TW_OK with *adu_len. */
tw_status mb_tcp_frame(const uint8_t *buf, size_t have, size_t *adu_len, char *err, size_t errlen);

/* ---- Modbus RTU ---- */
uint16_t mb_crc16(const uint8_t *p, size_t n);
/* Appends unit + pdu + CRC (low byte first) into adu (>= pdu_len + 3 bytes); returns length. */
size_t mb_rtu_frame_request(uint8_t *adu, uint8_t unit, const uint8_t *pdu, size_t pdu_len);
/* Decides the length of the response to `req` from its first bytes: TW_ERR_AGAIN (need more),
 * TW_OK with *adu_len, TW_ERR_PROTOCOL (a function code the request cannot produce). */
tw_status mb_rtu_response_len(const uint8_t *req, size_t req_len, const uint8_t *buf, size_t have,
                              size_t *adu_len, char *err, size_t errlen);
/* Checks a complete RTU response ADU: CRC and unit. On TW_OK *pdu and *pdu_len point inside adu. */
tw_status mb_rtu_check(const uint8_t *adu, size_t adu_len, uint8_t unit, const uint8_t **pdu, size_t *pdu_len,
                       char *err, size_t errlen);

/* ---- values ---- */
/* Decodes an item from register bytes (big-endian wire bytes; regs points at the item's first
 * register) into v. STRING copies into strbuf (capacity strcap) and stops at the first NUL. */
void mb_decode_regs(const mb_addr *a, const uint8_t *regs, tw_value *v, void *strbuf, size_t strcap);
/* Encodes v into a->count register words (host order values for the wire) for a write.
 * TW_ERR_TYPE_MISMATCH / TW_ERR_RANGE when v does not fit the item's type. */
tw_status mb_encode_regs(const mb_addr *a, const tw_value *v, uint16_t *words, char *err, size_t errlen);
/* Converts a value to a coil state. */
tw_status mb_value_to_bool(const tw_value *v, int *out);

const char *mb_exception_name(uint8_t code);
tw_quality mb_exception_quality(uint8_t code);
const char *mb_area_name(mb_area a);

#endif
