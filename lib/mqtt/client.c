/* MQTT 3.1.1 / 5.0 client session over a tw_transport. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mqtt_codec.h"
#include "mqtt_internal.h"

#define MOD "mqtt"
#define RESERVE 16u        /* output ring bytes kept for PINGREQ / PUBACK / DISCONNECT */
#define MAX_PINGS 8u
#define READS_PER_PROCESS 64

typedef struct inflight {
    uint64_t token;
    uint16_t packet_id;
    uint8_t type; /* tw_mqtt_ack_type */
    uint8_t acked;
} inflight;

struct tw_mqtt_client {
    tw_transport *t;
    tw_mqtt_options o;
    char *host, *client_id, *username, *will_topic;
    uint8_t *password, *will_payload;
    tw__error err;

    tw_mqtt_state state;
    uint8_t version;           /* protocol level: 4 or 5 */
    /* MQTT 5 limits announced in CONNACK (defaults when absent) */
    uint32_t server_max_packet;
    size_t window;             /* min(max_inflight, server Receive Maximum) */
    uint8_t server_max_qos, server_retain;
    uint16_t keep_alive_s;     /* effective: ours, or the server's Server Keep Alive */
    uint32_t ping_timeout_ms;  /* effective */
    int ping_user;             /* ping_timeout_ms was given in the options */
    int connack_wait;  /* CONNECTING: transport up, CONNACK awaited */
    int want;          /* the user asked to be connected (reconnect allowed) */
    int blocking;      /* inside connect_blocking: failures end in DISCONNECTED */
    int64_t deadline;  /* CONNECTING: give up; WAITING: reconnect */
    uint32_t attempt;
    uint32_t delay;

    uint8_t *in;
    size_t in_cap, in_len;

    uint8_t *out;
    size_t out_cap, out_head, out_len;

    inflight *inf;
    size_t inf_cap, inf_head, inf_count, inf_unacked;
    uint16_t next_pid;
    uint8_t pid_used[8192];

    uint64_t ping_token[MAX_PINGS];
    int64_t ping_time[MAX_PINGS];
    size_t ping_head, ping_count;

    int64_t last_tx;
    uint64_t next_token, confirmed;

    tw_mqtt_message_fn msg_fn;
    void *msg_ud;
    tw_mqtt_ack_fn ack_fn;
    void *ack_ud;
    tw_mqtt_state_fn state_fn;
    void *state_ud;

    tw__rand_fn rnd;
    void *rnd_ctx;
    tw__mqtt_clock_fn clock;
    void *clock_ctx;
};

static int64_t now_ms(const tw_mqtt_client *c) { return c->clock ? c->clock(c->clock_ctx) : tw__mono_ms(); }

/* ---- small helpers ------------------------------------------------------------------------- */

static int pid_is_used(const tw_mqtt_client *c, uint16_t id) { return c->pid_used[id >> 3] & (1u << (id & 7)); }
static void pid_set(tw_mqtt_client *c, uint16_t id, int on)
{
    if (on) c->pid_used[id >> 3] |= (uint8_t)(1u << (id & 7));
    else c->pid_used[id >> 3] &= (uint8_t)~(1u << (id & 7));
}

static uint16_t pid_alloc(tw_mqtt_client *c)
{
    for (;;) {
        uint16_t id = c->next_pid;
        c->next_pid = (uint16_t)(id == 65535 ? 1 : id + 1);
        if (!pid_is_used(c, id)) {
            pid_set(c, id, 1);
            return id;
        }
    }
}

static size_t ring_free(const tw_mqtt_client *c) { return c->out_cap - c->out_len; }

static void ring_put(tw_mqtt_client *c, const void *data, size_t n)
{
    const uint8_t *s = data;
    size_t tail = (c->out_head + c->out_len) % c->out_cap;
    size_t first = TW__MIN(n, c->out_cap - tail);
    if (first) memcpy(c->out + tail, s, first);
    if (n > first) memcpy(c->out, s + first, n - first);
    c->out_len += n;
}

static void ring_put_u16(tw_mqtt_client *c, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    ring_put(c, b, 2);
}

static void ring_put_header(tw_mqtt_client *c, uint8_t first, uint32_t rem)
{
    uint8_t h[TW__MQTT_MAX_HEADER];
    h[0] = first;
    size_t n = 1 + tw__mqtt_varint_put(h + 1, rem);
    ring_put(c, h, n);
}

static void set_state(tw_mqtt_client *c, tw_mqtt_state s, tw_status reason)
{
    if (c->state == s) return;
    c->state = s;
    tw__log(TW_LOG_DEBUG, MOD, "state %s (%s)", tw_mqtt_state_name(s), tw_status_name(reason));
    if (c->state_fn) c->state_fn(c, s, reason, c->state_ud);
}

static void report(tw_mqtt_client *c, tw_mqtt_ack_type type, uint64_t token, uint16_t pid,
                   tw_status st, int granted, int reason)
{
    if (!c->ack_fn) return;
    tw_mqtt_ack a;
    a.type = type;
    a.token = token;
    a.packet_id = pid;
    a.status = st;
    a.granted_qos = granted;
    a.reason_code = reason;
    c->ack_fn(c, &a, c->ack_ud);
}

/* Fails every outstanding request (in token order) with TW_ERR_CLOSED and empties the tables. */
static void fail_pending(tw_mqtt_client *c)
{
    while (c->inf_count || c->ping_count) {
        inflight *e = c->inf_count ? &c->inf[c->inf_head] : NULL;
        if (e && e->acked) {
            c->inf_head = (c->inf_head + 1) % c->inf_cap;
            c->inf_count--;
            continue;
        }
        if (e && (!c->ping_count || e->token < c->ping_token[c->ping_head])) {
            inflight copy = *e;
            pid_set(c, copy.packet_id, 0);
            c->inf_head = (c->inf_head + 1) % c->inf_cap;
            c->inf_count--;
            c->inf_unacked--;
            report(c, (tw_mqtt_ack_type)copy.type, copy.token, copy.packet_id, TW_ERR_CLOSED,
                   copy.type == TW_MQTT_ACK_SUBACK ? -1 : 0, -1);
        } else {
            uint64_t tok = c->ping_token[c->ping_head];
            c->ping_head = (c->ping_head + 1) % MAX_PINGS;
            c->ping_count--;
            report(c, TW_MQTT_ACK_PINGRESP, tok, 0, TW_ERR_CLOSED, 0, -1);
        }
    }
    c->inf_head = c->inf_count = c->inf_unacked = 0;
    c->ping_head = c->ping_count = 0;
    memset(c->pid_used, 0, sizeof c->pid_used);
}

