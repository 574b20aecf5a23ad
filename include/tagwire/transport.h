/*
 * tagwire/transport.h - byte-stream transports (TCP, TLS) used by MQTT, Modbus/TCP Security, ...
 *
 * A tw_transport is a non-blocking, connection-oriented byte stream. Every call returns at once:
 * TW_ERR_AGAIN means "not now": wait until tw_transport_fd() is ready for the events that
 * tw_transport_events() returns (TW_POLL_IN / TW_POLL_OUT), then call again. The caller's own
 * poll/epoll loop can therefore drive many transports on one thread. tw_transport_wait() is a
 * convenience for callers without a loop.
 *
 * The only public implementation without encryption, tw_transport_new_tcp_insecure(), exists for
 * tests and for protocols that are plaintext by definition; it logs a warning each time it
 * connects. (The built-in modbus+tcp:// adapter, plaintext by definition, uses the same TCP stream
 * internally and says so once, at INFO level, when its device is opened.)
 * Mutual TLS transports are created with tw_transport_new_tls() (tagwire/tls.h). Custom transports
 * (in-memory for tests, vendor links) are created through tagwire/sys/transport.h.
 *
 * Threading: a transport is used by one thread at a time. Nothing here is TW_THREADSAFE.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_TRANSPORT_H
#define TAGWIRE_TRANSPORT_H

#include "core.h"

TW_BEGIN_DECLS

typedef struct tw_transport tw_transport;

/* Event bits of tw_transport_events() and tw_transport_wait(). */
#define TW_POLL_IN 0x1u
#define TW_POLL_OUT 0x2u

/* tcp_nodelay values (tw_transport_options, tw_tls_options). */
#define TW_TCP_NODELAY_DEFAULT 0 /* TCP_NODELAY set: Nagle's algorithm off (small frames go out at once) */
#define TW_TCP_NODELAY 1         /* the same, explicitly */
#define TW_TCP_NAGLE (-1)        /* leave Nagle's algorithm on */

#define TW_TRANSPORT_OPTIONS_VERSION 1
typedef struct tw_transport_options {
    uint32_t version;            /* TW_TRANSPORT_OPTIONS_VERSION */
    uint32_t connect_timeout_ms; /* bound of tw_transport_connect_blocking(); 0 = 10000 */
    uint32_t io_timeout_ms;      /* bound of blocking helpers' reads/writes; 0 = 30000 */
    int tcp_nodelay;             /* 0 = default (Nagle off, TCP_NODELAY set); TW_TCP_NAGLE = Nagle on */
} tw_transport_options;
#define TW_TRANSPORT_OPTIONS_INIT { TW_TRANSPORT_OPTIONS_VERSION, 0, 0, TW_TCP_NODELAY_DEFAULT }

/*
 * Creates a plain TCP transport. Plaintext: for tests and plaintext-by-definition protocols only;
 * a warning is logged at every connect. `opts` may be NULL (defaults). *out is set on success and
 * must be released with tw_transport_free().
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_NOMEM; detail in
 * tw_last_error() on the calling thread ("transport: ...").
 */
TW_API tw_status tw_transport_new_tcp_insecure(tw_transport **out, const tw_transport_options *opts);

/*
 * Starts or continues connecting to host:port (a name, an IPv4 or an IPv6 literal; name
 * resolution blocks). Returns TW_OK once connected (and, for TLS, once the handshake is done),
 * TW_ERR_AGAIN while in progress: wait for tw_transport_events() and call again with the same
 * arguments. Errors: TW_ERR_RESOLVE, TW_ERR_CONN_REFUSED, TW_ERR_UNREACHABLE, TW_ERR_TIMEOUT,
 * TW_ERR_BUSY (already connected), TW_ERR_TLS_* for TLS transports; detail in
 * tw_transport_last_error(). After an error, tw_transport_close() makes it reusable.
 */
TW_API tw_status tw_transport_connect(tw_transport *t, const char *host, uint16_t port);

/* Connects, waiting up to the connect timeout of the options. Same errors as above. */
TW_API tw_status tw_transport_connect_blocking(tw_transport *t, const char *host, uint16_t port);

/*
 * Reads up to `len` bytes into `buf`; *nread is set to the count (> 0 on TW_OK).
 * TW_ERR_AGAIN: nothing available now. TW_ERR_CLOSED: the peer closed the stream in order.
 * Other errors (TW_ERR_IO, TW_ERR_TLS_*) mean the connection is unusable.
 */
TW_API tw_status tw_transport_read(tw_transport *t, void *buf, size_t len, size_t *nread);

/*
 * Writes up to `len` bytes; *nwritten is set to the count accepted (may be less than len).
 * Bytes accepted are the transport's to deliver: a TLS transport may hold an encrypted record
 * that the socket did not take yet; it then asks for TW_POLL_OUT and sends it on the next
 * read/write call. TW_ERR_AGAIN: nothing could be written now.
 * TW_ERR_CLOSED / TW_ERR_IO / TW_ERR_TLS_*: connection unusable.
 */
TW_API tw_status tw_transport_write(tw_transport *t, const void *buf, size_t len, size_t *nwritten);

/*
 * Blocking helpers bounded by the I/O timeout (tw_transport_options.io_timeout_ms, for TLS
 * tw_tls_config_set_timeouts()). tw_transport_read_blocking() waits until at least one byte is
 * available and returns what is there (up to len); tw_transport_write_all() writes all `len`
 * bytes. Errors: as tw_transport_read() / tw_transport_write(), and TW_ERR_TIMEOUT.
 */
TW_API tw_status tw_transport_read_blocking(tw_transport *t, void *buf, size_t len, size_t *nread);
TW_API tw_status tw_transport_write_all(tw_transport *t, const void *buf, size_t len);

/* The file descriptor to poll, or -1 when not connected. */
TW_API int tw_transport_fd(const tw_transport *t);

/* The events the transport waits for now (TW_POLL_IN and/or TW_POLL_OUT); 0 when idle. */
TW_API unsigned tw_transport_events(const tw_transport *t);

/* Bytes already decrypted/buffered inside the transport: readable without the fd being ready. */
TW_API size_t tw_transport_pending(const tw_transport *t);

/*
 * Waits up to timeout_ms (-1 = forever) until the transport is ready for `events` (or has pending
 * data when TW_POLL_IN is asked). Returns TW_OK when ready, TW_ERR_TIMEOUT, or TW_ERR_IO.
 */
TW_API tw_status tw_transport_wait(tw_transport *t, unsigned events, int timeout_ms);

/* Closes the connection (a TLS transport sends close_notify first, without waiting). The transport
 * can connect again afterwards. Safe on a closed transport. */
TW_API void tw_transport_close(tw_transport *t);

/* Closes and releases the transport. NULL is ignored. */
TW_API void tw_transport_free(tw_transport *t);

/* The last error's message (static storage inside the transport, valid until the next call on
 * it), or "" when none. */
TW_API const char *tw_transport_last_error(const tw_transport *t);

/* The last error's status code (TW_OK when none). */
TW_API tw_status tw_transport_last_status(const tw_transport *t);

/* Non-zero when the transport encrypts and authenticates (TLS), zero for plain TCP. */
TW_API int tw_transport_is_secure(const tw_transport *t);

TW_END_DECLS

#endif /* TAGWIRE_TRANSPORT_H */
