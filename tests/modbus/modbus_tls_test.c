/* Modbus/TCP Security interop: tagwire's modbus+tls:// client against independent TLS servers with
 * client certificates in front of the libmodbus test server (tw_mbserver):
 *   - socat (OpenSSL) with verify=1: TLS 1.3, and TLS 1.2 with a server certificate carrying a role;
 *   - Python's ssl (OpenSSL) server that authorises writes by the role in the client certificate
 *     (read with python3-cryptography).
 * Plus the URI/option errors, reconnect, the CLI, and the modbus+tcp log policy. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"
#include "tagwire/tls.h"
#include "twtest.h"

static char *g_dir;
static char g_pki[512];
static uint16_t g_mb_port;   /* plain Modbus TCP: tw_mbserver */
static uint16_t g_tls_port;  /* socat, server.pem, TLS 1.2..1.3 */
static uint16_t g_tls12_port; /* socat, server-role.pem, TLS 1.2 only */
static pid_t g_mb = -1, g_tls = -1, g_tls12 = -1;

/* ---- log capture ---- */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_log_unencrypted, g_log_insecure;

static void log_hook(tw_log_level level, const char *module, const char *message, void *user)
{
    (void)user;
    (void)module;
    pthread_mutex_lock(&g_log_mu);
    if (level == TW_LOG_INFO && strstr(message, "modbus+tcp is unencrypted")) g_log_unencrypted++;
    if (level == TW_LOG_WARN && strstr(message, "INSECURE")) g_log_insecure++;
    pthread_mutex_unlock(&g_log_mu);
    if (level <= TW_LOG_WARN) fprintf(stderr, "[%s] %s: %s\n", tw_log_level_name(level), module, message);
}

static const char *pki(int slot, const char *name) { return twt_path(slot, g_pki, name); }

/* socat serving TLS on `port` in front of tw_mbserver. With `fork` a child serves each connection
 * (it ends with its connection); without, socat serves one connection and exits with it, so that
 * stopping it cuts the link. */
static pid_t start_socat(uint16_t port, const char *cert, const char *key, const char *extra, int fork)
{
    char listen[1400];
    /* nodelay: without it OpenSSL's two session tickets meet Nagle and delayed ACK, and the first
     * response after a handshake waits ~40 ms */
    snprintf(listen, sizeof listen, "OPENSSL-LISTEN:%u,reuseaddr,nodelay%s,cert=%s,key=%s,cafile=%s,verify=1%s%s",
             (unsigned)port, fork ? ",fork" : "", pki(0, cert), pki(1, key), pki(2, "ca.pem"), extra ? "," : "",
             extra ? extra : "");
    char target[64];
    snprintf(target, sizeof target, "TCP:127.0.0.1:%u,nodelay", (unsigned)g_mb_port);
    char *argv[] = {"socat", listen, target, NULL};
    char logname[64];
    snprintf(logname, sizeof logname, "socat-%u.log", (unsigned)port);
    pid_t pid = twt_spawn(argv, twt_path(3, g_dir, logname));
    if (pid > 0 && !twt_wait_listen(port, 20000)) {
        twt_kill9(pid);
        return -1;
    }
    return pid;
}

static int setup_all(void **state)
{
    (void)state;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_fn = log_hook;
    ip.log_level = TW_LOG_INFO;
    if (tw_init(&ip) != TW_OK) return -1;
    if (!twt_have("socat")) {
        fprintf(stderr, "socat is not installed (scripts/deps/mbtls.apt; run scripts/bootstrap)\n");
        return -1;
    }
    g_dir = twt_mkdtemp("tw-mbtls");
    if (!g_dir) return -1;
    snprintf(g_pki, sizeof g_pki, "%s/pki", g_dir);
    if (mkdir(g_pki, 0700) != 0 || twt_make_pki(g_pki) != 0) return -1;
    g_mb_port = twt_free_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)g_mb_port);
    char *argv[] = {(char *)TW_MBSERVER, "--port", ps, NULL};
    g_mb = twt_spawn(argv, twt_path(7, g_dir, "mbserver.log"));
    if (g_mb <= 0 || !twt_wait_listen(g_mb_port, 20000)) return -1;
    g_tls_port = twt_free_port();
    g_tls = start_socat(g_tls_port, "server.pem", "server.key", NULL, 1);
    g_tls12_port = twt_free_port();
    g_tls12 = start_socat(g_tls12_port, "server-role.pem", "server-role.key", "max-version=TLS1.2", 1);
    return g_tls > 0 && g_tls12 > 0 ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    if (g_tls > 0) twt_stop(g_tls);
    if (g_tls12 > 0) twt_stop(g_tls12);
    if (g_mb > 0) twt_stop(g_mb);
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

