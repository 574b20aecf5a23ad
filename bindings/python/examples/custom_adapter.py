"""A protocol adapter implemented in Python and used through tagwire's device API.

    TAGWIRE_LIBRARY=build/release/libtagwire.so PYTHONPATH=bindings/python \
        /usr/bin/python3 bindings/python/examples/custom_adapter.py
"""
import tagwire
from tagwire import ItemInfo, lib


class Machine(tagwire.Adapter):
    def __init__(self):
        self.values = {"spindle_rpm": 0.0, "setpoint": 1500.0, "state": "IDLE"}

    def parse_address(self, address):
        if address not in self.values:
            raise tagwire.AdapterError(lib.TW_ERR_ADDRESS, "no variable %r" % address)
        if address == "state":
            return ItemInfo(address, "string", max_bytes=16)
        return ItemInfo(address, "double", writable=address == "setpoint")

    def open(self, uri):
        return uri.host

    def read(self, ctx, items):
        v = self.values
        v["spindle_rpm"] += (v["setpoint"] - v["spindle_rpm"]) * 0.5
        v["state"] = "RUNNING" if v["spindle_rpm"] > 10 else "IDLE"
        return [(v[i], tagwire.Quality.GOOD, 0) for i in items]

    def write(self, ctx, item, value):
        self.values[item] = value


with tagwire.register_adapter("acme", Machine(), "ACME presses"):
    with tagwire.Device("acme://press7") as dev:
        rpm, state, sp = (dev.add_item(a) for a in ("spindle_rpm", "state", "setpoint"))
        for _ in range(3):
            print([s.value for s in dev.read([rpm, state])])
        dev.write(sp, 0.0)
        print([s.value for s in dev.read([rpm, state])])
