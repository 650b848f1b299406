"""Small builders shared by the graph tests (they call descent; the NumPy references live in
graph_reference.py)."""

from descent import graph as G


def weighted_sum(g, node, R):
    """The scalar sum(node * R) for a fixed array R of node's (static) shape: its gradient with
    respect to node is R, so every output element gets a distinct upstream gradient."""
    return G.sum(node * g.constant(R))


def vjp(g, node, params, R, feed=None):
    """(loss, [d loss / d p for p in params]) of loss = sum(node * R)."""
    value = g.backward(weighted_sum(g, node, R), feed=feed)
    return value, [g.grad(p) for p in params]


def upstream(rng, shape, dtype):
    """A random upstream gradient exactly representable in `dtype` (so the reference, computed in
    float64 from it, sees the same numbers as the graph)."""
    return rng.standard_normal(shape).astype(dtype)
