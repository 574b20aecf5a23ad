/* OPC UA adapter "opcua://HOST:PORT[/path]" on open62541 1.4 (client side).
 *  - reads: one Read request for a whole batch (split only when the server answers
 *    BadTooManyOperations), StatusCode -> quality 1:1, source timestamp kept;
 *  - writes: the value is converted to the node's own built-in type (learned from reads);
 *  - push: one subscription with a monitored item per subscribed item; the caller polls the
 *    connection's socket (fds) and calls process(), which runs open62541's event loop once;
 *  - security None or Sign/SignAndEncrypt (Basic256Sha256, Aes128_Sha256_RsaOaep) with the
 *    node's certificate, anonymous or username identity;
 *  - reconnect with back-off; open62541 re-activates the old session on a new SecureChannel when
 *    the server still has it (session recovery); a lost subscription is re-created.
 * SPDX-License-Identifier: Apache-2.0 */
#include <open62541/client.h>
#include <open62541/client_config_default.h>
#include <open62541/client_highlevel.h>
#include <open62541/client_subscriptions.h>
#include <open62541/plugin/eventloop.h>
#include <open62541/plugin/log.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "opcua_address.h"
#include "opcua_internal.h"

#define MOD "opcua"

typedef struct ua_item {
    ua_addr a;
    UA_NodeId node;
    const UA_DataType *ua_type; /* the node's value type, learned from reads (for writes) */
} ua_item;

typedef struct ua_ctx {
    tw__opcua_conf conf;
    UA_Client *client;
    UA_Logger logger;
    uint32_t attempts;
    int64_t next_connect_ms;
    int was_connected;
    tw_device_stats st;
    double rtt_acc;
    UA_ReadValueId *rv;
    void **rv_items; /* the items rv was built for */
    tw_type *rv_types; /* ... and their declared types */
    int learn;         /* read_chunk records the nodes' value types (write path) */
    size_t rv_cap, rv_valid;
    /* push */
    ua_item **sub_items;
    size_t nsub;
    tw_adapter_push_fn push_fn;
    void *push_data;
    int sub_wanted, sub_active, resubscribe;
    UA_UInt32 sub_id;
    char *push_buf;
    size_t push_buf_size;
    int fd; /* the TCP socket of the SecureChannel, -1 when none */
} ua_ctx;

/* ---- logging: open62541 -> tw__log ---- */

static void ua_log(void *lctx, UA_LogLevel level, UA_LogCategory cat, const char *msg, va_list args)
{
    (void)lctx;
    (void)cat;
    tw_log_level l = level >= UA_LOGLEVEL_ERROR ? TW_LOG_WARN : level >= UA_LOGLEVEL_WARNING ? TW_LOG_INFO
                     : level >= UA_LOGLEVEL_INFO ? TW_LOG_DEBUG : TW_LOG_TRACE;
    if (!tw__log_enabled(l)) return; /* open62541 logs every request at debug level: filter first */
    char buf[512];
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    vsnprintf(buf, sizeof buf, msg, args); /* open62541's own format strings */
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    tw__log(l, MOD, "open62541: %s", buf);
}

void tw__opcua_logger(UA_Logger *lg)
{
    lg->log = ua_log;
    lg->context = NULL;
    lg->clear = NULL;
}

/* ---- the SecureChannel's socket, for fds(): wrap the TCP connection manager's openConnection ---- */

typedef UA_StatusCode (*open_fn)(UA_ConnectionManager *, const UA_KeyValueMap *, void *, void *,
                                 UA_ConnectionManager_connectionCallback);
static open_fn g_tcp_open; /* the same function for every POSIX TCP connection manager */
static pthread_mutex_t g_tcp_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct fd_wrap {
    UA_ConnectionManager_connectionCallback cb;
    void *inner;
    int *fd_slot;
} fd_wrap;

static void wrap_cb(UA_ConnectionManager *cm, uintptr_t id, void *app, void **cctx, UA_ConnectionState state,
                    const UA_KeyValueMap *params, UA_ByteString msg)
{
    fd_wrap *w = *cctx;
    if (!w) return; /* after the final CLOSING callback (not expected) */
    if (state == UA_CONNECTIONSTATE_OPENING || state == UA_CONNECTIONSTATE_ESTABLISHED) *w->fd_slot = (int)id;
    else if (state == UA_CONNECTIONSTATE_CLOSING || state == UA_CONNECTIONSTATE_CLOSED) *w->fd_slot = -1;
    void *inner = w->inner;
    w->cb(cm, id, app, &inner, state, params, msg);
    w->inner = inner;
    if (state == UA_CONNECTIONSTATE_CLOSING || state == UA_CONNECTIONSTATE_CLOSED) {
        tw__free(w);
        *cctx = NULL;
    }
}

