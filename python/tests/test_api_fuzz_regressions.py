"""Regression tests for the defects test_api_fuzz.py found in the public Python API: each call
used to raise AttributeError (or hang, or change state before failing); each now raises the
specific typed exception and leaves every object unchanged."""
import numpy as np
import pytest

import descent
from descent import optim, schedules

HUGE = np.lib.stride_tricks.as_strided(np.ones(1), shape=(2**31 + 1,), strides=(0,), writeable=False)


# ---- Tensor.add / sub / mul with an `out` that is not a Tensor or array (was AttributeError) ---
@pytest.mark.parametrize("method", ["add", "sub", "mul"])
@pytest.mark.parametrize("out", [3, 0.5, "x", [1.0, 2.0, 3.0], True])
def test_tensor_binary_out_must_be_a_tensor(method, out):
    a, b = descent.tensor([1.0, 2.0, 3.0]), descent.tensor([4.0, 5.0, 6.0])
    with pytest.raises(TypeError, match="out: expected a descent.Tensor or a numpy.ndarray"):
        getattr(a, method)(b, out)
    np.testing.assert_array_equal(a.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(b.numpy(), [4.0, 5.0, 6.0])


# ---- LRScheduler / ReduceLROnPlateau / Plateau state loading with a non-dict (AttributeError) --
@pytest.mark.parametrize("state", [np.zeros(3), 1.5, "step", [("last_step", 1)], descent.schedules.constant(0.1)])
def test_lr_scheduler_load_state_dict_needs_a_dict(state):
    opt = optim.SGD([np.zeros(3)], lr=0.1)
    scheduler = schedules.LRScheduler(opt, schedules.exponential(0.1, 0.5))
    scheduler.step()
    with pytest.raises(TypeError, match="state must be a dict"):
        scheduler.load_state_dict(state)
    assert scheduler.last_step == 1 and opt.param_groups[0]["lr"] == pytest.approx(0.05, rel=1e-15)


def test_reduce_lr_on_plateau_load_state_dict_needs_a_dict():
    scheduler = schedules.ReduceLROnPlateau(optim.SGD([np.zeros(3)], lr=0.1))
    with pytest.raises(TypeError, match="state must be a dict"):
        scheduler.load_state_dict(np.zeros(2))


def test_reduce_lr_on_plateau_load_state_dict_is_all_or_nothing():
    opt = optim.SGD([{"params": [np.zeros(3)], "lr": 0.1}, {"params": [np.zeros(2)], "lr": 0.2}])
    scheduler = schedules.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(1.0)
    before = scheduler.state_dict()
    good = dict(before["plateaus"][0], lr=0.5, num_bad_epochs=0)
    bad = dict(before["plateaus"][1], num_bad_epochs=-1)
    with pytest.raises(descent.InvalidArgumentError):
        scheduler.load_state_dict({"plateaus": [good, bad]})
    assert scheduler.state_dict() == before  # the first group's plateau was rolled back
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]


@pytest.mark.parametrize("state", [np.zeros(3), 2.0, "lr"])
def test_plateau_load_state_needs_a_dict(state):
    plateau = schedules.Plateau(0.1)
    before = plateau.state()
    with pytest.raises(TypeError, match="state must be a dict"):
        plateau.load_state(state)
    assert plateau.state() == before


# ---- Optimizer.load_state_dict: malformed structure (was AttributeError) or partial change -----
def _adam():
    param = np.array([1.0, 2.0, 3.0])
    opt = optim.Adam([param], lr=0.01)
    opt.step([np.array([0.1, -0.2, 0.3])])
    return opt, param


def _unchanged(opt, param, saved):
    np.testing.assert_array_equal(param, saved["param"])
    now = opt.state_dict()
    assert now["param_groups"] == saved["state_dict"]["param_groups"]
    assert now["nonfinite"] == saved["state_dict"]["nonfinite"]
    assert opt.step_count == saved["step_count"]
    for name, value in saved["state_dict"]["state"][0].items():
        np.testing.assert_array_equal(now["state"][0][name], value)


def _snapshot(opt, param):
    return {"param": param.copy(), "state_dict": opt.state_dict(), "step_count": opt.step_count}


