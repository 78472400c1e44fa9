#!/usr/bin/python3
"""observations_test.py BUILD SRC: GET /v1/observations,
GET /v1/observations/revisions and GET /metrics of a running hsi-api.

The system comes up as for the contract test (contract_test.Env: private
PostgreSQL, scorer, alerter, two nodes delivering 2023 and 2024, hsi-api with
public_reads off, tokens). Then psql adds indicators of every other frequency
(monthly, fiscal, fiscal-quarterly, daily) with values and revisions, so
period ranges cross frequencies. Each filter is checked against what psql
returns for it: the simple filters in SQL, the period range by an
independent Python reading of docs/periods.md (a period matches when its
first day is on or after period_from's first day and its last day on or
before period_to's last day). Then: many pages with new rows arriving in the
middle (no gaps, no duplicates, order kept), altered and foreign cursors
(400), a correction fed through a node and its revision, CSV with the
declared columns and a working Link, a bad value for every parameter, the
token rules, and /metrics as Prometheus text whose counters move.

No fixed ports. Exit status 0 when every check passed."""
import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract_test import Env, Client  # noqa: E402

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


def equal(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


# ------------------------------------------------------------------ periods

def month_end(y, m):
    return dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1)


def span(p):
    """First and last day of a canonical period."""
    m = re.fullmatch(r"(FY)?(\d{4})(?:Q([1-4]))?", p)
    if m:
        fiscal, y, q = m.group(1), int(m.group(2)), m.group(3)
        start = (y - 1) * 12 + 9 if fiscal else y * 12  # months since 0 AD
        months = 12
        if q:
            start += 3 * (int(q) - 1)
            months = 3
        first = dt.date(start // 12, start % 12 + 1, 1)
        last_m = start + months - 1
        return first, month_end(last_m // 12, last_m % 12 + 1)
    m = re.fullmatch(r"(\d{4})-(\d{2})", p)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        return dt.date(y, mo, 1), month_end(y, mo)
    d = dt.date.fromisoformat(p)
    return d, d


def index_years(p):
    """(year, fyear) as the scorer stores them (docs/periods.md)."""
    m = re.fullmatch(r"(FY)?(\d{4})(?:Q([1-4]))?", p)
    if m:
        y = int(m.group(2))
        if m.group(1) or not m.group(3):
            return y, y
        return y, y + 1 if m.group(3) == "4" else y
    y, mo = int(p[:4]), int(p[5:7])
    return y, y + 1 if mo >= 10 else y


def in_range(p, lo, hi):
    """lo, hi: canonical periods or None."""
    first, last = span(p)
    return (lo is None or first >= span(lo)[0]) and (hi is None or last <= span(hi)[1])


# --------------------------------------------------------------------- data

AREAS = ["10", "11", "12", "50", "55", "65", "73", "80", "90", "96"]
SEEDED = [  # code, frequency, owner, periods
    ("t_obs_m", "monthly", "DOH",
     ["%d-%02d" % (y, m) for y in (2023, 2024) for m in range(1, 13)]),
    ("t_obs_fy", "fiscal", "MOE", ["FY2023", "FY2024", "FY2025"]),
    ("t_obs_fq", "fquarterly", "MOE",
     ["FY%dQ%d" % (y, q) for y in (2024, 2025) for q in range(1, 5)]),
    ("t_obs_d", "daily", "DOH",
     ["2023-09-30", "2023-10-01", "2023-12-31", "2024-01-01", "2024-03-31",
      "2024-06-30", "2024-07-01", "2024-09-30", "2024-10-01", "2024-12-31"]),
]
NOTES = [None, "", "ประมาณการ, รอข้อมูลจริง", 'a "quoted" note', "two\nlines"]


def sql_text(v):
    return "NULL" if v is None else "'" + v.replace("'", "''") + "'"


def seed(env):
    """Indicators of every frequency, their values and a revision each."""
    stmts = []
    for code, freq, owner, periods in SEEDED:
        stmts.append(
            "INSERT INTO indicator (code, dimension, agency, name_th, name_en, "
            "unit, frequency, hard_min, hard_max, rollup_area, rollup_time, "
            "min_subperiods, direction, lo, hi, weight, in_index, definition_th, "
            "definition_en, source) VALUES ('%s', 'health', '%s', 'ทดสอบ', "
            "'test', '%%', '%s', 0, 100, 'wmean', 'mean', 1, 1, 0, 100, 0, "
            "false, 'ทดสอบ', 'test', 'test')" % (code, owner, freq))
        n = 0
        for area in AREAS:
            for p in periods:
                n += 1
                year, fyear = index_years(p)
                status = "M" if n % 17 == 0 else "AEP"[n % 3]
                value = "NULL" if status == "M" else repr(n * 1.25 + 0.1)
                note = sql_text(NOTES[n % len(NOTES)])
                cols = (code, area, p, year, fyear, value, status, note, owner)
                stmts.append(
                    "INSERT INTO observation (indicator, area, period, year, "
                    "fyear, value, status, note, agency, file_id) VALUES "
                    "('%s', '%s', '%s', %d, %d, %s, '%s', %s, '%s', 'seed-1')"
                    % cols)
                stmts.append(
                    "INSERT INTO observation_revision (indicator, area, "
                    "period, year, fyear, value, status, note, agency, "
                    "node_id, file_id) VALUES ('%s', '%s', '%s', %d, %d, %s, "
                    "'%s', %s, '%s', 'seed-n1', 'seed-1')" % cols)
    subprocess.run(["psql", env.url, "-q", "-v", "ON_ERROR_STOP=1", "-1"],
                   input=";\n".join(stmts) + ";\n", text=True, check=True,
                   capture_output=True)


# --------------------------------------------------------------------- HTTP

class Api:
    def __init__(self, base, tokens):
        self.client, self.tokens = Client(base), tokens

    def get(self, target, role="viewer", accept="application/json", retry=True):
        h = {"Accept": accept}
        if role in self.tokens:
            h["Authorization"] = "Bearer " + self.tokens[role]
        elif role is not None:
            h["Authorization"] = "Bearer " + role  # a literal token
        while True:
            r = self.client.request("GET", target, h)
            if r.status != 429 or not retry:
                break
            time.sleep(int(r.header("retry-after") or "1"))
        if r.media_type in ("application/json", "application/problem+json"):
            r.parse_json()
        return r

    def pages(self, path, params, limit=None, role="viewer"):
        """Every item of a listing, following next_cursor; also the
        number of pages. Checks the page shape on the way."""
        items, n = [], 0
        p = dict(params)
        if limit:
            p["limit"] = limit
        target = path + ("?" + urllib.parse.urlencode(p) if p else "")
        while True:
            r = self.get(target, role)
            n += 1
            if not check(r.status == 200 and isinstance(r.json, dict),
                         "%s: %d %r" % (target, r.status, r.body[:300])):
                return None, n
            j = r.json
            check(set(j) == {"items", "next_cursor"}, "%s: keys %s" % (target, sorted(j)))
            items += j["items"]
            if limit:
                check(len(j["items"]) <= limit, "%s: more than limit" % target)
            if j["next_cursor"] is None:
                check(r.header("link") is None, "%s: Link on the last page" % target)
                return items, n
            check(len(j["items"]) == (limit or 1000), "%s: short page before the last" % target)
            check('rel="next"' in (r.header("link") or ""), "%s: no Link" % target)
            q = dict(p)
            q["cursor"] = j["next_cursor"]
            target = path + "?" + urllib.parse.urlencode(q)


def utc_us(text):
    """An RFC 3339 UTC time of the API, in microseconds."""
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z", text or "")
    if not m:
        return None
    d = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=dt.timezone.utc)
    s = int(d.timestamp()) + int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))
    return s * 1000000 + int(((m.group(5) or ".")[1:] + "000000")[:6])


