#!/usr/bin/python3
"""Deterministic sample-data generator for the HSI platform (docs/sample-data.md).

Writes the files that the 23 agencies would export, one per agency per year:

    DIR/<AGENCY>/<AGENCY>_<YEAR>.csv          indicator,area,period,value,status,note
    DIR/MSDHS/MSDHS_hotline_<YEAR>.csv        the daily 1300 hotline series (2024-2025)

The values are synthetic but plausible: a per-province baseline built from
regional patterns, a gentle improving trend, small noise, and the deliberate
deteriorations listed in DETERIORATIONS.  Same seed, same bytes.

Usage: scripts/gen_sample.py --out DIR [--seed 20240101] [--years 2017-2025]
                             [--catalog common/data]

Standard library only; runs with Debian's /usr/bin/python3.
"""

import argparse
import csv
import datetime
import math
import os
import random
import sys

# ---------------------------------------------------------------------------
# Quirks of the agencies' files
# ---------------------------------------------------------------------------

# Agencies that write Buddhist-era years (CE + 543) in every period form and in
# their file names (DLA_2567.csv, periods 2567, FY2567, 2567Q1, 2567-03).
BE_AGENCIES = ("DLA", "DOP", "MOL")

# DLA also writes periods and values with Thai digits (๒๕๖๗, ๖๕.๒) in the files
# of odd calendar years.
THAI_DIGIT_AGENCY = "DLA"


def thai_digit_year(year):
    return year % 2 == 1


# Agencies whose files come from Excel on Windows: UTF-8 BOM and CRLF.
BOM_CRLF_AGENCIES = ("NSO",)

# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------
#
# Every value comes from a "goodness" g (0 = the worse goalpost, 1 = the better
# one) mapped onto the indicator's default goalposts lo..hi (flipped for
# direction -1), then clamped to hard_min..hard_max:
#
#   g = 0.45 + 0.25 * effect + TREND * (year - 2021) + noise + deteriorations
#
# where effect = region effect + province effect + indicator-specific effect
# + a persistent per-(indicator, province) random effect.  Effects are in
# "standard" units: +1 is clearly better than average, -1 clearly worse.

TREND = 0.015          # improvement of g per year
BASE_G = 0.45
EFFECT_SCALE = 0.25
PERSISTENT_SD = 0.5    # sd of the per-(indicator, province) effect
YEAR_NOISE_SD = 0.03   # sd of g from year to year
YEAR_NOISE = {"liv_disaster_hh": 0.15}   # disasters vary a lot by year

REGION_EFFECT = {
    "Central":      {"health": 0.2, "living": 0.1, "education": 0.2,
                     "economy": 0.4, "services": 0.3, "personal": 0.0,
                     "political": 0.0},
    "Eastern":      {"health": 0.1, "living": 0.0, "education": 0.1,
                     "economy": 0.5, "services": 0.2, "personal": -0.2,
                     "political": -0.1},
    "Northeastern": {"health": -0.1, "living": -0.1, "education": -0.3,
                     "economy": -0.7, "services": -0.4, "personal": 0.2,
                     "political": 0.1},
    "Northern":     {"health": -0.2, "living": 0.1, "education": -0.1,
                     "economy": -0.5, "services": -0.2, "personal": 0.2,
                     "political": 0.2},
    "Southern":     {"health": 0.0, "living": 0.0, "education": -0.2,
                     "economy": 0.0, "services": 0.0, "personal": -0.1,
                     "political": 0.0},
    "Western":      {"health": -0.1, "living": 0.0, "education": -0.2,
                     "economy": -0.2, "services": -0.3, "personal": 0.0,
                     "political": -0.1},
}

