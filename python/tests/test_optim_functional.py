"""descent.functional: every rule and variant against the NumPy reference over 100+ steps."""
import numpy as np
import pytest

import descent
from descent import functional as F
from conftest import skip_or_fail
from optim_reference import VARIANTS, Reference, variant_id
from reference import assert_close

STEPS = 120
SLOTS = {
    "sgd": ["momentum_buffer"], "adagrad": ["sum"], "adadelta": ["square_avg", "acc_delta"],
    "rmsprop": ["square_avg", "grad_avg", "momentum_buffer"],
    "adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "adamw": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "adamax": ["exp_avg", "exp_inf"], "nadam": ["exp_avg", "exp_avg_sq"], "radam": ["exp_avg", "exp_avg_sq"],
    "lion": ["exp_avg"],
}


def make_state(rule, options, param):
    state = {name: np.zeros_like(param) for name in SLOTS[rule]}
    if rule == "adagrad":
        state["sum"][...] = options.get("initial_accumulator_value", 0.0)
    if rule == "nadam":
        state["mu_product"] = np.ones(1)
    return state


def functional_step(rule, options, param, grad, state, t):
    options = {k: v for k, v in options.items() if k != "initial_accumulator_value"}
    buffers = [state[name] for name in SLOTS[rule]]
    if rule == "nadam":
        buffers.append(state["mu_product"])
    getattr(F, rule)(param, grad, *buffers, t, **options)


@pytest.fixture(params=["accel", "ctypes"])
def call_path(request, monkeypatch):
    """Runs a test through the compiled extension (descent._accel) and through ctypes alone."""
    if request.param == "ctypes":
        monkeypatch.setattr(F, "accel", None)
    elif F.accel is None:
        skip_or_fail("descent._accel is not in use (DESCENT_NO_ACCEL, or not built for this Python)")
    return request.param


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_rule_matches_reference(variant, dtype, rng, call_path):
    rule, options = variant
    param = rng.standard_normal(257).astype(dtype)
    reference = Reference(rule, param, **options)
    state = make_state(rule, options, param)
    for t in range(1, STEPS + 1):
        grad = rng.standard_normal(257).astype(dtype)
        functional_step(rule, options, param, grad, state, t)
        reference.step(grad)
    assert_close(param, reference.param, dtype, rtol_scale=1)
    for name, expected in reference.state.items():
        assert_close(state[name], expected, dtype, rtol_scale=1)
    assert not np.array_equal(param, reference.param * 0)  # the parameters moved off zero


def test_large_tensor_is_split_and_bit_identical_to_small_pieces(rng):
    # 300K elements use several threads; the same update applied in 1K pieces must match bit for bit.
    n = 300_000
    param = rng.standard_normal(n).astype(np.float32)
    pieces = param.copy()
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    pm, pv = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for t in range(1, 4):
        grad = rng.standard_normal(n).astype(np.float32)
        F.adam(param, grad, m, v, None, t, lr=1e-2)
        for start in range(0, n, 1000):
            s = slice(start, start + 1000)
            F.adam(pieces[s], grad[s], pm[s], pv[s], None, t, lr=1e-2)
    assert np.array_equal(param, pieces)
    assert np.array_equal(m, pm) and np.array_equal(v, pv)


def test_momentum_beta_0_9_averages_about_the_last_10_gradients():
    # Textbook: v = βv + (1-β)g with β = 0.9 weighs gradient k steps back by β^k (1-β); the last
    # 10 gradients carry 1 - 0.9^10 ≈ 0.65 of the weight. Feed unit impulses and read v back.
    beta, steps = 0.9, 60
    weights = []
    for k in range(steps):
        param = np.zeros(1)
        buffer = np.zeros(1)
        for t in range(1, steps + 1):
            grad = np.array([1.0 if t == steps - k else 0.0])
            F.sgd(param, grad, buffer, t, lr=0.0, momentum=beta, momentum_form="ema")
        weights.append(buffer[0])
    expected = [beta ** k * (1 - beta) for k in range(steps)]
    np.testing.assert_allclose(weights, expected, rtol=1e-12, atol=1e-300)
    last10 = sum(weights[:10])
    assert abs(last10 - (1 - 0.9 ** 10)) < 1e-12
    assert 0.64 < last10 < 0.66


def test_adam_textbook_setting_first_steps():
    # The notes' Adam: beta1 0.9, beta2 0.99, eps 1e-8, bias-corrected. With a constant gradient g
    # the corrected moments are exactly g and g², so each step moves W by lr * g/(|g| + eps).
    param = np.array([1.0, -2.0, 3.0])
    grad = np.array([0.5, -0.25, 2.0])
    m, v = np.zeros(3), np.zeros(3)
    lr = 0.01
    for t in range(1, 11):
        F.adam(param, grad, m, v, None, t, lr=lr, betas=(0.9, 0.99), eps=1e-8)
    expected = np.array([1.0, -2.0, 3.0]) - 10 * lr * grad / (np.abs(grad) + 1e-8)
    np.testing.assert_allclose(param, expected, rtol=1e-12)
    np.testing.assert_allclose(m, grad * (1 - 0.9 ** 10), rtol=1e-12)
    np.testing.assert_allclose(v, grad ** 2 * (1 - 0.99 ** 10), rtol=1e-12)


