/*
 * bench_https: store -> HTTPS uplink -> receiver, against posting the very same bodies with raw
 * libcurl (one easy handle, keep-alive) and with the curl tool (one process, --next), all to the
 * same receiver (tests/https/receiver.py, mutual TLS, logging to /dev/null) in one run.
 *   bench_https [records] [records-per-batch]
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "https/https_internal.h"
#include "internal.h"
#include "tagwire/https.h"
#include "tagwire/store.h"
#include "twtest.h"

static char *dir;
static char url[128];

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void fill(tw_store *s, int n)
{
    for (int i = 1; i <= n; i++) {
        uint8_t rec[128];
        size_t len = 0;
        tw_value v = {.type = TW_TYPE_DOUBLE, .as.d = i * 0.25};
        tw_https_record_encode(rec, sizeof rec, &len, "Line1/Press7/Hydraulics/OilTemp", &v, 0,
                               1700000000000000000LL + i * 1000000LL);
        if (tw_store_append(s, NULL, rec, len) != TW_OK) exit(2);
    }
}

static double run_uplink(int n, int batch, tw_https_format fmt, int gz, double *bytes)
{
    tw_store *s = NULL;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.max_bytes = 256u << 20;
    if (tw_store_new(&s, &so) != TW_OK) exit(2);
    fill(s, n);
    tw_https_options o = TW_HTTPS_OPTIONS_INIT;
    o.url = url;
    o.ca_file = twt_path(0, dir, "ca.pem");
    o.cert_file = twt_path(1, dir, "client.pem");
    o.key_file = twt_path(2, dir, "client.key");
    o.format = fmt;
    o.gzip = gz;
    o.max_batch_records = (uint32_t)batch;
    tw_https_uplink *u = NULL;
    if (tw_https_uplink_new(&u, s, &o) != TW_OK) exit(3);
    int64_t t0 = tw__mono_ns();
    tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
    for (;;) {
        if (tw_https_uplink_step(u, 100) != TW_OK) exit(4);
        tw_store_stats_get(s, &ss);
        if (ss.records == 0 && tw_https_uplink_state(u) == TW_HTTPS_IDLE) break;
    }
    double secs = (double)(tw__mono_ns() - t0) / 1e9;
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};
    tw_https_uplink_stats_get(u, &st);
    if (st.failures) fprintf(stderr, "warning: %llu failed attempts\n", (unsigned long long)st.failures);
    *bytes = (double)st.bytes;
    tw_https_uplink_free(u);
    tw_store_free(s);
    return secs;
}

/* The same JSON lines bodies the uplink sends, built up front. */
static tw__hbuf *make_bodies(int n, int batch, int *nb)
{
    *nb = (n + batch - 1) / batch;
    tw__hbuf *b = calloc((size_t)*nb, sizeof *b);
    for (int i = 1; i <= n; i++) {
        uint8_t rec[128];
        size_t len = 0, off = 0;
        tw_value v = {.type = TW_TYPE_DOUBLE, .as.d = i * 0.25};
        tw_https_record_encode(rec, sizeof rec, &len, "Line1/Press7/Hydraulics/OilTemp", &v, 0,
                               1700000000000000000LL + i * 1000000LL);
        tw_https_entry e;
        tw_https_record_next(rec, len, &off, &e);
        tw__https_jsonl_entry(&b[(i - 1) / batch], &e, (uint64_t)i);
    }
    return b;
}

static double run_libcurl(tw__hbuf *b, int nb)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-ndjson");
    h = curl_slist_append(h, "Expect:");
    int64_t t0 = tw__mono_ns();
    for (int i = 0; i < nb; i++) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, twt_path(0, dir, "ca.pem"));
        curl_easy_setopt(c, CURLOPT_SSLCERT, twt_path(1, dir, "client.pem"));
        curl_easy_setopt(c, CURLOPT_SSLKEY, twt_path(2, dir, "client.key"));
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)b[i].p);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b[i].len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        if (curl_easy_perform(c) != CURLE_OK) exit(5);
    }
    double secs = (double)(tw__mono_ns() - t0) / 1e9;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return secs;
}

