"""Whole graphs checked two ways, in float64: reverse-mode gradients against centered differences
(h = 1e-6) of a NumPy forward of the same function written here (the graph's own forward is only
checked to equal it: differencing the library's forward would be a consistency check, not an
oracle), and models' losses and gradients against a NumPy forward and backward written
independently (graph_reference.mlp_forward_backward)."""
import numpy as np
import pytest

import descent
from descent import graph as G
from graph_reference import activation, batch_norm_train, cost, dropout_mask, mlp_forward_backward, softmax
from reference import rel_error

H = 1e-6
TOLERANCE = 1e-6


def numerical_gradients(f, params, h=H):
    """Centered differences (f(p + h) - f(p - h)) / 2h of the NumPy function f, one element of one
    param array at a time (the arrays are perturbed in place; f reads them)."""
    grads = []
    for node in params:
        array = node.array
        grad = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            saved = array[i]
            array[i] = saved + h
            plus = float(f())
            array[i] = saved - h
            minus = float(f())
            array[i] = saved
            grad[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def check(g, loss, params, feed, numpy_loss, tolerance=TOLERANCE):
    """The graph's gradients of `loss` against centered differences of `numpy_loss` (a NumPy
    forward of the same function reading the param arrays), after checking the two forwards agree."""
    value = g.backward(loss, feed=feed)
    np.testing.assert_allclose(value, numpy_loss(), rtol=1e-12, atol=1e-13)
    analytic = [g.grad(p).copy() for p in params]
    numerical = numerical_gradients(numpy_loss, params)
    for index, (a, n) in enumerate(zip(analytic, numerical)):
        # Elementwise |a - n| / (|a| + |n|); below 1e-3 the differences' rounding noise
        # (~eps |f| / h = 1e-10) dominates, so tiny elements are held to |a - n| < 1e-9.
        error = rel_error(a, n, floor=1e-3)
        assert error < tolerance, f"param {index}: relative error {error:.2e}"
    return value, analytic


def classification_data(rng, n=12, features=5, classes=3):
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


# ---- MLPs -------------------------------------------------------------------------------------

def mlp_pre_activations(model, x):
    """Hidden pre-activations of a bias MLP, in NumPy (to keep ReLU kinks out of reach of ±h)."""
    params, h, zs = model.parameters(), x, []
    for i in range(0, len(params) - 2, 2):
        z = h @ params[i].T + params[i + 1]
        zs.append(z)
        h = activation(z, model.activation)
    return zs


@pytest.mark.parametrize("kind", ["tanh", "relu", "sigmoid", "leaky_relu"])
def test_four_layer_mlp_gradients_match_centered_differences(kind, rng):
    x, y = classification_data(rng)
    model = descent.MLP([5, 7, 6, 5, 3], activation=kind, dtype=np.float64, seed=11)
    if kind in ("relu", "leaky_relu"):
        gap = min(np.abs(z).min() for z in mlp_pre_activations(model, x))
        assert gap > 1e-4, "a pre-activation sits on the kink; pick another seed"
    feed = {model.input: x, model.target: y}
    check(model.graph, model.loss, model.graph.params, feed,
          lambda: mlp_forward_backward(x, model.parameters(), y, activation_kind=kind)[0])


def test_mlp_with_batch_norm_in_training_mode(rng):
    x, y = classification_data(rng)
    model = descent.MLP([5, 6, 5, 3], activation="tanh", batch_norm=True, dtype=np.float64, seed=5)
    assert model.graph.training
    feed = {model.input: x, model.target: y}
    check(model.graph, model.loss, model.graph.params, feed,
          lambda: mlp_forward_backward(x, model.parameters(), y, activation_kind="tanh", batch_norm=True)[0])


@pytest.mark.parametrize("loss", ["mse", "sse", "quadratic", "bce_with_logits", "multiclass_hinge"])
def test_mlp_with_each_loss_and_l2(loss, rng):
    x = rng.standard_normal((10, 4))
    if loss == "multiclass_hinge":
        y = rng.integers(0, 3, 10)
    elif loss == "bce_with_logits":
        y = rng.uniform(0, 1, (10, 3))
    else:
        y = rng.standard_normal((10, 3))
    model = descent.MLP([4, 6, 3], activation="tanh", loss=loss, l2=0.05, dtype=np.float64, seed=2)
    ref_loss = "bce_logits" if loss == "bce_with_logits" else loss
    check(model.graph, model.loss, model.graph.params, {model.input: x, model.target: y},
          lambda: mlp_forward_backward(x, model.parameters(), y, activation_kind="tanh", loss=ref_loss, l2=0.05)[0])


# ---- hand-built graphs ------------------------------------------------------------------------

def test_graph_of_div_log_sqrt_exp(rng):
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    c = rng.standard_normal((3, 4))
    x = rng.uniform(0.5, 2.0, (5, 3))
    g = G.Graph()
    xi = g.input((None, 3))
    pa, pb, pc = g.param(a), g.param(b), g.param(c)
    u = G.log(1 + G.exp(pa) / G.sqrt(G.square(pc) + 1))         # (3, 4), positive inside the log
    v = (pa * pb - pc) / (1.5 + G.square(pb))                    # bias row broadcast, division
    w = G.sqrt(G.square(xi @ (u + v)) + 0.1)                     # (batch, 4)
    J = G.mean(w) + G.sum(G.mean(u, axis=0) * pb) - G.mean(G.log(G.exp(-v) + 2), axis=None) * 0.5

    def numpy_J():
        nu = np.log(1 + np.exp(a) / np.sqrt(c ** 2 + 1))
        nv = (a * b - c) / (1.5 + b ** 2)
        nw = np.sqrt((x @ (nu + nv)) ** 2 + 0.1)
        return nw.mean() + np.sum(nu.mean(axis=0) * b) - np.mean(np.log(np.exp(-nv) + 2)) * 0.5
    check(g, J, [pa, pb, pc], {xi: x}, numpy_J)


def test_graph_with_every_layer_kind(rng):
    # dense -> batch norm -> leaky relu -> dropout (plain runs keep the mask) -> dense -> softmax
    # -> squared error against one-hot targets, plus an L2 term and a hinge cost on the logits.
    x = rng.standard_normal((8, 4))
    labels = rng.integers(0, 3, 8)
    onehot = np.eye(3)[labels]
    g = G.Graph()
    xi, lab, t = g.input((None, 4)), g.labels(), g.input((None, 3))
    w1, gamma, beta = g.param(rng.standard_normal((6, 4))), g.param(1 + rng.uniform(0, 1, 6)), \
        g.param(rng.standard_normal(6))
    w2, b2 = g.param(rng.standard_normal((3, 6))), g.param(rng.standard_normal(3))
    h = G.dropout(G.leaky_relu(G.batch_norm(G.dense(xi, w1), gamma, beta), 0.1), 0.25, seed=9)
    logits = G.dense(h, w2, b2)
    J = G.sse(G.softmax(logits), t) + G.l2_penalty(w2, 0.1, 8) + 0.3 * G.multiclass_hinge(logits, lab, 0.5)
    feed = {xi: x, lab: labels, t: onehot}
    mask = dropout_mask(9, 0, 8 * 6, 0.25).reshape(8, 6)   # plain runs use dropout step 0

    def numpy_J():
        W1, GA, BE, W2, B2 = (node.array for node in (w1, gamma, beta, w2, b2))
        bn, _, _, _, _, _ = batch_norm_train(x @ W1.T, GA, BE, np.zeros(6), np.ones(6), 0.1, 1e-5)
        nh = activation(bn, "leaky_relu", 0.1) * mask
        nlogits = nh @ W2.T + B2
        return cost("sse", softmax(nlogits), onehot)[0] + 0.1 / (2 * 8) * np.sum(W2 ** 2) + \
            0.3 * cost("multiclass_hinge", nlogits, labels, "mean", 0.5)[0]
    check(g, J, [w1, gamma, beta, w2, b2], feed, numpy_J)


def test_matmul_transposes_inside_a_graph(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    g = G.Graph()
    pa, pb = g.param(a), g.param(b)
    m = G.matmul(pa, pb, trans_a=True, trans_b=True)           # (3, 5)
    J = G.sum(G.tanh(m) * G.matmul(m, m, trans_b=True).sum(axis=1).sum() / 10)

    def numpy_J():
        nm = a.T @ b.T
        return np.sum(np.tanh(nm) * (nm @ nm.T).sum(axis=1).sum() / 10)
    check(g, J, [pa, pb], {}, numpy_J)


# ---- models against an independent NumPy forward/backward --------------------------------------

MLP_CONFIGS = [
    dict(activation="tanh"),
    dict(activation="relu"),
    dict(activation="sigmoid", loss="multiclass_hinge"),
    dict(activation="relu", l2=0.1),
    dict(activation="tanh", batch_norm=True),
    dict(activation="leaky_relu", loss="mse"),
    dict(activation="tanh", loss="bce_with_logits"),
]


@pytest.mark.parametrize("config", MLP_CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_mlp_loss_and_gradients_equal_a_numpy_forward_backward(config, rng):
    x = rng.standard_normal((9, 5))
    loss_name = config.get("loss", "softmax_cross_entropy")
    if loss_name in ("softmax_cross_entropy", "multiclass_hinge"):
        y = rng.integers(0, 3, 9)
    elif loss_name == "bce_with_logits":
        y = rng.uniform(0, 1, (9, 3))
    else:
        y = rng.standard_normal((9, 3))
    model = descent.MLP([5, 8, 6, 3], dtype=np.float64, seed=3, **config)
    ref_loss = "bce_logits" if loss_name == "bce_with_logits" else loss_name
    want, grads = mlp_forward_backward(x, model.parameters(), y, activation_kind=config["activation"], loss=ref_loss,
                                       batch_norm=config.get("batch_norm", False), l2=config.get("l2", 0.0))
    got = model.graph.backward(model.loss, feed={model.input: x, model.target: y})
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for node, grad in zip(model.graph.params, grads):
        np.testing.assert_allclose(model.graph.grad(node), grad, rtol=1e-10, atol=1e-12)


def test_mlp_predictions_equal_a_numpy_forward(rng):
    x = rng.standard_normal((7, 5))
    model = descent.MLP([5, 4, 3], activation="tanh", dtype=np.float64, seed=8)
    W0, b0, W1, b1 = model.parameters()
    logits = np.tanh(x @ W0.T + b0) @ W1.T + b1
    np.testing.assert_allclose(model.predict(x), activation(logits, "softmax"), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.graph.forward(model.logits, feed={model.input: x}), logits, rtol=1e-12,
                               atol=1e-12)
    labels = rng.integers(0, 3, 7)
    np.testing.assert_allclose(model.graph.forward(model.loss, feed={model.input: x, model.target: labels}),
                               cost("softmax_cross_entropy", logits, labels)[0], rtol=1e-12, atol=1e-12)
