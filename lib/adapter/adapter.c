/* Adapter registry, URI parsing and the generic device layer. SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "adapter_internal.h"
#include "tagwire/tls.h"
#include "internal.h"
#include "tw_build_config.h"

#define MOD "adapter"
#define TW__MAX_ADAPTERS 32

/* ---- registry ---- */

typedef struct reg_entry {
    const tw_adapter_ops *ops;
    void *reg_data;
} reg_entry;

static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry g_reg[TW__MAX_ADAPTERS];
static size_t g_nreg;
static pthread_once_t g_builtins_once = PTHREAD_ONCE_INIT;

static tw_status reg_add_locked(const tw_adapter_ops *ops, void *reg_data)
{
    for (size_t i = 0; i < g_nreg; i++)
        if (!strcmp(g_reg[i].ops->scheme, ops->scheme)) return TW_ERR_EXISTS;
    if (g_nreg >= TW__MAX_ADAPTERS) return TW_ERR_FULL;
    g_reg[g_nreg].ops = ops;
    g_reg[g_nreg].reg_data = reg_data;
    g_nreg++;
    return TW_OK;
}

static void register_builtins(void)
{
    pthread_mutex_lock(&g_reg_lock);
#ifdef TW_HAVE_MODBUS
    tw__modbus_register_builtins(reg_add_locked);
#endif
#ifdef TW_HAVE_SIM
    tw__sim_register_builtins(reg_add_locked);
#endif
#ifdef TW_HAVE_OPCUA
    tw__opcua_register_builtins(reg_add_locked);
#endif
#ifdef TW_HAVE_S7
    tw__s7_register_builtins(reg_add_locked);
#endif
    pthread_mutex_unlock(&g_reg_lock);
}

tw_status tw_adapter_register(const tw_adapter_ops *ops, void *reg_data)
{
    if (!ops) return TW_ERR_INVALID_ARG;
    if (ops->version < 1) return TW_ERR_VERSION;
    if (!tw__uri_scheme_ok(ops->scheme) || !ops->parse_address || !ops->open || !ops->close || !ops->read)
        return TW_ERR_INVALID_ARG;
    pthread_once(&g_builtins_once, register_builtins);
    pthread_mutex_lock(&g_reg_lock);
    tw_status st = reg_add_locked(ops, reg_data);
    pthread_mutex_unlock(&g_reg_lock);
    return st;
}

