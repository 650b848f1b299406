"""The examples in examples/ run and keep their promises (they also assert internally)."""
import os
import runpy
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("script", ["deep_stack_scale.py", "step_size_sweep.py"])
def test_python_example_runs(script, capsys):
    runpy.run_path(os.path.join(ROOT, "examples", script), run_name="__main__")
    out = capsys.readouterr().out
    assert ("1.5^L" in out) if script == "deep_stack_scale.py" else ("step size" in out and "1e-10" in out)


def test_c_step_size_example_runs():
    binary = os.path.join(ROOT, "build", "examples", "step_size_sweep")
    if not os.path.exists(binary):
        pytest.skip("build/examples/step_size_sweep not built (make test-c builds it)")
    completed = subprocess.run([binary], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[1].split() == ["step", "size", "new", "loss"]
    assert len(lines) == 13  # header, original, 10 step sizes


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
