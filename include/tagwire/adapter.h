/*
 * tagwire/adapter.h - reading and writing machine data through protocol adapters.
 *
 * A tw_device is one connection to one device (a PLC, a meter, a simulator), opened by URI:
 *
 *   modbus+tcp://192.168.1.20:502?unit=1        Modbus TCP (plaintext by definition of the protocol)
 *   modbus+tls://plc.local:802?unit=1&ca=ca.pem&cert=me.pem&key=me.key
 *                                                Modbus/TCP Security (mutual TLS 1.2+, port 802)
 *   modbus+rtu:///dev/ttyUSB0?baud=19200&parity=N&unit=1   Modbus RTU over a serial line
 *   sim://                                       deterministic simulated signals
 *
 * The adapter is chosen by the URI scheme; vendors register their own (tagwire/sys/adapter.h).
 * Items are added to a device by address string (syntax per adapter: docs/addresses.md); the address
 * is parsed and validated when it is added, so a bad address fails at configuration time with a
 * message naming the problem, never later at run time.
 *
 * Reads are synchronous and bounded: tw_device_read() returns after every item has a value or a
 * bad quality, within the device's timeouts. It never throws a value away: when a read fails, the
 * item keeps its last value and only its quality and timestamp change (so a tag sees
 * "last known value, bad-comm-failure"). A device that is down is not retried on every read: the
 * adapter reconnects with exponential back-off and answers TW_QUALITY_BAD_NOT_CONNECTED meanwhile.
 *
 * tw_poller runs groups of items at fixed scan rates on the caller's thread (drift-free, slow
 * devices skip cycles instead of piling up) and keeps statistics per group;
 * tw_device_stats_get() gives statistics per connection.
 *
 * Threading: a tw_device and a tw_poller are driven by one thread at a time; nothing here is
 * TW_THREADSAFE except tw_adapter_check_address(). Different devices may be used on different
 * threads concurrently.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_ADAPTER_H
#define TAGWIRE_ADAPTER_H

#include "core.h"
#include "transport.h"
#include "types.h"

TW_BEGIN_DECLS

typedef struct tw_device tw_device;

/* One item's value as read: value, quality and timestamp (ns since the Unix epoch, UTC; the
 * device's own timestamp when the protocol has one, else the time the response arrived). */
typedef struct tw_sample {
    tw_value value;
    tw_quality quality;
    int64_t timestamp_ns;
} tw_sample;

struct tw_tls_config; /* tagwire/tls.h */
struct tw_tls_info;   /* tagwire/tls.h */

/* Layout versions: 1 ends at `transport`; 2 adds `tls`. Version 1 structs are still accepted. */
#define TW_DEVICE_OPTIONS_VERSION 2
typedef struct tw_device_options {
    uint32_t version;            /* TW_DEVICE_OPTIONS_VERSION (or 1) */
    uint32_t timeout_ms;         /* per request (one Modbus transaction); 0 = 1000 */
    uint32_t connect_timeout_ms; /* 0 = 3000 */
    uint32_t reconnect_min_ms;   /* back-off base after a failed connect or a lost link; 0 = 200 */
    uint32_t reconnect_max_ms;   /* back-off cap; 0 = 30000 */
    /* Optional transport to use instead of the one the adapter would create (e.g. a mutual-TLS
     * transport from tw_transport_new_tls() for modbus+tls://, or an in-memory one in tests).
     * Ownership passes to the device when tw_device_open() succeeds (freed by tw_device_free());
     * on failure it stays with the caller. Adapters that do not use byte streams reject it. */
    tw_transport *transport;
    /* version 2: a TLS config (tagwire/tls.h: trust anchors, client certificate and key, pins,
     * CRL, server name, versions) for modbus+tls:// instead of the ca/cert/key/... URI
     * parameters (then the URI must not carry them). Use it for an encrypted key, a key held by a
     * token (tw_tls_config_set_credentials_signer), credential rotation without reopening, or one
     * config shared by many devices. The device takes its own reference: the caller still owns
     * (and frees) its own. modbus+tcp and modbus+rtu reject it; adapters without TLS ignore it. */
    struct tw_tls_config *tls;
} tw_device_options;
#define TW_DEVICE_OPTIONS_INIT { TW_DEVICE_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL }

