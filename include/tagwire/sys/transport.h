/*
 * tagwire/sys/transport.h - implementing a transport (extension point).
 *
 * Stability: the sys/ headers are extension points with a weaker promise than the main API: a
 * struct here may grow at its end within a major version (its `version` field tells which layout
 * the caller filled in); nothing is removed or reordered within a major version.
 *
 * A custom transport provides the function table below; tw_transport_new_custom() wraps it in a
 * tw_transport usable everywhere a transport is taken (MQTT, Modbus/TCP, TLS layered on top).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_SYS_TRANSPORT_H
#define TAGWIRE_SYS_TRANSPORT_H

#include "../transport.h"

TW_BEGIN_DECLS

#define TW_TRANSPORT_OPS_VERSION 1

/*
 * Each function gets the `ctx` given to tw_transport_new_custom(). Semantics are those of the
 * matching tw_transport_* function; all must be non-blocking. `fd`, `events`, `pending` may be
 * NULL (then -1, TW_POLL_IN, 0). `destroy` (may be NULL) releases ctx in tw_transport_free().
 * An implementation reports error detail by returning the status; the wrapper records a message.
 */
typedef struct tw_transport_ops {
    uint32_t version; /* TW_TRANSPORT_OPS_VERSION */
    tw_status (*connect)(void *ctx, const char *host, uint16_t port);
    tw_status (*read)(void *ctx, void *buf, size_t len, size_t *nread);
    tw_status (*write)(void *ctx, const void *buf, size_t len, size_t *nwritten);
    int (*fd)(void *ctx);
    unsigned (*events)(void *ctx);
    size_t (*pending)(void *ctx);
    void (*close)(void *ctx);
    void (*destroy)(void *ctx);
    int secure; /* non-zero when this transport authenticates and encrypts */
} tw_transport_ops;

/*
 * Wraps `ops` + `ctx` in a transport. `ops` must stay valid for the transport's lifetime (usually
 * static). On failure ctx is not destroyed. Errors: TW_ERR_INVALID_ARG (missing connect, read,
 * write or close), TW_ERR_VERSION, TW_ERR_NOMEM, TW_ERR_NOT_INITIALIZED; detail in
 * tw_last_error() on the calling thread.
 */
TW_API tw_status tw_transport_new_custom(tw_transport **out, const tw_transport_ops *ops, void *ctx);

TW_END_DECLS

#endif /* TAGWIRE_SYS_TRANSPORT_H */
