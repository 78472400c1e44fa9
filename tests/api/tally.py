"""tally.py: the counted checks of the API tests.

check(cond, what) counts a passed or failed check and prints what failed;
equal and valid (an instance against a schema of the contract, after
use_spec) are checks too. The counts are tally.passed and tally.failed;
a test exits 0 only when tally.failed is 0.
"""
passed = failed = 0
_spec = None


def use_spec(spec):
    """The contract_test.Spec that valid() checks against."""
    global _spec
    _spec = spec


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


def equal(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


def valid(instance, schema, what):
    errs = _spec.errors({"$ref": "#/components/schemas/" + schema}, instance)
    return check(not errs, "%s is not a valid %s: %s" % (what, schema, errs[:3]))
