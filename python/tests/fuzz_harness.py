"""Child-process plumbing shared by the fuzzers (test_abi_fuzz.py, test_api_fuzz.py).

A fuzz batch runs as ``sys.executable <script> <batch> <log> [only]`` in a child process, so a
crash is a return code and a hang a timeout rather than a dead pytest. The child logs every call
before making it (one ``index<TAB>description`` line) and ends with ``DONE<TAB><json report>``;
when it dies or hangs, the last logged call is replayed alone in a fresh child so the failure
names the call and says whether it fails on its own.
"""
import json
import os
import subprocess
import sys
import tempfile


def cap_address_space(limit):
    """Caps the calling process's virtual memory, so a huge allocation fails (MemoryError or the
    library's OutOfMemoryError) instead of paging the machine to death."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def run_child(script, batch, log_path, timeout, only=None, extra_env=None):
    """Runs ``script batch log_path [only]`` with this process's descent package and library;
    returns (returncode or "timeout", stderr text)."""
    import descent
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(descent.__file__)))
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    env["DESCENT_LIBRARY"] = descent._ffi.library_path
    command = [sys.executable, os.path.abspath(script), str(batch), log_path]
    if only is not None:
        command.append(str(only))
    try:
        done = subprocess.run(command, env=env, capture_output=True, timeout=timeout)
        return done.returncode, done.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", ""


def read_log(log_path):
    with open(log_path, "rb") as handle:
        return handle.read().decode("utf-8", "replace").splitlines()


def run_logged_batch(script, batch, timeout, extra_env=None):
    """Runs one batch; returns (the child's report dict, None) or (None, a failure description
    naming the last call logged before the child died or hung)."""
    with tempfile.TemporaryDirectory() as scratch:
        log_path = os.path.join(scratch, "log")
        code, stderr = run_child(script, batch, log_path, timeout, extra_env=extra_env)
        lines = read_log(log_path) if os.path.exists(log_path) else []
        if code == 0 and lines and lines[-1].startswith("DONE\t"):
            return json.loads(lines[-1][5:]), None
        last = lines[-1] if lines else "(no call logged)"
        head = last.split("\t")[0]
        index = int(head) if "\t" in last and head.isdigit() else None
        alone = ""
        if index is not None:
            again, _ = run_child(script, batch, log_path + ".alone", timeout, only=index, extra_env=extra_env)
            alone = (" It crashes on its own too (returncode %s)." % again) if again != 0 else \
                " Alone in a fresh process it does not crash: earlier calls of the batch set it up."
        what = "hung" if code == "timeout" else f"died with returncode {code}"
        return None, f"batch {batch}: the child {what} at call {last!r}.{alone}\nstderr tail: {stderr[-1500:]}"


def finish_log(log, counts, succeeded, misbehaviour):
    """Child side: writes the closing DONE report that run_logged_batch looks for, and closes."""
    report = {"counts": counts, "succeeded": succeeded, "misbehaviour": misbehaviour}
    os.write(log, ("DONE\t" + json.dumps(report) + "\n").encode())
    os.close(log)


def run_batch(script, batch, timeout, extra_env=None):
    """Parent side: runs one batch; returns (per-target call counts, list of failure descriptions)."""
    report, failure = run_logged_batch(script, batch, timeout, extra_env=extra_env)
    if failure is not None:
        return {}, [failure]
    return report["counts"], report["misbehaviour"]


_batch_results = {}


def all_batches(script, batches, timeout):
    """{batch: (counts, failures)} for batches 0..batches-1 of `script`, run two at a time once
    per test session and cached."""
    if script not in _batch_results:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = pool.map(lambda batch: run_batch(script, batch, timeout), range(batches))
            _batch_results[script] = dict(zip(range(batches), results))
    return _batch_results[script]
