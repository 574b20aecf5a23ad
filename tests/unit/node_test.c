/* Unit tests of the node: options, devices and tags, configuration errors with file and JSON path
 * (exact messages), adapter values into tags (scaling, quality), writes to devices, step mode
 * without a broker, statistics, state rules, and the certificate renewal options (the "enroll"
 * config section; renewal itself is tested end to end in tests/node/renew.sh). No broker is needed here: the uplink points at a
 * closed port (the end-to-end tests in tests/node/ use a real one). */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/node.h"

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-node-unit");
    return g_dir && twt_make_pki(g_dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

/* A plaintext node aimed at a port where nothing listens (the uplink keeps reconnecting). */
static tw_node *offline_node(tw_node_poll_mode mode)
{
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    char broker[64];
    snprintf(broker, sizeof broker, "mqtt://127.0.0.1:%u", (unsigned)twt_free_port());
    o.group_id = "G";
    o.edge_node_id = "E";
    o.broker = broker;
    o.insecure = 1;
    o.poll_threads = mode;
    o.shutdown_timeout_ms = 200;
    tw_node *n = NULL;
    tw_status st = tw_node_new(&n, &o);
    if (st) fail_msg("tw_node_new: %s", tw_last_error());
    return n;
}

/* tw_node_new() / tw_node_new_from_config() with the failure's detail (tw_last_error() without its
 * "node: " prefix) copied into err */
static tw_status node_detail(tw_status st, char *err, size_t errlen)
{
    const char *m = st != TW_OK ? tw_last_error() : "";
    if (st != TW_OK && strncmp(m, "node: ", 6) != 0) fail_msg("tw_last_error() \"%s\" lacks \"node: \"", m);
    snprintf(err, errlen, "%s", st != TW_OK ? m + 6 : "");
    return st;
}
static tw_status node_new_err(tw_node **n, const tw_node_options *o, char *err, size_t errlen)
{
    tw_last_error_clear();
    return node_detail(tw_node_new(n, o), err, errlen);
}
static tw_status node_from_config_err(tw_node **n, const tw_config *cfg, char *err, size_t errlen)
{
    tw_last_error_clear();
    return node_detail(tw_node_new_from_config(n, cfg), err, errlen);
}

static void test_options(void **state)
{
    (void)state;
    tw_node *n = NULL;
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    assert_int_equal(tw_node_new(&n, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: group_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
    o.group_id = "G";
    o.edge_node_id = "E/1";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: edge_node_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
    o.edge_node_id = "E";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: a broker URI is required");
    o.broker = "tcp://x:1";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: broker 'tcp://x:1': the scheme must be mqtts:// (or mqtt:// with insecure)");
    o.broker = "mqtt://x:1";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_TLS_INSECURE);
    assert_string_equal(tw_last_error(), "node: broker 'mqtt://x:1': plaintext mqtt:// needs the insecure option");
    o.broker = "mqtts://x:99999";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: broker 'mqtts://x:99999': bad port");
    o.broker = "mqtts://x";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_last_error(), "node: mqtts:// needs a CA file, a certificate and a key (or a tw_tls_config)");
    o.tls_ca_file = twt_path(0, g_dir, "nonexistent.pem");
    o.tls_cert_file = twt_path(1, g_dir, "client.pem");
    o.tls_key_file = twt_path(2, g_dir, "client.key");
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("node", "TLS CA file");
    TWT_ASSERT_LAST_ERROR("node", "nonexistent.pem: No such file or directory");
    o.tls_ca_file = twt_path(0, g_dir, "ca.pem");
    /* a store directory that cannot be created: the option, the directory and the reason */
    o.insecure = 1;
    o.broker = "mqtt://127.0.0.1:1";
    const char *bad_store = twt_path(3, g_dir, "ca.pem/spool"); /* below a regular file */
    o.store_dir = bad_store;
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_IO);
    assert_null(n);
    TWT_ASSERT_LAST_ERROR("node", "store: dir '");
    TWT_ASSERT_LAST_ERROR("node", bad_store);
    TWT_ASSERT_LAST_ERROR("node", "cannot create: Not a directory");
    o.insecure = 0;
    o.broker = "mqtts://x";
    o.store_dir = "/tmp";
    o.state_dir = "/tmp";
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_INVALID_ARG);
    assert_non_null(strstr(tw_last_error(), "exclude each other"));
    o.state_dir = NULL;
    o.store_dir = NULL;
    o.version = 99;
    assert_int_equal(tw_node_new(&n, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("node", "tw_node_options version 99");
    o.version = TW_NODE_OPTIONS_VERSION;
    assert_int_equal(tw_node_new(&n, &o), TW_OK);
    assert_string_equal(tw_node_group_id(n), "G");
    assert_string_equal(tw_node_edge_node_id(n), "E");
    tw_node_free(n);
}

static void test_devices_and_tags(void **state)
{
    (void)state;
    tw_node *n = offline_node(TW_NODE_POLL_INLINE);
    tw_node_device *pushed, *sim, *x;
    assert_int_equal(tw_node_add_device(n, &pushed, "Pushed", NULL), TW_OK);
    assert_int_equal(tw_node_last_status(n), TW_OK);
    assert_int_equal(tw_node_add_device(n, &x, "Pushed", NULL), TW_ERR_EXISTS);
    assert_string_equal(tw_node_last_error(n), "device 'Pushed' exists already");
    assert_int_equal(tw_node_last_status(n), TW_ERR_EXISTS);
    assert_string_equal(tw_last_error(), "node: device 'Pushed' exists already");
    assert_int_equal(tw_node_add_device(n, &x, "a+b", NULL), TW_ERR_INVALID_ARG);
    tw_node_device_options d = TW_NODE_DEVICE_OPTIONS_INIT;
    d.adapter_uri = "nope://";
    assert_int_equal(tw_node_add_device(n, &x, "Bad", &d), TW_ERR_NO_ADAPTER);
    assert_string_equal(tw_node_last_error(n), "device 'Bad': adapter 'nope://': no adapter registered for scheme 'nope'");
    assert_int_equal(tw_node_last_status(n), TW_ERR_NO_ADAPTER);
    TWT_ASSERT_LAST_ERROR("node", "no adapter registered for scheme 'nope'");
    assert_int_equal(tw_node_last_status(NULL), TW_ERR_INVALID_ARG);
    d.adapter_uri = "sim://";
    assert_int_equal(tw_node_add_device(n, &sim, "Sim", &d), TW_OK);
    assert_int_equal(tw_node_device_count(n), 2);
    assert_ptr_equal(tw_node_find_device(n, "Sim"), sim);
    assert_ptr_equal(tw_node_device_at(n, 0), pushed);
    assert_null(tw_node_find_device(n, "Nope"));
    assert_string_equal(tw_node_device_id(sim), "Sim");
    assert_non_null(tw_node_device_adapter(sim));
    assert_null(tw_node_device_adapter(pushed));

    tw_tag *t;
    assert_int_equal(tw_node_device_add_tag(pushed, &t, "A", TW_TYPE_DOUBLE, NULL, "const:value=1", 100), TW_ERR_INVALID_ARG);
    assert_string_equal(tw_node_last_error(n), "tag 'A': an address needs a device with an adapter ('Pushed' has none)");
    assert_int_equal(tw_node_device_add_tag(sim, &t, "A", TW_TYPE_DOUBLE, NULL, NULL, 100), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_node_device_add_tag(sim, &t, "A", TW_TYPE_DOUBLE, NULL, "sine:periodd=1", 100), TW_ERR_ADDRESS);
    assert_string_equal(tw_node_last_error(n), "tag 'A': sim address 'sine:periodd=1': 'periodd' is not a parameter of "
                                               "sine (parameters: period,amplitude,offset,phase)");
    assert_int_equal(tw_node_device_add_tag(pushed, &t, "A", TW_TYPE_DOUBLE, NULL, NULL, 0), TW_OK);
    assert_ptr_equal(tw_tagset_find(tw_node_device_tagset(pushed), "A"), t);
    assert_int_equal(tw_node_device_add_tag(pushed, &t, "A", TW_TYPE_DOUBLE, NULL, NULL, 0), TW_ERR_EXISTS);
    assert_int_equal(tw_node_add_tag(n, &t, "Node/T", TW_TYPE_INT32, NULL), TW_OK);
    assert_ptr_equal(tw_tagset_find(tw_node_tagset(n), "Node/T"), t);
    assert_int_equal(tw_node_add_tag(n, &t, "/bad", TW_TYPE_INT32, NULL), TW_ERR_PARSE);

    /* once running, the shape is fixed (Sparkplug births describe it) */
    tw_node_step(n, 0);
    assert_int_equal(tw_node_add_tag(n, &t, "Late", TW_TYPE_INT32, NULL), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_add_device(n, &x, "Late", NULL), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_device_add_tag(pushed, &t, "Late", TW_TYPE_INT32, NULL, NULL, 0), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_start(n), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_stop(n), TW_ERR_NODE_STATE);
    tw_node_free(n);
}

/* Adapter polls in step mode (inline) and on poll threads: values, scaling, quality, writes. */
static void run_adapter_values(tw_node_poll_mode mode, int threaded)
{
    tw_node *n = offline_node(mode);
    tw_node_device *sim;
    tw_node_device_options d = TW_NODE_DEVICE_OPTIONS_INIT;
    d.adapter_uri = "sim://";
    assert_int_equal(tw_node_add_device(n, &sim, "Sim", &d), TW_OK);
    tw_tag *scaled, *plain, *mem, *counter;
    tw_tag_options so = TW_TAG_OPTIONS_INIT;
    so.scale = 0.15; /* raw 100 -> 15 */
    assert_int_equal(tw_node_device_add_tag(sim, &scaled, "Scaled", TW_TYPE_DOUBLE, &so, "const:value=100", 20), TW_OK);
    assert_int_equal(tw_node_device_add_tag(sim, &plain, "Plain", TW_TYPE_INT32, NULL, "const:value=-7", 20), TW_OK);
    tw_tag_options mo = TW_TAG_OPTIONS_INIT;
    mo.scale = 0.5;
    mo.offset = 10;
    mo.access = TW_ACCESS_READ_WRITE;
    assert_int_equal(tw_node_device_add_tag(sim, &mem, "Mem", TW_TYPE_DOUBLE, &mo, "memory:value=4", 20), TW_OK);
    assert_int_equal(tw_node_device_add_tag(sim, &counter, "Count", TW_TYPE_UINT8, NULL, "counter:start=250,step=3", 20),
                     TW_OK);
    if (threaded) assert_int_equal(tw_node_start(n), TW_OK);
    double v;
    tw_quality q = TW_QUALITY_BAD;
    for (int i = 0; i < 200; i++) {
        if (threaded) usleep(10000);
        else tw_node_step(n, 10);
        if (tw_tag_get_double(mem, &v, &q, NULL) == TW_OK && q == TW_QUALITY_GOOD) break;
    }
    assert_int_equal(tw_tag_get_double(scaled, &v, &q, NULL), TW_OK);
    assert_int_equal(q, TW_QUALITY_GOOD);
    assert_true(v == 15.0);
    assert_int_equal(tw_tag_get_double(plain, &v, &q, NULL), TW_OK);
    assert_true(v == -7.0);
    assert_int_equal(tw_tag_get_double(mem, &v, &q, NULL), TW_OK);
    assert_true(v == 12.0); /* 4 * 0.5 + 10 */
    /* the counter runs past the tag's range (uint8): out of range, the last value is kept */
    int saw_bad = 0;
    for (int i = 0; i < 300 && !saw_bad; i++) {
        if (threaded) usleep(10000);
        else tw_node_step(n, 10);
        tw_tag_get_double(counter, &v, &q, NULL);
        if (q == TW_QUALITY_BAD_OUT_OF_RANGE) saw_bad = 1;
    }
    assert_true(saw_bad);
    assert_true(v >= 250 && v <= 255);

    if (!threaded) {
        /* a command: engineering 20 -> raw (20 - 10) / 0.5 = 20 written to the device */
        tw_value w = {TW_TYPE_DOUBLE, {.d = 20.0}};
        assert_int_equal(tw_tag_write(mem, &w), TW_OK);
        tw_value ro = {TW_TYPE_INT32, {.i = 1}};
        assert_int_equal(tw_tag_write(plain, &ro), TW_ERR_PERMISSION);
        if (mode != TW_NODE_POLL_THREADS) { /* with a poll thread the device is not ours to read */
            tw_device *dev = tw_node_device_adapter(sim);
            tw_sample s;
            uint32_t id = 2; /* Mem is the third item */
            assert_int_equal(tw_device_read(dev, &id, 1, &s), TW_OK);
            assert_true(s.value.as.d == 20.0);
        }
        /* the next poll reads it back (a poll thread may need a while on a loaded machine) */
        for (int64_t end = tw__mono_ms() + 10000; tw__mono_ms() < end;) {
            tw_node_step(n, 10);
            if (tw_tag_get_double(mem, &v, &q, NULL) == TW_OK && v == 20.0) break;
        }
        assert_int_equal(tw_tag_get_double(mem, &v, &q, NULL), TW_OK);
        assert_true(v == 20.0);
    }

    tw_node_stats st;
    st.version = 0;
    assert_int_equal(tw_node_stats_get(n, &st), TW_ERR_VERSION);
    st.version = TW_NODE_STATS_VERSION;
    assert_int_equal(tw_node_stats_get(n, &st), TW_OK);
    assert_true(st.polls >= 3);
    assert_true(st.adapter_requests >= 3);
    assert_true(st.link != TW_NODE_LINK_ONLINE); /* nothing listens */
    assert_int_equal(st.messages_published, 0);
    if (!threaded) {
        assert_int_equal(st.device_writes, 1);
        assert_int_equal(st.device_write_errors, 0);
    }
    if (threaded) {
        /* nothing can be flushed: the stop is bounded and says so */
        int64_t t0 = tw__mono_ms();
        assert_int_equal(tw_node_stop(n), TW_ERR_TIMEOUT);
        assert_true(tw__mono_ms() - t0 < 2000);
        st.version = TW_NODE_STATS_VERSION;
        tw_node_stats_get(n, &st);
        assert_true(st.unflushed_metrics > 0);
        assert_int_equal(st.link, TW_NODE_LINK_OFFLINE);
    }
    tw_node_free(n);
}

static void test_adapter_values_step(void **state)
{
    (void)state;
    run_adapter_values(TW_NODE_POLL_AUTO, 0);
}

static void test_adapter_values_poll_threads_in_step_mode(void **state)
{
    (void)state;
    run_adapter_values(TW_NODE_POLL_THREADS, 0);
}

static void test_adapter_values_threaded(void **state)
{
    (void)state;
    run_adapter_values(TW_NODE_POLL_AUTO, 1);
}

static void test_event_loop_api(void **state)
{
    (void)state;
    tw_node *n = offline_node(TW_NODE_POLL_INLINE);
    tw_tag *t;
    assert_int_equal(tw_node_add_tag(n, &t, "X", TW_TYPE_DOUBLE, NULL), TW_OK);
    int fds[4];
    unsigned ev[4];
    int k = tw_node_fds(n, fds, ev, 4);
    assert_true(k >= 1);
    int to = tw_node_timeout_ms(n);
    assert_true(to >= 0 && to <= 1000);
    tw_node_step(n, 0); /* returns the uplink's error: nothing listens */
    /* a value set from this thread wakes the node's descriptor */
    tw_tag_set_double(t, 1.0, TW_QUALITY_GOOD, 0);
    struct pollfd pf = {fds[k - 1], POLLIN, 0};
    assert_int_equal(poll(&pf, 1, 0), 1);
    tw_node_stats st;
    st.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(n, &st);
    assert_int_equal(st.queue_depth, 1);
    assert_int_equal(tw_node_flush(n, 100), TW_ERR_TIMEOUT); /* offline: nothing can go out */
    assert_int_equal(tw_node_shutdown(n), TW_ERR_TIMEOUT);
    tw_node_stats_get(n, &st);
    assert_int_equal(st.unflushed_metrics, 1);
    tw_node_free(n);
}

/* ---- configuration: node-level errors name the file and the JSON path --------------------------- */

typedef struct bad_case {
    const char *device; /* JSON members of devices[0] */
    const char *ca;     /* tls.ca */
    tw_status status;
    const char *message;
} bad_case;

static void test_config_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"'adapter': 'sim://', 'tags': [ { 'name': 'a', 'address': 'sine:periodd=1', 'type': 'double' } ]", "ca.pem",
         TW_ERR_ADDRESS,
         "gw.json: $.devices[0].tags[0].address: sim address 'sine:periodd=1': 'periodd' is not a parameter of sine "
         "(parameters: period,amplitude,offset,phase)"},
        {"'adapter': 'sim://', 'tags': [ { 'name': 'a', 'address': 'const', 'type': 'double' }, "
         "{ 'name': 'b', 'address': 'wave', 'type': 'double' } ]",
         "ca.pem", TW_ERR_ADDRESS,
         "gw.json: $.devices[0].tags[1].address: sim address 'wave': unknown signal 'wave' (expected sine, ramp, step, "
         "random, counter, const or memory)"},
        {"'adapter': 'modbus+tcp://127.0.0.1:502', 'tags': [ { 'name': 'a', 'address': 'holding-register:30001', "
         "'type': 'uint16' } ]",
         "ca.pem", TW_ERR_ADDRESS,
         "gw.json: $.devices[0].tags[0].address: address 'holding-register:30001': 30001 is a 5-digit reference of "
         "input-register (3xxxx), not of holding-register (4xxxx); for a zero-based offset of 10000 or more write it in "
         "hex (0x...)"},
        {"'adapter': 'modbus+tcp://127.0.0.1:502', 'tags': [ { 'name': 'a', 'address': 'input-register:100:UINT16[10]', "
         "'type': 'uint16' } ]",
         "ca.pem", TW_ERR_UNSUPPORTED,
         "gw.json: $.devices[0].tags[0].address: address 'input-register:100:UINT16[10]': arrays (UINT16[10]) are not "
         "supported yet; add one item per element"},
        {"'adapter': 'modbus+tcp://127.0.0.1:502', 'tags': [ { 'name': 'a', 'address': 'coil:1', 'type': 'bool' }, "
         "{ 'name': 'b', 'address': 'hr:1:FLOAT32:XYZW', 'type': 'float' } ]",
         "ca.pem", TW_ERR_ADDRESS,
         "gw.json: $.devices[0].tags[1].address: address 'hr:1:FLOAT32:XYZW': unknown byte order 'XYZW' (expected "
         "ABCD, CDAB, BADC or DCBA)"},
        {"'adapter': 'modbus+tcp://127.0.0.1:502?bogus=1', 'tags': [ { 'name': 'a', 'address': 'hr:1', 'type': 'uint16' } ]",
         "ca.pem", TW_ERR_CONFIG,
         "gw.json: $.devices[0].adapter: device 'D': adapter 'modbus+tcp://127.0.0.1:502?bogus=1': unknown URI parameter "
         "'bogus' for modbus+tcp (known: unit, timeout, connect_timeout, max_gap, max_bit_gap, max_regs, max_bits, "
         "pipeline, single_write)"},
        {"'adapter': 'opcx://127.0.0.1:502', 'tags': [ { 'name': 'a', 'address': 'hr:1', 'type': 'uint16' } ]", "ca.pem",
         TW_ERR_NO_ADAPTER,
         "gw.json: $.devices[0].adapter: device 'D': adapter 'opcx://127.0.0.1:502': no adapter registered for scheme 'opcx'"},
        {"'adapter': 'modbus+rtu://', 'tags': [ { 'name': 'a', 'address': 'hr:1', 'type': 'uint16' } ]", "ca.pem",
         TW_ERR_CONFIG,
         "gw.json: $.devices[0].adapter: device 'D': adapter 'modbus+rtu://': modbus+rtu needs a device path: "
         "modbus+rtu:///dev/ttyUSB0?baud=19200"},
        {"'adapter': 'sim://', 'tags': [ { 'name': 'a', 'address': 'const', 'type': 'double' } ]", "missing.pem",
         TW_ERR_NOT_FOUND, NULL /* names the resolved path: checked by prefix below */},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[2048];
        snprintf(json, sizeof json,
                 "{ 'node': { 'group_id': 'G', 'edge_node_id': 'E' }, 'uplink': { 'broker': 'mqtts://127.0.0.1:1', "
                 "'tls': { 'ca': '%s', 'cert': 'client.pem', 'key': 'client.key' } }, "
                 "'devices': [ { 'id': 'D', %s } ] }",
                 cases[i].ca, cases[i].device);
        for (char *p = json; *p; p++)
            if (*p == '\'') *p = '"';
        tw_config *cfg;
        assert_int_equal(tw_config_new(&cfg), TW_OK);
        tw_status st = tw_config_load_string(cfg, json, strlen(json), "gw.json", g_dir);
        if (st) {
            /* address and scheme mistakes are caught by the loader already, at the same JSON path */
            const char *msg = tw_config_last_error(cfg);
            const char *path_end = cases[i].message ? strstr(cases[i].message + 9, ": ") : NULL;
            if (st != TW_ERR_CONFIG || !path_end || strncmp(msg, cases[i].message, (size_t)(path_end - cases[i].message) + 2))
                fail_msg("case %zu: config: %s", i, msg);
            tw_config_free(cfg);
            continue;
        }
        tw_node *n = NULL;
        st = tw_node_new_from_config(&n, cfg);
        if (st != cases[i].status) fail_msg("case %zu: %s, expected %s (%s)", i, tw_status_name(st),
                                            tw_status_name(cases[i].status), tw_last_error());
        assert_null(n);
        if (cases[i].message) {
            char want[1100];
            snprintf(want, sizeof want, "node: %s", cases[i].message);
            if (strcmp(tw_last_error(), want)) fail_msg("case %zu:\n got      %s\n expected %s", i, tw_last_error(), want);
        } else {
            char want[600];
            snprintf(want, sizeof want, "node: gw.json: $.uplink.tls.ca: CA file '%s/missing.pem': cannot open", g_dir);
            if (strncmp(tw_last_error(), want, strlen(want))) fail_msg("case %zu: got %s", i, tw_last_error());
        }
        tw_config_free(cfg);
    }
}

