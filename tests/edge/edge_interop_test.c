/*
 * Interop tests of the Sparkplug edge node session (tagwire/edge.h) against real peers on
 * 127.0.0.1: Mosquitto 2 started by the test with mutual TLS (require_certificate,
 * use_identity_as_username) and an ACL that lets the device identity (CN=device-1) publish only
 * under its own edge node topics; mosquitto_sub / mosquitto_pub acting as the SCADA host (CN=
 * device-2); every payload the edge published is decoded by Eclipse Tahu's JavaScript codec
 * (tests/edge/tahu_tool.js), and the commands sent to the edge are encoded by it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/edge.h"
#include "tagwire/store.h"
#include "tagwire/tag.h"
#include "tagwire/tls.h"

#ifndef TW_EDGE_TAHU_TOOL
#error "TW_EDGE_TAHU_TOOL must be defined"
#endif
#ifndef TW_NODE_BIN
#define TW_NODE_BIN "node"
#endif

#define GROUP "G1"
#define NODE "device-1" /* the edge node id equals the device identity (ACL pattern %u) */

/* ---- broker and peers ---------------------------------------------------------------------- */

static char *g_dir;       /* PKI + broker files */
static uint16_t g_port;
static twt_mosquitto g_broker = {.pid = -1};
static char g_log[1024];
static pid_t g_sub = -1;
static char g_subout[1024];
static int g_subn;

static const char *P(int slot, const char *name) { return twt_path(slot, g_dir, name); }

static bool log_wait(const char *needle, int timeout_ms) { return twt_file_wait(g_log, needle, timeout_ms); }

static int group_setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    if (!twt_mosquitto_bin()) {
        fprintf(stderr, "mosquitto is not installed (scripts/deps/mqtt.apt)\n");
        return -1;
    }
    if (!twt_have("mosquitto_sub") || !twt_have("mosquitto_pub")) {
        fprintf(stderr, "mosquitto-clients are not installed\n");
        return -1;
    }
    if (twt_sh("'%s' -e 'process.exit(0)'", TW_NODE_BIN) != 0) {
        fprintf(stderr, "node is not installed\n");
        return -1;
    }
    g_dir = twt_mkdtemp("tw-edge");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    /* the device: its own edge node topics (any group member type), its commands, STATE */
    twt_mosquitto_opts mo = {.pki_dir = g_dir,
                             .identity_as_username = true,
                             .acl = "pattern write spBv1.0/" GROUP "/+/%u/#\n"
                                    "pattern read spBv1.0/" GROUP "/NCMD/%u\n"
                                    "pattern read spBv1.0/" GROUP "/DCMD/%u/#\n"
                                    "pattern read spBv1.0/STATE/#\n"
                                    "user device-2\ntopic readwrite #\n"};
    int rc = twt_mosquitto_start(&g_broker, g_dir, &mo);
    g_port = g_broker.port;
    snprintf(g_log, sizeof g_log, "%s", g_broker.log);
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_sub > 0) twt_stop(g_sub);
    twt_mosquitto_stop(&g_broker);
    if (g_dir && !getenv("TW_KEEP_TMP")) twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

/* mosquitto_pub/sub options of the host identity (CN=device-2). */
static const char *host_tls(void)
{
    static char b[2048];
    snprintf(b, sizeof b, "-h 127.0.0.1 -p %u --cafile '%s' --cert '%s' --key '%s'",
             (unsigned)g_port, P(5, "ca.pem"), P(6, "client2.pem"), P(7, "client2.key"));
    return b;
}

/* Starts the host's subscriber on spBv1.0/# ("topic hex" lines). */
static void sub_start(void)
{
    char id[32];
    snprintf(id, sizeof id, "host-sub-%d", ++g_subn);
    snprintf(g_subout, sizeof g_subout, "%s/%s.out", g_dir, id);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)g_port);
    char ca[512], cert[512], key[512];
    snprintf(ca, sizeof ca, "%s", P(0, "ca.pem"));
    snprintf(cert, sizeof cert, "%s", P(0, "client2.pem"));
    snprintf(key, sizeof key, "%s", P(0, "client2.key"));
    char *argv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-i", id, "-q", "1",
                    "--cafile", ca, "--cert", cert, "--key", key, "-t", "spBv1.0/#",
                    "-F", "%t %x", NULL};
    g_sub = twt_spawn(argv, g_subout);
    assert_true(g_sub > 0);
    char needle[128];
    snprintf(needle, sizeof needle, "Sending SUBACK to %s", id);
    if (!log_wait(needle, 5000)) fail_msg("mosquitto_sub did not subscribe");
}

static void sub_stop(void)
{
    if (g_sub > 0) twt_stop(g_sub);
    g_sub = -1;
}

/* Publishes a command payload encoded by Tahu from `json`. */
static void host_cmd(const char *topic, const char *json)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/cmd.bin", g_dir);
    FILE *f = fopen(P(0, "cmd.json"), "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    assert_int_equal(twt_sh("'%s' '%s' encode '%s' \"$(cat '%s')\"", TW_NODE_BIN, TW_EDGE_TAHU_TOOL,
                            bin, P(0, "cmd.json")), 0);
    assert_int_equal(twt_sh("mosquitto_pub %s -q 1 -t '%s' -f '%s'", host_tls(), topic, bin), 0);
}

static void host_state(const char *host, int online, uint64_t ts)
{
    assert_int_equal(twt_sh("mosquitto_pub %s -q 1 -r -t 'spBv1.0/STATE/%s' -m "
                            "'{\"online\":%s,\"timestamp\":%llu}'",
                            host_tls(), host, online ? "true" : "false", (unsigned long long)ts),
                     0);
}

/* ---- decoded messages -------------------------------------------------------------------------- */

typedef struct msgs {
    json_object **m;
    size_t n;
} msgs;

static void msgs_free(msgs *ms)
{
    for (size_t i = 0; i < ms->n; i++) json_object_put(ms->m[i]);
    free(ms->m);
    ms->m = NULL;
    ms->n = 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Decodes everything the subscriber got so far with Tahu. */
static msgs decode_all(void)
{
    msgs ms = {NULL, 0};
    char out[1100];
    snprintf(out, sizeof out, "%s.json", g_subout);
    assert_int_equal(twt_sh("'%s' '%s' decode '%s' > '%s'", TW_NODE_BIN, TW_EDGE_TAHU_TOOL,
                            g_subout, out), 0);
    char *s = twt_slurp(out);
    size_t cap = (size_t)count_lines(s) + 1;
    ms.m = calloc(cap, sizeof *ms.m);
    char *save = NULL;
    for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_object *j = json_tokener_parse(l);
        assert_non_null(j);
        ms.m[ms.n++] = j;
    }
    free(s);
    return ms;
}

static const char *jtopic(json_object *j)
{
    json_object *t;
    return json_object_object_get_ex(j, "topic", &t) ? json_object_get_string(t) : "";
}

static json_object *jget(json_object *j, const char *k)
{
    json_object *v = NULL;
    if (!j || !json_object_object_get_ex(j, k, &v)) return NULL;
    return v;
}

