"""Learning-rate schedules, reduce-on-plateau, and a driver that sets an optimizer's rates.

A :class:`Schedule` is an immutable function from a step index ``t`` to a learning rate, living
in libdescent (C: ``descent_schedule``). ``schedule(t)`` has no side effects: evaluate it at any
step, in any order, as often as you like.

What ``t`` means: the number of COMPLETED steps (or epochs), like PyTorch's ``last_epoch``.
``schedule(0)`` is the rate for the first update, and for every decaying schedule it is the
initial rate. Where PyTorch has the schedule, ``schedule(t)`` equals PyTorch's closed form at
``last_epoch = t``. The textbook's epoch table for ``lr0 / (1 + decay_rate * epoch)`` with
``lr0 = 0.2, decay_rate = 1`` reads ``schedule(1..4) = 0.1, 0.0667, 0.05, 0.04``.

Quick start::

    from descent import schedules
    cos = schedules.with_warmup(schedules.cosine_annealing(0.1, t_max=900), warmup_steps=100)
    cos(0), cos(100), cos(1000)          # 0.0, 0.1, 0.0
    sched = schedules.LRScheduler(optimizer, cos, interval="step")
    for batch in batches:
        optimizer.step(grads)
        sched.step()                     # sets optimizer.param_groups[i]["lr"] = cos(t)

See docs/schedules.md for every formula.
"""

import copy
import ctypes
import numbers
from collections.abc import Mapping, MutableMapping

import numpy as np

from . import _check, _ffi, errors
from ._ffi import lib
from ._native import NativeObject

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


