#!/usr/bin/env python3
"""UNDP's Human Development Index, computed by `hsictl score` from a
methodology file alone (docs/examples/hdi/), checked against the figures
UNDP published in the Human Development Report 2023/2024 (2022 values).

usage: hdi_test.py HSICTL_PATH SOURCE_DIR

Checks, for ten countries spanning the four HDI groups:
  * the HDI from the Table 1 inputs (data.csv) is within the worst-case
    rounding bound of the published HDI (see tolerance() below);
  * the band is the published HDI group;
  * the ranks among these countries are in the order of the HDR ranks;
  * every country's HDI, and Thailand's dimension and indicator indices,
    equal the HDR formula computed here with Python's math to 1e-12;
  * from UNDP's unrounded inputs (data_full.csv) the published (3-decimal)
    value is exactly the HDR's.
The reference formula below is written from the HDR technical notes, not
from the engine's code.
"""

import csv
import math
import os
import subprocess
import sys
import tempfile
from decimal import ROUND_HALF_UP, Decimal

COLUMNS = ['period', 'area', 'level', 'node', 'kind', 'value', 'published',
           'coverage', 'rank', 'band', 'delta', 'rank_change', 'contribution',
           'raw', 'imputed']
PERIOD = '2022'
DECIMALS = 3
EXACT = 1e-12

# HDR 2023/2024 technical notes: goalposts (min, max).
LE = (20.0, 85.0)        # life expectancy at birth, years
EYS = (0.0, 18.0)        # expected years of schooling
MYS = (0.0, 15.0)        # mean years of schooling
GNI = (100.0, 75000.0)   # GNI per capita, 2017 PPP $, on a log scale

# Half a unit in the last place that Table 1 prints: life expectancy and
# both schooling figures to 0.1 year, GNI per capita to 1 dollar.
HALF_UNIT = {'hdi_le': 0.05, 'hdi_eys': 0.05, 'hdi_mys': 0.05,
             'hdi_gnipc': 0.5}
INDICATORS = ('hdi_le', 'hdi_eys', 'hdi_mys', 'hdi_gnipc')

failures = []
passes = 0


def check(ok, what):
    global passes
    if ok:
        passes += 1
    else:
        failures.append(what)
        print('FAIL: ' + what, file=sys.stderr)


def clamp(v):
    return min(1.0, max(0.0, v))


def hand(x):
    """The HDR formula, from the technical notes. x: indicator -> value."""
    le = clamp((x['hdi_le'] - LE[0]) / (LE[1] - LE[0]))
    eys = clamp((x['hdi_eys'] - EYS[0]) / (EYS[1] - EYS[0]))  # capped at 18
    mys = clamp((x['hdi_mys'] - MYS[0]) / (MYS[1] - MYS[0]))
    gni = clamp((math.log(x['hdi_gnipc']) - math.log(GNI[0])) /
                (math.log(GNI[1]) - math.log(GNI[0])))
    education = (eys + mys) / 2
    hdi = (le * education * gni) ** (1.0 / 3.0)
    return {'hdi_le': le, 'hdi_eys': eys, 'hdi_mys': mys, 'hdi_gnipc': gni,
            'health': le, 'education': education, 'income': gni, 'hdi': hdi}


def tolerance(x):
    """How far the HDI from Table 1's rounded inputs may be from the
    published HDI, in the worst case.

    Table 1 prints each input rounded to half a unit of its last digit
    (HALF_UNIT), and UNDP computes the HDI from the unrounded values, so the
    true inputs lie in the box x +- HALF_UNIT. The HDI never decreases in
    any input (goalpost normalisation clamped to [0, 1], means of
    non-negative terms), so over that box it is extreme at the two corners
    x - h and x + h: the larger of those two distances bounds the error the
    rounding of the inputs can cause. The published HDI is itself rounded to
    3 decimals: a further 0.0005. For these ten countries the bound is
    0.0013 (Norway, whose expected years of schooling are capped at 18) to
    0.0021 (Somalia, whose low education index makes a 0.05-year error
    weigh most), so a flat 0.0015 would not be justified by rounding alone
    for nine of them; the differences observed are at most 0.0008.
    """
    lo = hand({k: v - HALF_UNIT[k] for k, v in x.items()})['hdi']
    hi = hand({k: v + HALF_UNIT[k] for k, v in x.items()})['hdi']
    mid = hand(x)['hdi']
    return max(hi - mid, mid - lo) + 0.5 * 10 ** -DECIMALS + 1e-9


