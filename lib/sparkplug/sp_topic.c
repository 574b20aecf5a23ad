/*
 * Sparkplug B topic namespace (spec "Topics"): spBv1.0/<group>/<type>/<edge node>[/<device>] and
 * spBv1.0/STATE/<host id>. Identifiers are non-empty UTF-8 without '+', '#' or '/'.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <string.h>

#include "sp_internal.h"

static const char *const k_types[] = {NULL,    "NBIRTH", "NDEATH", "DBIRTH", "DDEATH",
                                      "NDATA", "DDATA",  "NCMD",   "DCMD",   "STATE"};

const char *tw_sp_msg_type_name(tw_sp_msg_type type)
{
    return (type > TW_SP_MSG_NONE && type <= TW_SP_MSG_STATE) ? k_types[type] : NULL;
}

static int is_device_type(tw_sp_msg_type t)
{
    return t == TW_SP_MSG_DBIRTH || t == TW_SP_MSG_DDEATH || t == TW_SP_MSG_DDATA ||
           t == TW_SP_MSG_DCMD;
}

/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no NUL, '+', '#', '/'. */
static int valid_id(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    if (!n) return 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = u[i];
        if (c < 0x80u) {
            if (c == 0 || c == '+' || c == '#' || c == '/') return 0;
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xc2u && c <= 0xdfu) { k = 2; cp = c & 0x1fu; }
        else if (c >= 0xe0u && c <= 0xefu) { k = 3; cp = c & 0x0fu; }
        else if (c >= 0xf0u && c <= 0xf4u) { k = 4; cp = c & 0x07u; }
        else return 0;
        if (n - i < k) return 0;
        for (size_t j = 1; j < k; j++) {
            if ((u[i + j] & 0xc0u) != 0x80u) return 0;
            cp = (cp << 6) | (u[i + j] & 0x3fu);
        }
        if ((k == 3 && cp < 0x800u) || (k == 4 && (cp < 0x10000u || cp > 0x10ffffu)) ||
            (cp >= 0xd800u && cp <= 0xdfffu))
            return 0;
        i += k;
    }
    return 1;
}

