"""One input convention: every function that takes tensors takes NumPy arrays too. Arrays that
are only read are copied in; arrays updated in place (gd_step's param, out=) are shared
zero-copy and see the update; results come back as the kind that went in. Every result is
checked against NumPy, every rejected array is left unchanged."""
import numpy as np
import pytest

import descent


def test_the_issue_example_gd_step_on_arrays():
    w = np.ones(2)
    assert descent.gd_step(w, np.ones(2), 0.1) is w
    np.testing.assert_array_equal(w, [0.9, 0.9])


def test_gd_step_arrays_match_the_formula(dtype, rng):
    w = rng.standard_normal(7).astype(dtype)
    g = rng.standard_normal(7).astype(dtype)
    expected = w - dtype.type(0.01) * g
    descent.gd_step(w, g, 0.01)
    np.testing.assert_allclose(w, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_gd_step_mixes_arrays_and_tensors():
    w, g = np.array([10.0]), descent.tensor([1.0])
    descent.gd_step(w, g, 1.0)
    assert w[0] == 9.0
    t = descent.tensor([10.0])
    descent.gd_step(t, np.array([2.0]), 0.5)
    assert t.numpy()[0] == 9.0


@pytest.mark.parametrize("param, error", [
    (np.ones(4)[::2], descent.InvalidArgumentError),              # not contiguous: cannot share it
    (np.ones(2, dtype=np.int64), descent.DTypeError),             # not float
    (np.ones(2, dtype=np.float16), descent.DTypeError),
])
def test_gd_step_rejects_params_it_cannot_update_in_place(param, error):
    before = param.copy()
    with pytest.raises(error):
        descent.gd_step(param, np.ones(param.shape), 0.1)
    np.testing.assert_array_equal(param, before)


def test_gd_step_rejects_a_read_only_param():
    w = np.ones(2)
    w.flags.writeable = False
    with pytest.raises(descent.InvalidArgumentError):
        descent.gd_step(w, np.ones(2), 0.1)


def test_gd_step_grad_of_another_dtype_or_shape_changes_nothing():
    w = np.ones(3)
    with pytest.raises(descent.DTypeError):
        descent.gd_step(w, np.ones(3, dtype=np.float32), 0.1)
    with pytest.raises(descent.ShapeError):
        descent.gd_step(w, np.ones(4), 0.1)
    np.testing.assert_array_equal(w, np.ones(3))


@pytest.mark.parametrize("bad", [None, 1.0, [1.0, 2.0], "w"])
def test_non_arrays_are_type_errors(bad):
    with pytest.raises(TypeError, match="expected a descent.Tensor or a numpy.ndarray"):
        descent.gd_step(bad, np.ones(2), 0.1)
    with pytest.raises(TypeError, match="expected a descent.Tensor or a numpy.ndarray"):
        descent.gd_step(np.ones(2), bad, 0.1)


def test_tensor_kernels_take_arrays(dtype, rng):
    a, b = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
    ta = descent.tensor(a)
    tol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(ta.add(b).numpy(), a + b, rtol=tol)
    np.testing.assert_allclose((ta - b).numpy(), a - b, rtol=tol)
    np.testing.assert_allclose((ta * b).numpy(), a * b, rtol=tol)
    assert ta.dot(b) == pytest.approx(float(np.dot(a.astype(np.float64), b.astype(np.float64))), rel=1e-6)
    out = np.zeros(5, dtype=dtype)
    assert ta.mul(b, out=out) is out
    np.testing.assert_allclose(out, a * b, rtol=tol)
    ta.axpy_(2.0, b)
    np.testing.assert_allclose(ta.numpy(), a + 2 * b, rtol=tol)


def test_matmul_on_arrays_returns_an_array(dtype, rng):
    a, b = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)
    result = descent.matmul(a, b, trans_b=True)
    assert isinstance(result, np.ndarray) and result.dtype == dtype and result.shape == (3, 5)
    np.testing.assert_allclose(result, a @ b.T, rtol=1e-5 if dtype == np.float32 else 1e-12)
    out = np.ones((3, 5), dtype=dtype)
    assert descent.matmul(a, b, trans_b=True, alpha=2.0, beta=1.0, out=out) is out
    np.testing.assert_allclose(out, 2 * a @ b.T + 1, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert isinstance(descent.matmul(descent.tensor(a), b, trans_b=True), descent.Tensor)
    assert isinstance(descent.tensor(a) @ b.T.copy(), descent.Tensor)


def test_matmul_rejected_out_array_is_unchanged():
    out = np.full((2, 2), 7.0)
    with pytest.raises(descent.ShapeError):
        descent.matmul(np.ones((2, 3)), np.ones((2, 3)), out=out)
    np.testing.assert_array_equal(out, np.full((2, 2), 7.0))


def test_temporary_tensors_are_released():
    """A copied-in or wrapped array is a temporary tensor closed after the call: the caller's
    array is not kept alive by the library."""
    import gc
    import weakref

    class Array(np.ndarray):
        pass

    w = np.ones(3).view(Array)
    ref = weakref.ref(w)
    descent.gd_step(w, np.ones(3), 0.1)
    del w
    gc.collect()
    assert ref() is None
