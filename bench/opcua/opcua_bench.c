/* bench_opcua: OPC UA reads and subscriptions, tagwire vs open62541's own client, same server,
 * same run. usage: bench_opcua [NVARS=10000] [SECONDS=3] [NSUB=1000] */
#define _GNU_SOURCE
#include <open62541/client.h>
#include <open62541/client_config_default.h>
#include <open62541/client_highlevel.h>
#include <open62541/client_subscriptions.h>
#include <open62541/plugin/log_stdout.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"

static double now_s(void) { return (double)tw__mono_ns() / 1e9; }

static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static pid_t spawn_server(uint16_t port, int n, int m)
{
    char ps[16], ns[16], ms[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    snprintf(ns, sizeof ns, "%d", n);
    snprintf(ms, sizeof ms, "%d", m);
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(TW_UA_BENCH_SERVER, TW_UA_BENCH_SERVER, ps, ns, ms, "10", (char *)NULL);
        _exit(127);
    }
    return p;
}

static UA_Client *raw_client(const char *url)
{
    UA_ClientConfig cc;
    memset(&cc, 0, sizeof cc);
    cc.logging = UA_Log_Stdout_new(UA_LOGLEVEL_ERROR);
    UA_ClientConfig_setDefault(&cc);
    cc.timeout = 10000;
    UA_Client *c = UA_Client_newWithConfig(&cc);
    for (int i = 0; i < 100; i++) {
        if (UA_Client_connect(c, url) == UA_STATUSCODE_GOOD) return c;
        usleep(100000);
    }
    fprintf(stderr, "raw client cannot connect to %s\n", url);
    exit(1);
}

/* ---- reads ---- */

static double bench_tagwire_read(const char *uri, int n, double secs, double *checksum)
{
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = 10000;
    tw_device *d;
    if (tw_device_open(&d, uri, &o) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        exit(1);
    }
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    tw_sample *s = malloc((size_t)n * sizeof *s);
    char a[64];
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "ns=1;s=B.%d", i);
        if (tw_device_add_item(d, &ids[i], a) != TW_OK) exit(1);
    }
    if (tw_device_read(d, ids, (size_t)n, s) != TW_OK) { /* connect + warm-up */
        fprintf(stderr, "tagwire read: %s\n", tw_device_last_error(d));
        exit(1);
    }
    long reads = 0;
    double sum = 0, t0 = now_s(), t;
    do {
        if (tw_device_read(d, ids, (size_t)n, s) != TW_OK) {
            fprintf(stderr, "tagwire read: %s\n", tw_device_last_error(d));
            exit(1);
        }
        for (int i = 0; i < n; i++) sum += s[i].value.as.d;
        reads++;
        t = now_s();
    } while (t - t0 < secs);
    *checksum = sum / (double)reads;
    tw_device_free(d);
    free(ids);
    free(s);
    return (double)reads * n / (t - t0);
}

static double bench_raw_read(const char *url, int n, double secs, double *checksum)
{
    UA_Client *c = raw_client(url);
    UA_ReadValueId *rv = calloc((size_t)n, sizeof *rv);
    char a[64];
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "B.%d", i);
        rv[i].nodeId = UA_NODEID_STRING_ALLOC(1, a);
        rv[i].attributeId = UA_ATTRIBUTEID_VALUE;
    }
    UA_ReadRequest req;
    UA_ReadRequest_init(&req);
    req.nodesToRead = rv;
    req.nodesToReadSize = (size_t)n;
    req.timestampsToReturn = UA_TIMESTAMPSTORETURN_BOTH;
    long reads = 0;
    double sum = 0, t0 = 0, t;
    for (int warm = 1;; warm = 0) {
        if (!warm && !t0) t0 = now_s();
        UA_ReadResponse r = UA_Client_Service_read(c, req);
        if (r.responseHeader.serviceResult != UA_STATUSCODE_GOOD || r.resultsSize != (size_t)n) {
            fprintf(stderr, "raw read: %s\n", UA_StatusCode_name(r.responseHeader.serviceResult));
            exit(1);
        }
        /* the same work tagwire does per value: status, timestamp, type check, value */
        for (int i = 0; i < n && !warm; i++) {
            const UA_DataValue *dv = &r.results[i];
            if (dv->hasValue && dv->value.type == &UA_TYPES[UA_TYPES_DOUBLE] && (!dv->hasStatus || dv->status == 0))
                sum += *(const UA_Double *)dv->value.data;
        }
        UA_ReadResponse_clear(&r);
        if (warm) continue;
        reads++;
        t = now_s();
        if (t - t0 >= secs) break;
    }
    *checksum = sum / (double)reads;
    for (int i = 0; i < n; i++) UA_NodeId_clear(&rv[i].nodeId);
    free(rv);
    UA_Client_disconnect(c);
    UA_Client_delete(c);
    return (double)reads * n / (t - t0);
}

