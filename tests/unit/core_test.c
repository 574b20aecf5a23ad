/* Unit tests of the core module: status codes, init refcount, allocator and log hooks, back-off. */
#include <pthread.h>
#include <string.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/tagwire.h"

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

/* Only the first tw_init() (or tw_set_log()) installs the log hook; a later tw_init() with another
 * hook fails with TW_ERR_BUSY instead of silently taking the log over. */
static void test_init_log_hook_first_wins(void **state)
{
    (void)state;
    log_capture a = {0}, b = {0};
    tw_init_params pa = TW_INIT_PARAMS_INIT;
    pa.log_fn = capture_log;
    pa.log_user_data = &a;
    pa.log_level = TW_LOG_INFO;
    assert_int_equal(tw_init(&pa), TW_OK);
    tw_init_params pb = pa;
    pb.log_user_data = &b; /* same function, other receiver: another hook */
    pb.log_level = TW_LOG_TRACE;
    assert_int_equal(tw_init(&pb), TW_ERR_BUSY);
    assert_int_equal(a.count, 1); /* the refusal is reported through the installed hook */
    assert_int_equal(a.last, TW_LOG_WARN);
    tw__log(TW_LOG_INFO, "core", "to a");
    assert_int_equal(a.count, 2);
    assert_string_equal(a.msg, "to a");
    assert_int_equal(b.count, 0);
    tw__log(TW_LOG_DEBUG, "core", "hidden"); /* pb's level was not applied either */
    assert_int_equal(a.count, 2);
    assert_int_equal(tw_init(&pa), TW_OK); /* the same hook: a further reference */
    tw_init_params quiet = TW_INIT_PARAMS_INIT;
    quiet.log_level = TW_LOG_TRACE; /* no log_fn: ignored by a later call */
    assert_int_equal(tw_init(&quiet), TW_OK);
    tw__log(TW_LOG_DEBUG, "core", "still hidden");
    assert_int_equal(a.count, 2);
    tw_shutdown();
    tw_shutdown();
    tw_shutdown();
    assert_false(tw_is_initialized());
    /* a new first tw_init sets the hook again */
    assert_int_equal(tw_init(&pb), TW_OK);
    tw__log(TW_LOG_DEBUG, "core", "to b");
    assert_int_equal(b.count, 1);
    tw_shutdown();
    tw_set_log(NULL, TW_LOG_DEFAULT, NULL);
}

/* The ABI rule (tagwire/common.h): a struct with only the version set is its _INIT. Static
 * storage zeroes the padding, so the bytes compare equal exactly when every field does. */
#define SAME_AS_INIT(T, INIT, VER)                                                                 \
    do {                                                                                           \
        static const T a = INIT;                                                                   \
        static const T b = {.version = VER};                                                       \
        assert_memory_equal(&a, &b, sizeof(T));                                                    \
    } while (0)

static void test_zero_is_default(void **state)
{
    (void)state;
    SAME_AS_INIT(tw_init_params, TW_INIT_PARAMS_INIT, TW_INIT_PARAMS_VERSION);
    SAME_AS_INIT(tw_tag_options, TW_TAG_OPTIONS_INIT, TW_TAG_OPTIONS_VERSION);
    SAME_AS_INIT(tw_store_options, TW_STORE_OPTIONS_INIT, TW_STORE_OPTIONS_VERSION);
    SAME_AS_INIT(tw_transport_options, TW_TRANSPORT_OPTIONS_INIT, TW_TRANSPORT_OPTIONS_VERSION);
    SAME_AS_INIT(tw_tls_options, TW_TLS_OPTIONS_INIT, TW_TLS_OPTIONS_VERSION);
    SAME_AS_INIT(tw_mqtt_options, TW_MQTT_OPTIONS_INIT, TW_MQTT_OPTIONS_VERSION);
    SAME_AS_INIT(tw_edge_options, TW_EDGE_OPTIONS_INIT, TW_EDGE_OPTIONS_VERSION);
    SAME_AS_INIT(tw_node_options, TW_NODE_OPTIONS_INIT, TW_NODE_OPTIONS_VERSION);
    SAME_AS_INIT(tw_node_device_options, TW_NODE_DEVICE_OPTIONS_INIT, TW_NODE_DEVICE_OPTIONS_VERSION);
    SAME_AS_INIT(tw_device_options, TW_DEVICE_OPTIONS_INIT, TW_DEVICE_OPTIONS_VERSION);
    SAME_AS_INIT(tw_enroll_options, TW_ENROLL_OPTIONS_INIT, TW_ENROLL_OPTIONS_VERSION);
    SAME_AS_INIT(tw_identity, TW_IDENTITY_INIT, TW_IDENTITY_VERSION);
    /* the non-default choices are non-zero */
    assert_true(TW_LOG_ERROR != 0 && TW_EDGE_QOS0 != 0 && TW_TCP_NAGLE != 0);
    assert_true(TW_MQTT_KEEPALIVE_OFF != 0 && TW_MQTT_RECONNECT_OFF != 0);
}

