"""Every analytic gradient of the gradients issue, as a gradient-check case in float64.

A case is ``name -> build(rng) -> (f, x, analytic, library)``: ``f`` is a scalar function of ``x``
written in NumPy from the formula (a NumPy array that the checker perturbs in place),
``analytic`` the library's gradient at x and ``library`` the same function computed by the
library's forward. The oracle is independent of the library: NumPy centered differences of the
NumPy forward (``run_numpy_case``); the library's forward is only checked to equal the NumPy one. Non-smooth points are excluded explicitly: ReLU / leaky-ReLU inputs and dense pre-activations
are kept at least KINK_GAP away from 0, and hinge margins at least KINK_GAP away from 0, so a
±h step never crosses a kink. Used by test_gradients_gradcheck.py and bench/gradcheck_report.py.
"""
import numpy as np

import descent

KINK_GAP = 1e-2
F64 = np.float64


def _away_from_zero(values, gap=KINK_GAP):
    """Moves entries with |v| < gap to ±gap·(1..2) (explicit kink exclusion)."""
    values = values.copy()
    small = np.abs(values) < gap
    values[small] = np.where(values[small] >= 0, 1.0, -1.0) * gap * (1 + np.abs(values[small]) / gap)
    return values


# ---- NumPy forwards, written from the formulas (float64) ------------------------------------------

def np_activation(v, kind, slope=0.01):
    v = np.asarray(v, dtype=F64)
    if kind == "identity":
        return v
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-v))
    if kind == "tanh":
        return np.tanh(v)
    if kind == "relu":
        return np.where(v > 0, v, 0.0)
    if kind == "leaky_relu":
        return np.where(v > 0, v, slope * v)
    e = np.exp(v - v.max(axis=-1, keepdims=True))        # softmax along the last axis
    return e / e.sum(axis=-1, keepdims=True)


def np_logsumexp(z):
    m = z.max(axis=1)
    return m + np.log(np.exp(z - m[:, None]).sum(axis=1))


def np_hinge(scores, labels, margin=1.0):
    """Mean over the batch of Σ_{j≠y} max(0, s_j - s_y + Δ)."""
    rows = np.arange(len(labels))
    margins = scores - scores[rows, labels][:, None] + margin
    margins[rows, labels] = 0.0
    return float(np.maximum(margins, 0.0).sum(axis=1).mean())


def np_batchnorm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)                    # biased, as in training mode
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def _weighted(R, g):
    return lambda v: float(np.sum(R * g(v)))


# ---- the cases: (NumPy forward f, x, the library's analytic gradient, the library's forward) ------
# The gradient is checked against centered differences of the NumPy forward (an oracle
# independent of the library); the library's own forward is checked to equal the NumPy one at x,
# so both describe the same function.

def activation_case(kind, slope=0.01):
    def build(rng):
        x = rng.standard_normal((4, 5))
        if kind in ("relu", "leaky_relu"):
            x = _away_from_zero(x)
        R = rng.standard_normal(x.shape)
        f = _weighted(R, lambda v: np_activation(v, kind, slope))
        library = _weighted(R, lambda v: descent.activation(v, kind, slope))
        return f, x, descent.activation_backward(x, R, kind, slope), library
    return build


def derivative_case(kind, slope=0.01):
    def build(rng):
        x = rng.standard_normal(7)
        if kind in ("relu", "leaky_relu"):
            x = _away_from_zero(x)
        # d/dx_i Σ_j f(x_j) = f'(x_i)
        f = lambda v: float(np.sum(np_activation(v, kind, slope)))
        library = lambda v: float(np.sum(descent.activation(v, kind, slope)))
        return f, x, descent.activation_derivative(x, kind, slope), library
    return build


def elementwise_loss_case(function, numpy_loss, make_inputs, **kwargs):
    def build(rng):
        prediction, target = make_inputs(rng)
        f = lambda v: numpy_loss(np.asarray(v, dtype=F64), target)
        library = lambda v: function(v, target, with_grad=False, **kwargs)
        return f, prediction, function(prediction, target, **kwargs)[1], library
    return build


def _sse(p, y):
    return 0.5 * float(np.sum((p - y) ** 2))


def _quadratic(p, y):
    return float(np.sum((p - y) ** 2)) / (2 * p.shape[0])


def _mse(p, y):
    return float(np.mean((p - y) ** 2))


def _bce_terms(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))     # p stays in [0.05, 0.95]: no clamping


def _bce_logit_terms(z, t):
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


def _regression(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4))


def _probabilities(rng):
    return rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))


def _logits_and_targets(rng):
    return 3 * rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))


def _hinge_scores(rng, batch=5, classes=4, margin=1.0):
    """Scores whose hinge margins s_j - s_y + Δ all stay KINK_GAP away from 0."""
    labels = rng.integers(0, classes, batch)
    while True:
        scores = rng.standard_normal((batch, classes))
        margins = scores - scores[np.arange(batch), labels][:, None] + margin
        margins[np.arange(batch), labels] = 1.0
        if np.min(np.abs(margins)) > KINK_GAP:
            return scores, labels