/* modbus+tls://127.0.0.1:PORT?unit=1&ca=..&cert=CERT.pem&key=CERT.key + extra */
static const char *tls_uri(uint16_t port, const char *cert, const char *extra)
{
    static char uri[2048];
    int n = snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?unit=1&ca=%s", (unsigned)port, pki(0, "ca.pem"));
    if (cert)
        n += snprintf(uri + n, sizeof uri - (size_t)n, "&cert=%s.pem&key=%s.key", twt_path(1, g_pki, cert),
                      twt_path(2, g_pki, cert));
    if (extra) snprintf(uri + n, sizeof uri - (size_t)n, "&%s", extra);
    return uri;
}

static tw_device *open_ok(const char *uri, const tw_device_options *o)
{
    tw_device *d = NULL;
    tw_status st = tw_device_open(&d, uri, o);
    if (st != TW_OK) fail_msg("open %s: %s: %s", uri, tw_status_name(st), tw_last_error());
    return d;
}

static uint32_t add(tw_device *d, const char *addr)
{
    uint32_t id;
    tw_status st = tw_device_add_item(d, &id, addr);
    if (st != TW_OK) fail_msg("add %s: %s", addr, tw_device_last_error(d));
    return id;
}

/* Reads one item; returns the status, the sample in *s. */
static tw_status read1(tw_device *d, uint32_t id, tw_sample *s)
{
    memset(s, 0, sizeof *s);
    return tw_device_read(d, &id, 1, s);
}

static void expect_read(tw_device *d, uint32_t id, uint64_t value)
{
    tw_sample s;
    tw_status st = read1(d, id, &s);
    if (st != TW_OK) fail_msg("read: %s: %s", tw_status_name(st), tw_device_last_error(d));
    assert_int_equal(s.quality, TW_QUALITY_GOOD);
    assert_int_equal(s.value.as.u, value);
}

/* A connect that fails with `want`: the read fails with it and the item is bad-not-connected. */
static void expect_refused(const char *uri, const tw_device_options *o, tw_status want, const char *msg_part)
{
    tw_device *d = open_ok(uri, o);
    uint32_t id = add(d, "holding-register:42");
    tw_sample s;
    tw_status st = read1(d, id, &s);
    if (st != want) fail_msg("expected %s, got %s: %s", tw_status_name(want), tw_status_name(st), tw_device_last_error(d));
    assert_int_equal(s.quality, TW_QUALITY_BAD_NOT_CONNECTED);
    if (msg_part && !strstr(tw_device_last_error(d), msg_part))
        fail_msg("error \"%s\" does not mention \"%s\"", tw_device_last_error(d), msg_part);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &ds), TW_OK);
    assert_int_equal(ds.connects, 0);
    assert_true(ds.connect_failures >= 1);
    tw_device_free(d);
}

