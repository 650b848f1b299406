"""Numerical gradients, gradient checking and the step-size experiment, driven by the library
with a Python callable as the scalar function (C: ``descent_numerical_gradient``,
``descent_gradient_check``, ``descent_gradient_compare``, ``descent_step_size_sweep``).

The callable ``f`` receives the current point as a NumPy array and returns a float. When x is a
writeable, C-contiguous float32/float64 NumPy array, the library perturbs THAT array in place and
passes it to ``f`` (so closures over it, cs231n-style, see the perturbation too); otherwise it
works on a private copy. Either way x is restored bit for bit afterwards, also on failure.

If ``f`` raises, the computation stops and :class:`descent.CallbackError` is raised with the
original exception as ``__cause__`` (KeyboardInterrupt and SystemExit propagate unchanged).

Guidance on h and thresholds (docs/gradients.md): centered differences; float64: h = 1e-6,
relative error < 1e-7 is a correct gradient, > 1e-4 a wrong one (away from kinks); float32:
h = 1e-3 … 1e-2 and errors up to ~1e-2 are normal — check in float64 when you can.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, NamedTuple, Optional, Sequence, SupportsFloat, SupportsInt, Union, overload

import numpy as np
import numpy.typing as npt

from . import _check, errors
from ._ffi import lib
from .tensor import DTYPE_CODES, DTypeLike, FloatArray, Tensor, tensor, wrap

#: The scalar function being differentiated: the current point (a NumPy array) to a float.
ScalarFunction = Callable[[FloatArray], SupportsFloat]
#: A point or gradient: a Tensor or anything NumPy turns into a float array.
PointLike = Union[Tensor, npt.ArrayLike]

METHODS = {"forward": 0, "centered": 1}
DEFAULT_STEP = {np.dtype(np.float32): 1e-3, np.dtype(np.float64): 1e-6}
DEFAULT_FLOOR = 1e-12
#: The step sizes of the step-size experiment, 1e-10 ... 1e-1 (cs231n's "step size" search in
#: the optimization notes).
STEP_SIZES = tuple(10.0 ** k for k in range(-10, 0))
#: The former name of STEP_SIZES, kept for existing code.
SEED_STEP_SIZES = STEP_SIZES


class GradientCheckResult(NamedTuple):
    """Result of a gradient check: the largest relative error |a - n| / max(|a| + |n|, floor), its
    coordinate (a tuple index into x; None when nothing was compared) and both values there."""

    max_error: float
    worst_index: Optional[tuple[int, ...]]
    analytic: float
    numerical: float

_SCALAR_FN = lib.descent_numerical_gradient.argtypes[0]


def _method_code(method: str) -> int:
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise errors.InvalidArgumentError(f"method must be 'forward' or 'centered', got {method!r}") from None


class _Point:
    """The tensor the library perturbs and the array view handed to f."""

    tensor: Tensor
    array: Optional[FloatArray]
    dtype: np.dtype[Any]
    shape: tuple[int, ...]

    def __init__(self, x: PointLike) -> None:
        if isinstance(x, Tensor):
            self.tensor = x
            self.array = None
            self.dtype = x.dtype
            self.shape = x.shape
            return
        array: npt.NDArray[Any] = x if isinstance(x, np.ndarray) else _check.array(x, "x")
        if array.dtype not in DTYPE_CODES:
            if array.dtype.kind in "biu":
                array = array.astype(np.float64)
            else:
                raise errors.DTypeError(f"x must be float32 or float64, not {array.dtype}")
        if not (array.flags.c_contiguous and array.flags.writeable and array.flags.aligned):
            array = np.array(array, order="C", copy=True)
        self.array = array
        self.tensor = wrap(array)
        self.dtype = array.dtype
        self.shape = array.shape

    def value(self) -> FloatArray:
        return self.array if self.array is not None else self.tensor.numpy()


class _Callback:
    """A ctypes callback around f, kept alive for the duration of one library call."""

    def __init__(self, f: ScalarFunction, point: _Point) -> None:
        self.f, self.point = f, point
        self.error: Optional[BaseException] = None
        self.pointer = _SCALAR_FN(self._call)

    def _call(self, context: Any, handle: int, out: Any) -> int:
        try:
            out[0] = float(self.f(self.point.value()))
            return 0
        except BaseException as exc:  # never let an exception unwind through C
            self.error = exc
            return errors.CallbackError.code or 12

    def run(self, function: Callable[..., Any], *arguments: Any) -> None:
        try:
            function(self.pointer, None, *arguments)
        except errors.CallbackError as exc:
            cause = self.error
            if isinstance(cause, (KeyboardInterrupt, SystemExit)):
                raise cause
            if cause is not None:
                raise errors.CallbackError(f"{exc.message}: {type(cause).__name__}: {cause}") from cause
            raise


def _step(h: Optional[SupportsFloat], dtype: DTypeLike) -> float:
    return DEFAULT_STEP[np.dtype(dtype)] if h is None else _check.real(h, "h")


@overload
def numerical_gradient(f: ScalarFunction, x: Tensor, h: Optional[SupportsFloat] = ..., method: str = ...) -> Tensor: ...
@overload
def numerical_gradient(f: ScalarFunction, x: npt.ArrayLike, h: Optional[SupportsFloat] = ...,
                       method: str = ...) -> FloatArray: ...


def numerical_gradient(f: ScalarFunction, x: PointLike, h: Optional[SupportsFloat] = None,
                       method: str = "centered") -> Union[Tensor, FloatArray]:
    """Finite-difference gradient of the scalar function ``f`` at ``x``:
    forward ``(f(x + h e_i) - f(x)) / h`` or centered ``(f(x + h e_i) - f(x - h e_i)) / 2h``
    (dividing by the step actually taken after rounding to x's dtype). ``h`` defaults to 1e-6
    (float64) or 1e-3 (float32). Returns an array (a Tensor when x is a Tensor). method is "centered"
    (default) or "forward"."""
    point = _Point(x)
    grad = tensor(np.zeros(point.shape, dtype=point.dtype))
    _Callback(f, point).run(lib.descent_numerical_gradient, point.tensor.handle, _step(h, point.dtype),
                            _method_code(method), grad.handle)
    return grad if isinstance(x, Tensor) else grad.numpy()


def gradient_check(f: ScalarFunction, x: PointLike, analytic: PointLike, h: Optional[SupportsFloat] = None,
                   method: str = "centered", floor: SupportsFloat = DEFAULT_FLOOR, samples: SupportsInt = 0,
                   seed: SupportsInt = 0) -> GradientCheckResult:
    """Checks ``analytic`` (x's shape) against the numerical gradient of ``f`` at ``x``.

    The error is ``max_i |a_i - n_i| / max(|a_i| + |n_i|, floor)``. ``samples = k > 0`` checks k
    coordinates drawn (with replacement) from SplitMix64(seed): index_j = output_j mod x.size;
    0 checks all. Returns :data:`GradientCheckResult` (worst_index is a tuple into x). `h` and `method`
    ("centered", default, or "forward") as in :func:`numerical_gradient`; floor defaults to 1e-12,
    samples to 0, seed to 0."""
    point = _Point(x)
    if isinstance(analytic, Tensor):
        at = analytic
    else:
        at = tensor(_check.array(analytic, "analytic", dtype=point.dtype))
    max_error, worst = ctypes.c_double(), ctypes.c_int64()
    a_worst, n_worst = ctypes.c_double(), ctypes.c_double()
    _Callback(f, point).run(lib.descent_gradient_check, point.tensor.handle, at.handle, _step(h, point.dtype),
                            _method_code(method), _check.real(floor, "floor"), _check.integer(samples, "samples"),
                            _check.integer(seed, "seed"),
                            ctypes.byref(max_error), ctypes.byref(worst), ctypes.byref(a_worst),
                            ctypes.byref(n_worst))
    index = tuple(int(i) for i in np.unravel_index(worst.value, point.shape)) if worst.value >= 0 else None
    return GradientCheckResult(float(max_error.value), index, float(a_worst.value), float(n_worst.value))


def compare_gradients(analytic: PointLike, numerical: PointLike,
                      floor: SupportsFloat = DEFAULT_FLOOR) -> tuple[float, Optional[tuple[int, ...]]]:
    """``(max_error, worst_index)`` of two given gradients with the same relative error. floor defaults to
    1e-12."""
    at = analytic if isinstance(analytic, Tensor) else tensor(_check.array(analytic, "analytic"))
    nt = numerical if isinstance(numerical, Tensor) else tensor(_check.array(numerical, "numerical"))
    max_error, worst = ctypes.c_double(), ctypes.c_int64()
    lib.descent_gradient_compare(at.handle, nt.handle, _check.real(floor, "floor"), ctypes.byref(max_error),
                                 ctypes.byref(worst))
    shape = at.shape
    index = tuple(int(i) for i in np.unravel_index(worst.value, shape)) if worst.value >= 0 else None
    return float(max_error.value), index


def step_size_sweep(loss: ScalarFunction, w: PointLike, grad: PointLike,
                    step_sizes: Union[Sequence[float], npt.NDArray[Any]] = STEP_SIZES) -> list[tuple[float, float]]:
    """The step-size experiment (cs231n, "Optimization" notes): ``loss(W - s · grad)`` for each
    step size s (default 1e-10 … 1e-1). ``loss`` is called with the stepped W as a NumPy array. Returns a list of
    ``(step_size, loss)`` pairs; W is restored exactly. Pass step_sizes to use others."""
    point = _Point(w)
    gt = grad if isinstance(grad, Tensor) else tensor(_check.array(grad, "grad", dtype=point.dtype))
    steps = np.ascontiguousarray(_check.array(step_sizes, "step_sizes", dtype=np.float64))
    if steps.ndim != 1:
        raise errors.ShapeError(f"step_sizes must be 1-D, got shape {steps.shape}")
    losses = np.zeros(steps.size, dtype=np.float64)
    p_f64 = ctypes.POINTER(ctypes.c_double)
    _Callback(loss, point).run(lib.descent_step_size_sweep, point.tensor.handle, gt.handle,
                               steps.ctypes.data_as(p_f64), steps.size, losses.ctypes.data_as(p_f64))
    return list(zip(steps.tolist(), losses.tolist()))


def format_sweep(rows: Sequence[tuple[float, float]], baseline: Optional[float] = None) -> str:
    """The sweep as a text table (``step size``, ``new loss``), one row per step size."""
    lines = [f"{'step size':>12} {'new loss':>16}"]
    if baseline is not None:
        lines.append(f"{'0 (original)':>12} {_check.real(baseline, 'baseline'):16.8f}")
    for row in _check.sequence(rows, "rows", "(step_size, loss) pairs"):
        try:
            step, loss = row
        except (TypeError, ValueError):
            raise TypeError(f"rows must hold (step_size, loss) pairs, got {_check.describe(row)}") from None
        lines.append(f"{_check.real(step, 'step_size'):12.0e} {_check.real(loss, 'loss'):16.8f}")
    return "\n".join(lines)


__all__ = ["GradientCheckResult", "SEED_STEP_SIZES", "STEP_SIZES", "compare_gradients", "format_sweep", "gradient_check",
           "numerical_gradient", "step_size_sweep"]
