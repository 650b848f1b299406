"""Child-process plumbing shared by the fuzzers (test_abi_fuzz.py, test_api_fuzz.py).

A fuzz batch runs as ``sys.executable <script> <batch> <log> [only]`` in a child process, so a
crash is a return code and a hang a stall rather than a dead pytest. The child logs every call
before making it (one ``index<TAB>description`` line) and ends with ``DONE<TAB><json report>``;
when it dies or hangs, the last logged call is replayed alone in a fresh child so the failure
names the call and says whether it fails on its own.

A hang is a child that logs nothing new for STALL_SECONDS: one call taking that long. A batch's
total time is not limited (it grows with the machine's load: two batches share two cores with
whatever else runs), so a slow machine no longer reads as a hang. STALL_SECONDS is sized from
measurement: every child reports its slowest call, and the fuzzers' tests assert that call stays
below STALL_SECONDS / STALL_MARGIN (a call that becomes slow is reported as such, by name, instead
of as a flaky hang).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

STALL_SECONDS = 60     # no new call logged for this long: the child hangs
STALL_MARGIN = 10      # the slowest call measured must stay this many times below it
BATCH_CAP_SECONDS = 1800  # a safety net for a child that keeps logging forever


def cap_address_space(limit):
    """Caps the calling process's virtual memory, so a huge allocation fails (MemoryError or the
    library's OutOfMemoryError) instead of paging the machine to death."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def run_child(script, batch, log_path, only=None, extra_env=None, stall=None):
    """Runs ``script batch log_path [only]`` with this process's descent package and library;
    returns (returncode or "timeout", stderr text). "timeout": nothing new was logged for
    `stall` seconds (STALL_SECONDS by default)."""
    import descent
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(descent.__file__)))
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    env["DESCENT_LIBRARY"] = descent._ffi.library_path
    command = [sys.executable, os.path.abspath(script), str(batch), log_path]
    if only is not None:
        command.append(str(only))
    stall = STALL_SECONDS if stall is None else stall
    with tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        started = last_change = time.monotonic()
        size = -1
        while child.poll() is None:
            time.sleep(0.05)
            now = time.monotonic()
            current = os.path.getsize(log_path) if os.path.exists(log_path) else 0
            if current != size:
                size, last_change = current, now
            if now - last_change > stall or now - started > BATCH_CAP_SECONDS:
                child.kill()
                child.wait()
                return "timeout", _tail(stderr)
        return child.returncode, _tail(stderr)


def _tail(handle):
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def read_log(log_path):
    with open(log_path, "rb") as handle:
        return handle.read().decode("utf-8", "replace").splitlines()


def run_logged_batch(script, batch, extra_env=None, stall=None):
    """Runs one batch; returns (the child's report dict, None) or (None, a failure description
    naming the last call logged before the child died or hung)."""
    with tempfile.TemporaryDirectory() as scratch:
        log_path = os.path.join(scratch, "log")
        code, stderr = run_child(script, batch, log_path, extra_env=extra_env, stall=stall)
        lines = read_log(log_path) if os.path.exists(log_path) else []
        if code == 0 and lines and lines[-1].startswith("DONE\t"):
            return json.loads(lines[-1][5:]), None
        last = lines[-1] if lines else "(no call logged)"
        head = last.split("\t")[0]
        index = int(head) if "\t" in last and head.isdigit() else None
        alone = ""
        if index is not None:
            again, _ = run_child(script, batch, log_path + ".alone", only=index, extra_env=extra_env, stall=stall)
            alone = (" It crashes on its own too (returncode %s)." % again) if again != 0 else \
                " Alone in a fresh process it does not crash: earlier calls of the batch set it up."
        what = f"hung (nothing logged for {stall or STALL_SECONDS} s)" if code == "timeout" else \
            f"died with returncode {code}"
        return None, f"batch {batch}: the child {what} at call {last!r}.{alone}\nstderr tail: {stderr[-1500:]}"


