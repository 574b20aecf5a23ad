/*
 * Certificate renewal under load: a 2-minute client certificate enrolled over EST (fake_est.py,
 * issuing with the openssl CLI by the CA that Mosquitto trusts for clients) is renewed by
 * tw_enroll_step() on the real clock while an MQTT client keeps publishing QoS 1 messages over
 * mutual TLS to a real Mosquitto 2 (require_certificate true). The renewed credential is hot-swapped
 * into the live tw_tls_config. Asserted: the running connection is never dropped and every publish
 * is acknowledged; the next handshake (a second client on the same config, and a reconnect of the
 * first) presents the NEW certificate; after tw_enroll_commit() the credential store's current
 * generation is the new one; an independent mosquitto_sub (its own certificate) received the
 * messages published before and after the swap.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "twtest.h"
#include "tagwire/enroll.h"
#include "tagwire/mqtt.h"
#include "tagwire/tls.h"

#define TOPIC "tw/renew/data"
#define MAX_MSGS 1024

static char *g_dir;
static pid_t g_est = -1, g_sub = -1;
static twt_mosquitto g_broker = {.pid = -1};
static uint16_t g_est_port, g_port;
static char g_log[1024], g_subout[1024];

/* ---- helpers ---------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lines of `text` equal to `line`. */
static int count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l == len && memcmp(p, line, len) == 0) n++;
        if (!nl) break;
        p = nl + 1;
    }
    return n;
}

/* ---- events of the enrollment client ------------------------------------------------------------ */

typedef struct events {
    int count[8];
    char *key_pem, *chain_pem; /* the last ENROLLED/RENEWED credential (malloc'd copies) */
    size_t key_len, chain_len;
    int64_t not_after;
} events;

static void on_enroll_event(const tw_enroll_event *ev, void *ud)
{
    events *e = ud;
    if ((unsigned)ev->type < 8) e->count[ev->type]++;
    if (ev->type == TW_ENROLL_EVENT_FAILED) print_message("enroll event FAILED: %s\n", ev->message);
    if ((ev->type == TW_ENROLL_EVENT_ENROLLED || ev->type == TW_ENROLL_EVENT_RENEWED) && ev->key_pem &&
        ev->chain_pem) {
        free(e->key_pem);
        free(e->chain_pem);
        e->key_pem = malloc(ev->key_pem_len + 1);
        e->chain_pem = malloc(ev->chain_pem_len + 1);
        if (e->key_pem && e->chain_pem) {
            memcpy(e->key_pem, ev->key_pem, ev->key_pem_len + 1);
            memcpy(e->chain_pem, ev->chain_pem, ev->chain_pem_len + 1);
        }
        e->key_len = ev->key_pem_len;
        e->chain_len = ev->chain_pem_len;
        e->not_after = ev->not_after;
    }
}

/* ---- MQTT client bookkeeping -------------------------------------------------------------------- */

typedef struct pubstate {
    int acked_ok, acked_bad;
    int connects, drops; /* CONNECTED transitions; WAITING/DISCONNECTED with an error reason */
    int planned_disconnects;
} pubstate;

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *ack, void *ud)
{
    (void)c;
    pubstate *p = ud;
    if (ack->type != TW_MQTT_ACK_PUBACK) return;
    if (ack->status == TW_OK) p->acked_ok++;
    else p->acked_bad++;
}

static void on_state(tw_mqtt_client *c, tw_mqtt_state st, tw_status reason, void *ud)
{
    pubstate *p = ud;
    if (st == TW_MQTT_CONNECTED) p->connects++;
    if (st == TW_MQTT_WAITING || (st == TW_MQTT_DISCONNECTED && reason != TW_OK)) {
        p->drops++;
        print_message("mqtt connection ended: %s (%s)\n", tw_status_name(reason),
                      tw_mqtt_client_last_error(c));
    }
    if (st == TW_MQTT_DISCONNECTED && reason == TW_OK) p->planned_disconnects++;
}

static tw_mqtt_client *mqtt_new(tw_tls_config *cfg, const char *id, pubstate *p)
{
    tw_transport *t = NULL;
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "127.0.0.1";
    o.port = g_port;
    o.client_id = id;
    o.keep_alive_s = 30;
    o.reconnect = TW_MQTT_RECONNECT_OFF; /* a dropped connection must show, not be healed */
    tw_mqtt_client *c = NULL;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_OK);
    tw_mqtt_client_set_ack_cb(c, on_ack, p);
    tw_mqtt_client_set_state_cb(c, on_state, p);
    return c;
}

