#!/usr/bin/python3
"""Operators' actions on alerts (common/alertops.c, hsictl alerts) over a
private PostgreSQL: alert rows inserted with psql as hsi-alerter writes
them, then listed, shown, acknowledged and silenced through hsictl.

usage: ops_test.py BUILD_DIR SOURCE_DIR

Alerts (updated_at, newest first: A B D1 D2 E C):
  A   composite_low  firing    area 55 (Nan, Thai summary)  value 0.41
  B   composite_low  pending   area 10                      value 0.44
  D1  late_data      firing    no area label, agency CDD    shares its first
  D2  late_data      firing    no area label, agency DOH    10 digits with D1
  E   det            firing    area 56                      value 0.38
  C   composite_low  resolved  area 50                      value 0.47

Also runs alertops_test (HSI_ALERTOPS_TEST) against a second, scratch
database of the cluster, for the silences hsi-alerter loads.
No fixed ports: the cluster listens on a unix socket only.
"""
import datetime
import hashlib
import json
import os
import subprocess
import sys

from harness import Env, check, run

BUILD, SRC = sys.argv[1], sys.argv[2]
THAI_A = "น่าน: ดัชนีรวม 0.4100 ต่ำกว่าเกณฑ์ 0.45 ปี 2567"


def fp(text):
    return hashlib.sha256(text.encode()).hexdigest()


FP = {"A": fp("composite_low|55|hsi|2024"), "B": fp("composite_low|10|hsi|2024"),
      "C": fp("composite_low|50|hsi|2024"), "E": fp("det|56|hsi"),
      "D1": "abcdef0123" + fp("d1")[10:], "D2": "abcdef0123" + fp("d2")[10:]}


def labels(rule, area=None, **extra):
    d = {"alertname": rule, "rule": rule, "level": "index", "code": "hsi",
         "period": "2024", "methodology": 1}
    if area:
        d.update(area=area, area_level="province")
    d.update(extra)
    return d


ROWS = [  # key, rule, kind, state, labels, summary_th, value, minutes ago
    ("A", "composite_low", "score", "firing", labels("composite_low", "55"),
     THAI_A, 0.41, 1),
    ("B", "composite_low", "score", "pending", labels("composite_low", "10"),
     "กรุงเทพมหานคร: ดัชนีรวม 0.4400 ต่ำกว่าเกณฑ์ 0.45 ปี 2567", 0.44, 2),
    ("D1", "late_data", "late_data", "firing",
     {"alertname": "late_data", "rule": "late_data", "agency": "CDD"},
     "กรมควบคุมโรค ส่งข้อมูลล่าช้า", None, 3),
    ("D2", "late_data", "late_data", "firing",
     {"alertname": "late_data", "rule": "late_data", "agency": "DOH"},
     "กรมอนามัย ส่งข้อมูลล่าช้า", None, 4),
    ("E", "det", "score", "firing", labels("det", "56"),
     "พะเยา: ดัชนีรวม ลดลง 0.1200 เหลือ 0.3800 ปี 2567", 0.38, 5),
    ("C", "composite_low", "score", "resolved", labels("composite_low", "50"),
     "เชียงใหม่: ดัชนีรวม 0.4700 ไม่ต่ำกว่าเกณฑ์แล้ว ปี 2567", 0.47, 6),
]


def q(s):
    return "'" + s.replace("'", "''") + "'"


