/*
 * custom_adapter: a machine builder plugs its own protocol into tagwire.
 *
 * The "acme" adapter below serves the variables of an in-process machine model by name
 * ("spindle_rpm", "oil_temp", "setpoint", "state"). It is registered under the URI scheme "acme"
 * from outside the library, then used exactly like the built-in Modbus adapter: open by URI,
 * add items by address (validated at once), read in batches, write, poll with statistics.
 *
 * With --broker (and TLS files), the same adapter then feeds a Sparkplug B edge node: the node
 * opens "acme://press7" by URI like any built-in adapter, polls it, publishes the variables as the
 * device "Press7" and writes DCMD set points back through the adapter's write():
 *   example_custom_adapter --broker mqtts://HOST:PORT --ca CA --cert CERT --key KEY [--seconds N]
 *
 * Build: part of the tagwire build (example_custom_adapter), public API only.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <tagwire/adapter.h>
#include <tagwire/node.h>
#include <tagwire/sys/adapter.h>

/* ---- the vendor's machine (stands in for a fieldbus, a shared-memory segment, a DLL, ...) ---- */
typedef struct machine {
    double spindle_rpm, oil_temp, setpoint;
    char state[16];
    unsigned ticks;
} machine;

static void machine_tick(machine *m)
{
    m->ticks++;
    m->spindle_rpm += (m->setpoint - m->spindle_rpm) * 0.5;
    m->oil_temp = 40.0 + m->spindle_rpm / 200.0;
    snprintf(m->state, sizeof m->state, "%s", m->spindle_rpm > 10 ? "RUNNING" : "IDLE");
}

/* ---- the adapter: items are variable indexes ---- */
enum { VAR_RPM, VAR_TEMP, VAR_SETPOINT, VAR_STATE };
static const char *const k_vars[] = {"spindle_rpm", "oil_temp", "setpoint", "state"};

static tw_status acme_parse(void *reg_data, const char *address, void **item, tw_adapter_item_info *info, char *err,
                            size_t errlen)
{
    (void)reg_data;
    for (size_t i = 0; i < sizeof k_vars / sizeof k_vars[0]; i++) {
        if (strcmp(address, k_vars[i]) != 0) continue;
        info->type = i == VAR_STATE ? TW_TYPE_STRING : TW_TYPE_DOUBLE;
        info->max_bytes = i == VAR_STATE ? 16 : 0;
        info->writable = i == VAR_SETPOINT;
        if (item) *item = (void *)(k_vars + i); /* any stable pointer identifying the variable */
        return TW_OK;
    }
    snprintf(err, errlen, "acme: no variable '%s' (known: spindle_rpm, oil_temp, setpoint, state)", address);
    return TW_ERR_ADDRESS;
}

static tw_status acme_open(void *reg_data, void **ctx, const tw_adapter_uri *uri, const tw_device_options *opts,
                           char *err, size_t errlen)
{
    (void)opts;
    if (strcmp(uri->host, "press7") != 0) {
        snprintf(err, errlen, "acme: unknown machine '%s'", uri->host);
        return TW_ERR_CONFIG;
    }
    *ctx = reg_data; /* one machine per process in this example */
    return TW_OK;
}

static void acme_close(void *ctx) { (void)ctx; }

static tw_status acme_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    machine *m = ctx;
    machine_tick(m);
    for (size_t i = 0; i < n; i++) {
        size_t var = (size_t)((const char *const *)items[i] - k_vars);
        if (var == VAR_STATE) {
            size_t len = strlen(m->state);
            if (len > res[i].buf_size) len = res[i].buf_size;
            memcpy(res[i].buf, m->state, len);
            res[i].value.type = TW_TYPE_STRING;
            res[i].value.as.buf.ptr = res[i].buf;
            res[i].value.as.buf.len = len;
        } else {
            res[i].value.type = TW_TYPE_DOUBLE;
            res[i].value.as.d = var == VAR_RPM ? m->spindle_rpm : var == VAR_TEMP ? m->oil_temp : m->setpoint;
        }
        res[i].quality = TW_QUALITY_GOOD;
        res[i].timestamp_ns = 0; /* "now" */
    }
    return TW_OK;
}

static tw_status acme_write(void *ctx, void *item, const tw_value *v, char *err, size_t errlen)
{
    machine *m = ctx;
    (void)item; /* only the setpoint is writable (parse_address said so) */
    if (v->type != TW_TYPE_DOUBLE || v->as.d < 0 || v->as.d > 12000) {
        snprintf(err, errlen, "acme: setpoint must be a double in 0..12000");
        return TW_ERR_RANGE;
    }
    m->setpoint = v->as.d;
    return TW_OK;
}

static const tw_adapter_ops k_acme = {
    TW_ADAPTER_OPS_VERSION, "acme", "ACME press controller (in-process)", acme_parse, NULL, acme_open, acme_close,
    acme_read, acme_write, NULL, NULL, NULL, NULL};

