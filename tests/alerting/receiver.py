#!/usr/bin/python3
"""A webhook receiver as a real operator would write one, for the
alerting tests (and a model for docs/alerting.md).

It verifies X-HSI-Signature (HMAC-SHA256 of the raw body under the shared
secret) before anything else, then applies each notification at most once,
keyed by X-HSI-Notification-Id: a repeat is answered 200 and counted, not
applied. Every outcome is appended to EVENTS (one JSON object a line) so
the test can read what happened even after killing the sender.

usage: receiver.py SECRET_FILE EVENTS PORT_FILE [--delay-ms N]
                   [--fail-first N]
  --delay-ms N    wait N ms before applying and answering (a slow receiver,
                  so that requests are in flight when the sender dies)
  --fail-first N  answer 500 to the first N valid requests
"""
import hashlib
import hmac
import http.server
import json
import os
import sys
import time

MAX_BODY = 1 << 20


def main():
    secret_file, events, port_file = sys.argv[1:4]
    opts = sys.argv[4:]
    delay = int(opts[opts.index("--delay-ms") + 1]) / 1000 if "--delay-ms" in opts else 0
    fail = [int(opts[opts.index("--fail-first") + 1]) if "--fail-first" in opts else 0]
    with open(secret_file, "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    applied = set()
    # Ids applied by an earlier run of this receiver survive its restart.
    if os.path.exists(events):
        for line in open(events, encoding="utf-8"):
            e = json.loads(line)
            if e["kind"] == "applied":
                applied.add(e["id"])
    log = open(events, "a", encoding="utf-8")

    def record(**e):
        e["t"] = time.time()
        log.write(json.dumps(e, ensure_ascii=False) + "\n")
        log.flush()
        os.fsync(log.fileno())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            if n > MAX_BODY:
                return self.answer(413)
            body = self.rfile.read(n)
            nid = self.headers.get("X-HSI-Notification-Id", "")
            sig = self.headers.get("X-HSI-Signature", "")
            want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(sig, want):
                record(kind="bad_signature", id=nid)
                return self.answer(401)
            if fail[0] > 0:
                fail[0] -= 1
                record(kind="failed_500", id=nid)
                return self.answer(500)
            record(kind="received", id=nid)
            time.sleep(delay)
            if nid in applied:
                record(kind="repeat", id=nid)
            else:
                applied.add(nid)
                record(kind="applied", id=nid, body=json.loads(body))
            self.answer(200)

        def answer(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
