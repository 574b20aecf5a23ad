/*
 * Credential store: generations of (key.pem, chain.pem) in DIR/gen-<N>/, selected by the symbolic
 * links DIR/current and DIR/pending, each replaced atomically (rename of a temporary link).
 * Every file is written to a temporary name, fsync'ed, renamed and its directory fsync'ed, so a
 * power loss at any point leaves the previous state or the next one, never a mix: a link only
 * ever names a generation whose two files are complete on disk.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enroll_internal.h"

#define MOD "enroll"
#define TMP_PREFIX ".tmp-"

void (*tw__store_crash_hook)(const char *point) = NULL;

static void crash_point(const char *p)
{
    if (tw__store_crash_hook) tw__store_crash_hook(p);
}

static tw_status join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? TW_ERR_RANGE : TW_OK;
}

static tw_status errno_err(tw__error *err, const char *what, const char *path)
{
    int e = errno;
    return tw__err(err, MOD, tw__status_from_errno(e), "%s %s: %s", what, path, strerror(e));
}

/* Serialises updates of one directory between processes (flock on DIR/.lock; released by
 * unlock_dir or when the process dies). Returns the descriptor or -1. */
static int lock_dir(const char *dir)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/.lock", dir);
    if (n < 0 || (size_t)n >= sizeof p) return -1;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0) close(fd); /* closing releases the lock */
}

static tw_status fsync_dir(const char *dir, tw__error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_err(err, "cannot open directory", dir);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) {
        errno = e;
        return errno_err(err, "cannot fsync directory", dir);
    }
    return TW_OK;
}

tw_status tw__read_file(const char *path, size_t max, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? TW_ERR_NOT_FOUND : tw__status_from_errno(errno);
    char *buf = tw__malloc(max + 1);
    if (!buf) {
        fclose(f);
        return TW_ERR_NOMEM;
    }
    size_t n = fread(buf, 1, max + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        tw__free(buf);
        return bad ? TW_ERR_IO : TW_ERR_RANGE;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return TW_OK;
}

tw_status tw__write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                                tw__error *err)
{
    return tw__file_write_atomic(dir, name, data, len, err, MOD, crash_point);
}

/* "gen-<N>" -> N, or -1. */
static long gen_number(const char *name)
{
    if (strncmp(name, "gen-", 4) != 0 || !name[4]) return -1;
    char *end;
    long n = strtol(name + 4, &end, 10);
    if (*end || n < 0) return -1;
    return n;
}

/* Reads link DIR/<name> into target (a "gen-N" name). TW_ERR_NOT_FOUND when absent. */
static tw_status read_link(const char *dir, const char *name, char *target, size_t cap)
{
    char path[PATH_MAX];
    if (join(path, sizeof path, dir, name)) return TW_ERR_RANGE;
    ssize_t n = readlink(path, target, cap - 1);
    if (n < 0) return errno == ENOENT ? TW_ERR_NOT_FOUND : tw__status_from_errno(errno);
    target[n] = '\0';
    if (gen_number(target) < 0) return TW_ERR_CORRUPT;
    return TW_OK;
}

static void remove_gen(const char *dir, const char *gen)
{
    char gdir[PATH_MAX], p[PATH_MAX];
    if (join(gdir, sizeof gdir, dir, gen)) return;
    DIR *d = opendir(gdir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (join(p, sizeof p, gdir, de->d_name) == TW_OK) unlink(p);
        }
        closedir(d);
    }
    rmdir(gdir);
}

