"""Sparkplug B payloads, topics and STATE messages (tagwire/sparkplug.h)."""
from __future__ import annotations

import enum
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ._ffi import cstr, ffi, lib, opt_string, string
from .core import Type, take_cstring, value_from_py, value_to_py
from .errors import SparkplugError, check

FLAG_HISTORICAL = lib.TW_SP_METRIC_HISTORICAL
FLAG_TRANSIENT = lib.TW_SP_METRIC_TRANSIENT
FLAG_NULL = lib.TW_SP_METRIC_NULL
FLAG_QUALITY = lib.TW_SP_METRIC_QUALITY
FLAG_NO_ALIAS = lib.TW_SP_METRIC_NO_ALIAS
FLAG_NO_DATATYPE = lib.TW_SP_METRIC_NO_DATATYPE
FLAG_NO_TIMESTAMP = lib.TW_SP_METRIC_NO_TIMESTAMP


class MsgType(enum.IntEnum):
    NONE = lib.TW_SP_MSG_NONE
    NBIRTH = lib.TW_SP_MSG_NBIRTH
    NDEATH = lib.TW_SP_MSG_NDEATH
    DBIRTH = lib.TW_SP_MSG_DBIRTH
    DDEATH = lib.TW_SP_MSG_DDEATH
    NDATA = lib.TW_SP_MSG_NDATA
    DDATA = lib.TW_SP_MSG_DDATA
    NCMD = lib.TW_SP_MSG_NCMD
    DCMD = lib.TW_SP_MSG_DCMD
    STATE = lib.TW_SP_MSG_STATE

    @property
    def msg_name(self) -> Optional[str]:
        return opt_string(lib.tw_sp_msg_type_name(self))


def datatype_from_type(t: int) -> int:
    return lib.tw_sp_datatype_from_type(t)


def type_from_datatype(dt: int) -> Type:
    return Type(lib.tw_sp_type_from_datatype(dt))


def datatype_name(dt: int) -> str:
    return string(lib.tw_sp_datatype_name(dt))


class Metric(NamedTuple):
    """A metric to encode, or one decoded."""
    name: Optional[str]
    value: Any
    alias: int = 0
    ts_ms: int = 0
    quality: int = 0
    flags: int = 0
    unit: Optional[str] = None
    description: Optional[str] = None
    type: Optional[Type] = None            # the value's type (None: from the Python value)
    datatype: int = 0                       # decoded: Sparkplug datatype as sent
    properties: Dict[str, Any] = {}         # decoded: property set


class Payload(NamedTuple):
    timestamp_ms: Optional[int]
    seq: Optional[int]
    uuid: Optional[str]
    body: Optional[bytes]
    metrics: List[Metric]
    text: str   # tw_sp_payload_format(TEXT)
    json: str   # tw_sp_payload_format(JSON)


def decode(data: bytes) -> Payload:
    """Decodes a Sparkplug B payload; raises SparkplugError (TW_ERR_SPARKPLUG_DECODE) with the
    reason for malformed input."""
    out = ffi.new("tw_sp_payload **")
    why = ffi.new("char[]", 256)
    data = bytes(data)
    check(lib.tw_sp_payload_decode(out, data, len(data), why, 256), string(why), SparkplugError)
    p = out[0]
    try:
        metrics = []
        for i in range(p.metric_count):
            dm = p.metrics[i]
            m = dm.metric
            props = {string(dm.properties[j].key): value_to_py(dm.properties[j].value)
                     for j in range(dm.property_count)}
            metrics.append(Metric(opt_string(m.name), value_to_py(m.value), m.alias, m.ts_ms,
                                  m.quality, m.flags, opt_string(m.unit),
                                  opt_string(m.description), Type(m.value.type), dm.datatype,
                                  props))
        texts = []
        for fmt in (lib.TW_SP_FORMAT_TEXT, lib.TW_SP_FORMAT_JSON):
            s = ffi.new("char **")
            n = ffi.new("size_t *")
            check(lib.tw_sp_payload_format(s, n, p, fmt))
            texts.append(take_cstring(s[0], n[0]))
        return Payload(p.timestamp_ms if p.present & lib.TW_SP_HAS_TIMESTAMP else None,
                       p.seq if p.present & lib.TW_SP_HAS_SEQ else None,
                       opt_string(p.uuid),
                       bytes(ffi.buffer(p.body, p.body_len)) if p.body != ffi.NULL else None,
                       metrics, texts[0], texts[1])
    finally:
        lib.tw_sp_payload_free(p)