static void test_config_maps_everything(void **state)
{
    (void)state;
    const char *json =
        "{ 'node': { 'group_id': 'PlantA', 'edge_node_id': 'Press7' },"
        "  'uplink': { 'broker': 'mqtt://127.0.0.1:1', 'insecure': true },"
        "  'devices': ["
        "    { 'id': 'App', 'tags': [ { 'name': 'Pushed/Temp', 'type': 'float', 'unit': 'degC',"
        "        'description': 'pushed', 'min': 0, 'max': 200, 'deadband_percent': 1 } ] },"
        "    { 'id': 'Sim', 'adapter': 'sim://', 'scan_groups': [ { 'name': 'f', 'rate_ms': 10 } ],"
        "      'tags': [ { 'name': 'S', 'address': 'const:value=1000', 'type': 'double',"
        "        'scaling': { 'raw_min': 0, 'raw_max': 10000, 'eng_min': 0, 'eng_max': 1500 }, 'deadband': 0.5 },"
        "        { 'name': 'W', 'address': 'memory', 'type': 'double', 'access': 'write' },"
        "        { 'name': 'RW', 'address': 'memory', 'type': 'double', 'access': 'read-write', 'min': 5 } ] } ] }";
    char buf[2048];
    tw__strlcpy(buf, json, sizeof buf);
    for (char *p = buf; *p; p++)
        if (*p == '\'') *p = '"';
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_string(cfg, buf, strlen(buf), "m.json", NULL), TW_OK);
    tw_node *n;
    assert_int_equal(tw_node_new_from_config(&n, cfg), TW_OK);
    tw_config_free(cfg);
    assert_string_equal(tw_node_group_id(n), "PlantA");
    assert_int_equal(tw_node_device_count(n), 2);
    tw_tag *t = tw_tagset_find(tw_node_device_tagset(tw_node_find_device(n, "App")), "Pushed/Temp");
    assert_non_null(t);
    assert_string_equal(tw_tag_unit(t), "degC");
    assert_string_equal(tw_tag_description(t), "pushed");
    double mn, mx, db, abs;
    tw_deadband_mode mode;
    assert_true(tw_tag_range(t, &mn, &mx) && mn == 0 && mx == 200);
    tw_tag_deadband(t, &mode, &db, &abs);
    assert_int_equal(mode, TW_DEADBAND_PERCENT);
    assert_true(abs == 2.0);
    tw_node_device *sim = tw_node_find_device(n, "Sim");
    tw_tag *s = tw_tagset_find(tw_node_device_tagset(sim), "S");
    double sc, off;
    tw_tag_scaling(s, &sc, &off);
    assert_true(sc == 0.15 && off == 0);
    assert_int_equal(tw_tag_access(tw_tagset_find(tw_node_device_tagset(sim), "W")), TW_ACCESS_WRITE);
    tw_tag *rw = tw_tagset_find(tw_node_device_tagset(sim), "RW");
    assert_int_equal(tw_tag_access(rw), TW_ACCESS_READ_WRITE);
    assert_true(tw_tag_range(rw, &mn, NULL) && mn == 5);
    double v;
    tw_quality q;
    for (int64_t end = tw__mono_ms() + 10000; tw__mono_ms() < end;) { /* the first poll */
        tw_node_step(n, 5);
        if (tw_tag_get_double(s, &v, &q, NULL) == TW_OK && q == TW_QUALITY_GOOD) break;
    }
    assert_int_equal(tw_tag_get_double(s, &v, &q, NULL), TW_OK);
    assert_true(v == 150.0);
    assert_int_equal(q, TW_QUALITY_GOOD);
    /* write-only tags are never polled */
    assert_int_equal(tw_tag_get_double(tw_tagset_find(tw_node_device_tagset(sim), "W"), &v, &q, NULL), TW_OK);
    assert_int_equal(q, TW_QUALITY_BAD_WAITING_FOR_INITIAL);
    tw_value w = {TW_TYPE_DOUBLE, {.d = 1.0}};
    assert_int_equal(tw_tag_write(rw, &w), TW_ERR_RANGE); /* below min 5 */
    w.as.d = 7;
    assert_int_equal(tw_tag_write(rw, &w), TW_OK);
    tw_node_free(n);
}