@pytest.mark.parametrize("spoil, error", [
    (lambda sd: np.zeros(3), TypeError),                                    # not a dict at all
    (lambda sd: {**sd, "state": {0: 1.0}}, TypeError),                       # an entry that is not a dict
    (lambda sd: {**sd, "state": [sd["state"][0]]}, TypeError),               # state as a list
    (lambda sd: {**sd, "param_groups": np.zeros(1)}, TypeError),             # groups not a list
    (lambda sd: {**sd, "param_groups": [1.0]}, TypeError),                   # a group not a dict
    (lambda sd: {**sd, "param_groups": [{"lr": 0.1}]}, KeyError),            # a group without params
    (lambda sd: {**sd, "param_groups": [dict(sd["param_groups"][0], params=3)]}, TypeError),
    (lambda sd: {k: v for k, v in sd.items() if k != "state"}, KeyError),
])
def test_optimizer_load_state_dict_rejects_malformed_structure(spoil, error):
    opt, param = _adam()
    saved = _snapshot(opt, param)
    with pytest.raises(error):
        opt.load_state_dict(spoil(opt.state_dict()))
    _unchanged(opt, param, saved)


@pytest.mark.parametrize("field, value, error", [
    ("step", "7", TypeError), ("step", 2.5, TypeError), ("step", True, TypeError),
    ("step", -1, descent.InvalidArgumentError), ("step", 2**63, descent.InvalidArgumentError),
])
def test_optimizer_load_state_dict_checks_the_step_before_changing_anything(field, value, error):
    opt, param = _adam()
    saved = _snapshot(opt, param)
    state_dict = opt.state_dict()
    state_dict["param_groups"][0]["lr"] = 0.5     # would be pushed first before the fix
    state_dict["state"][0][field] = value
    with pytest.raises(error):
        opt.load_state_dict(state_dict)
    _unchanged(opt, param, saved)
    assert opt.param_groups[0]["lr"] == 0.01


def test_optimizer_load_state_dict_checks_nonfinite_before_changing_anything():
    opt, param = _adam()
    saved = _snapshot(opt, param)
    state_dict = opt.state_dict()
    state_dict["param_groups"][0]["lr"] = 0.5
    state_dict["nonfinite"] = "bogus"
    with pytest.raises(descent.InvalidArgumentError, match="nonfinite"):
        opt.load_state_dict(state_dict)
    _unchanged(opt, param, saved)
    assert opt.param_groups[0]["lr"] == 0.01


def test_nadam_load_state_dict_checks_mu_product_type():
    param = np.zeros(3)
    opt = optim.NAdam([param])
    opt.step([np.ones(3)])
    state_dict = opt.state_dict()
    state_dict["state"][0]["mu_product"] = "0.9"
    saved = _snapshot(opt, param)
    with pytest.raises(TypeError, match="mu_product"):
        opt.load_state_dict(state_dict)
    _unchanged(opt, param, saved)


# ---- param_groups edited in place between steps ----------------------------------------------
@pytest.mark.parametrize("params", [HUGE, [np.zeros(3), np.zeros(3)], [], np.zeros(3), "abc"])
def test_replacing_a_groups_params_is_rejected_not_iterated(params):
    """A replaced "params" (here a 2^31-element view that used to be iterated element by
    element: a hang) raises InvalidArgumentError at once, and nothing changes."""
    param = np.array([1.0, 2.0, 3.0])
    opt = optim.SGD([param], lr=0.1)
    original = opt.param_groups[0]["params"]
    opt.param_groups[0]["params"] = params
    with pytest.raises(descent.InvalidArgumentError, match="params"):
        opt.step([np.ones(3)])
    with pytest.raises(descent.InvalidArgumentError, match="params"):
        opt.grads
    with pytest.raises(descent.InvalidArgumentError, match="params"):
        opt.state_dict()
    np.testing.assert_array_equal(param, [1.0, 2.0, 3.0])
    opt.param_groups[0]["params"] = original  # putting it back works again
    opt.step([np.ones(3)])
    np.testing.assert_allclose(param, [0.9, 1.9, 2.9], rtol=1e-15)


def test_appending_to_a_groups_params_is_rejected():
    opt = optim.SGD([np.zeros(3)], lr=0.1)
    opt.param_groups[0]["params"].append(np.zeros(2))
    with pytest.raises(descent.InvalidArgumentError, match="add_param_group"):
        opt.step([np.ones(3)])


@pytest.mark.parametrize("key, value", [("lr", HUGE), ("lr", np.array([0.1, 0.2])), ("betas", (HUGE, 0.999)),
                                        ("eps", np.zeros(0))])
def test_an_array_hyper_parameter_is_a_type_error_not_an_elementwise_compare(key, value):
    """Setting a group's hyper-parameter to an array used to be compared element by element
    with the pushed value (2^31 elements: a multi-GiB allocation and a hang, or 'truth value of
    an array is ambiguous'); it is now rejected by the push with TypeError, nothing changed."""
    param = np.array([1.0, 2.0, 3.0])
    opt = optim.Adam([param], lr=0.01)
    opt.param_groups[0][key] = value
    with pytest.raises(TypeError, match="must be"):
        opt.step([np.ones(3)])
    np.testing.assert_array_equal(param, [1.0, 2.0, 3.0])
    assert opt.step_count == 0
