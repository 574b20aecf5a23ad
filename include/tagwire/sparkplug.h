/*
 * tagwire/sparkplug.h - Sparkplug B 3.0: payload codec and topic namespace.
 *
 * - Decoding: tw_sp_payload_decode() turns payload bytes into a readable structure held in one
 *   allocation (tw_sp_payload_free() releases it); tw_sp_payload_format() renders it as text or
 *   JSON.
 * - Encoding: tw_sp_encode_data() writes NDATA/DDATA (and NCMD/DCMD) payloads straight into a
 *   caller buffer without allocating; its output is byte-identical to protobuf-c's packing of the
 *   same message. tw_sp_encode_birth() writes NBIRTH/DBIRTH payloads (names, aliases, datatypes,
 *   engineering unit, description, quality) and allocates internally.
 * - Topics: tw_sp_topic_build() / tw_sp_topic_parse() for spBv1.0/<group>/<type>/<node>[/<device>]
 *   and spBv1.0/STATE/<host id>.
 *
 * Threading: every function here is pure (no shared state) and TW_THREADSAFE; a decoded payload
 * may be read from several threads at once.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_SPARKPLUG_H
#define TAGWIRE_SPARKPLUG_H

#include "core.h"
#include "types.h"

TW_BEGIN_DECLS

/* ---- Datatypes (Sparkplug B "DataType" enumeration; values are wire facts) ------------------- */

#define TW_SP_DT_UNKNOWN 0
#define TW_SP_DT_INT8 1
#define TW_SP_DT_INT16 2
#define TW_SP_DT_INT32 3
#define TW_SP_DT_INT64 4
#define TW_SP_DT_UINT8 5
#define TW_SP_DT_UINT16 6
#define TW_SP_DT_UINT32 7
#define TW_SP_DT_UINT64 8
#define TW_SP_DT_FLOAT 9
#define TW_SP_DT_DOUBLE 10
#define TW_SP_DT_BOOLEAN 11
#define TW_SP_DT_STRING 12
#define TW_SP_DT_DATETIME 13
#define TW_SP_DT_TEXT 14
#define TW_SP_DT_UUID 15
#define TW_SP_DT_DATASET 16
#define TW_SP_DT_BYTES 17
#define TW_SP_DT_FILE 18
#define TW_SP_DT_TEMPLATE 19
#define TW_SP_DT_PROPERTYSET 20
#define TW_SP_DT_PROPERTYSETLIST 21
#define TW_SP_DT_INT8_ARRAY 22
#define TW_SP_DT_DATETIME_ARRAY 34 /* 22..34: the array types (little-endian packed bytes) */

/*
 * The Sparkplug datatype for a tagwire value type: BOOL -> Boolean (11), INT8..INT64 -> 1..4,
 * UINT8..UINT64 -> 5..8, FLOAT -> 9, DOUBLE -> 10, STRING -> String (12), BYTES -> Bytes (17),
 * DATETIME -> DateTime (13). Returns TW_SP_DT_UNKNOWN (0) for TW_TYPE_NONE or an unknown type.
 */
TW_API TW_THREADSAFE uint32_t tw_sp_datatype_from_type(tw_type type);
/* The reverse: the tw_type a Sparkplug datatype decodes to (Text and UUID -> STRING, File and
 * the array types -> BYTES); TW_TYPE_NONE for DataSet, Template, property sets, unknown. */
TW_API TW_THREADSAFE tw_type tw_sp_type_from_datatype(uint32_t datatype);
/* "Int8", ..., "DateTimeArray" as in the specification; "Unknown" for anything else. Static. */
TW_API TW_THREADSAFE const char *tw_sp_datatype_name(uint32_t datatype);

/* Property keys tagwire writes in births and recognises when decoding. */
#define TW_SP_PROP_QUALITY "Quality"          /* Int32: 0 bad, 192 good, 500 stale (spec) */
#define TW_SP_PROP_ENG_UNIT "engUnit"         /* String: engineering unit */
#define TW_SP_PROP_DESCRIPTION "documentation" /* String: description */

/* ---- Metrics ----------------------------------------------------------------------------------- */

/* tw_sp_metric.flags */
#define TW_SP_METRIC_HISTORICAL  0x0001u /* is_historical = true (replayed / stored data) */
#define TW_SP_METRIC_TRANSIENT   0x0002u /* is_transient = true */
#define TW_SP_METRIC_NULL        0x0004u /* is_null = true and no value (value.type gives the datatype) */
#define TW_SP_METRIC_QUALITY     0x0008u /* write the Quality property even when the quality is good
                                          * (it is always written when not good); when decoding:
                                          * a Quality property was present */
