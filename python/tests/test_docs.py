"""Executable documentation: every ```python block of README.md and docs/*.md runs.

Users copy the examples literally, so each one is a test. The blocks of one file run in order in
one shared namespace (a later block may use names an earlier one defined), with the repository's
python/ folder on sys.path and a fresh temporary directory as the working directory (examples
that write files write there). Blocks that are not meant to run (formulas, C, shell, output
listings) are fenced with another info string (```text, ```c, ```sh) and are not collected.
The worked C example at the top of include/descent.h is compiled and run as well.
"""

import os
import pathlib
import re
import sys

import pytest

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


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "python"))
    namespace = {"__name__": f"docs_{path.stem}"}
    for line, source in blocks:
        code = compile(source, f"{path.relative_to(ROOT)}:{line}", "exec")
        try:
            exec(code, namespace)
        except Exception as error:  # name the block in the failure
            raise AssertionError(f"{path.name} block at line {line} failed: {error!r}") from error
    assert os.getcwd() == str(tmp_path)


def test_header_worked_example_compiles_and_prints_what_it_says(tmp_path):
    """The C program in descent.h's opening comment compiles against the header, links against
    the library Python loaded, and prints the value its comment promises."""
    import shutil
    import subprocess

    from descent import _ffi

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
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
