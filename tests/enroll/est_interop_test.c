/*
 * EST interoperability: tagwire's enrollment client against GlobalSign's EST server (Go module
 * github.com/globalsign/est, `estserver`, installed by scripts/deps/enroll.sh) on 127.0.0.1 with a
 * CA made by this test, and against a scripted responder (fake_est.py, issuing with the openssl
 * CLI) for what estserver cannot be made to answer: 202 + Retry-After for a valid device name, a
 * 401 for wrong basic credentials (estserver's command accepts any), malformed PKCS#7, a
 * certificate for another key, 503.
 */
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "twtest.h"
#include "enroll/enroll_internal.h"

#define ESTSERVER "/opt/tagwire-deps/enroll/bin/estserver"

static char *g_dir;
static uint16_t g_est_port;
static pid_t g_est_pid = -1;
static pid_t g_fake_pid = -1;
static uint16_t g_fake_port;
static char g_est_url[64], g_fake_url[64];
static int g_ncreds;

typedef struct events {
    int count[8];
    char key_path[512], chain_path[512];
    char key_pem[1024];
    tw_status last_status;
    int last_retriable;
} events;

static void on_event(const tw_enroll_event *ev, void *ud)
{
    events *e = ud;
    if ((unsigned)ev->type < 8) e->count[ev->type]++;
    assert_non_null(ev->message);
    if (ev->type == TW_ENROLL_EVENT_FAILED) {
        e->last_status = ev->status;
        e->last_retriable = ev->retriable;
    }
    if (ev->key_path) {
        snprintf(e->key_path, sizeof e->key_path, "%s", ev->key_path);
        snprintf(e->chain_path, sizeof e->chain_path, "%s", ev->chain_path);
    }
    if (ev->key_pem) {
        assert_int_equal(strlen(ev->key_pem), ev->key_pem_len);
        snprintf(e->key_pem, sizeof e->key_pem, "%s", ev->key_pem);
        assert_int_equal(strlen(ev->chain_pem), ev->chain_pem_len);
    }
}

static int group_setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-est");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    if (access(ESTSERVER, X_OK) != 0) {
        fprintf(stderr, "%s missing: run scripts/deps/enroll.sh (scripts/bootstrap does)\n", ESTSERVER);
        return -1; /* fail, never skip */
    }
    g_est_port = twt_free_port();
    FILE *f = fopen(twt_path(0, g_dir, "estserver.json"), "w");
    if (!f) return -1;
    fprintf(f,
            "{\"mock_ca\": {\"certificates\": \"%s/ca.pem\", \"private_key\": \"%s/ca.key\"},\n"
            " \"tls\": {\"listen_address\": \"127.0.0.1:%u\", \"certificates\": \"%s/server.pem\",\n"
            "         \"private_key\": \"%s/server.key\", \"client_cas\": [\"%s/ca.pem\"]},\n"
            " \"allowed_hosts\": [\"127.0.0.1\", \"localhost\"], \"healthcheck_password\": \"hc\",\n"
            " \"rate_limit\": 0, \"timeout\": 30, \"log_file\": \"%s/estserver.log\"}\n",
            g_dir, g_dir, (unsigned)g_est_port, g_dir, g_dir, g_dir, g_dir);
    fclose(f);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", twt_path(0, g_dir, "estserver.json"));
    char *argv[] = {ESTSERVER, "-config", cfg, NULL};
    g_est_pid = twt_spawn(argv, twt_path(1, g_dir, "estserver.out"));
    if (g_est_pid < 0 || !twt_wait_listen(g_est_port, 10000)) return -1;
    snprintf(g_est_url, sizeof g_est_url, "https://127.0.0.1:%u", (unsigned)g_est_port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_est_pid > 0) twt_stop(g_est_pid);
    if (g_dir) twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static int stop_fake(void **state)
{
    (void)state;
    if (g_fake_pid > 0) twt_stop(g_fake_pid);
    g_fake_pid = -1;
    return 0;
}

static void start_fake(const char *mode, const char *arg)
{
    g_fake_port = twt_free_port();
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)g_fake_port);
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/enroll/fake_est.py", TWT_SOURCE_DIR);
    char *argv[] = {"python3", script, port, g_dir, (char *)mode, (char *)(arg ? arg : ""), NULL};
    unlink(twt_path(0, g_dir, "fake_est.log"));
    g_fake_pid = twt_spawn(argv, twt_path(1, g_dir, "fake_est.out"));
    assert_true(g_fake_pid > 0);
    assert_true(twt_wait_listen(g_fake_port, 10000));
    snprintf(g_fake_url, sizeof g_fake_url, "https://127.0.0.1:%u", (unsigned)g_fake_port);
}

