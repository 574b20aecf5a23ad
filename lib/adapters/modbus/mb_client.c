/* Modbus client: block coalescing, pipelined transactions, strict response validation, reconnect
 * with back-off, quality mapping; and the adapter glue for modbus+tcp, modbus+tls, modbus+rtu.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "mb_client.h"
#include "tagwire/tls.h"
#include "tls/transport_internal.h"

#define MOD "modbus"
#define MB_MAX_PIPELINE 16
#define MB_PLAN_CACHE 8

enum { KIND_TCP = 0, KIND_TLS = 1, KIND_RTU = 2 };
static int k_kind_tcp = KIND_TCP, k_kind_tls = KIND_TLS, k_kind_rtu = KIND_RTU;

typedef struct mb_block {
    uint8_t fc;
    mb_area area;
    uint16_t start, qty;
    tw_status st;
    tw_quality q;
    uint8_t data[250];
} mb_block;

typedef struct mb_plan {
    size_t n;
    const mb_addr **key; /* the item pointers this plan was built for */
    uint32_t *item_block;
    mb_block *blocks;
    size_t nblocks;
    uint64_t last_use;
    uint8_t *isolate; /* per item: never share a request with another item (learnt from exception 02) */
} mb_plan;

typedef struct mb_txn {
    uint8_t pdu[MB_MAX_PDU];
    size_t pdu_len;
    tw_status st;
    uint8_t exception;
    uint8_t *out;      /* where read data goes (block data) */
    size_t out_len;
    int done;
} mb_txn;

typedef struct mb_slot {
    size_t txn;
    uint16_t tid;
    int64_t sent_ns;
} mb_slot;

typedef struct mb_client {
    int kind;
    uint8_t unit;
    tw_transport *t;
    char host[256];
    uint16_t port;
    uint32_t timeout_ms, connect_timeout_ms, backoff_min_ms, backoff_max_ms;
    unsigned max_gap_regs, max_gap_bits, max_regs, max_bits, pipeline;
    int single_write;
    /* RTU timing */
    uint32_t baud;
    int64_t t35_ns, char_ns;
    int64_t quiet_since_ns;
    /* connection */
    int connected;
    uint32_t attempts;
    int64_t next_connect_ms;
    uint16_t next_tid;
    uint8_t rx[2048];
    size_t rx_len;
    /* plans */
    mb_plan plans[MB_PLAN_CACHE];
    uint64_t use_clock;
    /* scratch for read() */
    mb_txn *txns;
    size_t txn_cap;
    tw_device_stats st;
    double rtt_mean;
    uint64_t rtt_n;
} mb_client;

/* ---- connection ---- */

static void mb_disconnect(mb_client *c, const char *why)
{
    if (c->connected) {
        c->st.disconnects++;
        tw__log(TW_LOG_INFO, MOD, "%s:%u: closing connection: %s", c->host, (unsigned)c->port, why);
    }
    tw_transport_close(c->t);
    c->connected = 0;
    c->rx_len = 0;
}

static tw_status mb_ensure_connected(mb_client *c, char *err, size_t errlen)
{
    if (c->connected) return TW_OK;
    int64_t now = tw__mono_ms();
    if (now < c->next_connect_ms) {
        snprintf(err, errlen, "%s:%u: not connected (next attempt in %lld ms)", c->host, (unsigned)c->port,
                 (long long)(c->next_connect_ms - now));
        return TW_ERR_CLOSED;
    }
    tw_status st;
    if (c->kind == KIND_RTU) {
        st = tw_transport_connect(c->t, "serial", 1);
    } else {
        /* bounded by our connect timeout even when the transport came from the caller */
        int64_t deadline = now + c->connect_timeout_ms;
        for (;;) {
            st = tw_transport_connect(c->t, c->host, c->port);
            if (st != TW_ERR_AGAIN) break;
            int64_t left = deadline - tw__mono_ms();
            if (left <= 0) {
                tw_transport_close(c->t);
                st = TW_ERR_TIMEOUT;
                break;
            }
            /* in slices: a TLS transport has timers no descriptor signals (see tw_transport_new_tls) */
            unsigned ev = tw_transport_events(c->t);
            if (tw_transport_wait(c->t, ev ? ev : TW_POLL_OUT, (int)TW__MIN(left, 50)) == TW_ERR_IO) {
                st = TW_ERR_IO;
                break;
            }
        }
    }
    if (st != TW_OK) {
        c->st.connect_failures++;
        uint32_t delay = tw__backoff_ms(c->attempts, c->backoff_min_ms, c->backoff_max_ms, NULL, NULL);
        if (delay < c->backoff_min_ms / 2) delay = c->backoff_min_ms / 2;
        c->attempts++;
        c->next_connect_ms = tw__mono_ms() + delay;
        const char *detail = tw_transport_last_error(c->t);
        if (c->kind == KIND_RTU)
            snprintf(err, errlen, "cannot open serial port %s: %s", c->host, tw_strerror(st));
        else
            snprintf(err, errlen, "connect to %s:%u failed: %s (retry in %u ms)", c->host, (unsigned)c->port,
                     (detail && *detail) ? detail : tw_strerror(st), (unsigned)delay);
        tw_transport_close(c->t);
        return st;
    }
    c->connected = 1;
    c->attempts = 0;
    c->rx_len = 0;
    c->st.connects++;
    c->quiet_since_ns = tw__mono_ns();
    if (c->kind == KIND_TLS) {
        tw_tls_info ti;
        memset(&ti, 0, sizeof ti);
        ti.version = TW_TLS_INFO_VERSION;
        if (tw_transport_tls_info(c->t, &ti) == TW_OK)
            tw__log(TW_LOG_INFO, MOD, "%s:%u: Modbus/TCP Security: %s %s%s, server \"%s\"%s%s%s, our role: %s",
                    c->host, (unsigned)c->port, ti.protocol_name, ti.suite_name, ti.resumed ? " (resumed)" : "",
                    ti.peer_subject, ti.peer_role[0] ? " (role \"" : "", ti.peer_role,
                    ti.peer_role[0] ? "\")" : "", ti.own_role[0] ? ti.own_role : "(none in our certificate)");
    }
    return TW_OK;
}

