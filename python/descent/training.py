"""Training: data loaders, the one-call training step, ``fit``, random restarts and the
learning-rate range test (C section ``@@training@@`` of descent.h).

The loop itself runs in the library (``descent_trainer_fit``): each step gathers a shuffled
mini-batch, runs forward and backward through the graph, clips, sets the scheduled learning rate
and updates the parameters in one C call. Python adds what Python users expect around it: a
progress bar, callbacks, a :class:`History` that plots itself::

    import numpy as np
    import descent

    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)            # two classes
    model = descent.MLP([8, 16, 2], seed=0)
    optimizer = descent.optim.Adam(model.parameters(), lr=1e-2)
    history = descent.fit(model, optimizer, x, y, epochs=20, batch_size=64, progress=False)
    assert history.history["accuracy"][-1] > 0.9

Batch gradient descent is ``batch_size=None`` (the whole set per step), stochastic descent
``batch_size=1``, mini-batch anything between; ``shuffle=True`` draws a new permutation per
epoch from ``seed``. The same seed gives a bit-identical loss history for any thread count.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, MutableMapping, NamedTuple, Optional, Protocol, Sequence, \
    SupportsFloat, SupportsInt, Union

import numpy as np
import numpy.typing as npt

from . import _check, errors
from ._ffi import EPOCH_FN, STEP_FN, lib
from ._native import NativeObject
from .schedules import BASE_AGREE, LRScheduler, ReduceLROnPlateau, Schedule, for_group, initial_lr, schedule_base
from .tensor import DTypeLike, FloatArray, Tensor, wrap

if TYPE_CHECKING:
    from matplotlib.figure import Figure  # type: ignore[import-not-found, unused-ignore]

    from .graph import Node
    from .models import Model
    from .optim import Optimizer

#: The per-epoch record a callback gets: "epoch", "loss", and "accuracy", "val_loss",
#: "val_accuracy" when measured (a step callback gets "epoch", "batch" and "loss").
Logs = dict[str, float]


class StepCallback(Protocol):
    def on_step_end(self, step: int, logs: Logs) -> object: ...


class EpochCallback(Protocol):
    def on_epoch_end(self, epoch: int, logs: Logs) -> object: ...


#: A fit callback: an object with on_step_end and/or on_epoch_end, or a callable f(epoch, logs).
Callback = Union[StepCallback, EpochCallback, Callable[[int, Logs], object]]

__all__ = ["DataLoader", "Trainer", "History", "StopTraining", "fit", "evaluate", "random_restarts",
           "lr_range_test", "RestartRun", "RestartsResult", "RangeTestResult"]

_COLUMNS = 6  # DESCENT_HISTORY_COLUMNS: loss, accuracy, val_loss, val_accuracy, steps, skipped


class StopTraining(Exception):
    """Raise it from a :func:`fit` callback to end training cleanly after the current step or
    epoch (the History records ``stop_reason == "callback"``). Any other exception ends training
    and propagates."""


def _check_model(model: object) -> Model:
    from .models import Model
    if not isinstance(model, Model):
        raise TypeError(f"model must be a descent.Model (e.g. descent.MLP), got {type(model).__name__}")
    return model


def _check_optimizer(optimizer: object, allow_none: bool = False) -> Optional[Optimizer]:
    from .optim import Optimizer
    if optimizer is None and allow_none:
        return None
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a descent.optim optimizer, got {type(optimizer).__name__}")
    return optimizer


def _restore_rates(optimizer: Optional[Optimizer],
                   saved: Sequence[tuple[MutableMapping[str, Any], Mapping[str, Any]]]) -> None:
    """Puts back each group's lr and initial_lr as they were before a refused Trainer set them."""
    for group, values in saved:
        group.pop("initial_lr", None)
        group.update(values)
    if saved and optimizer is not None and not optimizer.closed:
        optimizer._sync()


def _schedule_epoch_end(schedule: Any, optimizer: Optimizer, logs: Mapping[str, float]) -> None:
    """The end of an epoch of fit for its schedule: a per-epoch LRScheduler steps, a
    ReduceLROnPlateau steps on val_loss (else loss); the optimizer's new settings then go to C."""
    if isinstance(schedule, LRScheduler) and schedule.interval == "epoch":
        schedule.step()
    elif isinstance(schedule, ReduceLROnPlateau):
        schedule.step(logs.get("val_loss", logs["loss"]))
    else:
        return
    optimizer._sync()


def _check_loader(loader: object) -> DataLoader:
    if not isinstance(loader, DataLoader):
        raise TypeError(f"loader must be a descent.DataLoader, got {type(loader).__name__}")
    return loader


def _check_path(path: object, name: str = "path") -> None:
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike) or None, got {type(path).__name__}")


def _count(value: object, name: str, minimum: int, limit: int = 2**63) -> int:
    number = _check.integer(value, name)
    if not minimum <= number < limit:
        raise errors.InvalidArgumentError(f"{name} must be an int in [{minimum}, {limit}), got {number}")
    return number


def _save(figure: Any, path: Union[str, "os.PathLike[str]"]) -> None:
    try:
        figure.savefig(path, dpi=110)
    except ValueError as error:  # an unknown file extension
        raise errors.InvalidArgumentError(f"cannot save a plot to {path!r}: {error}") from None


