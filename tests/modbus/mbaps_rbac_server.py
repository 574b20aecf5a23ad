#!/usr/bin/python3
"""Server side of Modbus/TCP Security for tagwire's tests, with role-based authorization.

TLS is Python's ssl module (OpenSSL): mutual authentication required, TLS 1.2 or newer. The
client's role is read from its certificate with python3-cryptography: the extension
1.3.6.1.4.1.50316.802.1 whose value is an ASN.1 UTF8String (Modbus/TCP Security R-21/R-22).
Modbus requests are forwarded to a plain Modbus TCP server (the libmodbus test server), except
requests with a write function code from a client whose role is not --write-role: those get
exception 01 (illegal function), the answer the specification gives for an unauthorised request.

For every accepted connection one line "role=ROLE cn=CN" (ROLE "-" when absent) goes to stdout.

Usage: mbaps_rbac_server.py --port P --backend-port B --cert F --key F --ca F [--write-role R]
SPDX-License-Identifier: Apache-2.0
"""
import argparse
import asyncio
import ssl
import sys

from cryptography import x509
from cryptography.x509.oid import NameOID

ROLE_OID = x509.ObjectIdentifier("1.3.6.1.4.1.50316.802.1")
WRITE_FCS = {5, 6, 15, 16, 22, 23}


def der_utf8string(raw):
    """Decodes a DER UTF8String (tag 12); None when it is something else."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return None
    n, pos = raw[1], 2
    if n & 0x80:
        k = n & 0x7F
        n, pos = int.from_bytes(raw[2:2 + k], "big"), 2 + k
    if pos + n != len(raw):
        return None
    return raw[pos:pos + n].decode("utf-8")


def role_of(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ROLE_OID)
    except x509.ExtensionNotFound:
        return None
    return der_utf8string(ext.value.value)


async def serve(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(cafile=args.ca)

    async def handle(reader, writer):
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        cert = x509.load_der_x509_certificate(der)
        role = role_of(cert)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        print(f"role={role if role is not None else '-'} cn={cns[0].value if cns else '-'}", flush=True)
        try:
            br, bw = await asyncio.open_connection("127.0.0.1", args.backend_port)
        except OSError:
            writer.close()
            return
        try:
            while True:
                hdr = await reader.readexactly(7)
                length = int.from_bytes(hdr[4:6], "big")
                if length < 2 or length > 254:
                    break
                pdu = await reader.readexactly(length - 1)
                if pdu[0] in WRITE_FCS and role != args.write_role:
                    writer.write(hdr[0:4] + (3).to_bytes(2, "big") + hdr[6:7] + bytes([pdu[0] | 0x80, 0x01]))
                    await writer.drain()
                    continue
                bw.write(hdr + pdu)
                await bw.drain()
                rh = await br.readexactly(7)
                rp = await br.readexactly(int.from_bytes(rh[4:6], "big") - 1)
                writer.write(rh + rp)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            bw.close()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, ssl=ctx)
    async with server:
        await server.serve_forever()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--backend-port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--write-role", default="operator")
    args = p.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
