#!/usr/bin/python3
"""Contract test: a running hsi-api against openapi.yaml.

    contract_test.py BUILD_DIR SOURCE_DIR [--base-url URL] [--allow-missing]
                     [--skip-writes] [--token ROLE=TOKEN]... [--spec FILE]
                     [--keep] [--verbose]

For every operation of the contract it sends the request described by the
operation's `x-hsi-example` (values may come from an earlier operation's
answer: {from: operationId, pointer: /json/pointer, fallback: value}) and
checks that the status is one the contract declares for the operation, that
the Content-Type is one declared for that status, that required headers are
there, and that the body validates against the declared schema (JSON Schema
2020-12, local $refs, additionalProperties/unevaluatedProperties false, so
unknown keys fail). Then, where the contract promises it: If-None-Match with
the ETag gives 304; Accept: text/csv gives CSV with the declared header row;
an unknown query parameter gives a 400 problem naming it; no token gives 401
with WWW-Authenticate; a next page follows next_cursor; SSE events validate;
/metrics is Prometheus text. At the end it lists every operation that was not
exercised, and why.

Without --base-url it starts the system itself, like tests/e2e: a private
PostgreSQL (scripts/pg.sh), hsictl migrate and the e2e test catalog,
hsi-scorer, hsi-alerter with its built-in rule, two hsi-ingest nodes (CDD,
DLA) delivering 2023 and 2024 for four provinces, hsi-api on a free port with
public_reads off, and tokens for admin, agency:CDD and viewer (hsictl token
create, or rows inserted with psql while that command does not exist). No
fixed ports. With --base-url it checks an already-running server; give tokens
with --token admin=HEX --token agency=HEX --token viewer=HEX (or
HSI_TOKEN_ADMIN / HSI_TOKEN_AGENCY / HSI_TOKEN_VIEWER) and consider
--skip-writes against a server whose data matter.

An operation the server does not have yet (404 `no-route`/"nothing at ..."
from the router, or 405 without the method in Allow) fails as "not
implemented"; --allow-missing reports those, and promised features that are
plainly absent (CSV answered as JSON, no ETag, 200 instead of 304), as
warnings instead, so the test can run in CI now and be tightened later.

Exit status 0 when nothing failed, 1 otherwise, 2 for usage errors. The last
line is "N passed, N failed, N skipped".
"""
import argparse
import csv
import hashlib
import http.client
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import yaml
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
JSON_TYPES = ("application/json", "application/problem+json")

passed = failed = skipped = 0
VERBOSE = False


def ok(what):
    global passed
    passed += 1
    if VERBOSE:
        print("ok    " + what, flush=True)


def fail(what):
    global failed
    failed += 1
    print("FAIL  " + what, flush=True)


def warn(what):
    global skipped
    skipped += 1
    print("warn  " + what, flush=True)


# ------------------------------------------------------------------ the spec

