"""The edge node runtime (tagwire/node.h): sources -> tags -> Sparkplug B uplink."""
from __future__ import annotations

import enum
from typing import Any, List, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, reraise, string, take_exception
from .config import Config
from .errors import Closed, check, check_new
from .tags import Tag, TagSet, _tag_options
from .core import as_type, keep_alive_c
from .transport import TlsConfig


class PollMode(enum.IntEnum):
    AUTO = lib.TW_NODE_POLL_AUTO
    THREADS = lib.TW_NODE_POLL_THREADS
    INLINE = lib.TW_NODE_POLL_INLINE


class Link(enum.IntEnum):
    OFFLINE = lib.TW_NODE_LINK_OFFLINE
    CONNECTING = lib.TW_NODE_LINK_CONNECTING
    ONLINE = lib.TW_NODE_LINK_ONLINE

    @property
    def link_name(self) -> str:
        return string(lib.tw_node_link_name(self))


_NODE_STATS = ("connects", "disconnects", "messages_published", "births", "metrics_published",
               "historical_published", "refused", "queue_dropped", "commands", "commands_failed",
               "queue_depth", "unflushed_metrics", "polls", "poll_errors", "adapter_requests",
               "adapter_errors", "device_writes", "device_write_errors", "devices_offline", "bd_seq",
               "uptime_ms", "store_records", "store_bytes", "store_dropped", "store_refused",
               "store_oldest_time_ms", "store_acked_seq", "store_last_seq", "cert_not_after",
               "cert_renew_at", "cert_renewals", "cert_renew_failures", "cert_rollbacks",
               "cert_last_error")
NodeStats = NamedTuple("NodeStats", [("link", Link)] + [(f, int) for f in _NODE_STATS])  # type: ignore[misc]


class NodeDevice:
    """A Sparkplug device of a Node (owned by the node)."""

    def __init__(self, node: "Node", ptr: Any) -> None:
        self._node = node
        self._ptr = ptr
        self.tags = TagSet._borrow(lib.tw_node_device_tagset(ptr), node)

    def _p(self) -> Any:
        self._node._p()
        return self._ptr

    @property
    def id(self) -> str:
        return string(lib.tw_node_device_id(self._p()))

    @property
    def has_adapter(self) -> bool:
        return lib.tw_node_device_adapter(self._p()) != ffi.NULL

    def add_tag(self, name: str, type: Any, address: Optional[str] = None, scan_rate_ms: int = 0,
                **options: Any) -> Tag:
        """Adds a tag: pushed (address None) or read from the device's adapter at scan_rate_ms.
        Options as TagSet.add() (unit, deadband, access, scale, ...)."""
        keep: list = []
        o = _tag_options(keep, **options)
        out = ffi.new("tw_tag **")
        st = lib.tw_node_device_add_tag(self._p(), out, name.encode(), as_type(type), o,
                                        cstr(address, keep), scan_rate_ms)
        self._node._check(st)
        return self.tags._wrap(out[0])


