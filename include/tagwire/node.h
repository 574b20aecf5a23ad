/*
 * tagwire/node.h - the edge node runtime: sources -> tags -> Sparkplug B uplink.
 *
 * A tw_node is one Sparkplug edge node. It owns
 *   - node-level tags (NBIRTH/NDATA metrics), added with tw_node_add_tag();
 *   - devices (tw_node_device: a Sparkplug device id and a tag set each, DBIRTH/DDATA), added with
 *     tw_node_add_device(); a device's values come either from the application (push API:
 *     tw_tag_set_* from any thread) or from a protocol adapter bound to the device (opened by URI
 *     with tw_device_open(), items from tag addresses, polled at the tags' scan rates);
 *   - the uplink: a Sparkplug B session over MQTT over mutual TLS (births, deaths, seq/bdSeq,
 *     rebirth, commands). A command (NCMD/DCMD) for a tag is delivered with tw_tag_write(): for
 *     adapter tags the node writes it to the device (tw_device_write(), scaled back to raw units);
 *     for pushed tags the application's write callback (tw_tag_set_write_cb()) handles it.
 *
 * The data path (DESIGN.md): a value enters a tag once (tw_tag_set_* or an adapter poll), passes
 * its deadband once, joins its tag set's change set, and is collected by the node thread, encoded
 * once into an NDATA/DDATA payload and published. Nothing on this path allocates per value.
 *
 *     tw_node *node;
 *     tw_node_options o = TW_NODE_OPTIONS_INIT;
 *     o.group_id = "PlantA"; o.edge_node_id = "Press7";
 *     o.broker = "mqtts://broker.plant.local:8883";
 *     o.tls_ca_file = "ca.pem"; o.tls_cert_file = "press7.pem"; o.tls_key_file = "press7.key";
 *     tw_node_new(&node, &o);
 *     tw_tag *oil;
 *     tw_node_add_tag(node, &oil, "Hydraulics/OilTemp", TW_TYPE_DOUBLE, NULL);
 *     tw_node_start(node);                      // or tw_node_step() in your own loop
 *     for (;;) tw_tag_set_double(oil, read_oil_temp(), TW_QUALITY_GOOD, 0);
 *
 * Driving the node (exactly one of):
 *   - tw_node_start() / tw_node_stop(): an internal thread runs the node.
 *   - tw_node_step(node, timeout_ms) from the caller's own loop. For poll/epoll loops,
 *     tw_node_fds() returns the descriptors to wait on and tw_node_timeout_ms() the longest wait;
 *     then call tw_node_step(node, 0).
 *
 * Device reachability: when a whole poll cycle of an adapter device answers
 * TW_QUALITY_BAD_NOT_CONNECTED (connection refused or lost, reconnect back-off), the device is
 * reported dead (DDEATH) and its changes are not published; the first answer after that brings a
 * DBIRTH with the current values. A timeout or an exception does not make a device dead (its tags
 * carry the bad quality instead).
 *
 * Adapter reads are blocking with a timeout (v1). So that a slow or dead device cannot stall the
 * uplink, the node polls each adapter device on its own poll thread ("poll threads") when it runs
 * on its internal thread (tw_node_start()); in step mode the polls run inline inside
 * tw_node_step(), each bounded by the device's request timeouts (tw_device_options: 1 s by
 * default, a device that is down answers at once during its reconnect back-off), unless
 * options.poll_threads asks for poll threads in step mode too. Writes to a device (commands) take
 * the device's lock, so a write waits at most for the device's current poll cycle.
 *
 * Threading: the node is driven by one thread at a time (the caller of tw_node_step(), or the
 * node's thread between tw_node_start() and tw_node_stop()). Set-up calls (adding devices and
 * tags) happen before the node is first started or stepped. Functions marked TW_THREADSAFE
 * (statistics, tw_node_stop(), tw_node_wakeup()) and the tag setters (tw_tag_set_*) may be called
 * from any thread at any time.
 *
 * The uplink is a Sparkplug edge session (tagwire/edge.h): births, deaths, seq/bdSeq, rebirth,
 * commands, primary host STATE. While the broker (or the primary host) is away, changes wait in
 * the session's bounded memory queue and are published as historical data after the next births.
 * Store-and-forward on disk: with options.store_dir the node opens a disk tw_store
 * (tagwire/store.h) in that directory and hands it to the edge session: every change is appended
 * to the store before it is published and leaves it only once the broker confirmed it, so data
 * survives broker outages and a crash (kill -9) of the gateway; after a reconnect (or a restart
 * with the same directory) whatever was not confirmed is published again, flagged historical
 * (duplicates are possible only inside that window: same tag and timestamp). The bdSeq lives in
 * the same directory. options.store_options sets its bounds, fsync and overflow policies; the
 * node polls the store (group commit, age bound) from its loop. With the overflow policy
 * TW_STORE_REFUSE_NEW a full store keeps what it has and new changes are lost until the broker
 * confirms stored ones: counted (stats.store_refused), reported once per episode (the step's
 * status TW_ERR_FULL, tw_node_last_error(), a warning in the log; see tagwire/edge.h). Without
 * store_dir, data waits in the session's bounded memory queue (lost with the process).
 *
 * Certificate renewal (options.enroll, or the "enroll" section of a configuration file): the
 * uplink's client key and certificate come from an enrollment credential directory
 * (tagwire/enroll.h: enroll->credentials_dir, or options.credentials_dir) and the node keeps them
 * valid by itself, for as long as it runs:
 *   - The directory must already hold a current credential (`tagwire enroll`, tw_enroll_enroll()):
 *     the node renews, it does not make the first enrollment. Its `current` link is resolved once
 *     (tw_credential_inspect()), so key and chain come from one generation.
 *   - A renewal thread of the node (in both driving modes) calls tw_enroll_step() when the
 *     certificate's renewal point (enroll->renew_fraction of its lifetime, default 2/3) has
 *     passed, then about once a second while renewal is due; tw_enroll_step() paces the attempts
 *     by back-off (enroll->backoff_base_ms .. backoff_cap_ms) or the server's Retry-After. An EST
 *     request may block for up to request_timeout_ms: it runs on that thread so that the publish
 *     path never waits for it. A failed attempt changes nothing: the node keeps publishing with
 *     the old certificate, counts it (stats.cert_renew_failures, cert_last_error) and logs a
 *     warning.
 *   - A renewed credential (still `pending` in the directory) is loaded into the uplink's TLS
 *     configuration; the node then ends the MQTT session cleanly (NDEATH, DISCONNECT, bounded by
 *     1 s) and reconnects at once with the new certificate, rather than waiting for a natural
 *     reconnect that may come only after the old certificate expired: renewing at the renewal
 *     point leaves the rest of the old certificate's lifetime as the margin to fall back on.
 *     The first connection that completes with the new certificate (TLS handshake and CONNACK)
 *     commits it (tw_enroll_commit(): `current` then names the new generation; stats.cert_renewals).
 *     When the broker refuses it three times in a row (a TLS alert or a CONNACK "not authorized";
 *     or six other failures in a row after the TCP connect, such as a connection closed during
 *     set-up) the node rolls it back (tw_enroll_rollback()), reconnects with the old credential,
 *     counts stats.cert_rollbacks and renews again after back-off. A single refusal is not a
 *     verdict (a broker restarting mid-handshake looks the same), and network errors (broker down,
 *     connection refused, timeout) decide nothing: the renewed credential stays pending until the
 *     broker answers.
 *   - With options.tls (a tw_tls_config of the caller) the node loads and replaces the client
 *     credential in that configuration: do not share it with other nodes or transports.
 *   - Nothing accepted is lost across that reconnect: what the broker has not confirmed stays in
 *     the store (or the memory queue) and is published after the new births, flagged historical.
 *   - A pending credential found by tw_node_new() (a renewal cut short by a stop or a crash) is
 *     loaded instead of the current one and committed or rolled back in the same way.
 *   - The identity in the request is enroll->identity, or when NULL the current certificate's
 *     (CN = device id; vendor, model, serial from its urn:tagwire URI SAN). enroll->on_event, when
 *     set, receives every enrollment event on the renewal thread (it may call the node's
 *     TW_THREADSAFE functions only). Events are also logged (renewed, committed: info; failed,
 *     rolled back, expiring: warning).
 *   - tw_node_stop(), tw_node_shutdown() and tw_node_free() wait for an EST request in flight
 *     (at most enroll->request_timeout_ms, default 30 s).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_NODE_H
#define TAGWIRE_NODE_H

#include "adapter.h"
#include "config.h"
#include "edge.h"
#include "enroll.h"
#include "store.h"
#include "tag.h"
#include "tls.h"

TW_BEGIN_DECLS

typedef struct tw_node tw_node;
typedef struct tw_node_device tw_node_device;

/* ---- Options ---------------------------------------------------------------------------------- */

