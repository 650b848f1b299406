"""Graph costs, L2 penalty, dense layers, batch normalization and dropout against NumPy, and the
graph's parameter plumbing (flat gradient buffer, frozen params, seeded re-initialization)."""
import numpy as np
import pytest

import descent
from descent import graph as G
from graph_helpers import upstream, vjp
from graph_reference import (activation, activation_vjp, batch_norm_train, batch_norm_train_vjp, cost,
                             dropout_mask, f64, sm_output)
from reference import assert_close
from test_gradients_layers import ref_normal


# ---- costs ------------------------------------------------------------------------------------

def cost_case(name, rng, dtype, batch=5, classes=4):
    """(prediction, target, builder kwargs, reference parameter)."""
    p = rng.standard_normal((batch, classes))
    if name in ("sse", "quadratic", "mse"):
        return p.astype(dtype), rng.standard_normal((batch, classes)).astype(dtype), {}, 0.0
    if name == "bce":
        p = rng.uniform(0, 1, (batch, classes))
        p.flat[:4] = [0.0, 1.0, 1e-6, 1 - 1e-6]          # the first two are clamped (eps = 1e-3)
        return p.astype(dtype), rng.integers(0, 2, p.shape).astype(dtype), {"eps": 1e-3}, 1e-3
    if name == "bce_logits":
        p = 8 * p
        p.flat[:3] = [40.0, -40.0, 0.0]
        return p.astype(dtype), rng.uniform(0, 1, p.shape).astype(dtype), {}, 0.0
    labels = rng.integers(0, classes, batch)
    if name == "multiclass_hinge":
        return p.astype(dtype), labels, {"margin": 0.7}, 0.7
    return p.astype(dtype), labels, {}, 0.0


BUILDERS = {"sse": G.sse, "quadratic": G.quadratic_cost, "mse": G.mse, "bce": G.bce,
            "bce_logits": G.bce_with_logits, "softmax_cross_entropy": G.softmax_cross_entropy,
            "multiclass_hinge": G.multiclass_hinge}
REDUCED = ("bce", "bce_logits", "softmax_cross_entropy", "multiclass_hinge")
COST_CASES = [(name, "mean") for name in BUILDERS] + [(name, "sum") for name in REDUCED]


@pytest.mark.parametrize("name,reduction", COST_CASES)
def test_cost_value_and_gradient(name, reduction, dtype, rng):
    p, target, kwargs, parameter = cost_case(name, rng, dtype)
    g = G.Graph(dtype)
    pp = g.param(p)
    t = g.labels() if target.dtype.kind == "i" else g.input(target.shape)
    if name in REDUCED:
        kwargs["reduction"] = reduction
    node = BUILDERS[name](pp, t, **kwargs)
    assert node.shape == ()
    want, dp = cost(name, p, target, reduction, parameter)
    assert_close(g.forward(node, feed={t: target}), want, dtype)
    assert_close(g.backward(2.5 * node), 2.5 * want, dtype)             # upstream gradient 2.5
    assert_close(g.grad(pp), 2.5 * dp, dtype)


def test_sse_quadratic_mse_ignore_reduction_and_differ_by_their_scale(rng):
    p, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    g = G.Graph()
    pp, t = g.param(p), g.input((4, 3))
    values = [g.forward(f(pp, t), feed={t: y}) for f in (G.sse, G.quadratic_cost, G.mse)]
    sq = np.sum((p - y) ** 2)
    np.testing.assert_allclose(values, [sq / 2, sq / 8, sq / 12], rtol=1e-12, atol=1e-12)


def test_bce_with_logits_is_finite_for_huge_logits():
    z = np.array([[800.0, -800.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.5]])
    g = G.Graph()
    pz, t = g.param(z), g.input((1, 3))
    loss = g.backward(G.bce_with_logits(pz, t, reduction="sum"), feed={t: y})
    np.testing.assert_allclose(loss, 800 + 800 + np.log(2), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.grad(pz), [[1.0, -1.0, 0.0]], rtol=1e-12, atol=1e-12)


def test_classification_costs_with_labels_on_the_batch_axis(rng):
    x, labels = rng.standard_normal((6, 3)), rng.integers(0, 4, 6)
    w = rng.standard_normal((3, 4))
    g = G.Graph()
    xi, lab, pw = g.input((None, 3)), g.labels(), g.param(w)
    loss = G.softmax_cross_entropy(xi @ pw, lab)
    value = g.backward(loss, feed={xi: x, lab: labels})
    want, dlogits = cost("softmax_cross_entropy", x @ w, labels)
    assert_close(value, want, np.float64)
    assert_close(g.grad(pw), x.T @ dlogits, np.float64)
    # A new batch size is a new plan; values stay exact.
    value = g.backward(loss, feed={xi: x[:2], lab: labels[:2]})
    assert_close(value, cost("softmax_cross_entropy", x[:2] @ w, labels[:2])[0], np.float64)


