"""Bad input, one table: each row is a call that must raise a given exception type whose message names
the op (DESIGN §5). Shape mismatch, dtype mismatch, bad axis, bad reshape, unsupported dtype,
non-numeric input. Nothing may crash, hang or return a value."""
from __future__ import annotations

import re

import numpy as np
import pytest

import pyfast_tape as tf

IAE = tf.errors.InvalidArgumentError


def f32(*shape):
    return tf.zeros(list(shape))


def f64(*shape):
    return tf.zeros(list(shape), dtype=tf.float64)


def i32(*shape):
    return tf.zeros(list(shape), dtype=tf.int32)


def bools(*shape):
    return tf.constant(np.zeros(shape, dtype=bool))


BINARY_OPS = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "less", "less_equal", "greater",
              "greater_equal", "equal", "not_equal"]
REDUCE_OPS = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]
FLOAT_ONLY_UNARY = ["sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "reciprocal", "rsqrt"]

ERRORS = []


def row(name, fn, exc, op):
    ERRORS.append(pytest.param(fn, exc, op, id=name))


# ---- shape mismatch --------------------------------------------------------------------------------
for _op in BINARY_OPS:
    row(f"shape-{_op}", lambda op=_op: getattr(tf, op)(f32(3), f32(4)), IAE, _op)
    row(f"shape-{_op}-rank3", lambda op=_op: getattr(tf, op)(f32(2, 3, 4), f32(2, 1, 3)), IAE, _op)
for _sym, _op in [("+", "add"), ("-", "subtract"), ("*", "multiply"), ("/", "divide"), ("**", "pow"),
                  ("<", "less"), ("<=", "less_equal"), (">", "greater"), (">=", "greater_equal"),
]:
    row(f"shape-operator{_sym}", lambda s=_sym: eval(f"a {s} b", {"a": f32(2, 3), "b": f32(3, 2)}), IAE, _op)
row("shape-where", lambda: tf.where(bools(3), f32(4), f32(4)), IAE, "where")
row("shape-where-xy", lambda: tf.where(bools(2, 3), f32(2, 3), f32(3, 2)), IAE, "where")
row("shape-matmul-inner", lambda: tf.matmul(f32(3, 4), f32(5, 6)), IAE, "matmul")
row("shape-matmul-inner-transposed", lambda: tf.matmul(f32(3, 4), f32(4, 5), transpose_b=True), IAE, "matmul")
row("shape-matmul-inner-transposed-a", lambda: tf.matmul(f32(3, 4), f32(4, 5), transpose_a=True), IAE, "matmul")
row("shape-matmul-batch", lambda: tf.matmul(f32(2, 3, 4), f32(3, 4, 5)), IAE, "matmul")
row("shape-matmul-rank1", lambda: tf.matmul(f32(3), f32(3, 2)), IAE, "matmul")
row("shape-matmul-operator", lambda: f32(3, 4) @ f32(5, 6), IAE, "matmul")
row("shape-broadcast_to", lambda: tf.broadcast_to(f32(3), [4]), IAE, "broadcast_to")
row("shape-broadcast_to-shrink", lambda: tf.broadcast_to(f32(2, 3), [3]), IAE, "broadcast_to")

# ---- dtype mismatch (two tensors never promote) ----------------------------------------------------
for _op in BINARY_OPS:
    row(f"dtype-{_op}-f32-f64", lambda op=_op: getattr(tf, op)(f32(3), f64(3)), IAE, _op)
    row(f"dtype-{_op}-f32-i32", lambda op=_op: getattr(tf, op)(f32(3), i32(3)), IAE, _op)
row("dtype-operator+", lambda: f32(2) + f64(2), IAE, "add")
row("dtype-operator<", lambda: f32(2) < i32(2), IAE, "less")
row("dtype-matmul", lambda: tf.matmul(f32(2, 2), f64(2, 2)), IAE, "matmul")
row("dtype-where-xy", lambda: tf.where(bools(2), f32(2), f64(2)), IAE, "where")
row("dtype-float-scalar-into-int", lambda: tf.add(i32(2), 1.5), TypeError, "add")
row("dtype-bool-scalar-into-float", lambda: tf.multiply(f32(2), True), TypeError, "multiply")

# ---- bad axis --------------------------------------------------------------------------------------
for _op in REDUCE_OPS:
    row(f"axis-{_op}-too-big", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=2), IAE, _op)
    row(f"axis-{_op}-too-negative", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=-3), IAE, _op)
    row(f"axis-{_op}-in-list", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=[0, 5]), IAE, _op)
    row(f"axis-{_op}-repeated", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=[1, -1]), IAE, _op)
    row(f"axis-{_op}-scalar-input", lambda op=_op: getattr(tf, op)(tf.constant(1.0), axis=0), IAE, _op)
    row(f"axis-{_op}-float", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=1.0), TypeError, _op)
    row(f"axis-{_op}-string", lambda op=_op: getattr(tf, op)(f32(2, 3), axis="1"), TypeError, _op)
