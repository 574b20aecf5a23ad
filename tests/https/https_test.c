/*
 * HTTPS uplink against an independent receiver (tests/https/receiver.py: Python's http.server +
 * ssl with client-certificate verification) on 127.0.0.1. What arrived is checked by check.py
 * (JSON lines parsed by Python, protobuf decoded by Eclipse Tahu's codec).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"
#include "tagwire/https.h"
#include "tagwire/store.h"
#include "twtest.h"

#define BASE_NS 1700000000000000000LL

static char *g_dir;  /* PKI and logs */
static char g_self[4096];

static const char *pki(int slot, const char *name) { return twt_path(slot, g_dir, name); }

/* Every process a test starts is tracked, so that a failing test (an assertion jumps out of it)
 * still has its peers stopped by the per-test teardown. */
static pid_t g_pids[16];
static void track(pid_t pid)
{
    for (size_t i = 0; i < 16; i++)
        if (g_pids[i] <= 0) {
            g_pids[i] = pid;
            return;
        }
}
static void untrack(pid_t pid)
{
    for (size_t i = 0; i < 16; i++)
        if (g_pids[i] == pid) g_pids[i] = 0;
}
static int stop_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < 16; i++)
        if (g_pids[i] > 0) {
            twt_stop(g_pids[i]);
            g_pids[i] = 0;
        }
    return 0;
}

typedef struct receiver {
    pid_t pid;
    uint16_t port;
    char log[512];
    char url[128];
    const char *cert, *key;
} receiver;

static void recv_start(receiver *r)
{
    char port[16];
    snprintf(port, sizeof port, "%u", r->port);
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/%s", g_dir, r->cert ? r->cert : "server.pem");
    snprintf(key, sizeof key, "%s/%s", g_dir, r->key ? r->key : "server.key");
    snprintf(ca, sizeof ca, "%s/ca.pem", g_dir);
    char *argv[] = {"/usr/bin/python3", TW_HTTPS_TEST_DIR "/receiver.py", port, cert, key, ca, r->log, NULL};
    char errlog[600];
    snprintf(errlog, sizeof errlog, "%s.stderr", r->log);
    r->pid = twt_spawn(argv, errlog);
    assert_true(r->pid > 0);
    track(r->pid);
    assert_true(twt_wait_listen(r->port, 10000));
}

static void recv_new(receiver *r, const char *name, const char *cert, const char *key)
{
    memset(r, 0, sizeof *r);
    r->port = twt_free_port();
    r->cert = cert;
    r->key = key;
    snprintf(r->log, sizeof r->log, "%s/%s.log", g_dir, name);
    unlink(r->log);
    snprintf(r->url, sizeof r->url, "https://localhost:%u/ingest", r->port);
    recv_start(r);
}

static void recv_stop(receiver *r)
{
    if (r->pid > 0) {
        twt_stop(r->pid);
        untrack(r->pid);
    }
    r->pid = 0;
}

/* GET /_ctl?query on the receiver (mutual TLS, like the uplink). */
static void ctl(const receiver *r, const char *query)
{
    char url[256];
    snprintf(url, sizeof url, "https://localhost:%u/_ctl?%s", r->port, query);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, pki(0, "ca.pem"));
    curl_easy_setopt(c, CURLOPT_SSLCERT, pki(1, "client.pem"));
    curl_easy_setopt(c, CURLOPT_SSLKEY, pki(2, "client.key"));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    fclose(devnull);
    assert_int_equal(rc, CURLE_OK);
    assert_int_equal(code, 200);
}

static int check(const receiver *r, int n, const char *flags)
{
    return twt_sh("/usr/bin/python3 %s/check.py %s %d --node %s %s", TW_HTTPS_TEST_DIR, r->log, n,
                  TW_NODE_PROGRAM, flags);
}

static const char *label(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "v%d%s", i, i % 7 == 0 ? "\"\n\xc3\xa9\xe2\x82\xac" : "");
    return buf;
}