/* A device that cannot be reached is counted offline (the uplink publishes its DDEATH). */
static void test_unreachable_device(void **state)
{
    (void)state;
    tw_node *n = offline_node(TW_NODE_POLL_INLINE);
    char uri[96];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?connect_timeout=200", (unsigned)twt_free_port());
    tw_node_device *d;
    tw_node_device_options o = TW_NODE_DEVICE_OPTIONS_INIT;
    o.adapter_uri = uri;
    assert_int_equal(tw_node_add_device(n, &d, "Dead", &o), TW_OK);
    tw_tag *t;
    assert_int_equal(tw_node_device_add_tag(d, &t, "R", TW_TYPE_UINT16, NULL, "hr:1", 20), TW_OK);
    tw_node_stats st;
    st.version = TW_NODE_STATS_VERSION;
    for (int i = 0; i < 100; i++) {
        tw_node_step(n, 10);
        tw_node_stats_get(n, &st);
        if (st.devices_offline) break;
    }
    assert_int_equal(st.devices_offline, 1);
    tw_quality q;
    assert_int_equal(tw_tag_get(t, NULL, &q, NULL), TW_OK);
    assert_int_equal(q, TW_QUALITY_BAD_NOT_CONNECTED);
    tw_node_free(n);
}

/* examples/gateway.json builds a node: every adapter URI and address in it is valid. */
static void test_example_gateway_json(void **state)
{
    (void)state;
    assert_int_equal(twt_sh("mkdir -p '%s/pki' && cp '%s/ca.pem' '%s/pki/ca.crt' && cp '%s/client.pem' '%s/pki/client.crt' && "
                            "cp '%s/client.key' '%s/pki/client.key'",
                            g_dir, g_dir, g_dir, g_dir, g_dir, g_dir, g_dir),
                     0);
    FILE *f = fopen(TWT_SOURCE_DIR "/examples/gateway.json", "rb");
    assert_non_null(f);
    static char json[65536];
    size_t len = fread(json, 1, sizeof json, f);
    fclose(f);
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_string(cfg, json, len, "gateway.json", g_dir), TW_OK);
    tw_node *n = NULL;
    tw_status st = tw_node_new_from_config(&n, cfg);
    if (st) fail_msg("%s", tw_last_error());
    tw_config_free(cfg);
    assert_int_equal(tw_node_device_count(n), 2);
    assert_int_equal(tw_tagset_count(tw_node_device_tagset(tw_node_find_device(n, "Simulator"))), 4);
    assert_int_equal(tw_tagset_count(tw_node_device_tagset(tw_node_find_device(n, "Press"))), 5);
    tw_node_free(n);
}