for _op in ["argmax", "argmin"]:
    row(f"axis-{_op}", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=2), IAE, _op)
    row(f"axis-{_op}-negative", lambda op=_op: getattr(tf, op)(f32(2, 3), axis=-3), IAE, _op)
    row(f"axis-{_op}-empty-dim", lambda op=_op: getattr(tf, op)(f32(4, 0), axis=1), IAE, _op)
    row(f"{_op}-output-type", lambda op=_op: getattr(tf, op)(f32(4), output_type=tf.float32), TypeError, _op)
for _op in ["softmax", "log_softmax"]:
    row(f"axis-{_op}", lambda op=_op: getattr(tf.nn, op)(f32(2, 3), axis=2), IAE, _op)
    row(f"axis-{_op}-negative", lambda op=_op: getattr(tf.nn, op)(f32(2, 3), axis=-3), IAE, _op)
row("axis-transpose-perm-length", lambda: tf.transpose(f32(2, 3), [0, 1, 2]), IAE, "transpose")
row("axis-transpose-perm-repeated", lambda: tf.transpose(f32(2, 3), [0, 0]), IAE, "transpose")
row("axis-transpose-perm-out-of-range", lambda: tf.transpose(f32(2, 3), [0, 2]), IAE, "transpose")
row("axis-one_hot", lambda: tf.one_hot([0, 1], 3, axis=3), IAE, "one_hot")
row("axis-one_hot-negative", lambda: tf.one_hot([0, 1], 3, axis=-2), IAE, "one_hot")

# ---- bad reshape -----------------------------------------------------------------------------------
row("reshape-size", lambda: tf.reshape(f32(2, 3), [4]), IAE, "reshape")
row("reshape-size-bigger", lambda: tf.reshape(f32(2, 3), [2, 3, 2]), IAE, "reshape")
row("reshape-infer-indivisible", lambda: tf.reshape(f32(2, 3), [-1, 4]), IAE, "reshape")
row("reshape-two-minus-ones", lambda: tf.reshape(f32(2, 3), [-1, -1]), IAE, "reshape")
row("reshape-negative-dim", lambda: tf.reshape(f32(2, 3), [-2, -3]), IAE, "reshape")
row("reshape-empty-infer", lambda: tf.reshape(f32(2, 0), [0, -1]), IAE, "reshape")
row("reshape-scalar-to-two", lambda: tf.reshape(tf.constant(1.0), [2]), IAE, "reshape")
row("reshape-rank-9", lambda: tf.reshape(f32(1), [1] * 9), IAE, "reshape")
row("reshape-float-shape", lambda: tf.reshape(f32(2, 3), [2.0, 3.0]), TypeError, "reshape")
row("reshape-none-dim", lambda: tf.reshape(f32(2, 3), [None, 3]), IAE, "reshape")

# ---- unsupported dtype -----------------------------------------------------------------------------
for _op in FLOAT_ONLY_UNARY:
    row(f"dtype-{_op}-int", lambda op=_op: getattr(tf.math, op)(i32(3)), TypeError, _op)
    row(f"dtype-{_op}-bool", lambda op=_op: getattr(tf.math, op)(bools(3)), TypeError, _op)
for _op in ["negative", "abs", "square", "sign"]:
    row(f"dtype-{_op}-bool", lambda op=_op: getattr(tf.math, op)(bools(3)), TypeError, _op)
row("dtype-relu-bool", lambda: tf.nn.relu(bools(3)), TypeError, "relu")
for _op in ["add", "subtract", "multiply", "maximum", "minimum", "pow", "less", "greater"]:
    row(f"dtype-{_op}-bool-tensors", lambda op=_op: getattr(tf, op)(bools(2), bools(2)), TypeError, _op)
for _op in REDUCE_OPS:
    row(f"dtype-{_op}-bool", lambda op=_op: getattr(tf, op)(bools(2, 3)), TypeError, _op)
row("dtype-argmax-bool", lambda: tf.argmax(bools(3)), TypeError, "argmax")
for _op in ["softmax", "log_softmax"]:
    row(f"dtype-{_op}-int", lambda op=_op: getattr(tf.nn, op)(i32(2, 3)), TypeError, _op)
row("dtype-matmul-bool", lambda: tf.matmul(bools(2, 2), bools(2, 2)), TypeError, "matmul")
row("dtype-where-condition-float", lambda: tf.where(f32(2), f32(2), f32(2)), TypeError, "where")
row("dtype-one_hot-float-indices", lambda: tf.one_hot(f32(3), 4), TypeError, "one_hot")
row("dtype-cast-to-complex", lambda: tf.cast(f32(2), "complex64"), TypeError, "")
row("dtype-constant-float16-requested", lambda: tf.constant([1.0], dtype=np.float16), TypeError, "")
row("dtype-pow-int-negative-exponent", lambda: tf.pow(tf.constant([2, 3]), tf.constant([1, -1])), IAE, "pow")

