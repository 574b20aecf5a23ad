"""Encodes a Sparkplug B DDATA payload and decodes it again (as a host would).

    TAGWIRE_LIBRARY=build/release/libtagwire.so PYTHONPATH=bindings/python \
        /usr/bin/python3 bindings/python/examples/sparkplug_decode.py [payload-file]
"""
import sys

import tagwire
from tagwire import sparkplug
from tagwire.sparkplug import Metric

if len(sys.argv) > 1:
    data = open(sys.argv[1], "rb").read()
else:
    now = tagwire.now_ns() // 1_000_000
    data = sparkplug.encode_data([Metric("Hydraulics/OilTemp", 41.5, alias=1, ts_ms=now),
                                  Metric("State", "RUNNING", alias=2, ts_ms=now)],
                                 seq=1, timestamp_ms=now)
p = sparkplug.decode(data)
print(p.text)
print(sparkplug.topic(sparkplug.MsgType.DDATA, "PlantA", "Press7", "Drive"))
