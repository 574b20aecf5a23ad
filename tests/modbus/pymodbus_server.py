#!/usr/bin/python3
"""An independent Modbus TCP peer for tagwire's tests: Debian's pymodbus 3.0 (python3-pymodbus).

Usage: pymodbus_server.py PORT
Data (zero-based addresses, 2000 of each):
  coils[i] = i % 3 == 0, discrete inputs[i] = i % 2, input registers[i] = 1000 + i,
  holding registers[i] = (3 * i) & 0xFFFF. Addresses >= 2000 answer exception 02.
"""
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

N = 2000


def main():
    port = int(sys.argv[1])
    logging.basicConfig(level=logging.WARNING)
    store = ModbusSlaveContext(
        di=ModbusSequentialDataBlock(0, [i % 2 for i in range(N)]),
        co=ModbusSequentialDataBlock(0, [1 if i % 3 == 0 else 0 for i in range(N)]),
        hr=ModbusSequentialDataBlock(0, [(3 * i) & 0xFFFF for i in range(N)]),
        ir=ModbusSequentialDataBlock(0, [1000 + i for i in range(N)]),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves=store, single=True)
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