def softmax_ce_case(offset):
    def build(rng):
        # A large common offset tests stability (a naive exp overflows at ~710) while keeping
        # the gradient entries O(0.1), where a relative error is meaningful.
        logits = offset + 2 * rng.standard_normal((5, 4))
        labels = rng.integers(0, 4, 5)
        rows = np.arange(5)
        f = lambda v: float(np.mean(np_logsumexp(np.asarray(v, F64)) - np.asarray(v, F64)[rows, labels]))
        library = lambda v: descent.softmax_cross_entropy(v, labels, with_grad=False)
        return f, logits, descent.softmax_cross_entropy(logits, labels)[1], library
    return build


def hinge_case(rng):
    scores, labels = _hinge_scores(rng)
    f = lambda v: np_hinge(np.asarray(v, F64), labels)
    library = lambda v: descent.multiclass_hinge_loss(v, labels, with_grad=False)
    return f, scores, descent.multiclass_hinge_loss(scores, labels)[1], library


def hinge_linear_case(rng):
    classes, features, batch = 3, 4, 6
    inputs = rng.standard_normal((batch, features))
    labels = rng.integers(0, classes, batch)
    while True:
        weights = rng.standard_normal((classes, features))
        scores = inputs @ weights.T
        margins = scores - scores[np.arange(batch), labels][:, None] + 1.0
        margins[np.arange(batch), labels] = 1.0
        if np.min(np.abs(margins)) > KINK_GAP:
            break
    f = lambda v: np_hinge(inputs @ np.asarray(v, F64).T, labels)
    library = lambda v: descent.multiclass_hinge_linear(v, inputs, labels, with_grad=False)
    return f, weights, descent.multiclass_hinge_linear(weights, inputs, labels)[1], library


def l2_case(m):
    def build(rng):
        weights = rng.standard_normal((3, 5))
        f = lambda v: 0.3 / (2 * m) * float(np.sum(np.asarray(v, F64) ** 2))
        library = lambda v: descent.l2_penalty(v, 0.3, m, with_grad=False)
        return f, weights, descent.l2_penalty(weights, 0.3, m)[1], library
    return build


def delta_rule_case(rng):
    # Δw = η δ x = -η ∂E/∂w for E = ½ (y - σ(w·x))²: check -Δw/η against E's numerical gradient.
    x, y, eta = rng.standard_normal(4), 0.3, 0.5
    w = rng.standard_normal(4)
    f = lambda v: 0.5 * (y - 1 / (1 + np.exp(-(v @ x)))) ** 2
    library = lambda v: 0.5 * (y - descent.delta_rule(v, x, y, eta).y_hat) ** 2
    return f, w, -descent.delta_rule(w, x, y, eta).dw / eta, library


def dense_case(activation, wrt):
    def build(rng):
        batch, fan_in, units = 4, 3, 5
        while True:
            a = rng.standard_normal((batch, fan_in))
            W = rng.standard_normal((units, fan_in))
            b = rng.standard_normal(units)
            z = a @ W.T + b
            if activation not in ("relu", "leaky_relu") or np.min(np.abs(z)) > KINK_GAP:
                break
        R = rng.standard_normal((batch, units))
        arguments = {"a": a, "W": W, "b": b}

        def f(v):
            values = dict(arguments, **{wrt: np.asarray(v, F64)})
            return float(np.sum(R * np_activation(values["a"] @ values["W"].T + values["b"], activation)))

        def library(v):
            values = dict(arguments, **{wrt: v})
            return float(np.sum(R * descent.dense_forward(values["a"], values["W"], values["b"], activation)[1]))

        z, _ = descent.dense_forward(a, W, b, activation)
        dW, db, da = descent.dense_backward(a, W, z, R, activation)
        return f, arguments[wrt], {"a": da, "W": dW, "b": db}[wrt], library
    return build


def batchnorm_case(wrt):
    def build(rng):
        x = rng.standard_normal((6, 3)) * 2 + 1
        gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
        R = rng.standard_normal(x.shape)
        arguments = {"x": x, "gamma": gamma, "beta": beta}

        def f(v):
            values = dict(arguments, **{wrt: np.asarray(v, F64)})
            return float(np.sum(R * np_batchnorm(values["x"], values["gamma"], values["beta"])))

        def library(v):
            values = dict(arguments, **{wrt: v})
            y, _, _ = descent.batchnorm_forward_train(values["x"], values["gamma"], values["beta"],
                                                      np.zeros(3), np.ones(3))
            return float(np.sum(R * y))

        _, mean, invstd = descent.batchnorm_forward_train(x, gamma, beta, np.zeros(3), np.ones(3))
        dx, dgamma, dbeta = descent.batchnorm_backward(x, gamma, mean, invstd, R)
        return f, arguments[wrt], {"x": dx, "gamma": dgamma, "beta": dbeta}[wrt], library
    return build


