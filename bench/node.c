/*
 * Benchmark: 10,000 tags pushed through the node to Mosquitto over mutual TLS, against the raw
 * MQTT publish rate of the same kind of bytes in the same run.
 *
 *   A  the workload: 10,000 tags (10 devices x 1,000 doubles) each changing at 10 Hz,
 *      set by an application thread; the node (tw_node_start) publishes DDATA over MQTT 5 / mTLS.
 *      Reported: metric updates published per second (offered: 100,000/s), process CPU
 *      (getrusage, user + system, all threads, as a share of one core), RSS (VmRSS now, VmHWM peak).
 *   B  saturation: the application thread sets all 10,000 tags again whenever the node has taken
 *      most of the previous round (so the node is never idle and the setter does not compete for
 *      the CPU). Reported: metric updates published per second and CPU.
 *   C  raw MQTT: tagwire's MQTT client over the same mTLS broker publishes pre-encoded DDATA
 *      payloads of the same shape (as many metrics per message as the node sent in B, alias +
 *      timestamp + double each, encoded once) with the same QoS (1) and protocol (MQTT 5) as fast
 *      as it can. Reported: metric updates per second, and the ratio C / B (goal: <= 2).
 *
 * Usage: bench_node [seconds per phase (default 10)] [tags (default 10000)]
 * Starts its own Mosquitto (mosquitto in PATH or /usr/sbin) with a throwaway PKI
 * (tests/fixtures/make_pki.sh) on a free loopback port. No subscriber.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/mqtt.h"
#include "tagwire/node.h"
#include "tagwire/sparkplug.h"
#include "tagwire/tls.h"
#include "twtest.h"

#define NDEV 10

static double now_s(void) { return (double)tw__mono_ns() / 1e9; }

static long proc_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) v = atol(line + kl + 1);
    fclose(f);
    return v;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---- the application thread setting the tags ---- */
static tw_tag **g_tags;
static size_t g_ntags;
static atomic_int g_mode; /* 0 stop, 1 = 10 Hz, 2 = keep the node busy */
static tw_node *g_node;
static atomic_ullong g_sets;

