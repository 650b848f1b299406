"""Bad input: every misuse raises its specific exception and leaves every object unchanged."""
import ctypes

import numpy as np
import pytest

import descent
from descent import _ffi

lib = _ffi.lib


def snapshot(*tensors):
    return [t.numpy().copy() for t in tensors]


def unchanged(before, *tensors):
    return all(np.array_equal(b, t.numpy()) for b, t in zip(before, tensors))


def test_shape_mismatch_leaves_output_untouched(dtype):
    a, b, out = descent.ones((2, 3), dtype), descent.ones((3, 2), dtype), descent.full((2, 3), 7.0, dtype)
    before = snapshot(a, b, out)
    for operation in (a.add, a.sub, a.mul):
        with pytest.raises(descent.ShapeError):
            operation(b, out=out)
    with pytest.raises(descent.ShapeError):
        out.axpy_(1.0, b)
    with pytest.raises(descent.ShapeError):
        a.dot(b)
    assert unchanged(before, a, b, out)


def test_dtype_mismatch_leaves_output_untouched():
    a, b = descent.ones(4, np.float32), descent.full(4, 3.0, np.float64)
    before = snapshot(a, b)
    with pytest.raises(descent.DTypeError):
        b.axpy_(1.0, a)
    with pytest.raises(descent.DTypeError):
        a.add(b, out=a)
    with pytest.raises(descent.DTypeError):
        descent.gd_step(b, a, 0.1)
    with pytest.raises(descent.DTypeError):
        b.copy_from(np.zeros(4, np.float32))
    assert unchanged(before, a, b)


def test_matmul_errors_leave_output_untouched(dtype):
    a, b = descent.ones((2, 3), dtype), descent.ones((2, 3), dtype)
    out = descent.full((2, 3), 5.0, dtype)
    before = snapshot(out)
    with pytest.raises(descent.ShapeError):
        descent.matmul(a, b, out=out)             # inner dimensions 3 vs 2
    with pytest.raises(descent.ShapeError):
        descent.matmul(a, b, trans_b=True, out=out)  # output should be 2x2
    with pytest.raises(descent.ShapeError):
        descent.matmul(descent.ones(3, dtype), b)    # rank 1
    with pytest.raises(descent.InvalidArgumentError):
        descent.matmul(out, descent.ones((3, 3), dtype), out=out)  # aliasing
    assert unchanged(before, out)


def test_gd_step_rejects_bad_learning_rates_and_keeps_param():
    w, g = descent.tensor([1.0, 2.0]), descent.tensor([0.5, 0.5])
    before = snapshot(w)
    for lr in (-0.1, np.nan, np.inf):
        with pytest.raises(descent.InvalidArgumentError):
            descent.gd_step(w, g, lr)
    with pytest.raises(descent.InvalidArgumentError):
        descent.gd_step(w, w, 0.1)
    with pytest.raises(descent.ShapeError):
        descent.gd_step(w, descent.ones(3), 0.1)
    assert unchanged(before, w)


@pytest.mark.parametrize("shape,error", [((-1,), descent.ShapeError), ((2, -5), descent.ShapeError),
                                          ((1,) * 9, descent.ShapeError), ((2**62, 8), descent.ShapeError),
                                          ("abc", descent.ShapeError)])
def test_bad_shapes(shape, error):
    with pytest.raises(error):
        descent.zeros(shape)


def test_bad_dtypes():
    with pytest.raises(descent.DTypeError):
        descent.zeros(3, dtype=np.int32)
    with pytest.raises(descent.DTypeError):
        descent.zeros(3, dtype="not a dtype")


def test_other_constructor_errors():
    with pytest.raises(descent.InvalidArgumentError):
        descent.arange(0, 1, 0)
    with pytest.raises(descent.NonFiniteError):
        descent.arange(0, np.nan)
    with pytest.raises(descent.ShapeError):
        descent.linspace(0, 1, -1)
    with pytest.raises(descent.ShapeError):
        descent.arange(0, 1e300, 1e-300)


def test_copy_from_wrong_count_keeps_contents():
    t = descent.tensor([1.0, 2.0, 3.0])
    with pytest.raises(descent.ShapeError):
        t.copy_from(np.zeros(4))
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])


