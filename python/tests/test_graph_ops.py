"""Graph operations against NumPy: the textbook graph, elementwise arithmetic with broadcasting,
matmul with transposes, reductions, unary functions and activations, forward values and
reverse-mode gradients (loss = sum(node * R) with a fixed random R)."""
import operator

import numpy as np
import pytest

from descent import graph as G
from graph_helpers import upstream, vjp, weighted_sum
from graph_reference import activation, activation_vjp, f64, softmax
from reference import assert_close


# ---- the textbook graph -----------------------------------------------------------------------

def test_textbook_graph_j_equals_3_a_plus_bc():
    # u = bc = 6, v = a + u = 11, J = 3v = 33; dJ/da = 3, dJ/db = 3c = 6, dJ/dc = 3b = 9.
    g = G.Graph()
    a, b, c = g.param(np.array(5.0)), g.param(np.array(3.0)), g.param(np.array(2.0))
    u = b * c
    v = a + u
    J = 3 * v
    assert g.forward(u) == 6.0 and g.forward(v) == 11.0
    assert g.backward(J) == 33.0
    grads = [g.grad(p) for p in (a, b, c)]
    np.testing.assert_allclose(grads, [3.0, 6.0, 9.0], rtol=0, atol=0)
    np.testing.assert_allclose(g.grad_buffer, [3.0, 6.0, 9.0], rtol=0, atol=0)
    assert J.shape == () and len(g) == 7  # a, b, c, u, v, the constant 3, J


def test_textbook_graph_float32_and_params_read_in_place():
    g = G.Graph(np.float32)
    arrays = [np.array(v, dtype=np.float32) for v in (5.0, 3.0, 2.0)]
    a, b, c = (g.param(x) for x in arrays)
    J = 3 * (a + b * c)
    assert g.backward(J) == 33.0
    arrays[0][...] = 1.0                                  # the graph reads the array in place
    assert g.backward(J) == 21.0
    np.testing.assert_allclose([g.grad(p) for p in (a, b, c)], [3.0, 6.0, 9.0], rtol=0, atol=0)


# ---- elementwise arithmetic and broadcasting --------------------------------------------------

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def binary_reference(op, x, y, R):
    """(out, dx, dy) in float64, the operand gradients summed over the broadcast repeats."""
    x, y, R = f64(x), f64(y), f64(R)
    out = OPS[op](x, y)
    dx, dy = {"add": (R, R), "sub": (R, -R), "mul": (R * y, R * x), "div": (R / y, -R * x / (y * y))}[op]

    def reduce_to(grad, shape):
        grad = np.broadcast_to(grad, out.shape)
        return grad.reshape((-1,) + tuple(shape)).sum(axis=0) if len(shape) < out.ndim else grad
    return out, reduce_to(dx, x.shape), reduce_to(dy, y.shape)