def _integer(value, name):
    """An int in int64 range; bools, floats and other types raise InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise errors.InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise errors.InvalidArgumentError(f"{name} {value} does not fit in int64")
    return value


def _real(value, name):
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _choice(value, table, name):
    if not isinstance(value, str) or value not in table:
        raise errors.InvalidArgumentError(
            f"{name} must be one of {', '.join(repr(k) for k in table)}, got {value!r}")
    return table[value]


def _plain(value):
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


def _from_config(config):
    """A new Schedule from :attr:`Schedule.config` (the inverse of config)."""
    if not isinstance(config, Mapping) or config.get("kind") not in _FACTORIES:
        raise errors.InvalidArgumentError(f"not a schedule config: {config!r}")
    arguments = {name: value for name, value in config.items() if name != "kind"}
    if config["kind"] != "sequential":
        return _FACTORIES[config["kind"]](**arguments)
    parts = [_from_config(part) for part in arguments["schedules"]]
    try:
        return sequential(parts, arguments["milestones"])
    finally:
        for part in parts:
            part.close()


def _describe(value):
    """How a wrong argument is named in a message: its type, and its value when short."""
    if callable(value) and hasattr(value, "__name__") and not isinstance(value, type):
        return f"the function {value.__name__} (call it to make a Schedule, e.g. {value.__name__}(...))"
    text = repr(value)
    return type(value).__name__ + ("" if len(text) > 60 else f" {text}")


def _check_schedule(value, name):
    if not isinstance(value, Schedule):
        hint = f" (a fixed rate is schedules.constant({value!r}))" if isinstance(value, numbers.Real) \
            and not isinstance(value, bool) else ""
        raise TypeError(f"{name} must be a descent.schedules.Schedule, made by a factory such as "
                        f"schedules.cosine_annealing(0.1, t_max=100); got {_describe(value)}{hint}")
    return value


def _int64_array(values, name):
    items = [_integer(v, name) for v in values]
    return len(items), (ctypes.c_int64 * max(len(items), 1))(*items)


class Schedule(NativeObject):
    """A learning-rate schedule owned by libdescent (C: ``descent_schedule``).

    Call it (``schedule(t)``) or use :meth:`value` / :meth:`values`. Release it with
    :meth:`close` (idempotent), a ``with`` block, or garbage collection. A closed schedule raises
    :class:`~descent.ClosedError` (an :class:`~descent.InvalidHandleError`). Schedules built from it (``sequential``) keep working.
    """

    __slots__ = ("_raw", "kind", "parameters", "_config", "__weakref__")
    _KIND = "schedule"

    def __init__(self, *args, **kwargs):
        raise TypeError("use the factory functions in descent.schedules to make a Schedule")

    @classmethod
    def _make(cls, function, arguments, kind, parameters, config=None):
        handle = _ffi.handle_t()
        function(*arguments, ctypes.byref(handle))
        self = object.__new__(cls)
        self._handle = handle.value
        self.kind = kind
        self.parameters = parameters
        self._config = config if config is not None else \
            {"kind": kind, **{name: _plain(value) for name, value in parameters.items()}}
        return self

    @property
    def config(self):
        """What the schedule was made from, as plain Python values: ``{"kind": factory name,
        argument: value, ...}`` (a ``sequential`` holds its parts' configs under "schedules").
        Equal configs make equal schedules; :class:`LRScheduler` saves it in its state_dict and
        refuses to load a state saved with another. Readable after close."""
        return copy.deepcopy(self._config)

    def __reduce_ex__(self, protocol):
        # copy.copy, copy.deepcopy and pickle make a new native schedule from the config (a copy
        # sharing this one's handle would break when either is closed).
        self._check_open()
        return _from_config, (self.config,)

    def _check_open(self):
        self._handle  # noqa: B018  (raises ClosedError after close)

    def value(self, step):
        """The learning rate at step ``step`` (an int >= 0). Never changes the schedule."""
        rate = ctypes.c_double()
        lib.descent_schedule_value(self._handle, _integer(step, "step"), ctypes.byref(rate))
        return rate.value

    __call__ = value

    def values(self, count, start=0):
        """A float64 array of ``value(start + i)`` for i in range(count), in one C call."""
        count = _integer(count, "count")
        start = _integer(start, "start")
        out = np.empty(max(count, 0), dtype=np.float64)
        lib.descent_schedule_values(self._handle, start, count, out.ctypes.data if count > 0 else None)
        return out

    def momentum(self, step):
        """The momentum at step ``step`` for a schedule that cycles it: ``one_cycle`` with
        ``cycle_momentum=True``, or a ``sequential`` / ``with_warmup`` composite with such a part,
        which carries the cycle through as PyTorch's SequentialLR does (while another part runs:
        the momentum the last cycling part ended with, or before any has run, the next one's
        ``max_momentum``). Pure, like :meth:`value`. Raises :class:`~descent.UnsupportedError`
        for every other schedule and :class:`~descent.InvalidArgumentError` for a step outside
        the answering one-cycle's ``0..total_steps``."""
        momentum = ctypes.c_double()
        lib.descent_schedule_momentum(self._handle, _integer(step, "step"), ctypes.byref(momentum))
        return momentum.value

    def momenta(self, count, start=0):
        """A float64 array of ``momentum(start + i)`` for i in range(count) (see :meth:`momentum`)."""
        count = _integer(count, "count")
        start = _integer(start, "start")
        if count < 0:
            raise errors.InvalidArgumentError(f"count {count} is negative")
        return np.array([self.momentum(start + i) for i in range(count)], dtype=np.float64)

    @property
    def cycles_momentum(self):
        """True when :meth:`momentum` is supported (asks libdescent)."""
        try:
            self.momentum(0)
        except errors.UnsupportedError:
            return False
        return True

    _FREE = "descent_schedule_free"

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
        state = " (closed)" if self.closed else ""
        return f"<descent.schedules.{self.kind}({arguments}){state}>"


def constant(lr):
    """``lr(t) = lr`` — a fixed ("manually set") rate."""
    return Schedule._make(lib.descent_schedule_new_constant, [_real(lr, "lr")], "constant", {"lr": lr})


def inverse_time(lr0, decay_rate):
    """The textbook's epoch decay ``lr(t) = lr0 / (1 + decay_rate * t)``."""
    return Schedule._make(lib.descent_schedule_new_inverse_time,
                          [_real(lr0, "lr0"), _real(decay_rate, "decay_rate")],
                          "inverse_time", {"lr0": lr0, "decay_rate": decay_rate})


def exponential(lr0, gamma):
    """Exponential decay ``lr(t) = lr0 * gamma**t`` (PyTorch ExponentialLR; the textbook's 0.95)."""
    return Schedule._make(lib.descent_schedule_new_exponential, [_real(lr0, "lr0"), _real(gamma, "gamma")],
                          "exponential", {"lr0": lr0, "gamma": gamma})


