"""Text forms as TensorFlow gives them: repr/str of tensors and variables, __format__, dtypes.

The expected strings are TF 2.x's layout (tensorflow/python/framework/ops.py: numpy_text puts a value that
spans several lines on a line of its own; Tensor.__format__ is the NumPy value's __format__).
"""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf


def test_repr_and_str_rank2():
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert repr(m) == ("<tf.Tensor: shape=(2, 2), dtype=float32, numpy=\n"
                       "array([[1., 2.],\n"
                       "       [3., 4.]], dtype=float32)>")
    assert str(m) == ("tf.Tensor(\n"
                      "[[1. 2.]\n"
                      " [3. 4.]], shape=(2, 2), dtype=float32)")


def test_repr_and_str_low_rank():
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"
    assert str(tf.constant(3)) == "tf.Tensor(3, shape=(), dtype=int32)"
    assert repr(tf.constant([1, 2])) == "<tf.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>"
    assert str(tf.constant([1.0, 2.5])) == "tf.Tensor([1.  2.5], shape=(2,), dtype=float32)"


def test_variable_repr():
    v = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
    assert repr(v) == ("<tf.Variable 'w:0' shape=(2, 2) dtype=float32, numpy=\n"
                       "array([[1., 2.],\n"
                       "       [3., 4.]], dtype=float32)>")
    assert repr(tf.Variable(2.0, name="s")) == "<tf.Variable 's:0' shape=() dtype=float32, numpy=2.0>"


@pytest.mark.parametrize("value,spec", [(1.23456, ".3f"), (2.5, "8.2f"), (1e-7, ".2e"), (0.25, "%"), (1.0, "")])
def test_format_scalar(value, spec):
    for dt, np_dt in [(tf.float32, np.float32), (tf.float64, np.float64)]:
        t = tf.constant(value, dt)
        assert format(t, spec) == format(np_dt(value), spec)
        assert ("{:" + spec + "}").format(t) == format(np_dt(value), spec)
    assert f"{tf.constant(7):5d}" == "    7"
    assert f"{tf.Variable(0.5):.2f}" == "0.50"


def test_format_array():
    m = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert "{}".format(m) == str(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    with pytest.raises(TypeError):
        f"{m:.2f}"  # NumPy arrays take only the empty spec; so does TF


def test_dtype_str_and_repr():
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert repr(tf.float32) == "tf.float32"
    assert str(tf.int64) == "<dtype: 'int64'>"
    assert f"{tf.constant(1.0).dtype}" == "<dtype: 'float32'>"


def test_tensor_shape_api():
    s = tf.TensorShape([None, 3])
    assert repr(s) == "TensorShape([None, 3])" and str(s) == "(None, 3)"
    assert s.rank == 2 and not s.is_fully_defined() and s.num_elements() is None
    assert s.as_list() == [None, 3]
    assert s.is_compatible_with([5, 3]) and not s.is_compatible_with([5, 4]) and not s.is_compatible_with([3])
    assert s.merge_with([7, None]) == [7, 3]
    with pytest.raises(ValueError, match="not compatible"):
        s.merge_with([1, 2])
    assert tf.TensorShape(None).is_compatible_with([1, 2, 3])
    assert tf.TensorShape(None).merge_with([1, 2]) == [1, 2]
    assert str(tf.TensorShape(None)) == "<unknown>" and tf.TensorShape(None).rank is None
    assert tf.TensorShape([2, 3]).concatenate([4]) == [2, 3, 4]
    assert tf.TensorShape([2, 3]).most_specific_compatible_shape([2, 4]) == [2, None]
    assert tf.TensorShape([2, 3]).num_elements() == 6
    assert tf.TensorShape([2, 3]).with_rank(2) == [2, 3]
    with pytest.raises(ValueError, match="must have rank 3"):
        tf.TensorShape([2, 3]).with_rank(3)
    t = tf.ones([2, 3])
    assert t.shape == (2, 3) and t.shape.as_list() == [2, 3] and t.shape[1:] == [3]
    assert tf.TensorShape([np.int64(4)]).as_list() == [4] and type(tf.TensorShape([np.int64(4)])[0]) is int
    with pytest.raises(TypeError, match="did you mean"):
        tf.TensorShape(3)


def test_dtype_attributes():
    assert tf.float32.max == float(np.finfo(np.float32).max) and tf.float32.min == -tf.float32.max
    assert tf.float64.max == float(np.finfo(np.float64).max)
    assert tf.int32.limits == (-2**31, 2**31 - 1) and tf.int64.max == 2**63 - 1
    assert tf.bool.min is False and tf.bool.max is True
    assert not tf.float32.is_complex and not tf.int32.is_unsigned and tf.float32.real_dtype == tf.float32
    assert tf.float32.is_compatible_with("float32") and not tf.float32.is_compatible_with(tf.int32)
