#!/usr/bin/python3
"""End-to-end test of hsi-api's catalog operations (openapi.yaml, tag catalog).

    catalog_test.py BUILD_DIR SOURCE_DIR [--keep] [--verbose]

Starts the system of tests/api/contract_test.py (a private PostgreSQL, the e2e
test catalog, scorer, alerter, two nodes, hsi-api with public_reads off, tokens
for admin, agency:CDD and viewer) and checks what the contract test cannot:
the content of every catalog answer against the reference data it was loaded
from (common/data/*.csv, tests/e2e/catalog.csv): Thai names, counts, the area
hierarchy with parents, children and summed populations, filters, the order
of lists, pagination across pages with no duplicates and no gaps, CSV cells,
ETags that change when the catalog or the methodologies change (and only
then), 304, a refusal naming the parameter for a bad value of every
parameter, precise 404s, and who may read (401 without a token, 200 for each
role; 200 without a token on a second hsi-api with public_reads on).

Exit status 0 when every case passed; the last line is "N passed, N failed".
"""
import argparse
import csv
import io
import json
import os
import sys
import time
import traceback
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from contract_test import Env, Client, free_port, read, wait_for  # noqa: E402

PROBLEM = "https://hsi.example/problems/"
DIMENSIONS = ["health", "living", "education", "economy", "services",
              "personal", "political"]
LEVELS = ["nation", "region", "province", "district", "subdistrict"]

passed = failed = 0
VERBOSE = False


