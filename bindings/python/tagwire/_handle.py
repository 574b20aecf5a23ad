"""The life cycle every wrapper of an opaque tagwire handle shares (internal)."""
from __future__ import annotations

from typing import Any, TypeVar

from ._ffi import lib, reraise, string
from .errors import Closed, check

_H = TypeVar("_H", bound="Handle")


class Handle:
    """Owns one C handle in `_ptr`. A subclass names its C functions and what it is:
    `_FREE` (e.g. lib.tw_edge_free), `_LAST_ERROR` (e.g. lib.tw_edge_last_error, or None) and
    `_WHAT` (e.g. "edge", for the Closed error). close() is idempotent; a with-block closes it.
    (cffi's functions do not bind as methods: self._FREE(ptr) calls the C function.)"""
    _FREE: Any = None
    _LAST_ERROR: Any = None
    _WHAT = "handle"
    _ptr: Any = None

    def close(self) -> None:
        if self._ptr is not None:
            self._FREE(self._ptr)
            self._ptr = None

    def __enter__(self: _H) -> _H:
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
            raise Closed(lib.TW_ERR_CLOSED, "%s is closed" % self._WHAT)
        return self._ptr

    def _check(self, st: int) -> None:
        """Re-raises a callback's exception, then raises on a failed status with the handle's
        last error as the detail."""
        reraise()
        fn = self._LAST_ERROR
        check(st, (lambda: string(fn(self._ptr))) if fn is not None else None)
