#!/usr/bin/env bash
# Certificate renewal by the node itself, end to end on loopback (tagwire/node.h, "Certificate
# renewal"). Peers: an EST responder issuing short-lived certificates with the openssl CLI
# (tests/enroll/fake_est.py, mode "short"; GlobalSign's estserver always issues 90-day
# certificates), Mosquitto 2 (mutual TLS, require_certificate, use_identity_as_username, ACL,
# max_queued_messages 0), mosquitto_sub with its own certificate, Eclipse Tahu's decoder
# (tests/delivery/check.js: no accepted value lost, no hole, duplicates only as replays). The
# gateway is renew_gw (tests/node/renew_gw.c): a node built from a configuration file with an
# "enroll" section and a disk store, publishing a counter. The test plays the Sparkplug primary host
# "host1" (STATE), so that the node publishes only while the subscriber listens (also after the
# broker restart, when the retained STATE is gone until the test publishes it again).
#
#   renew.sh MODE SRC_DIR BIN_DIR
# MODE: live      certificates live 30 s and are renewed after 30 % of their lifetime, so the node
#                 renews several times while it publishes. After the first certificate expired the
#                 broker is killed and restarted: the node must get in again (the broker refuses
#                 expired client certificates: shown with the saved first certificate), so it
#                 presents a renewed one. Asserted: renewals counted, no failure or rollback, the
#                 broker saw a connection of the node's identity after every renewal, `current`
#                 names a new generation with a later notAfter and another key, the old
#                 generation is gone, every accepted value reached the subscriber.
#       est_down  the EST server is stopped before the renewal point and started again 9 s after
#                 it: the node keeps publishing with its old certificate, counts and logs the
#                 failures, paces its attempts (back-off, retry_max_s 2), and renews once the
#                 server is back. No accepted value lost.
#       refused   after the first enrollment the EST server issues from a CA the broker does not
#                 trust: the node renews, the broker refuses the new certificate (TLS alert), the
#                 node rolls it back, reconnects with its current certificate and keeps
#                 publishing; `current` is unchanged, nothing is pending, no value lost.
# Every process started here is stopped by its PID on exit (also on failure).
set -euo pipefail
mode=$1 src=$2 bin=$3
. "$src/tests/support/peers.sh" # free_port, wait_listen
gw=$bin/tests/renew_gw
tagwire=$bin/tools/tagwire/tagwire
mosquitto=/usr/sbin/mosquitto
[ -x "$mosquitto" ] || mosquitto=$(command -v mosquitto || echo mosquitto)
node=$(command -v node || command -v nodejs || echo node)
for p in "$mosquitto" mosquitto_sub mosquitto_pub "$node" "$gw" "$tagwire" python3 openssl; do
  command -v "$p" >/dev/null || { echo "FAIL: $p is not installed (scripts/bootstrap installs it)"; exit 1; }
done

tmp=$(mktemp -d /tmp/tw-node-renew.XXXXXX)
broker_pid='' sub_pid='' gw_pid='' est_pid=''
cleanup() {
  for p in $gw_pid $sub_pid $broker_pid $est_pid; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ "${keep:-0}" = 1 ] || [ -n "${TW_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"; keep=1
  echo "--- gateway output"; tail -n 40 "$tmp/gw.out" 2>/dev/null || true
  echo "--- gateway log"; grep -v '^TICK' "$tmp/gw.err" 2>/dev/null | tail -n 30 || true
  exit 1
}


case $mode in # the node is stepped by renew_gw in "live" and runs on its own thread in "est_down"
live) lifetime=30 fraction=0.3 seconds=36 drive=step ;;
est_down) lifetime=40 fraction=0.25 seconds=26 drive=threaded ;;
refused) lifetime=40 fraction=0.25 seconds=24 drive=step ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