static void mqtt_connect(tw_mqtt_client *c)
{
    tw_status st = tw_mqtt_client_connect_blocking(c, 10000);
    if (st != TW_OK) print_error("connect: %s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
    assert_int_equal(st, TW_OK);
}

static int64_t own_not_after(tw_mqtt_client *c, int *resumed)
{
    tw_tls_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_transport_tls_info(tw_mqtt_client_transport(c), &info), TW_OK);
    if (resumed) *resumed = info.resumed;
    return info.own_not_after;
}

static void publish(tw_mqtt_client *c, const char *payload)
{
    tw_status st = TW_ERR_FULL;
    for (int i = 0; i < 200; i++) {
        st = tw_mqtt_client_publish(c, TOPIC, payload, strlen(payload), 1, 0, NULL);
        if (st != TW_ERR_FULL && st != TW_ERR_MQTT_INFLIGHT_FULL) break;
        tw_mqtt_client_step(c, 10);
    }
    if (st != TW_OK) print_error("publish: %s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
    assert_int_equal(st, TW_OK);
}

static void inspect(const char *dir, tw_credential_info *info)
{
    memset(info, 0, sizeof *info);
    info->version = TW_CREDENTIAL_INFO_VERSION;
    assert_int_equal(tw_credential_inspect(info, dir, 0.25), TW_OK);
}

/* ---- set-up: PKI, EST responder, broker, independent subscriber ---------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-renew");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    if (!twt_have("mosquitto_sub") || !twt_have("python3") || !twt_have("openssl")) {
        fprintf(stderr, "mosquitto-clients, python3 or openssl missing (scripts/bootstrap installs them)\n");
        return -1; /* fail, never skip */
    }
    if (!twt_mosquitto_bin()) {
        fprintf(stderr, "mosquitto missing (scripts/deps/mqtt.apt)\n");
        return -1;
    }

    /* EST responder issuing 2-minute certificates with the test CA (which Mosquitto trusts) */
    g_est_port = twt_free_port();
    char port[16], script[1024];
    snprintf(port, sizeof port, "%u", (unsigned)g_est_port);
    snprintf(script, sizeof script, "%s/tests/enroll/fake_est.py", TWT_SOURCE_DIR);
    char *eargv[] = {"python3", script, port, g_dir, "short", "120", NULL};
    g_est = twt_spawn(eargv, twt_path(0, g_dir, "fake_est.out"));
    if (g_est <= 0 || !twt_wait_listen(g_est_port, 10000)) return -1;

    /* Mosquitto with mutual TLS */
    twt_mosquitto_opts mo = {.pki_dir = g_dir, .identity_as_username = true};
    if (twt_mosquitto_start(&g_broker, g_dir, &mo) != 0) return -1;
    g_port = g_broker.port;
    snprintf(g_log, sizeof g_log, "%s", g_broker.log);

    /* independent subscriber with its own certificate (CN=device-2) */
    snprintf(g_subout, sizeof g_subout, "%s/sub.out", g_dir);
    snprintf(port, sizeof port, "%u", (unsigned)g_port);
    char ca[512], cert[512], key[512];
    snprintf(ca, sizeof ca, "%s", twt_path(0, g_dir, "ca.pem"));
    snprintf(cert, sizeof cert, "%s", twt_path(0, g_dir, "client2.pem"));
    snprintf(key, sizeof key, "%s", twt_path(0, g_dir, "client2.key"));
    char *sargv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-i", "renew-sub", "-q", "1",
                     "--cafile", ca, "--cert", cert, "--key", key, "-t", "tw/renew/#",
                     "-F", "%t %p", NULL};
    g_sub = twt_spawn(sargv, g_subout);
    if (g_sub <= 0 || !twt_file_wait(g_log, "Sending SUBACK to renew-sub", 5000)) {
        fprintf(stderr, "mosquitto_sub did not subscribe (see %s)\n", g_log);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_sub > 0) twt_stop(g_sub);
    twt_mosquitto_stop(&g_broker);
    if (g_est > 0) twt_stop(g_est);
    g_sub = g_est = -1;
    if (g_dir && !getenv("TW_KEEP_TMP")) twt_rmtree(g_dir);
    free(g_dir);
    g_dir = NULL;
    tw_shutdown();
    return 0;
}

/* ---- the test ------------------------------------------------------------------------------------ */