static json_object *jpayload(json_object *j) { return jget(j, "payload"); }

static long long jint(json_object *j) { return j ? strtoll(json_object_get_string(j), NULL, 10) : -1; }

/* The type (NBIRTH, ...) of a message. */
static const char *mtype(json_object *j, char *buf, size_t cap)
{
    const char *t = jtopic(j);
    const char *a = strchr(t, '/');
    a = a ? strchr(a + 1, '/') : NULL;
    if (!a) {
        snprintf(buf, cap, "?");
        return buf;
    }
    a++;
    size_t n = strcspn(a, "/");
    snprintf(buf, cap, "%.*s", (int)n, a);
    return buf;
}

static bool is_type(json_object *j, const char *type)
{
    char b[16];
    if (strncmp(jtopic(j), "spBv1.0/STATE/", 14) == 0) return strcmp(type, "STATE") == 0;
    return strcmp(mtype(j, b, sizeof b), type) == 0;
}

static json_object *metric_by_name(json_object *payload, const char *name)
{
    json_object *ms = jget(payload, "metrics");
    for (size_t i = 0; ms && i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i);
        json_object *n = jget(m, "name");
        if (n && strcmp(json_object_get_string(n), name) == 0) return m;
    }
    return NULL;
}

static json_object *metric_by_alias(json_object *payload, long long alias)
{
    json_object *ms = jget(payload, "metrics");
    for (size_t i = 0; ms && i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i);
        if (jget(m, "alias") && jint(jget(m, "alias")) == alias) return m;
    }
    return NULL;
}

static size_t metric_count(json_object *payload)
{
    json_object *ms = jget(payload, "metrics");
    return ms ? json_object_array_length(ms) : 0;
}

/* Waits until the subscriber has at least `n` messages (wall clock; at least 20 s, so that a loaded
 * machine is never mistaken for a lost message). */
static void wait_msgs(tw_edge *e, int n, int timeout_ms)
{
    if (timeout_ms < 20000) timeout_ms = 20000;
    for (int64_t end = tw__mono_ms() + timeout_ms; tw__mono_ms() < end;) {
        if (e) tw_edge_step(e, 10);
        else twt_sleep_ms(10);
        char *s = twt_slurp(g_subout);
        int k = count_lines(s);
        free(s);
        if (k >= n) return;
    }
    char *s = twt_slurp(g_subout);
    fail_msg("expected %d messages, got %d:\n%s", n, count_lines(s), s);
}

static int sub_lines(void)
{
    char *s = twt_slurp(g_subout);
    int k = count_lines(s);
    free(s);
    return k;
}

/* ---- the edge ----------------------------------------------------------------------------------- */

typedef struct events {
    int commands, command_errors, births, errors, host;
    tw_status last_cmd_status;
    char last_cmd_metric[128];
    tw_status last_error;
    int not_authorized;
} events;

static void on_event(tw_edge *e, const tw_edge_event *ev, void *ud)
{
    events *x = ud;
    (void)e;
    switch (ev->type) {
    case TW_EDGE_EVENT_COMMAND:
        x->commands++;
        if (ev->status != TW_OK) x->command_errors++;
        x->last_cmd_status = ev->status;
        snprintf(x->last_cmd_metric, sizeof x->last_cmd_metric, "%s", ev->metric ? ev->metric : "");
        break;
    case TW_EDGE_EVENT_BIRTH: x->births++; break;
    case TW_EDGE_EVENT_ERROR:
        x->errors++;
        x->last_error = ev->status;
        if (ev->status == TW_ERR_MQTT_NOT_AUTHORIZED) x->not_authorized++;
        break;
    case TW_EDGE_EVENT_HOST: x->host++; break;
    default: break;
    }
}

static tw_tls_config *tls_config(void)
{
    tw_tls_config *c = NULL;
    assert_int_equal(tw_tls_config_new(&c), TW_OK);
    assert_int_equal(tw_tls_config_set_ca_file(c, P(0, "ca.pem")), TW_OK);
    assert_int_equal(tw_tls_config_set_credentials_file(c, P(1, "client.pem"), P(2, "client.key"), NULL),
                     TW_OK);
    return c;
}

static tw_edge *edge_new(const char *group, const char *host_id, const char *state_dir,
                         events *ev)
{
    tw_tls_config *tls = tls_config();
    tw_edge_options o = TW_EDGE_OPTIONS_INIT;
    o.group_id = group;
    o.edge_node_id = NODE;
    o.primary_host_id = host_id;
    o.host = "127.0.0.1";
    o.port = g_port;
    o.tls = tls;
    o.state_dir = state_dir;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 200;
    tw_edge *e = NULL;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    tw_tls_config_free(tls); /* the edge keeps its own reference */
    if (ev) tw_edge_set_event_cb(e, on_event, ev);
    return e;
}

static void drive_until_state(tw_edge *e, tw_edge_state s, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 10) {
        tw_edge_step(e, 10);
        if (tw_edge_state_get(e) == s) return;
    }
    fail_msg("edge did not reach state %s (is %s; last error: %s)", tw_edge_state_name(s),
             tw_edge_state_name(tw_edge_state_get(e)), tw_edge_last_error(e));
}

/* Steps the edge for `ms`, at least once (a descheduled test must not skip the step). */
static void drive(tw_edge *e, int ms)
{
    int64_t end = tw__mono_ms() + ms;
    do tw_edge_step(e, 10);
    while (tw__mono_ms() < end);
}

static tw_status accept_write(tw_tag *tag, const tw_value *v, void *ud)
{
    (void)ud;
    return tw_tag_set_value(tag, v, TW_QUALITY_GOOD, 0);
}

static tw_status refuse_write(tw_tag *tag, const tw_value *v, void *ud)
{
    (void)tag;
    (void)v;
    (void)ud;
    return TW_ERR_RANGE;
}

/* Checks the seq field of every edge message: NBIRTH is 0, each next message is +1 mod 256. */
static void check_seq(const msgs *ms)
{
    long long prev = -1;
    for (size_t i = 0; i < ms->n; i++) {
        json_object *j = ms->m[i];
        if (is_type(j, "STATE") || is_type(j, "NDEATH") || is_type(j, "NCMD") || is_type(j, "DCMD"))
            continue;
        long long seq = jint(jget(jpayload(j), "seq"));
        if (is_type(j, "NBIRTH")) {
            assert_int_equal(seq, 0);
        } else {
            if (prev < 0) fail_msg("message %zu (%s) before any NBIRTH", i, jtopic(j));
            if (seq != (prev + 1) % 256)
                fail_msg("message %zu (%s): seq %lld after %lld", i, jtopic(j), seq, prev);
        }
        prev = seq;
    }
}

/* ---- tests --------------------------------------------------------------------------------------- */

