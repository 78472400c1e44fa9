#!/usr/bin/python3
"""Fault injection: the real scorer and ingest nodes over a private
PostgreSQL cluster and real nng sockets, with processes killed, PostgreSQL
stopped, the link cut, outboxes deleted and a hostile peer on the wire.

    fault_test.py SCENARIO BUILD_DIR SOURCE_DIR

One scenario per run (ctest runs them in parallel): each has its own temp
folder, its own cluster (scripts/pg.sh) and kernel-chosen ports. Data is
generated deterministically (random.Random(seed)); at the end PostgreSQL
must hold exactly what was submitted: row by row, per-agency counts and
checksums computed both here and in SQL, one revision per key (nothing
applied twice), one verdict per file, every file in done/ with a report
whose central.imported equals its rows. Every wait polls a condition
against a deadline. See tests/fault/README.md for what each scenario
proves. The last line is "N passed, M failed"; the exit status is 1 on
any failure.

Environment: HSI_HOSTILE_PEER (path of hostile_peer; default: searched in
BUILD_DIR), HSI_FAULT_KEEP=1 keeps the temp folder, HSI_FAULT_SEED
overrides the scenario's seed.
"""
import csv
import hashlib
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

SCENARIOS = ("parallel23", "kill_scorer", "pg_outage", "link_cut",
             "kill_node", "hostile", "reinstall")
SEEDS = {s: 1000 + i for i, s in enumerate(SCENARIOS)}
YEARS = range(2017, 2026)
NOTES = ("ข้อมูลจาก สสจ., ปรับปรุง", 'say "hi", twice', "back\\slash",
         "ประมาณการ")
SCENARIO_BUDGET_S = 170  # ctest TIMEOUT is above this


class Fail(Exception):
    """A condition that makes the rest of the scenario meaningless."""


# ---- small helpers -----------------------------------------------------

T0 = time.time()


def say(*args):
    print("[%6.1fs]" % (time.time() - T0), *args, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def tail(path, n=12):
    lines = read_text(path).splitlines()
    return "\n".join("    | " + l[:400] for l in lines[-n:])


def stacks(pid):
    """Condensed thread stacks of a live process (gdb), for a hang."""
    if not shutil.which("gdb"):
        return "    (no gdb for stacks)"
    try:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx", "-ex",
                            "thread apply all bt"], capture_output=True,
                           text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return "    (gdb timed out)"
    threads = []
    for l in r.stdout.splitlines():
        if l.startswith("Thread "):
            threads.append(["    " + l[:110]])
        elif threads and l.startswith("#"):
            fn = l.split(" in ", 1)[-1] if " in " in l else l[4:]
            if len(threads[-1]) <= 12:
                threads[-1].append("      " + fn[:140])
    # The main thread (gdb lists it last) first; nng's own idle threads
    # (nothing but libnng/libc frames) are only counted.
    threads.reverse()
    out, idle = [], 0
    for th in threads:
        if th is not threads[0] and not any(
                "/work/" in f or ".c:" in f and "nptl" not in f and
                "sysdeps" not in f for f in th[1:]):
            idle += 1
            continue
        out += th
    out.append("    (+%d nng/libc-only threads)" % idle)
    return "\n".join(out) if threads else \
        "    (no stacks: %s)" % r.stderr[-200:]


def visible(d):
    try:
        return sorted(n for n in os.listdir(d) if not n.startswith("."))
    except FileNotFoundError:
        return []


def periods(freq):
    if freq == "annual":
        return [str(y) for y in YEARS]
    if freq == "fiscal":
        return ["FY%d" % y for y in YEARS]
    if freq == "quarterly":
        return ["%dQ%d" % (y, q) for y in YEARS for q in range(1, 5)]
    if freq == "fquarterly":
        return ["FY%dQ%d" % (y, q) for y in YEARS for q in range(1, 5)]
    if freq == "monthly":
        return ["%d-%02d" % (y, m) for y in YEARS for m in range(1, 13)]
    return []


# ---- the test context ----------------------------------------------------

