"""The examples in examples/ run and keep their promises (they also assert internally)."""
import importlib.util
import os
import runpy
import subprocess
import sys

import pytest

from conftest import skip_or_fail

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("script", ["deep_stack_scale.py", "step_size_sweep.py"])
def test_python_example_runs(script, capsys):
    runpy.run_path(os.path.join(ROOT, "examples", script), run_name="__main__")
    out = capsys.readouterr().out
    assert ("1.5^L" in out) if script == "deep_stack_scale.py" else ("step size" in out and "1e-10" in out)


def test_c_step_size_example_runs():
    binary = os.path.join(ROOT, "build", "examples", "step_size_sweep")
    if not os.path.exists(binary):
        skip_or_fail("build/examples/step_size_sweep is not built (make test-c builds it)")
    completed = subprocess.run([binary], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[1].startswith("multiclass SVM loss after one step W - s*dW")   # what the table measures
    assert lines[2].split() == ["step", "size", "new", "loss"]
    assert len(lines) == 14  # check, title, header, original, 10 step sizes


def test_training_example_learns_the_spirals(capsys):
    """Dense layers, softmax cross-entropy, L2, Adam, warmup + cosine and clipping together."""
    runpy.run_path(os.path.join(ROOT, "examples", "train_classifier.py"), run_name="__main__")
    out = capsys.readouterr().out
    final = out.strip().splitlines()[-1]
    assert final.startswith("trained: accuracy")
    assert float(final.split()[2]) > 0.9


def test_textbook_example_converges(capsys):
    runpy.run_path(os.path.join(ROOT, "examples", "textbook_quadratic.py"), run_name="__main__")
    assert "converged: W = 5.0000" in capsys.readouterr().out


# The plotting demos of make demo, run as a newcomer runs them (a fresh interpreter, PYTHONPATH=python)
# with DESCENT_DEMO_QUICK=1 (a few epochs/steps; same tables and PNGs).
DEMOS = {
    "demo_digits.py": (["sklearn", "matplotlib"], "digits_loss.png",
                       ["optimizer", "final train loss", "test accuracy", "seconds", "best: "]),
    "rosenbrock_paths.py": (["matplotlib"], "rosenbrock_paths.png",
                            ["optimizer", "final f", "distance to (1,1)", "Adam"]),
    "restarts.py": (["matplotlib"], "restarts.png", ["final f of each run", "single start minimum", "best of 10"]),
}
PACKAGES = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}


def require_demo_modules(modules):
    """Skips when a demo dependency is missing on a developer's machine; in CI (CI=true), where
    make test installs them (scripts/ensure-deps.sh --demo), a missing one fails the test."""
    missing = [PACKAGES[m] for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    skip_or_fail(f"the demo needs {', '.join(missing)} (scripts/ensure-deps.sh --demo installs it)")


def run_demo(script, out):
    env = dict(os.environ, DESCENT_DEMO_QUICK="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH")])))
    completed = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), "--out", str(out)],
                               capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert completed.returncode == 0, f"{script} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


@pytest.mark.parametrize("script", sorted(DEMOS))
def test_demo_prints_its_table_and_writes_its_png(script, tmp_path):
    modules, png, expected = DEMOS[script]
    require_demo_modules(modules)
    out = tmp_path / "demo" / png                      # the folder does not exist yet: the demo makes it
    stdout = run_demo(script, out)
    for text in expected:
        assert text in stdout, f"{script} printed no {text!r}:\n{stdout}"
    assert f"wrote {os.path.relpath(out)}" in stdout
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert 5_000 < len(data) < 400_000
    if script == "demo_digits.py":
        check_digits_table(stdout.splitlines())


def check_digits_table(lines):
    """One row per optimizer, in order, with a loss, an accuracy in percent and seconds; then the best."""
    header = next(i for i, line in enumerate(lines) if line.startswith("optimizer"))
    rows = lines[header + 1:header + 9]
    names = ["SGD", "SGD momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]
    assert [row[:14].strip() for row in rows] == names
    for row in rows:
        fields = row.split()
        loss, accuracy, seconds = float(fields[-4]), float(fields[-2].rstrip("%")), float(fields[-1])
        assert 0 < loss < 2.5 and 10 < accuracy <= 100 and seconds >= 0, row
    assert lines[header + 9].startswith("best: ")


def test_committed_demo_images_are_small():
    """README shows docs/images/*.png: each stays a small 256-colour PNG (regenerate them with the
    demos' --out docs/images/<name>.png)."""
    folder = os.path.join(ROOT, "docs", "images")
    images = sorted(f for f in os.listdir(folder) if f.endswith(".png")) if os.path.isdir(folder) else []
    assert {"digits_loss.png", "rosenbrock_paths.png", "restarts.png"} <= set(images)
    for name in images:
        size = os.path.getsize(os.path.join(folder, name))
        assert size < 200_000, f"docs/images/{name} is {size} bytes"