static tw_identity g_id = {TW_IDENTITY_VERSION, "press-7", "acme", "p7", "SN42", "B2", "4.1.0"};

/* A fresh credentials directory name. */
static const char *new_creds(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/creds-%d", g_dir, ++g_ncreds);
    return buf;
}

static void opts(tw_enroll_options *o, const char *url, const char *dir, events *ev)
{
    tw_enroll_options d = TW_ENROLL_OPTIONS_INIT;
    *o = d;
    o->server_url = url;
    o->server_ca_file = twt_path(0, g_dir, "ca.pem");
    o->credentials_dir = dir;
    o->identity = &g_id;
    o->max_attempts = 3;
    o->backoff_base_ms = 100;
    o->backoff_cap_ms = 200;
    o->request_timeout_ms = 15000;
    o->on_event = on_event;
    o->user_data = ev;
    memset(ev, 0, sizeof *ev);
}

static tw_enroll *make(tw_enroll_options *o)
{
    tw_enroll *e = NULL;
    tw_status st = tw_enroll_new(&e, o);
    if (st != TW_OK) print_error("tw_enroll_new: %s\n", tw_last_error());
    assert_int_equal(st, TW_OK);
    return e;
}

static void expect(tw_enroll *e, tw_status got, tw_status want)
{
    if (got != want)
        print_error("expected %s, got %s: %s\n", tw_status_name(want), tw_status_name(got),
                    tw_enroll_last_error(e));
    assert_int_equal(got, want);
}

/* A snapshot of a directory's names, link targets, modes and contents. */
static void snapshot(const char *dir, const char *name)
{
    assert_int_equal(twt_sh("cd '%s' && { find . -printf '%%p %%l %%m\\n' | sort; "
                            "find . -type f | sort | xargs -r cat | sha256sum; } > '%s/%s'",
                            dir, g_dir, name),
                     0);
}

static void same_snapshot(const char *a, const char *b)
{
    assert_int_equal(twt_sh("cmp -s '%s/%s' '%s/%s'", g_dir, a, g_dir, b), 0);
}

static void inspect(const char *dir, tw_credential_info *info)
{
    memset(info, 0, sizeof *info);
    info->version = TW_CREDENTIAL_INFO_VERSION;
    assert_int_equal(tw_credential_inspect(info, dir, 0), TW_OK);
}

/* Enrolls into dir with the bootstrap certificate against estserver. */
static void enroll_bootstrap(const char *dir)
{
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.bootstrap_cert_file = twt_path(1, g_dir, "client.pem");
    o.bootstrap_key_file = twt_path(2, g_dir, "client.key");
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_OK);
    tw_enroll_free(e);
}

/* ---- tests ---- */

static void test_enroll_bootstrap_cert(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.bootstrap_cert_file = twt_path(1, g_dir, "client.pem");
    o.bootstrap_key_file = twt_path(2, g_dir, "client.key");
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_get_cacerts(e), TW_OK);
    expect(e, tw_enroll_enroll(e), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_ENROLLED], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 0);
    tw_credential_info info;
    inspect(dir, &info);
    assert_true(info.has_current);
    assert_false(info.has_pending);
    assert_string_equal(info.subject, "CN=press-7, serialNumber=SN42");
    assert_string_equal(info.uri, "urn:tagwire:acme:p7:SN42");
    assert_non_null(strstr(info.issuer, "CN=tagwire test CA"));
    assert_string_equal(info.chain_path, ev.chain_path);
    assert_string_equal(info.key_path, ev.key_path);
    /* an independent check of the stored chain, against the CA fetched by /cacerts */
    assert_int_equal(twt_sh("openssl verify -CAfile '%s/cacerts.pem' '%s' >/dev/null", dir, info.chain_path), 0);
    assert_int_equal(twt_sh("cmp -s '%s/cacerts.pem' '%s/ca.pem'", dir, g_dir), 0);
    /* the event's PEM is the stored key; openssl agrees that key and certificate belong together */
    assert_int_equal(twt_sh("grep -q '%.40s' '%s'", ev.key_pem + 31, info.key_path), 0);
    assert_int_equal(twt_sh("test \"$(openssl pkey -in '%s' -pubout)\" = \"$(openssl x509 -in '%s' -noout -pubkey)\"",
                            info.key_path, info.chain_path),
                     0);
    struct stat st;
    assert_int_equal(stat(info.key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tw_enroll_free(e);
}

static void test_enroll_basic_credentials(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.username = "dev";
    o.password = "s3cret";
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_OK);
    tw_credential_info info;
    inspect(dir, &info);
    assert_true(info.has_current);
    assert_int_equal(twt_sh("openssl verify -CAfile '%s/ca.pem' '%s' >/dev/null", g_dir, info.chain_path), 0);
    tw_enroll_free(e);

    /* the same against the scripted responder, which checks the password */
    start_fake("auth", "s3cret");
    new_creds(dir, sizeof dir);
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "s3cret";
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_OK);
    inspect(dir, &info);
    assert_true(info.has_current);
    tw_enroll_free(e);
}

