/*
 * Unit tests of the https module without a peer: record entries, JSON lines encodings,
 * Retry-After, option validation, and records that do not parse (never sent, handled by the
 * reject policy).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "https/https_internal.h"
#include "internal.h"
#include "tagwire/https.h"
#include "tagwire/store.h"
#include "twtest.h"

static void test_record_codec(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len = 0;
    tw_value v = {.type = TW_TYPE_STRING, .as.buf = {"hello", 5}};
    assert_int_equal(tw_https_record_encode(buf, sizeof buf, &len, "A/B", &v, TW_QUALITY_BAD, -5), TW_OK);
    v.type = TW_TYPE_FLOAT;
    v.as.f = -1.25f;
    assert_int_equal(tw_https_record_encode(buf, sizeof buf, &len, "F", &v, 0, 7), TW_OK);
    assert_int_equal(tw_https_record_encode(buf, sizeof buf, &len, "N", NULL, 1, 8), TW_OK);
    size_t before = len;
    assert_int_equal(tw_https_record_encode(buf, len + 30, &len, "too-long-for-30", &v, 0, 0),
                     TW_ERR_RANGE);
    assert_int_equal(tw_https_record_encode(buf, len - 1, &len, "x", &v, 0, 0), TW_ERR_INVALID_ARG);
    v.type = (tw_type)99;
    assert_int_equal(tw_https_record_encode(buf, sizeof buf, &len, "x", &v, 0, 0), TW_ERR_INVALID_ARG);
    assert_int_equal(len, before);
    size_t off = 0;
    tw_https_entry e;
    assert_int_equal(tw_https_record_next(buf, len, &off, &e), TW_OK);
    assert_int_equal(e.name_len, 3);
    assert_memory_equal(e.name, "A/B", 3);
    assert_int_equal(e.value.type, TW_TYPE_STRING);
    assert_memory_equal(e.value.as.buf.ptr, "hello", 5);
    assert_int_equal(e.quality, TW_QUALITY_BAD);
    assert_int_equal(e.ts_ns, -5);
    assert_int_equal(tw_https_record_next(buf, len, &off, &e), TW_OK);
    assert_true(e.value.as.f == -1.25f);
    assert_int_equal(tw_https_record_next(buf, len, &off, &e), TW_OK);
    assert_int_equal(e.value.type, TW_TYPE_NONE);
    assert_int_equal(tw_https_record_next(buf, len, &off, &e), TW_ERR_AGAIN);
    uint8_t bad[256];
    memcpy(bad, buf, len);
    bad[1] = 99; /* unknown type */
    off = 0;
    assert_int_equal(tw_https_record_next(bad, len, &off, &e), TW_ERR_PARSE);
    bad[1] = TW_TYPE_DOUBLE; /* a string's length for a double */
    assert_int_equal(tw_https_record_next(bad, len, &off, &e), TW_ERR_PARSE);
    bad[1] = TW_TYPE_STRING;
    bad[0] = 0x70; /* magic */
    assert_int_equal(tw_https_record_next(bad, len, &off, &e), TW_ERR_PARSE);
    for (size_t cut = 1; cut < len; cut++) { /* every truncation is refused or ends cleanly */
        off = 0;
        tw_status st;
        while ((st = tw_https_record_next(buf, cut, &off, &e)) == TW_OK) {}
        assert_true(st == TW_ERR_PARSE || (st == TW_ERR_AGAIN && off == cut));
    }
}

