/* tagwire cert-status: the state of a credential directory. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tagwire/enroll.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_cert_status;

static void iso(char *buf, size_t cap, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int run(int argc, char **argv)
{
    const char *dir = NULL;
    double fraction = 0.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--renew-fraction") && i + 1 < argc) {
            fraction = strtod(argv[++i], NULL);
        } else if (argv[i][0] == '-' || dir) {
            return tw_cli_usage_error(&tw_cli_cmd_cert_status, "unexpected argument '%s'", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir) return tw_cli_usage_error(&tw_cli_cmd_cert_status, "DIR is required");
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    tw_status st = tw_credential_inspect(&info, dir, fraction);
    if (st == TW_ERR_NOT_FOUND) {
        fprintf(stderr, "tagwire cert-status: no such directory: %s\n", dir);
        return TW_EXIT_ENV;
    }
    if (st != TW_OK) return tw_cli_fail("cert-status", st, NULL);
    if (!info.has_current) {
        printf("state:      no usable credential\n");
        if (info.has_pending) printf("pending:    %s\n", info.pending_chain_path);
        return TW_EXIT_FAILURE;
    }
    int64_t now = (int64_t)time(NULL);
    char nb[32], na[32], ra[32];
    iso(nb, sizeof nb, info.not_before);
    iso(na, sizeof na, info.not_after);
    iso(ra, sizeof ra, info.renew_at);
    const char *state = now >= info.not_after ? "expired"
                        : now >= info.renew_at ? "renewal due"
                        : now < info.not_before ? "not yet valid"
                                                : "valid";
    printf("state:      %s\n", state);
    printf("subject:    %s\n", info.subject);
    printf("issuer:     %s\n", info.issuer);
    printf("serial:     %s\n", info.serial);
    if (info.uri[0]) printf("uri:        %s\n", info.uri);
    printf("not before: %s\n", nb);
    printf("not after:  %s (%lld s from now)\n", na, (long long)(info.not_after - now));
    printf("renew at:   %s\n", ra);
    printf("key:        %s\n", info.key_path);
    printf("chain:      %s\n", info.chain_path);
    printf("pending:    %s\n", info.has_pending ? info.pending_chain_path : "none");
    return now >= info.not_after ? TW_EXIT_FAILURE : TW_EXIT_OK;
}

const tw_cli_command tw_cli_cmd_cert_status = {
    "cert-status", "show the device credential in a directory (validity, renewal, pending)",
    "tagwire cert-status [--renew-fraction F] DIR\n\n"
    "Prints the current certificate's subject, issuer, serial, device URI, validity, the renewal\n"
    "point (F of the lifetime, default 2/3) and whether a renewed credential awaits commit.\n"
    "Exit status: 0 valid credential; 1 none or expired; 3 no such directory.",
    run};