static void reset_io(tw_mqtt_client *c)
{
    c->in_len = 0;
    c->out_head = c->out_len = 0;
    c->connack_wait = 0;
    c->server_max_packet = TW__MQTT_MAX_REMAINING + 5u;
    c->window = c->inf_cap;
    c->server_max_qos = 1;
    c->server_retain = 1;
    c->keep_alive_s = c->o.keep_alive_s;
    c->ping_timeout_ms = c->o.ping_timeout_ms;
}

/*
 * Ends the current connection because of `st` (its message already recorded on c->err). Moves to
 * WAITING (reconnect) or DISCONNECTED, reports pending requests and the state. Returns st.
 */
static tw_status drop(tw_mqtt_client *c, tw_status st)
{
    tw_transport_close(c->t);
    reset_io(c);
    int again = c->want && c->o.reconnect && !c->blocking;
    if (again) {
        c->delay = tw__backoff_ms(c->attempt, c->o.reconnect_min_ms, c->o.reconnect_max_ms, c->rnd, c->rnd_ctx);
        if (c->attempt < 31) c->attempt++;
        c->deadline = now_ms(c) + c->delay;
        tw__log(TW_LOG_INFO, MOD, "connection to %s:%u ended (%s); reconnecting in %u ms",
                c->host, (unsigned)c->o.port, tw__err_msg(&c->err), (unsigned)c->delay);
    } else {
        c->want = 0;
    }
    c->state = again ? TW_MQTT_WAITING : TW_MQTT_DISCONNECTED; /* before callbacks: publish refuses */
    fail_pending(c);
    c->state = TW_MQTT_CONNECTING; /* let set_state notice the change */
    set_state(c, again ? TW_MQTT_WAITING : TW_MQTT_DISCONNECTED, st);
    return st;
}

