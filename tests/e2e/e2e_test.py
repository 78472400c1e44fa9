#!/usr/bin/python3
"""End-to-end: the four services as real processes over a private
PostgreSQL cluster and real nng sockets.

hsictl loads a small test catalog (7 indicators, one per dimension, so the
index can be worked out by hand below), two agency nodes deliver files,
the scorer computes, the alerter raises the default threshold alert
(composite < 0.45) and the API serves GET /v1/index?period=2024.
Any service missing from the path makes an assertion below fail.

No fixed ports: every port comes from the kernel. Run by ctest with the
build directory and source directory as arguments.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD, SRC = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = {n: os.path.join(BUILD, "services", d, n) for d, n in [
    ("scorer", "hsi-scorer"), ("ingest", "hsi-ingest"),
    ("alerter", "hsi-alerter"), ("api", "hsi-api"), ("hsictl", "hsictl")]}

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)


def close(a, b, eps=1e-12):
    return a is not None and b is not None and abs(a - b) <= eps


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
        time.sleep(0.1)
    raise SystemExit("timed out waiting for " + what)


def log_has(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            return text in f.read()
    except FileNotFoundError:
        return False


def main():
    tmp = tempfile.mkdtemp(prefix="hsi-e2e-")
    os.chmod(tmp, 0o755)
    pg_dir = os.path.join(tmp, "pg")
    pg_sh = os.path.join(SRC, "scripts", "pg.sh")
    url = subprocess.run(["bash", pg_sh, "start", pg_dir], check=True,
                         capture_output=True, text=True).stdout.strip()
    procs = []
    try:
        run(tmp, url, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                rc = p.wait(timeout=10)
                check(rc == 0, "%s exits 0 on SIGTERM (got %s)" % (p.args[0], rc))
            except subprocess.TimeoutExpired:
                p.kill()
                check(False, "%s stops on SIGTERM" % p.args[0])
        subprocess.run(["bash", pg_sh, "destroy", pg_dir], capture_output=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def start(procs, tmp, name, args):
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([BIN[name.split(".")[0]]] + args, stdout=log,
                         stderr=subprocess.STDOUT)
    procs.append(p)
    return os.path.join(tmp, name + ".log")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def run(tmp, url, procs):
    env_db = ["--db-url", url]
    # The official-catalog path: load before the scorer first starts.
    subprocess.run([BIN["hsictl"], "catalog", "load",
                    os.path.join(HERE, "catalog.csv")] + env_db, check=True)
    ingest = "tcp://127.0.0.1:%d" % free_port()
    events = "tcp://127.0.0.1:%d" % free_port()
    alerts = "tcp://127.0.0.1:%d" % free_port()
    slog = start(procs, tmp, "hsi-scorer", env_db + [
        "--ingest-listen", ingest, "--events-listen", events])
    wait_for(lambda: log_has(slog, '"msg":"ready"'), 30, "scorer ready")
    alog = start(procs, tmp, "hsi-alerter", env_db + [
        "--events-url", events, "--alerts-listen", alerts])
    plog = start(procs, tmp, "hsi-api", env_db + [
        "--listen", "127.0.0.1:0", "--events-url", events])

    def api_url():
        try:
            for line in open(plog, encoding="utf-8"):
                if '"msg":"listening"' in line:
                    return json.loads(line)["url"]
        except (FileNotFoundError, ValueError):
            return None
    base = wait_for(api_url, 30, "api listening")

    keys = {}
    for ag in ("DOH", "ECT"):
        keys[ag] = os.path.join(tmp, ag + ".key")
        subprocess.run([BIN["hsictl"], "key", "rotate", ag, "--out",
                        keys[ag]] + env_db, check=True, capture_output=True)
    # DOH exports with Buddhist-era years, Thai digits and a BOM; a note
    # with a comma and Thai text is quoted.
    write(os.path.join(tmp, "DOH/inbox/DOH_2567.csv"),
          "\ufeffindicator,area,period,value,status,note\r\n"
          "t_health,10,2567,80,A,\r\n"
          "t_health,TH-50,2567,60,A,\"ข้อมูลจาก สสจ., ปรับปรุง\"\r\n"
          "t_health,96,๒๕๖๗,๔๐,P,\r\n"
          "t_living,10,2567Q1,60,A,\r\n"
          "t_living,10,2567Q2,70,A,\r\n"
          "t_living,10,2024Q3,80,A,\r\n"
          "t_living,10,2024Q4,90,A,\r\n"
          "t_living,50,2024Q1,50,A,\r\nt_living,50,2024Q2,50,A,\r\n"
          "t_living,50,2024Q3,50,A,\r\nt_living,50,2024Q4,50,A,\r\n"
          "t_living,96,2024Q1,40,A,\r\nt_living,96,2024Q2,40,A,\r\n"
          "t_living,96,2024Q3,40,A,\r\nt_living,96,2024Q4,,M,ไม่มีข้อมูล\r\n"
          "t_edu,10,2024,40,A,\r\nt_edu,50,2024,25,A,\r\nt_edu,96,2024,10,A,\r\n"
          "t_econ,10,2024,2,A,\r\nt_econ,50,2024,5,A,\r\nt_econ,96,2024,8,A,\r\n")
    write(os.path.join(tmp, "ECT/inbox/ECT_2024.csv"),
          "indicator,area,period,value\n"
          "t_serv,10,2024,90\nt_serv,50,2024,50\nt_serv,96,2024,30\n"
          "t_pers,10,2024,70\nt_pers,50,2024,50\nt_pers,96,2024,20\n"
          "t_pol,10,2024,82\nt_pol,50,2024,70\nt_pol,96,2024,54\n")
    # A file that must be refused whole: ECT may not send DOH's indicator.
    write(os.path.join(tmp, "ECT/inbox/ECT_bad.csv"),
          "indicator,area,period,value\n"
          "t_pol,10,2023,60\nt_health,10,2023,99\n")
    nodes = {}
    for ag in ("DOH", "ECT"):
        nodes[ag] = subprocess.run(
            [BIN["hsi-ingest"], "--agency", ag, "--node-id", ag + "-n1",
             "--key-file", keys[ag], "--inbox",
             os.path.join(tmp, ag, "inbox"), "--scorer-url", ingest,
             "--events-url", events, "--once", "true"],
            capture_output=True, text=True, timeout=120)
    check(nodes["DOH"].returncode == 0, "DOH node delivers: " + nodes["DOH"].stderr[-400:])
    check(nodes["ECT"].returncode == 1, "ECT node reports its rejected file")
    check(os.path.exists(os.path.join(tmp, "DOH/done/DOH_2567.csv")),
          "DOH file moved to done/")
    rep = json.load(open(os.path.join(tmp, "DOH/done/DOH_2567.csv.report.json")))
    check(rep["central"]["imported"] == 21 and rep["central"]["rejected"] == 0,
          "verdict counts 21 imported: %s" % rep.get("central"))
    bad = json.load(open(os.path.join(tmp, "ECT/rejected/ECT_bad.csv.report.json")))
    check([i["code"] for i in bad["issues"]] == ["E_NOT_OWNER"] and
          bad["issues"][0]["line"] == 3, "E_NOT_OWNER on line 3: %s" % bad["issues"])
    check(not os.path.exists(os.path.join(tmp, "ECT/done/ECT_bad.csv")),
          "rejected file not delivered")

    def index():
        try:
            with urllib.request.urlopen(base + "/v1/index?period=2567") as r:
                body = json.loads(r.read())
            prov = {p["area"]: p for p in body["provinces"]}
            if "96" in prov and prov["96"]["dimensions"].get("political") is not None \
                    and prov["10"]["dimensions"].get("political") is not None:
                return body
        except urllib.error.HTTPError:
            return None
    body = wait_for(index, 30, "index for 2024 with both agencies")
    check(body["period"] == "2024", "BE period answered as 2024")
    prov = {p["area"]: p for p in body["provinces"]}
    check(len(body["provinces"]) == 77, "all 77 provinces listed")
    # By hand: score = (x - lo) / (hi - lo), 1 - s where lower is better;
    # living is the mean of 4 quarters; composite = mean of dimensions.
    exp10 = {"health": .8, "living": .75, "education": .8, "economy": .8,
             "services": .9, "personal": .7, "political": .8}
    exp50 = {"health": .6, "living": .5, "education": .5, "economy": .5,
             "services": .5, "personal": .5, "political": .5}
    # Narathiwat: Q4 of t_living declared missing -> 3 of 4 quarters,
    # below min_subperiods 4, so living is missing and the composite is
    # the mean of the 6 dimensions present (coverage 6/7 >= 0.5).
    exp96 = {"health": .4, "living": None, "education": .2, "economy": .2,
             "services": .3, "personal": .2, "political": .1}
    for code, exp, comp, rank in (("10", exp10, 5.55 / 7, 1),
                                  ("50", exp50, 3.6 / 7, 2),
                                  ("96", exp96, 1.4 / 6, 3)):
        p = prov[code]
        for d, v in exp.items():
            got = p["dimensions"].get(d)
            check(got is None if v is None else close(got, v, 1e-9),
                  "%s %s = %s (got %s)" % (code, d, v, got))
        check(close(p["composite"], comp, 1e-9),
              "%s composite %.12f (got %s)" % (code, comp, p["composite"]))
        check(p["rank"] == rank, "%s rank %d (got %s)" % (code, rank, p["rank"]))
    check(prov["11"]["composite"] is None, "a province without data has no composite")
    # Nation: each indicator is the population-weighted mean of the
    # provinces that have it (DOPA 2020), then scored the same way.
    P = {"10": 5588222, "50": 1784370, "96": 804429}

    def wmean(vals):
        return sum(P[a] * x for a, x in vals.items()) / sum(P[a] for a in vals)
    nat = {
        "health": wmean({"10": 80, "50": 60, "96": 40}) / 100,
        "living": wmean({"10": 75, "50": 50}) / 100,
        "education": wmean({"10": 40, "50": 25, "96": 10}) / 50,
        "economy": 1 - wmean({"10": 2, "50": 5, "96": 8}) / 10,
        "services": wmean({"10": 90, "50": 50, "96": 30}) / 100,
        "personal": wmean({"10": 70, "50": 50, "96": 20}) / 100,
        "political": (wmean({"10": 82, "50": 70, "96": 54}) - 50) / 40,
    }
    n = body["nation"]
    check(n["area"] == "TH", "nation is TH")
    for d, v in nat.items():
        check(close(n["dimensions"].get(d), v, 1e-9),
              "nation %s = %.12f (got %s)" % (d, v, n["dimensions"].get(d)))
    check(close(n["composite"], sum(nat.values()) / 7, 1e-9),
          "nation composite (got %s)" % n["composite"])

    # The alerter's default rule: composite below 0.45 -> Narathiwat only.
    def alerts():
        r = subprocess.run(["psql", url, "-At", "-c",
                            "SELECT labels->>'area', state FROM alert "
                            "WHERE rule = 'composite_low' ORDER BY 1"],
                           capture_output=True, text=True)
        return r.stdout.split() if r.stdout.strip() else None
    got = wait_for(alerts, 30, "threshold alert")
    check(got == ["96|firing"], "only Narathiwat fires composite_low: %s" % got)
    check(log_has(alog, "96"), "alerter logged the transition")


if __name__ == "__main__":
    main()
