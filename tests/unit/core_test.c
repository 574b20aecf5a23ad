/* Unit tests of the core module: status codes, init refcount, allocator and log hooks, back-off. */
#include <string.h>

#include "twtest.h"
#include "internal.h"

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(tw_status_name(TW_OK), "TW_OK");
    assert_string_equal(tw_status_name(TW_ERR_TIMEOUT), "TW_ERR_TIMEOUT");
    assert_string_equal(tw_status_name(TW_ERR_TLS_PIN), "TW_ERR_TLS_PIN");
    assert_string_equal(tw_status_name((tw_status)-999), "TW_ERR_UNKNOWN");
    assert_string_equal(tw_strerror(TW_ERR_TIMEOUT), "operation timed out");
    assert_non_null(tw_strerror((tw_status)-999));
    /* every code in every module range has a distinct name and a description */
    int named = 0;
    for (int c = 0; c > -1000; c--) {
        const char *n = tw_status_name((tw_status)c);
        if (!strcmp(n, "TW_ERR_UNKNOWN")) continue;
        named++;
        assert_true(strncmp(n, "TW_", 3) == 0);
        assert_string_not_equal(tw_strerror((tw_status)c), "unknown status code");
        for (int d = c - 1; d > -1000; d--) assert_string_not_equal(n, tw_status_name((tw_status)d));
    }
    assert_true(named > 40);
}

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(tw_version(), TW_VERSION_NUM);
    assert_string_equal(tw_version_string(), TW_VERSION_STRING);
    assert_non_null(tw_feature_name(TW_FEATURE_TLS));
    assert_null(tw_feature_name(1u << 31));
}

static int g_allocs, g_frees;
static void *count_malloc(size_t n, void *ctx) { (*(int *)ctx)++; g_allocs++; return malloc(n); }
static void *count_realloc(void *p, size_t n, void *ctx) { (void)ctx; if (!p) g_allocs++; return realloc(p, n); }
static void count_free(void *p, void *ctx) { (void)ctx; if (p) g_frees++; free(p); }

static void test_init_refcount_and_allocator(void **state)
{
    (void)state;
    assert_false(tw_is_initialized());
    assert_int_equal(tw__check_init(), TW_ERR_NOT_INITIALIZED);
    int ctx = 0;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.malloc_fn = count_malloc;
    assert_int_equal(tw_init(&p), TW_ERR_INVALID_ARG); /* partial allocator */
    p.realloc_fn = count_realloc;
    p.free_fn = count_free;
    p.alloc_ctx = &ctx;
    p.version = 99;
    assert_int_equal(tw_init(&p), TW_ERR_VERSION);
    p.version = TW_INIT_PARAMS_VERSION;
    assert_int_equal(tw_init(&p), TW_OK);
    assert_int_equal(tw_init(NULL), TW_OK); /* second reference, allocator unchanged */
    int other = 0;
    tw_init_params q = p;
    q.alloc_ctx = &other;
    assert_int_equal(tw_init(&q), TW_ERR_BUSY);
    char *s = tw__strdup("Line1/Press7");
    assert_string_equal(s, "Line1/Press7");
    assert_int_equal(ctx, 1);
    tw__free(s);
    assert_int_equal(g_frees, 1);
    assert_null(tw__calloc(SIZE_MAX / 2, 4)); /* overflow refused, not wrapped */
    tw_shutdown();
    assert_true(tw_is_initialized());
    tw_shutdown();
    assert_false(tw_is_initialized());
    tw_shutdown(); /* extra call ignored */
    assert_false(tw_is_initialized());
}

typedef struct { int count; tw_log_level last; char msg[128]; char module[16]; } log_capture;
static void capture_log(tw_log_level level, const char *module, const char *message, void *ud)
{
    log_capture *c = ud;
    c->count++;
    c->last = level;
    tw__strlcpy(c->msg, message, sizeof c->msg);
    tw__strlcpy(c->module, module, sizeof c->module);
}

static void test_log_hook_and_errors(void **state)
{
    (void)state;
    log_capture cap = {0};
    tw_set_log(capture_log, TW_LOG_INFO, &cap);
    tw__log(TW_LOG_DEBUG, "core", "hidden %d", 1);
    assert_int_equal(cap.count, 0);
    tw__log(TW_LOG_WARN, "tls", "visible %d", 2);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.last, TW_LOG_WARN);
    assert_string_equal(cap.msg, "visible 2");
    assert_string_equal(cap.module, "tls");

    tw_set_log(capture_log, TW_LOG_DEBUG, &cap);
    tw__error e;
    tw__err_clear(&e);
    assert_string_equal(tw__err_msg(&e), "success");
    assert_int_equal(tw__err(&e, "store", TW_ERR_NO_SPACE, "segment %d: disk full", 3), TW_ERR_NO_SPACE);
    assert_int_equal(e.code, TW_ERR_NO_SPACE);
    assert_string_equal(tw__err_msg(&e), "segment 3: disk full");
    assert_int_equal(cap.count, 2); /* recorded errors are logged at debug */
    assert_non_null(strstr(cap.msg, "TW_ERR_NO_SPACE"));
    tw_set_log(NULL, TW_LOG_WARN, NULL);
}

static uint32_t fixed_rand(void *ctx) { return *(uint32_t *)ctx; }

static void test_backoff(void **state)
{
    (void)state;
    uint32_t r = UINT32_MAX; /* top of the range */
    assert_int_equal(tw__backoff_ms(0, 100, 10000, fixed_rand, &r), 100);
    assert_int_equal(tw__backoff_ms(3, 100, 10000, fixed_rand, &r), 800);
    assert_int_equal(tw__backoff_ms(30, 100, 10000, fixed_rand, &r), 10000); /* capped */
    assert_int_equal(tw__backoff_ms(1000, 100, 10000, fixed_rand, &r), 10000); /* no overflow */
    r = 0;
    assert_int_equal(tw__backoff_ms(5, 100, 10000, fixed_rand, &r), 0); /* full jitter */
    for (uint32_t a = 0; a < 20; a++) assert_true(tw__backoff_ms(a, 50, 5000, NULL, NULL) <= 5000);
}

static void test_clock(void **state)
{
    (void)state;
    int64_t a = tw_now_ns();
    assert_true(a > (int64_t)1700000000 * 1000000000); /* after 2023 */
    int64_t m1 = tw__mono_ns(), m2 = tw__mono_ns();
    assert_true(m2 >= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),       cmocka_unit_test(test_version),
        cmocka_unit_test(test_init_refcount_and_allocator),
        cmocka_unit_test(test_log_hook_and_errors), cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
