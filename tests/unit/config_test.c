/* Unit tests of the config module: the example file, every accessor, defaults, a table of bad
 * configurations with their exact messages, file errors, ownership and allocation failures. */
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/config.h"
#include "tagwire/sparkplug.h"
#include "tagwire/tag.h"

/* ---- a counting allocator that can fail on demand ------------------------------------------ */

static long g_live;      /* allocations not yet freed */
static long g_fail_at;   /* fail the Nth allocation from now (1-based); 0 = never */
static long g_count;

static void *t_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (g_fail_at && ++g_count == g_fail_at) return NULL;
    void *p = malloc(n);
    if (p) g_live++;
    return p;
}

static void *t_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (g_fail_at && ++g_count == g_fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) g_live++;
    return q;
}

static void t_free(void *p, void *ctx)
{
    (void)ctx;
    if (p) g_live--;
    free(p);
}

static int setup(void **state)
{
    (void)state;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.malloc_fn = t_malloc;
    p.realloc_fn = t_realloc;
    p.free_fn = t_free;
    g_fail_at = 0;
    return tw_init(&p) == TW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

/* JSON written with ' for " (C string literals stay readable); the table's inputs never need a
 * literal apostrophe. */
static char *dq(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    for (char *p = d; *p; p++)
        if (*p == '\'') *p = '"';
    return d;
}

/* Loads `json_sq` (single-quoted JSON) as "gateway.json"; returns the status, message in msg. */
static tw_status load(const char *json_sq, char *msg, size_t msgsz, tw_config **keep)
{
    tw_config *cfg = NULL;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    char *j = dq(json_sq);
    tw_status st = tw_config_load_string(cfg, j, strlen(j), "gateway.json", "/etc/tagwire");
    free(j);
    if (msg) snprintf(msg, msgsz, "%s", tw_config_last_error(cfg));
    if (keep) *keep = cfg;
    else tw_config_free(cfg);
    return st;
}

/* ---- the example ------------------------------------------------------------------------------ */

static void test_example_file(void **state)
{
    (void)state;
    long live0 = g_live;
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/gateway.json", TWT_SOURCE_DIR);
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_false(tw_config_is_loaded(cfg));
    assert_int_equal(tw_config_load_file(cfg, path), TW_OK);
    assert_true(tw_config_is_loaded(cfg));
    assert_string_equal(tw_config_last_error(cfg), "");
    assert_int_equal(tw_config_last_status(cfg), TW_OK);
    assert_string_equal(tw_config_source(cfg), path);

    assert_string_equal(tw_config_group_id(cfg), "PlantA");
    assert_string_equal(tw_config_edge_node_id(cfg), "Press7");
    assert_string_equal(tw_config_primary_host_id(cfg), "SCADA");

    char want[1200];
    assert_string_equal(tw_config_broker_uri(cfg), "mqtts://127.0.0.1:8883");
    assert_string_equal(tw_config_broker_host(cfg), "127.0.0.1");
    assert_int_equal(tw_config_broker_port(cfg), 8883);
    assert_false(tw_config_insecure(cfg));
    assert_string_equal(tw_config_client_id(cfg), "PlantA-Press7");
    assert_int_equal(tw_config_keep_alive_s(cfg), 30);
    snprintf(want, sizeof want, "%s/examples/pki/ca.crt", TWT_SOURCE_DIR);
    assert_string_equal(tw_config_tls_ca_file(cfg), want);
    snprintf(want, sizeof want, "%s/examples/pki/client.crt", TWT_SOURCE_DIR);
    assert_string_equal(tw_config_tls_cert_file(cfg), want);
    snprintf(want, sizeof want, "%s/examples/pki/client.key", TWT_SOURCE_DIR);
    assert_string_equal(tw_config_tls_key_file(cfg), want);
    assert_null(tw_config_tls_crl_file(cfg));
    assert_string_equal(tw_config_tls_server_name(cfg), "localhost");
    assert_int_equal(tw_config_tls_pin_count(cfg), 0);
    assert_null(tw_config_tls_pin(cfg, 0));

    assert_true(tw_config_has_store(cfg));
    snprintf(want, sizeof want, "%s/examples/spool", TWT_SOURCE_DIR);
    assert_string_equal(tw_config_store_dir(cfg), want);
    assert_int_equal(tw_config_store_max_bytes(cfg), 67108864);
    assert_int_equal(tw_config_store_max_age_s(cfg), 604800);
    assert_int_equal(tw_config_store_fsync(cfg), TW_STORE_SYNC_BATCH);
    assert_int_equal(tw_config_store_fsync_interval_ms(cfg), 1000);
    assert_int_equal(tw_config_store_overflow(cfg), TW_STORE_DROP_OLDEST);

    assert_int_equal(tw_config_device_count(cfg), 2);
    assert_null(tw_config_device_at(cfg, 2));
    const tw_config_device *sim = tw_config_device_at(cfg, 0);
    const tw_config_device *mb = tw_config_device_at(cfg, 1);
    assert_ptr_equal(tw_config_device_find(cfg, "Simulator"), sim);
    assert_ptr_equal(tw_config_device_find(cfg, "Press"), mb);
    assert_null(tw_config_device_find(cfg, "press"));
    assert_string_equal(tw_config_device_id(sim), "Simulator");
    assert_string_equal(tw_config_device_adapter(sim), "sim://");
    assert_string_equal(tw_config_device_scheme(sim), "sim");
    assert_string_equal(tw_config_device_path(sim), "$.devices[0]");
    assert_int_equal(tw_config_device_scan_group_count(sim), 2);
    assert_string_equal(tw_config_device_scan_group_name(sim, 0), "fast");
    assert_int_equal(tw_config_device_scan_group_rate_ms(sim, 0), 100);
    assert_string_equal(tw_config_device_scan_group_name(sim, 1), "slow");
    assert_int_equal(tw_config_device_scan_group_rate_ms(sim, 1), 1000);
    assert_null(tw_config_device_scan_group_name(sim, 2));
    assert_int_equal(tw_config_device_scan_group_rate_ms(sim, 2), 0);
    assert_int_equal(tw_config_device_tag_count(sim), 4);

    const tw_config_tag *oil = tw_config_device_tag_at(sim, 0);
    assert_ptr_equal(tw_config_device_tag_find(sim, "Hydraulics/OilTemp"), oil);
    assert_ptr_equal(tw_config_tag_device(oil), sim);
    assert_string_equal(tw_config_tag_name(oil), "Hydraulics/OilTemp");
    assert_string_equal(tw_config_tag_path(oil), "$.devices[0].tags[0]");
    assert_string_equal(tw_config_tag_address(oil), "sine:period=60s,amplitude=15,offset=50");
    assert_int_equal(tw_config_tag_type(oil), TW_TYPE_DOUBLE);
    assert_string_equal(tw_config_tag_scan_group(oil), "slow");
    assert_int_equal(tw_config_tag_scan_rate_ms(oil), 1000);
    double v = -1, a = -1, b = -1, c = -1, d = -1;
    assert_int_equal(tw_config_tag_deadband(oil, &v), TW_DEADBAND_ABSOLUTE);
    assert_true(v == 0.2);
    assert_string_equal(tw_config_tag_unit(oil), "degC");
    assert_string_equal(tw_config_tag_description(oil), "Hydraulic oil temperature");
    assert_true(tw_config_tag_min(oil, &v) && v == -20.0);
    assert_true(tw_config_tag_max(oil, &v) && v == 120.0);
    assert_false(tw_config_tag_scaling(oil, &a, &b, &c, &d));
    assert_true(a == -1 && b == -1 && c == -1 && d == -1); /* untouched */
    assert_int_equal(tw_config_tag_access(oil), TW_ACCESS_READ);

    const tw_config_tag *pr = tw_config_device_tag_find(sim, "Hydraulics/Pressure");
    assert_ptr_equal(pr, tw_config_device_tag_at(sim, 1));
    assert_int_equal(tw_config_tag_type(pr), TW_TYPE_FLOAT);
    assert_int_equal(tw_config_tag_deadband(pr, &v), TW_DEADBAND_PERCENT);
    assert_true(v == 0.5);
    assert_string_equal(tw_config_tag_scan_group(pr), "fast");
    assert_int_equal(tw_config_tag_scan_rate_ms(pr), 100);

    const tw_config_tag *st = tw_config_device_tag_find(sim, "Running");
    assert_int_equal(tw_config_tag_type(st), TW_TYPE_BOOL);
    assert_int_equal(tw_config_tag_deadband(st, &v), TW_DEADBAND_ABSOLUTE);
    assert_true(v == 0.0);
    assert_null(tw_config_tag_unit(st));
    assert_false(tw_config_tag_min(st, NULL));
    assert_null(tw_config_device_tag_find(sim, "Hydraulics"));
    assert_null(tw_config_device_tag_find(sim, "Drive/Speed")); /* other device's tag */

    assert_string_equal(tw_config_device_adapter(mb), "modbus+tcp://127.0.0.1:1502?unit=1");
    assert_string_equal(tw_config_device_scheme(mb), "modbus+tcp");
    assert_int_equal(tw_config_device_tag_count(mb), 5);
    const tw_config_tag *speed = tw_config_device_tag_find(mb, "Drive/Speed");
    assert_string_equal(tw_config_tag_path(speed), "$.devices[1].tags[0]");
    assert_true(tw_config_tag_scaling(speed, &a, &b, &c, &d));
    assert_true(a == 0 && b == 10000 && c == 0 && d == 1500);
    assert_true(tw_config_tag_scaling(speed, NULL, NULL, NULL, NULL));
    const tw_config_tag *sp = tw_config_device_tag_find(mb, "Setpoints/Speed");
    assert_int_equal(tw_config_tag_type(sp), TW_TYPE_UINT16);
    assert_int_equal(tw_config_tag_access(sp), TW_ACCESS_READ_WRITE);
    assert_int_equal(tw_config_tag_scan_rate_ms(sp), 5000);
    const tw_config_tag *rst = tw_config_device_tag_find(mb, "Commands/Reset");
    assert_int_equal(tw_config_tag_access(rst), TW_ACCESS_WRITE);
    assert_null(tw_config_tag_scan_group(rst)); /* write-only: never polled */
    assert_int_equal(tw_config_tag_scan_rate_ms(rst), 0);
    assert_string_equal(tw_config_tag_address(rst), "coil:0");

    /* loaded once: a second load is refused and changes nothing */
    assert_int_equal(tw_config_load_file(cfg, path), TW_ERR_BUSY);
    assert_string_equal(tw_config_group_id(cfg), "PlantA");
    tw_config_free(cfg);
    assert_int_equal(g_live, live0);
}

/* ---- defaults and the variants the example does not show -------------------------------------- */

static void test_defaults_and_variants(void **state)
{
    (void)state;
    long live0 = g_live;
    tw_config *cfg;
    char msg[1024];
    const char *json =
        "{'node':{'group_id':'Plant A','edge_node_id':'Edge-1'},"
        " 'uplink':{'broker':'mqtts://[::1]','tls':{'ca':'/abs/ca.pem','cert':'c.pem','key':'k.pem',"
        "   'crl':'crl/ca.crl','pins':['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',"
        "                              'sha256/n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=']}},"
        " 'devices':[{'id':'Line','_comment':{'any':['thing']},"
        "   'tags':[{'name':'Ä/µ/Temperature 1','type':'int16','min':-5,'max':5,'deadband_percent':10},"
        "           {'name':'Cmd','type':'datetime','access':'write'}]},"
        "  {'id':'M','adapter':'modbus+rtu:///dev/ttyUSB0?baud=19200',"
        "   'tags':[{'name':'x','address':'coil:1','type':'bool'}]}]}";
    assert_int_equal(load(json, msg, sizeof msg, &cfg), TW_OK);
    assert_string_equal(msg, "");
    assert_string_equal(tw_config_source(cfg), "gateway.json");
    assert_null(tw_config_primary_host_id(cfg));
    assert_string_equal(tw_config_broker_host(cfg), "::1");
    assert_int_equal(tw_config_broker_port(cfg), 8883); /* default for mqtts */
    /* a space is not a client id character: the shortened form (see test_default_client_id) */
    char cid[TW_SP_CLIENT_ID_MAX + 1];
    assert_int_equal(tw_sp_default_client_id(cid, sizeof cid, "Plant A", "Edge-1"), TW_OK);
    assert_string_equal(tw_config_client_id(cfg), cid);
    assert_memory_equal(cid, "PlantA-Edg-", 11);
    assert_int_equal(tw_config_keep_alive_s(cfg), 30);
    assert_string_equal(tw_config_tls_ca_file(cfg), "/abs/ca.pem");  /* absolute: unchanged */
    assert_string_equal(tw_config_tls_cert_file(cfg), "/etc/tagwire/c.pem");
    assert_string_equal(tw_config_tls_crl_file(cfg), "/etc/tagwire/crl/ca.crl");
    assert_string_equal(tw_config_tls_server_name(cfg), "::1"); /* default: the broker host */
    assert_int_equal(tw_config_tls_pin_count(cfg), 2);
    assert_string_equal(tw_config_tls_pin(cfg, 1), "sha256/n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=");
    assert_false(tw_config_has_store(cfg));
    assert_null(tw_config_store_dir(cfg));
    assert_int_equal(tw_config_store_max_bytes(cfg), 0);

    const tw_config_device *line = tw_config_device_find(cfg, "Line");
    assert_null(tw_config_device_adapter(line));
    assert_null(tw_config_device_scheme(line));
    assert_int_equal(tw_config_device_scan_group_count(line), 0);
    const tw_config_tag *t = tw_config_device_tag_find(line, "Ä/µ/Temperature 1");
    assert_non_null(t);
    assert_null(tw_config_tag_address(t));
    assert_null(tw_config_tag_scan_group(t));
    double v;
    assert_int_equal(tw_config_tag_deadband(t, &v), TW_DEADBAND_PERCENT);
    assert_true(v == 10.0);
    assert_int_equal(tw_config_tag_type(tw_config_device_tag_find(line, "Cmd")), TW_TYPE_DATETIME);

    const tw_config_device *m = tw_config_device_at(cfg, 1);
    assert_string_equal(tw_config_device_scheme(m), "modbus+rtu");
    assert_int_equal(tw_config_device_scan_group_count(m), 1); /* implicit "default" group */
    assert_string_equal(tw_config_device_scan_group_name(m, 0), "default");
    assert_int_equal(tw_config_device_scan_group_rate_ms(m, 0), 1000);
    assert_string_equal(tw_config_tag_scan_group(tw_config_device_tag_at(m, 0)), "default");
    tw_config_free(cfg);

    /* plaintext, store defaults, other enum values */
    json = "{'version':1,'node':{'group_id':'G','edge_node_id':'E'},"
           " 'uplink':{'broker':'mqtt://broker.local:1884/','insecure':true,'client_id':'me','keep_alive_s':0},"
           " 'store':{'dir':'/var/spool/tw','fsync':'always','overflow':'drop_newest'},"
           " 'devices':[{'id':'D','adapter':'sim://','scan_groups':[{'name':'only','rate_ms':1}],"
           "   'tags':[{'name':'a','address': 'ramp','type':'uint64','min':0,'max':18446744073709551615}]}]}";
    assert_int_equal(load(json, msg, sizeof msg, &cfg), TW_OK);
    assert_true(tw_config_insecure(cfg));
    assert_string_equal(tw_config_broker_host(cfg), "broker.local");
    assert_int_equal(tw_config_broker_port(cfg), 1884);
    assert_string_equal(tw_config_client_id(cfg), "me");
    assert_int_equal(tw_config_keep_alive_s(cfg), 0);
    assert_null(tw_config_tls_ca_file(cfg));
    assert_null(tw_config_tls_server_name(cfg));
    assert_true(tw_config_has_store(cfg));
    assert_string_equal(tw_config_store_dir(cfg), "/var/spool/tw");
    assert_int_equal(tw_config_store_max_bytes(cfg), 64u * 1024u * 1024u);
    assert_int_equal(tw_config_store_max_age_s(cfg), 0);
    assert_int_equal(tw_config_store_fsync(cfg), TW_STORE_SYNC_EVERY_RECORD);
    assert_int_equal(tw_config_store_fsync_interval_ms(cfg), 0);
    assert_int_equal(tw_config_store_overflow(cfg), TW_STORE_REFUSE_NEW);
    assert_int_equal(tw_config_tag_scan_rate_ms(tw_config_device_tag_at(tw_config_device_at(cfg, 0), 0)), 1);
    tw_config_free(cfg);

    /* plaintext mqtt default port; no base_dir: relative paths stay relative */
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    char *j = dq("{'node':{'group_id':'G','edge_node_id':'E'},'uplink':{'broker':'mqtt://h','insecure':true},"
                 "'store':{'dir':'spool'},'devices':[{'id':'D','tags':[{'name':'a','type':'bool'}]}]}");
    assert_int_equal(tw_config_load_string(cfg, j, strlen(j), NULL, NULL), TW_OK);
    free(j);
    assert_int_equal(tw_config_broker_port(cfg), 1883);
    assert_string_equal(tw_config_store_dir(cfg), "spool");
    assert_string_equal(tw_config_source(cfg), "<string>");
    tw_config_free(cfg);
    assert_int_equal(g_live, live0);
}

/* ---- bad configurations: each with its exact message ------------------------------------------ */

#define HEAD "{'node':{'group_id':'G','edge_node_id':'E'},'uplink':{'broker':'mqtt://127.0.0.1:1883','insecure':true},"
#define TAGS(t) HEAD "'devices':[{'id':'D','adapter':'sim://','tags':[" t "]}]}"
#define MB(t) HEAD "'devices':[{'id':'D','adapter':'modbus+tcp://127.0.0.1:502','tags':[" t "]}]}"
#define PUSH(t) HEAD "'devices':[{'id':'D','tags':[" t "]}]}"
#define TLS(t) "{'node':{'group_id':'G','edge_node_id':'E'},'uplink':{'broker':'mqtts://b:8883','tls':" t "}," \
               "'devices':[{'id':'D','tags':[{'name':'a','type':'bool'}]}]}"
#define STORE(s) HEAD "'store':" s ",'devices':[{'id':'D','tags':[{'name':'a','type':'bool'}]}]}"

typedef struct bad_case {
    const char *json; /* single-quoted */
    tw_status status;
    const char *message; /* exact; ending in "...": the message begins with the rest */
} bad_case;

static const bad_case bad_cases[] = {
    /* JSON syntax: line and column */
    {"{\n  'node': {\n    'group_id' 'G'\n  }\n}", TW_ERR_PARSE,
     "gateway.json:3:16: invalid JSON: expected ':' after an object key (found '\"')"},
    {"{'node': {},\n}", TW_ERR_PARSE, "gateway.json:2:1: invalid JSON: trailing comma is not allowed (found '}')"},
    {"{\n  // the node\n  'node': {}\n}", TW_ERR_PARSE,
     "gateway.json:2:3: invalid JSON: comments are not allowed (use a \"_comment\" key) (found '/')"},
    {"{'node': {'group_id': 'Ä\x01'", TW_ERR_PARSE, "gateway.json:1:27: invalid JSON: unexpected end of input"},
    {" \n ", TW_ERR_PARSE, "gateway.json:2:2: invalid JSON: empty document (expected an object)"},
    {"{'node': {}} {}", TW_ERR_PARSE,
     "gateway.json:1:14: invalid JSON: unexpected text after the end of the JSON value (found '{')"},
    {"{'a': tru}", TW_ERR_PARSE, "gateway.json:1:10: invalid JSON: invalid literal (expected true or false) (found '}')"},
    /* structure */
    {"['node']", TW_ERR_CONFIG, "gateway.json: $: must be an object (got an array)"},
    {" null ", TW_ERR_CONFIG, "gateway.json: $: must be an object (got null)"},
    {"{'devics': []}", TW_ERR_CONFIG, "gateway.json: $.devics: unknown key (did you mean \"devices\"?)"},
    {"{'version': 2}", TW_ERR_CONFIG,
     "gateway.json: $.version: unsupported format version (this library reads 1; got 2)"},
    {"{'uplink': {}}", TW_ERR_CONFIG, "gateway.json: $: missing required key \"node\""},
    /* identity */
    {"{'node': {'group_id': 'Plant#1', 'edge_node_id': 'E'}}", TW_ERR_CONFIG,
     "gateway.json: $.node.group_id: must be a Sparkplug id: no '+', '#' or '/' (got \"Plant#1\")"},
    {"{'node': {'group_id': 'G', 'edge_node_id': ''}}", TW_ERR_CONFIG,
     "gateway.json: $.node.edge_node_id: must not be empty"},
    {"{'node': {'group_id': 5, 'edge_node_id': 'E'}}", TW_ERR_CONFIG,
     "gateway.json: $.node.group_id: must be a string (got 5)"},
    {"{'node': {'group_id': 'G\\u0000x', 'edge_node_id': 'E'}}", TW_ERR_CONFIG,
     "gateway.json: $.node.group_id: must not contain a NUL character (got \"G\\u0000x\")"},
    {"{'node': {'group_id': 'G', 'edgenode_id': 'E'}}", TW_ERR_CONFIG,
     "gateway.json: $.node.edgenode_id: unknown key (did you mean \"edge_node_id\"?)"},
    /* uplink */
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'tcp://b:1883'}}", TW_ERR_CONFIG,
     "gateway.json: $.uplink.broker: must be \"mqtts://host[:port]\" (or \"mqtt://host[:port]\" with \"insecure\": "
     "true) (got \"tcp://b:1883\")"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtt://b:1883'}}", TW_ERR_CONFIG,
     "gateway.json: $.uplink.broker: plaintext \"mqtt://\" needs \"insecure\": true in the uplink (or use \"mqtts://\")"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtts://b:70000'}}", TW_ERR_CONFIG,
     "gateway.json: $.uplink.broker: port must be 1..65535 (got \"mqtts://b:70000\")"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtts://b'}}", TW_ERR_CONFIG,
     "gateway.json: $.uplink: missing required key \"tls\" (an \"mqtts://\" broker needs ca, cert and key)"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtts://b', 'insecure': true}}",
     TW_ERR_CONFIG,
     "gateway.json: $.uplink.insecure: true is only allowed with a plaintext \"mqtt://\" broker (\"mqtts://\" is "
     "always verified)"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtt://b', 'insecure': 'yes'}}",
     TW_ERR_CONFIG, "gateway.json: $.uplink.insecure: must be true or false (got \"yes\")"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtt://b', 'insecure': true, "
     "'tls': {}}}",
     TW_ERR_CONFIG, "gateway.json: $.uplink.tls: not allowed with a plaintext \"mqtt://\" broker"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtt://b', 'insecure': true, "
     "'keepalive': 10}}",
     TW_ERR_CONFIG, "gateway.json: $.uplink.keepalive: unknown key (did you mean \"keep_alive_s\"?)"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'}, 'uplink': {'broker': 'mqtt://b', 'insecure': true, "
     "'keep_alive_s': '30'}}",
     TW_ERR_CONFIG, "gateway.json: $.uplink.keep_alive_s: must be an integer 0..65535 (got \"30\")"},
    {TLS("{'ca': 'ca.pem', 'cert': 'c.pem'}"), TW_ERR_CONFIG, "gateway.json: $.uplink.tls: missing required key \"key\""},
    {TLS("{'ca': 'ca.pem', 'cert': 'c.pem', 'key': 'k.pem', 'pins': ['sha256/abc']}"), TW_ERR_CONFIG,
     "gateway.json: $.uplink.tls.pins[0]: must be \"sha256/\" followed by the base64 SHA-256 of the broker's "
     "public key, 44 characters (got \"sha256/abc\")"},
    {TLS("{'ca': 'ca.pem', 'cert': 'c.pem', 'key': 'k.pem', 'certificate': 'x'}"), TW_ERR_CONFIG,
     "gateway.json: $.uplink.tls.certificate: unknown key (expected one of: ca, cert, key, crl, server_name, pins)"},
    /* store */
    {STORE("{'dir': 'spool', 'fsync': 'sometimes'}"), TW_ERR_CONFIG,
     "gateway.json: $.store.fsync: must be one of \"always\", \"periodic\", \"never\" (got \"sometimes\")"},
    {STORE("{'dir': 'spool', 'max_bytes': 1024}"), TW_ERR_CONFIG,
     "gateway.json: $.store.max_bytes: must be an integer >= 65536 (got 1024)"},
    {STORE("{'dir': 'spool', 'fsync': 'never', 'fsync_interval_ms': 10}"), TW_ERR_CONFIG,
     "gateway.json: $.store.fsync_interval_ms: only applies with \"fsync\": \"periodic\""},
    {STORE("{'max_age_s': 60}"), TW_ERR_CONFIG, "gateway.json: $.store: missing required key \"dir\""},
    {STORE("{'dir': null}"), TW_ERR_CONFIG,
     "gateway.json: $.store.dir: null is not allowed (give a value or leave the key out)"},
    /* devices */
    {HEAD "'devices': []}", TW_ERR_CONFIG, "gateway.json: $.devices: must contain at least one device"},
    {HEAD "'devices': [{'id': 'D', 'tags': [{'name': 'a', 'type': 'bool'}]}, {'id': 'D', 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[1].id: duplicate device id \"D\" (first at $.devices[0])"},
    {HEAD "'devices': [{'id': 'D', 'adapter': 'modbus:127.0.0.1', 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[0].adapter: must be an adapter URI \"scheme://...\" such as "
     "\"modbus+tcp://127.0.0.1:502?unit=1\" or \"sim://\" (got \"modbus:127.0.0.1\")"},
    {HEAD "'devices': [{'id': 'D', 'scan_groups': [{'name': 'f', 'rate_ms': 10}], 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[0].scan_groups: needs an \"adapter\" (a device without one has its values pushed by "
     "the application)"},
    {HEAD "'devices': [{'id': 'D', 'adapter': 'sim://', 'scan_groups': [{'name': 'f', 'rate_ms': 0}], 'tags': []}]}",
     TW_ERR_CONFIG, "gateway.json: $.devices[0].scan_groups[0].rate_ms: must be an integer 1..86400000 (got 0)"},
    {HEAD "'devices': [{'id': 'D', 'adapter': 'sim://', 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags: must contain at least one tag"},
    /* tags */
    {TAGS("{'name': 'Line/', 'address': 'ramp', 'type': 'bool'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: empty path segment (leading, trailing or double '/') "
     "at byte 5 (got \"Line/\")"},
    {TAGS("{'name': 'Line/ Temp', 'address': 'ramp', 'type': 'bool'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: path segment starts with a space at byte 5 "
     "(got \"Line/ Temp\")"},
    {TAGS("{'name': 'a\\tb', 'address': 'ramp', 'type': 'bool'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: control character at byte 1 (got \"a\\tb\")"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'float32'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].type: must be one of \"bool\", \"int8\", \"int16\", \"int32\", \"int64\", "
     "\"uint8\", \"uint16\", \"uint32\", \"uint64\", \"float\", \"double\", \"string\", \"bytes\", \"datetime\" "
     "(got \"float32\")"},
    /* the brief's own example: device 1, tag 3 */
    {HEAD "'devices': [{'id': 'A', 'tags': [{'name': 'a', 'type': 'bool'}]},"
          "{'id': 'B', 'adapter': 'sim://', 'tags': [{'name': 't0', 'address': 'ramp', 'type': 'double'},"
          "{'name': 't1', 'address': 'ramp', 'type': 'double'}, {'name': 't2', 'address': 'ramp', 'type': 'double'},"
          "{'name': 't3', 'address': 'ramp', 'type': 'double', 'deadband': 'abc'}]}]}",
     TW_ERR_CONFIG, "gateway.json: $.devices[1].tags[3].deadband: must be a number >= 0 (got \"abc\")"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'deadband': -1}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].deadband: must be a number >= 0 (got -1)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'min': 0, 'max': 10, 'deadband_percent': 150}"),
     TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0].deadband_percent: must be a number 0..100 (got 150)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'deadband_percent': 5}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].deadband_percent: needs \"min\" and \"max\" on the tag (the percentage is "
     "of max - min)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'min': 0, 'max': 1, 'deadband': 1, "
          "'deadband_percent': 5}"),
     TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0].deadband_percent: cannot be combined with \"deadband\" (choose one)"},
    {MB("{'name': 'a', 'address': 'hr:1:STRING[8]', 'type': 'string', 'deadband': 1}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].deadband: applies to numeric types only (type is string)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'uint8', 'max': 300}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].max: must be within the range of uint8, 0..255 (got 300)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'min': 10, 'max': 5}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].max: must be greater than min (got 5, min is 10)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'max': NaN}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].max: must be a number (got NaN)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'bool'}, {'name': 'a', 'address': 'ramp', 'type': 'bool'}"),
     TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[1].name: duplicate tag name \"a\" in device \"D\" (first at $.devices[0].tags[0])"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'bool', 'scan_group': 'fast'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].scan_group: no scan group \"fast\" in device \"D\" (it has \"default\")"},
    {TAGS("{'name': 'a', 'type': 'bool'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0]: missing required key \"address\""},
    {PUSH("{'name': 'a', 'type': 'bool', 'address': 'coil:1'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].address: device \"D\" has no \"adapter\" (its values are pushed by the "
     "application)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'scaling': {'raw_min': 0, 'raw_max': 0, 'eng_min': 0, "
          "'eng_max': 1}}"),
     TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0].scaling.raw_max: must differ from raw_min (both are 0)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'scaling': {'raw_min': 0, 'raw_max': 1, 'eng_min': 0}}"),
     TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0].scaling: missing required key \"eng_max\""},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'bool', 'access': 'rw'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].access: must be one of \"read\", \"write\", \"read-write\" (got \"rw\")"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'bool', 'access': 'write', 'scan_group': 'default'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].scan_group: not used by a write-only tag (\"access\": \"write\")"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'unti': 'degC'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].unti: unknown key (did you mean \"unit\"?)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'odd key\\n': 1}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0][\"odd key\\n\"]: unknown key (expected one of: name, address, type, "
     "scan_group, deadband, deadband_percent, unit, description, scaling, min, max, access)"},
    {TAGS("'a'"), TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0]: must be an object (got \"a\")"},
    /* misspelt keys anywhere; keys beginning with '_' are comments */
    {TAGS("{'name': 'a', 'adress': 'ramp', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].adress: unknown key (did you mean \"address\"?)"},
    {HEAD "'devices': [{'id': 'D', 'adaptor': 'sim://', 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[0].adaptor: unknown key (did you mean \"adapter\"?)"},
    {STORE("{'dir': 'spool', 'fsnyc': 'always'}"), TW_ERR_CONFIG,
     "gateway.json: $.store.fsnyc: unknown key (did you mean \"fsync\"?)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'scaling': {'raw_min': 0, 'raw_max': 1, "
          "'eng_min': 0, 'eng_max': 2, 'engmax': 3}}"),
     TW_ERR_CONFIG, "gateway.json: $.devices[0].tags[0].scaling.engmax: unknown key (did you mean \"eng_max\"?)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', '_note': 'ok', 'Unit': 'degC'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].Unit: unknown key (did you mean \"unit\"?)"},
    /* tag names: the tag model's rule (tw_tag_name_validate) */
    {TAGS("{'name': 'Line/./Temp', 'address': 'ramp', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: path segment \".\" or \"..\" at byte 5 "
     "(got \"Line/./Temp\")"},
    {TAGS("{'name': 'a\xC2\x85" "b', 'address': 'ramp', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: control character at byte 1 (got \"a\xC2\x85" "b\")"},
    {TAGS("{'name': 'x\uffff', 'address': 'ramp', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].name: invalid tag name: non-character U+FFFE/U+FFFF at byte 1 "
     "(got \"x\uffff\")"},
    /* addresses: checked by the device's adapter; the type must convert from the address's */
    {TAGS("{'name': 'a', 'address': 'sine:period=0s', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].address: refused by the \"sim\" adapter: sim address 'sine:period=0s': "
     "period '0s' is not a positive duration (e.g. 10s, 500ms)"},
    {MB("{'name': 'a', 'address': 'hr:1:BYTES[4]', 'type': 'bytes'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].address: refused by the \"modbus+tcp\" adapter: address 'hr:1:BYTES[4]': "
     "unknown type 'BYTES' (expected BOOL, INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, FLOAT64 or "
     "STRING[n])"},
    {MB("{'name': 'a', 'address': 'coil:0', 'type': 'bool'}, {'name': 'b', 'address': 'coil:0', 'type': 'string'}"),
     TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[1].type: string cannot hold the values of address \"coil:0\", which are bool "
     "(choose a type that converts from bool, or give the type in the address)"},
    {MB("{'name': 'a', 'address': 'hr:1:STRING[8]', 'type': 'double'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].type: double cannot hold the values of address \"hr:1:STRING[8]\", which "
     "are string (choose a type that converts from string, or give the type in the address)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'datetime'}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].type: datetime cannot hold the values of address \"ramp\", which are "
     "double (choose a type that converts from double, or give the type in the address)"},
    {HEAD "'devices': [{'id': 'D', 'adapter': 'modbus+udp://h:502', 'tags': []}]}", TW_ERR_CONFIG,
     "gateway.json: $.devices[0].adapter: no adapter for the scheme \"modbus+udp\" (registered: modbus+tcp,..."},
    /* a key given twice: json-c would keep the last one silently */
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E'},\n 'node': {'group_id': 'H', 'edge_node_id': 'E'}}",
     TW_ERR_CONFIG, "gateway.json: $.node: key given twice in the same object (first at line 1, column 2)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double', 'deadband': 1, 'deadband': 2}"), TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[0].deadband: key given twice in the same object (first at line 1, column 204)"},
    {TAGS("{'name': 'a', 'address': 'ramp', 'type': 'double'}, {'name': 'b', 'address': 'ramp', 'type': 'double', "
          "'\\u0074ype': 'float'}"),
     TW_ERR_CONFIG,
     "gateway.json: $.devices[0].tags[1].type: key given twice in the same object (first at line 1, column 238)"},
    {"{'node': {'group_id': 'G', 'edge_node_id': 'E', '_c': {'x': [1, {'y': 1, 'y\\ud83d\\ude00': 2, 'y': 3}]}, "
     "'edge_node_id': 'F'}}",
     TW_ERR_CONFIG, "gateway.json: $.node.edge_node_id: key given twice in the same object (first at line 1, column 28)"},
    {"{'no\\u0000de': {}}", TW_ERR_PARSE,
     "gateway.json:1:5: invalid JSON: object key with a NUL character (\\u0000) (found '\\')"},
    {"{'a\\ud800': {}}", TW_ERR_PARSE,
     "gateway.json:1:4: invalid JSON: object key with an unpaired surrogate escape (found '\\')"},
};

static void test_bad_configurations(void **state)
{
    (void)state;
    long live0 = g_live;
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    assert_true(n >= 25);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char msg[1024];
        tw_config *cfg;
        tw_status st = load(bad_cases[i].json, msg, sizeof msg, &cfg);
        const char *want = bad_cases[i].message;
        size_t wl = strlen(want);
        int prefix = wl > 3 && !strcmp(want + wl - 3, "...");
        if (st != bad_cases[i].status || (prefix ? strncmp(msg, want, wl - 3) : strcmp(msg, want)) != 0) {
            print_error("case %zu: got %s \"%s\"\n        expected %s \"%s\"\n", i, tw_status_name(st), msg,
                        tw_status_name(bad_cases[i].status), want);
            failures++;
        }
        /* a failed load leaves the config empty */
        assert_false(tw_config_is_loaded(cfg));
        assert_int_equal(tw_config_last_status(cfg), st);
        /* the same message is the thread's last error */
        assert_int_equal(tw_last_error_status(), st);
        TWT_ASSERT_LAST_ERROR("config", tw_config_last_error(cfg));
        assert_null(tw_config_group_id(cfg));
        assert_int_equal(tw_config_device_count(cfg), 0);
        tw_config_free(cfg);
    }
    assert_int_equal(failures, 0);
    assert_int_equal(g_live, live0);
}

/* ---- tag names: exactly the tag model's rule ------------------------------------------------- */

/* Loads a pushed device with one tag named `name` (raw bytes, JSON-escaped here). */
static tw_status load_name(const char *name, char *msg, size_t msgsz)
{
    size_t n = strlen(name), cap = n * 6 + 256, o = 0;
    char *j = malloc(cap);
    assert_non_null(j);
    o += (size_t)snprintf(j, cap, "{\"node\":{\"group_id\":\"G\",\"edge_node_id\":\"E\"},\"uplink\":{\"broker\":"
                                  "\"mqtt://h\",\"insecure\":true},\"devices\":[{\"id\":\"D\",\"tags\":[{\"name\":\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == '"' || ch == '\\') o += (size_t)snprintf(j + o, cap - o, "\\u%04X", ch);
        else j[o++] = (char)ch;
    }
    o += (size_t)snprintf(j + o, cap - o, "\",\"type\":\"double\"}]}]}");
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    tw_status st = tw_config_load_string(cfg, j, o, "names.json", NULL);
    snprintf(msg, msgsz, "%s", tw_config_last_error(cfg));
    if (st == TW_OK) assert_string_equal(tw_config_tag_name(tw_config_device_tag_at(tw_config_device_at(cfg, 0), 0)), name);
    tw_config_free(cfg);
    free(j);
    return st;
}

static void test_tag_names_follow_the_tag_model(void **state)
{
    (void)state;
    char seg255[256], long_ok[800], seg256[300];
    memset(seg255, 'a', 255), seg255[255] = '\0';
    memset(seg256, 'b', 256), seg256[256] = '\0';
    /* 3 segments of 255 bytes: 767 bytes, more than the old limit of 255 */
    snprintf(long_ok, sizeof long_ok, "%s/%s/%s", seg255, seg255, seg255);
    const char *names[] = {
        "Hydraulics/OilTemp", "a", "Line 1/Temp 2", "wild+cards/#", "bdSeq", "Node Control/Rebirth",
        "\xC3\x84/\xC2\xB5", ".hidden/x..y", long_ok, seg255, /* accepted */
        "a/./b", "a/../b", "/a", "a/", "a//b", " a", "a /b", "a\x7F", "a\xC2\x85", "a\xC2\x9F" "b",
        "a\xEF\xBF\xBE", "\xEF\xBF\xBF", "x\ty", seg256, /* refused */
    };
    int accepted = 0, refused = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char why[200], msg[1100];
        tw_status model = tw_tag_name_validate(names[i], why, sizeof why);
        tw_status st = load_name(names[i], msg, sizeof msg);
        if (model == TW_OK) {
            if (st != TW_OK) fail_msg("name %zu refused by the loader: %s", i, msg);
            accepted++;
        } else {
            char want[400];
            snprintf(want, sizeof want, "names.json: $.devices[0].tags[0].name: invalid tag name: %s (got ", why);
            if (st != TW_ERR_CONFIG || strncmp(msg, want, strlen(want)) != 0)
                fail_msg("name %zu: got %s \"%s\", want a message beginning \"%s\"", i, tw_status_name(st), msg, want);
            refused++;
        }
    }
    assert_int_equal(accepted, 10);
    assert_int_equal(refused, 14);
}

/* ---- addresses: the adapter's rule; types that convert are accepted --------------------------- */

static void test_addresses_and_types(void **state)
{
    (void)state;
    tw_config *cfg;
    char msg[1024];
    const char *json =
        HEAD "'devices':[{'id':'M','adapter':'modbus+tcp://127.0.0.1:502',"
        "  'tags':[{'name':'speed','address':'hr:100','type':'double'},"           /* uint16 -> double */
        "          {'name':'big','address':'hr:0:UINT32','type':'int64'},"
        "          {'name':'flag','address':'coil:3','type':'uint8','access':'read-write'}," /* bool <-> uint8 */
        "          {'name':'text','address':'hr:1:STRING[8]','type':'bytes'},"   /* string -> bytes */
        "          {'name':'cmd','address':'coil:0','type':'bool','access':'write'}]},"
        " {'id':'S','adapter':'SIM://','tags':[{'name':'t','address':'counter','type':'datetime'}," /* int64 -> ns */
        "          {'name':'f','address':'ramp','type':'float'}]}]}";
    assert_int_equal(load(json, msg, sizeof msg, &cfg), TW_OK);
    assert_string_equal(msg, "");
    const tw_config_device *m = tw_config_device_at(cfg, 0);
    assert_string_equal(tw_config_tag_address(tw_config_device_tag_at(m, 0)), "hr:100");
    assert_int_equal(tw_config_tag_type(tw_config_device_tag_at(m, 3)), TW_TYPE_BYTES);
    assert_string_equal(tw_config_device_scheme(tw_config_device_at(cfg, 1)), "sim"); /* scheme: any case */
    tw_config_free(cfg);
}

/* ---- duplicate keys --------------------------------------------------------------------------- */

static void test_duplicate_keys(void **state)
{
    (void)state;
    long live0 = g_live;
    char msg[1024];
    /* comments may repeat, also inside comment values; equal keys in different objects are fine */
    const char *ok = "{'_comment':'a','node':{'group_id':'G','edge_node_id':'E','_c':1,'_c':2},'_comment':"
                     "{'x':1,'x':[{'y':1,'y':2}]},"
                     "'uplink':{'broker':'mqtt://h','insecure':true},'devices':[{'id':'D','tags':["
                     "{'name':'a','type':'bool','_n':{}},{'name':'b','type':'bool','_n':[]}]}]}";
    assert_int_equal(load(ok, msg, sizeof msg, NULL), TW_OK);
    assert_string_equal(msg, "");

    /* one object with many keys (the key set grows), the duplicate last */
    const size_t n = 5000;
    size_t cap = n * 32 + 256, len = 0;
    char *j = malloc(cap);
    assert_non_null(j);
    len += (size_t)snprintf(j, cap, "{\"node\":{\"group_id\":\"G\",\"edge_node_id\":\"E\"},\"_big\":{\"k\":{");
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(j + len, cap - len, "%s\"key%zu\":%zu", i ? "," : "", i, i);
    len += (size_t)snprintf(j + len, cap - len, "},\"k2\":{");
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(j + len, cap - len, "\"key%zu\":%zu,", i, i);
    len += (size_t)snprintf(j + len, cap - len, "\"key4321\":0}}}");
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    /* inside a comment value: repetition allowed */
    assert_int_equal(tw_config_load_string(cfg, j, len, "big.json", NULL), TW_ERR_CONFIG);
    assert_string_equal(tw_config_last_error(cfg), "big.json: $: missing required key \"uplink\"");
    /* the same outside a comment: refused */
    memcpy(strstr(j, "\"_big\""), "\"xbig\"", 6);
    assert_int_equal(tw_config_load_string(cfg, j, len, "big.json", NULL), TW_ERR_CONFIG);
    char want[200];
    const char *first = strstr(strstr(j, "\"k2\""), "\"key4321\""); /* one line: column = offset + 1 */
    snprintf(want, sizeof want, "big.json: $.xbig.k2.key4321: key given twice in the same object (first at "
             "line 1, column %zu)", (size_t)(first - j) + 1);
    assert_string_equal(tw_config_last_error(cfg), want);
    tw_config_free(cfg);
    free(j);
    assert_int_equal(g_live, live0);
}

/* ---- the default MQTT client id: one rule for the loader, the node and the edge ---------------- */

/* "<prefix>-" + the first 12 hex digits of SHA-256("<g>/<e>"), computed here independently. */
static void shortened(char *out, size_t cap, const char *prefix, const char *g, const char *e)
{
    unsigned char d[32];
    char in[512];
    snprintf(in, sizeof in, "%s/%s", g, e);
    assert_int_equal(mbedtls_sha256((const unsigned char *)in, strlen(in), d, 0), 0);
    snprintf(out, cap, "%s-%02x%02x%02x%02x%02x%02x", prefix, d[0], d[1], d[2], d[3], d[4], d[5]);
}

static void test_default_client_id(void **state)
{
    (void)state;
    char id[TW_SP_CLIENT_ID_MAX + 1], want[64];
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "PlantA", "Press7"), TW_OK);
    assert_string_equal(id, "PlantA-Press7");
    /* 23 bytes: kept as it is; 24: shortened to 23 */
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "Plant_A.1xx", "Line-7Press"), TW_OK);
    assert_string_equal(id, "Plant_A.1xx-Line-7Press");
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "Plant_A.1xx", "Line-7Press8"), TW_OK);
    shortened(want, sizeof want, "Plant_A.1x", "Plant_A.1xx", "Line-7Press8");
    assert_string_equal(id, want);
    assert_int_equal(strlen(id), TW_SP_CLIENT_ID_MAX);
    /* stable: the same ids give the same id; other ids another one */
    char again[TW_SP_CLIENT_ID_MAX + 1];
    assert_int_equal(tw_sp_default_client_id(again, sizeof again, "Plant_A.1xx", "Line-7Press8"), TW_OK);
    assert_string_equal(again, id);
    assert_int_equal(tw_sp_default_client_id(again, sizeof again, "Plant_A.1xx", "Line-7Press9"), TW_OK);
    assert_string_not_equal(again, id);
    /* the hash input separates the ids with '/', so "a-b"+"c" and "a"+"b-c" differ */
    char x[TW_SP_CLIENT_ID_MAX + 1], y[TW_SP_CLIENT_ID_MAX + 1];
    assert_int_equal(tw_sp_default_client_id(x, sizeof x, "a b", "c"), TW_OK);
    assert_int_equal(tw_sp_default_client_id(y, sizeof y, "a", "b c"), TW_OK);
    assert_string_not_equal(x, y);
    /* no letter or digit left: "tw" */
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "\xC3\x84", "\xC3\x96"), TW_OK);
    shortened(want, sizeof want, "tw", "\xC3\x84", "\xC3\x96");
    assert_string_equal(id, want);
    /* long UTF-8 ids: still at most 23 bytes */
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "Werk M\xC3\xBCnchen Halle 3", "Presse 7 \xC2\xB5"), TW_OK);
    shortened(want, sizeof want, "WerkMnchen", "Werk M\xC3\xBCnchen Halle 3", "Presse 7 \xC2\xB5");
    assert_string_equal(id, want);
    /* errors */
    assert_int_equal(tw_sp_default_client_id(id, 13, "PlantA", "Press7"), TW_ERR_FULL);
    assert_int_equal(tw_sp_default_client_id(id, 14, "PlantA", "Press7"), TW_OK);
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "", "E"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_sp_default_client_id(NULL, sizeof id, "G", "E"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "G", NULL), TW_ERR_INVALID_ARG);

    /* the loader's default is this rule; an explicit client_id is kept as written */
    tw_config *cfg;
    char msg[1024];
    assert_int_equal(load("{'node':{'group_id':'Plant_A.1xx','edge_node_id':'Line-7Press8'},"
                          "'uplink':{'broker':'mqtt://h','insecure':true},"
                          "'devices':[{'id':'D','tags':[{'name':'a','type':'bool'}]}]}",
                          msg, sizeof msg, &cfg), TW_OK);
    assert_int_equal(tw_sp_default_client_id(id, sizeof id, "Plant_A.1xx", "Line-7Press8"), TW_OK);
    assert_string_equal(tw_config_client_id(cfg), id);
    tw_config_free(cfg);
}

