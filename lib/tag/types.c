/* Value types, quality codes and tw_value helpers (tagwire/types.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "tagwire/types.h"

/* ---- types ---- */

static const char *const g_type_names[TW_TYPE_MAX_] = {
    [TW_TYPE_NONE] = "none",     [TW_TYPE_BOOL] = "bool",       [TW_TYPE_INT8] = "int8",
    [TW_TYPE_INT16] = "int16",   [TW_TYPE_INT32] = "int32",     [TW_TYPE_INT64] = "int64",
    [TW_TYPE_UINT8] = "uint8",   [TW_TYPE_UINT16] = "uint16",   [TW_TYPE_UINT32] = "uint32",
    [TW_TYPE_UINT64] = "uint64", [TW_TYPE_FLOAT] = "float",     [TW_TYPE_DOUBLE] = "double",
    [TW_TYPE_STRING] = "string", [TW_TYPE_BYTES] = "bytes",     [TW_TYPE_DATETIME] = "datetime",
};

const char *tw_type_name(tw_type type)
{
    if ((int)type < 0 || type >= TW_TYPE_MAX_) return NULL;
    return g_type_names[type];
}

tw_type tw_type_from_name(const char *name)
{
    static const struct {
        const char *name;
        tw_type type;
    } aliases[] = {
        {"boolean", TW_TYPE_BOOL}, {"float32", TW_TYPE_FLOAT}, {"real", TW_TYPE_FLOAT},
        {"float64", TW_TYPE_DOUBLE}, {"int", TW_TYPE_INT32}, {"uint", TW_TYPE_UINT32},
        {"text", TW_TYPE_STRING}, {"timestamp", TW_TYPE_DATETIME},
    };
    if (!name) return TW_TYPE_NONE;
    for (int t = TW_TYPE_BOOL; t < TW_TYPE_MAX_; t++)
        if (!strcasecmp(name, g_type_names[t])) return (tw_type)t;
    for (size_t i = 0; i < TW__ARRAY_LEN(aliases); i++)
        if (!strcasecmp(name, aliases[i].name)) return aliases[i].type;
    return TW_TYPE_NONE;
}

int tw_type_is_numeric(tw_type t) { return t >= TW_TYPE_INT8 && t <= TW_TYPE_DOUBLE; }

/* ---- quality ---- */

static const struct {
    tw_quality code;
    const char *name;
} g_quality_names[] = {
    {TW_QUALITY_GOOD, "good"},
    {TW_QUALITY_GOOD_LOCAL_OVERRIDE, "good-local-override"},
    {TW_QUALITY_UNCERTAIN, "uncertain"},
    {TW_QUALITY_UNCERTAIN_LAST_KNOWN, "uncertain-last-known"},
    {TW_QUALITY_UNCERTAIN_SUBSTITUTE, "uncertain-substitute"},
    {TW_QUALITY_UNCERTAIN_INITIAL, "uncertain-initial"},
    {TW_QUALITY_UNCERTAIN_SENSOR, "uncertain-sensor-not-accurate"},
    {TW_QUALITY_BAD, "bad"},
    {TW_QUALITY_BAD_COMM_FAILURE, "bad-comm-failure"},
    {TW_QUALITY_BAD_TIMEOUT, "bad-timeout"},
    {TW_QUALITY_BAD_WAITING_FOR_INITIAL, "bad-waiting-for-initial"},
    {TW_QUALITY_BAD_OUT_OF_RANGE, "bad-out-of-range"},
    {TW_QUALITY_BAD_TYPE_MISMATCH, "bad-type-mismatch"},
    {TW_QUALITY_BAD_CONFIG, "bad-config"},
    {TW_QUALITY_BAD_NOT_CONNECTED, "bad-not-connected"},
    {TW_QUALITY_BAD_DEVICE_FAILURE, "bad-device-failure"},
    {TW_QUALITY_BAD_SENSOR_FAILURE, "bad-sensor-failure"},
    {TW_QUALITY_BAD_OUT_OF_SERVICE, "bad-out-of-service"},
};

const char *tw_quality_name(tw_quality q)
{
    for (size_t i = 0; i < TW__ARRAY_LEN(g_quality_names); i++)
        if (g_quality_names[i].code == q) return g_quality_names[i].name;
    /* OPC UA keeps info bits in the low 16 bits: a named sub-code with info bits keeps its name. */
    for (size_t i = 0; i < TW__ARRAY_LEN(g_quality_names); i++)
        if (g_quality_names[i].code == (q & 0xFFFF0000u)) return g_quality_names[i].name;
    if (TW_QUALITY_IS_GOOD(q)) return "good";
    if (TW_QUALITY_IS_UNCERTAIN(q)) return "uncertain";
    return "bad";
}