#define TW_SP_METRIC_NO_ALIAS    0x0010u /* omit the alias (metric addressed by name only) */
#define TW_SP_METRIC_NO_DATATYPE 0x0020u /* DATA only: omit the datatype field (hosts resolve it
                                          * from the birth by alias); saves two bytes a metric */
#define TW_SP_METRIC_NO_TIMESTAMP 0x0040u /* omit the metric timestamp (allowed in NCMD/DCMD only) */

/*
 * One metric to encode (and, inside tw_sp_decoded_metric, one decoded). Strings are borrowed: the
 * encoder only reads them during the call. Value conventions on the wire (spec "Datatype
 * Details"): Int8/16/32 are sent as the 32-bit two's complement in the uint32 int_value, Int64 as
 * the 64-bit two's complement in the uint64 long_value; DATETIME (ns in tw_value) is sent as
 * milliseconds (floor division).
 */
typedef struct tw_sp_metric {
    const char *name;        /* NULL: no name (DATA messages use the alias only) */
    uint64_t alias;          /* written unless TW_SP_METRIC_NO_ALIAS */
    int64_t ts_ms;           /* metric timestamp, ms since the Unix epoch (>= 0) */
    tw_value value;          /* its type selects the datatype; TW_TYPE_NONE is not allowed */
    tw_quality quality;      /* written as the Quality property when not good (or flag set) */
    uint32_t flags;          /* TW_SP_METRIC_* */
    const char *unit;        /* births only: engineering unit property, NULL = none */
    const char *description; /* births only: description property, NULL = none */
} tw_sp_metric;

/* ---- Encoding --------------------------------------------------------------------------------- */

/*
 * Encodes a DATA payload (NDATA, DDATA; also NCMD, DCMD) into buf[0..cap): payload timestamp,
 * the metrics in order, and seq. For each metric: name (if non-NULL), alias, timestamp, datatype,
 * is_historical / is_transient / is_null (when flagged), the Quality property (when the quality
 * is not good or TW_SP_METRIC_QUALITY is set), then the value. unit/description are ignored.
 * Fields are in field-number order, so the bytes equal protobuf-c's packing of the same message
 * (for string values without NUL bytes: protobuf-c, holding C strings, cannot carry those; this
 * encoder writes the len bytes given).
 *
 * Never allocates. On success *out_len is the payload length. When cap is too small (buf may
 * then be NULL with cap 0, to ask for the size) returns TW_ERR_FULL and sets *out_len to the
 * length needed. Errors: TW_ERR_INVALID_ARG (out_len NULL, metrics NULL with count > 0, a
 * metric with TW_TYPE_NONE or an unknown type and no TW_SP_METRIC_NULL flag, a string or bytes
 * value with ptr NULL and len > 0), TW_ERR_RANGE (negative timestamp), TW_ERR_FULL.
 * TW_THREADSAFE (pure).
 */
TW_API TW_THREADSAFE tw_status tw_sp_encode_data(uint8_t *buf, size_t cap, size_t *out_len,
                                                 int64_t timestamp_ms, uint64_t seq,
                                                 const tw_sp_metric *metrics, size_t count);

/*
 * Encodes a BIRTH payload (NBIRTH, DBIRTH): like tw_sp_encode_data() but every metric carries
 * its name (required: TW_ERR_INVALID_ARG when NULL), alias (unless TW_SP_METRIC_NO_ALIAS),
 * timestamp, datatype (always) and a property set with engUnit (when unit is non-NULL),
 * documentation (when description is non-NULL) and Quality (always, so that a host learns the
 * initial quality). NBIRTH callers put the bdSeq and "Node Control/Rebirth" metrics in the list
 * themselves (or use the node runtime). Uses protobuf-c; allocates temporarily through the
 * tagwire allocator (TW_ERR_NOMEM). Buffer contract as tw_sp_encode_data(). TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_encode_birth(uint8_t *buf, size_t cap, size_t *out_len,
                                                  int64_t timestamp_ms, uint64_t seq,
                                                  const tw_sp_metric *metrics, size_t count);

/* ---- Decoding --------------------------------------------------------------------------------- */

/* A decoded property (one key of a metric's property set). */
typedef struct tw_sp_property {
    const char *key;     /* NUL-terminated */
    uint32_t type;       /* Sparkplug datatype as sent (0 when absent) */
    int is_null;         /* non-zero when is_null was true */
    tw_value value;      /* scalar value mapped as for metrics; TW_TYPE_NONE for null, nested
                          * property sets and absent values */
} tw_sp_property;

/* tw_sp_decoded_metric.present / tw_sp_payload.present */
#define TW_SP_HAS_NAME      0x0001u
#define TW_SP_HAS_ALIAS     0x0002u
#define TW_SP_HAS_TIMESTAMP 0x0004u
#define TW_SP_HAS_DATATYPE  0x0008u
#define TW_SP_HAS_VALUE     0x0010u /* a value field was present */
#define TW_SP_HAS_SEQ       0x0020u /* payload only */
#define TW_SP_HAS_UUID      0x0040u /* payload only */
#define TW_SP_HAS_BODY      0x0080u /* payload only */
#define TW_SP_HAS_METADATA  0x0100u /* metric only: a MetaData message was present (not expanded) */

