/* Unit tests of the helpers lib/core shares with every module: the crash-safe file writer, base64
 * and public key pins. */
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

static void test_base64(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t n = 0;
    /* lenient: whitespace anywhere, padding optional */
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVs\r\nbG8=\n", 11), TW_OK);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(n, 5);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVsbG8", 7), TW_OK);
    assert_int_equal(n, 5);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "", 0), TW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVsbG9=", 8), TW_ERR_PARSE); /* bits */
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aG=Vs", 5), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode(out, 4, &n, "aGVsbG8=", 8), TW_ERR_PARSE); /* no room */
    /* strict: no whitespace, padding required */
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVsbG8=", 8), TW_OK);
    assert_int_equal(n, 5);
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVsbG8", 7), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVs\nbG8=", 9), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVsbA==", 8), TW_OK);
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVsbB==", 8), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, "aGVsb===", 8), TW_ERR_PARSE);
    /* encode: round trip of every length, and the size check */
    unsigned char src[40];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 37 + 1);
    for (size_t len = 0; len <= sizeof src; len++) {
        char e[64];
        assert_int_equal(tw__base64_encode(e, sizeof e, src, len), TW_OK);
        assert_int_equal(strlen(e), 4 * ((len + 2) / 3));
        assert_int_equal(tw__base64_decode_strict(out, sizeof out, &n, e, strlen(e)), TW_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, src, len);
        assert_true(tw__base64_decoded_max(strlen(e)) >= len);
    }
    char small[8];
    assert_int_equal(tw__base64_encode(small, sizeof small, (const unsigned char *)"hello", 5), TW_ERR_RANGE);
}

static void test_pin(void **state)
{
    (void)state;
    uint8_t h[32];
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", h), TW_OK);
    assert_int_equal(h[0], 0x13);
    assert_int_equal(h[31], 0x79);
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", NULL), TW_OK);
    /* non-canonical last character, no padding, whitespace, wrong algorithm, wrong length */
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHl=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHkA", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSH\n=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha1/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSk=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse(NULL, h), TW_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_write_atomic),
        cmocka_unit_test(test_file_write_atomic_fsize),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_pin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
