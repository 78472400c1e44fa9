#!/usr/bin/python3
"""The alert and data-quality endpoints of hsi-api against a real system.

    alerts_test.py BUILD_DIR SOURCE_DIR [--keep] [--verbose]

Starts the system of tests/api/contract_test.py (PostgreSQL, scorer,
alerter with its built-in composite_low rule, two nodes' data, hsi-api with
public_reads off; rate limiting off here), inserts alert rows with psql as
tests/alerting/ops_test.py does, then checks every alert, silence and
quality operation of openapi.yaml: answers against the contract's schemas
and against hsictl (alerts list, silence list, quality) on the same data;
list filters, cursors and CSV; acknowledgements with their columns, events
and audit_log rows; silences created, listed, read and expired;
Idempotency-Key (replay, reuse, in flight, per token, expiry); a bad value
for every parameter and body field; and every role on every write.

Alerts inserted (rule names of their own, so the alerter leaves them be):
  A   api_t    firing    area 55   0.41
  B   api_t    pending   area 10   0.44
  C   api_t    resolved  area 50   0.47
  D1  api_late firing    agency CDD, no area (D1 and D2 share 10 digits)
  D2  api_late firing    agency DOH, no area
  E   api_det  firing    area 56   0.38
"""
import csv
import datetime
import hashlib
import io
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import contract_test as ct  # noqa: E402
from contract_test import Env, Client  # noqa: E402


def fp(text):
    return hashlib.sha256(text.encode()).hexdigest()


FP = {"A": fp("api_t|55"), "B": fp("api_t|10"), "C": fp("api_t|50"),
      "E": fp("api_det|56"),
      "D1": "abcdef0123" + fp("d1")[10:], "D2": "abcdef0123" + fp("d2")[10:]}
ROWS = [  # key, rule, kind, state, labels, summary_th, value, minutes ago
    ("A", "api_t", "score", "firing", {"area": "55", "period": "2024"},
     "น่าน: ดัชนีรวม 0.4100 ต่ำกว่าเกณฑ์ 0.45 ปี 2567", 0.41, 11),
    ("B", "api_t", "score", "pending", {"area": "10", "period": "2024"},
     "กรุงเทพมหานคร: ดัชนีรวม 0.4400", 0.44, 12),
    ("D1", "api_late", "late_data", "firing", {"agency": "CDD"},
     "กรมควบคุมโรค ส่งข้อมูลล่าช้า", None, 13),
    ("D2", "api_late", "late_data", "firing", {"agency": "DOH"},
     "กรมอนามัย ส่งข้อมูลล่าช้า", None, 14),
    ("E", "api_det", "score", "firing", {"area": "56", "period": "2024"},
     "พะเยา: ดัชนีรวม ลดลง", 0.38, 15),
    ("C", "api_t", "score", "resolved", {"area": "50", "period": "2024"},
     "เชียงใหม่: ไม่ต่ำกว่าเกณฑ์แล้ว", 0.47, 16),
]
ALERT_CSV = ["fingerprint", "state", "rule", "kind", "area", "period", "value",
             "threshold", "starts_at", "ends_at", "updated_at", "acked_by",
             "summary_th", "summary_en"]
QUALITY_CSV = {
    "agency": ["agency", "year", "pairs", "expected", "present", "completeness",
               "expected_due", "on_time", "timeliness", "late"],
    "indicator": ["agency", "indicator", "period", "due", "expected", "present",
                  "on_time", "completeness", "timeliness", "status"]}


def check(cond, what):
    if cond:
        ct.ok(what)
    else:
        ct.fail(what)
    return cond


def q(s):
    return "'" + s.replace("'", "''") + "'"


class ApiEnv(Env):
    """contract_test's system, with hsi-api's rate limit off: this test
    sends a few hundred requests a second with one token."""

    def start(self, name, argv):
        if name == "hsi-api":
            argv = argv + ["--rate-limit", "0"]
        return super().start(name, argv)


class T:
    def __init__(self, env, base, tokens, spec):
        self.env, self.client, self.tokens, self.spec = env, Client(base), dict(tokens), spec
        self.runner = ct.Runner(spec, self.client, tokens, False, False, True)
        self.ops = {o.get("operationId"): (p, m, o) for p, m, o, _ in spec.operations()}

    # -- HTTP
    def req(self, method, target, role="viewer", body=None, headers=None,
            oid=None, ctype="application/json", accept=None):
        h = dict(headers or {})
        if role == "bad":
            h["Authorization"] = "Bearer hsi_" + "0" * 64
        elif role:
            h["Authorization"] = "Bearer " + self.tokens[role]
        if accept:
            h["Accept"] = accept
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if body is not None and ctype:
            h.setdefault("Content-Type", ctype)
        r = self.client.request(method, target, h, body)
        if r.media_type in ct.JSON_TYPES:
            r.parse_json()
        if oid:
            self.runner.check_reply("%s %s" % (method, target), self.ops[oid][2], r)
        return r

    def problem(self, r, status, slug, what, parameter=None, field=None):
        j = r.json if isinstance(r.json, dict) else {}
        good = (r.status == status and r.media_type == "application/problem+json"
                and j.get("type", "").endswith("/" + slug)
                and (parameter is None or j.get("parameter") == parameter)
                and (field is None or j.get("field") == field)
                and bool(j.get("detail")))
        return check(good, "%s: %d %s%s%s (got %d %s)" % (
            what, status, slug, " parameter=" + parameter if parameter else "",
            " field=" + field if field else "", r.status, json.dumps(j, ensure_ascii=False)[:300]))

    # -- the database and hsictl
    def psql(self, sql):
        return self.env.psql(sql)

    def ctl_json(self, *args):
        r = self.env.ctl(*args)
        if not check(r.returncode == 0, "hsictl %s: exit %d %s" % (" ".join(args), r.returncode, r.stderr[-300:])):
            return None
        return json.loads(r.stdout)


# ------------------------------------------------------------------ setup

def insert_alerts(t):
    for key, rule, kind, state, lb, th, value, ago in ROWS:
        labels = dict(lb, alertname=rule, rule=rule, methodology=1)
        ann = {"summary": "%s alert %s" % (rule, key), "summary_th": th}
        t.psql("INSERT INTO alert (fingerprint, rule, kind, labels, annotations,"
               " state, value, threshold, starts_at, ends_at, updated_at) VALUES"
               " (%s, %s, %s, %s, %s, %s, %s, 0.45, now() - interval '1 day', %s,"
               " now() - interval '%d minutes')"
               % (q(FP[key]), q(rule), q(kind),
                  q(json.dumps(labels)), q(json.dumps(ann, ensure_ascii=False)),
                  q(state), "NULL" if value is None else value,
                  "now()" if state == "resolved" else "NULL", ago))


