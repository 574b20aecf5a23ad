/*
 * delivery_gw: the gateway of the delivery tests. A node with one INT64 node tag "Counter" fed by a
 * deterministic counter, a disk store (store_dir) and a Sparkplug primary host, over mutual TLS.
 *
 *   delivery_gw PORT PKI_DIR STORE_DIR RUN ACCEPTED_LOG SECONDS [MAX_BYTES [refuse [STOP_FILE]]]
 *
 * Every 10 ms the counter takes the value RUN * 1000000 + k (k = 1, 2, ...). A value is *accepted*
 * when the node's step has taken it out of the tag set (with a store: appended to the store, fsync
 * per record) - then, and only then, it is written to ACCEPTED_LOG (one decimal value per line,
 * write(2), so a kill -9 never leaves a logged value that was not accepted). A value the store
 * refused (overflow policy refuse new, or a full disk: the node's store_refused counter grew while
 * it was taken) goes to ACCEPTED_LOG.refused instead. The first time a step fails with a given
 * status, "ERR <status name>: <tw_node_last_error()>" is printed. After SECONDS, at SIGTERM, or as
 * soon as STOP_FILE exists (when given), the counter stops, the gateway waits (up to 120 s) until
 * the store is empty (everything confirmed by the broker), shuts down and prints its statistics as
 * "STAT name value" lines; exit 0.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tagwire/tagwire.h"

static volatile sig_atomic_t g_stop;
static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: delivery_gw PORT PKI_DIR STORE_DIR RUN ACCEPTED_LOG SECONDS [MAX_BYTES [refuse [STOP_FILE]]]\n");
        return 2;
    }
    char broker[64], ca[512], cert[512], key[512];
    snprintf(broker, sizeof broker, "mqtts://127.0.0.1:%s", argv[1]);
    snprintf(ca, sizeof ca, "%s/ca.pem", argv[2]);
    snprintf(cert, sizeof cert, "%s/client.pem", argv[2]);
    snprintf(key, sizeof key, "%s/client.key", argv[2]);
    long long run = atoll(argv[4]);
    int seconds = atoi(argv[6]);
    int logfd = open(argv[5], O_WRONLY | O_CREAT | O_APPEND, 0644);
    char refused_path[1024];
    snprintf(refused_path, sizeof refused_path, "%s.refused", argv[5]);
    int reffd = open(refused_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (logfd < 0 || reffd < 0 || tw_init(NULL) != TW_OK) return 2;

    tw_store_options so = TW_STORE_OPTIONS_INIT;
    so.sync = TW_STORE_SYNC_EVERY_RECORD;
    if (argc > 7) so.max_bytes = strtoull(argv[7], NULL, 10);
    if (argc > 8 && !strcmp(argv[8], "refuse")) so.overflow = TW_STORE_REFUSE_NEW;
    so.segment_bytes = 8192; /* small segments: a full disk frees space by whole segments */
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    o.group_id = "Deliv";
    o.edge_node_id = "Gw1";
    o.primary_host_id = "host1";
    o.broker = broker;
    o.tls_ca_file = ca;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.store_dir = argv[3];
    o.store_options = &so;
    o.poll_threads = TW_NODE_POLL_INLINE;
    tw_node *n = NULL;
    tw_status st = tw_node_new(&n, &o);
    if (st) {
        fprintf(stderr, "delivery_gw: tw_node_new: %s: %s\n", tw_strerror(st), tw_last_error());
        return 1;
    }
    tw_tag *counter = NULL;
    if (tw_node_add_tag(n, &counter, "Counter", TW_TYPE_INT64, NULL)) return 1;
    tw_tagset *ts = tw_node_tagset(n);

    signal(SIGTERM, on_term);
    int64_t start = mono_ms(), next = start;
    long long k = 0;
    tw_status seen[8];
    size_t nseen = 0;
    tw_node_stats s;
    const char *stop_file = argc > 9 ? argv[9] : NULL;
    while (!g_stop && mono_ms() - start < (int64_t)seconds * 1000 && !(stop_file && access(stop_file, F_OK) == 0)) {
        long long v = run * 1000000LL + (++k);
        tw_tag_set_int64(counter, v, TW_QUALITY_GOOD, 0);
        s.version = TW_NODE_STATS_VERSION;
        uint64_t refused_before = tw_node_stats_get(n, &s) == TW_OK ? s.store_refused : 0;
        for (int i = 0; i < 20 && tw_tagset_pending(ts); i++) {
            st = tw_node_step(n, 0);
            size_t j = 0;
            while (j < nseen && seen[j] != st) j++;
            if (st != TW_OK && j == nseen && nseen < 8) {
                seen[nseen++] = st;
                printf("ERR %s: %s\n", tw_status_name(st), tw_node_last_error(n));
                fflush(stdout);
            }
        }
        s.version = TW_NODE_STATS_VERSION;
        if (!tw_tagset_pending(ts) && tw_node_stats_get(n, &s) == TW_OK)
            dprintf(s.store_refused > refused_before ? reffd : logfd, "%lld\n", v); /* accepted / refused */
        next += 10;
        for (;;) {
            int64_t left = next - mono_ms();
            if (left <= 0 || g_stop) break;
            tw_node_step(n, (int)left);
        }
    }
    s.version = TW_NODE_STATS_VERSION;
    for (int64_t end = mono_ms() + 120000; mono_ms() < end;) {
        tw_node_step(n, 50);
        if (tw_node_stats_get(n, &s) == TW_OK && s.store_records == 0 && s.link == TW_NODE_LINK_ONLINE)
            break;
    }
    tw_node_shutdown(n);
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(n, &s);
    printf("STAT store_records %" PRIu64 "\nSTAT store_dropped %" PRIu64 "\nSTAT store_refused %" PRIu64
           "\nSTAT queue_dropped %" PRIu64 "\nSTAT historical %" PRIu64 "\nSTAT metrics %" PRIu64
           "\nSTAT last %lld\n",
           s.store_records, s.store_dropped, s.store_refused, s.queue_dropped, s.historical_published,
           s.metrics_published, run * 1000000LL + k);
    tw_node_free(n);
    tw_shutdown();
    close(logfd);
    close(reffd);
    return 0;
}
