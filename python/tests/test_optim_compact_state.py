"""Compact optimizer state (docs/optimizers.md, "Compact state"): bfloat16 and 8-bit blockwise
state against NumPy references written from the formulas (tests/compact_reference.py), bit for bit;
the same bits on every instruction-set path and thread count; memory; checkpoints; bad input."""
import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import descent
from descent import optim

import compact_reference as ref
from optim_reference import Reference

f32 = np.float32


def tricky(rng, n):
    """float32 values with bfloat16 ties, near-overflow, tiny, zero, negative zero."""
    x = (rng.standard_normal(n) * np.exp(rng.uniform(-20, 20, n))).astype(f32)
    bits = x.view(np.uint32)
    bits[::7] = (bits[::7] & 0xFFFF0000) | 0x8000   # exact ties
    x[::11] = 0.0
    x[::13] = -0.0
    x[5] = np.finfo(f32).max
    x[6] = 1e-40  # subnormal
    return x


# -- the formats against the references ---------------------------------------------------------------

def test_bf16_reference_rounds_to_nearest_even():
    one = f32(1.0)
    ulp = f32(2.0 ** -7)
    cases = np.array([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -20, -(1 + 2.0 ** -8)], f32)
    assert ref.bf16_nearest(cases).tolist() == [one, one + 2 * ulp, one + ulp, -one]
    special = np.array([np.inf, -np.inf, np.nan, np.finfo(f32).max], f32)
    out = ref.bf16_nearest(special)
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2]) and out[3] == np.inf


@pytest.mark.parametrize("state_dtype", ["bfloat16", "int8"])
def test_state_set_get_rounds_like_the_reference(state_dtype):
    rng = np.random.default_rng(1)
    n = 1000  # 3 full blocks and a partial one
    p = np.zeros(n, f32)
    opt = optim.Adam([p], state_dtype=state_dtype)
    for slot_name, signed in (("exp_avg", True), ("exp_avg_sq", False)):
        x = tricky(rng, n)
        if not signed:
            x = np.abs(x)
        x[900:] *= 1e-30  # the last block: tiny values
        state = opt.state_dict()
        state["state"][0][slot_name] = x
        opt.load_state_dict(state)
        got = opt.state_dict()["state"][0][slot_name]
        want = ref.bf16_nearest(x) if state_dtype == "bfloat16" else ref.q8_round(x, signed)
        assert got.dtype == f32
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    opt.close()


def test_int8_reference_map_and_errors():
    signed = ref.q8_table(True)
    assert signed.size == 128 and signed[1] == 1.125 * 2.0 ** -15 and signed[-1] == 1.875
    assert np.all(np.diff(signed) > 0)
    unsigned = ref.q8_table(False)
    assert unsigned.size == 256 and unsigned[1] == 1.125 * 2.0 ** -31 and unsigned[-1] == 1.875
    rng = np.random.default_rng(2)
    x = rng.standard_normal(4096).astype(f32)
    back = ref.q8_round(x, True)
    big = np.abs(x) > 1e-3 * np.abs(x).max()
    assert np.max(np.abs(back - x)[big] / np.abs(x)[big]) <= 1 / 16 + 1e-6  # 3 fraction bits


# -- steps against NumPy emulations ----------------------------------------------------------------------

def adam_emulation(params, grads, states, t, lr, store, flush_first, betas=(0.9, 0.999), eps=1e-8):
    """One Adam step in float32 with the kernel's operation order; `store(x, slot, param)` rounds."""
    b1, b2 = betas
    step, scale = f32(lr / (1 - b1 ** t)), f32(1 / math.sqrt(1 - b2 ** t))
    B1, C1, B2, C2, EPS = f32(b1), f32(1 - b1), f32(b2), f32(1 - b2), f32(eps)
    for index, (p, g) in enumerate(zip(params, grads)):
        m, v = states[index]
        if flush_first:  # 8-bit: a second moment stored as 0 zeroes the first moment it is read with
            m = np.where(v == 0, f32(0), m)
        gi = g * f32(1)
        first = B1 * m + C1 * gi
        second = B2 * v + C2 * gi * gi
        denominator = np.sqrt(second) * scale + EPS
        p[...] = p * f32(1) - step * first / denominator
        states[index] = (store(first, 0, index), store(second, 1, index))


