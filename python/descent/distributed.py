"""Data-parallel training over MPI (mpi4py), and optimizer state sharded across ranks (ZeRO-1).

Start N copies of a script with ``mpirun -np N python3 train.py`` (docs/distributed.md); each
rank loads the same data and calls ``fit`` with a communicator::

    from mpi4py import MPI
    import numpy as np
    import descent

    rng = np.random.default_rng(0)                     # the same data on every rank
    x = rng.standard_normal((4096, 20)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = descent.MLP([20, 64, 2], seed=0)
    optimizer = descent.optim.Adam(model.parameters(), lr=1e-3)
    history = descent.fit(model, optimizer, x, y, epochs=5, batch_size=256, comm=MPI.COMM_WORLD)

What happens per step (the library itself never calls MPI; every MPI call of the package is in
this module):

- rank 0's parameters are broadcast once at the start, so every replica starts equal;
- every rank shuffles the whole dataset with the same seed, takes the same global batch and
  computes the gradient of its part r of it (rows r·B/N .. (r+1)·B/N, scaled by n_r/B):
  ``Trainer.backward_batch``;
- ONE ``MPI_Allreduce`` (sum) over the graph's flat gradient buffer, every gradient at once;
- every rank applies the same update (``Trainer.apply``): the replicas stay bit-identical.

With ``shard_state=True`` (ZeRO stage 1) the allreduce becomes a reduce-scatter into the rank's
optimizer shard (``Optimizer.shard``: state for 1/N of the flattened params), the shard steps its
slice, and an allgather puts the updated params back on every rank.

The metrics are global: step losses are the batch's loss (Σ n_r·loss_r / B), epoch loss and
accuracy are over every rank's samples, validation is split over the ranks and reduced. Every
``check_every`` steps (and at the end) a hash of the params is gathered: ranks that disagree
raise :class:`ReplicaDivergenceError`. An exception on any rank (when N > 1) prints
"descent.distributed: rank R of N failed: <error>" with its traceback and aborts the whole job
(``MPI_Abort``), so no rank waits forever in a collective for a rank that is gone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import traceback
from typing import Any, Callable, Iterable, Optional, SupportsFloat, SupportsInt, Union

import numpy as np
import numpy.typing as npt

from . import errors
from .shard import OptimizerShard, shard_ranges
from .tensor import FloatArray

from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from .models import Model
    from .optim import Optimizer
    from .schedules import LRScheduler, ReduceLROnPlateau, Schedule
    from .training import Callback, History

#: An mpi4py communicator (``MPI.COMM_WORLD`` or any intracommunicator).
Comm = Any

__all__ = ["fit", "ReplicaDivergenceError", "check_replicas", "broadcast_parameters", "save_sharded",
           "load_sharded", "abort_on_error", "install_excepthook", "shard_ranges", "Comm"]

MANIFEST = "manifest.json"
_FORMAT = "descent-sharded-optimizer-1"


class ReplicaDivergenceError(errors.DescentError, RuntimeError):
    """The replicas' parameters are no longer bit-identical (raised on every rank). Raised by
    this module, not by a C call: its status names what went wrong."""

    status = "replicas diverged"


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - ensure-deps installs it
        raise errors.UnsupportedError("descent.distributed needs mpi4py (pip install mpi4py; "
                                      "Open MPI: apt-get install openmpi-bin libopenmpi-dev)") from exc
    return MPI


def abort_on_error(comm: Comm, error: BaseException) -> None:
    """Prints "descent.distributed: rank R of N failed: <error>" and the traceback to stderr and
    aborts every rank of `comm` (``MPI_Abort``): the other ranks would otherwise wait forever in
    their next collective. Returns only when `comm` has a single rank."""
    rank, size = comm.Get_rank(), comm.Get_size()
    if size <= 1:
        return
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    sys.stderr.write(f"{text}descent.distributed: rank {rank} of {size} failed: "
                     f"{type(error).__name__}: {error}; aborting all {size} ranks\n")
    sys.stderr.flush()
    comm.Abort(1)


def _check_comm(comm: object) -> None:
    """TypeError unless `comm` looks like an mpi4py intracommunicator."""
    needed = ("Get_rank", "Get_size", "Allreduce", "Bcast", "allgather", "Abort")
    if not all(callable(getattr(comm, name, None)) for name in needed):
        raise TypeError(f"comm must be an mpi4py communicator (e.g. MPI.COMM_WORLD), got {type(comm).__name__}")


def install_excepthook(comm: Optional[Comm] = None) -> None:
    """Makes an exception that nothing catches on this rank abort the whole job with
    "descent.distributed: rank R of N failed: <error>" (``sys.excepthook`` chained to the previous
    one), instead of leaving the other ranks waiting in a collective forever. :func:`fit` installs
    it for ``MPI.COMM_WORLD``; ``python3 -m mpi4py script.py`` is the same guard from mpi4py."""
    target = comm if comm is not None else _mpi().COMM_WORLD
    _check_comm(target)
    previous = sys.excepthook
    if getattr(previous, "_descent_abort", False):
        return

    def hook(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        if target.Get_size() > 1 and not issubclass(kind, KeyboardInterrupt):
            abort_on_error(target, error.with_traceback(trace))
        previous(kind, error, trace)

    setattr(hook, "_descent_abort", True)
    sys.excepthook = hook


def _params_flat(model: Model) -> tuple[FloatArray, bool]:
    """(the params as one flat array, whether it is the params' own memory)."""
    try:
        return model.graph.param_buffer, True
    except errors.InvalidArgumentError:
        params = model.parameters()
        packed: FloatArray = np.concatenate([p.reshape(-1) for p in params]) if params else \
            np.zeros(0, dtype=model.graph.dtype)
        return packed, False


def _unpack(model: Model, flat: FloatArray) -> None:
    offset = 0
    for param in model.parameters():
        param.reshape(-1)[...] = flat[offset:offset + param.size]
        offset += param.size


def broadcast_parameters(model: Model, comm: Comm, root: int = 0) -> None:
    """Copies rank `root`'s parameters to every rank (one ``MPI_Bcast``)."""
    _check_comm(comm)
    flat, own = _params_flat(model)
    comm.Bcast(flat, root=root)
    if not own:
        _unpack(model, flat)


def _digest(arrays: Iterable[npt.NDArray[Any]]) -> int:
    hasher = hashlib.blake2b(digest_size=8)
    for array in arrays:
        hasher.update(np.ascontiguousarray(array).tobytes())
    return int.from_bytes(hasher.digest(), "little", signed=True)


def check_replicas(model: Model, comm: Comm, what: str = "parameters") -> None:
    """Gathers an 8-byte hash of the parameters from every rank (one ``allgather``) and raises
    :class:`ReplicaDivergenceError` on every rank when they are not all equal."""
    digests = comm.allgather(_digest(model.parameters()))
    if len(set(digests)) > 1:
        groups: dict[int, list[int]] = {}
        for rank, value in enumerate(digests):
            groups.setdefault(value, []).append(rank)
        described = "; ".join(f"ranks {ranks} hash {value & 0xFFFFFFFFFFFFFFFF:016x}" for value, ranks in groups.items())
        raise ReplicaDivergenceError(f"the replicas' {what} are no longer bit-identical ({described})")


def _check_same_everywhere(comm: Comm, description: str, value: object) -> None:
    values = comm.allgather(value)
    if any(v != values[0] for v in values):
        raise errors.InvalidArgumentError(f"every rank must pass the same {description}; got {values}")


def fit(model: Model, optimizer: Optimizer, x: npt.ArrayLike, y: Optional[npt.ArrayLike] = None, *, comm: Comm,
        epochs: int = 1, batch_size: Optional[int] = 32, shuffle: bool = True, seed: SupportsInt = 0,
        drop_last: bool = False, validation_data: Optional[tuple[npt.ArrayLike, npt.ArrayLike]] = None,
        schedule: Optional[Union[Schedule, LRScheduler, ReduceLROnPlateau]] = None, schedule_unit: str = "step",
        clip_norm: Optional[SupportsFloat] = None, patience: Optional[int] = None,
        min_delta: SupportsFloat = 0.0, callbacks: Iterable[Callback] = (), progress: Optional[bool] = None,
        override_lr: bool = False, shard_state: bool = False, check_every: int = 100,
        abort: bool = True, timing: Optional[dict[str, float]] = None) -> History:
    """Data-parallel :func:`descent.fit` over `comm` (see the module docstring); every rank calls
    it with the same data and arguments. The global batch is ``batch_size`` (split over the
    ranks). ``shard_state=True`` shards the optimizer state (ZeRO-1; the optimizer passed gets
    the gathered state and step count back at the end). ``check_every`` steps between replica
    checks (0: only at the end). ``abort`` (default True): an exception on a rank aborts the job
    (when N > 1). ``timing``, when given, receives seconds spent in "compute", "communication"
    and "total", and the optimizer state bytes the rank stepped with ("state_bytes"). Returns a :class:`~descent.training.History` of global metrics, the same on
    every rank. Models with batch norm are refused (per-rank statistics would make the replicas
    differ from the 1-rank run); dropout masks differ from the 1-rank run's (the parts are
    smaller tensors) but are the same on every rank count for a given part."""
    _check_comm(comm)
    if not isinstance(shard_state, (bool, np.bool_)):
        raise TypeError(f"shard_state must be a bool, got {type(shard_state).__name__}")
    if not isinstance(abort, (bool, np.bool_)):
        raise TypeError(f"abort must be a bool, got {type(abort).__name__}")
    if abort:
        install_excepthook(comm)
    try:
        return _fit(model, optimizer, x, y, comm, epochs, batch_size, shuffle, seed, drop_last, validation_data,
                    schedule, schedule_unit, clip_norm, patience, min_delta, callbacks, progress, override_lr,
                    shard_state, check_every, timing)
    except BaseException as error:
        if abort and not isinstance(error, KeyboardInterrupt):
            abort_on_error(comm, error)
        raise


def _fit(model: Model, optimizer: Optimizer, x: npt.ArrayLike, y: Optional[npt.ArrayLike], comm: Comm, epochs: int,
         batch_size: Optional[int], shuffle: bool, seed: SupportsInt, drop_last: bool,
         validation_data: Optional[tuple[npt.ArrayLike, npt.ArrayLike]],
         schedule: Optional[Union[Schedule, LRScheduler, ReduceLROnPlateau]], schedule_unit: str,
         clip_norm: Optional[SupportsFloat], patience: Optional[int], min_delta: SupportsFloat,
         callbacks: Iterable[Callback], progress: Optional[bool], override_lr: bool, shard_state: bool,
         check_every: int, timing: Optional[dict[str, float]]) -> History:
    import time

    from . import training as T
    from .schedules import LRScheduler, ReduceLROnPlateau, Schedule, for_group

    MPI = _mpi()
    rank, size = int(comm.Get_rank()), int(comm.Get_size())
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise errors.InvalidArgumentError(f"epochs must be an int >= 0, got {epochs!r}")
    if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 0:
        raise errors.InvalidArgumentError(f"check_every must be an int >= 0, got {check_every!r}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, (int, np.integer))
                                 or patience < 1):
        raise errors.InvalidArgumentError(f"patience must be an int >= 1 or None, got {patience!r}")
    if schedule is not None and not isinstance(schedule, (Schedule, LRScheduler, ReduceLROnPlateau)):
        raise TypeError(f"schedule must be a Schedule, LRScheduler or ReduceLROnPlateau, got {type(schedule).__name__}")
    if getattr(model, "batch_norms", None):
        raise errors.UnsupportedError("distributed fit does not support batch norm yet: each rank's statistics "
                                      "would come from its part of the batch (docs/distributed.md)")
    T._check_model(model)
    T._check_optimizer(optimizer)
    train, validation = T._loaders(model, x, y, batch_size, shuffle, seed, drop_last, validation_data, optimizer)
    trainer: Optional[T.Trainer] = None
    shard: Optional[OptimizerShard] = None
    try:
        steps_per_epoch = len(train)
        if steps_per_epoch == 0:
            raise errors.InvalidArgumentError("the training set gives no batch (empty, or drop_last with fewer "
                                              "samples than batch_size)")
        x_array = np.asarray(x)
        _check_same_everywhere(comm, "data shape, batch size, seed, epochs and shard_state",
                               (tuple(x_array.shape), train.batch_size, int(seed), int(epochs), bool(shard_state),
                                bool(shuffle), bool(drop_last)))
        native_schedule = schedule if isinstance(schedule, Schedule) else None
        trainer = T.Trainer(model, optimizer, schedule=None if shard_state else native_schedule,
                            schedule_unit=schedule_unit, clip_norm=None if shard_state else clip_norm,
                            override_lr=override_lr)
        group_schedules: list[Schedule] = []
        if shard_state and native_schedule is not None:
            for index, group in enumerate(optimizer.param_groups):
                group_schedules.append(for_group(native_schedule, group, index, override_lr)[0])
        graph = model.graph
        params, own_memory = _params_flat(model)
        broadcast_parameters(model, comm)
        if not own_memory:
            params, _ = _params_flat(model)
        grads = graph.grad_buffer
        mpi_type = MPI.FLOAT if graph.dtype == np.float32 else MPI.DOUBLE
        counts: list[int] = []
        displacements: list[int] = []
        if shard_state:
            if [p.ctypes.data for p in optimizer._params()] != [p.ctypes.data for p in model.parameters()]:
                raise errors.InvalidArgumentError("shard_state=True needs an optimizer over exactly the model's params, "
                                                  "in order (model.parameters())")
            ranges = shard_ranges(int(grads.size), size)
            counts = [count for _, count in ranges]
            displacements = [start for start, _ in ranges]
            shard = optimizer.shard(*ranges[rank])
        shard_grads = shard.grad_buffer if shard is not None else grads
        clip = float(clip_norm) if clip_norm is not None else 0.0
        step_callbacks, epoch_callbacks = T._callback_methods(callbacks)
        bar = T._Progress(T._progress_default(progress) and rank == 0, epochs, steps_per_epoch)
        classifier = bool(getattr(model, "classifier", False)) and train.has_labels
        drives_steps = isinstance(schedule, LRScheduler) and schedule.interval == "step"
        start_epoch = trainer.epoch
        rows: list[list[float]] = []
        all_step_losses: list[float] = []
        records = np.zeros((steps_per_epoch, 3), dtype=np.float64)   # (n/B)·loss, correct, n per step
        sample_count = int(x_array.shape[0])
        best, best_epoch, waited, stop_reason, stopped_early = math.inf, -1, 0, None, False
        skipped_total, step_index = 0, 0
        compute = communication = 0.0
        began = time.perf_counter()
        for epoch_offset in range(epochs):
            epoch = start_epoch + epoch_offset
            train.set_epoch(epoch)
            lib_set_epoch(trainer, epoch)
            bar.start_epoch(epoch_offset)
            skipped_epoch = 0
            stop = False
            for batch in range(steps_per_epoch):
                if shard is not None:
                    shard.sync_hyperparameters()
                else:
                    optimizer._sync()
                t0 = time.perf_counter()
                loss, correct, samples = trainer.backward_batch(train, batch, rank, size)
                t1 = time.perf_counter()
                if shard is None:
                    comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)          # the one allreduce
                    t2 = time.perf_counter()
                    applied = trainer.apply()
                    t3 = time.perf_counter()
                    communication += t2 - t1
                else:
                    comm.Reduce_scatter(grads, shard_grads, recvcounts=counts, op=MPI.SUM)
                    wide = shard_grads.astype(np.float64, copy=False)
                    squared = comm.allreduce(float(np.dot(wide, wide)), op=MPI.SUM)  # global norm and finiteness
                    t2 = time.perf_counter()
                    applied = _sharded_update(shard, shard_grads, squared, clip, group_schedules,
                                              schedule_unit, epoch, optimizer.nonfinite)
                    t3 = time.perf_counter()
                    comm.Allgatherv(MPI.IN_PLACE, [params, counts, displacements, mpi_type])
                    if not own_memory:
                        _unpack(model, params)
                    communication += (t2 - t1) + (time.perf_counter() - t3)
                compute += (t1 - t0) + (t3 - t2)
                whole = min(train.batch_size, sample_count - batch * train.batch_size)  # the global batch
                records[batch] = (loss * (samples / whole), max(correct, 0), samples)   # Σ over ranks: its loss
                if not applied:
                    skipped_epoch += 1
                step_index += 1
                bar.step(loss)
                if drives_steps and isinstance(schedule, LRScheduler):
                    schedule.step()
                    optimizer._sync()
                logs: T.Logs = {"loss": loss, "epoch": int(epoch), "batch": int(batch)}
                for callback in step_callbacks:
                    try:
                        callback(step_index - 1, logs)
                    except T.StopTraining:
                        stop = True
                if check_every and step_index % check_every == 0:
                    check_replicas(model, comm)
                stop = bool(comm.allreduce(1 if stop else 0, op=MPI.MAX)) if step_callbacks else stop
                if stop:
                    stop_reason = "callback"
                    break
            done = batch + 1
            totals = records[:done].copy()
            comm.Allreduce(MPI.IN_PLACE, totals, op=MPI.SUM)
            step_losses = totals[:, 0]
            all_step_losses.extend(step_losses.tolist())
            seen = totals[:, 2].sum()
            epoch_loss = float(step_losses.mean())
            accuracy = float(totals[:, 1].sum() / seen) if classifier and seen else math.nan
            val_loss, val_accuracy = math.nan, math.nan
            if validation is not None:
                val_loss, val_accuracy = _evaluate_split(model, validation_data, comm, MPI, classifier)
            skipped_total += int(comm.allreduce(skipped_epoch, op=MPI.MAX))
            rows.append([epoch_loss, accuracy, val_loss, val_accuracy, float(done), float(skipped_epoch)])
            logs_epoch: T.Logs = {"epoch": int(epoch), "loss": epoch_loss}
            if classifier:
                logs_epoch["accuracy"] = accuracy
            if validation is not None:
                logs_epoch["val_loss"] = val_loss
                if classifier:
                    logs_epoch["val_accuracy"] = val_accuracy
            bar.end_epoch(logs_epoch)
            lib_set_epoch(trainer, epoch + 1)
            T._schedule_epoch_end(schedule, optimizer, logs_epoch)
            for callback in epoch_callbacks:
                try:
                    callback(int(epoch), dict(logs_epoch))
                except T.StopTraining:
                    stop = True
            if epoch_callbacks:
                stop = bool(comm.allreduce(1 if stop else 0, op=MPI.MAX))
            monitored = logs_epoch.get("val_loss", epoch_loss)
            if monitored < best - float(min_delta):
                best, best_epoch, waited = monitored, epoch, 0
            else:
                waited += 1
            if stop:
                stop_reason = "callback"
                break
            if patience is not None and waited >= patience:
                stopped_early = True
                stop_reason = "early_stopping"
                break
        check_replicas(model, comm)
        if shard is not None:
            _gather_state(optimizer, shard, comm, MPI, counts, displacements)
        total = time.perf_counter() - began
        if timing is not None:
            timing.update({"compute": compute, "communication": communication, "total": total,
                           "state_bytes": float(shard.state_bytes if shard is not None else optimizer.sizes()[1])})
        model.epochs_trained = trainer.epoch
        history = np.array(rows, dtype=np.float64).reshape(-1, 6)
        return T.History(history, np.array(all_step_losses), range(start_epoch, start_epoch + len(rows)),
                         best_epoch, int(stopped_early), classifier, validation is not None, stop_reason)
    finally:
        if shard is not None:
            shard.close()
        if trainer is not None:
            trainer._loaders_bound(train, validation)
            if optimizer.handle:
                optimizer._refresh_groups()
            trainer.close()
        train.close()
        if validation is not None:
            validation.close()


