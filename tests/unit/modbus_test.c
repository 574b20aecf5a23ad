/* Unit tests of the Modbus codec: addresses, PDUs, framing, CRC, values, CVE regression frames. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adapters/modbus/mb_codec.h"
#include "internal.h"
#include "twtest.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') { h++; continue; }
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

static void test_address_valid(void **state)
{
    (void)state;
    struct { const char *s; mb_area area; unsigned offset, count; mb_dtype dt; mb_order order; int bit; tw_type type; } ok[] = {
        {"holding-register:40001:FLOAT32:CDAB", MB_AREA_HOLDING, 0, 2, MB_DT_FLOAT32, MB_CDAB, -1, TW_TYPE_FLOAT},
        {"holding-register:400001:FLOAT32:CDAB", MB_AREA_HOLDING, 0, 2, MB_DT_FLOAT32, MB_CDAB, -1, TW_TYPE_FLOAT},
        {"holding-register:465536", MB_AREA_HOLDING, 65535, 1, MB_DT_UINT16, MB_ABCD, -1, TW_TYPE_UINT16},
        {"holding-register:49999", MB_AREA_HOLDING, 9998, 1, MB_DT_UINT16, MB_ABCD, -1, TW_TYPE_UINT16},
        {"input-register:100", MB_AREA_INPUT, 100, 1, MB_DT_UINT16, MB_ABCD, -1, TW_TYPE_UINT16},
        {"input-register:30101:int16", MB_AREA_INPUT, 100, 1, MB_DT_INT16, MB_ABCD, -1, TW_TYPE_INT16},
        {"coil:5", MB_AREA_COIL, 5, 1, MB_DT_BOOL, MB_ABCD, -1, TW_TYPE_BOOL},
        {"coil:00006", MB_AREA_COIL, 5, 1, MB_DT_BOOL, MB_ABCD, -1, TW_TYPE_BOOL},
        {"COIL:000006:BOOL", MB_AREA_COIL, 5, 1, MB_DT_BOOL, MB_ABCD, -1, TW_TYPE_BOOL},
        {"discrete-input:7", MB_AREA_DISCRETE, 7, 1, MB_DT_BOOL, MB_ABCD, -1, TW_TYPE_BOOL},
        {"di:10008", MB_AREA_DISCRETE, 7, 1, MB_DT_BOOL, MB_ABCD, -1, TW_TYPE_BOOL},
        {"holding-register:200:STRING[16]", MB_AREA_HOLDING, 200, 8, MB_DT_STRING, MB_ABCD, -1, TW_TYPE_STRING},
        {"hr:200:STRING[3]:BADC", MB_AREA_HOLDING, 200, 2, MB_DT_STRING, MB_BADC, -1, TW_TYPE_STRING},
        {"hr:0x9C41:INT32:DCBA", MB_AREA_HOLDING, 40001, 2, MB_DT_INT32, MB_DCBA, -1, TW_TYPE_INT32},
        {"hr:0xfffc:LREAL", MB_AREA_HOLDING, 65532, 4, MB_DT_FLOAT64, MB_ABCD, -1, TW_TYPE_DOUBLE},
        {"hr:10.15", MB_AREA_HOLDING, 10, 1, MB_DT_BOOL, MB_ABCD, 15, TW_TYPE_BOOL},
        {"ir:9999.0:BOOL", MB_AREA_INPUT, 9999, 1, MB_DT_BOOL, MB_ABCD, 0, TW_TYPE_BOOL},
        {"hr:1:uint64:cdab", MB_AREA_HOLDING, 1, 4, MB_DT_UINT64, MB_CDAB, -1, TW_TYPE_UINT64},
        {"hr:1:DWORD", MB_AREA_HOLDING, 1, 2, MB_DT_UINT32, MB_ABCD, -1, TW_TYPE_UINT32},
    };
    char err[256];
    for (size_t i = 0; i < TW__ARRAY_LEN(ok); i++) {
        mb_addr a;
        err[0] = 0;
        tw_status st = mb_parse_address(ok[i].s, &a, err, sizeof err);
        if (st != TW_OK) fail_msg("%s: %s", ok[i].s, err);
        assert_int_equal(a.area, ok[i].area);
        assert_int_equal(a.offset, ok[i].offset);
        assert_int_equal(a.count, ok[i].count);
        assert_int_equal(a.dtype, ok[i].dt);
        assert_int_equal(a.order, ok[i].order);
        assert_int_equal(a.bit, ok[i].bit);
        assert_int_equal(a.type, ok[i].type);
    }
}

static void test_address_invalid(void **state)
{
    (void)state;
    struct { const char *s; tw_status st; const char *msg; } bad[] = {
        {"", TW_ERR_ADDRESS, "empty"},
        {"holding-register", TW_ERR_ADDRESS, "AREA:NUMBER"},
        {"register:1", TW_ERR_ADDRESS, "unknown area 'register'"},
        {"holding-register:", TW_ERR_ADDRESS, "missing"},
        {"holding-register:abc", TW_ERR_ADDRESS, "not a number"},
        {"holding-register:30001", TW_ERR_ADDRESS, "input-register (3xxxx)"},
        {"holding-register:15000", TW_ERR_ADDRESS, "hex"},
        {"coil:40001", TW_ERR_ADDRESS, "holding-register (4xxxx)"},
        {"holding-register:40000", TW_ERR_ADDRESS, "does not exist"},
        {"holding-register:465537", TW_ERR_ADDRESS, "beyond"},
        {"holding-register:1234567", TW_ERR_ADDRESS, "more than 6 digits"},
        {"holding-register:0x10000", TW_ERR_ADDRESS, "0xFFFF"},
        {"holding-register:0xZZ", TW_ERR_ADDRESS, "hexadecimal"},
        {"holding-register:0xFFFF:INT32", TW_ERR_ADDRESS, "past the end"},
        {"holding-register:1:FLOAT16", TW_ERR_ADDRESS, "unknown type 'FLOAT16'"},
        {"holding-register:1:FLOAT32:ABDC", TW_ERR_ADDRESS, "byte order 'ABDC'"},
        {"holding-register:1:STRING", TW_ERR_ADDRESS, "STRING needs a length"},
        {"holding-register:1:STRING[0]", TW_ERR_ADDRESS, "at least 1"},
        {"holding-register:1:STRING[300]", TW_ERR_ADDRESS, "246"},
        {"holding-register:1:STRING[16", TW_ERR_ADDRESS, "closing"},
        {"holding-register:1:BOOL", TW_ERR_ADDRESS, "bit number"},
        {"holding-register:1.16", TW_ERR_ADDRESS, "0..15"},
        {"holding-register:1.", TW_ERR_ADDRESS, "0..15"},
        {"holding-register:1.2:INT16", TW_ERR_ADDRESS, "BOOL"},
        {"coil:1.2", TW_ERR_ADDRESS, "registers only"},
        {"coil:1:INT16", TW_ERR_ADDRESS, "BOOL"},
        {"coil:1:BOOL:CDAB", TW_ERR_ADDRESS, "registers only"},
        {"holding-register:1:INT16:ABCD:x", TW_ERR_ADDRESS, "too many"},
        {"input-register:100:UINT16[10]", TW_ERR_UNSUPPORTED, "arrays"},
        {"holding-register:-1", TW_ERR_ADDRESS, "not a number"},
    };
    char err[256];
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        mb_addr a;
        err[0] = 0;
        tw_status st = mb_parse_address(bad[i].s, &a, err, sizeof err);
        if (st != bad[i].st) fail_msg("'%s': status %s, expected %s", bad[i].s, tw_status_name(st), tw_status_name(bad[i].st));
        if (!strstr(err, bad[i].msg)) fail_msg("'%s': message '%s' lacks '%s'", bad[i].s, err, bad[i].msg);
    }
}

static void test_crc(void **state)
{
    (void)state;
    /* The worked example of Modbus over Serial Line: 01 03 00 00 00 0A -> CRC bytes C5 CD */
    uint8_t f[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};
    uint16_t c = mb_crc16(f, sizeof f);
    assert_int_equal(c & 0xFF, 0xC5);
    assert_int_equal(c >> 8, 0xCD);
    uint8_t adu[16];
    assert_int_equal(mb_rtu_frame_request(adu, 0x01, f + 1, 5), 8);
    assert_int_equal(adu[6], 0xC5);
    assert_int_equal(adu[7], 0xCD);
}

