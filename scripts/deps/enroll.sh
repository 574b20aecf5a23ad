#!/usr/bin/env bash
# enroll: GlobalSign's EST server (RFC 7030), an independent peer for the enrollment tests.
# Builds /opt/tagwire-deps/enroll/bin/estserver from the Go module github.com/globalsign/est,
# pinned by scripts/deps/enroll-estserver/go.{mod,sum} (v1.0.6). Idempotent: does nothing when
# the binary is already there.
#
# Why not `go install ...@latest`: the module proxy reachable here serves the pinned version but
# refuses the version list (`@v/list`), which both `@latest` and go install's deprecation check
# read. Building from a tiny pinned module avoids the list.
set -euo pipefail
dest=/opt/tagwire-deps/enroll/bin
if [ -x "$dest/estserver" ]; then
  echo "[deps/enroll] estserver present"
  exit 0
fi
go=$(command -v go || true)
[ -n "$go" ] || go=/usr/local/go/bin/go
if [ ! -x "$go" ]; then
  echo "[deps/enroll] no Go toolchain: installing Debian's golang-go"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null; }
  go=$(command -v go || true)
  if [ -z "$go" ]; then
    echo "[deps/enroll] Go toolchain not found; the EST interop tests will fail" >&2
    exit 1
  fi
fi
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/enroll-estserver/go.mod" "$here/enroll-estserver/go.sum" "$here/enroll-estserver/tools.go" "$work/"
mkdir -p "$dest"
export GOPATH="${GOPATH:-/opt/tagwire-deps/enroll/gopath}"
export GOFLAGS="-modcacherw -mod=mod"
export GOTOOLCHAIN=local
echo "[deps/enroll] building estserver (github.com/globalsign/est v1.0.6)"
(cd "$work" && "$go" build -o "$dest/estserver.tmp" github.com/globalsign/est/cmd/estserver)
mv "$dest/estserver.tmp" "$dest/estserver"
echo "[deps/enroll] estserver installed in $dest"
