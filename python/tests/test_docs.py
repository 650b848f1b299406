"""Executable documentation: every ```python block of README.md and docs/*.md runs, and every
value an example promises in a comment is checked.

Users copy the examples literally, so each one is a test. The blocks of one file run in order in
one shared namespace (a later block may use names an earlier one defined), with the repository's
python/ folder on sys.path and a fresh temporary directory as the working directory (examples
that write files write there). Blocks that are not meant to run (formulas, C, shell, output
listings) are fenced with another info string (```text, ```c, ```sh) and are not collected.

A promise is an expression statement (or ``print(...)``) whose trailing comment starts like a
value: ``print(w.numpy())  # [5.00007...]``, ``[s(t) for t in ts]  # [0.0, 0.05, 0.1]``,
``print(model.evaluate(x, y))  # {'loss': 0.0766..., 'accuracy': 0.986...}``. Its numbers are
compared, in order (by key for a dict), with the value's: ``0.0766...`` means the digits shown
(within one unit of the last one), ``~0.97`` about that (one unit), a plain number the value
rounded to the digits shown, ``...`` alone any value. The worked C example at the top of
include/descent.h is compiled and run as well.
"""

import ast
import os
import pathlib
import re
import sys

import numpy as np
import pytest

from conftest import skip_or_fail

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(path):
    """(line number, source) of every block fenced ```python in `path`, in file order."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1).strip() == "python":
            line = text.count("\n", 0, match.start(2)) + 1
            blocks.append((line, match.group(2)))
    return blocks


def test_fences_are_labelled():
    """Every fence names its language, so no Python example can hide in an unlabelled block."""
    unlabelled = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if not match.group(1).strip():
                unlabelled.append(f"{path.name}:{text.count(chr(10), 0, match.start()) + 1}")
    assert unlabelled == [], f"unlabelled ``` fences (use ```text, ```sh, ```c, ```python): {unlabelled}"


def test_docs_have_python_examples():
    counts = {path.name: len(python_blocks(path)) for path in DOC_FILES}
    assert counts["README.md"] >= 1
    assert sum(counts.values()) >= 6, counts


NUMBER = re.compile(r"(~)?(-?\d+(?:\.(\d*))?(?:e([-+]?\d+))?)(\.\.\.)?")
PROMISE_START = re.compile(r"^(~|-?\d|\[|\{|\()")


def promised_numbers(text):
    """[(value, tolerance)] of the numbers in a promise, None for a bare `...`."""
    numbers = []
    for match in NUMBER.finditer(text):
        approx, literal, decimals, exponent, elided = match.groups()
        unit = 10.0 ** (-len(decimals or "")) * 10.0 ** int(exponent or 0)
        tolerance = unit if (approx or elided) else 0.5 * unit
        numbers.append((float(literal), tolerance + 1e-12 * abs(float(literal))))
    return numbers


def flatten(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in flatten(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in flatten(v)]
    return [float(x) for x in np.ravel(np.asarray(value, dtype=np.float64))]


def check_promise(comment, value, where):
    if comment.startswith("{"):                      # a dict: keys, then the value of each
        entries = re.findall(r"'(\w+)':\s*([^,}]*)", comment)
        assert isinstance(value, dict) and [k for k, _ in entries] == list(value), f"{where}: {value!r}"
        pairs = [(promised_numbers(text), flatten(value[key])) for key, text in entries if text.strip() != "..."]
    else:
        pairs = [(promised_numbers(comment), flatten(value))]
    for numbers, actual in pairs:
        assert len(numbers) == len(actual), f"{where}: promises {comment!r}, got {value!r}"
        for (want, tolerance), got in zip(numbers, actual):
            assert abs(got - want) <= tolerance, f"{where}: promises {comment!r}, got {value!r}"


def run_block(source, name, namespace, promises):
    """Runs `source` statement by statement; an expression statement with a promise comment is
    evaluated once and its value checked."""
    lines = source.splitlines()
    for statement in ast.parse(source).body:
        last = lines[statement.end_lineno - 1]
        comment = last.split("#", 1)[1].strip() if "#" in last else ""
        where = f"{name}:{statement.lineno}"
        if isinstance(statement, ast.Expr) and PROMISE_START.match(comment):
            node = statement.value
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
                node = node.args[0] if len(node.args) == 1 else ast.Tuple(elts=node.args, ctx=ast.Load())
            expression = ast.fix_missing_locations(ast.copy_location(ast.Expression(node), node))
            value = eval(compile(expression, where, "eval"), namespace)
            check_promise(comment, value, where)
            promises.append(where)
        else:
            exec(compile(ast.Module([statement], []), where, "exec"), namespace)


PROMISES = []


@pytest.mark.parametrize("path", [p for p in DOC_FILES if python_blocks(p)], ids=lambda p: p.name)
def test_python_blocks_run_and_keep_their_promises(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "python"))
    namespace = {"__name__": f"docs_{path.stem}"}
    for line, source in python_blocks(path):
        try:
            run_block(source, f"{path.relative_to(ROOT)} block at line {line}", namespace, PROMISES)
        except Exception as error:  # name the block in the failure
            raise AssertionError(f"{path.name} block at line {line} failed: {error!r}") from error
    assert os.getcwd() == str(tmp_path)


def test_the_docs_promise_values_and_the_checks_saw_them(tmp_path, monkeypatch):
    """The promised values above were found and checked (README's converged W and trained model,
    the delta rule, the schedules' tables, the one-cycle momentum, the training example)."""
    if not PROMISES:  # run alone (-k): run the blocks here
        for path in DOC_FILES:
            if python_blocks(path):
                test_python_blocks_run_and_keep_their_promises(path, tmp_path, monkeypatch)
    files = {where.split(" ")[0] for where in PROMISES}
    assert len(PROMISES) >= 8 and {"README.md", "docs/gradients.md", "docs/schedules.md",
                                   "docs/training.md"} <= files, PROMISES


def test_promise_checks_catch_a_wrong_value():
    check_promise("[5.00007...]", np.array([5.00007136]), "ok")
    check_promise("{'loss': ..., 'accuracy': ~0.97}", {"loss": 1.0, "accuracy": 0.965}, "ok")
    for comment, value in [("[5.00007...]", np.array([5.00009])), ("0.004, 0.1", [0.004, 0.2]),
                           ("[0.0, 0.05]", [0.0, 0.05, 0.1]), ("{'loss': 0.0766...}", {"loss": 0.0786})]:
        with pytest.raises(AssertionError):
            check_promise(comment, value, "wrong")


def test_header_worked_example_compiles_and_prints_what_it_says(tmp_path):
    """The C program in descent.h's opening comment compiles against the header, links against
    the library Python loaded, and prints the value its comment promises."""
    import shutil
    import subprocess

    from descent import _ffi

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        skip_or_fail("no C compiler (cc or gcc) to build the header's worked example")
    header = (ROOT / "include" / "descent.h").read_text(encoding="utf-8")
    start = header.index(" *     #include <stdio.h>")
    end = header.index(" *     }\n", start) + len(" *     }\n")
    source = "\n".join(line[len(" *     "):] if line.startswith(" *     ") else ""
                       for line in header[start:end].splitlines()) + "\n"
    assert "descent_gd_step" in source and "int main(void)" in source
    expected = re.search(r"// (\d+\.\d+) \(5 \+ 5 \* 0\.8\^50\)", source).group(1)
    (tmp_path / "example.c").write_text(source)
    libdir = os.path.dirname(_ffi.library_path)
    build = subprocess.run([compiler, "-std=c11", "-Wall", "-Werror", "-I", str(ROOT / "include"), "example.c",
                            "-o", "example", "-L", libdir, "-ldescent", "-Wl,-rpath," + libdir, "-lm"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"W = {expected}"
    assert abs(float(expected) - (5 + 5 * 0.8 ** 50)) < 1e-6