SIZES = [(1000,), (7, 300), (5,), (256,), (3, 4, 50)]


def make_problem(seed):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(shape).astype(f32) for shape in SIZES]
    grads = [[(rng.standard_normal(shape) * 10.0 ** rng.uniform(-4, 1, shape)).astype(f32) for shape in SIZES]
             for _ in range(6)]
    for g in grads[2]:
        g.reshape(-1)[::9] = 0  # zero gradients: exact zeros in the state
    return params, grads


@pytest.mark.parametrize("state_dtype", ["bfloat16", "int8"])
def test_adam_steps_match_the_numpy_emulation_bit_for_bit(state_dtype):
    params, grads = make_problem(3)
    mine = [p.copy() for p in params]
    opt = optim.Adam(mine, lr=1e-2, state_dtype=state_dtype)
    theirs = [p.copy() for p in params]
    states = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    if state_dtype == "bfloat16":
        def store(x, slot, index):
            return ref.bf16_nearest(x).reshape(x.shape)
    else:
        def store(x, slot, index):
            return ref.q8_round(x.reshape(-1), slot == 0).reshape(x.shape)
    for t, step_grads in enumerate(grads, start=1):
        opt.step(step_grads)
        adam_emulation(theirs, step_grads, states, t, 1e-2, store, state_dtype == "int8")
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
    got = opt.state_dict()["state"]
    for index, (m, v) in enumerate(states):
        np.testing.assert_array_equal(got[index]["exp_avg"], m)
        np.testing.assert_array_equal(got[index]["exp_avg_sq"], v)
    opt.close()


