#!/bin/sh
# Go binding: installs the build into BUILD_DIR/bindings-prefix, points pkg-config and the loader at it,
# then runs `go vet ./...` and `go test ./...` in bindings/go (standard library only, no downloads).
#   go_test.sh GO BUILD_DIR SOURCE_DIR MBSERVER
set -eu
go=$1; build=$2; src=$3; mbserver=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A fixed prefix: Go caches cgo packages by the (relocatable) pkg-config output, so a prefix
# that changes between runs would leave stale -L paths in the cache.
prefix="$build/bindings-prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(dirname "$(ls "$prefix"/lib*/pkgconfig/tagwire.pc | head -1)")")
export PKG_CONFIG_PATH="$libdir/pkgconfig" LD_LIBRARY_PATH="$libdir"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off GOCACHE="$build/go-cache" GOPATH="$tmp/gopath"
export TW_MBSERVER="$mbserver" TAGWIRE_SOURCE_DIR="$src"
# Go's build cache does not notice a change in a header outside the package (here: an installed
# tagwire header, e.g. a struct that grew); a stale cgo package then calls the library with old
# struct sizes. A hash of the installed headers in CGO_CFLAGS makes it part of the cache key.
hdr_hash=$(cat "$prefix"/include/tagwire/*.h "$prefix"/include/tagwire/sys/*.h | sha256sum | cut -c1-16)
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DTW_GO_HEADERS_HASH=$hdr_hash"
cd "$src/bindings/go"
"$go" vet ./...
"$go" test -count=1 ./...
