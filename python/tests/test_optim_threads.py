"""Determinism across thread counts and safety under concurrent Python threads."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np

import descent
from descent import optim
from test_optim_checkpoint import PACKAGE_PARENT, python_executable

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {package!r})
    import numpy as np
    from descent import optim, functional as F
    rng = np.random.default_rng(3)
    big = rng.standard_normal(400_000).astype(np.float32)     # several threads' worth of work
    smalls = [rng.standard_normal(3000) for _ in range(100)]  # work split across tensor boundaries
    opt = optim.Adam([big] + smalls, lr=1e-2, amsgrad=True)
    for t in range(5):
        opt.step([rng.standard_normal(big.shape).astype(np.float32)] + [rng.standard_normal(3000) for _ in smalls])
    w, m, v = rng.standard_normal(300_000), np.zeros(300_000), np.zeros(300_000)
    for t in range(1, 4):
        F.rmsprop(w, rng.standard_normal(300_000), m, None, v, t, momentum=0.9)
    np.savez(sys.argv[1], big=big, smalls=np.concatenate(smalls), w=w)
""")


def test_results_are_bit_identical_for_1_and_many_threads(tmp_path):
    outputs = []
    for threads in ("1", "2", "3"):
        out = tmp_path / f"threads{threads}.npz"
        env = dict(os.environ, DESCENT_NUM_THREADS=threads)
        done = subprocess.run([python_executable(), "-c", SCRIPT.format(package=PACKAGE_PARENT), str(out)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(np.load(out))
    for other in outputs[1:]:
        for key in ("big", "smalls", "w"):
            assert np.array_equal(outputs[0][key], other[key])


def test_concurrent_steps_from_python_threads(rng):
    # Four threads: two share one optimizer (serialized by its lock), two own theirs.
    shared_param = np.zeros(20_000)
    shared = optim.SGD([shared_param], lr=1.0)
    own = [np.zeros(20_000) for _ in range(2)]
    owners = [optim.SGD([p], lr=1.0) for p in own]
    errors = []

    def work(opt, steps):
        try:
            grads = [np.ones(20_000)]
            for _ in range(steps):
                opt.step(grads)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(shared, 50)) for _ in range(2)]
    threads += [threading.Thread(target=work, args=(opt, 50)) for opt in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert shared.step_count == 100
    np.testing.assert_array_equal(shared_param, -100.0)
    for p in own:
        np.testing.assert_array_equal(p, -50.0)
