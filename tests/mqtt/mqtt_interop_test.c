/*
 * Interop tests of the MQTT client against a real Mosquitto 2 broker started by the test, with
 * mosquitto_sub / mosquitto_pub as independent peers.
 *
 * The transport comes from make_transport(): plain TCP for now. To run the same cases over mutual
 * TLS, make it return tw_transport_new_tls(...) and add the listener's TLS lines to the broker
 * configuration in broker_start() (cafile/certfile/keyfile/require_certificate).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "mqtt/mqtt_internal.h"
#include "tagwire/mqtt.h"

/* ---- broker and peers ---------------------------------------------------------------------- */

typedef struct broker {
    char *dir;
    uint16_t port;
    twt_mosquitto m; /* m.pid: -1 when not running */
    char log[1024];
} broker;

static broker B;
static char *g_extra_dir; /* a test's own temporary directory, removed by teardown */
static pid_t g_peers[16];
static int g_npeers;

/* Writes the configuration (plain listener + `extra` lines) and starts the broker; a started
 * broker that was killed is started again with the same configuration and port. */
static void broker_start(broker *b, const char *extra)
{
    if (!b->dir) {
        b->dir = twt_mkdtemp("tw-mqtt");
        assert_non_null(b->dir);
        twt_mosquitto_opts o = {.extra = extra ? extra : "allow_anonymous true"};
        int rc = twt_mosquitto_start(&b->m, b->dir, &o);
        b->port = b->m.port;
        snprintf(b->log, sizeof b->log, "%s", b->m.log);
        if (rc != 0) fail_msg("mosquitto did not start (see %s)", b->m.log);
        return;
    }
    if (twt_mosquitto_restart(&b->m) != 0) fail_msg("mosquitto did not start again (see %s)", b->m.log);
}

static void broker_kill(broker *b) { twt_mosquitto_kill(&b->m); }

static void broker_cleanup(broker *b)
{
    twt_mosquitto_stop(&b->m);
    if (b->dir && !getenv("TW_KEEP_TMP")) twt_rmtree(b->dir);
    free(b->dir);
    b->dir = NULL;
}

/* True when the broker log contains `needle` within timeout_ms. */
static bool log_wait(const broker *b, const char *needle, int timeout_ms)
{
    return twt_file_wait(b->log, needle, timeout_ms);
}

/* Starts `mosquitto_sub` as client `id` on `filter` (QoS 1), printing "topic hexpayload" lines to
 * a file whose path is returned; returns once the broker has sent its SUBACK. */
static const char *sub_start(const char *id, const char *filter, const char *user, const char *pass)
{
    static char out[8][512];
    static int slot;
    char *o = out[slot++ & 7];
    snprintf(o, 512, "%s/sub-%s.out", B.dir, id);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)B.port);
    char *argv[20] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-i", (char *)id, "-q", "1",
                      "-t", (char *)filter, "-F", "%t %x"};
    int n = 13;
    if (user) {
        argv[n++] = "-u";
        argv[n++] = (char *)user;
        argv[n++] = "-P";
        argv[n++] = (char *)pass;
    }
    argv[n] = NULL;
    pid_t pid = twt_spawn(argv, o);
    assert_true(pid > 0);
    g_peers[g_npeers++] = pid;
    char needle[128];
    snprintf(needle, sizeof needle, "Sending SUBACK to %s", id);
    if (!log_wait(&B, needle, 5000)) fail_msg("mosquitto_sub %s did not subscribe", id);
    return o;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* Waits until the file has at least `lines` lines; returns its contents (free it). */
static char *wait_lines(const char *path, int lines, int timeout_ms)
{
    for (int t = 0;; t += 20) {
        char *s = twt_slurp(path);
        if (count_lines(s) >= lines || t >= timeout_ms) return s;
        free(s);
        twt_sleep_ms(20);
    }
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

/* ---- client helpers ------------------------------------------------------------------------ */

/* The transport under test (swap for mutual TLS once tagwire/tls.h exists). */
static tw_transport *make_transport(void)
{
    tw_transport *t = NULL;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, NULL), TW_OK);
    return t;
}

