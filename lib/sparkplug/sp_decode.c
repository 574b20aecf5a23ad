/*
 * Sparkplug B payload decoding: a bounded wire pre-check, protobuf-c unpack, and conversion into
 * one arena (tw_sp_payload); text and JSON rendering.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sp_internal.h"
#include "sparkplug/sparkplug_b.pb-c.h"

/* ---- wire pre-check ---------------------------------------------------------------------------- */
/*
 * protobuf-c unpacks nested messages recursively without a depth limit, and the Sparkplug schema
 * is recursive (PropertySet -> PropertyValue -> PropertySet, Template -> Metric -> Template).
 * This walk knows which fields hold sub-messages, checks every length against its enclosing
 * message and bounds the nesting depth before protobuf-c sees the bytes.
 */
enum sp_kind {
    K_PAYLOAD, K_METRIC, K_METADATA, K_PSET, K_PVAL, K_PSETLIST, K_DATASET, K_ROW, K_DSVAL,
    K_TEMPLATE, K_PARAM, K_EXT, K_NONE
};

static enum sp_kind sub_kind(enum sp_kind k, uint32_t field)
{
    switch (k) {
    case K_PAYLOAD: return field == 2 ? K_METRIC : K_NONE;
    case K_METRIC:
        switch (field) {
        case 8: return K_METADATA;
        case 9: return K_PSET;
        case 17: return K_DATASET;
        case 18: return K_TEMPLATE;
        case 19: return K_EXT;
        default: return K_NONE;
        }
    case K_PSET: return field == 2 ? K_PVAL : K_NONE;
    case K_PVAL:
        switch (field) {
        case 9: return K_PSET;
        case 10: return K_PSETLIST;
        case 11: return K_EXT;
        default: return K_NONE;
        }
    case K_PSETLIST: return field == 1 ? K_PSET : K_NONE;
    case K_DATASET: return field == 4 ? K_ROW : K_NONE;
    case K_ROW: return field == 1 ? K_DSVAL : K_NONE;
    case K_DSVAL: return field == 7 ? K_EXT : K_NONE;
    case K_TEMPLATE:
        switch (field) {
        case 2: return K_METRIC;
        case 3: return K_PARAM;
        default: return K_NONE;
        }
    case K_PARAM: return field == 9 ? K_EXT : K_NONE;
    default: return K_NONE;
    }
}

typedef struct wire_err {
    char *why;
    size_t why_size;
} wire_err;

static tw_status wfail(const wire_err *e, const char *fmt, ...) TW__PRINTF(2, 3);
static tw_status wfail(const wire_err *e, const char *fmt, ...)
{
    if (e->why && e->why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->why, e->why_size, fmt, ap);
        va_end(ap);
    }
    return TW_ERR_SPARKPLUG_DECODE;
}