# Added to the region effect, by DOPA province code.
PROVINCE_EFFECT = {
    "10": {"economy": 0.9, "services": 0.8, "education": 0.7, "health": 0.1,
           "living": -0.6, "personal": -0.5, "political": -0.3},  # Bangkok
    "11": {"economy": 0.4},                                        # Samut Prakan
    "20": {"economy": 0.4},                                        # Chon Buri
    "21": {"economy": 0.6},                                        # Rayong
    "74": {"economy": 0.5},                                        # Samut Sakhon
    "83": {"economy": 0.5, "personal": -0.3},                      # Phuket
    "38": {"economy": -0.3},                                       # Bueng Kan
    "58": {"economy": -0.6, "services": -0.7, "education": -0.6,
           "health": -0.4},                                        # Mae Hong Son
    "63": {"services": -0.4, "health": -0.4, "education": -0.4},   # Tak
    "94": {"personal": -1.3, "education": -0.8, "economy": -0.5,
           "health": -0.5, "services": -0.2},                      # Pattani
    "95": {"personal": -1.2, "education": -0.7, "economy": -0.4,
           "health": -0.4, "services": -0.2},                      # Yala
    "96": {"personal": -1.3, "education": -0.8, "economy": -0.6,
           "health": -0.5, "services": -0.2},                      # Narathiwat
}

# Indicator-specific effects, keyed by region name or province code.
INDICATOR_EFFECT = {
    # suicide is highest in the North and lowest in the Deep South
    "hlt_suicide_rate": {"Northern": -0.9, "Southern": 0.3,
                         "94": 1.2, "95": 1.2, "96": 1.2},
    "hlt_dengue_rate": {"Southern": -0.4, "Northeastern": -0.2},
    "per_crime_property": {"10": -0.6, "Central": -0.2, "Eastern": -0.3},
    "liv_disaster_hh": {"Northeastern": -0.3, "Southern": -0.3},
    "eco_factory_jobs": {"11": 1.2, "74": 1.4, "21": 1.0, "20": 1.0,
                         "13": 0.9, "Northeastern": -0.4},
    # informal farm work and out-migration: fewer insured workers
    "eco_social_security": {"Northeastern": -0.5, "Northern": -0.3},
    # Bangkok: many renters and informal settlements; many residents not
    # registered where they live
    "liv_housing_secure": {"10": -1.5},
    "srv_uc_coverage": {"10": -2.5},
    "pol_turnout": {"Northern": 0.4, "Southern": 0.2},
}

# Multiplicative year factors (epidemic years for dengue).
YEAR_FACTOR = {
    "hlt_dengue_rate": {2017: 0.6, 2018: 0.9, 2019: 1.6, 2020: 0.6,
                        2021: 0.12, 2022: 0.2, 2023: 1.7, 2024: 0.9,
                        2025: 0.5},
}

# Relative monthly profile (Jan..Dec) of sub-annual values; default flat.
SEASONAL = {
    "hlt_dengue_rate": (0.45, 0.35, 0.35, 0.45, 0.8, 1.3, 1.7, 1.9, 1.6,
                        1.3, 0.9, 0.6),
}

# Election indicators change only in election years: the value of year y is
# that of the latest election in or before y (before the first: the first).
ELECTION_YEARS = {
    "pol_turnout": (2011, 2019, 2023),
    "pol_invalid_ballots": (2011, 2019, 2023),
    "pol_election_complaints": (2011, 2019, 2023),
    "pol_local_turnout": (2012, 2020, 2025),
}

NOTE_NAN = "อุทกภัยรุนแรงเดือน ส.ค.–ก.ย. 2567, รายได้ภาคเกษตรลดลงมาก"
NOTE_NARA = 'เหตุความไม่สงบใน "พื้นที่สีแดง" เพิ่มขึ้น'
NOTE_SSK = "ครูย้ายออกและโรงเรียนขนาดเล็กถูกควบรวม"
NOTE_COVID = "ผลกระทบจากการระบาดของโควิด-19"