/* An enrollment credential directory made by hand in the documented layout (tagwire/enroll.h):
 * DIR/gen-1/{key,chain}.pem and DIR/current -> gen-1, from the test PKI's client (CN=device-1). */
static void make_creds(const char *dir)
{
    assert_int_equal(twt_sh("mkdir -m 700 -p '%s/gen-1' && cp '%s/client.key' '%s/gen-1/key.pem' && "
                            "cp '%s/client.pem' '%s/gen-1/chain.pem' && chmod 600 '%s'/gen-1/* && "
                            "ln -sfn gen-1 '%s/current'",
                            dir, g_dir, dir, g_dir, dir, dir, dir),
                     0);
}

/* options.enroll: where the credential comes from, what is refused, and the v3 statistics. */
static void test_enroll_options(void **state)
{
    (void)state;
    char dir[600], other[600], broker[64], err[512];
    snprintf(dir, sizeof dir, "%s/creds", g_dir);
    snprintf(other, sizeof other, "%s/other", g_dir);
    snprintf(broker, sizeof broker, "mqtts://127.0.0.1:%u", (unsigned)twt_free_port());
    tw_enroll_options eo = TW_ENROLL_OPTIONS_INIT;
    eo.server_url = "https://127.0.0.1:1";
    eo.server_ca_file = twt_path(0, g_dir, "ca.pem");
    eo.credentials_dir = dir;
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.group_id = "G";
    o.edge_node_id = "E";
    o.broker = broker;
    o.tls_ca_file = twt_path(1, g_dir, "ca.pem");
    o.shutdown_timeout_ms = 200;
    o.enroll = &eo;
    tw_node *n = NULL;
    /* nothing enrolled yet: the node renews, it does not enroll */
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_NOT_FOUND);
    assert_null(n);
    char want[1024];
    snprintf(want, sizeof want,
             "enroll: '%s' holds no usable enrolled key and certificate (enroll first, e.g. `tagwire enroll`)", dir);
    assert_string_equal(err, want);
    make_creds(dir);
    o.credentials_dir = other;
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "differ"));
    o.credentials_dir = NULL;
    o.tls_cert_file = twt_path(2, g_dir, "client.pem");
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "not used with enroll"));
    o.tls_cert_file = NULL;
    o.broker = "mqtt://127.0.0.1:1";
    o.insecure = 1;
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "enroll: certificate renewal needs an mqtts:// broker");
    o.broker = broker;
    o.insecure = 0;
    eo.server_url = "http://127.0.0.1:1"; /* tw_enroll_new's own checks reach the caller */
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_CONFIG);
    assert_non_null(strstr(err, "enroll: "));
    eo.server_url = "https://127.0.0.1:1";
    /* a version 2 options struct has no enroll field: the node then wants its own credential */
    o.version = 2;
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "mqtts:// needs a CA file, a certificate and a key (or a tw_tls_config)");
    o.version = TW_NODE_OPTIONS_VERSION;
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_OK);
    tw_credential_info ci;
    memset(&ci, 0, sizeof ci);
    ci.version = TW_CREDENTIAL_INFO_VERSION;
    assert_int_equal(tw_credential_inspect(&ci, dir, 0), TW_OK);
    tw_node_stats s;
    memset(&s, 0, sizeof s);
    s.version = TW_NODE_STATS_VERSION;
    for (int i = 0; i < 5; i++) tw_node_step(n, 10); /* the renewal thread runs: nothing is due */
    assert_int_equal(tw_node_stats_get(n, &s), TW_OK);
    assert_true(s.cert_not_after == ci.not_after);
    assert_true(s.cert_renew_at == ci.renew_at);
    assert_true(s.cert_renew_at > ci.not_before && s.cert_renew_at < ci.not_after);
    assert_true(s.cert_renewals == 0 && s.cert_renew_failures == 0 && s.cert_rollbacks == 0);
    assert_int_equal(s.cert_last_error, TW_OK);
    /* a version 2 stats struct gets nothing past its end */
    tw_node_stats s2;
    memset(&s2, 0xA5, sizeof s2);
    s2.version = 2;
    assert_int_equal(tw_node_stats_get(n, &s2), TW_OK);
    assert_true(s2.cert_not_after == (int64_t)0xA5A5A5A5A5A5A5A5ull);
    tw_node_free(n);
    /* the directory is untouched */
    char link[64] = "";
    ssize_t l = readlink(twt_path(0, dir, "current"), link, sizeof link - 1);
    assert_true(l > 0);
    link[l] = 0;
    assert_string_equal(link, "gen-1");
}

