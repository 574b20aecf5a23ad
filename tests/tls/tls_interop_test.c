/* Mutual TLS against real peers on 127.0.0.1: openssl s_server and Mosquitto 2.
 * The PKI is generated for this run by tests/fixtures/make_pki.sh (openssl CLI). */
#define _GNU_SOURCE
#include "twtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>

#include "tagwire/sys/transport.h"
#include "tagwire/tls.h"

static char *g_pki;

static const char *pki(int slot, const char *name) { return twt_path(slot, g_pki, name); }

static int group_setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_pki = twt_mkdtemp("tw-tls-pki");
    if (!g_pki || twt_make_pki(g_pki) != 0) {
        fprintf(stderr, "PKI generation failed (see %s/pki.log)\n", g_pki ? g_pki : "?");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    twt_rmtree(g_pki);
    free(g_pki);
    tw_shutdown();
    return 0;
}

/* ---- peers ---- */

typedef struct peer {
    pid_t pid;
    int stdin_fd;
    uint16_t port;
    char log[512];
} peer;

/* Peers still running; a failed assertion leaves the test early and teardown stops them. */
static pid_t g_live[16];

static void live_add(pid_t pid)
{
    for (int i = 0; i < 16; i++)
        if (g_live[i] <= 0) {
            g_live[i] = pid;
            return;
        }
}

static void live_del(pid_t pid)
{
    for (int i = 0; i < 16; i++)
        if (g_live[i] == pid) g_live[i] = 0;
}

static int stop_live(void **state)
{
    (void)state;
    for (int i = 0; i < 16; i++)
        if (g_live[i] > 0) {
            twt_stop(g_live[i]);
            g_live[i] = 0;
        }
    return 0;
}

static void peer_stop(peer *p)
{
    if (p->pid > 0) {
        twt_stop(p->pid);
        live_del(p->pid);
    }
    if (p->stdin_fd >= 0) close(p->stdin_fd);
    p->pid = -1;
    p->stdin_fd = -1;
}

/* openssl s_server with server cert `srv` (name in the PKI dir), requiring a client certificate
 * issued by ca.pem; extra arguments appended (NULL-terminated list, at most 8). */
static void s_server_start(peer *p, const char *srv, const char *const *extra)
{
    assert_true(twt_have("openssl"));
    p->port = twt_free_port();
    p->stdin_fd = -1;
    snprintf(p->log, sizeof p->log, "%s/s_server.%u.log", g_pki, (unsigned)p->port);
    char port[16], cert[600], key[600];
    snprintf(port, sizeof port, "%u", (unsigned)p->port);
    snprintf(cert, sizeof cert, "%s/%s.pem", g_pki, srv);
    snprintf(key, sizeof key, "%s/%s.key", g_pki, srv);
    char *argv[32] = {"openssl", "s_server", "-accept", port, "-cert", cert, "-key", key,
                      "-CAfile", (char *)pki(0, "ca.pem"), "-Verify", "1", "-verify_return_error"};
    int n = 13;
    for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    p->pid = twt_spawn_stdin(argv, p->log, &p->stdin_fd);
    assert_true(p->pid > 0);
    live_add(p->pid);
    if (!twt_wait_listen(p->port, 20000)) {
        peer_stop(p);
        fail_msg("s_server did not listen on %u", (unsigned)p->port);
    }
}

static int log_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) found++;
    fclose(f);
    return found;
}

/* ---- client helpers ---- */

static tw_tls_config *cfg_new(const char *client /* NULL: no own certificate */)
{
    tw_tls_config *cfg;
    assert_int_equal(tw_tls_config_new(&cfg), TW_OK);
    assert_int_equal(tw_tls_config_set_ca_file(cfg, pki(0, "ca.pem")), TW_OK);
    if (client) {
        char c[64], k[64];
        snprintf(c, sizeof c, "%s.pem", client);
        snprintf(k, sizeof k, "%s.key", client);
        tw_status st = tw_tls_config_set_credentials_file(cfg, pki(1, c), pki(2, k), NULL);
        if (st) fail_msg("credentials: %s", tw_tls_config_last_error(cfg));
    }
    assert_int_equal(tw_tls_config_set_timeouts(cfg, 5000, 5000, 5000), TW_OK);
    return cfg;
}

static void cfg_tls12(tw_tls_config *cfg)
{
    assert_int_equal(tw_tls_config_set_versions(cfg, TW_TLS_VERSION_1_2, TW_TLS_VERSION_1_2), TW_OK);
}

