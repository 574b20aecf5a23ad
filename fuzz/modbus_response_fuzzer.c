/*
 * Fuzzes Modbus response decoding against a given request, for TCP (MBAP) and RTU framing, at two
 * levels: the codec (framing, validation, value decoding) and the whole client engine reading the
 * bytes from an in-memory transport.
 *
 * Input: [0] flags (bit 0: RTU, bit 1: also run the engine), [1] function selector, [2..3] start
 * address, [4..5] quantity, [6] unit, [7] item type selector, then the bytes the device sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/modbus/mb_codec.h"
#include "internal.h"
#include "tagwire/adapter.h"
#include "tagwire/sys/transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t k_fcs[] = {1, 2, 3, 4, 5, 6, 15, 16, 23};

static void decode_all(const uint8_t *req, const uint8_t *d, size_t dlen, uint8_t tsel)
{
    static const char *const types[] = {"INT16", "UINT32:CDAB", "INT64:BADC", "FLOAT32:DCBA", "FLOAT64", "STRING[7]",
                                        "STRING[246]:BADC", "UINT16"};
    uint8_t fc = req[0];
    if (fc == 1 || fc == 2) {
        volatile int acc = 0;
        for (size_t i = 0; i < dlen * 8; i++) acc += (d[i / 8] >> (i % 8)) & 1;
        return;
    }
    if (fc != 3 && fc != 4 && fc != 23) return;
    char addr[64];
    snprintf(addr, sizeof addr, "hr:0:%s", types[tsel % 8]);
    mb_addr a;
    char err[256];
    if (mb_parse_address(addr, &a, err, sizeof err) != TW_OK) abort();
    size_t nregs = dlen / 2;
    for (size_t off = 0; off + a.count <= nregs; off += a.count) {
        tw_value v;
        char sbuf[256];
        mb_decode_regs(&a, d + 2 * off, &v, sbuf, sizeof sbuf);
        if (v.type == TW_TYPE_STRING && v.as.buf.len > a.strlen_) abort();
    }
}

static size_t build_request(const uint8_t *h, uint8_t *pdu)
{
    uint8_t fc = k_fcs[h[1] % sizeof k_fcs];
    uint16_t addr = (uint16_t)((h[2] << 8) | h[3]);
    uint16_t qty = (uint16_t)((h[4] << 8) | h[5]);
    uint16_t regs[125];
    uint8_t bits[250];
    memset(regs, 0xA5, sizeof regs);
    memset(bits, 0x5A, sizeof bits);
    size_t n = 0;
    switch (fc) {
    case 1: case 2: n = mb_pdu_read(pdu, fc, addr, (uint16_t)(qty % 2000 + 1)); break;
    case 3: case 4: n = mb_pdu_read(pdu, fc, addr, (uint16_t)(qty % 125 + 1)); break;
    case 5: n = mb_pdu_write_single(pdu, fc, addr, (qty & 1) ? 0xFF00 : 0); break;
    case 6: n = mb_pdu_write_single(pdu, fc, addr, qty); break;
    case 15: n = mb_pdu_write_coils(pdu, addr, (uint16_t)(qty % 1968 + 1), bits); break;
    case 16: n = mb_pdu_write_registers(pdu, addr, (uint16_t)(qty % 123 + 1), regs); break;
    case 23: n = mb_pdu_read_write_registers(pdu, addr, (uint16_t)(qty % 125 + 1), addr, (uint16_t)(qty % 121 + 1), regs); break;
    }
    if (!n) n = mb_pdu_read(pdu, 3, 0, 1); /* address + quantity beyond 65535 */
    return n;
}

/* ---- engine level: the bytes come from an in-memory transport ---- */
typedef struct mem_link {
    const uint8_t *p;
    size_t n, off;
    int connected;
} mem_link;