def inverse_power(lr0, k=1.0, power=0.5, offset=1.0):
    """``lr(t) = lr0 * k / (t + offset)**power``.

    power 0.5 is the textbook's ``k / sqrt(epoch) * lr0`` (or ``k / sqrt(t) * lr0`` per
    minibatch); power 1 is ``k / epoch``. ``offset`` (> 0) keeps t = 0 defined; offset 1 maps the
    0-based t onto the textbook's 1-based epoch number.
    """
    return Schedule._make(lib.descent_schedule_new_inverse_power,
                          [_real(lr0, "lr0"), _real(k, "k"), _real(power, "power"), _real(offset, "offset")],
                          "inverse_power", {"lr0": lr0, "k": k, "power": power, "offset": offset})


def inverse_sqrt(lr0, k=1.0, offset=1.0):
    """``lr(t) = lr0 * k / sqrt(t + offset)`` (``inverse_power`` with power 0.5)."""
    return inverse_power(lr0, k=k, power=0.5, offset=offset)


def step_decay(lr0, step_size, gamma=0.1):
    """Staircase decay ``lr(t) = lr0 * gamma**(t // step_size)`` (PyTorch StepLR)."""
    return Schedule._make(lib.descent_schedule_new_step,
                          [_real(lr0, "lr0"), _integer(step_size, "step_size"), _real(gamma, "gamma")],
                          "step_decay", {"lr0": lr0, "step_size": step_size, "gamma": gamma})


def multi_step(lr0, milestones, gamma=0.1):
    """``lr(t) = lr0 * gamma**(number of milestones <= t)`` (PyTorch MultiStepLR).

    Milestones (ints >= 0) may come in any order; a repeated milestone applies gamma again.
    """
    milestones = _check.sequence(milestones, "milestones", "ints")
    count, marks = _int64_array(milestones, "milestone")
    return Schedule._make(lib.descent_schedule_new_multi_step,
                          [_real(lr0, "lr0"), marks, count, _real(gamma, "gamma")],
                          "multi_step", {"lr0": lr0, "milestones": list(milestones), "gamma": gamma})


def piecewise_constant(boundaries, values):
    """Hand-picked rates: ``lr(t) = values[i]`` with i = number of boundaries <= t.

    ``boundaries`` are strictly increasing ints >= 1 (boundary b is the first step of the next
    value); ``values`` has one more entry than ``boundaries``.
    """
    boundaries = _check.sequence(boundaries, "boundaries", "ints")
    values = _check.sequence(values, "values", "rates")
    count, marks = _int64_array(boundaries, "boundary")
    rates = [_real(v, "value") for v in values]
    if len(rates) != count + 1:
        raise errors.InvalidArgumentError(
            f"piecewise_constant needs {count + 1} values for {count} boundaries, got {len(rates)}")
    array = (ctypes.c_double * len(rates))(*rates)
    return Schedule._make(lib.descent_schedule_new_piecewise_constant, [marks, count, array],
                          "piecewise_constant", {"boundaries": list(boundaries), "values": list(values)})


def cosine_annealing(lr0, t_max, eta_min=0.0):
    """PyTorch CosineAnnealingLR's closed form:
    ``lr(t) = eta_min + (lr0 - eta_min) * (1 + cos(pi * t / t_max)) / 2``
    (past t_max the cosine continues, rising again)."""
    return Schedule._make(lib.descent_schedule_new_cosine,
                          [_real(lr0, "lr0"), _integer(t_max, "t_max"), _real(eta_min, "eta_min")],
                          "cosine_annealing", {"lr0": lr0, "t_max": t_max, "eta_min": eta_min})


def cosine_warm_restarts(lr0, t_0, t_mult=1, eta_min=0.0):
    """SGDR (PyTorch CosineAnnealingWarmRestarts): cycle i lasts ``t_0 * t_mult**i`` steps; at
    position T_cur of a cycle of length T_i,
    ``lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``."""
    return Schedule._make(lib.descent_schedule_new_cosine_warm_restarts,
                          [_real(lr0, "lr0"), _integer(t_0, "t_0"), _integer(t_mult, "t_mult"),
                           _real(eta_min, "eta_min")],
                          "cosine_warm_restarts", {"lr0": lr0, "t_0": t_0, "t_mult": t_mult, "eta_min": eta_min})