static tw_status try_connect(tw_tls_config *cfg, uint16_t port, tw_transport **out)
{
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    tw_status st = tw_transport_connect_blocking(t, "localhost", port);
    print_message("connect -> %s: %s\n", tw_status_name(st), tw_transport_last_error(t));
    if (out) {
        *out = t;
    } else {
        tw_transport_free(t);
    }
    return st;
}

static void info_of(tw_transport *t, tw_tls_info *i)
{
    memset(i, 0, sizeof *i);
    i->version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_transport_tls_info(t, i), TW_OK);
}

/* Sends a line to `openssl s_server -rev` and checks the reversed echo. */
static void rev_roundtrip(tw_transport *t, const char *line)
{
    char msg[128], want[128], got[128];
    size_t n = strlen(line);
    snprintf(msg, sizeof msg, "%s\n", line);
    for (size_t i = 0; i < n; i++) want[i] = line[n - 1 - i];
    want[n] = 0;
    assert_int_equal(tw_transport_write_all(t, msg, n + 1), TW_OK);
    size_t have = 0;
    while (have < n) {
        size_t r = 0;
        tw_status st = tw_transport_read_blocking(t, got + have, sizeof got - 1 - have, &r);
        if (st) fail_msg("read: %s %s", tw_status_name(st), tw_transport_last_error(t));
        have += r;
    }
    got[have] = 0;
    assert_memory_equal(got, want, n);
}

/* ---- success against openssl s_server ---- */

static void ok_s_server(int tls12)
{
    peer p;
    const char *extra[] = {"-rev", NULL};
    s_server_start(&p, "server", extra);
    tw_tls_config *cfg = cfg_new("client");
    if (tls12) cfg_tls12(cfg);
    tw_transport *t = NULL;
    tw_status st = try_connect(cfg, p.port, &t);
    if (st != TW_OK) {
        tw_transport_free(t);
        tw_tls_config_free(cfg);
        peer_stop(&p);
        fail_msg("connect failed");
    }
    tw_tls_info i;
    info_of(t, &i);
    print_message("%s %s (0x%04x) peer=\"%s\" handshake %.2f ms\n", i.protocol_name, i.suite_name,
                  i.suite_id, i.peer_subject, i.handshake_us / 1000.0);
    assert_int_equal(i.protocol, tls12 ? TW_TLS_VERSION_1_2 : TW_TLS_VERSION_1_3);
    assert_non_null(strstr(i.peer_subject, "CN=localhost"));
    assert_true(i.peer_not_after > (int64_t)time(NULL));
    assert_true(i.own_not_after > (int64_t)time(NULL));
    assert_false(i.resumed);
    assert_true(tw_transport_is_secure(t));
    rev_roundtrip(t, "hello tagwire");
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    assert_true(log_contains(p.log, "CN = device-1") > 0);
}

static void test_s_server_tls13(void **s) { (void)s; ok_s_server(0); }
static void test_s_server_tls12(void **s) { (void)s; ok_s_server(1); }

static void test_suites(void **s)
{
    (void)s;
    peer p;
    s_server_start(&p, "server", NULL);
    tw_tls_config *cfg = cfg_new("client");
    static const uint16_t weak[] = {0x002F}; /* TLS_RSA_WITH_AES_128_CBC_SHA */
    assert_int_equal(tw_tls_config_set_suites(cfg, weak, 1), TW_ERR_UNSUPPORTED);
    static const uint16_t only[] = {0x1302, 0xC02C}; /* AES-256-GCM, TLS 1.3 and 1.2 (ECDSA) */
    assert_int_equal(tw_tls_config_set_suites(cfg, only, 2), TW_OK);
    tw_transport *t = NULL;
    tw_tls_info i13 = {0}, i12 = {0};
    tw_status st = try_connect(cfg, p.port, &t);
    if (st == TW_OK) info_of(t, &i13);
    tw_transport_free(t);
    cfg_tls12(cfg);
    tw_status st12 = try_connect(cfg, p.port, &t);
    if (st12 == TW_OK) info_of(t, &i12);
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    assert_int_equal(st, TW_OK);
    assert_int_equal(i13.suite_id, 0x1302);
    assert_int_equal(st12, TW_OK);
    assert_int_equal(i12.suite_id, 0xC02C);
}

