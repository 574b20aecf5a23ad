/* Modbus RTU: tagwire's client against tw_mbserver --rtu (libmodbus) over two pseudo-terminal pairs
 * joined by a relay thread (which can also corrupt a byte to exercise the CRC check). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "twtest.h"

static char *g_dir;
static char g_stats[1024];
static pid_t g_server = -1;
static int g_ma = -1, g_mb = -1; /* masters: A side (server), B side (client) */
static char g_path_a[128], g_path_b[128];
static pthread_t g_relay;
static volatile int g_stop;
static volatile int g_corrupt_next; /* flip a bit in the next server -> client chunk */
static volatile int g_swallow;      /* drop server -> client bytes */

static int open_master(char *path, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) || unlockpt(m)) return -1;
    const char *p = ptsname(m);
    if (!p) return -1;
    snprintf(path, len, "%s", p);
    /* keep the slave side configured raw even before an endpoint opens it */
    int s = open(p, O_RDWR | O_NOCTTY);
    if (s >= 0) {
        struct termios t;
        tcgetattr(s, &t);
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
        close(s);
    }
    return m;
}

static void *relay_main(void *arg)
{
    (void)arg;
    uint8_t buf[512];
    while (!g_stop) {
        struct pollfd p[2] = {{g_ma, POLLIN, 0}, {g_mb, POLLIN, 0}};
        int r = poll(p, 2, 50);
        if (r <= 0) continue;
        int idle = 1;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & POLLIN)) continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0) continue;
            idle = 0;
            if (i == 0) { /* server -> client */
                if (g_swallow) continue;
                if (g_corrupt_next) {
                    buf[n - 1] ^= 0x01;
                    g_corrupt_next = 0;
                }
            }
            ssize_t w = write(i == 0 ? g_mb : g_ma, buf, (size_t)n);
            (void)w;
        }
        if (idle) usleep(2000); /* POLLHUP while a side is closed */
    }
    return NULL;
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
    ip.log_level = TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-rtu");
    snprintf(g_stats, sizeof g_stats, "%s/stats", g_dir);
    g_ma = open_master(g_path_a, sizeof g_path_a);
    g_mb = open_master(g_path_b, sizeof g_path_b);
    if (g_ma < 0 || g_mb < 0) return -1;
    pthread_create(&g_relay, NULL, relay_main, NULL);
    char *argv[] = {(char *)TW_MBSERVER, "--rtu", g_path_a, "--baud", "115200", "--parity", "E", "--unit", "17",
                    "--stats", g_stats, "--hole", "3000:3009", NULL};
    g_server = twt_spawn(argv, twt_path(7, g_dir, "server.log"));
    if (g_server <= 0) return -1;
    /* the server writes its stats file once it has set up its mapping */
    for (int i = 0; i < 250 && stat_count("total") < 0; i++) usleep(20000);
    usleep(100000);
    return stat_count("total") == 0 ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    if (g_server > 0) twt_stop(g_server);
    g_stop = 1;
    pthread_join(g_relay, NULL);
    close(g_ma);
    close(g_mb);
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static tw_device *open_rtu(const char *extra)
{
    char uri[256];
    snprintf(uri, sizeof uri, "modbus+rtu://%s?baud=115200&timeout=500%s", g_path_b, extra ? extra : "&unit=17");
    tw_device *d = NULL;
    if (tw_device_open(&d, uri, NULL) != TW_OK) fail_msg("open %s: %s", uri, tw_last_error());
    return d;
}

static uint32_t add(tw_device *d, const char *a)
{
    uint32_t id;
    if (tw_device_add_item(d, &id, a) != TW_OK) fail_msg("add %s: %s", a, tw_device_last_error(d));
    return id;
}

