#!/usr/bin/env bash
# Delivery tests: the "loses no data" promise, shown end to end on loopback.
#   delivery_gw (a node with a disk store and a deterministic counter, tests/delivery/delivery_gw.c)
#   -> Mosquitto 2 (mutual TLS, ACL, max_queued_messages 0) -> mosquitto_sub (an independent
#   subscriber with a second identity) -> check.js (Eclipse Tahu's decoder) compares what arrived
#   with what the gateway accepted. The test plays the Sparkplug primary host "host1" (STATE).
#
#   run.sh MODE SRC_DIR BIN_DIR
# MODE: broker_kill   the broker is killed (SIGKILL) 20 times during the stream and restarted
#       gateway_kill  the gateway is killed (kill -9) 20 times during the stream and restarted
#                     with the same store directory
#       host_offline  the primary host goes offline (STATE) for 3 s; data goes to the store and
#                     comes back in order, flagged historical
#       disk_full     the store directory is a 48 KiB tmpfs and the host stays offline until the
#                     disk is full: the overflow policy applies (drop oldest; then refuse new), the
#                     node's counters say so, nothing crashes, what was kept is delivered
#       refuse_new    a 16 KiB store with overflow "refuse new"; the broker is killed (SIGKILL) for
#                     7 s while values keep coming: the store fills, later values are refused;
#                     after the broker is back everything accepted is delivered in order, the
#                     refused values are counted and reported once, publishing resumes
# "Accepted": see delivery_gw.c (a value is logged only after the node appended it to the store,
# fsync per record). Values the counter would have produced while the gateway was dead do not
# exist (the counter is the gateway's own). The assertions: see check.js.
# Every process started here is stopped by its PID on exit (also on failure).
set -euo pipefail
mode=$1 src=$2 bin=$3
. "$src/tests/support/peers.sh" # free_port, wait_listen
gw=$bin/tests/delivery_gw
mosquitto=/usr/sbin/mosquitto
[ -x "$mosquitto" ] || mosquitto=$(command -v mosquitto)
node=$(command -v node || command -v nodejs)
for p in "$mosquitto" mosquitto_sub mosquitto_pub "$node" "$gw"; do
  command -v "$p" >/dev/null || { echo "FAIL: $p is not installed (scripts/bootstrap installs it)"; exit 1; }
done

