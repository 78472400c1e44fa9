#!/usr/bin/python3
"""Alert rules over real score history (issue 5): a private PostgreSQL,
hsi-scorer, an hsi-ingest node feeding one year at a time, hsi-alerter with
a hysteresis threshold rule and a deterioration rule on the test catalog's
t_health (tests/e2e; a province scores value/100).

usage: rules_test.py BUILD_DIR SOURCE_DIR

  hyst  t_health < 0.5, for_periods 2, clear_periods 2, deadband 0.05
  det   deterioration, drop 0.1 (delta <= -0.1)

Four provinces, 2017-2024 (values in %):
  A  40 40 52 60 52 60 60 60  pending, fires in 2018, stays firing through
                              the deadband (52) and a lone clear year, resolves
                              in 2023 after two clear years in a row
  B  46 54 46 54 46 54 46 54  flaps below/above: pending, cancelled, ...,
                              never fires (and never falls 0.1: no det alert)
  C  80 60 65 65 65 65 65 65  det fires in 2018 (-0.2), resolves in 2019
  D  45 45 56 47 56 47 56 47  fires once in 2018 and stays firing while it
                              flaps: one firing event, no resolution
The alerter is restarted before 2024: nothing changes but the new year.
Every step waits for B's event of that year (every year changes B's state,
in the same transaction as everything else of that evaluation).
No fixed ports.
"""
import hashlib
import json
import os
import sys

from harness import Env, check, run, wait_for

BUILD, SRC = sys.argv[1], sys.argv[2]
YEARS = list(range(2017, 2025))
SERIES = {"A": [40, 40, 52, 60, 52, 60, 60, 60],
          "B": [46, 54, 46, 54, 46, 54, 46, 54],
          "C": [80, 60, 65, 65, 65, 65, 65, 65],
          "D": [45, 45, 56, 47, 56, 47, 56, 47]}
RULES = {"rules": [
    {"name": "hyst", "type": "threshold", "level": "indicator",
     "code": "t_health", "op": "<", "threshold": 0.5,
     "area_level": "province", "for_periods": 2, "clear_periods": 2,
     "deadband": 0.05},
    {"name": "det", "type": "deterioration", "level": "indicator",
     "code": "t_health", "drop": 0.1, "area_level": "province"}]}


def fp(rule, area):
    return hashlib.sha256(("%s|%s|t_health" % (rule, area)).encode()).hexdigest()


class RulesEnv(Env):
    def setup(self):
        super().setup()
        self.area = dict(zip("ABCD", self.provinces[:4]))
        self.rules_file = os.path.join(self.tmp, "rules.json")
        with open(self.rules_file, "w") as f:
            json.dump(RULES, f)

    def events_of(self, rule, key):
        out = self.psql("SELECT state FROM alert_event WHERE fingerprint = '%s' "
                        "ORDER BY seq" % fp(rule, self.area[key]))
        return out.split() if out else []

    def state(self, rule, key):
        return self.psql("SELECT state FROM alert WHERE fingerprint = '%s'"
                         % fp(rule, self.area[key]))

    def step(self, i):
        year = YEARS[i]
        self.feed({self.area[k]: SERIES[k][i] for k in SERIES}, year)
        want = i + 1  # B's hyst events: pending, cancelled, pending, ...
        wait_for(lambda: len(self.events_of("hyst", "B")) >= want, 60,
                 "B's event for %d" % year)


def body(env):
    env.setup()
    env.start_alerter()
    # 2017: A, B, D breach once: pending, nothing published.
    env.step(0)
    check(env.state("hyst", "A") == "pending", "A pending after 2017")
    check(env.events_of("hyst", "D") == ["pending"], "D pending after 2017")
    check(env.psql("SELECT count(*) FROM alert_event WHERE state IN "
                   "('firing', 'resolved')") == "0", "nothing fired in 2017")
    # 2018: two breaches in a row fire A and D; B's pending is cancelled;
    # C falls 0.2 and its deterioration alert fires.
    env.step(1)
    check(env.events_of("hyst", "A") == ["pending", "firing"],
          "A fires in 2018: %s" % env.events_of("hyst", "A"))
    check(env.events_of("hyst", "B") == ["pending", "cancelled"],
          "B cancelled in 2018")
    check(env.state("hyst", "B") == "resolved", "cancelled B is resolved")
    check(env.events_of("det", "C") == ["firing"], "C deteriorates in 2018")
    labels = json.loads(env.psql("SELECT labels FROM alert WHERE "
                                 "fingerprint = '%s'" % fp("hyst", env.area["A"])))
    check(labels.get("period") == "2018" and labels.get("rule") == "hyst"
          and labels.get("area") == env.area["A"], "A's labels: %s" % labels)
    det = json.loads(env.psql("SELECT detail FROM alert_event WHERE "
                              "fingerprint = '%s' ORDER BY seq LIMIT 1"
                              % fp("det", env.area["C"])))
    check(det.get("type") == "deterioration" and det.get("period") == "2018"
          and abs(det.get("delta", 0) + 0.2) < 1e-9,
          "C's event detail: %s" % det)
    summ = env.psql("SELECT annotations->>'summary' FROM alert WHERE "
                    "fingerprint = '%s'" % fp("det", env.area["C"]))
    check("fell 0.2000 to 0.6000" in summ and "in 2018" in summ,
          "C's summary: %s" % summ)
    # 2019: A in the deadband (0.52 < 0.55) stays firing; C recovers.
    env.step(2)
    check(env.state("hyst", "A") == "firing", "A firing in the deadband")
    check(env.events_of("det", "C") == ["firing", "resolved"],
          "C resolves in 2019: %s" % env.events_of("det", "C"))
    # 2020-2022: A clears once, deadband, clears once: still firing.
    for i in (3, 4, 5):
        env.step(i)
        check(env.state("hyst", "A") == "firing",
              "A still firing after %d" % YEARS[i])
    # 2023: the second clear year in a row resolves A.
    env.step(6)
    check(env.events_of("hyst", "A") == ["pending", "firing", "resolved"],
          "A resolves in 2023: %s" % env.events_of("hyst", "A"))
    check(env.events_of("hyst", "D") == ["pending", "firing"],
          "D fired once while flapping: %s" % env.events_of("hyst", "D"))
    check(env.state("hyst", "D") == "firing", "D still firing")
    check(all(e in ("pending", "cancelled")
              for e in env.events_of("hyst", "B")), "B never fired")
    for k in "ABD":
        check(env.events_of("det", k) == [], "no det alert for %s" % k)
    check(env.psql("SELECT count(*) FROM alert WHERE labels->>'rule' = 'hyst'"
                   " AND fingerprint NOT IN ('%s')" % "','".join(
                       fp("hyst", env.area[k]) for k in "ABD")) == "0",
          "one hyst alert per area, not per period")
    # Restart, then one more year: the restart and the replay of the whole
    # history change nothing but B's cancellation of 2024.
    before = env.psql("SELECT count(*) FROM alert_event")
    check(env.stop_alerter() == 0, "alerter stops cleanly")
    env.start_alerter()
    env.step(7)
    after = env.psql("SELECT count(*) FROM alert_event")
    check(int(after) == int(before) + 1,
          "after a restart only B's 2024 event is new (%s -> %s)"
          % (before, after))
    check(env.events_of("hyst", "D") == ["pending", "firing"],
          "D still fired once after 2024")


def main():
    run(RulesEnv, BUILD, SRC, "hsi-rules-", body, ("hsi-alerter", "hsi-scorer"),
        keep=False)


if __name__ == "__main__":
    main()
