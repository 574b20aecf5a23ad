/* Unit tests of the helpers lib/core shares with every module: the crash-safe file writer, base64,
 * public key pins and the URI parser. */
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

static void test_uri_parts(void **state)
{
    (void)state;
    tw__uri u;
    char err[256];
    /* IPv6 literal with a port; the scheme is lower-cased; path, query and fragment */
    assert_int_equal(tw__uri_parse(&u, "MQTTS://[::1]:502/a%20b?k=v%26w&flag#frag", err, sizeof err), TW_OK);
    assert_string_equal(u.scheme, "mqtts");
    assert_string_equal(u.host, "::1");
    assert_true(u.ipv6);
    assert_int_equal(u.port, 502);
    assert_string_equal(u.path, "/a b");
    assert_string_equal(u.rest, "/a%20b?k=v%26w&flag#frag");
    assert_int_equal(u.n, 2);
    assert_string_equal(u.keys[0], "k");
    assert_string_equal(u.values[0], "v&w");
    assert_string_equal(u.keys[1], "flag");
    assert_string_equal(u.values[1], "");
    tw__uri_free(&u);
    /* [v6] without a port, a host name, absent parts */
    assert_int_equal(tw__uri_parse(&u, "opcua://[fe80::1%25eth0]", err, sizeof err), TW_OK);
    assert_string_equal(u.host, "fe80::1%25eth0"); /* the host is not decoded */
    assert_int_equal(u.port, 0);
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "mqtt://broker.local", err, sizeof err), TW_OK);
    assert_string_equal(u.host, "broker.local");
    assert_false(u.ipv6);
    assert_int_equal(u.port, 0);
    assert_string_equal(u.path, "");
    assert_string_equal(u.rest, "");
    assert_int_equal(u.n, 0);
    tw__uri_free(&u);
    /* ports at the edges of the range */
    assert_int_equal(tw__uri_parse(&u, "a://h:1", err, sizeof err), TW_OK);
    assert_int_equal(u.port, 1);
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "a://h:65535", err, sizeof err), TW_OK);
    assert_int_equal(u.port, 65535);
    tw__uri_free(&u);
    /* an empty host is the caller's to refuse (file-like URIs have none) */
    assert_int_equal(tw__uri_parse(&u, "modbus+rtu:///dev/ttyS0", err, sizeof err), TW_OK);
    assert_string_equal(u.host, "");
    assert_string_equal(u.path, "/dev/ttyS0");
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, "mqtt://:1883", err, sizeof err), TW_OK);
    assert_string_equal(u.host, "");
    assert_int_equal(u.port, 1883);
    tw__uri_free(&u);
    /* no secret in messages */
    assert_int_equal(tw__uri_parse(&u, "a://user:hunter2@h:99999?password=hunter2", err, sizeof err), TW_ERR_PARSE);
    assert_null(strstr(err, "hunter2"));
    tw__uri_free(&u);
    /* NULL err is allowed */
    assert_int_equal(tw__uri_parse(&u, "a://h:0", NULL, 0), TW_ERR_PARSE);
    assert_int_equal(u.why, TW__URI_E_PORT);
    tw__uri_free(&u);
}

static void test_uri_errors(void **state)
{
    (void)state;
    static const struct {
        const char *uri;
        tw__uri_err why;
        const char *at; /* what u.err_at points to */
    } bad[] = {
        {"plc:502", TW__URI_E_SCHEME, "plc:502"},
        {"://x", TW__URI_E_SCHEME, "://x"},
        {"1a://h", TW__URI_E_SCHEME, "1a://h"},
        {"a b://h", TW__URI_E_SCHEME, "a b://h"},
        {"abcdefghijklmnopqrstuvwxyzabcdefgh://h", TW__URI_E_SCHEME, "abcdefghijklmnopqrstuvwxyzabcdefgh://h"},
        {"a://[::1", TW__URI_E_BRACKET, "[::1"},
        {"a://[::1/x]", TW__URI_E_BRACKET, "[::1/x]"},
        {"a://[::1]x", TW__URI_E_AFTER_HOST, "x"},
        {"a://h:0", TW__URI_E_PORT, ":0"},
        {"a://h:65536", TW__URI_E_PORT, ":65536"},
        {"a://h:99999999999999999999", TW__URI_E_PORT, ":99999999999999999999"},
        {"a://h:-1", TW__URI_E_PORT, ":-1"},
        {"a://h:+1", TW__URI_E_PORT, ":+1"},
        {"a://h:1x", TW__URI_E_AFTER_PORT, "x"},
        {"a://u:pw@h:1", TW__URI_E_PORT, ":pw@h:1"},
        {"a://h:99999x", TW__URI_E_PORT, ":99999x"},
        {"a://h:", TW__URI_E_PORT, ":"},
        {"a://[::1]:", TW__URI_E_PORT, ":"},
        {"a://h/%zz", TW__URI_E_PATH, "/%zz"},
        {"a://h/%00", TW__URI_E_PATH, "/%00"},
        {"a://h/%4", TW__URI_E_PATH, "/%4"},
        {"a://h?%=1", TW__URI_E_QUERY, "?%=1"},
        {"a://h?=1", TW__URI_E_QUERY, "?=1"},
        {"a://h?k=%0", TW__URI_E_QUERY, "?k=%0"},
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        tw__uri u;
        char err[256] = "";
        if (tw__uri_parse(&u, bad[i].uri, err, sizeof err) != TW_ERR_PARSE) fail_msg("'%s' accepted", bad[i].uri);
        if (!err[0]) fail_msg("'%s': no message", bad[i].uri);
        if (u.why != bad[i].why) fail_msg("'%s': why %d, expected %d", bad[i].uri, (int)u.why, (int)bad[i].why);
        if (strcmp(u.err_at, bad[i].at)) fail_msg("'%s': at '%s', expected '%s'", bad[i].uri, u.err_at, bad[i].at);
        tw__uri_free(&u);
    }
    /* too many parameters, too long */
    char many[400] = "a://h?";
    for (int i = 0; i <= TW__URI_MAX_PARAMS; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=1&", i);
    tw__uri u;
    assert_int_equal(tw__uri_parse(&u, many, NULL, 0), TW_ERR_PARSE);
    assert_int_equal(u.why, TW__URI_E_QUERY);
    tw__uri_free(&u);
    static char longuri[TW__URI_MAX_LEN + 16];
    memset(longuri, 'x', sizeof longuri - 1);
    memcpy(longuri, "a://", 4);
    assert_int_equal(tw__uri_parse(&u, longuri, NULL, 0), TW_ERR_PARSE);
    assert_int_equal(u.why, TW__URI_E_LENGTH);
    tw__uri_free(&u);
    assert_int_equal(tw__uri_parse(&u, NULL, NULL, 0), TW_ERR_INVALID_ARG);
    /* the scheme rule, also used by the adapter registry */
    assert_true(tw__uri_scheme_ok("modbus+tcp"));
    assert_true(tw__uri_scheme_ok("s7"));
    assert_false(tw__uri_scheme_ok("Modbus"));
    assert_false(tw__uri_scheme_ok("7s"));
    assert_false(tw__uri_scheme_ok(""));
    assert_false(tw__uri_scheme_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_write_atomic),
        cmocka_unit_test(test_file_write_atomic_fsize),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_pin),
        cmocka_unit_test(test_uri_parts),
        cmocka_unit_test(test_uri_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
