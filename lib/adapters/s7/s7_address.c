/* S7 address syntax, value decoding and encoding (big-endian S7 types). Strict and bounds-checked:
 * the address comes from configuration files, the bytes from the network.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "s7_address.h"

#define AERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_ADDRESS)

static const struct {
    const char *name;
    s7_dtype dt;
    uint8_t size;
    tw_type type;
    char cls; /* 'B', 'W', 'D': the size class the type fits; 'L': 8 bytes (byte-addressed only) */
} k_types[] = {
    {"BYTE", S7_DT_BYTE, 1, TW_TYPE_UINT8, 'B'},    {"USINT", S7_DT_USINT, 1, TW_TYPE_UINT8, 'B'},
    {"SINT", S7_DT_SINT, 1, TW_TYPE_INT8, 'B'},     {"CHAR", S7_DT_CHAR, 1, TW_TYPE_STRING, 'B'},
    {"WORD", S7_DT_WORD, 2, TW_TYPE_UINT16, 'W'},   {"UINT", S7_DT_UINT, 2, TW_TYPE_UINT16, 'W'},
    {"INT", S7_DT_INT, 2, TW_TYPE_INT16, 'W'},      {"DWORD", S7_DT_DWORD, 4, TW_TYPE_UINT32, 'D'},
    {"UDINT", S7_DT_UDINT, 4, TW_TYPE_UINT32, 'D'}, {"DINT", S7_DT_DINT, 4, TW_TYPE_INT32, 'D'},
    {"REAL", S7_DT_REAL, 4, TW_TYPE_FLOAT, 'D'},    {"LREAL", S7_DT_LREAL, 8, TW_TYPE_DOUBLE, 'L'},
    {"LINT", S7_DT_LINT, 8, TW_TYPE_INT64, 'L'},    {"ULINT", S7_DT_ULINT, 8, TW_TYPE_UINT64, 'L'},
};

/* Reads a decimal number of at most 5 digits (no sign, no leading zeros beyond "0"). */
static int read_num(const char **p, uint32_t max, uint32_t *out)
{
    const char *s = *p;
    uint32_t v = 0;
    int n = 0;
    while (isdigit((unsigned char)s[n])) {
        if (n >= 5) return -1;
        v = v * 10u + (uint32_t)(s[n] - '0');
        n++;
    }
    if (!n || v > max) return -1;
    *out = v;
    *p = s + n;
    return 0;
}

static void set_type(s7_addr *a, int ti)
{
    a->dtype = k_types[ti].dt;
    a->size = k_types[ti].size;
    a->type = k_types[ti].type;
}