def lib_set_epoch(trainer: Any, epoch: int) -> None:
    """Sets the trainer's completed-epoch counter (numbers per-epoch schedules)."""
    from ._ffi import lib
    lib.descent_trainer_set_epoch(trainer.handle, int(epoch))


def _sharded_update(shard: OptimizerShard, grads: FloatArray, squared: float, clip: float,
                    group_schedules: list[Any], schedule_unit: str, epoch: int, policy: str) -> bool:
    """Clip with the global norm, set scheduled rates, step the shard. Every rank decides the same
    way from the same global ``squared`` norm."""
    if not math.isfinite(squared) and policy != "proceed":
        if policy == "skip":
            return False
        raise errors.NonFiniteError("a gradient holds NaN or infinity; nothing was updated (policy raise)")
    if clip > 0 and math.isfinite(squared):
        norm = math.sqrt(squared)
        if norm > clip:
            grads *= clip / (norm + 1e-6)
    if group_schedules:
        t = epoch if schedule_unit == "epoch" else shard.step_count
        shard.set_lr([s.value(t) for s in group_schedules])
    return shard.step()


def _evaluate_split(model: Model, validation_data: Any, comm: Comm, MPI: Any, classifier: bool) -> tuple[float, float]:
    """Validation loss and accuracy over every rank's contiguous part of the validation set."""
    x_val, y_val = np.asarray(validation_data[0]), np.asarray(validation_data[1])
    start, count = shard_ranges(len(x_val), int(comm.Get_size()))[int(comm.Get_rank())]
    sums = np.zeros(3)
    if count:
        result = model.evaluate(x_val[start:start + count], y_val[start:start + count])
        sums[:] = (result["loss"] * count, result.get("accuracy", 0.0) * count if classifier else 0.0, count)
    comm.Allreduce(MPI.IN_PLACE, sums, op=MPI.SUM)
    return float(sums[0] / sums[2]), (float(sums[1] / sums[2]) if classifier else math.nan)