class Test:
    def __init__(self, scenario, build, src):
        self.scenario, self.build, self.src = scenario, build, src
        self.bin = {n: os.path.join(build, "services", d, n) for d, n in [
            ("scorer", "hsi-scorer"), ("ingest", "hsi-ingest"),
            ("hsictl", "hsictl")]}
        self.tmp = tempfile.mkdtemp(prefix="hsi-fault-%s-" % scenario)
        os.chmod(self.tmp, 0o755)
        self.pg_dir = os.path.join(self.tmp, "pg")
        self.pg_sh = os.path.join(src, "scripts", "pg.sh")
        self.url = None
        self.passed = self.failed = 0
        self.procs = []
        self.logs = []
        self.notes = []
        self.deadline = time.time() + SCENARIO_BUDGET_S
        self.scorer = None

    # -- bookkeeping
    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)
        return cond

    def note(self, text):
        self.notes.append(text)
        say("NOTE:", text)

    def left(self, want):
        """Seconds to wait: want, cut to what the scenario budget allows."""
        return max(1.0, min(want, self.deadline - time.time()))

    def wait_for(self, pred, timeout, what, logs=()):
        end = time.time() + self.left(timeout)
        while True:
            v = pred()
            if v:
                return v
            if time.time() >= end:
                break
            time.sleep(0.05)
        msg = "timed out after %.0fs waiting for %s" % (timeout, what)
        for p in logs:
            msg += "\n  %s:\n%s" % (p, tail(p))
        raise Fail(msg)

    def popen(self, args, log):
        f = open(log, "a")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        f.close()
        p.log = log
        self.procs.append(p)
        if log not in self.logs:
            self.logs.append(log)
        return p

    # -- PostgreSQL
    def pg(self, cmd):
        r = subprocess.run(["bash", self.pg_sh, cmd, self.pg_dir],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise Fail("pg.sh %s failed: %s" % (cmd, r.stderr[-800:]))
        return r.stdout.strip()

    def psql(self, sql, url=None):
        r = subprocess.run(["psql", url or self.url, "-X", "-q", "-At",
                            "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                            "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("psql failed: %s\n  %s" % (sql[:200],
                                                 r.stderr.strip()[-500:]))
        return [l.split("\x1f") for l in r.stdout.split("\n") if l != ""]

    def scalar(self, sql):
        rows = self.psql(sql)
        return rows[0][0] if rows else None

    # -- keys
    def key(self, agency, name=None):
        path = os.path.join(self.tmp, "keys", (name or agency) + ".key")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        r = subprocess.run([self.bin["hsictl"], "key", "rotate", agency,
                            "--db-url", self.url, "--out", path],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("hsictl key rotate %s: %s" % (agency, r.stderr))
        return path

    def setup(self):
        self.url = self.pg("start")
        self.scorer = Scorer(self)
        self.scorer.start()

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            self.pg("destroy")
        except Fail as e:
            print("warning:", e)

    def scan_logs(self):
        """Sanitizer reports anywhere are failures."""
        bad = []
        for p in self.logs:
            for line in read_text(p).splitlines():
                if ("AddressSanitizer" in line or "LeakSanitizer" in line
                        or "runtime error:" in line):
                    bad.append("%s: %s" % (os.path.basename(p), line[:300]))
        self.check(not bad, "sanitizer reports in logs:\n  " +
                   "\n  ".join(bad[:20]))

    def diag(self):
        """Warnings and errors of every log, for a failed run."""
        for p in self.logs:
            lines = [l for l in read_text(p).splitlines()
                     if '"level":"info"' not in l]
            if lines:
                print("  --- %s (non-info lines, last 8 of %d)" %
                      (os.path.relpath(p, self.tmp), len(lines)))
                for l in lines[-8:]:
                    print("    | " + l[:400])


class Scorer:
    """hsi-scorer on fixed (kernel-chosen) ports, restartable."""

    def __init__(self, t):
        self.t = t
        self.ingest = "tcp://127.0.0.1:%d" % free_port()
        self.events = "tcp://127.0.0.1:%d" % free_port()
        self.n = 0
        self.p = None

    def start(self):
        t = self.t
        for attempt in range(40):
            self.n += 1
            log = os.path.join(t.tmp, "scorer.%d.log" % self.n)
            self.p = t.popen([t.bin["hsi-scorer"], "--db-url", t.url,
                              "--ingest-listen", self.ingest,
                              "--events-listen", self.events], log)

            def ready():
                if '"msg":"ready"' in read_text(log):
                    return "ready"
                if self.p.poll() is not None:
                    return "exited"
                return None
            st = t.wait_for(ready, 60, "scorer ready", [log])
            if st == "ready":
                return
            # A port still held (e.g. just after a kill): try again.
            if "cannot listen" in read_text(log) and attempt < 39:
                time.sleep(0.25)
                continue
            raise Fail("scorer exited %s at start:\n%s" %
                       (self.p.returncode, tail(log)))
        raise Fail("scorer could not bind its ports again")

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def kill(self, sig=signal.SIGKILL, timeout=20):
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            st = stacks(self.p.pid)
            self.p.kill()
            self.p.wait()
            raise Fail("scorer did not stop within %ds of signal %d:\n%s\n"
                       "  stacks:\n%s" % (timeout, sig, tail(self.p.log), st))

    def log(self):
        return self.p.log


class Node:
    """One hsi-ingest node with its folders, files and outbox."""

    def __init__(self, t, agency, node_id, key, part_rows=200):
        self.t, self.agency, self.node_id, self.key = t, agency, node_id, key
        self.part_rows = part_rows
        self.dir = os.path.join(t.tmp, "nodes", node_id)
        self.inbox = os.path.join(self.dir, "inbox")
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.inbox, exist_ok=True)
        self.files = {}  # name -> rows
        self.n = 0
        self.p = None

    def add_file(self, name, rows):
        tmp = os.path.join(self.inbox, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["indicator", "area", "period", "value", "status",
                        "note"])
            for (ind, area, per, val, st, note) in rows:
                w.writerow([ind, area, per, "%.2f" % val, st, note])
        os.rename(tmp, os.path.join(self.inbox, name))
        self.files[name] = rows

    def parts(self):
        return sum(math.ceil(len(r) / self.part_rows)
                   for r in self.files.values())

    def start(self, once=True, events=None):
        t = self.t
        self.n += 1
        log = os.path.join(t.tmp, "nodes", "%s.%d.log" % (self.node_id,
                                                          self.n))
        args = [t.bin["hsi-ingest"], "run", "--agency", self.agency,
                "--node-id", self.node_id, "--key-file", self.key,
                "--inbox", self.inbox, "--state-dir", self.state,
                "--scorer-url", t.scorer.ingest,
                "--events-url", events or t.scorer.events,
                "--part-rows", str(self.part_rows)]
        if once:
            args += ["--once", "true"]
        self.p = t.popen(args, log)
        return self.p

    def log(self):
        return self.p.log

    def kill(self, sig=signal.SIGKILL, timeout=20):
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            st = stacks(self.p.pid)
            self.p.kill()
            self.p.wait()
            raise Fail("%s did not stop within %ds of signal %d:\n%s\n"
                       "  stacks:\n%s" % (self.node_id, timeout, sig,
                                           tail(self.p.log), st))

    def outbox(self):
        """The outbox read directly (fast, read-only); None if absent."""
        path = os.path.join(self.state, "outbox.db")
        if not os.path.exists(path):
            return None
        try:
            con = sqlite3.connect("file:%s?mode=ro" % path, uri=True,
                                  timeout=2)
            try:
                meta = dict(con.execute(
                    "SELECT k, v FROM meta WHERE k IN "
                    "('epoch', 'next_seq', 'acked_seq')").fetchall())
                files = con.execute(
                    "SELECT id, name, state, rows, first_seq, last_seq "
                    "FROM file ORDER BY first_seq").fetchall()
                parts = con.execute("SELECT count(*) FROM part").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        if "epoch" not in meta:
            return None
        return {"epoch": int(meta["epoch"]),
                "next_seq": int(meta["next_seq"]),
                "acked_seq": int(meta["acked_seq"]),
                "files": files, "pending_parts": parts[0]}

    def status(self):
        r = subprocess.run([self.t.bin["hsi-ingest"], "status", "--agency",
                            self.agency, "--node-id", self.node_id,
                            "--inbox", self.inbox, "--state-dir",
                            self.state, "--json"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Fail("hsi-ingest status %s: %s" % (self.node_id, r.stderr))
        return json.loads(r.stdout)


# ---- data ------------------------------------------------------------------

class Data:
    """Deterministic observations; every key is used once unless asked."""

    def __init__(self, src, seed):
        self.rng = random.Random(seed)
        self.inds = {}
        with open(os.path.join(src, "common/data/indicators.csv"),
                  encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if periods(r["frequency"]):
                    self.inds.setdefault(r["agency"], []).append(
                        (r["code"], r["frequency"], float(r["hard_min"]),
                         float(r["hard_max"])))
        with open(os.path.join(src, "common/data/provinces.csv"),
                  encoding="utf-8") as f:
            self.areas = [r["code"] for r in csv.DictReader(f)]
        self.used = set()
        self.expected = {}  # (ind, area, period) -> (agency, v, st, note)

    def agencies(self):
        return sorted(self.inds)

    def rows(self, agency, n):
        universe = [(c, a, p, lo, hi) for (c, fq, lo, hi) in self.inds[agency]
                    for a in self.areas for p in periods(fq)
                    if (c, a, p) not in self.used]
        picks = self.rng.sample(universe, min(n, len(universe)))
        out = []
        for (c, a, p, lo, hi) in picks:
            v = float("%.2f" % self.rng.uniform(lo, min(hi, lo + 100000)))
            v = min(max(v, lo), hi)
            st = self.rng.choice("AAAAAEP")
            note = self.rng.choice(NOTES) if self.rng.random() < 0.05 else ""
            self.used.add((c, a, p))
            self.expected[(c, a, p)] = (agency, v, st, note)
            out.append((c, a, p, v, st, note))
        return out

    def split(self, rows, k):
        cuts = sorted(self.rng.sample(range(1, len(rows)), k - 1))
        return [rows[i:j] for i, j in zip([0] + cuts, cuts + [len(rows)])]


# ---- verification ----------------------------------------------------------

def line_of(key, v):
    return "%s|%s|%s|%.2f" % (key[0], key[1], key[2], v[1])


def verify(t, data, nodes, revisions=None, extra_verdicts=(),
           quarantine_ok=False, epochs=None, resubmitted=None):
    """PostgreSQL, the nodes' folders and outboxes against what was sent.

    revisions: expected count of observation_revision rows (default: one
    per expected key). extra_verdicts: node ids whose ingest_file rows are
    checked elsewhere. epochs: node_id -> expected number of epochs
    (default 1). resubmitted: {(node_id, name): rows} files sent twice,
    whose last verdict must count every row as ignored."""
    exp = data.expected
    resubmitted = resubmitted or {}
    say("verifying %d observations from %d nodes" % (len(exp), len(nodes)))
    got = {}
    for ag, ind, area, per, val, st, note in t.psql(
            "SELECT agency, indicator, area, period, value::text, status, "
            "coalesce(note, '') FROM observation"):
        got[(ind, area, per)] = (ag, float(val) if val else None, st, note)
    lost = sorted(set(exp) - set(got))
    extra = sorted(set(got) - set(exp))
    wrong = sorted(k for k in set(exp) & set(got) if exp[k] != got[k])
    t.check(not lost, "%d submitted rows missing in observation, e.g. %s"
            % (len(lost), lost[:5]))
    t.check(not extra, "%d rows in observation never submitted, e.g. %s"
            % (len(extra), [(k, got[k]) for k in extra[:5]]))
    t.check(not wrong, "%d rows differ, e.g. %s" % (
        len(wrong), [(k, exp[k], got[k]) for k in wrong[:5]]))

    # Per agency: count, checksum of cents, md5 of the sorted lines --
    # computed here and by PostgreSQL.
    mine = {}
    for k, v in exp.items():
        m = mine.setdefault(v[0], [0, 0, []])
        m[0] += 1
        m[1] += round(v[1] * 100)
        m[2].append(line_of(k, v))
    sql = {}
    for ag, n, cents, md5 in t.psql(
            "SELECT agency, count(*), sum(round(value * 100)::bigint), "
            "md5(string_agg(indicator || '|' || area || '|' || period || "
            "'|' || round(value::numeric, 2)::text, E'\\n' ORDER BY "
            "indicator || '|' || area || '|' || period || '|' || "
            "round(value::numeric, 2)::text COLLATE \"C\")) "
            "FROM observation GROUP BY agency"):
        sql[ag] = (int(n), int(cents), md5)
    for ag in sorted(set(mine) | set(sql)):
        n, cents, lines = mine.get(ag, (0, 0, []))
        md5 = hashlib.md5("\n".join(sorted(lines)).encode()).hexdigest() \
            if lines else None
        t.check(sql.get(ag) == (n, cents, md5),
                "agency %s: submitted count/cents/md5 %s, PostgreSQL has %s"
                % (ag, (n, cents, md5), sql.get(ag)))

    # Nothing applied twice.
    nrev = int(t.scalar("SELECT count(*) FROM observation_revision"))
    want = len(exp) if revisions is None else revisions
    t.check(nrev == want, "observation_revision has %d rows, expected %d "
            "(one per submitted key)" % (nrev, want))
    dups = t.psql("SELECT indicator, area, period, count(*) FROM "
                  "observation_revision GROUP BY 1, 2, 3 HAVING count(*) > 1 "
                  "ORDER BY 4 DESC LIMIT 5")
    t.check(not dups, "keys revised more than once (applied twice): %s" % dups)
    staged = t.psql("SELECT node_id, file_id, count(*) FROM ingest_part "
                    "GROUP BY 1, 2")
    t.check(not staged, "parts left staged in ingest_part: %s" % staged)
    if not quarantine_ok:
        q = t.psql("SELECT reason, agency, node_id, seq FROM quarantine "
                   "LIMIT 5")
        t.check(not q, "quarantine not empty: %s" % q)

    verdicts = {}
    for node, ep, name, st, imp, upd, ign, rej in t.psql(
            "SELECT node_id, epoch, file_name, state, imported, updated, "
            "ignored, rejected FROM ingest_file ORDER BY applied_at"):
        verdicts.setdefault((node, name), []).append(
            (st, int(imp), int(upd), int(ign), int(rej)))
    known = set()
    for nd in nodes:
        for name, rows in nd.files.items():
            known.add((nd.node_id, name))
            vs = verdicts.get((nd.node_id, name), [])
            if (nd.node_id, name) in resubmitted:
                ok = len(vs) == 2 and vs[0] == ("applied", len(rows), 0, 0, 0) \
                    and vs[1] == ("applied", 0, 0, len(rows), 0)
                t.check(ok, "%s %s sent twice: verdicts %s, expected one "
                        "import of %d rows then %d ignored" %
                        (nd.node_id, name, vs, len(rows), len(rows)))
            else:
                t.check(vs == [("applied", len(rows), 0, 0, 0)],
                        "%s %s: ingest_file verdicts %s, expected one "
                        "applied with %d imported" % (nd.node_id, name, vs,
                                                      len(rows)))
    other = sorted(k for k in verdicts if k not in known and
                   k[0] not in extra_verdicts)
    t.check(not other, "verdicts for files never submitted: %s" % other[:5])

    # The nodes: folders, reports, outboxes, progress.
    progress = {}
    for ag, node, ep, last in t.psql(
            "SELECT agency, node_id, epoch, last_seq FROM node_progress"):
        progress.setdefault(node, {})[int(ep)] = int(last)
    for nd in nodes:
        done = os.path.join(nd.dir, "done")
        for sub in ("inbox", "sending", "rejected"):
            left = visible(os.path.join(nd.dir, sub))
            t.check(not left, "%s: %s/ not empty: %s" % (nd.node_id, sub,
                                                         left[:5]))
        for name, rows in nd.files.items():
            rep = os.path.join(done, name + ".report.json")
            if not t.check(os.path.exists(os.path.join(done, name)) and
                           os.path.exists(rep),
                           "%s: %s not in done/ with its report (done/ "
                           "holds %s)" % (nd.node_id, name,
                                          visible(done)[:8])):
                continue
            c = json.load(open(rep, encoding="utf-8")).get("central", {})
            if (nd.node_id, name) in resubmitted:
                ok = c.get("imported") == 0 and c.get("ignored") == len(rows)
            else:
                ok = c.get("imported") == len(rows)
            t.check(ok and c.get("state") == "applied" and
                    c.get("rejected") == 0,
                    "%s: %s report central %s (rows %d)" % (
                        nd.node_id, name, c, len(rows)))
        st = nd.status()
        t.check(st["pending_files"] == 0 and st["pending_parts"] == 0 and
                st["acked_seq"] == st["next_seq"] - 1,
                "%s: outbox not drained: %s" % (nd.node_id, st))
        eps = progress.get(nd.node_id, {})
        want_eps = (epochs or {}).get(nd.node_id, 1)
        t.check(len(eps) == want_eps, "%s: node_progress has %d epochs %s, "
                "expected %d" % (nd.node_id, len(eps), sorted(eps), want_eps))
        t.check(eps.get(st["epoch"]) == st["acked_seq"],
                "%s: central last_seq %s for epoch %s, node acked %s" % (
                    nd.node_id, eps.get(st["epoch"]), st["epoch"],
                    st["acked_seq"]))


def drained(n):
    """Everything of node n delivered: outbox empty, files in done/."""
    ob = n.outbox()
    return (ob is not None and ob["pending_parts"] == 0 and
            all(f[2] != "sending" for f in ob["files"]) and
            not visible(n.inbox) and
            all(os.path.exists(os.path.join(n.dir, "done", f))
                for f in n.files))


def wait_nodes(t, nodes, timeout, expect_rc=0, grace=30):
    """Waits for --once nodes to exit. A node that has delivered
    everything must exit within grace seconds: else it hangs."""
    since = {}

    def all_exited():
        now = time.time()
        for n in nodes:
            if n.p.poll() is None and n.node_id not in since and drained(n):
                since[n.node_id] = now
        hung = [n for n in nodes if n.p.poll() is None and
                now - since.get(n.node_id, now) > grace]
        if hung:
            raise Fail(report(hung, "delivered everything %ds ago but did "
                              "not exit (hang in shutdown?)" % grace))
        return all(n.p.poll() is not None for n in nodes)

    def report(running, why):
        msg = "nodes %s %s" % ([n.node_id for n in running], why)
        for n in running[:3]:
            msg += "\n  %s outbox %s\n%s\n  stacks of pid %d:\n%s" % (
                n.node_id, {k: v for k, v in (n.outbox() or {}).items()
                            if k != "files"}, tail(n.log(), 6), n.p.pid,
                stacks(n.p.pid))
        return msg
    try:
        t.wait_for(all_exited, timeout, "nodes to deliver and exit")
    except Fail as e:
        if "did not exit" in str(e):
            raise
        raise Fail(report([n for n in nodes if n.p.poll() is None],
                          "still running after %ds" % timeout))
    for n in nodes:
        t.check(n.p.returncode == expect_rc, "%s exited %s, expected %d:\n%s"
                % (n.node_id, n.p.returncode, expect_rc, tail(n.log(), 8)))


def total_acked(nodes):
    s = 0
    for n in nodes:
        ob = n.outbox()
        s += ob["acked_seq"] if ob else 0
    return s


def make_nodes(t, data, agencies, rows_range, files_range, part_rows,
               suffix="-n1"):
    nodes = []
    for ag in agencies:
        nd = Node(t, ag, ag + suffix, t.key(ag), part_rows)
        rows = data.rows(ag, data.rng.randint(*rows_range))
        k = data.rng.randint(*files_range)
        for i, chunk in enumerate(data.split(rows, k)):
            nd.add_file("%s_%02d.csv" % (ag, i + 1), chunk)
        nodes.append(nd)
    return nodes


def staged_now(t):
    """Parts staged centrally of files not yet complete."""
    r = t.psql("SELECT count(*), count(DISTINCT (node_id, file_id)) "
               "FROM ingest_part")
    return int(r[0][0]), int(r[0][1])


def stop_scorer_cleanly(t):
    rc = t.scorer.kill(signal.SIGTERM)
    t.check(rc == 0, "scorer exits 0 on SIGTERM (got %s)" % rc)
    # Whatever was applied is scored by the time the scorer has stopped,
    # however it was killed and restarted before: no year's scores older
    # than its data.
    stale = t.psql(
        "SELECT o.year FROM (SELECT year, max(updated_at) AS u FROM "
        "observation GROUP BY year) o LEFT JOIN (SELECT period, "
        "max(computed_at) AS c FROM score_area GROUP BY period) s ON "
        "s.period = o.year::text WHERE s.c IS NULL OR s.c < o.u")
    t.check(not stale, "every year scored after its last change (stale: %s)"
            % [r[0] for r in stale])


# ---- scenarios -------------------------------------------------------------

def s_parallel23(t, data):
    t.setup()
    nodes = make_nodes(t, data, data.agencies(), (1000, 2000), (2, 3), 200)
    say("23 nodes, %d rows, %d files, %d parts" % (
        len(data.expected), sum(len(n.files) for n in nodes),
        sum(n.parts() for n in nodes)))
    for n in nodes:
        n.start()
    wait_nodes(t, nodes, 150)
    verify(t, data, nodes)
    stop_scorer_cleanly(t)


def streaming_nodes(t, data, count, rows=(1200, 1500), part_rows=10):
    ags = data.rng.sample(data.agencies(), count)
    nodes = make_nodes(t, data, ags, rows, (3, 3), part_rows)
    total = sum(n.parts() for n in nodes)
    say("%d nodes %s, %d rows, %d parts" % (count, ags, len(data.expected),
                                            total))
    return nodes, total


def wait_progress(t, nodes, target, what):
    """Waits until the nodes' acked parts reach target; fails if every
    node finished first (the fault would land after the stream)."""
    def reached():
        if total_acked(nodes) >= target:
            return True
        if all(n.p.poll() is not None for n in nodes):
            raise Fail("all nodes finished before %s (stream too short)"
                       % what)
        return False
    t.wait_for(reached, 90, "%d acked parts before %s" % (target, what),
               [t.scorer.log()])


def s_kill_scorer(t, data):
    t.setup()
    nodes, total = streaming_nodes(t, data, 6)
    for n in nodes:
        n.start()
    fractions = sorted(data.rng.uniform(a, a + 0.15)
                       for a in (0.12, 0.40, 0.65))
    mid_file = 0
    for i, f in enumerate(fractions):
        wait_progress(t, nodes, int(f * total), "kill %d" % (i + 1))
        rc = t.scorer.kill(signal.SIGKILL)
        acked = total_acked(nodes)
        parts, files = staged_now(t)
        mid_file += parts > 0
        say("kill -9 scorer #%d at %d/%d acked parts (rc %s): %d parts of "
            "%d files staged, incomplete" % (i + 1, acked, total, rc, parts,
                                            files))
        t.check(acked < total, "kill %d landed mid-stream (%d/%d)" % (
            i + 1, acked, total))
        down = data.rng.uniform(0.0, 1.0)
        time.sleep(down)  # the outage itself, not a synchronisation
        t.scorer.start()
    t.check(mid_file > 0, "at least one kill landed mid-file (staged parts "
            "of an incomplete file at the kill)")
    wait_nodes(t, nodes, 120)
    verify(t, data, nodes)
    stop_scorer_cleanly(t)


def s_pg_outage(t, data):
    t.setup()
    nodes, total = streaming_nodes(t, data, 6)
    for n in nodes:
        n.start()
    wait_progress(t, nodes, int(data.rng.uniform(0.25, 0.45) * total),
                  "the outage")
    say("stopping PostgreSQL at %d/%d acked parts" % (total_acked(nodes),
                                                      total))
    t.pg("stop")
    t0 = time.time()
    time.sleep(1)  # the outage itself; acks already in flight land first
    a0 = total_acked(nodes)
    time.sleep(4)
    a1 = total_acked(nodes)
    t.check(a1 == a0, "nothing acked while PostgreSQL was down (%d -> %d)"
            % (a0, a1))
    survived = t.scorer.alive()
    url = t.pg("start")
    say("PostgreSQL back after %.1fs" % (time.time() - t0))
    if url != t.url:
        t.note("PostgreSQL came back on another URL (%s): scorer restarted"
               % url)
        t.url = url
        if t.scorer.alive():
            t.scorer.kill(signal.SIGTERM)
        t.scorer.start()
    if survived and t.scorer.alive():
        t.note("the scorer survived the outage (rc None)")
    elif not t.scorer.alive():
        t.note("the scorer EXITED during the outage (rc %s): restarted by "
               "the test" % t.scorer.p.returncode)
        t.scorer.start()
    slog = t.scorer.log()
    wait_nodes(t, nodes, 120)
    if survived:
        t.check('"msg":"reconnected to PostgreSQL"' in read_text(slog),
                "scorer logged its reconnection")
    verify(t, data, nodes)
    stop_scorer_cleanly(t)


def s_link_cut(t, data):
    t.setup()
    nodes, total = streaming_nodes(t, data, 5)
    for n in nodes:
        n.start()
    for i, f in enumerate(sorted(data.rng.uniform(a, a + 0.15)
                                 for a in (0.2, 0.55))):
        wait_progress(t, nodes, int(f * total), "cut %d" % (i + 1))
        rc = t.scorer.kill(signal.SIGTERM)
        acked = total_acked(nodes)
        say("cut %d: scorer stopped (SIGTERM, rc %s) at %d/%d acked parts"
            % (i + 1, rc, acked, total))
        t.check(rc == 0, "scorer exits 0 on SIGTERM mid-stream (got %s)" % rc)
        time.sleep(0.5)  # the link stays down 3 s; acks in flight land
        acked = total_acked(nodes)
        time.sleep(2.5)
        t.check(total_acked(nodes) == acked, "nothing acked while the link "
                "was down")
        t.check(all(n.p.poll() is None for n in nodes if
                    (n.outbox() or {}).get("pending_parts", 1) > 0),
                "nodes with pending parts keep running through the cut")
        t.scorer.start()
    wait_nodes(t, nodes, 120)
    verify(t, data, nodes)
    stop_scorer_cleanly(t)


def s_kill_node(t, data):
    t.setup()
    ags = data.rng.sample(data.agencies(), 3)
    nodes = make_nodes(t, data, ags, (1500, 1800), (4, 4), 5)
    total = {n.node_id: n.parts() for n in nodes}
    say("3 nodes, parts %s" % total)
    # Each node is started just before its own kill: killed nodes are
    # restarted and run on while the next one is being worked on, so a
    # node started early could finish before its turn came.
    x, y, z = nodes
    plan = [(data.rng.uniform(0.15, 0.35), x),
            (data.rng.uniform(0.35, 0.6), y),
            (data.rng.uniform(0.55, 0.75), z)]
    for frac, nd in plan:
        target = int(frac * total[nd.node_id])
        nd.start()

        def mid_send():
            # The scorer is paused while the outbox is read and the node
            # killed: no ack can arrive in between, so a node seen with
            # parts pending is killed with parts pending (delivery is fast
            # enough that the last parts could otherwise be acked in the
            # moment between reading and killing).
            if nd.p.poll() is not None:
                raise Fail("%s finished before its kill at %d parts" % (
                    nd.node_id, target))
            t.scorer.p.send_signal(signal.SIGSTOP)
            try:
                time.sleep(0.02)  # acks already on the wire land first
                ob = nd.outbox()
                if ob and ob["acked_seq"] >= target and \
                        ob["pending_parts"] > 0:
                    nd.kill(signal.SIGKILL)
                    return ob
                return None
            finally:
                t.scorer.p.send_signal(signal.SIGCONT)
        t.wait_for(mid_send, 90, "%s to ack %d parts" % (nd.node_id, target),
                   [nd.log()])
        ob = nd.outbox()
        sending = [f for f in ob["files"] if f[2] == "sending"]
        in_file = [f for f in sending if f[4] <= ob["acked_seq"] < f[5]]
        say("kill -9 %s: acked %d of next %d, %d parts pending, file %s "
            "partly acked; files (name, state, seqs) %s" % (
                nd.node_id, ob["acked_seq"], ob["next_seq"],
                ob["pending_parts"], in_file[0][1] if in_file else None,
                [(f[1], f[2], f[4], f[5]) for f in ob["files"]]))
        t.check(0 < ob["acked_seq"] < ob["next_seq"] - 1 and
                ob["pending_parts"] > 0,
                "%s killed after some but not all parts acked: %s" % (
                    nd.node_id, {k: v for k, v in ob.items() if k != "files"}))
        st = nd.status()
        t.check(st["epoch"] == ob["epoch"] and
                st["pending_parts"] == ob["pending_parts"],
                "status --json agrees with the outbox after the kill: %s" % st)
        nd.start()
        t.wait_for(lambda: '"msg":"outbox open"' in read_text(nd.log()), 30,
                   "%s to reopen its outbox" % nd.node_id, [nd.log()])
        opened = [json.loads(l) for l in read_text(nd.log()).splitlines()
                  if '"msg":"outbox open"' in l][0]
        t.check(opened["epoch"] == ob["epoch"] and
                opened["acked_seq"] >= ob["acked_seq"],
                "%s resumed its outbox (same epoch, acked >= %d): %s" % (
                    nd.node_id, ob["acked_seq"], opened))
    wait_nodes(t, nodes, 120)
    verify(t, data, nodes)
    stop_scorer_cleanly(t)


def hostile_bin(t):
    env = os.environ.get("HSI_HOSTILE_PEER")
    cands = [env] if env else [os.path.join(t.build, p, "hostile_peer")
                               for p in ("tests/fault", "tests", ".")]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    raise Fail("hostile_peer not found (%s): build it or set "
               "HSI_HOSTILE_PEER" % cands)


def s_hostile(t, data):
    t.setup()
    a, b = "ECT", "DOH"
    honest = [Node(t, ag, ag + "-n1", t.key(ag), 100) for ag in (b, a)]
    for nd in honest:
        for i, chunk in enumerate(data.split(data.rows(nd.agency, 1200), 2)):
            nd.add_file("%s_%02d.csv" % (nd.agency, i + 1), chunk)
    # The victim of the forged acks: its events come from the attacker.
    victim = Node(t, a, a + "-n2", t.key(a, a + "-n2"), 10)
    victim.add_file("%s_victim.csv" % a, data.rows(a, 95))
    hkey = t.key(a, "hostile")
    hdir = os.path.join(t.tmp, "hostile")
    os.makedirs(hdir)
    hp = t.popen([hostile_bin(t), t.scorer.ingest, t.scorer.events, hkey,
                  b, hdir], os.path.join(t.tmp, "hostile.log"))
    forged_url = t.wait_for(
        lambda: read_text(os.path.join(hdir, "forged_events_url")).strip(),
        30, "the hostile peer's forged events address", [hp.log])
    victim.start(once=False, events=forged_url)
    for nd in honest:
        nd.start()
    res_path = os.path.join(hdir, "hostile.json")
    t.wait_for(lambda: os.path.exists(res_path), 120,
               "the hostile peer's attacks", [hp.log, t.scorer.log()])
    res = json.load(open(res_path))
    say("hostile peer: %s, sent %s" % (res["result"], res["sent"]))
    t.check(res["result"] == "ok" and res["acked_seq"] == 2,
            "the scorer acked the hostile node's signed messages (d, bomb): "
            "%s" % {k: res[k] for k in ("result", "acked_seq", "refusal")})
    v = res.get("verdict") or {}
    t.check(v.get("imported") == 1 and v.get("rejected") == 1 and
            v.get("codes") == ["E_NOT_OWNER"],
            "d's verdict: own row imported, foreign row E_NOT_OWNER: %s" % v)
    wait_nodes(t, honest, 120)
    t.check(t.scorer.alive(), "the scorer survived the attack")

    # (h) The victim, fed forged and tampered acks only.
    def victim_file():
        ob = victim.outbox()
        return ob and [f for f in ob["files"] if f[2] == "sending"]
    vf = t.wait_for(victim_file, 60, "the victim to commit its file",
                    [victim.log()])
    with open(os.path.join(hdir, ".ids.tmp"), "w") as f:
        f.write(vf[0][0] + "\n")
    os.rename(os.path.join(hdir, ".ids.tmp"),
              os.path.join(hdir, "forge_file_ids"))
    vep = str(victim.outbox()["epoch"])

    def forged_stats():
        try:
            return json.load(open(os.path.join(hdir, "forged_stats.json")))
        except (FileNotFoundError, ValueError):
            return None

    def learnt():
        s = forged_stats()
        return s and s["forge_file_ids"] >= 1 and [
            x for x in s["targets"] if x["node_id"] == victim.node_id and
            x["epoch_text"] == vep] and s
    s0 = t.wait_for(learnt, 60, "the hostile peer to learn the victim's "
                    "epoch from the real acks", [hp.log, victim.log()])
    c0 = read_text(victim.log()).count("ack with bad signature")

    def forged_enough():
        # Two more rounds at least: each has 33 forged acks (acked_seq
        # 1..32 and 1000, with forged verdicts) and one tampered real ack
        # for every target, the victim among them.
        s = forged_stats()
        ignored = read_text(victim.log()).count("ack with bad signature")
        if s and s["tampered_acks"] >= s0["tampered_acks"] + 2 * len(
                s["targets"]) and ignored >= c0 + 68:
            return s, ignored
        return None
    stats, ignored = t.wait_for(forged_enough, 60,
                                "forged acks to reach the victim",
                                [hp.log, victim.log()])
    st = victim.status()
    say("victim after %d forged/%d tampered acks (%d logged as ignored): "
        "%s" % (stats["forged_acks"], stats["tampered_acks"], ignored, st))
    t.check(st["acked_seq"] == 0 and st["pending_files"] == 1 and
            st["pending_parts"] == victim.parts(),
            "forged acks moved nothing in the victim's outbox: %s" % st)
    t.check(visible(os.path.join(victim.dir, "sending")) ==
            sorted([vf[0][1], vf[0][1] + ".report.json"]) and
            not visible(os.path.join(victim.dir, "done")),
            "victim's file still in sending/, not done/ (done: %s)" %
            visible(os.path.join(victim.dir, "done")))
    t.check(victim.p.poll() is None, "victim still running")
    rc = victim.kill(signal.SIGTERM)
    t.check(rc == 0, "victim exits 0 on SIGTERM (got %s)" % rc)
    victim.start()  # the real events address now
    wait_nodes(t, [victim], 60)

    # The scorer still serves: one more honest file after the attack.
    last = honest[0]
    last.add_file("%s_after.csv" % last.agency, data.rows(last.agency, 150))
    last.start()
    wait_nodes(t, [last], 60)
    open(os.path.join(hdir, "stop"), "w").close()
    try:
        hrc = hp.wait(timeout=20)
    except subprocess.TimeoutExpired:
        hp.kill()
        hrc = "hung"
    t.check(hrc == 0, "hostile_peer exit status %s (0: all its signed "
            "messages were acked)" % hrc)

    # What the hostile peer was entitled to: its own row, once.
    own = res["own_row"]
    data.expected[(own["indicator"], own["area"], own["period"])] = (
        a, own["value"], "A", "")
    verify(t, data, honest + [victim], quarantine_ok=True,
           extra_verdicts=("hostile-d",))
    fr = res["foreign_row"]
    t.check(not t.psql("SELECT 1 FROM observation WHERE indicator = '%s' "
                       "AND area = '%s' AND period = '%s'" % (
                           fr["indicator"], fr["area"], fr["period"])),
            "the foreign-agency row was not applied")
    t.check(not t.psql("SELECT indicator, value FROM observation WHERE "
                       "value = 77.75 AND period = '2016'"),
            "nothing of the forged/tampered messages applied")
    rev = t.psql("SELECT node_id, count(*) FROM observation_revision WHERE "
                 "node_id LIKE 'hostile%' GROUP BY 1")
    t.check(rev == [["hostile-d", "1"]],
            "the hostile node's row applied exactly once: %s" % rev)
    vd = t.psql("SELECT state, imported, rejected, rejections::text FROM "
                "ingest_file WHERE node_id = 'hostile-d'")
    t.check(len(vd) == 1 and vd[0][:3] == ["applied", "1", "1"] and
            "E_NOT_OWNER" in vd[0][3],
            "one verdict for the hostile file with E_NOT_OWNER: %s" % vd)
    np_ = t.psql("SELECT node_id, last_seq FROM node_progress WHERE "
                 "node_id LIKE 'hostile%' ORDER BY 1")
    t.check(np_ == [["hostile-d", "2"]], "only the validly signed hostile "
            "stream has progress (d, then the bomb skipped): %s" % np_)
    q = {}
    for reason, ag, node, seq, n in t.psql(
            "SELECT reason, coalesce(agency, ''), coalesce(node_id, ''), "
            "coalesce(seq::text, ''), count(*) FROM quarantine "
            "GROUP BY 1, 2, 3, 4"):
        q[(reason, ag, node, seq)] = int(n)
    say("quarantine: %s" % q)
    want = [("bad signature", a, "hostile-a", "1"),
            ("unknown or retired key id", a, "hostile-a2", "1"),
            ("unknown or retired key id", b, "hostile-b", "1"),
            ("topic and agency disagree, or unknown agency", a, "hostile-b2",
             "1"),
            ("bad signature", a, "hostile-c", "7"),
            ("bad batch payload", a, "hostile-d", "2")]
    for w in want:
        t.check(q.get(w, 0) >= 1, "quarantined with reason: %s" % (w,))
    undec = [k for k in q if k[0] == "undecodable"]
    t.check(sum(q[k] for k in undec) >= 3, "truncated/garbage messages "
            "quarantined as undecodable: %s" % undec)
    honest_q = [k for k in q if k[2] in [n.node_id for n in honest] +
                [victim.node_id]]
    t.check(not honest_q, "nothing of the honest nodes quarantined: %s" %
            honest_q)
    t.check(t.psql("SELECT count(*) FROM quarantine WHERE message IS NULL "
                   "OR reason = ''") == [["0"]],
            "every quarantine row keeps the message and a reason")
    ff = t.scalar("SELECT count(*) FROM quarantine WHERE reason = "
                  "'undecodable' AND position('\\xffffffff'::bytea in "
                  "message) > 0")
    t.check(int(ff) >= 1, "0xff garbage quarantined as undecodable")
    for what, raw in (("node id", b"hostile-i\xff\xfe"),
                      ("agency and topic", b"obs." + a.encode() + b"\xff\n")):
        n = t.scalar("SELECT count(*) FROM quarantine WHERE "
                     "position('\\x%s'::bytea in message) > 0" % raw.hex())
        t.check(int(n) >= 1, "a refused message whose %s is not UTF-8 is "
                "quarantined (%s rows hold %r; scorer log: %s)" % (
                    what, n, raw, [l[:160] for l in read_text(
                        t.scorer.log()).splitlines() if "quarantine" in l
                        or "hostile-i" in l][:3]))
    t.check(t.scorer.alive(), "the scorer still runs")
    stop_scorer_cleanly(t)


def s_reinstall(t, data):
    t.setup()
    ag = data.rng.choice(["NSO", "RTP", "ECT", "MOE"])
    nd = Node(t, ag, ag + "-n1", t.key(ag), 50)
    old = {}
    for i in range(2):
        old["%s_old%d.csv" % (ag, i + 1)] = data.rows(ag, 600)
    for name, rows in old.items():
        nd.add_file(name, rows)
    nd.start()
    wait_nodes(t, [nd], 60)
    ep1 = nd.outbox()["epoch"]
    first = {n: json.load(open(os.path.join(nd.dir, "done",
                                            n + ".report.json")))
             for n in old}
    for n, rows in old.items():
        t.check(first[n]["central"]["imported"] == len(rows),
                "before reinstall %s imported %d: %s" % (n, len(rows),
                                                         first[n]["central"]))
    say("delivered %d rows under epoch %d; deleting the outbox" % (
        len(data.expected), ep1))
    shutil.rmtree(nd.state)
    for i in range(2):
        nd.add_file("%s_new%d.csv" % (ag, i + 1), data.rows(ag, 500))
    again = sorted(old)[0]
    shutil.copy(os.path.join(nd.dir, "done", again),
                os.path.join(nd.inbox, "." + again + ".tmp"))
    os.rename(os.path.join(nd.inbox, "." + again + ".tmp"),
              os.path.join(nd.inbox, again))
    nd.start()
    wait_nodes(t, [nd], 60)
    ep2 = nd.outbox()["epoch"]
    t.check(ep2 != ep1, "a new epoch after the reinstall (%d, %d)" % (ep1,
                                                                      ep2))
    eps = t.psql("SELECT epoch, last_seq FROM node_progress WHERE node_id = "
                 "'%s' ORDER BY updated_at" % nd.node_id)
    say("node_progress for %s: %s" % (nd.node_id, eps))
    t.check([int(e[0]) for e in eps] == [ep1, ep2],
            "node_progress holds both epochs in order: %s" % eps)
    verify(t, data, [nd], epochs={nd.node_id: 2},
           resubmitted={(nd.node_id, again): old[again]})
    stop_scorer_cleanly(t)


# ---- main --------------------------------------------------------------------

def main():
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        print("usage: fault_test.py {%s} BUILD_DIR SOURCE_DIR" %
              "|".join(SCENARIOS), file=sys.stderr)
        sys.exit(2)
    scenario, build, src = sys.argv[1:]
    t = Test(scenario, os.path.abspath(build), os.path.abspath(src))
    seed = int(os.environ.get("HSI_FAULT_SEED", SEEDS[scenario]))
    data = Data(t.src, seed)
    say("scenario %s, seed %d, in %s" % (scenario, seed, t.tmp))
    try:
        globals()["s_" + scenario](t, data)
    except Fail as e:
        t.failed += 1
        print("FAIL:", e, flush=True)
    except Exception:
        t.failed += 1
        import traceback
        traceback.print_exc()
    finally:
        t.cleanup()
    t.scan_logs()
    if t.failed:
        t.diag()
        print("logs kept in", t.tmp)
    elif not os.environ.get("HSI_FAULT_KEEP"):
        shutil.rmtree(t.tmp, ignore_errors=True)
    for n in t.notes:
        print("NOTE:", n)
    say("%s done" % scenario)
    print("%d passed, %d failed" % (t.passed, t.failed))
    sys.exit(1 if t.failed else 0)


if __name__ == "__main__":
    main()