static void test_wrong_credentials(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    enroll_bootstrap(dir); /* an existing credential that must survive untouched */
    snapshot(dir, "before");

    /* a bootstrap certificate from a CA the EST server does not trust: refused in TLS */
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.bootstrap_cert_file = twt_path(1, g_dir, "rogue-client.pem");
    o.bootstrap_key_file = twt_path(2, g_dir, "rogue-client.key");
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_EST_AUTH);
    assert_non_null(strstr(tw_enroll_last_error(e), "refused"));
    assert_int_equal(tw__enroll_attempts(e), 1); /* not retried */
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    assert_int_equal(ev.last_status, TW_ERR_EST_AUTH);
    assert_false(ev.last_retriable);
    tw_enroll_free(e);
    snapshot(dir, "after1");
    same_snapshot("before", "after1");

    /* a wrong password: HTTP 401 */
    start_fake("auth", "right");
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "wrong";
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_EST_AUTH);
    assert_non_null(strstr(tw_enroll_last_error(e), "401"));
    assert_non_null(strstr(tw_enroll_last_error(e), "bad user name or password"));
    assert_int_equal(tw__enroll_attempts(e), 1);
    tw_enroll_free(e);
    snapshot(dir, "after2");
    same_snapshot("before", "after2");

    /* an EST server whose certificate our trust anchor did not issue */
    opts(&o, g_est_url, dir, &ev);
    o.server_ca_file = twt_path(0, g_dir, "rogue-ca.pem");
    o.bootstrap_cert_file = twt_path(1, g_dir, "client.pem");
    o.bootstrap_key_file = twt_path(2, g_dir, "client.key");
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_TLS_UNKNOWN_CA);
    tw_enroll_free(e);
    snapshot(dir, "after3");
    same_snapshot("before", "after3");
}

static void test_csrattrs(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.label = "csrattrs"; /* estserver's mock CA answers RFC 7030 4.5.2's example under this label */
    tw_enroll *e = make(&o);
    unsigned char *der = NULL;
    size_t len = 0;
    expect(e, tw_enroll_get_csrattrs(e, &der, &len), TW_OK);
    assert_non_null(der);
    assert_true(len > 10);
    assert_int_equal(der[0], 0x30);
    static const unsigned char challenge_pw_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07};
    bool found = false;
    for (size_t i = 0; i + sizeof challenge_pw_oid <= len; i++)
        if (!memcmp(der + i, challenge_pw_oid, sizeof challenge_pw_oid)) found = true;
    assert_true(found);
    tw_free(der);
    tw_enroll_free(e);
}

static void test_server_down(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)twt_free_port()); /* nobody there */
    tw_enroll_options o;
    events ev;
    opts(&o, url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    o.max_attempts = 4;
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_CONN_REFUSED);
    assert_int_equal(tw__enroll_attempts(e), 4); /* bounded: exactly max_attempts */
    assert_non_null(strstr(tw_enroll_last_error(e), "after 4 attempts"));
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    assert_true(ev.last_retriable);
    tw_credential_info info;
    inspect(dir, &info);
    assert_false(info.has_current);
    tw_enroll_free(e);

    /* a failing server (503 without Retry-After) is retried the same way */
    start_fake("server-error", NULL);
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_EST_SERVER);
    assert_int_equal(tw__enroll_attempts(e), 3);
    assert_int_equal(twt_sh("test $(grep -c 'POST .*simpleenroll 503' '%s/fake_est.log') -eq 3", g_dir), 0);
    tw_enroll_free(e);
}

