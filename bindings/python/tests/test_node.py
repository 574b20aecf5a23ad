"""End to end: sim adapter -> Node -> Mosquitto over mutual TLS -> an independent subscriber
(mosquitto_sub) and decoder (Eclipse Tahu's sparkplug-payload)."""
import json
import os
import shutil
import subprocess
import time

import pytest
import tagwire
from tagwire import lib
from tagwire.node import Link, Node

from test_sparkplug import tahu


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    pytest.fail("timed out waiting for " + what)


def delivered_to_sub(log, topic_part, client="py-e2e-sub"):
    """True once the broker sent a PUBLISH whose topic contains topic_part to `client` and the
    client acknowledged it (QoS 1 PUBACK), i.e. mosquitto_sub has it."""
    lines = open(log).read().splitlines()
    sent = [i for i, ln in enumerate(lines) if "Sending PUBLISH to " + client in ln and topic_part in ln]
    return bool(sent) and any("Received PUBACK from " + client in ln for ln in lines[sent[0]:])


def subscriber(pki, port, log):
    """mosquitto_sub with its own client certificate; returns the process once subscribed."""
    exe = shutil.which("mosquitto_sub")
    if not exe:
        pytest.fail("mosquitto_sub is not installed (mosquitto-clients)")
    p = subprocess.Popen([exe, "-h", "127.0.0.1", "-p", str(port), "-i", "py-e2e-sub",
                          "--cafile", str(pki / "ca.pem"), "--cert", str(pki / "client2.pem"),
                          "--key", str(pki / "client2.key"), "-t", "spBv1.0/#", "-q", "1",
                          "-F", "%t %x"], stdout=subprocess.PIPE, text=True)
    wait_for(lambda: "SUBACK to py-e2e-sub" in open(log).read(), what="subscriber")
    return p


def decode_all(lines):
    """[(topic, payload dict)] decoded by Tahu."""
    script = """
      const out = []; let buf = '';
      process.stdin.on('data', d => buf += d);
      process.stdin.on('end', () => {
        for (const line of buf.split('\\n')) {
          if (!line.trim()) continue;
          const [topic, hex] = line.split(' ');
          const p = tahu.decodePayload(Buffer.from(hex || '', 'hex'));
          out.push([topic, JSON.parse(JSON.stringify(p, (k, v) =>
            v && v.low !== undefined && v.high !== undefined ? Number(BigInt(v.high >>> 0) << 32n | BigInt(v.low >>> 0)) : v))]);
        }
        process.stdout.write(JSON.stringify(out));
      });"""
    return json.loads(tahu(script, "\n".join(lines).encode()))


def test_sim_node_mosquitto_tahu(pki, broker, tmp_path):
    port, log = broker
    sub = subscriber(pki, port, log)
    try:
        with Node("PlantA", "Press7", "mqtts://127.0.0.1:%d" % port,
                  tls_ca_file=str(pki / "ca.pem"), tls_cert_file=str(pki / "client.pem"),
                  tls_key_file=str(pki / "client.key"), tls_server_name="localhost",
                  state_dir=str(tmp_path), shutdown_timeout_ms=15000) as node:
            oil = node.add_tag("Hydraulics/OilTemp", "double", unit="degC")
            sim = node.add_device("Sim", "sim://?clock=virtual&tick=100ms")
            sim.add_tag("Counter", "int64", address="counter:start=1", scan_rate_ms=20)
            oil.set(41.5)
            node.start()
            wait_for(lambda: node.stats().link == Link.ONLINE, what="node online")
            wait_for(lambda: node.stats().metrics_published >= 10, what="10 metrics")
            st = node.stats()
            assert st.polls >= 10
            # the client certificate new connections present; no renewal configured
            assert st.cert_not_after > time.time() and st.cert_renew_at == 0 and st.cert_renewals == 0
            assert st.store_records == 0 and st.store_last_seq == 0  # no store_dir: no store
            assert node.stop()
        wait_for(lambda: delivered_to_sub(log, "/NDEATH/"), timeout=20, what="NDEATH at the subscriber")
    finally:
        sub.terminate()
        out, _ = sub.communicate(timeout=5)
    msgs = decode_all(out.splitlines())
    by_type = {}
    for topic, p in msgs:
        by_type.setdefault(topic.split("/")[2], []).append((topic, p))
    (nbirth_topic, nbirth), = by_type["NBIRTH"][:1]
    assert nbirth_topic == "spBv1.0/PlantA/NBIRTH/Press7"
    names = {m["name"]: m for m in nbirth["metrics"]}
    assert names["Hydraulics/OilTemp"]["value"] == 41.5 and "bdSeq" in names
    dbirth = by_type["DBIRTH"][0][1]
    alias = {m["name"]: m["alias"] for m in dbirth["metrics"]}["Counter"]
    values = [m["value"] for _t, p in by_type["DDATA"] for m in p["metrics"] if m.get("alias") == alias]
    assert len(values) >= 5 and values == sorted(values) and len(set(values)) == len(values)
    assert "NDEATH" in by_type  # the death certificate of the clean stop