/* The "enroll" section of a configuration file and its rules. */
static void test_config_enroll(void **state)
{
    (void)state;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cfgcreds", g_dir);
    static const struct {
        const char *tls, *enroll;
        tw_status status;
        const char *message;
    } cases[] = {
        {"'ca': 'ca.pem', 'cert': 'client.pem', 'key': 'client.key'", "'est_url': 'https://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds'",
         TW_ERR_CONFIG, "gw.json: $.uplink.tls.cert: not allowed with \"enroll\": the client key and certificate come from "
                        "enroll.credentials_dir"},
        {"'ca': 'ca.pem'", "'est_url': 'http://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds'",
         TW_ERR_CONFIG, "gw.json: $.enroll.est_url: must be an https:// URL of the EST server (got \"http://127.0.0.1:1\")"},
        {"'ca': 'ca.pem'", "'est_url': 'https://127.0.0.1:1', 'credentials_dir': 'cfgcreds'", TW_ERR_CONFIG,
         "gw.json: $.enroll: missing required key \"server_ca\""},
        {"'ca': 'ca.pem'", "'est_url': 'https://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds', 'renew_fraction': 1",
         TW_ERR_CONFIG, "gw.json: $.enroll.renew_fraction: must be a number from 0.05 to 0.95 (got 1)"},
        {"'ca': 'ca.pem'", "'est_url': 'https://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds', 'renew': 1",
         TW_ERR_CONFIG, NULL},
        {"'ca': 'ca.pem'", "'est_url': 'https://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds'", TW_ERR_NOT_FOUND,
         NULL /* the node: nothing enrolled yet ($.enroll) */},
        {"'ca': 'ca.pem'", "'est_url': 'https://127.0.0.1:1', 'server_ca': 'ca.pem', 'credentials_dir': 'cfgcreds', "
                           "'renew_fraction': 0.5, 'retry_max_s': 5",
         TW_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].status == TW_OK) make_creds(dir);
        char json[2048];
        snprintf(json, sizeof json,
                 "{ 'node': { 'group_id': 'G', 'edge_node_id': 'E' }, 'uplink': { 'broker': 'mqtts://127.0.0.1:1', "
                 "'tls': { %s } }, 'enroll': { %s }, 'devices': [ { 'id': 'D', 'tags': [ { 'name': 'a', 'type': 'double' } ] } ] }",
                 cases[i].tls, cases[i].enroll);
        for (char *p = json; *p; p++)
            if (*p == '\'') *p = '"';
        tw_config *cfg;
        assert_int_equal(tw_config_new(&cfg), TW_OK);
        tw_status st = tw_config_load_string(cfg, json, strlen(json), "gw.json", g_dir);
        const char *msg = tw_config_last_error(cfg);
        tw_node *n = NULL;
        char err[1024] = "";
        if (st == TW_OK) {
            assert_true(tw_config_has_enroll(cfg));
            assert_string_equal(tw_config_enroll_credentials_dir(cfg), dir);
            assert_null(tw_config_tls_cert_file(cfg));
            st = node_from_config_err(&n, cfg, err, sizeof err);
            msg = err;
        }
        if (st != cases[i].status) fail_msg("case %zu: %s, expected %s (%s)", i, tw_status_name(st),
                                            tw_status_name(cases[i].status), msg);
        if (cases[i].message && strcmp(msg, cases[i].message))
            fail_msg("case %zu:\n got      %s\n expected %s", i, msg, cases[i].message);
        if (i == 4) assert_non_null(strstr(msg, "gw.json: $.enroll.renew: unknown key"));
        if (i == 5) assert_non_null(strstr(msg, "gw.json: $.enroll: enroll: '"));
        if (st == TW_OK) {
            assert_true(tw_config_enroll_renew_fraction(cfg) == 0.5);
            assert_int_equal(tw_config_enroll_retry_max_s(cfg), 5);
            tw_node_stats s;
            s.version = TW_NODE_STATS_VERSION;
            assert_int_equal(tw_node_stats_get(n, &s), TW_OK);
            assert_true(s.cert_not_after > 0 && s.cert_renew_at > 0);
        }
        tw_node_free(n);
        tw_config_free(cfg);
    }
    /* defaults, and no enroll section at all */
    const char *plain = "{\"node\": {\"group_id\": \"G\", \"edge_node_id\": \"E\"}, \"uplink\": {\"broker\": "
                        "\"mqtt://127.0.0.1:1\", \"insecure\": true}, \"devices\": [{\"id\": \"D\", \"tags\": [{\"name\": \"a\", "
                        "\"type\": \"double\"}]}]}";
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_string(cfg, plain, strlen(plain), "p.json", NULL), TW_OK);
    assert_false(tw_config_has_enroll(cfg));
    assert_null(tw_config_enroll_est_url(cfg));
    assert_true(tw_config_enroll_renew_fraction(cfg) == 0.0);
    tw_config_free(cfg);
}