/* Record i: Counter (uint64 i), and when typed Temp, Flag, Label (see check.py). */
static void append(tw_store *s, int i, bool typed)
{
    uint8_t rec[512];
    size_t len = 0;
    tw_quality q = i % 10 == 0 ? TW_QUALITY_BAD_COMM_FAILURE : TW_QUALITY_GOOD;
    int64_t ts = BASE_NS + (int64_t)i * 1000000;
    tw_value v = {.type = TW_TYPE_UINT64, .as.u = (uint64_t)i};
    assert_int_equal(tw_https_record_encode(rec, sizeof rec, &len, "Counter", &v, q, ts), TW_OK);
    if (typed) {
        v.type = TW_TYPE_DOUBLE;
        v.as.d = i / 2.0;
        assert_int_equal(tw_https_record_encode(rec, sizeof rec, &len, "Temp", &v, q, ts), TW_OK);
        v.type = TW_TYPE_BOOL;
        v.as.b = i % 2;
        assert_int_equal(tw_https_record_encode(rec, sizeof rec, &len, "Flag", &v, q, ts), TW_OK);
        char lb[64];
        label(i, lb, sizeof lb);
        v.type = TW_TYPE_STRING;
        v.as.buf.ptr = lb;
        v.as.buf.len = strlen(lb);
        assert_int_equal(tw_https_record_encode(rec, sizeof rec, &len, "Label", &v, q, ts), TW_OK);
    }
    assert_int_equal(tw_store_append(s, NULL, rec, len), TW_OK);
}

static tw_store *mem_store(void)
{
    tw_store *s = NULL;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    assert_int_equal(tw_store_new(&s, &so), TW_OK);
    return s;
}

static void base_opts(tw_https_options *o, const receiver *r)
{
    tw_https_options d = TW_HTTPS_OPTIONS_INIT;
    *o = d;
    o->url = r->url;
    o->ca_file = pki(3, "ca.pem");
    o->cert_file = pki(4, "client.pem");
    o->key_file = pki(5, "client.key");
    o->backoff_base_ms = 50;
    o->backoff_cap_ms = 400;
}

static uint64_t store_records(tw_store *s)
{
    tw_store_stats st = {.version = TW_STORE_STATS_VERSION};
    assert_int_equal(tw_store_stats_get(s, &st), TW_OK);
    return st.records;
}

/* Steps until the store is drained (or the time runs out). */
static bool drain(tw_https_uplink *u, tw_store *s, int timeout_ms)
{
    int64_t end = tw__mono_ms() + timeout_ms;
    while (tw__mono_ms() < end) {
        tw_status st = tw_https_uplink_step(u, 50);
        if (st != TW_OK) return false;
        if (store_records(s) == 0 && tw_https_uplink_state(u) == TW_HTTPS_IDLE) return true;
    }
    return false;
}

static void roundtrip(const char *name, tw_https_format fmt, int gzip, const char *flags, int n,
                      uint32_t historical_ms)
{
    receiver r;
    recv_new(&r, name, NULL, NULL);
    tw_store *s = mem_store();
    for (int i = 1; i <= n; i++) append(s, i, true);
    tw_https_options o;
    base_opts(&o, &r);
    o.format = fmt;
    o.gzip = gzip;
    o.max_batch_records = 50;
    o.historical_ms = historical_ms;
    if (historical_ms) usleep(historical_ms * 1000 + 100000); /* the records are older by then */
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    bool ok = drain(u, s, 60000);
    if (!ok) print_message("last error: %s\n", tw_https_uplink_last_error(u));
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    tw_https_uplink_free(u);
    tw_store_free(s);
    recv_stop(&r);
    assert_true(ok);
    assert_int_equal(st.batches, (uint64_t)((n + 49) / 50));
    assert_int_equal(st.records, (uint64_t)n);
    assert_int_equal(st.values, (uint64_t)n * 4);
    assert_int_equal(st.last_http_status, 200);
    assert_int_equal(check(&r, n, flags), 0);
}

static void test_jsonl(void **state)
{
    (void)state;
    roundtrip("jsonl", TW_HTTPS_FORMAT_JSONL, 0, "--typed", 300, 0);
}

static void test_jsonl_gzip(void **state)
{
    (void)state;
    roundtrip("jsonl_gzip", TW_HTTPS_FORMAT_JSONL, 1, "--typed --gzip", 200, 0);
}

static void test_protobuf(void **state)
{
    (void)state;
    roundtrip("protobuf", TW_HTTPS_FORMAT_PROTOBUF, 0, "--typed --format protobuf --historical no", 300, 0);
}

static void test_protobuf_gzip(void **state)
{
    (void)state;
    roundtrip("protobuf_gzip", TW_HTTPS_FORMAT_PROTOBUF, 1,
              "--typed --format protobuf --gzip --historical yes", 200, 1000);
}

