#!/usr/bin/python3
"""Reference implementation of the Human Security Index methodology.

Written from docs/methodology.md and docs/periods.md alone, without reading the
C engine, so that tests/reference/crosscheck.py can compare two independent
implementations of the same specification.  It favours clarity over speed:
every function says which section of docs/methodology.md ("M") or
docs/periods.md ("P") it implements, and follows the text literally.

Entry point::

    rows = score(methodology, areas, catalog, observations)

* ``methodology``: the parsed JSON document (M §1);
* ``areas``: a list of ``[code, parent, level, population]`` (parent ``""`` or
  ``None`` for the root, population ``None`` when unknown);
* ``catalog``: ``{code: {column: text-or-number}}`` as read by
  :func:`load_catalog_csv` from a file in the format of
  common/data/indicators.csv, or ``None`` for no catalog at all;
* ``observations``: a list of ``[area, indicator, period, value]`` with an
  optional fifth element ``status`` (value ``None`` or ``""`` when missing).

It returns one dict per (period, area, node) with the columns of M §7
(:data:`COLUMNS`), sorted as the CSV output of ``hsictl score``.

``score(..., notes=[])`` also lists the places where the result depends on
the last bits of a binary64 computation (an almost constant zscore reference
set, a score within 1e-12 of 0 under a geometric mean, ...), where two correct
implementations may legitimately disagree; crosscheck.py regenerates such
cases.  The notes are not part of the methodology.

Readings chosen where the text allows more than one.  Three of them can be
switched (:data:`READINGS`, ``crosscheck.py --reading KEY=VALUE``): `imputed`
on group rows, which children count as "present" for contributions, and the
contributions below a group present in one year only.  The others:

* ``raw`` is the value after imputation (an imputed value is shown), before
  the log transform.
* ``band`` is given to every group row (root included) with a value, for every
  area (not only the ranked ones); indicator rows have no band.
* An area above ``rank_level`` is one with ``rank_level`` areas below it; a
  value of its own is one that survives the time roll-up.
* Leaf ``weight``, ``direction``, ``lo``, ``hi`` left out come from the
  catalog, then from ``defaults``; the other leaf and group fields from
  ``defaults``.
* Index years of a fiscal methodology are labelled ``FY2024``.
* The index years of the panel are the index years of every row of the data
  (also rows without a value).
"""

import csv
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field

COLUMNS = ["period", "area", "level", "node", "kind", "value", "published",
           "coverage", "rank", "band", "delta", "rank_change", "contribution",
           "raw", "imputed"]

# Where docs/methodology.md can be read two ways, the reading used.  The
# first value of each comment is the default (the most literal reading);
# crosscheck.py --reading KEY=VALUE selects the other one.
READINGS = {
    # `imputed` on group/index rows: "0" ("imputed is 1 or 0", M §7) or
    # "empty" (imputation concerns indicators only).
    "group_imputed": "empty",
    # "Present" in M §3.7 (which children get a contribution, which share
    # the change of a geometric/harmonic group that is 0 in either year):
    # "weighted" (as defined in M §3.5: a score and w_c > 0, so a child of
    # weight 0 has no contribution) or "scored" (any child with a score).
    "contribution_present": "weighted",
    # Children of a group present in only one of the two years: "none"
    # (M §3.7 splits "a group g present in both years") or
    # "present_year_weights" (contribution_g * ŵ_c of the year g is present).
    "one_year_group_children": "present_year_weights",
}

# Tolerances written in the specification.
COVERAGE_TOLERANCE = 1e-12      # M §3.5
STILL_GROUP_TOLERANCE = 1e-12   # M §3.7 "|g[t] - g[t-1]| <= 1e-12"


# --------------------------------------------------------------------------
# Periods (docs/periods.md)
# --------------------------------------------------------------------------

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


@dataclass(frozen=True)
class Period:
    """A parsed period (P, "canonical form").

    ``kind`` is one of year, fyear, quarter, fquarter, month, day.  ``year``
    is the Common Era year; for fyear/fquarter it is the fiscal year's name,
    i.e. the year the fiscal year ends in.
    """
    kind: str
    year: int
    sub: int = 0      # quarter 1-4 or month 1-12
    day: int = 0

    def start(self):
        """First day (y, m, d) of the period: used to order sub-periods."""
        if self.kind == "year":
            return (self.year, 1, 1)
        if self.kind == "fyear":
            return (self.year - 1, 10, 1)
        if self.kind == "quarter":
            return (self.year, 3 * self.sub - 2, 1)
        if self.kind == "fquarter":
            # FY2024Q1 = Oct-Dec 2023, Q2 = Jan-Mar 2024, ...
            if self.sub == 1:
                return (self.year - 1, 10, 1)
            return (self.year, 3 * self.sub - 5, 1)
        if self.kind == "month":
            return (self.year, self.sub, 1)
        return (self.year, self.sub, self.day)


