// The reverse direction: Eclipse Tahu's JavaScript codec (npm sparkplug-payload) encodes payloads
// as a host would send them (NCMD/DCMD writes, a birth with properties), `tagwire sparkplug-decode
// --json` decodes them, and the values are compared.
//   node tahu_encode_check.js TAGWIRE DIR
// SPDX-License-Identifier: Apache-2.0
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const depsDir = process.env.TW_SPARKPLUG_DEPS || '/opt/tagwire-deps/sparkplug';
const modDir = path.join(depsDir, 'node_modules', 'sparkplug-payload');
if (!fs.existsSync(modDir)) {
  console.error(`sparkplug-payload is not installed in ${depsDir}: run scripts/deps/sparkplug.sh`);
  process.exit(2);
}
const tahu = require(modDir).get('spBv1.0');
const [tagwire, dir] = process.argv.slice(2);
fs.mkdirSync(dir, { recursive: true });

const ts = 1764400000000;
const cases = {
  ncmd_rebirth: { timestamp: ts, metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] },
  dcmd_writes: {
    timestamp: ts + 1,
    seq: 0,
    metrics: [
      { name: 'Setpoint', alias: 7, timestamp: ts, type: 'Double', value: -12.75 },
      { alias: 8, type: 'Int8', value: -5 },
      { alias: 9, type: 'Int16', value: -300 },
      { alias: 10, type: 'Int32', value: -2147483648 },
      { alias: 11, type: 'Int64', value: -42 },
      { alias: 12, type: 'UInt8', value: 200 },
      { alias: 13, type: 'UInt16', value: 65000 },
      { alias: 14, type: 'UInt32', value: 4000000000 },
      { alias: 15, type: 'UInt64', value: 9007199254740991 },
      { alias: 16, type: 'Float', value: 1.5 },
      { alias: 17, type: 'String', value: 'héllo "w"' },
      { alias: 18, type: 'DateTime', value: ts },
      { alias: 19, type: 'Bytes', value: Buffer.from([0, 1, 254, 255]) },
      { alias: 20, type: 'Boolean', value: false },
      { alias: 21, type: 'Text', value: 'text' },
    ],
  },
  dbirth_props: {
    timestamp: ts,
    seq: 3,
    metrics: [{
      name: 'Hydraulics/OilTemp', alias: 2, timestamp: ts, type: 'Float', value: 41.5,
      properties: { engUnit: { type: 'String', value: 'degC' }, Quality: { type: 'Int32', value: 500 } },
    }, {
      name: 'Old', alias: 3, timestamp: ts, type: 'Int32', value: 1, isHistorical: true,
      properties: { Quality: { type: 'Int32', value: 0 } },
    }],
  },
};

// What tagwire's JSON must show for each metric: [field, expected] pairs.
const expect = {
  ncmd_rebirth: [[{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]],
  dcmd_writes: [[
    { name: 'Setpoint', alias: 7, timestamp: ts, type: 'Double', value: -12.75 },
    { alias: 8, type: 'Int8', value: -5 }, { alias: 9, type: 'Int16', value: -300 },
    { alias: 10, type: 'Int32', value: -2147483648 }, { alias: 11, type: 'Int64', value: -42 },
    { alias: 12, type: 'UInt8', value: 200 }, { alias: 13, type: 'UInt16', value: 65000 },
    { alias: 14, type: 'UInt32', value: 4000000000 }, { alias: 15, type: 'UInt64', value: 9007199254740991 },
    { alias: 16, type: 'Float', value: 1.5 }, { alias: 17, type: 'String', value: 'héllo "w"' },
    { alias: 18, type: 'DateTime', value: ts }, { alias: 19, type: 'Bytes', value: '0001feff' },
    { alias: 20, type: 'Boolean', value: false }, { alias: 21, type: 'Text', value: 'text' },
  ]],
  dbirth_props: [[
    { name: 'Hydraulics/OilTemp', alias: 2, type: 'Float', value: 41.5, quality: 500 },
    { name: 'Old', alias: 3, type: 'Int32', value: 1, quality: 0, is_historical: true },
  ]],
};

let passed = 0, failed = 0;
for (const [name, payload] of Object.entries(cases)) {
  const file = path.join(dir, name + '.bin');
  fs.writeFileSync(file, tahu.encodePayload(payload));
  let out;
  try {
    out = JSON.parse(execFileSync(tagwire, ['sparkplug-decode', '--json', file], { encoding: 'utf8' }));
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: tagwire could not decode it: ${e.message}`);
    continue;
  }
  const want = expect[name][0];
  if (out.metrics.length !== want.length) { failed++; console.log(`FAIL ${name}: ${out.metrics.length} metrics`); continue; }
  if (out.timestamp !== payload.timestamp) { failed++; console.log(`FAIL ${name}: timestamp ${out.timestamp}`); } else passed++;
  want.forEach((w, i) => {
    for (const [k, v] of Object.entries(w)) {
      const got = out.metrics[i][k];
      if (got === v) passed++;
      else { failed++; console.log(`FAIL ${name}[${i}].${k}: got ${JSON.stringify(got)}, expected ${JSON.stringify(v)}`); }
    }
  });
  if (name === 'dbirth_props') {
    const p = out.metrics[0].properties || {};
    if (p.engUnit && p.engUnit.value === 'degC') passed++;
    else { failed++; console.log(`FAIL ${name}: engUnit ${JSON.stringify(p.engUnit)}`); }
  }
}
console.log(`${Object.keys(cases).length} payloads encoded by Tahu sparkplug-payload, decoded by tagwire`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
