/* Unit tests of the sparkplug module: direct encoder vs protobuf-c (byte identity), decoding,
 * births, rendering, topics, sequence counters. */
#include <math.h>
#include <string.h>

#include "twtest.h"
#include "sparkplug/sp_internal.h"

static int setup(void **state)
{
    (void)state;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

static tw_sp_metric metric_d(uint64_t alias, int64_t ts, double d)
{
    tw_sp_metric m;
    memset(&m, 0, sizeof(m));
    m.alias = alias;
    m.ts_ms = ts;
    m.value.type = TW_TYPE_DOUBLE;
    m.value.as.d = d;
    return m;
}

/* Encodes with the direct encoder and with protobuf-c; asserts equal bytes; returns the length. */
static size_t assert_identical(int64_t ts, uint64_t seq, const tw_sp_metric *m, size_t n,
                               uint8_t *out, size_t cap)
{
    size_t len = 0, rlen = 0;
    assert_int_equal(tw_sp_encode_data(out, cap, &len, ts, seq, m, n), TW_OK);
    tw__sp_ref *ref;
    assert_int_equal(tw__sp_ref_new(&ref, 0, ts, seq, m, n), TW_OK);
    uint8_t *rb = malloc(len + 64);
    assert_int_equal(tw__sp_ref_pack(ref, rb, len + 64, &rlen), TW_OK);
    tw__sp_ref_free(ref);
    assert_int_equal(rlen, len);
    assert_memory_equal(rb, out, len);
    free(rb);
    return len;
}

/* A DDATA written out by hand from the schema: timestamp 1486144502122, one metric (alias 5,
 * timestamp 1486144502122, datatype Double, 12.5), seq 2. */
static void test_known_bytes(void **state)
{
    (void)state;
    /* 1486144502122 = -> varint ea f2 f5 a8 a0 2b */
    static const uint8_t ts_v[] = {0xea, 0xf2, 0xf5, 0xa8, 0xa0, 0x2b};
    uint8_t expect[64];
    size_t e = 0;
    expect[e++] = 0x08; /* timestamp, varint */
    memcpy(expect + e, ts_v, 6);
    e += 6;
    expect[e++] = 0x12; /* metrics, length-delimited */
    expect[e++] = 2 + 7 + 2 + 9;
    expect[e++] = 0x10; /* alias */
    expect[e++] = 5;
    expect[e++] = 0x18; /* timestamp */
    memcpy(expect + e, ts_v, 6);
    e += 6;
    expect[e++] = 0x20; /* datatype */
    expect[e++] = 10;   /* Double */
    expect[e++] = 0x69; /* double_value (13), 64-bit */
    static const uint8_t d125[] = {0, 0, 0, 0, 0, 0, 0x29, 0x40}; /* 12.5 little-endian */
    memcpy(expect + e, d125, 8);
    e += 8;
    expect[e++] = 0x18; /* seq */
    expect[e++] = 2;

    tw_sp_metric m = metric_d(5, 1486144502122, 12.5);
    uint8_t buf[64];
    size_t len = assert_identical(1486144502122, 2, &m, 1, buf, sizeof(buf));
    assert_int_equal(len, e);
    assert_memory_equal(buf, expect, e);
}

static void test_identity_all_types(void **state)
{
    (void)state;
    static const char str[] = "h\xc3\xa9llo";
    static const uint8_t bytes[] = {0, 1, 2, 0xff, 0x80};
    tw_sp_metric m[40];
    size_t n = 0;
    memset(m, 0, sizeof(m));
#define ADD(t, field, v)                                                                        \
    do {                                                                                        \
        m[n].alias = n * 977u;                                                                  \
        m[n].ts_ms = 1700000000000 + (int64_t)n;                                                \
        m[n].value.type = (t);                                                                  \
        m[n].value.as.field = (v);                                                              \
        n++;                                                                                    \
    } while (0)
    ADD(TW_TYPE_BOOL, b, 1);
    ADD(TW_TYPE_BOOL, b, 0);
    ADD(TW_TYPE_INT8, i, -1);       /* -> uint32 0xffffffff: 5-byte varint */
    ADD(TW_TYPE_INT8, i, -128);
    ADD(TW_TYPE_INT16, i, -32768);
    ADD(TW_TYPE_INT32, i, INT32_MIN);
    ADD(TW_TYPE_INT32, i, INT32_MAX);
    ADD(TW_TYPE_INT64, i, INT64_MIN); /* -> 10-byte varint */
    ADD(TW_TYPE_INT64, i, -1);
    ADD(TW_TYPE_INT64, i, 0);
    ADD(TW_TYPE_UINT8, u, 255);
    ADD(TW_TYPE_UINT16, u, 65535);
    ADD(TW_TYPE_UINT32, u, UINT32_MAX);
    ADD(TW_TYPE_UINT64, u, UINT64_MAX);
    ADD(TW_TYPE_FLOAT, f, NAN);
    ADD(TW_TYPE_FLOAT, f, -0.0f);
    ADD(TW_TYPE_FLOAT, f, INFINITY);
    ADD(TW_TYPE_DOUBLE, d, NAN);
    ADD(TW_TYPE_DOUBLE, d, -INFINITY);
    ADD(TW_TYPE_DOUBLE, d, 1e-310); /* subnormal */
    ADD(TW_TYPE_DATETIME, i, 1700000000123456789);
    ADD(TW_TYPE_DATETIME, i, -1); /* before the epoch: floor to -1 ms */
    m[n].value.type = TW_TYPE_STRING;
    m[n].value.as.buf.ptr = str;
    m[n].value.as.buf.len = strlen(str);
    n++;
    m[n].value.type = TW_TYPE_STRING; /* empty string: still written */
    m[n].value.as.buf.ptr = "";
    n++;
    m[n].value.type = TW_TYPE_BYTES;
    m[n].value.as.buf.ptr = bytes;
    m[n].value.as.buf.len = sizeof(bytes);
    n++;
    m[n].value.type = TW_TYPE_BYTES; /* empty bytes */
    n++;
    /* flags and quality */
    m[n] = metric_d(UINT64_MAX, INT64_MAX, 1.5); /* largest alias and timestamp */
    m[n].flags = TW_SP_METRIC_HISTORICAL | TW_SP_METRIC_TRANSIENT;
    n++;
    m[n] = metric_d(7, 0, 2.5);
    m[n].quality = TW_QUALITY_BAD_COMM_FAILURE; /* Quality 0 written */
    n++;
    m[n] = metric_d(8, 1, 2.5);
    m[n].quality = TW_QUALITY_UNCERTAIN_SENSOR; /* 500 */
    n++;
    m[n] = metric_d(9, 1, 2.5);
    m[n].flags = TW_SP_METRIC_QUALITY; /* good, forced: 192 */
    n++;
    m[n] = metric_d(10, 1, 2.5);
    m[n].flags = TW_SP_METRIC_NULL; /* null: datatype but no value */
    n++;
    m[n].flags = TW_SP_METRIC_NULL; /* null of no type: no datatype either */
    n++;
    m[n] = metric_d(11, 1, 3.5);
    m[n].name = "Folder/Metric name";
    m[n].flags = TW_SP_METRIC_NO_ALIAS | TW_SP_METRIC_NO_DATATYPE | TW_SP_METRIC_NO_TIMESTAMP;
    n++;
    m[n] = metric_d(12, 1, 3.5);
    m[n].name = ""; /* empty name is present on the wire */
    n++;
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[512];
        /* one metric at a time, then all together */
        assert_identical(1700000000000, i % 256, &m[i], 1, buf, sizeof(buf));
    }
    uint8_t big[8192];
    assert_identical(1700000000000, 255, m, n, big, sizeof(big));
    assert_identical(0, 0, NULL, 0, big, sizeof(big)); /* no metrics */
    assert_identical(INT64_MAX, UINT64_MAX, m, n, big, sizeof(big));
#undef ADD
}

