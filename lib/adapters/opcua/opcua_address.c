/* OPC UA NodeId address parser (strict, bounds-checked, fuzzed). SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "opcua_address.h"

#define AERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_ADDRESS)

void tw__opcua_addr_free(ua_addr *a)
{
    if (!a) return;
    tw__free(a->id);
    a->id = NULL;
    a->id_len = 0;
}

static int parse_u32(const char *s, size_t n, uint32_t max, uint32_t *out)
{
    if (!n || n > 10) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max) return -1;
    *out = (uint32_t)v;
    return 0;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexv((unsigned char)s[i]);
        if (h < 0) return -1;
        v = (v << 4) | (uint64_t)h;
    }
    *out = v;
    return 0;
}

/* Strict base64 (padding required, no whitespace, canonical). Returns decoded length or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    return tw__base64_decode_strict(out, cap, &o, s, n) == TW_OK ? (long)o : -1;
}

static int utf8_ok(const char *s, size_t n) { return tw_utf8_valid(s, n); }

/* "type=NAME[;]" prefix: NAME may be STRING[n] / BYTES[n]. */
static tw_status parse_type(const char *t, size_t n, const char *addr, ua_addr *a, char *err, size_t errlen)
{
    char name[32];
    size_t nl = n;
    const char *br = memchr(t, '[', n);
    if (br) nl = (size_t)(br - t);
    if (!nl || nl >= sizeof name) return AERR("OPC UA address '%s': bad type", addr);
    memcpy(name, t, nl);
    name[nl] = '\0';
    tw_type ty = tw_type_from_name(name);
    if (ty == TW_TYPE_NONE)
        return AERR("OPC UA address '%s': unknown type '%s' (BOOL, INT8..INT64, UINT8..UINT64, FLOAT, DOUBLE, "
                    "STRING[n], BYTES[n], DATETIME)", addr, name);
    a->type = ty;
    a->max_bytes = 0;
    if (ty == TW_TYPE_STRING || ty == TW_TYPE_BYTES) {
        a->max_bytes = 256;
        if (br) {
            uint32_t m;
            size_t rest = n - nl;
            if (rest < 3 || t[n - 1] != ']' || parse_u32(br + 1, rest - 2, 1u << 20, &m) || m == 0)
                return AERR("OPC UA address '%s': %s[n] needs n in 1..1048576", addr, name);
            a->max_bytes = m;
        }
    } else if (br) {
        return AERR("OPC UA address '%s': only STRING and BYTES take a [size]", addr);
    }
    return TW_OK;
}