class OpsEnv(Env):
    def setup(self):
        """Migrations and the e2e catalog only: no service runs."""
        ctl = self.bin["hsictl"]
        subprocess.run([ctl, "migrate"] + self.db, check=True,
                       capture_output=True)
        subprocess.run([ctl, "catalog", "load",
                        os.path.join(self.src, "tests", "e2e", "catalog.csv")]
                       + self.db, check=True, capture_output=True)
        for key, rule, kind, state, lb, th, value, ago in ROWS:
            ann = {"summary": "%s alert %s" % (rule, key), "summary_th": th}
            self.psql(
                "INSERT INTO alert (fingerprint, rule, kind, labels,"
                " annotations, state, value, threshold, starts_at, ends_at,"
                " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 0.45,"
                " now() - interval '1 day', %s,"
                " now() - interval '%d minutes')"
                % (q(FP[key]), q(rule), q(kind), q(json.dumps(lb)),
                   q(json.dumps(ann, ensure_ascii=False)), q(state),
                   "NULL" if value is None else value,
                   "now()" if state == "resolved" else "NULL", ago))

    def ctl(self, *args):
        r = subprocess.run([self.bin["hsictl"], "alerts"] + list(args)
                           + self.db, capture_output=True, text=True,
                           timeout=60)
        return r.returncode, r.stdout, r.stderr

    def ok(self, *args):
        rc, out, err = self.ctl(*args)
        check(rc == 0, "hsictl alerts %s: exit %d: %s"
              % (" ".join(args), rc, err.strip()))
        return out

    def fails(self, rc_want, parts, *args):
        """The command exits rc_want with every part in its message."""
        rc, out, err = self.ctl(*args)
        check(rc == rc_want, "hsictl alerts %s: exit %d (want %d): %s"
              % (" ".join(args), rc, rc_want, err.strip()))
        for p in parts:
            check(p in err, "hsictl alerts %s: message %r lacks %r"
                  % (" ".join(args), err.strip(), p))
        check(out == "", "nothing on stdout when it fails: %r" % out)

    def listed(self, *args):
        out = self.ok("list", "--format", "json", *args)
        try:
            rows = json.loads(out)
        except ValueError:
            check(False, "list %s: JSON: %r" % (args, out[:200]))
            return []
        names = {v: k for k, v in FP.items()}
        return [names.get(r["fingerprint"], "?") for r in rows]


def test_list(env):
    check(env.listed() == ["A", "B", "D1", "D2", "E"],
          "the default lists firing and pending, newest first: %s"
          % env.listed())
    check(env.listed("--state", "all") == ["A", "B", "D1", "D2", "E", "C"],
          "--state all")
    check(env.listed("--state", "resolved") == ["C"], "--state resolved")
    check(env.listed("--state", "pending") == ["B"], "--state pending")
    check(env.listed("--state", "firing") == ["A", "D1", "D2", "E"],
          "--state firing")
    check(env.listed("--rule", "det") == ["E"], "--rule det")
    check(env.listed("--rule", "nope") == [], "--rule with no alert")
    check(env.listed("--state", "all", "--match", "area=~5.")
          == ["A", "E", "C"], "--match area=~5.")
    check(env.listed("--state", "all", "--match", "area=~5") == [],
          "area=~5 is anchored: it matches none of 55, 56, 50")
    check(env.listed("--match", "area=") == ["D1", "D2"],
          "an absent label is the empty string")
    check(env.listed("--match", "area!~.+") == ["D1", "D2"], "area!~.+")
    check(env.listed("--match", "methodology=1", "--match", "area!=10")
          == ["A", "E"], "integer label, and every matcher must match")
    check(env.listed("--match", "methodology=01") == [],
          "an integer compares as its decimal text")
    check(env.listed("--state", "all", "--limit", "2") == ["A", "B"],
          "--limit 2")
    check(env.listed("--state", "all", "--limit", "1", "--match", "area=50")
          == ["C"], "the limit applies after the matchers")
    rows = json.loads(env.ok("list", "--format", "json", "--rule", "det"))
    e = rows[0]
    check(set(e) == {"fingerprint", "rule", "kind", "state", "labels",
                     "annotations", "value", "threshold", "starts_at",
                     "ends_at", "updated_at", "acked"}, "row keys %s" % set(e))
    check(e["value"] == 0.38 and e["threshold"] == 0.45, "value, threshold")
    check(e["labels"]["methodology"] == 1 and e["labels"]["area"] == "56",
          "labels as stored")
    check(e["acked"] is None and e["ends_at"] is None, "not acked, not ended")
    check(e["starts_at"].endswith("Z") and len(e["starts_at"]) == 20,
          "RFC 3339 UTC: %s" % e["starts_at"])
    # One line per alert, the Thai summary whole.
    table = env.ok("list").splitlines()
    check(len(table) == 6 and table[0].startswith("FINGERPRINT"),
          "a heading and five lines: %r" % table)
    a_line = [l for l in table if l.startswith(FP["A"][:12])]
    check(len(a_line) == 1 and a_line[0].endswith(THAI_A),
          "A's line ends with its Thai summary: %r" % a_line)
    check(table[0].index("SUMMARY") == table[0].index("ACKED BY") + 10,
          "columns: %r" % table[0])
    env.fails(2, ["state: 'bogus' is not a state",
                  "firing, pending, resolved, active"],
              "list", "--state", "bogus")
    env.fails(2, ["--limit '10001': give a whole number from 1 to 10000"],
              "list", "--limit", "10001")
    env.fails(2, ["--format 'yaml': give table or json"],
              "list", "--format", "yaml")