static UA_StatusCode wrap_open(UA_ConnectionManager *cm, const UA_KeyValueMap *params, void *app, void *cctx,
                               UA_ConnectionManager_connectionCallback cb)
{
    UA_Client *client = app;
    ua_ctx *c = client ? UA_Client_getContext(client) : NULL;
    if (!c) return g_tcp_open(cm, params, app, cctx, cb);
    fd_wrap *w = tw__calloc(1, sizeof *w);
    if (!w) return UA_STATUSCODE_BADOUTOFMEMORY;
    w->cb = cb;
    w->inner = cctx;
    w->fd_slot = &c->fd;
    UA_StatusCode sc = g_tcp_open(cm, params, app, w, wrap_cb);
    if (sc != UA_STATUSCODE_GOOD) tw__free(w); /* no callback follows a failed open */
    return sc;
}

static void hook_tcp(UA_ClientConfig *cc)
{
    if (!cc->eventLoop) return;
    for (UA_EventSource *es = cc->eventLoop->eventSources; es; es = es->next) {
        if (es->eventSourceType != UA_EVENTSOURCETYPE_CONNECTIONMANAGER) continue;
        UA_ConnectionManager *cm = (UA_ConnectionManager *)es;
        UA_String tcp = UA_STRING("tcp");
        if (!UA_String_equal(&cm->protocol, &tcp)) continue;
        pthread_mutex_lock(&g_tcp_lock);
        if (cm->openConnection != wrap_open) {
            if (!g_tcp_open) g_tcp_open = cm->openConnection;
            if (cm->openConnection == g_tcp_open) cm->openConnection = wrap_open;
        }
        pthread_mutex_unlock(&g_tcp_lock);
    }
}

/* ---- conversions ---- */

static int64_t ua_time_ns(UA_DateTime t)
{
    /* 100 ns ticks since 1601 -> ns since 1970 */
    int64_t d = (int64_t)t - (int64_t)UA_DATETIME_UNIX_EPOCH;
    if (d > INT64_MAX / 100 || d < INT64_MIN / 100) return 0;
    return d * 100;
}

static tw_quality status_to_quality(UA_StatusCode sc) { return (tw_quality)sc; }

/* UA scalar -> tw_value (strings point into the variant). Returns 0 when the type is not mapped.
 * Dispatches on the built-in type kind (structures and enumerations have kinds of their own). */
static int variant_value(const UA_Variant *v, tw_value *out)
{
    const void *d = v->data;
    switch ((UA_DataTypeKind)v->type->typeKind) {
    case UA_DATATYPEKIND_DOUBLE: out->type = TW_TYPE_DOUBLE; out->as.d = *(const UA_Double *)d; return 1;
    case UA_DATATYPEKIND_FLOAT: out->type = TW_TYPE_FLOAT; out->as.f = *(const UA_Float *)d; return 1;
    case UA_DATATYPEKIND_BOOLEAN: out->type = TW_TYPE_BOOL; out->as.b = *(const UA_Boolean *)d ? 1 : 0; return 1;
    case UA_DATATYPEKIND_SBYTE: out->type = TW_TYPE_INT8; out->as.i = *(const UA_SByte *)d; return 1;
    case UA_DATATYPEKIND_BYTE: out->type = TW_TYPE_UINT8; out->as.u = *(const UA_Byte *)d; return 1;
    case UA_DATATYPEKIND_INT16: out->type = TW_TYPE_INT16; out->as.i = *(const UA_Int16 *)d; return 1;
    case UA_DATATYPEKIND_UINT16: out->type = TW_TYPE_UINT16; out->as.u = *(const UA_UInt16 *)d; return 1;
    case UA_DATATYPEKIND_INT32: out->type = TW_TYPE_INT32; out->as.i = *(const UA_Int32 *)d; return 1;
    case UA_DATATYPEKIND_UINT32:
    case UA_DATATYPEKIND_STATUSCODE: out->type = TW_TYPE_UINT32; out->as.u = *(const UA_UInt32 *)d; return 1;
    case UA_DATATYPEKIND_INT64: out->type = TW_TYPE_INT64; out->as.i = *(const UA_Int64 *)d; return 1;
    case UA_DATATYPEKIND_UINT64: out->type = TW_TYPE_UINT64; out->as.u = *(const UA_UInt64 *)d; return 1;
    case UA_DATATYPEKIND_DATETIME: out->type = TW_TYPE_DATETIME; out->as.i = ua_time_ns(*(const UA_DateTime *)d); return 1;
    case UA_DATATYPEKIND_STRING:
    case UA_DATATYPEKIND_XMLELEMENT: {
        const UA_String *s = d;
        out->type = TW_TYPE_STRING;
        out->as.buf.ptr = s->data;
        out->as.buf.len = s->length;
        return 1;
    }
    case UA_DATATYPEKIND_BYTESTRING: {
        const UA_ByteString *s = d;
        out->type = TW_TYPE_BYTES;
        out->as.buf.ptr = s->data;
        out->as.buf.len = s->length;
        return 1;
    }
    case UA_DATATYPEKIND_LOCALIZEDTEXT: {
        const UA_LocalizedText *s = d;
        out->type = TW_TYPE_STRING;
        out->as.buf.ptr = s->text.data;
        out->as.buf.len = s->text.length;
        return 1;
    }
    default: return 0;
    }
}