/* A struct as it grows: v1 has a and b, v2 adds c. */
typedef struct { uint32_t version; uint32_t a; uint64_t b; uint64_t c; } grow_v2;

static void test_versioned_copy(void **state)
{
    (void)state;
    grow_v2 src = {1, 7, 8, 0xAAAAAAAAu}; /* a v1 caller: c is past the end of its struct */
    grow_v2 dst;
    memset(&dst, 0x55, sizeof dst);
    assert_int_equal(TW__OPTS_COPY(dst, &src, offsetof(grow_v2, c), sizeof(grow_v2)), TW_OK);
    assert_int_equal(dst.a, 7);
    assert_int_equal(dst.b, 8);
    assert_int_equal(dst.c, 0); /* not read: the default */
    src.version = 2;
    assert_int_equal(TW__OPTS_COPY(dst, &src, offsetof(grow_v2, c), sizeof(grow_v2)), TW_OK);
    assert_int_equal(dst.c, 0xAAAAAAAAu);
    src.version = 0;
    assert_int_equal(TW__OPTS_COPY(dst, &src, offsetof(grow_v2, c), sizeof(grow_v2)), TW_ERR_VERSION);
    src.version = 3;
    assert_int_equal(TW__OPTS_COPY(dst, &src, offsetof(grow_v2, c), sizeof(grow_v2)), TW_ERR_VERSION);

    grow_v2 full = {2, 1, 2, 3};
    grow_v2 out;
    memset(&out, 0x55, sizeof out);
    out.version = 1;
    assert_int_equal(TW__STATS_PUT(&out, &full, offsetof(grow_v2, c), sizeof(grow_v2)), TW_OK);
    assert_int_equal(out.version, 1); /* kept */
    assert_int_equal(out.a, 1);
    assert_int_equal(out.b, 2);
    assert_true(out.c == 0x5555555555555555u); /* a v1 caller has no c: never written */
    out.version = 2;
    assert_int_equal(TW__STATS_PUT(&out, &full, offsetof(grow_v2, c), sizeof(grow_v2)), TW_OK);
    assert_int_equal(out.c, 3);
    out.version = 3;
    assert_int_equal(TW__STATS_PUT(&out, &full, offsetof(grow_v2, c), sizeof(grow_v2)), TW_ERR_VERSION);
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

static void *other_thread_last_error(void *arg)
{
    (void)arg;
    /* A fresh thread sees none of the main thread's error. */
    return (void *)(uintptr_t)(tw_last_error()[0] == '\0' && tw_last_error_status() == TW_OK);
}

static void test_thread_last_error(void **state)
{
    (void)state;
    tw_last_error_clear();
    assert_string_equal(tw_last_error(), "");
    assert_int_equal(tw_last_error_status(), TW_OK);
    /* Errors recorded on a handle and those without a handle both reach the thread's slot. */
    tw__error herr = {0};
    assert_int_equal(tw__err(&herr, "store", TW_ERR_PARSE, "segment %d: bad CRC", 7), TW_ERR_PARSE);
    assert_string_equal(herr.msg, "segment 7: bad CRC");
    assert_string_equal(tw_last_error(), "store: segment 7: bad CRC");
    assert_int_equal(tw_last_error_status(), TW_ERR_PARSE);
    tw__err(NULL, "node", TW_ERR_CONFIG, "device %s: no adapter", "PLC1");
    assert_string_equal(tw_last_error(), "node: device PLC1: no adapter");
    assert_int_equal(tw_last_error_status(), TW_ERR_CONFIG);
    /* Wrapping a callee's failure: its message without the module prefix, when the status matches;
     * otherwise (the callee returned without recording) the status's description. */
    assert_string_equal(tw__err_detail(TW_ERR_CONFIG), "device PLC1: no adapter");
    assert_string_equal(tw__err_detail(TW_ERR_NOMEM), tw_strerror(TW_ERR_NOMEM));
    assert_int_equal(tw__err(NULL, "edge", TW_ERR_CONFIG, "session: %s", tw__err_detail(TW_ERR_CONFIG)),
                     TW_ERR_CONFIG);
    assert_string_equal(tw_last_error(), "edge: session: device PLC1: no adapter");
    /* A message as long as the handle's buffer is truncated, never overflows. */
    char longmsg[600];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    tw__err(NULL, "mqtt", TW_ERR_PROTOCOL, "%s", longmsg);
    assert_true(strlen(tw_last_error()) < TW__ERRMSG_MAX);
    assert_memory_equal(tw_last_error(), "mqtt: xxxx", 10);
    /* Per thread. */
    pthread_t t;
    void *ok = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread_last_error, NULL), 0);
    assert_int_equal(pthread_join(t, &ok), 0);
    assert_true(ok != NULL);
    assert_int_equal(tw_last_error_status(), TW_ERR_PROTOCOL); /* ours is untouched */
    tw_last_error_clear();
    assert_string_equal(tw_last_error(), "");
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
        cmocka_unit_test(test_clock), cmocka_unit_test(test_thread_last_error),
        cmocka_unit_test(test_init_log_hook_first_wins), cmocka_unit_test(test_zero_is_default), cmocka_unit_test(test_versioned_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
