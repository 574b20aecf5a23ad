/*
 * enroll_device: a device's certificate life cycle with tagwire.
 *
 *   example_enroll_device https://est.plant.local:8443 est-ca.pem bootstrap.pem bootstrap.key \
 *                         press-7 /var/lib/press7/tagwire [seconds]
 *
 * Enrolls over EST with the factory ("birth") certificate when the credential directory holds
 * no credential yet, then keeps it renewed: tw_enroll_step() in the application's loop re-enrolls
 * once 2/3 of the certificate's lifetime has passed. A renewed credential arrives as an event;
 * the application loads it into its TLS configuration, and after the first successful handshake
 * with it, confirms it with tw_enroll_commit() (here: at once, as there is no connection).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tagwire/tagwire.h>
#include <tagwire/enroll.h>

typedef struct app {
    int renewed; /* set by the event callback: a pending credential awaits its first handshake */
} app;

static void on_event(const tw_enroll_event *ev, void *user_data)
{
    app *a = user_data;
    switch (ev->type) {
    case TW_ENROLL_EVENT_ENROLLED:
        printf("enrolled: key %s, chain %s\n", ev->key_path, ev->chain_path);
        break;
    case TW_ENROLL_EVENT_RENEWED:
        /* Hand ev->key_pem / ev->chain_pem (or the paths) to the TLS layer here. */
        printf("renewed: new chain %s (not after %lld)\n", ev->chain_path, (long long)ev->not_after);
        a->renewed = 1;
        break;
    case TW_ENROLL_EVENT_EXPIRING:
    case TW_ENROLL_EVENT_EXPIRED:
    case TW_ENROLL_EVENT_COMMITTED:
        printf("%s\n", ev->message);
        break;
    case TW_ENROLL_EVENT_FAILED:
        printf("failed (%s, %s): %s\n", tw_status_name(ev->status),
               ev->retriable ? "will retry" : "needs attention", ev->message);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s EST_URL EST_CA BOOTSTRAP_CERT BOOTSTRAP_KEY DEVICE_ID DIR [SECONDS]\n",
                argv[0]);
        return 2;
    }
    int run_for = argc > 7 ? atoi(argv[7]) : 0;
    if (tw_init(NULL) != TW_OK) return 1;

    tw_identity id = TW_IDENTITY_INIT;
    id.device_id = argv[5];
    app a = {0};
    tw_enroll_options o = TW_ENROLL_OPTIONS_INIT;
    o.server_url = argv[1];
    o.server_ca_file = argv[2];
    o.bootstrap_cert_file = argv[3];
    o.bootstrap_key_file = argv[4];
    o.credentials_dir = argv[6];
    o.identity = &id;
    o.on_event = on_event;
    o.user_data = &a;

    tw_enroll *e = NULL;
    tw_status st = tw_enroll_new(&e, &o);
    if (st != TW_OK) {
        fprintf(stderr, "tw_enroll_new: %s: %s\n", tw_status_name(st), tw_last_error());
        tw_shutdown();
        return 1;
    }
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    tw_credential_inspect(&info, argv[6], 0);
    if (!info.has_current) {
        st = tw_enroll_get_cacerts(e);
        if (st == TW_OK) st = tw_enroll_enroll(e);
        if (st != TW_OK) {
            fprintf(stderr, "enrollment failed: %s: %s\n", tw_status_name(st), tw_enroll_last_error(e));
            tw_enroll_free(e);
            tw_shutdown();
            return 1;
        }
    }
    /* the application's loop */
    time_t end = time(NULL) + run_for;
    do {
        tw_enroll_step(e, 0); /* failures are events; the step paces its own retries */
        if (a.renewed) {
            /* ... after the TLS layer completed a handshake with the new credential: */
            tw_enroll_commit(e);
            a.renewed = 0;
        }
        if (run_for > 0) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    } while (time(NULL) < end);
    tw_credential_inspect(&info, argv[6], 0);
    printf("credential: %s, valid until %lld, renewal at %lld\n", info.subject,
           (long long)info.not_after, (long long)info.renew_at);
    tw_enroll_free(e);
    tw_shutdown();
    return 0;
}
