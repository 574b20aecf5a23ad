"""Reads and writes Modbus TCP registers.

    TAGWIRE_LIBRARY=build/release/libtagwire.so PYTHONPATH=bindings/python \
        /usr/bin/python3 bindings/python/examples/modbus_rw.py 127.0.0.1:1502
"""
import sys

import tagwire

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:502"
with tagwire.Device("modbus+tcp://%s?unit=1" % addr, timeout_ms=1000) as dev:
    temp = dev.add_item("holding-register:40001")      # Modicon reference: offset 0
    level = dev.add_item("holding-register:9000:FLOAT32")
    setpoint = dev.add_item("hr:10")
    try:
        dev.write(setpoint, 1234)
        for s in dev.read([temp, level, setpoint]):
            print(s.value, tagwire.quality_name(s.quality))
    except tagwire.Error as e:
        print("device error:", e.name, e.message)
    print(dev.stats())
