"""`make bench` (training part): one epoch of a 784-256-10 MLP (ReLU, softmax cross-entropy, Adam
lr 1e-3, batch 128, 60,000 synthetic float32 samples, shuffled) trained with descent's
one-call-per-step path, against a hand-written NumPy implementation of the same network (same
initial weights, same batches) and PyTorch eager when importable, all in one process under the
machine's own BLAS settings. Also: the per-step cost of the Python call over the raw C call.

Run alone: PYTHONPATH=python python3 bench/mlp_epoch.py [--quick]
"""
import ctypes
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import descent  # noqa: E402
from descent._ffi import lib  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import LR, NumpyAdam  # noqa: E402

SAMPLES, FEATURES, HIDDEN, CLASSES, BATCH = 60_000, 784, 256, 10, 128


def data(samples):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, FEATURES), dtype=np.float32)
    teacher = rng.standard_normal((FEATURES, CLASSES), dtype=np.float32)
    y = np.argmax(x @ teacher, axis=1).astype(np.int64)
    return x, y


class NumpyMLP:
    """The same network in plain NumPy: in-place Adam, no input gradient for the first layer."""

    def __init__(self, params):
        self.params = [p.copy() for p in params]  # W1 (256, 784), b1, W2 (10, 256), b2
        self.optimizer = NumpyAdam(self.params)  # bench/run.py's in-place NumPy Adam

    def step(self, x, y):
        W1, b1, W2, b2 = self.params
        z1 = x @ W1.T
        z1 += b1
        h = np.maximum(z1, 0)
        z2 = h @ W2.T
        z2 += b2
        z2 -= z2.max(axis=1, keepdims=True)
        np.exp(z2, out=z2)
        z2 /= z2.sum(axis=1, keepdims=True)              # softmax probabilities
        rows = np.arange(len(y))
        loss = -np.log(z2[rows, y]).mean()
        z2[rows, y] -= 1
        z2 /= len(y)                                      # dL/dz2
        grads = [None, None, z2.T @ h, z2.sum(axis=0)]
        dh = z2 @ W2
        dh *= z1 > 0
        grads[0] = dh.T @ x
        grads[1] = dh.sum(axis=0)
        self.optimizer.step(grads)
        return loss


def blas_report():
    lines = []
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("internal_api") in ("openblas", "mkl", "blis"):
                lines.append(f"{pool['prefix']} {pool.get('version')} kernel={pool.get('architecture')} "
                             f"threads={pool.get('num_threads')} ({os.path.basename(pool['filepath'])})")
    except ImportError:
        lines.append("threadpoolctl not installed: NumPy's BLAS not introspected")
    lines.append("descent uses: " + descent.blas_name())
    lines.append(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    return lines


def main(quick=False):
    samples = 6_000 if quick else SAMPLES
    x, y = data(samples)
    model = descent.MLP([FEATURES, HIDDEN, CLASSES], seed=0)
    initial = [p.copy() for p in model.parameters()]
    reference = NumpyMLP(initial)
    optimizer = descent.optim.Adam(model.parameters(), lr=LR)
    loader = descent.DataLoader(x, y, batch_size=BATCH, shuffle=True, seed=0, dtype=np.float32)
    trainer = descent.Trainer(model, optimizer)
    batches = len(loader)

    # One warm-up epoch each (plans, BLAS buffers, page faults), then timed epochs, best of R.
    loader.set_epoch(0)
    epoch_batches = [loader.batch_indices(b).copy() for b in range(batches)]
    rounds = 1 if quick else 3

    def descent_epoch():
        for b in range(batches):
            trainer.step_batch(loader, b)

    def numpy_epoch():
        for idx in epoch_batches:
            reference.step(x[idx], y[idx])

    # Same first step, same numbers: the two implementations agree before timing anything.
    first_descent = trainer.step_batch(loader, 0)[0]
    first_numpy = reference.step(x[epoch_batches[0]], y[epoch_batches[0]])
    agree = abs(first_descent - first_numpy) <= 1e-5 * abs(first_numpy)

    times = {"descent": [], "numpy": []}
    for _ in range(rounds):  # interleaved rounds: both see the same machine load
        start = time.perf_counter()
        descent_epoch()
        times["descent"].append(time.perf_counter() - start)
        start = time.perf_counter()
        numpy_epoch()
        times["numpy"].append(time.perf_counter() - start)
    torch_time = None
    try:
        import torch
        torch_time = torch_epoch(torch, initial, x, y, epoch_batches, rounds)
    except ImportError:
        pass

    print(f"MLP {FEATURES}-{HIDDEN}-{CLASSES} ReLU, softmax CE, Adam lr {LR}, batch {BATCH}, "
          f"{samples} float32 samples ({batches} steps/epoch); best of {rounds} interleaved epochs")
    for line in blas_report():
        print("  BLAS: " + line)
    d, n = min(times["descent"]), min(times["numpy"])
    print(f"  first-step loss: descent {first_descent:.6f}, NumPy {first_numpy:.6f} ({'agree' if agree else 'DIFFER'})")
    print(f"  {'descent one-call step (Trainer.step_batch)':46s} {d:8.3f} s/epoch  {d / n:5.2f}x NumPy time "
          f"(runs: {', '.join(f'{t:.3f}' for t in times['descent'])})")
    print(f"  {'NumPy hand-written':46s} {n:8.3f} s/epoch  (runs: {', '.join(f'{t:.3f}' for t in times['numpy'])})")
    if torch_time is not None:
        print(f"  {'PyTorch eager':46s} {torch_time:8.3f} s/epoch  {d / torch_time:5.2f}x (descent / torch)")
    else:
        print("  PyTorch: not importable, no row")
    overhead()


def torch_epoch(torch, initial, x, y, epoch_batches, rounds):
    W1, b1, W2, b2 = (torch.tensor(p, requires_grad=True) for p in initial)
    opt = torch.optim.Adam([W1, b1, W2, b2], lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for idx in epoch_batches:
            i = torch.from_numpy(idx)
            logits = torch.relu(xt[i] @ W1.T + b1) @ W2.T + b2
            loss = torch.nn.functional.cross_entropy(logits, yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        best = min(best, time.perf_counter() - start)
    return best


def overhead():
    """Per-step cost of the Python wrapper over the raw C call, on a tiny model (batch 4)."""
    x, y = data(64)
    x = np.ascontiguousarray(x[:, :8])
    model = descent.MLP([8, 4, 10], seed=0)
    optimizer = descent.optim.SGD(model.parameters(), lr=1e-3)
    loader = descent.DataLoader(x, y, batch_size=4, shuffle=False, dtype=np.float32)
    trainer = descent.Trainer(model, optimizer)
    raw = lib.descent_trainer_step_batch
    raw_function = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int64,
                                    ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
        ctypes.cast(raw, ctypes.c_void_p).value)
    loss, correct, skipped = ctypes.c_double(), ctypes.c_int64(), ctypes.c_int32()
    args = (trainer.handle, loader.handle, 0, ctypes.addressof(loss), ctypes.addressof(correct), ctypes.addressof(skipped))
    reps = 20000

    def timed(fn):
        fn()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            best = min(best, (time.perf_counter() - start) / reps)
        return best * 1e6

    python_us = timed(lambda: trainer.step_batch(loader, 0))
    raw_us = timed(lambda: raw_function(*args))
    print(f"  per-step call overhead (8-4-10 MLP, batch 4): Trainer.step_batch {python_us:.2f} us, raw C call "
          f"through ctypes {raw_us:.2f} us -> Python wrapper adds {python_us - raw_us:.2f} us")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