static int64_t now_ns(void) { return tw__mono_ns(); }

/* Writes all of buf before the deadline. */
static tw_status write_all(mb_client *c, const uint8_t *buf, size_t len, int64_t deadline_ns)
{
    size_t off = 0;
    while (off < len) {
        size_t nw = 0;
        tw_status st = tw_transport_write(c->t, buf + off, len - off, &nw);
        if (st == TW_OK) {
            off += nw;
            continue;
        }
        if (st != TW_ERR_AGAIN) return st;
        int64_t left = deadline_ns - now_ns();
        if (left <= 0) return TW_ERR_TIMEOUT;
        st = tw_transport_wait(c->t, TW_POLL_OUT, (int)((left + 999999) / 1000000));
        if (st == TW_ERR_IO) return st;
    }
    c->st.bytes_sent += len;
    return TW_OK;
}

static void record_rtt(mb_client *c, int64_t rtt)
{
    c->st.last_rtt_ns = rtt;
    if (rtt > c->st.max_rtt_ns) c->st.max_rtt_ns = rtt;
    c->rtt_n++;
    c->rtt_mean += ((double)rtt - c->rtt_mean) / (double)c->rtt_n;
    c->st.mean_rtt_ns = (int64_t)c->rtt_mean;
}

/* Applies a response PDU to a transaction; the first failure's message goes to err. */
static void finish_txn(mb_client *c, mb_txn *x, const uint8_t *pdu, size_t pdu_len, tw_status *first, char *err,
                       size_t errlen)
{
    const uint8_t *data;
    size_t dlen;
    char msg[TW__ERRMSG_MAX];
    msg[0] = '\0';
    tw_status st = mb_check_response(x->pdu, x->pdu_len, pdu, pdu_len, &data, &dlen, &x->exception, msg, sizeof msg);
    x->done = 1;
    x->st = st;
    if (st == TW_OK || st == TW_ERR_MODBUS_EXCEPTION) c->st.responses++;
    if (st == TW_ERR_MODBUS_EXCEPTION) c->st.exceptions++;
    if (st != TW_OK && st != TW_ERR_MODBUS_EXCEPTION) c->st.protocol_errors++;
    if (st == TW_OK && x->out && dlen) memcpy(x->out, data, TW__MIN(dlen, x->out_len));
    if (st != TW_OK && *first == TW_OK) {
        *first = st;
        snprintf(err, errlen, "%s", msg);
    }
}

/* Marks every transaction not done yet with `st`. */
static void fail_rest(mb_txn *x, size_t n, tw_status st)
{
    for (size_t i = 0; i < n; i++)
        if (!x[i].done) {
            x[i].done = 1;
            x[i].st = st;
        }
}

/* Runs n transactions (pipelined on TCP, one by one on RTU). Per-transaction status in x[i].st;
 * returns the first failure with a message. */