tw_status tw_sp_topic_build(char *buf, size_t cap, size_t *out_len, tw_sp_msg_type type,
                            const char *group_id, const char *edge_node_id, const char *device_id)
{
    if (!buf && cap) return TW_ERR_INVALID_ARG;
    const char *name = tw_sp_msg_type_name(type);
    if (!name) return TW_ERR_SPARKPLUG_TOPIC;
    const char *parts[5];
    size_t np = 0;
    parts[np++] = TW_SP_NAMESPACE;
    if (type == TW_SP_MSG_STATE) {
        if (group_id || device_id || !edge_node_id) return TW_ERR_SPARKPLUG_TOPIC;
        parts[np++] = name;
        parts[np++] = edge_node_id;
    } else {
        if (!group_id || !edge_node_id) return TW_ERR_SPARKPLUG_TOPIC;
        if (is_device_type(type) != (device_id != NULL)) return TW_ERR_SPARKPLUG_TOPIC;
        parts[np++] = group_id;
        parts[np++] = name;
        parts[np++] = edge_node_id;
        if (device_id) parts[np++] = device_id;
    }
    size_t total = 0;
    size_t lens[5];
    for (size_t i = 0; i < np; i++) {
        lens[i] = strlen(parts[i]);
        if (i > 0 && !valid_id(parts[i], lens[i])) return TW_ERR_SPARKPLUG_TOPIC;
        total += lens[i] + (i ? 1u : 0u);
    }
    if (out_len) *out_len = total;
    if (total + 1u > cap) return TW_ERR_FULL;
    char *p = buf;
    for (size_t i = 0; i < np; i++) {
        if (i) *p++ = '/';
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    *p = '\0';
    return TW_OK;
}

static tw_sp_msg_type type_from(const char *s, size_t n)
{
    for (int t = TW_SP_MSG_NBIRTH; t <= TW_SP_MSG_STATE; t++)
        if (strlen(k_types[t]) == n && !memcmp(k_types[t], s, n)) return (tw_sp_msg_type)t;
    return TW_SP_MSG_NONE;
}

tw_status tw_sp_topic_parse(tw_sp_topic *out, const char *topic, size_t len)
{
    if (!out || (!topic && len)) return TW_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    /* split into at most 6 levels */
    const char *lv[6];
    size_t ll[6];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || topic[i] == '/') {
            if (n == 6) return TW_ERR_SPARKPLUG_TOPIC;
            lv[n] = topic + start;
            ll[n] = i - start;
            n++;
            start = i + 1u;
        }
    }
    size_t nsl = sizeof(TW_SP_NAMESPACE) - 1u;
    if (n < 3 || ll[0] != nsl || memcmp(lv[0], TW_SP_NAMESPACE, nsl)) return TW_ERR_SPARKPLUG_TOPIC;
    if (n == 3 && ll[1] == 5 && !memcmp(lv[1], "STATE", 5)) {
        if (!valid_id(lv[2], ll[2])) return TW_ERR_SPARKPLUG_TOPIC;
        out->type = TW_SP_MSG_STATE;
        out->edge_node_id = lv[2];
        out->edge_node_id_len = ll[2];
        return TW_OK;
    }
    if (n != 4 && n != 5) return TW_ERR_SPARKPLUG_TOPIC;
    tw_sp_msg_type t = type_from(lv[2], ll[2]);
    if (t == TW_SP_MSG_NONE || t == TW_SP_MSG_STATE) return TW_ERR_SPARKPLUG_TOPIC;
    if (is_device_type(t) != (n == 5)) return TW_ERR_SPARKPLUG_TOPIC;
    for (size_t i = 1; i < n; i++)
        if (i != 2 && !valid_id(lv[i], ll[i])) return TW_ERR_SPARKPLUG_TOPIC;
    out->type = t;
    out->group_id = lv[1];
    out->group_id_len = ll[1];
    out->edge_node_id = lv[3];
    out->edge_node_id_len = ll[3];
    if (n == 5) {
        out->device_id = lv[4];
        out->device_id_len = ll[4];
    }
    return TW_OK;
}

/* ---- STATE payload (JSON: {"online": <bool>, "timestamp": <ms>}) ------------------------------- */

typedef struct js {
    const char *p, *end;
} js;

static void js_ws(js *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int js_lit(js *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n)) return 0;
    j->p += n;
    return 1;
}

/* A JSON string; sets [*s, *n) to its raw contents (escapes not decoded). */
static int js_str(js *j, const char **s, size_t *n)
{
    if (j->p >= j->end || *j->p != '"') return 0;
    const char *start = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20u) return 0;
        if (c == '\\') {
            if (++j->p >= j->end) return 0;
            if (*j->p == 'u') {
                if (j->end - j->p < 5) return 0;
                for (int k = 1; k <= 4; k++) {
                    char h = j->p[k];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                        return 0;
                }
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", *j->p)) {
                return 0;
            }
        }
        j->p++;
    }
    if (j->p >= j->end) return 0;
    *s = start;
    *n = (size_t)(j->p - start);
    j->p++;
    return 1;
}

/* A JSON number; sets is_uint and u when it is a plain non-negative integer that fits 64 bits. */
static int js_num(js *j, int *is_uint, uint64_t *u)
{
    const char *s = j->p;
    int neg = 0, frac = 0;
    uint64_t v = 0;
    int overflow = 0;
    if (j->p < j->end && *j->p == '-') {
        neg = 1;
        j->p++;
    }
    if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
    if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9') return 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned d = (unsigned)(*j->p - '0');
        if (v > (UINT64_MAX - d) / 10u) overflow = 1;
        else v = v * 10u + d;
        j->p++;
    }
    if (j->p < j->end && *j->p == '.') {
        frac = 1;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        frac = 1;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return 0;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    *is_uint = !neg && !frac && !overflow && j->p > s;
    *u = v;
    return 1;
}

