#!/usr/bin/env bash
# End-to-end test of the node on loopback:
#   sim:// + a Modbus TCP server (tw_mbserver, libmodbus) -> node -> Mosquitto 2 (mutual TLS, ACL)
#   -> mosquitto_sub (a second identity) -> Eclipse Tahu's decoder (sp_check.js)
# plus commands from the "host" (payloads encoded by Tahu, published with mosquitto_pub) that must
# reach the Modbus server (checked by reading the register back with pymodbus, an independent
# client) and come back as data.
#
#   e2e.sh MODE SRC_DIR BIN_DIR
# MODE: run            `tagwire run CONFIG` (the node on its own thread, poll threads)
#       event_loop     examples/event_loop (tw_node_step in the caller's poll loop, inline polls)
#       modbus_gateway examples/modbus_gateway (the node built with the API)
#       oem            examples/oem_machine (push API; an NCMD changes the set point)
#       custom_adapter examples/custom_adapter (a vendor adapter behind a node; a DCMD set point)
#       valgrind       `tagwire run` under valgrind memcheck for 30 s with a broker restart (the
#                      node reconnects and is born again); any leak or memory error fails
# Every process started here is stopped on exit (also on failure).
set -euo pipefail
mode=$1 src=$2 bin=$3
. "$src/tests/support/peers.sh" # free_port, wait_listen
tagwire=$bin/tools/tagwire/tagwire
mbserver=${TW_MBSERVER:-$bin/tests/tw_mbserver}
mosquitto=/usr/sbin/mosquitto
[ -x "$mosquitto" ] || mosquitto=$(command -v mosquitto)
node=$(command -v node || command -v nodejs)
for p in "$mosquitto" mosquitto_sub mosquitto_pub "$node" /usr/bin/python3; do
  command -v "$p" >/dev/null || { echo "FAIL: $p is not installed (scripts/bootstrap installs it)"; exit 1; }
done
/usr/bin/python3 -c 'import pymodbus' || { echo "FAIL: python3-pymodbus is not installed"; exit 1; }