def test_sgd_momentum_stochastic_rounding_matches_the_hash_reference():
    params, grads = make_problem(4)
    seed, lr, mu = 12345678901234567, 0.05, 0.9
    mine = [p.copy() for p in params]
    opt = optim.SGD(mine, lr=lr, momentum=mu, state_dtype="bfloat16", state_rounding="stochastic", seed=seed)
    assert (opt.state_dtype, opt.state_rounding, opt.state_seed) == ("bfloat16", "stochastic", seed)
    theirs = [p.copy() for p in params]
    buffers = [np.zeros_like(p) for p in params]
    for t, step_grads in enumerate(grads, start=1):
        opt.step(step_grads)
        for index, (p, g) in enumerate(zip(theirs, step_grads)):
            v = g * f32(1) if t == 1 else f32(mu) * buffers[index] + f32(1) * g
            buffers[index] = ref.bf16_stochastic(v.reshape(-1), ref.rounding_key(seed, t, index, 0)).reshape(p.shape)
            if index == 0:
                unrounded = v
            p[...] = p * f32(1) - f32(lr) * v
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)
    got = opt.state_dict()["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(got, buffers[0])
    assert not np.array_equal(ref.bf16_nearest(unrounded), got)  # the rounding was not to nearest
    opt.close()


def test_stochastic_rounding_is_unbiased():
    x = np.full(200_000, 1 + 2.0 ** -9, f32)  # a quarter of a bfloat16 step above 1
    rounded = ref.bf16_stochastic(x, ref.rounding_key(1, 1, 0, 0))
    assert set(np.unique(rounded)) == {f32(1), f32(1 + 2.0 ** -7)}
    assert abs(rounded.astype(np.float64).mean() - (1 + 2.0 ** -9)) < 2.0 ** -7 * 0.01


RULES = [("sgd", optim.SGD, dict(lr=0.05, momentum=0.9)), ("sgd", optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
         ("adagrad", optim.Adagrad, dict(lr=0.05, initial_accumulator_value=0.1)),
         ("adadelta", optim.Adadelta, dict()), ("rmsprop", optim.RMSprop, dict(momentum=0.5, centered=True)),
         ("adam", optim.Adam, dict(lr=1e-2, amsgrad=True)), ("adamw", optim.AdamW, dict(lr=1e-2)),
         ("adamax", optim.Adamax, dict()), ("nadam", optim.NAdam, dict()), ("radam", optim.RAdam, dict()),
         ("lion", optim.Lion, dict(lr=1e-3, weight_decay=0.1))]


@pytest.mark.parametrize("rule,cls,hyper", RULES, ids=[f"{r[0]}-{i}" for i, r in enumerate(RULES)])
@pytest.mark.parametrize("state_dtype", ["bfloat16", "int8"])
def test_every_rule_tracks_its_float64_reference(rule, cls, hyper, state_dtype):
    if state_dtype == "int8" and (rule not in ("adam", "adamw", "adamax", "nadam", "radam") or hyper.get("amsgrad")):
        with pytest.raises(descent.InvalidArgumentError):
            cls([np.zeros(3, f32)], state_dtype="int8", **hyper)
        return
    params, grads = make_problem(5)
    mine = [p.copy() for p in params]
    opt = cls(mine, state_dtype=state_dtype, **hyper)
    refs = [Reference(rule, p.astype(np.float64), **hyper) for p in params]
    for step_grads in grads:
        opt.step(step_grads)
        for r, g in zip(refs, step_grads):
            r.step(g.astype(np.float64))
    # Compact state changes the trajectory slightly: compare the total displacement.
    for p0, got, r in zip(params, mine, refs):
        moved, want = (got - p0).astype(np.float64), r.param - p0
        if rule == "lion":  # sign steps: the moments' signs decide; nearly all agree
            assert np.mean(np.sign(moved) == np.sign(want)) > 0.95
            continue
        tolerance = 0.03 if state_dtype == "bfloat16" else 0.15
        assert np.linalg.norm(moved - want) <= tolerance * np.linalg.norm(want) + 1e-7
    opt.close()


# -- the same bits on every path and thread count ------------------------------------------------------

SCRIPT = r"""
import hashlib, sys, numpy as np, descent
rng = np.random.default_rng(7)
shapes = [(300_001,), (70_000,), (1,)]
out = []
for cls, kw in ((descent.optim.Adam, dict(state_dtype="int8")), (descent.optim.NAdam, dict(state_dtype="int8")),
                (descent.optim.Adam, dict(state_dtype="bfloat16")),
                (descent.optim.RMSprop, dict(state_dtype="bfloat16", state_rounding="stochastic", seed=3, centered=True, momentum=0.9)),
                (descent.optim.SGD, dict(state_dtype="bfloat16", state_rounding="stochastic", seed=9, momentum=0.9))):
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    opt = cls(params, lr=1e-2, nonfinite="proceed", **kw)
    for step in range(3):
        grads = [(rng.standard_normal(s) * 1e-2).astype(np.float32) for s in shapes]
        grads[0][::1001] = np.nan if step == 2 else grads[0][::1001]
        opt.step(grads)
    h = hashlib.sha256()
    for p in params: h.update(p.tobytes())
    for entry in opt.state_dict()["state"].values():
        for k, v in sorted(entry.items()):
            if isinstance(v, np.ndarray): h.update(v.tobytes())
    out.append(h.hexdigest()[:16])
sys.stdout.write(descent.isa() + " " + ",".join(out))
"""


def run(isa, threads):
    env = dict(os.environ, DESCENT_ISA=isa)
    if threads is None:
        env.pop("DESCENT_NUM_THREADS", None)
    else:
        env["DESCENT_NUM_THREADS"] = str(threads)
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                          cwd=os.path.join(os.path.dirname(__file__), ".."))  # python/: finds descent
    assert done.returncode == 0, done.stderr
    name, digests = done.stdout.split()
    assert name == isa
    return digests


def test_compact_steps_are_bit_identical_on_every_path_and_thread_count():
    results = {(isa, threads): run(isa, threads) for isa in descent.available_isas() for threads in (1, 2, None)}
    assert len(set(results.values())) == 1, results


# -- memory, checkpoints --------------------------------------------------------------------------------

def test_state_bytes_drop_2x_and_about_4x():
    params = [np.zeros((1000, 100), f32), np.zeros(77, f32)]
    n, blocks = 100_077, 1000 * 100 // 256 + 1 + 1
    full = optim.Adam(params)
    bf16 = optim.Adam(params, state_dtype="bfloat16")
    int8 = optim.Adam(params, state_dtype="int8")
    assert full.state_bytes == 2 * 4 * n
    assert bf16.state_bytes == 2 * 2 * n
    assert int8.state_bytes == 2 * (n + 4 * blocks)
    assert full.state_bytes / int8.state_bytes > 3.9
    for opt in (full, bf16, int8):
        opt.close()


@pytest.mark.parametrize("kw", [dict(state_dtype="bfloat16", state_rounding="stochastic", seed=5),
                                dict(state_dtype="int8")])
def test_checkpoints_store_the_compact_bytes_and_round_trip(tmp_path, kw):
    params, grads = make_problem(6)
    a = [p.copy() for p in params]
    opt = optim.Adam(a, lr=1e-2, **kw)
    for g in grads[:3]:
        opt.step(g)
    path = str(tmp_path / "ckpt.bin")
    opt.save(path, include_params=True)
    with open(path, "rb") as f:
        header = f.read(16)
    assert header[:8] == b"DSCNTOPT" and int.from_bytes(header[8:12], "little") == 2
    size = os.path.getsize(path)
    n = sum(p.size for p in params)
    assert size < 4 * n + (2 * 2 * n if kw["state_dtype"] == "bfloat16" else 2 * n + 64 * len(params)) + 2000
    # A full-state optimizer adopts the file's format; both continue identically.
    b = [np.zeros_like(p) for p in params]
    other = optim.Adam(b, lr=1e-2)
    other.load(path)
    assert (other.state_dtype, other.state_rounding, other.state_seed) == (opt.state_dtype, opt.state_rounding,
                                                                          opt.state_seed)
    assert other.state_bytes == opt.state_bytes
    for g in grads[3:]:
        opt.step(g)
        other.step(g)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    path2 = str(tmp_path / "again.bin")
    opt.save(path2, include_params=True)
    other.save(path2 + "2", include_params=True)
    assert open(path2, "rb").read() == open(path2 + "2", "rb").read()
    opt.close()
    other.close()


def test_old_full_checkpoints_still_load_and_stay_version_1(tmp_path):
    params, grads = make_problem(7)
    opt = optim.Adam([p.copy() for p in params])
    opt.step(grads[0])
    path = str(tmp_path / "v1.bin")
    opt.save(path)
    assert int.from_bytes(open(path, "rb").read()[8:12], "little") == 1
    compact = optim.Adam([p.copy() for p in params], state_dtype="bfloat16")
    compact.load(path)  # a version-1 file is full state
    assert compact.state_dtype == "full"
    np.testing.assert_array_equal(compact.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    opt.close()
    compact.close()


def test_format_conversion_before_the_first_step_and_reset():
    p = np.zeros(300, f32)
    opt = optim.Adagrad([p], initial_accumulator_value=0.3)
    opt.set_state_format("bfloat16")
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["sum"], ref.bf16_nearest(np.full(300, 0.3, f32)))
    opt.step(np.ones(300, f32))
    opt.reset_state()
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["sum"], ref.bf16_nearest(np.full(300, 0.3, f32)))
    opt.set_state_format("full")  # allowed again after the reset (step count 0)
    assert opt.state_dtype == "full" and opt.state_bytes == 300 * 4
    opt.close()