int32_t tw_quality_to_sparkplug(tw_quality q)
{
    if (TW_QUALITY_IS_GOOD(q)) return 192;
    if (TW_QUALITY_IS_UNCERTAIN(q)) return 500;
    return 0;
}

tw_quality tw_quality_from_sparkplug(int32_t sq)
{
    switch (sq) {
    case 192: return TW_QUALITY_GOOD;
    case 0: return TW_QUALITY_BAD;
    case 500: return TW_QUALITY_UNCERTAIN_LAST_KNOWN;
    default: return TW_QUALITY_UNCERTAIN;
    }
}

/* ---- UTF-8 ---- */

int tw_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    if (!p) return len == 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (len - i - 1 < n) return 0;
        for (size_t k = 1; k <= n; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += n + 1;
    }
    return 1;
}

/* ---- conversions ---- */

static int is_signed_int(tw_type t) { return t >= TW_TYPE_INT8 && t <= TW_TYPE_INT64; }
static int is_unsigned_int(tw_type t) { return t >= TW_TYPE_UINT8 && t <= TW_TYPE_UINT64; }
static int is_float(tw_type t) { return t == TW_TYPE_FLOAT || t == TW_TYPE_DOUBLE; }
static int is_intlike(tw_type t)
{
    return is_signed_int(t) || is_unsigned_int(t) || t == TW_TYPE_DATETIME;
}

static void int_limits(tw_type t, int64_t *lo, uint64_t *hi)
{
    switch (t) {
    case TW_TYPE_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case TW_TYPE_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case TW_TYPE_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case TW_TYPE_INT64: case TW_TYPE_DATETIME: *lo = INT64_MIN; *hi = INT64_MAX; break;
    case TW_TYPE_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    case TW_TYPE_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case TW_TYPE_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    default: *lo = 0; *hi = UINT64_MAX; break;
    }
}

/* An integer source as (negative?, magnitude-ish) pair: neg -> value in i, else value in u. */
static tw_status int_to_int(tw_value *out, int neg, int64_t i, uint64_t u, tw_type to)
{
    int64_t lo;
    uint64_t hi;
    int_limits(to, &lo, &hi);
    tw_value v;
    v.type = to;
    if (neg) {
        if (i < lo) return TW_ERR_RANGE;
        if (is_unsigned_int(to)) return TW_ERR_RANGE;
        v.as.i = i;
    } else {
        if (u > hi) return TW_ERR_RANGE;
        if (is_unsigned_int(to)) v.as.u = u;
        else v.as.i = (int64_t)u;
    }
    *out = v;
    return TW_OK;
}

/* round() without libm: nearest integer, ties away from zero (d finite). */
static double round_half_away(double d)
{
    if (d >= 4503599627370496.0 || d <= -4503599627370496.0) return d; /* |d| >= 2^52: integral */
    double t = (double)(int64_t)d; /* truncation toward zero */
    double frac = d - t;           /* exact */
    if (frac >= 0.5) t += 1.0;
    else if (frac <= -0.5) t -= 1.0;
    return t;
}

static tw_status float_to_int(tw_value *out, double d, tw_type to)
{
    if (!isfinite(d)) return TW_ERR_RANGE;
    d = round_half_away(d);
    if (d < 0) {
        /* -2^63 is exactly representable; anything below it does not fit any type */
        if (d < -9223372036854775808.0) return TW_ERR_RANGE;
        return int_to_int(out, 1, (int64_t)d, 0, to);
    }
    if (d >= 18446744073709551616.0) return TW_ERR_RANGE;
    return int_to_int(out, 0, 0, (uint64_t)d, to);
}

