/*
 * tagwire/core.h - library version, status codes, initialisation, allocator and log hooks, clock.
 *
 * Threading: every function in this header is TW_THREADSAFE except tw_init() and tw_shutdown(),
 * which are serialised internally but must not race with calls that use the library's objects
 * (call tw_init() before creating objects and tw_shutdown() after freeing them).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_CORE_H
#define TAGWIRE_CORE_H

#include "common.h"

TW_BEGIN_DECLS

/* ---- Version ---------------------------------------------------------------------------------- */

#define TW_VERSION_MAJOR 0
#define TW_VERSION_MINOR 1
#define TW_VERSION_PATCH 0
#define TW_VERSION_STRING "0.1.0"
/* One integer that compares in order: 0x00MMmmpp. */
#define TW_VERSION_NUM ((TW_VERSION_MAJOR << 16) | (TW_VERSION_MINOR << 8) | TW_VERSION_PATCH)

/* The version of the library actually loaded (may differ from the headers' TW_VERSION_NUM). */
TW_API TW_THREADSAFE uint32_t tw_version(void);
/* The same as a static string, e.g. "0.1.0". Never NULL. */
TW_API TW_THREADSAFE const char *tw_version_string(void);

/* Optional parts, as bits of tw_features(). A bit is set when that part was built in. */
#define TW_FEATURE_TLS       (1u << 0)  /* mbedTLS 3.6 mutual-TLS transport */
#define TW_FEATURE_MQTT      (1u << 1)  /* MQTT client */
#define TW_FEATURE_SPARKPLUG (1u << 2)  /* Sparkplug B edge node */
#define TW_FEATURE_MODBUS    (1u << 3)  /* Modbus TCP/RTU/Security adapter */
#define TW_FEATURE_OPCUA     (1u << 4)  /* OPC UA adapter (open62541) */
#define TW_FEATURE_S7        (1u << 5)  /* Siemens S7 adapter */
#define TW_FEATURE_EST       (1u << 6)  /* EST enrollment over libcurl */
#define TW_FEATURE_STORE     (1u << 7)  /* store-and-forward log */
#define TW_FEATURE_HTTPS     (1u << 8)  /* HTTPS batch uplink */
#define TW_FEATURE_SIM       (1u << 9)  /* simulator adapter */
#define TW_FEATURE_TLS13     (1u << 10) /* TLS 1.3 available in the TLS back end */

/* Bitwise OR of the TW_FEATURE_* bits built into the loaded library. */
TW_API TW_THREADSAFE uint32_t tw_features(void);
/* The name of one feature bit ("tls", "mqtt", ...), or NULL for an unknown bit. */
TW_API TW_THREADSAFE const char *tw_feature_name(uint32_t feature_bit);

/* ---- Status codes ----------------------------------------------------------------------------- */

/*
 * Every fallible call returns a tw_status: TW_OK (0) or a negative error. Codes are only ever
 * added, never renumbered or reused. Each module owns a range of 50 codes.
 */
