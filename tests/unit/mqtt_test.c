/* Unit tests of the mqtt module: codec round trips and strict rejection, back-off, and the client
 * session over an in-memory transport (a scripted broker built on the codec). */
#include <stdio.h>
#include <string.h>

#include "twtest.h"
#include "internal.h"
#include "mqtt/mqtt_codec.h"
#include "mqtt/mqtt_internal.h"
#include "tagwire/mqtt.h"
#include "tagwire/sys/transport.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static tw__mqtt_packet decode_ok(const uint8_t *buf, size_t len)
{
    tw__mqtt_packet p;
    char err[160];
    size_t need = 0;
    tw_status st = tw__mqtt_decode(buf, len, 1u << 20, &p, &need, err, sizeof err);
    if (st != TW_OK) print_message("decode failed: %s (%s)\n", tw_status_name(st), err);
    assert_int_equal(st, TW_OK);
    assert_int_equal(p.size, len);
    return p;
}

static tw_status decode_err(const uint8_t *buf, size_t len, uint32_t max, char *err, size_t errlen)
{
    tw__mqtt_packet p;
    return tw__mqtt_decode(buf, len, max, &p, NULL, err, errlen);
}

#define EXPECT_MALFORMED(...)                                                                      \
    do {                                                                                           \
        const uint8_t b_[] = {__VA_ARGS__};                                                        \
        char e_[160] = "";                                                                         \
        tw_status s_ = decode_err(b_, sizeof b_, 1u << 20, e_, sizeof e_);                          \
        if (s_ != TW_ERR_MQTT_MALFORMED) print_message("line %d: got %s\n", __LINE__, tw_status_name(s_)); \
        assert_int_equal(s_, TW_ERR_MQTT_MALFORMED);                                               \
        assert_true(strlen(e_) > 5); /* a reason is given */                                       \
    } while (0)

static int setup_init(void **state)
{
    (void)state;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}

static int teardown_init(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

/* ---- codec: round trips -------------------------------------------------------------------- */

static void test_connect_roundtrip(void **state)
{
    (void)state;
    tw__mqtt_connect c;
    memset(&c, 0, sizeof c);
    c.level = 4;
    c.clean_session = 1;
    c.keep_alive = 30;
    c.client_id = (const uint8_t *)"press-7";
    c.client_id_len = 7;
    c.has_will = 1;
    c.will_topic = (const uint8_t *)"spBv1.0/G/NDEATH/E";
    c.will_topic_len = 18;
    c.will_payload = (const uint8_t *)"\x00\x01\xff";
    c.will_payload_len = 3;
    c.will_qos = 1;
    c.will_retain = 1;
    c.has_username = 1;
    c.username = (const uint8_t *)"dev\xc3\xa9";
    c.username_len = 5;
    c.has_password = 1;
    c.password = (const uint8_t *)"s\0cret";
    c.password_len = 6;
    uint8_t buf[256];
    size_t len;
    assert_int_equal(tw__mqtt_encode_connect(buf, 10, &c, &len), TW_ERR_RANGE);
    assert_int_equal(tw__mqtt_encode_connect(buf, sizeof buf, &c, &len), TW_OK);
    assert_int_equal(buf[0], 0x10);
    tw__mqtt_packet p = decode_ok(buf, len);
    assert_int_equal(p.type, TW__MQTT_CONNECT);
    assert_int_equal(p.connect.level, 4);
    assert_int_equal(p.connect.keep_alive, 30);
    assert_true(p.connect.clean_session);
    assert_int_equal(p.connect.client_id_len, 7);
    assert_memory_equal(p.connect.client_id, "press-7", 7);
    assert_true(p.connect.has_will);
    assert_int_equal(p.connect.will_qos, 1);
    assert_true(p.connect.will_retain);
    assert_memory_equal(p.connect.will_topic, "spBv1.0/G/NDEATH/E", 18);
    assert_int_equal(p.connect.will_payload_len, 3);
    assert_memory_equal(p.connect.will_payload, "\x00\x01\xff", 3);
    assert_int_equal(p.connect.username_len, 5);
    assert_int_equal(p.connect.password_len, 6);
    assert_memory_equal(p.connect.password, "s\0cret", 6);
    /* password without user name is refused by the encoder */
    c.has_username = 0;
    assert_int_equal(tw__mqtt_encode_connect(buf, sizeof buf, &c, &len), TW_ERR_INVALID_ARG);
}

static void test_publish_roundtrip_lengths(void **state)
{
    (void)state;
    static uint8_t payload[70000], buf[70100];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7 + 3);
    /* payload sizes around the 1/2/3-byte remaining length boundaries (topic "a/b" + 2 + 2) */
    const size_t sizes[] = {0, 1, 121, 122, 123, 16376, 16377, 16378, 69999};
    for (size_t k = 0; k < TW__ARRAY_LEN(sizes); k++) {
        for (int qos = 0; qos <= 1; qos++) {
            size_t len;
            assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"a/b", 3, payload,
                                                     sizes[k], qos, qos, 0, qos ? 65535 : 0, &len), TW_OK);
            assert_int_equal(len, tw__mqtt_publish_size(3, sizes[k], qos));
            tw__mqtt_packet p = decode_ok(buf, len);
            assert_int_equal(p.type, TW__MQTT_PUBLISH);
            assert_int_equal(p.qos, qos);
            assert_int_equal(p.retain, qos);
            assert_int_equal(p.packet_id, qos ? 65535 : 0);
            assert_int_equal(p.topic_len, 3);
            assert_memory_equal(p.topic, "a/b", 3);
            assert_int_equal(p.payload_len, sizes[k]);
            if (sizes[k]) assert_memory_equal(p.payload, payload, sizes[k]);
            /* every proper prefix is incomplete, never an error */
            for (size_t cut = 0; cut < len; cut += (len > 300 ? 97 : 1)) {
                tw__mqtt_packet q;
                assert_int_equal(tw__mqtt_decode(buf, cut, 1u << 20, &q, NULL, NULL, 0), TW_ERR_AGAIN);
            }
        }
    }
    /* remaining length 127 -> 1 byte, 128 -> 2 bytes */
    size_t len;
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"t", 1, payload, 124, 0, 0, 0, 0, &len), TW_OK);
    assert_int_equal(buf[1], 127);
    assert_int_equal(len, 129);
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"t", 1, payload, 125, 0, 0, 0, 0, &len), TW_OK);
    assert_int_equal(buf[1], 0x80);
    assert_int_equal(buf[2], 0x01);
    /* DUP on QoS 1 survives, encoder refuses invalid input */
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"t", 1, "x", 1, 1, 0, 1, 9, &len), TW_OK);
    assert_true(decode_ok(buf, len).dup);
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"t", 1, "x", 1, 1, 0, 0, 0, &len), TW_ERR_INVALID_ARG);
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"a/#", 3, "x", 1, 0, 0, 0, 0, &len), TW_ERR_INVALID_ARG);
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"t", 1, "x", 1, 2, 0, 0, 5, &len), TW_ERR_INVALID_ARG);
}

