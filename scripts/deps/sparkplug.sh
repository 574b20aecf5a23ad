#!/usr/bin/env bash
# sparkplug module: an independent Sparkplug B decoder for the interop tests.
# Installs the npm package `sparkplug-payload` (Eclipse Tahu's JavaScript codec) under
# /opt/tagwire-deps/sparkplug/. Idempotent: does nothing when it is already there.
set -euo pipefail
dest=/opt/tagwire-deps/sparkplug
pkg=sparkplug-payload
ver=1.0.3
if [ -f "$dest/node_modules/$pkg/package.json" ] &&
   node -e "process.exit(require('$dest/node_modules/$pkg/package.json').version === '$ver' ? 0 : 1)"; then
  echo "[deps/sparkplug] $pkg $ver present"
  exit 0
fi
if ! command -v npm >/dev/null; then
  # Debian's nodejs comes without npm (other node builds include it)
  echo "[deps/sparkplug] installing npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || printf '{ "name": "tagwire-sparkplug-deps", "private": true }\n' >package.json
npm install --no-audit --no-fund --omit=dev "$pkg@$ver"
echo "[deps/sparkplug] installed $pkg $ver in $dest"
