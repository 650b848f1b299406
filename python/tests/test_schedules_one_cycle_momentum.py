"""One-cycle momentum cycling (PyTorch OneCycleLR, cycle_momentum=True): the momentum curve against
a NumPy reference written here from PyTorch's formula, over every step, cos and linear, two and
three phases; LRScheduler driving real descent.optim optimizers (SGD's "momentum", the Adam
family's beta1) compared with NumPy SGD / Adam loops fed the reference lr and momentum; bad input."""
import numpy as np
import pytest

import descent
from descent import optim
from descent import schedules as S
from reference import assert_close

F64 = np.float64


def one_cycle_reference(max_lr, total, pct, anneal, div, final_div, three_phase, base_m, max_m):
    """(lr, momentum) arrays for t = 0..total, from PyTorch OneCycleLR's phase table:

        phase 1 (end pct*T - 1):      lr initial -> max_lr,  momentum max_m -> base_m
        two phases, phase 2 (T - 1):  lr max_lr -> min,      momentum base_m -> max_m
        three phases, phase 2 (2*pct*T - 2): lr max_lr -> initial, momentum base_m -> max_m
                      phase 3 (T - 1):       lr initial -> min,    momentum max_m -> max_m

    step t uses the first phase whose end >= t (else the last); pct = (t - start) / (end - start);
    cos: end + (start - end)/2 * (1 + cos(pi pct)),  linear: start + (end - start) * pct.
    """
    initial = max_lr / div
    minimum = initial / final_div
    if three_phase:
        ends = np.array([pct * total - 1, 2 * pct * total - 2, total - 1], dtype=F64)
        lr_pairs = [(initial, max_lr), (max_lr, initial), (initial, minimum)]
        m_pairs = [(max_m, base_m), (base_m, max_m), (max_m, max_m)]
    else:
        ends = np.array([pct * total - 1, total - 1], dtype=F64)
        lr_pairs = [(initial, max_lr), (max_lr, minimum)]
        m_pairs = [(max_m, base_m), (base_m, max_m)]
    t = np.arange(total + 1, dtype=F64)
    phase = np.minimum(np.searchsorted(ends, t, side="left"), len(ends) - 1)   # first end >= t
    starts = np.concatenate([[0.0], ends[:-1]])
    fraction = (t - starts[phase]) / (ends[phase] - starts[phase])

    def anneal_curve(pairs):
        a = np.array([p[0] for p in pairs], dtype=F64)[phase]
        b = np.array([p[1] for p in pairs], dtype=F64)[phase]
        if anneal == "cos":
            return b + (a - b) / 2 * (np.cos(np.pi * fraction) + 1)
        return a + (b - a) * fraction

    return anneal_curve(lr_pairs), anneal_curve(m_pairs)


# -- the momentum curve -------------------------------------------------------------------------