static int get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end) return -1;
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7eu)) return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7fu) << shift;
        if (!(b & 0x80u)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

static tw_status wire_walk(const uint8_t *p, const uint8_t *end, enum sp_kind kind, int depth,
                           size_t base, const uint8_t *start, const wire_err *e)
{
    if (depth > TW__SP_MAX_DEPTH)
        return wfail(e, "messages nested deeper than %d levels", TW__SP_MAX_DEPTH);
    while (p < end) {
        size_t at = base + (size_t)(p - start);
        uint64_t key;
        if (get_varint(&p, end, &key)) return wfail(e, "truncated field key at offset %zu", at);
        uint64_t field = key >> 3;
        unsigned wt = (unsigned)(key & 7u);
        if (field == 0 || field > 0x1fffffffu)
            return wfail(e, "invalid field number %" PRIu64 " at offset %zu", field, at);
        switch (wt) {
        case 0: {
            uint64_t v;
            if (get_varint(&p, end, &v))
                return wfail(e, "truncated varint (field %" PRIu64 ") at offset %zu", field, at);
            break;
        }
        case 1:
            if ((size_t)(end - p) < 8)
                return wfail(e, "truncated 64-bit value (field %" PRIu64 ") at offset %zu", field,
                             at);
            p += 8;
            break;
        case 5:
            if ((size_t)(end - p) < 4)
                return wfail(e, "truncated 32-bit value (field %" PRIu64 ") at offset %zu", field,
                             at);
            p += 4;
            break;
        case 2: {
            uint64_t n;
            if (get_varint(&p, end, &n) || n > (uint64_t)(end - p))
                return wfail(e, "length of field %" PRIu64 " at offset %zu exceeds the data",
                             field, at);
            enum sp_kind sk = kind == K_EXT ? K_NONE : sub_kind(kind, (uint32_t)field);
            if (sk != K_NONE) {
                tw_status st = wire_walk(p, p + n, sk, depth + 1, base, start, e);
                if (st != TW_OK) return st;
            }
            p += n;
            break;
        }
        default:
            return wfail(e, "unsupported wire type %u (field %" PRIu64 ") at offset %zu", wt,
                         field, at);
        }
    }
    return TW_OK;
}

tw_status tw__sp_wire_check(const uint8_t *data, size_t len, char *why, size_t why_size)
{
    wire_err e = {why, why_size};
    if (!data && len) return TW_ERR_INVALID_ARG;
    if (!len) return TW_OK;
    return wire_walk(data, data + len, K_PAYLOAD, 0, 0, data, &e);
}

/* ---- protobuf-c allocator ---------------------------------------------------------------------- */

static void *pbc_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return tw__malloc(n);
}
static void pbc_free(void *ctx, void *p)
{
    (void)ctx;
    tw__free(p);
}
static ProtobufCAllocator g_alloc = {pbc_alloc, pbc_free, NULL};

/* ---- conversion into one arena ----------------------------------------------------------------- */

enum vkind { VK_NONE, VK_INT, VK_LONG, VK_FLOAT, VK_DOUBLE, VK_BOOL, VK_STRING, VK_BYTES, VK_OTHER };

typedef struct raw_value {
    enum vkind kind;
    uint64_t u;
    float f;
    double d;
    const char *s;
    const uint8_t *b;
    size_t blen;
} raw_value;

static void raw_from_metric(const Twspb__Payload__Metric *m, raw_value *r)
{
    memset(r, 0, sizeof(*r));
    switch (m->value_case) {
    case TWSPB__PAYLOAD__METRIC__VALUE_INT_VALUE: r->kind = VK_INT; r->u = m->int_value; break;
    case TWSPB__PAYLOAD__METRIC__VALUE_LONG_VALUE: r->kind = VK_LONG; r->u = m->long_value; break;
    case TWSPB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE: r->kind = VK_FLOAT; r->f = m->float_value; break;
    case TWSPB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE:
        r->kind = VK_DOUBLE;
        r->d = m->double_value;
        break;
    case TWSPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE:
        r->kind = VK_BOOL;
        r->u = m->boolean_value ? 1u : 0u;
        break;
    case TWSPB__PAYLOAD__METRIC__VALUE_STRING_VALUE:
        r->kind = m->string_value ? VK_STRING : VK_NONE;
        r->s = m->string_value;
        break;
    case TWSPB__PAYLOAD__METRIC__VALUE_BYTES_VALUE:
        r->kind = VK_BYTES;
        r->b = m->bytes_value.data;
        r->blen = m->bytes_value.len;
        break;
    case TWSPB__PAYLOAD__METRIC__VALUE__NOT_SET: break;
    default: r->kind = VK_OTHER; break;
    }
}