/* When adapter polls run on their own threads (tw_node_options.poll_threads). */
typedef enum tw_node_poll_mode {
    TW_NODE_POLL_AUTO = 0,    /* threads with tw_node_start(), inline with tw_node_step() */
    TW_NODE_POLL_THREADS = 1, /* always one poll thread per adapter device */
    TW_NODE_POLL_INLINE = 2   /* always inline on the node's driving thread */
} tw_node_poll_mode;

/* 2 added store_options, 3 added enroll; older structs are still accepted (the later fields
 * then take their defaults: NULL). */
#define TW_NODE_OPTIONS_VERSION 3

/*
 * Options of a node. Every field's zero value is the default. Strings are copied by tw_node_new().
 * Credentials: either `tls` (a tw_tls_config the caller configured; the node takes its own
 * reference), or the files tls_ca_file + tls_cert_file + tls_key_file, or tls_ca_file +
 * credentials_dir (an enrollment credential directory, tagwire/enroll.h: its current key and
 * chain are used; without tls_ca_file, DIR/cacerts.pem is the trust anchor). With `enroll`, the
 * key and chain come from the credential directory only (loaded also into a `tls` the caller gave,
 * whose credentials the node then replaces at every renewal) and are renewed by the node.
 */
typedef struct tw_node_options {
    uint32_t version;             /* TW_NODE_OPTIONS_VERSION */
    const char *group_id;         /* required: Sparkplug group id */
    const char *edge_node_id;     /* required: Sparkplug edge node id */
    const char *broker;           /* required: "mqtts://host[:port]" (8883) or "mqtt://host[:port]"
                                     (1883, only with `insecure`) */
    const char *client_id;        /* MQTT client id; NULL = tw_sp_default_client_id() */
    uint32_t keep_alive_s;        /* MQTT keep-alive; 0 = default (30); 65535 = none */
    const char *primary_host_id;  /* reserved: the Sparkplug primary host to follow (NULL = none) */
    tw_tls_config *tls;           /* NULL: built from the files below */
    const char *tls_ca_file;      /* PEM trust anchors for the broker */
    const char *tls_cert_file;    /* PEM client certificate chain */
    const char *tls_key_file;     /* PEM client private key */
    const char *tls_crl_file;     /* optional CRL */
    const char *tls_server_name;  /* name to verify in the broker's certificate; NULL = host */
    const char *credentials_dir;  /* enrolled key + chain (see above) */
    int insecure;                 /* non-zero: allow a plaintext mqtt:// broker (tests only) */
    const char *store_dir;        /* store-and-forward on disk in this directory (created if
                                     missing; its parent must exist); it also holds the bdSeq, so
                                     state_dir must then be NULL. NULL = memory queue only */
    const char *state_dir;        /* durable session state (the Sparkplug bdSeq) without a store;
                                     NULL = memory */
    uint32_t publish_interval_ms; /* 0 (default): changes are published as soon as the node
                                     thread sees them (under load they batch by themselves);
                                     N: after a first change, further changes are gathered for up
                                     to N ms before a DATA message is sent (fewer, larger messages) */
    uint32_t max_metrics_per_message; /* 0 = 512 */
    size_t queue_bytes;           /* memory queue for data held back while offline; 0 = 1 MiB */
    uint32_t shutdown_timeout_ms; /* bound of the final flush in tw_node_stop()/free(); 0 = 2000 */
    uint32_t stats_interval_ms;   /* statistics logged at debug level this often; 0 = 10000 */
    tw_node_poll_mode poll_threads;
    int protocol_version;         /* MQTT: 0 = 5 (refused publishes are reported), 4 = 3.1.1 */
    int qos0;                     /* non-zero: Sparkplug-strict QoS 0 for births and data (ACL
                                     refusals become invisible); default QoS 1 (tagwire/edge.h) */
    const tw_store_options *store_options; /* with store_dir: max_bytes, max_age_ms, overflow,
                                     sync, sync_interval_ms, ... (backend and dir are set by the
                                     node; copied by tw_node_new()); NULL = the store's defaults
                                     (64 MiB, fsync every record, drop oldest) */
    /* version 3 */
    const tw_enroll_options *enroll; /* automatic certificate renewal over EST (see "Certificate
                                     renewal" below); NULL = none. Copied by tw_node_new() */
} tw_node_options;

