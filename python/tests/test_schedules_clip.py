"""Gradient clipping against NumPy references written from PyTorch's clip_grad_norm_ /
clip_grad_value_ formulas, float32 and float64, and bad input leaving every gradient unchanged."""
import math

import numpy as np
import pytest

import descent
from descent.clip import clip_grad_norm, clip_grad_value, total_norm
from reference import assert_close

SHAPES = [(7, 5), (300,), (), (0,), (2, 3, 4), (70000,)]


def make_grads(rng, dtype, scale=1.0):
    return [np.array(rng.standard_normal(shape) * scale, dtype=dtype) for shape in SHAPES]


def reference_norm(grads, p=2.0):
    flat = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])
    if p == math.inf:
        return float(np.max(np.abs(flat))) if flat.size else 0.0
    return float(np.sum(np.abs(flat) ** p) ** (1.0 / p))


def reference_clip(grads, max_norm, p=2.0):
    total = reference_norm(grads, p)
    if total <= max_norm:
        return total, [g.copy() for g in grads]
    coefficient = max_norm / (total + 1e-6)
    return total, [g * g.dtype.type(coefficient) for g in grads]


@pytest.mark.parametrize("max_norm", [0.5, 10.0, 1e6, 0.0])
def test_clip_grad_norm_matches_numpy(rng, dtype, max_norm):
    grads = make_grads(rng, dtype)
    total, expected = reference_clip(grads, max_norm)
    returned = clip_grad_norm(grads, max_norm)
    assert_close(returned, total, np.float64)          # the norm is accumulated in float64
    for got, want in zip(grads, expected):
        assert got.dtype == dtype
        assert_close(got, want, dtype)
    if max_norm < total:   # afterwards the norm is max_norm * total / (total + 1e-6)
        assert_close(reference_norm(grads), max_norm * total / (total + 1e-6), dtype, rtol_scale=10)


def test_below_threshold_is_bitwise_unchanged(rng, dtype):
    grads = make_grads(rng, dtype, scale=1e-3)
    before = [g.copy() for g in grads]
    total = clip_grad_norm(grads, 1e3)
    assert total < 1e3
    for got, want in zip(grads, before):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("p", [1.0, 3.0, 0.5, math.inf, "inf"])
def test_clip_grad_norm_other_norm_types(rng, dtype, p):
    grads = make_grads(rng, dtype)
    ref_p = math.inf if p == "inf" else p
    total, expected = reference_clip(grads, 0.25, ref_p)
    assert_close(clip_grad_norm(grads, 0.25, norm_type=p), total, np.float64, rtol_scale=100)
    for got, want in zip(grads, expected):
        assert_close(got, want, dtype, rtol_scale=100)


def test_clip_grad_norm_on_descent_tensors_and_mixed(rng, dtype):
    arrays = make_grads(rng, dtype)[:3]
    tensors = [descent.tensor(a) for a in arrays[:2]]
    total, expected = reference_clip(arrays, 1.0)
    mixed = tensors + [arrays[2]]
    assert_close(clip_grad_norm(mixed, 1.0), total, np.float64)
    assert_close(tensors[0].numpy(), expected[0], dtype)
    assert_close(tensors[1].numpy(), expected[1], dtype)
    assert_close(arrays[2], expected[2], dtype)


def test_single_array_and_empty_list(rng):
    g = rng.standard_normal(50)
    total, expected = reference_clip([g], 1.0)
    assert_close(clip_grad_norm(g, 1.0), total, np.float64)
    assert_close(g, expected[0], np.float64)
    assert clip_grad_norm([], 1.0) == 0.0
    clip_grad_value([], 1.0)


def test_norm_is_deterministic_and_total_norm_is_read_only(rng, dtype):
    grads = make_grads(rng, dtype, scale=3.0)
    before = [g.copy() for g in grads]
    first = total_norm(grads)
    assert all(total_norm(grads) == first for _ in range(5))
    for got, want in zip(grads, before):
        assert np.array_equal(got, want)
    assert_close(first, reference_norm(grads), np.float64)


