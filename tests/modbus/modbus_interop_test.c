/* Modbus TCP interop: tagwire's client against tw_mbserver (libmodbus), plus a hostile fake server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "tagwire/sys/transport.h"
#include "twtest.h"

static char *g_dir;
static uint16_t g_port;
static pid_t g_server = -1;
static char g_stats[1024];

static pid_t start_server(uint16_t port, const char *stats, const char *extra1, const char *extra2)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    char *argv[10];
    int a = 0;
    argv[a++] = (char *)TW_MBSERVER;
    argv[a++] = "--port";
    argv[a++] = ps;
    if (stats) {
        argv[a++] = "--stats";
        argv[a++] = (char *)stats;
    }
    if (extra1) argv[a++] = (char *)extra1;
    if (extra2) argv[a++] = (char *)extra2;
    argv[a] = NULL;
    pid_t pid = twt_spawn(argv, twt_path(7, g_dir, "server.log"));
    if (pid > 0 && !twt_wait_listen(port, 20000)) {
        twt_kill9(pid);
        return -1;
    }
    return pid;
}

static long stat_count(const char *key)
{
    FILE *f = fopen(g_stats, "r");
    if (!f) return -1;
    char k[32];
    long v, r = 0;
    while (fscanf(f, "%31s %ld", k, &v) == 2)
        if (!strcmp(k, key)) r = v;
    fclose(f);
    return r;
}

static int setup_all(void **state)
{
    (void)state;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR; /* Modbus TCP is plaintext by definition: no warning per connect */
    if (tw_init(&ip) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-modbus");
    if (!g_dir) return -1;
    snprintf(g_stats, sizeof g_stats, "%s/stats", g_dir);
    g_port = twt_free_port();
    g_server = start_server(g_port, g_stats, NULL, NULL);
    return g_server > 0 ? 0 : -1;
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

static tw_device *open_dev(const char *query)
{
    char uri[256];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u%s%s", (unsigned)g_port, query ? "?" : "", query ? query : "");
    tw_device *d = NULL;
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = 2000;
    assert_int_equal(tw_device_open(&d, uri, &o), TW_OK);
    return d;
}

static uint32_t add(tw_device *d, const char *addr)
{
    uint32_t id;
    tw_status st = tw_device_add_item(d, &id, addr);
    if (st != TW_OK) fail_msg("add %s: %s", addr, tw_device_last_error(d));
    return id;
}

static tw_sample read1(tw_device *d, uint32_t id)
{
    tw_sample s;
    tw_status st = tw_device_read(d, &id, 1, &s);
    if (st != TW_OK) fail_msg("read: %s: %s", tw_status_name(st), tw_device_last_error(d));
    assert_true(TW_QUALITY_IS_GOOD(s.quality));
    return s;
}

/* ---- every area, both address conventions ---- */
static void test_read_areas(void **state)
{
    (void)state;
    tw_device *d = open_dev("unit=17");
    struct { const char *addr; tw_type type; uint64_t expect; } cases[] = {
        {"coil:5", TW_TYPE_BOOL, 0},               {"coil:6", TW_TYPE_BOOL, 1},
        {"coil:00007", TW_TYPE_BOOL, 1},           /* reference 00007 = offset 6 */
        {"discrete-input:7", TW_TYPE_BOOL, 1},     {"discrete-input:10007", TW_TYPE_BOOL, 0}, /* offset 6 */
        {"input-register:100", TW_TYPE_UINT16, 700}, {"input-register:30101", TW_TYPE_UINT16, 700},
        {"holding-register:42", TW_TYPE_UINT16, 42}, {"holding-register:40043", TW_TYPE_UINT16, 42},
        {"holding-register:400043", TW_TYPE_UINT16, 42}, {"holding-register:0x2A", TW_TYPE_UINT16, 42},
        {"holding-register:40001", TW_TYPE_UINT16, 0}, {"hr:7.0", TW_TYPE_BOOL, 1}, {"hr:7.3", TW_TYPE_BOOL, 0},
        {"hr:7.2", TW_TYPE_BOOL, 1},
    };
    size_t n = TW__ARRAY_LEN(cases);
    uint32_t ids[32];
    for (size_t i = 0; i < n; i++) {
        ids[i] = add(d, cases[i].addr);
        assert_int_equal(tw_device_item_type(d, ids[i]), cases[i].type);
    }
    tw_sample s[32];
    assert_int_equal(tw_device_read(d, ids, n, s), TW_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(s[i].quality, TW_QUALITY_GOOD);
        assert_int_equal(s[i].value.type, cases[i].type);
        uint64_t got = cases[i].type == TW_TYPE_BOOL ? (uint64_t)s[i].value.as.b : s[i].value.as.u;
        if (got != cases[i].expect) fail_msg("%s: got %llu, expected %llu", cases[i].addr, (unsigned long long)got, (unsigned long long)cases[i].expect);
        assert_true(s[i].timestamp_ns > 0);
    }
    tw_device_free(d);
}

/* ---- data types and byte orders (values laid out by libmodbus's own helpers) ---- */
static void test_types_orders(void **state)
{
    (void)state;
    tw_device *d = open_dev(NULL);
    uint32_t f[4] = {add(d, "holding-register:9000:FLOAT32:ABCD"), add(d, "holding-register:9002:FLOAT32:CDAB"),
                     add(d, "holding-register:9004:FLOAT32:BADC"), add(d, "holding-register:9006:FLOAT32:DCBA")};
    for (int i = 0; i < 4; i++) {
        tw_sample s = read1(d, f[i]);
        assert_int_equal(s.value.type, TW_TYPE_FLOAT);
        assert_true(s.value.as.f == 123.456f);
    }
    uint32_t wrong = add(d, "holding-register:9002:FLOAT32"); /* CDAB data read as ABCD */
    assert_true(read1(d, wrong).value.as.f != 123.456f);
    /* integers: holding[i] = i */
    uint32_t i32 = add(d, "holding-register:10:INT32"), i32c = add(d, "holding-register:10:INT32:CDAB");
    uint32_t u64 = add(d, "holding-register:20:UINT64"), u64d = add(d, "holding-register:20:UINT64:DCBA");
    uint32_t i16 = add(d, "input-register:5000:INT16"), u16b = add(d, "holding-register:258:UINT16:BADC");
    uint32_t f64 = add(d, "holding-register:30:FLOAT64");
    assert_int_equal(read1(d, i32).value.as.i, 0x000A000B);
    assert_int_equal(read1(d, i32c).value.as.i, 0x000B000A);
    assert_true(read1(d, u64).value.as.u == 0x0014001500160017ull);
    assert_true(read1(d, u64d).value.as.u == 0x1700160015001400ull);
    assert_int_equal(read1(d, i16).value.as.i, (int16_t)(uint16_t)35000);
    assert_int_equal(read1(d, u16b).value.as.u, 0x0201); /* 258 = 0x0102 byte-swapped */
    double expect64;
    uint64_t raw = 0x001E001F00200021ull;
    memcpy(&expect64, &raw, 8);
    assert_true(read1(d, f64).value.as.d == expect64);
    /* strings */
    uint32_t s1 = add(d, "holding-register:9100:STRING[4]"), s2 = add(d, "holding-register:9100:STRING[4]:BADC");
    uint32_t s3 = add(d, "holding-register:9100:STRING[3]");
    tw_sample v = read1(d, s1);
    assert_int_equal(v.value.type, TW_TYPE_STRING);
    assert_int_equal(v.value.as.buf.len, 4);
    assert_memory_equal(v.value.as.buf.ptr, "ABCD", 4);
    v = read1(d, s2);
    assert_memory_equal(v.value.as.buf.ptr, "BADC", 4);
    v = read1(d, s3);
    assert_int_equal(v.value.as.buf.len, 3);
    assert_memory_equal(v.value.as.buf.ptr, "ABC", 3);
    tw_device_free(d);
}

/* ---- writes: every writing function code; the raw registers checked with libmodbus ---- */
static modbus_t *lm_connect(void)
{
    modbus_t *m = modbus_new_tcp("127.0.0.1", g_port);
    assert_non_null(m);
    assert_int_equal(modbus_connect(m), 0);
    return m;
}

static void write_and_check(tw_device *d, modbus_t *m, const char *addr, tw_value v, const uint16_t *words, int nw)
{
    uint32_t id = add(d, addr);
    tw_status st = tw_device_write(d, id, &v);
    if (st != TW_OK) fail_msg("write %s: %s", addr, tw_device_last_error(d));
    uint16_t got[8] = {0};
    const char *colon = strchr(addr, ':');
    int off = atoi(colon + 1);
    assert_int_equal(modbus_read_registers(m, off, nw, got), nw);
    for (int i = 0; i < nw; i++)
        if (got[i] != words[i]) fail_msg("%s: register %d is 0x%04x, expected 0x%04x", addr, off + i, got[i], words[i]);
    /* and read back through tagwire */
    tw_sample s = read1(d, id);
    assert_int_equal(s.value.type, v.type == TW_TYPE_BYTES ? TW_TYPE_STRING : s.value.type);
}

static void test_writes(void **state)
{
    (void)state;
    tw_device *d = open_dev(NULL);
    modbus_t *m = lm_connect();
    long fc06 = stat_count("fc06"), fc10 = stat_count("fc10"), fc05 = stat_count("fc05"), fc0f = stat_count("fc0f");
    tw_value v;
    v.type = TW_TYPE_INT32; v.as.i = -2;
    write_and_check(d, m, "holding-register:5000:INT32", v, (uint16_t[]){0xFFFF, 0xFFFE}, 2);
    write_and_check(d, m, "holding-register:5002:INT32:CDAB", v, (uint16_t[]){0xFFFE, 0xFFFF}, 2);
    v.type = TW_TYPE_UINT32; v.as.u = 0x11223344;
    write_and_check(d, m, "holding-register:5004:UINT32:BADC", v, (uint16_t[]){0x2211, 0x4433}, 2);
    write_and_check(d, m, "holding-register:5006:UINT32:DCBA", v, (uint16_t[]){0x4433, 0x2211}, 2);
    v.type = TW_TYPE_FLOAT; v.as.f = 1.5f;
    write_and_check(d, m, "holding-register:5008:FLOAT32:CDAB", v, (uint16_t[]){0x0000, 0x3FC0}, 2);
    v.type = TW_TYPE_DOUBLE; v.as.d = -2.5;
    write_and_check(d, m, "holding-register:5010:FLOAT64", v, (uint16_t[]){0xC004, 0, 0, 0}, 4);
    write_and_check(d, m, "holding-register:5014:FLOAT64:DCBA", v, (uint16_t[]){0, 0, 0, 0x04C0}, 4);
    v.type = TW_TYPE_INT64; v.as.i = 0x0102030405060708;
    write_and_check(d, m, "holding-register:5018:INT64:CDAB", v, (uint16_t[]){0x0708, 0x0506, 0x0304, 0x0102}, 4);
    v.type = TW_TYPE_UINT64; v.as.u = 65535; /* any integer type that fits */
    write_and_check(d, m, "holding-register:5022:UINT16", v, (uint16_t[]){0xFFFF}, 1);
    v.type = TW_TYPE_INT8; v.as.i = -1;
    write_and_check(d, m, "holding-register:5023:INT16", v, (uint16_t[]){0xFFFF}, 1);
    v.type = TW_TYPE_STRING; v.as.buf.ptr = "hello"; v.as.buf.len = 5;
    write_and_check(d, m, "holding-register:5024:STRING[6]", v, (uint16_t[]){0x6865, 0x6C6C, 0x6F00}, 3);
    write_and_check(d, m, "holding-register:5030:STRING[6]:BADC", v, (uint16_t[]){0x6568, 0x6C6C, 0x006F}, 3);
    /* function codes: 6 for single registers, 16 for several */
    assert_int_equal(stat_count("fc06") - fc06, 2);
    assert_int_equal(stat_count("fc10") - fc10, 10);
    /* coils with FC 5 */
    uint32_t coil = add(d, "coil:9001");
    uint8_t bit = 9;
    v.type = TW_TYPE_BOOL; v.as.b = 1;
    assert_int_equal(tw_device_write(d, coil, &v), TW_OK);
    assert_int_equal(modbus_read_bits(m, 9001, 1, &bit), 1);
    assert_int_equal(bit, 1);
    v.as.b = 0;
    assert_int_equal(tw_device_write(d, coil, &v), TW_OK);
    assert_int_equal(modbus_read_bits(m, 9001, 1, &bit), 1);
    assert_int_equal(bit, 0);
    assert_int_equal(stat_count("fc05") - fc05, 2);
    /* refused locally, nothing sent */
    long total = stat_count("total");
    uint32_t u16 = add(d, "holding-register:5040:UINT16");
    v.type = TW_TYPE_INT32; v.as.i = 70000;
    assert_int_equal(tw_device_write(d, u16, &v), TW_ERR_RANGE);
    v.as.i = -1;
    assert_int_equal(tw_device_write(d, u16, &v), TW_ERR_RANGE);
    v.type = TW_TYPE_DOUBLE; v.as.d = 1.5;
    assert_int_equal(tw_device_write(d, u16, &v), TW_ERR_RANGE);
    uint32_t ir = add(d, "input-register:1");
    v.type = TW_TYPE_UINT16; v.as.u = 1;
    assert_int_equal(tw_device_write(d, ir, &v), TW_ERR_UNSUPPORTED);
    assert_int_equal(stat_count("total"), total);
    tw_device_free(d);

    /* single_write=0: FC 15 for coils and FC 16 for single registers */
    d = open_dev("single_write=0");
    coil = add(d, "coil:9002");
    v.type = TW_TYPE_BOOL; v.as.b = 1;
    assert_int_equal(tw_device_write(d, coil, &v), TW_OK);
    assert_int_equal(modbus_read_bits(m, 9002, 1, &bit), 1);
    assert_int_equal(bit, 1);
    u16 = add(d, "holding-register:5041");
    v.type = TW_TYPE_UINT16; v.as.u = 4242;
    fc10 = stat_count("fc10");
    assert_int_equal(tw_device_write(d, u16, &v), TW_OK);
    assert_int_equal(stat_count("fc0f") - fc0f, 1);
    assert_int_equal(stat_count("fc10") - fc10, 1);
    assert_int_equal(read1(d, u16).value.as.u, 4242);
    tw_device_free(d);
    modbus_close(m);
    modbus_free(m);
}

/* ---- coalescing, observed by counting requests on the server ---- */
static void read_range(tw_device *d, const char *area, int from, int to, int step, long *fc_delta, const char *fc)
{
    uint32_t ids[4000];
    size_t n = 0;
    char a[64];
    for (int i = from; i < to; i += step) {
        snprintf(a, sizeof a, "%s:%d", area, i);
        ids[n++] = add(d, a);
    }
    tw_sample *s = calloc(n, sizeof *s);
    long before = stat_count(fc);
    tw_status st = tw_device_read(d, ids, n, s);
    if (st != TW_OK) fail_msg("read: %s", tw_device_last_error(d));
    *fc_delta = stat_count(fc) - before;
    for (size_t i = 0; i < n; i++) {
        int off = from + (int)i * step;
        if (!strcmp(area, "holding-register")) assert_int_equal(s[i].value.as.u, (uint64_t)off);
        if (!strcmp(area, "coil")) assert_int_equal(s[i].value.as.b, off % 3 == 0);
        if (!strcmp(area, "discrete-input")) assert_int_equal(s[i].value.as.b, off % 2);
        if (!strcmp(area, "input-register")) assert_int_equal(s[i].value.as.u, (uint64_t)((off * 7) & 0xFFFF));
    }
    free(s);
}

static void test_coalescing(void **state)
{
    (void)state;
    long delta;
    tw_device *d = open_dev(NULL);
    read_range(d, "holding-register", 0, 100, 1, &delta, "fc03");
    assert_int_equal(delta, 1);
    read_range(d, "holding-register", 0, 300, 1, &delta, "fc03"); /* 125 + 125 + 50 */
    assert_int_equal(delta, 3);
    read_range(d, "holding-register", 0, 250, 10, &delta, "fc03"); /* gap 9 > max_gap 8: one request each */
    assert_int_equal(delta, 25);
    read_range(d, "holding-register", 0, 250, 5, &delta, "fc03"); /* gap 4: 2 blocks of <=125 */
    assert_int_equal(delta, 2);
    read_range(d, "coil", 0, 3000, 1, &delta, "fc01"); /* 2000 + 1000 */
    assert_int_equal(delta, 2);
    read_range(d, "discrete-input", 0, 2500, 1, &delta, "fc02");
    assert_int_equal(delta, 2);
    read_range(d, "input-register", 0, 126, 1, &delta, "fc04");
    assert_int_equal(delta, 2);
    tw_device_free(d);
    d = open_dev("max_gap=20&max_regs=10");
    read_range(d, "holding-register", 0, 100, 1, &delta, "fc03");
    assert_int_equal(delta, 10);
    tw_device_free(d);
    d = open_dev("max_gap=20");
    read_range(d, "holding-register", 0, 250, 10, &delta, "fc03"); /* 0..240: 241 regs -> 2 blocks */
    assert_int_equal(delta, 2);
    tw_device_free(d);
    /* pipelining: same requests, several in flight, same values */
    d = open_dev("pipeline=8");
    read_range(d, "holding-register", 0, 2000, 1, &delta, "fc03");
    assert_int_equal(delta, 16);
    tw_device_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &st), TW_OK);
    assert_int_equal(st.requests, 16);
    assert_int_equal(st.responses, 16);
    assert_true(st.connected);
    assert_true(st.mean_rtt_ns > 0 && st.last_rtt_ns > 0);
    tw_device_free(d);
}

