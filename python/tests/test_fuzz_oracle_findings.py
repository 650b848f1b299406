"""Defects the fuzzers' new oracles found (a rejected call must leave every object it touched
unchanged; every target must succeed sometimes, so the graph and training functions are fuzzed
on live objects): each test failed before its fix."""
import ctypes

import numpy as np
import pytest

import descent
from descent import optim
from descent import schedules as S
from descent._ffi import lib


def _hyper(opt, key, group=0):
    value = ctypes.c_double()
    lib.descent_optimizer_get_hyper(opt.handle, group, key, ctypes.byref(value))
    return value.value


LR, MOMENTUM, BETA1 = 1, 2, 4


# ---- descent_graph_forward of a labels input trapped (SIGILL killed the process) ---------------
def test_forward_of_a_labels_node_is_an_error_not_a_crash():
    g = descent.Graph(np.float32)
    g.input((None, 3))
    labels = g.labels()
    with pytest.raises(descent.InvalidArgumentError, match="node 1 is a labels input; it has no float value"):
        g.forward(labels, feed={labels: np.array([0, 1])})
    assert len(g) == 2


# ---- a trainer step that fails or is skipped left the scheduled lr / momentum set -------------
@pytest.mark.parametrize("policy", ["raise", "skip"])
def test_a_failed_or_skipped_trainer_step_leaves_the_scheduled_settings_as_they_were(policy):
    model = descent.MLP([3, 4, 2], seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.3, nonfinite=policy)
    schedule = S.one_cycle(0.1, 20)
    trainer = descent.Trainer(model, opt, schedule=schedule)
    bad = np.full((4, 3), np.nan)
    feed = {model.input: bad, model.target: np.array([0, 1, 0, 1])}
    params = [p.copy() for p in model.parameters()]
    if policy == "raise":
        with pytest.raises(descent.NonFiniteError):
            trainer.step(feed)
    else:
        trainer.step(feed)
    assert (_hyper(opt, LR), _hyper(opt, MOMENTUM)) == (0.1, 0.3)   # were schedule(0), momentum(0)
    assert opt.step_count == 0
    for p, before in zip(model.parameters(), params):
        np.testing.assert_array_equal(p, before)
    good = {model.input: np.ones((4, 3)), model.target: np.array([0, 1, 0, 1])}
    trainer.step(good)                                   # a real step applies them
    assert (_hyper(opt, LR), _hyper(opt, MOMENTUM)) == (schedule(0), schedule.momentum(0))
    trainer.close()


# ---- descent_trainer_range_test: the loader's epoch, and a range that overflows ---------------
def _indices(loader, batches):
    out, count = (ctypes.c_int64 * 16)(), ctypes.c_int64()
    rows = []
    for batch in range(batches):
        lib.descent_loader_batch_indices(loader.handle, batch, out, 16, ctypes.byref(count))
        rows.append(list(out[:count.value]))
    return rows


def _range_test(trainer, loader, start, end, steps=6):
    points, suggested = ctypes.c_int64(), ctypes.c_double()
    lib.descent_trainer_range_test(trainer.handle, loader.handle, start, end, steps, 0.9, 4.0, None, None, None,
                                   ctypes.byref(points), ctypes.byref(suggested))
    return points.value


@pytest.mark.parametrize("start, end, fails", [(1e-4, 1.0, False), (5e-324, 1.0, True), (1e-4, 1e308, True)])
def test_range_test_leaves_the_loader_order_and_rejects_an_overflowing_range_up_front(start, end, fails):
    rng = np.random.default_rng(1)
    model = descent.MLP([3, 4, 2], seed=0)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    trainer = descent.Trainer(model, opt)
    loader = descent.DataLoader(rng.standard_normal((6, 3)), np.array([0, 1, 0, 1, 1, 0]), batch_size=2,
                                shuffle=True, seed=3, dtype=np.float32)
    lib.descent_loader_set_epoch(loader.handle, 5)
    order = _indices(loader, 3)
    params = [p.copy() for p in model.parameters()]
    if fails:
        with pytest.raises(descent.InvalidArgumentError, match="too wide: end/start overflows to infinity"):
            _range_test(trainer, loader, start, end)
    else:
        assert _range_test(trainer, loader, start, end) == 6
    assert _indices(loader, 3) == order       # the test ran through epochs 5 and 6; the order is back
    for p, before in zip(model.parameters(), params):
        np.testing.assert_array_equal(p, before)
    assert opt.step_count == 0 and _hyper(opt, LR) == 1e-3
    trainer.close()
    loader.close()


