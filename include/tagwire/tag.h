/*
 * tagwire/tag.h - tags and tag sets: the data model every value passes through.
 *
 * A tag is a named, typed value with a quality and a source timestamp, plus metadata (unit,
 * description, engineering range, linear scaling, access, deadband, report-by-exception, a
 * numeric alias). A tag set (tw_tagset) owns its tags; it finds them by name or alias in O(1) and
 * keeps the change set: the tags whose value passed its deadband (or whose quality changed) since
 * the last collection.
 *
 * The value path:
 *
 *     tw_tag_set_double(tag, v, q, ts)   any thread, no lock held across calls, no allocation
 *        -> converted to the tag's type (range-checked)
 *        -> deadband / report-by-exception check, once, against the last value that passed
 *        -> if it passed: becomes the tag's value and the tag joins the change set
 *     tw_tagset_collect(ts, ...)         the thread that drives the tag set (e.g. the node)
 *        -> each changed tag once, with its latest passing value
 *
 * Threading:
 *   - TW_THREADSAFE functions (the setters, tw_tag_get*, metadata accessors, lookups) may be
 *     called from any thread, concurrently with each other and with the driving thread.
 *   - Everything else (tw_tagset_add, tw_tagset_collect, tw_tag_snapshot, tw_tag_write, setting
 *     callbacks, tw_tagset_free) belongs to one "driving" thread at a time: the application's
 *     set-up code and then the thread that drives the node. tw_tagset_add may run while other
 *     threads set values of tags already added, but not concurrently with lookups or iteration.
 *   - Setters never block behind I/O: a value update is a handful of atomic operations on the
 *     tag. Two threads setting the *same* tag at the same instant serialise on a per-tag
 *     spin lock held for a few stores (strings: for one bounded copy).
 *
 * Tag names (tw_tag_name_validate): a hierarchical path of segments separated by '/', e.g.
 * "Line1/Press7/Temperature", the form Sparkplug B uses for metric folders. Rules:
 *   - 1 .. TW_TAG_NAME_MAX-1 bytes of well-formed UTF-8;
 *   - segments are non-empty (no leading, trailing or doubled '/') and at most
 *     TW_TAG_SEGMENT_MAX bytes;
 *   - no control characters (U+0000..U+001F, U+007F..U+009F) and no U+FFFE/U+FFFF;
 *   - a segment neither starts nor ends with a space, and is not "." or "..";
 *   - every other printable character is allowed, including spaces inside a segment and the
 *     MQTT wildcards '+' and '#': Sparkplug 3.0 forbids those only in group/edge-node/device
 *     identifiers (they appear in topics), while metric names travel inside the payload and are
 *     defined only as slash-delimited UTF-8. Names are compared byte for byte (case-sensitive,
 *     no Unicode normalisation).
 * Names Sparkplug itself gives a meaning to ("bdSeq", "Node Control/...", "Device Control/...",
 * "Properties/...") are valid tag names; whether an application may publish under them is for
 * the Sparkplug module to decide.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_TAG_H
#define TAGWIRE_TAG_H

#include "types.h"

TW_BEGIN_DECLS

typedef struct tw_tagset tw_tagset;
typedef struct tw_tag tw_tag;

/* ---- Names -------------------------------------------------------------------------------------- */

#define TW_TAG_NAME_MAX 1024   /* bytes including the terminating NUL */
#define TW_TAG_SEGMENT_MAX 255 /* bytes per '/'-separated segment */

/*
 * Checks `name` (NUL-terminated) against the rules in the header comment. Returns TW_OK, or
 * TW_ERR_INVALID_ARG (name is NULL) / TW_ERR_PARSE (rule broken); on failure, when err is not
 * NULL and err_size > 0, writes a NUL-terminated English reason naming the byte offset
 * (truncated to err_size); a broken rule is also recorded for tw_last_error() ("tag: invalid tag
 * name: ..."). TW_THREADSAFE, never allocates.
 */
TW_API TW_THREADSAFE tw_status tw_tag_name_validate(const char *name, char *err, size_t err_size);

/* ---- Tag options -------------------------------------------------------------------------------- */

/* Who may write the tag from the cloud. Setting values locally (tw_tag_set_*) is always allowed. */
typedef enum tw_access {
    TW_ACCESS_DEFAULT = 0,    /* = TW_ACCESS_READ */
    TW_ACCESS_READ = 1,       /* published; cloud writes refused with TW_ERR_PERMISSION */
    TW_ACCESS_WRITE = 2,      /* write-only (e.g. a command): cloud writes go to the callback */
    TW_ACCESS_READ_WRITE = 3
} tw_access;

