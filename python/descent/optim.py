"""Stateful optimizers over parameter groups, in the spirit of ``torch.optim`` adapted to NumPy.

::

    import numpy as np, descent
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5)), rng.standard_normal(64)
    w, b = np.zeros(5), np.zeros(1)
    opt = descent.optim.Adam([w, b], lr=1e-2)       # or [{"params": [w]}, {"params": [b], "lr": 1e-1}]
    for epoch in range(200):
        residual = x @ w + b - y                    # least squares, J = mean(residual^2) / 2
        opt.step([x.T @ residual / len(y), np.array([residual.mean()])])   # w, b updated in place

Parameters are NumPy arrays (float32/float64, C-contiguous, writeable) registered ZERO-COPY: the
library updates the arrays you passed. ``opt.step(grads)`` updates every parameter of every
group in ONE C call. ``opt.param_groups`` is a list of dicts whose hyper-parameters (``"lr"``
and the others) you may change between steps; the change applies from the next step (a learning
rate scheduler sets ``opt.param_groups[i]["lr"]``). ``opt.state_dict()`` / ``load_state_dict()``
exchange the state as NumPy arrays; ``opt.save(path)`` / ``opt.load(path)`` write and read a
checksummed binary checkpoint (see docs/optimizers.md).

Hot path (why ``step()`` is cheap): the parameters are wrapped once, at construction. Gradients
are bound to the C optimizer as wrapped tensors and the binding is cached: when ``step`` gets the
same gradient array objects as last time (checked by identity, no pointer conversion), it makes
exactly one C call. Gradients that are C-contiguous and writeable are bound zero-copy (C reads
your array); any other layout (strided, Fortran-order, read-only) is copied into a private buffer,
and that copy is refreshed from your array on every step, so refilling it in place is safe. Even cheaper, ``opt.grads`` is a list of optimizer-owned gradient arrays (one
per parameter, bound once): fill them in place (``opt.grads[0][...] = g``) and call ``opt.step()``
with no argument. Changed hyper-parameters are pushed to C only when a value differs from the
last one pushed.

Non-finite gradients follow ``nonfinite=`` ("raise" by default: :class:`descent.NonFiniteError`
and nothing changes; "skip": ``step`` returns False and nothing changes, the step count
included; "proceed": no check).

The formulas and defaults (PyTorch's) are those of :mod:`descent.functional`; each class lists
its hyper-parameters.
"""

from __future__ import annotations

import ctypes
import operator
import os
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _check, errors
from . import functional as _f
from ._ffi import accel, last_error, lib
from ._native import NativeObject
from .compact import CompactState
from .tensor import DTYPE_CODES, Tensor, wrap

# descent_optimizer_step without the FFI table's errcheck wrapper, for step() when descent._accel
# is not in use (the caller checks the status).
_raw_step = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.POINTER(ctypes.c_int32))(
    ("descent_optimizer_step", lib))

if TYPE_CHECKING:
    from .shard import OptimizerShard

HYPER = {"lr": 1, "momentum": 2, "dampening": 3, "beta1": 4, "beta2": 5, "alpha": 6, "rho": 7, "eps": 8,
         "weight_decay": 9, "lr_decay": 10, "initial_accumulator_value": 11, "momentum_decay": 12}
FLAGS_KEY = 13
POLICIES = {"raise": 0, "skip": 1, "proceed": 2}
_POLICY_NAMES = {code: name for name, code in POLICIES.items()}

#: A parameter (or gradient): a float32/float64 NumPy array, C-contiguous and writeable.
Param = npt.NDArray[np.floating[Any]]
#: A hyper-parameter value: a number, a flag, a form name or a (beta1, beta2) pair.
HyperValue = Union[float, int, bool, str, tuple[float, float]]
#: A parameter group: {"params": [arrays], hyper-parameter: value, ...}.
ParamGroup = dict[str, Any]
#: What an optimizer is built over: one array, a list of arrays, or a list of group dicts.
Params = Union[Param, Iterable[Param], Iterable[Mapping[str, Any]]]
#: One gradient per parameter (a single array when there is one parameter).
Grads = Union[Param, Sequence[Param]]

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
           "Lion"]