static void test_small_packets_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len;
    /* CONNACK */
    assert_int_equal(tw__mqtt_encode_connack(buf, sizeof buf, 1, 0, &len), TW_OK);
    tw__mqtt_packet p = decode_ok(buf, len);
    assert_int_equal(p.type, TW__MQTT_CONNACK);
    assert_int_equal(p.session_present, 1);
    assert_int_equal(p.return_code, 0);
    assert_int_equal(tw__mqtt_encode_connack(buf, sizeof buf, 0, 5, &len), TW_OK);
    assert_int_equal(decode_ok(buf, len).return_code, 5);
    /* acks */
    const uint8_t types[] = {TW__MQTT_PUBACK, TW__MQTT_PUBREC, TW__MQTT_PUBREL, TW__MQTT_PUBCOMP, TW__MQTT_UNSUBACK};
    for (size_t i = 0; i < sizeof types; i++) {
        assert_int_equal(tw__mqtt_encode_ack(buf, sizeof buf, types[i], 0x1234, &len), TW_OK);
        assert_int_equal(len, 4);
        p = decode_ok(buf, len);
        assert_int_equal(p.type, types[i]);
        assert_int_equal(p.packet_id, 0x1234);
        assert_int_equal(tw__mqtt_encode_ack(buf, sizeof buf, types[i], 0, &len), TW_ERR_INVALID_ARG);
    }
    /* SUBSCRIBE with two filters */
    const char *filters[] = {"spBv1.0/G/NCMD/E", "spBv1.0/STATE/+"};
    const uint8_t qos[] = {1, 0};
    assert_int_equal(tw__mqtt_encode_subscribe(buf, sizeof buf, 7, filters, qos, 2, &len), TW_OK);
    assert_int_equal(buf[0], 0x82);
    p = decode_ok(buf, len);
    assert_int_equal(p.type, TW__MQTT_SUBSCRIBE);
    assert_int_equal(p.packet_id, 7);
    size_t pos = 0;
    const uint8_t *f;
    uint16_t fl;
    uint8_t q;
    for (int i = 0; i < 2; i++) {
        assert_true(tw__mqtt_next_filter(&p, &pos, &f, &fl, &q));
        assert_int_equal(fl, strlen(filters[i]));
        assert_memory_equal(f, filters[i], fl);
        assert_int_equal(q, qos[i]);
    }
    assert_false(tw__mqtt_next_filter(&p, &pos, &f, &fl, &q));
    const char *bad[] = {"a/#/b"};
    assert_int_equal(tw__mqtt_encode_subscribe(buf, sizeof buf, 7, bad, qos, 1, &len), TW_ERR_INVALID_ARG);
    assert_int_equal(tw__mqtt_encode_subscribe(buf, sizeof buf, 0, filters, qos, 1, &len), TW_ERR_INVALID_ARG);
    /* UNSUBSCRIBE */
    assert_int_equal(tw__mqtt_encode_unsubscribe(buf, sizeof buf, 8, filters, 2, &len), TW_OK);
    p = decode_ok(buf, len);
    assert_int_equal(p.type, TW__MQTT_UNSUBSCRIBE);
    pos = 0;
    assert_true(tw__mqtt_next_filter(&p, &pos, &f, &fl, NULL));
    assert_memory_equal(f, filters[0], fl);
    assert_true(tw__mqtt_next_filter(&p, &pos, &f, &fl, NULL));
    assert_memory_equal(f, filters[1], fl);
    assert_false(tw__mqtt_next_filter(&p, &pos, &f, &fl, NULL));
    /* SUBACK */
    const uint8_t codes[] = {0, 1, 2, 0x80};
    assert_int_equal(tw__mqtt_encode_suback(buf, sizeof buf, 9, codes, 4, &len), TW_OK);
    p = decode_ok(buf, len);
    assert_int_equal(p.type, TW__MQTT_SUBACK);
    assert_int_equal(p.list_len, 4);
    assert_memory_equal(p.list, codes, 4);
    /* empty packets */
    const uint8_t empty[] = {TW__MQTT_PINGREQ, TW__MQTT_PINGRESP, TW__MQTT_DISCONNECT};
    for (size_t i = 0; i < sizeof empty; i++) {
        assert_int_equal(tw__mqtt_encode_empty(buf, sizeof buf, empty[i], &len), TW_OK);
        assert_int_equal(len, 2);
        assert_int_equal(decode_ok(buf, len).type, empty[i]);
    }
}

/* ---- codec: strict rejection --------------------------------------------------------------- */

