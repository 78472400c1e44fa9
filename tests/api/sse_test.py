#!/usr/bin/python3
"""sse_test.py BUILD SRC: GET /v1/events (Server-Sent Events) of hsi-api.

The system comes up as for the contract test (contract_test.Env: private
PostgreSQL, scorer, alerter, two nodes delivering 2023 and 2024, hsi-api
with public_reads off and the alerter's address, tokens). Then:

- refusals: Accept without text/event-stream (406), a malformed
  Last-Event-ID or topics (400), no token (401); HEAD;
- more streams than hsi-api has HTTP threads (HSI_API_THREADS in api.h)
  stay open while plain GETs are answered quickly, and the idle server
  burns no CPU (a content reader that returned 0 without suspending would
  spin the threads);
- a file fed through the CDD node makes a province fire and another
  resolve: every stream gets the `score` and `alert` events, their data
  valid against the contract's schemas, ids s<seq>.a<seq> rising, topics
  filters honoured;
- a client that reconnects with its Last-Event-ID gets exactly what it
  missed (from the ring), one with s0.a0 everything from PostgreSQL in
  order, and one that missed more than 1000 gets `reset`;
- every idle stream gets a `: keep-alive` comment within 15 s and none
  is closed by the server's 30 s connection timeout;
- a second hsi-api, fed by a scripted alerter (a PUB socket through
  ctypes and libnng, AlertEvents encoded here), floods 2500 events at
  three readers and one client that stopped reading: the stalled one is
  dropped (and only it), the readers get every event in order; the
  stream limit answers 503 one past HSI_SSE_MAX_CLIENTS, and a slot
  frees once a closed stream is noticed; SIGTERM with suspended streams
  open exits cleanly.

No fixed ports. Exit status 0 when every check passed.
"""
import ctypes
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from contract_test import Env, Client, Spec, free_port, read, wait_for  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        if os.environ.get("HSI_TEST_VERBOSE"):
            print("ok   ", what, flush=True)
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


def header_int(path, name):
    with open(path, encoding="utf-8") as f:
        m = re.search(r"#define %s \(?(\d+)" % name, f.read())
    return int(m.group(1))


# ------------------------------------------------------------- SSE client

