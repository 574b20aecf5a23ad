// Independent Sparkplug codec for the edge interop tests: Eclipse Tahu's JavaScript codec (npm
// sparkplug-payload, installed by scripts/deps/sparkplug.sh).
//   node tahu_tool.js decode FILE   FILE holds `mosquitto_sub -F '%t %x'` lines; prints one JSON
//                                   object a line: {topic, state?|payload} decoded by Tahu
//   node tahu_tool.js encode OUT JSON   encodes the payload JSON ({timestamp, metrics: [...]})
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

// Long values (64-bit) become decimal strings; Buffers become hex.
function plain(v) {
  if (v === null || v === undefined) return v === undefined ? null : v;
  if (typeof v === 'object' && typeof v.low === 'number' && typeof v.high === 'number' &&
      typeof v.toString === 'function') return v.toString();
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]);
    return o;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'decode') {
  const lines = fs.readFileSync(a, 'utf8').split('\n').filter((l) => l.length);
  for (const l of lines) {
    const sp = l.lastIndexOf(' ');
    const topic = l.slice(0, sp);
    const bytes = Buffer.from(l.slice(sp + 1), 'hex');
    const out = { topic };
    if (topic.startsWith('spBv1.0/STATE/')) out.state = bytes.toString('utf8');
    else {
      try { out.payload = plain(tahu.decodePayload(bytes)); } catch (err) { out.error = String(err); }
    }
    console.log(JSON.stringify(out));
  }
} else if (cmd === 'encode') {
  const p = JSON.parse(b);
  fs.writeFileSync(a, tahu.encodePayload(p));
} else {
  console.error('usage: tahu_tool.js decode FILE | encode OUT JSON');
  process.exit(2);
}
