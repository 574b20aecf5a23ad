// Decodes Sparkplug B payloads (the HTTPS uplink's protobuf bodies) with Eclipse Tahu's JavaScript
// codec (npm sparkplug-payload, installed by scripts/deps/sparkplug.sh): reads file names from argv,
// prints one JSON array of metrics per file (value as a string, Long-safe).
//   node tahu_decode.js FILE...
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
const str = (v) => (v === undefined || v === null ? null : v.toString());
for (const f of process.argv.slice(2)) {
  const p = tahu.decodePayload(new Uint8Array(fs.readFileSync(f)));
  const out = (p.metrics || []).map((m) => ({
    name: m.name,
    type: m.type,
    value: m.value instanceof Uint8Array || Buffer.isBuffer(m.value) ? Buffer.from(m.value).toString('base64') : str(m.value),
    timestamp: str(m.timestamp),
    historical: !!m.isHistorical,
    quality: m.properties && m.properties.Quality ? str(m.properties.Quality.value) : null,
  }));
  console.log(JSON.stringify({ timestamp: str(p.timestamp), metrics: out }));
}
