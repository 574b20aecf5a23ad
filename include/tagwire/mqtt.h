/*
 * tagwire/mqtt.h - MQTT 3.1.1 and 5.0 client session over a tw_transport.
 *
 * A tw_mqtt_client speaks MQTT 3.1.1 (protocol level 4, the default) or MQTT 5.0 (level 5, see
 * tw_mqtt_options.protocol_version) over any tw_transport (mutual TLS from
 * tagwire/tls.h, or a custom transport). It never blocks unless a function says so: it is driven
 * either by tw_mqtt_client_step() (waits up to a timeout, then does all pending work) or by the
 * caller's own poll loop: wait for tw_mqtt_client_fd() to be ready for tw_mqtt_client_events(),
 * at most tw_mqtt_client_timeout_ms(), then call tw_mqtt_client_process().
 *
 * Features: CONNECT with will, credentials, client id, keep-alive; PUBLISH QoS 0 and 1 with a
 * bounded in-flight window and PUBACK tracking; SUBSCRIBE / UNSUBSCRIBE; PINGREQ on demand; incoming
 * PUBLISH QoS 0 and 1; keep-alive with a response timeout; clean DISCONNECT; automatic reconnect
 * with exponential back-off and full jitter. QoS 2 is not supported (subscriptions are limited to
 * QoS 1, so a conforming broker never sends QoS 2). Persistent sessions (clean session = 0) are not
 * supported: the client always connects with clean session, which Sparkplug B requires anyway.
 *
 * Ordering and acknowledgement tokens. Every packet the client queues for the broker (PUBLISH,
 * SUBSCRIBE, UNSUBSCRIBE, PINGREQ) gets a token: a 64-bit number, strictly increasing over the
 * client's whole life (never reused, also across reconnects). A broker processes the packets of one
 * connection in order, so an acknowledgement (PUBACK, SUBACK, UNSUBACK, PINGRESP) of the packet
 * with token T proves that the broker received every packet queued on the same connection with a
 * token below T, QoS 0 publishes included. tw_mqtt_client_confirmed() returns that watermark; the
 * ack callback reports each acknowledgement with its token, in the order the broker sent them.
 * A store-and-forward layer can therefore trim everything up to the watermark, and send
 * tw_mqtt_client_ping() after a batch of QoS 0 publishes to learn when the batch arrived.
 * "Received" is not "accepted": see ACLs below.
 *
 * ACL refusals. An MQTT 3.1.1 broker has no way to tell a client that a PUBLISH or a SUBSCRIBE was
 * refused by its access control. Observed with Mosquitto 2.0.11 (the interop tests pin this down):
 * a refused QoS 0 publish is dropped silently; a refused QoS 1 publish is answered with an ordinary
 * PUBACK (so it is "confirmed" although no subscriber gets it); a SUBSCRIBE to a filter the client
 * may not read is granted and simply delivers nothing. Only the broker's log shows the denial.
 * One exception: with "max_queued_messages 0" Mosquitto 2.0.11 closes the connection right after
 * denying a QoS 0 publish; the client sees TW_ERR_CLOSED and nothing after it is confirmed.
 * With protocol_version 5 a refused QoS 1 publish is reported: its ack has status
 * TW_ERR_MQTT_NOT_AUTHORIZED and reason_code 0x87. QoS 0 refusals stay invisible (QoS 0 has no
 * acknowledgement) and Mosquitto 2.0.11 still grants an unreadable SUBSCRIBE. Publish with QoS 1
 * and MQTT 5 where a refusal must not go unnoticed. A refused CONNECT is always visible:
 * TW_ERR_MQTT_NOT_AUTHORIZED (Mosquitto answers a wrong password with 5, or 0x87 in MQTT 5).
 *
 * Memory. All buffers are allocated by tw_mqtt_client_new(): an input buffer of max_packet_size
 * bytes, an output ring of out_buffer_size bytes, and the in-flight table of max_inflight entries.
 * Nothing is allocated per message: publish copies the packet into the output ring (TW_ERR_FULL
 * when the ring has no room now: drive the client and retry) and incoming messages are delivered
 * from the input buffer.
 *
 * Threading: a client is driven by one thread at a time; nothing here is TW_THREADSAFE. Callbacks
 * run on the thread that drives the client, inside tw_mqtt_client_step(), _process(), _connect*()
 * or _disconnect(). From a callback you may call tw_mqtt_client_publish(), _subscribe(),
 * _unsubscribe(), _ping(), _state(), _confirmed(), _last_error() and friends on the same client;
 * you must not call tw_mqtt_client_free(), _step(), _process(), _connect_blocking() or
 * _disconnect() on it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_MQTT_H
#define TAGWIRE_MQTT_H

#include "transport.h"

TW_BEGIN_DECLS

typedef struct tw_mqtt_client tw_mqtt_client;

/* Connection state as seen by the state callback and tw_mqtt_client_state(). */
typedef enum tw_mqtt_state {
    TW_MQTT_DISCONNECTED = 0, /* idle: never connected, disconnected, or reconnect disabled */
    TW_MQTT_CONNECTING = 1,   /* transport connecting or CONNACK awaited */
    TW_MQTT_CONNECTED = 2,    /* CONNACK accepted */
    TW_MQTT_WAITING = 3       /* connection lost or refused; reconnect after the back-off delay */
} tw_mqtt_state;

