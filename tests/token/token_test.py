#!/usr/bin/python3
"""API tokens (common/token.c, hsictl token; docs/tokens.md) over a
private PostgreSQL: tokens of each role created, only their SHA-256
stored, listings without secrets, verification as hsi-api does it
(through token_verify, $HSI_TOKEN_VERIFY) for active, unknown, expired
and revoked tokens, revocation once and only once, both in audit_log,
and the refusals of bad roles, unknown agencies, bad labels and bad
expiries with messages naming the option.

usage: token_test.py BUILD_DIR SOURCE_DIR

No fixed ports: the cluster listens on a unix socket only.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

BUILD, SRC = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "tests", "alerting"))
from harness import Env, check, run  # noqa: E402

VERIFY = os.environ["HSI_TOKEN_VERIFY"]
TOKEN_RE = re.compile(r"^hsi_[0-9a-f]{64}$")


class TokenEnv(Env):
    def setup(self):
        """Migrations and the e2e catalog (with the agencies) only."""
        ctl = self.bin["hsictl"]
        subprocess.run([ctl, "migrate"] + self.db, check=True,
                       capture_output=True)
        subprocess.run([ctl, "catalog", "load",
                        os.path.join(self.src, "tests", "e2e", "catalog.csv")]
                       + self.db, check=True, capture_output=True)

    def ctl(self, *args, db=True):
        env = dict(os.environ)
        env.pop("HSI_DB_URL", None)
        env["USER"] = "operator1"
        return subprocess.run([self.bin["hsictl"], "token"] + list(args)
                              + (self.db if db else []),
                              capture_output=True, text=True, env=env,
                              timeout=60)

    def verify(self, header):
        r = subprocess.run([VERIFY, self.url], input=header + "\n",
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "token_verify runs: %s" % r.stderr)
        return json.loads(r.stdout) if r.returncode == 0 else {}

    def count(self, table, where="true"):
        return int(self.psql("SELECT count(*) FROM %s WHERE %s"
                             % (table, where)))


def secrets_of(token):
    """The forms a token could leak in: its text, its hex, the raw
    bytes' hex as a bytea prints them."""
    hexpart = token[4:]
    return [token, hexpart, hexpart.upper(), "\\x" + hexpart]


def no_secret(text, tokens, what):
    for t in tokens:
        for s in secrets_of(t):
            check(s not in text, "%s shows no secret of token %s..."
                  % (what, t[:8]))


def create(env, *args):
    """A token made with --format json: (token, the JSON)."""
    r = env.ctl("create", "--format", "json", *args)
    check(r.returncode == 0, "create %s: rc %d %s" % (args, r.returncode,
                                                     r.stderr))
    if r.returncode != 0:
        return None, {}
    j = json.loads(r.stdout)
    check(TOKEN_RE.match(j["token"]) is not None, "token format")
    check("cannot be shown again" in r.stderr, "create warns on stderr")
    check(j["token"] not in r.stderr, "no token on stderr")
    return j["token"], j


def refused(env, rc, fragments, *args):
    before = env.count("api_token")
    r = env.ctl(*args)
    check(r.returncode == rc, "%s: rc %d (want %d) %s"
          % (args, r.returncode, rc, r.stderr))
    for f in fragments:
        check(f in r.stderr, "%s: message %r names %r" % (args, r.stderr, f))
    check(r.stdout == "", "%s: nothing on stdout" % (args,))
    check(env.count("api_token") == before, "%s: nothing stored" % (args,))


