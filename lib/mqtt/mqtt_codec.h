/*
 * Private: MQTT packet codec: 3.1.1 (OASIS MQTT Version 3.1.1 Plus Errata 01, protocol level 4)
 * and 5.0 (OASIS MQTT Version 5.0, protocol level 5: properties and reason codes).
 *
 * Decoding is strict: a packet that breaks a MUST of the specification about its format is
 * rejected with TW_ERR_MQTT_MALFORMED and a message naming the rule; a packet larger than the
 * configured maximum with TW_ERR_MQTT_TOO_LARGE. Decoded fields point into the input buffer.
 * Encoders write into caller buffers and never allocate.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_MQTT_CODEC_H
#define TW_MQTT_CODEC_H

#include "internal.h"

enum {
    TW__MQTT_CONNECT = 1,
    TW__MQTT_CONNACK = 2,
    TW__MQTT_PUBLISH = 3,
    TW__MQTT_PUBACK = 4,
    TW__MQTT_PUBREC = 5,
    TW__MQTT_PUBREL = 6,
    TW__MQTT_PUBCOMP = 7,
    TW__MQTT_SUBSCRIBE = 8,
    TW__MQTT_SUBACK = 9,
    TW__MQTT_UNSUBSCRIBE = 10,
    TW__MQTT_UNSUBACK = 11,
    TW__MQTT_PINGREQ = 12,
    TW__MQTT_PINGRESP = 13,
    TW__MQTT_DISCONNECT = 14,
    TW__MQTT_AUTH = 15 /* MQTT 5 only */
};

#define TW__MQTT_MAX_REMAINING 268435455u /* four bytes of variable length integer */
#define TW__MQTT_MAX_HEADER 5u            /* type byte + four length bytes */

/* MQTT 5 properties of one packet that this client looks at (others are validated and skipped). */
typedef struct tw__mqtt_props {
    uint64_t present;                /* bit n set: property identifier n was present */
    uint32_t max_packet_size;        /* 39 */
    uint32_t session_expiry;         /* 17 */
    uint16_t receive_max;            /* 33 */
    uint16_t topic_alias_max;        /* 34 */
    uint16_t topic_alias;            /* 35 */
    uint16_t server_keep_alive;      /* 19 */
    uint8_t max_qos;                 /* 36 */
    uint8_t retain_available;        /* 37 */
    const uint8_t *reason_string;    /* 31 */
    uint16_t reason_string_len;
    const uint8_t *assigned_client_id; /* 18 */
    uint16_t assigned_client_id_len;
} tw__mqtt_props;

#define TW__MQTT_HAS(props, id) (((props).present >> (id)) & 1u)

/* CONNECT contents (encode input, decode output). Strings are (pointer, length), not terminated. */
typedef struct tw__mqtt_connect {
    uint8_t level;           /* protocol level: 4 (3.1.1) or 5 */
    uint8_t clean_session;
    uint16_t keep_alive;
    const uint8_t *client_id; uint16_t client_id_len;
    int has_will;
    const uint8_t *will_topic; uint16_t will_topic_len;
    const uint8_t *will_payload; uint16_t will_payload_len;
    uint8_t will_qos, will_retain;
    int has_username;
    const uint8_t *username; uint16_t username_len;
    int has_password;
    const uint8_t *password; uint16_t password_len;
    uint32_t max_packet_size; /* level 5: Maximum Packet Size property to send (0 = none) */
} tw__mqtt_connect;

/* One decoded packet. Only the fields of its type are meaningful. */
typedef struct tw__mqtt_packet {
    uint8_t type;            /* TW__MQTT_* */
    uint8_t flags;           /* low nibble of the first byte */
    uint32_t size;           /* whole packet, fixed header included */
    uint16_t packet_id;
    /* PUBLISH */
    uint8_t qos, retain, dup;
    const uint8_t *topic; uint16_t topic_len;
    const uint8_t *payload; size_t payload_len;
    /* CONNACK */
    uint8_t session_present, return_code;
    /* SUBACK: return codes; SUBSCRIBE / UNSUBSCRIBE: the raw, validated payload (iterate with
     * tw__mqtt_next_filter) */
    const uint8_t *list; size_t list_len;
    /* CONNECT */
    tw__mqtt_connect connect;
    /* MQTT 5: the reason code (0 when absent) and properties; SUBACK/UNSUBACK codes are in list */
    uint8_t reason_code;
    tw__mqtt_props props;
} tw__mqtt_packet;

/*
 * Decodes the packet at the start of buf[0..len). TW_OK: *pkt is filled and pkt->size bytes were
 * used. TW_ERR_AGAIN: the packet is not complete yet (*need, when not NULL, gets the total size
 * once the fixed header is known, else 0). TW_ERR_MQTT_MALFORMED / TW_ERR_MQTT_TOO_LARGE: `err`
 * (errlen bytes, may be NULL) gets the reason.
 */
tw_status tw__mqtt_decode(const uint8_t *buf, size_t len, uint32_t max_packet, tw__mqtt_packet *pkt,
                          size_t *need, char *err, size_t errlen);
