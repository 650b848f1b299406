"""Sharp edges from the Reliability issue: step() with no gradients, and objects used after close.

- ``opt.step()`` on an optimizer whose own ``grads`` were never filled used to run on zeros (the
  step count rose and weight decay shrank the params silently); it is an error that says how to
  pass gradients, and nothing changes.
- A closed optimizer was half closed (``param_groups``, ``grads``, ``zero_grad`` still worked,
  other calls said "not a live handle ... 0x0"), and a closed tensor's error named an internal C
  function. Every use after close raises ClosedError (an InvalidHandleError) saying plainly that
  the object is closed.
"""
import numpy as np
import pytest

import descent
from descent import optim, schedules


def test_step_without_gradients_is_an_error_that_says_how_to_pass_them():
    param = np.ones(3)
    opt = optim.SGD([param], lr=0.1, weight_decay=0.5)
    with pytest.raises(descent.InvalidArgumentError) as caught:
        opt.step()
    message = str(caught.value)
    assert "opt.step([" in message and "opt.grads" in message
    assert opt.step_count == 0
    assert np.array_equal(param, np.ones(3))            # no silent weight decay on zeros
    # After explicit gradients, step() still has nothing of its own to use.
    opt.step(np.full(3, 2.0))
    after = param.copy()
    with pytest.raises(descent.InvalidArgumentError):
        opt.step()
    assert opt.step_count == 1 and np.array_equal(param, after)
    opt.close()


def test_step_with_the_filled_optimizer_owned_grads_still_works():
    param = np.ones(3)
    opt = optim.SGD([param], lr=0.1, weight_decay=0.5)
    opt.grads[0][...] = [1.0, 2.0, 3.0]
    assert opt.step() is True
    # PyTorch's SGD with L2 decay: g += wd * W; W -= lr * g.
    expected = 1.0 - 0.1 * (np.array([1.0, 2.0, 3.0]) + 0.5 * 1.0)
    np.testing.assert_allclose(param, expected, rtol=1e-15, atol=0)
    opt.zero_grad()                                      # filled with zeros on purpose: allowed
    opt.step()
    assert opt.step_count == 2
    opt.close()


def closed_optimizer(tmp_path):
    param = np.ones(3)
    opt = optim.Adam([param], lr=0.1)
    opt.step(np.ones(3))
    path = str(tmp_path / "opt.ckpt")
    opt.save(path)
    state = opt.state_dict()
    opt.close()
    return opt, param, path, state


OPTIMIZER_USES = {
    "param_groups": lambda o, p, s: o.param_groups,
    "defaults": lambda o, p, s: o.defaults,
    "grads": lambda o, p, s: o.grads,
    "zero_grad": lambda o, p, s: o.zero_grad(),
    "step(grads)": lambda o, p, s: o.step(np.ones(3)),
    "step()": lambda o, p, s: o.step(),
    "nonfinite": lambda o, p, s: o.nonfinite,
    "nonfinite=": lambda o, p, s: setattr(o, "nonfinite", "skip"),
    "step_count": lambda o, p, s: o.step_count,
    "state_dict": lambda o, p, s: o.state_dict(),
    "load_state_dict": lambda o, p, s: o.load_state_dict(s[1]),
    "save": lambda o, p, s: o.save(s[0] + ".new"),
    "load": lambda o, p, s: o.load(s[0]),
    "add_param_group": lambda o, p, s: o.add_param_group({"params": [np.ones(2)]}),
    "counts": lambda o, p, s: o.counts(),
    "LRScheduler": lambda o, p, s: schedules.LRScheduler(o, schedules.constant(0.1)),
}


@pytest.mark.parametrize("use", list(OPTIMIZER_USES))
def test_every_use_of_a_closed_optimizer_says_it_is_closed(use, tmp_path):
    opt, param, path, state = closed_optimizer(tmp_path)
    before = param.copy()
    with pytest.raises(descent.ClosedError) as caught:
        OPTIMIZER_USES[use](opt, param, (path, state))
    message = str(caught.value)
    assert "Adam optimizer is closed" in message
    assert "descent_" not in message and "0x0" not in message
    assert isinstance(caught.value, descent.InvalidHandleError)
    assert np.array_equal(param, before)
    assert repr(opt) == "Adam(closed)"
    opt.close()                                          # still idempotent


def live_and_closed_tensors():
    live = descent.tensor([1.0, 2.0, 3.0])
    closed = descent.tensor([1.0, 2.0, 3.0])
    closed.close()
    return live, closed


TENSOR_USES = {
    "numpy": lambda t, live: t.numpy(),
    "np.asarray": lambda t, live: np.asarray(t),
    "dtype": lambda t, live: t.dtype,
    "ndim": lambda t, live: t.ndim,
    "shape": lambda t, live: t.shape,
    "size": lambda t, live: t.size,
    "len": lambda t, live: len(t),
    "copy_from": lambda t, live: t.copy_from(np.zeros(3)),
    "clone": lambda t, live: t.clone(),
    "add": lambda t, live: t.add(live),
    "sub": lambda t, live: t - live,
    "mul": lambda t, live: t * live,
    "scale_": lambda t, live: t.scale_(2.0),
    "axpy_": lambda t, live: t.axpy_(2.0, live),
    "sum": lambda t, live: t.sum(),
    "mean": lambda t, live: t.mean(),
    "norm": lambda t, live: t.norm(),
    "max_abs": lambda t, live: t.max_abs(),
    "dot": lambda t, live: t.dot(live),
    "as an argument: live.add(closed)": lambda t, live: live.add(t),
    "as an argument: out=": lambda t, live: live.add(live, out=t),
    "as an argument: gd_step": lambda t, live: descent.gd_step(live, t, 0.1),
    "as an argument: matmul": lambda t, live: descent.matmul(t, live),
}


@pytest.mark.parametrize("use", list(TENSOR_USES))
def test_every_use_of_a_closed_tensor_says_it_is_closed(use):
    live, closed = live_and_closed_tensors()
    with pytest.raises(descent.ClosedError) as caught:
        TENSOR_USES[use](closed, live)
    message = str(caught.value)
    assert "tensor is closed" in message
    assert "descent_tensor" not in message and "0x0" not in message
    np.testing.assert_array_equal(live.numpy(), [1.0, 2.0, 3.0])
    assert "closed" in repr(closed) and closed.handle == 0 and closed.closed
    live.close()


def test_closed_schedules_and_plateaus_say_they_are_closed():
    schedule = schedules.cosine_annealing(0.1, 10)
    schedule.close()
    plateau = schedules.Plateau(0.1)
    plateau.close()
    for call, kind in ((lambda: schedule(3), "schedule"), (lambda: schedule.values(4), "schedule"),
                       (lambda: plateau.update(1.0), "plateau scheduler"), (lambda: plateau.lr, "plateau scheduler"),
                       (lambda: plateau.state(), "plateau scheduler"), (lambda: plateau.set_lr(0.5), "plateau scheduler")):
        with pytest.raises(descent.ClosedError, match=f"this {kind} is closed"):
            call()
