#!/bin/sh
# store.inspect: `tagwire store-inspect` reports what a store directory holds, read-only.
# usage: inspect_test.sh TAGWIRE MAKE_STORE
set -eu
TAGWIRE=$1
MAKE_STORE=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/tw_inspect.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$dir/out"; exit 1; }

"$MAKE_STORE" "$dir/s"
before=$(ls -l "$dir/s" | md5sum)
"$TAGWIRE" store-inspect "$dir/s" > "$dir/out" 2>&1 || fail "exit status $?"
grep -q '^records: *179$' "$dir/out" || fail "records"
grep -q '^oldest: *seq 121 ' "$dir/out" || fail "oldest"
grep -q '^newest: *seq 299 ' "$dir/out" || fail "newest"
grep -q '^acknowledged: *up to seq 120$' "$dir/out" || fail "acknowledged"
grep -q '^torn: *1 record(s), 39 bytes' "$dir/out" || fail "torn"
grep -q '^corrupt: *0 region' "$dir/out" || fail "corrupt"
grep -q '^dropped: *overflow 0, age 0, disk full 0$' "$dir/out" || fail "dropped"
# read-only: nothing changed (the torn tail is still there)
[ "$(ls -l "$dir/s" | md5sum)" = "$before" ] || fail "the directory changed"

"$TAGWIRE" store-inspect "$dir/s" --records --limit 2 > "$dir/out" 2>&1 || fail "exit status $?"
# seq 121's payload is {"tag":"T121","v":363}
grep -q '^121 .* 22  7b22746167223a2254313231222c2276223a3336337d$' "$dir/out" || fail "record 121"
grep -q '^122 ' "$dir/out" || fail "record 122"
if grep -q '^123 ' "$dir/out"; then fail "--limit"; fi

set +e
"$TAGWIRE" store-inspect "$dir/missing" > "$dir/out" 2>&1; rc=$?
[ $rc -eq 3 ] || fail "missing directory: exit $rc, want 3"
"$TAGWIRE" store-inspect > "$dir/out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no argument: exit $rc, want 2"
echo "store-inspect OK"