tw_status tw_adapter_unregister(const char *scheme)
{
    if (!scheme) return TW_ERR_INVALID_ARG;
    pthread_once(&g_builtins_once, register_builtins);
    tw_status st = TW_ERR_NOT_FOUND;
    pthread_mutex_lock(&g_reg_lock);
    for (size_t i = 0; i < g_nreg; i++) {
        if (!strcmp(g_reg[i].ops->scheme, scheme)) {
            memmove(&g_reg[i], &g_reg[i + 1], (g_nreg - i - 1) * sizeof g_reg[0]);
            g_nreg--;
            st = TW_OK;
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_lock);
    return st;
}

static int reg_find(const char *scheme, size_t scheme_len, reg_entry *out)
{
    pthread_once(&g_builtins_once, register_builtins);
    int found = 0;
    pthread_mutex_lock(&g_reg_lock);
    for (size_t i = 0; i < g_nreg; i++) {
        const char *s = g_reg[i].ops->scheme;
        if (strlen(s) == scheme_len && !strncmp(s, scheme, scheme_len)) {
            *out = g_reg[i];
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&g_reg_lock);
    return found;
}

size_t tw_adapter_list(char *buf, size_t len)
{
    pthread_once(&g_builtins_once, register_builtins);
    size_t pos = 0;
    pthread_mutex_lock(&g_reg_lock);
    size_t n = g_nreg;
    if (buf && len) buf[0] = '\0';
    for (size_t i = 0; i < n && buf && len; i++) {
        int w = snprintf(buf + pos, len - pos, "%s%s", i ? "," : "", g_reg[i].ops->scheme);
        if (w < 0 || (size_t)w >= len - pos) break;
        pos += (size_t)w;
    }
    pthread_mutex_unlock(&g_reg_lock);
    return n;
}

/* ---- URI (parsed by lib/core) ---- */

void tw__uri_to_adapter(const tw__uri *u, tw_adapter_uri *pub)
{
    pub->uri = u->uri;
    pub->scheme = u->scheme;
    pub->host = u->host;
    pub->port = u->port;
    pub->path = u->path;
    pub->nparams = u->n;
    pub->keys = u->keys;
    pub->values = u->values;
}

const char *tw_adapter_uri_param(const tw_adapter_uri *uri, const char *key)
{
    if (!uri || !key) return NULL;
    for (size_t i = 0; i < uri->nparams; i++)
        if (!strcmp(uri->keys[i], key)) return uri->values[i];
    return NULL;
}

/* ---- address check without a device ---- */

tw_status tw_adapter_check_address(const char *scheme_or_uri, const char *address, tw_type *type_out,
                                   char *err, size_t err_size)
{
    char msg[TW__ERRMSG_MAX] = "";
    if (err && err_size) err[0] = '\0';
    if (type_out) *type_out = TW_TYPE_NONE;
    if (!scheme_or_uri || !address) return TW_ERR_INVALID_ARG;
    const char *sep = strstr(scheme_or_uri, "://");
    size_t slen = sep ? (size_t)(sep - scheme_or_uri) : strlen(scheme_or_uri);
    reg_entry e;
    tw_status st;
    if (!reg_find(scheme_or_uri, slen, &e)) {
        st = TW_ERR_NO_ADAPTER;
        snprintf(msg, sizeof msg, "no adapter registered for scheme '%.*s'", (int)TW__MIN(slen, 64),
                 scheme_or_uri);
    } else {
        tw_adapter_item_info info = {TW_TYPE_NONE, 0, 0};
        st = e.ops->parse_address(e.reg_data, address, NULL, &info, msg, sizeof msg);
        if (st == TW_OK) {
            if (type_out) *type_out = info.type;
            return TW_OK;
        }
        if (!msg[0]) snprintf(msg, sizeof msg, "address '%s': %s", address, tw_strerror(st));
    }
    if (err && err_size) tw__strlcpy(err, msg, err_size);
    return tw__err(NULL, MOD, st, "%s", msg);
}

/* ---- device ---- */

typedef struct dev_item {
    void *item;
    tw_adapter_item_info info;
    tw_sample last;
    char *val;     /* STRING/BYTES storage of `last` (info.max_bytes) */
    char *scratch; /* the adapter's result buffer */
} dev_item;

struct tw_device {
    const tw_adapter_ops *ops;
    void *reg_data;
    void *ctx;
    char scheme[TW__URI_SCHEME_MAX];
    tw__error err;
    dev_item *items;
    size_t nitems, cap;
    void **batch_items;        /* scratch for read(): n item pointers */
    tw_adapter_result *batch_res;
    size_t batch_cap;
    tw_device_stats st;
    tw_device_push_fn push_fn;
    void *push_user;
    uint32_t *sub_ids;
    size_t nsub;
    char msg[TW__ERRMSG_MAX];
};

static tw_status dev_fail(tw_device *d, tw_status st, const char *msg)
{
    return tw__err(&d->err, MOD, st, "%s", (msg && *msg) ? msg : tw_strerror(st));
}

tw_status tw_device_open(tw_device **out, const char *uri, const tw_device_options *opts)
{
    if (!out || !uri) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    if (opts) {
        /* a version 1 struct ends before `tls`: copy only what the caller has */
        if (TW__OPTS_COPY(o, opts, offsetof(tw_device_options, tls), sizeof(tw_device_options)))
            return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_device_options version %u is not supported",
                           (unsigned)opts->version);
        o.version = TW_DEVICE_OPTIONS_VERSION;
    }
    if (!o.timeout_ms) o.timeout_ms = 1000;
    if (!o.connect_timeout_ms) o.connect_timeout_ms = 3000;
    if (!o.reconnect_min_ms) o.reconnect_min_ms = 200;
    if (!o.reconnect_max_ms) o.reconnect_max_ms = 30000;
    if (o.reconnect_max_ms < o.reconnect_min_ms) o.reconnect_max_ms = o.reconnect_min_ms;

    char msg[TW__ERRMSG_MAX] = "";
    tw__uri u;
    if ((st = tw__uri_parse(&u, uri, msg, sizeof msg))) {
        tw__uri_free(&u);
        return tw__err(NULL, MOD, st, "%s", msg[0] ? msg : tw_strerror(st));
    }
    reg_entry e;
    if (!reg_find(u.scheme, strlen(u.scheme), &e)) {
        st = tw__err(NULL, MOD, TW_ERR_NO_ADAPTER, "no adapter registered for scheme '%s'", u.scheme);
        tw__uri_free(&u);
        return st;
    }
    tw_device *d = tw__calloc(1, sizeof *d);
    if (!d) {
        tw__uri_free(&u);
        return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    }
    d->ops = e.ops;
    d->reg_data = e.reg_data;
    tw__strlcpy(d->scheme, u.scheme, sizeof d->scheme);
    tw_adapter_uri pub;
    tw__uri_to_adapter(&u, &pub);
    st = e.ops->open(e.reg_data, &d->ctx, &pub, &o, msg, sizeof msg);
    tw__uri_free(&u);
    if (st != TW_OK) {
        if (!msg[0]) snprintf(msg, sizeof msg, "%s: %s", d->scheme, tw_strerror(st));
        char rbuf[512];
        tw__log(TW_LOG_DEBUG, MOD, "open %s: %s", tw__uri_redact(uri, rbuf, sizeof rbuf), msg);
        tw__free(d);
        return tw__err(NULL, MOD, st, "%s", msg);
    }
    *out = d;
    return TW_OK;
}

void tw_device_free(tw_device *d)
{
    if (!d) return;
    d->ops->close(d->ctx);
    for (size_t i = 0; i < d->nitems; i++) {
        if (d->ops->free_item) d->ops->free_item(d->reg_data, d->items[i].item);
        tw__free(d->items[i].val);
        tw__free(d->items[i].scratch);
    }
    tw__free(d->items);
    tw__free(d->batch_items);
    tw__free(d->batch_res);
    tw__free(d->sub_ids);
    tw__free(d);
}

tw_status tw_device_add_item(tw_device *d, uint32_t *id_out, const char *address)
{
    if (!d || !id_out || !address) return TW_ERR_INVALID_ARG;
    if (d->nitems >= UINT32_MAX - 1) return dev_fail(d, TW_ERR_FULL, "too many items");
    if (d->nitems == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        dev_item *ni = tw__realloc(d->items, nc * sizeof *ni);
        if (!ni) return TW_ERR_NOMEM;
        d->items = ni;
        d->cap = nc;
    }
    dev_item *it = &d->items[d->nitems];
    memset(it, 0, sizeof *it);
    d->msg[0] = '\0';
    tw_status st = d->ops->parse_address(d->reg_data, address, &it->item, &it->info, d->msg, sizeof d->msg);
    if (st != TW_OK) return dev_fail(d, st, d->msg);
    if (it->info.type == TW_TYPE_STRING || it->info.type == TW_TYPE_BYTES) {
        size_t mb = it->info.max_bytes ? it->info.max_bytes : 1;
        it->val = tw__calloc(1, mb);
        it->scratch = tw__calloc(1, mb);
        it->info.max_bytes = mb;
        if (!it->val || !it->scratch) {
            tw__free(it->val);
            tw__free(it->scratch);
            if (d->ops->free_item) d->ops->free_item(d->reg_data, it->item);
            return TW_ERR_NOMEM;
        }
    }
    it->last.value.type = TW_TYPE_NONE;
    it->last.quality = TW_QUALITY_BAD_WAITING_FOR_INITIAL;
    *id_out = (uint32_t)d->nitems;
    d->nitems++;
    return TW_OK;
}

size_t tw_device_item_count(const tw_device *d) { return d ? d->nitems : 0; }

tw_type tw_device_item_type(const tw_device *d, uint32_t id)
{
    if (!d || id >= d->nitems) return TW_TYPE_NONE;
    return d->items[id].info.type;
}

static tw_status ensure_batch(tw_device *d, size_t n)
{
    if (n <= d->batch_cap) return TW_OK;
    void **bi = tw__realloc(d->batch_items, n * sizeof *bi);
    if (!bi) return TW_ERR_NOMEM;
    d->batch_items = bi;
    tw_adapter_result *br = tw__realloc(d->batch_res, n * sizeof *br);
    if (!br) return TW_ERR_NOMEM;
    d->batch_res = br;
    d->batch_cap = n;
    return TW_OK;
}

/* Merges one adapter result into an item's last sample. */
static void merge_result(dev_item *it, tw_adapter_result *r, int64_t now)
{
    int64_t ts = r->timestamp_ns ? r->timestamp_ns : now;
    if (!TW_QUALITY_IS_BAD(r->quality)) {
        it->last.value = r->value;
        if (r->value.type == TW_TYPE_STRING || r->value.type == TW_TYPE_BYTES) {
            size_t len = TW__MIN(r->value.as.buf.len, it->info.max_bytes);
            if (len && r->value.as.buf.ptr != it->val) memmove(it->val, r->value.as.buf.ptr, len);
            it->last.value.as.buf.ptr = it->val;
            it->last.value.as.buf.len = len;
        }
    }
    it->last.quality = r->quality;
    it->last.timestamp_ns = ts;
}

tw_status tw_device_read(tw_device *d, const uint32_t *ids, size_t n, tw_sample *out)
{
    if (!d || (!ids && n) || (!out && n)) return TW_ERR_INVALID_ARG;
    if (!n) return TW_OK;
    if (ensure_batch(d, n)) return TW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= d->nitems) return tw__err(&d->err, MOD, TW_ERR_INVALID_ARG, "unknown item id %u", (unsigned)ids[i]);
        dev_item *it = &d->items[ids[i]];
        d->batch_items[i] = it->item;
        tw_adapter_result *r = &d->batch_res[i];
        r->value.type = TW_TYPE_NONE;
        r->value.as.u = 0;
        r->quality = TW_QUALITY_BAD;
        r->timestamp_ns = 0;
        r->buf = it->scratch;
        r->buf_size = it->scratch ? it->info.max_bytes : 0;
    }
    d->msg[0] = '\0';
    tw_status st = d->ops->read(d->ctx, d->batch_items, n, d->batch_res, d->msg, sizeof d->msg);
    int64_t now = tw_now_ns();
    d->st.reads++;
    d->st.items_read += n;
    size_t first_bad = n;
    for (size_t i = 0; i < n; i++) {
        dev_item *it = &d->items[ids[i]];
        tw_adapter_result *r = &d->batch_res[i];
        /* A good result must carry the item's type; anything else is an adapter bug. */
        if (!TW_QUALITY_IS_BAD(r->quality)) {
            if (r->value.type != it->info.type) r->quality = TW_QUALITY_BAD_TYPE_MISMATCH;
            else if ((r->value.type == TW_TYPE_STRING || r->value.type == TW_TYPE_BYTES) &&
                     r->value.as.buf.len > it->info.max_bytes)
                r->quality = TW_QUALITY_BAD_OUT_OF_RANGE;
        }
        merge_result(it, r, now);
        if (TW_QUALITY_IS_BAD(it->last.quality)) {
            d->st.items_bad++;
            if (first_bad == n) first_bad = i;
        }
        out[i] = it->last;
    }
    if (st != TW_OK) return dev_fail(d, st, d->msg);
    if (first_bad < n)
        return tw__err(&d->err, MOD, TW_ERR_ADAPTER, "item %u: bad quality 0x%08x", (unsigned)ids[first_bad],
                       (unsigned)out[first_bad].quality);
    tw__err_clear(&d->err);
    return TW_OK;
}

