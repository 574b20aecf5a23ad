/* Siemens S7 adapter "s7://HOST[:PORT]?rack=R&slot=S" on libsnap7 (S7comm over ISO-on-TCP).
 * Reads are batched into Read Var requests of up to 20 items that fit the negotiated PDU size;
 * items too large for one PDU are read alone (libsnap7 splits those). A lost connection is
 * re-established with exponential back-off; meanwhile items read as BadNotConnected.
 * SPDX-License-Identifier: Apache-2.0 */
#include <snap7.h>
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "s7_address.h"

#define MOD "s7"
#define S7_MAX_VARS 20 /* libsnap7's MaxVars */

typedef struct s7_item {
    s7_addr a;
} s7_item;

typedef struct s7_ctx {
    S7Object cli;
    char host[256];
    uint16_t port;
    int rack, slot, conntype, pdu_request;
    int bit_rmw; /* bitwrite=rmw */
    int connected;
    int pdu; /* negotiated */
    uint32_t attempts;
    int64_t next_connect_ms;
    uint32_t backoff_min_ms, backoff_max_ms;
    int timeout_ms, connect_timeout_ms;
    tw_device_stats st;
    double rtt_acc;
    uint8_t *buf; /* read buffer for one batch */
    size_t buf_cap;
} s7_ctx;

static void errtext(int code, char *out, size_t len)
{
    char t[256];
    t[0] = '\0';
    Cli_ErrorText(code, t, (int)sizeof t);
    snprintf(out, len, "%s (0x%08x)", t[0] ? t : "error", (unsigned)code);
}

static int is_link_error(int code)
{
    /* TCP (low 16 bits) and ISO (0x000F0000 range) errors, PDU negotiation, timeouts mean the link is gone;
     * CPU errors (item results, function refused) leave it up. */
    return (code & 0xFFFF) != 0 || (code & 0x000F0000) != 0 || code == (int)errNegotiatingPDU ||
           code == (int)errCliJobTimeout || code == (int)errCliInvalidPlcAnswer;
}

static void s7_disconnect(s7_ctx *c, const char *why)
{
    if (c->connected) {
        c->st.disconnects++;
        tw__log(TW_LOG_INFO, MOD, "%s:%u: closing connection: %s", c->host, (unsigned)c->port, why);
    }
    Cli_Disconnect(c->cli);
    c->connected = 0;
    c->next_connect_ms = tw__mono_ms() + c->backoff_min_ms / 2;
}

static tw_status s7_ensure_connected(s7_ctx *c, char *err, size_t errlen)
{
    if (c->connected) return TW_OK;
    int64_t now = tw__mono_ms();
    if (now < c->next_connect_ms) {
        snprintf(err, errlen, "%s:%u: not connected (next attempt in %lld ms)", c->host, (unsigned)c->port,
                 (long long)(c->next_connect_ms - now));
        return TW_ERR_CLOSED;
    }
    int r = Cli_ConnectTo(c->cli, c->host, c->rack, c->slot);
    if (r != 0) {
        char t[200];
        errtext(r, t, sizeof t);
        c->st.connect_failures++;
        uint32_t delay = tw__backoff_ms(c->attempts, c->backoff_min_ms, c->backoff_max_ms, NULL, NULL);
        if (delay < c->backoff_min_ms / 2) delay = c->backoff_min_ms / 2;
        c->attempts++;
        c->next_connect_ms = tw__mono_ms() + delay;
        Cli_Disconnect(c->cli);
        snprintf(err, errlen, "connect to %s:%u (rack %d, slot %d) failed: %s (retry in %u ms)", c->host,
                 (unsigned)c->port, c->rack, c->slot, t, (unsigned)delay);
        return (r & 0xFFFF) == 111 ? TW_ERR_CONN_REFUSED : (r & 0xFFFF) ? TW_ERR_IO : TW_ERR_PROTOCOL;
    }
    int req = 0, neg = 0;
    Cli_GetPduLength(c->cli, &req, &neg);
    c->pdu = neg >= 240 ? neg : 240;
    c->connected = 1;
    c->attempts = 0;
    c->st.connects++;
    tw__log(TW_LOG_INFO, MOD, "%s:%u: connected (rack %d, slot %d, PDU %d bytes)", c->host, (unsigned)c->port, c->rack,
            c->slot, c->pdu);
    return TW_OK;
}

