/* Unit tests of the helpers lib/core shares with every module: the crash-safe file writer. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/tagwire.h"

static int setup(void **state)
{
    (void)state;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

/* The file's content (at most cap-1 bytes, terminated), or "" when it cannot be read. */
static const char *slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0) return buf;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int count_entries(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    return system(cmd) == 0 ? 1 : 0;
}

static int g_stages;
static void stage_hook(const char *what)
{
    if (!strcmp(what, "file-synced") || !strcmp(what, "file-renamed")) g_stages++;
}

static void test_file_write_atomic(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("tw-core-file");
    assert_non_null(dir);
    tw__error err;
    tw__err_clear(&err);
    char buf[64];
    /* by path: creates, then replaces; mode 0600; no temporary file left behind */
    g_stages = 0;
    assert_int_equal(tw__file_write_atomic(dir, "a", "one", 3, &err, "test", stage_hook), TW_OK);
    assert_int_equal(g_stages, 2);
    assert_int_equal(tw__file_write_atomic(dir, "a", "second", 6, &err, "test", NULL), TW_OK);
    assert_string_equal(slurp(twt_path(0, dir, "a"), buf, sizeof buf), "second");
    struct stat st;
    assert_int_equal(stat(twt_path(0, dir, "a"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_true(count_entries(dir));
    /* relative to an open directory, with and without fsync */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(tw__file_write_atomic_at(dfd, "label", "a", "third", 5, 0, &err, "test", NULL), TW_OK);
    assert_string_equal(slurp(twt_path(0, dir, "a"), buf, sizeof buf), "third");
    assert_int_equal(tw__file_write_atomic_at(dfd, "label", "a", "", 0, TW__FILE_NO_SYNC, &err, "test", NULL),
                     TW_OK);
    assert_string_equal(slurp(twt_path(0, dir, "a"), buf, sizeof buf), "");
    assert_true(count_entries(dir));
    /* a temporary file that is a symbolic link is never followed */
    assert_int_equal(symlink(twt_path(0, dir, "target"), twt_path(1, dir, ".tmp-b")), 0);
    assert_int_not_equal(tw__file_write_atomic_at(dfd, "label", "b", "x", 1, 0, &err, "test", NULL), TW_OK);
    assert_int_equal(access(twt_path(0, dir, "target"), F_OK), -1);
    assert_non_null(strstr(tw__err_msg(&err), "label/.tmp-b"));
    close(dfd);
    /* errors: a missing directory, a name too long */
    assert_int_equal(tw__file_write_atomic(twt_path(0, dir, "missing"), "a", "x", 1, &err, "test", NULL),
                     TW_ERR_NOT_FOUND);
    assert_non_null(strstr(tw__err_msg(&err), "cannot create"));
    char longname[400];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(tw__file_write_atomic(dir, longname, "x", 1, &err, "test", NULL), TW_ERR_RANGE);
    twt_rmtree(dir);
    free(dir);
}

/* A file size limit (EFBIG) is reported as no space, and the old content stays. */
static void test_file_write_atomic_fsize(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("tw-core-fsize");
    assert_non_null(dir);
    tw__error err;
    tw__err_clear(&err);
    assert_int_equal(tw__file_write_atomic(dir, "a", "old", 3, &err, "test", NULL), TW_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        setrlimit(RLIMIT_FSIZE, &rl);
        static char big[8192];
        tw_status st = tw__file_write_atomic(dir, "a", big, sizeof big, &err, "test", NULL);
        _exit(st == TW_ERR_NO_SPACE ? 0 : 1);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    char buf[16];
    assert_string_equal(slurp(twt_path(0, dir, "a"), buf, sizeof buf), "old");
    assert_true(count_entries(dir));
    twt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_write_atomic),
        cmocka_unit_test(test_file_write_atomic_fsize),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