sh "$src/tests/fixtures/make_pki.sh" "$tmp/pki" >/dev/null
est_port=$(free_port)
est_pki=$tmp/pki
start_est() {
  python3 "$src/tests/enroll/fake_est.py" "$est_port" "$est_pki" short "$lifetime" >>"$tmp/est.out" 2>&1 &
  est_pid=$!
  wait_listen "$est_port" || fail "the EST responder did not listen"
}
stop_est() { kill "$est_pid" 2>/dev/null || true; wait "$est_pid" 2>/dev/null || true; est_pid=''; }

port=$(free_port)
printf '%s\n' 'user device-1' 'topic write spBv1.0/Deliv/+/Gw1' 'topic write spBv1.0/Deliv/+/Gw1/+' \
  'topic read spBv1.0/Deliv/NCMD/Gw1' 'topic read spBv1.0/Deliv/DCMD/Gw1/+' 'topic read spBv1.0/STATE/+' \
  'user device-2' 'topic readwrite spBv1.0/#' 'topic write probe/#' >"$tmp/acl"
printf '%s\n' "listener $port 127.0.0.1" "cafile $tmp/pki/ca.pem" "certfile $tmp/pki/server.pem" \
  "keyfile $tmp/pki/server.key" 'require_certificate true' 'use_identity_as_username true' \
  "acl_file $tmp/acl" 'user root' 'persistence false' 'max_queued_messages 0' \
  'connection_messages true' "log_dest file $tmp/mosquitto.log" 'log_type all' >"$tmp/mosquitto.conf"
sub=(-h 127.0.0.1 -p "$port" --cafile "$tmp/pki/ca.pem" --cert "$tmp/pki/client2.pem" --key "$tmp/pki/client2.key")
subs=0
start_broker() {
  "$mosquitto" -c "$tmp/mosquitto.conf" >>"$tmp/mosquitto.out" 2>&1 &
  broker_pid=$!
  wait_listen "$port" || fail "mosquitto did not listen"
}
start_sub() { # appends to the capture; waits until the broker logged its SUBSCRIBE
  subs=$((subs + 1))
  mosquitto_sub "${sub[@]}" -i renew-sub -q 1 -t 'spBv1.0/#' -F '%t %x' >>"$tmp/capture.txt" 2>>"$tmp/sub.err" &
  sub_pid=$!
  for _ in $(seq 150); do
    [ "$(grep -c 'renew-sub 1 spBv1.0/#' "$tmp/mosquitto.log" 2>/dev/null || true)" -ge "$subs" ] && return 0
    sleep 0.1
  done
  fail "the subscriber did not subscribe (#$subs)"
}
stop_sub() { # TERM first so that it writes out what it has
  kill "$sub_pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$sub_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$sub_pid" 2>/dev/null || true
  wait "$sub_pid" 2>/dev/null || true
  sub_pid=''
}
host_state() { # the primary host "host1" online (retained STATE, Sparkplug 3.0): the node
  # publishes only after it, so nothing goes out before the subscriber is subscribed
  mosquitto_pub "${sub[@]}" -i host-state -q 1 -r -t spBv1.0/STATE/host1 \
    -m "{\"online\":true,\"timestamp\":$(date +%s%3N)}"
}
node_connections() { grep -c "as Renew-Gw1 .*u'device-1'" "$tmp/mosquitto.log" 2>/dev/null || true; }
tick() { # the gateway's last TICK line's field NAME
  grep '^TICK' "$tmp/gw.out" | tail -n 1 | awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }'
}
stat() { awk -v f="$1" '$1 == "STAT" && $2 == f { print $3 }' "$tmp/gw.out"; }

# 1. first enrollment with the CLI (the node renews; it does not enroll)
start_est
printf 'x\n' >"$tmp/password"
"$tagwire" enroll --est "https://127.0.0.1:$est_port" --est-ca "$tmp/pki/ca.pem" --user dev \
  --password-file "$tmp/password" --device-id device-1 --out "$tmp/creds" >"$tmp/enroll.out" 2>&1 ||
  { cat "$tmp/enroll.out"; fail "tagwire enroll"; }