OBS_COLS = ["indicator", "area", "period", "value", "status", "note", "agency",
            "file_id", "updated_at"]
REV_COLS = ["id", "indicator", "area", "period", "value", "status", "note",
            "agency", "node_id", "file_id", "recorded_at"]
COLS = {"observation": OBS_COLS, "observation_revision": REV_COLS}


def reference(env, table, where, lo, hi):
    """What psql has for a filter, in the listing's order, with the
    period range applied in Python; times in microseconds."""
    if table == "observation":
        cols = ", ".join(OBS_COLS[:-1]) + ", (extract(epoch FROM updated_at) * 1e6)::bigint AS t"
        order = "indicator, area, period"
    else:
        cols = ", ".join(REV_COLS[:-1]) + ", (extract(epoch FROM recorded_at) * 1e6)::bigint AS t"
        order = "id"
    rows = json.loads(env.psql(
        "SELECT coalesce(json_agg(x), '[]') FROM (SELECT %s FROM %s WHERE %s ORDER BY %s) x"
        % (cols, table, where or "true", order)))
    return [r for r in rows if in_range(r["period"], lo, hi)]


def same(items, ref, cols, what):
    """API items against reference rows, field by field."""
    if not equal(len(items), len(ref), what + ": row count"):
        have = {(i["indicator"], i["area"], i["period"]) for i in items}
        want = {(r["indicator"], r["area"], r["period"]) for r in ref}
        print("   extra:", sorted(have - want)[:5], "missing:", sorted(want - have)[:5])
        return False
    for i, r in zip(items, ref):
        if set(i) != set(cols):
            return check(False, "%s: keys %s" % (what, sorted(i)))
        for c in cols[:-1]:
            if i[c] != r[c]:
                return check(False, "%s: %s %r, psql %r (%s)" % (what, c, i[c], r[c], i))
        if utc_us(i[cols[-1]]) != r["t"]:
            return check(False, "%s: %s %r, psql %d us" % (what, cols[-1], i[cols[-1]], r["t"]))
    return check(True, what)