class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.resolver = RefResolver("", self.doc)
        self.format_checker = FormatChecker()
        self._validators = {}

    def deref(self, obj):
        """Follows local $refs of the OpenAPI structure (responses,
        parameters, headers), not of schemas."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("non-local $ref %s" % ref)
            obj = self.pointer(ref[1:])
            seen += 1
            if seen > 20:
                raise ValueError("$ref loop at %s" % ref)
        return obj

    def pointer(self, ptr):
        return json_pointer(self.doc, ptr)

    def errors(self, schema, instance):
        key = json.dumps(schema, sort_keys=True)
        v = self._validators.get(key)
        if v is None:
            v = Draft202012Validator(schema, resolver=self.resolver,
                                     format_checker=self.format_checker)
            self._validators[key] = v
        out = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/" + "/".join(str(p) for p in e.absolute_path)
            msg = e.message
            if e.context:  # oneOf/anyOf: the closest branch says more
                best = min(e.context, key=lambda c: len(list(c.absolute_path)) * -1)
                msg += " [" + best.message[:200] + "]"
            out.append("%s: %s" % (where, msg[:400]))
        return out

    def operations(self):
        """(path, method, op) in document order."""
        for path, item in self.doc.get("paths", {}).items():
            for m in METHODS:
                if m in item:
                    yield path, m.upper(), item[m], item


def json_pointer(doc, ptr):
    if ptr in ("", "/"):
        return doc
    cur = doc
    for part in ptr.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, list):
            cur = cur[int(part)]
        else:
            cur = cur[part]
    return cur


def check_spec(spec):
    """The contract itself: schemas valid, $refs local and resolvable,
    every operation complete, examples valid."""
    doc = spec.doc
    bad = 0
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "([^"]*)"', text)):
        try:
            if not ref.startswith("#/"):
                raise ValueError("not local")
            spec.pointer(ref[1:])
        except (KeyError, IndexError, ValueError) as e:
            fail("spec: $ref %s does not resolve (%s)" % (ref, e))
            bad += 1
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as e:  # SchemaError
            fail("spec: schema %s is not valid JSON Schema 2020-12: %s" % (name, str(e)[:300]))
            bad += 1
        if "example" in schema:
            for err in spec.errors(schema, schema["example"]):
                fail("spec: example of schema %s does not validate: %s" % (name, err))
                bad += 1
    ids = {}
    for path, method, op, _ in spec.operations():
        name = "%s %s" % (method, path)
        oid = op.get("operationId")
        if not oid:
            fail("spec: %s has no operationId" % name)
            bad += 1
        elif oid in ids:
            fail("spec: operationId %s used by %s and %s" % (oid, ids[oid], name))
            bad += 1
        ids[oid] = name
        for key in ("x-hsi-roles", "x-hsi-example", "description", "responses"):
            if key not in op and not (key == "description" and "summary" in op):
                fail("spec: %s has no %s" % (name, key))
                bad += 1
        for status, resp in op.get("responses", {}).items():
            resp = spec.deref(resp)
            for mt, media in resp.get("content", {}).items():
                if "example" in media and "schema" in media and mt in JSON_TYPES:
                    for err in spec.errors(media["schema"], media["example"]):
                        fail("spec: %s %s example (%s) does not validate: %s"
                             % (name, status, mt, err))
                        bad += 1
        body = op.get("requestBody", {}).get("content", {})
        for ex in examples_of(op):
            if ex.get("content_type") == "application/json" and "application/json" in body:
                for err in spec.errors(body["application/json"]["schema"], ex.get("body")):
                    fail("spec: %s x-hsi-example body does not validate: %s" % (name, err))
                    bad += 1
    for hook, item in doc.get("webhooks", {}).items():
        for m in METHODS:
            if m in item:
                media = item[m].get("requestBody", {}).get("content", {}).get("application/json", {})
                schema = media.get("schema")
                ex = spec.deref(schema).get("example") if schema else None
                if schema and ex is not None:
                    for err in spec.errors(schema, ex):
                        fail("spec: webhook %s example does not validate: %s" % (hook, err))
                        bad += 1
    if not bad:
        ok("spec: %d schemas valid, every $ref local, %d operations complete"
           % (len(doc.get("components", {}).get("schemas", {})), len(ids)))
    return bad == 0


def examples_of(op):
    ex = op.get("x-hsi-example")
    if ex is None:
        return []
    return ex if isinstance(ex, list) else [ex]


# --------------------------------------------------------------------- HTTP

class Reply:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error
        self.json = None
        self.json_error = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def media_type(self):
        ct = self.header("content-type") or ""
        return ct.split(";")[0].strip().lower()

    def parse_json(self):
        try:
            self.json = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            self.json_error = str(e)
        return self.json


class Client:
    def __init__(self, base_url, timeout=30):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise SystemExit("--base-url must be http://HOST:PORT or https://...")
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout

    def conn(self, timeout=None):
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout or self.timeout)

    def request(self, method, target, headers=None, body=None):
        c = self.conn()
        try:
            try:
                c.request(method, self.prefix + target, body=body, headers=headers or {})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading the body
            r = c.getresponse()
            data = r.read()
            hdrs = {}
            for k, v in r.getheaders():
                k = k.lower()
                hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
            return Reply(r.status, hdrs, data)
        except (OSError, http.client.HTTPException) as e:
            return Reply(0, {}, b"", error="%s: %s" % (type(e).__name__, e))
        finally:
            c.close()

    def stream(self, target, headers, seconds):
        """Opens an SSE stream, reads it for `seconds`, closes it. Read on
        the raw socket (a buffered reader gives up after one timeout), with
        chunked transfer coding decoded here. Returns (Reply, [events],
        error); the Reply has a body only when the answer is not a stream."""
        events, err = [], None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
            if self.scheme == "https":
                import ssl
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        except OSError as e:
            return Reply(0, {}, b"", error=str(e)), events, None
        try:
            lines = ["GET %s HTTP/1.1" % (self.prefix + target), "Host: %s:%d" % (self.host, self.port)]
            lines += ["%s: %s" % kv for kv in headers.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            raw, end = b"", time.time() + 10
            while b"\r\n\r\n" not in raw:
                chunk = sock.recv(65536)
                if not chunk or time.time() > end:
                    return Reply(0, {}, b"", error="no complete header"), events, None
                raw += chunk
            head, raw = raw.split(b"\r\n\r\n", 1)
            hl = head.decode("latin-1").split("\r\n")
            status = int(hl[0].split()[1])
            hdrs = {}
            for l in hl[1:]:
                k, _, v = l.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            reply = Reply(status, hdrs, b"")
            chunked = "chunked" in hdrs.get("transfer-encoding", "").lower()
            is_stream = status == 200 and hdrs.get("content-type", "").startswith("text/event-stream")
            sock.settimeout(0.3)
            end = time.time() + (seconds if is_stream else 10)
            data, done = b"", False
            while time.time() < end and not done:
                try:
                    chunk = sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    chunk = None
                if chunk == b"":
                    done = True
                elif chunk:
                    raw += chunk
                if chunked:
                    while b"\r\n" in raw:
                        size_line, rest = raw.split(b"\r\n", 1)
                        size = int(size_line.split(b";")[0] or b"0", 16)
                        if size == 0:
                            done = True
                            raw = b""
                            break
                        if len(rest) < size + 2:
                            break
                        data += rest[:size]
                        raw = rest[size + 2:]
                else:
                    data, raw = data + raw, b""
                if not is_stream and "content-length" in hdrs and len(data) >= int(hdrs["content-length"]):
                    done = True
            if not is_stream:
                reply.body = data
                return reply, events, None
            ev = {"data": []}
            for line in data.decode("utf-8", "replace").splitlines():
                if line == "":
                    if ev.get("event") or ev["data"]:
                        events.append(ev)
                    ev = {"data": []}
                elif line.startswith(":"):
                    continue
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "data":
                        ev["data"].append(value)
                    elif field in ("event", "id", "retry"):
                        ev[field] = value
                    else:
                        err = "unknown SSE field %r" % field
            return reply, events, err
        except (OSError, ValueError, IndexError) as e:
            return Reply(0, {}, b"", error="%s: %s" % (type(e).__name__, e)), events, None
        finally:
            sock.close()


# --------------------------------------------------------------- the checks

class Runner:
    def __init__(self, spec, client, tokens, allow_missing, skip_writes,
                 private_reads):
        self.spec, self.client, self.tokens = spec, client, tokens
        self.allow_missing, self.skip_writes = allow_missing, skip_writes
        self.private_reads = private_reads
        self.answers = {}       # operationId -> [json bodies of 2xx answers]
        self.outcome = {}       # "METHOD path" -> exercised | reason
        self.run_id = secrets.token_hex(4)

    # -- helpers
    def missing(self, what):
        if self.allow_missing:
            warn(what)
        else:
            fail(what)

    def value(self, v, name, used_fallback):
        if isinstance(v, dict) and "from" in v:
            for body in reversed(self.answers.get(v["from"], [])):
                try:
                    return json_pointer(body, v["pointer"])
                except (KeyError, IndexError, ValueError, TypeError):
                    continue
            if "fallback" not in v:
                raise LookupError("no answer of %s to take %s from" % (v["from"], name))
            used_fallback.append("%s (no %s%s to take it from)" % (name, v["from"], v["pointer"]))
            return v["fallback"]
        if isinstance(v, str):
            return v.replace("{run}", self.run_id)
        return v

    @staticmethod
    def qs(value):
        if value is True:
            return "true"
        if value is False:
            return "false"
        return str(value)

    def build(self, path, op, ex):
        """Resolves an example into (target, headers, body, fallbacks)."""
        fallbacks = []
        target = path
        for k, v in (ex.get("path") or {}).items():
            val = self.value(v, k, fallbacks)
            target = target.replace("{%s}" % k, urllib.parse.quote(str(val), safe=""))
        if "{" in target:
            raise LookupError("path parameters not given in x-hsi-example: %s" % target)
        pairs = []
        for k, v in (ex.get("query") or {}).items():
            val = self.value(v, k, fallbacks)
            for item in (val if isinstance(val, list) else [val]):
                pairs.append((k, self.qs(item)))
        if pairs:
            target += "?" + urllib.parse.urlencode(pairs)
        headers = {}
        for k, v in (ex.get("headers") or {}).items():
            headers[k] = self.qs(self.value(v, k, fallbacks))
        body = None
        if "body" in ex:
            ct = ex.get("content_type", "application/json")
            headers["Content-Type"] = ct + ("; charset=utf-8" if ct.startswith("text/") else "")
            b = ex["body"]
            body = (json.dumps(b, ensure_ascii=False) if ct == "application/json" else b).encode("utf-8")
        return target, headers, body, fallbacks

    def auth(self, headers, role):
        if role and role != "none":
            tok = self.tokens.get(role)
            if tok:
                headers["Authorization"] = "Bearer " + tok
        return headers

    @staticmethod
    def not_implemented(method, reply):
        if reply.status == 405:
            allow = [a.strip().upper() for a in (reply.header("allow") or "").split(",")]
            return method not in allow
        if reply.status == 404 and reply.media_type == "application/problem+json":
            j = reply.json if reply.json is not None else reply.parse_json()
            if isinstance(j, dict):
                return (str(j.get("type", "")).endswith("/no-route")
                        or str(j.get("detail", "")).startswith("nothing at "))
        return False

    def check_reply(self, name, op, reply, expect_body=True):
        """Status declared, Content-Type declared, required headers,
        schema. Returns the declared response (or None)."""
        if reply.error:
            fail("%s: no answer (%s)" % (name, reply.error))
            return None
        declared = op.get("responses", {})
        resp = declared.get(str(reply.status)) or declared.get("%dXX" % (reply.status // 100))
        if resp is None:
            detail = ""
            if reply.media_type in JSON_TYPES and reply.parse_json() is not None:
                detail = ": " + json.dumps(reply.json, ensure_ascii=False)[:300]
            fail("%s: status %d is not declared (declared: %s)%s"
                 % (name, reply.status, ", ".join(sorted(declared)), detail))
            return None
        resp = self.spec.deref(resp)
        good = True
        for hname, h in (resp.get("headers") or {}).items():
            h = self.spec.deref(h)
            val = reply.header(hname)
            if val is None:
                if h.get("required"):
                    fail("%s: %d without required header %s" % (name, reply.status, hname))
                    good = False
                continue
            schema = h.get("schema", {})
            inst = val
            if schema.get("type") == "integer":
                try:
                    inst = int(val)
                except ValueError:
                    pass
            errs = self.spec.errors(schema, inst)
            if errs:
                fail("%s: header %s %r: %s" % (name, hname, val, errs[0]))
                good = False
        content = resp.get("content") or {}
        if not content:
            if reply.body:
                fail("%s: %d must have no body, got %d bytes" % (name, reply.status, len(reply.body)))
                return None
            if good:
                ok("%s: %d" % (name, reply.status))
            return resp
        if reply.media_type not in content:
            fail("%s: %d with Content-Type %r, declared: %s"
                 % (name, reply.status, reply.header("content-type"), ", ".join(content)))
            return None
        media = content[reply.media_type]
        schema = media.get("schema")
        if reply.media_type in JSON_TYPES or reply.media_type.endswith("+json"):
            if reply.parse_json() is None and reply.json_error:
                fail("%s: %d body is not JSON (%s): %r" % (name, reply.status, reply.json_error, reply.body[:200]))
                return None
            errs = self.spec.errors(schema, reply.json) if schema else []
            if errs:
                fail("%s: %d body does not match the schema:\n        %s"
                     % (name, reply.status, "\n        ".join(errs[:8])))
                return None
        else:
            try:
                reply.body.decode("utf-8")
            except UnicodeDecodeError:
                fail("%s: %d %s body is not UTF-8" % (name, reply.status, reply.media_type))
                return None
        if good:
            ok("%s: %d %s valid" % (name, reply.status, reply.media_type))
        return resp

    # -- one operation
    def run_op(self, path, method, op):
        key = "%s %s" % (method, path)
        oid = op.get("operationId", key)
        exs = examples_of(op)
        if not exs:
            self.outcome[key] = "no x-hsi-example in the contract"
            fail("%s (%s): no x-hsi-example, not exercised" % (key, oid))
            return
        for i, ex in enumerate(exs):
            label = "%s (%s%s)" % (key, oid, ", " + ex["name"] if ex.get("name") else "")
            if ex.get("write") and self.skip_writes:
                self.outcome.setdefault(key, "skipped: --skip-writes")
                warn("%s: write skipped (--skip-writes)" % label)
                continue
            try:
                target, headers, body, fallbacks = self.build(path, op, ex)
            except LookupError as e:
                self.outcome.setdefault(key, "not exercised: %s" % e)
                warn("%s: not exercised: %s" % (label, e))
                continue
            role = ex.get("as", "viewer")
            self.auth(headers, role)
            if "text/event-stream" in (self.spec.deref(op["responses"].get("200", {})).get("content") or {}):
                self.run_stream(label, key, method, op, ex, target, headers)
                continue
            headers.setdefault("Accept", self.accept_for(op))
            reply = self.client.request(method, target, headers, body)
            if self.not_implemented(method, reply):
                self.outcome.setdefault(key, "not implemented (%d)" % reply.status)
                self.missing("%s: %d, not implemented" % (label, reply.status))
                return
            resp = self.check_reply(label, op, reply)
            self.outcome[key] = "exercised"
            expect = ex.get("expect") or min(
                (int(s) for s in op["responses"] if s.isdigit() and s.startswith("2")), default=200)
            if reply.status != expect:
                why = ""
                if reply.json is not None:
                    why = ": " + json.dumps(reply.json, ensure_ascii=False)[:300]
                if fallbacks and reply.status == 404:
                    warn("%s: %d with a placeholder for %s; exercised only on a missing resource%s"
                         % (label, reply.status, ", ".join(fallbacks), why))
                else:
                    fail("%s: expected %d for a valid request, got %d%s" % (label, expect, reply.status, why))
                continue
            if resp is None:
                continue
            if reply.json is not None:
                self.answers.setdefault(oid, []).append(reply.json)
            if ex.get("poll_until") and reply.status == 200:
                self.poll(label, op, ex, target, headers, reply)
            if method == "GET" and 200 <= reply.status < 300:
                self.extras(label, path, op, ex, target, headers, reply, role)
            elif method != "GET" and role != "none":
                self.check_no_token(label, op, method, target, headers, body)

    def accept_for(self, op):
        ok_resp = self.spec.deref(op["responses"].get("200") or op["responses"].get("202")
                                  or op["responses"].get("201") or {})
        types = list((ok_resp.get("content") or {}).keys())
        if "application/json" in types or not types:
            return "application/json, application/problem+json"
        return types[0] + ", application/problem+json"

    def poll(self, label, op, ex, target, headers, reply):
        p = ex["poll_until"]
        end = time.time() + p.get("seconds", 20)
        cur = reply
        while True:
            try:
                v = json_pointer(cur.json, p["pointer"])
            except (KeyError, IndexError, TypeError):
                v = None
            if v is not None:
                ok("%s: %s arrived" % (label, p["pointer"]))
                return
            if time.time() > end:
                fail("%s: %s still null after %ss" % (label, p["pointer"], p.get("seconds", 20)))
                return
            time.sleep(0.5)
            cur = self.client.request("GET", target, headers)
            if self.check_reply(label + " (poll)", op, cur) is None or cur.status != 200:
                return

    def extras(self, label, path, op, ex, target, headers, reply, role):
        resp200 = self.spec.deref(op["responses"].get(str(reply.status), {}))
        # ETag -> 304
        if "304" in op["responses"] and reply.status == 200:
            etag = reply.header("etag")
            if not etag:
                self.missing("%s: no ETag on a cached read (304 declared): not implemented" % label)
            else:
                h = dict(headers)
                h["If-None-Match"] = etag
                r = self.client.request("GET", target, h)
                if r.status == 200:
                    self.missing("%s: If-None-Match %s answered 200, not 304: not implemented" % (label, etag))
                elif r.status == 304:
                    self.check_reply(label + " If-None-Match", op, r)
                    if r.header("etag") != etag:
                        fail("%s: 304 carries ETag %r, not %r" % (label, r.header("etag"), etag))
                else:
                    fail("%s: If-None-Match answered %d" % (label, r.status))
        # CSV
        if "text/csv" in (resp200.get("content") or {}):
            self.check_csv(label, op, ex, target, headers)
        # pagination
        if isinstance(reply.json, dict) and reply.json.get("next_cursor"):
            if not reply.header("link"):
                warn("%s: next_cursor without a Link header" % label)
            sep = "&" if "?" in target else "?"
            nxt = target + sep + urllib.parse.urlencode({"cursor": reply.json["next_cursor"]})
            r = self.client.request("GET", nxt, headers)
            if self.check_reply(label + " next page", op, r) and r.status != 200:
                fail("%s: next page answered %d" % (label, r.status))
        # unknown query parameter
        if path.startswith("/v1/"):
            sep = "&" if "?" in target else "?"
            r = self.client.request("GET", target + sep + "zz_contract=1", headers)
            if r.status == 400 and self.check_reply(label + " unknown parameter", op, r):
                if not isinstance(r.json, dict) or r.json.get("parameter") != "zz_contract":
                    fail("%s: the 400 for an unknown parameter does not name it (parameter=%r)"
                         % (label, (r.json or {}).get("parameter") if isinstance(r.json, dict) else None))
            elif r.status != 400:
                fail("%s: unknown query parameter zz_contract answered %d, not 400" % (label, r.status))
        # no token
        if role != "none" and ("401" in op["responses"]) and (
                self.private_reads or {} not in op.get("security", self.spec.doc.get("security", []))):
            h = {k: v for k, v in headers.items() if k != "Authorization"}
            r = self.client.request("GET", target, h)
            if r.status != 401:
                fail("%s: without a token answered %d, not 401" % (label, r.status))
            else:
                self.check_reply(label + " without token", op, r)

    def check_no_token(self, label, op, method, target, headers, body):
        if "401" not in op["responses"]:
            return
        h = {k: v for k, v in headers.items() if k not in ("Authorization", "Idempotency-Key")}
        r = self.client.request(method, target, h, body)
        if r.status != 401:
            fail("%s: without a token answered %d, not 401" % (label, r.status))
        else:
            self.check_reply(label + " without token", op, r)

    def check_csv(self, label, op, ex, target, headers):
        h = dict(headers)
        h["Accept"] = "text/csv, application/problem+json"
        h.pop("If-None-Match", None)
        r = self.client.request("GET", target, h)
        if r.status == 200 and r.media_type == "application/json":
            self.missing("%s: Accept: text/csv answered application/json: CSV not implemented" % label)
            return
        if self.check_reply(label + " text/csv", op, r) is None or r.status != 200:
            if r.status != 200:
                fail("%s: Accept: text/csv answered %d" % (label, r.status))
            return
        cols = op.get("x-hsi-csv-columns")
        if isinstance(cols, dict):
            cols = cols.get(str((ex.get("query") or {}).get("by", "agency")))
        try:
            rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        except csv.Error as e:
            fail("%s: CSV does not parse: %s" % (label, e))
            return
        if not rows:
            fail("%s: CSV has no header row" % label)
        elif cols and rows[0] != cols:
            fail("%s: CSV header %s, contract says %s" % (label, rows[0], cols))
        elif any(len(row) != len(rows[0]) for row in rows[1:]):
            fail("%s: CSV rows with another field count than the header" % label)
        else:
            ok("%s: CSV, %d rows, header as declared" % (label, len(rows) - 1))

    def run_stream(self, label, key, method, op, ex, target, headers):
        headers.setdefault("Accept", "text/event-stream")
        reply, events, err = self.client.stream(target, headers, ex.get("stream_seconds", 2))
        if reply.status != 200 or reply.body:
            if self.not_implemented(method, reply):
                self.outcome.setdefault(key, "not implemented (%d)" % reply.status)
                self.missing("%s: %d, not implemented" % (label, reply.status))
                return
            self.check_reply(label, op, reply)
            self.outcome[key] = "exercised"
            if reply.status != 200:
                fail("%s: expected 200, got %d" % (label, reply.status))
            return
        self.outcome[key] = "exercised"
        if not self.check_reply(label, op, reply):
            return
        if err:
            fail("%s: %s" % (label, err))
        kinds = op.get("x-hsi-sse-events", {})
        bad = 0
        for ev in events:
            name = ev.get("event", "message")
            if name not in kinds:
                fail("%s: event %r is not declared (declared: %s)" % (label, name, ", ".join(kinds)))
                bad += 1
                continue
            if "id" in ev and not re.match(r"^s[0-9]+\.a[0-9]+$", ev["id"]):
                fail("%s: event id %r is not s<seq>.a<seq>" % (label, ev["id"]))
                bad += 1
            try:
                data = json.loads("\n".join(ev["data"]))
            except ValueError as e:
                fail("%s: %s event data is not JSON: %s" % (label, name, e))
                bad += 1
                continue
            errs = self.spec.errors(kinds[name], data)
            if errs:
                fail("%s: %s event data: %s" % (label, name, "; ".join(errs[:4])))
                bad += 1
        if not bad:
            ok("%s: stream open, %d events valid" % (label, len(events)))

    def check_metrics(self):
        """Prometheus text exposition, line by line."""
        for path, method, op, _ in self.spec.operations():
            if op.get("operationId") != "getMetrics" or self.outcome.get("%s %s" % (method, path)) != "exercised":
                continue
            r = self.client.request("GET", path, {"Accept": "text/plain"})
            if r.status != 200:
                return
            sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                                r'[-+]?([0-9.eE+-]+|NaN|Inf)( -?[0-9]+)?$')
            comment = re.compile(r'^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]*( .*)?$|^#')
            bad = [l for l in r.body.decode("utf-8", "replace").splitlines()
                   if l and not (sample.match(l) or comment.match(l))]
            if bad:
                fail("GET %s: not Prometheus text: %r" % (path, bad[:3]))
            else:
                ok("GET %s: Prometheus text" % path)

    def order(self):
        ops = list(self.spec.operations())
        ids = [op.get("operationId") for _, _, op, _ in ops]

        def deps(op):
            out = set()
            for ex in examples_of(op):
                for part in ("path", "query", "headers"):
                    for v in (ex.get(part) or {}).values():
                        if isinstance(v, dict) and "from" in v:
                            out.add(v["from"])
            return out
        done, result = set(), []
        pending = list(ops)
        while pending:
            progress = False
            for item in list(pending):
                d = deps(item[2]) & set(ids)
                if d <= done | {item[2].get("operationId")}:
                    result.append(item)
                    done.add(item[2].get("operationId"))
                    pending.remove(item)
                    progress = True
            if not progress:
                result.extend(pending)
                break
        return result

    def run(self):
        for path, method, op, _ in self.order():
            self.run_op(path, method, op)
        self.check_metrics()
        # coverage: every operation, every path
        not_done = [(k, v) for k, v in self.outcome.items() if v != "exercised"]
        all_ops = ["%s %s" % (m, p) for p, m, _, _ in self.spec.operations()]
        for k in all_ops:
            if k not in self.outcome:
                not_done.append((k, "not exercised"))
        paths_done = {k.split(" ", 1)[1] for k, v in self.outcome.items() if v == "exercised"}
        print("\n%d of %d operations exercised, %d of %d paths"
              % (len(all_ops) - len(not_done), len(all_ops), len(paths_done),
                 len(self.spec.doc.get("paths", {}))))
        if not_done:
            print("operations not exercised:")
            for k, why in not_done:
                print("  %-45s %s" % (k, why))
        return not_done


# --------------------------------------------------------- the environment

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_for(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


class Env:
    """A private system: PostgreSQL, scorer, alerter, two nodes, hsi-api."""

    def __init__(self, build, src):
        self.build, self.src, self.procs = build, src, []
        self.bin = {n: os.path.join(build, "services", d, n) for d, n in [
            ("scorer", "hsi-scorer"), ("ingest", "hsi-ingest"),
            ("alerter", "hsi-alerter"), ("api", "hsi-api"), ("hsictl", "hsictl")]}
        for n, p in self.bin.items():
            if not os.access(p, os.X_OK):
                raise SystemExit("missing %s (build first): %s" % (n, p))
        self.tmp = tempfile.mkdtemp(prefix="hsi-contract-")
        os.chmod(self.tmp, 0o755)
        self.pg_dir = os.path.join(self.tmp, "pg")
        self.pg_sh = os.path.join(src, "scripts", "pg.sh")
        self.url = None

    def psql(self, sql):
        return subprocess.run(["psql", self.url, "-At", "-c", sql], check=True,
                              capture_output=True, text=True).stdout.strip()

    def ctl(self, *args):
        return subprocess.run([self.bin["hsictl"]] + list(args) + ["--db-url", self.url],
                              capture_output=True, text=True, timeout=120)

    def start_api(self, scorer_url=None):
        """hsi-api on a free port, sending submissions to the scorer (or
        to scorer_url) as a node would; its log is appended to across
        restarts (submit_test.py kills and restarts it)."""
        log = self.start("hsi-api", [self.bin["hsi-api"], "--db-url", self.url,
            "--listen", "127.0.0.1:0", "--events-url", self.events_url,
            "--alerts-url", self.alerts_url, "--scorer-url", scorer_url or self.ingest_url,
            "--public-reads", "false"])
        self.api_proc = self.procs[-1]
        return log

    def start(self, name, argv):
        log = open(os.path.join(self.tmp, name + ".log"), "a")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return os.path.join(self.tmp, name + ".log")

    def write(self, rel, text):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def up(self):
        self.url = subprocess.run(["bash", self.pg_sh, "start", self.pg_dir], check=True,
                                  capture_output=True, text=True).stdout.strip()
        db = ["--db-url", self.url]
        for args in (["migrate"], ["catalog", "load", os.path.join(self.src, "tests", "e2e", "catalog.csv")]):
            r = self.ctl(*args)
            if r.returncode != 0:
                raise RuntimeError("hsictl %s: %s" % (" ".join(args), r.stderr[-400:]))
        ingest = "tcp://127.0.0.1:%d" % free_port()
        events = "tcp://127.0.0.1:%d" % free_port()
        alerts = "tcp://127.0.0.1:%d" % free_port()
        slog = self.start("hsi-scorer", [self.bin["hsi-scorer"]] + db + [
            "--ingest-listen", ingest, "--events-listen", events])
        self.scorer_proc = self.procs[-1]
        wait_for(lambda: '"msg":"ready"' in read(slog), 60, "scorer ready")
        alog = self.start("hsi-alerter", [self.bin["hsi-alerter"]] + db + [
            "--events-url", events, "--alerts-listen", alerts])
        wait_for(lambda: '"msg":"started"' in read(alog), 60, "alerter started")
        self.ingest_url, self.events_url, self.alerts_url = ingest, events, alerts
        plog = self.start_api()

        def api_url():
            for line in read(plog).splitlines():
                if '"msg":"listening"' in line:
                    try:
                        return json.loads(line)["url"]
                    except (ValueError, KeyError):
                        return None
            return None
        self.base = wait_for(api_url, 60, "hsi-api listening")
        # Two agencies' data, 2023 and 2024, four provinces: enough dimensions
        # (4 of 7 >= min_coverage 0.5) for composites, a change between the
        # years, and composites under 0.45 (96, 55) for the built-in alert.
        cdd = ["indicator,area,period,value,status,note"]
        dla = ["indicator,area,period,value"]
        vals = {"10": (80, 82, 75, 2, 40), "50": (60, 62, 50, 5, 25),
                "55": (50, 40, 50, 6, 20), "96": (40, 38, 40, 8, 10)}
        for area, (h23, h24, liv, eco, edu) in vals.items():
            for year, h in ((2023, h23), (2024, h24)):
                be = year + 543
                cdd.append("t_health,%s,%d,%d,A," % (area, be, h))
                cdd.append("t_econ,%s,%d,%d,A," % (area, year, eco + (year - 2023)))
                for q in range(1, 5):
                    cdd.append("t_living,%s,%dQ%d,%d,A," % (area, year, q, liv))
                dla.append("t_edu,%s,%d,%d" % (area, year, edu))
        self.write("CDD/inbox/CDD.csv", "\n".join(cdd) + "\n")
        self.write("DLA/inbox/DLA.csv", "\n".join(dla) + "\n")
        for ag in ("CDD", "DLA"):
            key = os.path.join(self.tmp, ag + ".key")
            r = self.ctl("key", "rotate", ag, "--out", key)
            if r.returncode != 0:
                raise RuntimeError("hsictl key rotate %s: %s" % (ag, r.stderr[-300:]))
            r = subprocess.run([self.bin["hsi-ingest"], "--agency", ag, "--node-id", ag + "-n1",
                                "--key-file", key, "--inbox", os.path.join(self.tmp, ag, "inbox"),
                                "--scorer-url", ingest, "--events-url", events, "--once", "true"],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("%s node did not deliver: %s" % (ag, r.stderr[-400:]))
        self.tokens = {role: self.token(role, label) for role, label in (
            ("admin", "contract-admin"), ("agency", "contract-cdd"), ("viewer", "contract-viewer"))}
        client = Client(self.base)
        hdr = {"Authorization": "Bearer " + self.tokens["viewer"]}

        def scored():
            r = client.request("GET", "/v1/index?period=2024", hdr)
            if r.status != 200 or r.parse_json() is None:
                return None
            prov = {p.get("area"): p for p in r.json.get("provinces", [])}
            return prov.get("96", {}).get("composite") is not None
        wait_for(scored, 60, "scores of 2024 served by hsi-api")
        try:
            wait_for(lambda: self.psql("SELECT count(*) FROM alert WHERE state = 'firing'") not in ("", "0"),
                     30, "an alert firing")
        except RuntimeError as e:
            warn("environment: %s; the alert operations will use placeholders" % e)
        return self.base, self.tokens

    def token(self, role, label):
        """hsictl token create (it prints only the token, hsi_<64 hex>),
        or, where that command does not exist yet, a row inserted by hand:
        32 random bytes, stored as their SHA-256."""
        real = "agency:CDD" if role == "agency" else role
        r = self.ctl("token", "create", "--role", real, "--label", label)
        if r.returncode == 0:
            m = re.search(r"(hsi_)?[0-9a-f]{64}", r.stdout)
            if m:
                return m.group(0)
        # Bare hex: what hsi-api accepted before the hsi_ prefix, and
        # still accepts (docs/tokens.md).
        raw = os.urandom(32)
        self.psql("INSERT INTO api_token (sha256, role, label) VALUES "
                  "(decode('%s', 'hex'), '%s', '%s')"
                  % (hashlib.sha256(raw).hexdigest(), real, label))
        return raw.hex()

    def down(self, show_logs, keep):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["bash", self.pg_sh, "destroy", self.pg_dir], capture_output=True)
        if show_logs:
            for name in ("hsi-api", "hsi-scorer", "hsi-alerter"):
                text = read(os.path.join(self.tmp, name + ".log"))
                if text:
                    print("---- %s.log (tail)\n%s" % (name, text[-2000:]))
        if keep:
            print("kept " + self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------- main

def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("source_dir")
    ap.add_argument("--base-url", help="check this running server instead of starting one")
    ap.add_argument("--allow-missing", action="store_true",
                    help="operations and features not implemented yet are warnings")
    ap.add_argument("--skip-writes", action="store_true",
                    help="do not send POST/DELETE examples (for a server whose data matter)")
    ap.add_argument("--token", action="append", default=[], metavar="ROLE=TOKEN",
                    help="token for a role of the examples: admin, agency, viewer")
    ap.add_argument("--private-reads", action="store_true",
                    help="with --base-url: the server runs with public_reads off, so reads without a token must be 401")
    ap.add_argument("--spec", help="the contract (default SOURCE_DIR/openapi.yaml)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--verbose", "-v", action="store_true", help="print passing checks too")
    args = ap.parse_args()
    VERBOSE = args.verbose
    spec = Spec(args.spec or os.path.join(args.source_dir, "openapi.yaml"))
    check_spec(spec)
    env = None
    try:
        if args.base_url:
            tokens = {r: os.environ.get("HSI_TOKEN_" + r.upper()) for r in ("admin", "agency", "viewer")}
            for t in args.token:
                role, _, tok = t.partition("=")
                if role not in ("admin", "agency", "viewer") or not tok:
                    ap.error("--token takes admin=HEX, agency=HEX or viewer=HEX")
                tokens[role] = tok
            base, private = args.base_url, args.private_reads
        else:
            env = Env(args.build_dir, args.source_dir)
            try:
                base, tokens = env.up()
            except (RuntimeError, subprocess.CalledProcessError) as e:
                fail("environment: %s" % e)
                raise SystemExit(1)
            private = True
            print("hsi-api at %s" % base, flush=True)
        runner = Runner(spec, Client(base), tokens, args.allow_missing,
                        args.skip_writes, private)
        runner.run()
    finally:
        if env is not None:
            env.down(show_logs=failed > 0 and VERBOSE, keep=args.keep)
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
