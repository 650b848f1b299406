"""Reduce-on-plateau against a reference written from PyTorch ReduceLROnPlateau's documented
algorithm, and the optimizer drivers (LRScheduler, ReduceLROnPlateau) against stand-in optimizers
and, once it is merged, descent.optim."""
import math

import numpy as np
import pytest

import descent
from descent import schedules as S
from reference import assert_close

F64 = np.float64


class PlateauReference:
    """ReduceLROnPlateau's algorithm, one learning rate, in plain Python."""

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown = threshold, threshold_mode, cooldown
        self.min_lr, self.eps = min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.bad = 0
        self.cooldown_counter = 0

    def better(self, a):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < self.best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < self.best - self.threshold
        if self.threshold_mode == "rel":
            return a > self.best * (self.threshold + 1.0)
        return a > self.best + self.threshold

    def update(self, metric):
        if self.better(metric):
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.bad = 0
        return self.lr


def metric_sequence(rng, length, mode):
    """Noisy loss-like (or accuracy-like) curve with long flat stretches, NaNs and exact ties."""
    base = np.concatenate([np.linspace(1.0, 0.5, length // 4), np.full(length // 4, 0.5),
                           np.linspace(0.5, 0.3, length // 4), np.full(length - 3 * (length // 4), 0.3)])
    noisy = base + rng.normal(0, 0.01, length) * (rng.random(length) < 0.5)
    noisy[rng.integers(0, length, 5)] = np.nan
    return noisy if mode == "min" else -noisy


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode,threshold", [("rel", 1e-4), ("rel", 0.05), ("abs", 0.01), ("abs", 0.0)])
@pytest.mark.parametrize("patience,cooldown", [(0, 0), (3, 0), (5, 2), (10, 4)])
def test_plateau_matches_reference(rng, mode, threshold_mode, threshold, patience, cooldown):
    kwargs = dict(mode=mode, factor=0.5, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
                  cooldown=cooldown, min_lr=1e-3)
    reference = PlateauReference(0.1, **kwargs)
    with S.Plateau(0.1, **kwargs) as plateau:
        for metric in metric_sequence(rng, 300, mode):
            expected = reference.update(float(metric))
            assert plateau.update(float(metric)) == expected
            state = plateau.state()
            assert state["num_bad_epochs"] == reference.bad
            assert state["cooldown_counter"] == reference.cooldown_counter
            assert state["best"] == reference.best
        assert plateau.state()["updates"] == 300
        assert plateau.lr == reference.lr


def test_plateau_pytorch_defaults_and_floor():
    p = S.Plateau(1.0)  # factor 0.1, patience 10
    rates = [p.update(5.0) for _ in range(12)]
    assert rates[:11] == [1.0] * 11          # epoch 1 sets best; 10 bad epochs are tolerated
    assert_close(rates[11], 0.1, F64)        # the 11th bad epoch reduces
    q = S.Plateau(1.0, factor=0.5, patience=0, min_lr=0.3)
    assert [q.update(1.0) for _ in range(4)] == [1.0, 0.5, 0.3, 0.3]


def test_plateau_eps_blocks_tiny_reductions():
    p = S.Plateau(1e-9, factor=0.5, patience=0, eps=1e-8)
    assert [p.update(1.0) for _ in range(3)] == [1e-9] * 3


# -- driving an optimizer ---------------------------------------------------------------------

class StandInOptimizer:
    """The part of the torch.optim / descent.optim interface a scheduler uses."""

    def __init__(self, *lrs):
        self.param_groups = [{"params": [], "lr": lr} for lr in lrs]


def test_lr_scheduler_sets_every_group_each_step():
    opt = StandInOptimizer(0.1, 0.1)
    schedule = S.step_decay(0.1, 3, 0.5)
    sched = S.LRScheduler(opt, schedule)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]      # schedule(0) on construction
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(10):
        sched.step()
        seen.append(opt.param_groups[1]["lr"])
    assert_close(seen, [0.1 * 0.5 ** (t // 3) for t in range(11)], F64)
    assert sched.last_step == 10
    assert sched.get_last_lr() == [opt.param_groups[0]["lr"]] * 2


def test_lr_scheduler_schedule_without_lr0_follows_each_groups_lr():
    opt = StandInOptimizer(0.1, 2.0)
    sched = S.LRScheduler(opt, S.step_decay(step_size=3, gamma=0.5))   # PyTorch's StepLR(opt, 3, 0.5)
    for t in range(10):
        assert_close([g["lr"] for g in opt.param_groups], [0.1 * 0.5 ** (t // 3), 2.0 * 0.5 ** (t // 3)], F64)
        sched.step()
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 2.0]


def test_lr_scheduler_one_schedule_per_group():
    opt = StandInOptimizer(0.3, 1.0)
    sched = S.LRScheduler(opt, [S.constant(0.3), S.exponential(1.0, 0.5)], interval="epoch")
    for t in range(1, 6):
        sched.step()
        assert opt.param_groups[0]["lr"] == 0.3
        assert_close(opt.param_groups[1]["lr"], 0.5 ** t, F64)


def test_lr_scheduler_interval_hooks():
    per_step = StandInOptimizer(1.0)
    per_epoch = StandInOptimizer(1.0)
    a = S.LRScheduler(per_step, S.exponential(1.0, 0.5), interval="step")
    b = S.LRScheduler(per_epoch, S.exponential(1.0, 0.5), interval="epoch")
    for _epoch in range(3):
        for _batch in range(4):
            a.batch_end()
            b.batch_end()
        a.epoch_end()
        b.epoch_end()
    assert a.last_step == 12 and per_step.param_groups[0]["lr"] == 0.5 ** 12
    assert b.last_step == 3 and per_epoch.param_groups[0]["lr"] == 0.5 ** 3


def test_lr_scheduler_state_dict_round_trip():
    opt = StandInOptimizer(0.1)
    schedule = S.cosine_annealing(0.1, 50)
    sched = S.LRScheduler(opt, schedule)
    for _ in range(17):
        sched.step()
    state = sched.state_dict()
    fresh_opt = StandInOptimizer(0.1)
    fresh = S.LRScheduler(fresh_opt, schedule)
    fresh.load_state_dict(state)
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == schedule(17)
    sched.step()
    fresh.step()
    assert fresh_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_lr_scheduler_failure_leaves_groups_unchanged():
    opt = StandInOptimizer(1.0, 0.5)
    sched = S.LRScheduler(opt, [S.one_cycle(1.0, 3, cycle_momentum=False), S.constant(0.5)])
    for _ in range(3):
        sched.step()
    before = [g["lr"] for g in opt.param_groups]
    with pytest.raises(descent.InvalidArgumentError):
        sched.step()                     # one-cycle past total_steps, like PyTorch
    assert [g["lr"] for g in opt.param_groups] == before
    assert sched.last_step == 3


def test_lr_scheduler_bad_arguments():
    opt = StandInOptimizer(0.1)
    with pytest.raises(descent.InvalidArgumentError):
        S.LRScheduler(opt, S.constant(0.1), interval="batch")
    with pytest.raises(TypeError):
        S.LRScheduler(object(), S.constant(0.1))
    with pytest.raises(TypeError):
        S.LRScheduler(opt, lambda t: 0.1)
    with pytest.raises(descent.InvalidArgumentError):
        S.LRScheduler(opt, [S.constant(0.1), S.constant(0.2)])   # two schedules, one group
    with pytest.raises(descent.InvalidArgumentError):
        S.LRScheduler(StandInOptimizer(), S.constant(0.1))        # no groups
    assert opt.param_groups[0]["lr"] == 0.1


def test_lr_scheduler_closed_schedule_raises_and_leaves_lr():
    opt = StandInOptimizer(0.2)
    schedule = S.constant(0.2)
    sched = S.LRScheduler(opt, schedule)
    schedule.close()
    with pytest.raises(descent.InvalidHandleError):
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.2


def test_reduce_lr_on_plateau_driver(rng):
    opt = StandInOptimizer(0.1, 0.01)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=[1e-3, 1e-4])
    refs = [PlateauReference(0.1, factor=0.5, patience=2, min_lr=1e-3),
            PlateauReference(0.01, factor=0.5, patience=2, min_lr=1e-4)]
    for metric in metric_sequence(rng, 120, "min"):
        sched.step(float(metric))
        expected = [r.update(float(metric)) for r in refs]
        assert [g["lr"] for g in opt.param_groups] == expected
    assert sched.get_last_lr() == [r.lr for r in refs]
    assert sched.num_bad_epochs == refs[0].bad
    with pytest.raises(descent.InvalidArgumentError):
        S.ReduceLROnPlateau(opt, mode="minimum")
    with pytest.raises(descent.InvalidArgumentError):
        S.ReduceLROnPlateau(opt, min_lr=[0.0])
    sched.close()


# -- the real stateful optimizers ----

def _optim():
    from descent import optim   # merged long ago: an import failure is a failure, not a skip
    return optim


def test_lr_scheduler_drives_descent_optim_sgd():
    optim = _optim()
    w = np.zeros(4)
    opt = optim.SGD([w], lr=0.5)
    schedule = S.exponential(0.5, 0.5)
    sched = S.LRScheduler(opt, schedule)
    expected = np.zeros(4)
    g = np.ones(4)
    for t in range(8):
        assert opt.param_groups[0]["lr"] == schedule(t)
        opt.step([g])
        expected -= schedule(t) * g          # plain SGD: W -= lr_t * g
        sched.step()
    assert_close(w, expected, F64)


def test_reduce_lr_on_plateau_drives_descent_optim():
    optim = _optim()
    w = np.zeros(2)
    opt = optim.SGD([w], lr=0.4)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    sched.step(1.0)
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 0.2


def test_plateau_accepts_numpy_scalars_as_metrics():
    p = S.Plateau(1.0, factor=0.5, patience=0)
    assert p.update(np.float32(2.0)) == 1.0
    assert p.update(np.array(3.0)) == 0.5            # 0-d array, worse than best = 2
    assert p.state()["best"] == 2.0


class PyTorchStylePlateauGroups:
    """ReduceLROnPlateau over groups, reading each group's current lr at reduction (PyTorch)."""

    def __init__(self, groups, **kwargs):
        self.groups = groups
        self.reference = PlateauReference(0.0, **kwargs)

    def step(self, metric):
        ref = self.reference
        ref.lr = None
        if ref.better(metric):
            ref.best, ref.bad = metric, 0
        else:
            ref.bad += 1
        if ref.cooldown_counter > 0:
            ref.cooldown_counter -= 1
            ref.bad = 0
        if ref.bad > ref.patience:
            for group in self.groups:
                new_lr = max(group["lr"] * ref.factor, ref.min_lr)
                if group["lr"] - new_lr > ref.eps:
                    group["lr"] = new_lr
            ref.cooldown_counter = ref.cooldown
            ref.bad = 0


def test_reduce_lr_on_plateau_honours_manual_changes(rng):
    opt = StandInOptimizer(0.1)
    mirror = [{"lr": 0.1}]
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1)
    reference = PyTorchStylePlateauGroups(mirror, factor=0.5, patience=1, cooldown=1)
    for epoch, metric in enumerate(metric_sequence(rng, 80, "min")):
        if epoch in (10, 37):                 # a manual change between epochs
            opt.param_groups[0]["lr"] = mirror[0]["lr"] = 0.3
        sched.step(float(metric))
        reference.step(float(metric))
        assert opt.param_groups[0]["lr"] == mirror[0]["lr"]


def test_reduce_lr_on_plateau_state_round_trip(rng):
    metrics = [float(m) for m in metric_sequence(rng, 60, "min")]
    straight = StandInOptimizer(0.1, 0.05)
    a = S.ReduceLROnPlateau(straight, factor=0.5, patience=2)
    for m in metrics:
        a.step(m)
    first = StandInOptimizer(0.1, 0.05)
    b = S.ReduceLROnPlateau(first, factor=0.5, patience=2)
    for m in metrics[:30]:
        b.step(m)
    saved = b.state_dict()
    resumed = StandInOptimizer(0.1, 0.05)
    c = S.ReduceLROnPlateau(resumed, factor=0.5, patience=2)
    c.load_state_dict(saved)
    for m in metrics[30:]:
        c.step(m)
    assert [g["lr"] for g in resumed.param_groups] == [g["lr"] for g in straight.param_groups]
    assert c.plateaus[0].state() == a.plateaus[0].state()


def test_plateau_restore_and_set_lr_bad_input():
    p = S.Plateau(0.1)
    p.update(1.0)
    before = p.state()
    for bad in (dict(before, lr=-1.0), dict(before, best=float("nan")), dict(before, num_bad_epochs=-1),
                dict(before, updates=-3), dict(before, cooldown_counter=1.5)):
        with pytest.raises(descent.InvalidArgumentError):
            p.load_state(bad)
        assert p.state() == before
    with pytest.raises(descent.InvalidArgumentError):
        p.set_lr(float("inf"))
    assert p.lr == 0.1
    p.set_lr(0.7)
    assert p.lr == 0.7