typedef struct rec {
    tw_mqtt_ack acks[512];
    int nacks, npingresp;
    tw_mqtt_state states[64];
    tw_status reasons[64];
    uint32_t delays[64];
    int nstates;
    char msg_topic[8][64];
    uint8_t msg_payload[8][512];
    size_t msg_len[8];
    int msg_retain[8], msg_qos[8];
    int nmsgs;
} rec;

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    (void)c;
    rec *r = ud;
    if (a->type == TW_MQTT_ACK_PINGRESP && a->status == TW_OK) r->npingresp++;
    if (r->nacks < 512) r->acks[r->nacks++] = *a;
}

static void on_state(tw_mqtt_client *c, tw_mqtt_state s, tw_status why, void *ud)
{
    rec *r = ud;
    if (r->nstates < 64) {
        r->states[r->nstates] = s;
        r->reasons[r->nstates] = why;
        r->delays[r->nstates] = s == TW_MQTT_WAITING ? tw__mqtt_client_reconnect_delay(c) : 0;
        r->nstates++;
    }
}

static void on_msg(tw_mqtt_client *c, const tw_mqtt_message *m, void *ud)
{
    (void)c;
    rec *r = ud;
    if (r->nmsgs >= 8) return;
    snprintf(r->msg_topic[r->nmsgs], 64, "%s", m->topic);
    memcpy(r->msg_payload[r->nmsgs], m->payload, TW__MIN(m->payload_len, 512));
    r->msg_len[r->nmsgs] = m->payload_len;
    r->msg_retain[r->nmsgs] = m->retain;
    r->msg_qos[r->nmsgs] = m->qos;
    r->nmsgs++;
}

static int g_proto = 4; /* MQTT protocol level of the clients a test creates */

static tw_mqtt_client *client_new(const char *id, tw_mqtt_options *o, rec *r)
{
    tw_mqtt_options def = TW_MQTT_OPTIONS_INIT;
    if (!o) o = &def;
    o->protocol_version = g_proto;
    o->host = "127.0.0.1";
    o->port = B.port;
    o->client_id = id;
    tw_mqtt_client *c = NULL;
    tw_transport *t = make_transport();
    assert_int_equal(tw_mqtt_client_new(&c, t, o), TW_OK);
    if (r) {
        tw_mqtt_client_set_ack_cb(c, on_ack, r);
        tw_mqtt_client_set_state_cb(c, on_state, r);
        tw_mqtt_client_set_message_cb(c, on_msg, r);
    }
    return c;
}

static void drive_for(tw_mqtt_client *c, int ms)
{
    int64_t end = tw__mono_ms() + ms;
    while (tw__mono_ms() < end) tw_mqtt_client_step(c, 20);
}

static int wait_state(tw_mqtt_client *c, tw_mqtt_state s, int timeout_ms)
{
    int64_t end = tw__mono_ms() + timeout_ms;
    while (tw_mqtt_client_state(c) != s && tw__mono_ms() < end) tw_mqtt_client_step(c, 20);
    return tw_mqtt_client_state(c) == s;
}

static int setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    memset(&B, 0, sizeof B);
    B.m.pid = -1;
    g_npeers = 0;
    g_proto = 4;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < g_npeers; i++) twt_stop(g_peers[i]);
    g_npeers = 0;
    broker_cleanup(&B);
    if (g_extra_dir) twt_rmtree(g_extra_dir);
    free(g_extra_dir);
    g_extra_dir = NULL;
    tw_shutdown();
    return 0;
}