static void raw_from_pv(const Twspb__Payload__PropertyValue *v, raw_value *r)
{
    memset(r, 0, sizeof(*r));
    switch (v->value_case) {
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE: r->kind = VK_INT; r->u = v->int_value; break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE:
        r->kind = VK_LONG;
        r->u = v->long_value;
        break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_FLOAT_VALUE:
        r->kind = VK_FLOAT;
        r->f = v->float_value;
        break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_DOUBLE_VALUE:
        r->kind = VK_DOUBLE;
        r->d = v->double_value;
        break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_BOOLEAN_VALUE:
        r->kind = VK_BOOL;
        r->u = v->boolean_value ? 1u : 0u;
        break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE:
        r->kind = v->string_value ? VK_STRING : VK_NONE;
        r->s = v->string_value;
        break;
    case TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE__NOT_SET: break;
    default: r->kind = VK_OTHER; break;
    }
}

/* Bytes a raw value needs in the arena. */
static size_t raw_extra(const raw_value *r)
{
    if (r->kind == VK_STRING) return strlen(r->s) + 1u;
    if (r->kind == VK_BYTES) return r->blen;
    return 0;
}

typedef struct arena {
    uint8_t *p;
} arena;

static void *arena_copy(arena *a, const void *src, size_t n)
{
    void *d = a->p;
    if (n) memcpy(a->p, src, n);
    a->p += n;
    return d;
}

static const char *arena_str(arena *a, const char *s)
{
    return (const char *)arena_copy(a, s, strlen(s) + 1u);
}

/* Maps a raw wire value to a tw_value for datatype dt (0 = infer from the field). */
static void map_value(tw_value *v, uint32_t dt, int has_dt, const raw_value *r, arena *a)
{
    memset(v, 0, sizeof(*v));
    tw_type t = has_dt ? tw_sp_type_from_datatype(dt) : TW_TYPE_NONE;
    if (!has_dt) {
        switch (r->kind) {
        case VK_INT: t = TW_TYPE_UINT32; break;
        case VK_LONG: t = TW_TYPE_UINT64; break;
        case VK_FLOAT: t = TW_TYPE_FLOAT; break;
        case VK_DOUBLE: t = TW_TYPE_DOUBLE; break;
        case VK_BOOL: t = TW_TYPE_BOOL; break;
        case VK_STRING: t = TW_TYPE_STRING; break;
        case VK_BYTES: t = TW_TYPE_BYTES; break;
        default: t = TW_TYPE_NONE; break;
        }
    }
    int intlike = r->kind == VK_INT || r->kind == VK_LONG;
    switch (t) {
    case TW_TYPE_INT8:
    case TW_TYPE_INT16:
    case TW_TYPE_INT32:
        if (!intlike) return;
        v->as.i = (int32_t)(uint32_t)r->u;
        break;
    case TW_TYPE_INT64:
        if (!intlike) return;
        v->as.i = (int64_t)r->u;
        break;
    case TW_TYPE_UINT8:
    case TW_TYPE_UINT16:
    case TW_TYPE_UINT32: /* from int_value, or long_value as some codecs send it */
        if (!intlike) return;
        v->as.u = (uint32_t)r->u;
        break;
    case TW_TYPE_UINT64:
        if (!intlike) return;
        v->as.u = r->u;
        break;
    case TW_TYPE_DATETIME:
        if (!intlike) return;
        v->as.i = r->u > (uint64_t)(INT64_MAX / 1000000) ? INT64_MAX : (int64_t)r->u * 1000000;
        break;
    case TW_TYPE_FLOAT:
        if (r->kind == VK_FLOAT) v->as.f = r->f;
        else if (r->kind == VK_DOUBLE) v->as.f = (float)r->d;
        else return;
        break;
    case TW_TYPE_DOUBLE:
        if (r->kind == VK_DOUBLE) v->as.d = r->d;
        else if (r->kind == VK_FLOAT) v->as.d = r->f;
        else return;
        break;
    case TW_TYPE_BOOL:
        if (r->kind != VK_BOOL && !intlike) return;
        v->as.b = r->u != 0;
        break;
    case TW_TYPE_STRING:
        if (r->kind != VK_STRING) return;
        v->as.buf.len = strlen(r->s);
        v->as.buf.ptr = arena_copy(a, r->s, v->as.buf.len + 1u);
        break;
    case TW_TYPE_BYTES:
        if (r->kind != VK_BYTES) return;
        v->as.buf.len = r->blen;
        v->as.buf.ptr = arena_copy(a, r->b, r->blen);
        break;
    default: return;
    }
    v->type = t;
}