static tw_status run_txns(mb_client *c, mb_txn *x, size_t n, char *err, size_t errlen)
{
    tw_status first = TW_OK;
    for (size_t i = 0; i < n; i++) {
        x[i].done = 0;
        x[i].st = TW_ERR_GENERIC;
        x[i].exception = 0;
    }
    tw_status st = mb_ensure_connected(c, err, errlen);
    if (st != TW_OK) {
        fail_rest(x, n, TW_ERR_CLOSED);
        return st;
    }
    mb_slot slots[MB_MAX_PIPELINE];
    size_t nslots = 0, next = 0, ndone = 0;
    unsigned depth = c->kind == KIND_RTU ? 1 : c->pipeline;
    int readable = tw_transport_pending(c->t) > 0;
    int64_t timeout_ns = (int64_t)c->timeout_ms * 1000000;
    uint8_t adu[MB_TCP_MAX_ADU];
    char msg[TW__ERRMSG_MAX];

    while (ndone < n) {
        /* send while the window has room */
        while (next < n && nslots < depth) {
            mb_txn *t = &x[next];
            size_t alen;
            int64_t t0 = now_ns();
            if (c->kind == KIND_RTU) {
                /* discard stale input, then keep the line quiet for 3.5 characters */
                uint8_t junk[64];
                size_t nr;
                for (int k = 0; k < 64 && tw_transport_read(c->t, junk, sizeof junk, &nr) == TW_OK && nr; k++)
                    c->quiet_since_ns = now_ns();
                c->rx_len = 0;
                int64_t quiet_until = c->quiet_since_ns + c->t35_ns;
                while (now_ns() < quiet_until) {
                    int64_t d = quiet_until - now_ns();
                    struct timespec ts = {0, (long)(d > 0 ? d : 0)};
                    nanosleep(&ts, NULL);
                }
                alen = mb_rtu_frame_request(adu, c->unit, t->pdu, t->pdu_len);
            } else {
                mb_tcp_header(adu, c->next_tid, c->unit, t->pdu_len);
                memcpy(adu + MB_TCP_MBAP, t->pdu, t->pdu_len);
                alen = MB_TCP_MBAP + t->pdu_len;
            }
            st = write_all(c, adu, alen, t0 + timeout_ns);
            if (st != TW_OK) {
                snprintf(err, errlen, "sending request: %s", st == TW_ERR_TIMEOUT ? "timed out" : tw_strerror(st));
                mb_disconnect(c, err);
                fail_rest(x, n, st == TW_ERR_TIMEOUT ? TW_ERR_TIMEOUT : TW_ERR_CLOSED);
                return st;
            }
            c->st.requests++;
            if (c->kind == KIND_RTU) c->quiet_since_ns = now_ns() + (int64_t)alen * c->char_ns;
            slots[nslots].txn = next;
            slots[nslots].tid = c->next_tid;
            slots[nslots].sent_ns = t0;
            nslots++;
            c->next_tid++;
            next++;
        }
        /* frame what we have */
        for (;;) {
            if (!nslots) break;
            size_t alen = 0;
            msg[0] = '\0';
            if (c->kind == KIND_RTU) {
                mb_txn *t = &x[slots[0].txn];
                st = mb_rtu_response_len(t->pdu, t->pdu_len, c->rx, c->rx_len, &alen, msg, sizeof msg);
                if (st == TW_OK && c->rx_len < alen) st = TW_ERR_AGAIN;
            } else {
                st = mb_tcp_frame(c->rx, c->rx_len, &alen, msg, sizeof msg);
            }
            if (st == TW_ERR_AGAIN) break;
            if (st == TW_OK && c->kind == KIND_RTU && c->rx_len > alen) {
                st = TW_ERR_PROTOCOL;
                snprintf(msg, sizeof msg, "%zu unexpected bytes after a %zu-byte RTU response", c->rx_len - alen, alen);
            }
            const uint8_t *pdu = NULL;
            size_t pdu_len = 0;
            size_t si = 0;
            if (st == TW_OK) {
                if (c->kind == KIND_RTU) {
                    st = mb_rtu_check(c->rx, alen, c->unit, &pdu, &pdu_len, msg, sizeof msg);
                } else {
                    uint16_t tid = (uint16_t)((c->rx[0] << 8) | c->rx[1]);
                    for (si = 0; si < nslots && slots[si].tid != tid; si++) {
                    }
                    if (si == nslots) {
                        st = TW_ERR_PROTOCOL;
                        snprintf(msg, sizeof msg, "response with transaction id %u matches no outstanding request", tid);
                    } else if (c->rx[6] != c->unit) {
                        st = TW_ERR_PROTOCOL;
                        snprintf(msg, sizeof msg, "response from unit %u, request went to unit %u", c->rx[6], c->unit);
                    } else {
                        pdu = c->rx + MB_TCP_MBAP;
                        pdu_len = alen - MB_TCP_MBAP;
                    }
                }
            }
            if (st != TW_OK) {
                tw_status fst = st == TW_ERR_CRC ? TW_ERR_CRC : TW_ERR_PROTOCOL;
                c->st.protocol_errors++;
                if (first == TW_OK) {
                    first = fst;
                    snprintf(err, errlen, "%s", msg);
                }
                if (c->kind == KIND_RTU) {
                    /* Only this frame was bad: fail its request; the next request flushes the line
                     * and waits for silence, which resynchronises RTU framing. */
                    x[slots[0].txn].done = 1;
                    x[slots[0].txn].st = fst;
                    ndone++;
                    nslots = 0;
                    c->rx_len = 0;
                    break;
                }
                /* TCP: the stream cannot be trusted any more: drop the link, fail what is left. */
                mb_disconnect(c, msg);
                fail_rest(x, n, fst);
                return fst;
            }
            record_rtt(c, now_ns() - slots[si].sent_ns);
            finish_txn(c, &x[slots[si].txn], pdu, pdu_len, &first, err, errlen);
            ndone++;
            memmove(&slots[si], &slots[si + 1], (nslots - si - 1) * sizeof slots[0]);
            nslots--;
            memmove(c->rx, c->rx + alen, c->rx_len - alen);
            c->rx_len -= alen;
        }
        if (ndone >= n) break;
        if (!nslots) continue;
        /* read more, waiting until the oldest outstanding request times out */
        if (c->rx_len >= sizeof c->rx) {
            c->st.protocol_errors++;
            snprintf(err, errlen, "receive buffer overflow (garbage from the device)");
            mb_disconnect(c, err);
            fail_rest(x, n, TW_ERR_PROTOCOL);
            return TW_ERR_PROTOCOL;
        }
        /* wait first (right after a request nothing is there yet: saves a read that would fail),
         * then read; until the oldest outstanding request times out */
        if (!readable) {
            int64_t oldest = slots[0].sent_ns;
            for (size_t i = 1; i < nslots; i++)
                if (slots[i].sent_ns < oldest) oldest = slots[i].sent_ns;
            int64_t left = oldest + timeout_ns - now_ns();
            tw_status wst = left > 0 ? tw_transport_wait(c->t, TW_POLL_IN, (int)((left + 999999) / 1000000)) : TW_ERR_TIMEOUT;
            if (wst == TW_ERR_IO) {
                snprintf(err, errlen, "waiting for the response failed");
                mb_disconnect(c, err);
                fail_rest(x, n, TW_ERR_CLOSED);
                return TW_ERR_CLOSED;
            }
            if (wst == TW_ERR_TIMEOUT) goto timed_out;
        }
        size_t nr = 0, space = sizeof c->rx - c->rx_len;
        st = tw_transport_read(c->t, c->rx + c->rx_len, space, &nr);
        if (st == TW_OK) {
            c->rx_len += nr;
            c->st.bytes_received += nr;
            if (c->kind == KIND_RTU) c->quiet_since_ns = now_ns();
            readable = nr == space; /* a full buffer: more may be waiting */
            continue;
        }
        if (st == TW_ERR_AGAIN) {
            readable = 0;
            continue;
        }
        snprintf(err, errlen, "%s", st == TW_ERR_CLOSED ? "connection closed by the device" : tw_transport_last_error(c->t));
        if (!err[0]) snprintf(err, errlen, "receive failed: %s", tw_strerror(st));
        mb_disconnect(c, err);
        fail_rest(x, n, TW_ERR_CLOSED);
        return st == TW_ERR_CLOSED ? TW_ERR_CLOSED : st;
    timed_out:
        /* timed out: answers may still come late and would desynchronise the stream (TCP) */
        c->st.timeouts += nslots;
        if (first == TW_OK || c->kind != KIND_RTU)
            snprintf(err, errlen, "no response within %u ms (%s %s:%u, unit %u)", (unsigned)c->timeout_ms,
                     c->kind == KIND_RTU ? "serial" : "tcp", c->host, (unsigned)c->port, (unsigned)c->unit);
        if (c->kind == KIND_RTU) {
            /* a silent RTU device does not break the line: fail the request, keep the port */
            x[slots[0].txn].done = 1;
            x[slots[0].txn].st = TW_ERR_TIMEOUT;
            ndone++;
            nslots = 0;
            c->rx_len = 0;
            if (first == TW_OK) first = TW_ERR_TIMEOUT;
            continue;
        }
        mb_disconnect(c, err);
        c->next_connect_ms = 0;
        fail_rest(x, n, TW_ERR_TIMEOUT);
        return TW_ERR_TIMEOUT;
    }
    if (first != TW_OK && !err[0]) snprintf(err, errlen, "%s", tw_strerror(first));
    return first;
}