def _same(a: object, b: object) -> bool:
    """Whether a group value is unchanged since it was pushed, without elementwise comparison: a
    NumPy array (never a valid setting) counts as changed, so the push rejects it with TypeError
    instead of comparing (and allocating) element by element."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _counting(base: type, name: str) -> Callable[..., Any]:
    """base.<name>, counting the call in the container's shared counter (``_edits[0]``) first."""
    method = getattr(base, name)

    def mutator(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._edits[0] += 1
        return method(self, *args, **kwargs)
    mutator.__name__ = name
    return mutator


class _CountingList(list[Any]):
    """A list that counts its own mutations in ``_edits[0]`` (a one-element list it may share), so
    ``step()`` can tell in O(1) that nothing changed since it last looked: the optimizer-owned
    ``opt.grads`` (the arrays bound last time are still the ones in the list; an element replaced
    by assignment is bound afresh, as with any other list) and ``opt.param_groups``."""

    __slots__ = ("_edits",)

    def __init__(self, items: Iterable[Any] = (), edits: Optional[list[int]] = None) -> None:
        super().__init__(items)
        self._edits = [0] if edits is None else edits

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.deepcopy / pickle give a plain list of (copies of) the elements: the default
        # rebuilds the subclass without __init__ and its extend() found no counter.
        return list, (list(self),)

    __setitem__ = _counting(list, "__setitem__")
    __delitem__ = _counting(list, "__delitem__")
    __iadd__ = _counting(list, "__iadd__")
    __imul__ = _counting(list, "__imul__")
    append = _counting(list, "append")
    extend = _counting(list, "extend")
    insert = _counting(list, "insert")
    pop = _counting(list, "pop")
    remove = _counting(list, "remove")
    clear = _counting(list, "clear")
    sort = _counting(list, "sort")
    reverse = _counting(list, "reverse")


class _Group(dict[str, Any]):
    """A param group dict that counts its mutations in its optimizer's ``_edits``: ``step()``
    pushes settings to C only after one (``opt.param_groups[0]["lr"] = 0.01``, ``update``, ...)
    instead of comparing every setting of every group on every step."""

    __slots__ = ("_edits",)

    def __init__(self, edits: list[int], items: Mapping[str, Any]) -> None:
        super().__init__(items)
        self._edits = edits

    def __reduce_ex__(self, protocol: Any) -> Any:
        return dict, (dict(self),)  # copies and pickles are plain dicts, tied to no optimizer

    __setitem__ = _counting(dict, "__setitem__")
    __delitem__ = _counting(dict, "__delitem__")
    __ior__ = _counting(dict, "__ior__")
    update = _counting(dict, "update")
    setdefault = _counting(dict, "setdefault")
    pop = _counting(dict, "pop")
    popitem = _counting(dict, "popitem")
    clear = _counting(dict, "clear")


class Optimizer(CompactState, NativeObject):
    """Base class: one update rule over parameter groups (C: ``descent_optimizer``).

    ``params`` is a list of NumPy arrays, or a list of group dicts ``{"params": [...], **hyper}``
    whose keys override the keyword hyper-parameters for that group. ``nonfinite`` is the policy
    for non-finite gradients: "raise" (default), "skip" or "proceed" (see the module docstring).
    ``state_dtype`` ("full", "bfloat16", "int8"), ``state_rounding`` ("nearest", "stochastic") and
    ``seed`` choose compact state (:mod:`descent.compact`). Unknown hyper-parameter names raise
    TypeError."""

    RULE: ClassVar[int] = 0
    SLOTS: ClassVar[tuple[str, ...]] = ()
    DEFAULTS: ClassVar[dict[str, HyperValue]] = {}
    # Boolean options: name -> (flag bit, True when the flag is set for value False).
    BOOLEANS: ClassVar[dict[str, tuple[int, bool]]] = {
        "maximize": (_f.MAXIMIZE, False), "decoupled_weight_decay": (_f.DECOUPLED_WEIGHT_DECAY, False)}

    def _kind(self) -> str:
        return f"{type(self).__name__} optimizer"

    @property
    def param_groups(self) -> list[ParamGroup]:
        """The parameter groups: a list of dicts {"params": [arrays], hyper...}; change a value
        (``opt.param_groups[0]["lr"] = 0.01``) and it applies from the next step."""
        self._check_open()
        return self._groups

    @property
    def defaults(self) -> dict[str, HyperValue]:
        """The hyper-parameters new groups start from (the constructor's keywords over the class
        defaults)."""
        self._check_open()
        return self._defaults

    def __init__(self, params: Params, *, nonfinite: str = "raise", state_dtype: str = "full",
                 state_rounding: str = "nearest", seed: int = 0, **hyper: HyperValue) -> None:
        unknown = set(hyper) - set(self.DEFAULTS)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown hyper-parameters {sorted(unknown)}")
        self._defaults: dict[str, HyperValue] = {**self.DEFAULTS, **hyper}
        handle = ctypes.c_uint64()
        lib.descent_optimizer_new(self.RULE, ctypes.byref(handle))
        self._handle = handle.value
        self._tensors: list[Tensor] = []      # wrapped params (keep the arrays alive)
        self._registered: list[list[Param]] = []  # per group: the param arrays C holds
        self._pushed: list[tuple[Any, ...]] = []  # per group: the hyper values last pushed to C
        self._bound: Optional[list[Param]] = None  # the grad arrays currently bound
        self._bound_tensors: list[Tensor] = []
        self._copies: list[tuple[int, Param]] = []  # private C-contiguous copies of grads not bound zero-copy
        self._grads: Optional[_CountingList] = None  # optimizer-owned grad arrays
        self._bound_owned = -1  # self._grads._edits[0] when the owned grads were bound, else -1
        self._skipped = ctypes.c_int32()
        self._skipped_pointer = ctypes.pointer(self._skipped)
        self._getter = _tuple_getter(list(self.DEFAULTS))
        self._lock = threading.Lock()  # step() from several Python threads: bind/sync/step stay together
        _LIVE.add(self)
        self._edits = [0]  # edits of param_groups and of each group dict (see _Group)
        self._synced = -1  # self._edits[0] when the settings were last pushed, -1: check them all
        self._groups: list[ParamGroup] = _CountingList(edits=self._edits)
        try:
            # The defaults are validated (and stored in C) up front, as torch.optim does; they are
            # what add_param_group fills missing settings from and what a checkpoint records.
            self._push(-1, self._values(self._defaults), None)
            # The defaults compared without ==/!= on the arguments themselves: an array there made
            # a tuple comparison elementwise (an ambiguous truth value, or seconds for a huge view;
            # found by the API fuzz); anything but the defaults goes to set_state_format's checks.
            defaults = isinstance(state_dtype, str) and state_dtype == "full" and \
                isinstance(state_rounding, str) and state_rounding == "nearest" and \
                isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed == 0
            if not defaults:
                self.set_state_format(state_dtype, state_rounding, seed)  # before the groups: no conversion
            for group in self._normalize(params):
                self._add_group(group)
            self.nonfinite = nonfinite
        except BaseException:
            self.close()
            raise

    # -- construction ------------------------------------------------------------------------
    @staticmethod
    def _normalize(params: object) -> list[ParamGroup]:
        if isinstance(params, np.ndarray):
            return [{"params": [params]}]
        listed: list[Any] = _check.sequence(params, "params", "arrays or group dicts {'params': [...], ...}")
        if not listed:
            raise errors.InvalidArgumentError("the optimizer got an empty parameter list")
        if all(isinstance(p, dict) for p in listed):
            return [dict(g) for g in listed]
        if any(isinstance(p, dict) for p in listed):
            raise TypeError("params must be arrays or dicts {'params': [...], ...}, not a mix")
        return [{"params": listed}]

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Adds a group {"params": [arrays], hyper...}; missing hyper-parameters take the defaults."""
        self._check_open()
        if not isinstance(group, Mapping):
            raise TypeError(f"a param group must be a dict {{'params': [arrays], hyper...}}, got {_check.describe(group)}")
        self._add_group(dict(group))

    def _add_group(self, group: ParamGroup) -> None:
        if "params" not in group:
            raise errors.InvalidArgumentError("a parameter group needs a 'params' entry")
        arrays = group["params"]
        arrays = [arrays] if isinstance(arrays, np.ndarray) else _check.sequence(arrays, "a group's 'params'", "arrays")
        unknown = set(group) - set(self.DEFAULTS) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__} group got unknown hyper-parameters {sorted(unknown)}")
        full = {"params": arrays, **{k: group.get(k, v) for k, v in self._defaults.items()}}
        where = f"param_groups[{len(self._groups)}]['params']"
        for index, array in enumerate(arrays):
            _check_param(array, f"{where}[{index}]")
        tensors = [wrap(array) for array in arrays]
        defaults = self._values(self._defaults)
        try:
            values = self._values(full)
            # C adds a group with its current defaults (state buffers are allocated for them), so
            # the group's settings stand in as the defaults during the add ...
            self._push(-1, values, defaults)
            handles = (ctypes.c_uint64 * max(len(tensors), 1))(*[t.handle for t in tensors])
            lib.descent_optimizer_add_group(self._handle, handles, len(tensors), None)
        except BaseException:
            for tensor in tensors:
                tensor.close()
            raise
        finally:
            # ... and the real defaults come back afterwards, whether or not the add succeeded.
            self._push(-1, defaults, None)
        self._tensors.extend(tensors)
        self._registered.append(list(arrays))
        self._pushed.append(values)
        self._groups.append(_Group(self._edits, full))
        self._unbind()

    # -- hyper-parameters --------------------------------------------------------------------
    def _keys(self) -> list[str]:
        return [k for k in self.DEFAULTS]

    def _values(self, group: Mapping[str, Any]) -> tuple[Any, ...]:
        return _tuple_getter(list(self.DEFAULTS))(group)

    def _encode(self, values: Sequence[Any]) -> tuple[list[tuple[int, float]], int]:
        """[(C key, float)] for a tuple of group values, flags last."""
        pairs: list[tuple[int, float]] = []
        flags = 0
        for name, value in zip(self.DEFAULTS, values):
            if name in HYPER:
                pairs.append((HYPER[name], _check.real(value, name)))
            elif name == "betas":
                beta1, beta2 = _f._betas(value)
                pairs.append((HYPER["beta1"], beta1))
                pairs.append((HYPER["beta2"], beta2))
            elif name in self.BOOLEANS:
                bit, inverted = self.BOOLEANS[name]
                if _check.flag(value, name) != inverted:
                    flags |= bit
            elif name == "momentum_form":
                flags |= _check.choice(value, _f.MOMENTUM_FORMS, "momentum_form")
        return pairs, flags

    def _push(self, group: int, values: Sequence[Any], previous: Optional[Sequence[Any]]) -> None:
        """Sends changed values of one group (-1: the defaults) to C; on error restores `previous`."""
        pairs, flags = self._encode(values)
        try:
            lib.descent_optimizer_set_hyper(self._handle, group, FLAGS_KEY, 0.0)  # always valid
            for key, value in pairs:
                lib.descent_optimizer_set_hyper(self._handle, group, key, value)
            lib.descent_optimizer_set_hyper(self._handle, group, FLAGS_KEY, float(flags))
        except BaseException:
            if previous is not None:
                self._push(group, previous, None)
            raise

    def _sync(self) -> None:
        """Pushes every group's changed settings to C."""
        edits = self._edits[0]  # before reading: an edit made meanwhile is seen by the next step
        getter = self._getter
        pushed = self._pushed
        for index, group in enumerate(self._groups):
            values = getter(group)
            old = pushed[index]
            # An untouched group holds the very objects that were pushed: identity, checked in C.
            # Not tuple ==, which falls back to == per value: an array put where a number belongs
            # was compared element by element (14 s for a 2^31-element view, found by the API
            # fuzz); _same decides for anything else, never elementwise.
            if all(map(operator.is_, values, old)):
                continue
            if not _same(values, old):
                self._push(index, values, old)
                pushed[index] = values
        # Edits are counted only by the optimizer's own group dicts: a dict the caller put into
        # param_groups itself keeps every step on this full check.
        mine = all(type(group) is _Group and group._edits is self._edits for group in self._groups)
        self._synced = edits if mine else -1

    # -- gradients and the step ----------------------------------------------------------------
    def _unbind(self) -> None:
        for tensor in self._bound_tensors:
            tensor.close()
        self._bound, self._bound_tensors, self._copies = None, [], []
        self._bound_owned = -1

    def _params(self) -> list[Param]:
        """The params of every group in order. A group's "params" list is fixed once added (C
        holds those arrays): a replaced or edited list raises InvalidArgumentError."""
        params: list[Param] = []
        for index, (group, arrays) in enumerate(zip(self._groups, self._registered)):
            current = group["params"]
            if not isinstance(current, list) or len(current) != len(arrays) or \
                    any(a is not b for a, b in zip(current, arrays)):
                raise errors.InvalidArgumentError(
                    f"param_groups[{index}]['params'] was changed after the group was added; the params "
                    "of a group are fixed (use add_param_group to add more)")
            params.extend(arrays)
        return params

    def _bind(self, grads: Sequence[Param]) -> None:
        params = self._params()
        if len(grads) != len(params):
            raise errors.ShapeError(f"step got {len(grads)} gradients for {len(params)} params")
        tensors: list[Tensor] = []
        copies: list[tuple[int, Param]] = []
        try:
            for index, (grad, param) in enumerate(zip(grads, params)):
                if not isinstance(grad, np.ndarray):
                    raise TypeError(f"grads[{index}] must be a numpy array, got {type(grad).__name__}")
                if grad.dtype != param.dtype:
                    raise errors.DTypeError(f"grads[{index}] is {grad.dtype}, its param is {param.dtype}")
                if grad.shape != param.shape:
                    raise errors.ShapeError(f"grads[{index}] has shape {grad.shape}, its param {param.shape}")
                if not (grad.flags.c_contiguous and grad.flags.writeable):
                    # C reads a private C-contiguous copy; step refreshes it from the caller's
                    # array on every call (the caller may refill that array in place).
                    grad = np.array(grad, order="C", copy=True)
                    copies.append((index, grad))
                tensors.append(wrap(grad))
            handles = (ctypes.c_uint64 * max(len(tensors), 1))(*[t.handle for t in tensors])
            lib.descent_optimizer_set_grads(self._handle, handles, len(tensors))
        except BaseException:
            for tensor in tensors:
                tensor.close()
            raise
        self._unbind()
        self._bound, self._bound_tensors, self._copies = list(grads), tensors, copies
        self._bound_owned = self._grads._edits[0] if self._grads is not None and grads is self._grads else -1

    @property
    def grads(self) -> list[Param]:
        """Optimizer-owned gradient arrays, one per param (zeros at first): fill them in place and
        call ``step()`` without arguments. They stay bound until ``step(grads)`` binds others."""
        self._check_open()
        if self._grads is None:
            self._grads = _CountingList(np.zeros_like(p) for p in self._params())
        return self._grads

    def step(self, grads: Optional[Grads] = None) -> bool:
        """One update of every parameter, in one C call; returns False when the "skip" policy
        skipped it (non-finite gradient), else True. `grads`: one array per param in group order
        (a single array when there is one param); None uses :attr:`grads`, which you must have
        filled (``opt.grads[i][...] = g``): ``step()`` before :attr:`grads` was ever used raises
        InvalidArgumentError instead of stepping on zeros.

        Raises ShapeError / DTypeError when a gradient does not match its param,
        InvalidArgumentError when a gradient is (or shares memory with) any param, and
        NonFiniteError for a NaN/inf gradient under the "raise" policy; on any error the
        parameters, the state and the step count are unchanged."""
        if grads is None:
            owned = self._grads
            if owned is not None:
                with self._lock:
                    # The hot path: the owned arrays bound last time (the list untouched, no private
                    # copies to refresh) and, usually, no param group edited since the last push.
                    if owned._edits[0] == self._bound_owned and not self._copies:
                        return self._run_step(self._raw)  # type: ignore[attr-defined]
        return self._step(grads)

    def _run_step(self, handle: int) -> bool:
        """The C step, after pushing the settings of edited groups; the status is checked here
        (no ctypes errcheck: a Python-level errcheck call costs more than a small model's step)."""
        if self._edits[0] != self._synced:
            self._sync()
        if accel is not None:  # the compiled call path: no ctypes argument conversions
            stepped = accel.optimizer_step(handle)  # True, False (skipped) or the error status
            if stepped is True or stepped is False:
                return stepped
            raise errors.error_for_status(stepped, last_error())
        status = _raw_step(handle, self._skipped_pointer)
        if status:
            raise errors.error_for_status(status, last_error())
        return bool(self._skipped.value == 0)

    def _step(self, grads: Optional[Grads]) -> bool:
        """step() off its hot path: binds (or re-checks) the gradients first."""
        handle: int = getattr(self, "_raw", 0)
        if not handle:
            self._check_open()  # raises ClosedError
        if grads is None:
            if self._grads is None:
                raise errors.InvalidArgumentError(
                    "step() got no gradients, and the optimizer-owned opt.grads were never filled: pass "
                    "one gradient per param, opt.step([g1, g2, ...]) (a single array for one param), or "
                    "fill opt.grads in place (opt.grads[i][...] = g) and then call opt.step()")
            grads = self._grads
        elif isinstance(grads, np.ndarray):
            grads = [grads]
        elif not isinstance(grads, (list, tuple)):
            raise TypeError("step() takes the gradients as a list of numpy arrays, one per param in group order "
                            "(a single array when there is one param), or no argument to use opt.grads; got "
                            f"{type(grads).__name__}")
        with self._lock:
            bound = self._bound
            owned = self._grads
            if bound is None or len(bound) != len(grads) or not all(map(operator.is_, grads, bound)):
                self._bind(grads)
            else:
                if owned is not None and grads is owned:
                    self._bound_owned = owned._edits[0]  # mutated, but holding the same arrays
                # Same array objects as last time. C-contiguous writable ones are bound zero-copy
                # (C reads them directly); the others are bound through private copies, which must
                # be refilled now: the caller may have changed its array in place since.
                for index, copy in self._copies:
                    if grads[index].shape != copy.shape:  # reshaped in place: check it all again
                        self._bind(grads)
                        break
                    np.copyto(copy, grads[index])
            return self._run_step(handle)

    def reset_state(self) -> None:
        """Puts the optimizer back to its state before any step (``descent_optimizer_reset``):
        every state buffer to its initial value, the step count to 0 (NAdam's running product to 1).
        Hyper-parameters, param_groups and gradients stay."""
        self._check_open()
        with self._lock:
            lib.descent_optimizer_reset(self._handle)

    def zero_grad(self) -> None:
        """Sets the optimizer-owned :attr:`grads` to zero."""
        self._check_open()
        for grad in self.grads:
            grad[...] = 0

    # -- policy and counters ---------------------------------------------------------------------
    @property
    def nonfinite(self) -> str:
        """"raise" (default), "skip" or "proceed": what step does with NaN/inf gradients."""
        code = ctypes.c_int32()
        lib.descent_optimizer_nonfinite_policy(self._handle, ctypes.byref(code))
        return _POLICY_NAMES[code.value]

    @nonfinite.setter
    def nonfinite(self, policy: str) -> None:
        lib.descent_optimizer_set_nonfinite_policy(self._handle, _check.choice(policy, POLICIES, "nonfinite"))

    @property
    def step_count(self) -> int:
        """Updates applied so far (the next one uses t = step_count + 1)."""
        value = ctypes.c_int64()
        lib.descent_optimizer_step_count(self._handle, ctypes.byref(value))
        return int(value.value)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"state": {param index: {"step": t, slot name: array copy, ("mu_product": Π)}},
        "param_groups": [{hyper..., "params": [param indices]}], "nonfinite": policy}."""
        self._check_open()
        params = self._params()   # checked before the settings are pushed: a failing call changes nothing
        self._sync()
        state: dict[int, dict[str, Any]] = {}
        index = 0
        step = self.step_count
        for group_index, group in enumerate(self._groups):
            mu = ctypes.c_double()
            lib.descent_optimizer_mu_product(self._handle, group_index, ctypes.byref(mu))
            for _ in group["params"]:
                entry: dict[str, Any] = {"step": step}
                for slot, name in enumerate(self.SLOTS):
                    present = ctypes.c_int32()
                    lib.descent_optimizer_state_present(self._handle, index, slot, ctypes.byref(present))
                    if present.value:
                        out = np.empty_like(params[index])
                        lib.descent_optimizer_state_get(self._handle, index, slot, DTYPE_CODES[out.dtype],
                                                        out.ctypes.data, out.size)
                        entry[name] = out
                if self.RULE == NAdam.RULE:
                    entry["mu_product"] = mu.value
                state[index] = entry
                index += 1
        groups: list[dict[str, Any]] = []
        start = 0
        for group in self._groups:
            count = len(group["params"])
            groups.append({**{k: group[k] for k in self.DEFAULTS}, "params": list(range(start, start + count))})
            start += count
        return {"state": state, "param_groups": groups, "nonfinite": self.nonfinite, "optimizer": self._rule_name()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned (from an optimizer of the same rule with the
        same group sizes and param shapes). Everything is checked before anything changes: a
        state_dict of another rule (its ``"optimizer"`` entry, or else state entries or group
        settings this rule does not have) raises InvalidArgumentError naming that rule."""
        self._check_open()
        params = self._params()
        groups, state, steps, mus = self._checked_state_dict(state_dict)
        for index, param in enumerate(params):
            for name, value in state.get(index, {}).items():
                if name in ("step", "mu_product"):
                    continue
                if name not in self.SLOTS:
                    raise errors.InvalidArgumentError(
                        f"state of param {index} has entry {name!r}, which {self._rule_name()} does not keep "
                        f"(its state: {', '.join(repr(slot) for slot in self.SLOTS)}); the state_dict comes "
                        f"from {_owners(name, lambda cls: cls.SLOTS)}")
                if not isinstance(value, np.ndarray) or value.dtype != param.dtype or value.shape != param.shape:
                    raise errors.ShapeError(f"state {name!r} of param {index} does not match the param's "
                                            f"dtype {param.dtype} and shape {param.shape}")
        new_values: list[tuple[Any, ...]] = []
        for mine, theirs in zip(self._groups, groups):
            values = tuple(theirs.get(k, mine[k]) for k in self.DEFAULTS)
            self._encode(values)  # type checks before anything changes
            new_values.append(values)
        for index, (mine, values) in enumerate(zip(self._groups, new_values)):
            self._push(index, values, self._pushed[index])
            self._pushed[index] = values
            mine.update(zip(self.DEFAULTS, values))
        step, index = 0, 0
        for group_index, group in enumerate(self._groups):
            for _ in group["params"]:
                entry = state.get(index, {})
                step = max(step, steps.get(index, 0))
                for slot, name in enumerate(self.SLOTS):
                    present = ctypes.c_int32()
                    lib.descent_optimizer_state_present(self._handle, index, slot, ctypes.byref(present))
                    if name in entry:
                        value = np.ascontiguousarray(entry[name])
                    elif present.value:
                        value = np.full_like(params[index], self._initial(name, group))
                    else:
                        continue
                    lib.descent_optimizer_state_set(self._handle, index, slot, DTYPE_CODES[value.dtype],
                                                    value.ctypes.data, value.size)
                if index in mus:
                    lib.descent_optimizer_set_mu_product(self._handle, group_index, mus[index])
                index += 1
        lib.descent_optimizer_set_step_count(self._handle, step)
        if "nonfinite" in state_dict:
            self.nonfinite = state_dict["nonfinite"]

    def _checked_state_dict(self, state_dict: object) -> tuple[Sequence[Mapping[str, Any]], Mapping[int, Mapping[str, Any]],
                                                                dict[int, int], dict[int, float]]:
        """The structure of a state_dict, checked before anything changes: (groups, state,
        {param index: step}, {param index: mu_product}). Wrong container types raise TypeError,
        wrong sizes ShapeError, bad numbers InvalidArgumentError."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a dict, not {type(state_dict).__name__}")
        for key in ("param_groups", "state"):
            if key not in state_dict:
                raise KeyError(f"state_dict has no {key!r}")
        groups, state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in groups):
            raise TypeError("state_dict['param_groups'] must be a list of dicts")
        if not isinstance(state, Mapping) or not all(isinstance(e, Mapping) for e in state.values()):
            raise TypeError("state_dict['state'] must be a dict of dicts")
        if "optimizer" in state_dict:
            saved_by = state_dict["optimizer"]
            if not isinstance(saved_by, str):
                raise TypeError("state_dict['optimizer'] must name the rule that made it (a str such as 'Adam'), "
                                f"got {type(saved_by).__name__}")
            if saved_by != self._rule_name():
                raise errors.InvalidArgumentError(
                    f"the state_dict was made by {saved_by} (its 'optimizer' entry), this optimizer is "
                    f"{self._rule_name()}; a state_dict loads only into an optimizer of the rule that made it")
        for index, group in enumerate(groups):
            unknown = sorted(set(group) - set(self.DEFAULTS) - {"params"}, key=str)
            if unknown:
                raise errors.InvalidArgumentError(
                    f"param_groups[{index}] of the state_dict has {', '.join(repr(k) for k in unknown)}, which "
                    f"{self._rule_name()} does not have; the state_dict comes from "
                    f"{_owners(unknown[0], lambda cls: cls.DEFAULTS)}")
        if len(groups) != len(self._groups):
            raise errors.ShapeError(f"state_dict has {len(groups)} groups, the optimizer {len(self._groups)}")
        for mine, theirs in zip(self._groups, groups):
            if "params" not in theirs:
                raise KeyError("a group of the state_dict has no 'params'")
            if not isinstance(theirs["params"], (list, tuple, range)):
                raise TypeError("a group's 'params' must be a list of param indices")
            if len(mine["params"]) != len(theirs["params"]):
                raise errors.ShapeError("a group of the state_dict has a different number of params")
        if "nonfinite" in state_dict and not (isinstance(state_dict["nonfinite"], str)
                                              and state_dict["nonfinite"] in POLICIES):
            raise errors.InvalidArgumentError(f"nonfinite must be one of {sorted(POLICIES)}, "
                                              f"got {state_dict['nonfinite']!r}")
        steps: dict[int, int] = {}
        mus: dict[int, float] = {}
        for index, entry in state.items():
            if "step" in entry:
                step = entry["step"]
                if isinstance(step, (bool, np.bool_)):
                    raise TypeError(f"step of param {index} must be an integer, not a bool")
                step = _check.integer(step, f"step of param {index}")
                if not 0 <= step < 2**63:
                    raise errors.InvalidArgumentError(f"step of param {index} must be in [0, 2**63), got {step}")
                steps[index] = step
            if "mu_product" in entry:
                value = entry["mu_product"]
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise TypeError(f"mu_product of param {index} must be a real number, "
                                    f"not {type(value).__name__}")
                mus[index] = float(value)
        return groups, state, steps, mus

    def save(self, path: Union[str, os.PathLike[str]], include_params: bool = False) -> None:
        """Writes a checkpoint of the complete state (hyper-parameters, step count, every state
        buffer; the parameter values too with include_params=True) to `path`, atomically
        (temporary file, fsync, rename). Format: docs/optimizers.md. Raises DescentIOError."""
        self._check_open()
        encoded = _check.path(path)
        self._params()
        self._sync()
        lib.descent_optimizer_save(self._handle, encoded, int(_check.flag(include_params, "include_params")))

    def load(self, path: Union[str, os.PathLike[str]]) -> None:
        """Restores a checkpoint written by :meth:`save` into this optimizer (same class, group
        sizes, param dtypes and shapes). A truncated or altered file raises CorruptFileError; a
        mismatching optimizer raises InvalidArgumentError or ShapeError. On error nothing changed.
        ``param_groups`` are updated from the file."""
        self._check_open()
        encoded = _check.path(path)
        self._params()
        self._sync()
        lib.descent_optimizer_load(self._handle, encoded)
        self._refresh_groups()

    def _refresh_groups(self) -> None:
        """Reads every group's hyper-parameters back from C into param_groups."""
        for index, group in enumerate(self._groups):
            raw: dict[int, float] = {}
            value = ctypes.c_double()
            for key in list(HYPER.values()) + [FLAGS_KEY]:
                try:
                    lib.descent_optimizer_get_hyper(self._handle, index, key, ctypes.byref(value))
                except errors.InvalidArgumentError:
                    continue
                raw[key] = value.value
            flags = int(raw.get(FLAGS_KEY, 0))
            for name in self.DEFAULTS:
                if name in HYPER:
                    group[name] = raw[HYPER[name]]
                elif name == "betas":
                    group[name] = (raw[HYPER["beta1"]], raw[HYPER["beta2"]])
                elif name in self.BOOLEANS:
                    bit, inverted = self.BOOLEANS[name]
                    group[name] = bool(flags & bit) != inverted
                elif name == "momentum_form":
                    group[name] = next((form for form, bit in _f.MOMENTUM_FORMS.items() if bit and flags & bit),
                                       "pytorch")
            self._pushed[index] = self._getter(group)

    def _rule_name(self) -> str:
        """The class name of this optimizer's rule (a subclass of Adam reports "Adam")."""
        return _RULE_NAMES.get(self.RULE, type(self).__name__)

    def _initial(self, name: str, group: Mapping[str, Any]) -> float:
        return float(group.get("initial_accumulator_value", 0.0)) if name == "sum" else 0.0

    # -- copies ------------------------------------------------------------------------------
    def __reduce_ex__(self, protocol: Any) -> Any:
        """copy.deepcopy(opt) and pickle: a new optimizer of the same class over copies of the
        params (deepcopy's memo maps them, so ``copy.deepcopy((params, opt))`` gives a copy whose
        optimizer updates the copied params), with the same param_groups, state, step count and
        policy, and copies of :attr:`grads` once they exist; torch.optim behaves the same.
        copy.copy(opt): a new optimizer over the SAME param arrays with a copy of the state."""
        self._check_open()
        with self._lock:
            state = self.state_dict()
            groups = [{**{k: group[k] for k in self.DEFAULTS}, "params": list(arrays)}
                      for group, arrays in zip(self._groups, self._registered)]
            payload = {"defaults": dict(self._defaults), "groups": groups, "state": state, "grads": self._grads}
        return _rebuild_optimizer, (type(self), payload)

    # -- lifetime ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        """Raises ClosedError ("this SGD optimizer is closed ...") after :meth:`close`."""
        if self.closed:
            self._handle  # noqa: B018  (raises the ClosedError)

    _FREE = "descent_optimizer_free"

    def close(self) -> None:
        """Frees the native optimizer (idempotent). The parameter arrays stay yours."""
        super().close()
        for tensor in getattr(self, "_bound_tensors", []) + getattr(self, "_tensors", []):
            tensor.close()
        self._bound_tensors, self._tensors, self._bound, self._copies = [], [], None, []
        self._bound_owned = -1

    def shard(self, start: int, count: int) -> OptimizerShard:
        """A shard of this optimizer over flat elements ``start .. start+count`` of its flattened
        params (every param's elements concatenated in group order): it steps those elements in
        place with state for them alone (ZeRO stage 1; C ``descent_optimizer_shard``). See
        :class:`descent.shard.OptimizerShard`."""
        from .shard import OptimizerShard
        self._check_open()
        return OptimizerShard(self, start, count)

    def sizes(self) -> tuple[int, int]:
        """``(elements, state_bytes)``: elements of the flattened params and bytes of state
        buffers held (C ``descent_optimizer_sizes``)."""
        elements, state_bytes = ctypes.c_int64(), ctypes.c_int64()
        lib.descent_optimizer_sizes(self._handle, ctypes.byref(elements), ctypes.byref(state_bytes))
        return int(elements.value), int(state_bytes.value)

    def counts(self) -> tuple[int, int, int]:
        """``(rule, groups, params)`` as the native optimizer reports them
        (``descent_optimizer_counts``): the DESCENT_RULE_* code of this class, the number of
        parameter groups and the number of parameters registered so far. Raises
        ClosedError after :meth:`close`."""
        self._check_open()
        rule, groups, params = ctypes.c_int32(), ctypes.c_int64(), ctypes.c_int64()
        lib.descent_optimizer_counts(self._handle, ctypes.byref(rule), ctypes.byref(groups), ctypes.byref(params))
        return int(rule.value), int(groups.value), int(params.value)

    def __repr__(self) -> str:
        if self.closed:
            return f"{type(self).__name__}(closed)"
        _, groups, params = self.counts()
        return f"{type(self).__name__}({groups} groups, {params} params)"


