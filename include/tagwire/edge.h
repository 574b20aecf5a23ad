/*
 * tagwire/edge.h - Sparkplug B 3.0 edge node session over one MQTT client.
 *
 * A tw_edge is the Sparkplug state machine of one edge node: it owns one MQTT connection (mutual
 * TLS by default) and publishes the tag sets the caller registers: the node's own tags as NBIRTH /
 * NDATA metrics, and one tag set per device as DBIRTH / DDATA / DDEATH. It answers NCMD / DCMD
 * (rebirth requests, writes to writable tags) and follows its primary host application's STATE.
 * It owns no thread, no adapter and no configuration file: the node runtime (or the application)
 * owns the tag sets, fills them, and drives the edge.
 *
 * Session (Sparkplug 3.0):
 *   - topics spBv1.0/<group>/<TYPE>/<edge node>[/<device>]; MQTT clean session (clean start);
 *   - every MQTT connection is a new session: bdSeq = previous bdSeq + 1 (0..255, wrapping), saved
 *     durably BEFORE connecting (in the tw_store given in the options, or in a file of state_dir:
 *     temporary file + fsync + rename + directory fsync), so a restart never reuses the bdSeq of
 *     the previous session;
 *   - NDEATH (payload: timestamp + bdSeq metric) is registered as the MQTT will, QoS 1, not
 *     retained; on a requested stop (tw_edge_stop()) it is also published explicitly before the
 *     MQTT DISCONNECT;
 *   - after CONNACK the edge subscribes (QoS 1) to spBv1.0/<group>/NCMD/<edge node>,
 *     spBv1.0/<group>/DCMD/<edge node>/+ and, with a primary host, spBv1.0/STATE/<host id>; then
 *     publishes NBIRTH (seq 0; metrics "bdSeq" (Int64), "Node Control/Rebirth" (Boolean false),
 *     then every node tag) and one DBIRTH per online device. Births carry each metric's name,
 *     alias, datatype, current value, timestamp and properties (engUnit, documentation, Quality);
 *   - NDATA / DDATA carry alias + timestamp + datatype + value (+ Quality property when not good)
 *     of the tags in the tag sets' change sets only (report by exception); no names. The datatype
 *     is kept although the specification says it SHOULD NOT be sent in DATA messages: decoders
 *     such as Eclipse Tahu's need it to read the value (two bytes a metric). seq runs 0..255 and
 *     wraps across NBIRTH, DBIRTH, NDATA, DDATA and DDEATH; NDEATH carries no seq;
 *   - aliases are unique across the whole edge node: node tags, then each device in the order it
 *     was added, get consecutive alias ranges (wire alias = range base + the tag's own alias; the
 *     ranges are recomputed at every NBIRTH). bdSeq and Node Control/Rebirth have aliases 0 and 1;
 *   - NCMD "Node Control/Rebirth" = true -> a new NBIRTH + DBIRTHs (same bdSeq, seq restarts at
 *     0); DCMD "Device Control/Rebirth" = true -> that device's DBIRTH. Any other NCMD/DCMD metric
 *     (by alias or name) that names a tag goes to tw_tag_write() (the tag's write callback decides;
 *     read-only tags are refused). The result shows in the next data message: a successful write
 *     whose callback sets the tag publishes the new value; after a refused or failed write the tag's
 *     current value is published again so that the host does not keep a value the device never
 *     took. Every command metric is reported through the event callback (TW_EDGE_EVENT_COMMAND).
 *   - Primary host awareness (primary_host_id set): the edge publishes births only after
 *     spBv1.0/STATE/<host id> said {"online":true,...}. A STATE message whose timestamp is older
 *     than the last one accepted is ignored (stale retained message); a malformed one is ignored
 *     and reported. When the host goes offline during a session, the edge ends that session as
 *     the specification asks (explicit NDEATH, MQTT DISCONNECT), reconnects at once (new bdSeq)
 *     and waits, connected, for the host. While the host is offline (or not yet known) no data is
 *     published: the changes are kept, in order, in the bounded memory queue. When the host comes
 *     back online: NBIRTH + DBIRTHs (with current values), then the queued changes as
 *     NDATA/DDATA with is_historical = true, oldest first, then live data again.
 *   - While the MQTT connection is down, changes are queued the same way (flagged historical) and
 *     replayed after the next births. Without a store, before the edge's first NBIRTH nothing is
 *     queued: the changes stay in the tag sets and the first births carry the current values.
 *   - Delivery watermark: a published DATA record leaves the edge only once the broker confirmed
 *     it (tw_mqtt_client_confirmed(): a PUBACK, or a PINGRESP to a ping sent after QoS 0
 *     publishes). Without a store, published records stay in the memory queue until then; when
 *     the connection drops, the unconfirmed ones are published again after the next births,
 *     flagged historical. The queue is bounded (queue_bytes): when it is full the oldest entries
 *     are dropped and counted (stats.queue_dropped); under back-pressure live changes wait in the
 *     tag sets (which keep the latest value per tag).
 *   - Store-and-forward (options.store set): the store is the single path of data. Every DATA
 *     change, live or not, is appended to the store first (before the first birth too: the
 *     births carry the current values and the stored ones follow, historical), read back in
 *     order (the memory queue serves as the read window), published, and acknowledged in the
 *     store once the broker confirmed the publish that carried it. After a lost connection, or a
 *     restart with the same store, everything unconfirmed is read again and published after the
 *     births flagged historical: duplicates are possible only inside that window and carry the
 *     same tag and timestamp as the first copy; nothing is lost short of the store's own
 *     overflow / age policy (counted in the store's stats). When the store refuses an append
 *     (overflow policy TW_STORE_REFUSE_NEW at max_bytes, or a full disk) that change is lost:
 *     counted (the store's refused_full / refused_no_space, stats.queue_dropped) and reported
 *     once when refusals begin (TW_EDGE_EVENT_ERROR with TW_ERR_FULL / TW_ERR_NO_SPACE, the
 *     last error, the return value of that step), not for every change; a warning with the
 *     number refused is logged when the store accepts again. Everything the store accepted
 *     before is still delivered, in order, and the tags' current values go out with the next
 *     birth. Records of a device that is offline
 *     (tw_edge_device_set_online(0)) or not registered when they are read are held back: neither
 *     published nor acknowledged (the store's watermark stops before the oldest held record)
 *     until the device is online / registered again (then the store is read again from its
 *     watermark, skipping what the broker already confirmed in this process) or removed with
 *     tw_edge_remove_device() (its records are then dropped). Held records keep later records in
 *     the store until they are delivered, so a long-offline device makes the store grow towards
 *     its max_bytes (and its overflow policy). A record names its device by id and its tag by
 *     alias, so the tag sets must be rebuilt the same way after a restart (same names in the same
 *     order, or explicit aliases). The edge is then the store's only reader.
 *
 * QoS decision (ACL refusals): Sparkplug 3.0 asks for QoS 0 on births and data, but over QoS 0 an
 * ACL refusal is silent (see tagwire/mqtt.h). tagwire's default is MQTT 5 + QoS 1 for births, data
 * and DDEATH (qos 0 = TW_EDGE_QOS_DEFAULT in the options): a refused publish comes back as a PUBACK with reason 0x87,
 * which the edge reports as TW_ERR_MQTT_NOT_AUTHORIZED (return value of tw_edge_step() /
 * tw_edge_process(), tw_edge_last_error(), stats.refused, TW_EDGE_EVENT_ERROR). Set qos = TW_EDGE_QOS0 for
 * strict conformance (then refusals are invisible). The NDEATH will is always QoS 1.
 *
 * Driving the edge: either tw_edge_step(e, timeout_ms) (waits on the MQTT socket AND the
 * descriptors of every registered tag set, then does all pending work), or a caller-owned poll
 * loop: poll tw_edge_fd() for tw_edge_events() and every registered tag set's tw_tagset_fd() for
 * input, at most tw_edge_timeout_ms(), then call tw_edge_process(). tw_edge_process() and
 * tw_edge_step() publish pending changes themselves; tw_edge_publish() does only that part, for a
 * caller that knows values just changed (e.g. right after a poll cycle).
 *
 * Memory: the data path (collect -> queue -> encode -> publish) does not allocate: the payload
 * buffer (max_payload bytes), the change array (max_metrics per message) and the queue
 * (queue_bytes) are allocated by tw_edge_new(); births allocate (not on the data path).
 *
 * Threading: one thread drives an edge at a time (tw_edge_new .. tw_edge_free); nothing here is
 * TW_THREADSAFE except where marked. The tags of registered tag sets may be set from any thread
 * (tw_tag_set_*, as tag.h says). Callbacks (the edge's event callback, tag write callbacks) run
 * on the driving thread, inside tw_edge_step(), _process(), _publish(), _rebirth(), _stop() or
 * _device_set_online(); from them you may call tw_edge_stats_get(), _state_get(), _last_error(),
 * tw_edge_rebirth() and tw_tag_set_*; not tw_edge_free(), _step(), _process() or _stop().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_EDGE_H
#define TAGWIRE_EDGE_H

#include "store.h"
#include "tag.h"
#include "tls.h"
#include "transport.h"

TW_BEGIN_DECLS

typedef struct tw_edge tw_edge;

/*
 * Creates the transport for one connection attempt (custom transports, tests). Called on the
 * driving thread before every connect; the edge takes ownership of *out on TW_OK.
 */