/* tw_mqtt_options.keep_alive_s: no keep-alive (0 selects the default, 60 s). */
#define TW_MQTT_KEEPALIVE_OFF 0xFFFFu
/* tw_mqtt_options.reconnect values. */
#define TW_MQTT_RECONNECT_DEFAULT 0 /* = TW_MQTT_RECONNECT_ON */
#define TW_MQTT_RECONNECT_ON 1
#define TW_MQTT_RECONNECT_OFF (-1)

#define TW_MQTT_OPTIONS_VERSION 2 /* 2 added allow_plaintext_credentials; 1 is still accepted */

typedef struct tw_mqtt_options {
    uint32_t version;             /* TW_MQTT_OPTIONS_VERSION */
    const char *host;             /* broker host name or address (required); copied */
    uint16_t port;                /* broker port (required) */
    const char *client_id;        /* copied; NULL or "" = empty id (the broker assigns one) */
    const char *username;         /* copied; NULL = none */
    const void *password;         /* copied; NULL = none (a password requires a username) */
    size_t password_len;
    uint16_t keep_alive_s;        /* keep-alive in seconds; 0 = default (60);
                                     TW_MQTT_KEEPALIVE_OFF = no keep-alive (so 65534 s is the
                                     longest keep-alive) */
    uint32_t ping_timeout_ms;     /* PINGRESP awaited at most this long; 0 = keep-alive (min 1 s) */
    /* Will message, sent by the broker when the connection ends without DISCONNECT. */
    const char *will_topic;       /* copied; NULL = no will */
    const void *will_payload;     /* copied */
    size_t will_payload_len;
    int will_qos;                 /* 0 or 1 */
    int will_retain;              /* non-zero: retained */
    /* Limits (0 = default). */
    uint32_t max_packet_size;     /* largest incoming packet, fixed header included; 256 KiB */
    uint32_t out_buffer_size;     /* output ring; bounds the largest outgoing packet; 256 KiB */
    uint16_t max_inflight;        /* QoS 1 publishes + (un)subscribes awaiting an ack; 64 */
    uint32_t connect_timeout_ms;  /* transport connect + CONNACK; 10000 */
    /* Reconnect: after a lost or refused connection, wait a random delay in
     * [0, min(reconnect_max_ms, reconnect_min_ms * 2^attempt)] and connect again. */
    int reconnect;                /* 0 = default (reconnect automatically); TW_MQTT_RECONNECT_OFF
                                     (any negative value): never reconnect, the application
                                     calls tw_mqtt_client_connect() again itself */
    uint32_t reconnect_min_ms;    /* 0 = default (500) */
    uint32_t reconnect_max_ms;    /* 0 = default (30000) */
    /* Protocol: 4 = MQTT 3.1.1 (default; 0 means 4), 5 = MQTT 5.0. With 5 the broker's reason codes
     * become visible: a PUBACK or SUBACK refusal (e.g. 0x87 by ACL) is reported in the ack, a
     * DISCONNECT from the broker ends the connection with its reason in the message, and the
     * broker's Receive Maximum / Maximum Packet Size / Maximum QoS / Retain Available / Server
     * Keep Alive are honoured. Our Maximum Packet Size (max_packet_size) is announced to it. */
    int protocol_version;
    /* Version 2. A password is sent only over a secure transport (tw_transport_is_secure(): TLS);
     * over plain TCP tw_mqtt_client_new() refuses it with TW_ERR_TLS_INSECURE unless this is
     * non-zero (the password then crosses the network in clear: test set-ups only). A version 1
     * struct behaves as 0. */
    int allow_plaintext_credentials;
} tw_mqtt_options;

