#!/bin/sh
# bench/bindings: tag updates per second through the C API, the Python binding and the Go binding,
# in one run on the same machine, and the per-call overhead of each binding over C.
#   bench/bindings/run.sh [BUILD_DIR]     (default build/release; needs bench_bindings_c built)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build/release}" && pwd)
py=${TW_PYTHON:-/usr/bin/python3}
go=${TW_GO:-$(command -v go || echo /usr/local/go/bin/go)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A fixed prefix: Go caches cgo packages by the (relocatable) pkg-config output, so a prefix
# that changes between runs would leave stale -L paths in the cache.
prefix="$build/bindings-prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(dirname "$(ls "$prefix"/lib*/pkgconfig/tagwire.pc | head -1)")")
export LD_LIBRARY_PATH="$libdir" PKG_CONFIG_PATH="$libdir/pkgconfig"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off GOCACHE="$build/go-cache" GOPATH="$tmp/gopath"
(cd "$src/bench/bindings/go" && "$go" build -o "$tmp/gobench" .)
{
  "$build/bench/bench_bindings_c" "${TW_BENCH_C_N:-20000000}"
  TAGWIRE_LIBRARY="$libdir/libtagwire.so" PYTHONPATH="$src/bindings/python" PYTHONDONTWRITEBYTECODE=1 \
    "$py" "$src/bench/bindings/bench.py" "${TW_BENCH_PY_N:-1000000}"
  "$tmp/gobench" "${TW_BENCH_GO_N:-5000000}"
} >"$tmp/results"
awk '
  $1 == "c" { c = $2 }
  { name[NR] = $1; ns[NR] = $2; ups[NR] = $3 }
  END {
    printf "%-20s %12s %14s %12s %10s\n", "variant", "ns/update", "updates/s", "overhead ns", "x C"
    for (i = 1; i <= NR; i++)
      printf "%-20s %12.1f %14.0f %12.1f %10.1f\n", name[i], ns[i], ups[i], ns[i] - c, ns[i] / c
  }' "$tmp/results"