static tw_status fail(tw_mqtt_client *c, tw_status st, const char *fmt, ...) TW__PRINTF(3, 4);
static tw_status fail(tw_mqtt_client *c, tw_status st, const char *fmt, ...)
{
    char msg[TW__ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tw__err(&c->err, MOD, st, "%s", msg);
    tw__log(TW_LOG_WARN, MOD, "%s:%u: %s", c->host, (unsigned)c->o.port, msg);
    return drop(c, st);
}

/* ---- output -------------------------------------------------------------------------------- */

/* Writes as much of the ring as the transport takes now. TW_OK or the status that dropped. */
static tw_status flush_out(tw_mqtt_client *c)
{
    while (c->out_len) {
        size_t chunk = TW__MIN(c->out_len, c->out_cap - c->out_head);
        size_t n = 0;
        tw_status st = tw_transport_write(c->t, c->out + c->out_head, chunk, &n);
        if (st == TW_ERR_AGAIN) return TW_OK;
        if (st != TW_OK)
            return fail(c, st, "write: %s", tw_transport_last_error(c->t));
        c->out_head = (c->out_head + n) % c->out_cap;
        c->out_len -= n;
        c->last_tx = now_ms(c);
        if (n < chunk) return TW_OK;
    }
    c->out_head = 0;
    return TW_OK;
}

static tw_status queue_connect(tw_mqtt_client *c)
{
    tw__mqtt_connect k;
    memset(&k, 0, sizeof k);
    k.level = c->version;
    k.max_packet_size = c->version == 5 ? (uint32_t)c->in_cap : 0;
    k.clean_session = 1;
    k.keep_alive = c->o.keep_alive_s;
    k.client_id = (const uint8_t *)c->client_id;
    k.client_id_len = (uint16_t)strlen(c->client_id);
    if (c->will_topic) {
        k.has_will = 1;
        k.will_topic = (const uint8_t *)c->will_topic;
        k.will_topic_len = (uint16_t)strlen(c->will_topic);
        k.will_payload = c->will_payload;
        k.will_payload_len = (uint16_t)c->o.will_payload_len;
        k.will_qos = (uint8_t)c->o.will_qos;
        k.will_retain = c->o.will_retain ? 1 : 0;
    }
    if (c->username) {
        k.has_username = 1;
        k.username = (const uint8_t *)c->username;
        k.username_len = (uint16_t)strlen(c->username);
    }
    if (c->password) {
        k.has_password = 1;
        k.password = c->password;
        k.password_len = (uint16_t)c->o.password_len;
    }
    size_t len;
    /* The ring is empty after reset_io(): encode in place. Size was checked by tw_mqtt_client_new. */
    tw_status st = tw__mqtt_encode_connect(c->out, c->out_cap, &k, &len);
    if (st) return fail(c, st, "CONNECT could not be encoded (%s)", tw_status_name(st));
    c->out_head = 0;
    c->out_len = len;
    c->connack_wait = 1;
    return TW_OK;
}

static tw_status queue_ping(tw_mqtt_client *c, uint64_t *token)
{
    if (c->ping_count >= MAX_PINGS || ring_free(c) < 2) return TW_ERR_FULL;
    ring_put_header(c, TW__MQTT_PINGREQ << 4, 0);
    size_t slot = (c->ping_head + c->ping_count) % MAX_PINGS;
    c->ping_token[slot] = c->next_token;
    c->ping_time[slot] = now_ms(c);
    c->ping_count++;
    if (token) *token = c->next_token;
    c->next_token++;
    return TW_OK;
}

/* ---- input --------------------------------------------------------------------------------- */

static inflight *find_inflight(tw_mqtt_client *c, uint16_t pid, uint8_t type)
{
    for (size_t i = 0; i < c->inf_count; i++) {
        inflight *e = &c->inf[(c->inf_head + i) % c->inf_cap];
        if (!e->acked && e->packet_id == pid && e->type == type) return e;
    }
    return NULL;
}

static void pop_acked(tw_mqtt_client *c)
{
    while (c->inf_count && c->inf[c->inf_head].acked) {
        c->inf_head = (c->inf_head + 1) % c->inf_cap;
        c->inf_count--;
    }
    if (!c->inf_count) c->inf_head = 0;
}

static void confirm(tw_mqtt_client *c, uint64_t token)
{
    if (token > c->confirmed) c->confirmed = token;
}

static tw_status handle_ack(tw_mqtt_client *c, tw__mqtt_packet *p, uint8_t type)
{
    inflight *e = find_inflight(c, p->packet_id, type);
    if (!e)
        return fail(c, TW_ERR_PROTOCOL, "%s for packet id %u, which is not awaiting one",
                    tw__mqtt_type_name(p->type), (unsigned)p->packet_id);
    tw_status st = TW_OK;
    int granted = 0, reason = p->reason_code;
    if (type == TW_MQTT_ACK_SUBACK || (type == TW_MQTT_ACK_UNSUBACK && c->version == 5)) {
        if (p->list_len != 1)
            return fail(c, TW_ERR_PROTOCOL, "%s with %zu codes for a request of 1 filter",
                        tw__mqtt_type_name(p->type), p->list_len);
        reason = p->list[0];
    }
    if (type == TW_MQTT_ACK_SUBACK) {
        if (reason >= 0x80) {
            st = TW_ERR_MQTT_SUBSCRIBE_FAILED;
            granted = -1;
        } else if (reason > 1) {
            return fail(c, TW_ERR_PROTOCOL, "SUBACK granted QoS %d, more than the QoS 1 requested", reason);
        } else {
            granted = reason;
        }
    } else if (reason >= 0x80) {
        st = reason == 0x87 && type == TW_MQTT_ACK_PUBACK ? TW_ERR_MQTT_NOT_AUTHORIZED : TW_ERR_MQTT_REJECTED;
    }
    if (st != TW_OK) {
        if (p->props.reason_string)
            tw__log(TW_LOG_WARN, MOD, "%s for packet id %u: reason code 0x%02x (%s): %.*s",
                    tw__mqtt_type_name(p->type), (unsigned)p->packet_id, (unsigned)reason,
                    tw__mqtt_reason_name((uint8_t)reason), (int)p->props.reason_string_len,
                    (const char *)p->props.reason_string);
        else
            tw__log(TW_LOG_WARN, MOD, "%s for packet id %u: refused, code 0x%02x (%s)",
                    tw__mqtt_type_name(p->type), (unsigned)p->packet_id, (unsigned)reason,
                    tw__mqtt_reason_name((uint8_t)reason));
    }
    e->acked = 1;
    uint64_t token = e->token;
    pid_set(c, p->packet_id, 0);
    c->inf_unacked--;
    confirm(c, token);
    pop_acked(c);
    report(c, (tw_mqtt_ack_type)type, token, p->packet_id, st, granted, reason);
    return TW_OK;
}

static tw_status handle_packet(tw_mqtt_client *c, tw__mqtt_packet *p)
{
    if (c->connack_wait) {
        if (p->type != TW__MQTT_CONNACK)
            return fail(c, TW_ERR_PROTOCOL, "expected CONNACK, received %s", tw__mqtt_type_name(p->type));
        static const char *const why[] = {"accepted", "unacceptable protocol version",
                                          "identifier rejected", "server unavailable",
                                          "bad user name or password", "not authorized"};
        if (p->return_code && c->version == 4) {
            tw_status st = p->return_code >= 4 ? TW_ERR_MQTT_NOT_AUTHORIZED : TW_ERR_MQTT_REFUSED;
            return fail(c, st, "CONNACK return code %u (%s)", (unsigned)p->return_code, why[p->return_code]);
        }
        if (p->return_code) {
            uint8_t rc = p->return_code;
            tw_status st = (rc == 0x86 || rc == 0x87 || rc == 0x8A || rc == 0x8C) ? TW_ERR_MQTT_NOT_AUTHORIZED
                                                                                 : TW_ERR_MQTT_REFUSED;
            return fail(c, st, "CONNACK reason code 0x%02x (%s)%s%.*s", (unsigned)rc, tw__mqtt_reason_name(rc),
                        p->props.reason_string ? ": " : "", (int)p->props.reason_string_len,
                        p->props.reason_string ? (const char *)p->props.reason_string : "");
        }
        if (c->version == 5) {
            const tw__mqtt_props *pp = &p->props;
            if (TW__MQTT_HAS(*pp, 39)) c->server_max_packet = pp->max_packet_size;
            if (TW__MQTT_HAS(*pp, 33) && pp->receive_max < c->window) c->window = pp->receive_max;
            if (TW__MQTT_HAS(*pp, 36)) c->server_max_qos = pp->max_qos;
            if (TW__MQTT_HAS(*pp, 37)) c->server_retain = pp->retain_available;
            if (TW__MQTT_HAS(*pp, 19)) c->keep_alive_s = pp->server_keep_alive;
            if (TW__MQTT_HAS(*pp, 19) && !c->ping_user && pp->server_keep_alive)
                c->ping_timeout_ms = pp->server_keep_alive * 1000u;
        }
        c->connack_wait = 0;
        c->attempt = 0;
        tw__err_clear(&c->err);
        tw__log(TW_LOG_INFO, MOD, "connected to %s:%u as \"%s\"", c->host, (unsigned)c->o.port, c->client_id);
        set_state(c, TW_MQTT_CONNECTED, TW_OK);
        return TW_OK;
    }
    switch (p->type) {
    case TW__MQTT_PUBLISH: {
        if (p->qos > 1)
            return fail(c, TW_ERR_PROTOCOL, "PUBLISH with QoS %u, above the QoS 1 this client subscribes with",
                        (unsigned)p->qos);
        if (TW__MQTT_HAS(p->props, 35))
            return fail(c, TW_ERR_PROTOCOL, "PUBLISH with a Topic Alias, but this client allows none");
        /* Terminate the topic in place: move it over its length prefix. */
        uint8_t *topic = (uint8_t *)p->topic - 2;
        memmove(topic, p->topic, p->topic_len);
        topic[p->topic_len] = '\0';
        if (c->msg_fn) {
            tw_mqtt_message m;
            m.topic = (const char *)topic;
            m.topic_len = p->topic_len;
            m.payload = p->payload;
            m.payload_len = p->payload_len;
            m.qos = p->qos;
            m.retain = p->retain;
            m.dup = p->dup;
            m.packet_id = p->packet_id;
            c->msg_fn(c, &m, c->msg_ud);
        }
        if (p->qos == 1 && c->state == TW_MQTT_CONNECTED) {
            ring_put_header(c, TW__MQTT_PUBACK << 4, 2);
            ring_put_u16(c, p->packet_id);
        }
        return TW_OK;
    }
    case TW__MQTT_PUBACK:
        return handle_ack(c, p, TW_MQTT_ACK_PUBACK);
    case TW__MQTT_SUBACK:
        return handle_ack(c, p, TW_MQTT_ACK_SUBACK);
    case TW__MQTT_UNSUBACK:
        return handle_ack(c, p, TW_MQTT_ACK_UNSUBACK);
    case TW__MQTT_PINGRESP: {
        if (!c->ping_count) return fail(c, TW_ERR_PROTOCOL, "PINGRESP without a PINGREQ");
        uint64_t tok = c->ping_token[c->ping_head];
        c->ping_head = (c->ping_head + 1) % MAX_PINGS;
        c->ping_count--;
        confirm(c, tok);
        report(c, TW_MQTT_ACK_PINGRESP, tok, 0, TW_OK, 0, 0);
        return TW_OK;
    }
    case TW__MQTT_CONNACK:
        return fail(c, TW_ERR_PROTOCOL, "second CONNACK on one connection");
    case TW__MQTT_PUBREC:
    case TW__MQTT_PUBREL:
    case TW__MQTT_PUBCOMP:
        return fail(c, TW_ERR_PROTOCOL, "%s, but this client never uses QoS 2", tw__mqtt_type_name(p->type));
    case TW__MQTT_DISCONNECT:
        if (c->version == 5) {
            uint8_t rc = p->reason_code;
            tw_status st = rc == 0x87 ? TW_ERR_MQTT_NOT_AUTHORIZED : rc == 0x8D ? TW_ERR_MQTT_KEEPALIVE
                         : rc == 0x95 ? TW_ERR_MQTT_TOO_LARGE : TW_ERR_CLOSED;
            return fail(c, st, "the broker sent DISCONNECT with reason code 0x%02x (%s)%s%.*s", (unsigned)rc,
                        tw__mqtt_reason_name(rc), p->props.reason_string ? ": " : "",
                        (int)p->props.reason_string_len,
                        p->props.reason_string ? (const char *)p->props.reason_string : "");
        }
        return fail(c, TW_ERR_PROTOCOL, "the broker sent DISCONNECT, which only clients send in MQTT 3.1.1");
    case TW__MQTT_AUTH:
        return fail(c, TW_ERR_PROTOCOL, "the broker sent AUTH, but this client uses no enhanced authentication");
    default:
        return fail(c, TW_ERR_PROTOCOL, "the broker sent %s, which only clients send",
                    tw__mqtt_type_name(p->type));
    }
}

/* Decodes and handles every complete packet in the input buffer. */
static tw_status parse_input(tw_mqtt_client *c)
{
    size_t pos = 0;
    tw_status st = TW_OK;
    while (pos < c->in_len) {
        if (ring_free(c) < 8) break; /* room for the PUBACK a packet may need: flush first */
        tw__mqtt_packet p;
        char why[160];
        st = tw__mqtt_decode_v(c->version, c->in + pos, c->in_len - pos, c->o.max_packet_size, &p, NULL, why,
                               sizeof why);
        if (st == TW_ERR_AGAIN) { st = TW_OK; break; }
        if (st != TW_OK) return fail(c, st, "malformed packet from the broker: %s", why);
        pos += p.size;
        st = handle_packet(c, &p);
        if (st != TW_OK || c->in_len == 0) return st; /* dropped: buffers were reset */
    }
    if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    return st;
}

static tw_status read_input(tw_mqtt_client *c)
{
    for (int i = 0; i < READS_PER_PROCESS; i++) {
        if (c->in_len == c->in_cap || ring_free(c) < 8) {
            tw_status st = parse_input(c);
            if (st) return st;
            if (c->in_len == c->in_cap || ring_free(c) < 8) return TW_OK; /* wait for output room */
        }
        size_t n = 0;
        tw_status st = tw_transport_read(c->t, c->in + c->in_len, c->in_cap - c->in_len, &n);
        if (st == TW_ERR_AGAIN) break;
        if (st == TW_ERR_CLOSED) {
            parse_input(c);
            if (c->state == TW_MQTT_DISCONNECTED || c->state == TW_MQTT_WAITING) return c->err.code;
            return fail(c, TW_ERR_CLOSED, "the broker closed the connection%s",
                        c->connack_wait ? " before CONNACK" : "");
        }
        if (st != TW_OK) return fail(c, st, "read: %s", tw_transport_last_error(c->t));
        c->in_len += n;
        if ((st = parse_input(c))) return st;
        if (c->state != TW_MQTT_CONNECTED && !c->connack_wait) return TW_OK;
    }
    return TW_OK;
}

/* ---- connection ---------------------------------------------------------------------------- */

static tw_status start_connect(tw_mqtt_client *c)
{
    tw_transport_close(c->t);
    reset_io(c);
    c->deadline = now_ms(c) + c->o.connect_timeout_ms;
    set_state(c, TW_MQTT_CONNECTING, TW_OK);
    return TW_OK;
}

static tw_status progress_connect(tw_mqtt_client *c)
{
    tw_status st = tw_transport_connect(c->t, c->host, c->o.port);
    if (st == TW_ERR_AGAIN) return TW_OK;
    if (st != TW_OK) return fail(c, st, "%s", tw_transport_last_error(c->t));
    return queue_connect(c);
}

static tw_status timers(tw_mqtt_client *c)
{
    int64_t now = now_ms(c);
    if (c->state == TW_MQTT_CONNECTING) {
        if (now >= c->deadline)
            return fail(c, TW_ERR_TIMEOUT, "%s within %u ms", c->connack_wait ? "no CONNACK" : "no connection",
                        (unsigned)c->o.connect_timeout_ms);
        return TW_OK;
    }
    if (c->state != TW_MQTT_CONNECTED) return TW_OK;
    if (c->ping_count && now - c->ping_time[c->ping_head] >= (int64_t)c->ping_timeout_ms)
        return fail(c, TW_ERR_MQTT_KEEPALIVE, "no PINGRESP within %u ms", (unsigned)c->ping_timeout_ms);
    if (c->keep_alive_s && !c->ping_count && now - c->last_tx >= (int64_t)c->keep_alive_s * 1000)
        (void)queue_ping(c, NULL);
    return TW_OK;
}

tw_status tw_mqtt_client_process(tw_mqtt_client *c)
{
    if (!c) return TW_ERR_INVALID_ARG;
    tw_status st = TW_OK;
    if (c->state == TW_MQTT_WAITING && now_ms(c) >= c->deadline) start_connect(c);
    if (c->state == TW_MQTT_CONNECTING && !c->connack_wait) {
        if ((st = progress_connect(c))) return st;
        if (!c->connack_wait) return timers(c);
    }
    if (c->state != TW_MQTT_CONNECTED && !(c->state == TW_MQTT_CONNECTING && c->connack_wait)) return TW_OK;
    if ((st = flush_out(c))) return st;
    if ((st = read_input(c))) return st;
    if ((st = timers(c))) return st;
    if (c->state == TW_MQTT_CONNECTED || c->connack_wait) st = flush_out(c);
    return st;
}

int tw_mqtt_client_fd(const tw_mqtt_client *c)
{
    if (!c || (c->state != TW_MQTT_CONNECTING && c->state != TW_MQTT_CONNECTED)) return -1;
    return tw_transport_fd(c->t);
}

unsigned tw_mqtt_client_events(const tw_mqtt_client *c)
{
    if (tw_mqtt_client_fd(c) < 0) return 0;
    unsigned ev = tw_transport_events(c->t);
    if (c->state == TW_MQTT_CONNECTING && !c->connack_wait) return ev;
    /* Input is read only while there is room for it and for the PUBACKs it may need. */
    if (c->in_len < c->in_cap && ring_free(c) >= 8) ev |= TW_POLL_IN;
    if (c->out_len) ev |= TW_POLL_OUT;
    return ev;
}

static int clamp_ms(int64_t v) { return v < 0 ? 0 : (v > 0x7fffffff ? 0x7fffffff : (int)v); }

int tw_mqtt_client_timeout_ms(const tw_mqtt_client *c)
{
    if (!c) return -1;
    int64_t now = now_ms(c);
    switch (c->state) {
    case TW_MQTT_CONNECTING:
    case TW_MQTT_WAITING:
        return clamp_ms(c->deadline - now);
    case TW_MQTT_CONNECTED: {
        int64_t t = -1;
        if (c->ping_count) t = c->ping_time[c->ping_head] + c->ping_timeout_ms - now;
        else if (c->keep_alive_s) t = c->last_tx + (int64_t)c->keep_alive_s * 1000 - now;
        else return -1;
        if (tw_transport_pending(c->t) > 0) t = 0;
        return clamp_ms(t);
    }
    default:
        return -1;
    }
}

tw_status tw_mqtt_client_step(tw_mqtt_client *c, int timeout_ms)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (c->state == TW_MQTT_DISCONNECTED) return TW_OK;
    int t = tw_mqtt_client_timeout_ms(c);
    if (timeout_ms >= 0 && (t < 0 || t > timeout_ms)) t = timeout_ms;
    int fd = tw_mqtt_client_fd(c);
    if (fd >= 0 && tw_transport_pending(c->t) > 0) t = 0;
    if (t != 0) {
        struct pollfd p = {fd, 0, 0};
        unsigned ev = tw_mqtt_client_events(c);
        p.events = (short)(((ev & TW_POLL_IN) ? POLLIN : 0) | ((ev & TW_POLL_OUT) ? POLLOUT : 0));
        int r;
        do {
            r = poll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, t);
        } while (r < 0 && errno == EINTR);
    }
    return tw_mqtt_client_process(c);
}