static void test_rtu_read_write(void **state)
{
    (void)state;
    tw_device *d = open_rtu(NULL);
    uint32_t ids[6] = {add(d, "holding-register:42"), add(d, "coil:6"), add(d, "discrete-input:7"),
                       add(d, "input-register:30101"), add(d, "holding-register:9002:FLOAT32:CDAB"),
                       add(d, "holding-register:9100:STRING[4]")};
    tw_sample s[6];
    tw_status st = tw_device_read(d, ids, 6, s);
    if (st != TW_OK) fail_msg("read: %s", tw_device_last_error(d));
    assert_int_equal(s[0].value.as.u, 42);
    assert_int_equal(s[1].value.as.b, 1);
    assert_int_equal(s[2].value.as.b, 1);
    assert_int_equal(s[3].value.as.u, 700);
    assert_true(s[4].value.as.f == 123.456f);
    assert_memory_equal(s[5].value.as.buf.ptr, "ABCD", 4);
    /* coalescing on the line too: 300 registers -> 3 requests */
    uint32_t many[300];
    char a[32];
    for (int i = 0; i < 300; i++) {
        snprintf(a, sizeof a, "hr:%d", i);
        many[i] = add(d, a);
    }
    tw_sample *ms = calloc(300, sizeof *ms);
    long before = stat_count("fc03");
    assert_int_equal(tw_device_read(d, many, 300, ms), TW_OK);
    assert_int_equal(stat_count("fc03") - before, 3);
    for (int i = 0; i < 300; i++) assert_int_equal(ms[i].value.as.u, (uint64_t)i);
    free(ms);
    /* writes: FC 6, 16, 5 */
    uint32_t w16 = add(d, "holding-register:5100"), w32 = add(d, "holding-register:5102:INT32:DCBA"), c = add(d, "coil:9005");
    tw_value v = {TW_TYPE_UINT16, {.u = 0xBEEF}};
    assert_int_equal(tw_device_write(d, w16, &v), TW_OK);
    v.type = TW_TYPE_INT32;
    v.as.i = -123456;
    assert_int_equal(tw_device_write(d, w32, &v), TW_OK);
    v.type = TW_TYPE_BOOL;
    v.as.b = 1;
    assert_int_equal(tw_device_write(d, c, &v), TW_OK);
    uint32_t back[3] = {w16, w32, c};
    assert_int_equal(tw_device_read(d, back, 3, s), TW_OK);
    assert_int_equal(s[0].value.as.u, 0xBEEF);
    assert_int_equal(s[1].value.as.i, -123456);
    assert_int_equal(s[2].value.as.b, 1);
    assert_true(stat_count("fc06") >= 1 && stat_count("fc10") >= 1 && stat_count("fc05") >= 1);
    /* exceptions over RTU */
    uint32_t hole = add(d, "holding-register:3004");
    assert_int_equal(tw_device_read(d, &hole, 1, s), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(s[0].quality, TW_QUALITY_BAD_CONFIG);
    tw_device_free(d);
}

static void test_rtu_errors(void **state)
{
    (void)state;
    /* a corrupted byte: CRC error, then the next read is fine */
    /* Linux quirk: re-applying PARENB to a pty slave that was opened before fails with EINVAL, so the
     * devices opened after the first one use parity N (a pty carries bytes regardless of parity) */
    tw_device *d = open_rtu("&unit=17&parity=N");
    uint32_t id = add(d, "holding-register:42");
    tw_sample s;
    tw_status rst;
    rst = tw_device_read(d, &id, 1, &s);
    if (rst != TW_OK) fail_msg("first read: %s: %s", tw_status_name(rst), tw_device_last_error(d));
    g_corrupt_next = 1;
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_CRC);
    assert_int_equal(s.quality, TW_QUALITY_BAD_COMM_FAILURE);
    assert_int_equal(s.value.as.u, 42); /* kept */
    assert_non_null(strstr(tw_device_last_error(d), "CRC"));
    usleep(50000);
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    assert_int_equal(s.quality, TW_QUALITY_GOOD);
    /* a bad frame in a read of several requests fails only that request's items */
    uint32_t many[300];
    char a[32];
    for (int i = 0; i < 300; i++) {
        snprintf(a, sizeof a, "hr:%d", i);
        many[i] = add(d, a);
    }
    tw_sample *ms = calloc(300, sizeof *ms);
    usleep(20000);
    g_corrupt_next = 1;
    assert_int_equal(tw_device_read(d, many, 300, ms), TW_ERR_CRC);
    int bad = 0, good = 0;
    for (int i = 0; i < 300; i++) {
        if (ms[i].quality == TW_QUALITY_GOOD) {
            good++;
            assert_int_equal(ms[i].value.as.u, (uint64_t)i);
        } else {
            bad++;
            assert_int_equal(ms[i].quality, TW_QUALITY_BAD_COMM_FAILURE);
        }
    }
    assert_int_equal(bad, 125); /* the first block (0..124) */
    assert_int_equal(good, 175);
    free(ms);
    /* a silent line: timeout, the port stays usable */
    g_swallow = 1;
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_TIMEOUT);
    assert_int_equal(s.quality, TW_QUALITY_BAD_TIMEOUT);
    g_swallow = 0;
    usleep(50000);
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    tw_device_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_DEVICE_STATS_VERSION;
    tw_device_stats_get(d, &st);
    assert_int_equal(st.timeouts, 1);
    assert_true(st.protocol_errors >= 1);
    tw_device_free(d);
    /* another unit does not answer (the server is unit 17) */
    d = open_rtu("&unit=18&parity=N&timeout=200");
    id = add(d, "holding-register:42");
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_TIMEOUT);
    tw_device_free(d);
    /* a path that is not there */
    assert_int_equal(tw_device_open(&d, "modbus+rtu:///dev/nonexistent-tty?baud=9600", NULL), TW_OK);
    id = add(d, "coil:1");
    assert_int_not_equal(tw_device_read(d, &id, 1, &s), TW_OK);
    assert_int_equal(s.quality, TW_QUALITY_BAD_NOT_CONNECTED);
    assert_non_null(strstr(tw_device_last_error(d), "/dev/nonexistent-tty"));
    tw_device_free(d);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rtu_read_write), cmocka_unit_test(test_rtu_errors)};
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
