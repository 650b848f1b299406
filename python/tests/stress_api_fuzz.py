"""`make stress`'s hostile Python API calls: test_api_fuzz.py's generator scaled to a call count,
with its oracles: no crash, no hang (a child that logs no call for fuzz_harness.STALL_SECONDS), no
exception from inside the package other than the allowed types, and every rejected call leaving
its receiver and arguments unchanged -- checked on EVERY call here
(DESCENT_API_FUZZ_ORACLE_EVERY=1; `make test` checks every 2nd). Prints one summary line and exits
non-zero on any failure, or when a target outside NEVER_SUCCEED never succeeded.

    python stress_api_fuzz.py [calls=300000]

DESCENT_STRESS_PLANT=1 is the harness's own test: batch 0's child hangs at call 31 (found by the
stall limit) and at one watched call of batch 1 the receiver is changed before the call raises;
both must be reported."""
import os
import sys
import time

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
# About 6% of generated calls are not made (a receiver or argument the batch cannot build then,
# e.g. a state_dict of a closed object): generate 10% more so at least `calls` are made.
os.environ["DESCENT_API_FUZZ_CALLS"] = str(calls + calls // 10)
os.environ["DESCENT_API_FUZZ_ORACLE_EVERY"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_harness  # noqa: E402
import test_api_fuzz  # noqa: E402


def main():
    started = time.monotonic()
    plant = os.environ.get("DESCENT_STRESS_PLANT") == "1"
    batches = test_api_fuzz.BATCHES
    script = test_api_fuzz.__file__

    def run(batch):
        extra, stall = {}, None
        if plant and batch == 0:
            extra["DESCENT_API_FUZZ_SELF_TEST"], stall = "hang:31", 5
        if plant and batch == 1:
            extra["DESCENT_API_FUZZ_SELF_TEST"] = f"mutate:{test_api_fuzz.oracle_self_test_index(1)}"
        return fuzz_harness.run_logged_batch(script, batch, extra_env=extra, stall=stall)

    tally = fuzz_harness.stress_batches(run, batches)
    counts = fuzz_harness.totals(tally["results"], "counts")
    succeeded = fuzz_harness.totals(tally["results"], "succeeded")
    never = sorted(key for key in counts if not succeeded.get(key) and key not in test_api_fuzz.NEVER_SUCCEED)
    return fuzz_harness.stress_verdict(tally, calls, never, lambda seconds: (
        f"stress: hostile Python API calls: {tally['total']:,} calls of {len(counts)} targets in {batches} child "
        f"processes, {tally['crashes']} crashes, {tally['hangs']} hangs (stall {fuzz_harness.STALL_SECONDS} s), "
        f"{tally['changed']} changed-on-failure ({tally['checked']:,} rejected calls checked), {tally['other']} other "
        f"misbehaviour, {len(never)} targets never succeeded (besides {len(test_api_fuzz.NEVER_SUCCEED)} by design); "
        f"slowest call {seconds:.2f} s ({time.monotonic() - started:.0f} s)"))

if __name__ == "__main__":
    sys.exit(main())