typedef enum tw_deadband_mode {
    TW_DEADBAND_ABSOLUTE = 0, /* deadband in engineering units */
    TW_DEADBAND_PERCENT = 1   /* deadband in percent of (max - min); needs a range */
} tw_deadband_mode;

#define TW_TAG_OPTIONS_VERSION 1
#define TW_TAG_DEFAULT_MAX_LEN 256 /* default capacity of STRING and BYTES tags, in bytes */

/*
 * Options of a tag. Every field's zero value is the default, so designated initialisers work:
 *   &(tw_tag_options){ TW_TAG_OPTIONS_VERSION, .unit = "degC", .deadband = 0.2 }
 * The strings are copied by tw_tagset_add().
 */
typedef struct tw_tag_options {
    uint32_t version;          /* TW_TAG_OPTIONS_VERSION */
    const char *description;   /* free text, NULL = none */
    const char *unit;          /* engineering unit, e.g. "degC", NULL = none */
    double min, max;           /* engineering range; both 0 = none, else min < max */
    double scale, offset;      /* raw -> engineering: eng = raw * scale + offset; scale 0 = 1 */
    tw_access access;          /* 0 = read-only */
    tw_deadband_mode deadband_mode;
    double deadband;           /* >= 0; 0 = any change is reported. Numeric tags only. */
    int report_every_sample;   /* 0 = report by exception (default); non-zero = every set is
                                  reported, deadband and equality are ignored */
    uint64_t alias;            /* 0 = assign automatically; unique within the tag set */
    size_t max_len;            /* STRING/BYTES capacity in bytes; 0 = TW_TAG_DEFAULT_MAX_LEN.
                                  Sparkplug publishing bounds it: see tw_edge_max_value_len()
                                  (tagwire/edge.h; 65216 bytes by default) */
    void *user_data;           /* returned by tw_tag_user_data() */
} tw_tag_options;

#define TW_TAG_OPTIONS_INIT \
    { TW_TAG_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, TW_ACCESS_DEFAULT, TW_DEADBAND_ABSOLUTE, 0, 0, 0, 0, NULL }

/* ---- Tag sets ----------------------------------------------------------------------------------- */

/*
 * Creates an empty tag set. Free with tw_tagset_free(). Each tag set owns a wake-up descriptor
 * (see tw_tagset_fd()).
 * Errors: TW_ERR_INVALID_ARG (out NULL), TW_ERR_NOT_INITIALIZED, TW_ERR_NOMEM, TW_ERR_IO (the
 * descriptor could not be created). Error detail: tw_last_error() on the calling thread.
 */
TW_API tw_status tw_tagset_new(tw_tagset **out);

/* Frees the tag set and every tag in it (tag pointers become invalid). No other thread may use
 * the set or its tags any more. NULL is ignored. */
TW_API void tw_tagset_free(tw_tagset *ts);

/* The last error recorded by a non-thread-safe call on ts (tw_tagset_add, tw_tag_write, ...),
 * as an English sentence; "" when none. Valid until the next such call. Driving thread only. */
TW_API const char *tw_tagset_last_error(const tw_tagset *ts);
/* The status that went with tw_tagset_last_error() (TW_OK when none; TW_ERR_INVALID_ARG for
 * NULL). Driving thread only. */
TW_API tw_status tw_tagset_last_status(const tw_tagset *ts);

/*
 * Adds a tag named `name` of type `type` (a scalar type; arrays are reserved). opts may be NULL
 * (defaults). On success *out (may be NULL when not wanted) is the new tag, owned by the set and
 * valid until tw_tagset_free(). The tag starts with quality TW_QUALITY_BAD_WAITING_FOR_INITIAL,
 * timestamp 0 and a zero/empty value, and is not in the change set until first set.
 * Driving thread; may run while other threads set existing tags.
 * Errors: TW_ERR_INVALID_ARG (NULL ts/name, bad type, negative deadband, min >= max, percent
 * deadband without range, deadband on a non-numeric tag, non-finite option values, scaling on a
 * non-numeric tag), TW_ERR_PARSE (name breaks the naming rules), TW_ERR_EXISTS (name or alias
 * taken), TW_ERR_VERSION (opts->version), TW_ERR_NOMEM. tw_tagset_last_error() says which.
 */
TW_API tw_status tw_tagset_add(tw_tagset *ts, tw_tag **out, const char *name, tw_type type,
                               const tw_tag_options *opts);

