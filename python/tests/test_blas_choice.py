"""Which BLAS serves the matrix products (descent_blas_name): the newer OpenBLAS beside the
library when `make` put it there, or the system one when $DESCENT_BLAS says so or a named library
cannot be loaded; every choice computes the same products (checked against NumPy)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import descent
from conftest import skip_or_fail

PYTHON = os.path.dirname(os.path.dirname(os.path.abspath(descent.__file__)))
SCRIPT = """
import sys
sys.path.insert(0, {path!r})
import numpy as np
import descent
rng = np.random.default_rng(0)
a, b = rng.standard_normal((37, 53)), rng.standard_normal((53, 29))
out = descent.zeros((37, 29))
descent.matmul(descent.tensor(a), descent.tensor(b), out=out)
np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12, atol=1e-12)
print(descent.blas_name())
"""


def run(choice):
    env = dict(os.environ)
    env.pop("DESCENT_BLAS", None)
    if choice is not None:
        env["DESCENT_BLAS"] = choice
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(path=PYTHON)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_bundled_openblas_serves_when_it_sits_beside_the_library():
    bundled = os.path.join(os.path.dirname(descent.library_path), "libscipy_openblas.so")
    if not os.path.exists(bundled):
        skip_or_fail(f"no bundled OpenBLAS beside the library at {bundled} (an offline build; `make` places it "
                     "with scripts/fetch-blas.sh)")
    assert run(None) == bundled
    assert run("bundled") == bundled


def test_descent_blas_system_forces_the_system_openblas():
    assert run("system").startswith("system OpenBLAS")


def test_an_unloadable_descent_blas_falls_back_to_the_system_one_and_says_so():
    name = run("/nonexistent/libnothing.so")
    assert name.startswith("system OpenBLAS") and "could not be loaded" in name


def test_blas_name_is_a_string_in_process():
    assert isinstance(descent.blas_name(), str) and descent.blas_name()
