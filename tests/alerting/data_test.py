#!/usr/bin/python3
"""The data rules (issue 5) over real processes: a private PostgreSQL,
hsi-scorer, an hsi-ingest node for CDD and hsi-alerter, on the test catalog
plus two monitoring series of CDD (t_month monthly, t_calls daily).

usage: data_test.py SCENARIO BUILD_DIR SOURCE_DIR
  late        late_data on t_month, dates relative to today (Bangkok):
              last month's data missing -> a late alert; this month's not
              yet due -> a reminder; delivering each resolves it
  suspicious  t_health 2022-2023 for every province: one value far from
              the others (robust z), one that jumped 2.5x since last year;
              correcting the first resolves its alert, the other stays
  spike       t_calls for three provinces, Jan-Mar 2025 with busy Mondays:
              a planted 4x day fires, a busy Monday does not; correcting
              the day resolves it
No fixed ports; each scenario has its own cluster.
"""
import datetime
import hashlib
import json
import os
import subprocess
import sys

from harness import (Env, check, receiver_events, run, start_receiver,
                     wait_for)

SCENARIO, BUILD, SRC = sys.argv[1], sys.argv[2], sys.argv[3]

EXTRA = [
    "t_month,health,CDD,รายเดือนทดสอบ,Test monthly,%,monthly,0,100,wmean,mean,"
    "1,1,0,100,0,0,ตัวชี้วัดทดสอบ,test monitoring series (monthly),test",
    "t_calls,health,CDD,สายด่วนทดสอบ,Test hotline,cases,daily,0,5000,sum,sum,"
    "1,-1,0,1000,0,0,ตัวชี้วัดทดสอบ,test monitoring series (daily),test",
]


def fp(*parts):
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class DataEnv(Env):
    def setup(self):
        cat = os.path.join(self.tmp, "catalog.csv")
        with open(os.path.join(self.src, "tests", "e2e", "catalog.csv"),
                  encoding="utf-8") as f:
            base = f.read().rstrip("\n")
        with open(cat, "w", encoding="utf-8") as f:
            f.write(base + "\n" + "\n".join(EXTRA) + "\n")
        self.catalog = cat
        super().setup()
        self.rules_file = os.path.join(self.tmp, "rules.json")

    def rules(self, rules):
        """Writes the rules with a webhook receiver (receiver.py)."""
        hook, self.hook_events = start_receiver(self, "ops")
        with open(self.rules_file, "w") as f:
            json.dump({"rules": rules, "receivers": [hook]}, f)

    def notified(self, f, status):
        """The webhook bodies received for alert f with status."""
        return [e["body"] for e in receiver_events(self.hook_events)
                if e["kind"] == "applied"
                and e["body"]["alerts"][0]["fingerprint"] == f
                and e["body"]["status"] == status]

    def wait_notified(self, f, status):
        return wait_for(lambda: self.notified(f, status), 30,
                        "a %s notification" % status)[0]

    def feed_rows(self, rows):
        """Delivers (indicator, area, period, value) rows through CDD's node."""
        inbox = os.path.join(self.tmp, "CDD", "inbox")
        os.makedirs(inbox, exist_ok=True)
        self.files += 1
        with open(os.path.join(inbox, "d%d.csv" % self.files), "w") as f:
            f.write("indicator,area,period,value\n")
            for r in rows:
                f.write("%s,%s,%s,%s\n" % r)
        r = subprocess.run(
            [self.bin["hsi-ingest"], "--agency", "CDD", "--node-id", "CDD-n1",
             "--key-file", self.key, "--inbox", inbox, "--scorer-url",
             self.ingest, "--events-url", self.events, "--once", "true"],
            capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "node delivers file %d: %s"
              % (self.files, r.stderr[-300:]))

    def alert(self, f):
        row = self.psql("SELECT state, labels, annotations FROM alert "
                        "WHERE fingerprint = '%s'" % f)
        if not row:
            return None
        state, labels, ann = row.split("|", 2)
        return {"state": state, "labels": json.loads(labels),
                "annotations": json.loads(ann)}

    def state(self, f):
        a = self.alert(f)
        return a["state"] if a else None

    def wait_state(self, f, want, what):
        wait_for(lambda: self.state(f) == want, 60, what)

    def history(self, f):
        out = self.psql("SELECT state FROM alert_event WHERE fingerprint = "
                        "'%s' ORDER BY seq" % f)
        return out.split() if out else []


def month_end(y, m):
    nxt = datetime.date(y + (m == 12), m % 12 + 1, 1)
    return nxt - datetime.timedelta(days=1)


def months_back(y, m, k):
    i = y * 12 + (m - 1) - k
    return i // 12, i % 12 + 1


