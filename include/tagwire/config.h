/*
 * tagwire/config.h - a gateway's configuration, read from a JSON file and validated.
 *
 * A tw_config is an immutable, validated description of one edge node: its Sparkplug identity,
 * its uplink (broker, TLS files), its store-and-forward settings and its devices with their tags.
 * It does not open connections, read certificate files or talk to adapters: it only says what the
 * node should do. The node (tagwire/node.h) consumes it; `tagwire check-config FILE` prints it.
 *
 * The file format is documented in examples/gateway.md with a complete example in
 * examples/gateway.json. In short:
 *
 *   { "version": 1,
 *     "node":    { "group_id": "PlantA", "edge_node_id": "Press7", "primary_host_id": "SCADA" },
 *     "uplink":  { "broker": "mqtts://broker:8883", "client_id": "...", "keep_alive_s": 30,
 *                  "tls": { "ca": "ca.crt", "cert": "c.crt", "key": "c.key", "crl": "ca.crl",
 *                           "server_name": "broker", "pins": ["sha256/<base64>"] } },
 *     "store":   { "dir": "spool", "max_bytes": 67108864, "max_age_s": 0,
 *                  "fsync": "periodic", "fsync_interval_ms": 1000, "overflow": "drop_oldest" },
 *     "enroll":  { "est_url": "https://est.plant.local:8443", "server_ca": "est-ca.pem",
 *                  "credentials_dir": "creds", "renew_fraction": 0.66, "retry_max_s": 30 },
 *     "devices": [ { "id": "Press", "adapter": "modbus+tcp://127.0.0.1:1502?unit=1",
 *                    "scan_groups": [ { "name": "fast", "rate_ms": 100 } ],
 *                    "tags": [ { "name": "Hydraulics/OilTemp", "address": "hr:100",
 *                                "type": "double", "scan_group": "fast", "deadband": 0.2,
 *                                "unit": "degC", "description": "...", "min": 0, "max": 150,
 *                                "scaling": { "raw_min": 0, "raw_max": 1500,
 *                                             "eng_min": 0, "eng_max": 150 },
 *                                "access": "read" } ] } ] }
 *
 * Rules checked by the loader (each violation is an error; nothing is silently ignored):
 * - The file is strict JSON (RFC 8259: no comments, no trailing commas), UTF-8, at most
 *   TW_CONFIG_MAX_FILE_BYTES. A leading UTF-8 byte-order mark is skipped.
 * - Unknown keys are errors (typos are caught, with a "did you mean" hint). Keys that begin with
 *   '_' are comments and are ignored everywhere (e.g. "_comment": "...").
 * - Identifiers (group_id, edge_node_id, primary_host_id, device ids) are Sparkplug ids: 1 to
 *   TW_CONFIG_MAX_ID_BYTES bytes of UTF-8 without '+', '#', '/' and without control characters.
 * - Tag names follow the tag model's rule, tw_tag_name_validate() (tagwire/tag.h): the loader
 *   accepts exactly the names a tag set accepts (hierarchical paths of '/'-separated segments, at
 *   most TW_CONFIG_MAX_NAME_BYTES bytes). Names are unique within their device; device ids are
 *   unique within the node.
 * - A key given twice in one object is an error at the second one's path (JSON parsers disagree on
 *   which of the two counts). Comment keys ('_...') may repeat.
 * - Each tag's "address" is checked by the adapter of its device's scheme,
 *   tw_adapter_check_address() (tagwire/adapter.h; syntax in docs/addresses.md), and the tag's
 *   "type" must convert from (and, for writes, to) the type of the address's values, by the rule of
 *   tw_value_convert(): numbers and bool among each other, string and bytes among each other,
 *   datetime with integers. The device's adapter must therefore be registered when the file is
 *   loaded: the built-in ones always are; an application registers its own with
 *   tw_adapter_register() before loading.
 * - Relative file and directory paths (tls.ca/cert/key/crl, store.dir, enroll.server_ca,
 *   enroll.credentials_dir) are resolved against the directory of the configuration file (or the
 *   base_dir given to tw_config_load_string()).
 *   The files are not opened here: the TLS and store modules report missing files.
 * - A plaintext "mqtt://" broker needs "insecure": true in "uplink" and no "tls" block;
 *   "mqtts://" needs "tls" with at least "ca", "cert" and "key" (mutual TLS). With an "enroll"
 *   section, "cert" and "key" are not allowed: the client credential comes from its
 *   credentials_dir (and "enroll" needs an "mqtts://" broker).
 *
 * Errors: every failure has a message of the form
 *     "<file>: <JSON path>: <problem>"          e.g.
 *     gateway.json: $.devices[1].tags[3].deadband: must be a number >= 0 (got "abc")
 * and, for JSON syntax errors, "<file>:<line>:<column>: invalid JSON: <problem>" (line and column
 * count from 1; columns count characters). It is read with tw_config_last_error().
 *
 * Ownership: every string and object returned by an accessor belongs to the tw_config and stays
 * valid until tw_config_free(). Accessors given NULL, an index out of range, or a config that is
 * not loaded return NULL / 0.
 *
 * Threading: tw_config_load_file(), tw_config_load_string() and tw_config_free() must not run
 * concurrently with any other call on the same config. Once loaded, the config never changes: all
 * accessors are TW_THREADSAFE and may be called from any number of threads.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_CONFIG_H
#define TAGWIRE_CONFIG_H

#include "core.h"
#include "store.h"
#include "tag.h"
#include "types.h"

TW_BEGIN_DECLS

/* Limits of the format (part of the documented format, only ever raised). */
#define TW_CONFIG_MAX_FILE_BYTES (64u * 1024u * 1024u) /* whole file */
#define TW_CONFIG_MAX_ID_BYTES 128u     /* group, edge node, primary host and device ids */
#define TW_CONFIG_MAX_NAME_BYTES 1023u  /* tag names: TW_TAG_NAME_MAX - 1 (tagwire/tag.h) */
#define TW_CONFIG_MAX_STRING_BYTES 4096u /* any other string (addresses, URIs, paths, text) */
#define TW_CONFIG_MAX_SCAN_GROUPS 256u  /* scan groups per device */
#define TW_CONFIG_FORMAT_VERSION 1      /* the "version" this library reads */