static double run_curl_tool(tw__hbuf *b, int nb)
{
    char cfg[600];
    snprintf(cfg, sizeof cfg, "%s/curl.cfg", dir);
    FILE *f = fopen(cfg, "w");
    for (int i = 0; i < nb; i++) {
        char bp[600];
        snprintf(bp, sizeof bp, "%s/body%d", dir, i);
        FILE *bf = fopen(bp, "wb");
        fwrite(b[i].p, 1, b[i].len, bf);
        fclose(bf);
        if (i) fprintf(f, "next\n");
        fprintf(f, "url = \"%s\"\ncacert = \"%s/ca.pem\"\ncert = \"%s/client.pem\"\nkey = \"%s/client.key\"\n"
                   "header = \"Content-Type: application/x-ndjson\"\nheader = \"Expect:\"\n"
                   "data-binary = \"@%s\"\noutput = \"/dev/null\"\nsilent\nfail\n",
                url, dir, dir, dir, bp);
    }
    fclose(f);
    int64_t t0 = tw__mono_ns();
    if (twt_sh("curl -K %s", cfg) != 0) exit(6);
    return (double)(tw__mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int batch = argc > 2 ? atoi(argv[2]) : 500;
    tw_init(NULL);
    tw_set_log(NULL, TW_LOG_ERROR, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dir = twt_mkdtemp("tw-bench-https");
    if (twt_make_pki(dir) != 0) return 1;
    uint16_t port = twt_free_port();
    snprintf(url, sizeof url, "https://localhost:%u/ingest", port);
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    char cert[600], key[600], ca[600];
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    char *av[] = {"/usr/bin/python3", TW_HTTPS_TEST_DIR "/receiver.py", ps, cert, key, ca, "/dev/null", NULL};
    pid_t pid = twt_spawn(av, NULL);
    if (pid <= 0 || !twt_wait_listen(port, 10000)) return 1;

    int nb;
    int64_t te = tw__mono_ns();
    tw__hbuf *bodies = make_bodies(n, batch, &nb);
    double t_enc = (double)(tw__mono_ns() - te) / 1e9;
    double body_bytes = 0;
    for (int i = 0; i < nb; i++) body_bytes += (double)bodies[i].len;
    double ub, t_up = run_uplink(n, batch, TW_HTTPS_FORMAT_JSONL, 0, &ub);
    double t_lc = run_libcurl(bodies, nb);
    double t_ct = twt_have("curl") ? run_curl_tool(bodies, nb) : 0;
    double gb, t_gz = run_uplink(n, batch, TW_HTTPS_FORMAT_JSONL, 1, &gb);
    double pbb, t_pb = run_uplink(n, batch, TW_HTTPS_FORMAT_PROTOBUF, 0, &pbb);
    printf("bench_https: %d records (1 double value each), %d per batch, %d batches, receiver.py\n", n, batch, nb);
    printf("  uplink  jsonl        %8.0f records/s  %6.2f MB/s body  (%.0f bytes)\n", n / t_up, ub / t_up / 1e6, ub);
    printf("  libcurl same bodies  %8.0f records/s  %6.2f MB/s body  (%.0f bytes)\n", n / t_lc, body_bytes / t_lc / 1e6, body_bytes);
    if (t_ct > 0)
        printf("  curl tool same bodies%8.0f records/s  (one process, --next, keep-alive)\n", n / t_ct);
    printf("  uplink  jsonl+gzip   %8.0f records/s  (%.0f bytes on the wire, %.1fx smaller)\n", n / t_gz, gb, ub / gb);
    printf("  uplink  protobuf     %8.0f records/s  (%.0f bytes)\n", n / t_pb, pbb);
    printf("  (JSON lines encoding alone: %.0f ns per value)\n", t_enc / n * 1e9);
    printf("ratio uplink/libcurl: %.2f   uplink/curl-tool: %.2f\n", t_lc / t_up, t_ct > 0 ? t_ct / t_up : 0);
    for (int i = 0; i < nb; i++) tw__hbuf_free(&bodies[i]);
    free(bodies);
    twt_stop(pid);
    twt_rmtree(dir);
    free(dir);
    tw_shutdown();
    return 0;
}