/* ---- read and write over Modbus/TCP Security (TLS 1.3 with this build's mbedTLS) ---- */
static void test_read_write(void **state)
{
    (void)state;
    tw_device *d = open_ok(tls_uri(g_tls_port, "client-role", NULL), NULL);
    uint32_t r42 = add(d, "holding-register:42");
    uint32_t w = add(d, "holding-register:300");
    uint32_t f = add(d, "holding-register:9002:FLOAT32:CDAB");
    expect_read(d, r42, 42);
    tw_value v = {.type = TW_TYPE_UINT16, .as.u = 4242};
    assert_int_equal(tw_device_write(d, w, &v), TW_OK);
    expect_read(d, w, 4242);
    tw_sample s;
    assert_int_equal(read1(d, f, &s), TW_OK);
    assert_true(s.value.as.f > 123.455 && s.value.as.f < 123.457);

    tw_tls_info ti;
    memset(&ti, 0, sizeof ti);
    ti.version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_device_tls_info(d, &ti), TW_OK);
    if (tw_features() & TW_FEATURE_TLS13) assert_int_equal(ti.protocol, TW_TLS_VERSION_1_3);
    assert_string_equal(ti.own_role, "operator"); /* the role our client certificate carries */
    assert_string_equal(ti.peer_role, "");        /* server.pem has none */
    assert_non_null(strstr(ti.peer_subject, "CN=localhost"));
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &ds), TW_OK);
    assert_int_equal(ds.connects, 1);
    assert_true(ds.connected);
    tw_device_free(d);

    /* the write reached the real server: read it back over plain Modbus TCP */
    char uri[64];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u", (unsigned)g_mb_port);
    d = open_ok(uri, NULL);
    expect_read(d, add(d, "holding-register:300"), 4242);
    assert_int_equal(tw_device_tls_info(d, &ti), TW_ERR_UNSUPPORTED); /* plaintext */
    tw_device_free(d);
}

/* ---- TLS 1.2, and a server certificate that carries a role ---- */
static void test_tls12_peer_role(void **state)
{
    (void)state;
    tw_device *d = open_ok(tls_uri(g_tls12_port, "client", NULL), NULL);
    uint32_t id = add(d, "holding-register:7");
    tw_tls_info ti;
    memset(&ti, 0, sizeof ti);
    ti.version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_device_tls_info(d, &ti), TW_ERR_BUSY); /* not connected before a read */
    expect_read(d, id, 7);
    assert_int_equal(tw_device_tls_info(d, &ti), TW_OK);
    assert_int_equal(ti.protocol, TW_TLS_VERSION_1_2);
    assert_string_equal(ti.peer_role, "plc-server");
    assert_string_equal(ti.own_role, ""); /* client.pem has no role */
    /* a version 1 caller gets the version 1 fields and nothing after them */
    tw_tls_info v1;
    memset(&v1, 0x5A, sizeof v1);
    v1.version = 1;
    assert_int_equal(tw_device_tls_info(d, &v1), TW_OK);
    assert_int_equal(v1.version, 1);
    assert_int_equal(v1.protocol, TW_TLS_VERSION_1_2);
    assert_int_equal((unsigned char)v1.own_role[0], 0x5A);
    assert_int_equal((unsigned char)v1.peer_role[63], 0x5A);
    v1.version = 3;
    assert_int_equal(tw_device_tls_info(d, &v1), TW_ERR_VERSION);
    tw_device_free(d);
}

/* ---- the server refuses: untrusted client certificate, no client certificate ---- */
static void test_client_refused(void **state)
{
    (void)state;
    /* a client certificate from a CA the server does not trust */
    expect_refused(tls_uri(g_tls_port, "rogue-client", NULL), NULL, TW_ERR_TLS_PEER_REFUSED, "client certificate");
    expect_refused(tls_uri(g_tls12_port, "rogue-client", NULL), NULL, TW_ERR_TLS_PEER_REFUSED, "client certificate");
    /* no client certificate at all: only possible through a config without credentials (the URI
     * form refuses to open without cert= and key=) */
    tw_tls_config *cfg;
    assert_int_equal(tw_tls_config_new(&cfg), TW_OK);
    assert_int_equal(tw_tls_config_set_ca_file(cfg, pki(0, "ca.pem")), TW_OK);
    /* TLS 1.3 reports the refusal after the handshake: wait long enough on a loaded machine */
    assert_int_equal(tw_tls_config_set_timeouts(cfg, 0, 0, 5000), TW_OK);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.tls = cfg;
    char uri[64];
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u", (unsigned)g_tls_port);
    expect_refused(uri, &o, TW_ERR_TLS_PEER_REFUSED, NULL);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u", (unsigned)g_tls12_port);
    expect_refused(uri, &o, TW_ERR_TLS_PEER_REFUSED, NULL);
    /* the same config with credentials works; the caller's reference stays valid after the device */
    assert_int_equal(tw_tls_config_set_credentials_file(cfg, pki(0, "client.pem"), pki(1, "client.key"), NULL), TW_OK);
    tw_device *d = open_ok(uri, &o);
    expect_read(d, add(d, "holding-register:11"), 11);
    tw_device_free(d);
    tw_tls_config_free(cfg);
}

