#!/usr/bin/python3
"""Hand-checked cases for the reference implementation (hsi_ref.py).

Runs without hsictl.  Each expected number below was worked out by hand from
docs/methodology.md (the section is named in each test), not by running the
reference, so a wrong reading of the specification shows up here.
"""

import math
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsi_ref as ref  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def leaf(code, **kw):
    d = {"indicator": code}
    d.update(kw)
    return d


def method(tree, **kw):
    doc = {"format": 2, "name": "test", "tree": tree}
    doc.update(kw)
    return doc


class reading:
    """Runs a block under one value of hsi_ref.READINGS."""

    def __init__(self, key, value):
        self.key, self.value = key, value

    def __enter__(self):
        self.old = ref.READINGS[self.key]
        ref.READINGS[self.key] = self.value

    def __exit__(self, *exc):
        ref.READINGS[self.key] = self.old


def by(rows, period, area, node):
    """The one row of (period, area, node)."""
    found = [r for r in rows if r["period"] == period and r["area"] == area
             and r["node"] == node]
    assert len(found) == 1, (period, area, node, len(found))
    return found[0]


# Three provinces in two regions under a nation.
AREAS = [["TH", "", "country", ""],
         ["RA", "TH", "region", ""],
         ["RB", "TH", "region", ""],
         ["01", "RA", "province", 1],
         ["02", "RA", "province", 1],
         ["03", "RB", "province", 2]]


class Periods(unittest.TestCase):
    """docs/periods.md."""

    def test_index_years(self):
        cases = [("2024", "calendar", 2024), ("FY2024", "calendar", 2024),
                 ("FY2024Q1", "calendar", 2024), ("2024-Q4", "calendar", 2024),
                 ("2024q4", "fiscal", 2025), ("2023-10", "fiscal", 2024),
                 ("2023-09-30", "fiscal", 2023), ("2024", "fiscal", 2024),
                 ("2567", "calendar", 2024), ("๒๕๖๗", "calendar", 2024),
                 ("ปีงบ 2567", "calendar", 2024), ("2024-A", "calendar", 2024),
                 ("2567-03", "calendar", 2024), ("FY2567Q4", "fiscal", 2024)]
        for text, ip, want in cases:
            self.assertEqual(ref.index_year(ref.parse_period(text), ip), want,
                             (text, ip))

    def test_refused(self):
        for text in ("FY 2024", "FY2024-Q1", "2024-3", "2024-02-30",
                     "2024-13", "2024Q5", "1899", "2400"):
            with self.assertRaises(ValueError, msg=text):
                ref.parse_period(text)

    def test_fiscal_quarter_order(self):
        q = [ref.parse_period("FY2024Q%d" % i).start() for i in (1, 2, 3, 4)]
        self.assertEqual(q, [(2023, 10, 1), (2024, 1, 1), (2024, 4, 1),
                             (2024, 7, 1)])


class Rounding(unittest.TestCase):
    """M §3.6: C round, half away from zero, on the binary64 product."""

    def test_c_round(self):
        self.assertEqual(ref.c_round(2.5), 3.0)
        self.assertEqual(ref.c_round(-2.5), -3.0)
        self.assertEqual(ref.c_round(0.5), 1.0)
        self.assertEqual(ref.c_round(0.49999999999999994), 0.0)
        self.assertEqual(ref.c_round(4503599627370495.5), 4503599627370496.0)

    def test_round_pub(self):
        # 1.005 * 100 = 100.49999999999999 in binary64 -> 100 -> 1.0
        self.assertEqual(ref.round_pub(1.005, 2), 1.0)
        # 0.125 * 100 = 12.5 exactly -> 13 (Python's round gives 12)
        self.assertEqual(ref.round_pub(0.125, 2), 0.13)
        self.assertEqual(ref.round_pub(0.2333333333, 4), 0.2333)


