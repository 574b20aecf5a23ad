"""The examples run (so that they do not rot)."""
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def run(name, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(EXAMPLES, ".."), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args], env=env,
                          check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("name,expect", [("tags.py", "refused: TW_ERR_RANGE"),
                                         ("custom_adapter.py", "RUNNING"),
                                         ("sparkplug_decode.py", "spBv1.0/PlantA/DDATA/Press7/Drive")])
def test_example(name, expect):
    assert expect in run(name)


def test_modbus_example(mbserver):
    out = run("modbus_rw.py", "127.0.0.1:%d" % mbserver)
    assert "1234 good" in out and "123.45" in out


def test_node_example(pki, mosquitto):
    out = run("node_sim.py", "mqtts://127.0.0.1:%d" % mosquitto, str(pki / "ca.pem"),
              str(pki / "client.pem"), str(pki / "client.key"), "8")
    assert "link online" in out and " 0 metrics" not in out
