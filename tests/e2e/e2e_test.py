#!/usr/bin/python3
"""End-to-end: the four services as real processes over a private
PostgreSQL cluster and real nng sockets.

hsictl loads a small test catalog (7 indicators, one per dimension, so the
index can be worked out by hand below), two agency nodes deliver files,
the scorer computes, the alerter raises the default threshold alert
(composite < 0.45) and the API serves GET /v1/index?period=2024.
Any service missing from the path makes an assertion below fail.

No fixed ports: every port comes from the kernel. Run by ctest with the
build directory and source directory as arguments; with a third argument
--tls the scorer's ingest and events addresses are tls+tcp:// (mutual TLS,
certificates made by scripts/mkcerts.sh in the temporary directory) and
every assertion is the same.
"""
import json
import math
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
TLS = "--tls" in sys.argv[3:]
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


def tls_args(tmp):
    """Makes the CA and the certificates (scorer, alerter, api, agencies)
    and returns NAME -> the service's --tls-cert/--tls-ca arguments."""
    certs = os.path.join(tmp, "certs")
    subprocess.run(["bash", os.path.join(SRC, "scripts", "mkcerts.sh"), certs,
                    "CDD", "DLA", "MOPH", "DMH", "ECT"], check=True,
                   capture_output=True)
    return lambda name: ["--tls-cert", os.path.join(certs, name + ".pem"),
                         "--tls-ca", os.path.join(certs, "ca.pem")]


def run(tmp, url, procs):
    env_db = ["--db-url", url]
    # The official-catalog path: load before the scorer first starts.
    subprocess.run([BIN["hsictl"], "catalog", "load",
                    os.path.join(HERE, "catalog.csv")] + env_db, check=True)
    ingest = "tcp://127.0.0.1:%d" % free_port()
    events = "tcp://127.0.0.1:%d" % free_port()
    alerts = "tcp://127.0.0.1:%d" % free_port()
    tls = tls_args(tmp) if TLS else lambda name: []
    if TLS:
        ingest = "tls+" + ingest
        events = "tls+" + events
    slog = start(procs, tmp, "hsi-scorer", env_db + [
        "--ingest-listen", ingest, "--events-listen", events] + tls("scorer"))
    wait_for(lambda: log_has(slog, '"msg":"ready"'), 30, "scorer ready")
    alog = start(procs, tmp, "hsi-alerter", env_db + [
        "--events-url", events, "--alerts-listen", alerts] + tls("alerter"))
    plog = start(procs, tmp, "hsi-api", env_db + [
        "--listen", "127.0.0.1:0", "--events-url", events] + tls("api"))

    def api_url():
        try:
            for line in open(plog, encoding="utf-8"):
                if '"msg":"listening"' in line:
                    return json.loads(line)["url"]
        except (FileNotFoundError, ValueError):
            return None
    base = wait_for(api_url, 30, "api listening")

    keys = {}
    agencies = ("CDD", "DLA", "MOPH", "DMH", "ECT")
    for ag in agencies:
        keys[ag] = os.path.join(tmp, ag + ".key")
        subprocess.run([BIN["hsictl"], "key", "rotate", ag, "--out",
                        keys[ag]] + env_db, check=True, capture_output=True)
    # CDD exports with Buddhist-era years, Thai digits and a BOM; a note
    # with a comma and Thai text is quoted.
    write(os.path.join(tmp, "CDD/inbox/CDD_2567.csv"),
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
          "t_econ,10,2024,2,A,\r\nt_econ,50,2024,5,A,\r\nt_econ,96,2024,8,A,\r\n")
    write(os.path.join(tmp, "DLA/inbox/DLA_2024.csv"),
          "indicator,area,period,value\n"
          "t_edu,10,2024,40\nt_edu,50,2024,25\nt_edu,96,2024,10\n")
    write(os.path.join(tmp, "MOPH/inbox/MOPH_2024.csv"),
          "indicator,area,period,value\n"
          "t_serv,10,2024,90\nt_serv,50,2024,50\nt_serv,96,2024,30\n")
    write(os.path.join(tmp, "DMH/inbox/DMH_2024.jsonl"),
          '{"indicator":"t_pers","area":"10","period":"2024","value":70}\n'
          '{"indicator":"t_pers","area":"TH-50","period":"2567","value":50}\n'
          '{"indicator":"t_pers","area":"96","period":"2024","value":"๒๐"}\n')
    write(os.path.join(tmp, "ECT/inbox/ECT_2024.csv"),
          "STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE\n"
          "dataflow,HSI:ECT(1.0),I,t_pol,TH-10,2024,82\n"
          "dataflow,HSI:ECT(1.0),I,t_pol,TH-50,2024,70\n"
          "dataflow,HSI:ECT(1.0),I,t_pol,TH-96,2024,54\n")
    # A file that must be refused whole: ECT may not send CDD's indicator.
    write(os.path.join(tmp, "ECT/inbox/ECT_bad.csv"),
          "indicator,area,period,value\n"
          "t_pol,10,2023,60\nt_health,10,2023,99\n")
    nodes = {}
    for ag in agencies:
        nodes[ag] = subprocess.run(
            [BIN["hsi-ingest"], "--agency", ag, "--node-id", ag + "-n1",
             "--key-file", keys[ag], "--inbox",
             os.path.join(tmp, ag, "inbox"), "--scorer-url", ingest,
             "--events-url", events, "--once", "true"] + tls(ag),
            capture_output=True, text=True, timeout=120)
    for ag in ("CDD", "DLA", "MOPH", "DMH"):
        check(nodes[ag].returncode == 0,
              "%s node delivers: %s" % (ag, nodes[ag].stderr[-400:]))
    check(nodes["ECT"].returncode == 1, "ECT node reports its rejected file")
    check(os.path.exists(os.path.join(tmp, "CDD/done/CDD_2567.csv")),
          "CDD file moved to done/")
    rep = json.load(open(os.path.join(tmp, "CDD/done/CDD_2567.csv.report.json")))
    check(rep["central"]["imported"] == 18 and rep["central"]["rejected"] == 0,
          "verdict counts 18 imported: %s" % rep.get("central"))
    for ag, name, n in (("DMH", "DMH_2024.jsonl", 3), ("ECT", "ECT_2024.csv", 3)):
        r = json.load(open(os.path.join(tmp, ag, "done", name + ".report.json")))
        check(r["central"]["imported"] == n, "%s (%s format) imported %d: %s"
              % (name, "JSON lines" if ag == "DMH" else "SDMX-CSV", n, r.get("central")))
    # Verdicts are confirmed by the nodes, so the scorer stops re-sending.
    conf = subprocess.run(["psql", url, "-At", "-c",
                           "SELECT count(*) FILTER (WHERE confirmed_at IS NULL), "
                           "count(*) FROM ingest_file"],
                          capture_output=True, text=True).stdout.strip()
    check(conf == "0|5", "every verdict confirmed by its node (unconfirmed|all = %s)" % conf)
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

    vintages_and_methodology(tmp, url, ingest, events, keys, tls)


