"""Argument checks shared by the public entry points: each names the argument and what it expected,
instead of letting a raw Python or NumPy error ("'float' object is not iterable", "The truth value
of an array ... is ambiguous") escape from inside the package."""

from __future__ import annotations

import numbers
import os
from typing import Any, Mapping, Optional, TypeVar

import numpy as np
import numpy.typing as npt

from . import errors

_V = TypeVar("_V")


def describe(value: object) -> str:
    """A wrong argument as a message shows it: its type, and its value when short."""
    text = repr(value)
    return type(value).__name__ + ("" if len(text) > 40 else f" {text}")


def flag(value: object, name: str) -> bool:
    """A yes/no option: anything with an unambiguous truth value (an array of several elements is not)."""
    try:
        return bool(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be True or False, got {describe(value)}") from None


def real(value: object, name: str) -> float:
    """A real number (a 0-d numeric array counts), as float."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    return float(value)


def integer(value: object, name: str) -> int:
    """An integer (not a bool), as int."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    return int(value)


def choice(value: object, table: Mapping[Any, _V], name: str) -> _V:
    """One of the keys of `table` (its value is returned)."""
    try:
        found = value in table
    except TypeError:  # unhashable
        found = False
    if not found:
        raise errors.InvalidArgumentError(f"{name} must be one of {', '.join(repr(k) for k in table)}, got "
                                          f"{describe(value)}")
    return table[value]


def sequence(value: Any, name: str, what: str = "items") -> list[Any]:
    """A list of the items of an iterable (not a string, bytes, dict or array scalar)."""
    if isinstance(value, (str, bytes, bytearray, dict)) or (isinstance(value, np.ndarray) and value.ndim == 0) \
            or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of {what}, got {describe(value)}")
    return list(value)


def path(value: Any, name: str = "path") -> bytes:
    """A file path as bytes for the C library."""
    try:
        return os.fsencode(value)
    except TypeError:
        raise TypeError(f"{name} must be a str, bytes or os.PathLike file path, got {describe(value)}") from None


def array(value: object, name: str, dtype: Optional[npt.DTypeLike] = None, order: Any = None) -> npt.NDArray[Any]:
    """np.asarray(value, dtype, order) with the argument named when NumPy cannot convert it: a
    ragged nesting is a ShapeError, anything else that is not numbers a TypeError (MemoryError
    passes through: an array too large to allocate)."""
    try:
        return np.asarray(value, dtype=dtype, order=order)
    except MemoryError:
        raise
    except (TypeError, ValueError) as error:
        message = str(error).split(". ")[0]
        if "sequence" in message or "inhomogeneous" in message:
            raise errors.ShapeError(f"{name} must be a rectangular array of numbers: {message}") from None
        raise TypeError(f"{name} must be an array of numbers, got {describe(value)} ({message})") from None


def dtype(value: Any, name: str = "dtype") -> np.dtype[Any]:
    """A NumPy dtype from anything np.dtype accepts."""
    try:
        kind: np.dtype[Any] = np.dtype(value)
        return kind
    except (TypeError, ValueError):
        raise errors.DTypeError(f"{name} must be a dtype (np.float32 or np.float64), got {describe(value)}") \
            from None
