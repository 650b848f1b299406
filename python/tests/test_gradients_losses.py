"""Costs and their gradients against NumPy references written from the formulas."""
import numpy as np
import pytest

import descent
from reference import assert_close

# Losses are accumulated in float64 inside the library; float32 inputs are compared with float64
# references of the float32 values, with the suite's float32 tolerance on the gradients.


def random_shape(rng, rank=None):
    rank = rng.integers(1, 4) if rank is None else rank
    return tuple(int(d) for d in rng.integers(1, 6, size=rank))


def f64(x):
    return np.asarray(x, dtype=np.float64)


# ---- regression costs -------------------------------------------------------------------------

def test_sse(dtype, rng):
    shape = random_shape(rng)
    p, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    loss, grad = descent.sse_loss(p, y)
    assert_close(loss, 0.5 * np.sum((f64(y) - f64(p)) ** 2), np.float64, atol_scale=1e3)
    assert_close(grad, f64(p) - f64(y), dtype)
    assert grad.dtype == dtype


def test_quadratic_cost(dtype, rng):
    shape = random_shape(rng, rank=2)
    a, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    n = shape[0]
    loss, grad = descent.quadratic_cost(a, y)
    expected = sum(np.linalg.norm(f64(y[i]) - f64(a[i])) ** 2 for i in range(n)) / (2 * n)
    assert_close(loss, expected, np.float64, atol_scale=1e3)
    assert_close(grad, (f64(a) - f64(y)) / n, dtype)


def test_mse(dtype, rng):
    shape = random_shape(rng)
    p, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    loss, grad = descent.mse_loss(p, y)
    assert_close(loss, np.mean((f64(p) - f64(y)) ** 2), np.float64, atol_scale=1e3)
    assert_close(grad, 2 * (f64(p) - f64(y)) / p.size, dtype)
    assert descent.mse_loss(p, y, with_grad=False) == loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_from_probabilities(dtype, rng, reduction):
    shape = random_shape(rng)
    p = rng.uniform(0.01, 0.99, shape).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    loss, grad = descent.bce_loss(p, y, reduction=reduction)
    P, Y = f64(p), f64(y)
    terms = -(Y * np.log(P) + (1 - Y) * np.log(1 - P))
    scale = 1 / p.size if reduction == "mean" else 1
    assert_close(loss, scale * terms.sum(), np.float64, rtol_scale=100, atol_scale=1e3)
    assert_close(grad, scale * (P - Y) / (P * (1 - P)), dtype, rtol_scale=10)


def test_bce_clamps_at_zero_and_one():
    p = np.array([0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 1.0])
    eps = 1e-7
    loss, grad = descent.bce_loss(p, y, eps=eps, reduction="sum")
    c = np.clip(p, eps, 1 - eps)
    expected = -(y * np.log(c) + (1 - y) * np.log(1 - c))
    np.testing.assert_allclose(loss, expected.sum(), rtol=1e-12)
    np.testing.assert_allclose(grad, (c - y) / (c * (1 - c)), rtol=1e-9)
    assert np.isfinite(loss)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits(dtype, rng, reduction):
    shape = random_shape(rng)
    z = (5 * rng.standard_normal(shape)).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    loss, grad = descent.bce_with_logits_loss(z, y, reduction=reduction)
    Z, Y = f64(z), f64(y)
    sigma = 1 / (1 + np.exp(-Z))
    terms = -(Y * np.log(sigma) + (1 - Y) * np.log(1 - sigma))  # the textbook form, fine for |z| < 30
    scale = 1 / z.size if reduction == "mean" else 1
    assert_close(loss, scale * terms.sum(), np.float64, rtol_scale=1e3, atol_scale=1e3)
    assert_close(grad, scale * (sigma - Y), dtype)


def test_bce_with_logits_is_stable_for_huge_logits():
    z = np.array([800.0, -800.0, 50.0])
    y = np.array([0.0, 1.0, 1.0])
    loss, grad = descent.bce_with_logits_loss(z, y, reduction="sum")
    np.testing.assert_allclose(loss, 800 + 800 + np.log1p(np.exp(-50.0)), rtol=1e-15)
    np.testing.assert_allclose(grad, [1.0, -1.0, -np.exp(-50.0) / (1 + np.exp(-50.0))], rtol=1e-12)