/*
 * Opens a device by URI. Connecting happens on the first read or write (and again after a loss),
 * so opening succeeds while the device is off. URI query parameters are adapter specific (Modbus:
 * unit, max_gap, max_regs, max_bits, pipeline, single_write, ... see docs/addresses.md); an unknown
 * parameter is an error. `opts` may be NULL.
 *
 * modbus+tcp:// is plaintext by definition (one INFO log line at open says so); no TLS parameter is
 * accepted there. modbus+tls:// (Modbus/TCP Security, default port 802) always runs mutual TLS 1.2
 * or 1.3 with the policy of tagwire/tls.h. Its credentials come from, in this order:
 * opts->transport (a TLS transport you built), opts->tls (a tw_tls_config), or the URI parameters
 * ca=FILE (trust anchors; required), cert=FILE and key=FILE (our client certificate chain and
 * unencrypted key; required: the protocol mandates mutual authentication), servername=NAME (name
 * the server certificate must carry; default: the URI host), pin=sha256/BASE64 (repeatable),
 * crl=FILE. A role for servers that authorise by role (Modbus/TCP Security) is carried in
 * OUR client certificate (extension TW_TLS_MODBUS_ROLE_OID, a UTF8String): it is chosen by whoever
 * issues the certificate, not by a parameter. File names are read once, at open.
 * A TLS failure at connect (TW_ERR_TLS_*) is reported by tw_device_read/tw_device_write like a
 * refused connection: items get TW_QUALITY_BAD_NOT_CONNECTED and the device retries with back-off.
 *
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_PARSE (malformed URI, or a
 * certificate/key/CRL file that does not parse), TW_ERR_NO_ADAPTER (unknown scheme), TW_ERR_CONFIG
 * (bad or missing parameter; the message names it), TW_ERR_NOT_FOUND (a ca/cert/key/crl file that
 * cannot be read; the message names the parameter, the file and the reason), TW_ERR_TLS_CREDENTIALS
 * (the key does not match the certificate), TW_ERR_TLS_INSECURE (modbus+tls given a plaintext
 * transport), TW_ERR_VERSION, TW_ERR_NOMEM. Error detail: tw_last_error() on the calling thread
 * ("adapter: ..."; see "Error detail" in tagwire/common.h).
 */
TW_API tw_status tw_device_open(tw_device **out, const char *uri, const tw_device_options *opts);

/* Closes the connection and releases the device and its items. NULL is ignored. */
TW_API void tw_device_free(tw_device *dev);

/*
 * Adds an item by address (e.g. "holding-register:40001:FLOAT32:CDAB"). *id_out receives the item
 * id (0, 1, 2, ... in order of addition). The item starts with TW_QUALITY_BAD_WAITING_FOR_INITIAL.
 * Errors: TW_ERR_ADDRESS (the last error names the problem), TW_ERR_UNSUPPORTED (valid syntax the
 * adapter cannot serve yet, e.g. arrays), TW_ERR_NOMEM.
 */
TW_API tw_status tw_device_add_item(tw_device *dev, uint32_t *id_out, const char *address);

/* The number of items added so far. */
TW_API size_t tw_device_item_count(const tw_device *dev);

/* The value type an item delivers (TW_TYPE_NONE for an unknown id). */
TW_API tw_type tw_device_item_type(const tw_device *dev, uint32_t id);

/*
 * Reads `n` items (ids may repeat and come in any order; the adapter coalesces them into as few
 * requests as it can) and stores one sample per item in out[0..n-1]. Blocks for at most the
 * device's timeouts. Every sample is filled in even on failure: a failed item carries its last
 * value (TW_TYPE_NONE if it never had one) with a bad quality.
 * STRING values point into memory owned by the device, valid until the next read or write on it.
 * Returns TW_OK when every item is good, otherwise the first failure (TW_ERR_TIMEOUT,
 * TW_ERR_MODBUS_EXCEPTION, TW_ERR_PROTOCOL, TW_ERR_CRC, TW_ERR_CONN_REFUSED, TW_ERR_CLOSED, ...;
 * TW_ERR_ADAPTER when the adapter reported success but an item is bad) with the detail in
 * tw_device_last_error(); TW_ERR_INVALID_ARG for an unknown id (then nothing is read).
 */
TW_API tw_status tw_device_read(tw_device *dev, const uint32_t *ids, size_t n, tw_sample *out);

/*
 * Writes one item and waits for the device's confirmation. The value may be of any numeric type
 * (or bool) that fits the item's type exactly (TW_ERR_RANGE otherwise); strings need a STRING.
 * Errors: as tw_device_read(), plus TW_ERR_TYPE_MISMATCH, TW_ERR_RANGE, TW_ERR_UNSUPPORTED
 * (read-only item such as an input register).
 */