@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total,pct", [(100, 0.3), (1000, 0.25), (37, 0.4), (8, 0.5)])
@pytest.mark.parametrize("base_m,max_m", [(0.85, 0.95), (0.0, 0.99), (0.9, 0.9)])
def test_momentum_matches_pytorch_formula(anneal, three_phase, total, pct, base_m, max_m):
    s = S.one_cycle(0.5, total, pct_start=pct, anneal_strategy=anneal, three_phase=three_phase,
                    base_momentum=base_m, max_momentum=max_m)
    want_lr, want_m = one_cycle_reference(0.5, total, pct, anneal, 25.0, 1e4, three_phase, base_m, max_m)
    got = np.array([s.momentum(t) for t in range(total + 1)])
    assert_close(got, want_m, F64)
    assert_close(s.momenta(total + 1), want_m, F64)
    assert_close(s.values(total + 1), want_lr, F64)
    # pure: any order, any repetition
    for t in (total, 0, total // 2, 0, total):
        assert s.momentum(t) == got[t]
    # anchors: max_momentum at 0 and at T - 1, base_momentum where the rate peaks
    assert_close(s.momentum(0), max_m, F64)
    assert_close(s.momentum(total - 1), max_m, F64)
    if float(pct * total - 1).is_integer():
        assert_close(s.momentum(int(pct * total - 1)), base_m, F64)


def test_momentum_moves_inversely_to_the_rate():
    s = S.one_cycle(1.0, 200, pct_start=0.3)
    lr, m = s.values(200), s.momenta(200)
    dlr, dm = np.diff(lr), np.diff(m)
    moving = np.abs(dlr) > 1e-12
    assert np.all(np.sign(dlr[moving]) == -np.sign(dm[moving]))
    assert m.min() >= 0.85 - 1e-12 and m.max() <= 0.95 + 1e-12


def test_cycling_momentum_does_not_change_the_rate():
    for three_phase in (False, True):
        with_m = S.one_cycle(0.3, 120, 0.25, "linear", 10.0, 100.0, three_phase)
        without = S.one_cycle(0.3, 120, 0.25, "linear", 10.0, 100.0, three_phase, cycle_momentum=False)
        assert np.array_equal(with_m.values(121), without.values(121))


def test_positional_signature_is_unchanged():
    s = S.one_cycle(0.5, 100, 0.3, "linear", 10.0, 100.0, True)   # the pre-momentum positional form
    want_lr, want_m = one_cycle_reference(0.5, 100, 0.3, "linear", 10.0, 100.0, True, 0.85, 0.95)
    assert_close(s.values(101), want_lr, F64)
    assert_close(s.momenta(101), want_m, F64)          # PyTorch's defaults: cycle_momentum, 0.85, 0.95
    assert s.parameters["cycle_momentum"] is True and s.cycles_momentum
    with pytest.raises(TypeError):
        S.one_cycle(0.5, 100, 0.3, "cos", 25.0, 1e4, False, True)   # the new options are keyword-only


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("base_m,max_m", [(-0.1, 0.95), (0.95, 0.85), (float("nan"), 0.95), (0.85, float("nan")),
                                          (0.85, float("inf")), (-float("inf"), 0.5)])
def test_bad_momentum_bounds(base_m, max_m):
    with pytest.raises(descent.InvalidArgumentError):
        S.one_cycle(0.1, 100, base_momentum=base_m, max_momentum=max_m)


def test_bad_momentum_types_and_ignored_bounds():
    with pytest.raises(descent.InvalidArgumentError):
        S.one_cycle(0.1, 100, base_momentum="0.85")
    with pytest.raises(descent.InvalidArgumentError):
        S.one_cycle(0.1, 100, max_momentum=True)
    # as in PyTorch, the bounds are not used (nor checked) without cycle_momentum
    s = S.one_cycle(0.1, 100, cycle_momentum=False, base_momentum=2.0, max_momentum=1.0)
    assert not s.cycles_momentum


def test_momentum_step_domain():
    s = S.one_cycle(0.1, 10)
    with pytest.raises(descent.InvalidArgumentError):
        s.momentum(11)                        # past total_steps, like PyTorch
    with pytest.raises(descent.InvalidArgumentError):
        s.momentum(-1)
    with pytest.raises(descent.InvalidArgumentError):
        s.momentum(1.5)
    with pytest.raises(descent.InvalidArgumentError):
        s.momenta(12)
    assert_close(s.momentum(10), one_cycle_reference(0.1, 10, 0.3, "cos", 25.0, 1e4, False, 0.85, 0.95)[1][10], F64)


def test_momentum_unsupported_without_a_momentum_cycle():
    plain = S.one_cycle(0.1, 100, cycle_momentum=False)
    cycling = S.one_cycle(0.1, 100)
    for schedule in (S.constant(0.1), S.cosine_annealing(0.1, 10), plain,
                     S.sequential([plain, S.constant(0.1)], [50]), S.with_warmup(plain, 5)):
        with pytest.raises(descent.UnsupportedError):
            schedule.momentum(0)
        assert not schedule.cycles_momentum
    cycling.close()
    with pytest.raises(descent.InvalidHandleError):
        cycling.momentum(0)


# -- LRScheduler driving real optimizers --------------------------------------------------------

TARGET = np.array([1.0, -2.0, 0.5, 3.0])


def gradient(p):
    """Gradient of J = sum((p - target)^2 * [1, 2, 3, 4]) / 2."""
    return (p - TARGET) * np.array([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("anneal,three_phase", [("cos", False), ("linear", True)])
def test_lr_scheduler_drives_sgd_momentum(dtype, anneal, three_phase):
    total = 40
    p = np.zeros(4, dtype=dtype)
    opt = optim.SGD([p], lr=0.2, momentum=0.5)
    schedule = S.one_cycle(0.2, total, pct_start=0.25, anneal_strategy=anneal, three_phase=three_phase)
    sched = S.LRScheduler(opt, schedule)
    want_lr, want_m = one_cycle_reference(0.2, total, 0.25, anneal, 25.0, 1e4, three_phase, 0.85, 0.95)
    assert opt.param_groups[0]["momentum"] == want_m[0] == sched.get_last_momentum()[0]

    ref, buf = np.zeros(4), None                     # NumPy torch.optim.SGD with per-step lr, momentum
    for t in range(total):
        assert_close(opt.param_groups[0]["lr"], want_lr[t], F64)
        assert_close(opt.param_groups[0]["momentum"], want_m[t], F64)
        g = gradient(ref)
        buf = g.copy() if buf is None else want_m[t] * buf + g
        ref = ref - want_lr[t] * buf
        opt.step([gradient(p.astype(F64)).astype(dtype)])
        sched.step()
        assert_close(p, ref, dtype, rtol_scale=100, atol_scale=100)
    assert_close(sched.get_last_momentum()[0], want_m[total], F64)


def test_lr_scheduler_drives_adam_beta1(dtype):
    total = 30
    p = np.zeros(4, dtype=dtype)
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.99))          # the peak: max_lr follows the optimizer
    sched = S.LRScheduler(opt, S.one_cycle(total_steps=total, base_momentum=0.8, max_momentum=0.9))
    want_lr, want_m = one_cycle_reference(0.1, total, 0.3, "cos", 25.0, 1e4, False, 0.8, 0.9)

    ref, m, v = np.zeros(4), np.zeros(4), np.zeros(4)   # NumPy torch.optim.Adam, beta1 per step
    for t in range(total):
        beta1, beta2 = opt.param_groups[0]["betas"]
        assert_close(beta1, want_m[t], F64)
        assert beta2 == 0.99                           # beta2 untouched
        g = gradient(ref)
        m = want_m[t] * m + (1 - want_m[t]) * g
        v = 0.99 * v + 0.01 * g * g
        c1, c2 = 1 - want_m[t] ** (t + 1), 1 - 0.99 ** (t + 1)
        ref = ref - (want_lr[t] / c1) * m / (np.sqrt(v) / np.sqrt(c2) + 1e-8)
        opt.step([gradient(p.astype(F64)).astype(dtype)])
        sched.step()
        assert_close(p, ref, dtype, rtol_scale=100, atol_scale=100)


def test_lr_scheduler_sets_rmsprop_momentum_and_adam_family_beta1():
    p = np.zeros(3)
    schedule = S.one_cycle(total_steps=10)          # peaks at each optimizer's own (default) lr
    for make, key in [(lambda: optim.RMSprop([p]), "momentum"), (lambda: optim.AdamW([p]), "betas"),
                      (lambda: optim.Adamax([p]), "betas"), (lambda: optim.NAdam([p]), "betas"),
                      (lambda: optim.RAdam([p]), "betas"), (lambda: optim.Lion([p]), "betas")]:
        opt = make()
        sched = S.LRScheduler(opt, schedule)
        sched.step()
        value = opt.param_groups[0][key]
        got = value[0] if key == "betas" else value
        assert got == schedule.momentum(1)
        opt.step([np.ones(3)])                    # the optimizer accepts the value it was given


def test_lr_scheduler_only_cycles_groups_whose_schedule_cycles():
    a, b = np.zeros(2), np.zeros(2)
    opt = optim.SGD([{"params": [a], "lr": 0.05}, {"params": [b], "momentum": 0.3}], lr=0.1, momentum=0.6)
    sched = S.LRScheduler(opt, [S.constant(0.05), S.one_cycle(0.1, 10)])
    for _ in range(4):
        sched.step()
    assert opt.param_groups[0]["momentum"] == 0.6
    assert opt.param_groups[1]["momentum"] == S.one_cycle(0.1, 10).momentum(4)
    assert sched.get_last_momentum()[0] is None


def test_lr_scheduler_without_momentum_raises_and_changes_nothing():
    p = np.zeros(3)
    for opt in (optim.Adagrad([p], lr=0.1), optim.Adadelta([p], lr=0.1)):
        with pytest.raises(descent.InvalidArgumentError, match="neither 'momentum' nor 'betas'") as info:
            S.LRScheduler(opt, S.one_cycle(0.1, 10))
        assert isinstance(info.value, ValueError)          # as PyTorch's ValueError
        assert opt.param_groups[0]["lr"] == 0.1
        assert "momentum" not in opt.param_groups[0] and "betas" not in opt.param_groups[0]
        sched = S.LRScheduler(opt, S.one_cycle(0.1, 10, cycle_momentum=False))
        assert_close(opt.param_groups[0]["lr"], 0.1 / 25.0, F64)
        assert sched.get_last_momentum() == [None]


def test_lr_scheduler_failure_leaves_momentum_and_lr_unchanged():
    p = np.zeros(3)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    sched = S.LRScheduler(opt, S.one_cycle(0.1, 3))
    for _ in range(3):
        sched.step()
    before = dict(opt.param_groups[0])
    with pytest.raises(descent.InvalidArgumentError):
        sched.step()
    assert opt.param_groups[0]["lr"] == before["lr"] and opt.param_groups[0]["momentum"] == before["momentum"]
    assert sched.last_step == 3
    adam = optim.Adam([np.zeros(2)], lr=0.1)
    sched = S.LRScheduler(adam, S.one_cycle(0.1, 3))
    adam.param_groups[0]["betas"] = 0.5
    with pytest.raises(TypeError):
        sched.step()
    assert adam.param_groups[0]["betas"] == 0.5 and adam.param_groups[0]["lr"] == S.one_cycle(0.1, 3)(0)
    assert sched.last_step == 0


def test_lr_scheduler_load_state_dict_reapplies_momentum():
    opt = optim.SGD([np.zeros(2)], lr=0.1, momentum=0.9)
    schedule = S.one_cycle(0.1, 50, three_phase=True)
    sched = S.LRScheduler(opt, schedule)
    fresh = S.LRScheduler(optim.SGD([np.zeros(2)], lr=0.1, momentum=0.9), schedule)
    for _ in range(20):
        sched.step()
    fresh.load_state_dict(sched.state_dict())
    assert fresh.optimizer.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"] == schedule.momentum(20)


# -- composites carry the momentum cycle (they used to drop it silently) -------------------------

def test_warmup_into_one_cycle_holds_max_momentum_then_cycles():
    total, warmup = 40, 7
    cycling = S.one_cycle(0.3, total, pct_start=0.25, base_momentum=0.8, max_momentum=0.92)
    composite = S.with_warmup(cycling, warmup)
    assert composite.cycles_momentum
    _lr, want_m = one_cycle_reference(0.3, total, 0.25, "cos", 25.0, 1e4, False, 0.8, 0.92)
    expected = np.concatenate([np.full(warmup, want_m[0]), want_m])
    got = np.array([composite.momentum(t) for t in range(warmup + total + 1)])
    assert_close(got, expected, F64)
    assert_close(composite.momenta(warmup + total + 1), expected, F64)
    with pytest.raises(descent.InvalidArgumentError):
        composite.momentum(warmup + total + 1)     # past the one-cycle's total_steps, like its rate
    with pytest.raises(descent.InvalidArgumentError):
        composite.momentum(-1)


def test_sequential_holds_the_momentum_a_cycle_ended_with():
    first = S.one_cycle(0.3, 20, base_momentum=0.8, max_momentum=0.9, anneal_strategy="linear")
    second = S.one_cycle(0.1, 10, base_momentum=0.5, max_momentum=0.7)
    composite = S.sequential([S.constant(0.05), first, S.constant(0.01), second, S.constant(0.001)],
                             [3, 18, 30, 40])
    _, m1 = one_cycle_reference(0.3, 20, 0.3, "linear", 25.0, 1e4, False, 0.8, 0.9)
    _, m2 = one_cycle_reference(0.1, 10, 0.3, "cos", 25.0, 1e4, False, 0.5, 0.7)
    expected = np.concatenate([
        np.full(3, m1[0]),          # before any cycle ran: the next one's max_momentum
        m1[:15],                    # steps 3..17: the first cycle at its own steps 0..14
        np.full(12, m1[14]),        # steps 18..29: held at the first cycle's last step (14)
        m2[:10],                    # steps 30..39: the second cycle
        np.full(25, m2[9]),         # from 40 on: held at the second cycle's last step
    ])
    got = np.array([composite.momentum(t) for t in range(65)])
    assert_close(got, expected, F64)
    # A cycling part cut off past its total_steps holds its momentum at total_steps.
    short = S.sequential([S.one_cycle(0.1, 10), S.constant(0.01)], [15])
    _, m = one_cycle_reference(0.1, 10, 0.3, "cos", 25.0, 1e4, False, 0.85, 0.95)
    assert_close(short.momentum(20), m[10], F64)


def test_lr_scheduler_applies_a_warmup_composites_momentum(dtype):
    p = np.zeros(4, dtype=dtype)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    total, warmup = 30, 5
    sched = S.LRScheduler(opt, S.with_warmup(S.one_cycle(0.2, total), warmup), override_lr=True)
    _lr, want_m = one_cycle_reference(0.2, total, 0.3, "cos", 25.0, 1e4, False, 0.85, 0.95)
    expected = np.concatenate([np.full(warmup, want_m[0]), want_m])
    for t in range(warmup + total):
        assert_close(opt.param_groups[0]["momentum"], expected[t], F64)
        assert_close(sched.get_last_momentum()[0], expected[t], F64)
        opt.step([gradient(p.astype(F64)).astype(dtype)])
        sched.step()


@pytest.mark.parametrize("make", [lambda: S.one_cycle(total_steps=12), lambda: S.with_warmup(S.one_cycle(total_steps=9), 3)],
                         ids=["one_cycle", "warmup_one_cycle"])
@pytest.mark.parametrize("cls, key", [(optim.SGD, "momentum"), (optim.Adam, "betas")])
def test_fit_with_a_momentum_cycling_schedule_equals_lr_scheduler_driving_it(make, cls, key):
    # The trainer applies the schedule inside the library; LRScheduler drives the same schedule
    # from Python. Same lr and momentum per step, so the runs are bit-identical (the trainer used to
    # set only the lr: a one-cycle's momentum was dropped).
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)
    results = []
    for native in (True, False):
        model = descent.MLP([3, 4, 2], seed=3)
        opt = cls(model.parameters(), lr=0.05, **({"momentum": 0.3} if cls is optim.SGD else {}))  # the peak
        schedule = make() if native else S.LRScheduler(opt, make())
        descent.fit(model, opt, x, y, epochs=3, batch_size=8, shuffle=False, schedule=schedule, progress=False)
        results.append(([p.copy() for p in model.parameters()], opt.param_groups[0][key]))
    (native_params, native_m), (driven_params, driven_m) = results
    for a, b in zip(native_params, driven_params):
        np.testing.assert_array_equal(a, b)
    # 3 epochs of 3 batches: before the 9th step the trainer set momentum(8), last.
    schedule = make()
    native_m = native_m if key == "momentum" else native_m[0]
    assert native_m == schedule.momentum(8) and native_m != schedule.momentum(0)


@pytest.mark.parametrize("cls", [optim.Adagrad, optim.Adadelta])
def test_a_trainer_refuses_a_momentum_cycle_for_an_optimizer_without_momentum(cls):
    model = descent.MLP([3, 2], seed=0)
    opt = cls(model.parameters())
    with pytest.raises(descent.InvalidArgumentError, match=f"cycles momentum, but {cls.__name__} has neither"):
        descent.Trainer(model, opt, schedule=S.with_warmup(S.one_cycle(total_steps=10), 2))
    trainer = descent.Trainer(model, opt, schedule=S.one_cycle(total_steps=10, cycle_momentum=False))
    trainer.close()