static void test_buffer_contract(void **state)
{
    (void)state;
    tw_sp_metric m[3] = {metric_d(1, 1700000000000, 1.0), metric_d(300, 1700000000001, 2.0),
                         metric_d(70000, 1700000000002, 3.0)};
    m[2].quality = TW_QUALITY_BAD;
    size_t need = 0;
    assert_int_equal(tw_sp_encode_data(NULL, 0, &need, 1700000000000, 3, m, 3), TW_ERR_FULL);
    assert_true(need > 0);
    uint8_t full[256];
    size_t len;
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1700000000000, 3, m, 3), TW_OK);
    assert_int_equal(len, need);
    /* every short buffer: TW_ERR_FULL, the size needed, and no byte written past cap */
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t buf[256];
        memset(buf, 0xa5, sizeof(buf));
        size_t got = 0;
        assert_int_equal(tw_sp_encode_data(buf, cap, &got, 1700000000000, 3, m, 3), TW_ERR_FULL);
        assert_int_equal(got, need);
        for (size_t k = cap; k < sizeof(buf); k++) assert_int_equal(buf[k], 0xa5);
    }
    /* argument errors */
    tw_sp_metric bad = metric_d(1, 1, 1);
    bad.value.type = TW_TYPE_NONE;
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1, 0, &bad, 1), TW_ERR_INVALID_ARG);
    bad.value.type = (tw_type)99;
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1, 0, &bad, 1), TW_ERR_INVALID_ARG);
    bad = metric_d(1, -1, 1);
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1, 0, &bad, 1), TW_ERR_RANGE);
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, -5, 0, m, 1), TW_ERR_RANGE);
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), NULL, 1, 0, m, 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1, 0, NULL, 1), TW_ERR_INVALID_ARG);
    bad.ts_ms = 1;
    bad.value.type = TW_TYPE_STRING;
    bad.value.as.buf.ptr = NULL;
    bad.value.as.buf.len = 3;
    assert_int_equal(tw_sp_encode_data(full, sizeof(full), &len, 1, 0, &bad, 1), TW_ERR_INVALID_ARG);
}