TW_API tw_status tw_device_write(tw_device *dev, uint32_t id, const tw_value *value);

/* ---- Push (optional; adapters of protocols with subscriptions) ----------------------------------
 * The v1 read path is a blocking read with a timeout (simple to drive, and what polled protocols
 * such as Modbus need). Protocols that push values (OPC UA subscriptions, vendor links) additionally
 * offer tw_device_subscribe(): the caller then waits on tw_device_fds() in its own poll loop and
 * calls tw_device_process() when one is ready; pushed samples arrive through the callback. */

/* Called from tw_device_process() (the caller's thread) for each pushed sample. The sample is
 * valid only during the call. */
typedef void (*tw_device_push_fn)(uint32_t id, const tw_sample *sample, void *user_data);

/* Subscribes items for push (replacing an earlier subscription; `ids` is copied). `user_data` is
 * passed to fn and must stay valid until the device is freed or subscribed again. Errors:
 * TW_ERR_UNSUPPORTED (the adapter only polls), TW_ERR_INVALID_ARG (NULL argument, n 0, unknown
 * id), TW_ERR_NOMEM, adapter-specific errors (message in tw_device_last_error()). */
TW_API tw_status tw_device_subscribe(tw_device *dev, const uint32_t *ids, size_t n, tw_device_push_fn fn,
                                     void *user_data);

/* Writes up to `max` descriptors and their wanted events (TW_POLL_IN/TW_POLL_OUT) to poll for
 * push-capable devices; returns how many. Never fails: 0 for poll-only adapters, for a NULL
 * argument or max <= 0. The descriptors stay owned by the device (do not close them) and may
 * change after tw_device_process(): ask again before every wait. */
TW_API int tw_device_fds(tw_device *dev, int *fds, unsigned *events, int max);

/* Processes what is ready without blocking (delivering pushed samples through the subscribe
 * callback, on the calling thread). Errors: TW_ERR_INVALID_ARG (dev NULL), TW_ERR_UNSUPPORTED
 * (poll-only adapter), or the adapter's error (e.g. TW_ERR_CLOSED, TW_ERR_PROTOCOL; message in
 * tw_device_last_error()). */
TW_API tw_status tw_device_process(tw_device *dev);

/* The last error's message for this device ("" when none). Valid until the next call on it. */
TW_API const char *tw_device_last_error(const tw_device *dev);
/* The last error's status for this device (TW_OK when none; TW_ERR_INVALID_ARG for NULL). */
TW_API tw_status tw_device_last_status(const tw_device *dev);

/* The URI scheme of the device's adapter ("modbus+tcp", ...). Static for the device's life. */
TW_API const char *tw_device_scheme(const tw_device *dev);

/*
 * Describes the TLS connection of a device whose adapter runs over TLS (modbus+tls://): protocol
 * version, cipher suite, server certificate subject and expiry, and (tw_tls_info version 2) the
 * Modbus/TCP Security role of our certificate (own_role) and of the server's, if its certificate
 * carries one (peer_role). `info->version` must be set by the caller (tagwire/tls.h).
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_UNSUPPORTED (the device has no TLS transport), TW_ERR_BUSY (not
 * connected now: read first), TW_ERR_VERSION.
 */
TW_API tw_status tw_device_tls_info(const tw_device *dev, struct tw_tls_info *info);

#define TW_DEVICE_STATS_VERSION 1
/* Statistics of one connection. Fields an adapter does not track stay 0. */
typedef struct tw_device_stats {
    uint32_t version;            /* set by the caller to TW_DEVICE_STATS_VERSION */
    int connected;               /* non-zero while the link is up */
    uint64_t requests;           /* protocol requests sent */
    uint64_t responses;          /* valid responses received (including exceptions) */
    uint64_t exceptions;         /* protocol-level error responses (Modbus exceptions) */
    uint64_t timeouts;           /* requests that got no answer in time */
    uint64_t protocol_errors;    /* malformed or mismatching responses */
    uint64_t connects;           /* successful connects */
    uint64_t connect_failures;   /* failed connect attempts */
    uint64_t disconnects;        /* links lost or closed after an error */
    uint64_t bytes_sent;
    uint64_t bytes_received;
    int64_t last_rtt_ns;         /* round trip of the last answered request */
    int64_t mean_rtt_ns;         /* mean round trip over all answered requests */
    int64_t max_rtt_ns;
    uint64_t reads;              /* tw_device_read() calls */
    uint64_t items_read;         /* item samples delivered */
    uint64_t items_bad;          /* ... of which with a bad quality */
    uint64_t writes;             /* tw_device_write() calls */
    uint64_t writes_failed;
} tw_device_stats;

