"""Exceptions: one class per status family, carrying the C status code and message."""
from __future__ import annotations

from typing import Dict, Optional, Type

from ._ffi import ffi, lib, string


class Error(Exception):
    """Base of every tagwire error.

    Attributes:
        code: the tw_status value (negative int).
        name: its symbolic name, e.g. ``"TW_ERR_TIMEOUT"``.
        message: ``tw_strerror(code)``, followed by the handle's last error when there is one.
    """

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = int(code)
        self.name = string(lib.tw_status_name(self.code))
        text = string(lib.tw_strerror(self.code))
        self.detail = detail or ""
        self.message = "%s: %s" % (text, detail) if detail else text
        super().__init__("%s (%s)" % (self.message, self.name))


# Families by code range (tagwire/core.h gives each module 50 codes).
class TlsError(Error):
    """TLS failures (TW_ERR_TLS_*)."""


class MqttError(Error):
    """MQTT failures (TW_ERR_MQTT_*)."""


class AdapterError(Error):
    """Adapter failures (-200..-249): addresses, unknown schemes, device errors."""


class ModbusError(AdapterError):
    """Modbus protocol failures: exception responses, CRC errors."""


class SparkplugError(Error):
    """Sparkplug failures (TW_ERR_SPARKPLUG_*)."""


class StoreError(Error):
    """Store-and-forward failures (TW_ERR_STORE*)."""


class EnrollError(Error):
    """Enrollment failures (TW_ERR_EST*, TW_ERR_HTTP, TW_ERR_IDENTITY)."""


class NodeError(Error):
    """Node runtime failures (-400..-449)."""


class ConfigError(Error):
    """A configuration could not be loaded (TW_ERR_CONFIG, or any failure of a config load)."""


class HttpsError(Error):
    """Any failure of the HTTPS uplink (tagwire.https). The raised exception also derives from
    the class the status code maps to, e.g. ``HttpsError`` + ``ConfigError`` for bad options or
    ``HttpsError`` + ``InvalidArgument`` (a ValueError) for a bad argument."""


# Core codes with a natural Python counterpart also derive from the built-in exception.
class InvalidArgument(Error, ValueError):
    """TW_ERR_INVALID_ARG."""


class TypeMismatch(Error, TypeError):
    """TW_ERR_TYPE_MISMATCH."""


class RangeError(Error, ValueError):
    """TW_ERR_RANGE."""


class ParseError(Error, ValueError):
    """TW_ERR_PARSE."""


class NotFound(Error, LookupError):
    """TW_ERR_NOT_FOUND."""


class Exists(Error):
    """TW_ERR_EXISTS."""


class Timeout(Error, TimeoutError):
    """TW_ERR_TIMEOUT."""


class Closed(Error):
    """TW_ERR_CLOSED (also raised for a Python object already closed)."""


class NotInitialized(Error):
    """TW_ERR_NOT_INITIALIZED."""


class OutOfMemory(Error, MemoryError):
    """TW_ERR_NOMEM."""


_BY_CODE: Dict[int, Type[Error]] = {
    lib.TW_ERR_INVALID_ARG: InvalidArgument,
    lib.TW_ERR_TYPE_MISMATCH: TypeMismatch,
    lib.TW_ERR_RANGE: RangeError,
    lib.TW_ERR_PARSE: ParseError,
    lib.TW_ERR_NOT_FOUND: NotFound,
    lib.TW_ERR_EXISTS: Exists,
    lib.TW_ERR_TIMEOUT: Timeout,
    lib.TW_ERR_CLOSED: Closed,
    lib.TW_ERR_NOT_INITIALIZED: NotInitialized,
    lib.TW_ERR_NOMEM: OutOfMemory,
    lib.TW_ERR_CONFIG: ConfigError,
    lib.TW_ERR_MODBUS_EXCEPTION: ModbusError,
    lib.TW_ERR_CRC: ModbusError,
    lib.TW_ERR_HTTP: EnrollError,
    lib.TW_ERR_IDENTITY: EnrollError,
}


def error_class(code: int) -> Type[Error]:
    """The exception class for a status code."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if -149 <= code <= -100:
        return TlsError
    if -199 <= code <= -150:
        return MqttError
    if -249 <= code <= -200:
        return AdapterError
    if -299 <= code <= -250:
        return SparkplugError
    if -349 <= code <= -300:
        return StoreError
    if -399 <= code <= -350:
        return EnrollError
    if -449 <= code <= -400:
        return NodeError
    return Error


_HTTPS_CLASSES: Dict[Type[Error], Type[Error]] = {}


def https_error_class(code: int) -> Type[Error]:
    """The HttpsError subclass for code: HttpsError combined with error_class(code)."""
    base = error_class(code)
    if base is Error:
        return HttpsError
    cls = _HTTPS_CLASSES.get(base)
    if cls is None:
        cls = type("Https" + base.__name__, (HttpsError, base),
                   {"__doc__": "HttpsError and %s." % base.__name__, "__module__": __name__})
        _HTTPS_CLASSES[base] = cls
    return cls


def make_error(code: int, detail: str = "", cls: Optional[Type[Error]] = None) -> Error:
    """An exception for code; `cls` overrides the class chosen by the code (e.g. ConfigError)."""
    return (cls or error_class(code))(code, detail)


def check(status: int, detail=None, cls: Optional[Type[Error]] = None) -> None:
    """Raises the matching Error when status is not TW_OK. `detail` may be a string or a
    callable returning the handle's last error (only called on failure)."""
    if status != 0:
        d = detail() if callable(detail) else (detail or "")
        raise make_error(status, d, cls)


def thread_error() -> str:
    """The calling thread's last recorded error (tw_last_error(), "<module>: <message>"): the
    detail of a failed constructor or one-shot call, which has no handle to hold it."""
    return string(lib.tw_last_error())


def check_new(status: int, cls: Optional[Type[Error]] = None) -> None:
    """check() for constructors and calls without a handle: the detail is tw_last_error()."""
    check(status, thread_error, cls)


def errbuf(size: int = 512):
    return ffi.new("char[]", size)
