/* Unit tests of the adapter layer: URIs, registry, custom adapters, last-value-kept, sim, poller. */
#include <math.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "tagwire/opcua.h"
#include "tagwire/sys/adapter.h"
#include "tagwire/sys/transport.h"
#include "twtest.h"

static int setup(void **state)
{
    (void)state;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.log_level = TW_LOG_ERROR;
    return tw_init(&p) == TW_OK ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

static void test_uri(void **state)
{
    (void)state;
    tw__uri u;
    char err[256];
    tw_adapter_uri pub;
    assert_int_equal(tw__uri_parse(&u, "Modbus+TCP://plc.local:1502?unit=3&max_gap=0", err, sizeof err), TW_OK);
    tw__uri_to_adapter(&u, &pub);
    assert_string_equal(u.scheme, "modbus+tcp");
    assert_string_equal(u.host, "plc.local");
    assert_int_equal(u.port, 1502);
    assert_string_equal(u.path, "");
    assert_int_equal(u.n, 2);
    assert_string_equal(tw_adapter_uri_param(&pub, "unit"), "3");
    assert_string_equal(tw_adapter_uri_param(&pub, "max_gap"), "0");
    assert_null(tw_adapter_uri_param(&pub, "x"));
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "modbus+rtu:///dev/tty%55SB0?baud=19200&parity=N&flag", err, sizeof err), TW_OK);
    tw__uri_to_adapter(&u, &pub);
    assert_string_equal(u.host, "");
    assert_string_equal(u.path, "/dev/ttyUSB0");
    assert_string_equal(tw_adapter_uri_param(&pub, "parity"), "N");
    assert_string_equal(tw_adapter_uri_param(&pub, "flag"), "");
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "modbus+tcp://[::1]:502", err, sizeof err), TW_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 502);
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "sim://", err, sizeof err), TW_OK);
    assert_string_equal(u.scheme, "sim");
    tw__uri_free(&u);
    const char *bad[] = {"plc:502", "://x", "a://h:0", "a://h:65536", "a://h:1x", "a://h:", "a://[::1", "a://[::1]x",
                         "a://h/%zz", "a://h?%=1", "a://h?k=%0", "1a://h", "a b://h"};
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        err[0] = 0;
        if (tw__uri_parse(&u, bad[i], err, sizeof err) != TW_ERR_PARSE) fail_msg("'%s' accepted", bad[i]);
        assert_true(strlen(err) > 0);
    }
}