static void test_io_timeout(void **s)
{
    (void)s;
    peer p;
    s_server_start(&p, "server", NULL);
    tw_tls_config *cfg = cfg_new("client");
    assert_int_equal(tw_tls_config_set_timeouts(cfg, 0, 300, 0), TW_OK);
    tw_transport *t = NULL;
    tw_status st = try_connect(cfg, p.port, &t);
    char buf[16];
    size_t n = 0;
    int64_t t0 = tw_now_ns();
    tw_status rst = st == TW_OK ? tw_transport_read_blocking(t, buf, sizeof buf, &n) : st;
    int64_t ms = (tw_now_ns() - t0) / 1000000;
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    print_message("silent peer: %s after %lld ms\n", tw_status_name(rst), (long long)ms);
    assert_int_equal(st, TW_OK);
    assert_int_equal(rst, TW_ERR_TIMEOUT);
    assert_true(ms >= 250); /* no upper bound: a loaded machine may be late */
}

/* ---- success against Mosquitto 2 with require_certificate ---- */

static void ok_mosquitto(int tls12)
{
    assert_non_null(twt_mosquitto_bin());
    peer p = {.stdin_fd = -1};
    p.port = twt_free_port();
    char name[32];
    snprintf(name, sizeof name, "mosquitto.%u", (unsigned)p.port);
    twt_mosquitto m;
    twt_mosquitto_opts mo = {.port = p.port, .name = name, .pki_dir = g_pki, .extra = "allow_anonymous true"};
    if (twt_mosquitto_start(&m, g_pki, &mo) != 0) fail_msg("mosquitto did not listen");
    p.pid = m.pid;
    live_add(p.pid);
    tw_tls_config *cfg = cfg_new("client");
    if (tls12) cfg_tls12(cfg);
    tw_transport *t = NULL;
    tw_status st = try_connect(cfg, p.port, &t);
    int ok = st == TW_OK;
    tw_tls_info i = {0};
    uint8_t connack[4] = {0};
    if (ok) {
        info_of(t, &i);
        print_message("mosquitto: %s %s\n", i.protocol_name, i.suite_name);
        /* MQTT 3.1.1 CONNECT, clean session, keep-alive 10 s, client id "tw" */
        static const uint8_t connect[] = {0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, 2, 't', 'w'};
        ok = tw_transport_write_all(t, connect, sizeof connect) == TW_OK;
        size_t have = 0;
        while (ok && have < 4) {
            size_t r = 0;
            ok = tw_transport_read_blocking(t, connack + have, 4 - have, &r) == TW_OK;
            have += r;
        }
    }
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    assert_int_equal(st, TW_OK);
    assert_true(ok);
    assert_int_equal(i.protocol, tls12 ? TW_TLS_VERSION_1_2 : TW_TLS_VERSION_1_3);
    assert_int_equal(connack[0], 0x20);
    assert_int_equal(connack[3], 0); /* accepted */
}

static void test_mosquitto_tls13(void **s) { (void)s; ok_mosquitto(0); }
static void test_mosquitto_tls12(void **s) { (void)s; ok_mosquitto(1); }

/* ---- failures, each with its status ---- */

static void expect_fail(const char *srv, const char *const *extra, const char *client, int tls12,
                        const char *crl, const char *pin, tw_status want, const char *reason)
{
    peer p;
    s_server_start(&p, srv, extra);
    tw_tls_config *cfg = cfg_new(client);
    if (tls12) cfg_tls12(cfg);
    if (crl) assert_int_equal(tw_tls_config_set_crl_file(cfg, pki(3, crl)), TW_OK);
    if (pin) assert_int_equal(tw_tls_config_add_pin(cfg, pin), TW_OK);
    tw_transport *t = NULL;
    tw_status st = try_connect(cfg, p.port, &t);
    char msg[300];
    snprintf(msg, sizeof msg, "%s", tw_transport_last_error(t));
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    if (st != want) fail_msg("expected %s, got %s (%s)", tw_status_name(want), tw_status_name(st), msg);
    if (!strstr(msg, reason)) fail_msg("message \"%s\" does not name \"%s\"", msg, reason);
}

static const char *const SECLEVEL0[] = {"-cipher", "DEFAULT:@SECLEVEL=0", NULL};

