/*
 * Store record entries of the HTTPS uplink: encoder and bounds-checked decoder (format in
 * tagwire/https.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "internal.h"
#include "tagwire/https.h"

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Fixed value length of a type; -1 for variable (string, bytes), -2 for unknown. */
static int fixed_len(tw_type t)
{
    switch (t) {
    case TW_TYPE_NONE: return 0;
    case TW_TYPE_BOOL: return 1;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
    case TW_TYPE_DOUBLE: case TW_TYPE_DATETIME: return 8;
    case TW_TYPE_FLOAT: return 4;
    case TW_TYPE_STRING: case TW_TYPE_BYTES: return -1;
    default: return -2;
    }
}

tw_status tw_https_record_encode(void *buf, size_t cap, size_t *len, const char *name,
                                 const tw_value *value, tw_quality quality, int64_t ts_ns)
{
    if (!buf || !len || !name || !name[0] || *len > cap) return TW_ERR_INVALID_ARG;
    size_t nlen = strlen(name);
    if (nlen > TW_HTTPS_NAME_MAX) return TW_ERR_RANGE;
    tw_type t = value ? value->type : TW_TYPE_NONE;
    int fl = fixed_len(t);
    if (fl == -2) return TW_ERR_INVALID_ARG;
    size_t vlen = fl >= 0 ? (size_t)fl : value->as.buf.len;
    if (fl == -1 && vlen > 0 && !value->as.buf.ptr) return TW_ERR_INVALID_ARG;
    if (vlen > UINT32_MAX) return TW_ERR_RANGE;
    size_t need = TW_HTTPS_ENTRY_HEADER + nlen + vlen;
    if (need > cap - *len) return TW_ERR_RANGE;
    uint8_t *p = (uint8_t *)buf + *len;
    p[0] = (uint8_t)TW_HTTPS_ENTRY_MAGIC;
    p[1] = (uint8_t)t;
    put_u16(p + 2, (uint16_t)nlen);
    put_u32(p + 4, quality);
    put_u64(p + 8, (uint64_t)ts_ns);
    put_u32(p + 16, (uint32_t)vlen);
    memcpy(p + TW_HTTPS_ENTRY_HEADER, name, nlen);
    uint8_t *v = p + TW_HTTPS_ENTRY_HEADER + nlen;
    switch (t) {
    case TW_TYPE_NONE: break;
    case TW_TYPE_BOOL: v[0] = value->as.b ? 1 : 0; break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
    case TW_TYPE_DATETIME: put_u64(v, (uint64_t)value->as.i); break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        put_u64(v, value->as.u);
        break;
    case TW_TYPE_FLOAT: {
        uint32_t bits;
        memcpy(&bits, &value->as.f, 4);
        put_u32(v, bits);
        break;
    }
    case TW_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &value->as.d, 8);
        put_u64(v, bits);
        break;
    }
    default:
        if (vlen) memcpy(v, value->as.buf.ptr, vlen);
        break;
    }
    *len += need;
    return TW_OK;
}

tw_status tw_https_record_next(const void *rec, size_t len, size_t *offset, tw_https_entry *out)
{
    if (!offset || !out || (!rec && len)) return TW_ERR_INVALID_ARG;
    if (*offset == len) return TW_ERR_AGAIN;
    if (*offset > len) return TW_ERR_INVALID_ARG;
    const uint8_t *p = (const uint8_t *)rec + *offset;
    size_t left = len - *offset;
    if (left < TW_HTTPS_ENTRY_HEADER) return TW_ERR_PARSE;
    if (p[0] != TW_HTTPS_ENTRY_MAGIC) return TW_ERR_PARSE;
    tw_type t = (tw_type)p[1];
    int fl = fixed_len(t);
    if (fl == -2) return TW_ERR_PARSE;
    size_t nlen = get_u16(p + 2);
    uint32_t vlen = get_u32(p + 16);
    if (nlen == 0 || nlen > TW_HTTPS_NAME_MAX) return TW_ERR_PARSE;
    if (fl >= 0 && vlen != (uint32_t)fl) return TW_ERR_PARSE;
    if (nlen > left - TW_HTTPS_ENTRY_HEADER || vlen > left - TW_HTTPS_ENTRY_HEADER - nlen)
        return TW_ERR_PARSE;
    memset(out, 0, sizeof *out);
    out->name = (const char *)p + TW_HTTPS_ENTRY_HEADER;
    out->name_len = nlen;
    out->quality = get_u32(p + 4);
    out->ts_ns = (int64_t)get_u64(p + 8);
    const uint8_t *v = p + TW_HTTPS_ENTRY_HEADER + nlen;
    out->value.type = t;
    switch (t) {
    case TW_TYPE_NONE: break;
    case TW_TYPE_BOOL:
        if (v[0] > 1) return TW_ERR_PARSE;
        out->value.as.b = v[0];
        break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
    case TW_TYPE_DATETIME: out->value.as.i = (int64_t)get_u64(v); break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        out->value.as.u = get_u64(v);
        break;
    case TW_TYPE_FLOAT: {
        uint32_t bits = get_u32(v);
        memcpy(&out->value.as.f, &bits, 4);
        break;
    }
    case TW_TYPE_DOUBLE: {
        uint64_t bits = get_u64(v);
        memcpy(&out->value.as.d, &bits, 8);
        break;
    }
    default:
        out->value.as.buf.ptr = v;
        out->value.as.buf.len = vlen;
        break;
    }
    *offset += TW_HTTPS_ENTRY_HEADER + nlen + vlen;
    return TW_OK;
}
