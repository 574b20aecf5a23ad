/*
 * Unit tests of the edge node session without a broker: option checks, the durable bdSeq,
 * device registration, and incoming commands / STATE delivered through the private hook
 * tw__edge_inject_message() (commands encoded with tagwire's own encoder; the interop test
 * tests/edge checks the same paths against Tahu-encoded commands and a real broker).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "sparkplug/sp_edge_internal.h"
#include "tagwire/sparkplug.h"
#include "tagwire/store.h"
#include "tagwire/tag.h"

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

static tw_edge_options opts(void)
{
    tw_edge_options o = TW_EDGE_OPTIONS_INIT;
    o.group_id = "G";
    o.edge_node_id = "E";
    o.host = "127.0.0.1";
    o.port = twt_free_port(); /* nothing listens: connects fail and are retried */
    o.insecure = 1;
    return o;
}

static void test_options(void **state)
{
    (void)state;
    tw_edge *e = (tw_edge *)1;
    tw_edge_options o = opts();
    assert_int_equal(tw_edge_new(&e, NULL), TW_ERR_INVALID_ARG);
    assert_null(e);
    o.version = 99;
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("edge", "tw_edge_options version 99");
    o = opts();
    o.group_id = "a+b";
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    TWT_ASSERT_LAST_ERROR("edge", "invalid group_id");
    o = opts();
    o.edge_node_id = "";
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    o = opts();
    o.primary_host_id = "h/x";
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    o = opts();
    o.insecure = 0; /* no TLS configuration: refused, never silently plaintext */
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_TLS_INSECURE);
    TWT_ASSERT_LAST_ERROR("edge", "no TLS configuration");
    o = opts();
    o.qos = 2;
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    o.qos = -1; /* no longer a value: 0 is the default, TW_EDGE_QOS0 the strict choice */
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    o = opts();
    o.protocol_version = 3;
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    o = opts();
    o.port = 0;
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG);
    TWT_ASSERT_LAST_ERROR("edge", "host and port are required");
    /* a state_dir whose stored bdSeq cannot be read: the file and the reason are named */
    char *dir = twt_mkdtemp("edge_err");
    assert_int_equal(twt_sh("printf x > '%s/file'", dir), 0);
    o = opts();
    o.state_dir = twt_path(0, dir, "file");
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_IO);
    assert_null(e);
    TWT_ASSERT_LAST_ERROR("edge", "/file/");
    TWT_ASSERT_LAST_ERROR("edge", "Not a directory");
    twt_rmtree(dir);
    free(dir);
    o = opts();
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_state_get(e), TW_EDGE_STOPPED);
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(tw_edge_stats_get(e, &st), TW_ERR_VERSION);
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.state, TW_EDGE_STOPPED);
    assert_string_equal(tw_edge_last_error(e), "");
    assert_string_equal(tw_edge_state_name(TW_EDGE_WAITING_HOST), "waiting-host");
    tw_edge_free(e);
}

static void test_devices(void **state)
{
    (void)state;
    tw_tagset *a, *b;
    assert_int_equal(tw_tagset_new(&a), TW_OK);
    assert_int_equal(tw_tagset_new(&b), TW_OK);
    tw_edge_options o = opts();
    tw_edge *e;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "D1", a), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "D1", b), TW_ERR_EXISTS);
    assert_int_equal(tw_edge_add_device(e, "D2", a), TW_ERR_EXISTS); /* same tag set */
    assert_int_equal(tw_edge_add_device(e, "D#", b), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_edge_set_node_tags(e, a), TW_ERR_EXISTS);
    assert_int_equal(tw_edge_set_node_tags(e, b), TW_OK);
    assert_int_equal(tw_edge_device_set_online(e, "D1", 0), TW_OK);
    assert_int_equal(tw_edge_device_set_online(e, "D1", 0), TW_OK);
    assert_int_equal(tw_edge_device_set_online(e, "nope", 1), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_edge_remove_device(e, "nope"), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_edge_remove_device(e, "D1"), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "D2", a), TW_OK);
    tw_edge_free(e);
    tw_tagset_free(a);
    tw_tagset_free(b);
}