/* ---- public API ---------------------------------------------------------------------------- */

const char *tw_mqtt_state_name(tw_mqtt_state s)
{
    switch (s) {
    case TW_MQTT_DISCONNECTED: return "disconnected";
    case TW_MQTT_CONNECTING: return "connecting";
    case TW_MQTT_CONNECTED: return "connected";
    case TW_MQTT_WAITING: return "waiting";
    }
    return "unknown";
}

tw_status tw_mqtt_topic_check(const char *topic)
{
    return topic && tw__mqtt_topic_ok((const uint8_t *)topic, strlen(topic)) ? TW_OK : TW_ERR_INVALID_ARG;
}

tw_status tw_mqtt_filter_check(const char *filter)
{
    return filter && tw__mqtt_filter_ok((const uint8_t *)filter, strlen(filter)) ? TW_OK : TW_ERR_INVALID_ARG;
}

static void *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = tw__malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

static void client_release(tw_mqtt_client *c)
{
    tw__free(c->host);
    tw__free(c->client_id);
    tw__free(c->username);
    tw__free(c->will_topic);
    if (c->password) {
        tw__zeroize(c->password, c->o.password_len);
        if (c->out) tw__zeroize(c->out, c->out_cap); /* the ring may still hold the CONNECT packet */
    }
    tw__free(c->password);
    tw__free(c->will_payload);
    tw__free(c->in);
    tw__free(c->out);
    tw__free(c->inf);
    tw__free(c);
}

