#!/usr/bin/python3
"""submit_test.py BUILD SRC [--keep]: POST /v1/observations and
GET /v1/submissions/{id} of a running hsi-api (issue 6, the write side).

The system comes up as for the contract test (contract_test.Env: a private
PostgreSQL, scorer, alerter, two nodes delivering 2023 and 2024, hsi-api with
public_reads off, tokens for admin, agency:CDD and viewer; here also
agency:DLA). Then, each answer held to the contract's schemas:

- valid rows (CSV, JSON lines, a JSON object of rows, a file of several
  parts) -> 202 with Location -> the verdict appears with the counts
  psql sees (imported, updated, ignored), the values and revisions are in
  PostgreSQL under node api-<AGENCY>, and the index changes;
- dry_run: the report (200), nothing stored;
- a bad row: mode=atomic 422 with the row, column and code, nothing stored;
  mode=partial 202, the valid rows applied, the bad one listed;
- another agency's indicator: 403 not-owner with the rows, in every mode;
- bad bodies: malformed JSON (line and column), unknown fields, wrong
  types, over 32 MiB (413), wrong or missing Content-Type (415);
- Idempotency-Key: a replay gets the first answer (one submission), another
  body or query with the key 422;
- kill -9 of hsi-api between 202 and the verdict, twice: once with its
  parts never sent (the scorer's address wrong), once with them sent to a
  stopped scorer; after a restart each submission is applied exactly once
  (no loss, no double apply);
- the roles on both operations: none, viewer, another agency, the agency,
  admin.

No fixed ports. Exit status 0 when every check passed."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract_test import Client, Env, Spec, read, wait_for  # noqa: E402

import tally  # noqa: E402
from tally import check, equal, valid  # noqa: E402

CSV_HEAD = "indicator,area,period,value,status,note\n"


class Api:
    def __init__(self, env, tokens):
        self.env, self.tokens = env, tokens
        self.client = Client(env.base)

    def rebase(self, base):
        self.client = Client(base)

    def req(self, method, target, role="agency", body=None, ctype=None, headers=None):
        h = {"Accept": "application/json"}
        if role in self.tokens:
            h["Authorization"] = "Bearer " + self.tokens[role]
        elif role is not None:
            h["Authorization"] = "Bearer " + role  # a literal token
        if ctype is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        while True:
            r = self.client.request(method, target, h, body)
            if r.status != 429:
                break
            time.sleep(int(r.header("retry-after") or "1"))
        if r.media_type in ("application/json", "application/problem+json"):
            r.parse_json()
        return r

    def submit(self, body, query="", role="agency", ctype="text/csv; charset=utf-8", headers=None):
        return self.req("POST", "/v1/observations" + query, role, body, ctype, headers)

    def verdict(self, location, role="agency", seconds=30):
        """Polls the submission until its verdict arrives."""
        end = time.time() + seconds
        while True:
            r = self.req("GET", location, role)
            if r.status != 200 or not isinstance(r.json, dict):
                return r
            if r.json.get("verdict") is not None or time.time() > end:
                return r
            check(r.header("retry-after") == "1", "a queued submission says Retry-After: 1")
            time.sleep(0.2)


def problem(r, status, slug, what):
    ok = check(r.status == status and isinstance(r.json, dict)
               and r.json.get("type", "").endswith("/" + slug),
               "%s: want %d %s, got %d %s" % (what, status, slug, r.status, r.body[:400]))
    if ok:
        valid(r.json, "Problem", what)
        equal(r.media_type, "application/problem+json", what + ": media type")
    return ok


def count(env, sql):
    return int(env.psql(sql) or "0")


def obs(env, ind, area, period):
    return env.psql("SELECT value || '/' || status FROM observation WHERE indicator = '%s' "
                    "AND area = '%s' AND period = '%s'" % (ind, area, period))


def accepted(api, r, what, rows=None, valid_rows=None):
    """202 with Location and a queued Submission; returns its location."""
    if not check(r.status == 202 and isinstance(r.json, dict),
                 "%s: want 202, got %d %s" % (what, r.status, r.body[:400])):
        return None
    valid(r.json, "Submission", what)
    loc = r.header("location")
    equal(loc, "/v1/submissions/" + r.json["id"], what + ": Location")
    equal(r.header("cache-control"), "no-store", what + ": Cache-Control")
    equal(r.json["state"], "queued", what + ": state")
    check(r.json["verdict"] is None, what + ": no verdict yet")
    if rows is not None:
        equal(r.json["rows"], rows, what + ": rows")
    if valid_rows is not None:
        equal(r.json["valid_rows"], valid_rows, what + ": valid_rows")
    return loc


def applied(api, loc, what, counts, role="agency"):
    """Waits for the verdict of loc and checks its counts."""
    r = api.verdict(loc, role)
    if not check(r.status == 200 and isinstance(r.json, dict) and r.json.get("verdict"),
                 "%s: no verdict: %d %s" % (what, r.status, r.body[:300])):
        return None
    valid(r.json, "Submission", what + " (verdict)")
    v = r.json["verdict"]
    equal(r.json["state"], "applied", what + ": state")
    got = {k: v[k] for k in counts}
    equal(got, counts, what + ": verdict counts")
    check(r.header("retry-after") is None, what + ": no Retry-After once answered")
    return r.json


# ------------------------------------------------------------------ the cases

def composite(api, area, period="2024"):
    r = api.req("GET", "/v1/index?period=%s" % period, "viewer")
    if r.status != 200:
        return None
    return {p["area"]: p.get("composite") for p in r.json.get("provinces", [])}.get(area)


def check_valid(env, api):
    """CSV rows: one update, one unchanged, one new; the verdict's counts,
    the values and revisions in PostgreSQL, and the index moves."""
    before = composite(api, "10")
    check(before is not None, "province 10 has a 2024 composite")
    body = (CSV_HEAD + "t_health,10,2567,95,A,แก้ไขตามรายงาน\n"
            "t_health,TH-50,2024,62,A,\n"          # the node sent 62: ignored
            "t_health,11,๒๕๖๗,๕๕.๕,E,ประมาณการ\n")  # new, Thai digits
    r = api.submit(body, "?file_name=CDD_2567.csv")
    loc = accepted(api, r, "valid CSV", rows=3, valid_rows=3)
    if loc is None:
        return
    equal(r.json["agency"], "CDD", "valid CSV: agency")
    equal(r.json["node_id"], "api-CDD", "valid CSV: node_id")
    equal(r.json["file_name"], "CDD_2567.csv", "valid CSV: file_name")
    equal((r.json["format"], r.json["mode"]), ("agency_csv", "atomic"), "valid CSV: format, mode")
    s = applied(api, loc, "valid CSV", {"imported": 1, "updated": 1, "ignored": 1, "rejected": 0})
    if s is None:
        return
    equal(s["verdict"]["rejections"], [], "valid CSV: no rejections")
    equal(obs(env, "t_health", "10", "2024"), "95/A", "t_health 10 2024 updated")
    equal(obs(env, "t_health", "11", "2024"), "55.5/E", "t_health 11 2024 imported")
    fid = env.psql("SELECT file_id FROM api_submission WHERE id = '%s'" % s["id"])
    equal(env.psql("SELECT count(*) || ' ' || min(node_id) FROM observation_revision "
                   "WHERE file_id = '%s'" % fid), "2 api-CDD",
          "two revisions recorded for the file, by node api-CDD")
    equal(env.psql("SELECT note FROM observation WHERE indicator = 't_health' AND area = '10' "
                   "AND period = '2024'"), "แก้ไขตามรายงาน", "the note kept")
    equal(env.psql("SELECT state || ' ' || imported || ' ' || updated || ' ' || ignored "
                   "FROM ingest_file WHERE file_id = '%s'" % fid), "applied 1 1 1",
          "the scorer's own record of the file")
    confirmed = False
    try:
        confirmed = wait_for(lambda: env.psql(
            "SELECT count(*) FROM ingest_file WHERE file_id = '%s' AND "
            "confirmed_at IS NOT NULL" % fid) == "1", 10, "confirmation")
    except RuntimeError:
        pass
    check(confirmed, "the verdict confirmed to the scorer (NodeStatus)")
    check(env.psql("SELECT count(*) FROM audit_log WHERE action = 'observations.submit' "
                   "AND target = '%s' AND actor = 'contract-cdd'" % s["id"]) == "1",
          "the submission in audit_log under the token's label")
    try:
        after = wait_for(lambda: (lambda c: c if c is not None and c != before else None)(
            composite(api, "10")), 20, "a new composite for 10")
    except RuntimeError:
        after = before
    check(after != before, "the composite of province 10 changed (%r -> %r)" % (before, after))
    # The revision list shows the gateway's node.
    r = api.req("GET", "/v1/observations/revisions?indicator=t_health&area=10", "viewer")
    nodes = [x["node_id"] for x in (r.json or {}).get("items", [])]
    check("api-CDD" in nodes and "CDD-n1" in nodes, "revisions from the node and the gateway: %s" % nodes)


def check_formats(env, api):
    """JSON lines and a JSON object of rows, SDMX-CSV in a dry run, and a
    file of several parts."""
    nd = ('{"indicator": "t_econ", "area": "TH-50", "period": "2567", "value": 6.5}\n'
          '{"indicator": "t_econ", "area": "55", "period": "2024", "value": "๗", "status": "P"}\n')
    r = api.submit(nd, ctype="application/x-ndjson")
    loc = accepted(api, r, "JSON lines", rows=2, valid_rows=2)
    if loc:
        equal(r.json["format"], "jsonl", "JSON lines: format")
        applied(api, loc, "JSON lines", {"updated": 2, "rejected": 0})
        equal(obs(env, "t_econ", "55", "2024"), "7/P", "t_econ 55 2024 from JSON lines")
    js = {"rows": [{"indicator": "t_living", "area": "10", "period": "2024Q1", "value": 71.5},
                   {"indicator": "t_living", "area": "RN", "period": "2024Q1", "value": None,
                    "status": "M", "note": "ไม่มีข้อมูล"},
                   {"indicator": "t_living", "area": "96", "period": "2567-Q2", "value": "40",
                    "status": None, "note": None}]}
    r = api.submit(json.dumps(js, ensure_ascii=False), ctype="application/json")
    loc = accepted(api, r, "JSON object", rows=3, valid_rows=3)
    if loc:
        equal(r.json["format"], "json", "JSON object: format")
        applied(api, loc, "JSON object", {"imported": 1, "updated": 1, "ignored": 1})
        equal(obs(env, "t_living", "RN", "2024Q1"), "", "status M stored with no value")
        equal(env.psql("SELECT status FROM observation WHERE indicator = 't_living' AND "
                       "area = 'RN' AND period = '2024Q1'"), "M", "t_living RN 2024Q1 is M")
    sdmx = ("STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS\n"
            "dataflow,HSI:DF_HSI(1.0),I,t_health,TH-96,2024,41,A\n"
            "dataflow,HSI:DF_HSI(1.0),D,t_health,TH-55,2024,41,A\n")
    r = api.submit(sdmx, "?dry_run=true")
    if check(r.status == 200, "SDMX dry run: %d %s" % (r.status, r.body[:300])):
        valid(r.json, "SubmissionCheck", "SDMX dry run")
        equal((r.json["format"], r.json["valid_rows"], r.json["invalid_rows"]), ("sdmx_csv", 1, 1),
              "SDMX dry run: format and rows")
        equal([(i["row"], i["code"]) for i in r.json["issues"]], [(3, "E_ACTION")], "SDMX: D refused")
    # 2772 rows: two parts (2000 rows each at most), one file, one verdict.
    lines = [CSV_HEAD.strip()]
    areas = sorted(env.psql("SELECT code FROM area WHERE level = 'province'").split())
    for area in areas:
        for year in range(2014, 2023):
            for q in range(1, 5):
                lines.append("t_living,%s,%dQ%d,%d,A," % (area, year, q, (int(area) + year + q) % 100))
    body = "\n".join(lines) + "\n"
    n = len(lines) - 1
    r = api.submit(body, "?file_name=living-history.csv")
    loc = accepted(api, r, "two parts", rows=n, valid_rows=n)
    if loc:
        equal(count(env, "SELECT last_seq - first_seq + 1 FROM api_submission WHERE id = '%s'"
                    % r.json["id"]), 2, "two parts in the outbox")
        applied(api, loc, "two parts", {"imported": n, "updated": 0, "rejected": 0})
        equal(count(env, "SELECT count(*) FROM observation WHERE indicator = 't_living' AND "
                    "year BETWEEN 2014 AND 2022"), n, "every row of both parts stored once")
        equal(count(env, "SELECT count(*) FROM api_outbox_part"), 0, "acked parts left the outbox")


def check_dry_run(env, api):
    subs = count(env, "SELECT count(*) FROM api_submission")
    body = CSV_HEAD + "t_health,96,2024,12,A,\nt_health,55,2024,7O.2,A,\n"
    r = api.submit(body, "?dry_run=true")
    if check(r.status == 200 and isinstance(r.json, dict), "dry run: %d %s" % (r.status, r.body[:300])):
        valid(r.json, "SubmissionCheck", "dry run")
        j = r.json
        equal((j["dry_run"], j["mode"], j["format"], j["rows"], j["valid_rows"], j["invalid_rows"]),
              (True, "atomic", "agency_csv", 2, 1, 1), "dry run: counts")
        equal([(i["row"], i["column"], i["code"], i["field"], i["value"]) for i in j["issues"]],
              [(3, 18, "E_VALUE", "value", "7O.2")], "dry run: the bad row, column and code")
        equal(r.header("cache-control"), "no-store", "dry run: Cache-Control")
    equal(count(env, "SELECT count(*) FROM api_submission"), subs, "dry run stored nothing")
    equal(obs(env, "t_health", "96", "2024"), "38/A", "dry run changed no value")
    r = api.submit(CSV_HEAD + "t_health,96,2024,12,A,\n", "?dry_run=1&mode=partial")
    check(r.status == 200 and r.json.get("mode") == "partial" and r.json.get("issues") == [],
          "dry run of a clean file in mode=partial: %d %s" % (r.status, r.body[:200]))


def check_modes(env, api):
    body = (CSV_HEAD + "t_health,96,2024,39,A,\n"
            "t_health,55,2024,7O.2,A,\n"
            "t_health,10,2023,81,X,\n")
    subs = count(env, "SELECT count(*) FROM api_submission")
    r = api.submit(body)
    if problem(r, 422, "invalid-rows", "atomic with bad rows"):
        equal(r.json.get("row"), 3, "atomic: the first bad row")
        errs = [(e.get("row"), e.get("column"), e.get("code"), e.get("field")) for e in r.json.get("errors", [])]
        equal(errs, [(3, 18, "E_VALUE", "value"), (4, 21, "E_STATUS", "status")], "atomic: every bad row")
        check("mode=partial" in r.json["detail"], "atomic: the detail says what to do")
    equal(count(env, "SELECT count(*) FROM api_submission"), subs, "atomic with bad rows stored nothing")
    equal(obs(env, "t_health", "96", "2024"), "38/A", "atomic with bad rows sent nothing")
    r = api.submit(body, "?mode=partial")
    loc = accepted(api, r, "partial", rows=3, valid_rows=1)
    if loc:
        equal((r.json["mode"], r.json["invalid_rows"]), ("partial", 2), "partial: mode, invalid_rows")
        equal([(i["row"], i["code"]) for i in r.json["issues"]], [(3, "E_VALUE"), (4, "E_STATUS")],
              "partial: the rows left out")
        s = applied(api, loc, "partial", {"updated": 1, "rejected": 0})
        equal(obs(env, "t_health", "96", "2024"), "39/A", "partial: the valid row applied")
        if s:
            equal([(i["row"], i["code"]) for i in s["issues"]], [(3, "E_VALUE"), (4, "E_STATUS")],
                  "partial: the issues stay with the verdict")
    r = api.submit(CSV_HEAD + "t_health,55,2024,7O.2,A,\n", "?mode=partial")
    problem(r, 422, "invalid-rows", "partial with no valid row")
    js = {"rows": [{"indicator": "t_health", "area": "TH-99", "period": "2024", "value": 1},
                   {"indicator": "t_health", "area": "96", "period": "2024", "value": 1e9}]}
    r = api.submit(json.dumps(js), ctype="application/json")
    if problem(r, 422, "invalid-rows", "JSON rows, atomic"):
        equal([(e["row"], e["code"], e["field"]) for e in r.json["errors"]],
              [(1, "E_UNKNOWN_AREA", "area"), (2, "E_VALUE_RANGE", "value")], "JSON rows: index + 1")
    for body, code, what in ((b"", "E_HEADER", "empty CSV"),
                             (CSV_HEAD + 't_health,96,2024,3"9,A,\n', "E_CSV_QUOTE", "a stray quote"),
                             ("indicator,area,when,value\n", "E_HEADER", "a wrong header")):
        r = api.submit(body)
        if problem(r, 422, "invalid-rows", what):
            equal([e.get("code") for e in r.json["errors"]][:1], [code], what + ": code")
    r = api.submit('{"indicator": "t_health", "area": "96", "period": 2024, "value": 1}\n{oops\n',
                   ctype="application/x-ndjson")
    if problem(r, 422, "invalid-rows", "bad JSON lines"):
        equal([(e["row"], e["code"]) for e in r.json["errors"]], [(1, "E_TYPE"), (2, "E_JSON")],
              "JSON lines: the line of each problem")


def check_owner(env, api):
    subs = count(env, "SELECT count(*) FROM api_submission")
    body = CSV_HEAD + "t_health,96,2024,40,A,\nt_edu,96,2024,11,A,\nt_pol,10,2024,60,A,\n"
    for query in ("", "?mode=partial", "?dry_run=true"):
        r = api.submit(body, query)
        if problem(r, 403, "not-owner", "another agency's indicator " + query):
            equal([(e["row"], e["code"], e["value"]) for e in r.json["errors"]],
                  [(3, "E_NOT_OWNER", "t_edu"), (4, "E_NOT_OWNER", "t_pol")], "not-owner rows " + query)
            equal(r.json.get("row"), 3, "not-owner: the first row")
    # Past the list's 1000 issues, another agency's row still refuses the
    # whole request (it is counted apart from the listed issues).
    many = CSV_HEAD + "".join("t_health,10,%d,x,A,\n" % (1000 + i) for i in range(1001)) \
        + "t_edu,96,2024,11,A,\n"
    for query in ("", "?mode=partial", "?dry_run=true"):
        r = api.submit(many, query)
        if problem(r, 403, "not-owner", "another agency's row after 1001 bad rows " + query):
            equal(r.json.get("row"), 1003, "not-owner past the list: its row " + query)
            check("row 1003" in r.json.get("detail", ""),
                  "not-owner past the list: the detail names its row: %r" % r.json.get("detail"))
    r = api.submit(body, "?agency=CDD", role="admin")
    problem(r, 403, "not-owner", "admin on behalf of CDD with DLA's indicator")
    r = api.submit(CSV_HEAD + "t_edu,96,2024,11,A,\n", "?agency=DLA")
    problem(r, 403, "forbidden", "an agency token naming another agency")
    equal(count(env, "SELECT count(*) FROM api_submission"), subs, "refused submissions stored nothing")
    equal(obs(env, "t_edu", "96", "2024"), "10/A", "DLA's value untouched")


def check_bad_bodies(env, api):
    bad_json = '{"rows": [\n  {"indicator": "t_health",, "area": "10"}\n]}'
    r = api.submit(bad_json, ctype="application/json")
    if problem(r, 400, "invalid-json", "malformed JSON"):
        equal((r.json.get("line"), r.json.get("column")), (2, 28), "malformed JSON: line and column")
    cases = [
        ({"rows": [{"indicator": "t_health", "area": "10", "period": "2024", "valu": 1}]},
         "unknown-field", "/rows/0/valu"),
        ({"rows": [{"indicator": "t_health", "area": "10", "period": "2024", "value": 1}], "agency": "CDD"},
         "unknown-field", "/agency"),
        ({"rows": [{"indicator": "t_health", "area": "10", "period": 2024, "value": 1}]},
         "wrong-type", "/rows/0/period"),
        ({"rows": [{"indicator": "t_health", "area": "10", "period": "2024", "value": True}]},
         "wrong-type", "/rows/0/value"),
        ({"rows": [{"indicator": "t_health", "area": "10", "value": 1}]}, "missing-field", "/rows/0/period"),
        ({"rows": []}, "invalid-field", "/rows"),
        ({}, "missing-field", "/rows"),
        ({"rows": [{"indicator": "t_health", "area": "10", "period": "2024", "note": "x" * 5000}]},
         "too-long", "/rows/0/note"),
    ]
    for body, slug, field in cases:
        r = api.submit(json.dumps(body), ctype="application/json")
        if problem(r, 400, slug, "JSON body %s" % field):
            equal(r.json.get("field"), field, "JSON body: the field's pointer")
    r = api.submit(b"[1, 2]", ctype="application/json")
    problem(r, 400, "wrong-type", "a JSON array instead of an object")
    for ctype in ("text/plain", "application/xml", "text/csv; charset=iso-8859-1",
                  "application/jsonl", None):
        r = api.submit(CSV_HEAD + "t_health,96,2024,40,A,\n", ctype=ctype)
        problem(r, 415, "unsupported-media-type", "Content-Type %r" % ctype)
    big = CSV_HEAD.encode() + b"t_health,96,2024,40,A," + b"x" * (32 * 1024 * 1024)
    r = api.submit(big)
    problem(r, 413, "payload-too-large", "a body over 32 MiB")
    # Exactly 32 MiB is taken: read and validated (the note is too long).
    edge = CSV_HEAD.encode() + b"t_health,96,2024,40,A,"
    edge += b"x" * (32 * 1024 * 1024 - len(edge))
    r = api.submit(edge, "?dry_run=true")
    check(r.status == 200 and r.json["issues"][0]["code"] == "E_TOO_LONG",
          "a body of exactly 32 MiB is read: %d %s" % (r.status, r.body[:200]))
    r = api.submit(CSV_HEAD + "t_health,96,2024,40,A,\n", "?mode=all")
    if problem(r, 400, "invalid-parameter", "mode=all"):
        equal(r.json.get("parameter"), "mode", "mode=all: the parameter")
    r = api.submit(CSV_HEAD + "t_health,96,2024,40,A,\n", "?file_name=a/b.csv")
    problem(r, 400, "invalid-parameter", "file_name with a slash")
    r = api.submit(CSV_HEAD + "t_health,96,2024,40,A,\n", "?dry_run=true&extra=1")
    problem(r, 400, "unknown-parameter", "an unknown parameter")


def check_idempotency(env, api):
    body = CSV_HEAD + "t_health,55,2024,44,A,\n"
    key = {"Idempotency-Key": "submit-test-1"}
    subs = count(env, "SELECT count(*) FROM api_submission")
    r1 = api.submit(body, headers=key)
    loc = accepted(api, r1, "first with a key")
    r2 = api.submit(body, headers=key)
    check(r2.status == 202 and r2.body == r1.body, "the replay is the first answer: %d" % r2.status)
    equal(r2.header("idempotent-replayed"), "true", "replay: Idempotent-Replayed")
    equal(r2.header("location"), loc, "replay: the same Location")
    equal(count(env, "SELECT count(*) FROM api_submission"), subs + 1, "one submission for two requests")
    if loc:
        applied(api, loc, "first with a key", {"updated": 1})
    r = api.submit(CSV_HEAD + "t_health,55,2024,45,A,\n", headers=key)
    problem(r, 422, "idempotency-key-reused", "the key with another body")
    r = api.submit(body, "?mode=partial", headers=key)
    problem(r, 422, "idempotency-key-reused", "the key with another query")
    r = api.submit(body, headers={"Idempotency-Key": "two words"})
    problem(r, 400, "invalid-parameter", "a malformed key")
    # A refused request does not take its key.
    k2 = {"Idempotency-Key": "submit-test-2"}
    problem(api.submit(CSV_HEAD + "t_health,55,2024,x,A,\n", headers=k2), 422, "invalid-rows",
            "a refused request with a key")
    accepted(api, api.submit(CSV_HEAD + "t_health,55,2024,46,A,\n", headers=k2),
             "the key of a refused request, with a good body")
    equal(count(env, "SELECT count(*) FROM api_submission"), subs + 2, "two submissions in all")


def restart_api(env, api, scorer_url=None):
    """Starts hsi-api again and points api at its new port."""
    log = os.path.join(env.tmp, "hsi-api.log")
    offset = len(read(log))
    env.start_api(scorer_url)

    def listening():
        for line in read(log)[offset:].splitlines():
            if '"msg":"listening"' in line:
                return json.loads(line)["url"]
        return None
    base = wait_for(listening, 60, "hsi-api listening again")
    api.rebase(base)


def kill_api(env):
    env.api_proc.send_signal(signal.SIGKILL)
    env.api_proc.wait()


def applied_once(env, sub_id, rows, what):
    fid = env.psql("SELECT file_id FROM api_submission WHERE id = '%s'" % sub_id)
    name = env.psql("SELECT file_name FROM api_submission WHERE id = '%s'" % sub_id)
    equal(count(env, "SELECT count(*) FROM ingest_file WHERE file_id = '%s'" % fid), 1,
          what + ": the scorer has the file once")
    # ingest_file cannot hold a file twice, and a second apply of the same
    # values writes no revision: the scorer's log is what would show it.
    applies = [l for l in read(os.path.join(env.tmp, "hsi-scorer.log")).splitlines()
               if '"msg":"file applied"' in l and '"file":"%s"' % name in l]
    equal(len(applies), 1, what + ": the scorer applied the file once (its log)")
    equal(count(env, "SELECT count(*) FROM observation_revision WHERE file_id = '%s'" % fid), rows,
          what + ": one revision per row, none twice")


def check_kill(env, api):
    """kill -9 between 202 and the verdict, twice."""
    # 1. Parts never sent: the gateway knows a wrong scorer address.
    kill_api(env)
    dead = "tcp://127.0.0.1:1"
    restart_api(env, api, dead)
    body = CSV_HEAD + "t_health,96,2024,51,A,\nt_health,55,2024,52,A,\n"
    loc = accepted(api, api.submit(body), "before kill -9 (never sent)")
    time.sleep(1.5)  # a resend or two into the void
    r = api.req("GET", loc) if loc else None
    check(r is not None and r.json and r.json["state"] == "queued", "nothing can answer it yet")
    kill_api(env)
    restart_api(env, api)
    s = applied(api, loc, "after kill -9 (never sent)", {"updated": 2, "rejected": 0}) if loc else None
    if s:
        applied_once(env, s["id"], 2, "never sent")
        equal(obs(env, "t_health", "55", "2024"), "52/A", "never sent: the value arrived")
    # 2. Parts sent to a stopped scorer, which applies them after the
    # gateway died; the restarted gateway sends them again.
    env.scorer_proc.send_signal(signal.SIGSTOP)
    try:
        body = CSV_HEAD + "t_health,96,2024,61,A,\nt_health,50,2024,63,A,\nt_health,12,2024,64,A,\n"
        loc = accepted(api, api.submit(body), "before kill -9 (sent)")
        key = {"Idempotency-Key": "submit-test-kill"}
        loc2 = accepted(api, api.submit(CSV_HEAD + "t_health,13,2024,65,A,\n", headers=key),
                        "a second one before kill -9")
        time.sleep(1.5)  # sent, and resent: the scorer is not acking
        kill_api(env)
    finally:
        env.scorer_proc.send_signal(signal.SIGCONT)
    # The stopped scorer had the parts: it applies them now, with no
    # gateway to ack; the restarted gateway must resend and be re-acked.
    for l in (loc, loc2):
        if l:
            fid = env.psql("SELECT file_id FROM api_submission WHERE id = '%s'"
                           % l.rsplit("/", 1)[1])
            wait_for(lambda: count(env, "SELECT count(*) FROM ingest_file WHERE file_id = '%s'"
                                   % fid) == 1, 30, "the scorer to apply %s while hsi-api is down" % l)
    restart_api(env, api)
    r = api.submit(CSV_HEAD + "t_health,13,2024,65,A,\n", headers=key)
    check(r.status == 202 and r.header("idempotent-replayed") == "true"
          and r.header("location") == loc2, "a retry after the restart is the first answer")
    for l, rows, counts, what in ((loc, 3, {"updated": 2, "imported": 1}, "sent"),
                                  (loc2, 1, {"imported": 1}, "sent (second)")):
        s = applied(api, l, "after kill -9 (%s)" % what, counts) if l else None
        if s:
            applied_once(env, s["id"], rows, what)
    equal(obs(env, "t_health", "12", "2024"), "64/A", "sent: the new value is there")
    equal(count(env, "SELECT count(*) FROM api_submission WHERE state = 'queued'"), 0,
          "no submission left waiting")
    equal(count(env, "SELECT count(*) FROM api_outbox_part"), 0, "the outbox is empty")
    equal(env.psql("SELECT acked_seq = next_seq - 1 FROM api_node WHERE agency = 'CDD'"), "t",
          "every seq of api-CDD acknowledged")
    equal(count(env, "SELECT count(*) FROM quarantine WHERE node_id = 'api-CDD'"), 0,
          "nothing of the gateway quarantined")


def check_key_retired(env, api):
    """An operator retires the gateway's key: the gateway makes another
    one and its submissions still arrive."""
    old = env.psql("SELECT key_id FROM agency_key WHERE key_id LIKE 'CDD-api-%' AND retired_at IS NULL")
    r = env.ctl("key", "retire", old)
    check(r.returncode == 0, "hsictl key retire %s: %s" % (old, r.stderr))
    loc = accepted(api, api.submit(CSV_HEAD + "t_health,96,2024,72,A,\n"), "after the key was retired")
    if loc:
        applied(api, loc, "after the key was retired", {"updated": 1})
    new = env.psql("SELECT key_id FROM agency_key WHERE key_id LIKE 'CDD-api-%' AND retired_at IS NULL")
    check(new and new != old, "a new gateway key (%r after %r)" % (new, old))
    equal(env.psql("SELECT key_id FROM node_progress WHERE node_id = 'api-CDD'"), new,
          "the scorer saw the new key")
    check(env.psql("SELECT count(*) FROM audit_log WHERE action = 'key.rotate' AND actor = 'hsi-api' "
                   "AND detail->>'key_id' = '%s'" % new) == "1", "the new key in audit_log")


def check_auth(env, api):
    """Both operations under every role."""
    body = CSV_HEAD + "t_health,96,2024,70,A,\n"
    r = api.submit(body, role=None)
    if problem(r, 401, "unauthorized", "submit without a token"):
        check((r.header("www-authenticate") or "").startswith("Bearer"), "401: WWW-Authenticate")
    problem(api.submit(body, role="hsi_" + "0" * 64), 401, "unauthorized", "submit with an unknown token")
    problem(api.submit(body, role="viewer"), 403, "forbidden", "submit as a viewer")
    problem(api.submit(body, role="dla"), 403, "not-owner", "submit CDD's indicator as DLA")
    r = api.submit(CSV_HEAD + "t_edu,96,2024,12,A,\n", role="dla")
    dla = accepted(api, r, "DLA submits its own")
    cdd = accepted(api, api.submit(body), "CDD submits its own")
    problem(api.submit(body, role="admin"), 400, "missing-parameter", "admin without agency")
    r = api.submit(body, "?agency=ZZZ", role="admin")
    if problem(r, 400, "invalid-parameter", "admin for an unknown agency"):
        equal(r.json.get("parameter"), "agency", "unknown agency: the parameter")
    adm = accepted(api, api.submit(CSV_HEAD + "t_health,96,2024,71,A,\n", "?agency=CDD", role="admin"),
                   "admin on behalf of CDD")
    if not (dla and cdd and adm):
        return
    problem(api.req("GET", cdd, None), 401, "unauthorized", "read without a token")
    problem(api.req("GET", cdd, "viewer"), 403, "forbidden", "read as a viewer")
    problem(api.req("GET", cdd, "dla"), 403, "forbidden", "read CDD's submission as DLA")
    problem(api.req("GET", dla, "agency"), 403, "forbidden", "read DLA's submission as CDD")
    applied(api, dla, "DLA reads its own", {"updated": 1}, role="dla")
    applied(api, cdd, "CDD reads its own", {"updated": 1})
    s = applied(api, adm, "admin reads CDD's", {"updated": 1}, role="admin")
    if s:
        equal((s["agency"], s["node_id"]), ("CDD", "api-CDD"), "admin's submission is CDD's")
    applied(api, adm, "CDD reads what admin sent for it", {"updated": 1})
    equal(env.psql("SELECT node_id FROM api_node WHERE agency = 'DLA'"), "api-DLA", "DLA's gateway node")
    check(env.psql("SELECT count(*) FROM agency_key WHERE key_id LIKE 'DLA-api-%' AND "
                   "retired_at IS NULL") == "1", "a gateway key of DLA's own")
    problem(api.req("GET", "/v1/submissions/api-0000000000000000", "admin"), 404, "not-found",
            "an unknown submission")
    problem(api.req("GET", "/v1/submissions/a%20b", "admin"), 400, "invalid-parameter",
            "a malformed submission id")
    r = api.req("DELETE", cdd, "admin")
    equal(r.status, 405, "DELETE a submission")


def check_secrets(env):
    """The gateway's keys stay out of its log."""
    log = read(os.path.join(env.tmp, "hsi-api.log"))
    secrets = env.psql("SELECT string_agg(encode(secret, 'hex'), ' ') FROM agency_key "
                       "WHERE key_id LIKE '%-api-%'").split()
    check(secrets and not any(s in log for s in secrets), "no gateway key secret in the log")


def main():
    build, src = sys.argv[1], sys.argv[2]
    keep = "--keep" in sys.argv[3:]
    tally.use_spec(Spec(os.path.join(src, "openapi.yaml")))
    env = Env(build, src)
    try:
        base, tokens = env.up()
        tokens["dla"] = env.token("agency:DLA", "submit-dla")
        print("hsi-api at %s" % base, flush=True)
        api = Api(env, tokens)
        for step in (check_valid, check_formats, check_dry_run, check_modes, check_owner,
                     check_bad_bodies, check_idempotency, check_auth, check_key_retired, check_kill):
            t = time.time()
            step(env, api)
            print("%-20s %.1f s" % (step.__name__, time.time() - t), flush=True)
        check_secrets(env)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        check(False, "environment: %s %s" % (e, getattr(e, "stderr", "")))
    finally:
        env.down(show_logs=tally.failed > 0, keep=keep)
        print("%d passed, %d failed" % (tally.passed, tally.failed))
    sys.exit(1 if tally.failed else 0)


if __name__ == "__main__":
    main()
