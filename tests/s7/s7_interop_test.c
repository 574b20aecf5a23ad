/* S7 adapter against an independent S7 server (python-snap7 3.3's pure-Python server, started here):
 * every address type, batching within the PDU, writes checked in the server's own memory dump,
 * per-item errors, server restart (reconnect), and the CLI. */
#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "twtest.h"

static char *g_dir;
static uint16_t g_port;
static pid_t g_server = -1;

static int start_server(void)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)g_port);
    char *argv[] = {TW_DEPS_PYTHON, TW_S7_SERVER, ps, (char *)twt_path(6, g_dir, "dump.txt"), NULL};
    g_server = twt_spawn(argv, twt_path(7, g_dir, "s7server.log"));
    if (g_server <= 0 || !twt_wait_listen(g_port, 15000)) {
        fprintf(stderr, "python-snap7 server did not start (scripts/deps/opcua.sh run? see %s/s7server.log)\n", g_dir);
        return -1;
    }
    return 0;
}

static void stop_server(void)
{
    if (g_server > 0) twt_stop(g_server);
    g_server = -1;
}

static int setup_all(void **state)
{
    (void)state;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-s7");
    g_port = twt_free_port();
    return start_server();
}

static int teardown_all(void **state)
{
    (void)state;
    stop_server();
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static tw_device *open_dev(const char *q)
{
    char uri[256];
    snprintf(uri, sizeof uri, "s7://127.0.0.1:%u?rack=0&slot=1%s", (unsigned)g_port, q);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = 2000;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 400;
    tw_device *d;
    if (tw_device_open(&d, uri, &o) != TW_OK) fail_msg("%s", tw_last_error());
    return d;
}

static uint32_t add(tw_device *d, const char *a)
{
    uint32_t id;
    if (tw_device_add_item(d, &id, a) != TW_OK) fail_msg("add %s: %s", a, tw_device_last_error(d));
    return id;
}

/* The preset contents of s7_server.py, one address of every kind. */
typedef struct {
    const char *addr;
    tw_type type;
    int64_t i;
    uint64_t u;
    double d;
    const char *s;
} expect;

static const expect k_expect[] = {
    {"DB1.DBX0.0", TW_TYPE_BOOL, 1, 0, 0, NULL},
    {"DB1.DBX0.1", TW_TYPE_BOOL, 0, 0, 0, NULL},
    {"db1.dbx0.2", TW_TYPE_BOOL, 1, 0, 0, NULL},
    {"DB1.DBB1", TW_TYPE_UINT8, 0, 0xAB, 0, NULL},
    {"DB1.DBW2:INT", TW_TYPE_INT16, -1234, 0, 0, NULL},
    {"DB1.DBW4", TW_TYPE_UINT16, 0, 0xBEEF, 0, NULL},
    {"DB1.DBD6:DINT", TW_TYPE_INT32, -123456789, 0, 0, NULL},
    {"DB1.DBD10", TW_TYPE_UINT32, 0, 0xDEADBEEFu, 0, NULL},
    {"DB1.DBD14:REAL", TW_TYPE_FLOAT, 0, 0, 3.5, NULL},
    {"DB1.DBB18:LREAL", TW_TYPE_DOUBLE, 0, 0, -2.25, NULL},
    {"DB1.DBB26:LINT", TW_TYPE_INT64, -5000000000000LL, 0, 0, NULL},
    {"DB1.DBB34:SINT", TW_TYPE_INT8, -7, 0, 0, NULL},
    {"DB1.DBW36:UINT", TW_TYPE_UINT16, 0, 65000, 0, NULL},
    {"DB1.DBD38:UDINT", TW_TYPE_UINT32, 0, 4000000000u, 0, NULL},
    {"DB1.DBB42:CHAR", TW_TYPE_STRING, 0, 0, 0, "Z"},
    {"DB1.DBB50:STRING[20]", TW_TYPE_STRING, 0, 0, 0, "Press7 ok"},
    {"DB2.DBB0:STRING[20]", TW_TYPE_STRING, 0, 0, 0, "hello"},
    {"DB2.DBB30:ULINT", TW_TYPE_UINT64, 0, 9223372036854775813ull, 0, NULL},
    {"M10.2", TW_TYPE_BOOL, 1, 0, 0, NULL},
    {"M10.1", TW_TYPE_BOOL, 0, 0, 0, NULL},
    {"MB10", TW_TYPE_UINT8, 0, 4, 0, NULL},
    {"MW20", TW_TYPE_UINT16, 0, 0x1234, 0, NULL},
    {"MD30:REAL", TW_TYPE_FLOAT, 0, 0, -0.5, NULL},
    {"I0.0", TW_TYPE_BOOL, 1, 0, 0, NULL},
    {"E0.1", TW_TYPE_BOOL, 0, 0, 0, NULL},
    {"IB0", TW_TYPE_UINT8, 0, 1, 0, NULL},
    {"IW2:INT", TW_TYPE_INT16, 777, 0, 0, NULL},
    {"Q0.1", TW_TYPE_BOOL, 1, 0, 0, NULL},
    {"QB0", TW_TYPE_UINT8, 0, 2, 0, NULL},
    {"QD4:DINT", TW_TYPE_INT32, 99999, 0, 0, NULL},
};

static void check_sample(const expect *e, const tw_sample *s)
{
    if (s->quality != TW_QUALITY_GOOD) fail_msg("%s: quality 0x%08x", e->addr, (unsigned)s->quality);
    assert_int_equal(s->value.type, e->type);
    switch (e->type) {
    case TW_TYPE_BOOL: if (s->value.as.b != (int)e->i) fail_msg("%s: %d", e->addr, s->value.as.b); break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
        if (s->value.as.i != e->i) fail_msg("%s: %lld", e->addr, (long long)s->value.as.i);
        break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        if (s->value.as.u != e->u) fail_msg("%s: %llu", e->addr, (unsigned long long)s->value.as.u);
        break;
    case TW_TYPE_FLOAT: if (s->value.as.f != (float)e->d) fail_msg("%s: %g", e->addr, (double)s->value.as.f); break;
    case TW_TYPE_DOUBLE: if (s->value.as.d != e->d) fail_msg("%s: %g", e->addr, s->value.as.d); break;
    case TW_TYPE_STRING:
        if (s->value.as.buf.len != strlen(e->s) || memcmp(s->value.as.buf.ptr, e->s, strlen(e->s)))
            fail_msg("%s: '%.*s'", e->addr, (int)s->value.as.buf.len, (const char *)s->value.as.buf.ptr);
        break;
    default: fail();
    }
}

static void test_read_every_type(void **state)
{
    (void)state;
    tw_device *d = open_dev("");
    size_t n = TW__ARRAY_LEN(k_expect);
    uint32_t ids[64];
    tw_sample s[64];
    for (size_t i = 0; i < n; i++) {
        ids[i] = add(d, k_expect[i].addr);
        assert_int_equal(tw_device_item_type(d, ids[i]), k_expect[i].type);
    }
    tw_status st = tw_device_read(d, ids, n, s);
    if (st != TW_OK) fail_msg("read: %s", tw_device_last_error(d));
    for (size_t i = 0; i < n; i++) check_sample(&k_expect[i], &s[i]);
    /* 30 items: at most 20 per Read Var request -> 2 requests */
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &ds), TW_OK);
    assert_true(ds.connected);
    assert_int_equal(ds.requests, 2);
    tw_device_free(d);
}

