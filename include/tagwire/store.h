/*
 * tagwire/store.h - store-and-forward log: append, replay, acknowledge, recover; durable state.
 *
 * A tw_store holds encoded records (opaque byte strings, e.g. one Sparkplug payload or one batch of
 * JSON lines) between the moment they are produced and the moment the far side has them. Two back
 * ends share one API:
 *
 *   - memory: a bounded ring in RAM. Nothing survives the process.
 *   - disk:   a directory of append-only segment files. Every record is length-prefixed, carries a
 *             CRC32C and a 64-bit sequence number, and is recovered at open after a crash: a torn
 *             tail is truncated (and reported), a corrupt region in the middle is skipped (and
 *             reported) without losing the valid records after it.
 *
 * Life of a record
 * ----------------
 *   1. tw_store_append() gives it the next sequence number (1, 2, 3, ... never reused, also across
 *      restarts) and writes it. Whether it is *accepted* (durable) follows the sync policy:
 *        TW_STORE_SYNC_EVERY_RECORD  append returns only after fsync(): TW_OK means durable.
 *        TW_STORE_SYNC_BATCH         group commit: fsync() once per `sync_records` records or once
 *                                    `sync_interval_ms` have passed since the oldest unsynced one
 *                                    (checked in append and in tw_store_poll()). TW_OK means
 *                                    written; durable once tw_store_durable_seq() >= its seq.
 *        TW_STORE_SYNC_OS            never fsync() (the OS writes back). A record counts as durable
 *                                    as soon as write() returned: it survives a crash of the
 *                                    process, not of the machine.
 *      tw_store_sync() forces durability of everything appended so far, under every policy.
 *      Memory back end: a record is "durable" when append returns (it lives as long as the process).
 *   2. The uplink reads records oldest first with tw_store_read() through a read cursor. Reading does
 *      not remove anything.
 *   3. When the far side has acknowledged everything up to a sequence number (the watermark), the
 *      uplink calls tw_store_ack(seq): those records are trimmed. The watermark is itself durable
 *      (a checkpoint file written atomically), so a restart does not replay acknowledged records.
 *   4. After a reconnect, tw_store_rewind() moves the read cursor back to the first unacknowledged
 *      record; everything read but not acknowledged is read again (duplicates are possible only in
 *      that window, never losses).
 *
 * Bounds: `max_bytes` (record bytes including their 24-byte headers) and `max_age_ms` (records
 * older than that, by the wall-clock time of their append, are dropped in append and in
 * tw_store_poll()). When an append would exceed max_bytes, the overflow policy applies: drop the
 * oldest records (unacknowledged ones too: data is lost and counted) or refuse the new record with
 * TW_ERR_FULL. On a full disk (ENOSPC, EDQUOT, or EFBIG from a file size limit) the partial write
 * is cut off again and the same policy applies: drop oldest deletes the oldest whole segment files
 * (only deleting files frees space) and retries; when only the segment being written is left, or
 * under refuse new, append returns TW_ERR_NO_SPACE. Every record that leaves the store without
 * acknowledgement is counted, by reason, in tw_store_stats. The disk back end may use up to one
 * segment file more than max_bytes on disk (partly trimmed segments are deleted when they empty).
 *
 * Directory layout (disk): `lock` (flock: one process at a time), `seg-<first seq>.twl` segment
 * files, `checkpoint` (watermarks and drop counters), `state/<key>` (tw_store_state_*).
 *
 * Threading: a tw_store is used by one thread at a time (the node's thread); nothing here is
 * TW_THREADSAFE. Two processes cannot open one directory: the second gets TW_ERR_STORE_LOCKED.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_STORE_H
#define TAGWIRE_STORE_H

#include "core.h"

TW_BEGIN_DECLS

typedef struct tw_store tw_store;

typedef enum tw_store_backend {
    TW_STORE_MEMORY = 0, /* bounded ring in RAM */
    TW_STORE_DISK = 1    /* segment files in options.dir */
} tw_store_backend;

typedef enum tw_store_sync_policy {
    TW_STORE_SYNC_EVERY_RECORD = 0, /* fsync before append returns */
    TW_STORE_SYNC_BATCH = 1,        /* group commit: every sync_records records or sync_interval_ms */
    TW_STORE_SYNC_OS = 2            /* no fsync; durable = handed to the OS */
} tw_store_sync_policy;

typedef enum tw_store_overflow {
    TW_STORE_DROP_OLDEST = 0, /* make room by dropping the oldest records (counted) */
    TW_STORE_REFUSE_NEW = 1   /* refuse the new record with TW_ERR_FULL / TW_ERR_NO_SPACE */
} tw_store_overflow;