def _float_array(x: npt.ArrayLike, dtype: np.dtype[Any], name: str) -> FloatArray:
    array: npt.NDArray[Any] = _check.array(x, name)
    if array.ndim < 1:
        raise errors.ShapeError(f"{name} needs a sample axis, got a scalar")
    if array.dtype != dtype or not array.flags.c_contiguous or not array.flags.aligned or not array.flags.writeable:
        if array.dtype.kind not in "fiub":
            raise errors.DTypeError(f"{name} must hold numbers, got {array.dtype}")
        array = np.array(array, dtype=dtype, order="C", copy=True)
    return array


class DataLoader(NativeObject):
    """Mini-batches over ``x`` (N, ...) and ``y``: integer class labels (N,) or float targets
    (N, ...), or None (C: ``descent_loader``). ``batch_size`` None means N (batch gradient
    descent). ``shuffle`` draws epoch e's order from ``seed`` (a Fisher-Yates permutation from
    SplitMix64); ``drop_last`` skips the last partial batch. ``dtype`` is the graph's dtype (x and
    float y are converted once if needed; C-contiguous arrays of that dtype are read in place)."""

    _FREE = "descent_loader_free"
    _KIND = "data loader"
    _COPY_HINT = "; make another DataLoader from the same arrays"

    def __init__(self, x: npt.ArrayLike, y: Optional[npt.ArrayLike] = None, *, batch_size: Optional[int] = 32,
                 shuffle: bool = True, seed: SupportsInt = 0, drop_last: bool = False,
                 dtype: DTypeLike = np.float64) -> None:
        kind = _check.dtype(dtype)
        inputs = _float_array(x, kind, "x")
        count = inputs.shape[0]
        if batch_size is None:
            batch_size = max(count, 1)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int or None, got {type(batch_size).__name__}")
        seed = _check.integer(seed, "seed")
        if not 0 <= seed < 2**64:
            raise errors.InvalidArgumentError(f"seed must be in [0, 2**64), got {seed}")
        shuffle, drop_last = _check.flag(shuffle, "shuffle"), _check.flag(drop_last, "drop_last")
        labels: Optional[npt.NDArray[np.int64]] = None
        targets: Optional[FloatArray] = None
        if y is not None:
            y_array: npt.NDArray[Any] = _check.array(y, "y")
            if y_array.dtype.kind in "iu":
                labels = np.ascontiguousarray(y_array.reshape(-1), dtype=np.int64)
                if y_array.ndim != 1:
                    raise errors.ShapeError(f"labels must be 1-d (one per sample), got shape {y_array.shape}")
            else:
                targets = _float_array(y_array, kind, "y")
        self._x = inputs
        self._targets = targets
        self.labels = labels
        self._x_tensor: Optional[Tensor] = wrap(inputs)
        self._target_tensor: Optional[Tensor] = wrap(targets) if targets is not None else None
        flags = (1 if shuffle else 0) | (2 if drop_last else 0)
        handle = ctypes.c_uint64()
        try:
            lib.descent_loader_new(self._x_tensor.handle,
                                   self._target_tensor.handle if self._target_tensor is not None else 0,
                                   labels.ctypes.data if labels is not None else None,
                                   0 if labels is None else labels.size, int(batch_size), flags, int(seed),
                                   ctypes.byref(handle))
        except BaseException:
            self._close_tensors()
            raise
        self._handle = handle.value
        self.batch_size, self.shuffle, self.seed, self.drop_last = int(batch_size), bool(shuffle), int(seed), bool(drop_last)
        self.dtype = kind

    def __len__(self) -> int:
        """Batches per epoch."""
        count = ctypes.c_int64()
        lib.descent_loader_batch_count(self._handle, ctypes.byref(count))
        return int(count.value)

    @property
    def has_labels(self) -> bool:
        """True when y held integer class labels (False for float targets or no y)."""
        return self.labels is not None

    def set_epoch(self, epoch: SupportsInt) -> None:
        """Fixes the sample order of epoch `epoch`."""
        lib.descent_loader_set_epoch(self._handle, _check.integer(epoch, "epoch"))

    def batch_indices(self, batch: SupportsInt) -> npt.NDArray[np.int64]:
        """The sample indices of batch `batch` of the current epoch."""
        out: npt.NDArray[np.int64] = np.empty(self.batch_size, dtype=np.int64)
        count = ctypes.c_int64()
        lib.descent_loader_batch_indices(self._handle, _check.integer(batch, "batch"), out.ctypes.data, out.size,
                                         ctypes.byref(count))
        return out[:count.value]

    def _close_tensors(self) -> None:
        for tensor in (getattr(self, "_x_tensor", None), getattr(self, "_target_tensor", None)):
            if tensor is not None:
                tensor.close()

    def close(self) -> None:
        """Frees the loader (idempotent)."""
        super().close()
        self._close_tensors()


