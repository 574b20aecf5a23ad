/*
 * oem_machine: a machine builder's controller publishes its own values (push API, no adapter).
 *
 * The machine's control loop runs at 10 Hz and sets three tags from any thread it likes
 * (tw_tag_set_* never blocks behind I/O); the node publishes them as Sparkplug B node metrics
 * (NBIRTH/NDATA) over mutual TLS on its own thread, with deadbands applied once. The host can
 * change a set point (NCMD "Setpoints/StrokesPerMinute"): the write callback runs on the node's
 * thread and hands the value to the control loop.
 *
 *   example_oem_machine --broker mqtts://HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem
 *                       [--server-name NAME] [--group G] [--node N] [--seconds S]
 *
 * Build: part of the tagwire build (example_oem_machine), public API only.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tagwire/node.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* The set point, shared between the node's thread (writes from the host) and the control loop. */
static _Atomic double g_spm = 30.0;

/* Runs on the node's thread for every NCMD write of the set point (range already checked). */
static tw_status on_setpoint(tw_tag *tag, const tw_value *value, void *user_data)
{
    (void)user_data;
    atomic_store(&g_spm, value->as.d);
    printf("setpoint: %s = %g\n", tw_tag_name(tag), value->as.d);
    fflush(stdout);
    /* publish the accepted value at once */
    return tw_tag_set_double(tag, value->as.d, TW_QUALITY_GOOD, 0);
}

int main(int argc, char **argv)
{
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.shutdown_timeout_ms = 10000; /* give the final flush (pending values, NDEATH) up to 10 s */
    long seconds = 0;
    o.group_id = "Demo";
    o.edge_node_id = "Machine1";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--broker")) o.broker = v;
        else if (!strcmp(k, "--ca")) o.tls_ca_file = v;
        else if (!strcmp(k, "--cert")) o.tls_cert_file = v;
        else if (!strcmp(k, "--key")) o.tls_key_file = v;
        else if (!strcmp(k, "--server-name")) o.tls_server_name = v;
        else if (!strcmp(k, "--group")) o.group_id = v;
        else if (!strcmp(k, "--node")) o.edge_node_id = v;
        else if (!strcmp(k, "--seconds")) seconds = atol(v);
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    if (!o.broker) {
        fprintf(stderr, "usage: %s --broker URI --ca F --cert F --key F [--seconds N]\n", argv[0]);
        return 2;
    }
    if (tw_init(NULL) != TW_OK) return 3;

    tw_node *node = NULL;
    if (tw_node_new(&node, &o) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        tw_shutdown();
        return 1;
    }

    tw_tag *oil, *strokes, *state, *spm;
    tw_tag_options oil_o = TW_TAG_OPTIONS_INIT;
    oil_o.unit = "degC";
    oil_o.deadband = 0.2; /* changes below 0.2 degC are not worth a message */
    tw_tag_options spm_o = TW_TAG_OPTIONS_INIT;
    spm_o.unit = "1/min";
    spm_o.min = 0;
    spm_o.max = 120;
    spm_o.access = TW_ACCESS_READ_WRITE;
    tw_status st;
    if ((st = tw_node_add_tag(node, &oil, "Hydraulics/OilTemp", TW_TYPE_DOUBLE, &oil_o)) ||
        (st = tw_node_add_tag(node, &strokes, "Counters/Strokes", TW_TYPE_UINT64, NULL)) ||
        (st = tw_node_add_tag(node, &state, "State", TW_TYPE_STRING, NULL)) ||
        (st = tw_node_add_tag(node, &spm, "Setpoints/StrokesPerMinute", TW_TYPE_DOUBLE, &spm_o))) {
        fprintf(stderr, "tag: %s\n", tw_node_last_error(node));
        tw_node_free(node);
        tw_shutdown();
        return 1;
    }
    tw_tag_set_write_cb(spm, on_setpoint, NULL);
    tw_tag_set_double(spm, atomic_load(&g_spm), TW_QUALITY_GOOD, 0);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (tw_node_start(node) != TW_OK) {
        fprintf(stderr, "start: %s\n", tw_node_last_error(node));
        tw_node_free(node);
        tw_shutdown();
        return 1;
    }

    /* the machine's control loop (10 Hz) */
    uint64_t count = 0;
    double stroke_acc = 0;
    for (long tick = 0; !g_stop && (seconds <= 0 || tick < seconds * 10); tick++) {
        double phase = (double)(tick % 200) / 100.0; /* 0..2 over 20 s: a slow triangle */
        stroke_acc += atomic_load(&g_spm) / 600.0; /* strokes per 100 ms */
        while (stroke_acc >= 1.0) {
            stroke_acc -= 1.0;
            count++;
        }
        tw_tag_set_double(oil, 40.0 + 5.0 * (phase < 1.0 ? phase : 2.0 - phase), TW_QUALITY_GOOD, 0);
        tw_tag_set_uint64(strokes, count, TW_QUALITY_GOOD, 0);
        tw_tag_set_string(state, atomic_load(&g_spm) > 0 ? "RUNNING" : "IDLE", TW_QUALITY_GOOD, 0);
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }

    st = tw_node_stop(node); /* pending values, NDEATH, disconnect: bounded */
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(node, &s);
    printf("oem_machine: %llu strokes, %llu metrics published in %llu messages; stop %s\n",
           (unsigned long long)count, (unsigned long long)s.metrics_published,
           (unsigned long long)s.messages_published, tw_status_name(st));
    tw_node_free(node);
    tw_shutdown();
    return st == TW_OK ? 0 : 1;
}
