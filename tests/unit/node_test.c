/* Unit tests of the node: options, devices and tags, configuration errors with file and JSON path
 * (exact messages), adapter values into tags (scaling, quality), writes to devices, step mode
 * without a broker, statistics, and state rules. No broker is needed here: the uplink points at a
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
    char err[256];
    tw_status st = tw_node_new(&n, &o, err, sizeof err);
    if (st) fail_msg("tw_node_new: %s", err);
    return n;
}

static void test_options(void **state)
{
    (void)state;
    tw_node *n = NULL;
    char err[256];
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    assert_int_equal(tw_node_new(&n, NULL, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "group_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
    o.group_id = "G";
    o.edge_node_id = "E/1";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "edge_node_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
    o.edge_node_id = "E";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "a broker URI is required");
    o.broker = "tcp://x:1";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "broker 'tcp://x:1': the scheme must be mqtts:// (or mqtt:// with insecure)");
    o.broker = "mqtt://x:1";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_TLS_INSECURE);
    assert_string_equal(err, "broker 'mqtt://x:1': plaintext mqtt:// needs the insecure option");
    o.broker = "mqtts://x:99999";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "broker 'mqtts://x:99999': bad port");
    o.broker = "mqtts://x";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_string_equal(err, "mqtts:// needs a CA file, a certificate and a key (or a tw_tls_config)");
    o.tls_ca_file = twt_path(0, g_dir, "nonexistent.pem");
    o.tls_cert_file = twt_path(1, g_dir, "client.pem");
    o.tls_key_file = twt_path(2, g_dir, "client.key");
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "TLS CA file"));
    o.tls_ca_file = twt_path(0, g_dir, "ca.pem");
    o.store_dir = "/tmp";
    o.state_dir = "/tmp";
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "exclude each other"));
    o.state_dir = NULL;
    o.store_dir = NULL;
    o.version = 99;
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_ERR_VERSION);
    o.version = TW_NODE_OPTIONS_VERSION;
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_OK);
    assert_string_equal(tw_node_group_id(n), "G");
    assert_string_equal(tw_node_edge_node_id(n), "E");
    tw_node_free(n);
}

static void test_devices_and_tags(void **state)
{
    (void)state;
    tw_node *n = offline_node(TW_NODE_POLL_INLINE);
    char err[512];
    tw_node_device *pushed, *sim, *x;
    assert_int_equal(tw_node_add_device(n, &pushed, "Pushed", NULL, err, sizeof err), TW_OK);
    assert_int_equal(tw_node_add_device(n, &x, "Pushed", NULL, err, sizeof err), TW_ERR_EXISTS);
    assert_string_equal(err, "device 'Pushed' exists already");
    assert_int_equal(tw_node_add_device(n, &x, "a+b", NULL, err, sizeof err), TW_ERR_INVALID_ARG);
    tw_node_device_options d = TW_NODE_DEVICE_OPTIONS_INIT;
    d.adapter_uri = "nope://";
    assert_int_equal(tw_node_add_device(n, &x, "Bad", &d, err, sizeof err), TW_ERR_NO_ADAPTER);
    assert_string_equal(err, "device 'Bad': adapter 'nope://': no adapter registered for scheme 'nope'");
    d.adapter_uri = "sim://";
    assert_int_equal(tw_node_add_device(n, &sim, "Sim", &d, err, sizeof err), TW_OK);
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
    assert_int_equal(tw_node_add_device(n, &x, "Late", NULL, err, sizeof err), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_device_add_tag(pushed, &t, "Late", TW_TYPE_INT32, NULL, NULL, 0), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_start(n), TW_ERR_NODE_STATE);
    assert_int_equal(tw_node_stop(n), TW_ERR_NODE_STATE);
    tw_node_free(n);
}

/* Adapter polls in step mode (inline) and on poll threads: values, scaling, quality, writes. */
static void run_adapter_values(tw_node_poll_mode mode, int threaded)
{
    tw_node *n = offline_node(mode);
    char err[512];
    tw_node_device *sim;
    tw_node_device_options d = TW_NODE_DEVICE_OPTIONS_INIT;
    d.adapter_uri = "sim://";
    assert_int_equal(tw_node_add_device(n, &sim, "Sim", &d, err, sizeof err), TW_OK);
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
        for (int i = 0; i < 10; i++) tw_node_step(n, 10);
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
        if (st) fail_msg("case %zu: config: %s", i, tw_config_last_error(cfg));
        tw_node *n = NULL;
        char err[1024];
        st = tw_node_new_from_config(&n, cfg, err, sizeof err);
        if (st != cases[i].status) fail_msg("case %zu: %s, expected %s (%s)", i, tw_status_name(st),
                                            tw_status_name(cases[i].status), err);
        assert_null(n);
        if (cases[i].message) {
            if (strcmp(err, cases[i].message)) fail_msg("case %zu:\n got      %s\n expected %s", i, err, cases[i].message);
        } else {
            char want[600];
            snprintf(want, sizeof want, "gw.json: $.uplink.tls.ca: CA file '%s/missing.pem': cannot open", g_dir);
            if (strncmp(err, want, strlen(want))) fail_msg("case %zu: got %s", i, err);
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
    char err[512];
    assert_int_equal(tw_node_new_from_config(&n, cfg, err, sizeof err), TW_OK);
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
    for (int i = 0; i < 20; i++) tw_node_step(n, 5);
    double v;
    tw_quality q;
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
    char uri[96], err[512];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?connect_timeout=200", (unsigned)twt_free_port());
    tw_node_device *d;
    tw_node_device_options o = TW_NODE_DEVICE_OPTIONS_INIT;
    o.adapter_uri = uri;
    assert_int_equal(tw_node_add_device(n, &d, "Dead", &o, err, sizeof err), TW_OK);
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
    char err[1024];
    tw_status st = tw_node_new_from_config(&n, cfg, err, sizeof err);
    if (st) fail_msg("%s", err);
    tw_config_free(cfg);
    assert_int_equal(tw_node_device_count(n), 2);
    assert_int_equal(tw_tagset_count(tw_node_device_tagset(tw_node_find_device(n, "Simulator"))), 4);
    assert_int_equal(tw_tagset_count(tw_node_device_tagset(tw_node_find_device(n, "Press"))), 5);
    tw_node_free(n);
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
    assert_int_equal(tw_node_new(&n, &o, err, sizeof err), TW_OK);

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
    assert_int_equal(tw_node_add_device(n, &dev, "Cam", NULL, err, sizeof err), TW_OK);
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
        cmocka_unit_test_setup_teardown(test_store_stats_and_value_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
