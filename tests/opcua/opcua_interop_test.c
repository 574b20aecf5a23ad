/* OPC UA adapter against an independent server (asyncua 1.1.8, started here): reads of every
 * scalar type in one request, status codes 1:1 as quality, source timestamps, writes (checked in
 * the server's own dump), subscriptions through fds/process, server restart (reconnect and
 * subscription re-created), SignAndEncrypt with both policies, Sign, username identity, rejected
 * certificates, and the browse command. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "tagwire/opcua.h"
#include "twtest.h"

static char *g_dir;
static uint16_t g_port, g_sport;
static pid_t g_srv = -1, g_ssrv = -1;

static pid_t start_server(uint16_t port, const char *mode, const char *log)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    char *argv[] = {TW_DEPS_PYTHON, TW_UA_SERVER, ps, (char *)mode, g_dir, NULL};
    pid_t p = twt_spawn(argv, twt_path(7, g_dir, log));
    if (p <= 0 || !twt_wait_listen(port, 30000)) {
        fprintf(stderr, "asyncua server did not start (scripts/deps/opcua.sh run? see %s/%s)\n", g_dir, log);
        if (p > 0) twt_stop(p);
        return -1;
    }
    return p;
}

static int setup_all(void **state)
{
    (void)state;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = getenv("TW_TEST_DEBUG") ? TW_LOG_DEBUG : TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-opcua");
    if (twt_sh("sh '%s' '%s' > '%s/pki.log' 2>&1", TW_UA_PKI, g_dir, g_dir) != 0) {
        fprintf(stderr, "PKI generation failed (%s/pki.log)\n", g_dir);
        return -1;
    }
    g_port = twt_free_port();
    g_sport = twt_free_port();
    if ((g_srv = start_server(g_port, "none", "server.log")) < 0) return -1;
    if ((g_ssrv = start_server(g_sport, "secure", "sserver.log")) < 0) return -1;
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    if (g_srv > 0) twt_stop(g_srv);
    if (g_ssrv > 0) twt_stop(g_ssrv);
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static char g_logged[16384];
static void capture_log(tw_log_level level, const char *module, const char *message, void *ud)
{
    (void)ud;
    size_t l = strlen(g_logged);
    snprintf(g_logged + l, sizeof g_logged - l, "%s %s: %s\n", tw_log_level_name(level), module, message);
}

static tw_device *open_uri(const char *uri)
{
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = 5000;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 500;
    tw_device *d;
    tw_status st = tw_device_open(&d, uri, &o);
    if (st != TW_OK) fail_msg("open %s: %s", uri, tw_last_error());
    return d;
}

/* The plaintext server: security=none must be given explicitly. q is "" or "?k=v...". */
static tw_device *open_plain(const char *q)
{
    char uri[512];
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?security=none%s%s", (unsigned)g_port, q[0] ? "&" : "",
             q[0] ? q + 1 : "");
    return open_uri(uri);
}

static uint32_t add(tw_device *d, const char *a)
{
    uint32_t id;
    if (tw_device_add_item(d, &id, a) != TW_OK) fail_msg("add %s: %s", a, tw_device_last_error(d));
    return id;
}

