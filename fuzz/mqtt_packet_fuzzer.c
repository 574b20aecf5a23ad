/*
 * Fuzz target: the MQTT packet decoder and a client session fed with arbitrary broker bytes.
 *
 * Input layout: byte 0 selects options (maximum packet size, whether a valid CONNACK is sent
 * first, chunk sizes, MQTT 3.1.1 or 5); the rest is the byte stream "from the broker".
 * 1. Decoder: every packet of the stream is decoded; a packet that decodes is re-encoded from its
 *    fields and decoded again, and the fields must match (abort otherwise).
 * 2. Session: a client over an in-memory transport with a fake clock receives the stream in
 *    chunks, publishing and subscribing in between. It must never crash, leak, or write a packet
 *    the decoder rejects.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mqtt/mqtt_codec.h"
#include "mqtt/mqtt_internal.h"
#include "tagwire/mqtt.h"
#include "tagwire/sys/transport.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) abort();                                                                         \
    } while (0)

static void quiet(tw_log_level l, const char *m, const char *msg, void *u)
{
    (void)l;
    (void)m;
    (void)msg;
    (void)u;
}

/* ---- 1. decoder and re-encoding ------------------------------------------------------------ */

static uint8_t g_buf[1 << 17];

static void same_packet(const tw__mqtt_packet *a, const tw__mqtt_packet *b)
{
    CHECK(a->type == b->type && a->flags == b->flags && a->packet_id == b->packet_id);
    switch (a->type) {
    case TW__MQTT_PUBLISH:
        CHECK(a->qos == b->qos && a->retain == b->retain && a->dup == b->dup);
        CHECK(a->topic_len == b->topic_len && !memcmp(a->topic, b->topic, a->topic_len));
        CHECK(a->payload_len == b->payload_len);
        CHECK(!a->payload_len || !memcmp(a->payload, b->payload, a->payload_len));
        break;
    case TW__MQTT_CONNACK:
        CHECK(a->session_present == b->session_present && a->return_code == b->return_code);
        break;
    case TW__MQTT_SUBACK:
        CHECK(a->list_len == b->list_len && !memcmp(a->list, b->list, a->list_len));
        break;
    case TW__MQTT_SUBSCRIBE:
    case TW__MQTT_UNSUBSCRIBE:
        CHECK(a->list_len == b->list_len && !memcmp(a->list, b->list, a->list_len));
        break;
    case TW__MQTT_CONNECT:
        CHECK(a->connect.keep_alive == b->connect.keep_alive);
        CHECK(a->connect.client_id_len == b->connect.client_id_len);
        CHECK(a->connect.has_will == b->connect.has_will && a->connect.has_password == b->connect.has_password);
        CHECK(a->connect.password_len == b->connect.password_len);
        break;
    default:
        break;
    }
}

static void reencode(const tw__mqtt_packet *p, uint8_t v)
{
    size_t len = 0;
    tw_status st = TW_ERR_UNSUPPORTED;
    if (v == 5) {
        /* level 5: PUBLISH without properties round-trips; the rest carries properties */
        if (p->type != TW__MQTT_PUBLISH || p->props.present || p->qos > 1) return;
        st = tw__mqtt_encode_publish5(g_buf, sizeof g_buf, p->topic, p->topic_len, p->payload,
                                      p->payload_len, p->qos, p->retain, p->dup, p->packet_id, &len);
        if (st == TW_ERR_RANGE) return;
        CHECK(st == TW_OK);
        tw__mqtt_packet q;
        CHECK(tw__mqtt_decode_v(5, g_buf, len, (uint32_t)len, &q, NULL, NULL, 0) == TW_OK);
        same_packet(p, &q);
        return;
    }
    switch (p->type) {
    case TW__MQTT_PUBLISH:
        if (p->qos > 1) return; /* the encoder only writes what this client sends */
        st = tw__mqtt_encode_publish(g_buf, sizeof g_buf, p->topic, p->topic_len, p->payload,
                                     p->payload_len, p->qos, p->retain, p->dup, p->packet_id, &len);
        break;
    case TW__MQTT_CONNACK:
        st = tw__mqtt_encode_connack(g_buf, sizeof g_buf, p->session_present, p->return_code, &len);
        break;
    case TW__MQTT_PUBACK:
    case TW__MQTT_PUBREC:
    case TW__MQTT_PUBREL:
    case TW__MQTT_PUBCOMP:
    case TW__MQTT_UNSUBACK:
        st = tw__mqtt_encode_ack(g_buf, sizeof g_buf, p->type, p->packet_id, &len);
        break;
    case TW__MQTT_SUBACK:
        st = tw__mqtt_encode_suback(g_buf, sizeof g_buf, p->packet_id, p->list, p->list_len, &len);
        break;
    case TW__MQTT_PINGREQ:
    case TW__MQTT_PINGRESP:
    case TW__MQTT_DISCONNECT:
        st = tw__mqtt_encode_empty(g_buf, sizeof g_buf, p->type, &len);
        break;
    case TW__MQTT_CONNECT:
        if (p->connect.will_qos > 1 || p->connect.level != 4) return;
        st = tw__mqtt_encode_connect(g_buf, sizeof g_buf, &p->connect, &len);
        break;
    default:
        return; /* SUBSCRIBE/UNSUBSCRIBE are encoded from C strings; list compared via decode only */
    }
    if (st == TW_ERR_RANGE) return; /* larger than the scratch buffer */
    CHECK(st == TW_OK);
    tw__mqtt_packet q;
    CHECK(tw__mqtt_decode(g_buf, len, (uint32_t)len, &q, NULL, NULL, 0) == TW_OK);
    CHECK(q.size == len);
    same_packet(p, &q);
}

