"""Schedules and the optimizer's own learning rate (PyTorch's convention: a scheduler starts from
the optimizer's lr). A schedule made without lr0 follows each group's lr; one with its own rate
must agree with it, else InvalidArgumentError and nothing changes; override_lr=True lets the
schedule's rates replace the optimizer's. The same rules for LRScheduler (Python) and for the
library's trainer (fit with a Schedule). Every rate is checked against a closed form written here."""
import math

import numpy as np
import pytest

import descent
from descent import graph as G, optim, schedules as S

F64 = np.float64


def cosine(t, lr0, t_max, eta_min=0.0):                      # PyTorch CosineAnnealingLR, closed form
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


class StandIn:
    def __init__(self, *lrs):
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]


# ---- the schedule objects ---------------------------------------------------------------------

def test_a_schedule_without_lr0_follows_and_evaluates_as_a_factor():
    s = S.exponential(gamma=0.5)
    assert s.follows_optimizer and s.base_lr is None
    assert [s(t) for t in range(4)] == [1.0, 0.5, 0.25, 0.125]
    anchored = S.exponential(0.2, 0.5)
    assert not anchored.follows_optimizer and anchored.base_lr == 0.2


@pytest.mark.parametrize("make, base", [
    (lambda: S.constant(0.3), 0.3), (lambda: S.inverse_time(0.2, 1.0), 0.2),
    (lambda: S.cosine_annealing(0.1, 10, eta_min=0.01), 0.1), (lambda: S.one_cycle(0.4, 20), 0.4),
    (lambda: S.piecewise_constant([5], [0.1, 0.01]), 0.1), (lambda: S.polynomial(0.5, 10, end_lr=0.05), 0.5),
    (lambda: S.with_warmup(S.cosine_annealing(0.1, 10), 5), 0.1),
])
def test_base_lr_is_the_rate_a_schedule_is_built_around(make, base):
    assert make().base_lr == base


def test_rebased_keeps_absolute_floors_and_scales_the_rest():
    s = S.cosine_annealing(0.1, t_max=10, eta_min=0.01).rebased(0.5)
    for t in range(25):
        assert s(t) == pytest.approx(cosine(t, 0.5, 10, 0.01), rel=1e-14)
    p = S.piecewise_constant([3, 6], [0.2, 0.1, 0.05]).rebased(0.4)
    assert [p(t) for t in (0, 3, 6)] == pytest.approx([0.4, 0.2, 0.1], rel=1e-15)
    w = S.with_warmup(S.exponential(0.1, 0.5), 4).rebased(1.0)          # ramp and decay scale together
    assert [w(t) for t in (0, 2, 4, 5)] == pytest.approx([0.0, 0.5, 1.0, 0.5], rel=1e-15)
    one = S.one_cycle(0.1, 10).rebased(1.0)
    assert one(0) == pytest.approx(1.0 / 25, rel=1e-15) and max(one(t) for t in range(11)) == pytest.approx(1.0)
    with pytest.raises(descent.InvalidArgumentError):
        S.constant(0.1).rebased(-1.0)
    with pytest.raises(descent.InvalidArgumentError):
        S.piecewise_constant([2], [0.0, 0.1]).rebased(0.5)             # nothing to scale from


def test_required_arguments_after_an_optional_lr0_are_still_required():
    with pytest.raises(TypeError, match="t_max"):
        S.cosine_annealing(900)                                           # lr0 = 900, no t_max
    with pytest.raises(TypeError, match="total_steps"):
        S.one_cycle()
    with pytest.raises(TypeError, match="gamma"):
        S.exponential(0.1)


def test_sequential_parts_all_follow_or_none():
    follows = S.sequential([S.constant(), S.exponential(gamma=0.5)], [3])
    assert follows.follows_optimizer
    assert S.with_warmup(S.cosine_annealing(t_max=10), 2).follows_optimizer
    with pytest.raises(descent.InvalidArgumentError, match="mixes"):
        S.sequential([S.constant(0.1), S.exponential(gamma=0.5)], [3])


# ---- LRScheduler ------------------------------------------------------------------------------

def test_conflicting_rates_are_an_error_and_change_nothing():
    opt = optim.SGD([np.zeros(2)], lr=0.01)
    with pytest.raises(descent.InvalidArgumentError, match=r"starts from lr 0\.1.*has lr 0\.01") as info:
        S.LRScheduler(opt, S.cosine_annealing(0.1, t_max=10))
    assert "override_lr=True" in str(info.value) and "without lr0" in str(info.value)
    assert opt.param_groups[0]["lr"] == 0.01


def test_override_lr_lets_the_schedule_replace_the_rate():
    opt = optim.SGD([np.zeros(2)], lr=0.01)
    sched = S.LRScheduler(opt, S.cosine_annealing(0.1, t_max=10), override_lr=True)
    for t in range(1, 12):
        sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(cosine(t, 0.1, 10), rel=1e-14, abs=1e-17)
    with pytest.raises(descent.InvalidArgumentError, match="override_lr=True needs"):
        S.LRScheduler(opt, S.cosine_annealing(t_max=10), override_lr=True)
    with pytest.raises(TypeError):
        S.LRScheduler(opt, S.constant(0.1), override_lr="yes")


