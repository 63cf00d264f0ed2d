"""Fuzz: wrong argument types (strings, None, objects, complex, unsupported NumPy dtypes, huge ints, callables,
...) in every tensor position and as axes: always TypeError or InvalidArgumentError naming the op -- never
pybind11's RuntimeError ("Unable to cast"), which the one argument parser replaced."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyfast_tape as tf
from test_fuzz._common import IAE, budget, invoke, names_op

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy references on NaN/Inf/0 inputs

def _bad_values():
    return st.sampled_from([
        "abc", None, object(), {"a": 1}, {1, 2}, b"xy", 1 + 2j, [1.0, "a"], [[1.0, 2.0], [3.0]], [None],
        np.array(["a", "b"]), np.array([1 + 1j]), np.array([1, None], dtype=object), np.datetime64(1, "s"),
        np.array([1], dtype=np.uint64), 2**70, -2**70, lambda: 0, slice(1), Ellipsis,
    ])


BAD_CALLS = {
    # op name in the message: callable taking the bad value in position k (0-based) of its tensor arguments
    "add": (2, lambda a, b: tf.add(a, b)), "multiply": (2, lambda a, b: tf.multiply(a, b)),
    "subtract": (2, lambda a, b: tf.subtract(a, b)), "divide": (2, lambda a, b: tf.divide(a, b)),
    "pow": (2, lambda a, b: tf.pow(a, b)), "maximum": (2, lambda a, b: tf.maximum(a, b)),
    "minimum": (2, lambda a, b: tf.minimum(a, b)), "less": (2, lambda a, b: tf.less(a, b)),
    "equal": (2, lambda a, b: tf.equal(a, b)), "not_equal": (2, lambda a, b: tf.not_equal(a, b)),
    "matmul": (2, lambda a, b: tf.matmul(a, b)), "where": (3, lambda c, a, b: tf.where(c, a, b)),
    "exp": (1, tf.exp), "log": (1, tf.log), "sqrt": (1, tf.sqrt), "tanh": (1, tf.tanh), "abs": (1, tf.abs),
    "negative": (1, tf.negative), "square": (1, tf.square), "sigmoid": (1, tf.sigmoid), "sign": (1, tf.sign),
    "relu": (1, tf.nn.relu), "identity": (1, tf.identity), "reduce_sum": (1, tf.reduce_sum),
    "reduce_mean": (1, tf.reduce_mean), "reduce_max": (1, tf.reduce_max), "reduce_min": (1, tf.reduce_min),
    "argmax": (1, tf.argmax), "softmax": (1, tf.nn.softmax), "log_softmax": (1, tf.nn.log_softmax),
    "transpose": (1, tf.transpose), "cast": (1, lambda a: tf.cast(a, tf.float32)),
    "reshape": (1, lambda a: tf.reshape(a, [-1])), "one_hot": (1, lambda a: tf.one_hot(a, 3)),
    "broadcast_to": (1, lambda a: tf.broadcast_to(a, [2])),
    "dense": (2, lambda a, b: tf._core.dense(a, b)),
    "softmax_cross_entropy": (2, lambda a, b: tf._core.softmax_cross_entropy(a, b)),
    "sparse_softmax_cross_entropy": (2, lambda a, b: tf._core.sparse_softmax_cross_entropy(a, b)),
}
GOOD = {"where": [tf.constant([True, False]), tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])],
        "matmul": [tf.ones([2, 2]), tf.ones([2, 2])], "dense": [tf.ones([2, 2]), tf.ones([2, 2])],
        "softmax_cross_entropy": [tf.ones([2, 2]), tf.ones([2, 2])],
        "sparse_softmax_cross_entropy": [tf.constant([0, 1]), tf.ones([2, 2])],
        "one_hot": [tf.constant([0, 1])]}


@budget(100)
@given(op=st.sampled_from(sorted(BAD_CALLS)), bad=_bad_values(), data=st.data())
def test_wrong_argument_types(op, bad, data):
    arity, fn = BAD_CALLS[op]
    pos = data.draw(st.integers(0, arity - 1), label="position")
    good = list(GOOD.get(op, [tf.constant([1.0, 2.0])] * arity))
    good[pos] = bad
    out = invoke(op, fn, *good)
    assert out.error is not None, f"{op} accepted {bad!r} at position {pos}: {out.value!r}"
    e = out.error
    if op == "where" and bad is None and isinstance(e, NotImplementedError):
        return  # where(c, None, y): read as the one-argument form, documented as not supported
    assert isinstance(e, (TypeError, IAE)), f"{op}({bad!r} at {pos}): undocumented {type(e).__name__}: {e}"
    assert names_op(str(e), op), f"{op}({bad!r} at {pos}): message does not name {op}: {e}"


@budget(60)
@given(op=st.sampled_from(["argmax", "argmin", "reduce_sum", "reduce_max", "softmax", "transpose", "one_hot"]),
       bad=st.sampled_from([1.5, "0", [0.5], object(), None, (0, "a")]))
def test_wrong_axis_types(op, bad):
    x = tf.ones([2, 3])
    if op == "transpose":
        call = lambda: tf.transpose(x, bad)  # noqa: E731
    elif op == "one_hot":
        call = lambda: tf.one_hot([0, 1], 3, axis=bad)  # noqa: E731
    elif op == "softmax":
        call = lambda: tf.nn.softmax(x, axis=bad)  # noqa: E731
    else:
        call = lambda: getattr(tf, op)(x, axis=bad)  # noqa: E731
    out = invoke(op, call)
    if bad is None and op in ("argmax", "argmin", "reduce_sum", "reduce_max", "softmax", "transpose", "one_hot"):
        return  # None is a valid axis/perm (the default)
    assert out.error is not None, f"{op}(axis={bad!r}) accepted: {out.value!r}"
    e = out.error
    assert isinstance(e, (TypeError, IAE)), f"{op}(axis={bad!r}): undocumented {type(e).__name__}: {e}"
    assert names_op(str(e), op), f"{op}(axis={bad!r}): message does not name {op}: {e}"