static void test_open_errors(void **state)
{
    (void)state;
    tw_device *d = NULL;
    assert_int_equal(tw_device_open(&d, "nosuch://x", NULL), TW_ERR_NO_ADAPTER);
    assert_string_equal(tw_last_error(), "adapter: no adapter registered for scheme 'nosuch'");
    assert_int_equal(tw_last_error_status(), TW_ERR_NO_ADAPTER);
    assert_int_equal(tw_device_open(&d, "modbus+tcp://h?unit=300", NULL), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("adapter", "unit");
    assert_int_equal(tw_device_open(&d, "modbus+tcp://h?bogus=1", NULL), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("adapter", "bogus");
    assert_int_equal(tw_device_open(&d, "no scheme", NULL), TW_ERR_PARSE);
    TWT_ASSERT_LAST_ERROR("adapter", "has no scheme");
    assert_int_equal(tw_device_open(&d, "modbus+tcp://?unit=1", NULL), TW_ERR_CONFIG);
    assert_int_equal(tw_device_open(&d, "modbus+rtu:///dev/null?baud=1234", NULL), TW_ERR_CONFIG);
    assert_int_equal(tw_device_open(&d, "modbus+rtu:///dev/null?pipeline=2", NULL), TW_ERR_CONFIG);
    assert_int_equal(tw_device_open(&d, "modbus+rtu:///dev/null?unit=0", NULL), TW_ERR_CONFIG);
    assert_int_equal(tw_device_open(&d, "modbus+rtu:///dev/null?parity=X", NULL), TW_ERR_CONFIG);
    /* Modbus/TCP Security: needs trust anchors and a client certificate (or a secure transport) */
    assert_int_equal(tw_device_open(&d, "modbus+tls://h", NULL), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("adapter", "ca=FILE");
    /* an unreadable CA file: the parameter, the file and the reason */
    assert_int_equal(tw_device_open(&d, "modbus+tls://h?ca=/nonexistent/ca.pem&cert=/x.pem&key=/x.key", NULL),
                     TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("adapter", "/nonexistent/ca.pem");
    TWT_ASSERT_LAST_ERROR("adapter", "No such file or directory");
    tw_transport *t;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, NULL), TW_OK);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.transport = t;
    assert_int_equal(tw_device_open(&d, "modbus+tls://h", &o), TW_ERR_TLS_INSECURE);
    tw_transport_free(t); /* still ours after a failure */
    o.version = 99;
    assert_int_equal(tw_device_open(&d, "sim://", &o), TW_ERR_VERSION);
    assert_null(d);
    TWT_ASSERT_LAST_ERROR("adapter", "tw_device_options version 99");
    /* opening does not connect: a dead port opens fine, reads report not-connected */
    o = (tw_device_options)TW_DEVICE_OPTIONS_INIT;
    o.connect_timeout_ms = 500;
    o.reconnect_min_ms = 10000;
    char uri[64];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u", (unsigned)twt_free_port());
    assert_int_equal(tw_device_open(&d, uri, &o), TW_OK);
    assert_int_equal(tw_device_last_status(d), TW_OK);
    uint32_t id;
    assert_int_equal(tw_device_add_item(d, &id, "holding-register:1"), TW_OK);
    tw_sample s;
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_CONN_REFUSED);
    assert_int_equal(tw_device_last_status(d), TW_ERR_CONN_REFUSED);
    assert_int_equal(tw_device_last_status(NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(s.quality, TW_QUALITY_BAD_NOT_CONNECTED);
    assert_int_equal(s.value.type, TW_TYPE_NONE);
    /* within the back-off: no new attempt, answers at once */
    assert_int_equal(tw_device_read(d, &id, 1, &s), TW_ERR_CLOSED);
    assert_non_null(strstr(tw_device_last_error(d), "next attempt"));
    tw_device_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &st), TW_OK);
    assert_int_equal(st.connect_failures, 1);
    assert_int_equal(st.reads, 2);
    assert_int_equal(st.items_bad, 2);
    assert_int_equal(tw_device_add_item(d, &id, "holding-register:30001"), TW_ERR_ADDRESS);
    assert_non_null(strstr(tw_device_last_error(d), "input-register"));
    tw_device_free(d);
}

static void test_check_address(void **state)
{
    (void)state;
    tw_type t;
    char err[256];
    assert_int_equal(tw_adapter_check_address("modbus+tcp", "holding-register:40001:FLOAT32:CDAB", &t, err, sizeof err), TW_OK);
    assert_int_equal(t, TW_TYPE_FLOAT);
    assert_int_equal(tw_adapter_check_address("modbus+rtu:///dev/x", "coil:5", &t, err, sizeof err), TW_OK);
    assert_int_equal(t, TW_TYPE_BOOL);
    assert_int_equal(tw_adapter_check_address("modbus+tcp", "input-register:100:UINT16[10]", &t, err, sizeof err), TW_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "arrays"));
    assert_int_equal(tw_adapter_check_address("sim", "sine:period=10s,amplitude=5,offset=20", &t, err, sizeof err), TW_OK);
    assert_int_equal(t, TW_TYPE_DOUBLE);
    assert_int_equal(tw_adapter_check_address("sim", "sine:periode=1", &t, err, sizeof err), TW_ERR_ADDRESS);
    assert_non_null(strstr(err, "periode"));
    TWT_ASSERT_LAST_ERROR("adapter", err); /* recorded for the thread too, also without a buffer */
    assert_int_equal(tw_adapter_check_address("sim", "sine:periode=2", NULL, NULL, 0), TW_ERR_ADDRESS);
    TWT_ASSERT_LAST_ERROR("adapter", "periode=2");
    assert_int_equal(tw_adapter_check_address("nope", "x", &t, err, sizeof err), TW_ERR_NO_ADAPTER);
    char list[256];
    assert_true(tw_adapter_list(list, sizeof list) >= 4);
    assert_non_null(strstr(list, "modbus+tcp"));
    assert_non_null(strstr(list, "sim"));
}

