// Independent decoder for the node's end-to-end tests: Eclipse Tahu's JavaScript codec (npm
// package sparkplug-payload, installed by scripts/deps/sparkplug.sh).
//   node sp_check.js encode OUT.bin JSON        writes a Sparkplug payload (e.g. a DCMD) encoded by Tahu
//   node sp_check.js check CAPTURE SCENARIO     decodes a capture of `mosquitto_sub -F '%t %x'` and
//                                               checks it (scenarios: gateway, gateway-nosim, oem)
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

const [cmd, a1, a2] = process.argv.slice(2);
if (cmd === 'encode') {
  fs.writeFileSync(a1, tahu.encodePayload(JSON.parse(a2)));
  process.exit(0);
}
// check-live: the same checks on a session still running (no NDEATH yet)
const live = cmd === 'check-live';
if (cmd !== 'check' && !live) {
  console.error('usage: sp_check.js encode OUT JSON | check CAPTURE SCENARIO | check-live CAPTURE SCENARIO');
  process.exit(2);
}

let passed = 0, failed = 0;
function check(what, ok, detail) {
  if (ok) { passed++; return; }
  failed++;
  console.log(`FAIL ${what}${detail === undefined ? '' : ': ' + detail}`);
}
const num = (v) => (v !== null && typeof v === 'object' && 'low' in v ? Number(v.toString()) : v);
const quality = (m) => (m.properties && m.properties.Quality ? num(m.properties.Quality.value) : undefined);
const unit = (m) => (m.properties && m.properties.engUnit ? m.properties.engUnit.value : undefined);

// ---- decode the capture ----
const msgs = [];
for (const line of fs.readFileSync(a1, 'utf8').split('\n')) {
  const sp = line.trim().split(' ');
  if (sp.length !== 2 || !sp[0].startsWith('spBv1.0/')) continue;
  const t = sp[0].split('/');
  let p;
  try {
    p = tahu.decodePayload(Buffer.from(sp[1], 'hex'));
  } catch (e) {
    check(`decode ${sp[0]}`, false, e.message);
    continue;
  }
  msgs.push({ topic: sp[0], group: t[1], type: t[2], node: t[3], device: t[4], p });
}
console.log(`decoded ${msgs.length} messages`);

// ---- session rules: births, bdSeq, seq, aliases ----
const births = {}; // device ('' = node) -> { name -> metric } of the latest birth
const aliases = {}; // device -> alias -> name
const series = {}; // device -> name -> [{ value, quality, ts }]
let bdseq = null, expectSeq = null, sessions = 0, deaths = 0;
for (const m of msgs) {
  const dev = m.device || '';
  const p = m.p;
  if (m.type === 'NCMD' || m.type === 'DCMD' || m.type === 'STATE') continue; // from the host
  if (m.type === 'NBIRTH') {
    sessions++;
    const bd = p.metrics.find((x) => x.name === 'bdSeq');
    check('NBIRTH has bdSeq', bd !== undefined);
    if (bd) bdseq = num(bd.value);
    const rb = p.metrics.find((x) => x.name === 'Node Control/Rebirth');
    check('NBIRTH has Node Control/Rebirth = false', rb && rb.value === false && rb.type === 'Boolean', rb && rb.value);
    check('NBIRTH seq 0', num(p.seq) === 0, num(p.seq));
    expectSeq = 1;
  } else if (m.type === 'NDEATH') {
    deaths++;
    const bd = p.metrics.find((x) => x.name === 'bdSeq');
    check('NDEATH bdSeq equals the NBIRTH bdSeq', bd && num(bd.value) === bdseq, bd && num(bd.value));
    expectSeq = null;
    continue;
  } else if (expectSeq !== null) {
    check(`${m.topic} seq`, num(p.seq) === expectSeq, `${num(p.seq)} (expected ${expectSeq})`);
    expectSeq = (expectSeq + 1) % 256;
  } else {
    check(`${m.topic} after NBIRTH`, false, 'data before a birth');
  }
  if (m.type === 'NBIRTH' || m.type === 'DBIRTH') {
    births[dev] = {};
    aliases[dev] = {};
    for (const x of p.metrics) {
      births[dev][x.name] = x;
      if (x.alias !== undefined && x.alias !== null) aliases[dev][num(x.alias)] = x.name;
      check(`${m.type} ${dev}/${x.name} has a datatype`, typeof x.type === 'string', x.type);
    }
  }
  for (const x of p.metrics) {
    const name = x.name || (aliases[dev] || {})[num(x.alias)];
    check(`${m.topic}: metric resolves to a name (alias ${num(x.alias)})`, name !== undefined);
    if (!name) continue;
    ((series[dev] = series[dev] || {})[name] = series[dev][name] || []).push({
      value: x.value, quality: quality(x), ts: num(x.timestamp), type: m.type,
    });
  }
}
check('at least one session', sessions >= 1, sessions);
if (!live) check('the session ended with NDEATH', deaths >= 1, deaths);