class Stream:
    """One GET /v1/events on a raw socket. The status line and headers are
    read at once; a thread then reads the body (chunked coding decoded
    here) into events and comments, unless read=False (a client that
    stopped reading; start() later)."""

    def __init__(self, base, target, headers=None, rcvbuf=None, read=True):
        host, port = base.split("//")[1].split(":")
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        lines = ["GET %s HTTP/1.1" % target, "Host: %s:%s" % (host, port)]
        lines += ["%s: %s" % kv for kv in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("no header from %s" % target)
            raw += chunk
        head, self.raw = raw.split(b"\r\n\r\n", 1)
        hl = head.decode("latin-1").split("\r\n")
        self.status = int(hl[0].split()[1])
        self.headers = {}
        for line in hl[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "")
        self.events, self.comments, self.fields = [], 0, []
        self.retry = None
        self.body = b""          # de-chunked, not yet parsed
        self.text = ""           # parsed lines pending
        self.ended = None        # None open, "clean" (last chunk), "cut"
        self.cv = threading.Condition()
        self.thread = None
        if read and self.status == 200:
            self.start()

    def start(self):
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self._feed(b"")
            while self.ended is None:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self._finish("cut")
                    return
                self._feed(chunk)
        except OSError:
            self._finish("cut")

    def _finish(self, how):
        with self.cv:
            if self.ended is None:
                self.ended = how
            self.cv.notify_all()

    def _feed(self, data):
        self.raw += data
        while self.chunked and b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                self._finish("clean")
                self.raw = b""
                break
            if len(rest) < size + 2:
                break
            self.body += rest[:size]
            self.raw = rest[size + 2:]
        if not self.chunked:
            self.body, self.raw = self.body + self.raw, b""
        with self.cv:
            self._parse()
            self.cv.notify_all()

    def _parse(self):
        self.text += self.body.decode("utf-8", "strict")
        self.body = b""
        while "\n" in self.text:
            line, self.text = self.text.split("\n", 1)
            if line == "":
                ev = {}
                for k, v in self.fields:
                    ev.setdefault(k, []).append(v)
                self.fields = []
                if "retry" in ev:
                    self.retry = ev["retry"][-1]
                if "data" in ev or "event" in ev:
                    self.events.append({"id": ev.get("id", [None])[-1],
                                        "event": ev.get("event", ["message"])[-1],
                                        "data": "\n".join(ev.get("data", []))})
            elif line.startswith(":"):
                self.comments += 1
            else:
                k, _, v = line.partition(":")
                self.fields.append((k, v[1:] if v.startswith(" ") else v))

    def wait(self, pred, timeout):
        """Waits until pred(self) holds (on the reader's notifications)."""
        end = time.time() + timeout
        with self.cv:
            while not pred(self):
                left = end - time.time()
                if left <= 0 or (self.ended and not pred(self)):
                    return pred(self)
                self.cv.wait(left)
            return True

    def named(self, name):
        with self.cv:
            return [e for e in self.events if e["event"] == name]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def parse_id(s):
    m = re.fullmatch(r"s([0-9]{1,19})\.a([0-9]{1,19})", s or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_events(spec, kinds, st, label):
    """Every event declared, valid, with a rising id whose component of its
    feed is the event's seq."""
    bad, prev = 0, (0, 0)
    for ev in list(st.events):
        pid = parse_id(ev["id"])
        if ev["event"] not in kinds or pid is None:
            bad += 1
            print("  %s: bad event %r" % (label, ev))
            continue
        try:
            data = json.loads(ev["data"])
        except ValueError:
            bad += 1
            continue
        errs = spec.errors(kinds[ev["event"]], data)
        if errs:
            bad += 1
            print("  %s: %s: %s" % (label, ev["event"], errs[:3]))
        if pid < prev or pid[0] < prev[0] or pid[1] < prev[1]:
            bad += 1
            print("  %s: id %s after %s" % (label, ev["id"], prev))
        if ev["event"] == "score" and pid[0] != data.get("seq"):
            bad += 1
        if ev["event"] == "alert" and pid[1] != data.get("seq"):
            bad += 1
        prev = pid
    return check(bad == 0, "%s: %d events, all valid with rising ids" % (label, len(st.events)))


def keys_of(st, names=("score", "alert")):
    return [(e["event"], json.loads(e["data"])["seq"]) for e in st.events if e["event"] in names]


# --------------------------------------------------- a scripted alerter

def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, value):
    if isinstance(value, float):
        return pb_varint(num << 3 | 1) + struct.pack("<d", value)
    if isinstance(value, int):
        return pb_varint(num << 3) + pb_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return pb_varint(num << 3 | 2) + pb_varint(len(data)) + data


def alert_message(seq, summary_en, summary_th):
    """topic "alert" + an Envelope holding an AlertEvent (proto/hsi.proto),
    as hsi-alerter's publish() sends it."""
    now = int(time.time() * 1000)
    ev = b"".join([pb_field(1, seq), pb_field(2, "%064x" % seq),
                   pb_field(3, "flood_test"), pb_field(4, "firing"),
                   pb_field(5, "10"), pb_field(6, "hsi"), pb_field(7, "2024"),
                   pb_field(8, 0.25), pb_field(9, 0.45), pb_field(10, summary_en),
                   pb_field(11, summary_th), pb_field(12, now)])
    env = b"".join([pb_field(1, 1), pb_field(2, "central"), pb_field(3, "alerter"),
                    pb_field(5, seq), pb_field(6, now), pb_field(8, 4), pb_field(9, ev)])
    return b"alert\n" + env


class FakeAlerter:
    """A PUB socket listening where hsi-api dials the alerter."""

    class Sock(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint32)]

    def __init__(self):
        lib = ctypes.CDLL("libnng.so.1")
        S = FakeAlerter.Sock
        lib.nng_pub0_open.argtypes = [ctypes.POINTER(S)]
        lib.nng_socket_set_int.argtypes = [S, ctypes.c_char_p, ctypes.c_int]
        lib.nng_listen.argtypes = [S, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        lib.nng_send.argtypes = [S, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.nng_close.argtypes = [S]
        self.lib, self.sock = lib, S()
        self.url = "tcp://127.0.0.1:%d" % free_port()
        if (lib.nng_pub0_open(ctypes.byref(self.sock)) != 0
                or lib.nng_socket_set_int(self.sock, b"send-buffer", 8192) != 0
                or lib.nng_listen(self.sock, self.url.encode(), None, 0) != 0):
            raise RuntimeError("cannot listen on " + self.url)

    def send(self, msg):
        buf = ctypes.create_string_buffer(msg, len(msg))
        return self.lib.nng_send(self.sock, buf, len(msg), 0)

    def close(self):
        self.lib.nng_close(self.sock)


# ---------------------------------------------------------------- scenes

def refusals(base, hdr):
    c = Client(base)
    r = c.request("GET", "/v1/events", dict(hdr, Accept="application/json"))
    check(r.status == 406 and r.media_type == "application/problem+json",
          "Accept: application/json: %d %s" % (r.status, r.media_type))
    r = c.request("GET", "/v1/events", dict(hdr, **{"Last-Event-ID": "42"}))
    check(r.status == 400 and r.parse_json() and r.json.get("parameter") == "Last-Event-ID",
          "a malformed Last-Event-ID: %d %s" % (r.status, r.body[:200]))
    r = c.request("GET", "/v1/events?topics=scores", hdr)
    check(r.status == 400 and r.parse_json() and r.json.get("parameter") == "topics",
          "topics=scores: %d %s" % (r.status, r.body[:200]))
    r = c.request("GET", "/v1/events", {"Accept": "text/event-stream"})
    check(r.status == 401, "no token with public_reads off: %d" % r.status)
    r = c.request("HEAD", "/v1/events", hdr)
    check(r.status == 200 and r.media_type == "text/event-stream" and r.body == b"",
          "HEAD: %d %s %r" % (r.status, r.media_type, r.body[:40]))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_pid(env):
    for p in env.procs:
        if p.args[0].endswith("hsi-api"):
            return p.pid
    return None


def arg_after(env, binary, flag):
    for p in env.procs:
        if p.args[0].endswith(binary) and flag in p.args:
            return p.args[p.args.index(flag) + 1]
    return None


def feed(env):
    """A second CDD file for 2024 through the same node: Bangkok (10) falls
    under the built-in 0.45 threshold, Narathiwat (96) rises above it."""
    rows = ["indicator,area,period,value,status,note"]
    for area, (h, liv, eco) in {"10": (5, 5, 10), "96": (95, 95, 0)}.items():
        rows.append("t_health,%s,2024,%d,A," % (area, h))
        rows.append("t_econ,%s,2024,%d,A," % (area, eco))
        for q in range(1, 5):
            rows.append("t_living,%s,2024Q%d,%d,A," % (area, q, liv))
    env.write("CDD/inbox/CDD-2.csv", "\n".join(rows) + "\n")
    r = subprocess.run([env.bin["hsi-ingest"], "--agency", "CDD", "--node-id", "CDD-n1",
                        "--key-file", os.path.join(env.tmp, "CDD.key"),
                        "--inbox", os.path.join(env.tmp, "CDD", "inbox"),
                        "--scorer-url", arg_after(env, "hsi-scorer", "--ingest-listen"),
                        "--events-url", arg_after(env, "hsi-scorer", "--events-listen"),
                        "--once", "true"], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "the CDD node delivered the second file: %s" % r.stderr[-300:])


def live(env, spec, kinds, base, hdr, threads):
    n = 20
    check(n > threads, "%d streams > %d HTTP threads" % (n, threads))
    # The first stream reads everything so far from PostgreSQL; its last
    # id is "now" for the reconnect below.
    first = Stream(base, "/v1/events", dict(hdr, **{"Last-Event-ID": "s0.a0"}))
    want = int(env.psql("SELECT count(*) FROM score_event")) + int(env.psql(
        "SELECT count(*) FROM alert_event WHERE state IN ('firing', 'resolved')"))
    first.wait(lambda s: len(s.events) >= want, 10)
    check(len(first.events) == want and want > 0,
          "s0.a0: %d events replayed from PostgreSQL, %d there" % (len(first.events), want))
    check_events(spec, kinds, first, "s0.a0 replay")
    saved = first.events[-1]["id"] if first.events else "s0.a0"
    first.close()

    streams = [Stream(base, "/v1/events", hdr) for _ in range(n)]
    only_score = Stream(base, "/v1/events?topics=score", hdr)
    only_alert = Stream(base, "/v1/events?topics=alert", hdr)
    opened_at = time.time()
    opened = streams + [only_score, only_alert]
    check(all(s.status == 200 and s.headers.get("content-type") == "text/event-stream"
              and s.headers.get("cache-control") == "no-store" for s in opened),
          "%d streams open: %s" % (len(opened), sorted({s.status for s in opened})))
    check(all(s.wait(lambda x: x.retry == "5000", 5) for s in opened),
          "every stream starts at once with retry: 5000")

    # Plain requests while every HTTP thread's worth of streams is open.
    c = Client(base)
    slow = []
    auth = {"Authorization": hdr["Authorization"]}
    for path in ("/healthz", "/v1/index?period=2024", "/readyz") * 4:
        t0 = time.time()
        r = c.request("GET", path, auth)
        dt = time.time() - t0
        if r.status != 200 or dt > 2:
            slow.append((path, r.status, round(dt, 2)))
    check(not slow, "GETs with %d streams open: all 200 within 2 s %s" % (len(opened), slow))
    pid = api_pid(env)
    c0 = cpu_seconds(pid)
    threading.Event().wait(3)
    used = cpu_seconds(pid) - c0
    check(used < 0.5, "idle with %d streams: %.2f s of CPU in 3 s (no busy polling)"
          % (len(opened), used))

    feed(env)

    def got_all(s):
        alerts = [json.loads(e["data"]) for e in s.events if e["event"] == "alert"]
        return (any(e["event"] == "score" for e in s.events)
                and any(a["area"] == "10" and a["state"] == "firing" for a in alerts)
                and any(a["area"] == "96" and a["state"] == "resolved" for a in alerts))
    ok = [s.wait(got_all, 60) for s in streams]
    check(all(ok), "every stream got score, alert firing (10) and alert resolved (96): %d/%d"
          % (sum(ok), len(ok)))
    # What PostgreSQL holds after the position saved before the file.
    s0, a0 = parse_id(saved)
    new = [("score", int(x)) for x in env.psql(
        "SELECT seq FROM score_event WHERE seq > %d" % s0).split()]
    new += [("alert", int(x)) for x in env.psql(
        "SELECT seq FROM alert_event WHERE seq > %d AND state IN ('firing', 'resolved')"
        % a0).split()]
    for s in streams:
        s.wait(lambda x: len(x.events) >= len(new), 10)
    for i, s in enumerate(streams):
        check_events(spec, kinds, s, "stream %d" % i)
    ref = keys_of(streams[0])
    check(sorted(ref) == sorted(new), "the streams got what was committed: %s, want %s"
          % (ref, new))
    check(all(keys_of(s) == ref for s in streams), "all streams got the same events in order")
    check_events(spec, kinds, only_score, "topics=score")
    check_events(spec, kinds, only_alert, "topics=alert")
    check(only_score.wait(lambda s: len(s.events) > 0, 10)
          and {e["event"] for e in only_score.events} == {"score"},
          "topics=score: only score events %s" % {e["event"] for e in only_score.events})
    check(only_alert.wait(lambda s: len(s.events) > 0, 10)
          and {e["event"] for e in only_alert.events} == {"alert"},
          "topics=alert: only alert events %s" % {e["event"] for e in only_alert.events})

    # The client that left before the file comes back with its id.
    back = Stream(base, "/v1/events", dict(hdr, **{"Last-Event-ID": saved}))
    back.wait(lambda s: len(s.events) >= len(ref), 10)
    check(keys_of(back) == ref, "Last-Event-ID %s: the %d missed events, in order (got %s, want %s)"
          % (saved, len(ref), keys_of(back), ref))
    check_events(spec, kinds, back, "reconnect")
    back.close()
    # Everything, from PostgreSQL again, ids in order.
    again = Stream(base, "/v1/events", dict(hdr, **{"Last-Event-ID": "s0.a0"}))
    want = int(env.psql("SELECT count(*) FROM score_event")) + int(env.psql(
        "SELECT count(*) FROM alert_event WHERE state IN ('firing', 'resolved')"))
    again.wait(lambda s: len(s.events) >= want, 10)
    check(len(again.events) == want and keys_of(again)[-len(ref):] == ref,
          "s0.a0 after the file: %d events, %d there" % (len(again.events), want))
    again.close()
    return opened, opened_at


def heartbeats(opened, opened_at):
    ok = [s.wait(lambda x: x.comments >= 1, 20) for s in opened]
    check(all(ok), "a keep-alive comment on every idle stream: %d/%d" % (sum(ok), len(ok)))
    # Past the server's 30 s connection timeout, the streams stay open.
    for s in opened:
        s.wait(lambda x: x.ended is not None, max(0.0, opened_at + 35 - time.time()))
    check(all(s.ended is None for s in opened),
          "no stream closed by the server after %.0f s: %s"
          % (time.time() - opened_at, [s.ended for s in opened if s.ended]))


def reset(env, spec, kinds, base, hdr):
    env.psql("INSERT INTO score_event (seq, methodology, period, areas) "
             "SELECT nextval('score_seq'), 1, '2024', '{10}' FROM generate_series(1, 1001)")
    st = Stream(base, "/v1/events", dict(hdr, **{"Last-Event-ID": "s0.a0"}))
    st.wait(lambda s: len(s.events) >= 1, 10)
    top = (int(env.psql("SELECT max(seq) FROM score_event")),
           int(env.psql("SELECT max(seq) FROM alert_event")))
    check(st.events and st.events[0]["event"] == "reset" and st.events[0]["data"] == "{}"
          and parse_id(st.events[0]["id"]) == top,
          "1001+ missed: reset first, with id s%d.a%d (%s)" % (top + (st.events[:1],)))
    check_events(spec, kinds, st, "reset")
    st.close()


# ------------------------------------------------- flood on a second api

def second_api(env, fake, tag):
    log = os.path.join(env.tmp, "hsi-api-%s.log" % tag)
    p = subprocess.Popen([env.bin["hsi-api"], "--db-url", env.url, "--listen", "127.0.0.1:0",
                          "--events-url", arg_after(env, "hsi-scorer", "--events-listen"),
                          "--alerts-url", fake.url, "--rate-limit", "0"],
                         stdout=open(log, "a"), stderr=subprocess.STDOUT)

    def url():
        for line in read(log).splitlines():
            if '"msg":"listening"' in line:
                return json.loads(line)["url"]
        return None
    return p, log, wait_for(url, 30, "second hsi-api listening")


def flood(env, spec, kinds, max_clients):
    fake = FakeAlerter()
    p, log, base = second_api(env, fake, "flood")
    try:
        readers = [Stream(base, "/v1/events?topics=alert") for _ in range(3)]
        stalled = Stream(base, "/v1/events?topics=alert", rcvbuf=4096, read=False)
        check(stalled.status == 200 and all(r.status == 200 for r in readers),
              "public_reads: streams need no token (what EventSource can do)")
        # PUB drops before the pipe is up: probe until a reader hears.
        seq = 1000000
        for _ in range(100):
            seq += 1
            fake.send(alert_message(seq, "probe", "ทดสอบ"))
            if readers[0].wait(lambda s: len(s.events) > 0, 0.2):
                break
        first = seq + 1
        en, th = "Province 10: composite low. " * 25, "ดัชนีต่ำ " * 30
        total = 2500  # ~4 MB at ~0.8 MB/s: well past the stalled one's budget
        for i in range(total):
            seq += 1
            fake.send(alert_message(seq, en, th))
            if i % 5 == 4:
                threading.Event().wait(0.01)
        last = seq
        got = [r.wait(lambda s: s.events and json.loads(s.events[-1]["data"])["seq"] == last, 60)
               for r in readers]
        check(all(got), "readers got the last of %d flood events: %d/3" % (total, sum(got)))
        for i, r in enumerate(readers):
            seqs = [json.loads(e["data"])["seq"] for e in r.events]
            flood_seqs = [s for s in seqs if s >= first]
            check(flood_seqs == list(range(first, last + 1)),
                  "reader %d: all %d flood events, in order (%d)" % (i, total, len(flood_seqs)))
        check_events(spec, kinds, readers[0], "flood reader")
        wait_for(lambda: "event stream dropped" in read(log), 20, "the stalled stream dropped")
        drops = read(log).count('"msg":"event stream dropped"')
        check(drops == 1, "exactly one stream dropped (the stalled one): %d" % drops)
        stalled.start()
        stalled.wait(lambda s: s.ended is not None, 30)
        n = sum(1 for e in stalled.events if e["event"] == "alert")
        check(stalled.ended == "cut" and n < total,
              "the stalled client's stream was cut (%s) after %d of %d events"
              % (stalled.ended, n, total))
        limit(base, fake, max_clients, readers)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = "hung"
        check(rc == 0, "SIGTERM with suspended streams open: exit %s" % rc)
        check(all(r.wait(lambda s: s.ended is not None, 10) for r in readers),
              "streams ended by the shutdown: %s" % [r.ended for r in readers])
    finally:
        if p.poll() is None:
            p.kill()
        fake.close()
        if failed:
            print("---- %s (tail)\n%s" % (os.path.basename(log), read(log)[-2000:]))


def limit(base, fake, max_clients, readers):
    extra = []
    try:
        while len(extra) + len(readers) < max_clients:
            extra.append(Stream(base, "/v1/events", read=False))
        check(all(s.status == 200 for s in extra), "%d streams open" % max_clients)
        over = Client(base).request("GET", "/v1/events", {"Accept": "text/event-stream"})
        check(over.status == 503 and over.media_type == "application/problem+json"
              and over.header("retry-after"),
              "stream %d: 503 with Retry-After (%d %s)" % (max_clients + 1, over.status, over.body[:120]))
        # A closed, suspended stream is noticed on the next write.
        extra.pop().close()
        fake.send(alert_message(5000000, "wake", "ปลุก"))

        def opens():
            s = Stream(base, "/v1/events", read=False)
            if s.status == 200:
                extra.append(s)
                return True
            s.close()
            return False
        try:
            wait_for(opens, 20, "a free slot")
            check(True, "a slot freed once the closed stream was written to")
        except RuntimeError:
            check(False, "no slot freed after a stream was closed")
    finally:
        for s in extra:
            s.close()


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    build, src = sys.argv[1], sys.argv[2]
    threads = header_int(os.path.join(src, "services", "api", "api.h"), "HSI_API_THREADS")
    max_clients = header_int(os.path.join(src, "services", "api", "sse.h"), "HSI_SSE_MAX_CLIENTS")
    spec = Spec(os.path.join(src, "openapi.yaml"))
    kinds = spec.doc["paths"]["/v1/events"]["get"]["x-hsi-sse-events"]
    env = Env(build, src)
    try:
        base, tokens = env.up()
        hdr = {"Authorization": "Bearer " + tokens["viewer"], "Accept": "text/event-stream"}
        refusals(base, hdr)
        opened, opened_at = live(env, spec, kinds, base, hdr, threads)
        heartbeats(opened, opened_at)
        for s in opened:
            s.close()
        flood(env, spec, kinds, max_clients)
        reset(env, spec, kinds, base, hdr)
    except Exception as e:  # a set-up failure is a failure, with logs
        check(False, "%s: %s" % (type(e).__name__, e))
    finally:
        env.down(failed > 0, False)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
