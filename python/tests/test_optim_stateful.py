"""descent.optim: every rule and variant through the stateful optimizer (groups, one C call per
step) against the NumPy reference, plus param_groups, state_dict, grads buffers, policies."""
import numpy as np
import pytest

import descent
from descent import optim
from optim_reference import VARIANTS, Reference, variant_id
from reference import assert_close

CLASSES = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "rmsprop": optim.RMSprop,
           "adam": optim.Adam, "adamw": optim.AdamW, "adamax": optim.Adamax, "nadam": optim.NAdam,
           "radam": optim.RAdam, "lion": optim.Lion}
SHAPES = [(7, 5), (33,), (3, 4, 2)]


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_stateful_matches_reference(variant, dtype, rng):
    rule, options = variant
    params = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    # Two groups: the second overrides the learning rate.
    lr2 = options.get("lr", CLASSES[rule].DEFAULTS["lr"]) * 0.5
    refs = [Reference(rule, p, **options) for p in params[:2]] + [Reference(rule, params[2], **{**options, "lr": lr2})]
    opt = CLASSES[rule]([{"params": params[:2]}, {"params": [params[2]], "lr": lr2}], **options)
    for t in range(100):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        assert opt.step(grads) is True
        for ref, g in zip(refs, grads):
            ref.step(g)
    assert opt.step_count == 100
    for p, ref in zip(params, refs):
        assert_close(p, ref.param, dtype, rtol_scale=1)
    state = opt.state_dict()["state"]
    for index, ref in enumerate(refs):
        for name, expected in ref.state.items():
            assert_close(state[index][name], expected, dtype, rtol_scale=1)
    opt.close()


def test_owned_grad_buffers_and_cached_binding_give_the_same_result(rng):
    a = rng.standard_normal(100)
    b = a.copy()
    opt_a = optim.Adam([a], lr=1e-2)
    opt_b = optim.Adam([b], lr=1e-2)
    mine = [np.zeros(100)]
    for _ in range(20):
        g = rng.standard_normal(100)
        opt_a.grads[0][...] = g          # optimizer-owned buffer, bound once
        opt_a.step()
        mine[0][...] = g                 # the same array object every step: cached binding
        opt_b.step(mine)
    assert np.array_equal(a, b)
    assert opt_b._bound[0] is mine[0]


def test_param_groups_lr_change_applies_on_next_step(rng):
    w = np.ones(4)
    opt = optim.SGD([w], lr=0.1)
    g = np.full(4, 2.0)
    opt.step([g])
    np.testing.assert_allclose(w, 1 - 0.2, rtol=1e-15)
    opt.param_groups[0]["lr"] = 0.01
    opt.step([g])
    np.testing.assert_allclose(w, 0.8 - 0.02, rtol=1e-15)
    opt.param_groups[0]["momentum"] = 0.9  # allocates the momentum buffer between steps
    opt.step([g])
    np.testing.assert_allclose(w, 0.78 - 0.01 * 2.0, rtol=1e-14)  # t = 3: b = 0.9*0 + g


def test_bad_hyper_in_param_groups_raises_and_keeps_previous(rng):
    w = np.ones(3)
    opt = optim.Adam([w], lr=0.1)
    opt.step([np.ones(3)])
    before = w.copy()
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(descent.InvalidArgumentError):
        opt.step([np.ones(3)])
    np.testing.assert_array_equal(w, before)
    assert opt.step_count == 1
    opt.param_groups[0]["lr"] = 0.1
    opt.step([np.ones(3)])
    assert opt.step_count == 2