static void test_reject_remaining_length(void **state)
{
    (void)state;
    char err[160];
    /* five length bytes */
    const uint8_t five[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 1, 'a'};
    assert_int_equal(decode_err(five, sizeof five, 1u << 30, err, sizeof err), TW_ERR_MQTT_MALFORMED);
    assert_non_null(strstr(err, "4 bytes"));
    /* the largest 4-byte value is fine up to the size check */
    const uint8_t big[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(decode_err(big, sizeof big, 1u << 20, err, sizeof err), TW_ERR_MQTT_TOO_LARGE);
    assert_non_null(strstr(err, "maximum packet size"));
    /* over a configured maximum of 100 bytes: known as soon as the header is read */
    const uint8_t over[] = {0x30, 100, 0, 1};
    assert_int_equal(decode_err(over, sizeof over, 100, err, sizeof err), TW_ERR_MQTT_TOO_LARGE);
    const uint8_t exact[] = {0x30, 98, 0, 1};
    assert_int_equal(decode_err(exact, sizeof exact, 100, err, sizeof err), TW_ERR_AGAIN);
    /* incomplete length bytes wait for more */
    const uint8_t partial[] = {0x30, 0x80, 0x80};
    assert_int_equal(decode_err(partial, sizeof partial, 1u << 20, err, sizeof err), TW_ERR_AGAIN);
    size_t need = 0;
    tw__mqtt_packet p;
    const uint8_t hdr_only[] = {0x30, 0x80, 0x01};
    assert_int_equal(tw__mqtt_decode(hdr_only, sizeof hdr_only, 1u << 20, &p, &need, NULL, 0), TW_ERR_AGAIN);
    assert_int_equal(need, 3 + 128);
}

static void test_reject_flags_and_ids(void **state)
{
    (void)state;
    EXPECT_MALFORMED(0x00, 0x00);                         /* reserved type 0 */
    EXPECT_MALFORMED(0xF0, 0x00);                         /* reserved type 15 */
    EXPECT_MALFORMED(0x41, 0x02, 0x00, 0x01);             /* PUBACK with flags */
    EXPECT_MALFORMED(0x80, 0x06, 0, 1, 0, 1, 'a', 0);     /* SUBSCRIBE flags 0 */
    EXPECT_MALFORMED(0xA0, 0x05, 0, 1, 0, 1, 'a');        /* UNSUBSCRIBE flags 0 */
    EXPECT_MALFORMED(0x60, 0x02, 0, 1);                   /* PUBREL flags 0 */
    EXPECT_MALFORMED(0xC1, 0x00);                         /* PINGREQ flags */
    EXPECT_MALFORMED(0x36, 0x05, 0, 1, 'a', 0, 1);        /* PUBLISH QoS 3 */
    EXPECT_MALFORMED(0x38, 0x03, 0, 1, 'a');              /* PUBLISH DUP with QoS 0 */
    EXPECT_MALFORMED(0x32, 0x05, 0, 1, 'a', 0, 0);        /* PUBLISH QoS 1, packet id 0 */
    EXPECT_MALFORMED(0x40, 0x02, 0, 0);                   /* PUBACK id 0 */
    EXPECT_MALFORMED(0xB0, 0x02, 0, 0);                   /* UNSUBACK id 0 */
    EXPECT_MALFORMED(0x90, 0x03, 0, 0, 0);                /* SUBACK id 0 */
    EXPECT_MALFORMED(0x82, 0x06, 0, 0, 0, 1, 'a', 0);     /* SUBSCRIBE id 0 */
    EXPECT_MALFORMED(0x82, 0x06, 0, 1, 0, 1, 'a', 4);     /* SUBSCRIBE reserved QoS bits */
    EXPECT_MALFORMED(0x82, 0x06, 0, 1, 0, 1, 'a', 3);     /* SUBSCRIBE QoS 3 */
    EXPECT_MALFORMED(0x82, 0x02, 0, 1);                   /* SUBSCRIBE without filter */
    EXPECT_MALFORMED(0x82, 0x08, 0, 1, 0, 3, 'a', '#', 'b', 0); /* '#' not last */
    EXPECT_MALFORMED(0x82, 0x07, 0, 1, 0, 2, 'a', '+', 0); /* '+' not a whole level */
    EXPECT_MALFORMED(0x90, 0x03, 0, 1, 3);                /* SUBACK reserved code */
    EXPECT_MALFORMED(0x90, 0x02, 0, 1);                   /* SUBACK without code */
    EXPECT_MALFORMED(0x20, 0x02, 0x02, 0x00);             /* CONNACK reserved flag */
    EXPECT_MALFORMED(0x20, 0x02, 0x01, 0x05);             /* CONNACK session present on refusal */
    EXPECT_MALFORMED(0x20, 0x02, 0x00, 0x06);             /* CONNACK reserved return code */
    EXPECT_MALFORMED(0x20, 0x03, 0x00, 0x00, 0x00);       /* CONNACK wrong length */
    EXPECT_MALFORMED(0x40, 0x03, 0x00, 0x01, 0x00);       /* PUBACK wrong length */
    EXPECT_MALFORMED(0xD0, 0x01, 0x00);                   /* PINGRESP with a body */
    EXPECT_MALFORMED(0xE0, 0x01, 0x00);                   /* DISCONNECT with a body */
}

static void test_reject_truncated_and_topics(void **state)
{
    (void)state;
    EXPECT_MALFORMED(0x30, 0x01, 0x00);                   /* topic length cut */
    EXPECT_MALFORMED(0x30, 0x03, 0x00, 0x05, 'a');        /* topic longer than the packet */
    EXPECT_MALFORMED(0x32, 0x04, 0x00, 0x01, 'a', 0x00);  /* packet id cut */
    EXPECT_MALFORMED(0x30, 0x02, 0x00, 0x00);             /* empty topic */
    EXPECT_MALFORMED(0x30, 0x05, 0x00, 0x03, 'a', '/', '#'); /* wildcard '#' in PUBLISH */
    EXPECT_MALFORMED(0x30, 0x03, 0x00, 0x01, '+');        /* wildcard '+' in PUBLISH */
    EXPECT_MALFORMED(0x30, 0x04, 0x00, 0x02, 0xC0, 0x80); /* overlong encoding */
    EXPECT_MALFORMED(0x30, 0x05, 0x00, 0x03, 0xED, 0xA0, 0x80); /* surrogate U+D800 */
    EXPECT_MALFORMED(0x30, 0x04, 0x00, 0x02, 'a', 0x00);  /* U+0000 */
    EXPECT_MALFORMED(0x30, 0x03, 0x00, 0x01, 0xFF);       /* invalid byte */
    EXPECT_MALFORMED(0x30, 0x04, 0x00, 0x02, 'a', 0xC3);  /* cut sequence */
    EXPECT_MALFORMED(0x30, 0x06, 0x00, 0x04, 0xF4, 0x90, 0x80, 0x80); /* above U+10FFFF */
    /* CONNECT: wrong protocol name, level, reserved flag, password without user */
    EXPECT_MALFORMED(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'X', 4, 2, 0, 60, 0, 0);
    EXPECT_MALFORMED(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 3, 2, 0, 60, 0, 0);
    EXPECT_MALFORMED(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 4, 3, 0, 60, 0, 0);
    EXPECT_MALFORMED(0x10, 0x0E, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 60, 0, 0, 0, 0);
    EXPECT_MALFORMED(0x10, 0x0C, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x22, 0, 60, 0, 0); /* will retain w/o will */
    EXPECT_MALFORMED(0x10, 0x0D, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0, 9); /* trailing byte */
    EXPECT_MALFORMED(0x10, 0x0A, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60);          /* no client id */
    /* valid UTF-8 is accepted: 2, 3, 4 byte sequences */
    const uint8_t ok[] = {0x30, 0x0B, 0x00, 0x09, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80};
    tw__mqtt_packet p = decode_ok(ok, sizeof ok);
    assert_int_equal(p.topic_len, 9);
    assert_int_equal(tw_mqtt_topic_check("plant/\xc3\xa9/x"), TW_OK);
    assert_int_equal(tw_mqtt_topic_check(""), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_topic_check("a/+"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_filter_check("#"), TW_OK);
    assert_int_equal(tw_mqtt_filter_check("+/a/+/#"), TW_OK);
    assert_int_equal(tw_mqtt_filter_check("/"), TW_OK);
    assert_int_equal(tw_mqtt_filter_check("a#"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_filter_check("a/b+"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_filter_check("#/"), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_filter_check(NULL), TW_ERR_INVALID_ARG);
}

/* ---- back-off ------------------------------------------------------------------------------ */

static uint32_t rnd_const(void *ctx) { return *(uint32_t *)ctx; }
static uint32_t rnd_lcg(void *ctx)
{
    uint64_t *s = ctx;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 32);
}

static void test_backoff(void **state)
{
    (void)state;
    uint32_t zero = 0, max = UINT32_MAX;
    for (uint32_t a = 0; a < 40; a++) {
        uint64_t ceiling = (uint64_t)500 << (a < 20 ? a : 20);
        if (ceiling > 30000) ceiling = 30000;
        assert_int_equal(tw__backoff_ms(a, 500, 30000, rnd_const, &zero), 0);
        assert_int_equal(tw__backoff_ms(a, 500, 30000, rnd_const, &max), ceiling);
    }
    /* uniform over [0, ceiling]: all draws in range, mean near ceiling/2, both halves hit */
    uint64_t seed = 42;
    for (uint32_t a = 0; a < 8; a++) {
        uint32_t ceiling = TW__MIN(30000u, 100u << a);
        uint64_t sum = 0;
        unsigned low = 0, high = 0;
        for (int i = 0; i < 20000; i++) {
            uint32_t d = tw__backoff_ms(a, 100, 30000, rnd_lcg, &seed);
            assert_true(d <= ceiling);
            sum += d;
            if (d < ceiling / 4) low++;
            if (d > ceiling - ceiling / 4) high++;
        }
        double mean = (double)sum / 20000.0;
        assert_true(mean > ceiling * 0.46 && mean < ceiling * 0.54);
        assert_true(low > 4000 && high > 4000);
    }
    /* the internal source works without a callback and stays in range */
    for (int i = 0; i < 1000; i++) assert_true(tw__backoff_ms(3, 10, 1000, NULL, NULL) <= 80);
}

/* ---- in-memory transport and scripted broker ----------------------------------------------- */

typedef struct memt {
    uint8_t c2s[1 << 20]; /* bytes the client wrote */
    size_t c2s_len;
    uint8_t s2c[1 << 16]; /* bytes queued for the client */
    size_t s2c_len, s2c_pos;
    int connected, peer_closed, connects;
    tw_status connect_result;
    size_t write_budget; /* bytes accepted before writes block; SIZE_MAX = unlimited */
} memt;

static tw_status mt_connect(void *ctx, const char *host, uint16_t port)
{
    memt *m = ctx;
    (void)host;
    (void)port;
    m->connects++;
    if (m->connect_result == TW_OK) {
        m->connected = 1;
        m->peer_closed = 0;
    }
    return m->connect_result;
}

static tw_status mt_read(void *ctx, void *buf, size_t len, size_t *n)
{
    memt *m = ctx;
    *n = 0;
    if (!m->connected) return TW_ERR_CLOSED;
    if (m->s2c_pos == m->s2c_len) return m->peer_closed ? TW_ERR_CLOSED : TW_ERR_AGAIN;
    size_t k = TW__MIN(len, m->s2c_len - m->s2c_pos);
    memcpy(buf, m->s2c + m->s2c_pos, k);
    m->s2c_pos += k;
    *n = k;
    return TW_OK;
}

static tw_status mt_write(void *ctx, const void *buf, size_t len, size_t *n)
{
    memt *m = ctx;
    *n = 0;
    if (!m->connected || m->peer_closed) return TW_ERR_CLOSED;
    size_t k = TW__MIN(len, m->write_budget);
    k = TW__MIN(k, sizeof m->c2s - m->c2s_len);
    if (!k) return TW_ERR_AGAIN;
    memcpy(m->c2s + m->c2s_len, buf, k);
    m->c2s_len += k;
    if (m->write_budget != SIZE_MAX) m->write_budget -= k;
    *n = k;
    return TW_OK;
}

static void mt_close(void *ctx)
{
    memt *m = ctx;
    m->connected = 0;
    m->s2c_len = m->s2c_pos = 0;
}

static const tw_transport_ops mt_ops = {TW_TRANSPORT_OPS_VERSION, mt_connect, mt_read, mt_write, NULL,
                                        NULL, NULL, mt_close, NULL, 0};
/* the same memory transport declaring itself secure (as TLS does) */
static const tw_transport_ops mt_ops_secure = {TW_TRANSPORT_OPS_VERSION, mt_connect, mt_read, mt_write, NULL,
                                               NULL, NULL, mt_close, NULL, 1};

static void mt_send(memt *m, const void *data, size_t len)
{
    assert_true(m->s2c_len + len <= sizeof m->s2c);
    memcpy(m->s2c + m->s2c_len, data, len);
    m->s2c_len += len;
}

/* Takes the next packet the client wrote (asserts there is one). */
static size_t mt_taken;
static tw__mqtt_packet mt_take(memt *m)
{
    tw__mqtt_packet p;
    char err[160];
    tw_status st = tw__mqtt_decode(m->c2s + mt_taken, m->c2s_len - mt_taken, 1u << 20, &p, NULL, err, sizeof err);
    if (st) print_message("client packet: %s %s\n", tw_status_name(st), err);
    assert_int_equal(st, TW_OK);
    mt_taken += p.size;
    return p;
}
static int mt_has_packet(memt *m) { return mt_taken < m->c2s_len; }

static int64_t g_now = 1000000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return g_now;
}

typedef struct events {
    tw_mqtt_ack acks[256];
    int nacks;
    long acks_total;
    tw_mqtt_state states[32];
    tw_status reasons[32];
    int nstates;
    char topics[8][64];
    uint8_t payloads[8][64];
    size_t payload_len[8];
    int qos[8], retain[8];
    int nmsgs;
} events;

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    (void)c;
    events *e = ud;
    e->acks_total++;
    if (e->nacks < 256) e->acks[e->nacks++] = *a;
}
static void on_state(tw_mqtt_client *c, tw_mqtt_state s, tw_status r, void *ud)
{
    (void)c;
    events *e = ud;
    if (e->nstates < 32) {
        e->states[e->nstates] = s;
        e->reasons[e->nstates++] = r;
    }
}
static void on_msg(tw_mqtt_client *c, const tw_mqtt_message *m, void *ud)
{
    (void)c;
    events *e = ud;
    if (e->nmsgs >= 8) return;
    assert_int_equal(strlen(m->topic), m->topic_len);
    snprintf(e->topics[e->nmsgs], 64, "%s", m->topic);
    memcpy(e->payloads[e->nmsgs], m->payload, TW__MIN(m->payload_len, 64));
    e->payload_len[e->nmsgs] = m->payload_len;
    e->qos[e->nmsgs] = m->qos;
    e->retain[e->nmsgs] = m->retain;
    e->nmsgs++;
}

typedef struct fixture {
    memt *m;
    tw_mqtt_client *c;
    events ev;
} fixture;

static fixture *fx_new(tw_mqtt_options *o)
{
    fixture *f = calloc(1, sizeof *f);
    f->m = calloc(1, sizeof *f->m);
    f->m->write_budget = SIZE_MAX;
    mt_taken = 0;
    tw_transport *t;
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, f->m), TW_OK);
    tw_mqtt_options def = TW_MQTT_OPTIONS_INIT;
    if (!o) {
        def.host = "broker.test";
        def.port = 1883;
        def.client_id = "unit";
        o = &def;
    }
    assert_int_equal(tw_mqtt_client_new(&f->c, t, o), TW_OK);
    tw__mqtt_client_set_clock(f->c, fake_clock, NULL);
    tw_mqtt_client_set_ack_cb(f->c, on_ack, &f->ev);
    tw_mqtt_client_set_state_cb(f->c, on_state, &f->ev);
    tw_mqtt_client_set_message_cb(f->c, on_msg, &f->ev);
    return f;
}

