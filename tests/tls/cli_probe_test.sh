#!/bin/sh
# `tagwire tls-probe` against openssl s_server -Verify 1: success output (TLS 1.3 and --tls12), and
# failures that print the status name and reason and exit 1.
# usage: cli_probe_test.sh TAGWIRE_BINARY SOURCE_DIR
set -u
tw=$1
src=$2
dir=$(mktemp -d /tmp/tw-cli-probe.XXXXXX)
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

sh "$src/tests/fixtures/make_pki.sh" "$dir" >/dev/null 2>&1 || fail "PKI generation"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hexport=$(printf '%04X' "$port")
mkfifo "$dir/stdin"
openssl s_server -accept "$port" -cert "$dir/server.pem" -key "$dir/server.key" -CAfile "$dir/ca.pem" \
  -Verify 1 -verify_return_error <"$dir/stdin" >"$dir/s_server.log" 2>&1 &
spid=$!
exec 3>"$dir/stdin" # keep s_server's stdin open
i=0
until awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" { f=1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
  i=$((i + 1)); [ $i -gt 250 ] && fail "s_server did not listen"; sleep 0.02
done

common="--ca $dir/ca.pem --cert $dir/client.pem --key $dir/client.key"
out=$("$tw" tls-probe $common "localhost:$port" 2>&1) || fail "probe failed: $out"
echo "$out"
echo "$out" | grep -q "protocol: *TLSv1.3" || fail "no TLS 1.3 line"
echo "$out" | grep -q "peer subject: *O=tagwire test, CN=localhost" || fail "no peer subject"
echo "$out" | grep -q "peer expires: *20" || fail "no peer expiry"

out=$("$tw" tls-probe --tls12 --pin "$(cat "$dir/server.spki")" $common "127.0.0.1:$port" 2>&1) || fail "--tls12 probe failed: $out"
echo "$out" | grep -q "protocol: *TLSv1.2" || fail "no TLS 1.2 line"

out=$("$tw" tls-probe --pin "$(cat "$dir/client.spki")" $common "localhost:$port" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 1 ] || fail "pin mismatch exit $rc"
echo "$out" | grep -q "TW_ERR_TLS_PIN: pin mismatch" || fail "pin mismatch not named"

out=$("$tw" tls-probe --ca "$dir/rogue-ca.pem" --cert "$dir/client.pem" --key "$dir/client.key" "localhost:$port" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 1 ] || fail "unknown CA exit $rc"
echo "$out" | grep -q "TW_ERR_TLS_UNKNOWN_CA: unknown CA" || fail "unknown CA not named"

out=$("$tw" tls-probe --ca "$dir/ca.pem" "localhost:$port" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 1 ] || fail "no client cert exit $rc"
echo "$out" | grep -q "TW_ERR_TLS_PEER_REFUSED" || fail "refusal not named"

"$tw" tls-probe --ca "$dir/ca.pem" localhost >/dev/null 2>&1
[ $? -eq 2 ] || fail "usage error exit"
echo "PASS"