# The deliberate deteriorations: (province code or "*" for all, dimension or
# indicator code, CE year, shift of g, note written on the affected rows).
# Rows of a province-specific deterioration are never omitted or set to M.
DETERIORATIONS = (
    # Nan: economy and income drop sharply in 2024 (severe Aug-Sep floods),
    # partly recover in 2025; disaster-affected households jump in 2024.
    ("55", "economy", 2024, -0.30, NOTE_NAN),
    ("55", "economy", 2025, -0.15, None),
    ("55", "liv_disaster_hh", 2024, -0.80, NOTE_NAN),
    # Narathiwat: personal security worsens in 2025.
    ("96", "personal", 2025, -0.45, NOTE_NARA),
    # Si Sa Ket: education falls in 2023, partly recovers in 2024.
    ("33", "education", 2023, -0.40, NOTE_SSK),
    ("33", "education", 2024, -0.15, None),
    # Nation-wide COVID-19 dip of the economy in 2020, half of it in 2021.
    ("*", "economy", 2020, -0.25, None),
    ("*", "economy", 2021, -0.12, None),
)

# Notes on single rows: (indicator, province, canonical CE period) -> note.
ROW_NOTES = {
    ("eco_unemployment", "10", "2020Q2"): NOTE_COVID + " (มาตรการล็อกดาวน์)",
    ("eco_unemployment", "83", "2020Q2"): NOTE_COVID
    + " นักท่องเที่ยวต่างชาติหายไปเกือบทั้งหมด",
    ("hlt_dengue_rate", "10", "2023-08"): "ระบาดหนัก ยอดผู้ป่วยสูงกว่าค่ามัธยฐาน 5 ปี",
    ("edu_onet_m3", "96", "2021"): "สอบ O-NET แบบสมัครใจ, จำนวนผู้เข้าสอบน้อย",
}

P_OMIT = 0.01            # rows omitted entirely
P_MISSING = 0.005        # rows with status M and an empty value
P_ESTIMATED = 0.005      # rows with status E
P_PROVISIONAL = 0.06     # rows with status P, latest year only
NOTE_M = "ไม่มีข้อมูลจากจังหวัด"
NOTE_E = "ค่าประมาณการ"
NOTE_P = "ข้อมูลเบื้องต้น อาจมีการปรับปรุง"

# The daily 1300 hotline series (monitoring, not in the index).
HOTLINE_CODE = "mon_hotline1300"
HOTLINE_FILE_TAG = "hotline"
HOTLINE_YEARS = (2024, 2025)
HOTLINE_NATIONAL_PER_DAY = 375.0
HOTLINE_WEEKDAY = (1.10, 1.07, 1.05, 1.04, 1.02, 0.90, 0.82)  # Mon..Sun
HOTLINE_SPIKES = {("90", "2025-11-03"): 5.0}  # Songkhla (Hat Yai)
NOTE_SPIKE = "จำนวนเรื่องเพิ่มขึ้นผิดปกติ ตรวจสอบเหตุในพื้นที่อำเภอหาดใหญ่"

HEADER = ("indicator", "area", "period", "value", "status", "note")
THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


# ---------------------------------------------------------------------------
# Catalog
# ---------------------------------------------------------------------------

def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


class Indicator:
    def __init__(self, row):
        self.code = row["code"]
        self.dimension = row["dimension"]
        self.agency = row["agency"]
        self.unit = row["unit"]
        self.frequency = row["frequency"]
        self.hard_min = float(row["hard_min"])
        self.hard_max = float(row["hard_max"])
        self.rollup_area = row["rollup_area"]
        self.rollup_time = row["rollup_time"]
        self.direction = int(row["direction"])
        self.lo = float(row["lo"])
        self.hi = float(row["hi"])
        self.in_index = row["in_index"] == "1"
        if self.rollup_area == "sum" or self.unit.startswith("baht") or \
                self.unit in ("households", "cases", "persons"):
            self.decimals = 0
        elif self.hi - self.lo <= 10:
            self.decimals = 2
        else:
            self.decimals = 1