tw_status tw__s7_parse_address(const char *addr, s7_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->bit = -1;
    if (!addr || !*addr) return AERR("S7 address is empty (expected e.g. DB1.DBW10:INT, M10.2, I0.0)");
    size_t len = strlen(addr);
    if (len > 64) return AERR("S7 address longer than 64 characters");
    char s[72];
    for (size_t i = 0; i <= len; i++) s[i] = (char)toupper((unsigned char)addr[i]);
    char *colon = strchr(s, ':');
    if (colon) *colon = '\0';
    const char *p = s;
    char cls;
    if (p[0] == 'D' && p[1] == 'B' && isdigit((unsigned char)p[2])) {
        uint32_t db;
        p += 2;
        if (read_num(&p, 65535, &db) || db == 0) return AERR("S7 address '%s': data block number must be 1..65535", addr);
        if (strncmp(p, ".DB", 3) != 0)
            return AERR("S7 address '%s': expected '.DBX', '.DBB', '.DBW' or '.DBD' after the data block", addr);
        p += 3;
        a->area = S7_AREA_DB;
        a->db = (uint16_t)db;
        cls = *p;
        if (cls != 'X' && cls != 'B' && cls != 'W' && cls != 'D')
            return AERR("S7 address '%s': expected DBX (bit), DBB (byte), DBW (word) or DBD (double word)", addr);
        p++;
    } else {
        switch (p[0]) {
        case 'M': a->area = S7_AREA_M; break;
        case 'I': case 'E': a->area = S7_AREA_I; break;
        case 'Q': case 'A': a->area = S7_AREA_Q; break;
        default:
            return AERR("S7 address '%s': unknown area (expected DBn., M, I/E, Q/A; timers and counters are not supported)",
                        addr);
        }
        p++;
        if (isdigit((unsigned char)*p)) cls = 'X';
        else if (*p == 'X' || *p == 'B' || *p == 'W' || *p == 'D') cls = *p++;
        else return AERR("S7 address '%s': expected a byte offset or X, B, W, D after the area letter", addr);
    }
    uint32_t byte;
    if (read_num(&p, 65535, &byte)) return AERR("S7 address '%s': byte offset must be a number 0..65535", addr);
    a->byte = byte;
    if (cls == 'X') {
        uint32_t bit;
        if (*p != '.') return AERR("S7 address '%s': a bit address needs '.bit' (e.g. M10.2)", addr);
        p++;
        if (read_num(&p, 7, &bit)) return AERR("S7 address '%s': bit number must be 0..7", addr);
        a->bit = (int8_t)bit;
        a->dtype = S7_DT_BOOL;
        a->size = 1;
        a->type = TW_TYPE_BOOL;
    }
    if (*p) return AERR("S7 address '%s': unexpected '%s'", addr, addr + (p - s));
    if (cls == 'X') {
        if (colon && strcmp(colon + 1, "BOOL") != 0)
            return AERR("S7 address '%s': a bit address is BOOL (got type '%s')", addr, colon + 1);
        return TW_OK;
    }
    /* default types per size class */
    int ti = cls == 'B' ? 0 : cls == 'W' ? 4 : 7;
    if (colon) {
        const char *t = colon + 1;
        if (!*t) return AERR("S7 address '%s': empty type after ':'", addr);
        if (!strncmp(t, "STRING", 6)) {
            if (cls != 'B') return AERR("S7 address '%s': STRING needs a byte address (DBB, MB, IB, QB)", addr);
            uint32_t n = 254;
            const char *q = t + 6;
            if (*q == '[') {
                q++;
                if (read_num(&q, 254, &n) || n == 0 || strcmp(q, "]") != 0)
                    return AERR("S7 address '%s': STRING[n] needs n in 1..254", addr);
            } else if (*q) {
                return AERR("S7 address '%s': unknown type '%s'", addr, t);
            }
            a->dtype = S7_DT_STRING;
            a->strmax = (uint16_t)n;
            a->size = (uint16_t)(n + 2);
            a->type = TW_TYPE_STRING;
        } else {
            ti = -1;
            for (size_t i = 0; i < TW__ARRAY_LEN(k_types); i++)
                if (!strcmp(t, k_types[i].name)) ti = (int)i;
            if (ti < 0)
                return AERR("S7 address '%s': unknown type '%s' (BYTE, SINT, USINT, CHAR, WORD, INT, UINT, DWORD, DINT, "
                            "UDINT, REAL, LREAL, LINT, ULINT, STRING[n])", addr, t);
            char tc = k_types[ti].cls;
            if (!(tc == cls || (cls == 'B' && tc == 'L')))
                return AERR("S7 address '%s': type %s does not fit a %s address (%s)", addr, t,
                            cls == 'B' ? "byte" : cls == 'W' ? "word" : "double-word",
                            tc == 'B' ? "use a B address" : tc == 'W' ? "use a W address" : tc == 'D' ? "use a D address" :
                            "8-byte types use a B address, e.g. DB1.DBB0:LREAL");
            set_type(a, ti);
        }
    } else {
        set_type(a, ti);
    }
    if (a->byte + a->size > 65536u) return AERR("S7 address '%s': the value runs past byte 65535", addr);
    return TW_OK;
}

size_t tw__s7_max_bytes(const s7_addr *a)
{
    if (a->dtype == S7_DT_STRING) return (size_t)a->strmax * 2;
    if (a->dtype == S7_DT_CHAR) return 2;
    return 0;
}

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* Latin-1 -> UTF-8; returns the output length or (size_t)-1 when buf is too small. */
static size_t latin1_to_utf8(const uint8_t *in, size_t n, char *buf, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] < 0x80) {
            if (o + 1 > cap) return (size_t)-1;
            buf[o++] = (char)in[i];
        } else {
            if (o + 2 > cap) return (size_t)-1;
            buf[o++] = (char)(0xC0 | (in[i] >> 6));
            buf[o++] = (char)(0x80 | (in[i] & 0x3F));
        }
    }
    return o;
}

