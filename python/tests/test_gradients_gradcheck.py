"""Numerical gradients, gradient checks, callback failures and the step-size sweep; and every
analytic gradient of the issue verified by the gradient checker in float64 (gradcheck_cases)."""
import ctypes

import numpy as np
import pytest

import descent
from gradcheck_cases import CASES, DEFAULT_THRESHOLD, THRESHOLD, run_case, run_numpy_case
from reference import assert_close

MAX_ERRORS = {}


@pytest.fixture(scope="module", autouse=True)
def report_max_errors():
    yield
    if MAX_ERRORS:
        width = max(map(len, MAX_ERRORS))
        print("\nmax relative error per analytic gradient (float64, centered differences):")
        for name, error in MAX_ERRORS.items():
            print(f"  {name:<{width}}  {error:.2e}")


@pytest.mark.parametrize("name", list(CASES))
def test_analytic_gradient_matches_numerical(name):
    """The oracle is independent of the library: NumPy centered differences of a NumPy forward
    written from the formula (it used to be the library's forward through the library's own
    checker, a consistency check). The library's forward must equal that NumPy forward at x; the
    library's checker, run on the NumPy forward, must agree too."""
    error, library_value, numpy_value = run_numpy_case(name)
    MAX_ERRORS[name] = error
    np.testing.assert_allclose(library_value, numpy_value, rtol=1e-12, atol=1e-14)
    assert error < THRESHOLD.get(name, DEFAULT_THRESHOLD), f"{name}: relative error {error:.2e}"
    result = run_case(name)
    assert result.max_error < THRESHOLD.get(name, DEFAULT_THRESHOLD), f"{name}: {result}"


# ---- numerical gradient vs NumPy finite differences written from the formulas ----------------