static void test_births_data_commands_rebirth(void **state)
{
    (void)state;
    events ev;
    memset(&ev, 0, sizeof ev);
    tw_tagset *ns = NULL, *ds = NULL;
    tw_tag *temp, *counter, *setp, *mode, *speed, *running;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_new(&ds), TW_OK);
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    to.unit = "degC";
    to.description = "Oil temperature";
    assert_int_equal(tw_tagset_add(ns, &temp, "Hydraulics/OilTemp", TW_TYPE_DOUBLE, &to), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &counter, "Counters/Strokes", TW_TYPE_INT64, NULL), TW_OK);
    tw_tag_options rw = TW_TAG_OPTIONS_INIT;
    rw.access = TW_ACCESS_READ_WRITE;
    assert_int_equal(tw_tagset_add(ns, &setp, "Setpoint", TW_TYPE_DOUBLE, &rw), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &mode, "Mode", TW_TYPE_STRING, &rw), TW_OK);
    tw_tag_set_write_cb(setp, accept_write, NULL);
    tw_tag_set_write_cb(mode, refuse_write, NULL);
    tw_tag_options rpm = TW_TAG_OPTIONS_INIT;
    rpm.unit = "rpm";
    assert_int_equal(tw_tagset_add(ds, &speed, "Speed", TW_TYPE_FLOAT, &rpm), TW_OK);
    assert_int_equal(tw_tagset_add(ds, &running, "Running", TW_TYPE_BOOL, &rw), TW_OK);
    tw_tag_set_write_cb(running, accept_write, NULL);
    tw_tag_set_double(temp, 20.5, TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(counter, 1, TW_QUALITY_GOOD, 0);
    tw_tag_set_double(setp, 10, TW_QUALITY_GOOD, 0);
    tw_tag_set_string(mode, "auto", TW_QUALITY_GOOD, 0);
    tw_tag_set_float(speed, 1500, TW_QUALITY_GOOD, 0);
    tw_tag_set_bool(running, 1, TW_QUALITY_GOOD, 0);

    sub_start();
    tw_edge *e = edge_new(GROUP, NULL, NULL, &ev);
    assert_int_equal(tw_edge_set_node_tags(e, ns), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "Pump1", ds), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "Pump1", ds), TW_ERR_EXISTS);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    wait_msgs(e, 2, 5000); /* NBIRTH, DBIRTH */

    /* report by exception: only the two changed node tags, then one device tag */
    tw_tag_set_double(temp, 21.25, TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(counter, 2, TW_QUALITY_GOOD, 0);
    tw_tag_set_double(setp, 10, TW_QUALITY_GOOD, 0); /* unchanged: not reported */
    assert_int_equal(tw_edge_publish(e), TW_OK);
    wait_msgs(e, 3, 5000);
    tw_tag_set_float(speed, 1600, TW_QUALITY_GOOD, 0);
    wait_msgs(e, 4, 5000); /* step wakes up on the device's tag set */
    tw_tag_set_quality(temp, TW_QUALITY_BAD_COMM_FAILURE, 0);
    wait_msgs(e, 5, 5000);

    msgs ms = decode_all();
    assert_true(ms.n >= 5);
    json_object *nb = jpayload(ms.m[0]);
    assert_string_equal(jtopic(ms.m[0]), "spBv1.0/" GROUP "/NBIRTH/" NODE);
    assert_int_equal(jint(jget(nb, "seq")), 0);
    json_object *bd = metric_by_name(nb, "bdSeq");
    assert_non_null(bd);
    assert_int_equal(jint(jget(bd, "value")), 0);
    json_object *rb = metric_by_name(nb, "Node Control/Rebirth");
    assert_non_null(rb);
    assert_false(json_object_get_boolean(jget(rb, "value")));
    json_object *mt = metric_by_name(nb, "Hydraulics/OilTemp");
    assert_non_null(mt);
    assert_string_equal(json_object_get_string(jget(mt, "type")), "Double");
    assert_true(json_object_get_double(jget(mt, "value")) == 20.5);
    json_object *props = jget(mt, "properties");
    assert_non_null(props);
    assert_string_equal(json_object_get_string(jget(jget(props, "engUnit"), "value")), "degC");
    assert_string_equal(json_object_get_string(jget(jget(props, "documentation"), "value")),
                        "Oil temperature");
    assert_int_equal(jint(jget(jget(props, "Quality"), "value")), 192);
    long long a_temp = jint(jget(mt, "alias"));
    long long a_counter = jint(jget(metric_by_name(nb, "Counters/Strokes"), "alias"));
    long long a_setp = jint(jget(metric_by_name(nb, "Setpoint"), "alias"));
    long long a_mode = jint(jget(metric_by_name(nb, "Mode"), "alias"));
    assert_string_equal(json_object_get_string(jget(metric_by_name(nb, "Counters/Strokes"), "type")), "Int64");
    assert_string_equal(json_object_get_string(jget(metric_by_name(nb, "Mode"), "value")), "auto");

    json_object *db = jpayload(ms.m[1]);
    assert_string_equal(jtopic(ms.m[1]), "spBv1.0/" GROUP "/DBIRTH/" NODE "/Pump1");
    json_object *msp = metric_by_name(db, "Speed");
    assert_non_null(msp);
    assert_string_equal(json_object_get_string(jget(msp, "type")), "Float");
    assert_string_equal(json_object_get_string(jget(jget(jget(msp, "properties"), "engUnit"), "value")), "rpm");
    long long a_speed = jint(jget(msp, "alias"));
    long long a_running = jint(jget(metric_by_name(db, "Running"), "alias"));
    /* aliases are unique across the edge node */
    long long all[] = {0, 1, a_temp, a_counter, a_setp, a_mode, a_speed, a_running};
    for (size_t i = 0; i < 8; i++)
        for (size_t k = i + 1; k < 8; k++) assert_true(all[i] != all[k]);
    assert_int_equal(jint(jget(bd, "alias")), 0);
    assert_int_equal(jint(jget(rb, "alias")), 1);

    json_object *nd = jpayload(ms.m[2]);
    assert_string_equal(jtopic(ms.m[2]), "spBv1.0/" GROUP "/NDATA/" NODE);
    assert_int_equal(metric_count(nd), 2);
    assert_null(metric_by_name(nd, "Hydraulics/OilTemp")); /* alias only */
    assert_true(json_object_get_double(jget(metric_by_alias(nd, a_temp), "value")) == 21.25);
    assert_int_equal(jint(jget(metric_by_alias(nd, a_counter), "value")), 2);
    json_object *dd = jpayload(ms.m[3]);
    assert_string_equal(jtopic(ms.m[3]), "spBv1.0/" GROUP "/DDATA/" NODE "/Pump1");
    assert_int_equal(metric_count(dd), 1);
    assert_true(json_object_get_double(jget(metric_by_alias(dd, a_speed), "value")) == 1600);
    json_object *nq = jpayload(ms.m[4]);
    json_object *mq = metric_by_alias(nq, a_temp);
    assert_non_null(mq);
    assert_int_equal(jint(jget(jget(jget(mq, "properties"), "Quality"), "value")), 0); /* bad */
    msgs_free(&ms);

    /* commands encoded by Tahu: a write by name (accepted, the callback sets the tag), a write by
     * alias to a tag whose callback refuses (its current value is published again), a write to a
     * read-only tag (refused), a device write */
    int before = sub_lines();
    char js[512];
    snprintf(js, sizeof js,
             "{\"timestamp\":1,\"metrics\":[{\"name\":\"Setpoint\",\"type\":\"Double\",\"value\":42.5},"
             "{\"alias\":%lld,\"type\":\"String\",\"value\":\"manual\"},"
             "{\"name\":\"Counters/Strokes\",\"type\":\"Int64\",\"value\":99}]}",
             a_mode);
    host_cmd("spBv1.0/" GROUP "/NCMD/" NODE, js);
    host_cmd("spBv1.0/" GROUP "/DCMD/" NODE "/Pump1",
             "{\"timestamp\":1,\"metrics\":[{\"name\":\"Running\",\"type\":\"Boolean\",\"value\":false}]}");
    wait_msgs(e, before + 2 + 2, 5000); /* the two commands + NDATA + DDATA */
    drive(e, 200);
    assert_int_equal(ev.commands, 4);
    assert_int_equal(ev.command_errors, 2);
    double sp = 0;
    assert_int_equal(tw_tag_get_double(setp, &sp, NULL, NULL), TW_OK);
    assert_true(sp == 42.5);
    ms = decode_all();
    int saw_setp = 0, saw_mode = 0, saw_running = 0, saw_counter = 0;
    for (size_t i = (size_t)before; i < ms.n; i++) {
        json_object *p = jpayload(ms.m[i]);
        if (is_type(ms.m[i], "NDATA")) {
            json_object *m = metric_by_alias(p, a_setp);
            if (m && json_object_get_double(jget(m, "value")) == 42.5) saw_setp++;
            m = metric_by_alias(p, a_mode);
            if (m && strcmp(json_object_get_string(jget(m, "value")), "auto") == 0) saw_mode++;
            m = metric_by_alias(p, a_counter);
            if (m && jint(jget(m, "value")) == 2) saw_counter++;
        } else if (is_type(ms.m[i], "DDATA")) {
            json_object *m = metric_by_alias(p, a_running);
            if (m && !json_object_get_boolean(jget(m, "value"))) saw_running++;
        }
    }
    assert_int_equal(saw_setp, 1);
    assert_int_equal(saw_mode, 1);    /* refused: the current value again */
    assert_int_equal(saw_counter, 1); /* read-only: the current value again */
    assert_int_equal(saw_running, 1);
    msgs_free(&ms);

    /* rebirth by command: NBIRTH (same bdSeq, seq 0) and DBIRTH again */
    before = sub_lines();
    host_cmd("spBv1.0/" GROUP "/NCMD/" NODE,
             "{\"timestamp\":1,\"metrics\":[{\"name\":\"Node Control/Rebirth\",\"type\":\"Boolean\",\"value\":true}]}");
    wait_msgs(e, before + 3, 5000);
    ms = decode_all();
    assert_true(is_type(ms.m[before], "NCMD"));
    assert_true(is_type(ms.m[before + 1], "NBIRTH"));
    assert_int_equal(jint(jget(metric_by_name(jpayload(ms.m[before + 1]), "bdSeq"), "value")), 0);
    assert_true(is_type(ms.m[before + 2], "DBIRTH"));
    assert_true(json_object_get_double(jget(metric_by_name(jpayload(ms.m[before + 1]), "Setpoint"), "value")) == 42.5);
    msgs_free(&ms);

    /* rebirth requested by the application */
    before = sub_lines();
    assert_int_equal(tw_edge_rebirth(e), TW_OK);
    assert_int_equal(tw_edge_timeout_ms(e), 0);
    wait_msgs(e, before + 2, 5000);
    ms = decode_all();
    assert_true(is_type(ms.m[before], "NBIRTH"));
    assert_int_equal(jint(jget(jpayload(ms.m[before]), "seq")), 0);
    assert_true(is_type(ms.m[before + 1], "DBIRTH"));
    msgs_free(&ms);

    /* seq wraps 255 -> 0 across many data messages */
    before = sub_lines();
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
        uint64_t m0 = st.messages_published;
        tw_tag_set_int64(counter, 1000 + i, TW_QUALITY_GOOD, 0);
        assert_int_equal(tw_edge_publish(e), TW_OK);
        /* one message per value (under back-pressure the tag set would coalesce them) */
        for (int k = 0; k < 250 && st.messages_published == m0; k++) {
            tw_edge_step(e, 20);
            assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
        }
        assert_true(st.messages_published > m0);
    }
    wait_msgs(e, before + 300, 10000);
    /* device offline/online: DDEATH then DBIRTH */
    assert_int_equal(tw_edge_device_set_online(e, "Pump1", 0), TW_OK);
    assert_int_equal(tw_edge_device_set_online(e, "Pump1", 1), TW_OK);
    wait_msgs(e, before + 302, 5000);
    ms = decode_all();
    check_seq(&ms);
    assert_true(is_type(ms.m[ms.n - 2], "DDEATH"));
    assert_true(is_type(ms.m[ms.n - 1], "DBIRTH"));
    long long last = -1;
    int values = 0;
    for (size_t i = (size_t)before; i < ms.n; i++) {
        json_object *m = is_type(ms.m[i], "NDATA") ? metric_by_alias(jpayload(ms.m[i]), a_counter) : NULL;
        if (!m) continue;
        long long v = jint(jget(m, "value"));
        assert_true(v > last);
        last = v;
        values++;
    }
    assert_int_equal(values, 300);
    assert_int_equal(last, 1299);
    msgs_free(&ms);

    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.state, TW_EDGE_ONLINE);
    assert_int_equal(st.births, 7);
    assert_int_equal(st.commands, 5);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.connects, 1);

    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    sub_stop();
    tw_tagset_free(ns);
    tw_tagset_free(ds);
}

