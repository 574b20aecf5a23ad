/* MQTT 3.1.1 packet codec. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "mqtt_codec.h"

static const char *const type_names[16] = {
    "reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
    "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved"};

const char *tw__mqtt_type_name(uint8_t type) { return type_names[type & 15]; }

/* ---- validation ---------------------------------------------------------------------------- */

int tw__mqtt_utf8_ok(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        if (b == 0) return 0; /* U+0000 [MQTT-1.5.3-2] */
        if (b < 0x80) { i++; continue; }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* bounds of the second byte (RFC 3629 table) */
        if (b >= 0xC2 && b <= 0xDF) n = 1;
        else if (b == 0xE0) { n = 2; lo = 0xA0; }
        else if (b >= 0xE1 && b <= 0xEC) n = 2;
        else if (b == 0xED) { n = 2; hi = 0x9F; } /* no surrogates U+D800..U+DFFF [MQTT-1.5.3-1] */
        else if (b >= 0xEE && b <= 0xEF) n = 2;
        else if (b == 0xF0) { n = 3; lo = 0x90; }
        else if (b >= 0xF1 && b <= 0xF3) n = 3;
        else if (b == 0xF4) { n = 3; hi = 0x8F; }
        else return 0;
        if (len - i <= n) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += n + 1;
    }
    return 1;
}

int tw__mqtt_topic_ok(const uint8_t *s, size_t len)
{
    if (len == 0 || len > 65535) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '+' || s[i] == '#') return 0; /* [MQTT-3.3.2-2] */
    return tw__mqtt_utf8_ok(s, len);
}

int tw__mqtt_filter_ok(const uint8_t *s, size_t len)
{
    if (len == 0 || len > 65535) return 0; /* [MQTT-4.7.3-1] */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '#') {
            /* multi-level wildcard: a level of its own and the last character [MQTT-4.7.1-2] */
            if (i + 1 != len || (i > 0 && s[i - 1] != '/')) return 0;
        } else if (s[i] == '+') {
            /* single-level wildcard: occupies an entire level [MQTT-4.7.1-3] */
            if ((i > 0 && s[i - 1] != '/') || (i + 1 < len && s[i + 1] != '/')) return 0;
        }
    }
    return tw__mqtt_utf8_ok(s, len);
}

/* ---- variable length integer ---------------------------------------------------------------- */

size_t tw__mqtt_varint_len(uint32_t v)
{
    if (v < 128u) return 1;
    if (v < 16384u) return 2;
    if (v < 2097152u) return 3;
    if (v <= TW__MQTT_MAX_REMAINING) return 4;
    return 0;
}

size_t tw__mqtt_varint_put(uint8_t *out, uint32_t v)
{
    if (v > TW__MQTT_MAX_REMAINING) return 0;
    size_t n = 0;
    do {
        uint8_t d = (uint8_t)(v % 128u);
        v /= 128u;
        if (v) d |= 0x80;
        out[n++] = d;
    } while (v);
    return n;
}

/* ---- decoding -------------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

static int rd_u8(rd *r, uint8_t *v)
{
    if (r->left < 1) return 0;
    *v = *r->p++;
    r->left--;
    return 1;
}

static int rd_u16(rd *r, uint16_t *v)
{
    if (r->left < 2) return 0;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return 1;
}

static int rd_bin(rd *r, const uint8_t **s, uint16_t *len)
{
    uint16_t n;
    if (!rd_u16(r, &n) || r->left < n) return 0;
    *s = r->p;
    *len = n;
    r->p += n;
    r->left -= n;
    return 1;
}

static int rd_varint(rd *r, uint32_t *v)
{
    uint32_t val = 0, mult = 1;
    for (int i = 0; i < 4; i++) {
        uint8_t d;
        if (!rd_u8(r, &d)) return 0;
        val += (uint32_t)(d & 0x7F) * mult;
        if (!(d & 0x80)) {
            *v = val;
            return 1;
        }
        mult *= 128u;
    }
    return 0; /* more than four bytes */
}

static int rd_u32(rd *r, uint32_t *v)
{
    if (r->left < 4) return 0;
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 1;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                     \
        return TW_ERR_MQTT_MALFORMED;                                                              \
    } while (0)


/* ---- MQTT 5 properties --------------------------------------------------------------------- */

enum { PT_BYTE, PT_U16, PT_U32, PT_VARINT, PT_UTF8, PT_BIN, PT_PAIR, PT_NONE };

static int prop_type(uint32_t id)
{
    switch (id) {
    case 1: case 23: case 25: case 36: case 37: case 40: case 41: case 42: return PT_BYTE;
    case 19: case 33: case 34: case 35: return PT_U16;
    case 2: case 17: case 24: case 39: return PT_U32;
    case 11: return PT_VARINT;
    case 3: case 8: case 18: case 21: case 26: case 28: case 31: return PT_UTF8;
    case 9: case 22: return PT_BIN;
    case 38: return PT_PAIR;
    default: return PT_NONE;
    }
}