static void fx_free(fixture *f)
{
    tw_mqtt_client_free(f->c);
    free(f->m);
    free(f);
}

static void send_connack(memt *m, uint8_t rc)
{
    uint8_t b[4];
    size_t len;
    assert_int_equal(tw__mqtt_encode_connack(b, sizeof b, 0, rc, &len), TW_OK);
    mt_send(m, b, len);
}

static void send_ack(memt *m, uint8_t type, uint16_t id)
{
    uint8_t b[4];
    size_t len;
    assert_int_equal(tw__mqtt_encode_ack(b, sizeof b, type, id, &len), TW_OK);
    mt_send(m, b, len);
}

/* Connects the fixture's client: CONNECT is checked, CONNACK 0 answered. */
static void fx_connect(fixture *f)
{
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    tw__mqtt_packet p = mt_take(f->m);
    assert_int_equal(p.type, TW__MQTT_CONNECT);
    send_connack(f->m, 0);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_CONNECTED);
}

/* ---- session tests ------------------------------------------------------------------------- */

/* 0 means the default (tagwire/common.h): only the version set = TW_MQTT_OPTIONS_INIT. */
static void test_zero_options_are_defaults(void **state)
{
    (void)state;
    static const uint16_t ka[] = {0, TW_MQTT_KEEPALIVE_OFF, 7};
    static const uint16_t want[] = {60, 0, 7};
    for (int i = 0; i < 3; i++) {
        tw_mqtt_options o = {.version = TW_MQTT_OPTIONS_VERSION};
        o.host = "broker.test";
        o.port = 1883;
        o.keep_alive_s = ka[i];
        fixture *f = fx_new(&o);
        assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
        tw__mqtt_packet p = mt_take(f->m);
        assert_int_equal(p.type, TW__MQTT_CONNECT);
        assert_int_equal(p.connect.level, 4);
        assert_int_equal(p.connect.keep_alive, want[i]);
        fx_free(f);
    }
}

static void test_session_connect_packet(void **state)
{
    (void)state;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "broker.test";
    o.port = 1883;
    o.client_id = "edge-1";
    o.username = "user";
    o.password = "pw";
    o.password_len = 2;
    o.allow_plaintext_credentials = 1; /* the memory transport is not secure */
    o.keep_alive_s = 20;
    o.will_topic = "spBv1.0/G/NDEATH/edge-1";
    o.will_payload = "bye";
    o.will_payload_len = 3;
    o.will_qos = 1;
    o.will_retain = 0;
    fixture *f = fx_new(&o);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_DISCONNECTED);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", "x", 1, 0, 0, NULL), TW_ERR_MQTT_NOT_CONNECTED);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_ERR_BUSY);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_CONNECTING);
    tw__mqtt_packet p = mt_take(f->m);
    assert_int_equal(p.type, TW__MQTT_CONNECT);
    assert_int_equal(p.connect.level, 4);
    assert_true(p.connect.clean_session);
    assert_int_equal(p.connect.keep_alive, 20);
    assert_memory_equal(p.connect.client_id, "edge-1", 6);
    assert_true(p.connect.has_will);
    assert_int_equal(p.connect.will_qos, 1);
    assert_false(p.connect.will_retain);
    assert_memory_equal(p.connect.will_topic, "spBv1.0/G/NDEATH/edge-1", 23);
    assert_memory_equal(p.connect.will_payload, "bye", 3);
    assert_memory_equal(p.connect.username, "user", 4);
    assert_memory_equal(p.connect.password, "pw", 2);
    /* publishing before CONNACK is refused */
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", "x", 1, 0, 0, NULL), TW_ERR_MQTT_NOT_CONNECTED);
    send_connack(f->m, 0);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_CONNECTED);
    assert_int_equal(f->ev.nstates, 2);
    assert_int_equal(f->ev.states[0], TW_MQTT_CONNECTING);
    assert_int_equal(f->ev.states[1], TW_MQTT_CONNECTED);
    /* clean disconnect */
    assert_int_equal(tw_mqtt_client_disconnect(f->c, 1000), TW_OK);
    assert_int_equal(mt_take(f->m).type, TW__MQTT_DISCONNECT);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_DISCONNECTED);
    assert_int_equal(f->ev.states[f->ev.nstates - 1], TW_MQTT_DISCONNECTED);
    assert_false(f->m->connected);
    fx_free(f);
}

static void test_session_refused(void **state)
{
    (void)state;
    const struct { uint8_t rc; tw_status st; } cases[] = {
        {1, TW_ERR_MQTT_REFUSED}, {2, TW_ERR_MQTT_REFUSED}, {3, TW_ERR_MQTT_REFUSED},
        {4, TW_ERR_MQTT_NOT_AUTHORIZED}, {5, TW_ERR_MQTT_NOT_AUTHORIZED}};
    for (size_t i = 0; i < TW__ARRAY_LEN(cases); i++) {
        fixture *f = fx_new(NULL);
        assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
        send_connack(f->m, cases[i].rc);
        assert_int_equal(tw_mqtt_client_process(f->c), cases[i].st);
        assert_int_equal(tw_mqtt_client_last_status(f->c), cases[i].st);
        char code[32];
        snprintf(code, sizeof code, "return code %u", (unsigned)cases[i].rc);
        assert_non_null(strstr(tw_mqtt_client_last_error(f->c), code));
        assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_WAITING); /* reconnect on */
        assert_int_equal(f->ev.reasons[f->ev.nstates - 1], cases[i].st);
        fx_free(f);
    }
    /* something else than CONNACK first */
    fixture *f = fx_new(NULL);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    send_ack(f->m, TW__MQTT_PUBACK, 1);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_PROTOCOL);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "expected CONNACK"));
    fx_free(f);
}

static void test_session_publish_acks_and_order(void **state)
{
    (void)state;
    fixture *f = fx_new(NULL);
    fx_connect(f);
    uint64_t t1, t2, t3, t4, tp;
    assert_int_equal(tw_mqtt_client_publish(f->c, "a/1", "one", 3, 1, 0, &t1), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a/2", "two", 3, 0, 1, &t2), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a/3", "three", 5, 1, 0, &t3), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a/4", NULL, 0, 0, 0, &t4), TW_OK);
    assert_int_equal(tw_mqtt_client_ping(f->c, &tp), TW_OK);
    assert_true(t1 < t2 && t2 < t3 && t3 < t4 && t4 < tp);
    assert_int_equal(tw_mqtt_client_inflight(f->c), 2);
    assert_true(tw_mqtt_client_pending_bytes(f->c) > 0);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_pending_bytes(f->c), 0);
    tw__mqtt_packet p1 = mt_take(f->m), p2 = mt_take(f->m), p3 = mt_take(f->m), p4 = mt_take(f->m);
    assert_int_equal(mt_take(f->m).type, TW__MQTT_PINGREQ);
    assert_int_equal(p1.qos, 1);
    assert_memory_equal(p1.topic, "a/1", 3);
    assert_memory_equal(p1.payload, "one", 3);
    assert_int_equal(p2.qos, 0);
    assert_int_equal(p2.retain, 1);
    assert_int_equal(p3.qos, 1);
    assert_int_not_equal(p1.packet_id, p3.packet_id);
    assert_int_equal(p4.payload_len, 0);
    assert_int_equal(tw_mqtt_client_confirmed(f->c), 0);
    /* PUBACK of the first: confirmed = t1 */
    send_ack(f->m, TW__MQTT_PUBACK, p1.packet_id);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.nacks, 1);
    assert_int_equal(f->ev.acks[0].type, TW_MQTT_ACK_PUBACK);
    assert_int_equal(f->ev.acks[0].token, t1);
    assert_int_equal(f->ev.acks[0].packet_id, p1.packet_id);
    assert_int_equal(f->ev.acks[0].status, TW_OK);
    assert_int_equal(tw_mqtt_client_confirmed(f->c), t1);
    /* PUBACK of the third proves the QoS 0 message between them arrived */
    send_ack(f->m, TW__MQTT_PUBACK, p3.packet_id);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_confirmed(f->c), t3);
    assert_true(tw_mqtt_client_confirmed(f->c) > t2);
    assert_int_equal(tw_mqtt_client_inflight(f->c), 0);
    /* PINGRESP covers the trailing QoS 0 publish */
    const uint8_t pingresp[] = {0xD0, 0x00};
    mt_send(f->m, pingresp, 2);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.nacks, 3);
    assert_int_equal(f->ev.acks[2].type, TW_MQTT_ACK_PINGRESP);
    assert_int_equal(f->ev.acks[2].token, tp);
    assert_int_equal(tw_mqtt_client_confirmed(f->c), tp);
    /* a PUBACK for an id not in flight is a protocol violation */
    send_ack(f->m, TW__MQTT_PUBACK, p1.packet_id);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_PROTOCOL);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "not awaiting"));
    fx_free(f);
}