/* One DataValue -> one result converted to `want`. *seen (may be NULL) receives the value's UA type. */
static void dv_to_result(const UA_DataValue *dv, tw_type want, tw_adapter_result *r, const UA_DataType **seen)
{
    r->timestamp_ns = dv->hasSourceTimestamp ? ua_time_ns(dv->sourceTimestamp)
                      : dv->hasServerTimestamp ? ua_time_ns(dv->serverTimestamp) : 0;
    tw_quality q = dv->hasStatus ? status_to_quality(dv->status) : TW_QUALITY_GOOD;
    if (TW_QUALITY_IS_BAD(q)) {
        r->quality = q;
        return;
    }
    if (!dv->hasValue || UA_Variant_isEmpty(&dv->value)) {
        r->quality = 0x809B0000u; /* BadNoData */
        return;
    }
    if (!UA_Variant_isScalar(&dv->value)) {
        r->quality = TW_QUALITY_BAD_TYPE_MISMATCH; /* arrays: not yet */
        return;
    }
    tw_value v;
    if (!variant_value(&dv->value, &v)) {
        r->quality = TW_QUALITY_BAD_TYPE_MISMATCH;
        return;
    }
    if (seen) *seen = dv->value.type;
    if (v.type == want && v.type != TW_TYPE_STRING && v.type != TW_TYPE_BYTES) { /* the common case */
        r->value = v;
        r->quality = q;
        return;
    }
    tw_value c;
    tw_status st = tw_value_convert(&c, &v, want);
    if (st != TW_OK) {
        r->quality = st == TW_ERR_RANGE ? TW_QUALITY_BAD_OUT_OF_RANGE : TW_QUALITY_BAD_TYPE_MISMATCH;
        return;
    }
    if (c.type == TW_TYPE_STRING || c.type == TW_TYPE_BYTES) {
        if (c.as.buf.len > r->buf_size || (c.as.buf.len && !r->buf)) {
            r->quality = TW_QUALITY_BAD_OUT_OF_RANGE;
            return;
        }
        if (c.as.buf.len) memcpy(r->buf, c.as.buf.ptr, c.as.buf.len);
        c.as.buf.ptr = r->buf;
    }
    r->value = c;
    r->quality = q;
}

/* ---- connection ---- */

static int link_status(UA_StatusCode sc)
{
    return sc == UA_STATUSCODE_BADCONNECTIONCLOSED || sc == UA_STATUSCODE_BADSECURECHANNELCLOSED ||
           sc == UA_STATUSCODE_BADSESSIONCLOSED || sc == UA_STATUSCODE_BADSESSIONIDINVALID ||
           sc == UA_STATUSCODE_BADTIMEOUT || sc == UA_STATUSCODE_BADCOMMUNICATIONERROR ||
           sc == UA_STATUSCODE_BADNOTCONNECTED || sc == UA_STATUSCODE_BADSERVERNOTCONNECTED ||
           sc == UA_STATUSCODE_BADDISCONNECT || sc == UA_STATUSCODE_BADCONNECTIONREJECTED ||
           sc == UA_STATUSCODE_BADSECURECHANNELIDINVALID || sc == UA_STATUSCODE_BADINTERNALERROR ||
           sc == UA_STATUSCODE_BADREQUESTINTERRUPTED || sc == UA_STATUSCODE_BADSHUTDOWN;
}

static int session_up(ua_ctx *c)
{
    UA_SecureChannelState cs;
    UA_SessionState ss;
    UA_StatusCode cst;
    UA_Client_getState(c->client, &cs, &ss, &cst);
    return ss == UA_SESSIONSTATE_ACTIVATED;
}

static void note_link(ua_ctx *c)
{
    int up = session_up(c);
    if (c->was_connected && !up) {
        c->st.disconnects++;
        c->resubscribe = 1;
    }
    c->was_connected = up;
}

static tw_status ensure_connected(ua_ctx *c, char *err, size_t errlen)
{
    if (session_up(c)) return TW_OK;
    note_link(c);
    int64_t now = tw__mono_ms();
    if (now < c->next_connect_ms) {
        snprintf(err, errlen, "%s: not connected (next attempt in %lld ms)", c->conf.endpoint,
                 (long long)(c->next_connect_ms - now));
        return TW_ERR_CLOSED;
    }
    UA_StatusCode sc = UA_Client_connect(c->client, c->conf.endpoint);
    if (sc != UA_STATUSCODE_GOOD || !session_up(c)) {
        c->st.connect_failures++;
        uint32_t delay = tw__backoff_ms(c->attempts, c->conf.backoff_min_ms, c->conf.backoff_max_ms, NULL, NULL);
        if (delay < c->conf.backoff_min_ms / 2) delay = c->conf.backoff_min_ms / 2;
        c->attempts++;
        c->next_connect_ms = tw__mono_ms() + delay;
        snprintf(err, errlen, "connect to %s failed: %s (retry in %u ms)", c->conf.endpoint, UA_StatusCode_name(sc),
                 (unsigned)delay);
        UA_Client_disconnect(c->client);
        c->sub_active = 0;
        return tw__opcua_status(sc);
    }
    c->attempts = 0;
    c->st.connects++;
    c->was_connected = 1;
    tw__log(TW_LOG_INFO, MOD, "%s: session active", c->conf.endpoint);
    return TW_OK;
}