# ---- classification costs ---------------------------------------------------------------------

def ref_softmax_ce(z, labels):
    z = f64(z)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    losses = lse - z[np.arange(len(labels)), labels]
    p = np.exp(z - lse[:, None])
    onehot = np.zeros_like(z)
    onehot[np.arange(len(labels)), labels] = 1
    return losses, p - onehot


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_softmax_cross_entropy(dtype, rng, reduction):
    batch, classes = (int(v) for v in rng.integers(1, 7, 2))
    z = (3 * rng.standard_normal((batch, classes))).astype(dtype)
    labels = rng.integers(0, classes, batch)
    loss, grad = descent.softmax_cross_entropy(z, labels, reduction=reduction)
    losses, g = ref_softmax_ce(z, labels)
    scale = 1 / batch if reduction == "mean" else 1
    assert_close(loss, scale * losses.sum(), np.float64, atol_scale=1e3)
    assert_close(grad, scale * g, dtype)


def test_softmax_cross_entropy_large_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [5000.0, 5001.0, 4999.0]])
    labels = np.array([0, 2])
    loss, grad = descent.softmax_cross_entropy(z, labels, reduction="sum")
    losses, g = ref_softmax_ce(z, labels)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, losses.sum(), rtol=1e-12)
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=1e-15)


def ref_hinge(s, labels, margin):
    s = f64(s)
    n = len(labels)
    correct = s[np.arange(n), labels][:, None]
    margins = s - correct + margin
    margins[np.arange(n), labels] = 0
    active = (margins > 0).astype(np.float64)
    grad = active.copy()
    grad[np.arange(n), labels] = -active.sum(axis=1)
    return np.maximum(margins, 0).sum(axis=1), grad


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_multiclass_hinge(dtype, rng, reduction):
    batch, classes = int(rng.integers(1, 8)), int(rng.integers(2, 6))
    s = rng.standard_normal((batch, classes)).astype(dtype)
    labels = rng.integers(0, classes, batch)
    loss, grad = descent.multiclass_hinge_loss(s, labels, margin=0.7, reduction=reduction)
    losses, g = ref_hinge(s, labels, 0.7)
    scale = 1 / batch if reduction == "mean" else 1
    assert_close(loss, scale * losses.sum(), np.float64, rtol_scale=10, atol_scale=1e3)
    assert_close(grad, scale * g, dtype)


def test_hinge_worked_example():
    # cs231n's example: scores [3.2, 5.1, -1.7] for true class 0, Δ = 1: max(0, 2.9) + max(0, -3.9) = 2.9
    loss, grad = descent.multiclass_hinge_loss(np.array([[3.2, 5.1, -1.7]]), [0], margin=1.0)
    np.testing.assert_allclose(loss, 2.9, rtol=1e-12)
    np.testing.assert_array_equal(grad, [[-1.0, 1.0, 0.0]])


def test_multiclass_hinge_linear(dtype, rng):
    classes, features, batch = 4, 5, 9
    W = rng.standard_normal((classes, features)).astype(dtype)
    X = rng.standard_normal((batch, features)).astype(dtype)
    labels = rng.integers(0, classes, batch)
    loss, dW = descent.multiclass_hinge_linear(W, X, labels)
    scores = f64(X) @ f64(W).T
    losses, g = ref_hinge(scores, labels, 1.0)
    assert_close(loss, losses.mean(), dtype, rtol_scale=10, atol_scale=10)  # scores are rounded to dtype by gemm
    assert_close(dW, (g / batch).T @ f64(X), dtype, rtol_scale=100, atol_scale=100)


@pytest.mark.parametrize("m", [1, 32])
def test_l2_penalty(dtype, rng, m):
    W = rng.standard_normal(random_shape(rng)).astype(dtype)
    penalty, grad = descent.l2_penalty(W, 0.01, m)
    assert_close(penalty, 0.01 / (2 * m) * np.sum(f64(W) ** 2), np.float64, atol_scale=1e3)
    assert_close(grad, (0.01 / m) * f64(W), dtype)


# ---- bad input --------------------------------------------------------------------------------