static void test_renew_live(void **state)
{
    (void)state;
    char dir[1024], url[64];
    snprintf(dir, sizeof dir, "%s/creds", g_dir);
    snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)g_est_port);
    tw_identity id = {TW_IDENTITY_VERSION, "press-7", "acme", "p7", "SN42", "B2", "4.1.0"};
    events ev;
    memset(&ev, 0, sizeof ev);
    tw_enroll_options o = TW_ENROLL_OPTIONS_INIT;
    o.server_url = url;
    o.server_ca_file = twt_path(0, g_dir, "ca.pem");
    o.credentials_dir = dir;
    o.identity = &id;
    o.username = "dev";
    o.password = "x";
    o.max_attempts = 3;
    o.backoff_base_ms = 100;
    o.backoff_cap_ms = 500;
    o.request_timeout_ms = 15000;
    o.renew_fraction = 0.25; /* a real 2-minute certificate, renewed after 30 s rather than 80 s */
    o.on_event = on_enroll_event;
    o.user_data = &ev;
    tw_enroll *e = NULL;
    tw_status st = tw_enroll_new(&e, &o);
    if (st != TW_OK) print_error("tw_enroll_new: %s\n", tw_last_error());
    assert_int_equal(st, TW_OK);

    /* 1. enroll the 2-minute certificate */
    st = tw_enroll_enroll(e);
    if (st != TW_OK) print_error("enroll: %s\n", tw_enroll_last_error(e));
    assert_int_equal(st, TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_ENROLLED], 1);
    assert_non_null(ev.key_pem);
    tw_credential_info first;
    inspect(dir, &first);
    assert_true(first.has_current);
    assert_true(first.not_after - first.not_before >= 115 && first.not_after - first.not_before <= 125);
    assert_true(ev.not_after == first.not_after);
    int64_t old_na = first.not_after;

    /* 2. a TLS config from it, an MQTT client over mutual TLS */
    tw_tls_config *cfg = NULL;
    assert_int_equal(tw_tls_config_new(&cfg), TW_OK);
    assert_int_equal(tw_tls_config_set_ca_file(cfg, twt_path(0, g_dir, "ca.pem")), TW_OK);
    assert_int_equal(tw_tls_config_set_credentials_mem(cfg, ev.chain_pem, ev.chain_len, ev.key_pem, ev.key_len, NULL),
                     TW_OK);
    pubstate ps;
    memset(&ps, 0, sizeof ps);
    tw_mqtt_client *c = mqtt_new(cfg, "renew-pub", &ps);
    mqtt_connect(c);
    assert_true(own_not_after(c, NULL) == old_na);
    /* the broker saw the enrolled identity (CN = device id) */
    assert_true(twt_file_wait(g_log, "u'press-7'", 5000));

    /* 3. publish QoS 1 continuously while stepping the renewal, until RENEWED; then hot-swap and
     *    keep publishing on the same connection for a few more seconds */
    int sent = 0, sent_before_swap = -1;
    int64_t renewed_at = 0, stop_at = 0;
    char payload[64];
    int64_t give_up = (int64_t)time(NULL) + 90; /* renewal is due after ~30 s */
    while ((int64_t)time(NULL) < give_up) {
        snprintf(payload, sizeof payload, "m%d", sent);
        publish(c, payload);
        sent++;
        assert_true(sent < MAX_MSGS);
        int64_t round_end = now_ms() + 200; /* about five messages a second */
        for (int64_t left; (left = round_end - now_ms()) > 0;) {
            tw_status s = tw_mqtt_client_step(c, (int)left);
            if (s != TW_OK) print_error("step: %s: %s\n", tw_status_name(s), tw_mqtt_client_last_error(c));
            assert_int_equal(s, TW_OK);
        }
        assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED);
        if (!renewed_at) {
            tw_status s = tw_enroll_step(e, 0);
            if (s != TW_OK) print_error("enroll step: %s\n", tw_enroll_last_error(e));
            assert_int_equal(s, TW_OK);
            if (ev.count[TW_ENROLL_EVENT_RENEWED]) {
                renewed_at = (int64_t)time(NULL);
                sent_before_swap = sent;
                /* hot swap into the live config (from the event's PEM buffers) */
                assert_int_equal(tw_tls_config_set_credentials_mem(cfg, ev.chain_pem, ev.chain_len, ev.key_pem,
                                                                   ev.key_len, NULL),
                                 TW_OK);
                stop_at = renewed_at + 4;
            }
        } else if ((int64_t)time(NULL) >= stop_at) {
            break;
        }
    }
    assert_true(renewed_at != 0);
    assert_true(renewed_at >= tw_enroll_renew_time(first.not_before, first.not_after, 0.25)); /* not early */
    assert_true(renewed_at < old_na);                                                        /* before expiry */
    assert_true(sent > sent_before_swap + 4);                        /* published after the swap too */
    int64_t new_na = ev.not_after;
    assert_true(new_na != old_na);
    assert_true(new_na > old_na);
    int64_t cfg_na = 0;
    assert_int_equal(tw_tls_config_own_not_after(cfg, &cfg_na), TW_OK);
    assert_true(cfg_na == new_na);

    /* the running connection was never dropped, every QoS 1 publish acknowledged */
    st = tw_mqtt_client_flush(c, 10000);
    if (st != TW_OK) print_error("flush: %s: %s\n", tw_status_name(st), tw_mqtt_client_last_error(c));
    assert_int_equal(st, TW_OK);
    assert_int_equal(ps.connects, 1);
    assert_int_equal(ps.drops, 0);
    assert_int_equal(ps.acked_bad, 0);
    assert_int_equal(ps.acked_ok, sent);
    assert_int_equal(tw_mqtt_client_state(c), TW_MQTT_CONNECTED);
    /* the live connection still holds the credential it was made with */
    assert_true(own_not_after(c, NULL) == old_na);

    /* 4. a new handshake on the same config presents the NEW certificate: a second client ... */
    pubstate ps2;
    memset(&ps2, 0, sizeof ps2);
    tw_mqtt_client *c2 = mqtt_new(cfg, "renew-pub2", &ps2);
    mqtt_connect(c2);
    assert_true(own_not_after(c2, NULL) == new_na);
    publish(c2, "second-client");
    assert_int_equal(tw_mqtt_client_flush(c2, 10000), TW_OK);
    assert_int_equal(ps2.acked_ok, 1);
    assert_int_equal(tw_mqtt_client_disconnect(c2, 2000), TW_OK);
    tw_mqtt_client_free(c2);

    /* ... and the first client reconnecting (its old session is not resumed: a full handshake) */
    assert_int_equal(tw_mqtt_client_disconnect(c, 2000), TW_OK);
    mqtt_connect(c);
    int resumed = -1;
    assert_true(own_not_after(c, &resumed) == new_na);
    assert_int_equal(resumed, 0);
    publish(c, "after-reconnect");
    assert_int_equal(tw_mqtt_client_flush(c, 10000), TW_OK);
    assert_int_equal(ps.acked_ok, sent + 1);
    assert_int_equal(ps.drops, 0);
    assert_int_equal(ps.connects, 2);

    /* 5. the new credential completed handshakes: commit it */
    tw_credential_info pend;
    inspect(dir, &pend);
    assert_true(pend.has_pending);
    assert_true(pend.not_after == old_na); /* current is still the old one until commit */
    assert_int_equal(tw_enroll_commit(e), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_COMMITTED], 1);
    tw_credential_info now;
    inspect(dir, &now);
    assert_true(now.has_current);
    assert_false(now.has_pending);
    assert_true(now.not_after == new_na);
    assert_string_not_equal(now.serial, first.serial);
    assert_string_not_equal(now.key_path, first.key_path);
    assert_int_equal(access(first.key_path, F_OK), -1); /* the old generation is gone */

    /* 6. the independent subscriber got everything, before and after the swap */
    assert_true(twt_file_wait(g_subout, TOPIC " after-reconnect", 10000));
    char *got = twt_slurp(g_subout);
    assert_non_null(got);
    char line[96];
    for (int i = 0; i < sent; i++) {
        snprintf(line, sizeof line, TOPIC " m%d", i);
        if (count_lines(got, line) < 1) print_error("subscriber missed %s (swap after %d)\n", line, sent_before_swap);
        assert_true(count_lines(got, line) >= 1);
    }
    snprintf(line, sizeof line, TOPIC " second-client");
    assert_true(count_lines(got, line) == 1);
    free(got);
    print_message("published %d QoS 1 messages on one connection, %d after the hot swap; renewed at +%llds "
                  "of a %llds certificate\n",
                  sent, sent - sent_before_swap, (long long)(renewed_at - first.not_before),
                  (long long)(old_na - first.not_before));

    assert_int_equal(tw_mqtt_client_disconnect(c, 2000), TW_OK);
    tw_mqtt_client_free(c);
    tw_tls_config_free(cfg);
    tw_enroll_free(e);
    free(ev.key_pem);
    free(ev.chain_pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_renew_live, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
