"""Tensors: NumPy arrays living in libdescent, named by a handle.

``descent.tensor(array)`` copies; ``descent.wrap(array)`` shares the array's memory (zero-copy)
and keeps the array alive for as long as the tensor exists; ``Tensor.numpy()`` copies back out.

One input convention for every function of the package that takes tensors: a
:class:`Tensor` or a NumPy array. An array that is only read is copied in (integer arrays become
float64); an array the function updates in place (``gd_step``'s param, an ``out=`` argument) is
shared zero-copy, so it must be a C-contiguous, writeable float32 or float64 array, and it sees
the update. Results come back as the kind that went in.
"""

from __future__ import annotations

import ctypes
import numbers
import threading
from typing import Any, Callable, Iterable, Optional, SupportsFloat, SupportsIndex, SupportsInt, TypeVar, Union, overload

import numpy as np
import numpy.typing as npt

from . import _check, _ffi, errors
from ._ffi import lib
from ._native import NativeObject

#: Every dtype argument: a NumPy dtype or anything ``numpy.dtype()`` accepts ("float32", np.float64).
DTypeLike = npt.DTypeLike
#: A float32 or float64 NumPy array, as the package returns them.
FloatArray = npt.NDArray[np.floating[Any]]
#: What a tensor argument may be: a descent Tensor or a NumPy array.
TensorLike = Union["Tensor", npt.NDArray[Any]]
#: A shape: one extent or a sequence of extents.
ShapeLike = Union[SupportsIndex, Iterable[SupportsIndex]]

_T = TypeVar("_T", bound=TensorLike)

DTYPE_CODES: dict[np.dtype[Any], int] = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}
DTYPES: dict[int, np.dtype[Any]] = {code: dtype for dtype, code in DTYPE_CODES.items()}
MAX_RANK = 8


def dtype_code(dtype: DTypeLike) -> int:
    """The C dtype constant for a NumPy dtype (float32 or float64 only)."""
    try:
        key = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise errors.DTypeError(f"not a dtype: {_check.describe(dtype)} (expected np.float32 or np.float64)") from exc
    code = DTYPE_CODES.get(key)
    if code is None:
        raise errors.DTypeError(f"descent tensors are float32 or float64, not {key}")
    return code


