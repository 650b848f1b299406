"""Argument plumbing shared by descent.nn and descent.gradcheck: NumPy arrays or descent Tensors
in, the same kind out."""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _check, errors
from .tensor import DTYPE_CODES, DTypeLike, FloatArray, Tensor, tensor, wrap, zeros

#: An input that is only read: a Tensor, or anything NumPy turns into an array (copied in).
ArrayInput = Union[Tensor, npt.ArrayLike]
#: Integer class labels, one per sample.
Labels = Union[npt.NDArray[np.integer[Any]], Sequence[int]]

REDUCTIONS = {"mean": 0, "sum": 1}


def as_tensor(value: object, dtype: Optional[DTypeLike] = None, role: str = "argument") -> tuple[Tensor, bool]:
    """(Tensor, is_numpy): a descent Tensor for `value` (copied when it is not one already)."""
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != np.dtype(dtype):
            raise errors.DTypeError(f"{role} is {value.dtype}, expected {np.dtype(dtype)}")
        return value, False
    array: npt.NDArray[Any] = _check.array(value, role)
    if dtype is not None:
        if array.dtype in DTYPE_CODES and array.dtype != np.dtype(dtype):
            raise errors.DTypeError(f"{role} is {array.dtype}, expected {np.dtype(dtype)}")
        array = _check.array(array, role, dtype=dtype)
    elif array.dtype not in DTYPE_CODES:
        if array.dtype.kind in "biu":
            array = array.astype(np.float64)
        else:
            raise errors.DTypeError(f"{role} must be float32 or float64, not {array.dtype}")
    return tensor(array), True


def as_state(value: object, dtype: Optional[DTypeLike], role: str) -> Tensor:
    """A Tensor updated in place by the library: a Tensor as is, a NumPy array wrapped zero-copy
    (so the caller's array sees the update)."""
    if isinstance(value, Tensor):
        if value.dtype != np.dtype(dtype):
            raise errors.DTypeError(f"{role} is {value.dtype}, expected {np.dtype(dtype)}")
        return value
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{role} must be a numpy.ndarray or descent.Tensor updated in place, "
                        f"got {type(value).__name__}")
    if value.dtype != np.dtype(dtype):
        raise errors.DTypeError(f"{role} is {value.dtype}, expected {np.dtype(dtype)}")
    if not (value.flags.c_contiguous and value.flags.writeable and value.flags.aligned):
        problem = "not C-contiguous" if not value.flags.c_contiguous else \
            "read-only" if not value.flags.writeable else "not aligned"
        raise errors.InvalidArgumentError(
            f"{role} is {problem}: it is updated in place, through the array's own memory, so it must be a "
            f"writeable, aligned, C-contiguous array (make one with np.ascontiguousarray({role}) or "
            f"{role}.copy() and keep using that array), or a descent.Tensor")
    return wrap(value)


def output(shape: Sequence[int], dtype: DTypeLike) -> Tensor:
    return zeros(shape, dtype=dtype)


def result(out: Tensor, numpy_mode: bool) -> Union[Tensor, FloatArray]:
    """Converts an output Tensor back to NumPy when the inputs were NumPy arrays."""
    return out.numpy() if numpy_mode else out


def labels_argument(labels: object) -> tuple[npt.NDArray[np.int64], Any, int]:
    """(int64 array kept alive, pointer, count) for integer class labels."""
    array: npt.NDArray[Any] = _check.array(labels, "labels")
    if array.ndim != 1:
        raise errors.ShapeError(f"labels must be a 1-D integer array, got shape {array.shape}")
    if array.size and array.dtype.kind not in "iu":
        raise errors.DTypeError(f"labels must be integers, not {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.int64)
    pointer = array.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))
    return array, pointer, int(array.size)


def reduction_code(reduction: str) -> int:
    try:
        return REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise errors.InvalidArgumentError(
            f"reduction must be 'mean' or 'sum', got {reduction!r}") from None
