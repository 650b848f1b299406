"""`make stress`'s hostile C ABI calls: test_abi_fuzz.py's generator scaled to a call count, with
the changed-on-reject check on. Prints one summary line and exits non-zero on any crash, hang,
misbehaviour or rejected call that changed an object.

    python stress_abi_fuzz.py [calls=1000000]

Runs as a plain script (not under pytest): DESCENT_FUZZ_CALLS and DESCENT_FUZZ_CHECK_UNCHANGED
are set here before test_abi_fuzz is imported, and inherited by its child processes.
DESCENT_STRESS_PLANT=1 is the harness's own test: batch 0's child dies like a Swift trap at call
37, and every 1000th rejected call of batch 1 has a tensor it was given changed behind its back;
both must be reported."""
import os
import sys
import time

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
os.environ["DESCENT_FUZZ_CALLS"] = str(calls)
os.environ["DESCENT_FUZZ_CHECK_UNCHANGED"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_harness  # noqa: E402
import test_abi_fuzz  # noqa: E402


def main():
    started = time.monotonic()
    plant = os.environ.get("DESCENT_STRESS_PLANT") == "1"
    batches = test_abi_fuzz.BATCHES
    script = test_abi_fuzz.__file__
    timeout = test_abi_fuzz.CHILD_TIMEOUT

    def run(batch):
        extra = {}
        if plant and batch == 0:
            extra["DESCENT_FUZZ_SELF_TEST_TRAP"] = "37"
        if plant and batch == 1:
            extra["DESCENT_FUZZ_SELF_TEST_CHANGE"] = "1"
        return fuzz_harness.run_logged_batch(script, batch, timeout, extra_env=extra)

    from concurrent.futures import ThreadPoolExecutor
    total, checked, crashes, hangs, changed, other = 0, 0, 0, 0, 0, 0
    failures = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for report, failure in pool.map(run, range(batches)):
            if failure is not None:
                failures.append(failure)
                if " hung " in failure:
                    hangs += 1
                else:
                    crashes += 1
                continue
            counts = report["counts"]
            total += sum(v for k, v in counts.items() if not k.startswith("__"))
            checked += counts.get("__rejections_checked__", 0)
            for line in report["misbehaviour"]:
                failures.append(line)
                if "but changed" in line:
                    changed += 1
                else:
                    other += 1
    for line in failures[:10]:
        print(line, file=sys.stderr)
    ok = crashes == 0 and hangs == 0 and changed == 0 and other == 0 and total >= calls
    print(f"stress: hostile C ABI calls: {total:,} calls in {batches} child processes, {crashes} crashes, {hangs} hangs, "
          f"{changed} changed-on-reject ({checked:,} rejected calls checked), {other} other misbehaviour "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
