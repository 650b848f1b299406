"""Activations, derivatives and backward passes against NumPy references from the formulas."""
import numpy as np
import pytest

import descent
from reference import assert_close

KINDS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]


# ---- NumPy references (float64) ---------------------------------------------------------------

def ref_forward(x, kind, slope):
    x = x.astype(np.float64)
    if kind == "identity":
        return x
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if kind == "tanh":
        return np.tanh(x)
    if kind == "relu":
        return np.where(x > 0, x, 0.0)
    if kind == "leaky_relu":
        return np.where(x > 0, x, slope * x)
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def ref_derivative(x, kind, slope):
    x = x.astype(np.float64)
    if kind == "identity":
        return np.ones_like(x)
    if kind == "sigmoid":
        s = 1 / (1 + np.exp(-x))
        return s * (1 - s)
    if kind == "tanh":
        return 1 - np.tanh(x) ** 2
    if kind == "relu":
        return (x > 0).astype(np.float64)
    return np.where(x > 0, 1.0, slope)


def ref_backward(x, dy, kind, slope):
    if kind == "softmax":
        y = ref_forward(x, kind, slope)
        dy = dy.astype(np.float64)
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))
    return dy.astype(np.float64) * ref_derivative(x, kind, slope)


def random_shape(rng):
    return tuple(int(d) for d in rng.integers(1, 6, size=rng.integers(1, 4)))


@pytest.mark.parametrize("kind", KINDS)
def test_forward_matches_numpy(kind, dtype, rng):
    x = (3 * rng.standard_normal(random_shape(rng))).astype(dtype)
    got = descent.activation(x, kind, 0.07)
    assert got.dtype == dtype and got.shape == x.shape
    assert_close(got, ref_forward(x, kind, 0.07), dtype)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "softmax"])
def test_derivative_matches_numpy(kind, dtype, rng):
    x = (3 * rng.standard_normal(random_shape(rng))).astype(dtype)
    x.flat[0] = 0  # the documented convention at the kink
    got = descent.activation_derivative(x, kind, 0.07)
    assert_close(got, ref_derivative(x, kind, 0.07), dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_matches_numpy(kind, dtype, rng):
    shape = random_shape(rng)
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    got = descent.activation_backward(x, dy, kind, 0.07)
    assert_close(got, ref_backward(x, dy, kind, 0.07), dtype, atol_scale=10)


def test_named_helpers(rng):
    x = rng.standard_normal((3, 4))
    assert_close(descent.sigmoid(x), ref_forward(x, "sigmoid", 0), np.float64)
    assert_close(descent.tanh(x), np.tanh(x), np.float64)
    assert_close(descent.relu(x), np.maximum(x, 0), np.float64)
    assert_close(descent.leaky_relu(x, 0.2), np.where(x > 0, x, 0.2 * x), np.float64)
    assert_close(descent.softmax(x), ref_forward(x, "softmax", 0), np.float64)


def test_extreme_inputs_are_stable():
    x = np.array([[-1000.0, 0.0, 1000.0], [800.0, 800.0, -800.0]])
    s = descent.sigmoid(x)
    np.testing.assert_array_equal(s[0], [0.0, 0.5, 1.0])
    sm = descent.softmax(x)
    assert np.all(np.isfinite(sm))
    np.testing.assert_allclose(sm, [[0, 0, 1], [0.5, 0.5, 0]], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-15)


def test_tensor_in_tensor_out(rng):
    t = descent.tensor(rng.standard_normal(5).astype(np.float32))
    out = descent.sigmoid(t)
    assert isinstance(out, descent.Tensor) and out.dtype == np.float32


def test_bad_inputs(rng):
    x = rng.standard_normal((2, 3))
    before = x.copy()
    with pytest.raises(descent.InvalidArgumentError):
        descent.activation(x, "swish")
    with pytest.raises(descent.ShapeError):
        descent.activation_backward(x, np.ones((3, 2)), "sigmoid")
    with pytest.raises(descent.DTypeError):
        descent.activation_backward(x, np.ones((2, 3), dtype=np.float32), "sigmoid")
    with pytest.raises(descent.UnsupportedError):
        descent.activation_derivative(x, "softmax")
    with pytest.raises(descent.ShapeError):
        descent.softmax(descent.zeros(()))  # rank 0 (descent.tensor() of a 0-d array gives shape (1,))
    with pytest.raises(descent.NonFiniteError):
        descent.leaky_relu(x, float("nan"))
    with pytest.raises(descent.DTypeError):
        descent.sigmoid(np.array(["a"]))
    np.testing.assert_array_equal(x, before)


def test_in_place_through_the_c_api(rng):
    # y may be x: the C function accepts the same handle for input and output.
    values = rng.standard_normal(6)
    t = descent.tensor(values)
    descent._lib.descent_activation_forward(descent.ACTIVATIONS["tanh"], 0.0, t.handle, t.handle)
    assert_close(t.numpy(), np.tanh(values), np.float64)
    # and a failed call leaves it unchanged
    other = descent.zeros(5)
    snapshot = t.numpy()
    with pytest.raises(descent.ShapeError):
        descent._lib.descent_activation_forward(1, 0.0, t.handle, other.handle)
    np.testing.assert_array_equal(t.numpy(), snapshot)
    np.testing.assert_array_equal(other.numpy(), np.zeros(5))


def test_rank0_inputs_keep_their_shape():
    got = descent.sigmoid(np.asarray(0.0))
    assert got.shape == () and got == 0.5
    loss, grad = descent.sse_loss(np.asarray(1.0), np.asarray(3.0))
    assert loss == 2.0 and grad.shape == () and grad == -2.0


@pytest.mark.parametrize("shape", [(0, 2**40), (2, 0, 2**40)], ids=["0x2^40", "2x0x2^40"])
def test_softmax_of_an_empty_tensor_with_a_huge_last_extent(shape):
    """No elements, so nothing to compute: the row buffer used to be sized by the last extent
    (8 TiB) and the failed allocation aborted the process."""
    x = descent.zeros(shape)
    y = descent.softmax(x)
    assert y.shape == shape and y.size == 0
    dx = descent.activation_backward(x, descent.zeros(shape), "softmax")
    assert dx.shape == shape and dx.size == 0