LAYOUTS = {
    "same": ((4, 3), (4, 3)),
    "bias_right": ((4, 3), (3,)),       # a bias row (n,) over (batch, n)
    "bias_left": ((3,), (4, 3)),
    "scalar_right": ((4, 3), ()),
    "scalar_left": ((), (4, 3)),
    "suffix_3d": ((2, 4, 3), (4, 3)),   # any trailing suffix broadcasts
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("op", list(OPS))
def test_binary_forward_and_gradients(op, layout, dtype, rng):
    shape_x, shape_y = LAYOUTS[layout]
    x = rng.standard_normal(shape_x).astype(dtype)
    y = rng.standard_normal(shape_y).astype(dtype)
    if op == "div":
        y = (np.sign(y) * (1.0 + np.abs(y))).astype(dtype)   # |y| >= 1
    g = G.Graph(dtype)
    px, py = g.param(np.array(x, dtype=dtype)), g.param(np.array(y, dtype=dtype))
    node = OPS[op](px, py)
    out_shape = np.broadcast_shapes(shape_x, shape_y)
    assert node.shape == out_shape
    R = upstream(rng, out_shape, dtype)
    want, dx, dy = binary_reference(op, x, y, R)
    assert_close(g.forward(node), want, dtype)
    loss, (gx, gy) = vjp(g, node, [px, py], R)
    assert_close(loss, np.sum(want * f64(R)), dtype, rtol_scale=10, atol_scale=10)
    assert gx.shape == x.shape and gy.shape == y.shape and gx.dtype == dtype
    assert_close(gx, dx, dtype, rtol_scale=4, atol_scale=4)
    assert_close(gy, dy, dtype, rtol_scale=4, atol_scale=4)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("bias_first", [False, True])
def test_bias_row_over_a_symbolic_batch(op, bias_first, dtype, rng):
    # x (batch, n) is an input fed per run; b (n,) a param whose gradient sums over the batch.
    batch, n = 5, 3
    x = (1.0 + rng.uniform(0, 1, (batch, n))).astype(dtype)
    b = (1.0 + rng.uniform(0, 1, n)).astype(dtype)
    R = upstream(rng, (batch, n), dtype)
    g = G.Graph(dtype)
    xi, r, pb = g.input((None, n)), g.input((None, n)), g.param(b)
    node = OPS[op](pb, xi) if bias_first else OPS[op](xi, pb)
    assert node.shape == (None, n)
    loss = G.sum(node * r)
    value = g.backward(loss, feed={xi: x, r: R})
    if bias_first:
        want, db, _ = binary_reference(op, b, x, R)
    else:
        want, _, db = binary_reference(op, x, b, R)
    assert_close(g.forward(node), want, dtype)
    assert_close(value, np.sum(want * f64(R)), dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pb), db, dtype, rtol_scale=4, atol_scale=4)


