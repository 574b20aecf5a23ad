/*
 * Benchmark: QoS 0 publishes per second of a 2000-byte payload to a Mosquitto broker on loopback
 * (plain TCP), tagwire's MQTT client vs libmosquitto (when built with it; see bench/mqtt/bench.cmake)
 * or the mosquitto_pub tool, sending the same payloads in the same run.
 *
 * Each round publishes N QoS 0 messages, then one QoS 1 message, and stops the clock when that
 * message's PUBACK arrives: the broker has then received (processed) every message of the round.
 * Rounds alternate between the two clients; the best round of each is reported with the ratio.
 *
 * Usage: bench_mqtt_publish [N (default 100000)] [rounds (default 3)] [subscribers (default 0)]
 * Starts its own broker (mosquitto in PATH or /usr/sbin) on a free port in a temporary directory.
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
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/mqtt.h"
#include "twtest.h"

#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
#include <mosquitto.h>
#endif

#define PAYLOAD 2000
static uint8_t g_payload[PAYLOAD];
static const char *TOPIC = "bench/tagwire/publish";

static double now_s(void) { return (double)tw__mono_ns() / 1e9; }

/* ---- tagwire ------------------------------------------------------------------------------- */

static uint64_t g_final_token;
static int g_final_done;

static void tw_on_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    (void)c;
    (void)ud;
    if (a->token == g_final_token) g_final_done = 1;
}

static double run_tagwire(uint16_t port, long n)
{
    tw_transport *t;
    tw_mqtt_client *c;
    if (tw_transport_new_tcp_insecure(&t, NULL) != TW_OK) return -1;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "127.0.0.1";
    o.port = port;
    o.client_id = "bench-tagwire";
    o.reconnect = TW_MQTT_RECONNECT_OFF;
    if (tw_mqtt_client_new(&c, t, &o) != TW_OK) return -1;
    tw_mqtt_client_set_ack_cb(c, tw_on_ack, NULL);
    if (tw_mqtt_client_connect_blocking(c, 5000) != TW_OK) {
        fprintf(stderr, "tagwire: %s\n", tw_mqtt_client_last_error(c));
        tw_mqtt_client_free(c);
        return -1;
    }
    g_final_done = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        g_payload[0] = (uint8_t)i;
        tw_status st;
        while ((st = tw_mqtt_client_publish(c, TOPIC, g_payload, PAYLOAD, 0, 0, NULL)) == TW_ERR_FULL)
            tw_mqtt_client_step(c, 100);
        if (st != TW_OK) {
            fprintf(stderr, "tagwire publish: %s\n", tw_mqtt_client_last_error(c));
            break;
        }
    }
    tw_mqtt_client_publish(c, TOPIC, g_payload, PAYLOAD, 1, 0, &g_final_token);
    while (!g_final_done && tw_mqtt_client_state(c) == TW_MQTT_CONNECTED) tw_mqtt_client_step(c, 100);
    double dt = now_s() - t0;
    tw_mqtt_client_disconnect(c, 1000);
    tw_mqtt_client_free(c);
    return g_final_done ? (double)n / dt : -1;
}

/* ---- libmosquitto -------------------------------------------------------------------------- */

#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
static int g_mq_connected, g_mq_final_mid, g_mq_done;

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
    if (mid == g_mq_final_mid) g_mq_done = 1;
}