static void record_rtt(ua_ctx *c, int64_t rtt)
{
    c->st.responses++;
    c->st.last_rtt_ns = rtt;
    if (rtt > c->st.max_rtt_ns) c->st.max_rtt_ns = rtt;
    c->rtt_acc += ((double)rtt - c->rtt_acc) / (double)c->st.responses;
    c->st.mean_rtt_ns = (int64_t)c->rtt_acc;
}

/* ---- adapter ops ---- */

static tw_status op_parse(void *reg_data, const char *address, void **item, tw_adapter_item_info *info, char *err,
                          size_t errlen)
{
    (void)reg_data;
    ua_addr a;
    tw_status st = tw__opcua_parse_address(address, &a, err, errlen);
    if (st != TW_OK) return st;
    info->type = a.type;
    info->max_bytes = a.max_bytes;
    info->writable = 1;
    if (!item) {
        tw__opcua_addr_free(&a);
        return TW_OK;
    }
    ua_item *it = tw__calloc(1, sizeof *it);
    if (!it) {
        tw__opcua_addr_free(&a);
        return TW_ERR_NOMEM;
    }
    it->a = a;
    if (tw__opcua_addr_to_nodeid(&it->a, &it->node) != TW_OK) {
        tw__opcua_addr_free(&it->a);
        tw__free(it);
        return TW_ERR_NOMEM;
    }
    *item = it;
    return TW_OK;
}

static void op_free_item(void *reg_data, void *item)
{
    (void)reg_data;
    ua_item *it = item;
    if (!it) return;
    UA_NodeId_clear(&it->node);
    tw__opcua_addr_free(&it->a);
    tw__free(it);
}

static tw_status read_chunk(ua_ctx *c, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen,
                            int depth)
{
    /* The request array is rebuilt only when the batch differs from the previous one (a poll group
     * reads the same items every cycle). */
    int same = c->rv_valid == n;
    for (size_t i = 0; same && i < n; i++) same = c->rv_items[i] == items[i];
    if (!same) {
        for (size_t i = 0; i < n; i++) {
            UA_ReadValueId *r = &c->rv[i];
            memset(r, 0, sizeof *r);
            r->nodeId = ((ua_item *)items[i])->node; /* shallow: never cleared */
            r->attributeId = UA_ATTRIBUTEID_VALUE;
            c->rv_items[i] = items[i];
            c->rv_types[i] = ((ua_item *)items[i])->a.type;
        }
        c->rv_valid = n;
    }
    UA_ReadRequest req;
    UA_ReadRequest_init(&req);
    req.nodesToRead = c->rv;
    req.nodesToReadSize = n;
    req.timestampsToReturn = UA_TIMESTAMPSTORETURN_BOTH;
    c->st.requests++;
    int64_t t0 = tw__mono_ns();
    UA_ReadResponse resp = UA_Client_Service_read(c->client, req);
    UA_StatusCode sc = resp.responseHeader.serviceResult;
    tw_status st = TW_OK;
    if (sc == UA_STATUSCODE_GOOD && resp.resultsSize != n) {
        c->st.protocol_errors++;
        snprintf(err, errlen, "%s: Read answered %zu results for %zu nodes", c->conf.endpoint, resp.resultsSize, n);
        for (size_t i = 0; i < n; i++) res[i].quality = TW_QUALITY_BAD_COMM_FAILURE;
        st = TW_ERR_PROTOCOL;
    } else if (sc == UA_STATUSCODE_GOOD) {
        record_rtt(c, tw__mono_ns() - t0);
        if (c->learn) {
            for (size_t i = 0; i < n; i++) dv_to_result(&resp.results[i], c->rv_types[i], &res[i], &((ua_item *)items[i])->ua_type);
        } else {
            for (size_t i = 0; i < n; i++) dv_to_result(&resp.results[i], c->rv_types[i], &res[i], NULL);
        }
    } else if (sc == UA_STATUSCODE_BADTOOMANYOPERATIONS && n > 1 && depth < 16) {
        record_rtt(c, tw__mono_ns() - t0);
        UA_ReadResponse_clear(&resp);
        size_t h = n / 2;
        tw_status a = read_chunk(c, items, h, res, err, errlen, depth + 1);
        if (a == TW_ERR_CLOSED || a == TW_ERR_TIMEOUT) {
            for (size_t i = h; i < n; i++) res[i].quality = TW_QUALITY_BAD_NOT_CONNECTED;
            return a;
        }
        tw_status b = read_chunk(c, items + h, n - h, res + h, err, errlen, depth + 1);
        return a != TW_OK ? a : b;
    } else {
        if (sc == UA_STATUSCODE_BADTIMEOUT) c->st.timeouts++;
        else c->st.exceptions++;
        snprintf(err, errlen, "%s: Read failed: %s", c->conf.endpoint, UA_StatusCode_name(sc));
        for (size_t i = 0; i < n; i++) res[i].quality = link_status(sc) ? TW_QUALITY_BAD_COMM_FAILURE : status_to_quality(sc);
        st = tw__opcua_status(sc);
        note_link(c);
    }
    UA_ReadResponse_clear(&resp);
    return st;
}