typedef tw_status (*tw_edge_transport_fn)(tw_transport **out, void *user_data);

#define TW_EDGE_OPTIONS_VERSION 1

typedef struct tw_edge_options {
    uint32_t version;            /* TW_EDGE_OPTIONS_VERSION */
    /* Sparkplug identity (each: non-empty UTF-8 without '+', '#', '/'). Copied. */
    const char *group_id;        /* required */
    const char *edge_node_id;    /* required */
    const char *primary_host_id; /* NULL = no primary host: publish as soon as connected */
    /* MQTT broker. */
    const char *host;            /* required; copied */
    uint16_t port;               /* required */
    const char *client_id;       /* NULL = tw_sp_default_client_id() (at most 23 bytes); copied */
    const char *username;        /* NULL = none (mTLS identifies the device); copied */
    const void *password;        /* NULL = none; copied */
    size_t password_len;
    uint16_t keep_alive_s;       /* 0 = default (30); 65535 (TW_MQTT_KEEPALIVE_OFF) = none */
    int protocol_version;        /* 0 = 5 (MQTT 5.0); 4 = MQTT 3.1.1 */
    int qos;                     /* 0 = default (QoS 1); TW_EDGE_QOS1; TW_EDGE_QOS0 =
                                    Sparkplug-strict QoS 0 (see above). Other values: refused */
    /* Transport: exactly one of tls, transport_fn, or insecure. */
    tw_tls_config *tls;          /* mutual TLS (a reference is taken: the caller may free it) */
    int insecure;                /* non-zero and tls NULL: plain TCP (a warning is logged at every
                                    connect); refused otherwise with TW_ERR_TLS_INSECURE */
    tw_edge_transport_fn transport_fn; /* custom transport factory (takes precedence) */
    void *transport_user_data;
    /* Persistence. */
    const char *state_dir;       /* existing directory for the durable bdSeq (file
                                    "sparkplug-bdseq": one edge node per directory); NULL = bdSeq
                                    kept in memory only (starts at 0 for each tw_edge) */
    /* Limits (0 = default). */
    size_t queue_bytes;          /* memory queue for data held back while offline; 1 MiB */
    size_t max_payload;          /* largest DATA payload; 64 KiB (also bounds the MQTT buffers
                                    and STRING/BYTES values: tw_edge_max_value_len()) */
    size_t max_metrics;          /* metrics per DATA message; 512 */
    uint32_t connect_timeout_ms; /* transport connect + CONNACK; 10000 */
    uint32_t reconnect_min_ms;   /* back-off with full jitter between attempts; 500 */
    uint32_t reconnect_max_ms;   /* 30000 */
    /* Store-and-forward (tagwire/store.h): when set, the bdSeq is kept as the store's state key
     * "sparkplug-bdseq" (one edge node per store) instead of a file in state_dir (which must then
     * be NULL), and all DATA changes go through the store's log (see "Store-and-forward" above; the
     * edge appends, reads and acknowledges: nobody else may read the store). Owned by the
     * caller, used only from the thread that drives the edge, and must outlive it. */
    tw_store *store;
} tw_edge_options;

