"""MQTT 3.1.1/5 client over a tagwire transport (tagwire/mqtt.h)."""
from __future__ import annotations

import enum
from typing import Any, Callable, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, reraise, store_exception, string
from ._handle import Handle
from .core import keep_alive_c
from .errors import Closed, MqttError, check, check_new
from .transport import Transport


class State(enum.IntEnum):
    DISCONNECTED = lib.TW_MQTT_DISCONNECTED
    CONNECTING = lib.TW_MQTT_CONNECTING
    CONNECTED = lib.TW_MQTT_CONNECTED
    WAITING = lib.TW_MQTT_WAITING

    @property
    def state_name(self) -> str:
        return string(lib.tw_mqtt_state_name(self))


class Message(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    packet_id: int


class Ack(NamedTuple):
    type: int
    token: int
    packet_id: int
    status: int
    granted_qos: int
    reason_code: int


def topic_valid(topic: str) -> bool:
    return lib.tw_mqtt_topic_check(topic.encode()) == 0


def filter_valid(flt: str) -> bool:
    return lib.tw_mqtt_filter_check(flt.encode()) == 0


class MqttClient(Handle):
    """An MQTT client session; it takes ownership of `transport`. Driven by one thread:
    step()/process() run the callbacks; their exceptions are re-raised by that call."""
    _FREE = lib.tw_mqtt_client_free
    _WHAT = "MQTT client"
    _LAST_ERROR = lib.tw_mqtt_client_last_error

    def __init__(self, transport: Transport, host: str, port: int, *, client_id: str = "",
                 username: Optional[str] = None, password: Optional[bytes] = None,
                 keep_alive_s: Optional[int] = None, will_topic: Optional[str] = None,
                 will_payload: bytes = b"", will_qos: int = 0, will_retain: bool = False,
                 reconnect: bool = True, protocol_version: int = 4,
                 connect_timeout_ms: int = 0) -> None:
        keep: list = []
        o = ffi.new("tw_mqtt_options *")
        o.version = lib.TW_MQTT_OPTIONS_VERSION
        o.host = cstr(host, keep)
        o.port = port
        o.client_id = cstr(client_id, keep)
        o.username = cstr(username, keep)
        if password is not None:
            pw = ffi.new("char[]", bytes(password))
            keep.append(pw)
            o.password, o.password_len = pw, len(password)
        o.keep_alive_s = keep_alive_c(keep_alive_s)
        o.will_topic = cstr(will_topic, keep)
        if will_topic is not None:
            wp = ffi.new("char[]", bytes(will_payload))
            keep.append(wp)
            o.will_payload, o.will_payload_len = wp, len(will_payload)
        o.will_qos, o.will_retain = will_qos, 1 if will_retain else 0
        o.reconnect = lib.TW_MQTT_RECONNECT_ON if reconnect else lib.TW_MQTT_RECONNECT_OFF
        o.protocol_version = protocol_version
        o.connect_timeout_ms = connect_timeout_ms
        out = ffi.new("tw_mqtt_client **")
        check_new(lib.tw_mqtt_client_new(out, transport._p(), o), MqttError)
        self._transport_keep = transport._keep
        transport._ptr = None  # owned by the client now
        self._ptr = out[0]
        self._cbs: dict = {}
        self._token = ffi.new("uint64_t *")

    # callbacks
    def on_message(self, fn: Optional[Callable[[Message], None]]) -> None:
        if fn is None:
            lib.tw_mqtt_client_set_message_cb(self._p(), ffi.NULL, ffi.NULL)
            return

        @ffi.callback("void(tw_mqtt_client *, const tw_mqtt_message *, void *)")
        def _cb(_c, m, _ud):
            try:
                fn(Message(string(m.topic),
                           bytes(ffi.buffer(m.payload, m.payload_len)) if m.payload_len else b"",
                           m.qos, bool(m.retain), bool(m.dup), m.packet_id))
            except BaseException as e:
                store_exception(e)

        self._cbs["message"] = _cb
        lib.tw_mqtt_client_set_message_cb(self._p(), _cb, ffi.NULL)

    def on_ack(self, fn: Optional[Callable[[Ack], None]]) -> None:
        if fn is None:
            lib.tw_mqtt_client_set_ack_cb(self._p(), ffi.NULL, ffi.NULL)
            return

        @ffi.callback("void(tw_mqtt_client *, const tw_mqtt_ack *, void *)")
        def _cb(_c, a, _ud):
            try:
                fn(Ack(a.type, a.token, a.packet_id, a.status, a.granted_qos, a.reason_code))
            except BaseException as e:
                store_exception(e)

        self._cbs["ack"] = _cb
        lib.tw_mqtt_client_set_ack_cb(self._p(), _cb, ffi.NULL)

    def on_state(self, fn: Optional[Callable[[State, int], None]]) -> None:
        if fn is None:
            lib.tw_mqtt_client_set_state_cb(self._p(), ffi.NULL, ffi.NULL)
            return

        @ffi.callback("void(tw_mqtt_client *, tw_mqtt_state, tw_status, void *)")
        def _cb(_c, s, reason, _ud):
            try:
                fn(State(s), reason)
            except BaseException as e:
                store_exception(e)

        self._cbs["state"] = _cb
        lib.tw_mqtt_client_set_state_cb(self._p(), _cb, ffi.NULL)

    # connection
    def connect(self) -> None:
        self._check(lib.tw_mqtt_client_connect(self._p()))

    def connect_blocking(self, timeout_ms: int = -1) -> None:
        self._check(lib.tw_mqtt_client_connect_blocking(self._p(), timeout_ms))

    def disconnect(self, timeout_ms: int = 1000) -> None:
        self._check(lib.tw_mqtt_client_disconnect(self._p(), timeout_ms))

    def step(self, timeout_ms: int = 100) -> None:
        self._check(lib.tw_mqtt_client_step(self._p(), timeout_ms))

    def process(self) -> None:
        self._check(lib.tw_mqtt_client_process(self._p()))

    def fileno(self) -> int:
        return lib.tw_mqtt_client_fd(self._p())

    @property
    def events(self) -> int:
        return lib.tw_mqtt_client_events(self._p())

    @property
    def timeout_ms(self) -> int:
        return lib.tw_mqtt_client_timeout_ms(self._p())

    # requests
    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> int:
        """Queues a PUBLISH; returns its token."""
        payload = bytes(payload)
        self._check(lib.tw_mqtt_client_publish(self._p(), topic.encode(), payload, len(payload),
                                               qos, 1 if retain else 0, self._token))
        return self._token[0]

    def subscribe(self, flt: str, qos: int = 0) -> int:
        self._check(lib.tw_mqtt_client_subscribe(self._p(), flt.encode(), qos, self._token))
        return self._token[0]

    def unsubscribe(self, flt: str) -> int:
        self._check(lib.tw_mqtt_client_unsubscribe(self._p(), flt.encode(), self._token))
        return self._token[0]

    def ping(self) -> int:
        self._check(lib.tw_mqtt_client_ping(self._p(), self._token))
        return self._token[0]

    def flush(self, timeout_ms: int = 5000) -> None:
        self._check(lib.tw_mqtt_client_flush(self._p(), timeout_ms))

    # state
    confirmed = property(lambda s: lib.tw_mqtt_client_confirmed(s._p()))
    next_token = property(lambda s: lib.tw_mqtt_client_next_token(s._p()))
    inflight = property(lambda s: lib.tw_mqtt_client_inflight(s._p()))
    pending_bytes = property(lambda s: lib.tw_mqtt_client_pending_bytes(s._p()))
    last_status = property(lambda s: lib.tw_mqtt_client_last_status(s._p()))

    @property
    def state(self) -> State:
        return State(lib.tw_mqtt_client_state(self._p()))

    @property
    def last_error(self) -> str:
        return string(lib.tw_mqtt_client_last_error(self._p()))

    @property
    def secure(self) -> bool:
        return bool(lib.tw_transport_is_secure(lib.tw_mqtt_client_transport(self._p())))