static void test_pdu_limits(void **state)
{
    (void)state;
    uint8_t pdu[256];
    uint16_t regs[130] = {0};
    uint8_t bits[256] = {0};
    assert_int_equal(mb_pdu_read(pdu, 3, 0, 125), 5);
    assert_int_equal(mb_pdu_read(pdu, 3, 0, 126), 0);
    assert_int_equal(mb_pdu_read(pdu, 3, 0, 0), 0);
    assert_int_equal(mb_pdu_read(pdu, 1, 0, 2000), 5);
    assert_int_equal(mb_pdu_read(pdu, 2, 0, 2001), 0);
    assert_int_equal(mb_pdu_read(pdu, 4, 65535, 1), 5);
    assert_int_equal(mb_pdu_read(pdu, 4, 65535, 2), 0);
    assert_int_equal(mb_pdu_read(pdu, 7, 0, 1), 0);
    assert_int_equal(mb_pdu_write_registers(pdu, 0, 123, regs), 6 + 246);
    assert_int_equal(mb_pdu_write_registers(pdu, 0, 124, regs), 0);
    assert_int_equal(mb_pdu_write_coils(pdu, 0, 1968, bits), 6 + 246);
    assert_int_equal(mb_pdu_write_coils(pdu, 0, 1969, bits), 0);
    assert_int_equal(mb_pdu_write_single(pdu, 5, 0, 0x1234), 0); /* coil value must be FF00 or 0000 */
    assert_int_equal(mb_pdu_write_single(pdu, 5, 0, 0xFF00), 5);
    bits[0] = 0xFF;
    assert_int_equal(mb_pdu_write_coils(pdu, 0, 3, bits), 7);
    assert_int_equal(pdu[6], 0x07); /* unused bits zero */
    assert_int_equal(mb_pdu_read_write_registers(pdu, 0, 125, 0, 121, regs), 10 + 242);
    assert_int_equal(mb_pdu_read_write_registers(pdu, 0, 125, 0, 122, regs), 0);
}

