/*
 * tagwire/https.h - HTTPS batch uplink: drains a tw_store to an HTTPS endpoint (libcurl, mutual TLS).
 *
 * A tw_https_uplink reads records from a tw_store (tagwire/store.h), frames them into batches,
 * POSTs each batch to one URL and acknowledges the batch's records in the store (tw_store_ack)
 * only when the server answered 2xx. Nothing leaves the store otherwise, except by the explicit
 * reject policy for permanent refusals (4xx other than 408/429), which counts and reports it.
 *
 * Store records (the input format)
 * --------------------------------
 * Every store record holds one or more *entries* back to back; tw_https_record_encode() appends
 * one entry to a buffer, so a producer (the node) stores either one value per record or a whole
 * change set per record. An entry, all integers little-endian:
 *
 *   offset size
 *     0     1   magic 0x71 (format version 1)
 *     1     1   type: a tw_type (TW_TYPE_NONE = no value, e.g. a bad-quality update)
 *     2     2   name length N (1..1023)
 *     4     4   quality (tw_quality, an OPC UA StatusCode)
 *     8     8   source timestamp, ns since the Unix epoch (int64)
 *    16     4   value length V
 *    20     N   tag name (UTF-8, no NUL)
 *  20+N     V   value: BOOL 1 byte (0/1); INT8..INT64, DATETIME 8 bytes (int64); UINT8..UINT64
 *               8 bytes (uint64); FLOAT 4 bytes (IEEE 754 bits); DOUBLE 8 bytes (IEEE 754 bits);
 *               STRING (UTF-8) and BYTES: the V octets; NONE: V = 0.
 *
 * A record whose entries do not parse is a permanent failure: it is handled by the reject policy
 * (parked or dropped and counted), never sent half.
 *
 * Wire schema (what the server receives)
 * --------------------------------------
 * Every batch is one `POST <url>` with these headers:
 *   Content-Type:     application/x-ndjson  or  application/x-protobuf
 *   Content-Encoding: gzip                  (only with options.gzip)
 *   Idempotency-Key:  <instance>-<first seq>-<last seq>
 *   X-Tagwire-Records: <number of store records in the batch>
 * <instance> identifies the store (options.instance_id, or 32 hex digits generated once and kept
 * in the store's durable state under "https.instance"); first/last are the store sequence numbers
 * of the batch's first and last record. The batch in flight is itself kept in the durable state
 * ("https.inflight") before it is first sent, so a retry - also after a restart of the process -
 * carries the same records and the same key (and, within one process, the very same bytes; after
 * a restart a JSON lines body is rebuilt identically, a protobuf body may differ in its payload
 * timestamp and is_historical flags only). A server that has seen a key may answer 2xx again
 * without storing the batch twice; a receiver that does not deduplicate sees duplicates only for
 * batches whose 2xx answer was lost, and always under the same key.
 *
 * JSON lines (TW_HTTPS_FORMAT_JSONL, application/x-ndjson): one JSON object per value and line:
 *   {"name":"Line1/Temp","type":"double","value":21.5,"quality":"good","quality_code":0,
 *    "ts":"2026-11-29T16:47:40.123456789Z","ts_ns":1795970860123456789,"seq":42}
 * name: the tag name; type: tw_type_name(); value: bool -> true/false; integers -> JSON numbers
 * (int64/uint64 exact digits); float/double -> shortest round-trip decimal, the non-finite values
 * as the strings "NaN", "Infinity", "-Infinity"; string -> JSON string (invalid UTF-8 replaced by
 * U+FFFD); bytes -> base64 string (RFC 4648); datetime -> RFC 3339 string with 9 fraction digits;
 * none -> null. quality: tw_quality_name(); quality_code: the 32-bit code as a number; ts: the
 * source timestamp in RFC 3339 UTC with nanoseconds; ts_ns: the same as an integer; seq: the store
 * sequence number of the record that carried the value (values of one record share it).
 *
 * Protobuf (TW_HTTPS_FORMAT_PROTOBUF, application/x-protobuf): one Sparkplug B 3.0 Payload
 * message (org.eclipse.tahu.protobuf.Payload, the specification's schema) per batch: timestamp =
 * time the batch was built (ms), seq = not set, one Metric per value with name, timestamp (ms),
 * datatype (Sparkplug data type code), the value in the field the specification assigns
 * (int_value for 8/16/32-bit types, long_value for 64-bit types and DateTime (ms), float_value,
 * double_value, boolean_value, string_value, bytes_value), is_null for TW_TYPE_NONE, a property
 * "Quality" (Int32: tw_quality_to_sparkplug()), and is_historical = true when the record was
 * appended to the store more than options.historical_ms before the batch was built.
 *
 * Responses
 * ---------
 *   2xx                  the batch's records are acknowledged in the store (trimmed).
 *   429, 503             retried after Retry-After (delta-seconds or HTTP-date; capped by
 *                        options.max_retry_after_s), or after the back-off when there is none.
 *   408, other 5xx, transport and TLS failures
 *                        retried with exponential back-off with full jitter (backoff_base_ms ..
 *                        backoff_cap_ms). The same batch, body and key are sent again.
 *   other 4xx (and 3xx)  permanent: the reject policy applies (TW_HTTPS_REJECT_*), the batch is
 *                        counted, logged at error level and reported to the reject callback.
 *
 * Integration: the uplink never blocks longer than the timeout given to tw_https_uplink_step();
 * it uses libcurl's multi interface. tw_https_uplink_fds() + tw_https_uplink_next_ms() let an
 * event loop wait for the uplink's sockets itself.
 *
 * Threading: an uplink and its store are driven by one thread at a time (the node's thread);
 * nothing here is TW_THREADSAFE except tw_https_record_encode() and tw_https_record_next().
 * The reject callback runs on that thread, inside tw_https_uplink_step().
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_HTTPS_H
#define TAGWIRE_HTTPS_H

#include "core.h"
#include "store.h"
#include "types.h"

TW_BEGIN_DECLS

/* ---- Record entries ---------------------------------------------------------------------------- */