/* The tag with that exact name, or NULL. O(1). TW_THREADSAFE except against tw_tagset_add(). */
TW_API TW_THREADSAFE tw_tag *tw_tagset_find(const tw_tagset *ts, const char *name);
/* The tag with that alias, or NULL. O(1). TW_THREADSAFE except against tw_tagset_add(). */
TW_API TW_THREADSAFE tw_tag *tw_tagset_find_alias(const tw_tagset *ts, uint64_t alias);
/* Number of tags; tags are numbered 0..count-1 in the order they were added. */
TW_API TW_THREADSAFE size_t tw_tagset_count(const tw_tagset *ts);
/* The index-th tag in order of addition, or NULL when index >= count. */
TW_API TW_THREADSAFE tw_tag *tw_tagset_at(const tw_tagset *ts, size_t index);

/* ---- Setting values ----------------------------------------------------------------------------- */

/*
 * Setters. Each converts the value to the tag's type with tw_value_convert()'s rules, then checks
 * report-by-exception and the deadband once, against the last value that passed:
 *   - a numeric value passes when |new - last| > deadband (so deadband 0 = any change);
 *     bool, string, bytes and datetime values pass when they differ;
 *   - a different quality always passes; so does the first value ever set;
 *   - with report_every_sample, every call passes.
 * A value that passes becomes the tag's value (tw_tag_get) and puts the tag in the change set; a
 * value that does not pass is dropped (TW_OK is still returned: it was handled). ts_ns is the
 * source timestamp in ns since the Unix epoch; 0 = now (read only when the value passes).
 *
 * TW_THREADSAFE. Never allocates. Never blocks behind I/O: fixed-size types take a few atomic
 * operations; STRING and BYTES copy at most the tag's max_len bytes into the tag's own buffer.
 * When the change set goes from empty to non-empty, the setter signals the tag set's descriptor
 * (one non-blocking write) and calls its notify callback, on the setter's thread.
 *
 * Errors: TW_ERR_INVALID_ARG (NULL tag, NULL string with non-zero length),
 * TW_ERR_TYPE_MISMATCH (e.g. a string into a numeric tag), TW_ERR_RANGE (value does not fit the
 * tag's type; string/bytes longer than max_len), TW_ERR_PARSE (set_string with invalid UTF-8).
 * On error the tag is unchanged. No error detail is recorded (the code says it all).
 */
TW_API TW_THREADSAFE tw_status tw_tag_set_bool(tw_tag *tag, int value, tw_quality q, int64_t ts_ns);
TW_API TW_THREADSAFE tw_status tw_tag_set_int64(tw_tag *tag, int64_t value, tw_quality q, int64_t ts_ns);
TW_API TW_THREADSAFE tw_status tw_tag_set_uint64(tw_tag *tag, uint64_t value, tw_quality q, int64_t ts_ns);
TW_API TW_THREADSAFE tw_status tw_tag_set_float(tw_tag *tag, float value, tw_quality q, int64_t ts_ns);
TW_API TW_THREADSAFE tw_status tw_tag_set_double(tw_tag *tag, double value, tw_quality q, int64_t ts_ns);
/* value: NUL-terminated UTF-8. */
TW_API TW_THREADSAFE tw_status tw_tag_set_string(tw_tag *tag, const char *value, tw_quality q, int64_t ts_ns);
/* STRING (must be UTF-8) or BYTES tags; data may be NULL when len is 0. Copied. */
TW_API TW_THREADSAFE tw_status tw_tag_set_bytes(tw_tag *tag, const void *data, size_t len, tw_quality q, int64_t ts_ns);
/* DATETIME tags (or integer tags): value in ns since the Unix epoch. */
TW_API TW_THREADSAFE tw_status tw_tag_set_datetime(tw_tag *tag, int64_t value_ns, tw_quality q, int64_t ts_ns);
/* Any of the above through a tw_value (its buffer, if any, is copied). */
TW_API TW_THREADSAFE tw_status tw_tag_set_value(tw_tag *tag, const tw_value *value, tw_quality q, int64_t ts_ns);
/* Only the quality changes (e.g. to TW_QUALITY_BAD_COMM_FAILURE when a device is lost): the last
 * value is kept; reported when the quality differs. The tag must have been set once before,
 * otherwise the value reported is the zero value. */
TW_API TW_THREADSAFE tw_status tw_tag_set_quality(tw_tag *tag, tw_quality q, int64_t ts_ns);