static void test_session_window_and_ring(void **state)
{
    (void)state;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "h";
    o.port = 1;
    o.max_inflight = 4;
    o.out_buffer_size = 1024;
    fixture *f = fx_new(&o);
    fx_connect(f);
    uint16_t ids[4];
    for (int i = 0; i < 4; i++) assert_int_equal(tw_mqtt_client_publish(f->c, "w", "x", 1, 1, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "w", "x", 1, 1, 0, NULL), TW_ERR_MQTT_INFLIGHT_FULL);
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "s", 1, NULL), TW_ERR_MQTT_INFLIGHT_FULL);
    assert_int_equal(tw_mqtt_client_publish(f->c, "w", "x", 1, 0, 0, NULL), TW_OK); /* QoS 0 not limited */
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    for (int i = 0; i < 4; i++) ids[i] = mt_take(f->m).packet_id;
    mt_take(f->m);
    send_ack(f->m, TW__MQTT_PUBACK, ids[2]); /* out of order: frees one slot only after the head */
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_inflight(f->c), 3);
    send_ack(f->m, TW__MQTT_PUBACK, ids[0]);
    send_ack(f->m, TW__MQTT_PUBACK, ids[1]);
    send_ack(f->m, TW__MQTT_PUBACK, ids[3]);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_inflight(f->c), 0);
    assert_int_equal(tw_mqtt_client_publish(f->c, "w", "x", 1, 1, 0, NULL), TW_OK);
    /* the output ring: a packet that can never fit, then a blocked transport fills it */
    static uint8_t big[2000];
    assert_int_equal(tw_mqtt_client_publish(f->c, "w", big, sizeof big, 0, 0, NULL), TW_ERR_MQTT_TOO_LARGE);
    f->m->write_budget = 0;
    int ok = 0;
    tw_status st;
    while ((st = tw_mqtt_client_publish(f->c, "w", big, 100, 0, 0, NULL)) == TW_OK) ok++;
    assert_int_equal(st, TW_ERR_FULL);
    assert_true(ok >= 8 && ok <= 10);
    /* draining the transport makes room again, bytes arrive intact and in order */
    f->m->write_budget = SIZE_MAX;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_pending_bytes(f->c), 0);
    mt_take(f->m);
    for (int i = 0; i < ok; i++) {
        tw__mqtt_packet p = mt_take(f->m);
        assert_int_equal(p.payload_len, 100);
    }
    assert_false(mt_has_packet(f->m));
    assert_int_equal(tw_mqtt_client_publish(f->c, "w", big, 100, 0, 0, NULL), TW_OK);
    fx_free(f);
}

/* Allocation counting through the tw_init allocator hooks. */
static long g_allocs;
static void *cnt_malloc(size_t n, void *ctx) { (void)ctx; g_allocs++; return malloc(n); }
static void *cnt_realloc(void *p, size_t n, void *ctx) { (void)ctx; g_allocs++; return realloc(p, n); }
static void cnt_free(void *p, void *ctx) { (void)ctx; free(p); }

static void test_session_no_alloc_per_message(void **state)
{
    (void)state;
    tw_shutdown(); /* re-initialise with counting hooks */
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.malloc_fn = cnt_malloc;
    ip.realloc_fn = cnt_realloc;
    ip.free_fn = cnt_free;
    assert_int_equal(tw_init(&ip), TW_OK);
    fixture *f = fx_new(NULL);
    fx_connect(f);
    assert_true(g_allocs > 0);
    long before = g_allocs;
    uint8_t payload[200] = {1};
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 10; i++)
            assert_int_equal(tw_mqtt_client_publish(f->c, "perf/t", payload, sizeof payload, i & 1, 0, NULL), TW_OK);
        assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
        while (mt_has_packet(f->m)) {
            tw__mqtt_packet p = mt_take(f->m);
            if (p.qos) send_ack(f->m, TW__MQTT_PUBACK, p.packet_id);
        }
        /* and incoming messages */
        uint8_t buf[64];
        size_t len;
        assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"in/t", 4, "v", 1, 1, 0, 0, 77, &len), TW_OK);
        mt_send(f->m, buf, len);
        assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
        f->m->c2s_len = 0; /* keep the capture buffer small */
        mt_taken = 0;
        f->m->s2c_len = f->m->s2c_pos = 0;
    }
    assert_int_equal(g_allocs, before);
    assert_int_equal(f->ev.acks_total, 200 * 5);
    fx_free(f);
    tw_shutdown();
    assert_int_equal(tw_init(NULL), TW_OK);
}

static void test_session_incoming_and_subscribe(void **state)
{
    (void)state;
    fixture *f = fx_new(NULL);
    fx_connect(f);
    uint64_t ts, tf, tu;
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "cmd/#", 1, &ts), TW_OK);
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "secret/+", 0, &tf), TW_OK);
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "bad/#/x", 0, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "q2", 2, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    tw__mqtt_packet s1 = mt_take(f->m), s2 = mt_take(f->m);
    assert_int_equal(s1.type, TW__MQTT_SUBSCRIBE);
    size_t pos = 0;
    const uint8_t *fl;
    uint16_t fll;
    uint8_t q;
    assert_true(tw__mqtt_next_filter(&s1, &pos, &fl, &fll, &q));
    assert_memory_equal(fl, "cmd/#", 5);
    assert_int_equal(q, 1);
    uint8_t buf[128];
    size_t len;
    uint8_t one = 1, fail = 0x80;
    assert_int_equal(tw__mqtt_encode_suback(buf, sizeof buf, s1.packet_id, &one, 1, &len), TW_OK);
    mt_send(f->m, buf, len);
    assert_int_equal(tw__mqtt_encode_suback(buf, sizeof buf, s2.packet_id, &fail, 1, &len), TW_OK);
    mt_send(f->m, buf, len);
    /* two messages in one read, the first QoS 1 retained */
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"cmd/x", 5, "\x00\x01", 2, 1, 1, 0, 4242, &len), TW_OK);
    mt_send(f->m, buf, len);
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"cmd/y/z", 7, "hello", 5, 0, 0, 0, 0, &len), TW_OK);
    mt_send(f->m, buf, len);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.nacks, 2);
    assert_int_equal(f->ev.acks[0].type, TW_MQTT_ACK_SUBACK);
    assert_int_equal(f->ev.acks[0].token, ts);
    assert_int_equal(f->ev.acks[0].status, TW_OK);
    assert_int_equal(f->ev.acks[0].granted_qos, 1);
    assert_int_equal(f->ev.acks[1].token, tf);
    assert_int_equal(f->ev.acks[1].status, TW_ERR_MQTT_SUBSCRIBE_FAILED);
    assert_int_equal(f->ev.acks[1].granted_qos, -1);
    assert_int_equal(f->ev.nmsgs, 2);
    assert_string_equal(f->ev.topics[0], "cmd/x");
    assert_int_equal(f->ev.payload_len[0], 2);
    assert_memory_equal(f->ev.payloads[0], "\x00\x01", 2);
    assert_int_equal(f->ev.qos[0], 1);
    assert_int_equal(f->ev.retain[0], 1);
    assert_string_equal(f->ev.topics[1], "cmd/y/z");
    assert_memory_equal(f->ev.payloads[1], "hello", 5);
    tw__mqtt_packet ack = mt_take(f->m);
    assert_int_equal(ack.type, TW__MQTT_PUBACK);
    assert_int_equal(ack.packet_id, 4242);
    assert_false(mt_has_packet(f->m)); /* no PUBACK for QoS 0 */
    /* a message split over many reads */
    assert_int_equal(tw__mqtt_encode_publish(buf, sizeof buf, (const uint8_t *)"cmd/s", 5, "split", 5, 0, 0, 0, 0, &len), TW_OK);
    for (size_t i = 0; i < len; i++) {
        mt_send(f->m, buf + i, 1);
        assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    }
    assert_int_equal(f->ev.nmsgs, 3);
    assert_string_equal(f->ev.topics[2], "cmd/s");
    /* UNSUBSCRIBE */
    assert_int_equal(tw_mqtt_client_unsubscribe(f->c, "cmd/#", &tu), TW_OK);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    tw__mqtt_packet u = mt_take(f->m);
    assert_int_equal(u.type, TW__MQTT_UNSUBSCRIBE);
    send_ack(f->m, TW__MQTT_UNSUBACK, u.packet_id);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.acks[2].type, TW_MQTT_ACK_UNSUBACK);
    assert_int_equal(f->ev.acks[2].token, tu);
    fx_free(f);
}