#define TW_HTTPS_ENTRY_MAGIC 0x71u
#define TW_HTTPS_ENTRY_HEADER 20u   /* bytes before the name */
#define TW_HTTPS_NAME_MAX 1023u     /* longest tag name in an entry, bytes */

/*
 * Appends one entry (tag name, value, quality, source timestamp in ns) to buf at offset *len
 * (capacity cap) and advances *len. A NULL value or value->type == TW_TYPE_NONE writes a
 * value-less entry. STRING/BYTES values are copied. TW_THREADSAFE, no allocation.
 * Errors: TW_ERR_INVALID_ARG (NULL buf/len/name, empty name, unknown type), TW_ERR_RANGE (name
 * longer than TW_HTTPS_NAME_MAX, or the entry does not fit in cap - *len; nothing is written).
 */
TW_API TW_THREADSAFE tw_status tw_https_record_encode(void *buf, size_t cap, size_t *len,
                                                      const char *name, const tw_value *value,
                                                      tw_quality quality, int64_t ts_ns);

/* One decoded entry. name/value buffers point into the record (not NUL-terminated). */
typedef struct tw_https_entry {
    const char *name;
    size_t name_len;
    tw_value value;     /* STRING/BYTES: points into the record */
    tw_quality quality;
    int64_t ts_ns;
} tw_https_entry;

/*
 * Decodes the entry at *offset of a record (len bytes) and advances *offset. Returns TW_ERR_AGAIN
 * when *offset == len (no more entries). Never reads outside [rec, rec + len). TW_THREADSAFE.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_PARSE (truncated entry, bad magic, unknown type, a value
 * length that does not match its type).
 */
TW_API TW_THREADSAFE tw_status tw_https_record_next(const void *rec, size_t len, size_t *offset,
                                                    tw_https_entry *out);

/* ---- Uplink --------------------------------------------------------------------------------------- */

typedef struct tw_https_uplink tw_https_uplink;

typedef enum tw_https_format {
    TW_HTTPS_FORMAT_JSONL = 0,   /* application/x-ndjson */
    TW_HTTPS_FORMAT_PROTOBUF = 1 /* application/x-protobuf (Sparkplug B Payload) */
} tw_https_format;

typedef enum tw_https_reject_policy {
    TW_HTTPS_REJECT_HOLD = 0, /* keep the batch in the store and stop sending (state HELD) until
                                 tw_https_uplink_release() */
    TW_HTTPS_REJECT_PARK = 1, /* write the batch (headers + body) to options.park_dir, then trim */
    TW_HTTPS_REJECT_DROP = 2  /* trim it; counted in stats.rejected_* and logged at error level */
} tw_https_reject_policy;