/* ---- a vendor adapter registered from outside ---- */

typedef struct fake_ctx {
    int fail;        /* 1: return bad quality */
    int wrong_type;
    int sleep_ms;
    int reads;
} fake_ctx;

static tw_status fake_parse(void *rd, const char *address, void **item, tw_adapter_item_info *info, char *err, size_t errlen)
{
    (void)rd;
    if (strncmp(address, "reg", 3) != 0) {
        snprintf(err, errlen, "fake address '%s' must start with 'reg'", address);
        return TW_ERR_ADDRESS;
    }
    info->type = TW_TYPE_INT32;
    info->writable = 0;
    if (item) *item = (void *)(intptr_t)atoi(address + 3);
    return TW_OK;
}
static fake_ctx g_fake;
static tw_status fake_open(void *rd, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err, size_t errlen)
{
    (void)rd; (void)u; (void)o; (void)err; (void)errlen;
    *ctx = &g_fake;
    return TW_OK;
}
static void fake_close(void *ctx) { (void)ctx; }
static tw_status fake_read(void *ctx, void *const *items, size_t n, tw_adapter_result *r, char *err, size_t errlen)
{
    fake_ctx *c = ctx;
    c->reads++;
    if (c->sleep_ms) {
        struct timespec ts = {0, (long)c->sleep_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (c->fail) {
            r[i].quality = TW_QUALITY_BAD_COMM_FAILURE;
            continue;
        }
        r[i].value.type = c->wrong_type ? TW_TYPE_DOUBLE : TW_TYPE_INT32;
        r[i].value.as.i = (intptr_t)items[i] * 10 + c->reads;
        r[i].quality = TW_QUALITY_GOOD;
        r[i].timestamp_ns = 12345;
    }
    if (c->fail) {
        snprintf(err, errlen, "fake link down");
        return TW_ERR_CLOSED;
    }
    return TW_OK;
}
static const tw_adapter_ops k_fake = {TW_ADAPTER_OPS_VERSION, "acme", "test adapter", fake_parse, NULL, fake_open,
                                      fake_close, fake_read, NULL, NULL, NULL, NULL, NULL};

static void test_custom_adapter(void **state)
{
    (void)state;
    memset(&g_fake, 0, sizeof g_fake);
    assert_int_equal(tw_adapter_register(&k_fake, NULL), TW_OK);
    assert_int_equal(tw_adapter_register(&k_fake, NULL), TW_ERR_EXISTS);
    tw_adapter_ops bad = k_fake;
    bad.scheme = "Bad Scheme";
    assert_int_equal(tw_adapter_register(&bad, NULL), TW_ERR_INVALID_ARG);
    bad = k_fake;
    bad.read = NULL;
    assert_int_equal(tw_adapter_register(&bad, NULL), TW_ERR_INVALID_ARG);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, "acme://box", NULL), TW_OK);
    assert_string_equal(tw_device_scheme(d), "acme");
    uint32_t ids[2];
    assert_int_equal(tw_device_add_item(d, &ids[0], "reg4"), TW_OK);
    assert_int_equal(tw_device_add_item(d, &ids[1], "reg7"), TW_OK);
    assert_int_equal(tw_device_add_item(d, &ids[1], "xyz"), TW_ERR_ADDRESS);
    assert_non_null(strstr(tw_device_last_error(d), "must start with 'reg'"));
    tw_sample s[2];
    assert_int_equal(tw_device_read(d, ids, 2, s), TW_OK);
    assert_int_equal(s[0].value.as.i, 41);
    assert_int_equal(s[1].value.as.i, 71);
    assert_int_equal(s[0].timestamp_ns, 12345);
    /* failure: last value kept, quality bad, time of the failure */
    g_fake.fail = 1;
    assert_int_equal(tw_device_read(d, ids, 2, s), TW_ERR_CLOSED);
    assert_string_equal(tw_device_last_error(d), "fake link down");
    assert_int_equal(s[0].value.type, TW_TYPE_INT32);
    assert_int_equal(s[0].value.as.i, 41);
    assert_int_equal(s[0].quality, TW_QUALITY_BAD_COMM_FAILURE);
    assert_true(s[0].timestamp_ns > 12345);
    /* an adapter delivering the wrong type is caught */
    g_fake.fail = 0;
    g_fake.wrong_type = 1;
    assert_int_not_equal(tw_device_read(d, ids, 2, s), TW_OK);
    assert_int_equal(s[0].quality, TW_QUALITY_BAD_TYPE_MISMATCH);
    assert_int_equal(s[0].value.as.i, 41);
    g_fake.wrong_type = 0;
    tw_value v = {TW_TYPE_INT32, {.i = 1}};
    assert_int_equal(tw_device_write(d, ids[0], &v), TW_ERR_UNSUPPORTED);
    assert_int_equal(tw_device_subscribe(d, ids, 1, NULL, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_device_process(d), TW_ERR_UNSUPPORTED);
    int fds[2];
    unsigned ev[2];
    assert_int_equal(tw_device_fds(d, fds, ev, 2), 0);
    uint32_t bad_id = 99;
    assert_int_equal(tw_device_read(d, &bad_id, 1, s), TW_ERR_INVALID_ARG);
    tw_device_free(d);
    assert_int_equal(tw_adapter_unregister("acme"), TW_OK);
    assert_int_equal(tw_adapter_unregister("acme"), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_device_open(&d, "acme://box", NULL), TW_ERR_NO_ADAPTER);
}