class WorkedExample(unittest.TestCase):
    """M §10 with the catalog of tests/e2e/catalog.csv (and the e2e data)."""

    def setUp(self):
        self.cat = ref.load_catalog_csv(
            os.path.join(SRC, "tests", "e2e", "catalog.csv"))
        dims = [("health", "t_health"), ("living", "t_living"),
                ("education", "t_edu"), ("economy", "t_econ"),
                ("services", "t_serv"), ("personal", "t_pers"),
                ("political", "t_pol")]
        # Leaves name only the indicator: direction, goalposts and weight
        # are filled from the catalog (M §1).
        self.doc = method({"code": "hsi", "children": [
            {"code": d, "children": [leaf(i)]} for d, i in dims]},
            bands=[{"from": 0, "code": "low"}, {"from": 0.4, "code": "medium"},
                   {"from": 0.6, "code": "high"},
                   {"from": 0.8, "code": "very_high"}])
        self.areas = [["TH", "", "country", ""], ["RC", "TH", "region", ""],
                      ["RN", "TH", "region", ""], ["RS", "TH", "region", ""],
                      ["10", "RC", "province", 5588222],
                      ["50", "RN", "province", 1784370],
                      ["96", "RS", "province", 804429]]
        vals = {"10": dict(t_health=80, t_living=75, t_edu=40, t_econ=2,
                           t_serv=90, t_pers=70, t_pol=82),
                "50": dict(t_health=60, t_living=50, t_edu=25, t_econ=5,
                           t_serv=50, t_pers=50, t_pol=70),
                "96": dict(t_health=40, t_living=40, t_edu=10, t_econ=8,
                           t_serv=30, t_pers=20, t_pol=54)}
        obs = []
        for a, d in vals.items():
            for ind, v in d.items():
                if ind == "t_living":
                    for q in (1, 2, 3, 4):
                        if a == "96" and q == 4:
                            obs.append([a, ind, "2024Q4", "", "M"])
                        else:
                            obs.append([a, ind, "2024Q%d" % q, v, ""])
                else:
                    obs.append([a, ind, "2567" if a == "96" else "2024", v, ""])
        self.rows = ref.score(self.doc, self.areas, self.cat, obs)

    def test_narathiwat(self):
        r = by(self.rows, "2024", "96", "hsi")
        self.assertAlmostEqual(r["value"], 1.4 / 6, places=12)
        self.assertEqual(r["published"], 0.2333)
        self.assertAlmostEqual(r["coverage"], 6 / 7, places=12)
        self.assertEqual(r["band"], "low")
        self.assertEqual(r["rank"], 3)
        self.assertEqual(r["kind"], "index")
        living = by(self.rows, "2024", "96", "t_living")
        self.assertIsNone(living["value"])      # 3 of 4 quarters
        self.assertEqual(living["coverage"], 0.0)
        self.assertAlmostEqual(by(self.rows, "2024", "96", "t_pol")["value"],
                               0.1, places=12)
        self.assertAlmostEqual(by(self.rows, "2024", "96", "economy")["value"],
                               0.2, places=12)

    def test_ranks(self):
        self.assertEqual(by(self.rows, "2024", "10", "hsi")["published"], 0.7929)
        self.assertEqual(by(self.rows, "2024", "10", "hsi")["rank"], 1)
        self.assertEqual(by(self.rows, "2024", "50", "hsi")["published"], 0.5143)
        self.assertEqual(by(self.rows, "2024", "50", "hsi")["rank"], 2)
        self.assertEqual(by(self.rows, "2024", "50", "hsi")["band"], "medium")
        self.assertIsNone(by(self.rows, "2024", "TH", "hsi")["rank"])

    def test_nation(self):
        h = by(self.rows, "2024", "TH", "t_health")
        want = (5588222 * 80 + 1784370 * 60 + 804429 * 40) / 8177021
        self.assertAlmostEqual(h["raw"], want, places=9)
        self.assertAlmostEqual(h["raw"], 71.70, places=2)
        self.assertEqual(h["published"], 0.717)
        living = by(self.rows, "2024", "TH", "t_living")  # from 10 and 50 only
        self.assertAlmostEqual(living["raw"], (5588222 * 75 + 1784370 * 50)
                               / (5588222 + 1784370), places=9)

    def test_order(self):
        order = [r["node"] for r in self.rows
                 if r["period"] == "2024" and r["area"] == "10"]
        self.assertEqual(order[:3], ["t_health", "health", "t_living"])
        self.assertEqual(order[-1], "hsi")
        areas = []
        for r in self.rows:
            if not areas or areas[-1] != r["area"]:
                areas.append(r["area"])
        self.assertEqual(areas, sorted(areas))