class Trainer(NativeObject):
    """The one-call training step over a model (C: ``descent_trainer``): forward, backward,
    optional clipping (``clip_norm``), the learning rate from an optional :class:`Schedule`
    (``schedule_unit`` "step" or "epoch") and the optimizer's update. ``optimizer`` None makes an
    evaluation-only trainer. The optimizer's params must be params of the model's graph.

    The schedule meets the optimizer's lr as in :mod:`descent.schedules`: one made without lr0
    follows each group's lr (``initial_lr``); one with its own rate must agree with it
    (InvalidArgumentError otherwise) unless ``override_lr=True``."""

    _FREE = "descent_trainer_free"
    _KIND = "trainer"
    _COPY_HINT = "; make another Trainer for the model and optimizer"

    def __init__(self, model: Model, optimizer: Optional[Optimizer] = None, *, schedule: Optional[Schedule] = None,
                 schedule_unit: str = "step", clip_norm: Optional[SupportsFloat] = None,
                 override_lr: bool = False) -> None:
        if not isinstance(schedule_unit, str) or schedule_unit not in ("step", "epoch"):
            raise errors.InvalidArgumentError(f"schedule_unit must be 'step' or 'epoch', got {schedule_unit!r}")
        if schedule is not None and not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a descent.schedules.Schedule, got {type(schedule).__name__}")
        base = schedule_base(schedule, override_lr) if schedule is not None else 0
        _check_model(model)
        _check_optimizer(optimizer, allow_none=True)
        if schedule is not None and optimizer is not None and base == BASE_AGREE:
            for index, group in enumerate(optimizer.param_groups):
                for_group(schedule, group, index, override_lr)   # a conflict, said in Python's terms
        self.model, self.optimizer = model, optimizer
        graph = model.graph
        # Each group's (lr, initial_lr) before this constructor sets them: a refused Trainer puts
        # them back, so that it leaves the optimizer as it was.
        saved: list[tuple[MutableMapping[str, Any], dict[str, Any]]] = []
        try:
            if optimizer is not None:
                optimizer._check_open()
                if schedule is not None:
                    # The library checks or rebases against each group's initial_lr (as LRScheduler).
                    for group in optimizer.param_groups:
                        saved.append((group, {key: group[key] for key in ("lr", "initial_lr") if key in group}))
                        group["lr"] = initial_lr(group)
                optimizer._sync()
            handle = ctypes.c_uint64()
            lib.descent_trainer_new(graph.handle, optimizer.handle if optimizer is not None else 0,
                                    model.loss.index, ctypes.byref(handle))
        except BaseException:
            _restore_rates(optimizer, saved)
            raise
        self._handle = handle.value
        try:
            target = model.target.index if model.target is not None else -1
            output = model.output.index if getattr(model, "classifier", False) else -1
            lib.descent_trainer_set_nodes(self._handle, model.input.index, target, output)
            if schedule is not None:
                per_epoch = 1 if schedule_unit == "epoch" else 0
                if base == BASE_AGREE:
                    lib.descent_trainer_set_schedule(self._handle, schedule._handle, per_epoch)
                else:
                    lib.descent_trainer_set_schedule_ex(self._handle, schedule._handle, per_epoch, base)
            if clip_norm is not None:
                lib.descent_trainer_set_clip_norm(self._handle, _check.real(clip_norm, "clip_norm"))
            lib.descent_trainer_set_epoch(self._handle, int(getattr(model, "epochs_trained", 0)))
        except BaseException:
            self.close()
            _restore_rates(optimizer, saved)
            raise
        self._schedule = schedule
        if optimizer is not None:
            optimizer._unbind()  # the library now binds the graph's gradient buffer
        self._loss, self._correct, self._skipped = ctypes.c_double(), ctypes.c_int64(), ctypes.c_int32()

    def step(self, feed: Optional[Mapping[Node, npt.ArrayLike]] = None) -> float:
        """One training step on the inputs bound to the graph (``feed`` binds them first);
        returns the loss before the update."""
        if feed is not None:
            self.model.graph.feed(feed)
        if self.optimizer is not None:
            self.optimizer._sync()
        lib.descent_trainer_step(self._handle, ctypes.byref(self._loss), ctypes.byref(self._skipped))
        return float(self._loss.value)

    def step_batch(self, loader: DataLoader, batch: int) -> tuple[float, int]:
        """One training step on batch `batch` of `loader`'s current epoch; returns (loss, correct)."""
        _check_loader(loader)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
            raise TypeError(f"batch must be an int, got {type(batch).__name__}")
        handle = self._handle  # a closed trainer raises here, before the graph hears of a binding
        try:
            lib.descent_trainer_step_batch(handle, loader.handle, int(batch), ctypes.byref(self._loss),
                                           ctypes.byref(self._correct), ctypes.byref(self._skipped))
        finally:
            self._loaders_bound(loader)
        return float(self._loss.value), int(self._correct.value)

    def backward_batch(self, loader: DataLoader, batch: int, part: int = 0, parts: int = 1) -> tuple[float, int, int]:
        """The gradient half of a data-parallel step (C ``descent_trainer_backward_batch``): forward
        and backward on part `part` of `parts` of batch `batch` (rows part·B/parts ..
        (part+1)·B/parts of its B samples), updating nothing. The gradients land in
        ``model.graph.grad_buffer`` scaled by n/B (n = the part's samples), so the sum over the
        parts is the whole batch's gradient for a mean loss. Returns (the part's mean loss,
        correct predictions or -1, n)."""
        _check_loader(loader)
        for name, value in (("batch", batch), ("part", part), ("parts", parts)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        samples = ctypes.c_int64()
        try:
            lib.descent_trainer_backward_batch(self._handle, loader.handle, int(batch), int(part), int(parts),
                                               ctypes.byref(self._loss), ctypes.byref(self._correct),
                                               ctypes.byref(samples))
        finally:
            self._loaders_bound(loader)
        return float(self._loss.value), int(self._correct.value), int(samples.value)

    def apply(self) -> bool:
        """The update half of a data-parallel step (C ``descent_trainer_apply``): clipping, the
        schedule and the optimizer's update with whatever ``model.graph.grad_buffer`` holds now
        (e.g. the allreduced sum of every rank's :meth:`backward_batch`). Returns False when the
        "skip" policy skipped it (non-finite gradient), else True."""
        if self.optimizer is not None:
            self.optimizer._sync()
        lib.descent_trainer_apply(self._handle, ctypes.byref(self._skipped))
        return not self._skipped.value

    def evaluate(self, loader: DataLoader) -> tuple[float, float]:
        """(loss, accuracy) over every batch of `loader` in evaluation mode."""
        _check_loader(loader)
        loss, accuracy = ctypes.c_double(), ctypes.c_double()
        handle = self._handle  # a closed trainer raises here, before the graph hears of a binding
        try:
            lib.descent_trainer_evaluate(handle, loader.handle, ctypes.byref(loss), ctypes.byref(accuracy))
        finally:
            self._loaders_bound(loader)
        return float(loss.value), float(accuracy.value)

    def _loaders_bound(self, *loaders: Optional[DataLoader]) -> None:
        """The library bound these loaders' batches to the model's input and target nodes: tell the
        graph, so a later feed of a previously fed array binds it again."""
        sizes = [loader.batch_size for loader in loaders if loader is not None]
        graph = self.model.graph
        if sizes and graph.handle:
            graph._rebound((self.model.input, self.model.target), max(sizes))

    @property
    def epoch(self) -> int:
        """Completed epochs (numbers the shuffles and per-epoch schedules)."""
        value = ctypes.c_int64()
        lib.descent_trainer_epoch(self._handle, ctypes.byref(value))
        return int(value.value)


class History:
    """What :func:`fit` recorded. ``history`` maps "loss", "accuracy" (classifiers), "val_loss"
    and "val_accuracy" (with validation data) to one value per epoch (Keras's layout);
    ``step_losses`` holds every step's loss; ``best_epoch`` indexes the epoch with the lowest
    monitored loss (val_loss, else loss); ``stopped_early`` says whether patience ran out and
    ``stop_reason`` why training ended before its last epoch: "patience", "callback" (a callback
    raised :class:`StopTraining`) or None."""

    def __init__(self, rows: npt.NDArray[np.float64], step_losses: npt.ArrayLike, epochs: Iterable[int],
                 best_epoch: int, stopped_early: int, classifier: bool, validation: bool,
                 stop_reason: Optional[str] = None) -> None:
        try:
            self._record(rows, step_losses, epochs, best_epoch, stopped_early, classifier, validation, stop_reason)
        except (TypeError, ValueError, IndexError, KeyError) as error:
            raise TypeError("History holds what fit recorded: rows of 6 numbers per epoch (loss, accuracy, val_loss, "
                            "val_accuracy, steps, skipped), the step losses, the epoch numbers, the best epoch (an int, "
                            f"-1 for none) and flags; {type(error).__name__}: {error}") from None

    def _record(self, rows: npt.NDArray[np.float64], step_losses: npt.ArrayLike, epochs: Iterable[int],
                best_epoch: object, stopped_early: object, classifier: object, validation: object,
                stop_reason: Optional[str]) -> None:
        classifier, validation = _check.flag(classifier, "classifier"), _check.flag(validation, "validation")
        stopped_early = _check.flag(stopped_early, "stopped_early")
        best_epoch = _check.integer(best_epoch, "best_epoch")
        self.epoch: list[int] = list(epochs)
        self.stop_reason: Optional[str] = "patience" if stopped_early else stop_reason
        self.history: dict[str, list[float]] = {"loss": [float(r[0]) for r in rows]}
        if classifier:
            self.history["accuracy"] = [float(r[1]) for r in rows]
        if validation:
            self.history["val_loss"] = [float(r[2]) for r in rows]
            if classifier:
                self.history["val_accuracy"] = [float(r[3]) for r in rows]
        self.skipped_steps: list[int] = [int(r[5]) for r in rows]
        self.step_losses: npt.NDArray[np.float64] = np.asarray(step_losses, dtype=np.float64)
        self.best_epoch: Optional[int] = None if best_epoch < 0 else int(best_epoch)
        self.stopped_early = bool(stopped_early)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data: {"epoch": [...], "history": {...}, "step_losses": [...], "best_epoch",
        "stopped_early"}."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()},
                "step_losses": self.step_losses.tolist(), "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "stop_reason": self.stop_reason}

    def as_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The per-epoch series as NumPy arrays (same keys as ``history``, plus "epoch")."""
        arrays: dict[str, npt.NDArray[Any]] = {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}
        arrays["epoch"] = np.asarray(self.epoch, dtype=np.int64)
        return arrays

    def plot(self, path: Optional[Union[str, os.PathLike[str]]] = None, title: Optional[str] = None) -> Figure:
        """Draws the loss curves (per step and per epoch, and validation) and, for classifiers,
        accuracy; saves a PNG to `path` when given (default None) with an optional `title`
        (default None). Returns a matplotlib Figure of its own (not registered with pyplot, so
        nothing accumulates; save it with ``figure.savefig``). Needs matplotlib."""
        _check_path(path)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title must be a str or None, got {type(title).__name__}")
        from matplotlib.figure import Figure as MatplotlibFigure  # type: ignore[import-not-found, unused-ignore]
        accuracy = "accuracy" in self.history
        # A Figure of its own (not pyplot's global list): nothing accumulates across calls.
        figure = MatplotlibFigure(figsize=(11 if accuracy else 6, 4))
        made: Any = figure.subplots(1, 2 if accuracy else 1)
        axes: list[Any] = list(made) if accuracy else [made]
        steps_per_epoch = len(self.step_losses) / max(len(self.epoch), 1)
        if len(self.step_losses):
            x = np.arange(1, len(self.step_losses) + 1) / max(steps_per_epoch, 1)
            axes[0].plot(x, self.step_losses, color="0.75", linewidth=0.8, label="step loss")
        epochs = np.arange(1, len(self.epoch) + 1)
        axes[0].plot(epochs, self.history["loss"], marker="o", label="loss")
        if "val_loss" in self.history:
            axes[0].plot(epochs, self.history["val_loss"], marker="o", label="val_loss")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].set_yscale("log")
        axes[0].legend()
        if accuracy:
            axes[1].plot(epochs, self.history["accuracy"], marker="o", label="accuracy")
            if "val_accuracy" in self.history:
                axes[1].plot(epochs, self.history["val_accuracy"], marker="o", label="val_accuracy")
            axes[1].set_xlabel("epoch")
            axes[1].set_ylabel("accuracy")
            axes[1].legend()
        if title:
            figure.suptitle(title)
        figure.tight_layout()
        if path is not None:
            _save(figure, path)
        shown: Figure = figure
        return shown

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History({len(self.epoch)} epochs, last={last}, best_epoch={self.best_epoch})"


class _Progress:
    """tqdm bars, one per epoch; silent when disabled."""

    def __init__(self, enabled: bool, epochs: int, steps: int) -> None:
        self.bar: Any = None
        self.epochs, self.steps = epochs, steps
        self.tqdm: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm  # type: ignore[import-untyped, import-not-found, unused-ignore]
                self.tqdm = tqdm
            except ImportError:
                self.tqdm = None
        self.enabled = enabled

    def start_epoch(self, epoch_index: int) -> None:
        if self.tqdm is not None:
            self.bar = self.tqdm(total=self.steps, desc=f"epoch {epoch_index + 1}/{self.epochs}", leave=True,
                                 unit="step", dynamic_ncols=True, file=sys.stderr)

    def step(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if self.bar.n % 20 == 0 or self.bar.n == self.steps:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def end_epoch(self, logs: Logs) -> None:
        text = " ".join(f"{k}={v:.4f}" for k, v in logs.items() if isinstance(v, float) and not math.isnan(v))
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.close()
            self.bar = None
        elif self.enabled:
            print(f"epoch {logs['epoch'] + 1}/{self.epochs}: {text}", file=sys.stderr)


def _progress_default(progress: Optional[bool]) -> bool:
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return _check.flag(progress, "progress")


def _loaders(model: Model, x: npt.ArrayLike, y: Optional[npt.ArrayLike], batch_size: Optional[int], shuffle: bool,
             seed: SupportsInt, drop_last: bool, validation_data: Optional[tuple[npt.ArrayLike, npt.ArrayLike]],
             optimizer: Optional[Optimizer] = None) -> tuple[DataLoader, Optional[DataLoader]]:
    _check_model(model)
    _check_optimizer(optimizer, allow_none=True)
    dtype = model.graph.dtype
    train = DataLoader(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, dtype=dtype)
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (x_val, y_val)")
        eval_batch = max(train.batch_size, 256)
        validation = DataLoader(validation_data[0], validation_data[1], batch_size=eval_batch, shuffle=False,
                                dtype=dtype)
    return train, validation


def _callback_methods(callbacks: Optional[Iterable[Callback]]) -> tuple[list[Callable[[int, Logs], object]],
                                                                       list[Callable[[int, Logs], object]]]:
    steps: list[Callable[[int, Logs], object]] = []
    epochs: list[Callable[[int, Logs], object]] = []
    for callback in callbacks or ():
        if hasattr(callback, "on_step_end") or hasattr(callback, "on_epoch_end"):
            if hasattr(callback, "on_step_end"):
                steps.append(callback.on_step_end)
            if hasattr(callback, "on_epoch_end"):
                epochs.append(callback.on_epoch_end)
        elif callable(callback):
            epochs.append(callback)
        else:
            raise TypeError(f"a callback must be callable or have on_step_end/on_epoch_end, got {type(callback).__name__}")
    return steps, epochs


def fit(model: Model, optimizer: Optimizer, x: npt.ArrayLike, y: Optional[npt.ArrayLike] = None, *, epochs: int = 1,
        batch_size: Optional[int] = 32, shuffle: bool = True, seed: SupportsInt = 0, drop_last: bool = False,
        validation_data: Optional[tuple[npt.ArrayLike, npt.ArrayLike]] = None,
        schedule: Optional[Union[Schedule, LRScheduler, ReduceLROnPlateau]] = None, schedule_unit: str = "step",
        clip_norm: Optional[SupportsFloat] = None, patience: Optional[int] = None, min_delta: SupportsFloat = 0.0,
        restore_best_weights: bool = False, callbacks: Iterable[Callback] = (), progress: Optional[bool] = None,
        override_lr: bool = False, comm: Any = None, shard_state: bool = False) -> History:
    """Trains `model` (an :class:`~descent.models.MLP` or any :class:`~descent.models.Model`)
    with `optimizer` on (x, y) and returns a :class:`History`.

    - ``batch_size``: None for batch gradient descent, 1 for stochastic, else mini-batch (default 32);
      ``shuffle`` (default True) reshuffles every epoch from ``seed`` (default 0); ``drop_last``
      (default False) skips a last partial batch.
    - ``validation_data=(x_val, y_val)``: evaluated after every epoch (evaluation mode).
    - ``schedule``: a :class:`~descent.schedules.Schedule` applied inside the library per
      ``schedule_unit`` ("step", default, or "epoch"), or an :class:`~descent.LRScheduler`
      (stepped per its interval) or :class:`~descent.ReduceLROnPlateau` (stepped with the
      monitored loss after each epoch). A Schedule made without lr0 follows the optimizer's lr;
      one with its own rate must agree with it, unless ``override_lr=True`` lets the schedule's
      rates replace the optimizer's (see :mod:`descent.schedules`).
    - ``clip_norm``: clip the global L2 norm of the gradients before each update.
    - Early stopping: ``patience`` epochs without the monitored loss (val_loss, else loss)
      falling by more than ``min_delta`` stops training; ``restore_best_weights`` puts back the
      best epoch's parameters (and batch-norm statistics) at the end.
    - ``callbacks``: objects with ``on_step_end(step, logs)`` and/or ``on_epoch_end(epoch, logs)``,
      or plain callables ``f(epoch, logs)`` run after each epoch (return values are ignored); a
      callback raising :class:`StopTraining` ends training cleanly (``history.stop_reason ==
      "callback"``); any other exception ends training and propagates.
    - ``progress``: a tqdm bar per epoch; None (default) shows it only on a terminal.

    - ``comm``: an mpi4py communicator: data-parallel training over its ranks (every rank calls
      fit with the same data; ``batch_size`` is the global batch; metrics are global), with
      ``shard_state=True`` sharding the optimizer state (ZeRO-1). See :mod:`descent.distributed`
      (``restore_best_weights`` is not available there).

    Epoch numbers continue across calls on the same model (``model.epochs_trained``)."""
    restore_best_weights = _check.flag(restore_best_weights, "restore_best_weights")
    shard_state = _check.flag(shard_state, "shard_state")
    if comm is not None:
        if restore_best_weights:
            raise errors.InvalidArgumentError("restore_best_weights is not supported with comm (data-parallel fit)")
        from . import distributed
        return distributed.fit(model, optimizer, x, y, comm=comm, epochs=epochs, batch_size=batch_size,
                               shuffle=shuffle, seed=seed, drop_last=drop_last, validation_data=validation_data,
                               schedule=schedule, schedule_unit=schedule_unit, clip_norm=clip_norm,
                               patience=patience, min_delta=min_delta, callbacks=callbacks, progress=progress,
                               override_lr=override_lr, shard_state=shard_state)
    if shard_state:
        raise errors.InvalidArgumentError("shard_state=True needs comm (an mpi4py communicator)")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise errors.InvalidArgumentError(f"epochs must be an int >= 0, got {epochs!r}")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1):
        raise errors.InvalidArgumentError(f"patience must be an int >= 1 or None, got {patience!r}")
    if schedule is not None and not isinstance(schedule, (Schedule, LRScheduler, ReduceLROnPlateau)):
        raise TypeError(f"schedule must be a Schedule, LRScheduler or ReduceLROnPlateau, got {type(schedule).__name__}")
    min_delta = _check.real(min_delta, "min_delta")
    train, validation = _loaders(model, x, y, batch_size, shuffle, seed, drop_last, validation_data, optimizer)
    native_schedule = schedule if isinstance(schedule, Schedule) else None
    trainer = Trainer(model, optimizer, schedule=native_schedule, schedule_unit=schedule_unit, clip_norm=clip_norm,
                      override_lr=override_lr)
    step_callbacks, epoch_callbacks = _callback_methods(callbacks)
    steps_per_epoch = len(train)
    progress_bar = _progress_default(progress)
    bar = _Progress(progress_bar, epochs, steps_per_epoch)
    state: dict[str, Any] = {"error": None, "step": 0, "epoch_index": 0, "stop_reason": None}
    drives_steps = isinstance(schedule, LRScheduler) and schedule.interval == "step"
    classifier = getattr(model, "classifier", False) and train.has_labels

    def on_step(_context: object, epoch: int, batch: int, loss: float) -> int:
        try:
            if batch == 0:
                bar.start_epoch(state["epoch_index"])
            bar.step(loss)
            logs: Logs = {"loss": loss, "epoch": int(epoch), "batch": int(batch)}
            state["step"] += 1
            if drives_steps and isinstance(schedule, LRScheduler):
                schedule.step()
                optimizer._sync()
            stop = False
            for callback in step_callbacks:
                try:
                    callback(state["step"] - 1, logs)
                except StopTraining:
                    stop = True
            if stop:
                state["stop_reason"] = "callback"
            return 1 if stop else 0
        except BaseException as exc:  # never let an exception unwind through C
            state["error"] = exc
            return errors.CallbackError.code or 12

    def on_epoch(_context: object, epoch: int, metrics: Any) -> int:
        try:
            logs: Logs = {"epoch": int(epoch), "loss": float(metrics[0])}
            if classifier:
                logs["accuracy"] = metrics[1]
            if validation is not None:
                logs["val_loss"] = metrics[2]
                if classifier:
                    logs["val_accuracy"] = metrics[3]
            bar.end_epoch(logs)
            state["epoch_index"] += 1
            _schedule_epoch_end(schedule, optimizer, logs)
            stop = False
            for callback in epoch_callbacks:
                try:
                    callback(int(epoch), dict(logs))
                except StopTraining:
                    stop = True
            if stop:
                state["stop_reason"] = "callback"
            return 1 if stop else 0
        except BaseException as exc:
            state["error"] = exc
            return errors.CallbackError.code or 12

    state["step_hooked"] = bool(step_callbacks or drives_steps or progress_bar)
    step_fn = STEP_FN(on_step) if state["step_hooked"] else STEP_FN()
    epoch_fn = EPOCH_FN(on_epoch)
    history: npt.NDArray[np.float64] = np.zeros((max(epochs, 1), _COLUMNS), dtype=np.float64)
    step_losses: npt.NDArray[np.float64] = np.zeros(max(epochs * steps_per_epoch, 1), dtype=np.float64)
    summary = (ctypes.c_int64 * 4)()
    start_epoch = trainer.epoch
    try:
        lib.descent_trainer_fit(trainer.handle, train.handle, validation.handle if validation else 0, int(epochs),
                                int(patience or 0), min_delta, 1 if restore_best_weights else 0,
                                step_fn, epoch_fn, None, history.ctypes.data, epochs, step_losses.ctypes.data,
                                step_losses.size if epochs else 0, summary)
    except errors.CallbackError:
        error = state["error"]
        if error is not None:
            raise error
        raise
    finally:
        trainer._loaders_bound(train, validation)
        if bar.bar is not None:
            bar.bar.close()
        model.epochs_trained = trainer.epoch
        if optimizer is not None and optimizer.handle:
            optimizer._refresh_groups()
        trainer.close()
        train.close()
        if validation is not None:
            validation.close()
    run, steps = summary[0], summary[1]
    return History(history[:run], step_losses[:steps], range(start_epoch, start_epoch + run), summary[2],
                   summary[3], classifier, validation is not None, state["stop_reason"])


def evaluate(model: Model, x: npt.ArrayLike, y: Optional[npt.ArrayLike], batch_size: int = 256) -> dict[str, float]:
    """{"loss": ..., "accuracy": ...} of `model` on (x, y) in evaluation mode (accuracy only for
    classifiers), batch_size rows at a time (default 256). The loss is the batch-size-weighted mean of the loss node over the batches,
    which is the dataset's loss for mean-reduced costs."""
    _check_model(model)
    loader = DataLoader(x, y, batch_size=batch_size, shuffle=False, dtype=model.graph.dtype)
    trainer = Trainer(model, None)
    try:
        loss, accuracy = trainer.evaluate(loader)
    finally:
        trainer.close()
        loader.close()
    result: dict[str, float] = {"loss": loss}
    if getattr(model, "classifier", False) and loader.has_labels:
        result["accuracy"] = accuracy
    return result


class RestartRun(NamedTuple):
    """One random restart: the init seed, the final training loss, the best monitored loss
    (val_loss with validation data, else training loss), the validation accuracy at that epoch,
    epochs run."""

    seed: int
    final_loss: float
    best_loss: float
    val_accuracy: float
    epochs: int


class RestartsResult:
    """Results of :func:`random_restarts`: ``runs`` (one :data:`RestartRun` each), ``best`` (the
    index of the lowest best_loss) and ``best_run``."""

    def __init__(self, runs: list[RestartRun], best: int) -> None:
        runs = _check.sequence(runs, "runs", "RestartRun records")
        best = _check.integer(best, "best")
        if not -1 <= best < len(runs):
            raise errors.InvalidArgumentError(f"best must index runs ({len(runs)}) or be -1 for none, got {best}")
        self.runs = runs
        self.best: Optional[int] = None if best < 0 else best
        self.best_run: Optional[RestartRun] = None if best < 0 else runs[best]

    def __repr__(self) -> str:
        return f"RestartsResult({len(self.runs)} runs, best={self.best}, best_loss={getattr(self.best_run, 'best_loss', None)})"


def random_restarts(model: Model, optimizer: Optimizer, x: npt.ArrayLike, y: Optional[npt.ArrayLike] = None, *,
                    restarts: int = 5, seed: SupportsInt = 0, epochs: int = 1, batch_size: Optional[int] = 32,
                    shuffle: bool = True, data_seed: SupportsInt = 0, drop_last: bool = False,
                    validation_data: Optional[tuple[npt.ArrayLike, npt.ArrayLike]] = None,
                    patience: Optional[int] = None, min_delta: SupportsFloat = 0.0) -> RestartsResult:
    """Random restarts (a classic remedy for poor local minima): trains the model `restarts`
    times from different random initializations (run k from seed ``SplitMix64(seed).output(k)``,
    with fresh optimizer state and the same shuffles from ``data_seed``), each for ``epochs``
    (default 1) epochs of ``batch_size`` (default 32) with ``shuffle`` (default True) and
    ``drop_last`` (default False), with early stopping after ``patience`` epochs without an
    improvement above ``min_delta`` (default 0.0), keeping each run's best epoch. Returns a :class:`RestartsResult`; the model ends holding the best run's parameters
    (lowest validation loss, or training loss without validation data). Every trainable param
    needs an initializer (an :class:`~descent.models.MLP` has them)."""
    restarts = _count(restarts, "restarts", 1)
    seed = _count(seed, "seed", 0, 2**64)
    epochs = _count(epochs, "epochs", 0)
    patience = 0 if patience is None else _count(patience, "patience", 1)
    min_delta = _check.real(min_delta, "min_delta")
    train, validation = _loaders(model, x, y, batch_size, shuffle, data_seed, drop_last, validation_data,
                                 _check_optimizer(optimizer))
    trainer = Trainer(model, optimizer)
    results: npt.NDArray[np.float64] = np.zeros((int(restarts), 4), dtype=np.float64)
    seeds: npt.NDArray[np.uint64] = np.zeros(int(restarts), dtype=np.uint64)
    best = ctypes.c_int64()
    try:
        lib.descent_trainer_restarts(trainer.handle, restarts, seed, train.handle,
                                     validation.handle if validation else 0, epochs, patience,
                                     min_delta, results.ctypes.data, seeds.ctypes.data, ctypes.byref(best))
    finally:
        trainer._loaders_bound(train, validation)
        trainer.close()
        train.close()
        if validation is not None:
            validation.close()
    runs = [RestartRun(int(s), float(r[0]), float(r[1]), float(r[2]), int(r[3])) for s, r in zip(seeds, results)]
    return RestartsResult(runs, int(best.value))


class RangeTestResult:
    """Results of :func:`lr_range_test`: ``lrs``, ``losses``, ``smoothed`` (arrays, one entry per
    step taken), ``suggested`` (the rate of steepest descent of the smoothed loss against
    log(lr)) and ``diverged``."""

    def __init__(self, lrs: npt.NDArray[np.float64], losses: npt.NDArray[np.float64],
                 smoothed: npt.NDArray[np.float64], suggested: float, diverged: bool) -> None:
        self.lrs, self.losses, self.smoothed = lrs, losses, smoothed
        self.suggested, self.diverged = suggested, diverged

    def plot(self, path: Optional[Union[str, os.PathLike[str]]] = None) -> Figure:
        """Loss against learning rate (log axis) with the suggestion marked; saves a PNG to `path`
        when given (default None); returns the Figure."""
        _check_path(path)
        from matplotlib.figure import Figure as MatplotlibFigure  # type: ignore[import-not-found, unused-ignore]
        figure = MatplotlibFigure(figsize=(6, 4))
        axis = figure.subplots()
        axis.plot(self.lrs, self.losses, color="0.75", label="loss")
        axis.plot(self.lrs, self.smoothed, label="smoothed loss")
        if not math.isnan(self.suggested):
            axis.axvline(self.suggested, color="C3", linestyle="--", label=f"suggested {self.suggested:.2g}")
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.set_ylabel("loss")
        axis.legend()
        figure.tight_layout()
        if path is not None:
            _save(figure, path)
        shown: Figure = figure
        return shown

    def __repr__(self) -> str:
        return f"RangeTestResult({len(self.lrs)} steps, suggested={self.suggested:.3g}, diverged={self.diverged})"


def lr_range_test(model: Model, optimizer: Optimizer, x: npt.ArrayLike, y: Optional[npt.ArrayLike] = None, *,
                  start: SupportsFloat = 1e-7, end: SupportsFloat = 10.0, steps: int = 100,
                  batch_size: Optional[int] = 32, smoothing: SupportsFloat = 0.98, divergence: SupportsFloat = 4.0,
                  shuffle: bool = True, seed: SupportsInt = 0) -> RangeTestResult:
    """The learning-rate range test (Smith 2017): up to `steps` steps with the rate growing
    exponentially from `start` to `end`, recording the loss and its debiased exponential average
    (factor `smoothing`); stops when the smoothed loss exceeds `divergence` times its minimum.
    Batches of ``batch_size`` (default 32), shuffled (``shuffle``, default True) from ``seed``
    (default 0). The model's parameters and the optimizer's state and rates are restored
    afterwards. Returns a :class:`RangeTestResult`."""
    start, end = _check.real(start, "start"), _check.real(end, "end")
    steps = _count(steps, "steps", 2, 2**31)
    smoothing, divergence = _check.real(smoothing, "smoothing"), _check.real(divergence, "divergence")
    train, _ = _loaders(model, x, y, batch_size, shuffle, seed, False, None, _check_optimizer(optimizer))
    trainer = Trainer(model, optimizer)
    lrs: npt.NDArray[np.float64] = np.zeros(int(steps))
    losses: npt.NDArray[np.float64] = np.zeros(int(steps))
    smoothed: npt.NDArray[np.float64] = np.zeros(int(steps))
    points, suggested = ctypes.c_int64(), ctypes.c_double()
    try:
        lib.descent_trainer_range_test(trainer.handle, train.handle, start, end, steps,
                                       smoothing, divergence, lrs.ctypes.data, losses.ctypes.data,
                                       smoothed.ctypes.data, ctypes.byref(points), ctypes.byref(suggested))
    finally:
        trainer._loaders_bound(train)
        trainer.close()
        train.close()
    n = int(points.value)
    return RangeTestResult(lrs[:n], losses[:n], smoothed[:n], float(suggested.value), n < int(steps))