#define TW_MQTT_OPTIONS_INIT                                                                        \
    { TW_MQTT_OPTIONS_VERSION, NULL, 0, NULL, NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0,                \
      0, 0, 0, 0, TW_MQTT_RECONNECT_DEFAULT, 0, 0, 0, 0 }

/* An incoming application message. Every pointer is valid only during the callback. */
typedef struct tw_mqtt_message {
    const char *topic;       /* NUL-terminated, valid UTF-8 */
    size_t topic_len;
    const void *payload;     /* may be NULL when payload_len is 0 */
    size_t payload_len;
    int qos;                 /* 0 or 1 */
    int retain;              /* non-zero: a retained message (sent because we subscribed) */
    int dup;                 /* non-zero: the broker may have sent it before */
    uint16_t packet_id;      /* 0 for QoS 0 */
} tw_mqtt_message;

/*
 * Message callback: one call per incoming PUBLISH, in arrival order, on the thread driving the
 * client. A QoS 1 message is acknowledged (PUBACK queued) right after the callback returns.
 */
typedef void (*tw_mqtt_message_fn)(tw_mqtt_client *client, const tw_mqtt_message *msg,
                                   void *user_data);

typedef enum tw_mqtt_ack_type {
    TW_MQTT_ACK_PUBACK = 1,   /* a QoS 1 PUBLISH */
    TW_MQTT_ACK_SUBACK = 2,   /* a SUBSCRIBE */
    TW_MQTT_ACK_UNSUBACK = 3, /* an UNSUBSCRIBE */
    TW_MQTT_ACK_PINGRESP = 4  /* a PINGREQ (on demand or keep-alive) */
} tw_mqtt_ack_type;

typedef struct tw_mqtt_ack {
    tw_mqtt_ack_type type;
    uint64_t token;          /* the token the request got when it was queued */
    uint16_t packet_id;      /* 0 for PINGRESP */
    /* TW_OK: acknowledged. TW_ERR_MQTT_SUBSCRIBE_FAILED: SUBACK 0x80 (or, MQTT 5, any SUBACK
     * reason code >= 0x80). MQTT 5 only: TW_ERR_MQTT_NOT_AUTHORIZED (PUBACK 0x87, refused by ACL),
     * TW_ERR_MQTT_REJECTED (another PUBACK or UNSUBACK reason code >= 0x80). TW_ERR_CLOSED: the
     * connection ended before the ack arrived (the broker may or may not have the packet). */
    tw_status status;
    int granted_qos;         /* SUBACK: 0 or 1 granted, -1 on failure; else 0 */
    int reason_code;         /* the code the broker sent (SUBACK return code; MQTT 5 reason code;
                                0 for success and for PINGRESP), -1 when the connection ended */
} tw_mqtt_ack;