static tw_status m_connect(void *c, const char *h, uint16_t port)
{
    (void)h; (void)port;
    ((mem_link *)c)->connected = 1;
    return TW_OK;
}
static tw_status m_read(void *c, void *buf, size_t len, size_t *nr)
{
    mem_link *m = c;
    if (m->off >= m->n) return TW_ERR_CLOSED;
    size_t k = m->n - m->off;
    if (k > len) k = len;
    if (k > 37) k = 37; /* deliver in odd-sized chunks: exercises reassembly */
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    *nr = k;
    return TW_OK;
}
static tw_status m_write(void *c, const void *b, size_t len, size_t *nw)
{
    (void)c; (void)b;
    *nw = len;
    return TW_OK;
}
static void m_close(void *c) { ((mem_link *)c)->connected = 0; }
static size_t m_pending(void *c)
{
    mem_link *m = c;
    return m->off < m->n ? m->n - m->off : 0;
}
static const tw_transport_ops k_mem = {TW_TRANSPORT_OPS_VERSION, m_connect, m_read, m_write, NULL, NULL, m_pending, m_close, NULL, 0};

static void run_engine(const uint8_t *h, const uint8_t *rest, size_t n)
{
    static int inited;
    if (!inited) {
        tw_init_params ip = TW_INIT_PARAMS_INIT;
        ip.log_level = TW_LOG_ERROR;
        tw_init(&ip);
        inited = 1;
    }
    mem_link link = {rest, n, 0, 0};
    tw_transport *t;
    if (tw_transport_new_custom(&t, &k_mem, &link) != TW_OK) return;
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.transport = t;
    o.timeout_ms = 5;
    char uri[128];
    snprintf(uri, sizeof uri, "modbus+tcp://fuzz?unit=%u&pipeline=%u&max_gap=%u", h[6], h[7] % 16 + 1, h[5] % 20);
    tw_device *d;
    if (tw_device_open(&d, uri, &o) != TW_OK) {
        tw_transport_free(t);
        return;
    }
    static const char *const addrs[] = {"hr:0", "hr:3:FLOAT32", "hr:100:STRING[9]", "hr:0x300:INT64:CDAB", "coil:1",
                                        "coil:2500", "di:7", "ir:30001", "hr:125", "hr:1.4"};
    uint32_t ids[10];
    size_t k = 0;
    for (size_t i = 0; i < 10; i++)
        if (tw_device_add_item(d, &ids[k], addrs[(i + h[2]) % 10]) == TW_OK) k++;
    tw_sample s[10];
    (void)tw_device_read(d, ids, k, s);
    for (size_t i = 0; i < k; i++)
        if (s[i].value.type == TW_TYPE_STRING && s[i].value.as.buf.len > 9) abort();
    if (link.off < link.n) (void)tw_device_read(d, ids, k, s);
    tw_value v = {TW_TYPE_UINT16, {.u = 7}};
    if (link.off < link.n) (void)tw_device_write(d, ids[0], &v);
    tw_device_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint8_t pdu[MB_MAX_PDU];
    size_t pdu_len = build_request(data, pdu);
    const uint8_t *rest = data + 8;
    size_t n = size - 8;
    uint8_t unit = data[6];
    char err[256];
    if (data[0] & 1) {
        /* RTU: one response frame */
        size_t alen;
        if (mb_rtu_response_len(pdu, pdu_len, rest, n, &alen, err, sizeof err) == TW_OK && alen <= n) {
            const uint8_t *rp;
            size_t rl;
            if (mb_rtu_check(rest, alen, unit, &rp, &rl, err, sizeof err) == TW_OK) {
                const uint8_t *d;
                size_t dl;
                uint8_t ex;
                if (mb_check_response(pdu, pdu_len, rp, rl, &d, &dl, &ex, err, sizeof err) == TW_OK)
                    decode_all(pdu, d, dl, data[7]);
            }
        }
    } else {
        /* TCP: every frame in the stream */
        size_t off = 0;
        while (off < n) {
            size_t alen;
            if (mb_tcp_frame(rest + off, n - off, &alen, err, sizeof err) != TW_OK) break;
            if (alen < MB_TCP_MBAP + 1 || alen > MB_TCP_MAX_ADU) abort();
            const uint8_t *d;
            size_t dl;
            uint8_t ex;
            if (mb_check_response(pdu, pdu_len, rest + off + MB_TCP_MBAP, alen - MB_TCP_MBAP, &d, &dl, &ex, err, sizeof err) == TW_OK)
                decode_all(pdu, d, dl, data[7]);
            off += alen;
        }
        if (data[0] & 2) run_engine(data, rest, n);
    }
    return 0;
}
