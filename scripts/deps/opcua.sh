#!/usr/bin/env bash
# opcua module (OPC UA and S7 adapters): independent test peers from PyPI, in a venv under
# /opt/tagwire-deps/opcua:
#   - asyncua      (pure-Python OPC UA server, security None and Basic256Sha256 SignAndEncrypt)
#   - python-snap7 (3.x: contains a pure-Python S7 server, snap7.server)
# Idempotent: does nothing when both are importable with the pinned versions.
set -euo pipefail
dest=/opt/tagwire-deps/opcua
asyncua_ver=1.1.8
snap7_ver=3.3.0
py=$dest/venv/bin/python
if [ -x "$py" ] && "$py" - "$asyncua_ver" "$snap7_ver" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
sys.exit(0 if m.version("asyncua") == sys.argv[1] and m.version("python-snap7") == sys.argv[2] else 1)
PY
then
  echo "[deps/opcua] asyncua $asyncua_ver and python-snap7 $snap7_ver present"
  exit 0
fi
if ! /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
  echo "[deps/opcua] installing python3-venv"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
mkdir -p "$dest"
[ -x "$py" ] || /usr/bin/python3 -m venv "$dest/venv"
"$dest/venv/bin/pip" install -q --disable-pip-version-check \
  "asyncua==$asyncua_ver" "python-snap7==$snap7_ver"
echo "[deps/opcua] installed asyncua $asyncua_ver and python-snap7 $snap7_ver in $dest/venv"
