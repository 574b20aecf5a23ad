"""Byte-stream transports and the mutual-TLS configuration (tagwire/transport.h, tls.h,
sys/transport.h)."""
from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple, Optional, Sequence

from ._ffi import cstr, ffi, lib, reraise, store_exception, string
from .errors import Closed, Error, TlsError, check, check_new

POLL_IN = lib.TW_POLL_IN
POLL_OUT = lib.TW_POLL_OUT
TLS_1_2 = lib.TW_TLS_VERSION_1_2
TLS_1_3 = lib.TW_TLS_VERSION_1_3


class TlsConfig:
    """Trust policy and own credentials for mutual-TLS transports (tw_tls_config)."""

    def __init__(self) -> None:
        out = ffi.new("tw_tls_config **")
        check_new(lib.tw_tls_config_new(out))
        self._ptr = out[0]
        self._signer = None

    def close(self) -> None:
        if self._ptr is not None:
            lib.tw_tls_config_free(self._ptr)
            self._ptr = None

    def __enter__(self) -> "TlsConfig":
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
            raise Closed(lib.TW_ERR_CLOSED, "TLS config is closed")
        return self._ptr

    def _check(self, st: int) -> None:
        reraise()
        check(st, lambda: string(lib.tw_tls_config_last_error(self._ptr)))

    @property
    def last_error(self) -> str:
        return string(lib.tw_tls_config_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_tls_config_last_status(self._p()))

    def set_ca_file(self, path: str) -> None:
        self._check(lib.tw_tls_config_set_ca_file(self._p(), os.fspath(path).encode()))

    def set_ca(self, data: bytes) -> None:
        self._check(lib.tw_tls_config_set_ca_mem(self._p(), data, len(data)))

    def set_crl_file(self, path: str) -> None:
        self._check(lib.tw_tls_config_set_crl_file(self._p(), os.fspath(path).encode()))

    def set_crl(self, data: bytes) -> None:
        self._check(lib.tw_tls_config_set_crl_mem(self._p(), data, len(data)))

    def set_credentials_file(self, cert_path: str, key_path: str, password: Optional[str] = None) -> None:
        keep: list = []
        self._check(lib.tw_tls_config_set_credentials_file(
            self._p(), os.fspath(cert_path).encode(), os.fspath(key_path).encode(), cstr(password, keep)))

    def set_credentials(self, cert: bytes, key: bytes, password: Optional[str] = None) -> None:
        keep: list = []
        self._check(lib.tw_tls_config_set_credentials_mem(self._p(), cert, len(cert), key, len(key),
                                                          cstr(password, keep)))

    def set_credentials_signer(self, cert: bytes, sign: Callable[[int, bytes], bytes]) -> None:
        """Own credentials whose key signs through sign(hash_alg, digest) -> signature (DER or
        raw r||s). Runs on the handshaking thread; an exception fails the handshake and is
        re-raised by the call that drove it."""
        @ffi.callback("tw_status(tw_tls_hash, const uint8_t *, size_t, uint8_t *, size_t, size_t *, void *)")
        def _cb(alg, h, hlen, sig, cap, siglen, _ud):
            try:
                s = bytes(sign(int(alg), bytes(ffi.buffer(h, hlen))))
                if len(s) > cap:
                    raise ValueError("signature too long")
                ffi.memmove(sig, s, len(s))
                siglen[0] = len(s)
                return 0
            except BaseException as e:
                store_exception(e)
                return lib.TW_ERR_TLS_CREDENTIALS
        self._signer = _cb
        self._check(lib.tw_tls_config_set_credentials_signer(self._p(), cert, len(cert), _cb, ffi.NULL))

    @property
    def own_not_after(self) -> int:
        v = ffi.new("int64_t *")
        self._check(lib.tw_tls_config_own_not_after(self._p(), v))
        return v[0]

    def set_server_name(self, name: Optional[str]) -> None:
        keep: list = []
        self._check(lib.tw_tls_config_set_server_name(self._p(), cstr(name, keep)))

    def add_pin(self, pin: str) -> None:
        self._check(lib.tw_tls_config_add_pin(self._p(), pin.encode()))

    def set_versions(self, min_version: int = TLS_1_2, max_version: int = TLS_1_3) -> None:
        self._check(lib.tw_tls_config_set_versions(self._p(), min_version, max_version))

    def set_suites(self, suites: Sequence[int]) -> None:
        arr = ffi.new("uint16_t[]", list(suites) or [0])
        self._check(lib.tw_tls_config_set_suites(self._p(), arr, len(suites)))

    def set_resumption(self, enabled: bool) -> None:
        self._check(lib.tw_tls_config_set_resumption(self._p(), 1 if enabled else 0))

    def set_timeouts(self, handshake_ms: int = 0, io_ms: int = 0, post_handshake_ms: int = 0) -> None:
        self._check(lib.tw_tls_config_set_timeouts(self._p(), handshake_ms, io_ms, post_handshake_ms))