typedef enum tw_status {
    TW_OK = 0,

    /* core: -1 .. -49 */
    TW_ERR_GENERIC = -1,          /* unspecified failure; the handle's last error says more */
    TW_ERR_NOMEM = -2,            /* an allocation failed */
    TW_ERR_INVALID_ARG = -3,      /* an argument is NULL, out of range or malformed */
    TW_ERR_NOT_INITIALIZED = -4,  /* tw_init() was not called */
    TW_ERR_NOT_FOUND = -5,        /* no such object (tag, file, key, ...) */
    TW_ERR_EXISTS = -6,           /* an object of that name already exists */
    TW_ERR_TYPE_MISMATCH = -7,    /* the value's type does not match the tag's type */
    TW_ERR_RANGE = -8,            /* a value does not fit the target type or limits */
    TW_ERR_BUSY = -9,             /* the object is in a state that does not allow the call */
    TW_ERR_AGAIN = -10,           /* would block: try again when the descriptor is ready */
    TW_ERR_TIMEOUT = -11,         /* an operation did not complete in its time limit */
    TW_ERR_IO = -12,              /* an operating-system I/O call failed */
    TW_ERR_CLOSED = -13,          /* the connection or object was closed */
    TW_ERR_UNSUPPORTED = -14,     /* the feature is not built in or not supported */
    TW_ERR_VERSION = -15,         /* an options struct carries a version this library lacks */
    TW_ERR_PARSE = -16,           /* malformed input (a name, an address, a file) */
    TW_ERR_CONFIG = -17,          /* a configuration is invalid; the message names the problem */
    TW_ERR_PROTOCOL = -18,        /* a peer sent bytes that violate the protocol */
    TW_ERR_FULL = -19,            /* a bounded queue or store is full */
    TW_ERR_CONN_REFUSED = -20,    /* the peer refused the TCP connection */
    TW_ERR_RESOLVE = -21,         /* the host name could not be resolved */
    TW_ERR_NO_SPACE = -22,        /* the disk is full (ENOSPC, EDQUOT) */
    TW_ERR_CORRUPT = -23,         /* stored data failed its integrity check */
    TW_ERR_CANCELLED = -24,       /* the operation was cancelled (stop, shutdown) */
    TW_ERR_PERMISSION = -25,      /* the operating system refused access */
    TW_ERR_UNREACHABLE = -26,     /* network or host unreachable */

    /* tls: -100 .. -149 */
    TW_ERR_TLS = -100,                 /* TLS failure not covered by a more precise code */
    TW_ERR_TLS_UNKNOWN_CA = -101,      /* the peer's chain does not lead to a trusted anchor */
    TW_ERR_TLS_CERT_EXPIRED = -102,    /* a certificate in the peer's chain has expired */
    TW_ERR_TLS_CERT_NOT_YET_VALID = -103, /* a certificate in the peer's chain is not yet valid */
    TW_ERR_TLS_HOSTNAME = -104,        /* the peer's certificate does not match the server name */
    TW_ERR_TLS_PIN = -105,             /* the peer's key matches none of the configured pins */
    TW_ERR_TLS_REVOKED = -106,         /* a certificate in the peer's chain is revoked (CRL) */
    TW_ERR_TLS_PEER_REFUSED = -107,    /* the peer aborted the handshake (e.g. our certificate) */
    TW_ERR_TLS_VERSION = -108,         /* no common protocol version (peer too old) */
    TW_ERR_TLS_WEAK_KEY = -109,        /* a key or signature is below the security policy */
    TW_ERR_TLS_CREDENTIALS = -110,     /* our own certificate or key cannot be loaded or used */
    TW_ERR_TLS_INSECURE = -111,        /* plaintext was not explicitly allowed */
    TW_ERR_TLS_BAD_CERT = -112,        /* the peer's certificate is malformed or unusable */
    TW_ERR_TLS_HANDSHAKE = -113,       /* the handshake failed for another protocol reason */
    TW_ERR_TLS_CRL = -114,             /* a configured CRL is expired, not yet valid or untrusted */

    /* mqtt: -150 .. -199 */
    TW_ERR_MQTT_REFUSED = -150,        /* CONNACK refused the connection (return code in message) */
    TW_ERR_MQTT_NOT_AUTHORIZED = -151, /* the broker refused for authorisation (incl. ACL) */
    TW_ERR_MQTT_MALFORMED = -152,      /* the broker sent a malformed packet */
    TW_ERR_MQTT_TOO_LARGE = -153,      /* a packet exceeds the maximum packet size */
    TW_ERR_MQTT_SUBSCRIBE_FAILED = -154, /* SUBACK returned failure */
    TW_ERR_MQTT_KEEPALIVE = -155,      /* no response to PINGREQ within the keep-alive */
    TW_ERR_MQTT_NOT_CONNECTED = -156,  /* the session is not connected */
    TW_ERR_MQTT_INFLIGHT_FULL = -157,  /* the QoS 1 in-flight window is full */
    TW_ERR_MQTT_REJECTED = -158,       /* the broker rejected a request (MQTT 5 reason code) */

    /* modbus / adapters: -200 .. -249 */
    TW_ERR_MODBUS_EXCEPTION = -200,    /* the device answered with a Modbus exception */
    TW_ERR_ADDRESS = -201,             /* a tag address is invalid for the adapter */
    TW_ERR_ADAPTER = -202,             /* adapter failure not covered by a more precise code */
    TW_ERR_NO_ADAPTER = -203,          /* no adapter is registered for the URI scheme */
    TW_ERR_CRC = -204,                 /* a frame failed its checksum */

    /* sparkplug: -250 .. -299 */
    TW_ERR_SPARKPLUG = -250,           /* Sparkplug protocol violation */
    TW_ERR_SPARKPLUG_DECODE = -251,    /* a Sparkplug payload could not be decoded */
    TW_ERR_SPARKPLUG_TOPIC = -252,     /* a topic is not a valid Sparkplug topic */

    /* store: -300 .. -349 */
    TW_ERR_STORE = -300,               /* store failure not covered by a more precise code */
    TW_ERR_STORE_LOCKED = -301,        /* another process has the store directory open */

    /* enroll: -350 .. -399 */
    TW_ERR_EST = -350,                 /* EST failure not covered by a more precise code */
    TW_ERR_EST_AUTH = -351,            /* the EST server refused our credentials (401/403) */
    TW_ERR_EST_RETRY_LATER = -352,     /* 202 Accepted or 503: retry after the given delay */
    TW_ERR_EST_BAD_RESPONSE = -353,    /* the EST response is malformed (PKCS#7, base64, type) */
    TW_ERR_EST_KEY_MISMATCH = -354,    /* the issued certificate does not match our key */
    TW_ERR_HTTP = -355,                /* an HTTP request failed (status in the message) */
    TW_ERR_IDENTITY = -356,            /* an identity field is invalid (tagwire/identity.h) */
    TW_ERR_EST_SERVER = -357,          /* the EST server failed (HTTP 5xx); retriable */

    /* node / config: -400 .. -449 */
    TW_ERR_NODE_STATE = -400,          /* the node is not in a state that allows the call */

    TW_STATUS_MIN_ = -1000             /* not a status; keeps the enum signed and wide */
} tw_status;

