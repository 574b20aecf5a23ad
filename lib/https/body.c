/*
 * Body encoders of the HTTPS uplink: JSON lines and Sparkplug B protobuf (hand-written protobuf
 * wire format, field numbers from the Sparkplug 3.0 specification's schema), Retry-After parsing.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "https_internal.h"

/* ---- buffer ---- */

bool tw__hbuf_reserve(tw__hbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (extra <= b->cap - b->len) return true;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap - b->len < extra) {
        if (ncap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        ncap *= 2;
    }
    uint8_t *np = tw__realloc(b->p, ncap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

void tw__hbuf_put(tw__hbuf *b, const void *data, size_t n)
{
    if (!n || !tw__hbuf_reserve(b, n)) return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void tw__hbuf_free(tw__hbuf *b)
{
    tw__free(b->p);
    memset(b, 0, sizeof *b);
}

static void put_str(tw__hbuf *b, const char *s) { tw__hbuf_put(b, s, strlen(s)); }


static void put_u64(tw__hbuf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tw__hbuf_put(b, tmp + i, sizeof tmp - i);
}

static void put_i64(tw__hbuf *b, int64_t v)
{
    if (v < 0) {
        tw__hbuf_put(b, "-", 1);
        put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

/* ---- JSON ---- */

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when it is not one. */
static size_t utf8_seq(const uint8_t *p, size_t left)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
             : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    return tw_utf8_valid(p, n) ? n : 0;
}

static void put_json_string(tw__hbuf *b, const void *data, size_t len)
{
    const uint8_t *p = data;
    static const char hex[] = "0123456789abcdef";
    tw__hbuf_put(b, "\"", 1);
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tw__hbuf_put(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tw__hbuf_put(b, esc, 6);
            i++;
        } else if (c < 0x80) {
            size_t j = i + 1;
            while (j < len && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\') j++;
            tw__hbuf_put(b, p + i, j - i);
            i = j;
        } else {
            size_t n = utf8_seq(p + i, len - i);
            if (n) {
                tw__hbuf_put(b, p + i, n);
                i += n;
            } else {
                put_str(b, "\\ufffd");
                i++;
            }
        }
    }
    tw__hbuf_put(b, "\"", 1);
}

static void put_base64(tw__hbuf *b, const uint8_t *p, size_t len)
{
    char o[4 * 48 / 3 + 1];
    tw__hbuf_put(b, "\"", 1);
    for (size_t i = 0; i < len; i += 48) { /* whole 3-byte groups: no padding until the end */
        size_t n = TW__MIN(len - i, (size_t)48);
        tw__base64_encode(o, sizeof o, p + i, n);
        tw__hbuf_put(b, o, strlen(o));
    }
    tw__hbuf_put(b, "\"", 1);
}

static void put_double(tw__hbuf *b, double d, bool is_float)
{
    if (isnan(d)) {
        put_str(b, "\"NaN\"");
        return;
    }
    if (isinf(d)) {
        put_str(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char tmp[40];
    int lo = is_float ? 6 : 15, hi = is_float ? 9 : 17;
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        double back = strtod(tmp, NULL);
        if (is_float ? (float)back == (float)d : back == d) break;
    }
    put_str(b, tmp);
}

bool tw__https_rfc3339(char *out, size_t cap, int64_t ts_ns)
{
    int64_t sec = ts_ns / 1000000000;
    int64_t frac = ts_ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        sec -= 1;
    }
    if (cap) out[0] = '\0';
    if (cap < 31) return false;
    /* values of one batch mostly share their second: keep the formatted date of the last one */
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[72]; /* "YYYY-MM-DDTHH:MM:SS." (20 used) */
    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        if ((int64_t)t != sec || !gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
            return false;
        snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = sec;
    }
    memcpy(out, cached, 20);
    uint32_t f = (uint32_t)frac;
    for (int i = 28; i >= 20; i--) {
        out[i] = (char)('0' + f % 10);
        f /= 10;
    }
    out[29] = 'Z';
    out[30] = '\0';
    return true;
}

void tw__https_jsonl_entry(tw__hbuf *b, const tw_https_entry *e, uint64_t seq)
{
    char ts[48];
    put_str(b, "{\"name\":");
    put_json_string(b, e->name, e->name_len);
    const char *tn = tw_type_name(e->value.type);
    put_str(b, ",\"type\":\"");
    put_str(b, tn ? tn : "none");
    put_str(b, "\",\"value\":");
    const tw_value *v = &e->value;
    switch (v->type) {
    case TW_TYPE_BOOL: put_str(b, v->as.b ? "true" : "false"); break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64:
        put_i64(b, v->as.i);
        break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        put_u64(b, v->as.u);
        break;
    case TW_TYPE_FLOAT: put_double(b, v->as.f, true); break;
    case TW_TYPE_DOUBLE: put_double(b, v->as.d, false); break;
    case TW_TYPE_STRING: put_json_string(b, v->as.buf.ptr, v->as.buf.len); break;
    case TW_TYPE_BYTES: put_base64(b, v->as.buf.ptr, v->as.buf.len); break;
    case TW_TYPE_DATETIME:
        if (tw__https_rfc3339(ts, sizeof ts, v->as.i)) {
            put_str(b, "\"");
            put_str(b, ts);
            put_str(b, "\"");
        } else {
            put_str(b, "null");
        }
        break;
    default: put_str(b, "null"); break;
    }
    put_str(b, ",\"quality\":\"");
    put_str(b, tw_quality_name(e->quality));
    put_str(b, "\",\"quality_code\":");
    put_u64(b, e->quality);
    put_str(b, ",\"ts\":");
    if (tw__https_rfc3339(ts, sizeof ts, e->ts_ns)) {
        put_str(b, "\"");
        put_str(b, ts);
        put_str(b, "\"");
    } else {
        put_str(b, "null");
    }
    put_str(b, ",\"ts_ns\":");
    put_i64(b, e->ts_ns);
    put_str(b, ",\"seq\":");
    put_u64(b, seq);
    put_str(b, "}\n");
}

/* ---- protobuf (Sparkplug B Payload) ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static void pb_varint(tw__hbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t c = (uint8_t)(v & 0x7F);
        v >>= 7;
        tmp[n++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
    tw__hbuf_put(b, tmp, n);
}
static void pb_key(tw__hbuf *b, uint32_t field, uint32_t wt) { pb_varint(b, ((uint64_t)field << 3) | wt); }
static void pb_u64(tw__hbuf *b, uint32_t field, uint64_t v)
{
    pb_key(b, field, WT_VARINT);
    pb_varint(b, v);
}
static void pb_bytes(tw__hbuf *b, uint32_t field, const void *p, size_t n)
{
    pb_key(b, field, WT_LEN);
    pb_varint(b, n);
    tw__hbuf_put(b, p, n);
}
static void pb_fixed32(tw__hbuf *b, uint32_t field, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    pb_key(b, field, WT_I32);
    tw__hbuf_put(b, t, 4);
}
static void pb_fixed64(tw__hbuf *b, uint32_t field, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) t[i] = (uint8_t)(v >> (8 * i));
    pb_key(b, field, WT_I64);
    tw__hbuf_put(b, t, 8);
}

/* Sparkplug B data type codes (specification, section 6.4.16). */
static uint32_t sp_datatype(tw_type t)
{
    switch (t) {
    case TW_TYPE_INT8: return 1;
    case TW_TYPE_INT16: return 2;
    case TW_TYPE_INT32: return 3;
    case TW_TYPE_INT64: return 4;
    case TW_TYPE_UINT8: return 5;
    case TW_TYPE_UINT16: return 6;
    case TW_TYPE_UINT32: return 7;
    case TW_TYPE_UINT64: return 8;
    case TW_TYPE_FLOAT: return 9;
    case TW_TYPE_DOUBLE: return 10;
    case TW_TYPE_BOOL: return 11;
    case TW_TYPE_STRING: return 12;
    case TW_TYPE_DATETIME: return 13;
    case TW_TYPE_BYTES: return 17;
    default: return 0;
    }
}

void tw__https_pb_begin(tw__hbuf *b, uint64_t timestamp_ms) { pb_u64(b, 1, timestamp_ms); }

static uint64_t ns_to_ms(int64_t ns)
{
    int64_t ms = ns / 1000000;
    if (ns % 1000000 < 0) ms -= 1;
    return ms < 0 ? 0 : (uint64_t)ms;
}

void tw__https_pb_metric(tw__hbuf *b, tw__hbuf *m, const tw_https_entry *e, bool historical)
{
    m->len = 0;
    const tw_value *v = &e->value;
    pb_bytes(m, 1, e->name, e->name_len);                  /* name */
    pb_u64(m, 3, ns_to_ms(e->ts_ns));                      /* timestamp */
    uint32_t dt = sp_datatype(v->type);
    pb_u64(m, 4, dt ? dt : 12);                            /* datatype (String for "none") */
    if (historical) pb_u64(m, 5, 1);                       /* is_historical */
    if (v->type == TW_TYPE_NONE) pb_u64(m, 7, 1);          /* is_null */
    /* properties: PropertySet { keys: "Quality", values: PropertyValue { type Int32, int_value } } */
    {
        uint8_t pv[16];
        tw__hbuf pvb = {pv, 0, sizeof pv, false};
        pb_u64(&pvb, 1, 3);
        pb_u64(&pvb, 3, (uint32_t)tw_quality_to_sparkplug(e->quality));
        uint8_t ps[48];
        tw__hbuf psb = {ps, 0, sizeof ps, false};
        pb_bytes(&psb, 1, "Quality", 7);
        pb_bytes(&psb, 2, pv, pvb.len);
        pb_bytes(m, 9, ps, psb.len);
    }
    switch (v->type) {
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32:
        pb_u64(m, 10, (uint32_t)(int32_t)v->as.i); /* uint32 two's complement */
        break;
    case TW_TYPE_INT64: pb_u64(m, 11, (uint64_t)v->as.i); break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32:
        pb_u64(m, 10, (uint32_t)v->as.u);
        break;
    case TW_TYPE_UINT64: pb_u64(m, 11, v->as.u); break;
    case TW_TYPE_DATETIME: pb_u64(m, 11, ns_to_ms(v->as.i)); break;
    case TW_TYPE_FLOAT: {
        uint32_t bits;
        memcpy(&bits, &v->as.f, 4);
        pb_fixed32(m, 12, bits);
        break;
    }
    case TW_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->as.d, 8);
        pb_fixed64(m, 13, bits);
        break;
    }
    case TW_TYPE_BOOL: pb_u64(m, 14, v->as.b ? 1 : 0); break;
    case TW_TYPE_STRING: pb_bytes(m, 15, v->as.buf.ptr, v->as.buf.len); break;
    case TW_TYPE_BYTES: pb_bytes(m, 16, v->as.buf.ptr, v->as.buf.len); break;
    default: break;
    }
    if (m->oom) {
        b->oom = true;
        return;
    }
    pb_bytes(b, 2, m->p, m->len); /* Payload.metrics */
}

/* ---- Retry-After ---- */

bool tw__https_retry_after(const char *v, int64_t now_s, uint32_t *secs)
{
    if (!v || !secs) return false;
    while (*v == ' ' || *v == '\t') v++;
    if (!*v) return false;
    if (isdigit((unsigned char)*v)) {
        uint64_t n = 0;
        const char *p = v;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (uint64_t)(*p - '0');
            if (n > UINT32_MAX) n = UINT32_MAX;
            p++;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (*p) return false;
        *secs = (uint32_t)n;
        return true;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1) return false;
    int64_t d = (int64_t)t - now_s;
    *secs = d <= 0 ? 0 : d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    return true;
}