static void test_read_every_type(void **state)
{
    (void)state;
    tw_device *d = open_plain("");
    const char *addr[] = {"ns=2;s=Line1.Press7.Temp", "type=UINT16;ns=2;i=1001", "type=BOOL;ns=2;s=Flag",
                          "type=INT64;ns=2;s=Count64", "type=UINT64;ns=2;s=U64", "type=FLOAT;ns=2;s=F",
                          "type=STRING[32];ns=2;s=Name", "type=BYTES[8];ns=2;s=Blob", "type=INT8;ns=2;s=SB",
                          "type=DATETIME;ns=2;s=When", "type=INT32;ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf63",
                          "type=INT16;ns=2;b=AAEC", "ns=2;s=Broken", "ns=2;s=Unsure", "ns=2;s=NoSuchNode",
                          "type=INT64;ns=2;i=1001", "type=INT8;ns=2;i=1001", "type=INT32;ns=2;s=Name"};
    enum { N = sizeof addr / sizeof addr[0] };
    uint32_t ids[N];
    tw_sample s[N];
    for (size_t i = 0; i < N; i++) ids[i] = add(d, addr[i]);
    tw_status st = tw_device_read(d, ids, N, s);
    assert_int_equal(st, TW_ERR_ADAPTER); /* some items are bad on purpose */
    assert_int_equal(s[0].quality, TW_QUALITY_GOOD);
    assert_true(s[0].value.type == TW_TYPE_DOUBLE && s[0].value.as.d == 21.5);
    assert_true(s[1].value.type == TW_TYPE_UINT16 && s[1].value.as.u == 1001);
    assert_true(s[2].value.type == TW_TYPE_BOOL && s[2].value.as.b == 1);
    assert_true(s[3].value.as.i == -9000000000LL);
    assert_true(s[4].value.as.u == UINT64_MAX - 1);
    assert_true(s[5].value.as.f == 0.25f);
    assert_int_equal(s[6].value.as.buf.len, 7);
    assert_memory_equal(s[6].value.as.buf.ptr, "Press 7", 7);
    assert_int_equal(s[7].value.as.buf.len, 3);
    assert_memory_equal(s[7].value.as.buf.ptr, "\x00\xff\x10", 3);
    assert_true(s[8].value.as.i == -5);
    /* DateTime value 2021-03-04T05:06:07.5Z, source timestamp 2020-01-02T03:04:05Z kept */
    assert_true(s[9].value.type == TW_TYPE_DATETIME && s[9].value.as.i == 1614834367500000000LL);
    assert_true(s[9].timestamp_ns == 1577934245000000000LL);
    assert_true(s[10].value.as.i == 42);
    assert_true(s[11].value.as.i == -7);
    /* status codes are qualities 1:1 */
    assert_int_equal(s[12].quality, 0x808C0000u); /* BadSensorFailure */
    assert_int_equal(s[13].quality, 0x40930000u); /* UncertainSensorNotAccurate, value kept */
    assert_true(s[13].value.type == TW_TYPE_DOUBLE && s[13].value.as.d == 1.5);
    assert_int_equal(s[14].quality, 0x80340000u); /* BadNodeIdUnknown */
    /* declared types convert when the value fits, else the item is bad */
    assert_true(s[15].quality == TW_QUALITY_GOOD && s[15].value.as.i == 1001);
    assert_int_equal(s[16].quality, TW_QUALITY_BAD_OUT_OF_RANGE);
    assert_int_equal(s[17].quality, TW_QUALITY_BAD_TYPE_MISMATCH);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    assert_int_equal(ds.requests, 1); /* one Read for the whole batch */
    assert_true(ds.connected);
    tw_device_free(d);
}

static void wr(tw_device *d, uint32_t id, tw_value v)
{
    if (tw_device_write(d, id, &v) != TW_OK) fail_msg("write %u: %s", (unsigned)id, tw_device_last_error(d));
}

static void test_writes(void **state)
{
    (void)state;
    tw_device *d = open_plain("");
    uint32_t temp = add(d, "ns=2;s=Line1.Press7.Temp"), speed = add(d, "type=UINT16;ns=2;i=1001"),
             name = add(d, "type=STRING;ns=2;s=Name"), flag = add(d, "type=BOOL;ns=2;s=Flag"),
             g = add(d, "type=INT32;ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf63"), f = add(d, "type=FLOAT;ns=2;s=F"),
             ro = add(d, "ns=2;s=ReadOnly"), c64 = add(d, "type=INT64;ns=2;s=Count64");
    tw_value v;
    v.type = TW_TYPE_DOUBLE; v.as.d = 33.25; wr(d, temp, v);
    v.type = TW_TYPE_INT64; v.as.i = 4242; wr(d, speed, v);   /* written as the node's UInt16 */
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "h\xc3\xa9llo"; v.as.buf.len = 6; wr(d, name, v);
    v.type = TW_TYPE_BOOL; v.as.b = 0; wr(d, flag, v);
    v.type = TW_TYPE_DOUBLE; v.as.d = 7; wr(d, g, v);         /* 7.0 -> Int32 7 */
    v.type = TW_TYPE_FLOAT; v.as.f = -1.75f; wr(d, f, v);
    v.type = TW_TYPE_INT64; v.as.i = 1234567890123LL; wr(d, c64, v);
    v.type = TW_TYPE_DOUBLE; v.as.d = 1;
    assert_int_equal(tw_device_write(d, ro, &v), TW_ERR_PERMISSION);
    v.type = TW_TYPE_INT64; v.as.i = 70000;
    assert_int_equal(tw_device_write(d, speed, &v), TW_ERR_RANGE);
    uint32_t ids[] = {temp, speed, name, flag, g, f, c64};
    tw_sample s[7];
    assert_int_equal(tw_device_read(d, ids, 7, s), TW_OK);
    assert_true(s[0].value.as.d == 33.25);
    assert_true(s[1].value.as.u == 4242);
    assert_int_equal(s[2].value.as.buf.len, 6);
    assert_memory_equal(s[2].value.as.buf.ptr, "h\xc3\xa9llo", 6);
    assert_int_equal(s[3].value.as.b, 0);
    assert_true(s[4].value.as.i == 7);
    assert_true(s[5].value.as.f == -1.75f);
    assert_true(s[6].value.as.i == 1234567890123LL);
    tw_device_free(d);
}

