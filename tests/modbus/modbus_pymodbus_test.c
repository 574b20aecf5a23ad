/* Modbus TCP interop with a second independent peer: Debian's pymodbus 3.0 (asyncio server). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "twtest.h"

static char *g_dir;
static uint16_t g_port;
static pid_t g_server = -1;

static int setup_all(void **state)
{
    (void)state;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-pymodbus");
    g_port = twt_free_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)g_port);
    /* Debian's interpreter explicitly: a python3 earlier in PATH may lack python3-pymodbus */
    char *argv[] = {"/usr/bin/python3", TW_PYMODBUS_SERVER, ps, NULL};
    g_server = twt_spawn(argv, twt_path(7, g_dir, "pymodbus.log"));
    if (g_server <= 0 || !twt_wait_listen(g_port, 15000)) {
        fprintf(stderr, "pymodbus server did not start (python3-pymodbus installed? see %s/pymodbus.log)\n", g_dir);
        return -1;
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    if (g_server > 0) twt_stop(g_server);
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static tw_device *open_dev(const char *q)
{
    char uri[256];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?%s", (unsigned)g_port, q);
    tw_device *d;
    if (tw_device_open(&d, uri, NULL) != TW_OK) fail_msg("%s", tw_last_error());
    return d;
}

static uint32_t add(tw_device *d, const char *a)
{
    uint32_t id;
    if (tw_device_add_item(d, &id, a) != TW_OK) fail_msg("add %s: %s", a, tw_device_last_error(d));
    return id;
}

static void test_read_all(void **state)
{
    (void)state;
    const char *queries[] = {"unit=1", "unit=1&pipeline=8", "unit=1&max_gap=0&pipeline=3"};
    for (int q = 0; q < 3; q++) {
        tw_device *d = open_dev(queries[q]);
        static uint32_t ids[4000];
        static tw_sample s[4000];
        size_t n = 0;
        char a[48];
        for (int i = 0; i < 600; i += (i % 7 == 0 ? 3 : 1)) {
            snprintf(a, sizeof a, "holding-register:%d", i);
            ids[n++] = add(d, a);
        }
        size_t nh = n;
        for (int i = 0; i < 1900; i += 5) {
            snprintf(a, sizeof a, "coil:%d", i);
            ids[n++] = add(d, a);
            snprintf(a, sizeof a, "discrete-input:%d", i);
            ids[n++] = add(d, a);
        }
        ids[n++] = add(d, "input-register:30101");
        tw_status st = tw_device_read(d, ids, n, s);
        if (st != TW_OK) fail_msg("%s: %s", queries[q], tw_device_last_error(d));
        size_t k = 0;
        for (int i = 0; i < 600; i += (i % 7 == 0 ? 3 : 1), k++) assert_int_equal(s[k].value.as.u, (uint64_t)((3 * i) & 0xFFFF));
        assert_int_equal(k, nh);
        for (int i = 0; i < 1900; i += 5) {
            assert_int_equal(s[k++].value.as.b, i % 3 == 0);
            assert_int_equal(s[k++].value.as.b, i % 2);
        }
        assert_int_equal(s[k].value.as.u, 1100);
        tw_device_stats ds;
        memset(&ds, 0, sizeof ds);
        ds.version = TW_DEVICE_STATS_VERSION;
        tw_device_stats_get(d, &ds);
        /* 600 registers: 5 blocks, coils and inputs: 1 each, the input register: 1. With max_gap=0 every
         * 2-register hole in the holding registers splits a request: runs {0}, {3..7}, {10..14}, ... = 87. */
        uint64_t expect = q < 2 ? 8 : 87 + 3;
        if (ds.requests != expect)
            fail_msg("%s: %llu requests, expected %llu", queries[q], (unsigned long long)ds.requests, (unsigned long long)expect);
        assert_int_equal(ds.responses, ds.requests);
        tw_device_free(d);
    }
}

static void test_writes_and_exceptions(void **state)
{
    (void)state;
    const char *queries[] = {"unit=1", "unit=1&single_write=0"};
    for (int q = 0; q < 2; q++) {
        tw_device *d = open_dev(queries[q]);
        uint32_t f = add(d, "holding-register:1000:FLOAT32:CDAB"), i64 = add(d, "holding-register:1010:INT64:BADC");
        uint32_t str = add(d, "holding-register:1020:STRING[10]"), u16 = add(d, "holding-register:1030");
        uint32_t coil = add(d, "coil:1001");
        tw_value v = {TW_TYPE_DOUBLE, {.d = -3.75}};
        assert_int_equal(tw_device_write(d, f, &v), TW_OK);
        v.type = TW_TYPE_INT64;
        v.as.i = -1234567890123LL;
        assert_int_equal(tw_device_write(d, i64, &v), TW_OK);
        v.type = TW_TYPE_STRING;
        v.as.buf.ptr = "pymodbus";
        v.as.buf.len = 8;
        assert_int_equal(tw_device_write(d, str, &v), TW_OK);
        v.type = TW_TYPE_UINT16;
        v.as.u = 54321 + (uint64_t)q;
        assert_int_equal(tw_device_write(d, u16, &v), TW_OK);
        v.type = TW_TYPE_BOOL;
        v.as.b = q == 0;
        assert_int_equal(tw_device_write(d, coil, &v), TW_OK);
        uint32_t all[5] = {f, i64, str, u16, coil};
        tw_sample s[5];
        assert_int_equal(tw_device_read(d, all, 5, s), TW_OK);
        assert_true(s[0].value.as.f == -3.75f);
        assert_int_equal(s[1].value.as.i, -1234567890123LL);
        assert_int_equal(s[2].value.as.buf.len, 8);
        assert_memory_equal(s[2].value.as.buf.ptr, "pymodbus", 8);
        assert_int_equal(s[3].value.as.u, 54321 + (uint64_t)q);
        assert_int_equal(s[4].value.as.b, q == 0);
        /* beyond the server's 2000 registers: exception 02 -> bad-config, link stays */
        uint32_t beyond = add(d, "holding-register:0x1000");
        assert_int_equal(tw_device_read(d, &beyond, 1, s), TW_ERR_MODBUS_EXCEPTION);
        assert_int_equal(s[0].quality, TW_QUALITY_BAD_CONFIG);
        assert_int_equal(tw_device_read(d, all, 5, s), TW_OK);
        tw_device_free(d);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_read_all), cmocka_unit_test(test_writes_and_exceptions)};
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