/* A STRING/BYTES tag whose values could never be published is refused at registration; the limit
 * is what one worst-case DATA metric really needs (checked with the encoder). */
static void test_value_length_limit(void **state)
{
    (void)state;
    tw_edge_options o = opts();
    tw_edge *e;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    size_t lim = tw_edge_max_value_len(e);
    assert_int_equal(lim, (64u << 10) - TW_EDGE_VALUE_OVERHEAD);
    assert_int_equal(tw_edge_max_value_len(NULL), 0);

    tw_tagset *ok, *big, *node;
    assert_int_equal(tw_tagset_new(&ok), TW_OK);
    assert_int_equal(tw_tagset_new(&big), TW_OK);
    assert_int_equal(tw_tagset_new(&node), TW_OK);
    tw_tag_options to = TW_TAG_OPTIONS_INIT;
    tw_tag *fits, *b;
    to.max_len = lim;
    assert_int_equal(tw_tagset_add(ok, &fits, "Recipe/Text", TW_TYPE_STRING, &to), TW_OK);
    assert_int_equal(tw_tagset_add(ok, NULL, "Speed", TW_TYPE_DOUBLE, NULL), TW_OK);
    to.max_len = lim + 1;
    assert_int_equal(tw_tagset_add(big, NULL, "Short", TW_TYPE_STRING, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(big, &b, "Image/Thumbnail", TW_TYPE_BYTES, &to), TW_OK);
    assert_int_equal(tw_tagset_add(node, NULL, "Log/Line", TW_TYPE_STRING, &to), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "Cam", big), TW_ERR_RANGE);
    char want[200];
    snprintf(want, sizeof want, "device 'Cam': tag 'Image/Thumbnail': max_len %zu bytes exceeds %zu", lim + 1, lim);
    if (!strstr(tw_edge_last_error(e), want)) fail_msg("last error: %s", tw_edge_last_error(e));
    assert_int_equal(tw_edge_set_node_tags(e, node), TW_ERR_RANGE);
    assert_non_null(strstr(tw_edge_last_error(e), "tag 'Log/Line'"));
    assert_int_equal(tw_edge_add_device(e, "Cam", ok), TW_OK); /* the refused set left no trace */
    assert_int_equal(tw_edge_add_device(e, "Cam2", big), TW_ERR_RANGE);
    /* the setter enforces max_len: a value one byte longer than the limit never gets in */
    char *text = malloc(lim + 2);
    assert_non_null(text);
    memset(text, 'x', lim + 1);
    text[lim + 1] = '\0';
    assert_int_equal(tw_tag_set_string(fits, text, TW_QUALITY_GOOD, 0), TW_ERR_RANGE);
    text[lim] = '\0';
    assert_int_equal(tw_tag_set_string(fits, text, TW_QUALITY_GOOD, 0), TW_OK);
    /* the longest accepted value, in the worst-case DATA metric (largest alias and timestamps,
     * every flag, a bad quality, seq 255), fits max_payload */
    uint8_t *buf = malloc(64u << 10);
    assert_non_null(buf);
    tw_sp_metric m;
    memset(&m, 0, sizeof m);
    m.alias = UINT64_MAX;
    m.ts_ms = INT64_MAX;
    m.value.type = TW_TYPE_STRING;
    m.value.as.buf.ptr = text;
    m.value.as.buf.len = lim;
    m.quality = TW_QUALITY_BAD_COMM_FAILURE;
    m.flags = TW_SP_METRIC_HISTORICAL | TW_SP_METRIC_TRANSIENT | TW_SP_METRIC_QUALITY;
    size_t len = 0;
    assert_int_equal(tw_sp_encode_data(buf, 64u << 10, &len, INT64_MAX, 255, &m, 1), TW_OK);
    assert_true(len <= (64u << 10));
    m.value.type = TW_TYPE_BYTES;
    assert_int_equal(tw_sp_encode_data(buf, 64u << 10, &len, INT64_MAX, 255, &m, 1), TW_OK);
    free(buf);
    free(text);
    tw_edge_free(e);
    /* a small memory queue bounds it too */
    o = opts();
    o.queue_bytes = 2048;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_max_value_len(e), 2048 - 64 - TW_EDGE_VALUE_OVERHEAD);
    assert_int_equal(tw_edge_add_device(e, "Cam", ok), TW_ERR_RANGE);
    tw_edge_free(e);
    tw_tagset_free(ok);
    tw_tagset_free(big);
    tw_tagset_free(node);
}

