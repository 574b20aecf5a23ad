"""Store-and-forward log and durable state (tagwire/store.h)."""
from __future__ import annotations

import enum
import os
from typing import Any, Iterator, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, string
from .errors import Closed, StoreError, check, check_new


class Backend(enum.IntEnum):
    MEMORY = lib.TW_STORE_MEMORY
    DISK = lib.TW_STORE_DISK


class Sync(enum.IntEnum):
    EVERY_RECORD = lib.TW_STORE_SYNC_EVERY_RECORD
    BATCH = lib.TW_STORE_SYNC_BATCH
    OS = lib.TW_STORE_SYNC_OS


class Overflow(enum.IntEnum):
    DROP_OLDEST = lib.TW_STORE_DROP_OLDEST
    REFUSE_NEW = lib.TW_STORE_REFUSE_NEW


class Record(NamedTuple):
    seq: int
    time_ms: int
    data: bytes


_STAT_FIELDS = ("records", "bytes", "disk_bytes", "segments", "oldest_seq", "newest_seq",
                "oldest_time_ms", "newest_time_ms", "next_seq", "acked_seq", "durable_seq",
                "read_seq", "appended", "syncs", "dropped_overflow", "dropped_age",
                "dropped_no_space", "refused_full", "refused_no_space", "torn_records",
                "torn_bytes", "corrupt_records", "corrupt_bytes", "corrupt_regions")
StoreStats = NamedTuple("StoreStats", [(f, int) for f in _STAT_FIELDS])  # type: ignore[misc]


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C (Castagnoli) of data, continuing from crc."""
    return lib.tw_crc32c(crc, data, len(data))


class Store:
    """A store-and-forward log (memory ring or crash-safe disk segments); one thread at a time.

    ``Store.open_dir(path, read_only=True)`` inspects a node's spool without modifying it."""

    def __init__(self, directory: Optional[str] = None, *, max_bytes: int = 0, max_age_ms: int = 0,
                 overflow: int = Overflow.DROP_OLDEST, sync: int = Sync.EVERY_RECORD,
                 sync_interval_ms: int = 0, sync_records: int = 0, segment_bytes: int = 0,
                 max_record_bytes: int = 0, read_only: bool = False) -> None:
        keep: list = []
        o = ffi.new("tw_store_options *")
        o.version = lib.TW_STORE_OPTIONS_VERSION
        o.backend = lib.TW_STORE_DISK if directory is not None else lib.TW_STORE_MEMORY
        o.dir = cstr(os.fspath(directory) if directory is not None else None, keep)
        o.max_bytes, o.max_age_ms, o.overflow, o.sync = max_bytes, max_age_ms, overflow, sync
        o.sync_interval_ms, o.sync_records = sync_interval_ms, sync_records
        o.segment_bytes, o.max_record_bytes = segment_bytes, max_record_bytes
        o.read_only = 1 if read_only else 0
        out = ffi.new("tw_store **")
        check_new(lib.tw_store_new(out, o), StoreError if directory else None)
        self._ptr = out[0]
        self._rec = ffi.new("tw_store_record *")

    @classmethod
    def open_dir(cls, directory: str, read_only: bool = True) -> "Store":
        return cls(directory, read_only=read_only)

    def close(self) -> None:
        if self._ptr is not None:
            lib.tw_store_free(self._ptr)
            self._ptr = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _p(self) -> Any:
        if self._ptr is None:
            raise Closed(lib.TW_ERR_CLOSED, "store is closed")
        return self._ptr

    def _check(self, st: int) -> None:
        check(st, lambda: string(lib.tw_store_last_error(self._ptr)))

    @property
    def last_error(self) -> str:
        return string(lib.tw_store_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_store_last_status(self._p()))

    def append(self, data: bytes) -> int:
        """Appends a record; returns its sequence number."""
        seq = ffi.new("uint64_t *")
        data = bytes(data)
        self._check(lib.tw_store_append(self._p(), seq, data, len(data)))
        return seq[0]

    def sync(self) -> None:
        self._check(lib.tw_store_sync(self._p()))

    @property
    def durable_seq(self) -> int:
        return lib.tw_store_durable_seq(self._p())

    def poll(self) -> int:
        """Housekeeping; returns the ms until the next call is due."""
        n = ffi.new("uint32_t *")
        self._check(lib.tw_store_poll(self._p(), n))
        return n[0]

    def read(self) -> Optional[Record]:
        """The record at the read cursor (advancing it), or None when all were read."""
        st = lib.tw_store_read(self._p(), self._rec)
        if st == lib.TW_ERR_AGAIN:
            return None
        self._check(st)
        r = self._rec
        return Record(r.seq, r.time_ms, bytes(ffi.buffer(r.data, r.len)))

    def __iter__(self) -> Iterator[Record]:
        while True:
            r = self.read()
            if r is None:
                return
            yield r

    def rewind(self) -> None:
        self._check(lib.tw_store_rewind(self._p()))

    def ack(self, seq: int) -> None:
        """Acknowledges (trims) every record with a sequence number <= seq."""
        self._check(lib.tw_store_ack(self._p(), seq))

    def stats(self) -> StoreStats:
        st = ffi.new("tw_store_stats *")
        st.version = lib.TW_STORE_STATS_VERSION
        self._check(lib.tw_store_stats_get(self._p(), st))
        return StoreStats(*(int(getattr(st, f)) for f in _STAT_FIELDS))

    # durable small state
    def state_set(self, key: str, value: "bytes | int") -> None:
        if isinstance(value, int):
            self._check(lib.tw_store_state_set_u64(self._p(), key.encode(), value))
        else:
            self._check(lib.tw_store_state_set(self._p(), key.encode(), value, len(value)))

    def state_get(self, key: str) -> Optional[bytes]:
        """The value of key, or None when absent."""
        n = ffi.new("size_t *")
        buf = ffi.new("char[]", 4096)
        st = lib.tw_store_state_get(self._p(), key.encode(), buf, 4096, n)
        if st == lib.TW_ERR_NOT_FOUND:
            return None
        self._check(st)
        return bytes(ffi.buffer(buf, n[0]))

    def state_get_u64(self, key: str) -> Optional[int]:
        v = ffi.new("uint64_t *")
        st = lib.tw_store_state_get_u64(self._p(), key.encode(), v)
        if st == lib.TW_ERR_NOT_FOUND:
            return None
        self._check(st)
        return v[0]