tw_status tw_device_write(tw_device *d, uint32_t id, const tw_value *v)
{
    if (!d || !v) return TW_ERR_INVALID_ARG;
    if (id >= d->nitems) return tw__err(&d->err, MOD, TW_ERR_INVALID_ARG, "unknown item id %u", (unsigned)id);
    dev_item *it = &d->items[id];
    d->st.writes++;
    if (!d->ops->write || !it->info.writable) {
        d->st.writes_failed++;
        return tw__err(&d->err, MOD, TW_ERR_UNSUPPORTED, "item %u is read-only", (unsigned)id);
    }
    d->msg[0] = '\0';
    tw_status st = d->ops->write(d->ctx, it->item, v, d->msg, sizeof d->msg);
    if (st != TW_OK) {
        d->st.writes_failed++;
        return dev_fail(d, st, d->msg);
    }
    tw__err_clear(&d->err);
    return TW_OK;
}

const char *tw_device_last_error(const tw_device *d)
{
    if (!d || d->err.code == TW_OK) return "";
    return tw__err_msg(&d->err);
}

tw_status tw_device_last_status(const tw_device *d) { return d ? d->err.code : TW_ERR_INVALID_ARG; }

const char *tw_device_scheme(const tw_device *d) { return d ? d->scheme : ""; }

