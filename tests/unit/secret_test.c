/* Unit tests of secret handling: URI redaction for logs and errors, zeroisation. */
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "tagwire/sys/adapter.h"
#include "twtest.h"

static char g_log[8192];
static void capture(tw_log_level level, const char *module, const char *message, void *ud)
{
    (void)level;
    (void)ud;
    size_t l = strlen(g_log);
    snprintf(g_log + l, sizeof g_log - l, "%s: %s\n", module, message);
}

static int setup(void **state)
{
    (void)state;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.log_level = TW_LOG_DEBUG;
    p.log_fn = capture;
    return tw_init(&p) == TW_OK ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

static void test_redact(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(tw__uri_redact("opcua://h:4840/p?user=bob&password=hunter2&publish_ms=5", b, sizeof b),
                        "opcua://h:4840/p?user=bob&password=***&publish_ms=5");
    assert_string_equal(tw__uri_redact("x://u:pw@h:1/a?token=abc#frag", b, sizeof b), "x://u:***@h:1/a?token=***#frag");
    assert_string_equal(tw__uri_redact("x://u@h?PASS=1&Secret=2&key_password=3&keyfile=k", b, sizeof b),
                        "x://u@h?PASS=***&Secret=***&key_password=***&keyfile=k");
    /* a percent-escaped name is still recognised (the URI parser decodes names) */
    assert_string_equal(tw__uri_redact("x://h?pass%77ord=z&psk", b, sizeof b), "x://h?pass%77ord=***&psk");
    assert_string_equal(tw__uri_redact("x://h/path", b, sizeof b), "x://h/path");
    assert_string_equal(tw__uri_redact("no scheme?password=1", b, sizeof b), "no scheme?password=***");
    assert_string_equal(tw__uri_redact(NULL, b, sizeof b), "(null)");
    /* truncation keeps the output terminated and never shows the secret */
    char s[12];
    assert_string_equal(tw__uri_redact("x://h?password=abcdefgh", s, sizeof s), "x://h?passw");
    assert_string_equal(tw__uri_redact("x://u:abcdefgh@h", s, sizeof s), "x://u:***@h");
}

static void test_errors_and_logs_redacted(void **state)
{
    (void)state;
    tw_device *d = NULL;
    g_log[0] = '\0';
    /* a parse error echoes the URI: its secrets must not appear */
    assert_int_equal(tw_device_open(&d, "sim://u:hunter2@h:x?password=hunter3", NULL), TW_ERR_PARSE);
    assert_non_null(strstr(tw_last_error(), "sim://u:***@h:x?password=***"));
    assert_null(strstr(tw_last_error(), "hunter"));
    /* an adapter refusing its parameters: the open is logged with the URI */
    assert_int_not_equal(tw_device_open(&d, "sim://x?token=hunter4&bogus=1", NULL), TW_OK);
    assert_non_null(strstr(g_log, "token=***"));
    assert_null(strstr(g_log, "hunter"));
    assert_null(strstr(tw_last_error(), "hunter"));
}

static void test_zeroize(void **state)
{
    (void)state;
    unsigned char b[16];
    memset(b, 0xA5, sizeof b);
    tw__zeroize(b + 2, 10);
    for (size_t i = 0; i < sizeof b; i++) assert_int_equal(b[i], i >= 2 && i < 12 ? 0 : 0xA5);
    tw__zeroize(NULL, 5);
    tw__free_secret_str(tw__strdup("secret"));
    tw__free_secret_str(NULL);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_errors_and_logs_redacted),
        cmocka_unit_test(test_zeroize),
    };
    return cmocka_run_group_tests(t, setup, teardown);
}