def test_create(env):
    """Each role, text and JSON output, stored as SHA-256 only."""
    r = env.ctl("create", "--role", "admin", "--label", "ops on-call")
    check(r.returncode == 0, "create admin (text): %s" % r.stderr)
    admin = r.stdout.strip()
    check(r.stdout.count("\n") == 1 and TOKEN_RE.match(admin) is not None,
          "text output is the token alone: %r" % r.stdout[:20])
    check("cannot be shown again" in r.stderr and admin not in r.stderr,
          "the warning goes to stderr, without the token")

    viewer, vj = create(env, "--role", "viewer", "--label", "dashboard",
                        "--expires", "90d")
    cdd, cj = create(env, "--role", "agency:CDD",
                     "--label", "กรมการพัฒนาชุมชน node 1",
                     "--expires", "2030-01-01T00:00:00+07:00")
    check(cj.get("role") == "agency:CDD", "role in JSON: %s" % cj)
    check(cj.get("label") == "กรมการพัฒนาชุมชน node 1", "Thai label kept")
    check(cj.get("expires_at") == "2029-12-31T17:00:00Z",
          "RFC 3339 expiry stored: %s" % cj.get("expires_at"))
    tokens = {"admin": admin, "viewer": viewer, "cdd": cdd}
    check(len(set(tokens.values())) == 3, "tokens differ")

    ids = {k: env.psql("SELECT id FROM api_token WHERE sha256 = "
                       "decode('%s', 'hex')"
                       % hashlib.sha256(bytes.fromhex(t[4:])).hexdigest())
           for k, t in tokens.items()}
    check(all(ids.values()), "each token found by its SHA-256: %s" % ids)
    check(ids["viewer"] == str(vj.get("id")), "JSON id is the row's")
    check(env.psql("SELECT expires_at - created_at FROM api_token "
                   "WHERE id = %s" % ids["admin"]) == "365 days",
          "default expiry 365 days")
    check(env.psql("SELECT expires_at - created_at FROM api_token "
                   "WHERE id = %s" % ids["viewer"]) == "90 days",
          "--expires 90d")
    check(env.psql("SELECT role FROM api_token WHERE id = %s"
                   % ids["cdd"]) == "agency:CDD", "agency role stored")

    # Nothing but the hash: dump every column of every row as text.
    dump = env.psql("SELECT t::text FROM api_token t")
    no_secret(dump, tokens.values(), "api_token")
    audit = env.psql("SELECT a::text FROM audit_log a")
    no_secret(audit, tokens.values(), "audit_log")
    check(env.count("audit_log", "action = 'token.create'") == 3,
          "audit_log has each creation")
    check(env.psql("SELECT actor || ' ' || target || ' ' || "
                   "(detail->>'role') FROM audit_log WHERE action = "
                   "'token.create' AND target = '%s'" % ids["cdd"])
          == "operator1 %s agency:CDD" % ids["cdd"],
          "audit row names actor, id and role")
    return tokens, ids


def test_verify(env, tokens, ids):
    """As hsi-api sees them: each header form, each role."""
    for form in ("Bearer %s", "bearer %s", "%s"):
        v = env.verify(form % tokens["admin"])
        check(v.get("verdict") == "active" and v.get("role") == "admin"
              and v.get("role_kind") == "admin", "admin %r: %s" % (form[:7], v))
    v = env.verify("Bearer " + tokens["cdd"][4:])
    check(v.get("verdict") == "active" and v.get("agency") == "CDD"
          and v.get("role_kind") == "agency" and str(v.get("id")) == ids["cdd"],
          "older header form, agency token: %s" % v)
    v = env.verify("Bearer " + tokens["viewer"])
    check(v.get("verdict") == "active" and v.get("role_kind") == "viewer"
          and v.get("label") == "dashboard", "viewer: %s" % v)
    v = env.verify("Bearer hsi_" + os.urandom(32).hex())
    check(v == {"verdict": "unknown"}, "unknown token: %s" % v)
    for bad in ("Bearer " + tokens["admin"] + " ",
                "Bearer " + tokens["admin"][:-1],
                "Basic " + tokens["admin"],
                "Bearer hsi_" + tokens["admin"][4:].upper()):
        check(env.verify(bad) == {"verdict": "malformed", "eauth": True},
              "malformed header refused: %r..." % bad[:14])