class Normalisation(unittest.TestCase):
    """M §3.3 and §3.4."""

    def rows(self, lf, obs, **kw):
        doc = method({"code": "root", "children": [lf]}, **kw)
        return ref.score(doc, AREAS, None, obs)

    def test_zscore(self):
        obs = [["01", "x", "2024", 1], ["02", "x", "2024", 2],
               ["03", "x", "2024", 3]]
        rows = self.rows(leaf("x", weight=1, direction=1,
                              normalisation="zscore"), obs)
        # mu = 2, sigma = 1 (n - 1 = 2): u = Phi(z)
        self.assertAlmostEqual(by(rows, "2024", "01", "x")["value"],
                               0.15865525393145707, places=14)
        self.assertEqual(by(rows, "2024", "02", "x")["value"], 0.5)
        # region RA = unweighted (pop 1, 1) mean 1.5 -> z = -0.5
        self.assertAlmostEqual(by(rows, "2024", "RA", "x")["value"],
                               0.30853753872598688, places=14)
        # nation: (1 + 2 + 2*3) / 4 = 2.25 -> Phi(0.25)
        self.assertAlmostEqual(by(rows, "2024", "TH", "x")["raw"], 2.25)
        self.assertAlmostEqual(by(rows, "2024", "TH", "x")["value"],
                               0.59870632568292381, places=14)

    def test_minmax_and_direction(self):
        obs = [["01", "x", "2024", 10], ["02", "x", "2024", 20],
               ["03", "x", "2024", 30], ["RB", "x", "2024", 50]]
        rows = self.rows(leaf("x", weight=1, direction=-1,
                              normalisation="minmax"), obs)
        self.assertEqual(by(rows, "2024", "01", "x")["value"], 1.0)
        self.assertEqual(by(rows, "2024", "02", "x")["value"], 0.5)
        # submitted region value 50: (50-10)/20 = 2 -> clamped 1 -> 1 - 1 = 0
        self.assertEqual(by(rows, "2024", "RB", "x")["value"], 0.0)
        self.assertEqual(by(rows, "2024", "RB", "x")["raw"], 50.0)

    def test_panel_log(self):
        e = math.e
        obs = [["01", "x", "2023", 1], ["02", "x", "2023", e],
               ["01", "x", "2024", e ** 2], ["02", "x", "2024", -1],
               ["03", "x", "2024", e]]
        rows = self.rows(leaf("x", weight=1, direction=1, log=True,
                              normalisation="panel"), obs)
        # logs 0, 1 | 2, (missing), 1: m = 0, M = 2 over both years
        self.assertAlmostEqual(by(rows, "2023", "02", "x")["value"], 0.5)
        self.assertAlmostEqual(by(rows, "2024", "01", "x")["value"], 1.0)
        r = by(rows, "2024", "02", "x")
        self.assertIsNone(r["value"])
        self.assertEqual(r["raw"], -1.0)
        self.assertEqual(r["coverage"], 0.0)

    def test_goalpost_log(self):
        obs = [["01", "x", "2024", 10]]
        rows = self.rows(leaf("x", weight=1, direction=1, log=True,
                              lo=1, hi=100), obs)
        self.assertAlmostEqual(by(rows, "2024", "01", "x")["value"], 0.5)

    def test_single_reference_value(self):
        obs = [["01", "x", "2024", 7]]
        rows = self.rows(leaf("x", weight=1, direction=1,
                              normalisation="zscore"), obs)
        self.assertEqual(by(rows, "2024", "01", "x")["value"], 0.5)
        # no reference value at all: missing for every area
        obs = [["RA", "x", "2024", 7]]
        rows = self.rows(leaf("x", weight=1, direction=1,
                              normalisation="minmax"), obs)
        self.assertIsNone(by(rows, "2024", "RA", "x")["value"])