/*
 * Ack callback: one call per acknowledgement, in the order the broker sent them, and one call with
 * status TW_ERR_CLOSED per request still unacknowledged when a connection ends (PINGREQs
 * included), in token order. Runs on the thread driving the client.
 */
typedef void (*tw_mqtt_ack_fn)(tw_mqtt_client *client, const tw_mqtt_ack *ack, void *user_data);

/*
 * State callback: called at every state change. `reason` is TW_OK for connects and requested
 * disconnects, else the status that ended or refused the connection (its message is in
 * tw_mqtt_client_last_error()). Runs on the thread driving the client.
 */
typedef void (*tw_mqtt_state_fn)(tw_mqtt_client *client, tw_mqtt_state state, tw_status reason,
                                 void *user_data);

/*
 * Creates a client that will talk to opts->host:opts->port over `transport`. On success the client
 * owns the transport (tw_mqtt_client_free() frees it); on failure the caller still owns it. Nothing
 * is sent before tw_mqtt_client_connect().
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG (missing host/port/transport, will QoS > 1,
 * password without username, invalid will topic, limits out of range; the message names it),
 * TW_ERR_TLS_INSECURE (a password over a transport that is not secure without
 * allow_plaintext_credentials; logged at ERROR), TW_ERR_VERSION (version not 1 or 2), TW_ERR_NOMEM.
 * `out` is set to NULL on failure; the message is in tw_last_error() on the calling thread
 * ("mqtt: options: ...").
 */
TW_API tw_status tw_mqtt_client_new(tw_mqtt_client **out, tw_transport *transport,
                                    const tw_mqtt_options *opts);

/* Closes the connection without DISCONNECT (the broker sends the will) and frees everything.
 * NULL is ignored. No callback is called. */
TW_API void tw_mqtt_client_free(tw_mqtt_client *c);

/* Registers the callbacks (fn NULL = none). May be called at any time from the driving thread. */
TW_API void tw_mqtt_client_set_message_cb(tw_mqtt_client *c, tw_mqtt_message_fn fn, void *user_data);
TW_API void tw_mqtt_client_set_ack_cb(tw_mqtt_client *c, tw_mqtt_ack_fn fn, void *user_data);
TW_API void tw_mqtt_client_set_state_cb(tw_mqtt_client *c, tw_mqtt_state_fn fn, void *user_data);

/*
 * Starts connecting (non-blocking); progress happens in _step()/_process(). Also re-enables
 * automatic reconnect after tw_mqtt_client_disconnect(). Errors: TW_ERR_BUSY (not disconnected).
 */
TW_API tw_status tw_mqtt_client_connect(tw_mqtt_client *c);

/*
 * Connects and waits (blocking) up to timeout_ms (< 0: the connect timeout of the options) for
 * CONNACK. Returns TW_OK when connected; otherwise the first failure: TW_ERR_MQTT_REFUSED,
 * TW_ERR_MQTT_NOT_AUTHORIZED (CONNACK return code in the message), transport errors
 * (TW_ERR_CONN_REFUSED, TW_ERR_TLS_*...), TW_ERR_MQTT_MALFORMED, TW_ERR_TIMEOUT. After a failure the
 * client is DISCONNECTED (no automatic reconnect until tw_mqtt_client_connect()).
 */
TW_API tw_status tw_mqtt_client_connect_blocking(tw_mqtt_client *c, int timeout_ms);

/*
 * Sends DISCONNECT, waits up to timeout_ms for it to be written, closes the transport and stops
 * reconnecting (state DISCONNECTED; no will is published). Unacknowledged requests are reported to
 * the ack callback with TW_ERR_CLOSED. Returns TW_OK, or TW_ERR_TIMEOUT when DISCONNECT could not be
 * written in time (the connection is closed anyway). Safe when not connected.
 */