def linear(lr0, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    """PyTorch LinearLR:
    ``lr(t) = lr0 * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)``."""
    return Schedule._make(lib.descent_schedule_new_linear,
                          [_real(lr0, "lr0"), _real(start_factor, "start_factor"), _real(end_factor, "end_factor"),
                           _integer(total_iters, "total_iters")],
                          "linear", {"lr0": lr0, "start_factor": start_factor, "end_factor": end_factor,
                                     "total_iters": total_iters})


def linear_warmup(lr0, warmup_steps, start_factor=0.0):
    """Linear warmup from ``start_factor * lr0`` to ``lr0`` over ``warmup_steps``, then flat."""
    return linear(lr0, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)


def polynomial(lr0, total_iters=5, power=1.0, end_lr=0.0):
    """``lr(t) = (lr0 - end_lr) * (1 - min(t, total_iters) / total_iters)**power + end_lr``
    (PyTorch PolynomialLR when end_lr = 0)."""
    return Schedule._make(lib.descent_schedule_new_polynomial,
                          [_real(lr0, "lr0"), _integer(total_iters, "total_iters"), _real(power, "power"),
                           _real(end_lr, "end_lr")],
                          "polynomial", {"lr0": lr0, "total_iters": total_iters, "power": power, "end_lr": end_lr})


def one_cycle(max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
              final_div_factor=1e4, three_phase=False, *, cycle_momentum=True, base_momentum=0.85,
              max_momentum=0.95):
    """The one-cycle policy with PyTorch OneCycleLR's semantics and defaults.

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
    strategy = _choice(anneal_strategy, _ANNEAL, "anneal_strategy")
    three_phase, cycle_momentum = _check.flag(three_phase, "three_phase"), _check.flag(cycle_momentum, "cycle_momentum")
    arguments = [_real(max_lr, "max_lr"), _integer(total_steps, "total_steps"), _real(pct_start, "pct_start"),
                 strategy, _real(div_factor, "div_factor"), _real(final_div_factor, "final_div_factor"),
                 1 if three_phase else 0]
    parameters = {"max_lr": max_lr, "total_steps": total_steps, "pct_start": pct_start,
                  "anneal_strategy": anneal_strategy, "div_factor": div_factor,
                  "final_div_factor": final_div_factor, "three_phase": three_phase,
                  "cycle_momentum": cycle_momentum}
    if not cycle_momentum:
        return Schedule._make(lib.descent_schedule_new_one_cycle, arguments, "one_cycle", parameters)
    parameters.update(base_momentum=base_momentum, max_momentum=max_momentum)
    return Schedule._make(lib.descent_schedule_new_one_cycle_momentum,
                          arguments + [_real(base_momentum, "base_momentum"), _real(max_momentum, "max_momentum")],
                          "one_cycle", parameters)


def sequential(schedules, milestones):
    """Schedules one after another (PyTorch SequentialLR): ``schedules[i]`` runs on
    ``[milestones[i-1], milestones[i])`` and restarts its count there:
    ``lr(t) = schedules[i](t - milestones[i-1])`` (milestones[-1] = 0)."""
    if not isinstance(schedules, (list, tuple)):
        raise TypeError(f"schedules must be a list of descent.schedules.Schedule, got {_describe(schedules)}")
    parts = [_check_schedule(part, f"schedules[{index}]") for index, part in enumerate(schedules)]
    milestones = _check.sequence(milestones, "milestones", "ints (the steps where the next schedule starts)")
    count, marks = _int64_array(milestones, "milestone")
    if count != len(parts) - 1:
        raise errors.InvalidArgumentError(
            f"sequential needs {max(len(parts) - 1, 0)} milestones for {len(parts)} schedules, got {count}")
    handles = (_ffi.handle_t * max(len(parts), 1))(*[p._handle for p in parts])
    config = {"kind": "sequential", "schedules": [p._config for p in parts], "milestones": _plain(milestones)}
    return Schedule._make(lib.descent_schedule_new_sequential, [handles, len(parts), marks],
                          "sequential", {"schedules": [p.kind for p in parts], "milestones": list(milestones)},
                          copy.deepcopy(config))


def with_warmup(schedule, warmup_steps, start_factor=0.0):
    """Linear warmup for ``warmup_steps`` steps into ``schedule``, which then starts at its own
    step 0: ``lr(t) = schedule(0) * (start_factor + (1 - start_factor) * t / warmup_steps)`` for
    t < warmup_steps, else ``schedule(t - warmup_steps)``."""
    _check_schedule(schedule, "schedule")
    with linear_warmup(schedule.value(0), warmup_steps, start_factor) as ramp:
        return sequential([ramp, schedule], [warmup_steps])


_FACTORIES = {"constant": constant, "inverse_time": inverse_time, "exponential": exponential,
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

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
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
    def settings(self):
        """The constructor's arguments (``lr`` is the initial rate), as plain Python values."""
        return dict(self._settings)

    def __reduce_ex__(self, protocol):
        # copy.copy, copy.deepcopy and pickle make a new native plateau with these settings and
        # this state (a copy sharing this one's handle would break when either is closed).
        return _rebuild_plateau, (self.settings, self.state())

    def update(self, metric):
        """Records one epoch's metric; returns the learning rate to use from now on."""
        rate = ctypes.c_double()
        lib.descent_plateau_update(self._handle, _real(metric, "metric"), ctypes.byref(rate))
        return rate.value

    @property
    def lr(self):
        """The current learning rate."""
        rate = ctypes.c_double()
        lib.descent_plateau_lr(self._handle, ctypes.byref(rate))
        return rate.value

    def state(self):
        """dict(lr, best, num_bad_epochs, cooldown_counter, updates, settings): the counters and
        the settings they were reached with (:attr:`settings` without the initial ``lr``)."""
        best = ctypes.c_double()
        bad, cooldown, updates = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.descent_plateau_state(self._handle, ctypes.byref(best), ctypes.byref(bad), ctypes.byref(cooldown),
                                  ctypes.byref(updates))
        return {"lr": self.lr, "best": best.value, "num_bad_epochs": bad.value,
                "cooldown_counter": cooldown.value, "updates": updates.value, "settings": self._rules()}

    def _rules(self):
        return {name: value for name, value in self._settings.items() if name != "lr"}

    def set_lr(self, lr):
        """Replaces the current rate (a manual change; later reductions start from it)."""
        lib.descent_plateau_set_lr(self._handle, _real(lr, "lr"))

    def load_state(self, state):
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


def _rebuild_plateau(settings, state):
    plateau = Plateau(**settings)
    plateau.load_state(state)
    return plateau


_MISSING = object()


def _first_difference(saved, mine, path):
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
    try:
        same = saved is not _MISSING and mine is not _MISSING and type(_plain(saved)) is not list \
            and bool(_plain(saved) == mine)
    except (TypeError, ValueError):
        same = False
    return None if same else (path, saved, mine)


def _check_same(saved, mine, what):
    """Raises InvalidArgumentError naming the first difference between a saved configuration and
    this object's."""
    found = _first_difference(saved, mine, "")
    if found:
        path, theirs, ours = found
        shown = lambda value: "nothing" if value is _MISSING else repr(value)  # noqa: E731
        where = path if path.startswith("[") else f" {path}" if path else ""
        raise errors.InvalidArgumentError(
            f"the state was saved with {what}{where} = {shown(theirs)}, this one has {shown(ours)}; load it "
            "into a scheduler built with the settings it was saved with")


def _param_groups(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        raise TypeError(f"{type(optimizer).__name__} has no param_groups; expected a descent.optim "
                        "optimizer or any object with a list of dicts holding 'lr'")
    groups = list(groups)
    if not groups:
        raise errors.InvalidArgumentError("the optimizer has no parameter groups")
    for index, group in enumerate(groups):
        if not isinstance(group, MutableMapping):
            raise TypeError(f"param_groups[{index}] is {type(group).__name__}, not a dict")
    return groups


class LRScheduler:
    """Drives ``optimizer.param_groups[i]["lr"]`` from a schedule, per step or per epoch.

    ``schedule`` is one :class:`Schedule` for every group, or a list with one per group. On
    construction every group's lr is set to ``schedule(0)``; each :meth:`step` advances the
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

    def __init__(self, optimizer, schedule, interval="step"):
        if not isinstance(interval, str) or interval not in _INTERVALS:
            raise errors.InvalidArgumentError(f"interval must be 'step' or 'epoch', got {_check.describe(interval)}")
        groups = _param_groups(optimizer)
        if isinstance(schedule, Schedule):
            schedules = [schedule] * len(groups)
        elif isinstance(schedule, (list, tuple)):
            schedules = [_check_schedule(item, f"schedule[{index}]") for index, item in enumerate(schedule)]
            if len(schedules) != len(groups):
                raise errors.InvalidArgumentError(
                    f"{len(schedules)} schedules for {len(groups)} parameter groups (pass one Schedule for "
                    "every group, or a list with one per group)")
        else:
            raise TypeError("schedule must be a descent.schedules.Schedule (for every group) or a list of them "
                            "(one per parameter group), made by a factory such as "
                            f"schedules.cosine_annealing(0.1, t_max=100); got {_describe(schedule)}"
                            + (f" (a fixed rate is schedules.constant({schedule!r}))"
                               if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool) else ""))
        momentum_keys = []
        for index, (group, item) in enumerate(zip(groups, schedules)):
            if not item.cycles_momentum:
                momentum_keys.append(None)
            elif "betas" in group:
                momentum_keys.append("betas")
            elif "momentum" in group:
                momentum_keys.append("momentum")
            else:
                raise errors.InvalidArgumentError(
                    f"param_groups[{index}] has neither 'momentum' nor 'betas', but its schedule cycles momentum; "
                    "use an optimizer with momentum (SGD, RMSprop) or beta1 (Adam family), or make the "
                    "one_cycle schedule with cycle_momentum=False")
        self.optimizer = optimizer
        self.schedules = schedules
        self.interval = interval
        self.last_step = 0
        self._momentum_keys = momentum_keys
        self._last_lr = []
        self._last_momentum = []
        self._apply(0)

    def _apply(self, step):
        # Everything is evaluated (and every new betas pair built) before any group changes.
        rates = [s.value(step) for s in self.schedules]
        updates = []
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

    def step(self):
        """Advances one step (or epoch) and sets every group's lr; returns the new rates."""
        return self._apply(self.last_step + 1)

    def batch_end(self):
        """Calls :meth:`step` when interval == "step"."""
        return self.step() if self.interval == "step" else None

    def epoch_end(self):
        """Calls :meth:`step` when interval == "epoch"."""
        return self.step() if self.interval == "epoch" else None

    def get_last_lr(self):
        """The rates most recently set, one per group."""
        return list(self._last_lr)

    def get_last_momentum(self):
        """The momentum most recently set, one per group (None where the schedule does not
        cycle momentum)."""
        return list(self._last_momentum)

    def state_dict(self):
        """``{"last_step": n, "interval": "step" | "epoch", "schedules": [config, ...]}`` (one
        :attr:`Schedule.config` per group), for :meth:`load_state_dict`."""
        return {"last_step": self.last_step, "interval": self.interval,
                "schedules": [item.config for item in self.schedules]}

    def load_state_dict(self, state):
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

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        groups = _param_groups(optimizer)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise errors.InvalidArgumentError(f"{len(min_lr)} min_lr values for {len(groups)} parameter groups")
            floors = list(min_lr)
        else:
            floors = [min_lr] * len(groups)
        self.optimizer = optimizer
        self.plateaus = [Plateau(group["lr"], mode=mode, factor=factor, patience=patience, threshold=threshold,
                                 threshold_mode=threshold_mode, cooldown=cooldown, min_lr=floor, eps=eps)
                         for group, floor in zip(groups, floors)]

    def step(self, metric):
        """Records one epoch's metric and sets every group's lr; returns the new rates."""
        metric = _real(metric, "metric")
        for group, plateau in zip(self.optimizer.param_groups, self.plateaus):
            if group["lr"] != plateau.lr:       # changed by hand since the last step
                plateau.set_lr(group["lr"])
        rates = [plateau.update(metric) for plateau in self.plateaus]
        for group, rate in zip(self.optimizer.param_groups, rates):
            group["lr"] = rate
        return rates

    def get_last_lr(self):
        """The current rate of every group, one per group (as last set by :meth:`step`)."""
        return [plateau.lr for plateau in self.plateaus]

    @property
    def num_bad_epochs(self):
        """Epochs since the last improvement, of the first group's :class:`Plateau`."""
        return self.plateaus[0].state()["num_bad_epochs"]

    @property
    def best(self):
        """The best metric seen so far, of the first group's :class:`Plateau`."""
        return self.plateaus[0].state()["best"]

    def state_dict(self):
        """``{"plateaus": [...]}``: one :meth:`Plateau.state` dict per group (counters and the
        settings they were reached with)."""
        return {"plateaus": [plateau.state() for plateau in self.plateaus]}

    def load_state_dict(self, state):
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

    def close(self):
        """Frees every group's native :class:`Plateau` (idempotent); the optimizer is untouched."""
        for plateau in self.plateaus:
            plateau.close()

