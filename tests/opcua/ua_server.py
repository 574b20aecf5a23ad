#!/usr/bin/env python3
"""Independent OPC UA peer for tagwire's tests and benchmark: an asyncua 1.1 server (pure Python),
run from the venv installed by scripts/deps/opcua.sh.

usage: ua_server.py PORT MODE DIR [NBENCH]
  MODE none    endpoint opc.tcp://127.0.0.1:PORT/tagwire with SecurityPolicy None only
  MODE secure  Basic256Sha256 and Aes128_Sha256_RsaOaep with SignAndEncrypt, Basic256Sha256 with Sign; the server certificate
               is DIR/server.der + DIR/server.key (application URI urn:tagwire:test:server in its SAN);
               client certificates must chain to DIR/trust/ (the test CA); identities: anonymous and
               user "op" with password "secret"
  NBENCH       adds NBENCH Double variables ns=2;s=B.<i> (benchmark)
Namespace urn:tagwire:test is index 2. Nodes (all writable):
  ns=2;s=Line1.Press7.Temp  Double 21.5      ns=2;i=1001  UInt16 1001       ns=2;s=Flag Boolean true
  ns=2;s=Count64 Int64 -9000000000           ns=2;s=U64 UInt64 2**64-2       ns=2;s=F Float 0.25
  ns=2;s=Name String "Press 7"               ns=2;s=Blob ByteString 00ff10  ns=2;s=SB SByte -5
  ns=2;s=When DateTime 2021-03-04T05:06:07.5Z (source timestamp 2020-01-02T03:04:05Z)
  ns=2;g=72962b91-fa75-4ae6-8d28-b404dc7daf63  Int32 42
  ns=2;b=AAEC  Int16 -7
  ns=2;s=Broken   Double with status BadSensorFailure
  ns=2;s=Unsure   Double 1.5 with status UncertainSensorNotAccurate
  ns=2;s=Ticker   Int32 incremented every 20 ms (subscriptions)
  ns=2;s=ReadOnly Double 7 (not writable)
On SIGTERM the writable values are written to DIR/dump.txt ("NodeId repr(value)" lines).
"""
import asyncio
import datetime
import os
import signal
import sys
import uuid

from asyncua import Server, ua
from asyncua.server.user_managers import UserManager
from asyncua.crypto.permission_rules import User, UserRole


class Users(UserManager):
    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is None:
            return User(role=UserRole.User)
        if username == "op" and password == "secret":
            return User(role=UserRole.User)
        return None


async def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    d = sys.argv[3]
    nbench = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    server = Server(user_manager=Users())
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:%d/tagwire" % port)
    server.set_server_name("tagwire test server")
    if mode == "secure":
        await server.set_application_uri("urn:tagwire:test:server")
        await server.load_certificate(os.path.join(d, "server.der"))
        await server.load_private_key(os.path.join(d, "server.key"), format="PEM")
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                    ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
                                    ua.SecurityPolicyType.Basic256Sha256_Sign])
        server.set_security_IDs(["Anonymous", "Username"])
        from pathlib import Path
        from asyncua.crypto.truststore import TrustStore
        from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
        ts = TrustStore([Path(os.path.join(d, "trust"))], [])
        await ts.load()
        server.set_certificate_validator(CertificateValidator(
            CertificateValidatorOptions.TRUSTED | CertificateValidatorOptions.TIME_RANGE |
            CertificateValidatorOptions.URI | CertificateValidatorOptions.PEER_CLIENT, ts))
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_security_IDs(["Anonymous", "Username"])
    idx = await server.register_namespace("urn:tagwire:test")
    assert idx == 2, idx
    objs = server.nodes.objects
    line = await objs.add_object(ua.NodeId("Line1", idx), "Line1")
    press = await line.add_object(ua.NodeId("Line1.Press7", idx), "Press7")
    nodes = {}

    async def var(parent, nodeid, name, value, vt, writable=True):
        v = await parent.add_variable(nodeid, name, ua.Variant(value, vt))
        if writable:
            await v.set_writable()
            nodes[nodeid.to_string()] = v
        return v

    S = lambda s: ua.NodeId(s, idx)
    await var(press, S("Line1.Press7.Temp"), "Temp", 21.5, ua.VariantType.Double)
    await var(press, ua.NodeId(1001, idx), "Speed", 1001, ua.VariantType.UInt16)
    await var(objs, S("Flag"), "Flag", True, ua.VariantType.Boolean)
    await var(objs, S("Count64"), "Count64", -9000000000, ua.VariantType.Int64)
    await var(objs, S("U64"), "U64", 2**64 - 2, ua.VariantType.UInt64)
    await var(objs, S("F"), "F", 0.25, ua.VariantType.Float)
    await var(objs, S("Name"), "Name", "Press 7", ua.VariantType.String)
    await var(objs, S("Blob"), "Blob", b"\x00\xff\x10", ua.VariantType.ByteString)
    await var(objs, S("SB"), "SB", -5, ua.VariantType.SByte)
    when = await var(objs, S("When"), "When", datetime.datetime(2021, 3, 4, 5, 6, 7, 500000, tzinfo=datetime.timezone.utc),
                     ua.VariantType.DateTime)
    await when.write_value(ua.DataValue(
        ua.Variant(datetime.datetime(2021, 3, 4, 5, 6, 7, 500000, tzinfo=datetime.timezone.utc), ua.VariantType.DateTime),
        SourceTimestamp=datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)))
    await var(objs, ua.NodeId(uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63"), idx), "G", 42, ua.VariantType.Int32)
    await var(objs, ua.NodeId(b"\x00\x01\x02", idx, ua.NodeIdType.ByteString), "B", -7, ua.VariantType.Int16)
    broken = await var(objs, S("Broken"), "Broken", 0.0, ua.VariantType.Double, writable=False)
    await broken.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double), StatusCode_=ua.StatusCode(0x808C0000)))
    unsure = await var(objs, S("Unsure"), "Unsure", 1.5, ua.VariantType.Double, writable=False)
    await unsure.write_value(ua.DataValue(ua.Variant(1.5, ua.VariantType.Double), StatusCode_=ua.StatusCode(0x40930000)))
    ticker = await var(objs, S("Ticker"), "Ticker", 0, ua.VariantType.Int32, writable=False)
    await var(objs, S("ReadOnly"), "ReadOnly", 7.0, ua.VariantType.Double, writable=False)
    if nbench:
        bench = await objs.add_object(S("B"), "B")
        for i in range(nbench):
            await bench.add_variable(S("B.%d" % i), "B%d" % i, ua.Variant(float(i), ua.VariantType.Double))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        print("ready", flush=True)
        n = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.02)
            except asyncio.TimeoutError:
                pass
            n += 1
            await ticker.write_value(ua.Variant(n, ua.VariantType.Int32))
        with open(os.path.join(d, "dump.txt.tmp"), "w") as f:
            for k, v in nodes.items():
                f.write("%s %r\n" % (k, await v.read_value()))
        os.replace(os.path.join(d, "dump.txt.tmp"), os.path.join(d, "dump.txt"))


if __name__ == "__main__":
    asyncio.run(main())