/*
 * Raw setters for adapters: the raw device value is converted to engineering units first,
 * eng = raw * scale + offset (in double precision), then set as by tw_tag_set_double(). When the
 * tag has no scaling (scale 1, offset 0), tw_tag_set_raw_int64 keeps full 64-bit precision.
 * TW_THREADSAFE, same errors as the setters.
 */
TW_API TW_THREADSAFE tw_status tw_tag_set_raw_double(tw_tag *tag, double raw, tw_quality q, int64_t ts_ns);
TW_API TW_THREADSAFE tw_status tw_tag_set_raw_int64(tw_tag *tag, int64_t raw, tw_quality q, int64_t ts_ns);

/* The inverse scaling, for writing to a device: raw = (eng - offset) / scale. Pure. */
TW_API TW_THREADSAFE double tw_tag_eng_to_raw(const tw_tag *tag, double eng);
/* eng = raw * scale + offset. Pure. */
TW_API TW_THREADSAFE double tw_tag_raw_to_eng(const tw_tag *tag, double raw);

/* ---- Reading values ----------------------------------------------------------------------------- */

/*
 * The tag's current value (the last one that passed), quality and source timestamp. Any output
 * pointer may be NULL. For STRING and BYTES, out->as.buf.ptr is a fresh NUL-terminated copy owned
 * by the caller: release it with tw_value_clear(out) (this allocates; tw_tag_get_buf does not).
 * TW_THREADSAFE. Errors: TW_ERR_INVALID_ARG, TW_ERR_NOMEM.
 */
TW_API TW_THREADSAFE tw_status tw_tag_get(const tw_tag *tag, tw_value *out, tw_quality *q, int64_t *ts_ns);

/*
 * STRING/BYTES without allocation: copies the value into buf (capacity cap) and NUL-terminates it
 * when there is room; *len (required) receives the value's length. Fails with TW_ERR_RANGE, and
 * copies nothing, when cap < length (then *len says how much is needed). For other types it
 * fails with TW_ERR_TYPE_MISMATCH. TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_tag_get_buf(const tw_tag *tag, void *buf, size_t cap, size_t *len,
                                              tw_quality *q, int64_t *ts_ns);

/* Convenience: the value converted to double (numeric and bool tags). TW_THREADSAFE.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_TYPE_MISMATCH. */
TW_API TW_THREADSAFE tw_status tw_tag_get_double(const tw_tag *tag, double *out, tw_quality *q, int64_t *ts_ns);

/* ---- Change sets -------------------------------------------------------------------------------- */

/* One entry of a change set. */
typedef struct tw_tag_change {
    tw_tag *tag;
    tw_value value;       /* the tag's type; STRING/BYTES point into memory of the tag set */
    tw_quality quality;
    uint32_t coalesced;   /* passing updates replaced by this one since the last collection */
    int64_t ts_ns;        /* source timestamp */
} tw_tag_change;

/*
 * Fills out[0..cap-1] with the tags that changed since they were last collected, each once, with
 * the latest value that passed its deadband, in the order they first changed (approximately,
 * across threads). *n receives the number of entries written; *more (may be NULL) is set non-zero
 * when changes remain (call again before sleeping: the descriptor is not re-signalled for them).
 * A tag changed again after being collected appears in a later collection.
 * Buffers of STRING/BYTES values are owned by the tag set and stay valid until the next
 * tw_tagset_collect() or tw_tag_snapshot() on the same set, or tw_tagset_free(). No allocation.
 * Driving thread. Errors: TW_ERR_INVALID_ARG (ts or n NULL, out NULL with cap > 0).
 */
TW_API tw_status tw_tagset_collect(tw_tagset *ts, tw_tag_change *out, size_t cap, size_t *n,
                                   int *more);

/* The tag's current value as a change entry (for births: every tag's value), without touching
 * the change set. String lifetime as tw_tagset_collect(). Driving thread.
 * Errors: TW_ERR_INVALID_ARG. */
TW_API tw_status tw_tag_snapshot(tw_tag *tag, tw_tag_change *out);

/* Number of tags currently waiting to be collected (approximate while setters run). */
TW_API TW_THREADSAFE size_t tw_tagset_pending(const tw_tagset *ts);

/*
 * A descriptor that becomes readable when the change set goes from empty to non-empty (poll for
 * POLLIN; an eventfd on Linux). tw_tagset_collect() drains it. Owned by the set: do not close or
 * read it. TW_THREADSAFE. Returns -1 for ts NULL.
 */
TW_API TW_THREADSAFE int tw_tagset_fd(const tw_tagset *ts);