/* ---- life cycle, files -------------------------------------------------------------------------- */

static void test_lifecycle(void **state)
{
    (void)state;
    tw_config *cfg = (tw_config *)1;
    assert_int_equal(tw_config_new(NULL), TW_ERR_INVALID_ARG);
    tw_shutdown();
    assert_int_equal(tw_config_new(&cfg), TW_ERR_NOT_INITIALIZED);
    assert_null(cfg);
    assert_int_equal(setup(NULL), 0);

    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_string_equal(tw_config_last_error(cfg), "");
    assert_null(tw_config_group_id(cfg)); /* not loaded */
    assert_int_equal(tw_config_load_string(NULL, "{}", 2, NULL, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_load_string(cfg, NULL, 0, "x.json", NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_config_load_file(cfg, NULL), TW_ERR_INVALID_ARG);
    /* a failed load can be followed by a good one */
    assert_int_equal(tw_config_load_string(cfg, "{", 1, "x.json", NULL), TW_ERR_PARSE);
    assert_string_equal(tw_config_last_error(cfg), "x.json:1:2: invalid JSON: unexpected end of input");
    char *j = dq(PUSH("{'name': 'a', 'type': 'bool'}"));
    /* not NUL-terminated: the length is what counts */
    char *copy = malloc(strlen(j) + 5);
    memcpy(copy, j, strlen(j));
    memcpy(copy + strlen(j), "junk", 4);
    assert_int_equal(tw_config_load_string(cfg, copy, strlen(j), "x.json", NULL), TW_OK);
    free(copy);
    free(j);
    assert_string_equal(tw_config_last_error(cfg), "");
    assert_int_equal(tw_config_last_status(cfg), TW_OK);
    assert_string_equal(tw_config_group_id(cfg), "G");
    assert_int_equal(tw_config_load_string(cfg, "{}", 2, NULL, NULL), TW_ERR_BUSY);
    tw_config_free(cfg);
    tw_config_free(NULL);

    /* NULL-safe accessors */
    assert_null(tw_config_device_id(NULL));
    assert_null(tw_config_device_tag_at(NULL, 0));
    assert_null(tw_config_tag_name(NULL));
    assert_int_equal(tw_config_tag_deadband(NULL, NULL), TW_DEADBAND_ABSOLUTE);
    assert_false(tw_config_tag_scaling(NULL, NULL, NULL, NULL, NULL));
    assert_int_equal(tw_config_device_count(NULL), 0);
    assert_null(tw_config_device_find(NULL, "x"));
}

static void test_files(void **state)
{
    (void)state;
    long live0 = g_live;
    char *dir = twt_mkdtemp("twcfg");
    assert_non_null(dir);
    tw_config *cfg;

    /* missing file, directory */
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    const char *missing = twt_path(0, dir, "nope.json");
    assert_int_equal(tw_config_load_file(cfg, missing), TW_ERR_NOT_FOUND);
    char want[2048];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", missing);
    assert_string_equal(tw_config_last_error(cfg), want);
    assert_int_equal(tw_config_load_file(cfg, dir), TW_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot read: Is a directory", dir);
    assert_string_equal(tw_config_last_error(cfg), want);

    /* a syntax error in a file: the message starts with the path as given, then line:column;
     * a byte-order mark is skipped and multi-byte characters count as one column */
    const char *bad = twt_path(1, dir, "bad.json");
    FILE *f = fopen(bad, "wb");
    assert_non_null(f);
    fputs("\xEF\xBB\xBF{\n  \"node\": {\"group_id\": \"Änderung\" \"x\"}\n}\n", f);
    fclose(f);
    assert_int_equal(tw_config_load_file(cfg, bad), TW_ERR_PARSE);
    snprintf(want, sizeof want, "%s:2:35: invalid JSON: expected ',' or '}' in an object (found '\"')", bad);
    assert_string_equal(tw_config_last_error(cfg), want);

    /* relative paths: against the file's directory */
    const char *good = twt_path(2, dir, "gw.json");
    f = fopen(good, "wb");
    assert_non_null(f);
    char *j = dq("{'node':{'group_id':'G','edge_node_id':'E'},'uplink':{'broker':'mqtts://b',"
                 "'tls':{'ca':'pki/ca.crt','cert':'/etc/c.crt','key':'./k.key'}},'store':{'dir':'spool'},"
                 "'devices':[{'id':'D','tags':[{'name':'a','type':'bool'}]}]}");
    fputs(j, f);
    free(j);
    fclose(f);
    assert_int_equal(tw_config_load_file(cfg, good), TW_OK);
    assert_string_equal(tw_config_tls_ca_file(cfg), twt_path(3, dir, "pki/ca.crt"));
    assert_string_equal(tw_config_tls_cert_file(cfg), "/etc/c.crt");
    assert_string_equal(tw_config_tls_key_file(cfg), twt_path(4, dir, "./k.key"));
    assert_string_equal(tw_config_store_dir(cfg), twt_path(5, dir, "spool"));
    tw_config_free(cfg);

    /* a file name without a directory: paths stay relative to the working directory */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_file(cfg, "gw.json"), TW_OK);
    assert_string_equal(tw_config_tls_ca_file(cfg), "pki/ca.crt");
    assert_string_equal(tw_config_source(cfg), "gw.json");
    tw_config_free(cfg);
    assert_int_equal(chdir(cwd), 0);

    twt_rmtree(dir);
    free(dir);
    assert_int_equal(g_live, live0);
}

/* Every allocation failure is reported as TW_ERR_NOMEM, leaks nothing and leaves the config
 * reusable. */
static void test_allocation_failures(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/gateway.json", TWT_SOURCE_DIR);
    long live0 = g_live;
    int failed = 0;
    for (long n = 1; n < 10000; n++) {
        tw_config *cfg;
        g_count = 0;
        g_fail_at = n;
        tw_status st = tw_config_new(&cfg);
        if (st == TW_OK) {
            st = tw_config_load_file(cfg, path);
            if (st != TW_OK) {
                assert_int_equal(st, TW_ERR_NOMEM);
                assert_false(tw_config_is_loaded(cfg));
            }
            tw_config_free(cfg);
        } else {
            assert_int_equal(st, TW_ERR_NOMEM);
        }
        g_fail_at = 0;
        assert_int_equal(g_live, live0);
        if (st == TW_OK) break;
        failed++;
    }
    assert_true(failed >= 3); /* the config, the file buffer and the arena were all exercised */
}

/* Many tags: lookups by name find each one; duplicates far apart are still caught. */
static void test_many_tags(void **state)
{
    (void)state;
    const size_t n = 20000;
    size_t cap = n * 64 + 256, len = 0;
    char *j = malloc(cap);
    assert_non_null(j);
    len += (size_t)snprintf(j + len, cap - len, "%s", "{\"node\":{\"group_id\":\"G\",\"edge_node_id\":\"E\"},"
                            "\"uplink\":{\"broker\":\"mqtt://h\",\"insecure\":true},\"devices\":[{\"id\":\"D\",\"tags\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s{\"name\":\"Area%zu/Tag%zu\",\"type\":\"double\"}",
                                i ? "," : "", i % 10, i);
    len += (size_t)snprintf(j + len, cap - len, "]}]}");
    tw_config *cfg;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_string(cfg, j, len, "big.json", NULL), TW_OK);
    const tw_config_device *d = tw_config_device_at(cfg, 0);
    assert_int_equal(tw_config_device_tag_count(d), n);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "Area%zu/Tag%zu", i % 10, i);
        assert_ptr_equal(tw_config_device_tag_find(d, name), tw_config_device_tag_at(d, i));
    }
    assert_null(tw_config_device_tag_find(d, "Area0/Tag1"));
    tw_config_free(cfg);

    /* make the last tag a duplicate of the first */
    char *last = strstr(j, "Area9/Tag19999");
    assert_non_null(last);
    memcpy(last, "Area0/Tag00000", 14);
    char *first = strstr(j, "Area0/Tag0\"");
    memmove(first + 14, first + 10, len - (size_t)(first + 10 - j) + 1);
    memcpy(first, "Area0/Tag00000", 14);
    len += 4;
    assert_int_equal(tw_config_new(&cfg), TW_OK);
    assert_int_equal(tw_config_load_string(cfg, j, len, "big.json", NULL), TW_ERR_CONFIG);
    assert_string_equal(tw_config_last_error(cfg),
                        "big.json: $.devices[0].tags[19999].name: duplicate tag name \"Area0/Tag00000\" in "
                        "device \"D\" (first at $.devices[0].tags[0])");
    tw_config_free(cfg);
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_example_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults_and_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_configurations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_names_follow_the_tag_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_addresses_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_client_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_tags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
