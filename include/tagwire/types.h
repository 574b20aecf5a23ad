/*
 * tagwire/types.h - value types, quality codes and the tw_value carrier of the tag data model.
 *
 * These are the shared vocabulary of every module (tags, adapters, Sparkplug, store). The tag
 * objects themselves are in tagwire/tag.h.
 *
 * Threading: plain data; the functions here are pure and TW_THREADSAFE.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_TYPES_H
#define TAGWIRE_TYPES_H

#include "core.h"

TW_BEGIN_DECLS

/* Value types. Numbers are part of the ABI (and of stored data): never renumbered. */
typedef enum tw_type {
    TW_TYPE_NONE = 0, /* no value yet */
    TW_TYPE_BOOL = 1,
    TW_TYPE_INT8 = 2,
    TW_TYPE_INT16 = 3,
    TW_TYPE_INT32 = 4,
    TW_TYPE_INT64 = 5,
    TW_TYPE_UINT8 = 6,
    TW_TYPE_UINT16 = 7,
    TW_TYPE_UINT32 = 8,
    TW_TYPE_UINT64 = 9,
    TW_TYPE_FLOAT = 10,
    TW_TYPE_DOUBLE = 11,
    TW_TYPE_STRING = 12,   /* UTF-8, length-delimited (may hold NUL bytes only through tw_value) */
    TW_TYPE_BYTES = 13,    /* opaque octets */
    TW_TYPE_DATETIME = 14, /* ns since the Unix epoch, UTC */
    TW_TYPE_MAX_ = 15      /* not a type: one past the last */
    /* Arrays: reserved as TW_TYPE_ARRAY_FLAG | element type, not yet supported. */
} tw_type;
#define TW_TYPE_ARRAY_FLAG 0x100

/* "bool", "int8", ..., "datetime"; NULL for an unknown type. */
TW_API TW_THREADSAFE const char *tw_type_name(tw_type type);
/* Parses a name as printed by tw_type_name() (case-insensitive; also "float32", "float64",
 * "real", "int", "uint" aliases). Returns TW_TYPE_NONE when unknown. */
TW_API TW_THREADSAFE tw_type tw_type_from_name(const char *name);

/*
 * Quality: a 32-bit code whose values are OPC UA StatusCodes, so that OPC UA maps 1:1.
 * The top two bits give the severity: 00 good, 01 uncertain, 10 bad.
 *
 * Mapping to Sparkplug B's "Quality" metric property (int32): good -> 192, bad -> 0,
 * uncertain -> 500 (Sparkplug's "stale"). Mapping back: 192 -> TW_QUALITY_GOOD, 0 -> TW_QUALITY_BAD,
 * 500 -> TW_QUALITY_UNCERTAIN_LAST_KNOWN, anything else -> TW_QUALITY_UNCERTAIN.
 */
typedef uint32_t tw_quality;
#define TW_QUALITY_GOOD                  0x00000000u /* Good */
#define TW_QUALITY_GOOD_LOCAL_OVERRIDE   0x00960000u /* GoodLocalOverride */
#define TW_QUALITY_UNCERTAIN             0x40000000u /* Uncertain */
#define TW_QUALITY_UNCERTAIN_LAST_KNOWN  0x40900000u /* UncertainLastUsableValue */
#define TW_QUALITY_UNCERTAIN_SUBSTITUTE  0x40910000u /* UncertainSubstituteValue */
#define TW_QUALITY_UNCERTAIN_INITIAL     0x40920000u /* UncertainInitialValue */
#define TW_QUALITY_UNCERTAIN_SENSOR      0x40930000u /* UncertainSensorNotAccurate */
#define TW_QUALITY_BAD                   0x80000000u /* Bad */
#define TW_QUALITY_BAD_COMM_FAILURE      0x80050000u /* BadCommunicationError */
#define TW_QUALITY_BAD_TIMEOUT           0x800A0000u /* BadTimeout */
#define TW_QUALITY_BAD_WAITING_FOR_INITIAL 0x80320000u /* BadWaitingForInitialData */
#define TW_QUALITY_BAD_OUT_OF_RANGE      0x803C0000u /* BadOutOfRange */
#define TW_QUALITY_BAD_TYPE_MISMATCH     0x80740000u /* BadTypeMismatch */
#define TW_QUALITY_BAD_CONFIG            0x80890000u /* BadConfigurationError */
#define TW_QUALITY_BAD_NOT_CONNECTED     0x808A0000u /* BadNotConnected */
#define TW_QUALITY_BAD_DEVICE_FAILURE    0x808B0000u /* BadDeviceFailure */
#define TW_QUALITY_BAD_SENSOR_FAILURE    0x808C0000u /* BadSensorFailure */
#define TW_QUALITY_BAD_OUT_OF_SERVICE    0x808D0000u /* BadOutOfService */

