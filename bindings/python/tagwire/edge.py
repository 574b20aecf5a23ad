"""The Sparkplug B edge session (tagwire/edge.h): births, deaths, seq/bdSeq, rebirth, commands,
primary host STATE, over one MQTT connection; you own the tag sets and drive it."""
from __future__ import annotations

import enum
from typing import Any, Callable, Dict, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, reraise, store_exception, string
from ._handle import Handle
from .core import keep_alive_c
from .errors import Closed, check, check_new
from .tags import TagSet
from .transport import TlsConfig


# ---- the Sparkplug edge session on its own -----------------------------------------------------------

class EdgeState(enum.IntEnum):
    STOPPED = lib.TW_EDGE_STOPPED
    CONNECTING = lib.TW_EDGE_CONNECTING
    WAITING_HOST = lib.TW_EDGE_WAITING_HOST
    ONLINE = lib.TW_EDGE_ONLINE
    BACKOFF = lib.TW_EDGE_BACKOFF

    @property
    def state_name(self) -> str:
        return string(lib.tw_edge_state_name(self))


class EdgeEvent(NamedTuple):
    type: int
    state: EdgeState
    status: int
    device_id: Optional[str]
    metric: Optional[str]
    alias: int
    message: str
    host_online: bool
    host_timestamp_ms: int


_EDGE_STATS = ("bdseq", "messages_published", "metrics_published", "historical_published",
               "births", "commands", "command_errors", "connects", "reconnects", "refused",
               "queue_dropped", "queue_depth", "queue_used_bytes", "last_status")
EdgeStats = NamedTuple("EdgeStats", [("state", EdgeState), ("host_online", bool)]
                       + [(f, int) for f in _EDGE_STATS])  # type: ignore[misc]


class Edge(Handle):
    """A Sparkplug B edge session over one MQTT connection (tw_edge): you own the tag sets and
    drive it with step(). The node runtime (Node) builds on it."""
    _FREE = lib.tw_edge_free
    _WHAT = "edge"
    _LAST_ERROR = lib.tw_edge_last_error

    def __init__(self, group_id: str, edge_node_id: str, host: str, port: int, *,
                 tls: Optional[TlsConfig] = None, insecure: bool = False,
                 primary_host_id: Optional[str] = None, client_id: Optional[str] = None,
                 keep_alive_s: Optional[int] = None, protocol_version: int = 0,
                 qos: Optional[int] = None,
                 state_dir: Optional[str] = None, store: Any = None, queue_bytes: int = 0,
                 max_payload: int = 0, max_metrics: int = 0, connect_timeout_ms: int = 0) -> None:
        keep: list = []
        o = ffi.new("tw_edge_options *")
        o.version = lib.TW_EDGE_OPTIONS_VERSION
        o.group_id, o.edge_node_id = cstr(group_id, keep), cstr(edge_node_id, keep)
        o.primary_host_id = cstr(primary_host_id, keep)
        o.host, o.port = cstr(host, keep), port
        o.client_id = cstr(client_id, keep)
        o.keep_alive_s = keep_alive_c(keep_alive_s)
        o.protocol_version = protocol_version
        # qos: None = default (QoS 1); 1; 0 = Sparkplug-strict QoS 0 for births and data
        if qos is None:
            o.qos = lib.TW_EDGE_QOS_DEFAULT
        elif qos in (0, 1):
            o.qos = lib.TW_EDGE_QOS0 if qos == 0 else lib.TW_EDGE_QOS1
        else:
            raise ValueError("qos must be None, 0 or 1")
        o.tls = tls._p() if tls is not None else ffi.NULL
        o.insecure = 1 if insecure else 0
        o.state_dir = cstr(state_dir, keep)
        o.store = store._p() if store is not None else ffi.NULL  # history + bdSeq in a Store
        o.queue_bytes, o.max_payload, o.max_metrics = queue_bytes, max_payload, max_metrics
        o.connect_timeout_ms = connect_timeout_ms
        out = ffi.new("tw_edge **")
        check_new(lib.tw_edge_new(out, o))
        self._ptr = out[0]
        self._sets: Dict[str, TagSet] = {}
        self._store = store  # must outlive the edge
        self._cb = None

    def set_node_tags(self, ts: Optional[TagSet]) -> None:
        self._check(lib.tw_edge_set_node_tags(self._p(), ts._p() if ts is not None else ffi.NULL))
        if ts is not None:
            self._sets[""] = ts

    def add_device(self, device_id: str, ts: TagSet) -> None:
        self._check(lib.tw_edge_add_device(self._p(), device_id.encode(), ts._p()))
        self._sets[device_id] = ts

    def remove_device(self, device_id: str) -> None:
        self._check(lib.tw_edge_remove_device(self._p(), device_id.encode()))

    def set_device_online(self, device_id: str, online: bool) -> None:
        self._check(lib.tw_edge_device_set_online(self._p(), device_id.encode(), 1 if online else 0))

    def on_event(self, fn: Optional[Callable[[EdgeEvent], None]]) -> None:
        if fn is None:
            lib.tw_edge_set_event_cb(self._p(), ffi.NULL, ffi.NULL)
            self._cb = None
            return

        @ffi.callback("void(tw_edge *, const tw_edge_event *, void *)")
        def _cb(_e, ev, _ud):
            try:
                fn(EdgeEvent(ev.type, EdgeState(ev.state), ev.status,
                             None if ev.device_id == ffi.NULL else string(ev.device_id),
                             None if ev.metric == ffi.NULL else string(ev.metric), ev.alias,
                             string(ev.message), bool(ev.host_online), ev.host_timestamp_ms))
            except BaseException as e:
                store_exception(e)
        self._cb = _cb
        lib.tw_edge_set_event_cb(self._p(), _cb, ffi.NULL)

    def start(self) -> None:
        self._check(lib.tw_edge_start(self._p()))

    def stop(self, timeout_ms: int = 2000) -> bool:
        st = lib.tw_edge_stop(self._p(), timeout_ms)
        if st == lib.TW_ERR_TIMEOUT:
            return False
        self._check(st)
        return True

    def step(self, timeout_ms: int = 100) -> None:
        self._check(lib.tw_edge_step(self._p(), timeout_ms))

    def process(self) -> None:
        self._check(lib.tw_edge_process(self._p()))

    def publish(self) -> None:
        self._check(lib.tw_edge_publish(self._p()))

    def rebirth(self) -> None:
        self._check(lib.tw_edge_rebirth(self._p()))

    def fileno(self) -> int:
        return lib.tw_edge_fd(self._p())

    @property
    def events(self) -> int:
        return lib.tw_edge_events(self._p())

    @property
    def timeout_ms(self) -> int:
        return lib.tw_edge_timeout_ms(self._p())

    @property
    def state(self) -> EdgeState:
        return EdgeState(lib.tw_edge_state_get(self._p()))

    @property
    def last_error(self) -> str:
        return string(lib.tw_edge_last_error(self._p()))

    @property
    def last_status(self) -> int:
        return lib.tw_edge_last_status(self._p())

    @property
    def max_value_len(self) -> int:
        """The longest STRING/BYTES value (bytes) this edge can publish; longer max_len is refused."""
        return int(lib.tw_edge_max_value_len(self._p()))

    def stats(self) -> EdgeStats:
        s = ffi.new("tw_edge_stats *")
        s.version = lib.TW_EDGE_STATS_VERSION
        self._check(lib.tw_edge_stats_get(self._p(), s))
        return EdgeStats(EdgeState(s.state), bool(s.host_online), *(int(getattr(s, f)) for f in _EDGE_STATS))
