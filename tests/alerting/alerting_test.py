#!/usr/bin/python3
"""Notification delivery (issue 5) with real processes: a private
PostgreSQL, hsi-scorer, an hsi-ingest node feeding data, hsi-alerter, and
real receivers: tests/alerting/receiver.py (a webhook that checks the
signature and dedupes on the notification id) and Debian's
prometheus-alertmanager.

usage: alerting_test.py SCENARIO BUILD_DIR SOURCE_DIR [OUT_DIR]
  kill          kill -9 the alerter while a request is in flight, restart:
                every outbox row applied exactly once, none lost, repeats
                only by id; after a clean restart nothing is sent again
  backoff       a receiver answers 500 three times: retried with growing
                delays, then delivered; the receiver's queue keeps order
  sigterm       SIGTERM while a slow receiver holds a request: the alerter
                exits 0 at once, abandoning it; the row stays undelivered
                and goes out after the restart
  alertmanager  alerts pushed to a real Alertmanager appear in its API v2
                with the right labels, and leave it when resolved
With OUT_DIR, the kill scenario writes a real webhook payload there.

Alerts come from a rule on the test catalog's t_health (tests/e2e):
a province scores value/100, below 0.5 fires, 0.5 or more resolves.
No fixed ports: the kernel picks every one.
"""
import json
import os
import re
import signal
import sys
import time
import urllib.request

from harness import (Env, check, free_port, read, receiver_events, run,
                     start_receiver, wait_for)

SCENARIO, BUILD, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
OUT = sys.argv[4] if len(sys.argv) > 4 else None
HERE = os.path.dirname(os.path.abspath(__file__))
AM_BIN = "/usr/bin/prometheus-alertmanager"


class DeliveryEnv(Env):
    def rules(self, receivers):
        path = os.path.join(self.tmp, "rules.json")
        with open(path, "w") as f:
            json.dump({"rules": [{
                "name": "health_low", "level": "indicator",
                "code": "t_health", "op": "<", "threshold": 0.5,
                "area_level": "province"}], "receivers": receivers}, f)
        self.rules_file = path

    def outbox(self):
        rows = self.psql("SELECT notification_id, receiver, attempts, "
                         "delivered_at IS NOT NULL, coalesce(last_error, '') "
                         "FROM notification_outbox ORDER BY id")
        return [l.split("|") for l in rows.splitlines()]

    def undelivered(self):
        return int(self.psql("SELECT count(*) FROM notification_outbox "
                             "WHERE delivered_at IS NULL"))


def s_kill(env):
    hook, events = start_receiver(env, "ops", "--delay-ms", "250")
    env.rules([hook])
    env.start_alerter()
    low = {a: 30 for a in env.provinces[:12]}
    env.feed(low)
    # Kill while a request is in flight: the receiver has it (and will
    # apply it after its delay), we have not had the answer.
    def in_flight():
        ev = receiver_events(events)
        got = [e["id"] for e in ev if e["kind"] == "received"]
        done = {e["id"] for e in ev if e["kind"] in ("applied", "repeat")}
        return got[-1] if len(got) >= 4 and got[-1] not in done else None
    victim = wait_for(in_flight, 60, "a fourth request in flight")
    env.alerter.kill()
    env.alerter.wait()
    env.procs.remove(env.alerter)
    print("killed the alerter while %s was in flight" % victim)
    # Resolutions while no alerter runs: evaluated and queued on restart.
    env.feed({a: 80 for a in env.provinces[:12]})
    env.start_alerter()
    wait_for(lambda: len(env.outbox()) == 24 and env.undelivered() == 0, 90,
             "24 notifications delivered")
    rows = env.outbox()
    ev = receiver_events(events)
    applied = [e["id"] for e in ev if e["kind"] == "applied"]
    repeats = [e["id"] for e in ev if e["kind"] == "repeat"]
    ids = [r[0] for r in rows]
    check(len(ids) == 24 and all(re.fullmatch(r"\d+-ops", i) for i in ids),
          "24 outbox rows, ids <seq>-ops: %s" % ids[:3])
    check(sorted(applied) == sorted(ids),
          "every outbox id applied exactly once, none lost, none extra "
          "(%d applied, %d ids)" % (len(applied), len(ids)))
    check(victim in repeats,
          "the id in flight at kill -9 was sent again and dropped as a repeat")
    check(set(repeats) <= set(applied), "repeats are only of applied ids")
    check(not any(e["kind"] == "bad_signature" for e in ev),
          "every request's HMAC verified")
    bodies = {e["id"]: e["body"] for e in ev if e["kind"] == "applied"}
    order = {}
    for i in applied:
        b = bodies[i]
        order.setdefault(b["alerts"][0]["fingerprint"], []).append(b["status"])
    check(len(order) == 12 and all(s == ["firing", "resolved"]
                                   for s in order.values()),
          "per alert: firing then resolved, in order: %s" % list(order.values())[:3])
    first = bodies[applied[0]]
    a0 = first["alerts"][0]
    check(first["version"] == "4" and first["status"] == "firing"
          and first["receiver"] == "ops" and len(first["alerts"]) == 1
          and a0["labels"]["alertname"] == "health_low"
          and a0["labels"]["methodology"] == "1"
          and a0["labels"]["period"] == "2024"
          and re.fullmatch("[0-9a-f]{64}", a0["fingerprint"])
          and a0["endsAt"] == "0001-01-01T00:00:00Z"
          and "ต่ำกว่า" in a0["annotations"]["summary_th"]
          and "below" in a0["annotations"]["summary"],
          "webhook v4 payload: %s" % json.dumps(first, ensure_ascii=False)[:400])
    last = bodies[applied[-1]]["alerts"][0]
    check(last["status"] == "resolved" and last["endsAt"] > last["startsAt"],
          "resolved alert has endsAt: %s" % last)
    if OUT:
        os.makedirs(OUT, exist_ok=True)
        for name, b in (("webhook-firing.json", first),
                        ("webhook-resolved.json", bodies[applied[-1]])):
            with open(os.path.join(OUT, name), "w") as f:
                json.dump(b, f, ensure_ascii=False, indent=2)
    # A clean stop and start sends nothing again.
    check(env.stop_alerter(signal.SIGTERM) == 0, "alerter exits 0 on SIGTERM")
    seen = len(receiver_events(events))
    env.start_alerter()
    time.sleep(3)  # three delivery polls; nothing may arrive
    check(env.stop_alerter(signal.SIGTERM) == 0, "restarted alerter exits 0")
    check(len(receiver_events(events)) == seen and len(env.outbox()) == 24,
          "no request and no new row after a clean restart")
    print("figures: %d notifications, %d applied, %d repeats dropped by id"
          % (len(ids), len(applied), len(repeats)))