/* ---- planning: coalesce items into blocks ---- */

typedef struct sort_ent {
    uint32_t isolated;
    uint32_t area;
    uint32_t start, end; /* [start, end) in registers or bits */
    uint32_t idx;
} sort_ent;

static int cmp_ent(const void *a, const void *b)
{
    const sort_ent *x = a, *y = b;
    if (x->area != y->area) return x->area < y->area ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

static uint8_t area_fc(mb_area a)
{
    switch (a) {
    case MB_AREA_COIL: return MB_FC_READ_COILS;
    case MB_AREA_DISCRETE: return MB_FC_READ_DISCRETE;
    case MB_AREA_INPUT: return MB_FC_READ_INPUT;
    case MB_AREA_HOLDING: return MB_FC_READ_HOLDING;
    }
    return 0;
}

static void plan_free(mb_plan *p)
{
    tw__free(p->isolate);
    tw__free(p->key);
    tw__free(p->item_block);
    tw__free(p->blocks);
    memset(p, 0, sizeof *p);
}

static tw_status plan_build(mb_client *c, mb_plan *p, const mb_addr *const *items, size_t n)
{
    sort_ent *e = tw__malloc(n * sizeof *e);
    if (!p->key) p->key = tw__malloc(n * sizeof *p->key);
    if (!p->item_block) p->item_block = tw__malloc(n * sizeof *p->item_block);
    if (!p->blocks) p->blocks = tw__malloc(n * sizeof *p->blocks); /* at most one block per item */
    if (!p->isolate) p->isolate = tw__calloc(n, 1);
    if (!e || !p->key || !p->item_block || !p->blocks || !p->isolate) {
        tw__free(e);
        plan_free(p);
        return TW_ERR_NOMEM;
    }
    memcpy(p->key, items, n * sizeof *items);
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        e[i].area = items[i]->area;
        e[i].start = items[i]->offset;
        e[i].end = (uint32_t)items[i]->offset + items[i]->count;
        e[i].idx = (uint32_t)i;
        e[i].isolated = p->isolate[i];
    }
    qsort(e, n, sizeof *e, cmp_ent);
    size_t nb = 0;
    mb_block *cur = NULL;
    uint32_t cur_end = 0;
    uint32_t cur_iso = 0;
    for (size_t i = 0; i < n; i++) {
        int bits = e[i].area == MB_AREA_COIL || e[i].area == MB_AREA_DISCRETE;
        uint32_t limit = bits ? c->max_bits : c->max_regs;
        uint32_t gap = bits ? c->max_gap_bits : c->max_gap_regs;
        /* an isolated item only shares a request with items at exactly its own registers */
        int iso = e[i].isolated || cur_iso;
        int merge = cur && cur->area == (mb_area)e[i].area && e[i].start <= cur_end + (iso ? 0 : gap) &&
                    (!iso || (e[i].start == cur->start && e[i].end == cur_end)) &&
                    TW__MAX(cur_end, e[i].end) - cur->start <= limit;
        if (!merge) {
            cur = &p->blocks[nb++];
            memset(cur, 0, offsetof(mb_block, data));
            cur->area = (mb_area)e[i].area;
            cur->fc = area_fc(cur->area);
            cur->start = (uint16_t)e[i].start;
            cur_end = e[i].end;
            cur_iso = e[i].isolated;
        }
        if (e[i].end > cur_end) cur_end = e[i].end;
        cur->qty = (uint16_t)(cur_end - cur->start);
        p->item_block[e[i].idx] = (uint32_t)(cur - p->blocks);
    }
    p->nblocks = nb;
    tw__free(e);
    return TW_OK;
}