/* ---- we refuse the server: wrong name, untrusted CA, pins; CRL ---- */
static void test_server_refused(void **state)
{
    (void)state;
    expect_refused(tls_uri(g_tls_port, "client", "servername=otherhost.example"), NULL, TW_ERR_TLS_HOSTNAME,
                   "otherhost.example");
    char uri[2048];
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s", (unsigned)g_tls_port,
             pki(0, "rogue-ca.pem"), pki(1, "client.pem"), pki(2, "client.key"));
    expect_refused(uri, NULL, TW_ERR_TLS_UNKNOWN_CA, NULL);
    /* pins: the server's key passes, another key fails */
    char pin[128], extra[256];
    FILE *f = fopen(pki(0, "server.spki"), "r");
    assert_non_null(f);
    assert_non_null(fgets(pin, sizeof pin, f));
    fclose(f);
    pin[strcspn(pin, "\r\n")] = 0;
    snprintf(extra, sizeof extra, "pin=%s&crl=%s", pin, pki(0, "crl.pem"));
    tw_device *d = open_ok(tls_uri(g_tls_port, "client", extra), NULL);
    expect_read(d, add(d, "holding-register:5"), 5);
    tw_device_free(d);
    f = fopen(pki(0, "rogue-server.spki"), "r");
    assert_non_null(f);
    assert_non_null(fgets(pin, sizeof pin, f));
    fclose(f);
    pin[strcspn(pin, "\r\n")] = 0;
    snprintf(extra, sizeof extra, "pin=%s", pin);
    expect_refused(tls_uri(g_tls_port, "client", extra), NULL, TW_ERR_TLS_PIN, NULL);
    /* a server name that matches: the name is checked, not the connect address */
    d = open_ok(tls_uri(g_tls_port, "client", "servername=localhost"), NULL);
    expect_read(d, add(d, "holding-register:6"), 6);
    tw_device_free(d);
}

/* ---- configuration errors at open: clear messages ---- */
static void expect_open_error(const char *uri, const tw_device_options *o, tw_status want, const char *p1,
                              const char *p2)
{
    tw_device *d = NULL;
    tw_status st = tw_device_open(&d, uri, o);
    if (st != want) fail_msg("open %s: expected %s, got %s: %s", uri, tw_status_name(want), tw_status_name(st), tw_last_error());
    assert_null(d);
    if (p1 && !strstr(tw_last_error(), p1)) fail_msg("error \"%s\" does not mention \"%s\"", tw_last_error(), p1);
    if (p2 && !strstr(tw_last_error(), p2)) fail_msg("error \"%s\" does not mention \"%s\"", tw_last_error(), p2);
}