/* ---- push: an adapter that delivers values through its own descriptor ---- */

typedef struct push_ctx {
    int pipe[2];
    tw_adapter_push_fn fn;
    void *push_data;
    size_t nsub;
} push_ctx;
static push_ctx g_push;

static tw_status push_open(void *rd, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err, size_t errlen)
{
    (void)rd; (void)u; (void)o; (void)err; (void)errlen;
    if (pipe(g_push.pipe) != 0) return TW_ERR_IO;
    *ctx = &g_push;
    return TW_OK;
}
static void push_close(void *ctx)
{
    push_ctx *p = ctx;
    close(p->pipe[0]);
    close(p->pipe[1]);
}
static tw_status push_subscribe(void *ctx, void *const *items, size_t n, tw_adapter_push_fn fn, void *pd, char *err, size_t errlen)
{
    (void)items; (void)err; (void)errlen;
    push_ctx *p = ctx;
    p->fn = fn;
    p->push_data = pd;
    p->nsub = n;
    return TW_OK;
}
static int push_fds(void *ctx, int *fds, unsigned *events, int max)
{
    (void)max;
    fds[0] = ((push_ctx *)ctx)->pipe[0];
    events[0] = TW_POLL_IN;
    return 1;
}
/* Each byte on the pipe: high nibble = subscribed index, low nibble = value; 0xFF = a bad sample. */
static tw_status push_process(void *ctx, char *err, size_t errlen)
{
    (void)err; (void)errlen;
    push_ctx *p = ctx;
    uint8_t b[16];
    ssize_t n = read(p->pipe[0], b, sizeof b);
    for (ssize_t i = 0; i < n; i++) {
        tw_adapter_result r;
        memset(&r, 0, sizeof r);
        if (b[i] == 0xFF) {
            r.quality = TW_QUALITY_BAD_COMM_FAILURE;
            p->fn(0, &r, p->push_data);
            continue;
        }
        r.value.type = TW_TYPE_INT32;
        r.value.as.i = b[i] & 0x0F;
        r.quality = TW_QUALITY_GOOD;
        p->fn((size_t)(b[i] >> 4), &r, p->push_data);
    }
    return TW_OK;
}
static const tw_adapter_ops k_pushy = {TW_ADAPTER_OPS_VERSION, "pushy", "push test adapter", fake_parse, NULL,
                                       push_open, push_close, fake_read, NULL, NULL, push_subscribe, push_fds,
                                       push_process};