@pytest.mark.parametrize("lam,m", [(0.3, 1), (0.3, 7), (0.0, 2)])
def test_l2_penalty(lam, m, dtype, rng):
    w = rng.standard_normal((3, 4)).astype(dtype)
    g = G.Graph(dtype)
    pw = g.param(w)
    node = G.l2_penalty(pw, lam, m)
    assert_close(g.backward(node), lam / (2 * m) * np.sum(f64(w) ** 2), dtype)
    assert_close(g.grad(pw), lam / m * f64(w), dtype)
    # Added to a cost, the gradients add.
    R = upstream(rng, w.shape, dtype)
    _, (gw,) = vjp(g, pw, [pw], R)
    g.backward(G.sum(pw * g.constant(R)) + node)
    assert_close(g.grad(pw), f64(gw) + lam / m * f64(w), dtype)


# ---- dense ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_forward_and_parameter_gradients(kind, bias, dtype, rng):
    batch, fan_in, units, slope = 5, 4, 3, 0.3
    x = rng.standard_normal((batch, fan_in)).astype(dtype)
    w = rng.standard_normal((units, fan_in)).astype(dtype)
    b = rng.standard_normal(units).astype(dtype)
    R = upstream(rng, (batch, units), dtype)
    g = G.Graph(dtype)
    xi, r, pw = g.input((None, fan_in)), g.input((None, units)), g.param(w)
    pb = g.param(b) if bias else None
    node = G.dense(xi, pw, pb, kind, negative_slope=slope)
    assert node.shape == (None, units)
    g.backward(G.sum(node * r), feed={xi: x, r: R})
    z = f64(x) @ f64(w).T + (f64(b) if bias else 0)
    dz = activation_vjp(z, R, kind, slope)
    assert_close(g.forward(node), activation(z, kind, slope), dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pw), dz.T @ f64(x), dtype, rtol_scale=10, atol_scale=10)
    if bias:
        assert_close(g.grad(pb), dz.sum(axis=0), dtype, rtol_scale=10, atol_scale=10)
    # The first layer's input is data: it has no gradient to ask for.
    with pytest.raises(descent.InvalidArgumentError):
        g.grad(xi)


@pytest.mark.parametrize("kind", ["tanh", "relu"])
def test_dense_input_gradient_when_x_depends_on_params(kind, dtype, rng):
    # Two layers: the second layer's dx = dz W must reach the first layer's params.
    x = rng.standard_normal((6, 4)).astype(dtype)
    w1, b1 = rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal(5).astype(dtype)
    w2, b2 = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal(3).astype(dtype)
    R = upstream(rng, (6, 3), dtype)
    g = G.Graph(dtype)
    xi, r = g.input((None, 4)), g.input((None, 3))
    p1, q1, p2, q2 = g.param(w1), g.param(b1), g.param(w2), g.param(b2)
    out = G.dense(G.dense(xi, p1, q1, kind), p2, q2, "sigmoid")
    g.backward(G.sum(out * r), feed={xi: x, r: R})
    X, W1, B1, W2, B2 = (f64(v) for v in (x, w1, b1, w2, b2))
    z1 = X @ W1.T + B1
    h = activation(z1, kind)
    z2 = h @ W2.T + B2
    dz2 = activation_vjp(z2, R, "sigmoid")
    dz1 = activation_vjp(z1, dz2 @ W2, kind)
    for got, want in zip([g.grad(p) for p in (p1, q1, p2, q2)], [dz1.T @ X, dz1.sum(0), dz2.T @ h, dz2.sum(0)]):
        assert_close(got, want, dtype, rtol_scale=20, atol_scale=20)


def test_dense_input_gradient_of_a_param_input(rng):
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((3, 4))
    R = rng.standard_normal((5, 3))
    g = G.Graph()
    px, pw = g.param(x), g.param(w)
    _, (gx, gw) = vjp(g, G.dense(px, pw, None, "tanh"), [px, pw], R)
    dz = activation_vjp(x @ w.T, R, "tanh")
    assert_close(gx, dz @ w, np.float64, atol_scale=10)
    assert_close(gw, dz.T @ x, np.float64, atol_scale=10)


# ---- batch normalization ----------------------------------------------------------------------