/* The code's symbolic name, e.g. "TW_ERR_TIMEOUT"; "TW_ERR_UNKNOWN" for an unknown code. Static. */
TW_API TW_THREADSAFE const char *tw_status_name(tw_status status);
/* A short English description, e.g. "operation timed out". Static, never NULL. */
TW_API TW_THREADSAFE const char *tw_strerror(tw_status status);

/*
 * Error detail, per thread. Every error that tagwire records with a message (on a handle, see the
 * handles' tw_*_last_error(), or in a constructor that has no handle to put it on) is also kept
 * for the calling thread, as "<module>: <message>", e.g. "store: open /var/spool/x: Permission
 * denied". Use it after a constructor fails, or whenever a call fails and you hold no handle:
 *
 *     if (tw_store_new(&s, &o) != TW_OK) fprintf(stderr, "%s\n", tw_last_error());
 *
 * tw_last_error() returns "" when nothing has been recorded on this thread since it started or
 * since tw_last_error_clear(); a later error replaces the message, a successful call does not
 * clear it. The pointer is valid until the next tagwire call on this thread. A call that fails
 * only on an invalid argument (a NULL pointer) may return its status without recording a message.
 * tw_last_error_status() is the status that went with the message (TW_OK when none).
 */
TW_API TW_THREADSAFE const char *tw_last_error(void);
TW_API TW_THREADSAFE tw_status tw_last_error_status(void);
TW_API TW_THREADSAFE void tw_last_error_clear(void);

/* ---- Log hook ---------------------------------------------------------------------------------- */

/* Severities, least verbose first. TW_LOG_DEFAULT (0) selects the default threshold (warn) where
 * a level is configured; messages always carry one of ERROR..TRACE. */
typedef enum tw_log_level {
    TW_LOG_DEFAULT = 0,
    TW_LOG_ERROR = 1,
    TW_LOG_WARN = 2,
    TW_LOG_INFO = 3,
    TW_LOG_DEBUG = 4,
    TW_LOG_TRACE = 5
} tw_log_level;

