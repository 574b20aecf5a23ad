/* tagwire store-inspect: what a store-and-forward directory holds (read-only). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tagwire/store.h>

#include "cli.h"

extern const tw_cli_command tw_cli_cmd_store_inspect;

static void fmt_time(char *buf, size_t n, int64_t ms)
{
    if (!ms) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static int run(int argc, char **argv)
{
    const char *dir = NULL;
    int records = 0;
    unsigned long limit = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--records")) {
            records = 1;
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            char *end;
            limit = strtoul(argv[++i], &end, 10);
            if (*end) return tw_cli_usage_error(&tw_cli_cmd_store_inspect, "bad --limit '%s'", argv[i]);
        } else if (argv[i][0] == '-') {
            return tw_cli_usage_error(&tw_cli_cmd_store_inspect, "unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return tw_cli_usage_error(&tw_cli_cmd_store_inspect, "one directory only");
        }
    }
    if (!dir) return tw_cli_usage_error(&tw_cli_cmd_store_inspect, "missing DIR");

    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.read_only = 1;
    o.max_record_bytes = 256u * 1024 * 1024;
    tw_store *s = NULL;
    tw_status st = tw_store_new(&s, &o);
    if (st == TW_ERR_NOT_FOUND || st == TW_ERR_PERMISSION) {
        fprintf(stderr, "tagwire: %s\n", tw_last_error());
        return TW_EXIT_ENV;
    }
    if (st != TW_OK) return tw_cli_fail(dir, st, tw_last_error());

    tw_store_stats x;
    memset(&x, 0, sizeof x);
    x.version = TW_STORE_STATS_VERSION;
    st = tw_store_stats_get(s, &x);
    if (st != TW_OK) {
        int rc = tw_cli_fail("stats", st, tw_store_last_error(s));
        tw_store_free(s);
        return rc;
    }
    char t1[40], t2[40];
    fmt_time(t1, sizeof t1, x.oldest_time_ms);
    fmt_time(t2, sizeof t2, x.newest_time_ms);
    printf("store:            %s\n", dir);
    printf("records:          %" PRIu64 "\n", x.records);
    printf("bytes:            %" PRIu64 " (records incl. headers)\n", x.bytes);
    printf("disk bytes:       %" PRIu64 " in %u segment(s)\n", x.disk_bytes, x.segments);
    printf("oldest:           seq %" PRIu64 " at %s\n", x.oldest_seq, t1);
    printf("newest:           seq %" PRIu64 " at %s\n", x.newest_seq, t2);
    printf("next seq:         %" PRIu64 "\n", x.next_seq);
    printf("acknowledged:     up to seq %" PRIu64 "\n", x.acked_seq);
    printf("dropped:          overflow %" PRIu64 ", age %" PRIu64 ", disk full %" PRIu64 "\n",
           x.dropped_overflow, x.dropped_age, x.dropped_no_space);
    printf("refused:          full %" PRIu64 ", disk full %" PRIu64 "\n", x.refused_full,
           x.refused_no_space);
    printf("torn:             %" PRIu64 " record(s), %" PRIu64 " bytes (cut at next open)\n",
           x.torn_records, x.torn_bytes);
    printf("corrupt:          %" PRIu64 " region(s), %" PRIu64 " bytes, about %" PRIu64
           " record(s) lost\n",
           x.corrupt_regions, x.corrupt_bytes, x.corrupt_records);

    int rc = TW_EXIT_OK;
    if (records) {
        printf("\n%-12s %-24s %8s  %s\n", "seq", "time", "bytes", "data (first 32 bytes, hex)");
        tw_store_record r;
        unsigned long n = 0;
        while ((!limit || n < limit) && (st = tw_store_read(s, &r)) == TW_OK) {
            char t[40];
            fmt_time(t, sizeof t, r.time_ms);
            printf("%-12" PRIu64 " %-24s %8zu  ", r.seq, t, r.len);
            const uint8_t *p = r.data;
            for (size_t k = 0; k < r.len && k < 32; k++) printf("%02x", p[k]);
            printf("%s\n", r.len > 32 ? "..." : "");
            n++;
        }
        if (st != TW_OK && st != TW_ERR_AGAIN) rc = tw_cli_fail("read", st, tw_store_last_error(s));
    }
    tw_store_free(s);
    return rc;
}

const tw_cli_command tw_cli_cmd_store_inspect = {
    "store-inspect", "show what a store-and-forward directory holds",
    "tagwire store-inspect DIR [--records] [--limit N]\n\n"
    "Opens the store directory DIR read-only (no lock taken, nothing repaired or written; a\n"
    "running gateway may keep using it) and prints its records, bytes, oldest and newest\n"
    "records, the acknowledged watermark, drop and refusal counters, and what recovery would\n"
    "find torn or corrupt.\n\n"
    "  --records   also list the unacknowledged records, oldest first: sequence number, append\n"
    "              time (UTC), size and the first 32 bytes in hex\n"
    "  --limit N   list at most N records\n\n"
    "Exit status: 0 success, 1 the store could not be read, 2 usage, 3 no such directory.",
    run};