TW_API tw_status tw_mqtt_client_disconnect(tw_mqtt_client *c, int timeout_ms);

/*
 * Waits up to timeout_ms (0 = do not wait, -1 = until something happens) for the transport or a
 * timer, then does all pending work: connect progress, reading and dispatching packets, writing the
 * output ring, keep-alive, reconnect. Returns TW_OK, or the status that ended the connection during
 * this call (then the state is WAITING or DISCONNECTED and tw_mqtt_client_last_error() says why);
 * a caller may keep calling step after an error: the client reconnects by itself when enabled.
 * Errors: TW_ERR_MQTT_MALFORMED, TW_ERR_MQTT_TOO_LARGE, TW_ERR_PROTOCOL, TW_ERR_MQTT_KEEPALIVE,
 * TW_ERR_MQTT_REFUSED, TW_ERR_MQTT_NOT_AUTHORIZED, TW_ERR_CLOSED, TW_ERR_TIMEOUT, transport errors.
 * MQTT 5: a DISCONNECT from the broker ends the connection with TW_ERR_MQTT_NOT_AUTHORIZED
 * (reason 0x87), TW_ERR_MQTT_KEEPALIVE (0x8D), TW_ERR_MQTT_TOO_LARGE (0x95) or TW_ERR_CLOSED.
 */
TW_API tw_status tw_mqtt_client_step(tw_mqtt_client *c, int timeout_ms);

/* For callers with their own poll loop: the descriptor to poll (-1 when there is none, e.g. while
 * waiting to reconnect), the TW_POLL_* events to wait for, and the longest time (ms) the caller may
 * wait before calling tw_mqtt_client_process() (-1 = no timer pending). */
TW_API int tw_mqtt_client_fd(const tw_mqtt_client *c);
TW_API unsigned tw_mqtt_client_events(const tw_mqtt_client *c);
TW_API int tw_mqtt_client_timeout_ms(const tw_mqtt_client *c);

/* Does all pending work without waiting (as tw_mqtt_client_step(c, 0)). Same returns as step. */
TW_API tw_status tw_mqtt_client_process(tw_mqtt_client *c);

/*
 * Queues a PUBLISH of `payload` (len bytes, may be NULL when len is 0) to `topic` (valid UTF-8,
 * 1..65535 bytes, no wildcard '+' or '#') with QoS 0 or 1. The packet is copied into the output
 * ring: the caller's buffers may be reused at once. `token` (may be NULL) receives the packet's
 * token; a QoS 1 publish is reported to the ack callback with it. No allocation.
 * Errors: TW_ERR_MQTT_NOT_CONNECTED, TW_ERR_INVALID_ARG (topic, QoS), TW_ERR_MQTT_TOO_LARGE (the
 * packet can never fit the output ring), TW_ERR_FULL (no room in the ring now: drive the client and
 * retry), TW_ERR_MQTT_INFLIGHT_FULL (QoS 1 window full: wait for PUBACKs).
 */
TW_API tw_status tw_mqtt_client_publish(tw_mqtt_client *c, const char *topic, const void *payload,
                                        size_t len, int qos, int retain, uint64_t *token);

/*
 * Queues a SUBSCRIBE of one topic filter (valid UTF-8; '+' and '#' only as whole levels, '#' last)
 * with the maximum QoS 0 or 1. The SUBACK is reported to the ack callback (status
 * TW_ERR_MQTT_SUBSCRIBE_FAILED when the broker refused, e.g. by ACL). `token` may be NULL.
 * Subscriptions do not survive a reconnect (clean session): subscribe again from the state callback.
 * Errors: TW_ERR_MQTT_NOT_CONNECTED, TW_ERR_INVALID_ARG, TW_ERR_FULL, TW_ERR_MQTT_INFLIGHT_FULL.
 */
