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
    return tw__err(err, module, tw__status_from_errno(e), "%s %s: %s", what, path, strerror(e));
}

tw_status tw__file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                                tw__error *err, const char *module, void (*stage)(const char *))
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    int a = snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, name);
    int b = snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (a < 0 || b < 0 || (size_t)a >= sizeof tmp || (size_t)b >= sizeof dst)
        return tw__err(err, module, TW_ERR_RANGE, "path too long: %s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return file_err(err, module, "cannot create", tmp);
    (void)fchmod(fd, 0600); /* whatever the umask */
    const unsigned char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            tw_status st = file_err(err, module, "cannot write", tmp);
            close(fd);
            unlink(tmp);
            return st;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        tw_status st = file_err(err, module, "cannot fsync", tmp);
        close(fd);
        unlink(tmp);
        return st;
    }
    close(fd);
    if (stage) stage("file-synced");
    if (rename(tmp, dst) != 0) {
        tw_status st = file_err(err, module, "cannot rename", tmp);
        unlink(tmp);
        return st;
    }
    if (stage) stage("file-renamed");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return file_err(err, module, "cannot open directory", dir);
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    if (rc != 0) {
        errno = e;
        return file_err(err, module, "cannot fsync directory", dir);
    }
    return TW_OK;
}
