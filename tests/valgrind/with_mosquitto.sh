#!/bin/sh
# Starts a plain Mosquitto on a free loopback port, runs the command with @PORT@ replaced by that
# port, stops the broker, and exits with the command's status.
set -u
tmp=$(mktemp -d /tmp/tw-vg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser root\npersistence false\n' "$port" >"$tmp/m.conf"
mosquitto -c "$tmp/m.conf" >"$tmp/m.log" 2>&1 &
mpid=$!
i=0
while [ $i -lt 100 ]; do
  grep -qi "$(printf ':%04X ' "$port")" /proc/net/tcp 2>/dev/null && break
  sleep 0.05; i=$((i+1))
done
args=""
for a in "$@"; do
  [ "$a" = "@PORT@" ] && a=$port
  args="$args '$a'"
done
eval "$args"
rc=$?
kill "$mpid" 2>/dev/null; wait "$mpid" 2>/dev/null
rm -rf "$tmp"
exit $rc
