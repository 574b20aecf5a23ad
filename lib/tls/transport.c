/* The transport wrapper and the plain TCP transport. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_internal.h"

#define MOD "transport"

/* ---- wrapper ---- */

tw_status tw__transport_opts(tw_transport_options *dst, const tw_transport_options *src)
{
    tw_transport_options d = TW_TRANSPORT_OPTIONS_INIT;
    if (src) {
        if (TW__OPTS_COPY(d, src, sizeof(tw_transport_options)))
            return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_transport_options version %u is not supported",
                           (unsigned)src->version);
        if (!d.connect_timeout_ms) d.connect_timeout_ms = 10000;
        if (!d.io_timeout_ms) d.io_timeout_ms = 30000;
    }
    *dst = d;
    return TW_OK;
}

tw_status tw__transport_new(tw_transport **out, const tw_transport_ops *ops, void *ctx,
                            const tw_transport_options *opts)
{
    if (!out || !ops) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    if (ops->version < 1)
        return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_transport_ops version %u is not supported",
                       (unsigned)ops->version);
    if (!ops->connect || !ops->read || !ops->write || !ops->close)
        return tw__err(NULL, MOD, TW_ERR_INVALID_ARG,
                       "tw_transport_ops: connect, read, write and close are required");
    tw_transport_options o;
    if ((st = tw__transport_opts(&o, opts))) return st;
    tw_transport *t = tw__calloc(1, sizeof *t);
    if (!t) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    t->ops = ops;
    t->ctx = ctx;
    t->opts = o;
    *out = t;
    return TW_OK;
}

tw__error *tw__transport_err(tw_transport *t) { return &t->err; }

tw_status tw_transport_new_custom(tw_transport **out, const tw_transport_ops *ops, void *ctx)
{
    return tw__transport_new(out, ops, ctx, NULL);
}

static tw_status record(tw_transport *t, tw_status st, const char *what)
{
    /* Implementations inside the library record precise messages themselves; keep those. */
    if (st != TW_OK && st != TW_ERR_AGAIN && t->err.code != st)
        tw__err(&t->err, MOD, st, "%s: %s", what, tw_strerror(st));
    return st;
}

tw_status tw_transport_connect(tw_transport *t, const char *host, uint16_t port)
{
    if (!t || !host || !*host || !port) return TW_ERR_INVALID_ARG;
    return record(t, t->ops->connect(t->ctx, host, port), "connect");
}

tw_status tw_transport_connect_blocking(tw_transport *t, const char *host, uint16_t port)
{
    if (!t) return TW_ERR_INVALID_ARG;
    int64_t deadline = tw__mono_ms() + t->opts.connect_timeout_ms;
    for (;;) {
        tw_status st = tw_transport_connect(t, host, port);
        if (st != TW_ERR_AGAIN) return st;
        int64_t left = deadline - tw__mono_ms();
        if (left <= 0) {
            tw_transport_close(t);
            return tw__err(&t->err, MOD, TW_ERR_TIMEOUT, "connect to %s:%u: no answer within %u ms",
                           host, (unsigned)port, (unsigned)t->opts.connect_timeout_ms);
        }
        /* Slices: a transport may have a timer of its own (the TLS post-handshake wait). */
        unsigned ev = tw_transport_events(t);
        st = tw_transport_wait(t, ev ? ev : TW_POLL_IN, (int)TW__MIN(left, 50));
        if (st == TW_ERR_IO) return st;
    }
}

tw_status tw_transport_read(tw_transport *t, void *buf, size_t len, size_t *nread)
{
    if (!t || (!buf && len) || !nread) return TW_ERR_INVALID_ARG;
    *nread = 0;
    if (!len) return TW_OK;
    return record(t, t->ops->read(t->ctx, buf, len, nread), "read");
}

tw_status tw_transport_write(tw_transport *t, const void *buf, size_t len, size_t *nwritten)
{
    if (!t || (!buf && len) || !nwritten) return TW_ERR_INVALID_ARG;
    *nwritten = 0;
    if (!len) return TW_OK;
    return record(t, t->ops->write(t->ctx, buf, len, nwritten), "write");
}

