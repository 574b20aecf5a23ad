"""Devices, the poll scheduler and Python-implemented adapters (tagwire/adapter.h,
tagwire/sys/adapter.h)."""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._ffi import ffi, lib, reraise, store_exception, string, take_exception
from .core import Type, as_type, value_from_py, value_to_py
from .errors import AdapterError, Closed, Error, check, check_new
from .tags import Sample

POLL_IN = lib.TW_POLL_IN
POLL_OUT = lib.TW_POLL_OUT


def check_address(scheme_or_uri: str, address: str) -> Type:
    """Validates an address for an adapter without a device; returns the item's value type.
    Raises AdapterError (TW_ERR_ADDRESS, TW_ERR_NO_ADAPTER, ...) naming the problem."""
    t = ffi.new("tw_type *")
    err = ffi.new("char[]", 512)
    st = lib.tw_adapter_check_address(scheme_or_uri.encode(), address.encode(), t, err, 512)
    check(st, string(err))
    return Type(t[0])


def adapters() -> List[str]:
    """The registered URI schemes."""
    buf = ffi.new("char[]", 4096)
    n = lib.tw_adapter_list(buf, 4096)
    s = string(buf)
    return s.split(",") if n and s else []


class DeviceStats(NamedTuple):
    connected: bool
    requests: int
    responses: int
    exceptions: int
    timeouts: int
    protocol_errors: int
    connects: int
    connect_failures: int
    disconnects: int
    bytes_sent: int
    bytes_received: int
    last_rtt_ns: int
    mean_rtt_ns: int
    max_rtt_ns: int
    reads: int
    items_read: int
    items_bad: int
    writes: int
    writes_failed: int


