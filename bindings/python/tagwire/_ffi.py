"""Low-level access: the cffi FFI built from the generated header declarations, and the library.

The declarations in ``_cdef.h`` are generated from tagwire's public headers by ``gen_cdef.py``;
the test suite regenerates them and fails when they differ, so they cannot drift.

The shared library is found, in order, at ``$TAGWIRE_LIBRARY`` (a path), through the dynamic
linker as ``libtagwire.so.<major>``, then ``libtagwire.so``.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

import cffi

ffi = cffi.FFI()
with open(os.path.join(os.path.dirname(__file__), "_cdef.h")) as _f:
    CDEF = _f.read()
ffi.cdef(CDEF)


def _load() -> Any:
    path = os.environ.get("TAGWIRE_LIBRARY")
    if path:
        return ffi.dlopen(path)
    errors = []
    for name in ("libtagwire.so.0", "libtagwire.so", "tagwire"):
        try:
            return ffi.dlopen(name)
        except OSError as e:  # try the next name
            errors.append(str(e))
    raise OSError("cannot load the tagwire library (set TAGWIRE_LIBRARY): " + "; ".join(errors))


lib = _load()

# ---- exceptions raised inside callbacks from C -----------------------------------------------------
# A callback runs inside a C call. A Python exception cannot unwind through C, so the callback
# records it here (per thread: the callback runs on the thread of the C call that invoked it) and
# returns an error status to C; the wrapper re-raises it once the C call has returned.
_tls = threading.local()


def store_exception(exc: BaseException) -> None:
    """Records exc to be re-raised by the next reraise() on this thread (the first one wins).
    On a thread that tagwire created (e.g. the node's own thread after Node.start()) no Python
    call is waiting to re-raise it: it goes to sys.unraisablehook (printed by default)."""
    if type(threading.current_thread()).__name__ == "_DummyThread":
        import sys

        class _Unraisable:
            exc_type, exc_value, exc_traceback = type(exc), exc, exc.__traceback__
            err_msg = "Exception in a tagwire callback on a library thread"
            object = None
        sys.unraisablehook(_Unraisable)  # type: ignore[arg-type]
        return
    if getattr(_tls, "pending", None) is None:
        _tls.pending = exc


def take_exception() -> Optional[BaseException]:
    exc = getattr(_tls, "pending", None)
    _tls.pending = None
    return exc


def reraise() -> None:
    """Re-raises an exception a callback stored during the C call that just returned."""
    exc = getattr(_tls, "pending", None)
    if exc is not None:
        _tls.pending = None
        raise exc


def string(p: Any, default: str = "") -> str:
    """A C string (const char *) as str; default for NULL."""
    if p == ffi.NULL:
        return default
    return ffi.string(p).decode("utf-8", "replace")


def opt_string(p: Any) -> Optional[str]:
    if p == ffi.NULL:
        return None
    return ffi.string(p).decode("utf-8", "replace")


def cstr(s: Optional[str], keep: list) -> Any:
    """A NUL-terminated UTF-8 copy of s owned by `keep` (NULL for None)."""
    if s is None:
        return ffi.NULL
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    buf = ffi.new("char[]", b)
    keep.append(buf)
    return buf