static tw_quality item_quality(int result)
{
    if (result == 0) return TW_QUALITY_GOOD;
    if (result == (int)errCliAddressOutOfRange) return TW_QUALITY_BAD_OUT_OF_RANGE;
    if (result == (int)errCliItemNotAvailable) return 0x80340000u; /* BadNodeIdUnknown: no such DB/area */
    if (result == (int)errCliInvalidTransportSize || result == (int)errCliInvalidDataSizeRecvd)
        return TW_QUALITY_BAD_TYPE_MISMATCH;
    if (result == (int)errCliNeedPassword || result == (int)errCliFunctionRefused) return 0x801F0000u; /* BadUserAccessDenied */
    return TW_QUALITY_BAD_DEVICE_FAILURE;
}

static void record_rtt(s7_ctx *c, int64_t rtt)
{
    c->st.responses++;
    c->st.last_rtt_ns = rtt;
    if (rtt > c->st.max_rtt_ns) c->st.max_rtt_ns = rtt;
    c->rtt_acc += ((double)rtt - c->rtt_acc) / (double)c->st.responses;
    c->st.mean_rtt_ns = (int64_t)c->rtt_acc;
}

static tw_status op_parse(void *reg_data, const char *address, void **item, tw_adapter_item_info *info, char *err,
                          size_t errlen)
{
    (void)reg_data;
    s7_addr a;
    tw_status st = tw__s7_parse_address(address, &a, err, errlen);
    if (st != TW_OK) return st;
    info->type = a.type;
    info->max_bytes = tw__s7_max_bytes(&a);
    info->writable = 1;
    if (item) {
        s7_item *it = tw__malloc(sizeof *it);
        if (!it) return TW_ERR_NOMEM;
        it->a = a;
        *item = it;
    }
    return TW_OK;
}

static void op_free_item(void *reg_data, void *item)
{
    (void)reg_data;
    tw__free(item);
}

static void fill_item(TS7DataItem *d, const s7_addr *a, void *data)
{
    d->Area = a->area;
    d->DBNumber = a->db;
    d->Result = 0;
    d->pdata = data;
    /* bits are read as their byte (one transport size for every item; the bit is masked locally) */
    d->WordLen = S7WLByte;
    d->Start = (int)a->byte;
    d->Amount = a->size;
}

/* Response bytes one item takes in a Read Var answer: 4 header + data, padded to even. */
static size_t resp_bytes(const s7_addr *a)
{
    size_t d = a->size;
    return 4 + d + (d & 1);
}

static void deliver(s7_ctx *c, const s7_addr *a, int result, const uint8_t *data, tw_adapter_result *r, tw_status *first,
                    char *err, size_t errlen)
{
    (void)c;
    if (result != 0) {
        r->quality = item_quality(result);
        if (*first == TW_OK) {
            char t[160];
            errtext(result, t, sizeof t);
            snprintf(err, errlen, "S7 item at byte %u: %s", (unsigned)a->byte, t);
            *first = TW_ERR_ADAPTER;
        }
        return;
    }
    char msg[160];
    tw_status st = tw__s7_decode(a, data, a->size, &r->value, r->buf, r->buf_size, msg,
                                 sizeof msg);
    if (st != TW_OK) {
        r->quality = st == TW_ERR_RANGE ? TW_QUALITY_BAD_OUT_OF_RANGE : TW_QUALITY_BAD_TYPE_MISMATCH;
        if (*first == TW_OK) {
            snprintf(err, errlen, "%s", msg);
            *first = st;
        }
        return;
    }
    r->quality = TW_QUALITY_GOOD;
}