# ---- non-numeric input -----------------------------------------------------------------------------
row("input-constant-str", lambda: tf.constant("hello"), TypeError, "")
row("input-constant-object", lambda: tf.constant(object()), TypeError, "")
row("input-constant-dict", lambda: tf.constant({"a": 1}), TypeError, "")
row("input-constant-list-with-str", lambda: tf.constant([1.0, "a"]), TypeError, "")
row("input-constant-None", lambda: tf.constant(None), (TypeError, ValueError), "")
row("input-constant-object-array", lambda: tf.constant(np.array([1, None], dtype=object)), TypeError, "")
row("input-constant-str-array", lambda: tf.constant(np.array(["a", "b"])), TypeError, "")
row("input-add-str", lambda: tf.add("a", f32(1)), TypeError, "add")
row("input-add-str-right", lambda: tf.add(f32(1), "a"), TypeError, "add")
row("input-add-None", lambda: tf.add(None, 1.0), TypeError, "add")
row("input-multiply-object", lambda: tf.multiply(f32(2), object()), TypeError, "")
row("input-exp-str", lambda: tf.exp("x"), TypeError, "exp")
row("input-exp-None", lambda: tf.exp(None), TypeError, "exp")
row("input-reduce_sum-str", lambda: tf.reduce_sum("abc"), TypeError, "reduce_sum")
row("input-matmul-str", lambda: tf.matmul(f32(2, 2), "x"), TypeError, "matmul")
row("input-reshape-str", lambda: tf.reshape("ab", [2]), TypeError, "reshape")
row("input-transpose-object", lambda: tf.transpose(object()), TypeError, "transpose")
row("input-where-str", lambda: tf.where(bools(2), "a", "b"), TypeError, "where")
row("input-cast-str", lambda: tf.cast("1", tf.float32), TypeError, "cast")
row("input-operator-str", lambda: f32(2) + "a", TypeError, "")
row("input-operator-None", lambda: f32(2) * None, TypeError, "")

# ---- creation ops ----------------------------------------------------------------------------------
row("create-zeros-negative", lambda: tf.zeros([-1, 2]), IAE, "")
row("create-fill-nonscalar", lambda: tf.fill([2], [1.0, 2.0]), ValueError, "fill")
row("create-range-zero-delta", lambda: tf.range(0, 5, 0), IAE, "range")
row("create-range-wrong-direction", lambda: tf.range(5, 0, 1), IAE, "range")
row("create-one_hot-negative-depth", lambda: tf.one_hot([0], -1), IAE, "one_hot")
row("create-uniform-bad-bounds", lambda: tf.random.uniform([2], 1.0, 0.0), IAE, "uniform")
row("create-constant-int-overflow", lambda: tf.constant(2**70), IAE, "")
row("create-bool-ambiguous", lambda: bool(f32(2)), ValueError, "")


@pytest.mark.parametrize("fn,exc,op", ERRORS)
def test_bad_input_raises(fn, exc, op):
    with pytest.raises(exc) as info:
        fn()
    if op:
        assert re.search(rf"\b{re.escape(op)}\b", str(info.value)), f"message does not name {op!r}: {info.value}"


def test_invalid_argument_error_is_a_value_error():
    assert issubclass(IAE, ValueError)
    with pytest.raises(ValueError):
        tf.add(f32(3), f32(4))


@pytest.mark.parametrize("fn,words", [
    (lambda: tf.add(f32(3), f32(4)), ["[3]", "[4]"]),
    (lambda: tf.multiply(f32(2, 3), f32(3, 2)), ["[2,3]", "[3,2]"]),
    (lambda: tf.add(f32(2), f64(2)), ["float32", "float64"]),
    (lambda: tf.reshape(f32(2, 3), [4]), ["6", "4"]),
    (lambda: tf.reduce_sum(f32(2, 3), axis=2), ["2", "rank"]),
    (lambda: tf.exp(i32(2)), ["int32"]),
], ids=["add-shapes", "multiply-shapes", "add-dtypes", "reshape-sizes", "reduce-axis", "exp-dtype"])
def test_messages_name_shapes_and_dtypes(fn, words):
    with pytest.raises(Exception) as info:
        fn()
    msg = str(info.value).replace(" ", "")
    for w in words:
        assert w.replace(" ", "") in msg, f"{w!r} not in {info.value}"


@pytest.mark.parametrize("call,op", [(lambda: tf.constant(np.array([1 + 2j])), "convert_to_tensor|constant"),
                                     (lambda: tf.add(f32(1), np.array([1 + 2j])), "add")], ids=["constant", "add"])
def test_unsupported_numpy_dtype_message_names_the_op(call, op):
    with pytest.raises(TypeError, match=rf"\b({op})\b"):
        call()


def test_errors_leave_the_library_usable():
    for _ in range(3):
        with pytest.raises(IAE):
            tf.matmul(f32(3, 4), f32(5, 6))
        with pytest.raises(TypeError):
            tf.exp("x")
    assert float(tf.reduce_sum(tf.ones([3]) * 2.0)) == 6.0


def test_eq_ne_operators_on_non_broadcastable_shapes_follow_tf():
    # TF's Tensor.__eq__/__ne__ answer False/True for shapes that cannot broadcast (tf.equal raises).
    a, b = tf.ones([2, 3]), tf.ones([3, 2])
    assert bool(a == b) is False
    assert bool(a != b) is True
    with pytest.raises(tf.errors.InvalidArgumentError, match="equal"):
        tf.equal(a, b)