def psql(url, sql):
    return subprocess.run(["psql", url, "-At", "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def db_composites(url, version, period="2024"):
    out = psql(url, "SELECT area, value FROM score WHERE methodology = %d AND "
               "period = '%s' AND level = 'index' AND value IS NOT NULL"
               % (version, period))
    return {a: float(v) for a, v in (l.split("|") for l in out.splitlines())}


def hsictl_json(url, *args):
    r = subprocess.run([BIN["hsictl"], "score", "--db-url", url, "--format",
                        "json"] + list(args), capture_output=True, text=True)
    check(r.returncode == 0, "hsictl score %s: %s" % (args, r.stderr[-300:]))
    return {x["area"]: x for x in json.loads(r.stdout)["results"]}


def vintages_and_methodology(tmp, url, ingest, events, keys, tls):
    """Issue 4: a revision leaves the earlier vintage reproducible (as_of),
    and activating a new methodology rescores under it while the old
    version's scores stay."""
    before = psql(url, "SELECT now()")
    time.sleep(1.1)
    write(os.path.join(tmp, "CDD/inbox/CDD_rev.csv"),
          "indicator,area,period,value\nt_health,96,2024,60\n")
    r = subprocess.run(
        [BIN["hsi-ingest"], "--agency", "CDD", "--node-id", "CDD-n1",
         "--key-file", keys["CDD"], "--inbox", os.path.join(tmp, "CDD", "inbox"),
         "--scorer-url", ingest, "--events-url", events, "--once", "true"]
        + tls("CDD"), capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "revision delivered: %s" % r.stderr[-300:])
    new96 = (0.6 + 0.2 + 0.2 + 0.3 + 0.2 + 0.1) / 6
    wait_for(lambda: close(db_composites(url, 1).get("96", 0), new96, 1e-9)
             or None, 30, "Narathiwat rescored after the revision")
    now = hsictl_json(url, "--period", "2024")
    check(close(now["96"]["composite"], new96, 1e-9),
          "hsictl score from the database agrees with the scorer (%s)"
          % now["96"]["composite"])
    old = hsictl_json(url, "--period", "2024", "--as-of", before)
    check(close(old["96"]["composite"], 1.4 / 6, 1e-9),
          "as of before the revision: the old composite (%s)"
          % old["96"]["composite"])
    check(old["96"]["nodes"]["t_health"]["raw"] == 40 and
          now["96"]["nodes"]["t_health"]["raw"] == 60,
          "as_of reads the revision history")

    # A geometric composite, activated live.
    doc = {"format": 2, "name": "e2e geometric", "decimals": 4,
           "tree": {"code": "hsi", "aggregation": "geometric",
                    "min_coverage": 0.5, "children": [
                        {"code": d, "children": [{"indicator": i}]}
                        for d, i in (("health", "t_health"), ("living", "t_living"),
                                     ("education", "t_edu"), ("economy", "t_econ"),
                                     ("services", "t_serv"), ("personal", "t_pers"),
                                     ("political", "t_pol"))]}}
    write(os.path.join(tmp, "geo.json"), json.dumps(doc))
    r = subprocess.run([BIN["hsictl"], "methodology", "add",
                        os.path.join(tmp, "geo.json"), "--activate",
                        "--db-url", url], capture_output=True, text=True)
    check(r.returncode == 0, "methodology stored: %s" % r.stderr)
    version = int(r.stdout.strip())
    check(version == 2, "it is version 2")
    exp10 = math.exp(sum(math.log(x) for x in (.8, .75, .8, .8, .9, .7, .8)) / 7)
    got = wait_for(lambda: db_composites(url, version).get("10"), 30,
                   "rescored under version 2")
    check(close(got, exp10, 1e-9), "Bangkok's geometric composite %.12f (got %s)"
          % (exp10, got))
    check(close(db_composites(url, 1)["10"], 5.55 / 7, 1e-9),
          "version 1's scores stay queryable")
    band = psql(url, "SELECT band FROM score WHERE methodology = 1 AND "
                "period = '2024' AND area = '96' AND code = 'hsi'")
    check(band == "low", "default bands: Narathiwat is 'low' (%s)" % band)


if __name__ == "__main__":
    main()
