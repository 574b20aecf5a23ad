"""Concurrent setters from 8 threads; RSS stays flat over 100k create/free cycles."""
import gc
import threading

import tagwire
from conftest import rss_kib

THREADS = 8
PER_THREAD = 20000


def test_concurrent_sets_from_8_threads():
    with tagwire.TagSet() as ts:
        own = [ts.add("Own/%d" % i, "int64") for i in range(THREADS)]
        shared = ts.add("Shared/Counter", "int64", report_every_sample=True)
        last = [ts.add("Last/%d" % i, "string") for i in range(THREADS)]
        barrier = threading.Barrier(THREADS)
        errors = []

        def worker(k):
            try:
                barrier.wait()
                for i in range(1, PER_THREAD + 1):
                    own[k].set_int(i)
                    shared.set_int(k * PER_THREAD + i)
                    if i % 1000 == 0:
                        last[k].set("thread %d at %d" % (k, i))
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        # final values: every thread's last write is what its tag holds
        for k in range(THREADS):
            assert own[k].value == PER_THREAD
            assert last[k].value == "thread %d at %d" % (k, PER_THREAD)
        # the shared tag holds the last value one of the threads wrote
        assert shared.value in {k * PER_THREAD + PER_THREAD for k in range(THREADS)}
        ch = ts.collect()
        by = {c.tag.name: c for c in ch}
        # each changed tag exactly once, with its latest value
        assert len(ch) == len(by) == 2 * THREADS + 1
        for k in range(THREADS):
            c = by["Own/%d" % k]
            assert c.value == PER_THREAD and c.coalesced == PER_THREAD - 1
        # every update of the shared (report-every-sample) tag was counted exactly once
        assert by["Shared/Counter"].coalesced == THREADS * PER_THREAD - 1
        assert ts.collect() == []


def test_rss_flat_over_100k_objects():
    def cycle(n):
        for i in range(n):
            with tagwire.TagSet() as ts:
                t = ts.add("T", "string")
                t.set("value %d" % i)
                t.get()
                ts.collect()
    cycle(5000)  # warm up allocator and caches
    gc.collect()
    before = rss_kib()
    cycle(100000)
    gc.collect()
    after = rss_kib()
    assert after - before < 4096, "RSS grew by %d KiB over 100k tag sets" % (after - before)
