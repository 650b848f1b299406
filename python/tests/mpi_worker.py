"""One rank of the data-parallel tests (python/tests/test_distributed.py starts it under mpirun).

    mpirun -np N python3 mpi_worker.py train OUT [RESUME_FROM]
    mpirun -np N python3 mpi_worker.py fail OUT RANK
    mpirun -np N python3 mpi_worker.py diverge OUT

`train` writes, per rank, the float64 params after 50 steps of several runs (unsharded SGD with
momentum and Adam, sharded Adam, a sharded run checkpointed after 30 steps and resumed for 20) as
.npy files named RUN-nN-rR.npy, plus the global step losses and the first summed gradient.
With RESUME_FROM (a checkpoint directory written by another world size) it also resumes that
checkpoint here. `fail` makes rank RANK raise in a callback; `diverge` perturbs rank 1's params.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # python/: the package

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

import descent  # noqa: E402
from descent import distributed  # noqa: E402
from mpi_worker_data import data  # noqa: E402

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
scenario, out = sys.argv[1], sys.argv[2]


def model_and(optimizer_class, **hyper):
    # seed differs per rank on purpose: fit must broadcast rank 0's initial params
    model = descent.MLP([20, 32, 16, 3], dtype=np.float64, seed=11 + 100 * rank)
    return model, optimizer_class(model.parameters(), **hyper)


def save(name, array):
    np.save(os.path.join(out, f"{name}-n{size}-r{rank}.npy"), np.asarray(array))


def flat(model):
    return np.concatenate([p.reshape(-1) for p in model.parameters()])


x, y = data()
if scenario == "train":
    runs = {"sgd": (descent.optim.SGD, {"lr": 0.05, "momentum": 0.9}, False),
            "adam": (descent.optim.Adam, {"lr": 1e-2}, False),
            "adam_sharded": (descent.optim.Adam, {"lr": 1e-2}, True),
            "sgd_sharded": (descent.optim.SGD, {"lr": 0.05, "momentum": 0.9}, True)}
    for name, (cls, hyper, sharded) in runs.items():
        model, optimizer = model_and(cls, **hyper)
        timing = {}
        history = distributed.fit(model, optimizer, x, y, comm=comm, epochs=5, batch_size=60, seed=3,
                                  shard_state=sharded, check_every=10, progress=False, timing=timing,
                                  validation_data=(x[:100], y[:100]))
        save(name, flat(model))
        save(name + "-steps", history.step_losses)
        save(name + "-val", np.array(history.history["val_loss"]))
        if sharded:
            save(name + "-state", np.array(timing["state_bytes"]))
    # The summed gradient of the first global batch (checked against NumPy by the test).
    model, optimizer = model_and(descent.optim.SGD, lr=0.0)
    distributed.broadcast_parameters(model, comm)
    save("init", flat(model))
    loader = descent.training.DataLoader(x, y, batch_size=60, shuffle=True, seed=3, dtype=np.float64)
    trainer = descent.training.Trainer(model, optimizer)
    loader.set_epoch(0)
    trainer.backward_batch(loader, 0, rank, size)
    grads = model.graph.grad_buffer
    comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)
    save("grad0", grads.copy())
    save("batch0", loader.batch_indices(0))
    trainer.close()
    loader.close()
    # Sharded run checkpointed after 30 steps (3 epochs), then resumed for 20.
    model, optimizer = model_and(descent.optim.Adam, lr=1e-2)
    distributed.fit(model, optimizer, x, y, comm=comm, epochs=3, batch_size=60, seed=3, shard_state=True,
                    progress=False)
    checkpoint = os.path.join(out, f"ckpt-n{size}")
    distributed.save_sharded(checkpoint, model, optimizer, comm)
    distributed.fit(model, optimizer, x, y, comm=comm, epochs=2, batch_size=60, seed=3, shard_state=True,
                    progress=False)
    save("resumed", flat(model))
    if len(sys.argv) > 3:
        model, optimizer = model_and(descent.optim.Adam, lr=1e-2)
        distributed.load_sharded(sys.argv[3], model, optimizer, comm)
        distributed.fit(model, optimizer, x, y, comm=comm, epochs=2, batch_size=60, seed=3, shard_state=True,
                        progress=False)
        save("reloaded", flat(model))
    if size == 1:  # the plain (non-distributed) fit of the same runs: the 1-rank reference
        for name, (cls, hyper, _) in runs.items():
            if name.endswith("sharded"):
                continue
            model, optimizer = model_and(cls, **hyper)
            history = descent.fit(model, optimizer, x, y, epochs=5, batch_size=60, seed=3, progress=False)
            save(name + "-plain", flat(model))
            save(name + "-plain-steps", history.step_losses)
elif scenario == "fail":
    bad = int(sys.argv[3])

    def boom(step, logs):
        if rank == bad and step == 3:
            raise ValueError("planted failure in a step callback")

    class Boom:
        on_step_end = staticmethod(boom)

    model, optimizer = model_and(descent.optim.SGD, lr=0.05)
    descent.fit(model, optimizer, x, y, comm=comm, epochs=1000, batch_size=60, progress=False, callbacks=[Boom()])
elif scenario == "diverge":
    class Perturb:
        @staticmethod
        def on_step_end(step, logs):
            if rank == 1 and step == 2:
                model.parameters()[0][0, 0] += 1e-9

    model, optimizer = model_and(descent.optim.SGD, lr=0.05)
    distributed.fit(model, optimizer, x, y, comm=comm, epochs=2, batch_size=60, progress=False,
                    callbacks=[Perturb()], check_every=5)
print(f"rank {rank} of {size}: {scenario} done", flush=True)
