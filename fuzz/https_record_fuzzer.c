/*
 * Fuzz target: the HTTPS uplink's store record entries and what it makes of them.
 * Byte 0 selects: even -> the rest is a store record: every entry is decoded
 * (tw_https_record_next) and framed as a JSON line and as a Sparkplug B metric, as the uplink
 * does; odd -> the rest is a Retry-After header value. Nothing may crash, leak or read out of
 * bounds; decoded lengths must stay inside the input.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "https/https_internal.h"
#include "tagwire/https.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        tw_init(NULL);
        tw_set_log(NULL, TW_LOG_ERROR, NULL);
        inited = 1;
    }
    if (size < 1) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        char tmp[128];
        size_t l = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
        memcpy(tmp, p, l);
        tmp[l] = '\0';
        uint32_t secs;
        (void)tw__https_retry_after(tmp, 1445412470, &secs);
        return 0;
    }
    tw__hbuf json = {0}, pb = {0}, scratch = {0};
    size_t off = 0;
    tw_https_entry e;
    tw__https_pb_begin(&pb, 1);
    while (tw_https_record_next(p, n, &off, &e) == TW_OK) {
        if (off > n || e.name < (const char *)p || e.name + e.name_len > (const char *)p + n) abort();
        tw__https_jsonl_entry(&json, &e, off);
        tw__https_pb_metric(&pb, &scratch, &e, (off & 1) != 0);
        /* re-encoding the decoded entry must give the same bytes back */
        uint8_t re[2048];
        size_t rl = 0;
        char name[TW_HTTPS_NAME_MAX + 1];
        memcpy(name, e.name, e.name_len);
        name[e.name_len] = '\0';
        if (strlen(name) == e.name_len && e.name_len + 20 +
            (e.value.type == TW_TYPE_STRING || e.value.type == TW_TYPE_BYTES ? e.value.as.buf.len : 8) <= sizeof re) {
            if (tw_https_record_encode(re, sizeof re, &rl, name, &e.value, e.quality, e.ts_ns) != TW_OK) abort();
        }
    }
    tw__hbuf_free(&json);
    tw__hbuf_free(&pb);
    tw__hbuf_free(&scratch);
    return 0;
}
