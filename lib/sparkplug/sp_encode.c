/*
 * Sparkplug B payload encoding: the direct (allocation-free) DATA encoder, and the protobuf-c
 * based BIRTH encoder and reference packer.
 *
 * The direct encoder writes fields in field-number order, exactly as protobuf-c packs a message
 * (protobuf-c walks its field descriptors, which protoc-c sorts by number). Every Metric is
 * length-delimited, so its body size is computed first (pure arithmetic), then written.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <math.h>
#include <string.h>

#include "sp_internal.h"
#include "sparkplug/sparkplug_b.pb-c.h"

/* ---- datatypes and quality --------------------------------------------------------------------- */

uint32_t tw_sp_datatype_from_type(tw_type type)
{
    switch (type) {
    case TW_TYPE_BOOL: return TW_SP_DT_BOOLEAN;
    case TW_TYPE_INT8: return TW_SP_DT_INT8;
    case TW_TYPE_INT16: return TW_SP_DT_INT16;
    case TW_TYPE_INT32: return TW_SP_DT_INT32;
    case TW_TYPE_INT64: return TW_SP_DT_INT64;
    case TW_TYPE_UINT8: return TW_SP_DT_UINT8;
    case TW_TYPE_UINT16: return TW_SP_DT_UINT16;
    case TW_TYPE_UINT32: return TW_SP_DT_UINT32;
    case TW_TYPE_UINT64: return TW_SP_DT_UINT64;
    case TW_TYPE_FLOAT: return TW_SP_DT_FLOAT;
    case TW_TYPE_DOUBLE: return TW_SP_DT_DOUBLE;
    case TW_TYPE_STRING: return TW_SP_DT_STRING;
    case TW_TYPE_BYTES: return TW_SP_DT_BYTES;
    case TW_TYPE_DATETIME: return TW_SP_DT_DATETIME;
    default: return TW_SP_DT_UNKNOWN;
    }
}

tw_type tw_sp_type_from_datatype(uint32_t dt)
{
    switch (dt) {
    case TW_SP_DT_INT8: return TW_TYPE_INT8;
    case TW_SP_DT_INT16: return TW_TYPE_INT16;
    case TW_SP_DT_INT32: return TW_TYPE_INT32;
    case TW_SP_DT_INT64: return TW_TYPE_INT64;
    case TW_SP_DT_UINT8: return TW_TYPE_UINT8;
    case TW_SP_DT_UINT16: return TW_TYPE_UINT16;
    case TW_SP_DT_UINT32: return TW_TYPE_UINT32;
    case TW_SP_DT_UINT64: return TW_TYPE_UINT64;
    case TW_SP_DT_FLOAT: return TW_TYPE_FLOAT;
    case TW_SP_DT_DOUBLE: return TW_TYPE_DOUBLE;
    case TW_SP_DT_BOOLEAN: return TW_TYPE_BOOL;
    case TW_SP_DT_STRING:
    case TW_SP_DT_TEXT:
    case TW_SP_DT_UUID: return TW_TYPE_STRING;
    case TW_SP_DT_DATETIME: return TW_TYPE_DATETIME;
    case TW_SP_DT_BYTES:
    case TW_SP_DT_FILE: return TW_TYPE_BYTES;
    default:
        if (dt >= TW_SP_DT_INT8_ARRAY && dt <= TW_SP_DT_DATETIME_ARRAY) return TW_TYPE_BYTES;
        return TW_TYPE_NONE;
    }
}

const char *tw_sp_datatype_name(uint32_t dt)
{
    static const char *const names[] = {
        "Unknown", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
        "Float", "Double", "Boolean", "String", "DateTime", "Text", "UUID", "DataSet", "Bytes",
        "File", "Template", "PropertySet", "PropertySetList", "Int8Array", "Int16Array",
        "Int32Array", "Int64Array", "UInt8Array", "UInt16Array", "UInt32Array", "UInt64Array",
        "FloatArray", "DoubleArray", "BooleanArray", "StringArray", "DateTimeArray"};
    return dt < TW__ARRAY_LEN(names) ? names[dt] : "Unknown";
}

static int64_t ns_to_ms_floor(int64_t ns)
{
    int64_t q = ns / 1000000, r = ns % 1000000;
    return (r < 0) ? q - 1 : q;
}