def _gather_state(optimizer: Optimizer, shard: OptimizerShard, comm: Comm, MPI: Any, counts: list[int],
                  displacements: list[int]) -> None:
    """Gives the optimizer the whole state again (an allgather per state slot) and the shard's
    step count and NAdam products, as if it had taken the steps itself."""
    from ._ffi import lib
    from .tensor import DTYPE_CODES
    params = optimizer._params()
    total = sum(counts)
    mpi_type = MPI.FLOAT if shard.dtype == np.float32 else MPI.DOUBLE
    for slot in range(len(optimizer.SLOTS)):
        present = comm.allreduce(1 if shard.slot_present(slot) or not shard.pieces else 0, op=MPI.MIN)
        if not present:
            continue
        flat = np.empty(total, dtype=shard.dtype)
        local = shard.get_state(slot) if shard.pieces else np.zeros(0, dtype=shard.dtype)
        comm.Allgatherv(local, [flat, counts, displacements, mpi_type])
        offset = 0
        for index, param in enumerate(params):
            piece = np.ascontiguousarray(flat[offset:offset + param.size])
            lib.descent_optimizer_state_set(optimizer.handle, index, slot, DTYPE_CODES[shard.dtype],
                                            piece.ctypes.data, piece.size)
            offset += param.size
    lib.descent_optimizer_set_step_count(optimizer.handle, shard.step_count)
    for index, value in enumerate(shard.mu_products()):
        lib.descent_optimizer_set_mu_product(optimizer.handle, index, value)


