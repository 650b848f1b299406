"""Gradient clipping (PyTorch ``clip_grad_norm_`` / ``clip_grad_value_`` semantics).

``grads`` is one gradient or a list of them; each is a NumPy array (float32 or float64,
C-contiguous and writeable: it is modified in place) or a :class:`descent.Tensor`. All must share
one dtype. Everything is checked before anything is modified: on any error every gradient is
left unchanged.

    total = descent.clip.clip_grad_norm([gW1, gb1, gW2], max_norm=1.0)   # pre-clip norm
    descent.clip.clip_grad_value([gW1, gb1], clip_value=0.5)
"""

from __future__ import annotations

import ctypes
import math
import numbers
from typing import Any, Callable, Iterable, SupportsFloat, TypeVar, Union

import numpy as np
import numpy.typing as npt

from . import _check, _ffi, errors
from ._ffi import lib
from .tensor import DTYPE_CODES, Tensor, wrap

#: One gradient clipped in place: a float32/float64 NumPy array or a Tensor.
Gradient = Union[Tensor, npt.NDArray[np.floating[Any]]]
#: One gradient or a list of them.
Gradients = Union[Gradient, Iterable[Gradient]]
#: A p-norm: a positive number, or "inf" / float("inf") for the max norm.
NormType = Union[float, int, str]

_Self = TypeVar("_Self", bound="GradientGroup")

__all__ = ["clip_grad_norm", "clip_grad_value", "total_norm", "GradientGroup"]


def _gradients(grads: object) -> list[Gradient]:
    """A list of gradients; every NumPy array checked (nothing is wrapped yet)."""
    items: list[Any]
    if isinstance(grads, (np.ndarray, Tensor)):
        items = [grads]
    else:
        try:
            items = list(grads)  # type: ignore[call-overload]
        except TypeError as exc:
            raise TypeError(f"grads must be an array, a Tensor or a list of them, got {type(grads).__name__}") from exc
    for index, item in enumerate(items):
        if isinstance(item, Tensor):
            continue
        if not isinstance(item, np.ndarray):
            raise TypeError(f"grads[{index}] is {type(item).__name__}, not a numpy.ndarray or descent.Tensor")
        if item.dtype not in DTYPE_CODES:
            raise errors.DTypeError(f"grads[{index}] is {item.dtype}; gradients are float32 or float64")
        if not item.flags.c_contiguous:
            raise errors.InvalidArgumentError(f"grads[{index}] is not C-contiguous (it is clipped in place)")
        if not item.flags.writeable:
            raise errors.InvalidArgumentError(f"grads[{index}] is read-only (it is clipped in place)")
        if not item.flags.aligned:
            raise errors.InvalidArgumentError(f"grads[{index}] is not aligned")
    return items


def _call(grads: object, function: Callable[..., Any], *arguments: Any) -> None:
    """Wraps arrays zero-copy, calls function(handles, count, *arguments), frees the wraps."""
    items = _gradients(grads)
    temporary: list[Tensor] = []
    try:
        handles: list[int] = []
        for item in items:
            if isinstance(item, Tensor):
                handles.append(item.handle)
            else:
                wrapped = wrap(item)
                temporary.append(wrapped)
                handles.append(wrapped.handle)
        array = (_ffi.handle_t * max(len(handles), 1))(*handles)
        function(array, len(handles), *arguments)
    finally:
        for wrapped in temporary:
            wrapped.close()


def _norm_type(norm_type: object) -> float:
    if isinstance(norm_type, str) and norm_type.lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise errors.InvalidArgumentError(f"norm_type must be a positive number or 'inf', got {norm_type!r}")
    return _check.real(norm_type, "norm_type")