static tw_status op_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen)
{
    ua_ctx *c = ctx;
    tw_status st = ensure_connected(c, err, errlen);
    if (st != TW_OK) {
        for (size_t i = 0; i < n; i++) res[i].quality = TW_QUALITY_BAD_NOT_CONNECTED;
        return st;
    }
    if (n > c->rv_cap) {
        UA_ReadValueId *nr = tw__realloc(c->rv, n * sizeof *nr);
        if (!nr) return TW_ERR_NOMEM;
        c->rv = nr;
        void **ni = tw__realloc(c->rv_items, n * sizeof *ni);
        if (!ni) return TW_ERR_NOMEM;
        c->rv_items = ni;
        tw_type *nt = tw__realloc(c->rv_types, n * sizeof *nt);
        if (!nt) return TW_ERR_NOMEM;
        c->rv_types = nt;
        c->rv_cap = n;
        c->rv_valid = 0;
    }
    return read_chunk(c, items, n, res, err, errlen, 0);
}

/* The UA type a tw type is written as when the node's own type is not known. */
static const UA_DataType *ua_type_for(tw_type t)
{
    switch (t) {
    case TW_TYPE_BOOL: return &UA_TYPES[UA_TYPES_BOOLEAN];
    case TW_TYPE_INT8: return &UA_TYPES[UA_TYPES_SBYTE];
    case TW_TYPE_INT16: return &UA_TYPES[UA_TYPES_INT16];
    case TW_TYPE_INT32: return &UA_TYPES[UA_TYPES_INT32];
    case TW_TYPE_INT64: return &UA_TYPES[UA_TYPES_INT64];
    case TW_TYPE_UINT8: return &UA_TYPES[UA_TYPES_BYTE];
    case TW_TYPE_UINT16: return &UA_TYPES[UA_TYPES_UINT16];
    case TW_TYPE_UINT32: return &UA_TYPES[UA_TYPES_UINT32];
    case TW_TYPE_UINT64: return &UA_TYPES[UA_TYPES_UINT64];
    case TW_TYPE_FLOAT: return &UA_TYPES[UA_TYPES_FLOAT];
    case TW_TYPE_DOUBLE: return &UA_TYPES[UA_TYPES_DOUBLE];
    case TW_TYPE_STRING: return &UA_TYPES[UA_TYPES_STRING];
    case TW_TYPE_BYTES: return &UA_TYPES[UA_TYPES_BYTESTRING];
    case TW_TYPE_DATETIME: return &UA_TYPES[UA_TYPES_DATETIME];
    default: return NULL;
    }
}

static tw_type tw_type_for(const UA_DataType *t)
{
    for (int i = 1; i < TW_TYPE_MAX_; i++)
        if (ua_type_for((tw_type)i) == t) return (tw_type)i;
    if (t == &UA_TYPES[UA_TYPES_LOCALIZEDTEXT] || t == &UA_TYPES[UA_TYPES_XMLELEMENT]) return TW_TYPE_NONE;
    return TW_TYPE_NONE;
}

