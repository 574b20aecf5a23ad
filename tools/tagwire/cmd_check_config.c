/* tagwire check-config FILE: load and validate a gateway configuration, print a summary.
 * SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <unistd.h>

#include <tagwire/config.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_check_config;

/* The configuration's own type names (tw_type_name belongs to the tag module). */
static const char *type_name(tw_type t)
{
    static const char *const names[] = {"none",   "bool",   "int8",   "int16",  "int32",
                                        "int64",  "uint8",  "uint16", "uint32", "uint64",
                                        "float",  "double", "string", "bytes",  "datetime"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static const char *access_name(tw_access a)
{
    return a == TW_ACCESS_WRITE ? "write" : a == TW_ACCESS_READ_WRITE ? "read-write" : "read";
}

static int warn_missing(const char *what, const char *path)
{
    if (!path || access(path, R_OK) == 0) return 0;
    fprintf(stderr, "warning: %s %s is not readable (yet)\n", what, path);
    return 1;
}

static void print_tags(const tw_config_device *d)
{
    for (size_t j = 0; j < tw_config_device_tag_count(d); j++) {
        const tw_config_tag *t = tw_config_device_tag_at(d, j);
        double v = 0;
        printf("      %-28s %-8s %-10s", tw_config_tag_name(t), type_name(tw_config_tag_type(t)),
               access_name(tw_config_tag_access(t)));
        if (tw_config_tag_address(t)) printf(" @%s", tw_config_tag_address(t));
        if (tw_config_tag_scan_group(t))
            printf(" [%s %u ms]", tw_config_tag_scan_group(t), (unsigned)tw_config_tag_scan_rate_ms(t));
        tw_deadband_mode db = tw_config_tag_deadband(t, &v);
        if (v > 0) printf(" deadband %g%s", v, db == TW_DEADBAND_PERCENT ? "%" : "");
        if (tw_config_tag_unit(t)) printf(" %s", tw_config_tag_unit(t));
        printf("\n");
    }
}

static int run(int argc, char **argv)
{
    const char *file = NULL;
    int list_tags = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tags")) list_tags = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return tw_cli_usage_error(&tw_cli_cmd_check_config, "unknown option '%s'", argv[i]);
        else if (file) return tw_cli_usage_error(&tw_cli_cmd_check_config, "unexpected argument '%s'", argv[i]);
        else file = argv[i];
    }
    if (!file) return tw_cli_usage_error(&tw_cli_cmd_check_config, "missing FILE");

    tw_config *cfg;
    tw_status st = tw_config_new(&cfg);
    if (st != TW_OK) return tw_cli_fail("check-config", st, tw_last_error());
    st = tw_config_load_file(cfg, file);
    if (st != TW_OK) {
        fprintf(stderr, "%s\n", tw_config_last_error(cfg));
        int env = st == TW_ERR_NOT_FOUND || st == TW_ERR_PERMISSION || st == TW_ERR_IO ||
                  st == TW_ERR_NOMEM;
        tw_config_free(cfg);
        return env ? TW_EXIT_ENV : TW_EXIT_FAILURE;
    }

    size_t ntags = 0, ndev = tw_config_device_count(cfg);
    for (size_t i = 0; i < ndev; i++) ntags += tw_config_device_tag_count(tw_config_device_at(cfg, i));
    printf("%s: OK (%zu device%s, %zu tag%s)\n", file, ndev, ndev == 1 ? "" : "s", ntags,
           ntags == 1 ? "" : "s");
    printf("node      group %s, edge node %s", tw_config_group_id(cfg), tw_config_edge_node_id(cfg));
    if (tw_config_primary_host_id(cfg)) printf(", primary host %s", tw_config_primary_host_id(cfg));
    printf("\nuplink    %s (host %s, port %u), client id %s, keep-alive %u s\n",
           tw_config_broker_uri(cfg), tw_config_broker_host(cfg), (unsigned)tw_config_broker_port(cfg),
           tw_config_client_id(cfg), (unsigned)tw_config_keep_alive_s(cfg));
    if (tw_config_insecure(cfg)) {
        printf("          PLAINTEXT (insecure): no TLS\n");
    } else {
        if (tw_config_has_enroll(cfg))
            printf("          tls ca %s, cert and key from %s", tw_config_tls_ca_file(cfg),
                   tw_config_enroll_credentials_dir(cfg));
        else
            printf("          tls ca %s, cert %s, key %s", tw_config_tls_ca_file(cfg),
                   tw_config_tls_cert_file(cfg), tw_config_tls_key_file(cfg));
        if (tw_config_tls_crl_file(cfg)) printf(", crl %s", tw_config_tls_crl_file(cfg));
        printf(", server name %s, %zu pin%s\n", tw_config_tls_server_name(cfg),
               tw_config_tls_pin_count(cfg), tw_config_tls_pin_count(cfg) == 1 ? "" : "s");
    }
    if (tw_config_has_store(cfg)) {
        static const char *const fs[] = {"always", "periodic", "never"}; /* by tw_store_sync_policy */
        tw_store_sync_policy f = tw_config_store_fsync(cfg);
        printf("store     %s, max %llu bytes, max age %llu s%s, fsync %s", tw_config_store_dir(cfg),
               (unsigned long long)tw_config_store_max_bytes(cfg),
               (unsigned long long)tw_config_store_max_age_s(cfg),
               tw_config_store_max_age_s(cfg) ? "" : " (no limit)", (unsigned)f < 3 ? fs[f] : "?");
        if (f == TW_STORE_SYNC_BATCH) printf(" every %u ms", (unsigned)tw_config_store_fsync_interval_ms(cfg));
        printf(", overflow %s\n", tw_config_store_overflow(cfg) == TW_STORE_REFUSE_NEW ? "drop_newest"
                                                                                       : "drop_oldest");
    } else {
        printf("store     none (in-memory queue only)\n");
    }
    if (tw_config_has_enroll(cfg))
        printf("enroll    %s (trust %s), renewal after %.0f %% of the lifetime, retries up to %u s apart\n",
               tw_config_enroll_est_url(cfg), tw_config_enroll_server_ca_file(cfg),
               tw_config_enroll_renew_fraction(cfg) * 100.0, (unsigned)tw_config_enroll_retry_max_s(cfg));
    for (size_t i = 0; i < ndev; i++) {
        const tw_config_device *d = tw_config_device_at(cfg, i);
        size_t n = tw_config_device_tag_count(d);
        printf("device    %-16s %3zu tag%s  %s", tw_config_device_id(d), n, n == 1 ? " " : "s",
               tw_config_device_adapter(d) ? tw_config_device_adapter(d) : "(pushed by the application)");
        for (size_t g = 0; g < tw_config_device_scan_group_count(d); g++)
            printf("%s%s %u ms", g ? ", " : "  scan groups: ", tw_config_device_scan_group_name(d, g),
                   (unsigned)tw_config_device_scan_group_rate_ms(d, g));
        printf("\n");
        if (list_tags) print_tags(d);
    }
    warn_missing("tls ca", tw_config_tls_ca_file(cfg));
    warn_missing("tls cert", tw_config_tls_cert_file(cfg));
    warn_missing("tls key", tw_config_tls_key_file(cfg));
    warn_missing("tls crl", tw_config_tls_crl_file(cfg));
    tw_config_free(cfg);
    return TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_check_config = {
    "check-config", "validate a gateway configuration file and summarise it",
    "tagwire check-config [--tags] FILE\n\n"
    "Loads and validates FILE (format: examples/gateway.md) and prints the node identity, the\n"
    "uplink, the store and each device with its tag count; --tags lists every tag as well.\n"
    "TLS files that cannot be read yet are reported as warnings (they are not part of the check).\n"
    "On an invalid file, prints \"FILE: JSON-PATH: problem\" (or \"FILE:LINE:COLUMN: ...\" for a\n"
    "JSON syntax error) and exits 1; exits 3 when FILE cannot be read.",
    run};
