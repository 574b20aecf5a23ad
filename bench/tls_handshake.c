/*
 * bench_tls_handshake: mutual-TLS handshakes per second against `openssl s_server -Verify 1` on
 * loopback, full and resumed, TLS 1.3 and TLS 1.2; tagwire's transport side by side with a
 * minimal raw mbedTLS 3.6 client doing the same work in the same run (same suites, groups, key
 * exchange modes, certificates; for TLS 1.3 both read once after the handshake, which is where the
 * server's ticket and its verdict on the client certificate arrive). Connect-to-close each time.
 * Rounds alternate between the clients so that load from other processes hits both alike.
 *
 * usage: bench_tls_handshake [ITERATIONS_PER_CASE (default 200)]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tagwire/tls.h"

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listening(unsigned port)
{
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(files[k], "r");
        if (!f) continue;
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char local[128];
            unsigned st;
            if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2) continue;
            char *c = strrchr(local, ':');
            if (c && strtoul(c + 1, NULL, 16) == port && st == 0x0A) {
                fclose(f);
                return 1;
            }
        }
        fclose(f);
    }
    return 0;
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static char pki[256];
static const char *P(const char *name)
{
    static char buf[4][512];
    static int slot;
    slot = (slot + 1) & 3;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", pki, name);
    return buf[slot];
}

/* ---- raw mbedTLS client ---- */

static const int suites[] = {MBEDTLS_TLS1_3_AES_128_GCM_SHA256, MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
                             MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
                             MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                             MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                             MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                             MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                             MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                             MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 0};
static const uint16_t groups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                                  MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, 0};

typedef struct raw {
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt ca, crt;
    mbedtls_pk_context key;
    mbedtls_ssl_session saved;
    int have_saved;
} raw;

