/* Modbus codec. Written from the Modbus Application Protocol Specification v1.1b3, the Modbus
 * Messaging on TCP/IP Implementation Guide v1.0b and Modbus over Serial Line v1.02.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mb_codec.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- addresses ---- */

static const struct { const char *name; mb_area area; } k_areas[] = {
    {"coil", MB_AREA_COIL}, {"coils", MB_AREA_COIL}, {"c", MB_AREA_COIL},
    {"discrete-input", MB_AREA_DISCRETE}, {"discrete-inputs", MB_AREA_DISCRETE}, {"di", MB_AREA_DISCRETE},
    {"input-register", MB_AREA_INPUT}, {"input-registers", MB_AREA_INPUT}, {"ir", MB_AREA_INPUT},
    {"holding-register", MB_AREA_HOLDING}, {"holding-registers", MB_AREA_HOLDING}, {"hr", MB_AREA_HOLDING},
};

static const struct { const char *name; mb_dtype dt; } k_types[] = {
    {"BOOL", MB_DT_BOOL}, {"INT16", MB_DT_INT16}, {"UINT16", MB_DT_UINT16}, {"INT32", MB_DT_INT32},
    {"UINT32", MB_DT_UINT32}, {"INT64", MB_DT_INT64}, {"UINT64", MB_DT_UINT64}, {"FLOAT32", MB_DT_FLOAT32},
    {"FLOAT64", MB_DT_FLOAT64}, {"STRING", MB_DT_STRING},
    /* IEC 61131-3 style aliases */
    {"INT", MB_DT_INT16}, {"UINT", MB_DT_UINT16}, {"WORD", MB_DT_UINT16}, {"DINT", MB_DT_INT32},
    {"UDINT", MB_DT_UINT32}, {"DWORD", MB_DT_UINT32}, {"LINT", MB_DT_INT64}, {"ULINT", MB_DT_UINT64},
    {"LWORD", MB_DT_UINT64}, {"REAL", MB_DT_FLOAT32}, {"FLOAT", MB_DT_FLOAT32}, {"LREAL", MB_DT_FLOAT64},
    {"DOUBLE", MB_DT_FLOAT64},
};

const char *mb_area_name(mb_area a)
{
    switch (a) {
    case MB_AREA_COIL: return "coil";
    case MB_AREA_DISCRETE: return "discrete-input";
    case MB_AREA_INPUT: return "input-register";
    case MB_AREA_HOLDING: return "holding-register";
    }
    return "?";
}

static int ieq(const char *a, size_t alen, const char *b)
{
    size_t bl = strlen(b);
    if (alen != bl) return 0;
    for (size_t i = 0; i < alen; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i])) return 0;
    return 1;
}

#define AERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_ADDRESS)