static void test_unknown_ca(void **s)
{
    (void)s;
    expect_fail("rogue-server", NULL, "client", 0, NULL, NULL, TW_ERR_TLS_UNKNOWN_CA, "unknown CA");
}
static void test_expired(void **s)
{
    (void)s;
    expect_fail("expired-server", NULL, "client", 0, NULL, NULL, TW_ERR_TLS_CERT_EXPIRED, "expired");
}
static void test_not_yet_valid(void **s)
{
    (void)s;
    expect_fail("future-server", NULL, "client", 0, NULL, NULL, TW_ERR_TLS_CERT_NOT_YET_VALID, "not yet valid");
}
static void test_hostname(void **s)
{
    (void)s;
    expect_fail("otherhost", NULL, "client", 0, NULL, NULL, TW_ERR_TLS_HOSTNAME, "hostname mismatch");
}
static void test_pin_mismatch(void **s)
{
    (void)s;
    char pin[80] = "";
    FILE *f = fopen(pki(4, "client.spki"), "r"); /* a valid pin, of another key */
    assert_non_null(f);
    assert_non_null(fgets(pin, sizeof pin, f));
    fclose(f);
    pin[strcspn(pin, "\n")] = 0;
    expect_fail("server", NULL, "client", 0, NULL, pin, TW_ERR_TLS_PIN, "pin mismatch");
}
static void test_pin_match(void **s)
{
    (void)s;
    const char *names[] = {"server.spki", "ca.spki"};
    for (int k = 0; k < 2; k++) {
        char pin[80] = "";
        FILE *f = fopen(pki(4, names[k]), "r");
        assert_non_null(f);
        assert_non_null(fgets(pin, sizeof pin, f));
        fclose(f);
        pin[strcspn(pin, "\n")] = 0;
        peer p;
        s_server_start(&p, "server", NULL);
        tw_tls_config *cfg = cfg_new("client");
        assert_int_equal(tw_tls_config_add_pin(cfg, pin), TW_OK);
        tw_status st = try_connect(cfg, p.port, NULL);
        tw_tls_config_free(cfg);
        peer_stop(&p);
        assert_int_equal(st, TW_OK);
    }
}
static void test_revoked(void **s)
{
    (void)s;
    expect_fail("revoked-server", NULL, "client", 0, "crl.pem", NULL, TW_ERR_TLS_REVOKED, "revoked");
}
static void test_tls11_only_server(void **s)
{
    (void)s;
    const char *extra[] = {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", NULL};
    expect_fail("server", extra, "client", 0, NULL, NULL, TW_ERR_TLS_VERSION, "version");
}
static void test_no_client_cert_tls13(void **s)
{
    (void)s;
    expect_fail("server", NULL, NULL, 0, NULL, NULL, TW_ERR_TLS_PEER_REFUSED, "refused by peer");
}
static void test_no_client_cert_tls12(void **s)
{
    (void)s;
    expect_fail("server", NULL, NULL, 1, NULL, NULL, TW_ERR_TLS_PEER_REFUSED, "refused by peer");
}
static void test_untrusted_client_tls13(void **s)
{
    (void)s;
    expect_fail("server", NULL, "rogue-client", 0, NULL, NULL, TW_ERR_TLS_PEER_REFUSED, "refused by peer");
}
static void test_untrusted_client_tls12(void **s)
{
    (void)s;
    expect_fail("server", NULL, "rogue-client", 1, NULL, NULL, TW_ERR_TLS_PEER_REFUSED, "refused by peer");
}
static void test_weak_key(void **s)
{
    (void)s;
    expect_fail("weak-server", SECLEVEL0, "client", 0, NULL, NULL, TW_ERR_TLS_WEAK_KEY, "weak key");
    expect_fail("weak-server", SECLEVEL0, "client", 1, NULL, NULL, TW_ERR_TLS_WEAK_KEY, "weak key");
}

/* A peer that accepts TCP (kernel backlog) and never answers. */
static void test_stall_timeout(void **s)
{
    (void)s;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    uint16_t port = ntohs(a.sin_port);

    tw_tls_config *cfg = cfg_new("client");
    assert_int_equal(tw_tls_config_set_timeouts(cfg, 400, 0, 0), TW_OK);
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    /* blocking helper */
    int64_t t0 = tw_now_ns();
    tw_status st = tw_transport_connect_blocking(t, "127.0.0.1", port);
    int64_t ms = (tw_now_ns() - t0) / 1000000;
    print_message("blocking: %s after %lld ms: %s\n", tw_status_name(st), (long long)ms, tw_transport_last_error(t));
    assert_int_equal(st, TW_ERR_TIMEOUT);
    assert_true(ms >= 350); /* no upper bound: a loaded machine may be late */
    tw_transport_close(t);
    /* the caller's own poll loop */
    t0 = tw_now_ns();
    for (int i = 0; i < 1000; i++) {
        st = tw_transport_connect(t, "127.0.0.1", port);
        if (st != TW_ERR_AGAIN) break;
        tw_transport_wait(t, tw_transport_events(t), 50);
    }
    ms = (tw_now_ns() - t0) / 1000000;
    print_message("non-blocking: %s after %lld ms: %s\n", tw_status_name(st), (long long)ms, tw_transport_last_error(t));
    assert_int_equal(st, TW_ERR_TIMEOUT);
    assert_true(ms >= 350); /* no upper bound: a loaded machine may be late */
    assert_non_null(strstr(tw_transport_last_error(t), "timeout"));
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    close(lfd);
}

static void test_conn_refused(void **s)
{
    (void)s;
    tw_tls_config *cfg = cfg_new("client");
    uint16_t port = twt_free_port();
    tw_status st = try_connect(cfg, port, NULL);
    tw_tls_config_free(cfg);
    assert_int_equal(st, TW_ERR_CONN_REFUSED);
}

/* ---- resumption ---- */

static void resumption(int tls12)
{
    peer p;
    s_server_start(&p, "server", NULL);
    tw_tls_config *cfg = cfg_new("client");
    if (tls12) cfg_tls12(cfg);
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    uint64_t full_us = 0, res_us = 0;
    int resumed[3] = {0};
    tw_status st = TW_OK;
    for (int k = 0; k < 3 && st == TW_OK; k++) {
        st = tw_transport_connect_blocking(t, "localhost", p.port);
        if (st != TW_OK) {
            print_message("connect %d: %s: %s\n", k, tw_status_name(st), tw_transport_last_error(t));
            break;
        }
        tw_tls_info i;
        info_of(t, &i);
        resumed[k] = i.resumed;
        assert_string_equal(i.peer_subject, "O=tagwire test, CN=localhost");
        assert_true(i.peer_not_after > (int64_t)time(NULL));
        if (k == 0) full_us = i.handshake_us;
        else res_us += i.handshake_us;
        tw_transport_close(t);
    }
    print_message("%s: full handshake %.2f ms, resumed %.2f ms (informational)\n", tls12 ? "TLS 1.2" : "TLS 1.3",
                  full_us / 1000.0, res_us / 2000.0);
    /* another transport has no session to resume */
    tw_transport *t2;
    assert_int_equal(tw_transport_new_tls(&t2, cfg, NULL), TW_OK);
    tw_status st2 = tw_transport_connect_blocking(t2, "localhost", p.port);
    tw_tls_info i2 = {0};
    if (st2 == TW_OK) info_of(t2, &i2);
    tw_transport_free(t2);
    tw_transport_free(t);
    /* resumption off: never resumed */
    tw_tls_config_set_resumption(cfg, 0);
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    int off_resumed = 0;
    for (int k = 0; k < 2; k++) {
        st = tw_transport_connect_blocking(t, "localhost", p.port);
        if (st) print_message("resumption off, connect %d: %s\n", k, tw_transport_last_error(t));
        assert_int_equal(st, TW_OK);
        tw_tls_info i;
        info_of(t, &i);
        off_resumed |= i.resumed;
        tw_transport_close(t);
    }
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    assert_int_equal(st, TW_OK);
    assert_false(resumed[0]);
    assert_true(resumed[1]);
    assert_true(resumed[2]);
    assert_int_equal(st2, TW_OK);
    assert_false(i2.resumed);
    assert_false(off_resumed);
}

static void test_resumption_tls13(void **s) { (void)s; resumption(0); }
static void test_resumption_tls12(void **s) { (void)s; resumption(1); }

/* ---- rotating the client certificate mid-session ---- */

static void rotation(int tls12)
{
    peer p;
    const char *extra[] = {"-rev", NULL};
    s_server_start(&p, "server", extra);
    tw_tls_config *cfg = cfg_new("client");
    if (tls12) cfg_tls12(cfg);
    tw_transport *a;
    assert_int_equal(tw_transport_new_tls(&a, cfg, NULL), TW_OK);
    assert_int_equal(tw_transport_connect_blocking(a, "localhost", p.port), TW_OK);
    rev_roundtrip(a, "before rotation");
    int64_t na_old = 0, na_new = 0;
    assert_int_equal(tw_tls_config_own_not_after(cfg, &na_old), TW_OK);
    /* rotate while `a` is connected */
    assert_int_equal(tw_tls_config_set_credentials_file(cfg, pki(1, "client2.pem"), pki(2, "client2.key"), NULL), TW_OK);
    assert_int_equal(tw_tls_config_own_not_after(cfg, &na_new), TW_OK);
    rev_roundtrip(a, "after rotation, same session");
    assert_int_equal(log_contains(p.log, "CN = device-2"), 0);
    /* the same transport reconnects: a full handshake with the new certificate */
    tw_transport_close(a);
    /* s_server -rev serves one connection at a time; give it a moment to notice the close */
    assert_int_equal(tw_transport_connect_blocking(a, "localhost", p.port), TW_OK);
    tw_tls_info i;
    info_of(a, &i);
    rev_roundtrip(a, "new certificate");
    tw_transport_free(a);
    tw_tls_config_free(cfg);
    peer_stop(&p);
    assert_false(i.resumed);
    assert_true(log_contains(p.log, "CN = device-1") > 0);
    assert_true(log_contains(p.log, "CN = device-2") > 0);
    assert_true(na_new > 0 && na_old > 0);
}

static void test_rotation_tls13(void **s) { (void)s; rotation(0); }
static void test_rotation_tls12(void **s) { (void)s; rotation(1); }

/* ---- TLS layered over a custom transport that accepts little and often refuses ---- */

typedef struct throttle {
    tw_transport *tcp;
    unsigned reads, writes;
} throttle;

static tw_status th_connect(void *x, const char *h, uint16_t p) { return tw_transport_connect(((throttle *)x)->tcp, h, p); }
static tw_status th_read(void *x, void *b, size_t l, size_t *n)
{
    throttle *t = x;
    if (++t->reads % 3 == 0) return TW_ERR_AGAIN;
    return tw_transport_read(t->tcp, b, l > 61 ? 61 : l, n);
}
static tw_status th_write(void *x, const void *b, size_t l, size_t *n)
{
    throttle *t = x;
    if (++t->writes % 2 == 0) return TW_ERR_AGAIN;
    return tw_transport_write(t->tcp, b, l > 97 ? 97 : l, n);
}
static int th_fd(void *x) { return tw_transport_fd(((throttle *)x)->tcp); }
static unsigned th_events(void *x) { return tw_transport_events(((throttle *)x)->tcp) | TW_POLL_OUT; }
static void th_close(void *x) { tw_transport_close(((throttle *)x)->tcp); }
static void th_destroy(void *x)
{
    throttle *t = x;
    tw_transport_free(t->tcp);
    free(t);
}
static const tw_transport_ops throttle_ops = {TW_TRANSPORT_OPS_VERSION, th_connect, th_read, th_write, th_fd,
                                              th_events, NULL, th_close, th_destroy, 0};

static void test_layered_throttled(void **s)
{
    (void)s;
    peer p;
    const char *extra[] = {"-rev", NULL};
    s_server_start(&p, "server", extra);
    tw_tls_config *cfg = cfg_new("client");
    throttle *th = calloc(1, sizeof *th);
    assert_int_equal(tw_transport_new_tcp_insecure(&th->tcp, NULL), TW_OK);
    tw_transport *inner;
    assert_int_equal(tw_transport_new_custom(&inner, &throttle_ops, th), TW_OK);
    tw_tls_options o = TW_TLS_OPTIONS_INIT;
    o.inner = inner;
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, cfg, &o), TW_OK);
    tw_status st = tw_transport_connect_blocking(t, "localhost", p.port);
    if (st) fail_msg("connect: %s", tw_transport_last_error(t));
    /* lines long enough to span several records' worth of throttled writes */
    for (int k = 0; k < 5; k++) {
        char line[100];
        for (int i = 0; i < 90; i++) line[i] = (char)('a' + (i * 7 + k) % 26);
        line[90] = 0;
        rev_roundtrip(t, line);
    }
    /* one large write: the records pass the throttle in pieces, queued ones flushed later */
    size_t big = 20000;
    char *buf = malloc(big + 1);
    for (size_t i = 0; i < big; i++) buf[i] = (i % 100 == 99) ? '\n' : (char)('A' + i % 26);
    assert_int_equal(tw_transport_write_all(t, buf, big), TW_OK);
    size_t have = 0;
    char *echo = malloc(big + 1);
    while (have < big) {
        size_t n = 0;
        st = tw_transport_read_blocking(t, echo + have, big - have, &n);
        if (st) fail_msg("read after %zu: %s", have, tw_transport_last_error(t));
        have += n;
    }
    /* each 99-character line comes back reversed */
    for (size_t l = 0; l < big / 100; l++)
        for (size_t i = 0; i < 99; i++) assert_int_equal(echo[l * 100 + i], buf[l * 100 + 98 - i]);
    free(buf);
    free(echo);
    tw_transport_free(t); /* frees the inner transport too */
    tw_tls_config_free(cfg);
    peer_stop(&p);
}

