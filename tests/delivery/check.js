// Independent checker of the delivery tests: decodes a `mosquitto_sub -F '%t %x'` capture with
// Eclipse Tahu's JavaScript codec (npm sparkplug-payload, scripts/deps/sparkplug.sh) and compares
// the Counter values the subscriber got with the values the gateway accepted.
//   node check.js CAPTURE ACCEPTED_LOG RUNS [--suffix] [--refused REFUSED_LOG] [--broker-log MOSQUITTO_LOG]
// Asserts:
//   - loss: every accepted value (ACCEPTED_LOG) was received (in a birth or a DATA message, live or
//     historical). With --suffix (drop-oldest overflow) only the values after the first received
//     one of each run must all be there.
//   - continuity: per gateway run (value = RUN * 1000000 + k), the values received form the
//     contiguous range from their smallest to their largest k (no hole anywhere), and every run
//     0 .. RUNS-1 delivered something.
//   - duplicates: a value received twice carries the same metric timestamp both times (it is a
//     replay of one record, identifiable by tag + timestamp), and at least one copy is historical
//     or part of a birth (a replay after a reconnect / restart), never two live copies.
//   - with --refused (refuse-new overflow): the values the store refused (REFUSED_LOG) are the only
//     holes allowed, none of them arrives in a DATA message (a birth may carry one as the tag's
//     current value), and the DATA messages bring the values in order: the first copy of every
//     value arrives after the first copy of every smaller one (replays may repeat older ones).
//   - --broker-log (a broker that is SIGKILLed, without persistence): a QoS 1 message the broker
//     acknowledged to the gateway but had not yet forwarded when it was killed is lost by the
//     broker, not by the gateway (MQTT moves the responsibility with the PUBACK). From the broker's
//     log (log_type all), per broker life: messages received from the gateway minus messages the
//     subscriber acknowledged (PUBACK) = messages the broker may have lost, B. Each lost message is a run of consecutive
//     values, so the values missing at the subscriber must form at most B runs ("gaps"); any other
//     loss still fails.
// Prints "N passed, M failed" and exits non-zero on any failure.
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
const [capture, acceptedLog, runsArg, ...flags] = process.argv.slice(2);
const runs = Number(runsArg);
const suffix = flags.includes('--suffix');
const refusedLog = flags.includes('--refused') ? flags[flags.indexOf('--refused') + 1] : null;
const refused = new Set(refusedLog ? fs.readFileSync(refusedLog, 'utf8').split('\n').filter((s) => s).map(Number) : []);
const brokerLog = flags.includes('--broker-log') ? flags[flags.indexOf('--broker-log') + 1] : null;
// messages the broker acknowledged but never forwarded (see above); 0 without --broker-log
let brokerLost = 0;
if (brokerLog) {
  // forwarded = sent to the subscriber AND acknowledged by it (QoS 1 PUBACK, matched by message id
  // within one broker life); a PUBLISH logged as sent whose PUBACK never came may have died with
  // the broker
  let rec = 0, acked = 0, inflight = new Map();
  const endLife = () => { brokerLost += Math.max(0, rec - acked); rec = acked = 0; inflight = new Map(); };
  const data = /'spBv1\.0\/Deliv\/(NBIRTH|NDATA)\//;
  for (const line of fs.readFileSync(brokerLog, 'utf8').split('\n')) {
    let m;
    if (/mosquitto version .* starting/.test(line)) endLife();
    else if (/Received PUBLISH from /.test(line) && data.test(line)) rec++;
    else if ((m = /Sending PUBLISH to host-sub \(d\d, q1, r\d, m(\d+),/.exec(line)) && data.test(line)) inflight.set(m[1], true);
    else if ((m = /Received PUBACK from host-sub \(Mid: (\d+)/.exec(line)) && inflight.delete(m[1])) acked++;
  }
  endLife();
  console.log(`broker log: ${brokerLost} message(s) acknowledged by a broker that was killed before it forwarded them`);
}
let passed = 0, failed = 0;
function check(what, ok, detail) {
  if (ok) { passed++; return; }
  failed++;
  console.log(`FAIL ${what}${detail === undefined ? '' : ': ' + detail}`);
}
const num = (v) => (v !== null && typeof v === 'object' && 'low' in v ? Number(v.toString()) : Number(v));

let alias = null;
const got = new Map(); // value -> [{ ts, hist, birth }]
const dataOrder = []; // values of DATA messages in arrival order
let nmsg = 0;
for (const line of fs.readFileSync(capture, 'utf8').split('\n')) {
  const sp = line.trim().split(' ');
  if (sp.length !== 2 || !sp[0].startsWith('spBv1.0/Deliv/')) continue;
  const type = sp[0].split('/')[2];
  if (type !== 'NBIRTH' && type !== 'NDATA') continue;
  let p;
  try { p = tahu.decodePayload(Buffer.from(sp[1], 'hex')); } catch (e) { check('decode', false, e.message); continue; }
  nmsg++;
  for (const m of p.metrics || []) {
    if (type === 'NBIRTH') {
      if (m.name !== 'Counter') continue;
      alias = num(m.alias);
    } else if (alias === null || num(m.alias) !== alias) continue;
    if (m.value === null || m.value === undefined) continue;
    const v = num(m.value);
    if (!got.has(v)) got.set(v, []);
    got.get(v).push({ ts: num(m.timestamp), hist: !!m.isHistorical, birth: type === 'NBIRTH' });
    if (type === 'NDATA') dataOrder.push(v);
  }
}
const accepted = fs.readFileSync(acceptedLog, 'utf8').split('\n').filter((s) => s).map(Number);
console.log(`decoded ${nmsg} messages, ${got.size} distinct Counter values; ${accepted.length} accepted`);

// continuity per run, and the first received value of each run (for --suffix)
const byRun = new Map();
for (const v of got.keys()) {
  const r = Math.floor(v / 1000000);
  if (!byRun.has(r)) byRun.set(r, []);
  byRun.get(r).push(v % 1000000);
}
const firstOf = new Map();
for (let r = 0; r < runs; r++) {
  const ks = (byRun.get(r) || []).sort((a, b) => a - b);
  check(`run ${r} delivered values`, ks.length > 0);
  if (!ks.length) continue;
  firstOf.set(r, ks[0]);
  const holes = [];
  for (let i = 1; i < ks.length; i++) {
    if (ks[i] === ks[i - 1] + 1) continue;
    let allRefused = refused.size > 0;
    for (let k = ks[i - 1] + 1; k < ks[i] && allRefused; k++) allRefused = refused.has(r * 1000000 + k);
    if (!allRefused) holes.push(`${ks[i - 1]}..${ks[i]}`);
  }
  if (holes.length && holes.length <= brokerLost) console.log(`run ${r}: holes ${holes.join(' ')} (lost by the killed broker)`);
  check(`run ${r}: received k ${ks[0]}..${ks[ks.length - 1]} without holes${refused.size ? ' (but refused values)' : ''}`, holes.length <= brokerLost, holes.slice(0, 5).join(' '));
  if (!suffix) check(`run ${r}: starts at k=1`, ks[0] === 1, `starts at ${ks[0]}`);
}
// loss
let lost = 0, gaps = 0, prevLost = null;
const lostEx = [];
for (const v of accepted) {
  const r = Math.floor(v / 1000000);
  if (suffix && (!firstOf.has(r) || v % 1000000 < firstOf.get(r))) continue;
  if (!got.has(v)) {
    lost++;
    if (prevLost === null || v !== prevLost + 1) gaps++;
    prevLost = v;
    if (lostEx.length < 10) lostEx.push(v);
  }
}
if (lost && gaps <= brokerLost) console.log(`${lost} value(s) in ${gaps} gap(s) lost by the killed broker, e.g. ${lostEx.join(' ')}`);
check(`no accepted value lost by the gateway (${accepted.length} accepted)`, gaps <= brokerLost,
      `${lost} lost in ${gaps} gap(s), broker lost ${brokerLost} message(s), e.g. ${lostEx.join(' ')}`);
// refused values: counted by the gateway, never published as data; the data comes in order
if (refusedLog) {
  console.log(`${refused.size} refused`);
  let refusedSent = 0;
  const ex = [];
  for (const v of refused) {
    const cs = got.get(v) || [];
    if (cs.some((c) => !c.birth)) { refusedSent++; if (ex.length < 5) ex.push(v); }
  }
  check('no refused value published as data', refusedSent === 0, `${refusedSent}, e.g. ${ex.join(' ')}`);
  let maxFirst = -1, outOfOrder = 0;
  const seen = new Set(), oEx = [];
  for (const v of dataOrder) {
    if (seen.has(v)) continue; // a replay of a value already received
    seen.add(v);
    if (v < maxFirst) { outOfOrder++; if (oEx.length < 5) oEx.push(`${v} after ${maxFirst}`); }
    if (v > maxFirst) maxFirst = v;
  }
  check('data in order (first copies ascending)', outOfOrder === 0, `${outOfOrder}: ${oEx.join(', ')}`);
}
// duplicates
let dups = 0, badDups = 0;
const badEx = [];
for (const [v, cs] of got) {
  if (cs.length < 2) continue;
  dups += cs.length - 1;
  const sameTs = cs.every((c) => c.ts === cs[0].ts);
  const live = cs.filter((c) => !c.hist && !c.birth).length;
  if (!sameTs || live > 1) { badDups++; if (badEx.length < 5) badEx.push(`${v}:${JSON.stringify(cs)}`); }
}
console.log(`duplicates: ${dups}`);
check('duplicates are replays (same timestamp, at most one live copy)', badDups === 0, badEx.join(' '));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