static bool file_exists(const char *dir, const char *gen, const char *name)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/%s/%s", dir, gen, name);
    if (n < 0 || (size_t)n >= sizeof p) return false;
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static tw_status store_tidy(const char *dir, tw__error *err)
{
    char cur[64] = "", pend[64] = "";
    if (read_link(dir, "current", cur, sizeof cur) != TW_OK) cur[0] = '\0';
    if (read_link(dir, "pending", pend, sizeof pend) != TW_OK) pend[0] = '\0';
    bool changed = false;
    /* A pending link names only complete generations, but be defensive about damaged ones. */
    if (pend[0] && (!file_exists(dir, pend, "key.pem") || !file_exists(dir, pend, "chain.pem"))) {
        char p[PATH_MAX];
        if (join(p, sizeof p, dir, "pending") == TW_OK) unlink(p);
        pend[0] = '\0';
        changed = true;
    }
    if (pend[0] && cur[0] && !strcmp(pend, cur)) { /* commit interrupted after a crash? */
        char p[PATH_MAX];
        if (join(p, sizeof p, dir, "pending") == TW_OK) unlink(p);
        pend[0] = '\0';
        changed = true;
    }
    DIR *d = opendir(dir);
    if (!d) return errno_err(err, "cannot read", dir);
    struct dirent *de;
    char names[64][NAME_MAX + 1];
    size_t nnames = 0;
    while ((de = readdir(d)) != NULL && nnames < TW__ARRAY_LEN(names)) {
        const char *n = de->d_name;
        bool tmp = strncmp(n, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
        bool orphan = gen_number(n) >= 0 && strcmp(n, cur) != 0 && strcmp(n, pend) != 0;
        if (tmp || orphan) tw__strlcpy(names[nnames++], n, sizeof names[0]);
    }
    closedir(d);
    for (size_t i = 0; i < nnames; i++) {
        char p[PATH_MAX];
        if (gen_number(names[i]) >= 0) {
            remove_gen(dir, names[i]);
        } else if (join(p, sizeof p, dir, names[i]) == TW_OK) {
            unlink(p);
        }
        changed = true;
        tw__log(TW_LOG_INFO, MOD, "credential store %s: removed leftover %s", dir, names[i]);
    }
    return changed ? fsync_dir(dir, err) : TW_OK;
}

static long next_gen(const char *dir)
{
    long max = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        long n = gen_number(de->d_name);
        if (n > max) max = n;
    }
    closedir(d);
    return max + 1;
}

/* Points DIR/<name> at gen atomically. */
static tw_status set_link(const char *dir, const char *name, const char *gen, tw__error *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (join(tmp, sizeof tmp, dir, TMP_PREFIX "link") || join(dst, sizeof dst, dir, name))
        return tw__err(err, MOD, TW_ERR_RANGE, "path too long: %s", dir);
    unlink(tmp);
    if (symlink(gen, tmp) != 0) return errno_err(err, "cannot create link", tmp);
    crash_point("link-created");
    if (rename(tmp, dst) != 0) {
        tw_status st = errno_err(err, "cannot rename", tmp);
        unlink(tmp);
        return st;
    }
    return fsync_dir(dir, err);
}

static tw_status store_put(const char *dir, const char *key_pem, size_t key_len, const char *chain_pem,
                           size_t chain_len, bool make_current, tw__error *err)
{
    tw_status st = TW_OK;
    long n = next_gen(dir);
    if (n < 0) return errno_err(err, "cannot read", dir);
    char gen[32], gdir[PATH_MAX], old[64] = "";
    snprintf(gen, sizeof gen, "gen-%ld", n);
    if (join(gdir, sizeof gdir, dir, gen)) return tw__err(err, MOD, TW_ERR_RANGE, "path too long");
    const char *link = make_current ? "current" : "pending";
    if (read_link(dir, link, old, sizeof old) != TW_OK) old[0] = '\0';
    if (mkdir(gdir, 0700) != 0) return errno_err(err, "cannot create", gdir);
    st = fsync_dir(dir, err);
    if (st == TW_OK) crash_point("gen-created");
    if (st == TW_OK) st = tw__write_file_atomic(gdir, "key.pem", key_pem, key_len, err);
    if (st == TW_OK) crash_point("key-written");
    if (st == TW_OK) st = tw__write_file_atomic(gdir, "chain.pem", chain_pem, chain_len, err);
    if (st == TW_OK) crash_point("chain-written");
    if (st == TW_OK) st = set_link(dir, link, gen, err);
    if (st != TW_OK) {
        remove_gen(dir, gen);
        return st;
    }
    crash_point("link-set");
    if (old[0]) { /* a replaced pending (or current) generation */
        remove_gen(dir, old);
        fsync_dir(dir, NULL);
    }
    tw__log(TW_LOG_INFO, MOD, "credential store %s: %s -> %s", dir, link, gen);
    return TW_OK;
}