/* EST uses libcurl's TLS (OpenSSL): tagwire's suite policy (ECDHE + AEAD) must hold there too. A
 * TLS 1.2 server offering only ECDHE-ECDSA-AES128-SHA256 (CBC, no AEAD), which OpenSSL's default
 * client list accepts, must be refused in the handshake. */
static void test_weak_cipher_refused(void **state)
{
    (void)state;
    g_fake_port = twt_free_port();
    char port[16], cert[600], key[600];
    snprintf(port, sizeof port, "%u", (unsigned)g_fake_port);
    snprintf(cert, sizeof cert, "%s", twt_path(0, g_dir, "server.pem"));
    snprintf(key, sizeof key, "%s", twt_path(0, g_dir, "server.key"));
    char *argv[] = {"openssl", "s_server", "-quiet", "-www", "-accept", port, "-cert", cert, "-key", key, "-tls1_2",
                    "-cipher", "ECDHE-ECDSA-AES128-SHA256", NULL};
    g_fake_pid = twt_spawn(argv, twt_path(1, g_dir, "s_server.out"));
    assert_true(g_fake_pid > 0);
    assert_true(twt_wait_listen(g_fake_port, 10000));
    char url[64], dir[512];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)g_fake_port);
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, url, dir, &ev);
    o.max_attempts = 1;
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_get_cacerts(e), TW_ERR_TLS_HANDSHAKE);
    tw_enroll_free(e);
}

static void test_retry_after(void **state)
{
    (void)state;
    char dir[512];
    /* 202 with Retry-After: 1 -> waits about a second and resends: issued */
    start_fake("retry", "1");
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    o.backoff_base_ms = 1; /* so that the wait can only come from Retry-After */
    o.backoff_cap_ms = 1;
    tw_enroll *e = make(&o);
    int64_t t0 = tw__mono_ms();
    expect(e, tw_enroll_enroll(e), TW_OK);
    int64_t took = tw__mono_ms() - t0;
    assert_int_equal(tw__enroll_attempts(e), 2);
    assert_true(took >= 950);
    assert_int_equal(twt_sh("grep -q 'simpleenroll 202' '%s/fake_est.log' && grep -q 'simpleenroll 200' '%s/fake_est.log'",
                            g_dir, g_dir),
                     0);
    tw_credential_info info;
    inspect(dir, &info);
    assert_true(info.has_current);
    tw_enroll_free(e);
    stop_fake(NULL);

    /* a Retry-After longer than we wait inside a call: returned at once, with the delay */
    start_fake("retry", "120");
    new_creds(dir, sizeof dir);
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    o.max_retry_after_s = 5;
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_EST_RETRY_LATER);
    assert_int_equal(tw_enroll_retry_after(e), 120);
    assert_int_equal(tw__enroll_attempts(e), 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    assert_true(ev.last_retriable);
    inspect(dir, &info);
    assert_false(info.has_current);
    tw_enroll_free(e);
    stop_fake(NULL);

    /* 202 every time: bounded by max_attempts */
    start_fake("retry-forever", NULL);
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    o.max_attempts = 2;
    e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_ERR_EST_RETRY_LATER);
    assert_int_equal(tw__enroll_attempts(e), 2);
    tw_enroll_free(e);
}

static void bad_response_case(const char *mode, tw_status want)
{
    start_fake(mode, NULL);
    char dir[512];
    new_creds(dir, sizeof dir);
    enroll_bootstrap(dir);
    snapshot(dir, "before");
    tw_enroll_options o;
    events ev;
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), want);
    assert_int_equal(tw__enroll_attempts(e), 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    assert_false(ev.last_retriable);
    tw_enroll_free(e);
    snapshot(dir, "after");
    same_snapshot("before", "after");
    stop_fake(NULL);
}

static void test_malformed_pkcs7(void **state)
{
    (void)state;
    bad_response_case("garbage", TW_ERR_EST_BAD_RESPONSE);
    bad_response_case("truncated", TW_ERR_EST_BAD_RESPONSE);
    bad_response_case("not-pkcs7", TW_ERR_EST_BAD_RESPONSE);
}

static void test_key_mismatch(void **state)
{
    (void)state;
    bad_response_case("wrong-key", TW_ERR_EST_KEY_MISMATCH);
}

