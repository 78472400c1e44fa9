#!/usr/bin/python3
"""quality_test.py BUILD SRC: `hsictl quality` against a private PostgreSQL
(scripts/pg.sh) holding the e2e test catalog, plus a daily national and a
fiscal indicator. Observations and their revisions are written with psql,
with recorded_at set on both sides of each due instant, so the counts,
completeness, timeliness (null before the due instant), due dates and the
roll-up per agency and year are known exactly. Then the refusals: each bad
option exits 2 with a message that names it. No fixed ports."""
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD, SRC = sys.argv[1], sys.argv[2]
HSICTL = os.path.join(BUILD, "services", "hsictl", "hsictl")
BKK = dt.timezone(dt.timedelta(hours=7))
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)


def equal(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


class Db:
    def __init__(self, url):
        self.url = url

    def sql(self, text):
        return subprocess.run(
            ["psql", self.url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
            input=text, check=True, capture_output=True,
            text=True).stdout.strip()


def run(db, *args, env_db=True):
    argv = [HSICTL, "quality"] + list(args)
    env = dict(os.environ)
    env.pop("HSI_DB_URL", None)
    if env_db:
        env["HSI_DB_URL"] = db.url
    return subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=60)


def quality_json(db, *args):
    r = run(db, "--format", "json", *args)
    check(r.returncode == 0, "hsictl quality %s: exit %d: %s"
          % (" ".join(args), r.returncode, r.stderr[-500:]))
    return json.loads(r.stdout) if r.returncode == 0 else {"rows": []}


def ratio(num, den):
    return round(num / den, 4) if den else None


# ---- data ------------------------------------------------------------------

def bkk(y, m, d, hh=9, mm=0, ss=0):
    return "%04d-%02d-%02d %02d:%02d:%02d+07" % (y, m, d, hh, mm, ss)


class Writer:
    """SQL for observation rows and their revisions."""

    def __init__(self):
        self.lines = []

    def obs(self, ind, agency, area, period, value, status="A"):
        year = int(period[2:6] if period.startswith("FY") else period[:4])
        self.lines.append(
            "INSERT INTO observation(indicator, area, period, year, fyear, "
            "value, status, agency, file_id) VALUES ('%s', '%s', '%s', %d, "
            "%d, %s, '%s', '%s', 'f-test');"
            % (ind, area, period, year, year,
               "NULL" if value is None else value, status, agency))

    def rev(self, ind, agency, area, period, value, at, status="A"):
        self.lines.append(
            "INSERT INTO observation_revision(indicator, area, period, "
            "value, status, agency, node_id, file_id, recorded_at) VALUES "
            "('%s', '%s', '%s', %s, '%s', '%s', 'n-test', 'f-test', %s);"
            % (ind, area, period, "NULL" if value is None else value,
               status, agency, at))

    def value(self, ind, agency, area, period, at, value=50):
        """One value that arrived at `at` (an SQL time expression)."""
        self.obs(ind, agency, area, period, value)
        self.rev(ind, agency, area, period, value, at)


def q(s):
    return "'%s'" % s


def load_fixed(db, prov, region):
    """Data whose due instants are all in the past (2023 and 2024)."""
    w = Writer()
    # t_health 2022: all 77 on time.
    for a in prov:
        w.value("t_health", "CDD", a, "2022", q(bkk(2023, 2, 1)))
    # t_health 2023: 2023-12-31 + 90 days, across 29 February, is due
    # 2024-03-30 (instant 2024-03-31 00:00+07).
    for a in prov[0:58]:
        w.value("t_health", "CDD", a, "2023", q(bkk(2024, 3, 1)))
    w.value("t_health", "CDD", prov[58], "2023",
            q(bkk(2024, 3, 31, 0, 0, 0)))  # at the due instant: on time
    w.value("t_health", "CDD", prov[59], "2023",
            q(bkk(2024, 3, 31, 0, 0, 1)))  # one second late
    # On time, corrected later: the first arrival counts.
    w.value("t_health", "CDD", prov[60], "2023", q(bkk(2024, 3, 15)))
    w.rev("t_health", "CDD", prov[60], "2023", 51, q(bkk(2024, 6, 1)))
    # Reported missing before the due date, the value came late.
    w.obs("t_health", "CDD", prov[61], "2023", 50)
    w.rev("t_health", "CDD", prov[61], "2023", None, q(bkk(2024, 3, 15)),
          "M")
    w.rev("t_health", "CDD", prov[61], "2023", 50, q(bkk(2024, 5, 1)))
    for a in prov[62:70]:
        w.value("t_health", "CDD", a, "2023", q(bkk(2024, 5, 1)))
    # Reported missing: not present.
    w.obs("t_health", "CDD", prov[70], "2023", None, "M")
    w.rev("t_health", "CDD", prov[70], "2023", None, q(bkk(2024, 3, 1)), "M")
    # prov[71:77]: nothing. A region's value is not an expected one.
    w.value("t_health", "CDD", region, "2023", q(bkk(2024, 3, 1)))
    # t_living 2023Q4 complete on time; 2024Q1 (due 2024-05-15) half there,
    # half of that on time.
    for a in prov:
        w.value("t_living", "CDD", a, "2023Q4", q(bkk(2024, 1, 20)))
    for a in prov[0:20]:
        w.value("t_living", "CDD", a, "2024Q1", q(bkk(2024, 5, 10)))
    for a in prov[20:40]:
        w.value("t_living", "CDD", a, "2024Q1", q(bkk(2024, 6, 1)))
    for a in prov:
        w.value("t_edu", "DLA", a, "2023", q(bkk(2024, 2, 1)))
        # FY2024 ends 2024-09-30: due 2024-12-29, or that day with grace 0.
        w.value("t_fisc", "DLA", a, "FY2024", q(bkk(2024, 10, 15)))
    # Daily, national (one expected value), grace 2 days.
    w.value("t_daily", "MSDHS", "TH", "2024-03-01", q(bkk(2024, 3, 2)))
    w.value("t_daily", "MSDHS", "TH", "2024-03-02", q(bkk(2024, 3, 10)))
    w.obs("t_daily", "MSDHS", "TH", "2024-03-04", None, "M")
    w.rev("t_daily", "MSDHS", "TH", "2024-03-04", None, q(bkk(2024, 3, 5)),
          "M")
    db.sql("BEGIN;\n" + "\n".join(w.lines) + "\nCOMMIT;")


def add_indicators(db):
    cols = ("code, dimension, agency, name_th, name_en, unit, frequency, "
            "hard_min, hard_max, rollup_area, rollup_time, min_subperiods, "
            "direction, lo, hi, weight, in_index, definition_th, "
            "definition_en, source")
    db.sql("INSERT INTO indicator(%s) VALUES "
           "('t_daily', 'services', 'MSDHS', 'ทดสอบรายวัน', 'Test daily', "
           "'calls', 'daily', 0, 1000, 'national', 'sum', 1, -1, 0, 100, 1, "
           "false, 'ทดสอบ', 'test', 'test'), "
           "('t_fisc', 'education', 'DLA', 'ทดสอบปีงบ', 'Test fiscal', '%%', "
           "'fiscal', 0, 100, 'wmean', 'last', 1, 1, 0, 100, 1, false, "
           "'ทดสอบ', 'test', 'test')" % cols)


# ---- checks ----------------------------------------------------------------

def by_key(rows):
    return {(r["indicator"], r["period"]): r for r in rows}


def expect_row(rows, ind, period, due, exp, pres, on_time, status,
               last=None, timely=True):
    r = rows.get((ind, period))
    if r is None:
        check(False, "a row for %s %s" % (ind, period))
        return
    what = "%s %s" % (ind, period)
    equal((r["due"], r["expected"], r["present"], r["on_time"]),
          (due, exp, pres, on_time), what + " due, expected, present, on_time")
    equal(r["completeness"], ratio(pres, exp), what + " completeness")
    equal(r["timeliness"], ratio(on_time, exp) if timely else None,
          what + " timeliness")
    equal(r["status"], status, what + " status")
    equal(r["last_arrival"], last, what + " last_arrival")


def test_by_indicator(db):
    doc = quality_json(db, "--by", "indicator", "--from", "2023-01-01",
                       "--to", "2024-12-31")
    rows = doc["rows"]
    equal((doc["by"], doc["from"], doc["to"]),
          ("indicator", "2023-01-01", "2024-12-31"), "window echoed")
    equal(doc["grace_days"], {"annual": 90, "fiscal": 90, "quarterly": 45,
                              "fquarterly": 45, "monthly": 30, "daily": 2},
          "default grace")
    # 6 annual x 2 years, 8 quarters, 2 fiscal years, 731 days.
    equal(len(rows), 12 + 8 + 2 + 731, "rows in the window")
    order = [(r["agency"], r["indicator"]) for r in rows]
    check(order == sorted(order), "rows sorted by agency and indicator")
    dues = [r["due"] for r in rows if r["indicator"] == "t_living"]
    equal(dues, ["2023-02-14", "2023-05-15", "2023-08-14", "2023-11-14",
                 "2024-02-14", "2024-05-15", "2024-08-14", "2024-11-14"],
          "quarterly due dates in order")
    equal([r["period"] for r in rows if r["indicator"] == "t_daily"][:3],
          ["2022-12-30", "2022-12-31", "2023-01-01"], "first daily periods")
    k = by_key(rows)
    expect_row(k, "t_health", "2022", "2023-03-31", 77, 77, 77, "complete",
               "2023-02-01T09:00:00+07:00")
    expect_row(k, "t_health", "2023", "2024-03-30", 77, 70, 60, "late",
               "2024-05-01T09:00:00+07:00")
    equal(k[("t_health", "2023")]["due_at"], "2024-03-31T00:00:00+07:00",
          "due instant: end of the due day in Bangkok")
    expect_row(k, "t_econ", "2023", "2024-03-30", 77, 0, 0, "late")
    expect_row(k, "t_living", "2023Q4", "2024-02-14", 77, 77, 77,
               "complete", "2024-01-20T09:00:00+07:00")
    expect_row(k, "t_living", "2024Q1", "2024-05-15", 77, 40, 20, "late",
               "2024-06-01T09:00:00+07:00")
    expect_row(k, "t_edu", "2023", "2024-03-30", 77, 77, 77, "complete",
               "2024-02-01T09:00:00+07:00")
    expect_row(k, "t_fisc", "FY2024", "2024-12-29", 77, 77, 77, "complete",
               "2024-10-15T09:00:00+07:00")
    expect_row(k, "t_fisc", "FY2023", "2023-12-29", 77, 0, 0, "late")
    expect_row(k, "t_daily", "2024-03-01", "2024-03-03", 1, 1, 1,
               "complete", "2024-03-02T09:00:00+07:00")
    expect_row(k, "t_daily", "2024-03-02", "2024-03-04", 1, 1, 0,
               "complete", "2024-03-10T09:00:00+07:00")
    expect_row(k, "t_daily", "2024-03-03", "2024-03-05", 1, 0, 0, "late")
    expect_row(k, "t_daily", "2024-03-04", "2024-03-06", 1, 0, 0, "late")
    equal(k[("t_daily", "2024-03-01")]["frequency"], "daily", "frequency")
    return rows


def sums(rows):
    """The roll-up computed here from the indicator rows."""
    out = {}
    for r in rows:
        p = r["period"]
        year = int(p[2:6] if p.startswith("FY") else p[:4])
        s = out.setdefault((r["agency"], year), [0, 0, 0, 0, 0, 0])
        s[0] += 1
        s[1] += r["expected"]
        s[2] += r["present"]
        if r["timeliness"] is not None:
            s[3] += r["expected"]
            s[4] += r["on_time"]
            s[5] += r["present"] < r["expected"]
    return out


def test_by_agency(db, indicator_rows):
    doc = quality_json(db, "--from", "2023-01-01", "--to", "2024-12-31")
    got = {(r["agency"], r["year"]): r for r in doc["rows"]}
    equal(doc["by"], "agency", "--by agency is the default")
    want = {
        ("CDD", 2022): (3, 231, 77, 231, 77, 2),
        ("CDD", 2023): (6, 462, 147, 462, 137, 5),
        ("CDD", 2024): (3, 231, 40, 231, 20, 3),
        ("DLA", 2022): (1, 77, 0, 77, 0, 1),
        ("DLA", 2023): (2, 154, 77, 154, 77, 1),
        ("DLA", 2024): (1, 77, 77, 77, 77, 0),
        ("MSDHS", 2022): (2, 2, 0, 2, 0, 2),
        ("MSDHS", 2023): (365, 365, 0, 365, 0, 365),
        ("MSDHS", 2024): (364, 364, 2, 364, 1, 362),
    }
    for key, (pairs, exp, pres, exp_due, on_time, late) in want.items():
        r = got.get(key)
        if r is None:
            check(False, "an agency row for %s %d" % key)
            continue
        equal((r["pairs"], r["expected"], r["present"], r["expected_due"],
               r["on_time"], r["late"]),
              (pairs, exp, pres, exp_due, on_time, late), "%s %d" % key)
        equal(r["completeness"], ratio(pres, exp), "%s %d completeness" % key)
        equal(r["timeliness"], ratio(on_time, exp_due),
              "%s %d timeliness" % key)
    # Every agency row is the sum of its indicator rows.
    mine = sums(indicator_rows)
    equal(sorted(got), sorted(mine), "agency rows = agencies x years")
    for key, s in mine.items():
        r = got.get(key, {})
        equal([r.get(f) for f in ("pairs", "expected", "present",
                                  "expected_due", "on_time", "late")],
              s, "%s %d is the sum of its rows" % key)
    equal([(r["agency"], r["year"]) for r in doc["rows"]], sorted(got),
          "agency rows sorted")
    # The same as CSV, with the columns in their documented order.
    r = run(db, "--from", "2023-01-01", "--to", "2024-12-31")
    lines = r.stdout.splitlines()
    equal(lines[0], "agency,year,pairs,expected,present,completeness,"
          "expected_due,on_time,timeliness,late", "agency CSV header")
    check("CDD,2023,6,462,147,0.3182,462,137,0.2965,5" in lines,
          "CDD 2023 as CSV: %s" % [x for x in lines if x.startswith("CDD")])


def test_grace(db):
    doc = quality_json(db, "--by", "indicator", "--agency", "DLA",
                       "--from", "2024-01-01", "--to", "2024-12-31",
                       "--grace", "fiscal=10", "--grace", "fiscal=0")
    k = by_key(doc["rows"])
    equal(doc["grace_days"]["fiscal"], 0, "the last --grace wins")
    equal(sorted(k), [("t_edu", "2023"), ("t_fisc", "FY2024")],
          "DLA's rows due in 2024 with fiscal=0")
    # Due on its last day now, and the values of 15 Oct are late.
    expect_row(k, "t_fisc", "FY2024", "2024-09-30", 77, 77, 0, "complete",
               "2024-10-15T09:00:00+07:00")
    expect_row(k, "t_edu", "2023", "2024-03-30", 77, 77, 77, "complete",
               "2024-02-01T09:00:00+07:00")


def today_bkk():
    return dt.datetime.now(BKK).date()


def test_not_yet_due(db):
    """Periods around today: timeliness is null until the due instant."""
    t = today_bkk()
    day = lambda n: (t + dt.timedelta(days=n)).isoformat()
    w = Writer()
    w.value("t_daily", "MSDHS", "TH", day(-5), "now()")  # after its due
    w.value("t_daily", "MSDHS", "TH", day(3), "now()")   # before its due
    db.sql("BEGIN;\n" + "\n".join(w.lines) + "\nCOMMIT;")
    args = ("--by", "indicator", "--agency", "MSDHS", "--from", day(-3),
            "--to", day(12))
    k = by_key(quality_json(db, *args)["rows"])
    equal(len(k), 16, "daily rows due from today-3 to today+12")
    expect_row(k, "t_daily", day(-5), day(-3), 1, 1, 0, "complete",
               k.get(("t_daily", day(-5)), {}).get("last_arrival"))
    expect_row(k, "t_daily", day(-4), day(-2), 1, 0, 0, "late")
    expect_row(k, "t_daily", day(3), day(5), 1, 1, 1, "complete",
               k.get(("t_daily", day(3)), {}).get("last_arrival"),
               timely=False)
    expect_row(k, "t_daily", day(4), day(6), 1, 0, 0, "due_soon",
               timely=False)
    expect_row(k, "t_daily", day(10), day(12), 1, 0, 0, "open",
               timely=False)
    last = k.get(("t_daily", day(3)), {}).get("last_arrival")
    check(last is not None and abs(dt.datetime.fromisoformat(last)
                                   - dt.datetime.now(BKK)).total_seconds()
          < 600, "last arrival is the insert's now(): %r" % last)
    # CSV: an empty cell where timeliness does not apply yet.
    r = run(db, *args)
    lines = r.stdout.splitlines()
    equal(lines[0], "agency,indicator,period,due,expected,present,on_time,"
          "completeness,timeliness,status", "indicator CSV header")
    check("MSDHS,t_daily,%s,%s,1,1,1,1.0000,,complete" % (day(3), day(5))
          in lines, "not yet due as CSV")
    check("MSDHS,t_daily,%s,%s,1,0,0,0.0000,0.0000,late" % (day(-4), day(-2))
          in lines, "late as CSV")
    # The default window: the 400 days up to today.
    doc = quality_json(db, "--agency", "MSDHS")
    to = dt.date.fromisoformat(doc["to"])
    check(abs((to - today_bkk()).days) <= 1, "default --to is today")
    equal((to - dt.date.fromisoformat(doc["from"])).days, 400,
          "default window length")


def test_refusals(db):
    bad = [
        (["--bogus"], "--bogus"),
        (["--grace", "monthly"], "--grace"),
        (["--grace", "weekly=3"], "--grace 'weekly=3': unknown frequency"),
        (["--grace", "monthly=3661"], "--grace"),
        (["--grace", "monthly=-1"], "--grace"),
        (["--from", "1990", "--to", "2050"], "--from/--to"),
        (["--from", "2025-01-01", "--to", "2024-01-01"], "--from/--to"),
        # 15 years is fine but for daily periods: the daily indicator.
        (["--from", "2010", "--to", "2024"], "daily indicator"),
        (["--from", "2024-02-30"], "--from"),
        (["--to", "yesterday"], "--to"),
        (["--by", "area"], "--by"),
        (["--format", "xml"], "--format"),
        (["--agency", "doh"], "--agency"),
        (["--from"], "--from"),
        (["extra"], "unexpected argument 'extra'"),
    ]
    for args, says in bad:
        r = run(db, *args)
        check(r.returncode == 2 and says in r.stderr and r.stdout == "",
              "%s: exit %d (want 2), stderr %r (want %r)"
              % (args, r.returncode, r.stderr[-300:], says))
    r = run(db, "--from", "2010", "--to", "2024", "--agency", "CDD")
    equal(r.returncode, 0, "15 years without a daily indicator")
    r = run(db, "--agency", "NOPE")
    check(r.returncode == 1 and "NOPE" in r.stderr,
          "unknown agency: exit %d, %r" % (r.returncode, r.stderr))
    r = run(db, env_db=False)
    check(r.returncode == 2 and "--db-url" in r.stderr,
          "no database: exit %d, %r" % (r.returncode, r.stderr))
    r = run(db, "--help")
    check(r.returncode == 0 and r.stdout.startswith("usage: hsictl quality"),
          "--help")
    r = subprocess.run([HSICTL, "--help"], capture_output=True, text=True)
    check("quality" in r.stdout, "hsictl --help lists quality")


def main():
    tmp = tempfile.mkdtemp(prefix="hsi-quality-")
    os.chmod(tmp, 0o755)
    pg_dir = os.path.join(tmp, "pg")
    pg_sh = os.path.join(SRC, "scripts", "pg.sh")
    url = subprocess.run(["bash", pg_sh, "start", pg_dir], check=True,
                         capture_output=True, text=True).stdout.strip()
    db = Db(url)
    try:
        for args in (["migrate"], ["catalog", "load", os.path.join(
                SRC, "tests", "e2e", "catalog.csv")]):
            subprocess.run([HSICTL] + args + ["--db-url", url], check=True,
                           capture_output=True)
        add_indicators(db)
        equal(db.sql("SELECT string_agg(code, ' ' ORDER BY code) "
                     "FROM indicator"),
              "t_daily t_econ t_edu t_fisc t_health t_living t_pers t_pol "
              "t_serv", "the test catalog")
        prov = db.sql("SELECT code FROM area WHERE level = 'province' "
                      "ORDER BY code").split()
        equal(len(prov), 77, "provinces")
        region = db.sql("SELECT min(code) FROM area WHERE level = 'region'")
        load_fixed(db, prov, region)
        rows = test_by_indicator(db)
        test_by_agency(db, rows)
        test_grace(db)
        test_not_yet_due(db)
        test_refusals(db)
    finally:
        subprocess.run(["bash", pg_sh, "destroy", pg_dir],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
