/*
 * event_loop: a gateway embedded in the application's own poll() loop.
 *
 * The application already has an event loop (here: poll() on standard input and a 1 s timer of its
 * own). The node adds its descriptors to that loop (tw_node_fds()), bounds the wait
 * (tw_node_timeout_ms()), and does its work in tw_node_step(node, 0) when something is ready. No
 * thread is created by the node (adapter polls run inline, bounded by the devices' timeouts).
 *
 *   example_event_loop CONFIG [--seconds N]
 *
 * CONFIG is a gateway file (examples/gateway.md). Typing a line on standard input prints the
 * node's statistics; Ctrl-C or N seconds end it with a clean shutdown (NDEATH, disconnect).
 *
 * Build: part of the tagwire build (example_event_loop), public API only.
 * SPDX-License-Identifier: Apache-2.0
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_stats(tw_node *node)
{
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    if (tw_node_stats_get(node, &s) != TW_OK) return;
    printf("link %s, %llu messages, %llu metrics, %llu births, %llu polls, %llu commands\n",
           tw_node_link_name(s.link), (unsigned long long)s.messages_published,
           (unsigned long long)s.metrics_published, (unsigned long long)s.births,
           (unsigned long long)s.polls, (unsigned long long)s.commands);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long seconds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atol(argv[++i]);
        else if (!path) path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: %s CONFIG [--seconds N]\n", argv[0]);
        return 2;
    }
    if (tw_init(NULL) != TW_OK) return 3;

    /* 1. the node, from the configuration file */
    tw_config *cfg = NULL;
    tw_node *node = NULL;
    tw_status st = tw_config_new(&cfg);
    if (st == TW_OK && (st = tw_config_load_file(cfg, path)) != TW_OK) fprintf(stderr, "%s\n", tw_config_last_error(cfg));
    if (st == TW_OK && (st = tw_node_new_from_config(&node, cfg)) != TW_OK) fprintf(stderr, "%s\n", tw_last_error());
    tw_config_free(cfg);
    if (st != TW_OK) {
        tw_shutdown();
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long long end = seconds > 0 ? now_ms() + seconds * 1000 : 0, next_tick = now_ms() + 1000;
    unsigned long ticks = 0;
    int stdin_open = 1;

    /* 2. the application's loop: its own descriptor (stdin) + the node's */
    while (!g_stop && (!end || now_ms() < end)) {
        struct pollfd pf[9];
        int fds[8];
        unsigned ev[8];
        int n = tw_node_fds(node, fds, ev, 8);
        for (int i = 0; i < n; i++) {
            pf[i].fd = fds[i];
            pf[i].events = (short)(((ev[i] & TW_POLL_IN) ? POLLIN : 0) | ((ev[i] & TW_POLL_OUT) ? POLLOUT : 0));
            pf[i].revents = 0;
        }
        pf[n].fd = stdin_open ? STDIN_FILENO : -1;
        pf[n].events = POLLIN;
        pf[n].revents = 0;

        int timeout = tw_node_timeout_ms(node); /* the node's next timer ... */
        long long tick_in = next_tick - now_ms();  /* ... and the application's own */
        if (tick_in < 0) tick_in = 0;
        if (timeout < 0 || tick_in < timeout) timeout = (int)tick_in;
        poll(pf, (nfds_t)n + 1, timeout);

        /* the node's work: connect, polls, births, data, commands (never blocks for long) */
        tw_node_step(node, 0);

        if (pf[n].revents & POLLIN) {
            char line[256];
            if (fgets(line, sizeof line, stdin)) print_stats(node);
            else stdin_open = 0; /* end of input: stop watching it */
        }
        if (now_ms() >= next_tick) { /* the application's own periodic work */
            next_tick += 1000;
            ticks++;
        }
    }

    /* 3. clean shutdown: pending data, NDEATH, disconnect (bounded) */
    st = tw_node_shutdown(node);
    print_stats(node);
    printf("event loop: %lu ticks of the application timer; shutdown %s\n", ticks, tw_status_name(st));
    tw_node_free(node);
    tw_shutdown();
    return st == TW_OK ? 0 : 1;
}
