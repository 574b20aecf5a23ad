"""Tags and tag sets (tagwire/tag.h)."""
from __future__ import annotations

import enum
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from ._ffi import _tls, cstr, ffi, lib, reraise, store_exception, string
from .core import Quality, Type, as_type, value_from_py, value_to_py, take_value
from .errors import Closed, Error, check, check_new, make_error

GOOD = int(Quality.GOOD)


class Access(enum.IntEnum):
    DEFAULT = lib.TW_ACCESS_DEFAULT
    READ = lib.TW_ACCESS_READ
    WRITE = lib.TW_ACCESS_WRITE
    READ_WRITE = lib.TW_ACCESS_READ_WRITE

    @property
    def access_name(self) -> str:
        return string(lib.tw_access_name(self))


class DeadbandMode(enum.IntEnum):
    ABSOLUTE = lib.TW_DEADBAND_ABSOLUTE
    PERCENT = lib.TW_DEADBAND_PERCENT


class Sample(NamedTuple):
    """A value with its quality and source timestamp (ns since the Unix epoch)."""
    value: Any
    quality: int
    ts_ns: int


class Change(NamedTuple):
    """One entry of a change set (TagSet.collect())."""
    tag: "Tag"
    value: Any
    quality: int
    coalesced: int
    ts_ns: int


def validate_name(name: str) -> None:
    """Raises ParseError (with the reason) when name breaks the tag naming rules."""
    err = ffi.new("char[]", 256)
    st = lib.tw_tag_name_validate(name.encode("utf-8"), err, 256)
    check(st, string(err))


_COLLECT_CAP = 256
_set_double = lib.tw_tag_set_double  # bound once: the setters are the hot path
_set_int64 = lib.tw_tag_set_int64


def _tag_options(keep: list, *, unit: Optional[str] = None, description: Optional[str] = None,
                 min: float = 0.0, max: float = 0.0, scale: float = 0.0, offset: float = 0.0,
                 access: int = 0, deadband: float = 0.0, deadband_mode: int = 0,
                 report_every_sample: bool = False, alias: int = 0, max_len: int = 0) -> Any:
    """A tw_tag_options from keyword options (strings kept alive in `keep`)."""
    o = ffi.new("tw_tag_options *")
    keep.append(o)
    o.version = lib.TW_TAG_OPTIONS_VERSION
    o.description = cstr(description, keep)
    o.unit = cstr(unit, keep)
    o.min, o.max = min, max
    o.scale, o.offset = scale, offset
    o.access = access
    o.deadband_mode = deadband_mode
    o.deadband = deadband
    o.report_every_sample = 1 if report_every_sample else 0
    o.alias = alias
    o.max_len = max_len
    return o