/* Finds or builds the plan for this exact item list (cached: poll groups repeat the same list). */
static mb_plan *plan_get(mb_client *c, const mb_addr *const *items, size_t n)
{
    mb_plan *victim = &c->plans[0];
    for (size_t i = 0; i < MB_PLAN_CACHE; i++) {
        mb_plan *p = &c->plans[i];
        if (p->n == n && p->key && !memcmp(p->key, items, n * sizeof *items)) {
            p->last_use = ++c->use_clock;
            return p;
        }
        if (p->last_use < victim->last_use) victim = p;
    }
    plan_free(victim);
    if (plan_build(c, victim, items, n) != TW_OK) return NULL;
    victim->last_use = ++c->use_clock;
    return victim;
}

static tw_quality status_quality(tw_status st, uint8_t exception)
{
    switch (st) {
    case TW_OK: return TW_QUALITY_GOOD;
    case TW_ERR_MODBUS_EXCEPTION: return mb_exception_quality(exception);
    case TW_ERR_TIMEOUT: return TW_QUALITY_BAD_TIMEOUT;
    case TW_ERR_CLOSED:
    case TW_ERR_CONN_REFUSED:
    case TW_ERR_RESOLVE:
    case TW_ERR_UNREACHABLE: return TW_QUALITY_BAD_NOT_CONNECTED;
    default:
        /* modbus+tls: no secure link (handshake refused, server not trusted, wrong name, ...) */
        if (st <= TW_ERR_TLS && st > TW_ERR_TLS - 50) return TW_QUALITY_BAD_NOT_CONNECTED;
        return TW_QUALITY_BAD_COMM_FAILURE;
    }
}

/* ---- adapter ops ---- */

static tw_status op_parse(void *reg_data, const char *address, void **item, tw_adapter_item_info *info, char *err,
                          size_t errlen)
{
    (void)reg_data;
    mb_addr a;
    tw_status st = mb_parse_address(address, &a, err, errlen);
    if (st) return st;
    info->type = a.type;
    info->max_bytes = a.dtype == MB_DT_STRING ? a.strlen_ : 0;
    info->writable = (a.area == MB_AREA_COIL || a.area == MB_AREA_HOLDING) && a.bit < 0;
    if (item) {
        mb_addr *cp = tw__malloc(sizeof *cp);
        if (!cp) return TW_ERR_NOMEM;
        *cp = a;
        *item = cp;
    }
    return TW_OK;
}

static void op_free_item(void *reg_data, void *item)
{
    (void)reg_data;
    tw__free(item);
}

static tw_status op_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen)
{
    mb_client *c = ctx;
    const mb_addr *const *it = (const mb_addr *const *)items;
    mb_plan *p = plan_get(c, it, n);
    if (!p) return TW_ERR_NOMEM;
    int retried = 0;
again:
    if (p->nblocks > c->txn_cap) {
        mb_txn *nt = tw__realloc(c->txns, p->nblocks * sizeof *nt);
        if (!nt) return TW_ERR_NOMEM;
        c->txns = nt;
        c->txn_cap = p->nblocks;
    }
    for (size_t b = 0; b < p->nblocks; b++) {
        mb_block *blk = &p->blocks[b];
        mb_txn *x = &c->txns[b];
        x->pdu_len = mb_pdu_read(x->pdu, blk->fc, blk->start, blk->qty);
        x->out = blk->data;
        x->out_len = sizeof blk->data;
    }
    tw_status st = run_txns(c, c->txns, p->nblocks, err, errlen);
    for (size_t b = 0; b < p->nblocks; b++) {
        p->blocks[b].st = c->txns[b].st;
        p->blocks[b].q = status_quality(c->txns[b].st, c->txns[b].exception);
    }
    if (!retried && st == TW_ERR_MODBUS_EXCEPTION) {
        /* "Illegal data address" for a request that spans several items may come from a gap
         * between them that the device does not map: read those items on their own from now on. */
        int changed = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t b = p->item_block[i];
            if (c->txns[b].st != TW_ERR_MODBUS_EXCEPTION || c->txns[b].exception != 0x02 || p->isolate[i]) continue;
            const mb_block *blk = &p->blocks[b];
            if (blk->start != it[i]->offset || blk->qty != it[i]->count) {
                p->isolate[i] = 1;
                changed = 1;
            }
        }
        if (changed) {
            tw__log(TW_LOG_INFO, MOD, "%s:%u: illegal data address inside a coalesced request: reading the "
                    "items involved separately", c->host, (unsigned)c->port);
            if (plan_build(c, p, it, n) != TW_OK) {
                plan_free(p);
                return TW_ERR_NOMEM;
            }
            retried = 1;
            err[0] = '\0';
            goto again;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const mb_addr *a = it[i];
        mb_block *blk = &p->blocks[p->item_block[i]];
        res[i].quality = blk->q;
        if (blk->st != TW_OK) continue;
        uint32_t rel = (uint32_t)a->offset - blk->start;
        if (a->dtype == MB_DT_UINT16 && (a->order == MB_ABCD || a->order == MB_CDAB)) { /* the common case */
            res[i].value.type = TW_TYPE_UINT16;
            res[i].value.as.u = (uint64_t)((blk->data[2 * rel] << 8) | blk->data[2 * rel + 1]);
        } else if (a->area == MB_AREA_COIL || a->area == MB_AREA_DISCRETE) {
            res[i].value.type = TW_TYPE_BOOL;
            res[i].value.as.b = (blk->data[rel / 8] >> (rel % 8)) & 1;
        } else {
            mb_decode_regs(a, blk->data + 2 * rel, &res[i].value, res[i].buf, res[i].buf_size);
        }
    }
    return st;
}

