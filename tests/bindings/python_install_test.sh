#!/bin/sh
# `pip install bindings/python` against an installed library: installs the build into a temporary
# prefix, the package into a temporary virtual environment (with the system's cffi), and imports it
# from outside the source tree with only LD_LIBRARY_PATH pointing at the installed library.
#   python_install_test.sh PYTHON BUILD_DIR SOURCE_DIR
set -eu
py=$1; build=$2; src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cp -r "$src/bindings/python" "$tmp/pkg"
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-build-isolation --no-deps --no-index "$tmp/pkg"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -1)
cd "$tmp"
env -u TAGWIRE_LIBRARY LD_LIBRARY_PATH="$libdir" "$tmp/venv/bin/python" - <<'PY'
import os, tagwire
assert tagwire.__file__.startswith(os.environ.get("VIRTUAL_ENV", "") or os.getcwd()), tagwire.__file__
assert "/pkg/" not in tagwire.__file__
with tagwire.TagSet() as ts:
    t = ts.add("Installed/Check", "double")
    t.set(1.5)
    assert ts.collect()[0].value == 1.5
print("installed tagwire", tagwire.version_string(), "from", os.path.dirname(tagwire.__file__))
PY