def batch_norm_graph(x, gamma, beta, dtype, momentum=0.3, eps=1e-3):
    """x enters as the weight of a dense layer over an identity input (z = I Xᵀᵀ = X exactly), so
    the gradient of that weight is dx (transposed). Returns (graph, feed, bn node, params, r)."""
    batch, features = x.shape
    g = G.Graph(dtype)
    eye, r = g.input((None, batch)), g.input((None, features))
    px, pg, pb = g.param(np.ascontiguousarray(x.T)), g.param(gamma), g.param(beta)
    bn = G.batch_norm(G.dense(eye, px), pg, pb, momentum=momentum, eps=eps)
    return g, {eye: np.eye(batch, dtype=dtype)}, bn, (px, pg, pb), r


def test_batch_norm_training_forward_backward_and_running_statistics(dtype, rng):
    x = (2 * rng.standard_normal((6, 3)) + 1).astype(dtype)
    gamma, beta = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    R = upstream(rng, x.shape, dtype)
    g, feed, bn, (px, pg, pb), r = batch_norm_graph(x, gamma, beta, dtype)
    mean0, var0 = g.running_stats(bn)
    np.testing.assert_array_equal(mean0, 0.0)
    np.testing.assert_array_equal(var0, 1.0)
    g.backward(G.sum(bn * r), feed={**feed, r: R})                 # ONE training run
    y, _, _, _, rm, rv = batch_norm_train(x, gamma, beta, mean0, var0, 0.3, 1e-3)
    dx, dgamma, dbeta = batch_norm_train_vjp(x, gamma, R, 1e-3)
    assert_close(g.grad(px).T, dx, dtype, rtol_scale=100, atol_scale=100)
    assert_close(g.grad(pg), dgamma, dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pb), dbeta, dtype, rtol_scale=10, atol_scale=10)
    mean1, var1 = g.running_stats(bn)
    assert_close(mean1, rm, dtype, rtol_scale=10, atol_scale=10)
    assert_close(var1, rv, dtype, rtol_scale=10, atol_scale=10)                 # unbiased variance
    out = g.forward(bn)                                            # a second training run
    _, _, _, _, rm2, rv2 = batch_norm_train(x, gamma, beta, mean1, var1, 0.3, 1e-3)
    assert_close(out, y, dtype, rtol_scale=10, atol_scale=10)
    mean2, var2 = g.running_stats(bn)
    assert_close(mean2, rm2, dtype, rtol_scale=10, atol_scale=10)
    assert_close(var2, rv2, dtype, rtol_scale=10, atol_scale=10)


def test_batch_norm_one_forward_updates_running_statistics_once(rng):
    # A training-mode forward updates the running statistics exactly once (momentum 0.5).
    x = rng.standard_normal((4, 2)) + 3
    g = G.Graph()
    xi = g.input((None, 2))
    bn = G.batch_norm(xi, g.param(np.ones(2)), g.param(np.zeros(2)), momentum=0.5)
    g.forward(bn, feed={xi: x})
    np.testing.assert_allclose(g.running_stats(bn)[0], 0.5 * x.mean(axis=0), rtol=1e-12, atol=1e-12)
    g.forward(bn, feed={xi: x[:3]})                                  # a new batch size: still once
    np.testing.assert_allclose(g.running_stats(bn)[0], 0.25 * x.mean(axis=0) + 0.5 * x[:3].mean(axis=0),
                               rtol=1e-12, atol=1e-12)


def test_batch_norm_evaluation_mode_uses_running_statistics(dtype, rng):
    x = (2 * rng.standard_normal((5, 3)) - 1).astype(dtype)
    gamma, beta = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    mean, var = rng.standard_normal(3).astype(dtype), rng.uniform(0.5, 2, 3).astype(dtype)
    R = upstream(rng, x.shape, dtype)
    g, feed, bn, (px, pg, pb), r = batch_norm_graph(x, gamma, beta, dtype)
    g.set_running_stats(bn, mean, var)
    g.training = False
    assert g.training is False
    g.backward(G.sum(bn * r), feed={**feed, r: R})
    inv = 1 / np.sqrt(f64(var) + 1e-3)
    xhat = (f64(x) - f64(mean)) * inv
    assert_close(g.forward(bn), f64(gamma) * xhat + f64(beta), dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(px).T, f64(R) * f64(gamma) * inv, dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pg), (f64(R) * xhat).sum(axis=0), dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pb), f64(R).sum(axis=0), dtype, rtol_scale=10, atol_scale=10)
    got_mean, got_var = g.running_stats(bn)                          # evaluation never updates them
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_var, var)
    # One sample is fine in evaluation mode.
    xi = g.input((None, 3))
    one = g.forward(G.batch_norm(xi, pg, pb, eps=1e-3), feed={xi: x[:1]})
    assert_close(one, f64(gamma) * (f64(x[:1]) - 0.0) / np.sqrt(1 + 1e-3) + f64(beta), dtype, 10, 10)