class Device:
    """One connection to a device, opened by URI (``modbus+tcp://127.0.0.1:1502?unit=1``,
    ``sim://``, or a scheme registered with register_adapter()). Connects lazily."""

    def __init__(self, uri: str, *, timeout_ms: int = 0, connect_timeout_ms: int = 0,
                 reconnect_min_ms: int = 0, reconnect_max_ms: int = 0,
                 transport: Any = None) -> None:
        o = ffi.new("tw_device_options *")
        o.version = lib.TW_DEVICE_OPTIONS_VERSION
        o.timeout_ms = timeout_ms
        o.connect_timeout_ms = connect_timeout_ms
        o.reconnect_min_ms = reconnect_min_ms
        o.reconnect_max_ms = reconnect_max_ms
        o.transport = transport._p() if transport is not None else ffi.NULL
        out = ffi.new("tw_device **")
        st = lib.tw_device_open(out, uri.encode(), o)
        exc = take_exception()
        if exc is not None:
            if st == 0:
                lib.tw_device_free(out[0])
            raise exc
        check_new(st)
        if transport is not None:
            transport._ptr = None  # owned by the device now
        self._ptr = out[0]
        self._ids = ffi.new("uint32_t[]", 64)
        self._samples = ffi.new("tw_sample[]", 64)
        self._push_cb = None

    def close(self) -> None:
        if self._ptr is not None:
            lib.tw_device_free(self._ptr)
            self._ptr = None
            reraise()

    def __enter__(self) -> "Device":
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
            raise Closed(lib.TW_ERR_CLOSED, "device is closed")
        return self._ptr

    def _detail(self) -> str:
        return string(lib.tw_device_last_error(self._ptr)) if self._ptr is not None else ""

    def _check(self, st: int) -> None:
        reraise()
        check(st, self._detail)

    @property
    def last_error(self) -> str:
        return string(lib.tw_device_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_device_last_status(self._p()))

    @property
    def scheme(self) -> str:
        return string(lib.tw_device_scheme(self._p()))

    def add_item(self, address: str) -> int:
        """Adds an item by address; returns its id. Raises AdapterError naming the problem."""
        idp = ffi.new("uint32_t *")
        self._check(lib.tw_device_add_item(self._p(), idp, address.encode()))
        return idp[0]

    def __len__(self) -> int:
        return lib.tw_device_item_count(self._p())

    def item_type(self, item_id: int) -> Type:
        return Type(lib.tw_device_item_type(self._p(), item_id))

    def read(self, ids: Sequence[int], *, check_quality: bool = True) -> List[Sample]:
        """Reads items (blocking, bounded by the device's timeouts). With check_quality (the
        default) a failure raises; otherwise the samples carry bad qualities."""
        p = self._p()
        n = len(ids)
        if n > len(self._ids):
            self._ids = ffi.new("uint32_t[]", n)
            self._samples = ffi.new("tw_sample[]", n)
        for i, x in enumerate(ids):
            self._ids[i] = x
        st = lib.tw_device_read(p, self._ids, n, self._samples)
        reraise()
        if st and (check_quality or st == lib.TW_ERR_INVALID_ARG):
            check(st, self._detail)
        return [Sample(value_to_py(s.value), s.quality, s.timestamp_ns)
                for s in (self._samples[i] for i in range(n))]

    def read_one(self, item_id: int) -> Any:
        """The value of one item (raises on a bad quality)."""
        return self.read([item_id])[0].value

    def write(self, item_id: int, value: Any) -> None:
        """Writes one item and waits for the confirmation. Integers are passed in the item's
        own type, so any value that fits is accepted."""
        p = self._p()
        keep: list = []
        v = ffi.new("tw_value *")
        hint = lib.tw_device_item_type(p, item_id)
        value_from_py(v, value, keep,
                      hint if isinstance(value, (int, float)) and not isinstance(value, bool)
                      and lib.tw_type_is_numeric(hint) else None)
        self._check(lib.tw_device_write(p, item_id, v))

    def stats(self) -> DeviceStats:
        s = ffi.new("tw_device_stats *")
        s.version = lib.TW_DEVICE_STATS_VERSION
        check(lib.tw_device_stats_get(self._p(), s))
        return DeviceStats(bool(s.connected), s.requests, s.responses, s.exceptions, s.timeouts,
                           s.protocol_errors, s.connects, s.connect_failures, s.disconnects,
                           s.bytes_sent, s.bytes_received, s.last_rtt_ns, s.mean_rtt_ns,
                           s.max_rtt_ns, s.reads, s.items_read, s.items_bad, s.writes,
                           s.writes_failed)

    def tls_info(self) -> Any:
        """The TLS connection of a modbus+tls:// device (a transport.TlsInfo with the Modbus/TCP
        Security roles). TW_ERR_BUSY when not connected (read first)."""
        from .transport import tls_info_from
        i = ffi.new("tw_tls_info *")
        i.version = lib.TW_TLS_INFO_VERSION
        check(lib.tw_device_tls_info(self._p(), i), self._detail)
        return tls_info_from(i)

    # push
    def subscribe(self, ids: Sequence[int], fn: Callable[[int, Sample], None]) -> None:
        """Subscribes items for push (adapters with subscriptions); samples arrive in process()."""
        arr = ffi.new("uint32_t[]", list(ids))

        @ffi.callback("void(uint32_t, const tw_sample *, void *)")
        def _cb(item_id, s, _ud):
            try:
                fn(item_id, Sample(value_to_py(s.value), s.quality, s.timestamp_ns))
            except BaseException as e:
                store_exception(e)

        self._check(lib.tw_device_subscribe(self._p(), arr, len(ids), _cb, ffi.NULL))
        self._push_cb = _cb

    def fds(self, max_fds: int = 16) -> List[Tuple[int, int]]:
        """(descriptor, TW_POLL_* events) pairs to poll for push-capable devices."""
        fds = ffi.new("int[]", max_fds)
        ev = ffi.new("unsigned[]", max_fds)
        n = lib.tw_device_fds(self._p(), fds, ev, max_fds)
        return [(fds[i], ev[i]) for i in range(max(0, n))]

    def process(self) -> None:
        self._check(lib.tw_device_process(self._p()))


class PollGroupStats(NamedTuple):
    rate_ms: int
    cycles: int
    skipped: int
    failed_cycles: int
    items_bad: int
    last_duration_ns: int
    mean_duration_ns: int
    max_duration_ns: int
    max_lateness_ns: int