/* ---- credential reload from another thread while connections are made ---- */

typedef struct rotator {
    tw_tls_config *cfg;
    unsigned char *cert[2], *key[2];
    size_t cert_len[2], key_len[2];
    volatile int stop;
    int swaps, failures;
} rotator;

static unsigned char *slurp(const char *path, size_t *len);

static void *rotate_thread(void *arg)
{
    rotator *r = arg;
    for (int i = 0; !r->stop && i < 100000; i++) {
        int k = i & 1;
        if (tw_tls_config_set_credentials_mem(r->cfg, r->cert[k], r->cert_len[k], r->key[k], r->key_len[k], NULL))
            r->failures++;
        r->swaps++;
        int64_t na;
        if (tw_tls_config_own_not_after(r->cfg, &na) != TW_OK) r->failures++;
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_rotation_concurrent(void **s)
{
    (void)s;
    peer p;
    s_server_start(&p, "server", NULL);
    rotator r = {0};
    r.cfg = cfg_new("client");
    const char *names[2][2] = {{"client.pem", "client.key"}, {"client2.pem", "client2.key"}};
    for (int k = 0; k < 2; k++) {
        r.cert[k] = slurp(pki(0, names[k][0]), &r.cert_len[k]);
        r.key[k] = slurp(pki(1, names[k][1]), &r.key_len[k]);
        assert_non_null(r.cert[k]);
        assert_non_null(r.key[k]);
    }
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, rotate_thread, &r), 0);
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, r.cfg, NULL), TW_OK);
    int ok = 0;
    for (int i = 0; i < 15; i++) {
        tw_status st = tw_transport_connect_blocking(t, "localhost", p.port);
        if (st == TW_OK) ok++;
        else print_message("connect %d: %s\n", i, tw_transport_last_error(t));
        tw_transport_close(t);
    }
    r.stop = 1;
    pthread_join(th, NULL);
    tw_transport_free(t);
    tw_tls_config_free(r.cfg);
    for (int k = 0; k < 2; k++) {
        free(r.cert[k]);
        free(r.key[k]);
    }
    peer_stop(&p);
    print_message("%d credential swaps during 15 handshakes\n", r.swaps);
    assert_int_equal(ok, 15);
    assert_int_equal(r.failures, 0);
    assert_true(r.swaps > 0);
}

