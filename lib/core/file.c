/* Crash-safe replacement of a small file. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static tw_status file_err(tw__error *err, const char *module, const char *what, const char *path)
{
    int e = errno;
    /* EFBIG (RLIMIT_FSIZE, the file system's size limit): no room for the file either */
    tw_status st = e == EFBIG ? TW_ERR_NO_SPACE : tw__status_from_errno(e);
    return tw__err(err, module, st, "%s %s: %s", what, path, strerror(e));
}

tw_status tw__file_write_atomic_at(int dir_fd, const char *dir, const char *name, const void *data,
                                   size_t len, unsigned flags, tw__error *err, const char *module,
                                   void (*stage)(const char *))
{
    /* tmp/dst: the full paths (messages; opened when there is no dir_fd); rtmp: relative name */
    char tmp[PATH_MAX], dst[PATH_MAX], rtmp[NAME_MAX + 1];
    int a = snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, name);
    int b = snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int c = snprintf(rtmp, sizeof rtmp, ".tmp-%s", name);
    if (a < 0 || b < 0 || c < 0 || (size_t)a >= sizeof tmp || (size_t)b >= sizeof dst ||
        (size_t)c >= sizeof rtmp)
        return tw__err(err, module, TW_ERR_RANGE, "path too long: %s/%s", dir, name);
    const bool at = dir_fd >= 0;
    const bool sync = !(flags & TW__FILE_NO_SYNC);
    const char *o_tmp = at ? rtmp : tmp, *o_dst = at ? name : dst;
    int afd = at ? dir_fd : AT_FDCWD;
    int fd = openat(afd, o_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return file_err(err, module, "cannot create", tmp);
    (void)fchmod(fd, 0600); /* whatever the umask */
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            if (w == 0) errno = ENOSPC; /* no progress: treat as a full disk, never spin */
            tw_status st = file_err(err, module, "cannot write", tmp);
            close(fd);
            unlinkat(afd, o_tmp, 0);
            return st;
        }
        p += w;
        left -= (size_t)w;
    }
    if (sync && fsync(fd) != 0) {
        tw_status st = file_err(err, module, "cannot fsync", tmp);
        close(fd);
        unlinkat(afd, o_tmp, 0);
        return st;
    }
    close(fd);
    if (stage) stage("file-synced");
    if (renameat(afd, o_tmp, afd, o_dst) != 0) {
        tw_status st = file_err(err, module, "cannot rename", tmp);
        unlinkat(afd, o_tmp, 0);
        return st;
    }
    if (stage) stage("file-renamed");
    if (!sync) return TW_OK;
    int dfd = at ? dir_fd : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return file_err(err, module, "cannot open directory", dir);
    int rc = fsync(dfd);
    int e = errno;
    if (!at) close(dfd);
    if (rc != 0) {
        errno = e;
        return file_err(err, module, "cannot fsync directory", dir);
    }
    return TW_OK;
}

tw_status tw__file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                                tw__error *err, const char *module, void (*stage)(const char *))
{
    return tw__file_write_atomic_at(-1, dir, name, data, len, 0, err, module, stage);
}
