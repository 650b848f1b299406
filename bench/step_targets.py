"""`make bench`, part 2: the step at the memory limit, call overheads and compact optimizer state
(float32 vs bfloat16 vs 8-bit Adam state at 10M params),
as ratios against peers measured in the same run.

Peers: bench/adam_peer.c (built by `make bench` as build/bench/libadam_peer.so with gcc -O3
-march=native -fno-math-errno -fopenmp): a one-pass Adam loop and a one-pass SGD-momentum loop
over the same float32 arrays descent updates, all cores (single-thread rows: OMP_NUM_THREADS=1 and
DESCENT_NUM_THREADS=1, in a child process). Raw C call costs come from build/bench/overhead
(bench/overhead.c).

Timing: rounds interleave the variants (peer, descent checked, descent proceed, ...); each round
times a block of steps; the figure is the median over rounds of the per-step time, so a burst of
load on this shared machine hits every variant alike.
"""
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
import descent  # noqa: E402
from descent import functional, optim  # noqa: E402
from descent._ffi import lib  # noqa: E402

sys.path.insert(0, HERE)
from run import load_peer  # noqa: E402  (bench/run.py: the C peers, with their argument types)

OVERHEAD = os.path.join(ROOT, "build", "bench", "overhead")
LR = 1e-3


def interleaved(variants, rounds, block):
    """variants: {name: fn}; returns {name: median seconds per call}."""
    for fn in variants.values():
        fn()
        fn()
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(block):
                fn()
            samples[name].append((time.perf_counter() - start) / block)
    return {name: statistics.median(values) for name, values in samples.items()}