def test_norm_does_not_overflow(dtype):
    big = np.finfo(dtype).max / 4
    grads = [np.full(4, big, dtype=dtype), np.full(3, big, dtype=dtype)]
    total = clip_grad_norm(grads, 1.0)
    assert math.isfinite(total)
    assert_close(total, float(big) * math.sqrt(7), np.float64, rtol_scale=10)
    assert_close(reference_norm(grads), 1.0, dtype, rtol_scale=10)


@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf])
def test_non_finite_norm_leaves_grads_unchanged(rng, dtype, poison):
    grads = make_grads(rng, dtype)[:3]
    grads[1].flat[17] = poison
    before = [g.copy() for g in grads]
    total = clip_grad_norm(grads, 1.0)
    assert not math.isfinite(total)
    assert math.isnan(total) == bool(np.isnan(poison))
    for got, want in zip(grads, before):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(descent.NonFiniteError):
        clip_grad_norm(grads, 1.0, error_if_nonfinite=True)
    with pytest.raises(descent.NonFiniteError):
        clip_grad_norm(grads, 1.0, norm_type=math.inf, error_if_nonfinite=True)
    for got, want in zip(grads, before):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("clip_value", [0.5, 0.0, 3.0, math.inf])
def test_clip_grad_value_matches_numpy(rng, dtype, clip_value):
    grads = make_grads(rng, dtype, scale=2.0)
    grads[0][0, 0] = np.nan
    grads[0][0, 1] = np.inf
    grads[0][0, 2] = -np.inf
    bound = dtype.type(clip_value)
    expected = [np.clip(g, -bound, bound) for g in grads]
    clip_grad_value(grads, clip_value)
    for got, want in zip(grads, expected):
        np.testing.assert_array_equal(got, want)        # clamping is exact (NaN stays NaN)
    assert np.isnan(grads[0][0, 0])


def test_clip_grad_value_on_tensors(rng, dtype):
    a = rng.standard_normal((40, 3)).astype(dtype)
    t = descent.tensor(a)
    clip_grad_value(t, 0.1)
    np.testing.assert_array_equal(t.numpy(), np.clip(a, dtype.type(-0.1), dtype.type(0.1)))


# -- bad input: the specific error, and every gradient unchanged ---------------------------------

def assert_unchanged(grads, before):
    for got, want in zip(grads, before):
        got = got.numpy() if isinstance(got, descent.Tensor) else got
        np.testing.assert_array_equal(got, want)


def snapshot(grads):
    return [(g.numpy() if isinstance(g, descent.Tensor) else g.copy()) for g in grads]


def test_mixed_dtypes_rejected(rng):
    grads = [rng.standard_normal(10) * 10, (rng.standard_normal(10) * 10).astype(np.float32)]
    before = snapshot(grads)
    with pytest.raises(descent.DTypeError):
        clip_grad_norm(grads, 0.1)
    with pytest.raises(descent.DTypeError):
        clip_grad_value(grads, 0.1)
    assert_unchanged(grads, before)


def test_stale_tensor_handle_rejected(rng, dtype):
    live = descent.tensor((rng.standard_normal(10) * 10).astype(dtype))
    stale = descent.tensor((rng.standard_normal(10) * 10).astype(dtype))
    array = (rng.standard_normal(10) * 10).astype(dtype)
    stale.close()
    grads = [live, array, stale]
    before = snapshot([live, array])
    with pytest.raises(descent.InvalidHandleError):
        clip_grad_norm(grads, 0.1)
    with pytest.raises(descent.InvalidHandleError):
        clip_grad_value(grads, 0.1)
    assert_unchanged([live, array], before)


