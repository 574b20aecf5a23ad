/* tagwire enroll: first enrollment of a device over EST (RFC 7030). */
#include <stdlib.h>
#include <string.h>

#include <tagwire/enroll.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_enroll;

static int read_password(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static void on_event(const tw_enroll_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == TW_ENROLL_EVENT_ENROLLED || ev->type == TW_ENROLL_EVENT_RENEWED)
        printf("key:   %s\nchain: %s\n", ev->key_path, ev->chain_path);
}

static int run(int argc, char **argv)
{
    const char *est = NULL, *ca = NULL, *bcert = NULL, *bkey = NULL, *user = NULL, *pwfile = NULL;
    const char *out = NULL, *label = NULL;
    tw_identity id = TW_IDENTITY_INIT;
    unsigned attempts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--est")) dst = &est;
        else if (!strcmp(a, "--est-ca")) dst = &ca;
        else if (!strcmp(a, "--bootstrap-cert")) dst = &bcert;
        else if (!strcmp(a, "--bootstrap-key")) dst = &bkey;
        else if (!strcmp(a, "--user")) dst = &user;
        else if (!strcmp(a, "--password-file")) dst = &pwfile;
        else if (!strcmp(a, "--device-id")) dst = &id.device_id;
        else if (!strcmp(a, "--vendor")) dst = &id.vendor;
        else if (!strcmp(a, "--model")) dst = &id.model;
        else if (!strcmp(a, "--serial")) dst = &id.serial;
        else if (!strcmp(a, "--hw-rev")) dst = &id.hw_revision;
        else if (!strcmp(a, "--fw-rev")) dst = &id.fw_revision;
        else if (!strcmp(a, "--label")) dst = &label;
        else if (!strcmp(a, "--out")) dst = &out;
        else if (!strcmp(a, "--attempts")) {
            if (i + 1 >= argc) return tw_cli_usage_error(&tw_cli_cmd_enroll, "%s needs a value", a);
            attempts = (unsigned)strtoul(argv[++i], NULL, 10);
            continue;
        } else
            return tw_cli_usage_error(&tw_cli_cmd_enroll, "unknown argument '%s'", a);
        if (i + 1 >= argc) return tw_cli_usage_error(&tw_cli_cmd_enroll, "%s needs a value", a);
        *dst = argv[++i];
    }
    if (!est || !ca || !id.device_id || !out)
        return tw_cli_usage_error(&tw_cli_cmd_enroll, "--est, --est-ca, --device-id and --out are required");
    if (!bcert && !user)
        return tw_cli_usage_error(&tw_cli_cmd_enroll,
                                  "give --bootstrap-cert/--bootstrap-key or --user/--password-file");
    if (!bcert != !bkey)
        return tw_cli_usage_error(&tw_cli_cmd_enroll, "--bootstrap-cert and --bootstrap-key go together");
    if (!user != !pwfile)
        return tw_cli_usage_error(&tw_cli_cmd_enroll, "--user and --password-file go together");
    char why[256];
    tw_status st = tw_identity_check(&id, why, sizeof why);
    if (st != TW_OK) return tw_cli_fail("device identity", st, why);
    char password[512] = "";
    if (pwfile && read_password(pwfile, password, sizeof password) != 0) {
        fprintf(stderr, "tagwire enroll: cannot read %s\n", pwfile);
        return TW_EXIT_ENV;
    }

    tw_enroll_options o = TW_ENROLL_OPTIONS_INIT;
    o.server_url = est;
    o.label = label;
    o.server_ca_file = ca;
    o.bootstrap_cert_file = bcert;
    o.bootstrap_key_file = bkey;
    o.username = user;
    o.password = pwfile ? password : NULL;
    o.credentials_dir = out;
    o.identity = &id;
    o.max_attempts = attempts;
    o.on_event = on_event;
    tw_enroll *e = NULL;
    st = tw_enroll_new(&e, &o);
    memset(password, 0, sizeof password);
    if (st != TW_OK) return st == TW_ERR_CONFIG ? (tw_cli_fail("enroll", st, tw_last_error()), TW_EXIT_ENV)
                                                : tw_cli_fail("enroll", st, tw_last_error());
    st = tw_enroll_get_cacerts(e);
    if (st != TW_OK) {
        int rc = tw_cli_fail("enroll: /cacerts", st, tw_enroll_last_error(e));
        tw_enroll_free(e);
        return rc;
    }
    st = tw_enroll_enroll(e);
    if (st != TW_OK) {
        int rc = tw_cli_fail("enroll: /simpleenroll", st, tw_enroll_last_error(e));
        if (st == TW_ERR_EST_RETRY_LATER)
            fprintf(stderr, "tagwire enroll: the server asks to retry in %u s\n",
                    (unsigned)tw_enroll_retry_after(e));
        tw_enroll_free(e);
        return rc;
    }
    printf("enrolled %s into %s\n", id.device_id, out);
    tw_enroll_free(e);
    return TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_enroll = {
    "enroll", "enroll this device with an EST server (RFC 7030)",
    "tagwire enroll --est https://HOST:PORT --est-ca FILE\n"
    "               (--bootstrap-cert FILE --bootstrap-key FILE | --user USER --password-file FILE)\n"
    "               --device-id ID [--vendor V --model M --serial S] [--hw-rev R] [--fw-rev R]\n"
    "               [--label LABEL] [--attempts N] --out DIR\n\n"
    "Fetches the CA certificates (/cacerts -> DIR/cacerts.pem), generates an ECDSA P-256 key,\n"
    "sends a CSR (CN=ID, serialNumber=S, SAN URI urn:tagwire:V:M:S) to /simpleenroll and stores\n"
    "the key and the issued chain in DIR (DIR/current/key.pem, DIR/current/chain.pem).\n"
    "The EST server is trusted only through --est-ca. The password is read from the first line\n"
    "of --password-file. Transient failures are retried with back-off (--attempts, default 4).\n"
    "Exit status: 0 enrolled; 1 refused or failed (status and reason printed); 2 usage;\n"
    "3 unreadable files or invalid configuration.",
    run};