static void test_session_malformed_closes(void **state)
{
    (void)state;
    static const struct { uint8_t bytes[8]; size_t len; tw_status st; const char *why; } cases[] = {
        {{0x30, 0x05, 0x00, 0x03, 'a', '/', '#'}, 7, TW_ERR_MQTT_MALFORMED, "wildcard"},
        {{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 6, TW_ERR_MQTT_MALFORMED, "4 bytes"},
        {{0x30, 0xff, 0xff, 0x7f}, 4, TW_ERR_MQTT_TOO_LARGE, "maximum packet size"},
        {{0x34, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}, 7, TW_ERR_PROTOCOL, "QoS 2"},
        {{0x82, 0x06, 0, 1, 0, 1, 'a', 0}, 8, TW_ERR_PROTOCOL, "only clients send"},
        {{0xD0, 0x00}, 2, TW_ERR_PROTOCOL, "PINGRESP without"},
        {{0x20, 0x02, 0x00, 0x00}, 4, TW_ERR_PROTOCOL, "second CONNACK"},
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(cases); i++) {
        fixture *f = fx_new(NULL);
        fx_connect(f);
        uint64_t tok;
        assert_int_equal(tw_mqtt_client_publish(f->c, "q1", "x", 1, 1, 0, &tok), TW_OK);
        mt_send(f->m, cases[i].bytes, cases[i].len);
        tw_status st = tw_mqtt_client_process(f->c);
        assert_int_equal(st, cases[i].st);
        if (!strstr(tw_mqtt_client_last_error(f->c), cases[i].why))
            print_message("case %zu: %s\n", i, tw_mqtt_client_last_error(f->c));
        assert_non_null(strstr(tw_mqtt_client_last_error(f->c), cases[i].why));
        assert_false(f->m->connected); /* connection closed */
        assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_WAITING);
        /* the unacknowledged publish is reported as not confirmed */
        assert_int_equal(f->ev.nacks, 1);
        assert_int_equal(f->ev.acks[0].token, tok);
        assert_int_equal(f->ev.acks[0].status, TW_ERR_CLOSED);
        assert_int_equal(tw_mqtt_client_inflight(f->c), 0);
        fx_free(f);
    }
}

static void test_session_keepalive(void **state)
{
    (void)state;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "h";
    o.port = 1;
    o.keep_alive_s = 10;
    o.ping_timeout_ms = 3000;
    fixture *f = fx_new(&o);
    fx_connect(f);
    assert_int_equal(tw_mqtt_client_timeout_ms(f->c), 10000);
    g_now += 9999;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_false(mt_has_packet(f->m));
    g_now += 1;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(mt_take(f->m).type, TW__MQTT_PINGREQ);
    assert_int_equal(tw_mqtt_client_timeout_ms(f->c), 3000);
    const uint8_t pingresp[] = {0xD0, 0x00};
    g_now += 2000;
    mt_send(f->m, pingresp, 2);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.acks[0].type, TW_MQTT_ACK_PINGRESP);
    /* sending resets the keep-alive timer */
    g_now += 9000;
    assert_int_equal(tw_mqtt_client_publish(f->c, "k", "v", 1, 0, 0, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    mt_take(f->m);
    g_now += 9000;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_false(mt_has_packet(f->m));
    g_now += 1000;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(mt_take(f->m).type, TW__MQTT_PINGREQ);
    /* no answer: keep-alive failure after the ping timeout */
    g_now += 2999;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    g_now += 1;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_MQTT_KEEPALIVE);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "PINGRESP"));
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_WAITING);
    fx_free(f);
}

static void test_session_reconnect_backoff(void **state)
{
    (void)state;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "h";
    o.port = 1;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 1000;
    fixture *f = fx_new(&o);
    uint32_t r = UINT32_MAX; /* always the top of the jitter range */
    tw__mqtt_client_set_rand(f->c, rnd_const, &r);
    fx_connect(f);
    /* broker goes away: every failed attempt doubles the ceiling up to the cap */
    f->m->peer_closed = 1;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_CLOSED);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_WAITING);
    f->m->connect_result = TW_ERR_CONN_REFUSED;
    const uint32_t expect[] = {100, 200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < TW__ARRAY_LEN(expect); i++) {
        assert_int_equal(tw__mqtt_client_reconnect_delay(f->c), expect[i]);
        assert_int_equal(tw_mqtt_client_timeout_ms(f->c), expect[i]);
        assert_int_equal(tw_mqtt_client_fd(f->c), -1);
        int before = f->m->connects;
        g_now += expect[i] - 1;
        assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
        assert_int_equal(f->m->connects, before); /* not yet */
        g_now += 1;
        assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_CONN_REFUSED);
        assert_int_equal(f->m->connects, before + 1);
    }
    /* broker back: connect, and the attempt counter starts again */
    f->m->connect_result = TW_OK;
    g_now += 1000;
    mt_taken = f->m->c2s_len;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(mt_take(f->m).type, TW__MQTT_CONNECT);
    send_connack(f->m, 0);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_CONNECTED);
    f->m->peer_closed = 1;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_CLOSED);
    assert_int_equal(tw__mqtt_client_reconnect_delay(f->c), 100);
    /* with zero randomness the client retries at once */
    r = 0;
    f->m->peer_closed = 0;
    f->m->connect_result = TW_ERR_CONN_REFUSED;
    g_now += 100;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_CONN_REFUSED);
    assert_int_equal(tw__mqtt_client_reconnect_delay(f->c), 0);
    /* disconnect stops reconnecting */
    assert_int_equal(tw_mqtt_client_disconnect(f->c, 100), TW_OK);
    int before = f->m->connects;
    g_now += 100000;
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->m->connects, before);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_DISCONNECTED);
    fx_free(f);
}

static void test_options_validation(void **state)
{
    (void)state;
    memt *m = calloc(1, sizeof *m);
    tw_transport *t;
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, m), TW_OK);
    tw_mqtt_client *c = (tw_mqtt_client *)1;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG); /* no host */
    assert_null(c);
    TWT_ASSERT_LAST_ERROR("mqtt", "host is required");
    o.host = "h";
    o.port = 1;
    o.version = 77;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("mqtt", "tw_mqtt_options version 77");
    o.version = TW_MQTT_OPTIONS_VERSION;
    o.password = "p";
    o.password_len = 1;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG); /* password w/o user */
    o.password = NULL;
    o.will_topic = "a/+";
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG);
    o.will_topic = "a";
    o.will_qos = 2;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG);
    TWT_ASSERT_LAST_ERROR("mqtt", "will QoS must be 0 or 1");
    o.will_qos = 0;
    o.client_id = "\xff";
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG);
    o.client_id = "ok";
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_OK);
    assert_ptr_equal(tw_mqtt_client_transport(c), t);
    assert_string_equal(tw_mqtt_state_name(tw_mqtt_client_state(c)), "disconnected");
    assert_int_equal(tw_mqtt_client_step(c, 10), TW_OK); /* idle: returns at once */
    tw_mqtt_client_free(c); /* frees the transport too */
    free(m);
}