gen0=$(readlink "$tmp/creds/current")
mkdir -p "$tmp/old"
cp "$tmp/creds/current/key.pem" "$tmp/creds/current/chain.pem" "$tmp/old/"
na0=$(date -d "$(openssl x509 -in "$tmp/old/chain.pem" -noout -enddate | cut -d= -f2)" +%s)
pub0=$(openssl x509 -in "$tmp/old/chain.pem" -noout -pubkey)
[ $((na0 - $(date +%s))) -le $((lifetime + 2)) ] || fail "the enrolled certificate is not short-lived"

# 2. broker, subscriber, gateway configuration
start_broker
start_sub
host_state
cat >"$tmp/gateway.json" <<EOF
{ "version": 1,
  "node": { "group_id": "Deliv", "edge_node_id": "Gw1", "primary_host_id": "host1" },
  "uplink": { "broker": "mqtts://127.0.0.1:$port", "client_id": "Renew-Gw1",
              "tls": { "ca": "pki/ca.pem", "server_name": "localhost" } },
  "store": { "dir": "store", "fsync": "never" },
  "enroll": { "est_url": "https://127.0.0.1:$est_port", "server_ca": "pki/ca.pem",
              "credentials_dir": "creds", "renew_fraction": $fraction, "retry_max_s": 2 },
  "devices": [ { "id": "D1", "tags": [ { "name": "Status", "type": "string" } ] } ] }
EOF
accepted=$tmp/accepted.log
: >"$accepted"
"$gw" "$tmp/gateway.json" "$accepted" "$seconds" "$drive" >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
t_start=$(date +%s)

case $mode in
live)
  # 3. wait past the first certificate's notAfter, prove the broker refuses it, restart the broker
  while [ "$(date +%s)" -le $((na0 + 1)) ]; do
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway ended early"
    sleep 0.5
  done
  [ "$(tick renewals)" -ge 1 ] || fail "no renewal before the first certificate expired"
  conns_before=$(node_connections)
  if mosquitto_pub -h 127.0.0.1 -p "$port" --cafile "$tmp/pki/ca.pem" --cert "$tmp/old/chain.pem" \
       --key "$tmp/old/key.pem" -i probe-old -q 1 -t probe/old -m x >"$tmp/probe.out" 2>&1; then
    fail "the broker accepted the expired first certificate"
  fi
  grep -q "certificate verify failed" "$tmp/mosquitto.log" || fail "the broker did not refuse the expired certificate"
  kill -9 "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
  stop_sub
  sleep 0.3
  start_broker
  start_sub
  host_state # the broker lost the retained STATE (no persistence)
  ;;
est_down)
  # 3. EST down before the renewal point (~10 s after enrollment) until 9 s after it
  stop_est
  renew_at=$(awk -v a="$na0" -v l="$lifetime" -v f="$fraction" 'BEGIN { printf "%d", a - l - 1 + f * (l + 1) }')
  while [ "$(date +%s)" -lt $((renew_at + 9)) ]; do
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway ended early"
    sleep 0.5
  done
  f_down=$(tick failures)
  [ "$(tick renewals)" = 0 ] || fail "renewed while the EST server was down"
  [ "$(tick link)" = online ] || fail "the node is not online with its old certificate while EST is down"
  [ "$f_down" -ge 2 ] || fail "fewer than two failed renewal attempts while EST was down ($f_down)"
  # paced: at most about one attempt a second over the ~9 s (never a busy loop)
  [ "$f_down" -le 12 ] || fail "too many attempts while EST was down ($f_down): no back-off"
  grep -q "certificate renewal failed" "$tmp/gw.err" || fail "the failures were not logged"
  [ "$(readlink "$tmp/creds/current")" = "$gen0" ] || fail "current changed while EST was down"
  echo "EST down for ~9 s: $f_down failed attempts, last error $(tick last_error), node online"
  start_est
  ;;
