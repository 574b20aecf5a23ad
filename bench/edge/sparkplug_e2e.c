/*
 * Benchmark: end-to-end Sparkplug B metric updates per second published over mutual TLS to a
 * Mosquitto 2 broker on loopback (QoS 1, MQTT 5 for tagwire / MQTT 3.1.1 for libmosquitto).
 *
 *   tagwire: the edge session does the whole path for every cycle: M tags set through the tag
 *            API -> change set collected -> one NDATA of M metrics encoded (direct encoder) ->
 *            MQTT PUBLISH over TLS. The clock stops when tw_edge_stop() has flushed (every
 *            PUBACK received).
 *   peer:    libmosquitto 2 (same machine, same broker, same TLS credentials) publishes the very
 *            same NDATA payloads, encoded beforehand outside the clock, QoS 1; the clock stops at
 *            the last PUBACK. Without libmosquitto: mosquitto_pub -l with lines of the same size
 *            (start-up included).
 * Rounds alternate; the best round of each is reported with the ratio.
 *
 * Usage: bench_sparkplug_e2e [cycles (3000)] [metrics per cycle (100)] [rounds (3)] [qos (1)]
 * With QoS 0 both sides end with one QoS 1 message (tagwire: the NDEATH of tw_edge_stop()) whose
 * PUBACK proves that the broker has everything sent before it.
 * Starts its own broker and test PKI (tests/fixtures/make_pki.sh) in a temporary directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/edge.h"
#include "tagwire/sparkplug.h"
#include "tagwire/tag.h"
#include "tagwire/tls.h"
#include "twtest.h"

#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
#include <mosquitto.h>
#endif

static char g_dir[64];
static uint16_t g_port;
static long g_cycles = 3000;
static int g_metrics = 100;
static int g_qos = 1;

static double now_s(void) { return (double)tw__mono_ns() / 1e9; }

static const char *path(const char *name)
{
    static char b[4][256];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, 256, "%s/%s", g_dir, name);
    return p;
}

static double value_of(long cycle, int i) { return (double)cycle * 1000.0 + i + 0.5; }

/* ---- tagwire ------------------------------------------------------------------------------ */

static double run_tagwire(tw_tls_config *tls, tw_tagset *ts, tw_tag **tags, long round)
{
    tw_edge_options o = TW_EDGE_OPTIONS_INIT;
    o.group_id = "Bench";
    o.edge_node_id = "Edge1";
    o.host = "127.0.0.1";
    o.port = g_port;
    o.tls = tls;
    o.qos = g_qos ? TW_EDGE_QOS1 : TW_EDGE_QOS0;
    char cid[32];
    snprintf(cid, sizeof cid, "bench-tagwire-%ld", round);
    o.client_id = cid;
    tw_edge *e = NULL;
    if (tw_edge_new(&e, &o) != TW_OK) return -1;
    tw_edge_set_node_tags(e, ts);
    tw_edge_start(e);
    for (int i = 0; i < 1000 && tw_edge_state_get(e) != TW_EDGE_ONLINE; i++) tw_edge_step(e, 10);
    if (tw_edge_state_get(e) != TW_EDGE_ONLINE) {
        fprintf(stderr, "tagwire: not online: %s\n", tw_edge_last_error(e));
        tw_edge_free(e);
        return -1;
    }
    tw_edge_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_EDGE_STATS_VERSION;
    tw_edge_stats_get(e, &st);
    uint64_t base = st.metrics_published;
    double t0 = now_s();
    int64_t ts_ns = tw_now_ns();
    for (long c = 0; c < g_cycles; c++) {
        for (int i = 0; i < g_metrics; i++)
            tw_tag_set_double(tags[i], value_of(c + round * g_cycles, i), TW_QUALITY_GOOD, ts_ns);
        tw_edge_publish(e);
        /* every update of this cycle is published before the next cycle (no coalescing) */
        for (;;) {
            tw_edge_stats_get(e, &st);
            if (st.metrics_published - base >= (uint64_t)(c + 1) * (uint64_t)g_metrics) break;
            if (tw_edge_step(e, 100) != TW_OK && tw_edge_state_get(e) != TW_EDGE_ONLINE) {
                fprintf(stderr, "tagwire: %s\n", tw_edge_last_error(e));
                tw_edge_free(e);
                return -1;
            }
        }
    }
    tw_status rc = tw_edge_stop(e, 30000); /* waits for every PUBACK */
    double dt = now_s() - t0;
    tw_edge_stats_get(e, &st);
    tw_edge_free(e);
    if (rc != TW_OK || st.refused) return -1;
    return (double)g_cycles * g_metrics / dt;
}