def test_closed_tensor_is_an_invalid_handle_everywhere():
    t, other = descent.ones(3), descent.ones(3)
    t.close()
    for call in (lambda: t.numpy(), lambda: t.sum(), lambda: other.add(t), lambda: t.scale_(2),
                 lambda: descent.gd_step(t, other, 0.1), lambda: t.shape, lambda: t.clone()):
        with pytest.raises(descent.InvalidHandleError):
            call()
    np.testing.assert_array_equal(other.numpy(), np.ones(3))


# ---- the raw C functions through ctypes: handles and pointers nobody should pass ------------

def status_of(call):
    """Calls a raw ctypes function and returns the status code it produced."""
    try:
        call()
    except descent.DescentError as error:
        return error.code
    return 0


def test_raw_handles_stale_made_up_and_null():
    handle = _ffi.handle_t()
    lib.descent_tensor_zeros(2, 0, None, ctypes.byref(handle))
    stale = handle.value
    lib.descent_tensor_free(stale)
    lib.descent_tensor_free(stale)   # twice is harmless
    lib.descent_tensor_free(0)       # null is harmless
    out = ctypes.c_double(42.0)
    for bad in (stale, 0, 1, 2**64 - 1, 0xDEADBEEF00000001, stale + (1 << 32)):
        assert status_of(lambda: lib.descent_tensor_sum(bad, ctypes.byref(out))) == 2
    assert out.value == 42.0


def test_raw_null_pointers():
    t = descent.ones((2, 2))
    shape = (ctypes.c_int64 * 2)(2, 2)
    assert status_of(lambda: lib.descent_tensor_zeros(2, 2, shape, None)) == 1
    assert status_of(lambda: lib.descent_tensor_zeros(2, 2, None, ctypes.byref(_ffi.handle_t()))) == 1
    assert status_of(lambda: lib.descent_tensor_sum(t.handle, None)) == 1
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, 2, None, 4)) == 1
    assert status_of(lambda: lib.descent_tensor_copy_from(t.handle, 2, None, 4)) == 1
    assert status_of(lambda: lib.descent_tensor_from_buffer(2, 2, shape, None, 4, ctypes.byref(_ffi.handle_t()))) == 1
    assert status_of(lambda: lib.descent_tensor_wrap(2, 2, shape, None, 4, ctypes.byref(_ffi.handle_t()))) == 1
    assert status_of(lambda: lib.descent_tensor_shape(t.handle, None, 8)) == 1
    np.testing.assert_array_equal(t.numpy(), np.ones((2, 2)))


def test_raw_sizes_and_dtypes():
    t = descent.ones(4)
    buffer = (ctypes.c_double * 4)()
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, 2, buffer, 3)) == 8
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, 2, buffer, -1)) == 6
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, 1, buffer, 4)) == 4
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, 0, buffer, 4)) == 4
    assert status_of(lambda: lib.descent_tensor_copy_to(t.handle, -3, buffer, 4)) == 4
    assert status_of(lambda: lib.descent_tensor_shape(t.handle, (ctypes.c_int64 * 1)(), -1)) == 6
    shape = (ctypes.c_int64 * 1)(4)
    assert status_of(lambda: lib.descent_tensor_from_buffer(2, 1, shape, buffer, -4, ctypes.byref(_ffi.handle_t()))) == 6
    assert status_of(lambda: lib.descent_tensor_zeros(2, -1, shape, ctypes.byref(_ffi.handle_t()))) == 5
    assert status_of(lambda: lib.descent_tensor_zeros(2, 2**40, shape, ctypes.byref(_ffi.handle_t()))) == 5
    assert list(buffer) == [0.0] * 4


def test_arange_with_a_huge_empty_range_is_empty_not_a_crash():
    # (stop - start) / step = -1e310 rounds to -inf; converting that to an integer must not trap.
    assert descent.arange(0, -1e300, 1e-10).size == 0
    assert descent.arange(0, 1e300, -1e-10).size == 0


def test_matmul_of_non_tensors_is_a_type_error():
    """Not an AttributeError from reading .shape of whatever was passed (found by the fuzz)."""
    t = descent.ones((2, 2))
    for bad in (1, None, [[1.0, 2.0], [3.0, 4.0]]):
        with pytest.raises(TypeError, match="expected a descent.Tensor"):
            descent.matmul(bad, t)
        with pytest.raises(TypeError, match="expected a descent.Tensor"):
            descent.matmul(t, bad)
