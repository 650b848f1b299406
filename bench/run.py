"""`make bench`: optimizer step throughput, descent vs NumPy (and torch / optax when importable)
vs a one-pass C Adam loop (bench/adam_peer.c, gcc -O3 -march=native -fno-math-errno -fopenmp,
all cores) over the same float32 arrays. Timings are the best of several repeats (the machine is
shared, so medians are noisy); GB/s counts the bytes a one-pass update must move:
SGD 12 B/param (read p, g; write p), momentum 20 B (read p, g, b; write p, b), Adam 28 B
(read p, g, m, v; write p, m, v).

descent's default step also scans the gradients for NaN/inf first (policy "raise": one more read
of g, 4 B/param) - rows marked "check" include it, rows marked "proceed" skip it.
"""
import ctypes
import os
import sys
import time

import numpy as np

# The OpenMP peer must not spin-wait between its steps: on a shared 2-core machine its idle
# threads would steal the cores descent's steps run on (libgomp reads this when it loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import descent  # noqa: E402
from descent import optim  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(ROOT, "build", "bench", "libadam_peer.so")
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def best_time(fn, min_total=0.3, min_reps=3, max_reps=200):
    fn()  # warm up (page faults, thread start)
    times, total = [], 0.0
    while (total < min_total or len(times) < min_reps) and len(times) < max_reps:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        total += elapsed
    return min(times)


class NumpyAdam:
    """In-place NumPy Adam (no temporaries beyond two scratch arrays)."""

    def __init__(self, params):
        self.params = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.scratch = [(np.empty_like(p), np.empty_like(p)) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - B1 ** self.t, 1 - B2 ** self.t
        for p, g, m, v, (a, b) in zip(self.params, grads, self.m, self.v, self.scratch):
            m *= B1
            np.multiply(g, 1 - B1, out=a)
            m += a
            v *= B2
            np.multiply(g, g, out=a)
            a *= 1 - B2
            v += a
            np.sqrt(v, out=b)
            b *= 1 / np.sqrt(c2)
            b += EPS
            np.divide(m, b, out=a)
            a *= LR / c1
            p -= a


def numpy_sgd(p, g, lr=LR):
    p -= lr * g


class NumpyMomentum:
    def __init__(self, p):
        self.b = np.zeros_like(p)
        self.first = True

    def step(self, p, g):
        if self.first:
            self.b[...] = g
            self.first = False
        else:
            self.b *= 0.9
            self.b += g
        p -= LR * self.b


def load_peer():
    if not os.path.exists(PEER):
        return None
    lib = ctypes.CDLL(PEER)
    fp = ctypes.POINTER(ctypes.c_float)
    lib.adam_peer_step.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64, ctypes.c_double, ctypes.c_double,
                                                          ctypes.c_double, ctypes.c_double, ctypes.c_int64]
    lib.adam_peer_step.restype = None
    lib.momentum_peer_step.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int64, ctypes.c_double, ctypes.c_double]
    lib.momentum_peer_step.restype = None
    del fp
    return lib


def row(name, n, seconds, bytes_per_param, reference=None, peer=None):
    gbs = n * bytes_per_param / seconds / 1e9
    ratio_np = f"{reference / seconds:7.1f}x" if reference else "      -"
    ratio_c = f"{100 * peer / seconds:6.0f}%" if peer else "     -"
    print(f"{name:<34} {n:>10,} {seconds * 1e6:12.1f} {gbs:8.2f} {ratio_np} {ratio_c}")


def descent_rows(name, optimizer, g, n, t_np, bytes_per_param, t_c=None):
    """Times `optimizer.step` with the default non-finite check and with "proceed" (owned grads
    filled once), prints both rows and closes the optimizer."""
    optimizer.grads[0][...] = g
    t_check = best_time(optimizer.step)
    optimizer.nonfinite = "proceed"
    t_proceed = best_time(optimizer.step)
    optimizer.close()
    row(f"{name} descent (check)", n, t_check, bytes_per_param, t_np, t_c)
    row(f"{name} descent (proceed)", n, t_proceed, bytes_per_param, t_np, t_c)