tw_status mb_parse_address(const char *s, mb_addr *out, char *err, size_t errlen)
{
    if (!s) return AERR("address is NULL");
    memset(out, 0, sizeof *out);
    out->bit = -1;
    size_t slen = strlen(s);
    if (slen == 0) return AERR("address is empty (expected e.g. holding-register:40001:FLOAT32)");
    if (slen > 128) return AERR("address longer than 128 characters");
    /* split on ':' into at most 4 fields */
    const char *f[5];
    size_t fl[5];
    int nf = 0;
    const char *p = s;
    for (;;) {
        const char *c = strchr(p, ':');
        if (nf == 4) return AERR("address '%s': too many ':' fields (expected AREA:NUMBER[:TYPE[:ORDER]])", s);
        f[nf] = p;
        fl[nf] = c ? (size_t)(c - p) : strlen(p);
        nf++;
        if (!c) break;
        p = c + 1;
    }
    if (nf < 2) return AERR("address '%s': expected AREA:NUMBER (e.g. holding-register:40001)", s);
    int ai = -1;
    for (size_t i = 0; i < TW__ARRAY_LEN(k_areas); i++)
        if (ieq(f[0], fl[0], k_areas[i].name)) ai = (int)i;
    if (ai < 0)
        return AERR("address '%s': unknown area '%.*s' (expected coil, discrete-input, input-register or "
                    "holding-register)", s, (int)fl[0], f[0]);
    out->area = k_areas[ai].area;
    int is_bits = out->area == MB_AREA_COIL || out->area == MB_AREA_DISCRETE;

    /* NUMBER[.BIT] */
    const char *num = f[1];
    size_t nl = fl[1];
    const char *dot = memchr(num, '.', nl);
    size_t numl = dot ? (size_t)(dot - num) : nl;
    if (numl == 0) return AERR("address '%s': missing register/bit number", s);
    uint32_t offset = 0;
    if (numl > 2 && num[0] == '0' && (num[1] == 'x' || num[1] == 'X')) {
        uint32_t v = 0;
        for (size_t i = 2; i < numl; i++) {
            if (!isxdigit((unsigned char)num[i]) || v > 0xFFFF)
                return AERR("address '%s': '%.*s' is not a hexadecimal offset 0x0..0xFFFF", s, (int)numl, num);
            int c = tolower((unsigned char)num[i]);
            v = v * 16 + (uint32_t)(isdigit(c) ? c - '0' : c - 'a' + 10);
        }
        if (v > 0xFFFF) return AERR("address '%s': offset 0x%X exceeds 0xFFFF", s, (unsigned)v);
        offset = v;
    } else {
        uint32_t v = 0;
        for (size_t i = 0; i < numl; i++) {
            if (!isdigit((unsigned char)num[i]))
                return AERR("address '%s': '%.*s' is not a number", s, (int)numl, num);
            if (i >= 6) return AERR("address '%s': number '%.*s' has more than 6 digits", s, (int)numl, num);
            v = v * 10 + (uint32_t)(num[i] - '0');
        }
        if (numl >= 5) {
            /* Reference convention: 0xxxx coils, 1xxxx discrete inputs, 3xxxx input registers,
             * 4xxxx holding registers; 5 digits X0001..X9999 or 6 digits X00001..X65536. */
            int digit = num[0] - '0';
            uint32_t rest = numl == 5 ? v % 10000 : v % 100000;
            if (digit != (int)out->area) {
                const char *other = digit == 0 ? "coil (0xxxx)" : digit == 1 ? "discrete-input (1xxxx)"
                                  : digit == 3 ? "input-register (3xxxx)" : digit == 4 ? "holding-register (4xxxx)"
                                  : "no area";
                return AERR("address '%s': %.*s is a %d-digit reference of %s, not of %s (%dxxxx); for a "
                            "zero-based offset of 10000 or more write it in hex (0x...)",
                            s, (int)numl, num, (int)numl, other, mb_area_name(out->area), (int)out->area);
            }
            if (rest == 0)
                return AERR("address '%s': reference %.*s does not exist (references start at %d%s1)", s,
                            (int)numl, num, (int)out->area, numl == 5 ? "000" : "0000");
            if (rest > 65536) return AERR("address '%s': reference %.*s beyond %d65536", s, (int)numl, num, (int)out->area);
            offset = rest - 1;
        } else {
            offset = v;
        }
    }
    if (dot) {
        if (is_bits) return AERR("address '%s': a bit number (.N) applies to registers only", s);
        const char *b = dot + 1;
        size_t bl = nl - numl - 1;
        if (bl == 0 || bl > 2 || !isdigit((unsigned char)b[0]) || (bl == 2 && !isdigit((unsigned char)b[1])))
            return AERR("address '%s': bit number after '.' must be 0..15", s);
        int bit = b[0] - '0';
        if (bl == 2) bit = bit * 10 + (b[1] - '0');
        if (bit > 15) return AERR("address '%s': bit number %d is not in 0..15", s, bit);
        out->bit = (int8_t)bit;
    }
    out->offset = (uint16_t)offset;

    /* TYPE[ [N] ] */
    out->dtype = (is_bits || out->bit >= 0) ? MB_DT_BOOL : MB_DT_UINT16;
    long arr = -1;
    if (nf >= 3) {
        const char *t = f[2];
        size_t tl = fl[2];
        const char *br = memchr(t, '[', tl);
        size_t namel = br ? (size_t)(br - t) : tl;
        if (br) {
            if (t[tl - 1] != ']') return AERR("address '%s': '[' without closing ']'", s);
            arr = 0;
            if (tl - namel - 2 == 0) return AERR("address '%s': empty length in []", s);
            for (const char *q = br + 1; q < t + tl - 1; q++) {
                if (!isdigit((unsigned char)*q) || arr > 100000) return AERR("address '%s': length in [] is not a number", s);
                arr = arr * 10 + (*q - '0');
            }
            if (arr < 1) return AERR("address '%s': length in [] must be at least 1", s);
        }
        int ti = -1;
        for (size_t i = 0; i < TW__ARRAY_LEN(k_types); i++)
            if (ieq(t, namel, k_types[i].name)) ti = (int)i;
        if (ti < 0)
            return AERR("address '%s': unknown type '%.*s' (expected BOOL, INT16, UINT16, INT32, UINT32, INT64, "
                        "UINT64, FLOAT32, FLOAT64 or STRING[n])", s, (int)namel, t);
        out->dtype = k_types[ti].dt;
    }
    if (is_bits && out->dtype != MB_DT_BOOL)
        return AERR("address '%s': %s items are BOOL, not another type", s, mb_area_name(out->area));
    if (out->bit >= 0 && out->dtype != MB_DT_BOOL) return AERR("address '%s': a register bit (.N) is BOOL", s);
    if (!is_bits && out->bit < 0 && out->dtype == MB_DT_BOOL)
        return AERR("address '%s': BOOL in a register needs a bit number, e.g. %s:%u.0", s, mb_area_name(out->area),
                    (unsigned)out->offset);
    if (out->dtype == MB_DT_STRING) {
        if (arr < 0) return AERR("address '%s': STRING needs a length in bytes, e.g. STRING[16]", s);
        if (arr > 246) return AERR("address '%s': STRING[%ld] longer than 246 bytes (one write request)", s, arr);
        out->strlen_ = (uint16_t)arr;
    } else if (arr >= 0) {
        snprintf(err, errlen, "address '%s': arrays (%.*s) are not supported yet; add one item per element", s,
                 (int)fl[2], f[2]);
        return TW_ERR_UNSUPPORTED;
    }

    /* ORDER */
    if (nf == 4) {
        static const char *const orders[] = {"ABCD", "CDAB", "BADC", "DCBA"};
        int oi = -1;
        for (int i = 0; i < 4; i++)
            if (ieq(f[3], fl[3], orders[i])) oi = i;
        if (oi < 0) return AERR("address '%s': unknown byte order '%.*s' (expected ABCD, CDAB, BADC or DCBA)", s,
                                (int)fl[3], f[3]);
        if (is_bits) return AERR("address '%s': a byte order applies to registers only", s);
        out->order = (mb_order)oi;
    }

    switch (out->dtype) {
    case MB_DT_BOOL: out->count = 1; out->type = TW_TYPE_BOOL; break;
    case MB_DT_INT16: out->count = 1; out->type = TW_TYPE_INT16; break;
    case MB_DT_UINT16: out->count = 1; out->type = TW_TYPE_UINT16; break;
    case MB_DT_INT32: out->count = 2; out->type = TW_TYPE_INT32; break;
    case MB_DT_UINT32: out->count = 2; out->type = TW_TYPE_UINT32; break;
    case MB_DT_INT64: out->count = 4; out->type = TW_TYPE_INT64; break;
    case MB_DT_UINT64: out->count = 4; out->type = TW_TYPE_UINT64; break;
    case MB_DT_FLOAT32: out->count = 2; out->type = TW_TYPE_FLOAT; break;
    case MB_DT_FLOAT64: out->count = 4; out->type = TW_TYPE_DOUBLE; break;
    case MB_DT_STRING: out->count = (uint16_t)((out->strlen_ + 1) / 2); out->type = TW_TYPE_STRING; break;
    }
    if ((uint32_t)out->offset + out->count > 65536u)
        return AERR("address '%s': item of %u %s at offset %u runs past the end of the address space (65535)", s,
                    (unsigned)out->count, is_bits ? "bits" : "registers", (unsigned)out->offset);
    return TW_OK;
}