function birthMetric(dev, name) {
  const m = (births[dev] || {})[name];
  check(`birth of ${dev || 'node'} has ${name}`, m !== undefined);
  return m || {};
}
function values(dev, name) { return ((series[dev] || {})[name] || []).map((s) => s.value); }
const good = (q) => q === undefined || q === 192;

// ---- scenario checks ----
const scenario = a2;
if (scenario === 'gateway' || scenario === 'gateway-nosim') {
  if (scenario === 'gateway') {
    const oil = birthMetric('Sim', 'Hydraulics/OilTemp');
    check('Sim OilTemp datatype Double', oil.type === 'Double', oil.type);
    check('Sim OilTemp engUnit degC', unit(oil) === 'degC', unit(oil));
    check('Sim OilTemp quality good', good(quality(oil)), quality(oil));
    const ov = values('Sim', 'Hydraulics/OilTemp');
    check('Sim OilTemp changes (>= 3 distinct values)', new Set(ov).size >= 3, ov.join(','));
    check('Sim OilTemp within 35..65', ov.every((v) => v >= 35 - 1e-9 && v <= 65 + 1e-9), ov.join(','));
    const st = birthMetric('Sim', 'Counters/Strokes');
    check('Sim Strokes datatype UInt64', st.type === 'UInt64', st.type);
    const sv = values('Sim', 'Counters/Strokes').map(num);
    check('Sim Strokes increase (a birth value may be repeated by the first DDATA)', sv.length >= 3 && sv.every((v, i) => i === 0 || v > sv[i - 1] || (v === sv[i - 1] && i === 1)) && sv[sv.length - 1] > sv[0], sv.join(','));
  }
  const sp = birthMetric('Press', 'Drive/Speed');
  check('Press Drive/Speed Double', sp.type === 'Double', sp.type);
  check('Press Drive/Speed engUnit rpm', unit(sp) === 'rpm', unit(sp));
  check('Press Drive/Speed scaled 100 raw -> 15 rpm', sp.value === 15, sp.value);
  const set = birthMetric('Press', 'Setpoints/Speed');
  check('Press Setpoints/Speed UInt16', set.type === 'UInt16', set.type);
  check('Press Setpoints/Speed initial value 1 (holding register 1)', num(set.value) === 1, num(set.value));
  const bad = birthMetric('Press', 'Faulty/Register');
  check('Press Faulty/Register quality bad (0): the device answers with an exception', quality(bad) === 0, quality(bad));
  const pressEvents = msgs.filter((m) => m.device === 'Press' && (m.type === 'DBIRTH' || m.type === 'DDEATH')).map((m) => m.type);
  check('Press: DBIRTH, DDEATH when the device went away, DBIRTH when it came back',
    pressEvents.join(',').startsWith('DBIRTH,DDEATH,DBIRTH'), pressEvents.join(','));
  const setv = values('Press', 'Setpoints/Speed').map(num);
  check('DCMD Setpoints/Speed = 777 published back', setv.includes(777), setv.join(','));
  const spv = values('Press', 'Drive/Speed');
  check('DCMD Drive/Speed = 30 rpm published back (raw 200)', spv.includes(30), spv.join(','));
} else if (scenario === 'oem') {
  const oil = birthMetric('', 'Hydraulics/OilTemp');
  check('OilTemp Double degC', oil.type === 'Double' && unit(oil) === 'degC', `${oil.type} ${unit(oil)}`);
  const st = birthMetric('', 'State');
  check('State String', st.type === 'String', st.type);
  const spm = birthMetric('', 'Setpoints/StrokesPerMinute');
  check('set point 1/min', unit(spm) === '1/min', unit(spm));
  const ov = values('', 'Hydraulics/OilTemp');
  check('OilTemp changes', new Set(ov).size >= 3, ov.join(','));
  const sv = values('', 'Setpoints/StrokesPerMinute');
  check('NCMD set point 90 published back', sv.includes(90), sv.join(','));
  const cv = values('', 'Counters/Strokes').map(num);
  check('Strokes counted', cv.length >= 2 && cv[cv.length - 1] > 0, cv.join(','));
} else if (scenario === 'custom') {
  const sp = birthMetric('Press7', 'Spindle/Speed');
  check('Spindle/Speed Double rpm', sp.type === 'Double' && unit(sp) === 'rpm', `${sp.type} ${unit(sp)}`);
  const st = birthMetric('Press7', 'State');
  check('State String', st.type === 'String', st.type);
  const setv = values('Press7', 'Spindle/Setpoint');
  check('DCMD Spindle/Setpoint = 6000 published back', setv.includes(6000), setv.join(','));
  const spv = values('Press7', 'Spindle/Speed');
  check('the spindle follows the new set point', spv.some((v) => v > 4000), spv.join(','));
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
console.log(`${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