def test_following_matches_pytorch_on_two_groups_with_their_own_rates():
    """CosineAnnealingLR(opt, T_max=8, eta_min=0.001) over groups with lr 0.1 and 0.02."""
    a, b = np.zeros(3), np.zeros(3)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1)
    sched = S.LRScheduler(opt, S.cosine_annealing(t_max=8, eta_min=0.001))
    expected_a, expected_b = np.zeros(3), np.zeros(3)
    for t in range(12):
        lrs = [cosine(t, 0.1, 8, 0.001), cosine(t, 0.02, 8, 0.001)]
        assert [g["lr"] for g in opt.param_groups] == pytest.approx(lrs, rel=1e-14)
        opt.step([np.ones(3), np.ones(3)])
        expected_a -= lrs[0]
        expected_b -= lrs[1]
        sched.step()
    np.testing.assert_allclose(a, expected_a, rtol=1e-13)
    np.testing.assert_allclose(b, expected_b, rtol=1e-13)
    sched.close()


def test_a_second_scheduler_starts_from_initial_lr_not_the_last_scheduled_rate():
    opt = StandIn(0.1)
    first = S.LRScheduler(opt, S.exponential(0.1, 0.5))
    for _ in range(3):
        first.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)
    second = S.LRScheduler(opt, S.cosine_annealing(0.1, t_max=4))         # agrees with initial_lr 0.1
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["initial_lr"] == 0.1
    third = S.LRScheduler(opt, S.step_decay(step_size=1, gamma=0.5))     # follows initial_lr 0.1
    assert opt.param_groups[0]["lr"] == 0.1
    third.step()
    assert opt.param_groups[0]["lr"] == 0.05
    second.close()
    third.close()


def test_one_cycle_without_max_lr_peaks_at_the_optimizer_rate():
    opt = optim.SGD([np.zeros(2)], lr=0.3, momentum=0.9)
    sched = S.LRScheduler(opt, S.one_cycle(total_steps=20, pct_start=0.25))
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(20):
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(0.3 / 25) and max(rates) == pytest.approx(0.3, rel=1e-15)
    assert rates[19] == pytest.approx(0.3 / 25 / 1e4, rel=1e-12)          # the last phase ends at T - 1


# ---- the library's trainer (fit with a Schedule) ----------------------------------------------

def unit_gradient_model():
    """loss = w: the gradient is 1, so SGD's update of w is the step's learning rate."""
    g = G.Graph()
    x = g.input((None, 1))
    w = np.zeros(1)
    loss = G.sum(g.param(w) * 1.0) + 0.0 * G.mean(x)
    return descent.Model(g, x, loss), np.zeros((8, 1)), w


def rates_of_fit(model, optimizer, x, w, **options):
    values = [w[0]]
    recorder = type("Recorder", (), {"on_step_end": lambda self, step, logs: values.append(w[0])})()
    descent.fit(model, optimizer, x, callbacks=[recorder], progress=False, batch_size=2, **options)
    return -np.diff(values)


def test_fit_schedule_conflict_is_an_error_before_any_step():
    model, x, w = unit_gradient_model()
    optimizer = optim.SGD(model.parameters(), lr=5.0)
    with pytest.raises(descent.InvalidArgumentError, match=r"starts from lr 0\.1.*has lr 5\.0.*override_lr=True"):
        descent.fit(model, optimizer, x, epochs=1, schedule=S.exponential(0.1, 0.5), progress=False)
    assert w[0] == 0.0 and optimizer.param_groups[0]["lr"] == 5.0


def test_fit_schedule_without_lr0_follows_the_optimizer():
    model, x, w = unit_gradient_model()
    optimizer = optim.SGD(model.parameters(), lr=0.4)
    rates = rates_of_fit(model, optimizer, x, w, epochs=2, schedule=S.cosine_annealing(t_max=6, eta_min=0.01))
    np.testing.assert_allclose(rates, [cosine(t, 0.4, 6, 0.01) for t in range(8)], rtol=1e-12)
    again = rates_of_fit(model, optimizer, x, w, epochs=1, schedule=S.cosine_annealing(t_max=6, eta_min=0.01))
    np.testing.assert_allclose(again, [cosine(t, 0.4, 6, 0.01) for t in range(8, 12)], rtol=1e-12)


def test_fit_override_lr_uses_the_schedules_rates():
    model, x, w = unit_gradient_model()
    optimizer = optim.SGD(model.parameters(), lr=5.0)
    rates = rates_of_fit(model, optimizer, x, w, epochs=1, schedule=S.exponential(0.1, 0.5), override_lr=True)
    np.testing.assert_allclose(rates, [0.1 * 0.5 ** t for t in range(4)], rtol=1e-14)
