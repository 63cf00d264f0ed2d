"""Reductions forward against tests/reference.py: reduce_sum/mean/max/min with every axis form (None,
int, negative int, tuple, list, (), tensor) and keepdims, empty inputs, integer dtypes; argmax/argmin."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import FLOAT_DTYPES, assert_close

INT_DTYPES = [np.int32, np.int64]
REDUCE_OPS = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]
SHAPES = [(), (5,), (3, 4), (2, 3, 4), (2, 3, 4, 5), (0,), (3, 0), (2, 0, 3), (1, 1, 7)]


def axis_forms(rank):
    """Every way to name the axes of a rank-`rank` tensor: None, each axis as a positive and a negative
    int, pairs and triples as tuples, negative lists, all axes as a list, out of order, and () (none)."""
    forms = [None, ()]
    for i in range(rank):
        forms += [i, i - rank]
    for k in range(2, rank + 1):
        for c in itertools.combinations(range(rank), k):
            forms.append(tuple(c))
    if rank >= 1:
        forms.append([rank - 1])
        forms.append(list(range(-rank, 0)))  # all axes, negative
    if rank >= 2:
        forms.append([rank - 1, 0])  # out of order
        forms.append((-1, 0))
    return forms


CASES = [(shape, axis) for shape in SHAPES for axis in axis_forms(len(shape))]


def _id(v):
    return str(v).replace(" ", "")


def _data(rng, shape, dtype):
    if np.dtype(dtype).kind == "i":
        return np.asarray(rng.integers(-50, 51, size=shape), dtype=dtype)
    return np.asarray(rng.standard_normal(size=shape) * 3, dtype=dtype)  # an array even for shape ()


def _float_tol(op, x, axis, dtype):
    """float32 sums round once per addition: allow ~eps * sum|x| (the classic bound's scale), no more."""
    if np.dtype(dtype) != np.float32 or op not in ("reduce_sum", "reduce_mean"):
        return None
    scale = getattr(ref, op)(np.abs(x), axis=axis)
    return 2e-6 * float(np.max(scale, initial=0.0)) + 1e-6


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_float(op, dtype, case, keepdims, rng):
    shape, axis = case
    x = _data(rng, shape, dtype)
    got = getattr(tf, op)(tf.constant(x), axis=axis, keepdims=keepdims)
    with np.errstate(invalid="ignore"):
        want = getattr(ref, op)(x, axis=axis, keepdims=keepdims)
    assert_close(got, want, dtype=dtype, atol=_float_tol(op, x, axis, dtype))


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("case", [c for c in CASES if len(c[0]) <= 3], ids=_id)
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_int(op, dtype, case, keepdims, rng):
    shape, axis = case
    x = _data(rng, shape, dtype)
    got = getattr(tf, op)(tf.constant(x), axis=axis, keepdims=keepdims)
    assert_close(got, getattr(ref, op)(x, axis=axis, keepdims=keepdims), dtype=dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_reduce_mean_int_truncates_toward_zero(dtype):
    # TF divides the integer sum by the count in C++: -7 / 2 = -3 (not floor's -4), 7 / 2 = 3.
    x = np.array([[-4, -3], [4, 3], [-1, 0], [1, 0]], dtype=dtype)
    got = tf.reduce_mean(tf.constant(x), axis=1)
    assert_close(got, np.array([-3, 3, 0, 0], dtype=dtype), dtype=dtype)
    assert_close(got, ref.reduce_mean(x, axis=1), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_empty_gives_the_identity(op, dtype):
    # sum of nothing is 0, mean is 0/0 = nan (floats), max is -inf / the dtype's lowest value, min +inf / highest.
    x = np.zeros((3, 0), dtype=dtype)
    with np.errstate(invalid="ignore"):
        for axis in (None, 1, (0, 1)):
            want = getattr(ref, op)(x, axis=axis)
            assert_close(getattr(tf, op)(tf.constant(x), axis=axis), want, dtype=dtype)
    # Reducing the non-empty axis of an empty tensor gives an empty result.
    assert_close(getattr(tf, op)(tf.constant(x), axis=0), np.zeros((0,), dtype), dtype=dtype)


BIG_CASES = [((512, 300), None), ((512, 300), 0), ((512, 300), 1), ((64, 33, 65), (0, 2)), ((64, 33, 65), 1),
             ((8, 9, 10, 11), (1, 3)), ((100_000,), 0)]


@pytest.mark.parametrize("case", BIG_CASES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_large(op, dtype, case, rng):
    # Large enough for the threaded kernels; non-adjacent axes take more than one kernel pass.
    shape, axis = case
    x = _data(rng, shape, dtype)
    got = getattr(tf, op)(tf.constant(x), axis=axis)
    want = getattr(ref, op)(x, axis=axis)
    tol = _float_tol(op, x, axis, dtype)
    if np.dtype(dtype) == np.float64 and op in ("reduce_sum", "reduce_mean"):
        tol = 1e-15 * float(np.max(getattr(ref, op)(np.abs(x), axis=axis))) * 50
    assert_close(got, want, dtype=dtype, atol=tol)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_axis_as_tensor_or_array(op, rng):
    x = _data(rng, (3, 4, 5), np.float64)
    t = tf.constant(x)
    for axis, ref_axis in [(tf.constant(1), 1), (tf.constant([0, 2]), (0, 2)), (tf.constant(-1, tf.int64), -1),
                           (np.array([0, 1]), (0, 1)), ((np.int32(2), 0), (2, 0))]:
        assert_close(getattr(tf, op)(t, axis=axis), getattr(ref, op)(x, axis=ref_axis), dtype=np.float64)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_axis_as_numpy_int_scalar(op, rng):
    x = _data(rng, (3, 4), np.float64)
    assert_close(getattr(tf, op)(tf.constant(x), axis=np.int64(-1)), getattr(ref, op)(x, axis=-1), dtype=np.float64)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_positional_args_and_math_alias(op, rng):
    x = _data(rng, (2, 3), np.float32)
    want = getattr(ref, op)(x, axis=1, keepdims=True)
    assert_close(getattr(tf, op)(tf.constant(x), 1, True), want, dtype=np.float32, atol=1e-5)
    assert_close(getattr(tf.math, op)(tf.constant(x), axis=1, keepdims=True), want, dtype=np.float32, atol=1e-5)
    assert_close(getattr(tf, op)(x, axis=1, keepdims=True), want, dtype=np.float32, atol=1e-5)  # NumPy input


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["reduce_max", "reduce_min", "reduce_sum"])
def test_reduce_with_infinities_and_nan(op, dtype):
    x = np.array([[1.0, np.inf, -2.0], [-np.inf, 0.0, 3.0], [np.nan, 1.0, 2.0]], dtype=dtype)
    # Rows without NaN only: TF's max/min NaN handling is kernel-dependent.
    rows = x[:2] if op != "reduce_sum" else x
    assert_close(getattr(tf, op)(tf.constant(rows), axis=1), getattr(ref, op)(rows, axis=1), dtype=dtype)


# ---- argmax / argmin -------------------------------------------------------------------------------

ARG_CASES = [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4), 1),
             ((2, 3, 4), 2), ((2, 3, 4), -2), ((2, 3, 4, 5), 3), ((2, 3, 4, 5), 1), ((1, 6), 0), ((0, 4), 1),
             ((300, 257), 1), ((300, 257), 0)]


@pytest.mark.parametrize("output_type", [None, "int32", "int64"])
@pytest.mark.parametrize("case", ARG_CASES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, dtype, case, output_type, rng):
    shape, axis = case
    # Few distinct values: ties are common, and the first index of the extremum must win (TF's rule).
    x = np.asarray(rng.integers(-3, 4, size=shape), dtype=dtype)
    kw = {} if output_type is None else {"output_type": getattr(tf, output_type)}
    got = getattr(tf, op)(tf.constant(x), axis=axis, **kw)
    want_dtype = np.int64 if output_type is None else np.dtype(output_type)
    assert_close(got, getattr(ref, op)(x, axis=axis), dtype=want_dtype)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_default_axis_is_zero(op, rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    assert_close(getattr(tf, op)(tf.constant(x)), getattr(ref, op)(x, axis=0), dtype=np.int64)
    assert_close(getattr(tf.math, op)(tf.constant(x), 1), getattr(ref, op)(x, axis=1), dtype=np.int64)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_argmax_with_infinities(dtype):
    x = np.array([[-np.inf, -np.inf, -1e30], [np.inf, 1.0, np.inf], [-np.inf, -np.inf, -np.inf]], dtype=dtype)
    assert_close(tf.argmax(tf.constant(x), axis=1), ref.argmax(x, axis=1), dtype=np.int64)
    assert_close(tf.argmin(tf.constant(x), axis=1), ref.argmin(x, axis=1), dtype=np.int64)
