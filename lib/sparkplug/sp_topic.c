/*
 * Sparkplug B topic namespace (spec "Topics"): spBv1.0/<group>/<type>/<edge node>[/<device>] and
 * spBv1.0/STATE/<host id>. Identifiers are non-empty UTF-8 without '+', '#' or '/'.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
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