/* ---- exception responses become quality, with the last value kept ---- */
static void test_exceptions(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    char stats[1024];
    snprintf(stats, sizeof stats, "%s/stats-hole", g_dir);
    pid_t srv = start_server(port, stats, "--hole", "3000:3009");
    assert_true(srv > 0);
    char uri[128];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u", (unsigned)port);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, uri, NULL), TW_OK);
    uint32_t good = add(d, "holding-register:2990"), hole = add(d, "holding-register:3005");
    uint32_t beyond = add(d, "holding-register:0x6000");
    tw_sample s;
    assert_int_equal(tw_device_read(d, &good, 1, &s), TW_OK);
    assert_int_equal(s.value.as.u, 2990);
    assert_int_equal(tw_device_read(d, &hole, 1, &s), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(s.quality, TW_QUALITY_BAD_CONFIG);
    assert_int_equal(s.value.type, TW_TYPE_NONE); /* never had a value */
    assert_non_null(strstr(tw_device_last_error(d), "illegal data address"));
    assert_int_equal(tw_device_read(d, &beyond, 1, &s), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(s.quality, TW_QUALITY_BAD_CONFIG);
    /* a good item in another block of the same read stays good */
    uint32_t both[2] = {good, beyond};
    tw_sample s2[2];
    assert_int_equal(tw_device_read(d, both, 2, s2), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(s2[0].quality, TW_QUALITY_GOOD);
    assert_int_equal(s2[1].quality, TW_QUALITY_BAD_CONFIG);
    tw_device_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &st);
    assert_int_equal(st.exceptions, 3);
    assert_true(st.connected); /* an exception is an answer: the link stays */
    assert_int_equal(st.disconnects, 0);
    tw_device_free(d);

    /* items on both sides of an unmapped gap: coalesced, exception 02, then read separately */
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?max_gap=20", (unsigned)port);
    assert_int_equal(tw_device_open(&d, uri, NULL), TW_OK);
    uint32_t around[2] = {add(d, "holding-register:2999"), add(d, "holding-register:3010")};
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", g_stats);
    snprintf(g_stats, sizeof g_stats, "%s", stats);
    long before = stat_count("fc03");
    assert_int_equal(tw_device_read(d, around, 2, s2), TW_OK);
    assert_int_equal(s2[0].value.as.u, 2999);
    assert_int_equal(s2[1].value.as.u, 3010);
    assert_int_equal(stat_count("fc03") - before, 3); /* the failed coalesced one, then one each */
    before = stat_count("fc03");
    assert_int_equal(tw_device_read(d, around, 2, s2), TW_OK); /* learnt: no failed request any more */
    assert_int_equal(stat_count("fc03") - before, 2);
    snprintf(g_stats, sizeof g_stats, "%s", saved);
    tw_device_free(d);
    twt_stop(srv);
}

/* ---- server killed and restarted mid-poll ---- */
static void test_kill_restart(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    pid_t srv = start_server(port, NULL, NULL, NULL);
    assert_true(srv > 0);
    char uri[128];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?timeout=500", (unsigned)port);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 400;
    tw_device *d;
    assert_int_equal(tw_device_open(&d, uri, &o), TW_OK);
    uint32_t ids[2] = {add(d, "holding-register:42"), add(d, "holding-register:9000:FLOAT32")};
    tw_sample s[2];
    assert_int_equal(tw_device_read(d, ids, 2, s), TW_OK);
    int64_t ts_good = s[0].timestamp_ns;
    twt_kill9(srv);
    srv = -1;
    int bad_reads = 0;
    for (int i = 0; i < 5; i++) {
        tw_status st = tw_device_read(d, ids, 2, s);
        assert_int_not_equal(st, TW_OK);
        assert_true(TW_QUALITY_IS_BAD(s[0].quality));
        assert_true(s[0].quality == TW_QUALITY_BAD_NOT_CONNECTED || s[0].quality == TW_QUALITY_BAD_COMM_FAILURE);
        /* last value kept */
        assert_int_equal(s[0].value.type, TW_TYPE_UINT16);
        assert_int_equal(s[0].value.as.u, 42);
        assert_true(s[1].value.as.f == 123.456f);
        assert_true(s[0].timestamp_ns >= ts_good);
        bad_reads++;
    }
    srv = start_server(port, NULL, NULL, NULL);
    assert_true(srv > 0);
    int recovered = 0;
    for (int i = 0; i < 200 && !recovered; i++) {
        if (tw_device_read(d, ids, 2, s) == TW_OK) recovered = 1;
        else usleep(20000);
    }
    assert_true(recovered);
    assert_int_equal(s[0].quality, TW_QUALITY_GOOD);
    assert_int_equal(s[0].value.as.u, 42);
    tw_device_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &st);
    assert_true(st.connects >= 2);
    assert_true(st.connect_failures >= 1);
    assert_true(st.disconnects >= 1);
    assert_true(st.items_bad >= (uint64_t)bad_reads * 2);
    tw_device_free(d);
    twt_stop(srv);
}

/* ---- a hostile fake server ---- */

typedef struct hostile_case {
    const char *name;
    const char *addr;    /* item read (or written when write != 0) */
    int write;
    const char *rsp_hex; /* response bytes; the first two (transaction id) are patched unless keep_tid */
    int keep_tid;
    int drip;            /* send byte by byte */
    int close_after;     /* close right after sending */
    tw_status expect;
    tw_quality expect_q; /* for reads */
} hostile_case;

typedef struct hostile_srv {
    int lfd;
    const hostile_case *c;
} hostile_srv;

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

static void *hostile_main(void *arg)
{
    hostile_srv *h = arg;
    int fd = accept(h->lfd, NULL, NULL);
    if (fd < 0) return NULL;
    uint8_t req[300];
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) { close(fd); return NULL; }
    ssize_t n = recv(fd, req, sizeof req, 0);
    if (n >= 2) {
        uint8_t rsp[2048];
        size_t len = unhex(h->c->rsp_hex, rsp);
        if (!h->c->keep_tid && len >= 2) memcpy(rsp, req, 2);
        if (h->c->drip) {
            for (size_t i = 0; i < len; i++) {
                if (send(fd, rsp + i, 1, MSG_NOSIGNAL) != 1) break;
                usleep(2000);
            }
        } else if (len) {
            if (send(fd, rsp, len, MSG_NOSIGNAL) < 0) { /* ignore */ }
        }
    }
    if (!h->c->close_after) {
        /* hold the connection until the client closes it (bounded) */
        poll(&p, 1, 3000);
    }
    close(fd);
    return NULL;
}