/* ---- PDUs ---- */

size_t mb_pdu_read(uint8_t *pdu, uint8_t fc, uint16_t addr, uint16_t qty)
{
    uint16_t max = (fc == MB_FC_READ_COILS || fc == MB_FC_READ_DISCRETE) ? MB_MAX_READ_BITS : MB_MAX_READ_REGS;
    if (fc < 1 || fc > 4 || qty < 1 || qty > max || (uint32_t)addr + qty > 65536u) return 0;
    pdu[0] = fc;
    put16(pdu + 1, addr);
    put16(pdu + 3, qty);
    return 5;
}

size_t mb_pdu_write_single(uint8_t *pdu, uint8_t fc, uint16_t addr, uint16_t value)
{
    if (fc != MB_FC_WRITE_COIL && fc != MB_FC_WRITE_REGISTER) return 0;
    if (fc == MB_FC_WRITE_COIL && value != 0xFF00 && value != 0x0000) return 0;
    pdu[0] = fc;
    put16(pdu + 1, addr);
    put16(pdu + 3, value);
    return 5;
}

size_t mb_pdu_write_registers(uint8_t *pdu, uint16_t addr, uint16_t qty, const uint16_t *regs)
{
    if (qty < 1 || qty > MB_MAX_WRITE_REGS || (uint32_t)addr + qty > 65536u) return 0;
    pdu[0] = MB_FC_WRITE_REGISTERS;
    put16(pdu + 1, addr);
    put16(pdu + 3, qty);
    pdu[5] = (uint8_t)(qty * 2);
    for (uint16_t i = 0; i < qty; i++) put16(pdu + 6 + 2 * i, regs[i]);
    return 6 + (size_t)qty * 2;
}