#define TW_STORE_OPTIONS_VERSION 1
typedef struct tw_store_options {
    uint32_t version;             /* TW_STORE_OPTIONS_VERSION */
    tw_store_backend backend;     /* TW_STORE_MEMORY or TW_STORE_DISK */
    const char *dir;              /* disk: the store directory (created if missing, parent must exist) */
    uint64_t max_bytes;           /* bound of stored record bytes incl. headers; 0 = 64 MiB */
    uint64_t max_age_ms;          /* drop records older than this; 0 = no age bound */
    tw_store_overflow overflow;   /* what a full store does */
    tw_store_sync_policy sync;    /* disk: when records become durable */
    uint32_t sync_interval_ms;    /* BATCH: longest time a record stays unsynced; 0 = 100 */
    uint32_t sync_records;        /* BATCH: records per group commit; 0 = 256 */
    uint64_t segment_bytes;       /* disk: rotate segments at this size; 0 = 16 MiB (min 4096) */
    uint32_t max_record_bytes;    /* largest record payload accepted; 0 = 1 MiB */
    int read_only;                /* disk: inspect only: no lock taken, nothing written, repaired
                                     or deleted; append/ack/state_set return TW_ERR_BUSY */
} tw_store_options;
#define TW_STORE_OPTIONS_INIT                                                                      \
    { TW_STORE_OPTIONS_VERSION, TW_STORE_MEMORY, NULL, 0, 0, TW_STORE_DROP_OLDEST,                 \
      TW_STORE_SYNC_EVERY_RECORD, 0, 0, 0, 0, 0 }

/* Size of the header the store adds to every record (counted against max_bytes). */
#define TW_STORE_RECORD_OVERHEAD 24u

/*
 * Opens (disk: creates or recovers) a store. Recovery scans every segment, keeps every complete
 * record, truncates a torn tail, skips corrupt regions (CRC mismatch) and reports both in
 * tw_store_stats and the log (warn level). The read cursor starts at the first unacknowledged
 * record. *out must be released with tw_store_free().
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_NOMEM,
 * TW_ERR_STORE_LOCKED (another process or handle has the directory open), TW_ERR_PERMISSION,
 * TW_ERR_IO, TW_ERR_NO_SPACE (repair impossible), TW_ERR_NOT_FOUND (read_only and no directory).
 * On failure *out is NULL and tw_last_error() on the calling thread names the option, the
 * directory and the reason ("store: dir '/var/spool/x': cannot create: Permission denied"); I/O
 * failures are also logged (error level).
 */
TW_API tw_status tw_store_new(tw_store **out, const tw_store_options *opts);

/* Syncs (per policy, disk), writes the checkpoint, releases the lock and frees. NULL is ignored. */
TW_API void tw_store_free(tw_store *s);

/*
 * Appends one record of `len` bytes (1 .. max_record_bytes); the store copies it. On TW_OK,
 * *seq_out (may be NULL) is its sequence number. Under TW_STORE_SYNC_EVERY_RECORD the record is
 * durable when this returns; under BATCH it is durable once tw_store_durable_seq() reaches seq.
 * Errors: TW_ERR_INVALID_ARG (NULL data, len 0), TW_ERR_RANGE (len > max_record_bytes or
 * > max_bytes), TW_ERR_FULL (REFUSE_NEW and the store is at max_bytes), TW_ERR_NO_SPACE (the disk
 * is full and the overflow policy could not make room: nothing of this record is kept, nothing
 * previously accepted is lost), TW_ERR_IO, TW_ERR_BUSY (read_only). Refusals are counted.
 */
TW_API tw_status tw_store_append(tw_store *s, uint64_t *seq_out, const void *data, size_t len);

/* fsync()s everything appended so far (disk; any policy). Errors: TW_ERR_IO, TW_ERR_NO_SPACE. */
TW_API tw_status tw_store_sync(tw_store *s);

/* The highest sequence number that is durable under the store's policy (0 = none yet). */
TW_API uint64_t tw_store_durable_seq(const tw_store *s);

/*
 * Housekeeping the owner calls from its loop: the BATCH policy's time-based group commit, the age
 * bound, writing a pending checkpoint. *next_ms (may be NULL) is set to the milliseconds until
 * the next call is due (UINT32_MAX when nothing is pending). Errors: as tw_store_sync().
 */
TW_API tw_status tw_store_poll(tw_store *s, uint32_t *next_ms);

/* One record handed out by tw_store_read(). `data` is owned by the store and valid until the next
 * call on the store. `time_ms` is the wall-clock time of its append (ms since the Unix epoch). */
typedef struct tw_store_record {
    uint64_t seq;
    int64_t time_ms;
    const void *data;
    size_t len;
} tw_store_record;

/*
 * Reads the record at the read cursor and advances the cursor. Records come oldest first; nothing
 * is removed (see tw_store_ack). Under SYNC_BATCH a record can be read before it is durable.
 * Returns TW_ERR_AGAIN when the cursor has reached the newest record. Records dropped (overflow, age) before they were read are skipped. A region found
 * corrupt while reading is skipped, counted and logged. Errors: TW_ERR_AGAIN, TW_ERR_IO.
 */
TW_API tw_status tw_store_read(tw_store *s, tw_store_record *rec);

/* Moves the read cursor back to the first unacknowledged record (after a reconnect). Does no I/O.
 * Errors: TW_ERR_INVALID_ARG (s NULL). */
TW_API tw_status tw_store_rewind(tw_store *s);