def shape_argument(shape: object) -> tuple[int, ctypes.Array[ctypes.c_int64]]:
    """(rank, int64 array) for a shape given as an int or a sequence of ints."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable) or \
            (isinstance(shape, np.ndarray) and shape.ndim == 0):
        raise errors.ShapeError(f"shape must be an int or a sequence of ints, got {shape!r}")
    dims = tuple(shape)
    if not all(isinstance(d, numbers.Integral) for d in dims):
        raise errors.ShapeError(f"shape extents must be integers, got {shape!r}")
    if len(dims) > MAX_RANK:
        raise errors.ShapeError(f"rank {len(dims)} exceeds the maximum rank {MAX_RANK}")
    if any(not -2**63 <= int(d) < 2**63 for d in dims):
        raise errors.ShapeError(f"shape extents must fit in int64, got {shape!r}")
    return len(dims), (ctypes.c_int64 * max(len(dims), 1))(*(int(d) for d in dims))


def _coerce_array(data: npt.ArrayLike, dtype: Optional[DTypeLike]) -> FloatArray:
    """A C-contiguous float32/float64 array for `data` (a copy only when needed)."""
    if dtype is not None:
        return _check.array(data, "data", dtype=np.dtype(DTYPES[dtype_code(dtype)]), order="C")
    array = _check.array(data, "data")
    # np.asarray(order="C") rather than np.ascontiguousarray, which turns 0-d arrays into 1-d.
    if array.dtype in DTYPE_CODES:
        return np.asarray(array, order="C")
    if array.dtype.kind in "biu":
        return np.asarray(array, dtype=np.float64, order="C")
    raise errors.DTypeError(f"descent tensors are float32 or float64, not {array.dtype}")


def _new(function: Callable[..., Any], *arguments: Any, keepalive: Optional[FloatArray] = None) -> Tensor:
    handle = _ffi.handle_t()
    function(*arguments, ctypes.byref(handle))
    return Tensor._adopt(handle.value, keepalive)


class Tensor(NativeObject):
    """A float32 or float64 tensor owned by libdescent (C: ``descent_tensor``).

    Create one with :func:`tensor`, :func:`wrap`, :func:`zeros` and friends. The handle is
    released by :meth:`close` (idempotent), by leaving a ``with`` block, or when the object is
    garbage-collected. Using a closed tensor raises :class:`ClosedError` (an
    :class:`InvalidHandleError`).
    """

    __slots__ = ("_raw", "_keepalive", "_lock", "__weakref__")
    _KIND = "tensor"
    _raw: int
    _keepalive: Optional[FloatArray]
    _lock: threading.Lock

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("use descent.tensor(), descent.wrap() or descent.zeros() to make a Tensor")

    @classmethod
    def _adopt(cls, handle: int, keepalive: Optional[FloatArray] = None) -> Tensor:
        self = object.__new__(cls)
        self._handle = handle
        self._keepalive = keepalive
        self._lock = threading.Lock()
        return self

    # -- lifetime -------------------------------------------------------------------------
    _FREE = "descent_tensor_free"

    def close(self) -> None:
        """Frees the native tensor (a wrapped array stays yours). Safe to call more than once."""
        with self._lock:
            handle, self._raw = getattr(self, "_raw", 0), 0
        if handle:
            lib.descent_tensor_free(handle)
        self._keepalive = None

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy.copy / copy.deepcopy / pickle: a new tensor with this one's elements. A wrapped
        # tensor stays a wrap of its array (deepcopy and pickle copy the array, copy.copy shares it).
        if self._keepalive is not None:
            self._handle  # noqa: B018  (raises ClosedError after close)
            return wrap, (self._keepalive,)
        return tensor, (self.numpy(),)

    # -- queries --------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype[Any]:
        """numpy.float32 or numpy.float64 as a numpy.dtype."""
        code = ctypes.c_int32()
        lib.descent_tensor_dtype(self._handle, ctypes.byref(code))
        return DTYPES[code.value]

    @property
    def ndim(self) -> int:
        """The rank: number of axes (0 for a scalar tensor)."""
        rank = ctypes.c_int64()
        lib.descent_tensor_rank(self._handle, ctypes.byref(rank))
        return int(rank.value)

    @property
    def shape(self) -> tuple[int, ...]:
        """The extents, a tuple of ``ndim`` ints (row-major)."""
        dims = (ctypes.c_int64 * MAX_RANK)()
        lib.descent_tensor_shape(self._handle, dims, MAX_RANK)
        return tuple(int(d) for d in dims[: self.ndim])

    @property
    def size(self) -> int:
        """Number of elements."""
        count = ctypes.c_int64()
        lib.descent_tensor_count(self._handle, ctypes.byref(count))
        return int(count.value)

    @property
    def is_wrapped(self) -> bool:
        """True when this tensor shares the memory of a NumPy array (see :func:`wrap`)."""
        return self._keepalive is not None

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __repr__(self) -> str:
        if self.closed:
            return "<descent.Tensor closed>"
        return f"descent.Tensor({self.numpy()!r})"

    # -- data in and out ------------------------------------------------------------------
    def numpy(self) -> FloatArray:
        """A new NumPy array holding a copy of the elements."""
        out: FloatArray = np.empty(self.shape, dtype=self.dtype)
        lib.descent_tensor_copy_to(self._handle, DTYPE_CODES[out.dtype], out.ctypes.data, out.size)
        return out

    def __array__(self, dtype: Optional[DTypeLike] = None, copy: Optional[bool] = None) -> npt.NDArray[Any]:
        array = self.numpy()
        return array if dtype is None else array.astype(_check.dtype(dtype), copy=False)

    def copy_from(self, data: npt.ArrayLike) -> None:
        """Overwrites the elements from `data` (same dtype and element count; shape is kept)."""
        array = _check.array(data, "data")
        if array.dtype != self.dtype:
            raise errors.DTypeError(f"data is {array.dtype}, tensor holds {self.dtype}")
        array = np.asarray(array, order="C")
        lib.descent_tensor_copy_from(self._handle, DTYPE_CODES[array.dtype], array.ctypes.data, array.size)

    def clone(self) -> Tensor:
        """A new tensor owning a copy of this one."""
        return _new(lib.descent_tensor_clone, self._handle)

    # -- kernels --------------------------------------------------------------------------
    def _binary(self, function: Callable[..., Any], other: TensorLike, out: Optional[_T]) -> Union[Tensor, _T]:
        with _operand(other, "other") as operand:
            if out is None:
                result = zeros(self.shape, dtype=self.dtype)
                function(self._handle, operand._handle, result._handle)
                return result
            with _target(out, "out") as target:
                function(self._handle, operand._handle, target._handle)
            return out

    @overload
    def add(self, other: TensorLike, out: None = None) -> Tensor: ...
    @overload
    def add(self, other: TensorLike, out: _T) -> _T: ...

    def add(self, other: TensorLike, out: Optional[TensorLike] = None) -> TensorLike:
        """self + other, elementwise, into `out` (a new tensor when None; an array or tensor
        updated in place and returned otherwise)."""
        return self._binary(lib.descent_tensor_add, other, out)

    @overload
    def sub(self, other: TensorLike, out: None = None) -> Tensor: ...
    @overload
    def sub(self, other: TensorLike, out: _T) -> _T: ...

    def sub(self, other: TensorLike, out: Optional[TensorLike] = None) -> TensorLike:
        """self - other, elementwise, into `out` (a new tensor when None)."""
        return self._binary(lib.descent_tensor_sub, other, out)

    @overload
    def mul(self, other: TensorLike, out: None = None) -> Tensor: ...
    @overload
    def mul(self, other: TensorLike, out: _T) -> _T: ...

    def mul(self, other: TensorLike, out: Optional[TensorLike] = None) -> TensorLike:
        """self * other (Hadamard product), elementwise, into `out` (a new tensor when None)."""
        return self._binary(lib.descent_tensor_mul, other, out)

    def __add__(self, other: TensorLike) -> Tensor:
        return self.add(other)

    def __sub__(self, other: TensorLike) -> Tensor:
        return self.sub(other)

    def __mul__(self, other: TensorLike) -> Tensor:
        return self.mul(other)

    def scale_(self, alpha: SupportsFloat) -> Tensor:
        """self *= alpha in place (BLAS ?scal); returns self."""
        lib.descent_tensor_scale(self._handle, _check.real(alpha, "alpha"))
        return self

    def axpy_(self, alpha: SupportsFloat, x: TensorLike) -> Tensor:
        """self += alpha * x in place (BLAS ?axpy); returns self."""
        with _operand(x, "x") as operand:
            lib.descent_tensor_axpy(_check.real(alpha, "alpha"), operand._handle, self._handle)
        return self

    def _reduce(self, function: Callable[..., Any]) -> float:
        value = ctypes.c_double()
        function(self._handle, ctypes.byref(value))
        return float(value.value)

    def sum(self) -> float:
        """Sum of all elements, accumulated in float64."""
        return self._reduce(lib.descent_tensor_sum)

    def mean(self) -> float:
        """Mean of all elements (NaN when empty)."""
        return self._reduce(lib.descent_tensor_mean)

    def norm(self) -> float:
        """Euclidean (L2) norm of the flattened tensor."""
        return self._reduce(lib.descent_tensor_norm_l2)

    def max_abs(self) -> float:
        """Largest absolute value (NaN if any element is NaN)."""
        return self._reduce(lib.descent_tensor_max_abs)

    def dot(self, other: TensorLike) -> float:
        """Sum of self * other over all elements (same dtype and shape)."""
        value = ctypes.c_double()
        with _operand(other, "other") as operand:
            lib.descent_tensor_dot(self._handle, operand._handle, ctypes.byref(value))
        return float(value.value)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return matmul(self, other)


class _Borrowed:
    """A tensor argument as a Tensor for the length of one call: the caller's Tensor itself, or a
    temporary made from a NumPy array (copied in, or wrapped zero-copy when it is updated in
    place) and closed when the call returns."""

    __slots__ = ("tensor", "temporary")

    def __init__(self, tensor: Tensor, temporary: bool) -> None:
        self.tensor = tensor
        self.temporary = temporary

    def __enter__(self) -> Tensor:
        return self.tensor

    def __exit__(self, *exc_info: object) -> None:
        if self.temporary:
            self.tensor.close()


def _not_a_tensor(value: object, role: str) -> TypeError:
    return TypeError(f"{role}: expected a descent.Tensor or a numpy.ndarray, got {type(value).__name__}")


def _operand(value: object, role: str) -> _Borrowed:
    """A tensor argument that is only read: a Tensor as is, a NumPy array copied in."""
    if isinstance(value, Tensor):
        return _Borrowed(value, False)
    if isinstance(value, np.ndarray):
        return _Borrowed(tensor(value), True)
    raise _not_a_tensor(value, role)


def _target(value: object, role: str) -> _Borrowed:
    """A tensor argument updated in place: a Tensor as is, a NumPy array wrapped zero-copy."""
    if isinstance(value, Tensor):
        return _Borrowed(value, False)
    if isinstance(value, np.ndarray):
        return _Borrowed(wrap(value), True)
    raise _not_a_tensor(value, role)


# -- constructors -----------------------------------------------------------------------------

def tensor(data: npt.ArrayLike, dtype: Optional[DTypeLike] = None) -> Tensor:
    """A new tensor holding a copy of `data` (an array or nested sequence).

    float32 and float64 arrays keep their dtype; integer and bool data become float64 unless
    `dtype` says otherwise; other dtypes raise :class:`DTypeError`.
    """
    array = _coerce_array(data, dtype)
    rank, dims = shape_argument(array.shape)
    return _new(lib.descent_tensor_from_buffer, DTYPE_CODES[array.dtype], rank, dims,
                array.ctypes.data, array.size)


def wrap(array: FloatArray) -> Tensor:
    """A tensor sharing `array`'s memory (zero-copy): updates through the tensor show in the array.

    `array` must be a writeable, aligned, C-contiguous float32 or float64 ndarray; anything else
    raises (use :func:`tensor` to copy instead). The tensor holds a reference to the array, so the
    memory stays alive until the tensor is closed.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"wrap() needs a numpy.ndarray, got {type(array).__name__}")
    code = dtype_code(array.dtype)
    if not array.flags.c_contiguous:
        raise errors.InvalidArgumentError("wrap() needs a C-contiguous array; use descent.tensor() to copy")
    if not array.flags.writeable:
        raise errors.InvalidArgumentError("wrap() needs a writeable array")
    if not array.flags.aligned:
        raise errors.InvalidArgumentError("wrap() needs an aligned array")
    rank, dims = shape_argument(array.shape)
    return _new(lib.descent_tensor_wrap, code, rank, dims, array.ctypes.data, array.size, keepalive=array)