static void *setter(void *arg)
{
    (void)arg;
    uint64_t cycle = 0;
    int64_t next = tw__mono_ns();
    int mode;
    while ((mode = atomic_load(&g_mode)) != 0) {
        if (mode == 2) {
            /* keep the node busy without competing for the CPU: a new round of changes as soon as
             * the node has taken most of the previous one */
            size_t pending = 0;
            for (size_t d = 0; d < tw_node_device_count(g_node); d++)
                pending += tw_tagset_pending(tw_node_device_tagset(tw_node_device_at(g_node, d)));
            if (pending > g_ntags / 4) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        cycle++;
        for (size_t i = 0; i < g_ntags; i++) tw_tag_set_double(g_tags[i], (double)cycle + (double)i * 1e-3, TW_QUALITY_GOOD, 0);
        atomic_fetch_add(&g_sets, g_ntags);
        if (mode == 1) {
            next += 100000000; /* 10 Hz, drift-free */
            int64_t d = next - tw__mono_ns();
            if (d > 0) {
                struct timespec ts = {(time_t)(d / 1000000000), (long)(d % 1000000000)};
                nanosleep(&ts, NULL);
            }
        }
    }
    return NULL;
}

static void stats(tw_node *n, tw_node_stats *s)
{
    s->version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(n, s);
}

/* ---- raw MQTT ---- */
static double raw_mqtt(tw_tls_config *tls, uint16_t port, size_t metrics_per_msg, double seconds, size_t *payload_len)
{
    tw_transport *t;
    if (tw_transport_new_tls(&t, tls, NULL) != TW_OK) return -1;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "127.0.0.1";
    o.port = port;
    o.client_id = "bench-raw";
    o.reconnect = TW_MQTT_RECONNECT_OFF;
    o.protocol_version = 5;
    o.max_packet_size = 1u << 20;
    o.out_buffer_size = 1u << 20;
    tw_mqtt_client *c;
    if (tw_mqtt_client_new(&c, t, &o) != TW_OK) {
        tw_transport_free(t);
        return -1;
    }
    if (tw_mqtt_client_connect_blocking(c, 10000) != TW_OK) {
        fprintf(stderr, "raw mqtt: %s\n", tw_mqtt_client_last_error(c));
        tw_mqtt_client_free(c);
        return -1;
    }
    /* one DDATA payload: alias + timestamp + double per metric, encoded once */
    tw_sp_metric *m = calloc(metrics_per_msg, sizeof *m);
    size_t cap = 64 + metrics_per_msg * 40;
    uint8_t *buf = malloc(cap);
    int64_t ts = tw_now_ns() / 1000000;
    for (size_t i = 0; i < metrics_per_msg; i++) {
        m[i].alias = 2 + i;
        m[i].ts_ms = ts;
        m[i].value.type = TW_TYPE_DOUBLE;
        m[i].value.as.d = 1000.0 + (double)i * 1e-3;
        m[i].flags = TW_SP_METRIC_NO_DATATYPE;
    }
    size_t len = 0;
    if (tw_sp_encode_data(buf, cap, &len, ts, 1, m, metrics_per_msg) != TW_OK) len = 0;
    *payload_len = len;
    uint64_t sent = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (len && now_s() < end) {
        tw_status st = tw_mqtt_client_publish(c, "spBv1.0/Bench/DDATA/Raw/D0", buf, len, 1, 0, NULL);
        if (st == TW_OK) {
            sent++;
            continue;
        }
        if (st != TW_ERR_FULL && st != TW_ERR_MQTT_INFLIGHT_FULL) break;
        tw_mqtt_client_step(c, 10);
    }
    tw_mqtt_client_flush(c, 10000);
    double dt = now_s() - t0;
    tw_mqtt_client_disconnect(c, 1000);
    tw_mqtt_client_free(c);
    free(m);
    free(buf);
    return (double)sent * (double)metrics_per_msg / dt;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    g_ntags = argc > 2 ? (size_t)atol(argv[2]) : 10000;
    if (seconds <= 0 || g_ntags < NDEV) return 2;
    signal(SIGPIPE, SIG_IGN);

    char *dir = twt_mkdtemp("tw-bench-node");
    if (!dir) return 1;
    if (twt_make_pki(dir) != 0) {
        fprintf(stderr, "cannot make the PKI (see %s/pki.log)\n", dir);
        return 1;
    }
    twt_mosquitto broker;
    twt_mosquitto_opts mo = {.pki_dir = dir, .identity_as_username = true, .quiet = true};
    if (twt_mosquitto_start(&broker, dir, &mo) != 0) return 1;
    uint16_t port = broker.port;
    char path[4200];

    if (tw_init(NULL) != TW_OK) return 1;
    long rss0 = proc_kb("VmRSS:");
    tw_tls_config *tls;
    tw_tls_config_new(&tls);
    snprintf(path, sizeof path, "%s/ca.pem", dir);
    tw_tls_config_set_ca_file(tls, path);
    char cert[4200], key[4200];
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    tw_tls_config_set_credentials_file(tls, cert, key, NULL);
    tw_tls_config_set_server_name(tls, "localhost");

    char broker_uri[64];
    snprintf(broker_uri, sizeof broker_uri, "mqtts://127.0.0.1:%u", (unsigned)port);
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.group_id = "Bench";
    o.edge_node_id = "Node";
    o.broker = broker_uri;
    o.tls = tls;
    o.queue_bytes = 4u << 20;
    if (argc > 3) o.publish_interval_ms = (uint32_t)atol(argv[3]);
    tw_node *node;
    if (tw_node_new(&node, &o) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        return 1;
    }
    g_tags = calloc(g_ntags, sizeof *g_tags);
    size_t per = g_ntags / NDEV;
    for (int d = 0; d < NDEV; d++) {
        char id[16];
        snprintf(id, sizeof id, "D%d", d);
        tw_node_device *dev;
        if (tw_node_add_device(node, &dev, id, NULL) != TW_OK) {
            fprintf(stderr, "%s\n", tw_last_error());
            return 1;
        }
        for (size_t i = 0; i < per; i++) {
            char name[64];
            snprintf(name, sizeof name, "Line%zu/Tag%05zu", i / 100, i);
            if (tw_node_device_add_tag(dev, &g_tags[d * per + i], name, TW_TYPE_DOUBLE, NULL, NULL, 0) != TW_OK) {
                fprintf(stderr, "tag: %s\n", tw_node_last_error(node));
                return 1;
            }
        }
    }
    g_ntags = per * NDEV;
    g_node = node;
    if (tw_node_start(node) != TW_OK) {
        fprintf(stderr, "start: %s\n", tw_node_last_error(node));
        return 1;
    }
    tw_node_stats s0, s1;
    for (int i = 0; i < 200; i++) {
        stats(node, &s0);
        if (s0.link == TW_NODE_LINK_ONLINE && s0.births >= 1 + NDEV) break;
        usleep(50000);
    }
    if (s0.link != TW_NODE_LINK_ONLINE) {
        fprintf(stderr, "node did not come online (see %s)\n", broker.log);
        return 1;
    }
    printf("bench_node: %zu tags in %d devices, Mosquitto 2 over mutual TLS (MQTT 5, QoS 1), %.0f s per phase\n",
           g_ntags, NDEV, seconds);

    /* ---- A: 10 Hz ---- */
    pthread_t th;
    atomic_store(&g_mode, 1);
    atomic_store(&g_sets, 0);
    stats(node, &s0);
    double c0 = cpu_s(), t0 = now_s();
    pthread_create(&th, NULL, setter, NULL);
    usleep((useconds_t)(seconds * 1e6));
    stats(node, &s1);
    double c1 = cpu_s(), t1 = now_s();
    atomic_store(&g_mode, 0);
    pthread_join(th, NULL);
    double a_rate = (double)(s1.metrics_published - s0.metrics_published) / (t1 - t0);
    double a_offered = (double)atomic_load(&g_sets) / (t1 - t0);
    long rss = proc_kb("VmRSS:"), hwm = proc_kb("VmHWM:");
    printf("A 10 Hz: offered %.0f updates/s, published %.0f metric updates/s in %.0f messages/s "
           "(%.0f metrics/message); CPU %.1f%% of one core; RSS %.1f MB (peak %.1f MB, %.1f MB before the node)\n",
           a_offered, a_rate, (double)(s1.messages_published - s0.messages_published) / (t1 - t0),
           (double)(s1.metrics_published - s0.metrics_published) /
               (double)(s1.messages_published - s0.messages_published + (s1.messages_published == s0.messages_published)),
           100.0 * (c1 - c0) / (t1 - t0), rss / 1024.0, hwm / 1024.0, rss0 / 1024.0);
    usleep(300000);

    /* ---- B and C in alternating rounds (the machine is shared: best round of each) ---- */
    double b_best = 0, c_best = 0, b_cpu = 0, per_msg = 500, b_offered = 0, b_msgs_s = 0;
    size_t plen = 0;
    const int rounds = 3;
    for (int r = 0; r < rounds; r++) {
        atomic_store(&g_mode, 2);
        atomic_store(&g_sets, 0);
        stats(node, &s0);
        c0 = cpu_s();
        t0 = now_s();
        pthread_create(&th, NULL, setter, NULL);
        usleep((useconds_t)(seconds / rounds * 1e6));
        stats(node, &s1);
        c1 = cpu_s();
        t1 = now_s();
        atomic_store(&g_mode, 0);
        pthread_join(th, NULL);
        double rate = (double)(s1.metrics_published - s0.metrics_published) / (t1 - t0);
        uint64_t msgs = s1.messages_published - s0.messages_published;
        if (rate > b_best) {
            b_best = rate;
            b_cpu = 100.0 * (c1 - c0) / (t1 - t0);
            per_msg = msgs ? (double)(s1.metrics_published - s0.metrics_published) / (double)msgs : 500;
            b_offered = (double)atomic_load(&g_sets) / (t1 - t0);
            b_msgs_s = (double)msgs / (t1 - t0);
        }
        usleep(300000); /* let the node drain */
        size_t m = (size_t)(per_msg + 0.5);
        double c = raw_mqtt(tls, port, m ? m : 1, seconds / rounds, &plen);
        if (c > c_best) c_best = c;
    }
    printf("B saturated (best of %d): application offered %.0f updates/s, node published %.0f metric updates/s in "
           "%.0f messages/s (%.0f metrics/message); CPU %.1f%% of one core\n",
           rounds, b_offered, b_best, b_msgs_s, per_msg, b_cpu);
    printf("C raw MQTT (best of %d; tagwire client, pre-encoded %zu-byte DDATA of %.0f metrics, QoS 1, MQTT 5, mTLS): "
           "%.0f metric updates/s\n", rounds, plen, per_msg, c_best);
    printf("ratio raw MQTT / node publish path: %.2fx (goal <= 2)\n", b_best > 0 ? c_best / b_best : 0);
    tw_status st = tw_node_stop(node);
    stats(node, &s1);
    printf("stop: %s, %llu left unpublished, %llu dropped from the memory queue\n", tw_status_name(st),
           (unsigned long long)s1.unflushed_metrics, (unsigned long long)s1.queue_dropped);
    tw_node_free(node);

    tw_tls_config_free(tls);
    free(g_tags);
    tw_shutdown();
    twt_mosquitto_stop(&broker);
    twt_rmtree(dir);
    free(dir);
    return 0;
}