static uint32_t g_got_id[8];
static tw_sample g_got[8];
static int g_ngot;
static void on_push(uint32_t id, const tw_sample *s, void *user)
{
    assert_ptr_equal(user, &g_ngot);
    if (g_ngot < 8) {
        g_got_id[g_ngot] = id;
        g_got[g_ngot] = *s;
    }
    g_ngot++;
}

static void test_push(void **state)
{
    (void)state;
    assert_int_equal(tw_adapter_register(&k_pushy, NULL), TW_OK);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, "pushy://x", NULL), TW_OK);
    uint32_t ids[3];
    for (int i = 0; i < 3; i++) assert_int_equal(tw_device_add_item(d, &ids[i], "reg1"), TW_OK);
    uint32_t sub[2] = {ids[2], ids[0]}; /* subscribed index 0 -> id 2, index 1 -> id 0 */
    assert_int_equal(tw_device_subscribe(d, sub, 2, on_push, &g_ngot), TW_OK);
    int fds[2];
    unsigned ev[2];
    assert_int_equal(tw_device_fds(d, fds, ev, 2), 1);
    assert_int_equal(ev[0], TW_POLL_IN);
    uint8_t msg[] = {0x05, 0x17, 0xFF};
    assert_int_equal(write(g_push.pipe[1], msg, sizeof msg), 3);
    struct pollfd pfd = {fds[0], POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    g_ngot = 0;
    assert_int_equal(tw_device_process(d), TW_OK);
    assert_int_equal(g_ngot, 3);
    assert_int_equal(g_got_id[0], ids[2]);
    assert_int_equal(g_got[0].value.as.i, 5);
    assert_int_equal(g_got[0].quality, TW_QUALITY_GOOD);
    assert_true(g_got[0].timestamp_ns > 0);
    assert_int_equal(g_got_id[1], ids[0]);
    assert_int_equal(g_got[1].value.as.i, 7);
    /* a bad pushed sample keeps the last value */
    assert_int_equal(g_got_id[2], ids[2]);
    assert_int_equal(g_got[2].quality, TW_QUALITY_BAD_COMM_FAILURE);
    assert_int_equal(g_got[2].value.type, TW_TYPE_INT32);
    assert_int_equal(g_got[2].value.as.i, 5);
    tw_device_free(d);
    assert_int_equal(tw_adapter_unregister("pushy"), TW_OK);
}

/* ---- simulator ---- */