/* JSON lines encodings the typed stream does not cover (schema in tagwire/https.h). */
static void test_jsonl_encodings(void **state)
{
    (void)state;
    tw__hbuf b = {0};
    tw_https_entry e = {.name = "a\"b", .name_len = 3, .quality = TW_QUALITY_UNCERTAIN, .ts_ns = -1};
    e.value.type = TW_TYPE_DOUBLE;
    e.value.as.d = 0.0 / 0.0;
    tw__https_jsonl_entry(&b, &e, 1);
    e.value.as.d = -1.0 / 0.0;
    tw__https_jsonl_entry(&b, &e, 2);
    e.value.as.d = 0.1;
    tw__https_jsonl_entry(&b, &e, 3);
    e.value.type = TW_TYPE_BYTES;
    e.value.as.buf.ptr = "\x00\xff\x10\x20";
    e.value.as.buf.len = 4;
    tw__https_jsonl_entry(&b, &e, 4);
    e.value.type = TW_TYPE_STRING;
    e.value.as.buf.ptr = "x\xff\x01";
    e.value.as.buf.len = 3;
    tw__https_jsonl_entry(&b, &e, 5);
    e.value.type = TW_TYPE_DATETIME;
    e.value.as.i = 86400000000001LL;
    tw__https_jsonl_entry(&b, &e, 6);
    e.value.type = TW_TYPE_NONE;
    tw__https_jsonl_entry(&b, &e, 7);
    e.value.type = TW_TYPE_INT64;
    e.value.as.i = INT64_MIN;
    tw__https_jsonl_entry(&b, &e, 8);
    tw__hbuf_put(&b, "", 1);
    const char *s = (const char *)b.p;
    assert_non_null(strstr(s, "{\"name\":\"a\\\"b\",\"type\":\"double\",\"value\":\"NaN\",\"quality\":\"uncertain\","
                              "\"quality_code\":1073741824,\"ts\":\"1969-12-31T23:59:59.999999999Z\",\"ts_ns\":-1,\"seq\":1}\n"));
    assert_non_null(strstr(s, "\"value\":\"-Infinity\""));
    assert_non_null(strstr(s, "\"value\":0.1,"));
    assert_non_null(strstr(s, "\"value\":\"AP8QIA==\""));
    assert_non_null(strstr(s, "\"value\":\"x\\ufffd\\u0001\""));
    assert_non_null(strstr(s, "\"value\":\"1970-01-02T00:00:00.000000001Z\""));
    assert_non_null(strstr(s, "\"type\":\"none\",\"value\":null"));
    assert_non_null(strstr(s, "\"value\":-9223372036854775808,"));
    tw__hbuf_free(&b);
    uint32_t secs = 0;
    assert_true(tw__https_retry_after("120", 0, &secs));
    assert_int_equal(secs, 120);
    assert_true(tw__https_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, &secs));
    assert_int_equal(secs, 10);
    assert_true(tw__https_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, &secs));
    assert_int_equal(secs, 0);
    assert_false(tw__https_retry_after("soon", 0, &secs));
    assert_false(tw__https_retry_after("12x", 0, &secs));
}

static tw_store *mem_store(void)
{
    tw_store *s = NULL;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    assert_int_equal(tw_store_new(&s, &so), TW_OK);
    return s;
}

static void test_options(void **state)
{
    (void)state;
    tw_store *s = mem_store();
    tw_https_uplink *u = (tw_https_uplink *)1;
    tw_https_options o = TW_HTTPS_OPTIONS_INIT;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG); /* no URL */
    assert_null(u);
    TWT_ASSERT_LAST_ERROR("https", "url: an https:// URL is required (got '(null)')");
    o.url = "http://127.0.0.1:1/x";
    o.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG); /* plaintext */
    TWT_ASSERT_LAST_ERROR("https", "url: an https:// URL is required (got 'http://127.0.0.1:1/x')");
    o.url = "https://127.0.0.1:1/x";
    o.ca_file = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG); /* no trust anchor */
    o.ca_file = "/nonexistent/ca.pem";
    o.cert_file = "c.pem";
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG); /* cert without key */
    o.cert_file = NULL;
    o.on_reject = TW_HTTPS_REJECT_PARK;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG); /* PARK without park_dir */
    TWT_ASSERT_LAST_ERROR("https", "park_dir: required");
    o.park_dir = "/nonexistent-tagwire-park";
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("https", "park_dir '/nonexistent-tagwire-park': No such file or directory");
    o.park_dir = NULL;
    o.on_reject = TW_HTTPS_REJECT_DROP;
    o.instance_id = "bad key/with slash";
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("https", "instance_id must be 1..64");
    o.instance_id = NULL;
    o.version = 99;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("https", "tw_https_options version 99");
    o.version = TW_HTTPS_OPTIONS_VERSION;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_int_equal(tw_https_uplink_last_status(u), TW_OK);
    assert_int_equal(tw_https_uplink_last_status(NULL), TW_ERR_INVALID_ARG);
    /* the instance id is kept in the store: a second uplink on it uses the same one */
    char a[64] = {0}, b[64] = {0};
    size_t la = 0, lb = 0;
    assert_int_equal(tw_store_state_get(s, "https.instance", a, sizeof a - 1, &la), TW_OK);
    assert_int_equal(la, 32);
    tw_https_uplink_free(u);
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_int_equal(tw_store_state_get(s, "https.instance", b, sizeof b - 1, &lb), TW_OK);
    assert_string_equal(a, b);
    assert_int_equal(tw_https_uplink_state(u), TW_HTTPS_IDLE);
    assert_int_equal(tw_https_uplink_step(u, 0), TW_OK); /* empty store: nothing to do */
    assert_int_equal(tw_https_uplink_next_ms(u), UINT32_MAX);
    tw_https_stats st = {.version = 0};
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_ERR_VERSION);
    tw_https_uplink_free(u);
    tw_store_free(s);
}