# ---- descent_graph_value after a failed run: a stale value, or a trap for an input ------------
def test_value_after_a_failed_forward_is_an_error_not_a_stale_value_or_a_crash():
    g = descent.Graph()
    x, w = g.input((None, 2)), g.input((None, 2))
    y, z = x * 2.0, w * 3.0
    g.forward(y, feed={x: np.ones((3, 2))})
    with pytest.raises(descent.InvalidArgumentError, match="input node 1 is not bound"):
        g.forward(z)                         # w unbound: the run fails in its checks
    out, count = (ctypes.c_double * 16)(), ctypes.c_int64()
    for node in (z, w):                      # marked needed by the failed run, never computed
        with pytest.raises(descent.InvalidArgumentError, match="was not computed by the last run"):
            lib.descent_graph_value(g.handle, node.index, 2, out, 16, ctypes.byref(count))
    lib.descent_graph_value(g.handle, y.index, 2, out, 16, ctypes.byref(count))
    assert list(out[:count.value]) == [2.0] * 6   # the last run's own values still answer


# ---- graph builds that failed part-way left nodes behind ---------------------------------------
def _graph():
    g = descent.Graph()
    return g, g.input((None, 3)), g.param(np.ones((3, 2)))


@pytest.mark.parametrize("build, error", [
    (lambda g, x, w: x + np.zeros(0), descent.ShapeError),                 # a constant, then add refuses it
    (lambda g, x, w: np.ones((4, 3)) * x, descent.ShapeError),
    (lambda g, x, w: x @ np.ones(3), descent.ShapeError),                   # matmul needs rank 2
    (lambda g, x, w: np.ones((2, 2)) @ w, descent.ShapeError),
    (lambda g, x, w: descent.graph.mse(x, np.ones((2, 2))), descent.ShapeError),
    (lambda g, x, w: descent.graph.dense(x, np.ones((2, 3)), np.ones(5)), descent.ShapeError),
    (lambda g, x, w: descent.graph.batch_norm(x, np.ones(3), np.ones(4)), descent.ShapeError),
    (lambda g, x, w: g.param(np.ones(2), init="bogus"), descent.InvalidArgumentError),
])
def test_a_failed_build_adds_no_node(build, error):
    g, x, w = _graph()
    g.forward(x @ w, feed={x: np.ones((2, 3))})
    before = len(g)
    with pytest.raises(error):
        build(g, x, w)
    assert len(g) == before and len(g.parameters()) == 1
    np.testing.assert_array_equal(g.forward(g.params[0]), np.ones((3, 2)))


@pytest.mark.parametrize("call", [
    lambda g, x, w: g.running_stats(float("-inf")),
    lambda g, x, w: g.set_running_stats(np.zeros(3), np.zeros(3), np.ones(3)),
    lambda g, x, w: g.grad(np.ones(3)),
    lambda g, x, w: g.shape(5),
    lambda g, x, w: g.set_init(2.0, "zeros"),
    lambda g, x, w: g.backward(np.zeros(())),
    lambda g, x, w: g.forward(1.5),
    lambda g, x, w: g.feed({3: np.ones(3)}),
])
def test_arguments_naming_a_node_must_be_nodes_no_constant_is_made(call):
    g, x, w = _graph()
    before = len(g)
    with pytest.raises(TypeError, match="must be a node of this graph"):
        call(g, x, w)
    assert len(g) == before


def test_a_feed_with_a_bad_entry_binds_nothing():
    g = descent.Graph()
    x, y, labels = g.input((None, 3)), g.input((None, 2)), g.labels()
    first = np.ones((2, 3))
    g.feed({x: first})
    with pytest.raises(descent.ShapeError, match=r"input node 1 expects shape \('batch', 2\), got \(2, 5\)"):
        g.feed({x: np.zeros((2, 3)), labels: np.array([0, 1]), y: np.zeros((2, 5))})
    np.testing.assert_array_equal(g.forward(x), first)   # x still reads the first array
    with pytest.raises(descent.InvalidArgumentError, match="labels node 2 is not bound"):
        g.forward(labels * 1.0 if False else descent.graph.softmax_cross_entropy(x, labels))


def test_forward_with_a_bad_node_does_not_feed():
    g = descent.Graph()
    x = g.input((None, 3))
    first = np.ones((2, 3))
    g.feed({x: first})
    with pytest.raises(TypeError):
        g.forward("loss", feed={x: np.zeros((2, 3))})
    np.testing.assert_array_equal(g.forward(x), first)


# ---- a closed trainer still told the graph its inputs were rebound ------------------------------
def test_a_closed_trainer_leaves_the_graph_bindings_alone():
    model = descent.MLP([3, 2], seed=0)
    x = np.ones((4, 3), np.float32)
    model.graph.feed({model.input: x})
    trainer = descent.Trainer(model)
    trainer.close()
    loader = descent.DataLoader(np.zeros((4, 3)), np.array([0, 1, 0, 1]), batch_size=2, dtype=np.float32)
    before = dict(model.graph._fed), dict(model.graph._batches)
    for call in (lambda: trainer.step_batch(loader, 0), lambda: trainer.evaluate(loader)):
        with pytest.raises(descent.ClosedError):
            call()
    assert (dict(model.graph._fed), dict(model.graph._batches)) == before