def test_list(env, tokens, ids):
    r = env.ctl("list")
    check(r.returncode == 0, "list: %s" % r.stderr)
    lines = r.stdout.splitlines()
    check(lines and lines[0].split()[:3] == ["ID", "STATUS", "ROLE"],
          "table header: %s" % lines[:1])
    check(len(lines) == 4, "three tokens listed: %s" % r.stdout)
    for k in tokens:
        row = [ln for ln in lines if ln.split()[0] == ids[k]]
        check(len(row) == 1 and row[0].split()[1] == "active",
              "%s listed active: %s" % (k, row))
    check("กรมการพัฒนาชุมชน node 1" in r.stdout, "Thai label listed")
    no_secret(r.stdout, tokens.values(), "list")
    hashes = env.psql("SELECT encode(sha256, 'hex') FROM api_token").split()
    check(not any(h in r.stdout for h in hashes), "list shows no hash")

    r = env.ctl("list", "--format", "json")
    check(r.returncode == 0, "list json: %s" % r.stderr)
    rows = json.loads(r.stdout) if r.returncode == 0 else []
    check(len(rows) == 3, "three rows")
    check(all(set(x) == {"id", "role", "label", "status", "created_at",
                         "expires_at", "revoked_at"} for x in rows),
          "JSON fields: %s" % (rows[:1],))
    check([x["id"] for x in rows] == sorted((x["id"] for x in rows),
                                            reverse=True), "newest first")
    no_secret(r.stdout, tokens.values(), "list json")


def status_of(env, id_):
    r = env.ctl("list", "--all", "--format", "json")
    rows = json.loads(r.stdout) if r.returncode == 0 else []
    return {str(x["id"]): x for x in rows}.get(id_, {})


def test_expired(env, tokens, ids):
    """A token past its expiry: refused, hidden by default, --all shows
    it expired."""
    env.psql("UPDATE api_token SET expires_at = now() - interval '1 day' "
             "WHERE id = %s" % ids["viewer"])
    v = env.verify("Bearer " + tokens["viewer"])
    check(v.get("verdict") == "expired" and str(v.get("id")) == ids["viewer"],
          "expired token: %s" % v)
    r = env.ctl("list")
    check(ids["viewer"] not in [ln.split()[0] for ln in r.stdout.splitlines()],
          "list hides the expired token")
    check(status_of(env, ids["viewer"]).get("status") == "expired",
          "list --all: expired")


def test_revoke(env, tokens, ids):
    r = env.ctl("revoke", ids["cdd"], "--by", "alice")
    check(r.returncode == 0 and "revoked" in r.stderr,
          "revoke: rc %d %s" % (r.returncode, r.stderr))
    v = env.verify("Bearer " + tokens["cdd"])
    check(v.get("verdict") == "revoked" and v.get("revoked_at", 0) > 0,
          "revoked token: %s" % v)
    row = status_of(env, ids["cdd"])
    check(row.get("status") == "revoked" and row.get("revoked_at"),
          "list --all: revoked %s" % row)
    check(env.psql("SELECT actor FROM audit_log WHERE action = "
                   "'token.revoke' AND target = '%s'" % ids["cdd"])
          == "alice", "audit_log has the revocation by alice")

    r = env.ctl("revoke", ids["cdd"], "--by", "bob")
    check(r.returncode == 1, "revoking twice fails: rc %d" % r.returncode)
    check("already revoked at 20" in r.stderr and "by alice" in r.stderr,
          "and says when and by whom: %s" % r.stderr)
    check(env.count("audit_log", "action = 'token.revoke'") == 1,
          "no second audit row")

    # An expired token can still be revoked (for the record); --by
    # defaults to $USER.
    r = env.ctl("revoke", ids["viewer"])
    check(r.returncode == 0, "revoke an expired token: %s" % r.stderr)
    check(env.psql("SELECT actor FROM audit_log WHERE action = "
                   "'token.revoke' AND target = '%s'" % ids["viewer"])
          == "operator1", "--by defaults to $USER")
    v = env.verify("Bearer " + tokens["viewer"])
    check(v.get("verdict") == "revoked", "revocation counts before expiry")

    r = env.ctl("revoke", "999999")
    check(r.returncode == 1 and "no token 999999" in r.stderr,
          "unknown id: rc %d %s" % (r.returncode, r.stderr))
    check(env.verify("Bearer " + tokens["admin"]).get("verdict")
          == "active", "the other tokens still work")