static void fuzz_decoder(const uint8_t *data, size_t size, uint32_t max, uint8_t v)
{
    size_t pos = 0;
    char err[160];
    while (pos < size) {
        tw__mqtt_packet p;
        size_t need = 0;
        tw_status st = tw__mqtt_decode_v(v, data + pos, size - pos, max, &p, &need, err, sizeof err);
        if (st == TW_ERR_AGAIN) {
            CHECK(need == 0 || need > size - pos);
            break;
        }
        if (st != TW_OK) {
            CHECK(st == TW_ERR_MQTT_MALFORMED || st == TW_ERR_MQTT_TOO_LARGE);
            CHECK(err[0] != '\0');
            break;
        }
        CHECK(p.size > 0 && p.size <= size - pos && p.size <= max);
        if (p.type == TW__MQTT_SUBSCRIBE || p.type == TW__MQTT_UNSUBSCRIBE) {
            size_t it = 0, count = 0;
            const uint8_t *f;
            uint16_t fl;
            uint8_t q;
            while (tw__mqtt_next_filter(&p, &it, &f, &fl, &q)) {
                CHECK(tw__mqtt_filter_ok(f, fl));
                count++;
            }
            CHECK(count > 0 && it == p.list_len);
        }
        reencode(&p, v);
        pos += p.size;
    }
}

/* ---- 2. session over an in-memory transport ------------------------------------------------ */

typedef struct memt {
    const uint8_t *in;
    size_t in_len, in_pos, in_limit; /* bytes released to the client so far: in_limit */
    uint8_t out[1 << 16];
    size_t out_len;
    int connected;
} memt;

static tw_status mt_connect(void *ctx, const char *h, uint16_t p)
{
    (void)h;
    (void)p;
    ((memt *)ctx)->connected = 1;
    return TW_OK;
}

static tw_status mt_read(void *ctx, void *buf, size_t len, size_t *n)
{
    memt *m = ctx;
    *n = 0;
    if (!m->connected) return TW_ERR_CLOSED;
    if (m->in_pos >= m->in_limit) return m->in_pos >= m->in_len ? TW_ERR_CLOSED : TW_ERR_AGAIN;
    size_t k = m->in_limit - m->in_pos;
    if (k > len) k = len;
    memcpy(buf, m->in + m->in_pos, k);
    m->in_pos += k;
    *n = k;
    return TW_OK;
}

static tw_status mt_write(void *ctx, const void *buf, size_t len, size_t *n)
{
    memt *m = ctx;
    *n = 0;
    if (!m->connected) return TW_ERR_CLOSED;
    /* The first 64 KiB are captured and checked at the end; the rest is accepted and dropped. */
    size_t k = sizeof m->out - m->out_len;
    if (k > len) k = len;
    memcpy(m->out + m->out_len, buf, k);
    m->out_len += k;
    *n = len;
    return TW_OK;
}

static void mt_close(void *ctx) { ((memt *)ctx)->connected = 0; }

static const tw_transport_ops mt_ops = {TW_TRANSPORT_OPS_VERSION, mt_connect, mt_read, mt_write, NULL,
                                        NULL, NULL, mt_close, NULL, 0};

static int64_t g_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return g_now;
}
static uint32_t rnd_zero(void *ctx)
{
    (void)ctx;
    return 0;
}

