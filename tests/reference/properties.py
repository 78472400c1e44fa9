#!/usr/bin/python3
"""Property checks of `hsictl score` on random cases (docs/methodology.md).

    properties.py HSICTL_PATH [--cases 60] [--seed S] [--keep DIR]

The cases come from the generator of crosscheck.py.  Unlike the cross-check,
these checks do not use the reference: they test properties that any correct
implementation has.

(a) every `value` (index, group and indicator rows) lies in [0, 1];
(b) raising one raw value of a higher-is-better indicator (direction 1,
    goalpost normalisation) never lowers that indicator's score;
(c) permuting the rows of the areas file and of the data file gives the same
    output (compared after sorting the lines);
(d) with all weights equal and identical data for two provinces of the same
    region, the two get equal scores and equal ranks in every group;
(e) the contributions of a group's children sum to the group's contribution
    (1e-9), and those of the root's children to the composite's delta;
(f) `--period P` prints exactly the rows of P of the full output.

Deterministic for a given seed.  Prints one summary line; on failure, the
first violations with the case directory kept, and exits 1.
"""

import argparse
import copy
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crosscheck as cc  # noqa: E402
import hsi_ref as ref  # noqa: E402

TOL = 1e-9


def tree_nodes(node):
    """All nodes of a methodology tree (dicts), pre-order."""
    yield node
    for ch in node.get("children", []):
        yield from tree_nodes(ch)


def run(hsictl, case, d, extra=()):
    """Writes the case into d and runs hsictl; returns (rows, text)."""
    args = case.write(d)
    rows, text = cc.run_hsictl(hsictl, args, os.path.join(d, "out.csv"),
                               extra)
    if rows is None:
        raise RuntimeError(text)
    return rows, text


def sorted_lines(text):
    lines = text.splitlines()
    return [lines[0]] + sorted(lines[1:])


# (a) ----------------------------------------------------------------------

def check_unit_interval(rows):
    return cc.values_in_unit_interval(rows)


# (e) ----------------------------------------------------------------------

def check_contributions(case, rows):
    """Children's contributions sum to their group's contribution."""
    bad = []
    by = {(r["period"], r["area"], r["node"]): r for r in rows}
    groups = [n for n in tree_nodes(case.methodology["tree"])
              if "children" in n]
    root = case.methodology["tree"]["code"]
    for (period, area, node), r in by.items():
        if node != root or r["contribution"] == "":
            continue
        if abs(float(r["contribution"]) - float(r["delta"])) > TOL:
            bad.append("%s %s: root contribution %s != delta %s"
                       % (period, area, r["contribution"], r["delta"]))
        for g in groups:
            gr = by[(period, area, g["code"])]
            if gr["contribution"] == "":
                continue
            kids = [by[(period, area, ch.get("code") or ch.get("indicator"))]
                    for ch in g["children"]]
            if any(k["contribution"] != "" for k in kids):
                total = sum(float(k["contribution"]) for k in kids
                            if k["contribution"] != "")
                if abs(total - float(gr["contribution"])) > TOL:
                    bad.append("%s %s: contributions of the children of %s "
                               "sum to %.17g, not %s" % (period, area,
                                                         g["code"], total,
                                                         gr["contribution"]))
            elif gr["value"] != "" and gr["delta"] != "":
                bad.append("%s %s: group %s present in both years has a "
                           "contribution but none of its children has"
                           % (period, area, g["code"]))
    return bad


# (b) ----------------------------------------------------------------------

def check_monotone(hsictl, case, rng, d):
    """Raise one province value of a direction-1 goalpost leaf (None when
    the case has no annual value of a province to raise)."""
    leaves = [n for n in tree_nodes(case.methodology["tree"])
              if "indicator" in n]
    rng.shuffle(leaves)
    for lf in leaves:
        code = lf["indicator"]
        cands = [i for i, r in enumerate(case.data)
                 if r[1] == code and r[3] != "" and r[4] != "M"
                 and r[0][0].isdigit()
                 and ref.parse_period(r[2]).kind in ("year", "fyear")]
        if not cands:
            continue
        base = copy.deepcopy(case)
        node = next(n for n in tree_nodes(base.methodology["tree"])
                    if n.get("indicator") == code)
        node["direction"] = 1
        node["normalisation"] = "goalpost"
        if "lo" not in node or "hi" not in node:
            if node.get("log"):
                node["lo"], node["hi"] = 1.0, 100.0
            else:
                node["lo"], node["hi"] = -50.0, 100.0
        i = rng.choice(cands)
        area, _, period = case.data[i][:3]
        old = float(case.data[i][3])
        span = node["hi"] - node["lo"]
        new = old + rng.uniform(0.01, 0.5) * span
        entry = base.ref_catalog.get(code)     # hard bounds, if any
        if entry is not None and entry.get("hard_max") is not None:
            new = min(new, entry["hard_max"])
        raised = copy.deepcopy(base)
        raised.data[i][3] = "%.6f" % new
        before, _ = run(hsictl, base, os.path.join(d, "monotone-base"))
        after, _ = run(hsictl, raised, os.path.join(d, "monotone-raised"))
        ip = base.methodology.get("index_period", "calendar")
        t = ref.year_label(ref.index_year(ref.parse_period(period), ip), ip)
        b = next(r for r in before if (r["period"], r["area"], r["node"])
                 == (t, area, code))
        a = next(r for r in after if (r["period"], r["area"], r["node"])
                 == (t, area, code))
        if b["value"] == "" or a["value"] == "":
            return [] if b["value"] == "" else [
                "%s %s %s: score %s became missing after raising %s -> %s"
                % (t, area, code, b["value"], old, new)]
        if float(a["value"]) < float(b["value"]):
            return ["%s %s %s: raising the raw value %s -> %s lowered the "
                    "score %s -> %s (case files in %s)"
                    % (t, area, code, old, new, b["value"], a["value"], d)]
        return []
    return None                 # no leaf/observation to raise