def s_backoff(env):
    hook, events = start_receiver(env, "flaky", "--fail-first", "3")
    env.rules([hook])
    env.start_alerter()
    env.feed({a: 30 for a in env.provinces[:2]})
    wait_for(lambda: any(r[4] == "HTTP 500" for r in env.outbox()), 30,
             "a failure recorded")
    wait_for(lambda: len(env.outbox()) == 2 and env.undelivered() == 0, 60,
             "both delivered after the failures")
    rows = env.outbox()
    ev = receiver_events(events)
    fails = [e for e in ev if e["kind"] == "failed_500"]
    applied = [e for e in ev if e["kind"] == "applied"]
    check(len(fails) == 3 and len(applied) == 2, "3 failures, then 2 applied")
    check(all(e["id"] == rows[0][0] for e in fails),
          "only the receiver's oldest notification was retried; the next "
          "waited behind it (order kept)")
    check([e["id"] for e in applied] == [rows[0][0], rows[1][0]],
          "applied in outbox order")
    check(rows[0][2] == "4" and rows[0][4] == "" and rows[1][2] == "1",
          "attempts 4 then 1, last_error cleared: %s" % rows)
    t = [e["t"] for e in fails] + [applied[0]["t"]]
    gaps = [round(b - a, 2) for a, b in zip(t, t[1:])]
    ok = all(0.8 * base - 0.05 <= g <= 1.2 * base + 0.6
             for g, base in zip(gaps, (1, 2, 4)))
    check(ok, "backoff 1 s, 2 s, 4 s +-20%% (gaps %s)" % gaps)
    print("figures: retry gaps %s s" % gaps)


def s_sigterm(env):
    hook, events = start_receiver(env, "slow", "--delay-ms", "6000")
    hook["timeout_ms"] = 10000
    env.rules([hook])
    env.start_alerter()
    env.feed({env.provinces[0]: 30})
    wait_for(lambda: any(e["kind"] == "received"
                         for e in receiver_events(events)), 30,
             "the request in flight")
    t0 = time.time()
    check(env.stop_alerter(signal.SIGTERM) == 0, "alerter exits 0 on SIGTERM")
    took = time.time() - t0
    check(took < 3, "stopped in %.2f s, not after the 6 s answer" % took)
    rows = env.outbox()
    check(len(rows) == 1 and rows[0][2] == "0" and rows[0][3] == "f",
          "the abandoned row is undelivered, attempts 0: %s" % rows)
    env.start_alerter()
    wait_for(lambda: env.undelivered() == 0, 60, "delivered after restart")
    ev = receiver_events(events)
    kinds = [e["kind"] for e in ev]
    # The resend queues behind the abandoned request in this one-thread
    # receiver, so it may time out and be sent once more: more repeats,
    # still one effect.
    check(kinds.count("applied") == 1 and kinds.count("repeat") >= 1
          and len({e["id"] for e in ev}) == 1,
          "applied once; resends after restart dropped by id: %s" % kinds)
    print("figures: SIGTERM to exit %.2f s with a request in flight" % took)


