"""Mutual TLS and MQTT against Mosquitto (an independent broker) on loopback."""
import time

import pytest
import tagwire
from tagwire import TlsConfig, Transport, lib
from tagwire.mqtt import MqttClient, State


def tls_config(pki, cert="client"):
    c = TlsConfig()
    c.set_ca_file(str(pki / "ca.pem"))
    c.set_credentials_file(str(pki / ("%s.pem" % cert)), str(pki / ("%s.key" % cert)))
    c.set_server_name("localhost")
    c.set_timeouts(handshake_ms=5000, io_ms=5000, post_handshake_ms=5000)
    return c


def test_tls_config_errors(pki):
    with TlsConfig() as c:
        with pytest.raises(tagwire.TlsError) as e:
            c.set_credentials_file(str(pki / "client.pem"), str(pki / "client2.key"))
        assert e.value.code == lib.TW_ERR_TLS_CREDENTIALS and e.value.detail
        with pytest.raises(tagwire.ParseError):
            c.add_pin("sha256/not-base64")
        c.add_pin(open(pki / "server.spki").read().strip())
        with pytest.raises(tagwire.NotFound):
            c.set_ca_file(str(pki / "missing.pem"))
        c.set_credentials(open(pki / "client.pem", "rb").read(), open(pki / "client.key", "rb").read())
        assert c.own_not_after > time.time()
        c.set_versions(tagwire.transport.TLS_1_2, tagwire.transport.TLS_1_3)
        c.set_suites([0x1302, 0xC02C])
        c.set_resumption(False)


def test_mqtt_publish_subscribe_over_mtls(pki, mosquitto):
    cfg = tls_config(pki)
    got, acks, states = [], [], []
    with MqttClient(Transport.tls(cfg), "127.0.0.1", mosquitto, client_id="py-test") as c:
        c.on_message(got.append)
        c.on_ack(acks.append)
        c.on_state(lambda s, reason: states.append(s))
        c.connect_blocking(5000)
        assert c.state is State.CONNECTED and c.secure and State.CONNECTED in states
        sub = c.subscribe("py/test/#", 1)
        c.flush(5000)
        tok = c.publish("py/test/a", b"\x00hello", qos=1)
        c.flush(5000)
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            c.step(100)
        assert got and got[0].topic == "py/test/a" and got[0].payload == b"\x00hello"
        assert {a.token for a in acks} >= {sub, tok} and c.confirmed >= tok
        assert c.inflight == 0 and c.next_token > tok

        def boom(msg):
            raise ValueError("bad message handler")
        c.on_message(boom)
        c.publish("py/test/b", b"x", qos=1)
        with pytest.raises(ValueError, match="bad message handler"):
            end = time.monotonic() + 30
            while time.monotonic() < end:
                c.step(100)
        c.disconnect(2000)
        assert c.state is State.DISCONNECTED
    cfg.close()


def test_mtls_refused_without_trusted_client_cert(pki, mosquitto):
    cfg = tls_config(pki, cert="rogue-client")
    t = Transport.tls(cfg)
    with pytest.raises(tagwire.Error) as e:
        t.connect_blocking("127.0.0.1", mosquitto)
    # Usually TW_ERR_TLS_PEER_REFUSED; when the broker's close beats its alert, the post-handshake
    # wait sees a reset instead (TW_ERR_CLOSED, "write: Broken pipe").
    assert e.value.code in (lib.TW_ERR_TLS_PEER_REFUSED, lib.TW_ERR_TLS_HANDSHAKE, lib.TW_ERR_CLOSED)
    assert e.value.detail
    t.close()
    cfg.close()


def test_tls_info(pki, mosquitto):
    cfg = tls_config(pki)
    with Transport.tls(cfg) as t:
        t.connect_blocking("127.0.0.1", mosquitto)
        info = t.tls_info()
        assert info.protocol_name.startswith("TLSv1.") and "CN=localhost" in info.peer_subject
        assert t.secure and t.fileno() >= 0
    cfg.close()


class PySocket:
    """A byte stream implemented in Python (tw_transport_new_custom) under tagwire's TLS."""

    def __init__(self):
        self.sock = None
        self.bytes_in = self.bytes_out = 0

    def connect(self, host, port):
        import socket
        if self.sock is None:  # the transport may be closed and connected again
            self.sock = socket.create_connection((host, port), timeout=5)  # loopback: at once
        self.sock.setblocking(False)

    def read(self, n):
        try:
            data = self.sock.recv(n)
        except BlockingIOError:
            raise tagwire.Error(lib.TW_ERR_AGAIN)
        if not data:
            raise tagwire.Closed(lib.TW_ERR_CLOSED, "peer closed")
        self.bytes_in += len(data)
        return data

    def write(self, data):
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            raise tagwire.Error(lib.TW_ERR_AGAIN)
        self.bytes_out += n
        return n

    def fileno(self):
        return self.sock.fileno() if self.sock is not None else -1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def test_mtls_over_a_python_transport(pki, mosquitto):
    cfg = tls_config(pki)
    inner = PySocket()
    got = []
    with MqttClient(Transport.tls(cfg, inner=Transport.custom(inner)), "127.0.0.1", mosquitto,
                    client_id="py-custom") as c:
        c.on_message(got.append)
        c.connect_blocking(5000)
        assert c.secure
        c.subscribe("py/custom", 1)
        c.flush(5000)
        c.publish("py/custom", b"through python", qos=1)
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            c.step(50)
        assert got and got[0].payload == b"through python"
        c.disconnect(2000)
    assert inner.bytes_in > 500 and inner.bytes_out > 500  # the TLS records went through Python
    cfg.close()
