// Decodes payloads written by sparkplug_interop_gen with Eclipse Tahu's JavaScript codec (npm
// package sparkplug-payload, installed by scripts/deps/sparkplug.sh) and compares every field
// with the manifest of what was encoded. Two decoders of that package are used: its high-level
// decodePayload() (values as Tahu interprets them) and its protobufjs schema (raw fields).
//   node tahu_check.js DIR
// SPDX-License-Identifier: Apache-2.0
'use strict';
const fs = require('fs');
const path = require('path');

const depsDir = process.env.TW_SPARKPLUG_DEPS || '/opt/tagwire-deps/sparkplug';
const modDir = path.join(depsDir, 'node_modules', 'sparkplug-payload');
if (!fs.existsSync(modDir)) {
  console.error(`sparkplug-payload is not installed in ${depsDir}: run scripts/deps/sparkplug.sh`);
  process.exit(2);
}
const tahu = require(modDir).get('spBv1.0');
const Payload = require(path.join(modDir, 'lib', 'sparkplugPayloadProto.js')).org.eclipse.tahu.protobuf.Payload;

const TYPE_NAMES = ['Unknown', 'Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32',
  'UInt64', 'Float', 'Double', 'Boolean', 'String', 'DateTime', 'Text', 'UUID', 'DataSet', 'Bytes'];

let passed = 0, failed = 0;
const notes = new Set();
function check(what, ok, got, want) {
  if (ok) { passed++; return; }
  failed++;
  console.log(`FAIL ${what}: got ${String(got)}, expected ${String(want)}`);
}
const str = (v) => (v === undefined || v === null ? v : v.toString());

function checkValue(where, exp, hm, rm) {
  const v = exp.value;
  if (v === null) {
    check(`${where} value null`, hm.value === null, hm.value, null);
    check(`${where} is_null`, rm.isNull === true, rm.isNull, true);
    return;
  }
  const dt = exp.datatype;
  switch (v.kind) {
    case 'bool': check(`${where} bool`, hm.value === v.v, hm.value, v.v); break;
    case 'int':
      if (dt === 4) check(`${where} int64`, str(hm.value) === v.v, str(hm.value), v.v);
      else check(`${where} int`, hm.value === Number(v.v), hm.value, v.v);
      break;
    case 'uint':
      if (dt === 8) check(`${where} uint64`, hm.value && hm.value.unsigned && str(hm.value) === v.v, str(hm.value), v.v);
      else if (dt === 7) {
        // The specification carries UInt32 in the uint32 int_value; Tahu's JavaScript
        // decodePayload() reads UInt32 from long_value, so check the raw field.
        notes.add('UInt32: checked on the raw int_value field (Tahu JS decodePayload() reads long_value for UInt32)');
        check(`${where} uint32 (raw int_value)`, String(rm.intValue) === v.v, rm.intValue, v.v);
      } else check(`${where} uint`, hm.value === Number(v.v), hm.value, v.v);
      break;
    case 'datetime_ms': check(`${where} datetime`, str(hm.value) === v.v, str(hm.value), v.v); break;
    case 'float': {
      const bits = new Uint32Array(new Float32Array([hm.value]).buffer)[0];
      const ok = Number.isNaN(hm.value) ? ((v.bits >>> 23) & 0xff) === 0xff && (v.bits & 0x7fffff) !== 0 : bits === v.bits;
      check(`${where} float`, typeof hm.value === 'number' && ok, bits, v.bits);
      break;
    }
    case 'double': {
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, hm.value);
      const hex = b.getBigUint64(0).toString(16).padStart(16, '0');
      check(`${where} double`, typeof hm.value === 'number' && hex === v.bits, hex, v.bits);
      break;
    }
    case 'string': check(`${where} string`, hm.value === v.v, JSON.stringify(hm.value), JSON.stringify(v.v)); break;
    case 'bytes': {
      const hex = hm.value ? Buffer.from(hm.value).toString('hex') : undefined;
      check(`${where} bytes`, hex === v.hex, hex, v.hex);
      break;
    }
    default: check(`${where} value kind ${v.kind}`, false, '?', v.kind);
  }
}

function checkFile(dir, base) {
  const buf = fs.readFileSync(path.join(dir, base + '.bin'));
  const exp = JSON.parse(fs.readFileSync(path.join(dir, base + '.expect.json'), 'utf8'));
  const hi = tahu.decodePayload(buf);
  const raw = Payload.decode(buf);
  check(`${base} timestamp`, str(hi.timestamp) === exp.timestamp, str(hi.timestamp), exp.timestamp);
  if (exp.seq === null) check(`${base} no seq`, !Object.prototype.hasOwnProperty.call(raw, 'seq'), raw.seq, 'absent');
  else check(`${base} seq`, str(hi.seq) === exp.seq, str(hi.seq), exp.seq);
  const hms = hi.metrics || [];
  check(`${base} metric count`, hms.length === exp.metrics.length, hms.length, exp.metrics.length);
  exp.metrics.forEach((em, i) => {
    const hm = hms[i] || {}, rm = raw.metrics[i] || {};
    const where = `${base}[${i}]`;
    check(`${where} name`, hm.name === em.name, hm.name, em.name);
    if (em.alias !== undefined) check(`${where} alias`, str(hm.alias) === em.alias, str(hm.alias), em.alias);
    else check(`${where} no alias`, hm.alias === undefined, str(hm.alias), 'absent');
    check(`${where} timestamp`, str(hm.timestamp) === em.timestamp, str(hm.timestamp), em.timestamp);
    check(`${where} datatype`, rm.datatype === em.datatype && hm.type === TYPE_NAMES[em.datatype],
          `${rm.datatype}/${hm.type}`, `${em.datatype}/${TYPE_NAMES[em.datatype]}`);
    check(`${where} is_historical`, !!hm.isHistorical === em.is_historical, !!hm.isHistorical, em.is_historical);
    const props = hm.properties || {};
    if (em.quality === null) check(`${where} no Quality`, props.Quality === undefined, JSON.stringify(props.Quality), 'absent');
    else check(`${where} Quality`, props.Quality && props.Quality.type === 'Int32' && props.Quality.value === em.quality,
               JSON.stringify(props.Quality), em.quality);
    for (const key of ['engUnit', 'documentation']) {
      if (em[key] !== undefined)
        check(`${where} ${key}`, props[key] && props[key].type === 'String' && props[key].value === em[key],
              JSON.stringify(props[key]), em[key]);
    }
    checkValue(where, em, hm, rm);
  });
}

const dir = process.argv[2];
const bases = fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4)).sort();
if (bases.length === 0) { console.error(`no payloads in ${dir}`); process.exit(2); }
for (const b of bases) {
  try { checkFile(dir, b); } catch (e) { failed++; console.log(`FAIL ${b}: ${e.stack}`); }
}
for (const n of notes) console.log(`note: ${n}`);
console.log(`${bases.length} payloads decoded by Tahu sparkplug-payload`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