tmp=$(mktemp -d /tmp/tw-delivery.XXXXXX)
broker_pid='' sub_pid='' gw_pid='' mounted=''
cleanup() {
  for p in $gw_pid $sub_pid $broker_pid; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$mounted" ]; then umount "$tmp/store" 2>/dev/null || true; fi
  if [ "${keep:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; keep=1; echo "--- gateway output"; tail -n 30 "$tmp/gw.out" || true; exit 1; }


sh "$src/tests/fixtures/make_pki.sh" "$tmp/pki" >/dev/null
port=$(free_port)
printf '%s\n' 'user device-1' 'topic write spBv1.0/Deliv/+/Gw1' 'topic read spBv1.0/Deliv/NCMD/Gw1' \
  'topic read spBv1.0/STATE/+' 'user device-2' 'topic readwrite spBv1.0/#' >"$tmp/acl"
printf '%s\n' "listener $port 127.0.0.1" "cafile $tmp/pki/ca.pem" "certfile $tmp/pki/server.pem" \
  "keyfile $tmp/pki/server.key" 'require_certificate true' 'use_identity_as_username true' \
  "acl_file $tmp/acl" 'user root' 'persistence false' 'max_queued_messages 0' \
  "log_dest file $tmp/mosquitto.log" 'log_type all' >"$tmp/mosquitto.conf"
sub=(-h 127.0.0.1 -p "$port" --cafile "$tmp/pki/ca.pem" --cert "$tmp/pki/client2.pem" --key "$tmp/pki/client2.key")
subs=0
start_broker() {
  "$mosquitto" -c "$tmp/mosquitto.conf" >>"$tmp/mosquitto.out" 2>&1 &
  broker_pid=$!
  wait_listen "$port" || fail "mosquitto did not listen"
}
wait_sub() { # the subscriber (re)subscribed: its SUBSCRIBEs counted in the broker's log
  subs=$((subs + 1))
  for _ in $(seq 150); do
    [ "$(grep -c 'host-sub 1 spBv1.0/#' "$tmp/mosquitto.log" 2>/dev/null || true)" -ge "$subs" ] && return 0
    sleep 0.1
  done
  fail "the subscriber did not subscribe (#$subs)"
}
host_state() { # online|offline: the primary host's retained STATE (Sparkplug 3.0 JSON)
  local on=false
  [ "$1" = online ] && on=true
  mosquitto_pub "${sub[@]}" -i host-state -q 1 -r -t spBv1.0/STATE/host1 \
    -m "{\"online\":$on,\"timestamp\":$(date +%s%3N)}"
}
start_gw() { # RUN SECONDS [MAX_BYTES [refuse]]
  "$gw" "$port" "$tmp/pki" "$tmp/store" "$1" "$accepted" "${@:2}" >>"$tmp/gw.out" 2>&1 &
  gw_pid=$!
}
wait_gw() { # the gateway ends by itself
  local rc=0
  wait "$gw_pid" || rc=$?
  gw_pid=''
  return $rc
}
start_sub() { # clean session, appends to the capture
  mosquitto_sub "${sub[@]}" -i host-sub -q 1 -t 'spBv1.0/#' -F '%t %x' >>"$tmp/capture.txt" 2>>"$tmp/sub.err" &
  sub_pid=$!
  wait_sub
}
check() { # ARGS...: the subscriber may still be writing the last messages: retry up to 30 s
  for _ in $(seq 30); do
    "$node" "$src/tests/delivery/check.js" "$tmp/capture.txt" "$accepted" "$@" >/dev/null 2>&1 && break
    sleep 1
  done
  "$node" "$src/tests/delivery/check.js" "$tmp/capture.txt" "$accepted" "$@" || fail "check.js"
}
accepted_from_run() { # RUN: the accepted log holds a value of that gateway run
  awk -v lo="$(($1 * 1000000))" '$1 > lo && $1 < lo + 1000000 { f = 1 } END { exit f ? 0 : 1 }' "$accepted"
}

accepted=$tmp/accepted.log
: >"$accepted"
mkdir -p "$tmp/store"
start_broker
start_sub
host_state online

case $mode in
broker_kill)
  # one gateway run, stopped (SIGTERM) after the 20 broker kills; the broker dies (SIGKILL) every
  # ~1.4 s and comes back after 0.2 s.
  # The subscriber (mosquitto_sub ends with its connection) is started again; then the host
  # publishes STATE online (the broker lost its retained messages), and only then does the
  # gateway, which waits for its primary host, publish (births, then the replay).
  start_gw 0 600
  sleep 1.5
  for _ in $(seq 20); do
    kill -9 "$broker_pid"
    wait "$broker_pid" 2>/dev/null || true
    sleep 0.2
    # the subscriber usually ends with its connection; stopped by its PID in any case (TERM
    # first, so that it writes out what it has)
    kill "$sub_pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$sub_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$sub_pid" 2>/dev/null || true
    wait "$sub_pid" 2>/dev/null || true
    start_broker
    start_sub
    host_state online
    sleep 1
  done
  kill -TERM "$gw_pid"
  wait_gw || fail "the gateway failed"
  grep -q "STAT store_records 0" "$tmp/gw.out" || fail "the store is not empty at the end"
  # a message the broker acknowledged and lost when it was SIGKILLed is not the gateway's loss
  check 1 --broker-log "$tmp/mosquitto.log"
  ;;
gateway_kill)
  # 21 gateway runs: 20 killed (kill -9) after 0.6 .. 1.5 s, the last one ends by itself
  for i in $(seq 0 19); do
    start_gw "$i" 60
    # killed only once this run has accepted a value (a slow start must not leave a run empty)
    for _ in $(seq 300); do accepted_from_run "$i" && break; sleep 0.1; done
    sleep "$(awk -v i="$i" 'BEGIN { printf "%.2f", 0.6 + (i % 10) * 0.1 }')"
    kill -9 "$gw_pid"
    wait "$gw_pid" 2>/dev/null || true
    gw_pid=''
  done
  start_gw 20 3
  wait_gw || fail "the last gateway run failed"
  grep -q "STAT store_records 0" "$tmp/gw.out" || fail "the store is not empty at the end"
  check 21
  ;;