/*
 * A decoded metric. `metric` holds what tagwire understands: name (NULL if absent), alias,
 * ts_ms, value (typed by the datatype; when the datatype is absent, by the value field present:
 * int_value -> UINT32, long_value -> UINT64, ...), quality (from the Quality property, else
 * TW_QUALITY_GOOD), flags (HISTORICAL/TRANSIENT/NULL, QUALITY when the property was present,
 * NO_ALIAS/NO_DATATYPE/NO_TIMESTAMP when absent), unit and description (from the engUnit and
 * documentation properties). String/bytes values point into the payload's arena.
 * UInt32 values are accepted from int_value or long_value (some codecs use the latter).
 * DataSet, Template and extension values are recognised but not expanded (value TW_TYPE_NONE).
 */
typedef struct tw_sp_decoded_metric {
    tw_sp_metric metric;
    uint32_t datatype;               /* as sent; 0 when absent */
    uint32_t present;                /* TW_SP_HAS_* */
    const tw_sp_property *properties;
    size_t property_count;
} tw_sp_decoded_metric;

typedef struct tw_sp_payload {
    uint32_t present;                /* TW_SP_HAS_TIMESTAMP / SEQ / UUID / BODY */
    uint64_t timestamp_ms;
    uint64_t seq;
    const char *uuid;                /* NULL when absent */
    const uint8_t *body;             /* NULL when absent */
    size_t body_len;
    const tw_sp_decoded_metric *metrics;
    size_t metric_count;
} tw_sp_payload;

/*
 * Decodes a Sparkplug B payload. On success *out is one allocation holding the payload, its
 * metrics, properties and every string (all valid until tw_sp_payload_free(*out)). Hostile input
 * is safe: the wire structure is checked (nesting depth limited to 32) before decoding. Memory
 * use is bounded by the input: up to a few hundred bytes per metric (a metric takes at least two
 * bytes on the wire), so callers bound it by bounding the payload size they accept.
 * On failure a one-line reason is written to `err` (may be NULL; truncated to err_size) and
 * recorded for tw_last_error() ("sparkplug: payload: ...").
 * Errors: TW_ERR_INVALID_ARG (out NULL, data NULL with len > 0), TW_ERR_SPARKPLUG_DECODE
 * (malformed), TW_ERR_NOMEM, TW_ERR_NOT_INITIALIZED. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_payload_decode(tw_sp_payload **out, const void *data,
                                                    size_t len, char *err, size_t err_size);
/* Frees a decoded payload; NULL is ignored. TW_THREADSAFE. */
TW_API TW_THREADSAFE void tw_sp_payload_free(tw_sp_payload *payload);

typedef enum tw_sp_format {
    TW_SP_FORMAT_TEXT = 0, /* human-readable, one metric a line */
    TW_SP_FORMAT_JSON = 1  /* one JSON object (64-bit integers as numbers, NaN/Inf as strings) */
} tw_sp_format;

/*
 * Renders a decoded payload. *out receives a NUL-terminated string (length in *out_len when
 * out_len is non-NULL), freed by the caller with tw_free(). Errors: TW_ERR_INVALID_ARG,
 * TW_ERR_NOMEM. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_payload_format(char **out, size_t *out_len,
                                                    const tw_sp_payload *payload,
                                                    tw_sp_format format);

/* ---- Topics ----------------------------------------------------------------------------------- */

typedef enum tw_sp_msg_type {
    TW_SP_MSG_NONE = 0,
    TW_SP_MSG_NBIRTH = 1,
    TW_SP_MSG_NDEATH = 2,
    TW_SP_MSG_DBIRTH = 3,
    TW_SP_MSG_DDEATH = 4,
    TW_SP_MSG_NDATA = 5,
    TW_SP_MSG_DDATA = 6,
    TW_SP_MSG_NCMD = 7,
    TW_SP_MSG_DCMD = 8,
    TW_SP_MSG_STATE = 9
} tw_sp_msg_type;

/* "NBIRTH", ..., "STATE"; NULL for anything else. Static. */
TW_API TW_THREADSAFE const char *tw_sp_msg_type_name(tw_sp_msg_type type);

/* The Sparkplug B namespace element. */
#define TW_SP_NAMESPACE "spBv1.0"

