#!/usr/bin/python3
"""Static checks of docker-compose.yml (no Docker engine needed).

Checks that the deployment topology is complete and that everything the
compose file points at exists in the repository:
  - services postgres, scorer, alerter, api and at least two ingest-* nodes;
  - every build context and Dockerfile exists;
  - every secret a service uses is declared at the top level, and every
    declared secret is a file (under deploy/secrets/, not committed);
  - every depends_on target is a service;
  - every file mounted from deploy/ (volumes or configs) exists.

Usage: tests/compose_test.py [REPO_ROOT]   (default: HSI_SOURCE_DIR or the
folder above this file). Prints "N passed, 0 failed"; exits 1 on failure.
Needs Debian's python3-yaml, hence /usr/bin/python3.
"""

import os
import sys

try:
    import yaml
except ImportError:
    sys.exit("compose_test: python3-yaml is missing "
             "(apt-get install python3-yaml; run with /usr/bin/python3)")

ROOT = os.path.abspath(
    sys.argv[1] if len(sys.argv) > 1 else
    os.environ.get("HSI_SOURCE_DIR") or
    os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
COMPOSE = os.path.join(ROOT, "docker-compose.yml")

passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL: " + what)


def rel(path):
    """A compose path (relative to the compose file's folder) in the repo."""
    return os.path.normpath(os.path.join(ROOT, path))


def as_list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def main():
    try:
        with open(COMPOSE, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print("FAIL: cannot read %s: %s" % (COMPOSE, e))
        print("0 passed, 1 failed")
        return 1
    check(isinstance(doc, dict), "docker-compose.yml is a mapping")
    services = doc.get("services") or {}
    check(isinstance(services, dict) and services,
          "docker-compose.yml has services")
    declared_secrets = doc.get("secrets") or {}
    declared_configs = doc.get("configs") or {}
    declared_volumes = doc.get("volumes") or {}

    for name in ("postgres", "scorer", "alerter", "api"):
        check(name in services, "service %r is defined" % name)
    nodes = sorted(s for s in services if s.startswith("ingest-"))
    check(len(nodes) >= 2,
          "at least two ingest-* nodes (found %s)" % (nodes or "none"))

    for sname, svc in sorted(services.items()):
        where = "service %s" % sname
        check(isinstance(svc, dict), where + " is a mapping")
        if not isinstance(svc, dict):
            continue
        check("image" in svc or "build" in svc,
              where + " has an image or a build")

        build = svc.get("build")
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            ctx = rel(build.get("context", "."))
            check(os.path.isdir(ctx),
                  "%s: build context %s exists" % (where, ctx))
            dockerfile = os.path.join(ctx, build.get("dockerfile",
                                                     "Dockerfile"))
            check(os.path.isfile(dockerfile),
                  "%s: dockerfile %s exists" % (where, dockerfile))

        for s in as_list(svc.get("secrets")):
            src = s.get("source") if isinstance(s, dict) else s
            check(src in declared_secrets,
                  "%s: secret %r is declared under secrets:" % (where, src))

        for c in as_list(svc.get("configs")):
            src = c.get("source") if isinstance(c, dict) else c
            check(src in declared_configs,
                  "%s: config %r is declared under configs:" % (where, src))

        deps = svc.get("depends_on") or []
        for d in (deps.keys() if isinstance(deps, dict) else deps):
            check(d in services and d != sname,
                  "%s: depends_on %r is another service" % (where, d))

        for v in as_list(svc.get("volumes")):
            if isinstance(v, dict):
                vtype = v.get("type", "volume")
                src = v.get("source", "")
            else:
                src = str(v).split(":", 1)[0]
                vtype = "bind" if src.startswith((".", "/", "~")) \
                    else "volume"
            if vtype == "bind":
                path = rel(src)
                if path == rel("deploy") or \
                        path.startswith(rel("deploy") + os.sep):
                    check(os.path.exists(path),
                          "%s: mounted %s exists in the repo" % (where, src))
            elif vtype == "volume" and src:
                check(src in declared_volumes,
                      "%s: volume %r is declared under volumes:"
                      % (where, src))

        if sname.startswith("ingest-"):
            check(svc.get("secrets"),
                  "%s: an agency node has its key and certificate as "
                  "secrets" % where)

    for cname, c in sorted(declared_configs.items()):
        f = (c or {}).get("file")
        if f:
            check(os.path.isfile(rel(f)),
                  "config %s: file %s exists in the repo" % (cname, f))

    for sname, s in sorted(declared_secrets.items()):
        s = s or {}
        check("file" in s or "external" in s or "environment" in s,
              "secret %s has a source (file:)" % sname)
        f = s.get("file")
        if f:
            check(rel(f).startswith(rel("deploy/secrets") + os.sep),
                  "secret %s lives under deploy/secrets/ (got %s)"
                  % (sname, f))

    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