/* Fills *out (whose version the caller sets). Errors: TW_ERR_INVALID_ARG, TW_ERR_VERSION. */
TW_API tw_status tw_device_stats_get(const tw_device *dev, tw_device_stats *out);

/*
 * Checks an address for the adapter of `scheme_or_uri` ("modbus+tcp" or a whole URI) without a
 * device or a connection: for validating configuration files and tag definitions. *type_out (may
 * be NULL) receives the value type. On failure a message naming the problem is written to `err`
 * (may be NULL; truncated to err_size) and also recorded for tw_last_error() ("adapter: ...").
 * Errors: TW_ERR_NO_ADAPTER, TW_ERR_ADDRESS, TW_ERR_UNSUPPORTED. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_adapter_check_address(const char *scheme_or_uri, const char *address,
                                                       tw_type *type_out, char *err, size_t err_size);

/* Writes the registered schemes, comma-separated, into buf (truncated to len). Returns the count. */
TW_API TW_THREADSAFE size_t tw_adapter_list(char *buf, size_t len);

/* ---- Poll scheduler ---------------------------------------------------------------------------- */

typedef struct tw_poller tw_poller;

/*
 * Called once per executed cycle of a group, on the thread inside tw_poller_step(), with one sample
 * per item of the group (in the order given to tw_poller_add_group()). `samples` is valid only
 * during the call. The callback may read statistics but must not add groups or free the poller.
 */
typedef void (*tw_poll_fn)(uint32_t group, const uint32_t *ids, const tw_sample *samples, size_t n,
                           void *user_data);

/* Creates an empty poller. Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_NOMEM
 * (detail in tw_last_error()). */
TW_API tw_status tw_poller_new(tw_poller **out);
/* Releases the poller (not the devices). NULL is ignored. */
TW_API void tw_poller_free(tw_poller *p);

/*
 * Adds a group: the items `ids[0..n-1]` of `dev` (which must outlive the poller), read every
 * `rate_ms` milliseconds (>= 1). The first cycle is due at once. The ids are copied.
 * Errors: TW_ERR_INVALID_ARG (unknown id, rate 0, n 0), TW_ERR_NOMEM.
 */
TW_API tw_status tw_poller_add_group(tw_poller *p, uint32_t *group_out, tw_device *dev, uint32_t rate_ms,
                                     const uint32_t *ids, size_t n, tw_poll_fn fn, void *user_data);

/*
 * Runs every group that is due, then returns; when none is due, first sleeps until the next one is
 * due but at most max_wait_ms (0 = do not sleep, -1 = until one is due). Timing is drift-free:
 * cycle k of a group is due at start + k * rate. When a cycle ends after the next one was due (a slow
 * device), the missed cycles are skipped and counted, never run late in a burst.
 * Returns TW_OK when at least one group ran, TW_ERR_TIMEOUT when none was due in time.
 */
TW_API tw_status tw_poller_step(tw_poller *p, int max_wait_ms);

/* Milliseconds until the next group is due (0 when one is due now, -1 when there are no groups). */
TW_API int64_t tw_poller_next_due_ms(const tw_poller *p);

#define TW_POLL_GROUP_STATS_VERSION 1
typedef struct tw_poll_group_stats {
    uint32_t version;          /* set by the caller to TW_POLL_GROUP_STATS_VERSION */
    uint32_t rate_ms;
    uint64_t cycles;           /* cycles executed */
    uint64_t skipped;          /* cycles skipped because the previous one overran */
    uint64_t failed_cycles;    /* cycles in which at least one item was bad */
    uint64_t items_bad;        /* bad samples over all cycles */
    int64_t last_duration_ns;  /* duration of the last cycle (the read round trip) */
    int64_t mean_duration_ns;
    int64_t max_duration_ns;
    int64_t max_lateness_ns;   /* worst start delay of a cycle after its due time */
} tw_poll_group_stats;

/* Fills *out for one group. Errors: TW_ERR_INVALID_ARG (unknown group), TW_ERR_VERSION. */
TW_API tw_status tw_poller_group_stats_get(const tw_poller *p, uint32_t group, tw_poll_group_stats *out);

TW_END_DECLS

#endif /* TAGWIRE_ADAPTER_H */
