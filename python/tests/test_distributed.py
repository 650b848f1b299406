"""Data-parallel training over MPI (descent.distributed): 1, 2 and 3 ranks under
``mpirun --oversubscribe`` train the same model on the same global batches; the results are
checked against the 1-rank run, the plain (non-distributed) fit and a NumPy gradient.

Each mpirun runs python/tests/mpi_worker.py (see its docstring); the C example
examples/mpi/train_mlp_mpi.c is run the same way when it was built (make builds it with mpicc).
"""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORKER = os.path.join(HERE, "mpi_worker.py")
C_EXAMPLE = os.path.join(ROOT, "build", "examples", "mpi", "train_mlp_mpi")
TOLERANCE = 1e-12  # float64 params after 50 steps, relative to the largest |param|


def mpirun(ranks, *arguments, timeout=120, check=True):
    """Runs `arguments` on `ranks` ranks; returns (CompletedProcess, seconds)."""
    launcher = shutil.which("mpirun")
    if launcher is None:
        pytest.fail("mpirun is missing: scripts/ensure-deps.sh --mpi installs openmpi-bin")
    env = dict(os.environ)
    if os.geteuid() == 0:  # Open MPI refuses root without both of these
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.setdefault("DESCENT_NUM_THREADS", "1")  # ranks share 2 cores
    command = [launcher, "--oversubscribe", "-np", str(ranks), *arguments]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result, elapsed


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("mpi"))
    mpirun(1, sys.executable, WORKER, "train", out)
    mpirun(3, sys.executable, WORKER, "train", out)
    mpirun(2, sys.executable, WORKER, "train", out, os.path.join(out, "ckpt-n3"))

    def load(name, ranks, rank=0):
        return np.load(os.path.join(out, f"{name}-n{ranks}-r{rank}.npy"))
    return load