/* NDEATH as will on an abrupt disconnect; bdSeq per session, persisted across restarts */
static void test_will_and_bdseq(void **state)
{
    (void)state;
    char *sd = twt_mkdtemp("tw-edge-state");
    tw_tagset *ns = NULL;
    tw_tag *t;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Value", TW_TYPE_INT32, NULL), TW_OK);
    tw_tag_set_int64(t, 7, TW_QUALITY_GOOD, 0);
    sub_start();

    tw_edge *e = edge_new(GROUP, NULL, sd, NULL);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    wait_msgs(e, 1, 5000);
    /* kill the socket under the client: the broker publishes the will */
    int fd = tw_edge_fd(e);
    assert_true(fd >= 0);
    assert_int_equal(shutdown(fd, SHUT_RDWR), 0);
    wait_msgs(e, 2, 5000);                       /* NDEATH (will) */
    drive_until_state(e, TW_EDGE_ONLINE, 10000); /* reconnected */
    wait_msgs(e, 3, 5000);                       /* NBIRTH */
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    wait_msgs(NULL, 4, 5000); /* explicit NDEATH */
    tw_edge_free(e);

    /* a restart with the same state directory continues the bdSeq sequence */
    e = edge_new(GROUP, NULL, sd, NULL);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    wait_msgs(e, 5, 5000);
    tw_edge_free(e); /* no clean stop: the will */
    wait_msgs(NULL, 6, 5000);

    msgs ms = decode_all();
    assert_int_equal(ms.n, 6);
    const char *want[] = {"NBIRTH", "NDEATH", "NBIRTH", "NDEATH", "NBIRTH", "NDEATH"};
    for (size_t i = 0; i < 6; i++) {
        if (!is_type(ms.m[i], want[i])) fail_msg("message %zu is %s, expected %s", i, jtopic(ms.m[i]), want[i]);
        json_object *bd = metric_by_name(jpayload(ms.m[i]), "bdSeq");
        assert_non_null(bd);
        assert_int_equal(jint(jget(bd, "value")), (long long)(i / 2));
        if (is_type(ms.m[i], "NDEATH")) assert_null(jget(jpayload(ms.m[i]), "seq"));
    }
    msgs_free(&ms);
    char *saved = twt_slurp(twt_path(0, sd, "sparkplug-bdseq"));
    assert_string_equal(saved, "2\n");
    free(saved);
    sub_stop();
    tw_tagset_free(ns);
    twt_rmtree(sd);
    free(sd);
}

