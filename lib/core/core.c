/* Library state: init refcount, allocator and log hooks, version, features, clocks, errors.
 * SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tw_build_config.h"

/* ---- version and features ---- */

uint32_t tw_version(void) { return (uint32_t)TW_VERSION_NUM; }
const char *tw_version_string(void) { return TW_VERSION_STRING; }

uint32_t tw_features(void)
{
    uint32_t f = 0;
#ifdef TW_HAVE_STORE
    f |= TW_FEATURE_STORE;
#endif
#ifdef TW_HAVE_SIM
    f |= TW_FEATURE_SIM;
#endif
#ifdef TW_HAVE_TLS
    f |= TW_FEATURE_TLS;
#endif
#ifdef TW_HAVE_TLS13
    f |= TW_FEATURE_TLS13;
#endif
#ifdef TW_HAVE_MQTT
    f |= TW_FEATURE_MQTT;
#endif
#ifdef TW_HAVE_SPARKPLUG
    f |= TW_FEATURE_SPARKPLUG;
#endif
#ifdef TW_HAVE_MODBUS
    f |= TW_FEATURE_MODBUS;
#endif
#ifdef TW_HAVE_OPCUA
    f |= TW_FEATURE_OPCUA;
#endif
#ifdef TW_HAVE_S7
    f |= TW_FEATURE_S7;
#endif
#ifdef TW_HAVE_EST
    f |= TW_FEATURE_EST;
#endif
#ifdef TW_HAVE_HTTPS
    f |= TW_FEATURE_HTTPS;
#endif
    return f;
}

const char *tw_feature_name(uint32_t bit)
{
    switch (bit) {
    case TW_FEATURE_TLS: return "tls";
    case TW_FEATURE_MQTT: return "mqtt";
    case TW_FEATURE_SPARKPLUG: return "sparkplug";
    case TW_FEATURE_MODBUS: return "modbus";
    case TW_FEATURE_OPCUA: return "opcua";
    case TW_FEATURE_S7: return "s7";
    case TW_FEATURE_EST: return "est";
    case TW_FEATURE_STORE: return "store";
    case TW_FEATURE_HTTPS: return "https";
    case TW_FEATURE_SIM: return "sim";
    case TW_FEATURE_TLS13: return "tls13";
    default: return NULL;
    }
}

/* ---- versioned structs ---- */