class Check(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Check(what)


def eq(got, want, what):
    if got != want:
        raise Check("%s: got %r, want %r" % (what, got, want))


class Api:
    """GETs as one role, waiting out a 429 (the rate limit is not what this
    test is about, and it sends many requests in a burst)."""

    def __init__(self, client, tokens):
        self.client, self.tokens = client, tokens

    def get(self, target, role="viewer", headers=None):
        h = dict(headers or {})
        if role is not None:
            h["Authorization"] = "Bearer " + self.tokens[role]
        for _ in range(20):
            r = self.client.request("GET", target, h)
            if r.status != 429:
                break
            time.sleep(float(r.header("retry-after") or 1))
        expect(not r.error, "GET %s: no answer (%s)" % (target, r.error))
        if r.media_type in ("application/json", "application/problem+json"):
            r.parse_json()
        return r

    def ok(self, target, role="viewer", headers=None):
        r = self.get(target, role, headers)
        eq(r.status, 200, "GET %s status (%s)" % (target, r.body[:300]))
        return r

    def items(self, target, role="viewer"):
        j = self.ok(target, role).json
        eq(set(j), {"items", "next_cursor"}, "GET %s keys" % target)
        return j["items"]

    def csv(self, target, role="viewer"):
        r = self.ok(target, role, {"Accept": "text/csv"})
        eq(r.media_type, "text/csv", "GET %s Content-Type" % target)
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8"))))
        return r, rows

    def problem(self, target, status, slug, parameter=None, role="viewer"):
        r = self.get(target, role)
        eq(r.status, status, "GET %s status" % target)
        eq(r.media_type, "application/problem+json", "GET %s type" % target)
        j = r.json
        eq(j.get("type"), PROBLEM + slug, "GET %s problem type (%s)"
           % (target, j.get("detail")))
        eq(j.get("status"), status, "GET %s problem status" % target)
        expect(j.get("detail"), "GET %s: problem without detail" % target)
        if parameter is not None:
            eq(j.get("parameter"), parameter, "GET %s problem parameter (%s)"
               % (target, j.get("detail")))
        return j


def ref_csv(src, *parts):
    with open(os.path.join(src, *parts), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------ cases

def case_auth_matrix(t):
    """Every operation: 401 (with WWW-Authenticate) without a token or with
    a forged one, 200 for viewer, agency and admin."""
    forged = "hsi_" + "ab" * 32
    for target in t.targets:
        for role in ("viewer", "agency", "admin"):
            t.api.ok(target, role)
        r = t.api.get(target, None)
        eq(r.status, 401, "GET %s without a token" % target)
        eq(r.json.get("type"), PROBLEM + "unauthorized", "401 type")
        expect((r.header("www-authenticate") or "").startswith("Bearer"),
               "GET %s: 401 without WWW-Authenticate: Bearer" % target)
        r = t.api.get(target, None, {"Authorization": "Bearer " + forged})
        eq(r.status, 401, "GET %s with an unknown token" % target)
        r = t.api.ok(target)
        expect("private" in (r.header("cache-control") or ""),
               "GET %s: reads need a token, so Cache-Control must be "
               "private, got %r" % (target, r.header("cache-control")))


def case_public_reads(t):
    """A second hsi-api with public_reads on: no token needed, and the
    answers are the same as with one; Cache-Control no longer private."""
    pub = Api(Client(t.public), t.tokens)
    for target in t.targets:
        anon = pub.ok(target, None)
        # Cursors are signed with each process's key: compare the rest.
        strip = lambda j: {k: v for k, v in j.items() if k != "next_cursor"}
        eq(strip(anon.json), strip(t.api.ok(target).json),
           "GET %s: anonymous here, viewer there" % target)
        eq(anon.header("cache-control"), "no-cache",
           "GET %s Cache-Control with public reads" % target)
    pub.problem("/v1/areas/99", 404, "not-found", role=None)
    pub.problem("/v1/areas?limit=0", 400, "invalid-parameter", "limit",
                role=None)


def case_dimensions(t):
    items = t.api.items("/v1/dimensions")
    ref = ref_csv(t.src, "common", "data", "dimensions.csv")
    eq([d["code"] for d in items], DIMENSIONS, "dimension order")
    eq(len(items), 7, "dimensions")
    for d, r in zip(items, ref):
        eq(d, {"code": r["code"], "name_th": r["name_th"],
               "name_en": r["name_en"], "ord": int(r["ord"])},
           "dimension %s" % r["code"])
    eq(items[0]["name_th"], "สุขภาพและอาหาร", "health's Thai name")
    eq(t.api.ok("/v1/dimensions").json["next_cursor"], None, "next_cursor")
    r, rows = t.api.csv("/v1/dimensions")
    eq(rows[0], ["code", "name_th", "name_en", "ord"], "CSV header")
    eq(rows[1:], [[x["code"], x["name_th"], x["name_en"], x["ord"]]
                  for x in ref], "CSV rows")
    t.api.problem("/v1/dimensions?limit=5", 400, "unknown-parameter",
                  "limit")
    t.api.problem("/v1/dimensions?cursor=abc", 400, "unknown-parameter",
                  "cursor")


def indicator_of(row):
    """The Indicator a tests/e2e/catalog.csv row should come back as."""
    out = dict(row)
    for k in ("hard_min", "hard_max", "lo", "hi", "weight"):
        out[k] = float(row[k])
    for k in ("min_subperiods", "direction"):
        out[k] = int(row[k])
    out["in_index"] = row["in_index"] == "1"
    return out


def case_indicators(t):
    ref = {r["code"]: indicator_of(r) for r in t.e2e}
    items = t.api.items("/v1/indicators")
    eq(len(items), 7, "indicators of the e2e catalog")
    for it in items:
        eq(it, ref[it["code"]], "indicator %s" % it["code"])
        expect(isinstance(it["in_index"], bool), "in_index is a boolean")
        expect(isinstance(it["min_subperiods"], int), "min_subperiods int")
    order = sorted(items, key=lambda i: (DIMENSIONS.index(i["dimension"]),
                                         i["code"]))
    eq([i["code"] for i in items], [i["code"] for i in order],
       "ordered by dimension (display order), then code")
    eq(ref["t_living"]["name_th"], "ความเป็นอยู่ทดสอบ", "reference itself")
    codes = lambda q: [i["code"] for i in t.api.items("/v1/indicators" + q)]
    eq(codes("?dimension=health"), ["t_health"], "dimension=health")
    eq(codes("?agency=CDD"), ["t_health", "t_living", "t_econ"], "agency=CDD")
    eq(codes("?agency=DLA"), ["t_edu"], "agency=DLA")
    eq(codes("?agency=DOH"), [], "an agency that owns none of these")
    eq(codes("?in_index=true"), [i["code"] for i in items], "in_index=true")
    eq(codes("?in_index=false"), [], "in_index=false")
    eq(codes("?in_index=1&agency=CDD&dimension=living"), ["t_living"],
       "three filters")
    eq(codes("?dimension=political&agency=CDD"), [], "no match")


def case_indicators_bad(t):
    bad = [("dimension=wealth", "dimension", "invalid-parameter"),
           ("dimension=", "dimension", "invalid-parameter"),
           ("dimension=Health", "dimension", "invalid-parameter"),
           ("agency=cdd", "agency", "invalid-parameter"),
           ("agency=C", "agency", "invalid-parameter"),
           ("agency=ZZZ", "agency", "invalid-parameter"),  # no such agency
           ("in_index=maybe", "in_index", "invalid-parameter"),
           ("in_index=", "in_index", "invalid-parameter"),
           ("dimension=health&dimension=living", "dimension",
            "duplicate-parameter"),
           ("limit=10", "limit", "unknown-parameter"),
           ("Agency=CDD", "Agency", "unknown-parameter")]
    for q, param, slug in bad:
        t.api.problem("/v1/indicators?" + q, 400, slug, param)
    j = t.api.problem("/v1/indicators?agency=ZZZ", 400, "invalid-parameter")
    expect("ZZZ" in j["detail"] and "/v1/agencies" in j["detail"],
           "the unknown agency's detail says where to look: %r"
           % j["detail"])


def case_indicators_csv(t):
    r, rows = t.api.csv("/v1/indicators")
    header = list(t.e2e[0].keys())
    eq(rows[0], header, "CSV header: the columns of indicators.csv")
    got = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    eq(len(got), 7, "CSV rows")
    for ref in t.e2e:
        g = got[ref["code"]]
        for k, v in ref.items():
            if k in ("hard_min", "hard_max", "lo", "hi", "weight",
                     "min_subperiods", "direction", "in_index"):
                eq(float(g[k]), float(v), "CSV %s.%s" % (ref["code"], k))
            else:
                eq(g[k], v, "CSV %s.%s" % (ref["code"], k))
    _, rows = t.api.csv("/v1/indicators?agency=DLA")
    eq([row[0] for row in rows[1:]], ["t_edu"], "CSV with a filter")


def case_indicator(t):
    ref = {r["code"]: indicator_of(r) for r in t.e2e}
    for code in ref:
        eq(t.api.ok("/v1/indicators/" + code).json, ref[code],
           "GET /v1/indicators/%s" % code)
    j = t.api.problem("/v1/indicators/no_such", 404, "not-found")
    eq(j["detail"], "no indicator 'no_such'; see /v1/indicators", "detail")
    t.api.problem("/v1/indicators/hlt_stunting", 404, "not-found")
    for bad in ("Bad", "x", "1abc", "t-health", "a" * 33):
        t.api.problem("/v1/indicators/" + bad, 400, "invalid-parameter",
                      "code")
    t.api.problem("/v1/indicators/t_health?x=1", 400, "unknown-parameter",
                  "x")


def case_agencies(t):
    ref = ref_csv(t.src, "common", "data", "agencies.csv")
    items = t.api.items("/v1/agencies")
    eq(len(items), 23, "agencies")
    eq(len(items), len(ref), "agencies against agencies.csv")
    eq([a["code"] for a in items], sorted(r["code"] for r in ref),
       "ordered by code")
    owned = {}
    for r in t.e2e:
        owned.setdefault(r["agency"], []).append(r["code"])
    byref = {r["code"]: r for r in ref}
    for a in items:
        r = byref[a["code"]]
        eq(a, {"code": r["code"], "name_th": r["name_th"],
               "name_en": r["name_en"],
               "indicators": sorted(owned.get(r["code"], []))},
           "agency %s" % a["code"])
    cdd = [a for a in items if a["code"] == "CDD"][0]
    eq(cdd["name_th"], "กรมการพัฒนาชุมชน", "CDD's Thai name")
    eq(cdd["indicators"], ["t_econ", "t_health", "t_living"], "CDD owns")
    _, rows = t.api.csv("/v1/agencies")
    eq(rows[0], ["code", "name_th", "name_en", "indicators"], "CSV header")
    eq(len(rows), 24, "CSV rows")
    csvrow = {row[0]: row for row in rows[1:]}
    eq(csvrow["CDD"][3], "t_econ;t_health;t_living", "CSV joins by ;")
    eq(csvrow["DOH"][3], "", "CSV of an agency without indicators")
    eq(csvrow["DLA"][1], byref["DLA"]["name_th"], "CSV Thai name")
    t.api.problem("/v1/agencies?agency=CDD", 400, "unknown-parameter",
                  "agency")


def expected_areas(t):
    """The nation, regions and provinces as the catalog loads them, in the
    listing's order, with populations (regions and nation: sums)."""
    regions = ref_csv(t.src, "common", "data", "regions.csv")
    provinces = ref_csv(t.src, "common", "data", "provinces.csv")
    pop = {r["code"]: int(r["population"]) for r in
           ref_csv(t.src, "common", "data", "province_population.csv")}
    key_to_region = {r["key"]: r["code"] for r in regions}
    out = {"TH": {"code": "TH", "parent": None, "level": "nation",
                  "iso": "TH", "name_th": "ประเทศไทย", "name_en": "Thailand",
                  "pop": sum(pop.values())}}
    for r in regions:
        members = [p["code"] for p in provinces if p["region"] == r["key"]]
        out[r["code"]] = {"code": r["code"], "parent": "TH",
                          "level": "region", "iso": None,
                          "name_th": r["name_th"], "name_en": r["name_en"],
                          "pop": sum(pop[m] for m in members)}
    for p in provinces:
        out[p["code"]] = {"code": p["code"],
                          "parent": key_to_region[p["region"]],
                          "level": "province", "iso": p["iso"],
                          "name_th": p["name_th"], "name_en": p["name_en"],
                          "pop": pop[p["code"]]}
    return out


def area_json(e, children=None):
    a = {k: e[k] for k in ("code", "parent", "level", "iso", "name_th",
                           "name_en")}
    a["population"] = {"year": 2020, "value": e["pop"],
                       "source": "DOPA registered population 31 Dec 2020"}
    if children is not None:
        a["children"] = children
    return a


def area_order(a):
    return (LEVELS.index(a["level"]), a["code"].encode())


def case_areas(t):
    exp = expected_areas(t)
    items = t.api.items("/v1/areas")
    eq(len(items), 84, "areas: 1 nation, 6 regions, 77 provinces")
    eq(t.api.ok("/v1/areas").json["next_cursor"], None, "one page")
    eq([a["code"] for a in items],
       [a["code"] for a in sorted(exp.values(), key=area_order)],
       "ordered by level (nation first), then code")
    for a in items:
        eq(a, area_json(exp[a["code"]]), "area %s" % a["code"])
    byc = {a["code"]: a for a in items}
    eq(byc["10"]["name_th"], "กรุงเทพมหานคร", "Bangkok's Thai name")
    eq(byc["96"]["name_th"], "นราธิวาส", "Narathiwat's Thai name")
    eq(byc["TH"]["population"]["value"],
       sum(a["population"]["value"] for a in items
           if a["level"] == "province"), "the nation sums the provinces")
    codes = lambda q: [a["code"] for a in t.api.items("/v1/areas" + q)]
    eq(codes("?level=nation"), ["TH"], "level=nation")
    eq(codes("?level=region"), ["RC", "RE", "RN", "RNE", "RS", "RW"],
       "level=region")
    eq(len(codes("?level=province")), 77, "level=province")
    eq(codes("?level=district"), [], "no districts loaded")
    eq(codes("?parent=TH"), codes("?level=region"), "parent=TH")
    rn = sorted(c for c, e in exp.items() if e["parent"] == "RN")
    eq(codes("?parent=RN"), rn, "parent=RN: the northern provinces")
    expect("50" in rn and len(rn) == 9, "RN holds 9 provinces with 50")
    eq(codes("?parent=TH-50"), [], "a province without districts")
    eq(codes("?parent=RN&level=province"), rn, "parent and level")
    eq(codes("?parent=RN&level=region"), [], "parent and another level")
    _, rows = t.api.csv("/v1/areas?parent=RS")
    eq(rows[0], ["code", "parent", "level", "iso", "name_th", "name_en",
                 "population", "population_year"], "CSV header")
    rs = sorted(c for c, e in exp.items() if e["parent"] == "RS")
    eq([r[0] for r in rows[1:]], rs, "CSV rows of parent=RS")
    e = exp["96"]
    eq(rows[-1], ["96", "RS", "province", "TH-96", e["name_th"],
                  e["name_en"], str(e["pop"]), "2020"], "CSV row of 96")
    _, rows = t.api.csv("/v1/areas?level=region&limit=2")
    eq(rows[1][3], "", "CSV: a region has no ISO code (null)")


def follow(t, first, csv_too=False):
    """Every page from `first` on, through next_cursor (and the Link
    header, which must say the same). Returns the items and page count."""
    items, pages, target = [], 0, first
    while True:
        r = t.api.ok(target)
        j = r.json
        items += j["items"]
        pages += 1
        expect(pages < 200, "pagination does not end")
        if j["next_cursor"] is None:
            eq(r.header("link"), None, "Link on the last page")
            return items, pages
        link = r.header("link") or ""
        expect(link.startswith("<") and link.endswith('>; rel="next"'),
               "Link header %r" % link)
        target = link[1:link.index(">")]
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        eq(q.get("cursor"), [j["next_cursor"]], "Link carries next_cursor")


def case_areas_pages(t):
    whole = t.api.items("/v1/areas?limit=10000")
    for limit in (1, 7, 10, 83, 84):
        items, pages = follow(t, "/v1/areas?limit=%d" % limit)
        codes = [a["code"] for a in items]
        eq(len(codes), len(set(codes)), "limit=%d: duplicates" % limit)
        eq(items, whole, "limit=%d: pages joined = the whole list" % limit)
        eq(pages, -(-84 // limit), "limit=%d: page count" % limit)
    items, pages = follow(t, "/v1/areas?level=province&limit=20")
    eq(pages, 4, "77 provinces in pages of 20")
    eq([a["code"] for a in items],
       [a["code"] for a in whole if a["level"] == "province"],
       "province pages")
    # A cursor is bound to its filters, not to the page size.
    j = t.api.ok("/v1/areas?level=province&limit=5").json
    cur = urllib.parse.quote(j["next_cursor"])
    nxt = t.api.ok("/v1/areas?level=province&limit=3&cursor=" + cur).json
    eq([a["code"] for a in nxt["items"]],
       [a["code"] for a in whole if a["level"] == "province"][5:8],
       "the same cursor with another limit")
    t.api.problem("/v1/areas?level=region&limit=5&cursor=" + cur, 400,
                  "invalid-cursor", "cursor")
    t.api.problem("/v1/areas?cursor=" + cur, 400, "invalid-cursor", "cursor")
    tampered = j["next_cursor"][:-2] + ("AA" if not
                                       j["next_cursor"].endswith("AA")
                                       else "BB")
    t.api.problem("/v1/areas?level=province&cursor=" + tampered, 400,
                  "invalid-cursor", "cursor")
    # CSV pages: the same rows, with the Link header to go on.
    r, rows = t.api.csv("/v1/areas?limit=50")
    eq(len(rows), 51, "CSV page of 50")
    expect(r.header("link"), "CSV page without Link")
    nxt = r.header("link")[1:r.header("link").index(">")]
    _, rows2 = t.api.csv(nxt)
    eq([x[0] for x in rows[1:] + rows2[1:]], [a["code"] for a in whole],
       "CSV pages joined")


def case_areas_bad(t):
    bad = [("level=city", "level", "invalid-parameter"),
           ("level=", "level", "invalid-parameter"),
           ("level=Province", "level", "invalid-parameter"),
           ("parent=XYZ", "parent", "invalid-parameter"),
           ("parent=TH-5", "parent", "invalid-parameter"),
           ("parent=501", "parent", "invalid-parameter"),
           ("parent=", "parent", "invalid-parameter"),
           ("parent=99", "parent", "invalid-parameter"),  # no such area
           ("parent=RX", "parent", "invalid-parameter"),  # no such region
           ("limit=0", "limit", "invalid-parameter"),
           ("limit=10001", "limit", "invalid-parameter"),
           ("limit=-1", "limit", "invalid-parameter"),
           ("limit=ten", "limit", "invalid-parameter"),
           ("limit=1.5", "limit", "invalid-parameter"),
           ("cursor=", "cursor", "invalid-parameter"),
           ("cursor=a.b", "cursor", "invalid-parameter"),
           ("cursor=AQJpAAAAAAAAAAFzAlJF24kfQEmuzeM7N-wNjVYK2A", "cursor",
            "invalid-cursor"),
           ("limit=5&limit=6", "limit", "duplicate-parameter"),
           ("area=50", "area", "unknown-parameter")]
    for q, param, slug in bad:
        t.api.problem("/v1/areas?" + q, 400, slug, param)
    j = t.api.problem("/v1/areas?parent=99", 400, "invalid-parameter")
    expect("99" in j["detail"], "detail names the unknown parent")
    eq(len(t.api.items("/v1/areas?limit=10000")), 84, "limit=10000 allowed")


def case_area(t):
    exp = expected_areas(t)
    kids = lambda c: sorted(k for k, e in exp.items() if e["parent"] == c)
    for code in ("TH", "RN", "RS", "50", "10", "96"):
        eq(t.api.ok("/v1/areas/" + code).json,
           area_json(exp[code], kids(code)), "GET /v1/areas/%s" % code)
    th = t.api.ok("/v1/areas/TH").json
    eq(th["children"], ["RC", "RE", "RN", "RNE", "RS", "RW"], "TH children")
    eq(th["parent"], None, "TH has no parent")
    cm = t.api.ok("/v1/areas/TH-50").json
    eq(cm["code"], "50", "TH-50 is answered as its DOPA code")
    eq((cm["name_th"], cm["parent"], cm["children"]), ("เชียงใหม่", "RN", []),
       "Chiang Mai")
    eq(t.api.ok("/v1/areas/RN").json["parent"], "TH", "RN's parent")
    eq(t.api.ok("/v1/areas/RN").json["population"]["value"],
       sum(exp[k]["pop"] for k in kids("RN")), "RN sums its provinces")
    j = t.api.problem("/v1/areas/99", 404, "not-found")
    eq(j["detail"], "no area '99'; see /v1/areas", "404 detail")
    t.api.problem("/v1/areas/5001", 404, "not-found")  # a district: none
    t.api.problem("/v1/areas/RX", 404, "not-found")
    for bad in ("XYZ", "TH-5", "501", "th", "TH-RN", "5"):
        t.api.problem("/v1/areas/" + bad, 400, "invalid-parameter", "code")
    t.api.problem("/v1/areas/50?level=province", 400, "unknown-parameter",
                  "level")


def doc_leaves(node):
    if "indicator" in node:
        return [node["indicator"]]
    return [c for k in node["children"] for c in doc_leaves(k)]


def case_methodology(t):
    items = t.api.items("/v1/methodologies")
    eq(len(items), 1, "one version after the scorer's first start")
    m = items[0]
    eq((m["version"], m["active"], m["created_by"]), (1, True, "hsi-scorer"),
       "version 1")
    eq(len(m["activations"]), 1, "activated once")
    eq(m["activations"][0]["by"], "hsi-scorer", "activated by the scorer")
    expect(m["activations"][0]["at"] >= m["created_at"],
           "activated after it was created")
    act = t.api.ok("/v1/methodologies/active").json
    one = t.api.ok("/v1/methodologies/1").json
    eq(act, one, "the active one is version 1")
    eq({k: v for k, v in act.items() if k != "doc"}, m, "summary = fields")
    doc = act["doc"]
    eq(doc["format"], 2, "doc format")
    eq(doc["tree"]["code"], "hsi", "tree root")
    eq(doc["tree"]["name_th"], "ดัชนีความมั่นคงของมนุษย์", "root's Thai name")
    eq(sorted(doc_leaves(doc["tree"])), sorted(r["code"] for r in t.e2e),
       "the tree's leaves are the catalog's indicators")
    for bad in ("0", "-1", "abc", "1.0", "2147483648"):
        t.api.problem("/v1/methodologies/" + bad, 400, "invalid-parameter",
                      "version")
    j = t.api.problem("/v1/methodologies/99", 404, "not-found")
    expect("99" in j["detail"] and "/v1/methodologies" in j["detail"],
           "404 detail %r" % j["detail"])
    t.api.problem("/v1/methodologies?limit=1", 400, "unknown-parameter",
                  "limit")
    t.api.problem("/v1/methodologies/active?version=1", 400,
                  "unknown-parameter", "version")


def case_methodology_versions(t):
    """A new version, activated, then the old one activated again: the
    list, the active one and every ETag follow."""
    tag0 = t.api.ok("/v1/methodologies").header("etag")
    doc = t.api.ok("/v1/methodologies/1").json["doc"]
    doc["name"] = "catalog test: ลองใหม่"
    path = os.path.join(t.env.tmp, "m2.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    r = t.env.ctl("methodology", "add", path)
    eq(r.returncode, 0, "hsictl methodology add: %s" % r.stderr[-300:])
    lst = t.api.ok("/v1/methodologies", headers={"If-None-Match": tag0})
    eq(lst.status, 200, "a new version changes the list's ETag")
    items = lst.json["items"]
    eq([m["version"] for m in items], [2, 1], "newest first")
    eq((items[0]["name"], items[0]["active"], items[0]["activations"]),
       ("catalog test: ลองใหม่", False, []), "version 2, not active yet")
    eq(t.api.ok("/v1/methodologies/active").json["version"], 1, "still 1")
    eq(t.api.ok("/v1/methodologies/2").json["doc"]["name"],
       "catalog test: ลองใหม่", "version 2's document")
    for version, active_after in (("2", 2), ("1", 1)):
        tag = t.api.ok("/v1/methodologies/active").header("etag")
        r = t.env.ctl("methodology", "activate", version)
        eq(r.returncode, 0, "hsictl methodology activate %s" % version)
        r = t.api.get("/v1/methodologies/active",
                      headers={"If-None-Match": tag})
        eq(r.status, 200, "an activation changes the ETag")
        eq(r.json["version"], active_after, "active after activating")
        items = t.api.items("/v1/methodologies")
        eq([m["active"] for m in items],
           [active_after == 2, active_after == 1], "exactly one active")
    v1 = t.api.ok("/v1/methodologies/1").json
    eq(len(v1["activations"]), 2, "version 1 activated twice")
    ats = [a["at"] for a in v1["activations"]]
    eq(ats, sorted(ats), "activations oldest first")
    eq(len(t.api.ok("/v1/methodologies/2").json["activations"]), 1, "v2")


def case_etags(t):
    """A strong ETag on every answer; 304 for it (also in a list and as
    W/); CSV has its own; pages their own."""
    for target in t.targets:
        r = t.api.ok(target)
        tag = r.header("etag")
        expect(tag and tag.startswith('"') and tag.endswith('"')
               and len(tag) <= 66, "GET %s: ETag %r" % (target, tag))
        for inm in (tag, "W/" + tag, '"x", ' + tag, "*"):
            nm = t.api.get(target, headers={"If-None-Match": inm})
            eq(nm.status, 304, "GET %s If-None-Match %s" % (target, inm))
            eq(nm.body, b"", "304 has no body")
            eq(nm.header("etag"), tag, "304 carries the ETag")
        r2 = t.api.get(target, headers={"If-None-Match": '"other"'})
        eq((r2.status, r2.body), (200, r.body), "another tag: 200")
    for target in ("/v1/dimensions", "/v1/indicators", "/v1/agencies",
                   "/v1/areas?limit=5"):
        jtag = t.api.ok(target).header("etag")
        r, _ = t.api.csv(target)
        ctag = r.header("etag")
        expect(ctag and ctag != jtag, "GET %s: CSV ETag %r vs JSON %r"
               % (target, ctag, jtag))
        h = {"Accept": "text/csv", "If-None-Match": ctag}
        eq(t.api.get(target, headers=h).status, 304, "CSV 304")
        h["If-None-Match"] = jtag
        eq(t.api.get(target, headers=h).status, 200, "JSON tag on CSV")
    p1 = t.api.ok("/v1/areas?limit=5")
    p2 = t.api.ok(p1.header("link")[1:p1.header("link").index(">")])
    expect(p1.header("etag") != p2.header("etag"), "pages share an ETag")
    # A 404 is never turned into a 304 by a tag from elsewhere.
    tag = t.api.ok("/v1/indicators/t_health").header("etag")
    r = t.api.get("/v1/indicators/no_such", headers={"If-None-Match": tag})
    eq(r.status, 404, "If-None-Match on a missing indicator")
    r = t.api.get("/v1/indicators?agency=ZZZ",
                  headers={"If-None-Match": t.api.ok("/v1/indicators")
                           .header("etag")})
    eq(r.status, 400, "If-None-Match on a bad filter")


def case_catalog_reload(t):
    """The CSV of /v1/indicators loads back with hsictl catalog load; that
    bumps the catalog version, so every catalog ETag changes, while the
    content stays the same."""
    before = {u: t.api.ok(u) for u in t.targets if "methodolog" not in u}
    r, _ = t.api.csv("/v1/indicators")
    path = os.path.join(t.env.tmp, "indicators-from-api.csv")
    with open(path, "wb") as f:
        f.write(r.body)
    r = t.env.ctl("catalog", "load", path)
    eq(r.returncode, 0, "hsictl catalog load of the CSV: %s"
       % r.stderr[-300:])
    for u, old in before.items():
        new = t.api.get(u, headers={"If-None-Match": old.header("etag")})
        if u.startswith("/v1/areas?"):
            # A page is tagged by its bytes, which did not change.
            eq(new.status, 304, "GET %s: the same page, the same ETag" % u)
            continue
        eq(new.status, 200, "GET %s: a new catalog version, a new ETag" % u)
        eq(new.body, old.body, "GET %s: the same content" % u)
        expect(new.header("etag") != old.header("etag"), "ETag changed")
        eq(t.api.get(u, headers={"If-None-Match": new.header("etag")})
           .status, 304, "GET %s: 304 for the new ETag" % u)


def case_no_active(t):
    """Before any activation /v1/methodologies/active is 404 (last: it
    removes the activations)."""
    t.env.psql("DELETE FROM methodology_activation")
    j = t.api.problem("/v1/methodologies/active", 404, "not-found")
    expect("/v1/methodologies" in j["detail"], "detail %r" % j["detail"])
    items = t.api.items("/v1/methodologies")
    eq([m["active"] for m in items], [False, False], "none active")
    eq([m["activations"] for m in items], [[], []], "no activations")


CASES = [case_auth_matrix, case_public_reads, case_dimensions,
         case_indicators, case_indicators_bad, case_indicators_csv,
         case_indicator, case_agencies, case_areas, case_areas_pages,
         case_areas_bad, case_area, case_methodology, case_etags,
         case_methodology_versions, case_catalog_reload, case_no_active]


class T:
    pass


def start_public_api(env):
    """A second hsi-api on the same database with public_reads on."""
    log = env.start("hsi-api-public", [
        env.bin["hsi-api"], "--db-url", env.url, "--listen", "127.0.0.1:0",
        "--events-url", "tcp://127.0.0.1:%d" % free_port(),
        "--public-reads", "true"])

    def url():
        for line in read(log).splitlines():
            if '"msg":"listening"' in line:
                return json.loads(line).get("url")
        return None
    return wait_for(url, 60, "the public hsi-api listening")


def main():
    global passed, failed, VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("source_dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose
    env = Env(args.build_dir, args.source_dir)
    try:
        try:
            base, tokens = env.up()
            public = start_public_api(env)
        except Exception as e:  # the environment, not a case
            print("FAIL  environment: %s" % e)
            failed += 1
            return
        t = T()
        t.env, t.src, t.tokens, t.public = env, args.source_dir, tokens, public
        t.api = Api(Client(base), tokens)
        t.e2e = ref_csv(args.source_dir, "tests", "e2e", "catalog.csv")
        t.targets = ["/v1/dimensions", "/v1/indicators",
                     "/v1/indicators/t_health", "/v1/agencies",
                     "/v1/areas?level=province&limit=50", "/v1/areas/50",
                     "/v1/methodologies", "/v1/methodologies/active",
                     "/v1/methodologies/1"]
        for case in CASES:
            try:
                case(t)
                passed += 1
                if VERBOSE:
                    print("ok    %s" % case.__name__, flush=True)
            except Check as e:
                failed += 1
                print("FAIL  %s: %s" % (case.__name__, e), flush=True)
            except Exception:
                failed += 1
                print("FAIL  %s: %s" % (case.__name__,
                                        traceback.format_exc()), flush=True)
    finally:
        env.down(show_logs=failed > 0, keep=args.keep)
        print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