/* The receiver's log as (time, status, key) per request. */
typedef struct logrec {
    double t;
    int status;
    char key[128];
} logrec;

static size_t read_log(const char *path, logrec *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    static char line[1 << 20];
    size_t n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "\"t\": ");
        char *q = strstr(line, "\"status\": ");
        char *k = strstr(line, "\"key\": \"");
        if (!p || !q || !k) continue;
        out[n].t = strtod(p + 5, NULL);
        out[n].status = atoi(q + 10);
        k += 8;
        size_t kl = strcspn(k, "\"");
        if (kl >= sizeof out[n].key) kl = sizeof out[n].key - 1;
        memcpy(out[n].key, k, kl);
        out[n].key[kl] = '\0';
        n++;
    }
    fclose(f);
    return n;
}

static void test_retry_after(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "retry_after", NULL, NULL);
    ctl(&r, "fail=503&count=1&retry_after=2");
    ctl(&r, "fail=429&count=1&retry_after_date=3");
    ctl(&r, "fail=500&count=1");
    ctl(&r, "fail=408&count=1");
    tw_store *s = mem_store();
    for (int i = 1; i <= 10; i++) append(s, i, false);
    tw_https_options o;
    base_opts(&o, &r);
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    bool ok = drain(u, s, 60000);
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    tw_https_uplink_free(u);
    tw_store_free(s);
    recv_stop(&r);
    assert_true(ok);
    logrec lr[16];
    size_t n = read_log(r.log, lr, 16);
    assert_int_equal(n, 5);
    int want[5] = {503, 429, 500, 408, 200};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lr[i].status, want[i]);
        assert_string_equal(lr[i].key, lr[0].key); /* a retried batch carries the same key */
    }
    /* Retry-After: 2 (seconds) and an HTTP-date 3 s ahead (>= 2 s after rounding): lower bounds
     * with slack, no upper bound */
    print_message("gaps: %.2f s (Retry-After: 2), %.2f s (HTTP-date +3 s)\n", lr[1].t - lr[0].t,
                  lr[2].t - lr[1].t);
    assert_true(lr[1].t - lr[0].t >= 1.8);
    assert_true(lr[2].t - lr[1].t >= 1.0);
    assert_int_equal(st.retries, 4);
    assert_int_equal(st.failures, 4);
    assert_int_equal(st.batches, 1);
    assert_int_equal(check(&r, 10, ""), 0);
}

static int g_rejects;
static long g_reject_status;
static void on_reject(long status, const char *key, const void *body, size_t len, uint64_t records,
                      void *ud)
{
    (void)key;
    (void)body;
    (void)len;
    (void)records;
    (void)ud;
    g_rejects++;
    g_reject_status = status;
}

