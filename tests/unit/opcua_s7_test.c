/* Unit tests of the OPC UA address parser and the S7 address syntax and value codec (no network). */
#include <stdio.h>
#include <string.h>

#include "adapters/opcua/opcua_address.h"
#include "adapters/s7/s7_address.h"
#include "internal.h"
#include "twtest.h"

static void test_ua_nodeids(void **state)
{
    (void)state;
    char err[256];
    ua_addr a;
    assert_int_equal(tw__opcua_parse_address("ns=3;i=1001", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.ns, 3);
    assert_int_equal(a.kind, UA_ADDR_NUMERIC);
    assert_int_equal(a.numeric, 1001);
    assert_int_equal(a.type, TW_TYPE_DOUBLE);
    tw__opcua_addr_free(&a);
    assert_int_equal(tw__opcua_parse_address("i=4294967295", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.ns, 0);
    assert_true(a.numeric == 4294967295u);
    assert_int_equal(tw__opcua_parse_address("type=string[64];ns=2;s=A;b=c=d", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.kind, UA_ADDR_STRING);
    assert_int_equal(a.type, TW_TYPE_STRING);
    assert_int_equal(a.max_bytes, 64);
    assert_int_equal(a.id_len, 7);
    assert_memory_equal(a.id, "A;b=c=d", 7);
    tw__opcua_addr_free(&a);
    assert_int_equal(tw__opcua_parse_address("ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf63", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.kind, UA_ADDR_GUID);
    assert_true(a.guid_d1 == 0x72962b91u && a.guid_d2 == 0xfa75 && a.guid_d3 == 0x4ae6);
    static const uint8_t d4[8] = {0x8d, 0x28, 0xb4, 0x04, 0xdc, 0x7d, 0xaf, 0x63};
    assert_memory_equal(a.guid_d4, d4, 8);
    assert_int_equal(tw__opcua_parse_address("ns=1;b=AAECAw==", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.kind, UA_ADDR_BYTES);
    assert_int_equal(a.id_len, 4);
    assert_memory_equal(a.id, "\x00\x01\x02\x03", 4);
    tw__opcua_addr_free(&a);
    assert_int_equal(tw__opcua_parse_address("nsu=urn:a;s=b", &a, err, sizeof err), TW_ERR_UNSUPPORTED);
    const char *bad[] = {"ns=1;b=AAECAx==", "ns=1;b=AAEC Aw==", "ns=1;s=", "s", "ns=1;i=1x", "type=INT32;", "ns=1;;i=1",
                         "ns=01x;i=1", "TYPE=FOO;i=1"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (tw__opcua_parse_address(bad[i], &a, err, sizeof err) == TW_OK) fail_msg("accepted %s", bad[i]);
        assert_true(strlen(err) > 10);
    }
}

static void test_s7_addresses(void **state)
{
    (void)state;
    char err[256];
    s7_addr a;
    assert_int_equal(tw__s7_parse_address("DB10.DBX3.7", &a, err, sizeof err), TW_OK);
    assert_true(a.area == S7_AREA_DB && a.db == 10 && a.byte == 3 && a.bit == 7 && a.type == TW_TYPE_BOOL && a.size == 1);
    assert_int_equal(tw__s7_parse_address("DB1.DBW10:INT", &a, err, sizeof err), TW_OK);
    assert_true(a.size == 2 && a.type == TW_TYPE_INT16 && a.byte == 10);
    assert_int_equal(tw__s7_parse_address("MD4:REAL", &a, err, sizeof err), TW_OK);
    assert_true(a.area == S7_AREA_M && a.type == TW_TYPE_FLOAT);
    assert_int_equal(tw__s7_parse_address("qb7", &a, err, sizeof err), TW_OK);
    assert_true(a.area == S7_AREA_Q && a.type == TW_TYPE_UINT8);
    assert_int_equal(tw__s7_parse_address("A0.1", &a, err, sizeof err), TW_OK);
    assert_true(a.area == S7_AREA_Q && a.bit == 1);
    assert_int_equal(tw__s7_parse_address("DB2.DBB0:STRING[20]", &a, err, sizeof err), TW_OK);
    assert_true(a.size == 22 && a.strmax == 20 && tw__s7_max_bytes(&a) == 40);
    assert_int_equal(tw__s7_parse_address("DB2.DBB0:STRING", &a, err, sizeof err), TW_OK);
    assert_int_equal(a.strmax, 254);
    assert_int_equal(tw__s7_parse_address("DB1.DBB8:LREAL", &a, err, sizeof err), TW_OK);
    assert_true(a.size == 8 && a.type == TW_TYPE_DOUBLE);
    const char *bad[] = {"DB1.DBD8:LREAL", "DB1.DBW0:DINT", "DB1.DBX0", "M1.8", "DB1.DBB65535:INT", "C1", "DB1.DBB0:STRING[0]",
                         "DB1.DBB0:STRING[20", "DB123456.DBW0", "DB1.DBW0 ", "M10.2:INT", "I"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (tw__s7_parse_address(bad[i], &a, err, sizeof err) == TW_OK) fail_msg("accepted %s", bad[i]);
        assert_true(strlen(err) > 10);
    }
}

static void test_s7_codec(void **state)
{
    (void)state;
    char err[256], buf[64];
    s7_addr a;
    tw_value v;
    uint8_t out[300];
    size_t ol;
    assert_int_equal(tw__s7_parse_address("DB1.DBD0:DINT", &a, err, sizeof err), TW_OK);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\xff\xff\xff\xfe", 4, &v, NULL, 0, err, sizeof err), TW_OK);
    assert_true(v.as.i == -2);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\xff\xff\xff", 3, &v, NULL, 0, err, sizeof err), TW_ERR_PROTOCOL);
    v.type = TW_TYPE_DOUBLE;
    v.as.d = 100000.0;
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_OK);
    assert_int_equal(ol, 4);
    assert_memory_equal(out, "\x00\x01\x86\xa0", 4);
    v.as.d = 3e9; /* beyond DINT */
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_ERR_RANGE);
    assert_int_equal(tw__s7_parse_address("M0.3", &a, err, sizeof err), TW_OK);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\x08", 1, &v, NULL, 0, err, sizeof err), TW_OK);
    assert_int_equal(v.as.b, 1);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\xf7", 1, &v, NULL, 0, err, sizeof err), TW_OK);
    assert_int_equal(v.as.b, 0);
    /* STRING: Latin-1 <-> UTF-8, header checked */
    assert_int_equal(tw__s7_parse_address("DB1.DBB0:STRING[4]", &a, err, sizeof err), TW_OK);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\x04\x03" "a\xe9z\x00", 6, &v, buf, 8, err, sizeof err), TW_OK);
    assert_int_equal(v.as.buf.len, 4);
    assert_memory_equal(v.as.buf.ptr, "a\xc3\xa9z", 4);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\x04\x05" "abcd", 6, &v, buf, 8, err, sizeof err), TW_ERR_PROTOCOL);
    v.type = TW_TYPE_STRING;
    v.as.buf.ptr = "\xc3\xa9t\xc3\xa9";
    v.as.buf.len = 5;
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_OK);
    assert_int_equal(ol, 5);
    assert_memory_equal(out, "\x04\x03\xe9t\xe9", 5);
    v.as.buf.ptr = "\xe2\x82\xac"; /* euro sign: not Latin-1 */
    v.as.buf.len = 3;
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_ERR_RANGE);
    v.as.buf.ptr = "abcde";
    v.as.buf.len = 5;
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_ERR_RANGE);
    /* REAL and LREAL bit patterns */
    assert_int_equal(tw__s7_parse_address("DB1.DBD0:REAL", &a, err, sizeof err), TW_OK);
    assert_int_equal(tw__s7_decode(&a, (const uint8_t *)"\xbf\x00\x00\x00", 4, &v, NULL, 0, err, sizeof err), TW_OK);
    assert_true(v.as.f == -0.5f);
    assert_int_equal(tw__s7_parse_address("DB1.DBB0:LREAL", &a, err, sizeof err), TW_OK);
    v.type = TW_TYPE_DOUBLE;
    v.as.d = 1.0;
    assert_int_equal(tw__s7_encode(&a, &v, out, &ol, err, sizeof err), TW_OK);
    assert_memory_equal(out, "\x3f\xf0\x00\x00\x00\x00\x00\x00", 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ua_nodeids), cmocka_unit_test(test_s7_addresses),
                                       cmocka_unit_test(test_s7_codec)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
