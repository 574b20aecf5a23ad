#!/usr/bin/env python3
"""Independent S7 peer for tagwire's S7 tests: the pure-Python server of python-snap7 3.x
(snap7.server.Server), run from the venv installed by scripts/deps/opcua.sh.

usage: s7_server.py PORT DUMPFILE

Areas and preset contents (big-endian, packed here with Python's struct, not by tagwire):
  DB1 (128 bytes)  byte 0 = 0b00000101 (DBX0.0 = 1, DBX0.1 = 0, DBX0.2 = 1)
                   DBB1 = 0xAB, DBW2:INT = -1234, DBW4 = 0xBEEF, DBD6:DINT = -123456789,
                   DBD10 = 0xDEADBEEF, DBD14:REAL = 3.5, DBB18:LREAL = -2.25, DBB26:LINT = -5e12,
                   DBB34:SINT = -7, DBW36:UINT = 65000, DBD38:UDINT = 4000000000, DBB42:CHAR = 'Z',
                   DBB50:STRING[20] = 'Press7 ok' (max 20)
  DB2 (64 bytes)   DBB0:STRING[20] = 'hello', DBB30:ULINT = 2**63 + 5
  M  (64 bytes)    MB10 = 0b00000100 (M10.2 = 1), MW20 = 0x1234, MD30:REAL = -0.5
  I  (16 bytes)    IB0 = 0b00000001 (I0.0 = 1), IW2 = 777
  Q  (16 bytes)    QB0 = 0b00000010 (Q0.1 = 1), QD4 = 99999
On SIGTERM the areas are written to DUMPFILE as lines "NAME HEX" so that the test can check what
writes did, as seen by this server.
"""
import signal
import struct
import sys
import time

import snap7
from snap7.type import SrvArea


def main():
    port = int(sys.argv[1])
    dump = sys.argv[2]
    db1 = bytearray(128)
    db1[0] = 0b101
    db1[1] = 0xAB
    struct.pack_into(">h", db1, 2, -1234)
    struct.pack_into(">H", db1, 4, 0xBEEF)
    struct.pack_into(">i", db1, 6, -123456789)
    struct.pack_into(">I", db1, 10, 0xDEADBEEF)
    struct.pack_into(">f", db1, 14, 3.5)
    struct.pack_into(">d", db1, 18, -2.25)
    struct.pack_into(">q", db1, 26, -5000000000000)
    struct.pack_into(">b", db1, 34, -7)
    struct.pack_into(">H", db1, 36, 65000)
    struct.pack_into(">I", db1, 38, 4000000000)
    db1[42] = ord("Z")
    s = b"Press7 ok"
    db1[50] = 20
    db1[51] = len(s)
    db1[52:52 + len(s)] = s
    db2 = bytearray(64)
    db2[0] = 20
    db2[1] = 5
    db2[2:7] = b"hello"
    struct.pack_into(">Q", db2, 30, 2**63 + 5)
    mk = bytearray(64)
    mk[10] = 0b100
    struct.pack_into(">H", mk, 20, 0x1234)
    struct.pack_into(">f", mk, 30, -0.5)
    pe = bytearray(16)
    pe[0] = 1
    struct.pack_into(">H", pe, 2, 777)
    pa = bytearray(16)
    pa[0] = 2
    struct.pack_into(">I", pa, 4, 99999)

    srv = snap7.server.Server(log=False)
    srv.register_area(SrvArea.DB, 1, db1)
    srv.register_area(SrvArea.DB, 2, db2)
    srv.register_area(SrvArea.MK, 0, mk)
    srv.register_area(SrvArea.PE, 0, pe)
    srv.register_area(SrvArea.PA, 0, pa)

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    srv.start_to("127.0.0.1", port)
    print("ready", flush=True)
    while not stop:
        time.sleep(0.05)
    with open(dump + ".tmp", "w") as f:
        for name, area in (("DB1", db1), ("DB2", db2), ("M", mk), ("I", pe), ("Q", pa)):
            f.write("%s %s\n" % (name, bytes(area).hex()))
    import os
    os.replace(dump + ".tmp", dump)
    srv.stop()
    os._exit(0)


if __name__ == "__main__":
    main()