tw_status tw_device_tls_info(const tw_device *d, struct tw_tls_info *info)
{
    if (!d || !info) return TW_ERR_INVALID_ARG;
    tw_transport *t = tw__modbus_transport(d->ops, d->ctx);
    if (!t || !tw_transport_is_secure(t)) return TW_ERR_UNSUPPORTED;
    tw_status st = tw_transport_tls_info(t, info);
    /* a secure transport the caller made that is not ours (custom): nothing to describe */
    return st == TW_ERR_INVALID_ARG ? TW_ERR_UNSUPPORTED : st;
}

tw_status tw_device_stats_get(const tw_device *d, tw_device_stats *out)
{
    if (!d || !out) return TW_ERR_INVALID_ARG;
    if (out->version < 1 || out->version > TW_DEVICE_STATS_VERSION) return TW_ERR_VERSION;
    tw_device_stats s;
    memset(&s, 0, sizeof s);
    s.version = TW_DEVICE_STATS_VERSION;
    if (d->ops->stats) d->ops->stats(d->ctx, &s);
    s.version = TW_DEVICE_STATS_VERSION;
    s.reads = d->st.reads;
    s.items_read = d->st.items_read;
    s.items_bad = d->st.items_bad;
    s.writes = d->st.writes;
    s.writes_failed = d->st.writes_failed;
    return TW__STATS_PUT(out, &s, sizeof(tw_device_stats));
}