def save_sharded(directory: Union[str, os.PathLike[str]], model: Model, optimizer: Optimizer, comm: Comm) -> None:
    """A sharded checkpoint of `optimizer` (as ``fit(..., shard_state=True)`` leaves it): every rank
    writes the state of its share of the flattened params (``shard-R-of-N.ckpt``, the format of
    :meth:`Optimizer.save`), rank 0 the params (``model.npz``; the replicas are identical) and
    ``manifest.json`` (world size, each shard's flat range and file, the optimizer class, the
    model's epochs). Collective: every rank calls it."""
    rank, size = int(comm.Get_rank()), int(comm.Get_size())
    path = os.fspath(directory)
    if rank == 0:
        os.makedirs(path, exist_ok=True)
    comm.Barrier()
    ranges = shard_ranges(optimizer.sizes()[0], size)
    files = [f"shard-{r:05d}-of-{size:05d}.ckpt" for r in range(size)]
    with optimizer.shard(*ranges[rank]) as shard:
        shard.save(os.path.join(path, files[rank]))
        step_count = shard.step_count
    if rank == 0:
        arrays: dict[str, Any] = dict(model.state_dict())
        np.savez(os.path.join(path, "model.npz"), **arrays)
        manifest = {"format": _FORMAT, "world_size": size, "elements": int(sum(c for _, c in ranges)),
                    "ranges": [list(r) for r in ranges], "files": files, "model": "model.npz",
                    "optimizer": type(optimizer).__name__, "step_count": step_count,
                    "epochs_trained": int(getattr(model, "epochs_trained", 0))}
        temporary = os.path.join(path, MANIFEST + ".tmp")
        with open(temporary, "w") as stream:
            json.dump(manifest, stream, indent=1)
        os.replace(temporary, os.path.join(path, MANIFEST))
    comm.Barrier()


