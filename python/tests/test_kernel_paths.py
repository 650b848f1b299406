"""The update kernels' instruction-set paths (descent.isa / set_isa / available_isas, $DESCENT_ISA):
every rule and variant gives the same bits on every path this CPU has (baseline SSE2, AVX2,
AVX-512), including vector tails, misaligned arrays and NaN/inf under the proceed policy; the
non-finite scan finds a bad element wherever it sits on every path; forcing a path the CPU
lacks (or an unknown one) is an error that changes nothing. The values themselves are checked
against the NumPy references in test_optim_stateful.py / test_optim_functional.py; here the
reference for each path is the baseline path's bits."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import descent
from descent import functional, optim
from optim_reference import VARIANTS, Reference, variant_id
from reference import assert_close

CLASSES = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "rmsprop": optim.RMSprop,
           "adam": optim.Adam, "adamw": optim.AdamW, "adamax": optim.Adamax, "nadam": optim.NAdam,
           "radam": optim.RAdam, "lion": optim.Lion}
PATHS = descent.available_isas()
# Sizes around the vector widths (4, 8, 16 floats; 2, 4, 8 doubles) and their unrolled loops,
# plus one that the step splits over threads (above 2 x 65536 elements).
SIZES = [1, 7, 15, 16, 17, 63, 129, 1037, 140_001]


@pytest.fixture(autouse=True)
def restore_path():
    before = descent.isa()
    yield
    descent.set_isa(before)


def misaligned(values):
    """A C-contiguous copy of `values` that starts one element past an aligned allocation."""
    backing = np.empty(values.size + 1, dtype=values.dtype)
    view = backing[1:].reshape(values.shape)
    view[...] = values
    return view


def gradients(rng, n, dtype, steps, specials=False):
    out = []
    for t in range(steps):
        g = rng.standard_normal(n).astype(dtype) * dtype.type(10.0 ** rng.integers(-6, 3))
        g[rng.random(n) < 0.05] = 0  # sign(0) for Lion, exact zeros elsewhere
        if n > 3:
            g[1] = np.finfo(dtype).tiny / 4  # a subnormal
        if specials and n > 5:
            g[2] = np.nan if t % 2 else np.inf
            g[n - 1] = -np.inf
        out.append(g)
    return out


def run_stateful(rule, options, params0, grads, path, nonfinite="raise"):
    descent.set_isa(path)
    params = [misaligned(p) for p in params0]
    opt = CLASSES[rule]([{"params": params}], nonfinite=nonfinite, **options)
    for g in grads:
        opt.step([g[: p.size].reshape(p.shape) for p in params] if len(params) > 1 else [g])
    state = opt.state_dict()["state"]
    result = [p.copy() for p in params] + [np.array(v) for s in state.values() for v in s.values()
                                          if isinstance(v, np.ndarray)]
    opt.close()
    return result


def assert_same_bits(results, label):
    base_path, base = results[0]
    for path, arrays in results[1:]:
        assert len(arrays) == len(base)
        for index, (a, b) in enumerate(zip(base, arrays)):
            assert a.dtype == b.dtype and a.shape == b.shape
            # NaN on one path is NaN on every path, at the same places; IEEE 754 leaves a NaN's
            # sign and payload to the hardware's operand order, so only those bits may differ.
            nan_a, nan_b = np.isnan(a), np.isnan(b)
            np.testing.assert_array_equal(nan_a, nan_b, err_msg=f"{label}: NaN positions, {base_path} vs {path}")
            bits = np.where(nan_a, 0, a).view(np.uint32 if a.dtype == np.float32 else np.uint64)
            other = np.where(nan_b, 0, b).view(np.uint32 if b.dtype == np.float32 else np.uint64)
            differ = np.flatnonzero(bits.ravel() != other.ravel())
            assert differ.size == 0, (f"{label}: array {index} differs between {base_path} and {path} at "
                                      f"{differ[:5]} ({a.ravel()[differ[:3]]} vs {b.ravel()[differ[:3]]})")


def test_paths_are_reported_and_selectable():
    assert PATHS[0] == "baseline"
    assert set(PATHS) <= set(descent.ISAS)
    assert descent.isa() in PATHS
    for path in PATHS:
        descent.set_isa(path)
        assert descent.isa() == path
    for path in set(descent.ISAS) - set(PATHS):
        before = descent.isa()
        with pytest.raises(descent.UnsupportedError, match=path):
            descent.set_isa(path)
        assert descent.isa() == before
    with pytest.raises(descent.InvalidArgumentError, match="unknown kernel path 'sse9'; expected baseline"):
        descent.set_isa("sse9")
    with pytest.raises(TypeError, match="name must be a str"):
        descent.set_isa(2)  # type: ignore[arg-type]


def test_default_path_is_the_widest_available():
    code = "import descent; print(descent.isa())"
    env = {k: v for k, v in os.environ.items() if k != "DESCENT_ISA"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.join(os.path.dirname(__file__), ".."))
    assert out.stdout.strip() == PATHS[-1]


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_every_rule_gives_the_same_bits_on_every_path(variant, dtype, rng):
    rule, options = variant
    n = 1037
    params0 = [rng.standard_normal(n).astype(dtype), rng.standard_normal((3, 17)).astype(dtype)]
    grads = gradients(rng, n, dtype, steps=12)
    results = [(path, run_stateful(rule, options, params0, grads, path)) for path in PATHS]
    assert_same_bits(results, variant_id(variant))
    # And the shared bits are the formula's (the NumPy reference, as test_optim_stateful checks).
    ref = Reference(rule, params0[0], **options)
    for g in grads:
        ref.step(g)
    assert_close(results[0][1][0], ref.param, dtype, rtol_scale=1)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("rule", ["adam", "sgd", "rmsprop", "lion"])
def test_vector_tails_and_thread_splits_give_the_same_bits(rule, n, dtype, rng):
    options = {"sgd": dict(lr=0.05, momentum=0.9, nesterov=True), "adam": dict(amsgrad=True, weight_decay=0.01),
               "rmsprop": dict(centered=True, momentum=0.5), "lion": dict()}[rule]
    params0 = [rng.standard_normal(n).astype(dtype)]
    grads = gradients(rng, n, dtype, steps=4)
    results = [(path, run_stateful(rule, options, params0, grads, path)) for path in PATHS]
    assert_same_bits(results, f"{rule} n={n}")


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v[0] in ("adam", "rmsprop", "adagrad", "lion", "sgd")],
                         ids=variant_id)
def test_nan_and_inf_under_proceed_give_the_same_bits(variant, dtype, rng):
    rule, options = variant
    n = 300
    params0 = [rng.standard_normal(n).astype(dtype)]
    grads = gradients(rng, n, dtype, steps=4, specials=True)
    results = [(path, run_stateful(rule, options, params0, grads, path, nonfinite="proceed")) for path in PATHS]
    assert not np.all(np.isfinite(results[0][1][0]))  # the NaN/inf reached the param
    assert_same_bits(results, variant_id(variant))


@pytest.mark.parametrize("n", SIZES)
def test_the_nonfinite_scan_finds_every_position_on_every_path(n, dtype, rng):
    positions = sorted({0, n // 2, n - 1, max(0, n - 2)})
    for path in PATHS:
        descent.set_isa(path)
        p = rng.standard_normal(n).astype(dtype)
        opt = optim.SGD([p], lr=0.1)
        for position in positions:
            for bad in (np.nan, np.inf, -np.inf):
                g = np.ones(n, dtype=dtype)
                g[position] = bad
                before = p.copy()
                with pytest.raises(descent.NonFiniteError):
                    opt.step([g])
                np.testing.assert_array_equal(p, before)
        g = np.full(n, np.finfo(dtype).max, dtype=dtype)  # largest finite: not flagged
        g[0] = np.finfo(dtype).tiny / 2  # subnormal: not flagged
        opt.step([g])
        assert opt.step_count == 1
        opt.close()


@pytest.mark.parametrize("rule", ["sgd", "adam", "adamw", "adamax", "nadam", "radam", "adagrad", "adadelta",
                                  "rmsprop", "lion"])
def test_functional_steps_give_the_same_bits_on_every_path(rule, dtype, rng):
    n = 1037
    p0 = rng.standard_normal(n).astype(dtype)
    grads = gradients(rng, n, dtype, steps=5)
    results = []
    for path in PATHS:
        descent.set_isa(path)
        p = misaligned(p0)
        states = {"sgd": lambda: dict(momentum_buffer=np.zeros(n, dtype)),
                  "adagrad": lambda: dict(sum=np.zeros(n, dtype)),
                  "adadelta": lambda: dict(square_avg=np.zeros(n, dtype), acc_delta=np.zeros(n, dtype)),
                  "rmsprop": lambda: dict(square_avg=np.zeros(n, dtype), grad_avg=np.zeros(n, dtype)),
                  "adamax": lambda: dict(exp_avg=np.zeros(n, dtype), exp_inf=np.zeros(n, dtype)),
                  "lion": lambda: dict(exp_avg=np.zeros(n, dtype))}.get(
            rule, lambda: dict(exp_avg=np.zeros(n, dtype), exp_avg_sq=np.zeros(n, dtype)))()
        extra = {"sgd": dict(momentum=0.9), "rmsprop": dict(centered=True)}.get(rule, {})
        mu = np.ones(1)
        for t, g in enumerate(grads, start=1):
            if rule == "nadam":
                functional.nadam(p, g, states["exp_avg"], states["exp_avg_sq"], mu, step=t)
            else:
                getattr(functional, rule)(p, g, *states.values(), step=t, **extra)
        results.append((path, [p.copy()] + list(states.values())))
    assert_same_bits(results, rule)


def run_script(code, isa):
    env = dict(os.environ)
    if isa is None:
        env.pop("DESCENT_ISA", None)
    else:
        env["DESCENT_ISA"] = isa
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          cwd=os.path.join(os.path.dirname(__file__), ".."), timeout=120)


TRAJECTORY = """
    import hashlib
    import sys
    import numpy as np
    import descent
    from descent import optim
    rng = np.random.default_rng(5)
    p = rng.standard_normal(50_003).astype(np.float32)
    opt = optim.Adam([p], lr=1e-2, amsgrad=True)
    for _ in range(20):
        opt.step([rng.standard_normal(p.size).astype(np.float32)])
    sys.stdout.write(descent.isa() + " " + hashlib.sha256(p.tobytes()).hexdigest())