static void test_batching_within_pdu(void **state)
{
    (void)state;
    /* 8 strings of 62 bytes do not fit one 480-byte answer (14 + 8 * 66 > 480): split by size */
    tw_device *d = open_dev("");
    uint32_t ids[10];
    tw_sample s[10];
    for (int i = 0; i < 8; i++) ids[i] = add(d, "DB1.DBB50:STRING[60]");
    ids[8] = add(d, "DB1.DBW2:INT");
    assert_int_equal(tw_device_read(d, ids, 9, s), TW_OK);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(s[i].quality, TW_QUALITY_GOOD);
        assert_int_equal(s[i].value.as.buf.len, 9);
        assert_memory_equal(s[i].value.as.buf.ptr, "Press7 ok", 9);
    }
    assert_int_equal(s[8].value.as.i, -1234);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    /* 7 strings fill the first answer (14 + 7 * 66 = 476), the rest goes in a second request */
    assert_int_equal(ds.requests, 2);
    tw_device_free(d);
}

static void test_item_errors(void **state)
{
    (void)state;
    tw_device *d = open_dev("");
    uint32_t ids[3];
    tw_sample s[3];
    ids[0] = add(d, "DB9.DBW0");       /* no such data block on the server */
    ids[1] = add(d, "DB1.DBW2:INT");
    ids[2] = add(d, "DB1.DBD126");     /* past the end of DB1 (128 bytes) */
    tw_status st = tw_device_read(d, ids, 3, s);
    assert_int_equal(st, TW_ERR_ADAPTER);
    assert_true(TW_QUALITY_IS_BAD(s[0].quality));
    assert_int_equal(s[1].quality, TW_QUALITY_GOOD);
    assert_int_equal(s[1].value.as.i, -1234);
    assert_true(TW_QUALITY_IS_BAD(s[2].quality));
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    assert_true(ds.connected); /* item errors keep the link */
    tw_device_free(d);

    /* bad addresses fail at configuration time with a message */
    char err[256];
    const char *bad[] = {"DB0.DBW0", "DB1.DBX0.8", "DB1.DBW0:REAL", "DB1.DBB0:STRING[255]", "T5", "MW", "DB1.DBD65534",
                         "M10", "DB1.DBW2:FOO", "DB1DBW2"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (tw_adapter_check_address("s7", bad[i], NULL, err, sizeof err) != TW_ERR_ADDRESS) fail_msg("accepted %s", bad[i]);
        assert_true(err[0] != '\0');
    }
}