def main():
    peer = load_peer()
    threads = os.environ.get("DESCENT_NUM_THREADS") or os.cpu_count()
    print(f"descent optimizer bench: float32, {os.cpu_count()} CPUs, descent threads {threads}, "
          f"C peer {'built' if peer else 'MISSING (run via make bench)'}")
    for name in ("torch", "optax"):
        try:
            __import__(name)
            print(f"  {name}: importable, but no peer row is implemented in this bench")
        except ImportError:
            print(f"  {name}: not installed (no peer row)")
    print(f"{'case':<34} {'params':>10} {'us/step':>12} {'GB/s':>8} {'vs NumPy':>8} {'of C':>6}")
    rng = np.random.default_rng(0)
    for n in (10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6, 10 ** 7):
        p = rng.standard_normal(n).astype(np.float32)
        g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
        # SGD
        t_np = best_time(lambda: numpy_sgd(p, g))
        row("sgd numpy", n, t_np, 12)
        descent_rows("sgd", optim.SGD([p], lr=LR), g, n, t_np, 12)
        # momentum
        ref = NumpyMomentum(p)
        t_np = best_time(lambda: ref.step(p, g))
        row("momentum numpy", n, t_np, 20)
        descent_rows("momentum", optim.SGD([p], lr=LR, momentum=0.9), g, n, t_np, 20)
        # Adam
        ref = NumpyAdam([p])
        t_np = best_time(lambda: ref.step([g]))
        m, v = np.zeros_like(p), np.zeros_like(p)
        counter = [0]

        def peer_step():
            counter[0] += 1
            peer.adam_peer_step(p.ctypes.data, g.ctypes.data, m.ctypes.data, v.ctypes.data, n, LR, B1, B2, EPS,
                                counter[0])
        t_c = best_time(peer_step) if peer else None
        row("adam numpy", n, t_np, 28)
        if t_c:
            row("adam C loop (gcc -O3 -fopenmp)", n, t_c, 28, t_np)
        descent_rows("adam", optim.Adam([p], lr=LR), g, n, t_np, 28, t_c)
        del p, g, m, v
    print()
    print("many small tensors, one Adam step from Python (step() with owned grads; one C call):")
    print(f"{'case':<34} {'params':>10} {'us/step':>12} {'GB/s':>8} {'vs NumPy':>8} {'1 tensor':>8}")
    for count, size in ((200, 4096), (1000, 256)):
        params = [rng.standard_normal(size).astype(np.float32) for _ in range(count)]
        grads = [(rng.standard_normal(size) * 1e-3).astype(np.float32) for _ in range(count)]
        total = count * size
        ref = NumpyAdam(params)
        t_np = best_time(lambda: ref.step(grads))
        opt = optim.Adam(params, lr=LR)
        for mine, g in zip(opt.grads, grads):
            mine[...] = g
        t_many = best_time(opt.step)
        t_list = best_time(lambda: opt.step(grads))  # caller's own arrays (identity-cached binding)
        opt.close()
        one = rng.standard_normal(total).astype(np.float32)
        single = optim.Adam([one], lr=LR)
        single.grads[0][...] = 1e-3
        t_one = best_time(single.step)
        single.close()
        label = f"{count} x {size}"
        print(f"{'adam numpy ' + label:<34} {total:>10,} {t_np * 1e6:12.1f} {total * 28 / t_np / 1e9:8.2f}")
        for name, t in (("adam descent " + label, t_many), ("adam descent " + label + " (list)", t_list)):
            print(f"{name:<34} {total:>10,} {t * 1e6:12.1f} {total * 28 / t / 1e9:8.2f} {t_np / t:7.1f}x "
                  f"{t / t_one:7.2f}x")
        print(f"{'adam descent 1 x ' + str(total):<34} {total:>10,} {t_one * 1e6:12.1f} {total * 28 / t_one / 1e9:8.2f}")
    print("\n'1 tensor' = time of the many-tensor step / time of one tensor with the same element count "
          "(target <= 2x).")


if __name__ == "__main__":
    main()
    print("\n== training: one MLP epoch (bench/mlp_epoch.py)")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mlp_epoch  # noqa: E402
    mlp_epoch.main()