size_t mb_pdu_write_coils(uint8_t *pdu, uint16_t addr, uint16_t qty, const uint8_t *bits)
{
    if (qty < 1 || qty > MB_MAX_WRITE_BITS || (uint32_t)addr + qty > 65536u) return 0;
    size_t bc = (qty + 7u) / 8u;
    pdu[0] = MB_FC_WRITE_COILS;
    put16(pdu + 1, addr);
    put16(pdu + 3, qty);
    pdu[5] = (uint8_t)bc;
    memcpy(pdu + 6, bits, bc);
    if (qty % 8) pdu[6 + bc - 1] &= (uint8_t)((1u << (qty % 8)) - 1u);
    return 6 + bc;
}

size_t mb_pdu_read_write_registers(uint8_t *pdu, uint16_t raddr, uint16_t rqty, uint16_t waddr, uint16_t wqty,
                                   const uint16_t *regs)
{
    if (rqty < 1 || rqty > MB_MAX_READ_REGS || wqty < 1 || wqty > MB_MAX_RW_WRITE_REGS ||
        (uint32_t)raddr + rqty > 65536u || (uint32_t)waddr + wqty > 65536u)
        return 0;
    pdu[0] = MB_FC_READ_WRITE_REGISTERS;
    put16(pdu + 1, raddr);
    put16(pdu + 3, rqty);
    put16(pdu + 5, waddr);
    put16(pdu + 7, wqty);
    pdu[9] = (uint8_t)(wqty * 2);
    for (uint16_t i = 0; i < wqty; i++) put16(pdu + 10 + 2 * i, regs[i]);
    return 10 + (size_t)wqty * 2;
}

#define PERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_PROTOCOL)

tw_status mb_check_response(const uint8_t *req, size_t req_len, const uint8_t *rsp, size_t rsp_len,
                            const uint8_t **data, size_t *data_len, uint8_t *exception, char *err, size_t errlen)
{
    *data = NULL;
    *data_len = 0;
    *exception = 0;
    if (req_len < 5) return PERR("internal: request PDU too short");
    uint8_t fc = req[0];
    if (rsp_len < 1) return PERR("empty response PDU");
    if (rsp_len > MB_MAX_PDU) return PERR("response PDU of %zu bytes exceeds %d", rsp_len, MB_MAX_PDU);
    if (rsp[0] == (uint8_t)(fc | 0x80)) {
        if (rsp_len != 2)
            return PERR("exception response to function 0x%02x has %zu bytes, expected 2", fc, rsp_len);
        *exception = rsp[1];
        snprintf(err, errlen, "device answered exception 0x%02x (%s) to function 0x%02x", rsp[1],
                 mb_exception_name(rsp[1]), fc);
        return TW_ERR_MODBUS_EXCEPTION;
    }
    if (rsp[0] != fc) return PERR("response function code 0x%02x does not match request 0x%02x", rsp[0], fc);
    uint16_t qty = get16(req + 3);
    size_t expect_bc;
    switch (fc) {
    case MB_FC_READ_COILS:
    case MB_FC_READ_DISCRETE:
        expect_bc = (qty + 7u) / 8u;
        goto check_bc;
    case MB_FC_READ_HOLDING:
    case MB_FC_READ_INPUT:
    case MB_FC_READ_WRITE_REGISTERS:
        expect_bc = (size_t)qty * 2u;
    check_bc:
        if (rsp_len < 2) return PERR("response to function 0x%02x truncated before the byte count", fc);
        if (rsp[1] != expect_bc)
            return PERR("response byte count %u does not match the %zu bytes requested (quantity %u)", rsp[1],
                        expect_bc, qty);
        if (rsp_len != 2 + expect_bc)
            return PERR("response to function 0x%02x has %zu data bytes, byte count says %zu", fc, rsp_len - 2,
                        expect_bc);
        *data = rsp + 2;
        *data_len = expect_bc;
        return TW_OK;
    case MB_FC_WRITE_COIL:
    case MB_FC_WRITE_REGISTER:
    case MB_FC_WRITE_COILS:
    case MB_FC_WRITE_REGISTERS:
        if (rsp_len != 5) return PERR("response to write function 0x%02x has %zu bytes, expected 5", fc, rsp_len);
        if (memcmp(rsp + 1, req + 1, 4) != 0)
            return PERR("write response echo (address %u, %s %u) does not match the request (%u, %u)", get16(rsp + 1),
                        (fc == MB_FC_WRITE_COIL || fc == MB_FC_WRITE_REGISTER) ? "value" : "quantity", get16(rsp + 3),
                        get16(req + 1), get16(req + 3));
        return TW_OK;
    default:
        return PERR("function code 0x%02x is not supported by this client", fc);
    }
}

