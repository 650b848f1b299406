"""The suite's own rules, checked on its source so a weak assertion cannot creep back in:

- ``assert_allclose`` / ``allclose`` / ``isclose`` always say their ``rtol`` (NumPy's default
  1e-7 let a 1e-9 relative error through checks that only gave ``atol``);
- ``pytest.raises`` names one exception type, not a tuple of acceptable ones;
- a test never skips on its own: missing tools go through ``conftest.skip_or_fail`` (a failure in
  CI), except the few listed below with the reason they may skip anywhere.
"""
import ast
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = sorted(HERE.glob("*.py"))

# (file, what) pairs allowed to skip, each with its reason.
ALLOWED_SKIPS = {
    ("conftest.py", "skip"): "skip_or_fail itself (a skip on a developer's machine only)",
    ("test_optim_checkpoint_concurrency.py", "skip"): "a race it cannot always provoke: stopping a saver inside a "
                                                      "save depends on the scheduler, not on a missing tool",
}


def calls(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            yield name, node


def test_tolerance_checks_always_give_rtol():
    loose = [f"{path.name}:{node.lineno}" for path in SOURCES for name, node in calls(path)
             if name in ("assert_allclose", "allclose", "isclose")
             and "rtol" not in {k.arg for k in node.keywords} and len(node.args) < 3]
    assert not loose, f"give rtol explicitly (NumPy's default is 1e-7): {loose}"


def test_raises_names_one_exception_type():
    either = [f"{path.name}:{node.lineno}" for path in SOURCES for name, node in calls(path)
              if name == "raises" and node.args and isinstance(node.args[0], ast.Tuple)]
    assert not either, f"pytest.raises with a tuple accepts either exception; assert the one expected: {either}"


def test_nothing_skips_silently():
    skips = {(path.name, name) for path in SOURCES for name, node in calls(path)
             if name in ("skip", "importorskip", "skipif") and isinstance(node.func, ast.Attribute)
             and getattr(node.func.value, "id", "") in ("pytest", "mark")}
    unexplained = sorted(skips - set(ALLOWED_SKIPS))
    assert not unexplained, f"use conftest.skip_or_fail (fails in CI) or list the reason here: {unexplained}"