static void write_ok(tw_device *d, uint32_t id, tw_value v)
{
    if (tw_device_write(d, id, &v) != TW_OK) fail_msg("write %u: %s", (unsigned)id, tw_device_last_error(d));
}

static int hex_at(const char *line, size_t byte)
{
    unsigned v;
    if (strlen(line) < (byte + 1) * 2) return -1;
    if (sscanf(line + byte * 2, "%2x", &v) != 1) return -1;
    return (int)v;
}

static void test_writes_seen_by_server(void **state)
{
    (void)state;
    tw_device *d = open_dev("&bitwrite=rmw");
    uint32_t b = add(d, "DB1.DBX0.1"), w = add(d, "DB1.DBW60:INT"), dw = add(d, "DB1.DBD62:REAL"),
             lr = add(d, "DB1.DBB66:LREAL"), str = add(d, "DB2.DBB40:STRING[10]"), mb = add(d, "M1.7"),
             qw = add(d, "QW8"), ul = add(d, "DB1.DBB74:ULINT"), sn = add(d, "DB1.DBB82:SINT");
    tw_value v;
    v.type = TW_TYPE_BOOL; v.as.b = 1; write_ok(d, b, v);
    v.type = TW_TYPE_INT32; v.as.i = -300; write_ok(d, w, v);
    v.type = TW_TYPE_DOUBLE; v.as.d = 1.5; write_ok(d, dw, v);
    v.type = TW_TYPE_DOUBLE; v.as.d = 1e300; write_ok(d, lr, v);
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "caf\xc3\xa9"; v.as.buf.len = 5; write_ok(d, str, v);
    v.type = TW_TYPE_BOOL; v.as.b = 1; write_ok(d, mb, v);
    v.type = TW_TYPE_UINT16; v.as.u = 0xCAFE; write_ok(d, qw, v);
    v.type = TW_TYPE_UINT64; v.as.u = 0x0102030405060708ull; write_ok(d, ul, v);
    v.type = TW_TYPE_INT8; v.as.i = -2; write_ok(d, sn, v);
    /* range and type errors are refused before anything is sent */
    v.type = TW_TYPE_INT32; v.as.i = 40000;
    assert_int_equal(tw_device_write(d, w, &v), TW_ERR_RANGE);
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "0123456789X"; v.as.buf.len = 11;
    assert_int_equal(tw_device_write(d, str, &v), TW_ERR_RANGE);
    /* read back through tagwire */
    uint32_t ids[] = {b, w, dw, lr, str, mb, qw, ul, sn};
    tw_sample s[9];
    assert_int_equal(tw_device_read(d, ids, 9, s), TW_OK);
    assert_int_equal(s[0].value.as.b, 1);
    assert_int_equal(s[1].value.as.i, -300);
    assert_true(s[2].value.as.f == 1.5f);
    assert_true(s[3].value.as.d == 1e300);
    assert_int_equal(s[4].value.as.buf.len, 5);
    assert_memory_equal(s[4].value.as.buf.ptr, "caf\xc3\xa9", 5);
    assert_int_equal(s[5].value.as.b, 1);
    assert_int_equal(s[6].value.as.u, 0xCAFE);
    assert_true(s[7].value.as.u == 0x0102030405060708ull);
    assert_int_equal(s[8].value.as.i, -2);
    tw_device_free(d);

    /* and in the server's own memory (dumped on SIGTERM) */
    stop_server();
    FILE *f = fopen(twt_path(0, g_dir, "dump.txt"), "r");
    assert_non_null(f);
    char db1[600] = "", db2[300] = "", mk[300] = "", q[100] = "", name[8], line[700];
    while (fgets(line, sizeof line, f)) {
        char hex[600];
        if (sscanf(line, "%7s %599s", name, hex) != 2) continue;
        if (!strcmp(name, "DB1")) strcpy(db1, hex);
        else if (!strcmp(name, "DB2")) tw__strlcpy(db2, hex, sizeof db2);
        else if (!strcmp(name, "M")) tw__strlcpy(mk, hex, sizeof mk);
        else if (!strcmp(name, "Q")) tw__strlcpy(q, hex, sizeof q);
    }
    fclose(f);
    assert_int_equal(hex_at(db1, 0), 0x07); /* bit 1 set, bits 0 and 2 kept */
    assert_int_equal(hex_at(db1, 60), 0xFE);
    assert_int_equal(hex_at(db1, 61), 0xD4); /* -300 */
    assert_int_equal(hex_at(db1, 62), 0x3F);
    assert_int_equal(hex_at(db1, 63), 0xC0); /* 1.5f = 3FC00000 */
    assert_int_equal(hex_at(db1, 66), 0x7E);  /* 1e300 = 7E37E43C8800759C */
    assert_int_equal(hex_at(db1, 73), 0x9C);
    for (int i = 0; i < 8; i++) assert_int_equal(hex_at(db1, 74 + (size_t)i), i + 1);
    assert_int_equal(hex_at(db1, 82), 0xFE);
    assert_int_equal(hex_at(db2, 40), 10); /* STRING[10] header: max 10, length 4, Latin-1 */
    assert_int_equal(hex_at(db2, 41), 4);
    assert_int_equal(hex_at(db2, 42), 'c');
    assert_int_equal(hex_at(db2, 45), 0xE9);
    assert_int_equal(hex_at(mk, 1), 0x80);
    assert_int_equal(hex_at(q, 8), 0xCA);
    assert_int_equal(hex_at(q, 9), 0xFE);
    assert_int_equal(start_server(), 0);
}

