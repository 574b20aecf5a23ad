#!/bin/sh
# Installs the built library into a temporary prefix and builds an out-of-tree consumer twice:
# with CMake's find_package(tagwire) and with pkg-config. Runs both.
set -eu
build=$1; src=$2
tmp=$(mktemp -d /tmp/tw-consumer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
libdir=$(ls -d "$tmp/prefix"/lib* | head -n1)
# find_package
cmake -S "$src" -B "$tmp/b1" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/cfg.log"
cmake --build "$tmp/b1" >"$tmp/build1.log"
LD_LIBRARY_PATH="$libdir" "$tmp/b1/consumer" | tee "$tmp/out1"
grep -q '^tagwire ' "$tmp/out1"
# pkg-config
PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists tagwire
cc -std=c99 -Wall -Werror -o "$tmp/consumer_pc" "$src/consumer.c" \
   $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs tagwire)
LD_LIBRARY_PATH="$libdir" "$tmp/consumer_pc" | tee "$tmp/out2"
grep -q '^tagwire ' "$tmp/out2"
echo "OK: consumer built with find_package and pkg-config"