class TlsInfo(NamedTuple):
    protocol: int
    protocol_name: str
    suite_id: int
    suite_name: str
    resumed: bool
    peer_subject: str
    peer_not_after: int
    own_not_after: int
    handshake_us: int
    own_role: str = ""   # Modbus/TCP Security role of our certificate (tw_tls_info version 2)
    peer_role: str = ""


def tls_info_from(i) -> "TlsInfo":
    return TlsInfo(i.protocol, string(i.protocol_name), i.suite_id, string(i.suite_name),
                   bool(i.resumed), string(i.peer_subject), i.peer_not_after, i.own_not_after,
                   i.handshake_us, string(i.own_role), string(i.peer_role))


class Transport:
    """A non-blocking byte stream (TCP, mutual TLS, or one implemented in Python)."""

    def __init__(self, ptr: Any, keep: Any = None) -> None:
        self._ptr = ptr
        self._keep = keep

    @classmethod
    def tcp_insecure(cls, connect_timeout_ms: int = 10000, io_timeout_ms: int = 30000,
                     tcp_nodelay: bool = True) -> "Transport":
        """Plain TCP (tests and plaintext-by-definition protocols only)."""
        o = ffi.new("tw_transport_options *")
        o.version = lib.TW_TRANSPORT_OPTIONS_VERSION
        o.connect_timeout_ms, o.io_timeout_ms = connect_timeout_ms, io_timeout_ms
        o.tcp_nodelay = lib.TW_TCP_NODELAY if tcp_nodelay else lib.TW_TCP_NAGLE
        out = ffi.new("tw_transport **")
        check(lib.tw_transport_new_tcp_insecure(out, o))
        return cls(out[0])

    @classmethod
    def tls(cls, config: TlsConfig, inner: Optional["Transport"] = None,
            tcp_nodelay: bool = True) -> "Transport":
        """Mutual TLS with `config` (over `inner`, whose ownership passes to the new transport)."""
        o = ffi.new("tw_tls_options *")
        o.version = lib.TW_TLS_OPTIONS_VERSION
        o.inner = inner._p() if inner is not None else ffi.NULL
        o.tcp_nodelay = lib.TW_TCP_NODELAY if tcp_nodelay else lib.TW_TCP_NAGLE
        out = ffi.new("tw_transport **")
        check(lib.tw_transport_new_tls(out, config._p(), o))
        if inner is not None:
            inner._ptr = None
        return cls(out[0], inner._keep if inner is not None else None)

    @classmethod
    def custom(cls, impl: Any, secure: bool = False) -> "Transport":
        """Wraps a Python object with non-blocking connect(host, port), read(n) -> bytes
        (raise tagwire.Error(TW_ERR_AGAIN) when nothing is there), write(data) -> int, close(),
        and optionally fileno(), events(), pending() (tw_transport_new_custom)."""
        def _wrap(fn: Callable[..., int]) -> Callable[..., int]:
            def inner(*a: Any) -> int:
                try:
                    return fn(*a)
                except Error as e:
                    if e.code != lib.TW_ERR_AGAIN:
                        store_exception(e)
                    return e.code
                except BaseException as e:
                    store_exception(e)
                    return lib.TW_ERR_IO
            return inner

        def _read(_ctx, buf, n, nread):
            data = impl.read(n)
            ffi.memmove(buf, data, len(data))
            nread[0] = len(data)
            return 0

        def _write(_ctx, buf, n, nw):
            nw[0] = impl.write(bytes(ffi.buffer(buf, n)))
            return 0

        def _close(_ctx):
            try:
                impl.close()
            except BaseException as e:
                store_exception(e)

        cbs = [ffi.callback("tw_status(void *, const char *, uint16_t)",
                            _wrap(lambda _c, h, p: impl.connect(string(h), p) or 0)),
               ffi.callback("tw_status(void *, void *, size_t, size_t *)", _wrap(_read)),
               ffi.callback("tw_status(void *, const void *, size_t, size_t *)", _wrap(_write)),
               ffi.callback("int(void *)", lambda _c: impl.fileno() if hasattr(impl, "fileno") else -1),
               ffi.callback("unsigned(void *)",
                            lambda _c: impl.events() if hasattr(impl, "events") else POLL_IN),
               ffi.callback("size_t(void *)", lambda _c: impl.pending() if hasattr(impl, "pending") else 0),
               ffi.callback("void(void *)", _close)]
        ops = ffi.new("tw_transport_ops *")
        ops.version = lib.TW_TRANSPORT_OPS_VERSION
        ops.connect, ops.read, ops.write, ops.fd, ops.events, ops.pending, ops.close = cbs
        ops.destroy = ffi.NULL
        ops.secure = 1 if secure else 0
        out = ffi.new("tw_transport **")
        check(lib.tw_transport_new_custom(out, ops, ffi.NULL))
        return cls(out[0], (ops, cbs, impl))

    def close(self) -> None:
        """Closes and frees the transport."""
        if self._ptr is not None:
            lib.tw_transport_free(self._ptr)
            self._ptr = None

    def __enter__(self) -> "Transport":
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
            raise Closed(lib.TW_ERR_CLOSED, "transport is closed or owned by another object")
        return self._ptr

    def _check(self, st: int) -> None:
        reraise()
        check(st, lambda: string(lib.tw_transport_last_error(self._ptr)))

    def connect(self, host: str, port: int) -> bool:
        """One non-blocking connect step: True when connected, False while in progress."""
        st = lib.tw_transport_connect(self._p(), host.encode(), port)
        if st == lib.TW_ERR_AGAIN:
            return False
        self._check(st)
        return True

    def connect_blocking(self, host: str, port: int) -> None:
        self._check(lib.tw_transport_connect_blocking(self._p(), host.encode(), port))

    def read(self, n: int = 65536) -> Optional[bytes]:
        """Non-blocking read: bytes, or None when nothing is available (Closed at end of stream)."""
        buf = ffi.new("char[]", n)
        got = ffi.new("size_t *")
        st = lib.tw_transport_read(self._p(), buf, n, got)
        if st == lib.TW_ERR_AGAIN:
            return None
        self._check(st)
        return bytes(ffi.buffer(buf, got[0]))

    def write(self, data: bytes) -> int:
        """Non-blocking write: the number of bytes accepted (0 when none could be)."""
        n = ffi.new("size_t *")
        st = lib.tw_transport_write(self._p(), data, len(data), n)
        if st == lib.TW_ERR_AGAIN:
            return 0
        self._check(st)
        return n[0]

    def read_blocking(self, n: int = 65536) -> bytes:
        buf = ffi.new("char[]", n)
        got = ffi.new("size_t *")
        self._check(lib.tw_transport_read_blocking(self._p(), buf, n, got))
        return bytes(ffi.buffer(buf, got[0]))

    def write_all(self, data: bytes) -> None:
        self._check(lib.tw_transport_write_all(self._p(), data, len(data)))

    def fileno(self) -> int:
        return lib.tw_transport_fd(self._p())

    @property
    def events(self) -> int:
        return lib.tw_transport_events(self._p())

    @property
    def pending(self) -> int:
        return lib.tw_transport_pending(self._p())

    def wait(self, events: int = POLL_IN, timeout_ms: int = -1) -> bool:
        """True when ready, False on timeout."""
        st = lib.tw_transport_wait(self._p(), events, timeout_ms)
        if st == lib.TW_ERR_TIMEOUT:
            return False
        self._check(st)
        return True

    def disconnect(self) -> None:
        """Closes the connection (tw_transport_close); the transport can connect again."""
        lib.tw_transport_close(self._p())
        reraise()

    @property
    def last_error(self) -> str:
        return string(lib.tw_transport_last_error(self._p()))

    @property
    def last_status(self) -> int:
        return lib.tw_transport_last_status(self._p())

    @property
    def secure(self) -> bool:
        return bool(lib.tw_transport_is_secure(self._p()))

    def tls_info(self) -> TlsInfo:
        i = ffi.new("tw_tls_info *")
        i.version = lib.TW_TLS_INFO_VERSION
        check(lib.tw_transport_tls_info(self._p(), i), None, TlsError)
        return tls_info_from(i)