/* An edge node configured with a group the ACL does not allow: the refusal is an error. */
static void test_acl_refusal_is_an_error(void **state)
{
    (void)state;
    events ev;
    memset(&ev, 0, sizeof ev);
    tw_tagset *ns = NULL;
    tw_tag *t;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Value", TW_TYPE_DOUBLE, NULL), TW_OK);
    sub_start();
    tw_edge *e = edge_new("OtherGroup", NULL, NULL, &ev);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    tw_status seen = TW_OK;
    for (int64_t end = tw__mono_ms() + 30000; tw__mono_ms() < end && seen == TW_OK;) {
        tw_status st = tw_edge_step(e, 10);
        if (st == TW_ERR_MQTT_NOT_AUTHORIZED) seen = st;
    }
    assert_int_equal(seen, TW_ERR_MQTT_NOT_AUTHORIZED);
    /* Mosquitto 2.0.11 with max_queued_messages 0 may close the connection right after the
     * refusal: the refusal itself is reported first */
    assert_true(ev.not_authorized >= 1);
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_true(st.refused >= 1);
    assert_true(log_wait("Denied PUBLISH", 3000));
    tw_edge_free(e);
    twt_sleep_ms(200);
    assert_int_equal(sub_lines(), 0); /* nothing got through */
    sub_stop();
    tw_tagset_free(ns);
}

/* Primary host offline and back: data produced meanwhile arrives flagged historical, in order. */
static void test_primary_host_offline_and_back(void **state)
{
    (void)state;
    events ev;
    memset(&ev, 0, sizeof ev);
    tw_tagset *ns = NULL;
    tw_tag *t;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    tw_tag_set_int64(t, 1, TW_QUALITY_GOOD, 0);
    const char *host = "SCADA1";
    uint64_t t0 = (uint64_t)(tw_now_ns() / 1000000);
    sub_start();
    tw_edge *e = edge_new(GROUP, host, NULL, &ev);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_WAITING_HOST, 10000);
    drive(e, 500);
    assert_int_equal(sub_lines(), 0); /* no birth before the host is online */

    host_state(host, 1, t0);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    wait_msgs(e, 2, 5000); /* STATE, NBIRTH */
    tw_tag_set_int64(t, 100, TW_QUALITY_GOOD, 0);
    wait_msgs(e, 3, 5000); /* live NDATA */

    /* host offline: the session ends (NDEATH, disconnect), the edge reconnects and waits */
    host_state(host, 0, t0 + 1);
    wait_msgs(e, 5, 5000); /* STATE offline, NDEATH */
    drive_until_state(e, TW_EDGE_WAITING_HOST, 5000);
    for (int i = 101; i <= 105; i++) {
        tw_tag_set_int64(t, i, TW_QUALITY_GOOD, 0);
        drive(e, 30);
    }
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.queue_depth, 5);
    /* a stale "online" (older timestamp) is ignored */
    host_state(host, 1, t0 - 5);
    wait_msgs(e, 6, 20000); /* the subscriber has the stale STATE too: the edge has seen it */
    drive(e, 500);
    assert_int_equal(tw_edge_state_get(e), TW_EDGE_WAITING_HOST);
    int before = sub_lines(); /* STATE x3 + NBIRTH + NDATA + NDEATH */
    assert_int_equal(before, 6);

    host_state(host, 1, t0 + 2);
    drive_until_state(e, TW_EDGE_ONLINE, 5000);
    wait_msgs(e, before + 3, 5000); /* STATE, NBIRTH, historical NDATA */
    tw_tag_set_int64(t, 106, TW_QUALITY_GOOD, 0);
    wait_msgs(e, before + 4, 5000);

    msgs ms = decode_all();
    check_seq(&ms);
    assert_true(is_type(ms.m[4], "NDEATH"));
    assert_int_equal(jint(jget(metric_by_name(jpayload(ms.m[4]), "bdSeq"), "value")), 0);
    assert_true(is_type(ms.m[before], "STATE"));
    assert_true(is_type(ms.m[before + 1], "NBIRTH"));
    /* a new session: the next bdSeq */
    assert_int_equal(jint(jget(metric_by_name(jpayload(ms.m[before + 1]), "bdSeq"), "value")), 1);
    json_object *c = metric_by_name(jpayload(ms.m[before + 1]), "Counter");
    assert_int_equal(jint(jget(c, "value")), 105);
    long long alias = jint(jget(c, "alias"));
    json_object *h = jpayload(ms.m[before + 2]);
    assert_true(is_type(ms.m[before + 2], "NDATA"));
    json_object *arr = jget(h, "metrics");
    assert_int_equal(json_object_array_length(arr), 5);
    for (size_t i = 0; i < 5; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        assert_int_equal(jint(jget(m, "alias")), alias);
        assert_int_equal(jint(jget(m, "value")), 101 + (long long)i);
        assert_true(json_object_get_boolean(jget(m, "isHistorical")));
        if (i) {
            assert_true(jint(jget(m, "timestamp")) >=
                        jint(jget(json_object_array_get_idx(arr, i - 1), "timestamp")));
        }
    }
    json_object *live = metric_by_alias(jpayload(ms.m[before + 3]), alias);
    assert_int_equal(jint(jget(live, "value")), 106);
    json_object *lh = jget(live, "isHistorical");
    assert_true(lh == NULL || !json_object_get_boolean(lh));
    msgs_free(&ms);
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.historical_published, 5);

    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    twt_sh("mosquitto_pub %s -q 1 -r -n -t 'spBv1.0/STATE/%s'", host_tls(), host);
    sub_stop();
    tw_tagset_free(ns);
}

/* With a tw_store, history survives a restart of the edge: produced while the host was offline,
 * kept on disk, published flagged historical after the next process's birth, then trimmed. */