#define TW_NODE_OPTIONS_INIT                                                                       \
    { TW_NODE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
      NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, TW_NODE_POLL_AUTO, 0, 0, NULL, NULL }

/* ---- Life cycle ------------------------------------------------------------------------------- */

/*
 * Creates a node (no connection is made before it is started or stepped). *out is set to NULL on
 * failure. Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG (missing or invalid field),
 * TW_ERR_VERSION, TW_ERR_STORE_LOCKED / TW_ERR_IO / TW_ERR_PERMISSION / TW_ERR_NO_SPACE (store_dir
 * cannot be opened: another process has it, ...), TW_ERR_NOT_FOUND / TW_ERR_PARSE /
 * TW_ERR_TLS_CREDENTIALS (TLS files), TW_ERR_NOMEM. With options.enroll also: TW_ERR_NOT_FOUND
 * (the credential directory holds no enrolled credential), TW_ERR_INVALID_ARG (plaintext broker,
 * tls_cert_file/tls_key_file given, two different credential directories), and tw_enroll_new()'s
 * errors (TW_ERR_CONFIG, TW_ERR_IDENTITY, TW_ERR_IO). Error detail: tw_last_error() on the calling
 * thread names the field, file or reason (e.g. "node: store: dir '/var/spool/x': cannot create:
 * Permission denied"; renewal problems start with "node: enroll: ").
 */