/* ---- subscriptions ---- */

static long g_tw_pushes;
static void on_push(uint32_t id, const tw_sample *s, void *u)
{
    (void)id;
    (void)u;
    if (!TW_QUALITY_IS_BAD(s->quality)) g_tw_pushes++;
}

static double bench_tagwire_sub(const char *uri, int m, double secs)
{
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = 10000;
    tw_device *d;
    char a[64];
    if (tw_device_open(&d, uri, &o) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        exit(1);
    }
    uint32_t *ids = malloc((size_t)m * sizeof *ids);
    for (int i = 0; i < m; i++) {
        snprintf(a, sizeof a, "type=INT32;ns=1;s=S.%d", i);
        if (tw_device_add_item(d, &ids[i], a) != TW_OK) exit(1);
    }
    if (tw_device_subscribe(d, ids, (size_t)m, on_push, NULL) != TW_OK) {
        fprintf(stderr, "subscribe: %s\n", tw_device_last_error(d));
        exit(1);
    }
    double t0 = now_s() + 0.5, t;
    long base = -1;
    do {
        int fds[4];
        unsigned ev[4];
        int n = tw_device_fds(d, fds, ev, 4);
        struct pollfd p[4];
        for (int i = 0; i < n; i++) {
            p[i].fd = fds[i];
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        poll(p, (nfds_t)n, 5);
        tw_device_process(d);
        t = now_s();
        if (base < 0 && t >= t0) base = g_tw_pushes;
    } while (t - t0 < secs);
    long got = g_tw_pushes - base;
    tw_device_free(d);
    free(ids);
    return (double)got / (t - t0);
}

static long g_raw_pushes;
static void raw_dc(UA_Client *c, UA_UInt32 sid, void *sctx, UA_UInt32 mid, void *mctx, UA_DataValue *v)
{
    (void)c; (void)sid; (void)sctx; (void)mid; (void)mctx;
    if (v->hasValue && (!v->hasStatus || v->status == 0)) g_raw_pushes++;
}

static double bench_raw_sub(const char *url, int m, double secs)
{
    UA_Client *c = raw_client(url);
    UA_CreateSubscriptionRequest req = UA_CreateSubscriptionRequest_default();
    req.requestedPublishingInterval = 50;
    req.requestedMaxKeepAliveCount = 10;
    req.requestedLifetimeCount = 100;
    UA_CreateSubscriptionResponse resp = UA_Client_Subscriptions_create(c, req, NULL, NULL, NULL);
    UA_MonitoredItemCreateRequest *mi = calloc((size_t)m, sizeof *mi);
    void **ctx = calloc((size_t)m, sizeof *ctx);
    UA_Client_DataChangeNotificationCallback *cb = calloc((size_t)m, sizeof *cb);
    char a[64];
    for (int i = 0; i < m; i++) {
        snprintf(a, sizeof a, "S.%d", i);
        mi[i] = UA_MonitoredItemCreateRequest_default(UA_NODEID_STRING_ALLOC(1, a));
        mi[i].requestedParameters.samplingInterval = 10;
        mi[i].requestedParameters.queueSize = 10;
        cb[i] = raw_dc;
    }
    UA_CreateMonitoredItemsRequest mreq;
    UA_CreateMonitoredItemsRequest_init(&mreq);
    mreq.subscriptionId = resp.subscriptionId;
    mreq.timestampsToReturn = UA_TIMESTAMPSTORETURN_BOTH;
    mreq.itemsToCreate = mi;
    mreq.itemsToCreateSize = (size_t)m;
    UA_CreateMonitoredItemsResponse mresp = UA_Client_MonitoredItems_createDataChanges(c, mreq, ctx, cb, NULL);
    UA_CreateMonitoredItemsResponse_clear(&mresp);
    for (int i = 0; i < m; i++) UA_MonitoredItemCreateRequest_clear(&mi[i]);
    double t0 = now_s() + 0.5, t;
    long base = -1;
    do {
        UA_Client_run_iterate(c, 5);
        t = now_s();
        if (base < 0 && t >= t0) base = g_raw_pushes;
    } while (t - t0 < secs);
    long got = g_raw_pushes - base;
    free(mi);
    free(ctx);
    free(cb);
    UA_Client_disconnect(c);
    UA_Client_delete(c);
    return (double)got / (t - t0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    double secs = argc > 2 ? atof(argv[2]) : 3;
    int m = argc > 3 ? atoi(argv[3]) : 1000;
    signal(SIGPIPE, SIG_IGN);
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    tw_init(&ip);
    uint16_t port = free_port();
    pid_t srv = spawn_server(port, n, m);
    char url[128], uri[192];
    snprintf(url, sizeof url, "opc.tcp://127.0.0.1:%u", (unsigned)port);
    usleep(500000);
    UA_Client *probe = raw_client(url); /* waits until the server answers */
    UA_Client_disconnect(probe);
    UA_Client_delete(probe);
    printf("peer: open62541 %s server (bench/opcua/ua_bench_server.c), %d Double variables, %d Int32 variables "
           "changing every 10 ms; loopback, %.1f s per run\n", UA_OPEN62541_VERSION, n, m, secs);
    /* reads: short runs of the two clients alternating (A B, B A, ...) on a shared machine; each
     * round gives a ratio, the median ratio is reported with each client's best rate */
    enum { ROUNDS = 7 };
    double best_tw = 0, best_raw = 0, cs_tw = 0, cs_raw = 0, ratios[ROUNDS];
    snprintf(uri, sizeof uri, "opcua://127.0.0.1:%u?security=none&publish_ms=50&sampling_ms=10", (unsigned)port);
    for (int round = 0; round < ROUNDS; round++) {
        double r1, r2;
        if (round & 1) {
            r2 = bench_tagwire_read(uri, n, secs / ROUNDS * 2, &cs_tw);
            r1 = bench_raw_read(url, n, secs / ROUNDS * 2, &cs_raw);
        } else {
            r1 = bench_raw_read(url, n, secs / ROUNDS * 2, &cs_raw);
            r2 = bench_tagwire_read(uri, n, secs / ROUNDS * 2, &cs_tw);
        }
        if (r1 > best_raw) best_raw = r1;
        if (r2 > best_tw) best_tw = r2;
        ratios[round] = r2 / r1;
        if (cs_tw != cs_raw) printf("WARNING: checksums differ (%g vs %g)\n", cs_tw, cs_raw);
    }
    for (int i = 0; i < ROUNDS; i++) /* sort for the median */
        for (int j = i + 1; j < ROUNDS; j++)
            if (ratios[j] < ratios[i]) {
                double t = ratios[i];
                ratios[i] = ratios[j];
                ratios[j] = t;
            }
    printf("read %d variables per request (%d alternating rounds):\n", n, ROUNDS);
    printf("  open62541 client API  %10.0f variables/s  (%.2f reads/s, best round)\n", best_raw, best_raw / n);
    printf("  tagwire device read   %10.0f variables/s  (%.2f reads/s, best round)\n", best_tw, best_tw / n);
    printf("  ratio tagwire/open62541: median %.3f (rounds %.3f .. %.3f), best/best %.3f\n", ratios[ROUNDS / 2],
           ratios[0], ratios[ROUNDS - 1], best_tw / best_raw);
    double s_raw = bench_raw_sub(url, m, secs);
    double s_tw = bench_tagwire_sub(uri, m, secs);
    printf("subscription, %d monitored items, publishing 50 ms, sampling 10 ms (server changes every 10 ms):\n", m);
    printf("  open62541 client API  %10.0f changes/s\n", s_raw);
    printf("  tagwire push          %10.0f changes/s\n", s_tw);
    printf("  ratio tagwire/open62541: %.3f\n", s_tw / s_raw);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    tw_shutdown();
    return 0;
}
