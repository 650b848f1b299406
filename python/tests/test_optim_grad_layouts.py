"""Optimizer.step(grads) reads every gradient fresh on every step, whatever its layout.

Regression tests for the Reliability issue, defect 1: a non-contiguous, Fortran-order or read-only
gradient is copied into a private buffer before C sees it; when the caller refilled the SAME array
in place and passed it again, the cached binding used to hand C the old copy (a silently wrong
update). References are plain NumPy arithmetic on copies of the parameters.
"""
import numpy as np
import pytest

import descent
from descent import optim
from optim_reference import Reference
from reference import assert_close


def strided(values):
    """A non-contiguous view holding `values` (every other row of a larger array)."""
    base = np.zeros((2 * values.shape[0],) + values.shape[1:], dtype=values.dtype)
    view = base[::2]
    view[...] = values
    return view


def fortran(values):
    out = np.asfortranarray(np.empty_like(values))
    out[...] = values
    return out


class ReadOnly:
    """A read-only view of a buffer the test refills in place (as a data loader would)."""

    def __init__(self, values):
        self.buffer = np.array(values, copy=True)
        self.view = self.buffer.view()
        self.view.flags.writeable = False

    def fill(self, values):
        self.buffer[...] = values


def test_the_issue_example_sgd_reads_the_refilled_strided_gradient():
    p = np.zeros((4, 6))
    opt = optim.SGD([p], lr=1.0)
    g = np.ones((8, 6))[::2]
    assert not g.flags.c_contiguous
    opt.step(g)
    g[...] = 100
    opt.step(g)
    # W = 0 - 1*1 - 1*100, element by element.
    assert np.array_equal(p, np.full((4, 6), -101.0))
    opt.close()


@pytest.mark.parametrize("layout", ["strided", "fortran", "readonly", "contiguous"])
def test_refilled_gradient_of_any_layout_is_read_every_step(layout, dtype, rng):
    shape = (5, 7)
    start = rng.standard_normal(shape).astype(dtype)
    param = start.copy()
    ref = Reference("adam", start, lr=1e-2)
    opt = optim.Adam([param], lr=1e-2)
    first = rng.standard_normal(shape).astype(dtype)
    if layout == "strided":
        grad = strided(first)
        refill = lambda values: grad.__setitem__(Ellipsis, values)  # noqa: E731
        passed = grad
    elif layout == "fortran":
        grad = fortran(first)
        assert grad.flags.f_contiguous and not grad.flags.c_contiguous
        refill = lambda values: grad.__setitem__(Ellipsis, values)  # noqa: E731
        passed = grad
    elif layout == "readonly":
        holder = ReadOnly(first)
        refill = holder.fill
        passed = holder.view
        assert not passed.flags.writeable
    else:
        grad = first.copy()
        refill = lambda values: grad.__setitem__(Ellipsis, values)  # noqa: E731
        passed = grad
    values = first
    for t in range(12):
        if t:
            values = rng.standard_normal(shape).astype(dtype)
            refill(values)
        opt.step(passed)              # the same array object every step
        ref.step(values)
    assert opt.step_count == 12
    assert_close(param, ref.param, dtype, rtol_scale=1)
    opt.close()


def test_mixed_layouts_over_several_params_all_refresh(rng):
    shapes = [(4, 3), (6,), (2, 5)]
    params = [rng.standard_normal(s) for s in shapes]
    expected = [p.copy() for p in params]
    opt = optim.SGD(params, lr=0.5)
    contiguous = np.zeros(shapes[0])
    noncontig = strided(np.zeros(shapes[1]))
    readonly = ReadOnly(np.zeros(shapes[2]))
    grads = [contiguous, noncontig, readonly.view]
    for _ in range(5):
        values = [rng.standard_normal(s) for s in shapes]
        contiguous[...] = values[0]
        noncontig[...] = values[1]
        readonly.fill(values[2])
        opt.step(grads)
        for e, v in zip(expected, values):
            e -= 0.5 * v
    for p, e in zip(params, expected):
        assert_close(p, e, np.float64, rtol_scale=1)
    opt.close()


def test_contiguous_writable_gradients_keep_the_cached_binding(rng):
    """The fast path stays: the same C-contiguous writable arrays are bound once, not per step."""
    params = [rng.standard_normal(8), rng.standard_normal((2, 3))]
    opt = optim.SGD(params, lr=0.1)
    grads = [np.ones(8), np.ones((2, 3))]
    opt.step(grads)
    tensors = list(opt._bound_tensors)
    handles = [t.handle for t in tensors]
    for _ in range(3):
        opt.step(grads)
    assert [t.handle for t in opt._bound_tensors] == handles
    assert all(a is b for a, b in zip(opt._bound_tensors, tensors))
    opt.close()


def test_a_bad_gradient_after_a_copied_binding_raises_and_changes_nothing(rng):
    param = rng.standard_normal((3, 4))
    opt = optim.SGD([param], lr=1.0)
    g = strided(np.ones((3, 4)))
    opt.step(g)
    before = param.copy()
    with pytest.raises(descent.ShapeError):
        opt.step(strided(np.ones((3, 5))))
    with pytest.raises(descent.DTypeError):
        opt.step(strided(np.ones((3, 4), dtype=np.float32)))
    assert np.array_equal(param, before)
    assert opt.step_count == 1
    g[...] = 2.0
    opt.step(g)
    assert_close(param, before - 2.0, np.float64, rtol_scale=1)
    opt.close()


def test_owned_grads_replaced_or_reordered_in_the_list_are_bound_afresh():
    """step() skips its per-array identity check while opt.grads (the list) is untouched; any
    mutation of the list (assignment, insert/pop, sort...) makes it look at the arrays again."""
    p = [np.zeros(3), np.zeros(2)]
    opt = optim.SGD(p, lr=1.0)
    opt.grads[0][...] = 1.0
    opt.grads[1][...] = 2.0
    opt.step()
    np.testing.assert_array_equal(p[0], [-1, -1, -1])
    np.testing.assert_array_equal(p[1], [-2, -2])
    replacement = np.full(3, 10.0)
    opt.grads[0] = replacement  # a new array in the owned list: it must be read, not the old one
    opt.step()
    np.testing.assert_array_equal(p[0], [-11, -11, -11])
    replacement[...] = 100.0  # filled in place: read fresh on the next step
    opt.step()
    np.testing.assert_array_equal(p[0], [-111, -111, -111])
    np.testing.assert_array_equal(p[1], [-6, -6])
    grads = opt.grads
    last = grads.pop()
    grads.append(np.full(2, 0.5))  # same length, another array
    opt.step()
    np.testing.assert_array_equal(p[1], [-6.5, -6.5])
    assert last is not grads[1]
    opt.close()


def test_owned_grads_holding_a_strided_view_are_read_fresh_on_every_step():
    """A non-contiguous array put into opt.grads is bound through a private copy; the hot path
    (untouched owned list) must still refresh that copy from the caller's array each step."""
    p = [np.zeros((4, 6)), np.zeros(2)]
    opt = optim.SGD(p, lr=1.0)
    base = np.ones((8, 6))
    opt.grads[0] = base[::2]  # a strided view: bound through a copy
    opt.step()
    np.testing.assert_array_equal(p[0], -np.ones((4, 6)))
    base[...] = 100.0  # refilled in place
    opt.step()
    np.testing.assert_array_equal(p[0], -101 * np.ones((4, 6)))
    opt.close()