static tw_status check(const char *req_hex, const char *rsp_hex, uint8_t *exc, char *err)
{
    uint8_t req[300], rsp[300];
    size_t rl = unhex(req_hex, req), sl = unhex(rsp_hex, rsp);
    const uint8_t *data;
    size_t dlen;
    err[0] = 0;
    return mb_check_response(req, rl, rsp, sl, &data, &dlen, exc, err, 256);
}

static void test_check_response(void **state)
{
    (void)state;
    uint8_t exc;
    char err[256];
    assert_int_equal(check("03 0000 0002", "03 04 0001 0002", &exc, err), TW_OK);
    assert_int_equal(check("03 0000 0002", "83 02", &exc, err), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(exc, 2);
    assert_int_equal(check("03 0000 0002", "83", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("03 0000 0002", "", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("03 0000 0002", "03", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("03 0000 0002", "03 04 0001 0002 00", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("01 0000 0009", "01 02 FF01", &exc, err), TW_OK);
    assert_int_equal(check("01 0000 0009", "01 01 FF", &exc, err), TW_ERR_PROTOCOL);
    /* CVE-2023-26793 shape: a bit read answered with a byte count far beyond the request */
    assert_int_equal(check("01 0000 0001", "01 FA 00", &exc, err), TW_ERR_PROTOCOL);
    assert_non_null(strstr(err, "byte count 250"));
    /* FC 0x07 / 0x11 / 0x17 frames (libmodbus bugs) in answer to other requests */
    assert_int_equal(check("03 0000 0001", "07 00", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("03 0000 0001", "11 02 01 FF", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("03 0000 0001", "17 02 0001", &exc, err), TW_ERR_PROTOCOL);
    /* FC 23: read part governs the answer */
    assert_int_equal(check("17 0000 0002 0010 0001 02 0005", "17 04 0001 0002", &exc, err), TW_OK);
    assert_int_equal(check("17 0000 0002 0010 0001 02 0005", "17 02 0001", &exc, err), TW_ERR_PROTOCOL);
    /* writes: exact echo, 5 bytes */
    assert_int_equal(check("06 0001 1234", "06 0001 1234", &exc, err), TW_OK);
    assert_int_equal(check("06 0001 1234", "06 0001 1235", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("05 0001 FF00", "05 0001 FF00", &exc, err), TW_OK);
    /* CVE-2019-14462 / 14463 request frames (FC 15 / 16 byte count disagreeing with quantity),
     * echoed back as responses: rejected */
    assert_int_equal(check("0F 0000 0010 02 FFFF", "0F 0000 0010 01 FF", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("10 0000 0002 04 0001 0002", "10 0000 0002 7F 0001 0002", &exc, err), TW_ERR_PROTOCOL);
    assert_int_equal(check("10 0000 0002 04 0001 0002", "10 0000 0002", &exc, err), TW_OK);
    assert_int_equal(check("10 0000 0002 04 0001 0002", "10 0000 0003", &exc, err), TW_ERR_PROTOCOL);
}

static void test_tcp_frame(void **state)
{
    (void)state;
    uint8_t b[300];
    size_t n, len;
    char err[256];
    n = unhex("0001 0000 0006 01 03 02", b);
    assert_int_equal(mb_tcp_frame(b, n, &len, err, sizeof err), TW_ERR_AGAIN);
    n = unhex("0001 0000 0005 01 03 02 0001", b);
    assert_int_equal(mb_tcp_frame(b, n, &len, err, sizeof err), TW_OK);
    assert_int_equal(len, 11);
    n = unhex("0001 0000 00FF", b);
    assert_int_equal(mb_tcp_frame(b, n, &len, err, sizeof err), TW_ERR_PROTOCOL);
    n = unhex("0001 0000 00FE", b);
    assert_int_equal(mb_tcp_frame(b, n, &len, err, sizeof err), TW_ERR_AGAIN); /* 254 is the maximum */
    n = unhex("0001 0002 0005", b);
    assert_int_equal(mb_tcp_frame(b, n, &len, err, sizeof err), TW_ERR_PROTOCOL);
    mb_tcp_header(b, 0xABCD, 9, 5);
    assert_int_equal(b[0], 0xAB);
    assert_int_equal(b[5], 6);
    assert_int_equal(b[6], 9);
}

static void test_rtu_frame(void **state)
{
    (void)state;
    uint8_t req[] = {0x03, 0x00, 0x00, 0x00, 0x01};
    uint8_t adu[16] = {0x11, 0x03, 0x02, 0x12, 0x34};
    uint16_t c = mb_crc16(adu, 5);
    adu[5] = (uint8_t)c;
    adu[6] = (uint8_t)(c >> 8);
    size_t len;
    char err[256];
    assert_int_equal(mb_rtu_response_len(req, 5, adu, 1, &len, err, sizeof err), TW_ERR_AGAIN);
    assert_int_equal(mb_rtu_response_len(req, 5, adu, 2, &len, err, sizeof err), TW_ERR_AGAIN);
    assert_int_equal(mb_rtu_response_len(req, 5, adu, 3, &len, err, sizeof err), TW_OK);
    assert_int_equal(len, 7);
    const uint8_t *pdu;
    size_t pl;
    assert_int_equal(mb_rtu_check(adu, 7, 0x11, &pdu, &pl, err, sizeof err), TW_OK);
    assert_int_equal(pl, 4);
    assert_int_equal(pdu[0], 0x03);
    assert_int_equal(mb_rtu_check(adu, 7, 0x12, &pdu, &pl, err, sizeof err), TW_ERR_PROTOCOL);
    adu[4] ^= 1;
    assert_int_equal(mb_rtu_check(adu, 7, 0x11, &pdu, &pl, err, sizeof err), TW_ERR_CRC);
    uint8_t ex[] = {0x11, 0x83, 0x02};
    assert_int_equal(mb_rtu_response_len(req, 5, ex, 3, &len, err, sizeof err), TW_OK);
    assert_int_equal(len, 5);
    uint8_t other[] = {0x11, 0x11, 0x02};
    assert_int_equal(mb_rtu_response_len(req, 5, other, 3, &len, err, sizeof err), TW_ERR_PROTOCOL);
    uint8_t wreq[] = {0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x01};
    uint8_t wr[] = {0x11, 0x10};
    assert_int_equal(mb_rtu_response_len(wreq, 8, wr, 2, &len, err, sizeof err), TW_OK);
    assert_int_equal(len, 8);
}

static void roundtrip(const char *addr, tw_value v, const uint16_t *expect_words)
{
    mb_addr a;
    char err[256];
    assert_int_equal(mb_parse_address(addr, &a, err, sizeof err), TW_OK);
    uint16_t w[128];
    tw_status st = mb_encode_regs(&a, &v, w, err, sizeof err);
    if (st) fail_msg("%s: %s", addr, err);
    for (unsigned i = 0; i < a.count; i++)
        if (w[i] != expect_words[i]) fail_msg("%s: word %u 0x%04x, expected 0x%04x", addr, i, w[i], expect_words[i]);
    uint8_t wire[256];
    for (unsigned i = 0; i < a.count; i++) {
        wire[2 * i] = (uint8_t)(w[i] >> 8);
        wire[2 * i + 1] = (uint8_t)w[i];
    }
    tw_value back;
    char sbuf[256];
    mb_decode_regs(&a, wire, &back, sbuf, sizeof sbuf);
    assert_int_equal(back.type, a.type);
    switch (a.type) {
    case TW_TYPE_FLOAT: assert_true(back.as.f == (v.type == TW_TYPE_FLOAT ? v.as.f : (float)v.as.d)); break;
    case TW_TYPE_DOUBLE: assert_true(back.as.d == v.as.d); break;
    case TW_TYPE_STRING:
        assert_int_equal(back.as.buf.len, v.as.buf.len);
        assert_memory_equal(back.as.buf.ptr, v.as.buf.ptr, v.as.buf.len);
        break;
    case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64: assert_true(back.as.i == v.as.i); break;
    default: assert_true(back.as.u == v.as.u); break;
    }
}

static void test_values(void **state)
{
    (void)state;
    tw_value v;
    v.type = TW_TYPE_UINT32; v.as.u = 0x11223344;
    roundtrip("hr:0:UINT32", v, (uint16_t[]){0x1122, 0x3344});
    roundtrip("hr:0:UINT32:CDAB", v, (uint16_t[]){0x3344, 0x1122});
    roundtrip("hr:0:UINT32:BADC", v, (uint16_t[]){0x2211, 0x4433});
    roundtrip("hr:0:UINT32:DCBA", v, (uint16_t[]){0x4433, 0x2211});
    v.type = TW_TYPE_UINT64; v.as.u = 0x0102030405060708ull;
    roundtrip("hr:0:UINT64", v, (uint16_t[]){0x0102, 0x0304, 0x0506, 0x0708});
    roundtrip("hr:0:UINT64:CDAB", v, (uint16_t[]){0x0708, 0x0506, 0x0304, 0x0102});
    roundtrip("hr:0:UINT64:BADC", v, (uint16_t[]){0x0201, 0x0403, 0x0605, 0x0807});
    roundtrip("hr:0:UINT64:DCBA", v, (uint16_t[]){0x0807, 0x0605, 0x0403, 0x0201});
    v.type = TW_TYPE_INT16; v.as.i = -2;
    roundtrip("hr:0:INT16", v, (uint16_t[]){0xFFFE});
    roundtrip("hr:0:INT16:DCBA", v, (uint16_t[]){0xFEFF});
    v.type = TW_TYPE_INT64; v.as.i = INT64_MIN;
    roundtrip("hr:0:INT64", v, (uint16_t[]){0x8000, 0, 0, 0});
    v.type = TW_TYPE_FLOAT; v.as.f = 123.456f; /* 0x42F6E979 */
    roundtrip("hr:0:FLOAT32", v, (uint16_t[]){0x42F6, 0xE979});
    roundtrip("hr:0:FLOAT32:CDAB", v, (uint16_t[]){0xE979, 0x42F6});
    roundtrip("hr:0:FLOAT32:BADC", v, (uint16_t[]){0xF642, 0x79E9});
    roundtrip("hr:0:FLOAT32:DCBA", v, (uint16_t[]){0x79E9, 0xF642});
    v.type = TW_TYPE_DOUBLE; v.as.d = 1.0; /* 0x3FF0000000000000 */
    roundtrip("hr:0:FLOAT64", v, (uint16_t[]){0x3FF0, 0, 0, 0});
    roundtrip("hr:0:FLOAT64:DCBA", v, (uint16_t[]){0, 0, 0, 0xF03F});
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "abc"; v.as.buf.len = 3;
    roundtrip("hr:0:STRING[4]", v, (uint16_t[]){0x6162, 0x6300});
    roundtrip("hr:0:STRING[3]:BADC", v, (uint16_t[]){0x6261, 0x0063});

    /* range and type checks */
    mb_addr a;
    char err[256];
    uint16_t w[8];
    mb_parse_address("hr:0:INT16", &a, err, sizeof err);
    v.type = TW_TYPE_INT32; v.as.i = 32768;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    v.as.i = -32768;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_OK);
    v.as.i = -32769;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    v.type = TW_TYPE_DOUBLE; v.as.d = NAN;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    v.type = TW_TYPE_STRING;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_TYPE_MISMATCH);
    mb_parse_address("hr:0:UINT64", &a, err, sizeof err);
    v.type = TW_TYPE_UINT64; v.as.u = UINT64_MAX;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_OK);
    v.type = TW_TYPE_INT64; v.as.i = -1;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    mb_parse_address("hr:0:FLOAT32", &a, err, sizeof err);
    v.type = TW_TYPE_DOUBLE; v.as.d = 1e300;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    mb_parse_address("hr:0:STRING[2]", &a, err, sizeof err);
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "abc"; v.as.buf.len = 3;
    assert_int_equal(mb_encode_regs(&a, &v, w, err, sizeof err), TW_ERR_RANGE);
    int b;
    v.type = TW_TYPE_INT32; v.as.i = 2;
    assert_int_equal(mb_value_to_bool(&v, &b), TW_ERR_RANGE);
    v.as.i = 1;
    assert_int_equal(mb_value_to_bool(&v, &b), TW_OK);
    assert_int_equal(b, 1);
    /* register bits */
    mb_parse_address("hr:0.9", &a, err, sizeof err);
    uint8_t wire[2] = {0x02, 0x00};
    tw_value out;
    mb_decode_regs(&a, wire, &out, NULL, 0);
    assert_int_equal(out.as.b, 1);
    mb_parse_address("hr:0.8", &a, err, sizeof err);
    mb_decode_regs(&a, wire, &out, NULL, 0);
    assert_int_equal(out.as.b, 0);
}

static void test_exception_quality(void **state)
{
    (void)state;
    assert_int_equal(mb_exception_quality(1), TW_QUALITY_BAD_CONFIG);
    assert_int_equal(mb_exception_quality(2), TW_QUALITY_BAD_CONFIG);
    assert_int_equal(mb_exception_quality(4), TW_QUALITY_BAD_DEVICE_FAILURE);
    assert_int_equal(mb_exception_quality(6), TW_QUALITY_BAD_COMM_FAILURE);
    assert_int_equal(mb_exception_quality(0x0A), TW_QUALITY_BAD_NOT_CONNECTED);
    assert_int_equal(mb_exception_quality(0x0B), TW_QUALITY_BAD_TIMEOUT);
    assert_string_equal(mb_exception_name(2), "illegal data address");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_valid), cmocka_unit_test(test_address_invalid), cmocka_unit_test(test_crc),
        cmocka_unit_test(test_pdu_limits),    cmocka_unit_test(test_check_response),  cmocka_unit_test(test_tcp_frame),
        cmocka_unit_test(test_rtu_frame),     cmocka_unit_test(test_values),          cmocka_unit_test(test_exception_quality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