#define BADOPT(...)                                                                                \
    do {                                                                                           \
        tw__log(TW_LOG_ERROR, MOD, __VA_ARGS__);                                                   \
        return tw__err(NULL, MOD, TW_ERR_INVALID_ARG, __VA_ARGS__);                                \
    } while (0)

static tw_status check_options(tw_mqtt_options *o)
{
    if (!o->host || !*o->host) BADOPT("options: host is required");
    if (!o->port) BADOPT("options: port is required");
    size_t n = o->client_id ? strlen(o->client_id) : 0;
    if (n > 65535 || !tw__mqtt_utf8_ok((const uint8_t *)(o->client_id ? o->client_id : ""), n))
        BADOPT("options: client id is not valid UTF-8 of at most 65535 bytes");
    if (o->username && (strlen(o->username) > 65535 || !tw__mqtt_utf8_ok((const uint8_t *)o->username, strlen(o->username))))
        BADOPT("options: user name is not valid UTF-8 of at most 65535 bytes");
    if (o->password && !o->username && o->protocol_version != 5)
        BADOPT("options: a password requires a user name (MQTT 3.1.1)");
    if (o->password_len > 65535) BADOPT("options: password longer than 65535 bytes");
    if (o->will_topic) {
        if (!tw__mqtt_topic_ok((const uint8_t *)o->will_topic, strlen(o->will_topic)))
            BADOPT("options: will topic is empty, not UTF-8 or contains a wildcard");
        if (o->will_qos < 0 || o->will_qos > 1) BADOPT("options: will QoS must be 0 or 1");
        if (o->will_payload_len > 65535) BADOPT("options: will payload longer than 65535 bytes");
        if (o->will_payload_len && !o->will_payload) BADOPT("options: will payload is NULL");
    }
    if (!o->protocol_version) o->protocol_version = 4;
    if (o->protocol_version != 4 && o->protocol_version != 5) BADOPT("options: protocol_version must be 4 (MQTT 3.1.1) or 5");
    if (!o->max_packet_size) o->max_packet_size = 256u * 1024u;
    if (!o->out_buffer_size) o->out_buffer_size = 256u * 1024u;
    if (!o->max_inflight) o->max_inflight = 64;
    if (!o->connect_timeout_ms) o->connect_timeout_ms = 10000;
    if (!o->reconnect_min_ms) o->reconnect_min_ms = 500;
    if (!o->reconnect_max_ms) o->reconnect_max_ms = 30000;
    if (o->reconnect_max_ms < o->reconnect_min_ms) o->reconnect_max_ms = o->reconnect_min_ms;
    if (!o->keep_alive_s) o->keep_alive_s = 60; /* from here on 0 = off */
    else if (o->keep_alive_s == TW_MQTT_KEEPALIVE_OFF) o->keep_alive_s = 0;
    o->reconnect = o->reconnect >= 0; /* 0 = default (on); TW_MQTT_RECONNECT_OFF = off */
    if (!o->ping_timeout_ms) o->ping_timeout_ms = o->keep_alive_s ? o->keep_alive_s * 1000u : 30000u;
    if (o->max_packet_size < 64 || o->max_packet_size > TW__MQTT_MAX_REMAINING + 5u)
        BADOPT("options: max_packet_size must be 64 .. 268435460");
    if (o->out_buffer_size < 256) BADOPT("options: out_buffer_size must be at least 256");
    return TW_OK;
}

