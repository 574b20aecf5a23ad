/* tagwire run CONFIG: runs a gateway until SIGINT/SIGTERM. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <tagwire/node.h>

#include "cli_device.h"

extern const tw_cli_command tw_cli_cmd_run;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
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

static void log_to_stderr(tw_log_level level, const char *module, const char *message, void *ud)
{
    int tty = *(int *)ud;
    /* on a terminal, start on a fresh line so the status line is not mixed into the message */
    fprintf(stderr, "%s%s %s: %s\n", tty ? "\r\033[K" : "", tw_log_level_name(level), module, message);
}

/* One status line of key=value fields separated by single spaces (values never contain spaces),
 * so that a log line can be split mechanically: identity and uplink state, then the node's
 * counters, then the store-and-forward counters (0 without a store). */
static void format_status(char *buf, size_t len, const tw_node *node, const tw_node_stats *s)
{
    int64_t age_ms = 0;
    if (s->store_oldest_time_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        age_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - s->store_oldest_time_ms;
        if (age_ms < 0) age_ms = 0;
    }
    snprintf(buf, len,
             "node=%s/%s link=%s uptime_s=%lld msgs=%llu metrics=%llu births=%llu queue=%llu "
             "queue_dropped=%llu polls=%llu poll_errors=%llu adapter_req=%llu adapter_err=%llu "
             "cmds=%llu cmds_failed=%llu reconnects=%llu refused=%llu store_records=%llu "
             "store_bytes=%llu store_oldest_age_ms=%lld store_dropped=%llu store_refused=%llu "
             "store_acked_seq=%llu store_last_seq=%llu",
             tw_node_group_id(node), tw_node_edge_node_id(node), tw_node_link_name(s->link),
             (long long)(s->uptime_ms / 1000), (unsigned long long)s->messages_published,
             (unsigned long long)s->metrics_published, (unsigned long long)s->births,
             (unsigned long long)s->queue_depth, (unsigned long long)s->queue_dropped,
             (unsigned long long)s->polls, (unsigned long long)s->poll_errors,
             (unsigned long long)s->adapter_requests, (unsigned long long)s->adapter_errors,
             (unsigned long long)s->commands, (unsigned long long)s->commands_failed,
             (unsigned long long)s->disconnects, (unsigned long long)s->refused,
             (unsigned long long)s->store_records, (unsigned long long)s->store_bytes, (long long)age_ms,
             (unsigned long long)s->store_dropped, (unsigned long long)s->store_refused,
             (unsigned long long)s->store_acked_seq, (unsigned long long)s->store_last_seq);
    if (s->cert_renew_at) { /* the node renews its certificate ("enroll") */
        size_t used = strlen(buf);
        snprintf(buf + used, len - used,
                 " cert_expires_in_s=%lld cert_renewals=%llu cert_renew_failures=%llu cert_last_error=%s",
                 (long long)(s->cert_not_after - (int64_t)time(NULL)), (unsigned long long)s->cert_renewals,
                 (unsigned long long)s->cert_renew_failures,
                 s->cert_last_error ? tw_status_name(s->cert_last_error) : "none");
    }
}

/* On a terminal the line is redrawn in place: cut it to the terminal's width so that it does
 * not wrap (a wrapped line cannot be redrawn with a carriage return). */
static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1) return ws.ws_col;
    return 80;
}