static void test_restart_reconnects(void **state)
{
    (void)state;
    tw_device *d = open_dev("");
    uint32_t id = add(d, "DB1.DBW2:INT");
    tw_sample s;
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    stop_server();
    tw_status st = tw_device_read(d, &id, 1, &s);
    assert_int_not_equal(st, TW_OK);
    assert_true(TW_QUALITY_IS_BAD(s.quality));
    assert_int_equal(s.value.as.i, -1234); /* last value kept */
    assert_int_equal(start_server(), 0);
    int good = 0;
    for (int i = 0; i < 100 && !good; i++) {
        if (tw_device_read(d, &id, 1, &s) == TW_OK) good = 1;
        else usleep(50000);
    }
    assert_true(good);
    assert_int_equal(s.value.as.i, -1234);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &ds);
    assert_true(ds.connects >= 2);
    assert_true(ds.disconnects >= 1);
    tw_device_free(d);
}

static void test_cli(void **state)
{
    (void)state;
    char out[256];
    snprintf(out, sizeof out, "%s", twt_path(0, g_dir, "cli.out"));
    int rc = twt_sh("'%s' read 's7://127.0.0.1:%u?rack=0&slot=1' DB1.DBD14:REAL MW20 > '%s' 2>&1", TW_CLI,
                    (unsigned)g_port, out);
    if (rc != 0) twt_sh("cat '%s' >&2", out);
    assert_int_equal(rc, 0);
    assert_int_equal(twt_sh("grep -q '3.5' '%s' && grep -q '4660' '%s'", out, out), 0);
    rc = twt_sh("'%s' write 's7://127.0.0.1:%u?rack=0&slot=1' DB1.DBW90:INT -42 > '%s' 2>&1", TW_CLI, (unsigned)g_port, out);
    if (rc != 0) twt_sh("cat '%s' >&2", out);
    assert_int_equal(rc, 0);
    rc = twt_sh("'%s' read 's7://127.0.0.1:%u?rack=0&slot=1' DB1.DBW90:INT > '%s' 2>&1 && grep -q -- '-42' '%s'", TW_CLI,
                (unsigned)g_port, out, out);
    assert_int_equal(rc, 0);
}