static void require_peers(void)
{
    /* Installed by scripts/bootstrap (scripts/deps/mqtt.apt): missing peers fail, not skip. */
    assert_non_null(twt_mosquitto_bin());
    assert_true(twt_have("mosquitto_sub"));
    assert_true(twt_have("mosquitto_pub"));
    assert_true(twt_have("mosquitto_passwd"));
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_publish_seen_by_independent_subscriber(void **state)
{
    (void)state;
    require_peers();
    broker_start(&B, NULL);
    const char *out = sub_start("indep", "tw/pub/#", NULL, NULL);
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = client_new("tw-pub", NULL, r);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED);

    enum { N = 60 };
    static uint8_t payload[3000];
    static char expect[N][6200];
    uint64_t tokens[N];
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(i * 53) % sizeof payload;
        for (size_t k = 0; k < len; k++) payload[k] = (uint8_t)(k * 31 + i); /* zero bytes included */
        int qos = i % 2;
        char topic[32];
        snprintf(topic, sizeof topic, "tw/pub/q%d", qos);
        tw_status st;
        while ((st = tw_mqtt_client_publish(c, topic, payload, len, qos, 0, &tokens[i])) == TW_ERR_FULL ||
               st == TW_ERR_MQTT_INFLIGHT_FULL)
            tw_mqtt_client_step(c, 50);
        assert_int_equal(st, TW_OK);
        int n = snprintf(expect[i], sizeof expect[i], "%s ", topic);
        hex(expect[i] + n, payload, len);
    }
    uint64_t ping;
    assert_int_equal(tw_mqtt_client_ping(c, &ping), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    /* every QoS 1 publish acknowledged in order, and the ping proves the QoS 0 ones arrived */
    int pub = 0;
    for (int i = 0; i < r->nacks; i++) {
        if (r->acks[i].type != TW_MQTT_ACK_PUBACK) continue;
        assert_int_equal(r->acks[i].status, TW_OK);
        assert_int_equal(r->acks[i].token, tokens[2 * pub + 1]);
        pub++;
    }
    assert_int_equal(pub, N / 2);
    assert_int_equal(tw_mqtt_client_confirmed(c), ping);

    char *got = wait_lines(out, N, 5000);
    assert_int_equal(count_lines(got), N);
    /* each message exactly once; per topic in publish order */
    const char *last[2] = {got, got};
    for (int i = 0; i < N; i++) {
        char line[6300];
        size_t l = strlen(expect[i]);
        memcpy(line, expect[i], l);
        line[l] = '\n';
        line[l + 1] = '\0';
        const char *at = strstr(got, line);
        if (!at) fail_msg("subscriber did not receive message %d", i);
        assert_true(at >= last[i % 2]);
        last[i % 2] = at;
        assert_null(strstr(at + 1, line)); /* not twice */
    }
    free(got);
    assert_int_equal(tw_mqtt_client_disconnect(c, 2000), TW_OK);
    assert_true(log_wait(&B, "Received DISCONNECT from tw-pub", 3000));
    tw_mqtt_client_free(c);
    free(r);
}