static void test_open_errors(void **state)
{
    (void)state;
    char uri[2048], missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-ca.pem", g_dir);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s", (unsigned)g_tls_port, missing,
             pki(1, "client.pem"), pki(2, "client.key"));
    expect_open_error(uri, NULL, TW_ERR_NOT_FOUND, "ca=", "No such file");
    expect_open_error(uri, NULL, TW_ERR_NOT_FOUND, missing, NULL);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s/no-such.key", (unsigned)g_tls_port,
             pki(0, "ca.pem"), pki(1, "client.pem"), g_dir);
    expect_open_error(uri, NULL, TW_ERR_NOT_FOUND, "key=", "no-such.key");
    /* a directory is not a certificate */
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s", (unsigned)g_tls_port,
             pki(0, "ca.pem"), g_dir, pki(2, "client.key"));
    tw_device *d = NULL;
    assert_int_not_equal(tw_device_open(&d, uri, NULL), TW_OK);
    assert_non_null(strstr(tw_last_error(), "cert"));
    /* key of another certificate */
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s", (unsigned)g_tls_port,
             pki(0, "ca.pem"), pki(1, "client.pem"), pki(2, "client2.key"));
    expect_open_error(uri, NULL, TW_ERR_TLS_CREDENTIALS, "cert/key=", NULL);
    /* a CA file that holds no certificate */
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s&key=%s", (unsigned)g_tls_port,
             pki(0, "client.key"), pki(1, "client.pem"), pki(2, "client.key"));
    assert_int_not_equal(tw_device_open(&d, uri, NULL), TW_OK);
    assert_non_null(strstr(tw_last_error(), "ca="));
    /* mutual authentication is mandatory */
    expect_open_error(tls_uri(g_tls_port, NULL, NULL), NULL, TW_ERR_CONFIG, "cert=FILE and key=FILE", NULL);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=%s&cert=%s", (unsigned)g_tls_port, pki(0, "ca.pem"),
             pki(1, "client.pem"));
    expect_open_error(uri, NULL, TW_ERR_CONFIG, "key= is missing", NULL);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?cert=%s&key=%s", (unsigned)g_tls_port,
             pki(1, "client.pem"), pki(2, "client.key"));
    expect_open_error(uri, NULL, TW_ERR_CONFIG, "ca=FILE", NULL);
    expect_open_error(tls_uri(g_tls_port, "client", "pin=sha256/short"), NULL, TW_ERR_PARSE, "pin=", NULL);
    expect_open_error(tls_uri(g_tls_port, "client", "cipher=NULL"), NULL, TW_ERR_CONFIG, "cipher", "servername");
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u?ca=&cert=%s&key=%s", (unsigned)g_tls_port,
             pki(1, "client.pem"), pki(2, "client.key"));
    expect_open_error(uri, NULL, TW_ERR_CONFIG, "ca= is empty", NULL);
    /* TLS parameters on plaintext Modbus TCP are a mistake, not ignored */
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?ca=%s", (unsigned)g_mb_port, pki(0, "ca.pem"));
    expect_open_error(uri, NULL, TW_ERR_CONFIG, "modbus+tls://", NULL);
    /* TLS settings given two ways */
    tw_tls_config *cfg;
    assert_int_equal(tw_tls_config_new(&cfg), TW_OK);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.tls = cfg;
    expect_open_error(tls_uri(g_tls_port, "client", NULL), &o, TW_ERR_CONFIG, "one way only", NULL);
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u", (unsigned)g_mb_port);
    expect_open_error(uri, &o, TW_ERR_CONFIG, "modbus+tls://", NULL);
    expect_open_error("modbus+rtu:///dev/null", &o, TW_ERR_CONFIG, NULL, NULL);
    tw_tls_config_free(cfg);
    /* a plaintext transport is still refused for modbus+tls */
    o = (tw_device_options)TW_DEVICE_OPTIONS_INIT;
    assert_int_equal(tw_transport_new_tcp_insecure(&o.transport, NULL), TW_OK);
    snprintf(uri, sizeof uri, "modbus+tls://127.0.0.1:%u", (unsigned)g_tls_port);
    expect_open_error(uri, &o, TW_ERR_TLS_INSECURE, NULL, NULL);
    tw_transport_free(o.transport);
}

/* ---- version 1 options (before `tls` existed) still work, and their end is not read ---- */
static void test_options_v1(void **state)
{
    (void)state;
    /* a version-1 caller's struct is shorter: put it at the very end of a buffer so that reading
     * the `tls` field would go beyond it (ASan reports that) */
    size_t v1_size = offsetof(tw_device_options, tls);
    unsigned char *buf = malloc(v1_size);
    assert_non_null(buf);
    tw_device_options full = TW_DEVICE_OPTIONS_INIT;
    full.version = 1;
    full.timeout_ms = 2000;
    memcpy(buf, &full, v1_size);
    tw_device *d = open_ok(tls_uri(g_tls_port, "client", NULL), (const tw_device_options *)(void *)buf);
    expect_read(d, add(d, "holding-register:9"), 9);
    tw_device_free(d);
    free(buf);
    full.version = TW_DEVICE_OPTIONS_VERSION + 1;
    expect_open_error(tls_uri(g_tls_port, "client", NULL), &full, TW_ERR_VERSION, NULL, NULL);
}

