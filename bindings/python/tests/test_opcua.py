"""OPC UA through the adapter and browse(), against an independent server (asyncua, installed in
/opt/tagwire-deps/opcua/venv by scripts/deps/opcua.sh)."""
import os
import subprocess

import pytest
import tagwire
from tagwire import lib, opcua
from conftest import SOURCE_DIR, free_port, stop, wait_listen

VENV_PY = "/opt/tagwire-deps/opcua/venv/bin/python"


@pytest.fixture
def ua_server(tmp_path):
    if not os.path.exists(VENV_PY):
        pytest.fail("asyncua venv missing: run scripts/deps/opcua.sh")
    port = free_port()
    proc = subprocess.Popen([VENV_PY, os.path.join(SOURCE_DIR, "tests", "opcua", "ua_server.py"),
                             str(port), "none", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listen(port, proc, timeout=30)
        yield port
    finally:
        stop(proc)


def test_opcua_read_write_and_browse(ua_server):
    dev_uri = "opcua://127.0.0.1:%d/tagwire?security=none" % ua_server
    if "opcua" not in tagwire.features():
        pytest.fail("library built without OPC UA")
    refs = opcua.browse(dev_uri)
    assert any(r.node_class == "Object" for r in refs)
    with tagwire.Device(dev_uri, timeout_ms=3000) as dev:
        temp = dev.add_item("ns=2;s=Line1.Press7.Temp")
        name = dev.add_item("type=STRING;ns=2;s=Name")
        assert dev.read_one(temp) == 21.5 and dev.read_one(name) == "Press 7"
        dev.write(temp, 42.25)
        assert dev.read_one(temp) == 42.25
    with pytest.raises(tagwire.Error) as e:
        opcua.browse("opcua://127.0.0.1:%d/tagwire?security=none" % free_port(), timeout_ms=1000)
    assert e.value.code in (lib.TW_ERR_CONN_REFUSED, lib.TW_ERR_TIMEOUT, lib.TW_ERR_ADAPTER)
