/*
 * https_upload: a machine's values go through a crash-safe store to a data lake's HTTPS ingest
 * endpoint, mutually authenticated, in batches that are trimmed from the store only after the
 * endpoint answered 2xx.
 *
 *   example_https_upload STORE_DIR https://ingest.plant.local/v1/values CA.pem CERT.pem KEY.pem
 *
 * Each loop iteration stores one record holding three values, then gives the uplink up to
 * 100 ms; a real controller would do the same from its own loop (or wait on
 * tw_https_uplink_fds()). Kill it at any time: what was stored and not acknowledged is sent after
 * the restart, under the same Idempotency-Key.
 * Build: part of the tagwire build (example_https_upload), public API only.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>

#include <tagwire/https.h>
#include <tagwire/store.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s STORE_DIR URL CA.pem CERT.pem KEY.pem\n", argv[0]);
        return 2;
    }
    if (tw_init(NULL) != TW_OK) return 1;

    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = argv[1];
    so.sync = TW_STORE_SYNC_BATCH; /* group commit */
    tw_store *store = NULL;
    tw_status st = tw_store_new(&store, &so);
    if (st != TW_OK) {
        fprintf(stderr, "store: %s\n", tw_strerror(st));
        return 1;
    }

    tw_https_options o = TW_HTTPS_OPTIONS_INIT;
    o.url = argv[2];
    o.ca_file = argv[3]; /* the only trust anchor: no system CAs */
    o.cert_file = argv[4];
    o.key_file = argv[5];
    o.format = TW_HTTPS_FORMAT_JSONL;
    o.gzip = 1;
    o.on_reject = TW_HTTPS_REJECT_DROP; /* a refused batch is counted and logged, then skipped */
    tw_https_uplink *up = NULL;
    st = tw_https_uplink_new(&up, store, &o);
    if (st != TW_OK) {
        fprintf(stderr, "uplink: %s\n", tw_strerror(st));
        tw_store_free(store);
        return 1;
    }

    for (unsigned i = 0; i < 100; i++) {
        unsigned char rec[256];
        size_t len = 0;
        int64_t ts = tw_now_ns();
        tw_value oil = {.type = TW_TYPE_DOUBLE, .as.d = 41.5 + (i % 10) * 0.1};
        tw_value strokes = {.type = TW_TYPE_UINT64, .as.u = 1000 + i};
        tw_value state = {.type = TW_TYPE_STRING, .as.buf = {"running", 7}};
        tw_https_record_encode(rec, sizeof rec, &len, "Hydraulics/OilTemp", &oil, TW_QUALITY_GOOD, ts);
        tw_https_record_encode(rec, sizeof rec, &len, "Counters/Strokes", &strokes, TW_QUALITY_GOOD, ts);
        tw_https_record_encode(rec, sizeof rec, &len, "State", &state, TW_QUALITY_GOOD, ts);
        if (tw_store_append(store, NULL, rec, len) != TW_OK)
            fprintf(stderr, "store: %s\n", tw_store_last_error(store));
        tw_store_poll(store, NULL);
        if (tw_https_uplink_step(up, 100) != TW_OK)
            fprintf(stderr, "uplink: %s\n", tw_https_uplink_last_error(up));
    }

    tw_https_stats hs = {.version = TW_HTTPS_STATS_VERSION};
    tw_https_uplink_stats_get(up, &hs);
    printf("delivered %llu values in %llu batches (%llu retries, last HTTP status %ld)%s%s\n",
           (unsigned long long)hs.values, (unsigned long long)hs.batches,
           (unsigned long long)hs.retries, hs.last_http_status,
           hs.last_status != TW_OK ? "; last error: " : "",
           hs.last_status != TW_OK ? tw_https_uplink_last_error(up) : "");
    tw_https_uplink_free(up);
    tw_store_free(store); /* the rest stays on disk for the next run */
    tw_shutdown();
    return 0;
}
