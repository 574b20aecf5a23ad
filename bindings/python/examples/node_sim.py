"""An edge node publishing a simulated machine over Sparkplug B, MQTT and mutual TLS.

    TAGWIRE_LIBRARY=build/release/libtagwire.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 bindings/python/examples/node_sim.py mqtts://127.0.0.1:8883 ca.pem client.pem client.key [seconds]
"""
import sys
import time

import tagwire

broker, ca, cert, key = sys.argv[1:5]
seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 5.0
with tagwire.Node("PlantA", "Press7", broker, tls_ca_file=ca, tls_cert_file=cert,
                  tls_key_file=key, tls_server_name="localhost") as node:
    state = node.add_tag("State", "string")
    sim = node.add_device("Sim", "sim://")
    sim.add_tag("Hydraulics/OilTemp", "double", address="sine:period=2s,amplitude=5,offset=40",
                scan_rate_ms=100, unit="degC", deadband=0.2)
    sim.add_tag("Counters/Strokes", "int64", address="counter:start=1", scan_rate_ms=100)
    node.start()                      # the node's own thread connects, births, polls, publishes
    state.set("RUNNING")              # setters may be called from any thread
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.1)
    st = node.stats()
    print("link %s, %d births, %d metrics published, %d polls" %
          (tagwire.Link(st.link).link_name, st.births, st.metrics_published, st.polls))
    node.stop()                       # flush, NDEATH, disconnect
