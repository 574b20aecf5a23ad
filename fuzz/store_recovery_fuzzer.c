/*
 * Fuzz target: store recovery from arbitrary bytes.
 * Input: byte 0 = flags; bit 0: the next 76 bytes are the checkpoint file; bit 1: the rest is split
 * in two segment files (seg 1 and seg <from byte 1>); otherwise the rest is one segment file.
 * The store is opened (recovery), replayed, appended to, acknowledged, reopened read-only and
 * replayed again: nothing may crash, leak or read out of bounds.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tagwire/store.h"

static char dir[256];

static void quiet(tw_log_level level, const char *module, const char *message, void *user_data)
{
    (void)level;
    (void)module;
    (void)message;
    (void)user_data;
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    if (n && write(fd, p, n) != (ssize_t)n) abort();
    close(fd);
}

static void unlink_all(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", d, e->d_name);
        if (unlink(path) != 0) {
            unlink_all(path);
            rmdir(path);
        }
    }
    closedir(dp);
}

static void clean(void) { unlink_all(dir); }

static void remove_dir(void)
{
    if (!dir[0]) return;
    unlink_all(dir);
    rmdir(dir);
}

static void replay(tw_store *s)
{
    tw_store_record r;
    uint64_t sum = 0;
    for (int i = 0; i < 100000 && tw_store_read(s, &r) == TW_OK; i++) {
        const volatile uint8_t *p = r.data;
        for (size_t k = 0; k < r.len; k++) sum += p[k];
    }
    (void)sum;
    tw_store_stats st;
    st.version = TW_STORE_STATS_VERSION;
    tw_store_stats_get(s, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        tw_init_params p = TW_INIT_PARAMS_INIT;
        p.log_fn = quiet;
        if (tw_init(&p) != TW_OK) abort();
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/tw_store_fuzz.XXXXXX", base);
        if (!mkdtemp(dir)) abort();
        atexit(remove_dir);
        inited = 1;
    }
    clean();
    if (size < 1) return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    if ((flags & 1) && size >= 76) {
        put_file("checkpoint", data, 76);
        data += 76;
        size -= 76;
    }
    if ((flags & 2) && size >= 2) {
        char name[64];
        snprintf(name, sizeof name, "seg-%020u.twl", 2u + data[0]);
        size_t half = (size - 1) / 2;
        put_file("seg-00000000000000000001.twl", data + 1, half);
        put_file(name, data + 1 + half, size - 1 - half);
    } else {
        put_file("seg-00000000000000000001.twl", data, size);
    }

    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.sync = TW_STORE_SYNC_OS;
    o.segment_bytes = 4096;
    o.max_bytes = 1u << 20;
    o.max_record_bytes = 65536;
    if (flags & 4) o.max_age_ms = 1000;
    if (flags & 8) o.overflow = TW_STORE_REFUSE_NEW;

    /* read-only first: must not change anything */
    tw_store *s = NULL;
    o.read_only = 1;
    if (tw_store_new(&s, &o) == TW_OK) {
        replay(s);
        tw_store_free(s);
    }
    o.read_only = 0;
    s = NULL;
    if (tw_store_new(&s, &o) == TW_OK) {
        replay(s);
        uint64_t seq = 0;
        tw_store_append(s, &seq, "fuzz", 4);
        tw_store_rewind(s);
        replay(s);
        if (seq > 2) tw_store_ack(s, seq / 2);
        tw_store_poll(s, NULL);
        replay(s);
        tw_store_free(s);
        s = NULL;
        if (tw_store_new(&s, &o) == TW_OK) {
            replay(s);
            tw_store_stats st;
            st.version = TW_STORE_STATS_VERSION;
            tw_store_stats_get(s, &st);
            /* recovery leaves a clean log: a second open finds nothing torn */
            if (st.torn_records != 0) abort();
            tw_store_free(s);
        }
    }
    return 0;
}
