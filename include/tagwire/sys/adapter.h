/*
 * tagwire/sys/adapter.h - implementing a protocol adapter (extension point).
 *
 * Stability: sys/ headers are extension points with a weaker promise than the main API: a struct
 * here may grow at its end within a major version (its `version` field tells which layout the
 * filler used); nothing is removed or reordered within a major version.
 *
 * An adapter is a versioned table of functions registered under a URI scheme with
 * tw_adapter_register(); tw_device_open() then routes URIs of that scheme to it. The built-in
 * adapters (modbus+tcp, modbus+tls, modbus+rtu, sim) use exactly this table, and a vendor can
 * register its own from outside the library (see examples/custom_adapter.c).
 *
 * Model:
 *  - parse_address() turns an address string into an adapter-owned item (or only validates it
 *    when `item` is NULL). It runs without a connection, at tag-creation time, so configuration
 *    errors surface early; it writes a message naming the problem into `err`.
 *  - open() creates a connection context from the parsed URI (it should not connect yet: connect
 *    lazily in read()/write() and reconnect with back-off after a loss).
 *  - read() reads a batch of items, blocking for at most the timeouts in the device options; it fills
 *    one result per item. The generic layer keeps each item's last good value: an adapter reports
 *    a failure by setting a bad quality and need not touch the value.
 *  - write() writes one item and waits for the confirmation.
 *  - subscribe()/fds()/process() are optional, for protocols that push.
 *
 * Error messages: every function that can fail receives `err`/`errlen` (never NULL, errlen > 0, an
 * empty string on entry) to write a one-line message into; the status code says the category.
 *
 * Threading: the generic layer calls one adapter context from one thread at a time. parse_address
 * and open may run on any thread concurrently (they must not use mutable global state).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_SYS_ADAPTER_H
#define TAGWIRE_SYS_ADAPTER_H

#include "../adapter.h"

TW_BEGIN_DECLS

#define TW_ADAPTER_OPS_VERSION 1

/* A parsed URI: scheme://host:port/path?k=v&k2=v2. Strings are NUL-terminated and valid during the
 * call that receives them only (copy what you keep). Absent parts are "" (port 0). Percent-escapes in
 * the path and in parameter values are decoded. */
typedef struct tw_adapter_uri {
    const char *uri;    /* the whole URI as given */
    const char *scheme; /* lower-case */
    const char *host;   /* without brackets for IPv6 literals */
    uint16_t port;
    const char *path;   /* "/dev/ttyUSB0" for modbus+rtu:///dev/ttyUSB0 */
    size_t nparams;
    const char *const *keys;
    const char *const *values;
} tw_adapter_uri;

/* The value of query parameter `key` (the first when repeated), or NULL when absent. The string
 * belongs to `uri` and is valid as long as it is (during the call that received it). Only reads
 * `uri`: callable from any thread while it is valid. */
TW_API const char *tw_adapter_uri_param(const tw_adapter_uri *uri, const char *key);

/* What parse_address() tells about an item. */
typedef struct tw_adapter_item_info {
    tw_type type;     /* the value type the item delivers */
    size_t max_bytes; /* STRING/BYTES: the largest value in bytes (the layer provides that buffer) */
    int writable;     /* non-zero when write() can write it */
} tw_adapter_item_info;

/* One item's result slot in read(). `buf`/`buf_size` are provided by the layer (max_bytes of the
 * item): a STRING/BYTES value must be copied there and value.as.buf.ptr set to it. */
typedef struct tw_adapter_result {
    tw_value value;       /* out (valid when quality is not bad) */
    tw_quality quality;   /* out; preset to TW_QUALITY_BAD */
    int64_t timestamp_ns; /* out: source timestamp, or 0 for "now" */
    void *buf;            /* in */
    size_t buf_size;      /* in */
} tw_adapter_result;

/* Push callback handed to subscribe(): `index` is the position in the subscribed item array. */
typedef void (*tw_adapter_push_fn)(size_t index, const tw_adapter_result *result, void *push_data);

typedef struct tw_adapter_ops {
    uint32_t version;    /* TW_ADAPTER_OPS_VERSION */
    const char *scheme;  /* e.g. "modbus+tcp": lower-case letters, digits, '+', '-', '.' */
    const char *summary; /* one line for listings */

    /* Required. Parses `address`. With item == NULL it only validates. `reg_data` is the pointer
     * given to tw_adapter_register(). Errors: TW_ERR_ADDRESS, TW_ERR_UNSUPPORTED. */
    tw_status (*parse_address)(void *reg_data, const char *address, void **item, tw_adapter_item_info *info,
                               char *err, size_t errlen);
    /* Required when parse_address allocates: releases an item. */
    void (*free_item)(void *reg_data, void *item);

    /* Required. Creates a context. `opts` is never NULL (defaults filled in). When opts->transport is
     * not NULL and the adapter accepts it, the adapter takes ownership of it on success. */
    tw_status (*open)(void *reg_data, void **ctx, const tw_adapter_uri *uri, const tw_device_options *opts,
                      char *err, size_t errlen);
    /* Required. Closes and frees the context. */
    void (*close)(void *ctx);

    /* Required. Reads items[0..n-1] into results[0..n-1] (see tw_device_read for the return value). */
    tw_status (*read)(void *ctx, void *const *items, size_t n, tw_adapter_result *results, char *err,
                      size_t errlen);
    /* Optional (NULL: every item is read-only). */
    tw_status (*write)(void *ctx, void *item, const tw_value *value, char *err, size_t errlen);
    /* Optional: fills the protocol counters of *out (the layer fills reads/items/writes). */
    void (*stats)(void *ctx, tw_device_stats *out);

    /* Optional push support. */
    tw_status (*subscribe)(void *ctx, void *const *items, size_t n, tw_adapter_push_fn fn, void *push_data,
                           char *err, size_t errlen);
    int (*fds)(void *ctx, int *fds, unsigned *events, int max);
    tw_status (*process)(void *ctx, char *err, size_t errlen);
} tw_adapter_ops;

/*
 * Registers an adapter for ops->scheme. `ops` (and `reg_data`) must stay valid until the scheme
 * is unregistered AND every device opened through it has been freed (usually: static);
 * `reg_data` is passed to parse_address/free_item/open. Callable before or after tw_init().
 * Errors: TW_ERR_INVALID_ARG (missing required function, bad scheme), TW_ERR_VERSION,
 * TW_ERR_EXISTS (scheme taken), TW_ERR_FULL (more than 32 adapters). TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_adapter_register(const tw_adapter_ops *ops, void *reg_data);

/* Removes a registration: later tw_device_open() calls no longer find the scheme. Devices already
 * open keep working and keep using the ops and reg_data until they are freed (see
 * tw_adapter_register()). Built-in schemes can be replaced by unregistering them first.
 * Errors: TW_ERR_INVALID_ARG (scheme NULL), TW_ERR_NOT_FOUND. TW_THREADSAFE. */
TW_API TW_THREADSAFE tw_status tw_adapter_unregister(const char *scheme);

TW_END_DECLS

#endif /* TAGWIRE_SYS_ADAPTER_H */
