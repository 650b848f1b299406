"""Bad arguments to schedules give the specific typed error, and never a half-made object."""
import math

import pytest

import descent
from descent import schedules as S

BAD = descent.InvalidArgumentError

CASES = [
    # negative / non-finite learning rates
    (S.constant, (-0.1,)),
    (S.constant, (math.nan,)),
    (S.constant, (math.inf,)),
    (S.inverse_time, (-1.0, 1.0)),
    (S.inverse_time, (0.1, -1.0)),
    (S.exponential, (0.1, -0.5)),
    (S.exponential, (-0.1, 0.9)),
    (S.inverse_power, (0.1, 1.0, 0.5, 0.0)),        # zero offset: 1/sqrt(0) at t = 0
    (S.inverse_power, (0.1, 1.0, 0.5, -1.0)),
    (S.inverse_power, (0.1, -1.0, 0.5, 1.0)),
    (S.inverse_power, (0.1, 1.0, math.nan, 1.0)),
    # zero / negative periods
    (S.step_decay, (0.1, 0, 0.1)),
    (S.step_decay, (0.1, -5, 0.1)),
    (S.cosine_annealing, (0.1, 0)),
    (S.cosine_annealing, (0.1, 10, -0.001)),
    (S.cosine_warm_restarts, (0.1, 0)),
    (S.cosine_warm_restarts, (0.1, 10, 0)),
    (S.linear, (0.1, 0.5, 1.0, 0)),
    (S.linear, (0.1, -0.5, 1.0, 10)),
    (S.polynomial, (0.1, 0)),
    (S.polynomial, (0.1, 10, -1.0)),
    (S.polynomial, (0.1, 10, 1.0, -0.01)),
    (S.multi_step, (0.1, [10, -1])),
    (S.piecewise_constant, ([10, 10], [0.1, 0.01, 0.001])),   # not strictly increasing
    (S.piecewise_constant, ([0], [0.1, 0.01])),               # boundary 0 would hide values[0]
    (S.piecewise_constant, ([10], [0.1])),                    # wrong number of values
    (S.piecewise_constant, ([10], [0.1, -0.01])),
    # one-cycle
    (S.one_cycle, (0.1, 0)),
    (S.one_cycle, (-0.1, 100)),
    (S.one_cycle, (0.1, 100, 1.5)),
    (S.one_cycle, (0.1, 100, -0.1)),
    (S.one_cycle, (0.1, 10, 0.1)),                            # first phase of zero length
    (S.one_cycle, (0.1, 100, 0.3, "cosine")),                  # bad strategy string
    (S.one_cycle, (0.1, 100, 0.3, "cos", 0.0)),
    (S.one_cycle, (0.1, 100, 0.3, "cos", 25.0, -1.0)),
    # wrong types for integer / real arguments
    (S.step_decay, (0.1, 2.5)),
    (S.cosine_annealing, (0.1, "10")),
    (S.exponential, (0.1, "0.9")),
    (S.cosine_warm_restarts, (0.1, 10, 1.5)),
    (S.step_decay, (0.1, 2**70)),
]


@pytest.mark.parametrize("factory,args", CASES, ids=[f"{f.__name__}{a}" for f, a in CASES])
def test_bad_schedule_arguments(factory, args):
    with pytest.raises(BAD):
        factory(*args)


def test_negative_and_past_end_steps():
    s = S.exponential(0.1, 0.9)
    with pytest.raises(BAD):
        s(-1)
    with pytest.raises(BAD):
        s(1.5)
    with pytest.raises(BAD):
        s.values(3, start=-2)
    with pytest.raises(BAD):
        s.values(-1)
    cycle = S.one_cycle(1.0, 10)
    cycle(10)
    with pytest.raises(BAD):
        cycle(11)
    with pytest.raises(BAD):
        cycle.values(12)     # fails as a whole


def test_closed_schedule_is_invalid_handle():
    s = S.constant(0.1)
    s.close()
    with pytest.raises(descent.InvalidHandleError):
        s(0)
    with pytest.raises(descent.InvalidHandleError):
        S.sequential([S.constant(0.2), s], [5])


def test_sequential_bad_milestones_and_types():
    a, b = S.constant(0.1), S.constant(0.2)
    with pytest.raises(BAD):
        S.sequential([a, b], [])
    with pytest.raises(BAD):
        S.sequential([a, b], [0])
    with pytest.raises(BAD):
        S.sequential([a, b, a], [5, 5])
    with pytest.raises(BAD):
        S.sequential([], [])
    with pytest.raises(TypeError):
        S.sequential([a, 0.1], [5])
    with pytest.raises(TypeError):
        S.with_warmup(0.1, 10)
    with pytest.raises(BAD):
        S.with_warmup(a, 0)
    assert a(0) == 0.1 and b(0) == 0.2      # parts untouched


@pytest.mark.parametrize("kwargs", [
    dict(mode="minimum"), dict(mode=None), dict(threshold_mode="relative"), dict(factor=1.0),
    dict(factor=-0.1), dict(patience=-1), dict(cooldown=-1), dict(min_lr=-1e-3), dict(threshold=-0.1),
    dict(eps=math.nan), dict(lr=-0.1), dict(patience=2.0),
])
def test_bad_plateau_arguments(kwargs):
    arguments = dict(lr=0.1)
    arguments.update(kwargs)
    with pytest.raises(BAD):
        S.Plateau(**arguments)


def test_closed_plateau_and_bad_metric():
    p = S.Plateau(0.1)
    with pytest.raises(BAD):
        p.update("low")
    assert p.state()["updates"] == 0
    p.close()
    p.close()
    with pytest.raises(descent.InvalidHandleError):
        p.update(1.0)
    with pytest.raises(descent.InvalidHandleError):
        p.lr


def test_schedule_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        S.Schedule()


def test_plateau_counters_at_int64_max_do_not_trap():
    """Restored counters at INT64_MAX: the update counter cannot grow (typed error, nothing
    changes); num_bad_epochs saturates. Both were int64 overflows (a process-killing trap) before."""
    p = S.Plateau(0.1, patience=2**63 - 1)
    settings = dict(mode="min", factor=0.1, patience=2**63 - 1, threshold=1e-4, threshold_mode="rel", cooldown=0,
                    min_lr=0.0, eps=1e-8)
    p.load_state(dict(lr=0.1, best=1.0, num_bad_epochs=0, cooldown_counter=0, updates=2**63 - 1))
    with pytest.raises(BAD, match="update counter is at its maximum"):
        p.update(0.5)
    assert p.state() == dict(lr=0.1, best=1.0, num_bad_epochs=0, cooldown_counter=0, updates=2**63 - 1,
                             settings=settings)
    p.load_state(dict(lr=0.1, best=1.0, num_bad_epochs=2**63 - 1, cooldown_counter=0, updates=5))
    assert p.update(2.0) == 0.1  # a bad epoch; the count stays at INT64_MAX = patience, no reduction
    assert p.state() == dict(lr=0.1, best=1.0, num_bad_epochs=2**63 - 1, cooldown_counter=0, updates=6,
                             settings=settings)
