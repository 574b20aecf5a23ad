#!/usr/bin/python3
# Checks what receiver.py logged against the deterministic sequence the test produced:
# record i (1..N) holds the value i of tag "Counter" (uint64); with --typed also "Temp" (double
# i/2), "Flag" (bool, i odd), "Label" (string "v<i>", and every 7th with a quote, a newline and
# a non-ASCII character), quality good except every 10th (bad-comm-failure), source time
# 2023-11-14T22:13:20Z + i ms.
# Verifies: every value 1..N arrived in a 2xx-answered request (zero lost); a value that arrived
# more than once arrived only in requests with the same Idempotency-Key (duplicates only where an
# acknowledgement was lost) and same-key requests carry identical content; first arrivals are in
# order; content type / encoding as expected. Protobuf bodies are decoded by Eclipse Tahu's codec.
#   check.py LOG N [--typed] [--format jsonl|protobuf] [--gzip] [--node NODE] [--tahu JS]
#            [--expect-dups-min K]
# SPDX-License-Identifier: Apache-2.0
import argparse, base64, datetime, gzip, json, os, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument('log')
ap.add_argument('n', type=int)
ap.add_argument('--typed', action='store_true')
ap.add_argument('--format', default='jsonl')
ap.add_argument('--gzip', action='store_true')
ap.add_argument('--node', default='node')
ap.add_argument('--historical', choices=['yes', 'no'])
ap.add_argument('--expect-repeats-min', type=int, default=0)
ap.add_argument('--tahu', default=os.path.join(os.path.dirname(__file__), 'tahu_decode.js'))
a = ap.parse_args()

fails = []
def fail(msg):
    fails.append(msg)
    if len(fails) <= 20:
        print('FAIL', msg)

BASE_NS = 1700000000 * 10**9
def rfc3339(ns):
    s, frac = divmod(ns, 10**9)
    return datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S') + '.%09dZ' % frac
def label(i):
    return 'v%d' % i + ('"\n\u00e9\u20ac' if i % 7 == 0 else '')

reqs = []
with open(a.log) as f:
    for line in f:
        try:
            reqs.append(json.loads(line))
        except ValueError:
            # a line torn by a kill: its request was not answered, so its values do not count as
            # delivered here (conservative: can only make the check fail, never pass)
            print('note: skipping a torn log line')
ok_reqs = [r for r in reqs if 200 <= r['status'] < 300]
want_ct = 'application/x-protobuf' if a.format == 'protobuf' else 'application/x-ndjson'
bodies = []
for r in ok_reqs:
    b = base64.b64decode(r['body'])
    if r['ct'] != want_ct:
        fail('content type %r, expected %r' % (r['ct'], want_ct))
    if a.gzip:
        if r['ce'] != 'gzip':
            fail('Content-Encoding %r, expected gzip' % r['ce'])
        b = gzip.decompress(b)
    elif r['ce']:
        fail('unexpected Content-Encoding %r' % r['ce'])
    if not r['key']:
        fail('request without Idempotency-Key')
    bodies.append(b)

# decode every body to a list of (name, value-string, quality-ok, ts-ok) tuples
decoded = []
if a.format == 'protobuf':
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, b in enumerate(bodies):
            p = os.path.join(d, '%d.pb' % i)
            open(p, 'wb').write(b)
            files.append(p)
        out = []
        for k in range(0, len(files), 200):
            res = subprocess.run([a.node, a.tahu] + files[k:k + 200], capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr)
                sys.exit('FAIL: tahu decoder failed')
            out += [json.loads(l) for l in res.stdout.splitlines()]
        for p in out:
            vals = []
            for m in p['metrics']:
                vals.append(m)
            decoded.append(vals)
else:
    for b in bodies:
        text = b.decode('utf-8')
        if not text.endswith('\n'):
            fail('JSON lines body does not end with a newline')
        decoded.append([json.loads(l) for l in text.splitlines()])

def counter_of(m):
    return int(m['value'])

