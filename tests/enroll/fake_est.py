#!/usr/bin/env python3
"""Scripted EST responder for the cases GlobalSign's estserver cannot produce on demand.

HTTPS on 127.0.0.1:PORT with the test PKI's server certificate. Certificates are issued by the
openssl command line (x509 -req with the test CA), and wrapped into certs-only PKCS#7 by
`openssl crl2pkcs7`, base64 with line breaks: nothing of tagwire is used to make the answers.

usage: fake_est.py PORT PKI_DIR MODE [ARG]
modes (they apply to POST /simpleenroll and /simplereenroll; GET /cacerts always answers):
  retry N       answer 202 Accepted, Retry-After: N (seconds) to the first request, then issue
  retry-forever answer 202, Retry-After: 1 every time
  auth PASSWORD issue only to HTTP basic credentials user "dev" / PASSWORD, else 401
  garbage       200 application/pkcs7-mime whose body is not base64
  truncated     200 with a valid PKCS#7 cut in half
  not-pkcs7     200 with the base64 of a certificate (DER) instead of a PKCS#7
  wrong-key     issue a certificate, but for another key than the CSR's
  server-error  503 without Retry-After (a plain server failure)
  short N       issue certificates valid for N seconds from now (openssl ca -enddate)
Every request is appended to PKI_DIR/fake_est.log as "METHOD PATH STATUS".
"""
import base64
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import time

port = int(sys.argv[1])
pki = sys.argv[2]
mode = sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else ""
state = {"posts": 0}


def run(*cmd, data=None):
    return subprocess.run(cmd, input=data, check=True, capture_output=True).stdout


def pkcs7_of(pem_files):
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
        for p in pem_files:
            with open(p, "rb") as src:
                f.write(src.read())
        name = f.name
    try:
        return run("openssl", "crl2pkcs7", "-nocrl", "-certfile", name, "-outform", "DER")
    finally:
        os.unlink(name)


def issue(csr_der):
    with tempfile.TemporaryDirectory() as d:
        csr = os.path.join(d, "req.der")
        with open(csr, "wb") as f:
            f.write(csr_der)
        if mode == "wrong-key":
            # a CSR of another key with the same subject
            key = os.path.join(d, "other.key")
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
            run("openssl", "req", "-new", "-key", key, "-subj", "/CN=impostor", "-out", os.path.join(d, "req.pem"))
        else:
            run("openssl", "req", "-inform", "DER", "-in", csr, "-out", os.path.join(d, "req.pem"))
        cert = os.path.join(d, "cert.pem")
        if mode == "short":
            cnf = os.path.join(d, "ca.cnf")
            with open(cnf, "w") as f:
                f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\nnew_certs_dir = %s\n"
                        "serial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
                        "copy_extensions = copy\n[p]\ncommonName = supplied\nserialNumber = optional\n" % (d, d, d))
            open(os.path.join(d, "index.txt"), "w").close()
            with open(os.path.join(d, "serial"), "w") as f:
                f.write("%04X\n" % (0x1000 + state["posts"]))
            fmt = "%y%m%d%H%M%SZ"
            now = time.time()
            run("openssl", "ca", "-batch", "-config", cnf, "-in", os.path.join(d, "req.pem"),
                "-cert", os.path.join(pki, "ca.pem"), "-keyfile", os.path.join(pki, "ca.key"),
                "-preserveDN", "-notext", "-startdate", time.strftime(fmt, time.gmtime(now - 1)),
                "-enddate", time.strftime(fmt, time.gmtime(now + int(arg))), "-out", cert)
            return pkcs7_of([cert, os.path.join(pki, "ca.pem")])
        run("openssl", "x509", "-req", "-in", os.path.join(d, "req.pem"), "-CA", os.path.join(pki, "ca.pem"),
            "-CAkey", os.path.join(pki, "ca.key"), "-set_serial", str(1000 + state["posts"]), "-days", "1",
            "-out", cert)
        return pkcs7_of([cert, os.path.join(pki, "ca.pem")])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="text/plain", headers=()):
        with open(os.path.join(pki, "fake_est.log"), "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if ctype.startswith("application/pkcs7-mime"):
            self.send_header("Content-Transfer-Encoding", "base64")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/cacerts"):
            body = base64.encodebytes(pkcs7_of([os.path.join(pki, "ca.pem")]))
            return self.answer(200, body, "application/pkcs7-mime")
        self.answer(404, b"not found\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if not (self.path.endswith("/simpleenroll") or self.path.endswith("/simplereenroll")):
            return self.answer(404, b"not found\n")
        state["posts"] += 1
        p7 = "application/pkcs7-mime; smime-type=certs-only"
        if mode == "auth":
            want = "Basic " + base64.b64encode(("dev:" + arg).encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.answer(401, b"bad user name or password\n",
                                   headers=[("WWW-Authenticate", 'Basic realm="est"')])
        if mode == "retry" and state["posts"] == 1:
            return self.answer(202, b"pending manual approval\n", headers=[("Retry-After", arg)])
        if mode == "retry-forever":
            return self.answer(202, b"pending\n", headers=[("Retry-After", "1")])
        if mode == "server-error":
            return self.answer(503, b"backend down\n")
        if mode == "garbage":
            return self.answer(200, b"this is *not* base64 at all\n", p7)
        try:
            csr = base64.b64decode(body)
        except Exception:
            return self.answer(400, b"bad base64\n")
        p7der = issue(csr)
        if mode == "truncated":
            return self.answer(200, base64.encodebytes(p7der[: len(p7der) // 2]), p7)
        if mode == "not-pkcs7":
            cert = run("openssl", "x509", "-in", os.path.join(pki, "ca.pem"), "-outform", "DER")
            return self.answer(200, base64.encodebytes(cert), p7)
        self.answer(200, base64.encodebytes(p7der), p7)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
srv = http.server.HTTPServer(("127.0.0.1", port), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
