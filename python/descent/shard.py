"""Optimizer shards: ZeRO stage 1 without MPI (C ``descent_optimizer_shard``).

The *flattened params* of an optimizer are its params' elements concatenated in group order. A
shard over the range ``start .. start+count`` updates exactly those elements of the original
arrays in place and holds optimizer state for them alone, so N ranks that each step their own
1/N of the range together do what one optimizer does, with 1/N of the state each::

    import numpy as np
    import descent

    w = np.ones(10)
    opt = descent.optim.Adam([w], lr=0.1)
    left, right = opt.shard(0, 4), opt.shard(4, 6)     # two ranks' shares
    left.grad_buffer[...] = 1.0                         # each rank's part of the (reduced) gradient
    right.grad_buffer[...] = 1.0
    left.step(); right.step()
    assert np.allclose(w, 0.9)

:mod:`descent.distributed` fills ``grad_buffer`` with a reduce-scatter and gathers the params
with an allgather.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from . import errors
from ._ffi import lib
from ._native import NativeObject
from .optim import FLAGS_KEY, HYPER
from .tensor import DTYPE_CODES, FloatArray

if TYPE_CHECKING:
    from .optim import Optimizer

__all__ = ["OptimizerShard", "shard_ranges"]


def shard_ranges(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous (start, count) ranges tiling ``0 .. total`` in order, sizes differing
    by at most one (part r starts at r·total // parts)."""
    if isinstance(parts, bool) or not isinstance(parts, (int, np.integer)) or parts < 1:
        raise errors.InvalidArgumentError(f"parts must be an int >= 1, got {parts!r}")
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total < 0:
        raise errors.InvalidArgumentError(f"total must be an int >= 0, got {total!r}")
    bounds = [r * int(total) // int(parts) for r in range(int(parts) + 1)]
    return [(bounds[r], bounds[r + 1] - bounds[r]) for r in range(int(parts))]


class OptimizerShard(NativeObject):
    """A shard of `optimizer` over flat elements ``start .. start+count`` (see the module
    docstring). It copies the optimizer's rule, groups, hyper-parameters, step count and the state
    of its elements when made; afterwards :meth:`step` pushes the optimizer's current
    ``param_groups`` hyper-parameters (a scheduler may have changed lr) before updating. The
    optimizer itself is not stepped by the shard. :attr:`grad_buffer` is the shard's gradient
    (``count`` elements, one dtype: params of mixed dtypes cannot be sharded here)."""

    _FREE = "descent_optimizer_free"
    _KIND = "optimizer shard"

    def __init__(self, optimizer: Optimizer, start: int, count: int) -> None:
        for name, value in (("start", start), ("count", count)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        params = optimizer._params()
        dtypes = {p.dtype for p in params}
        if len(dtypes) > 1:
            raise errors.DTypeError("a shard needs params of one dtype; this optimizer mixes "
                                    f"{sorted(str(d) for d in dtypes)}")
        optimizer._sync()
        handle = ctypes.c_uint64()
        lib.descent_optimizer_shard(optimizer.handle, int(start), int(count), ctypes.byref(handle))
        self._handle = handle.value
        self.optimizer, self.start, self.count = optimizer, int(start), int(count)
        self.dtype: np.dtype[Any] = next(iter(dtypes)) if dtypes else np.dtype(np.float64)
        # The pieces: (param index, offset in that param, elements) for every param in the range.
        self.pieces: list[tuple[int, int, int]] = []
        offset = 0
        for index, param in enumerate(params):
            lower, upper = max(offset, self.start), min(offset + param.size, self.start + self.count)
            if lower < upper:
                self.pieces.append((index, lower - offset, upper - lower))
            offset += param.size
        self._pushed = [optimizer._getter(group) for group in optimizer.param_groups]
        self._skipped = ctypes.c_int32()

    @property
    def grad_buffer(self) -> FloatArray:
        """The shard's gradient as one flat NumPy view of ``count`` elements (library memory, C
        ``descent_optimizer_grad_buffer``): fill it, then :meth:`step`."""
        data, size = ctypes.c_void_p(), ctypes.c_int64()
        lib.descent_optimizer_grad_buffer(self._handle, DTYPE_CODES[self.dtype], ctypes.byref(data),
                                          ctypes.byref(size))
        if size.value == 0:
            return np.zeros(0, dtype=self.dtype)
        buffer = (ctypes.c_char * (size.value * self.dtype.itemsize)).from_address(data.value or 0)
        view: FloatArray = np.frombuffer(memoryview(buffer), dtype=self.dtype, count=size.value)
        return view

    def sync_hyperparameters(self) -> None:
        """Pushes the optimizer's current ``param_groups`` values (lr set by a scheduler, ...)
        into the shard."""
        source = self.optimizer
        for index, group in enumerate(source.param_groups):
            values = source._getter(group)
            if values == self._pushed[index]:
                continue
            pairs, flags = source._encode(values)
            lib.descent_optimizer_set_hyper(self._handle, index, FLAGS_KEY, 0.0)  # always valid
            for key, value in pairs:
                lib.descent_optimizer_set_hyper(self._handle, index, key, value)
            lib.descent_optimizer_set_hyper(self._handle, index, FLAGS_KEY, float(flags))
            self._pushed[index] = values

    def set_lr(self, rates: list[float]) -> None:
        """Sets each group's learning rate in the shard only (a schedule's value for this step)."""
        for index, rate in enumerate(rates):
            lib.descent_optimizer_set_hyper(self._handle, index, HYPER["lr"], float(rate))

    def step(self) -> bool:
        """One update of the shard's elements with :attr:`grad_buffer`; False when the "skip"
        policy skipped it (non-finite gradient)."""
        lib.descent_optimizer_step(self._handle, ctypes.byref(self._skipped))
        return bool(self._skipped.value == 0)

    @property
    def step_count(self) -> int:
        """Updates the shard applied so far plus the step count it was made with."""
        value = ctypes.c_int64()
        lib.descent_optimizer_step_count(self._handle, ctypes.byref(value))
        return int(value.value)

    @step_count.setter
    def step_count(self, count: int) -> None:
        lib.descent_optimizer_set_step_count(self._handle, int(count))

    @property
    def state_bytes(self) -> int:
        """Bytes of state buffers the shard holds (about count/total of the optimizer's)."""
        elements, state_bytes = ctypes.c_int64(), ctypes.c_int64()
        lib.descent_optimizer_sizes(self._handle, ctypes.byref(elements), ctypes.byref(state_bytes))
        return int(state_bytes.value)

    def slot_present(self, slot: int) -> bool:
        """Whether state slot `slot` (an index into the optimizer class's SLOTS) is allocated."""
        if not self.pieces:
            return False
        present = ctypes.c_int32()
        lib.descent_optimizer_state_present(self._handle, 0, int(slot), ctypes.byref(present))
        return bool(present.value)

    def get_state(self, slot: int) -> FloatArray:
        """State slot `slot` of the shard's elements as one flat array (a copy)."""
        out: FloatArray = np.empty(self.count, dtype=self.dtype)
        position = 0
        for piece, (_, _, size) in enumerate(self.pieces):
            lib.descent_optimizer_state_get(self._handle, piece, int(slot), DTYPE_CODES[self.dtype],
                                            out[position:].ctypes.data, size)
            position += size
        return out

    def set_state(self, slot: int, values: npt.ArrayLike) -> None:
        """Overwrites state slot `slot` of the shard's elements from a flat array of ``count``."""
        array = np.ascontiguousarray(values, dtype=self.dtype).reshape(-1)
        if array.size != self.count:
            raise errors.ShapeError(f"state has {array.size} elements, the shard {self.count}")
        position = 0
        for piece, (_, _, size) in enumerate(self.pieces):
            lib.descent_optimizer_state_set(self._handle, piece, int(slot), DTYPE_CODES[self.dtype],
                                            array[position:].ctypes.data, size)
            position += size

    def mu_products(self) -> list[float]:
        """NAdam's running product of every group (1 for other rules)."""
        values: list[float] = []
        for index in range(len(self.optimizer.param_groups)):
            value = ctypes.c_double()
            lib.descent_optimizer_mu_product(self._handle, index, ctypes.byref(value))
            values.append(float(value.value))
        return values

    def set_mu_products(self, values: list[float]) -> None:
        """Sets NAdam's running product of every group."""
        for index, value in enumerate(values):
            lib.descent_optimizer_set_mu_product(self._handle, index, float(value))

    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the shard's checkpoint (hyper-parameters, step count, its state; the format of
        :meth:`Optimizer.save`) atomically."""
        lib.descent_optimizer_save(self._handle, os.fsencode(path), 0)

    def load(self, path: Union[str, os.PathLike[str]]) -> None:
        """Restores a checkpoint written by :meth:`save` of a shard over the same range."""
        lib.descent_optimizer_load(self._handle, os.fsencode(path))

    def __repr__(self) -> str:
        if self.closed:
            return "OptimizerShard(closed)"
        return f"OptimizerShard({type(self.optimizer).__name__}, elements {self.start}..{self.start + self.count})"
