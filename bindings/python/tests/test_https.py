"""HTTPS uplink: record entries, option validation, and a store drained over mutual TLS to the
independent stdlib receiver of the C tests (tests/https/receiver.py)."""
import base64
import gzip as gz
import json
import math
import os
import ssl
import subprocess
import sys
import time
import urllib.request

import pytest

import tagwire
from tagwire import https

from conftest import SOURCE_DIR, free_port, stop, wait_listen

RECEIVER = os.path.join(SOURCE_DIR, "tests", "https", "receiver.py")


# ---- record entries -------------------------------------------------------------------------------

def test_record_roundtrip_all_types():
    ts = 1_795_970_860_123_456_789
    cases = [("b", True, None), ("i8", -5, "int8"), ("u64", 2**64 - 1, None), ("i64", -2**63, None),
             ("f", 1.5, "float"), ("d", -0.1, None), ("s", "h\u00e9\u20ac\"\n", None),
             ("by", b"\x00\xff\x01", None), ("dt", ts, "datetime"), ("none", None, None)]
    rec = b"".join(https.record_encode(n, v, tagwire.Quality.UNCERTAIN, ts + i, t)
                   for i, (n, v, t) in enumerate(cases))
    entries = list(https.record_entries(rec))
    assert [e.name for e in entries] == [c[0] for c in cases]
    assert [e.value for e in entries] == [c[1] for c in cases]
    assert [e.ts_ns for e in entries] == [ts + i for i in range(len(cases))]
    assert all(e.quality == tagwire.Quality.UNCERTAIN for e in entries)
    assert entries[1].type == tagwire.Type.INT8 and entries[4].type == tagwire.Type.FLOAT
    assert entries[8].type == tagwire.Type.DATETIME and entries[9].type == tagwire.Type.NONE
    # the documented layout: magic, type, name length, quality, ts, value length, name, value
    one = https.record_encode("Temp", 21.5, 0, 7)
    assert one[0] == https.ENTRY_MAGIC and one[1] == tagwire.Type.DOUBLE
    assert int.from_bytes(one[2:4], "little") == 4 and int.from_bytes(one[16:20], "little") == 8
    assert one[20:24] == b"Temp" and len(one) == https.ENTRY_HEADER + 4 + 8
    # record_next steps entry by entry and reports the end
    e, off = https.record_next(rec)
    assert e.name == "b" and off == https.ENTRY_HEADER + 1 + 1
    assert https.record_next(rec, len(rec)) is None
    # record_build from tuples equals the concatenation
    assert https.record_build([("a", 1, 0, 5), ("b", None, 0, 6)]) == \
        https.record_encode("a", 1, 0, 5) + https.record_encode("b", None, 0, 6)


def test_record_encode_and_decode_errors():
    with pytest.raises(https.HttpsError) as ei:
        https.record_encode("", 1)
    assert isinstance(ei.value, tagwire.InvalidArgument)
    with pytest.raises(tagwire.RangeError) as ei:
        https.record_encode("x" * (https.NAME_MAX + 1), 1)
    assert isinstance(ei.value, https.HttpsError)
    assert https.record_encode("x" * https.NAME_MAX, 1)  # the limit itself fits
    with pytest.raises(tagwire.RangeError):
        https.record_encode("n", 300, type="int8")  # conversion rules apply
    good = https.record_encode("Temp", 1.0) + https.record_encode("Flag", True)
    for bad in (good[:-1], good[:5], b"\x70" + good[1:], good[:1] + b"\xee" + good[2:]):
        with pytest.raises(tagwire.ParseError) as ei:
            list(https.record_entries(bad))
        assert isinstance(ei.value, https.HttpsError)
    with pytest.raises(IndexError):
        https.record_next(good, len(good) + 1)


# ---- options --------------------------------------------------------------------------------------

