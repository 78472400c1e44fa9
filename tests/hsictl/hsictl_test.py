#!/usr/bin/python3
"""hsictl score and sensitivity from files: refusals that say what and
where, and the Monte Carlo's behaviour (docs/methodology.md §7, §9).

Usage: hsictl_test.py HSICTL
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile

HSICTL = sys.argv[1]
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)


def run(*args):
    return subprocess.run([HSICTL] + list(args), capture_output=True, text=True)


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


METHOD = {"format": 2, "name": "t", "rank_level": "province", "decimals": 4,
          "tree": {"code": "hsi", "children": [
              {"code": "a", "children": [{"indicator": "xa", "lo": 0, "hi": 100},
                                         {"indicator": "xb", "lo": 0, "hi": 100}]},
              {"code": "b", "children": [{"indicator": "xc", "lo": 0, "hi": 100}]}]}}
AREAS = "code,parent,level,population\nTH,,nation,\nP1,TH,province,10\nP2,TH,province,20\nP3,TH,province,30\nP4,TH,province,40\n"


def data(rows):
    return "area,indicator,period,value\n" + "".join("%s,%s,%s,%s\n" % r for r in rows)


def main():
    with tempfile.TemporaryDirectory() as d:
        m = write(d, "m.json", json.dumps(METHOD))
        a = write(d, "a.csv", AREAS)
        # P1 and P2 are close on a and far apart on b, so weights matter.
        vals = {"P1": (60, 60, 20), "P2": (30, 30, 50), "P3": (80, 80, 80),
                "P4": (10, 10, 10)}
        rows = [(p, i, "2566", v[k]) for p, v in vals.items()
                for k, i in enumerate(("xa", "xb", "xc"))]
        dd = write(d, "d.csv", data(rows))

        r = run("score", "--methodology", m, "--areas", a, "--data", dd,
                "--format", "json", "--period", "2023")
        check(r.returncode == 0, "score runs: %s" % r.stderr)
        res = {x["area"]: x for x in json.loads(r.stdout)["results"]}
        check(res["P3"]["rank"] == 1 and res["P4"]["rank"] == 4,
              "BE 2566 is 2023 and ranks follow composites")
        # TH: population-weighted mean of the provinces.
        xc = (10 * 20 + 20 * 50 + 30 * 80 + 40 * 10) / 100
        check(abs(res["TH"]["nodes"]["xc"]["raw"] - xc) < 1e-9,
              "nation rolled up by population (%s)" % res["TH"]["nodes"]["xc"]["raw"])

        # Refusals: what, where, what to do.
        bad = write(d, "bad_area.csv", data([("P1", "xa", "2023", 1), ("P9", "xa", "2023", 2)]))
        r = run("score", "--methodology", m, "--areas", a, "--data", bad)
        check(r.returncode == 1 and "bad_area.csv:3: area: 'P9'" in r.stderr,
              "unknown area names file:line: %s" % r.stderr)
        bad = write(d, "bad_period.csv", data([("P1", "xa", "2023-13", 1)]))
        r = run("score", "--methodology", m, "--areas", a, "--data", bad)
        check(r.returncode == 1 and "bad_period.csv:2: period:" in r.stderr,
              "bad period names file:line: %s" % r.stderr)
        bad = write(d, "bad_value.csv", data([("P1", "xa", "2023", "1,5")]))
        r = run("score", "--methodology", m, "--areas", a, "--data", bad)
        check(r.returncode == 1 and "expected 4 fields" in r.stderr
              or "value:" in r.stderr, "bad value refused: %s" % r.stderr)
        bad = write(d, "bad_value2.csv", data([("P1", "xa", "2023", "abc")]))
        r = run("score", "--methodology", m, "--areas", a, "--data", bad)
        check(r.returncode == 1 and "bad_value2.csv:2: value: 'abc'" in r.stderr,
              "non-number value names file:line: %s" % r.stderr)
        mm = dict(METHOD, tree=dict(METHOD["tree"], aggregation="median"))
        bm = write(d, "bad_m.json", json.dumps(mm))
        r = run("score", "--methodology", bm, "--areas", a, "--data", dd)
        check(r.returncode == 1 and "tree: aggregation \"median\"" in r.stderr,
              "methodology refusal names the JSON path: %s" % r.stderr)
        ba = write(d, "bad_a.csv", AREAS + "P5,XX,province,1\n")
        r = run("score", "--methodology", m, "--areas", ba, "--data", dd)
        check(r.returncode == 1 and "parent XX" in r.stderr,
              "unknown parent refused: %s" % r.stderr)
        r = run("score", "--methodology", m, "--areas", a, "--data", dd,
                "--period", "2030")
        check(r.returncode == 1 and "no data for 2030 (the data cover 2023 "
              "to 2023)" in r.stderr, "a period without data is said: %s"
              % r.stderr)
        r = run("score", "--methodology", m, "--areas", a, "--data", dd,
                "--repeat", "many")
        check(r.returncode == 2 and "--repeat 'many'" in r.stderr,
              "a bad number is refused: %s" % r.stderr)
        r = run("score", "--methodology", m, "--areas", a, "--data", dd, "--bogus")
        check(r.returncode == 2, "unknown option is a usage error")

        # Sensitivity: no spread, no uncertainty.
        r = run("sensitivity", "--methodology", m, "--areas", a, "--data", dd,
                "--runs", "50", "--weight-spread", "0", "--format", "json")
        check(r.returncode == 0, "sensitivity runs: %s" % r.stderr)
        s = json.loads(r.stdout)
        check(s["mean_abs_rank_shift"] == 0 and all(
            x["rank_p05"] == x["nominal_rank"] == x["rank_p95"] for x in s["areas"]),
            "spread 0: every interval is the nominal rank")
        # With spread, P1 and P2 swap in some runs, P3 and P4 never move.
        r = run("sensitivity", "--methodology", m, "--areas", a, "--data", dd,
                "--runs", "400", "--weight-spread", "0.9", "--seed", "7",
                "--format", "json")
        s = json.loads(r.stdout)
        by = {x["area"]: x for x in s["areas"]}
        check(by["P3"]["rank_p05"] == by["P3"]["rank_p95"] == 1 and
              by["P4"]["rank_p05"] == by["P4"]["rank_p95"] == 4,
              "clear leader and laggard keep their ranks: %s" % by)
        check(by["P1"]["rank_p05"] == 2 and by["P1"]["rank_p95"] == 3 and
              by["P2"]["rank_p05"] == 2 and by["P2"]["rank_p95"] == 3,
              "the close pair swaps under weight changes: %s" % by)
        check(0 < s["mean_abs_rank_shift"] < 1, "mean shift %s" % s["mean_abs_rank_shift"])
        again = run("sensitivity", "--methodology", m, "--areas", a, "--data", dd,
                    "--runs", "400", "--weight-spread", "0.9", "--seed", "7",
                    "--format", "json")
        check(again.stdout == r.stdout, "same seed, same result")
        r = run("sensitivity", "--methodology", m, "--areas", a, "--data", dd,
                "--runs", "100", "--normalisations")
        check(r.returncode == 0 and len(list(csv.DictReader(io.StringIO(r.stdout)))) == 4,
              "normalisation draws run, CSV has one row per province: %s" % r.stderr)
        r = run("sensitivity", "--methodology", m, "--areas", a, "--data", dd,
                "--weight-spread", "1.5")
        check(r.returncode == 2, "spread outside [0,1) is a usage error")

        # methodology check prints the filled document.
        r = run("methodology", "check", m)
        doc = json.loads(r.stdout)
        check(r.returncode == 0 and doc["tree"]["children"][0]["children"][0]["weight"] == 1
              and doc["rank_on"] == "published", "check prints the filled document")
    print("hsictl_test: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
