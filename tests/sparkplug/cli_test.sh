#!/bin/sh
# tagwire sparkplug-decode: text and JSON output of a payload written by the encoder, and the
# failure path (exit 1, status name and reason) for malformed input.
#   cli_test.sh TAGWIRE GEN NODE WORKDIR
set -u
tagwire=$1; gen=$2; node=$3; dir=$4
rm -rf "$dir" && mkdir -p "$dir" || exit 1
"$gen" "$dir" || { echo "generator failed"; exit 1; }
fail=0; pass=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# JSON: valid, with the encoded seq, metric count and a few values
if "$tagwire" sparkplug-decode --json "$dir/ddata_types.bin" >"$dir/out.json" 2>"$dir/err"; then ok; else bad "json exit"; cat "$dir/err"; fi
"$node" -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const m = j.metrics;
const want = [[j.seq, 7], [m.length, 31], [m[2].value, -128], [m[2].type, "Int8"],
  [m[13].value, 18446744073709551615], [m[20].value, "NaN"], [m[26].is_historical, true],
  [m[27].quality, 0], [m[30].is_null, true], [m[23].value, "Grüß \"quoted\" \\ 東"]];
for (const [g, w] of want) if (g !== w) { console.log("mismatch", g, w); process.exit(1); }
' "$dir/out.json" && ok || bad "json content"
# stdin and text output
if "$tagwire" sparkplug-decode - <"$dir/nbirth.bin" >"$dir/out.txt" 2>"$dir/err"; then ok; else bad "text exit"; fi
grep -q '"Hydraulics/OilTemp" alias=2 Double = 41.25 \[degC\]' "$dir/out.txt" && ok || { bad "text content"; cat "$dir/out.txt"; }
# hex input
od -An -tx1 -v "$dir/ndeath.bin" >"$dir/ndeath.hex"
"$tagwire" sparkplug-decode --hex "$dir/ndeath.hex" | grep -q '"bdSeq" Int64 = 3' && ok || bad "hex input"
# malformed: exit 1, status name and reason on stderr
printf '\022\005\020' >"$dir/bad.bin"
"$tagwire" sparkplug-decode "$dir/bad.bin" >/dev/null 2>"$dir/err"; rc=$?
[ "$rc" -eq 1 ] && grep -q 'TW_ERR_SPARKPLUG_DECODE: length of field 2 at offset 0 exceeds the data' "$dir/err" && ok || { bad "malformed rc=$rc"; cat "$dir/err"; }
# usage and missing file
"$tagwire" sparkplug-decode --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "usage exit"
"$tagwire" sparkplug-decode "$dir/does-not-exist" >/dev/null 2>&1; [ $? -eq 3 ] && ok || bad "missing file exit"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