static void test_sim(void **state)
{
    (void)state;
    tw_device *d;
    assert_int_equal(tw_device_open(&d, "sim://?clock=virtual&tick=250ms", NULL), TW_OK);
    uint32_t ids[7];
    const char *addrs[] = {"sine:period=1s,amplitude=5,offset=20", "ramp:period=1s,min=0,max=100",
                           "step:period=1s,low=-1,high=1", "random:seed=42,step=0.5,min=0,max=100",
                           "counter:start=10,step=5,max=20", "const:value=3.5", "memory"};
    for (int i = 0; i < 7; i++) assert_int_equal(tw_device_add_item(d, &ids[i], addrs[i]), TW_OK);
    assert_int_equal(tw_device_item_type(d, ids[4]), TW_TYPE_INT64);
    double sine[5], ramp[5], step[5], rnd[5];
    int64_t ctr[5];
    tw_sample s[7];
    for (int k = 0; k < 5; k++) {
        assert_int_equal(tw_device_read(d, ids, 7, s), TW_OK);
        sine[k] = s[0].value.as.d;
        ramp[k] = s[1].value.as.d;
        step[k] = s[2].value.as.d;
        rnd[k] = s[3].value.as.d;
        ctr[k] = s[4].value.as.i;
        assert_true(s[5].value.as.d == 3.5);
    }
    /* t = 0, 0.25, 0.5, 0.75, 1.0 s */
    assert_true(fabs(sine[0] - 20) < 1e-9 && fabs(sine[1] - 25) < 1e-9 && fabs(sine[2] - 20) < 1e-9 &&
                fabs(sine[3] - 15) < 1e-9 && fabs(sine[4] - 20) < 1e-9);
    assert_true(ramp[0] == 0 && ramp[1] == 25 && ramp[2] == 50 && ramp[3] == 75 && ramp[4] == 0);
    assert_true(step[0] == 1 && step[1] == 1 && step[2] == -1 && step[3] == -1 && step[4] == 1);
    assert_true(ctr[0] == 10 && ctr[1] == 15 && ctr[2] == 20 && ctr[3] == 10 && ctr[4] == 15);
    assert_true(rnd[0] == 0);
    for (int k = 1; k < 5; k++) assert_true(fabs(rnd[k] - rnd[k - 1]) <= 0.5 && rnd[k] >= 0);
    /* the same seed gives the same walk on another device */
    tw_device *d2;
    assert_int_equal(tw_device_open(&d2, "sim://", NULL), TW_OK);
    uint32_t r2;
    assert_int_equal(tw_device_add_item(d2, &r2, "random:seed=42,step=0.5,min=0,max=100"), TW_OK);
    for (int k = 0; k < 5; k++) {
        tw_sample x;
        assert_int_equal(tw_device_read(d2, &r2, 1, &x), TW_OK);
        assert_true(x.value.as.d == rnd[k]);
    }
    tw_device_free(d2);
    tw_value v = {TW_TYPE_INT16, {.i = -7}};
    assert_int_equal(tw_device_write(d, ids[6], &v), TW_OK);
    assert_int_equal(tw_device_read(d, &ids[6], 1, s), TW_OK);
    assert_true(s[0].value.as.d == -7.0);
    assert_int_equal(tw_device_write(d, ids[0], &v), TW_ERR_UNSUPPORTED);
    const char *bad[] = {"", "cosine", "sine:period=0", "sine:period=abc", "sine:amplitude", "sine:min=1",
                         "ramp:min=5,max=5", "counter:step=0.5", "step:duty=2", "sine:period=1s,", "sine:"};
    uint32_t id;
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++)
        if (tw_device_add_item(d, &id, bad[i]) != TW_ERR_ADDRESS) fail_msg("sim accepted '%s'", bad[i]);
    tw_device_free(d);
    assert_int_equal(tw_device_open(&d, "sim://?clock=warp", NULL), TW_ERR_CONFIG);
    assert_int_equal(tw_device_open(&d, "sim://?speed=2", NULL), TW_ERR_CONFIG);
}

/* ---- poll scheduler ---- */

static int g_cb_count;
static void on_cycle(uint32_t group, const uint32_t *ids, const tw_sample *samples, size_t n, void *user)
{
    (void)group; (void)ids; (void)samples;
    assert_int_equal(n, 2);
    g_cb_count++;
    (void)user;
}