def dcmd(pki, port, tmp_path, value):
    """A host's DCMD (encoded by Tahu) for Line/Setpoint, published with mosquitto_pub."""
    payload = tahu("process.stdout.write(Buffer.from(tahu.encodePayload({ timestamp: Date.now(), "
                   "metrics: [{ name: 'Setpoint', type: 'Double', value: %r }] })));" % value)
    f = tmp_path / "dcmd.bin"
    f.write_bytes(payload)
    subprocess.run([shutil.which("mosquitto_pub") or "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port),
                    "-i", "py-host", "--cafile", str(pki / "ca.pem"), "--cert", str(pki / "client2.pem"),
                    "--key", str(pki / "client2.key"), "-q", "1",
                    "-t", "spBv1.0/PlantA/DCMD/Press7/Line", "-f", str(f)], check=True, timeout=10)


def test_commands_reach_python_write_callbacks_in_step_mode(pki, broker, tmp_path):
    port, _log = broker
    with Node("PlantA", "Press7", "mqtts://127.0.0.1:%d" % port, tls_ca_file=str(pki / "ca.pem"),
              tls_cert_file=str(pki / "client.pem"), tls_key_file=str(pki / "client.key"),
              tls_server_name="localhost") as node:
        line = node.add_device("Line")
        sp = line.add_tag("Setpoint", "double", access=tagwire.Access.READ_WRITE)
        got = []

        def on_write(tag, value):
            got.append(value)
            tag.set(value)
        sp.set_write_callback(on_write)
        sp.set(1.0)
        assert node.flush(10000), node.last_error
        assert node.stats().link == Link.ONLINE and node.device("Line").id == "Line"
        dcmd(pki, port, tmp_path, 42.5)
        end = time.monotonic() + 10
        while not got and time.monotonic() < end:
            node.step(50)
        assert got == [42.5] and sp.value == 42.5

        class Interlock(Exception):
            pass

        def refuse(tag, value):
            raise Interlock("door open")
        sp.set_write_callback(refuse)
        dcmd(pki, port, tmp_path, 99.0)
        with pytest.raises(Interlock, match="door open"):  # re-raised by the step that ran it
            end = time.monotonic() + 30
            while time.monotonic() < end:
                node.step(50)
        assert sp.value == 42.5
        st = node.stats()
        assert st.commands == 2 and st.commands_failed == 1
        node.shutdown()