host_offline)
  start_gw 0 8
  sleep 2
  host_state offline
  sleep 3
  host_state online
  wait_gw || fail "the gateway failed"
  check 1
  hist=$(awk '/^STAT historical/ { print $3 }' "$tmp/gw.out")
  [ "${hist:-0}" -ge 100 ] || fail "only ${hist:-0} historical metrics after 3 s of host outage"
  ;;
disk_full)
  mount -t tmpfs -o size=48k tmpfs "$tmp/store" || fail "cannot mount a tmpfs (root needed)"
  mounted=1
  host_state offline
  # drop oldest: the host is offline for 11 s; the 48 KiB disk fills after ~7 s (max_bytes is far larger)
  start_gw 0 12 67108864
  sleep 11
  host_state online
  wait_gw || fail "the gateway (drop oldest) failed"
  grep -q "STAT store_dropped 0$" "$tmp/gw.out" && fail "the disk filled but no record was dropped"
  grep -q "STAT store_records 0" "$tmp/gw.out" || fail "the store is not empty at the end"
  check 1 --suffix | tee "$tmp/check.out"
  # every accepted value was either delivered or dropped by the policy (and counted): no other loss
  got=$(awk '/distinct Counter values/ { print $4 }' "$tmp/check.out")
  dropped=$(awk '/^STAT store_dropped/ { print $3 }' "$tmp/gw.out")
  n=$(wc -l <"$accepted")
  [ $((got + dropped)) -eq "$n" ] || fail "$got delivered + $dropped dropped != $n accepted"
  ;;
refuse_new)
  # ~56 bytes a record (24 header + 32): the 16 KiB store is full ~3 s after the broker died. The
  # gateway counts until the stop file exists (at most 50 s): until 2 s after the store accepted
  # again (the node's reconnect back-off after a 7 s outage is random, up to 30 s)
  start_gw 0 50 16384 refuse "$tmp/stop"
  sleep 2
  kill -9 "$broker_pid"
  wait "$broker_pid" 2>/dev/null || true
  kill "$sub_pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$sub_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$sub_pid" 2>/dev/null || true
  wait "$sub_pid" 2>/dev/null || true
  sleep 7
  start_broker
  start_sub
  host_state online
  for _ in $(seq 400); do
    grep -q "history store accepts changes again" "$tmp/gw.out" && break
    kill -0 "$gw_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 2
  touch "$tmp/stop"
  wait_gw || fail "the gateway failed"
  grep -q "STAT store_records 0" "$tmp/gw.out" || fail "the store is not empty at the end"
  nref=$(wc -l <"$accepted.refused")
  [ "$nref" -gt 0 ] || fail "the store never refused a value (the outage did not fill it)"
  stat_ref=$(awk '/^STAT store_refused/ { print $3 }' "$tmp/gw.out")
  [ "$stat_ref" = "$nref" ] || fail "store_refused $stat_ref != $nref values refused"
  # reported: the step's status and tw_node_last_error(), once per episode (not once per value)
  grep -q "^ERR TW_ERR_FULL: .*history store full: new changes are refused" "$tmp/gw.out" ||
    fail "no clear report of the refusal (status + last error)"
  n_full=$(grep -c "history store full" "$tmp/gw.out" || true)
  [ "$n_full" -le 3 ] || fail "the refusal was reported $n_full times (once per value?)"
  grep -q "history store accepts changes again; $nref change(s) were refused" "$tmp/gw.out" ||
    fail "no report that the store accepts again (with the number refused)"
  # publishing resumed: values newer than every refused one were accepted (check.js: delivered)
  last_ref=$(sort -n "$accepted.refused" | tail -n 1)
  last_acc=$(sort -n "$accepted" | tail -n 1)
  [ "$last_acc" -gt "$last_ref" ] || fail "nothing accepted after the refusals ($last_acc <= $last_ref)"
  echo "$nref values refused ($(head -n 1 "$accepted.refused") .. $last_ref), last accepted $last_acc"
  sleep 1
  check 1 --refused "$accepted.refused"
  ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac
grep STAT "$tmp/gw.out" | tail -n 7
echo "delivery $mode: ok"