def zeros(shape: ShapeLike, dtype: DTypeLike = np.float64) -> Tensor:
    """A tensor of zeros. `shape` is an int or a sequence of ints; dtype float64 (default) or float32."""
    rank, dims = shape_argument(shape)
    return _new(lib.descent_tensor_zeros, dtype_code(dtype), rank, dims)


def ones(shape: ShapeLike, dtype: DTypeLike = np.float64) -> Tensor:
    """A tensor of ones. `shape` is an int or a sequence of ints; dtype float64 (default) or float32."""
    rank, dims = shape_argument(shape)
    return _new(lib.descent_tensor_ones, dtype_code(dtype), rank, dims)


def full(shape: ShapeLike, value: SupportsFloat, dtype: DTypeLike = np.float64) -> Tensor:
    """A tensor with every element equal to `value`. `value` is rounded to float32 for dtype float32; dtype
    defaults to float64."""
    rank, dims = shape_argument(shape)
    return _new(lib.descent_tensor_full, dtype_code(dtype), rank, dims, _check.real(value, "value"))


def arange(start: SupportsFloat, stop: Optional[SupportsFloat] = None, step: SupportsFloat = 1.0,
           dtype: DTypeLike = np.float64) -> Tensor:
    """Values start, start+step, ... below stop (NumPy's arange; arange(n) counts 0..n-1). Length
    ``ceil((stop - start) / step)`` (0 when the range is empty), values computed in float64 and rounded
    to `dtype` (default float64); step defaults to 1.0 and must not be 0."""
    if stop is None:
        start, stop = 0.0, start
    return _new(lib.descent_tensor_arange, dtype_code(dtype), _check.real(start, "start"), _check.real(stop, "stop"),
                _check.real(step, "step"))


