"""Feeding and running a graph from Python: zero-copy inputs, copies of other arrays, batch sizes
that change between runs, and inputs a trainer bound in the library."""
import threading

import numpy as np
import pytest

import descent
from descent import graph as G


def test_a_zero_copy_input_is_read_in_place():
    g = G.Graph()
    x = g.input((None, 2))
    total = G.sum(x)
    a = np.ones((3, 2))
    assert g.forward(total, feed={x: a}) == 6.0
    a[...] = 5.0                                    # same array object, changed in place
    assert g.forward(total, feed={x: a}) == 30.0
    assert g.forward(total) == 30.0                 # still bound without feeding again


def test_a_copied_input_fed_again_after_a_change_is_copied_again():
    # A float32 array fed to a float64 graph is copied; feeding the same (since modified)
    # object again must not keep using the stale copy.
    g = G.Graph()
    x = g.input((None, 2))
    total = G.sum(x)
    a = np.ones((3, 2), dtype=np.float32)
    assert g.forward(total, feed={x: a}) == 6.0
    a[...] = 5.0
    assert g.forward(total, feed={x: a}) == 30.0
    b = np.ones((3, 4))[:, ::2]                     # not contiguous: copied as well
    assert g.forward(total, feed={x: b}) == 6.0
    b[...] = 2.0
    assert g.forward(total, feed={x: b}) == 12.0


def test_forward_follows_the_batch_size_of_each_feed(rng):
    g = G.Graph()
    x = g.input((None, 3))
    w = g.param(rng.standard_normal((3, 2)))
    out = x @ w
    for rows in (4, 9, 1, 9, 0, 2):
        data = rng.standard_normal((rows, 3))
        got = g.forward(out, feed={x: data})
        assert got.shape == (rows, 2)
        np.testing.assert_allclose(got, data @ w.array, rtol=1e-12, atol=1e-12)


def test_forward_returns_copies(rng):
    g = G.Graph()
    p = g.param(rng.standard_normal(3))
    got = g.forward(p)
    got[...] = 0
    assert np.all(p.array != 0)


def test_feeding_the_same_array_after_fit_rebinds_it(rng):
    # fit binds the loader's batches to the input node inside the library; feeding the array that
    # was fed before fit must bind it again (not keep the last training batch).
    x = rng.standard_normal((10, 3))
    y = rng.integers(0, 2, 10)
    model = descent.MLP([3, 4, 2], dtype=np.float64)
    before = model.graph.forward(model.logits, feed={model.input: x})
    optimizer = descent.optim.SGD(model.parameters(), lr=0.0)        # lr 0: params stay
    descent.fit(model, optimizer, x[:4], y[:4], epochs=1, batch_size=4, progress=False)
    after = model.graph.forward(model.logits, feed={model.input: x})
    assert after.shape == (10, 2)
    np.testing.assert_array_equal(after, before)


def test_labels_must_be_one_dimensional_integers():
    g = G.Graph()
    labels = g.labels()
    loss = G.softmax_cross_entropy(g.param(np.zeros((4, 3))), labels)
    with pytest.raises(descent.DTypeError):
        g.feed({labels: np.array([0.0, 1.0, 2.0, 1.0])})
    with pytest.raises(descent.ShapeError):
        g.feed({labels: np.array([[0, 1], [2, 1]])})
    np.testing.assert_allclose(g.forward(loss, feed={labels: np.array([0, 1, 2, 1], dtype=np.int32)}),
                               np.log(3), rtol=1e-12, atol=1e-12)


def test_forward_runs_once_when_inputs_were_bound_behind_feeds_back(rng):
    # Bound through the C ABI (as a trainer does): forward cannot size its buffer beforehand, yet
    # the training-mode run (batch norm statistics, momentum 0.5) must still happen exactly once.
    g = G.Graph()
    x = g.input((None, 2))
    bn = G.batch_norm(x, g.param(np.ones(2)), g.param(np.zeros(2)), momentum=0.5)
    g.forward(bn, feed={x: rng.standard_normal((2, 2))})
    g.set_running_stats(bn, np.zeros(2), np.ones(2))
    data = rng.standard_normal((9, 2)) + 5
    with descent.tensor(data) as bound:
        descent._lib.descent_graph_set_input(g.handle, x.index, bound.handle)
        got = g.forward(bn)
    assert got.shape == (9, 2)
    np.testing.assert_allclose(got, (data - data.mean(0)) / np.sqrt(data.var(0) + 1e-5), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.running_stats(bn)[0], 0.5 * data.mean(axis=0), rtol=1e-12, atol=1e-12)


def test_python_threads_running_one_graph_get_their_own_results():
    # ctypes releases the GIL: two threads evaluate different nodes of one graph at once.
    g = G.Graph()
    small, large = g.param(np.arange(3.0)), g.param(np.linspace(-1, 1, 2000))
    nodes = {3: G.exp(small), 2000: G.tanh(large)}
    wants = {3: np.exp(small.array), 2000: np.tanh(large.array)}
    failures = []

    def work(size):
        try:
            for _ in range(400):
                got = g.forward(nodes[size])
                if got.shape != (size,) or not np.allclose(got, wants[size], rtol=1e-12, atol=1e-12):
                    failures.append((size, got.shape))
                    return
        except Exception as error:  # pragma: no cover - reported below
            failures.append(repr(error))
    threads = [threading.Thread(target=work, args=(size,)) for size in (3, 2000, 3, 2000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
