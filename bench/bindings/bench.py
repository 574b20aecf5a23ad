"""Python side of bench/bindings/run.sh: tag updates through the binding.
Prints "<variant> <ns per update> <updates per second>" lines. Usage: bench.py [iterations]"""
import sys
import time

import tagwire
from tagwire import lib

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000


def run(fn):
    best = 1e18
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        ns = (time.perf_counter() - t0) * 1e9 / n
        best = min(best, ns)
    return best


with tagwire.TagSet() as ts:
    tag = ts.add("Bench/Value", "double")

    def fast():
        s = tag.set_double
        for i in range(n):
            s(float(i))
            if not i & 4095:
                ts.collect()

    def generic():
        s = tag.set
        for i in range(n):
            s(float(i))
            if not i & 4095:
                ts.collect()

    def raw_cffi():  # the floor: one cffi call per update, no wrapper
        f, p = lib.tw_tag_set_double, tag._ptr
        for i in range(n):
            f(p, float(i), 0, 0)
            if not i & 4095:
                ts.collect()

    def loop_only():  # the interpreter's own loop cost
        for i in range(n):
            float(i)
            if not i & 4095:
                pass

    for name, fn in (("python.set_double", fast), ("python.set", generic),
                     ("python.raw_cffi", raw_cffi), ("python.empty_loop", loop_only)):
        ns = run(fn)
        print("%s %.1f %.0f" % (name, ns, 1e9 / ns))
