"""The declarations cannot drift from the headers, and every public function is bound."""
import os
import re

import tagwire
from tagwire._ffi import CDEF, ffi, lib

from conftest import SOURCE_DIR
import gen_cdef

PKG = os.path.dirname(tagwire.__file__)
INCLUDE = os.path.join(SOURCE_DIR, "include")


def header_functions():
    """TW_API function names, read straight from the header text (independently of gen_cdef)."""
    names = set()
    for root, _d, files in os.walk(os.path.join(INCLUDE, "tagwire")):
        for f in files:
            if f.endswith(".h"):
                text = open(os.path.join(root, f)).read()
                for decl in re.findall(r"^\s*TW_API\b([^;{]*?)\(", text, flags=re.M | re.S):
                    names.add(re.findall(r"(\w+)\s*$", decl)[0])
    return names


def test_cdef_is_generated_from_the_current_headers():
    assert gen_cdef.generate(INCLUDE) == CDEF, \
        "tagwire/_cdef.h is stale: run bindings/python/gen_cdef.py include bindings/python/tagwire/_cdef.h"


def test_every_public_function_is_declared_and_resolvable():
    fns = header_functions()
    assert len(fns) > 200
    declared = set(gen_cdef.functions(CDEF))
    assert fns == declared, "differ: %s" % sorted(fns ^ declared)
    # the signatures the package calls with are the headers' (parsed afresh from the headers)
    fresh = __import__("cffi").FFI()
    fresh.cdef(gen_cdef.preprocess(INCLUDE))
    flib = fresh.dlopen(os.environ["TAGWIRE_LIBRARY"])
    for name in sorted(fns):
        fn = getattr(lib, name)  # AttributeError when the library does not export it
        assert ffi.typeof(fn).kind == "function"
        assert ffi.getctype(ffi.typeof(fn)) == fresh.getctype(fresh.typeof(getattr(flib, name))), name


def test_every_public_function_has_a_python_wrapper():
    used = set()
    for f in os.listdir(PKG):
        if f.endswith(".py"):
            used |= set(re.findall(r"\blib\.(tw_[a-z0-9_]+)", open(os.path.join(PKG, f)).read()))
    missing = sorted(header_functions() - used)
    assert not missing, "public functions without a Python wrapper: %s" % missing


def test_constants_match_headers():
    assert lib.TW_VERSION_MAJOR == tagwire.version()[0]
    assert lib.TW_QUALITY_BAD == 0x80000000
    assert lib.TW_FEATURE_TLS13 == 1 << 10
    assert lib.TW_TAG_NAME_MAX == 1024