TW_API tw_status tw_node_new(tw_node **out, const tw_node_options *opts);

/*
 * Creates a node from a loaded configuration (tagwire/config.h): identity, uplink, TLS files and
 * every device with its adapter, scan groups and tags (type, address, unit, description, range,
 * deadband, scaling, access). Adapters are opened and every address is checked here, so a bad URI
 * or address fails now, with the message "node: <file>: <JSON path>: <problem>" in tw_last_error()
 * on the calling thread (e.g. "node: gateway.json: $.devices[1].tags[0].address: address
 * 'hr:1:FLOAT32:XYZW': unknown byte order 'XYZW' (expected ABCD, CDAB, BADC or DCBA)"). The config
 * may be freed afterwards.
 * Mapping notes: a "store" block opens the disk store (store_dir, with max_bytes, max_age_s,
 * fsync "always" = every record, "periodic" = group commit every fsync_interval_ms, "never" = OS,
 * overflow "drop_oldest" / "drop_newest" = refuse new); "keep_alive_s": 0 selects the default
 * (30 s); an "enroll" block sets options.enroll (server_url = est_url, server_ca_file = server_ca,
 * credentials_dir, renew_fraction, backoff_cap_ms = retry_max_s * 1000; the identity is the
 * current certificate's); the node's messages about it carry the path "$.enroll".
 * Errors: as tw_node_new(), TW_ERR_CONFIG (the adapter refuses a URI parameter),
 * TW_ERR_NO_ADAPTER, TW_ERR_PARSE, TW_ERR_ADDRESS, TW_ERR_UNSUPPORTED, TW_ERR_IO (store dir).
 */
TW_API tw_status tw_node_new_from_config(tw_node **out, const tw_config *cfg);

/*
 * Stops the node (as tw_node_stop() when started; in step mode it sends the death certificate and
 * disconnects within shutdown_timeout_ms), then frees it, its devices and every tag. NULL is
 * ignored. No other thread may use the node or its tags any more.
 */
TW_API void tw_node_free(tw_node *node);

/* The last error of a non-thread-safe call on the node ("" when none). Driving thread. */
TW_API const char *tw_node_last_error(const tw_node *node);
/* The status that went with tw_node_last_error() (TW_OK when none; TW_ERR_INVALID_ARG for NULL).
 * Driving thread. */
