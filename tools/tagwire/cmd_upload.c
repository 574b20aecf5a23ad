/* tagwire upload: drains a store-and-forward directory to an HTTPS endpoint (the HTTPS uplink). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tagwire/https.h>
#include <tagwire/store.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_upload;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(int argc, char **argv)
{
    const tw_cli_command *me = &tw_cli_cmd_upload;
    tw_https_options o = TW_HTTPS_OPTIONS_INIT;
    const char *dir = NULL;
    unsigned long timeout_s = 300;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (i++, 1))
        if (OPT("--store")) dir = v;
        else if (OPT("--url")) o.url = v;
        else if (OPT("--ca")) o.ca_file = v;
        else if (OPT("--cert")) o.cert_file = v;
        else if (OPT("--key")) o.key_file = v;
        else if (OPT("--key-password")) o.key_password = v;
        else if (OPT("--park-dir")) o.park_dir = v;
        else if (OPT("--instance")) o.instance_id = v;
        else if (OPT("--format")) {
            if (!strcmp(v, "jsonl")) o.format = TW_HTTPS_FORMAT_JSONL;
            else if (!strcmp(v, "protobuf")) o.format = TW_HTTPS_FORMAT_PROTOBUF;
            else return tw_cli_usage_error(me, "--format is jsonl or protobuf");
        } else if (OPT("--on-reject")) {
            if (!strcmp(v, "hold")) o.on_reject = TW_HTTPS_REJECT_HOLD;
            else if (!strcmp(v, "park")) o.on_reject = TW_HTTPS_REJECT_PARK;
            else if (!strcmp(v, "drop")) o.on_reject = TW_HTTPS_REJECT_DROP;
            else return tw_cli_usage_error(me, "--on-reject is hold, park or drop");
        } else if (OPT("--batch") || OPT("--timeout")) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || !*v || n == 0 || n > 86400000ul) return tw_cli_usage_error(me, "bad number '%s'", v);
            if (!strcmp(a, "--batch")) o.max_batch_records = (uint32_t)n;
            else timeout_s = n;
        } else if (!strcmp(a, "--gzip")) o.gzip = 1;
        else if (!strcmp(a, "--system-trust")) o.use_system_trust = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else return tw_cli_usage_error(me, "unknown or incomplete option '%s'", a);
#undef OPT
    }
    if (!dir || !o.url) return tw_cli_usage_error(me, "--store and --url are required");
    if (!o.ca_file && !o.use_system_trust) return tw_cli_usage_error(me, "--ca is required (or --system-trust)");

    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = dir;
    so.max_record_bytes = 256u * 1024 * 1024;
    tw_store *s = NULL;
    tw_status st = tw_store_new(&s, &so);
    if (st == TW_ERR_PERMISSION) {
        fprintf(stderr, "tagwire: %s\n", tw_last_error());
        return TW_EXIT_ENV;
    }
    if (st != TW_OK) return tw_cli_fail(dir, st, tw_last_error());
    tw_https_uplink *u = NULL;
    st = tw_https_uplink_new(&u, s, &o);
    if (st != TW_OK) {
        tw_store_free(s);
        return tw_cli_fail("uplink", st, tw_last_error());
    }
    int64_t end = now_ms() + (int64_t)timeout_s * 1000;
    int rc = TW_EXIT_FAILURE;
    const char *why = "timed out";
    tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
    while (now_ms() < end) {
        st = tw_https_uplink_step(u, 200);
        if (st != TW_OK) {
            why = NULL;
            rc = tw_cli_fail("upload", st, tw_https_uplink_last_error(u));
            break;
        }
        tw_store_stats_get(s, &ss);
        if (ss.records == 0 && tw_https_uplink_state(u) == TW_HTTPS_IDLE) {
            rc = TW_EXIT_OK;
            why = NULL;
            break;
        }
    }
    tw_https_stats hs = {.version = TW_HTTPS_STATS_VERSION};
    tw_https_uplink_stats_get(u, &hs);
    if (why) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s; last attempt: %s", why, tw_https_uplink_last_error(u));
        rc = tw_cli_fail("upload", TW_ERR_TIMEOUT, msg);
    }
    if (!quiet)
        printf("batches %" PRIu64 ", records %" PRIu64 ", values %" PRIu64 ", bytes %" PRIu64
               ", requests %" PRIu64 ", retries %" PRIu64 ", rejected batches %" PRIu64
               ", last HTTP status %ld, left in store %" PRIu64 "\n",
               hs.batches, hs.records, hs.values, hs.bytes, hs.requests, hs.retries,
               hs.rejected_batches, hs.last_http_status, ss.records);
    tw_https_uplink_free(u);
    tw_store_free(s);
    return rc;
}

const tw_cli_command tw_cli_cmd_upload = {
    "upload",
    "drain a store directory to an HTTPS endpoint (mutual TLS)",
    "tagwire upload --store DIR --url https://HOST[:PORT]/PATH --ca CA.pem\n"
    "                      [--cert CERT.pem --key KEY.pem [--key-password PW]] [--system-trust]\n"
    "                      [--format jsonl|protobuf] [--gzip] [--batch RECORDS] [--timeout SECONDS]\n"
    "                      [--on-reject hold|park|drop [--park-dir DIR]] [--instance ID] [--quiet]\n"
    "Posts the store's records (tw_https_record_encode() entries) in batches with an\n"
    "Idempotency-Key per batch; records are trimmed only after a 2xx answer. Retries with\n"
    "back-off and honours Retry-After. Exits 0 when the store is drained, 1 when the time is up\n"
    "or a batch is refused and held (the reason is printed), 2 on bad usage, 3 when the store\n"
    "directory is not accessible. Default timeout 300 s, 500 records per batch.\n",
    run,
};
