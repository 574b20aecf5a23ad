/* A serial line (termios) as a non-blocking tw_transport, for Modbus RTU. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "internal.h"
#include "mb_client.h"
#include "tagwire/sys/transport.h"

typedef struct mb_serial {
    char path[256];
    uint32_t baud;
    char parity;
    int stop_bits;
    int fd;
} mb_serial;

static speed_t baud_const(uint32_t b)
{
    switch (b) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    default: return 0;
    }
}

int mb_serial_baud_ok(uint32_t baud) { return baud_const(baud) != 0; }

static tw_status ser_connect(void *ctx, const char *host, uint16_t port)
{
    (void)host;
    (void)port;
    mb_serial *s = ctx;
    if (s->fd >= 0) return TW_ERR_BUSY;
    int fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        tw_status st = tw__status_from_errno(errno);
        tw__log(TW_LOG_DEBUG, "modbus", "open %s: %s", s->path, strerror(errno));
        return st == TW_ERR_AGAIN ? TW_ERR_IO : st;
    }
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        tw__log(TW_LOG_DEBUG, "modbus", "%s is not a serial device: %s", s->path, strerror(errno));
        close(fd);
        return TW_ERR_IO;
    }
    cfmakeraw(&tio);
    speed_t sp = baud_const(s->baud);
    cfsetispeed(&tio, sp);
    cfsetospeed(&tio, sp);
    tio.c_cflag &= (tcflag_t)~(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    if (s->parity == 'E') tio.c_cflag |= PARENB;
    if (s->parity == 'O') tio.c_cflag |= PARENB | PARODD;
    if (s->stop_bits == 2) tio.c_cflag |= CSTOPB;
    tio.c_iflag &= (tcflag_t)~(IXON | IXOFF | IXANY | INPCK);
    if (s->parity != 'N') tio.c_iflag |= INPCK;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        tw__log(TW_LOG_DEBUG, "modbus", "tcsetattr %s: %s", s->path, strerror(errno));
        close(fd);
        return TW_ERR_IO;
    }
    tcflush(fd, TCIOFLUSH);
    s->fd = fd;
    return TW_OK;
}

static tw_status ser_read(void *ctx, void *buf, size_t len, size_t *nread)
{
    mb_serial *s = ctx;
    *nread = 0;
    if (s->fd < 0) return TW_ERR_CLOSED;
    for (;;) {
        ssize_t n = read(s->fd, buf, len);
        if (n > 0) {
            *nread = (size_t)n;
            return TW_OK;
        }
        if (n == 0) return TW_ERR_AGAIN; /* VMIN=0: nothing there */
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TW_ERR_AGAIN;
        return TW_ERR_IO;
    }
}

static tw_status ser_write(void *ctx, const void *buf, size_t len, size_t *nw)
{
    mb_serial *s = ctx;
    *nw = 0;
    if (s->fd < 0) return TW_ERR_CLOSED;
    for (;;) {
        ssize_t n = write(s->fd, buf, len);
        if (n >= 0) {
            *nw = (size_t)n;
            return n > 0 ? TW_OK : TW_ERR_AGAIN;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return TW_ERR_AGAIN;
        return TW_ERR_IO;
    }
}

static int ser_fd(void *ctx) { return ((mb_serial *)ctx)->fd; }
static unsigned ser_events(void *ctx) { return ((mb_serial *)ctx)->fd >= 0 ? TW_POLL_IN : 0; }
static void ser_close(void *ctx)
{
    mb_serial *s = ctx;
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}
static void ser_destroy(void *ctx)
{
    ser_close(ctx);
    tw__free(ctx);
}

static const tw_transport_ops k_serial_ops = {TW_TRANSPORT_OPS_VERSION, ser_connect, ser_read, ser_write, ser_fd,
                                              ser_events, NULL, ser_close, ser_destroy, 0};

tw_status mb_serial_new(tw_transport **out, const char *path, uint32_t baud, char parity, int stop_bits)
{
    mb_serial *s = tw__calloc(1, sizeof *s);
    if (!s) return TW_ERR_NOMEM;
    tw__strlcpy(s->path, path, sizeof s->path);
    s->baud = baud;
    s->parity = parity;
    s->stop_bits = stop_bits;
    s->fd = -1;
    tw_status st = tw_transport_new_custom(out, &k_serial_ops, s);
    if (st) tw__free(s);
    return st;
}