class Panel(unittest.TestCase):
    """M §2 with a catalog: time and area roll-ups."""

    CAT = {
        "q_mean": {"rollup_time": "mean", "min_subperiods": 3,
                   "rollup_area": "sum", "direction": 1, "lo": 0.0,
                   "hi": 100.0, "weight": 2.0},
        "m_last": {"rollup_time": "last", "min_subperiods": 1,
                   "rollup_area": "national", "direction": -1, "lo": 0.0,
                   "hi": 10.0, "weight": 1.0},
    }

    def test_rollups(self):
        doc = method({"code": "root", "children": [leaf("q_mean"),
                                                   leaf("m_last")]})
        obs = [["01", "q_mean", "2024Q1", 10], ["01", "q_mean", "2024Q2", 20],
               ["01", "q_mean", "2024Q3", 60],
               ["02", "q_mean", "2024Q1", 5], ["02", "q_mean", "2024Q2", 5],
               ["02", "q_mean", "2024Q3", ""], ["02", "q_mean", "2024Q4", 5],
               ["03", "q_mean", "2024Q1", 1], ["03", "q_mean", "2024Q2", 1],
               ["03", "q_mean", "2024Q4", 1],
               ["TH", "m_last", "2024-11", 4], ["TH", "m_last", "2024-02", 9],
               ["01", "m_last", "2024-01", 2]]
        rows = ref.score(doc, AREAS, self.CAT, obs)
        self.assertEqual(by(rows, "2024", "01", "q_mean")["raw"], 30.0)
        self.assertEqual(by(rows, "2024", "02", "q_mean")["raw"], 5.0)
        self.assertEqual(by(rows, "2024", "RA", "q_mean")["raw"], 35.0)  # sum
        self.assertEqual(by(rows, "2024", "TH", "q_mean")["raw"], 36.0)
        self.assertEqual(by(rows, "2024", "TH", "m_last")["raw"], 4.0)
        self.assertAlmostEqual(by(rows, "2024", "TH", "m_last")["value"], 0.6)
        self.assertIsNone(by(rows, "2024", "RA", "m_last")["raw"])  # national
        # province 01: weights 2 (catalog) and 1: (2*0.3 + 1*0.8) / 3
        self.assertAlmostEqual(by(rows, "2024", "01", "root")["value"],
                               (2 * 0.3 + 0.8) / 3, places=14)
        # province 02: 5 -> 0.05, m_last missing: coverage 2/3
        r = by(rows, "2024", "02", "root")
        self.assertAlmostEqual(r["coverage"], 2 / 3, places=14)
        self.assertAlmostEqual(r["value"], 0.05, places=14)

    def test_sum_needs_every_province(self):
        doc = method({"code": "root", "children": [leaf("q_mean")]})
        obs = [["01", "q_mean", "2024Q%d" % q, 1] for q in (1, 2, 3)] + \
              [["03", "q_mean", "2024Q%d" % q, 1] for q in (1, 2, 3)]
        rows = ref.score(doc, AREAS, self.CAT, obs)
        self.assertIsNone(by(rows, "2024", "RA", "q_mean")["raw"])
        self.assertEqual(by(rows, "2024", "RB", "q_mean")["raw"], 1.0)
        self.assertIsNone(by(rows, "2024", "TH", "q_mean")["raw"])