static tw_status op_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen)
{
    s7_ctx *c = ctx;
    tw_status st = s7_ensure_connected(c, err, errlen);
    if (st != TW_OK) {
        for (size_t i = 0; i < n; i++) res[i].quality = TW_QUALITY_BAD_NOT_CONNECTED;
        return st;
    }
    /* data buffer: every item's bytes back to back */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += ((const s7_item *)items[i])->a.size;
    if (total > c->buf_cap) {
        uint8_t *nb = tw__realloc(c->buf, total);
        if (!nb) return TW_ERR_NOMEM;
        c->buf = nb;
        c->buf_cap = total;
    }
    tw_status first = TW_OK;
    size_t pdu = (size_t)c->pdu;
    size_t i = 0, off = 0;
    TS7DataItem d[S7_MAX_VARS];
    while (i < n) {
        int r = 0;
        const s7_addr *a0 = &((const s7_item *)items[i])->a;
        /* an item that does not fit one answer alone: read it by itself (libsnap7 splits it) */
        if (14 + resp_bytes(a0) > pdu) {
            c->st.requests++;
            int64_t t0 = tw__mono_ns();
            r = Cli_ReadArea(c->cli, a0->area, a0->db, (int)a0->byte, a0->size, S7WLByte, c->buf + off);
            if (r != 0 && is_link_error(r)) goto link_lost_at_i;
            record_rtt(c, tw__mono_ns() - t0);
            deliver(c, a0, r, c->buf + off, &res[i], &first, err, errlen);
            off += a0->size;
            i++;
            continue;
        }
        size_t k = 0, req = 19, resp = 14, boff = off;
        while (i + k < n && k < S7_MAX_VARS) {
            const s7_addr *a = &((const s7_item *)items[i + k])->a;
            if (req + 12 > pdu || resp + resp_bytes(a) > pdu) break;
            if (14 + resp_bytes(a) > pdu) break;
            req += 12;
            resp += resp_bytes(a);
            fill_item(&d[k], a, c->buf + boff);
            boff += a->size;
            k++;
        }
        c->st.requests++;
        int64_t t0 = tw__mono_ns();
        r = Cli_ReadMultiVars(c->cli, d, (int)k);
        if (r != 0) {
            if (is_link_error(r)) goto link_lost_at_i;
            /* a request-level refusal: every item of the batch is bad, the link stays */
            record_rtt(c, tw__mono_ns() - t0);
            c->st.exceptions++;
            for (size_t j = 0; j < k; j++) deliver(c, &((const s7_item *)items[i + j])->a, r, NULL, &res[i + j], &first, err, errlen);
        } else {
            record_rtt(c, tw__mono_ns() - t0);
            for (size_t j = 0; j < k; j++) {
                const s7_addr *a = &((const s7_item *)items[i + j])->a;
                if (d[j].Result) c->st.exceptions++;
                deliver(c, a, d[j].Result, d[j].pdata, &res[i + j], &first, err, errlen);
            }
        }
        i += k;
        off = boff;
        continue;
    link_lost_at_i: {
        char t[160];
        errtext(r, t, sizeof t);
        int timeout = r == (int)errCliJobTimeout || (r & 0xFFFF) == 110 || (r & 0xFFFF) == 11;
        if (timeout) c->st.timeouts++;
        else c->st.protocol_errors += (r & 0xFFFF) ? 0 : 1;
        snprintf(err, errlen, "%s:%u: %s", c->host, (unsigned)c->port, t);
        s7_disconnect(c, t);
        for (; i < n; i++) res[i].quality = timeout ? TW_QUALITY_BAD_TIMEOUT : TW_QUALITY_BAD_COMM_FAILURE;
        return timeout ? TW_ERR_TIMEOUT : TW_ERR_CLOSED;
    }
    }
    return first == TW_ERR_ADAPTER ? TW_OK : first; /* per-item errors are in the qualities */
}