static int run(int argc, char **argv)
{
    const char *path = NULL;
    uint32_t seconds = 0, interval_ms = 0;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &seconds) || !seconds)
                return tw_cli_usage_error(&tw_cli_cmd_run, "--seconds needs a number > 0");
        } else if (!strcmp(argv[i], "--status-interval") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &interval_ms) || !interval_ms)
                return tw_cli_usage_error(&tw_cli_cmd_run, "--status-interval needs milliseconds > 0");
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            verbose++;
        } else if (!strcmp(argv[i], "-vv")) {
            verbose += 2;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return tw_cli_usage_error(&tw_cli_cmd_run, "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return tw_cli_usage_error(&tw_cli_cmd_run, "only one configuration file");
        }
    }
    if (!path) return tw_cli_usage_error(&tw_cli_cmd_run, "a configuration file is required");
    int tty = isatty(STDOUT_FILENO);
    if (!interval_ms) interval_ms = tty ? 500 : 5000;

    /* main() has initialised the library (a later tw_init cannot replace its log settings):
     * take a reference and install this command's hook explicitly */
    tw_status st = tw_init(NULL);
    if (st) {
        tw_cli_fail("init", st, tw_strerror(st));
        return TW_EXIT_ENV;
    }
    tw_set_log(log_to_stderr, verbose >= 2 ? TW_LOG_DEBUG : verbose == 1 ? TW_LOG_INFO : TW_LOG_WARN,
               &tty);

    tw_config *cfg = NULL;
    int rc = TW_EXIT_OK;
    if ((st = tw_config_new(&cfg))) {
        rc = tw_cli_fail("config", st, tw_last_error());
        goto out;
    }
    if ((st = tw_config_load_file(cfg, path))) {
        fprintf(stderr, "tagwire run: %s\n", tw_config_last_error(cfg));
        rc = (st == TW_ERR_NOT_FOUND || st == TW_ERR_PERMISSION || st == TW_ERR_IO) ? TW_EXIT_ENV : TW_EXIT_FAILURE;
        goto out;
    }
    tw_node *node = NULL;
    if ((st = tw_node_new_from_config(&node, cfg))) {
        fprintf(stderr, "tagwire run: %s (%s)\n", tw_last_error(), tw_status_name(st));
        rc = TW_EXIT_FAILURE;
        goto out;
    }
    tw_config_free(cfg);
    cfg = NULL;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((st = tw_node_start(node))) {
        fprintf(stderr, "tagwire run: start: %s (%s)\n", tw_node_last_error(node), tw_status_name(st));
        tw_node_free(node);
        rc = TW_EXIT_FAILURE;
        goto out;
    }
    fprintf(stderr, "tagwire run: %s/%s started (%zu device%s)%s\n", tw_node_group_id(node),
            tw_node_edge_node_id(node), tw_node_device_count(node), tw_node_device_count(node) == 1 ? "" : "s",
            seconds ? "" : "; Ctrl-C stops");
    int64_t t0 = mono_ms(), next = t0 + interval_ms;
    char line[1024];
    tw_node_stats s;
    while (!g_stop && (!seconds || mono_ms() - t0 < (int64_t)seconds * 1000)) {
        struct timespec nap = {0, 100 * 1000000L};
        nanosleep(&nap, NULL);
        if (mono_ms() < next) continue;
        next += interval_ms;
        s.version = TW_NODE_STATS_VERSION;
        if (tw_node_stats_get(node, &s)) continue;
        format_status(line, sizeof line, node, &s);
        if (tty) printf("\r\033[K%.*s", term_columns() - 1, line);
        else printf("%s\n", line);
        fflush(stdout);
    }
    if (tty) printf("\n");
    fprintf(stderr, "tagwire run: stopping%s\n", g_stop ? " (signal)" : "");
    st = tw_node_stop(node);
    s.version = TW_NODE_STATS_VERSION;
    tw_node_stats_get(node, &s);
    format_status(line, sizeof line, node, &s);
    printf("%s\n", line);
    if (st == TW_ERR_TIMEOUT)
        fprintf(stderr, "tagwire run: stopped; %llu change(s) could not be published in time\n",
                (unsigned long long)s.unflushed_metrics);
    else if (st)
        fprintf(stderr, "tagwire run: stopped: %s (%s)\n", tw_node_last_error(node), tw_status_name(st));
    else
        fprintf(stderr, "tagwire run: stopped cleanly\n");
    tw_node_free(node);
out:
    tw_config_free(cfg);
    tw_shutdown();
    return rc;
}

const tw_cli_command tw_cli_cmd_run = {
    "run", "run a gateway from a configuration file until SIGINT/SIGTERM",
    "tagwire run [--seconds N] [--status-interval MS] [-v|-vv] CONFIG\n\n"
    "Loads CONFIG (format: examples/gateway.md), opens every device's adapter, connects to the\n"
    "broker (mutual TLS) as a Sparkplug B edge node and publishes the tags until SIGINT or SIGTERM\n"
    "(or for N seconds), then stops cleanly: pending changes are published, NDEATH is sent and the\n"
    "connection closed within a bounded time.\n\n"
    "Status: one line of space-separated key=value fields, printed to standard output every 5 s\n"
    "(--status-interval MS) and once more after the stop; on a terminal it is redrawn in place\n"
    "twice a second (cut to the terminal's width). Keys, in this order:\n"
    "  node=GROUP/EDGE_NODE link=online|connecting|offline uptime_s msgs metrics births\n"
    "  queue (changes waiting) queue_dropped polls poll_errors adapter_req adapter_err cmds\n"
    "  cmds_failed reconnects refused (publishes the broker refused)\n"
    "  store_records store_bytes (waiting in the store-and-forward store for the broker's\n"
    "  confirmation) store_oldest_age_ms (age of the oldest of them; 0 when none)\n"
    "  store_dropped (dropped by the overflow/age policy) store_refused (refused by a full store:\n"
    "  overflow \"drop_newest\" or a full disk) store_acked_seq store_last_seq (the store's\n"
    "  confirmed watermark and last appended record; 0 without a store).\n"
    "Keys may be added at the end in later versions. Logs go to standard error: -v logs at info\n"
    "level, -vv at debug level (including the node's periodic statistics).\n\n"
    "Exit codes: 0 stopped cleanly, 1 configuration or start failure, 2 usage, 3 file unreadable.",
    run};
