/*
 * Private helpers of the https module: growable byte buffer and the two body encoders.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_HTTPS_INTERNAL_H
#define TW_HTTPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "tagwire/https.h"

/* A growable buffer; `oom` latches an allocation failure (appends become no-ops). */
typedef struct tw__hbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} tw__hbuf;

bool tw__hbuf_reserve(tw__hbuf *b, size_t extra);
void tw__hbuf_put(tw__hbuf *b, const void *data, size_t n);
void tw__hbuf_free(tw__hbuf *b);

/* One JSON object and "\n" for the entry (see tagwire/https.h for the schema). */
void tw__https_jsonl_entry(tw__hbuf *b, const tw_https_entry *e, uint64_t seq);

/* RFC 3339 UTC with 9 fraction digits ("1970-01-01T00:00:00.000000000Z"); false when the time
 * cannot be represented (then out is ""). out needs 40 bytes. */
bool tw__https_rfc3339(char *out, size_t cap, int64_t ts_ns);

/* Sparkplug B Payload pieces: the payload header (timestamp) and one Metric field per entry.
 * `scratch` is a reusable buffer for the length prefix computation. */
void tw__https_pb_begin(tw__hbuf *b, uint64_t timestamp_ms);
void tw__https_pb_metric(tw__hbuf *b, tw__hbuf *scratch, const tw_https_entry *e, bool historical);

/* Parses a Retry-After value (delta-seconds or HTTP-date) relative to now_s (Unix seconds).
 * Returns false when unparsable; *secs is clamped to 0 for dates in the past. */
bool tw__https_retry_after(const char *v, int64_t now_s, uint32_t *secs);

#endif
