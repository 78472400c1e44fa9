"""What the alerting tests share: results, ports, waits, and an
environment of real processes -- a private PostgreSQL (scripts/pg.sh),
hsi-scorer with the e2e test catalog, one hsi-ingest node for CDD feeding
t_health, and hsi-alerter with a rules file. No fixed ports."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise SystemExit("FAIL: timed out waiting for " + what)


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def binaries(build):
    return {n: os.path.join(build, "services", d, n) for d, n in [
        ("scorer", "hsi-scorer"), ("ingest", "hsi-ingest"),
        ("alerter", "hsi-alerter"), ("hsictl", "hsictl")]}


class Env:
    def __init__(self, tmp, url, build, src):
        self.tmp, self.url, self.src, self.procs = tmp, url, src, []
        self.bin = binaries(build)
        self.db = ["--db-url", url]
        self.ingest = "tcp://127.0.0.1:%d" % free_port()
        self.events = "tcp://127.0.0.1:%d" % free_port()
        self.alerter = None
        self.rules_file = None
        self.files = 0

    def psql(self, sql):
        return subprocess.run(["psql", self.url, "-At", "-c", sql], check=True,
                              capture_output=True, text=True).stdout.strip()

    def start(self, name, argv):
        log = open(os.path.join(self.tmp, name + ".log"), "a")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def setup(self):
        """Migrations, the e2e catalog, the scorer, CDD's key."""
        ctl = self.bin["hsictl"]
        subprocess.run([ctl, "migrate"] + self.db, check=True,
                       capture_output=True)
        catalog = getattr(self, "catalog", None) or os.path.join(
            self.src, "tests", "e2e", "catalog.csv")
        subprocess.run([ctl, "catalog", "load", catalog]
                       + self.db, check=True, capture_output=True)
        self.start("hsi-scorer", [self.bin["hsi-scorer"]] + self.db + [
            "--ingest-listen", self.ingest, "--events-listen", self.events])
        slog = os.path.join(self.tmp, "hsi-scorer.log")
        wait_for(lambda: '"msg":"ready"' in read(slog), 30, "scorer ready")
        self.key = os.path.join(self.tmp, "CDD.key")
        subprocess.run([ctl, "key", "rotate", "CDD", "--out", self.key]
                       + self.db, check=True, capture_output=True)
        self.provinces = self.psql(
            "SELECT code FROM area WHERE level = 'province' ORDER BY code"
        ).split()

    def start_alerter(self):
        self.alerter = self.start("hsi-alerter", [self.bin["hsi-alerter"]]
                                  + self.db + [
            "--events-url", self.events, "--alerts-listen",
            "tcp://127.0.0.1:%d" % free_port(), "--rules-file", self.rules_file])
        alog = os.path.join(self.tmp, "hsi-alerter.log")
        n = read(alog).count('"msg":"started"')
        wait_for(lambda: read(alog).count('"msg":"started"') > n, 30,
                 "alerter started")

    def stop_alerter(self, sig=signal.SIGTERM):
        self.alerter.send_signal(sig)
        rc = self.alerter.wait(timeout=15)
        self.procs.remove(self.alerter)
        self.alerter = None
        return rc

    def feed(self, values, year=2024):
        """Delivers t_health for year (province -> value) through a node."""
        inbox = os.path.join(self.tmp, "CDD", "inbox")
        os.makedirs(inbox, exist_ok=True)
        self.files += 1
        with open(os.path.join(inbox, "h%d.csv" % self.files), "w") as f:
            f.write("indicator,area,period,value\n")
            for area, v in values.items():
                f.write("t_health,%s,%d,%s\n" % (area, year, v))
        r = subprocess.run(
            [self.bin["hsi-ingest"], "--agency", "CDD", "--node-id", "CDD-n1",
             "--key-file", self.key, "--inbox", inbox, "--scorer-url",
             self.ingest, "--events-url", self.events, "--once", "true"],
            capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "node delivers %d (file %d): %s"
              % (year, self.files, r.stderr[-300:]))


def start_receiver(env, name, *opts):
    secret = os.path.join(env.tmp, name + ".secret")
    with open(secret, "w") as f:
        f.write(os.urandom(24).hex() + "\n")
    events = os.path.join(env.tmp, name + ".events")
    port_file = os.path.join(env.tmp, name + ".port")
    env.start(name, ["/usr/bin/python3", os.path.join(os.path.dirname(os.path.abspath(__file__)), "receiver.py"),
                     secret, events, port_file] + list(opts))
    port = int(wait_for(lambda: read(port_file), 30, name + " listening"))
    return {"name": name, "type": "webhook", "secret_file": secret,
            "url": "http://127.0.0.1:%d/hook" % port, "timeout_ms": 5000}, events


def receiver_events(path):
    return [json.loads(l) for l in read(path).splitlines() if l.strip()]


def run(env_class, build, src, prefix, body, logs, keep=True):
    """Runs body(env) in a fresh cluster and tears everything down; shows
    the tails of logs on failure; exits 1 if any check failed."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)
    pg_dir = os.path.join(tmp, "pg")
    pg_sh = os.path.join(src, "scripts", "pg.sh")
    url = subprocess.run(["bash", pg_sh, "start", pg_dir], check=True,
                         capture_output=True, text=True).stdout.strip()
    env = env_class(tmp, url, build, src)
    try:
        env.setup()
        body(env)
    finally:
        for p in env.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in env.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                check(False, "%s stops on SIGTERM" % p.args[0])
        subprocess.run(["bash", pg_sh, "destroy", pg_dir], capture_output=True)
        if failed:
            for name in logs:
                text = read(os.path.join(tmp, name + ".log"))
                if text:
                    print("---- %s.log (tail)\n%s" % (name, text[-3000:]))
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
