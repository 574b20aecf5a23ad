#!/bin/sh
# tagwire check-config: exit 0 + summary for the example, exit 1 + "FILE: PATH: problem" for a bad
# file, exit 3 for a missing file, exit 2 for a bad command line.
set -u
cli=$1; example=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twcheck.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

out=$("$cli" check-config "$example" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] || fail "example: exit $rc: $(cat "$tmp/err")"
printf '%s\n' "$out" | grep -qx "$example: OK (2 devices, 9 tags)" || fail "example summary: $out"
printf '%s\n' "$out" | grep -q '^device    Press  .*  5 tags  modbus+tcp://127.0.0.1:1502?unit=1  scan groups: fast 250 ms, slow 5000 ms$' \
  || fail "device line: $out"
out=$("$cli" check-config --tags "$example" 2>/dev/null) || fail "--tags"
printf '%s\n' "$out" | grep -q 'Setpoints/Speed  *uint16  *read-write @holding-register:1:UINT16 \[slow 5000 ms\] rpm' \
  || fail "tag line: $out"

cat >"$tmp/bad.json" <<'JSON'
{
  "node": { "group_id": "G", "edge_node_id": "E" },
  "uplink": { "broker": "mqtt://127.0.0.1:1883", "insecure": true },
  "devices": [ { "id": "D", "adapter": "sim://",
                 "tags": [ { "name": "a", "address": "ramp", "type": "double", "deadband": "abc" } ] } ]
}
JSON
"$cli" check-config "$tmp/bad.json" >"$tmp/out" 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] || fail "bad file: exit $rc"
[ "$(cat "$tmp/err")" = "$tmp/bad.json: \$.devices[0].tags[0].deadband: must be a number >= 0 (got \"abc\")" ] \
  || fail "bad file message: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "bad file printed a summary"

# a misspelt key, an address the adapter refuses, a key given twice: each with its JSON path
bad() { # NAME EXPECTED-MESSAGE (the file is on stdin)
  cat >"$tmp/$1.json"
  "$cli" check-config "$tmp/$1.json" >"$tmp/out" 2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] || fail "$1: exit $rc"
  [ "$(cat "$tmp/err")" = "$tmp/$1.json: $2" ] || fail "$1 message: $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && fail "$1 printed a summary"
  return 0
}
head='"node": { "group_id": "G", "edge_node_id": "E" }, "uplink": { "broker": "mqtt://h", "insecure": true }'
bad typo "\$.devices[0].tags[0].adress: unknown key (did you mean \"address\"?)" <<JSON
{ $head, "devices": [ { "id": "D", "adapter": "sim://", "tags": [ { "name": "a", "adress": "ramp", "type": "double" } ] } ] }
JSON
bad address "\$.devices[0].tags[1].address: refused by the \"modbus+tcp\" adapter: address 'hr:1:BYTES[4]': unknown type 'BYTES' (expected BOOL, INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, FLOAT64 or STRING[n])" <<JSON
{ $head, "devices": [ { "id": "D", "adapter": "modbus+tcp://127.0.0.1:502",
  "tags": [ { "name": "a", "address": "coil:1", "type": "bool" }, { "name": "b", "address": "hr:1:BYTES[4]", "type": "bytes" } ] } ] }
JSON
bad type "\$.devices[0].tags[0].type: string cannot hold the values of address \"coil:1\", which are bool (choose a type that converts from bool, or give the type in the address)" <<JSON
{ $head, "devices": [ { "id": "D", "adapter": "modbus+tcp://127.0.0.1:502", "tags": [ { "name": "a", "address": "coil:1", "type": "string" } ] } ] }
JSON
bad twice "\$.devices[0].tags[0].type: key given twice in the same object (first at line 3, column 20)" <<JSON
{ $head,
  "devices": [ { "id": "D", "tags": [
    { "name": "a", "type": "double", "type": "string" } ] } ] }
JSON
bad name "\$.devices[0].tags[0].name: invalid tag name: path segment \".\" or \"..\" at byte 5 (got \"Line/../x\")" <<JSON
{ $head, "devices": [ { "id": "D", "tags": [ { "name": "Line/../x", "type": "double" } ] } ] }
JSON

printf '{\n  "node": {,\n}\n' >"$tmp/syntax.json"
"$cli" check-config "$tmp/syntax.json" 2>"$tmp/err" >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "syntax: exit $rc"
[ "$(cat "$tmp/err")" = "$tmp/syntax.json:2:12: invalid JSON: expected a string key in an object (found ',')" ] \
  || fail "syntax message: $(cat "$tmp/err")"

"$cli" check-config "$tmp/none.json" 2>"$tmp/err" >/dev/null; rc=$?
[ $rc -eq 3 ] || fail "missing file: exit $rc"
grep -q "none.json: cannot open: No such file or directory" "$tmp/err" || fail "missing: $(cat "$tmp/err")"

"$cli" check-config 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc"
"$cli" check-config a.json b.json 2>/dev/null; rc=$?
[ $rc -eq 2 ] || fail "two arguments: exit $rc"
echo "OK"