tw_status tw_mqtt_client_new(tw_mqtt_client **out, tw_transport *transport, const tw_mqtt_options *opts)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    if (!transport || !opts) return TW_ERR_INVALID_ARG;
    tw_mqtt_options o;
    if (TW__OPTS_COPY(o, opts, offsetof(tw_mqtt_options, allow_plaintext_credentials),
                      sizeof(tw_mqtt_options)))
        return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_mqtt_options version %u is not supported",
                       (unsigned)opts->version);
    if ((st = check_options(&o))) return st;
    if (o.password && !o.allow_plaintext_credentials && !tw_transport_is_secure(transport)) {
        static const char msg[] = "options: refusing to send a password over a transport that is not secure "
                                  "(use TLS, or set allow_plaintext_credentials for a test set-up)";
        tw__log(TW_LOG_ERROR, MOD, "%s", msg);
        return tw__err(NULL, MOD, TW_ERR_TLS_INSECURE, "%s", msg);
    }

    tw_mqtt_client *c = tw__calloc(1, sizeof *c);
    if (!c) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    c->o = o;
    c->host = tw__strdup(o.host);
    c->client_id = tw__strdup(o.client_id ? o.client_id : "");
    c->username = o.username ? tw__strdup(o.username) : NULL;
    c->password = o.password ? dup_bytes(o.password, o.password_len) : NULL;
    c->will_topic = o.will_topic ? tw__strdup(o.will_topic) : NULL;
    c->will_payload = o.will_topic ? dup_bytes(o.will_payload, o.will_payload_len) : NULL;
    c->in_cap = o.max_packet_size;
    c->in = tw__malloc(c->in_cap);
    c->out_cap = o.out_buffer_size;
    c->out = tw__malloc(c->out_cap);
    c->inf_cap = o.max_inflight;
    c->inf = tw__calloc(c->inf_cap, sizeof *c->inf);
    if (!c->host || !c->client_id || (o.username && !c->username) || (o.password && !c->password) ||
        (o.will_topic && (!c->will_topic || !c->will_payload)) || !c->in || !c->out || !c->inf) {
        client_release(c);
        return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory (max_packet_size %u, out_buffer_size %u)",
                       (unsigned)o.max_packet_size, (unsigned)o.out_buffer_size);
    }
    c->o.host = c->o.client_id = c->o.username = c->o.will_topic = NULL;
    c->o.password = c->o.will_payload = NULL;
    /* The CONNECT must fit the output ring. */
    size_t need = 16 + strlen(c->client_id) + (c->username ? 2 + strlen(c->username) : 0) +
                  (c->password ? 2 + o.password_len : 0) +
                  (c->will_topic ? 4 + strlen(c->will_topic) + o.will_payload_len : 0);
    if (need > c->out_cap) {
        client_release(c);
        BADOPT("options: out_buffer_size %u is too small for the CONNECT packet (%zu bytes)",
               (unsigned)o.out_buffer_size, need);
    }
    c->t = transport;
    c->version = (uint8_t)o.protocol_version;
    c->ping_user = opts->ping_timeout_ms != 0;
    reset_io(c);
    c->next_pid = 1;
    c->next_token = 1;
    c->state = TW_MQTT_DISCONNECTED;
    *out = c;
    return TW_OK;
}

void tw_mqtt_client_free(tw_mqtt_client *c)
{
    if (!c) return;
    tw_transport_free(c->t);
    client_release(c);
}