#define TW_EDGE_OPTIONS_INIT                                                                        \
    { TW_EDGE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0, 0, NULL, 0,   \
      NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL }

/* tw_edge_options.qos values. Not QoS numbers: always use the names. */
#define TW_EDGE_QOS_DEFAULT 0 /* = TW_EDGE_QOS1 */
#define TW_EDGE_QOS1 1        /* births, deaths and data at QoS 1 (refusals visible with MQTT 5) */
#define TW_EDGE_QOS0 0x100    /* Sparkplug-strict QoS 0 for births and data */

/* Session state. */
typedef enum tw_edge_state {
    TW_EDGE_STOPPED = 0,      /* not started, or stopped */
    TW_EDGE_CONNECTING = 1,   /* transport / MQTT connect in progress */
    TW_EDGE_WAITING_HOST = 2, /* connected; primary host offline or unknown: data is queued */
    TW_EDGE_ONLINE = 3,       /* connected and born: data is published */
    TW_EDGE_BACKOFF = 4       /* connection lost or refused; reconnecting after a delay */
} tw_edge_state;

/* "stopped", "connecting", "waiting-host", "online", "backoff". Static. TW_THREADSAFE. */
TW_API TW_THREADSAFE const char *tw_edge_state_name(tw_edge_state state);

typedef enum tw_edge_event_type {
    TW_EDGE_EVENT_STATE = 1,   /* the session state changed (state, status = reason) */
    TW_EDGE_EVENT_BIRTH = 2,   /* NBIRTH (device NULL) or DBIRTH (device set) queued */
    TW_EDGE_EVENT_DEATH = 3,   /* DDEATH queued (device set) or NDEATH published on stop */
    TW_EDGE_EVENT_COMMAND = 4, /* one NCMD/DCMD metric handled: metric, device, status */
    TW_EDGE_EVENT_HOST = 5,    /* primary host STATE accepted: host_online, host_timestamp_ms */
    TW_EDGE_EVENT_ERROR = 6    /* an error the session survived (publish refused by ACL, malformed
                                  command or STATE, queue overflow): status + message */
} tw_edge_event_type;