tmp=$(mktemp -d /tmp/tw-node-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${keep:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; keep=1; echo "--- mosquitto log"; tail -n 30 "$tmp/mosquitto.log" || true;
         echo "--- runner output"; tail -n 40 "$tmp/runner.out" || true; exit 1; }


sh "$src/tests/fixtures/make_pki.sh" "$tmp/pki" >/dev/null
mqtt_port=$(free_port)
mb_port=$(free_port)

# ---- broker: mutual TLS, identities from the certificates, ACL ----
cat >"$tmp/acl" <<EOF
# the gateway (CN=device-1) may publish its own Sparkplug topics and read its commands only
user device-1
topic write spBv1.0/Demo/+/Press7
topic write spBv1.0/Demo/+/Press7/+
topic write spBv1.0/Demo/+/Machine1
topic write spBv1.0/Demo/+/Acme
topic write spBv1.0/Demo/+/Acme/+
topic read spBv1.0/Demo/DCMD/Acme/+
topic read spBv1.0/Demo/NCMD/Press7
topic read spBv1.0/Demo/DCMD/Press7/+
topic read spBv1.0/Demo/NCMD/Machine1
topic read spBv1.0/Demo/DCMD/Machine1/+
topic read spBv1.0/STATE/+

# the host (CN=device-2) reads everything and sends commands
user device-2
topic read spBv1.0/#
topic write spBv1.0/Demo/NCMD/+
topic write spBv1.0/Demo/DCMD/+/+
EOF
cat >"$tmp/mosquitto.conf" <<EOF
listener $mqtt_port 127.0.0.1
cafile $tmp/pki/ca.pem
certfile $tmp/pki/server.pem
keyfile $tmp/pki/server.key
require_certificate true
use_identity_as_username true
acl_file $tmp/acl
user root
persistence false
max_queued_messages 0
log_dest file $tmp/mosquitto.log
log_type all
EOF
"$mosquitto" -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.out" 2>&1 &
pids+=($!)
wait_listen "$mqtt_port" || fail "mosquitto did not listen"

# ---- the Modbus device (holding register i = i; 5000 answers with exception 02) ----
"$mbserver" --port "$mb_port" --hole 5000:5000 >"$tmp/mbserver.out" 2>&1 &
pids+=($!)
wait_listen "$mb_port" || fail "tw_mbserver did not listen"

# ---- the host: subscriber, command publisher ----
sub=(-h 127.0.0.1 -p "$mqtt_port" --cafile "$tmp/pki/ca.pem" --cert "$tmp/pki/client2.pem" --key "$tmp/pki/client2.key")
mosquitto_sub "${sub[@]}" -i host-sub -q 1 -t 'spBv1.0/#' -F '%t %x' >"$tmp/capture.txt" 2>"$tmp/sub.err" &
pids+=($!)
for _ in $(seq 50); do grep -q "host-sub 1 spBv1.0/#" "$tmp/mosquitto.log" 2>/dev/null && break; sleep 0.1; done
grep -q "host-sub 1 spBv1.0/#" "$tmp/mosquitto.log" || fail "subscriber did not subscribe"

cmd() { # TOPIC JSON: a command encoded by Tahu, published by the host
  "$node" "$src/tests/node/sp_check.js" encode "$tmp/cmd.bin" "$2"
  mosquitto_pub "${sub[@]}" -i host-pub -q 1 -t "$1" -f "$tmp/cmd.bin"
}
wait_capture() { # REGEX SECONDS
  for _ in $(seq $(($2 * 10))); do grep -Eq "$1" "$tmp/capture.txt" && return 0; sleep 0.1; done
  return 1
}

# ---- the gateway configuration ----
cat >"$tmp/gateway.json" <<EOF
{ "version": 1,
  "node": { "group_id": "Demo", "edge_node_id": "Press7" },
  "uplink": { "broker": "mqtts://127.0.0.1:$mqtt_port",
              "tls": { "ca": "pki/ca.pem", "cert": "pki/client.pem", "key": "pki/client.key",
                       "server_name": "localhost" } },
  "store": { "dir": "state" },
  "devices": [
    { "id": "Sim", "adapter": "sim://",
      "scan_groups": [ { "name": "fast", "rate_ms": 100 } ],
      "tags": [
        { "name": "Hydraulics/OilTemp", "address": "sine:period=4s,amplitude=15,offset=50",
          "type": "double", "unit": "degC", "deadband": 0.5, "min": -20, "max": 120 },
        { "name": "Counters/Strokes", "address": "counter:start=1,step=1", "type": "uint64" } ] },
    { "id": "Press", "adapter": "modbus+tcp://127.0.0.1:$mb_port?unit=1&timeout=500",
      "scan_groups": [ { "name": "fast", "rate_ms": 200 }, { "name": "slow", "rate_ms": 1000 } ],
      "tags": [
        { "name": "Drive/Speed", "address": "holding-register:100", "type": "double", "unit": "rpm",
          "access": "read-write",
          "scaling": { "raw_min": 0, "raw_max": 1000, "eng_min": 0, "eng_max": 150 } },
        { "name": "Setpoints/Speed", "address": "holding-register:1", "type": "uint16",
          "access": "read-write", "unit": "rpm" },
        { "name": "Faulty/Register", "address": "holding-register:5000", "type": "uint16",
          "scan_group": "slow" } ] } ] }
EOF

# The runner is stopped with SIGTERM once the scenario is done (a clean stop: NDEATH, flush); the
# time limit is only a safety net, so a slow, loaded machine never cuts the scenario short.
secs=600
pki=(--ca "$tmp/pki/ca.pem" --cert "$tmp/pki/client.pem" --key "$tmp/pki/client.key" --server-name localhost)
case "$mode" in
  run) runner=("$tagwire" run "$tmp/gateway.json" --seconds $secs --status-interval 1000) ;;
  event_loop) runner=("$bin/examples/example_event_loop" "$tmp/gateway.json" --seconds $secs) ;;
  modbus_gateway) runner=("$bin/examples/example_modbus_gateway" --broker "mqtts://127.0.0.1:$mqtt_port" "${pki[@]}"
                          --device "modbus+tcp://127.0.0.1:$mb_port?unit=1" --seconds $secs) ;;
  oem) runner=("$bin/examples/example_oem_machine" --broker "mqtts://127.0.0.1:$mqtt_port" "${pki[@]}" --seconds $secs) ;;
  custom_adapter) runner=("$bin/examples/example_custom_adapter" --broker "mqtts://127.0.0.1:$mqtt_port" "${pki[@]}"
                          --seconds $secs) ;;
  valgrind) runner=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
                    --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes
                    "$tagwire" run "$tmp/gateway.json" --seconds $secs) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