tw_status tw_value_convert(tw_value *out, const tw_value *in, tw_type to)
{
    if (!out || !in || (int)to <= TW_TYPE_NONE || to >= TW_TYPE_MAX_) return TW_ERR_INVALID_ARG;
    tw_type from = in->type;
    if ((int)from <= TW_TYPE_NONE || from >= TW_TYPE_MAX_) {
        return (int)from == TW_TYPE_NONE || (from & TW_TYPE_ARRAY_FLAG) ? TW_ERR_TYPE_MISMATCH
                                                                        : TW_ERR_INVALID_ARG;
    }
    tw_value v;
    if (from == to) {
        if (to == TW_TYPE_STRING && !tw_utf8_valid(in->as.buf.ptr, in->as.buf.len))
            return TW_ERR_PARSE;
        *out = *in;
        return TW_OK;
    }
    /* strings and bytes */
    if (from == TW_TYPE_STRING || from == TW_TYPE_BYTES || to == TW_TYPE_STRING ||
        to == TW_TYPE_BYTES) {
        if ((from != TW_TYPE_STRING && from != TW_TYPE_BYTES) ||
            (to != TW_TYPE_STRING && to != TW_TYPE_BYTES))
            return TW_ERR_TYPE_MISMATCH;
        if (to == TW_TYPE_STRING && !tw_utf8_valid(in->as.buf.ptr, in->as.buf.len))
            return TW_ERR_PARSE;
        v = *in;
        v.type = to;
        *out = v;
        return TW_OK;
    }
    /* bool */
    if (from == TW_TYPE_BOOL) {
        if (to == TW_TYPE_DATETIME) return TW_ERR_TYPE_MISMATCH;
        tw_value n;
        n.type = TW_TYPE_UINT8;
        n.as.u = in->as.b ? 1u : 0u;
        return tw_value_convert(out, &n, to);
    }
    if (to == TW_TYPE_BOOL) {
        if (from == TW_TYPE_DATETIME) return TW_ERR_TYPE_MISMATCH;
        tw_value n;
        tw_status st = tw_value_convert(&n, in, TW_TYPE_UINT8);
        if (st) return st;
        if (n.as.u > 1) return TW_ERR_RANGE;
        v.type = TW_TYPE_BOOL;
        v.as.b = (int)n.as.u;
        *out = v;
        return TW_OK;
    }
    /* datetime only with integers */
    if ((from == TW_TYPE_DATETIME && !is_intlike(to)) || (to == TW_TYPE_DATETIME && !is_intlike(from)))
        return TW_ERR_TYPE_MISMATCH;
    /* numeric */
    if (is_intlike(from)) {
        int neg = !is_unsigned_int(from) && in->as.i < 0;
        if (is_intlike(to))
            return int_to_int(out, neg, in->as.i, neg ? 0 : (is_unsigned_int(from) ? in->as.u : (uint64_t)in->as.i), to);
        double d = is_unsigned_int(from) ? (double)in->as.u : (double)in->as.i;
        v.type = to;
        if (to == TW_TYPE_FLOAT) v.as.f = (float)d;
        else v.as.d = d;
        *out = v;
        return TW_OK;
    }
    if (is_float(from)) {
        double d = from == TW_TYPE_FLOAT ? (double)in->as.f : in->as.d;
        if (is_intlike(to)) return float_to_int(out, d, to);
        v.type = to;
        if (to == TW_TYPE_FLOAT) {
            if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX)) return TW_ERR_RANGE;
            v.as.f = (float)d;
        } else {
            v.as.d = d;
        }
        *out = v;
        return TW_OK;
    }
    return TW_ERR_TYPE_MISMATCH;
}

int tw_value_equal(const tw_value *a, const tw_value *b)
{
    if (!a || !b) return a == b;
    if (a->type != b->type) return 0;
    switch (a->type) {
    case TW_TYPE_NONE: return 1;
    case TW_TYPE_BOOL: return !a->as.b == !b->as.b;
    case TW_TYPE_FLOAT: return a->as.f == b->as.f || (isnan(a->as.f) && isnan(b->as.f));
    case TW_TYPE_DOUBLE: return a->as.d == b->as.d || (isnan(a->as.d) && isnan(b->as.d));
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES:
        return a->as.buf.len == b->as.buf.len &&
               (a->as.buf.len == 0 || !memcmp(a->as.buf.ptr, b->as.buf.ptr, a->as.buf.len));
    default:
        if (is_unsigned_int(a->type)) return a->as.u == b->as.u;
        return a->as.i == b->as.i;
    }
}

void tw_value_clear(tw_value *v)
{
    if (!v) return;
    if (v->type == TW_TYPE_STRING || v->type == TW_TYPE_BYTES) {
        tw__free((void *)(uintptr_t)v->as.buf.ptr);
        v->as.buf.ptr = NULL;
        v->as.buf.len = 0;
    }
    v->type = TW_TYPE_NONE;
}