/* ---- TCP ---- */

void mb_tcp_header(uint8_t *buf, uint16_t tid, uint8_t unit, size_t pdu_len)
{
    put16(buf, tid);
    put16(buf + 2, 0);
    put16(buf + 4, (uint16_t)(pdu_len + 1));
    buf[6] = unit;
}

tw_status mb_tcp_frame(const uint8_t *buf, size_t have, size_t *adu_len, char *err, size_t errlen)
{
    if (have < 6) return TW_ERR_AGAIN;
    if (get16(buf + 2) != 0) return PERR("MBAP protocol identifier %u, expected 0 (not Modbus)", get16(buf + 2));
    uint16_t len = get16(buf + 4);
    if (len < 2 || len > MB_MAX_PDU + 1)
        return PERR("MBAP length %u outside 2..%d (unit + PDU of at most %d bytes)", len, MB_MAX_PDU + 1, MB_MAX_PDU);
    size_t total = 6u + len;
    if (have < total) return TW_ERR_AGAIN;
    *adu_len = total;
    return TW_OK;
}

/* ---- RTU ---- */

static uint16_t g_crc_table[256];
static pthread_once_t g_crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA001) : (uint16_t)(c >> 1);
        g_crc_table[i] = c;
    }
}

uint16_t mb_crc16(const uint8_t *p, size_t n)
{
    pthread_once(&g_crc_once, crc_init);
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) crc = (uint16_t)((crc >> 8) ^ g_crc_table[(crc ^ p[i]) & 0xFF]);
    return crc;
}

size_t mb_rtu_frame_request(uint8_t *adu, uint8_t unit, const uint8_t *pdu, size_t pdu_len)
{
    adu[0] = unit;
    memcpy(adu + 1, pdu, pdu_len);
    uint16_t crc = mb_crc16(adu, pdu_len + 1);
    adu[pdu_len + 1] = (uint8_t)(crc & 0xFF);
    adu[pdu_len + 2] = (uint8_t)(crc >> 8);
    return pdu_len + 3;
}

tw_status mb_rtu_response_len(const uint8_t *req, size_t req_len, const uint8_t *buf, size_t have, size_t *adu_len,
                              char *err, size_t errlen)
{
    if (req_len < 1) return PERR("internal: empty request");
    if (have < 2) return TW_ERR_AGAIN;
    uint8_t fc = req[0];
    if (buf[1] == (uint8_t)(fc | 0x80)) {
        *adu_len = 5;
        return TW_OK;
    }
    if (buf[1] != fc) return PERR("response function code 0x%02x does not match request 0x%02x", buf[1], fc);
    switch (fc) {
    case MB_FC_READ_COILS:
    case MB_FC_READ_DISCRETE:
    case MB_FC_READ_HOLDING:
    case MB_FC_READ_INPUT:
    case MB_FC_READ_WRITE_REGISTERS:
        if (have < 3) return TW_ERR_AGAIN;
        if (3u + buf[2] + 2u > MB_RTU_MAX_ADU) return PERR("RTU byte count %u exceeds the ADU limit", buf[2]);
        *adu_len = 3u + buf[2] + 2u;
        return TW_OK;
    case MB_FC_WRITE_COIL:
    case MB_FC_WRITE_REGISTER:
    case MB_FC_WRITE_COILS:
    case MB_FC_WRITE_REGISTERS:
        *adu_len = 8;
        return TW_OK;
    default:
        return PERR("function code 0x%02x is not supported by this client", fc);
    }
}