static int raw_init(raw *r, int tls12)
{
    memset(r, 0, sizeof *r);
    mbedtls_ssl_config_init(&r->conf);
    mbedtls_ssl_init(&r->ssl);
    mbedtls_x509_crt_init(&r->ca);
    mbedtls_x509_crt_init(&r->crt);
    mbedtls_pk_init(&r->key);
    mbedtls_ssl_session_init(&r->saved);
    if (mbedtls_x509_crt_parse_file(&r->ca, P("ca.pem")) || mbedtls_x509_crt_parse_file(&r->crt, P("client.pem")) ||
        mbedtls_pk_parse_keyfile(&r->key, P("client.key"), NULL, mbedtls_psa_get_random, NULL))
        return -1;
    if (mbedtls_ssl_config_defaults(&r->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT))
        return -1;
    mbedtls_ssl_conf_authmode(&r->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_rng(&r->conf, mbedtls_psa_get_random, NULL);
    mbedtls_ssl_conf_ca_chain(&r->conf, &r->ca, NULL);
    mbedtls_ssl_conf_own_cert(&r->conf, &r->crt, &r->key);
    mbedtls_ssl_conf_ciphersuites(&r->conf, suites);
    mbedtls_ssl_conf_groups(&r->conf, groups);
    mbedtls_ssl_conf_min_tls_version(&r->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&r->conf, tls12 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3);
    mbedtls_ssl_conf_session_tickets(&r->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&r->conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
    mbedtls_ssl_conf_tls13_key_exchange_modes(&r->conf, MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
                                                            MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
    return mbedtls_ssl_setup(&r->ssl, &r->conf);
}

static void raw_free(raw *r)
{
    mbedtls_ssl_session_free(&r->saved);
    mbedtls_ssl_free(&r->ssl);
    mbedtls_ssl_config_free(&r->conf);
    mbedtls_x509_crt_free(&r->ca);
    mbedtls_x509_crt_free(&r->crt);
    mbedtls_pk_free(&r->key);
}

/* One connect-to-close; returns 0 on success. */
static int raw_once(raw *r, const char *port, int resume, int *resumed_out)
{
    mbedtls_net_context net;
    mbedtls_net_init(&net);
    int rc = -1;
    if (mbedtls_ssl_session_reset(&r->ssl)) return -1;
    if (mbedtls_net_connect(&net, "127.0.0.1", port, MBEDTLS_NET_PROTO_TCP)) {
        fprintf(stderr, "raw: TCP connect failed\n");
        goto out;
    }
    mbedtls_net_set_block(&net);
    int one = 1; /* as tagwire's transport does */
    setsockopt(net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mbedtls_ssl_set_bio(&r->ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    mbedtls_ssl_set_hostname(&r->ssl, "localhost");
    if (resume && r->have_saved) mbedtls_ssl_set_session(&r->ssl, &r->saved);
    int hret = mbedtls_ssl_handshake(&r->ssl);
    if (hret) {
        fprintf(stderr, "raw handshake: -0x%04x\n", (unsigned)-hret);
        goto out;
    }
    if (mbedtls_ssl_get_version_number(&r->ssl) == MBEDTLS_SSL_VERSION_TLS1_3) {
        unsigned char b[1];
        int ret; /* the ticket (and the server's verdict); WANT_READ: a message was handled, go on */
        do {
            ret = mbedtls_ssl_read(&r->ssl, b, 1);
        } while (ret == MBEDTLS_ERR_SSL_WANT_READ);
        if (ret != MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET && ret <= 0) {
            fprintf(stderr, "raw read: -0x%04x\n", (unsigned)-ret);
            goto out;
        }
    }
    if (resume) {
        mbedtls_ssl_session_free(&r->saved);
        mbedtls_ssl_session_init(&r->saved);
        r->have_saved = mbedtls_ssl_get_session(&r->ssl, &r->saved) == 0;
    }
    if (resumed_out) *resumed_out = 1;
    mbedtls_ssl_close_notify(&r->ssl);
    rc = 0;
out:
    mbedtls_net_free(&net);
    return rc;
}

/* ---- tagwire client ---- */

static int tw_once(tw_transport *t, unsigned port, int *resumed)
{
    if (tw_transport_connect_blocking(t, "127.0.0.1", (uint16_t)port) != TW_OK) {
        fprintf(stderr, "tagwire connect: %s\n", tw_transport_last_error(t));
        return -1;
    }
    if (resumed) {
        tw_tls_info i;
        memset(&i, 0, sizeof i);
        i.version = TW_TLS_INFO_VERSION;
        tw_transport_tls_info(t, &i);
        *resumed = i.resumed;
    }
    tw_transport_close(t);
    return 0;
}

typedef struct result {
    double tw_full, tw_res, raw_full, raw_res; /* seconds, total */
    int n_full, n_res, tw_resumed, raw_ok;
} result;

static int run_version(unsigned port, int tls12, int iters, result *res)
{
    memset(res, 0, sizeof *res);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    tw_tls_config *full_cfg, *res_cfg;
    tw_tls_config_new(&full_cfg);
    tw_tls_config_new(&res_cfg);
    tw_tls_config *cfgs[2] = {full_cfg, res_cfg};
    for (int k = 0; k < 2; k++) {
        tw_tls_config_set_ca_file(cfgs[k], P("ca.pem"));
        if (tw_tls_config_set_credentials_file(cfgs[k], P("client.pem"), P("client.key"), NULL)) return -1;
        if (tls12) tw_tls_config_set_versions(cfgs[k], TW_TLS_VERSION_1_2, TW_TLS_VERSION_1_2);
        tw_tls_config_set_server_name(cfgs[k], "localhost"); /* both clients connect to 127.0.0.1 */
    }
    tw_tls_config_set_resumption(full_cfg, 0);
    tw_transport *tf, *tr;
    tw_transport_new_tls(&tf, full_cfg, NULL);
    tw_transport_new_tls(&tr, res_cfg, NULL);
    raw rf, rr;
    if (raw_init(&rf, tls12) || raw_init(&rr, tls12)) return -1;
    /* warm-up: one of each, and the first (full) handshake that yields a session to resume */
    if (tw_once(tf, port, NULL) || tw_once(tr, port, NULL) || raw_once(&rf, portstr, 0, NULL) ||
        raw_once(&rr, portstr, 1, NULL))
        return -1;
    const int rounds = 10;
    int per = iters / rounds > 0 ? iters / rounds : 1;
    for (int round = 0; round < rounds; round++) {
        double t0 = now_s();
        for (int i = 0; i < per; i++)
            if (tw_once(tf, port, NULL)) return -1;
        double t1 = now_s();
        for (int i = 0; i < per; i++)
            if (raw_once(&rf, portstr, 0, NULL)) return -1;
        double t2 = now_s();
        for (int i = 0; i < per; i++) {
            int resumed = 0;
            if (tw_once(tr, port, &resumed)) return -1;
            res->tw_resumed += resumed;
        }
        double t3 = now_s();
        for (int i = 0; i < per; i++) {
            int ok = 0;
            if (raw_once(&rr, portstr, 1, &ok)) return -1;
            res->raw_ok += ok;
        }
        double t4 = now_s();
        res->tw_full += t1 - t0;
        res->raw_full += t2 - t1;
        res->tw_res += t3 - t2;
        res->raw_res += t4 - t3;
        res->n_full += per;
        res->n_res += per;
    }
    tw_transport_free(tf);
    tw_transport_free(tr);
    tw_tls_config_free(full_cfg);
    tw_tls_config_free(res_cfg);
    raw_free(&rf);
    raw_free(&rr);
    return 0;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 200;
    if (iters < 10) iters = 10;
    if (tw_init(NULL) != TW_OK || psa_crypto_init() != PSA_SUCCESS) return 1;
    /* PKI: tests/fixtures/make_pki.sh next to this source file */
    char src[512];
    snprintf(src, sizeof src, "%s", __FILE__);
    const char *srcdir = getenv("TW_SOURCE_DIR");
    char script[700];
    if (srcdir)
        snprintf(script, sizeof script, "%s/tests/fixtures/make_pki.sh", srcdir);
    else
        snprintf(script, sizeof script, "%s/../tests/fixtures/make_pki.sh", dirname(src));
    snprintf(pki, sizeof pki, "/tmp/tw-bench-tls.XXXXXX");
    if (!mkdtemp(pki)) return 1;
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' >/dev/null 2>&1", script, pki);
    if (system(cmd) != 0) {
        fprintf(stderr, "PKI generation failed (%s)\n", script);
        return 1;
    }
    unsigned port = free_port();
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    int pfd[2];
    if (pipe(pfd)) return 1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *sargv[] = {"openssl", "s_server", "-accept", portstr, "-cert", (char *)P("server.pem"), "-key",
                     (char *)P("server.key"), "-CAfile", (char *)P("ca.pem"), "-Verify", "1",
                     "-verify_return_error", "-quiet", NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "openssl", &fa, NULL, sargv, environ) != 0) {
        fprintf(stderr, "cannot start openssl s_server\n");
        return 1;
    }
    close(pfd[0]);
    for (int i = 0; i < 250 && !listening(port); i++) usleep(20000);
    int rc = 0;
    printf("mutual TLS handshakes against openssl s_server on 127.0.0.1:%u, EC P-256 certificates,\n"
           "connect-to-close, %d per case, rounds interleaved (handshakes/s; higher is better)\n\n",
           port, iters);
    printf("%-8s %-9s %14s %14s %10s\n", "version", "kind", "tagwire", "raw mbedTLS", "tw/raw");
    for (int v = 0; v < 2 && rc == 0; v++) {
        result r;
        if (run_version(port, v == 1, iters, &r)) {
            fprintf(stderr, "benchmark failed\n");
            rc = 1;
            break;
        }
        const char *vn = v ? "TLS 1.2" : "TLS 1.3";
        double twf = r.n_full / r.tw_full, rwf = r.n_full / r.raw_full;
        double twr = r.n_res / r.tw_res, rwr = r.n_res / r.raw_res;
        printf("%-8s %-9s %14.1f %14.1f %9.1f%%\n", vn, "full", twf, rwf, 100.0 * twf / rwf);
        printf("%-8s %-9s %14.1f %14.1f %9.1f%%\n", vn, "resumed", twr, rwr, 100.0 * twr / rwr);
        printf("%-8s resumed/full speed-up: tagwire %.2fx, raw mbedTLS %.2fx; tagwire resumed %d/%d\n\n", vn,
               twr / twf, rwr / rwf, r.tw_resumed, r.n_res);
    }
    close(pfd[1]);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki);
    if (system(cmd) != 0) rc = 1;
    tw_shutdown();
    return rc;
}