/* ---- the same payloads, encoded beforehand --------------------------------------------------- */

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

static blob *encode_all(long round)
{
    blob *b = calloc((size_t)g_cycles, sizeof *b);
    tw_sp_metric *m = calloc((size_t)g_metrics, sizeof *m);
    int64_t ts = tw_now_ns() / 1000000;
    for (long c = 0; c < g_cycles; c++) {
        for (int i = 0; i < g_metrics; i++) {
            m[i].alias = 3u + (uint64_t)i;
            m[i].ts_ms = ts;
            m[i].value.type = TW_TYPE_DOUBLE;
            m[i].value.as.d = value_of(c + round * g_cycles, i);
        }
        size_t need = 0;
        tw_sp_encode_data(NULL, 0, &need, ts, (uint64_t)(c + 1) & 255u, m, (size_t)g_metrics);
        b[c].p = malloc(need);
        tw_sp_encode_data(b[c].p, need, &b[c].n, ts, (uint64_t)(c + 1) & 255u, m, (size_t)g_metrics);
    }
    free(m);
    return b;
}

static void free_all(blob *b)
{
    for (long c = 0; c < g_cycles; c++) free(b[c].p);
    free(b);
}

#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
static int g_mq_connected, g_mq_final_mid = -1, g_mq_final_done;
static long g_mq_acks;

static void mq_on_connect(struct mosquitto *m, void *ud, int rc)
{
    (void)m;
    (void)ud;
    g_mq_connected = rc == 0 ? 1 : -1;
}

static void mq_on_publish(struct mosquitto *m, void *ud, int mid)
{
    (void)m;
    (void)ud;
    if (mid == g_mq_final_mid) g_mq_final_done = 1;
    g_mq_acks++;
}

static double run_peer(long round)
{
    blob *b = encode_all(round);
    char cid[32];
    snprintf(cid, sizeof cid, "bench-libmosquitto-%ld", round);
    struct mosquitto *m = mosquitto_new(cid, true, NULL);
    double res = -1;
    if (!m) goto out;
    mosquitto_connect_callback_set(m, mq_on_connect);
    mosquitto_publish_callback_set(m, mq_on_publish);
    if (mosquitto_tls_set(m, path("ca.pem"), NULL, path("client.pem"), path("client.key"), NULL) != MOSQ_ERR_SUCCESS)
        goto out;
    g_mq_connected = 0;
    g_mq_acks = 0;
    if (mosquitto_connect(m, "127.0.0.1", g_port, 60) != MOSQ_ERR_SUCCESS) goto out;
    while (!g_mq_connected) mosquitto_loop(m, 100, 1);
    if (g_mq_connected < 0) goto out;
    double t0 = now_s();
    for (long c = 0; c < g_cycles; c++) {
        int rc = mosquitto_publish(m, NULL, "spBv1.0/Bench/NDATA/Edge2", (int)b[c].n, b[c].p, g_qos, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "libmosquitto publish: %s\n", mosquitto_strerror(rc));
            goto out;
        }
        mosquitto_loop(m, 0, 1);
    }
    /* a final QoS 1 message: its PUBACK means the broker has everything before it (libmosquitto
     * calls on_publish for QoS 0 messages when they are written, not when the broker has them) */
    g_mq_final_done = 0;
    mosquitto_publish(m, &g_mq_final_mid, "spBv1.0/Bench/NDATA/Edge2", (int)b[0].n, b[0].p, 1, false);
    while (!g_mq_final_done)
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS) goto out;
    res = (double)g_cycles * g_metrics / (now_s() - t0);
    mosquitto_disconnect(m);
