#!/usr/bin/python3
# An independent HTTPS ingest endpoint for the uplink tests (Python standard library only):
# TLS with client-certificate verification, HTTP/1.1 keep-alive. Every POST to any path but
# /_ctl is appended to LOG as one JSON line {"key", "ct", "ce", "records", "status", "body"
# (base64), "t"} and flushed *before* the response is written (so a receiver killed after logging
# and before answering shows the case of a lost acknowledgement).
# Faults, queued through GET /_ctl?... and applied to the next POSTs in order:
#   fail=STATUS&count=N[&retry_after=S | &retry_after_date=S]   answer STATUS (N times)
#   stall=S[&count=N]                                           sleep S seconds, then answer 200
#   reset=1                                                     clear the queue
#   receiver.py PORT CERT KEY CA LOG
# SPDX-License-Identifier: Apache-2.0
import base64, email.utils, http.server, json, os, ssl, sys, threading, time, urllib.parse

port, cert, key, ca, logpath = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
lock = threading.Lock()
faults = []
logfd = os.open(logpath, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    disable_nagle_algorithm = True  # the response goes out in two writes: no Nagle + delayed ACK stall

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, extra=None, body=b''):
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != '/_ctl':
            return self.reply(404)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        with lock:
            if 'reset' in q:
                faults.clear()
            n = int(q.get('count', '1'))
            for _ in range(n):
                if 'fail' in q:
                    faults.append({'status': int(q['fail']), 'retry_after': q.get('retry_after'),
                                   'retry_after_date': q.get('retry_after_date')})
                elif 'stall' in q:
                    faults.append({'stall': float(q['stall'])})
        self.reply(200, body=b'ok')

    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n)
        with lock:
            f = faults.pop(0) if faults else None
        status, extra = 200, {}
        if f and 'status' in f:
            status = f['status']
            if f.get('retry_after') is not None:
                extra['Retry-After'] = f['retry_after']
            if f.get('retry_after_date') is not None:
                extra['Retry-After'] = email.utils.formatdate(time.time() + float(f['retry_after_date']),
                                                              usegmt=True)
        rec = {'t': time.time(), 'path': self.path, 'key': self.headers.get('Idempotency-Key'),
               'ct': self.headers.get('Content-Type'), 'ce': self.headers.get('Content-Encoding'),
               'records': self.headers.get('X-Tagwire-Records'), 'status': status,
               'body': base64.b64encode(body).decode()}
        with lock:
            os.write(logfd, (json.dumps(rec) + '\n').encode())  # one write: a kill cannot tear it
        if f and 'stall' in f:
            time.sleep(f['stall'])
        self.reply(status, extra, b'{"ok":true}' if status < 300 else b'{"error":"scripted"}')


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv = Server(('127.0.0.1', port), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
