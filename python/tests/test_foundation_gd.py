"""The vanilla gradient-descent step and the textbook's J(W) = 0.1 (W - 5)^2 example."""
import numpy as np
import pytest

import descent
from reference import assert_close


def test_gd_step_matches_formula(dtype, rng):
    w = rng.standard_normal((4, 6)).astype(dtype)
    g = rng.standard_normal((4, 6)).astype(dtype)
    tw, tg = descent.tensor(w), descent.tensor(g)
    expected = w.copy()
    for _ in range(100):
        descent.gd_step(tw, tg, 0.01)
        expected = expected - dtype.type(0.01) * g   # W := W - learning_rate * dJ/dW
    assert_close(tw.numpy(), expected, dtype, rtol_scale=10)


def test_gd_step_on_wrapped_array_updates_it_in_place(dtype):
    w = np.array([1.0, -1.0], dtype=dtype)
    tw = descent.wrap(w)
    descent.gd_step(tw, descent.tensor(np.array([2.0, 4.0], dtype=dtype)), 0.25)
    np.testing.assert_array_equal(w, np.array([0.5, -2.0], dtype=dtype))


def test_textbook_quadratic_converges_to_five():
    """J(W) = 0.1 (W - 5)^2 from W = 10: dJ/dW = 0.2 (W - 5) = 1 at the start."""
    cost = lambda w: 0.1 * (w - 5.0) ** 2
    gradient = lambda w: 0.1 * 2.0 * (w - 5.0)
    assert gradient(10.0) == 1.0
    weight, grad = descent.tensor([10.0]), descent.zeros(1)
    reference = 10.0
    costs = []
    for _ in range(100):
        w = weight.numpy()[0]
        costs.append(cost(w))
        grad.copy_from([gradient(w)])
        descent.gd_step(weight, grad, 1.0)
        reference = reference - 1.0 * gradient(reference)
        assert weight.numpy()[0] == reference
    assert all(later < earlier for earlier, later in zip(costs, costs[1:]))
    assert abs(weight.numpy()[0] - 5.0) < 1e-8
    # each step multiplies the distance to the minimum by 1 - 0.2 * learning_rate = 0.8
    assert weight.numpy()[0] - 5.0 == pytest.approx(5.0 * 0.8 ** 100, rel=1e-9)


def test_moving_with_the_gradient_increases_the_cost():
    """The notes' question: why subtract the gradient? Adding it moves away from W = 5."""
    weight = descent.tensor([10.0])
    descent.gd_step(weight, descent.tensor([-1.0]), 1.0)  # W + dJ/dW
    assert 0.1 * (weight.numpy()[0] - 5) ** 2 > 0.1 * (10 - 5) ** 2
