"""Every learning-rate schedule against a closed form written here in plain Python/NumPy from the
formula (PyTorch's closed forms where PyTorch has the schedule), over many steps on both sides of
every milestone, restart and phase boundary."""
import math

import numpy as np
import pytest

from descent import schedules as S
from reference import assert_close

F64 = np.float64
STEPS = 400


def check(schedule, reference, steps=STEPS):
    """schedule(t) one at a time and values() in one call, both against reference(t)."""
    expected = np.array([reference(t) for t in range(steps)], dtype=np.float64)
    single = np.array([schedule(t) for t in range(steps)])
    assert_close(single, expected, F64)
    assert_close(schedule.values(steps), expected, F64)
    # evaluation has no side effects: any order, any repetition gives the same numbers
    for t in (steps - 1, 0, steps // 2, 0, steps - 1):
        assert schedule(t) == single[t]


# -- the textbook decays ------------------------------------------------------------------------

def test_textbook_inverse_time_table():
    # deeplearning.ai's learning-rate decay: alpha0 = 0.2, decay rate 1.0 -> epochs 1..4: 0.1, 0.067, 0.05, 0.04
    s = S.inverse_time(0.2, 1.0)
    assert s(0) == 0.2
    assert abs(s(1) - 0.1) < 1e-15
    assert abs(s(2) - 0.2 / 3) < 1e-15 and round(s(2), 3) == 0.067
    assert abs(s(3) - 0.05) < 1e-15
    assert abs(s(4) - 0.04) < 1e-15


@pytest.mark.parametrize("lr0,decay_rate", [(0.2, 1.0), (0.5, 0.01), (1e-3, 0.0)])
def test_inverse_time(lr0, decay_rate):
    check(S.inverse_time(lr0, decay_rate), lambda t: lr0 / (1.0 + decay_rate * t))


@pytest.mark.parametrize("lr0,gamma", [(0.1, 0.95), (1.0, 0.5), (0.3, 1.0)])
def test_exponential(lr0, gamma):
    # textbook: alpha = 0.95^epoch * alpha0
    check(S.exponential(lr0, gamma), lambda t: gamma ** t * lr0)


def test_exponential_textbook_095():
    s = S.exponential(0.2, 0.95)
    assert_close([s(0), s(1), s(2), s(10)], [0.2, 0.19, 0.1805, 0.2 * 0.95 ** 10], F64)


@pytest.mark.parametrize("k,offset", [(1.0, 1.0), (0.5, 1.0), (2.0, 10.0)])
def test_inverse_sqrt(k, offset):
    # textbook: alpha = k / sqrt(epoch) * alpha0  (and k / sqrt(t) * alpha0 per minibatch)
    check(S.inverse_sqrt(0.3, k=k, offset=offset), lambda t: k / math.sqrt(t + offset) * 0.3)


def test_inverse_sqrt_textbook_epoch_numbers():
    # with offset 1, step t is the textbook's epoch number t + 1
    s = S.inverse_sqrt(0.2, k=0.9, offset=1.0)
    for epoch in range(1, 20):
        assert_close(s(epoch - 1), 0.9 / math.sqrt(epoch) * 0.2, F64)


@pytest.mark.parametrize("power", [1.0, 0.25, 2.0])
def test_inverse_power(power):
    check(S.inverse_power(0.4, k=3.0, power=power, offset=2.5), lambda t: 0.4 * 3.0 / (t + 2.5) ** power)


@pytest.mark.parametrize("step_size,gamma", [(30, 0.1), (1, 0.9), (7, 0.5)])
def test_step_decay(step_size, gamma):
    # staircase: constant inside each stair, drops exactly at multiples of step_size
    s = S.step_decay(0.1, step_size, gamma)
    check(s, lambda t: 0.1 * gamma ** (t // step_size))
    for boundary in range(step_size, STEPS, step_size):
        assert s(boundary) < s(boundary - 1) or gamma == 1.0


def test_multi_step():
    milestones = [30, 80, 80, 250]          # repeated milestone applies gamma twice (PyTorch)

    def reference(t):
        passed = sum(1 for m in milestones if m <= t)
        return 0.05 * 0.1 ** passed

    s = S.multi_step(0.05, [250, 80, 30, 80], gamma=0.1)  # any order
    check(s, reference)
    assert_close([s(29), s(30), s(79), s(80), s(249), s(250)],
                 [0.05, 0.005, 0.005, 0.00005, 0.00005, 0.000005], F64)


def test_multi_step_no_milestones_is_constant():
    check(S.multi_step(0.2, [], gamma=0.5), lambda t: 0.2)


def test_piecewise_constant_manual_setting():
    boundaries, values = [10, 100, 101], [0.1, 0.05, 0.01, 0.001]

    def reference(t):
        index = 0
        while index < len(boundaries) and boundaries[index] <= t:
            index += 1
        return values[index]

    s = S.piecewise_constant(boundaries, values)
    check(s, reference)
    assert [s(9), s(10), s(99), s(100), s(101)] == [0.1, 0.05, 0.05, 0.01, 0.001]


def test_constant():
    check(S.constant(0.0125), lambda t: 0.0125)


# -- modern schedules ---------------------------------------------------------------------------

@pytest.mark.parametrize("t_max,eta_min", [(100, 0.0), (37, 1e-4), (1, 0.01)])
def test_cosine_annealing(t_max, eta_min):
    lr0 = 0.1
    s = S.cosine_annealing(lr0, t_max, eta_min)
    check(s, lambda t: eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2)
    assert s(0) == lr0
    assert_close(s(t_max), eta_min, F64)


def sgdr_reference(lr0, t_0, t_mult, eta_min, steps):
    """Cycle by cycle: lengths t_0, t_0*t_mult, ...; cosine inside each."""
    out, length = [], t_0
    while len(out) < steps:
        for position in range(length):
            out.append(eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * position / length)) / 2)
        length *= t_mult
    return out[:steps]


@pytest.mark.parametrize("t_0,t_mult,eta_min", [(10, 1, 0.0), (10, 2, 1e-3), (3, 3, 0.0), (1, 2, 0.0), (50, 1, 1e-5)])
def test_cosine_warm_restarts(t_0, t_mult, eta_min):
    lr0 = 0.2
    expected = sgdr_reference(lr0, t_0, t_mult, eta_min, STEPS)
    s = S.cosine_warm_restarts(lr0, t_0, t_mult=t_mult, eta_min=eta_min)
    check(s, lambda t: expected[t])
    # the rate jumps back to lr0 at every restart
    restart, length, previous = 0, t_0, 0
    while restart < STEPS:
        assert s(restart) == lr0
        if previous > 1:   # the cycle ending here had room to decay
            assert s(restart - 1) < lr0
        restart += length
        previous, length = length, length * t_mult


def test_cosine_warm_restarts_far_steps_exact_integer_cycles():
    # t_mult = 2, t_0 = 1: restarts at 2^n - 1 exactly, even at steps float log() would misplace
    s = S.cosine_warm_restarts(1.0, 1, t_mult=2)
    for n in (20, 40, 62):
        restart = 2 ** n - 1
        assert s(restart) == 1.0
        cycle = 2 ** (n - 1)
        assert_close(s(restart - 1), 0.5 * (1 + math.cos(math.pi * (cycle - 1) / cycle)), F64)


@pytest.mark.parametrize("start,end,total", [(1 / 3, 1.0, 5), (0.0, 1.0, 100), (1.0, 0.1, 50), (0.5, 0.5, 3)])
def test_linear(start, end, total):
    lr0 = 0.05
    check(S.linear(lr0, start, end, total), lambda t: lr0 * (start + (end - start) * min(t, total) / total))


def test_linear_pytorch_defaults():
    s = S.linear(0.05)   # start_factor 1/3, end_factor 1, total_iters 5
    assert_close([s(t) for t in range(7)], [0.05 * (1 / 3 + (2 / 3) * min(t, 5) / 5) for t in range(7)], F64)


def test_linear_warmup():
    s = S.linear_warmup(0.1, warmup_steps=10)
    check(s, lambda t: 0.1 * min(t, 10) / 10)


@pytest.mark.parametrize("total,power,end_lr", [(5, 1.0, 0.0), (100, 2.0, 0.0), (250, 0.5, 1e-4), (1, 1.0, 0.0)])
def test_polynomial(total, power, end_lr):
    lr0 = 0.1
    check(S.polynomial(lr0, total, power, end_lr),
          lambda t: (lr0 - end_lr) * (1 - min(t, total) / total) ** power + end_lr)


def one_cycle_reference(max_lr, total, pct, anneal, div, final_div, three_phase, t):
    """Written from PyTorch OneCycleLR's documentation: piecewise phases with real-valued ends."""
    initial = max_lr / div
    minimum = initial / final_div
    if three_phase:
        ends = [pct * total - 1, 2 * pct * total - 2, total - 1]
        rates = [(initial, max_lr), (max_lr, initial), (initial, minimum)]
    else:
        ends = [pct * total - 1, total - 1]
        rates = [(initial, max_lr), (max_lr, minimum)]
    begin = 0.0
    for index, end in enumerate(ends):
        if t <= end or index == len(ends) - 1:
            fraction = (t - begin) / (end - begin)
            a, b = rates[index]
            if anneal == "cos":
                return b + (a - b) * (math.cos(math.pi * fraction) + 1) / 2
            return a + (b - a) * fraction
        begin = end
    raise AssertionError("unreachable")


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total,pct", [(100, 0.3), (1000, 0.25), (37, 0.4)])
def test_one_cycle(anneal, three_phase, total, pct):
    args = (0.5, total, pct, anneal, 25.0, 1e4, three_phase)
    s = S.one_cycle(0.5, total, pct_start=pct, anneal_strategy=anneal, three_phase=three_phase)
    check(s, lambda t: one_cycle_reference(*args, t), steps=total + 1)
    # anchors: starts at max_lr/div_factor, peaks at max_lr at the end of the first phase
    assert_close(s(0), 0.5 / 25.0, F64)
    if float(pct * total - 1).is_integer():
        assert_close(s(int(pct * total - 1)), 0.5, F64)
    assert_close(s(total - 1), 0.5 / 25.0 / 1e4, F64, atol_scale=1e-3)


def test_one_cycle_custom_factors():
    args = (2.0, 200, 0.1, "cos", 10.0, 100.0, False)
    s = S.one_cycle(2.0, 200, pct_start=0.1, div_factor=10.0, final_div_factor=100.0)
    check(s, lambda t: one_cycle_reference(*args, t), steps=201)


def test_sequential_and_with_warmup():
    lr0, warm, t_max = 0.1, 20, 200
    cosine = S.cosine_annealing(lr0, t_max)
    s = S.with_warmup(cosine, warm)

    def reference(t):
        if t < warm:
            return lr0 * t / warm
        return lr0 * (1 + math.cos(math.pi * (t - warm) / t_max)) / 2

    check(s, reference)
    cosine.close()          # the composite keeps its parts alive
    check(s, reference)


def test_sequential_three_parts():
    parts = [S.constant(0.01), S.exponential(0.1, 0.9), S.step_decay(0.05, 10, 0.5)]
    s = S.sequential(parts, [5, 50])

    def reference(t):
        if t < 5:
            return 0.01
        if t < 50:
            return 0.1 * 0.9 ** (t - 5)
        return 0.05 * 0.5 ** ((t - 50) // 10)

    check(s, reference)


def test_with_warmup_start_factor():
    s = S.with_warmup(S.exponential(0.2, 0.99), warmup_steps=8, start_factor=0.25)

    def reference(t):
        if t < 8:
            return 0.2 * (0.25 + 0.75 * t / 8)
        return 0.2 * 0.99 ** (t - 8)

    check(s, reference)


def test_repr_and_close():
    s = S.cosine_annealing(0.1, 10)
    assert "cosine_annealing" in repr(s)
    s.close()
    s.close()
    assert "closed" in repr(s)


def test_iterables_and_numpy_integers_as_milestones():
    s = S.multi_step(1.0, (m for m in np.array([3, 6])), gamma=0.5)
    assert [s(t) for t in (2, 3, 6)] == [1.0, 0.5, 0.25]
    assert s.parameters["milestones"] == [3, 6]
    p = S.piecewise_constant(iter([2]), iter([0.3, 0.1]))
    assert [p(1), p(2)] == [0.3, 0.1]
    assert S.cosine_annealing(np.float32(0.5), np.int64(10))(np.int32(10)) == 0.0