/* A password is never sent over a transport that is not secure unless explicitly allowed. */
static void test_password_needs_secure_transport(void **state)
{
    (void)state;
    memt *m = calloc(1, sizeof *m);
    tw_transport *t, *ts;
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, m), TW_OK);
    assert_int_equal(tw_transport_new_custom(&ts, &mt_ops_secure, m), TW_OK);
    tw_mqtt_client *c = (tw_mqtt_client *)1;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    assert_int_equal(o.version, 2);
    assert_int_equal(o.allow_plaintext_credentials, 0);
    o.host = "h";
    o.port = 1;
    o.username = "u";
    o.password = "pw";
    o.password_len = 2;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_TLS_INSECURE);
    assert_null(c);
    TWT_ASSERT_LAST_ERROR("mqtt", "refusing to send a password over a transport that is not secure");
    o.protocol_version = 5; /* MQTT 5: a password without a user name, same rule */
    o.username = NULL;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_TLS_INSECURE);
    o.protocol_version = 4;
    o.username = "u";
    /* a version 1 struct has no allow_plaintext_credentials: whatever follows it is ignored */
    o.version = 1;
    o.allow_plaintext_credentials = 1;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_TLS_INSECURE);
    o.password = NULL; /* version 1 without a password: still accepted */
    o.password_len = 0;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_OK);
    tw_mqtt_client_free(c);
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, m), TW_OK);
    /* a user name alone is no secret */
    o.version = TW_MQTT_OPTIONS_VERSION;
    o.allow_plaintext_credentials = 0;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_OK);
    tw_mqtt_client_free(c);
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, m), TW_OK);
    /* explicitly allowed */
    o.password = "pw";
    o.password_len = 2;
    o.allow_plaintext_credentials = 1;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_OK);
    tw_mqtt_client_free(c);
    /* a secure transport needs no opt-in */
    o.allow_plaintext_credentials = 0;
    assert_int_equal(tw_mqtt_client_new(&c, ts, &o), TW_OK);
    tw_mqtt_client_free(c);
    free(m);
}

/* ---- MQTT 5 -------------------------------------------------------------------------------- */

static tw__mqtt_packet decode5_ok(const uint8_t *buf, size_t len)
{
    tw__mqtt_packet p;
    char err[160];
    tw_status st = tw__mqtt_decode_v(5, buf, len, 1u << 20, &p, NULL, err, sizeof err);
    if (st != TW_OK) print_message("decode5 failed: %s (%s)\n", tw_status_name(st), err);
    assert_int_equal(st, TW_OK);
    assert_int_equal(p.size, len);
    return p;
}

#define EXPECT_MALFORMED5(...)                                                                     \
    do {                                                                                           \
        const uint8_t b_[] = {__VA_ARGS__};                                                        \
        tw__mqtt_packet p_;                                                                        \
        char e_[160] = "";                                                                         \
        tw_status s_ = tw__mqtt_decode_v(5, b_, sizeof b_, 1u << 20, &p_, NULL, e_, sizeof e_);     \
        if (s_ != TW_ERR_MQTT_MALFORMED) print_message("line %d: got %s\n", __LINE__, tw_status_name(s_)); \
        assert_int_equal(s_, TW_ERR_MQTT_MALFORMED);                                               \
        assert_true(strlen(e_) > 5);                                                               \
    } while (0)

static void test_v5_codec(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len;
    /* CONNECT level 5 with Maximum Packet Size and a will */
    tw__mqtt_connect c;
    memset(&c, 0, sizeof c);
    c.level = 5;
    c.clean_session = 1;
    c.keep_alive = 9;
    c.client_id = (const uint8_t *)"v5";
    c.client_id_len = 2;
    c.has_will = 1;
    c.will_topic = (const uint8_t *)"w";
    c.will_topic_len = 1;
    c.will_payload = (const uint8_t *)"x";
    c.will_payload_len = 1;
    c.max_packet_size = 70000;
    assert_int_equal(tw__mqtt_encode_connect(buf, sizeof buf, &c, &len), TW_OK);
    tw__mqtt_packet p = decode5_ok(buf, len);
    assert_int_equal(p.connect.level, 5);
    assert_int_equal(p.connect.max_packet_size, 70000);
    assert_true(TW__MQTT_HAS(p.props, 39));
    assert_memory_equal(p.connect.will_topic, "w", 1);
    /* the same bytes are not a level 4 packet of another meaning: decoded by their own level */
    assert_int_equal(decode_ok(buf, len).connect.level, 5);
    /* PUBLISH with an empty property list */
    assert_int_equal(tw__mqtt_encode_publish5(buf, sizeof buf, (const uint8_t *)"a/b", 3, "pay", 3, 1, 0, 0, 5, &len), TW_OK);
    p = decode5_ok(buf, len);
    assert_int_equal(p.packet_id, 5);
    assert_int_equal(p.payload_len, 3);
    assert_memory_equal(p.payload, "pay", 3);
    /* read as level 4, the property byte would be payload: the level matters */
    assert_int_equal(decode_ok(buf, len).payload_len, 4);
    /* PUBACK with reason 0x87 */
    assert_int_equal(tw__mqtt_encode_reason5(buf, sizeof buf, TW__MQTT_PUBACK, 9, 0x87, &len), TW_OK);
    p = decode5_ok(buf, len);
    assert_int_equal(p.packet_id, 9);
    assert_int_equal(p.reason_code, 0x87);
    assert_string_equal(tw__mqtt_reason_name(0x87), "Not authorized");
    /* PUBACK with a reason string and a user property */
    const uint8_t pa[] = {0x40, 0x12, 0, 9, 0x87, 0x0E, 31, 0, 3, 'a', 'c', 'l', 38, 0, 1, 'k', 0, 2, 'v', 'v'};
    assert_int_equal(sizeof pa, 20);
    p = decode5_ok(pa, sizeof pa);
    assert_int_equal(p.props.reason_string_len, 3);
    assert_memory_equal(p.props.reason_string, "acl", 3);
    /* short forms: PUBACK of 2 bytes is success, DISCONNECT of 0 bytes is normal */
    const uint8_t pa2[] = {0x40, 0x02, 0, 9};
    assert_int_equal(decode5_ok(pa2, sizeof pa2).reason_code, 0);
    const uint8_t dc[] = {0xE0, 0x00};
    assert_int_equal(decode5_ok(dc, sizeof dc).reason_code, 0);
    assert_int_equal(tw__mqtt_encode_reason5(buf, sizeof buf, TW__MQTT_DISCONNECT, 0, 0x8B, &len), TW_OK);
    assert_int_equal(decode5_ok(buf, len).reason_code, 0x8B);
    /* SUBACK / UNSUBACK codes */
    const uint8_t codes[] = {0x01, 0x87};
    assert_int_equal(tw__mqtt_encode_codes5(buf, sizeof buf, TW__MQTT_SUBACK, 3, codes, 2, &len), TW_OK);
    p = decode5_ok(buf, len);
    assert_int_equal(p.list_len, 2);
    assert_int_equal(p.list[1], 0x87);
    const uint8_t ucodes[] = {0x11};
    assert_int_equal(tw__mqtt_encode_codes5(buf, sizeof buf, TW__MQTT_UNSUBACK, 3, ucodes, 1, &len), TW_OK);
    assert_int_equal(decode5_ok(buf, len).list[0], 0x11);
    /* CONNACK with properties */
    const uint8_t ca[] = {0x20, 0x0E, 0x00, 0x00, 0x0B, 33, 0, 2, 39, 0, 0, 0, 100, 19, 0, 7};
    p = decode5_ok(ca, sizeof ca);
    assert_int_equal(p.props.receive_max, 2);
    assert_int_equal(p.props.max_packet_size, 100);
    assert_int_equal(p.props.server_keep_alive, 7);
    /* rejections */
    EXPECT_MALFORMED5(0x40, 0x04, 0, 9, 0x87, 0x05);                 /* property length too long */
    EXPECT_MALFORMED5(0x40, 0x07, 0, 9, 0x00, 0x03, 35, 0, 1);       /* Topic Alias not allowed in PUBACK */
    EXPECT_MALFORMED5(0x40, 0x03, 0, 9, 0x42);                       /* invalid PUBACK reason code */
    EXPECT_MALFORMED5(0x20, 0x09, 0, 0, 0x06, 33, 0, 1, 33, 0, 1);    /* duplicate Receive Maximum */
    EXPECT_MALFORMED5(0x20, 0x06, 0, 0, 0x03, 33, 0, 0);             /* Receive Maximum 0 */
    EXPECT_MALFORMED5(0x20, 0x05, 0, 0, 0x02, 36, 2);                /* Maximum QoS 2 is not 0/1 */
    EXPECT_MALFORMED5(0x20, 0x02, 0, 0);                             /* CONNACK without properties */
    EXPECT_MALFORMED5(0x20, 0x03, 0, 0x05, 0);                       /* level 4 return code 5 */
    EXPECT_MALFORMED5(0x20, 0x05, 0, 0, 0x02, 99, 0);                /* unknown property */
    EXPECT_MALFORMED5(0x20, 0x08, 0, 0, 0x05, 31, 0, 2, 0xC0, 0x80); /* reason string not UTF-8 */
    EXPECT_MALFORMED5(0x90, 0x04, 0, 1, 0, 0x03);                    /* invalid SUBACK code */
    EXPECT_MALFORMED5(0x30, 0x04, 0, 0, 0, 'x');                     /* empty topic without alias */
    EXPECT_MALFORMED5(0x82, 0x07, 0, 1, 0, 0, 1, 'a', 0xC0);         /* subscription options reserved */
    EXPECT_MALFORMED5(0xE0, 0x01, 0x05);                             /* invalid DISCONNECT reason */
    EXPECT_MALFORMED5(0xE0, 0x03, 0x00, 0x01, 0xFF);                 /* property id varint cut */
    EXPECT_MALFORMED(0xF0, 0x00);                                    /* AUTH is reserved in 3.1.1 */
    const uint8_t auth[] = {0xF0, 0x00};
    assert_int_equal(decode5_ok(auth, sizeof auth).type, TW__MQTT_AUTH);
}

