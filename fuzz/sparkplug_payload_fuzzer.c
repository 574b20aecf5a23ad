/* Fuzz target: the Sparkplug B payload decoder on arbitrary bytes (plus rendering, and re-encoding
 * of what was decoded). SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "sparkplug/sp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        if (tw_init(NULL) != TW_OK) abort();
        tw_set_log(NULL, TW_LOG_ERROR, NULL);
        inited = 1;
    }
    tw_sp_payload *p = NULL;
    char why[128];
    tw_status st = tw_sp_payload_decode(&p, data, size, why, sizeof(why));
    if (st != TW_OK) {
        if (p != NULL || st != TW_ERR_SPARKPLUG_DECODE || why[0] == '\0') abort();
        return 0;
    }
    for (int f = TW_SP_FORMAT_TEXT; f <= TW_SP_FORMAT_JSON; f++) {
        char *out = NULL;
        size_t len = 0;
        if (tw_sp_payload_format(&out, &len, p, (tw_sp_format)f) != TW_OK) abort();
        if (strlen(out) != len) abort();
        tw_free(out);
    }
    /* whatever decoded with a usable value re-encodes, and decodes back to the same values */
    size_t n = 0;
    tw_sp_metric *ms = calloc(p->metric_count + 1, sizeof(*ms));
    if (!ms) abort();
    for (size_t i = 0; i < p->metric_count; i++) {
        tw_sp_metric m = p->metrics[i].metric;
        if (m.value.type == TW_TYPE_NONE || (m.flags & TW_SP_METRIC_NULL) || m.ts_ms < 0) continue;
        m.flags &= ~(uint32_t)(TW_SP_METRIC_NO_TIMESTAMP | TW_SP_METRIC_NO_DATATYPE);
        m.name = NULL;
        ms[n++] = m;
    }
    size_t len = 0;
    st = tw_sp_encode_data(NULL, 0, &len, 1, 1, ms, n);
    if (st != TW_ERR_FULL) abort();
    uint8_t *buf = malloc(len);
    if (!buf || tw_sp_encode_data(buf, len, &len, 1, 1, ms, n) != TW_OK) abort();
    tw_sp_payload *q = NULL;
    if (tw_sp_payload_decode(&q, buf, len, why, sizeof(why)) != TW_OK) abort();
    if (q->metric_count != n) abort();
    for (size_t i = 0; i < n; i++) {
        const tw_value *a = &ms[i].value, *b = &q->metrics[i].metric.value;
        if (a->type != b->type || q->metrics[i].metric.alias != ms[i].alias) abort();
        if (a->type == TW_TYPE_STRING || a->type == TW_TYPE_BYTES) {
            if (a->as.buf.len != b->as.buf.len ||
                (a->as.buf.len && memcmp(a->as.buf.ptr, b->as.buf.ptr, a->as.buf.len)))
                abort();
        } else if (a->type == TW_TYPE_FLOAT) {
            if (memcmp(&a->as.f, &b->as.f, sizeof(float))) abort();
        } else if (a->type == TW_TYPE_DOUBLE) {
            if (memcmp(&a->as.d, &b->as.d, sizeof(double))) abort();
        } else if (a->type == TW_TYPE_BOOL) {
            if (!a->as.b != !b->as.b) abort();
        } else if (a->type != TW_TYPE_DATETIME && a->as.u != b->as.u) {
            abort();
        }
    }
    tw_sp_payload_free(q);
    free(buf);
    free(ms);
    tw_sp_payload_free(p);
    return 0;
}