#define JS_MAX_DEPTH 16

static int js_skip_value(js *j, int depth)
{
    const char *s;
    size_t n;
    int iu;
    uint64_t u;
    js_ws(j);
    if (j->p >= j->end || depth > JS_MAX_DEPTH) return 0;
    switch (*j->p) {
    case '"': return js_str(j, &s, &n);
    case 't': return js_lit(j, "true");
    case 'f': return js_lit(j, "false");
    case 'n': return js_lit(j, "null");
    case '[':
    case '{': {
        char close = *j->p == '[' ? ']' : '}';
        int obj = close == '}';
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 1;
        }
        for (;;) {
            if (obj) {
                js_ws(j);
                if (!js_str(j, &s, &n)) return 0;
                js_ws(j);
                if (j->p >= j->end || *j->p != ':') return 0;
                j->p++;
            }
            if (!js_skip_value(j, depth + 1)) return 0;
            js_ws(j);
            if (j->p >= j->end) return 0;
            if (*j->p == close) {
                j->p++;
                return 1;
            }
            if (*j->p != ',') return 0;
            j->p++;
        }
    }
    default: return js_num(j, &iu, &u);
    }
}

static tw_status state_parse(int *online, uint64_t *timestamp_ms, const void *payload, size_t len)
{
    js j = {(const char *)payload, (const char *)payload + len};
    int have_online = 0, have_ts = 0, on = 0;
    uint64_t ts = 0;
    js_ws(&j);
    if (j.p >= j.end || *j.p != '{') return TW_ERR_SPARKPLUG_DECODE;
    j.p++;
    js_ws(&j);
    if (j.p < j.end && *j.p == '}') return TW_ERR_SPARKPLUG_DECODE; /* both keys required */
    for (;;) {
        const char *k;
        size_t kn;
        js_ws(&j);
        if (!js_str(&j, &k, &kn)) return TW_ERR_SPARKPLUG_DECODE;
        js_ws(&j);
        if (j.p >= j.end || *j.p != ':') return TW_ERR_SPARKPLUG_DECODE;
        j.p++;
        js_ws(&j);
        if (kn == 6 && !memcmp(k, "online", 6)) {
            if (have_online) return TW_ERR_SPARKPLUG_DECODE;
            if (js_lit(&j, "true")) on = 1;
            else if (js_lit(&j, "false")) on = 0;
            else return TW_ERR_SPARKPLUG_DECODE;
            have_online = 1;
        } else if (kn == 9 && !memcmp(k, "timestamp", 9)) {
            int iu = 0;
            if (have_ts || !js_num(&j, &iu, &ts) || !iu || ts > (uint64_t)INT64_MAX)
                return TW_ERR_SPARKPLUG_DECODE;
            have_ts = 1;
        } else if (!js_skip_value(&j, 1)) {
            return TW_ERR_SPARKPLUG_DECODE;
        }
        js_ws(&j);
        if (j.p >= j.end) return TW_ERR_SPARKPLUG_DECODE;
        if (*j.p == '}') {
            j.p++;
            break;
        }
        if (*j.p != ',') return TW_ERR_SPARKPLUG_DECODE;
        j.p++;
    }
    js_ws(&j);
    if (j.p != j.end || !have_online || !have_ts) return TW_ERR_SPARKPLUG_DECODE;
    *online = on;
    *timestamp_ms = ts;
    return TW_OK;
}