/*
 * Called when a batch is refused permanently (HTTP status, or 0 when its records do not parse),
 * before the policy applies. key: its Idempotency-Key; body: what was sent (before gzip).
 * Runs on the thread in tw_https_uplink_step(); must not call into the uplink or its store.
 */
typedef void (*tw_https_reject_fn)(long http_status, const char *key, const void *body,
                                   size_t body_len, uint64_t records, void *user_data);

#define TW_HTTPS_OPTIONS_VERSION 1
typedef struct tw_https_options {
    uint32_t version;            /* TW_HTTPS_OPTIONS_VERSION */
    const char *url;             /* https://host[:port]/path (http:// is refused) */
    const char *ca_file;         /* trust anchors (PEM); required unless use_system_trust */
    const char *cert_file;       /* client certificate chain (PEM); NULL: no client certificate */
    const char *key_file;        /* its private key (PEM) */
    const char *key_password;    /* NULL when the key is not encrypted */
    int use_system_trust;        /* non-zero: also trust the system's CA store (default: no) */
    tw_https_format format;      /* TW_HTTPS_FORMAT_JSONL (default) or _PROTOBUF */
    int gzip;                    /* non-zero: Content-Encoding: gzip */
    uint32_t max_batch_records;  /* store records per batch; 0 = 500 */
    uint32_t max_batch_bytes;    /* body bytes (before gzip) per batch, soft; 0 = 1 MiB */
    uint32_t timeout_ms;         /* whole request; 0 = 30000 */
    uint32_t connect_timeout_ms; /* 0 = 10000 */
    uint32_t backoff_base_ms;    /* 0 = 250 */
    uint32_t backoff_cap_ms;     /* 0 = 30000 */
    uint32_t max_retry_after_s;  /* longest Retry-After honoured; 0 = 3600 */
    uint32_t historical_ms;      /* protobuf is_historical threshold; 0 = 10000 */
    tw_https_reject_policy on_reject;
    const char *park_dir;        /* TW_HTTPS_REJECT_PARK: existing directory for parked batches */
    const char *instance_id;     /* Idempotency-Key prefix ([A-Za-z0-9_.-], 1..64); NULL: from
                                    the store's durable state */
    tw_https_reject_fn reject_fn;
    void *reject_user_data;
} tw_https_options;
#define TW_HTTPS_OPTIONS_INIT                                                                      \
    { TW_HTTPS_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, TW_HTTPS_FORMAT_JSONL, 0, 0, 0,   \
      0, 0, 0, 0, 0, 0, TW_HTTPS_REJECT_HOLD, NULL, NULL, NULL, NULL }

/*
 * Creates an uplink draining `store` (borrowed: it must outlive the uplink; the uplink reads,
 * rewinds and acknowledges it, and keeps two keys in its durable state). The store's read
 * cursor is rewound to the first unacknowledged record. Nothing is sent before the first step.
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_CONFIG (no URL, not
 * https, no trust anchor, cert without key, park_dir missing for PARK, bad instance_id),
 * TW_ERR_NOMEM, TW_ERR_GENERIC (libcurl could not be initialised), and the store's errors while
 * reading its durable state. On failure *out is NULL and tw_last_error() on the calling thread
 * names the option and the problem ("https: url: ..."); the message is also logged (error level).
 */
TW_API tw_status tw_https_uplink_new(tw_https_uplink **out, tw_store *store,
                                     const tw_https_options *opts);

/* Aborts a request in flight (its batch stays in the store) and frees. NULL is ignored. */
TW_API void tw_https_uplink_free(tw_https_uplink *u);

/*
 * Does the uplink's work: builds the next batch from the store when none is in flight, starts
 * or continues its request, handles the response. Waits at most timeout_ms for network activity
 * (0: never waits) and returns early when the request completes. Call it from the loop that
 * appends to the store.
 * Returns TW_OK (also while retrying: the failure of an attempt is not an error of the call; see
 * tw_https_uplink_state() and the stats), or: TW_ERR_BUSY (state HELD), TW_ERR_IO and other store
 * errors (reading or acknowledging the store failed; detail in tw_https_uplink_last_error()).
 */
