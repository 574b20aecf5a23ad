"""The Sparkplug edge session against Mosquitto over mutual TLS."""
import time

import tagwire
from tagwire import lib
from tagwire.edge import Edge, EdgeState


def test_edge_session_with_own_tag_sets(pki, broker):
    port, _log = broker
    events = []
    tls = tagwire.TlsConfig()
    tls.set_ca_file(str(pki / "ca.pem"))
    tls.set_credentials_file(str(pki / "client.pem"), str(pki / "client.key"))
    tls.set_server_name("localhost")
    with tagwire.TagSet() as node_tags, tagwire.TagSet() as drive, tagwire.Store() as store, \
            Edge("PlantA", "Edge1", "127.0.0.1", port, tls=tls, store=store) as edge:
        node_tags.add("Uptime", "uint64").set(5)
        rpm = drive.add("Rpm", "double")
        rpm.set(1200.0)
        edge.set_node_tags(node_tags)
        edge.add_device("Drive", drive)
        edge.on_event(events.append)
        edge.start()
        end = time.monotonic() + 10
        while edge.state != EdgeState.ONLINE and time.monotonic() < end:
            edge.step(50)
        assert edge.state == EdgeState.ONLINE, edge.last_error
        rpm.set(1300.0)
        edge.publish()
        edge.step(50)
        st = edge.stats()
        assert st.births >= 2 and st.metrics_published >= 1 and st.connects == 1
        assert any(e.type == lib.TW_EDGE_EVENT_BIRTH and e.device_id == "Drive" for e in events)
        edge.set_device_online("Drive", False)
        edge.rebirth()
        assert edge.stop(15000)
        assert edge.state == EdgeState.STOPPED and EdgeState.ONLINE.state_name == "online"
    tls.close()