static void test_roundtrip_decode(void **state)
{
    (void)state;
    static const char s[] = "line\n\"quoted\"";
    tw_sp_metric m[6];
    memset(m, 0, sizeof(m));
    m[0] = metric_d(42, 1700000000005, -273.15);
    m[0].flags = TW_SP_METRIC_HISTORICAL;
    m[0].quality = TW_QUALITY_UNCERTAIN_LAST_KNOWN;
    m[1].alias = 43;
    m[1].ts_ms = 1700000000006;
    m[1].value.type = TW_TYPE_INT16;
    m[1].value.as.i = -1234;
    m[2].alias = 44;
    m[2].ts_ms = 1700000000007;
    m[2].value.type = TW_TYPE_STRING;
    m[2].value.as.buf.ptr = s;
    m[2].value.as.buf.len = strlen(s);
    m[3].alias = 45;
    m[3].ts_ms = 1700000000008;
    m[3].value.type = TW_TYPE_UINT32;
    m[3].value.as.u = 4000000000u;
    m[3].quality = TW_QUALITY_BAD_SENSOR_FAILURE;
    m[4].alias = 46;
    m[4].ts_ms = 1700000000009;
    m[4].value.type = TW_TYPE_DATETIME;
    m[4].value.as.i = 1600000000123000000;
    m[5].alias = 47;
    m[5].ts_ms = 1700000000010;
    m[5].value.type = TW_TYPE_INT64;
    m[5].flags = TW_SP_METRIC_NULL;
    uint8_t buf[512];
    size_t len;
    assert_int_equal(tw_sp_encode_data(buf, sizeof(buf), &len, 1700000000100, 17, m, 6), TW_OK);
    tw_sp_payload *p = NULL;
    char why[128];
    assert_int_equal(tw_sp_payload_decode(&p, buf, len, why, sizeof(why)), TW_OK);
    assert_int_equal(p->present & (TW_SP_HAS_TIMESTAMP | TW_SP_HAS_SEQ),
                     TW_SP_HAS_TIMESTAMP | TW_SP_HAS_SEQ);
    assert_int_equal(p->timestamp_ms, 1700000000100);
    assert_int_equal(p->seq, 17);
    assert_int_equal(p->metric_count, 6);
    const tw_sp_decoded_metric *d = p->metrics;
    assert_null(d[0].metric.name);
    assert_int_equal(d[0].metric.alias, 42);
    assert_int_equal(d[0].metric.ts_ms, 1700000000005);
    assert_int_equal(d[0].datatype, TW_SP_DT_DOUBLE);
    assert_int_equal(d[0].metric.value.type, TW_TYPE_DOUBLE);
    assert_true(d[0].metric.value.as.d == -273.15);
    assert_true(d[0].metric.flags & TW_SP_METRIC_HISTORICAL);
    assert_true(d[0].metric.flags & TW_SP_METRIC_QUALITY);
    assert_int_equal(d[0].metric.quality, TW_QUALITY_UNCERTAIN_LAST_KNOWN);
    assert_int_equal(d[1].metric.value.type, TW_TYPE_INT16);
    assert_int_equal(d[1].metric.value.as.i, -1234);
    assert_false(d[1].metric.flags & (TW_SP_METRIC_QUALITY | TW_SP_METRIC_HISTORICAL));
    assert_int_equal(d[1].metric.quality, TW_QUALITY_GOOD);
    assert_int_equal(d[2].metric.value.type, TW_TYPE_STRING);
    assert_int_equal(d[2].metric.value.as.buf.len, strlen(s));
    assert_memory_equal(d[2].metric.value.as.buf.ptr, s, strlen(s));
    assert_int_equal(d[3].metric.value.as.u, 4000000000u);
    assert_int_equal(d[3].metric.quality, TW_QUALITY_BAD);
    assert_int_equal(d[4].metric.value.type, TW_TYPE_DATETIME);
    assert_int_equal(d[4].metric.value.as.i, 1600000000123000000);
    assert_true(d[5].metric.flags & TW_SP_METRIC_NULL);
    assert_int_equal(d[5].datatype, TW_SP_DT_INT64);
    assert_false(d[5].present & TW_SP_HAS_VALUE);

    char *json = NULL;
    size_t jl = 0;
    assert_int_equal(tw_sp_payload_format(&json, &jl, p, TW_SP_FORMAT_JSON), TW_OK);
    assert_int_equal(strlen(json), jl);
    assert_non_null(strstr(json, "\"seq\":17"));
    assert_non_null(strstr(json, "\"alias\":42"));
    assert_non_null(strstr(json, "\"value\":-273.14999999999998"));
    assert_non_null(strstr(json, "\"is_historical\":true"));
    assert_non_null(strstr(json, "\"quality\":500"));
    assert_non_null(strstr(json, "\"value\":\"line\\n\\\"quoted\\\"\""));
    assert_non_null(strstr(json, "\"value\":1600000000123")); /* DateTime in ms */
    assert_non_null(strstr(json, "\"is_null\":true"));
    tw_free(json);
    char *text = NULL;
    assert_int_equal(tw_sp_payload_format(&text, NULL, p, TW_SP_FORMAT_TEXT), TW_OK);
    assert_non_null(strstr(text, "seq: 17"));
    assert_non_null(strstr(text, "alias=43 Int16 = -1234"));
    tw_free(text);
    tw_sp_payload_free(p);
}