def relative(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("run", ["sgd", "adam"])
def test_one_rank_equals_plain_fit(runs, run):
    # 1 rank through backward_batch + Allreduce + apply is the one-call step, bit for bit
    assert np.array_equal(runs(run, 1), runs(run + "-plain", 1))
    assert np.array_equal(runs(run + "-steps", 1), runs(run + "-plain-steps", 1))


@pytest.mark.parametrize("run", ["sgd", "adam", "adam_sharded", "sgd_sharded"])
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_agree_with_one_rank(runs, run, ranks):
    reference = runs(run, 1)
    assert relative(runs(run, ranks), reference) < TOLERANCE
    assert relative(runs(run + "-steps", ranks), runs(run + "-steps", 1)) < TOLERANCE  # global step losses
    assert relative(runs(run + "-val", ranks), runs(run + "-val", 1)) < TOLERANCE      # global validation loss
    assert not np.array_equal(reference, runs("init", 1))                               # it did train


@pytest.mark.parametrize("run", ["sgd", "adam", "adam_sharded"])
@pytest.mark.parametrize("ranks", [2, 3])
def test_replicas_bit_identical(runs, run, ranks):
    first = runs(run, ranks, 0).view(np.uint64)
    for rank in range(1, ranks):
        assert np.array_equal(runs(run, ranks, rank).view(np.uint64), first)


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_sharded_equals_unsharded(runs, ranks):
    assert relative(runs("adam_sharded", ranks), runs("adam", ranks)) < TOLERANCE
    assert relative(runs("sgd_sharded", ranks), runs("sgd", ranks)) < TOLERANCE


def test_sharded_state_is_one_nth(runs):
    full = int(runs("adam_sharded-state", 1))
    for ranks in (2, 3):
        shares = [int(runs("adam_sharded-state", ranks, r)) for r in range(ranks)]
        assert sum(shares) == full                      # Adam: two slots over every element, split
        assert max(shares) <= full // ranks + 16        # elements differ by at most one per slot


def test_checkpoint_resumes_on_another_world_size(runs):
    # 3 ranks saved after 30 steps and went on for 20; 2 ranks loaded that checkpoint and did the same 20
    assert relative(runs("reloaded", 2), runs("resumed", 3)) < TOLERANCE
    assert relative(runs("resumed", 2), runs("resumed", 3)) < TOLERANCE


def mlp_gradient(params, x, labels):
    """NumPy reference: gradient of the mean softmax cross-entropy of a ReLU MLP, written from the
    formulas (W are (out, in), z = h Wᵀ + b)."""
    weights, biases = params[0::2], params[1::2]
    activations, h = [x], x
    for layer, (w, b) in enumerate(zip(weights, biases)):
        z = h @ w.T + b
        h = np.maximum(z, 0) if layer < len(weights) - 1 else z
        activations.append(h)
    shifted = h - h.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    dz = p
    dz[np.arange(len(labels)), labels] -= 1
    dz /= len(labels)
    grads = []
    for layer in range(len(weights) - 1, -1, -1):
        grads = [dz.T @ activations[layer], dz.sum(axis=0)] + grads
        if layer:
            dz = (dz @ weights[layer]) * (activations[layer] > 0)
    return np.concatenate([g.reshape(-1) for g in grads])


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_summed_gradient_matches_numpy(runs, ranks):
    sys.path.insert(0, HERE)
    from mpi_worker_data import data  # the worker's dataset, without MPI
    x, y = data()
    flat, shapes, params, offset = runs("init", ranks), [(32, 20), (32,), (16, 32), (16,), (3, 16), (3,)], [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        params.append(flat[offset:offset + size].reshape(shape))
        offset += size
    batch = runs("batch0", ranks)
    reference = mlp_gradient(params, x[batch], y[batch])
    assert relative(runs("grad0", ranks), reference) < 1e-12


def test_failing_rank_ends_the_job_quickly(tmp_path):
    result, seconds = mpirun(3, sys.executable, WORKER, "fail", str(tmp_path), "1", timeout=60, check=False)
    assert result.returncode != 0
    assert "rank 1 of 3 failed: ValueError: planted failure in a step callback" in result.stderr
    assert seconds < 20, f"the job took {seconds:.1f} s to end after rank 1 raised"


def test_diverged_replicas_raise(tmp_path):
    result, seconds = mpirun(2, sys.executable, WORKER, "diverge", str(tmp_path), timeout=60, check=False)
    assert result.returncode != 0
    assert "ReplicaDivergenceError: the replicas' parameters are no longer bit-identical" in result.stderr
    assert seconds < 20


@pytest.mark.skipif(not os.path.exists(C_EXAMPLE), reason="make builds examples/mpi/train_mlp_mpi when mpicc exists")
def test_c_example_ranks_agree(tmp_path):
    outputs = {}
    for ranks in (1, 2):
        result, _ = mpirun(ranks, C_EXAMPLE, str(tmp_path / f"c-n{ranks}"))
        assert "final loss" in result.stdout
        outputs[ranks] = [np.fromfile(str(tmp_path / f"c-n{ranks}-r{r}.bin"), dtype=np.float64) for r in range(ranks)]
    assert np.array_equal(outputs[2][0].view(np.uint64), outputs[2][1].view(np.uint64))
    assert relative(outputs[2][0], outputs[1][0]) < TOLERANCE
    assert not np.array_equal(outputs[1][0], np.fromfile(str(tmp_path / "c-n1-r0.init.bin"), dtype=np.float64))


def test_docs_example_runs_on_two_ranks(tmp_path):
    """The ```python mpi blocks of docs/distributed.md, run as one script on 2 ranks."""
    import re
    text = open(os.path.join(ROOT, "docs", "distributed.md"), encoding="utf-8").read()
    blocks = re.findall(r"^```python mpi\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert blocks
    script = tmp_path / "example.py"
    script.write_text(f"import sys\nsys.path.insert(0, {os.path.join(ROOT, 'python')!r})\n" + "\n".join(blocks))
    result, _ = mpirun(2, sys.executable, str(script))
    assert "[" in result.stdout  # rank 0 printed the loss history