def s_late(env):
    env.rules([{"name": "late", "type": "late_data", "agencies": ["CDD"],
                "indicators": ["t_month"], "grace_days": {"monthly": 0},
                "remind_days": 31, "lookback_days": 40}])
    today = (datetime.datetime.utcnow() + datetime.timedelta(hours=7)).date()
    lo = today - datetime.timedelta(days=40)
    prev = months_back(today.year, today.month, 1)
    # Every month due in the window before today, except last month.
    past = []
    for k in range(1, 4):
        y, m = months_back(today.year, today.month, k)
        if lo <= month_end(y, m) < today and (y, m) != prev:
            past.append((y, m))

    def rows(months):
        return [("t_month", a, "%04d-%02d" % ym, 50) for ym in months
                for a in env.provinces]
    if past:
        env.feed_rows(rows(past))
    env.start_alerter()
    late = fp("late", "CDD", "t_month", "late")
    remind = fp("late", "CDD", "t_month", "reminder")
    env.wait_state(late, "firing", "the late alert")
    env.wait_state(remind, "firing", "the reminder")
    a = env.alert(late)
    lab, ann = a["labels"], a["annotations"]
    check(lab.get("agency") == "CDD" and lab.get("indicator") == "t_month"
          and lab.get("stage") == "late" and lab.get("kind") == "late_data"
          and lab.get("severity") == "warning", "late labels: %s" % lab)
    n = len(env.provinces)
    check(ann.get("late_periods") == 1 and ann.get("expected") == n
          and ann.get("present") == 0 and ann.get("completeness") == 0,
          "late annotations: one period, %d expected, none present: %s"
          % (n, {k: ann.get(k) for k in ("late_periods", "expected",
                                          "present", "completeness")}))
    pstr = "%04d-%02d" % prev
    check(ann.get("periods", [{}])[0].get("period") == pstr
          and ann["periods"][0].get("due") == month_end(*prev).isoformat(),
          "the late period and its due date: %s" % ann.get("periods"))
    check("CDD is late with Test monthly (t_month)" in ann.get("summary", "")
          and "ล่าช้า" in ann.get("summary_th", ""),
          "late summaries: %s / %s" % (ann.get("summary"),
                                       ann.get("summary_th")))
    r = env.alert(remind)
    check(r["labels"].get("stage") == "reminder"
          and r["labels"].get("severity") == "info"
          and "Reminder: CDD's Test monthly" in r["annotations"]["summary"]
          and "%04d-%02d" % (today.year, today.month)
          in r["annotations"]["summary"],
          "reminder: %s" % r["annotations"]["summary"])
    # Evaluating again (the clock rules run every 30 s, and on each score
    # event) changes nothing: no second event.
    env.feed_rows([("t_health", env.provinces[0], 2024, 50)])
    check(env.history(late) == ["firing"], "one firing event for late")
    # Half of last month: still late, with the new completeness.
    half = env.provinces[: n // 2]
    env.feed_rows([("t_month", a, pstr, 50) for a in half])
    wait_for(lambda: env.alert(late)["annotations"].get("present")
             == len(half), 60, "late alert refreshed with half present")
    check(env.history(late) == ["firing"], "a refresh is no new event")
    env.feed_rows([("t_month", a, pstr, 50) for a in env.provinces[n // 2:]])
    env.wait_state(late, "resolved", "late resolves once complete")
    check(env.history(late) == ["firing", "resolved"], "late fired once")
    check(env.alert(late)["annotations"]["summary"].startswith("Resolved: "),
          "resolved summary says so")
    body = env.wait_notified(late, "firing")
    check(body["alerts"][0]["labels"].get("agency") == "CDD"
          and body["alerts"][0]["annotations"].get("late_periods") == "1",
          "the late alert reached the webhook: %s" % body["alerts"][0])
    env.wait_notified(late, "resolved")
    # This month (and any next month already inside the reminder window).
    cur = [(today.year, today.month)]
    y, m = months_back(today.year, today.month, -1)
    if month_end(y, m) <= today + datetime.timedelta(days=31):
        cur.append((y, m))
    env.feed_rows(rows(cur))
    env.wait_state(remind, "resolved", "the reminder resolves")
    out = subprocess.run([env.bin["hsictl"], "quality", "--agency", "CDD",
                          "--by", "indicator", "--format", "json"] + env.db,
                         capture_output=True, text=True)
    check(out.returncode == 0, "hsictl quality runs: %s" % out.stderr[-300:])


def s_suspicious(env):
    env.rules([{"name": "odd", "type": "suspicious", "code": "t_health",
                "z": 3.5, "jump_factor": 2.0, "lookback_years": 0}])
    p = env.provinces
    base = {a: 50 + (i % 7) for i, a in enumerate(p)}
    y22 = dict(base)
    y22[p[1]] = 20           # low in 2022 (an outlier then, too)
    y23 = dict(base)
    y23[p[0]] = 95           # far above the others in 2023
    y23[p[1]] = 50           # 2.5x its 2022 value
    env.start_alerter()
    env.feed_rows([("t_health", a, 2022, v) for a, v in y22.items()])
    env.feed_rows([("t_health", a, 2023, v) for a, v in y23.items()])
    far, jump = fp("odd", "t_health", p[0], "2023"), fp("odd", "t_health",
                                                         p[1], "2023")
    env.wait_state(far, "firing", "the far value's alert")
    env.wait_state(jump, "firing", "the jump's alert")
    a = env.alert(far)
    ann, lab = a["annotations"], a["labels"]
    base_ = ann.get("baseline") or {}
    check(lab.get("kind") == "suspicious" and lab.get("agency") == "CDD"
          and lab.get("area") == p[0] and lab.get("period") == "2023"
          and lab.get("year") == "2023", "suspicious labels: %s" % lab)
    check(base_.get("median") == 53 and base_.get("n") == len(p)
          and ann.get("robust_z", 0) > 3.5, "baseline and z: %s z=%s"
          % (base_, ann.get("robust_z")))
    imp = ann.get("dimension_impact") or {}
    check(imp.get("dimension") == "health" and imp.get("impact", 0) > 0,
          "impact on the health dimension: %s" % imp)
    check("Suspicious value" in ann.get("summary", "")
          and "median 53" in ann.get("summary", "")
          and "ค่าผิดสังเกต" in ann.get("summary_th", ""),
          "suspicious summaries: %s" % ann.get("summary"))
    j = env.alert(jump)["annotations"]
    check(j.get("last_year") == 20 and abs(j.get("jump", 0) - 2.5) < 1e-9,
          "the jump: last year %s, x%s" % (j.get("last_year"), j.get("jump")))
    check(env.state(fp("odd", "t_health", p[1], "2022")) == "firing",
          "2022's low value has its own alert")
    others = env.psql("SELECT count(*) FROM alert WHERE rule = 'odd' AND "
                      "labels->>'year' = '2023'")
    check(others == "2", "exactly two suspicious values in 2023: %s" % others)
    # The agency corrects the far value: its alert resolves, not the jump's.
    env.feed_rows([("t_health", p[0], 2023, 52)])
    env.wait_state(far, "resolved", "the corrected value's alert resolves")
    check(env.state(jump) == "firing", "the jump's alert stays")
    check(env.history(far) == ["firing", "resolved"], "fired and resolved once")
    body = env.wait_notified(far, "firing")
    check("robust_z" in body["alerts"][0]["annotations"],
          "the suspicious value reached the webhook")
    env.wait_notified(far, "resolved")


def s_spike(env):
    env.rules([{"name": "calls", "type": "spike", "code": "t_calls",
                "lookback_days": 14}])
    p = env.provinces[:3]
    start, days = datetime.date(2025, 1, 1), 69        # to 2025-03-10
    spike_day, monday = datetime.date(2025, 3, 5), datetime.date(2025, 3, 3)
    rows = []
    for k in range(days):
        d = start + datetime.timedelta(days=k)
        for i, a in enumerate(p):
            v = (30 if d.weekday() == 0 else 18) + (k * 7 + i * 3) % 5
            if a == p[0] and d == spike_day:
                v = 80
            rows.append(("t_calls", a, d.isoformat(), v))
    env.start_alerter()
    env.feed_rows(rows)
    f = fp("calls", p[0], spike_day.isoformat())
    env.wait_state(f, "firing", "the spike's alert")
    a = env.alert(f)
    ann = a["annotations"]
    check(a["labels"].get("kind") == "spike"
          and a["labels"].get("period") == "2025-03-05"
          and a["labels"].get("indicator") == "t_calls",
          "spike labels: %s" % a["labels"])
    check(ann.get("value") == 80 and 18 <= ann.get("baseline", 0) <= 22
          and ann.get("weekday") == 2 and ann.get("weeks_found") == 8,
          "spike baseline (Wednesdays): %s" % ann)
    check("Test hotline" in ann.get("summary", "")
          and "2568" in ann.get("summary_th", ""),
          "spike summaries: %s / %s" % (ann.get("summary"),
                                        ann.get("summary_th")))
    live = env.psql("SELECT count(*) FROM alert WHERE rule = 'calls' AND "
                    "state = 'firing'")
    check(live == "1", "one spike, busy Mondays are not spikes: %s" % live)
    check(env.state(fp("calls", p[1], monday.isoformat())) is None,
          "a normal busy Monday raised nothing")
    env.feed_rows([("t_calls", p[0], spike_day.isoformat(), 19)])
    env.wait_state(f, "resolved", "the corrected day's alert resolves")
    body = env.wait_notified(f, "firing")
    check(body["alerts"][0]["labels"].get("kind") == "spike",
          "the spike reached the webhook")
    env.wait_notified(f, "resolved")


def main():
    run(DataEnv, BUILD, SRC, "hsi-data-",
        {"late": s_late, "suspicious": s_suspicious, "spike": s_spike}[SCENARIO],
        ("hsi-alerter", "hsi-scorer", "ops"))


if __name__ == "__main__":
    main()