static tw_status op_write(void *ctx, void *item, const tw_value *v, char *err, size_t errlen)
{
    s7_ctx *c = ctx;
    const s7_addr *a = &((const s7_item *)item)->a;
    uint8_t data[260];
    size_t len = 0;
    tw_status st = tw__s7_encode(a, v, data, &len, err, errlen);
    if (st != TW_OK) return st;
    if ((st = s7_ensure_connected(c, err, errlen)) != TW_OK) return st;
    int r;
    c->st.requests++;
    int64_t t0 = tw__mono_ns();
    if (a->dtype == S7_DT_BOOL && c->bit_rmw) {
        /* read-modify-write of the byte, for servers without bit access (not atomic on a PLC) */
        uint8_t b = 0;
        r = Cli_ReadArea(c->cli, a->area, a->db, (int)a->byte, 1, S7WLByte, &b);
        if (r == 0) {
            b = (uint8_t)((b & ~(1u << a->bit)) | ((unsigned)(data[0] & 1) << a->bit));
            c->st.requests++;
            r = Cli_WriteArea(c->cli, a->area, a->db, (int)a->byte, 1, S7WLByte, &b);
        }
    } else if (a->dtype == S7_DT_BOOL)
        r = Cli_WriteArea(c->cli, a->area, a->db, (int)(a->byte * 8u + (unsigned)a->bit), 1, S7WLBit, data);
    else
        r = Cli_WriteArea(c->cli, a->area, a->db, (int)a->byte, (int)len, S7WLByte, data);
    if (r != 0) {
        char t[160];
        errtext(r, t, sizeof t);
        snprintf(err, errlen, "S7 write at byte %u: %s", (unsigned)a->byte, t);
        if (is_link_error(r)) {
            s7_disconnect(c, t);
            return r == (int)errCliJobTimeout ? TW_ERR_TIMEOUT : TW_ERR_CLOSED;
        }
        record_rtt(c, tw__mono_ns() - t0);
        c->st.exceptions++;
        return TW_ERR_ADAPTER;
    }
    record_rtt(c, tw__mono_ns() - t0);
    return TW_OK;
}

static void op_stats(void *ctx, tw_device_stats *out)
{
    s7_ctx *c = ctx;
    uint32_t v = out->version;
    *out = c->st;
    out->version = v;
    out->connected = c->connected;
}

static void op_close(void *ctx)
{
    s7_ctx *c = ctx;
    if (!c) return;
    if (c->connected) Cli_Disconnect(c->cli);
    Cli_Destroy(&c->cli);
    tw__free(c->buf);
    tw__free(c);
}

static tw_status iparam(const tw_adapter_uri *u, const char *key, int min, int max, int *val, char *err, size_t errlen)
{
    const char *s = tw_adapter_uri_param(u, key);
    if (!s) return TW_OK;
    uint64_t v;
    if (tw__parse_u64(s, (uint64_t)max, &v) || v < (uint64_t)min) {
        snprintf(err, errlen, "URI parameter %s=%s: expected a number in %d..%d", key, s, min, max);
        return TW_ERR_CONFIG;
    }
    *val = (int)v;
    return TW_OK;
}