static const tw_sp_property *find_prop(const tw_sp_decoded_metric *d, const char *key)
{
    for (size_t i = 0; i < d->property_count; i++)
        if (!strcmp(d->properties[i].key, key)) return &d->properties[i];
    return NULL;
}

static void test_birth(void **state)
{
    (void)state;
    tw_sp_metric m[2];
    memset(m, 0, sizeof(m));
    m[0] = metric_d(100, 1700000000000, 21.5);
    m[0].name = "Hydraulics/OilTemp";
    m[0].unit = "degC";
    m[0].description = "oil temperature at the pump";
    m[1].name = "Counters/Strokes";
    m[1].alias = 101;
    m[1].ts_ms = 1700000000000;
    m[1].value.type = TW_TYPE_UINT64;
    m[1].value.as.u = 123456789012ull;
    m[1].quality = TW_QUALITY_BAD_NOT_CONNECTED;
    uint8_t buf[1024];
    size_t len;
    /* name is required in births */
    tw_sp_metric noname = m[1];
    noname.name = NULL;
    assert_int_equal(tw_sp_encode_birth(buf, sizeof(buf), &len, 1, 0, &noname, 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw__sp_encode_nbirth(buf, sizeof(buf), &len, 1700000000000, 7, 1, m, 2), TW_OK);
    /* size query gives the same length */
    size_t n2 = 0;
    assert_int_equal(tw__sp_encode_nbirth(NULL, 0, &n2, 1700000000000, 7, 1, m, 2), TW_ERR_FULL);
    assert_int_equal(n2, len);

    tw_sp_payload *p;
    assert_int_equal(tw_sp_payload_decode(&p, buf, len, NULL, 0), TW_OK);
    assert_int_equal(p->seq, 0);
    assert_int_equal(p->metric_count, 4);
    const tw_sp_decoded_metric *d = p->metrics;
    assert_string_equal(d[0].metric.name, "bdSeq");
    assert_int_equal(d[0].datatype, TW_SP_DT_INT64);
    assert_int_equal(d[0].metric.value.as.i, 7);
    assert_string_equal(d[1].metric.name, "Node Control/Rebirth");
    assert_int_equal(d[1].datatype, TW_SP_DT_BOOLEAN);
    assert_int_equal(d[1].metric.value.as.b, 0);
    assert_int_equal(d[1].metric.alias, 2);
    assert_string_equal(d[2].metric.name, "Hydraulics/OilTemp");
    assert_int_equal(d[2].metric.alias, 100);
    assert_int_equal(d[2].datatype, TW_SP_DT_DOUBLE);
    assert_string_equal(d[2].metric.unit, "degC");
    assert_string_equal(d[2].metric.description, "oil temperature at the pump");
    const tw_sp_property *q = find_prop(&d[2], "Quality");
    assert_non_null(q);
    assert_int_equal(q->type, TW_SP_DT_INT32);
    assert_int_equal(q->value.as.i, 192);
    assert_int_equal(d[3].datatype, TW_SP_DT_UINT64);
    assert_int_equal(d[3].metric.value.as.u, 123456789012ull);
    assert_int_equal(d[3].metric.quality, TW_QUALITY_BAD);
    assert_null(d[3].metric.unit);
    q = find_prop(&d[3], "Quality");
    assert_non_null(q);
    assert_int_equal(q->value.as.i, 0);
    tw_sp_payload_free(p);

    /* NDEATH: bdSeq only, no seq */
    assert_int_equal(tw__sp_encode_ndeath(buf, sizeof(buf), &len, 1700000000000, 7), TW_OK);
    assert_int_equal(tw_sp_payload_decode(&p, buf, len, NULL, 0), TW_OK);
    assert_false(p->present & TW_SP_HAS_SEQ);
    assert_int_equal(p->metric_count, 1);
    assert_string_equal(p->metrics[0].metric.name, "bdSeq");
    assert_int_equal(p->metrics[0].metric.value.as.i, 7);
    tw_sp_payload_free(p);
}

static void test_decode_malformed(void **state)
{
    (void)state;
    char why[160];
    tw_sp_payload *p = (tw_sp_payload *)(uintptr_t)1;
    /* truncated varint */
    static const uint8_t t1[] = {0x08, 0x80};
    assert_int_equal(tw_sp_payload_decode(&p, t1, sizeof(t1), why, sizeof(why)),
                     TW_ERR_SPARKPLUG_DECODE);
    assert_null(p);
    assert_non_null(strstr(why, "truncated"));
    TWT_ASSERT_LAST_ERROR("sparkplug", why); /* recorded for the thread too */
    assert_int_equal(tw_last_error_status(), TW_ERR_SPARKPLUG_DECODE);
    /* metric length past the end */
    static const uint8_t t2[] = {0x12, 0x05, 0x10, 0x01};
    assert_int_equal(tw_sp_payload_decode(&p, t2, sizeof(t2), why, sizeof(why)),
                     TW_ERR_SPARKPLUG_DECODE);
    assert_non_null(strstr(why, "exceeds"));
    /* group wire type */
    static const uint8_t t3[] = {0x0b};
    assert_int_equal(tw_sp_payload_decode(&p, t3, sizeof(t3), why, sizeof(why)),
                     TW_ERR_SPARKPLUG_DECODE);
    /* a known scalar field with the wrong wire type: protobuf-c refuses it */
    static const uint8_t t4[] = {0x0d, 1, 2, 3, 4}; /* timestamp as fixed32 */
    assert_int_equal(tw_sp_payload_decode(&p, t4, sizeof(t4), why, sizeof(why)),
                     TW_ERR_SPARKPLUG_DECODE);
    assert_true(strlen(why) > 0);
    /* deep nesting: metric -> properties -> value -> propertyset -> value -> ... */
    uint8_t deep[4096];
    size_t n = 0;
    int levels = 200;
    /* build from the inside out into the tail of the buffer */
    size_t pos = sizeof(deep);
    for (int i = 0; i < levels; i++) {
        size_t inner = sizeof(deep) - pos;
        uint8_t hdr[4];
        size_t h = 0;
        hdr[h++] = (i % 2) ? 0x4a : 0x12; /* PropertyValue.propertyset_value(9) / PropertySet.values(2) */
        hdr[h++] = (uint8_t)(inner < 128 ? inner : (inner & 0x7f) | 0x80);
        if (inner >= 128) hdr[h++] = (uint8_t)(inner >> 7);
        pos -= h;
        memcpy(deep + pos, hdr, h);
    }
    n = sizeof(deep) - pos;
    /* wrap in a metric (Payload.metrics = 2); the outermost level is Metric.properties (9) */
    uint8_t wrapped[4200];
    wrapped[0] = 0x12;
    size_t w = 1;
    size_t mlen = n + 0;
    wrapped[w++] = (uint8_t)((mlen & 0x7f) | 0x80);
    wrapped[w++] = (uint8_t)(mlen >> 7);
    memcpy(wrapped + w, deep + pos, n);
    w += n;
    assert_int_equal(tw_sp_payload_decode(&p, wrapped, w, why, sizeof(why)),
                     TW_ERR_SPARKPLUG_DECODE);
    assert_non_null(strstr(why, "nested"));
    /* empty payload is a valid (empty) message */
    assert_int_equal(tw_sp_payload_decode(&p, "", 0, why, sizeof(why)), TW_OK);
    assert_int_equal(p->metric_count, 0);
    assert_int_equal(p->present, 0);
    tw_sp_payload_free(p);
    assert_int_equal(tw_sp_payload_decode(NULL, t1, 2, NULL, 0), TW_ERR_INVALID_ARG);
}

/* UInt32 in long_value (as some codecs write it) and values without a datatype still decode. */
static void test_decode_lenient(void **state)
{
    (void)state;
    /* metric{alias 1, datatype UInt32, long_value 4000000000}, metric{alias 2, int_value 7} */
    static const uint8_t in[] = {0x12, 0x0a, 0x10, 0x01, 0x20, 0x07, 0x58, 0x80, 0xd0, 0xac, 0xf3, 0x0e,
                                 0x12, 0x04, 0x10, 0x02, 0x50, 0x07};
    tw_sp_payload *p;
    assert_int_equal(tw_sp_payload_decode(&p, in, sizeof(in), NULL, 0), TW_OK);
    assert_int_equal(p->metric_count, 2);
    assert_int_equal(p->metrics[0].metric.value.type, TW_TYPE_UINT32);
    assert_int_equal(p->metrics[0].metric.value.as.u, 4000000000u);
    assert_int_equal(p->metrics[1].metric.value.type, TW_TYPE_UINT32);
    assert_int_equal(p->metrics[1].metric.value.as.u, 7);
    assert_true(p->metrics[1].metric.flags & TW_SP_METRIC_NO_DATATYPE);
    assert_true(p->metrics[1].metric.flags & TW_SP_METRIC_NO_TIMESTAMP);
    tw_sp_payload_free(p);
}

/* A command as a host sends it: metric by name, no alias, no timestamp (allowed in NCMD). */
static void test_command(void **state)
{
    (void)state;
    tw_sp_metric m;
    memset(&m, 0, sizeof(m));
    m.name = TW__SP_METRIC_REBIRTH;
    m.value.type = TW_TYPE_BOOL;
    m.value.as.b = 1;
    m.flags = TW_SP_METRIC_NO_ALIAS | TW_SP_METRIC_NO_TIMESTAMP;
    uint8_t buf[128];
    size_t len = assert_identical(1700000000000, 0, &m, 1, buf, sizeof(buf));
    tw_sp_payload *p;
    assert_int_equal(tw_sp_payload_decode(&p, buf, len, NULL, 0), TW_OK);
    assert_int_equal(p->metric_count, 1);
    const tw_sp_decoded_metric *d = &p->metrics[0];
    assert_string_equal(d->metric.name, "Node Control/Rebirth");
    assert_false(d->present & (TW_SP_HAS_ALIAS | TW_SP_HAS_TIMESTAMP));
    assert_true(d->metric.flags & TW_SP_METRIC_NO_ALIAS);
    assert_int_equal(d->metric.value.type, TW_TYPE_BOOL);
    assert_int_equal(d->metric.value.as.b, 1);
    tw_sp_payload_free(p);
}

static void test_datatypes(void **state)
{
    (void)state;
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_INT8), 1);
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_UINT64), 8);
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_BOOL), 11);
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_DATETIME), 13);
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_BYTES), 17);
    assert_int_equal(tw_sp_datatype_from_type(TW_TYPE_NONE), 0);
    for (int t = TW_TYPE_BOOL; t < TW_TYPE_MAX_; t++)
        assert_int_equal(tw_sp_type_from_datatype(tw_sp_datatype_from_type((tw_type)t)), t);
    assert_string_equal(tw_sp_datatype_name(10), "Double");
    assert_string_equal(tw_sp_datatype_name(34), "DateTimeArray");
    assert_string_equal(tw_sp_datatype_name(35), "Unknown");
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_GOOD_LOCAL_OVERRIDE), 192);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_UNCERTAIN_INITIAL), 500);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_BAD_TIMEOUT), 0);
    assert_int_equal(tw_quality_from_sparkplug(192), TW_QUALITY_GOOD);
    assert_int_equal(tw_quality_from_sparkplug(0), TW_QUALITY_BAD);
    assert_int_equal(tw_quality_from_sparkplug(500), TW_QUALITY_UNCERTAIN_LAST_KNOWN);
    assert_int_equal(tw_quality_from_sparkplug(7), TW_QUALITY_UNCERTAIN);
}

