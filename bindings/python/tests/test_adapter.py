"""The simulator, the poller and an adapter implemented in Python."""
import pytest
import tagwire
from tagwire import ItemInfo, lib


def test_sim_and_poller():
    with tagwire.Device("sim://?clock=virtual&tick=100ms") as dev, tagwire.Poller() as p:
        c = dev.add_item("counter:start=1")
        m = dev.add_item("memory:value=5")
        assert dev.scheme == "sim"
        assert dev.read([c, c])[0].value in (1, 2)
        dev.write(m, 7.5)
        assert dev.read_one(m) == 7.5
        got = []
        g = p.add_group(dev, 10, [c, m], lambda grp, ids, samples: got.append((grp, ids, samples)))
        for _ in range(3):
            p.step(100)
        assert len(got) >= 3 and got[0][1] == [c, m] and got[0][2][1].value == 7.5
        assert p.group_stats(g).cycles == len(got)
        assert p.next_due_ms >= 0

        def boom(*a):
            raise RuntimeError("in poll callback")
        p.add_group(dev, 10, [c], boom)
        with pytest.raises(RuntimeError, match="in poll callback"):
            for _ in range(5):
                p.step(100)


class Machine(tagwire.Adapter):
    """A vendor's machine served by name: rpm (double), state (string), setpoint (writable)."""

    def __init__(self):
        self.vars = {"rpm": 1200.0, "state": "RUNNING", "setpoint": 0.0}
        self.opened = []
        self.closed = 0

    def parse_address(self, address):
        if address not in self.vars:
            raise tagwire.AdapterError(lib.TW_ERR_ADDRESS, "machine: no variable '%s'" % address)
        if address == "state":
            return ItemInfo(address, "string", max_bytes=32)
        return ItemInfo(address, "double", writable=address == "setpoint")

    def open(self, uri):
        if uri.host != "press7":
            raise tagwire.Error(lib.TW_ERR_CONFIG, "machine: unknown host " + uri.host)
        self.opened.append(uri)
        return {"host": uri.host}

    def close(self, ctx):
        self.closed += 1

    def read(self, ctx, items):
        if self.vars["rpm"] < 0:
            raise ZeroDivisionError("sensor exploded")
        return [(self.vars[i], 0, 0) for i in items]

    def write(self, ctx, item, value):
        self.vars[item] = value


def test_python_adapter():
    m = Machine()
    with tagwire.register_adapter("acme", m, "ACME machines") as reg:
        assert "acme" in tagwire.adapters() and reg.scheme == "acme"
        assert tagwire.check_address("acme", "state") is tagwire.Type.STRING
        with pytest.raises(tagwire.Error) as e:
            tagwire.Device("acme://other")
        assert e.value.code == lib.TW_ERR_CONFIG and "unknown host other" in e.value.message
        with tagwire.Device("acme://press7:99/line?x=1") as dev:
            assert m.opened[0].port == 99 and m.opened[0].params == {"x": "1"}
            rpm, state, sp = (dev.add_item(a) for a in ("rpm", "state", "setpoint"))
            with pytest.raises(tagwire.AdapterError) as e:
                dev.add_item("torque")
            assert "no variable 'torque'" in e.value.message
            assert [s.value for s in dev.read([rpm, state])] == [1200.0, "RUNNING"]
            dev.write(sp, 55.5)
            assert m.vars["setpoint"] == 55.5
            with pytest.raises(tagwire.Error) as e:
                dev.write(rpm, 1.0)  # not writable: refused by the C layer
            assert e.value.code == lib.TW_ERR_UNSUPPORTED
            m.vars["rpm"] = -1.0
            with pytest.raises(ZeroDivisionError, match="sensor exploded"):
                dev.read([rpm])  # the Python exception comes back, not just a status
            m.vars["rpm"] = 5.0
            assert dev.read_one(rpm) == 5.0
        assert m.closed == 1
    assert "acme" not in tagwire.adapters()
