"""Learning-rate schedules, reduce-on-plateau, and a driver that sets an optimizer's rates.

A :class:`Schedule` is an immutable function from a step index ``t`` to a learning rate, living
in libdescent (C: ``descent_schedule``). ``schedule(t)`` has no side effects: evaluate it at any
step, in any order, as often as you like.

What ``t`` means: the number of COMPLETED steps (or epochs), like PyTorch's ``last_epoch``.
``schedule(0)`` is the rate for the first update, and for every decaying schedule it is the
initial rate. Where PyTorch has the schedule, ``schedule(t)`` equals PyTorch's closed form at
``last_epoch = t``. The learning-rate decay of the deeplearning.ai course notes,
``lr0 / (1 + decay_rate * epoch)`` with ``lr0 = 0.2, decay_rate = 1``, reads
``schedule(1..4) = 0.1, 0.0667, 0.05, 0.04``.

Schedules and the optimizer's own learning rate (PyTorch's convention: a scheduler starts from
the optimizer's ``lr``). Every rate-setting factory takes its starting rate (``lr0``; ``lr`` of
:func:`constant`, ``max_lr`` of :func:`one_cycle`) as an optional first argument:

- left out, the schedule FOLLOWS THE OPTIMIZER: driving one, it starts from (is rebased to) each
  group's ``lr``, as ``torch.optim.lr_scheduler`` does. On its own it evaluates with a starting
  rate of 1, so ``schedule(t)`` is the factor applied to the optimizer's rate (eta_min and
  end_lr stay absolute rates, as in PyTorch);
- given, the schedule has a rate of its own, which must equal the optimizer's ``lr``: a
  conflict raises :class:`~descent.InvalidArgumentError`, never a silent choice. Pass
  ``override_lr=True`` (to :class:`LRScheduler`, :class:`~descent.Trainer`,
  :func:`~descent.fit`) to let the schedule's rates replace the optimizer's instead.

The optimizer's ``lr`` here is the rate a group had when a schedule first drove it
(``group["initial_lr"]``, recorded then, as PyTorch does), not what an earlier schedule left.

Quick start::

    from descent import schedules
    optimizer = descent.optim.SGD(params, lr=0.1)
    cos = schedules.with_warmup(schedules.cosine_annealing(t_max=900), warmup_steps=100)
    sched = schedules.LRScheduler(optimizer, cos, interval="step")   # starts from lr 0.1
    for batch in batches:
        optimizer.step(grads)
        sched.step()                     # sets optimizer.param_groups[i]["lr"] = 0.1 * cos(t)

See docs/schedules.md for every formula.
"""

from __future__ import annotations

import copy
import ctypes
import math
import numbers
from collections.abc import Mapping, MutableMapping
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, SupportsFloat, Union

import numpy as np
import numpy.typing as npt

from . import _check, _ffi, errors
from ._ffi import lib
from ._native import NativeObject

#: A real number argument (Python or NumPy scalar).
Real = Union[float, int, np.floating[Any], np.integer[Any]]


class OptimizerLike(Protocol):
    """What a scheduler drives: anything with a list of group dicts holding ``"lr"`` (the
    :mod:`descent.optim` optimizers; a stand-in works too)."""

    @property
    def param_groups(self) -> list[dict[str, Any]]: ...


#: DESCENT_SCHEDULE_BASE_*: whose learning rate counts when a schedule drives an optimizer.
BASE_AGREE, BASE_OPTIMIZER, BASE_SCHEDULE = 0, 1, 2

__all__ = [
    "Schedule", "constant", "inverse_time", "exponential", "inverse_power", "inverse_sqrt",
    "step_decay", "multi_step", "piecewise_constant", "cosine_annealing", "cosine_warm_restarts",
    "linear", "linear_warmup", "polynomial", "one_cycle", "sequential", "with_warmup",
    "Plateau", "LRScheduler", "ReduceLROnPlateau",
]

_INT64_MAX = 2**63 - 1
_ANNEAL = {"cos": 0, "linear": 1}
_MODES = {"min": 0, "max": 1}
_THRESHOLD_MODES = {"rel": 0, "abs": 1}
_INTERVALS = ("step", "epoch")


def _integer(value: object, name: str) -> int:
    """An int in int64 range; bools, floats and other types raise InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise errors.InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    result = int(value)
    if not -_INT64_MAX - 1 <= result <= _INT64_MAX:
        raise errors.InvalidArgumentError(f"{name} {result} does not fit in int64")
    return result


def _real(value: object, name: str) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _choice(value: object, table: Mapping[str, int], name: str) -> int:
    if not isinstance(value, str) or value not in table:
        raise errors.InvalidArgumentError(
            f"{name} must be one of {', '.join(repr(k) for k in table)}, got {value!r}")
    return table[value]


def _required(value: Optional[object], name: str, factory: str) -> object:
    """A required argument that follows an optional starting rate in a factory's signature."""
    if value is None:
        raise TypeError(f"{factory}() needs {name}")
    return value