TW_API tw_status tw_mqtt_client_subscribe(tw_mqtt_client *c, const char *filter, int qos,
                                          uint64_t *token);

/* Queues an UNSUBSCRIBE of one topic filter; UNSUBACK goes to the ack callback. Errors as above. */
TW_API tw_status tw_mqtt_client_unsubscribe(tw_mqtt_client *c, const char *filter, uint64_t *token);

/*
 * Queues a PINGREQ now. Its PINGRESP is reported to the ack callback with `token`, and moves the
 * confirmed watermark to it: every packet queued before the ping on this connection has reached
 * the broker. At most 8 pings may be outstanding. Errors: TW_ERR_MQTT_NOT_CONNECTED, TW_ERR_FULL.
 */
TW_API tw_status tw_mqtt_client_ping(tw_mqtt_client *c, uint64_t *token);

/* Waits (blocking, driving the client) up to timeout_ms until every request queued so far is
 * acknowledged or failed. The callbacks run inside it, on the calling thread, as inside
 * tw_mqtt_client_step(); like _step() it must not be called from a callback.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_MQTT_NOT_CONNECTED (not connected when called), TW_ERR_TIMEOUT,
 * or the status that ended the connection. */
TW_API tw_status tw_mqtt_client_flush(tw_mqtt_client *c, int timeout_ms);

/*
 * The confirmed watermark: the largest token T such that the broker has acknowledged T or a later
 * request of the same connection, so every packet with a token <= T queued on the current (or, once
 * disconnected, the last) connection reached the broker. 0 before the first acknowledgement.
 * When a connection ends (state callback with WAITING or DISCONNECTED), every packet with a token
 * above the watermark read at that moment is lost for good: re-publish it. Acknowledgements on the
 * next connection move the watermark past those old tokens without confirming them.
 */
TW_API uint64_t tw_mqtt_client_confirmed(const tw_mqtt_client *c);

/* The token the next queued packet will get (all tokens handed out so far are smaller). */
TW_API uint64_t tw_mqtt_client_next_token(const tw_mqtt_client *c);

/* Requests awaiting an acknowledgement (QoS 1 publishes, (un)subscribes), PINGREQs excluded. */
TW_API size_t tw_mqtt_client_inflight(const tw_mqtt_client *c);

/* Bytes queued in the output ring and not yet written to the transport. */
TW_API size_t tw_mqtt_client_pending_bytes(const tw_mqtt_client *c);

/* The connection state (TW_MQTT_DISCONNECTED for c NULL). The state callback reports every
 * change; this is the same value, for polling. Driving thread (or a callback). */
TW_API tw_mqtt_state tw_mqtt_client_state(const tw_mqtt_client *c);

/* "disconnected", "connecting", "connected", "waiting". Static. */
TW_API const char *tw_mqtt_state_name(tw_mqtt_state state);

/* The last error's message ("" when none); valid until the next call on the client. */
TW_API const char *tw_mqtt_client_last_error(const tw_mqtt_client *c);
/* The last error's status (TW_OK when none). */
TW_API tw_status tw_mqtt_client_last_status(const tw_mqtt_client *c);

/* The transport the client owns (e.g. to query tw_transport_is_secure()). Do not free it. */
TW_API tw_transport *tw_mqtt_client_transport(tw_mqtt_client *c);

/* Checks a topic name for PUBLISH (UTF-8, 1..65535 bytes, no U+0000, no wildcards). TW_OK or
 * TW_ERR_INVALID_ARG. TW_THREADSAFE. */
TW_API TW_THREADSAFE tw_status tw_mqtt_topic_check(const char *topic);
/* Checks a topic filter for SUBSCRIBE. TW_OK or TW_ERR_INVALID_ARG. TW_THREADSAFE. */
TW_API TW_THREADSAFE tw_status tw_mqtt_filter_check(const char *filter);

TW_END_DECLS

#endif /* TAGWIRE_MQTT_H */