typedef struct tw_config tw_config;               /* a loaded configuration (opaque) */
typedef struct tw_config_device tw_config_device; /* one device, owned by its tw_config */
typedef struct tw_config_tag tw_config_tag;       /* one tag, owned by its device's tw_config */

/* The settings that the store and the tag model define use their types: tw_store_sync_policy and
 * tw_store_overflow (tagwire/store.h), tw_deadband_mode and tw_access (tagwire/tag.h). */

/* ---- Life cycle ------------------------------------------------------------------------------- */

/*
 * Creates an empty (not yet loaded) configuration. *out must be released with tw_config_free().
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG (out NULL), TW_ERR_NOMEM (detail in
 * tw_last_error()).
 */
TW_API tw_status tw_config_new(tw_config **out);

/*
 * Reads, parses and validates the JSON file at `path`. On success the config is loaded and
 * immutable. On failure it stays empty (and may be loaded again) and tw_config_last_error() holds
 * the message, which begins with `path` as given (tw_last_error() on the calling thread has it
 * too, as "config: <message>").
 * Errors: TW_ERR_INVALID_ARG (NULL argument), TW_ERR_BUSY (already loaded), TW_ERR_NOT_FOUND /
 * TW_ERR_PERMISSION / TW_ERR_IO (file cannot be read), TW_ERR_RANGE (file larger than
 * TW_CONFIG_MAX_FILE_BYTES), TW_ERR_PARSE (not JSON: the message gives line and column),
 * TW_ERR_CONFIG (JSON that breaks a rule: the message gives the JSON path), TW_ERR_NOMEM.
 */
TW_API tw_status tw_config_load_file(tw_config *cfg, const char *path);

/*
 * As tw_config_load_file(), from `len` bytes of JSON text in memory (need not be NUL-terminated).
 * `name` is used in messages in place of a file name (NULL: "<string>"). Relative paths in the
 * configuration are resolved against `base_dir` (NULL or "": left relative, i.e. to the process's
 * working directory). The bytes are not referenced after the call.
 */
TW_API tw_status tw_config_load_string(tw_config *cfg, const char *json, size_t len,
                                       const char *name, const char *base_dir);

/* Releases the config and everything its accessors returned. NULL is ignored. */
TW_API void tw_config_free(tw_config *cfg);

/* The last load error's message ("" when none): see "Errors" above. Valid until the next load
 * or tw_config_free(). */
TW_API const char *tw_config_last_error(const tw_config *cfg);

/* The last load error's status (TW_OK when none). */
TW_API tw_status tw_config_last_status(const tw_config *cfg);

/* Non-zero once a load succeeded. TW_THREADSAFE once loaded. */
TW_API TW_THREADSAFE int tw_config_is_loaded(const tw_config *cfg);