static char *read_file(const char *path)
{
    static char buf[64];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* bdSeq: saved before every connect attempt, continued across edges, corrupt files refused */
static void test_bdseq_persistence(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("tw-edge-unit");
    const char *file = twt_path(0, dir, "sparkplug-bdseq");
    tw_edge_options o = opts();
    o.state_dir = dir;
    o.reconnect_min_ms = 1;
    o.reconnect_max_ms = 2;
    tw_edge *e;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_null(read_file(file)); /* nothing before start */
    assert_int_equal(tw_edge_start(e), TW_OK);
    assert_int_equal(tw_edge_start(e), TW_ERR_BUSY);
    assert_string_equal(read_file(file), "0\n");
    /* connection refused, retried: each attempt is a new session with a new bdSeq */
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    for (int i = 0; i < 300; i++) {
        tw_edge_step(e, 5);
        assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
        if (st.bdseq >= 2) break;
    }
    assert_true(st.bdseq >= 2);
    assert_int_equal(st.connects, 0);
    char want[8];
    snprintf(want, sizeof want, "%u\n", (unsigned)st.bdseq);
    assert_string_equal(read_file(file), want);
    assert_int_not_equal(tw_edge_last_status(e), TW_OK);
    assert_int_equal(tw_edge_stop(e, 100), TW_OK);
    tw_edge_free(e);

    /* a new edge continues after the stored value; 255 wraps to 0 */
    FILE *f = fopen(file, "w");
    fputs("255\n", f);
    fclose(f);
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_start(e), TW_OK);
    assert_string_equal(read_file(file), "0\n");
    tw_edge_free(e);

    f = fopen(file, "w");
    fputs("x12\n", f);
    fclose(f);
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_CORRUPT);
    f = fopen(file, "w");
    fputs("256\n", f);
    fclose(f);
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_CORRUPT);

    /* a state directory that cannot be written: start fails, nothing is connected */
    unlink(file);
    o.state_dir = twt_path(1, dir, "missing/dir");
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_not_equal(tw_edge_start(e), TW_OK);
    assert_int_equal(tw_edge_state_get(e), TW_EDGE_STOPPED);
    tw_edge_free(e);
    twt_rmtree(dir);
    free(dir);
}

/* bdSeq kept in a tw_store (disk back end): survives closing and reopening the store */
static void test_bdseq_in_store(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("tw-edge-store");
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = twt_path(0, dir, "store");
    tw_store *store = NULL;
    assert_int_equal(tw_store_new(&store, &so), TW_OK);
    tw_edge_options o = opts();
    o.store = store;
    o.state_dir = dir;
    tw_edge *e;
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_INVALID_ARG); /* one place only */
    o.state_dir = NULL;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_start(e), TW_OK);
    uint64_t v = 99;
    assert_int_equal(tw_store_state_get_u64(store, "sparkplug-bdseq", &v), TW_OK);
    assert_int_equal(v, 0);
    tw_edge_free(e);
    tw_store_free(store);
    assert_int_equal(tw_store_new(&store, &so), TW_OK);
    o.store = store;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    assert_int_equal(tw_edge_start(e), TW_OK);
    assert_int_equal(tw_store_state_get_u64(store, "sparkplug-bdseq", &v), TW_OK);
    assert_int_equal(v, 1);
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.bdseq, 1);
    tw_edge_free(e);
    /* a value out of range is refused */
    assert_int_equal(tw_store_state_set_u64(store, "sparkplug-bdseq", 300), TW_OK);
    assert_int_equal(tw_edge_new(&e, &o), TW_ERR_CORRUPT);
    tw_store_free(store);
    twt_rmtree(dir);
    free(dir);
}