static void test_4xx(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "4xx", NULL, NULL);
    char *park = twt_mkdtemp("tw-park");
    tw_https_options o;
    base_opts(&o, &r);
    o.max_batch_records = 10;
    o.reject_fn = on_reject;
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};

    /* DROP: the refused batch is trimmed and counted; the next one goes through */
    tw_store *s = mem_store();
    for (int i = 1; i <= 20; i++) append(s, i, false);
    o.on_reject = TW_HTTPS_REJECT_DROP;
    o.instance_id = "drop";
    g_rejects = 0;
    ctl(&r, "fail=400&count=1");
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_true(drain(u, s, 30000));
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    assert_int_equal(st.rejected_batches, 1);
    assert_int_equal(st.rejected_records, 10);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(g_rejects, 1);
    assert_int_equal(g_reject_status, 400);
    tw_https_uplink_free(u);
    tw_store_free(s);

    /* PARK: written to park_dir under its key, then trimmed */
    s = mem_store();
    for (int i = 1; i <= 20; i++) append(s, i, false);
    o.on_reject = TW_HTTPS_REJECT_PARK;
    o.park_dir = park;
    o.instance_id = "park";
    ctl(&r, "fail=422&count=1");
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_true(drain(u, s, 30000));
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    assert_int_equal(st.parked_batches, 1);
    tw_https_uplink_free(u);
    tw_store_free(s);
    assert_int_equal(twt_sh("grep -q 'HTTP-Status: 422' %s/park-1-10.batch && "
                            "grep -c '\"name\":\"Counter\"' %s/park-1-10.batch | grep -qx 10",
                            park, park),
                     0);

    /* HOLD (default): nothing trimmed, the uplink stops until released */
    s = mem_store();
    for (int i = 1; i <= 20; i++) append(s, i, false);
    o.on_reject = TW_HTTPS_REJECT_HOLD;
    o.instance_id = "hold";
    ctl(&r, "fail=403&count=1");
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    int64_t end = tw__mono_ms() + 20000;
    tw_status rc = TW_OK;
    while (tw__mono_ms() < end && (rc = tw_https_uplink_step(u, 50)) == TW_OK) {}
    assert_int_equal(rc, TW_ERR_BUSY);
    assert_int_equal(tw_https_uplink_state(u), TW_HTTPS_HELD);
    assert_int_equal(store_records(s), 20);
    assert_non_null(strstr(tw_https_uplink_last_error(u), "403"));
    assert_int_equal(tw_https_uplink_last_status(u), TW_ERR_BUSY); /* the step that found it held */
    assert_int_equal(tw_https_uplink_release(u, 0), TW_OK);
    assert_true(drain(u, s, 30000));
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    assert_int_equal(st.batches, 2);
    assert_int_equal(st.rejected_batches, 0);
    tw_https_uplink_free(u);
    tw_store_free(s);

    /* a record that does not parse in the middle: the batch ends before it, it is rejected
     * alone (DROP), the records after it go in the next batch */
    s = mem_store();
    for (int i = 1; i <= 5; i++) append(s, i, false);
    assert_int_equal(tw_store_append(s, NULL, "\x71garbage", 8), TW_OK);
    for (int i = 6; i <= 10; i++) append(s, i, false);
    o.on_reject = TW_HTTPS_REJECT_DROP;
    o.instance_id = "mid";
    g_rejects = 0;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_true(drain(u, s, 30000));
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    assert_int_equal(st.batches, 2);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.rejected_records, 1);
    assert_int_equal(g_rejects, 1);
    assert_int_equal(g_reject_status, 0);
    tw_https_uplink_free(u);
    tw_store_free(s);

    recv_stop(&r);
    twt_rmtree(park);
    free(park);
}

/* An event loop can wait on the uplink's sockets itself. */
static void test_fds(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "fds", NULL, NULL);
    ctl(&r, "stall=1&count=1");
    tw_store *s = mem_store();
    append(s, 1, false);
    tw_https_options o;
    base_opts(&o, &r);
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    assert_int_equal(tw_https_uplink_next_ms(u), 0); /* records waiting */
    int fds[8], ev[8];
    size_t n = 0;
    int64_t end = tw__mono_ms() + 10000;
    bool waited = false;
    while (tw__mono_ms() < end && store_records(s) > 0) {
        assert_int_equal(tw_https_uplink_step(u, 0), TW_OK);
        assert_int_equal(tw_https_uplink_fds(u, fds, ev, 8, &n), TW_OK);
        if (n == 0) continue;
        assert_int_equal(tw_https_uplink_state(u), TW_HTTPS_SENDING);
        struct pollfd p[8];
        for (size_t i = 0; i < n && i < 8; i++) {
            p[i].fd = fds[i];
            p[i].events = (short)(((ev[i] & TW_HTTPS_FD_READ) ? POLLIN : 0) |
                                  ((ev[i] & TW_HTTPS_FD_WRITE) ? POLLOUT : 0));
        }
        uint32_t t = tw_https_uplink_next_ms(u);
        poll(p, (nfds_t)(n < 8 ? n : 8), t == UINT32_MAX ? 5000 : (int)TW__MIN(t, 5000u));
        waited = true;
    }
    assert_true(waited);
    assert_int_equal(store_records(s), 0);
    tw_https_uplink_free(u);
    tw_store_free(s);
    recv_stop(&r);
    assert_int_equal(check(&r, 1, ""), 0);
}

/* Cut the receiver (SIGKILL) 10 times during a stream; a stalled request killed after the
 * receiver logged it is a lost acknowledgement: its batch must come again under the same key. */
