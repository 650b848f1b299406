"""Helpers shared by the tests: tolerances and comparisons. NumPy references for each formula
live next to the tests of that formula; only generic helpers live here."""
import numpy as np

RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
# Absolute floor for values that should be ~0 (relative error is meaningless there).
ATOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, dtype, rtol_scale=1.0, atol_scale=1.0):
    """assert_allclose with the suite's per-dtype tolerances (scaled for long accumulations)."""
    dtype = np.dtype(dtype)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=RTOL[dtype] * rtol_scale, atol=ATOL[dtype] * atol_scale)


def rel_error(a, b, floor=1e-300):
    """max |a - b| / max(|a| + |b|, floor), elementwise then max (cs231n's gradient-check metric)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