/*
 * Log callback. Runs on whichever thread produced the message (the node thread, an application
 * thread inside a tw_* call, ...), possibly on several threads at once: it must be thread-safe
 * and must not call back into tagwire except tw_log_level_name(). `module` is a static string
 * ("tls", "mqtt", ...); `message` is valid only during the call and carries no trailing newline.
 */
typedef void (*tw_log_fn)(tw_log_level level, const char *module, const char *message,
                          void *user_data);

/* "error", "warn", "info", "debug", "trace" ("default" for TW_LOG_DEFAULT). Static. */
TW_API TW_THREADSAFE const char *tw_log_level_name(tw_log_level level);

/*
 * Sets the log hook and the most verbose level passed to it. fn == NULL restores the default
 * (messages at or above `level` go to stderr). `level` TW_LOG_DEFAULT (0) = TW_LOG_WARN. May be
 * called at any time.
 */
TW_API TW_THREADSAFE void tw_set_log(tw_log_fn fn, tw_log_level level, void *user_data);

/* ---- Allocator hooks --------------------------------------------------------------------------- */

/* Allocator hooks. Each gets the `ctx` given in tw_init_params. They must be thread-safe. */
typedef void *(*tw_malloc_fn)(size_t size, void *ctx);
typedef void *(*tw_realloc_fn)(void *ptr, size_t size, void *ctx);
typedef void (*tw_free_fn)(void *ptr, void *ctx);

/* ---- Initialisation ---------------------------------------------------------------------------- */

#define TW_INIT_PARAMS_VERSION 1

typedef struct tw_init_params {
    uint32_t version;        /* TW_INIT_PARAMS_VERSION */
    /* Allocator: all three or none (NULL = libc). Used for all memory tagwire itself allocates;
     * third-party libraries (mbedTLS, libcurl, json-c, open62541, libsnap7) use their own. */
    tw_malloc_fn malloc_fn;
    tw_realloc_fn realloc_fn;
    tw_free_fn free_fn;
    void *alloc_ctx;
    /* Log hook (NULL = stderr) and level (0 = TW_LOG_DEFAULT = warn), as tw_set_log(). */
    tw_log_fn log_fn;
    tw_log_level log_level;
    void *log_user_data;
} tw_init_params;

#define TW_INIT_PARAMS_INIT { TW_INIT_PARAMS_VERSION, NULL, NULL, NULL, NULL, NULL, TW_LOG_DEFAULT, NULL }

/*
 * Initialises the library. Reference-counted: every successful tw_init() needs one tw_shutdown().
 * `params` may be NULL (libc allocator, stderr log at warn). The allocator and the log settings
 * are taken from the first call only (the one that takes the count from 0 to 1). A later call
 * leaves them as they are: with a different allocator, or with a log_fn (and log_user_data)
 * other than the hook installed now, it fails with TW_ERR_BUSY (nothing changes, no reference is
 * taken); with log_fn NULL its log_level is ignored. Use tw_set_log() to change the log hook or
 * level explicitly. Objects cannot be created before tw_init() (their constructors return
 * TW_ERR_NOT_INITIALIZED).
 * Errors: TW_ERR_VERSION (params version 0 or newer than the library), TW_ERR_INVALID_ARG
 * (partial allocator, log_level out of range), TW_ERR_BUSY (see above).
 */
TW_API tw_status tw_init(const tw_init_params *params);

/* Drops one reference taken by tw_init(); the last one releases global state. Extra calls are
 * ignored. All objects must be freed before the last tw_shutdown(). */
TW_API void tw_shutdown(void);

/* Non-zero while the library is initialised. */
TW_API TW_THREADSAFE int tw_is_initialized(void);

/* ---- Clock ------------------------------------------------------------------------------------- */

/* Wall-clock time in nanoseconds since the Unix epoch (the tag model's timestamp unit). */
TW_API TW_THREADSAFE int64_t tw_now_ns(void);

/* Releases memory that tagwire allocated and handed to the caller (documented per function), with
 * the allocator of tw_init(). Free such memory before the last tw_shutdown(), like objects: a
 * later tw_init() may install another allocator. NULL is ignored. */
TW_API TW_THREADSAFE void tw_free(void *ptr);

TW_END_DECLS

#endif /* TAGWIRE_CORE_H */