/* The name used in messages: the path given to tw_config_load_file() or the `name` given to
 * tw_config_load_string(). The node uses it to report later problems (e.g. an address the adapter
 * rejects) together with tw_config_tag_path(). */
TW_API TW_THREADSAFE const char *tw_config_source(const tw_config *cfg);

/* ---- Node identity ("node") ------------------------------------------------------------------- */

/* The Sparkplug group id ("group_id") and edge node id ("edge_node_id"), both required by the
 * loader; NULL before a successful load. Valid as long as the config is loaded. */
TW_API TW_THREADSAFE const char *tw_config_group_id(const tw_config *cfg);
TW_API TW_THREADSAFE const char *tw_config_edge_node_id(const tw_config *cfg);
/* The Sparkplug primary host application id whose STATE the node follows; NULL when absent. */
TW_API TW_THREADSAFE const char *tw_config_primary_host_id(const tw_config *cfg);

/* ---- Uplink ("uplink") ------------------------------------------------------------------------ */

/* The broker URI as written, e.g. "mqtts://broker.plant.local:8883". */
TW_API TW_THREADSAFE const char *tw_config_broker_uri(const tw_config *cfg);
/* The broker's host: a name, an IPv4 literal or an IPv6 literal (without brackets). */
TW_API TW_THREADSAFE const char *tw_config_broker_host(const tw_config *cfg);
/* The broker's port: as written, else 8883 for mqtts:// and 1883 for mqtt://. */
TW_API TW_THREADSAFE uint16_t tw_config_broker_port(const tw_config *cfg);
/* Non-zero for a plaintext mqtt:// broker (allowed only with "insecure": true). */
TW_API TW_THREADSAFE int tw_config_insecure(const tw_config *cfg);
/* The MQTT client id: "client_id" as written, default tw_sp_default_client_id(group_id,
 * edge_node_id) (tagwire/sparkplug.h: the edge's and the node's default too; at most 23 bytes). */
TW_API TW_THREADSAFE const char *tw_config_client_id(const tw_config *cfg);
/* The MQTT keep-alive in seconds: "keep_alive_s", 0..65535, default 30; 0 (also
 * returned when absent) = the default; 65535 = no keep-alive. */
TW_API TW_THREADSAFE uint32_t tw_config_keep_alive_s(const tw_config *cfg);

/* TLS files, resolved (see "Relative ... paths" above); NULL when absent (always for mqtt://). */
TW_API TW_THREADSAFE const char *tw_config_tls_ca_file(const tw_config *cfg);   /* PEM trust anchors */
TW_API TW_THREADSAFE const char *tw_config_tls_cert_file(const tw_config *cfg); /* PEM client chain */
TW_API TW_THREADSAFE const char *tw_config_tls_key_file(const tw_config *cfg);  /* PEM client key */
TW_API TW_THREADSAFE const char *tw_config_tls_crl_file(const tw_config *cfg);  /* optional CRL */
/* The name to verify the broker's certificate against: "server_name", default the broker host;
 * NULL for mqtt://. */
TW_API TW_THREADSAFE const char *tw_config_tls_server_name(const tw_config *cfg);
/* Public-key pins: "sha256/<base64 of the SHA-256 of the DER SubjectPublicKeyInfo>" (44 base64
 * characters). The broker's key must match one of them when there is at least one. */
TW_API TW_THREADSAFE size_t tw_config_tls_pin_count(const tw_config *cfg);
TW_API TW_THREADSAFE const char *tw_config_tls_pin(const tw_config *cfg, size_t index);

/* ---- Store-and-forward ("store", optional) ---------------------------------------------------- */

/* Non-zero when a "store" block is present (a disk store); zero: in-memory queue only, and the
 * other tw_config_store_* accessors return 0 / NULL. */
TW_API TW_THREADSAFE int tw_config_has_store(const tw_config *cfg);
/* The store directory, resolved. */
TW_API TW_THREADSAFE const char *tw_config_store_dir(const tw_config *cfg);
/* Size bound in bytes: "max_bytes", >= 65536, default 67108864 (64 MiB). */
TW_API TW_THREADSAFE uint64_t tw_config_store_max_bytes(const tw_config *cfg);
/* Age bound in seconds: "max_age_s", 0 (default) = no age limit. */
TW_API TW_THREADSAFE uint64_t tw_config_store_max_age_s(const tw_config *cfg);
/* When records become durable ("fsync"): "always" = TW_STORE_SYNC_EVERY_RECORD, "periodic"
 * (default) = TW_STORE_SYNC_BATCH every fsync_interval_ms, "never" = TW_STORE_SYNC_OS. Without a
 * "store" block 0 (read tw_config_has_store() first). */