# -------------------------------------------------------------------- checks

FILTERS = [  # query, SQL of the simple filters, period range (canonical)
    ({}, None, None, None),
    ({"indicator": "t_obs_m"}, "indicator = 't_obs_m'", None, None),
    ({"area": "TH-50"}, "area = '50'", None, None),
    ({"area": "96", "indicator": "t_health"}, "area = '96' AND indicator = 't_health'", None, None),
    ({"agency": "MOE"}, "indicator IN (SELECT code FROM indicator WHERE agency = 'MOE')", None, None),
    ({"agency": "CDD", "area": "10"}, "area = '10' AND indicator IN "
     "(SELECT code FROM indicator WHERE agency = 'CDD')", None, None),
    ({"period_from": "2024", "period_to": "2024"}, None, "2024", "2024"),
    ({"period_from": "2567"}, None, "2024", None),
    ({"period_to": "FY2024"}, None, None, "FY2024"),
    ({"period_from": "2024Q1", "period_to": "2024-Q2"}, None, "2024Q1", "2024Q2"),
    ({"period_from": "2024-07-01"}, None, "2024-07-01", None),
    ({"period_from": "2023-10", "period_to": "ปีงบประมาณ ๒๕๖๗"}, None, "2023-10", "FY2024"),
    ({"period_from": "FY2024Q2", "period_to": "2024-06-30"}, None, "FY2024Q2", "2024-06-30"),
    ({"period_from": "2023-12-31", "period_to": "2024-01-01"}, None, "2023-12-31", "2024-01-01"),
    ({"period_from": "FY2025Q1", "period_to": "2024"}, None, "FY2025Q1", "2024"),
    ({"indicator": "t_obs_fq", "period_from": "พ.ศ. 2567", "area": "TH-10"},
     "indicator = 't_obs_fq' AND area = '10'", "2024", None),
    ({"indicator": "nothing_here"}, "indicator = 'nothing_here'", None, None),
]