def _plain(value: object) -> Any:
    """A config value as plain Python (int, float, bool, str, lists), so configs compare by value."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _plain(value.item())
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    return value


def _from_config(config: Mapping[str, Any]) -> Schedule:
    """A new Schedule from :attr:`Schedule.config` (the inverse of config)."""
    composite = ("sequential", "with_warmup", "rebased")
    if not isinstance(config, Mapping) or (config.get("kind") not in _FACTORIES and config.get("kind") not in composite):
        raise errors.InvalidArgumentError(f"not a schedule config: {config!r}")
    arguments = {name: value for name, value in config.items() if name != "kind"}
    if config["kind"] in ("with_warmup", "rebased"):
        # A warmup into a schedule, or a schedule rebased to a group's lr: made from the inner one.
        with _from_config(arguments.pop("schedule")) as inner:
            if config["kind"] == "rebased":
                return inner.rebased(arguments["lr"])
            return with_warmup(inner, **arguments)
    if config["kind"] != "sequential":
        made: Schedule = _FACTORIES[config["kind"]](**arguments)
        return made
    parts = [_from_config(part) for part in arguments["schedules"]]
    try:
        return sequential(parts, arguments["milestones"])
    finally:
        for part in parts:
            part.close()


def _describe(value: object) -> str:
    """How a wrong argument is named in a message: its type, and its value when short."""
    if callable(value) and hasattr(value, "__name__") and not isinstance(value, type):
        return f"the function {value.__name__} (call it to make a Schedule, e.g. {value.__name__}(...))"
    text = repr(value)
    return type(value).__name__ + ("" if len(text) > 60 else f" {text}")


def _check_schedule(value: object, name: str) -> Schedule:
    if not isinstance(value, Schedule):
        hint = f" (a fixed rate is schedules.constant({value!r}))" if isinstance(value, numbers.Real) \
            and not isinstance(value, bool) else ""
        raise TypeError(f"{name} must be a descent.schedules.Schedule, made by a factory such as "
                        f"schedules.cosine_annealing(0.1, t_max=100); got {_describe(value)}{hint}")
    return value


def _int64_array(values: Iterable[object], name: str) -> tuple[int, ctypes.Array[ctypes.c_int64]]:
    items = [_integer(v, name) for v in values]
    return len(items), (ctypes.c_int64 * max(len(items), 1))(*items)


class Schedule(NativeObject):
    """A learning-rate schedule owned by libdescent (C: ``descent_schedule``).

    Call it (``schedule(t)``) or use :meth:`value` / :meth:`values`. Release it with
    :meth:`close` (idempotent), a ``with`` block, or garbage collection. A closed schedule raises
    :class:`~descent.ClosedError` (an :class:`~descent.InvalidHandleError`). Schedules built from it (``sequential``) keep working.
    """

    __slots__ = ("_raw", "kind", "parameters", "follows_optimizer", "_config", "__weakref__")
    _KIND = "schedule"
    _raw: int
    #: The factory that made it ("cosine_annealing", ...).
    kind: str
    #: The factory's arguments, for repr().
    parameters: dict[str, Any]
    #: True when made without a starting rate: driving an optimizer it starts from the group's lr.
    follows_optimizer: bool
    _config: dict[str, Any]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("use the factory functions in descent.schedules to make a Schedule")

    @classmethod
    def _make(cls, function: Callable[..., Any], arguments: Sequence[Any], kind: str,
              parameters: dict[str, Any], follows: bool = False, *,
              config: Optional[dict[str, Any]] = None) -> Schedule:
        handle = _ffi.handle_t()
        function(*arguments, ctypes.byref(handle))
        self = object.__new__(cls)
        self._handle = handle.value
        self.kind = kind
        self.parameters = parameters
        self.follows_optimizer = follows
        self._config = config if config is not None else \
            {"kind": kind, **{name: _plain(value) for name, value in parameters.items()}}
        return self

    @property
    def config(self) -> dict[str, Any]:
        """What the schedule was made from, as plain Python values: ``{"kind": factory name,
        argument: value, ...}`` (a ``sequential`` holds its parts' configs under "schedules", a
        ``with_warmup`` or ``rebased`` schedule the inner one's under "schedule"). Equal configs
        make equal schedules; :class:`LRScheduler` saves it in its state_dict and refuses to load
        a state saved with another. Readable after close."""
        return copy.deepcopy(self._config)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.copy, copy.deepcopy and pickle make a new native schedule from the config (a copy
        # sharing this one's handle would break when either is closed).
        self._check_open()
        return _from_config, (self.config,)

    def _check_open(self) -> None:
        self._handle  # noqa: B018  (raises ClosedError after close)

    @property
    def base_lr(self) -> Optional[float]:
        """The rate the schedule is built around (lr0, a constant's lr, one-cycle's max_lr, the
        first piecewise value, a sequential schedule's first part's), or None when it follows
        the optimizer's lr."""
        rate = ctypes.c_double()
        lib.descent_schedule_base_rate(self._handle, ctypes.byref(rate))
        return None if self.follows_optimizer else float(rate.value)

    def rebased(self, lr: Real) -> Schedule:
        """This schedule built around ``lr`` instead (what driving a group with that lr uses for a
        schedule that follows the optimizer): lr0 (max_lr, a constant's lr) becomes ``lr``;
        eta_min and end_lr stay; piecewise values and the parts of a sequential schedule scale
        by ``lr / base``. C: ``descent_schedule_rebase``."""
        rate = _real(lr, "lr")
        handle = _ffi.handle_t()
        lib.descent_schedule_rebase(self._handle, rate, ctypes.byref(handle))
        other = object.__new__(Schedule)
        other._handle = handle.value
        other.kind = self.kind
        other.parameters = {**self.parameters, "rebased_to": rate}
        other.follows_optimizer = False
        other._config = {"kind": "rebased", "schedule": self.config, "lr": rate}
        return other

    def value(self, step: int) -> float:
        """The learning rate at step ``step`` (an int >= 0). Never changes the schedule."""
        rate = ctypes.c_double()
        lib.descent_schedule_value(self._handle, _integer(step, "step"), ctypes.byref(rate))
        return float(rate.value)

    def __call__(self, step: int) -> float:
        """``value(step)``."""
        return self.value(step)

    def values(self, count: int, start: int = 0) -> npt.NDArray[np.float64]:
        """A float64 array of ``value(start + i)`` for i in range(count), in one C call."""
        n = _integer(count, "count")
        first = _integer(start, "start")
        out: npt.NDArray[np.float64] = np.empty(max(n, 0), dtype=np.float64)
        lib.descent_schedule_values(self._handle, first, n, out.ctypes.data if n > 0 else None)
        return out

    def momentum(self, step: int) -> float:
        """The momentum at step ``step`` for a schedule that cycles it: ``one_cycle`` with
        ``cycle_momentum=True``, or a ``sequential`` / ``with_warmup`` composite with such a part,
        which carries the cycle through as PyTorch's SequentialLR does (while another part runs:
        the momentum the last cycling part ended with, or before any has run, the next one's
        ``max_momentum``). Pure, like :meth:`value`. Raises :class:`~descent.UnsupportedError`
        for every other schedule and :class:`~descent.InvalidArgumentError` for a step outside
        the answering one-cycle's ``0..total_steps``."""
        momentum = ctypes.c_double()
        lib.descent_schedule_momentum(self._handle, _integer(step, "step"), ctypes.byref(momentum))
        return float(momentum.value)

    def momenta(self, count: int, start: int = 0) -> npt.NDArray[np.float64]:
        """A float64 array of ``momentum(start + i)`` for i in range(count) (see :meth:`momentum`)."""
        n = _integer(count, "count")
        first = _integer(start, "start")
        if n < 0:
            raise errors.InvalidArgumentError(f"count {n} is negative")
        return np.array([self.momentum(first + i) for i in range(n)], dtype=np.float64)

    @property
    def cycles_momentum(self) -> bool:
        """True when :meth:`momentum` is supported (asks libdescent)."""
        try:
            self.momentum(0)
        except errors.UnsupportedError:
            return False
        return True

    _FREE = "descent_schedule_free"

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        state = " (closed)" if self.closed else ""
        return f"<descent.schedules.{self.kind}({arguments}){state}>"


def _start(value: Optional[Real], name: str) -> tuple[float, bool]:
    """(rate to build with, follows the optimizer): a left-out starting rate builds the schedule
    around 1 (so it is the factor on the optimizer's rate) and marks it as following."""
    if value is None:
        return 1.0, True
    return _real(value, name), False


def constant(lr: Optional[Real] = None) -> Schedule:
    """``lr(t) = lr`` — a fixed ("manually set") rate. Without ``lr``: the optimizer's own rate."""
    rate, follows = _start(lr, "lr")
    return Schedule._make(lib.descent_schedule_new_constant, [rate], "constant", {"lr": lr}, follows)


def inverse_time(lr0: Optional[Real] = None, decay_rate: Optional[Real] = None) -> Schedule:
    """Epoch decay ``lr(t) = lr0 / (1 + decay_rate * t)`` (the learning-rate decay of the
    deeplearning.ai course notes; cs231n's 1/t decay). ``decay_rate`` is required."""
    rate, follows = _start(lr0, "lr0")
    decay = _real(_required(decay_rate, "decay_rate", "inverse_time"), "decay_rate")
    return Schedule._make(lib.descent_schedule_new_inverse_time, [rate, decay],
                          "inverse_time", {"lr0": lr0, "decay_rate": decay_rate}, follows)


def exponential(lr0: Optional[Real] = None, gamma: Optional[Real] = None) -> Schedule:
    """Exponential decay ``lr(t) = lr0 * gamma**t`` (PyTorch ExponentialLR; the deeplearning.ai
    notes' ``0.95**epoch``). ``gamma`` is required."""
    rate, follows = _start(lr0, "lr0")
    factor = _real(_required(gamma, "gamma", "exponential"), "gamma")
    return Schedule._make(lib.descent_schedule_new_exponential, [rate, factor],
                          "exponential", {"lr0": lr0, "gamma": gamma}, follows)


def inverse_power(lr0: Optional[Real] = None, k: Real = 1.0, power: Real = 0.5, offset: Real = 1.0) -> Schedule:
    """``lr(t) = lr0 * k / (t + offset)**power``.

    power 0.5 is the deeplearning.ai notes' ``k / sqrt(epoch) * lr0`` (or ``k / sqrt(t) * lr0``
    per minibatch); power 1 is ``k / epoch``. ``offset`` (> 0) keeps t = 0 defined; offset 1 maps
    the 0-based t onto the 1-based epoch number.
    """
    rate, follows = _start(lr0, "lr0")
    return Schedule._make(lib.descent_schedule_new_inverse_power,
                          [rate, _real(k, "k"), _real(power, "power"), _real(offset, "offset")],
                          "inverse_power", {"lr0": lr0, "k": k, "power": power, "offset": offset}, follows)


def inverse_sqrt(lr0: Optional[Real] = None, k: Real = 1.0, offset: Real = 1.0) -> Schedule:
    """``lr(t) = lr0 * k / sqrt(t + offset)`` (``inverse_power`` with power 0.5)."""
    return inverse_power(lr0, k=k, power=0.5, offset=offset)


def step_decay(lr0: Optional[Real] = None, step_size: Optional[int] = None, gamma: Real = 0.1) -> Schedule:
    """Staircase decay ``lr(t) = lr0 * gamma**(t // step_size)`` (PyTorch StepLR). ``step_size``
    is required."""
    rate, follows = _start(lr0, "lr0")
    size = _integer(_required(step_size, "step_size", "step_decay"), "step_size")
    return Schedule._make(lib.descent_schedule_new_step, [rate, size, _real(gamma, "gamma")],
                          "step_decay", {"lr0": lr0, "step_size": step_size, "gamma": gamma}, follows)


def multi_step(lr0: Optional[Real] = None, milestones: Optional[Iterable[int]] = None, gamma: Real = 0.1) -> Schedule:
    """``lr(t) = lr0 * gamma**(number of milestones <= t)`` (PyTorch MultiStepLR).

    Milestones (ints >= 0, required) may come in any order; a repeated milestone applies gamma
    again.
    """
    rate, follows = _start(lr0, "lr0")
    listed = _check.sequence(_required(milestones, "milestones", "multi_step"), "milestones", "ints")
    count, marks = _int64_array(listed, "milestone")
    return Schedule._make(lib.descent_schedule_new_multi_step, [rate, marks, count, _real(gamma, "gamma")],
                          "multi_step", {"lr0": lr0, "milestones": listed, "gamma": gamma}, follows)


def piecewise_constant(boundaries: Iterable[int], values: Iterable[Real]) -> Schedule:
    """Hand-picked rates: ``lr(t) = values[i]`` with i = number of boundaries <= t.

    ``boundaries`` are strictly increasing ints >= 1 (boundary b is the first step of the next
    value); ``values`` has one more entry than ``boundaries``. Its base rate is ``values[0]``.
    """
    listed_boundaries = _check.sequence(boundaries, "boundaries", "ints")
    listed_values = _check.sequence(values, "values", "rates")
    count, marks = _int64_array(listed_boundaries, "boundary")
    rates = [_real(v, "value") for v in listed_values]
    if len(rates) != count + 1:
        raise errors.InvalidArgumentError(
            f"piecewise_constant needs {count + 1} values for {count} boundaries, got {len(rates)}")
    array = (ctypes.c_double * len(rates))(*rates)
    return Schedule._make(lib.descent_schedule_new_piecewise_constant, [marks, count, array],
                          "piecewise_constant", {"boundaries": listed_boundaries, "values": listed_values})


def cosine_annealing(lr0: Optional[Real] = None, t_max: Optional[int] = None, eta_min: Real = 0.0) -> Schedule:
    """PyTorch CosineAnnealingLR's closed form (Loshchilov & Hutter, SGDR, 2017):
    ``lr(t) = eta_min + (lr0 - eta_min) * (1 + cos(pi * t / t_max)) / 2``
    (past t_max the cosine continues, rising again). ``t_max`` is required."""
    rate, follows = _start(lr0, "lr0")
    period = _integer(_required(t_max, "t_max", "cosine_annealing"), "t_max")
    return Schedule._make(lib.descent_schedule_new_cosine, [rate, period, _real(eta_min, "eta_min")],
                          "cosine_annealing", {"lr0": lr0, "t_max": t_max, "eta_min": eta_min}, follows)


def cosine_warm_restarts(lr0: Optional[Real] = None, t_0: Optional[int] = None, t_mult: int = 1,
                         eta_min: Real = 0.0) -> Schedule:
    """SGDR (Loshchilov & Hutter 2017; PyTorch CosineAnnealingWarmRestarts): cycle i lasts
    ``t_0 * t_mult**i`` steps; at position T_cur of a cycle of length T_i,
    ``lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``. ``t_0`` is required."""
    rate, follows = _start(lr0, "lr0")
    first = _integer(_required(t_0, "t_0", "cosine_warm_restarts"), "t_0")
    return Schedule._make(lib.descent_schedule_new_cosine_warm_restarts,
                          [rate, first, _integer(t_mult, "t_mult"), _real(eta_min, "eta_min")],
                          "cosine_warm_restarts", {"lr0": lr0, "t_0": t_0, "t_mult": t_mult, "eta_min": eta_min},
                          follows)


def linear(lr0: Optional[Real] = None, start_factor: Real = 1.0 / 3, end_factor: Real = 1.0,
           total_iters: int = 5) -> Schedule:
    """PyTorch LinearLR:
    ``lr(t) = lr0 * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)``."""
    rate, follows = _start(lr0, "lr0")
    return Schedule._make(lib.descent_schedule_new_linear,
                          [rate, _real(start_factor, "start_factor"), _real(end_factor, "end_factor"),
                           _integer(total_iters, "total_iters")],
                          "linear", {"lr0": lr0, "start_factor": start_factor, "end_factor": end_factor,
                                     "total_iters": total_iters}, follows)


def linear_warmup(lr0: Optional[Real] = None, warmup_steps: Optional[int] = None, start_factor: Real = 0.0) -> Schedule:
    """Linear warmup from ``start_factor * lr0`` to ``lr0`` over ``warmup_steps`` (required), then
    flat."""
    steps = _integer(_required(warmup_steps, "warmup_steps", "linear_warmup"), "warmup_steps")
    return linear(lr0, start_factor=start_factor, end_factor=1.0, total_iters=steps)


def polynomial(lr0: Optional[Real] = None, total_iters: int = 5, power: Real = 1.0, end_lr: Real = 0.0) -> Schedule:
    """``lr(t) = (lr0 - end_lr) * (1 - min(t, total_iters) / total_iters)**power + end_lr``
    (PyTorch PolynomialLR when end_lr = 0)."""
    rate, follows = _start(lr0, "lr0")
    return Schedule._make(lib.descent_schedule_new_polynomial,
                          [rate, _integer(total_iters, "total_iters"), _real(power, "power"), _real(end_lr, "end_lr")],
                          "polynomial", {"lr0": lr0, "total_iters": total_iters, "power": power, "end_lr": end_lr},
                          follows)


def one_cycle(max_lr: Optional[Real] = None, total_steps: Optional[int] = None, pct_start: Real = 0.3,
              anneal_strategy: str = "cos", div_factor: Real = 25.0, final_div_factor: Real = 1e4,
              three_phase: bool = False, *, cycle_momentum: bool = True, base_momentum: Real = 0.85,
              max_momentum: Real = 0.95) -> Schedule:
    """The one-cycle policy (Smith & Topin, "Super-Convergence", 2018) with PyTorch OneCycleLR's
    semantics and defaults. ``total_steps`` is required; without ``max_lr`` the peak is the
    optimizer's lr.

    initial = max_lr / div_factor, min = initial / final_div_factor. Two phases: initial -> max_lr
    until step ``pct_start * total_steps - 1``, then max_lr -> min until ``total_steps - 1``.
    ``three_phase=True``: initial -> max_lr, max_lr -> initial (ending at
    ``2 * pct_start * total_steps - 2``), initial -> min. ``anneal_strategy`` is "cos"
    (``end + (start - end) / 2 * (1 + cos(pi * pct))``) or "linear". Valid steps 0..total_steps.

    ``cycle_momentum=True`` (PyTorch's default) also cycles the momentum, inversely to the rate,
    over the same phases with the same annealing: max_momentum -> base_momentum while the rate
    rises, back to max_momentum while it falls (three phases: max -> base, base -> max, then flat
    at max). Read it with :meth:`Schedule.momentum`; :class:`LRScheduler` applies it to the
    optimizer (``momentum`` for SGD/RMSprop, beta1 of ``betas`` for the Adam family). Bounds:
    ``0 <= base_momentum <= max_momentum``, finite (C: ``descent_schedule_new_one_cycle_momentum``).
    With ``cycle_momentum=False`` the bounds are ignored, as in PyTorch.
    """
    rate, follows = _start(max_lr, "max_lr")
    steps = _integer(_required(total_steps, "total_steps", "one_cycle"), "total_steps")
    strategy = _choice(anneal_strategy, _ANNEAL, "anneal_strategy")
    three_phase, cycle_momentum = _check.flag(three_phase, "three_phase"), _check.flag(cycle_momentum, "cycle_momentum")
    arguments: list[Any] = [rate, steps, _real(pct_start, "pct_start"),
                            strategy, _real(div_factor, "div_factor"), _real(final_div_factor, "final_div_factor"),
                            1 if three_phase else 0]
    parameters: dict[str, Any] = {"max_lr": max_lr, "total_steps": total_steps, "pct_start": pct_start,
                                  "anneal_strategy": anneal_strategy, "div_factor": div_factor,
                                  "final_div_factor": final_div_factor, "three_phase": three_phase,
                                  "cycle_momentum": cycle_momentum}
    if not cycle_momentum:
        return Schedule._make(lib.descent_schedule_new_one_cycle, arguments, "one_cycle", parameters, follows)
    parameters.update(base_momentum=base_momentum, max_momentum=max_momentum)
    return Schedule._make(lib.descent_schedule_new_one_cycle_momentum,
                          arguments + [_real(base_momentum, "base_momentum"), _real(max_momentum, "max_momentum")],
                          "one_cycle", parameters, follows)


def sequential(schedules: Iterable[Schedule], milestones: Iterable[int]) -> Schedule:
    """Schedules one after another (PyTorch SequentialLR): ``schedules[i]`` runs on
    ``[milestones[i-1], milestones[i])`` and restarts its count there:
    ``lr(t) = schedules[i](t - milestones[i-1])`` (milestones[-1] = 0).

    Either every part follows the optimizer (made without a starting rate) or none does; the
    result is of the same kind (mixing them raises InvalidArgumentError)."""
    if not isinstance(schedules, (list, tuple)):
        raise TypeError(f"schedules must be a list of descent.schedules.Schedule, got {_describe(schedules)}")
    parts = [_check_schedule(part, f"schedules[{index}]") for index, part in enumerate(schedules)]
    listed = _check.sequence(milestones, "milestones", "ints (the steps where the next schedule starts)")
    count, marks = _int64_array(listed, "milestone")
    if count != len(parts) - 1:
        raise errors.InvalidArgumentError(
            f"sequential needs {max(len(parts) - 1, 0)} milestones for {len(parts)} schedules, got {count}")
    following = {part.follows_optimizer for part in parts}
    if len(following) > 1:
        raise errors.InvalidArgumentError(
            "sequential mixes schedules that follow the optimizer's lr (made without lr0) with schedules "
            "that have their own; make every part one way")
    handles = (_ffi.handle_t * max(len(parts), 1))(*[p._handle for p in parts])
    config = {"kind": "sequential", "schedules": [p.config for p in parts], "milestones": _plain(listed)}
    return Schedule._make(lib.descent_schedule_new_sequential, [handles, len(parts), marks],
                          "sequential", {"schedules": [p.kind for p in parts], "milestones": listed},
                          following == {True}, config=config)


def with_warmup(schedule: Schedule, warmup_steps: int, start_factor: Real = 0.0) -> Schedule:
    """Linear warmup for ``warmup_steps`` steps into ``schedule``, which then starts at its own
    step 0: ``lr(t) = schedule(0) * (start_factor + (1 - start_factor) * t / warmup_steps)`` for
    t < warmup_steps, else ``schedule(t - warmup_steps)``. Follows the optimizer when
    ``schedule`` does."""
    _check_schedule(schedule, "schedule")
    with linear_warmup(schedule.value(0), warmup_steps, start_factor) as ramp:
        ramp.follows_optimizer = schedule.follows_optimizer
        made = sequential([ramp, schedule], [warmup_steps])
    # Its config names the warmup (the ramp's rate is schedule(0), which a following schedule
    # computes around 1, so a plain sequential config would not rebuild it).
    made._config = {"kind": "with_warmup", "schedule": schedule.config, "warmup_steps": _plain(warmup_steps),
                    "start_factor": _plain(start_factor)}
    return made


_FACTORIES: dict[str, Callable[..., Schedule]] = {"constant": constant, "inverse_time": inverse_time, "exponential": exponential,
              "inverse_power": inverse_power, "step_decay": step_decay, "multi_step": multi_step,
              "piecewise_constant": piecewise_constant, "cosine_annealing": cosine_annealing,
              "cosine_warm_restarts": cosine_warm_restarts, "linear": linear, "polynomial": polynomial,
              "one_cycle": one_cycle, "sequential": sequential}


class Plateau(NativeObject):
    """Reduce-on-plateau state (C: ``descent_plateau``), PyTorch ReduceLROnPlateau semantics.

    Per :meth:`update` with metric m::

        better = m < best * (1 - threshold)   (mode "min", threshold_mode "rel")
                 m < best - threshold         ("min", "abs")
                 m > best * (1 + threshold)   ("max", "rel")
                 m > best + threshold         ("max", "abs")
        if better: best = m; num_bad_epochs = 0   else: num_bad_epochs += 1
        if cooldown_counter > 0: cooldown_counter -= 1; num_bad_epochs = 0
        if num_bad_epochs > patience:
            new = max(lr * factor, min_lr); if lr - new > eps: lr = new
            cooldown_counter = cooldown; num_bad_epochs = 0

    ``best`` starts at +inf ("min") or -inf ("max"); a NaN metric counts as a bad epoch.
    """

    __slots__ = ("_raw", "_settings", "__weakref__")
    _KIND = "plateau scheduler"
    _raw: int

    def __init__(self, lr: Real, mode: str = "min", factor: Real = 0.1, patience: int = 10,
                 threshold: Real = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: Real = 0.0,
                 eps: Real = 1e-8) -> None:
        self._handle = 0
        handle = _ffi.handle_t()
        settings = {"lr": _real(lr, "lr"), "mode": mode, "factor": _real(factor, "factor"),
                    "patience": _integer(patience, "patience"), "threshold": _real(threshold, "threshold"),
                    "threshold_mode": threshold_mode, "cooldown": _integer(cooldown, "cooldown"),
                    "min_lr": _real(min_lr, "min_lr"), "eps": _real(eps, "eps")}
        lib.descent_plateau_new(settings["lr"], _choice(mode, _MODES, "mode"), settings["factor"],
                                settings["patience"], settings["threshold"],
                                _choice(threshold_mode, _THRESHOLD_MODES, "threshold_mode"),
                                settings["cooldown"], settings["min_lr"], settings["eps"], ctypes.byref(handle))
        self._settings = settings
        self._handle = handle.value

    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's arguments (``lr`` is the initial rate), as plain Python values."""
        return dict(self._settings)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.copy, copy.deepcopy and pickle make a new native plateau with these settings and
        # this state (a copy sharing this one's handle would break when either is closed).
        return _rebuild_plateau, (self.settings, self.state())

    def update(self, metric: Real) -> float:
        """Records one epoch's metric; returns the learning rate to use from now on."""
        rate = ctypes.c_double()
        lib.descent_plateau_update(self._handle, _real(metric, "metric"), ctypes.byref(rate))
        return float(rate.value)

    @property
    def lr(self) -> float:
        """The current learning rate."""
        rate = ctypes.c_double()
        lib.descent_plateau_lr(self._handle, ctypes.byref(rate))
        return float(rate.value)

    def state(self) -> dict[str, Any]:
        """dict(lr, best, num_bad_epochs, cooldown_counter, updates, settings): the counters and
        the settings they were reached with (:attr:`settings` without the initial ``lr``)."""
        best = ctypes.c_double()
        bad, cooldown, updates = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.descent_plateau_state(self._handle, ctypes.byref(best), ctypes.byref(bad), ctypes.byref(cooldown),
                                  ctypes.byref(updates))
        return {"lr": self.lr, "best": best.value, "num_bad_epochs": bad.value,
                "cooldown_counter": cooldown.value, "updates": updates.value, "settings": self._rules()}

    def _rules(self) -> dict[str, Any]:
        return {name: value for name, value in self._settings.items() if name != "lr"}

    def set_lr(self, lr: Real) -> None:
        """Replaces the current rate (a manual change; later reductions start from it)."""
        lib.descent_plateau_set_lr(self._handle, _real(lr, "lr"))

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restores a dict from :meth:`state` (all fields checked before anything changes). A
        state whose ``"settings"`` differ from this plateau's raises InvalidArgumentError naming
        the first difference (counters reached under other rules would be misread); a dict without
        ``"settings"`` is taken as counters only."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state(), not {type(state).__name__}")
        if "settings" in state:
            _check_same(state["settings"], self._rules(), "plateau settings")
        lib.descent_plateau_restore(self._handle, _real(state["lr"], "lr"), _real(state["best"], "best"),
                                    _integer(state["num_bad_epochs"], "num_bad_epochs"),
                                    _integer(state["cooldown_counter"], "cooldown_counter"),
                                    _integer(state["updates"], "updates"))

    _FREE = "descent_plateau_free"


