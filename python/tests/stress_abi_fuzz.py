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
    from descent import _ffi
    succeeded = fuzz_harness.totals(tally["results"], "succeeded")
    never = sorted(name for name, _r, _a in _ffi.FUNCTIONS
                   if not succeeded.get(name) and name not in test_abi_fuzz.NEVER_SUCCEED)
    return fuzz_harness.stress_verdict(tally, calls, never, lambda seconds: (
        f"stress: hostile C ABI calls: {tally['total']:,} calls of {len(_ffi.FUNCTIONS)} functions in {batches} child "
        f"processes, {tally['crashes']} crashes, {tally['hangs']} hangs (stall {fuzz_harness.STALL_SECONDS} s), "
        f"{tally['changed']} changed-on-failure ({tally['checked']:,} failing calls checked), {tally['other']} other "
        f"misbehaviour, {len(never)} functions never succeeded; slowest call {seconds:.2f} s "
        f"({time.monotonic() - started:.0f} s)"))

if __name__ == "__main__":
    sys.exit(main())