class Poller:
    """Runs groups of device items at fixed rates on the caller's thread (tw_poller)."""

    def __init__(self) -> None:
        out = ffi.new("tw_poller **")
        check_new(lib.tw_poller_new(out))
        self._ptr = out[0]
        self._cbs: List[Any] = []
        self._devices: List[Device] = []

    def close(self) -> None:
        if self._ptr is not None:
            lib.tw_poller_free(self._ptr)
            self._ptr = None
            self._cbs.clear()

    def __enter__(self) -> "Poller":
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
            raise Closed(lib.TW_ERR_CLOSED, "poller is closed")
        return self._ptr

    def add_group(self, device: Device, rate_ms: int, ids: Sequence[int],
                  fn: Callable[[int, List[int], List[Sample]], None]) -> int:
        """fn(group, ids, samples) runs once per cycle inside step(); returns the group id."""
        arr = ffi.new("uint32_t[]", list(ids))
        gout = ffi.new("uint32_t *")

        @ffi.callback("void(uint32_t, const uint32_t *, const tw_sample *, size_t, void *)")
        def _cb(group, idp, samples, n, _ud):
            try:
                fn(group, [idp[i] for i in range(n)],
                   [Sample(value_to_py(samples[i].value), samples[i].quality,
                           samples[i].timestamp_ns) for i in range(n)])
            except BaseException as e:
                store_exception(e)

        check(lib.tw_poller_add_group(self._p(), gout, device._p(), rate_ms, arr, len(ids), _cb,
                                      ffi.NULL))
        self._cbs.append(_cb)
        self._devices.append(device)
        return gout[0]

    def step(self, max_wait_ms: int = -1) -> bool:
        """Runs the due groups (sleeping up to max_wait_ms for one); False when none was due."""
        st = lib.tw_poller_step(self._p(), max_wait_ms)
        reraise()
        if st == lib.TW_ERR_TIMEOUT:
            return False
        check(st)
        return True

    @property
    def next_due_ms(self) -> int:
        return lib.tw_poller_next_due_ms(self._p())

    def group_stats(self, group: int) -> PollGroupStats:
        s = ffi.new("tw_poll_group_stats *")
        s.version = lib.TW_POLL_GROUP_STATS_VERSION
        check(lib.tw_poller_group_stats_get(self._p(), group, s))
        return PollGroupStats(s.rate_ms, s.cycles, s.skipped, s.failed_cycles, s.items_bad,
                              s.last_duration_ns, s.mean_duration_ns, s.max_duration_ns,
                              s.max_lateness_ns)


# ---- Python-implemented adapters -------------------------------------------------------------------

class ItemInfo(NamedTuple):
    """What Adapter.parse_address() returns: the item object, its type, STRING/BYTES capacity
    and whether write() can write it."""
    item: Any
    type: Any
    max_bytes: int = 0
    writable: bool = False


class Uri(NamedTuple):
    uri: str
    scheme: str
    host: str
    port: int
    path: str
    params: Dict[str, str]


class Adapter:
    """Base class of an adapter implemented in Python and registered with register_adapter().

    Override parse_address(), open(), read(), and optionally write() and close(). Raising
    tagwire.Error reports its code and message to the caller of the C function; any other
    exception is reported as TW_ERR_ADAPTER and re-raised in Python by the Device call
    (Device(), add_item(), read(), write()) that triggered it.
    Calls come from the thread that uses the device (see tagwire/sys/adapter.h)."""

    def parse_address(self, address: str) -> ItemInfo:
        raise AdapterError(lib.TW_ERR_ADDRESS, "no addresses")

    def open(self, uri: Uri) -> Any:
        """Returns the connection context passed to read/write/close."""
        return None

    def close(self, ctx: Any) -> None:
        pass

    def read(self, ctx: Any, items: List[Any]) -> List[Tuple[Any, int, int]]:
        """Returns one (value, quality, timestamp_ns or 0) per item (quality 0 = good)."""
        raise NotImplementedError

    def write(self, ctx: Any, item: Any, value: Any) -> None:
        raise AdapterError(lib.TW_ERR_UNSUPPORTED, "read-only")