typedef struct push_log {
    unsigned ticker_n, temp_n, bad_n;
    int64_t last_ticker;
    int monotonic;
    double last_temp;
} push_log;

static void on_push(uint32_t id, const tw_sample *s, void *ud)
{
    push_log *l = ud;
    if (TW_QUALITY_IS_BAD(s->quality)) {
        l->bad_n++;
        return;
    }
    if (id == 0) {
        if (s->value.as.i <= l->last_ticker && l->ticker_n) l->monotonic = 0;
        l->last_ticker = s->value.as.i;
        l->ticker_n++;
    } else {
        l->last_temp = s->value.as.d;
        l->temp_n++;
    }
}

/* Runs the caller's poll loop for ms milliseconds: poll the device's descriptors, then process. */
static void pump(tw_device *d, int ms)
{
    int64_t end = tw__mono_ms() + ms;
    while (tw__mono_ms() < end) {
        int fds[4];
        unsigned ev[4];
        int n = tw_device_fds(d, fds, ev, 4);
        struct pollfd p[4];
        for (int i = 0; i < n; i++) {
            p[i].fd = fds[i];
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        (void)poll(p, (nfds_t)n, 20);
        (void)tw_device_process(d);
    }
}

/* Pumps until `cond` holds, for at most `ms` (a loaded machine may be slow; the bound is generous). */
#define PUMP_UNTIL(d, cond, ms)                                                                    \
    do {                                                                                           \
        int64_t end_ = tw__mono_ms() + (ms);                                                       \
        while (!(cond) && tw__mono_ms() < end_) pump((d), 50);                                     \
    } while (0)

static void test_subscription_pushes(void **state)
{
    (void)state;
    tw_device *d = open_plain("?publish_ms=50");
    uint32_t ids[2];
    ids[0] = add(d, "type=INT32;ns=2;s=Ticker");
    ids[1] = add(d, "ns=2;s=Line1.Press7.Temp");
    push_log l;
    memset(&l, 0, sizeof l);
    l.monotonic = 1;
    assert_int_equal(tw_device_subscribe(d, ids, 2, on_push, &l), TW_OK);
    int fds[4];
    unsigned ev[4];
    assert_int_equal(tw_device_fds(d, fds, ev, 4), 1); /* the SecureChannel's socket */
    PUMP_UNTIL(d, l.ticker_n >= 10 && l.temp_n >= 1, 20000);
    /* the server increments Ticker every 20 ms; published every 50 ms */
    assert_true(l.ticker_n >= 10);
    assert_true(l.monotonic);
    assert_true(l.temp_n >= 1); /* initial value */
    /* a change made by another client arrives without any read */
    tw_device *w = open_plain("");
    uint32_t wt = add(w, "ns=2;s=Line1.Press7.Temp");
    tw_value v = {TW_TYPE_DOUBLE, {.d = 99.5}};
    assert_int_equal(tw_device_write(w, wt, &v), TW_OK);
    tw_device_free(w);
    PUMP_UNTIL(d, l.last_temp == 99.5, 20000);
    assert_true(l.last_temp == 99.5);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    assert_int_equal(ds.reads, 0); /* pushed, never polled */
    tw_device_free(d);
}

static int dump_has(const char *needle)
{
    FILE *f = fopen(twt_path(0, g_dir, "dump.txt"), "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_restart_reconnects(void **state)
{
    (void)state;
    tw_device *d = open_plain("?publish_ms=50");
    tw_device *r = open_plain("");
    uint32_t rid = add(r, "ns=2;s=Line1.Press7.Temp");
    uint32_t id = add(d, "type=INT32;ns=2;s=Ticker");
    push_log l;
    memset(&l, 0, sizeof l);
    l.monotonic = 1;
    assert_int_equal(tw_device_subscribe(d, &id, 1, on_push, &l), TW_OK);
    PUMP_UNTIL(d, l.ticker_n > 0, 20000);
    assert_true(l.ticker_n > 0);
    tw_sample s;
    assert_int_equal(tw_device_read(r, &rid, 1, &s), TW_OK);

    /* stop: the server dumps its values (the writes of test_writes, seen by the server) */
    twt_stop(g_srv);
    g_srv = -1;
    assert_true(dump_has("ns=2;i=1001 4242"));
    assert_true(dump_has("ns=2;s=Name 'h\xc3\xa9llo'"));
    assert_true(dump_has("ns=2;s=Flag False"));
    assert_true(dump_has("ns=2;s=F -1.75"));
    assert_true(dump_has("ns=2;s=Count64 1234567890123"));
    PUMP_UNTIL(d, l.bad_n >= 1, 20000);
    assert_true(l.bad_n >= 1); /* subscribers learn that the link is gone */
    assert_int_not_equal(tw_device_read(r, &rid, 1, &s), TW_OK);
    assert_true(TW_QUALITY_IS_BAD(s.quality));
    assert_true(s.value.type == TW_TYPE_DOUBLE); /* last value kept */

    g_srv = start_server(g_port, "none", "server2.log");
    assert_true(g_srv > 0);
    /* a new server has no session and no subscription: both are re-created */
    unsigned before = l.ticker_n;
    PUMP_UNTIL(d, l.ticker_n >= before + 5, 30000);
    assert_true(l.ticker_n >= before + 5);
    int good = 0;
    for (int i = 0; i < 100 && !good; i++) {
        if (tw_device_read(r, &rid, 1, &s) == TW_OK) good = 1;
        else usleep(100000);
    }
    assert_true(good);
    assert_true(s.value.as.d == 21.5); /* the restarted server's initial value */
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    assert_true(ds.disconnects >= 1);
    tw_device_free(d);
    tw_device_free(r);
}

static tw_device *open_secure(const char *extra)
{
    char uri[1024];
    snprintf(uri, sizeof uri,
             "opcua://127.0.0.1:%u/tagwire?security=signandencrypt&cert=%s/client.pem&key=%s/client.key&trust=%s/ca.der%s",
             (unsigned)g_sport, g_dir, g_dir, g_dir, extra);
    return open_uri(uri);
}

static void test_sign_and_encrypt(void **state)
{
    (void)state;
    const char *ok[] = {"&policy=basic256sha256", "&policy=aes128_sha256_rsaoaep", "&user=op&password_file=PW"};
    for (size_t i = 0; i < TW__ARRAY_LEN(ok); i++) {
        char extra[512];
        if (strstr(ok[i], "PW")) snprintf(extra, sizeof extra, "&user=op&password_file=%s/password", g_dir);
        else snprintf(extra, sizeof extra, "%s", ok[i]);
        tw_device *d = open_secure(extra);
        uint32_t id = add(d, "ns=2;s=Line1.Press7.Temp");
        tw_sample s;
        if (tw_device_read(d, &id, 1, &s) != TW_OK) fail_msg("%s: %s", extra, tw_device_last_error(d));
        assert_true(s.value.as.d == 21.5);
        /* writes and subscriptions over the encrypted channel too */
        tw_value v = {TW_TYPE_DOUBLE, {.d = 22.5 + (double)i}};
        assert_int_equal(tw_device_write(d, id, &v), TW_OK);
        assert_int_equal(tw_device_read(d, &id, 1, &s), TW_OK);
        assert_true(s.value.as.d == 22.5 + (double)i);
        v.as.d = 21.5;
        assert_int_equal(tw_device_write(d, id, &v), TW_OK);
        tw_device_free(d);
    }
    /* Sign only (Basic256Sha256) */
    {
        char u2[1024];
        snprintf(u2, sizeof u2, "opcua://127.0.0.1:%u/tagwire?security=sign&cert=%s/client.pem&key=%s/client.key&trust=%s/ca.der",
                 (unsigned)g_sport, g_dir, g_dir, g_dir);
        tw_device *d = open_uri(u2);
        uint32_t id = add(d, "ns=2;s=Line1.Press7.Temp");
        tw_sample s;
        if (tw_device_read(d, &id, 1, &s) != TW_OK) fail_msg("sign: %s", tw_device_last_error(d));
        assert_true(s.value.as.d == 21.5);
        tw_device_free(d);
    }
    /* refused: wrong password, a server certificate we do not trust, a client certificate the server does not
     * trust, and plaintext to a server that only offers SignAndEncrypt */
    char uri[1024], extra[512];
    snprintf(extra, sizeof extra, "&user=op&password_file=%s/badpassword", g_dir);
    tw_device *d = open_secure(extra);
    uint32_t id = add(d, "ns=2;s=Line1.Press7.Temp");
    tw_sample s;
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_PERMISSION);
    tw_device_free(d);
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?cert=%s/client.pem&key=%s/client.key&trust=%s/rogue-ca.der",
             (unsigned)g_sport, g_dir, g_dir, g_dir);
    d = open_uri(uri);
    id = add(d, "ns=2;s=Line1.Press7.Temp");
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_TLS_UNKNOWN_CA);
    tw_device_free(d);
    /* the same server accepted without verifying it: only with the explicit insecure_trust_any=1 */
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?cert=%s/client.pem&key=%s/client.key&insecure_trust_any=1",
             (unsigned)g_sport, g_dir, g_dir);
    d = open_uri(uri);
    id = add(d, "ns=2;s=Line1.Press7.Temp");
    if (tw_device_read(d, &id, 1, &s) != TW_OK) fail_msg("insecure_trust_any: %s", tw_device_last_error(d));
    tw_device_free(d);
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?cert=%s/rogue-client.pem&key=%s/rogue-client.key&trust=%s/ca.der",
             (unsigned)g_sport, g_dir, g_dir, g_dir);
    d = open_uri(uri);
    id = add(d, "ns=2;s=Line1.Press7.Temp");
    assert_int_not_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    assert_true(TW_QUALITY_IS_BAD(s.quality));
    tw_device_free(d);
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?security=none", (unsigned)g_sport);
    d = open_uri(uri);
    id = add(d, "ns=2;s=Line1.Press7.Temp");
    assert_int_not_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    tw_device_free(d);
}