static void test_cut_receiver(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "cut", NULL, NULL);
    tw_store *s = mem_store();
    tw_https_options o;
    base_opts(&o, &r);
    o.max_batch_records = 25;
    o.timeout_ms = 5000;
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    int next = 1;
    for (int cut = 0; cut < 10; cut++) {
        int64_t end = tw__mono_ms() + 300;
        while (tw__mono_ms() < end) {
            for (int k = 0; k < 5; k++) append(s, next++, false);
            assert_int_equal(tw_https_uplink_step(u, 5), TW_OK);
        }
        if (cut % 2 == 0) {
            /* the next request is logged, then stalls: the kill loses its answer */
            ctl(&r, "stall=30&count=1");
            end = tw__mono_ms() + 400;
            while (tw__mono_ms() < end) {
                append(s, next++, false);
                assert_int_equal(tw_https_uplink_step(u, 5), TW_OK);
            }
        }
        twt_kill9(r.pid);
        untrack(r.pid);
        end = tw__mono_ms() + 200;
        while (tw__mono_ms() < end) {
            append(s, next++, false);
            assert_int_equal(tw_https_uplink_step(u, 5), TW_OK);
        }
        tw_https_uplink_retry_now(u); /* abandon the stalled request */
        recv_start(&r);
    }
    int n = next - 1;
    bool ok = drain(u, s, 60000);
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    print_message("%d values, %llu batches, %llu requests, %llu failures\n", n,
                  (unsigned long long)st.batches, (unsigned long long)st.requests,
                  (unsigned long long)st.failures);
    tw_https_uplink_free(u);
    tw_store_free(s);
    recv_stop(&r);
    assert_true(ok);
    assert_true(st.failures > 0);
    assert_int_equal(check(&r, n, "--expect-repeats-min 1"), 0);
}

static void test_wrong_server_cert(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "rogue", "rogue-server.pem", "rogue-server.key");
    tw_store *s = mem_store();
    for (int i = 1; i <= 5; i++) append(s, i, false);
    tw_https_options o;
    base_opts(&o, &r);
    tw_https_uplink *u = NULL;
    assert_int_equal(tw_https_uplink_new(&u, s, &o), TW_OK);
    tw_https_stats st = {.version = TW_HTTPS_STATS_VERSION};
    for (int64_t end = tw__mono_ms() + 20000; tw__mono_ms() < end;) { /* until the first failure */
        assert_int_equal(tw_https_uplink_step(u, 50), TW_OK);
        assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
        if (st.failures >= 1) break;
    }
    assert_int_equal(tw_https_uplink_stats_get(u, &st), TW_OK);
    print_message("error: %s\n", tw_https_uplink_last_error(u));
    assert_int_equal(st.last_status, TW_ERR_TLS_UNKNOWN_CA);
    assert_non_null(strstr(tw_https_uplink_last_error(u), "certificate"));
    assert_true(st.failures >= 1);
    assert_int_equal(st.batches, 0);
    tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
    assert_int_equal(tw_store_stats_get(s, &ss), TW_OK);
    assert_int_equal(ss.records, 5);
    assert_int_equal(ss.acked_seq, 0);
    tw_https_uplink_free(u);
    tw_store_free(s);
    recv_stop(&r);
    struct stat sb;
    assert_true(stat(r.log, &sb) != 0 || sb.st_size == 0); /* nothing was accepted */
}

#define CHILD_N 2000

/* Child: opens the disk store, fills it once, drains it with batches of 20. */
static int child_main(const char *dir, const char *url, const char *pkidir)
{
    g_dir = (char *)pkidir;
    if (tw_init(NULL) != TW_OK) return 10;
    tw_store *s = NULL;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = dir;
    so.sync = TW_STORE_SYNC_OS;
    if (tw_store_new(&s, &so) != TW_OK) return 11;
    tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
    tw_store_stats_get(s, &ss);
    if (ss.next_seq == 1) {
        for (int i = 1; i <= CHILD_N; i++) {
            uint8_t rec[64];
            size_t len = 0;
            tw_value v = {.type = TW_TYPE_UINT64, .as.u = (uint64_t)i};
            tw_https_record_encode(rec, sizeof rec, &len, "Counter", &v, 0, BASE_NS + i * 1000000LL);
            if (tw_store_append(s, NULL, rec, len) != TW_OK) return 12;
        }
        if (tw_store_sync(s) != TW_OK) return 13;
    }
    tw_https_options o = TW_HTTPS_OPTIONS_INIT;
    o.url = url;
    o.ca_file = pki(3, "ca.pem");
    o.cert_file = pki(4, "client.pem");
    o.key_file = pki(5, "client.key");
    o.backoff_base_ms = 50;
    o.backoff_cap_ms = 400;
    o.max_batch_records = 20;
    tw_https_uplink *u = NULL;
    if (tw_https_uplink_new(&u, s, &o) != TW_OK) return 14;
    int64_t end = tw__mono_ms() + 120000;
    int rc = 15;
    while (tw__mono_ms() < end) {
        if (tw_https_uplink_step(u, 50) != TW_OK) break;
        tw_store_stats_get(s, &ss);
        if (ss.records == 0 && tw_https_uplink_state(u) == TW_HTTPS_IDLE) {
            rc = 0;
            break;
        }
    }
    tw_https_uplink_free(u);
    tw_store_free(s);
    tw_shutdown();
    return rc;
}