static tw_status op_write(void *ctx, void *item, const tw_value *v, char *err, size_t errlen)
{
    ua_ctx *c = ctx;
    ua_item *it = item;
    tw_status st = ensure_connected(c, err, errlen);
    if (st != TW_OK) return st;
    if (!it->ua_type) {
        /* learn the node's value type once (written values must carry it exactly) */
        tw_adapter_result r;
        memset(&r, 0, sizeof r);
        char tmp[8];
        r.buf = tmp;
        r.buf_size = 0;
        r.quality = TW_QUALITY_BAD;
        void *one[1] = {it};
        if (!c->rv_cap) {
            c->rv = tw__malloc(sizeof *c->rv);
            c->rv_items = tw__malloc(sizeof *c->rv_items);
            c->rv_types = tw__malloc(sizeof *c->rv_types);
            if (!c->rv || !c->rv_items || !c->rv_types) return TW_ERR_NOMEM;
            c->rv_cap = 1;
            c->rv_valid = 0;
        }
        c->learn = 1;
        st = read_chunk(c, one, 1, &r, err, errlen, 0);
        c->learn = 0;
        if (st != TW_OK) return st;
        if (!it->ua_type) it->ua_type = ua_type_for(it->a.type);
    }
    tw_type target = tw_type_for(it->ua_type);
    if (target == TW_TYPE_NONE) {
        snprintf(err, errlen, "node %s has value type %s, which tagwire cannot write", "item", it->ua_type->typeName);
        return TW_ERR_UNSUPPORTED;
    }
    tw_value cv;
    if ((st = tw_value_convert(&cv, v, target)) != TW_OK) {
        snprintf(err, errlen, "a %s value does not fit the node's %s", tw_type_name(v->type), it->ua_type->typeName);
        return st;
    }
    union {
        UA_Boolean b; UA_SByte i8; UA_Byte u8; UA_Int16 i16; UA_UInt16 u16; UA_Int32 i32; UA_UInt32 u32;
        UA_Int64 i64; UA_UInt64 u64; UA_Float f; UA_Double d; UA_String s; UA_DateTime dt;
    } sv;
    switch (target) {
    case TW_TYPE_BOOL: sv.b = cv.as.b ? true : false; break;
    case TW_TYPE_INT8: sv.i8 = (UA_SByte)cv.as.i; break;
    case TW_TYPE_UINT8: sv.u8 = (UA_Byte)cv.as.u; break;
    case TW_TYPE_INT16: sv.i16 = (UA_Int16)cv.as.i; break;
    case TW_TYPE_UINT16: sv.u16 = (UA_UInt16)cv.as.u; break;
    case TW_TYPE_INT32: sv.i32 = (UA_Int32)cv.as.i; break;
    case TW_TYPE_UINT32: sv.u32 = (UA_UInt32)cv.as.u; break;
    case TW_TYPE_INT64: sv.i64 = cv.as.i; break;
    case TW_TYPE_UINT64: sv.u64 = cv.as.u; break;
    case TW_TYPE_FLOAT: sv.f = cv.as.f; break;
    case TW_TYPE_DOUBLE: sv.d = cv.as.d; break;
    case TW_TYPE_STRING: case TW_TYPE_BYTES:
        sv.s.length = cv.as.buf.len;
        sv.s.data = (UA_Byte *)(uintptr_t)cv.as.buf.ptr;
        break;
    case TW_TYPE_DATETIME: sv.dt = cv.as.i / 100 + UA_DATETIME_UNIX_EPOCH; break;
    default: return TW_ERR_UNSUPPORTED;
    }
    UA_WriteValue wv;
    UA_WriteValue_init(&wv);
    wv.nodeId = it->node; /* shallow */
    wv.attributeId = UA_ATTRIBUTEID_VALUE;
    wv.value.hasValue = true;
    UA_Variant_setScalar(&wv.value.value, &sv, it->ua_type);
    wv.value.value.storageType = UA_VARIANT_DATA_NODELETE;
    UA_WriteRequest req;
    UA_WriteRequest_init(&req);
    req.nodesToWrite = &wv;
    req.nodesToWriteSize = 1;
    c->st.requests++;
    int64_t t0 = tw__mono_ns();
    UA_WriteResponse resp = UA_Client_Service_write(c->client, req);
    UA_StatusCode sc = resp.responseHeader.serviceResult;
    if (sc == UA_STATUSCODE_GOOD) {
        record_rtt(c, tw__mono_ns() - t0);
        sc = resp.resultsSize == 1 ? resp.results[0] : UA_STATUSCODE_BADUNEXPECTEDERROR;
        if (sc != UA_STATUSCODE_GOOD) c->st.exceptions++;
    } else {
        note_link(c);
    }
    UA_WriteResponse_clear(&resp);
    if (sc != UA_STATUSCODE_GOOD) {
        snprintf(err, errlen, "%s: Write failed: %s", c->conf.endpoint, UA_StatusCode_name(sc));
        return sc == UA_STATUSCODE_BADUSERACCESSDENIED || sc == UA_STATUSCODE_BADNOTWRITABLE ? TW_ERR_PERMISSION
               : sc == UA_STATUSCODE_BADTYPEMISMATCH ? TW_ERR_TYPE_MISMATCH
               : sc == UA_STATUSCODE_BADOUTOFRANGE ? TW_ERR_RANGE
               : tw__opcua_status(sc);
    }
    return TW_OK;
}

/* ---- subscriptions ---- */

static void on_data_change(UA_Client *client, UA_UInt32 sub_id, void *sub_ctx, UA_UInt32 mon_id, void *mon_ctx,
                           UA_DataValue *value)
{
    (void)client;
    (void)sub_id;
    (void)mon_id;
    ua_ctx *c = sub_ctx;
    size_t idx = (size_t)(uintptr_t)mon_ctx;
    if (!c || idx >= c->nsub || !c->push_fn) return;
    tw_adapter_result r;
    memset(&r, 0, sizeof r);
    r.quality = TW_QUALITY_BAD;
    r.buf = c->push_buf;
    r.buf_size = c->push_buf_size;
    dv_to_result(value, c->sub_items[idx]->a.type, &r, NULL);
    c->push_fn(idx, &r, c->push_data);
}

static void on_sub_status(UA_Client *client, UA_UInt32 sub_id, void *sub_ctx, UA_StatusChangeNotification *n)
{
    (void)client;
    ua_ctx *c = sub_ctx;
    if (c && sub_id == c->sub_id && n && n->status != UA_STATUSCODE_GOOD) c->sub_active = 0;
}

static void on_sub_deleted(UA_Client *client, UA_UInt32 sub_id, void *sub_ctx)
{
    (void)client;
    ua_ctx *c = sub_ctx;
    if (c && sub_id == c->sub_id) c->sub_active = 0;
}

static void push_all_bad(ua_ctx *c, tw_quality q)
{
    for (size_t i = 0; i < c->nsub; i++) {
        tw_adapter_result r;
        memset(&r, 0, sizeof r);
        r.quality = q;
        c->push_fn(i, &r, c->push_data);
    }
}

