"""Elementwise, reduction and matrix kernels against NumPy in float32 and float64."""
import numpy as np
import pytest

import descent
from reference import assert_close

SHAPES = [(1,), (17,), (4, 5), (3, 2, 7), (2, 3, 4, 5), (1000,), (0,)]


def pair(shape, dtype, rng):
    a = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape).astype(dtype)
    return a, b, descent.tensor(a), descent.tensor(b)


@pytest.mark.parametrize("shape", SHAPES)
def test_elementwise(shape, dtype, rng):
    a, b, ta, tb = pair(shape, dtype, rng)
    np.testing.assert_array_equal(ta.add(tb).numpy(), a + b)
    np.testing.assert_array_equal((ta - tb).numpy(), a - b)
    np.testing.assert_array_equal((ta * tb).numpy(), a * b)


def test_elementwise_output_may_alias_input(dtype, rng):
    a, b, ta, tb = pair((6, 3), dtype, rng)
    ta.add(tb, out=ta)
    np.testing.assert_array_equal(ta.numpy(), a + b)
    tb.mul(tb, out=tb)
    np.testing.assert_array_equal(tb.numpy(), b * b)


@pytest.mark.parametrize("shape", SHAPES)
def test_scale_and_axpy(shape, dtype, rng):
    a, b, ta, tb = pair(shape, dtype, rng)
    alpha = dtype.type(-0.375)
    ta.scale_(-0.375)
    assert_close(ta.numpy(), a * alpha, dtype)
    tb.axpy_(2.5, descent.tensor(a))
    assert_close(tb.numpy(), b + dtype.type(2.5) * a, dtype)


@pytest.mark.parametrize("shape", SHAPES)
def test_reductions(shape, dtype, rng):
    a, b, ta, tb = pair(shape, dtype, rng)
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)  # descent accumulates in float64
    assert_close(ta.sum(), wide_a.sum(), np.float64, atol_scale=100)
    assert_close(ta.dot(tb), np.dot(wide_a.ravel(), wide_b.ravel()), np.float64, atol_scale=100)
    assert_close(ta.norm(), np.sqrt(np.sum(wide_a ** 2)), np.float64)
    assert ta.max_abs() == (float(np.max(np.abs(a))) if a.size else 0.0)
    if a.size:
        assert_close(ta.mean(), wide_a.mean(), np.float64, atol_scale=100)
    else:
        assert np.isnan(ta.mean())


def test_reductions_are_deterministic_and_accurate_for_large_float32(rng):
    a = rng.standard_normal(1_000_003).astype(np.float32)
    t = descent.tensor(a)
    first = t.sum()
    assert all(t.sum() == first for _ in range(3))
    assert abs(first - a.astype(np.float64).sum()) < 1e-9 * np.abs(a).sum()


def test_norm_survives_overflowing_squares():
    a = np.array([3e200, 4e200])
    assert_close(descent.tensor(a).norm(), 5e200, np.float64)


def test_max_abs_propagates_nan():
    assert np.isnan(descent.tensor([1.0, np.nan, -3.0]).max_abs())


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 4, 5), (17, 9, 2), (64, 33, 48)])
def test_matmul(m, k, n, trans_a, trans_b, dtype, rng):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    expected = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    actual = descent.matmul(descent.tensor(a), descent.tensor(b), trans_a=trans_a, trans_b=trans_b).numpy()
    assert actual.shape == (m, n)
    assert_close(actual, expected, dtype, rtol_scale=10 * k, atol_scale=10 * k)


def test_matmul_alpha_beta_accumulate(dtype, rng):
    a = rng.standard_normal((4, 3)).astype(dtype)
    b = rng.standard_normal((3, 5)).astype(dtype)
    c = rng.standard_normal((4, 5)).astype(dtype)
    tc = descent.tensor(c)
    descent.matmul(descent.tensor(a), descent.tensor(b), alpha=0.5, beta=-2.0, out=tc)
    expected = 0.5 * (a.astype(np.float64) @ b.astype(np.float64)) - 2.0 * c.astype(np.float64)
    assert_close(tc.numpy(), expected, dtype, rtol_scale=30, atol_scale=30)


def test_matmul_beta_zero_ignores_nan_in_output(dtype):
    tc = descent.full((2, 2), np.nan, dtype)
    descent.matmul(descent.ones((2, 3), dtype), descent.ones((3, 2), dtype), out=tc)
    np.testing.assert_array_equal(tc.numpy(), np.full((2, 2), 3.0, dtype))


def test_matmul_with_empty_inner_dimension(dtype):
    out = descent.matmul(descent.zeros((3, 0), dtype), descent.zeros((0, 2), dtype))
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 2)))


def test_matmul_operator():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal((descent.tensor(a) @ descent.tensor(a.T)).numpy(), a @ a.T)