"${runner[@]}" </dev/null >"$tmp/runner.out" 2>&1 &
runner_pid=$!
pids+=($runner_pid)

if [ "$mode" = custom_adapter ]; then
  wait_capture 'DBIRTH/Acme/Press7' 8 || fail "no DBIRTH from the custom adapter's node"
  sleep 1
  cmd spBv1.0/Demo/DCMD/Acme/Press7 '{"timestamp":1,"metrics":[{"name":"Spindle/Setpoint","type":"Double","value":6000}]}'
  scenario=custom
elif [ "$mode" = oem ]; then
  wait_capture 'NBIRTH/Machine1' 8 || fail "no NBIRTH from the OEM machine"
  sleep 1
  cmd spBv1.0/Demo/NCMD/Machine1 '{"timestamp":1,"metrics":[{"name":"Setpoints/StrokesPerMinute","type":"Double","value":90}]}'
  scenario=oem
else
  wait_capture 'DBIRTH/Press7/Press' 20 || fail "no DBIRTH of the Modbus device"
  sleep 1
  # commands by name (the host may also use the alias from the birth; Tahu encodes what it is given)
  cmd spBv1.0/Demo/DCMD/Press7/Press '{"timestamp":1,"metrics":[{"name":"Setpoints/Speed","type":"UInt16","value":777}]}'
  cmd spBv1.0/Demo/DCMD/Press7/Press '{"timestamp":2,"metrics":[{"name":"Drive/Speed","type":"Double","value":30}]}'
  # the device side: read the registers back with an independent client (pymodbus)
  ok=0
  for _ in $(seq 30); do
    regs=$(/usr/bin/python3 - "$mb_port" <<'PY' 2>/dev/null || true
import sys
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
c.connect()
a = c.read_holding_registers(1, 1, slave=1)
b = c.read_holding_registers(100, 1, slave=1)
print(a.registers[0], b.registers[0])
c.close()
PY
)
    if [ "$regs" = "777 200" ]; then ok=1; break; fi
    sleep 0.2
  done
  [ $ok = 1 ] || fail "Modbus registers after DCMD: got '$regs', expected '777 200' (holding registers 1 and 100)"
  echo "Modbus server side: holding register 1 = 777, holding register 100 = 200 (30 rpm scaled back)"
  if [ "$mode" != valgrind ]; then
    # the device goes away: DDEATH; it comes back (same port): DBIRTH with its current values
    kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
    wait_capture 'DDEATH/Press7/Press' 6 || fail "no DDEATH after the Modbus device went away"
    echo "Modbus device stopped: DDEATH received"
    "$mbserver" --port "$mb_port" --hole 5000:5000 >>"$tmp/mbserver.out" 2>&1 &
    pids+=($!)
    wait_listen "$mb_port" || fail "tw_mbserver did not listen again"
    for _ in $(seq 100); do [ "$(grep -c 'DBIRTH/Press7/Press ' "$tmp/capture.txt")" -ge 2 ] && break; sleep 0.1; done
    [ "$(grep -c 'DBIRTH/Press7/Press ' "$tmp/capture.txt")" -ge 2 ] || fail "no new DBIRTH after the device came back"
    echo "Modbus device restarted: DBIRTH received"
  fi
  scenario=gateway
  [ "$mode" = modbus_gateway ] && scenario=gateway-nosim
fi

if [ "$mode" = valgrind ]; then
  # the broker goes away and comes back on the same port: the node must reconnect and be born again
  sleep 4
  kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
  echo "broker stopped"
  sleep 3
  "$mosquitto" -c "$tmp/mosquitto.conf" >>"$tmp/mosquitto.out" 2>&1 &
  pids+=($!)
  wait_listen "$mqtt_port" || fail "mosquitto did not listen again"
  echo "broker restarted"
  for _ in $(seq 900); do # up to 90 s: back-off after the refusals, a TLS handshake under valgrind
    [ "$(grep -c "Received PUBLISH from Demo-Press7 .*'spBv1.0/Demo/NBIRTH/Press7'" "$tmp/mosquitto.log")" -ge 2 ] && break
    sleep 0.1
  done
  [ "$(grep -c "Received PUBLISH from Demo-Press7 .*'spBv1.0/Demo/NBIRTH/Press7'" "$tmp/mosquitto.log")" -ge 2 ] ||
    fail "no second NBIRTH after the broker restart"
  echo "reconnected: second NBIRTH received by the broker"
  data_after_rebirth() {
    awk "/Received PUBLISH from Demo-Press7 .*NBIRTH/ { b++ } b >= 2 && /Received PUBLISH from Demo-Press7 .*DDATA/ { d++ }
         END { exit d > 0 ? 0 : 1 }" "$tmp/mosquitto.log"
  }
  for _ in $(seq 600); do data_after_rebirth && break; sleep 0.1; done