def check_filters(env, api):
    for path, table in (("/v1/observations", "observation"),
                        ("/v1/observations/revisions", "observation_revision")):
        for query, where, lo, hi in FILTERS:
            ref = reference(env, table, where, lo, hi)
            items, _ = api.pages(path, query)
            what = "%s %s" % (path, urllib.parse.urlencode(query))
            if items is not None:
                same(items, ref, COLS[table], what)
        check(len(reference(env, table, None, "2024", "2024")) > 100,
              "%s: the seeded data are there" % table)
    # A period range across frequencies, spelt out once by hand.
    items, _ = api.pages("/v1/observations", {"area": "50", "period_from": "2024Q1",
                                              "period_to": "2024Q2"})
    got = sorted({(i["indicator"], i["period"]) for i in items or []})
    want = sorted([("t_obs_d", "2024-01-01"), ("t_obs_d", "2024-03-31"),
                   ("t_obs_d", "2024-06-30"), ("t_obs_fq", "FY2024Q2"),
                   ("t_obs_fq", "FY2024Q3"), ("t_living", "2024Q1"),
                   ("t_living", "2024Q2")] + [("t_obs_m", "2024-%02d" % m) for m in range(1, 7)])
    equal(got, want, "2024Q1..2024Q2 in area 50 across frequencies")


def check_updated_after(env, api):
    before = env.psql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    time.sleep(0.05)
    env.psql("UPDATE observation SET value = value + 1, updated_at = now() "
             "WHERE indicator = 't_obs_fy' AND area IN ('11', '12') AND status <> 'M'")
    for path, table, col in (("/v1/observations", "observation", "updated_at"),
                             ("/v1/observations/revisions", "observation_revision", "recorded_at")):
        ref = reference(env, table, "%s > '%s'" % (col, before), None, None)
        items, _ = api.pages(path, {"updated_after": before})
        if items is not None:
            same(items, ref, COLS[table], "%s updated_after=%s" % (path, before))
        if table == "observation":
            check(len(ref) >= 4, "the update touched rows (%d)" % len(ref))
    # Another offset for the same instant gives the same rows.
    t = dt.datetime.fromisoformat(before[:-1]).replace(tzinfo=dt.timezone.utc)
    bkk = t.astimezone(dt.timezone(dt.timedelta(hours=7))).isoformat()
    a, _ = api.pages("/v1/observations", {"updated_after": before})
    b, _ = api.pages("/v1/observations", {"updated_after": bkk})
    check(a is not None and a == b, "updated_after in +07:00 is the same instant")
    # Incremental sync: the largest updated_at seen gives nothing newer.
    if a:
        last = max(a, key=lambda i: utc_us(i["updated_at"]))["updated_at"]
        c, _ = api.pages("/v1/observations", {"updated_after": last})
        equal(c, [], "updated_after the newest updated_at")