TW_API TW_THREADSAFE tw_store_sync_policy tw_config_store_fsync(const tw_config *cfg);
/* "fsync_interval_ms" (only with "periodic"), 1..3600000, default 1000. */
TW_API TW_THREADSAFE uint32_t tw_config_store_fsync_interval_ms(const tw_config *cfg);
/* What a full store gives up ("overflow"): "drop_oldest" (default) = TW_STORE_DROP_OLDEST,
 * "drop_newest" = TW_STORE_REFUSE_NEW (new data is refused until there is room). */
TW_API TW_THREADSAFE tw_store_overflow tw_config_store_overflow(const tw_config *cfg);

/* ---- Certificate renewal ("enroll", optional) ------------------------------------------------- */

/* Non-zero when an "enroll" section is present: the node renews its client certificate over EST
 * by itself (tagwire/node.h, "Certificate renewal"); zero: the other tw_config_enroll_* accessors
 * return NULL / 0. */
TW_API TW_THREADSAFE int tw_config_has_enroll(const tw_config *cfg);
/* The EST server: "est_url", required, "https://host[:port]" (the EST path prefix
 * /.well-known/est is appended by the client). */
TW_API TW_THREADSAFE const char *tw_config_enroll_est_url(const tw_config *cfg);
/* PEM trust anchors for the EST server's certificate: "server_ca", required, resolved. */
TW_API TW_THREADSAFE const char *tw_config_enroll_server_ca_file(const tw_config *cfg);
/* The enrollment credential directory (tagwire/enroll.h): "credentials_dir", required, resolved.
 * It must already hold an enrolled credential (`tagwire enroll`) when the node is created. */
TW_API TW_THREADSAFE const char *tw_config_enroll_credentials_dir(const tw_config *cfg);
/* Renew after this fraction of the certificate's lifetime: "renew_fraction", 0.05..0.95,
 * default 2/3. */
TW_API TW_THREADSAFE double tw_config_enroll_renew_fraction(const tw_config *cfg);
/* Longest pause between failed renewal attempts (exponential back-off with jitter, from 0.5 s):
 * "retry_max_s", 1..86400, default 30. */
TW_API TW_THREADSAFE uint32_t tw_config_enroll_retry_max_s(const tw_config *cfg);

/* ---- Devices ("devices", at least one) -------------------------------------------------------- */

/* Number of devices (0 before a successful load). */
TW_API TW_THREADSAFE size_t tw_config_device_count(const tw_config *cfg);
/* Devices in file order. */
TW_API TW_THREADSAFE const tw_config_device *tw_config_device_at(const tw_config *cfg, size_t index);
/* The device with this Sparkplug device id, or NULL. */
TW_API TW_THREADSAFE const tw_config_device *tw_config_device_find(const tw_config *cfg,
                                                                   const char *device_id);

/* The Sparkplug device id ("id"). */
TW_API TW_THREADSAFE const char *tw_config_device_id(const tw_config_device *dev);
/* The adapter URI as written ("adapter"), e.g. "modbus+tcp://127.0.0.1:1502?unit=1" or "sim://";
 * NULL when absent: the application pushes the device's values (tw_tag_set_*). The loader checks
 * the URI's shape (scheme "://") and that an adapter is registered for the scheme; the adapter
 * checks the host, port and parameters when the node opens the device. */
TW_API TW_THREADSAFE const char *tw_config_device_adapter(const tw_config_device *dev);
/* The adapter URI's scheme, e.g. "modbus+tcp" or "sim" (lower case); NULL without an adapter. */
TW_API TW_THREADSAFE const char *tw_config_device_scheme(const tw_config_device *dev);
/* "$.devices[i]": where the device is in the file (for the node's own messages). */
TW_API TW_THREADSAFE const char *tw_config_device_path(const tw_config_device *dev);

/* Scan groups ("scan_groups"): named poll rates, at most TW_CONFIG_MAX_SCAN_GROUPS. A device with an adapter and no "scan_groups"
 * has one group "default" at 1000 ms; a device without an adapter has none. */
TW_API TW_THREADSAFE size_t tw_config_device_scan_group_count(const tw_config_device *dev);
TW_API TW_THREADSAFE const char *tw_config_device_scan_group_name(const tw_config_device *dev,
                                                                  size_t index);