tw_status tw_transport_read_blocking(tw_transport *t, void *buf, size_t len, size_t *nread)
{
    if (!t || (!buf && len) || !nread) return TW_ERR_INVALID_ARG;
    *nread = 0;
    if (!len) return TW_OK;
    int64_t deadline = tw__mono_ms() + t->opts.io_timeout_ms;
    for (;;) {
        tw_status st = tw_transport_read(t, buf, len, nread);
        if (st != TW_ERR_AGAIN) return st;
        int64_t left = deadline - tw__mono_ms();
        if (left <= 0)
            return tw__err(&t->err, MOD, TW_ERR_TIMEOUT, "read: nothing received within %u ms",
                           (unsigned)t->opts.io_timeout_ms);
        unsigned ev = tw_transport_events(t);
        st = tw_transport_wait(t, ev ? ev : TW_POLL_IN, (int)left);
        if (st == TW_ERR_IO) return tw__err(&t->err, MOD, st, "read: poll failed");
    }
}

tw_status tw_transport_write_all(tw_transport *t, const void *buf, size_t len)
{
    if (!t || (!buf && len)) return TW_ERR_INVALID_ARG;
    const unsigned char *p = buf;
    int64_t deadline = tw__mono_ms() + t->opts.io_timeout_ms;
    while (len > 0) {
        size_t n = 0;
        tw_status st = tw_transport_write(t, p, len, &n);
        if (st == TW_OK) {
            p += n;
            len -= n;
            continue;
        }
        if (st != TW_ERR_AGAIN) return st;
        int64_t left = deadline - tw__mono_ms();
        if (left <= 0)
            return tw__err(&t->err, MOD, TW_ERR_TIMEOUT, "write: peer did not take data within %u ms",
                           (unsigned)t->opts.io_timeout_ms);
        unsigned ev = tw_transport_events(t);
        st = tw_transport_wait(t, ev ? ev : TW_POLL_OUT, (int)left);
        if (st == TW_ERR_IO) return tw__err(&t->err, MOD, st, "write: poll failed");
    }
    return TW_OK;
}

int tw_transport_fd(const tw_transport *t)
{
    return t && t->ops->fd ? t->ops->fd(t->ctx) : -1;
}

unsigned tw_transport_events(const tw_transport *t)
{
    if (!t) return 0;
    return t->ops->events ? t->ops->events(t->ctx) : TW_POLL_IN;
}

size_t tw_transport_pending(const tw_transport *t)
{
    return t && t->ops->pending ? t->ops->pending(t->ctx) : 0;
}

tw_status tw_transport_wait(tw_transport *t, unsigned events, int timeout_ms)
{
    if (!t) return TW_ERR_INVALID_ARG;
    if ((events & TW_POLL_IN) && tw_transport_pending(t) > 0) return TW_OK;
    int fd = tw_transport_fd(t);
    if (fd < 0) return TW_ERR_IO;
    struct pollfd p = {fd, (short)(((events & TW_POLL_IN) ? POLLIN : 0) | ((events & TW_POLL_OUT) ? POLLOUT : 0)), 0};
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return TW_ERR_IO;
    return r == 0 ? TW_ERR_TIMEOUT : TW_OK;
}

void tw_transport_close(tw_transport *t)
{
    if (!t) return;
    t->ops->close(t->ctx);
    tw__err_clear(&t->err);
}

void tw_transport_free(tw_transport *t)
{
    if (!t) return;
    t->ops->close(t->ctx);
    if (t->ops->destroy) t->ops->destroy(t->ctx);
    tw__free(t);
}

const char *tw_transport_last_error(const tw_transport *t)
{
    if (!t || t->err.code == TW_OK) return "";
    return tw__err_msg(&t->err);
}

tw_status tw_transport_last_status(const tw_transport *t) { return t ? t->err.code : TW_ERR_INVALID_ARG; }

int tw_transport_is_secure(const tw_transport *t) { return t && t->ops->secure; }

/* ---- plain TCP ---- */

struct tw__tcp {
    int fd;
    int connecting;
    int connected;
    int nodelay;
    struct addrinfo *ai_list; /* while connecting: all candidates */
    struct addrinfo *ai_next; /* the next one to try */
    char host[256];
    uint16_t port;
    tw__error *err;
};