static void test_receive_from_mosquitto_pub(void **state)
{
    (void)state;
    require_peers();
    broker_start(&B, NULL);
    /* a retained message published before we subscribe */
    assert_int_equal(twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -q 1 -r -t tw/in/retained -m kept", (unsigned)B.port), 0);
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = client_new("tw-sub", NULL, r);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_OK);
    uint64_t tok;
    assert_int_equal(tw_mqtt_client_subscribe(c, "tw/in/#", 1, &tok), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    assert_int_equal(r->acks[0].type, TW_MQTT_ACK_SUBACK);
    assert_int_equal(r->acks[0].token, tok);
    assert_int_equal(r->acks[0].status, TW_OK);
    assert_int_equal(r->acks[0].granted_qos, 1);
    /* the retained message arrives with the retain flag */
    int64_t end = tw__mono_ms() + 5000;
    while (r->nmsgs < 1 && tw__mono_ms() < end) tw_mqtt_client_step(c, 20);
    assert_int_equal(r->nmsgs, 1);
    assert_string_equal(r->msg_topic[0], "tw/in/retained");
    assert_int_equal(r->msg_len[0], 4);
    assert_memory_equal(r->msg_payload[0], "kept", 4);
    assert_true(r->msg_retain[0]);
    /* binary payload from a file, QoS 1, and a text one at QoS 0 */
    char bin[512];
    snprintf(bin, sizeof bin, "%s/payload.bin", B.dir);
    FILE *f = fopen(bin, "wb");
    assert_non_null(f);
    for (int i = 0; i < 256; i++) fputc(255 - i, f);
    fclose(f);
    assert_int_equal(twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -q 1 -t tw/in/bin -f '%s'", (unsigned)B.port, bin), 0);
    assert_int_equal(twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -q 0 -t 'tw/in/\xc3\xa9t\xc3\xa9' -m hello", (unsigned)B.port), 0);
    end = tw__mono_ms() + 5000;
    while (r->nmsgs < 3 && tw__mono_ms() < end) tw_mqtt_client_step(c, 20);
    assert_int_equal(r->nmsgs, 3);
    assert_string_equal(r->msg_topic[1], "tw/in/bin");
    assert_int_equal(r->msg_len[1], 256);
    for (int i = 0; i < 256; i++) assert_int_equal(r->msg_payload[1][i], 255 - i);
    assert_int_equal(r->msg_qos[1], 1);
    assert_false(r->msg_retain[1]);
    assert_string_equal(r->msg_topic[2], "tw/in/\xc3\xa9t\xc3\xa9");
    assert_int_equal(r->msg_qos[2], 0);
    /* our PUBACK reached the broker */
    assert_true(log_wait(&B, "Received PUBACK from tw-sub", 3000));
    /* after UNSUBSCRIBE nothing more arrives */
    assert_int_equal(tw_mqtt_client_unsubscribe(c, "tw/in/#", NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    assert_int_equal(twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -q 1 -t tw/in/late -m late", (unsigned)B.port), 0);
    uint64_t ping;
    assert_int_equal(tw_mqtt_client_ping(c, &ping), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    drive_for(c, 200);
    assert_int_equal(r->nmsgs, 3);
    twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -r -n -t tw/in/retained", (unsigned)B.port);
    tw_mqtt_client_free(c);
    free(r);
}

static void test_will_on_abrupt_close(void **state)
{
    (void)state;
    require_peers();
    broker_start(&B, NULL);
    const char *out = sub_start("willwatch", "tw/will/#", NULL, NULL);
    tw_mqtt_options oa = TW_MQTT_OPTIONS_INIT, ob = TW_MQTT_OPTIONS_INIT;
    oa.will_topic = "tw/will/a";
    oa.will_payload = "gone-a";
    oa.will_payload_len = 6;
    oa.will_qos = 1;
    oa.reconnect = TW_MQTT_RECONNECT_OFF;
    ob.will_topic = "tw/will/b";
    ob.will_payload = "gone-b";
    ob.will_payload_len = 6;
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *a = client_new("tw-will-a", &oa, r);
    tw_mqtt_client *b = client_new("tw-will-b", &ob, NULL);
    assert_int_equal(tw_mqtt_client_connect_blocking(a, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_connect_blocking(b, 5000), TW_OK);
    /* b leaves cleanly: no will */
    assert_int_equal(tw_mqtt_client_disconnect(b, 2000), TW_OK);
    assert_true(log_wait(&B, "Received DISCONNECT from tw-will-b", 3000));
    /* a's socket is killed under it */
    int fd = tw_mqtt_client_fd(a);
    assert_true(fd >= 0);
    assert_int_equal(shutdown(fd, SHUT_RDWR), 0);
    char *got = wait_lines(out, 1, 5000);
    char line[128], hx[32];
    hex(hx, (const uint8_t *)"gone-a", 6);
    snprintf(line, sizeof line, "tw/will/a %s\n", hx);
    assert_string_equal(got, line);
    free(got);
    /* the client notices the dead connection */
    assert_true(wait_state(a, TW_MQTT_DISCONNECTED, 3000));
    assert_int_not_equal(tw_mqtt_client_last_status(a), TW_OK);
    /* a marker after everything: b's will never came */
    assert_int_equal(twt_sh("mosquitto_pub -h 127.0.0.1 -p %u -t tw/will/marker -m m", (unsigned)B.port), 0);
    got = wait_lines(out, 2, 5000);
    assert_int_equal(count_lines(got), 2);
    assert_non_null(strstr(got, "tw/will/marker 6d\n"));
    assert_null(strstr(got, "tw/will/b"));
    free(got);
    tw_mqtt_client_free(a);
    tw_mqtt_client_free(b);
    free(r);
}

static void test_keepalive_and_timeout(void **state)
{
    (void)state;
    require_peers();
    broker_start(&B, NULL);
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.keep_alive_s = 2;
    o.ping_timeout_ms = 3000;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 200;
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = client_new("tw-ka", &o, r);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_OK);
    /* idle: keep-alive pings are answered and the broker keeps us (bounded: 20 s) */
    int64_t t0 = tw__mono_ms();
    while (r->npingresp < 2 && tw__mono_ms() - t0 < 20000) {
        tw_mqtt_client_step(c, 50);
        assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED);
    }
    assert_true(r->npingresp >= 2);
    assert_true(log_wait(&B, "Received PINGREQ from tw-ka", 1000));
    /* a frozen broker: no PINGRESP -> TW_ERR_MQTT_KEEPALIVE (keep-alive 2 s + ping timeout 3 s) */
    kill(B.m.pid, SIGSTOP);
    t0 = tw__mono_ms();
    tw_status st = TW_OK;
    while (st == TW_OK && tw__mono_ms() - t0 < 30000) st = tw_mqtt_client_step(c, 50);
    kill(B.m.pid, SIGCONT);
    assert_int_equal(st, TW_ERR_MQTT_KEEPALIVE);
    assert_non_null(strstr(tw_mqtt_client_last_error(c), "PINGRESP"));
    /* and once the broker runs again the client is back */
    assert_true(wait_state(c, TW_MQTT_CONNECTED, 5000));
    tw_mqtt_client_free(c);
    free(r);
}

static uint32_t rnd_max(void *ctx)
{
    (void)ctx;
    return UINT32_MAX;
}

static void test_broker_restart_reconnects_with_backoff(void **state)
{
    (void)state;
    require_peers();
    broker_start(&B, NULL);
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 800;
    o.connect_timeout_ms = 2000;
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = client_new("tw-rc", &o, r);
    tw__mqtt_client_set_rand(c, rnd_max, NULL); /* deterministic: top of each jitter range */
    assert_int_equal(tw_mqtt_client_connect(c), TW_OK);
    assert_true(wait_state(c, TW_MQTT_CONNECTED, 5000));
    assert_int_equal(tw_mqtt_client_publish(c, "tw/rc", "1", 1, 1, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 3000), TW_OK);

    broker_kill(&B);
    assert_true(wait_state(c, TW_MQTT_WAITING, 3000));
    drive_for(c, 2500); /* several refused attempts while the broker is down */
    broker_start(&B, NULL);
    assert_true(wait_state(c, TW_MQTT_CONNECTED, 5000));
    /* delays doubled from the minimum up to the cap while the broker was down */
    uint32_t seen[32];
    int n = 0;
    for (int i = 0; i < r->nstates; i++)
        if (r->states[i] == TW_MQTT_WAITING && n < 32) seen[n++] = r->delays[i];
    assert_true(n >= 4);
    uint32_t want = 100;
    for (int i = 0; i < n; i++) {
        assert_int_equal(seen[i], want);
        want = want * 2 > 800 ? 800 : want * 2;
    }
    /* the first loss is reported as a closed connection, later ones as refused connects */
    int w = 0;
    for (int i = 0; i < r->nstates; i++) {
        if (r->states[i] != TW_MQTT_WAITING) continue;
        if (w++ == 0) assert_true(r->reasons[i] == TW_ERR_CLOSED || r->reasons[i] == TW_ERR_IO);
        else assert_int_equal(r->reasons[i], TW_ERR_CONN_REFUSED);
    }
    /* working again */
    uint64_t tok;
    assert_int_equal(tw_mqtt_client_publish(c, "tw/rc", "2", 1, 1, 0, &tok), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 3000), TW_OK);
    assert_int_equal(tw_mqtt_client_confirmed(c), tok);
    tw_mqtt_client_free(c);
    free(r);
}

static void test_password_auth(void **state)
{
    (void)state;
    require_peers();
    char *dir = g_extra_dir = twt_mkdtemp("tw-mqtt-pw");
    assert_non_null(dir);
    char pw[600], extra[800];
    snprintf(pw, sizeof pw, "%s/passwd", dir);
    assert_int_equal(twt_sh("mosquitto_passwd -c -b '%s' device s3cret >/dev/null 2>&1", pw), 0);
    snprintf(extra, sizeof extra, "allow_anonymous false\npassword_file %s", pw);
    broker_start(&B, extra);

    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.allow_plaintext_credentials = 1; /* this broker listens on plain TCP */
    o.username = "device";
    o.password = "wrong";
    o.password_len = 5;
    tw_mqtt_client *c = client_new("tw-pw", &o, NULL);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_ERR_MQTT_NOT_AUTHORIZED);
    assert_non_null(strstr(tw_mqtt_client_last_error(c), g_proto == 5 ? "CONNACK reason code 0x87" : "CONNACK return code 5"));
    assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_DISCONNECTED);
    tw_mqtt_client_free(c);

    o.username = NULL;
    o.password = NULL;
    o.password_len = 0;
    c = client_new("tw-anon", &o, NULL);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_ERR_MQTT_NOT_AUTHORIZED);
    tw_mqtt_client_free(c);

    o.username = "device";
    o.password = "s3cret";
    o.password_len = 6;
    c = client_new("tw-pw-ok", &o, NULL);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_disconnect(c, 1000), TW_OK);
    tw_mqtt_client_free(c);
}

/* Starts a broker with users dev (may write and read tw/allowed/#) and spy (may read #). */
static void acl_broker(const char *more)
{
    char *dir = g_extra_dir = twt_mkdtemp("tw-mqtt-acl");
    assert_non_null(dir);
    char pw[600], acl[600], extra[1600];
    snprintf(pw, sizeof pw, "%s/passwd", dir);
    snprintf(acl, sizeof acl, "%s/acl", dir);
    assert_int_equal(twt_sh("mosquitto_passwd -c -b '%s' dev devpw >/dev/null 2>&1 && "
                            "mosquitto_passwd -b '%s' spy spypw >/dev/null 2>&1", pw, pw), 0);
    FILE *f = fopen(acl, "w");
    assert_non_null(f);
    fprintf(f, "user dev\ntopic readwrite tw/allowed/#\n\nuser spy\ntopic read #\n");
    fclose(f);
    snprintf(extra, sizeof extra, "allow_anonymous false\npassword_file %s\nacl_file %s\n%s", pw, acl, more);
    broker_start(&B, extra);
}

static tw_mqtt_client *acl_client(rec *r)
{
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.allow_plaintext_credentials = 1; /* plain TCP broker */
    o.username = "dev";
    o.password = "devpw";
    o.password_len = 5;
    o.reconnect = TW_MQTT_RECONNECT_OFF;
    tw_mqtt_client *c = client_new("tw-acl", &o, r);
    assert_int_equal(tw_mqtt_client_connect_blocking(c, 5000), TW_OK);
    return c;
}

/*
 * What an MQTT 3.1.1 client can learn about ACL refusals from Mosquitto 2.0 (documented in mqtt.h):
 * nothing. A refused QoS 0 publish is dropped silently, a refused QoS 1 publish is still answered
 * with a normal PUBACK, and a SUBSCRIBE to a filter it may not read is granted (messages are just
 * not delivered). This test pins that behaviour down so a change in the broker is noticed.
 */
static void test_acl_refusals_are_silent_in_3_1_1(void **state)
{
    (void)state;
    require_peers();
    /* the broker's default queue limit; see the next test for "max_queued_messages 0" */
    acl_broker("max_queued_messages 1000");
    const char *out = sub_start("spy", "tw/#", "spy", "spypw");
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = acl_client(r);
    uint64_t t_denied_q1, t_allowed_q1, t_sub;
    assert_int_equal(tw_mqtt_client_publish(c, "tw/denied/q0", "d0", 2, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/denied/q1", "d1", 2, 1, 0, &t_denied_q1), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q0", "a0", 2, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q1", "a1", 2, 1, 0, &t_allowed_q1), TW_OK);
    assert_int_equal(tw_mqtt_client_subscribe(c, "tw/denied/#", 1, &t_sub), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED); /* not disconnected either */
    /* the refused QoS 1 publish got an ordinary PUBACK, the refused SUBSCRIBE a grant */
    assert_int_equal(r->nacks, 3);
    assert_int_equal(r->acks[0].token, t_denied_q1);
    assert_int_equal(r->acks[0].status, TW_OK);
    assert_int_equal(r->acks[1].token, t_allowed_q1);
    assert_int_equal(r->acks[2].token, t_sub);
    assert_int_equal(r->acks[2].type, TW_MQTT_ACK_SUBACK);
    assert_int_equal(r->acks[2].status, TW_OK);
    /* ... but the broker logged the denial, and the independent subscriber got only the allowed */
    assert_true(log_wait(&B, "Denied PUBLISH from tw-acl", 3000));
    char *got = wait_lines(out, 2, 5000);
    drive_for(c, 300);
    free(got);
    got = twt_slurp(out);
    assert_int_equal(count_lines(got), 2);
    assert_non_null(strstr(got, "tw/allowed/q0 6130\n"));
    assert_non_null(strstr(got, "tw/allowed/q1 6131\n"));
    assert_null(strstr(got, "denied"));
    free(got);
    tw_mqtt_client_free(c);
    free(r);
}

/*
 * Found while writing the test above: Mosquitto 2.0.11 configured with "max_queued_messages 0"
 * (no queue limit) closes the connection of a client right after it denies one of its QoS 0
 * publishes. The client then sees TW_ERR_CLOSED and every request after the refused publish fails
 * with TW_ERR_CLOSED (unconfirmed), which the store-and-forward layer treats like any loss.
 */
static void test_acl_denied_qos0_closes_with_unlimited_queue(void **state)
{
    (void)state;
    require_peers();
    acl_broker("max_queued_messages 0");
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = acl_client(r);
    uint64_t t_ok, t_after;
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q1", "a1", 2, 1, 0, &t_ok), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_confirmed(c), t_ok);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/denied/q0", "d0", 2, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q1", "a2", 2, 1, 0, &t_after), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_ERR_CLOSED);
    assert_true(log_wait(&B, "Denied PUBLISH from tw-acl", 3000));
    assert_int_equal(r->nacks, 2);
    assert_int_equal(r->acks[1].token, t_after);
    assert_int_equal(r->acks[1].status, TW_ERR_CLOSED);
    assert_int_equal(tw_mqtt_client_confirmed(c), t_ok); /* nothing after the refusal confirmed */
    tw_mqtt_client_free(c);
    free(r);
}

/* ---- MQTT 5 -------------------------------------------------------------------------------- */

static void test_v5_publish_seen_by_independent_subscriber(void **state)
{
    g_proto = 5;
    test_publish_seen_by_independent_subscriber(state);
}

static void test_v5_receive_from_mosquitto_pub(void **state)
{
    g_proto = 5;
    test_receive_from_mosquitto_pub(state);
}

static void test_v5_will_on_abrupt_close(void **state)
{
    g_proto = 5;
    test_will_on_abrupt_close(state);
}

static void test_v5_password_auth(void **state)
{
    g_proto = 5;
    test_password_auth(state);
}

/* With MQTT 5 a refused QoS 1 publish becomes visible: its PUBACK carries reason code 0x87. */
static void test_v5_acl_refusals_are_reported(void **state)
{
    (void)state;
    require_peers();
    g_proto = 5;
    acl_broker("max_queued_messages 1000");
    const char *out = sub_start("spy", "tw/#", "spy", "spypw");
    rec *r = calloc(1, sizeof *r);
    tw_mqtt_client *c = acl_client(r);
    uint64_t t_denied_q1, t_allowed_q1, t_sub;
    assert_int_equal(tw_mqtt_client_publish(c, "tw/denied/q0", "d0", 2, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/denied/q1", "d1", 2, 1, 0, &t_denied_q1), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q0", "a0", 2, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(c, "tw/allowed/q1", "a1", 2, 1, 0, &t_allowed_q1), TW_OK);
    assert_int_equal(tw_mqtt_client_subscribe(c, "tw/denied/#", 1, &t_sub), TW_OK);
    assert_int_equal(tw_mqtt_client_flush(c, 5000), TW_OK);
    assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED);
    assert_int_equal(r->nacks, 3);
    assert_int_equal(r->acks[0].token, t_denied_q1);
    assert_int_equal(r->acks[0].status, TW_ERR_MQTT_NOT_AUTHORIZED);
    assert_int_equal(r->acks[0].reason_code, 0x87);
    assert_int_equal(r->acks[1].token, t_allowed_q1);
    assert_int_equal(r->acks[1].status, TW_OK);
    assert_int_equal(r->acks[2].token, t_sub);
    assert_int_equal(r->acks[2].type, TW_MQTT_ACK_SUBACK);
    /* Mosquitto 2.0.11 grants a SUBSCRIBE the ACL does not allow even in MQTT 5 (it filters at
     * delivery): only publishes are refused visibly. */
    assert_int_equal(r->acks[2].status, TW_OK);
    assert_int_equal(r->acks[2].reason_code, 1);
    char *got = wait_lines(out, 2, 5000);
    drive_for(c, 300);
    free(got);
    got = twt_slurp(out);
    assert_int_equal(count_lines(got), 2);
    assert_null(strstr(got, "denied"));
    free(got);
    tw_mqtt_client_free(c);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_seen_by_independent_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_from_mosquitto_pub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_will_on_abrupt_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart_reconnects_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl_refusals_are_silent_in_3_1_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acl_denied_qos0_closes_with_unlimited_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_publish_seen_by_independent_subscriber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_receive_from_mosquitto_pub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_will_on_abrupt_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_password_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v5_acl_refusals_are_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
