#!/usr/bin/python3
"""Randomised cross-check of `hsictl score` against the reference (hsi_ref.py).

    crosscheck.py HSICTL_PATH [--cases 220] [--seed S] [--keep DIR]
                  [--only N] [--reading KEY=VALUE ...]

Each case is a small random world: an area tree (a nation, 2-4 regions, 4-15
provinces), a random methodology (docs/methodology.md §1: groups to depth 4,
weights including 0, all aggregations and normalisations, log, both
directions, goalposts, coverage thresholds, imputation, decimals, rank_on,
bands, leaf fields left to the catalog or `defaults`), an optional catalog
(the format of common/data/indicators.csv) and 3-6 years of data with holes,
sub-annual series and values submitted directly for regions.  The case is
scored by `hsictl score --format csv` and by the reference; every row must
agree: numbers to 1e-9 absolute, rank/band/imputed/rank_change exactly, the
same rows in the same order.

Cases whose result depends on the last bit of a binary64 computation are
regenerated (with the next attempt of the same seed), because two correct
implementations may round those differently:
  * a published value the ranking uses (a group score of a province) within
    1e-9 of a rounding boundary; any other published value within 1e-12
    (last-bit differences are about 1e-16; 1e-12 keeps regeneration rare);
  * with rank_on "full", two province scores of a group that differ by less
    than 1e-9 without being equal;
  * the reference's own notes (hsi_ref.score(notes=...)): an almost constant
    zscore or minmax reference set, a geometric/harmonic member within 1e-12
    of 0 or exactly on the edge of its scale (a region's mean of one
    province equal to the minimum: 0 or 1e-16 decides the zero rule), a
    coverage on the 1e-12 tolerance edge, an ill-conditioned contribution
    split (the group barely moved while its members did).

--reading switches one of the readings of the specification listed in
hsi_ref.READINGS (where the text allows two), e.g.
--reading group_imputed=empty.  --only N runs case N alone (with --keep, to
look at its files).

Deterministic for a given seed.  Prints one summary line; on failure, the
first differences and the kept case directory, and exits 1.
"""

import argparse
import csv
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import hsi_ref as ref  # noqa: E402

DATA_DIR = os.path.join(SRC, "common", "data")
NORMS = ["goalpost", "minmax", "panel", "zscore"]
AGGS = ["arithmetic", "geometric", "harmonic"]
REGION_CODES = ["RC", "RE", "RN", "RNE", "RS", "RW"]
SUBS = {"annual": 1, "fiscal": 1, "quarterly": 4, "fquarterly": 4,
        "monthly": 12}
ABS_TOL = 1e-9


# --------------------------------------------------------------------------
# Reference data of the repository
# --------------------------------------------------------------------------