/* ---- push ---- */

static void push_trampoline(size_t index, const tw_adapter_result *r, void *push_data)
{
    tw_device *d = push_data;
    if (index >= d->nsub || !d->push_fn) return;
    uint32_t id = d->sub_ids[index];
    dev_item *it = &d->items[id];
    tw_adapter_result copy = *r;
    if (!TW_QUALITY_IS_BAD(copy.quality) && copy.value.type != it->info.type) copy.quality = TW_QUALITY_BAD_TYPE_MISMATCH;
    if ((copy.value.type == TW_TYPE_STRING || copy.value.type == TW_TYPE_BYTES) && copy.value.as.buf.len > it->info.max_bytes)
        copy.quality = TW_QUALITY_BAD_OUT_OF_RANGE;
    merge_result(it, &copy, tw_now_ns());
    d->push_fn(id, &it->last, d->push_user);
}

tw_status tw_device_subscribe(tw_device *d, const uint32_t *ids, size_t n, tw_device_push_fn fn, void *user_data)
{
    if (!d || !ids || !n || !fn) return TW_ERR_INVALID_ARG;
    if (!d->ops->subscribe) return tw__err(&d->err, MOD, TW_ERR_UNSUPPORTED, "adapter '%s' does not push", d->scheme);
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= d->nitems) return tw__err(&d->err, MOD, TW_ERR_INVALID_ARG, "unknown item id %u", (unsigned)ids[i]);
    uint32_t *cp = tw__malloc(n * sizeof *cp);
    if (!cp || ensure_batch(d, n)) {
        tw__free(cp);
        return TW_ERR_NOMEM;
    }
    memcpy(cp, ids, n * sizeof *cp);
    for (size_t i = 0; i < n; i++) d->batch_items[i] = d->items[ids[i]].item;
    tw__free(d->sub_ids);
    d->sub_ids = cp;
    d->nsub = n;
    d->push_fn = fn;
    d->push_user = user_data;
    d->msg[0] = '\0';
    tw_status st = d->ops->subscribe(d->ctx, d->batch_items, n, push_trampoline, d, d->msg, sizeof d->msg);
    if (st != TW_OK) return dev_fail(d, st, d->msg);
    return TW_OK;
}

int tw_device_fds(tw_device *d, int *fds, unsigned *events, int max)
{
    if (!d || !fds || !events || max <= 0 || !d->ops->fds) return 0;
    return d->ops->fds(d->ctx, fds, events, max);
}

tw_status tw_device_process(tw_device *d)
{
    if (!d) return TW_ERR_INVALID_ARG;
    if (!d->ops->process) return TW_ERR_UNSUPPORTED;
    d->msg[0] = '\0';
    tw_status st = d->ops->process(d->ctx, d->msg, sizeof d->msg);
    if (st != TW_OK) return dev_fail(d, st, d->msg);
    return TW_OK;
}