/* ---- opaque key: a signing callback with a key held by the test ---- */

typedef struct held_key {
    mbedtls_pk_context pk;
    int calls;
    int raw; /* answer raw r||s instead of DER */
} held_key;

static tw_status sign_cb(tw_tls_hash h, const uint8_t *hash, size_t hash_len, uint8_t *sig, size_t cap,
                         size_t *sig_len, void *ud)
{
    held_key *k = ud;
    k->calls++;
    mbedtls_md_type_t md = h == TW_TLS_HASH_SHA256 ? MBEDTLS_MD_SHA256
                           : h == TW_TLS_HASH_SHA384 ? MBEDTLS_MD_SHA384 : MBEDTLS_MD_SHA512;
    unsigned char der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t dl = 0;
    if (mbedtls_pk_sign(&k->pk, md, hash, hash_len, der, sizeof der, &dl, mbedtls_psa_get_random,
                        MBEDTLS_PSA_RANDOM_STATE) != 0)
        return TW_ERR_GENERIC;
    if (k->raw) {
        size_t bits = mbedtls_pk_get_bitlen(&k->pk);
        if (mbedtls_ecdsa_der_to_raw(bits, der, dl, sig, cap, sig_len) != 0) return TW_ERR_GENERIC;
        return TW_OK;
    }
    if (dl > cap) return TW_ERR_RANGE;
    memcpy(sig, der, dl);
    *sig_len = dl;
    return TW_OK;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = calloc(1, 65536);
    *len = fread(b, 1, 65535, f);
    fclose(f);
    return b;
}