def test_uplink_option_validation(pki, tmp_path):
    with tagwire.Store() as s:
        ok = dict(ca_file=str(pki / "ca.pem"), cert_file=str(pki / "client.pem"),
                  key_file=str(pki / "client.key"))
        bad = [dict(url="http://127.0.0.1:1/x", **ok),           # not https
               dict(url="https://127.0.0.1:1/x"),                # no trust anchor
               dict(url="https://127.0.0.1:1/x", ca_file=ok["ca_file"],
                    cert_file=ok["cert_file"]),                  # certificate without key
               dict(url="https://127.0.0.1:1/x", on_reject="park", **ok),  # PARK without park_dir
               dict(url="https://127.0.0.1:1/x", instance_id="has space", **ok)]
        for kw in bad:
            url = kw.pop("url")
            with pytest.raises(https.HttpsError) as ei:
                https.HttpsUplink(s, url, **kw)
            assert isinstance(ei.value, tagwire.ConfigError), kw
            assert ei.value.name == "TW_ERR_CONFIG"
        with pytest.raises(KeyError):
            https.HttpsUplink(s, "https://127.0.0.1:1/x", format="xml", **ok)
        # a valid uplink on an empty store is idle and sends nothing
        with https.HttpsUplink(s, "https://127.0.0.1:1/x", on_reject=https.RejectPolicy.PARK,
                               park_dir=str(tmp_path), format="protobuf", gzip=True, **ok) as u:
            assert u.step(0) == https.State.IDLE and u.state == https.State.IDLE
            st = u.stats()
            assert st.requests == 0 and st.batches == 0
            assert u.fds() == []
            with pytest.raises(https.HttpsError) as ei:
                u.release()  # not HELD
            assert ei.value.name == "TW_ERR_BUSY"
        with pytest.raises(tagwire.Closed):
            u.step(0)


# ---- against the receiver ---------------------------------------------------------------------------

class Receiver:
    def __init__(self, pki, tmp_path):
        self.pki = pki
        self.port = free_port()
        self.log = str(tmp_path / "receiver.log")
        self.errlog = open(str(tmp_path / "receiver.err"), "w")
        self.proc = subprocess.Popen([sys.executable, RECEIVER, str(self.port), str(pki / "server.pem"),
                                      str(pki / "server.key"), str(pki / "ca.pem"), self.log],
                                     stdout=subprocess.DEVNULL, stderr=self.errlog)
        wait_listen(self.port, self.proc)
        self.url = "https://127.0.0.1:%d/ingest" % self.port

    def ctl(self, query):
        ctx = ssl.create_default_context(cafile=str(self.pki / "ca.pem"))
        ctx.load_cert_chain(str(self.pki / "client.pem"), str(self.pki / "client.key"))
        with urllib.request.urlopen("https://127.0.0.1:%d/_ctl?%s" % (self.port, query),
                                    context=ctx, timeout=10) as r:
            assert r.status == 200

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self):
        stop(self.proc)
        self.errlog.close()


@pytest.fixture
def receiver(pki, tmp_path):
    r = Receiver(pki, tmp_path)
    try:
        yield r
    finally:
        r.close()


def _opts(pki, **kw):
    d = dict(ca_file=str(pki / "ca.pem"), cert_file=str(pki / "client.pem"),
             key_file=str(pki / "client.key"), backoff_base_ms=50, backoff_cap_ms=400)
    d.update(kw)
    return d


