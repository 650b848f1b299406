"""`make stress`'s hostile C ABI calls: test_abi_fuzz.py's generator scaled to a call count, with its
oracles: no crash, no hang (a child that logs no call for fuzz_harness.STALL_SECONDS), nothing but
a DescentError raised, and every failing call leaving what it touched unchanged -- checked on
EVERY call here (DESCENT_FUZZ_ORACLE_EVERY=1; `make test` checks every 2nd). Prints one summary
line and exits non-zero on any crash, hang, misbehaviour or failing call that changed an object,
or when a function never succeeded.

    python stress_abi_fuzz.py [calls=1000000]

Runs as a plain script (not under pytest): DESCENT_FUZZ_CALLS and DESCENT_FUZZ_ORACLE_EVERY are set
here before test_abi_fuzz is imported, and inherited by its child processes.
DESCENT_STRESS_PLANT=1 is the harness's own test: batch 0's child dies like a Swift trap at call
37, and at one watched call of batch 1 a tensor the call was given is changed before the call
fails; both must be reported."""
import os
import sys
import time

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
os.environ["DESCENT_FUZZ_CALLS"] = str(calls)
os.environ["DESCENT_FUZZ_ORACLE_EVERY"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_harness  # noqa: E402
import test_abi_fuzz  # noqa: E402


def main():
    started = time.monotonic()
    plant = os.environ.get("DESCENT_STRESS_PLANT") == "1"
    batches = test_abi_fuzz.BATCHES
    script = test_abi_fuzz.__file__

    def run(batch):
        extra = {}
        if plant and batch == 0:
            extra["DESCENT_FUZZ_SELF_TEST_TRAP"] = "37"
        if plant and batch == 1:
            extra["DESCENT_FUZZ_SELF_TEST_MUTATE"] = str(test_abi_fuzz.oracle_self_test_index(1))
        return fuzz_harness.run_logged_batch(script, batch, extra_env=extra)

    tally = fuzz_harness.stress_batches(run, batches)
    total, checked, crashes, hangs = tally["total"], tally["checked"], tally["crashes"], tally["hangs"]
    changed, other, failures, results = tally["changed"], tally["other"], tally["failures"], tally["results"]
    from descent import _ffi
    succeeded = fuzz_harness.totals(results, "succeeded")
    never = sorted(name for name, _r, _a in _ffi.FUNCTIONS
                   if not succeeded.get(name) and name not in test_abi_fuzz.NEVER_SUCCEED)
    seconds, slowest = fuzz_harness.slowest_call(results)
    for line in failures[:10]:
        print(line, file=sys.stderr)
    if never:
        print(f"never succeeded: {never}", file=sys.stderr)
    ok = crashes == 0 and hangs == 0 and changed == 0 and other == 0 and total >= calls and not never \
        and seconds < fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN
    print(f"stress: hostile C ABI calls: {total:,} calls of {len(_ffi.FUNCTIONS)} functions in {batches} child "
          f"processes, {crashes} crashes, {hangs} hangs (stall {fuzz_harness.STALL_SECONDS} s), {changed} "
          f"changed-on-failure ({checked:,} failing calls checked), {other} other misbehaviour, "
          f"{len(never)} functions never succeeded; slowest call {seconds:.2f} s "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    if seconds >= fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN:
        print(f"  the slowest call is within {fuzz_harness.STALL_MARGIN}x of the stall limit: {slowest}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