static void on_msg(tw_mqtt_client *c, const tw_mqtt_message *m, void *ud)
{
    (void)ud;
    CHECK(strlen(m->topic) == m->topic_len);
    CHECK(tw__mqtt_topic_ok((const uint8_t *)m->topic, m->topic_len));
    /* callbacks may publish */
    tw_mqtt_client_publish(c, "echo", m->payload, m->payload_len > 64 ? 64 : m->payload_len, m->qos, 0, NULL);
}

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    (void)c;
    uint64_t *last = ud;
    CHECK(a->token > 0);
    *last = a->token;
}

static void fuzz_session(const uint8_t *data, size_t size, uint8_t sel)
{
    static memt m;
    memset(&m, 0, sizeof m);
    static uint8_t stream[1 << 16];
    size_t slen = 0;
    if (sel & 1) { /* a valid CONNACK first, so the connected paths are reached */
        stream[0] = 0x20;
        stream[1] = (sel & 0x40) ? 0x03 : 0x02; /* level 5: an empty property list */
        stream[2] = 0;
        stream[3] = 0;
        stream[4] = 0;
        slen = (sel & 0x40) ? 5 : 4;
    }
    if (size > sizeof stream - slen) size = sizeof stream - slen;
    memcpy(stream + slen, data, size);
    slen += size;
    m.in = stream;
    m.in_len = slen;

    tw_transport *t;
    if (tw_transport_new_custom(&t, &mt_ops, &m) != TW_OK) return;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "fuzz";
    o.port = 1883;
    o.client_id = "fz";
    o.keep_alive_s = 5;
    o.max_packet_size = (sel & 2) ? 128 : 4096;
    o.out_buffer_size = 512;
    o.max_inflight = 4;
    o.reconnect = (sel & 4) ? TW_MQTT_RECONNECT_ON : TW_MQTT_RECONNECT_OFF;
    o.protocol_version = (sel & 0x40) ? 5 : 4;
    tw_mqtt_client *c;
    if (tw_mqtt_client_new(&c, t, &o) != TW_OK) {
        tw_transport_free(t);
        return;
    }
    uint64_t last_ack = 0;
    g_now = 1000;
    tw__mqtt_client_set_clock(c, fake_clock, NULL);
    tw__mqtt_client_set_rand(c, rnd_zero, NULL);
    tw_mqtt_client_set_message_cb(c, on_msg, NULL);
    tw_mqtt_client_set_ack_cb(c, on_ack, &last_ack);
    tw_mqtt_client_connect(c);
    size_t chunk = 1 + (sel >> 4);
    for (int round = 0; round < 400 && m.in_pos < m.in_len; round++) {
        m.in_limit = m.in_pos + chunk < m.in_len ? m.in_pos + chunk : m.in_len;
        tw_mqtt_client_process(c);
        if (tw_mqtt_client_state(c) == TW_MQTT_CONNECTED) {
            tw_mqtt_client_publish(c, "t/x", data, size > 32 ? 32 : size, round & 1, 0, NULL);
            if (round % 7 == 0) tw_mqtt_client_subscribe(c, "t/#", 1, NULL);
            if (round % 11 == 0) tw_mqtt_client_ping(c, NULL);
        }
        g_now += (sel & 8) ? 3000 : 10;
    }
    CHECK(tw_mqtt_client_confirmed(c) < tw_mqtt_client_next_token(c));
    CHECK(last_ack < tw_mqtt_client_next_token(c));
    tw_mqtt_client_disconnect(c, 0);
    /* whatever the client wrote decodes as a sequence of valid packets */
    size_t pos = 0;
    while (pos < m.out_len) {
        tw__mqtt_packet p;
        tw_status st = tw__mqtt_decode_v((sel & 0x40) ? 5 : 4, m.out + pos, m.out_len - pos, 1u << 20, &p, NULL, NULL, 0);
        if (st == TW_ERR_AGAIN) break; /* cut by the capture window */
        CHECK(st == TW_OK);
        pos += p.size;
    }
    tw_mqtt_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        tw_init_params ip = TW_INIT_PARAMS_INIT;
        ip.log_fn = quiet;
        ip.log_level = TW_LOG_ERROR;
        if (tw_init(&ip) != TW_OK) abort();
        inited = 1;
    }
    if (size < 1) return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    static const uint32_t maxes[4] = {16, 300, 70000, 268435460u};
    fuzz_decoder(data, size, maxes[sel & 3], (sel & 0x40) ? 5 : 4);
    fuzz_session(data, size, sel);
    return 0;
}