def load_catalog(catdir):
    inds = [Indicator(r) for r in read_csv(os.path.join(catdir, "indicators.csv"))]
    provs = sorted(read_csv(os.path.join(catdir, "provinces.csv")),
                   key=lambda r: r["code"])
    pop = {r["code"]: int(r["population"])
           for r in read_csv(os.path.join(catdir, "province_population.csv"))}
    agencies = sorted(r["code"] for r in read_csv(os.path.join(catdir, "agencies.csv")))
    for p in provs:
        if p["code"] not in pop:
            sys.exit("gen_sample: no population for province " + p["code"])
    return inds, provs, pop, agencies


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

class Model:
    def __init__(self, seed, inds, provs, pop):
        self.seed = seed
        self.region = {p["code"]: p["region"] for p in provs}
        self.pop = pop
        pops = sorted(pop[p["code"]] for p in provs)
        self.median_pop = pops[len(pops) // 2]
        self._persist = {}
        self._g = {}

    def rng(self, *key):
        # String seeds are hashed with SHA-512: stable across runs/platforms.
        return random.Random("|".join(str(k) for k in (self.seed,) + key))

    def effect(self, ind, prov):
        key = (ind.code, prov)
        if key not in self._persist:
            region = self.region[prov]
            e = REGION_EFFECT.get(region, {}).get(ind.dimension, 0.0)
            e += PROVINCE_EFFECT.get(prov, {}).get(ind.dimension, 0.0)
            spec = INDICATOR_EFFECT.get(ind.code, {})
            e += spec.get(region, 0.0) + spec.get(prov, 0.0)
            e += self.rng("persist", ind.code, prov).gauss(0.0, PERSISTENT_SD)
            self._persist[key] = e
        return self._persist[key]

    @staticmethod
    def deteriorations(ind, prov, year):
        for d in DETERIORATIONS:
            if d[0] in ("*", prov) and d[1] in (ind.dimension, ind.code) \
                    and d[2] == year:
                yield d

    def g(self, ind, prov, year):
        key = (ind.code, prov, year)
        if key in self._g:
            return self._g[key]
        y = year
        if ind.code in ELECTION_YEARS:
            past = [e for e in ELECTION_YEARS[ind.code] if e <= year]
            y = past[-1] if past else ELECTION_YEARS[ind.code][0]
        sd = YEAR_NOISE.get(ind.code, YEAR_NOISE_SD)
        g = BASE_G + EFFECT_SCALE * self.effect(ind, prov) + TREND * (y - 2021)
        g += self.rng("year", ind.code, prov, y).gauss(0.0, sd)
        for d in self.deteriorations(ind, prov, year):
            g += d[3]
        self._g[key] = g
        return g

    def annual(self, ind, prov, year):
        """The unclamped year-level value of ind in prov."""
        g = self.g(ind, prov, year)
        v = ind.lo + g * (ind.hi - ind.lo) if ind.direction > 0 \
            else ind.hi - g * (ind.hi - ind.lo)
        v *= YEAR_FACTOR.get(ind.code, {}).get(year, 1.0)
        if ind.rollup_area == "sum":       # counts scale with population
            v = max(v, 0.0) * self.pop[prov] / self.median_pop
        return v

    def subvalues(self, ind, prov, year, n, rng):
        """n sub-annual values (quarters or months) of a year."""
        a = self.annual(ind, prov, year)
        prof = SEASONAL.get(ind.code)
        if prof is None:
            season = [1.0] * n
        else:
            k = 12 // n
            season = [sum(prof[i * k:(i + 1) * k]) / k for i in range(n)]
            mean = sum(season) / n
            season = [s / mean for s in season]
        span = ind.hi - ind.lo
        out = []
        if ind.rollup_time == "last":
            prev = self.annual(ind, prov, year - 1)
            for i in range(n):
                v = prev + (a - prev) * (i + 1) / n
                out.append(v + rng.gauss(0.0, 0.01 * span))
        elif ind.rollup_time == "sum":
            for i in range(n):
                out.append(a / n * season[i] * math.exp(rng.gauss(0.0, 0.08)))
        else:  # mean
            for i in range(n):
                if prof is not None:
                    out.append(a * season[i] * math.exp(rng.gauss(0.0, 0.25)))
                else:
                    out.append(a + rng.gauss(0.0, 0.04 * span))
        return out


def softplus(x, s):
    if x / s > 30:
        return x
    return s * math.log1p(math.exp(x / s))


def fmt_value(ind, v):
    # Ease values softly away from the hard bounds (no piles of exact 0.0
    # poverty or 100.0 coverage), then clamp.
    s = 0.05 * (ind.hi - ind.lo)
    v = ind.hard_min + softplus(v - ind.hard_min, s)
    v = ind.hard_max - softplus(ind.hard_max - v, s)
    v = min(max(v, ind.hard_min), ind.hard_max)
    s = "%.*f" % (ind.decimals, v)
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s


def periods(freq, year):
    """(CE canonical period, form with year placeholder {y}) for a year."""
    if freq == "annual":
        return [("%d" % year, "{y}")]
    if freq == "fiscal":
        return [("FY%d" % year, "FY{y}")]
    if freq == "quarterly":
        return [("%dQ%d" % (year, q), "{y}Q%d" % q) for q in range(1, 5)]
    if freq == "fquarterly":
        return [("FY%dQ%d" % (year, q), "FY{y}Q%d" % q) for q in range(1, 5)]
    if freq == "monthly":
        return [("%d-%02d" % (year, m), "{y}-%02d" % m) for m in range(1, 13)]
    raise ValueError("frequency " + freq)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------

def write_file(path, rows, agency):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    bom_crlf = agency in BOM_CRLF_AGENCIES
    with open(path, "w", newline="",
              encoding="utf-8-sig" if bom_crlf else "utf-8") as f:
        w = csv.writer(f, lineterminator="\r\n" if bom_crlf else "\n")
        w.writerow(HEADER)
        w.writerows(rows)


def agency_year_rows(model, inds, provs, agency, year, latest):
    be = agency in BE_AGENCIES
    thai = agency == THAI_DIGIT_AGENCY and thai_digit_year(year)
    yshown = year + 543 if be else year
    rng = model.rng("file", agency, year)      # status and missing values
    noise = model.rng("noise", agency, year)   # sub-annual noise
    rows = []
    for ind in inds:
        if ind.agency != agency or ind.frequency == "daily":
            continue
        pers = periods(ind.frequency, year)
        for p in provs:
            prov = p["code"]
            dets = list(model.deteriorations(ind, prov, year))
            flagged = any(d[0] != "*" for d in dets)
            det_note = next((d[4] for d in dets if d[4]), "")
            if len(pers) == 1:
                vals = [model.annual(ind, prov, year)]
            else:
                vals = model.subvalues(ind, prov, year, len(pers), noise)
            for (canon, form), v in zip(pers, vals):
                r = rng.random()
                row_note = ROW_NOTES.get((ind.code, prov, canon))
                keep = flagged or row_note is not None
                status, note, value = "A", row_note or det_note, fmt_value(ind, v)
                if r < P_OMIT + P_MISSING and keep:
                    pass                  # documented rows are always present
                elif r < P_OMIT:
                    continue
                elif r < P_OMIT + P_MISSING:
                    status, note, value = "M", NOTE_M, ""
                elif r < P_OMIT + P_MISSING + P_ESTIMATED:
                    status, note = "E", note or NOTE_E
                elif year == latest and r < P_OMIT + P_MISSING + \
                        P_ESTIMATED + P_PROVISIONAL:
                    status, note = "P", note or NOTE_P
                period = form.format(y=yshown)
                if thai:
                    period = period.translate(THAI_DIGITS)
                    value = value.translate(THAI_DIGITS)
                rows.append((ind.code, prov, period, value, status, note))
    return rows


def poisson(rng, lam):
    # Knuth; fine for the small means here (< 300).
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def hotline_rows(model, ind, provs, year):
    rng = model.rng("hotline", year)
    total = float(sum(model.pop[p["code"]] for p in provs))
    wmean = sum(HOTLINE_WEEKDAY) / 7.0
    rows = []
    day = datetime.date(year, 1, 1)
    one = datetime.timedelta(days=1)
    while day.year == year:
        ds = day.isoformat()
        # a mild seasonal swing (more cases in the rainy season)
        season = 1.0 + 0.08 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 120) / 365.0)
        level = HOTLINE_NATIONAL_PER_DAY * HOTLINE_WEEKDAY[day.weekday()] / wmean * season
        for p in provs:
            prov = p["code"]
            spike = HOTLINE_SPIKES.get((prov, ds), 1.0)
            lam = level * model.pop[prov] / total * spike
            v = min(max(poisson(rng, lam), ind.hard_min), ind.hard_max)
            note = NOTE_SPIKE if spike != 1.0 else ""
            rows.append((ind.code, prov, ds, "%d" % v, "A", note))
        day += one
    return rows