def _ce_year(text):
    """P "What input is accepted": 2400 or more is Buddhist era."""
    y = int(text)
    if y >= 2400:
        y -= 543
    if not 1900 <= y <= 2399:
        raise ValueError("year out of range: %r" % text)
    return y


def parse_period(text):
    """Parses a period in any accepted form (P, "What input is accepted")."""
    s = str(text).strip().translate(THAI_DIGITS)
    fiscal_prefix = False
    for prefix in ("ปีงบประมาณ", "ปีงบ"):
        if s.startswith(prefix):
            s = s[len(prefix):].strip()
            fiscal_prefix = True
            break
    if s.startswith("พ.ศ."):
        s = s[len("พ.ศ."):].strip()
        if not re.fullmatch(r"\d{4}", s) or int(s) < 2400:
            raise ValueError("bad Buddhist-era year: %r" % text)
    if fiscal_prefix:
        s = "FY" + s
    u = s.upper()
    m = re.fullmatch(r"(FY)?(\d{4})", u)
    if m:
        return Period("fyear" if m.group(1) else "year", _ce_year(m.group(2)))
    m = re.fullmatch(r"(\d{4})-A", u)
    if m:
        return Period("year", _ce_year(m.group(1)))
    m = re.fullmatch(r"(FY)?(\d{4})Q([1-4])", u)
    if m:
        return Period("fquarter" if m.group(1) else "quarter",
                      _ce_year(m.group(2)), int(m.group(3)))
    m = re.fullmatch(r"(\d{4})-Q([1-4])", u)
    if m:
        return Period("quarter", _ce_year(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d{4})-(\d{2})", u)
    if m and 1 <= int(m.group(2)) <= 12:
        return Period("month", _ce_year(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", u)
    if m:
        y, mo, d = _ce_year(m.group(1)), int(m.group(2)), int(m.group(3))
        import datetime
        datetime.date(y, mo, d)  # raises on 30 February etc.
        return Period("day", y, mo, d)
    raise ValueError("unrecognised period: %r" % text)


def index_year(period, index_period):
    """The index year a period belongs to (P, "Which index year ...").

    Returns an int: the calendar year, or the fiscal year's name (the year it
    ends in) when ``index_period`` is ``fiscal``.
    """
    k, y = period.kind, period.year
    if index_period == "calendar":
        # Calendar periods belong to their calendar year; a fiscal year or
        # fiscal quarter to the year its fiscal year ends in.
        return y
    # Fiscal index years: the fiscal year containing the period; a calendar
    # year goes to the fiscal year holding nine of its months (Jan-Sep).
    if k in ("fyear", "fquarter", "year"):
        return y
    if k == "quarter":
        return y + 1 if period.sub == 4 else y
    # month or day
    return y + 1 if period.sub >= 10 else y


def year_label(t, index_period):
    """Canonical CE form of an index year (P: `2024`, `FY2024`)."""
    return ("FY%d" % t) if index_period == "fiscal" else str(t)


# --------------------------------------------------------------------------
# Publication rounding (M §3.6)
# --------------------------------------------------------------------------

def c_round(p):
    """C ``round()``: nearest integer, halves away from zero, on a binary64.

    ``p - floor(p)`` is exact in binary64, so the comparison with 0.5 is exact
    (unlike ``floor(p + 0.5)``, and unlike Python's round-half-even).
    """
    if p != p or p in (math.inf, -math.inf):
        return p
    if p < 0:
        return -c_round(-p)
    f = math.floor(p)
    frac = p - f
    return float(f + 1) if frac >= 0.5 else float(f)


def round_pub(x, d):
    """``round(x, d) = rho(x * 10^d) / 10^d`` in binary64 (M §3.6)."""
    scale = 10.0 ** d          # exact for 0 <= d <= 22
    return c_round(x * scale) / scale


# --------------------------------------------------------------------------
# Catalog (docs/catalog.md, the format of common/data/indicators.csv)
# --------------------------------------------------------------------------

CATALOG_HEADER = ["code", "dimension", "agency", "name_th", "name_en", "unit",
                  "frequency", "hard_min", "hard_max", "rollup_area",
                  "rollup_time", "min_subperiods", "direction", "lo", "hi",
                  "weight", "in_index", "definition_th", "definition_en",
                  "source"]


def catalog_from_rows(rows):
    """``{code: entry}`` from catalog rows (dicts of strings), typed."""
    out = {}
    for row in rows:
        e = dict(row)
        for k in ("hard_min", "hard_max", "lo", "hi", "weight"):
            e[k] = float(e[k]) if e.get(k, "") != "" else None
        for k in ("min_subperiods", "direction", "in_index"):
            e[k] = int(e[k]) if e.get(k, "") != "" else None
        out[e["code"]] = e
    return out


def load_catalog_csv(path):
    """Reads a catalog CSV (the format of common/data/indicators.csv)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        return catalog_from_rows(csv.DictReader(f))


def time_rule(catalog, indicator):
    """(rollup_time, min_subperiods) of an indicator (M §2 step 2)."""
    e = (catalog or {}).get(indicator)
    if e is None:
        return "mean", 1
    return e["rollup_time"], e["min_subperiods"]


def area_rule(catalog, indicator):
    """rollup_area of an indicator (M §2 step 3); wmean if not in catalog."""
    e = (catalog or {}).get(indicator)
    return "wmean" if e is None else e["rollup_area"]


# --------------------------------------------------------------------------
# Methodology (M §1)
# --------------------------------------------------------------------------

@dataclass
class Leaf:
    code: str              # the indicator code
    weight: float
    normalisation: str
    lo: float | None
    hi: float | None
    direction: int
    log: bool
    impute: str            # none | carry_forward | region_mean
    max_age: int = 0
    kind: str = "indicator"


@dataclass
class Group:
    code: str
    weight: float
    aggregation: str
    min_coverage: float
    children: list = field(default_factory=list)
    kind: str = "group"    # "index" for the root


@dataclass
class Methodology:
    name: str
    index_period: str
    rank_level: str
    decimals: int
    rank_on: str
    bands: list            # [(from, code)] ascending
    root: Group


def _imputation(spec):
    """The leaf `imputation` field: an object, or "none"/"region_mean"."""
    if isinstance(spec, str):
        spec = {"method": spec}
    method = spec.get("method", "none")
    if method == "carry_forward":
        k = int(spec["max_age"])
        if not 1 <= k <= 50:
            raise ValueError("max_age must be 1..50")
        return method, k
    if method not in ("none", "region_mean"):
        raise ValueError("unknown imputation %r" % method)
    return method, 0


def load_methodology(doc, catalog):
    """Fills a methodology document from `defaults` and the catalog (M §1).

    Leaf fields left out: `weight`, `direction`, `lo`, `hi` come from the
    catalog entry of the indicator (then from `defaults`); `normalisation`,
    `log` and `imputation` from `defaults`, else goalpost / false / none.
    Group fields left out: `weight` 1, `aggregation` and `min_coverage` from
    `defaults`, else arithmetic / 0.5.
    """
    if doc.get("format") != 2:
        raise ValueError("format must be 2")
    if "name" not in doc:
        raise ValueError("name is required")
    defaults = doc.get("defaults", {}) or {}
    cat = catalog or {}

    def leaf_field(node, key, fallback):
        if key in node:
            return node[key]
        entry = cat.get(node["indicator"])
        if entry is not None and key in ("weight", "direction", "lo", "hi") \
                and entry.get(key) is not None:
            return entry[key]
        if key in defaults:
            return defaults[key]
        return fallback

    def build(node, path, is_root):
        if "indicator" in node:
            code = node["indicator"]
            weight = leaf_field(node, "weight", None)
            direction = leaf_field(node, "direction", None)
            if weight is None or direction is None:
                raise ValueError("%s: weight/direction neither given nor in "
                                 "the catalog (not specified)" % path)
            norm = leaf_field(node, "normalisation", "goalpost")
            lo = leaf_field(node, "lo", None)
            hi = leaf_field(node, "hi", None)
            use_log = bool(leaf_field(node, "log", False))
            method, max_age = _imputation(
                leaf_field(node, "imputation", {"method": "none"}))
            if norm == "goalpost":
                if lo is None or hi is None or not float(lo) < float(hi):
                    raise ValueError("%s: goalposts need lo < hi" % path)
                if use_log and float(lo) <= 0:
                    raise ValueError("%s: log goalposts must be > 0" % path)
            if norm not in ("goalpost", "minmax", "panel", "zscore"):
                raise ValueError("%s: unknown normalisation" % path)
            if int(direction) not in (1, -1):
                raise ValueError("%s: direction must be 1 or -1" % path)
            return Leaf(code=code, weight=float(weight), normalisation=norm,
                        lo=None if lo is None else float(lo),
                        hi=None if hi is None else float(hi),
                        direction=int(direction), log=use_log,
                        impute=method, max_age=max_age)
        agg = node.get("aggregation",
                       defaults.get("aggregation", "arithmetic"))
        if agg not in ("arithmetic", "geometric", "harmonic"):
            raise ValueError("%s: unknown aggregation" % path)
        min_cov = node.get("min_coverage", defaults.get("min_coverage", 0.5))
        g = Group(code=node["code"],
                  weight=float(node.get("weight", 1)),
                  aggregation=agg,
                  min_coverage=float(min_cov),
                  kind="index" if is_root else "group")
        if not node.get("children"):
            raise ValueError("%s: a group needs children" % path)
        for i, ch in enumerate(node["children"]):
            g.children.append(build(ch, "%s.children[%d]" % (path, i), False))
        return g

    bands = [(float(b["from"]), b["code"]) for b in doc.get("bands", []) or []]
    return Methodology(
        name=doc["name"],
        index_period=doc.get("index_period", "calendar"),
        rank_level=doc.get("rank_level", "province"),
        decimals=int(doc.get("decimals", 4)),
        rank_on=doc.get("rank_on", "published"),
        bands=bands,
        root=build(doc["tree"], "tree", True))


def post_order(node):
    """Nodes in tree post-order: children (in order) before their group."""
    if isinstance(node, Group):
        for ch in node.children:
            yield from post_order(ch)
    yield node


def leaves(node):
    return [n for n in post_order(node) if isinstance(n, Leaf)]


# --------------------------------------------------------------------------
# Areas
# --------------------------------------------------------------------------

@dataclass
class Areas:
    """The area tree of an areas file (M §7 A.csv)."""
    level: dict            # code -> level
    parent: dict           # code -> parent code or None
    population: dict       # code -> float or None
    children: dict         # code -> [codes]

    @staticmethod
    def from_rows(rows):
        level, parent, pop, children = {}, {}, {}, defaultdict(list)
        for code, par, lev, popv in rows:
            par = par if par not in ("", None) else None
            level[code] = lev
            parent[code] = par
            pop[code] = None if popv in ("", None) else float(popv)
        for code, par in parent.items():
            if par is not None:
                children[par].append(code)
        return Areas(level, parent, pop, dict(children))

    def descendants_at(self, code, lev):
        """Areas of level `lev` anywhere below `code`."""
        out = []
        stack = list(self.children.get(code, []))
        while stack:
            c = stack.pop()
            if self.level[c] == lev:
                out.append(c)
            stack.extend(self.children.get(c, []))
        return sorted(out)


# --------------------------------------------------------------------------
# M §2: from observations to a panel of annual values
# --------------------------------------------------------------------------

def build_panel(method, areas, catalog, observations):
    """M §2.  Returns (years, panel) with panel[(t, area, indicator)] = x.

    Step 1: observations with a value (status M and empty values take no
    part) grouped by index year.  Step 2: sub-annual values to the year by
    rollup_time and min_subperiods.  Step 3: areas above rank_level without a
    value of their own get one from the rank_level areas below them.
    """
    years = set()
    sub = defaultdict(list)    # (t, area, ind) -> [(start, value)]
    for row in observations:
        area, ind, ptext, value = row[0], row[1], row[2], row[3]
        status = row[4] if len(row) > 4 else ""
        p = parse_period(ptext)
        t = index_year(p, method.index_period)
        years.add(t)
        if (status or "").strip().upper() == "M":
            continue
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue
        sub[(t, area, ind)].append((p.start(), float(value)))

    # Step 2: time roll-up.
    direct = {}
    for (t, area, ind), values in sub.items():
        rule, min_sub = time_rule(catalog, ind)
        if len(values) < min_sub:
            continue
        values.sort(key=lambda sv: sv[0])
        xs = [v for _, v in values]
        if rule == "mean":
            direct[(t, area, ind)] = math.fsum(xs) / len(xs)
        elif rule == "sum":
            direct[(t, area, ind)] = math.fsum(xs)
        elif rule == "last":
            direct[(t, area, ind)] = xs[-1]
        else:
            raise ValueError("unknown rollup_time %r" % rule)

    # Step 3: area roll-up, always from the rank_level areas below.
    panel = dict(direct)
    indicators = {lf.code for lf in leaves(method.root)}
    for code in areas.level:
        if areas.level[code] == method.rank_level:
            continue
        below = areas.descendants_at(code, method.rank_level)
        if not below:
            continue      # not above rank_level
        for ind in indicators:
            rule = area_rule(catalog, ind)
            for t in years:
                if (t, code, ind) in direct:
                    continue
                have = [(p, direct[(t, p, ind)]) for p in below
                        if (t, p, ind) in direct]
                if rule == "wmean":
                    if not have:
                        continue
                    w = [areas.population[p] if areas.population[p] is not None
                         else 1.0 for p, _ in have]
                    num = math.fsum(wi * x for wi, (_, x) in zip(w, have))
                    panel[(t, code, ind)] = num / math.fsum(w)
                elif rule == "sum":
                    if len(have) == len(below):
                        panel[(t, code, ind)] = math.fsum(x for _, x in have)
                elif rule == "national":
                    pass
                else:
                    raise ValueError("unknown rollup_area %r" % rule)
    return sorted(years), panel


# --------------------------------------------------------------------------
# M §3.1-3.4: one leaf, all years
# --------------------------------------------------------------------------

def impute(leaf, years, areas, panel):
    """M §3.1.  Returns {(t, a): (value or None, imputed flag)}."""
    out = {}
    for t in years:
        for a in areas.level:
            x = panel.get((t, a, leaf.code))
            if x is not None:
                out[(t, a)] = (x, 0)
                continue
            v = None
            if leaf.impute == "carry_forward":
                # latest earlier panel year t' with t-K <= t' < t, observed
                for tp in sorted((y for y in years
                                  if t - leaf.max_age <= y < t), reverse=True):
                    if (tp, a, leaf.code) in panel:
                        v = panel[(tp, a, leaf.code)]
                        break
            elif leaf.impute == "region_mean":
                par = areas.parent[a]
                if par is not None:
                    sib = [panel[(t, b, leaf.code)] for b in areas.level
                           if b != a and areas.parent[b] == par
                           and areas.level[b] == areas.level[a]
                           and (t, b, leaf.code) in panel]
                    if sib:
                        v = math.fsum(sib) / len(sib)
            out[(t, a)] = (v, 0) if v is None else (v, 1)
    return out


def transform(leaf, x):
    """M §3.2: natural log when `log`, a value <= 0 becomes missing."""
    if x is None:
        return None
    if leaf.log:
        return math.log(x) if x > 0 else None
    return x


def clamp(v):
    return min(1.0, max(0.0, v))


def phi(z):
    """Standard normal CDF, 1/2 erfc(-z / sqrt 2) (M §3.3)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _note(notes, text):
    """Records an ill-conditioned spot (see the module docstring)."""
    if notes is not None:
        notes.append(text)


def normalise(leaf, years, areas, rank_level, tx, notes=None, edge=None):
    """M §3.3.  tx[(t, a)] = transformed value or None -> {(t, a): u}.

    `edge`, when given, collects the keys whose u is 0 or 1 (or within 1e-12
    of it) only because x sits on the edge of the scale, where the last bit
    of x decides between u = 0 and u = 1e-16 (see aggregate_all).
    """
    ref = [a for a in areas.level if areas.level[a] == rank_level]
    refset = set(ref)
    u = {}

    def on_edge(key, r):
        if edge is not None and (abs(r) <= 1e-12 or abs(r - 1) <= 1e-12):
            edge.add(key)

    if leaf.normalisation == "goalpost":
        lo, hi = leaf.lo, leaf.hi
        if leaf.log:
            lo, hi = math.log(lo), math.log(hi)
        for key, x in tx.items():
            if x is None:
                u[key] = None
            else:
                r = (x - lo) / (hi - lo)
                on_edge(key, r)
                u[key] = clamp(r)
        return u

    def minmax(vals, t_keys):
        if not vals:
            for key in t_keys:
                u[key] = None
            return
        m, M = min(vals), max(vals)
        if 0 < M - m <= 1e-9 * max(1.0, abs(m), abs(M)):
            _note(notes, "%s: minmax range %g" % (leaf.code, M - m))
        for key in t_keys:
            x = tx[key]
            if x is None:
                u[key] = None
            elif M == m:
                u[key] = 0.5
            else:
                r = (x - m) / (M - m)
                if key[1] not in refset:     # m, M are reference values
                    on_edge(key, r)
                u[key] = clamp(r)

    if leaf.normalisation == "panel":
        vals = [tx[(t, b)] for t in years for b in ref
                if tx[(t, b)] is not None]
        minmax(vals, list(tx.keys()))
        return u
    for t in years:
        keys = [(t, a) for a in areas.level]
        vals = [tx[(t, b)] for b in ref if tx[(t, b)] is not None]
        if leaf.normalisation == "minmax":
            minmax(vals, keys)
            continue
        # zscore
        n = len(vals)
        if n == 0:
            for key in keys:
                u[key] = None
            continue
        mu = math.fsum(vals) / n
        sigma = (math.sqrt(math.fsum((v - mu) ** 2 for v in vals) / (n - 1))
                 if n >= 2 else 0.0)
        if n >= 2 and max(vals) - min(vals) <= 1e-9 * max(
                1.0, max(abs(v) for v in vals)):
            _note(notes, "%s %d: zscore reference values (almost) all equal"
                  % (leaf.code, t))
        for key in keys:
            x = tx[key]
            if x is None:
                u[key] = None
            elif n < 2 or sigma == 0:
                u[key] = 0.5
            else:
                u[key] = phi((x - mu) / sigma)
                on_edge(key, u[key])
    return u


def leaf_scores(leaf, years, areas, rank_level, panel, notes=None, edge=None):
    """M §3.1-3.4 for one leaf: {(t, a): (score, raw, imputed)}."""
    imp = impute(leaf, years, areas, panel)
    tx = {key: transform(leaf, v) for key, (v, _) in imp.items()}
    u = normalise(leaf, years, areas, rank_level, tx, notes, edge)
    out = {}
    for key, (raw, flag) in imp.items():
        uu = u[key]
        if uu is None:
            s = None
        else:
            s = uu if leaf.direction == 1 else 1.0 - uu     # M §3.4
        out[key] = (s, raw, flag)
    return out


# --------------------------------------------------------------------------
# M §3.5: aggregation with coverage
# --------------------------------------------------------------------------

def renormalised_weights(group, scores):
    """ŵ_c for the present children (M §3.5); 0 for absent ones.

    `scores` is the list of child scores (None when missing), in child order.
    """
    present = [s is not None and ch.weight > 0
               for ch, s in zip(group.children, scores)]
    wp = math.fsum(ch.weight for ch, p in zip(group.children, present) if p)
    return [ch.weight / wp if p else 0.0
            for ch, p in zip(group.children, present)], present


def aggregate(group, scores, notes=None):
    """M §3.5.  Returns (score or None, coverage)."""
    total = math.fsum(ch.weight for ch in group.children)
    what, present = renormalised_weights(group, scores)
    wp = math.fsum(ch.weight for ch, p in zip(group.children, present) if p)
    cov = wp / total if total > 0 else 0.0
    if abs(cov - (group.min_coverage - COVERAGE_TOLERANCE)) < 1e-14:
        _note(notes, "%s: coverage on the tolerance edge" % group.code)
    if not any(present) or cov < group.min_coverage - COVERAGE_TOLERANCE:
        return None, cov
    terms = [(w, s) for w, s, p in zip(what, scores, present) if p]
    if group.aggregation != "arithmetic" and any(0 < s < 1e-12
                                                 for _, s in terms):
        _note(notes, "%s: member score within 1e-12 of 0" % group.code)
    if group.aggregation == "arithmetic":
        return math.fsum(w * s for w, s in terms), cov
    if any(s == 0 for _, s in terms):
        return 0.0, cov            # a zero member makes the mean 0
    if group.aggregation == "geometric":
        return math.exp(math.fsum(w * math.log(s) for w, s in terms)), cov
    return 1.0 / math.fsum(w / s for w, s in terms), cov     # harmonic


def edge_check(g, t, a, value, edge, notes):
    """Notes a geometric/harmonic group with a member score that is 0 (or
    within 1e-12 of it) only by the last bit of its value: the zero rule of
    M §3.5 then depends on rounding.  Such a near-zero group score passes
    the doubt on to its parent."""
    weak = [c for c in g.children if (t, a, c.code) in edge
            and value[(t, a, c.code)] is not None
            and value[(t, a, c.code)] < 1e-12 and c.weight > 0]
    if not weak:
        return
    if g.aggregation != "arithmetic":
        _note(notes, "%d %s %s: member %s on the edge of its scale"
              % (t, a, g.code, weak[0].code))
    s = value[(t, a, g.code)]
    if s is not None and s < 1e-12:
        edge.add((t, a, g.code))


# --------------------------------------------------------------------------
# M §3.7: contributions
# --------------------------------------------------------------------------

def split_change(group, s_now, s_prev, g_now, g_prev):
    """d_c for each child of a group present in both years (M §3.7).

    Returns (d, w_now) with d[c] the share of g[t] - g[t-1] and w_now[c] =
    ŵ_c[t].
    """
    w_now, p_now = renormalised_weights(group, s_now)
    w_prev, p_prev = renormalised_weights(group, s_prev)
    n = len(group.children)
    d = [0.0] * n
    agg = group.aggregation
    if agg == "arithmetic":
        for i in range(n):
            a = w_now[i] * s_now[i] if p_now[i] else 0.0
            b = w_prev[i] * s_prev[i] if p_prev[i] else 0.0
            d[i] = a - b
    elif g_now == 0 or g_prev == 0:
        # geometric or harmonic with g = 0 in either year: equal split among
        # the children present in either year whose score is 0 in either year
        z_now, z_prev = p_now, p_prev
        if READINGS["contribution_present"] == "scored":
            z_now = [s is not None for s in s_now]
            z_prev = [s is not None for s in s_prev]
        zero = [i for i in range(n)
                if (z_now[i] and s_now[i] == 0)
                or (z_prev[i] and s_prev[i] == 0)]
        for i in zero:
            d[i] = (g_now - g_prev) / len(zero)
    elif agg == "geometric":
        if g_now == g_prev:
            L = g_now
        else:
            L = (g_now - g_prev) / (math.log(g_now) - math.log(g_prev))
        for i in range(n):
            a = w_now[i] * math.log(s_now[i]) if p_now[i] else 0.0
            b = w_prev[i] * math.log(s_prev[i]) if p_prev[i] else 0.0
            d[i] = L * (a - b)
    else:  # harmonic
        for i in range(n):
            a = w_now[i] / s_now[i] if p_now[i] else 0.0
            b = w_prev[i] / s_prev[i] if p_prev[i] else 0.0
            d[i] = -g_now * g_prev * (a - b)
    return d, w_now, p_now, p_prev


def contributions(root, val_now, val_prev, notes=None):
    """M §3.7 top-down for one area whose composite is present both years.

    val_now/val_prev: {node code: score or None}.  Returns {code: contribution}
    for the nodes that have one.
    """
    out = {root.code: val_now[root.code] - val_prev[root.code]}

    def has_contribution(c, present_now, present_prev):
        """Whether child c gets a contribution: "a child present in neither
        year ... has no contribution", present as defined in M §3.5."""
        if READINGS["contribution_present"] == "scored":
            return val_now[c.code] is not None or val_prev[c.code] is not None
        return present_now or present_prev

    def visit(g):
        g_now, g_prev = val_now[g.code], val_prev[g.code]
        s_now = [val_now[c.code] for c in g.children]
        s_prev = [val_prev[c.code] for c in g.children]
        if g_now is None or g_prev is None:
            # M §3.7 splits only groups present in both years.
            if READINGS["one_year_group_children"] == "none":
                return
            # Alternative reading: by the weights of the year it is present.
            w, p = renormalised_weights(g, s_now if g_now is not None
                                        else s_prev)
            p_now = renormalised_weights(g, s_now)[1]
            p_prev = renormalised_weights(g, s_prev)[1]
            for i, c in enumerate(g.children):
                if has_contribution(c, p_now[i], p_prev[i]):
                    out[c.code] = out[g.code] * w[i]
                    if isinstance(c, Group):
                        visit(c)
            return
        d, w_now, p_now, p_prev = split_change(g, s_now, s_prev, g_now, g_prev)
        dg = g_now - g_prev
        # d_c / dg amplifies the last-bit differences of g[t] and g[t-1]
        # when the group barely moved but its members did (or its parent
        # gave it a large contribution).
        big = max([abs(out[g.code])] + [abs(out[g.code] * x / dg) for x in d]
                  if dg else [0.0])
        if 1e-13 < abs(dg) < 1e-11 or (
                abs(dg) > 1e-12 and big * 1e-13 > 1e-10 * abs(dg)):
            _note(notes, "%s: contribution split of a change of %g"
                  % (g.code, dg))
        for i, c in enumerate(g.children):
            if not has_contribution(c, p_now[i], p_prev[i]):
                continue          # present in neither year: no contribution
            if abs(dg) <= STILL_GROUP_TOLERANCE:
                out[c.code] = out[g.code] * w_now[i]
            else:
                out[c.code] = out[g.code] * d[i] / dg
            if isinstance(c, Group):
                visit(c)

    visit(root)
    return out


# --------------------------------------------------------------------------
# Everything together: M §3.5-3.7 and the rows of M §7
# --------------------------------------------------------------------------

def score(methodology, areas, catalog, observations, notes=None):
    """Computes the result rows of `hsictl score --format csv` (M §7)."""
    method = load_methodology(methodology, catalog)
    area = Areas.from_rows(areas)
    years, panel = build_panel(method, area, catalog, observations)
    nodes = list(post_order(method.root))
    groups = [n for n in nodes if isinstance(n, Group)]
    ref = sorted(a for a in area.level if area.level[a] == method.rank_level)
    d = method.decimals

    # value[(t, a, code)], coverage[...], raw/imputed for leaves
    value, cover, raw, imputed = {}, {}, {}, {}
    edge = set()       # (t, a, code) of scores on the edge (notes only)
    for lf in leaves(method.root):
        e = set()
        for (t, a), (s, r, flag) in leaf_scores(
                lf, years, area, method.rank_level, panel, notes, e).items():
            value[(t, a, lf.code)] = s
            cover[(t, a, lf.code)] = 1.0 if s is not None else 0.0
            raw[(t, a, lf.code)] = r
            imputed[(t, a, lf.code)] = flag
        edge |= {(t, a, lf.code) for t, a in e}
    for t in years:
        for a in area.level:
            for g in groups:      # post-order: children are done first
                s, cov = aggregate(g, [value[(t, a, c.code)]
                                       for c in g.children], notes)
                value[(t, a, g.code)] = s
                cover[(t, a, g.code)] = cov
                if notes is not None:
                    edge_check(g, t, a, value, edge, notes)

    # M §3.6 ranks (groups, reference areas) and bands (group scores)
    rank = {}
    for t in years:
        for g in groups:
            keyed = {}
            for a in ref:
                s = value[(t, a, g.code)]
                if s is not None:
                    keyed[a] = (s if method.rank_on == "full"
                                else round_pub(s, d))
            for a, k in keyed.items():
                # competition ranking: 1 + the number of higher scores
                rank[(t, a, g.code)] = 1 + sum(1 for o in keyed.values()
                                               if o > k)

    def band_of(s):
        if s is None or not method.bands:
            return None
        p = round_pub(s, d)
        found = None
        for frm, code in method.bands:
            if frm <= p:
                found = code
        return found

    # M §3.7 change and contributions
    yearset = set(years)
    contrib = {}
    for t in years:
        if t - 1 not in yearset:
            continue
        for a in area.level:
            now = {n.code: value[(t, a, n.code)] for n in nodes}
            prev = {n.code: value[(t - 1, a, n.code)] for n in nodes}
            if now[method.root.code] is None or prev[method.root.code] is None:
                continue
            for code, c in contributions(method.root, now, prev,
                                         notes).items():
                contrib[(t, a, code)] = c

    rows = []
    for t in years:
        for a in sorted(area.level):
            for n in nodes:
                key = (t, a, n.code)
                s = value[key]
                prev = (value.get((t - 1, a, n.code)) if t - 1 in yearset
                        else None)
                r = rank.get(key)
                rp = rank.get((t - 1, a, n.code)) if t - 1 in yearset else None
                is_group = isinstance(n, Group)
                rows.append({
                    "period": year_label(t, method.index_period),
                    "area": a,
                    "level": area.level[a],
                    "node": n.code,
                    "kind": n.kind,
                    "value": s,
                    "published": None if s is None else round_pub(s, d),
                    "coverage": cover[key],
                    "rank": r,
                    "band": band_of(s) if is_group else None,
                    "delta": (s - prev) if s is not None and prev is not None
                    else None,
                    "rank_change": (rp - r) if r is not None and rp is not None
                    else None,
                    "contribution": contrib.get(key),
                    "raw": None if is_group else raw[key],
                    "imputed": imputed[key] if not is_group else (
                        0 if READINGS["group_imputed"] == "0" else None),
                })
    return rows


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------

def fmt(v):
    """A field as `hsictl score` prints it: 17 significant digits."""
    if v is None:
        return ""
    if isinstance(v, float):
        return "%.17g" % v
    return str(v)


def write_rows_csv(rows, out):
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([fmt(r[c]) for c in COLUMNS])


def read_areas_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [[r["code"], r.get("parent", ""), r["level"],
                 r.get("population", "")] for r in csv.DictReader(f)]


def read_data_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [[r["area"], r["indicator"], r["period"], r.get("value", ""),
                 r.get("status", "") or ""] for r in csv.DictReader(f)]


def main(argv):
    import argparse
    import json
    ap = argparse.ArgumentParser(description="HSI reference scorer")
    ap.add_argument("--methodology", required=True)
    ap.add_argument("--areas", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--catalog")
    args = ap.parse_args(argv)
    with open(args.methodology, encoding="utf-8") as f:
        doc = json.load(f)
    cat = load_catalog_csv(args.catalog) if args.catalog else None
    rows = score(doc, read_areas_csv(args.areas), cat,
                 read_data_csv(args.data))
    write_rows_csv(rows, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