refused)
  # 3. the same EST address now issues from the rogue CA (its TLS certificate stays the trusted one)
  mkdir -p "$tmp/pki2"
  cp "$tmp/pki/server.pem" "$tmp/pki/server.key" "$tmp/pki2/"
  cp "$tmp/pki/rogue-ca.pem" "$tmp/pki2/ca.pem"
  cp "$tmp/pki/rogue-ca.key" "$tmp/pki2/ca.key"
  stop_est
  est_pki=$tmp/pki2
  start_est
  wait "$gw_pid" || fail "the gateway failed"
  gw_pid=''
  echo "renewals $(stat cert_renewals), failures $(stat cert_renew_failures), rollbacks $(stat cert_rollbacks), last error $(stat cert_last_error), connects $(stat connects)"
  [ "$(stat store_records)" = 0 ] || fail "the store is not empty at the end (not online again?)"
  [ "$(stat cert_rollbacks)" -ge 1 ] || fail "no rollback"
  [ "$(stat cert_renewals)" = 0 ] || fail "a refused certificate was committed"
  [ "$(stat cert_last_error)" = TW_ERR_TLS_PEER_REFUSED ] || fail "last error $(stat cert_last_error)"
  grep -q "refused the renewed certificate" "$tmp/gw.err" || fail "the rollback was not logged"
  grep -q "certificate verify failed" "$tmp/mosquitto.log" || fail "the broker did not refuse a certificate"
  [ "$(readlink "$tmp/creds/current")" = "$gen0" ] || fail "current changed"
  [ ! -e "$tmp/creds/pending" ] || fail "the refused credential is still pending"
  [ "$(stat cert_not_after)" = "$na0" ] || fail "the node does not present its current certificate again"
  # the first connection, and one with the current certificate again after every rollback
  [ "$(stat connects)" -ge $(($(stat cert_rollbacks) + 1)) ] || fail "no reconnect with the current certificate"
  sleep 1
  stop_sub
  "$node" "$src/tests/delivery/check.js" "$tmp/capture.txt" "$accepted" 1 || fail "check.js"
  echo "PASS ($mode, $(($(date +%s) - t_start)) s)"
  exit 0
  ;;
esac

wait "$gw_pid" || fail "the gateway failed"
gw_pid=''
[ "$(stat store_records)" = 0 ] || fail "the store is not empty at the end"
renewals=$(stat cert_renewals)
echo "renewals $renewals, failures $(stat cert_renew_failures), rollbacks $(stat cert_rollbacks), connects $(stat connects)"
[ "$renewals" -ge 1 ] || fail "the node did not renew"
[ "$(stat cert_rollbacks)" = 0 ] || fail "a renewed certificate was rolled back"
gen=$(readlink "$tmp/creds/current")
[ "$gen" != "$gen0" ] || fail "current still names $gen0"
[ ! -e "$tmp/creds/$gen0" ] || fail "the old generation $gen0 is still there"
[ ! -e "$tmp/creds/pending" ] || fail "a credential is still pending"
na=$(date -d "$(openssl x509 -in "$tmp/creds/current/chain.pem" -noout -enddate | cut -d= -f2)" +%s)
[ "$na" -gt "$na0" ] || fail "the current certificate does not expire later than the first one"
# a new key (re-enrollment never reuses the key); fake_est.py numbers its serials per run
[ "$(openssl x509 -in "$tmp/creds/current/chain.pem" -noout -pubkey)" != "$pub0" ] || fail "same key as the first certificate"
[ "$(stat cert_not_after)" = "$na" ] || fail "the node reports notAfter $(stat cert_not_after), current has $na"
conns=$(node_connections)
# the first connection, then one after every renewal (a renewal during the broker restart shares
# its reconnect)
[ "$conns" -ge $((1 + renewals)) ] || fail "the broker saw $conns connections of device-1 for $renewals renewals"
if [ "$mode" = live ]; then
  [ "$(stat cert_renew_failures)" = 0 ] || fail "renewal failures: $(stat cert_renew_failures)"
  [ "$conns" -gt "$conns_before" ] || fail "the node did not reconnect after the broker restart"
fi
sleep 1
stop_sub
"$node" "$src/tests/delivery/check.js" "$tmp/capture.txt" "$accepted" 1 || fail "check.js"
echo "PASS ($mode, $(($(date +%s) - t_start)) s)"
