"""Shared fixtures and tolerances for the Python suite.

Tolerances follow DESIGN.md: float64 results agree with NumPy references to ~1e-12 relative,
float32 to ~1e-6. References are written from the formulas in NumPy, never by calling descent.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import descent  # noqa: E402

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


def in_ci():
    """True under CI (env CI=true, as CI services set it): missing tools are failures there."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(message):
    """Skips on a developer's machine; fails in CI, where make test provides every tool, so a test
    can never pass by silently not running there."""
    if in_ci():
        pytest.fail(f"{message}; in CI (CI=true) this must be present, not skipped")
    pytest.skip(message)