class Imputation(unittest.TestCase):
    """M §3.1."""

    def test_carry_forward_and_region_mean(self):
        doc = method({"code": "root", "children": [
            leaf("cf", weight=1, direction=1, lo=0, hi=10,
                 imputation={"method": "carry_forward", "max_age": 2}),
            leaf("rm", weight=1, direction=1, lo=0, hi=10,
                 imputation="region_mean")]})
        obs = [["01", "cf", "2020", 1], ["01", "cf", "2021", ""],
               ["01", "cf", "2022", ""], ["01", "cf", "2023", ""],
               ["01", "rm", "2020", 4], ["02", "rm", "2020", ""],
               ["03", "rm", "2020", ""]]
        rows = ref.score(doc, AREAS, None, obs)
        r = by(rows, "2022", "01", "cf")
        self.assertEqual((r["raw"], r["imputed"], r["value"]), (1.0, 1, 0.1))
        self.assertIsNone(by(rows, "2023", "01", "cf")["raw"])  # too old
        r = by(rows, "2020", "02", "rm")     # sibling 01 only (03 is in RB)
        self.assertEqual((r["raw"], r["imputed"]), (4.0, 1))
        self.assertIsNone(by(rows, "2020", "03", "rm")["raw"])  # no sibling
        # RA is rolled up from 01 (observed, not imputed); RB has no
        # province value, so it takes the mean of its sibling region RA;
        # TH is rolled up from 01 only (the imputed 02 takes no part).
        self.assertEqual(by(rows, "2020", "RA", "rm")["imputed"], 0)
        r = by(rows, "2020", "RB", "rm")
        self.assertEqual((r["raw"], r["imputed"]), (4.0, 1))
        r = by(rows, "2020", "TH", "rm")
        self.assertEqual((r["raw"], r["imputed"]), (4.0, 0))