uint64_t tw__sp_wire_int(const tw_value *v)
{
    switch (v->type) {
    case TW_TYPE_BOOL: return v->as.b ? 1u : 0u;
    case TW_TYPE_INT8:
    case TW_TYPE_INT16:
    case TW_TYPE_INT32: return (uint32_t)(int32_t)v->as.i;
    case TW_TYPE_INT64: return (uint64_t)v->as.i;
    case TW_TYPE_UINT8:
    case TW_TYPE_UINT16:
    case TW_TYPE_UINT32: return (uint32_t)v->as.u;
    case TW_TYPE_UINT64: return v->as.u;
    case TW_TYPE_DATETIME: return (uint64_t)ns_to_ms_floor(v->as.i);
    default: return 0;
    }
}

/* ---- wire primitives --------------------------------------------------------------------------- */

static inline size_t vlen(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    /* bits needed (at least 1), 7 per byte */
    return (size_t)((64 - __builtin_clzll(v | 1u)) + 6) / 7u;
#else
    size_t n = 1;
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
#endif
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *put_fixed32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static inline uint8_t *put_fixed64(uint8_t *p, uint64_t v)
{
    put_fixed32(p, (uint32_t)v);
    put_fixed32(p + 4, (uint32_t)(v >> 32));
    return p + 8;
}

/* Field tags (field number << 3 | wire type). */
enum {
    WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5
};
#define TAG(num, wt) ((uint8_t)(((num) << 3) | (wt)))

/* Payload */
#define T_PAYLOAD_TIMESTAMP TAG(1, WT_VARINT)
#define T_PAYLOAD_METRICS TAG(2, WT_LEN)
#define T_PAYLOAD_SEQ TAG(3, WT_VARINT)
/* Metric */
#define T_M_NAME TAG(1, WT_LEN)
#define T_M_ALIAS TAG(2, WT_VARINT)
#define T_M_TIMESTAMP TAG(3, WT_VARINT)
#define T_M_DATATYPE TAG(4, WT_VARINT)
#define T_M_HISTORICAL TAG(5, WT_VARINT)
#define T_M_TRANSIENT TAG(6, WT_VARINT)
#define T_M_NULL TAG(7, WT_VARINT)
#define T_M_PROPERTIES TAG(9, WT_LEN)
#define T_M_INT TAG(10, WT_VARINT)
#define T_M_LONG TAG(11, WT_VARINT)
#define T_M_FLOAT TAG(12, WT_I32)
#define T_M_DOUBLE TAG(13, WT_I64)
#define T_M_BOOL TAG(14, WT_VARINT)
#define T_M_STRING TAG(15, WT_LEN)
/* bytes_value = 16: the tag (130) takes two bytes */
#define T_M_BYTES_0 0x82u
#define T_M_BYTES_1 0x01u
/* PropertySet / PropertyValue */
#define T_PS_KEYS TAG(1, WT_LEN)
#define T_PS_VALUES TAG(2, WT_LEN)
#define T_PV_TYPE TAG(1, WT_VARINT)
#define T_PV_INT TAG(3, WT_VARINT)

static const char k_quality_key[] = TW_SP_PROP_QUALITY;
#define QUALITY_KEY_LEN (sizeof(k_quality_key) - 1u)

/* Sizes of the Quality property set for a wire quality value. */
static inline size_t pv_quality_len(uint32_t wq) { return 2u + 1u + vlen(wq); }
static inline size_t ps_quality_len(uint32_t wq)
{
    size_t pv = pv_quality_len(wq);
    return 1u + 1u + QUALITY_KEY_LEN + 1u + vlen(pv) + pv;
}

/* What is written for one metric; computed once, used to size and then to write. */
typedef struct sp_plan {
    size_t body;       /* metric body length */
    size_t name_len;
    uint32_t datatype; /* 0: no datatype field */
    int quality;       /* write the Quality property */
    uint32_t wq;       /* wire quality */
} sp_plan;

static tw_status plan_metric(const tw_sp_metric *m, sp_plan *pl)
{
    size_t n = 0;
    uint32_t f = m->flags;
    uint32_t dt = tw_sp_datatype_from_type(m->value.type);
    if (!(f & TW_SP_METRIC_NULL)) {
        if (dt == TW_SP_DT_UNKNOWN) return TW_ERR_INVALID_ARG;
        if ((m->value.type == TW_TYPE_STRING || m->value.type == TW_TYPE_BYTES) &&
            !m->value.as.buf.ptr && m->value.as.buf.len)
            return TW_ERR_INVALID_ARG;
    }
    if (!(f & TW_SP_METRIC_NO_TIMESTAMP) && m->ts_ms < 0) return TW_ERR_RANGE;
    pl->datatype = (f & TW_SP_METRIC_NO_DATATYPE) ? 0u : dt;
    if (m->name) {
        pl->name_len = strlen(m->name);
        n += 1u + vlen(pl->name_len) + pl->name_len;
    }
    if (!(f & TW_SP_METRIC_NO_ALIAS)) n += 1u + vlen(m->alias);
    if (!(f & TW_SP_METRIC_NO_TIMESTAMP)) n += 1u + vlen((uint64_t)m->ts_ms);
    if (pl->datatype) n += 1u + vlen(pl->datatype);
    if (f & TW_SP_METRIC_HISTORICAL) n += 2u;
    if (f & TW_SP_METRIC_TRANSIENT) n += 2u;
    if (f & TW_SP_METRIC_NULL) n += 2u;
    pl->wq = (uint32_t)tw_quality_to_sparkplug(m->quality);
    pl->quality = (f & TW_SP_METRIC_QUALITY) || pl->wq != TW__SP_QUALITY_GOOD;
    if (pl->quality) {
        size_t ps = ps_quality_len(pl->wq);
        n += 1u + vlen(ps) + ps;
    }
    if (!(f & TW_SP_METRIC_NULL)) {
        switch (m->value.type) {
        case TW_TYPE_FLOAT: n += 1u + 4u; break;
        case TW_TYPE_DOUBLE: n += 1u + 8u; break;
        case TW_TYPE_STRING: n += 1u + vlen(m->value.as.buf.len) + m->value.as.buf.len; break;
        case TW_TYPE_BYTES: n += 2u + vlen(m->value.as.buf.len) + m->value.as.buf.len; break;
        default: n += 1u + vlen(tw__sp_wire_int(&m->value)); break;
        }
    }
    pl->body = n;
    return TW_OK;
}

static uint8_t *write_metric(uint8_t *p, const tw_sp_metric *m, const sp_plan *pl)
{
    uint32_t f = m->flags;
    *p++ = T_PAYLOAD_METRICS;
    p = put_varint(p, pl->body);
    if (m->name) {
        *p++ = T_M_NAME;
        p = put_varint(p, pl->name_len);
        memcpy(p, m->name, pl->name_len);
        p += pl->name_len;
    }
    if (!(f & TW_SP_METRIC_NO_ALIAS)) {
        *p++ = T_M_ALIAS;
        p = put_varint(p, m->alias);
    }
    if (!(f & TW_SP_METRIC_NO_TIMESTAMP)) {
        *p++ = T_M_TIMESTAMP;
        p = put_varint(p, (uint64_t)m->ts_ms);
    }
    if (pl->datatype) {
        *p++ = T_M_DATATYPE;
        p = put_varint(p, pl->datatype);
    }
    if (f & TW_SP_METRIC_HISTORICAL) {
        *p++ = T_M_HISTORICAL;
        *p++ = 1;
    }
    if (f & TW_SP_METRIC_TRANSIENT) {
        *p++ = T_M_TRANSIENT;
        *p++ = 1;
    }
    if (f & TW_SP_METRIC_NULL) {
        *p++ = T_M_NULL;
        *p++ = 1;
    }
    if (pl->quality) {
        size_t pv = pv_quality_len(pl->wq);
        *p++ = T_M_PROPERTIES;
        p = put_varint(p, ps_quality_len(pl->wq));
        *p++ = T_PS_KEYS;
        *p++ = (uint8_t)QUALITY_KEY_LEN;
        memcpy(p, k_quality_key, QUALITY_KEY_LEN);
        p += QUALITY_KEY_LEN;
        *p++ = T_PS_VALUES;
        p = put_varint(p, pv);
        *p++ = T_PV_TYPE;
        *p++ = TW_SP_DT_INT32;
        *p++ = T_PV_INT;
        p = put_varint(p, pl->wq);
    }
    if (f & TW_SP_METRIC_NULL) return p;
    switch (m->value.type) {
    case TW_TYPE_FLOAT: {
        uint32_t bits;
        memcpy(&bits, &m->value.as.f, 4);
        *p++ = T_M_FLOAT;
        return put_fixed32(p, bits);
    }
    case TW_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &m->value.as.d, 8);
        *p++ = T_M_DOUBLE;
        return put_fixed64(p, bits);
    }
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES:
        if (m->value.type == TW_TYPE_STRING) {
            *p++ = T_M_STRING;
        } else {
            *p++ = T_M_BYTES_0;
            *p++ = T_M_BYTES_1;
        }
        p = put_varint(p, m->value.as.buf.len);
        if (m->value.as.buf.len) memcpy(p, m->value.as.buf.ptr, m->value.as.buf.len);
        return p + m->value.as.buf.len;
    case TW_TYPE_BOOL:
        *p++ = T_M_BOOL;
        *p++ = m->value.as.b ? 1 : 0;
        return p;
    case TW_TYPE_INT64:
    case TW_TYPE_UINT64:
    case TW_TYPE_DATETIME:
        *p++ = T_M_LONG;
        return put_varint(p, tw__sp_wire_int(&m->value));
    default:
        *p++ = T_M_INT;
        return put_varint(p, tw__sp_wire_int(&m->value));
    }
}

