#!/bin/sh
# Go binding: installs the build into a temporary prefix, points pkg-config and the loader at it,
# then runs `go vet ./...` and `go test ./...` in bindings/go (standard library only, no downloads).
#   go_test.sh GO BUILD_DIR SOURCE_DIR MBSERVER
set -eu
go=$1; build=$2; src=$3; mbserver=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(ls "$tmp"/prefix/lib*/pkgconfig/tagwire.pc | head -1)")
libdir=$(dirname "$libdir")
export PKG_CONFIG_PATH="$libdir/pkgconfig" LD_LIBRARY_PATH="$libdir"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off GOCACHE="$build/go-cache" GOPATH="$tmp/gopath"
export TW_MBSERVER="$mbserver" TAGWIRE_SOURCE_DIR="$src"
cd "$src/bindings/go"
"$go" vet ./...
"$go" test -count=1 ./...