static void test_topics(void **state)
{
    (void)state;
    char buf[128];
    size_t len;
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_DDATA, "Plant A", "Press7",
                                       "Hydraulics"),
                     TW_OK);
    assert_string_equal(buf, "spBv1.0/Plant A/DDATA/Press7/Hydraulics");
    assert_int_equal(len, strlen(buf));
    tw_sp_topic t;
    assert_int_equal(tw_sp_topic_parse(&t, buf, len), TW_OK);
    assert_int_equal(t.type, TW_SP_MSG_DDATA);
    assert_int_equal(t.group_id_len, 7);
    assert_memory_equal(t.group_id, "Plant A", 7);
    assert_memory_equal(t.edge_node_id, "Press7", 6);
    assert_memory_equal(t.device_id, "Hydraulics", 10);
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_NBIRTH, "G", "N", NULL), TW_OK);
    assert_string_equal(buf, "spBv1.0/G/NBIRTH/N");
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_STATE, NULL, "scada-1", NULL), TW_OK);
    assert_string_equal(buf, "spBv1.0/STATE/scada-1");
    assert_int_equal(tw_sp_topic_parse(&t, buf, len), TW_OK);
    assert_int_equal(t.type, TW_SP_MSG_STATE);
    assert_memory_equal(t.edge_node_id, "scada-1", 7);
    assert_null(t.group_id);
    /* size query and short buffer */
    assert_int_equal(tw_sp_topic_build(buf, 5, &len, TW_SP_MSG_NDATA, "G", "N", NULL), TW_ERR_FULL);
    assert_int_equal(len, strlen("spBv1.0/G/NDATA/N"));
    /* invalid ids and combinations */
    static const char *const bad_ids[] = {"", "a+b", "a#", "a/b", "\xff", "\xc0\x80", "\xed\xa0\x80"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad_ids); i++) {
        assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_NDATA, bad_ids[i], "N", NULL),
                         TW_ERR_SPARKPLUG_TOPIC);
        assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_DCMD, "G", "N", bad_ids[i]),
                         TW_ERR_SPARKPLUG_TOPIC);
    }
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_DDATA, "G", "N", NULL),
                     TW_ERR_SPARKPLUG_TOPIC);
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_NDATA, "G", "N", "D"),
                     TW_ERR_SPARKPLUG_TOPIC);
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, TW_SP_MSG_STATE, "G", "H", NULL),
                     TW_ERR_SPARKPLUG_TOPIC);
    assert_int_equal(tw_sp_topic_build(buf, sizeof(buf), &len, (tw_sp_msg_type)42, "G", "N", NULL),
                     TW_ERR_SPARKPLUG_TOPIC);
    static const char *const bad_topics[] = {
        "spBv1.0/G/NDATA", "spBv1.0/G/NDATA/N/D", "spBv1.0/G/DDATA/N", "spBv1.0/G/XDATA/N",
        "spBv1.0//NDATA/N", "spBv1.0/G/NDATA/", "spAv1.0/G/NDATA/N", "spBv1.0/G/NDATA/N+",
        "spBv1.0/STATE/", "spBv1.0/STATE/a/b", "spBv1.0/G/STATE/N", "spBv1.0/G/NDATA/#",
        "spBv1.0/G/DDATA/N/D/E", "", "spBv1.0", "spBv1.0/G/NDATA/N\xff"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad_topics); i++)
        assert_int_equal(tw_sp_topic_parse(&t, bad_topics[i], strlen(bad_topics[i])),
                         TW_ERR_SPARKPLUG_TOPIC);
    /* an embedded NUL is not part of any valid id */
    assert_int_equal(tw_sp_topic_parse(&t, "spBv1.0/G/NDATA/N\0x", 19), TW_ERR_SPARKPLUG_TOPIC);
    assert_string_equal(tw_sp_msg_type_name(TW_SP_MSG_NCMD), "NCMD");
    assert_null(tw_sp_msg_type_name(TW_SP_MSG_NONE));
}