static void test_disk_kill9(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "kill9", NULL, NULL);
    ctl(&r, "stall=0.05&count=100000"); /* every request takes >= 50 ms: a stream to cut into */
    char *dir = twt_mkdtemp("tw-https-store");
    char sdir[600], outlog[600];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    snprintf(outlog, sizeof outlog, "%s/child.log", dir);
    char *argv[] = {g_self, "--child", sdir, r.url, g_dir, NULL};
    for (int round = 0; round < 3; round++) {
        pid_t pid = twt_spawn(argv, outlog);
        assert_true(pid > 0);
        track(pid);
        /* wait for 5 more requests to arrive, then kill -9 mid-stream */
        static logrec all[4096];
        size_t before = read_log(r.log, all, 4096);
        int64_t end = tw__mono_ms() + 30000;
        while (tw__mono_ms() < end && read_log(r.log, all, 4096) < before + 5) usleep(20000);
        twt_kill9(pid);
        untrack(pid);
    }
    pid_t pid = twt_spawn(argv, outlog);
    assert_true(pid > 0);
    track(pid);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    untrack(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) twt_sh("cat %s", outlog);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    recv_stop(&r);
    assert_int_equal(check(&r, CHILD_N, ""), 0);
    twt_rmtree(dir);
    free(dir);
}

/* tagwire upload drains a disk store (through a 503 + Retry-After) and exits 0. */
static void test_cli_upload(void **state)
{
    (void)state;
    receiver r;
    recv_new(&r, "cli", NULL, NULL);
    ctl(&r, "fail=503&count=1&retry_after=1");
    char *dir = twt_mkdtemp("tw-https-cli");
    char sdir[600];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    tw_store *s = NULL;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.backend = TW_STORE_DISK;
    so.dir = sdir;
    assert_int_equal(tw_store_new(&s, &so), TW_OK);
    for (int i = 1; i <= 300; i++) append(s, i, true);
    tw_store_free(s);
    assert_int_equal(twt_sh("%s upload --store %s --url %s >/dev/null 2>&1", TW_CLI_PATH, sdir, r.url), 2);
    assert_int_equal(twt_sh("%s upload --store %s --url %s --ca %s --cert %s --key %s --gzip --batch 100 "
                            "--timeout 60",
                            TW_CLI_PATH, sdir, r.url, pki(0, "ca.pem"), pki(1, "client.pem"),
                            pki(2, "client.key")),
                     0);
    recv_stop(&r);
    assert_int_equal(check(&r, 300, "--typed --gzip"), 0);
    assert_int_equal(tw_store_new(&s, &so), TW_OK);
    assert_int_equal(store_records(s), 0);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

static int setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-https");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("TW_KEEP")) twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--child") == 0) return child_main(argv[2], argv[3], argv[4]);
    ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (n <= 0) return 1;
    g_self[n] = '\0';
    signal(SIGPIPE, SIG_IGN);
    if (getenv("TW_TEST_FILTER")) cmocka_set_test_filter(getenv("TW_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_jsonl, stop_all),
        cmocka_unit_test_teardown(test_jsonl_gzip, stop_all),
        cmocka_unit_test_teardown(test_protobuf, stop_all),
        cmocka_unit_test_teardown(test_protobuf_gzip, stop_all),
        cmocka_unit_test_teardown(test_retry_after, stop_all),
        cmocka_unit_test_teardown(test_4xx, stop_all),
        cmocka_unit_test_teardown(test_wrong_server_cert, stop_all),
        cmocka_unit_test_teardown(test_fds, stop_all),
        cmocka_unit_test_teardown(test_cut_receiver, stop_all),
        cmocka_unit_test_teardown(test_disk_kill9, stop_all),
        cmocka_unit_test_teardown(test_cli_upload, stop_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