static void test_reenroll(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    enroll_bootstrap(dir);
    tw_credential_info before, info;
    inspect(dir, &before);
    assert_true(before.has_current);

    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev); /* no bootstrap, no password: the current certificate only */
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_reenroll(e), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_RENEWED], 1);
    inspect(dir, &info);
    assert_true(info.has_current && info.has_pending);
    assert_string_equal(info.chain_path, before.chain_path); /* previous kept until commit */
    assert_string_equal(info.serial, before.serial);
    assert_string_equal(info.pending_chain_path, ev.chain_path);
    assert_int_equal(twt_sh("openssl verify -CAfile '%s/ca.pem' '%s' >/dev/null", g_dir, info.pending_chain_path), 0);
    /* a new key, not the old one */
    assert_int_not_equal(twt_sh("cmp -s '%s' '%s'", info.key_path, info.pending_key_path), 0);
    /* a second re-enroll while one is pending is refused */
    expect(e, tw_enroll_reenroll(e), TW_ERR_BUSY);
    /* the lead's TLS layer would hand-shake with the pending credential here, then commit */
    char pending_chain[512];
    snprintf(pending_chain, sizeof pending_chain, "%s", info.pending_chain_path);
    expect(e, tw_enroll_commit(e), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_COMMITTED], 1);
    inspect(dir, &info);
    assert_true(info.has_current);
    assert_false(info.has_pending);
    assert_string_equal(info.chain_path, pending_chain);
    assert_string_not_equal(info.serial, before.serial);
    assert_int_not_equal(access(before.chain_path, F_OK), 0); /* old generation removed */
    /* the renewed certificate authenticates the next renewal */
    expect(e, tw_enroll_reenroll(e), TW_OK);
    expect(e, tw_enroll_rollback(e), TW_OK);
    inspect(dir, &info);
    assert_false(info.has_pending);
    assert_string_equal(info.chain_path, pending_chain);
    tw_enroll_free(e);
}

static void test_renewal_step(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    enroll_bootstrap(dir);
    tw_credential_info info;
    inspect(dir, &info);
    tw_enroll_options o;
    events ev;
    opts(&o, g_est_url, dir, &ev);
    o.renew_fraction = 0.5;
    tw_enroll *e = make(&o);
    int64_t due = tw_enroll_renew_time(info.not_before, info.not_after, 0.5);
    /* not due: nothing happens */
    expect(e, tw_enroll_step(e, due - 10), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRING], 0);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_RENEWED], 0);
    /* due: expiring, then renewed (pending) */
    expect(e, tw_enroll_step(e, due + 1), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRING], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_RENEWED], 1);
    /* pending awaits commit: no second renewal */
    expect(e, tw_enroll_step(e, due + 2), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_RENEWED], 1);
    expect(e, tw_enroll_commit(e), TW_OK);
    tw_enroll_free(e);

    /* past notAfter with the EST server down: expiring + expired + failed; then paced */
    inspect(dir, &info);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", (unsigned)twt_free_port());
    opts(&o, url, dir, &ev);
    o.backoff_base_ms = 5000;
    o.backoff_cap_ms = 5000;
    e = make(&o);
    int64_t late = info.not_after + 5;
    expect(e, tw_enroll_step(e, late), TW_ERR_CONN_REFUSED);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRING], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRED], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    assert_int_equal(tw__enroll_attempts(e), 1); /* one attempt per step, no sleeping */
    /* within the back-off (at least a second): no new attempt */
    expect(e, tw_enroll_step(e, late), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 1);
    /* well after it: a new attempt, events not repeated */
    expect(e, tw_enroll_step(e, late + 3600), TW_ERR_CONN_REFUSED);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_FAILED], 2);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRING], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRED], 1);
    tw_enroll_free(e);
}

