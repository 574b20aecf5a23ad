/*
 * renew_gw: the gateway of the certificate renewal tests (tests/node/renew.sh). A node made from a
 * configuration file (tw_node_new_from_config: uplink over mutual TLS, a disk store, an "enroll"
 * section, a pushed device) plus one node tag, INT64 "Counter", fed by a counter (the layout
 * tests/delivery/check.js reads: group "Deliv", run 0).
 *
 *   renew_gw CONFIG ACCEPTED_LOG SECONDS [threaded]
 *
 * The node is stepped by this program (tw_node_step()), or with "threaded" runs on its own thread
 * (tw_node_start(), as `tagwire run` does).
 * Every 20 ms the counter takes the next value k = 1, 2, ...; a value is *accepted* once the
 * node's step has taken it out of the tag set (appended to the store), and is then written to
 * ACCEPTED_LOG (one decimal value a line). Every second a line "TICK t renewals failures rollbacks
 * not_after link" goes to stdout. After SECONDS the counter stops, the gateway waits (up to 30 s)
 * until the store is empty and the node online, shuts down and prints "STAT name value" lines.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tagwire/tagwire.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Lets the node work for up to ms: steps it, or waits while its thread runs. */
static void run_for(tw_node *n, int threaded, int ms)
{
    if (threaded) sleep_ms(ms);
    else tw_node_step(n, ms);
}

static void print_stats(const char *prefix, tw_node *n, tw_node_stats *s)
{
    s->version = TW_NODE_STATS_VERSION;
    if (tw_node_stats_get(n, s)) return;
    printf("%s renewals %" PRIu64 " failures %" PRIu64 " rollbacks %" PRIu64 " not_after %" PRId64
           " renew_at %" PRId64 " link %s connects %" PRIu64 " last_error %s\n",
           prefix, s->cert_renewals, s->cert_renew_failures, s->cert_rollbacks, s->cert_not_after,
           s->cert_renew_at, tw_node_link_name(s->link), s->connects, tw_status_name(s->cert_last_error));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: renew_gw CONFIG ACCEPTED_LOG SECONDS\n");
        return 2;
    }
    int seconds = atoi(argv[3]);
    int threaded = argc > 4 && !strcmp(argv[4], "threaded");
    int logfd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (logfd < 0 || tw_init(NULL) != TW_OK) return 2;
    tw_set_log(NULL, TW_LOG_INFO, NULL); /* the library's default sink (stderr) */
    tw_config *cfg = NULL;
    if (tw_config_new(&cfg) || tw_config_load_file(cfg, argv[1])) {
        fprintf(stderr, "renew_gw: %s\n", cfg ? tw_config_last_error(cfg) : "no memory");
        return 1;
    }
    tw_node *n = NULL;
    tw_status st = tw_node_new_from_config(&n, cfg);
    tw_config_free(cfg);
    if (st) {
        fprintf(stderr, "renew_gw: tw_node_new_from_config: %s: %s\n", tw_status_name(st), tw_last_error());
        return 1;
    }
    tw_tag *counter = NULL;
    if (tw_node_add_tag(n, &counter, "Counter", TW_TYPE_INT64, NULL)) {
        fprintf(stderr, "renew_gw: %s\n", tw_node_last_error(n));
        return 1;
    }
    tw_tagset *ts = tw_node_tagset(n);
    if (threaded && (st = tw_node_start(n))) {
        fprintf(stderr, "renew_gw: start: %s\n", tw_node_last_error(n));
        return 1;
    }

    tw_node_stats s;
    int64_t start = mono_ms(), next = start, next_tick = start + 1000;
    long long k = 0;
    int last_logged = 0;
    while (mono_ms() - start < (int64_t)seconds * 1000) {
        long long v = ++k;
        tw_tag_set_int64(counter, v, TW_QUALITY_GOOD, 0);
        /* stepped: a few steps; threaded: until the node thread took it (a value set again before
         * that would replace it in the tag set, which keeps the latest value of a tag) */
        for (int i = 0; i < (threaded ? 2000 : 20) && tw_tagset_pending(ts); i++) run_for(n, threaded, threaded ? 1 : 0);
        int accepted = !tw_tagset_pending(ts);
        if (accepted) dprintf(logfd, "%lld\n", v); /* accepted */
        last_logged = accepted;
        next += 20;
        for (;;) {
            int64_t left = next - mono_ms();
            if (left <= 0) break;
            run_for(n, threaded, (int)left);
        }
        if (mono_ms() >= next_tick) {
            char p[32];
            snprintf(p, sizeof p, "TICK %lld", (long long)((mono_ms() - start) / 1000));
            print_stats(p, n, &s);
            next_tick += 1000;
        }
    }
    /* the last value is accepted once it left the tag set */
    for (int64_t end = mono_ms() + 5000; tw_tagset_pending(ts) && mono_ms() < end;) run_for(n, threaded, 20);
    if (!last_logged && !tw_tagset_pending(ts)) dprintf(logfd, "%lld\n", k);
    for (int64_t end = mono_ms() + 30000; mono_ms() < end;) {
        run_for(n, threaded, 50);
        s.version = TW_NODE_STATS_VERSION;
        if (tw_node_stats_get(n, &s) == TW_OK && s.store_records == 0 && s.link == TW_NODE_LINK_ONLINE) break;
    }
    if (threaded) tw_node_stop(n);
    else tw_node_shutdown(n);
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(n, &s);
    printf("STAT store_records %" PRIu64 "\nSTAT store_dropped %" PRIu64 "\nSTAT queue_dropped %" PRIu64
           "\nSTAT cert_renewals %" PRIu64 "\nSTAT cert_renew_failures %" PRIu64 "\nSTAT cert_rollbacks %" PRIu64
           "\nSTAT cert_not_after %" PRId64 "\nSTAT cert_last_error %s\nSTAT connects %" PRIu64 "\nSTAT last %lld\n",
           s.store_records, s.store_dropped, s.queue_dropped, s.cert_renewals, s.cert_renew_failures,
           s.cert_rollbacks, s.cert_not_after, tw_status_name(s.cert_last_error), s.connects, k);
    tw_node_free(n);
    tw_shutdown();
    close(logfd);
    return 0;
}