def _drain(u, store, timeout_s=20.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        u.step(50)
        if store.stats().records == 0 and u.state == https.State.IDLE:
            return True
    return False


def test_store_drained_to_receiver_jsonl_gzip(pki, receiver):
    ts0 = 1_795_970_860_000_000_000
    with tagwire.Store() as s:
        for i in range(25):
            q = tagwire.Quality.BAD_COMM_FAILURE if i % 10 == 0 else tagwire.Quality.GOOD
            s.append(https.record_encode("Counter", i, q, ts0 + i, "uint64") +
                     https.record_encode("Label", "v%d\u00e9" % i, q, ts0 + i) +
                     https.record_encode("Temp", float("nan") if i == 3 else i / 2, q, ts0 + i))
        with https.HttpsUplink(s, receiver.url, gzip=True, max_batch_records=10,
                               instance_id="py-test", **_opts(pki)) as u:
            assert _drain(u, s)
            st = u.stats()
            assert st.batches == 3 and st.records == 25 and st.values == 75
            assert st.last_http_status == 200 and st.failures == 0 and st.rejected_batches == 0
            assert st.acked_seq == s.stats().acked_seq
    reqs = receiver.requests()
    assert [r["records"] for r in reqs] == ["10", "10", "5"]
    assert all(r["ct"] == "application/x-ndjson" and r["ce"] == "gzip" for r in reqs)
    assert all(r["key"].startswith("py-test-") for r in reqs)
    lines = []
    for r in reqs:
        body = gz.decompress(base64.b64decode(r["body"])).decode()
        lines += [json.loads(l) for l in body.splitlines() if l]
    assert len(lines) == 75
    counters = [l for l in lines if l["name"] == "Counter"]
    assert [l["value"] for l in counters] == list(range(25))
    assert counters[0]["type"] == "uint64" and counters[0]["quality_code"] == tagwire.Quality.BAD_COMM_FAILURE
    assert counters[1]["quality"] == tagwire.quality_name(tagwire.Quality.GOOD)
    assert [l["ts_ns"] for l in counters] == [ts0 + i for i in range(25)]
    labels = [l["value"] for l in lines if l["name"] == "Label"]
    assert labels == ["v%d\u00e9" % i for i in range(25)]
    temps = [l["value"] for l in lines if l["name"] == "Temp"]
    assert temps[3] == "NaN" and temps[4] == 2.0
    # the same seq for the values of one record, increasing across records
    seqs = [l["seq"] for l in counters]
    assert seqs == sorted(seqs) and len(set(seqs)) == 25
    assert all(l["seq"] == c["seq"] for l, c in zip([l for l in lines if l["name"] == "Temp"], counters))


def test_retry_after_503_keeps_key_and_body(pki, receiver):
    receiver.ctl("fail=503&count=2&retry_after=0")
    with tagwire.Store() as s:
        s.append(https.record_encode("A", 1))
        with https.HttpsUplink(s, receiver.url, **_opts(pki)) as u:
            assert _drain(u, s)
            st = u.stats()
            assert st.requests == 3 and st.failures == 2 and st.retries == 2 and st.batches == 1
    reqs = receiver.requests()
    assert [r["status"] for r in reqs] == [503, 503, 200]
    assert len({r["key"] for r in reqs}) == 1 and len({r["body"] for r in reqs}) == 1


def test_reject_hold_release_and_callback(pki, receiver):
    seen = []
    receiver.ctl("fail=400")
    with tagwire.Store() as s:
        s.append(https.record_encode("A", 1.25))
        with https.HttpsUplink(s, receiver.url, reject_fn=lambda *a: seen.append(a),
                               **_opts(pki)) as u:
            assert u.run_until_idle(20) == https.State.HELD
            assert len(seen) == 1
            status, key, body, records = seen[0]
            assert status == 400 and records == 1 and key.count("-") >= 2
            assert json.loads(body.decode())["value"] == 1.25
            assert s.stats().records == 1  # nothing left the store
            assert u.step(0) == https.State.HELD
            u.release()  # send the same batch again: the receiver now answers 200
            assert _drain(u, s)
            assert u.stats().rejected_batches == 0 and u.stats().batches == 1
    reqs = receiver.requests()
    assert [r["status"] for r in reqs] == [400, 200] and reqs[0]["key"] == reqs[1]["key"]


def test_reject_drop_and_callback_exception(pki, receiver):
    receiver.ctl("fail=422")

    def boom(*_a):
        raise RuntimeError("from the reject callback")
    with tagwire.Store() as s:
        s.append(https.record_encode("A", 1))
        with https.HttpsUplink(s, receiver.url, on_reject="drop", reject_fn=boom,
                               **_opts(pki)) as u:
            with pytest.raises(RuntimeError, match="reject callback"):
                for _ in range(400):
                    u.step(50)
            # the policy still applied: the batch was dropped and counted
            assert _drain(u, s)
            st = u.stats()
            assert st.rejected_batches == 1 and st.rejected_records == 1 and st.batches == 0
            assert st.last_http_status == 422


def test_unreachable_backoff_and_retry_now(pki):
    port = free_port()  # nothing listens there
    with tagwire.Store() as s:
        s.append(https.record_encode("A", 1))
        with https.HttpsUplink(s, "https://127.0.0.1:%d/x" % port, backoff_base_ms=60000,
                               backoff_cap_ms=60000, **{k: v for k, v in _opts(pki).items()
                                                       if not k.startswith("backoff")}) as u:
            end = time.monotonic() + 10
            while u.stats().failures == 0 and time.monotonic() < end:
                u.step(50)
            assert u.stats().failures == 1 and u.state == https.State.BACKOFF
            assert u.last_error
            # The delay is drawn from [0, 60000] ms (full jitter): only its upper bound is certain.
            n = u.next_ms()
            assert n is not None and n <= 60000
            u.retry_now()
            assert u.next_ms() == 0  # the back-off is over at once, whatever was drawn
            end = time.monotonic() + 10
            while u.stats().failures < 2 and time.monotonic() < end:
                u.step(50)
            assert u.stats().failures == 2 and u.stats().last_status != 0
            assert s.stats().records == 1
