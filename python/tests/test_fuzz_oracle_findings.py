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
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.3, nonfinite=policy)
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
    assert (_hyper(opt, LR), _hyper(opt, MOMENTUM)) == (0.5, 0.3)   # were schedule(0), momentum(0)
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
