/* tagwire poll URI --rate MS ADDRESS... SPDX-License-Identifier: Apache-2.0 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_device.h"

extern const tw_cli_command tw_cli_cmd_poll;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct poll_state {
    char **addresses;
    tw_sample *last;
    int *seen;
    int all;
    uint64_t cycles;
} poll_state;

static int same_value(const tw_value *a, const tw_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case TW_TYPE_NONE: return 1;
    case TW_TYPE_BOOL: return a->as.b == b->as.b;
    case TW_TYPE_FLOAT: return a->as.f == b->as.f;
    case TW_TYPE_DOUBLE: return a->as.d == b->as.d;
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES: return a->as.buf.len == b->as.buf.len && !memcmp(a->as.buf.ptr, b->as.buf.ptr, a->as.buf.len);
    default: return a->as.u == b->as.u;
    }
}

static void on_cycle(uint32_t group, const uint32_t *ids, const tw_sample *s, size_t n, void *user)
{
    (void)group;
    (void)ids;
    poll_state *ps = user;
    ps->cycles++;
    for (size_t i = 0; i < n; i++) {
        int changed = !ps->seen[i] || s[i].quality != ps->last[i].quality || !same_value(&s[i].value, &ps->last[i].value);
        if (changed || ps->all) tw_cli_print_sample(ps->addresses[i], &s[i]);
        /* strings point into device memory that the next read reuses: compare by content only */
        ps->last[i] = s[i];
        if (s[i].value.type == TW_TYPE_STRING || s[i].value.type == TW_TYPE_BYTES) ps->last[i].value.type = TW_TYPE_NONE;
        ps->seen[i] = 1;
    }
    fflush(stdout);
}

static int run(int argc, char **argv)
{
    uint32_t rate = 1000, timeout = 0, count = 0;
    int all = 0, stats = 0;
    const char *uri = NULL;
    char **addrs = calloc((size_t)argc, sizeof *addrs);
    if (!addrs) return TW_EXIT_ENV;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &rate) || !rate) {
                free(addrs);
                return tw_cli_usage_error(&tw_cli_cmd_poll, "--rate needs milliseconds > 0");
            }
        } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &timeout) || !timeout) {
                free(addrs);
                return tw_cli_usage_error(&tw_cli_cmd_poll, "--timeout needs milliseconds > 0");
            }
        } else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &count)) {
                free(addrs);
                return tw_cli_usage_error(&tw_cli_cmd_poll, "--count needs a number");
            }
        } else if (!strcmp(argv[i], "--all")) {
            all = 1;
        } else if (!strcmp(argv[i], "--stats")) {
            stats = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            free(addrs);
            return tw_cli_usage_error(&tw_cli_cmd_poll, "unknown option '%s'", argv[i]);
        } else if (!uri) {
            uri = argv[i];
        } else {
            addrs[n++] = argv[i];
        }
    }
    if (!uri || !n) {
        free(addrs);
        return tw_cli_usage_error(&tw_cli_cmd_poll, "needs a URI and at least one address");
    }
    uint32_t *ids = calloc((size_t)n, sizeof *ids);
    poll_state ps = {addrs, calloc((size_t)n, sizeof(tw_sample)), calloc((size_t)n, sizeof(int)), all, 0};
    tw_device *d = NULL;
    tw_poller *p = NULL;
    int rc = TW_EXIT_ENV;
    if (ids && ps.last && ps.seen) rc = tw_cli_open_device(&tw_cli_cmd_poll, &d, uri, timeout, addrs, n, ids);
    uint32_t group;
    tw_status st = TW_OK;
    if (rc == TW_EXIT_OK && ((st = tw_poller_new(&p)) || (st = tw_poller_add_group(p, &group, d, rate, ids, (size_t)n, on_cycle, &ps))))
        rc = tw_cli_fail("poller", st, NULL);
    if (rc == TW_EXIT_OK) {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        while (!g_stop && (!count || ps.cycles < count)) tw_poller_step(p, 200);
        if (stats) {
            tw_poll_group_stats gs;
            memset(&gs, 0, sizeof gs);
            gs.version = TW_POLL_GROUP_STATS_VERSION;
            tw_device_stats ds;
            memset(&ds, 0, sizeof ds);
            ds.version = TW_DEVICE_STATS_VERSION;
            tw_poller_group_stats_get(p, group, &gs);
            tw_device_stats_get(d, &ds);
            fprintf(stderr,
                    "group: cycles %llu, skipped %llu, failed %llu, cycle mean %.3f ms, max %.3f ms\n"
                    "device: requests %llu, responses %llu, exceptions %llu, timeouts %llu, protocol errors %llu, "
                    "connects %llu, rtt last %.3f ms mean %.3f ms\n",
                    (unsigned long long)gs.cycles, (unsigned long long)gs.skipped, (unsigned long long)gs.failed_cycles,
                    gs.mean_duration_ns / 1e6, gs.max_duration_ns / 1e6, (unsigned long long)ds.requests,
                    (unsigned long long)ds.responses, (unsigned long long)ds.exceptions, (unsigned long long)ds.timeouts,
                    (unsigned long long)ds.protocol_errors, (unsigned long long)ds.connects, ds.last_rtt_ns / 1e6,
                    ds.mean_rtt_ns / 1e6);
        }
    }
    tw_poller_free(p);
    tw_device_free(d);
    free(ids);
    free(ps.last);
    free(ps.seen);
    free(addrs);
    return rc;
}

const tw_cli_command tw_cli_cmd_poll = {
    "poll", "poll items of a device at a fixed rate, printing changes",
    "tagwire poll URI [--rate MS] [--count N] [--all] [--stats] [--timeout MS] ADDRESS [ADDRESS...]\n\n"
    "Reads the items every MS milliseconds (default 1000; drift-free, a slow device skips cycles)\n"
    "and prints a line (ADDRESS VALUE TYPE QUALITY TIMESTAMP) whenever an item's value or quality\n"
    "changes (every cycle with --all). Stops after N cycles (--count) or on Ctrl-C; --stats prints\n"
    "group and connection statistics to stderr at the end.\n"
    "Example: tagwire poll sim:// --rate 500 'sine:period=10s,amplitude=5,offset=20' counter",
    run};