#define ALIGN_UP(n) (((n) + 15u) & ~(size_t)15u)

static tw_status payload_decode(tw_sp_payload **out, const void *data, size_t len, char *why,
                                size_t why_size)
{
    tw_status st = tw__sp_wire_check(data, len, why, why_size);
    if (st != TW_OK) return st;
    static const uint8_t empty[1] = {0};
    Twspb__Payload *pb = twspb__payload__unpack(&g_alloc, len, len ? data : empty);
    if (!pb) {
        wire_err e = {why, why_size};
        return wfail(&e, "not a Sparkplug B payload (a field has the wrong type or is malformed)");
    }
    /* pass 1: sizes */
    size_t nprops = 0, extra = 0;
    for (size_t i = 0; i < pb->n_metrics; i++) {
        const Twspb__Payload__Metric *m = pb->metrics[i];
        raw_value r;
        raw_from_metric(m, &r);
        extra += raw_extra(&r);
        if (m->name) extra += strlen(m->name) + 1u;
        if (m->properties) {
            const Twspb__Payload__PropertySet *ps = m->properties;
            size_t n = TW__MIN(ps->n_keys, ps->n_values);
            nprops += n;
            for (size_t k = 0; k < n; k++) {
                extra += strlen(ps->keys[k]) + 1u;
                raw_from_pv(ps->values[k], &r);
                extra += raw_extra(&r);
            }
        }
    }
    if (pb->uuid) extra += strlen(pb->uuid) + 1u;
    if (pb->has_body) extra += pb->body.len;
    size_t off_m = ALIGN_UP(sizeof(tw_sp_payload));
    size_t off_p = ALIGN_UP(off_m + pb->n_metrics * sizeof(tw_sp_decoded_metric));
    size_t off_s = off_p + nprops * sizeof(tw_sp_property);
    uint8_t *mem = tw__calloc(1, off_s + extra + 1u);
    if (!mem) {
        twspb__payload__free_unpacked(pb, &g_alloc);
        return TW_ERR_NOMEM;
    }
    /* pass 2: fill */
    tw_sp_payload *p = (tw_sp_payload *)mem;
    tw_sp_decoded_metric *dm = (tw_sp_decoded_metric *)(mem + off_m);
    tw_sp_property *dp = (tw_sp_property *)(mem + off_p);
    arena a = {mem + off_s};
    if (pb->has_timestamp) {
        p->present |= TW_SP_HAS_TIMESTAMP;
        p->timestamp_ms = pb->timestamp;
    }
    if (pb->has_seq) {
        p->present |= TW_SP_HAS_SEQ;
        p->seq = pb->seq;
    }
    if (pb->uuid) {
        p->present |= TW_SP_HAS_UUID;
        p->uuid = arena_str(&a, pb->uuid);
    }
    if (pb->has_body) {
        p->present |= TW_SP_HAS_BODY;
        p->body = arena_copy(&a, pb->body.data, pb->body.len);
        p->body_len = pb->body.len;
    }
    p->metrics = pb->n_metrics ? dm : NULL;
    p->metric_count = pb->n_metrics;
    for (size_t i = 0; i < pb->n_metrics; i++) {
        const Twspb__Payload__Metric *m = pb->metrics[i];
        tw_sp_decoded_metric *d = &dm[i];
        tw_sp_metric *o = &d->metric;
        o->quality = TW_QUALITY_GOOD;
        if (m->name) {
            d->present |= TW_SP_HAS_NAME;
            o->name = arena_str(&a, m->name);
        }
        if (m->has_alias) {
            d->present |= TW_SP_HAS_ALIAS;
            o->alias = m->alias;
        } else {
            o->flags |= TW_SP_METRIC_NO_ALIAS;
        }
        if (m->has_timestamp) {
            d->present |= TW_SP_HAS_TIMESTAMP;
            o->ts_ms = m->timestamp > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)m->timestamp;
        } else {
            o->flags |= TW_SP_METRIC_NO_TIMESTAMP;
        }
        if (m->has_datatype) {
            d->present |= TW_SP_HAS_DATATYPE;
            d->datatype = m->datatype;
        } else {
            o->flags |= TW_SP_METRIC_NO_DATATYPE;
        }
        if (m->has_is_historical && m->is_historical) o->flags |= TW_SP_METRIC_HISTORICAL;
        if (m->has_is_transient && m->is_transient) o->flags |= TW_SP_METRIC_TRANSIENT;
        if (m->has_is_null && m->is_null) o->flags |= TW_SP_METRIC_NULL;
        if (m->metadata) d->present |= TW_SP_HAS_METADATA;
        raw_value r;
        raw_from_metric(m, &r);
        if (r.kind != VK_NONE) d->present |= TW_SP_HAS_VALUE;
        if (!(o->flags & TW_SP_METRIC_NULL)) map_value(&o->value, m->datatype, m->has_datatype, &r, &a);
        else o->value.type = m->has_datatype ? tw_sp_type_from_datatype(m->datatype) : TW_TYPE_NONE;
        if (m->properties) {
            const Twspb__Payload__PropertySet *ps = m->properties;
            size_t n = TW__MIN(ps->n_keys, ps->n_values);
            d->properties = n ? dp : NULL;
            d->property_count = n;
            for (size_t k = 0; k < n; k++, dp++) {
                const Twspb__Payload__PropertyValue *pv = ps->values[k];
                dp->key = arena_str(&a, ps->keys[k]);
                dp->type = pv->has_type ? pv->type : 0u;
                dp->is_null = pv->has_is_null && pv->is_null;
                raw_from_pv(pv, &r);
                if (!dp->is_null) map_value(&dp->value, pv->type, pv->has_type, &r, &a);
                if (!strcmp(dp->key, TW_SP_PROP_QUALITY) && r.kind == VK_INT && !dp->is_null) {
                    o->quality = tw_quality_from_sparkplug((int32_t)(uint32_t)r.u);
                    o->flags |= TW_SP_METRIC_QUALITY;
                } else if (!strcmp(dp->key, TW_SP_PROP_ENG_UNIT) && dp->value.type == TW_TYPE_STRING) {
                    o->unit = (const char *)dp->value.as.buf.ptr;
                } else if (!strcmp(dp->key, TW_SP_PROP_DESCRIPTION) &&
                           dp->value.type == TW_TYPE_STRING) {
                    o->description = (const char *)dp->value.as.buf.ptr;
                }
            }
        }
    }
    twspb__payload__free_unpacked(pb, &g_alloc);
    *out = p;
    return TW_OK;
}

