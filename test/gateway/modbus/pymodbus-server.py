#!/usr/bin/python3
"""A Modbus server nobody here wrote (Debian python3-pymodbus 3.0), for the gateway's master tests.

Usage: pymodbus-server.py JSON
  {"mode": "tcp"|"rtu", "port": "/dev/pts/N" (rtu), "baud": 9600, "tcpPort": 0 (tcp; 0 = any),
   "slaves": {"1": {"hr": {"0": [1, 2]}, "ir": {...}, "co": {"0": [1, 0]}, "di": {...}}},
Prints `listening PORT` (tcp) or `listening` (rtu) once serving, then one JSON line per request
the server validated: {"unit", "fc", "address", "count", "ok"} -- so tests count requests on the
server side (coalescing) without trusting the client's own counters. Units not listed never
answer (ignore_missing_slaves), which is how a silent slave beside a live one is made.
"""
import asyncio
import json
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer


class CountingContext(ModbusSlaveContext):
    def __init__(self, unit, **kwargs):
        super().__init__(**kwargs)
        self.unit = unit

    def validate(self, fc_as_hex, address, count=1):
        ok = super().validate(fc_as_hex, address, count)
        print(json.dumps({"unit": self.unit, "fc": fc_as_hex, "address": address, "count": count, "ok": bool(ok)}), flush=True)
        return ok


def block(spec):
    values = {}
    for start, vals in (spec or {}).items():
        for i, v in enumerate(vals):
            values[int(start) + i] = v
    # An empty sparse block still needs one key; 65535 is far from anything the tests map.
    return ModbusSparseDataBlock(values or {65535: 0})


def context(cfg):
    slaves = {}
    for unit, tables in cfg["slaves"].items():
        slaves[int(unit)] = CountingContext(
            int(unit),
            hr=block(tables.get("hr")), ir=block(tables.get("ir")),
            co=block(tables.get("co")), di=block(tables.get("di")),
            zero_mode=True,
        )
    return ModbusServerContext(slaves=slaves, single=False)


async def main():
    cfg = json.loads(sys.argv[1])
    ctx = context(cfg)
    if cfg["mode"] == "tcp":
        server = await StartAsyncTcpServer(context=ctx, address=("127.0.0.1", cfg.get("tcpPort", 0)), defer_start=True, ignore_missing_slaves=True, allow_reuse_address=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        port = server.server.sockets[0].getsockname()[1]
        print(f"listening {port}", flush=True)
        await task
    else:
        server = await StartAsyncSerialServer(
            context=ctx, framer=ModbusRtuFramer, port=cfg["port"], baudrate=cfg.get("baud", 9600),
            defer_start=True, ignore_missing_slaves=True,
        )
        await server.start()
        print("listening", flush=True)
        await server.serve_forever()


asyncio.run(main())