class TagSet:
    """A set of tags that keeps the change set. Use as a context manager or call close().

    Setters of its tags are thread-safe; add(), collect(), write() and callbacks belong to one
    driving thread at a time (see tagwire/tag.h)."""

    def __init__(self) -> None:
        out = ffi.new("tw_tagset **")
        check_new(lib.tw_tagset_new(out))
        self._ptr = out[0]
        self._tags: Dict[Any, Tag] = {}  # tw_tag* address -> Tag
        self._buf = ffi.new("tw_tag_change[]", _COLLECT_CAP)
        self._n = ffi.new("size_t *")
        self._more = ffi.new("int *")
        self._callbacks: Dict[Any, Any] = {}  # keeps cffi callbacks alive
        self._notify_cb = None

    @classmethod
    def _borrow(cls, ptr: Any, owner: Any) -> "TagSet":
        """A wrapper of a tag set owned by another object (a node's or device's tag set)."""
        ts = cls.__new__(cls)
        ts._ptr = ptr
        ts._owner = owner
        ts._tags = {}
        ts._buf = ffi.new("tw_tag_change[]", _COLLECT_CAP)
        ts._n = ffi.new("size_t *")
        ts._more = ffi.new("int *")
        ts._callbacks = {}
        ts._notify_cb = None
        return ts

    def _detach(self) -> None:
        self._ptr = None
        for t in self._tags.values():
            t._ptr = None
        self._tags.clear()

    # life cycle
    def close(self) -> None:
        """Frees the tag set and its tags (tw_tagset_free). Idempotent. A tag set that belongs to
        a node is freed with the node."""
        if self._ptr is not None and getattr(self, "_owner", None) is not None:
            return
        if self._ptr is not None:
            lib.tw_tagset_free(self._ptr)
            self._ptr = None
            for t in self._tags.values():
                t._ptr = None
            self._tags.clear()
            self._callbacks.clear()
            self._notify_cb = None

    def __enter__(self) -> "TagSet":
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
            raise Closed(lib.TW_ERR_CLOSED, "tag set is closed")
        return self._ptr

    @property
    def last_error(self) -> str:
        return string(lib.tw_tagset_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_tagset_last_status(self._p()))

    # tags
    def add(self, name: str, type: Any, **options: Any) -> "Tag":
        """Adds a tag (tw_tagset_add) and returns it. `type` is a Type or a name ("double").
        Options (all optional): unit, description, min, max, scale, offset, access,
        deadband, deadband_mode, report_every_sample, alias, max_len."""
        p = self._p()
        keep: list = []
        o = _tag_options(keep, **options)
        out = ffi.new("tw_tag **")
        st = lib.tw_tagset_add(p, out, name.encode("utf-8"), as_type(type), o)
        check(st, lambda: string(lib.tw_tagset_last_error(p)))
        return self._wrap(out[0])

    def _wrap(self, tp: Any) -> "Tag":
        key = int(ffi.cast("uintptr_t", tp))
        t = self._tags.get(key)
        if t is None:
            t = Tag(self, tp)
            self._tags[key] = t
        return t

    def find(self, name: str) -> Optional["Tag"]:
        tp = lib.tw_tagset_find(self._p(), name.encode("utf-8"))
        return None if tp == ffi.NULL else self._wrap(tp)

    def find_alias(self, alias: int) -> Optional["Tag"]:
        tp = lib.tw_tagset_find_alias(self._p(), alias)
        return None if tp == ffi.NULL else self._wrap(tp)

    def __getitem__(self, name: str) -> "Tag":
        t = self.find(name)
        if t is None:
            raise KeyError(name)
        return t

    def __len__(self) -> int:
        return lib.tw_tagset_count(self._p())

    def __iter__(self) -> Iterator["Tag"]:
        p = self._p()
        for i in range(lib.tw_tagset_count(p)):
            yield self._wrap(lib.tw_tagset_at(p, i))

    def at(self, index: int) -> "Tag":
        tp = lib.tw_tagset_at(self._p(), index)
        if tp == ffi.NULL:
            raise IndexError(index)
        return self._wrap(tp)

    # change sets
    def collect(self, limit: Optional[int] = None) -> List[Change]:
        """Returns the tags changed since the last collection (tw_tagset_collect), each once
        with its latest passing value. Collects until no change remains (or `limit` entries)."""
        p = self._p()
        out: List[Change] = []
        while True:
            cap = _COLLECT_CAP if limit is None else min(_COLLECT_CAP, limit - len(out))
            if cap <= 0:
                break
            check(lib.tw_tagset_collect(p, self._buf, cap, self._n, self._more))
            for i in range(self._n[0]):
                c = self._buf[i]
                out.append(Change(self._wrap(c.tag), value_to_py(c.value), c.quality, c.coalesced,
                                  c.ts_ns))
            if not self._more[0]:
                break
        return out

    @property
    def pending(self) -> int:
        """Tags waiting to be collected (approximate while setters run)."""
        return lib.tw_tagset_pending(self._p())

    def fileno(self) -> int:
        """The wake-up descriptor (readable when changes are pending); usable with select()."""
        return lib.tw_tagset_fd(self._p())

    def set_notify(self, fn: Optional[Callable[["TagSet"], None]]) -> None:
        """fn(tagset) is called when the change set becomes non-empty, on the setter's thread.
        An exception it raises is re-raised by the setter call that triggered it."""
        p = self._p()
        if fn is None:
            lib.tw_tagset_set_notify(p, ffi.NULL, ffi.NULL)
            self._notify_cb = None
            return

        @ffi.callback("void(tw_tagset *, void *)")
        def _cb(_ts, _ud):
            try:
                fn(self)
            except BaseException as e:
                store_exception(e)

        lib.tw_tagset_set_notify(p, _cb, ffi.NULL)
        self._notify_cb = _cb

    def set_write_callback(self, fn: Optional[Callable[["Tag", Any], None]]) -> None:
        """Default write callback of every tag without its own (see Tag.set_write_callback)."""
        p = self._p()
        if fn is None:
            lib.tw_tagset_set_write_cb(p, ffi.NULL, ffi.NULL)
            self._callbacks.pop("set", None)
            return
        cb = _write_callback(self, fn)
        lib.tw_tagset_set_write_cb(p, cb, ffi.NULL)
        self._callbacks["set"] = cb