tw_status tw__tcp_new(tw__tcp **out, tw__error *err, int nodelay)
{
    tw__tcp *c = tw__calloc(1, sizeof *c);
    if (!c) return TW_ERR_NOMEM;
    c->fd = -1;
    c->err = err;
    c->nodelay = nodelay != TW_TCP_NAGLE; /* 0 (default) and positive: TCP_NODELAY */
    *out = c;
    return TW_OK;
}

static void tcp_reset(tw__tcp *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->connecting = c->connected = 0;
    if (c->ai_list) freeaddrinfo(c->ai_list);
    c->ai_list = c->ai_next = NULL;
}

/* Starts a connect to the next candidate address; TW_ERR_AGAIN when in progress. */
static tw_status tcp_try_next(tw__tcp *c, int last_errno)
{
    while (c->ai_next) {
        struct addrinfo *ai = c->ai_next;
        c->ai_next = ai->ai_next;
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { last_errno = errno; continue; }
        if (c->nodelay) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            c->connected = 1;
            c->connecting = 0;
            freeaddrinfo(c->ai_list);
            c->ai_list = c->ai_next = NULL;
            return TW_OK;
        }
        if (errno == EINPROGRESS) {
            c->fd = fd;
            c->connecting = 1;
            return TW_ERR_AGAIN;
        }
        last_errno = errno;
        close(fd);
    }
    tw_status st = tw__status_from_errno(last_errno ? last_errno : ECONNREFUSED);
    if (st == TW_ERR_IO || st == TW_ERR_AGAIN) st = TW_ERR_CONN_REFUSED;
    tw__err(c->err, MOD, st, "connect to %s:%u: %s", c->host, (unsigned)c->port,
            strerror(last_errno ? last_errno : ECONNREFUSED));
    tcp_reset(c);
    return st;
}

tw_status tw__tcp_connect(tw__tcp *c, const char *host, uint16_t port)
{
    if (c->connected) return TW_ERR_BUSY;
    if (c->connecting) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        struct pollfd p = {c->fd, POLLOUT, 0};
        int r = poll(&p, 1, 0);
        if (r == 0) return TW_ERR_AGAIN;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
        if (soerr == 0) {
            c->connecting = 0;
            c->connected = 1;
            freeaddrinfo(c->ai_list);
            c->ai_list = c->ai_next = NULL;
            return TW_OK;
        }
        close(c->fd);
        c->fd = -1;
        c->connecting = 0;
        return tcp_try_next(c, soerr);
    }
    tw__strlcpy(c->host, host, sizeof c->host);
    c->port = port;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
    /* Bracketed IPv6 literal "[::1]" is accepted as well. */
    char h[256];
    tw__strlcpy(h, host, sizeof h);
    size_t hl = strlen(h);
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = '\0';
    }
    /* Literal addresses skip AI_ADDRCONFIG (a netlink round trip per call in glibc). */
    unsigned char abuf[16];
    if (inet_pton(AF_INET, h, abuf) == 1 || inet_pton(AF_INET6, h, abuf) == 1)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    int gai = getaddrinfo(h, portstr, &hints, &c->ai_list);
    if (gai != 0 && !(hints.ai_flags & AI_NUMERICHOST)) {
        hints.ai_flags = AI_NUMERICSERV; /* AI_ADDRCONFIG hides ::1 on hosts without IPv6 routes */
        gai = getaddrinfo(h, portstr, &hints, &c->ai_list);
    }
    if (gai != 0) {
        c->ai_list = NULL;
        return tw__err(c->err, MOD, TW_ERR_RESOLVE, "resolve %s: %s", host, gai_strerror(gai));
    }
    c->ai_next = c->ai_list;
    return tcp_try_next(c, 0);
}

tw_status tw__tcp_read(tw__tcp *c, void *buf, size_t len, size_t *nread)
{
    *nread = 0;
    if (!c->connected) return tw__err(c->err, MOD, TW_ERR_CLOSED, "read: not connected");
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n > 0) { *nread = (size_t)n; return TW_OK; }
        if (n == 0) return tw__err(c->err, MOD, TW_ERR_CLOSED, "read: connection closed by peer");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TW_ERR_AGAIN;
        int e = errno;
        tw_status st = tw__status_from_errno(e);
        return tw__err(c->err, MOD, st == TW_ERR_AGAIN ? TW_ERR_IO : st, "read: %s", strerror(e));
    }
}