static void test_opaque_signer(void **s)
{
    (void)s;
    held_key k = {0};
    mbedtls_pk_init(&k.pk);
    size_t kl = 0, cl = 0;
    unsigned char *kb = slurp(pki(0, "client.key"), &kl);
    unsigned char *cb = slurp(pki(1, "client.pem"), &cl);
    assert_non_null(kb);
    assert_non_null(cb);
    assert_int_equal(mbedtls_pk_parse_key(&k.pk, kb, kl + 1, NULL, 0, mbedtls_psa_get_random, NULL), 0);

    tw_tls_config *cfg = cfg_new(NULL);
    tw_status st = tw_tls_config_set_credentials_signer(cfg, cb, cl, sign_cb, &k);
    if (st) fail_msg("signer: %s %s", tw_status_name(st), tw_tls_config_last_error(cfg));
    assert_true(k.calls >= 1); /* the self-test */
    int64_t na = 0;
    assert_int_equal(tw_tls_config_own_not_after(cfg, &na), TW_OK);
    assert_true(na > (int64_t)time(NULL));

    for (int mode = 0; mode < 4; mode++) { /* TLS 1.3 / 1.2, DER / raw signatures */
        k.raw = mode & 1;
        assert_int_equal(tw_tls_config_set_versions(cfg, TW_TLS_VERSION_1_2,
                                                    (mode & 2) ? TW_TLS_VERSION_1_2 : TW_TLS_VERSION_1_3),
                         TW_OK);
        peer p;
        s_server_start(&p, "server", NULL);
        int before = k.calls;
        st = try_connect(cfg, p.port, NULL);
        peer_stop(&p);
        assert_int_equal(st, TW_OK);
        assert_true(k.calls > before);
        assert_true(log_contains(p.log, "CN = device-1") > 0);
    }
    /* a callback signing with the wrong key is refused up front */
    held_key wrong = {0};
    mbedtls_pk_init(&wrong.pk);
    free(kb);
    kb = slurp(pki(0, "client2.key"), &kl);
    assert_int_equal(mbedtls_pk_parse_key(&wrong.pk, kb, kl + 1, NULL, 0, mbedtls_psa_get_random, NULL), 0);
    assert_int_equal(tw_tls_config_set_credentials_signer(cfg, cb, cl, sign_cb, &wrong), TW_ERR_TLS_CREDENTIALS);
    tw_tls_config_free(cfg);
    mbedtls_pk_free(&k.pk);
    mbedtls_pk_free(&wrong.pk);
    free(kb);
    free(cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_s_server_tls13, stop_live),
        cmocka_unit_test_teardown(test_s_server_tls12, stop_live),
        cmocka_unit_test_teardown(test_suites, stop_live),
        cmocka_unit_test_teardown(test_io_timeout, stop_live),
        cmocka_unit_test_teardown(test_mosquitto_tls13, stop_live),
        cmocka_unit_test_teardown(test_mosquitto_tls12, stop_live),
        cmocka_unit_test_teardown(test_unknown_ca, stop_live),
        cmocka_unit_test_teardown(test_expired, stop_live),
        cmocka_unit_test_teardown(test_not_yet_valid, stop_live),
        cmocka_unit_test_teardown(test_hostname, stop_live),
        cmocka_unit_test_teardown(test_pin_mismatch, stop_live),
        cmocka_unit_test_teardown(test_pin_match, stop_live),
        cmocka_unit_test_teardown(test_revoked, stop_live),
        cmocka_unit_test_teardown(test_tls11_only_server, stop_live),
        cmocka_unit_test_teardown(test_no_client_cert_tls13, stop_live),
        cmocka_unit_test_teardown(test_no_client_cert_tls12, stop_live),
        cmocka_unit_test_teardown(test_untrusted_client_tls13, stop_live),
        cmocka_unit_test_teardown(test_untrusted_client_tls12, stop_live),
        cmocka_unit_test_teardown(test_weak_key, stop_live),
        cmocka_unit_test_teardown(test_stall_timeout, stop_live),
        cmocka_unit_test_teardown(test_conn_refused, stop_live),
        cmocka_unit_test_teardown(test_resumption_tls13, stop_live),
        cmocka_unit_test_teardown(test_resumption_tls12, stop_live),
        cmocka_unit_test_teardown(test_rotation_tls13, stop_live),
        cmocka_unit_test_teardown(test_rotation_tls12, stop_live),
        cmocka_unit_test_teardown(test_rotation_concurrent, stop_live),
        cmocka_unit_test_teardown(test_layered_throttled, stop_live),
        cmocka_unit_test_teardown(test_opaque_signer, stop_live),
    };
    return cmocka_run_group_tests_name("tls.interop", tests, group_setup, group_teardown);
}