def read_csv_dicts(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


BUILTIN_CATALOG = ref.load_catalog_csv(os.path.join(DATA_DIR,
                                                    "indicators.csv"))
BUILTIN_INDEX = sorted(c for c, e in BUILTIN_CATALOG.items()
                       if e["in_index"] == 1 and e["frequency"] in SUBS)
DIMENSIONS = [r["code"] for r in read_csv_dicts(
    os.path.join(DATA_DIR, "dimensions.csv"))]
OWNERS = {}   # dimension -> agencies that report on it
for _r in read_csv_dicts(os.path.join(DATA_DIR, "agencies.csv")):
    for _d in _r["dimensions"].split(";"):
        OWNERS.setdefault(_d, []).append(_r["code"])


# --------------------------------------------------------------------------
# A case
# --------------------------------------------------------------------------

@dataclass
class Indicator:
    """What the generator knows about one indicator of a case."""
    code: str
    freq: str                 # period form of its data
    rollup_time: str          # effective rules, used to shape the data
    min_sub: int
    rollup_area: str
    entry: dict | None        # catalog entry the engine will see (or None)
    custom: bool              # written to the case's --catalog file
    lo: float                 # range the data are drawn around
    hi: float
    log: bool
    hard_min: float | None
    hard_max: float | None
    decimals: int             # decimals of the submitted values


@dataclass
class Case:
    methodology: dict
    areas: list               # [code, parent, level, population]
    catalog: list | None      # rows of the --catalog file, or None
    ref_catalog: dict         # the catalog the reference uses
    data: list                # [area, indicator, period, value, status]
    with_status: bool
    with_names: bool

    def write(self, d):
        """Writes the case files into directory d; returns hsictl args."""
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "methodology.json"), "w",
                  encoding="utf-8") as f:
            json.dump(self.methodology, f, ensure_ascii=False, indent=1)
        with open(os.path.join(d, "areas.csv"), "w", newline="",
                  encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            head = ["code", "parent", "level", "population"]
            w.writerow(head + (["name_th", "name_en"] if self.with_names
                               else []))
            for code, par, lev, pop in self.areas:
                row = [code, par or "", lev, "" if pop is None else str(pop)]
                if self.with_names:
                    row += ["พื้นที่ " + code, "Area " + code]
                w.writerow(row)
        with open(os.path.join(d, "data.csv"), "w", newline="",
                  encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["area", "indicator", "period", "value"]
                       + (["status"] if self.with_status else []))
            for row in self.data:
                w.writerow(row if self.with_status else row[:4])
        args = ["--methodology", os.path.join(d, "methodology.json"),
                "--areas", os.path.join(d, "areas.csv"),
                "--data", os.path.join(d, "data.csv")]
        if self.catalog is not None:
            with open(os.path.join(d, "catalog.csv"), "w", newline="",
                      encoding="utf-8") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(ref.CATALOG_HEADER)
                for row in self.catalog:
                    w.writerow([row[c] for c in ref.CATALOG_HEADER])
            args += ["--catalog", os.path.join(d, "catalog.csv")]
        return args

    def reference(self, notes=None):
        return ref.score(self.methodology, self.areas, self.ref_catalog,
                         self.data, notes)


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------

def gen_areas(rng):
    """A nation, 2-4 regions and 4-15 provinces, every region non-empty."""
    regions = rng.sample(REGION_CODES, rng.randint(2, 4))
    provs = sorted(rng.sample(range(10, 97), rng.randint(4, 15)))
    rows = [["TH", "", "country",
             rng.randint(10**6, 7 * 10**7) if rng.random() < 0.5 else None]]
    for r in regions:
        rows.append([r, "TH", "region", None if rng.random() < 0.7
                     else rng.randint(10**5, 10**7)])
    for i, p in enumerate(provs):
        parent = regions[i] if i < len(regions) else rng.choice(regions)
        pop = None if rng.random() < 0.1 else rng.randint(20000, 6 * 10**6)
        rows.append([str(p), parent, "province", pop])
    if rng.random() < 0.3:
        rng.shuffle(rows)          # parents may come after their children
    return rows


def rand_weight(rng, allow_zero=True):
    x = rng.random()
    if allow_zero and x < 0.06:
        return 0
    if x < 0.45:
        return 1
    if x < 0.75:
        return rng.choice([0.5, 2, 3, 0.25])
    return round(rng.uniform(0.1, 3), 3)


def rand_min_coverage(rng):
    return rng.choice([0, 0.25, 0.5, 0.5, 0.5, 0.6, 0.75, 1,
                       round(rng.random(), 3)])


def gen_shape(rng):
    """The group structure: nested lists, a leaf is None; depth 1-4."""
    max_depth = rng.randint(1, 4)
    while True:
        def group(level):
            n = rng.randint(1, 3 if level > 1 else 4)
            return [group(level + 1)
                    if level < max_depth and rng.random() < 0.45 else None
                    for _ in range(n)]
        shape = group(1)

        def count(g):
            return sum(1 if c is None else count(c) for c in g)
        if count(shape) <= 8:
            return shape


def catalog_row(rng, code, lo, hi):
    """A valid catalog row (docs/catalog.md): the agency owns the dimension,
    hard_min <= lo < hi <= hard_max, the enumerations.  Returns the CSV row
    (strings) and the typed entry the reference reads from it."""
    freq = rng.choices(list(SUBS), [50, 8, 20, 7, 15])[0]
    n = SUBS[freq]
    if n == 1:
        rt, ms = "last", 1
    else:
        rt = rng.choice(["mean", "sum", "last"])
        ms = rng.choice([1, n, n, rng.randint(1, n)])
    ra = rng.choices(["wmean", "sum", "national"], [70, 20, 10])[0]
    dim = rng.choice(DIMENSIONS)
    span = (hi - lo) * (4 if rt == "sum" else 1)
    row = {"code": code, "dimension": dim,
           "agency": rng.choice(OWNERS[dim]),
           "name_th": "ตัวชี้วัด " + code, "name_en": "Indicator " + code,
           "unit": "%", "frequency": freq,
           "hard_min": "%d" % math.floor(min(-10.0, lo - 10 * span)),
           "hard_max": "%d" % (math.ceil(hi + 10 * span) + 100),
           "rollup_area": ra, "rollup_time": rt,
           "min_subperiods": str(ms),
           "direction": rng.choice(["1", "-1"]),
           "lo": repr(lo), "hi": repr(hi),
           "weight": repr(rng.choice([1.0, 1.0, 0.5, 2.0, 1.25])),
           "in_index": "1", "definition_th": "ทดสอบ, แบบสุ่ม",
           "definition_en": "random test indicator, \"quoted\"",
           "source": "crosscheck"}
    return row, ref.catalog_from_rows([row])[code]


def gen_indicator(rng, code, mode, catalog_rows):
    """An indicator: its data shape and, maybe, a catalog entry."""
    if mode == "builtin" and code in BUILTIN_CATALOG:
        e = BUILTIN_CATALOG[code]
        log = e["lo"] > 0 and rng.random() < 0.25 or rng.random() < 0.1
        return Indicator(code=code, freq=e["frequency"],
                         rollup_time=e["rollup_time"],
                         min_sub=e["min_subperiods"],
                         rollup_area=e["rollup_area"], entry=e, custom=False,
                         lo=e["lo"], hi=e["hi"], log=log,
                         hard_min=e["hard_min"], hard_max=e["hard_max"],
                         decimals=rng.choice([1, 2, 3]))
    log = rng.random() < 0.25
    if log:
        lo = round(rng.uniform(0.5, 30), 2)
    else:
        lo = round(rng.uniform(-50, 60), 2)
    hi = round(lo + rng.uniform(1, 120), 2)
    if mode == "custom" and rng.random() < 0.75:
        row, entry = catalog_row(rng, code, lo, hi)
        catalog_rows.append(row)
        return Indicator(code=code, freq=row["frequency"],
                         rollup_time=entry["rollup_time"],
                         min_sub=entry["min_subperiods"],
                         rollup_area=entry["rollup_area"], entry=entry,
                         custom=True, lo=lo, hi=hi, log=log,
                         hard_min=entry["hard_min"],
                         hard_max=entry["hard_max"],
                         decimals=rng.choice([2, 3, 4, 6]))
    # Not in any catalog: rolled up by mean (min 1) and wmean (M §2).
    freq = rng.choices(["annual", "quarterly", "monthly"], [75, 15, 10])[0]
    return Indicator(code=code, freq=freq, rollup_time="mean", min_sub=1,
                     rollup_area="wmean", entry=None, custom=False, lo=lo,
                     hi=hi, log=log, hard_min=None, hard_max=None,
                     decimals=rng.choice([2, 3, 4, 6]))


def gen_leaf(rng, ind, defaults):
    """A leaf node for `ind`; fields the catalog supplies are sometimes
    left out (M §1), other fields sometimes left to `defaults`."""
    node = {"indicator": ind.code}
    e = ind.entry
    if rng.random() < 0.3:
        norm = defaults.get("normalisation", "goalpost")
    else:
        norm = rng.choice(NORMS)
        node["normalisation"] = norm
    if ind.log:
        node["log"] = True
    elif rng.random() < 0.15:
        node["log"] = False
    if e is None or rng.random() < 0.6:
        node["weight"] = rand_weight(rng)
    if e is None or rng.random() < 0.6:
        node["direction"] = rng.choice([1, -1])
    # Goalposts: from the catalog when it has usable ones (positive for a
    # log leaf: a log leaf always gets positive effective goalposts, so the
    # "> 0" rule of M §3.2 never depends on the normalisation).
    cat_ok = e is not None and (not ind.log or e["lo"] > 0)
    if cat_ok and rng.random() < 0.5:
        pass
    elif norm == "goalpost" or rng.random() < 0.3 or (
            ind.log and e is not None and not cat_ok):
        lo, hi = ind.lo, ind.hi
        span = hi - lo
        if ind.log and lo <= 0:
            lo, hi = max(0.5, hi * 0.1), max(1.0, hi)
        else:
            lo = round(lo + rng.uniform(-0.2, 0.2) * span, 2)
            hi = round(hi + rng.uniform(-0.2, 0.2) * span, 2)
            if ind.log:
                lo = max(lo, 0.1)
            if hi <= lo:
                hi = round(lo + span, 2)
        node["lo"], node["hi"] = lo, hi
    x = rng.random()
    if x < 0.35:
        pass
    elif x < 0.55:
        node["imputation"] = rng.choice([{"method": "none"}, "none"])
    elif x < 0.8:
        node["imputation"] = {"method": "carry_forward",
                              "max_age": rng.randint(1, 3)}
    else:
        node["imputation"] = rng.choice([{"method": "region_mean"},
                                         "region_mean"])
    return node


def period_text(rng, freq, year, k, index_period):
    """The k-th sub-period of index year `year` in the indicator's
    frequency, in one of the forms of docs/periods.md.  With fiscal index
    years, calendar quarters and months are those of the fiscal year
    (Oct-Sep) and a calendar year is the one holding nine of its months."""
    if index_period == "fiscal" and freq in ("quarterly", "monthly"):
        if freq == "quarterly":      # FY2024 = 2023Q4, 2024Q1..Q3
            year, k = (year - 1, 4) if k == 1 else (year, k - 1)
        else:                        # FY2024 = 2023-10 .. 2024-09
            year, k = (year - 1, k + 9) if k <= 3 else (year, k - 3)
    be = year + 543
    thai = str(be).translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
    if freq == "annual":
        return rng.choices([str(year), "%d-A" % year, str(be), thai,
                            "พ.ศ. %d" % be], [80, 8, 8, 2, 2])[0]
    if freq == "fiscal":
        return rng.choices(["FY%d" % year, "fy%d" % year, "FY%d" % be,
                            "ปีงบประมาณ %d" % be, "ปีงบ " + thai],
                           [80, 8, 8, 2, 2])[0]
    if freq == "quarterly":
        return rng.choice(["%dQ%d", "%d-Q%d", "%dq%d"]) % (year, k)
    if freq == "fquarterly":
        return "FY%dQ%d" % (year, k)
    return "%d-%02d" % (year, k)


def draw_value(rng, ind):
    span = ind.hi - ind.lo
    if ind.log:
        v = rng.uniform(ind.lo * 0.5, ind.hi * 1.4)
        if rng.random() < 0.04:
            v = rng.choice([0.0, -rng.uniform(0.01, 5)])
    else:
        v = rng.uniform(ind.lo - 0.3 * span, ind.hi + 0.3 * span)
    if ind.hard_min is not None:
        v = min(max(v, ind.hard_min), ind.hard_max)
    return v


def gen_data(rng, inds, areas, years, with_status, index_period):
    """Observation rows [area, indicator, period, value, status]."""
    provinces = [a[0] for a in areas if a[2] == "province"]
    others = [a[0] for a in areas if a[2] != "province"]
    rows = []

    def fmt_value(ind, v):
        return "%.*f" % (ind.decimals, v)

    def emit(area, ind, year, complete):
        """The sub-periods of one (area, indicator, year); `complete` keeps
        every sub-period (values submitted for regions and the nation always
        give a year value)."""
        n = SUBS[ind.freq]
        target = draw_value(rng, ind)
        for k in range(1, n + 1):
            v = target / n if ind.rollup_time == "sum" else target
            if n > 1:
                v += rng.uniform(-0.05, 0.05) * (ind.hi - ind.lo) / (
                    n if ind.rollup_time == "sum" else 1)
                if ind.hard_min is not None:
                    v = min(max(v, ind.hard_min), ind.hard_max)
                if ind.log and target > 0 and v <= 0:
                    v = target
            text = fmt_value(ind, v)
            status = rng.choice(["", "", "", "E", "P"]) if with_status else ""
            if not complete and n > 1 and rng.random() < 0.15:
                x = rng.random()
                if x < 0.5:
                    continue
                text = ""
                status = "M" if with_status and x < 0.8 else ""
            rows.append([area, ind.code, period_text(rng, ind.freq, year, k,
                                                     index_period),
                         text, status])

    for ind in inds:
        province_data = ind.rollup_area != "national" or rng.random() < 0.5
        for year in years:
            whole_missing = rng.random() < 0.1
            for p in provinces:
                if not province_data:
                    continue
                if whole_missing or rng.random() < 0.15:
                    x = rng.random()
                    if x < 0.6:
                        continue          # no row at all
                    status = "M" if with_status and x < 0.8 else ""
                    rows.append([p, ind.code,
                                 period_text(rng, ind.freq, year, 1,
                                             index_period), "",
                                 status])
                    continue
                emit(p, ind, year, complete=False)
            direct_p = 0.7 if ind.rollup_area == "national" else 0.07
            for a in others:
                if rng.random() < (direct_p if a == "TH" else direct_p / 2):
                    emit(a, ind, year, complete=True)
    # Every index year must hold at least one value (so that the set of
    # years does not depend on how rows without a value are counted).
    for year in years:
        have = any(r[3] != "" and ref.index_year(ref.parse_period(r[2]),
                                                 index_period) == year
                   for r in rows)
        if not have:
            # (drop its rows without a value first: no duplicate periods)
            rows[:] = [r for r in rows if not (
                r[0] == provinces[0] and r[1] == inds[0].code and
                ref.index_year(ref.parse_period(r[2]), index_period) == year)]
            emit(provinces[0], inds[0], year, complete=True)
    if rng.random() < 0.5:
        rng.shuffle(rows)
    return rows


def gen_case(rng):
    """One random case (see the module docstring)."""
    areas = gen_areas(rng)
    mode = rng.choices(["custom", "builtin", "none"], [45, 25, 30])[0]
    shape = gen_shape(rng)

    def count(g):
        return sum(1 if c is None else count(c) for c in g)
    nleaves = count(shape)
    builtin = (rng.sample(BUILTIN_INDEX, rng.randint(1, nleaves))
               if mode == "builtin" else [])
    codes = builtin + ["ind%d" % i
                       for i in range(1, nleaves - len(builtin) + 1)]
    rng.shuffle(codes)
    catalog_rows = []
    inds = [gen_indicator(rng, c, mode, catalog_rows) for c in codes]
    # An unused entry sometimes, and always when the catalog would be
    # empty: hsictl refuses a catalog without indicators.
    if mode == "custom" and (rng.random() < 0.5 or not catalog_rows):
        catalog_rows.append(catalog_row(rng, "unused_x", 0.0, 10.0)[0])

    defaults = {}
    if rng.random() < 0.5:
        if rng.random() < 0.5:
            defaults["normalisation"] = rng.choice(NORMS)
        if rng.random() < 0.5:
            defaults["aggregation"] = rng.choice(AGGS)
        if rng.random() < 0.5:
            defaults["min_coverage"] = rand_min_coverage(rng)
        if rng.random() < 0.5:
            defaults["imputation"] = rng.choice(
                [{"method": "none"}, {"method": "region_mean"},
                 {"method": "carry_forward", "max_age": rng.randint(1, 3)}])

    leaf_iter = iter(inds)
    group_no = [0]

    def build(g, is_root):
        if is_root:
            node = {"code": "hsi", "name_th": "ดัชนี", "name_en": "Index"}
        else:
            group_no[0] += 1
            node = {"code": "g%d" % group_no[0]}
            if rng.random() < 0.6:
                node["weight"] = rand_weight(rng)
        if rng.random() < 0.65:
            node["aggregation"] = rng.choices(AGGS, [50, 25, 25])[0]
        if rng.random() < 0.65:
            node["min_coverage"] = rand_min_coverage(rng)
        node["children"] = [gen_leaf(rng, next(leaf_iter), defaults)
                            if c is None else build(c, False) for c in g]
        return node

    doc = {"format": 2, "name": "crosscheck %d" % rng.randint(0, 10**6),
           "description": "random case"}
    index_period = rng.choices(["calendar", "fiscal"], [80, 20])[0]
    if index_period == "fiscal" or rng.random() < 0.3:
        doc["index_period"] = index_period
    if rng.random() < 0.3:
        doc["rank_level"] = "province"
    if rng.random() < 0.9:
        doc["decimals"] = rng.choices([0, 1, 2, 3, 4, 5, 6],
                                      [3, 3, 19, 19, 19, 19, 18])[0]
    if rng.random() < 0.6:
        doc["rank_on"] = rng.choice(["published", "full"])
    if rng.random() < 0.5:
        cuts = sorted(set(round(rng.uniform(0, 0.9), rng.choice([1, 2, 3]))
                          for _ in range(rng.randint(1, 4))))
        if rng.random() < 0.5:
            cuts[0] = 0
        names = ["low", "medium", "high", "very_high", "top"]
        doc["bands"] = [{"from": c, "code": names[i], "th": "ระดับ %d" % i,
                         "en": names[i].title()} for i, c in enumerate(cuts)]
    if defaults or rng.random() < 0.2:
        doc["defaults"] = defaults
    doc["tree"] = build(shape, True)

    y0 = rng.randint(2016, 2023)
    years = list(range(y0, y0 + rng.randint(3, 6)))
    with_status = rng.random() < 0.4
    data = gen_data(rng, inds, areas, years, with_status, index_period)
    return Case(methodology=doc, areas=areas,
                catalog=catalog_rows if mode == "custom" else None,
                ref_catalog=(ref.catalog_from_rows(catalog_rows)
                             if mode == "custom" else BUILTIN_CATALOG),
                data=data, with_status=with_status,
                with_names=rng.random() < 0.3)


# --------------------------------------------------------------------------
# Ambiguity filter
# --------------------------------------------------------------------------

def near_boundary(x, d, tol):
    """Whether x lies within tol of a rounding boundary (k + 1/2) / 10^d."""
    scale = 10.0 ** d
    p = x * scale
    b = (math.floor(p) + 0.5) / scale
    return abs(x - b) < tol


def ambiguity(case, rows, notes):
    """Why a case is not a fair test, or None (see the module docstring)."""
    if notes:
        return notes[0]
    doc = case.methodology
    d = doc.get("decimals", 4)
    full = doc.get("rank_on", "published") == "full"
    by_group = {}
    for r in rows:
        if r["value"] is None:
            continue
        ranked = r["kind"] != "indicator" and r["level"] == "province"
        if near_boundary(r["value"], d, ABS_TOL if ranked else 1e-12):
            return "published value near a rounding boundary (%s %s %s)" % (
                r["period"], r["area"], r["node"])
        if ranked:
            by_group.setdefault((r["period"], r["node"]),
                                []).append(r["value"])
    if full:
        for key, vals in by_group.items():
            vals.sort()
            for a, b in zip(vals, vals[1:]):
                if a != b and b - a < ABS_TOL:
                    return "near tie on full precision (%s %s)" % key
    return None


def generate(seed, index):
    """The index-th case of a seed, regenerated while ambiguous."""
    for attempt in range(200):
        rng = random.Random("%s/%d/%d" % (seed, index, attempt))
        case = gen_case(rng)
        notes = []
        rows = case.reference(notes)
        why = ambiguity(case, rows, notes)
        if why is None:
            return case, rows, attempt
    raise RuntimeError("no unambiguous case after 200 attempts")


# --------------------------------------------------------------------------
# Running hsictl and comparing
# --------------------------------------------------------------------------

def run_hsictl(hsictl, args, out, extra=()):
    """Runs hsictl score; returns (rows or None, error text)."""
    cmd = [hsictl, "score"] + list(args) + ["--format", "csv", "--out", out] \
        + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None, "hsictl exited %d: %s" % (p.returncode,
                                               (p.stderr or p.stdout).strip())
    with open(out, newline="", encoding="utf-8-sig") as f:
        text = f.read()
    return parse_output(text), text


def parse_output(text):
    """Rows of hsictl's CSV as dicts of strings."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != ref.COLUMNS:
        raise ValueError("unexpected header: %r" % (header,))
    return [dict(zip(header, r)) for r in reader]


NUMERIC = ["value", "published", "coverage", "delta", "contribution", "raw"]


def compare(ref_rows, c_rows):
    """Differences between reference rows and hsictl rows (strings), as a
    list of (column, message); column is "rows" for a row-set difference."""
    diffs = []
    rk = [(r["period"], r["area"], r["node"]) for r in ref_rows]
    ck = [(r["period"], r["area"], r["node"]) for r in c_rows]
    if set(rk) != set(ck):
        missing = sorted(set(rk) - set(ck))[:5]
        extra = sorted(set(ck) - set(rk))[:5]
        return [("rows", "row sets differ: %d reference rows, %d hsictl rows;"
                 " missing from hsictl %s; extra in hsictl %s"
                 % (len(rk), len(ck), missing, extra))]
    if rk != ck:
        first = next(i for i, (a, b) in enumerate(zip(rk, ck)) if a != b)
        diffs.append(("rows", "row order differs at row %d: reference %s, "
                      "hsictl %s" % (first + 2, rk[first], ck[first])))
    cmap = {k: r for k, r in zip(ck, c_rows)}
    for key, r in zip(rk, ref_rows):
        c = cmap[key]
        for col in ref.COLUMNS:
            want, got = r[col], c[col]
            if col in NUMERIC:
                if want is None or got == "":
                    bad = (want is None) != (got == "")
                else:
                    tol = ABS_TOL if col != "raw" else max(
                        ABS_TOL, 1e-12 * abs(want))   # raw may be 1e5 or so
                    bad = not abs(float(got) - want) <= tol
            else:                   # rank, rank_change, imputed, band, keys
                bad = ref.fmt(want) != got
            if bad:
                diffs.append((col, "%s area %s node %s: %s reference %s, "
                              "hsictl %r" % (key[0], key[1], key[2], col,
                                             ref.fmt(want), got)))
    return diffs


def values_in_unit_interval(c_rows):
    """Property (a): every value lies in [0, 1]."""
    bad = []
    for r in c_rows:
        if r["value"] != "" and not 0.0 <= float(r["value"]) <= 1.0:
            bad.append("%s %s %s: value %s outside [0,1]"
                       % (r["period"], r["area"], r["node"], r["value"]))
    return bad


def set_readings(pairs):
    """Applies --reading KEY=VALUE options to hsi_ref.READINGS."""
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in ref.READINGS:
            raise SystemExit("unknown reading %r (known: %s)"
                             % (key, ", ".join(ref.READINGS)))
        ref.READINGS[key] = value


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hsictl")
    ap.add_argument("--cases", type=int, default=220)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--keep", help="write every case to this directory and "
                    "keep it")
    ap.add_argument("--only", type=int, help="run only this case number")
    ap.add_argument("--reading", action="append", default=[],
                    metavar="KEY=VALUE", help="an alternative reading of the "
                    "specification (hsi_ref.READINGS)")
    args = ap.parse_args(argv)
    set_readings(args.reading)

    start = time.monotonic()
    root = args.keep or tempfile.mkdtemp(prefix="hsi-crosscheck-")
    os.makedirs(root, exist_ok=True)
    failures, regenerated, rows_compared = [], 0, 0
    by_column = {}          # differences per column, over all cases
    indices = [args.only] if args.only is not None else range(args.cases)
    for i in indices:
        case, rows, attempts = generate(args.seed, i)
        regenerated += attempts
        d = os.path.join(root, "case-%03d" % i)
        hs_args = case.write(d)
        with open(os.path.join(d, "reference.csv"), "w", newline="",
                  encoding="utf-8") as f:
            ref.write_rows_csv(rows, f)
        c_rows, text = run_hsictl(args.hsictl, hs_args,
                                  os.path.join(d, "out.csv"))
        if c_rows is None:
            diffs = [("exit", text)]
        else:
            diffs = compare(rows, c_rows) + [
                ("range", x) for x in values_in_unit_interval(c_rows)]
            rows_compared += len(rows)
        for col, _ in diffs:
            by_column[col] = by_column.get(col, 0) + 1
        if diffs:
            failures.append((i, d, [m for _, m in diffs]))
        elif not args.keep:
            shutil.rmtree(d)
    elapsed = time.monotonic() - start
    n = len(indices)
    print("reference crosscheck: %d/%d cases agree (%d rows compared, "
          "%d ambiguous cases regenerated, seed %s%s) in %.1f s"
          % (n - len(failures), n, rows_compared, regenerated, args.seed,
             "".join(", reading " + r for r in args.reading), elapsed))
    if failures:
        print("differences by column: " + ", ".join(
            "%s %d" % kv for kv in sorted(by_column.items())))
        for i, d, diffs in failures[:5]:
            print("case %d FAILED (kept in %s):" % (i, d))
            for line in diffs[:8]:
                print("  " + line)
        print("reproduce: %s score --methodology M.json --areas A.csv "
              "--data D.csv [--catalog C.csv] --format csv; the reference "
              "output is reference.csv in the case directory" % args.hsictl)
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