/* An event; every pointer is valid only during the callback. */
typedef struct tw_edge_event {
    tw_edge_event_type type;
    tw_edge_state state;        /* the current state */
    tw_status status;           /* STATE: reason; COMMAND: result; ERROR: the error */
    const char *device_id;      /* BIRTH/DEATH/COMMAND of a device; else NULL */
    const char *metric;         /* COMMAND: the metric's name (NULL when sent by alias only) */
    uint64_t alias;             /* COMMAND: the metric's alias (0 when absent) */
    const char *message;        /* English detail ("" when none) */
    int host_online;            /* HOST */
    uint64_t host_timestamp_ms; /* HOST */
} tw_edge_event;

typedef void (*tw_edge_event_fn)(tw_edge *e, const tw_edge_event *ev, void *user_data);

/* Counters since tw_edge_new(). */
#define TW_EDGE_STATS_VERSION 1
typedef struct tw_edge_stats {
    uint32_t version;            /* set by the caller to TW_EDGE_STATS_VERSION */
    tw_edge_state state;
    int host_online;             /* primary host online (1 when there is no primary host) */
    uint32_t bdseq;              /* bdSeq of the current (or last) session */
    uint64_t messages_published; /* every PUBLISH queued (births, data, deaths) */
    uint64_t metrics_published;  /* metrics in DATA messages (historical included) */
    uint64_t historical_published; /* of which flagged is_historical */
    uint64_t births;             /* NBIRTH + DBIRTH messages */
    uint64_t commands;           /* NCMD/DCMD metrics handled */
    uint64_t command_errors;     /* of which refused or failed */
    uint64_t connects;           /* successful MQTT connections */
    uint64_t reconnects;         /* connections after the first */
    uint64_t refused;            /* publishes refused by the broker (MQTT 5 + QoS 1) */
    uint64_t queue_dropped;      /* queued changes dropped because the queue was full */
    size_t queue_depth;          /* changes waiting in the memory queue to be published (records
                                    published and awaiting the broker's confirmation are not
                                    counted; they are part of queue_used_bytes) */
    size_t queue_used_bytes;
    tw_status last_status;       /* as tw_edge_last_status() */
} tw_edge_stats;