def alertmanager(env, resolve_timeout=None):
    if not os.access(AM_BIN, os.X_OK):
        raise SystemExit("FAIL: %s is missing: install Debian's "
                         "prometheus-alertmanager (scripts/lib.sh hsi_deps "
                         "does)" % AM_BIN)
    cfg = os.path.join(env.tmp, "am.yml")
    with open(cfg, "w") as f:
        if resolve_timeout:
            f.write("global:\n  resolve_timeout: %s\n" % resolve_timeout)
        f.write("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n")
    port = free_port()
    store = os.path.join(env.tmp, "am-data")
    os.makedirs(store)
    env.start("alertmanager", [
        AM_BIN, "--config.file=" + cfg,
        "--web.listen-address=127.0.0.1:%d" % port,
        "--cluster.listen-address=", "--storage.path=" + store])
    base = "http://127.0.0.1:%d" % port

    def get(path):
        try:
            with urllib.request.urlopen(base + path, timeout=2) as r:
                return r.status, r.read()
        except OSError:
            return None, b""
    wait_for(lambda: get("/-/ready")[0] == 200, 30, "alertmanager ready")
    return base, get


def s_alertmanager(env):
    base, get = alertmanager(env)
    hook, events = start_receiver(env, "ops")
    env.rules([{"name": "am", "type": "alertmanager", "url": base + "/",
                "timeout_ms": 3000}, hook])
    env.start_alerter()
    areas = env.provinces[:3]
    env.feed({a: 30 for a in areas})

    def active():
        st, body = get("/api/v2/alerts")
        if st != 200:
            return None
        return [a for a in json.loads(body) if a["status"]["state"] == "active"
                and a["labels"].get("alertname") == "health_low"]
    got = wait_for(lambda: (lambda a: a if len(a) == 3 else None)(active()), 30,
                   "3 alerts in Alertmanager")
    labels = sorted((a["labels"] for a in got), key=lambda l: l["area"])
    want = [{"alertname": "health_low", "rule": "health_low",
             "level": "indicator", "code": "t_health", "area": a,
             "area_level": "province", "period": "2024", "methodology": "1"}
            for a in sorted(areas)]
    check(labels == want, "Alertmanager holds the alerts with our labels: %s"
          % labels)
    check(all("ต่ำกว่า" in a["annotations"].get("summary_th", "") for a in got),
          "Thai summaries reach Alertmanager")
    rows = env.outbox()
    check(sorted(r[1] for r in rows) == ["am"] * 3 + ["ops"] * 3,
          "one outbox row per transition and receiver: %s" % rows)
    env.feed({a: 80 for a in areas})
    wait_for(lambda: active() == [], 30, "the alerts resolved in Alertmanager")
    check(True, "resolutions pushed with endsAt end the alerts")
    wait_for(lambda: env.undelivered() == 0, 30, "all delivered")
    check(len(env.outbox()) == 12, "12 notifications in all")


def s_repush(env):
    """Alertmanager forgets an alert not re-sent within resolve_timeout;
    the alerter re-sends firing alerts every repush_seconds."""
    base, get = alertmanager(env, "8s")
    env.rules([{"name": "am", "type": "alertmanager", "url": base,
                "timeout_ms": 3000, "repush_seconds": 5}])
    env.start_alerter()
    area = env.provinces[0]
    env.feed({area: 30})

    def active():
        st, body = get("/api/v2/alerts?active=true")
        if st != 200:
            return None
        return [a for a in json.loads(body) if a["status"]["state"] == "active"
                and a["labels"].get("alertname") == "health_low"]
    wait_for(lambda: len(active() or []) == 1, 30, "the alert in Alertmanager")
    t0 = time.time()
    while time.time() - t0 < 20:   # 2.5 resolve timeouts
        if len(active() or []) != 1:
            break
        time.sleep(0.5)
    check(len(active() or []) == 1,
          "still active 20 s later, past the 8 s resolve_timeout (re-pushed)")
    env.feed({area: 80})
    wait_for(lambda: active() == [], 30, "resolved in Alertmanager")


def main():
    run(DeliveryEnv, BUILD, SRC, "hsi-alerting-",
        {"kill": s_kill, "backoff": s_backoff, "sigterm": s_sigterm,
         "alertmanager": s_alertmanager, "repush": s_repush}[SCENARIO],
        ("hsi-alerter", "ops", "flaky", "slow", "alertmanager"))


if __name__ == "__main__":
    main()