class Node:
    """One Sparkplug B edge node: node tags, devices (pushed or adapter-polled), the uplink over
    MQTT + mutual TLS. Drive it with start()/stop() (internal thread) or step() in your loop.
    Use as a context manager: leaving it stops the node (death certificate) and frees it."""

    def __init__(self, group_id: Optional[str] = None, edge_node_id: Optional[str] = None,
                 broker: Optional[str] = None, *, config: Optional[Config] = None,
                 tls: Optional[TlsConfig] = None, tls_ca_file: Optional[str] = None,
                 tls_cert_file: Optional[str] = None, tls_key_file: Optional[str] = None,
                 tls_crl_file: Optional[str] = None, tls_server_name: Optional[str] = None,
                 credentials_dir: Optional[str] = None, client_id: Optional[str] = None,
                 keep_alive_s: Optional[int] = None, primary_host_id: Optional[str] = None,
                 insecure: bool = False, store_dir: Optional[str] = None,
                 state_dir: Optional[str] = None, publish_interval_ms: int = 0,
                 max_metrics_per_message: int = 0, queue_bytes: int = 0,
                 shutdown_timeout_ms: int = 0, stats_interval_ms: int = 0,
                 poll_threads: int = PollMode.AUTO, protocol_version: int = 0,
                 qos0: bool = False) -> None:
        out = ffi.new("tw_node **")
        if config is not None:
            st = lib.tw_node_new_from_config(out, config._p())
        else:
            keep: list = []
            o = ffi.new("tw_node_options *")
            o.version = lib.TW_NODE_OPTIONS_VERSION
            o.group_id, o.edge_node_id, o.broker = (cstr(group_id, keep), cstr(edge_node_id, keep),
                                                     cstr(broker, keep))
            o.client_id = cstr(client_id, keep)
            o.keep_alive_s = keep_alive_c(keep_alive_s)
            o.primary_host_id = cstr(primary_host_id, keep)
            o.tls = tls._p() if tls is not None else ffi.NULL
            o.tls_ca_file, o.tls_cert_file = cstr(tls_ca_file, keep), cstr(tls_cert_file, keep)
            o.tls_key_file, o.tls_crl_file = cstr(tls_key_file, keep), cstr(tls_crl_file, keep)
            o.tls_server_name = cstr(tls_server_name, keep)
            o.credentials_dir = cstr(credentials_dir, keep)
            o.insecure = 1 if insecure else 0
            o.store_dir, o.state_dir = cstr(store_dir, keep), cstr(state_dir, keep)
            o.publish_interval_ms = publish_interval_ms
            o.max_metrics_per_message = max_metrics_per_message
            o.queue_bytes = queue_bytes
            o.shutdown_timeout_ms = shutdown_timeout_ms
            o.stats_interval_ms = stats_interval_ms
            o.poll_threads = poll_threads
            o.protocol_version = protocol_version
            o.qos0 = 1 if qos0 else 0
            st = lib.tw_node_new(out, o)
        reraise()
        check_new(st)
        self._ptr = out[0]
        self._started = False
        self.tags = TagSet._borrow(lib.tw_node_tagset(self._ptr), self)

    def close(self) -> None:
        """Stops (if started) and frees the node."""
        if self._ptr is not None:
            if self._started:
                lib.tw_node_stop(self._ptr)
                self._started = False
            lib.tw_node_free(self._ptr)
            self._ptr = None
            self.tags._detach()
            take_exception()

    def __enter__(self) -> "Node":
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
            raise Closed(lib.TW_ERR_CLOSED, "node is closed")
        return self._ptr

    def _check(self, st: int) -> None:
        reraise()
        check(st, lambda: string(lib.tw_node_last_error(self._ptr)))

    @property
    def last_error(self) -> str:
        return string(lib.tw_node_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_node_last_status(self._p()))

    group_id = property(lambda s: string(lib.tw_node_group_id(s._p())))
    edge_node_id = property(lambda s: string(lib.tw_node_edge_node_id(s._p())))

    # set-up
    def add_tag(self, name: str, type: Any, **options: Any) -> Tag:
        """Adds a node-level tag (NBIRTH/NDATA metric) set by the application."""
        keep: list = []
        o = _tag_options(keep, **options)
        out = ffi.new("tw_tag **")
        self._check(lib.tw_node_add_tag(self._p(), out, name.encode(), as_type(type), o))
        return self.tags._wrap(out[0])

    def add_device(self, device_id: str, adapter_uri: Optional[str] = None, *,
                   timeout_ms: int = 0, connect_timeout_ms: int = 0) -> NodeDevice:
        """Adds a Sparkplug device: pushed (no adapter) or read through an adapter URI."""
        keep: list = []
        o = ffi.new("tw_node_device_options *")
        o.version = lib.TW_NODE_DEVICE_OPTIONS_VERSION
        o.adapter_uri = cstr(adapter_uri, keep)
        o.device.version = lib.TW_DEVICE_OPTIONS_VERSION
        o.device.timeout_ms = timeout_ms
        o.device.connect_timeout_ms = connect_timeout_ms
        out = ffi.new("tw_node_device **")
        st = lib.tw_node_add_device(self._p(), out, device_id.encode(), o)
        reraise()
        check(st, lambda: string(lib.tw_node_last_error(self._ptr)))
        return NodeDevice(self, out[0])

    def device(self, device_id: str) -> Optional[NodeDevice]:
        d = lib.tw_node_find_device(self._p(), device_id.encode())
        return None if d == ffi.NULL else NodeDevice(self, d)

    @property
    def devices(self) -> List[NodeDevice]:
        p = self._p()
        return [NodeDevice(self, lib.tw_node_device_at(p, i)) for i in range(lib.tw_node_device_count(p))]

    # running
    def start(self) -> None:
        self._check(lib.tw_node_start(self._p()))
        self._started = True

    def stop(self) -> bool:
        """Stops the node's thread (flush, NDEATH, disconnect); False when metrics were left."""
        st = lib.tw_node_stop(self._p())
        self._started = False
        if st == lib.TW_ERR_TIMEOUT:
            return False
        self._check(st)
        return True

    def step(self, timeout_ms: int = 100) -> None:
        self._check(lib.tw_node_step(self._p(), timeout_ms))

    def fds(self, max_fds: int = 64) -> List[tuple]:
        fds = ffi.new("int[]", max_fds)
        ev = ffi.new("unsigned[]", max_fds)
        n = lib.tw_node_fds(self._p(), fds, ev, max_fds)
        return [(fds[i], ev[i]) for i in range(max(0, n))]

    @property
    def timeout_ms(self) -> int:
        return lib.tw_node_timeout_ms(self._p())

    def flush(self, timeout_ms: int = 5000) -> bool:
        """Step mode: steps until online and everything pending is published; False on timeout."""
        st = lib.tw_node_flush(self._p(), timeout_ms)
        if st == lib.TW_ERR_TIMEOUT:
            reraise()
            return False
        self._check(st)
        return True

    def shutdown(self) -> None:
        self._check(lib.tw_node_shutdown(self._p()))

    def wakeup(self) -> None:
        lib.tw_node_wakeup(self._p())

    def stats(self) -> NodeStats:
        s = ffi.new("tw_node_stats *")
        s.version = lib.TW_NODE_STATS_VERSION
        check(lib.tw_node_stats_get(self._p(), s))
        return NodeStats(Link(s.link), *(int(getattr(s, f)) for f in _NODE_STATS))