static tw_status op_write(void *ctx, void *item, const tw_value *v, char *err, size_t errlen)
{
    mb_client *c = ctx;
    const mb_addr *a = item;
    mb_txn x;
    memset(&x, 0, sizeof x);
    tw_status st;
    if (a->area == MB_AREA_COIL) {
        int on;
        if ((st = mb_value_to_bool(v, &on))) {
            snprintf(err, errlen, "a coil takes a bool or 0/1");
            return st;
        }
        if (c->single_write) {
            x.pdu_len = mb_pdu_write_single(x.pdu, MB_FC_WRITE_COIL, a->offset, on ? 0xFF00 : 0x0000);
        } else {
            uint8_t b = on ? 1 : 0;
            x.pdu_len = mb_pdu_write_coils(x.pdu, a->offset, 1, &b);
        }
    } else if (a->area == MB_AREA_HOLDING && a->bit < 0) {
        uint16_t words[128];
        if ((st = mb_encode_regs(a, v, words, err, errlen))) return st;
        if (a->count == 1 && c->single_write)
            x.pdu_len = mb_pdu_write_single(x.pdu, MB_FC_WRITE_REGISTER, a->offset, words[0]);
        else
            x.pdu_len = mb_pdu_write_registers(x.pdu, a->offset, a->count, words);
    } else {
        snprintf(err, errlen, "%s items cannot be written", a->bit >= 0 ? "register bit" : mb_area_name(a->area));
        return TW_ERR_UNSUPPORTED;
    }
    if (!x.pdu_len) {
        snprintf(err, errlen, "internal: cannot encode the write request");
        return TW_ERR_GENERIC;
    }
    return run_txns(c, &x, 1, err, errlen);
}

static void op_stats(void *ctx, tw_device_stats *out)
{
    mb_client *c = ctx;
    uint32_t v = out->version;
    *out = c->st;
    out->version = v;
    out->connected = c->connected;
}

static void op_close(void *ctx)
{
    mb_client *c = ctx;
    if (!c) return;
    tw_transport_free(c->t);
    for (size_t i = 0; i < MB_PLAN_CACHE; i++) plan_free(&c->plans[i]);
    tw__free(c->txns);
    tw__free(c);
}

#define CERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_CONFIG)

static tw_status uparam(const tw_adapter_uri *u, const char *key, uint64_t min, uint64_t max, uint64_t *val,
                        char *err, size_t errlen)
{
    const char *s = tw_adapter_uri_param(u, key);
    if (!s) return TW_OK;
    uint64_t v;
    if (tw__parse_u64(s, max, &v) || v < min)
        return CERR("URI parameter %s=%s: expected a number in %llu..%llu", key, s, (unsigned long long)min,
                    (unsigned long long)max);
    *val = v;
    return TW_OK;
}

/* A file named by a URI parameter: must be readable now (the message names parameter, file, reason). */
static tw_status tls_file(const tw_adapter_uri *u, const char *key, const char **out, char *err, size_t errlen)
{
    const char *path = tw_adapter_uri_param(u, key);
    *out = NULL;
    if (!path) return TW_OK;
    if (!*path) return CERR("modbus+tls: URI parameter %s= is empty (expected a file name)", key);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "modbus+tls: %s=%s: cannot read the file: %s", key, path, strerror(e));
        return TW_ERR_NOT_FOUND;
    }
    fclose(f);
    *out = path;
    return TW_OK;
}

static const char *const k_tls_params[] = {"ca", "cert", "key", "servername", "pin", "crl"};

/* Builds the mutual-TLS transport of modbus+tls:// from opts->tls or from the URI parameters. */
static tw_status tls_transport(tw_transport **out, const tw_adapter_uri *u, const tw_device_options *o,
                               uint32_t connect_timeout_ms, char *err, size_t errlen)
{
    tw_tls_options topts = TW_TLS_OPTIONS_INIT;
    tw_status st;
    if (o->tls) {
        if ((st = tw_transport_new_tls(out, o->tls, &topts)))
            snprintf(err, errlen, "modbus+tls: cannot create the TLS transport: %s", tw_strerror(st));
        return st;
    }
    const char *ca, *cert, *key, *crl;
    if ((st = tls_file(u, "ca", &ca, err, errlen)) || (st = tls_file(u, "cert", &cert, err, errlen)) ||
        (st = tls_file(u, "key", &key, err, errlen)) || (st = tls_file(u, "crl", &crl, err, errlen)))
        return st;
    if (!ca)
        return CERR("modbus+tls needs ca=FILE (the CA certificate(s) the server's certificate must chain to), "
                    "cert=FILE and key=FILE (this client's certificate and key), or tw_device_options.tls");
    if (!cert || !key)
        return CERR("modbus+tls needs cert=FILE and key=FILE: Modbus/TCP Security requires mutual authentication "
                    "(the client certificate also carries the client's role)%s",
                    cert ? " (key= is missing)" : key ? " (cert= is missing)" : "");
    tw_tls_config *cfg = NULL;
    if ((st = tw_tls_config_new(&cfg))) {
        snprintf(err, errlen, "modbus+tls: cannot create a TLS config: %s", tw_strerror(st));
        return st;
    }
    const char *what = "ca", *val = ca;
    if ((st = tw_tls_config_set_ca_file(cfg, ca)) == TW_OK) {
        what = "cert/key";
        val = cert;
        st = tw_tls_config_set_credentials_file(cfg, cert, key, NULL);
    }
    if (st == TW_OK && crl) {
        what = "crl";
        val = crl;
        st = tw_tls_config_set_crl_file(cfg, crl);
    }
    if (st == TW_OK && (val = tw_adapter_uri_param(u, "servername"))) {
        what = "servername";
        st = *val ? tw_tls_config_set_server_name(cfg, val) : TW_ERR_INVALID_ARG;
    }
    for (size_t i = 0; st == TW_OK && i < u->nparams; i++)
        if (!strcmp(u->keys[i], "pin")) {
            what = "pin";
            val = u->values[i];
            st = tw_tls_config_add_pin(cfg, val);
        }
    if (st == TW_OK) st = tw_tls_config_set_timeouts(cfg, connect_timeout_ms, 0, 0);
    if (st == TW_OK) {
        st = tw_transport_new_tls(out, cfg, &topts);
        what = NULL;
    }
    if (st != TW_OK) {
        const char *detail = tw_tls_config_last_error(cfg);
        if (!detail || !*detail) detail = tw_strerror(st);
        if (what)
            snprintf(err, errlen, "modbus+tls: %s=%s: %s", what, val ? val : "", detail);
        else
            snprintf(err, errlen, "modbus+tls: cannot create the TLS transport: %s", detail);
    }
    tw_tls_config_free(cfg); /* the transport holds its own reference */
    return st;
}