#define PB(x) (1ull << (x))
#define PROPS_CONNECT (PB(17) | PB(33) | PB(39) | PB(34) | PB(25) | PB(23) | PB(38) | PB(21) | PB(22))
#define PROPS_WILL (PB(24) | PB(1) | PB(2) | PB(3) | PB(8) | PB(9) | PB(38))
#define PROPS_CONNACK (PB(17) | PB(33) | PB(36) | PB(37) | PB(39) | PB(18) | PB(34) | PB(31) | PB(38) | \
                       PB(40) | PB(41) | PB(42) | PB(19) | PB(26) | PB(28) | PB(21) | PB(22))
#define PROPS_PUBLISH (PB(1) | PB(2) | PB(35) | PB(8) | PB(9) | PB(38) | PB(11) | PB(3))
#define PROPS_ACK (PB(31) | PB(38))
#define PROPS_SUBSCRIBE (PB(11) | PB(38))
#define PROPS_UNSUBSCRIBE (PB(38))
#define PROPS_DISCONNECT (PB(17) | PB(31) | PB(38) | PB(28))
#define PROPS_AUTH (PB(21) | PB(22) | PB(31) | PB(38))
#define PROPS_REPEATABLE (PB(38) | PB(11)) /* User Property; Subscription Identifier in PUBLISH */

/* Reads a property length and the properties it covers; `allowed` is the packet's set. */
static tw_status decode_props(rd *r, uint64_t allowed, tw__mqtt_props *pp, const char *tn, char *err,
                              size_t errlen)
{
    uint32_t plen;
    if (!rd_varint(r, &plen)) BAD("%s: truncated or invalid property length", tn);
    if (plen > r->left) BAD("%s: property length %u exceeds the packet", tn, (unsigned)plen);
    rd pr = {r->p, plen};
    r->p += plen;
    r->left -= plen;
    while (pr.left) {
        uint32_t id;
        if (!rd_varint(&pr, &id)) BAD("%s: truncated property identifier", tn);
        int type = prop_type(id);
        if (type == PT_NONE || !(allowed & PB(id))) BAD("%s: property %u is not allowed here", tn, (unsigned)id);
        if ((pp->present & PB(id)) && !(PROPS_REPEATABLE & PB(id)))
            BAD("%s: property %u appears twice", tn, (unsigned)id);
        pp->present |= PB(id);
        uint8_t b = 0;
        uint16_t w = 0, sl = 0;
        uint32_t d = 0;
        const uint8_t *sp = NULL;
        switch (type) {
        case PT_BYTE:
            if (!rd_u8(&pr, &b)) BAD("%s: truncated property %u", tn, (unsigned)id);
            if (b > 1) BAD("%s: property %u has value %u, must be 0 or 1", tn, (unsigned)id, (unsigned)b);
            if (id == 36) pp->max_qos = b;
            if (id == 37) pp->retain_available = b;
            break;
        case PT_U16:
            if (!rd_u16(&pr, &w)) BAD("%s: truncated property %u", tn, (unsigned)id);
            if ((id == 33 || id == 35) && w == 0) BAD("%s: property %u is 0", tn, (unsigned)id);
            if (id == 19) pp->server_keep_alive = w;
            if (id == 33) pp->receive_max = w;
            if (id == 34) pp->topic_alias_max = w;
            if (id == 35) pp->topic_alias = w;
            break;
        case PT_U32:
            if (!rd_u32(&pr, &d)) BAD("%s: truncated property %u", tn, (unsigned)id);
            if (id == 39 && d == 0) BAD("%s: maximum packet size 0", tn);
            if (id == 39) pp->max_packet_size = d;
            if (id == 17) pp->session_expiry = d;
            break;
        case PT_VARINT:
            if (!rd_varint(&pr, &d)) BAD("%s: invalid property %u", tn, (unsigned)id);
            if (d == 0) BAD("%s: subscription identifier 0", tn);
            break;
        case PT_UTF8:
            if (!rd_bin(&pr, &sp, &sl)) BAD("%s: truncated property %u", tn, (unsigned)id);
            if (!tw__mqtt_utf8_ok(sp, sl)) BAD("%s: property %u is not valid UTF-8", tn, (unsigned)id);
            if (id == 31) { pp->reason_string = sp; pp->reason_string_len = sl; }
            if (id == 18) { pp->assigned_client_id = sp; pp->assigned_client_id_len = sl; }
            break;
        case PT_BIN:
            if (!rd_bin(&pr, &sp, &sl)) BAD("%s: truncated property %u", tn, (unsigned)id);
            break;
        default: /* PT_PAIR */
            for (int k = 0; k < 2; k++) {
                if (!rd_bin(&pr, &sp, &sl)) BAD("%s: truncated user property", tn);
                if (!tw__mqtt_utf8_ok(sp, sl)) BAD("%s: user property is not valid UTF-8", tn);
            }
            break;
        }
    }
    return TW_OK;
}

static int code_in(uint8_t c, const uint8_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == c) return 1;
    return 0;
}

