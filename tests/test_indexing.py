"""tensor[key]: basic indexing against NumPy and its gradient (a zero-filled scatter); bad keys are in
tests/test_bad_input.py."""
import numpy as np
import pytest

import pyfast_tape as tf

A = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
KEYS = [0, -1, 2, (1, 2), (1, 2, 3), (-1, -1, -1), (slice(None), 1), (Ellipsis, 2), (Ellipsis,),
        (slice(None, None, -1),), (0, slice(1, None, 2), slice(None, None, -2)), (None, 0), (slice(5, 9),),
        (1, None, Ellipsis, None), (slice(1, 1),), (slice(-2, None), Ellipsis, slice(None, None, 3)),
        (np.int64(1), slice(None, -1)), (slice(None), slice(3, 0, -1), 0)]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_indexing_matches_numpy(key, dtype):
    a = (A % 7).astype(dtype)
    out = tf.constant(a)[key]
    np.testing.assert_array_equal(out.numpy(), a[key])
    assert out.numpy().dtype == a.dtype


@pytest.mark.parametrize("key", KEYS, ids=[repr(k) for k in KEYS])
def test_indexing_gradient_is_a_scatter(key):
    x = tf.Variable(A)
    w = np.random.default_rng(0).normal(size=A[key].shape)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(x[key] * w)
    ref = np.zeros_like(A)
    ref[key] = w  # positions of a basic index are distinct
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), ref)


def test_second_order_through_a_slice():
    x = tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(x[1::2] ** 3)
        g = inner.gradient(y, x)  # [0, 3x1^2, 0, 3x3^2]
    h = outer.gradient(g, x)      # [0, 6x1, 0, 6x3]
    np.testing.assert_allclose(g.numpy(), [0, 12, 0, 48])
    np.testing.assert_allclose(h.numpy(), [0, 12, 0, 24])


def test_iteration_over_the_first_dimension():
    t = tf.constant(A)
    rows = list(t)
    assert len(rows) == 3
    for r, a in zip(rows, A):
        np.testing.assert_array_equal(r.numpy(), a)


# (bad keys, an index out of range, bad strided_slice bounds: tests/test_bad_input.py, INDEXING)