tw_status tw__s7_decode(const s7_addr *a, const uint8_t *d, size_t len, tw_value *out, char *buf, size_t buf_size,
                        char *err, size_t errlen)
{
    size_t need = a->size;
    if (len != need) {
        snprintf(err, errlen, "S7 item: %zu data bytes where %zu were expected", len, need);
        return TW_ERR_PROTOCOL;
    }
    out->type = a->type;
    switch (a->dtype) {
    case S7_DT_BOOL: out->as.b = (d[0] >> (a->bit & 7)) & 1; break; /* bits are read as their byte */
    case S7_DT_BYTE: case S7_DT_USINT: out->as.u = d[0]; break;
    case S7_DT_SINT: out->as.i = (int8_t)d[0]; break;
    case S7_DT_WORD: case S7_DT_UINT: out->as.u = be(d, 2); break;
    case S7_DT_INT: out->as.i = (int16_t)be(d, 2); break;
    case S7_DT_DWORD: case S7_DT_UDINT: out->as.u = be(d, 4); break;
    case S7_DT_DINT: out->as.i = (int32_t)(uint32_t)be(d, 4); break;
    case S7_DT_REAL: {
        uint32_t u = (uint32_t)be(d, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        out->as.f = f;
        break;
    }
    case S7_DT_LREAL: {
        uint64_t u = be(d, 8);
        double f;
        memcpy(&f, &u, sizeof f);
        out->as.d = f;
        break;
    }
    case S7_DT_LINT: out->as.i = (int64_t)be(d, 8); break;
    case S7_DT_ULINT: out->as.u = be(d, 8); break;
    case S7_DT_CHAR:
    case S7_DT_STRING: {
        const uint8_t *txt = d;
        size_t n = 1;
        if (a->dtype == S7_DT_STRING) {
            uint8_t max = d[0], cur = d[1];
            /* A PLC string declared shorter than our STRING[n] is fine; its header must be sane. */
            if (cur > max || cur > a->strmax) {
                snprintf(err, errlen, "S7 STRING header: actual length %u exceeds maximum %u (declared STRING[%u])",
                         (unsigned)cur, (unsigned)max, (unsigned)a->strmax);
                return TW_ERR_PROTOCOL;
            }
            txt = d + 2;
            n = cur;
        }
        size_t o = latin1_to_utf8(txt, n, buf, buf_size);
        if (o == (size_t)-1 || !buf) {
            snprintf(err, errlen, "S7 STRING: value buffer too small");
            return TW_ERR_RANGE;
        }
        out->as.buf.ptr = buf;
        out->as.buf.len = o;
        break;
    }
    }
    return TW_OK;
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

tw_status tw__s7_encode(const s7_addr *a, const tw_value *v, uint8_t *out, size_t *out_len, char *err, size_t errlen)
{
    if (a->type == TW_TYPE_STRING) {
        if (v->type != TW_TYPE_STRING) {
            snprintf(err, errlen, "S7 %s item takes a string", a->dtype == S7_DT_CHAR ? "CHAR" : "STRING");
            return TW_ERR_TYPE_MISMATCH;
        }
        const uint8_t *s = v->as.buf.ptr;
        size_t n = v->as.buf.len, cap = a->dtype == S7_DT_CHAR ? 1 : a->strmax, o = 0;
        uint8_t *txt = a->dtype == S7_DT_CHAR ? out : out + 2;
        for (size_t i = 0; i < n; i++) {
            unsigned c = s[i];
            if (c >= 0x80) {
                /* only U+0080..U+00FF map to Latin-1 */
                if ((c == 0xC2 || c == 0xC3) && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
                    c = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
                    i++;
                } else {
                    snprintf(err, errlen, "S7 strings are Latin-1: character outside U+0000..U+00FF or bad UTF-8");
                    return TW_ERR_RANGE;
                }
            }
            if (o >= cap) {
                snprintf(err, errlen, "string longer than the item's %zu characters", cap);
                return TW_ERR_RANGE;
            }
            txt[o++] = (uint8_t)c;
        }
        if (a->dtype == S7_DT_CHAR) {
            if (o != 1) {
                snprintf(err, errlen, "S7 CHAR item takes exactly one character");
                return TW_ERR_RANGE;
            }
            *out_len = 1;
        } else {
            out[0] = (uint8_t)a->strmax;
            out[1] = (uint8_t)o;
            *out_len = o + 2;
        }
        return TW_OK;
    }
    tw_value c;
    tw_status st = tw_value_convert(&c, v, a->type);
    if (st != TW_OK) {
        snprintf(err, errlen, "value of type %s does not fit the item's %s", tw_type_name(v->type), tw_type_name(a->type));
        return st;
    }
    *out_len = a->size;
    switch (a->dtype) {
    case S7_DT_BOOL: out[0] = c.as.b ? 1 : 0; break;
    case S7_DT_BYTE: case S7_DT_USINT: case S7_DT_WORD: case S7_DT_UINT: case S7_DT_DWORD: case S7_DT_UDINT:
    case S7_DT_ULINT: put_be(out, c.as.u, a->size); break;
    case S7_DT_SINT: case S7_DT_INT: case S7_DT_DINT: case S7_DT_LINT: put_be(out, (uint64_t)c.as.i, a->size); break;
    case S7_DT_REAL: {
        uint32_t u;
        memcpy(&u, &c.as.f, sizeof u);
        put_be(out, u, 4);
        break;
    }
    case S7_DT_LREAL: {
        uint64_t u;
        memcpy(&u, &c.as.d, sizeof u);
        put_be(out, u, 8);
        break;
    }
    default:
        snprintf(err, errlen, "internal: unexpected S7 type");
        return TW_ERR_GENERIC;
    }
    return TW_OK;
}
