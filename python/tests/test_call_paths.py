"""The two ways the package calls libdescent's steps: the compiled extension descent._accel
(Optimizer.step()'s hot path and every descent.functional rule) and ctypes alone (the fallback:
$DESCENT_NO_ACCEL=1, or a Python the extension was not built for).

Both paths must give the same bits and, for a wrong argument, the same exception with the same
message and nothing written. The values themselves are checked against the NumPy references on
both paths in test_optim_functional.py (its `call_path` fixture); here the ctypes path is the
reference for the extension. Also here: the param-group edit tracking that lets step() skip
re-reading every setting (each way of editing a group still takes effect at the next step)."""
import copy
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import descent
from descent import _ffi, functional, optim
from conftest import skip_or_fail
from optim_reference import VARIANTS, variant_id
from test_optim_functional import SLOTS, functional_step, make_state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ctypes_only(monkeypatch):
    monkeypatch.setattr(functional, "accel", None)
    monkeypatch.setattr(optim, "accel", None)


def test_the_compiled_path_is_built_and_in_use_in_tree():
    # `make` builds descent/_accel for the python3 on PATH: in the repository it must be in use,
    # or every speed figure of docs/optimizers.md silently measures the ctypes path.
    if os.environ.get("DESCENT_NO_ACCEL", "") not in ("", "0"):
        skip_or_fail("DESCENT_NO_ACCEL is set for this run")
    assert descent.accelerated()
    assert _ffi.accel is functional.accel is optim.accel is not None