def parse_years(s):
    try:
        if "-" in s:
            a, b = s.split("-", 1)
            a, b = int(a), int(b)
        else:
            a = b = int(s)
    except ValueError:
        sys.exit("gen_sample: --years must be YEAR or FIRST-LAST, e.g. 2017-2025")
    if a > 2400:
        a -= 543
    if b > 2400:
        b -= 543
    if not 1950 <= a <= b <= 2200:
        sys.exit("gen_sample: --years must be CE years FIRST <= LAST")
    return list(range(a, b + 1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Write deterministic HSI sample agency files.")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=20240101)
    ap.add_argument("--years", default="2017-2025", help="CE years, FIRST-LAST")
    ap.add_argument("--catalog", default=os.path.join(here, "..", "common", "data"),
                    help="directory with indicators.csv, provinces.csv, "
                         "province_population.csv, agencies.csv")
    args = ap.parse_args()
    years = parse_years(args.years)
    inds, provs, pop, agencies = load_catalog(args.catalog)
    known = set(agencies)
    for ind in inds:
        if ind.agency not in known:
            sys.exit("gen_sample: indicator %s: unknown agency %s" % (ind.code, ind.agency))
    model = Model(args.seed, inds, provs, pop)
    latest = years[-1]
    nfiles = nrows = nhot = 0
    for agency in agencies:
        if not any(i.agency == agency and i.frequency != "daily" for i in inds):
            continue
        for year in years:
            rows = agency_year_rows(model, inds, provs, agency, year, latest)
            yname = year + 543 if agency in BE_AGENCIES else year
            write_file(os.path.join(args.out, agency, "%s_%d.csv" % (agency, yname)),
                       rows, agency)
            nfiles += 1
            nrows += len(rows)
    for ind in inds:
        if ind.code != HOTLINE_CODE:
            continue
        for year in years:
            if year not in HOTLINE_YEARS:
                continue
            rows = hotline_rows(model, ind, provs, year)
            write_file(os.path.join(args.out, ind.agency, "%s_%s_%d.csv"
                                    % (ind.agency, HOTLINE_FILE_TAG, year)),
                       rows, ind.agency)
            nfiles += 1
            nhot += len(rows)
    print("gen_sample: %d files, %d rows (%d indicator rows, %d hotline rows), "
          "years %d-%d, seed %d, in %s"
          % (nfiles, nrows + nhot, nrows, nhot, years[0], years[-1], args.seed, args.out))


if __name__ == "__main__":
    main()