static tw_status create_subscription(ua_ctx *c, char *err, size_t errlen)
{
    UA_CreateSubscriptionRequest req = UA_CreateSubscriptionRequest_default();
    req.requestedPublishingInterval = c->conf.publish_ms;
    req.requestedMaxKeepAliveCount = 10;
    req.requestedLifetimeCount = 100;
    UA_CreateSubscriptionResponse resp = UA_Client_Subscriptions_create(c->client, req, c, on_sub_status, on_sub_deleted);
    UA_StatusCode sc = resp.responseHeader.serviceResult;
    if (sc != UA_STATUSCODE_GOOD) {
        snprintf(err, errlen, "%s: CreateSubscription failed: %s", c->conf.endpoint, UA_StatusCode_name(sc));
        UA_CreateSubscriptionResponse_clear(&resp);
        return tw__opcua_status(sc);
    }
    c->sub_id = resp.subscriptionId;
    c->sub_active = 1;
    c->resubscribe = 0;
    UA_CreateSubscriptionResponse_clear(&resp);
    const size_t chunk = 1000;
    tw_status first = TW_OK;
    for (size_t base = 0; base < c->nsub; base += chunk) {
        size_t k = TW__MIN(chunk, c->nsub - base);
        UA_MonitoredItemCreateRequest *mi = tw__calloc(k, sizeof *mi);
        void **ctxs = tw__calloc(k, sizeof *ctxs);
        UA_Client_DataChangeNotificationCallback *cbs = tw__calloc(k, sizeof *cbs);
        if (!mi || !ctxs || !cbs) {
            tw__free(mi);
            tw__free(ctxs);
            tw__free(cbs);
            return TW_ERR_NOMEM;
        }
        for (size_t j = 0; j < k; j++) {
            mi[j] = UA_MonitoredItemCreateRequest_default(c->sub_items[base + j]->node); /* shallow */
            mi[j].requestedParameters.samplingInterval = c->conf.sampling_ms;
            mi[j].requestedParameters.queueSize = c->conf.queue_size;
            mi[j].requestedParameters.discardOldest = true;
            ctxs[j] = (void *)(uintptr_t)(base + j);
            cbs[j] = on_data_change;
        }
        UA_CreateMonitoredItemsRequest mreq;
        UA_CreateMonitoredItemsRequest_init(&mreq);
        mreq.subscriptionId = c->sub_id;
        mreq.timestampsToReturn = UA_TIMESTAMPSTORETURN_BOTH;
        mreq.itemsToCreate = mi;
        mreq.itemsToCreateSize = k;
        c->st.requests++;
        UA_CreateMonitoredItemsResponse mresp = UA_Client_MonitoredItems_createDataChanges(c->client, mreq, ctxs, cbs, NULL);
        sc = mresp.responseHeader.serviceResult;
        if (sc == UA_STATUSCODE_GOOD && mresp.resultsSize == k) {
            for (size_t j = 0; j < k; j++) {
                UA_StatusCode isc = mresp.results[j].statusCode;
                if (isc != UA_STATUSCODE_GOOD) {
                    tw_adapter_result r;
                    memset(&r, 0, sizeof r);
                    r.quality = status_to_quality(isc);
                    c->push_fn(base + j, &r, c->push_data);
                    if (first == TW_OK) {
                        snprintf(err, errlen, "monitored item %zu: %s", base + j, UA_StatusCode_name(isc));
                        first = TW_ERR_ADAPTER;
                    }
                }
            }
        } else if (first == TW_OK) {
            snprintf(err, errlen, "%s: CreateMonitoredItems failed: %s", c->conf.endpoint, UA_StatusCode_name(sc));
            first = tw__opcua_status(sc ? sc : UA_STATUSCODE_BADUNEXPECTEDERROR);
        }
        UA_CreateMonitoredItemsResponse_clear(&mresp);
        tw__free(mi);
        tw__free(ctxs);
        tw__free(cbs);
    }
    tw__log(TW_LOG_INFO, MOD, "%s: subscription %u with %zu monitored items (publishing every %.0f ms)",
            c->conf.endpoint, (unsigned)c->sub_id, c->nsub, c->conf.publish_ms);
    return first == TW_ERR_ADAPTER ? TW_OK : first;
}

static tw_status op_subscribe(void *ctx, void *const *items, size_t n, tw_adapter_push_fn fn, void *push_data, char *err,
                              size_t errlen)
{
    ua_ctx *c = ctx;
    ua_item **cp = tw__malloc(n * sizeof *cp);
    if (!cp) return TW_ERR_NOMEM;
    size_t maxb = 1;
    for (size_t i = 0; i < n; i++) {
        cp[i] = items[i];
        if (cp[i]->a.max_bytes > maxb) maxb = cp[i]->a.max_bytes;
    }
    char *pb = tw__malloc(maxb);
    if (!pb) {
        tw__free(cp);
        return TW_ERR_NOMEM;
    }
    if (c->sub_active && session_up(c)) {
        UA_Client_Subscriptions_deleteSingle(c->client, c->sub_id);
        c->sub_active = 0;
    }
    tw__free(c->sub_items);
    tw__free(c->push_buf);
    c->sub_items = cp;
    c->nsub = n;
    c->push_buf = pb;
    c->push_buf_size = maxb;
    c->push_fn = fn;
    c->push_data = push_data;
    c->sub_wanted = 1;
    tw_status st = ensure_connected(c, err, errlen);
    if (st != TW_OK) {
        /* kept: process() creates the subscription once the server is reachable */
        push_all_bad(c, TW_QUALITY_BAD_NOT_CONNECTED);
        return TW_OK;
    }
    return create_subscription(c, err, errlen);
}

