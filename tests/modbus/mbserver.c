/*
 * tw_mbserver - an independent Modbus peer for tagwire's tests and benchmark, built on libmodbus
 * (Debian's libmodbus-dev): Modbus TCP on 127.0.0.1:PORT, or RTU on a serial device.
 *
 *   tw_mbserver --port N [--stats FILE] [--delay-ms N] [--hole START:END]
 *   tw_mbserver --rtu DEVICE [--baud N] [--parity N|E|O] [--unit N] [--stats FILE]
 *
 * Data (deterministic, so tests know what to expect):
 *   coils[i] = (i % 3 == 0), discrete inputs[i] = (i % 2), input registers[i] = (i * 7) & 0xFFFF,
 *   holding registers[i] = i, except 9000..9007: 123.456f in ABCD, CDAB, BADC, DCBA,
 *   9100..9101: "AB" "CD" string bytes.
 * --stats FILE: after every request, FILE is rewritten with "total N" and "fcXX N" lines.
 * --hole S:E: requests touching holding registers S..E (inclusive) get exception 2.
 * --delay-ms: sleep before each reply (a slow device).
 */
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define NREG 20000

static unsigned long g_count[256];
static unsigned long g_total;
static const char *g_stats;

static void write_stats(void)
{
    if (!g_stats) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", g_stats);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "total %lu\n", g_total);
    for (int i = 0; i < 256; i++)
        if (g_count[i]) fprintf(f, "fc%02x %lu\n", i, g_count[i]);
    fclose(f);
    rename(tmp, g_stats);
}

static int in_hole(const uint8_t *pdu, int hole_s, int hole_e)
{
    if (hole_s < 0) return 0;
    int fc = pdu[0];
    if (fc != 3 && fc != 6 && fc != 16 && fc != 23) return 0;
    int addr = (pdu[1] << 8) | pdu[2];
    int qty = (fc == 6) ? 1 : ((pdu[3] << 8) | pdu[4]);
    return addr <= hole_e && addr + qty - 1 >= hole_s;
}

int main(int argc, char **argv)
{
    int port = 0, delay_ms = 0, hole_s = -1, hole_e = -1, baud = 19200, unit = 1;
    const char *rtu = NULL;
    char parity = 'E';
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stats") && i + 1 < argc) g_stats = argv[++i];
        else if (!strcmp(argv[i], "--delay-ms") && i + 1 < argc) delay_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hole") && i + 1 < argc) sscanf(argv[++i], "%d:%d", &hole_s, &hole_e);
        else if (!strcmp(argv[i], "--rtu") && i + 1 < argc) rtu = argv[++i];
        else if (!strcmp(argv[i], "--baud") && i + 1 < argc) baud = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--parity") && i + 1 < argc) parity = argv[++i][0];
        else if (!strcmp(argv[i], "--unit") && i + 1 < argc) unit = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s --port N | --rtu DEV ...\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    modbus_mapping_t *m = modbus_mapping_new_start_address(0, 10000, 0, 10000, 0, NREG, 0, 10000);
    if (!m) return 1;
    for (int i = 0; i < 10000; i++) {
        m->tab_bits[i] = (i % 3 == 0);
        m->tab_input_bits[i] = (i % 2);
        m->tab_input_registers[i] = (uint16_t)((i * 7) & 0xFFFF);
    }
    for (int i = 0; i < NREG; i++) m->tab_registers[i] = (uint16_t)i;
    /* 123.456f = 0x42F6E979, laid out word by word as the orders are defined (libmodbus 3.1.6's
     * modbus_set_float_* helpers are not used: their names do not match their layouts on
     * little-endian hosts, fixed upstream in 3.1.8) */
    static const uint16_t fl[8] = {0x42F6, 0xE979, 0xE979, 0x42F6, 0xF642, 0x79E9, 0x79E9, 0xF642};
    for (int i = 0; i < 8; i++) m->tab_registers[9000 + i] = fl[i];
    m->tab_registers[9100] = ('A' << 8) | 'B';
    m->tab_registers[9101] = ('C' << 8) | 'D';
    write_stats();

    uint8_t q[MODBUS_MAX_ADU_LENGTH];
    if (rtu) {
        modbus_t *ctx = modbus_new_rtu(rtu, baud, parity, 8, parity == 'N' ? 2 : 1);
        if (!ctx || modbus_set_slave(ctx, unit) != 0 || modbus_connect(ctx) != 0) {
            fprintf(stderr, "rtu %s: %s\n", rtu, modbus_strerror(errno));
            return 1;
        }
        fprintf(stderr, "tw_mbserver: RTU on %s unit %d\n", rtu, unit);
        for (;;) {
            int rc = modbus_receive(ctx, q);
            if (rc > 0) {
                g_count[q[1]]++;
                g_total++;
                write_stats(); /* before the reply: a client that got its answer sees the count */
                if (delay_ms) usleep((useconds_t)delay_ms * 1000);
                if (in_hole(q + 1, hole_s, hole_e)) modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
                else modbus_reply(ctx, q, rc, m);
            } else if (rc == -1 && errno != EMBBADCRC && errno != ETIMEDOUT && errno != EMBBADDATA) {
                /* keep serving: a test may send junk */
                usleep(1000);
            }
        }
    }

    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    int server = modbus_tcp_listen(ctx, 16);
    if (server < 0) {
        fprintf(stderr, "listen on %d: %s\n", port, modbus_strerror(errno));
        return 1;
    }
    fprintf(stderr, "tw_mbserver: listening on 127.0.0.1:%d\n", port);
    fd_set all;
    FD_ZERO(&all);
    FD_SET(server, &all);
    int maxfd = server;
    for (;;) {
        fd_set rd = all;
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int fd = 0; fd <= maxfd; fd++) {
            if (!FD_ISSET(fd, &rd)) continue;
            if (fd == server) {
                int c = modbus_tcp_accept(ctx, &server);
                if (c >= 0) {
                    /* like libmodbus's own client sockets: no Nagle delay on replies */
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    FD_SET(c, &all);
                    if (c > maxfd) maxfd = c;
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, q);
            if (rc > 0) {
                g_count[q[7]]++;
                g_total++;
                write_stats(); /* before the reply: a client that got its answer sees the count */
                if (delay_ms) usleep((useconds_t)delay_ms * 1000);
                if (in_hole(q + 7, hole_s, hole_e)) modbus_reply_exception(ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
                else modbus_reply(ctx, q, rc, m);
            } else if (rc == -1) {
                close(fd);
                FD_CLR(fd, &all);
            }
        }
    }
}
