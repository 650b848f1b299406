"""Optimizer.reset_state (descent_optimizer_reset): after any number of steps, a reset optimizer
behaves exactly like a fresh one (state at its initial value, step count 0)."""
import numpy as np
import pytest

from descent import optim

CASES = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.Adam, {"lr": 0.01}),
    (optim.Adagrad, {"lr": 0.1, "initial_accumulator_value": 0.5}),
    (optim.NAdam, {"lr": 0.01}),
]


@pytest.mark.parametrize("cls, hyper", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_reset_then_step_equals_a_fresh_first_step(cls, hyper):
    rng = np.random.default_rng(4)
    start = rng.standard_normal(6)
    grad = rng.standard_normal(6)
    used = start.copy()
    opt = cls([used], **hyper)
    for _ in range(5):
        opt.step([rng.standard_normal(6)])
    assert opt.step_count == 5
    used[...] = start
    opt.reset_state()
    assert opt.step_count == 0
    opt.step([grad])
    fresh = start.copy()
    reference = cls([fresh], **hyper)
    reference.step([grad])
    np.testing.assert_array_equal(used, fresh)
    assert opt.step_count == 1


def test_reset_after_close_raises():
    opt = optim.Adam([np.zeros(2)])
    opt.close()
    from descent import InvalidHandleError
    with pytest.raises(InvalidHandleError):
        opt.reset_state()