def linspace(start: SupportsFloat, stop: SupportsFloat, num: SupportsInt = 50, endpoint: bool = True,
             dtype: DTypeLike = np.float64) -> Tensor:
    """`num` evenly spaced values from start to stop (NumPy's linspace). With endpoint=True (default) the
    spacing is ``(stop - start) / (num - 1)`` and the last value is exactly stop; with endpoint=False it
    is ``(stop - start) / num`` and stop is excluded. num defaults to 50, dtype to float64."""
    return _new(lib.descent_tensor_linspace, dtype_code(dtype), _check.real(start, "start"), _check.real(stop, "stop"),
                _check.integer(num, "num"), 1 if _check.flag(endpoint, "endpoint") else 0)


def _seed(value: object) -> int:
    seed = _check.integer(value, "seed")
    if not 0 <= seed < 2**64:
        raise errors.InvalidArgumentError(f"seed must be in [0, 2**64), got {seed}")
    return seed


def random_uniform(shape: ShapeLike, seed: SupportsInt, low: SupportsFloat = 0.0, high: SupportsFloat = 1.0,
                   dtype: DTypeLike = np.float64) -> Tensor:
    """Uniform values on [low, high) from SplitMix64(seed); see include/descent.h for the formula.
    Defaults: low 0.0, high 1.0, dtype float64."""
    rank, dims = shape_argument(shape)
    return _new(lib.descent_tensor_random_uniform, dtype_code(dtype), rank, dims, _seed(seed),
                _check.real(low, "low"), _check.real(high, "high"))