static void test_state_payload(void **state)
{
    (void)state;
    int online = -1;
    uint64_t ts = 0;
    static const char ok1[] = "{\"online\" : true, \"timestamp\" : 1668114759262}";
    assert_int_equal(tw_sp_state_parse(&online, &ts, ok1, strlen(ok1)), TW_OK);
    assert_int_equal(online, 1);
    assert_int_equal(ts, 1668114759262ull);
    static const char ok2[] = " {\"timestamp\":0,\"extra\":{\"a\":[1,2.5e3,\"x\\u00e9\",null]},\"online\":false} \n";
    assert_int_equal(tw_sp_state_parse(&online, &ts, ok2, strlen(ok2)), TW_OK);
    assert_int_equal(online, 0);
    assert_int_equal(ts, 0);
    static const char *const bad[] = {
        "", "{}", "{\"online\":true}", "{\"timestamp\":1}", "{\"online\":1,\"timestamp\":1}",
        "{\"online\":true,\"timestamp\":-1}", "{\"online\":true,\"timestamp\":1.5}",
        "{\"online\":true,\"timestamp\":\"1\"}", "{\"online\":true,\"timestamp\":18446744073709551616}",
        "{\"online\":true,\"timestamp\":1} x", "{\"online\":true,\"timestamp\":1,}",
        "{\"online\":true,\"online\":false,\"timestamp\":1}", "{\"online\":true,\"timestamp\":01}",
        "[true]", "{\"online\":true,\"timestamp\":1", "{\"online\":tru,\"timestamp\":1}",
        "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]],\"online\":true,\"timestamp\":1}"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        tw_last_error_clear();
        assert_int_equal(tw_sp_state_parse(&online, &ts, bad[i], strlen(bad[i])), TW_ERR_SPARKPLUG_DECODE);
        TWT_ASSERT_LAST_ERROR("sparkplug", "STATE payload");
    }
    char buf[64];
    size_t len;
    assert_int_equal(tw_sp_state_build(buf, sizeof(buf), &len, 1, 1668114759262ull), TW_OK);
    assert_string_equal(buf, "{\"online\":true,\"timestamp\":1668114759262}");
    assert_int_equal(len, strlen(buf));
    assert_int_equal(tw_sp_state_build(buf, 10, &len, 0, 5), TW_ERR_FULL);
    assert_int_equal(len, strlen("{\"online\":false,\"timestamp\":5}"));
    assert_int_equal(tw_sp_state_build(buf, sizeof(buf), &len, 0, UINT64_MAX), TW_ERR_RANGE);
}