def check_typed(m, i):
    name = m['name']
    bad = i % 10 == 0
    if a.format == 'protobuf':
        want_ts = str((BASE_NS + i * 10**6) // 10**6)
        if m['timestamp'] != want_ts:
            fail('%s[%d] timestamp %s != %s' % (name, i, m['timestamp'], want_ts))
        if m['quality'] != ('0' if bad else '192'):
            fail('%s[%d] quality %s' % (name, i, m['quality']))
        exp = {'Counter': ('UInt64', str(i)), 'Temp': ('Double', str(i / 2) if i % 2 else str(i // 2)),
               'Flag': ('Boolean', 'true' if i % 2 else 'false'), 'Label': ('String', label(i))}[name]
        if m['type'] != exp[0] or m['value'] != exp[1]:
            fail('%s[%d] = %s %r, expected %s %r' % (name, i, m['type'], m['value'], exp[0], exp[1]))
        if a.historical and m['historical'] != (a.historical == 'yes'):
            fail('%s[%d] is_historical %r, expected %s' % (name, i, m['historical'], a.historical))
        return
    ts_ns = BASE_NS + i * 10**6
    if m['ts_ns'] != ts_ns or m['ts'] != rfc3339(ts_ns):
        fail('%s[%d] ts %r/%r, expected %r' % (name, i, m['ts'], m['ts_ns'], rfc3339(ts_ns)))
    if m['quality'] != ('bad-comm-failure' if bad else 'good') or m['quality_code'] != (0x80050000 if bad else 0):
        fail('%s[%d] quality %r %r' % (name, i, m['quality'], m['quality_code']))
    exp = {'Counter': ('uint64', i), 'Temp': ('double', i / 2), 'Flag': ('bool', i % 2 == 1),
           'Label': ('string', label(i))}[name]
    if m['type'] != exp[0] or m['value'] != exp[1] or (exp[0] != 'double' and type(m['value']) != type(exp[1])):
        fail('%s[%d] = %s %r, expected %s %r' % (name, i, m['type'], m['value'], exp[0], exp[1]))

seen = {}        # counter value -> set of keys
key_content = {} # key -> content
order = []
for r, vals in zip(ok_reqs, decoded):
    k = r['key']
    content = json.dumps(vals, sort_keys=True) if a.format != 'protobuf' else json.dumps([{x: v for x, v in m.items() if x != 'historical'} for m in vals], sort_keys=True)
    if k in key_content and key_content[k] != content:
        fail('two requests with key %s carry different content' % k)
    key_content[k] = content
    cur = None
    for m in vals:
        if m['name'] == 'Counter':
            cur = counter_of(m)
            if cur not in seen:
                order.append(cur)
            seen.setdefault(cur, set()).add(k)
        elif not a.typed:
            fail('unexpected tag %r' % m['name'])
        if a.typed:
            if cur is None:
                fail('value before its record\'s Counter')
            else:
                check_typed(m, cur)
missing = [i for i in range(1, a.n + 1) if i not in seen]
extra = [v for v in seen if not 1 <= v <= a.n]
if missing:
    fail('%d values lost, first %s' % (len(missing), missing[:10]))
if extra:
    fail('values outside 1..%d: %s' % (a.n, extra[:10]))
dups = [v for v, ks in seen.items() if len(ks) > 1]
if dups:
    fail('%d values arrived under different idempotency keys, e.g. %s: %s' % (len(dups), dups[0], seen[dups[0]]))
if order != sorted(order):
    fail('values did not first arrive in order')
keys = [r['key'] for r in ok_reqs]
dup_reqs = len(keys) - len(set(keys))
print('requests %d (2xx %d), distinct keys %d, repeated deliveries (same key) %d, values %d' %
      (len(reqs), len(ok_reqs), len(set(keys)), dup_reqs, len(seen)))
if dup_reqs < a.expect_repeats_min:
    fail('expected at least %d repeated deliveries (lost acknowledgements), saw %d' % (a.expect_repeats_min, dup_reqs))
sys.exit(1 if fails else 0)