tw_status tw_sp_encode_data(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                            uint64_t seq, const tw_sp_metric *metrics, size_t count)
{
    if (!out_len || (!metrics && count) || (!buf && cap)) return TW_ERR_INVALID_ARG;
    if (timestamp_ms < 0) return TW_ERR_RANGE;
    size_t total = 1u + vlen((uint64_t)timestamp_ms) + 1u + vlen(seq);
    size_t pos = 1u + vlen((uint64_t)timestamp_ms);
    int fits = total <= cap;
    if (fits) {
        buf[0] = T_PAYLOAD_TIMESTAMP;
        put_varint(buf + 1, (uint64_t)timestamp_ms);
    }
    for (size_t i = 0; i < count; i++) {
        sp_plan pl;
        tw_status st = plan_metric(&metrics[i], &pl);
        if (st != TW_OK) return st;
        size_t n = 1u + vlen(pl.body) + pl.body;
        if (n > SIZE_MAX - total) return TW_ERR_RANGE;
        total += n;
        if (fits && total <= cap) {
            uint8_t *end = write_metric(buf + pos, &metrics[i], &pl);
            pos = (size_t)(end - buf);
        } else {
            fits = 0;
        }
    }
    *out_len = total;
    if (!fits) return TW_ERR_FULL;
    buf[pos++] = T_PAYLOAD_SEQ;
    put_varint(buf + pos, seq);
    return TW_OK;
}