def test_batch_norm_of_a_fixed_size_operand(rng):
    # x has a static first extent (6 rows, no batch axis): training batch norm uses those 6 rows.
    x = rng.standard_normal((6, 3))
    g = G.Graph()
    bn = G.batch_norm(g.param(x), g.param(np.ones(3)), g.param(np.zeros(3)))
    y = batch_norm_train(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 0.1, 1e-5)[0]
    np.testing.assert_allclose(g.forward(bn), y, rtol=1e-12, atol=1e-12)


def test_init_params_resets_running_statistics(rng):
    g = G.Graph()
    xi = g.input((None, 2))
    bn = G.batch_norm(xi, g.param(np.ones(2), init="ones"), g.param(np.zeros(2), init="zeros"))
    g.forward(bn, feed={xi: rng.standard_normal((5, 2)) + 4})
    assert np.all(g.running_stats(bn)[0] != 0)
    g.init_params(0)
    np.testing.assert_array_equal(g.running_stats(bn)[0], 0.0)
    np.testing.assert_array_equal(g.running_stats(bn)[1], 1.0)


# ---- dropout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.25, 0.6])
def test_dropout_mask_is_the_documented_splitmix_stream(p, dtype, rng):
    x = rng.standard_normal((7, 5)).astype(dtype)
    R = upstream(rng, x.shape, dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    node = G.dropout(px, p, seed=123)
    mask = dropout_mask(123, 0, x.size, p).reshape(x.shape).astype(dtype)   # step 0: no trainer step yet
    assert_close(g.forward(node), f64(x) * f64(mask), dtype)
    _, (gx,) = vjp(g, node, [px], R)
    assert_close(gx, f64(R) * f64(mask), dtype)
    np.testing.assert_array_equal(g.forward(node), g.forward(node))         # plain runs do not advance
    if p > 0:
        assert 0 < np.count_nonzero(mask == 0) < mask.size
    g.training = False                                                      # evaluation: identity
    np.testing.assert_array_equal(g.forward(node), x)
    _, (gx,) = vjp(g, node, [px], R)
    np.testing.assert_array_equal(gx, R)


# ---- parameter plumbing -----------------------------------------------------------------------

def test_flat_gradient_buffer_frozen_and_unreached_params(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    frozen, unused = rng.standard_normal(3), rng.standard_normal((2, 2))
    g = G.Graph()
    pa, pf, pb, pu = g.param(a), g.param(frozen, trainable=False), g.param(b), g.param(unused)
    assert g.params == [pa, pf, pb, pu] and all(p is q for p, q in zip(g.parameters(), [a, frozen, b, unused]))
    g.backward(G.sum(G.square(pa * pf + pb)))
    h = a * frozen + b
    want = [2 * h * frozen, np.zeros(3), (2 * h).sum(axis=0), np.zeros((2, 2))]
    flat = np.concatenate([w.ravel() for w in want])
    assert_close(g.grad_buffer, flat, np.float64)
    for view, node, w in zip(g.grads(), g.params, want):
        assert_close(view, w, np.float64)
        assert_close(g.grad(node), w, np.float64)
    assert g.grad_buffer.size == a.size + frozen.size + b.size + unused.size


def test_mlp_initialization_follows_the_documented_seeds():
    # Param k of MLP(seed=s) is filled from SplitMix64(s).output(k); He normal std sqrt(2 / fan_in).
    model = descent.MLP([5, 7, 3], activation="relu", dtype=np.float64, seed=42)
    W0, b0, W1, b1 = model.parameters()
    assert_close(W0.ravel(), np.sqrt(2 / 5) * ref_normal(sm_output(42, 0), 35), np.float64, 10, 10)
    assert_close(W1.ravel(), np.sqrt(2 / 7) * ref_normal(sm_output(42, 2), 21), np.float64, 10, 10)
    np.testing.assert_array_equal(b0, 0.0)
    np.testing.assert_array_equal(b1, 0.0)
    before = [p.copy() for p in model.parameters()]
    W0 += 1.0
    model.graph.init_params(42)
    for p, q in zip(model.parameters(), before):
        np.testing.assert_array_equal(p, q)