def step_rows(n, peer, rounds, label):
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    m, v, b = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    counter = [0]

    def adam_peer():
        counter[0] += 1
        peer.adam_peer_step(p.ctypes.data, g.ctypes.data, m.ctypes.data, v.ctypes.data, n, LR, 0.9, 0.999, 1e-8,
                            counter[0])

    def momentum_peer():
        peer.momentum_peer_step(p.ctypes.data, g.ctypes.data, b.ctypes.data, n, LR, 0.9)

    adam_check, adam_proceed = optim.Adam([p], lr=LR), optim.Adam([p], lr=LR, nonfinite="proceed")
    sgd_check = optim.SGD([p], lr=LR, momentum=0.9)
    sgd_proceed = optim.SGD([p], lr=LR, momentum=0.9, nonfinite="proceed")
    for opt in (adam_check, adam_proceed, sgd_check, sgd_proceed):
        opt.grads[0][...] = g
    block = max(3, int(2e7 // (n * 28)))
    t = interleaved({"adam C": adam_peer, "adam check": adam_check.step, "adam proceed": adam_proceed.step,
                     "momentum C": momentum_peer, "momentum check": sgd_check.step,
                     "momentum proceed": sgd_proceed.step}, rounds, block)
    rows = []
    for rule, bytes_per_param in (("adam", 28), ("momentum", 20)):
        peer_t = t[f"{rule} C"]
        rows.append((f"{rule} C loop (gcc -O3 -march=native)", label, n, peer_t, bytes_per_param, None))
        for kind, extra in (("check", 4), ("proceed", 0)):
            seconds = t[f"{rule} {kind}"]
            rows.append((f"{rule} descent ({kind})", label, n, seconds, bytes_per_param + extra, peer_t / seconds))
    for opt in (adam_check, adam_proceed, sgd_check, sgd_proceed):
        opt.close()
    return rows


def compact_rows(n, rounds):
    """10M-parameter Adam step with float32, bfloat16 and 8-bit state (issue 9, item 4), under the
    default policy (raise: + 4 bytes of gradient scan) and proceed, interleaved in one run."""
    rng = np.random.default_rng(2)
    p0 = rng.standard_normal(n).astype(np.float32)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    variants, keep = {}, []
    for policy in ("raise", "proceed"):
        for state in ("full", "bfloat16", "int8"):
            p = p0.copy()
            opt = optim.Adam([p], lr=LR, nonfinite=policy, state_dtype=state)
            opt.grads[0][...] = g
            keep.append((opt, p))
            variants[(policy, state)] = opt.step
    t = interleaved(variants, rounds, block=5)
    state_bytes = {state: opt.state_bytes for (opt, _), (_, state) in zip(keep, variants)}
    for opt, _ in keep:
        opt.close()
    traffic = {"full": 28, "bfloat16": 20, "int8": 16}
    print(f"{'Adam state':<26} {'policy':>8} {'us/step':>10} {'GB/s':>7} {'state MB':>9} {'vs fp32':>8}")
    for policy in ("raise", "proceed"):
        for state in ("full", "bfloat16", "int8"):
            seconds = t[(policy, state)]
            moved = n * (traffic[state] + (4 if policy == "raise" else 0))
            ratio = t[(policy, "full")] / seconds
            print(f"{state:<26} {policy:>8} {seconds * 1e6:10.1f} {moved / seconds / 1e9:7.1f} "
                  f"{state_bytes[state] / 1e6:9.1f} {ratio:7.2f}x")
    print("targets: bfloat16 state >= 1.25x the fp32-state step, int8 >= 1.4x (10M params)")


def print_rows(rows):
    for name, label, n, seconds, bytes_moved, of_c in rows:
        share = f"{100 * of_c:6.0f}%" if of_c is not None else "     -"
        print(f"{name:<38} {label:>8} {n:>11,} {seconds * 1e6:10.1f} {n * bytes_moved / seconds / 1e9:7.1f} {share}")


def single_thread_child():
    peer = load_peer()
    rows = []
    for n in (10 ** 6, 10 ** 7):
        rows += step_rows(n, peer, rounds=7, label="1 thread")
    print_rows(rows)


def overheads():
    """Python call costs next to the raw C figures of build/bench/overhead."""
    raw = {}
    if os.path.exists(OVERHEAD):
        out = subprocess.run([OVERHEAD], capture_output=True, text=True, check=True).stdout
        for line in out.split("\n"):
            if line.strip():
                key, value = line.split()
                raw[key] = float(value)
    rng = np.random.default_rng(1)
    params = [np.ones(100, np.float32) for _ in range(10)]
    opt = optim.Adam(params, lr=LR)
    for grad in opt.grads:
        grad[...] = rng.standard_normal(100).astype(np.float32) * 1e-3
    handle = opt._handle
    step_c = lib.descent_optimizer_step
    p, g = np.ones(100, np.float32), np.full(100, 1e-3, np.float32)
    m, v, b = np.zeros(100, np.float32), np.zeros(100, np.float32), np.zeros(100, np.float32)
    t = interleaved({"step": opt.step, "ctypes step": lambda: step_c(handle, None),
                     "adam": lambda: functional.adam(p, g, m, v, step=1),
                     "sgd": lambda: functional.sgd(p, g, b, step=2, momentum=0.9)}, rounds=9, block=20000)
    opt.close()
    path = "descent._accel" if descent.accelerated() else "ctypes alone (DESCENT_NO_ACCEL or no descent._accel)"
    print(f"Python call path: {path}")
    print(f"{'call':<52} {'Python us':>10} {'raw C us':>9} {'gap us':>7} {'target':>8}")
    for label, python_key, c_key, target in (
            ("Optimizer.step(), Adam, 10 tensors x 100", "step", "step10x100", 1.0),
            ("functional.adam, 100 elements", "adam", "adam100", 3.0),
            ("functional.sgd (momentum), 100 elements", "sgd", "sgd100", 3.0)):
        c_us = raw.get(c_key, float("nan"))
        py_us = t[python_key] * 1e6
        print(f"{label:<52} {py_us:10.2f} {c_us:9.2f} {py_us - c_us:7.2f} {'<= ' + str(target):>8}")
    print(f"{'(ctypes call of descent_optimizer_step alone)':<52} {t['ctypes step'] * 1e6:10.2f}")
    print(f"raw C step of 10 tensors x 100 elements: {raw.get('step10x100', float('nan')):.2f} us (target < 1 us)")


def main():
    peer = load_peer()
    print(f"descent step bench: float32, {os.cpu_count()} CPUs, kernels {descent.isa()} "
          f"(available: {', '.join(descent.available_isas())}); medians of interleaved rounds")
    print(f"{'case':<38} {'threads':>8} {'params':>11} {'us/step':>10} {'GB/s':>7} {'of C':>7}")
    rows = []
    for n in (10 ** 6, 10 ** 7):
        rows += step_rows(n, peer, rounds=9, label="all")
    print_rows(rows)
    env = dict(os.environ, DESCENT_NUM_THREADS="1", OMP_NUM_THREADS="1")
    child = subprocess.run([sys.executable, os.path.abspath(__file__), "--single-thread"], env=env,
                           capture_output=True, text=True)
    sys.stdout.write(child.stdout)
    if child.returncode != 0:
        sys.stdout.write(child.stderr)
    print("targets: default >= 85% of the C loop (>= 80% at 1M), proceed >= 100% (>= 95% at 1M);"
          " single thread proceed >= 100%.")
    print()
    compact_rows(10 ** 7, rounds=9)
    print()
    overheads()


if __name__ == "__main__":
    if "--single-thread" in sys.argv:
        single_thread_child()
    else:
        main()