def same(a, b):
    """Equal JSON, numbers to 15 significant digits (hsictl prints 15,
    the API 17, as the contract says)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and abs(a - b) <= 1e-14 * max(abs(a), abs(b), 1))
    return a == b


def fps(items):
    return [i["fingerprint"] for i in items]


# ------------------------------------------------------------------ alerts

def test_list(t):
    full = t.req("GET", "/v1/alerts?state=all&limit=10000", oid="listAlerts")
    mine = t.ctl_json("alerts", "list", "--format", "json", "--state", "all", "--limit", "10000")
    items = full.json["items"] if full.status == 200 else []
    check(set(FP.values()) <= set(fps(items)), "state=all lists the inserted alerts")
    api_d, ctl_d = {i["fingerprint"]: i for i in items}, {i["fingerprint"]: i for i in mine or []}
    diff = [(api_d.get(k), ctl_d.get(k)) for k in set(api_d) | set(ctl_d) if not same(api_d.get(k), ctl_d.get(k))]
    check(mine is not None and not diff,
          "listAlerts state=all == hsictl alerts list --state all %s" % json.dumps(diff, ensure_ascii=False)[:600])
    order = [(i["updated_at"], i["fingerprint"]) for i in items]
    check(order == sorted(sorted(order, key=lambda k: k[1]), key=lambda k: k[0], reverse=True),
          "newest updated first, then by fingerprint")
    check(any(i["rule"] == "composite_low" and i["state"] == "firing" for i in items),
          "the built-in composite_low fired on the data")
    check(full.json.get("next_cursor") is None, "one page: next_cursor null")
    cases = [  # query, hsictl args
        ("", []), ("state=firing", ["--state", "firing"]),
        ("state=pending", ["--state", "pending"]), ("state=resolved", ["--state", "resolved"]),
        ("state=active", ["--state", "active"]), ("rule=api_t&state=all", ["--rule", "api_t", "--state", "all"]),
        ("rule=nope", ["--rule", "nope"]),
        ("state=all&match=" + urllib.parse.quote("area=~5."), ["--state", "all", "--match", "area=~5."]),
        ("state=all&match=" + urllib.parse.quote("area=~5"), ["--state", "all", "--match", "area=~5"]),
        ("match=" + urllib.parse.quote("area="), ["--match", "area="]),
        ("match=" + urllib.parse.quote("methodology=1") + "&match=" + urllib.parse.quote("area!=10"),
         ["--match", "methodology=1", "--match", "area!=10"]),
        ("state=all&match=" + urllib.parse.quote("rule=~api_.*") + "&match=" + urllib.parse.quote("agency!=CDD"),
         ["--state", "all", "--match", "rule=~api_.*", "--match", "agency!=CDD"]),
    ]
    for qs, args in cases:
        r = t.req("GET", "/v1/alerts" + ("?" + qs if qs else ""), oid="listAlerts")
        h = t.ctl_json("alerts", "list", "--format", "json", "--limit", "10000", *args)
        got = sorted(fps(r.json["items"])) if r.status == 200 else None
        check(h is not None and got == sorted(fps(h)), "listAlerts ?%s == hsictl %s (%s)" % (qs, args, got))
    mine_only = lambda r: [x for x in fps(r.json["items"]) if x in FP.values()]  # noqa: E731
    r = t.req("GET", "/v1/alerts?state=all&rule=api_t")
    check(mine_only(r) == [FP["A"], FP["B"], FP["C"]], "rule=api_t: A B C newest first")
    r = t.req("GET", "/v1/alerts?match=" + urllib.parse.quote("rule=~api_.*"))
    check(mine_only(r) == [FP["A"], FP["B"], FP["D1"], FP["D2"], FP["E"]],
          "default state is active: resolved C left out")
    r = t.req("GET", "/v1/alerts?state=all&match=" + urllib.parse.quote("area=~5."))
    check(set(mine_only(r)) == {FP["A"], FP["C"], FP["E"]}, "area=~5. anchored regex")
    for role in ("admin", "agency", "viewer"):
        check(t.req("GET", "/v1/alerts", role=role).status == 200, "listAlerts as %s: 200" % role)
    t.problem(t.req("GET", "/v1/alerts", role=None, oid="listAlerts"), 401, "unauthorized",
              "listAlerts without a token (public_reads off)")


def test_pages(t):
    whole = fps(t.req("GET", "/v1/alerts?state=all&limit=10000").json["items"])
    seen, target, pages = [], "/v1/alerts?state=all&limit=2", 0
    first = None
    while target and pages < 50:
        r = t.req("GET", target, oid="listAlerts")
        if r.status != 200:
            check(False, "page %d: %d" % (pages, r.status))
            break
        pages += 1
        first = first or r
        seen += fps(r.json["items"])
        check(len(r.json["items"]) <= 2, "limit=2 pages hold at most 2")
        nxt = r.json["next_cursor"]
        link = r.header("link") or ""
        check((nxt is None) == (link == ""), "Link header exactly when next_cursor (%r)" % link)
        if nxt:
            check("cursor=" + nxt in link and "state=all" in link and "limit=2" in link,
                  "Link keeps the filters: %s" % link)
        target = "/v1/alerts?state=all&limit=2&cursor=" + nxt if nxt else None
    check(seen == whole, "pages of 2 add up to the whole list, in order, no repeats")
    cur = first.json["next_cursor"] if first else None
    if check(cur is not None, "a next_cursor on the first page"):
        link = first.header("link")
        r = t.req("GET", link[1:link.index(">")])
        check(r.status == 200 and fps(r.json["items"]) == whole[2:4], "following Link gives page 2")
        t.problem(t.req("GET", "/v1/alerts?state=firing&limit=2&cursor=" + cur), 400,
                  "invalid-cursor", "a cursor used with other filters", parameter="cursor")
        t.problem(t.req("GET", "/v1/alerts?state=all&limit=2&match=a%3Db&cursor=" + cur), 400,
                  "invalid-cursor", "a cursor used with another matcher", parameter="cursor")
        bad = cur[:-2] + ("AA" if cur[-2:] != "AA" else "BB")
        t.problem(t.req("GET", "/v1/alerts?state=all&limit=2&cursor=" + bad), 400,
                  "invalid-cursor", "an altered cursor", parameter="cursor")
        r = t.req("GET", "/v1/alerts?state=all&limit=3&cursor=" + cur)
        check(r.status == 200 and fps(r.json["items"]) == whole[2:5], "the limit may change between pages")
    # with matchers
    allm = fps(t.req("GET", "/v1/alerts?state=all&limit=10000&match=" + urllib.parse.quote("rule=~api_.*")).json["items"])
    seen, target = [], "/v1/alerts?state=all&limit=4&match=" + urllib.parse.quote("rule=~api_.*")
    while target:
        r = t.req("GET", target)
        seen += fps(r.json["items"])
        c = r.json["next_cursor"]
        target = ("/v1/alerts?state=all&limit=4&match=" + urllib.parse.quote("rule=~api_.*")
                  + "&cursor=" + c) if c else None
    check(seen == allm and len(allm) == 6, "pages with a matcher: %d of 6" % len(seen))


def test_csv(t):
    r = t.req("GET", "/v1/alerts?state=all&limit=10000", accept="text/csv", oid="listAlerts")
    j = t.req("GET", "/v1/alerts?state=all&limit=10000")
    rows = list(csv.reader(io.StringIO(r.body.decode("utf-8")))) if r.status == 200 else []
    check(r.media_type == "text/csv" and rows and rows[0] == ALERT_CSV, "listAlerts CSV header as the contract")
    check(len(rows) - 1 == len(j.json["items"]), "CSV has a row per alert")
    by = {row[0]: dict(zip(ALERT_CSV, row)) for row in rows[1:]}
    a = by.get(FP["A"], {})
    check(a.get("area") == "55" and a.get("period") == "2024" and a.get("state") == "firing"
          and a.get("summary_th", "").startswith("น่าน") and a.get("summary_en") == "api_t alert A"
          and float(a.get("value", "nan")) == 0.41, "CSV row of A: %s" % a)
    check(by.get(FP["D1"], {}).get("area") == "", "CSV: no area label is an empty cell")
    t.problem(t.req("GET", "/v1/alerts", accept="application/xml"), 406, "not-acceptable", "Accept: application/xml")


def test_list_bad(t):
    cases = [
        ("state=bogus", 400, "invalid-parameter", "state"),
        ("state=", 400, "invalid-parameter", "state"),
        ("state=all&state=firing", 400, "duplicate-parameter", "state"),
        ("rule=bad%20rule", 400, "invalid-parameter", "rule"),
        ("rule=" + "r" * 64, 400, "invalid-parameter", "rule"),
        ("limit=0", 400, "invalid-parameter", "limit"),
        ("limit=10001", 400, "invalid-parameter", "limit"),
        ("limit=ten", 400, "invalid-parameter", "limit"),
        ("cursor=%21%21", 400, "invalid-parameter", "cursor"),
        ("cursor=AAAA", 400, "invalid-cursor", "cursor"),
        ("match=", 400, "invalid-parameter", "match"),
        ("match", 400, "invalid-parameter", "match"),
        ("match=area", 400, "invalid-parameter", "match"),
        ("match=area~5", 400, "invalid-parameter", "match"),
        ("match=%3D5", 400, "invalid-parameter", "match"),
        ("match=1area%3D5", 400, "invalid-parameter", "match"),
        ("match=area%3D~(", 400, "invalid-parameter", "match"),
        ("match=area%3D" + "x" * 331, 400, "invalid-parameter", "match"),
        ("&".join(["match=a%3D1"] * 33), 400, "query-too-large", "match"),
        ("zz_unknown=1", 400, "unknown-parameter", "zz_unknown"),
    ]
    for qs, status, slug, param in cases:
        t.problem(t.req("GET", "/v1/alerts?" + qs, oid="listAlerts"), status, slug,
                  "listAlerts ?%s" % qs[:60], parameter=param)
    r = t.req("GET", "/v1/alerts?" + "&".join(["match=a%3D1"] * 32))
    check(r.status == 200, "32 matchers are accepted: %d" % r.status)
    r = t.req("GET", "/v1/alerts?" + "&".join(["match=a%3D1"] * 33))
    check("at most 32 times" in (r.json or {}).get("detail", ""), "33 matchers: the detail says the maximum: %s"
          % (r.json or {}).get("detail"))
    r = t.req("GET", "/v1/alerts?" + "&".join(["match=area%3D" + "9" * 250] * 17))
    t.problem(r, 414, "query-too-large", "listAlerts with a query over 4 KiB", parameter="match")


def test_show(t):
    r = t.req("GET", "/v1/alerts/" + FP["A"], oid="getAlert")
    check(r.status == 200 and r.json["fingerprint"] == FP["A"] and "events" in r.json
          and r.json["events_total"] == len(r.json["events"]), "getAlert A with its events")
    h = t.ctl_json("alerts", "show", FP["A"], "--format", "json")
    check(h is not None and same(r.json, h), "getAlert == hsictl alerts show --format json")
    r8 = t.req("GET", "/v1/alerts/" + FP["A"][:8], oid="getAlert")
    check(r8.status == 200 and r8.json == r.json, "a prefix of 8 digits names the alert")
    t.problem(t.req("GET", "/v1/alerts/abcdef0123", oid="getAlert"), 400, "invalid-parameter",
              "an ambiguous prefix (D1, D2)", parameter="fingerprint")
    for bad, what in ((FP["A"][:7], "7 digits"), (FP["A"].upper(), "upper case"),
                      ("zzzzzzzz", "not hex"), (FP["A"] + "0", "65 digits")):
        t.problem(t.req("GET", "/v1/alerts/" + bad, oid="getAlert"), 400, "invalid-parameter",
                  "getAlert %s" % what, parameter="fingerprint")
    t.problem(t.req("GET", "/v1/alerts/" + "0" * 64, oid="getAlert"), 404, "not-found", "getAlert unknown")
    t.problem(t.req("GET", "/v1/alerts/" + FP["A"] + "?x=1"), 400, "unknown-parameter",
              "getAlert takes no query", parameter="x")
    t.problem(t.req("GET", "/v1/alerts/" + FP["A"], role=None), 401, "unauthorized", "getAlert without a token")


def token_id(t, label):
    return t.psql("SELECT id FROM api_token WHERE label = %s" % q(label))


def events(t, key):
    out = t.psql("SELECT state || '|' || COALESCE(detail->>'by', '') FROM alert_event"
                 " WHERE fingerprint = %s ORDER BY seq" % q(FP[key]))
    return out.splitlines() if out else []


def test_ack(t):
    comment = "รับทราบแล้ว กำลังตรวจสอบกับ สปสช."
    n0 = len(events(t, "A"))
    r = t.req("POST", "/v1/alerts/%s/ack" % FP["A"][:8], role="admin",
              body={"comment": comment, "expires": "2h"}, oid="ackAlert")
    acked = (r.json or {}).get("acked") or {}
    check(r.status == 200 and r.json["fingerprint"] == FP["A"] and acked.get("by") == "contract-admin"
          and acked.get("comment") == comment, "ackAlert: 200, by is the token's label: %s" % acked)
    check(r.header("cache-control") == "no-store", "ackAlert: Cache-Control no-store")
    row = t.psql("SELECT acked_by, ack_comment, acked_at IS NOT NULL,"
                 " ack_expires BETWEEN now() + interval '119 minutes' AND now() + interval '121 minutes'"
                 " FROM alert WHERE fingerprint = %s" % q(FP["A"]))
    check(row == "contract-admin|%s|t|t" % comment, "the alert's ack columns: %s" % row)
    ev = events(t, "A")
    check(len(ev) == n0 + 1 and ev[-1] == "acknowledged|contract-admin", "an acknowledged event: %s" % ev)
    d = t.psql("SELECT detail->>'comment', detail->>'expires' = %s FROM alert_event WHERE fingerprint = %s"
               " ORDER BY seq DESC LIMIT 1" % (q(acked.get("expires", "")), q(FP["A"])))
    check(d == comment + "|t", "the event's detail: comment and expires")
    au = t.psql("SELECT actor, target, detail->>'comment', detail->>'token_id' FROM audit_log"
                " WHERE action = 'alert.ack' ORDER BY id DESC LIMIT 1")
    check(au == "contract-admin|%s|%s|%s" % (FP["A"], comment, token_id(t, "contract-admin")),
          "audit_log: alert.ack by the token's label: %s" % au)
    show = t.req("GET", "/v1/alerts/" + FP["A"])
    check(show.json["acked"] == r.json["acked"] and show.json["events"][-1]["state"] == "acknowledged",
          "getAlert shows the acknowledgement and its event")
    r = t.req("GET", "/v1/alerts?state=all&limit=10000", accept="text/csv")
    rows = {row[0]: dict(zip(ALERT_CSV, row)) for row in csv.reader(io.StringIO(r.body.decode()))}
    check(rows.get(FP["A"], {}).get("acked_by") == "contract-admin", "CSV acked_by")
    # a time, and the default expiry
    until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = t.req("POST", "/v1/alerts/%s/ack" % FP["E"], role="admin", body={"comment": "x", "expires": until},
              oid="ackAlert")
    check(r.status == 200 and r.json["acked"]["expires"] == until, "expires as an RFC 3339 time")
    r = t.req("POST", "/v1/alerts/%s/ack" % FP["E"], role="admin", body={"comment": "again"}, oid="ackAlert")
    check(r.status == 200 and r.json["acked"]["comment"] == "again", "acknowledging again replaces it")
    row = t.psql("SELECT ack_expires BETWEEN now() + interval '23 hours 59 minutes' AND now() + interval '24 hours 1 minute'"
                 " FROM alert WHERE fingerprint = %s" % q(FP["E"]))
    check(row == "t", "expires defaults to 24h")
    # refusals by state and name
    t.problem(t.req("POST", "/v1/alerts/%s/ack" % FP["C"], role="admin", body={"comment": "x"}, oid="ackAlert"),
              409, "conflict", "ackAlert of a resolved alert")
    t.problem(t.req("POST", "/v1/alerts/%s/ack" % ("0" * 64), role="admin", body={"comment": "x"}, oid="ackAlert"),
              404, "not-found", "ackAlert of an unknown alert")
    t.problem(t.req("POST", "/v1/alerts/abcdef0123/ack", role="admin", body={"comment": "x"}, oid="ackAlert"),
              400, "invalid-parameter", "ackAlert of an ambiguous prefix", parameter="fingerprint")
    t.problem(t.req("POST", "/v1/alerts/abc/ack", role="admin", body={"comment": "x"}, oid="ackAlert"),
              400, "invalid-parameter", "ackAlert of 3 digits", parameter="fingerprint")
    t.problem(t.req("POST", "/v1/alerts/%s/ack" % FP["A"].upper(), role="admin", body={"comment": "x"}),
              400, "invalid-parameter", "ackAlert upper case", parameter="fingerprint")


def test_ack_bodies(t):
    path = "/v1/alerts/%s/ack" % FP["B"]
    n0 = len(events(t, "B"))
    cases = [
        (b'{"comment": "x",}', 400, "invalid-json", None, "malformed JSON"),
        (b'', 400, "invalid-json", None, "an empty body"),
        (b'[]', 400, "wrong-type", None, "an array"),
        ({"comment": "x", "by": "somchai"}, 400, "unknown-field", "/by", "by is the token's, not the body's"),
        ({"expires": "2h"}, 400, "missing-field", "/comment", "no comment"),
        ({"comment": 5}, 400, "wrong-type", "/comment", "comment a number"),
        ({"comment": None}, 400, "wrong-type", "/comment", "comment null"),
        ({"comment": ""}, 400, "invalid-field", "/comment", "comment empty"),
        ({"comment": "   "}, 400, "invalid-field", "/comment", "comment only spaces"),
        ({"comment": "a\nb"}, 400, "invalid-field", "/comment", "comment of two lines"),
        ({"comment": "ก" * 1025}, 400, "too-long", "/comment", "comment of 1025 characters"),
        ({"comment": "x" * 5000}, 400, "too-long", "/comment", "comment of 5000 bytes"),
        ({"comment": "x", "expires": 2}, 400, "wrong-type", "/expires", "expires a number"),
        ({"comment": "x", "expires": "45d"}, 400, "invalid-field", "/expires", "expires over 30 days"),
        ({"comment": "x", "expires": "soon"}, 400, "invalid-field", "/expires", "expires not a duration"),
        ({"comment": "x", "expires": "0s"}, 400, "invalid-field", "/expires", "expires zero"),
        ({"comment": "x", "expires": "2020-01-01T00:00:00Z"}, 400, "invalid-field", "/expires",
         "expires in the past"),
        ({"comment": "x", "expires": "2030-13-01T00:00:00Z"}, 400, "invalid-field", "/expires",
         "expires month 13"),
        ({"comment": "x", "expires": "x" * 41}, 400, "too-long", "/expires", "expires over 40 bytes"),
    ]
    for body, status, slug, field, what in cases:
        r = t.req("POST", path, role="admin", body=body, oid="ackAlert")
        t.problem(r, status, slug, "ackAlert body: " + what, field=field)
        if slug == "invalid-json" and body:
            check(isinstance(r.json, dict) and r.json.get("line") == 1 and r.json.get("column", 0) > 0,
                  "invalid-json says line and column: %s" % r.json)
    t.problem(t.req("POST", path, role="admin", body=b'{"comment":"x"}', ctype=None), 415,
              "unsupported-media-type", "ackAlert without Content-Type")
    t.problem(t.req("POST", path, role="admin", body=b'comment=x', ctype="text/plain"), 415,
              "unsupported-media-type", "ackAlert as text/plain")
    big = json.dumps({"comment": "x" * 70000}).encode()
    t.problem(t.req("POST", path, role="admin", body=big, oid="ackAlert"), 413, "payload-too-large",
              "ackAlert over 64 KiB")
    t.problem(t.req("POST", path + "?x=1", role="admin", body={"comment": "x"}), 400, "unknown-parameter",
              "ackAlert takes no query", parameter="x")
    check(len(events(t, "B")) == n0 and t.psql("SELECT acked_by IS NULL FROM alert WHERE fingerprint = %s"
                                               % q(FP["B"])) == "t", "no refused body changed the alert")


def test_idempotency(t):
    path = "/v1/alerts/%s/ack" % FP["B"]
    n0 = len(events(t, "B"))
    key = {"Idempotency-Key": "ack-b-1"}
    r1 = t.req("POST", path, role="admin", body={"comment": "first"}, headers=key, oid="ackAlert")
    r2 = t.req("POST", path, role="admin", body={"comment": "first"}, headers=key, oid="ackAlert")
    check(r1.status == 200 and r1.header("idempotent-replayed") is None, "first request runs")
    check(r2.status == 200 and r2.body == r1.body and r2.header("idempotent-replayed") == "true",
          "a retry with the same key gets the same answer, Idempotent-Replayed: true")
    check(len(events(t, "B")) == n0 + 1, "... and is not done twice (%d events)" % (len(events(t, "B")) - n0))
    row = t.psql("SELECT method, path, status, completed_at IS NOT NULL FROM api_idempotency"
                 " WHERE key = 'ack-b-1' AND token_id = %s" % token_id(t, "contract-admin"))
    check(row == "POST|%s|200|t" % path, "api_idempotency keeps the answer: %s" % row)
    t.problem(t.req("POST", path, role="admin", body={"comment": "second"}, headers=key, oid="ackAlert"),
              422, "idempotency-key-reused", "the same key with another body", parameter="Idempotency-Key")
    t.problem(t.req("POST", "/v1/alerts/%s/ack" % FP["A"], role="admin", body={"comment": "first"},
                    headers=key, oid="ackAlert"),
              422, "idempotency-key-reused", "the same key on another path", parameter="Idempotency-Key")
    # keys belong to their token
    t.tokens["admin2"] = t.env.token("admin", "contract-admin-2")
    r = t.req("POST", path, role="admin2", body={"comment": "first"}, headers=key)
    check(r.status == 200 and r.header("idempotent-replayed") is None
          and r.json["acked"]["by"] == "contract-admin-2", "another token's key of the same name is its own")
    check(len(events(t, "B")) == n0 + 2, "... and it ran")
    # in flight, then stale
    body = json.dumps({"comment": "x"}).encode()
    same = hashlib.sha256(b"POST\0" + path.encode() + b"\0" + body).hexdigest()
    t.psql("INSERT INTO api_idempotency (token_id, key, method, path, request_hash) VALUES"
           " (%s, 'flying', 'POST', %s, %s)" % (token_id(t, "contract-admin"), q(path), q(same)))
    r = t.req("POST", path, role="admin", body={"comment": "x"}, headers={"Idempotency-Key": "flying"},
              oid="ackAlert")
    t.problem(r, 409, "idempotency-in-flight", "a key still in flight", parameter="Idempotency-Key")
    check(r.header("retry-after") == "1", "409 in flight says Retry-After")
    t.psql("UPDATE api_idempotency SET created_at = now() - interval '10 minutes' WHERE key = 'flying'")
    r = t.req("POST", path, role="admin", body={"comment": "x"}, headers={"Idempotency-Key": "flying"})
    check(r.status == 200, "a claim left by a dead request is taken over after 5 minutes: %d" % r.status)
    # refusals are not kept
    r = t.req("POST", "/v1/alerts/%s/ack" % FP["C"], role="admin", body={"comment": "x"},
              headers={"Idempotency-Key": "refused"})
    check(r.status == 409 and t.psql("SELECT count(*) FROM api_idempotency WHERE key = 'refused'") == "0",
          "a refused write leaves no key behind")
    # expiry after 24 hours
    t.psql("UPDATE api_idempotency SET created_at = now() - interval '25 hours' WHERE key = 'ack-b-1'"
           " AND token_id = %s" % token_id(t, "contract-admin"))
    n1 = len(events(t, "B"))
    r = t.req("POST", path, role="admin", body={"comment": "first"}, headers=key)
    check(r.status == 200 and r.header("idempotent-replayed") is None and len(events(t, "B")) == n1 + 1,
          "after 24 hours the key is new again")
    for bad, what in (("has space", "a space"), ("x" * 256, "256 characters"), ("", "empty"),
                      ("ключ", "not ASCII")):
        try:
            r = t.req("POST", path, role="admin", body={"comment": "x"},
                      headers={"Idempotency-Key": bad.encode("utf-8").decode("latin-1")})
        except ValueError:
            continue  # http.client refuses to send it at all
        t.problem(r, 400, "invalid-parameter", "Idempotency-Key %s" % what, parameter="Idempotency-Key")


def test_unack(t):
    n0 = len(events(t, "A"))
    r = t.req("DELETE", "/v1/alerts/%s/ack" % FP["A"], role="admin", oid="unackAlert")
    check(r.status == 200 and r.json["acked"] is None, "unackAlert: 200, acked null")
    row = t.psql("SELECT acked_by IS NULL AND acked_at IS NULL AND ack_comment IS NULL AND ack_expires IS NULL"
                 " FROM alert WHERE fingerprint = %s" % q(FP["A"]))
    ev = events(t, "A")
    check(row == "t" and len(ev) == n0 + 1 and ev[-1] == "unacknowledged|contract-admin",
          "columns cleared, an unacknowledged event by the token's label: %s" % ev[-1:])
    au = t.psql("SELECT actor, target FROM audit_log WHERE action = 'alert.unack' ORDER BY id DESC LIMIT 1")
    check(au == "contract-admin|" + FP["A"], "audit_log: alert.unack")
    t.problem(t.req("DELETE", "/v1/alerts/%s/ack" % FP["A"], role="admin", oid="unackAlert"), 409, "conflict",
              "unackAlert of an alert not acknowledged")
    t.problem(t.req("DELETE", "/v1/alerts/%s/ack" % ("0" * 64), role="admin", oid="unackAlert"), 404,
              "not-found", "unackAlert of an unknown alert")
    t.problem(t.req("DELETE", "/v1/alerts/1234567/ack", role="admin", oid="unackAlert"), 400,
              "invalid-parameter", "unackAlert of 7 digits", parameter="fingerprint")
    t.problem(t.req("DELETE", "/v1/alerts/abcdef0123/ack", role="admin", oid="unackAlert"), 400,
              "invalid-parameter", "unackAlert of an ambiguous prefix", parameter="fingerprint")
    r = t.req("DELETE", "/v1/alerts/%s/ack" % FP["E"], role="admin", body=b'{"x":1}')
    check(r.status in (400, 413) and (r.json or {}).get("type", "").endswith("/body-not-allowed"),
          "unackAlert takes no body: %d" % r.status)


def silence_body(**kw):
    b = {"matchers": [{"name": "area", "op": "=", "value": "55"},
                      {"name": "rule", "op": "=~", "value": "api_.*"}],
         "comment": "น่าน: รอข้อมูลแก้ไขจาก สปสช.", "duration": "2h"}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


def test_silences(t):
    n0 = int(t.psql("SELECT count(*) FROM silence"))
    key = {"Idempotency-Key": "silence-1"}
    r = t.req("POST", "/v1/silences", role="admin", body=silence_body(), headers=key, oid="createSilence")
    s = r.json or {}
    check(r.status == 201 and s.get("status") == "active" and s.get("created_by") == "contract-admin"
          and s.get("matchers") == silence_body()["matchers"] and s.get("expired_by") is None,
          "createSilence: 201, active, created_by the token's label")
    check(r.header("location") == "/v1/silences/%s" % s.get("id"), "Location: %s" % r.header("location"))
    r2 = t.req("POST", "/v1/silences", role="admin", body=silence_body(), headers=key, oid="createSilence")
    check(r2.status == 201 and r2.body == r.body and r2.header("location") == r.header("location")
          and r2.header("idempotent-replayed") == "true", "createSilence retried: the same silence again")
    check(int(t.psql("SELECT count(*) FROM silence")) == n0 + 1, "one silence stored, not two")
    row = t.psql("SELECT created_by, ends_at - starts_at = interval '2 hours', matchers->0->>'value'"
                 " FROM silence WHERE id = %s" % s.get("id"))
    check(row == "contract-admin|t|55", "the silence row: %s" % row)
    au = t.psql("SELECT actor, target, detail->'matchers'->1->>'op' FROM audit_log"
                " WHERE action = 'silence.create' ORDER BY id DESC LIMIT 1")
    check(au == "contract-admin|%s|=~" % s.get("id"), "audit_log: silence.create: %s" % au)
    g = t.req("GET", "/v1/silences/%s" % s.get("id"), oid="getSilence")
    check(g.status == 200 and g.json == s, "getSilence == what createSilence answered")
    lst = t.req("GET", "/v1/silences", oid="listSilences")
    h = t.ctl_json("alerts", "silence", "list", "--format", "json")
    check(lst.status == 200 and lst.json["items"] == h and lst.json["next_cursor"] is None,
          "listSilences == hsictl alerts silence list")
    # pending, with ends_at; created with an RFC 3339 start
    now = datetime.datetime.now(datetime.timezone.utc)
    later = lambda d: (now + datetime.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S+07:00")  # noqa: E731
    r = t.req("POST", "/v1/silences", role="admin", oid="createSilence",
              body=silence_body(duration=None, starts_at=later(1), ends_at=later(2), comment="maintenance"))
    p = r.json or {}
    check(r.status == 201 and p.get("status") == "pending", "a silence starting tomorrow is pending")
    # expire
    e = t.req("DELETE", "/v1/silences/%s" % s.get("id"), role="admin", oid="expireSilence")
    check(e.status == 200 and e.json["status"] == "expired" and e.json["expired_by"] == "contract-admin",
          "expireSilence: 200, expired by the token's label")
    au = t.psql("SELECT actor, target FROM audit_log WHERE action = 'silence.expire' ORDER BY id DESC LIMIT 1")
    check(au == "contract-admin|%s" % s.get("id"), "audit_log: silence.expire")
    t.problem(t.req("DELETE", "/v1/silences/%s" % s.get("id"), role="admin", oid="expireSilence"), 409,
              "conflict", "expireSilence of an ended silence")
    ids = [i["id"] for i in t.req("GET", "/v1/silences").json["items"]]
    check(s.get("id") not in ids and p.get("id") in ids, "listSilences: pending listed, expired not")
    ids = [i["id"] for i in t.req("GET", "/v1/silences?all=true", oid="listSilences").json["items"]]
    check(s.get("id") in ids and ids == sorted(ids, reverse=True), "all=true adds the expired, newest first")
    check(t.req("GET", "/v1/silences?all=1").status == 200, "all=1")
    e = t.req("DELETE", "/v1/silences/%s" % p.get("id"), role="admin")
    check(e.status == 200 and e.json["status"] == "expired", "a pending silence can be expired")
    g = t.req("GET", "/v1/silences/%s" % s.get("id"), oid="getSilence")
    check(g.status == 200 and g.json["status"] == "expired", "getSilence of an expired one")
    for path, oid in (("/v1/silences/999999", "getSilence"),):
        t.problem(t.req("GET", path, oid=oid), 404, "not-found", "getSilence unknown")
    t.problem(t.req("DELETE", "/v1/silences/999999", role="admin", oid="expireSilence"), 404, "not-found",
              "expireSilence unknown")
    for bad in ("0", "-1", "abc", "9223372036854775808", "1.5"):
        t.problem(t.req("GET", "/v1/silences/" + bad, oid="getSilence"), 400, "invalid-parameter",
                  "getSilence id %s" % bad, parameter="id")
        t.problem(t.req("DELETE", "/v1/silences/" + bad, role="admin", oid="expireSilence"), 400,
                  "invalid-parameter", "expireSilence id %s" % bad, parameter="id")
    for qs, slug, param in (("all=maybe", "invalid-parameter", "all"), ("all=", "invalid-parameter", "all"),
                            ("all=true&all=false", "duplicate-parameter", "all"),
                            ("limit=5", "unknown-parameter", "limit")):
        t.problem(t.req("GET", "/v1/silences?" + qs, oid="listSilences"), 400, slug,
                  "listSilences ?" + qs, parameter=param)


def test_silence_bodies(t):
    n0 = t.psql("SELECT count(*) FROM silence")
    past = "2020-01-01T00:00:00Z"
    m = lambda **kw: [dict({"name": "area", "op": "=", "value": "55"}, **kw)]  # noqa: E731
    cases = [
        (b'{"matchers": [}', 400, "invalid-json", None, "malformed JSON"),
        (b'"x"', 400, "invalid-json", None, "a string"),
        (silence_body(matchers=None), 400, "missing-field", "/matchers", "no matchers"),
        (silence_body(matchers=[]), 400, "invalid-field", "/matchers", "no matcher in matchers"),
        (silence_body(matchers={"area": "55"}), 400, "wrong-type", "/matchers", "matchers an object"),
        (silence_body(matchers=m() * 33), 400, "too-long", "/matchers", "33 matchers"),
        (silence_body(matchers=["area=55"]), 400, "wrong-type", "/matchers/0", "a matcher as text"),
        (silence_body(matchers=[{"name": "area", "op": "="}]), 400, "missing-field", "/matchers/0/value",
         "a matcher without value"),
        (silence_body(matchers=m(extra=1)), 400, "unknown-field", "/matchers/0/extra", "a matcher's unknown key"),
        (silence_body(matchers=m(op="==")), 400, "invalid-field", "/matchers/0/op", "op =="),
        (silence_body(matchers=m(op="~")), 400, "invalid-field", "/matchers/0/op", "op ~"),
        (silence_body(matchers=m(op=1)), 400, "wrong-type", "/matchers/0/op", "op a number"),
        (silence_body(matchers=m(name="1area")), 400, "invalid-field", "/matchers/0/name", "name 1area"),
        (silence_body(matchers=m(name="")), 400, "invalid-field", "/matchers/0/name", "name empty"),
        (silence_body(matchers=m(name="a" * 65)), 400, "too-long", "/matchers/0/name", "name of 65"),
        (silence_body(matchers=m(op="=~", value="(")), 400, "invalid-field", "/matchers/0/value",
         "a regex that does not compile"),
        (silence_body(matchers=m(value="x" * 257)), 400, "too-long", "/matchers/0/value", "value of 257"),
        (silence_body(comment=None), 400, "missing-field", "/comment", "no comment"),
        (silence_body(comment=""), 400, "invalid-field", "/comment", "comment empty"),
        (silence_body(comment="ก" * 1025), 400, "too-long", "/comment", "comment of 1025 characters"),
        (silence_body(comment=["x"]), 400, "wrong-type", "/comment", "comment an array"),
        (silence_body(duration=None), 400, "missing-field", "/duration", "neither duration nor ends_at"),
        (silence_body(ends_at="2099-01-01T00:00:00Z"), 400, "invalid-field", "/duration",
         "both duration and ends_at"),
        (silence_body(duration="2x"), 400, "invalid-field", "/duration", "duration 2x"),
        (silence_body(duration="366d"), 400, "invalid-field", "/duration", "duration over 365 days"),
        (silence_body(duration="0m"), 400, "invalid-field", "/duration", "duration zero"),
        (silence_body(duration=7200), 400, "wrong-type", "/duration", "duration a number"),
        (silence_body(duration="1" * 33), 400, "too-long", "/duration", "duration over 32 bytes"),
        (silence_body(duration=None, ends_at=past), 400, "invalid-field", "/ends_at", "ends_at in the past"),
        (silence_body(duration=None, ends_at="tomorrow"), 400, "invalid-field", "/ends_at", "ends_at a word"),
        (silence_body(duration=None, ends_at="2099-01-01T00:00:00Z"), 400, "invalid-field", "/ends_at",
         "ends_at more than 365 days ahead"),
        (silence_body(starts_at="2030-02-30T00:00:00Z"), 400, "invalid-field", "/starts_at",
         "starts_at 30 February"),
        (silence_body(starts_at="now"), 400, "invalid-field", "/starts_at", "starts_at a word"),
        (silence_body(starts_at=past), 400, "invalid-field", "/duration",
         "a duration from a start long past ends in the past"),
        (silence_body(starts_at=None, created_by="x"), 400, "unknown-field", "/created_by", "created_by"),
        (silence_body(id=5), 400, "unknown-field", "/id", "id"),
    ]
    for body, status, slug, field, what in cases:
        t.problem(t.req("POST", "/v1/silences", role="admin", body=body, oid="createSilence"),
                  status, slug, "createSilence body: " + what, field=field)
    t.problem(t.req("POST", "/v1/silences", role="admin", body=json.dumps(silence_body()).encode(),
                    ctype="application/x-www-form-urlencoded"), 415, "unsupported-media-type",
              "createSilence as a form")
    check(t.psql("SELECT count(*) FROM silence") == n0, "no refused body stored a silence")


def test_roles(t):
    """Every write as each role: no token and a bad one 401, viewer and
    agency 403, admin does it; nothing changes before admin."""
    sid = t.req("POST", "/v1/silences", role="admin", body=silence_body(comment="for the matrix")).json["id"]
    writes = [
        ("ackAlert", "POST", "/v1/alerts/%s/ack" % FP["D1"], {"comment": "matrix"}, 200),
        ("unackAlert", "DELETE", "/v1/alerts/%s/ack" % FP["D1"], None, 200),
        ("createSilence", "POST", "/v1/silences", silence_body(comment="matrix"), 201),
        ("expireSilence", "DELETE", "/v1/silences/%d" % sid, None, 200),
    ]
    for oid, method, path, body, ok_status in writes:
        before = t.psql("SELECT (SELECT count(*) FROM alert_event) || '/' || (SELECT count(*) FROM silence)"
                        " || '/' || (SELECT count(*) FROM silence WHERE ends_at <= now())")
        for role, status, slug in ((None, 401, "unauthorized"), ("bad", 401, "unauthorized"),
                                   ("viewer", 403, "forbidden"), ("agency", 403, "forbidden")):
            r = t.req(method, path, role=role, body=body, oid=oid,
                      headers={"Idempotency-Key": "matrix-%s-%s" % (oid, role)})
            t.problem(r, status, slug, "%s as %s" % (oid, role or "nobody"))
            if status == 401:
                check((r.header("www-authenticate") or "").startswith("Bearer"),
                      "%s as %s: WWW-Authenticate Bearer" % (oid, role or "nobody"))
        after = t.psql("SELECT (SELECT count(*) FROM alert_event) || '/' || (SELECT count(*) FROM silence)"
                       " || '/' || (SELECT count(*) FROM silence WHERE ends_at <= now())")
        check(before == after, "%s: no refused role changed anything" % oid)
        r = t.req(method, path, role="admin", body=body, oid=oid)
        check(r.status == ok_status, "%s as admin: %d (%d)" % (oid, ok_status, r.status))
    for oid, path in (("listAlerts", "/v1/alerts"), ("getAlert", "/v1/alerts/" + FP["A"]),
                      ("listSilences", "/v1/silences"), ("getSilence", "/v1/silences/%d" % sid),
                      ("getQuality", "/v1/quality"), ("listLate", "/v1/quality/late")):
        for role in ("admin", "agency", "viewer"):
            check(t.req("GET", path, role=role).status == 200, "%s as %s: 200" % (oid, role))
        t.problem(t.req("GET", path, role=None), 401, "unauthorized", "%s without a token" % oid)
    r = t.req("PUT", "/v1/silences/%d" % sid, role="admin")
    check(r.status == 405 and "DELETE" in (r.header("allow") or ""), "PUT on a silence: 405 with Allow")


# ------------------------------------------------------------------ quality

def bkk_today():
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=7)).date()


def test_quality(t):
    win = ["--from", "2023-01-01", "--to", "2025-12-31"]
    r = t.req("GET", "/v1/quality?from=2023-01-01&to=2025-12-31", oid="getQuality")
    h = t.ctl_json("quality", *win, "--format", "json")
    check(r.status == 200 and h is not None and r.json["by"] == "agency" and r.json["agency"] is None
          and r.json["year"] is None and r.json["from"] == h["from"] and r.json["to"] == h["to"]
          and r.json["grace_days"] == h["grace_days"], "getQuality by agency: the window and graces of hsictl")
    check(h is not None and r.status == 200 and h["rows"] and same(r.json["rows"], h["rows"]),
          "getQuality by agency == hsictl quality --format json (%d rows)" % len(h["rows"] if h else []))
    r = t.req("GET", "/v1/quality?by=indicator&agency=CDD&from=2024-01-01&to=2025-12-31", oid="getQuality")
    h = t.ctl_json("quality", "--by", "indicator", "--agency", "CDD", "--from", "2024-01-01", "--to",
                   "2025-12-31", "--format", "json")
    check(r.status == 200 and h is not None and r.json["agency"] == "CDD" and h["rows"]
          and same(r.json["rows"], h["rows"]),
          "getQuality by indicator for CDD == hsictl quality --by indicator")
    check(any(x["present"] > 0 for x in r.json.get("rows", [])), "the nodes' values are counted present")
    # periods and Buddhist-era years are windows too
    a = t.req("GET", "/v1/quality?from=2567&to=2567&by=indicator")
    b = t.req("GET", "/v1/quality?from=2024-01-01&to=2024-12-31&by=indicator")
    check(a.status == 200 and a.json["rows"] == b.json["rows"] and a.json["from"] == "2024-01-01"
          and a.json["to"] == "2024-12-31", "from=2567&to=2567 is the window of 2024")
    # a year: its periods, whatever their due dates
    y = t.req("GET", "/v1/quality?year=2024", oid="getQuality")
    check(y.status == 200 and y.json["year"] == 2024 and y.json["rows"]
          and all(x["year"] == 2024 for x in y.json["rows"]), "year=2024: rows of 2024 only")
    wide = t.req("GET", "/v1/quality?from=2023-01-01&to=2026-12-31").json["rows"]
    check(same(y.json["rows"], [x for x in wide if x["year"] == 2024]),
          "year=2024 == the 2024 rows of a window that holds all their due dates")
    yi = t.req("GET", "/v1/quality?year=2024&by=indicator&agency=CDD")
    check(yi.status == 200 and {x["period"][:4] for x in yi.json["rows"]} == {"2024"},
          "year=2024 by indicator: periods of 2024")
    # default window: 400 days up to today
    d = t.req("GET", "/v1/quality", oid="getQuality")
    today = bkk_today()
    check(d.status == 200 and d.json["to"] == today.isoformat()
          and d.json["from"] == (today - datetime.timedelta(days=400)).isoformat(),
          "default window: 400 days up to today in Bangkok")
    # CSV
    for by in ("agency", "indicator"):
        r = t.req("GET", "/v1/quality?by=%s&from=2023-01-01&to=2025-12-31" % by, accept="text/csv",
                  oid="getQuality")
        j = t.req("GET", "/v1/quality?by=%s&from=2023-01-01&to=2025-12-31" % by)
        rows = list(csv.reader(io.StringIO(r.body.decode()))) if r.status == 200 else []
        check(rows and rows[0] == QUALITY_CSV[by] and len(rows) - 1 == len(j.json["rows"]),
              "getQuality by=%s CSV: header as the contract, a row per row" % by)
        if rows[1:]:
            first = dict(zip(rows[0], rows[1]))
            check(first["completeness"] == "%.4f" % j.json["rows"][0]["completeness"],
                  "CSV ratios with 4 decimals as hsictl: %s" % first["completeness"])
    hc = t.env.ctl("quality", *win)
    r = t.req("GET", "/v1/quality?from=2023-01-01&to=2025-12-31", accept="text/csv")
    check(hc.returncode == 0 and r.body.decode().replace("\r\n", "\n") == hc.stdout,
          "getQuality CSV == hsictl quality CSV, byte for byte")
    # refusals
    cases = [
        ("by=area", 400, "invalid-parameter", "by"), ("by=", 400, "invalid-parameter", "by"),
        ("agency=cdd", 400, "invalid-parameter", "agency"), ("agency=C", 400, "invalid-parameter", "agency"),
        ("agency=" + "A" * 17, 400, "invalid-parameter", "agency"),
        ("year=1899", 400, "invalid-parameter", "year"), ("year=2400", 400, "invalid-parameter", "year"),
        ("year=20x4", 400, "invalid-parameter", "year"),
        ("year=2024&from=2024-01-01", 400, "invalid-parameter", "year"),
        ("year=2024&to=2024", 400, "invalid-parameter", "year"),
        ("from=2024-13-01", 400, "invalid-parameter", "from"), ("from=soon", 400, "invalid-parameter", "from"),
        ("to=", 400, "invalid-parameter", "to"),
        ("from=2025-01-01&to=2024-01-01", 400, "invalid-parameter", "from"),
        ("from=1950&to=2000", 400, "invalid-parameter", "to"),
        ("by=agency&by=indicator", 400, "duplicate-parameter", "by"),
        ("zz=1", 400, "unknown-parameter", "zz"),
    ]
    for qs, status, slug, param in cases:
        t.problem(t.req("GET", "/v1/quality?" + qs, oid="getQuality"), status, slug,
                  "getQuality ?%s" % qs, parameter=param)
    check(t.req("GET", "/v1/quality?from=1985&to=2024").status == 200, "a window of 40 years")
    t.problem(t.req("GET", "/v1/quality?agency=ZZZ", oid="getQuality"), 404, "not-found",
              "getQuality of an agency that owns no indicator")
    t.problem(t.req("GET", "/v1/quality", accept="application/xml"), 406, "not-acceptable", "getQuality XML")


def test_late(t):
    today = bkk_today()
    frm = (today - datetime.timedelta(days=399)).isoformat()
    r = t.req("GET", "/v1/quality/late", oid="listLate")
    h = t.ctl_json("quality", "--by", "indicator", "--from", frm, "--to", today.isoformat(), "--format", "json")
    want = sorted([x for x in (h or {}).get("rows", []) if x["status"] == "late"],
                  key=lambda x: (x["due"], x["agency"], x["indicator"], x["period"]))
    items = r.json.get("items", []) if r.status == 200 else []
    check(r.status == 200 and r.json["lookback_days"] == 400 and items and same(items, want),
          "listLate == the late rows of hsictl quality over the last 400 days (%d)" % len(items))
    check([x["due"] for x in items] == sorted(x["due"] for x in items), "oldest due first")
    r = t.req("GET", "/v1/quality/late?lookback_days=3660", oid="listLate")
    check(r.status == 200 and len(r.json["items"]) >= len(items), "lookback_days=3660 (daily indicators too)")
    r = t.req("GET", "/v1/quality/late?agency=CDD&lookback_days=3000", oid="listLate")
    check(r.status == 200 and r.json["items"] and {x["agency"] for x in r.json["items"]} == {"CDD"},
          "agency=CDD: CDD's only")
    r = t.req("GET", "/v1/quality/late?indicator=t_health&lookback_days=3000", oid="listLate")
    check(r.status == 200 and r.json["items"] and {x["indicator"] for x in r.json["items"]} == {"t_health"},
          "indicator=t_health: its periods only")
    r = t.req("GET", "/v1/quality/late?indicator=t_health&agency=DLA", oid="listLate")
    check(r.status == 200 and r.json["items"] == [], "indicator of another agency: nothing")
    r = t.req("GET", "/v1/quality/late?agency=CDD", accept="text/csv", oid="listLate")
    rows = list(csv.reader(io.StringIO(r.body.decode()))) if r.status == 200 else []
    check(rows and rows[0] == QUALITY_CSV["indicator"] and all(x[-1] == "late" for x in rows[1:]),
          "listLate CSV: header as the contract, every row late")
    cases = [
        ("lookback_days=0", 400, "invalid-parameter", "lookback_days"),
        ("lookback_days=3661", 400, "invalid-parameter", "lookback_days"),
        ("lookback_days=a", 400, "invalid-parameter", "lookback_days"),
        ("indicator=T_HEALTH", 400, "invalid-parameter", "indicator"),
        ("indicator=x", 400, "invalid-parameter", "indicator"),
        ("agency=cdd", 400, "invalid-parameter", "agency"),
        ("agency=CDD&agency=DLA", 400, "duplicate-parameter", "agency"),
        ("from=2024", 400, "unknown-parameter", "from"),
    ]
    for qs, status, slug, param in cases:
        t.problem(t.req("GET", "/v1/quality/late?" + qs, oid="listLate"), status, slug,
                  "listLate ?" + qs, parameter=param)
    t.problem(t.req("GET", "/v1/quality/late?indicator=no_such", oid="listLate"), 404, "not-found",
              "listLate of an unknown indicator")
    t.problem(t.req("GET", "/v1/quality/late?agency=ZZZ", oid="listLate"), 404, "not-found",
              "listLate of an agency that owns no indicator")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    build, src = sys.argv[1], sys.argv[2]
    ct.VERBOSE = "--verbose" in sys.argv
    env = ApiEnv(build, src)
    try:
        base, tokens = env.up()
        t = T(env, base, tokens, ct.Spec(os.path.join(src, "openapi.yaml")))
        insert_alerts(t)
        for test in (test_list, test_pages, test_csv, test_list_bad, test_show, test_ack,
                     test_ack_bodies, test_idempotency, test_unack, test_silences,
                     test_silence_bodies, test_roles, test_quality, test_late):
            before = ct.failed
            try:
                test(t)
            except Exception as e:  # one broken test must not hide the others
                ct.fail("%s: %s: %s" % (test.__name__, type(e).__name__, e))
            print("%-22s %s" % (test.__name__, "ok" if ct.failed == before else "FAILED"), flush=True)
    finally:
        env.down(show_logs=ct.failed > 0, keep="--keep" in sys.argv)
        print("%d passed, %d failed, %d skipped" % (ct.passed, ct.failed, ct.skipped))
    sys.exit(1 if ct.failed else 0)


if __name__ == "__main__":
    main()