static double run_libmosquitto(uint16_t port, long n)
{
    struct mosquitto *m = mosquitto_new("bench-libmosquitto", true, NULL);
    if (!m) return -1;
    mosquitto_connect_callback_set(m, mq_on_connect);
    mosquitto_publish_callback_set(m, mq_on_publish);
    g_mq_connected = g_mq_done = 0;
    g_mq_final_mid = -1;
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
        mosquitto_destroy(m);
        return -1;
    }
    while (!g_mq_connected) mosquitto_loop(m, 100, 1);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        g_payload[0] = (uint8_t)i;
        int rc = mosquitto_publish(m, NULL, TOPIC, PAYLOAD, g_payload, 0, false);
        if (rc != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "libmosquitto publish: %s\n", mosquitto_strerror(rc));
            break;
        }
        if ((i & 63) == 63) mosquitto_loop(m, 0, 1);
    }
    mosquitto_publish(m, &g_mq_final_mid, TOPIC, PAYLOAD, g_payload, 1, false);
    while (!g_mq_done) {
        if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS) break;
    }
    double dt = now_s() - t0;
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    return g_mq_done ? (double)n / dt : -1;
}
#define PEER_NAME "libmosquitto 2"
#define run_peer run_libmosquitto
#else
/* mosquitto_pub -l sends one message per input line: feed it N lines of the same length. */
static double run_peer(uint16_t port, long n)
{
    char path[] = "/tmp/tw-bench-mqtt-lines.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "w");
    static char line[PAYLOAD];
    for (long i = 0; i < n; i++) {
        memset(line, 'a' + (int)(i % 26), PAYLOAD - 1);
        line[PAYLOAD - 1] = '\n';
        fwrite(line, 1, PAYLOAD, f);
    }
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mosquitto_pub -h 127.0.0.1 -p %u -q 0 -t %s -l < %s", (unsigned)port, TOPIC, path);
    double t0 = now_s();
    int rc = system(cmd);
    double dt = now_s() - t0;
    unlink(path);
    return rc == 0 ? (double)n / dt : -1; /* includes process start; messages of PAYLOAD-1 bytes */
}
#define PEER_NAME "mosquitto_pub -l (includes its start-up; 1999-byte lines)"
#endif

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    int subs = argc > 3 ? atoi(argv[3]) : 0;
    if (n <= 0 || rounds <= 0 || subs < 0 || subs > 8) {
        fprintf(stderr, "usage: %s [N] [rounds] [subscribers 0..8]\n", argv[0]);
        return 2;
    }
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    if (tw_init(&ip) != TW_OK) return 1;
#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
    mosquitto_lib_init();
#endif
    for (int i = 0; i < PAYLOAD; i++) g_payload[i] = (uint8_t)(i * 13 + 7);

    char *dir = twt_mkdtemp("tw-bench-mqtt");
    if (!dir) return 1;
    twt_mosquitto broker;
    twt_mosquitto_opts mo = {.extra = "allow_anonymous true", .quiet = true};
    if (twt_mosquitto_start(&broker, dir, &mo) != 0) {
        fprintf(stderr, "could not start mosquitto\n");
        twt_rmtree(dir);
        free(dir);
        return 1;
    }
    uint16_t port = broker.port;
    pid_t sub[8] = {0};
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    for (int i = 0; i < subs; i++) {
        char *sargv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", portstr, "-t", (char *)TOPIC, "-F", "", NULL};
        sub[i] = twt_spawn(sargv, NULL);
    }
    if (subs) usleep(300000);
    printf("QoS 0 publishes of %d-byte payloads to Mosquitto on loopback (plain TCP), %ld per round, "
           "%d subscriber(s)\n", PAYLOAD, n, subs);
    double best_tw = 0, best_peer = 0;
    for (int r = 0; r < rounds; r++) {
        double a = run_tagwire(port, n);
        double b = run_peer(port, n);
        printf("round %d: tagwire %.0f msg/s, %s %.0f msg/s\n", r + 1, a, PEER_NAME, b);
        if (a > best_tw) best_tw = a;
        if (b > best_peer) best_peer = b;
    }
    printf("best: tagwire %.0f msg/s (%.1f MB/s), %s %.0f msg/s; ratio tagwire/peer = %.2f\n", best_tw,
           best_tw * PAYLOAD / 1e6, PEER_NAME, best_peer, best_peer > 0 ? best_tw / best_peer : 0.0);
    for (int i = 0; i < subs; i++) twt_stop(sub[i]);
    twt_mosquitto_stop(&broker);
    twt_rmtree(dir);
    free(dir);
#ifdef TW_BENCH_HAVE_LIBMOSQUITTO
    mosquitto_lib_cleanup();
#endif
    tw_shutdown();
    return best_tw > 0 && best_peer > 0 ? 0 : 1;
}
