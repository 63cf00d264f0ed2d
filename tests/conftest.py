"""Shared test helpers: the one tolerance table and the one comparison every test uses.

The test directory is on sys.path (pytest's default rootdir-relative import), so test files import
``reference`` (the NumPy references, forward and backward, and the finite-difference helper) and these
helpers directly: ``from conftest import assert_close``.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

FLOAT_DTYPES = [np.float32, np.float64]

# The tolerance table: per dtype, one row per kind of comparison. Tests loosen a row only where the math
# needs it (transcendental kernels, long float32 sums, large logits), pass the tolerance at that call and say
# why; a test that wants a tighter tolerance than its row passes it too.
_TINY32 = 4 * float(np.finfo(np.float32).tiny)
_TINY64 = 4 * float(np.finfo(np.float64).tiny)
TOL = {
    np.dtype(np.float32): {
        # an op's forward (transcendental kernels included) against the float64 reference
        "value": dict(rtol=1e-5, atol=1e-6),
        # a result one rounding away from the exact one (add, multiply, casts, shape ops ...: the fuzz's default)
        "rounded": dict(rtol=1e-6, atol=_TINY32),
        # a backward rule against the float64 analytic gradient of the rounded inputs; atol x the gradient's scale
        "grad": dict(rtol=2e-5, atol=2e-6),
        # a fused kernel (forward and backward) against the float64 reference or the composed ops; atol x scale
        "fused": dict(rtol=2e-5, atol=2e-6),
        # the same op on the GPU and on the CPU
        "device": dict(rtol=2e-5, atol=2e-6),
    },
    np.dtype(np.float64): {
        "value": dict(rtol=1e-12, atol=1e-12),
        "rounded": dict(rtol=1e-13, atol=_TINY64),
        "grad": dict(rtol=1e-9, atol=1e-12),
        "fused": dict(rtol=1e-10, atol=1e-12),
        # central differences (eps 1e-6) carry ~1e-10 of rounding noise
        "fd": dict(rtol=1e-6, atol=1e-7),
        "device": dict(rtol=1e-12, atol=1e-13),
    },
}


def tolerance(dtype, tol: str = "value", scale: float = 1.0) -> dict:
    """TOL's row `tol` for `dtype` (float32's for other floating dtypes), its atol multiplied by `scale`."""
    row = TOL.get(np.dtype(dtype), TOL[np.dtype(np.float32)])[tol]
    return dict(rtol=row["rtol"], atol=row["atol"] * scale)


def to_numpy(x) -> np.ndarray:
    """A pyfast_tape tensor (or anything array-like) as a NumPy array, via the public API."""
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def assert_close(actual, expected, dtype=None, rtol=None, atol=None, shape=None, *, tol: str = "value",
                 scale: float = 1.0, range_edge: bool = False, what: str = "") -> None:
    """`actual` (a tensor or an array) has dtype `dtype`, the shape of `expected` (or `shape`) and its values.

    Floating results are compared with ``|actual - expected| <= atol + rtol * |expected|`` against the float64
    `expected`, the tolerances from TOL's row `tol` for actual's dtype (atol times `scale`); rtol/atol given
    here replace them (atol may then be an array, with `range_edge`). NaNs must match NaNs and infinities
    infinities of the same sign. Integer and bool results are compared exactly.

    `range_edge` (the fuzz's comparison): the NaN and infinity patterns are taken from the reference rounded
    to actual's dtype, and a reference within rounding of overflow (>= max * (1 - 1e-4)) accepts an
    infinity of its sign (and the reverse)."""
    a = to_numpy(actual)
    e = np.asarray(expected)
    pre = f"{what}: " if what else ""
    if dtype is not None:
        assert a.dtype == np.dtype(dtype), f"{pre}dtype: got {a.dtype}, expected {np.dtype(dtype)}"
    want_shape = tuple(shape) if shape is not None else e.shape
    assert a.shape == want_shape, f"{pre}shape: got {a.shape}, expected {want_shape}"
    e = np.broadcast_to(e, want_shape)
    if a.dtype.kind != "f":
        with np.errstate(all="ignore"):
            e = e.astype(a.dtype)
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    t = tolerance(a.dtype, tol, scale)
    rtol = t["rtol"] if rtol is None else rtol
    atol = t["atol"] if atol is None else atol
    if not range_edge:
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), equal_nan=True, rtol=rtol, atol=atol,
                                   err_msg=what)
        return
    _assert_close_to_the_range_edge(a, e, rtol, atol, pre)


def _assert_close_to_the_range_edge(a: np.ndarray, expected: np.ndarray, rtol: float, atol, pre: str) -> None:
    """assert_close(range_edge=True): the NaN pattern and the infinities of the reference rounded to a's dtype
    (or a value at the edge of the dtype's range where the float64 reference is within rounding of
    overflow), finite values within atol (an array or a scalar) + rtol * |float64 reference|."""
    dtype = a.dtype
    with np.errstate(all="ignore"):
        e64 = expected.astype(np.float64)
        e = e64.astype(dtype)
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        idx = np.argwhere(nan_a != nan_e)[:5].tolist()
        raise AssertionError(f"{pre}NaN pattern differs at {idx}: got {a[nan_a != nan_e][:5]}, "
                             f"expected {e[nan_a != nan_e][:5]}")
    fin = np.isfinite(a) & np.isfinite(e)
    big = float(np.finfo(dtype).max) * (1 - 1e-4)
    odd = ~nan_a & ~fin  # at least one infinite
    if odd.any():
        same = (a[odd] == e[odd])
        edge = (np.abs(e64[odd]) >= big) & (np.abs(a[odd]) >= big) & (np.sign(a[odd]) == np.sign(e64[odd]))
        bad = ~(same | edge)
        assert not bad.any(), f"{pre}infinities differ: got {a[odd][bad][:5]}, expected {e64[odd][bad][:5]}"
    tol = np.broadcast_to(np.asarray(atol, dtype=np.float64), a.shape)
    err = np.abs(a[fin].astype(np.float64) - e64[fin])
    lim = tol[fin] + rtol * np.abs(e64[fin])
    if not (err <= lim).all():
        k = np.argmax(err - lim)
        raise AssertionError(f"{pre}values differ beyond rtol={rtol}: got {a[fin][k]!r}, expected "
                             f"{e64[fin][k]!r} (|err| {err[k]:.3g} > {lim[k]:.3g}); {int((err > lim).sum())} of "
                             f"{err.size} elements")


def grad_scale(expected) -> float:
    """max(1, max |expected|): the scale of a gradient's absolute tolerance (NaN-free part; 1 for empty)."""
    exp = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(exp))) if exp.size else 1.0
    return max(1.0, scale)


@pytest.fixture
def rng(request):
    """A NumPy Generator seeded from the test's name: reproducible and different per test."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


# the shared fuzz helpers (not a test module) get pytest's assertion messages too
pytest.register_assert_rewrite("test_fuzz._common")