# ---- state_dict pushed edited settings (allocating state) before failing on edited params --------
def test_state_dict_checks_the_params_before_pushing_settings():
    opt = optim.Adam([np.zeros(3)])
    opt.param_groups[0]["amsgrad"] = True            # needs a new state slot once pushed
    opt.param_groups[0]["params"] = [np.zeros(3)]   # not the registered array: state_dict refuses
    for call in (opt.state_dict, lambda: opt.save("unused.ckpt")):
        with pytest.raises(descent.InvalidArgumentError, match="was changed after the group was added"):
            call()
    present = ctypes.c_int32()
    lib.descent_optimizer_state_present(opt.handle, 0, 2, ctypes.byref(present))
    assert present.value == 0                        # max_exp_avg_sq was not allocated


# ---- descent_graph_truncate itself -------------------------------------------------------------
def test_truncate_removes_trailing_nodes_but_never_params():
    g = descent.Graph()
    x = g.input((None, 2))
    w = g.param(np.ones(2))
    y = x * w
    z = y.sum()
    assert len(g) == 4
    with pytest.raises(descent.InvalidArgumentError, match="cannot remove node 1: it is a param"):
        lib.descent_graph_truncate(g.handle, 1)
    for bad in (-1, 5):
        with pytest.raises(descent.InvalidArgumentError):
            lib.descent_graph_truncate(g.handle, bad)
    assert len(g) == 4
    lib.descent_graph_truncate(g.handle, 3)
    assert len(g) == 3
    np.testing.assert_array_equal(g.forward(y, feed={x: np.full((2, 2), 3.0)}), np.full((2, 2), 3.0))
    with pytest.raises(descent.InvalidArgumentError):
        lib.descent_graph_forward(g.handle, z.index, 2, None, 0, None)


def test_an_array_on_the_left_of_a_node_operator_makes_one_node():
    # NumPy used to apply the operator per element: an object array of 3 nodes (12 for a (4, 3)
    # array), silently. Now the node's reflected operator runs: one constant, one operation.
    g = descent.Graph()
    x = g.input((None, 3))
    for make in (lambda: np.array([1.0, 2.0, 3.0]) * x, lambda: np.array([1.0, 2.0, 3.0]) + x,
                 lambda: np.ones((3, 2)).T @ descent.Graph().param(np.ones((3, 4)))):
        assert isinstance(make(), descent.graph.Node)
    y = np.array([1.0, 2.0, 3.0]) * x
    np.testing.assert_array_equal(g.forward(y, feed={x: np.ones((2, 3))}), [[1.0, 2.0, 3.0]] * 2)


# ---- a refused LRScheduler recorded initial_lr in the optimizer's groups (found by the API fuzz's
# unchanged-on-failure oracle once per-group schedules met it) -----------------------------------
def test_a_refused_lr_scheduler_leaves_the_param_groups_unchanged():
    opt = optim.SGD([np.zeros(3)], lr=0.1, momentum=0.9)
    before = [dict(group) for group in opt.param_groups]
    with pytest.raises(descent.InvalidArgumentError, match="the schedule starts from lr 1.0"):
        S.LRScheduler(opt, S.one_cycle(1.0, 100))
    assert [dict(group) for group in opt.param_groups] == before and "initial_lr" not in opt.param_groups[0]
    S.LRScheduler(opt, S.one_cycle(0.1, 100))          # an accepted one records it, as PyTorch does
    assert opt.param_groups[0]["initial_lr"] == 0.1



# ---- an array put into a param group was compared element by element on every step -----------
class _Watched(np.ndarray):
    """An array that counts the == / != comparisons made with it."""
    compared = 0

    def __eq__(self, other):
        _Watched.compared += 1
        return super().__eq__(other)

    def __ne__(self, other):
        _Watched.compared += 1
        return super().__ne__(other)


@pytest.mark.parametrize("owned", [True, False], ids=["step()", "step(grads)"])
def test_an_array_in_a_param_group_is_refused_without_comparing_it(owned):
    # Found by the API fuzz: with a 2^31-element view there, a step took 7-15 s comparing it.
    opt = optim.SGD([np.zeros(3), np.ones((2, 2))], lr=0.01)
    grads = [np.ones(3), np.ones((2, 2))]
    if owned:
        opt.grads[0][...], opt.grads[1][...] = 1.0, 1.0
    opt.step() if owned else opt.step(grads)              # bound, settings pushed: the hot path next
    _Watched.compared = 0
    opt.param_groups[0]["decoupled_weight_decay"] = np.zeros(4).view(_Watched)
    with pytest.raises(TypeError):
        opt.step() if owned else opt.step(grads)
    assert _Watched.compared == 0 and opt.step_count == 1
