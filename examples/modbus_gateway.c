/*
 * modbus_gateway: poll a Modbus TCP device and publish its registers as a Sparkplug B device,
 * built with the API only (no configuration file; `tagwire run` does the same from JSON).
 *
 *   example_modbus_gateway --broker mqtts://HOST:PORT --ca CA.pem --cert CERT.pem --key KEY.pem
 *                          --device modbus+tcp://HOST:PORT?unit=1 [--server-name NAME]
 *                          [--group G] [--node N] [--seconds S]
 *
 * Tags of the device "Press" (Sparkplug device spBv1.0/G/.../N/Press):
 *   Drive/Speed      holding register 100, raw 0..1000 scaled to 0..150 rpm, read-write (DCMD
 *                    values are scaled back to raw before they are written)
 *   Setpoints/Speed  holding register 1, uint16, read-write
 *   Faulty/Register  holding register 5000 (a device that answers with an exception shows up
 *                    with a bad quality, the value is not invented)
 *
 * Build: part of the tagwire build (example_modbus_gateway), public API only.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
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

int main(int argc, char **argv)
{
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.shutdown_timeout_ms = 10000; /* give the final flush (pending values, NDEATH) up to 10 s */
    const char *device_uri = NULL;
    long seconds = 0;
    o.group_id = "Demo";
    o.edge_node_id = "Press7";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--broker")) o.broker = v;
        else if (!strcmp(k, "--ca")) o.tls_ca_file = v;
        else if (!strcmp(k, "--cert")) o.tls_cert_file = v;
        else if (!strcmp(k, "--key")) o.tls_key_file = v;
        else if (!strcmp(k, "--server-name")) o.tls_server_name = v;
        else if (!strcmp(k, "--device")) device_uri = v;
        else if (!strcmp(k, "--group")) o.group_id = v;
        else if (!strcmp(k, "--node")) o.edge_node_id = v;
        else if (!strcmp(k, "--seconds")) seconds = atol(v);
        else {
            fprintf(stderr, "unknown option %s\n", k);
            return 2;
        }
    }
    if (!o.broker || !device_uri) {
        fprintf(stderr, "usage: %s --broker URI --ca F --cert F --key F --device URI [--seconds N]\n", argv[0]);
        return 2;
    }
    if (tw_init(NULL) != TW_OK) return 3;

    tw_node *node = NULL;
    tw_status st = tw_node_new(&node, &o);
    if (st != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        tw_shutdown();
        return 1;
    }

    /* the device, opened by URI: connecting happens on the first poll, with back-off on failure */
    tw_node_device *press = NULL;
    tw_node_device_options dopt = TW_NODE_DEVICE_OPTIONS_INIT;
    dopt.adapter_uri = device_uri;
    dopt.device.timeout_ms = 500;
    st = tw_node_add_device(node, &press, "Press", &dopt);
    if (st != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        tw_node_free(node);
        tw_shutdown();
        return 1;
    }

    /* tags: address, scan rate, scaling, access; a bad address fails here, not at run time */
    tw_tag_options speed = TW_TAG_OPTIONS_INIT;
    speed.unit = "rpm";
    speed.scale = 150.0 / 1000.0; /* raw 0..1000 -> 0..150 rpm */
    speed.min = 0;
    speed.max = 150;
    speed.access = TW_ACCESS_READ_WRITE;
    tw_tag_options setpoint = TW_TAG_OPTIONS_INIT;
    setpoint.unit = "rpm";
    setpoint.access = TW_ACCESS_READ_WRITE;
    tw_tag_options faulty = TW_TAG_OPTIONS_INIT;
    faulty.description = "a register the device refuses";
    if ((st = tw_node_device_add_tag(press, NULL, "Drive/Speed", TW_TYPE_DOUBLE, &speed, "holding-register:100", 250)) ||
        (st = tw_node_device_add_tag(press, NULL, "Setpoints/Speed", TW_TYPE_UINT16, &setpoint, "holding-register:1", 250)) ||
        (st = tw_node_device_add_tag(press, NULL, "Faulty/Register", TW_TYPE_UINT16, &faulty, "holding-register:5000", 1000))) {
        fprintf(stderr, "tag: %s\n", tw_node_last_error(node));
        tw_node_free(node);
        tw_shutdown();
        return 1;
    }

    /* run on the node's own threads (uplink + one poll thread for the device) */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if ((st = tw_node_start(node)) != TW_OK) {
        fprintf(stderr, "start: %s\n", tw_node_last_error(node));
        tw_node_free(node);
        tw_shutdown();
        return 1;
    }
    for (long t = 0; !g_stop && (seconds <= 0 || t < seconds * 10); t++) nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    st = tw_node_stop(node);

    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(node, &s);
    printf("modbus_gateway: %llu polls (%llu with errors), %llu adapter requests, %llu metrics published, "
           "%llu commands, %llu device writes; stop %s\n",
           (unsigned long long)s.polls, (unsigned long long)s.poll_errors, (unsigned long long)s.adapter_requests,
           (unsigned long long)s.metrics_published, (unsigned long long)s.commands,
           (unsigned long long)s.device_writes, tw_status_name(st));
    tw_node_free(node);
    tw_shutdown();
    return st == TW_OK ? 0 : 1;
}