def load_sharded(directory: Union[str, os.PathLike[str]], model: Model, optimizer: Optimizer, comm: Comm) -> None:
    """Restores a checkpoint of :func:`save_sharded` on this communicator, whatever its size: the
    params and epoch count into `model`, and into `optimizer` the saved state of THIS rank's share
    of the flattened params (pieced together from the old shards that overlap it when the world
    size changed), the step count and hyper-parameters: what ``fit(..., shard_state=True)`` needs
    to resume. A missing or inconsistent manifest, or one written for another optimizer class or
    parameter count, raises DescentIOError / CorruptFileError / InvalidArgumentError before
    anything changes."""
    from ._ffi import lib
    from .tensor import DTYPE_CODES
    path = os.fspath(directory)
    try:
        with open(os.path.join(path, MANIFEST)) as stream:
            manifest = json.load(stream)
    except OSError as exc:
        raise errors.DescentIOError(f"cannot read {os.path.join(path, MANIFEST)}: {exc}") from exc
    except ValueError as exc:
        raise errors.CorruptFileError(f"{os.path.join(path, MANIFEST)} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise errors.CorruptFileError(f"{path} holds no sharded descent checkpoint (format {_FORMAT})")
    total = optimizer.sizes()[0]
    if manifest["elements"] != total or manifest["optimizer"] != type(optimizer).__name__:
        raise errors.InvalidArgumentError(
            f"the checkpoint is of a {manifest['optimizer']} over {manifest['elements']} elements; this is a "
            f"{type(optimizer).__name__} over {total}")
    old_ranges = [(int(a), int(b)) for a, b in manifest["ranges"]]
    if len(old_ranges) != manifest["world_size"] or \
            [a for a, _ in old_ranges] != [sum(b for _, b in old_ranges[:r]) for r in range(len(old_ranges))] or \
            sum(b for _, b in old_ranges) != total:
        raise errors.CorruptFileError(f"{path}/{MANIFEST}: the shard ranges do not tile the {total} elements")
    rank, size = int(comm.Get_rank()), int(comm.Get_size())
    start, count = shard_ranges(total, size)[rank]
    slots: dict[int, FloatArray] = {}
    step_count, mus = 0, [1.0] * len(optimizer.param_groups)
    params = optimizer._params()
    dtype = params[0].dtype if params else np.dtype(np.float64)
    for old, (old_start, old_count) in enumerate(old_ranges):
        lower, upper = max(start, old_start), min(start + count, old_start + old_count)
        if lower >= upper and not (old == 0 and count == 0):
            continue
        with optimizer.shard(old_start, old_count) as previous:
            previous.load(os.path.join(path, manifest["files"][old]))   # checks the file, changes nothing else
            step_count, mus = previous.step_count, previous.mu_products()
            for slot in range(len(optimizer.SLOTS)):
                if previous.slot_present(slot):
                    values = previous.get_state(slot)
                    target = slots.setdefault(slot, np.zeros(count, dtype=dtype))
                    target[lower - start:upper - start] = values[lower - old_start:upper - old_start]
            if old == 0 or lower < upper:
                hyper = previous
                for index in range(len(optimizer.param_groups)):
                    _copy_hyper(lib, hyper.handle, optimizer.handle, index)
    with np.load(os.path.join(path, manifest["model"])) as stored:
        model.load_state_dict({key: stored[key] for key in stored.files})
    model.epochs_trained = int(manifest.get("epochs_trained", 0))
    offset = 0
    for index, param in enumerate(params):
        lower, upper = max(start, offset), min(start + count, offset + param.size)
        if lower < upper:
            for slot, values in slots.items():
                full = np.empty(param.size, dtype=dtype)
                present = ctypes_int()
                lib.descent_optimizer_state_present(optimizer.handle, index, slot, present)
                if present.value:
                    lib.descent_optimizer_state_get(optimizer.handle, index, slot, DTYPE_CODES[dtype],
                                                    full.ctypes.data, full.size)
                else:
                    full[...] = 0
                full[lower - offset:upper - offset] = values[lower - start:upper - start]
                lib.descent_optimizer_state_set(optimizer.handle, index, slot, DTYPE_CODES[dtype],
                                                full.ctypes.data, full.size)
        offset += param.size
    lib.descent_optimizer_set_step_count(optimizer.handle, step_count)
    for index, value in enumerate(mus):
        lib.descent_optimizer_set_mu_product(optimizer.handle, index, value)
    optimizer._refresh_groups()


def ctypes_int() -> Any:
    """A fresh int32 out-value."""
    import ctypes
    return ctypes.c_int32()


def _copy_hyper(lib: Any, source: int, target: int, group: int) -> None:
    """Copies every hyper-parameter the rule has from group `group` of one optimizer to another."""
    import ctypes
    from .optim import FLAGS_KEY, HYPER
    value = ctypes.c_double()
    lib.descent_optimizer_set_hyper(target, group, FLAGS_KEY, 0.0)
    flags = 0.0
    for key in list(HYPER.values()) + [FLAGS_KEY]:
        try:
            lib.descent_optimizer_get_hyper(source, group, key, ctypes.byref(value))
        except errors.InvalidArgumentError:
            continue
        if key == FLAGS_KEY:
            flags = value.value
        else:
            lib.descent_optimizer_set_hyper(target, group, key, value.value)
    lib.descent_optimizer_set_hyper(target, group, FLAGS_KEY, flags)
