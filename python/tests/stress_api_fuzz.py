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
    total, checked, crashes, hangs = tally["total"], tally["checked"], tally["crashes"], tally["hangs"]
    changed, other, failures, results = tally["changed"], tally["other"], tally["failures"], tally["results"]
    counts = fuzz_harness.totals(results, "counts")
    succeeded = fuzz_harness.totals(results, "succeeded")
    never = sorted(key for key in counts if not succeeded.get(key) and key not in test_api_fuzz.NEVER_SUCCEED)
    seconds, slowest = fuzz_harness.slowest_call(results)
    for line in failures[:10]:
        print(line, file=sys.stderr)
    if never:
        print(f"never succeeded: {never}", file=sys.stderr)
    ok = crashes == 0 and hangs == 0 and changed == 0 and other == 0 and total >= calls and not never \
        and seconds < fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN
    print(f"stress: hostile Python API calls: {total:,} calls of {len(counts)} targets in {batches} child processes, "
          f"{crashes} crashes, {hangs} hangs (stall {fuzz_harness.STALL_SECONDS} s), {changed} changed-on-failure "
          f"({checked:,} rejected calls checked), {other} other misbehaviour, {len(never)} targets never succeeded "
          f"(besides {len(test_api_fuzz.NEVER_SUCCEED)} by design); slowest call {seconds:.2f} s "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    if seconds >= fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN:
        print(f"  the slowest call is within {fuzz_harness.STALL_MARGIN}x of the stall limit: {slowest}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
