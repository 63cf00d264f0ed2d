"""Shared test helpers: tolerances and the one comparison every op test uses.

The test directory is on sys.path (pytest's default rootdir-relative import), so test files import
``reference`` and these helpers directly: ``from conftest import assert_close``.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

# Per-dtype tolerances against a float64 reference; tests loosen them only where the math needs it
# (transcendental kernels, long float32 sums), and say so.
TOL = {
    np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
    np.dtype(np.float64): dict(rtol=1e-12, atol=1e-12),
}
FLOAT_DTYPES = [np.float32, np.float64]


def to_numpy(x) -> np.ndarray:
    """A pyfast_tape tensor (or anything array-like) as a NumPy array, via the public API."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, shape=None):
    """`actual` (a tensor) has dtype `dtype`, the shape of `expected` (or `shape`) and its values.

    Floating results are compared with the dtype's tolerance (rtol/atol override it), NaNs equal;
    integer and bool results exactly."""
    a = to_numpy(actual)
    e = np.asarray(expected)
    if dtype is not None:
        assert a.dtype == np.dtype(dtype), f"dtype: got {a.dtype}, expected {np.dtype(dtype)}"
    want_shape = tuple(shape) if shape is not None else e.shape
    assert a.shape == want_shape, f"shape: got {a.shape}, expected {want_shape}"
    if a.dtype.kind == "f":
        tol = dict(TOL.get(a.dtype, TOL[np.dtype(np.float32)]))
        if rtol is not None:
            tol["rtol"] = rtol
        if atol is not None:
            tol["atol"] = atol
        np.testing.assert_allclose(a.astype(np.float64), np.broadcast_to(e, want_shape).astype(np.float64),
                                   equal_nan=True, **tol)
    else:
        np.testing.assert_array_equal(a, np.broadcast_to(e, want_shape).astype(a.dtype))


@pytest.fixture
def rng(request):
    """A NumPy Generator seeded from the test's name: reproducible and different per test."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))