static int op_fds(void *ctx, int *fds, unsigned *events, int max)
{
    ua_ctx *c = ctx;
    if (c->fd < 0 || max < 1) return 0;
    fds[0] = c->fd;
    events[0] = TW_POLL_IN;
    return 1;
}

static tw_status op_process(void *ctx, char *err, size_t errlen)
{
    ua_ctx *c = ctx;
    int up_before = c->was_connected;
    if (!session_up(c)) {
        /* open62541 re-opens a lost SecureChannel by itself while it can; once the channel is closed
         * (the server went away and refused), connect again here, with back-off */
        UA_SecureChannelState cs;
        UA_SessionState ss;
        UA_StatusCode cst;
        UA_Client_getState(c->client, &cs, &ss, &cst);
        if (cs == UA_SECURECHANNELSTATE_CLOSED) {
            tw_status st = ensure_connected(c, err, errlen);
            if (st != TW_OK) {
                if (up_before && c->sub_wanted) push_all_bad(c, TW_QUALITY_BAD_NOT_CONNECTED);
                return st == TW_ERR_CLOSED ? TW_OK : st; /* waiting for the next attempt is not an error */
            }
        }
    }
    UA_StatusCode sc = UA_Client_run_iterate(c->client, 0);
    note_link(c);
    if (up_before && !c->was_connected && c->sub_wanted) push_all_bad(c, TW_QUALITY_BAD_NOT_CONNECTED);
    if (c->was_connected && c->sub_wanted && (!c->sub_active || c->resubscribe)) {
        /* after a loss the server may or may not still hold our subscription (a recovered session
         * keeps it, a restarted server does not): drop whatever is left and create it afresh */
        if (c->sub_active) UA_Client_Subscriptions_deleteSingle(c->client, c->sub_id);
        c->sub_active = 0;
        c->resubscribe = 0;
        tw_status st = create_subscription(c, err, errlen);
        if (st != TW_OK) return st;
    }
    if (sc != UA_STATUSCODE_GOOD && !link_status(sc)) {
        snprintf(err, errlen, "%s: %s", c->conf.endpoint, UA_StatusCode_name(sc));
        return tw__opcua_status(sc);
    }
    return TW_OK;
}

static void op_stats(void *ctx, tw_device_stats *out)
{
    ua_ctx *c = ctx;
    uint32_t v = out->version;
    *out = c->st;
    out->version = v;
    out->connected = session_up(c);
}

static void op_close(void *ctx)
{
    ua_ctx *c = ctx;
    if (!c) return;
    if (c->client) {
        UA_Client_disconnect(c->client);
        UA_Client_delete(c->client);
    }
    tw__opcua_conf_free(&c->conf);
    tw__free(c->rv);
    tw__free(c->rv_items);
    tw__free(c->rv_types);
    tw__free(c->sub_items);
    tw__free(c->push_buf);
    tw__free(c);
}

static tw_status op_open(void *reg_data, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                         size_t errlen)
{
    (void)reg_data;
    if (o->transport) {
        snprintf(err, errlen, "opcua:// does not take a transport (security is configured by URI parameters)");
        return TW_ERR_CONFIG;
    }
    ua_ctx *c = tw__calloc(1, sizeof *c);
    if (!c) return TW_ERR_NOMEM;
    c->fd = -1;
    tw_status st = tw__opcua_conf_parse(&c->conf, u, o, err, errlen);
    if (st != TW_OK) {
        tw__free(c);
        return st;
    }
    if (c->conf.mode == UA_MESSAGESECURITYMODE_NONE)
        tw__log(TW_LOG_INFO, MOD, "%s: security=none: messages are neither signed nor encrypted and the server is not "
                "authenticated", c->conf.endpoint);
    tw__opcua_logger(&c->logger);
    st = tw__opcua_client_new(&c->client, &c->conf, &c->logger, c, err, errlen);
    if (st != TW_OK) {
        tw__opcua_conf_free(&c->conf);
        tw__free(c);
        return st;
    }
    hook_tcp(UA_Client_getConfig(c->client));
    *ctx = c;
    return TW_OK;
}

static const tw_adapter_ops k_ua_ops = {TW_ADAPTER_OPS_VERSION, "opcua", "OPC UA client (open62541 1.4)", op_parse,
                                        op_free_item, op_open, op_close, op_read, op_write, op_stats, op_subscribe,
                                        op_fds, op_process};

void tw__opcua_register_builtins(tw__reg_add_fn add) { (void)add(&k_ua_ops, NULL); }