def finish_log(log, counts, succeeded, misbehaviour, **extra):
    """Child side: writes the closing DONE report that run_logged_batch looks for, and closes."""
    report = {"counts": counts, "succeeded": succeeded, "misbehaviour": misbehaviour, **extra}
    os.write(log, ("DONE\t" + json.dumps(report) + "\n").encode())
    os.close(log)


def run_batch(script, batch, extra_env=None, stall=None):
    """Parent side: runs one batch; returns (its report: "counts", "succeeded", "slowest" and
    what else the child reported, list of failure descriptions)."""
    report, failure = run_logged_batch(script, batch, extra_env=extra_env, stall=stall)
    if failure is not None:
        return {"counts": {}, "succeeded": {}}, [failure]
    return report, report["misbehaviour"]


_batch_results = {}


def all_batches(script, batches):
    """{batch: (report, failures)} for batches 0..batches-1 of `script`, run two at a time once
    per test session and cached."""
    if script not in _batch_results:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = pool.map(lambda batch: run_batch(script, batch), range(batches))
            _batch_results[script] = dict(zip(range(batches), results))
    return _batch_results[script]


def stress_batches(run, batches):
    """Runs `run(batch)` (returning run_logged_batch's (report, failure)) for every batch, two at a
    time, and tallies what make stress's fuzz figures report: a dict with total (calls made),
    checked (rejected calls the unchanged-on-failure oracle watched), crashes, hangs, changed
    (rejected calls that changed something), other (other misbehaviour), failures (their lines,
    each distinct line of a batch once) and results ({batch: (report, misbehaviour)})."""
    from concurrent.futures import ThreadPoolExecutor
    tally = dict(total=0, checked=0, crashes=0, hangs=0, changed=0, other=0, failures=[], results={})
    with ThreadPoolExecutor(max_workers=2) as pool:
        for batch, (report, failure) in enumerate(pool.map(run, range(batches))):
            if failure is not None:
                tally["failures"].append(failure)
                tally["hangs" if " hung " in failure else "crashes"] += 1
                continue
            tally["results"][batch] = (report, report["misbehaviour"])
            tally["total"] += sum(report["counts"].values())
            tally["checked"] += report.get("checked", 0)
            for line in dict.fromkeys(report["misbehaviour"]):
                tally["failures"].append(line)
                tally["changed" if "but changed" in line else "other"] += 1
    return tally


def stress_verdict(tally, calls, never, summary):
    """The end of both make-stress fuzz figures: prints up to 10 misbehaviour lines of `tally`
    (stress_batches) and the targets in `never` (those that never succeeded) to stderr, then the
    figure's line `summary(seconds of the slowest call)`, and a warning when that call came within
    STALL_MARGIN of the stall limit. Returns the exit status: 0 when no batch crashed, hung or
    misbehaved, at least `calls` calls were made, every target succeeded and no call was slow."""
    seconds, slowest = slowest_call(tally["results"])
    for line in tally["failures"][:10]:
        print(line, file=sys.stderr)
    if never:
        print(f"never succeeded: {never}", file=sys.stderr)
    slow = seconds >= STALL_SECONDS / STALL_MARGIN
    ok = not (tally["crashes"] or tally["hangs"] or tally["changed"] or tally["other"] or never or slow) \
        and tally["total"] >= calls
    print(summary(seconds), flush=True)
    if slow:
        print(f"  the slowest call is within {STALL_MARGIN}x of the stall limit: {slowest}", flush=True)
    return 0 if ok else 1


def totals(results, key):
    """The per-target sums of report[key] ("counts" or "succeeded") over every batch."""
    summed = {}
    for report, _failures in results.values():
        for target, count in report.get(key, {}).items():
            summed[target] = summed.get(target, 0) + count
    return summed


def slowest_call(results):
    """(seconds, call) of the slowest single call any batch reported."""
    return max((tuple(report["slowest"]) for report, _f in results.values() if report.get("slowest")),
               default=(0.0, "(none)"))