static const uint8_t RC_CONNACK[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                     0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t RC_PUBACK[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t RC_PUBREL[] = {0x00, 0x92};
static const uint8_t RC_SUBACK[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t RC_UNSUBACK[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t RC_DISCONNECT[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t RC_AUTH[] = {0x00, 0x18, 0x19};

const char *tw__mqtt_reason_name(uint8_t c)
{
    switch (c) {
    case 0x00: return "Success";
    case 0x01: return "Granted QoS 1";
    case 0x02: return "Granted QoS 2";
    case 0x04: return "Disconnect with Will Message";
    case 0x10: return "No matching subscribers";
    case 0x11: return "No subscription existed";
    case 0x18: return "Continue authentication";
    case 0x19: return "Re-authenticate";
    case 0x80: return "Unspecified error";
    case 0x81: return "Malformed Packet";
    case 0x82: return "Protocol Error";
    case 0x83: return "Implementation specific error";
    case 0x84: return "Unsupported Protocol Version";
    case 0x85: return "Client Identifier not valid";
    case 0x86: return "Bad User Name or Password";
    case 0x87: return "Not authorized";
    case 0x88: return "Server unavailable";
    case 0x89: return "Server busy";
    case 0x8A: return "Banned";
    case 0x8B: return "Server shutting down";
    case 0x8C: return "Bad authentication method";
    case 0x8D: return "Keep Alive timeout";
    case 0x8E: return "Session taken over";
    case 0x8F: return "Topic Filter invalid";
    case 0x90: return "Topic Name invalid";
    case 0x91: return "Packet Identifier in use";
    case 0x92: return "Packet Identifier not found";
    case 0x93: return "Receive Maximum exceeded";
    case 0x94: return "Topic Alias invalid";
    case 0x95: return "Packet too large";
    case 0x96: return "Message rate too high";
    case 0x97: return "Quota exceeded";
    case 0x98: return "Administrative action";
    case 0x99: return "Payload format invalid";
    case 0x9A: return "Retain not supported";
    case 0x9B: return "QoS not supported";
    case 0x9C: return "Use another server";
    case 0x9D: return "Server moved";
    case 0x9E: return "Shared Subscriptions not supported";
    case 0x9F: return "Connection rate exceeded";
    case 0xA0: return "Maximum connect time";
    case 0xA1: return "Subscription Identifiers not supported";
    case 0xA2: return "Wildcard Subscriptions not supported";
    default: return "unknown";
    }
}

static tw_status decode_connect(rd *r, tw__mqtt_packet *pkt, char *err, size_t errlen)
{
    tw__mqtt_connect *c = &pkt->connect;
    const uint8_t *name;
    uint16_t name_len;
    uint8_t flags;
    if (!rd_bin(r, &name, &name_len)) BAD("CONNECT: truncated protocol name");
    if (name_len != 4 || memcmp(name, "MQTT", 4) != 0) BAD("CONNECT: protocol name is not \"MQTT\"");
    if (!rd_u8(r, &c->level) || !rd_u8(r, &flags) || !rd_u16(r, &c->keep_alive))
        BAD("CONNECT: truncated variable header");
    if (c->level != 4 && c->level != 5) BAD("CONNECT: unsupported protocol level %u", (unsigned)c->level);
    if (flags & 0x01) BAD("CONNECT: reserved flag is set [MQTT-3.1.2-3]");
    c->clean_session = (flags >> 1) & 1;
    c->has_will = (flags >> 2) & 1;
    c->will_qos = (flags >> 3) & 3;
    c->will_retain = (flags >> 5) & 1;
    c->has_password = (flags >> 6) & 1;
    c->has_username = (flags >> 7) & 1;
    if (c->will_qos == 3) BAD("CONNECT: will QoS 3 [MQTT-3.1.2-14]");
    if (!c->has_will && (c->will_qos || c->will_retain))
        BAD("CONNECT: will QoS or retain set without a will [MQTT-3.1.2-13]");
    if (c->has_password && !c->has_username && c->level == 4)
        BAD("CONNECT: password without user name [MQTT-3.1.2-22]");
    if (c->level == 5) {
        tw_status st = decode_props(r, PROPS_CONNECT, &pkt->props, "CONNECT", err, errlen);
        if (st) return st;
        c->max_packet_size = pkt->props.max_packet_size;
    }
    if (!rd_bin(r, &c->client_id, &c->client_id_len)) BAD("CONNECT: truncated client identifier");
    if (!tw__mqtt_utf8_ok(c->client_id, c->client_id_len)) BAD("CONNECT: client identifier is not valid UTF-8");
    if (c->has_will) {
        if (c->level == 5) {
            tw__mqtt_props wp;
            memset(&wp, 0, sizeof wp);
            tw_status st = decode_props(r, PROPS_WILL, &wp, "CONNECT will", err, errlen);
            if (st) return st;
        }
        if (!rd_bin(r, &c->will_topic, &c->will_topic_len)) BAD("CONNECT: truncated will topic");
        if (!tw__mqtt_topic_ok(c->will_topic, c->will_topic_len)) BAD("CONNECT: invalid will topic");
        if (!rd_bin(r, &c->will_payload, &c->will_payload_len)) BAD("CONNECT: truncated will message");
    }
    if (c->has_username) {
        if (!rd_bin(r, &c->username, &c->username_len)) BAD("CONNECT: truncated user name");
        if (!tw__mqtt_utf8_ok(c->username, c->username_len)) BAD("CONNECT: user name is not valid UTF-8");
    }
    if (c->has_password && !rd_bin(r, &c->password, &c->password_len)) BAD("CONNECT: truncated password");
    if (r->left) BAD("CONNECT: %zu bytes after the payload", r->left);
    return TW_OK;
}

static tw_status decode_filters(rd *r, tw__mqtt_packet *pkt, int with_qos, uint8_t v, char *err,
                                size_t errlen)
{
    const char *what = with_qos ? "SUBSCRIBE" : "UNSUBSCRIBE";
    if (!rd_u16(r, &pkt->packet_id)) BAD("%s: truncated packet identifier", what);
    if (!pkt->packet_id) BAD("%s: packet identifier 0 [MQTT-2.3.1-1]", what);
    if (v == 5) {
        tw_status st = decode_props(r, with_qos ? PROPS_SUBSCRIBE : PROPS_UNSUBSCRIBE, &pkt->props, what, err, errlen);
        if (st) return st;
    }
    pkt->list = r->p;
    pkt->list_len = r->left;
    if (!r->left) BAD("%s: no topic filter [MQTT-%s]", what, with_qos ? "3.8.3-3" : "3.10.3-2");
    while (r->left) {
        const uint8_t *f;
        uint16_t fl;
        if (!rd_bin(r, &f, &fl)) BAD("%s: truncated topic filter", what);
        if (!tw__mqtt_filter_ok(f, fl)) BAD("%s: invalid topic filter", what);
        if (with_qos) {
            uint8_t q;
            if (!rd_u8(r, &q)) BAD("%s: truncated requested QoS", what);
            if (v == 5) {
                if (q & 0xC0) BAD("%s: reserved bits of subscription options set [MQTT-3.8.3-5]", what);
                if (((q >> 4) & 3) == 3) BAD("%s: retain handling 3", what);
                if ((q & 3) == 3) BAD("%s: maximum QoS 3", what);
            } else {
                if (q & 0xFC) BAD("%s: reserved bits of requested QoS set [MQTT-3.8.3-4]", what);
                if (q == 3) BAD("%s: requested QoS 3 [MQTT-3.8.3-4]", what);
            }
        }
    }
    return TW_OK;
}

tw_status tw__mqtt_decode(const uint8_t *buf, size_t len, uint32_t max_packet, tw__mqtt_packet *pkt,
                          size_t *need, char *err, size_t errlen)
{
    return tw__mqtt_decode_v(4, buf, len, max_packet, pkt, need, err, errlen);
}

/* Level 5 acknowledgement: packet id, then optional reason code and optional properties. */
static tw_status decode_ack5(rd *r, tw__mqtt_packet *pkt, const uint8_t *codes, size_t ncodes,
                             const char *tn, char *err, size_t errlen)
{
    if (!rd_u16(r, &pkt->packet_id)) BAD("%s: truncated packet identifier", tn);
    if (!pkt->packet_id) BAD("%s: packet identifier 0 [MQTT-2.2.1-3]", tn);
    if (r->left && rd_u8(r, &pkt->reason_code) && !code_in(pkt->reason_code, codes, ncodes))
        BAD("%s: invalid reason code 0x%02x", tn, (unsigned)pkt->reason_code);
    if (r->left) {
        tw_status st = decode_props(r, PROPS_ACK, &pkt->props, tn, err, errlen);
        if (st) return st;
    }
    if (r->left) BAD("%s: %zu bytes after the properties", tn, r->left);
    return TW_OK;
}

tw_status tw__mqtt_decode_v(uint8_t v, const uint8_t *buf, size_t len, uint32_t max_packet,
                            tw__mqtt_packet *pkt, size_t *need, char *err, size_t errlen)
{
    if (need) *need = 0;
    if (err && errlen) err[0] = '\0';
    if (len < 2) return TW_ERR_AGAIN;
    uint8_t type = buf[0] >> 4, flags = buf[0] & 15;
    if (type == 0 || (type == 15 && v != 5)) BAD("reserved packet type %u", (unsigned)type);
    uint32_t rem = 0;
    size_t n = 1;
    for (uint32_t mult = 1;; mult *= 128u) {
        if (n >= len) return TW_ERR_AGAIN;
        uint8_t d = buf[n++];
        rem += (uint32_t)(d & 0x7F) * mult;
        if (!(d & 0x80)) break;
        if (n == 5) BAD("%s: remaining length longer than 4 bytes", tw__mqtt_type_name(type));
    }
    uint64_t total = (uint64_t)n + rem;
    if (total > max_packet) {
        if (err && errlen)
            snprintf(err, errlen, "%s of %llu bytes exceeds the maximum packet size %u",
                     tw__mqtt_type_name(type), (unsigned long long)total, (unsigned)max_packet);
        return TW_ERR_MQTT_TOO_LARGE;
    }
    if (need) *need = (size_t)total;
    if (len < total) return TW_ERR_AGAIN;

    memset(pkt, 0, sizeof *pkt);
    pkt->type = type;
    pkt->flags = flags;
    pkt->size = (uint32_t)total;
    const char *tn = tw__mqtt_type_name(type);
    /* fixed header flags [MQTT-2.2.2-1, -2] */
    if (type == TW__MQTT_PUBLISH) {
        pkt->dup = (flags >> 3) & 1;
        pkt->qos = (flags >> 1) & 3;
        pkt->retain = flags & 1;
        if (pkt->qos == 3) BAD("PUBLISH: QoS 3 [MQTT-3.3.1-4]");
        if (pkt->qos == 0 && pkt->dup) BAD("PUBLISH: DUP set on a QoS 0 message [MQTT-3.3.1-2]");
    } else if (type == TW__MQTT_PUBREL || type == TW__MQTT_SUBSCRIBE || type == TW__MQTT_UNSUBSCRIBE) {
        if (flags != 2) BAD("%s: fixed header flags 0x%x, must be 0x2", tn, (unsigned)flags);
    } else if (flags != 0) {
        BAD("%s: fixed header flags 0x%x, must be 0", tn, (unsigned)flags);
    }

    rd r = {buf + n, rem};
    tw_status st;
    switch (type) {
    case TW__MQTT_CONNECT:
        return decode_connect(&r, pkt, err, errlen);
    case TW__MQTT_CONNACK: {
        uint8_t ack = 0;
        if (v == 4 && rem != 2) BAD("CONNACK: remaining length %u, must be 2", (unsigned)rem);
        if (v == 5 && rem < 3) BAD("CONNACK: remaining length %u, must be at least 3", (unsigned)rem);
        rd_u8(&r, &ack);
        rd_u8(&r, &pkt->return_code);
        if (ack & 0xFE) BAD("CONNACK: reserved acknowledge flags set [MQTT-3.2.2]");
        pkt->session_present = ack & 1;
        if (v == 4 && pkt->return_code > 5) BAD("CONNACK: reserved return code %u", (unsigned)pkt->return_code);
        if (v == 5) {
            if (!code_in(pkt->return_code, RC_CONNACK, sizeof RC_CONNACK))
                BAD("CONNACK: invalid reason code 0x%02x", (unsigned)pkt->return_code);
            pkt->reason_code = pkt->return_code;
            if ((st = decode_props(&r, PROPS_CONNACK, &pkt->props, tn, err, errlen))) return st;
            if (r.left) BAD("CONNACK: %zu bytes after the properties", r.left);
        }
        if (pkt->return_code && pkt->session_present)
            BAD("CONNACK: session present with a refusal [MQTT-3.2.2-4]");
        return TW_OK;
    }
    case TW__MQTT_PUBLISH:
        if (!rd_bin(&r, &pkt->topic, &pkt->topic_len)) BAD("PUBLISH: truncated topic name");
        if (!tw__mqtt_utf8_ok(pkt->topic, pkt->topic_len)) BAD("PUBLISH: topic name is not valid UTF-8 [MQTT-1.5.3-1]");
        if (pkt->qos) {
            if (!rd_u16(&r, &pkt->packet_id)) BAD("PUBLISH: truncated packet identifier");
            if (!pkt->packet_id) BAD("PUBLISH: packet identifier 0 [MQTT-2.3.1-1]");
        }
        if (v == 5 && (st = decode_props(&r, PROPS_PUBLISH, &pkt->props, tn, err, errlen))) return st;
        if (!(pkt->topic_len == 0 && TW__MQTT_HAS(pkt->props, 35)) && !tw__mqtt_topic_ok(pkt->topic, pkt->topic_len))
            BAD("PUBLISH: topic name is empty or contains a wildcard [MQTT-3.3.2-2]");
        pkt->payload = r.left ? r.p : NULL;
        pkt->payload_len = r.left;
        return TW_OK;
    case TW__MQTT_PUBACK:
    case TW__MQTT_PUBREC:
    case TW__MQTT_PUBREL:
    case TW__MQTT_PUBCOMP:
        if (v == 5) {
            int rel = type == TW__MQTT_PUBREL || type == TW__MQTT_PUBCOMP;
            return decode_ack5(&r, pkt, rel ? RC_PUBREL : RC_PUBACK, rel ? sizeof RC_PUBREL : sizeof RC_PUBACK,
                               tn, err, errlen);
        }
        /* fall through */
    case TW__MQTT_UNSUBACK:
        if (v == 4 || type != TW__MQTT_UNSUBACK) {
            if (rem != 2) BAD("%s: remaining length %u, must be 2", tn, (unsigned)rem);
            rd_u16(&r, &pkt->packet_id);
            if (!pkt->packet_id) BAD("%s: packet identifier 0 [MQTT-2.3.1-1]", tn);
            return TW_OK;
        }
        /* fall through - a level 5 UNSUBACK carries reason codes like SUBACK */
    case TW__MQTT_SUBACK: {
        if (!rd_u16(&r, &pkt->packet_id)) BAD("%s: truncated packet identifier", tn);
        if (!pkt->packet_id) BAD("%s: packet identifier 0 [MQTT-2.3.1-1]", tn);
        if (v == 5 && (st = decode_props(&r, PROPS_ACK, &pkt->props, tn, err, errlen))) return st;
        if (!r.left) BAD("%s: no return code", tn);
        int unsub = type == TW__MQTT_UNSUBACK;
        for (size_t i = 0; i < r.left; i++) {
            uint8_t c = r.p[i];
            if (v == 4 && c != 0 && c != 1 && c != 2 && c != 0x80)
                BAD("SUBACK: reserved return code 0x%02x [MQTT-3.9.3-2]", (unsigned)c);
            if (v == 5 && !(unsub ? code_in(c, RC_UNSUBACK, sizeof RC_UNSUBACK) : code_in(c, RC_SUBACK, sizeof RC_SUBACK)))
                BAD("%s: invalid reason code 0x%02x", tn, (unsigned)c);
        }
        pkt->list = r.p;
        pkt->list_len = r.left;
        return TW_OK;
    }
    case TW__MQTT_SUBSCRIBE:
        return decode_filters(&r, pkt, 1, v, err, errlen);
    case TW__MQTT_UNSUBSCRIBE:
        return decode_filters(&r, pkt, 0, v, err, errlen);
    case TW__MQTT_DISCONNECT:
    case TW__MQTT_AUTH:
        if (v == 5 && rem > 0) {
            int auth = type == TW__MQTT_AUTH;
            rd_u8(&r, &pkt->reason_code);
            if (!(auth ? code_in(pkt->reason_code, RC_AUTH, sizeof RC_AUTH)
                       : code_in(pkt->reason_code, RC_DISCONNECT, sizeof RC_DISCONNECT)))
                BAD("%s: invalid reason code 0x%02x", tn, (unsigned)pkt->reason_code);
            if (r.left && (st = decode_props(&r, auth ? PROPS_AUTH : PROPS_DISCONNECT, &pkt->props, tn, err, errlen)))
                return st;
            if (r.left) BAD("%s: %zu bytes after the properties", tn, r.left);
            return TW_OK;
        }
        /* fall through */
    default: /* PINGREQ, PINGRESP, level 4 DISCONNECT */
        if (rem != 0) BAD("%s: remaining length %u, must be 0", tn, (unsigned)rem);
        return TW_OK;
    }
}

int tw__mqtt_next_filter(const tw__mqtt_packet *pkt, size_t *pos, const uint8_t **filter,
                         uint16_t *filter_len, uint8_t *qos)
{
    int with_qos = pkt->type == TW__MQTT_SUBSCRIBE;
    rd r = {pkt->list + *pos, pkt->list_len - *pos};
    if (*pos >= pkt->list_len) return 0;
    if (!rd_bin(&r, filter, filter_len)) return 0;
    uint8_t q = 0;
    if (with_qos && !rd_u8(&r, &q)) return 0;
    if (qos) *qos = q;
    *pos = pkt->list_len - r.left;
    return 1;
}

/* ---- encoding -------------------------------------------------------------------------------- */

typedef struct wr {
    uint8_t *p;
} wr;

static void wr_u8(wr *w, uint8_t v) { *w->p++ = v; }
static void wr_u16(wr *w, uint16_t v)
{
    w->p[0] = (uint8_t)(v >> 8);
    w->p[1] = (uint8_t)v;
    w->p += 2;
}
static void wr_raw(wr *w, const void *s, size_t n)
{
    if (n) memcpy(w->p, s, n);
    w->p += n;
}
static void wr_bin(wr *w, const void *s, uint16_t n)
{
    wr_u16(w, n);
    wr_raw(w, s, n);
}

/* Checks room for a packet with `rem` remaining bytes; writes the fixed header. */
static tw_status begin(wr *w, uint8_t *buf, size_t cap, uint8_t first, uint64_t rem, size_t *len)
{
    if (rem > TW__MQTT_MAX_REMAINING) return TW_ERR_INVALID_ARG;
    size_t total = 1 + tw__mqtt_varint_len((uint32_t)rem) + (size_t)rem;
    *len = total;
    if (!buf || cap < total) return TW_ERR_RANGE;
    w->p = buf;
    wr_u8(w, first);
    w->p += tw__mqtt_varint_put(w->p, (uint32_t)rem);
    return TW_OK;
}

tw_status tw__mqtt_encode_connect(uint8_t *buf, size_t cap, const tw__mqtt_connect *c, size_t *len)
{
    *len = 0;
    uint8_t level = c->level ? c->level : 4;
    if (level != 4 && level != 5) return TW_ERR_INVALID_ARG;
    if (c->will_qos > 1 && c->has_will) return TW_ERR_INVALID_ARG; /* we never send QoS 2 */
    if (c->has_password && !c->has_username && level == 4) return TW_ERR_INVALID_ARG;
    if (!tw__mqtt_utf8_ok(c->client_id, c->client_id_len)) return TW_ERR_INVALID_ARG;
    if (c->has_will && !tw__mqtt_topic_ok(c->will_topic, c->will_topic_len)) return TW_ERR_INVALID_ARG;
    if (c->has_username && !tw__mqtt_utf8_ok(c->username, c->username_len)) return TW_ERR_INVALID_ARG;
    size_t props = level == 5 && c->max_packet_size ? 5 : 0;
    uint64_t rem = 10 + 2 + (uint64_t)c->client_id_len;
    if (level == 5) rem += 1 + props;
    if (c->has_will) rem += 4 + (uint64_t)c->will_topic_len + c->will_payload_len + (level == 5 ? 1 : 0);
    if (c->has_username) rem += 2 + (uint64_t)c->username_len;
    if (c->has_password) rem += 2 + (uint64_t)c->password_len;
    wr w;
    tw_status st = begin(&w, buf, cap, TW__MQTT_CONNECT << 4, rem, len);
    if (st) return st;
    uint8_t flags = (uint8_t)((c->clean_session ? 0x02 : 0) | (c->has_username ? 0x80 : 0) |
                              (c->has_password ? 0x40 : 0));
    if (c->has_will) flags |= (uint8_t)(0x04 | (c->will_qos << 3) | (c->will_retain ? 0x20 : 0));
    wr_bin(&w, "MQTT", 4);
    wr_u8(&w, level);
    wr_u8(&w, flags);
    wr_u16(&w, c->keep_alive);
    if (level == 5) {
        wr_u8(&w, (uint8_t)props);
        if (props) {
            wr_u8(&w, 39); /* Maximum Packet Size */
            wr_u16(&w, (uint16_t)(c->max_packet_size >> 16));
            wr_u16(&w, (uint16_t)c->max_packet_size);
        }
    }
    wr_bin(&w, c->client_id, c->client_id_len);
    if (c->has_will) {
        if (level == 5) wr_u8(&w, 0); /* no will properties */
        wr_bin(&w, c->will_topic, c->will_topic_len);
        wr_bin(&w, c->will_payload, c->will_payload_len);
    }
    if (c->has_username) wr_bin(&w, c->username, c->username_len);
    if (c->has_password) wr_bin(&w, c->password, c->password_len);
    return TW_OK;
}

tw_status tw__mqtt_encode_connack(uint8_t *buf, size_t cap, int session_present, uint8_t rc, size_t *len)
{
    *len = 0;
    if (rc > 5 || (rc && session_present)) return TW_ERR_INVALID_ARG;
    wr w;
    tw_status st = begin(&w, buf, cap, TW__MQTT_CONNACK << 4, 2, len);
    if (st) return st;
    wr_u8(&w, session_present ? 1 : 0);
    wr_u8(&w, rc);
    return TW_OK;
}

size_t tw__mqtt_publish_size_x(size_t topic_len, size_t payload_len, int qos, size_t extra)
{
    uint64_t rem = 2 + (uint64_t)topic_len + (qos ? 2 : 0) + extra + (uint64_t)payload_len;
    if (rem > TW__MQTT_MAX_REMAINING) return 0;
    return 1 + tw__mqtt_varint_len((uint32_t)rem) + (size_t)rem;
}

size_t tw__mqtt_publish_size(size_t topic_len, size_t payload_len, int qos)
{
    return tw__mqtt_publish_size_x(topic_len, payload_len, qos, 0);
}

static size_t publish_head(uint8_t *hdr, const uint8_t *topic, uint16_t topic_len, size_t payload_len,
                           int qos, int retain, int dup, uint16_t packet_id, int v5)
{
    uint64_t rem = 2 + (uint64_t)topic_len + (qos ? 2 : 0) + (v5 ? 1 : 0) + (uint64_t)payload_len;
    if (rem > TW__MQTT_MAX_REMAINING) return 0;
    wr w = {hdr};
    wr_u8(&w, (uint8_t)((TW__MQTT_PUBLISH << 4) | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0)));
    w.p += tw__mqtt_varint_put(w.p, (uint32_t)rem);
    wr_bin(&w, topic, topic_len);
    if (qos) wr_u16(&w, packet_id);
    if (v5) wr_u8(&w, 0); /* no properties */
    return (size_t)(w.p - hdr);
}

size_t tw__mqtt_publish_head(uint8_t *hdr, const uint8_t *topic, uint16_t topic_len,
                             size_t payload_len, int qos, int retain, int dup, uint16_t packet_id)
{
    return publish_head(hdr, topic, topic_len, payload_len, qos, retain, dup, packet_id, 0);
}

static tw_status encode_publish(uint8_t *buf, size_t cap, const uint8_t *topic, uint16_t topic_len,
                                const void *payload, size_t payload_len, int qos, int retain, int dup,
                                uint16_t packet_id, size_t *len, int v5)
{
    *len = 0;
    if (qos < 0 || qos > 1 || (qos && !packet_id) || (!qos && dup)) return TW_ERR_INVALID_ARG;
    if (!tw__mqtt_topic_ok(topic, topic_len) || (payload_len && !payload)) return TW_ERR_INVALID_ARG;
    size_t total = tw__mqtt_publish_size_x(topic_len, payload_len, qos, v5 ? 1 : 0);
    if (!total) return TW_ERR_INVALID_ARG;
    *len = total;
    if (!buf || cap < total) return TW_ERR_RANGE;
    size_t h = publish_head(buf, topic, topic_len, payload_len, qos, retain, dup, packet_id, v5);
    if (payload_len) memcpy(buf + h, payload, payload_len);
    return TW_OK;
}

tw_status tw__mqtt_encode_publish(uint8_t *buf, size_t cap, const uint8_t *topic, uint16_t topic_len,
                                  const void *payload, size_t payload_len, int qos, int retain,
                                  int dup, uint16_t packet_id, size_t *len)
{
    return encode_publish(buf, cap, topic, topic_len, payload, payload_len, qos, retain, dup, packet_id, len, 0);
}

tw_status tw__mqtt_encode_publish5(uint8_t *buf, size_t cap, const uint8_t *topic, uint16_t topic_len,
                                   const void *payload, size_t payload_len, int qos, int retain,
                                   int dup, uint16_t packet_id, size_t *len)
{
    return encode_publish(buf, cap, topic, topic_len, payload, payload_len, qos, retain, dup, packet_id, len, 1);
}

tw_status tw__mqtt_encode_reason5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                  uint8_t reason, size_t *len)
{
    *len = 0;
    wr w;
    tw_status st;
    if (type == TW__MQTT_DISCONNECT) {
        if (!code_in(reason, RC_DISCONNECT, sizeof RC_DISCONNECT)) return TW_ERR_INVALID_ARG;
        if ((st = begin(&w, buf, cap, TW__MQTT_DISCONNECT << 4, 2, len))) return st;
        wr_u8(&w, reason);
        wr_u8(&w, 0);
        return TW_OK;
    }
    int rel = type == TW__MQTT_PUBREL || type == TW__MQTT_PUBCOMP;
    if (!packet_id || type < TW__MQTT_PUBACK || type > TW__MQTT_PUBCOMP) return TW_ERR_INVALID_ARG;
    if (!(rel ? code_in(reason, RC_PUBREL, sizeof RC_PUBREL) : code_in(reason, RC_PUBACK, sizeof RC_PUBACK)))
        return TW_ERR_INVALID_ARG;
    if ((st = begin(&w, buf, cap, (uint8_t)((type << 4) | (type == TW__MQTT_PUBREL ? 2 : 0)), 4, len))) return st;
    wr_u16(&w, packet_id);
    wr_u8(&w, reason);
    wr_u8(&w, 0);
    return TW_OK;
}

tw_status tw__mqtt_encode_codes5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                 const uint8_t *codes, size_t n, size_t *len)
{
    *len = 0;
    if (!packet_id || !n || !codes || (type != TW__MQTT_SUBACK && type != TW__MQTT_UNSUBACK)) return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!(type == TW__MQTT_SUBACK ? code_in(codes[i], RC_SUBACK, sizeof RC_SUBACK)
                                      : code_in(codes[i], RC_UNSUBACK, sizeof RC_UNSUBACK)))
            return TW_ERR_INVALID_ARG;
    wr w;
    tw_status st = begin(&w, buf, cap, (uint8_t)(type << 4), 3 + (uint64_t)n, len);
    if (st) return st;
    wr_u16(&w, packet_id);
    wr_u8(&w, 0);
    wr_raw(&w, codes, n);
    return TW_OK;
}

tw_status tw__mqtt_encode_ack(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id, size_t *len)
{
    *len = 0;
    if (!packet_id) return TW_ERR_INVALID_ARG;
    if (type != TW__MQTT_PUBACK && type != TW__MQTT_PUBREC && type != TW__MQTT_PUBREL &&
        type != TW__MQTT_PUBCOMP && type != TW__MQTT_UNSUBACK)
        return TW_ERR_INVALID_ARG;
    wr w;
    tw_status st = begin(&w, buf, cap, (uint8_t)((type << 4) | (type == TW__MQTT_PUBREL ? 2 : 0)), 2, len);
    if (st) return st;
    wr_u16(&w, packet_id);
    return TW_OK;
}

static tw_status encode_filters(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                const char *const *filters, const uint8_t *qos, size_t n, size_t *len)
{
    *len = 0;
    if (!packet_id || !n || !filters) return TW_ERR_INVALID_ARG;
    uint64_t rem = 2;
    for (size_t i = 0; i < n; i++) {
        if (!filters[i]) return TW_ERR_INVALID_ARG;
        size_t fl = strlen(filters[i]);
        if (!tw__mqtt_filter_ok((const uint8_t *)filters[i], fl)) return TW_ERR_INVALID_ARG;
        if (qos && qos[i] > 2) return TW_ERR_INVALID_ARG;
        rem += 2 + fl + (qos ? 1 : 0);
    }
    wr w;
    tw_status st = begin(&w, buf, cap, (uint8_t)((type << 4) | 2), rem, len);
    if (st) return st;
    wr_u16(&w, packet_id);
    for (size_t i = 0; i < n; i++) {
        wr_bin(&w, filters[i], (uint16_t)strlen(filters[i]));
        if (qos) wr_u8(&w, qos[i]);
    }
    return TW_OK;
}

tw_status tw__mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id,
                                    const char *const *filters, const uint8_t *qos, size_t n, size_t *len)
{
    if (!qos) return TW_ERR_INVALID_ARG;
    return encode_filters(buf, cap, TW__MQTT_SUBSCRIBE, packet_id, filters, qos, n, len);
}

