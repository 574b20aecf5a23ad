/*
 * Private interface of the sparkplug module (never installed). Reachable from unit tests, fuzz
 * targets and benchmarks, which link the static library.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_SP_INTERNAL_H
#define TW_SP_INTERNAL_H

#include "internal.h"
#include "tagwire/sparkplug.h"

/* Sparkplug quality codes (spec "Quality Codes"). */
#define TW__SP_QUALITY_BAD 0
#define TW__SP_QUALITY_GOOD 192
#define TW__SP_QUALITY_STALE 500

/* tw_quality <-> Sparkplug quality (the mapping documented in tagwire/types.h). Private copies
 * until the tag module's tw_quality_to_sparkplug()/tw_quality_from_sparkplug() land. */

/* The 64-bit integer carried on the wire for an integer-like value (two's complement for signed
 * types, truncated to 32 bits for the int_value types; DATETIME ns -> ms, floor). */
uint64_t tw__sp_wire_int(const tw_value *v);

/* ---- protobuf-c reference packer (differential tests, fuzzing, benchmark) ----
 * Builds the protobuf-c message for the same input as tw_sp_encode_data() (birth == 0) or
 * tw_sp_encode_birth() (birth != 0). The message and everything it points to live in one
 * allocation (plus borrowed strings from `metrics`, which must outlive it). */
typedef struct tw__sp_ref tw__sp_ref;
tw_status tw__sp_ref_new(tw__sp_ref **out, int birth, int64_t timestamp_ms, uint64_t seq,
                         const tw_sp_metric *metrics, size_t count);
/* protobuf-c get_packed_size + pack into buf (TW_ERR_FULL, with *out_len = size, when short). */
tw_status tw__sp_ref_pack(const tw__sp_ref *ref, uint8_t *buf, size_t cap, size_t *out_len);
void tw__sp_ref_free(tw__sp_ref *ref);

/* ---- wire pre-check: structure, lengths, nesting depth (used before protobuf-c unpack) ---- */
#define TW__SP_MAX_DEPTH 32
tw_status tw__sp_wire_check(const uint8_t *data, size_t len, char *why, size_t why_size);

/* ---- edge-node helpers (transport-free parts of the session) ---- */

/* Message sequence number: returns the value to send and advances *counter (0..255, wraps). */
static inline uint64_t tw__sp_seq_next(uint8_t *counter)
{
    uint8_t v = *counter;
    *counter = (uint8_t)(v + 1u);
    return v;
}
/* Next birth/death sequence number after `prev` (0..255, wraps). */
static inline uint8_t tw__sp_bdseq_next(uint8_t prev) { return (uint8_t)(prev + 1u); }

#define TW__SP_METRIC_BDSEQ "bdSeq"
#define TW__SP_METRIC_REBIRTH "Node Control/Rebirth"

/*
 * NBIRTH payload: seq 0; metrics "bdSeq" (Int64) and "Node Control/Rebirth" (Boolean false) with
 * aliases alias_base and alias_base + 1, followed by the caller's metrics. Buffer contract as
 * tw_sp_encode_birth(). Allocates temporarily.
 */
tw_status tw__sp_encode_nbirth(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                               uint8_t bdseq, uint64_t alias_base, const tw_sp_metric *metrics,
                               size_t count);
/* NDEATH payload (the MQTT will): timestamp and the bdSeq metric (Int64), no seq. */
tw_status tw__sp_encode_ndeath(uint8_t *buf, size_t cap, size_t *out_len, int64_t timestamp_ms,
                               uint8_t bdseq);

#endif /* TW_SP_INTERNAL_H */
