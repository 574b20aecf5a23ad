"""Library life cycle, version, features, log hook, clock, value types and qualities."""
from __future__ import annotations

import enum
import threading
from typing import Any, Callable, List, Optional, Tuple

from ._ffi import ffi, lib, reraise, store_exception, string
from .errors import check

# ---- version and features ------------------------------------------------------------------------

HEADER_VERSION = (lib.TW_VERSION_MAJOR, lib.TW_VERSION_MINOR, lib.TW_VERSION_PATCH)


def version() -> Tuple[int, int, int]:
    """The loaded library's version as (major, minor, patch)."""
    v = lib.tw_version()
    return (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF


def version_string() -> str:
    """The loaded library's version string, e.g. ``"0.1.0"``."""
    return string(lib.tw_version_string())


def features() -> List[str]:
    """Names of the optional parts built into the loaded library ("tls", "mqtt", ...)."""
    bits = lib.tw_features()
    out = []
    for i in range(32):
        if bits & (1 << i):
            name = lib.tw_feature_name(1 << i)
            if name != ffi.NULL:
                out.append(string(name))
    return out


def has_feature(name: str) -> bool:
    return name in features()


# ---- per-thread error detail ----------------------------------------------------------------------

def last_error() -> str:
    """The calling thread's last recorded error, "<module>: <message>" ("" when none; see
    tw_last_error()). The exceptions raised by this package already carry the detail."""
    return string(lib.tw_last_error())


def last_error_status() -> int:
    """The status that went with last_error() (0 = TW_OK when none)."""
    return int(lib.tw_last_error_status())


def last_error_clear() -> None:
    lib.tw_last_error_clear()


# ---- initialisation -------------------------------------------------------------------------------

def init() -> None:
    """Takes one reference on the library (tw_init). The package takes one at import, so calling
    this is only needed to pair it with an explicit shutdown(). It never changes the allocator or
    the log hook of an initialised library (use set_log() for the hook)."""
    check(lib.tw_init(ffi.NULL))


def shutdown() -> None:
    """Drops one reference taken by init() (tw_shutdown)."""
    lib.tw_shutdown()


def is_initialized() -> bool:
    return bool(lib.tw_is_initialized())


class Library:
    """Context manager holding one library reference: ``with tagwire.Library(): ...``."""

    def __enter__(self) -> "Library":
        init()
        return self

    def __exit__(self, *exc: Any) -> None:
        shutdown()


# ---- log hook ------------------------------------------------------------------------------------

class LogLevel(enum.IntEnum):
    """Severities, least verbose first. DEFAULT is only a threshold (= WARN); messages carry
    ERROR..TRACE."""
    DEFAULT = lib.TW_LOG_DEFAULT
    ERROR = lib.TW_LOG_ERROR
    WARN = lib.TW_LOG_WARN
    INFO = lib.TW_LOG_INFO
    DEBUG = lib.TW_LOG_DEBUG
    TRACE = lib.TW_LOG_TRACE


def log_level_name(level: int) -> str:
    return string(lib.tw_log_level_name(level))


_log_lock = threading.Lock()
_log_cb = None  # keeps the current cffi callback alive


def set_log(fn: Optional[Callable[[LogLevel, str, str], None]], level: int = LogLevel.WARN) -> None:
    """Installs fn(level, module, message) as the log hook (None restores stderr) for messages at
    or above `level` (LogLevel.DEFAULT = WARN).

    The hook runs on whichever thread logs, possibly several at once. An exception it raises is
    re-raised by the tagwire call (on the same thread) during which it was logged."""
    global _log_cb
    with _log_lock:
        if fn is None:
            lib.tw_set_log(ffi.NULL, level, ffi.NULL)
            _log_cb = None
            return

        @ffi.callback("void(tw_log_level, const char *, const char *, void *)")
        def _cb(lv, module, message, _ud):
            try:
                fn(LogLevel(lv), string(module), string(message))
            except BaseException as e:  # carried back to the calling thread
                store_exception(e)

        lib.tw_set_log(_cb, level, ffi.NULL)
        _log_cb = _cb


# ---- option helpers ----------------------------------------------------------------------------------

def keep_alive_c(seconds: Optional[int]) -> int:
    """An MQTT keep-alive for the C options: None = the default, 0 = no keep-alive
    (TW_MQTT_KEEPALIVE_OFF), 1..65534 seconds."""
    if seconds is None:
        return 0
    if seconds == 0:
        return lib.TW_MQTT_KEEPALIVE_OFF
    if not 0 < seconds < lib.TW_MQTT_KEEPALIVE_OFF:
        raise ValueError("keep_alive_s must be None (default), 0 (off) or 1..65534")
    return int(seconds)


# ---- clock -----------------------------------------------------------------------------------------

def now_ns() -> int:
    """Wall-clock time in ns since the Unix epoch (the tag model's timestamp unit)."""
    return lib.tw_now_ns()


# ---- types -----------------------------------------------------------------------------------------

class Type(enum.IntEnum):
    """Value types (tw_type)."""
    NONE = lib.TW_TYPE_NONE
    BOOL = lib.TW_TYPE_BOOL
    INT8 = lib.TW_TYPE_INT8
    INT16 = lib.TW_TYPE_INT16
    INT32 = lib.TW_TYPE_INT32
    INT64 = lib.TW_TYPE_INT64
    UINT8 = lib.TW_TYPE_UINT8
    UINT16 = lib.TW_TYPE_UINT16
    UINT32 = lib.TW_TYPE_UINT32
    UINT64 = lib.TW_TYPE_UINT64
    FLOAT = lib.TW_TYPE_FLOAT
    DOUBLE = lib.TW_TYPE_DOUBLE
    STRING = lib.TW_TYPE_STRING
    BYTES = lib.TW_TYPE_BYTES
    DATETIME = lib.TW_TYPE_DATETIME

    @property
    def type_name(self) -> str:
        return type_name(self)

    @property
    def is_numeric(self) -> bool:
        return bool(lib.tw_type_is_numeric(self))

    @classmethod
    def parse(cls, name: str) -> "Type":
        """Parses "double", "float64", "uint", ... (ValueError when unknown)."""
        t = lib.tw_type_from_name(name.encode())
        if t == lib.TW_TYPE_NONE and name.lower() != "none":
            raise ValueError("unknown tagwire type %r" % name)
        return cls(t)


def type_name(t: int) -> Optional[str]:
    p = lib.tw_type_name(t)
    return None if p == ffi.NULL else string(p)


def as_type(t: Any) -> Type:
    return Type.parse(t) if isinstance(t, str) else Type(t)


# ---- quality ---------------------------------------------------------------------------------------

class Quality(enum.IntEnum):
    """Common quality codes (OPC UA StatusCodes); any uint32 is a valid quality."""
    GOOD = lib.TW_QUALITY_GOOD
    GOOD_LOCAL_OVERRIDE = lib.TW_QUALITY_GOOD_LOCAL_OVERRIDE
    UNCERTAIN = lib.TW_QUALITY_UNCERTAIN
    UNCERTAIN_LAST_KNOWN = lib.TW_QUALITY_UNCERTAIN_LAST_KNOWN
    UNCERTAIN_SUBSTITUTE = lib.TW_QUALITY_UNCERTAIN_SUBSTITUTE
    UNCERTAIN_INITIAL = lib.TW_QUALITY_UNCERTAIN_INITIAL
    UNCERTAIN_SENSOR = lib.TW_QUALITY_UNCERTAIN_SENSOR
    BAD = lib.TW_QUALITY_BAD
    BAD_COMM_FAILURE = lib.TW_QUALITY_BAD_COMM_FAILURE
    BAD_TIMEOUT = lib.TW_QUALITY_BAD_TIMEOUT
    BAD_WAITING_FOR_INITIAL = lib.TW_QUALITY_BAD_WAITING_FOR_INITIAL
    BAD_OUT_OF_RANGE = lib.TW_QUALITY_BAD_OUT_OF_RANGE
    BAD_TYPE_MISMATCH = lib.TW_QUALITY_BAD_TYPE_MISMATCH
    BAD_CONFIG = lib.TW_QUALITY_BAD_CONFIG
    BAD_NOT_CONNECTED = lib.TW_QUALITY_BAD_NOT_CONNECTED
    BAD_DEVICE_FAILURE = lib.TW_QUALITY_BAD_DEVICE_FAILURE
    BAD_SENSOR_FAILURE = lib.TW_QUALITY_BAD_SENSOR_FAILURE
    BAD_OUT_OF_SERVICE = lib.TW_QUALITY_BAD_OUT_OF_SERVICE


def quality_name(q: int) -> str:
    return string(lib.tw_quality_name(q))


def quality_is_good(q: int) -> bool:
    return (q >> 30) == 0


def quality_is_bad(q: int) -> bool:
    return (q >> 30) >= 2


def quality_to_sparkplug(q: int) -> int:
    return lib.tw_quality_to_sparkplug(q)


def quality_from_sparkplug(v: int) -> int:
    return lib.tw_quality_from_sparkplug(v)


# ---- tw_value <-> Python ---------------------------------------------------------------------------

_INT_TYPES = (lib.TW_TYPE_INT8, lib.TW_TYPE_INT16, lib.TW_TYPE_INT32, lib.TW_TYPE_INT64)
_UINT_TYPES = (lib.TW_TYPE_UINT8, lib.TW_TYPE_UINT16, lib.TW_TYPE_UINT32, lib.TW_TYPE_UINT64)


def value_to_py(v: Any) -> Any:
    """A Python object for a tw_value (struct or pointer): None, bool, int, float, str, bytes."""
    t = v.type
    u = getattr(v, "as")
    if t == lib.TW_TYPE_NONE:
        return None
    if t == lib.TW_TYPE_BOOL:
        return bool(u.b)
    if t in _INT_TYPES or t == lib.TW_TYPE_DATETIME:
        return int(u.i)
    if t in _UINT_TYPES:
        return int(u.u)
    if t == lib.TW_TYPE_FLOAT:
        return float(u.f)
    if t == lib.TW_TYPE_DOUBLE:
        return float(u.d)
    if t in (lib.TW_TYPE_STRING, lib.TW_TYPE_BYTES):
        if u.buf.len == 0:
            raw = b""
        else:
            raw = bytes(ffi.buffer(ffi.cast("const char *", u.buf.ptr), u.buf.len))
        return raw.decode("utf-8", "replace") if t == lib.TW_TYPE_STRING else raw
    return None


def value_from_py(out: Any, value: Any, keep: list, type_hint: Optional[int] = None) -> None:
    """Fills the tw_value `out` from a Python value; buffers are kept alive in `keep`.
    bool -> BOOL, int -> INT64 (UINT64 above INT64_MAX), float -> DOUBLE, str -> STRING,
    bytes -> BYTES; type_hint (a tw_type) converts numbers to that type."""
    u = getattr(out, "as")
    if isinstance(value, bool):
        out.type = lib.TW_TYPE_BOOL
        u.b = int(value)
    elif isinstance(value, int):
        if value > 0x7FFFFFFFFFFFFFFF:
            out.type = lib.TW_TYPE_UINT64
            u.u = value
        else:
            out.type = lib.TW_TYPE_INT64
            u.i = value
    elif isinstance(value, float):
        out.type = lib.TW_TYPE_DOUBLE
        u.d = value
    elif isinstance(value, str):
        b = value.encode("utf-8")
        buf = ffi.new("char[]", b)
        keep.append(buf)
        out.type = lib.TW_TYPE_STRING
        u.buf.ptr = buf
        u.buf.len = len(b)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        b = bytes(value)
        buf = ffi.new("char[]", b)
        keep.append(buf)
        out.type = lib.TW_TYPE_BYTES
        u.buf.ptr = buf
        u.buf.len = len(b)
    else:
        raise TypeError("cannot pass a %s as a tagwire value" % type(value).__name__)
    if type_hint is not None and type_hint != out.type and type_hint != lib.TW_TYPE_NONE:
        ptr = out if ffi.typeof(out).kind == "pointer" else ffi.addressof(out)
        check(lib.tw_value_convert(ptr, ptr, type_hint))


def convert(value: Any, to: Any) -> Any:
    """Converts a value with tagwire's conversion rules (tw_value_convert); raises RangeError,
    TypeMismatch or ParseError like the tag setters would."""
    keep: list = []
    v = ffi.new("tw_value *")
    value_from_py(v, value, keep)
    check(lib.tw_value_convert(v, v, as_type(to)))
    return value_to_py(v)


def values_equal(a: Any, b: Any) -> bool:
    """tagwire's value equality (same type and value; NaN equals NaN)."""
    keep: list = []
    va, vb = ffi.new("tw_value *"), ffi.new("tw_value *")
    value_from_py(va, a, keep)
    value_from_py(vb, b, keep)
    return bool(lib.tw_value_equal(va, vb))


def utf8_valid(data: bytes) -> bool:
    return bool(lib.tw_utf8_valid(data, len(data)))


def take_value(v: Any) -> Any:
    """Converts a caller-owned tw_value to Python and releases its buffer (tw_value_clear)."""
    try:
        return value_to_py(v)
    finally:
        lib.tw_value_clear(v)


def take_cstring(p: Any, n: Optional[int] = None) -> str:
    """A string tagwire allocated for the caller, released with tw_free()."""
    try:
        if n is None:
            return string(p)
        return bytes(ffi.buffer(p, n)).decode("utf-8", "replace")
    finally:
        lib.tw_free(p)


__all__ = ["reraise"]