def publication_round(v):
    """docs/methodology.md 3.6: round(x * 10^d) half away from zero, / 10^d."""
    y = v * 10 ** DECIMALS
    return float(Decimal(y).quantize(Decimal(1), rounding=ROUND_HALF_UP)) / \
        10 ** DECIMALS


def num(s):
    return None if s == '' else float(s)


def read_csv(path):
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def read_inputs(path):
    x = {}
    for r in read_csv(path):
        x.setdefault(r['area'], {})[r['indicator']] = float(r['value'])
    return x


def score(hsictl, ex, data, tmp):
    out = os.path.join(tmp, os.path.basename(data) + '.scores.csv')
    cmd = [hsictl, 'score',
           '--methodology', os.path.join(ex, 'methodology.json'),
           '--areas', os.path.join(ex, 'areas.csv'),
           '--data', data, '--format', 'csv', '--out', out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        print('$ ' + ' '.join(cmd), file=sys.stderr)
        print(p.stdout + p.stderr, file=sys.stderr)
        check(False, 'hsictl score exited with %d on %s' %
              (p.returncode, os.path.basename(data)))
        return None
    with open(out, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, None)
        check(header == COLUMNS, 'CSV header is %r, spec section 7 says %r'
              % (header, COLUMNS))
        rows = [dict(zip(COLUMNS, r)) for r in reader]
    check(all(r['period'] == PERIOD for r in rows),
          'every row is of period %s' % PERIOD)
    return {(r['area'], r['node']): r for r in rows}


def node(rows, area, code):
    r = rows.get((area, code))
    check(r is not None, '%s has a row for node %s' % (area, code))
    return r


def test_table1(rows, published, inputs):
    """Table 1's rounded inputs: the HDI, band and rank order."""
    ranks = {}
    for c, pub in published.items():
        x = inputs[c]
        ref = hand(x)
        r = node(rows, c, 'hdi')
        if r is None:
            continue
        check(r['kind'] == 'index', '%s hdi kind is index, not %r'
              % (c, r['kind']))
        check(r['level'] == 'country', '%s level is country, not %r'
              % (c, r['level']))
        v = num(r['value'])
        if v is None:
            check(False, '%s has no HDI value' % c)
            continue
        tol = tolerance(x)
        print('%s HDI %.6f published %.3f diff %+.6f (tolerance %.6f) '
              'rank %s band %s' % (c, v, pub['hdi'], v - pub['hdi'], tol,
                                   r['rank'], r['band']))
        check(abs(v - pub['hdi']) <= tol,
              '%s HDI %.6f is %.6f from the published %.3f, more than the '
              'rounding bound %.6f' % (c, v, abs(v - pub['hdi']),
                                       pub['hdi'], tol))
        check(abs(v - ref['hdi']) <= EXACT,
              '%s HDI %.17g, the formula gives %.17g' % (c, v, ref['hdi']))
        p = num(r['published'])
        check(p is not None and abs(p - publication_round(v)) <= EXACT,
              '%s published %r is not %s rounded to %d decimals'
              % (c, r['published'], v, DECIMALS))
        check(r['band'] == pub['group'],
              '%s band %r, the HDR group is %r' % (c, r['band'], pub['group']))
        cov = num(r['coverage'])
        check(cov is not None and abs(cov - 1.0) <= EXACT,
              '%s coverage %r, expected 1' % (c, r['coverage']))
        check(r['rank'] != '', '%s has a rank' % c)
        if r['rank'] != '':
            ranks[c] = int(r['rank'])
    # Ranks: the order among these countries is the HDR's order (no ties
    # among them, in the HDR or here).
    if len(ranks) == len(published):
        ours = sorted(ranks, key=lambda c: (ranks[c], c))
        hdr = sorted(published, key=lambda c: published[c]['rank'])
        check(ours == hdr, 'rank order %s, the HDR order is %s' % (ours, hdr))
        check(sorted(ranks.values()) == list(range(1, len(ranks) + 1)),
              'ranks are 1..%d without ties: %s' % (len(ranks), ranks))


def test_thailand(rows, inputs):
    """Thailand's dimension and indicator indices, exactly."""
    c = 'THA'
    ref = hand(inputs[c])
    kinds = {'health': 'group', 'education': 'group', 'income': 'group',
             'hdi_le': 'indicator', 'hdi_eys': 'indicator',
             'hdi_mys': 'indicator', 'hdi_gnipc': 'indicator'}
    for code, kind in kinds.items():
        r = node(rows, c, code)
        if r is None:
            continue
        v = num(r['value'])
        print('THA %-9s %.17g (by hand %.17g)' % (code, v if v is not None
                                                   else float('nan'),
                                                   ref[code]))
        check(r['kind'] == kind, 'THA %s kind %r, expected %r'
              % (code, r['kind'], kind))
        check(v is not None and abs(v - ref[code]) <= EXACT,
              'THA %s = %r, by hand %.17g' % (code, r['value'], ref[code]))
        if kind == 'indicator':
            raw = num(r['raw'])
            check(raw is not None and abs(raw - inputs[c][code]) <= EXACT,
                  'THA %s raw %r, the input is %r'
                  % (code, r['raw'], inputs[c][code]))
            check(r['imputed'] == '0', 'THA %s imputed %r, expected 0'
                  % (code, r['imputed']))


def test_full_precision(rows, published, inputs):
    """From UNDP's unrounded inputs, the published value is the HDR's."""
    for c, pub in published.items():
        r = node(rows, c, 'hdi')
        if r is None:
            continue
        p = num(r['published'])
        print('%s full-precision HDI %s published %s (HDR %.3f)'
              % (c, r['value'], r['published'], pub['hdi']))
        check(p is not None and abs(p - pub['hdi']) <= 1e-9,
              '%s published %r from UNDP\'s unrounded inputs, the HDR says '
              '%.3f' % (c, r['published'], pub['hdi']))
        ref = hand(inputs[c])['hdi']
        v = num(r['value'])
        check(v is not None and abs(v - ref) <= EXACT,
              '%s HDI %r from unrounded inputs, the formula gives %.17g'
              % (c, r['value'], ref))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    hsictl, src = sys.argv[1], sys.argv[2]
    ex = os.path.join(src, 'docs', 'examples', 'hdi')
    published = {r['country']: {'hdi': float(r['hdi']),
                                'rank': int(r['rank_in_hdr']),
                                'group': r['group']}
                 for r in read_csv(os.path.join(ex, 'published.csv'))}
    with tempfile.TemporaryDirectory(prefix='hdi_test.') as tmp:
        data = os.path.join(ex, 'data.csv')
        inputs = read_inputs(data)
        check(set(inputs) == set(published),
              'data.csv and published.csv name the same countries')
        check(all(set(x) == set(INDICATORS) for x in inputs.values()),
              'data.csv has the four HDI indicators for every country')
        rows = score(hsictl, ex, data, tmp)
        if rows is not None:
            test_table1(rows, published, inputs)
            test_thailand(rows, inputs)
        full = os.path.join(ex, 'data_full.csv')
        rows = score(hsictl, ex, full, tmp)
        if rows is not None:
            test_full_precision(rows, published, read_inputs(full))
    print('hdi_test: %d passed, %d failed' % (passes, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