static const tw_adapter_ops k_ops_tcp, k_ops_tls, k_ops_rtu;

static tw_status op_open(void *reg_data, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                         size_t errlen)
{
    int kind = *(const int *)reg_data;
    static const char *const common[] = {"unit", "timeout", "max_gap", "max_bit_gap", "max_regs", "max_bits",
                                         "pipeline", "single_write", "connect_timeout"};
    static const char *const serial[] = {"baud", "parity", "stop"};
    int tls_params = 0;
    for (size_t i = 0; i < u->nparams; i++) {
        int known = 0;
        for (size_t k = 0; k < TW__ARRAY_LEN(common); k++) known |= !strcmp(u->keys[i], common[k]);
        if (kind == KIND_RTU)
            for (size_t k = 0; k < TW__ARRAY_LEN(serial); k++) known |= !strcmp(u->keys[i], serial[k]);
        int is_tls = 0;
        for (size_t k = 0; k < TW__ARRAY_LEN(k_tls_params); k++) is_tls |= !strcmp(u->keys[i], k_tls_params[k]);
        if (is_tls && kind == KIND_TCP)
            return CERR("URI parameter '%s' is a TLS parameter: modbus+tcp is plaintext by definition; "
                        "use modbus+tls:// (Modbus/TCP Security, port 802)", u->keys[i]);
        if (is_tls && kind == KIND_TLS) {
            known = 1;
            tls_params++;
        }
        if (!known)
            return CERR("unknown URI parameter '%s' for %s (known: unit, timeout, connect_timeout, max_gap, "
                        "max_bit_gap, max_regs, max_bits, pipeline, single_write%s)",
                        u->keys[i], u->scheme,
                        kind == KIND_RTU   ? ", baud, parity, stop"
                        : kind == KIND_TLS ? ", ca, cert, key, servername, pin, crl"
                                           : "");
    }
    uint64_t unit = kind == KIND_RTU ? 1 : 1, timeout = o->timeout_ms, ctimeout = o->connect_timeout_ms;
    uint64_t max_gap = 8, max_bit_gap = 64, max_regs = MB_MAX_READ_REGS, max_bits = MB_MAX_READ_BITS, pipeline = 1,
             single_write = 1, baud = 19200, stop = 0;
    tw_status st;
    if ((st = uparam(u, "unit", kind == KIND_RTU ? 1 : 0, kind == KIND_RTU ? 247 : 255, &unit, err, errlen)) ||
        (st = uparam(u, "timeout", 1, 600000, &timeout, err, errlen)) ||
        (st = uparam(u, "connect_timeout", 1, 600000, &ctimeout, err, errlen)) ||
        (st = uparam(u, "max_gap", 0, MB_MAX_READ_REGS - 1, &max_gap, err, errlen)) ||
        (st = uparam(u, "max_bit_gap", 0, MB_MAX_READ_BITS - 1, &max_bit_gap, err, errlen)) ||
        (st = uparam(u, "max_regs", 1, MB_MAX_READ_REGS, &max_regs, err, errlen)) ||
        (st = uparam(u, "max_bits", 1, MB_MAX_READ_BITS, &max_bits, err, errlen)) ||
        (st = uparam(u, "pipeline", 1, MB_MAX_PIPELINE, &pipeline, err, errlen)) ||
        (st = uparam(u, "single_write", 0, 1, &single_write, err, errlen)) ||
        (st = uparam(u, "baud", 50, 4000000, &baud, err, errlen)) ||
        (st = uparam(u, "stop", 1, 2, &stop, err, errlen)))
        return st;
    char parity = 'E'; /* Modbus over Serial Line 2.5.1: even parity is the default */
    const char *ps = tw_adapter_uri_param(u, "parity");
    if (ps) {
        if (strlen(ps) != 1 || !strchr("NEOneo", ps[0])) return CERR("URI parameter parity=%s: expected N, E or O", ps);
        parity = (char)(ps[0] & ~0x20);
    }
    if (kind == KIND_RTU && !mb_serial_baud_ok((uint32_t)baud))
        return CERR("URI parameter baud=%llu: not a standard rate (1200..230400)", (unsigned long long)baud);
    if (kind == KIND_RTU && pipeline > 1) return CERR("pipeline=%llu: RTU allows one outstanding request", (unsigned long long)pipeline);
    if (kind == KIND_RTU && !*u->path) return CERR("modbus+rtu needs a device path: modbus+rtu:///dev/ttyUSB0?baud=19200");
    if (kind != KIND_RTU && !*u->host) return CERR("%s needs a host: %s://HOST[:PORT]?unit=1", u->scheme, u->scheme);
    if (kind != KIND_RTU && *u->path && strcmp(u->path, "/"))
        return CERR("%s URI takes no path ('%s')", u->scheme, u->path);
    if (kind == KIND_TLS && o->transport && !tw_transport_is_secure(o->transport)) {
        snprintf(err, errlen, "modbus+tls refuses a transport that is not secure (plain TCP)");
        return TW_ERR_TLS_INSECURE;
    }
    if (kind == KIND_TLS && tls_params && (o->transport || o->tls))
        return CERR("modbus+tls: the URI carries TLS parameters (ca, cert, key, ...) and tw_device_options.%s "
                    "is set too: give the TLS settings one way only", o->transport ? "transport" : "tls");
    if (kind == KIND_RTU && o->transport) return CERR("modbus+rtu does not take a transport");
    if (kind != KIND_TLS && o->tls)
        return CERR("%s does not take a TLS config (tw_device_options.tls): use modbus+tls://", u->scheme);

    mb_client *c = tw__calloc(1, sizeof *c);
    if (!c) return TW_ERR_NOMEM;
    c->kind = kind;
    c->unit = (uint8_t)unit;
    c->timeout_ms = (uint32_t)timeout;
    c->connect_timeout_ms = (uint32_t)ctimeout;
    c->backoff_min_ms = o->reconnect_min_ms;
    c->backoff_max_ms = o->reconnect_max_ms;
    c->max_gap_regs = (unsigned)max_gap;
    c->max_gap_bits = (unsigned)max_bit_gap;
    c->max_regs = (unsigned)max_regs;
    c->max_bits = (unsigned)max_bits;
    c->pipeline = (unsigned)pipeline;
    c->single_write = (int)single_write;
    if (kind == KIND_RTU) {
        tw__strlcpy(c->host, u->path, sizeof c->host);
        c->baud = (uint32_t)baud;
        if (!stop) stop = parity == 'N' ? 2 : 1; /* 11 bits per character either way */
        /* one character = start + 8 data + parity + stop bits = 11 bits */
        c->char_ns = (int64_t)(11.0 * 1e9 / (double)baud);
        c->t35_ns = baud > 19200 ? 1750000 : (int64_t)(3.5 * 11.0 * 1e9 / (double)baud);
        st = mb_serial_new(&c->t, u->path, (uint32_t)baud, parity, (int)stop);
    } else {
        tw__strlcpy(c->host, u->host, sizeof c->host);
        c->port = u->port ? u->port : (kind == KIND_TLS ? 802 : 502);
        if (o->transport) {
            c->t = o->transport;
            st = TW_OK;
        } else if (kind == KIND_TLS) {
            st = tls_transport(&c->t, u, o, (uint32_t)ctimeout, err, errlen);
        } else {
            /* Modbus TCP is plaintext by definition: the library-internal TCP stream, without the
             * per-connect INSECURE warning of tw_transport_new_tcp_insecure(); said once here. */
            tw_transport_options to = TW_TRANSPORT_OPTIONS_INIT;
            to.connect_timeout_ms = (uint32_t)ctimeout;
            st = tw__transport_new_tcp_inner(&c->t, &to);
            if (st == TW_OK)
                tw__log(TW_LOG_INFO, MOD, "%s:%u: modbus+tcp is unencrypted and unauthenticated (Modbus TCP has "
                        "no security); use modbus+tls:// (Modbus/TCP Security, port 802) where the device "
                        "supports it", c->host, (unsigned)c->port);
        }
    }
    if (st != TW_OK) {
        if (!err[0]) snprintf(err, errlen, "cannot create the transport: %s", tw_strerror(st));
        tw__free(c);
        return st;
    }
    *ctx = c;
    return TW_OK;
}

