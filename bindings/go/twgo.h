/* C helpers of the Go binding: union accessors and callback trampolines (twgo.c). */
#ifndef TWGO_H
#define TWGO_H
#include <stdlib.h>
#include <string.h>
#include <tagwire/tagwire.h>
#include <tagwire/sys/adapter.h>
#include <tagwire/opcua.h> /* also before the umbrella header lists it */
#include <tagwire/node.h>

#if TW_VERSION_MAJOR != 0
#error "the Go binding is written for tagwire major version 0"
void twgo_https_set_reject(tw_https_options *o, uintptr_t h);
#endif

static inline int twgo_value_b(const tw_value *v) { return v->as.b; }
static inline int64_t twgo_value_i(const tw_value *v) { return v->as.i; }
static inline uint64_t twgo_value_u(const tw_value *v) { return v->as.u; }
static inline float twgo_value_f(const tw_value *v) { return v->as.f; }
static inline double twgo_value_d(const tw_value *v) { return v->as.d; }
static inline const void *twgo_value_ptr(const tw_value *v) { return v->as.buf.ptr; }
static inline size_t twgo_value_len(const tw_value *v) { return v->as.buf.len; }
static inline void twgo_set_b(tw_value *v, int x) { v->type = TW_TYPE_BOOL; v->as.b = x; }
static inline void twgo_set_i(tw_value *v, int64_t x) { v->type = TW_TYPE_INT64; v->as.i = x; }
static inline void twgo_set_u(tw_value *v, uint64_t x) { v->type = TW_TYPE_UINT64; v->as.u = x; }
static inline void twgo_set_f(tw_value *v, float x) { v->type = TW_TYPE_FLOAT; v->as.f = x; }
static inline void twgo_set_d(tw_value *v, double x) { v->type = TW_TYPE_DOUBLE; v->as.d = x; }
static inline void twgo_set_dt(tw_value *v, int64_t x) { v->type = TW_TYPE_DATETIME; v->as.i = x; }
static inline void twgo_set_buf(tw_value *v, tw_type t, const void *p, size_t n) {
    v->type = t; v->as.buf.ptr = p; v->as.buf.len = n;
}

/* Registration helpers: `h` is a cgo.Handle (0 = remove). */
void twgo_tag_set_write_callback(tw_tag *tag, uintptr_t h);
void twgo_tagset_set_write_callback(tw_tagset *ts, uintptr_t h);
void twgo_tagset_set_notify(tw_tagset *ts, uintptr_t h);
void twgo_set_log(uintptr_t h, tw_log_level level);
tw_status twgo_poller_add_group(tw_poller *p, uint32_t *group, tw_device *dev, uint32_t rate_ms,
                                const uint32_t *ids, size_t n, uintptr_t h);
tw_adapter_ops *twgo_adapter_ops_new(const char *scheme, const char *summary);
tw_status twgo_adapter_register(const tw_adapter_ops *ops, uintptr_t h);
void twgo_mqtt_set_callbacks(tw_mqtt_client *c, uintptr_t h);
tw_status twgo_opcua_browse(const char *uri, const char *node_id, uint32_t timeout_ms, uintptr_t h);
void twgo_https_set_reject(tw_https_options *o, uintptr_t h);
#endif
