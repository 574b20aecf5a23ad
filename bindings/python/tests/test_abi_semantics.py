"""What the bindings pass for the ABI's "zero means default" rule and the renumbered log levels."""
import pytest

import tagwire
from tagwire import Edge
from tagwire._ffi import lib
from tagwire.core import keep_alive_c

from conftest import free_port


def test_log_levels_follow_the_header():
    assert tagwire.LogLevel.DEFAULT == 0 == lib.TW_LOG_DEFAULT
    assert [int(l) for l in (tagwire.LogLevel.ERROR, tagwire.LogLevel.WARN, tagwire.LogLevel.INFO,
                             tagwire.LogLevel.DEBUG, tagwire.LogLevel.TRACE)] == [1, 2, 3, 4, 5]
    assert tagwire.log_level_name(tagwire.LogLevel.DEFAULT) == "default"
    assert tagwire.log_level_name(tagwire.LogLevel.ERROR) == "error"
    assert tagwire.log_level_name(tagwire.LogLevel.TRACE) == "trace"


def _refused_connect_levels(level):
    seen = []
    tagwire.set_log(lambda lv, mod, msg: seen.append(lv), level)
    try:
        t = tagwire.Transport.tcp_insecure(connect_timeout_ms=2000)
        with pytest.raises(tagwire.Error):
            t.connect_blocking("127.0.0.1", free_port())
        t.close()
    finally:
        tagwire.set_log(None)
    return seen


def test_log_threshold_default_is_warn_and_messages_carry_real_levels():
    verbose = _refused_connect_levels(tagwire.LogLevel.TRACE)
    assert verbose and all(tagwire.LogLevel.ERROR <= l <= tagwire.LogLevel.TRACE for l in verbose)
    for threshold, limit in ((tagwire.LogLevel.DEFAULT, tagwire.LogLevel.WARN),
                             (tagwire.LogLevel.WARN, tagwire.LogLevel.WARN),
                             (tagwire.LogLevel.ERROR, tagwire.LogLevel.ERROR)):
        got = _refused_connect_levels(threshold)
        assert got == [l for l in verbose if l <= limit], threshold


def test_init_again_keeps_the_python_log_hook():
    seen = []
    tagwire.set_log(lambda lv, mod, msg: seen.append(msg), tagwire.LogLevel.DEBUG)
    try:
        tagwire.init()  # no log hook of its own: must not fail with TW_ERR_BUSY
        tagwire.shutdown()
        t = tagwire.Transport.tcp_insecure(connect_timeout_ms=2000)
        with pytest.raises(tagwire.Error):
            t.connect_blocking("127.0.0.1", free_port())
        t.close()
        assert seen, "the hook was replaced by init()"
    finally:
        tagwire.set_log(None)
    assert tagwire.is_initialized()


def test_keep_alive_mapping():
    assert keep_alive_c(None) == 0                      # the library's default
    assert keep_alive_c(0) == lib.TW_MQTT_KEEPALIVE_OFF  # MQTT's "no keep-alive"
    assert keep_alive_c(30) == 30 and keep_alive_c(65534) == 65534
    for bad in (-1, 65535, 70000):
        with pytest.raises(ValueError):
            keep_alive_c(bad)


def test_edge_qos_choices():
    for qos in (None, 0, 1):
        with Edge("PlantA", "Edge1", "127.0.0.1", 1883, insecure=True, qos=qos,
                  keep_alive_s=0 if qos == 0 else None):
            pass
    with pytest.raises(ValueError):
        Edge("PlantA", "Edge1", "127.0.0.1", 1883, insecure=True, qos=2)


def test_edge_max_value_len():
    # 64 KiB max_payload minus TW_EDGE_VALUE_OVERHEAD: a longer STRING/BYTES max_len is refused
    with Edge("PlantA", "Edge1", "127.0.0.1", 1883, insecure=True) as e:
        assert e.max_value_len == 65536 - lib.TW_EDGE_VALUE_OVERHEAD


def test_mqtt_reconnect_off_stays_disconnected():
    from tagwire import MqttClient, Transport
    from tagwire.mqtt import State
    import time
    port = free_port()  # nothing listens: the connection is refused
    for reconnect in (False, True):
        with MqttClient(Transport.tcp_insecure(connect_timeout_ms=2000), "127.0.0.1", port,
                        client_id="py-abi", reconnect=reconnect) as c:
            c.connect()
            end = time.monotonic() + 5
            while c.state not in (State.DISCONNECTED, State.WAITING) and time.monotonic() < end:
                try:
                    c.step(50)
                except tagwire.Error:
                    pass
            # Watch the state for a while. The back-off delay is jittered in [0, min], so with
            # reconnect on the client may already be CONNECTING again: never DISCONNECTED.
            seen = {c.state}
            for _ in range(10):
                try:
                    c.step(20)
                except tagwire.Error:
                    pass
                seen.add(c.state)
            if reconnect:
                assert State.WAITING in seen, seen
                assert State.DISCONNECTED not in seen, seen
            else:
                assert seen == {State.DISCONNECTED}, seen
