"""matmul forward against tests/reference.py (plain float64 einsum, no BLAS): 2-D, batched, broadcast
batch dims, every transpose combination, empty and degenerate sizes, integer dtypes, the @ operator
(the errors for mismatched inner/batch dimensions and dtypes: tests/test_bad_input.py)."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import FLOAT_DTYPES, assert_close

INT_DTYPES = [np.int32, np.int64]

# (shape of op(a), shape of op(b)): the shapes after any transposition.
MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((1, 1), (1, 1)),
    ((1, 7), (7, 1)),
    ((5, 1), (1, 6)),
    ((0, 4), (4, 3)),
    ((3, 4), (4, 0)),
    ((3, 0), (0, 4)),  # empty inner dimension: a zero matrix
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),  # rank 3 @ rank 2: batch broadcast
    ((4, 5), (3, 5, 2)),  # rank 2 @ rank 3
    ((1, 3, 4), (6, 4, 2)),
    ((6, 3, 4), (1, 4, 2)),
    ((2, 1, 3, 4), (1, 5, 4, 6)),
    ((2, 3, 2, 3), (2, 3, 3, 2)),
    ((3, 1, 2, 5), (4, 5, 3)),  # ranks 4 and 3
    ((0, 3, 4), (4, 2)),  # empty batch
    ((33, 65), (65, 17)),  # sizes that are not multiples of a vector width
    ((4, 64, 128), (4, 128, 96)),
    # around the plain-loop path for products of at most 512 multiply-adds (csrc/cpu/linalg.cpp)
    ((100, 3), (3, 1)),  # the seed programs' forward
    ((3, 100), (100, 1)),  # ... and their weight gradient
    ((1, 512), (512, 1)),  # a dot product: fewer than 8 outputs
    ((2, 3), (3, 3)),
    ((7, 9), (9, 1)),
    ((8, 8), (8, 8)),  # 512: the last size on the loop
    ((8, 8), (8, 9)),  # 576: OpenBLAS
    ((16, 2), (2, 16)),
    ((3, 4, 5), (5, 1)),
]


def _id(v):
    return str(v).replace(" ", "")


def _swap(shape):
    return tuple(shape[:-2]) + (shape[-1], shape[-2])


def _data(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return np.asarray(rng.integers(-5, 6, size=shape), dtype=dtype)
    return np.asarray(rng.standard_normal(size=shape), dtype=dtype)


def _tol(a, b, ta, tb, dtype):
    """float32: one rounding per multiply-add; scale atol by max (|a| @ |b|), the size of the terms summed."""
    if np.dtype(dtype) == np.float64:
        scale = float(np.max(ref.matmul(np.abs(a), np.abs(b), ta, tb), initial=0.0))
        return dict(atol=1e-14 * max(scale, 1.0))
    scale = float(np.max(ref.matmul(np.abs(a), np.abs(b), ta, tb), initial=0.0))
    return dict(rtol=1e-5, atol=2e-6 * max(scale, 1.0))


@pytest.mark.parametrize("tb", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("ta", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_matmul_float(dtype, shapes, ta, tb, rng):
    sa, sb = shapes
    a = _data(rng, _swap(sa) if ta else sa, dtype)
    b = _data(rng, _swap(sb) if tb else sb, dtype)
    got = tf.matmul(tf.constant(a), tf.constant(b), transpose_a=ta, transpose_b=tb)
    want = ref.matmul(a, b, ta, tb)
    assert want.shape == np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1])
    assert_close(got, want, dtype=dtype, **_tol(a, b, ta, tb, dtype))


@pytest.mark.parametrize("tb", [False, True], ids=["b", "bT"])
@pytest.mark.parametrize("ta", [False, True], ids=["a", "aT"])
@pytest.mark.parametrize("shapes", [s for s in MATMUL_SHAPES if np.prod(s[0]) < 1000], ids=_id)
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_matmul_int(dtype, shapes, ta, tb, rng):
    sa, sb = shapes
    a = _data(rng, _swap(sa) if ta else sa, dtype)
    b = _data(rng, _swap(sb) if tb else sb, dtype)
    got = tf.matmul(tf.constant(a), tf.constant(b), transpose_a=ta, transpose_b=tb)
    assert_close(got, ref.matmul(a, b, ta, tb), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_matmul_operator_and_positional_flags(dtype, rng):
    a, b = _data(rng, (2, 3, 4), dtype), _data(rng, (4, 5), dtype)
    assert_close(tf.constant(a) @ tf.constant(b), ref.matmul(a, b), dtype=dtype, **_tol(a, b, False, False, dtype))
    c = _data(rng, (2, 5, 4), dtype)
    assert_close(tf.matmul(tf.constant(a), tf.constant(c), False, True), ref.matmul(a, c, False, True), dtype=dtype,
                 **_tol(a, c, False, True, dtype))
    # adjoint == transpose for real dtypes
    assert_close(tf.matmul(tf.constant(a), tf.constant(c), adjoint_b=True), ref.matmul(a, c, False, True),
                 dtype=dtype, **_tol(a, c, False, True, dtype))
    # NumPy operands on either side of @ (NumPy defers to the tensor: __array_priority__)
    assert_close(a @ tf.constant(b), ref.matmul(a, b), dtype=dtype, **_tol(a, b, False, False, dtype))
    assert_close(tf.constant(a) @ b, ref.matmul(a, b), dtype=dtype, **_tol(a, b, False, False, dtype))


def test_matmul_python_lists_default_to_float32():
    got = tf.matmul([[1.0, 2.0]], [[3.0], [4.0]])
    assert_close(got, np.array([[11.0]]), dtype=np.float32)
    assert_close(tf.matmul([[1, 2]], [[3], [4]]), np.array([[11]]), dtype=np.int32)


def test_matmul_empty_inner_dimension_gives_zeros():
    got = tf.matmul(tf.zeros([3, 0]), tf.zeros([0, 4]))
    assert_close(got, np.zeros((3, 4)), dtype=np.float32)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_matmul_inputs_are_not_modified_and_views_are_respected(dtype, rng):
    # Non-contiguous NumPy inputs (a transposed view) must be read by value, not by memory layout.
    a = _data(rng, (5, 3), dtype)
    b = _data(rng, (4, 5), dtype)
    a_copy, b_copy = a.copy(), b.copy()
    got = tf.matmul(tf.constant(a.T), tf.constant(b.T))
    assert_close(got, ref.matmul(a.T, b.T), dtype=dtype, **_tol(a.T, b.T, False, False, dtype))
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(b, b_copy)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_matmul_special_values(dtype):
    a = np.array([[np.inf, 1.0], [np.nan, 0.0], [1.0, 1.0]], dtype=dtype)
    b = np.array([[1.0, 0.0], [2.0, -np.inf]], dtype=dtype)
    with np.errstate(all="ignore"):
        want = ref.matmul(a, b).astype(dtype)
    assert_close(tf.matmul(tf.constant(a), tf.constant(b)), want, dtype=dtype)


# ---- errors: the bad-shape and bad-dtype table is in tests/test_bad_input.py (LINALG) -------------------