def numpy_finite_difference(f, x, h, method):
    """Reference: the cs231n loop, dividing by the representable step."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        up, f_up = float(x[index]), f(x)
        if method == "centered":
            x[index] = original - h
            down, f_down = float(x[index]), f(x)
        else:
            x[index] = original
            down, f_down = float(original), f(x)
        x[index] = original
        grad[index] = (f_up - f_down) / (up - down)
    return grad


@pytest.mark.parametrize("method", ["forward", "centered"])
def test_numerical_gradient_matches_reference(dtype, rng, method):
    shape = tuple(rng.integers(1, 5, size=rng.integers(1, 4)))
    x = rng.standard_normal(shape).astype(dtype)
    f = lambda v: float(np.sum(np.sin(v.astype(np.float64)) * 3 + v.astype(np.float64) ** 2))
    h = 1e-3 if dtype == np.float32 else 1e-6
    expected = numpy_finite_difference(f, x.copy(), h, method)
    got = descent.numerical_gradient(f, x, h=h, method=method)
    assert got.dtype == dtype and got.shape == shape
    assert_close(got, expected, dtype, rtol_scale=10, atol_scale=10)
    # and both approximate the true gradient 3 cos x + 2x
    true = 3 * np.cos(x.astype(np.float64)) + 2 * x.astype(np.float64)
    tolerance = {("forward", np.float64): 1e-5, ("centered", np.float64): 1e-8,
                 ("forward", np.float32): 1e-2, ("centered", np.float32): 1e-2}[(method, np.dtype(dtype).type)]
    np.testing.assert_allclose(got, true, rtol=tolerance, atol=tolerance)


def test_parameter_restored_bit_for_bit(rng):
    x = rng.standard_normal(50) * 1e3
    x[::7] = np.nextafter(x[::7], np.inf)  # values that a naive x + h - h would not restore
    before = x.copy()
    descent.numerical_gradient(lambda v: float(np.sum(v ** 3)), x, h=1e-3)
    assert x.tobytes() == before.tobytes()


def test_callable_sees_perturbed_array_in_place(rng):
    x = rng.standard_normal(3)
    seen = []
    descent.numerical_gradient(lambda v: seen.append(v is x) or float(np.sum(x)), x)
    assert seen and all(seen)


def test_tensor_argument_is_restored_and_gives_tensor():
    t = descent.tensor(np.array([1.0, -2.0]))
    grad = descent.numerical_gradient(lambda v: float(np.sum(v ** 2)), t)
    assert isinstance(grad, descent.Tensor)
    np.testing.assert_allclose(grad.numpy(), [2.0, -4.0], rtol=1e-8)
    np.testing.assert_array_equal(t.numpy(), [1.0, -2.0])


def test_exception_in_callable_becomes_callback_error(rng):
    x = rng.standard_normal(5)
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise KeyError("broken loss")
        return float(np.sum(v))

    with pytest.raises(descent.CallbackError) as info:
        descent.numerical_gradient(f, x)
    assert isinstance(info.value.__cause__, KeyError)
    assert len(calls) == 4  # stopped at the failure
    assert x.tobytes() == before.tobytes()
    with pytest.raises(descent.CallbackError) as info:
        descent.gradient_check(lambda v: "not a number", x, np.zeros(5))
    assert isinstance(info.value.__cause__, (TypeError, ValueError))
    with pytest.raises(descent.CallbackError):
        descent.step_size_sweep(lambda v: 1 / 0, x, np.ones(5))
    assert x.tobytes() == before.tobytes()


def test_non_finite_function_value_is_rejected(rng):
    x = rng.standard_normal(3)
    before = x.copy()
    with pytest.raises(descent.NonFiniteError):
        descent.numerical_gradient(lambda v: float("nan"), x)
    assert x.tobytes() == before.tobytes()


def test_bad_arguments(rng):
    x = rng.standard_normal(3)
    f = lambda v: float(np.sum(v))
    with pytest.raises(descent.InvalidArgumentError):
        descent.numerical_gradient(f, x, h=0.0)
    with pytest.raises(descent.InvalidArgumentError):
        descent.numerical_gradient(f, x, h=float("nan"))
    with pytest.raises(descent.InvalidArgumentError):
        descent.numerical_gradient(f, x, method="backward")
    with pytest.raises(descent.InvalidArgumentError):
        descent.numerical_gradient(f, np.array([1e20]), h=1e-6)  # the step vanishes
    with pytest.raises(descent.ShapeError):
        descent.gradient_check(f, x, np.zeros(4))
    with pytest.raises(descent.InvalidArgumentError):
        descent.gradient_check(f, x, np.ones(3), floor=0.0)
    with pytest.raises(descent.InvalidArgumentError):
        descent.gradient_check(f, x, np.ones(3), samples=-1)
    with pytest.raises(descent.DTypeError):
        descent.numerical_gradient(f, np.array(["a"]))


# ---- gradient check and compare -------------------------------------------------------------

def numpy_rel_error(a, n, floor):
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)


def test_gradient_check_reports_worst_coordinate(rng):
    x = rng.standard_normal((3, 4))
    analytic = 2 * x
    analytic[1, 2] += 0.5  # a planted bug
    result = descent.gradient_check(lambda v: float(np.sum(v ** 2)), x, analytic)
    assert result.worst_index == (1, 2)
    numerical = 2 * x[1, 2]
    np.testing.assert_allclose(result.numerical, numerical, rtol=1e-8)
    assert result.analytic == analytic[1, 2]
    np.testing.assert_allclose(result.max_error, numpy_rel_error(analytic[1, 2], numerical, 1e-12), rtol=1e-6)


def test_sparse_check_visits_seeded_coordinates(rng):
    x = rng.standard_normal(1000)
    visited = []
    base = x.copy()

    def f(v):
        changed = np.nonzero(v != base)[0]
        visited.extend(changed.tolist())
        return float(np.sum(v ** 2))

    result = descent.gradient_check(f, x, 2 * x, samples=10, seed=42)
    # Reference SplitMix64: index_j = output_j mod count.
    mask = (1 << 64) - 1
    expected = []
    for j in range(10):
        z = (42 + (j + 1) * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        expected.append((z ^ (z >> 31)) % 1000)
    assert visited == [i for i in expected for _ in range(2)]  # +h then -h per coordinate
    assert result.max_error < 1e-6


def test_compare_gradients(dtype, rng):
    a = rng.standard_normal((4, 3)).astype(dtype)
    n = (a + rng.standard_normal((4, 3)).astype(dtype) * 1e-3).astype(dtype)
    n[0, 0] = a[0, 0] = 0  # both zero: error 0 thanks to the floor
    error, index = descent.compare_gradients(a, n, floor=1e-12)
    expected = numpy_rel_error(a.astype(np.float64), n.astype(np.float64), 1e-12)
    np.testing.assert_allclose(error, expected.max(), rtol=1e-12)
    assert index == np.unravel_index(np.argmax(expected), a.shape)
    with pytest.raises(descent.ShapeError):
        descent.compare_gradients(a, n[:2])


# ---- step-size sweep (cs231n) -------------------------------------------------------------

def svm_loss_numpy(W, X, y, margin=1.0):
    scores = X @ W.T
    correct = scores[np.arange(len(y)), y][:, None]
    margins = np.maximum(0, scores - correct + margin)
    margins[np.arange(len(y)), y] = 0
    return margins.sum() / len(y)


def test_step_size_sweep_on_svm_loss(rng):
    X = rng.standard_normal((20, 6))
    y = rng.integers(0, 4, 20)
    W = rng.standard_normal((4, 6)) * 0.01
    before = W.copy()
    loss, dW = descent.multiclass_hinge_linear(W, X, y)
    rows = descent.step_size_sweep(lambda v: svm_loss_numpy(v, X, y), W, dW)
    assert [s for s, _ in rows] == [10.0 ** k for k in range(-10, 0)]
    for step, new_loss in rows:
        np.testing.assert_allclose(new_loss, svm_loss_numpy(before - step * dW, X, y), rtol=1e-12)
    assert W.tobytes() == before.tobytes()
    # Small steps along -grad decrease the loss, as in cs231n's step-size table.
    assert rows[4][1] < loss
    assert "step size" in descent.format_sweep(rows, baseline=loss)


def test_step_size_sweep_bad_input(rng):
    W = rng.standard_normal(3)
    with pytest.raises(descent.NonFiniteError):
        descent.step_size_sweep(lambda v: 0.0, W, np.ones(3), step_sizes=[1e-3, float("inf")])
    with pytest.raises(descent.ShapeError):
        descent.step_size_sweep(lambda v: 0.0, W, np.ones(4))
    assert descent.step_size_sweep(lambda v: 0.0, W, np.ones(3), step_sizes=[]) == []


def test_ffi_callback_type_is_shared():
    lib = descent._lib
    assert lib.descent_numerical_gradient.argtypes[0] is lib.descent_gradient_check.argtypes[0]
    assert lib.descent_step_size_sweep.argtypes[0] is lib.descent_gradient_check.argtypes[0]
    assert issubclass(lib.descent_gradient_check.argtypes[0], ctypes._CFuncPtr)


def test_nan_in_analytic_gradient_is_reported(rng):
    x = rng.standard_normal(4)
    analytic = 2 * x
    analytic[2] = np.nan
    result = descent.gradient_check(lambda v: float(np.sum(v ** 2)), x, analytic)
    assert np.isnan(result.max_error) and result.worst_index == (2,)
    error, index = descent.compare_gradients(analytic, 2 * x)
    assert np.isnan(error) and index == (2,)


def test_step_size_sweep_float32(rng):
    W = rng.standard_normal((3, 2)).astype(np.float32)
    g = rng.standard_normal((3, 2)).astype(np.float32)
    before = W.copy()
    rows = descent.step_size_sweep(lambda v: float(np.sum(v.astype(np.float64) ** 2)), W, g, step_sizes=[0.5, 1e-2])
    for step, loss in rows:
        stepped = (W - np.float32(step) * g).astype(np.float32)  # the library rounds the step to float32 (saxpy)
        np.testing.assert_allclose(loss, np.sum(stepped.astype(np.float64) ** 2), rtol=1e-6)
    assert W.tobytes() == before.tobytes()


def test_float32_check_meets_the_documented_threshold(rng):
    # docs/gradients.md: float32, centered, h = 1e-3 -> errors below 1e-2 for a correct gradient.
    x = rng.standard_normal((4, 5)).astype(np.float32)
    R = rng.standard_normal((4, 5)).astype(np.float32)
    analytic = descent.activation_backward(x, R, "tanh")
    result = descent.gradient_check(lambda v: float(np.sum(R * descent.tanh(v), dtype=np.float32)), x, analytic)
    assert result.max_error < 1e-2, result
    wrong = descent.gradient_check(lambda v: float(np.sum(R * descent.tanh(v), dtype=np.float32)), x, 1.5 * analytic)
    assert wrong.max_error > 1e-1