def test_aliasing_rejected(rng):
    g = rng.standard_normal(10) * 10
    before = g.copy()
    with pytest.raises(descent.InvalidArgumentError):
        clip_grad_norm([g, g], 0.1)                      # would be scaled twice
    with pytest.raises(descent.InvalidArgumentError):
        clip_grad_norm([g[:6], g[4:]], 0.1)              # overlapping views
    t = descent.tensor(g)
    with pytest.raises(descent.InvalidArgumentError):
        clip_grad_value([t, t], 0.1)
    np.testing.assert_array_equal(g, before)
    np.testing.assert_array_equal(t.numpy(), before)


@pytest.mark.parametrize("call", [
    lambda g: clip_grad_norm(g, -1.0),
    lambda g: clip_grad_norm(g, math.nan),
    lambda g: clip_grad_norm(g, 1.0, norm_type=0.0),
    lambda g: clip_grad_norm(g, 1.0, norm_type=-2.0),
    lambda g: clip_grad_norm(g, 1.0, norm_type=math.nan),
    lambda g: clip_grad_norm(g, 1.0, norm_type="two"),
    lambda g: clip_grad_value(g, -0.5),
    lambda g: clip_grad_value(g, math.nan),
])
def test_bad_numbers_rejected(rng, call):
    grads = [rng.standard_normal(10) * 10, rng.standard_normal(3) * 10]
    before = snapshot(grads)
    with pytest.raises(descent.InvalidArgumentError):
        call(grads)
    assert_unchanged(grads, before)


def test_bad_arrays_rejected(rng):
    good = rng.standard_normal(10) * 10
    before = good.copy()
    strided = (rng.standard_normal(20) * 10)[::2]
    readonly = rng.standard_normal(5) * 10
    readonly.flags.writeable = False
    with pytest.raises(descent.InvalidArgumentError):
        clip_grad_norm([good, strided], 0.1)
    with pytest.raises(descent.InvalidArgumentError):
        clip_grad_value([good, readonly], 0.1)
    with pytest.raises(descent.DTypeError):
        clip_grad_norm([good, np.arange(4)], 0.1)
    with pytest.raises(TypeError):
        clip_grad_norm([good, [1.0, 2.0]], 0.1)
    with pytest.raises(TypeError):
        clip_grad_norm(3.0, 0.1)
    np.testing.assert_array_equal(good, before)


def test_gradient_group_matches_functions_over_many_steps(rng, dtype):
    arrays = [np.zeros(shape, dtype=dtype) for shape in SHAPES]
    with descent.clip.GradientGroup(arrays) as group:
        assert len(group) == len(SHAPES)
        for step in range(20):
            fresh = make_grads(rng, dtype, scale=0.5 + step % 3)
            for array, values in zip(arrays, fresh):
                array[...] = values                        # refill in place
            total, expected = reference_clip(fresh, 3.0)
            assert_close(group.norm(), total, np.float64)
            assert_close(group.clip_norm(3.0), total, np.float64)
            for got, want in zip(arrays, expected):
                assert_close(got, want, dtype)
        fresh = make_grads(rng, dtype, scale=2.0)
        for array, values in zip(arrays, fresh):
            array[...] = values
        group.clip_value(0.5)
        for got, want in zip(arrays, fresh):
            np.testing.assert_array_equal(got, np.clip(want, dtype.type(-0.5), dtype.type(0.5)))
    with pytest.raises(descent.InvalidHandleError):
        group.clip_norm(1.0)


def test_gradient_group_bad_input():
    with pytest.raises(descent.InvalidArgumentError):
        descent.clip.GradientGroup([np.zeros(4), np.zeros(8)[::2]])
    g = np.ones(4)
    group = descent.clip.GradientGroup([g, g])
    with pytest.raises(descent.InvalidArgumentError):
        group.clip_norm(0.1)                               # aliasing is caught on use
    np.testing.assert_array_equal(g, np.ones(4))
    group.close()
    group.close()