TW_API tw_status tw_https_uplink_step(tw_https_uplink *u, uint32_t timeout_ms);

typedef enum tw_https_state {
    TW_HTTPS_IDLE = 0,     /* nothing to send: the store is drained */
    TW_HTTPS_SENDING = 1,  /* a request is in flight */
    TW_HTTPS_BACKOFF = 2,  /* waiting before the next attempt (after a failure or Retry-After) */
    TW_HTTPS_HELD = 3      /* a batch was refused and the policy is HOLD */
} tw_https_state;

/* The uplink's current state (see tw_https_state). Not TW_THREADSAFE: call it from the thread that
 * drives the uplink. Never fails; a NULL uplink reads as TW_HTTPS_IDLE. */
TW_API tw_https_state tw_https_uplink_state(const tw_https_uplink *u);

/*
 * Milliseconds until tw_https_uplink_step() next has something to do without network activity
 * (a back-off ending, libcurl's own timers): 0 = now; UINT32_MAX = only on socket activity or
 * when the store gets new records.
 */
TW_API uint32_t tw_https_uplink_next_ms(tw_https_uplink *u);

#define TW_HTTPS_FD_READ 1
#define TW_HTTPS_FD_WRITE 2
/*
 * The sockets the uplink currently waits on: fds[i] with events[i] (TW_HTTPS_FD_READ/WRITE bits).
 * Writes up to cap entries; *n receives the number of sockets (may exceed cap).
 * Errors: TW_ERR_INVALID_ARG.
 */
TW_API tw_status tw_https_uplink_fds(tw_https_uplink *u, int *fds, int *events, size_t cap,
                                     size_t *n);

/*
 * Policy HOLD: resumes after a refused batch. drop == 0: send the same batch again (e.g. after
 * the server was fixed); drop != 0: trim it and count it as rejected. Errors: TW_ERR_BUSY (not
 * HELD), store errors.
 */
TW_API tw_status tw_https_uplink_release(tw_https_uplink *u, int drop);

/*
 * Aborts the current back-off or in-flight attempt and retries at the next step (e.g. when the
 * application learns that the network is back). The batch is unchanged.
 */
TW_API void tw_https_uplink_retry_now(tw_https_uplink *u);

#define TW_HTTPS_STATS_VERSION 1
typedef struct tw_https_stats {
    uint32_t version;           /* set by the caller: TW_HTTPS_STATS_VERSION */
    uint64_t batches;           /* batches acknowledged with 2xx */
    uint64_t records;           /* store records in them */
    uint64_t values;            /* values (entries) in them */
    uint64_t bytes;             /* body bytes sent in acknowledged batches (after gzip) */
    uint64_t requests;          /* HTTP requests started (attempts) */
    uint64_t retries;           /* attempts that repeated a batch */
    uint64_t failures;          /* attempts that failed (transport, TLS, 408/429/5xx) */
    uint64_t rejected_batches;  /* refused permanently (4xx) or unparsable, then parked/dropped */
    uint64_t rejected_records;
    uint64_t parked_batches;    /* of those, written to park_dir */
    long last_http_status;      /* of the last response; 0 when none (transport failure) */
    tw_status last_status;      /* of the last attempt: TW_OK, or why it failed */
    uint32_t last_retry_after_s;/* Retry-After of the last 429/503 (0 when none) */
    uint64_t acked_seq;         /* store watermark after the last acknowledged batch */
} tw_https_stats;

/* Fills *st (st->version must be TW_HTTPS_STATS_VERSION). Errors: TW_ERR_INVALID_ARG, TW_ERR_VERSION. */
TW_API tw_status tw_https_uplink_stats_get(const tw_https_uplink *u, tw_https_stats *st);

/* Detail of the last failure (attempt or call), e.g. "HTTP 503 (retry after 2 s)" or the TLS
 * error. Never NULL; valid until the next call on the uplink. */
TW_API const char *tw_https_uplink_last_error(const tw_https_uplink *u);
/* The status of the last failure (TW_OK when none; TW_ERR_INVALID_ARG for NULL). */
TW_API tw_status tw_https_uplink_last_status(const tw_https_uplink *u);

TW_END_DECLS

#endif /* TAGWIRE_HTTPS_H */