/* ---- the TLS server goes away and comes back: bad-not-connected, then recovery ---- */
static void test_reconnect(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    pid_t s = start_socat(port, "server.pem", "server.key", NULL, 0);
    assert_true(s > 0);
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.reconnect_min_ms = 50;
    o.reconnect_max_ms = 200;
    tw_device *d = open_ok(tls_uri(port, "client", NULL), &o);
    uint32_t id = add(d, "holding-register:77");
    expect_read(d, id, 77);
    twt_stop(s);
    tw_sample smp;
    tw_status st = TW_OK;
    for (int i = 0; i < 50 && st == TW_OK; i++) st = read1(d, id, &smp);
    assert_int_not_equal(st, TW_OK);
    assert_true(smp.quality == TW_QUALITY_BAD_NOT_CONNECTED || smp.quality == TW_QUALITY_BAD_COMM_FAILURE);
    assert_int_equal(smp.value.as.u, 77); /* last value kept */
    s = start_socat(port, "server.pem", "server.key", NULL, 0);
    assert_true(s > 0);
    st = TW_ERR_GENERIC;
    for (int i = 0; i < 100 && st != TW_OK; i++) {
        st = read1(d, id, &smp);
        if (st != TW_OK) usleep(20000);
    }
    twt_stop(s);
    assert_int_equal(st, TW_OK);
    assert_int_equal(smp.quality, TW_QUALITY_GOOD);
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    assert_int_equal(tw_device_stats_get(d, &ds), TW_OK);
    assert_int_equal(ds.connects, 2);
    tw_device_free(d);
}

/* ---- role-based authorization by an independent server (Python ssl + cryptography) ---- */
static void test_rbac_server(void **state)
{
    (void)state;
    uint16_t port = twt_free_port();
    char ps[16], bs[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    snprintf(bs, sizeof bs, "%u", (unsigned)g_mb_port);
    char cert[600], key[600], ca[600];
    snprintf(cert, sizeof cert, "%s", pki(0, "server.pem"));
    snprintf(key, sizeof key, "%s", pki(0, "server.key"));
    snprintf(ca, sizeof ca, "%s", pki(0, "ca.pem"));
    /* Debian's interpreter explicitly: python3-cryptography belongs to it */
    char *argv[] = {"/usr/bin/python3", TW_RBAC_SERVER, "--port", ps, "--backend-port", bs, "--cert", cert,
                    "--key", key, "--ca", ca, "--write-role", "operator", NULL};
    char log[600];
    snprintf(log, sizeof log, "%s", twt_path(4, g_dir, "rbac.log"));
    pid_t s = twt_spawn(argv, log);
    if (s <= 0 || !twt_wait_listen(port, 10000)) {
        if (s > 0) twt_kill9(s);
        fail_msg("the Python Modbus/TCP Security server did not start (python3-cryptography installed? see %s)", log);
    }
    /* operator: reads and writes */
    tw_device *d = open_ok(tls_uri(port, "client-role", NULL), NULL);
    uint32_t w = add(d, "holding-register:310");
    tw_value v = {.type = TW_TYPE_UINT16, .as.u = 310};
    tw_status st = tw_device_write(d, w, &v);
    if (st != TW_OK) fail_msg("operator write: %s: %s", tw_status_name(st), tw_device_last_error(d));
    expect_read(d, w, 310);
    tw_device_free(d);
    /* no role: reads pass, writes are refused with exception 01 */
    d = open_ok(tls_uri(port, "client", NULL), NULL);
    w = add(d, "holding-register:310");
    expect_read(d, w, 310);
    v.as.u = 999;
    assert_int_equal(tw_device_write(d, w, &v), TW_ERR_MODBUS_EXCEPTION);
    assert_non_null(strstr(tw_device_last_error(d), "illegal function"));
    expect_read(d, w, 310); /* unchanged; the link stays up */
    tw_device_free(d);
    twt_stop(s);
    /* what the server read from our certificates */
    char line[256];
    int saw_operator = 0, saw_none = 0;
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "role=operator cn=device-1")) saw_operator++;
        if (strstr(line, "role=- cn=device-1")) saw_none++;
    }
    fclose(f);
    assert_int_equal(saw_operator, 1);
    assert_int_equal(saw_none, 1);
}