def test_regression_cost_bad_inputs(rng):
    p, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    before = (p.copy(), y.copy())
    with pytest.raises(descent.ShapeError):
        descent.sse_loss(p, y[:1])
    with pytest.raises(descent.DTypeError):
        descent.mse_loss(p, y.astype(np.float32))
    bad = y.copy()
    bad[1, 1] = np.nan
    with pytest.raises(descent.NonFiniteError):
        descent.quadratic_cost(p, bad)
    np.testing.assert_array_equal(p, before[0])
    np.testing.assert_array_equal(y, before[1])


def test_cross_entropy_bad_inputs(rng):
    p = rng.uniform(0.1, 0.9, (2, 3))
    with pytest.raises(descent.InvalidArgumentError):
        descent.bce_loss(p + 1, np.zeros((2, 3)))          # probability above 1
    with pytest.raises(descent.InvalidArgumentError):
        descent.bce_loss(p, np.full((2, 3), -0.5))         # target below 0
    with pytest.raises(descent.InvalidArgumentError):
        descent.bce_loss(p, p, eps=0.0)
    with pytest.raises(descent.InvalidArgumentError):
        descent.bce_loss(p, p, reduction="median")
    with pytest.raises(descent.InvalidArgumentError):
        descent.bce_with_logits_loss(p, p * 3)
    with pytest.raises(descent.NonFiniteError):
        descent.bce_with_logits_loss(np.array([np.inf]), np.array([1.0]))


def test_label_losses_bad_inputs(rng):
    z = rng.standard_normal((3, 4))
    before = z.copy()
    with pytest.raises(descent.InvalidArgumentError):
        descent.softmax_cross_entropy(z, [0, 4, 1])         # label out of range
    with pytest.raises(descent.InvalidArgumentError):
        descent.multiclass_hinge_loss(z, [0, -1, 1])
    with pytest.raises(descent.ShapeError):
        descent.softmax_cross_entropy(z, [0, 1])            # count != batch
    with pytest.raises(descent.ShapeError):
        descent.softmax_cross_entropy(z[0], [0])            # not rank 2
    with pytest.raises(descent.DTypeError):
        descent.softmax_cross_entropy(z, [0.0, 1.0, 2.0])   # float labels
    bad = z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(descent.NonFiniteError):
        descent.multiclass_hinge_loss(bad, [0, 1, 2])
    with pytest.raises(descent.NonFiniteError):
        descent.multiclass_hinge_loss(z, [0, 1, 2], margin=np.nan)
    with pytest.raises(descent.ShapeError):
        descent.multiclass_hinge_linear(np.ones((4, 5)), np.ones((3, 6)), [0, 1, 2])
    with pytest.raises(descent.InvalidArgumentError):
        descent.l2_penalty(z, -1.0)
    with pytest.raises(descent.InvalidArgumentError):
        descent.l2_penalty(z, 1.0, m=0)
    np.testing.assert_array_equal(z, before)


def test_failed_loss_leaves_gradient_tensor_unchanged(rng):
    lib = descent._lib
    z = descent.tensor(rng.standard_normal((2, 3)))
    grad = descent.full((2, 3), 7.0)
    import ctypes
    labels = (ctypes.c_int64 * 2)(0, 3)
    value = ctypes.c_double(-1.0)
    with pytest.raises(descent.InvalidArgumentError):
        lib.descent_loss_softmax_cross_entropy(z.handle, labels, 2, 0, grad.handle, ctypes.byref(value))
    assert value.value == -1.0
    np.testing.assert_array_equal(grad.numpy(), np.full((2, 3), 7.0))
    with pytest.raises(descent.NullPointerError):
        lib.descent_loss_softmax_cross_entropy(z.handle, None, 2, 0, grad.handle, ctypes.byref(value))
    with pytest.raises(descent.NullPointerError):
        lib.descent_loss_sse(z.handle, z.handle, 0, None)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_label_losses_of_an_empty_batch_with_a_huge_class_count(reduction):
    """An empty batch sums to 0 whatever the class count; the per-row buffer used to be sized by
    the class count (8 TiB for 2^40) and the failed allocation aborted the process."""
    scores = descent.zeros((0, 2**40))
    for loss in (descent.softmax_cross_entropy, descent.multiclass_hinge_loss):
        value, grad = loss(scores, np.zeros(0, np.int64), reduction=reduction)
        assert value == 0.0
        assert grad.shape == (0, 2**40)