void tw_sp_payload_free(tw_sp_payload *payload) { tw__free(payload); }

/* ---- rendering --------------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
    if (b->oom) return;
    if (b->len + more + 1u <= b->cap) return;
    size_t nc = b->cap ? b->cap : 256u;
    while (nc < b->len + more + 1u) nc *= 2u;
    char *np = tw__realloc(b->p, nc);
    if (!np) {
        b->oom = 1;
        return;
    }
    b->p = np;
    b->cap = nc;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) TW__PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    sb_reserve(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1u, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t k;
    uint32_t cp;
    if (c < 0x80u) return 1;
    if (c >= 0xc2u && c <= 0xdfu) { k = 2; cp = c & 0x1fu; }
    else if (c >= 0xe0u && c <= 0xefu) { k = 3; cp = c & 0x0fu; }
    else if (c >= 0xf0u && c <= 0xf4u) { k = 4; cp = c & 0x07u; }
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0u) != 0x80u) return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((k == 3 && cp < 0x800u) || (k == 4 && (cp < 0x10000u || cp > 0x10ffffu)) ||
        (cp >= 0xd800u && cp <= 0xdfffu))
        return 0;
    return k;
}

/* A JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void sb_json_str(sbuf *b, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint8_t c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
            i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};
            sb_put(b, e, 2);
            i++;
        } else if (c < 0x20u || c == 0x7fu) {
            sb_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_seq(u + i, n - i);
            if (!k) {
                sb_put(b, "\\ufffd", 6);
                i++;
            } else {
                sb_put(b, s + i, k);
                i += k;
            }
        }
    }
    sb_put(b, "\"", 1);
}

static void sb_hex(sbuf *b, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    sb_reserve(b, 2u * n);
    if (b->oom) return;
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = hx[p[i] >> 4];
        b->p[b->len++] = hx[p[i] & 15u];
    }
    b->p[b->len] = '\0';
}

static void sb_double(sbuf *b, double d, int json, int is_float)
{
    if (isnan(d)) sb_put(b, json ? "\"NaN\"" : "NaN", json ? 5 : 3);
    else if (isinf(d)) {
        if (d > 0) sb_put(b, json ? "\"Infinity\"" : "Infinity", json ? 10 : 8);
        else sb_put(b, json ? "\"-Infinity\"" : "-Infinity", json ? 11 : 9);
    } else {
        sb_printf(b, is_float ? "%.9g" : "%.17g", d);
    }
}

static void sb_value(sbuf *b, const tw_value *v, int json)
{
    switch (v->type) {
    case TW_TYPE_BOOL: sb_printf(b, "%s", v->as.b ? "true" : "false"); break;
    case TW_TYPE_INT8:
    case TW_TYPE_INT16:
    case TW_TYPE_INT32:
    case TW_TYPE_INT64: sb_printf(b, "%" PRId64, v->as.i); break;
    case TW_TYPE_UINT8:
    case TW_TYPE_UINT16:
    case TW_TYPE_UINT32:
    case TW_TYPE_UINT64: sb_printf(b, "%" PRIu64, v->as.u); break;
    case TW_TYPE_FLOAT: sb_double(b, v->as.f, json, 1); break;
    case TW_TYPE_DOUBLE: sb_double(b, v->as.d, json, 0); break;
    case TW_TYPE_DATETIME: {
        int64_t ms = v->as.i / 1000000;
        if (json) {
            sb_printf(b, "%" PRId64, ms);
        } else {
            time_t sec = (time_t)(ms / 1000);
            struct tm tmv;
            char ts[40];
            if (ms >= 0 && gmtime_r(&sec, &tmv) && strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tmv))
                sb_printf(b, "%s.%03dZ", ts, (int)(ms % 1000));
            else
                sb_printf(b, "%" PRId64 "ms", ms);
        }
        break;
    }
    case TW_TYPE_STRING: sb_json_str(b, (const char *)v->as.buf.ptr, v->as.buf.len); break;
    case TW_TYPE_BYTES:
        if (json) sb_put(b, "\"", 1);
        else sb_printf(b, "%zu bytes 0x", v->as.buf.len);
        sb_hex(b, (const uint8_t *)v->as.buf.ptr, v->as.buf.len);
        if (json) sb_put(b, "\"", 1);
        break;
    default: sb_put(b, json ? "null" : "(none)", json ? 4 : 6); break;
    }
}

static void render_json(sbuf *b, const tw_sp_payload *p)
{
    int first = 1;
    sb_put(b, "{", 1);
#define SEP() do { if (!first) sb_put(b, ",", 1); first = 0; } while (0)
    if (p->present & TW_SP_HAS_TIMESTAMP) {
        SEP();
        sb_printf(b, "\"timestamp\":%" PRIu64, p->timestamp_ms);
    }
    if (p->present & TW_SP_HAS_SEQ) {
        SEP();
        sb_printf(b, "\"seq\":%" PRIu64, p->seq);
    }
    if (p->uuid) {
        SEP();
        sb_put(b, "\"uuid\":", 7);
        sb_json_str(b, p->uuid, strlen(p->uuid));
    }
    if (p->present & TW_SP_HAS_BODY) {
        SEP();
        sb_put(b, "\"body\":\"", 8);
        sb_hex(b, p->body, p->body_len);
        sb_put(b, "\"", 1);
    }
    SEP();
    sb_put(b, "\"metrics\":[", 11);
    for (size_t i = 0; i < p->metric_count; i++) {
        const tw_sp_decoded_metric *d = &p->metrics[i];
        const tw_sp_metric *m = &d->metric;
        if (i) sb_put(b, ",", 1);
        sb_put(b, "{", 1);
        first = 1;
        if (m->name) {
            SEP();
            sb_put(b, "\"name\":", 7);
            sb_json_str(b, m->name, strlen(m->name));
        }
        if (d->present & TW_SP_HAS_ALIAS) {
            SEP();
            sb_printf(b, "\"alias\":%" PRIu64, m->alias);
        }
        if (d->present & TW_SP_HAS_TIMESTAMP) {
            SEP();
            sb_printf(b, "\"timestamp\":%" PRId64, m->ts_ms);
        }
        if (d->present & TW_SP_HAS_DATATYPE) {
            SEP();
            sb_printf(b, "\"datatype\":%" PRIu32 ",\"type\":\"%s\"", d->datatype,
                      tw_sp_datatype_name(d->datatype));
        }
        if (m->flags & TW_SP_METRIC_HISTORICAL) {
            SEP();
            sb_put(b, "\"is_historical\":true", 20);
        }
        if (m->flags & TW_SP_METRIC_TRANSIENT) {
            SEP();
            sb_put(b, "\"is_transient\":true", 19);
        }
        if (m->flags & TW_SP_METRIC_NULL) {
            SEP();
            sb_put(b, "\"is_null\":true", 14);
        }
        if (m->flags & TW_SP_METRIC_QUALITY) {
            SEP();
            sb_printf(b, "\"quality\":%" PRId32 ",\"quality_name\":\"%s\"",
                      tw_quality_to_sparkplug(m->quality),
                      TW_QUALITY_IS_GOOD(m->quality) ? "good"
                      : TW_QUALITY_IS_UNCERTAIN(m->quality) ? "stale" : "bad");
        }
        if (d->property_count) {
            SEP();
            sb_put(b, "\"properties\":{", 14);
            for (size_t k = 0; k < d->property_count; k++) {
                const tw_sp_property *pr = &d->properties[k];
                if (k) sb_put(b, ",", 1);
                sb_json_str(b, pr->key, strlen(pr->key));
                sb_printf(b, ":{\"type\":%" PRIu32 ",\"value\":", pr->type);
                sb_value(b, &pr->value, 1);
                sb_put(b, "}", 1);
            }
            sb_put(b, "}", 1);
        }
        if (!(m->flags & TW_SP_METRIC_NULL) && (d->present & TW_SP_HAS_VALUE)) {
            SEP();
            sb_put(b, "\"value\":", 8);
            sb_value(b, &m->value, 1);
        }
        sb_put(b, "}", 1);
    }
    sb_put(b, "]}", 2);
#undef SEP
}

static void render_text(sbuf *b, const tw_sp_payload *p)
{
    if (p->present & TW_SP_HAS_TIMESTAMP) {
        tw_value t;
        t.type = TW_TYPE_DATETIME;
        t.as.i = p->timestamp_ms > (uint64_t)(INT64_MAX / 1000000) ? INT64_MAX
                                                                 : (int64_t)p->timestamp_ms * 1000000;
        sb_printf(b, "timestamp: %" PRIu64 " (", p->timestamp_ms);
        sb_value(b, &t, 0);
        sb_put(b, ")\n", 2);
    }
    if (p->present & TW_SP_HAS_SEQ) sb_printf(b, "seq: %" PRIu64 "\n", p->seq);
    if (p->uuid) sb_printf(b, "uuid: %s\n", p->uuid);
    if (p->present & TW_SP_HAS_BODY) sb_printf(b, "body: %zu bytes\n", p->body_len);
    sb_printf(b, "metrics: %zu\n", p->metric_count);
    for (size_t i = 0; i < p->metric_count; i++) {
        const tw_sp_decoded_metric *d = &p->metrics[i];
        const tw_sp_metric *m = &d->metric;
        sb_printf(b, "  [%zu]", i);
        if (m->name) {
            sb_put(b, " ", 1);
            sb_json_str(b, m->name, strlen(m->name));
        }
        if (d->present & TW_SP_HAS_ALIAS) sb_printf(b, " alias=%" PRIu64, m->alias);
        if (d->present & TW_SP_HAS_DATATYPE)
            sb_printf(b, " %s", tw_sp_datatype_name(d->datatype));
        if (m->flags & TW_SP_METRIC_NULL) sb_put(b, " = null", 7);
        else if (d->present & TW_SP_HAS_VALUE) {
            sb_put(b, " = ", 3);
            sb_value(b, &m->value, 0);
        }
        if (m->unit) sb_printf(b, " [%s]", m->unit);
        if (d->present & TW_SP_HAS_TIMESTAMP) sb_printf(b, " ts=%" PRId64, m->ts_ms);
        if (m->flags & TW_SP_METRIC_QUALITY)
            sb_printf(b, " quality=%" PRId32, tw_quality_to_sparkplug(m->quality));
        if (m->flags & TW_SP_METRIC_HISTORICAL) sb_put(b, " historical", 11);
        if (m->flags & TW_SP_METRIC_TRANSIENT) sb_put(b, " transient", 10);
        sb_put(b, "\n", 1);
        for (size_t k = 0; k < d->property_count; k++) {
            const tw_sp_property *pr = &d->properties[k];
            sb_printf(b, "      property %s (%s) = ", pr->key, tw_sp_datatype_name(pr->type));
            if (pr->is_null) sb_put(b, "null", 4);
            else sb_value(b, &pr->value, 0);
            sb_put(b, "\n", 1);
        }
    }
}

tw_status tw_sp_payload_format(char **out, size_t *out_len, const tw_sp_payload *payload,
                               tw_sp_format format)
{
    if (!out || !payload || (format != TW_SP_FORMAT_TEXT && format != TW_SP_FORMAT_JSON))
        return TW_ERR_INVALID_ARG;
    *out = NULL;
    sbuf b = {NULL, 0, 0, 0};
    sb_reserve(&b, 0);
    if (format == TW_SP_FORMAT_JSON) render_json(&b, payload);
    else render_text(&b, payload);
    if (b.oom) {
        tw__free(b.p);
        return TW_ERR_NOMEM;
    }
    *out = b.p;
    if (out_len) *out_len = b.len;
    return TW_OK;
}

tw_status tw_sp_payload_decode(tw_sp_payload **out, const void *data, size_t len, char *err,
                               size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    if (!out || (!data && len)) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    char msg[TW__ERRMSG_MAX] = "";
    st = payload_decode(out, data, len, msg, sizeof msg);
    if (st == TW_OK) return TW_OK;
    if (!msg[0]) tw__strlcpy(msg, tw_strerror(st), sizeof msg);
    if (err && err_size) tw__strlcpy(err, msg, err_size);
    return tw__err(NULL, "sparkplug", st, "payload: %s", msg);
}
