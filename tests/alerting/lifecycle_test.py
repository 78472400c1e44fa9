#!/usr/bin/python3
"""The alert lifecycle after firing (issue 5): inhibition, silences,
acknowledgements with expiry, repeats and reloading the rules without a
restart, against a real webhook receiver (receiver.py) and real processes.

usage: lifecycle_test.py BUILD_DIR SOURCE_DIR

Rules on t_health (a province scores value/100):
  deep   < 0.4      inhibits 'shallow' of the same area
  shallow < 0.6
Provinces A (30: both fire, shallow held), B (50: shallow only),
C (50, under a silence made beforehand). Then:
  A rises to 50       deep resolves, A's held shallow is released
  the silence ends    C's shallow is notified
  B acknowledged 3 s  B is notified again when the acknowledgement ends
  A notified 2 h ago  with repeat_hours 1 the sweep repeats it
  rules file changed  the alerter reloads it and a new rule fires
No fixed ports.
"""
import json
import os
import subprocess
import sys
import time

from harness import (Env, check, receiver_events, run, start_receiver,
                     wait_for)

BUILD, SRC = sys.argv[1], sys.argv[2]


def rule(name, threshold):
    return {"name": name, "level": "indicator", "code": "t_health", "op": "<",
            "threshold": threshold, "area_level": "province"}


class LifeEnv(Env):
    def write_rules(self, rules, hook):
        self.rules_file = os.path.join(self.tmp, "rules.json")
        tmp = self.rules_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rules": rules, "receivers": [hook], "repeat_hours": 1,
                       "inhibit": [{"source": ["rule=deep"],
                                    "target": ["rule=shallow"],
                                    "equal": ["area"]}]}, f)
        os.rename(tmp, self.rules_file)

    def fp(self, rule, area):
        return self.psql("SELECT fingerprint FROM alert WHERE rule = '%s' AND "
                         "labels->>'area' = '%s'" % (rule, area))

    def row(self, rule, area, cols):
        return self.psql("SELECT %s FROM alert WHERE rule = '%s' AND "
                         "labels->>'area' = '%s'" % (cols, rule, area))

    def ctl(self, *args):
        r = subprocess.run([self.bin["hsictl"], "alerts"] + list(args) + self.db,
                           capture_output=True, text=True)
        check(r.returncode == 0, "hsictl alerts %s: %s" % (args[0], r.stderr))
        return r.stdout


def notes(events):
    """Applied notifications: (rule, area, status) in order."""
    out = []
    for e in receiver_events(events):
        if e["kind"] != "applied":
            continue
        a = e["body"]["alerts"][0]
        out.append((a["labels"]["rule"], a["labels"]["area"], a["status"]))
    return out


def body(env):
    hook, events = start_receiver(env, "ops")
    env.write_rules([rule("deep", 0.4), rule("shallow", 0.6)], hook)
    A, B, C = env.provinces[:3]
    env.start_alerter()
    env.ctl("silence", "add", "--match", "area=" + C, "--match",
            "rule=shallow", "--by", "tester", "--comment", "works planned",
            "--duration", "1h")
    env.feed({A: 30, B: 50, C: 50})
    wait_for(lambda: len(notes(events)) >= 2, 30, "two notifications")
    time.sleep(1)
    got = notes(events)
    check(sorted(got) == [("deep", A, "firing"), ("shallow", B, "firing")],
          "deep A and shallow B notified; shallow A inhibited, shallow C "
          "silenced: %s" % got)
    check(env.row("shallow", A, "held_by") == "inhibited:" + env.fp("deep", A),
          "A's shallow is held by A's deep")
    sid = env.psql("SELECT id FROM silence")
    check(env.row("shallow", C, "held_by") == "silenced:" + sid,
          "C's shallow is held by the silence")
    check(env.row("shallow", A, "state") == "firing"
          and env.row("shallow", C, "state") == "firing",
          "held alerts still fire (they are recorded, not notified)")
    # A rises above 0.4: deep resolves, and the sweep releases A's shallow.
    env.feed({A: 50})
    wait_for(lambda: ("shallow", A, "firing") in notes(events), 30,
             "A's shallow released when deep resolved")
    check(("deep", A, "resolved") in notes(events), "deep A resolution sent")
    check(env.row("shallow", A, "held_by") == "", "A's hold cleared")
    # Expiring the silence releases C's notification.
    env.ctl("silence", "expire", sid, "--by", "tester")
    wait_for(lambda: ("shallow", C, "firing") in notes(events), 30,
             "C notified once the silence ended")
    # A short acknowledgement of B: when it ends B is notified again.
    before = notes(events).count(("shallow", B, "firing"))
    env.ctl("ack", env.fp("shallow", B), "--by", "tester", "--comment",
            "looking", "--expires", "3s")
    check(env.row("shallow", B, "acked_by") == "tester", "B acknowledged")
    wait_for(lambda: notes(events).count(("shallow", B, "firing")) > before,
             30, "B notified again after its acknowledgement expired")
    check(env.row("shallow", B, "acked_by") == "", "the ack has ended")
    hist = env.psql("SELECT state FROM alert_event WHERE fingerprint = '%s' "
                    "ORDER BY seq" % env.fp("shallow", B)).split()
    check(hist == ["firing", "acknowledged", "ack_expired", "notify"],
          "B's history: %s" % hist)
    # Repeats: A's shallow notified two hours ago repeats (repeat_hours
    # 1); C, acknowledged for a day, does not.
    env.ctl("ack", env.fp("shallow", C), "--by", "tester", "--comment", "ok")
    env.psql("UPDATE alert SET notified_at = now() - interval '2 hours' "
             "WHERE rule = 'shallow' AND labels->>'area' IN ('%s', '%s')"
             % (A, C))
    n_a = notes(events).count(("shallow", A, "firing"))
    wait_for(lambda: notes(events).count(("shallow", A, "firing")) > n_a, 30,
             "A repeated after the repeat interval")
    time.sleep(6)  # more than a sweep
    check(notes(events).count(("shallow", C, "firing")) == 1,
          "an acknowledged alert is not repeated")
    ids = [e["id"] for e in receiver_events(events) if e["kind"] == "applied"]
    check(len(ids) == len(set(ids)), "every notification has its own id")
    # Rules reloaded on change: a third rule fires without a restart.
    env.write_rules([rule("deep", 0.4), rule("shallow", 0.6),
                     rule("mid", 0.55)], hook)
    wait_for(lambda: ("mid", B, "firing") in notes(events), 30,
             "the reloaded rules fire")
    check(env.psql("SELECT count(*) FROM alert_rules") == "2",
          "both rules versions recorded")
    det = json.loads(env.psql("SELECT detail FROM alert_event e JOIN alert a "
                              "USING (fingerprint) WHERE a.rule = 'mid' "
                              "ORDER BY seq LIMIT 1"))
    check(det.get("rules_version") == 2, "events cite the rules version: %s"
          % det)
    check(env.alerter.poll() is None, "the alerter kept running")


def main():
    run(LifeEnv, BUILD, SRC, "hsi-life-", body, ("hsi-alerter", "ops"),
        keep=False)


if __name__ == "__main__":
    main()