/* Native S7 bit writes (the default) against snap7's own server, which implements bit access. */
static void test_native_bit_writes_snap7_server(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    char *argv[] = {TW_SNAP7_SERVER, ps, (char *)twt_path(5, g_dir, "snap7dump.txt"), NULL};
    pid_t srv = twt_spawn(argv, twt_path(4, g_dir, "snap7server.log"));
    assert_true(srv > 0);
    if (!twt_wait_listen(port, 10000)) {
        twt_stop(srv);
        fail_msg("snap7 server did not start");
    }
    char uri[128];
    snprintf(uri, sizeof uri, "s7://127.0.0.1:%u?rack=0&slot=1", (unsigned)port);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, uri, NULL), TW_OK);
    uint32_t b1 = add(d, "DB1.DBX0.1"), b0 = add(d, "DB1.DBX0.0"), m = add(d, "M3.7"), byte0 = add(d, "DB1.DBB0"),
             w = add(d, "DB1.DBW2");
    tw_value v = {TW_TYPE_BOOL, {.b = 1}};
    assert_int_equal(tw_device_write(d, b1, &v), TW_OK);
    assert_int_equal(tw_device_write(d, m, &v), TW_OK);
    v.as.b = 0;
    assert_int_equal(tw_device_write(d, b0, &v), TW_OK);
    uint32_t ids[] = {b1, b0, m, byte0, w};
    tw_sample s[5];
    assert_int_equal(tw_device_read(d, ids, 5, s), TW_OK);
    assert_int_equal(s[0].value.as.b, 1);
    assert_int_equal(s[1].value.as.b, 0);
    assert_int_equal(s[2].value.as.b, 1);
    assert_int_equal(s[3].value.as.u, 0x06); /* 0x05: bit 1 set, bit 0 cleared, bit 2 untouched */
    assert_int_equal(s[4].value.as.u, 0x1234);
    tw_device_free(d);
    twt_stop(srv);
    FILE *f = fopen(twt_path(5, g_dir, "snap7dump.txt"), "r");
    assert_non_null(f);
    char db1[200] = "", mk[100] = "";
    if (fscanf(f, "DB1 %199s M %99s", db1, mk) != 2) fail_msg("bad dump");
    fclose(f);
    assert_int_equal(hex_at(db1, 0), 0x06);
    assert_int_equal(hex_at(mk, 3), 0x80);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_every_type),   cmocka_unit_test(test_batching_within_pdu),
        cmocka_unit_test(test_item_errors),       cmocka_unit_test(test_writes_seen_by_server),
        cmocka_unit_test(test_restart_reconnects), cmocka_unit_test(test_cli),
        cmocka_unit_test(test_native_bit_writes_snap7_server),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
