"""HTTPS batch uplink (tagwire/https.h): drains a Store to an HTTPS endpoint over mutual TLS.

Store records hold one or more *entries* (tag name, value, quality, source timestamp);
:func:`record_encode` builds them and :func:`record_next` / :func:`record_entries` decode them::

    from tagwire import https
    rec = https.record_encode("Line1/Temp", 21.5) + https.record_encode("Line1/Run", True)
    store.append(rec)
    with https.HttpsUplink(store, "https://127.0.0.1:8443/ingest", ca_file="ca.pem",
                           cert_file="client.pem", key_file="client.key") as up:
        while up.step(100) != https.State.IDLE:
            pass

Errors raise :class:`tagwire.HttpsError` subclasses that also derive from the class of their
status code (``ConfigError`` for bad options, ``InvalidArgument`` for bad arguments, ...).
An uplink and its store are driven by one thread at a time; the reject callback runs inside
:meth:`HttpsUplink.step` on that thread (an exception it raises is re-raised by ``step``).
"""
from __future__ import annotations

import enum
import os
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Tuple, Union

from ._ffi import cstr, ffi, lib, reraise, store_exception, string
from .core import Quality, Type, as_type, now_ns, value_from_py, value_to_py
from .errors import Closed, HttpsError, https_error_class, make_error, thread_error

ENTRY_MAGIC = lib.TW_HTTPS_ENTRY_MAGIC
ENTRY_HEADER = lib.TW_HTTPS_ENTRY_HEADER
NAME_MAX = lib.TW_HTTPS_NAME_MAX


def _check(status: int, detail: Any = "") -> None:
    if status != 0:
        d = detail() if callable(detail) else (detail or "")
        raise make_error(status, d, https_error_class(status))


class Format(enum.IntEnum):
    JSONL = lib.TW_HTTPS_FORMAT_JSONL        # application/x-ndjson
    PROTOBUF = lib.TW_HTTPS_FORMAT_PROTOBUF  # application/x-protobuf (Sparkplug B Payload)


class RejectPolicy(enum.IntEnum):
    HOLD = lib.TW_HTTPS_REJECT_HOLD  # keep the batch, stop sending (State.HELD) until release()
    PARK = lib.TW_HTTPS_REJECT_PARK  # write it to park_dir, then trim it
    DROP = lib.TW_HTTPS_REJECT_DROP  # trim it (counted and logged)


class State(enum.IntEnum):
    IDLE = lib.TW_HTTPS_IDLE          # the store is drained
    SENDING = lib.TW_HTTPS_SENDING    # a request is in flight
    BACKOFF = lib.TW_HTTPS_BACKOFF    # waiting before the next attempt
    HELD = lib.TW_HTTPS_HELD          # a batch was refused and the policy is HOLD


FD_READ = lib.TW_HTTPS_FD_READ
FD_WRITE = lib.TW_HTTPS_FD_WRITE


# ---- record entries ------------------------------------------------------------------------------

class Entry(NamedTuple):
    """One decoded record entry."""
    name: str
    type: Type
    value: Any       # None, bool, int, float, str or bytes
    quality: int
    ts_ns: int


def record_encode(name: str, value: Any = None, quality: int = Quality.GOOD,
                  ts_ns: Optional[int] = None, type: Any = None) -> bytes:
    """One encoded entry (bytes); concatenate entries to make a record with several values.

    value None writes a value-less entry (e.g. a bad-quality update). bool/int/float/str/bytes map
    to BOOL/INT64 (UINT64 above INT64_MAX)/DOUBLE/STRING/BYTES; `type` (a Type or a name such as
    "float") converts the value with tagwire's rules. ts_ns defaults to now. Raises
    HttpsError+InvalidArgument (empty name, unknown type) or HttpsError+RangeError (name longer
    than NAME_MAX bytes), or the conversion's error."""
    if not isinstance(name, str):
        raise TypeError("name must be a str")
    keep: list = []
    vp = ffi.NULL
    extra = 0
    if value is not None:
        vp = ffi.new("tw_value *")
        value_from_py(vp, value, keep, as_type(type) if type is not None else None)
        if vp.type in (lib.TW_TYPE_STRING, lib.TW_TYPE_BYTES):
            extra = getattr(vp, "as").buf.len
    elif type is not None and as_type(type) != Type.NONE:
        raise ValueError("a value of type %s needs a value" % as_type(type).name)
    nb = name.encode("utf-8")
    cap = ENTRY_HEADER + len(nb) + 8 + extra
    buf = ffi.new("char[]", cap)
    n = ffi.new("size_t *")
    _check(lib.tw_https_record_encode(buf, cap, n, nb, vp, quality,
                                      now_ns() if ts_ns is None else ts_ns))
    return bytes(ffi.buffer(buf, n[0]))