static void test_seq_counters(void **state)
{
    (void)state;
    uint8_t c = 0;
    for (unsigned i = 0; i < 600; i++) assert_int_equal(tw__sp_seq_next(&c), i % 256);
    assert_int_equal(tw__sp_bdseq_next(0), 1);
    assert_int_equal(tw__sp_bdseq_next(255), 0);
}

static void test_not_initialized(void **state)
{
    (void)state;
    tw_shutdown(); /* drop the fixture's reference */
    tw_sp_payload *p;
    static const uint8_t in[] = {0x18, 0x01};
    assert_int_equal(tw_sp_payload_decode(&p, in, sizeof(in), NULL, 0), TW_ERR_NOT_INITIALIZED);
    uint8_t buf[64];
    size_t len;
    tw_sp_metric m = metric_d(1, 1, 1.0);
    m.name = "x";
    assert_int_equal(tw_sp_encode_birth(buf, sizeof(buf), &len, 1, 0, &m, 1), TW_ERR_NOT_INITIALIZED);
    /* the direct encoder is a pure function and needs no initialisation */
    assert_int_equal(tw_sp_encode_data(buf, sizeof(buf), &len, 1, 0, &m, 1), TW_OK);
    assert_int_equal(tw_init(NULL), TW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_all_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_birth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_lenient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datatypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_counters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_initialized, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