/* ---- the CLI ---- */
static int run_cli(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_cli(char *out, size_t len, const char *fmt, ...)
{
    char cmd[4096];
    int o = snprintf(cmd, sizeof cmd, "%s ", TW_CLI);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + o, sizeof cmd - (size_t)o, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(run_cli(out, sizeof out, "read '%s' holding-register:0 holding-register:40043",
                             tls_uri(g_tls_port, "client-role", NULL)), 0);
    assert_non_null(strstr(out, "holding-register:0\t0\tuint16\tgood\t"));
    assert_non_null(strstr(out, "holding-register:40043\t42\tuint16\tgood\t"));
    assert_int_equal(run_cli(out, sizeof out, "write '%s' holding-register:320 3200",
                             tls_uri(g_tls_port, "client", NULL)), 0);
    assert_non_null(strstr(out, "\t3200\tuint16\tgood"));
    assert_int_equal(run_cli(out, sizeof out, "read '%s' holding-register:0", tls_uri(g_tls_port, "rogue-client", NULL)), 1);
    assert_non_null(strstr(out, "TW_ERR_TLS_PEER_REFUSED"));
    assert_non_null(strstr(out, "bad-not-connected"));
    assert_int_not_equal(run_cli(out, sizeof out, "read '%s' holding-register:0", tls_uri(g_tls_port, NULL, NULL)), 0);
    assert_non_null(strstr(out, "cert=FILE"));
}

/* ---- modbus+tcp: one INFO line at open, no INSECURE warning per connect ---- */
static void test_tcp_log_policy(void **state)
{
    (void)state;
    pthread_mutex_lock(&g_log_mu);
    g_log_unencrypted = g_log_insecure = 0;
    pthread_mutex_unlock(&g_log_mu);
    char uri[64];
    snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u", (unsigned)g_mb_port);
    tw_device *d = open_ok(uri, NULL);
    uint32_t id = add(d, "holding-register:3");
    expect_read(d, id, 3);
    expect_read(d, id, 3);
    tw_device_free(d);
    d = open_ok(uri, NULL);
    expect_read(d, add(d, "holding-register:4"), 4);
    tw_device_free(d);
    pthread_mutex_lock(&g_log_mu);
    assert_int_equal(g_log_unencrypted, 2); /* one per device opened */
    assert_int_equal(g_log_insecure, 0);
    pthread_mutex_unlock(&g_log_mu);
    /* modbus+tls says nothing of the kind */
    d = open_ok(tls_uri(g_tls_port, "client", NULL), NULL);
    expect_read(d, add(d, "holding-register:4"), 4);
    tw_device_free(d);
    /* the public plaintext transport stays loud */
    tw_transport *t;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, NULL), TW_OK);
    assert_int_equal(tw_transport_connect_blocking(t, "127.0.0.1", g_mb_port), TW_OK);
    tw_transport_free(t);
    pthread_mutex_lock(&g_log_mu);
    assert_int_equal(g_log_unencrypted, 2);
    assert_int_equal(g_log_insecure, 1);
    pthread_mutex_unlock(&g_log_mu);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_write),     cmocka_unit_test(test_tls12_peer_role),
        cmocka_unit_test(test_client_refused), cmocka_unit_test(test_server_refused),
        cmocka_unit_test(test_open_errors),    cmocka_unit_test(test_options_v1),
        cmocka_unit_test(test_reconnect),      cmocka_unit_test(test_rbac_server),
        cmocka_unit_test(test_cli),            cmocka_unit_test(test_tcp_log_policy),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