def test_constructor_errors():
    with pytest.raises(TypeError):
        optim.Adam([np.ones(3)], learning_rate=0.1)
    with pytest.raises(descent.InvalidArgumentError):
        optim.Adam([np.ones(3)], lr=-0.1)
    with pytest.raises(descent.DTypeError):
        optim.Adam([np.ones(3, dtype=np.int32)])
    with pytest.raises(descent.InvalidArgumentError):
        optim.SGD([np.ones(3)], nesterov=True)  # needs momentum > 0
    w = np.ones(3)
    with pytest.raises(descent.InvalidArgumentError):
        optim.SGD([w, w])
    with pytest.raises(descent.InvalidArgumentError):
        optim.Adam([np.ones(3)], betas=(0.9, 1.5))


def test_step_bad_grads_leave_everything_unchanged(rng):
    w = rng.standard_normal((2, 3))
    opt = optim.Adam([w])
    opt.step([np.ones((2, 3))])
    before, state = w.copy(), opt.state_dict()
    with pytest.raises(descent.ShapeError):
        opt.step([np.ones(6)])
    with pytest.raises(descent.DTypeError):
        opt.step([np.ones((2, 3), np.float32)])
    with pytest.raises(descent.ShapeError):
        opt.step([np.ones((2, 3)), np.ones((2, 3))])
    np.testing.assert_array_equal(w, before)
    assert opt.step_count == 1
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"], state["state"][0]["exp_avg"])


@pytest.mark.parametrize("policy", ["raise", "skip", "proceed"])
def test_nonfinite_policies(policy, rng):
    w = rng.standard_normal(5)
    other = rng.standard_normal(70_000)  # large enough for the threaded finite check
    opt = optim.Adam([w, other], nonfinite=policy)
    opt.step([np.ones(5), np.ones(70_000)])
    before_w, before_other = w.copy(), other.copy()
    before_state = opt.state_dict()["state"]
    bad = np.ones(70_000)
    bad[65_537] = np.nan
    if policy == "raise":
        with pytest.raises(descent.NonFiniteError):
            opt.step([np.ones(5), bad])
    elif policy == "skip":
        assert opt.step([np.ones(5), bad]) is False
    else:
        assert opt.step([np.ones(5), bad]) is True
    if policy == "proceed":
        assert np.isnan(other[65_537]) and opt.step_count == 2
        assert not np.array_equal(w, before_w)
    else:
        np.testing.assert_array_equal(w, before_w)
        np.testing.assert_array_equal(other, before_other)
        assert opt.step_count == 1
        after = opt.state_dict()["state"]
        for index in (0, 1):
            for name in ("exp_avg", "exp_avg_sq"):
                np.testing.assert_array_equal(after[index][name], before_state[index][name])
    assert opt.nonfinite == policy
    with pytest.raises(descent.InvalidArgumentError):
        opt.nonfinite = "ignore"


@pytest.mark.parametrize("rule", sorted(CLASSES))
def test_state_dict_round_trip_continues_identically(rule, rng):
    params = [rng.standard_normal((4, 3)), rng.standard_normal(6).astype(np.float32)]
    options = {"momentum": 0.9} if rule in ("sgd", "rmsprop") else {}
    grads = [[rng.standard_normal(p.shape).astype(p.dtype) for p in params] for _ in range(20)]
    straight = [p.copy() for p in params]
    opt = CLASSES[rule]([{"params": [straight[0]]}, {"params": [straight[1]]}], **options)
    for g in grads:
        opt.step(g)
    resumed = [p.copy() for p in params]
    first = CLASSES[rule]([{"params": [resumed[0]]}, {"params": [resumed[1]]}], **options)
    for g in grads[:10]:
        first.step(g)
    saved = first.state_dict()
    second = CLASSES[rule]([{"params": [resumed[0]]}, {"params": [resumed[1]]}], **options)
    second.load_state_dict(saved)
    assert second.step_count == 10
    for g in grads[10:]:
        second.step(g)
    for a, b in zip(straight, resumed):
        assert np.array_equal(a, b)


