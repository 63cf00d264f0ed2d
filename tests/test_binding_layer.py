"""The Python binding layer (csrc/python/): one argument parser for every function, so a wrong argument
type gets the same TypeError naming the op wherever it is passed."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf

X = np.arange(6, dtype=np.float32).reshape(2, 3)
IDX = np.array([0, 2, 1], np.int32)

# (A float, str or bool where an integer axis/depth belongs: the TypeError naming the op is checked by the
# ARGUMENTS table of tests/test_bad_input.py.)


def test_integer_like_axes_are_accepted():
    np.testing.assert_allclose(tf.nn.softmax(X, axis=np.int64(0)).numpy(), tf.nn.softmax(X, axis=0).numpy())
    np.testing.assert_array_equal(tf.one_hot(IDX, np.int32(3), axis=0).numpy(), np.eye(3, dtype=np.float32)[IDX].T)


def test_one_hot_dtype_follows_on_or_off_value_as_tf():
    assert tf.one_hot(IDX, 3).dtype == tf.float32
    assert tf.one_hot(IDX, 3, on_value=5).dtype == tf.int32
    assert tf.one_hot(IDX, 3, off_value=-1).dtype == tf.int32  # TF: off_value's dtype when on_value is absent
    assert tf.one_hot(IDX, 3, on_value=np.float64(2.0)).dtype == tf.float64
    assert tf.one_hot(IDX, 3, on_value=1, dtype=tf.float64).dtype == tf.float64
    np.testing.assert_array_equal(tf.one_hot(IDX, 3, on_value=5, off_value=-1).numpy(),
                                  np.where(np.eye(3)[IDX] > 0, 5, -1))
    with pytest.raises(TypeError, match="one_hot: dtype float64 of on_value does not match the output dtype float32"):
        tf.one_hot(IDX, 3, on_value=tf.constant(1.0, tf.float64), dtype=tf.float32)


def test_transpose_rules_live_in_the_op():
    with pytest.raises(tf.errors.InvalidArgumentError, match="transpose: perm has 0 entries but the input"):
        tf.transpose(X, perm=[])
    assert tf.transpose(tf.constant(3.0)).numpy() == 3.0  # rank 0: the identity
    np.testing.assert_array_equal(tf.transpose(X).numpy(), X.T)