static void on_cycle(uint32_t group, const uint32_t *ids, const tw_sample *s, size_t n, void *user)
{
    (void)group;
    (void)ids;
    (void)user;
    printf("cycle:");
    for (size_t i = 0; i < n; i++) {
        if (s[i].value.type == TW_TYPE_STRING) printf("  %.*s", (int)s[i].value.as.buf.len, (const char *)s[i].value.as.buf.ptr);
        else printf("  %.1f", s[i].value.as.d);
    }
    printf("\n");
}

/* The adapter behind a node: published as Sparkplug device "Press7", set point writable by DCMD. */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int publish_through_node(int argc, char **argv)
{
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.shutdown_timeout_ms = 10000; /* give the final flush (pending values, NDEATH) up to 10 s */
    long seconds = 10;
    o.group_id = "Demo";
    o.edge_node_id = "Acme";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--broker")) o.broker = argv[i + 1];
        else if (!strcmp(argv[i], "--ca")) o.tls_ca_file = argv[i + 1];
        else if (!strcmp(argv[i], "--cert")) o.tls_cert_file = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) o.tls_key_file = argv[i + 1];
        else if (!strcmp(argv[i], "--server-name")) o.tls_server_name = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds")) seconds = atol(argv[i + 1]);
    }
    tw_node *node;
    if (tw_node_new(&node, &o) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        return 1;
    }
    tw_node_device *dev;
    tw_node_device_options d = TW_NODE_DEVICE_OPTIONS_INIT;
    d.adapter_uri = "acme://press7";
    tw_tag_options rpm = TW_TAG_OPTIONS_INIT, sp = TW_TAG_OPTIONS_INIT;
    rpm.unit = sp.unit = "rpm";
    sp.access = TW_ACCESS_READ_WRITE;
    if (tw_node_add_device(node, &dev, "Press7", &d) != TW_OK ||
        tw_node_device_add_tag(dev, NULL, "Spindle/Speed", TW_TYPE_DOUBLE, &rpm, "spindle_rpm", 200) != TW_OK ||
        tw_node_device_add_tag(dev, NULL, "Spindle/Setpoint", TW_TYPE_DOUBLE, &sp, "setpoint", 200) != TW_OK ||
        tw_node_device_add_tag(dev, NULL, "State", TW_TYPE_STRING, NULL, "state", 200) != TW_OK ||
        tw_node_start(node) != TW_OK) {
        fprintf(stderr, "%s\n", tw_last_error());
        tw_node_free(node);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (long i = 0; !g_stop && i < seconds * 10; i++) nanosleep(&(struct timespec){0, 100000000L}, NULL);
    tw_status st = tw_node_stop(node);
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(node, &s);
    printf("node: %llu metrics published, %llu commands; stop %s\n", (unsigned long long)s.metrics_published,
           (unsigned long long)s.commands, tw_status_name(st));
    tw_node_free(node);
    return st == TW_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    static machine press;
    if (tw_init(NULL) != TW_OK) return 1;
    tw_status st = tw_adapter_register(&k_acme, &press);
    if (st != TW_OK) {
        fprintf(stderr, "register: %s\n", tw_strerror(st));
        return 1;
    }
    char err[256];
    tw_type type;
    if (tw_adapter_check_address("acme", "spindel_rpm", &type, err, sizeof err) != TW_OK)
        printf("config check caught a typo: %s\n", err);

    tw_device *dev;
    if ((st = tw_device_open(&dev, "acme://press7", NULL)) != TW_OK) {
        fprintf(stderr, "open: %s\n", tw_last_error());
        return 1;
    }
    uint32_t ids[4];
    for (int i = 0; i < 4; i++)
        if (tw_device_add_item(dev, &ids[i], k_vars[i]) != TW_OK) {
            fprintf(stderr, "add: %s\n", tw_device_last_error(dev));
            return 1;
        }
    tw_value sp = {TW_TYPE_DOUBLE, {.d = 3000.0}};
    if (tw_device_write(dev, ids[VAR_SETPOINT], &sp) != TW_OK) fprintf(stderr, "write: %s\n", tw_device_last_error(dev));
    sp.as.d = 99999;
    if (tw_device_write(dev, ids[VAR_SETPOINT], &sp) != TW_OK) printf("rejected as expected: %s\n", tw_device_last_error(dev));

    tw_poller *p;
    uint32_t group;
    if (tw_poller_new(&p) != TW_OK || tw_poller_add_group(p, &group, dev, 100, ids, 4, on_cycle, NULL) != TW_OK) return 1;
    for (int i = 0; i < 5; i++) tw_poller_step(p, -1);
    tw_poll_group_stats gs;
    memset(&gs, 0, sizeof gs);
    gs.version = TW_POLL_GROUP_STATS_VERSION;
    tw_poller_group_stats_get(p, group, &gs);
    printf("group: %llu cycles, %llu skipped\n", (unsigned long long)gs.cycles, (unsigned long long)gs.skipped);
    tw_poller_free(p);
    tw_device_free(dev);
    int rc = 0;
    if (argc > 1) rc = publish_through_node(argc, argv);
    tw_adapter_unregister("acme");
    tw_shutdown();
    return rc;
}