typedef void (*tw_tagset_notify_fn)(tw_tagset *ts, void *user_data);
/*
 * Alternative to the descriptor: fn(ts, user_data) is called when the change set goes from empty
 * to non-empty, on the thread of the setter that caused it, possibly on several threads at once.
 * It must be quick and must not call tw_tagset_collect(). fn NULL removes it. Set it before other
 * threads set values. Driving thread.
 */
TW_API void tw_tagset_set_notify(tw_tagset *ts, tw_tagset_notify_fn fn, void *user_data);

/* ---- Writes from the cloud ---------------------------------------------------------------------- */

/*
 * A write request for `tag` (an NCMD/DCMD metric, an HTTPS command, ...). `value` already has
 * the tag's type and lies within its range; it is valid only during the call. Return TW_OK when
 * the write was carried out or accepted; any error is reported back to the requester.
 * Runs on the thread that drives the node (the one calling tw_node_step(), or the node's own
 * thread), i.e. the thread calling tw_tag_write(). It may call tw_tag_set_* (for example to
 * publish the new value at once) and the metadata accessors; it must not add tags or collect.
 * The tag's value is not changed by the request itself.
 */
typedef tw_status (*tw_tag_write_fn)(tw_tag *tag, const tw_value *value, void *user_data);

/* Sets the write callback of one tag (overrides the set's). fn NULL removes it. Driving thread. */
TW_API void tw_tag_set_write_cb(tw_tag *tag, tw_tag_write_fn fn, void *user_data);
/* Sets the default write callback for every tag of the set without its own. Driving thread. */
TW_API void tw_tagset_set_write_cb(tw_tagset *ts, tw_tag_write_fn fn, void *user_data);

/*
 * Delivers a write request the way the runtime does: checks that the tag is writable, converts
 * `value` to the tag's type (tw_value_convert), checks the engineering range when one is set,
 * then calls the tag's (or the set's) write callback and returns its status.
 * Driving thread. Errors: TW_ERR_INVALID_ARG, TW_ERR_PERMISSION (read-only tag),
 * TW_ERR_TYPE_MISMATCH / TW_ERR_RANGE / TW_ERR_PARSE (conversion, range or max_len),
 * TW_ERR_UNSUPPORTED (no callback), or the callback's status. tw_tagset_last_error() says why.
 */
TW_API tw_status tw_tag_write(tw_tag *tag, const tw_value *value);

/* ---- Metadata (TW_THREADSAFE; fixed once the tag is added) -------------------------------------- */

TW_API TW_THREADSAFE const char *tw_tag_name(const tw_tag *tag);        /* never NULL for a tag */
TW_API TW_THREADSAFE uint64_t tw_tag_alias(const tw_tag *tag);
TW_API TW_THREADSAFE tw_type tw_tag_type(const tw_tag *tag);
TW_API TW_THREADSAFE const char *tw_tag_unit(const tw_tag *tag);        /* "" when none */
TW_API TW_THREADSAFE const char *tw_tag_description(const tw_tag *tag); /* "" when none */
TW_API TW_THREADSAFE tw_access tw_tag_access(const tw_tag *tag);        /* never DEFAULT */
/* Non-zero when a range is set; then *min and *max (may be NULL) receive it. */
TW_API TW_THREADSAFE int tw_tag_range(const tw_tag *tag, double *min, double *max);
/* Scale and offset (1 and 0 when there is no scaling). */
TW_API TW_THREADSAFE void tw_tag_scaling(const tw_tag *tag, double *scale, double *offset);
/* The deadband as configured (mode and value) and, in *absolute, in engineering units. */
TW_API TW_THREADSAFE void tw_tag_deadband(const tw_tag *tag, tw_deadband_mode *mode, double *value,
                                          double *absolute);
/* Non-zero when the tag reports by exception (the default). */
TW_API TW_THREADSAFE int tw_tag_rbe(const tw_tag *tag);
/* Capacity of a STRING/BYTES tag in bytes; 0 for other types. */
TW_API TW_THREADSAFE size_t tw_tag_max_len(const tw_tag *tag);
TW_API TW_THREADSAFE void *tw_tag_user_data(const tw_tag *tag);
TW_API TW_THREADSAFE tw_tagset *tw_tag_tagset(const tw_tag *tag);
/* "read", "write", "read-write". Static. */
TW_API TW_THREADSAFE const char *tw_access_name(tw_access access);

TW_END_DECLS

#endif /* TAGWIRE_TAG_H */