CASES = {
    "sigmoid backward": activation_case("sigmoid"),
    "tanh backward": activation_case("tanh"),
    "relu backward (|x| >= 1e-2)": activation_case("relu"),
    "leaky_relu backward (|x| >= 1e-2)": activation_case("leaky_relu", 0.1),
    "softmax backward": activation_case("softmax"),
    "identity backward": activation_case("identity"),
    "sigmoid derivative": derivative_case("sigmoid"),
    "tanh derivative": derivative_case("tanh"),
    "relu derivative (|x| >= 1e-2)": derivative_case("relu"),
    "leaky_relu derivative (|x| >= 1e-2)": derivative_case("leaky_relu", 0.2),
    "sse_loss": elementwise_loss_case(descent.sse_loss, _sse, _regression),
    "quadratic_cost": elementwise_loss_case(descent.quadratic_cost, _quadratic, _regression),
    "mse_loss": elementwise_loss_case(descent.mse_loss, _mse, _regression),
    "bce_loss (mean)": elementwise_loss_case(descent.bce_loss, lambda p, t: float(_bce_terms(p, t).mean()),
                                             _probabilities),
    "bce_loss (sum)": elementwise_loss_case(descent.bce_loss, lambda p, t: float(_bce_terms(p, t).sum()),
                                            _probabilities, reduction="sum"),
    "bce_with_logits_loss": elementwise_loss_case(descent.bce_with_logits_loss,
                                                  lambda z, t: float(_bce_logit_terms(z, t).mean()),
                                                  _logits_and_targets),
    "softmax_cross_entropy": softmax_ce_case(0.0),
    "softmax_cross_entropy (logits ~ 1000)": softmax_ce_case(1000.0),
    "multiclass_hinge_loss (margins >= 1e-2)": hinge_case,
    "multiclass_hinge_linear dW (margins >= 1e-2)": hinge_linear_case,
    "l2_penalty (m = 1)": l2_case(1),
    "l2_penalty (m = 7)": l2_case(7),
    "delta_rule (-dw/eta)": delta_rule_case,
    "dense sigmoid dW": dense_case("sigmoid", "W"),
    "dense sigmoid db": dense_case("sigmoid", "b"),
    "dense sigmoid da": dense_case("sigmoid", "a"),
    "dense tanh dW": dense_case("tanh", "W"),
    "dense relu dW (|z| >= 1e-2)": dense_case("relu", "W"),
    "dense relu da (|z| >= 1e-2)": dense_case("relu", "a"),
    "dense softmax dW": dense_case("softmax", "W"),
    "dense identity db": dense_case("identity", "b"),
    "batchnorm dx": batchnorm_case("x"),
    "batchnorm dgamma": batchnorm_case("gamma"),
    "batchnorm dbeta": batchnorm_case("beta"),
}


# Per-case step and pass threshold where the defaults (h = 1e-6, 1e-6) do not fit: with logits
# near 1000 the loss itself carries an absolute rounding error ~1e-13 (ulp of 1000), which a
# step of 1e-6 turns into ~1e-7 of noise on gradient entries as small as 1e-3; a larger step
# (truncation error O(h^2)) balances the two. This is a limit of the finite difference, not of
# the analytic gradient.
STEP = {"softmax_cross_entropy (logits ~ 1000)": 1e-3}
THRESHOLD = {}  # per-case pass thresholds (none needed so far)
DEFAULT_STEP, DEFAULT_THRESHOLD = 1e-6, 1e-6


def numpy_centered_gradient(f, x, h):
    """Centered differences written here, not the library's checker: (f(x + h e_i) - f(x - h e_i))
    divided by the step actually taken (x + h and x - h rounded to float64)."""
    x = np.array(x, dtype=F64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        up, f_up = x[index], f(x)
        x[index] = original - h
        down, f_down = x[index], f(x)
        x[index] = original
        grad[index] = (f_up - f_down) / (up - down)
    return grad


def relative_error(analytic, numerical, floor=1e-12):
    """cs231n's metric: max |a - n| / max(|a| + |n|, floor)."""
    a, n = np.asarray(analytic, F64), np.asarray(numerical, F64)
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), floor)))


def run_numpy_case(name, seed=1234):
    """(relative error of the library's analytic gradient against NumPy centered differences of the
    NumPy forward, the library forward at x, the NumPy forward at x)."""
    rng = np.random.default_rng(seed)
    f, x, analytic, library = CASES[name](rng)
    x = np.array(x, dtype=F64)
    numerical = numpy_centered_gradient(f, x, STEP.get(name, DEFAULT_STEP))
    return relative_error(analytic, numerical), library(x), f(x)


def run_case(name, seed=1234):
    """The GradientCheckResult of one case from the library's checker (centered differences of the
    NumPy forward); bench/gradcheck_report.py prints these."""
    rng = np.random.default_rng(seed)
    f, x, analytic, _library = CASES[name](rng)
    x = np.array(x, dtype=F64)
    before = x.copy()
    result = descent.gradient_check(f, x, np.asarray(analytic, dtype=F64), h=STEP.get(name, DEFAULT_STEP),
                                    method="centered")
    assert np.array_equal(x, before), f"{name}: x was not restored"
    return result