static void test_history_store_survives_restart(void **state)
{
    (void)state;
    char *sd = twt_mkdtemp("tw-edge-hist");
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = sd;
    tw_store *store = NULL;
    assert_int_equal(tw_store_new(&store, &so), TW_OK);
    tw_tagset *ns = NULL;
    tw_tag *t;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ns, NULL, "Label", TW_TYPE_STRING, NULL), TW_OK);
    tw_tag_set_int64(t, 1, TW_QUALITY_GOOD, 0);
    const char *host = "SCADA2";
    uint64_t t0 = (uint64_t)(tw_now_ns() / 1000000);
    host_state(host, 1, t0);
    sub_start();
    tw_edge_options o;
    tw_tls_config *tls = tls_config();
    memset(&o, 0, sizeof o);
    tw_edge_options init = TW_EDGE_OPTIONS_INIT;
    o = init;
    o.group_id = GROUP;
    o.edge_node_id = NODE;
    o.primary_host_id = host;
    o.host = "127.0.0.1";
    o.port = g_port;
    o.tls = tls;
    o.store = store;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 200;
    tw_edge *e = NULL;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    /* STATE (retained), NBIRTH, and the value set before the first birth, which the store took
     * (flagged historical: a duplicate of the birth's value, same timestamp) */
    wait_msgs(e, 3, 5000);
    tw_store_stats ss;
    memset(&ss, 0, sizeof ss);
    ss.version = TW_STORE_STATS_VERSION;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
        if (ss.records == 0) break;
        drive(e, 20);
    }
    assert_int_equal(ss.records, 0);
    host_state(host, 0, t0 + 1);
    wait_msgs(e, 5, 5000); /* STATE, NDEATH */
    drive_until_state(e, TW_EDGE_WAITING_HOST, 5000);
    for (int i = 201; i <= 205; i++) {
        tw_tag_set_int64(t, i, TW_QUALITY_GOOD, 0);
        drive(e, 30);
    }
    tw_tag_set_string(tw_tagset_find(ns, "Label"), "on disk", TW_QUALITY_GOOD, 0);
    drive(e, 30);
    assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
    assert_int_equal(ss.records, 6);
    /* the process ends (no clean stop) and starts again with the same store */
    tw_edge_free(e);
    tw_store_free(store);
    tw_tagset_free(ns);
    wait_msgs(NULL, 6, 5000); /* the will (NDEATH) of the waiting session */
    assert_int_equal(tw_store_new(&store, &so), TW_OK);
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ns, NULL, "Label", TW_TYPE_STRING, NULL), TW_OK);
    tw_tag_set_int64(t, 300, TW_QUALITY_GOOD, 0);
    o.store = store;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    tw_tls_config_free(tls);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_WAITING_HOST, 10000);
    int before = sub_lines();
    host_state(host, 1, t0 + 2);
    wait_msgs(e, before + 3, 5000); /* STATE, NBIRTH, historical NDATA */
    drive(e, 300);
    msgs ms = decode_all();
    check_seq(&ms);
    assert_true(is_type(ms.m[before + 1], "NBIRTH"));
    json_object *nb = jpayload(ms.m[before + 1]);
    assert_int_equal(jint(jget(metric_by_name(nb, "Counter"), "value")), 300);
    long long a_counter = jint(jget(metric_by_name(nb, "Counter"), "alias"));
    long long a_label = jint(jget(metric_by_name(nb, "Label"), "alias"));
    json_object *arr = jget(jpayload(ms.m[before + 2]), "metrics");
    /* the 6 changes of the first process, then the value set before this process's first birth
     * (stored: a historical duplicate of the birth's value with the same timestamp) */
    assert_int_equal(json_object_array_length(arr), 7);
    json_object *dup = json_object_array_get_idx(arr, 6);
    assert_int_equal(jint(jget(dup, "value")), 300);
    assert_true(json_object_get_boolean(jget(dup, "isHistorical")));
    assert_int_equal(jint(jget(dup, "timestamp")), jint(jget(metric_by_name(nb, "Counter"), "timestamp")));
    for (size_t i = 0; i < 5; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        assert_int_equal(jint(jget(m, "alias")), a_counter);
        assert_int_equal(jint(jget(m, "value")), 201 + (long long)i);
        assert_true(json_object_get_boolean(jget(m, "isHistorical")));
    }
    json_object *lm = json_object_array_get_idx(arr, 5);
    assert_int_equal(jint(jget(lm, "alias")), a_label);
    assert_string_equal(json_object_get_string(jget(lm, "value")), "on disk");
    msgs_free(&ms);
    /* confirmed by the broker: trimmed from the store */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
        if (ss.records == 0) break;
        drive(e, 20);
    }
    assert_int_equal(ss.records, 0);
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    tw_store_free(store);
    tw_tagset_free(ns);
    twt_sh("mosquitto_pub %s -q 1 -r -n -t 'spBv1.0/STATE/%s'", host_tls(), host);
    sub_stop();
    twt_rmtree(sd);
    free(sd);
}


/* Stored history of a device that is offline when it is replayed is held back (not published,
 * not acknowledged) and published, flagged historical, once the device is online again. */
static void test_store_holds_offline_device_history(void **state)
{
    (void)state;
    char *sd = twt_mkdtemp("tw-edge-hold");
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = sd;
    tw_store *store = NULL;
    assert_int_equal(tw_store_new(&store, &so), TW_OK);
    tw_tagset *ns = NULL, *ds = NULL;
    tw_tag *t, *speed;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_new(&ds), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &t, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ds, &speed, "Speed", TW_TYPE_INT32, NULL), TW_OK);
    tw_tag_set_int64(t, 1, TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(speed, 10, TW_QUALITY_GOOD, 0);
    const char *host = "SCADA3";
    uint64_t t0 = (uint64_t)(tw_now_ns() / 1000000);
    host_state(host, 1, t0);
    sub_start();
    tw_tls_config *tls = tls_config();
    tw_edge_options o = TW_EDGE_OPTIONS_INIT;
    o.group_id = GROUP;
    o.edge_node_id = NODE;
    o.primary_host_id = host;
    o.host = "127.0.0.1";
    o.port = g_port;
    o.tls = tls;
    o.store = store;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 200;
    tw_edge *e = NULL;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    tw_tls_config_free(tls);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_add_device(e, "Pump1", ds), TW_OK);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    wait_msgs(e, 3, 5000); /* STATE (retained), NBIRTH, DBIRTH */
    host_state(host, 0, t0 + 1);
    wait_msgs(e, 5, 5000); /* STATE, NDEATH */
    drive_until_state(e, TW_EDGE_WAITING_HOST, 5000);
    for (int i = 11; i <= 13; i++) {
        tw_tag_set_int64(speed, i, TW_QUALITY_GOOD, 0);
        drive(e, 30);
    }
    tw_store_stats ss;
    memset(&ss, 0, sizeof ss);
    ss.version = TW_STORE_STATS_VERSION;
    assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
    assert_int_equal(ss.records, 3);
    /* the device goes offline before the host is back: its history is held */
    assert_int_equal(tw_edge_device_set_online(e, "Pump1", 0), TW_OK);
    int before = sub_lines();
    host_state(host, 1, t0 + 2);
    wait_msgs(e, before + 2, 5000); /* STATE, NBIRTH */
    drive(e, 500);
    assert_int_equal(sub_lines(), before + 2); /* no DBIRTH, no DDATA */
    assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
    assert_int_equal(ss.records, 3); /* not acknowledged */
    /* back online: DBIRTH, then the held history, flagged historical, in order */
    assert_int_equal(tw_edge_device_set_online(e, "Pump1", 1), TW_OK);
    wait_msgs(e, before + 4, 5000);
    msgs ms = decode_all();
    check_seq(&ms);
    assert_true(is_type(ms.m[before + 2], "DBIRTH"));
    assert_true(is_type(ms.m[before + 3], "DDATA"));
    json_object *arr = jget(jpayload(ms.m[before + 3]), "metrics");
    assert_int_equal(json_object_array_length(arr), 3);
    for (size_t i = 0; i < 3; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        assert_int_equal(jint(jget(m, "value")), 11 + (long long)i);
        assert_true(json_object_get_boolean(jget(m, "isHistorical")));
    }
    msgs_free(&ms);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tw_store_stats_get(store, &ss), TW_OK);
        if (ss.records == 0) break;
        drive(e, 20);
    }
    assert_int_equal(ss.records, 0); /* delivered and confirmed: trimmed */
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    tw_store_free(store);
    tw_tagset_free(ns);
    tw_tagset_free(ds);
    twt_sh("mosquitto_pub %s -q 1 -r -n -t 'spBv1.0/STATE/%s'", host_tls(), host);
    sub_stop();
    twt_rmtree(sd);
    free(sd);
}