# Every optimizer, so that a child made by os.fork() (multiprocessing's default start method on
# Linux) gets fresh Python locks: one held by another thread at the fork (it may have been inside
# step, which releases the GIL in C) would otherwise never be released in the child. The library's
# own locks are fork-aware: an optimizer another thread was using at the fork then raises
# UnsupportedError in the child instead of hanging or crashing.
_LIVE: weakref.WeakSet[Optimizer] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for optimizer in list(_LIVE):
        optimizer._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _rebuild_optimizer(cls: type[Optimizer], payload: Mapping[str, Any]) -> Optimizer:
    """The inverse of Optimizer.__reduce_ex__."""
    state = payload["state"]
    optimizer = cls(payload["groups"], nonfinite=state.get("nonfinite", "raise"), **payload["defaults"])
    try:
        optimizer.load_state_dict(state)
        grads = payload.get("grads")
        if grads is not None:
            params = optimizer._params()
            optimizer._grads = _CountingList(g if isinstance(g, np.ndarray) and g.shape == p.shape and g.dtype == p.dtype
                                             and g.flags.c_contiguous and g.flags.writeable else np.array(g, dtype=p.dtype)
                                             for g, p in zip(grads, params))
    except BaseException:
        optimizer.close()
        raise
    return optimizer


def _check_param(array: object, name: str) -> None:
    """Checks that `array` can be a param: the optimizer updates it in place, zero-copy, so it
    must be a writeable, aligned, C-contiguous float32/float64 ndarray (a copy would be updated
    instead of the caller's array, silently)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array (float32 or float64) the optimizer updates in place, "
                        f"got {type(array).__name__}")
    if array.dtype not in DTYPE_CODES:
        raise errors.DTypeError(f"{name} is {array.dtype}; params must be float32 or float64 arrays "
                                f"(convert once with x = x.astype(np.float32) and keep using that array)")
    if not array.flags.c_contiguous:
        problem = "not C-contiguous (a strided view, a transpose or a Fortran-order array)"
        remedy = "x = np.ascontiguousarray(x)"
    elif not array.flags.writeable:
        problem, remedy = "read-only", "x = x.copy()"
    elif not array.flags.aligned:
        problem, remedy = "not aligned", "x = x.copy()"
    else:
        return
    raise errors.InvalidArgumentError(
        f"{name} is {problem}: the optimizer updates each param in place, through the array's own memory "
        f"(no copy), so a param must be a writeable, aligned, C-contiguous array; make one with {remedy} "
        "before building the optimizer and keep using that new array (the optimizer updates it, not the "
        "original)")


def _tuple_getter(keys: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A fast callable returning the tuple of a group dict's values for `keys`."""
    getter = operator.itemgetter(*keys)
    if len(keys) > 1:
        return getter
    return lambda group: (getter(group),)