def record_build(entries: Any) -> bytes:
    """A record from (name, value[, quality[, ts_ns[, type]]]) tuples or Entry objects."""
    out = []
    for e in entries:
        if isinstance(e, Entry):
            out.append(record_encode(e.name, e.value, e.quality, e.ts_ns, e.type))
        else:
            out.append(record_encode(*e))
    return b"".join(out)


def record_next(rec: Union[bytes, bytearray, memoryview], offset: int = 0) -> Optional[Tuple[Entry, int]]:
    """Decodes the entry at `offset`; returns (entry, offset of the next one), or None at the end
    of the record. Raises HttpsError+ParseError on a malformed entry."""
    data = bytes(rec)
    if not 0 <= offset <= len(data):
        raise IndexError("offset %d outside the record (%d bytes)" % (offset, len(data)))
    buf = ffi.from_buffer(data)
    off = ffi.new("size_t *", offset)
    e = ffi.new("tw_https_entry *")
    st = lib.tw_https_record_next(buf, len(data), off, e)
    if st == lib.TW_ERR_AGAIN:
        return None
    _check(st, "entry at offset %d" % offset)
    name = bytes(ffi.buffer(e.name, e.name_len)).decode("utf-8", "replace")
    entry = Entry(name, Type(e.value.type), value_to_py(ffi.addressof(e, "value")),
                  int(e.quality), int(e.ts_ns))
    return entry, int(off[0])


def record_entries(rec: Union[bytes, bytearray, memoryview]) -> Iterator[Entry]:
    """Iterates over the entries of a record (ParseError on a malformed one)."""
    data = bytes(rec)
    off = 0
    while True:
        r = record_next(data, off)
        if r is None:
            return
        entry, off = r
        yield entry


# ---- uplink --------------------------------------------------------------------------------------

_STAT_FIELDS = ("batches", "records", "values", "bytes", "requests", "retries", "failures",
                "rejected_batches", "rejected_records", "parked_batches", "last_http_status",
                "last_status", "last_retry_after_s", "acked_seq")
HttpsStats = NamedTuple("HttpsStats", [(f, int) for f in _STAT_FIELDS])  # type: ignore[misc]

RejectFn = Callable[[int, str, bytes, int], None]