tw_transport *tw__modbus_transport(const tw_adapter_ops *ops, void *ctx)
{
    if (!ctx || (ops != &k_ops_tcp && ops != &k_ops_tls && ops != &k_ops_rtu)) return NULL;
    return ((mb_client *)ctx)->t;
}

static const tw_adapter_ops k_ops_tcp = {TW_ADAPTER_OPS_VERSION, "modbus+tcp", "Modbus TCP (plaintext, port 502)",
                                         op_parse, op_free_item, op_open, op_close, op_read, op_write, op_stats,
                                         NULL, NULL, NULL};
static const tw_adapter_ops k_ops_tls = {TW_ADAPTER_OPS_VERSION, "modbus+tls",
                                         "Modbus/TCP Security (mutual TLS, port 802)", op_parse, op_free_item, op_open,
                                         op_close, op_read, op_write, op_stats, NULL, NULL, NULL};
static const tw_adapter_ops k_ops_rtu = {TW_ADAPTER_OPS_VERSION, "modbus+rtu", "Modbus RTU over a serial line",
                                         op_parse, op_free_item, op_open, op_close, op_read, op_write, op_stats,
                                         NULL, NULL, NULL};

void tw__modbus_register_builtins(tw__reg_add_fn add)
{
    (void)add(&k_ops_tcp, &k_kind_tcp);
    (void)add(&k_ops_tls, &k_kind_tls);
    (void)add(&k_ops_rtu, &k_kind_rtu);
}