/* ---- protobuf-c message building (births, NDEATH, reference packer) ---------------------------- */

struct tw__sp_ref {
    Twspb__Payload payload;
    /* followed by the metric pointer array, metrics, property sets and strings */
};

/* Per-metric storage for a built message. */
typedef struct sp_slot {
    Twspb__Payload__Metric metric;
    Twspb__Payload__PropertySet ps;
    char *keys[3];
    Twspb__Payload__PropertyValue *vals[3];
    Twspb__Payload__PropertyValue pv[3];
} sp_slot;

#define ALIGN_UP(n) (((n) + 15u) & ~(size_t)15u)

static void set_string_pv(Twspb__Payload__PropertyValue *pv, const char *s)
{
    twspb__payload__property_value__init(pv);
    pv->has_type = 1;
    pv->type = TW_SP_DT_STRING;
    pv->value_case = TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_STRING_VALUE;
    pv->string_value = (char *)(uintptr_t)s;
}

/* flags for sp_build */
#define BUILD_BIRTH 1
#define BUILD_NO_SEQ 2

static tw_status sp_build(tw__sp_ref **out, int how, int64_t timestamp_ms, uint64_t seq,
                          const tw_sp_metric *metrics, size_t count)
{
    if (!out || (!metrics && count)) return TW_ERR_INVALID_ARG;
    if (timestamp_ms < 0) return TW_ERR_RANGE;
    int birth = how & BUILD_BIRTH;
    /* size: header, pointer array, slots, NUL-terminated copies of string values */
    size_t strbytes = 0;
    for (size_t i = 0; i < count; i++) {
        const tw_sp_metric *m = &metrics[i];
        if (birth && !m->name) return TW_ERR_INVALID_ARG;
        sp_plan pl;
        tw_status st = plan_metric(m, &pl);
        if (st != TW_OK) return st;
        if (!(m->flags & TW_SP_METRIC_NULL) && m->value.type == TW_TYPE_STRING) {
            if (m->value.as.buf.len > SIZE_MAX / 2) return TW_ERR_RANGE;
            strbytes += m->value.as.buf.len + 1u;
        }
    }
    if (count > (SIZE_MAX / 2) / (sizeof(sp_slot) + sizeof(void *))) return TW_ERR_RANGE;
    size_t off_ptrs = ALIGN_UP(sizeof(tw__sp_ref));
    size_t off_slots = ALIGN_UP(off_ptrs + count * sizeof(Twspb__Payload__Metric *));
    size_t off_str = off_slots + count * sizeof(sp_slot);
    size_t total = off_str + strbytes;
    uint8_t *mem = tw__calloc(1, total ? total : 1);
    if (!mem) return TW_ERR_NOMEM;
    tw__sp_ref *ref = (tw__sp_ref *)mem;
    Twspb__Payload__Metric **ptrs = (Twspb__Payload__Metric **)(mem + off_ptrs);
    sp_slot *slots = (sp_slot *)(mem + off_slots);
    char *strs = (char *)(mem + off_str);

    Twspb__Payload *p = &ref->payload;
    twspb__payload__init(p);
    p->has_timestamp = 1;
    p->timestamp = (uint64_t)timestamp_ms;
    if (!(how & BUILD_NO_SEQ)) {
        p->has_seq = 1;
        p->seq = seq;
    }
    p->n_metrics = count;
    p->metrics = count ? ptrs : NULL;
    for (size_t i = 0; i < count; i++) {
        const tw_sp_metric *m = &metrics[i];
        sp_slot *s = &slots[i];
        Twspb__Payload__Metric *pm = &s->metric;
        uint32_t f = m->flags;
        ptrs[i] = pm;
        twspb__payload__metric__init(pm);
        pm->name = (char *)(uintptr_t)m->name;
        if (!(f & TW_SP_METRIC_NO_ALIAS)) {
            pm->has_alias = 1;
            pm->alias = m->alias;
        }
        if (!(f & TW_SP_METRIC_NO_TIMESTAMP)) {
            pm->has_timestamp = 1;
            pm->timestamp = (uint64_t)m->ts_ms;
        }
        uint32_t dt = tw_sp_datatype_from_type(m->value.type);
        if (dt && (birth || !(f & TW_SP_METRIC_NO_DATATYPE))) {
            pm->has_datatype = 1;
            pm->datatype = dt;
        }
        if (f & TW_SP_METRIC_HISTORICAL) pm->has_is_historical = pm->is_historical = 1;
        if (f & TW_SP_METRIC_TRANSIENT) pm->has_is_transient = pm->is_transient = 1;
        if (f & TW_SP_METRIC_NULL) pm->has_is_null = pm->is_null = 1;
        /* properties */
        size_t np = 0;
        if (birth && m->unit) {
            s->keys[np] = (char *)(uintptr_t)TW_SP_PROP_ENG_UNIT;
            set_string_pv(&s->pv[np], m->unit);
            np++;
        }
        if (birth && m->description) {
            s->keys[np] = (char *)(uintptr_t)TW_SP_PROP_DESCRIPTION;
            set_string_pv(&s->pv[np], m->description);
            np++;
        }
        uint32_t wq = (uint32_t)tw_quality_to_sparkplug(m->quality);
        if (birth || (f & TW_SP_METRIC_QUALITY) || wq != TW__SP_QUALITY_GOOD) {
            Twspb__Payload__PropertyValue *pv = &s->pv[np];
            s->keys[np] = (char *)(uintptr_t)TW_SP_PROP_QUALITY;
            twspb__payload__property_value__init(pv);
            pv->has_type = 1;
            pv->type = TW_SP_DT_INT32;
            pv->value_case = TWSPB__PAYLOAD__PROPERTY_VALUE__VALUE_INT_VALUE;
            pv->int_value = wq;
            np++;
        }
        if (np) {
            twspb__payload__property_set__init(&s->ps);
            for (size_t k = 0; k < np; k++) s->vals[k] = &s->pv[k];
            s->ps.n_keys = s->ps.n_values = np;
            s->ps.keys = s->keys;
            s->ps.values = s->vals;
            pm->properties = &s->ps;
        }
        if (f & TW_SP_METRIC_NULL) continue;
        switch (m->value.type) {
        case TW_TYPE_BOOL:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_BOOLEAN_VALUE;
            pm->boolean_value = m->value.as.b ? 1 : 0;
            break;
        case TW_TYPE_FLOAT:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_FLOAT_VALUE;
            pm->float_value = m->value.as.f;
            break;
        case TW_TYPE_DOUBLE:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_DOUBLE_VALUE;
            pm->double_value = m->value.as.d;
            break;
        case TW_TYPE_STRING:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_STRING_VALUE;
            if (m->value.as.buf.len) memcpy(strs, m->value.as.buf.ptr, m->value.as.buf.len);
            strs[m->value.as.buf.len] = '\0';
            pm->string_value = strs;
            strs += m->value.as.buf.len + 1u;
            break;
        case TW_TYPE_BYTES:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_BYTES_VALUE;
            pm->bytes_value.len = m->value.as.buf.len;
            pm->bytes_value.data = (uint8_t *)(uintptr_t)m->value.as.buf.ptr;
            break;
        case TW_TYPE_INT64:
        case TW_TYPE_UINT64:
        case TW_TYPE_DATETIME:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_LONG_VALUE;
            pm->long_value = tw__sp_wire_int(&m->value);
            break;
        default:
            pm->value_case = TWSPB__PAYLOAD__METRIC__VALUE_INT_VALUE;
            pm->int_value = (uint32_t)tw__sp_wire_int(&m->value);
            break;
        }
    }
    *out = ref;
    return TW_OK;
}