static void test_config_errors(void **state)
{
    (void)state;
    const char *bad_addr[] = {"", "ns=2", "ns=70000;i=1", "ns=2;i=", "ns=2;i=4294967296", "ns=2;s=", "ns=2;x=1",
                              "ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf6", "ns=2;g=72962b91xfa75-4ae6-8d28-b404dc7daf63",
                              "ns=2;b=AAE", "ns=2;b=A===", "type=NOPE;ns=2;i=1", "type=DOUBLE", "type=INT32[4];i=1",
                              "type=STRING[0];i=1", "nsu=urn:x;s=y", "ns=-1;i=1", "i=1;", "ns=2;s=\xff"};
    char err[256];
    for (size_t i = 0; i < TW__ARRAY_LEN(bad_addr); i++) {
        err[0] = '\0';
        tw_status st = tw_adapter_check_address("opcua", bad_addr[i], NULL, err, sizeof err);
        if (st == TW_OK) fail_msg("accepted '%s'", bad_addr[i]);
        assert_true(err[0] != '\0');
    }
    tw_type t;
    assert_int_equal(tw_adapter_check_address("opcua", "type=string[100];ns=1;s=a;b=c", &t, err, sizeof err), TW_OK);
    assert_int_equal(t, TW_TYPE_STRING);
    const char *bad_uri[] = {"opcua://127.0.0.1:4840?bogus=1", "opcua://127.0.0.1:4840?security=sign",
                             "opcua://127.0.0.1:4840?security=signandencrypt&cert=/x&key=/y",
                             "opcua://127.0.0.1:4840?security=maybe", "opcua://127.0.0.1:4840?password=x",
                             "opcua://127.0.0.1:4840?security=none&publish_ms=0", "opcua://:4840?security=none",
                             "opcua://127.0.0.1:4840?security=none&cert=/x&key=/y",
                             "opcua://127.0.0.1:4840?cert=/x&key=/y&trust=any",
                             "opcua://127.0.0.1:4840?cert=/x&key=/y&trust=/z&insecure_trust_any=1",
                             "opcua://127.0.0.1:4840?cert=/x&key=/y&insecure_trust_any=yes"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad_uri); i++) {
        tw_device *d = NULL;
        tw_last_error_clear();
        if (tw_device_open(&d, bad_uri[i], NULL) == TW_OK) {
            tw_device_free(d);
            fail_msg("accepted %s", bad_uri[i]);
        }
        assert_true(tw_last_error()[0] != '\0');
    }
    /* no plaintext by accident: without security= the default is signandencrypt, which needs certificates */
    tw_device *d = NULL;
    assert_int_equal(tw_device_open(&d, "opcua://127.0.0.1:4840", NULL), TW_ERR_CONFIG);
    assert_non_null(strstr(tw_last_error(), "security=signandencrypt"));
    assert_non_null(strstr(tw_last_error(), "missing: cert= key= trust="));
    assert_non_null(strstr(tw_last_error(), "security=none"));
    assert_int_equal(tw_device_open(&d, "opcua://127.0.0.1:4840?cert=/x&trust=/z", NULL), TW_ERR_CONFIG);
    assert_non_null(strstr(tw_last_error(), "missing: key="));
    /* the old spelling names the new one */
    assert_int_equal(tw_device_open(&d, "opcua://127.0.0.1:4840?cert=/x&key=/y&trust=any", NULL),
                     TW_ERR_CONFIG);
    assert_non_null(strstr(tw_last_error(), "insecure_trust_any=1"));
    /* a password never crosses an unencrypted channel; and never sits in the URI */
    assert_int_equal(tw_device_open(&d, "opcua://127.0.0.1:4840?security=none&user=op", NULL),
                     TW_ERR_TLS_INSECURE);
    char pwf[600], uri[800];
    snprintf(pwf, sizeof pwf, "%s/password", g_dir);
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:4840?security=none&user=op&password_file=%s", pwf);
    assert_int_equal(tw_device_open(&d, uri, NULL), TW_ERR_TLS_INSECURE);
    assert_non_null(strstr(tw_last_error(), "security=sign"));
    assert_int_equal(tw_device_open(&d, "opcua://127.0.0.1:4840?security=none&user=op&password=hunter2", NULL), TW_ERR_CONFIG);
    assert_non_null(strstr(tw_last_error(), "password_file="));
    assert_null(strstr(tw_last_error(), "hunter2"));
    /* explicit plaintext: accepted, and said once at INFO when the device opens */
    g_logged[0] = '\0';
    tw_set_log(capture_log, TW_LOG_INFO, NULL);
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u/tagwire?security=none", (unsigned)twt_free_port());
    assert_int_equal(tw_device_open(&d, uri, NULL), TW_OK);
    tw_device_free(d);
    tw_set_log(NULL, getenv("TW_TEST_DEBUG") ? TW_LOG_DEBUG : TW_LOG_ERROR, NULL);
    const char *first = strstr(g_logged, "security=none: messages are neither signed nor encrypted");
    assert_non_null(first);
    assert_null(strstr(first + 1, "security=none: messages are neither signed nor encrypted"));
}