tw_status tw__opcua_parse_address(const char *addr, ua_addr *out, char *err, size_t errlen)
{
    ua_addr a;
    memset(&a, 0, sizeof a);
    a.type = TW_TYPE_DOUBLE;
    if (out) memset(out, 0, sizeof *out);
    if (!addr || !*addr) return AERR("OPC UA address is empty (expected a NodeId such as ns=2;s=Line1.Temp or ns=3;i=1001)");
    size_t len = strlen(addr);
    if (len > UA_ADDR_MAX_ID * 2 + 64) return AERR("OPC UA address longer than %d characters", UA_ADDR_MAX_ID * 2 + 64);
    const char *p = addr, *end = addr + len;
    tw_status st;
    if (!strncasecmp(p, "type=", 5)) {
        const char *semi = memchr(p, ';', len);
        if (!semi) return AERR("OPC UA address '%s': 'type=T' must be followed by ';' and a NodeId", addr);
        if ((st = parse_type(p + 5, (size_t)(semi - p - 5), addr, &a, err, errlen))) return st;
        p = semi + 1;
    }
    if (!strncmp(p, "nsu=", 4))
        return (snprintf(err, errlen, "OPC UA address '%s': namespace URIs (nsu=) are not supported; use ns=<index>", addr),
                TW_ERR_UNSUPPORTED);
    if (!strncmp(p, "ns=", 3)) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        uint32_t ns;
        if (!semi || parse_u32(p + 3, (size_t)(semi - p - 3), 65535, &ns))
            return AERR("OPC UA address '%s': ns= needs a namespace index 0..65535 followed by ';'", addr);
        a.ns = (uint16_t)ns;
        p = semi + 1;
    }
    if ((size_t)(end - p) < 2 || p[1] != '=')
        return AERR("OPC UA address '%s': expected an identifier i=, s=, g= or b= (e.g. ns=2;s=Line1.Temp)", addr);
    char k = p[0];
    const char *v = p + 2;
    size_t vl = (size_t)(end - v);
    switch (k) {
    case 'i':
        a.kind = UA_ADDR_NUMERIC;
        if (parse_u32(v, vl, UINT32_MAX, &a.numeric))
            return AERR("OPC UA address '%s': i= needs a number 0..4294967295", addr);
        break;
    case 's':
        a.kind = UA_ADDR_STRING;
        if (!vl) return AERR("OPC UA address '%s': empty string identifier", addr);
        if (vl > UA_ADDR_MAX_ID) return AERR("OPC UA address '%s': string identifier longer than %d bytes", addr, UA_ADDR_MAX_ID);
        if (!utf8_ok(v, vl)) return AERR("OPC UA address: string identifier is not valid UTF-8");
        break;
    case 'g': {
        a.kind = UA_ADDR_GUID;
        /* 8-4-4-4-12 hex digits */
        static const size_t grp[5] = {8, 4, 4, 4, 12};
        if (vl != 36) return AERR("OPC UA address '%s': g= needs a GUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", addr);
        uint64_t f[5];
        size_t o = 0;
        for (int gi = 0; gi < 5; gi++) {
            if (parse_hex(v + o, grp[gi], &f[gi])) return AERR("OPC UA address '%s': GUID has a non-hex digit", addr);
            o += grp[gi];
            if (gi < 4) {
                if (v[o] != '-') return AERR("OPC UA address '%s': GUID groups are separated by '-'", addr);
                o++;
            }
        }
        a.guid_d1 = (uint32_t)f[0];
        a.guid_d2 = (uint16_t)f[1];
        a.guid_d3 = (uint16_t)f[2];
        a.guid_d4[0] = (uint8_t)(f[3] >> 8);
        a.guid_d4[1] = (uint8_t)f[3];
        for (int i = 0; i < 6; i++) a.guid_d4[2 + i] = (uint8_t)(f[4] >> (8 * (5 - i)));
        break;
    }
    case 'b': {
        a.kind = UA_ADDR_BYTES;
        if (!vl) return AERR("OPC UA address '%s': empty opaque identifier", addr);
        if (vl > UA_ADDR_MAX_ID / 3 * 4 + 4) return AERR("OPC UA address: opaque identifier longer than %d bytes", UA_ADDR_MAX_ID);
        break;
    }
    default:
        return AERR("OPC UA address '%s': unknown identifier type '%c=' (expected i=, s=, g= or b=)", addr, k);
    }
    if (!out) {
        if (k == 'b') {
            uint8_t tmp[UA_ADDR_MAX_ID + 4];
            if (b64_decode(v, vl, tmp, sizeof tmp) < 0) return AERR("OPC UA address '%s': b= needs canonical base64", addr);
        }
        return TW_OK;
    }
    if (k == 's' || k == 'b') {
        a.id = tw__malloc(vl + 1);
        if (!a.id) return TW_ERR_NOMEM;
        if (k == 's') {
            memcpy(a.id, v, vl);
            a.id_len = vl;
        } else {
            long dl = b64_decode(v, vl, a.id, vl + 1);
            if (dl < 0) {
                tw__free(a.id);
                return AERR("OPC UA address '%s': b= needs canonical base64", addr);
            }
            a.id_len = (size_t)dl;
        }
    }
    *out = a;
    return TW_OK;
}