static void test_hostile(void **state)
{
    (void)state;
    static const hostile_case cases[] = {
        {"valid", "holding-register:0:UINT32", 0, "0000 0000 0007 01 03 04 0001 0002", 0, 0, 0, TW_OK, TW_QUALITY_GOOD},
        {"valid, dripped byte by byte", "holding-register:0:UINT32", 0, "0000 0000 0007 01 03 04 0001 0002", 0, 1, 0, TW_OK, TW_QUALITY_GOOD},
        {"wrong transaction id", "holding-register:0:UINT32", 0, "BEEF 0000 0007 01 03 04 0001 0002", 1, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"protocol id 1", "holding-register:0:UINT32", 0, "0000 0001 0007 01 03 04 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"MBAP length 0", "holding-register:0:UINT32", 0, "0000 0000 0000 01 03 04 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"MBAP length 1", "holding-register:0:UINT32", 0, "0000 0000 0001 01", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"MBAP length 0xFFFF", "holding-register:0:UINT32", 0, "0000 0000 FFFF 01 03 04 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"byte count larger than requested", "holding-register:0:UINT32", 0, "0000 0000 0009 01 03 06 0001 0002 0003", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"byte count larger than data", "holding-register:0:UINT32", 0, "0000 0000 0005 01 03 04 0001", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"byte count smaller than requested", "holding-register:0:UINT32", 0, "0000 0000 0005 01 03 02 0001", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        /* CVE-2023-26793 (libmodbus read_io_status overflow): bit read answered with far more bytes */
        {"CVE-2023-26793: FC1 byte count 250 for 1 coil", "coil:0", 0,
         "0000 0000 00FD 01 01 FA"
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
         0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"FC 0x07 answer to FC 3", "holding-register:0:UINT32", 0, "0000 0000 0003 01 07 00", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"FC 0x11 answer to FC 3", "holding-register:0:UINT32", 0, "0000 0000 0007 01 11 04 0102 00FF", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"FC 0x17 answer to FC 3", "holding-register:0:UINT32", 0, "0000 0000 0007 01 17 04 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"exception", "holding-register:0:UINT32", 0, "0000 0000 0003 01 83 02", 0, 0, 0, TW_ERR_MODBUS_EXCEPTION, TW_QUALITY_BAD_CONFIG},
        {"exception 04", "holding-register:0:UINT32", 0, "0000 0000 0003 01 83 04", 0, 0, 0, TW_ERR_MODBUS_EXCEPTION, TW_QUALITY_BAD_DEVICE_FAILURE},
        {"exception with trailing byte", "holding-register:0:UINT32", 0, "0000 0000 0004 01 83 02 00", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"exception for another function", "holding-register:0:UINT32", 0, "0000 0000 0003 01 84 02", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"wrong unit", "holding-register:0:UINT32", 0, "0000 0000 0007 02 03 04 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"truncated then closed", "holding-register:0:UINT32", 0, "0000 0000 0007 01 03", 0, 0, 1, TW_ERR_CLOSED, TW_QUALITY_BAD_NOT_CONNECTED},
        {"closed without answer", "holding-register:0:UINT32", 0, "", 0, 0, 1, TW_ERR_CLOSED, TW_QUALITY_BAD_NOT_CONNECTED},
        {"silence", "holding-register:0:UINT32", 0, "", 0, 0, 0, TW_ERR_TIMEOUT, TW_QUALITY_BAD_TIMEOUT},
        {"garbage", "holding-register:0:UINT32", 0, "4854 5450 2F31 2E31 2032 3030 204F 4B0D 0A0D 0A", 1, 0, 0, TW_ERR_PROTOCOL, TW_QUALITY_BAD_COMM_FAILURE},
        {"two answers for one request", "holding-register:0:UINT32", 0, "0000 0000 0007 01 03 04 0001 0002 0000 0000 0007 01 03 04 0001 0002", 0, 0, 0, TW_OK, TW_QUALITY_GOOD},
        /* CVE-2019-14462 / 14463 (libmodbus FC 15/16 byte count vs quantity): the same malformed
         * frames, echoed as answers to our FC 15 / FC 16 writes */
        {"CVE-2019-14462 frame as FC 15 answer", "coil:0", 1, "0000 0000 0008 01 0F 0000 0010 01 FF", 0, 0, 0, TW_ERR_PROTOCOL, 0},
        {"CVE-2019-14463 frame as FC 16 answer", "holding-register:0:UINT32", 1, "0000 0000 000A 01 10 0000 0002 7F 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, 0},
        {"FC 16 echo with wrong quantity", "holding-register:0:UINT32", 1, "0000 0000 0006 01 10 0000 0003", 0, 0, 0, TW_ERR_PROTOCOL, 0},
        {"FC 16 echo with wrong address", "holding-register:0:UINT32", 1, "0000 0000 0006 01 10 0001 0002", 0, 0, 0, TW_ERR_PROTOCOL, 0},
        {"FC 16 valid echo", "holding-register:0:UINT32", 1, "0000 0000 0006 01 10 0000 0002", 0, 0, 0, TW_OK, 0},
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(cases); i++) {
        const hostile_case *c = &cases[i];
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof a;
        assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(lfd, 4), 0);
        getsockname(lfd, (struct sockaddr *)&a, &al);
        hostile_srv h = {lfd, c};
        pthread_t th;
        pthread_create(&th, NULL, hostile_main, &h);
        char uri[128];
        /* "silence" must time out, so it gets a short timeout; every other case gets a long one, so
         * that a slow server thread on a loaded machine is never mistaken for a timeout */
        snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?unit=1&single_write=0&timeout=%d", (unsigned)ntohs(a.sin_port),
                 c->expect == TW_ERR_TIMEOUT ? 300 : 5000);
        tw_device *d;
        assert_int_equal(tw_device_open(&d, uri, NULL), TW_OK);
        uint32_t id = add(d, c->addr);
        tw_status st;
        tw_sample s;
        if (c->write) {
            tw_value v;
            v.type = tw_device_item_type(d, id);
            v.as.u = 1;
            st = tw_device_write(d, id, &v);
        } else {
            st = tw_device_read(d, &id, 1, &s);
        }
        if (st != c->expect)
            fail_msg("case '%s': got %s (%s), expected %s", c->name, tw_status_name(st), tw_device_last_error(d),
                     tw_status_name(c->expect));
        if (!c->write && s.quality != c->expect_q)
            fail_msg("case '%s': quality 0x%08x, expected 0x%08x", c->name, (unsigned)s.quality, (unsigned)c->expect_q);
        if (st != TW_OK) assert_true(strlen(tw_device_last_error(d)) > 0);
        print_message("  %-45s -> %s: %s\n", c->name, tw_status_name(st), tw_device_last_error(d));
        if (!strcmp(c->name, "valid")) assert_int_equal(s.value.as.u, 0x00010002);
        tw_device_free(d);
        pthread_join(th, NULL);
        close(lfd);
    }
}

/* ---- the transport hook used by modbus+tls: any tw_transport can carry the client ---- */
typedef struct wrap_tp {
    tw_transport *inner;
    int connects;
    size_t bytes_in, bytes_out;
} wrap_tp;
static tw_status w_connect(void *c, const char *h, uint16_t p)
{
    wrap_tp *w = c;
    tw_status st = tw_transport_connect(w->inner, h, p);
    if (st == TW_OK) w->connects++;
    return st;
}
static tw_status w_read(void *c, void *b, size_t l, size_t *n)
{
    wrap_tp *w = c;
    tw_status st = tw_transport_read(w->inner, b, l, n);
    w->bytes_in += *n;
    return st;
}
static tw_status w_write(void *c, const void *b, size_t l, size_t *n)
{
    wrap_tp *w = c;
    tw_status st = tw_transport_write(w->inner, b, l, n);
    w->bytes_out += *n;
    return st;
}
static int w_fd(void *c) { return tw_transport_fd(((wrap_tp *)c)->inner); }
static unsigned w_events(void *c) { return tw_transport_events(((wrap_tp *)c)->inner); }
static void w_close(void *c) { tw_transport_close(((wrap_tp *)c)->inner); }
static void w_destroy(void *c) { tw_transport_free(((wrap_tp *)c)->inner); }
/* declares itself secure, standing in for tw_transport_new_tls() until the TLS module is merged */
static const tw_transport_ops k_wrap = {TW_TRANSPORT_OPS_VERSION, w_connect, w_read, w_write, w_fd, w_events, NULL,
                                        w_close, w_destroy, 1};

static void test_tls_hook(void **state)
{
    (void)state;
    static wrap_tp w;
    memset(&w, 0, sizeof w);
    assert_int_equal(tw_transport_new_tcp_insecure(&w.inner, NULL), TW_OK);
    tw_transport *t;
    assert_int_equal(tw_transport_new_custom(&t, &k_wrap, &w), TW_OK);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.transport = t;
    char uri[128];
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?unit=1", (unsigned)g_port);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, uri, &o), TW_OK); /* the device owns t now */
    uint32_t id = add(d, "holding-register:42");
    assert_int_equal(read1(d, id).value.as.u, 42);
    assert_int_equal(w.connects, 1);
    assert_int_equal(w.bytes_out, 12); /* one MBAP request */
    assert_int_equal(w.bytes_in, 11);
    tw_device_free(d);
}

/* ---- the CLI against the same server ---- */
static int run_cli(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_cli(char *out, size_t len, const char *fmt, ...)
{
    char cmd[1024];
    int o = snprintf(cmd, sizeof cmd, "%s ", TW_CLI);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + o, sizeof cmd - (size_t)o, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(run_cli(out, sizeof out, "read modbus+tcp://127.0.0.1:%u holding-register:40043 coil:6 "
                                              "holding-register:9002:FLOAT32:CDAB holding-register:9100:STRING[4]", (unsigned)g_port), 0);
    assert_non_null(strstr(out, "holding-register:40043\t42\tuint16\tgood\t"));
    assert_non_null(strstr(out, "coil:6\ttrue\tbool\tgood"));
    assert_non_null(strstr(out, "\t123.456001\tfloat\tgood"));
    assert_non_null(strstr(out, "\t\"ABCD\"\tstring\tgood"));
    assert_int_equal(run_cli(out, sizeof out, "write modbus+tcp://127.0.0.1:%u holding-register:6000:FLOAT32:CDAB -21.25", (unsigned)g_port), 0);
    assert_non_null(strstr(out, "\t-21.25\tfloat\tgood"));
    assert_int_equal(run_cli(out, sizeof out, "write modbus+tcp://127.0.0.1:%u holding-register:6002:INT16 40000", (unsigned)g_port), 1);
    assert_non_null(strstr(out, "TW_ERR_RANGE"));
    assert_int_equal(run_cli(out, sizeof out, "read modbus+tcp://127.0.0.1:%u holding-register:30001", (unsigned)g_port), 1);
    assert_non_null(strstr(out, "input-register (3xxxx)"));
    assert_int_equal(run_cli(out, sizeof out, "read modbus+tcp://127.0.0.1:%u holding-register:0x6000", (unsigned)g_port), 1);
    assert_non_null(strstr(out, "bad-config"));
    assert_non_null(strstr(out, "illegal data address"));
    assert_int_equal(run_cli(out, sizeof out, "poll modbus+tcp://127.0.0.1:%u --rate 50 --count 3 --all holding-register:42", (unsigned)g_port), 0);
    int lines = 0;
    for (char *p = out; (p = strstr(p, "holding-register:42\t42")); p++) lines++;
    assert_int_equal(lines, 3);
    assert_int_equal(run_cli(out, sizeof out, "read"), 2);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_areas),   cmocka_unit_test(test_types_orders), cmocka_unit_test(test_writes),
        cmocka_unit_test(test_coalescing),   cmocka_unit_test(test_exceptions),   cmocka_unit_test(test_kill_restart),
        cmocka_unit_test(test_hostile),     cmocka_unit_test(test_cli), cmocka_unit_test(test_tls_hook),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
