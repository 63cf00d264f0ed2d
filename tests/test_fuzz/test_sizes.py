"""Property: shapes drawn from the sizes that break size arithmetic (0, 1, 2**31, 2**32, 2**62, 2**63-1, -1,
beyond int64) never crash the process: each call raises one of TF's errors naming the op, or returns a result
of the expected shape. The draws reach what the coverage-guided fuzzer (bench/fuzz_atheris.py) found.

Legitimate but large requests (a valid shape of 1 MiB .. 2**47 bytes) are not made: they would allocate for
real. Beyond 2**47 bytes an allocation cannot succeed on any machine (the x86-64 user address space), so
those are made and must raise ResourceExhaustedError.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
from hypothesis import given, strategies as st

import pyfast_tape as tf

from ._common import budget

HUGE = [0, 1, 2, 3, 5, 2**31, 2**32, 2**62, 2**63 - 1, -1]
DIMS = st.one_of(st.sampled_from(HUGE), st.integers(0, 4), st.sampled_from([2**63, 2**64, -2**63 - 1]))
SHAPES = st.lists(DIMS, min_size=0, max_size=4).map(tuple)
ERRORS = (tf.errors.InvalidArgumentError, tf.errors.ResourceExhaustedError, ValueError, TypeError, IndexError)


def _valid_numel(shape: Tuple[int, ...]) -> Optional[int]:
    """The element count under the library's rule (non-negative dims; non-zero dims' product < 2**63)."""
    if any(d < 0 for d in shape):
        return None
    nz = 1
    for d in shape:
        if d:
            nz *= d
    if nz >= 2**63:
        return None
    return 0 if 0 in shape else nz


def _skip_legit_big(shape: Tuple[int, ...], itemsize: int) -> bool:
    n = _valid_numel(shape)
    if n is None:
        return False
    nbytes = n * itemsize
    return 1 << 20 < nbytes <= 2**47


def _check(op: str, call: Any, expect_shape: Optional[Tuple[int, ...]]) -> None:
    try:
        r = call()
    except ERRORS as e:
        msg = str(e)
        assert "Unable to cast" not in msg and msg, f"{op}: unhelpful error {type(e).__name__}: {msg!r}"
        return
    if expect_shape is not None:
        assert tuple(r.shape) == expect_shape, f"{op}: shape {tuple(r.shape)}, expected {expect_shape}"


@budget(60)
@given(shape=SHAPES, dtype=st.sampled_from([tf.float32, tf.float64, tf.int32, tf.bool]))
def test_creation_with_huge_shapes(shape, dtype):
    size = {"float32": 4, "float64": 8, "int32": 4, "bool": 1}[dtype.name]
    if _skip_legit_big(shape, size):
        return
    _check("zeros", lambda: tf.zeros(list(shape), dtype), shape)
    _check("ones", lambda: tf.ones(list(shape), dtype), shape)
    if dtype.is_floating:
        _check("random.normal", lambda: tf.random.normal(list(shape), dtype=dtype), shape)
        _check("fill", lambda: tf.fill(list(shape), 1.5), shape)


@budget(60)
@given(shape=SHAPES, axis=st.integers(-5, 5))
def test_views_and_reductions_of_huge_empty_shapes(shape, axis):
    # Build an empty tensor with huge other dimensions (no memory), then shape ops and reductions on it.
    base = (0,) + tuple(shape)
    if _skip_legit_big(base, 4):
        return
    try:
        x = tf.zeros(list(base))
    except ERRORS:
        return
    _check("reshape", lambda: tf.reshape(x, [-1] + list(shape)[1:]), None)
    _check("reduce_sum", lambda: tf.reduce_sum(x, axis=axis), None)
    _check("reduce_max", lambda: tf.reduce_max(x, axis=axis), None)
    _check("argmax", lambda: tf.argmax(x, axis=axis), None)
    _check("softmax", lambda: tf.nn.softmax(x, axis=axis), base)
    _check("transpose", lambda: tf.transpose(x), tuple(reversed(base)))
    _check("slice", lambda: x[..., 1:], None)
    _check("numpy", lambda: x.numpy(), base)
    _check("cast", lambda: tf.cast(x, tf.float64), base)


@budget(60)
@given(a=SHAPES, b=SHAPES)
def test_broadcasting_of_huge_empty_shapes(a, b):
    try:
        x, y = tf.zeros([0] + list(a)), tf.zeros([0] + list(b))
    except ERRORS:
        return
    _check("add", lambda: x + y, None)
    _check("broadcast_to", lambda: tf.broadcast_to(x, [0] + list(b)), None)


@budget(60)
@given(depth=st.sampled_from(HUGE + [2**63]), n=st.integers(0, 3),
       start=st.sampled_from([0, 1, -2**31, 2**31, 2**62, -2**63, 1e30]),
       delta=st.sampled_from([1, 2, 2**33, 2**62, 0.5]))
def test_one_hot_and_range_bounds(depth, n, start, delta):
    if 0 < n * depth * 4 and 1 << 20 < n * depth * 4 <= 2**47:
        return
    _check("one_hot", lambda: tf.one_hot(tf.zeros([n], tf.int32), depth), None)
    _check("range", lambda: tf.range(start, start + 3 * delta, delta), None)
    _check("range int64", lambda: tf.range(start, start + 3 * delta, delta, dtype=tf.int64), None)
    arr = np.zeros((0,), np.float32)
    _check("constant", lambda: tf.constant(arr), (0,))
