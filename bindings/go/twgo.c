/* Trampolines from tagwire's C callbacks to the Go binding's exported functions. */
#include "twgo.h"
#include "_cgo_export.h"

static tw_status write_tramp(tw_tag *tag, const tw_value *value, void *ud)
{
    return (tw_status)twgoWriteCallback(tag, (tw_value *)value, (uintptr_t)ud);
}

void twgo_tag_set_write_callback(tw_tag *tag, uintptr_t h)
{
    tw_tag_set_write_cb(tag, h ? write_tramp : NULL, (void *)h);
}

void twgo_tagset_set_write_callback(tw_tagset *ts, uintptr_t h)
{
    tw_tagset_set_write_cb(ts, h ? write_tramp : NULL, (void *)h);
}

static void notify_tramp(tw_tagset *ts, void *ud) { twgoNotify(ts, (uintptr_t)ud); }

void twgo_tagset_set_notify(tw_tagset *ts, uintptr_t h)
{
    tw_tagset_set_notify(ts, h ? notify_tramp : NULL, (void *)h);
}

static void log_tramp(tw_log_level level, const char *module, const char *message, void *ud)
{
    twgoLog((int)level, (char *)module, (char *)message, (uintptr_t)ud);
}

void twgo_set_log(uintptr_t h, tw_log_level level)
{
    tw_set_log(h ? log_tramp : NULL, level, (void *)h);
}

static void poll_tramp(uint32_t group, const uint32_t *ids, const tw_sample *samples, size_t n, void *ud)
{
    twgoPoll(group, (uint32_t *)ids, (tw_sample *)samples, n, (uintptr_t)ud);
}

tw_status twgo_poller_add_group(tw_poller *p, uint32_t *group, tw_device *dev, uint32_t rate_ms,
                                const uint32_t *ids, size_t n, uintptr_t h)
{
    return tw_poller_add_group(p, group, dev, rate_ms, ids, n, poll_tramp, (void *)h);
}

/* ---- adapters implemented in Go: reg_data, items and contexts are cgo.Handles ---- */
static tw_status ad_parse(void *reg, const char *address, void **item, tw_adapter_item_info *info,
                          char *err, size_t errlen)
{
    uintptr_t it = 0;
    tw_status st = (tw_status)twgoAdapterParse((uintptr_t)reg, (char *)address, item ? &it : NULL,
                                              info, err, errlen);
    if (st == TW_OK && item) *item = (void *)it;
    return st;
}
static void ad_free_item(void *reg, void *item) { twgoHandleDelete((uintptr_t)item); }
static tw_status ad_open(void *reg, void **ctx, const tw_adapter_uri *uri, const tw_device_options *opts,
                         char *err, size_t errlen)
{
    uintptr_t c = 0;
    tw_status st = (tw_status)twgoAdapterOpen((uintptr_t)reg, &c, (tw_adapter_uri *)uri, err, errlen);
    if (st == TW_OK) *ctx = (void *)c;
    return st;
}
static void ad_close(void *ctx) { twgoAdapterClose((uintptr_t)ctx); }
static tw_status ad_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err,
                         size_t errlen)
{
    return (tw_status)twgoAdapterRead((uintptr_t)ctx, (void **)items, n, res, err, errlen);
}
static tw_status ad_write(void *ctx, void *item, const tw_value *value, char *err, size_t errlen)
{
    return (tw_status)twgoAdapterWrite((uintptr_t)ctx, (uintptr_t)item, (tw_value *)value, err, errlen);
}

tw_adapter_ops *twgo_adapter_ops_new(const char *scheme, const char *summary)
{
    tw_adapter_ops *ops = calloc(1, sizeof *ops);
    if (!ops) return NULL;
    ops->version = TW_ADAPTER_OPS_VERSION;
    ops->scheme = strdup(scheme);
    ops->summary = strdup(summary);
    ops->parse_address = ad_parse;
    ops->free_item = ad_free_item;
    ops->open = ad_open;
    ops->close = ad_close;
    ops->read = ad_read;
    ops->write = ad_write;
    return ops;
}

/* ---- MQTT ---- */
static void mq_msg(tw_mqtt_client *c, const tw_mqtt_message *m, void *ud)
{
    twgoMqttMessage((tw_mqtt_message *)m, (uintptr_t)ud);
}
static void mq_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    twgoMqttAck((tw_mqtt_ack *)a, (uintptr_t)ud);
}
static void mq_state(tw_mqtt_client *c, tw_mqtt_state s, tw_status reason, void *ud)
{
    twgoMqttState((int)s, (int)reason, (uintptr_t)ud);
}

void twgo_mqtt_set_callbacks(tw_mqtt_client *c, uintptr_t h)
{
    tw_mqtt_client_set_message_cb(c, h ? mq_msg : NULL, (void *)h);
    tw_mqtt_client_set_ack_cb(c, h ? mq_ack : NULL, (void *)h);
    tw_mqtt_client_set_state_cb(c, h ? mq_state : NULL, (void *)h);
}

tw_status twgo_adapter_register(const tw_adapter_ops *ops, uintptr_t h)
{
    return tw_adapter_register(ops, (void *)h);
}

static void browse_tramp(const tw_opcua_ref *ref, void *ud) { twgoBrowse((tw_opcua_ref *)ref, (uintptr_t)ud); }

tw_status twgo_opcua_browse(const char *uri, const char *node_id, uint32_t timeout_ms, uintptr_t h)
{
    return tw_opcua_browse(uri, node_id, timeout_ms, browse_tramp, (void *)h);
}

/* ---- HTTPS uplink: reject callback (user data = cgo.Handle) ---- */
static void https_reject_tramp(long status, const char *key, const void *body, size_t len,
                               uint64_t records, void *ud)
{
    twgoHTTPSReject(status, (char *)key, (void *)body, len, records, (uintptr_t)ud);
}

void twgo_https_set_reject(tw_https_options *o, uintptr_t h)
{
    o->reject_fn = h ? https_reject_tramp : NULL;
    o->reject_user_data = (void *)h;
}
