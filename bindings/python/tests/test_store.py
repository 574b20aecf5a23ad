import os

import pytest
import tagwire
from tagwire import Store, lib
from tagwire.store import Overflow, Sync


def test_memory_store_append_read_ack():
    with Store(max_bytes=65536) as s:
        seqs = [s.append(b"rec %d" % i) for i in range(10)]
        assert seqs == list(range(1, 11))
        got = list(s)
        assert [r.data for r in got] == [b"rec %d" % i for i in range(10)]
        s.ack(5)
        s.rewind()
        assert s.read().seq == 6
        st = s.stats()
        assert st.records == 5 and st.acked_seq == 5 and st.next_seq == 11
        with pytest.raises(tagwire.RangeError):
            s.ack(99)


def test_disk_store_survives_reopen_and_reports_lock(tmp_path):
    d = tmp_path / "spool"
    with Store(str(d), sync=Sync.BATCH, overflow=Overflow.REFUSE_NEW) as s:
        for i in range(100):
            s.append(b"x" * 100)
        s.sync()
        assert s.durable_seq == 100
        s.ack(40)
        s.state_set("bdSeq", 7)
        s.state_set("blob", b"\x00\x01")
        with pytest.raises(tagwire.StoreError) as e:
            Store(str(d))
        assert e.value.code == lib.TW_ERR_STORE_LOCKED
    with Store.open_dir(str(d)) as ro:  # inspection: read-only, no lock
        st = ro.stats()
        assert (st.records, st.acked_seq, st.newest_seq) == (60, 40, 100)
        assert ro.read().seq == 41
        assert ro.state_get_u64("bdSeq") == 7 and ro.state_get("blob") == b"\x00\x01"
        assert ro.state_get("missing") is None
        with pytest.raises(tagwire.Error) as e:
            ro.append(b"y")
        assert e.value.code == lib.TW_ERR_BUSY
    assert tagwire.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)


def test_failing_constructor_error_carries_the_detail(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    bad = str(blocker / "spool")  # its parent is a regular file: it cannot be created
    tagwire.last_error_clear()
    with pytest.raises(tagwire.StoreError) as e:
        Store(bad)
    assert e.value.code == lib.TW_ERR_NOT_FOUND or e.value.code == lib.TW_ERR_IO
    # the exception carries tw_last_error(): the module, the directory and the system's reason
    assert e.value.detail.startswith("store: ")
    assert bad in e.value.detail and "Not a directory" in e.value.detail
    assert e.value.detail == tagwire.last_error()
    assert tagwire.last_error_status() == e.value.code
    with Store(max_bytes=65536) as s:
        assert s.last_status == 0
        with pytest.raises(tagwire.RangeError):
            s.ack(99)
        assert s.last_status == lib.TW_ERR_RANGE
