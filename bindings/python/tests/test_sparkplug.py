"""Sparkplug B payloads checked against an independent codec (Eclipse Tahu's JavaScript
sparkplug-payload, installed by scripts/deps/sparkplug.sh), in both directions."""
import json
import os
import shutil
import subprocess

import pytest
import tagwire
from tagwire import lib, sparkplug
from tagwire.sparkplug import Metric, MsgType

DEPS = os.environ.get("TW_SPARKPLUG_DEPS", "/opt/tagwire-deps/sparkplug")
NODE = shutil.which("node") or shutil.which("nodejs")


def tahu(script, stdin=b""):
    mod = os.path.join(DEPS, "node_modules", "sparkplug-payload")
    if not NODE or not os.path.isdir(mod):
        pytest.fail("node and sparkplug-payload are required (scripts/deps/sparkplug.sh)")
    prelude = "const tahu = require(%s).get('spBv1.0');\n" % json.dumps(mod)
    return subprocess.run([NODE, "-e", prelude + script], input=stdin, check=True,
                          capture_output=True).stdout


def test_decode_what_tahu_encoded():
    out = tahu("""
      const p = tahu.encodePayload({ timestamp: 1764400000000, seq: 7, metrics: [
        { name: 'Hydraulics/OilTemp', alias: 2, timestamp: 1764400000000, type: 'Double', value: 41.5,
          properties: { engUnit: { type: 'String', value: 'degC' }, Quality: { type: 'Int32', value: 500 } } },
        { name: 'State', alias: 3, timestamp: 1764400000001, type: 'String', value: 'RUNNING' },
        { alias: 4, timestamp: 1764400000002, type: 'Int16', value: -300 },
        { alias: 5, timestamp: 1764400000003, type: 'Boolean', value: true } ] });
      process.stdout.write(Buffer.from(p));""")
    p = sparkplug.decode(out)
    assert (p.timestamp_ms, p.seq) == (1764400000000, 7)
    oil, state, i16, b = p.metrics
    assert (oil.name, oil.alias, oil.value, oil.unit) == ("Hydraulics/OilTemp", 2, 41.5, "degC")
    assert oil.quality == tagwire.Quality.UNCERTAIN_LAST_KNOWN and oil.properties["Quality"] == 500
    assert (state.value, state.datatype, state.ts_ms) == ("RUNNING", 12, 1764400000001)
    assert (i16.name, i16.value, i16.type) == (None, -300, tagwire.Type.INT16)
    assert b.value is True
    j = json.loads(p.json)
    assert isinstance(j, dict) and "RUNNING" in p.text


def test_tahu_decodes_what_we_encode():
    data = sparkplug.encode_data([
        Metric("Speed", 1500.25, alias=1, ts_ms=1764400000000),
        Metric(None, -5, alias=2, ts_ms=1764400000001, type=tagwire.Type.INT8,
               quality=tagwire.Quality.BAD_COMM_FAILURE),
        Metric(None, "héllo", alias=3, ts_ms=1764400000002),
    ], seq=9, timestamp_ms=1764400000005)
    birth = sparkplug.encode_birth([Metric("Speed", 1.0, alias=1, ts_ms=1, unit="rpm",
                                           description="spindle")], seq=0, timestamp_ms=2)
    out = json.loads(tahu("""
      const chunks = []; process.stdin.on('data', c => chunks.push(c));
      process.stdin.on('end', () => {
        const buf = Buffer.concat(chunks); const n = buf.readUInt32BE(0);
        const conv = p => JSON.parse(JSON.stringify(p, (k, v) => typeof v === 'bigint' ? Number(v) :
              (v && v.low !== undefined && v.high !== undefined ? Number(BigInt(v.high >>> 0) << 32n | BigInt(v.low >>> 0)) : v)));
        process.stdout.write(JSON.stringify([conv(tahu.decodePayload(buf.subarray(4, 4 + n))),
                                             conv(tahu.decodePayload(buf.subarray(4 + n)))]));
      });""", len(data).to_bytes(4, "big") + data + birth))
    d, b = out
    assert d["seq"] == 9 and d["timestamp"] == 1764400000005
    m = d["metrics"]
    assert m[0]["value"] == 1500.25 and m[0]["type"] == "Double"
    assert m[1]["value"] == -5 and m[1]["type"] == "Int8"
    assert m[1]["properties"]["Quality"]["value"] == 0
    assert m[2]["value"] == "héllo"
    bm = b["metrics"][0]
    assert bm["name"] == "Speed" and bm["properties"]["engUnit"]["value"] == "rpm"
    assert bm["properties"]["documentation"]["value"] == "spindle"


def test_malformed_payload_raises_with_reason():
    with pytest.raises(tagwire.SparkplugError) as e:
        sparkplug.decode(b"\x12\xff\xff\xff\xff\x0f")
    assert e.value.code == lib.TW_ERR_SPARKPLUG_DECODE and e.value.detail


def test_topics_and_state():
    t = sparkplug.topic(MsgType.DDATA, "PlantA", "Press7", "Drive")
    assert t == "spBv1.0/PlantA/DDATA/Press7/Drive"
    assert sparkplug.parse_topic(t) == (MsgType.DDATA, "PlantA", "Press7", "Drive")
    assert sparkplug.topic(MsgType.STATE, None, "SCADA") == "spBv1.0/STATE/SCADA"
    with pytest.raises(tagwire.SparkplugError):
        sparkplug.topic(MsgType.NDATA, "Plant+A", "Press7")
    s = sparkplug.build_state(True, 1234)
    assert json.loads(s) == {"online": True, "timestamp": 1234}
    assert sparkplug.parse_state(s.encode()) == (True, 1234)
    assert MsgType.NBIRTH.msg_name == "NBIRTH"
    assert sparkplug.datatype_from_type(tagwire.Type.DOUBLE) == 10
    assert sparkplug.type_from_datatype(14) is tagwire.Type.STRING
    assert sparkplug.datatype_name(17) == "Bytes"