#define TW_QUALITY_IS_GOOD(q) ((((uint32_t)(q)) >> 30) == 0u)
#define TW_QUALITY_IS_UNCERTAIN(q) ((((uint32_t)(q)) >> 30) == 1u)
#define TW_QUALITY_IS_BAD(q) ((((uint32_t)(q)) >> 30) >= 2u)

/* A readable name: "good", "bad-comm-failure", ...; for codes without a name, "good", "uncertain"
 * or "bad" by severity. Static. */
TW_API TW_THREADSAFE const char *tw_quality_name(tw_quality q);
/* The Sparkplug B quality property value (192, 500 or 0) for q, and the reverse mapping. */
TW_API TW_THREADSAFE int32_t tw_quality_to_sparkplug(tw_quality q);
TW_API TW_THREADSAFE tw_quality tw_quality_from_sparkplug(int32_t sparkplug_quality);

/*
 * A typed value. For TW_TYPE_STRING and TW_TYPE_BYTES the value points at memory it does not own:
 * who owns it is said by the function that fills the tw_value in.
 */
typedef struct tw_value {
    tw_type type;
    union {
        int b;        /* TW_TYPE_BOOL: 0 or 1 */
        int64_t i;    /* TW_TYPE_INT8..INT64 (sign-extended) and TW_TYPE_DATETIME (ns) */
        uint64_t u;   /* TW_TYPE_UINT8..UINT64 */
        float f;      /* TW_TYPE_FLOAT */
        double d;     /* TW_TYPE_DOUBLE */
        struct {
            const void *ptr;
            size_t len;
        } buf;        /* TW_TYPE_STRING (UTF-8, not necessarily NUL-terminated), TW_TYPE_BYTES */
    } as;
} tw_value;

/* ---- Value helpers ------------------------------------------------------------------------------ */

/* Non-zero for the integer, floating-point types (INT8..UINT64, FLOAT, DOUBLE). */
TW_API TW_THREADSAFE int tw_type_is_numeric(tw_type type);

/*
 * Converts `in` to type `to` and writes the result to `out` (out may equal in).
 * Rules (the same ones the tag setters apply):
 *   - numeric -> numeric: exact when the value fits; floating -> integer rounds to nearest (ties
 *     away from zero); integer -> floating may round; a value outside the target's range, or a NaN
 *     or infinity going to an integer type, fails with TW_ERR_RANGE. double -> float keeps NaN and
 *     infinities and fails with TW_ERR_RANGE when a finite value exceeds the float range.
 *   - bool <-> numeric: false/true are 0/1; a number converts to bool only when it is 0 or 1.
 *   - datetime <-> integer types: the integer is ns since the Unix epoch.
 *   - string -> bytes: the same octets; bytes -> string only when they are valid UTF-8.
 *     The buffer is not copied: out points at the same memory as in.
 *   - anything else (string <-> number, NONE, arrays): TW_ERR_TYPE_MISMATCH.
 * Errors: TW_ERR_INVALID_ARG (NULL pointers, unknown type), TW_ERR_TYPE_MISMATCH, TW_ERR_RANGE,
 * TW_ERR_PARSE (bytes that are not UTF-8). On error *out is unchanged.
 */
TW_API TW_THREADSAFE tw_status tw_value_convert(tw_value *out, const tw_value *in, tw_type to);

/* Non-zero when a and b have the same type and the same value. Floating-point values compare
 * by value, except that NaN equals NaN (so that "unchanged" is well defined); strings and bytes
 * compare by content. */
TW_API TW_THREADSAFE int tw_value_equal(const tw_value *a, const tw_value *b);

/* Non-zero when the len bytes at s are well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). NUL bytes are accepted. */
TW_API TW_THREADSAFE int tw_utf8_valid(const void *s, size_t len);

/*
 * Releases the buffer of a STRING or BYTES value that a tagwire function documented as
 * "caller-owned" (e.g. tw_tag_get()), and sets v->type to TW_TYPE_NONE. Must not be called on a
 * value whose buffer the caller does not own. Fixed-size values: only resets the type.
 */
TW_API TW_THREADSAFE void tw_value_clear(tw_value *v);

TW_END_DECLS

#endif /* TAGWIRE_TYPES_H */