TW_API tw_status tw_node_last_status(const tw_node *node);

/* ---- Tags and devices ------------------------------------------------------------------------- */

/*
 * Adds a node-level tag (an NBIRTH/NDATA metric) set by the application. Arguments and errors as
 * tw_tagset_add() (tagwire/tag.h), plus TW_ERR_NODE_STATE once the node has been started or
 * stepped (tags cannot be added to a born node), and TW_ERR_RANGE for a STRING/BYTES tag whose
 * max_len (TW_TAG_DEFAULT_MAX_LEN when 0) is longer than a value the node can publish: more than
 * tw_edge_max_value_len() of its session (65216 bytes: max_payload 64 KiB minus
 * TW_EDGE_VALUE_OVERHEAD) or, with store_dir, than a store record holds (the smaller of
 * max_record_bytes and max_bytes - TW_STORE_RECORD_OVERHEAD, minus TW_EDGE_VALUE_OVERHEAD);
 * tw_node_last_error() names the tag and the limit. A value longer than max_len is then refused
 * by the setter (TW_ERR_RANGE), so no accepted value is lost for its size at publish time.
 * *out (may be NULL) is owned by the node.
 */
TW_API tw_status tw_node_add_tag(tw_node *node, tw_tag **out, const char *name, tw_type type,
                                 const tw_tag_options *opts);

#define TW_NODE_DEVICE_OPTIONS_VERSION 1
typedef struct tw_node_device_options {
    uint32_t version;              /* TW_NODE_DEVICE_OPTIONS_VERSION */
    const char *adapter_uri;       /* NULL: the application pushes the device's values; else the
                                      device is opened with tw_device_open(adapter_uri, &device) */
    tw_device_options device;      /* timeouts, transport (see tagwire/adapter.h); all zero
                                      (device.version 0) = the defaults */
    tw_device *opened;             /* alternative to adapter_uri: a device the caller opened; the
                                      node takes ownership on success */
} tw_node_device_options;
#define TW_NODE_DEVICE_OPTIONS_INIT                                                               \
    { TW_NODE_DEVICE_OPTIONS_VERSION, NULL, { 0, 0, 0, 0, 0, NULL, NULL }, NULL }

/*
 * Adds a Sparkplug device `device_id` (1..128 bytes of UTF-8 without '+', '#', '/'). opts may be
 * NULL (a pushed device). *out (may be NULL) is owned by the node.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_EXISTS (id taken), TW_ERR_NODE_STATE (node already
 * started), TW_ERR_PARSE / TW_ERR_NO_ADAPTER / TW_ERR_CONFIG (adapter URI), TW_ERR_NOMEM.
 * Error detail: tw_node_last_error(node), and tw_last_error() on the calling thread.
 */
TW_API tw_status tw_node_add_device(tw_node *node, tw_node_device **out, const char *device_id,
                                    const tw_node_device_options *opts);

/* The device with that id, or NULL. */
TW_API tw_node_device *tw_node_find_device(const tw_node *node, const char *device_id);
TW_API size_t tw_node_device_count(const tw_node *node);
TW_API tw_node_device *tw_node_device_at(const tw_node *node, size_t index);
TW_API TW_THREADSAFE const char *tw_node_device_id(const tw_node_device *dev);
/* The device's tag set (the node's own one: tw_node_tagset()). */
TW_API TW_THREADSAFE tw_tagset *tw_node_device_tagset(const tw_node_device *dev);
TW_API TW_THREADSAFE tw_tagset *tw_node_tagset(const tw_node *node);
/* The adapter device, or NULL for a pushed device. Do not use it while the node runs. */
TW_API tw_device *tw_node_device_adapter(const tw_node_device *dev);

