import hashlib
import json
import os

import pytest
import tagwire
from tagwire import lib
from conftest import SOURCE_DIR

DOC = {
    "version": 1,
    "node": {"group_id": "PlantA", "edge_node_id": "Press7"},
    "uplink": {"broker": "mqtts://broker.local:8883",
               "tls": {"ca": "pki/ca.pem", "cert": "pki/c.pem", "key": "pki/c.key"}},
    "store": {"dir": "spool", "max_bytes": 1048576},
    "devices": [{"id": "Press", "adapter": "modbus+tcp://127.0.0.1:1502?unit=1",
                 "scan_groups": [{"name": "fast", "rate_ms": 100}],
                 "tags": [{"name": "Hydraulics/OilTemp", "address": "hr:100", "type": "double",
                           "deadband": 0.2, "unit": "degC", "min": 0, "max": 150,
                           "scaling": {"raw_min": 0, "raw_max": 1500, "eng_min": 0, "eng_max": 150}}]},
                {"id": "App", "tags": [{"name": "State", "type": "string", "access": "read-write"}]}],
}


def test_load_string_and_accessors():
    with tagwire.Config.load_string(json.dumps(DOC), name="gw.json", base_dir="/etc/gw") as c:
        assert c.loaded and c.source == "gw.json"
        assert (c.group_id, c.edge_node_id, c.primary_host_id) == ("PlantA", "Press7", None)
        assert (c.broker_host, c.broker_port, c.insecure) == ("broker.local", 8883, False)
        assert c.client_id == "PlantA-Press7" and c.keep_alive_s == 30
        assert c.tls_ca_file == "/etc/gw/pki/ca.pem" and c.tls_server_name == "broker.local"
        assert c.has_store and c.store_dir == "/etc/gw/spool" and c.store_max_bytes == 1048576
        assert c.store_fsync is tagwire.store.Sync.BATCH and c.tls_pins == []
        press, app = c.devices
        assert press.scheme == "modbus+tcp" and press.scan_groups == [("fast", 100)]
        (t,) = press.tags
        assert (t.name, t.address, t.type, t.unit) == ("Hydraulics/OilTemp", "hr:100", tagwire.Type.DOUBLE, "degC")
        assert t.deadband == (tagwire.tags.DeadbandMode.ABSOLUTE, 0.2)
        assert t.scaling == (0, 1500, 0, 150) and (t.min, t.max) == (0, 150)
        assert t.device.id == "Press" and t.scan_rate_ms == 100 and t.path == "$.devices[0].tags[0]"
        assert app.adapter is None and app.tag("State").access is tagwire.tags.Access.READ_WRITE
        assert c.device("App").id == "App" and c.device("nope") is None


def test_errors_name_the_json_path():
    bad = json.loads(json.dumps(DOC))
    bad["devices"][0]["tags"][0]["deadband"] = "abc"
    with pytest.raises(tagwire.ConfigError) as e:
        tagwire.Config.load_string(json.dumps(bad), name="gw.json")
    assert e.value.code == lib.TW_ERR_CONFIG
    assert "gw.json: $.devices[0].tags[0].deadband" in e.value.message
    with pytest.raises(tagwire.ConfigError) as e:
        tagwire.Config.load_string("{ nope", name="x.json")
    assert e.value.code == lib.TW_ERR_PARSE and "x.json:1:" in e.value.message
    with pytest.raises(tagwire.ConfigError) as e:
        tagwire.Config.load_file("/nonexistent/gw.json")
    assert e.value.code == lib.TW_ERR_NOT_FOUND


def test_example_file_loads():
    with tagwire.Config.load_file(os.path.join(SOURCE_DIR, "examples", "gateway.json")) as c:
        assert c.devices and all(d.id for d in c.devices)


def test_default_client_id_is_the_libraries_rule():
    """The loader's default client id is tw_sp_default_client_id(): at most 23 bytes, shortened
    with the SHA-256 of "<group>/<edge node>" (computed here with hashlib)."""
    assert tagwire.sparkplug.default_client_id("PlantA", "Press7") == "PlantA-Press7"
    doc = json.loads(json.dumps(DOC))
    doc["node"] = {"group_id": "PlantA", "edge_node_id": "Line 2 Press 7"}
    want = "PlantA-Lin-" + hashlib.sha256(b"PlantA/Line 2 Press 7").hexdigest()[:12]
    with tagwire.Config.load_string(json.dumps(doc)) as c:
        assert c.client_id == want and len(c.client_id) == 23
    assert tagwire.sparkplug.default_client_id("PlantA", "Line 2 Press 7") == want
