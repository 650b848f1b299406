"""The Training MLP (784-256-10, ReLU, softmax cross-entropy, Adam lr 1e-3, global batch 128,
float32) trained data-parallel over MPI: time per step and the share spent in communication.
One rank of `mpirun -np N python3 bench/mpi_mlp.py [--shard]` (bench/mpi_scaling.sh runs N = 1, 2)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

import descent  # noqa: E402
from descent import distributed  # noqa: E402

comm = MPI.COMM_WORLD
shard = "--shard" in sys.argv
steps, batch = 120, 128
rng = np.random.default_rng(0)
x = rng.standard_normal((steps * batch, 784)).astype(np.float32)
y = rng.integers(0, 10, steps * batch).astype(np.int64)
model = descent.MLP([784, 256, 10], seed=0)
optimizer = descent.optim.Adam(model.parameters(), lr=1e-3)
# one warm-up epoch of 10 steps (plans, pools, MPI connections), then the measured one
distributed.fit(model, optimizer, x[:10 * batch], y[:10 * batch], comm=comm, epochs=1, batch_size=batch,
                progress=False, shard_state=shard)
timing: dict = {}
comm.Barrier()
started = time.perf_counter()
distributed.fit(model, optimizer, x, y, comm=comm, epochs=1, batch_size=batch, progress=False, timing=timing,
                shard_state=shard, check_every=0)
elapsed = time.perf_counter() - started
worst = comm.allreduce(timing["communication"], op=MPI.MAX)
if comm.Get_rank() == 0:
    gradient_bytes = sum(p.nbytes for p in model.parameters())
    print(f"  {comm.Get_size()} rank(s){' sharded' if shard else '':8s}: {elapsed / steps * 1e3:7.3f} ms per step, "
          f"communication {timing['communication'] / steps * 1e3:6.3f} ms ({100 * timing['communication'] / elapsed:4.1f} %; "
          f"slowest rank {100 * worst / elapsed:4.1f} %), gradient {gradient_bytes / 1e6:.2f} MB, "
          f"optimizer state on rank 0 {timing['state_bytes'] / 1e6:.2f} MB")
