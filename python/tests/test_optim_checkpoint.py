"""Optimizer checkpoints: round trip across processes bit for bit, corrupt and mismatching files."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import descent
from descent import optim

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_PARENT = os.path.dirname(HERE)


def python_executable():
    # Inside the embedded runner sys.executable may be the runner itself.
    if os.path.basename(sys.executable).startswith("python"):
        return sys.executable
    return shutil.which("python3")


TRAIN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {package!r})
    import numpy as np
    from descent import optim

    def make(params):
        return optim.AdamW([{{"params": [params[0]]}}, {{"params": [params[1]], "lr": 3e-3}}],
                           lr=1e-2, amsgrad=True)

    def grads(t):
        rng = np.random.default_rng(1000 + t)
        return [rng.standard_normal((16, 8)), rng.standard_normal(50).astype(np.float32)]

    def initial():
        rng = np.random.default_rng(7)
        return [rng.standard_normal((16, 8)), rng.standard_normal(50).astype(np.float32)]
""")


def run(script, *args):
    code = TRAIN.format(package=PACKAGE_PARENT) + textwrap.dedent(script)
    done = subprocess.run([python_executable(), "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_100_straight_equals_50_save_load_in_fresh_process_50(tmp_path):
    straight = tmp_path / "straight.npz"
    resumed = tmp_path / "resumed.npz"
    checkpoint = tmp_path / "opt.ckpt"
    run("""
        params = initial(); opt = make(params)
        for t in range(100): opt.step(grads(t))
        np.savez(sys.argv[1], a=params[0], b=params[1])
    """, str(straight))
    run("""
        params = initial(); opt = make(params)
        for t in range(50): opt.step(grads(t))
        opt.save(sys.argv[1], include_params=True)
    """, str(checkpoint))
    run("""
        params = [np.zeros((16, 8)), np.zeros(50, np.float32)]   # values come from the checkpoint
        opt = make(params)
        opt.load(sys.argv[1])
        assert opt.step_count == 50 and opt.param_groups[1]["lr"] == 3e-3
        for t in range(50, 100): opt.step(grads(t))
        np.savez(sys.argv[2], a=params[0], b=params[1])
    """, str(checkpoint), str(resumed))
    a, b = np.load(straight), np.load(resumed)
    assert np.array_equal(a["a"], b["a"]) and a["a"].dtype == np.float64
    assert np.array_equal(a["b"], b["b"]) and a["b"].dtype == np.float32
    assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]  # no temporary left


def trained(rng, rule=optim.Adam, **options):
    params = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    opt = rule(params, **options)
    for _ in range(3):
        opt.step([rng.standard_normal((3, 4)), rng.standard_normal(5)])
    return params, opt


def fingerprint(params, opt):
    state = opt.state_dict()
    return ([p.copy() for p in params], opt.step_count,
            {i: {k: np.copy(v) for k, v in s.items()} for i, s in state["state"].items()}, state["param_groups"])


def assert_same(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    assert a[1] == b[1]
    for index in a[2]:
        for name in a[2][index]:
            np.testing.assert_array_equal(a[2][index][name], b[2][index][name])
    assert a[3] == b[3]


def test_state_without_params_restores_state_only(tmp_path, rng):
    params, opt = trained(rng, lr=0.05)
    path = str(tmp_path / "state.ckpt")
    opt.save(path)
    before = fingerprint(params, opt)
    other_params = [np.ones((3, 4)), np.ones(5)]
    other = optim.Adam(other_params, lr=0.5)
    other.load(path)
    assert other.param_groups[0]["lr"] == 0.05
    assert other.step_count == 3
    np.testing.assert_array_equal(other_params[0], 1.0)  # params were not in the file
    after = other.state_dict()["state"]
    for index in (0, 1):
        np.testing.assert_array_equal(after[index]["exp_avg_sq"], before[2][index]["exp_avg_sq"])


def test_truncated_and_altered_files_are_corrupt_and_change_nothing(tmp_path, rng):
    params, opt = trained(rng)
    path = tmp_path / "opt.ckpt"
    opt.save(str(path), include_params=True)
    data = path.read_bytes()
    target_params, target = trained(np.random.default_rng(5))
    before = fingerprint(target_params, target)
    cases = {
        "truncated": data[:-9],
        "header only": data[:32],
        "short": data[:10],
        "empty": b"",
        "flipped payload byte": data[:100] + bytes([data[100] ^ 0x01]) + data[101:],
        "flipped last byte": data[:-1] + bytes([data[-1] ^ 0x80]),
        "bad magic": b"X" + data[1:],
        "future version": data[:8] + (2).to_bytes(4, "little") + data[12:],
        "extended": data + b"\0",
    }
    for name, content in cases.items():
        broken = tmp_path / "broken.ckpt"
        broken.write_bytes(content)
        with pytest.raises(descent.CorruptFileError):
            target.load(str(broken))
        assert_same(before, fingerprint(target_params, target))
    with pytest.raises(descent.DescentIOError):
        target.load(str(tmp_path / "missing.ckpt"))
    assert_same(before, fingerprint(target_params, target))


def test_mismatching_optimizer_is_a_clear_error_and_unchanged(tmp_path, rng):
    params, opt = trained(rng)
    path = str(tmp_path / "opt.ckpt")
    opt.save(path, include_params=True)
    sgd_params, sgd = trained(rng, optim.SGD, lr=0.1)
    before = fingerprint(sgd_params, sgd)
    with pytest.raises(descent.InvalidArgumentError, match="the state of the Adam rule, this optimizer.s rule is SGD"):
        sgd.load(path)
    assert_same(before, fingerprint(sgd_params, sgd))
    shaped = optim.Adam([np.ones((4, 3)), np.ones(5)])
    with pytest.raises(descent.ShapeError):
        shaped.load(path)
    assert shaped.step_count == 0
    fewer = optim.Adam([np.ones((3, 4))])
    with pytest.raises(descent.InvalidArgumentError):
        fewer.load(path)
    single = optim.Adam([np.ones((3, 4)).astype(np.float32), np.ones(5)])
    with pytest.raises(descent.ShapeError):
        single.load(path)


def test_save_to_unwritable_place_is_io_error(tmp_path, rng):
    params, opt = trained(rng)
    with pytest.raises(descent.DescentIOError):
        opt.save(str(tmp_path / "no" / "such" / "dir" / "opt.ckpt"))
    existing = tmp_path / "keep.ckpt"
    opt.save(str(existing))
    first = existing.read_bytes()
    opt.step([np.ones((3, 4)), np.ones(5)])
    opt.save(str(existing))                # replaced atomically by the newer state
    assert existing.read_bytes() != first
    assert first[:8] == b"DSCNTOPT" and int.from_bytes(first[8:12], "little") == 1


def test_load_restores_boolean_options_into_param_groups(tmp_path, rng):
    params, opt = trained(rng, optim.Adam, amsgrad=True, bias_correction=False, lr=0.02)
    path = str(tmp_path / "opt.ckpt")
    opt.save(path)
    other = optim.Adam([np.ones((3, 4)), np.ones(5)])
    other.load(path)
    group = other.param_groups[0]
    assert group["amsgrad"] is True and group["bias_correction"] is False and group["lr"] == 0.02
    assert "max_exp_avg_sq" in other.state_dict()["state"][0]


def test_a_path_that_is_not_utf8_is_rejected_not_repaired(tmp_path, rng):
    """Repairing b"\\xff" into U+FFFD used to save to (and load from) a different file name."""
    params, opt = trained(rng)
    path = os.path.join(os.fsencode(tmp_path), b"opt-\xff.ckpt")
    with pytest.raises(descent.InvalidArgumentError, match="not valid UTF-8"):
        opt.save(path)
    assert os.listdir(tmp_path) == []
    before = opt.step_count
    with pytest.raises(descent.InvalidArgumentError, match="not valid UTF-8"):
        opt.load(path)
    assert opt.step_count == before