static tw_status store_commit(const char *dir, tw__error *err)
{
    char pend[64], cur[64], src[PATH_MAX], dst[PATH_MAX];
    tw_status st = read_link(dir, "pending", pend, sizeof pend);
    if (st == TW_ERR_NOT_FOUND) return tw__err(err, MOD, st, "no pending credential in %s", dir);
    if (st != TW_OK) return tw__err(err, MOD, st, "cannot read %s/pending", dir);
    if (read_link(dir, "current", cur, sizeof cur) != TW_OK) cur[0] = '\0';
    if (join(src, sizeof src, dir, "pending") || join(dst, sizeof dst, dir, "current"))
        return tw__err(err, MOD, TW_ERR_RANGE, "path too long");
    crash_point("commit-begin");
    if (rename(src, dst) != 0) return errno_err(err, "cannot rename", src);
    st = fsync_dir(dir, err);
    if (st != TW_OK) return st;
    crash_point("committed");
    if (cur[0] && strcmp(cur, pend) != 0) {
        remove_gen(dir, cur);
        crash_point("old-removed");
        fsync_dir(dir, NULL);
    }
    tw__log(TW_LOG_INFO, MOD, "credential store %s: committed %s (removed %s)", dir, pend,
            cur[0] ? cur : "nothing");
    return TW_OK;
}

static tw_status store_rollback(const char *dir, tw__error *err)
{
    char pend[64], p[PATH_MAX];
    tw_status st = read_link(dir, "pending", pend, sizeof pend);
    if (st == TW_ERR_NOT_FOUND) return tw__err(err, MOD, st, "no pending credential in %s", dir);
    if (st != TW_OK) return tw__err(err, MOD, st, "cannot read %s/pending", dir);
    if (join(p, sizeof p, dir, "pending")) return TW_ERR_RANGE;
    if (unlink(p) != 0) return errno_err(err, "cannot remove", p);
    st = fsync_dir(dir, err);
    remove_gen(dir, pend);
    tw__log(TW_LOG_INFO, MOD, "credential store %s: dropped pending %s", dir, pend);
    return st;
}

tw_status tw__store_open(const char *dir, tw__error *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return errno_err(err, "cannot create", dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tw__err(err, MOD, TW_ERR_CONFIG, "%s is not a directory", dir);
    int fd = lock_dir(dir);
    if (fd < 0) return errno_err(err, "cannot lock", dir);
    tw_status s = store_tidy(dir, err);
    unlock_dir(fd);
    return s;
}

tw_status tw__store_put(const char *dir, const char *key_pem, size_t key_len, const char *chain_pem,
                        size_t chain_len, bool make_current, tw__error *err)
{
    tw_status st = tw__store_open(dir, err);
    if (st != TW_OK) return st;
    int fd = lock_dir(dir);
    if (fd < 0) return errno_err(err, "cannot lock", dir);
    st = store_tidy(dir, err); /* another process may have left debris since */
    if (st == TW_OK) st = store_put(dir, key_pem, key_len, chain_pem, chain_len, make_current, err);
    unlock_dir(fd);
    return st;
}

tw_status tw__store_commit(const char *dir, tw__error *err)
{
    int fd = lock_dir(dir);
    if (fd < 0) return errno_err(err, "cannot lock", dir);
    tw_status st = store_commit(dir, err);
    unlock_dir(fd);
    return st;
}

tw_status tw__store_rollback(const char *dir, tw__error *err)
{
    int fd = lock_dir(dir);
    if (fd < 0) return errno_err(err, "cannot lock", dir);
    tw_status st = store_rollback(dir, err);
    unlock_dir(fd);
    return st;
}