class Aggregation(unittest.TestCase):
    """M §3.5 and §3.7 on a single province over two years."""

    AREAS1 = [["TH", "", "country", ""], ["01", "TH", "province", 1]]

    def run_two(self, agg, y1, y2, weights=(1, 1), min_cov=0.5):
        doc = method({"code": "root", "aggregation": agg,
                      "min_coverage": min_cov, "children": [
                          leaf("a", weight=weights[0], direction=1, lo=0, hi=1),
                          leaf("b", weight=weights[1], direction=1, lo=0,
                               hi=1)]})
        obs = []
        for year, vals in (("2023", y1), ("2024", y2)):
            for ind, v in zip("ab", vals):
                obs.append(["01", ind, year, "" if v is None else v])
        return ref.score(doc, self.AREAS1, None, obs)

    def test_geometric_lmdi(self):
        rows = self.run_two("geometric", (0.25, 1), (0.64, 1))
        g = by(rows, "2024", "01", "root")
        self.assertAlmostEqual(g["value"], 0.8, places=14)
        self.assertAlmostEqual(g["delta"], 0.3, places=14)
        self.assertAlmostEqual(g["contribution"], 0.3, places=14)
        self.assertAlmostEqual(by(rows, "2024", "01", "a")["contribution"], 0.3,
                               places=14)
        self.assertAlmostEqual(by(rows, "2024", "01", "b")["contribution"], 0.0,
                               places=14)

    def test_geometric_zero(self):
        rows = self.run_two("geometric", (0.25, 1), (0, 1))
        self.assertEqual(by(rows, "2024", "01", "root")["value"], 0.0)
        self.assertAlmostEqual(by(rows, "2024", "01", "a")["contribution"], -0.5)
        self.assertEqual(by(rows, "2024", "01", "b")["contribution"], 0.0)

    def test_harmonic(self):
        rows = self.run_two("harmonic", (0.5, 1), (1, 1))
        self.assertAlmostEqual(by(rows, "2023", "01", "root")["value"], 2 / 3)
        self.assertAlmostEqual(by(rows, "2024", "01", "a")["contribution"],
                               1 / 3, places=14)
        self.assertAlmostEqual(by(rows, "2024", "01", "b")["contribution"], 0.0,
                               places=14)
        rows = self.run_two("harmonic", (0, 1), (1, 1))
        self.assertEqual(by(rows, "2023", "01", "root")["value"], 0.0)
        self.assertEqual(by(rows, "2024", "01", "a")["contribution"], 1.0)

    def test_arithmetic_coverage_change(self):
        # 2023: a only (cov 1/3 with weights 1, 2 -> below 0.5: missing)
        rows = self.run_two("arithmetic", (0.3, None), (0.3, 0.6),
                            weights=(1, 2))
        r = by(rows, "2023", "01", "root")
        self.assertIsNone(r["value"])
        self.assertAlmostEqual(r["coverage"], 1 / 3)
        self.assertIsNone(by(rows, "2024", "01", "root")["contribution"])
        # 2023 b only (cov 2/3): 0.6; 2024 both: (0.3 + 1.2) / 3 = 0.5
        rows = self.run_two("arithmetic", (None, 0.6), (0.3, 0.6),
                            weights=(1, 2))
        self.assertAlmostEqual(by(rows, "2024", "01", "root")["delta"], -0.1)
        # d_a = 0.3/3 - 0 = 0.1; d_b = 2/3*0.6 - 0.6 = -0.2
        self.assertAlmostEqual(by(rows, "2024", "01", "a")["contribution"], 0.1)
        self.assertAlmostEqual(by(rows, "2024", "01", "b")["contribution"], -0.2)

    def test_still_group_and_zero_weight(self):
        doc = method({"code": "root", "children": [
            {"code": "g", "weight": 1, "children": [
                leaf("a", weight=1, direction=1, lo=0, hi=1),
                leaf("b", weight=3, direction=1, lo=0, hi=1),
                leaf("z", weight=0, direction=1, lo=0, hi=1)]},
            leaf("c", weight=1, direction=1, lo=0, hi=1)]})
        obs = [["01", "a", "2023", 0.5], ["01", "b", "2023", 0.5],
               ["01", "z", "2023", 0.1], ["01", "c", "2023", 0.5],
               ["01", "a", "2024", 0.5], ["01", "b", "2024", 0.5],
               ["01", "z", "2024", 0.9], ["01", "c", "2024", 0.9]]
        with reading("contribution_present", "weighted"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        # root 0.5 -> 0.7; g did not move: d_g = 0, so contribution 0 and its
        # members get 0 * w (still group); c gets 0.2.
        self.assertAlmostEqual(by(rows, "2024", "01", "c")["contribution"], 0.2)
        self.assertEqual(by(rows, "2024", "01", "g")["contribution"], 0.0)
        self.assertEqual(by(rows, "2024", "01", "b")["contribution"], 0.0)
        # z has weight 0: not present (M §3.5), so no contribution
        self.assertIsNone(by(rows, "2024", "01", "z")["contribution"])
        self.assertAlmostEqual(by(rows, "2024", "01", "z")["delta"], 0.8)
        self.assertEqual(by(rows, "2024", "01", "g")["coverage"], 1.0)
        with reading("contribution_present", "scored"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        self.assertEqual(by(rows, "2024", "01", "z")["contribution"], 0.0)

    def test_group_present_one_year(self):
        # g (min_coverage 1) is missing in 2023 (b missing), 0.5 in 2024.
        # root: 0.4 -> (0.5 + 0.4) / 2 = 0.45; d_g = 0.5*0.5 - 0 = 0.25,
        # d_c = 0.5*0.4 - 1*0.4 = -0.2: contributions 0.25 and -0.2.
        doc = method({"code": "root", "children": [
            {"code": "g", "min_coverage": 1, "children": [
                leaf("a", weight=1, direction=1, lo=0, hi=1),
                leaf("b", weight=3, direction=1, lo=0, hi=1)]},
            leaf("c", weight=1, direction=1, lo=0, hi=1)]})
        obs = [["01", "a", "2023", 0.2], ["01", "c", "2023", 0.4],
               ["01", "a", "2024", 0.2], ["01", "b", "2024", 0.6],
               ["01", "c", "2024", 0.4]]
        with reading("one_year_group_children", "none"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        self.assertAlmostEqual(by(rows, "2024", "01", "root")["delta"], 0.05)
        self.assertAlmostEqual(by(rows, "2024", "01", "g")["contribution"],
                               0.25)
        self.assertAlmostEqual(by(rows, "2024", "01", "c")["contribution"],
                               -0.2)
        self.assertIsNone(by(rows, "2024", "01", "a")["contribution"])
        with reading("one_year_group_children", "present_year_weights"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        self.assertAlmostEqual(by(rows, "2024", "01", "a")["contribution"],
                               0.0625)
        self.assertAlmostEqual(by(rows, "2024", "01", "b")["contribution"],
                               0.1875)

    def test_group_imputed(self):
        obs = [["01", "a", "2024", 0.5]]
        doc = method({"code": "root", "children": [
            leaf("a", weight=1, direction=1, lo=0, hi=1)]})
        with reading("group_imputed", "0"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        self.assertEqual(by(rows, "2024", "01", "root")["imputed"], 0)
        with reading("group_imputed", "empty"):
            rows = ref.score(doc, self.AREAS1, None, obs)
        self.assertIsNone(by(rows, "2024", "01", "root")["imputed"])
        self.assertEqual(by(rows, "2024", "01", "a")["imputed"], 0)

    def test_coverage_tolerance(self):
        # weights 0.1, 0.2, 0.3, third missing: 0.3000...04 / 0.6000...01
        doc = method({"code": "root", "min_coverage": 0.5, "children": [
            leaf("a", weight=0.1, direction=1, lo=0, hi=1),
            leaf("b", weight=0.2, direction=1, lo=0, hi=1),
            leaf("c", weight=0.3, direction=1, lo=0, hi=1)]})
        obs = [["01", "a", "2024", 0.5], ["01", "b", "2024", 0.5]]
        rows = ref.score(doc, self.AREAS1, None, obs)
        r = by(rows, "2024", "01", "root")
        self.assertAlmostEqual(r["coverage"], 0.5, places=15)
        self.assertAlmostEqual(r["value"], 0.5, places=15)


class Ranking(unittest.TestCase):
    """M §3.6 competition ranks on published or full values, bands."""

    def rows(self, **kw):
        doc = method({"code": "root", "children": [
            leaf("x", weight=1, direction=1, lo=0, hi=100)]}, decimals=2,
            bands=[{"from": 0.2, "code": "mid"}], **kw)
        obs = [["01", "x", "2023", 10], ["02", "x", "2023", 20],
               ["03", "x", "2023", 30],
               ["01", "x", "2024", 12.341], ["02", "x", "2024", 12.344],
               ["03", "x", "2024", 50]]
        return ref.score(doc, AREAS, None, obs)

    def test_published(self):
        rows = self.rows()
        ranks = [by(rows, "2024", a, "root")["rank"] for a in ("01", "02", "03")]
        self.assertEqual(ranks, [2, 2, 1])
        self.assertEqual(by(rows, "2024", "01", "root")["rank_change"], 1)
        self.assertEqual(by(rows, "2024", "02", "root")["rank_change"], 0)
        self.assertIsNone(by(rows, "2024", "01", "x")["rank"])  # not a group
        self.assertIsNone(by(rows, "2024", "01", "root")["band"])  # below 0.2
        self.assertEqual(by(rows, "2024", "03", "root")["band"], "mid")
        self.assertIsNone(by(rows, "2024", "03", "x")["band"])
        self.assertIsNone(by(rows, "2024", "RA", "root")["rank"])
        self.assertEqual(by(rows, "2023", "RB", "root")["band"], "mid")

    def test_full(self):
        rows = self.rows(rank_on="full")
        ranks = [by(rows, "2024", a, "root")["rank"] for a in ("01", "02", "03")]
        self.assertEqual(ranks, [3, 2, 1])


if __name__ == "__main__":
    unittest.main(verbosity=1)