def ack_row(env, key):
    return env.psql("SELECT acked_by, ack_comment, acked_at IS NOT NULL,"
                    " to_char(ack_expires AT TIME ZONE 'UTC',"
                    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                    " ack_expires - now() FROM alert WHERE fingerprint = '%s'"
                    % FP[key])


def events(env, key):
    out = env.psql("SELECT state, value, detail FROM alert_event WHERE"
                   " fingerprint = '%s' ORDER BY seq" % FP[key])
    return [l.split("|", 2) for l in out.splitlines()] if out else []


def test_ack(env):
    comment = "รู้แล้ว กำลังตรวจสอบกับ สปสช."
    out = env.ok("ack", FP["A"][:8], "--by", "somchai", "--comment", comment)
    check(out.strip() == FP["A"], "ack by prefix prints the fingerprint")
    by, com, at, expires, left = ack_row(env, "A").split("|")
    check(by == "somchai" and com == comment and at == "t",
          "acked_by, ack_comment, acked_at set: %s %s %s" % (by, com, at))
    check(left.startswith("23:59:") or left.startswith("1 day"),
          "expires in 24 hours by default: %s" % left)
    ev = events(env, "A")
    check(len(ev) == 1 and ev[0][0] == "acknowledged" and ev[0][1] == "0.41",
          "an 'acknowledged' event with the alert's value: %s" % ev)
    detail = json.loads(ev[0][2]) if ev else {}
    check(detail == {"by": "somchai", "comment": comment, "expires": expires},
          "the event's detail: %s" % detail)
    shown = json.loads(env.ok("list", "--format", "json", "--match",
                              "area=55"))[0]["acked"]
    check(shown == {"by": "somchai", "at": shown.get("at"),
                    "comment": comment, "expires": expires},
          "list shows the acknowledgement: %s" % shown)
    line = [l for l in env.ok("list").splitlines() if l.startswith(FP["A"][:12])]
    check(line and " somchai " in line[0], "the table names who acked")

    # Again, with a duration, then with an RFC 3339 time (Bangkok offset).
    env.ok("ack", FP["A"].upper(), "--by", "malee", "--comment", "ต่อเวลา",
           "--expires", "2h")
    left = ack_row(env, "A").split("|")[4]
    check(left.startswith("01:59:"), "--expires 2h: %s" % left)
    when = (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(days=3)).replace(microsecond=0)
    local = when.astimezone(datetime.timezone(datetime.timedelta(hours=7)))
    env.ok("ack", FP["B"], "--by", "malee", "--comment", "pending too",
           "--expires", local.isoformat())
    expires = ack_row(env, "B").split("|")[3]
    check(expires == when.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "--expires %s stored as %s" % (local.isoformat(), expires))

    # Refusals: state, prefixes, expiry, texts.
    env.fails(1, ["alert %s is resolved" % FP["C"][:12],
                  "only a firing or pending alert can be acknowledged"],
              "ack", FP["C"][:10], "--by", "x", "--comment", "y")
    check(events(env, "C") == [], "no event for a refused ack")
    env.fails(2, ["abcdef0123... is ambiguous: 2 alerts start with it",
                  "give more digits"],
              "ack", "abcdef0123", "--by", "x", "--comment", "y")
    env.ok("ack", FP["D2"][:11], "--by", "x", "--comment", "y")
    check(ack_row(env, "D2").startswith("x|y|t|"),
          "a longer prefix picks one")
    check(ack_row(env, "D1").startswith("||"), "and leaves the other alone")
    env.fails(1, ["no alert is 00000000..."],
              "ack", "00000000", "--by", "x", "--comment", "y")
    env.fails(2, ["fingerprint: 'abc' is shorter than 8 digits"],
              "ack", "abc", "--by", "x", "--comment", "y")
    env.fails(2, ["fingerprint: 'abcdefgh' is not hexadecimal"],
              "ack", "abcdefgh", "--by", "x", "--comment", "y")
    env.fails(2, ["expires: '31d' is longer than the maximum, 30d"],
              "ack", FP["E"], "--by", "x", "--comment", "y",
              "--expires", "31d")
    env.fails(2, ["expires: 2020-01-01T00:00:00Z is not in the future"],
              "ack", FP["E"], "--by", "x", "--comment", "y",
              "--expires", "2020-01-01T07:00:00+07:00")
    env.fails(2, ["expires: '2h30' is neither a duration",
                  "nor an RFC 3339 time"],
              "ack", FP["E"], "--by", "x", "--comment", "y",
              "--expires", "2h30")
    env.fails(2, ["comment: empty; give 1 to 1024 characters"],
              "ack", FP["E"], "--by", "x", "--comment", "")
    env.fails(2, ["by: 129 characters; at most 128"],
              "ack", FP["E"], "--by", "ก" * 129, "--comment", "y")
    env.fails(2, ["ack: --comment is required"], "ack", FP["E"], "--by", "x")
    env.fails(2, ["ack: --all does not apply here"],
              "ack", FP["E"], "--by", "x", "--comment", "y", "--all")
    check(events(env, "E") == [], "no event for refused acks")

    # Unacknowledge.
    out = env.ok("unack", FP["A"][:12], "--by", "somchai")
    check(out.strip() == FP["A"], "unack prints the fingerprint")
    check(ack_row(env, "A") == "||f||", "unack clears the columns: %s"
          % ack_row(env, "A"))
    ev = events(env, "A")
    check([e[0] for e in ev] == ["acknowledged", "acknowledged",
                                 "unacknowledged"], "events %s" % ev)
    check(ev and json.loads(ev[-1][2]) == {"by": "somchai"},
          "the unack event names who")
    env.fails(1, ["alert %s is not acknowledged" % FP["A"][:12]],
              "unack", FP["A"], "--by", "somchai")

    # show: the alert and its events, oldest first.
    s = json.loads(env.ok("show", FP["A"][:9], "--format", "json"))
    check(s["fingerprint"] == FP["A"] and s["acked"] is None, "show A")
    check([e["state"] for e in s["events"]] == ["acknowledged",
          "acknowledged", "unacknowledged"] and s["events_total"] == 3,
          "show lists the events oldest first: %s" % s["events"])
    check(s["events"][1]["detail"]["by"] == "malee", "with their detail")
    text = env.ok("show", FP["A"])
    check(("summary      " + THAI_A) in text and "acked        no" in text,
          "show as text: %r" % text[:400])