_COMMON: dict[str, HyperValue] = {"maximize": False, "decoupled_weight_decay": False}


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov, and the deeplearning.ai notes' (``momentum_form="ema"``:
    v = μv + (1-μ)g; W -= lr v) and cs231n (``"cs231n"``: v = μv - lr g; W += v) forms.
    See :func:`descent.functional.sgd`. Defaults: lr 1e-3, momentum 0, dampening 0, weight_decay 0,
    nesterov False, momentum_form "pytorch", maximize False, decoupled_weight_decay False."""

    RULE = 1
    SLOTS = ("momentum_buffer",)
    DEFAULTS = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
                "momentum_form": "pytorch", **_COMMON}
    BOOLEANS = {**Optimizer.BOOLEANS, "nesterov": (_f.NESTEROV, False)}


class Adagrad(Optimizer):
    """Adagrad, see :func:`descent.functional.adagrad`. Defaults: lr 1e-2, lr_decay 0,
    weight_decay 0, initial_accumulator_value 0, eps 1e-10, eps_inside_sqrt False, maximize False, decoupled_weight_decay False."""

    RULE = 2
    SLOTS = ("sum",)
    DEFAULTS = {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
                "eps": 1e-10, "eps_inside_sqrt": False, **_COMMON}
    BOOLEANS = {**Optimizer.BOOLEANS, "eps_inside_sqrt": (_f.EPS_INSIDE_SQRT, False)}


class Adadelta(Optimizer):
    """Adadelta, see :func:`descent.functional.adadelta`. Defaults: lr 1.0, rho 0.9, eps 1e-6,
    weight_decay 0, maximize False, decoupled_weight_decay False."""

    RULE = 3
    SLOTS = ("square_avg", "acc_delta")
    DEFAULTS = {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0, **_COMMON}


class RMSprop(Optimizer):
    """RMSprop, see :func:`descent.functional.rmsprop`. Defaults: lr 1e-2, alpha 0.99, eps 1e-8,
    weight_decay 0, momentum 0, centered False, eps_inside_sqrt False, maximize False, decoupled_weight_decay False."""

    RULE = 4
    SLOTS = ("square_avg", "grad_avg", "momentum_buffer")
    DEFAULTS = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False,
                "eps_inside_sqrt": False, **_COMMON}
    BOOLEANS = {**Optimizer.BOOLEANS, "centered": (_f.CENTERED, False),
                "eps_inside_sqrt": (_f.EPS_INSIDE_SQRT, False)}


_ADAM_BOOLEANS: dict[str, tuple[int, bool]] = {**Optimizer.BOOLEANS, "amsgrad": (_f.AMSGRAD, False),
                  "bias_correction": (_f.NO_BIAS_CORRECTION, True), "eps_inside_sqrt": (_f.EPS_INSIDE_SQRT, False)}


class Adam(Optimizer):
    """Adam, see :func:`descent.functional.adam`. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, amsgrad False, bias_correction True, eps_inside_sqrt False, maximize False, decoupled_weight_decay False.
    Kingma & Ba 2015 (AMSGrad: Reddi et al. 2018)."""

    RULE = 5
    SLOTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
                "bias_correction": True, "eps_inside_sqrt": False, **_COMMON}
    BOOLEANS = _ADAM_BOOLEANS


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay W := W(1 - lr λ) before the Adam update, see
    :func:`descent.functional.adamw`. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 1e-2, amsgrad False, bias_correction True, eps_inside_sqrt False, maximize False."""

    RULE = 6
    DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False,
                "bias_correction": True, "eps_inside_sqrt": False, "maximize": False}