tw_status mb_rtu_check(const uint8_t *adu, size_t adu_len, uint8_t unit, const uint8_t **pdu, size_t *pdu_len,
                       char *err, size_t errlen)
{
    if (adu_len < 4 || adu_len > MB_RTU_MAX_ADU) return PERR("RTU frame of %zu bytes", adu_len);
    uint16_t crc = mb_crc16(adu, adu_len - 2);
    uint16_t got = (uint16_t)(adu[adu_len - 2] | (adu[adu_len - 1] << 8));
    if (crc != got) {
        snprintf(err, errlen, "RTU CRC mismatch: frame carries 0x%04x, computed 0x%04x", got, crc);
        return TW_ERR_CRC;
    }
    if (adu[0] != unit) return PERR("RTU response from unit %u, request went to unit %u", adu[0], unit);
    *pdu = adu + 1;
    *pdu_len = adu_len - 3;
    return TW_OK;
}

/* ---- values ---- */

/* Canonical big-endian bytes of an nw-word item from its wire bytes, per byte order. */
static void to_canonical(const uint8_t *wire, unsigned nw, mb_order o, uint8_t *out)
{
    int rev = (o == MB_CDAB || o == MB_DCBA);
    int swap = (o == MB_BADC || o == MB_DCBA);
    for (unsigned i = 0; i < nw; i++) {
        unsigned src = rev ? nw - 1 - i : i;
        uint8_t hi = wire[2 * src], lo = wire[2 * src + 1];
        out[2 * i] = swap ? lo : hi;
        out[2 * i + 1] = swap ? hi : lo;
    }
}

static void from_canonical(const uint8_t *canon, unsigned nw, mb_order o, uint16_t *words)
{
    int rev = (o == MB_CDAB || o == MB_DCBA);
    int swap = (o == MB_BADC || o == MB_DCBA);
    for (unsigned i = 0; i < nw; i++) {
        unsigned dst = rev ? nw - 1 - i : i;
        uint8_t hi = swap ? canon[2 * i + 1] : canon[2 * i];
        uint8_t lo = swap ? canon[2 * i] : canon[2 * i + 1];
        words[dst] = (uint16_t)((hi << 8) | lo);
    }
}

static uint64_t be_get(const uint8_t *b, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v = (v << 8) | b[i];
    return v;
}