/*
 * Adds a tag to a device. address NULL: a pushed tag (set by the application; commands for it go
 * to the write callback the application sets with tw_tag_set_write_cb()). Otherwise the
 * device must have an adapter; the address is added as an item (tw_device_add_item()) and polled
 * every scan_rate_ms (>= 1; 0 = 1000) unless the tag is write-only (opts->access
 * TW_ACCESS_WRITE). Scaling (opts->scale/offset) converts the device's raw value to engineering
 * units. For a writable tag the node installs a write callback: a command's value is scaled back
 * to raw units (raw = (eng - offset) / scale, rounded for integer items), written with
 * tw_device_write() on the node's driving thread (waiting for the device's lock, i.e. at most its
 * current poll cycle), and, for a read-write tag, published as the tag's new value. Polled values
 * arrive with the device's quality and timestamp; a value that does not fit the tag's type is
 * published with TW_QUALITY_BAD_OUT_OF_RANGE (or _TYPE_MISMATCH), keeping the last value.
 * Errors: as tw_tagset_add(), TW_ERR_ADDRESS / TW_ERR_UNSUPPORTED (the adapter refused the
 * address; tw_node_last_error() has its message), TW_ERR_INVALID_ARG (address on a pushed device),
 * TW_ERR_NODE_STATE, TW_ERR_RANGE (STRING/BYTES max_len above the limit: see tw_node_add_tag()).
 */
TW_API tw_status tw_node_device_add_tag(tw_node_device *dev, tw_tag **out, const char *name,
                                        tw_type type, const tw_tag_options *opts,
                                        const char *address, uint32_t scan_rate_ms);

/* ---- Running ---------------------------------------------------------------------------------- */

/*
 * Starts the node on an internal thread (connect, births, publishing, polls on poll threads).
 * Errors: TW_ERR_NODE_STATE (already started, or being stepped), TW_ERR_IO (thread), TW_ERR_NOMEM.
 */
TW_API tw_status tw_node_start(tw_node *node);

/*
 * Stops the node's thread: publishes what is still pending, sends the death certificate
 * (NDEATH) and disconnects, bounded by shutdown_timeout_ms; then joins the threads. Returns TW_OK
 * when everything was flushed, TW_ERR_TIMEOUT when metrics were left (their count is in the
 * statistics: unflushed_metrics), TW_ERR_NODE_STATE when not started. Not from a callback.
 */
TW_API tw_status tw_node_stop(tw_node *node);

/*
 * Step mode: waits up to timeout_ms (0 = no wait, -1 = until something happens) for the broker
 * connection, a tag change or a timer; then does what is due: connects or reconnects, runs due
 * polls (inline unless poll threads), publishes births and changes, handles commands.
 * Returns TW_OK, or the uplink error of this step (the node keeps reconnecting by itself;
 * tw_node_last_error() says why). Errors: TW_ERR_NODE_STATE (the node runs on its own thread).
 */
TW_API tw_status tw_node_step(tw_node *node, int timeout_ms);

/*
 * For callers with their own poll loop (step mode): writes up to `max` descriptors and their
 * TW_POLL_* events; returns how many (the broker connection and the tag sets' wake-up
 * descriptors). Wait at most tw_node_timeout_ms(), then call tw_node_step(node, 0).
 */
TW_API int tw_node_fds(tw_node *node, int *fds, unsigned *events, int max);
/* The longest the caller may wait before the next tw_node_step() (ms; never -1 while running). */
TW_API int tw_node_timeout_ms(tw_node *node);

/* Step mode: steps the node until it is online and every pending change has been handed to the
 * MQTT connection (published, not necessarily acknowledged yet), or timeout_ms passed.
 * Returns TW_OK or TW_ERR_TIMEOUT. */
TW_API tw_status tw_node_flush(tw_node *node, int timeout_ms);

/*
 * Step mode: as tw_node_stop() for a stepped node: flush, NDEATH, disconnect within
 * shutdown_timeout_ms. The node may be stepped again afterwards (it reconnects).
 */
TW_API tw_status tw_node_shutdown(tw_node *node);

/* Wakes the driving thread (e.g. a signal handler's helper). TW_THREADSAFE. */
TW_API TW_THREADSAFE void tw_node_wakeup(tw_node *node);

/* ---- Health and statistics -------------------------------------------------------------------- */

typedef enum tw_node_link {
    TW_NODE_LINK_OFFLINE = 0,    /* not started / disconnected */
    TW_NODE_LINK_CONNECTING = 1, /* connecting or waiting to reconnect */
    TW_NODE_LINK_ONLINE = 2      /* connected and born */
} tw_node_link;

/* "offline", "connecting", "online". Static. */
TW_API TW_THREADSAFE const char *tw_node_link_name(tw_node_link link);