tw_status tw__tcp_write(tw__tcp *c, const void *buf, size_t len, size_t *nwritten)
{
    *nwritten = 0;
    if (!c->connected) return tw__err(c->err, MOD, TW_ERR_CLOSED, "write: not connected");
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) { *nwritten = (size_t)n; return n > 0 ? TW_OK : TW_ERR_AGAIN; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TW_ERR_AGAIN;
        int e = errno;
        tw_status st = tw__status_from_errno(e);
        return tw__err(c->err, MOD, st == TW_ERR_AGAIN ? TW_ERR_IO : st, "write: %s", strerror(e));
    }
}

int tw__tcp_fd(const tw__tcp *c) { return c->fd; }
unsigned tw__tcp_events(const tw__tcp *c) { return c->connecting ? TW_POLL_OUT : (c->connected ? TW_POLL_IN : 0); }
void tw__tcp_close(tw__tcp *c) { tcp_reset(c); }
void tw__tcp_free(tw__tcp *c)
{
    if (!c) return;
    tcp_reset(c);
    tw__free(c);
}

/* tw_transport_ops adapters for the insecure public TCP transport */
typedef struct tcp_public {
    tw__tcp *tcp;
    int insecure; /* warn at every connect: plaintext asked for by the application */
} tcp_public;

static tw_status op_connect(void *ctx, const char *host, uint16_t port)
{
    tcp_public *p = ctx;
    if (p->insecure && !p->tcp->connecting && !p->tcp->connected)
        tw__log(TW_LOG_WARN, MOD, "INSECURE plaintext TCP connection to %s:%u (no TLS): allowed only "
                "because tw_transport_new_tcp_insecure() was used", host, (unsigned)port);
    return tw__tcp_connect(p->tcp, host, port);
}
static tw_status op_read(void *ctx, void *b, size_t l, size_t *n) { return tw__tcp_read(((tcp_public *)ctx)->tcp, b, l, n); }
static tw_status op_write(void *ctx, const void *b, size_t l, size_t *n) { return tw__tcp_write(((tcp_public *)ctx)->tcp, b, l, n); }
static int op_fd(void *ctx) { return tw__tcp_fd(((tcp_public *)ctx)->tcp); }
static unsigned op_events(void *ctx) { return tw__tcp_events(((tcp_public *)ctx)->tcp); }
static void op_close(void *ctx) { tw__tcp_close(((tcp_public *)ctx)->tcp); }
static void op_destroy(void *ctx)
{
    tcp_public *p = ctx;
    tw__tcp_free(p->tcp);
    tw__free(p);
}

const tw_transport_ops tw__tcp_ops = {TW_TRANSPORT_OPS_VERSION, op_connect, op_read, op_write, op_fd,
                                      op_events, NULL, op_close, op_destroy, 0};

static tw_status new_tcp(tw_transport **out, const tw_transport_options *opts, int insecure)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    tw_transport_options o;
    if ((st = tw__transport_opts(&o, opts))) return st;
    tcp_public *p = tw__calloc(1, sizeof *p);
    if (!p) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    p->insecure = insecure;
    tw_transport *t;
    if ((st = tw__transport_new(&t, &tw__tcp_ops, p, &o))) {
        tw__free(p);
        return st;
    }
    if ((st = tw__tcp_new(&p->tcp, &t->err, o.tcp_nodelay))) {
        tw__free(p);
        tw__free(t);
        return tw__err(NULL, MOD, st, "out of memory");
    }
    *out = t;
    return TW_OK;
}

tw_status tw_transport_new_tcp_insecure(tw_transport **out, const tw_transport_options *opts)
{
    return new_tcp(out, opts, 1);
}

tw_status tw__transport_new_tcp_inner(tw_transport **out, const tw_transport_options *opts)
{
    return new_tcp(out, opts, 0);
}