/* A 2-minute certificate renewed by the step function on the real clock, before it expires. */
static void test_short_lived_renewal(void **state)
{
    (void)state;
    start_fake("short", "120");
    char dir[512];
    new_creds(dir, sizeof dir);
    tw_enroll_options o;
    events ev;
    opts(&o, g_fake_url, dir, &ev);
    o.username = "dev";
    o.password = "x";
    o.renew_fraction = 0.25; /* renew after 30 s rather than 80 s, to keep the test short */
    tw_enroll *e = make(&o);
    expect(e, tw_enroll_enroll(e), TW_OK);
    tw_credential_info first, info;
    inspect(dir, &first);
    assert_true(first.has_current);
    assert_true(first.not_after - first.not_before >= 115 && first.not_after - first.not_before <= 125);
    assert_string_equal(first.uri, "urn:tagwire:acme:p7:SN42");
    int64_t renewed_at = 0;
    for (int i = 0; i < 240 && !renewed_at; i++) { /* at most 60 s */
        tw_status st = tw_enroll_step(e, 0);
        if (st != TW_OK) print_error("step: %s\n", tw_enroll_last_error(e));
        assert_int_equal(st, TW_OK);
        if (ev.count[TW_ENROLL_EVENT_RENEWED]) renewed_at = (int64_t)time(NULL);
        else usleep(250 * 1000);
    }
    assert_true(renewed_at != 0);
    assert_true(renewed_at >= tw_enroll_renew_time(first.not_before, first.not_after, 0.25)); /* not early */
    assert_true(renewed_at < first.not_after);  /* before expiry */
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRING], 1);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_EXPIRED], 0);
    expect(e, tw_enroll_commit(e), TW_OK);
    inspect(dir, &info);
    assert_true(info.has_current);
    assert_true(info.not_after > first.not_after);
    assert_string_not_equal(info.serial, first.serial);
    /* the new one is not due yet */
    expect(e, tw_enroll_step(e, 0), TW_OK);
    assert_int_equal(ev.count[TW_ENROLL_EVENT_RENEWED], 1);
    tw_enroll_free(e);
}

static void test_cli(void **state)
{
    (void)state;
    char dir[512];
    new_creds(dir, sizeof dir);
    const char *cli = TWT_BINARY_DIR "/tools/tagwire/tagwire";
    assert_int_equal(twt_sh("printf 'pw\\n' > '%s/pw'", g_dir), 0);
    assert_int_equal(twt_sh("'%s' enroll --est %s --est-ca '%s/ca.pem' --user dev --password-file '%s/pw' "
                            "--device-id press-9 --vendor acme --model p7 --serial SN9 --out '%s' > '%s/cli.out' 2>&1",
                            cli, g_est_url, g_dir, g_dir, dir, g_dir),
                     0);
    assert_int_equal(twt_sh("'%s' cert-status '%s' > '%s/status.out' 2>&1", cli, dir, g_dir), 0);
    assert_int_equal(twt_sh("grep -q 'state: *valid' '%s/status.out' && "
                            "grep -q 'uri: *urn:tagwire:acme:p7:SN9' '%s/status.out' && "
                            "grep -q 'subject: *CN=press-9, serialNumber=SN9' '%s/status.out'",
                            g_dir, g_dir, g_dir),
                     0);
    /* refused: exit 1 with the status name */
    char dir2[512];
    new_creds(dir2, sizeof dir2);
    assert_int_equal(twt_sh("'%s' enroll --est %s --est-ca '%s/ca.pem' --bootstrap-cert '%s/rogue-client.pem' "
                            "--bootstrap-key '%s/rogue-client.key' --device-id press-9 --out '%s' > '%s/cli2.out' 2>&1; "
                            "test $? -eq 1 && grep -q TW_ERR_EST_AUTH '%s/cli2.out'",
                            cli, g_est_url, g_dir, g_dir, g_dir, dir2, g_dir, g_dir),
                     0);
    /* usage error: exit 2; no credential: cert-status exit 1 */
    assert_int_equal(twt_sh("'%s' enroll --est %s > /dev/null 2>&1; test $? -eq 2", cli, g_est_url), 0);
    assert_int_equal(twt_sh("'%s' cert-status '%s' > /dev/null 2>&1; test $? -eq 1", cli, dir2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_enroll_bootstrap_cert, stop_fake),
        cmocka_unit_test_teardown(test_enroll_basic_credentials, stop_fake),
        cmocka_unit_test_teardown(test_wrong_credentials, stop_fake),
        cmocka_unit_test_teardown(test_csrattrs, stop_fake),
        cmocka_unit_test_teardown(test_server_down, stop_fake),
        cmocka_unit_test_teardown(test_weak_cipher_refused, stop_fake),
        cmocka_unit_test_teardown(test_retry_after, stop_fake),
        cmocka_unit_test_teardown(test_malformed_pkcs7, stop_fake),
        cmocka_unit_test_teardown(test_key_mismatch, stop_fake),
        cmocka_unit_test_teardown(test_reenroll, stop_fake),
        cmocka_unit_test_teardown(test_renewal_step, stop_fake),
        cmocka_unit_test_teardown(test_short_lived_renewal, stop_fake),
        cmocka_unit_test_teardown(test_cli, stop_fake),
    };
    return cmocka_run_group_tests_name("est_interop", tests, group_setup, group_teardown);
}
