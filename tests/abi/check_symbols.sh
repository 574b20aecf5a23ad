#!/bin/sh
# Fails when libtagwire.so exports a symbol not starting with tw_, or when a function declared
# TW_API in a public header is not exported.
set -eu
lib=$1; incdir=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$exported" | grep -v '^tw_[a-z0-9]' | grep -v '^TAGWIRE_' || true)
if [ -n "$bad" ]; then
  echo "exported symbols outside the tw_ namespace:"; printf '  %s\n' $bad; exit 1
fi
declared=$(cat "$incdir"/tagwire/*.h "$incdir"/tagwire/sys/*.h 2>/dev/null | grep -v '^[[:space:]]*#' | tr '\n' ' ' |
  grep -o 'TW_API[^;(]*(' | sed 's/($//' | awk '{print $NF}' | sed 's/^\*//' | sort -u)
missing=""
for f in $declared; do
  printf '%s\n' "$exported" | grep -qx "$f" || missing="$missing $f"
done
if [ -n "$missing" ]; then
  echo "declared in public headers but not exported:$missing"; exit 1
fi
n=$(printf '%s\n' "$exported" | grep -c . || true)
echo "OK: $n exported symbols, all tw_*; every TW_API declaration exported"