/* 2 added the store_* counters, 3 store_oldest_time_ms, the store's sequence numbers and the
 * cert_* fields; older versions are still filled (without the newer fields). */
#define TW_NODE_STATS_VERSION 3
typedef struct tw_node_stats {
    uint32_t version;            /* set by the caller: TW_NODE_STATS_VERSION */
    tw_node_link link;
    uint64_t connects;           /* successful broker connections */
    uint64_t disconnects;        /* connections lost */
    uint64_t messages_published; /* MQTT messages queued to the broker (births, data, deaths) */
    uint64_t births;             /* NBIRTH + DBIRTH messages */
    uint64_t metrics_published;  /* metrics in DATA messages */
    uint64_t historical_published; /* of which replayed from the memory queue */
    uint64_t refused;            /* publishes refused by the broker (ACL; MQTT 5 + QoS 1) */
    uint64_t queue_dropped;      /* changes dropped because the memory queue was full */
    uint64_t commands;           /* NCMD/DCMD metrics received */
    uint64_t commands_failed;    /* ... refused or failed */
    uint64_t queue_depth;        /* changes waiting: in the tag sets and in the memory queue */
    uint64_t unflushed_metrics;  /* metrics left unpublished at the last stop/shutdown */
    uint64_t polls;              /* adapter poll cycles */
    uint64_t poll_errors;        /* poll cycles with at least one bad item */
    uint64_t adapter_requests;   /* adapter round trips (sum of the devices' requests) */
    uint64_t adapter_errors;     /* timeouts + exceptions + protocol errors + connect failures */
    uint64_t device_writes;      /* commands written to devices */
    uint64_t device_write_errors;
    uint64_t bd_seq;             /* the current bdSeq */
    uint64_t devices_offline;    /* adapter devices currently unreachable (DDEATH published) */
    int64_t uptime_ms;
    /* version 2: the disk store (all 0 without store_dir) */
    uint64_t store_records;      /* records in the store not yet confirmed by the broker */
    uint64_t store_bytes;        /* their bytes (headers included) */
    uint64_t store_dropped;      /* records the overflow policy / age bound / a full disk dropped */
    uint64_t store_refused;      /* changes refused by a full store (refuse new / disk full);
                                    the session counts them in queue_dropped as well */
    /* version 3: the store (all 0 without store_dir) ... */
    int64_t store_oldest_time_ms; /* append time (ms since the Unix epoch, wall clock) of the
                                    oldest record not yet confirmed; 0 when the store is empty */
    uint64_t store_acked_seq;    /* the store's acknowledged watermark: every record with a
                                    sequence number up to it was confirmed by the broker (or
                                    dropped by the policy) and trimmed */
    uint64_t store_last_seq;     /* sequence number of the last record appended (0 = none yet);
                                    store_last_seq - store_acked_seq records are outstanding at
                                    most. Both survive restarts (sequence numbers are never
                                    reused) */
    /* ... and the uplink's own certificate and its renewal (counters 0 without enroll) */
    int64_t cert_not_after;      /* notAfter (Unix seconds) of the client certificate that new
                                    connections present; 0 without TLS credentials */
    int64_t cert_renew_at;       /* when its renewal is due (Unix seconds); 0 without enroll */
    uint64_t cert_renewals;      /* renewed certificates committed (a connection succeeded) */
    uint64_t cert_renew_failures; /* renewal attempts that failed (EST down, refused, ...) */
    uint64_t cert_rollbacks;     /* renewed certificates the broker refused (rolled back) */
    tw_status cert_last_error;   /* status of the last failure or rollback; TW_OK when none */
} tw_node_stats;

/* Fills *out. TW_THREADSAFE (counters are read atomically one by one). Errors:
 * TW_ERR_INVALID_ARG, TW_ERR_VERSION. */
TW_API TW_THREADSAFE tw_status tw_node_stats_get(const tw_node *node, tw_node_stats *out);

/* The Sparkplug ids. Static for the node's life. TW_THREADSAFE. */
TW_API TW_THREADSAFE const char *tw_node_group_id(const tw_node *node);
TW_API TW_THREADSAFE const char *tw_node_edge_node_id(const tw_node *node);

TW_END_DECLS

#endif /* TAGWIRE_NODE_H */