def test_load_state_dict_mismatch_raises_and_changes_nothing(rng):
    opt = optim.Adam([np.ones((2, 2))])
    opt.step([np.ones((2, 2))])
    other = optim.Adam([np.ones(3)])
    with pytest.raises(descent.ShapeError):
        other.load_state_dict(opt.state_dict())
    assert other.step_count == 0
    two = optim.Adam([{"params": [np.ones(3)]}, {"params": [np.ones(3)]}])
    with pytest.raises(descent.ShapeError):
        two.load_state_dict(opt.state_dict())


def test_closed_optimizer_raises():
    opt = optim.SGD([np.ones(2)], lr=0.1)
    opt.close()
    opt.close()
    with pytest.raises(descent.InvalidHandleError):
        opt.step([np.ones(2)])


def test_lr_scheduler_drives_the_optimizer_each_step():
    # descent.schedules.LRScheduler sets param_groups[i]["lr"]; the next step uses it.
    from descent import schedules
    w = np.zeros(3)
    opt = optim.SGD([w], lr=0.5)
    sched = schedules.LRScheduler(opt, schedules.exponential(0.5, 0.9), interval="step")
    g = np.ones(3)
    expected = 0.0
    for t in range(20):
        opt.step([g])
        expected -= 0.5 * 0.9 ** t  # W := W - lr_t g with lr_t = 0.5 * 0.9^t
        sched.step()
    np.testing.assert_allclose(w, expected, rtol=1e-13)


def test_add_param_group_after_steps(rng):
    a, b = np.zeros(3), np.zeros(2)
    opt = optim.SGD([a], lr=0.1)
    opt.step([np.ones(3)])
    opt.add_param_group({"params": [b], "lr": 0.5})
    with pytest.raises(descent.ShapeError):
        opt.step([np.ones(3)])            # now two params need two gradients
    opt.step([np.ones(3), np.ones(2)])
    np.testing.assert_allclose(a, -0.2, rtol=1e-15)
    np.testing.assert_allclose(b, -0.5, rtol=1e-15)
    assert opt.step_count == 2
    assert [len(g["params"]) for g in opt.state_dict()["param_groups"]] == [1, 1]


def test_step_at_the_largest_step_count_raises_and_changes_nothing(rng):
    """t = step_count + 1 would overflow int64 (a Swift trap that killed the process before)."""
    w = rng.standard_normal((2, 3))
    opt = optim.Adam([w])
    opt.step([np.ones((2, 3))])
    state = opt.state_dict()
    state["state"][0]["step"] = 2**63 - 1
    opt.load_state_dict(state)
    before, exp_avg = w.copy(), opt.state_dict()["state"][0]["exp_avg"].copy()
    with pytest.raises(descent.InvalidArgumentError, match="step count is at its maximum"):
        opt.step([np.ones((2, 3))])
    np.testing.assert_array_equal(w, before)
    assert opt.step_count == 2**63 - 1
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"], exp_avg)
    state["state"][0]["step"] = 2**63 - 2  # the last representable update still runs
    opt.load_state_dict(state)
    opt.step([np.ones((2, 3))])
    assert opt.step_count == 2**63 - 1


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_proceed_policy_lets_a_nan_gradient_reach_the_param_for_every_rule(variant, rng):
    # Under "proceed" a NaN gradient element makes that param element NaN, for every rule (Lion
    # once froze it instead: its exp_avg went NaN and sign(NaN) was taken as 0). The elements
    # next to it go on exactly as the NumPy reference says (np.sign(NaN) is NaN).
    rule, options = variant
    w = rng.standard_normal(6)
    ref = Reference(rule, w, **options)
    opt = CLASSES[rule]([w], nonfinite="proceed", **options)
    for t in range(6):
        g = rng.standard_normal(6)
        if t == 2:
            g[4] = np.nan
        assert opt.step([g]) is True
        ref.step(g)
    assert np.isnan(w[4]) and np.isnan(ref.param[4])
    np.testing.assert_allclose(w, ref.param, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert not np.isnan(np.delete(w, 4)).any()