void tw_mqtt_client_set_message_cb(tw_mqtt_client *c, tw_mqtt_message_fn fn, void *ud)
{
    if (!c) return;
    c->msg_fn = fn;
    c->msg_ud = ud;
}

void tw_mqtt_client_set_ack_cb(tw_mqtt_client *c, tw_mqtt_ack_fn fn, void *ud)
{
    if (!c) return;
    c->ack_fn = fn;
    c->ack_ud = ud;
}

void tw_mqtt_client_set_state_cb(tw_mqtt_client *c, tw_mqtt_state_fn fn, void *ud)
{
    if (!c) return;
    c->state_fn = fn;
    c->state_ud = ud;
}

tw_status tw_mqtt_client_connect(tw_mqtt_client *c)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (c->state != TW_MQTT_DISCONNECTED && c->state != TW_MQTT_WAITING)
        return tw__err(&c->err, MOD, TW_ERR_BUSY, "connect: already %s", tw_mqtt_state_name(c->state));
    c->want = 1;
    c->attempt = 0;
    start_connect(c);
    tw_status st = progress_connect(c);
    if (st == TW_OK && c->connack_wait) st = flush_out(c);
    return st == TW_ERR_AGAIN ? TW_OK : (c->state == TW_MQTT_DISCONNECTED ? st : TW_OK);
}

tw_status tw_mqtt_client_connect_blocking(tw_mqtt_client *c, int timeout_ms)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (c->state == TW_MQTT_CONNECTED) return TW_OK;
    if (c->state == TW_MQTT_CONNECTING)
        return tw__err(&c->err, MOD, TW_ERR_BUSY, "connect: already connecting");
    int64_t limit = timeout_ms < 0 ? (int64_t)c->o.connect_timeout_ms : timeout_ms;
    int64_t end = now_ms(c) + limit;
    c->blocking = 1;
    tw_status st = tw_mqtt_client_connect(c);
    while (st == TW_OK && c->state == TW_MQTT_CONNECTING) {
        int64_t left = end - now_ms(c);
        if (left <= 0) {
            st = fail(c, TW_ERR_TIMEOUT, "not connected within %lld ms", (long long)limit);
            break;
        }
        st = tw_mqtt_client_step(c, (int)TW__MIN(left, 1000));
    }
    c->blocking = 0;
    if (st == TW_OK && c->state != TW_MQTT_CONNECTED) st = c->err.code ? c->err.code : TW_ERR_CLOSED;
    return st;
}

tw_status tw_mqtt_client_disconnect(tw_mqtt_client *c, int timeout_ms)
{
    if (!c) return TW_ERR_INVALID_ARG;
    tw_status result = TW_OK;
    c->want = 0;
    if (c->state == TW_MQTT_CONNECTED) {
        if (ring_free(c) >= 2) ring_put_header(c, TW__MQTT_DISCONNECT << 4, 0);
        int64_t end = now_ms(c) + (timeout_ms < 0 ? 0 : timeout_ms);
        while (c->out_len) {
            if (flush_out(c) != TW_OK) break; /* dropped */
            if (!c->out_len) break;
            int64_t left = end - now_ms(c);
            if (left <= 0) {
                result = tw__err(&c->err, MOD, TW_ERR_TIMEOUT, "disconnect: DISCONNECT not written within %d ms", timeout_ms);
                break;
            }
            tw_transport_wait(c->t, TW_POLL_OUT, (int)left);
        }
    }
    tw_transport_close(c->t);
    reset_io(c);
    tw_mqtt_state old = c->state;
    c->state = TW_MQTT_DISCONNECTED;
    fail_pending(c);
    c->state = old;
    set_state(c, TW_MQTT_DISCONNECTED, TW_OK);
    return result;
}

static tw_status check_queue(tw_mqtt_client *c, size_t size, int needs_id)
{
    if (c->state != TW_MQTT_CONNECTED)
        return tw__err(&c->err, MOD, TW_ERR_MQTT_NOT_CONNECTED, "not connected (%s)", tw_mqtt_state_name(c->state));
    if (!size || size > c->out_cap - RESERVE)
        return tw__err(&c->err, MOD, TW_ERR_MQTT_TOO_LARGE, "packet of %zu bytes does not fit the output buffer of %zu bytes",
                       size, c->out_cap);
    if (size > c->server_max_packet)
        return tw__err(&c->err, MOD, TW_ERR_MQTT_TOO_LARGE, "packet of %zu bytes exceeds the broker's maximum packet size %u",
                       size, (unsigned)c->server_max_packet);
    if (needs_id && c->inf_count >= c->window)
        return tw__err(&c->err, MOD, TW_ERR_MQTT_INFLIGHT_FULL, "%zu requests await an acknowledgement", c->inf_count);
    if (ring_free(c) < size + RESERVE) {
        tw_status st = flush_out(c);
        if (st) return st;
        if (ring_free(c) < size + RESERVE) return TW_ERR_FULL; /* transient: no message recorded */
    }
    return TW_OK;
}

static uint64_t add_inflight(tw_mqtt_client *c, uint8_t type, uint16_t pid)
{
    inflight *e = &c->inf[(c->inf_head + c->inf_count) % c->inf_cap];
    e->token = c->next_token++;
    e->packet_id = pid;
    e->type = type;
    e->acked = 0;
    c->inf_count++;
    c->inf_unacked++;
    return e->token;
}