static tw_status op_open(void *reg_data, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                         size_t errlen)
{
    (void)reg_data;
    if (o->transport) {
        snprintf(err, errlen, "s7:// does not take a transport");
        return TW_ERR_CONFIG;
    }
    if (!u->host[0]) {
        snprintf(err, errlen, "s7:// needs a host (s7://HOST[:PORT]?rack=0&slot=1)");
        return TW_ERR_CONFIG;
    }
    if (strlen(u->host) >= 256 || (u->path[0] && strcmp(u->path, "/") != 0)) {
        snprintf(err, errlen, "s7:// URI: host too long or unexpected path '%s'", u->path);
        return TW_ERR_CONFIG;
    }
    static const char *const known[] = {"rack", "slot", "pdu", "type", "bitwrite"};
    for (size_t i = 0; i < u->nparams; i++) {
        int ok = 0;
        for (size_t j = 0; j < TW__ARRAY_LEN(known); j++) ok |= !strcmp(u->keys[i], known[j]);
        if (!ok) {
            snprintf(err, errlen, "unknown URI parameter '%s' for s7 (known: rack, slot, pdu, type=pg|op|basic, bitwrite=native|rmw)", u->keys[i]);
            return TW_ERR_CONFIG;
        }
    }
    s7_ctx *c = tw__calloc(1, sizeof *c);
    if (!c) return TW_ERR_NOMEM;
    c->rack = 0;
    c->slot = 1;
    c->pdu_request = 480;
    c->conntype = CONNTYPE_PG;
    tw_status st;
    if ((st = iparam(u, "rack", 0, 7, &c->rack, err, errlen)) || (st = iparam(u, "slot", 0, 31, &c->slot, err, errlen)) ||
        (st = iparam(u, "pdu", 240, 960, &c->pdu_request, err, errlen))) {
        tw__free(c);
        return st;
    }
    const char *t = tw_adapter_uri_param(u, "type");
    if (t) {
        if (!strcmp(t, "pg")) c->conntype = CONNTYPE_PG;
        else if (!strcmp(t, "op")) c->conntype = CONNTYPE_OP;
        else if (!strcmp(t, "basic")) c->conntype = CONNTYPE_BASIC;
        else {
            snprintf(err, errlen, "URI parameter type=%s: expected pg, op or basic", t);
            tw__free(c);
            return TW_ERR_CONFIG;
        }
    }
    const char *bw = tw_adapter_uri_param(u, "bitwrite");
    if (bw) {
        if (!strcmp(bw, "rmw")) c->bit_rmw = 1;
        else if (strcmp(bw, "native")) {
            snprintf(err, errlen, "URI parameter bitwrite=%s: expected native or rmw", bw);
            tw__free(c);
            return TW_ERR_CONFIG;
        }
    }
    tw__strlcpy(c->host, u->host, sizeof c->host);
    c->port = u->port ? u->port : 102;
    c->timeout_ms = (int)o->timeout_ms;
    c->connect_timeout_ms = (int)o->connect_timeout_ms;
    c->backoff_min_ms = o->reconnect_min_ms;
    c->backoff_max_ms = o->reconnect_max_ms;
    c->cli = Cli_Create();
    if (!c->cli) {
        tw__free(c);
        return TW_ERR_NOMEM;
    }
    uint16_t port = c->port;
    int32_t to = c->timeout_ms, cto = c->connect_timeout_ms, pdu = c->pdu_request;
    Cli_SetParam(c->cli, p_u16_RemotePort, &port);
    Cli_SetParam(c->cli, p_i32_PingTimeout, &cto);
    Cli_SetParam(c->cli, p_i32_SendTimeout, &to);
    Cli_SetParam(c->cli, p_i32_RecvTimeout, &to);
    Cli_SetParam(c->cli, p_i32_PDURequest, &pdu);
    Cli_SetConnectionType(c->cli, (word)c->conntype);
    c->pdu = 240;
    *ctx = c;
    return TW_OK;
}

static const tw_adapter_ops k_s7_ops = {TW_ADAPTER_OPS_VERSION, "s7", "Siemens S7 (S7comm over ISO-on-TCP, libsnap7)",
                                        op_parse, op_free_item, op_open, op_close, op_read, op_write, op_stats,
                                        NULL, NULL, NULL};

void tw__s7_register_builtins(tw__reg_add_fn add) { (void)add(&k_s7_ops, NULL); }