def test_node_from_config_and_errors(pki, tmp_path):
    cfg = tagwire.Config.load_string(json.dumps({
        "version": 1, "node": {"group_id": "G", "edge_node_id": "E"},
        "uplink": {"broker": "mqtts://127.0.0.1:1", "tls": {"ca": str(pki / "ca.pem"),
                   "cert": str(pki / "client.pem"), "key": str(pki / "client.key")}},
        "devices": [{"id": "Sim", "adapter": "sim://", "tags": [
            {"name": "Wave", "address": "sine:period=1s", "type": "double"}]}]}), name="gw.json")
    with cfg, Node(config=cfg) as node:
        assert (node.group_id, node.edge_node_id) == ("G", "E")
        (dev,) = node.devices
        assert dev.id == "Sim" and dev.has_adapter and dev.tags["Wave"].type is tagwire.Type.DOUBLE
        with pytest.raises(tagwire.ParseError):
            node.add_tag("Bad//Name", "double")
    with pytest.raises(tagwire.Error) as e:
        Node("G", "E", "mqtt://127.0.0.1:1")  # plaintext without insecure
    # a failed constructor's exception carries tw_last_error(), naming the problem
    assert e.value.code == lib.TW_ERR_TLS_INSECURE
    assert e.value.detail == "node: broker 'mqtt://127.0.0.1:1': plaintext mqtt:// needs the insecure option"
    assert e.value.detail in str(e.value)
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(tagwire.Error) as e:
        Node("G", "E", "mqtts://127.0.0.1:1", tls_ca_file=missing, tls_cert_file=str(pki / "client.pem"),
             tls_key_file=str(pki / "client.key"))
    assert e.value.code == lib.TW_ERR_NOT_FOUND
    assert e.value.detail.startswith("node: TLS CA file") and missing in e.value.detail
    assert "No such file or directory" in e.value.detail
    # an unknown adapter is refused when the configuration is loaded, at its JSON path
    cfg_text = json.dumps({"version": 1, "node": {"group_id": "G", "edge_node_id": "E"},
                           "uplink": {"broker": "mqtt://127.0.0.1:1", "insecure": True},
                           "devices": [{"id": "D", "adapter": "nosuch://x", "tags": [
                               {"name": "T", "address": "r1", "type": "double"}]}]})
    with pytest.raises(tagwire.ConfigError) as e:
        tagwire.Config.load_string(cfg_text, name="bad.json")
    assert "bad.json: $.devices[0].adapter" in e.value.detail and "nosuch" in e.value.detail
    # a file named in the configuration is opened by the node: its failure carries the node's detail
    cfg_text = json.dumps({"version": 1, "node": {"group_id": "G", "edge_node_id": "E"},
                           "uplink": {"broker": "mqtts://127.0.0.1:1",
                                      "tls": {"ca": missing, "cert": str(pki / "client.pem"),
                                              "key": str(pki / "client.key")}},
                           "devices": [{"id": "D", "adapter": "sim://", "tags": [
                               {"name": "T", "address": "counter", "type": "double"}]}]})
    with tagwire.Config.load_string(cfg_text, name="tls.json") as cfg, pytest.raises(tagwire.Error) as e:
        Node(config=cfg)
    assert e.value.code == lib.TW_ERR_NOT_FOUND
    assert e.value.detail.startswith("node: ") and missing in e.value.detail
    with Node("G", "E", "mqtt://127.0.0.1:1", insecure=True) as node:
        with pytest.raises(tagwire.Error) as e:
            node.add_device("a+b")
        assert e.value.detail == node.last_error and node.last_status == lib.TW_ERR_INVALID_ARG


def test_exception_on_the_node_thread_goes_to_unraisablehook(pki, broker, monkeypatch):
    import sys
    import threading
    port, _log = broker
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append((u.exc_value, u.err_msg)))
    main = threading.main_thread()

    def hook(level, module, message):
        if threading.current_thread() is not main:  # raise only on the library's own threads
            raise RuntimeError("hook: " + message)
    tagwire.set_log(hook, tagwire.LogLevel.DEBUG)
    try:
        with Node("PlantA", "Press9", "mqtts://127.0.0.1:%d" % port, tls_ca_file=str(pki / "ca.pem"),
                  tls_cert_file=str(pki / "client.pem"), tls_key_file=str(pki / "client.key"),
                  tls_server_name="localhost") as node:
            node.add_tag("X", "double").set(1.0)
            node.start()
            wait_for(lambda: node.stats().link == Link.ONLINE, what="online")
            node.stop()
    finally:
        tagwire.set_log(None)
    assert seen, "the node thread logged nothing"
    assert all(isinstance(e, RuntimeError) and "library thread" in m for e, m in seen)