def _write_callback(ts: TagSet, fn: Callable[["Tag", Any], None]) -> Any:
    @ffi.callback("tw_status(tw_tag *, const tw_value *, void *)")
    def _cb(tag, value, _ud):
        try:
            fn(ts._wrap(tag), value_to_py(value))
            return 0
        except Error as e:  # a tagwire error: its status goes back to the requester
            store_exception(e)
            return e.code
        except BaseException as e:
            store_exception(e)
            return lib.TW_ERR_GENERIC
    return _cb


class Tag:
    """A tag of a TagSet (owned by it: valid until the set is closed)."""

    __slots__ = ("_ts", "_ptr", "__weakref__")

    def __init__(self, ts: TagSet, ptr: Any) -> None:
        self._ts = ts
        self._ptr = ptr

    def _p(self) -> Any:
        p = self._ptr
        if p is None:
            raise Closed(lib.TW_ERR_CLOSED, "the tag's set is closed")
        return p

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<tagwire.Tag (closed)>"
        return "<tagwire.Tag %r %s>" % (self.name, self.type.type_name)

    # setters (thread-safe)
    def set(self, value: Any, quality: int = GOOD, ts_ns: int = 0) -> None:
        """Sets the value (converted to the tag's type): bool, int, float, str or bytes."""
        p = self._ptr or self._p()
        tp = type(value)
        if tp is float:
            st = _set_double(p, value, quality, ts_ns)
        elif tp is int:
            st = (_set_int64 if value <= 0x7FFFFFFFFFFFFFFF else lib.tw_tag_set_uint64)(p, value, quality, ts_ns)
        elif isinstance(value, bool):
            st = lib.tw_tag_set_bool(p, 1 if value else 0, quality, ts_ns)
        elif isinstance(value, float):
            st = lib.tw_tag_set_double(p, value, quality, ts_ns)
        elif isinstance(value, int):
            if value > 0x7FFFFFFFFFFFFFFF:
                st = lib.tw_tag_set_uint64(p, value, quality, ts_ns)
            else:
                st = lib.tw_tag_set_int64(p, value, quality, ts_ns)
        elif isinstance(value, str):
            b = value.encode("utf-8")
            if b"\0" in b:
                st = lib.tw_tag_set_bytes(p, b, len(b), quality, ts_ns)
            else:
                st = lib.tw_tag_set_string(p, b, quality, ts_ns)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            b = bytes(value)
            st = lib.tw_tag_set_bytes(p, b, len(b), quality, ts_ns)
        else:
            keep: list = []
            v = ffi.new("tw_value *")
            value_from_py(v, value, keep)
            st = lib.tw_tag_set_value(p, v, quality, ts_ns)
        if _tls.__dict__.get("pending") is not None:  # a notify callback raised
            reraise()
        if st:
            check(st)

    def set_double(self, value: float, quality: int = GOOD, ts_ns: int = 0) -> None:
        """Fast path for numeric tags (tw_tag_set_double)."""
        st = _set_double(self._ptr or self._p(), value, quality, ts_ns)
        if st:
            reraise()
            check(st)

    def set_int(self, value: int, quality: int = GOOD, ts_ns: int = 0) -> None:
        st = _set_int64(self._ptr or self._p(), value, quality, ts_ns)
        if st:
            reraise()
            check(st)

    def set_uint(self, value: int, quality: int = GOOD, ts_ns: int = 0) -> None:
        check(lib.tw_tag_set_uint64(self._p(), value, quality, ts_ns))

    def set_float(self, value: float, quality: int = GOOD, ts_ns: int = 0) -> None:
        check(lib.tw_tag_set_float(self._p(), value, quality, ts_ns))

    def set_datetime(self, value_ns: int, quality: int = GOOD, ts_ns: int = 0) -> None:
        check(lib.tw_tag_set_datetime(self._p(), value_ns, quality, ts_ns))

    def set_quality(self, quality: int, ts_ns: int = 0) -> None:
        """Changes only the quality (the last value is kept)."""
        check(lib.tw_tag_set_quality(self._p(), quality, ts_ns))

    def set_raw(self, raw: float, quality: int = GOOD, ts_ns: int = 0) -> None:
        """Sets a raw device value, scaled to engineering units (int keeps 64-bit precision)."""
        if isinstance(raw, int) and not isinstance(raw, bool):
            check(lib.tw_tag_set_raw_int64(self._p(), raw, quality, ts_ns))
        else:
            check(lib.tw_tag_set_raw_double(self._p(), raw, quality, ts_ns))

    def eng_to_raw(self, eng: float) -> float:
        return lib.tw_tag_eng_to_raw(self._p(), eng)

    def raw_to_eng(self, raw: float) -> float:
        return lib.tw_tag_raw_to_eng(self._p(), raw)

    # reading
    def get(self) -> Sample:
        """The current value, quality and timestamp (tw_tag_get)."""
        v = ffi.new("tw_value *")
        q = ffi.new("tw_quality *")
        ts = ffi.new("int64_t *")
        check(lib.tw_tag_get(self._p(), v, q, ts))
        return Sample(take_value(v), q[0], ts[0])

    @property
    def value(self) -> Any:
        return self.get().value

    def get_double(self) -> float:
        d = ffi.new("double *")
        check(lib.tw_tag_get_double(self._p(), d, ffi.NULL, ffi.NULL))
        return d[0]

    def get_bytes(self) -> bytes:
        """A STRING/BYTES value as bytes without an allocation in C (tw_tag_get_buf)."""
        p = self._p()
        n = ffi.new("size_t *")
        cap = max(1, lib.tw_tag_max_len(p) + 1)
        buf = ffi.new("char[]", cap)
        check(lib.tw_tag_get_buf(p, buf, cap, n, ffi.NULL, ffi.NULL))
        return bytes(ffi.buffer(buf, n[0]))

    def snapshot(self) -> Change:
        """The current value as a change entry, without touching the change set."""
        c = ffi.new("tw_tag_change *")
        check(lib.tw_tag_snapshot(self._p(), c))
        return Change(self, value_to_py(c.value), c.quality, c.coalesced, c.ts_ns)

    # writes from the cloud
    def set_write_callback(self, fn: Optional[Callable[["Tag", Any], None]]) -> None:
        """fn(tag, value) carries out a write request (Tag.write() / NCMD/DCMD). Returning
        normally accepts it; raising a tagwire.Error refuses it with that status; any other
        exception refuses it (TW_ERR_GENERIC) and is re-raised by the call that delivered it."""
        p = self._p()
        key = int(ffi.cast("uintptr_t", p))
        if fn is None:
            lib.tw_tag_set_write_cb(p, ffi.NULL, ffi.NULL)
            self._ts._callbacks.pop(key, None)
            return
        cb = _write_callback(self._ts, fn)
        lib.tw_tag_set_write_cb(p, cb, ffi.NULL)
        self._ts._callbacks[key] = cb

    def write(self, value: Any) -> None:
        """Delivers a write request like the runtime does (tw_tag_write)."""
        p = self._p()
        keep: list = []
        v = ffi.new("tw_value *")
        value_from_py(v, value, keep)
        st = lib.tw_tag_write(p, v)
        exc = None
        from ._ffi import take_exception
        exc = take_exception()
        if exc is not None:
            raise exc
        check(st, lambda: string(lib.tw_tagset_last_error(self._ts._p())))

    # metadata
    @property
    def name(self) -> str:
        return string(lib.tw_tag_name(self._p()))

    @property
    def alias(self) -> int:
        return lib.tw_tag_alias(self._p())

    @property
    def type(self) -> Type:
        return Type(lib.tw_tag_type(self._p()))

    @property
    def unit(self) -> str:
        return string(lib.tw_tag_unit(self._p()))

    @property
    def description(self) -> str:
        return string(lib.tw_tag_description(self._p()))

    @property
    def access(self) -> Access:
        return Access(lib.tw_tag_access(self._p()))

    @property
    def range(self) -> Optional[Tuple[float, float]]:
        lo, hi = ffi.new("double *"), ffi.new("double *")
        if not lib.tw_tag_range(self._p(), lo, hi):
            return None
        return lo[0], hi[0]

    @property
    def scaling(self) -> Tuple[float, float]:
        s, o = ffi.new("double *"), ffi.new("double *")
        lib.tw_tag_scaling(self._p(), s, o)
        return s[0], o[0]

    @property
    def deadband(self) -> Tuple[DeadbandMode, float, float]:
        """(mode, value as configured, absolute value in engineering units)."""
        m = ffi.new("tw_deadband_mode *")
        v, a = ffi.new("double *"), ffi.new("double *")
        lib.tw_tag_deadband(self._p(), m, v, a)
        return DeadbandMode(m[0]), v[0], a[0]

    @property
    def report_by_exception(self) -> bool:
        return bool(lib.tw_tag_rbe(self._p()))

    @property
    def max_len(self) -> int:
        return lib.tw_tag_max_len(self._p())

    @property
    def tagset(self) -> TagSet:
        assert lib.tw_tag_tagset(self._p()) == self._ts._ptr
        return self._ts

    def user_data(self) -> int:
        """The raw user_data pointer of the C options (always 0 for tags added from Python)."""
        return int(ffi.cast("uintptr_t", lib.tw_tag_user_data(self._p())))