def clip_grad_norm(grads: Gradients, max_norm: SupportsFloat, norm_type: NormType = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    """Clips by the global norm of all gradients together and returns the PRE-clip total norm.

    ``total = (sum over every element of every gradient |g|**p) ** (1/p)`` (p = norm_type; p = inf
    is ``max |g|``), accumulated in float64 in a fixed order. If ``total > max_norm`` every
    gradient is scaled in place by ``max_norm / (total + 1e-6)`` (for float32 the factor is
    rounded to float32 first).

    A non-finite total leaves the gradients untouched and is returned (so a training loop can
    skip the step), or raises :class:`~descent.NonFiniteError` when ``error_if_nonfinite``.
    """
    total = ctypes.c_double()
    limit = _check.real(max_norm, "max_norm")
    p = _norm_type(norm_type)
    nonfinite_error = _check.flag(error_if_nonfinite, "error_if_nonfinite")
    if p == 2.0 and not nonfinite_error:
        _call(grads, lib.descent_clip_grad_norm, limit, ctypes.byref(total))
    else:
        _call(grads, lib.descent_clip_grad_norm_ex, limit, p, 1 if nonfinite_error else 0,
              ctypes.byref(total))
    return float(total.value)


def total_norm(grads: Gradients, norm_type: NormType = 2.0) -> float:
    """The global norm :func:`clip_grad_norm` would measure, without modifying anything. norm_type defaults
    to 2.0 (float("inf") for max |g|)."""
    total = ctypes.c_double()
    _call(grads, lib.descent_clip_grad_norm_ex, math.inf, _norm_type(norm_type), 0, ctypes.byref(total))
    return float(total.value)


def clip_grad_value(grads: Gradients, clip_value: SupportsFloat) -> None:
    """Clamps every element into ``[-clip_value, clip_value]`` in place (NaN stays NaN)."""
    _call(grads, lib.descent_clip_grad_value, _check.real(clip_value, "clip_value"))


class GradientGroup:
    """A fixed list of gradients registered once, for clipping every step without converting
    arrays to pointers on every call (the hot path of a training loop).

    NumPy arrays are wrapped zero-copy, so refill them in place (``g[...] = new``) between calls;
    the group keeps them alive until :meth:`close`. Same semantics as the module functions::

        group = GradientGroup([gW1, gb1, gW2])
        for batch in batches:
            ...fill gW1, gb1, gW2 in place...
            total = group.clip_norm(1.0)
    """

    def __init__(self, grads: Gradients) -> None:
        items = _gradients(grads)
        self._wraps: list[Tensor] = []
        handles: list[int] = []
        try:
            for item in items:
                if isinstance(item, Tensor):
                    handles.append(item.handle)
                else:
                    wrapped = wrap(item)
                    self._wraps.append(wrapped)
                    handles.append(wrapped.handle)
        except BaseException:
            self.close()
            raise
        self._items = items          # keeps caller Tensors alive too
        self._count = len(handles)
        self._array = (_ffi.handle_t * max(len(handles), 1))(*handles)
        self._total = ctypes.c_double()

    def __len__(self) -> int:
        return self._count

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A group over the same gradients (copy.copy) or over copies of them (deepcopy, pickle);
        # copying the handle table would clip the original's gradients instead.
        if getattr(self, "_closed", False):
            raise errors.ClosedError("this GradientGroup is closed: it cannot be copied")
        return GradientGroup, (list(self._items),)

    def clip_norm(self, max_norm: SupportsFloat, norm_type: NormType = 2.0, error_if_nonfinite: bool = False) -> float:
        """:func:`clip_grad_norm` over the group; returns the pre-clip total norm. norm_type defaults to
        2.0 (inf for the max norm); error_if_nonfinite defaults to False."""
        p = _norm_type(norm_type)
        if p == 2.0 and not _check.flag(error_if_nonfinite, "error_if_nonfinite"):
            lib.descent_clip_grad_norm(self._array, self._count, _check.real(max_norm, "max_norm"), ctypes.byref(self._total))
        else:
            lib.descent_clip_grad_norm_ex(self._array, self._count, _check.real(max_norm, "max_norm"), p,
                                          1 if _check.flag(error_if_nonfinite, "error_if_nonfinite") else 0,
                                          ctypes.byref(self._total))
        return float(self._total.value)

    def clip_value(self, clip_value: SupportsFloat) -> None:
        """:func:`clip_grad_value` over the group."""
        lib.descent_clip_grad_value(self._array, self._count, _check.real(clip_value, "clip_value"))

    def norm(self, norm_type: NormType = 2.0) -> float:
        """The total norm of the group's gradients for norm_type p
        (default 2.0), as :func:`total_norm`."""
        lib.descent_clip_grad_norm_ex(self._array, self._count, math.inf, _norm_type(norm_type), 0,
                                      ctypes.byref(self._total))
        return float(self._total.value)

    def close(self) -> None:
        """Releases the zero-copy wraps (idempotent); later calls raise InvalidHandleError."""
        self._closed = True
        for wrapped in getattr(self, "_wraps", []):
            wrapped.close()
        self._wraps = []
        if hasattr(self, "_array"):
            self._array = (_ffi.handle_t * max(self._count, 1))()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