/* The same for protocol level `version` (4 or 5). A CONNECT is decoded by its own level. */
tw_status tw__mqtt_decode_v(uint8_t version, const uint8_t *buf, size_t len, uint32_t max_packet,
                            tw__mqtt_packet *pkt, size_t *need, char *err, size_t errlen);

/* A short English name of an MQTT 5 reason code ("Not authorized", ...); "unknown" otherwise. */
const char *tw__mqtt_reason_name(uint8_t code);

/* Walks a SUBSCRIBE (with_qos = 1) or UNSUBSCRIBE (0) list validated by tw__mqtt_decode.
 * Returns 1 and advances *pos while an entry remains, else 0. */
int tw__mqtt_next_filter(const tw__mqtt_packet *pkt, size_t *pos, const uint8_t **filter,
                         uint16_t *filter_len, uint8_t *qos);

/* Variable length integer: writes 1..4 bytes to out; returns the count (0 when value is too big). */
size_t tw__mqtt_varint_put(uint8_t *out, uint32_t value);
size_t tw__mqtt_varint_len(uint32_t value);

/* Validation helpers (s need not be terminated). */
int tw__mqtt_utf8_ok(const uint8_t *s, size_t len);            /* well-formed, no U+0000 */
int tw__mqtt_topic_ok(const uint8_t *s, size_t len);           /* PUBLISH topic name */
int tw__mqtt_filter_ok(const uint8_t *s, size_t len);          /* SUBSCRIBE topic filter */

/*
 * Encoders. Each writes the whole packet to buf when cap is large enough and returns TW_OK with
 * *len set to the packet size; TW_ERR_RANGE (with *len = required size) when cap is too small;
 * TW_ERR_INVALID_ARG when the contents violate the specification (e.g. packet id 0, QoS > 1,
 * invalid topic, password without username).
 */
tw_status tw__mqtt_encode_connect(uint8_t *buf, size_t cap, const tw__mqtt_connect *c, size_t *len);
tw_status tw__mqtt_encode_connack(uint8_t *buf, size_t cap, int session_present, uint8_t rc,
                                  size_t *len);
tw_status tw__mqtt_encode_publish(uint8_t *buf, size_t cap, const uint8_t *topic, uint16_t topic_len,
                                  const void *payload, size_t payload_len, int qos, int retain,
                                  int dup, uint16_t packet_id, size_t *len);
/* Level 5: the same with an empty property list. */
tw_status tw__mqtt_encode_publish5(uint8_t *buf, size_t cap, const uint8_t *topic, uint16_t topic_len,
                                   const void *payload, size_t payload_len, int qos, int retain,
                                   int dup, uint16_t packet_id, size_t *len);
/* Level 5 acknowledgements with a reason code and no properties: PUBACK..PUBCOMP, DISCONNECT;
 * SUBACK / UNSUBACK with n reason codes. */
tw_status tw__mqtt_encode_reason5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                  uint8_t reason, size_t *len);
tw_status tw__mqtt_encode_codes5(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id,
                                 const uint8_t *codes, size_t n, size_t *len);
/* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: type byte + packet id. */
tw_status tw__mqtt_encode_ack(uint8_t *buf, size_t cap, uint8_t type, uint16_t packet_id, size_t *len);
/* SUBSCRIBE (qos array used) or UNSUBSCRIBE (qos NULL) of n filters. */
tw_status tw__mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id,
                                    const char *const *filters, const uint8_t *qos, size_t n,
                                    size_t *len);
tw_status tw__mqtt_encode_unsubscribe(uint8_t *buf, size_t cap, uint16_t packet_id,
                                      const char *const *filters, size_t n, size_t *len);
tw_status tw__mqtt_encode_suback(uint8_t *buf, size_t cap, uint16_t packet_id, const uint8_t *codes,
                                 size_t n, size_t *len);
/* PINGREQ, PINGRESP, DISCONNECT. */
tw_status tw__mqtt_encode_empty(uint8_t *buf, size_t cap, uint8_t type, size_t *len);

/*
 * The part of a PUBLISH before its payload (fixed header, topic, packet id) written to hdr
 * (at least TW__MQTT_MAX_HEADER + 2 + topic_len + 2 bytes); returns its length, 0 when the
 * packet would exceed the protocol maximum. Arguments are not validated (the caller did).
 */
size_t tw__mqtt_publish_head(uint8_t *hdr, const uint8_t *topic, uint16_t topic_len,
                             size_t payload_len, int qos, int retain, int dup, uint16_t packet_id);
/* Size of the whole PUBLISH packet, or 0 when it would exceed the protocol maximum. `extra` bytes
 * (the level 5 property length byte) are added to the variable header. */
size_t tw__mqtt_publish_size(size_t topic_len, size_t payload_len, int qos);
size_t tw__mqtt_publish_size_x(size_t topic_len, size_t payload_len, int qos, size_t extra);

/* "CONNECT", "PUBLISH", ...; "reserved" for 0 and 15. */
const char *tw__mqtt_type_name(uint8_t type);

#endif