"""


def test_descent_isa_forces_each_available_path_with_the_same_bits():
    outputs = {}
    for path in PATHS:
        out = run_script(TRAJECTORY, path)
        assert out.returncode == 0, out.stderr
        name, digest = out.stdout.split()
        assert name == path
        outputs[path] = digest
    assert len(set(outputs.values())) == 1, outputs


@pytest.mark.parametrize("value", ["sse9", "AVX2", "avx512 "] + [p for p in descent.ISAS if p not in PATHS])
def test_descent_isa_unusable_is_an_error_that_changes_nothing(value):
    out = run_script("""
        import numpy as np
        import descent
        from descent import optim, functional
        p = np.ones(4)
        opt = optim.SGD([p], lr=0.5)
        for call in (lambda: opt.step([np.ones(4)]), descent.isa,
                     lambda: functional.sgd(p, np.ones(4))):
            try:
                call()
                print("no error")
            except descent.UnsupportedError as exc:
                print("UnsupportedError:", exc)
        print("unchanged", p.tolist(), opt.step_count)
        descent.set_isa("baseline")
        opt.step([np.ones(4)])
        print("after set_isa", descent.isa(), p.tolist())
    """, value)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 5, out.stdout
    for line in lines[:3]:
        assert line.startswith("UnsupportedError:") and f"DESCENT_ISA={value}" in line, line
    assert lines[3] == "unchanged [1.0, 1.0, 1.0, 1.0] 0"
    assert lines[4] == "after set_isa baseline [0.5, 0.5, 0.5, 0.5]"


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_training_an_mlp_gives_the_same_bits_on_every_path(dtype_name, rng):
    """The graph's ReLU forward/backward (C, branch-free) and the Adam update on every path."""
    x = rng.standard_normal((96, 12)).astype(dtype_name)
    x[0, :3] = [0.0, -0.0, 1e-30]  # zeros of both signs and a tiny value through the ReLU
    y = rng.integers(0, 4, 96)
    results = []
    for path in PATHS:
        descent.set_isa(path)
        model = descent.MLP([12, 33, 4], seed=3, dtype=dtype_name)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        loader = descent.DataLoader(x, y, batch_size=32, shuffle=True, seed=1, dtype=dtype_name)
        trainer = descent.Trainer(model, opt)
        losses = [trainer.step_batch(loader, b)[0] for b in range(len(loader)) for _ in range(2)]
        results.append((path, [p.copy() for p in model.parameters()] + [np.array(losses)]))
        trainer.close()
        opt.close()
    assert_same_bits(results, f"MLP {dtype_name}")


@pytest.mark.parametrize("position", [0, 70_000, 140_000])
def test_functional_check_finite_on_a_split_array_changes_nothing(position, dtype, rng):
    """check_finite runs the scan and the update in one pass over the threads: a NaN in any
    thread's chunk stops every chunk's update."""
    n = 140_001
    for path in PATHS:
        descent.set_isa(path)
        p = rng.standard_normal(n).astype(dtype)
        m, v = np.zeros(n, dtype), np.zeros(n, dtype)
        g = rng.standard_normal(n).astype(dtype)
        g[position] = np.nan
        before = p.copy()
        with pytest.raises(descent.NonFiniteError, match="nothing was updated"):
            functional.adam(p, g, m, v, step=1, check_finite=True)
        np.testing.assert_array_equal(p, before)
        assert not m.any() and not v.any()
        g[position] = 0
        functional.adam(p, g, m, v, step=1, check_finite=True)
        assert (p != before).sum() > n // 2
