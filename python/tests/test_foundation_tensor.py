"""Tensor constructors, queries and copies against NumPy; the seeded generator against an
independent NumPy implementation of SplitMix64."""
import numpy as np
import pytest

import descent
from reference import assert_close

SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (0,), (2, 0, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_zeros_ones_full(shape, dtype):
    for made, expected in [
        (descent.zeros(shape, dtype), np.zeros(shape, dtype)),
        (descent.ones(shape, dtype), np.ones(shape, dtype)),
        (descent.full(shape, -2.75, dtype), np.full(shape, -2.75, dtype)),
    ]:
        array = made.numpy()
        assert array.dtype == dtype and array.shape == shape
        np.testing.assert_array_equal(array, expected)
        assert made.shape == shape and made.ndim == len(shape) and made.size == int(np.prod(shape))
        assert made.dtype == dtype


@pytest.mark.parametrize("args", [(0, 10, 1), (1.0, 3.0, 0.5), (5, -5, -1.5), (0, 1, 0.1), (3, 3, 1), (3, 1, 1)])
def test_arange(args, dtype):
    start, stop, step = args
    expected = np.arange(start, stop, step, dtype=np.float64).astype(dtype)
    actual = descent.arange(start, stop, step, dtype=dtype).numpy()
    assert actual.shape == expected.shape
    assert_close(actual, expected, dtype)


def test_arange_single_argument_counts_from_zero():
    np.testing.assert_array_equal(descent.arange(5).numpy(), np.arange(5.0))


@pytest.mark.parametrize("start,stop,num,endpoint", [(0, 1, 5, True), (0, 1, 5, False), (-3, 7, 11, True),
                                                      (2, -2, 4, True), (1, 1, 3, True), (0, 1, 1, True),
                                                      (0, 1, 0, True), (0.1, 0.9, 50, False)])
def test_linspace(start, stop, num, endpoint, dtype):
    expected = np.linspace(start, stop, num, endpoint=endpoint, dtype=np.float64).astype(dtype)
    actual = descent.linspace(start, stop, num, endpoint=endpoint, dtype=dtype).numpy()
    assert actual.shape == expected.shape
    assert_close(actual, expected, dtype)
    if endpoint and num > 1:
        assert actual[-1] == dtype.type(stop)


@pytest.mark.parametrize("shape", SHAPES)
def test_copy_in_and_out(shape, dtype, rng):
    data = rng.standard_normal(shape).astype(dtype)
    t = descent.tensor(data)
    data_before = data.copy()
    out = t.numpy()
    np.testing.assert_array_equal(out, data)
    data += 1  # the tensor holds a copy
    np.testing.assert_array_equal(t.numpy(), data_before)


def test_tensor_accepts_lists_ints_and_noncontiguous(rng):
    np.testing.assert_array_equal(descent.tensor([[1, 2], [3, 4]]).numpy(), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert descent.tensor([1, 2]).dtype == np.float64
    base = rng.standard_normal((4, 6))
    view = base[:, ::2].T
    np.testing.assert_array_equal(descent.tensor(view).numpy(), view)
    assert descent.tensor(base, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array([1.0], dtype=np.float16), np.array(["a"])])
def test_tensor_rejects_unsupported_dtypes(bad):
    with pytest.raises(descent.DTypeError):
        descent.tensor(bad)


def test_copy_from_overwrites_in_place(dtype, rng):
    t = descent.zeros((3, 4), dtype)
    data = rng.standard_normal(12).astype(dtype)
    t.copy_from(data)
    np.testing.assert_array_equal(t.numpy(), data.reshape(3, 4))
    assert t.shape == (3, 4)


def test_wrap_shares_memory_both_ways(dtype, rng):
    array = rng.standard_normal((5, 3)).astype(dtype)
    t = descent.wrap(array)
    assert t.is_wrapped
    array[0, 0] = 42
    assert t.numpy()[0, 0] == 42  # the tensor reads the array's memory
    t.scale_(2)
    assert array[0, 0] == 84  # and writes it
    t.close()
    assert array[0, 0] == 84  # closing leaves the array alone


def test_wrap_keeps_the_array_alive(rng):
    import gc
    t = descent.wrap(rng.standard_normal(1000))
    expected = t.numpy().copy()
    gc.collect()
    _ = [np.ones(1000) for _ in range(100)]  # churn the allocator
    np.testing.assert_array_equal(t.numpy(), expected)


@pytest.mark.parametrize("make, error, match", [
    (lambda: np.arange(10.0)[::2], descent.InvalidArgumentError, "C-contiguous"),        # not contiguous
    (lambda: np.arange(10, dtype=np.int64), descent.DTypeError, "float32 or float64"),    # wrong dtype
    (lambda: np.frombuffer(b"\0" * 80, dtype=np.float64), descent.InvalidArgumentError, "writeable"),  # read-only
])
def test_wrap_refuses_what_it_cannot_share(make, error, match):
    with pytest.raises(error, match=match) as caught:
        descent.wrap(make())
    assert type(caught.value) is error


def test_wrap_needs_an_ndarray():
    with pytest.raises(TypeError):
        descent.wrap([1.0, 2.0])


def test_clone_is_independent(dtype, rng):
    t = descent.tensor(rng.standard_normal((2, 3)).astype(dtype))
    c = t.clone()
    t.scale_(0)
    assert np.all(t.numpy() == 0) and not np.all(c.numpy() == 0)


def test_close_is_idempotent_and_context_manager_closes():
    t = descent.zeros(3)
    t.close()
    t.close()
    assert t.handle == 0
    with pytest.raises(descent.InvalidHandleError):
        t.numpy()
    with descent.ones(2) as u:
        assert u.sum() == 2.0
    with pytest.raises(descent.InvalidHandleError):
        u.sum()
    assert "closed" in repr(u)


# ---- the seeded generator, reimplemented independently in NumPy uint64 arithmetic ----------

def splitmix64(seed, n):
    """Outputs 0..n-1 of SplitMix64 started from state `seed` (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def test_splitmix64_reference_matches_published_sequence():
    # First outputs of SplitMix64 from state 0, as published with the algorithm (Vigna's splitmix64.c).
    assert [int(v) for v in splitmix64(0, 3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, 2**64 - 1])
def test_random_uniform_is_splitmix64(seed):
    shape = (4, 5, 3)
    n = 60
    bits = splitmix64(seed, n)
    expected64 = -2.0 + 5.0 * ((bits >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    actual64 = descent.random_uniform(shape, seed, low=-2, high=3, dtype=np.float64).numpy()
    np.testing.assert_array_equal(actual64.ravel(), expected64)  # bit-exact: no transcendental
    expected32 = (-2.0 + 5.0 * ((bits >> np.uint64(40)).astype(np.float64) * 2.0**-24)).astype(np.float32)
    actual32 = descent.random_uniform(shape, seed, low=-2, high=3, dtype=np.float32).numpy()
    np.testing.assert_array_equal(actual32.ravel(), expected32)


@pytest.mark.parametrize("seed", [0, 7, 2**64 - 1])
def test_random_normal_is_box_muller_over_splitmix64(seed, dtype):
    n = 500
    bits = splitmix64(seed, 2 * n)
    u1 = ((bits[0::2] >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53
    u2 = (bits[1::2] >> np.uint64(11)).astype(np.float64) * 2.0**-53
    expected = 1.5 + 0.5 * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    actual = descent.random_normal((n,), seed, mean=1.5, std=0.5, dtype=dtype).numpy()
    assert_close(actual, expected.astype(dtype), dtype)


def test_random_is_reproducible_and_seed_sensitive():
    a = descent.random_normal((100,), 3).numpy()
    np.testing.assert_array_equal(a, descent.random_normal((100,), 3).numpy())
    assert not np.array_equal(a, descent.random_normal((100,), 4).numpy())
    # element i depends only on (seed, i): a longer tensor extends a shorter one
    np.testing.assert_array_equal(descent.random_normal((250,), 3).numpy()[:100], a)


def test_random_statistics_are_plausible():
    x = descent.random_normal((200_000,), 11).numpy()
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
    u = descent.random_uniform((200_000,), 11).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005


def test_random_rejects_bad_parameters():
    with pytest.raises(descent.InvalidArgumentError):
        descent.random_normal(3, 1, std=-1)
    with pytest.raises(descent.InvalidArgumentError):
        descent.random_uniform(3, 1, low=2, high=1)
    with pytest.raises(descent.NonFiniteError):
        descent.random_uniform(3, 1, low=0, high=np.inf)
    with pytest.raises(descent.InvalidArgumentError):
        descent.random_uniform(3, -1)


def test_zero_dimensional_arrays_stay_zero_dimensional(dtype):
    t = descent.tensor(np.array(2.5, dtype=dtype))
    assert t.shape == () and t.ndim == 0 and t.size == 1
    out = t.numpy()
    assert out.shape == () and out == dtype.type(2.5)
    assert descent.tensor(3).shape == ()