/*
 * Creates an edge node session (not yet connected: see tw_edge_start()). Options are copied.
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG (a missing or invalid id, host, port,
 * limits), TW_ERR_TLS_INSECURE (neither tls, transport_fn nor insecure; or a password with insecure),
 * TW_ERR_VERSION, TW_ERR_NOMEM, TW_ERR_IO / TW_ERR_PERMISSION (the stored bdSeq cannot be read),
 * TW_ERR_CORRUPT (it is not a number 0..255), TW_ERR_INVALID_ARG (both store and state_dir).
 * *out is NULL on failure; the message is in tw_last_error() on the calling thread ("edge: ...";
 * option errors are also logged at ERROR).
 */
TW_API tw_status tw_edge_new(tw_edge **out, const tw_edge_options *opts);

/* Closes the connection without NDEATH (the broker then publishes the will) and frees the edge.
 * Registered tag sets are not freed. NULL is ignored. Call tw_edge_stop() first for a clean stop. */
TW_API void tw_edge_free(tw_edge *e);

/* What a DATA message, a memory queue record and a store record need besides one STRING or
 * BYTES value: protobuf framing (payload timestamp and seq, alias, timestamp, datatype, flags,
 * the Quality property), the record headers and the device id. */
#define TW_EDGE_VALUE_OVERHEAD 320u

/*
 * The longest STRING or BYTES value, in bytes, this edge can always publish:
 * min(max_payload, queue_bytes - 64) - TW_EDGE_VALUE_OVERHEAD (65216 bytes with the defaults).
 * tw_edge_set_node_tags() and tw_edge_add_device() refuse (TW_ERR_RANGE, the tag named in
 * tw_edge_last_error()) a tag set holding a STRING/BYTES tag whose max_len (tagwire/tag.h) is
 * larger, and the setters refuse values longer than max_len (TW_ERR_RANGE), so a value a setter
 * accepted always fits a DATA message. Limits known only later are applied when the value is
 * stored or published: a store's max_record_bytes / max_bytes (the append is refused), a
 * broker's smaller maximum packet size (MQTT 5 CONNACK); such a value is dropped, counted
 * (stats.queue_dropped) and reported (TW_EDGE_EVENT_ERROR, TW_ERR_MQTT_TOO_LARGE / TW_ERR_RANGE).
 * Tags added to a tag set after its registration are not checked here. 0 for e NULL.
 * TW_THREADSAFE (the limits are fixed by tw_edge_new()).
 */
TW_API TW_THREADSAFE size_t tw_edge_max_value_len(const tw_edge *e);

/*
 * The node's own metrics (NBIRTH/NDATA). `ts` stays owned by the caller and must outlive the
 * edge (or be replaced). NULL removes them. When online, triggers a rebirth. Driving thread.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_RANGE (a STRING/BYTES tag's max_len exceeds
 * tw_edge_max_value_len(); the set is not registered).
 */
TW_API tw_status tw_edge_set_node_tags(tw_edge *e, tw_tagset *ts);

/*
 * Registers a device (DBIRTH/DDATA/DDEATH under .../<edge node>/<device_id>) with its tag set
 * (owned by the caller; must outlive the edge or the device's removal). The device starts online:
 * when the edge is online its DBIRTH is published now. Adding tags to a registered tag set later
 * is allowed: the edge notices unknown aliases and rebirths.
 * Errors: TW_ERR_INVALID_ARG (bad id, NULL ts), TW_ERR_EXISTS (id taken or tag set already
 * registered), TW_ERR_RANGE (a STRING/BYTES tag's max_len exceeds tw_edge_max_value_len();
 * tw_edge_last_error() names it), TW_ERR_NOMEM.
 */
TW_API tw_status tw_edge_add_device(tw_edge *e, const char *device_id, tw_tagset *ts);

/* Removes a device: publishes its DDEATH when online. Errors: TW_ERR_NOT_FOUND. */
TW_API tw_status tw_edge_remove_device(tw_edge *e, const char *device_id);

/*
 * Marks a device online (publishes its DBIRTH when the edge is online) or offline (publishes
 * DDEATH; its changes are then discarded until it is online again). Idempotent.
 * Errors: TW_ERR_NOT_FOUND, TW_ERR_INVALID_ARG.
 */
TW_API tw_status tw_edge_device_set_online(tw_edge *e, const char *device_id, int online);

/* Registers the event callback (NULL = none). Driving thread. */
TW_API void tw_edge_set_event_cb(tw_edge *e, tw_edge_event_fn fn, void *user_data);