def test_pytorch_first_step_copies_gradient_into_buffer():
    param, buffer = np.ones(4), np.full(4, 7.0)
    grad = np.array([1.0, 2.0, 3.0, 4.0])
    F.sgd(param, grad, buffer, 1, lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_array_equal(buffer, grad)  # b = g on t = 1, dampening not applied
    np.testing.assert_allclose(param, 1 - 0.1 * grad, rtol=1e-15)


# ---- bad input: typed errors, nothing written ------------------------------------------------------

def snapshot(*arrays):
    return [a.copy() for a in arrays]


def assert_unchanged(before, *arrays):
    for old, new in zip(before, arrays):
        np.testing.assert_array_equal(old, new)


def test_bad_input_raises_typed_errors_and_changes_nothing(rng):
    p = rng.standard_normal(8)
    g = rng.standard_normal(8)
    m, v = np.zeros(8), np.zeros(8)
    before = snapshot(p, m, v)
    with pytest.raises(descent.ShapeError):
        F.adam(p, g[:7], m, v, None, 1)
    with pytest.raises(descent.DTypeError):
        F.adam(p, g.astype(np.float32), m, v, None, 1)
    with pytest.raises(descent.DTypeError):
        F.adam(p.astype(np.int64), g, m, v, None, 1)
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(p, g, m, v, None, 1, lr=-1.0)
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(p, g, m, v, None, 0)
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(p, g, m, v, None, 1, betas=(1.0, 0.999))
    with pytest.raises(descent.NonFiniteError):
        F.adam(p, g, m, v, None, 1, eps=float("nan"))
    with pytest.raises(descent.NullPointerError):
        F.adam(p, g, None, v, None, 1)
    with pytest.raises(descent.NullPointerError):
        F.adam(p, g, m, v, None, 1, amsgrad=True)
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(p, g, m, m, None, 1)  # state buffers must not alias
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(p[::2], g[::2], m[::2], v[::2], None, 1)
    readonly = p.copy()
    readonly.flags.writeable = False
    with pytest.raises(descent.InvalidArgumentError):
        F.adam(readonly, g, m, v, None, 1)
    bad = g.copy()
    bad[3] = np.inf
    with pytest.raises(descent.NonFiniteError):
        F.adam(p, bad, m, v, None, 1, check_finite=True)
    assert_unchanged(before, p, m, v)


def test_bad_options_raise(rng):
    p, g, b = np.zeros(4), np.ones(4), np.zeros(4)
    with pytest.raises(descent.InvalidArgumentError):
        F.sgd(p, g, b, 1, momentum=0.0, nesterov=True)
    with pytest.raises(descent.InvalidArgumentError):
        F.sgd(p, g, b, 1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(descent.InvalidArgumentError):
        F.sgd(p, g, b, 1, momentum_form="heavy-ball")
    with pytest.raises(TypeError):
        F.sgd(p, g, b, 1.5)
    bad_mu = np.array([2.0])
    with pytest.raises(descent.InvalidArgumentError):
        F.nadam(p, g, np.zeros(4), np.zeros(4), bad_mu, 1)                 # mu_product outside (0, 1]
    with pytest.raises(descent.DTypeError):
        F.nadam(p, g, np.zeros(4), np.zeros(4), np.ones(1, np.float32), 1)
    np.testing.assert_array_equal(bad_mu, 2.0)
    # The running product passed to every failing call below must come back untouched (the old
    # `assert mu[0] == 1.0` checked an array no failing call had been given).
    mu, m, v = np.array([0.9]), np.full(4, 0.25), np.full(4, 0.5)
    failing = [
        (descent.InvalidArgumentError, lambda: F.nadam(p, g, m, v, mu, 2, momentum_decay=-1.0)),
        (descent.InvalidArgumentError, lambda: F.nadam(p, g, m, v, mu, 0)),               # step < 1
        (descent.DTypeError, lambda: F.nadam(p, g, m.astype(np.float32), v, mu, 2)),
        (descent.ShapeError, lambda: F.nadam(p, g, m[:3], v, mu, 2)),
        (descent.NonFiniteError, lambda: F.nadam(p, np.array([1.0, np.nan, 1.0, 1.0]), m, v, mu, 2,
                                                 check_finite=True)),
    ]
    for error, call in failing:
        with pytest.raises(error):
            call()
        assert mu[0] == 0.9
        np.testing.assert_array_equal(m, 0.25)
        np.testing.assert_array_equal(v, 0.5)
    np.testing.assert_array_equal(p, 0)
    F.nadam(p, g, m, v, mu, 2)                        # and a valid call does update it
    assert mu[0] != 0.9


def test_lion_nan_gradient_reaches_the_param_without_check_finite():
    # sign(NaN) = NaN: the element does not silently stop moving (it did: exp_avg went NaN and
    # the update took sign(NaN) as 0).
    p, m = np.array([1.0, 2.0, 3.0]), np.zeros(3)
    F.lion(p, np.array([0.5, np.nan, -0.5]), m, 1, lr=0.1)
    np.testing.assert_array_equal(np.isnan(p), [False, True, False])
    np.testing.assert_allclose(p[[0, 2]], [0.9, 3.1], rtol=1e-15, atol=0)
    F.lion(p, np.array([0.5, 1.0, -0.5]), m, 2, lr=0.1)
    assert np.isnan(p[1]) and np.isnan(m[1])