static void test_cli_browse(void **state)
{
    (void)state;
    char out[512];
    snprintf(out, sizeof out, "%s", twt_path(0, g_dir, "browse.out"));
    int rc = twt_sh("'%s' browse 'opcua://127.0.0.1:%u/tagwire?security=none' 'ns=2;s=Line1.Press7' > '%s' 2>&1", TW_CLI,
                    (unsigned)g_port, out);
    if (rc) twt_sh("cat '%s' >&2", out);
    assert_int_equal(rc, 0);
    assert_int_equal(twt_sh("grep -q '^ns=2;s=Line1.Press7.Temp\t.*Temp\tVariable\tDouble$' '%s'", out), 0);
    assert_int_equal(twt_sh("grep -q '^ns=2;i=1001\t.*Speed\tVariable\tUInt16$' '%s'", out), 0);
    rc = twt_sh("'%s' browse 'opcua://127.0.0.1:%u/tagwire?security=none' > '%s' 2>&1", TW_CLI, (unsigned)g_port, out);
    assert_int_equal(rc, 0);
    assert_int_equal(twt_sh("grep -q '^ns=2;s=Line1\t.*Object' '%s' && grep -q '^i=2253\t' '%s'", out, out), 0);
    rc = twt_sh("'%s' read 'opcua://127.0.0.1:%u/tagwire?security=none' 'type=UINT16;ns=2;i=1001' > '%s' 2>&1", TW_CLI,
                (unsigned)g_port, out);
    assert_int_equal(rc, 0);
    assert_int_equal(twt_sh("grep -q 'uint16' '%s'", out), 0);
    /* browse without a server: a clean failure */
    rc = twt_sh("'%s' browse --timeout 500 'opcua://127.0.0.1:%u/x?security=none' > '%s' 2>&1", TW_CLI, (unsigned)twt_free_port(), out);
    assert_int_equal(rc, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),      cmocka_unit_test(test_read_every_type),
        cmocka_unit_test(test_writes),             cmocka_unit_test(test_subscription_pushes),
        cmocka_unit_test(test_restart_reconnects), cmocka_unit_test(test_sign_and_encrypt),
        cmocka_unit_test(test_cli_browse),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
