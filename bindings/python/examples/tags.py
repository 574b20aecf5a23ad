"""Tags, deadbands and change sets from Python.

    TAGWIRE_LIBRARY=build/release/libtagwire.so PYTHONPATH=bindings/python \
        /usr/bin/python3 bindings/python/examples/tags.py
"""
import tagwire

with tagwire.TagSet() as ts:
    oil = ts.add("Hydraulics/OilTemp", "double", unit="degC", deadband=0.2)
    strokes = ts.add("Counters/Strokes", "uint64")
    setpoint = ts.add("Press/Setpoint", "double", access=tagwire.Access.READ_WRITE, min=0, max=250)

    def on_write(tag, value):          # a write from the cloud (NCMD/DCMD)
        print("write request:", tag.name, "=", value)
        tag.set(value)                 # accept it and publish the new value
    setpoint.set_write_callback(on_write)

    for i in range(5):
        oil.set(40.0 + i * 0.15)       # small steps stay inside the deadband
        strokes.set(1000 + i)
    setpoint.write(180)
    for change in ts.collect():
        print("%-20s %-8s %s (%d coalesced)" % (change.tag.name, change.value,
              tagwire.quality_name(change.quality), change.coalesced))
    try:
        setpoint.write(900)            # outside 0..250: refused by the C layer
    except tagwire.RangeError as e:
        print("refused:", e.name, "-", e.message)