typedef struct rec {
    int commands, errors, host_events, last_online;
    tw_status last;
    char metric[64];
    int writes;
    double written;
} rec;

static void on_event(tw_edge *e, const tw_edge_event *ev, void *ud)
{
    rec *r = ud;
    (void)e;
    if (ev->type == TW_EDGE_EVENT_COMMAND) {
        r->commands++;
        if (ev->status != TW_OK) r->errors++;
        r->last = ev->status;
        snprintf(r->metric, sizeof r->metric, "%s", ev->metric ? ev->metric : "");
    } else if (ev->type == TW_EDGE_EVENT_HOST) {
        r->host_events++;
        r->last_online = ev->host_online;
    }
}

static tw_status on_write(tw_tag *tag, const tw_value *v, void *ud)
{
    rec *r = ud;
    (void)tag;
    r->writes++;
    r->written = v->as.d;
    return TW_OK;
}

static void inject_cmd(tw_edge *e, const char *topic, const tw_sp_metric *m, size_t n)
{
    uint8_t buf[512];
    size_t len = 0;
    assert_int_equal(tw_sp_encode_data(buf, sizeof buf, &len, 1, 0, m, n), TW_OK);
    tw__edge_inject_message(e, topic, strlen(topic), buf, len);
}

static void test_commands_and_state(void **state)
{
    (void)state;
    rec r;
    memset(&r, 0, sizeof r);
    tw_tagset *ns, *ds;
    tw_tag *sp, *ro, *dv;
    assert_int_equal(tw_tagset_new(&ns), TW_OK);
    assert_int_equal(tw_tagset_new(&ds), TW_OK);
    tw_tag_options rw = TW_TAG_OPTIONS_INIT;
    rw.access = TW_ACCESS_READ_WRITE;
    assert_int_equal(tw_tagset_add(ns, &sp, "Setpoint", TW_TYPE_DOUBLE, &rw), TW_OK);
    assert_int_equal(tw_tagset_add(ns, &ro, "Counter", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ds, &dv, "Valve", TW_TYPE_DOUBLE, &rw), TW_OK);
    tw_tagset_set_write_cb(ns, on_write, &r);
    tw_tagset_set_write_cb(ds, on_write, &r);
    tw_edge_options o = opts();
    o.primary_host_id = "H";
    tw_edge *e;
    assert_int_equal(tw_edge_new(&e, &o), TW_OK);
    tw_edge_set_event_cb(e, on_event, &r);
    assert_int_equal(tw_edge_set_node_tags(e, ns), TW_OK);
    assert_int_equal(tw_edge_add_device(e, "D", ds), TW_OK);

    tw_sp_metric m[2];
    memset(m, 0, sizeof m);
    m[0].name = "Setpoint";
    m[0].flags = TW_SP_METRIC_NO_ALIAS;
    m[0].value.type = TW_TYPE_DOUBLE;
    m[0].value.as.d = 12.5;
    m[1].name = "Counter";
    m[1].flags = TW_SP_METRIC_NO_ALIAS;
    m[1].value.type = TW_TYPE_INT64;
    m[1].value.as.i = 3;
    inject_cmd(e, "spBv1.0/G/NCMD/E", m, 2);
    assert_int_equal(r.commands, 2);
    assert_int_equal(r.writes, 1);
    assert_true(r.written == 12.5);
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.last, TW_ERR_PERMISSION); /* read-only */
    assert_string_equal(r.metric, "Counter");

    /* another node's commands and unknown devices are not ours */
    inject_cmd(e, "spBv1.0/G/NCMD/F", m, 1);
    inject_cmd(e, "spBv1.0/Other/NCMD/E", m, 1);
    assert_int_equal(r.commands, 2);
    m[0].name = "Valve";
    inject_cmd(e, "spBv1.0/G/DCMD/E/X", m, 1);
    assert_int_equal(r.commands, 2);
    inject_cmd(e, "spBv1.0/G/DCMD/E/D", m, 1);
    assert_int_equal(r.commands, 3);
    assert_int_equal(r.writes, 2);
    m[0].name = "Nope";
    inject_cmd(e, "spBv1.0/G/NCMD/E", m, 1);
    assert_int_equal(r.last, TW_ERR_NOT_FOUND);
    /* a string into a double tag: the conversion refuses it */
    m[0].name = "Setpoint";
    m[0].value.type = TW_TYPE_STRING;
    m[0].value.as.buf.ptr = "abc";
    m[0].value.as.buf.len = 3;
    inject_cmd(e, "spBv1.0/G/NCMD/E", m, 1);
    assert_int_not_equal(r.last, TW_OK);
    assert_int_equal(r.writes, 2);
    /* rebirth: accepted only with the value true */
    m[0].name = "Node Control/Rebirth";
    m[0].value.type = TW_TYPE_BOOL;
    m[0].value.as.b = 1;
    inject_cmd(e, "spBv1.0/G/NCMD/E", m, 1);
    assert_int_equal(r.last, TW_OK);
    m[0].value.as.b = 0;
    inject_cmd(e, "spBv1.0/G/NCMD/E", m, 1);
    assert_int_equal(r.last, TW_ERR_INVALID_ARG);
    /* malformed payload: ignored, reported as an error, no command counted */
    int before = r.commands;
    tw__edge_inject_message(e, "spBv1.0/G/NCMD/E", 16, "\x12\x05\x0a\x03", 4);
    assert_int_equal(r.commands, before);
    assert_int_equal(tw_edge_last_status(e), TW_ERR_SPARKPLUG_DECODE);

    /* STATE: newer timestamps win, older ones are ignored, malformed ones reported */
    const char *on10 = "{\"online\":true,\"timestamp\":10}";
    const char *off5 = "{\"online\":false,\"timestamp\":5}";
    const char *off11 = "{\"online\":false,\"timestamp\":11}";
    tw__edge_inject_message(e, "spBv1.0/STATE/H", 15, on10, strlen(on10));
    assert_int_equal(r.host_events, 1);
    assert_int_equal(r.last_online, 1);
    tw__edge_inject_message(e, "spBv1.0/STATE/H", 15, off5, strlen(off5));
    assert_int_equal(r.host_events, 1);
    tw__edge_inject_message(e, "spBv1.0/STATE/OTHER", 19, off11, strlen(off11));
    assert_int_equal(r.host_events, 1);
    tw__edge_inject_message(e, "spBv1.0/STATE/H", 15, "{\"online\":1}", 12);
    assert_int_equal(r.host_events, 1);
    tw__edge_inject_message(e, "spBv1.0/STATE/H", 15, off11, strlen(off11));
    assert_int_equal(r.host_events, 2);
    assert_int_equal(r.last_online, 0);
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    assert_int_equal(tw_edge_stats_get(e, &st), TW_OK);
    assert_int_equal(st.host_online, 0);
    assert_int_equal(st.commands, (uint64_t)r.commands);
    assert_int_equal(st.command_errors, (uint64_t)r.errors);
    tw_edge_free(e);
    tw_tagset_free(ns);
    tw_tagset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_value_length_limit),
        cmocka_unit_test(test_bdseq_persistence),
        cmocka_unit_test(test_bdseq_in_store),
        cmocka_unit_test(test_commands_and_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