void mb_decode_regs(const mb_addr *a, const uint8_t *regs, tw_value *v, void *strbuf, size_t strcap)
{
    uint8_t c[8];
    memset(v, 0, sizeof *v);
    v->type = a->type;
    switch (a->dtype) {
    case MB_DT_BOOL: {
        to_canonical(regs, 1, a->order, c);
        uint16_t w = (uint16_t)be_get(c, 2);
        v->as.b = (w >> (a->bit >= 0 ? a->bit : 0)) & 1;
        break;
    }
    case MB_DT_INT16: to_canonical(regs, 1, a->order, c); v->as.i = (int16_t)(uint16_t)be_get(c, 2); break;
    case MB_DT_UINT16: to_canonical(regs, 1, a->order, c); v->as.u = be_get(c, 2); break;
    case MB_DT_INT32: to_canonical(regs, 2, a->order, c); v->as.i = (int32_t)(uint32_t)be_get(c, 4); break;
    case MB_DT_UINT32: to_canonical(regs, 2, a->order, c); v->as.u = be_get(c, 4); break;
    case MB_DT_INT64: to_canonical(regs, 4, a->order, c); v->as.i = (int64_t)be_get(c, 8); break;
    case MB_DT_UINT64: to_canonical(regs, 4, a->order, c); v->as.u = be_get(c, 8); break;
    case MB_DT_FLOAT32: {
        to_canonical(regs, 2, a->order, c);
        uint32_t u = (uint32_t)be_get(c, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        v->as.f = f;
        break;
    }
    case MB_DT_FLOAT64: {
        to_canonical(regs, 4, a->order, c);
        uint64_t u = be_get(c, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        v->as.d = d;
        break;
    }
    case MB_DT_STRING: {
        /* Characters in register order; within a register high byte first (ABCD, CDAB) or low byte
         * first (BADC, DCBA). The value ends at the first NUL. */
        int swap = (a->order == MB_BADC || a->order == MB_DCBA);
        uint8_t *dst = strbuf;
        size_t len = 0;
        for (size_t i = 0; i < a->strlen_ && i < strcap; i++) {
            size_t w = i / 2;
            uint8_t ch = (i % 2 == 0) != !!swap ? regs[2 * w] : regs[2 * w + 1];
            if (ch == 0) break;
            dst[len++] = ch;
        }
        v->as.buf.ptr = strbuf;
        v->as.buf.len = len;
        break;
    }
    }
}

/* The integer in v as sign + magnitude; floats must be integral. */
static tw_status get_integer(const tw_value *v, int *neg, uint64_t *mag)
{
    *neg = 0;
    switch (v->type) {
    case TW_TYPE_BOOL: *mag = v->as.b ? 1 : 0; return TW_OK;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
        if (v->as.i < 0) {
            *neg = 1;
            *mag = (uint64_t)(-(v->as.i + 1)) + 1;
        } else {
            *mag = (uint64_t)v->as.i;
        }
        return TW_OK;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64: *mag = v->as.u; return TW_OK;
    case TW_TYPE_FLOAT:
    case TW_TYPE_DOUBLE: {
        double d = v->type == TW_TYPE_FLOAT ? (double)v->as.f : v->as.d;
        if (!isfinite(d) || d != floor(d) || d >= 18446744073709551616.0 || d < -9223372036854775808.0) return TW_ERR_RANGE;
        if (d < 0) {
            *neg = 1;
            *mag = (uint64_t)(-(d + 1.0)) + 1;
        } else {
            *mag = (uint64_t)d;
        }
        return TW_OK;
    }
    default: return TW_ERR_TYPE_MISMATCH;
    }
}

static tw_status get_double(const tw_value *v, double *d)
{
    switch (v->type) {
    case TW_TYPE_BOOL: *d = v->as.b ? 1 : 0; return TW_OK;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64: *d = (double)v->as.i; return TW_OK;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64: *d = (double)v->as.u; return TW_OK;
    case TW_TYPE_FLOAT: *d = (double)v->as.f; return TW_OK;
    case TW_TYPE_DOUBLE: *d = v->as.d; return TW_OK;
    default: return TW_ERR_TYPE_MISMATCH;
    }
}

tw_status mb_value_to_bool(const tw_value *v, int *out)
{
    int neg;
    uint64_t mag;
    if (v->type == TW_TYPE_BOOL) {
        *out = v->as.b != 0;
        return TW_OK;
    }
    tw_status st = get_integer(v, &neg, &mag);
    if (st) return st;
    if (neg || mag > 1) return TW_ERR_RANGE;
    *out = (int)mag;
    return TW_OK;
}

tw_status mb_encode_regs(const mb_addr *a, const tw_value *v, uint16_t *words, char *err, size_t errlen)
{
    uint8_t c[8];
    unsigned nb = 0;
    if (a->dtype == MB_DT_STRING) {
        if (v->type != TW_TYPE_STRING && v->type != TW_TYPE_BYTES) {
            snprintf(err, errlen, "a STRING item needs a string value");
            return TW_ERR_TYPE_MISMATCH;
        }
        if (v->as.buf.len > a->strlen_) {
            snprintf(err, errlen, "string of %zu bytes does not fit STRING[%u]", v->as.buf.len, (unsigned)a->strlen_);
            return TW_ERR_RANGE;
        }
        int swap = (a->order == MB_BADC || a->order == MB_DCBA);
        uint8_t bytes[256] = {0};
        if (v->as.buf.len) memcpy(bytes, v->as.buf.ptr, v->as.buf.len);
        for (unsigned w = 0; w < a->count; w++) {
            uint8_t first = bytes[2 * w], second = bytes[2 * w + 1];
            words[w] = swap ? (uint16_t)((second << 8) | first) : (uint16_t)((first << 8) | second);
        }
        return TW_OK;
    }
    if (a->dtype == MB_DT_FLOAT32 || a->dtype == MB_DT_FLOAT64) {
        double d;
        if (get_double(v, &d)) {
            snprintf(err, errlen, "a %s item needs a number", a->dtype == MB_DT_FLOAT32 ? "FLOAT32" : "FLOAT64");
            return TW_ERR_TYPE_MISMATCH;
        }
        if (a->dtype == MB_DT_FLOAT32) {
            if (isfinite(d) && fabs(d) > 3.4028234663852886e38) {
                snprintf(err, errlen, "%g does not fit FLOAT32", d);
                return TW_ERR_RANGE;
            }
            float f = v->type == TW_TYPE_FLOAT ? v->as.f : (float)d;
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int i = 0; i < 4; i++) c[i] = (uint8_t)(u >> (24 - 8 * i));
            nb = 4;
        } else {
            uint64_t u;
            memcpy(&u, &d, 8);
            for (int i = 0; i < 8; i++) c[i] = (uint8_t)(u >> (56 - 8 * i));
            nb = 8;
        }
        from_canonical(c, nb / 2, a->order, words);
        return TW_OK;
    }
    int neg;
    uint64_t mag;
    tw_status st = get_integer(v, &neg, &mag);
    if (st == TW_ERR_TYPE_MISMATCH) {
        snprintf(err, errlen, "an integer item needs a number or bool");
        return st;
    }
    if (st) {
        snprintf(err, errlen, "value is not an integer");
        return st;
    }
    unsigned bits;
    int is_signed;
    switch (a->dtype) {
    case MB_DT_INT16: bits = 16; is_signed = 1; break;
    case MB_DT_UINT16: bits = 16; is_signed = 0; break;
    case MB_DT_INT32: bits = 32; is_signed = 1; break;
    case MB_DT_UINT32: bits = 32; is_signed = 0; break;
    case MB_DT_INT64: bits = 64; is_signed = 1; break;
    case MB_DT_UINT64: bits = 64; is_signed = 0; break;
    default:
        snprintf(err, errlen, "this item cannot be written as a whole register");
        return TW_ERR_UNSUPPORTED;
    }
    uint64_t umax = bits == 64 ? UINT64_MAX : ((1ull << bits) - 1);
    uint64_t smax = (1ull << (bits - 1)) - 1;
    int ok = is_signed ? (neg ? mag <= smax + 1 : mag <= smax) : (!neg && mag <= umax);
    if (!ok) {
        snprintf(err, errlen, "value %s%llu does not fit %s%u", neg ? "-" : "", (unsigned long long)mag,
                 is_signed ? "INT" : "UINT", bits);
        return TW_ERR_RANGE;
    }
    uint64_t raw = neg ? (uint64_t)0 - mag : mag;
    nb = bits / 8;
    for (unsigned i = 0; i < nb; i++) c[i] = (uint8_t)(raw >> (8 * (nb - 1 - i)));
    from_canonical(c, nb / 2, a->order, words);
    return TW_OK;
}

const char *mb_exception_name(uint8_t code)
{
    switch (code) {
    case 0x01: return "illegal function";
    case 0x02: return "illegal data address";
    case 0x03: return "illegal data value";
    case 0x04: return "server device failure";
    case 0x05: return "acknowledge";
    case 0x06: return "server device busy";
    case 0x08: return "memory parity error";
    case 0x0A: return "gateway path unavailable";
    case 0x0B: return "gateway target device failed to respond";
    default: return "unknown exception";
    }
}

tw_quality mb_exception_quality(uint8_t code)
{
    switch (code) {
    case 0x01: /* the device does not implement the function for this area */
    case 0x02: /* no such address on this device */
    case 0x03: return TW_QUALITY_BAD_CONFIG;
    case 0x04:
    case 0x08: return TW_QUALITY_BAD_DEVICE_FAILURE;
    case 0x0A: return TW_QUALITY_BAD_NOT_CONNECTED;
    case 0x0B: return TW_QUALITY_BAD_TIMEOUT;
    default: return TW_QUALITY_BAD_COMM_FAILURE; /* acknowledge / busy / unknown: try again later */
    }
}
