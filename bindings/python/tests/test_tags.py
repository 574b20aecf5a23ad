import math

import pytest
import tagwire
from tagwire import Quality, Type, lib


def test_add_set_get_collect():
    with tagwire.TagSet() as ts:
        oil = ts.add("Hydraulics/OilTemp", Type.DOUBLE, unit="degC", description="oil",
                     deadband=0.5, min=0, max=150)
        n = ts.add("Counters/Strokes", "uint64")
        s = ts.add("State", "string", max_len=16)
        b = ts.add("Blob", "bytes")
        assert len(ts) == 4 and [t.name for t in ts] == ["Hydraulics/OilTemp", "Counters/Strokes", "State", "Blob"]
        assert ts["State"] is s and ts.find("nope") is None and ts.find_alias(oil.alias) is oil
        assert oil.unit == "degC" and oil.range == (0.0, 150.0) and oil.type is Type.DOUBLE
        assert oil.get().quality == Quality.BAD_WAITING_FOR_INITIAL
        assert ts.collect() == []
        oil.set(20.0)
        oil.set(20.4)        # inside the deadband: dropped
        n.set(2**64 - 1)
        s.set("RUNNING")
        b.set(b"\x00\x01")
        ch = {c.tag.name: c for c in ts.collect()}
        assert ch["Hydraulics/OilTemp"].value == 20.0
        assert ch["Counters/Strokes"].value == 2**64 - 1
        assert ch["State"].value == "RUNNING" and ch["Blob"].value == b"\x00\x01"
        assert oil.get().value == 20.0 and s.get_bytes() == b"RUNNING"
        oil.set(21.0, Quality.UNCERTAIN, ts_ns=123)
        (c,) = ts.collect()
        assert (c.tag, c.value, c.quality, c.ts_ns) == (oil, 21.0, Quality.UNCERTAIN, 123)
        assert oil.snapshot().value == 21.0


def test_errors_carry_code_and_message():
    with tagwire.TagSet() as ts:
        t = ts.add("A", "uint8")
        with pytest.raises(tagwire.RangeError) as e:
            t.set(300)
        assert e.value.code == lib.TW_ERR_RANGE
        with pytest.raises(tagwire.TypeMismatch):
            t.set("x")
        with pytest.raises(tagwire.Exists) as e:
            ts.add("A", "double")
        assert "A" in e.value.message  # the handle's last error is part of the message
        with pytest.raises(tagwire.ParseError) as e:
            ts.add("bad//name", "double")
        assert e.value.detail
        with pytest.raises(tagwire.ParseError):
            tagwire.validate_name("/x")
        s = ts.add("S", "string", max_len=4)
        with pytest.raises(tagwire.RangeError):
            s.set("too long")
    with pytest.raises(tagwire.Closed):
        t.set(1)


def test_many_changes_are_collected_in_batches():
    with tagwire.TagSet() as ts:
        tags = [ts.add("T/%d" % i, "int32") for i in range(1000)]
        for i, t in enumerate(tags):
            t.set(i)
        assert ts.pending == 1000
        ch = ts.collect()
        assert sorted(c.value for c in ch) == list(range(1000))
        assert ts.collect() == []


def test_scaling_and_raw():
    with tagwire.TagSet() as ts:
        t = ts.add("P", "double", scale=0.1, offset=-10)
        t.set_raw(500)
        assert t.get().value == pytest.approx(40.0)
        assert t.eng_to_raw(40.0) == pytest.approx(500)
        assert t.raw_to_eng(100) == pytest.approx(0.0)
        assert t.scaling == pytest.approx((0.1, -10))


def test_write_callback_and_exceptions_across_the_boundary():
    with tagwire.TagSet() as ts:
        sp = ts.add("Setpoint", "double", access=tagwire.Access.READ_WRITE, min=0, max=100)
        ro = ts.add("ReadOnly", "double")
        got = []

        def on_write(tag, value):
            got.append((tag.name, value))
            tag.set(value)
        sp.set_write_callback(on_write)
        sp.write(42)  # converted to double by the C layer
        assert got == [("Setpoint", 42.0)] and sp.value == 42.0
        with pytest.raises(tagwire.RangeError):
            sp.write(1000)          # outside the engineering range: refused before the callback
        with pytest.raises(tagwire.Error) as e:
            ro.write(1.0)
        assert e.value.code == lib.TW_ERR_PERMISSION

        class Refused(Exception):
            pass

        def refuse(tag, value):
            raise Refused("no writes while running")
        sp.set_write_callback(refuse)
        with pytest.raises(Refused, match="no writes"):
            sp.write(5)

        def refuse_busy(tag, value):
            raise tagwire.Error(lib.TW_ERR_BUSY, "machine busy")
        ts.set_write_callback(refuse_busy)
        sp.set_write_callback(None)  # falls back to the set's callback
        with pytest.raises(tagwire.Error) as e:
            sp.write(5)
        assert e.value.code == lib.TW_ERR_BUSY


def test_notify_and_fd():
    import select
    with tagwire.TagSet() as ts:
        t = ts.add("X", "double")
        calls = []
        ts.set_notify(lambda s: calls.append(s))
        assert select.select([ts], [], [], 0)[0] == []
        t.set(1.0)
        assert calls == [ts]
        assert select.select([ts], [], [], 1)[0] == [ts]
        ts.collect()

        def bad(s):
            raise KeyError("from notify")
        ts.set_notify(bad)
        with pytest.raises(KeyError):
            t.set(2.0)
        ts.set_notify(None)


def test_nan_and_quality_only():
    with tagwire.TagSet() as ts:
        t = ts.add("N", "double")
        t.set(float("nan"))
        assert math.isnan(t.value)
        ts.collect()
        t.set_quality(Quality.BAD_COMM_FAILURE)
        (c,) = ts.collect()
        assert c.quality == Quality.BAD_COMM_FAILURE and math.isnan(c.value)