# -- bad input ------------------------------------------------------------------------------------------

def unchanged(opt, before):
    assert opt.state_dtype == before[0] and opt.state_bytes == before[1] and opt.step_count == before[2]


def test_bad_input_is_a_clear_error_that_changes_nothing():
    p = np.zeros(10, f32)
    opt = optim.Adam([p], state_dtype="bfloat16")
    before = (opt.state_dtype, opt.state_bytes, opt.step_count)
    for args, error, text in (((("int8", "stochastic")), descent.InvalidArgumentError, "stochastic"),
                              (("float16",), descent.InvalidArgumentError, "state_dtype"),
                              (("bfloat16", "up"), descent.InvalidArgumentError, "state_rounding")):
        with pytest.raises(error, match=text):
            opt.set_state_format(*args)
        unchanged(opt, before)
    with pytest.raises(descent.InvalidArgumentError, match="seed"):
        opt.set_state_format("bfloat16", "stochastic", -1)
    with pytest.raises(TypeError):
        opt.set_state_format("bfloat16", "stochastic", 1.5)  # type: ignore[arg-type]
    opt.step(np.ones(10, f32))
    with pytest.raises(descent.InvalidArgumentError, match="before the first step"):
        opt.set_state_format("int8")
    unchanged(opt, (opt.state_dtype, opt.state_bytes, 1))
    opt.close()

    with pytest.raises(descent.DTypeError, match="float32"):
        optim.Adam([np.zeros(3)], state_dtype="bfloat16")
    full = optim.Adam([np.zeros(3)])
    with pytest.raises(descent.DTypeError, match="float32"):
        full.set_state_format("int8")
    assert full.state_dtype == "full" and full.state_bytes == 2 * 3 * 8
    full.close()
    with pytest.raises(descent.InvalidArgumentError, match="Adam family"):
        optim.RMSprop([np.zeros(3, f32)], state_dtype="int8")
    with pytest.raises(descent.InvalidArgumentError, match="AMSGrad"):
        optim.Adam([np.zeros(3, f32)], state_dtype="int8", amsgrad=True)
    int8 = optim.Adam([np.zeros(3, f32)], state_dtype="int8")
    int8.param_groups[0]["amsgrad"] = True
    with pytest.raises(descent.InvalidArgumentError, match="AMSGrad"):
        int8.step(np.ones(3, f32))
    int8.param_groups[0]["amsgrad"] = False
    int8.step(np.ones(3, f32))
    assert int8.step_count == 1
    with pytest.raises(descent.DTypeError):
        int8.add_param_group({"params": [np.zeros(2)]})
    assert int8.counts()[2] == 1
    int8.close()


def test_c_abi_rejects_bad_enums():
    from descent._ffi import lib
    opt = optim.Adam([np.zeros(4, f32)])
    for fmt, rounding in ((3, 0), (-1, 0), (1, 2)):
        with pytest.raises(descent.InvalidArgumentError):
            lib.descent_optimizer_set_state_format(opt._handle, fmt, rounding, 0)
    assert opt.state_dtype == "full"
    opt.close()


@pytest.mark.parametrize("state_dtype", ["bfloat16", "int8"])
def test_a_shard_keeps_the_compact_format(state_dtype):
    params = [np.zeros(1000, f32), np.zeros(300, f32)]
    opt = optim.Adam(params, state_dtype=state_dtype)
    whole = opt.shard(0, 1300)
    assert whole.state_bytes == opt.state_bytes
    half = opt.shard(650, 650)
    n = 650
    want = 2 * 2 * n if state_dtype == "bfloat16" else 2 * (n + 4 * (2 + 2))  # 350 + 300 elements: 2 + 2 blocks
    assert half.state_bytes == want
    whole.close()
    half.close()
    opt.close()