tw_status tw_sp_state_build(char *buf, size_t cap, size_t *out_len, int online,
                            uint64_t timestamp_ms)
{
    if (!buf && cap) return TW_ERR_INVALID_ARG;
    if (timestamp_ms > (uint64_t)INT64_MAX) return TW_ERR_RANGE;
    char tmp[64];
    int n = snprintf(tmp, sizeof(tmp), "{\"online\":%s,\"timestamp\":%llu}", online ? "true" : "false",
                     (unsigned long long)timestamp_ms);
    if (n < 0) return TW_ERR_GENERIC;
    if (out_len) *out_len = (size_t)n;
    if ((size_t)n + 1u > cap) return TW_ERR_FULL;
    memcpy(buf, tmp, (size_t)n + 1u);
    return TW_OK;
}

/* ---- default MQTT client id ---------------------------------------------------------------------- */

static int client_id_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.';
}

tw_status tw_sp_default_client_id(char *buf, size_t cap, const char *group_id, const char *edge_node_id)
{
    if (!buf || !group_id || !edge_node_id || !*group_id || !*edge_node_id) return TW_ERR_INVALID_ARG;
    size_t lg = strlen(group_id), le = strlen(edge_node_id);
    int plain = lg + 1 + le <= TW_SP_CLIENT_ID_MAX;
    for (const char *p = group_id; plain && *p; p++) plain = client_id_char(*p);
    for (const char *p = edge_node_id; plain && *p; p++) plain = client_id_char(*p);
    char id[TW_SP_CLIENT_ID_MAX + 1];
    if (plain) {
        memcpy(id, group_id, lg); /* lg + 1 + le <= TW_SP_CLIENT_ID_MAX */
        id[lg] = '-';
        memcpy(id + lg + 1, edge_node_id, le + 1);
    } else {
        /* prefix: up to 10 allowed characters of "<group_id>-<edge_node_id>" */
        size_t n = 0;
        int alnum = 0;
        for (const char *parts[3] = {group_id, "-", edge_node_id}, **q = parts; q < parts + 3 && n < 10; q++) {
            for (const char *p = *q; *p && n < 10; p++) {
                if (!client_id_char(*p)) continue;
                alnum |= *p != '-' && *p != '_' && *p != '.';
                id[n++] = *p;
            }
        }
        if (!alnum) memcpy(id, "tw", 2), n = 2;
        /* hash: SHA-256 of "<group_id>/<edge_node_id>" ('/' cannot occur in either id) */
        unsigned char digest[32];
        mbedtls_sha256_context h;
        mbedtls_sha256_init(&h);
        int rc = mbedtls_sha256_starts(&h, 0);
        if (!rc) rc = mbedtls_sha256_update(&h, (const unsigned char *)group_id, lg);
        if (!rc) rc = mbedtls_sha256_update(&h, (const unsigned char *)"/", 1);
        if (!rc) rc = mbedtls_sha256_update(&h, (const unsigned char *)edge_node_id, le);
        if (!rc) rc = mbedtls_sha256_finish(&h, digest);
        mbedtls_sha256_free(&h);
        if (rc) return TW_ERR_UNSUPPORTED; /* SHA-256 not available in this mbedTLS */
        id[n++] = '-';
        for (size_t i = 0; i < 6; i++) {
            static const char hex[] = "0123456789abcdef";
            id[n++] = hex[digest[i] >> 4];
            id[n++] = hex[digest[i] & 15];
        }
        id[n] = '\0';
    }
    size_t len = strlen(id);
    if (cap <= len) return TW_ERR_FULL;
    memcpy(buf, id, len + 1);
    return TW_OK;
}

tw_status tw_sp_state_parse(int *online, uint64_t *timestamp_ms, const void *payload, size_t len)
{
    if (!online || !timestamp_ms || (!payload && len)) return TW_ERR_INVALID_ARG;
    tw_status st = state_parse(online, timestamp_ms, payload, len);
    if (st == TW_ERR_SPARKPLUG_DECODE)
        return tw__err(NULL, "sparkplug", st,
                       "STATE payload (%zu bytes) is not a JSON object with \"online\": true|false and "
                       "\"timestamp\": a non-negative integer, each once",
                       len);
    return st;
}
