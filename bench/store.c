/*
 * bench_store: append throughput of the disk store under each fsync policy, and recovery time of
 * a large log, each compared in the same run with the raw file-system baseline:
 *   append:   the same record bytes (24-byte header + payload) written with one write() per
 *             record to one plain file, fdatasync() after the same batch sizes as the store's
 *             policy (every record / every 256 records / never);
 *   recovery: reading the same number of bytes sequentially with read() (cold cache: both evicted
 *             with posix_fadvise(DONTNEED) first; warm: from the page cache).
 * Each pair runs alternately, 3 rounds; medians are printed with the ratio store/raw.
 *
 * usage: bench_store [DIR] [--payload BYTES] [--recovery-mb MB] [--quick]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rmrf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "rm failed\n");
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median3(double *v)
{
    qsort(v, 3, sizeof *v, cmp_d);
    return v[1];
}

static size_t g_payload = 200;
static char g_base[512];

/* Raw baseline: one write() per record of header+payload bytes, fdatasync every `batch` (0 = never). */
static double run_raw(uint64_t n, uint32_t batch)
{
    char path[600];
    snprintf(path, sizeof path, "%s/raw.bin", g_base);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        exit(1);
    }
    size_t rl = TW_STORE_RECORD_OVERHEAD + g_payload;
    uint8_t *rec = calloc(1, rl);
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(rec + 8, &i, sizeof i); /* vary the bytes a little, as the store's header does */
        if (write(fd, rec, rl) != (ssize_t)rl) {
            perror("write");
            exit(1);
        }
        if (batch && (i + 1) % batch == 0 && fdatasync(fd) != 0) {
            perror("fdatasync");
            exit(1);
        }
    }
    if (batch && fdatasync(fd) != 0) exit(1);
    double t = now_s() - t0;
    close(fd);
    free(rec);
    unlink(path);
    return t;
}

static double run_store(uint64_t n, tw_store_sync_policy pol, uint32_t batch, const char *keep_dir)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", g_base, keep_dir ? keep_dir : "store");
    rmrf(dir);
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.sync = pol;
    o.sync_records = batch ? batch : 256;
    o.sync_interval_ms = 3600000; /* only the record count triggers the group commit */
    o.max_bytes = UINT64_C(1) << 40;
    o.segment_bytes = 64u * 1024 * 1024;
    tw_store *s;
    if (tw_store_new(&s, &o) != TW_OK) {
        fprintf(stderr, "tw_store_new failed\n");
        exit(1);
    }
    uint8_t *p = calloc(1, g_payload);
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        memcpy(p, &i, sizeof i);
        if (tw_store_append(s, NULL, p, g_payload) != TW_OK) {
            fprintf(stderr, "append: %s\n", tw_store_last_error(s));
            exit(1);
        }
    }
    if (pol != TW_STORE_SYNC_OS) tw_store_sync(s);
    double t = now_s() - t0;
    tw_store_free(s);
    free(p);
    if (!keep_dir) rmrf(dir);
    return t;
}

static void evict_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "sync -f '%s' 2>/dev/null || sync", dir);
    if (system(cmd) != 0) return;
    snprintf(cmd, sizeof cmd, "ls '%s'", dir);
    FILE *f = popen(cmd, "r");
    char name[512];
    while (f && fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = 0;
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
    }
    if (f) pclose(f);
}

static double raw_read(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s'", dir);
    FILE *f = popen(cmd, "r");
    char name[512];
    static uint8_t buf[1 << 20];
    double t0 = now_s();
    uint64_t sum = 0;
    while (f && fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = 0;
        if (strncmp(name, "seg-", 4)) continue;
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_RDONLY);
        ssize_t r;
        while (fd >= 0 && (r = read(fd, buf, sizeof buf)) > 0) sum += buf[r - 1];
        if (fd >= 0) close(fd);
    }
    double t = now_s() - t0;
    if (f) pclose(f);
    if (sum == 42) fprintf(stderr, " ");
    return t;
}