out:
    if (m) mosquitto_destroy(m);
    free_all(b);
    return res;
}
#define PEER_NAME "libmosquitto 2 (pre-encoded payloads)"
#else
static double run_peer(long round)
{
    /* mosquitto_pub -l: one message per line; lines of the payload's size (hex would double it) */
    blob *b = encode_all(round);
    size_t n = b[0].n;
    free_all(b);
    char file[300];
    snprintf(file, sizeof file, "%s/lines", g_dir);
    FILE *f = fopen(file, "w");
    if (!f) return -1;
    char *line = malloc(n + 1);
    for (long c = 0; c < g_cycles; c++) {
        memset(line, 'a' + (int)(c % 26), n);
        line[n] = '\n';
        fwrite(line, 1, n + 1, f);
    }
    free(line);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mosquitto_pub -h 127.0.0.1 -p %u -q %d --cafile %s --cert %s --key %s -t spBv1.0/Bench/NDATA/Edge2 -l < %s",
             (unsigned)g_port, g_qos, path("ca.pem"), path("client.pem"), path("client.key"), file);
    double t0 = now_s();
    int rc = system(cmd);
    double dt = now_s() - t0;
    return rc == 0 ? (double)g_cycles * g_metrics / dt : -1;
}
#define PEER_NAME "mosquitto_pub -l (start-up included)"
#endif

int main(int argc, char **argv)
{
    if (argc > 1) g_cycles = atol(argv[1]);
    if (argc > 2) g_metrics = atoi(argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    if (argc > 4) g_qos = atoi(argv[4]);
    if (g_cycles <= 0 || g_metrics <= 0 || g_metrics > 500 || rounds <= 0 || g_qos < 0 || g_qos > 1) {
        fprintf(stderr, "usage: %s [cycles] [metrics 1..500] [rounds] [qos 0|1]\n", argv[0]);
        return 2;
    }
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return 1;
#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
    mosquitto_lib_init();
#endif
    snprintf(g_dir, sizeof g_dir, "/tmp/tw-bench-e2e.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    if (twt_make_pki(g_dir) != 0) {
        fprintf(stderr, "make_pki.sh failed\n");
        return 1;
    }
    twt_mosquitto broker;
    twt_mosquitto_opts mo = {.pki_dir = g_dir, .identity_as_username = true, .quiet = true};
    if (twt_mosquitto_start(&broker, g_dir, &mo) != 0) return 1;
    g_port = broker.port;

    tw_tls_config *tls = NULL;
    tw_tls_config_new(&tls);
    tw_tls_config_set_ca_file(tls, path("ca.pem"));
    if (tw_tls_config_set_credentials_file(tls, path("client.pem"), path("client.key"), NULL) != TW_OK) {
        fprintf(stderr, "credentials\n");
        twt_mosquitto_stop(&broker);
        return 1;
    }
    tw_tagset *ts = NULL;
    tw_tagset_new(&ts);
    tw_tag **tags = calloc((size_t)g_metrics, sizeof *tags);
    for (int i = 0; i < g_metrics; i++) {
        char name[64];
        snprintf(name, sizeof name, "Line1/Machine/Sensor%03d", i);
        tw_tagset_add(ts, &tags[i], name, TW_TYPE_DOUBLE, NULL);
        tw_tag_set_double(tags[i], 0, TW_QUALITY_GOOD, 0);
    }
    printf("Sparkplug NDATA of %d Double metrics, %ld messages per round, QoS %d, mutual TLS to "
           "Mosquitto on loopback\n", g_metrics, g_cycles, g_qos);
    double best_tw = 0, best_peer = 0;
    for (int r = 0; r < rounds; r++) {
        double a = run_tagwire(tls, ts, tags, r);
        double b = run_peer(r);
        printf("round %d: tagwire edge %.0f metric updates/s (%.0f msg/s), %s %.0f metric updates/s\n",
               r + 1, a, a / g_metrics, PEER_NAME, b);
        if (a > best_tw) best_tw = a;
        if (b > best_peer) best_peer = b;
    }
    printf("best: tagwire edge %.0f metric updates/s, %s %.0f; ratio tagwire/peer = %.2f\n", best_tw,
           PEER_NAME, best_peer, best_peer > 0 ? best_tw / best_peer : 0.0);
    tw_tagset_free(ts);
    free(tags);
    tw_tls_config_free(tls);
    twt_mosquitto_stop(&broker);
    twt_rmtree(g_dir);
#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
    mosquitto_lib_cleanup();
#endif
    tw_shutdown();
    return best_tw > 0 && best_peer > 0 ? 0 : 1;
}