class Adamax(Optimizer):
    """Adamax, see :func:`descent.functional.adamax`. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, bias_correction True, maximize False, decoupled_weight_decay False."""

    RULE = 7
    SLOTS = ("exp_avg", "exp_inf")
    DEFAULTS = {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "bias_correction": True,
                **_COMMON}
    BOOLEANS = {**Optimizer.BOOLEANS, "bias_correction": (_f.NO_BIAS_CORRECTION, True)}


class NAdam(Optimizer):
    """NAdam, see :func:`descent.functional.nadam`. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, momentum_decay 4e-3, maximize False, decoupled_weight_decay False. Π (mu_product) is kept per group."""

    RULE = 8
    SLOTS = ("exp_avg", "exp_avg_sq")
    DEFAULTS = {"lr": 2e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "momentum_decay": 4e-3,
                **_COMMON}


class RAdam(Optimizer):
    """RAdam, see :func:`descent.functional.radam`. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, maximize False, decoupled_weight_decay False."""

    RULE = 9
    SLOTS = ("exp_avg", "exp_avg_sq")
    DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, **_COMMON}


class Lion(Optimizer):
    """Lion, see :func:`descent.functional.lion`. Defaults: lr 1e-4, betas (0.9, 0.99), weight_decay 0,
    maximize False, decoupled_weight_decay True."""

    RULE = 10
    SLOTS = ("exp_avg",)
    DEFAULTS = {"lr": 1e-4, "betas": (0.9, 0.99), "weight_decay": 0.0, "maximize": False,
                "decoupled_weight_decay": True}


_RULE_NAMES = {cls.RULE: cls.__name__ for cls in (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax, NAdam, RAdam,
                                                   Lion)}


def _owners(name: str, members: Callable[[type[Optimizer]], Any]) -> str:
    """'an optimizer of another rule (Adam, AdamW or ...)': the rules whose `members(cls)` hold `name`."""
    owners = [cls.__name__ for cls in (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax, NAdam, RAdam, Lion)
              if name in members(cls)]
    if not owners:
        return "no descent optimizer"
    listed = owners[0] if len(owners) == 1 else ", ".join(owners[:-1]) + " or " + owners[-1]
    return f"another rule's optimizer ({listed})"