static void test_poller_rate(void **state)
{
    (void)state;
    tw_device *d;
    assert_int_equal(tw_device_open(&d, "sim://", NULL), TW_OK);
    uint32_t ids[2];
    tw_device_add_item(d, &ids[0], "sine");
    tw_device_add_item(d, &ids[1], "counter");
    tw_poller *p;
    assert_int_equal(tw_poller_new(&p), TW_OK);
    uint32_t g;
    assert_int_equal(tw_poller_add_group(p, &g, d, 0, ids, 2, on_cycle, NULL), TW_ERR_INVALID_ARG);
    uint32_t bad = 5;
    assert_int_equal(tw_poller_add_group(p, &g, d, 10, &bad, 1, on_cycle, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_poller_add_group(p, &g, d, 40, ids, 2, on_cycle, NULL), TW_OK);
    g_cb_count = 0;
    int64_t t0 = tw__mono_ms();
    while (tw__mono_ms() - t0 < 400) tw_poller_step(p, 50);
    int64_t elapsed = tw__mono_ms() - t0;
    /* cycles due at 0, 40, ..., 360 are all accounted for (run or skipped); not more than the
     * elapsed time allows (the last step may have overrun 400 ms on a loaded machine) */
    tw_poll_group_stats gs;
    memset(&gs, 0, sizeof gs);
    gs.version = TW_POLL_GROUP_STATS_VERSION;
    assert_int_equal(tw_poller_group_stats_get(p, g, &gs), TW_OK);
    assert_int_equal((int)gs.cycles, g_cb_count);
    assert_true(gs.cycles + gs.skipped >= 9);
    assert_true(gs.cycles + gs.skipped <= (uint64_t)(elapsed / 40 + 1));
    assert_int_equal(gs.rate_ms, 40);
    assert_int_equal(gs.failed_cycles, 0);
    assert_true(tw_poller_next_due_ms(p) <= 40);
    tw_poller_free(p);
    tw_device_free(d);
}

static void test_poller_slow_device(void **state)
{
    (void)state;
    memset(&g_fake, 0, sizeof g_fake);
    assert_int_equal(tw_adapter_register(&k_fake, NULL), TW_OK);
    tw_device *d;
    assert_int_equal(tw_device_open(&d, "acme://slow", NULL), TW_OK);
    uint32_t ids[2];
    tw_device_add_item(d, &ids[0], "reg1");
    tw_device_add_item(d, &ids[1], "reg2");
    g_fake.sleep_ms = 70; /* each read takes more than three periods */
    tw_poller *p;
    assert_int_equal(tw_poller_new(&p), TW_OK);
    uint32_t g;
    assert_int_equal(tw_poller_add_group(p, &g, d, 20, ids, 2, NULL, NULL), TW_OK);
    int64_t t0 = tw__mono_ms();
    int steps = 0;
    while (tw__mono_ms() - t0 < 500) {
        tw_poller_step(p, 100);
        steps++;
    }
    int64_t elapsed = tw__mono_ms() - t0;
    tw_poll_group_stats gs;
    memset(&gs, 0, sizeof gs);
    gs.version = TW_POLL_GROUP_STATS_VERSION;
    assert_int_equal(tw_poller_group_stats_get(p, g, &gs), TW_OK);
    /* no pile-up: never more reads than the device can serve, every overrun skips >= 3 cycles */
    assert_true(gs.cycles >= 1 && gs.cycles <= (uint64_t)(elapsed / 70 + 1));
    assert_int_equal((uint64_t)g_fake.reads, gs.cycles);
    assert_true(gs.skipped >= 3 * (gs.cycles - 1));
    assert_true(gs.last_duration_ns >= 70000000);
    assert_true(gs.mean_duration_ns >= 70000000);
    assert_true(gs.max_duration_ns >= gs.mean_duration_ns);
    /* a slow device's cycles still start close to their due times (no backlog) */
    /* with a backlog lateness grows by ~50 ms per cycle; without, it stays within about one read */
    assert_true(gs.max_lateness_ns < gs.max_duration_ns + 100000000);
    /* failing cycles are counted */
    g_fake.sleep_ms = 0;
    g_fake.fail = 1;
    tw_poller_step(p, 100);
    tw_poller_step(p, 100);
    tw_poll_group_stats gs2;
    memset(&gs2, 0, sizeof gs2);
    gs2.version = TW_POLL_GROUP_STATS_VERSION;
    tw_poller_group_stats_get(p, g, &gs2);
    assert_true(gs2.failed_cycles >= 1);
    assert_true(gs2.items_bad >= 2);
    tw_poller_free(p);
    tw_device_free(d);
    tw_adapter_unregister("acme");
}

static void on_browse_ref(const tw_opcua_ref *ref, void *user_data)
{
    (void)ref;
    (void)user_data;
}

/* tw_opcua_browse() has no handle: its detail is the thread's last error */
static void test_browse_errors(void **state)
{
    (void)state;
    assert_int_equal(tw_opcua_browse("sim://x", NULL, 100, on_browse_ref, NULL), TW_ERR_INVALID_ARG);
    TWT_ASSERT_LAST_ERROR("opcua", "browse needs an opcua:// URI");
    assert_int_equal(tw_opcua_browse("opcua://127.0.0.1:4840?security=bogus", NULL, 100, on_browse_ref, NULL),
                     TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("opcua", "bogus");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri),           cmocka_unit_test(test_open_errors), cmocka_unit_test(test_check_address),
        cmocka_unit_test(test_custom_adapter), cmocka_unit_test(test_push), cmocka_unit_test(test_sim),        cmocka_unit_test(test_poller_rate),
        cmocka_unit_test(test_poller_slow_device), cmocka_unit_test(test_browse_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
