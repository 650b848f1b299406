"""The same seed gives a bit-identical loss history and parameters for any thread count, also when
the matrix products are large enough to be split over threads (and whatever OPENBLAS_NUM_THREADS
says: the library runs its BLAS single-threaded and splits products by shape alone)."""
import hashlib
import os
import subprocess
import sys

import descent

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(descent.__file__)))
SCRIPT = """
import hashlib, sys
sys.path.insert(0, {package!r})
import numpy as np
import descent
rng = np.random.default_rng(5)
x = rng.standard_normal((640, 300)).astype(np.float32)
y = rng.integers(0, 10, 640)
model = descent.MLP([300, 256, 10], dropout=0.1, seed=3)
optimizer = descent.optim.Adam(model.parameters(), lr=1e-3)
history = descent.fit(model, optimizer, x, y, epochs=2, batch_size=128, seed=1, progress=False)
digest = hashlib.sha256(history.step_losses.tobytes())
for p in model.parameters():
    digest.update(p.tobytes())
print(digest.hexdigest(), descent.blas_name())
"""


def run(**env_overrides):
    env = dict(os.environ)
    env.update(env_overrides)
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(package=PACKAGE)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[0]


def test_training_is_bit_identical_for_any_thread_count():
    # 128 x 256 x 300 products: large enough to be split into blocks run on the worker pool.
    digests = {run(DESCENT_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(b)) for t, b in ((1, 1), (2, 2), (3, 4))}
    assert len(digests) == 1, digests
