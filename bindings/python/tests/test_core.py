import tagwire
from tagwire import lib
import pytest


def test_version_and_features():
    assert tagwire.version() == tagwire.HEADER_VERSION
    assert tagwire.version_string() == "%d.%d.%d" % tagwire.version()
    f = tagwire.features()
    assert "tls" in f and "modbus" in f and "sim" in f
    assert tagwire.is_initialized()


def test_library_context_is_reference_counted():
    with tagwire.Library():
        assert tagwire.is_initialized()
    assert tagwire.is_initialized()  # the package's own reference remains


@pytest.mark.parametrize("code,cls,builtin", [
    (lib.TW_ERR_TIMEOUT, tagwire.Timeout, TimeoutError),
    (lib.TW_ERR_INVALID_ARG, tagwire.InvalidArgument, ValueError),
    (lib.TW_ERR_TLS_UNKNOWN_CA, tagwire.TlsError, tagwire.Error),
    (lib.TW_ERR_MQTT_NOT_AUTHORIZED, tagwire.MqttError, tagwire.Error),
    (lib.TW_ERR_MODBUS_EXCEPTION, tagwire.ModbusError, tagwire.AdapterError),
    (lib.TW_ERR_ADDRESS, tagwire.AdapterError, tagwire.Error),
    (lib.TW_ERR_SPARKPLUG_DECODE, tagwire.SparkplugError, tagwire.Error),
    (lib.TW_ERR_STORE, tagwire.StoreError, tagwire.Error),
    (lib.TW_ERR_EST_AUTH, tagwire.EnrollError, tagwire.Error),
    (lib.TW_ERR_CONFIG, tagwire.ConfigError, tagwire.Error),
    (lib.TW_ERR_NODE_STATE, tagwire.NodeError, tagwire.Error),
])
def test_error_families(code, cls, builtin):
    c = tagwire.error_class(code)
    assert c is cls and issubclass(c, builtin) and issubclass(c, tagwire.Error)
    e = c(code, "detail here")
    assert e.code == code
    assert e.name.startswith("TW_ERR_")
    assert e.message.endswith(": detail here")


def test_conversion_rules_are_the_c_ones():
    assert tagwire.convert(3.5, "int32") == 4  # ties away from zero
    with pytest.raises(tagwire.RangeError):
        tagwire.convert(300, "uint8")
    with pytest.raises(tagwire.TypeMismatch):
        tagwire.convert("x", "double")
    assert tagwire.values_equal(float("nan"), float("nan"))
    assert tagwire.utf8_valid("é".encode()) and not tagwire.utf8_valid(b"\xff")
    assert tagwire.Type.parse("float64") is tagwire.Type.DOUBLE
    assert tagwire.quality_name(tagwire.Quality.BAD_COMM_FAILURE) == "bad-comm-failure"
    assert tagwire.quality_to_sparkplug(tagwire.Quality.GOOD) == 192
    assert tagwire.quality_from_sparkplug(500) == tagwire.Quality.UNCERTAIN_LAST_KNOWN
    assert abs(tagwire.now_ns() - __import__("time").time_ns()) < 5_000_000_000


def test_log_hook_receives_messages_and_carries_exceptions_back():
    seen = []
    tagwire.set_log(lambda lv, mod, msg: seen.append((lv, mod, msg)), tagwire.LogLevel.DEBUG)
    try:
        t = tagwire.Transport.tcp_insecure(connect_timeout_ms=2000)
        from conftest import free_port
        with pytest.raises(tagwire.Error) as ei:
            t.connect_blocking("127.0.0.1", free_port())
        assert ei.value.code == lib.TW_ERR_CONN_REFUSED
        assert "refused" in ei.value.message
        t.close()
        assert seen, "no log message"
        assert all(isinstance(m, str) for _l, _m, m in seen)

        class Boom(Exception):
            pass

        def bad(lv, mod, msg):
            raise Boom(msg)
        tagwire.set_log(bad, tagwire.LogLevel.DEBUG)
        t = tagwire.Transport.tcp_insecure(connect_timeout_ms=2000)
        with pytest.raises(Boom):
            t.connect_blocking("127.0.0.1", free_port())
        t.close()
    finally:
        tagwire.set_log(None)