def test_descent_no_accel_turns_it_off_and_the_package_still_works():
    code = ("import numpy as np, descent\n"
            "from descent import functional\n"
            "assert not descent.accelerated()\n"
            "p, g, m, v = np.ones(5), np.full(5, 0.5), np.zeros(5), np.zeros(5)\n"
            "functional.adam(p, g, m, v, step=1, lr=0.1)\n"
            "opt = descent.optim.SGD([np.ones(3)], lr=0.5)\n"
            "opt.grads[0][...] = 1.0\n"
            "opt.step()\n"
            "print(p[0], opt.param_groups[0]['params'][0][0])\n")
    env = dict(os.environ, DESCENT_NO_ACCEL="1", PYTHONPATH=os.path.join(ROOT, "python"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    adam, sgd = map(float, out.stdout.split())
    # Adam's first step moves by lr (m̂ / sqrt(v̂) = g / |g| = 1, eps aside); SGD by lr * g.
    assert adam == pytest.approx(0.9, abs=1e-7)
    assert sgd == 0.5


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_every_rule_gives_the_same_bits_on_both_paths(variant, dtype, rng, monkeypatch):
    rule, options = variant
    n = 203
    param0 = rng.standard_normal(n).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(6)]
    results = []
    for path in ("accel", "ctypes"):
        if path == "ctypes":
            ctypes_only(monkeypatch)
        param = param0.copy()
        state = make_state(rule, options, param)
        for t, grad in enumerate(grads, start=1):
            functional_step(rule, options, param, grad, state, t)
        results.append([param] + [state[name] for name in sorted(state)])
    for accel_array, ctypes_array in zip(*results):
        assert accel_array.tobytes() == ctypes_array.tobytes()


def _arrays(dtype=np.float32, n=8):
    return [np.linspace(0.5, 1.5, n).astype(dtype), np.full(n, 0.25, dtype), np.zeros(n, dtype), np.zeros(n, dtype)]


class Sub(np.ndarray):
    pass


def _bad_calls():
    """(id, call(p, g, m, v)) pairs that must fail: each argument wrong in each way."""
    f = functional
    readonly = np.zeros(8, np.float32)
    readonly.flags.writeable = False
    backing = np.zeros(9 * 4 + 1, np.uint8)
    misaligned = backing[1:].view(np.float32)  # 8 float32 at an odd address
    assert misaligned.ctypes.data % 4 != 0
    return [
        ("param float16", lambda p, g, m, v: f.adam(p.astype(np.float16), g, m, v, step=1)),
        ("grad float64", lambda p, g, m, v: f.adam(p, g.astype(np.float64), m, v, step=1)),
        ("state shape", lambda p, g, m, v: f.adam(p, g, m[:4], v, step=1)),
        ("grad shape", lambda p, g, m, v: f.adam(p, g.reshape(2, 4), m, v, step=1)),
        ("param strided", lambda p, g, m, v: f.adam(np.zeros(16, np.float32)[::2], g, m, v, step=1)),
        ("state read-only", lambda p, g, m, v: f.adam(p, g, readonly, v, step=1)),
        ("param read-only", lambda p, g, m, v: f.sgd(readonly, g, step=1)),
        ("state misaligned", lambda p, g, m, v: f.adam(p, g, misaligned, v, step=1)),
        ("param a list", lambda p, g, m, v: f.adam(list(p), g, m, v, step=1)),
        ("state a list", lambda p, g, m, v: f.adam(p, g, [0.0] * 8, v, step=1)),
        ("step a bool", lambda p, g, m, v: f.adam(p, g, m, v, step=True)),
        ("step a float", lambda p, g, m, v: f.adam(p, g, m, v, step=1.0)),
        ("step too big", lambda p, g, m, v: f.adam(p, g, m, v, step=2 ** 70)),
        ("step 0", lambda p, g, m, v: f.adam(p, g, m, v, step=0)),
        ("lr a string", lambda p, g, m, v: f.adam(p, g, m, v, step=1, lr="0.1")),
        ("lr negative", lambda p, g, m, v: f.adam(p, g, m, v, step=1, lr=-1.0)),
        ("lr nan", lambda p, g, m, v: f.adam(p, g, m, v, step=1, lr=float("nan"))),
        ("beta1 1.5", lambda p, g, m, v: f.adam(p, g, m, v, step=1, betas=(1.5, 0.999))),
        ("amsgrad without its buffer", lambda p, g, m, v: f.adam(p, g, m, v, step=1, amsgrad=True)),
        ("momentum without a buffer", lambda p, g, m, v: f.sgd(p, g, None, step=2, momentum=0.9)),
        ("rmsprop centered without grad_avg", lambda p, g, m, v: f.rmsprop(p, g, m, None, step=1, centered=True)),
        ("nan gradient, checked", lambda p, g, m, v: f.adam(p, np.full(8, np.nan, np.float32), m, v, step=1,
                                                            check_finite=True)),
        ("nadam mu_product float32", lambda p, g, m, v: f.nadam(p, g, m, v, np.ones(1, np.float32), step=1)),
        ("nadam mu_product of 2", lambda p, g, m, v: f.nadam(p, g, m, v, np.ones(2), step=1)),
        ("nadam mu_product read-only", lambda p, g, m, v: f.nadam(p, g, m, v, _readonly_one(), step=1)),
    ]


def _readonly_one():
    one = np.ones(1)
    one.flags.writeable = False
    return one


@pytest.mark.parametrize("case", _bad_calls(), ids=lambda case: case[0])
def test_a_wrong_call_fails_alike_on_both_paths_and_writes_nothing(case, monkeypatch):
    _, call = case
    outcomes = []
    for path in ("accel", "ctypes"):
        if path == "ctypes":
            ctypes_only(monkeypatch)
        arrays = _arrays()
        before = [a.copy() for a in arrays]
        with pytest.raises(Exception) as caught:
            call(*arrays)
        for array, old in zip(arrays, before):
            np.testing.assert_array_equal(array, old)
        outcomes.append((type(caught.value), str(caught.value)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] is not Exception and outcomes[0][1]


def test_an_ndarray_subclass_and_other_accepted_inputs_step_on_both_paths(monkeypatch):
    # What the checks accept, the extension must step too (or hand to ctypes): a subclass, a 2-D
    # array, a 0-d step given as numpy.int64, scalars given as numpy floats or ints.
    results = []
    for path in ("accel", "ctypes"):
        if path == "ctypes":
            ctypes_only(monkeypatch)
        p = np.linspace(0, 1, 12).reshape(3, 4).view(Sub)
        g, m, v = np.full((3, 4), 0.5), np.zeros((3, 4)), np.zeros((3, 4))
        functional.adam(p, g, m, v, step=np.int64(1), lr=np.float32(0.25), eps=1, weight_decay=np.float64(0.1))
        functional.adam(p, g, m, v, step=2, lr=0.25)
        results.append(np.asarray(p).copy())
    assert results[0].tobytes() == results[1].tobytes()
    assert not np.array_equal(results[0], np.linspace(0, 1, 12).reshape(3, 4))


def test_functional_steps_from_several_threads_at_once_match_sequential_ones(rng):
    # The extension releases the GIL around the C step, as ctypes does: threads stepping their own
    # arrays at the same time give exactly what one thread gives.
    starts = [rng.standard_normal(50_000).astype(np.float32) for _ in range(4)]
    grads = [rng.standard_normal(50_000).astype(np.float32) for _ in range(4)]

    def run(index, out):
        p, m, v = starts[index].copy(), np.zeros(50_000, np.float32), np.zeros(50_000, np.float32)
        for t in range(1, 31):
            functional.adam(p, grads[index], m, v, step=t, lr=1e-2)
        out[index] = p

    together, alone = {}, {}
    threads = [threading.Thread(target=run, args=(i, together)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        run(i, alone)
        assert together[i].tobytes() == alone[i].tobytes()


@pytest.mark.parametrize("rule", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_optimizer_steps_give_the_same_bits_on_both_paths(rule, rng, monkeypatch):
    cls = getattr(optim, rule)
    shapes = [(7,), (3, 5), (130_001,)]  # the last one is split over threads
    start = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    grads = [[rng.standard_normal(shape).astype(np.float32) for shape in shapes] for _ in range(4)]
    results = []
    for path in ("accel", "ctypes"):
        if path == "ctypes":
            ctypes_only(monkeypatch)
        params = [p.copy() for p in start]
        opt = cls(params, lr=1e-2)
        for step_grads in grads:
            for owned, g in zip(opt.grads, step_grads):
                owned[...] = g
            assert opt.step() is True
        results.append([p.tobytes() for p in params])
        opt.close()
    assert results[0] == results[1]


def test_a_skipped_step_and_a_refused_step_report_alike_on_both_paths(monkeypatch):
    for path in ("accel", "ctypes"):
        if path == "ctypes":
            ctypes_only(monkeypatch)
        p = np.ones(4, np.float32)
        skip = optim.SGD([p], lr=0.5, nonfinite="skip")
        skip.grads[0][...] = np.nan
        assert skip.step() is False and skip.step_count == 0
        skip.grads[0][...] = 1.0
        assert skip.step() is True
        np.testing.assert_array_equal(p, np.full(4, 0.5, np.float32))
        q = np.ones(4, np.float32)
        raising = optim.Adam([q])
        raising.grads[0][...] = np.inf
        with pytest.raises(descent.NonFiniteError):
            raising.step()
        np.testing.assert_array_equal(q, np.ones(4, np.float32))
        skip.close()
        raising.close()


# -- param-group edits ---------------------------------------------------------------------------
# SGD without momentum in float64: W := W*1 - lr*g, exactly p - lr*g, so each step's lr is read
# back from the parameter exactly.

def _sgd(lr=0.5):
    p = np.zeros(3)
    opt = optim.SGD([p], lr=lr)
    opt.grads[0][...] = 1.0
    return p, opt


def _lr_of_next_step(p, opt):
    before = p.copy()
    opt.step()
    return float(before[0] - p[0])


EDITS = {
    "setitem": lambda opt: opt.param_groups[0].__setitem__("lr", 0.125),
    "update": lambda opt: opt.param_groups[0].update(lr=0.125),
    "update from a dict": lambda opt: opt.param_groups[0].update({"lr": 0.125}),
    "in-place or": lambda opt: opt.param_groups[0].__ior__({"lr": 0.125}),
    "setdefault after pop": lambda opt: (opt.param_groups[0].pop("lr"), opt.param_groups[0].setdefault("lr", 0.125)),
    "popitem and back": lambda opt: _popitem_and_back(opt.param_groups[0]),
    "a new dict in the list": lambda opt: opt.param_groups.__setitem__(0, {**opt.param_groups[0], "lr": 0.125}),
    "load_state_dict": lambda opt: opt.load_state_dict(_state_with_lr(opt, 0.125)),
}


def _popitem_and_back(group):
    items = []
    while group:
        items.append(group.popitem())
    for key, value in reversed(items):
        group[key] = 0.125 if key == "lr" else value


def _state_with_lr(opt, lr):
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = lr
    return state


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_every_way_of_editing_a_group_applies_at_the_next_step(edit):
    p, opt = _sgd()
    assert _lr_of_next_step(p, opt) == 0.5
    EDITS[edit](opt)
    assert _lr_of_next_step(p, opt) == 0.125
    assert _lr_of_next_step(p, opt) == 0.125
    opt.close()


def test_a_dict_the_caller_put_into_param_groups_is_followed_without_a_counter():
    # A plain dict in param_groups counts no edits: step() then compares every setting each time,
    # so later edits of that dict still apply.
    p, opt = _sgd()
    mine = {**opt.param_groups[0]}
    opt.param_groups[0] = mine
    assert _lr_of_next_step(p, opt) == 0.5
    mine["lr"] = 0.25
    assert _lr_of_next_step(p, opt) == 0.25
    mine["lr"] = 0.125
    assert _lr_of_next_step(p, opt) == 0.125
    opt.close()


def test_a_refused_edit_is_refused_at_every_step_until_mended():
    p, opt = _sgd()
    opt.param_groups[0]["lr"] = -1.0
    for _ in range(2):
        with pytest.raises(descent.InvalidArgumentError):
            opt.step()
    np.testing.assert_array_equal(p, np.zeros(3))
    opt.param_groups[0]["lr"] = 0.25
    assert _lr_of_next_step(p, opt) == 0.25
    opt.close()


def test_a_schedule_setting_lr_each_step_is_followed():
    p, opt = _sgd(lr=1.0)
    sched = descent.schedules.LRScheduler(opt, descent.schedules.step_decay(step_size=1, gamma=0.5))
    seen = []
    for _ in range(4):
        seen.append(_lr_of_next_step(p, opt))
        sched.step()
    assert seen == [1.0, 0.5, 0.25, 0.125]
    sched.close()
    opt.close()


def test_copies_of_param_groups_are_plain_and_tied_to_nothing():
    p, opt = _sgd()
    for group in (copy.copy(opt.param_groups[0]), copy.deepcopy(opt.param_groups[0]),
                  pickle.loads(pickle.dumps({k: v for k, v in opt.param_groups[0].items() if k != "params"}))):
        assert type(group) is dict
    assert type(copy.deepcopy(opt.param_groups)) is list
    clone = copy.deepcopy(opt.param_groups[0])
    clone["lr"] = 0.25  # edits the copy only
    assert _lr_of_next_step(p, opt) == 0.5
    assert isinstance(opt.param_groups[0], dict) and opt.param_groups[0]["lr"] == 0.5
    opt.close()


def test_the_group_and_grads_lists_count_every_mutation():
    p, opt = _sgd()
    grads, groups = opt.grads, opt.param_groups
    for container, mutate in ((grads, lambda c: c.__setitem__(0, c[0])), (grads, lambda c: c.sort(key=id)),
                              (groups, lambda c: c.reverse()), (groups, lambda c: c.__iadd__([])),
                              (groups[0], lambda c: c.__setitem__("lr", c["lr"])),
                              (groups[0], lambda c: c.update())):
        before = container._edits[0]
        mutate(container)
        assert container._edits[0] == before + 1
    assert groups._edits is groups[0]._edits  # one counter for the list and its groups
    opt.close()


def test_the_extension_cannot_be_pointed_elsewhere_or_given_a_bad_handle():
    # The package binds descent._accel once at import; a second bind (which could aim it at any
    # address) is refused. No call takes an address; a handle that names nothing is libdescent's
    # InvalidHandleError status, and wrong argument counts are TypeErrors, never a crash.
    if _ffi.accel is None:
        skip_or_fail("descent._accel is not in use")
    accel = _ffi.accel
    with pytest.raises(RuntimeError, match="already bound"):
        accel.bind(1, (1,) * 10, np.ndarray, 1, 2)
    status = accel.optimizer_step(0xDEAD_BEEF_0000)
    assert isinstance(descent.error_for_status(status, ""), descent.InvalidHandleError)
    with pytest.raises(TypeError):
        accel.optimizer_step()
    with pytest.raises(TypeError):
        accel.rule(0, None)
    with pytest.raises(ValueError):
        accel.rule(99, None, None, (), 1, (), 0)
    p, g = np.zeros(3), np.ones(3)
    assert accel.rule(0, p, g, (None,), 1, (0.5, 0.0, 0.0, 0.0), 0) == 0  # SGD: W - lr g
    assert p.tolist() == [-0.5] * 3
    assert accel.rule(0, p, p, (None,), 1, (0.5, 0.0, 0.0, 0.0), 0) != 0  # the grad is the param: refused
    assert p.tolist() == [-0.5] * 3