def test_refusals(env):
    label = ("--label", "x")
    refused(env, 1, ["agency 'NOPE' does not exist"],
            "create", "--role", "agency:NOPE", *label)
    refused(env, 2, ["--role", "'Admin'", "admin, viewer or agency:CODE"],
            "create", "--role", "Admin", *label)
    refused(env, 2, ["--role", "agency:CODE"],
            "create", "--role", "agency:cdd", *label)
    refused(env, 2, ["--role is required"], "create", *label)
    refused(env, 2, ["--label is required"], "create", "--role", "admin")
    refused(env, 2, ["--label", "empty"],
            "create", "--role", "admin", "--label", "")
    refused(env, 2, ["--label", "U+000A"],
            "create", "--role", "admin", "--label", "two\nlines")
    refused(env, 2, ["--label", "at most 128"],
            "create", "--role", "admin", "--label", "x" * 129)
    for bad, words in (("10y", ["--expires", "'10y'", "neither a duration"]),
                       ("90", ["--expires", "neither a duration"]),
                       ("0d", ["--expires", "zero"]),
                       ("1826d", ["--expires", "1825d"]),
                       ("next week", ["--expires", "'next week'"]),
                       ("2026-02-30T00:00:00", ["--expires", "RFC 3339"])):
        refused(env, 2, words, "create", "--role", "viewer", *label,
                "--expires", bad)
    # Checked against the server's clock, after the syntax.
    refused(env, 2, ["expires", "not in the future"],
            "create", "--role", "viewer", *label,
            "--expires", "2020-01-01T00:00:00Z")
    refused(env, 2, ["expires", "too far ahead", "1825d"],
            "create", "--role", "viewer", *label,
            "--expires", "2099-01-01T00:00:00Z")
    # Options that do not belong, twice, or unknown.
    refused(env, 2, ["--all does not apply here"],
            "create", "--role", "viewer", *label, "--all")
    refused(env, 2, ["--role given twice"],
            "create", "--role", "viewer", "--role", "admin", *label)
    refused(env, 2, ["--format 'table'", "text or json"],
            "create", "--role", "viewer", *label, "--format", "table")
    refused(env, 2, ["--format 'text'", "table or json"],
            "list", "--format", "text")
    refused(env, 2, ["--by does not apply here"], "list", "--by", "x")
    refused(env, 2, ["unrecognized option"], "list", "--colour")
    refused(env, 2, ["unknown command"], "rotate")
    refused(env, 2, ["which command"])
    refused(env, 2, ["give the token's ID"], "revoke")
    refused(env, 2, ["'abc' is not a token id"], "revoke", "abc")
    refused(env, 2, ["'0' is not a token id"], "revoke", "0")
    refused(env, 2, ["unexpected argument"], "revoke", "1", "2")
    refused(env, 2, ["--by", "empty"], "revoke", "1", "--by", "")
    r = env.ctl("list", db=False)
    check(r.returncode == 2 and "--db-url" in r.stderr,
          "no database given: rc %d %s" % (r.returncode, r.stderr))
    r = env.ctl("--help")
    check(r.returncode == 0 and "hsictl token create" in r.stdout,
          "--help: rc %d" % r.returncode)


def body(env):
    check(env.psql("SELECT count(*) FROM agency WHERE code = 'CDD'") == "1",
          "the catalog has agency CDD")
    tokens, ids = test_create(env)
    test_verify(env, tokens, ids)
    test_list(env, tokens, ids)
    test_expired(env, tokens, ids)
    test_revoke(env, tokens, ids)
    test_refusals(env)
    no_secret(env.psql("SELECT t::text FROM api_token t")
              + env.psql("SELECT a::text FROM audit_log a"),
              tokens.values(), "the tables at the end")


run(TokenEnv, BUILD, SRC, "hsi-token-", body, [], keep=False)