/*
 * Builds "spBv1.0/<group>/<TYPE>/<edge node>" (NBIRTH, NDEATH, NDATA, NCMD; device must be NULL)
 * or "spBv1.0/<group>/<TYPE>/<edge node>/<device>" (DBIRTH, DDEATH, DDATA, DCMD; device
 * required), or for TW_SP_MSG_STATE "spBv1.0/STATE/<edge_node>" (edge_node is the host id; group
 * and device must be NULL). Each id must be non-empty valid UTF-8 without '+', '#' or '/'.
 * Writes a NUL-terminated string into buf[0..cap); *out_len (may be NULL) gets its length without
 * the NUL. Errors: TW_ERR_SPARKPLUG_TOPIC (bad id or combination), TW_ERR_FULL (cap too small;
 * *out_len then gets the length needed), TW_ERR_INVALID_ARG. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_topic_build(char *buf, size_t cap, size_t *out_len,
                                                 tw_sp_msg_type type, const char *group_id,
                                                 const char *edge_node_id, const char *device_id);

/* A parsed topic: views into the topic string (not NUL-terminated); len 0 when absent. */
typedef struct tw_sp_topic {
    tw_sp_msg_type type;
    const char *group_id;     size_t group_id_len;
    const char *edge_node_id; size_t edge_node_id_len; /* for STATE: the host id */
    const char *device_id;    size_t device_id_len;
} tw_sp_topic;

/*
 * Parses an MQTT topic name (len bytes, need not be NUL-terminated) as a Sparkplug B topic and
 * validates it as tw_sp_topic_build() does. Errors: TW_ERR_SPARKPLUG_TOPIC, TW_ERR_INVALID_ARG.
 * TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_topic_parse(tw_sp_topic *out, const char *topic, size_t len);

/* ---- Default MQTT client id --------------------------------------------------------------------- */

/* The longest client id every MQTT 3.1.1 server must accept (MQTT 3.1.1, 3.1.3.1 [MQTT-3.1.3-5]:
 * 1..23 bytes of 0-9, a-z, A-Z; longer ids and other characters are at the server's discretion). */
#define TW_SP_CLIENT_ID_MAX 23

/*
 * The default MQTT client id of an edge node: the one rule used by tw_edge_new(), tw_node_new()
 * and the configuration loader when no client id is given.
 *   - "<group_id>-<edge_node_id>" when that is at most TW_SP_CLIENT_ID_MAX bytes and consists of
 *     ASCII letters, digits, '-', '_' and '.' only, e.g. "PlantA-Press7";
 *   - otherwise a stable shortened id "<prefix>-<hash>", e.g. "PlantA-Lin-ce47b902066a" for
 *     "PlantA" and "Line 2 Press 7": prefix = the first 10 of the letters, digits, '-', '_' and '.'
 *     of "<group_id>-<edge_node_id>" (other bytes are left out; "tw" when no letter or digit
 *     remains), hash = the first 12 lowercase hex digits of SHA-256("<group_id>/<edge_node_id>")
 *     (printf '%s' 'PlantA/Line 2 Press 7' | sha256sum). The same ids always give the same client
 *     id, so broker ACLs and persistent sessions can rely on it.
 * Either way the id has at most TW_SP_CLIENT_ID_MAX bytes. Ids with '-', '_' or '.' are outside
 * the set MQTT 3.1.1 obliges servers to accept; a server that refuses them needs an explicit client
 * id. Writes the NUL-terminated id into buf (cap >= TW_SP_CLIENT_ID_MAX + 1 always suffices).
 * Errors: TW_ERR_INVALID_ARG (a NULL pointer or an empty id), TW_ERR_FULL (cap too small),
 * TW_ERR_UNSUPPORTED (mbedTLS built without SHA-256). TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_default_client_id(char *buf, size_t cap, const char *group_id,
                                                       const char *edge_node_id);

/* ---- Host application STATE payload ------------------------------------------------------------ */

/*
 * Parses a STATE payload (spec 3.0: UTF-8 JSON object with "online": true|false and "timestamp":
 * ms since the epoch; other keys are ignored). Strict JSON: both keys required, each once,
 * timestamp a non-negative integer. Errors: TW_ERR_SPARKPLUG_DECODE (the reason is recorded for
 * tw_last_error(): "sparkplug: STATE payload ..."), TW_ERR_INVALID_ARG. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_sp_state_parse(int *online, uint64_t *timestamp_ms,
                                                 const void *payload, size_t len);
/* Writes {"online":true|false,"timestamp":N} NUL-terminated into buf (buffer contract as
 * tw_sp_topic_build()). Errors: TW_ERR_FULL, TW_ERR_RANGE (timestamp > INT64_MAX),
 * TW_ERR_INVALID_ARG. TW_THREADSAFE. */
TW_API TW_THREADSAFE tw_status tw_sp_state_build(char *buf, size_t cap, size_t *out_len, int online,
                                                 uint64_t timestamp_ms);

TW_END_DECLS

#endif /* TAGWIRE_SPARKPLUG_H */