/* tagwire sub (the CLI) as the host: decoded messages, and the live table resolving aliases */
static void test_cli_sub(void **state)
{
    (void)state;
    tw_tagset *ns = NULL, *ds = NULL;
    tw_tag *temp, *speed;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_new(&ds), TW_OK);
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    to.unit = "degC";
    assert_int_equal(tw_tagset_add(ns, &temp, "Hydraulics/OilTemp", TW_TYPE_DOUBLE, &to), TW_OK);
    to.unit = "rpm";
    assert_int_equal(tw_tagset_add(ds, &speed, "Speed", TW_TYPE_INT32, &to), TW_OK);
    tw_tag_set_double(temp, 20.5, TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(speed, 1500, TW_QUALITY_GOOD, 0);

    char url[64], out1[1024], out2[1024], ca[512], cert[512], key[512];
    snprintf(url, sizeof url, "mqtts://127.0.0.1:%u", (unsigned)g_port);
    snprintf(out1, sizeof out1, "%s/cli-text.out", g_dir);
    snprintf(out2, sizeof out2, "%s/cli-table.out", g_dir);
    snprintf(ca, sizeof ca, "%s", P(0, "ca.pem"));
    snprintf(cert, sizeof cert, "%s", P(0, "client2.pem"));
    snprintf(key, sizeof key, "%s", P(0, "client2.key"));
    char *a1[] = {TW_CLI_BIN, "sub", "--broker", url, "--ca", ca, "--cert", cert, "--key", key,
                  "--client-id", "cli-text", "--count", "4", "--seconds", "30", "spBv1.0/" GROUP "/#", NULL};
    char *a2[] = {TW_CLI_BIN, "sub", "--broker", url, "--ca", ca, "--cert", cert, "--key", key,
                  "--client-id", "cli-table", "--table", "--count", "4", "--seconds", "30", NULL};
    pid_t p1 = twt_spawn(a1, out1), p2 = twt_spawn(a2, out2);
    assert_true(p1 > 0 && p2 > 0);
    if (!log_wait("Sending SUBACK to cli-text", 5000) || !log_wait("Sending SUBACK to cli-table", 5000)) {
        twt_stop(p1);
        twt_stop(p2);
        fail_msg("tagwire sub did not subscribe");
    }
    tw_edge *e = edge_new(GROUP, NULL, NULL, NULL);
    tw_edge_set_node_tags(e, ns);
    tw_edge_add_device(e, "Pump1", ds);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    drive(e, 100);
    tw_tag_set_double(temp, 21.75, TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(speed, 1600, TW_QUALITY_BAD_COMM_FAILURE, 0);
    drive(e, 300);
    int s1 = -1, s2 = -1;
    for (int i = 0; i < 100; i++) {
        if (waitpid(p1, &s1, WNOHANG) == p1) p1 = -1;
        if (waitpid(p2, &s2, WNOHANG) == p2) p2 = -1;
        if (p1 < 0 && p2 < 0) break;
        drive(e, 50);
    }
    if (p1 > 0) twt_stop(p1);
    if (p2 > 0) twt_stop(p2);
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    tw_tagset_free(ns);
    tw_tagset_free(ds);
    char *t1 = twt_slurp(out1), *t2 = twt_slurp(out2);
    if (p1 > 0 || p2 > 0 || !WIFEXITED(s1) || WEXITSTATUS(s1) != 0 || !WIFEXITED(s2) ||
        WEXITSTATUS(s2) != 0)
        fail_msg("tagwire sub did not exit 0 after 4 messages:\n%s\n%s", t1, t2);
    assert_non_null(strstr(t1, "spBv1.0/" GROUP "/NBIRTH/" NODE "\n"));
    assert_non_null(strstr(t1, "spBv1.0/" GROUP "/DBIRTH/" NODE "/Pump1\n"));
    assert_non_null(strstr(t1, "spBv1.0/" GROUP "/NDATA/" NODE "\n"));
    assert_non_null(strstr(t1, "\"Hydraulics/OilTemp\""));
    assert_non_null(strstr(t1, "21.75"));
    /* the table: names resolved from the births, latest values, units, quality */
    char *l = strstr(t2, "Hydraulics/OilTemp");
    if (!l) fail_msg("no OilTemp row in:\n%s", t2);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
    assert_non_null(strstr(line, "21.75"));
    assert_non_null(strstr(line, "degC"));
    assert_non_null(strstr(line, "good"));
    l = strstr(t2, "Speed");
    assert_non_null(l);
    snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
    assert_non_null(strstr(line, "1600"));
    assert_non_null(strstr(line, "rpm"));
    assert_non_null(strstr(line, "bad"));
    assert_non_null(strstr(t2, GROUP "/" NODE "/Pump1"));
    free(t1);
    free(t2);
}

/* A broker that announces a small maximum packet size (MQTT 5 CONNACK, Mosquitto's
 * max_packet_size): a DATA message too large for it is split, a single metric too large is dropped,
 * counted and reported, and the queue keeps flowing (it used to stay blocked on that record). */
static void test_broker_max_packet_size(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    char log2[1024], conf[1024];
    snprintf(log2, sizeof log2, "%s/mosquitto-small.log", g_dir);
    snprintf(conf, sizeof conf, "%s", P(0, "mosquitto-small.conf"));
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "per_listener_settings false\nuser root\nmax_queued_messages 0\npersistence false\n"
            "max_packet_size 2048\nlog_dest file %s\nlog_type all\n"
            "listener %u 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
            "require_certificate true\nuse_identity_as_username true\nacl_file %s\n",
            log2, (unsigned)port, P(1, "ca.pem"), P(2, "server.pem"), P(3, "server.key"), P(4, "mosquitto.acl"));
    fclose(f);
    char *argv[] = {access("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto",
                    "-c", conf, NULL};
    pid_t broker = twt_spawn(argv, P(0, "mosquitto-small.out"));
    assert_true(broker > 0);
    if (!twt_wait_listen(port, 5000)) {
        twt_stop(broker);
        fail_msg("mosquitto (max_packet_size 2048) did not start");
    }
    tw_tagset *ns = NULL;
    tw_tag *text, *count;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    to.max_len = 4000;
    assert_int_equal(tw_tagset_add(ns, &text, "Log/Line", TW_TYPE_STRING, &to), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &count, "Count", TW_TYPE_INT64, NULL), TW_OK);
    tw_tag_set_string(text, "start", TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(count, 1, TW_QUALITY_GOOD, 0);
    uint16_t saved = g_port;
    g_port = port;
    tw_edge *e = edge_new(GROUP, NULL, NULL, NULL);
    g_port = saved;
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    drive(e, 200);
    tw_edge_stats st;
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    uint64_t m0 = st.metrics_published, d0 = st.queue_dropped;
    /* one message with both: too large for the broker; split, the counter goes out alone */
    char big[3001];
    memset(big, 'x', 3000);
    big[3000] = '\0';
    assert_int_equal(tw_tag_set_string(text, big, TW_QUALITY_GOOD, 0), TW_OK);
    assert_int_equal(tw_tag_set_int64(count, 2, TW_QUALITY_GOOD, 0), TW_OK);
    drive(e, 300);
    tw_tag_set_string(text, "small again", TW_QUALITY_GOOD, 0);
    tw_tag_set_int64(count, 3, TW_QUALITY_GOOD, 0);
    drive(e, 300);
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.state, TW_EDGE_ONLINE);
    assert_int_equal(st.queue_dropped, d0 + 1);        /* the 3000-byte value only */
    assert_int_equal(st.metrics_published, m0 + 3);    /* count 2, then "small again" and 3 */
    assert_non_null(strstr(tw_edge_last_error(e), "does not fit a DATA message"));
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    tw_tagset_free(ns);
    /* the broker saw the later DATA messages, all within its limit, and never a larger one */
    char *lg = twt_slurp(log2);
    int ndata = 0;
    for (const char *l = strstr(lg, "'spBv1.0/" GROUP "/NDATA/" NODE "'"); l;
         l = strstr(l + 1, "'spBv1.0/" GROUP "/NDATA/" NODE "'")) {
        const char *b = strstr(l, "... (");
        assert_non_null(b);
        assert_true(atoi(b + 5) < 2048);
        ndata++;
    }
    twt_stop(broker);
    if (ndata < 2) fail_msg("%d NDATA at the broker:\n%s", ndata, lg);
    free(lg);
}

