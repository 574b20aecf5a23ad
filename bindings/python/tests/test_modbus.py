"""Reads and writes Modbus addresses against an independent server (libmodbus' tw_mbserver),
and checks the writes with an independent client (pymodbus)."""
import pytest
import tagwire
from tagwire import lib


def test_read_write_against_independent_server(mbserver):
    from pymodbus.client import ModbusTcpClient  # independent client to check what we wrote
    with tagwire.Device("modbus+tcp://127.0.0.1:%d?unit=1" % mbserver, timeout_ms=2000) as dev:
        hr = dev.add_item("hr:100")
        f = dev.add_item("holding-register:9000:FLOAT32")
        coil = dev.add_item("coil:3")
        w = dev.add_item("hr:200")
        ir = dev.add_item("ir:10")
        assert dev.item_type(f) is tagwire.Type.FLOAT and len(dev) == 5
        s = dev.read([hr, f, coil, ir])
        assert [x.value for x in s[:1]] == [100]
        assert s[1].value == pytest.approx(123.456, rel=1e-6)
        assert s[2].value is True and s[3].value == 70
        assert all(tagwire.quality_is_good(x.quality) for x in s)
        dev.write(w, 4242)
        assert dev.read_one(w) == 4242
        dev.write(coil, False)
        assert dev.read_one(coil) is False
        st = dev.stats()
        assert st.connected and st.writes == 2 and st.requests >= 4
        with pytest.raises(tagwire.Error) as e:
            dev.write(ir, 1)  # input registers are read-only
        assert e.value.code == lib.TW_ERR_UNSUPPORTED
        with pytest.raises(tagwire.RangeError):
            dev.write(w, 70000)
        with pytest.raises(tagwire.AdapterError) as e:
            dev.add_item("holding-register:30001")
        assert e.value.code == lib.TW_ERR_ADDRESS and "input-register" in e.value.message
    c = ModbusTcpClient("127.0.0.1", port=mbserver)
    assert c.connect()
    try:
        assert c.read_holding_registers(200, 1, slave=1).registers == [4242]
        assert c.read_coils(3, 1, slave=1).bits[0] is False
    finally:
        c.close()


def test_unreachable_device_reports_bad_quality():
    from conftest import free_port
    with tagwire.Device("modbus+tcp://127.0.0.1:%d" % free_port(), timeout_ms=300,
                        connect_timeout_ms=300) as dev:
        i = dev.add_item("hr:1")
        with pytest.raises(tagwire.Error) as e:
            dev.read([i])
        assert e.value.code == lib.TW_ERR_CONN_REFUSED
        (s,) = dev.read([i], check_quality=False)
        assert tagwire.quality_is_bad(s.quality) and s.value is None


def test_check_address_and_adapter_list():
    assert tagwire.check_address("modbus+tcp", "coil:5") is tagwire.Type.BOOL
    with pytest.raises(tagwire.AdapterError) as e:
        tagwire.check_address("nosuch", "x")
    assert e.value.code == lib.TW_ERR_NO_ADAPTER
    assert {"modbus+tcp", "sim"} <= set(tagwire.adapters())
