"""Bad input to graphs and trainers: each case raises one exact exception type and changes
nothing (node counts, params, running statistics, gradients, optimizer state)."""
import subprocess
import textwrap

import numpy as np
import pytest

import descent
from descent import graph as G
from test_optim_checkpoint import PACKAGE_PARENT, python_executable


def snapshot(model, optimizer=None):
    state = {k: v.copy() for k, v in model.state_dict().items()}
    if optimizer is not None:
        opt = optimizer.state_dict()
        state["step"] = optimizer.step_count
        for index, entry in opt["state"].items():
            for name, value in entry.items():
                state[f"opt{index}.{name}"] = np.copy(value)
    state["grads"] = model.graph.grad_buffer.copy()
    return state


def assert_unchanged(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


# ---- build time -------------------------------------------------------------------------------

@pytest.fixture
def g():
    graph = G.Graph()
    yield graph
    graph.close()


def build_fails(graph, exception, build):
    count = len(graph)
    with pytest.raises(exception) as info:
        build()
    assert type(info.value) is exception
    assert len(graph) == count


def test_wrong_shapes_at_build_time(g):
    a, b = g.param(np.ones((2, 3))), g.param(np.ones((2, 3)))
    x, w = g.input((None, 3)), g.param(np.ones((4, 3)))
    vector, w42, bias3 = g.param(np.ones(3)), g.param(np.ones((4, 2))), g.param(np.ones(3))
    target = g.input((3, 2))
    build_fails(g, descent.ShapeError, lambda: a @ b)                              # inner 3 vs 2
    build_fails(g, descent.ShapeError, lambda: G.matmul(a, b, trans_a=True, trans_b=True))
    build_fails(g, descent.ShapeError, lambda: G.matmul(vector, a))                # rank 1
    build_fails(g, descent.ShapeError, lambda: G.dense(x, w42))                    # in-features 3 vs 2
    build_fails(g, descent.ShapeError, lambda: G.dense(x, w, bias3))               # bias (3,) for 4 units
    build_fails(g, descent.ShapeError, lambda: G.dense(x, w, a))                   # bias (2, 3)
    for shape in ((2,), (3, 2), (1, 3), (3, 3, 2)):
        other = g.param(np.ones(shape))
        build_fails(g, descent.ShapeError, lambda: a + other)
        build_fails(g, descent.ShapeError, lambda: other * a)
    fixed = g.constant(np.ones((5, 3)))
    build_fails(g, descent.ShapeError, lambda: x * fixed)                          # batch axis vs 5 rows
    build_fails(g, descent.ShapeError, lambda: G.mse(a, target))                  # target shape
    build_fails(g, descent.ShapeError, lambda: G.batch_norm(x, w, bias3))         # gamma (4, 3)
    build_fails(g, descent.ShapeError, lambda: G.batch_norm(vector, bias3, bias3))  # x must be (batch, features)


def test_wrong_kinds_at_build_time(g):
    a, labels, t = g.param(np.ones((2, 3))), g.labels(), g.input((2, 3))
    doubled, vector = a * 2, g.param(np.ones(3))
    build_fails(g, descent.InvalidArgumentError, lambda: a + labels)               # labels are integers
    build_fails(g, descent.InvalidArgumentError, lambda: G.softmax_cross_entropy(a, t))   # needs labels
    build_fails(g, descent.InvalidArgumentError, lambda: G.mse(labels, t))
    build_fails(g, descent.InvalidArgumentError, lambda: G.mse(a, doubled))       # target depends on params
    build_fails(g, descent.InvalidArgumentError, lambda: G.dropout(a, 1.0))
    build_fails(g, descent.InvalidArgumentError, lambda: G.bce(a, t, eps=0.5))
    build_fails(g, descent.InvalidArgumentError, lambda: G.bce(a, t, reduction="max"))
    build_fails(g, descent.InvalidArgumentError, lambda: G.sum(a, axis=2))
    build_fails(g, descent.InvalidArgumentError, lambda: G.l2_penalty(a, -1.0))
    build_fails(g, descent.InvalidArgumentError, lambda: G.batch_norm(t, vector, vector, momentum=2.0))
    build_fails(g, descent.InvalidArgumentError, lambda: G.batch_norm(t, vector, vector, eps=0.0))


def test_param_arrays_must_be_c_contiguous_writeable_and_of_the_graph_dtype(g):
    good = g.param(np.ones(3))
    for bad in (np.ones((3, 4))[:, ::2], np.asfortranarray(np.ones((3, 4))), np.frombuffer(bytes(24))):
        build_fails(g, descent.InvalidArgumentError, lambda: g.param(bad))
    build_fails(g, descent.DTypeError, lambda: g.param(np.ones(3, dtype=np.float32)))
    assert g.params == [good]
    assert g.grad_buffer.size == 3


def test_nodes_of_another_graph(g):
    a = g.param(np.ones((2, 3)))
    other = G.Graph()
    b = other.param(np.ones((2, 3)))
    counts = (len(g), len(other))
    for build in (lambda: a + b, lambda: b * a, lambda: G.matmul(a, b, trans_b=True),
                  lambda: G.dense(a, b), lambda: G.mse(a, b), lambda: G.batch_norm(a, b, b)):
        with pytest.raises(descent.InvalidArgumentError) as info:
            build()
        assert type(info.value) is descent.InvalidArgumentError
    for run in (lambda: g.forward(b), lambda: g.backward(G.sum(b)), lambda: g.grad(b), lambda: g.feed({b: 1.0})):
        with pytest.raises(descent.InvalidArgumentError):
            run()
    assert (len(g), len(other) - 1) == counts  # only the G.sum(b) built on `other` was added
    other.close()


def test_nodes_of_a_closed_graph():
    g = G.Graph()
    p = g.param(np.ones(3))
    x = g.input((None, 3))
    total = G.sum(p * x)
    g.close()
    g.close()                                                                       # idempotent
    for use in (lambda: g.forward(total), lambda: g.backward(total), lambda: p * 2.0, lambda: G.sum(p),
                lambda: p.shape, lambda: g.grad(p), lambda: g.grad_buffer, lambda: g.feed({x: np.ones((2, 3))}),
                lambda: len(g), lambda: g.param(np.ones(2)), lambda: g.init_params(0), lambda: g.set_init(p, "zeros"),
                lambda: setattr(g, "training", False)):
        with pytest.raises(descent.ClosedError) as info:
            use()
        assert type(info.value) is descent.ClosedError and "this graph is closed" in str(info.value)
    np.testing.assert_array_equal(p.array, 1.0)


# ---- run time ---------------------------------------------------------------------------------

def classifier(rng, batch_norm=True):
    model = descent.MLP([3, 4, 3], batch_norm=batch_norm, dtype=np.float64, seed=1)
    x, y = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    model.graph.backward(model.loss, feed={model.input: x, model.target: y})    # a valid run first
    return model, x, y


@pytest.mark.parametrize("bad", [[0, 1, 2, 3, 0, 1], [0, -1, 2, 1, 0, 1]])
def test_labels_out_of_range_change_nothing(bad, rng):
    model, x, y = classifier(rng)
    before = snapshot(model)
    with pytest.raises(descent.InvalidArgumentError) as info:
        model.graph.backward(model.loss, feed={model.target: np.array(bad)})
    assert type(info.value) is descent.InvalidArgumentError
    assert_unchanged(before, snapshot(model))


def test_labels_out_of_range_in_a_trainer_step_or_fit_change_nothing(rng):
    model, x, y = classifier(rng)
    optimizer = descent.optim.Adam(model.parameters(), lr=0.1)
    descent.fit(model, optimizer, x, y, epochs=1, batch_size=3, progress=False)
    before = snapshot(model, optimizer)
    trainer = descent.Trainer(model, optimizer)
    with pytest.raises(descent.InvalidArgumentError):
        trainer.step({model.input: x, model.target: np.array([0, 1, 2, 3, 0, 1])})
    trainer.close()
    with pytest.raises(descent.InvalidArgumentError):
        descent.fit(model, optimizer, x, np.array([0, 1, 2, 0, 5, 1]), epochs=1, batch_size=6, progress=False)
    assert_unchanged(before, snapshot(model, optimizer))


def test_float_labels_are_rejected_and_the_old_ones_stay(rng):
    model, x, y = classifier(rng)
    loss = model.graph.forward(model.loss)
    with pytest.raises(descent.DTypeError) as info:
        model.graph.feed({model.target: y.astype(np.float64)})
    assert type(info.value) is descent.DTypeError
    assert model.graph.forward(model.loss) == loss


def test_unbound_inputs_change_nothing(rng):
    g = G.Graph()
    x, labels = g.input((None, 2)), g.labels()
    w = g.param(rng.standard_normal((2, 3)))
    bn = G.batch_norm(x @ w, g.param(np.ones(3)), g.param(np.zeros(3)))
    loss = G.softmax_cross_entropy(bn, labels)
    stats = g.running_stats(bn)
    with pytest.raises(descent.InvalidArgumentError):
        g.forward(bn)
    g.feed({x: rng.standard_normal((4, 2))})
    with pytest.raises(descent.InvalidArgumentError):
        g.backward(loss)                                    # labels unbound
    np.testing.assert_array_equal(g.running_stats(bn)[0], stats[0])
    np.testing.assert_array_equal(g.running_stats(bn)[1], stats[1])
    np.testing.assert_array_equal(g.grad_buffer, 0.0)


def test_feeding_a_node_that_is_not_an_input(rng):
    g = G.Graph()
    w = g.param(np.ones(3))
    c, s = g.constant(np.ones(3)), G.sum(w)
    for node in (w, c, s):
        with pytest.raises(descent.InvalidArgumentError) as info:
            g.feed({node: np.zeros(3)})
        assert type(info.value) is descent.InvalidArgumentError
    np.testing.assert_array_equal(w.array, 1.0)
    assert g.forward(s) == 3.0 and g.forward(c).tolist() == [1.0, 1.0, 1.0]


def test_feeding_a_wrong_shape_keeps_the_bound_input(rng):
    g = G.Graph()
    x = g.input((None, 2))
    total = G.sum(x)
    g.feed({x: np.ones((3, 2))})
    for bad in (np.ones((3, 3)), np.ones(2), np.ones((1, 3, 2))):
        with pytest.raises(descent.ShapeError):
            g.feed({x: bad})
    assert g.forward(total) == 6.0


def test_batch_sizes_that_disagree_and_non_scalar_losses(rng):
    g = G.Graph()
    x, t = g.input((None, 2)), g.input((None, 2))
    w = g.param(np.ones(2))
    loss = G.mse(x * w, t)
    with pytest.raises(descent.ShapeError):
        g.backward(loss, feed={x: np.ones((3, 2)), t: np.ones((4, 2))})
    with pytest.raises(descent.ShapeError):
        g.backward(x * w, feed={t: np.ones((3, 2))})
    with pytest.raises(descent.InvalidArgumentError):
        g.grad(x)
    np.testing.assert_array_equal(g.grad_buffer, 0.0)


def test_training_batch_norm_needs_two_samples(rng):
    model, x, y = classifier(rng)
    before = snapshot(model)
    with pytest.raises(descent.InvalidArgumentError):
        model.graph.backward(model.loss, feed={model.input: x[:1], model.target: y[:1]})
    assert_unchanged(before, snapshot(model))
    model.graph.training = False
    assert model.predict(x[:1]).shape == (1, 3)


def test_trainer_rejects_an_optimizer_over_foreign_or_frozen_params(rng):
    model, x, y = classifier(rng, batch_norm=False)
    with pytest.raises(descent.InvalidArgumentError):
        descent.Trainer(model, descent.optim.SGD([np.zeros((4, 3))], lr=0.1))
    g = G.Graph()
    xi, labels = g.input((None, 3)), g.labels()
    frozen = np.ones((3, 3))
    w = g.param(frozen, trainable=False)
    model2 = descent.Model(g, xi, G.softmax_cross_entropy(xi @ w, labels), target=labels)
    with pytest.raises(descent.InvalidArgumentError):
        descent.Trainer(model2, descent.optim.SGD([frozen], lr=0.1))


LABEL_COUNT_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {package!r})
    import numpy as np
    import descent
    from descent import graph as G
    g = G.Graph()
    labels = g.labels()
    loss = G.softmax_cross_entropy(g.param(np.zeros((4, 3))), labels)   # 4 rows, no batch axis
    g.feed({{labels: np.array([0, 1, 2, 10**9])}})
    try:
        g.forward(loss)
    except descent.InvalidArgumentError:
        pass
    for count in (3, 1):
        try:
            value = g.backward(loss, feed={{labels: np.arange(count)}})
            print("no error: loss", value)
        except descent.ShapeError:
            print("ShapeError")
        except descent.DescentError as error:
            print(type(error).__name__)
""")


def test_a_label_count_other_than_the_scores_rows_is_a_shape_error():
    # 3 labels for 4 rows of static scores: the cost must not read past the labels it was given.
    done = subprocess.run([python_executable(), "-c", LABEL_COUNT_SCRIPT.format(package=PACKAGE_PARENT)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"the process died (status {done.returncode}): {done.stderr[-500:]}"
    assert done.stdout.split() == ["ShapeError", "ShapeError"], done.stdout