tw_status tw_mqtt_client_publish(tw_mqtt_client *c, const char *topic, const void *payload, size_t len,
                                 int qos, int retain, uint64_t *token)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (!topic || (len && !payload) || qos < 0 || qos > 1)
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "publish: %s", !topic ? "topic is NULL" :
                       (qos < 0 || qos > 1) ? "QoS must be 0 or 1" : "payload is NULL");
    size_t tl = strlen(topic);
    if (!tw__mqtt_topic_ok((const uint8_t *)topic, tl))
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "publish: topic is empty, too long, not UTF-8 or has a wildcard");
    int v5 = c->version == 5;
    if (c->state == TW_MQTT_CONNECTED && (qos > c->server_max_qos || (retain && !c->server_retain)))
        return tw__err(&c->err, MOD, TW_ERR_UNSUPPORTED, "publish: the broker announced %s",
                       qos > c->server_max_qos ? "Maximum QoS 0" : "Retain Available 0");
    size_t size = tw__mqtt_publish_size_x(tl, len, qos, v5 ? 1 : 0);
    tw_status st = check_queue(c, size, qos);
    if (st) return st;
    uint16_t pid = qos ? pid_alloc(c) : 0;
    uint32_t rem = (uint32_t)(2 + tl + (qos ? 2 : 0) + (v5 ? 1 : 0) + len);
    ring_put_header(c, (uint8_t)((TW__MQTT_PUBLISH << 4) | (qos << 1) | (retain ? 1 : 0)), rem);
    ring_put_u16(c, (uint16_t)tl);
    ring_put(c, topic, tl);
    if (qos) ring_put_u16(c, pid);
    if (v5) ring_put(c, "", 1); /* property length 0 */
    ring_put(c, payload, len);
    uint64_t tok = qos ? add_inflight(c, TW_MQTT_ACK_PUBACK, pid) : c->next_token++;
    if (token) *token = tok;
    return TW_OK;
}

static tw_status sub_unsub(tw_mqtt_client *c, const char *filter, int qos, int sub, uint64_t *token)
{
    if (!c) return TW_ERR_INVALID_ARG;
    size_t fl = filter ? strlen(filter) : 0;
    if (!filter || !tw__mqtt_filter_ok((const uint8_t *)filter, fl))
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "%s: invalid topic filter", sub ? "subscribe" : "unsubscribe");
    if (sub && (qos < 0 || qos > 1))
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "subscribe: QoS must be 0 or 1");
    int v5 = c->version == 5;
    uint32_t rem = (uint32_t)(2 + (v5 ? 1 : 0) + 2 + fl + (sub ? 1 : 0));
    tw_status st = check_queue(c, 1 + tw__mqtt_varint_len(rem) + rem, 1);
    if (st) return st;
    uint16_t pid = pid_alloc(c);
    ring_put_header(c, (uint8_t)(((sub ? TW__MQTT_SUBSCRIBE : TW__MQTT_UNSUBSCRIBE) << 4) | 2), rem);
    ring_put_u16(c, pid);
    if (v5) ring_put(c, "", 1); /* property length 0 */
    ring_put_u16(c, (uint16_t)fl);
    ring_put(c, filter, fl);
    if (sub) {
        uint8_t q = (uint8_t)qos;
        ring_put(c, &q, 1);
    }
    uint64_t tok = add_inflight(c, sub ? TW_MQTT_ACK_SUBACK : TW_MQTT_ACK_UNSUBACK, pid);
    if (token) *token = tok;
    return TW_OK;
}

tw_status tw_mqtt_client_subscribe(tw_mqtt_client *c, const char *filter, int qos, uint64_t *token)
{
    return sub_unsub(c, filter, qos, 1, token);
}

tw_status tw_mqtt_client_unsubscribe(tw_mqtt_client *c, const char *filter, uint64_t *token)
{
    return sub_unsub(c, filter, 0, 0, token);
}

tw_status tw_mqtt_client_ping(tw_mqtt_client *c, uint64_t *token)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (c->state != TW_MQTT_CONNECTED)
        return tw__err(&c->err, MOD, TW_ERR_MQTT_NOT_CONNECTED, "ping: not connected (%s)", tw_mqtt_state_name(c->state));
    if (c->ping_count >= MAX_PINGS)
        return tw__err(&c->err, MOD, TW_ERR_FULL, "ping: %u PINGREQs already outstanding", MAX_PINGS);
    if (ring_free(c) < 2) {
        tw_status st = flush_out(c);
        if (st) return st;
    }
    return queue_ping(c, token);
}

tw_status tw_mqtt_client_flush(tw_mqtt_client *c, int timeout_ms)
{
    if (!c) return TW_ERR_INVALID_ARG;
    int64_t end = now_ms(c) + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        if (c->state != TW_MQTT_CONNECTED)
            return c->err.code ? c->err.code : TW_ERR_MQTT_NOT_CONNECTED;
        if (!c->out_len && !c->inf_unacked && !c->ping_count) return TW_OK;
        int64_t left = end - now_ms(c);
        if (left <= 0) return tw__err(&c->err, MOD, TW_ERR_TIMEOUT, "flush: requests still unacknowledged after %d ms", timeout_ms);
        tw_status st = tw_mqtt_client_step(c, (int)left);
        if (st) return st;
    }
}

uint64_t tw_mqtt_client_confirmed(const tw_mqtt_client *c) { return c ? c->confirmed : 0; }
uint64_t tw_mqtt_client_next_token(const tw_mqtt_client *c) { return c ? c->next_token : 0; }
size_t tw_mqtt_client_inflight(const tw_mqtt_client *c) { return c ? c->inf_unacked : 0; }
size_t tw_mqtt_client_pending_bytes(const tw_mqtt_client *c) { return c ? c->out_len : 0; }
tw_mqtt_state tw_mqtt_client_state(const tw_mqtt_client *c) { return c ? c->state : TW_MQTT_DISCONNECTED; }
tw_transport *tw_mqtt_client_transport(tw_mqtt_client *c) { return c ? c->t : NULL; }

const char *tw_mqtt_client_last_error(const tw_mqtt_client *c)
{
    if (!c || c->err.code == TW_OK) return "";
    return tw__err_msg(&c->err);
}

tw_status tw_mqtt_client_last_status(const tw_mqtt_client *c) { return c ? c->err.code : TW_ERR_INVALID_ARG; }

/* ---- test hooks ---------------------------------------------------------------------------- */

void tw__mqtt_client_set_rand(tw_mqtt_client *c, tw__rand_fn fn, void *ctx)
{
    c->rnd = fn;
    c->rnd_ctx = ctx;
}

void tw__mqtt_client_set_clock(tw_mqtt_client *c, tw__mqtt_clock_fn fn, void *ctx)
{
    c->clock = fn;
    c->clock_ctx = ctx;
}

uint32_t tw__mqtt_client_reconnect_delay(const tw_mqtt_client *c) { return c->delay; }