class HttpsUplink:
    """Drains `store` (a tagwire.Store, which must stay open while the uplink exists) to `url`.

    Keyword options mirror tw_https_options (0 selects the documented default):
    ca_file (required unless use_system_trust), cert_file/key_file/key_password (client
    certificate), use_system_trust, format (Format or "jsonl"/"protobuf"), gzip,
    max_batch_records, max_batch_bytes, timeout_ms, connect_timeout_ms, backoff_base_ms,
    backoff_cap_ms, max_retry_after_s, historical_ms, on_reject (RejectPolicy or its name),
    park_dir, instance_id, reject_fn(http_status, key, body, records).

    Bad options raise HttpsError+ConfigError (the library logs why). One thread at a time."""

    def __init__(self, store: Any, url: str, *, ca_file: Optional[str] = None,
                 cert_file: Optional[str] = None, key_file: Optional[str] = None,
                 key_password: Optional[str] = None, use_system_trust: bool = False,
                 format: Union[Format, str] = Format.JSONL, gzip: bool = False,
                 max_batch_records: int = 0, max_batch_bytes: int = 0, timeout_ms: int = 0,
                 connect_timeout_ms: int = 0, backoff_base_ms: int = 0, backoff_cap_ms: int = 0,
                 max_retry_after_s: int = 0, historical_ms: int = 0,
                 on_reject: Union[RejectPolicy, str] = RejectPolicy.HOLD,
                 park_dir: Optional[str] = None, instance_id: Optional[str] = None,
                 reject_fn: Optional[RejectFn] = None) -> None:
        self._ptr = None
        if isinstance(format, str):
            format = Format[format.upper()]
        if isinstance(on_reject, str):
            on_reject = RejectPolicy[on_reject.upper()]
        keep: list = []
        o = ffi.new("tw_https_options *")
        o.version = lib.TW_HTTPS_OPTIONS_VERSION
        o.url = cstr(url, keep)
        o.ca_file, o.cert_file = cstr(ca_file, keep), cstr(cert_file, keep)
        o.key_file, o.key_password = cstr(key_file, keep), cstr(key_password, keep)
        o.use_system_trust = 1 if use_system_trust else 0
        o.format = Format(format)
        o.gzip = 1 if gzip else 0
        o.max_batch_records, o.max_batch_bytes = max_batch_records, max_batch_bytes
        o.timeout_ms, o.connect_timeout_ms = timeout_ms, connect_timeout_ms
        o.backoff_base_ms, o.backoff_cap_ms = backoff_base_ms, backoff_cap_ms
        o.max_retry_after_s, o.historical_ms = max_retry_after_s, historical_ms
        o.on_reject = RejectPolicy(on_reject)
        o.park_dir = cstr(os.fspath(park_dir) if park_dir is not None else None, keep)
        o.instance_id = cstr(instance_id, keep)
        self._cb = None
        if reject_fn is not None:
            fn = reject_fn

            @ffi.callback("void(long, const char *, const void *, size_t, uint64_t, void *)")
            def _cb(status, key, body, body_len, records, _ud):
                try:
                    data = bytes(ffi.buffer(body, body_len)) if body_len else b""
                    fn(int(status), string(key), data, int(records))
                except BaseException as e:  # re-raised by step()
                    store_exception(e)
            o.reject_fn = _cb
            self._cb = _cb
        out = ffi.new("tw_https_uplink **")
        _check(lib.tw_https_uplink_new(out, store._p(), o), thread_error)
        self._ptr = out[0]
        self._store = store  # must outlive the uplink
        self._keep = keep
        self._fds_cap = 8

    # life cycle
    def close(self) -> None:
        """Aborts a request in flight (its batch stays in the store) and frees the uplink."""
        if self._ptr is not None:
            lib.tw_https_uplink_free(self._ptr)
            self._ptr = None
            self._store = None

    def __enter__(self) -> "HttpsUplink":
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
            raise Closed(lib.TW_ERR_CLOSED, "uplink is closed")
        return self._ptr

    def _err(self) -> str:
        return string(lib.tw_https_uplink_last_error(self._ptr))

    @property
    def last_error(self) -> str:
        """Detail of the last failure (attempt or call), e.g. "HTTP 503 (retry after 2 s)"."""
        return self._err() if self._ptr is not None else ""

    @property
    def last_status(self) -> int:
        """The status of the last failure (0 = TW_OK when none)."""
        return int(lib.tw_https_uplink_last_status(self._p())) if self._ptr is not None else 0

    # driving
    def step(self, timeout_ms: int = 0) -> State:
        """Does the uplink's work, waiting at most timeout_ms for the network; returns the state.
        A failed attempt is not an error (see stats()); a batch refused under policy HOLD returns
        State.HELD (see release()). Raises HttpsError+StoreError when the store fails."""
        st = lib.tw_https_uplink_step(self._p(), timeout_ms)
        reraise()
        if st == lib.TW_ERR_BUSY and lib.tw_https_uplink_state(self._ptr) == lib.TW_HTTPS_HELD:
            return State.HELD
        _check(st, self._err)
        return self.state

    def run_until_idle(self, timeout_s: float = 30.0, step_ms: int = 100) -> State:
        """Steps until the store is drained (IDLE) or HELD, or until timeout_s elapsed; returns
        the last state."""
        import time
        end = time.monotonic() + timeout_s
        while True:
            s = self.step(step_ms)
            if s in (State.IDLE, State.HELD) or time.monotonic() >= end:
                return s

    @property
    def state(self) -> State:
        return State(lib.tw_https_uplink_state(self._p()))

    def next_ms(self) -> Optional[int]:
        """ms until step() has something to do without network activity; None = only on socket
        activity or new records."""
        v = lib.tw_https_uplink_next_ms(self._p())
        return None if v == 0xFFFFFFFF else int(v)

    def fds(self) -> List[Tuple[int, int]]:
        """The sockets the uplink waits on, as (fd, events) with FD_READ/FD_WRITE bits."""
        while True:
            cap = self._fds_cap
            fds, ev, n = ffi.new("int[]", cap), ffi.new("int[]", cap), ffi.new("size_t *")
            _check(lib.tw_https_uplink_fds(self._p(), fds, ev, cap, n), self._err)
            if n[0] <= cap:
                return [(int(fds[i]), int(ev[i])) for i in range(n[0])]
            self._fds_cap = int(n[0])

    def release(self, drop: bool = False) -> None:
        """Policy HOLD: resumes after a refused batch: sends it again (drop False) or trims it and
        counts it as rejected (drop True). Raises HttpsError (TW_ERR_BUSY) when not HELD."""
        _check(lib.tw_https_uplink_release(self._p(), 1 if drop else 0), self._err)

    def retry_now(self) -> None:
        """Ends the current back-off (or aborts the attempt in flight) and retries at the next
        step."""
        lib.tw_https_uplink_retry_now(self._p())

    def stats(self) -> HttpsStats:
        st = ffi.new("tw_https_stats *")
        st.version = lib.TW_HTTPS_STATS_VERSION
        _check(lib.tw_https_uplink_stats_get(self._p(), st), self._err)
        return HttpsStats(*(int(getattr(st, f)) for f in _STAT_FIELDS))


__all__ = ["ENTRY_HEADER", "ENTRY_MAGIC", "Entry", "FD_READ", "FD_WRITE", "Format", "HttpsError",
           "HttpsStats", "HttpsUplink", "NAME_MAX", "RejectPolicy", "State", "record_build",
           "record_encode", "record_entries", "record_next"]