tw_status tw__sp_ref_new(tw__sp_ref **out, int birth, int64_t timestamp_ms, uint64_t seq,
                         const tw_sp_metric *metrics, size_t count)
{
    return sp_build(out, birth ? BUILD_BIRTH : 0, timestamp_ms, seq, metrics, count);
}

tw_status tw__sp_ref_pack(const tw__sp_ref *ref, uint8_t *buf, size_t cap, size_t *out_len)
{
    if (!ref || !out_len || (!buf && cap)) return TW_ERR_INVALID_ARG;
    size_t n = twspb__payload__get_packed_size(&ref->payload);
    *out_len = n;
    if (n > cap) return TW_ERR_FULL;
    size_t w = twspb__payload__pack(&ref->payload, buf);
    return w == n ? TW_OK : TW_ERR_GENERIC;
}

void tw__sp_ref_free(tw__sp_ref *ref) { tw__free(ref); }

static tw_status build_and_pack(uint8_t *buf, size_t cap, size_t *out_len, int how,
                                int64_t timestamp_ms, uint64_t seq, const tw_sp_metric *metrics,
                                size_t count)
{
    if (!out_len || (!buf && cap)) return TW_ERR_INVALID_ARG;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    tw__sp_ref *ref;
    st = sp_build(&ref, how, timestamp_ms, seq, metrics, count);
    if (st != TW_OK) return st;
    st = tw__sp_ref_pack(ref, buf, cap, out_len);
    tw__sp_ref_free(ref);
    return st;
}