static int g_rejected;
static long g_status;
static void on_reject(long status, const char *key, const void *body, size_t len, uint64_t records,
                      void *ud)
{
    (void)key;
    (void)body;
    (void)len;
    (void)ud;
    g_rejected += (int)records;
    g_status = status;
}

/* A store record that is not an entry list is never sent: the reject policy applies (status 0). */
static void test_bad_record(void **state)
{
    (void)state;
    char *park = twt_mkdtemp("tw-https-park");
    for (int pol = 0; pol < 3; pol++) {
        tw_store *s = mem_store();
        assert_int_equal(tw_store_append(s, NULL, "garbage", 7), TW_OK);
        tw_https_options o = TW_HTTPS_OPTIONS_INIT;
        o.url = "https://127.0.0.1:1/ingest"; /* nothing listens: a send would fail */
        o.ca_file = "/nonexistent/ca.pem";
        o.on_reject = (tw_https_reject_policy)pol;
        o.park_dir = park;
        o.instance_id = "unit";
        o.reject_fn = on_reject;
        g_rejected = 0;
        g_status = -1;
        tw_https_uplink *u = NULL;
        assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
        tw_status st = tw_https_uplink_step(u, 0);
        assert_int_equal(g_rejected, 1);
        assert_int_equal(g_status, 0);
        tw_https_stats hs = {.version = TW_HTTPS_STATS_VERSION};
        assert_int_equal(tw_https_uplink_stats_get(u, &hs), TW_OK);
        assert_int_equal(hs.requests, 0);
        tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
        assert_int_equal(tw_store_stats_get(s, &ss), TW_OK);
        if (pol == TW_HTTPS_REJECT_HOLD) {
            assert_int_equal(st, TW_ERR_BUSY);
            assert_int_equal(tw_https_uplink_state(u), TW_HTTPS_HELD);
            assert_int_equal(ss.records, 1); /* kept */
            assert_int_equal(tw_https_uplink_release(u, 0), TW_ERR_PARSE);
            assert_int_equal(tw_https_uplink_release(u, 1), TW_OK);
            assert_int_equal(tw_https_uplink_release(u, 1), TW_ERR_BUSY);
        } else {
            assert_int_equal(st, TW_OK);
            assert_int_equal(ss.records, 0);
            assert_int_equal(hs.rejected_batches, 1);
            assert_int_equal(hs.rejected_records, 1);
            assert_int_equal(hs.parked_batches, pol == TW_HTTPS_REJECT_PARK ? 1 : 0);
        }
        assert_int_equal(tw_store_stats_get(s, &ss), TW_OK);
        assert_int_equal(ss.records, 0);
        assert_int_equal(ss.acked_seq, 1);
        tw_https_uplink_free(u);
        tw_store_free(s);
    }
    struct stat sb;
    assert_int_equal(stat(twt_path(0, park, "unit-1-1.batch"), &sb), 0);
    assert_true(sb.st_size > 7);
    twt_rmtree(park);
    free(park);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_codec),
        cmocka_unit_test(test_jsonl_encodings),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_bad_record),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