/* tagwire sub --table --interval without a terminal: a periodic snapshot of the latest values
 * (for scripts and logs), each headed by a time line */
static void test_cli_sub_table_interval(void **state)
{
    (void)state;
    tw_tagset *ns = NULL;
    tw_tag *temp;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    to.unit = "degC";
    assert_int_equal(tw_tagset_add(ns, &temp, "Hydraulics/OilTemp", TW_TYPE_DOUBLE, &to), TW_OK);
    tw_tag_set_double(temp, 20.5, TW_QUALITY_GOOD, 0);
    char url[64], out[1024], ca[512], cert[512], key[512];
    snprintf(url, sizeof url, "mqtts://127.0.0.1:%u", (unsigned)g_port);
    snprintf(out, sizeof out, "%s/cli-interval.out", g_dir);
    snprintf(ca, sizeof ca, "%s", P(0, "ca.pem"));
    snprintf(cert, sizeof cert, "%s", P(0, "client2.pem"));
    snprintf(key, sizeof key, "%s", P(0, "client2.key"));
    char *a[] = {TW_CLI_BIN, "sub", "--broker", url, "--ca", ca, "--cert", cert, "--key", key,
                 "--client-id", "cli-interval", "--table", "--interval", "0.5", "--seconds", "4",
                 "spBv1.0/" GROUP "/#", NULL};
    pid_t p = twt_spawn(a, out);
    assert_true(p > 0);
    if (!log_wait("Sending SUBACK to cli-interval", 5000)) {
        twt_stop(p);
        fail_msg("tagwire sub did not subscribe");
    }
    tw_edge *e = edge_new(GROUP, NULL, NULL, NULL);
    tw_edge_set_node_tags(e, ns);
    assert_int_equal(tw_edge_start(e), TW_OK);
    drive_until_state(e, TW_EDGE_ONLINE, 10000);
    tw_tag_set_double(temp, 21.75, TW_QUALITY_GOOD, 0);
    drive(e, 1500);
    tw_tag_set_double(temp, 22.5, TW_QUALITY_GOOD, 0);
    int status = -1;
    for (int i = 0; i < 200 && p > 0; i++) { /* the subscriber ends after its 4 s */
        if (waitpid(p, &status, WNOHANG) == p) p = -1;
        else drive(e, 50);
    }
    if (p > 0) twt_stop(p);
    assert_int_equal(tw_edge_stop(e, 5000), TW_OK);
    tw_edge_free(e);
    tw_tagset_free(ns);
    char *t = twt_slurp(out);
    if (p > 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("tagwire sub failed:\n%s", t);
    /* snapshots every 0.5 s over 4 s (and one at the end): several, each with a time line */
    int snaps = 0;
    const char *first_new = NULL, *last_snap = NULL;
    for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (!strncmp(l, "# ", 2)) {
            snaps++;
            last_snap = l;
        }
        if (!first_new && !strncmp(l, GROUP "/" NODE "  Hydraulics/OilTemp", strlen(GROUP "/" NODE "  Hydraulics/OilTemp")) &&
            strstr(l, "22.5") && strstr(l, "22.5") < strchr(l, '\n'))
            first_new = l;
    }
    if (snaps < 4) fail_msg("%d snapshots:\n%s", snaps, t);
    assert_non_null(strstr(t, "metric"));
    /* the earlier value in an earlier snapshot, the later one in the last */
    const char *old_v = strstr(t, "21.75");
    if (!old_v || !first_new || old_v > first_new) fail_msg("values not in successive snapshots:\n%s", t);
    if (!strstr(last_snap, "22.5")) fail_msg("the last snapshot lacks the latest value:\n%s", t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_births_data_commands_rebirth),
        cmocka_unit_test(test_will_and_bdseq),
        cmocka_unit_test(test_acl_refusal_is_an_error),
        cmocka_unit_test(test_primary_host_offline_and_back),
        cmocka_unit_test(test_history_store_survives_restart),
        cmocka_unit_test(test_store_holds_offline_device_history),
        cmocka_unit_test(test_cli_sub),
        cmocka_unit_test(test_cli_sub_table_interval),
        cmocka_unit_test(test_broker_max_packet_size),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