def random_normal(shape: ShapeLike, seed: SupportsInt, mean: SupportsFloat = 0.0, std: SupportsFloat = 1.0,
                  dtype: DTypeLike = np.float64) -> Tensor:
    """Normal values mean + std * N(0, 1) from SplitMix64(seed) by Box-Muller. Defaults: mean 0.0, std 1.0,
    dtype float64."""
    rank, dims = shape_argument(shape)
    return _new(lib.descent_tensor_random_normal, dtype_code(dtype), rank, dims, _seed(seed),
                _check.real(mean, "mean"), _check.real(std, "std"))


@overload
def matmul(a: Tensor, b: TensorLike, trans_a: bool = ..., trans_b: bool = ..., alpha: SupportsFloat = ...,
           beta: SupportsFloat = ..., out: None = None) -> Tensor: ...
@overload
def matmul(a: npt.NDArray[Any], b: TensorLike, trans_a: bool = ..., trans_b: bool = ...,
           alpha: SupportsFloat = ..., beta: SupportsFloat = ..., out: None = None) -> FloatArray: ...
@overload
def matmul(a: TensorLike, b: TensorLike, trans_a: bool = ..., trans_b: bool = ..., alpha: SupportsFloat = ...,
           beta: SupportsFloat = ..., *, out: _T) -> _T: ...


def matmul(a: TensorLike, b: TensorLike, trans_a: bool = False, trans_b: bool = False,
           alpha: SupportsFloat = 1.0, beta: SupportsFloat = 0.0,
           out: Optional[TensorLike] = None) -> TensorLike:
    """``out = alpha * op(a) @ op(b) + beta * out`` through BLAS ?gemm (rank-2 operands).

    op(x) is x or, with trans_a=True (for a) or trans_b=True (for b), its transpose. `a` and `b`
    are Tensors or NumPy arrays. When `out` is None a new zero result of the right shape is made
    (so beta has no effect): a NumPy array when `a` is one, else a Tensor. An `out` array or
    tensor is updated in place and returned.
    """
    flag_a, flag_b = int(_check.flag(trans_a, "trans_a")), int(_check.flag(trans_b, "trans_b"))
    scale_a, scale_b = _check.real(alpha, "alpha"), _check.real(beta, "beta")
    with _operand(a, "a") as ta, _operand(b, "b") as tb:
        if out is not None:
            with _target(out, "out") as target:
                lib.descent_tensor_matmul(ta._handle, tb._handle, flag_a, flag_b, scale_a, scale_b, target._handle)
            return out
        a_shape, b_shape = ta.shape, tb.shape
        if len(a_shape) != 2 or len(b_shape) != 2:
            raise errors.ShapeError(f"matmul needs rank-2 operands, got shapes {a_shape} and {b_shape}")
        m = a_shape[1] if flag_a else a_shape[0]
        n = b_shape[0] if flag_b else b_shape[1]
        result = zeros((m, n), dtype=ta.dtype)
        lib.descent_tensor_matmul(ta._handle, tb._handle, flag_a, flag_b, scale_a, scale_b, result._handle)
        if isinstance(a, np.ndarray):
            with result:
                return result.numpy()
        return result


def gd_step(param: _T, grad: TensorLike, learning_rate: SupportsFloat) -> _T:
    """One vanilla gradient-descent step in place: ``param -= learning_rate * grad``.

    `param` is a Tensor or a NumPy array (C-contiguous, writeable, float32 or float64: it is
    updated in place); `grad` a Tensor or an array of the same dtype and shape. Returns `param`.
    """
    rate = _check.real(learning_rate, "learning_rate")
    with _target(param, "param") as p, _operand(grad, "grad") as g:
        lib.descent_gd_step(p._handle, g._handle, rate)
    return param
