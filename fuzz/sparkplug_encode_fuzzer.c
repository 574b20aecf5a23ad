/*
 * Differential fuzz target: builds a random metric list from the input, encodes it with the
 * direct encoder and with protobuf-c (the reference), and aborts on any difference in status,
 * length or bytes. Also checks the size query and that the output decodes back.
 *
 * Input layout (consumed front to back, missing bytes read as 0):
 *   8 payload timestamp, 1 seq, then per metric: 1 type, 1 flags, 1 quality selector,
 *   1 alias width, alias bytes, 8 timestamp, 1 name length (0xff = no name), name bytes,
 *   value (8 bytes for scalars; 1 length + bytes for strings and bytes).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdlib.h>
#include <string.h>

#include "sparkplug/sp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static uint8_t u8(rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static uint64_t uN(rd *r, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)u8(r) << (8 * i);
    return v;
}

/* Copies up to len bytes into dst, NUL bytes replaced (protobuf-c strings are C strings). */
static size_t take_str(rd *r, char *dst, size_t len)
{
    size_t k = 0;
    for (; k < len && r->n; k++) {
        uint8_t c = u8(r);
        dst[k] = (char)(c ? c : 'z');
    }
    dst[k] = '\0';
    return k;
}

#define MAX_METRICS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        if (tw_init(NULL) != TW_OK) abort();
        inited = 1;
    }
    static const tw_quality qs[] = {TW_QUALITY_GOOD, TW_QUALITY_BAD, TW_QUALITY_UNCERTAIN,
                                    TW_QUALITY_BAD_COMM_FAILURE, TW_QUALITY_GOOD_LOCAL_OVERRIDE,
                                    TW_QUALITY_UNCERTAIN_LAST_KNOWN, 0xffffffffu, 0x7fffffffu};
    rd r = {data, size};
    tw_sp_metric m[MAX_METRICS];
    static char names[MAX_METRICS][256];
    static char strs[MAX_METRICS][256];
    memset(m, 0, sizeof(m));
    int64_t ts = (int64_t)(uN(&r, 8) & INT64_MAX);
    uint64_t seq = u8(&r);
    size_t n = 0;
    while (r.n && n < MAX_METRICS) {
        tw_sp_metric *x = &m[n];
        uint8_t t = u8(&r);
        x->value.type = (tw_type)(t % 17); /* includes NONE and invalid types */
        x->flags = u8(&r) & 0x7fu;
        x->quality = qs[u8(&r) & 7u];
        unsigned aw = u8(&r) % 9u;
        x->alias = uN(&r, aw);
        x->ts_ms = (int64_t)uN(&r, 8);
        if (!(t & 0x80u)) x->ts_ms &= INT64_MAX; /* sometimes negative: both must refuse */
        uint8_t nl = u8(&r);
        if (nl != 0xffu) {
            take_str(&r, names[n], nl);
            x->name = names[n];
        }
        switch (x->value.type) {
        case TW_TYPE_STRING:
        case TW_TYPE_BYTES: {
            uint8_t l = u8(&r);
            size_t got = take_str(&r, strs[n], l);
            x->value.as.buf.ptr = strs[n];
            x->value.as.buf.len = got;
            if (x->value.type == TW_TYPE_BYTES && (t & 0x40u)) x->value.as.buf.ptr = NULL;
            break;
        }
        case TW_TYPE_BOOL: x->value.as.b = (int)(uN(&r, 8) & 3u); break; /* 2, 3: still true */
        default: x->value.as.u = uN(&r, 8); break;
        }
        n++;
    }

    size_t dlen = 0, rlen = 0, qlen = 0;
    tw_status q = tw_sp_encode_data(NULL, 0, &qlen, ts, seq, m, n);
    tw__sp_ref *ref = NULL;
    tw_status rs = tw__sp_ref_new(&ref, 0, ts, seq, m, n);
    if (rs != TW_OK) {
        /* the reference refuses exactly what the direct encoder refuses */
        if (q != rs) abort();
        return 0;
    }
    if (q != TW_ERR_FULL) abort();
    uint8_t *db = malloc(qlen + 1), *rb = malloc(qlen + 1);
    if (!db || !rb) abort();
    if (tw_sp_encode_data(db, qlen, &dlen, ts, seq, m, n) != TW_OK || dlen != qlen) abort();
    if (tw__sp_ref_pack(ref, rb, qlen + 1, &rlen) != TW_OK) abort();
    if (rlen != dlen || memcmp(db, rb, dlen) != 0) abort();
    tw__sp_ref_free(ref);

    tw_sp_payload *p = NULL;
    if (tw_sp_payload_decode(&p, db, dlen, NULL, 0) != TW_OK) abort();
    if (p->metric_count != n || p->seq != seq || p->timestamp_ms != (uint64_t)ts) abort();
    for (size_t i = 0; i < n; i++) {
        const tw_sp_metric *d = &p->metrics[i].metric;
        if ((d->flags & 0x7u) != (m[i].flags & 0x7u)) abort();
        if (!(m[i].flags & TW_SP_METRIC_NO_ALIAS) && d->alias != m[i].alias) abort();
        if ((m[i].name == NULL) != (d->name == NULL)) abort();
        if (m[i].name && strcmp(m[i].name, d->name)) abort();
    }
    tw_sp_payload_free(p);
    free(db);
    free(rb);
    return 0;
}