def _rebuild_plateau(settings: Mapping[str, Any], state: Mapping[str, Any]) -> Plateau:
    plateau = Plateau(**settings)
    plateau.load_state(state)
    return plateau


_MISSING = object()


def _first_difference(saved: Any, mine: Any, path: str) -> Optional[tuple[str, Any, Any]]:
    """(path, saved value, this value) of the first difference between two configurations (dicts
    of plain values, lists and dicts of them), or None when they are equal."""
    if isinstance(mine, Mapping):
        if not isinstance(saved, Mapping):
            return path, saved, mine
        for name in list(mine) + [k for k in saved if k not in mine]:
            found = _first_difference(saved.get(name, _MISSING), mine.get(name, _MISSING),
                                      f"{path}.{name}" if path else str(name))
            if found:
                return found
        return None
    if isinstance(mine, list):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(mine):
            return path, saved, mine
        for index, (theirs, ours) in enumerate(zip(saved, mine)):
            found = _first_difference(theirs, ours, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(saved, np.ndarray) and saved.ndim > 0:
        return path, saved, mine  # never in a saved configuration; not converted (it may be huge)
    try:
        same = saved is not _MISSING and mine is not _MISSING and type(_plain(saved)) is not list \
            and bool(_plain(saved) == mine)
    except (TypeError, ValueError):
        same = False
    return None if same else (path, saved, mine)


def _check_same(saved: Any, mine: Any, what: str) -> None:
    """Raises InvalidArgumentError naming the first difference between a saved configuration and
    this object's."""
    found = _first_difference(saved, mine, "")
    if found:
        path, theirs, ours = found
        def shown(value: Any) -> str:
            if isinstance(value, np.ndarray) and value.ndim > 0:
                return f"an array of shape {value.shape}"
            return "nothing" if value is _MISSING else repr(value)
        where = path if path.startswith("[") else f" {path}" if path else ""
        raise errors.InvalidArgumentError(
            f"the state was saved with {what}{where} = {shown(theirs)}, this one has {shown(ours)}; load it "
            "into a scheduler built with the settings it was saved with")


def _param_groups(optimizer: object) -> list[MutableMapping[str, Any]]:
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        raise TypeError(f"{type(optimizer).__name__} has no param_groups; expected a descent.optim "
                        "optimizer or any object with a list of dicts holding 'lr'")
    listed: list[Any] = list(groups)
    if not listed:
        raise errors.InvalidArgumentError("the optimizer has no parameter groups")
    for index, group in enumerate(listed):
        if not isinstance(group, MutableMapping):
            raise TypeError(f"param_groups[{index}] is {type(group).__name__}, not a dict")
    return listed


def initial_lr(group: MutableMapping[str, Any]) -> float:
    """The group's rate as schedules see it: ``group["initial_lr"]``, recorded from
    ``group["lr"]`` the first time (PyTorch's ``setdefault("initial_lr", lr)``)."""
    if "initial_lr" not in group:
        group["initial_lr"] = group["lr"]
    return _real(group["initial_lr"], "the group's initial_lr")


def _initial_rate(group: Mapping[str, Any]) -> float:
    """:func:`initial_lr` without recording it (for checks that must change nothing when they fail)."""
    return _real(group["initial_lr"] if "initial_lr" in group else group["lr"], "the group's initial_lr")


def _rates_agree(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def schedule_base(schedule: Schedule, override_lr: bool) -> int:
    """The DESCENT_SCHEDULE_BASE_* code for driving an optimizer with ``schedule``: OPTIMIZER
    when it follows the optimizer, SCHEDULE when ``override_lr``, else AGREE."""
    if not isinstance(override_lr, bool):
        raise TypeError(f"override_lr must be True or False, got {override_lr!r}")
    if schedule.follows_optimizer:
        if override_lr:
            raise errors.InvalidArgumentError(
                "override_lr=True needs a schedule with a rate of its own; this one (made without lr0) "
                "follows the optimizer's lr")
        return BASE_OPTIMIZER
    return BASE_SCHEDULE if override_lr else BASE_AGREE


def for_group(schedule: Schedule, group: MutableMapping[str, Any], index: int,
              override_lr: bool) -> tuple[Schedule, bool]:
    """(the schedule a group follows, whether it is a new one to close): ``schedule`` itself, or
    rebased to the group's :func:`initial_lr`. A schedule with its own rate must agree with the
    group's (InvalidArgumentError otherwise) unless ``override_lr``."""
    base = schedule_base(schedule, override_lr)
    if base == BASE_SCHEDULE:
        return schedule, False
    rate = _initial_rate(group)
    if base == BASE_OPTIMIZER:
        return schedule.rebased(rate), True
    own = schedule.base_lr
    assert own is not None
    if not _rates_agree(own, rate):
        raise errors.InvalidArgumentError(
            f"the schedule starts from lr {own}, but param_groups[{index}] has lr {rate}: build the "
            f"optimizer with lr={own}, or make the schedule without lr0 so it follows the optimizer, "
            "or pass override_lr=True to let the schedule's rates replace the optimizer's")
    return schedule, False


class LRScheduler:
    """Drives ``optimizer.param_groups[i]["lr"]`` from a schedule, per step or per epoch.

    ``schedule`` is one :class:`Schedule` for every group, or a list with one per group. Whose
    rate counts (module docstring): a schedule made without a starting rate follows each group's
    lr (``group["initial_lr"]``, recorded from ``group["lr"]`` the first time, as PyTorch does); a
    schedule with its own rate must agree with it (:class:`~descent.InvalidArgumentError`
    otherwise, nothing changed) unless ``override_lr=True``. On construction every group's lr
    is set to its schedule's value at 0; each :meth:`step` advances the
    counter ``last_step`` by one and sets ``lr = schedule(last_step)``. ``interval`` says what one
    unit is: call :meth:`step` after every optimizer step ("step") or at the end of every epoch
    ("epoch"). A generic training loop can call both :meth:`batch_end` and :meth:`epoch_end`;
    only the one matching ``interval`` advances.

    Momentum cycling (PyTorch OneCycleLR with ``cycle_momentum=True``): for every group whose
    schedule cycles momentum (:attr:`Schedule.cycles_momentum`, e.g. ``one_cycle(...)`` with its
    default ``cycle_momentum=True``), each update also sets the group's momentum to
    ``schedule.momentum(t)``: ``group["betas"] = (m, *group["betas"][1:])`` when the group has
    ``"betas"`` (Adam, AdamW, Adamax, NAdam, RAdam, Lion: beta1), else ``group["momentum"] = m``
    (SGD, RMSprop). Like PyTorch, this replaces the momentum the optimizer was built with, from
    ``max_momentum`` at construction on. A group with neither key (Adagrad, Adadelta, a stand-in
    holding only ``"lr"``) raises :class:`~descent.InvalidArgumentError` (a ValueError, as
    PyTorch raises) at construction, changing nothing: pass ``cycle_momentum=False`` to
    ``one_cycle`` for such optimizers. The optimizer validates the value at its next step (e.g.
    Adam's beta1 must be < 1).

    If evaluating a schedule fails (e.g. one-cycle past total_steps) no group is changed and the
    counter does not move.
    """

    def __init__(self, optimizer: OptimizerLike, schedule: Union[Schedule, Sequence[Schedule]],
                 interval: str = "step", *, override_lr: bool = False) -> None:
        if not isinstance(interval, str) or interval not in _INTERVALS:
            raise errors.InvalidArgumentError(f"interval must be 'step' or 'epoch', got {_check.describe(interval)}")
        groups = _param_groups(optimizer)
        given: list[Schedule]
        if isinstance(schedule, Schedule):
            given = [schedule] * len(groups)
        elif isinstance(schedule, (list, tuple)):
            given = [_check_schedule(item, f"schedule[{index}]") for index, item in enumerate(schedule)]
            if len(given) != len(groups):
                raise errors.InvalidArgumentError(
                    f"{len(given)} schedules for {len(groups)} parameter groups (pass one Schedule for "
                    "every group, or a list with one per group)")
        else:
            raise TypeError("schedule must be a descent.schedules.Schedule (for every group) or a list of them "
                            "(one per parameter group), made by a factory such as "
                            f"schedules.cosine_annealing(0.1, t_max=100); got {_describe(schedule)}"
                            + (f" (a fixed rate is schedules.constant({schedule!r}))"
                               if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool) else ""))
        schedules: list[Schedule] = []
        owned: list[Schedule] = []
        try:
            for index, (group, item) in enumerate(zip(groups, given)):
                chosen, new = for_group(item, group, index, override_lr)
                schedules.append(chosen)
                if new:
                    owned.append(chosen)
        except BaseException:
            for extra in owned:
                extra.close()
            raise
        momentum_keys: list[Optional[str]] = []
        for index, (group, item) in enumerate(zip(groups, schedules)):
            if not item.cycles_momentum:
                momentum_keys.append(None)
            elif "betas" in group:
                momentum_keys.append("betas")
            elif "momentum" in group:
                momentum_keys.append("momentum")
            else:
                for extra in owned:
                    extra.close()
                raise errors.InvalidArgumentError(
                    f"param_groups[{index}] has neither 'momentum' nor 'betas', but its schedule cycles momentum; "
                    "use an optimizer with momentum (SGD, RMSprop) or beta1 (Adam family), or make the "
                    "one_cycle schedule with cycle_momentum=False")
        for group in groups:
            _initial_rate(group)
        for group in groups:
            initial_lr(group)  # recorded once every check has passed (a refused scheduler changes nothing)
        self.optimizer = optimizer
        self.schedules = schedules
        self.interval = interval
        self.override_lr = override_lr
        self.last_step = 0
        self._owned = owned
        self._momentum_keys = momentum_keys
        self._last_lr: list[float] = []
        self._last_momentum: list[Optional[float]] = []
        self._apply(0)

    def _apply(self, step: int) -> list[float]:
        # Everything is evaluated (and every new betas pair built) before any group changes.
        rates = [s.value(step) for s in self.schedules]
        updates: list[Any] = []
        for group, item, key in zip(self.optimizer.param_groups, self.schedules, self._momentum_keys):
            if key is None:
                updates.append(None)
                continue
            momentum = item.momentum(step)
            if key == "betas":
                betas = group["betas"]
                if not isinstance(betas, (tuple, list)) or not betas:
                    raise TypeError(f"betas must be a tuple (beta1, beta2, ...), got {betas!r}")
                updates.append((momentum, *tuple(betas)[1:]))
            else:
                updates.append(momentum)
        for group, rate, key, update in zip(self.optimizer.param_groups, rates, self._momentum_keys, updates):
            group["lr"] = rate
            if key is not None:
                group[key] = update
        self.last_step = step
        self._last_lr = rates
        self._last_momentum = [None if key is None else (u[0] if key == "betas" else u)
                               for key, u in zip(self._momentum_keys, updates)]
        return rates

    def step(self) -> list[float]:
        """Advances one step (or epoch) and sets every group's lr; returns the new rates."""
        return self._apply(self.last_step + 1)

    def batch_end(self) -> Optional[list[float]]:
        """Calls :meth:`step` when interval == "step"."""
        return self.step() if self.interval == "step" else None

    def epoch_end(self) -> Optional[list[float]]:
        """Calls :meth:`step` when interval == "epoch"."""
        return self.step() if self.interval == "epoch" else None

    def get_last_lr(self) -> list[float]:
        """The rates most recently set, one per group."""
        return list(self._last_lr)

    def close(self) -> None:
        """Frees the rebased schedules this scheduler made for groups that follow the optimizer
        (idempotent; the schedules you passed stay yours). Later steps raise ClosedError."""
        for schedule in self._owned:
            schedule.close()

    def get_last_momentum(self) -> list[Optional[float]]:
        """The momentum most recently set, one per group (None where the schedule does not
        cycle momentum)."""
        return list(self._last_momentum)

    def state_dict(self) -> dict[str, Any]:
        """``{"last_step": n, "interval": "step" | "epoch", "schedules": [config, ...]}`` (one
        :attr:`Schedule.config` per group: for a group that follows the optimizer, the schedule
        rebased to its lr), for :meth:`load_state_dict`."""
        return {"last_step": self.last_step, "interval": self.interval,
                "schedules": [item.config for item in self.schedules]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores ``last_step`` and re-applies the rates for it. The state must have been saved
        by a scheduler with the same interval and the same schedules (factory and every argument,
        per group): a state saved with other settings raises InvalidArgumentError naming the
        first difference, and nothing changes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state_dict(), not {type(state).__name__}")
        if "schedules" not in state:
            raise errors.InvalidArgumentError(
                "state has no 'schedules' (the schedule configuration it was saved with), so it cannot be checked "
                "against this scheduler's; pass a dict from LRScheduler.state_dict()")
        _check_same(state["schedules"], [item.config for item in self.schedules], "schedules")
        if not isinstance(state.get("interval", self.interval), str) or state.get("interval", self.interval) != self.interval:
            raise errors.InvalidArgumentError(
                f"state was saved with interval {state.get('interval')!r}, this scheduler uses {self.interval!r}")
        step = _integer(state["last_step"], "last_step")
        if step < 0:
            raise errors.InvalidArgumentError(f"last_step {step} is negative")
        self._apply(step)


class ReduceLROnPlateau:
    """PyTorch-style ReduceLROnPlateau over an optimizer's param_groups: call :meth:`step` with
    the monitored metric once per epoch. Each group gets its own :class:`Plateau` starting from
    the group's current lr (``min_lr`` may be a list, one per group). As in PyTorch, a reduction
    starts from the group's current lr, so a manual change to ``group["lr"]`` is honoured.
    Defaults (PyTorch's): mode "min", factor 0.1, patience 10, threshold 1e-4, threshold_mode
    "rel", cooldown 0, min_lr 0, eps 1e-8; the rule is :class:`Plateau`'s.
    """

    def __init__(self, optimizer: OptimizerLike, mode: str = "min", factor: Real = 0.1, patience: int = 10,
                 threshold: Real = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: Union[Real, Sequence[Real]] = 0.0, eps: Real = 1e-8) -> None:
        groups = _param_groups(optimizer)
        floors: list[Real]
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise errors.InvalidArgumentError(f"{len(min_lr)} min_lr values for {len(groups)} parameter groups")
            floors = list(min_lr)
        else:
            floors = [_real(min_lr, "min_lr")] * len(groups)
        self.optimizer = optimizer
        self.plateaus = [Plateau(group["lr"], mode=mode, factor=factor, patience=patience, threshold=threshold,
                                 threshold_mode=threshold_mode, cooldown=cooldown, min_lr=floor, eps=eps)
                         for group, floor in zip(groups, floors)]

    def step(self, metric: Real) -> list[float]:
        """Records one epoch's metric and sets every group's lr; returns the new rates."""
        value = _real(metric, "metric")
        for group, plateau in zip(self.optimizer.param_groups, self.plateaus):
            if group["lr"] != plateau.lr:       # changed by hand since the last step
                plateau.set_lr(group["lr"])
        rates = [plateau.update(value) for plateau in self.plateaus]
        for group, rate in zip(self.optimizer.param_groups, rates):
            group["lr"] = rate
        return rates

    def get_last_lr(self) -> list[float]:
        """The current rate of every group, one per group (as last set by :meth:`step`)."""
        return [plateau.lr for plateau in self.plateaus]

    @property
    def num_bad_epochs(self) -> int:
        """Epochs since the last improvement, of the first group's :class:`Plateau`."""
        return int(self.plateaus[0].state()["num_bad_epochs"])

    @property
    def best(self) -> float:
        """The best metric seen so far, of the first group's :class:`Plateau`."""
        return float(self.plateaus[0].state()["best"])

    def state_dict(self) -> dict[str, Any]:
        """``{"plateaus": [...]}``: one :meth:`Plateau.state` dict per group (counters and the
        settings they were reached with)."""
        return {"plateaus": [plateau.state() for plateau in self.plateaus]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restores :meth:`state_dict` output and sets every group's lr from it. The state must
        have been saved with the same settings (mode, factor, patience, threshold, threshold_mode,
        cooldown, min_lr, eps; per group): other settings raise InvalidArgumentError naming the
        first difference, and nothing changes."""
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict from state_dict(), not {type(state).__name__}")
        if "plateaus" not in state:
            raise KeyError("state has no 'plateaus'; pass a dict from ReduceLROnPlateau.state_dict()")
        saved = state["plateaus"]
        if not isinstance(saved, (list, tuple)) or not all(isinstance(entry, Mapping) for entry in saved):
            raise TypeError("state['plateaus'] must be a list of dicts, one per parameter group")
        if len(saved) != len(self.plateaus):
            raise errors.InvalidArgumentError(f"state has {len(saved)} groups, this scheduler {len(self.plateaus)}")
        for index, (plateau, entry) in enumerate(zip(self.plateaus, saved)):
            if "settings" not in entry:
                raise errors.InvalidArgumentError(
                    f"state['plateaus'][{index}] has no 'settings' (what it was saved with), so it cannot be checked "
                    "against this scheduler's; pass a dict from ReduceLROnPlateau.state_dict()")
            _check_same(entry["settings"], plateau._rules(), f"param_groups[{index}] settings")
        before = [plateau.state() for plateau in self.plateaus]
        try:
            for plateau, entry in zip(self.plateaus, saved):
                plateau.load_state(entry)
        except BaseException:
            for plateau, entry in zip(self.plateaus, before):  # all groups or none
                plateau.load_state(entry)
            raise
        for group, plateau in zip(self.optimizer.param_groups, self.plateaus):
            group["lr"] = plateau.lr

    def close(self) -> None:
        """Frees every group's native :class:`Plateau` (idempotent); the optimizer is untouched."""
        for plateau in self.plateaus:
            plateau.close()