static void test_v5_session(void **state)
{
    (void)state;
    tw_mqtt_options o = TW_MQTT_OPTIONS_INIT;
    o.host = "h";
    o.port = 1;
    o.protocol_version = 5;
    o.max_packet_size = 5000;
    fixture *f = fx_new(&o);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    tw__mqtt_packet p = mt_take(f->m);
    assert_int_equal(p.connect.level, 5);
    assert_int_equal(p.connect.max_packet_size, 5000);
    /* CONNACK: Receive Maximum 2, Maximum Packet Size 100, Server Keep Alive 7 s */
    const uint8_t ca[] = {0x20, 0x0E, 0x00, 0x00, 0x0B, 33, 0, 2, 39, 0, 0, 0, 100, 19, 0, 7};
    mt_send(f->m, ca, sizeof ca);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(tw_mqtt_client_state(f->c), TW_MQTT_CONNECTED);
    assert_int_equal(tw_mqtt_client_timeout_ms(f->c), 7000);
    uint64_t t1, t2;
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", "1", 1, 1, 0, &t1), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", "2", 1, 1, 0, &t2), TW_OK);
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", "3", 1, 1, 0, NULL), TW_ERR_MQTT_INFLIGHT_FULL);
    static uint8_t big[200];
    assert_int_equal(tw_mqtt_client_publish(f->c, "a", big, sizeof big, 0, 0, NULL), TW_ERR_MQTT_TOO_LARGE);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "broker's maximum packet size"));
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    tw__mqtt_packet p1, p2;
    {
        tw__mqtt_packet q;
        assert_int_equal(tw__mqtt_decode_v(5, f->m->c2s + mt_taken, f->m->c2s_len - mt_taken, 1u << 20, &q, NULL, NULL, 0), TW_OK);
        mt_taken += q.size;
        p1 = q;
        assert_int_equal(tw__mqtt_decode_v(5, f->m->c2s + mt_taken, f->m->c2s_len - mt_taken, 1u << 20, &q, NULL, NULL, 0), TW_OK);
        mt_taken += q.size;
        p2 = q;
    }
    assert_int_equal(p1.payload_len, 1); /* the property byte was not taken as payload */
    assert_memory_equal(p1.payload, "1", 1);
    /* the first refused by ACL (0x87), the second accepted with "no matching subscribers" */
    uint8_t b[16];
    size_t len;
    assert_int_equal(tw__mqtt_encode_reason5(b, sizeof b, TW__MQTT_PUBACK, p1.packet_id, 0x87, &len), TW_OK);
    mt_send(f->m, b, len);
    assert_int_equal(tw__mqtt_encode_reason5(b, sizeof b, TW__MQTT_PUBACK, p2.packet_id, 0x10, &len), TW_OK);
    mt_send(f->m, b, len);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.nacks, 2);
    assert_int_equal(f->ev.acks[0].token, t1);
    assert_int_equal(f->ev.acks[0].status, TW_ERR_MQTT_NOT_AUTHORIZED);
    assert_int_equal(f->ev.acks[0].reason_code, 0x87);
    assert_int_equal(f->ev.acks[1].status, TW_OK);
    assert_int_equal(f->ev.acks[1].reason_code, 0x10);
    /* SUBSCRIBE carries a property length; SUBACK 0x87 fails it */
    assert_int_equal(tw_mqtt_client_subscribe(f->c, "s/#", 1, NULL), TW_OK);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    tw__mqtt_packet sp;
    assert_int_equal(tw__mqtt_decode_v(5, f->m->c2s + mt_taken, f->m->c2s_len - mt_taken, 1u << 20, &sp, NULL, NULL, 0), TW_OK);
    mt_taken += sp.size;
    assert_int_equal(sp.type, TW__MQTT_SUBSCRIBE);
    uint8_t code = 0x87;
    assert_int_equal(tw__mqtt_encode_codes5(b, sizeof b, TW__MQTT_SUBACK, sp.packet_id, &code, 1, &len), TW_OK);
    mt_send(f->m, b, len);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.acks[2].status, TW_ERR_MQTT_SUBSCRIBE_FAILED);
    assert_int_equal(f->ev.acks[2].reason_code, 0x87);
    /* an incoming PUBLISH with properties; a Topic Alias is refused */
    const uint8_t in[] = {0x30, 0x0A, 0, 1, 't', 0x05, 2, 0, 0, 0, 9, 'z'}; /* Message Expiry 9 */
    mt_send(f->m, in, sizeof in);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_OK);
    assert_int_equal(f->ev.nmsgs, 1);
    assert_int_equal(f->ev.payload_len[0], 1);
    assert_int_equal(f->ev.payloads[0][0], 'z');
    /* DISCONNECT from the broker with a reason */
    const uint8_t dc[] = {0xE0, 0x08, 0x87, 0x06, 31, 0, 3, 'a', 'c', 'l'};
    mt_send(f->m, dc, sizeof dc);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_MQTT_NOT_AUTHORIZED);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "0x87"));
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "acl"));
    fx_free(f);

    /* CONNACK refusals */
    f = fx_new(&o);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    const uint8_t bad[] = {0x20, 0x03, 0x00, 0x86, 0x00};
    mt_send(f->m, bad, sizeof bad);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_MQTT_NOT_AUTHORIZED);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "0x86"));
    fx_free(f);
    f = fx_new(&o);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    const uint8_t busy[] = {0x20, 0x03, 0x00, 0x89, 0x00};
    mt_send(f->m, busy, sizeof busy);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_MQTT_REFUSED);
    fx_free(f);
    /* a Topic Alias from the broker is a protocol error (we allow none) */
    f = fx_new(&o);
    assert_int_equal(tw_mqtt_client_connect(f->c), TW_OK);
    const uint8_t ok[] = {0x20, 0x03, 0x00, 0x00, 0x00};
    mt_send(f->m, ok, sizeof ok);
    const uint8_t alias[] = {0x30, 0x07, 0, 0, 0x03, 35, 0, 1, 'q'};
    mt_send(f->m, alias, sizeof alias);
    assert_int_equal(tw_mqtt_client_process(f->c), TW_ERR_PROTOCOL);
    assert_non_null(strstr(tw_mqtt_client_last_error(f->c), "Topic Alias"));
    fx_free(f);
    /* protocol_version other than 4/5 */
    o.protocol_version = 3;
    memt *m = calloc(1, sizeof *m);
    tw_transport *t;
    assert_int_equal(tw_transport_new_custom(&t, &mt_ops, m), TW_OK);
    tw_mqtt_client *c;
    assert_int_equal(tw_mqtt_client_new(&c, t, &o), TW_ERR_INVALID_ARG);
    tw_transport_free(t);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_roundtrip),
        cmocka_unit_test(test_publish_roundtrip_lengths),
        cmocka_unit_test(test_small_packets_roundtrip),
        cmocka_unit_test(test_reject_remaining_length),
        cmocka_unit_test(test_reject_flags_and_ids),
        cmocka_unit_test(test_reject_truncated_and_topics),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_session_connect_packet), cmocka_unit_test(test_zero_options_are_defaults),
        cmocka_unit_test(test_session_refused),
        cmocka_unit_test(test_session_publish_acks_and_order),
        cmocka_unit_test(test_session_window_and_ring),
        cmocka_unit_test(test_session_no_alloc_per_message),
        cmocka_unit_test(test_session_incoming_and_subscribe),
        cmocka_unit_test(test_session_malformed_closes),
        cmocka_unit_test(test_session_keepalive),
        cmocka_unit_test(test_session_reconnect_backoff),
        cmocka_unit_test(test_options_validation),
        cmocka_unit_test(test_password_needs_secure_transport),
        cmocka_unit_test(test_v5_codec),
        cmocka_unit_test(test_v5_session),
    };
    return cmocka_run_group_tests(tests, setup_init, teardown_init);
}