/* "rate_ms", 1..86400000. 0 for an index out of range. */
TW_API TW_THREADSAFE uint32_t tw_config_device_scan_group_rate_ms(const tw_config_device *dev,
                                                                 size_t index);

/* Number of the device's tags ("tags"); 0 for dev NULL. */
TW_API TW_THREADSAFE size_t tw_config_device_tag_count(const tw_config_device *dev);
/* Tags in file order. */
TW_API TW_THREADSAFE const tw_config_tag *tw_config_device_tag_at(const tw_config_device *dev,
                                                                  size_t index);
/* The tag with this name (exact, byte-wise), or NULL. Constant time on average. */
TW_API TW_THREADSAFE const tw_config_tag *tw_config_device_tag_find(const tw_config_device *dev,
                                                                    const char *name);

/* ---- Tags ("tags" of a device) ---------------------------------------------------------------- */

/* The device the tag belongs to. */
TW_API TW_THREADSAFE const tw_config_device *tw_config_tag_device(const tw_config_tag *tag);
/* The hierarchical name ("name"), e.g. "Hydraulics/OilTemp". */
TW_API TW_THREADSAFE const char *tw_config_tag_name(const tw_config_tag *tag);
/* "$.devices[i].tags[j]": where the tag is in the file. */
TW_API TW_THREADSAFE const char *tw_config_tag_path(const tw_config_tag *tag);
/* The address for the device's adapter ("address"; required with an adapter, refused without);
 * NULL for a pushed tag. Its syntax belongs to the adapter, which checked it at load time. */
TW_API TW_THREADSAFE const char *tw_config_tag_address(const tw_config_tag *tag);
/* The value type ("type"): one of "bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
 * "uint32", "uint64", "float", "double", "string", "bytes", "datetime" (exact, lower case). */
TW_API TW_THREADSAFE tw_type tw_config_tag_type(const tw_config_tag *tag);
/* The tag's scan group name and rate ("scan_group", default the device's first group); NULL / 0
 * for a pushed tag. */
TW_API TW_THREADSAFE const char *tw_config_tag_scan_group(const tw_config_tag *tag);
TW_API TW_THREADSAFE uint32_t tw_config_tag_scan_rate_ms(const tw_config_tag *tag);
/* The deadband as the tag model takes it (tw_tag_options.deadband_mode and .deadband): "deadband"
 * = TW_DEADBAND_ABSOLUTE (engineering units), "deadband_percent" = TW_DEADBAND_PERCENT (0..100 of
 * max - min). *value (may be NULL) receives the amount; without either key the result is
 * TW_DEADBAND_ABSOLUTE with 0: every change is reported. Deadbands apply to numeric types only. */
TW_API TW_THREADSAFE tw_deadband_mode tw_config_tag_deadband(const tw_config_tag *tag, double *value);
/* "unit" (e.g. "degC") and "description"; NULL when absent. */
TW_API TW_THREADSAFE const char *tw_config_tag_unit(const tw_config_tag *tag);
TW_API TW_THREADSAFE const char *tw_config_tag_description(const tw_config_tag *tag);
/*
 * Linear scaling from the adapter's raw value to engineering units ("scaling": raw_min, raw_max,
 * eng_min, eng_max; raw_min != raw_max, eng_min != eng_max; numeric types only):
 *     eng = eng_min + (raw - raw_min) * (eng_max - eng_min) / (raw_max - raw_min)
 * Returns non-zero and fills the four outputs (each may be NULL) when the tag has scaling; returns
 * 0 and leaves them untouched otherwise.
 */
TW_API TW_THREADSAFE int tw_config_tag_scaling(const tw_config_tag *tag, double *raw_min,
                                               double *raw_max, double *eng_min, double *eng_max);
/* Engineering range limits ("min", "max"; numeric types only, within the type's range,
 * min < max when both are given). Return non-zero and fill *value (may be NULL) when set. */
TW_API TW_THREADSAFE int tw_config_tag_min(const tw_config_tag *tag, double *value);
TW_API TW_THREADSAFE int tw_config_tag_max(const tw_config_tag *tag, double *value);
/* "access": "read" (default) = TW_ACCESS_READ, "write" = TW_ACCESS_WRITE, "read-write" =
 * TW_ACCESS_READ_WRITE (never TW_ACCESS_DEFAULT); 0 for tag NULL. */
TW_API TW_THREADSAFE tw_access tw_config_tag_access(const tw_config_tag *tag);

TW_END_DECLS

#endif /* TAGWIRE_CONFIG_H */