static uint32_t struct_version(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

tw_status tw__opts_copy(void *dst, size_t dst_size, const void *src, const size_t *sizes,
                        size_t nsizes)
{
    uint32_t v = struct_version(src);
    if (v < 1 || v > nsizes) return TW_ERR_VERSION;
    size_t n = sizes[v - 1] < dst_size ? sizes[v - 1] : dst_size;
    memset(dst, 0, dst_size);
    memcpy(dst, src, n);
    return TW_OK;
}

tw_status tw__stats_put(void *out, const void *src, const size_t *sizes, size_t nsizes)
{
    uint32_t v = struct_version(out);
    if (v < 1 || v > nsizes) return TW_ERR_VERSION;
    size_t n = sizes[v - 1];
    if (n > sizeof v) memcpy((char *)out + sizeof v, (const char *)src + sizeof v, n - sizeof v);
    return TW_OK;
}

/* ---- init / allocator ---- */

static void *default_malloc(size_t n, void *ctx) { (void)ctx; return malloc(n); }
static void *default_realloc(void *p, size_t n, void *ctx) { (void)ctx; return realloc(p, n); }
static void default_free(void *p, void *ctx) { (void)ctx; free(p); }

static pthread_mutex_t g_init_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_init_count;
static atomic_int g_initialized;
static tw_malloc_fn g_malloc = default_malloc;
static tw_realloc_fn g_realloc = default_realloc;
static tw_free_fn g_free = default_free;
static void *g_alloc_ctx;

static bool log_hook_is(tw_log_fn fn, void *user_data);

tw_status tw_init(const tw_init_params *params)
{
    tw_status st = TW_OK;
    tw_init_params pcopy;
    if (params) {
        if (TW__OPTS_COPY(pcopy, params, sizeof(tw_init_params))) return TW_ERR_VERSION;
        params = &pcopy;
        int n = !!params->malloc_fn + !!params->realloc_fn + !!params->free_fn;
        if (n != 0 && n != 3) return TW_ERR_INVALID_ARG;
        if (params->log_level < TW_LOG_DEFAULT || params->log_level > TW_LOG_TRACE)
            return TW_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&g_init_lock);
    if (g_init_count == 0) {
        if (params && params->malloc_fn) {
            g_malloc = params->malloc_fn;
            g_realloc = params->realloc_fn;
            g_free = params->free_fn;
            g_alloc_ctx = params->alloc_ctx;
        } else {
            g_malloc = default_malloc;
            g_realloc = default_realloc;
            g_free = default_free;
            g_alloc_ctx = NULL;
        }
    } else if (params && params->malloc_fn &&
               (params->malloc_fn != g_malloc || params->alloc_ctx != g_alloc_ctx)) {
        st = TW_ERR_BUSY;
    } else if (params && params->log_fn && !log_hook_is(params->log_fn, params->log_user_data)) {
        /* a later tw_init must not take over the hook the first one (or tw_set_log) installed */
        tw__log(TW_LOG_WARN, "core", "tw_init: a log hook is already installed; use tw_set_log() "
                                     "to replace it");
        st = TW_ERR_BUSY;
    }
    if (st == TW_OK) {
        g_init_count++;
        atomic_store(&g_initialized, 1);
        if (params && g_init_count == 1)
            tw_set_log(params->log_fn, params->log_level, params->log_user_data);
    }
    pthread_mutex_unlock(&g_init_lock);
    return st;
}

void tw_shutdown(void)
{
    pthread_mutex_lock(&g_init_lock);
    if (g_init_count > 0 && --g_init_count == 0) atomic_store(&g_initialized, 0);
    pthread_mutex_unlock(&g_init_lock);
}

int tw_is_initialized(void) { return atomic_load(&g_initialized); }

tw_status tw__check_init(void)
{
    if (atomic_load_explicit(&g_initialized, memory_order_acquire)) return TW_OK;
    return tw__err(NULL, "core", TW_ERR_NOT_INITIALIZED, "tw_init() has not been called");
}

void *tw__malloc(size_t n) { return g_malloc(n ? n : 1, g_alloc_ctx); }

void *tw__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    size_t n = count * size;
    void *p = g_malloc(n ? n : 1, g_alloc_ctx);
    if (p) memset(p, 0, n);
    return p;
}

void *tw__realloc(void *p, size_t n) { return g_realloc(p, n ? n : 1, g_alloc_ctx); }

void tw__free(void *p)
{
    if (p) g_free(p, g_alloc_ctx);
}

void tw_free(void *p) { tw__free(p); }

char *tw__strdup(const char *s)
{
    return s ? tw__strndup(s, strlen(s)) : NULL;
}

char *tw__strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    size_t len = strnlen(s, n);
    char *d = tw__malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