def silence_row(env, sid):
    return env.psql("SELECT matchers::text, created_by, comment,"
                    " ends_at - starts_at, ends_at <= now(), expired_by"
                    " FROM silence WHERE id = %s" % sid)


def test_silences(env):
    comment = "น่าน: รอข้อมูลแก้ไขจาก สปสช."
    out = env.ok("silence", "add", "--match", "area=55", "--match",
                 "rule=~composite_.*", "--by", "somchai", "--comment",
                 comment, "--duration", "2h")
    a = out.strip()
    check(a.isdigit(), "silence add prints the id: %r" % out)
    m, by, com, length, ended, exp = silence_row(env, a).split("|")
    check(json.loads(m) == [{"name": "area", "op": "=", "value": "55"},
                            {"name": "rule", "op": "=~",
                             "value": "composite_.*"}],
          "matchers stored as JSON: %s" % m)
    check(by == "somchai" and com == comment and length == "02:00:00"
          and ended == "f" and exp == "", "silence row: %s" % silence_row(env, a))
    start = (datetime.datetime.now(datetime.timezone.utc)
             + datetime.timedelta(days=2)).replace(microsecond=0)
    end = start + datetime.timedelta(days=1)
    b = env.ok("silence", "add", "--match", "agency=CDD", "--by", "malee",
               "--comment", "planned maintenance", "--starts",
               start.isoformat(), "--ends", end.isoformat()).strip()
    check(silence_row(env, b).split("|")[3] == "1 day", "--starts/--ends")
    listing = json.loads(env.ok("silence", "list", "--format", "json"))
    check([(s["id"], s["status"]) for s in listing]
          == [(int(b), "pending"), (int(a), "active")],
          "silence list: active and pending, newest first: %s" % listing)
    check(listing[1]["matchers"][1] == {"name": "rule", "op": "=~",
                                        "value": "composite_.*"},
          "matchers listed name, op, value")
    check(listing[0]["starts_at"] == start.strftime("%Y-%m-%dT%H:%M:%SZ"),
          "starts_at in UTC")
    table = env.ok("silence", "list").splitlines()
    check(len(table) == 3 and "STATUS" in table[0]
          and " active " in table[2] and table[2].endswith(comment)
          and "area=55, rule=~composite_.*" in table[2],
          "silence list as a table: %r" % table)

    # Expire both; once is enough.
    env.ok("silence", "expire", a, "--by", "malee")
    m, by, com, length, ended, exp = silence_row(env, a).split("|")
    check(ended == "t" and exp == "malee", "expired: %s" % silence_row(env, a))
    env.ok("silence", "expire", b, "--by", "malee")
    check(silence_row(env, b).split("|")[4:] == ["t", "malee"],
          "a pending silence expires too")
    check(json.loads(env.ok("silence", "list", "--format", "json")) == [],
          "expired silences leave the default list")
    check(env.ok("silence", "list") == "no silences\n", "an empty table")
    every = json.loads(env.ok("silence", "list", "--all", "--format", "json"))
    check([(s["status"], s["expired_by"]) for s in every]
          == [("expired", "malee")] * 2, "--all shows them: %s" % every)
    env.fails(1, ["silence %s: already ended at" % a, "expired by malee"],
              "silence", "expire", a, "--by", "x")
    env.fails(1, ["silence 99999: no such silence"],
              "silence", "expire", "99999", "--by", "x")
    env.fails(2, ["ID: 'x1' is not a silence id"],
              "silence", "expire", "x1", "--by", "x")

    # Refusals, each before anything is stored.
    n = env.psql("SELECT count(*) FROM silence")
    base = ["--by", "x", "--comment", "y"]
    env.fails(2, ["--match: matcher 0 'area=~(': regex: '('",
                  "POSIX extended"],
              "silence", "add", "--match", "area=~(", "--duration", "1h",
              *base)
    env.fails(2, ["--match: matcher 1 '1a=5': name: '1a' is not a label"],
              "silence", "add", "--match", "a=1", "--match", "1a=5",
              "--duration", "1h", *base)
    env.fails(2, ["matcher 0 'area55': operator: none found"],
              "silence", "add", "--match", "area55", "--duration", "1h",
              *base)
    env.fails(2, ["value: 257 bytes; at most 256"],
              "silence", "add", "--match", "a=" + "x" * 257,
              "--duration", "1h", *base)
    env.fails(2, ["silence add: --match is required"],
              "silence", "add", "--duration", "1h", *base)
    env.fails(2, ["duration: '400d' is longer than the maximum, 365d"],
              "silence", "add", "--match", "a=1", "--duration", "400d", *base)
    env.fails(2, ["give either an end time or a duration, not both"],
              "silence", "add", "--match", "a=1", "--duration", "1h",
              "--ends", end.isoformat(), *base)
    env.fails(2, ["give either an end time or a duration (e.g. 2h)"],
              "silence", "add", "--match", "a=1", *base)
    env.fails(2, ["ends: 2020-01-01T00:00:00Z is not after"],
              "silence", "add", "--match", "a=1", "--ends",
              "2020-01-01T00:00:00Z", *base)
    env.fails(2, ["ends: '2030-01-01' is not an RFC 3339 time: no time of "
                  "day"],
              "silence", "add", "--match", "a=1", "--ends", "2030-01-01",
              *base)
    env.fails(2, ["is more than 365 days after the start"],
              "silence", "add", "--match", "a=1", "--starts",
              "2030-01-01T00:00:00Z", "--ends", "2031-01-02T00:00:00Z", *base)
    env.fails(2, ["created_by: empty"],
              "silence", "add", "--match", "a=1", "--duration", "1h",
              "--by", "", "--comment", "y")
    env.fails(2, ["comment: 1025 characters; at most 1024"],
              "silence", "add", "--match", "a=1", "--duration", "1h",
              "--by", "x", "--comment", "ข" * 1025)
    check(env.psql("SELECT count(*) FROM silence") == n,
          "refused silences store nothing")


