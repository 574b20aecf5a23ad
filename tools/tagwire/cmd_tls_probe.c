/* tagwire tls-probe: one mutual-TLS handshake, then a report. SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tagwire/tls.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_tls_probe;

static void print_time(const char *label, int64_t t)
{
    if (t <= 0) {
        printf("%-15s -\n", label);
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[64];
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int64_t left = t - (int64_t)time(NULL);
    if (left >= 0)
        printf("%-15s %s (in %lldd %02lldh %02lldm)\n", label, buf, (long long)(left / 86400),
               (long long)(left % 86400 / 3600), (long long)(left % 3600 / 60));
    else
        printf("%-15s %s (EXPIRED)\n", label, buf);
}

static int split_host_port(char *arg, char **host, uint16_t *port)
{
    char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1]) return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535) return -1;
    *colon = '\0';
    *host = arg;
    *port = (uint16_t)p;
    return 0;
}

static int run(int argc, char **argv)
{
    const char *ca = NULL, *cert = NULL, *key = NULL, *pass = NULL, *sni = NULL, *crl = NULL;
    const char *pins[16];
    int npins = 0, tls12 = 0;
    long timeout_ms = 10000;
    char *target = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--ca") && more) ca = argv[++i];
        else if (!strcmp(a, "--cert") && more) cert = argv[++i];
        else if (!strcmp(a, "--key") && more) key = argv[++i];
        else if (!strcmp(a, "--key-password") && more) pass = argv[++i];
        else if (!strcmp(a, "--servername") && more) sni = argv[++i];
        else if (!strcmp(a, "--crl") && more) crl = argv[++i];
        else if (!strcmp(a, "--timeout") && more) timeout_ms = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--pin") && more) {
            if (npins == 16) return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "at most 16 --pin");
            pins[npins++] = argv[++i];
        } else if (!strcmp(a, "--tls12")) tls12 = 1;
        else if (a[0] == '-') return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "unknown or incomplete option '%s'", a);
        else if (!target) target = argv[i];
        else return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "more than one HOST:PORT");
    }
    char *host;
    uint16_t port;
    if (!target || split_host_port(target, &host, &port) != 0)
        return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "expected HOST:PORT");
    if (!ca) return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "--ca is required");
    if (!cert != !key) return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "--cert and --key go together");
    if (timeout_ms <= 0 || timeout_ms > 3600000) return tw_cli_usage_error(&tw_cli_cmd_tls_probe, "bad --timeout");

    tw_tls_config *cfg = NULL;
    tw_transport *t = NULL;
    int rc = TW_EXIT_OK;
    tw_status st = tw_tls_config_new(&cfg);
    if (st) return tw_cli_fail("tls config", st, tw_last_error());
    if ((st = tw_tls_config_set_ca_file(cfg, ca))) {
        rc = tw_cli_fail("--ca", st, tw_tls_config_last_error(cfg));
        goto out;
    }
    if (crl && (st = tw_tls_config_set_crl_file(cfg, crl))) {
        rc = tw_cli_fail("--crl", st, tw_tls_config_last_error(cfg));
        goto out;
    }
    if (cert && (st = tw_tls_config_set_credentials_file(cfg, cert, key, pass))) {
        rc = tw_cli_fail("--cert/--key", st, tw_tls_config_last_error(cfg));
        goto out;
    }
    for (int i = 0; i < npins; i++)
        if ((st = tw_tls_config_add_pin(cfg, pins[i]))) {
            rc = tw_cli_fail("--pin", st, tw_tls_config_last_error(cfg));
            goto out;
        }
    if (sni && (st = tw_tls_config_set_server_name(cfg, sni))) {
        rc = tw_cli_fail("--servername", st, tw_tls_config_last_error(cfg));
        goto out;
    }
    if (tls12 && (st = tw_tls_config_set_versions(cfg, TW_TLS_VERSION_1_2, TW_TLS_VERSION_1_2))) {
        rc = tw_cli_fail("--tls12", st, tw_tls_config_last_error(cfg));
        goto out;
    }
    tw_tls_config_set_timeouts(cfg, (uint32_t)timeout_ms, 0, 0);
    if ((st = tw_transport_new_tls(&t, cfg, NULL))) {
        rc = tw_cli_fail("tls transport", st, NULL);
        goto out;
    }
    if ((st = tw_transport_connect_blocking(t, host, port))) {
        char what[300];
        snprintf(what, sizeof what, "tls-probe %s:%u", host, (unsigned)port);
        rc = tw_cli_fail(what, st, tw_transport_last_error(t));
        goto out;
    }
    tw_tls_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_TLS_INFO_VERSION;
    if ((st = tw_transport_tls_info(t, &info))) {
        rc = tw_cli_fail("tls info", st, NULL);
        goto out;
    }
    printf("connected to %s:%u\n", host, (unsigned)port);
    printf("%-15s %s\n", "protocol:", info.protocol_name);
    printf("%-15s %s (0x%04x)\n", "suite:", info.suite_name, (unsigned)info.suite_id);
    printf("%-15s %s\n", "peer subject:", info.peer_subject);
    print_time("peer expires:", info.peer_not_after);
    print_time("own expires:", info.own_not_after);
    printf("%-15s %s\n", "resumed:", info.resumed ? "yes" : "no");
    printf("%-15s %.1f ms\n", "handshake:", (double)info.handshake_us / 1000.0);
out:
    tw_transport_free(t);
    tw_tls_config_free(cfg);
    return rc;
}

const tw_cli_command tw_cli_cmd_tls_probe = {
    "tls-probe", "mutual-TLS handshake with a server; print version, suite, peer and expiry",
    "tagwire tls-probe --ca FILE [--cert FILE --key FILE [--key-password P]] [--pin sha256/BASE64]...\n"
    "                  [--servername NAME] [--crl FILE] [--tls12] [--timeout MS] HOST:PORT\n\n"
    "Performs one TLS handshake (TLS 1.3 preferred, 1.2 minimum; --tls12 forces 1.2) presenting\n"
    "the client certificate, verifies the server against the CA bundle (and CRL, pins, server\n"
    "name; default: HOST), then prints the protocol, cipher suite, server subject and the expiry\n"
    "dates of both certificates. On failure prints the status name and the reason and exits 1.",
    run};