/*
 * Starts the session: saves the first bdSeq durably, then the first connect attempt begins
 * (non-blocking; progress in step/process); reconnects follow with back-off until tw_edge_stop().
 * Connect failures are not returned here: they show in the state (BACKOFF), the event callback
 * and tw_edge_last_error(). Errors: TW_ERR_INVALID_ARG, TW_ERR_BUSY (started), TW_ERR_IO /
 * TW_ERR_NO_SPACE / TW_ERR_PERMISSION (the bdSeq could not be saved: not started).
 */
TW_API tw_status tw_edge_start(tw_edge *e);

/*
 * Clean stop: when online publishes NDEATH (bdSeq of the session), waits up to timeout_ms for it
 * and everything queued before it to be written and acknowledged, then sends MQTT DISCONNECT and
 * closes (state STOPPED; no will). Data still in the memory queue is kept (published after the
 * next start). Returns TW_OK or TW_ERR_TIMEOUT (closed anyway). Safe when stopped.
 */
TW_API tw_status tw_edge_stop(tw_edge *e, int timeout_ms);

/*
 * Waits up to timeout_ms (0 = no wait, -1 = until something happens) for the MQTT socket, a
 * timer or any registered tag set's descriptor, then does all pending work (tw_edge_process()).
 * Returns TW_OK, or the error that ended the connection or that the session survived during this
 * call (e.g. TW_ERR_MQTT_NOT_AUTHORIZED for a refused publish); keep calling step after an error:
 * the edge reconnects by itself.
 */
TW_API tw_status tw_edge_step(tw_edge *e, int timeout_ms);

/* For callers with their own loop: the MQTT descriptor (-1 when none, e.g. during back-off), the
 * TW_POLL_* events to wait for, and the longest wait in ms (-1 = none). Also poll each registered
 * tag set's tw_tagset_fd() for input. */
TW_API int tw_edge_fd(const tw_edge *e);
TW_API unsigned tw_edge_events(const tw_edge *e);
TW_API int tw_edge_timeout_ms(const tw_edge *e);

/* Does all pending work without waiting: MQTT I/O, commands, STATE, births, pending changes,
 * queue replay, reconnect. Returns as tw_edge_step(). */
TW_API tw_status tw_edge_process(tw_edge *e);

/*
 * Collects the change sets of the node tags and every online device now: when online, publishes
 * them as NDATA/DDATA (queued data first, in order); otherwise appends them to the memory queue.
 * Does not wait for I/O: messages go to the MQTT output buffer and are written by the next
 * tw_edge_process()/tw_edge_step() (tw_edge_events() asks for TW_POLL_OUT meanwhile), or here
 * once 32 KiB are waiting (small messages are batched into larger TLS records). When the output
 * or the broker's in-flight window is full, the changes stay in the tag sets (where they
 * coalesce) and are published by a later call. Not from callbacks. Returns TW_OK or an error of
 * this call.
 */
TW_API tw_status tw_edge_publish(tw_edge *e);

/* Requests a new NBIRTH + DBIRTHs (as NCMD Rebirth does): published by the next
 * tw_edge_process()/tw_edge_step() when online (tw_edge_timeout_ms() returns 0 meanwhile), else
 * with the next session's births. May be called from the event callback. Errors:
 * TW_ERR_INVALID_ARG. */
TW_API tw_status tw_edge_rebirth(tw_edge *e);

/* The session state (TW_EDGE_STOPPED for e NULL). Driving thread, or the event callback; the
 * same value arrives with every TW_EDGE_EVENT_STATE. */
TW_API tw_edge_state tw_edge_state_get(const tw_edge *e);

/* Fills *out: the caller sets out->version (1..TW_EDGE_STATS_VERSION) and gets that version's
 * fields. Errors: TW_ERR_INVALID_ARG, TW_ERR_VERSION. */
TW_API tw_status tw_edge_stats_get(const tw_edge *e, tw_edge_stats *out);

/* The last error's message ("" when none), valid until the next call on the edge. */
TW_API const char *tw_edge_last_error(const tw_edge *e);
/* The last error's status (TW_OK when none). */
TW_API tw_status tw_edge_last_status(const tw_edge *e);

TW_END_DECLS

#endif /* TAGWIRE_EDGE_H */