class _Registration:
    def __init__(self, scheme: str, adapter: Adapter, summary: str) -> None:
        self.scheme = scheme
        self.adapter = adapter
        self.handle = ffi.new_handle(self)
        self.items: Dict[int, Any] = {}   # id -> Python item (kept alive while registered)
        self.ctxs: Dict[int, Any] = {}
        self.next_id = 1
        self.lock = threading.Lock()
        self.keep = [ffi.new("char[]", scheme.encode()), ffi.new("char[]", summary.encode())]
        ops = ffi.new("tw_adapter_ops *")
        ops.version = lib.TW_ADAPTER_OPS_VERSION
        ops.scheme = self.keep[0]
        ops.summary = self.keep[1]
        self.cbs = [
            ffi.callback("tw_status(void *, const char *, void **, tw_adapter_item_info *, char *, size_t)",
                         self._parse),
            ffi.callback("void(void *, void *)", self._free_item),
            ffi.callback("tw_status(void *, void **, const tw_adapter_uri *, const tw_device_options *, char *, size_t)",
                         self._open),
            ffi.callback("void(void *)", self._close),
            ffi.callback("tw_status(void *, void * const *, size_t, tw_adapter_result *, char *, size_t)",
                         self._read),
            ffi.callback("tw_status(void *, void *, const tw_value *, char *, size_t)", self._write),
        ]
        ops.parse_address, ops.free_item, ops.open, ops.close, ops.read, ops.write = self.cbs
        self.ops = ops

    def _new_id(self, table: Dict[int, Any], obj: Any) -> Any:
        with self.lock:
            i = self.next_id
            self.next_id += 1
            table[i] = obj
        return ffi.cast("void *", i)

    @staticmethod
    def _fail(e: BaseException, err: Any, errlen: int) -> int:
        msg = (e.detail or e.message) if isinstance(e, Error) else "%s: %s" % (type(e).__name__, e)
        b = msg.encode("utf-8")[: max(0, errlen - 1)]
        ffi.memmove(err, b + b"\0", len(b) + 1)
        if isinstance(e, Error):
            return e.code
        store_exception(e)
        return lib.TW_ERR_ADAPTER

    def _parse(self, _reg, address, item, info, err, errlen):
        try:
            r = self.adapter.parse_address(string(address))
            info.type = as_type(r.type)
            info.max_bytes = r.max_bytes
            info.writable = 1 if r.writable else 0
            if item != ffi.NULL:
                item[0] = self._new_id(self.items, r.item)
            return 0
        except BaseException as e:
            return self._fail(e, err, errlen)

    def _free_item(self, _reg, item):
        with self.lock:
            self.items.pop(int(ffi.cast("uintptr_t", item)), None)

    def _open(self, _reg, ctx, uri, _opts, err, errlen):
        try:
            params = {string(uri.keys[i]): string(lib.tw_adapter_uri_param(uri, uri.keys[i]))
                      for i in range(uri.nparams)}
            u = Uri(string(uri.uri), string(uri.scheme), string(uri.host), uri.port,
                    string(uri.path), params)
            c = self.adapter.open(u)
            ctx[0] = self._new_id(self.ctxs, c)
            return 0
        except BaseException as e:
            return self._fail(e, err, errlen)

    def _close(self, ctx):
        with self.lock:
            c = self.ctxs.pop(int(ffi.cast("uintptr_t", ctx)), None)
        try:
            self.adapter.close(c)
        except BaseException as e:
            store_exception(e)

    def _read(self, ctx, items, n, results, err, errlen):
        try:
            c = self.ctxs[int(ffi.cast("uintptr_t", ctx))]
            objs = [self.items[int(ffi.cast("uintptr_t", items[i]))] for i in range(n)]
            vals = self.adapter.read(c, objs)
            if len(vals) != n:
                raise ValueError("read() returned %d results for %d items" % (len(vals), n))
            for i, (value, quality, ts) in enumerate(vals):
                r = results[i]
                r.quality = quality
                r.timestamp_ns = ts
                if value is None:
                    continue
                if isinstance(value, (str, bytes)):
                    b = value.encode("utf-8") if isinstance(value, str) else value
                    if len(b) > r.buf_size:
                        raise ValueError("value of %d bytes exceeds the item's %d" % (len(b), r.buf_size))
                    ffi.memmove(r.buf, b, len(b))
                    r.value.type = lib.TW_TYPE_STRING if isinstance(value, str) else lib.TW_TYPE_BYTES
                    getattr(r.value, "as").buf.ptr = r.buf
                    getattr(r.value, "as").buf.len = len(b)
                else:
                    value_from_py(r.value, value, [])
            return 0
        except BaseException as e:
            return self._fail(e, err, errlen)

    def _write(self, ctx, item, value, err, errlen):
        try:
            c = self.ctxs[int(ffi.cast("uintptr_t", ctx))]
            self.adapter.write(c, self.items[int(ffi.cast("uintptr_t", item))], value_to_py(value))
            return 0
        except BaseException as e:
            return self._fail(e, err, errlen)


_registrations: Dict[str, _Registration] = {}
_retired: List[_Registration] = []  # callbacks stay alive for devices opened before unregister


class AdapterRegistration:
    """Returned by register_adapter(); unregister() (or leaving the with block) removes it.
    Devices already open keep working while the registration object is referenced."""

    def __init__(self, reg: _Registration) -> None:
        self._reg = reg

    @property
    def scheme(self) -> str:
        return self._reg.scheme

    def unregister(self) -> None:
        if _registrations.get(self._reg.scheme) is self._reg:
            check(lib.tw_adapter_unregister(self._reg.scheme.encode()))
            _retired.append(_registrations.pop(self._reg.scheme))

    def __enter__(self) -> "AdapterRegistration":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unregister()


def register_adapter(scheme: str, adapter: Adapter, summary: str = "") -> AdapterRegistration:
    """Registers a Python Adapter under a URI scheme (tw_adapter_register)."""
    reg = _Registration(scheme, adapter, summary or type(adapter).__name__)
    check(lib.tw_adapter_register(reg.ops, reg.handle))
    _registrations[scheme] = reg
    return AdapterRegistration(reg)


def unregister_adapter(scheme: str) -> None:
    """Removes a registration (also built-in schemes)."""
    check(lib.tw_adapter_unregister(scheme.encode()))
    if scheme in _registrations:
        _retired.append(_registrations.pop(scheme))