def test_usage(env):
    for args, part in [((), "which command?"),
                       (("frob",), "unknown command 'frob'"),
                       (("show",), "show: give the FINGERPRINT"),
                       (("list", "x"), "list: unexpected argument 'x'"),
                       (("list", "--state", "all", "--state", "firing"),
                        "--state given twice")]:
        env.fails(2, [part], *args)
    rc, out, _ = env.ctl("--help")
    check(rc == 0 and "hsictl alerts silence expire ID --by NAME" in out,
          "--help")
    r = subprocess.run([env.bin["hsictl"], "alerts", "list", "--db-url",
                        "postgresql:///nope?host=/nonexistent"],
                       capture_output=True, text=True)
    check(r.returncode == 1 and "cannot connect to PostgreSQL" in r.stderr,
          "no database: exit 1: %s" % r.stderr.strip())


def test_loaded_silences(env):
    """alertops_test's database cases, in a scratch database."""
    exe = os.environ.get("HSI_ALERTOPS_TEST")
    check(exe is not None, "HSI_ALERTOPS_TEST names alertops_test")
    if exe is None:
        return
    env.psql("CREATE DATABASE alertops_scratch")
    url = env.url.replace("///hsi?", "///alertops_scratch?")
    r = subprocess.run([exe], env=dict(os.environ, HSI_TEST_DB_URL=url),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "[       OK ] test_active_silences" in r.stdout,
          "alertops_test over PostgreSQL: %s %s" % (r.stdout[-1500:],
                                                   r.stderr[-1500:]))


def body(env):
    test_list(env)
    test_ack(env)
    test_silences(env)
    test_usage(env)
    test_loaded_silences(env)


def main():
    run(OpsEnv, BUILD, SRC, "hsi-ops-", body, (), keep=False)


if __name__ == "__main__":
    main()