tw_status tw__mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, uint16_t packet_id,
                                      const char *const *filters, size_t n, size_t *len)
{
    return encode_filters(buf, cap, TW__MQTT_UNSUBSCRIBE, packet_id, filters, NULL, n, len);
}

tw_status tw__mqtt_encode_suback(uint8_t *buf, size_t cap, uint16_t packet_id, const uint8_t *codes,
                                 size_t n, size_t *len)
{
    *len = 0;
    if (!packet_id || !n || !codes) return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (codes[i] > 2 && codes[i] != 0x80) return TW_ERR_INVALID_ARG;
    wr w;
    tw_status st = begin(&w, buf, cap, TW__MQTT_SUBACK << 4, 2 + (uint64_t)n, len);
    if (st) return st;
    wr_u16(&w, packet_id);
    wr_raw(&w, codes, n);
    return TW_OK;
}

tw_status tw__mqtt_encode_empty(uint8_t *buf, size_t cap, uint8_t type, size_t *len)
{
    *len = 0;
    if (type != TW__MQTT_PINGREQ && type != TW__MQTT_PINGRESP && type != TW__MQTT_DISCONNECT)
        return TW_ERR_INVALID_ARG;
    wr w;
    return begin(&w, buf, cap, (uint8_t)(type << 4), 0, len);
}
