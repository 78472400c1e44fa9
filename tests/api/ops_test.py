#!/usr/bin/python3
"""ops_test.py BUILD SRC [--keep]: /readyz and the link and outbox gauges of
/metrics follow the real state of hsi-api's links (issue 6, operations).

The system comes up as for the contract test (contract_test.Env: a private
PostgreSQL, scorer, alerter, two nodes, hsi-api). Then, with real processes
stopped and started again:

- all up: /readyz 200 with every check "ok", /healthz 200, every
  hsi_api_nng_link_up 1;
- the alerter stopped: still ready (it gates nothing), alerter_events
  "down", its link gauge 0;
- the scorer stopped: /readyz 503 problem+json with Retry-After, the
  scorer's three links "down" and named in the detail, PostgreSQL "ok";
  a submission taken meanwhile shows in hsi_api_gateway_outbox_parts for
  its agency, and hsi_api_gateway_link_stalled becomes 1;
- the scorer started again: ready again, the submission's verdict arrives,
  the agency's outbox gauge drops to 0, stalled to 0, and the age of its
  last ack is reported;
- PostgreSQL stopped: /readyz 503 with postgres "down"; started again:
  postgres "ok".

Each answer is held to the contract's schemas. No fixed ports. Exit
status 0 when every check passed."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from contract_test import Client, Env, Spec, read, wait_for  # noqa: E402

import tally  # noqa: E402
from tally import check, equal, valid  # noqa: E402



def ready(client):
    r = client.request("GET", "/readyz", {})
    r.parse_json()
    return r


def wait_ready(client, pred, seconds, what):
    """Polls /readyz until pred(reply) holds; returns the last reply."""
    end = time.time() + seconds
    while True:
        r = ready(client)
        if pred(r) or time.time() > end:
            check(pred(r), "%s within %d s: last /readyz %d %s" % (
                what, seconds, r.status, r.body[:300]))
            return r
        time.sleep(0.2)


def checks_of(r):
    return r.json.get("checks", {}) if isinstance(r.json, dict) else {}


def metrics(client):
    """{(name, frozenset(labels)): value} of /metrics."""
    r = client.request("GET", "/metrics", {})
    out = {}
    for line in r.body.decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'([a-z_]+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def gauge(client, name, **labels):
    return metrics(client).get((name, frozenset(labels.items())))


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    build, src = sys.argv[1], sys.argv[2]
    keep = "--keep" in sys.argv[3:]
    tally.use_spec(Spec(os.path.join(src, "openapi.yaml")))
    env = Env(build, src)
    ok = False
    try:
        base, tokens = env.up()
        client = Client(base)
        run(env, client, tokens)
        ok = tally.failed == 0
    finally:
        env.down(not ok, keep)
    print("ops_test: %d passed, %d failed" % (tally.passed, tally.failed))
    sys.exit(0 if ok else 1)


def run(env, client, tokens):
    # ---- all up
    r = wait_ready(client, lambda r: r.status == 200, 30, "ready once up")
    valid(r.json, "Ready", "/readyz when up")
    equal(checks_of(r), {"postgres": "ok", "scorer_events": "ok", "scorer_ingest": "ok",
                         "scorer_acks": "ok", "alerter_events": "ok"}, "every check when up")
    equal(client.request("GET", "/healthz", {}).status, 200, "/healthz")
    for link in ("scorer_events", "scorer_ingest", "scorer_acks", "alerter_events"):
        equal(gauge(client, "hsi_api_nng_link_up", link=link), 1.0, "link %s up" % link)

    # ---- the alerter stopped: reported, not gating
    alerter = env.procs[1]
    alerter.send_signal(signal.SIGTERM)
    alerter.wait(timeout=20)
    r = wait_ready(client, lambda r: checks_of(r).get("alerter_events") == "down", 15,
                   "alerter_events down")
    equal(r.status, 200, "still ready without the alerter")
    equal(gauge(client, "hsi_api_nng_link_up", link="alerter_events"), 0.0,
          "alerter link gauge 0")

    # ---- the scorer stopped
    env.scorer_proc.send_signal(signal.SIGTERM)
    env.scorer_proc.wait(timeout=30)
    r = wait_ready(client, lambda r: r.status == 503, 15, "not ready without the scorer")
    if check(isinstance(r.json, dict), "503 has a body"):
        valid(r.json, "Problem", "/readyz 503")
        equal(r.media_type, "application/problem+json", "503 media type")
        check(r.json.get("type", "").endswith("/unavailable"), "503 type unavailable")
        equal(r.header("retry-after"), "5", "503 Retry-After")
        c = checks_of(r)
        equal((c.get("postgres"), c.get("scorer_events"), c.get("scorer_ingest"),
               c.get("scorer_acks")), ("ok", "down", "down", "down"),
              "checks without the scorer")
        check("scorer's events socket" in r.json.get("detail", "")
              and "ingest socket" in r.json.get("detail", ""),
              "the detail names the links down: %r" % r.json.get("detail"))
    equal(gauge(client, "hsi_api_nng_link_up", link="scorer_events"), 0.0,
          "scorer_events gauge 0")
    # A submission taken while the scorer is away waits in the outbox.
    h = {"Authorization": "Bearer " + tokens["agency"], "Accept": "application/json",
         "Content-Type": "text/csv; charset=utf-8"}
    body = b"indicator,area,period,value,status,note\nt_health,96,2024,47,A,\n"
    sub = client.request("POST", "/v1/observations", h, body)
    loc = sub.header("location")
    check(sub.status == 202 and loc, "a submission is taken while the scorer is away: %d %s"
          % (sub.status, sub.body[:200]))
    parts = wait_for(lambda: gauge(client, "hsi_api_gateway_outbox_parts", agency="CDD"), 10,
                     "CDD's outbox gauge")
    check(parts is not None and parts >= 1, "CDD's outbox holds the part: %r" % parts)
    stalled = wait_for(lambda: gauge(client, "hsi_api_gateway_link_stalled", agency="CDD") == 1.0,
                       15, "CDD's link stalled")
    check(stalled, "CDD's link reported stalled")

    # ---- the scorer started again
    slog = os.path.join(env.tmp, "hsi-scorer.log")
    offset = len(read(slog))
    env.start("hsi-scorer", [env.bin["hsi-scorer"], "--db-url", env.url,
                             "--ingest-listen", env.ingest_url, "--events-listen", env.events_url])
    env.scorer_proc = env.procs[-1]
    wait_for(lambda: '"msg":"ready"' in read(slog)[offset:], 60, "scorer ready again")
    r = wait_ready(client, lambda r: r.status == 200, 20, "ready again with the scorer")
    equal(checks_of(r).get("scorer_ingest"), "ok", "scorer_ingest ok again")
    if loc:
        def verdict():
            v = client.request("GET", loc, {"Authorization": h["Authorization"],
                                            "Accept": "application/json"})
            v.parse_json()
            return v.json if v.status == 200 and v.json.get("verdict") else None
        v = wait_for(verdict, 30, "the verdict of the submission")
        equal(v["verdict"].get("updated"), 1, "the waiting submission was applied")
    drained = wait_for(lambda: gauge(client, "hsi_api_gateway_outbox_parts", agency="CDD") == 0.0,
                       15, "CDD's outbox drained")
    check(drained, "CDD's outbox gauge back to 0")
    equal(gauge(client, "hsi_api_gateway_link_stalled", agency="CDD"), 0.0, "CDD not stalled")
    age = gauge(client, "hsi_api_gateway_last_ack_age_seconds", agency="CDD")
    check(age is not None and 0 <= age < 30, "CDD's last ack age reported: %r" % age)

    # ---- PostgreSQL stopped, then started
    subprocess.run(["bash", env.pg_sh, "stop", env.pg_dir], check=True, capture_output=True)
    r = wait_ready(client, lambda r: checks_of(r).get("postgres") == "down", 20,
                   "postgres down")
    equal(r.status, 503, "not ready without PostgreSQL")
    check("PostgreSQL" in (r.json or {}).get("detail", ""), "the detail names PostgreSQL")
    subprocess.run(["bash", env.pg_sh, "start", env.pg_dir], check=True, capture_output=True)
    wait_ready(client, lambda r: checks_of(r).get("postgres") == "ok", 30, "postgres ok again")


if __name__ == "__main__":
    main()