static void count_log(tw_log_level level, const char *module, const char *msg, void *ud)
{
    (void)level;
    (void)module;
    int *counts = ud;
    if (strstr(msg, "history store full")) counts[0]++;
    if (strstr(msg, "accepts changes again")) counts[1]++;
}

/* Offline with a small store (refuse new): the version 3 statistics (oldest age, sequence
 * numbers), the refusal reported once, older struct versions, and the STRING/BYTES limits. */
static void test_store_stats_and_value_limits(void **state)
{
    (void)state;
    char broker[64];
    snprintf(broker, sizeof broker, "mqtt://127.0.0.1:%u", (unsigned)twt_free_port());
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.max_bytes = 2048;
    so.overflow = TW_STORE_REFUSE_NEW;
    so.sync = TW_STORE_SYNC_OS;
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.group_id = "G";
    o.edge_node_id = "E";
    o.broker = broker;
    o.insecure = 1;
    o.store_dir = twt_path(0, g_dir, "store");
    o.store_options = &so;
    o.shutdown_timeout_ms = 200;
    tw_node *n = NULL;
    char err[256];
    assert_int_equal(node_new_err(&n, &o, err, sizeof err), TW_OK);

    /* STRING/BYTES: max_len above what a store record of 2048 bytes holds is refused now */
    size_t slim = 2048 - TW_STORE_RECORD_OVERHEAD - TW_EDGE_VALUE_OVERHEAD;
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    to.max_len = slim + 1;
    tw_tag *t = (tw_tag *)1;
    assert_int_equal(tw_node_add_tag(n, &t, "Log/Line", TW_TYPE_STRING, &to), TW_ERR_RANGE);
    assert_null(t);
    char want[200];
    snprintf(want, sizeof want, "tag 'Log/Line': max_len %zu bytes exceeds %zu, the longest string value one record of the store", slim + 1, slim);
    if (!strstr(tw_node_last_error(n), want)) fail_msg("last error: %s", tw_node_last_error(n));
    assert_null(tw_tagset_find(tw_node_tagset(n), "Log/Line"));
    to.max_len = slim;
    assert_int_equal(tw_node_add_tag(n, NULL, "Log/Line", TW_TYPE_STRING, &to), TW_OK);
    tw_node_device *dev = NULL;
    assert_int_equal(tw_node_add_device(n, &dev, "Cam", NULL), TW_OK);
    to.max_len = 1u << 20; /* beyond a DATA message too */
    assert_int_equal(tw_node_device_add_tag(dev, NULL, "Image", TW_TYPE_BYTES, &to, NULL, 0), TW_ERR_RANGE);
    assert_non_null(strstr(tw_node_last_error(n), "tag 'Image': max_len 1048576 bytes exceeds"));
    assert_int_equal(tw_node_device_add_tag(dev, NULL, "Default", TW_TYPE_BYTES, NULL, NULL, 0), TW_OK);

    /* values while nothing listens: the store fills (~56 bytes a record) and then refuses */
    tw_tag *c = NULL;
    assert_int_equal(tw_node_add_tag(n, &c, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    int64_t t0 = tw_now_ns() / 1000000;
    int full = 0, logged[2] = {0, 0};
    tw_set_log(count_log, TW_LOG_WARN, logged);
    for (int i = 1; i <= 100; i++) {
        tw_tag_set_int64(c, i, TW_QUALITY_GOOD, 0);
        if (tw_node_step(n, 0) == TW_ERR_FULL) {
            full++;
            assert_non_null(strstr(tw_node_last_error(n), "history store full: new changes are refused"));
        }
    }
    tw_set_log(NULL, TW_LOG_WARN, NULL);
    /* reported once, not per value: the session's warning and the node's echo of its event */
    assert_true(full <= 1);
    assert_true(logged[0] >= 1 && logged[0] <= 2);
    assert_int_equal(logged[1], 0); /* never accepted again: nothing was confirmed */
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    assert_int_equal(tw_node_stats_get(n, &s), TW_OK);
    assert_true(s.store_records > 10 && s.store_records < 100);
    assert_int_equal(s.store_refused, 100 - s.store_records);
    assert_true(s.store_bytes <= 2048);
    assert_int_equal(s.store_acked_seq, 0); /* nothing confirmed */
    assert_int_equal(s.store_last_seq, s.store_records);
    assert_true(s.store_oldest_time_ms >= t0 - 5 && s.store_oldest_time_ms <= tw_now_ns() / 1000000);
    /* a version 2 caller gets the version 2 fields; the bytes after them are not touched */
    union { tw_node_stats s; unsigned char b[sizeof(tw_node_stats)]; } v2;
    memset(&v2, 0xA5, sizeof v2);
    v2.s.version = 2;
    assert_int_equal(tw_node_stats_get(n, &v2.s), TW_OK);
    assert_int_equal(v2.s.store_refused, s.store_refused);
    for (size_t i = offsetof(tw_node_stats, store_oldest_time_ms); i < sizeof v2; i++)
        assert_int_equal(v2.b[i], 0xA5);
    tw_node_free(n);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_stats_and_value_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adapter_values_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adapter_values_poll_threads_in_step_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_adapter_values_threaded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_loop_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_maps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_example_gateway_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_enroll, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