/*
 * Acknowledges every record with a sequence number <= seq: they are trimmed (segment files
 * deleted once fully acknowledged) and the watermark is made durable (checkpoint written with
 * temp file + fsync + rename + fsync of the directory; without the fsyncs under SYNC_OS). An ack
 * below the current watermark is a no-op. Errors: TW_ERR_RANGE (seq beyond the newest record),
 * TW_ERR_IO / TW_ERR_NO_SPACE (the checkpoint could not be written: the trim still happened in
 * memory and the checkpoint is retried by later calls), TW_ERR_BUSY (read_only).
 */
TW_API tw_status tw_store_ack(tw_store *s, uint64_t seq);

#define TW_STORE_STATS_VERSION 1
typedef struct tw_store_stats {
    uint32_t version;          /* set by the caller: TW_STORE_STATS_VERSION */
    uint64_t records;          /* records stored and not acknowledged (or dropped) */
    uint64_t bytes;            /* their bytes, headers included */
    uint64_t disk_bytes;       /* size of the segment files (disk) / ring capacity (memory) */
    uint32_t segments;         /* segment files (disk) */
    uint64_t oldest_seq;       /* 0 when empty */
    uint64_t newest_seq;       /* 0 when empty */
    int64_t oldest_time_ms;    /* append times, ms since the Unix epoch; 0 when empty */
    int64_t newest_time_ms;
    uint64_t next_seq;         /* the sequence number the next append gets */
    uint64_t acked_seq;        /* acknowledged watermark */
    uint64_t durable_seq;      /* as tw_store_durable_seq() */
    uint64_t read_seq;         /* sequence number the read cursor returns next (at least) */
    uint64_t appended;         /* records appended since open */
    uint64_t syncs;            /* fsync() group commits since open */
    /* Lifetime counters (disk: kept in the checkpoint across restarts). */
    uint64_t dropped_overflow; /* unacknowledged records dropped for max_bytes (DROP_OLDEST) */
    uint64_t dropped_age;      /* unacknowledged records dropped for max_age_ms */
    uint64_t dropped_no_space; /* unacknowledged records dropped to make room on a full disk */
    uint64_t refused_full;     /* appends refused with TW_ERR_FULL */
    uint64_t refused_no_space; /* appends refused with TW_ERR_NO_SPACE */
    /* Found by recovery at open and by reads since (not persisted: a repaired log is clean). */
    uint64_t torn_records;     /* incomplete records cut off the end of a segment */
    uint64_t torn_bytes;
    uint64_t corrupt_records;  /* records lost in corrupt regions (from the sequence gap; >= 1) */
    uint64_t corrupt_bytes;
    uint64_t corrupt_regions;  /* corrupt regions skipped */
} tw_store_stats;

/* Fills *st: the caller sets st->version (1..TW_STORE_STATS_VERSION) and gets that version's
 * fields. Errors: TW_ERR_INVALID_ARG, TW_ERR_VERSION. */
TW_API tw_status tw_store_stats_get(const tw_store *s, tw_store_stats *st);

/* Detail of the last error on this store. Never NULL; valid until the next call on the store. */
TW_API const char *tw_store_last_error(const tw_store *s);
/* The status of the last error on this store (TW_OK when none; TW_ERR_INVALID_ARG for NULL). */
TW_API tw_status tw_store_last_status(const tw_store *s);

/* ---- Durable small state (Sparkplug bdSeq, ...) ------------------------------------------------ */

/*
 * Stores a small value (0 .. 4096 bytes) under `key` ([A-Za-z0-9_.-], 1..64 characters). Disk:
 * written atomically in the store directory (temp file, fsync, rename, fsync of the directory), so
 * after a crash the key holds either the old or the new value, never a mix. Memory: kept in RAM.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_RANGE, TW_ERR_IO, TW_ERR_NO_SPACE (the old value is kept),
 * TW_ERR_BUSY (read_only).
 */
TW_API tw_status tw_store_state_set(tw_store *s, const char *key, const void *value, size_t len);

/*
 * Reads the value of `key` into buf (capacity `cap`); *len_out is set to its full length.
 * Errors: TW_ERR_NOT_FOUND (no such key), TW_ERR_RANGE (cap too small; *len_out says how much is
 * needed), TW_ERR_CORRUPT (the value failed its CRC), TW_ERR_INVALID_ARG, TW_ERR_IO.
 */
TW_API tw_status tw_store_state_get(tw_store *s, const char *key, void *buf, size_t cap,
                                    size_t *len_out);

/* Convenience for integer state such as bdSeq (stored as 8 bytes, little-endian). */
TW_API tw_status tw_store_state_set_u64(tw_store *s, const char *key, uint64_t value);
/* Errors: as tw_store_state_get(); TW_ERR_CORRUPT when the value is not 8 bytes. */
TW_API tw_status tw_store_state_get_u64(tw_store *s, const char *key, uint64_t *value);

/* ---- Utility ------------------------------------------------------------------------------------ */

/* CRC32C (Castagnoli) of `len` bytes, continuing from `crc` (0 to start). TW_THREADSAFE. */
TW_API TW_THREADSAFE uint32_t tw_crc32c(uint32_t crc, const void *data, size_t len);

TW_END_DECLS

#endif /* TAGWIRE_STORE_H */
