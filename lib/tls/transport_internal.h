/* Private: the transport wrapper shared by the TCP, TLS and custom implementations. */
#ifndef TW_TRANSPORT_INTERNAL_H
#define TW_TRANSPORT_INTERNAL_H

#include "internal.h"
#include "tagwire/sys/transport.h"

struct tw_transport {
    const tw_transport_ops *ops;
    void *ctx;
    tw_transport_options opts;
    tw__error err;
};

/* Creates the wrapper (opts NULL = defaults). On failure ctx is untouched. */
tw_status tw__transport_new(tw_transport **out, const tw_transport_ops *ops, void *ctx,
                            const tw_transport_options *opts);
/* The wrapper's error record, for implementations inside the library to fill in. */
tw__error *tw__transport_err(tw_transport *t);
/* Validates and copies user options (NULL = defaults) with defaults for zero fields. */
tw_status tw__transport_opts(tw_transport_options *dst, const tw_transport_options *src);

/* Plain TCP inside the library (TLS layers on it). `err` receives error detail. */
typedef struct tw__tcp tw__tcp;
tw_status tw__tcp_new(tw__tcp **out, tw__error *err, int nodelay);
tw_status tw__tcp_connect(tw__tcp *c, const char *host, uint16_t port);
tw_status tw__tcp_read(tw__tcp *c, void *buf, size_t len, size_t *nread);
tw_status tw__tcp_write(tw__tcp *c, const void *buf, size_t len, size_t *nwritten);
int tw__tcp_fd(const tw__tcp *c);
unsigned tw__tcp_events(const tw__tcp *c);
void tw__tcp_close(tw__tcp *c);
void tw__tcp_free(tw__tcp *c);
extern const tw_transport_ops tw__tcp_ops; /* ctx: internal to transport.c */
/* A TCP transport without the per-connect plaintext warning: the stream under TLS, and the
 * transport of modbus+tcp:// (plaintext by definition; it says so once at device open). */
tw_status tw__transport_new_tcp_inner(tw_transport **out, const tw_transport_options *opts);

#endif