# (c) ----------------------------------------------------------------------

def check_permutation(hsictl, case, text, rng, d):
    perm = copy.deepcopy(case)
    rng.shuffle(perm.areas)
    rng.shuffle(perm.data)
    _, text2 = run(hsictl, perm, os.path.join(d, "permuted"))
    if sorted_lines(text) != sorted_lines(text2):
        a, b = sorted_lines(text), sorted_lines(text2)
        first = next((x, y) for x, y in zip(a + [""], b + [""]) if x != y)
        return ["permuting areas and data rows changed the output: %r vs %r"
                % first]
    return []


# (d) ----------------------------------------------------------------------

def check_twins(hsictl, case, rng, d):
    twin = copy.deepcopy(case)
    for n in tree_nodes(twin.methodology["tree"]):
        if n is not twin.methodology["tree"]:
            n["weight"] = 1
    provinces = [a for a in twin.areas if a[2] == "province"]
    a, b = rng.sample(provinces, 2)
    b[1] = a[1]                         # same region (for region_mean)
    twin.data = [r for r in twin.data if r[0] != b[0]]
    twin.data += [[b[0]] + r[1:] for r in twin.data if r[0] == a[0]]
    rows, _ = run(hsictl, twin, os.path.join(d, "twins"))
    by = {(r["period"], r["area"], r["node"]): r for r in rows}
    bad = []
    for (period, area, node), r in by.items():
        if area != a[0]:
            continue
        s = by[(period, b[0], node)]
        if r["value"] != s["value"] or r["rank"] != s["rank"]:
            bad.append("%s %s: identical provinces %s and %s got value %r "
                       "rank %r vs value %r rank %r"
                       % (period, node, a[0], b[0], r["value"], r["rank"],
                          s["value"], s["rank"]))
    return bad[:3]


# (f) ----------------------------------------------------------------------

def check_period(hsictl, case, text, rng, d):
    lines = text.splitlines()
    periods = sorted({ln.split(",", 1)[0] for ln in lines[1:]})
    p = rng.choice(periods)
    args = case.write(os.path.join(d, "period"))
    out = os.path.join(d, "period", "out.csv")
    rows, text2 = cc.run_hsictl(hsictl, args, out, ["--period", p])
    if rows is None:
        return ["--period %s: %s" % (p, text2)]
    want = [lines[0]] + [ln for ln in lines[1:] if ln.split(",", 1)[0] == p]
    if text2.splitlines() != want:
        return ["--period %s prints %d lines, the full output has %d for it"
                % (p, len(text2.splitlines()) - 1, len(want) - 1)]
    return []


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("hsictl")
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--keep")
    ap.add_argument("--show", type=int, default=5,
                    help="how many failing cases to print")
    args = ap.parse_args(argv)
    start = time.monotonic()
    root = args.keep or tempfile.mkdtemp(prefix="hsi-properties-")
    os.makedirs(root, exist_ok=True)
    failures, counts = [], {}
    for i in range(args.cases):
        case, _, _ = cc.generate("properties/%s" % args.seed, i)
        rng = random.Random("properties/%s/%d/checks" % (args.seed, i))
        d = os.path.join(root, "case-%03d" % i)
        bad = []
        try:
            rows, text = run(args.hsictl, case, os.path.join(d, "base"))
            for name, fn in (
                    ("a", lambda: check_unit_interval(rows)),
                    ("e", lambda: check_contributions(case, rows)),
                    ("b", lambda: check_monotone(args.hsictl, case, rng, d)),
                    ("c", lambda: check_permutation(args.hsictl, case, text,
                                                    rng, d)),
                    ("d", lambda: check_twins(args.hsictl, case, rng, d)),
                    ("f", lambda: check_period(args.hsictl, case, text, rng,
                                               d))):
                found = fn()
                if found is None:
                    continue          # not applicable to this case
                counts[name] = counts.get(name, 0) + 1
                bad += ["(%s) %s" % (name, x) for x in found[:3]]
        except RuntimeError as e:
            bad.append(str(e))
        if bad:
            failures.append((i, d, bad))
        elif not args.keep:
            shutil.rmtree(d)
    n = args.cases
    print("reference properties: %d/%d cases hold (a)-(f) (checks run: %s; "
          "seed %s) in %.1f s"
          % (n - len(failures), n,
             " ".join("%s %d" % kv for kv in sorted(counts.items())),
             args.seed, time.monotonic() - start))
    for i, d, bad in failures[:args.show]:
        print("case %d FAILED (kept in %s):" % (i, d))
        for line in bad[:8]:
            print("  " + line)
    if failures:
        return 1
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
