"""Shared fixtures: peers started by the tests themselves on 127.0.0.1, temp dirs, PKI.

Environment (set by the ctest entry, tests/bindings/tests.cmake):
  TAGWIRE_LIBRARY     the libtagwire.so under test
  TAGWIRE_SOURCE_DIR  the source tree (headers, fixtures)
  TW_MBSERVER         the independent libmodbus server (tw_mbserver)
A missing peer fails the test (it does not skip)."""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("TAGWIRE_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..", "..")))
sys.path.insert(0, os.path.abspath(os.path.join(HERE, "..")))


def require_env(name):
    v = os.environ.get(name)
    if not v:
        pytest.fail("environment variable %s is not set (run through ctest)" % name)
    return v


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """True when something listens on port (read from /proc, without connecting)."""
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def wait_listen(port, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if listening(port):
            return
        if proc.poll() is not None:
            raise RuntimeError("peer exited with %s before listening" % proc.returncode)
        time.sleep(0.02)
    raise RuntimeError("peer did not listen on %d" % port)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def mbserver():
    """The independent libmodbus server; yields its port."""
    exe = require_env("TW_MBSERVER")
    port = free_port()
    proc = subprocess.Popen([exe, "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_listen(port, proc)
        yield port
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    subprocess.run(["sh", os.path.join(SOURCE_DIR, "tests", "fixtures", "make_pki.sh"), str(d)],
                   check=True)
    return d


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.fixture
def mosquitto(broker):
    """The port of a Mosquitto 2 with a mutual-TLS listener (client certificates required)."""
    return broker[0]


@pytest.fixture
def broker(pki, tmp_path):
    """Mosquitto 2 with a mutual-TLS listener (client certificates required); yields
    (port, path of its log file)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        pytest.fail("mosquitto is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener %d 127.0.0.1\nuser root\npersistence false\nmax_queued_messages 0\n"
                    "allow_anonymous true\nrequire_certificate true\nuse_identity_as_username true\n"
                    "cafile %s\ncertfile %s\nkeyfile %s\nlog_dest file %s\nlog_type all\n"
                    % (port, pki / "ca.pem", pki / "server.pem", pki / "server.key",
                       tmp_path / "mosquitto.log"))
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listen(port, proc)
        yield port, str(tmp_path / "mosquitto.log")
    finally:
        stop(proc)