size_t tw__strlcpy(char *dst, const char *src, size_t dst_size)
{
    size_t len = strlen(src);
    if (dst_size) {
        size_t n = len < dst_size - 1 ? len : dst_size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

/* ---- logging ---- */

static pthread_rwlock_t g_log_lock = PTHREAD_RWLOCK_INITIALIZER;
static tw_log_fn g_log_fn;
static void *g_log_ud;
static atomic_int g_log_level = TW_LOG_WARN;

const char *tw_log_level_name(tw_log_level level)
{
    switch (level) {
    case TW_LOG_DEFAULT: return "default";
    case TW_LOG_ERROR: return "error";
    case TW_LOG_WARN: return "warn";
    case TW_LOG_INFO: return "info";
    case TW_LOG_DEBUG: return "debug";
    case TW_LOG_TRACE: return "trace";
    default: return "?";
    }
}

static bool log_hook_is(tw_log_fn fn, void *user_data)
{
    pthread_rwlock_rdlock(&g_log_lock);
    bool same = g_log_fn == fn && g_log_ud == user_data;
    pthread_rwlock_unlock(&g_log_lock);
    return same;
}

void tw_set_log(tw_log_fn fn, tw_log_level level, void *user_data)
{
    if (level == TW_LOG_DEFAULT) level = TW_LOG_WARN;
    if (level < TW_LOG_ERROR) level = TW_LOG_ERROR;
    if (level > TW_LOG_TRACE) level = TW_LOG_TRACE;
    pthread_rwlock_wrlock(&g_log_lock);
    g_log_fn = fn;
    g_log_ud = user_data;
    atomic_store(&g_log_level, (int)level);
    pthread_rwlock_unlock(&g_log_lock);
}

bool tw__log_enabled(tw_log_level level)
{
    return (int)level <= atomic_load_explicit(&g_log_level, memory_order_relaxed);
}

void tw__vlog(tw_log_level level, const char *module, const char *fmt, va_list ap)
{
    if (!tw__log_enabled(level)) return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    pthread_rwlock_rdlock(&g_log_lock);
    if (g_log_fn) {
        g_log_fn(level, module, buf, g_log_ud);
    } else {
        fprintf(stderr, "tagwire %s [%s] %s\n", tw_log_level_name(level), module, buf);
    }
    pthread_rwlock_unlock(&g_log_lock);
}

void tw__log(tw_log_level level, const char *module, const char *fmt, ...)
{
    if (!tw__log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    tw__vlog(level, module, fmt, ap);
    va_end(ap);
}

/* ---- error detail ---- */

/* The calling thread's last recorded error (tw_last_error()). */
static _Thread_local tw__error tw__thread_err;
/* Length of its "<module>: " prefix (tw__err_detail() leaves it out). */
static _Thread_local size_t tw__thread_err_prefix;

tw_status tw__err(tw__error *err, const char *module, tw_status code, const char *fmt, ...)
{
    char buf[TW__ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (err) {
        err->code = code;
        memcpy(err->msg, buf, sizeof buf);
    }
    tw__thread_err.code = code;
    /* "<module>: <message>", truncated to the buffer (the message is the part that gets cut). */
    size_t m = tw__strlcpy(tw__thread_err.msg, module ? module : "tagwire", sizeof tw__thread_err.msg);
    tw__thread_err_prefix = 0;
    if (m + 2 < sizeof tw__thread_err.msg) {
        memcpy(tw__thread_err.msg + m, ": ", 3);
        tw__strlcpy(tw__thread_err.msg + m + 2, buf, sizeof tw__thread_err.msg - m - 2);
        tw__thread_err_prefix = m + 2;
    }
    tw__log(TW_LOG_DEBUG, module, "%s: %s", tw_status_name(code), buf);
    return code;
}

const char *tw_last_error(void) { return tw__thread_err.msg; }

tw_status tw_last_error_status(void) { return tw__thread_err.code; }

void tw_last_error_clear(void)
{
    tw__err_clear(&tw__thread_err);
    tw__thread_err_prefix = 0;
}

const char *tw__err_detail(tw_status st)
{
    if (st != TW_OK && tw__thread_err.code == st && tw__thread_err.msg[tw__thread_err_prefix])
        return tw__thread_err.msg + tw__thread_err_prefix;
    return tw_strerror(st);
}

void tw__err_clear(tw__error *err)
{
    if (!err) return;
    err->code = TW_OK;
    err->msg[0] = '\0';
}

const char *tw__err_msg(const tw__error *err)
{
    if (!err) return "";
    return err->msg[0] ? err->msg : tw_strerror(err->code);
}

/* ---- clocks ---- */

int64_t tw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tw__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tw__mono_ms(void) { return tw__mono_ns() / 1000000; }

/* ---- back-off ---- */

static uint32_t default_rand(void *ctx)
{
    (void)ctx;
    static _Thread_local uint64_t s;
    if (!s) s = (uint64_t)tw__mono_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ull;
    s ^= s << 13; /* xorshift64 */
    s ^= s >> 7;
    s ^= s << 17;
    return (uint32_t)(s >> 32);
}

uint32_t tw__backoff_ms(uint32_t attempt, uint32_t base_ms, uint32_t cap_ms, tw__rand_fn rnd,
                        void *rnd_ctx)
{
    uint64_t ceiling = base_ms;
    for (uint32_t i = 0; i < attempt && ceiling < cap_ms; i++) ceiling <<= 1;
    if (ceiling > cap_ms) ceiling = cap_ms;
    uint32_t r = (rnd ? rnd : default_rand)(rnd_ctx);
    return (uint32_t)(((uint64_t)r * (ceiling + 1)) >> 32);
}