def _metrics(metrics: Sequence[Metric], keep: list) -> Any:
    arr = ffi.new("tw_sp_metric[]", max(1, len(metrics)))
    keep.append(arr)
    for i, m in enumerate(metrics):
        c = arr[i]
        c.name = cstr(m.name, keep)
        c.alias = m.alias
        c.ts_ms = m.ts_ms
        c.quality = m.quality
        c.flags = m.flags
        c.unit = cstr(m.unit, keep)
        c.description = cstr(m.description, keep)
        if m.value is None:
            c.value.type = int(m.type) if m.type is not None else lib.TW_TYPE_NONE
        else:
            value_from_py(c.value, m.value, keep, int(m.type) if m.type is not None else None)
    return arr


def _encode(fn: Any, timestamp_ms: int, seq: int, metrics: Sequence[Metric]) -> bytes:
    keep: list = []
    arr = _metrics(metrics, keep)
    n = ffi.new("size_t *")
    st = fn(ffi.NULL, 0, n, timestamp_ms, seq, arr, len(metrics))
    if st != lib.TW_ERR_FULL:
        check(st, None, SparkplugError if st != lib.TW_ERR_INVALID_ARG else None)
    buf = ffi.new("uint8_t[]", max(1, n[0]))
    check(fn(buf, n[0], n, timestamp_ms, seq, arr, len(metrics)))
    return bytes(ffi.buffer(buf, n[0]))


def encode_data(metrics: Sequence[Metric], seq: int, timestamp_ms: int) -> bytes:
    """An NDATA/DDATA (or NCMD/DCMD) payload (tw_sp_encode_data)."""
    return _encode(lib.tw_sp_encode_data, timestamp_ms, seq, metrics)


def encode_birth(metrics: Sequence[Metric], seq: int, timestamp_ms: int) -> bytes:
    """An NBIRTH/DBIRTH payload (tw_sp_encode_birth)."""
    return _encode(lib.tw_sp_encode_birth, timestamp_ms, seq, metrics)


def topic(type: int, group_id: Optional[str], edge_node_id: str,
          device_id: Optional[str] = None) -> str:
    """Builds a Sparkplug topic (spBv1.0/group/TYPE/node[/device], or spBv1.0/STATE/host)."""
    keep: list = []
    buf = ffi.new("char[]", 1024)
    n = ffi.new("size_t *")
    check(lib.tw_sp_topic_build(buf, 1024, n, type, cstr(group_id, keep), cstr(edge_node_id, keep),
                                cstr(device_id, keep)))
    return string(buf)


def default_client_id(group_id: str, edge_node_id: str) -> str:
    """The MQTT client id an edge node uses when none is given (tw_sp_default_client_id): at most
    23 bytes, "<group_id>-<edge_node_id>" or a stable shortened form."""
    keep: list = []
    buf = ffi.new("char[]", lib.TW_SP_CLIENT_ID_MAX + 1)
    check(lib.tw_sp_default_client_id(buf, lib.TW_SP_CLIENT_ID_MAX + 1, cstr(group_id, keep),
                                      cstr(edge_node_id, keep)))
    return string(buf)


class Topic(NamedTuple):
    type: MsgType
    group_id: Optional[str]
    edge_node_id: Optional[str]
    device_id: Optional[str]


def parse_topic(topic_name: str) -> Topic:
    b = topic_name.encode("utf-8")
    t = ffi.new("tw_sp_topic *")
    src = ffi.new("char[]", b)
    check(lib.tw_sp_topic_parse(t, src, len(b)))

    def part(p: Any, n: int) -> Optional[str]:
        return bytes(ffi.buffer(p, n)).decode() if n else None

    return Topic(MsgType(t.type), part(t.group_id, t.group_id_len),
                 part(t.edge_node_id, t.edge_node_id_len), part(t.device_id, t.device_id_len))


def parse_state(payload: bytes) -> Tuple[bool, int]:
    """(online, timestamp_ms) of a host application STATE payload."""
    on = ffi.new("int *")
    ts = ffi.new("uint64_t *")
    check(lib.tw_sp_state_parse(on, ts, payload, len(payload)))
    return bool(on[0]), ts[0]


def build_state(online: bool, timestamp_ms: int) -> str:
    buf = ffi.new("char[]", 128)
    check(lib.tw_sp_state_build(buf, 128, ffi.NULL, 1 if online else 0, timestamp_ms))
    return string(buf)