def check_paging(env, api):
    """Small pages over everything while rows arrive in the middle."""
    for path, table in (("/v1/observations", "observation"),
                        ("/v1/observations/revisions", "observation_revision")):
        ref = reference(env, table, None, None, None)
        items, n = api.pages(path, {}, limit=7)
        if items is not None:
            same(items, ref, COLS[table], "%s in pages of 7" % path)
            check(n == max(1, (len(ref) + 6) // 7), "%s: %d pages for %d rows" % (path, n, len(ref)))
    before = reference(env, "observation", None, None, None)
    key = lambda r: (r["indicator"], r["area"], r["period"])  # noqa: E731
    seen, target, pages, inserted = [], "/v1/observations?limit=11", 0, {}
    while target:
        r = api.get(target)
        if not check(r.status == 200, "paging: %d" % r.status):
            return
        seen += [key(i) for i in r.json["items"]]
        pages += 1
        if pages == 5:
            last = seen[-1]
            # One row sorts behind the cursor, one ahead of it.
            for k in ((before[0]["indicator"], before[0]["area"], "1999"),
                      (before[-1]["indicator"], "96", "2399-12-31")):
                env.psql("INSERT INTO observation (indicator, area, period, year, fyear, "
                         "value, status, agency, file_id) SELECT '%s', '%s', '%s', %d, %d, 1, "
                         "'A', agency, 'late' FROM indicator WHERE code = '%s'"
                         % (k + index_years(k[2]) + (k[0],)))
                ahead = env.psql("SELECT ('%s'::text, '%s'::text, '%s'::text) > "
                                 "('%s'::text, '%s'::text, '%s'::text)" % (k + last))
                inserted[k] = ahead == "t"
        nc = r.json["next_cursor"]
        target = "/v1/observations?" + urllib.parse.urlencode({"limit": 11, "cursor": nc}) if nc else None
    equal(sorted(inserted.values()), [False, True], "one new row behind the cursor, one ahead")
    equal(len(seen), len(set(seen)), "no row twice while rows arrive")
    final = [key(r) for r in reference(env, "observation", None, None, None)]
    pos = {k: i for i, k in enumerate(final)}
    check(all(pos[a] < pos[b] for a, b in zip(seen, seen[1:])), "order kept while rows arrive")
    check(all(key(r) in set(seen) for r in before), "no gap: every earlier row was sent")
    for k, ahead in inserted.items():
        equal(k in set(seen), ahead, "new row %s (ahead of the cursor: %s) sent" % (k, ahead))
    env.psql("DELETE FROM observation WHERE file_id = 'late'")


def tamper(cursor):
    i = len(cursor) // 2
    return cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1:]


def problem(r, status, slug, param, what):
    j = r.json if isinstance(r.json, dict) else {}
    ok = (r.status == status and r.media_type == "application/problem+json"
          and j.get("type", "").endswith("/" + slug) and j.get("parameter") == param
          and j.get("detail"))
    return check(ok, "%s: %d %s %r" % (what, r.status, r.header("content-type"), r.body[:300]))


def check_cursors(env, api):
    for path in ("/v1/observations", "/v1/observations/revisions"):
        r = api.get(path + "?limit=3&indicator=t_obs_m")
        nc = r.json["next_cursor"] if r.status == 200 else None
        if not check(nc, "%s: a cursor" % path):
            continue
        bad = {
            "altered": path + "?" + urllib.parse.urlencode({"limit": 3, "indicator": "t_obs_m", "cursor": tamper(nc)}),
            "other filter": path + "?" + urllib.parse.urlencode({"limit": 3, "indicator": "t_obs_d", "cursor": nc}),
            "no filter": path + "?" + urllib.parse.urlencode({"limit": 3, "cursor": nc}),
            "truncated": path + "?" + urllib.parse.urlencode({"indicator": "t_obs_m", "cursor": nc[:-4]}),
        }
        other = "/v1/observations/revisions" if path == "/v1/observations" else "/v1/observations"
        bad["other listing"] = other + "?" + urllib.parse.urlencode({"limit": 3, "indicator": "t_obs_m", "cursor": nc})
        for what, target in bad.items():
            problem(api.get(target), 400, "invalid-cursor", "cursor", "%s: %s cursor" % (path, what))
        # The same cursor with another page size is fine.
        r = api.get(path + "?" + urllib.parse.urlencode({"limit": 50, "indicator": "t_obs_m", "cursor": nc}))
        check(r.status == 200 and len(r.json["items"]) == 50, "%s: cursor with another limit" % path)


BAD = [  # parameter, value, slug
    ("indicator", "T_health", "invalid-parameter"), ("indicator", "x", "invalid-parameter"),
    ("indicator", "a" * 40, "invalid-parameter"), ("indicator", "", "invalid-parameter"),
    ("area", "TH-5", "invalid-parameter"), ("area", "999", "invalid-parameter"),
    ("area", "th", "invalid-parameter"), ("area", "50'--", "invalid-parameter"),
    ("period_from", "2024Q5", "invalid-parameter"), ("period_from", "FY 2024", "invalid-parameter"),
    ("period_from", "2024-13", "invalid-parameter"), ("period_to", "2024-02-30", "invalid-parameter"),
    ("period_to", "1800", "invalid-parameter"), ("period_to", "2020..2024", "invalid-parameter"),
    ("agency", "cdd", "invalid-parameter"), ("agency", "C", "invalid-parameter"),
    ("updated_after", "yesterday", "invalid-parameter"),
    ("updated_after", "2024-13-01T00:00:00Z", "invalid-parameter"),
    ("updated_after", "2024-01-01T00:00:00", "invalid-parameter"),
    ("limit", "0", "invalid-parameter"), ("limit", "10001", "invalid-parameter"),
    ("limit", "ten", "invalid-parameter"), ("limit", "-1", "invalid-parameter"),
    ("cursor", "!!!", "invalid-parameter"), ("cursor", "", "invalid-parameter"),
    ("cursor", "A" * 600, "invalid-parameter"), ("cursor", "AAAAAAAAAAAA", "invalid-cursor"),
    ("zz", "1", "unknown-parameter"),
]


def check_bad_inputs(env, api):
    for path in ("/v1/observations", "/v1/observations/revisions"):
        for name, value, slug in BAD:
            r = api.get(path + "?" + urllib.parse.urlencode({name: value}))
            problem(r, 400, slug, name, "%s %s=%r" % (path, name, value[:20]))
        r = api.get(path + "?area=10&area=50")
        problem(r, 400, "duplicate-parameter", "area", path + " area twice")
        r = api.get(path + "?period_from=2025&period_to=2024")
        problem(r, 400, "invalid-parameter", "period_to", path + " period_to before period_from")
        r = api.get(path + "?limit=10000")
        check(r.status == 200, "%s limit=10000 (the contract's maximum): %d" % (path, r.status))
        r = api.get(path, accept="text/html")
        check(r.status == 406, "%s Accept: text/html: %d" % (path, r.status))


def check_auth(env, api):
    for path in ("/v1/observations?limit=1", "/v1/observations/revisions?limit=1"):
        r = api.get(path, role=None)
        check(r.status == 401 and (r.header("www-authenticate") or "").startswith("Bearer"),
              "%s without a token: %d" % (path, r.status))
        r = api.get(path, role="hsi_" + "0" * 64)
        check(r.status == 401, "%s with an unknown token: %d" % (path, r.status))
        for role in ("viewer", "agency", "admin"):
            r = api.get(path, role=role)
            check(r.status == 200, "%s as %s: %d" % (path, role, r.status))


def csv_rows(api, path, params, limit):
    """Every CSV row of a listing, following Link; the header rows."""
    rows, headers = [], []
    target = path + "?" + urllib.parse.urlencode(dict(params, limit=limit))
    while target:
        r = api.get(target, accept="text/csv")
        if not check(r.status == 200 and r.media_type == "text/csv",
                     "%s as CSV: %d %s" % (target, r.status, r.header("content-type"))):
            return None, None
        table = list(csv.reader(io.StringIO(r.body.decode("utf-8"))))
        headers.append(table[0])
        rows += table[1:]
        m = re.match(r'<([^>]*)>; rel="next"', r.header("link") or "")
        target = m.group(1) if m else None
        if target:
            check(len(table) - 1 == limit, "CSV page of %d rows before the last" % limit)
    return headers, rows


def check_csv(env, api):
    for path, cols, params in (("/v1/observations", OBS_COLS, {"agency": "MOE"}),
                               ("/v1/observations/revisions", REV_COLS, {"indicator": "t_obs_d"})):
        items, _ = api.pages(path, params)
        headers, rows = csv_rows(api, path, params, 9)
        if items is None or rows is None:
            continue
        check(all(h == cols for h in headers), "%s: CSV header %s" % (path, headers[0]))
        equal(len(rows), len(items), "%s: CSV rows" % path)

        def cell(v):
            return "" if v is None else repr(v) if isinstance(v, float) else str(v)
        bad = [(i, r) for i, r in zip(items, rows)
               if [cell(i[c]) for c in cols if c != "value"] != [r[k] for k, c in enumerate(cols) if c != "value"]
               or (i["value"] is None) != (r[cols.index("value")] == "")
               or (i["value"] is not None and float(r[cols.index("value")]) != i["value"])]
        check(not bad, "%s: CSV rows equal the JSON items: %s" % (path, bad[:1]))
        check(any("\n" in r[cols.index("note")] for r in rows) or path.endswith("revisions"),
              "%s: a note with a line break survives CSV" % path)


def scorer_urls(env):
    argv = env.procs[0].args
    return argv[argv.index("--ingest-listen") + 1], argv[argv.index("--events-listen") + 1]


def check_correction(env, api):
    """A node sends a corrected value: the observation changes, and its
    history shows both values, oldest first."""
    base = {"indicator": "t_health", "area": "TH-10"}
    old, _ = api.pages("/v1/observations", dict(base, period_from="2024", period_to="2024"))
    if not check(old and len(old) == 1 and old[0]["value"] == 82, "t_health 10 2024 before: %s" % old):
        return
    before = old[0]["updated_at"]
    env.write("CDD/inbox/CDD_fix.csv", "indicator,area,period,value,status,note\n"
              "t_health,TH-10,๒๕๖๗,99,E,\"corrected, after review\"\n")
    ingest, events = scorer_urls(env)
    r = subprocess.run([env.bin["hsi-ingest"], "--agency", "CDD", "--node-id", "CDD-n1",
                        "--key-file", os.path.join(env.tmp, "CDD.key"),
                        "--inbox", os.path.join(env.tmp, "CDD", "inbox"),
                        "--scorer-url", ingest, "--events-url", events, "--once", "true"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "correction delivered: %s" % r.stderr[-300:])
    end, now = time.time() + 30, None
    while time.time() < end:
        now, _ = api.pages("/v1/observations", dict(base, period_from="2024", period_to="2024"))
        if now and now[0]["value"] == 99:
            break
        time.sleep(0.2)
    if not check(now and now[0]["value"] == 99, "the correction is served: %s" % now):
        return
    o = now[0]
    check(o["status"] == "E" and o["note"] == "corrected, after review" and o["period"] == "2024"
          and o["agency"] == "CDD" and utc_us(o["updated_at"]) > utc_us(before),
          "the corrected observation: %s" % o)
    revs, _ = api.pages("/v1/observations/revisions", dict(base, period_from="2024", period_to="2024"))
    equal([(x["value"], x["status"], x["note"]) for x in revs or []],
          [(82, "A", None), (99, "E", "corrected, after review")], "revisions of t_health 10 2024")
    if revs and len(revs) == 2:
        a, b = revs
        check(a["id"] < b["id"] and utc_us(a["recorded_at"]) < utc_us(b["recorded_at"]),
              "revisions oldest first")
        check(b["node_id"] == "CDD-n1" and b["file_id"] == o["file_id"] and a["file_id"] != b["file_id"],
              "the revision names the node and the file: %s" % b)
        changed, _ = api.pages("/v1/observations/revisions", {"updated_after": a["recorded_at"],
                                                              "agency": "CDD"})
        equal([x["id"] for x in changed or []], [b["id"]], "revisions recorded after the first")
    changed, _ = api.pages("/v1/observations", {"updated_after": before, "agency": "CDD"})
    equal([(x["indicator"], x["area"], x["period"]) for x in changed or []],
          [("t_health", "10", "2024")], "observations updated after the correction's predecessor")


# ------------------------------------------------------------------ metrics

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? '
                    r'([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|NaN|Inf))$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text 0.0.4, strictly: HELP and TYPE before a family's
    samples, each family in one block. {(name, labels): value}, types."""
    samples, types, helps, order, errors = {}, {}, {}, [], []
    for line in text.split("\n"):
        if not line:
            continue
        m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
        if m:
            kind, name, rest = m.groups()
            d = helps if kind == "HELP" else types
            if name in d:
                errors.append("second %s for %s" % (kind, name))
            d[name] = rest
            if kind == "TYPE" and rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                errors.append("type %s" % rest)
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append("not a sample: %r" % line)
            continue
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        if family not in types or family not in helps:
            errors.append("%s without HELP and TYPE before it" % name)
        if order and order[-1] != family and family in order:
            errors.append("%s not in one block" % family)
        if not order or order[-1] != family:
            order.append(family)
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        if (name, labels) in samples:
            errors.append("%s%s twice" % (name, labels))
        samples[(name, labels)] = float(m.group(4))
    return samples, types, errors


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def check_metrics(env, api):
    r = api.get("/metrics", role=None, accept="text/plain")
    check(r.status == 200 and (r.header("content-type") or "").startswith("text/plain; version=0.0.4"),
          "/metrics: %d %s" % (r.status, r.header("content-type")))
    s0, types, errors = parse_metrics(r.body.decode("utf-8"))
    check(not errors, "/metrics is Prometheus text: %s" % errors[:3])
    for name, t in (("hsi_api_requests_total", "counter"), ("hsi_api_request_duration_seconds", "histogram"),
                    ("hsi_api_rate_limited_total", "counter"), ("hsi_api_db_pool_connections_in_use", "gauge"),
                    ("hsi_api_db_pool_connections_max", "gauge"), ("hsi_api_cache_hits_total", "counter"),
                    ("hsi_api_cache_misses_total", "counter"), ("hsi_api_sse_clients", "gauge"),
                    ("hsi_api_start_time_seconds", "gauge")):
        equal(types.get(name), t, "type of " + name)
    check(abs(metric(s0, "hsi_api_start_time_seconds") - time.time()) < 3600, "start time is recent")
    check(metric(s0, "hsi_api_db_pool_connections_max") >= 1, "pool size")
    for k, v in s0.items():
        if k[0].startswith("hsi_api_request_duration_seconds_bucket"):
            route = dict(k[1])["route"]
            check(v <= metric(s0, "hsi_api_request_duration_seconds_count", route=route), "bucket <= count")
        if dict(k[1]).get("le") == "+Inf":
            route = dict(k[1])["route"]
            equal(v, metric(s0, "hsi_api_request_duration_seconds_count", route=route), "+Inf = count " + route)
    # Requests move their counters.
    ok = dict(route="/v1/observations", method="GET", status="200")
    for _ in range(3):
        api.get("/v1/observations?limit=1")
    api.get("/v1/observations?limit=0")
    api.get("/v1/nothing-here")
    api.get("/v1/index?period=2024")
    api.get("/v1/index?period=2024")
    api.get("/metrics?anything=1", role=None, accept="application/json")
    s1, _, errors = parse_metrics(api.get("/metrics", role=None, accept="text/plain").body.decode("utf-8"))
    check(not errors, "/metrics again: %s" % errors[:3])
    check(metric(s1, "hsi_api_requests_total", **ok) >= metric(s0, "hsi_api_requests_total", **ok) + 3,
          "requests_total of /v1/observations 200 moved by 3")
    bad = dict(route="/v1/observations", method="GET", status="400")
    check(metric(s1, "hsi_api_requests_total", **bad) >= metric(s0, "hsi_api_requests_total", **bad) + 1,
          "requests_total of /v1/observations 400 moved")
    other = dict(route="other", method="GET", status="404")
    check(metric(s1, "hsi_api_requests_total", **other) >= metric(s0, "hsi_api_requests_total", **other) + 1,
          "a request no route matched counts as route other")
    mm = dict(route="/metrics", method="GET", status="200")
    check(metric(s1, "hsi_api_requests_total", **mm) >= 2, "/metrics counts itself (query and Accept ignored)")
    cnt = "hsi_api_request_duration_seconds_count"
    check(metric(s1, cnt, route="/v1/observations") >= metric(s0, cnt, route="/v1/observations") + 4,
          "duration histogram of /v1/observations moved")
    hits = metric(s1, "hsi_api_cache_hits_total") - metric(s0, "hsi_api_cache_hits_total")
    check(hits >= 1, "the second /v1/index was a cache hit (%g)" % hits)
    # Anonymous requests from one address until the limiter says no.
    limited = 0
    for _ in range(2000):
        r = api.get("/v1/observations?limit=1", role=None, retry=False)
        if r.status == 429:
            limited += 1
            if limited == 3:
                break
    check(limited == 3, "the rate limit refused anonymous requests")
    s2, _, _ = parse_metrics(api.get("/metrics", role=None, accept="text/plain").body.decode("utf-8"))
    check(metric(s2, "hsi_api_rate_limited_total") >= metric(s1, "hsi_api_rate_limited_total") + 3,
          "rate_limited_total moved by 3")


def main():
    build, src = sys.argv[1], sys.argv[2]
    keep = "--keep" in sys.argv[3:]
    env = Env(build, src)
    try:
        base, tokens = env.up()
        print("hsi-api at %s" % base, flush=True)
        seed(env)
        api = Api(base, tokens)
        for step in (check_filters, check_updated_after, check_paging, check_cursors,
                     check_bad_inputs, check_auth, check_csv, check_correction, check_metrics):
            t = time.time()
            step(env, api)
            print("%-20s %.1f s" % (step.__name__, time.time() - t), flush=True)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        check(False, "environment: %s %s" % (e, getattr(e, "stderr", "")))
    finally:
        env.down(show_logs=failed > 0, keep=keep)
        print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