tw_status tw_sp_encode_birth(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                             uint64_t seq, const tw_sp_metric *metrics, size_t count)
{
    return build_and_pack(buf, cap, out_len, BUILD_BIRTH, timestamp_ms, seq, metrics, count);
}

tw_status tw__sp_encode_nbirth(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                               uint8_t bdseq, uint64_t alias_base, const tw_sp_metric *metrics,
                               size_t count)
{
    if (!metrics && count) return TW_ERR_INVALID_ARG;
    if (count > SIZE_MAX / sizeof(tw_sp_metric) - 2) return TW_ERR_RANGE;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    tw_sp_metric *all = tw__calloc(count + 2, sizeof(*all));
    if (!all) return TW_ERR_NOMEM;
    all[0].name = TW__SP_METRIC_BDSEQ;
    all[0].alias = alias_base;
    all[0].ts_ms = timestamp_ms;
    all[0].value.type = TW_TYPE_INT64;
    all[0].value.as.i = bdseq;
    all[0].quality = TW_QUALITY_GOOD;
    all[1].name = TW__SP_METRIC_REBIRTH;
    all[1].alias = alias_base + 1u;
    all[1].ts_ms = timestamp_ms;
    all[1].value.type = TW_TYPE_BOOL;
    all[1].value.as.b = 0;
    all[1].quality = TW_QUALITY_GOOD;
    if (count) memcpy(all + 2, metrics, count * sizeof(*all));
    st = build_and_pack(buf, cap, out_len, BUILD_BIRTH, timestamp_ms, 0, all, count + 2);
    tw__free(all);
    return st;
}

tw_status tw__sp_encode_ndeath(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                               uint8_t bdseq)
{
    tw_sp_metric m;
    memset(&m, 0, sizeof(m));
    m.name = TW__SP_METRIC_BDSEQ;
    m.ts_ms = timestamp_ms;
    m.value.type = TW_TYPE_INT64;
    m.value.as.i = bdseq;
    m.flags = TW_SP_METRIC_NO_ALIAS;
    return build_and_pack(buf, cap, out_len, BUILD_NO_SEQ, timestamp_ms, 0, &m, 1);
}