def test_python_numbers_on_either_side(dtype, rng):
    x = (1.0 + rng.uniform(0, 1, (2, 3))).astype(dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    X = f64(x)
    cases = [(2.5 * px, 2.5 * X, 2.5), (px * 2.5, 2.5 * X, 2.5), (1 - px, 1 - X, -1.0), (px - 1, X - 1, 1.0),
             (3 / px, 3 / X, -3 / X ** 2), (px / 4, X / 4, 0.25), (2 + px, 2 + X, 1.0), (-px, -X, -1.0),
             (+px, X, 1.0)]
    for node, want, derivative in cases:
        R = upstream(rng, x.shape, dtype)
        assert_close(g.forward(node), want, dtype)
        _, (gx,) = vjp(g, node, [px], R)
        assert_close(gx, f64(R) * derivative, dtype)


@pytest.mark.parametrize("op,derivative", [
    ("mul", lambda x: 2 * x), ("add", lambda x: np.full_like(x, 2.0)),
    ("sub", lambda x: np.zeros_like(x)), ("div", lambda x: np.zeros_like(x)),
])
def test_same_node_as_both_operands(op, derivative, dtype, rng):
    # x*x: both contributions (R x and x R) must reach x's gradient.
    x = (np.sign(rng.standard_normal((3, 4))) * (0.5 + rng.uniform(0, 1, (3, 4)))).astype(dtype)
    R = upstream(rng, x.shape, dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    node = OPS[op](px, px)
    assert_close(g.forward(node), OPS[op](f64(x), f64(x)), dtype)
    _, (gx,) = vjp(g, node, [px], R)
    assert_close(gx, f64(R) * derivative(f64(x)), dtype)


def test_a_node_read_by_several_nodes_accumulates(dtype, rng):
    # J = sum(R1 * x²) + sum(R2 * exp(x)) + sum(x): dJ/dx = 2 x R1 + R2 e^x + 1.
    x = rng.standard_normal((3, 2)).astype(dtype)
    R1, R2 = upstream(rng, x.shape, dtype), upstream(rng, x.shape, dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    J = weighted_sum(g, G.square(px), R1) + weighted_sum(g, G.exp(px), R2) + G.sum(px)
    g.backward(J)
    X = f64(x)
    assert_close(g.grad(px), 2 * X * f64(R1) + f64(R2) * np.exp(X) + 1, dtype, rtol_scale=4, atol_scale=4)


# ---- matmul -----------------------------------------------------------------------------------

@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_all_transpose_combinations(trans_a, trans_b, dtype, rng):
    m, k, n = 4, 5, 3
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    R = upstream(rng, (m, n), dtype)
    g = G.Graph(dtype)
    pa, pb = g.param(a), g.param(b)
    node = G.matmul(pa, pb, trans_a=trans_a, trans_b=trans_b)
    assert node.shape == (m, n)
    A = f64(a).T if trans_a else f64(a)
    B = f64(b).T if trans_b else f64(b)
    assert_close(g.forward(node), A @ B, dtype, rtol_scale=10, atol_scale=10)
    _, (ga, gb) = vjp(g, node, [pa, pb], R)
    dA, dB = f64(R) @ B.T, A.T @ f64(R)           # gradients of op(a) and op(b)
    assert_close(ga, dA.T if trans_a else dA, dtype, rtol_scale=10, atol_scale=10)
    assert_close(gb, dB.T if trans_b else dB, dtype, rtol_scale=10, atol_scale=10)


def test_matmul_operator_and_same_operand_twice(dtype, rng):
    a = rng.standard_normal((3, 3)).astype(dtype)
    R = upstream(rng, (3, 3), dtype)
    A, Rf = f64(a), f64(R)
    g = G.Graph(dtype)
    pa = g.param(a)
    assert_close(g.forward(pa @ pa), A @ A, dtype, rtol_scale=10, atol_scale=10)
    _, (ga,) = vjp(g, pa @ pa, [pa], R)
    assert_close(ga, Rf @ A.T + A.T @ Rf, dtype, rtol_scale=10, atol_scale=10)
    _, (ga,) = vjp(g, G.matmul(pa, pa, trans_a=True), [pa], R)        # AᵀA
    assert_close(ga, A @ (Rf + Rf.T), dtype, rtol_scale=10, atol_scale=10)


def test_matmul_with_an_input_on_the_batch_axis(dtype, rng):
    x = rng.standard_normal((6, 4)).astype(dtype)
    w = rng.standard_normal((4, 2)).astype(dtype)
    R = upstream(rng, (6, 2), dtype)
    g = G.Graph(dtype)
    xi, r, pw = g.input((None, 4)), g.input((None, 2)), g.param(w)
    node = xi @ pw
    assert node.shape == (None, 2)
    g.backward(G.sum(node * r), feed={xi: x, r: R})
    assert_close(g.forward(node), f64(x) @ f64(w), dtype, rtol_scale=10, atol_scale=10)
    assert_close(g.grad(pw), f64(x).T @ f64(R), dtype, rtol_scale=10, atol_scale=10)


# ---- reductions -------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1, -3])
def test_reductions_of_a_3d_input(op, axis, dtype, rng):
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    X = f64(x)
    g = G.Graph(dtype)
    px = g.param(x)
    node = getattr(G, op)(px, axis)
    assert getattr(px, op)(axis).shape == node.shape
    want = getattr(np, op)(X, axis=axis)
    assert node.shape == np.shape(want)
    assert_close(g.forward(node), want, dtype)
    count = x.size if axis is None else x.shape[axis]
    scale = 1.0 / count if op == "mean" else 1.0
    if axis is None:
        g.backward(node * 2.5)
        assert_close(g.grad(px), np.full(x.shape, 2.5 * scale), dtype)
    else:
        R = upstream(rng, want.shape, dtype)
        _, (gx,) = vjp(g, node, [px], R)
        assert_close(gx, np.broadcast_to(np.expand_dims(f64(R), axis), x.shape) * scale, dtype)


def test_reductions_accumulate_in_float64():
    # 1 + 2^-24 * 2^24 small terms: a float32 running sum would stay at 1.
    x = np.concatenate([[1.0], np.full(2 ** 12, 2.0 ** -24)]).astype(np.float32)
    g = G.Graph(np.float32)
    px = g.param(x)
    np.testing.assert_allclose(g.forward(G.sum(px)), np.float32(1 + 2.0 ** -12), rtol=1e-7, atol=0)


# ---- unary functions --------------------------------------------------------------------------

UNARY = {
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda x: 1 / x),
    "square": (np.square, lambda x: 2 * x),
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "neg": (np.negative, lambda x: -np.ones_like(x)),
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda x: -np.sin(x)),
    "abs": (np.abs, np.sign),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward_and_gradient(name, dtype, rng):
    x = rng.standard_normal((3, 4))
    if name in ("log", "sqrt"):
        x = 0.25 + np.abs(x)
    x = x.astype(dtype)
    f, derivative = UNARY[name]
    g = G.Graph(dtype)
    px = g.param(x)
    node = -px if name == "neg" else abs(px) if name == "abs" else getattr(px, name)()
    if name != "neg":                                   # the module function builds the same node
        np.testing.assert_array_equal(g.forward(getattr(G, name)(px)), g.forward(node))
    R = upstream(rng, x.shape, dtype)
    assert_close(g.forward(node), f(f64(x)), dtype)
    _, (gx,) = vjp(g, node, [px], R)
    assert_close(gx, f64(R) * derivative(f64(x)), dtype)


def test_abs_gradient_is_zero_at_zero(dtype):
    x = np.array([-2.0, 0.0, 3.0, -0.0], dtype=dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    g.backward(G.sum(G.abs(px) * 3.0))
    np.testing.assert_array_equal(g.grad(px), [-3.0, 0.0, 3.0, 0.0])


def test_unary_functions_compose(dtype, rng):
    # J = sum(sqrt(exp(x)²)) = sum(e^x): dJ/dx = e^x.
    x = rng.uniform(-1, 1, 5).astype(dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    J = G.sum(G.sqrt(G.square(G.exp(px))))
    assert_close(g.backward(J), np.sum(np.exp(f64(x))), dtype, rtol_scale=4)
    assert_close(g.grad(px), np.exp(f64(x)), dtype, rtol_scale=4)


# ---- activations ------------------------------------------------------------------------------

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]


@pytest.mark.parametrize("kind", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_activation_forward_and_vjp(kind, shape, dtype, rng):
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    x[np.abs(x) < 1e-3] = 0.5                      # keep ReLU's kink out of the way
    slope = 0.2
    g = G.Graph(dtype)
    px = g.param(x)
    node = G.activation(px, kind, negative_slope=slope)
    R = upstream(rng, shape, dtype)
    assert_close(g.forward(node), activation(x, kind, slope), dtype)
    _, (gx,) = vjp(g, node, [px], R)
    assert_close(gx, activation_vjp(x, R, kind, slope), dtype, rtol_scale=4, atol_scale=4)


def test_named_activation_functions_match_activation(rng):
    x = rng.standard_normal((3, 4))
    g = G.Graph()
    px = g.param(x)
    for fn, kind in [(G.sigmoid, "sigmoid"), (G.tanh, "tanh"), (G.relu, "relu"), (G.softmax, "softmax")]:
        assert_close(g.forward(fn(px)), activation(x, kind), np.float64)
    assert_close(g.forward(G.leaky_relu(px, 0.3)), activation(x, "leaky_relu", 0.3), np.float64)
    assert_close(g.forward(G.leaky_relu(px)), activation(x, "leaky_relu", 0.01), np.float64)


def test_softmax_is_stable_for_huge_logits(dtype):
    x = np.array([[1000.0, 999.0, -1000.0], [-5e3, -5e3, -5e3]], dtype=dtype)
    g = G.Graph(dtype)
    got = g.forward(G.softmax(g.param(x)))
    assert_close(got, softmax(f64(x)), dtype)
    assert np.all(np.isfinite(got))


def test_relu_gradient_is_zero_at_zero_and_leaky_slope_below(dtype):
    x = np.array([-2.0, 0.0, 3.0], dtype=dtype)
    g = G.Graph(dtype)
    px = g.param(x)
    g.backward(G.sum(G.relu(px)))
    np.testing.assert_array_equal(g.grad(px), [0.0, 0.0, 1.0])
    g.backward(G.sum(G.leaky_relu(px, 0.25)))
    np.testing.assert_array_equal(g.grad(px), [0.25, 0.25, 1.0])


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activations_let_nan_propagate(kind):
    # docs/gradients.md: "activations let NaN propagate" (NumPy: np.maximum(nan, 0) is nan).
    x = np.array([[np.nan, 1.0, -1.0]])
    g = G.Graph()
    out = g.forward(G.activation(g.param(x), kind))
    assert np.isnan(out[0, 0]), f"{kind}(NaN) = {out[0, 0]}"