static double store_open(const char *dir, uint64_t *records)
{
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.max_bytes = UINT64_C(1) << 40;
    o.segment_bytes = 64u * 1024 * 1024;
    tw_store *s;
    double t0 = now_s();
    if (tw_store_new(&s, &o) != TW_OK) exit(1);
    double t = now_s() - t0;
    tw_store_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_STORE_STATS_VERSION;
    tw_store_stats_get(s, &st);
    *records = st.records;
    tw_store_free(s);
    return t;
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    uint64_t rec_mb = 1024;
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--payload") && i + 1 < argc) g_payload = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--recovery-mb") && i + 1 < argc) rec_mb = (uint64_t)atoll(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else base = argv[i];
    }
    if (quick && rec_mb > 64) rec_mb = 64;
    snprintf(g_base, sizeof g_base, "%s/tw_bench_store.XXXXXX", base);
    if (!mkdtemp(g_base)) {
        perror(g_base);
        return 1;
    }
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    tw_init(&ip);

    size_t rl = TW_STORE_RECORD_OVERHEAD + g_payload;
    printf("bench_store: dir %s, record %zu bytes (payload %zu + header %u)\n", g_base, rl, g_payload,
           TW_STORE_RECORD_OVERHEAD);
    printf("baseline: same bytes, one write() per record to one file, fdatasync() per batch\n\n");
    printf("%-22s %9s %12s %9s %12s %9s %8s\n", "policy", "records", "store rec/s", "MB/s",
           "raw rec/s", "MB/s", "ratio");
    struct {
        const char *name;
        tw_store_sync_policy pol;
        uint32_t batch;
        uint64_t n;
    } cases[] = {
        {"every record (fsync)", TW_STORE_SYNC_EVERY_RECORD, 1, quick ? 200 : 1000},
        {"batch 256 records", TW_STORE_SYNC_BATCH, 256, quick ? 20000 : 200000},
        {"batch 16 records", TW_STORE_SYNC_BATCH, 16, quick ? 5000 : 30000},
        {"OS-managed (no fsync)", TW_STORE_SYNC_OS, 0, quick ? 100000 : 1000000},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double ts[3], tr[3];
        for (int r = 0; r < 3; r++) {
            tr[r] = run_raw(cases[c].n, cases[c].batch);
            ts[r] = run_store(cases[c].n, cases[c].pol, cases[c].batch, NULL);
        }
        double s = median3(ts), w = median3(tr);
        double n = (double)cases[c].n, mb = n * (double)rl / 1e6;
        printf("%-22s %9" PRIu64 " %12.0f %9.1f %12.0f %9.1f %8.2f\n", cases[c].name, cases[c].n,
               n / s, mb / s, n / w, mb / w, (n / s) / (n / w));
        fflush(stdout);
    }

    /* recovery of a large log */
    uint64_t n = rec_mb * 1000000 / rl;
    printf("\nrecovery: writing a %" PRIu64 " MB log (%" PRIu64 " records, OS policy)...\n", rec_mb, n);
    fflush(stdout);
    double tw = run_store(n, TW_STORE_SYNC_OS, 0, "big");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/big", g_base);
    printf("  written in %.2f s (%.0f MB/s)\n", tw, (double)n * (double)rl / 1e6 / tw);
    printf("%-22s %12s %12s %8s\n", "recovery", "store s", "raw read s", "ratio");
    for (int cold = 1; cold >= 0; cold--) {
        double ts[3], tr[3];
        uint64_t recs = 0;
        for (int r = 0; r < 3; r++) {
            if (cold) evict_dir(dir);
            tr[r] = raw_read(dir);
            if (cold) evict_dir(dir);
            ts[r] = store_open(dir, &recs);
        }
        if (recs != n) printf("  !! recovered %" PRIu64 " of %" PRIu64 " records\n", recs, n);
        double s = median3(ts), w = median3(tr);
        printf("%-22s %12.3f %12.3f %8.2f   (%.0f MB/s, %.1f M records/s)\n",
               cold ? "cold cache" : "warm cache", s, w, s / w, (double)n * (double)rl / 1e6 / s,
               (double)n / s / 1e6);
    }
    rmrf(g_base);
    tw_shutdown();
    return 0;
}