fi

if [ "$mode" != valgrind ]; then
  # the scenario's data (set point published back, counters moving, ...) is there: then stop
  for _ in $(seq 120); do
    "$node" "$src/tests/node/sp_check.js" check-live "$tmp/capture.txt" "$scenario" >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
kill -TERM "$runner_pid" 2>/dev/null || true

rc=0
wait "$runner_pid" || rc=$?
[ $rc = 0 ] || fail "the runner exited with $rc"
grep -q "Received PUBLISH from Demo-[A-Za-z0-9]* .*'spBv1.0/Demo/NDEATH/" \
  "$tmp/mosquitto.log" || fail "no NDEATH after the clean stop"
cat "$tmp/runner.out"
if [ "$mode" = valgrind ]; then
  data_after_rebirth || fail "no data after the reconnect"
  echo "PASS $mode (no leak, no memory error, reconnect)"
  exit 0
fi
if [ "$mode" = run ]; then
  # the status line (stdout, one a second and one after the stop): key=value fields with the
  # uplink state, the node's and the store's counters
  grep -q '^node=Demo/Press7 link=online ' "$tmp/runner.out" || fail "no status line with link=online"
  last=$(grep '^node=Demo/Press7 link=' "$tmp/runner.out" | tail -n 1)
  echo "last status line: $last"
  declare -A kv=()
  for f in $last; do kv[${f%%=*}]=${f#*=}; done
  for k in node link uptime_s msgs metrics births queue queue_dropped polls poll_errors adapter_req \
           adapter_err cmds cmds_failed reconnects refused store_records store_bytes store_oldest_age_ms \
           store_dropped store_refused store_acked_seq store_last_seq; do
    [ -n "${kv[$k]:-}" ] || fail "status line without $k"
  done
  [ "${kv[link]}" = offline ] || fail "the line after the stop says link=${kv[link]}"
  [ "${kv[metrics]}" -gt 0 ] && [ "${kv[cmds]}" -ge 2 ] || fail "counters: metrics=${kv[metrics]} cmds=${kv[cmds]}"
  # the store: everything appended was confirmed by the broker (watermark = last record), nothing
  # dropped or refused, nothing waiting, so no age
  [ "${kv[store_last_seq]}" -gt 0 ] || fail "store_last_seq=${kv[store_last_seq]}: nothing went through the store"
  [ "${kv[store_acked_seq]}" = "${kv[store_last_seq]}" ] && [ "${kv[store_records]}" = 0 ] &&
    [ "${kv[store_bytes]}" = 0 ] && [ "${kv[store_oldest_age_ms]}" = 0 ] ||
    fail "store after a clean stop: $last"
  [ "${kv[store_dropped]}" = 0 ] && [ "${kv[store_refused]}" = 0 ] || fail "store dropped/refused: $last"
  # while running, the watermark moved (the broker confirmed records as they went)
  awk '/^node=Demo\/Press7 link=online / { for (i = 1; i <= NF; i++) if ($i ~ /^store_acked_seq=/) { split($i, a, "="); if (a[2] > 0) ok = 1 } }
       END { exit ok ? 0 : 1 }' "$tmp/runner.out" || fail "no status line while online with store_acked_seq > 0"
fi
wait_capture 'NDEATH/' 15 || fail "the subscriber did not receive the NDEATH"
"$node" "$src/tests/node/sp_check.js" check "$tmp/capture.txt" "$scenario" || fail "Sparkplug stream check"
# the ACL denied nothing the gateway needed
if grep -q "Denied PUBLISH from" "$tmp/mosquitto.log"; then fail "the broker denied a publish"; fi
echo "PASS $mode"
