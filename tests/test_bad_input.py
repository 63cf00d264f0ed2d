"""Bad input, in one place: every call here must raise a given exception whose message names the op (DESIGN
§5), or warn where Keras warns, and leave the library's state unchanged. Nothing may crash, hang or return a
value.

1. The tables, one per op family (unary, binary, where, reduce, softmax, shape, linalg, creation and
   conversion, argument types, indexing, fused ops and losses, Keras): rows of (id, call, exception, what the
   message must match), all run by ``test_bad_input_raises``; then the checks of the messages themselves.
2. The edges of the API, each with its own assertions (issue item 5):

   * labels out of range or of the wrong dtype for the cross-entropies (Keras classes and functions,
     tf.nn, the fused tf._core ops);
   * ``from_logits`` mismatches that Keras warns about (a softmax/sigmoid output passed with
     ``from_logits=True``), and the cases where Keras does not warn;
   * a Variable assigned a value of another shape or dtype (assign, assign_add, assign_sub);
   * ``gradient()`` on a target from another tape (None as in TF; ``'raise'`` explains; ``explain()``);
     other tape misuse (sources that are not tensors, output_gradients of the wrong shape, a used tape);
   * ``apply_gradients`` with mismatched shapes/dtypes, non-Variables, unknown variables, None gradients;
   * the fast-call functions' (matmul, reduce_*, where) Python argument rules;
   * anything else found on the way.

Conversion rules (which dtypes convert, which raise) are in tests/test_dtypes_interop.py, with what they
accept; the fuzz (tests/test_fuzz/) drives the same errors from random inputs.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import pyfast_tape as tf

IAE = tf.errors.InvalidArgumentError
C = tf._core
L = tf.keras.losses

pytestmark = pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")


def f32(*shape):
    return tf.zeros(list(shape))


def f64(*shape):
    return tf.zeros(list(shape), dtype=tf.float64)


def i32(*shape):
    return tf.zeros(list(shape), dtype=tf.int32)


def bools(*shape):
    return tf.constant(np.zeros(shape, dtype=bool))


def op(name: str) -> str:
    """The message must name the op `name` (as a word)."""
    return rf"\b{re.escape(name)}\b"


def text(s: str) -> str:
    """The message must contain `s`."""
    return re.escape(s)


def names(op_name: str, err: BaseException) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){op_name}(?![A-Za-z0-9_])", str(err)) is not None


def _id(v):
    return str(v).replace(" ", "")


BINARY_OPS = ["add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "less", "less_equal", "greater",
              "greater_equal", "equal", "not_equal"]
ARITHMETIC_OPS = ["add", "divide", "maximum", "minimum", "multiply", "pow", "subtract"]  # test_elementwise's BINARY
COMPARISON_OPS = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]
OPERATORS = [("+", "add"), ("-", "subtract"), ("*", "multiply"), ("/", "divide"), ("**", "pow"), ("<", "less"),
             ("<=", "less_equal"), (">", "greater"), (">=", "greater_equal")]
REDUCE_OPS = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min"]
FLOAT_ONLY_UNARY = ["sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "reciprocal", "rsqrt"]

# =====================================================================================================
# 1. The tables: (id, call, exception type(s), regex the message must match or None)
# =====================================================================================================
# ---- unary ---------------------------------------------------------------------------------------------
UNARY = []
for _op in FLOAT_ONLY_UNARY:
    UNARY.append((f"dtype-{_op}-int", lambda o=_op: getattr(tf.math, o)(i32(3)), TypeError, op(_op)))
    UNARY.append((f"dtype-{_op}-bool", lambda o=_op: getattr(tf.math, o)(bools(3)), TypeError, op(_op)))
for _op in ["negative", "abs", "square", "sign"]:
    UNARY.append((f"dtype-{_op}-bool", lambda o=_op: getattr(tf.math, o)(bools(3)), TypeError, op(_op)))
UNARY += [
    ("dtype-relu-bool", lambda: tf.nn.relu(bools(3)), TypeError, op("relu")),
    ("input-exp-str", lambda: tf.exp("x"), TypeError, op("exp")),
    ("input-exp-None", lambda: tf.exp(None), TypeError, op("exp")),
]

# ---- binary elementwise and comparisons (operators included) -------------------------------------------
BINARY = []
for _op in BINARY_OPS:
    BINARY.append((f"shape-{_op}", lambda o=_op: getattr(tf, o)(f32(3), f32(4)), IAE, op(_op)))
    BINARY.append((f"shape-{_op}-rank3", lambda o=_op: getattr(tf, o)(f32(2, 3, 4), f32(2, 1, 3)), IAE, op(_op)))
for _sym, _op in OPERATORS:
    BINARY.append((f"shape-operator{_sym}", lambda s=_sym: eval(f"a {s} b", {"a": f32(2, 3), "b": f32(3, 2)}), IAE,
                   op(_op)))
# pairs that do not broadcast: every op raises InvalidArgumentError naming itself
for _shapes in [((3,), (4,)), ((2, 3), (3, 2)), ((2, 3, 4), (2, 1, 3)), ((0,), (2,)), ((2, 3, 4, 5), (3, 1, 6))]:
    for _op in ARITHMETIC_OPS + COMPARISON_OPS:
        BINARY.append((f"broadcast-{_op}-{_id(_shapes)}",
                       lambda o=_op, s=_shapes: getattr(tf, o)(tf.zeros(s[0]), tf.ones(s[1])), IAE, op(_op)))
for _op in BINARY_OPS:
    BINARY.append((f"dtype-{_op}-f32-f64", lambda o=_op: getattr(tf, o)(f32(3), f64(3)), IAE, op(_op)))
    BINARY.append((f"dtype-{_op}-f32-i32", lambda o=_op: getattr(tf, o)(f32(3), i32(3)), IAE, op(_op)))
BINARY += [
    ("dtype-operator+", lambda: f32(2) + f64(2), IAE, op("add")),
    ("dtype-operator<", lambda: f32(2) < i32(2), IAE, op("less")),
    ("dtype-float-scalar-into-int", lambda: tf.add(i32(2), 1.5), TypeError, op("add")),
    ("dtype-bool-scalar-into-float", lambda: tf.multiply(f32(2), True), TypeError, op("multiply")),
]
for _op in ["add", "subtract", "multiply", "maximum", "minimum", "pow", "less", "greater"]:
    BINARY.append((f"dtype-{_op}-bool-tensors", lambda o=_op: getattr(tf, o)(bools(2), bools(2)), TypeError, op(_op)))
BINARY += [
    ("dtype-pow-int-negative-exponent", lambda: tf.pow(tf.constant([2, 3]), tf.constant([1, -1])), IAE, op("pow")),
    ("input-add-str", lambda: tf.add("a", f32(1)), TypeError, op("add")),
    ("input-add-str-right", lambda: tf.add(f32(1), "a"), TypeError, op("add")),
    ("input-add-None", lambda: tf.add(None, 1.0), TypeError, op("add")),
    ("input-multiply-object", lambda: tf.multiply(f32(2), object()), TypeError, None),
    ("input-operator-str", lambda: f32(2) + "a", TypeError, None),
    ("input-operator-None", lambda: f32(2) * None, TypeError, None),
]

# ---- where ---------------------------------------------------------------------------------------------
WHERE = [
    ("shape-where", lambda: tf.where(bools(3), f32(4), f32(4)), IAE, op("where")),
    ("shape-where-xy", lambda: tf.where(bools(2, 3), f32(2, 3), f32(3, 2)), IAE, op("where")),
    ("dtype-where-xy", lambda: tf.where(bools(2), f32(2), f64(2)), IAE, op("where")),
    ("dtype-where-condition-float", lambda: tf.where(f32(2), f32(2), f32(2)), TypeError, op("where")),
    ("input-where-str", lambda: tf.where(bools(2), "a", "b"), TypeError, op("where")),
]
for _shapes in [((3,), (4,), (4,)), ((2, 3), (2, 3), (3, 2)), ((2,), (3, 1), (2, 2))]:
    WHERE.append((f"broadcast-{_id(_shapes)}", lambda s=_shapes: tf.where(tf.constant(np.ones(s[0], dtype=bool)),
                                                                            tf.zeros(s[1]), tf.ones(s[2])),
                  IAE, op("where")))

# ---- reductions and argmax/argmin ------------------------------------------------------------------------
REDUCE = []
for _op in REDUCE_OPS:
    REDUCE += [
        (f"axis-{_op}-too-big", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=2), IAE, op(_op)),
        (f"axis-{_op}-too-negative", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=-3), IAE, op(_op)),
        (f"axis-{_op}-in-list", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=[0, 5]), IAE, op(_op)),
        (f"axis-{_op}-repeated", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=[1, -1]), IAE, op(_op)),
        (f"axis-{_op}-scalar-input", lambda o=_op: getattr(tf, o)(tf.constant(1.0), axis=0), IAE, op(_op)),
        (f"axis-{_op}-float", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=1.0), TypeError, op(_op)),
        (f"axis-{_op}-string", lambda o=_op: getattr(tf, o)(f32(2, 3), axis="1"), TypeError, op(_op)),
        (f"dtype-{_op}-bool", lambda o=_op: getattr(tf, o)(bools(2, 3)), TypeError, op(_op)),
    ]
for _op in ["argmax", "argmin"]:
    REDUCE += [
        (f"axis-{_op}", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=2), IAE, op(_op)),
        (f"axis-{_op}-negative", lambda o=_op: getattr(tf, o)(f32(2, 3), axis=-3), IAE, op(_op)),
        (f"axis-{_op}-empty-dim", lambda o=_op: getattr(tf, o)(f32(4, 0), axis=1), IAE, op(_op)),
        (f"{_op}-output-type", lambda o=_op: getattr(tf, o)(f32(4), output_type=tf.float32), TypeError, op(_op)),
    ]
REDUCE += [
    ("dtype-argmax-bool", lambda: tf.argmax(bools(3)), TypeError, op("argmax")),
    ("input-reduce_sum-str", lambda: tf.reduce_sum("abc"), TypeError, op("reduce_sum")),
]

# ---- softmax family ------------------------------------------------------------------------------------
SOFTMAX = []
for _op in ["softmax", "log_softmax"]:
    SOFTMAX += [
        (f"axis-{_op}", lambda o=_op: getattr(tf.nn, o)(f32(2, 3), axis=2), IAE, op(_op)),
        (f"axis-{_op}-negative", lambda o=_op: getattr(tf.nn, o)(f32(2, 3), axis=-3), IAE, op(_op)),
        (f"dtype-{_op}-int", lambda o=_op: getattr(tf.nn, o)(i32(2, 3)), TypeError, op(_op)),
    ]

# ---- shape ops: reshape, transpose, broadcast_to, one_hot, cast ------------------------------------------
SHAPE = [
    ("reshape-size", lambda: tf.reshape(f32(2, 3), [4]), IAE, op("reshape")),
    ("reshape-size-bigger", lambda: tf.reshape(f32(2, 3), [2, 3, 2]), IAE, op("reshape")),
    ("reshape-infer-indivisible", lambda: tf.reshape(f32(2, 3), [-1, 4]), IAE, op("reshape")),
    ("reshape-two-minus-ones", lambda: tf.reshape(f32(2, 3), [-1, -1]), IAE, op("reshape")),
    ("reshape-negative-dim", lambda: tf.reshape(f32(2, 3), [-2, -3]), IAE, op("reshape")),
    ("reshape-empty-infer", lambda: tf.reshape(f32(2, 0), [0, -1]), IAE, op("reshape")),
    ("reshape-scalar-to-two", lambda: tf.reshape(tf.constant(1.0), [2]), IAE, op("reshape")),
    ("reshape-rank-9", lambda: tf.reshape(f32(1), [1] * 9), IAE, op("reshape")),
    ("reshape-float-shape", lambda: tf.reshape(f32(2, 3), [2.0, 3.0]), TypeError, op("reshape")),
    ("reshape-none-dim", lambda: tf.reshape(f32(2, 3), [None, 3]), IAE, op("reshape")),
    ("input-reshape-str", lambda: tf.reshape("ab", [2]), TypeError, op("reshape")),
    ("axis-transpose-perm-length", lambda: tf.transpose(f32(2, 3), [0, 1, 2]), IAE, op("transpose")),
    ("axis-transpose-perm-repeated", lambda: tf.transpose(f32(2, 3), [0, 0]), IAE, op("transpose")),
    ("axis-transpose-perm-out-of-range", lambda: tf.transpose(f32(2, 3), [0, 2]), IAE, op("transpose")),
    ("input-transpose-object", lambda: tf.transpose(object()), TypeError, op("transpose")),
    ("shape-broadcast_to", lambda: tf.broadcast_to(f32(3), [4]), IAE, op("broadcast_to")),
    ("shape-broadcast_to-shrink", lambda: tf.broadcast_to(f32(2, 3), [3]), IAE, op("broadcast_to")),
    ("axis-one_hot", lambda: tf.one_hot([0, 1], 3, axis=3), IAE, op("one_hot")),
    ("axis-one_hot-negative", lambda: tf.one_hot([0, 1], 3, axis=-2), IAE, op("one_hot")),
    ("dtype-one_hot-float-indices", lambda: tf.one_hot(f32(3), 4), TypeError, op("one_hot")),
    ("dtype-cast-to-complex", lambda: tf.cast(f32(2), "complex64"), TypeError, None),
    ("input-cast-str", lambda: tf.cast("1", tf.float32), TypeError, op("cast")),
]

# ---- linalg: matmul --------------------------------------------------------------------------------------
LINALG = [
    ("shape-matmul-inner", lambda: tf.matmul(f32(3, 4), f32(5, 6)), IAE, op("matmul")),
    ("shape-matmul-inner-transposed", lambda: tf.matmul(f32(3, 4), f32(4, 5), transpose_b=True), IAE, op("matmul")),
    ("shape-matmul-inner-transposed-a", lambda: tf.matmul(f32(3, 4), f32(4, 5), transpose_a=True), IAE,
     op("matmul")),
    ("shape-matmul-batch", lambda: tf.matmul(f32(2, 3, 4), f32(3, 4, 5)), IAE, op("matmul")),
    ("shape-matmul-rank1", lambda: tf.matmul(f32(3), f32(3, 2)), IAE, op("matmul")),
    ("shape-matmul-operator", lambda: f32(3, 4) @ f32(5, 6), IAE, op("matmul")),
    ("dtype-matmul", lambda: tf.matmul(f32(2, 2), f64(2, 2)), IAE, op("matmul")),
    ("dtype-matmul-bool", lambda: tf.matmul(bools(2, 2), bools(2, 2)), TypeError, op("matmul")),
    ("input-matmul-str", lambda: tf.matmul(f32(2, 2), "x"), TypeError, op("matmul")),
]
for _case in [
    # (shape a, shape b, transpose_a, transpose_b)
    ((3, 4), (5, 6), False, False),
    ((3, 4), (3, 4), False, False),
    ((3, 4), (3, 4), True, True),
    ((3, 4), (4, 5), True, False),
    ((3, 4), (4, 5), False, True),
    ((2, 3, 4), (2, 5, 6), False, False),
    ((2, 3, 4), (3, 4, 5), False, False),  # batch 2 vs 3
    ((2, 2, 3, 4), (3, 1, 4, 5), False, False),
    ((3,), (3, 2), False, False),  # rank 1
    ((3, 2), (2,), False, False),
    ((), (1, 1), False, False),
]:
    LINALG.append((f"shapes-{_id(_case)}", lambda c=_case: tf.matmul(tf.zeros(c[0]), tf.ones(c[1]), transpose_a=c[2],
                                                                       transpose_b=c[3]), IAE, op("matmul")))
for _pair in [(np.float32, np.float64), (np.float64, np.float32), (np.float32, np.int32), (np.int32, np.int64)]:
    def _ab(p=_pair):
        return tf.constant(np.ones((2, 3), dtype=p[0])), tf.constant(np.ones((3, 2), dtype=p[1]))
    LINALG.append((f"dtypes-{_id(_pair)}", lambda ab=_ab: tf.matmul(*ab()), IAE, op("matmul")))
    LINALG.append((f"dtypes-{_id(_pair)}-operator", lambda ab=_ab: (lambda a, b: a @ b)(*ab()), IAE, op("matmul")))
LINALG.append(("bool-type-error", lambda: tf.matmul(tf.constant(np.ones((2, 2), dtype=bool)),
                                                    tf.constant(np.ones((2, 2), dtype=bool))), TypeError, op("matmul")))

# ---- creation and conversion ------------------------------------------------------------------------------
CREATION = [
    ("dtype-constant-float16-requested", lambda: tf.constant([1.0], dtype=np.float16), TypeError, None),
    ("input-constant-str", lambda: tf.constant("hello"), TypeError, None),
    ("input-constant-object", lambda: tf.constant(object()), TypeError, None),
    ("input-constant-dict", lambda: tf.constant({"a": 1}), TypeError, None),
    ("input-constant-list-with-str", lambda: tf.constant([1.0, "a"]), TypeError, None),
    ("input-constant-None", lambda: tf.constant(None), (TypeError, ValueError), None),
    ("input-constant-object-array", lambda: tf.constant(np.array([1, None], dtype=object)), TypeError, None),
    ("input-constant-str-array", lambda: tf.constant(np.array(["a", "b"])), TypeError, None),
    ("create-zeros-negative", lambda: tf.zeros([-1, 2]), IAE, None),
    ("create-fill-nonscalar", lambda: tf.fill([2], [1.0, 2.0]), ValueError, op("fill")),
    ("create-range-zero-delta", lambda: tf.range(0, 5, 0), IAE, op("range")),
    ("create-range-wrong-direction", lambda: tf.range(5, 0, 1), IAE, op("range")),
    ("create-one_hot-negative-depth", lambda: tf.one_hot([0], -1), IAE, op("one_hot")),
    ("create-uniform-bad-bounds", lambda: tf.random.uniform([2], 1.0, 0.0), IAE, op("uniform")),
    ("create-constant-int-overflow", lambda: tf.constant(2**70), IAE, None),
    ("create-bool-ambiguous", lambda: bool(f32(2)), ValueError, None),
]

# ---- argument types: a float (or str, bool) where an integer axis/depth belongs -----------------------------
# (the binding layer's one argument parser, csrc/python/: the same TypeError naming the op wherever it is passed)
_X = np.arange(6, dtype=np.float32).reshape(2, 3)
_IDX = np.array([0, 2, 1], np.int32)
ARGUMENTS = [
    (name, call, TypeError, rf"^{o}: (axis|depth) must be an integer, got ") for name, call, o in [
        ("softmax-axis", lambda: tf.nn.softmax(_X, axis=1.0), "softmax"),
        ("log_softmax-axis", lambda: tf.nn.log_softmax(_X, axis=1.0), "log_softmax"),
        ("argmax-axis", lambda: tf.argmax(_X, axis=1.0), "argmax"),
        ("argmin-axis", lambda: tf.argmin(_X, axis=1.0), "argmin"),
        ("one_hot-axis", lambda: tf.one_hot(_IDX, 3, axis=1.0), "one_hot"),
        ("one_hot-depth", lambda: tf.one_hot(_IDX, 3.0), "one_hot"),
        ("softmax-axis-str", lambda: tf.nn.softmax(_X, axis="1"), "softmax"),
        ("one_hot-axis-bool", lambda: tf.one_hot(_IDX, 3, axis=True), "one_hot"),
    ]
]

# ---- indexing: tensor[key] -----------------------------------------------------------------------------------
_A = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
INDEXING = [
    (f"key-{k!r}", lambda k=k: tf.constant(_A)[k], exc, None) for k, exc in [
        (3, IndexError), (-4, IndexError), ((0, 0, 0, 0), IndexError), ((Ellipsis, Ellipsis), ValueError),
        ("a", TypeError), ([0, 1], TypeError), (1.5, TypeError), (tf.constant([0, 1]), TypeError),
    ]
] + [
    ("out-of-range-is-an-invalid-argument-error-too", lambda: tf.constant([1.0, 2.0])[2], IAE, "out of range"),
    ("strided_slice-bad-bounds", lambda: C.strided_slice(tf.constant([1.0, 2.0]), [1], [2], [1]), IAE,
     op("strided_slice")),
]

# ---- fused ops and pointwise losses (tf._core) -----------------------------------------------------------------
FUSED = [
    ("sparse label too large", lambda: C.sparse_softmax_cross_entropy(tf.constant([0, 3]), tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("sparse label negative", lambda: C.sparse_softmax_cross_entropy(tf.constant(np.array([-1, 0], np.int64)),
                                                                     tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("sparse float labels", lambda: C.sparse_softmax_cross_entropy(tf.constant([0.0, 1.0]), tf.zeros([2, 3])),
     TypeError, text("sparse_softmax_cross_entropy")),
    ("sparse label shape", lambda: C.sparse_softmax_cross_entropy(tf.constant([0, 1, 2]), tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("sparse int logits", lambda: C.sparse_softmax_cross_entropy(tf.constant([0, 1]), tf.zeros([2, 3], dtype=tf.int32)),
     TypeError, text("sparse_softmax_cross_entropy")),
    ("sparse out of range: value and range", lambda: C.sparse_softmax_cross_entropy(tf.constant([0, 7]),
                                                                                    tf.zeros([2, 3])),
     IAE, r"label value of 7.*\[0, 3\)"),
    ("mean: label too large", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant([0, 3]), tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("mean: label negative", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant(np.array([-1, 0], np.int64)),
                                                                         tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("mean: float labels", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant([0.0, 1.0]), tf.zeros([2, 3])),
     TypeError, text("sparse_softmax_cross_entropy")),
    ("mean: label shape", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant([0, 1, 2]), tf.zeros([2, 3])),
     IAE, text("sparse_softmax_cross_entropy")),
    ("mean: int logits", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant([0, 1]),
                                                                     tf.zeros([2, 3], dtype=tf.int32)),
     TypeError, text("sparse_softmax_cross_entropy")),
    ("mean: no classes", lambda: C.sparse_softmax_cross_entropy_mean(tf.constant([0, 0]), tf.zeros([2, 0])),
     IAE, text("no classes")),
    ("tf.nn sparse out of range", lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant([0, 5]), logits=tf.zeros([2, 3])), IAE, text("sparse_softmax")),
    ("xent shape", lambda: C.softmax_cross_entropy(tf.zeros([2, 4]), tf.zeros([2, 3])),
     IAE, text("softmax_cross_entropy")),
    ("xent dtype", lambda: C.softmax_cross_entropy(tf.zeros([2, 3], dtype=tf.float64), tf.zeros([2, 3])),
     (IAE, TypeError), text("softmax_cross_entropy")),
    ("xent int logits", lambda: C.softmax_cross_entropy(tf.zeros([2, 3], dtype=tf.int32),
                                                        tf.zeros([2, 3], dtype=tf.int32)),
     (IAE, TypeError), text("softmax_cross_entropy")),
    ("dense inner dim", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([4, 2])), IAE, text("dense")),
    ("dense kernel rank", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 2, 1])), IAE, text("dense")),
    ("dense bias shape", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 2]), tf.zeros([3])), IAE, text("dense")),
    ("dense kernel dtype", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 2], dtype=tf.float64)),
     (IAE, TypeError), text("dense")),
    ("dense bias dtype", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 2]), tf.zeros([2], dtype=tf.float64)),
     (IAE, TypeError), text("dense")),
    ("dense int", lambda: C.dense(tf.zeros([2, 3], dtype=tf.int32), tf.zeros([3, 2], dtype=tf.int32)), TypeError,
     text("dense")),
    ("dense activation code", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 2]), None, 5), IAE, text("dense")),
    ("unknown activation code", lambda: C.dense(tf.zeros([2, 3]), tf.zeros([3, 4]), None, len(C.ACTIVATIONS)),
     IAE, text("ACTIVATIONS")),
    ("mse shape", lambda: C.mean_squared_error(tf.zeros([2, 4]), tf.zeros([2, 3]), 0.0),
     IAE, text("mean_squared_error")),
    ("mse dtype", lambda: C.mean_squared_error(tf.zeros([2, 3]), tf.zeros([2, 3], dtype=tf.float64), 0.0),
     (IAE, TypeError), text("mean_squared_error")),
    ("huber negative delta", lambda: C.huber(tf.zeros([2, 3]), tf.zeros([2, 3]), -1.0), IAE, text("huber")),
    ("bce shape", lambda: C.binary_crossentropy_from_logits(tf.zeros([3]), tf.zeros([2]), 0.0),
     IAE, text("binary_crossentropy")),
    ("log_cosh shape", lambda: C.log_cosh(tf.zeros([2, 4]), tf.zeros([2, 3]), 0.0), IAE, text("log_cosh")),
]

# ---- Keras losses and layers -------------------------------------------------------------------------------
KERAS = [
    ("loss-reduction-bogus", lambda: tf.keras.losses.MeanSquaredError(reduction="bogus"), ValueError, None),
    ("cce-shape", lambda: tf.keras.losses.CategoricalCrossentropy()([[0, 1, 0]], [[0.5, 0.5]]), ValueError, None),
    ("scce-label-out-of-range", lambda: tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        [0, 3], [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]), IAE, "sparse"),
    ("dense-bad-activation-name", lambda: tf.keras.layers.Dense(3, activation="no_such_activation"), ValueError, None),
]

FAMILIES = {"unary": UNARY, "binary": BINARY, "where": WHERE, "reduce": REDUCE, "softmax": SOFTMAX, "shape": SHAPE,
            "linalg": LINALG, "creation": CREATION, "arguments": ARGUMENTS, "indexing": INDEXING, "fused": FUSED,
            "keras": KERAS}


@pytest.mark.parametrize("fn,exc,needle", [pytest.param(fn, exc, needle, id=f"{family}-{name}")
                                           for family, rows in FAMILIES.items() for name, fn, exc, needle in rows])
def test_bad_input_raises(fn, exc, needle):
    with pytest.raises(exc) as info:
        fn()
    if needle is not None:
        assert re.search(needle, str(info.value)), f"message does not match {needle!r}: {info.value}"


# ---- the messages ------------------------------------------------------------------------------------------
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


def test_matmul_inner_mismatch_message_names_the_shapes():
    with pytest.raises(IAE) as info:
        tf.matmul(tf.zeros([3, 4]), tf.zeros([5, 6]))
    msg = str(info.value)
    assert "matmul" in msg and "4" in msg and "5" in msg


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


# =====================================================================================================
# 2. The edges of the API
# =====================================================================================================
def logits_and_probs():
    logits = tf.constant([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]])
    return logits, tf.nn.softmax(logits)


# ---- 2.1 cross-entropy labels: out of range, wrong dtype, wrong shape ------------------------------------
SPARSE_CALLS = {
    "keras-class-probs": lambda lab, lg, pr: L.SparseCategoricalCrossentropy()(lab, pr),
    "keras-class-logits": lambda lab, lg, pr: L.SparseCategoricalCrossentropy(from_logits=True)(lab, lg),
    "keras-fn-logits": lambda lab, lg, pr: L.sparse_categorical_crossentropy(lab, lg, from_logits=True),
    "keras-fn-probs": lambda lab, lg, pr: L.sparse_categorical_crossentropy(lab, pr),
    "keras-reduction-none": lambda lab, lg, pr: L.SparseCategoricalCrossentropy(reduction=None)(lab, pr),
    "tf.nn": lambda lab, lg, pr: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=lg),
    "core-fused": lambda lab, lg, pr: tf._core.sparse_softmax_cross_entropy(lab, lg),
}
SPARSE_OP = {"tf.nn": "sparse_softmax_cross_entropy_with_logits"}


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [2, 100], [0, 2**40]], ids=["C", "-1", "100", "2^40"])
@pytest.mark.parametrize("call", sorted(SPARSE_CALLS))
def test_sparse_labels_out_of_range(call, labels):
    lg, pr = logits_and_probs()
    lab = tf.constant(labels, dtype=tf.int64)
    with pytest.raises(IAE) as info:
        SPARSE_CALLS[call](lab, lg, pr)
    op = SPARSE_OP.get(call, "sparse_softmax_cross_entropy")
    assert names(op, info.value), info.value
    bad = labels[0] if not 0 <= labels[0] < 3 else labels[1]
    msg = str(info.value)
    assert str(bad) in msg and "[0, 3)" in msg, msg  # the value and the valid range


@pytest.mark.parametrize("label_dtype", [tf.int32, tf.int64])
def test_sparse_labels_out_of_range_under_a_tape_leave_no_tape_behind(label_dtype):
    lg, _ = logits_and_probs()
    w = tf.Variable(1.0)
    for _ in range(3):
        with pytest.raises(IAE):
            with tf.GradientTape():
                L.SparseCategoricalCrossentropy(from_logits=True)(tf.constant([0, 5], label_dtype), lg * w)
    assert tf._core.tapes_active() == 0
    with tf.GradientTape() as tape:
        loss = L.SparseCategoricalCrossentropy(from_logits=True)(tf.constant([0, 2], label_dtype), lg * w)
    assert tape.gradient(loss, w) is not None


def test_sparse_labels_out_of_range_in_a_large_batch_reports_one_bad_value():
    logits = tf.zeros([10_000, 4])
    labels = np.zeros(10_000, np.int64)
    labels[7777] = 4
    with pytest.raises(IAE, match=r"label value of 4 .*\[0, 4\)"):
        tf._core.sparse_softmax_cross_entropy(tf.constant(labels), logits)


@pytest.mark.parametrize("call,labels,exc", [
    pytest.param(call, labels, exc, id=f"{call}-{name}")
    for call in ["tf.nn", "core-fused"]
    for labels, exc, name in [
        (np.array([0.0, 1.0], np.float32), TypeError, "float32"),
        (np.array([0.0, 1.0]), TypeError, "float64"),
        (np.array([True, False]), TypeError, "bool"),
        (["a", "b"], TypeError, "str"),
        (np.array([0 + 1j, 1]), TypeError, "complex"),
    ]])
def test_sparse_labels_of_wrong_dtype_raise_type_error(call, labels, exc):
    lg, pr = logits_and_probs()
    with pytest.raises(exc) as info:
        SPARSE_CALLS[call](labels, lg, pr)
    assert names(SPARSE_OP.get(call, "sparse_softmax_cross_entropy"), info.value), info.value


@pytest.mark.parametrize("labels,want", [
    (np.array([0.0, 2.0], np.float32), [0, 2]),    # Keras casts float labels to int64 (integral values)
    (np.array([0.9, 2.7], np.float32), [0, 2]),    # ... truncating, as tf.cast does
    (tf.constant([True, False]), [1, 0]),          # Loss casts a y_true tensor to its float dtype first
    (np.array([[0], [2]], np.int32), [0, 2]),      # trailing 1 squeezed
])
def test_keras_sparse_labels_are_cast_like_keras(labels, want):
    lg, pr = logits_and_probs()
    got = L.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(labels, lg).numpy()
    ref = L.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(np.array(want), lg).numpy()
    np.testing.assert_array_equal(got, ref)


def test_keras_sparse_nan_label_raises_out_of_range():
    lg, pr = logits_and_probs()
    with pytest.raises(IAE, match="sparse_softmax_cross_entropy"):
        L.SparseCategoricalCrossentropy()(np.array([0.0, np.nan], np.float32), pr)


@pytest.mark.parametrize("labels,logits", [
    ([0, 1, 2], (2, 3)),          # one label too many
    ([[0, 1]], (2, 3)),           # wrong rank
    ([0, 1], (2,)),               # logits without a class axis for these labels
], ids=["count", "rank", "logits-rank"])
def test_sparse_labels_of_wrong_shape(labels, logits):
    lg = tf.zeros(list(logits))
    with pytest.raises(ValueError) as info:
        L.SparseCategoricalCrossentropy(from_logits=True)(tf.constant(labels), lg)
    assert re.search(r"shape|rank", str(info.value)), info.value


@pytest.mark.parametrize("call", ["keras-class", "keras-fn"])
@pytest.mark.parametrize("labels", [np.array([0, 1]), np.zeros((2, 4), np.float32), np.zeros((3, 3), np.float32)],
                         ids=["sparse-labels", "4-classes", "3-rows"])
def test_categorical_labels_of_wrong_shape(call, labels):
    _, pr = logits_and_probs()
    fn = L.CategoricalCrossentropy() if call == "keras-class" else L.categorical_crossentropy
    with pytest.raises(ValueError, match="shape") as info:
        fn(labels, pr)
    assert str(tuple(labels.shape)) in str(info.value) or str(labels.shape) in str(info.value), info.value


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.float64])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["ndarray", "tensor"])
def test_categorical_one_hot_labels_of_other_dtypes(dtype, as_tensor):
    """Keras 3 casts y_true tensors to the loss dtype; NumPy bool arrays are refused by TF's conversion
    (TypeError), integer and float arrays converted."""
    _, pr = logits_and_probs()
    y = np.array([[0, 1, 0], [1, 0, 0]], dtype=dtype)
    want = float(L.CategoricalCrossentropy()(y.astype(np.float32), pr))
    if dtype == np.bool_ and not as_tensor:
        with pytest.raises(TypeError, match="bool"):
            L.CategoricalCrossentropy()(y, pr)
        return
    got = float(L.CategoricalCrossentropy()(tf.constant(y) if as_tensor else y, pr))
    assert got == want


@pytest.mark.parametrize("labels", [np.array([[0, 1, 0], [1, 0, 0]], np.int32), np.ones((2, 3), np.float64)],
                         ids=["int32", "float64"])
def test_tf_nn_softmax_cross_entropy_labels_of_another_dtype(labels):
    # TF raises here (labels must have the logits' dtype); the message must name the op
    lg, _ = logits_and_probs()
    try:
        out = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=lg)
    except (TypeError, ValueError) as e:
        assert names("softmax_cross_entropy_with_logits", e), e
        return
    want = -np.sum(labels * (lg.numpy() - np.log(np.exp(lg.numpy()).sum(-1, keepdims=True))), -1)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)


def test_tf_nn_softmax_cross_entropy_int_labels_message_names_op():
    lg, _ = logits_and_probs()
    with pytest.raises((TypeError, ValueError), match="softmax_cross_entropy_with_logits"):
        tf.nn.softmax_cross_entropy_with_logits(labels=tf.constant([[0, 1, 0], [1, 0, 0]]), logits=lg)


def test_tf_nn_softmax_cross_entropy_shape_message_names_op():
    lg, _ = logits_and_probs()
    with pytest.raises(IAE, match="softmax_cross_entropy_with_logits"):
        tf.nn.softmax_cross_entropy_with_logits(labels=tf.ones([2, 4]), logits=lg)


def test_core_softmax_cross_entropy_shape_and_dtype_errors():
    lg, _ = logits_and_probs()
    with pytest.raises(IAE, match=r"softmax_cross_entropy.*\[2,4\].*\[2,3\]"):
        tf._core.softmax_cross_entropy(tf.ones([2, 4]), lg)
    with pytest.raises(IAE, match="softmax_cross_entropy"):
        tf._core.softmax_cross_entropy(tf.ones([2, 3], dtype=tf.float64), lg)
    with pytest.raises(IAE, match="no classes"):
        tf._core.softmax_cross_entropy(tf.ones([2, 0]), tf.ones([2, 0]))


def test_binary_crossentropy_labels_outside_0_1_are_computed_as_keras_does():
    # Keras does not check BCE labels: the formula is applied as it is (no error, finite)
    p = tf.constant([[0.2, 0.7]])
    out = float(L.BinaryCrossentropy()(tf.constant([[2.0, -1.0]]), p))
    eps = np.float32(1e-7)
    pc = np.clip(np.array([0.2, 0.7], np.float32), eps, 1 - eps).astype(np.float64)
    t = np.array([2.0, -1.0])
    want = np.mean(-(t * np.log(pc) + (1 - t) * np.log(1 - pc)))
    assert out == pytest.approx(want, rel=1e-6)


# ---- 2.2 from_logits mismatches: Keras's warnings -----------------------------------------------------------
KERAS_FROM_LOGITS_WARNING = (r"`{fn}` received `from_logits=True`, but the `output` argument was produced by a "
                             r"{act} activation and thus does not represent logits\. Was this intended\?")


@pytest.mark.parametrize("kind", ["cce", "scce", "bce"])
@pytest.mark.parametrize("how", ["class", "function", "model"])
def test_from_logits_true_on_an_activation_output_warns_like_keras_and_uses_the_logits(kind, how):
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
    if kind == "bce":
        act, fn, y = "Sigmoid", "binary_crossentropy", tf.constant(rng.integers(0, 2, (4, 3)).astype(np.float32))
        out = tf.keras.activations.sigmoid(logits)
    else:
        act = "Softmax"
        fn = "categorical_crossentropy" if kind == "cce" else "sparse_categorical_crossentropy"
        lab = rng.integers(0, 3, 4)
        y = tf.constant(np.eye(3, dtype=np.float32)[lab]) if kind == "cce" else tf.constant(lab)
        out = tf.keras.activations.softmax(logits)
    if how == "model":
        model = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="sigmoid" if kind == "bce" else "softmax",
                                                           input_shape=(3,))])
        model.build((None, 3))
        model.set_weights([np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
        out = model(logits)
    cls = {"cce": L.CategoricalCrossentropy, "scce": L.SparseCategoricalCrossentropy,
           "bce": L.BinaryCrossentropy}[kind]
    with pytest.warns(UserWarning, match=KERAS_FROM_LOGITS_WARNING.format(fn=fn, act=act)):
        if how == "function":
            got = getattr(L, fn)(y, out, from_logits=True)
            got = tf.reduce_mean(got)
        else:
            got = cls(from_logits=True)(y, out)
    # Keras then uses the cached logits: the same as from_logits=True on the logits themselves
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = cls(from_logits=True)(y, logits)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-6)


@pytest.mark.parametrize("kind", ["cce", "scce", "bce"])
def test_no_warning_where_keras_does_not_warn(kind):
    rng = np.random.default_rng(1)
    logits = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
    lab = rng.integers(0, 3, 4)
    y = {"cce": tf.constant(np.eye(3, dtype=np.float32)[lab]), "scce": tf.constant(lab),
         "bce": tf.constant(rng.integers(0, 2, (4, 3)).astype(np.float32))}[kind]
    cls = {"cce": L.CategoricalCrossentropy, "scce": L.SparseCategoricalCrossentropy,
           "bce": L.BinaryCrossentropy}[kind]
    act = tf.keras.activations.sigmoid if kind == "bce" else tf.keras.activations.softmax
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(from_logits=True)(y, logits)            # logits as logits
        cls(from_logits=False)(y, act(logits))      # probabilities as probabilities
        # from_logits=False on an activation output: Keras silently switches to the logits
        a = float(cls(from_logits=False)(y, act(logits)))
        b = float(cls(from_logits=True)(y, logits))
    assert a == pytest.approx(b, rel=1e-6)


def test_from_logits_false_on_raw_logits_follows_keras_formula_without_warning():
    # Keras cannot tell raw logits from probabilities here: it renormalises and clips (no warning, no error)
    logits = np.array([[2.0, -1.0, 0.5]], np.float32)
    y = np.array([[0.0, 0.0, 1.0]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = float(L.CategoricalCrossentropy()(y, logits))
    p = logits / logits.sum(-1, keepdims=True)
    p = np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7))
    assert got == pytest.approx(float(-np.sum(y * np.log(p))), rel=1e-6)


def test_categorical_crossentropy_single_class_warns_like_keras():
    with pytest.warns(SyntaxWarning, match="num_classes > 1"):
        L.CategoricalCrossentropy()(tf.ones([2, 1]), tf.fill([2, 1], 0.5))


# ---- 2.3 Variables assigned values of another shape or dtype ------------------------------------------------
ASSIGN_SHAPES = [[1.0, 2.0, 3.0], [[1.0], [2.0]], 1.0, [], np.ones((1, 2), np.float32)]


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
@pytest.mark.parametrize("value", ASSIGN_SHAPES, ids=["len3", "2x1", "scalar", "empty", "1x2"])
def test_variable_assign_of_another_shape_raises_and_keeps_value(method, value):
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(IAE) as info:
        getattr(v, method)(value)
    msg = str(info.value)
    assert names(f"Variable.{method}", info.value), msg
    assert "[2]" in msg, msg
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
@pytest.mark.parametrize("value,exc", [
    (tf.constant([1.0, 2.0], dtype=tf.float64), IAE),     # tensor of another dtype: no implicit cast (TF)
    (tf.constant([1, 2]), IAE),
    (tf.constant([True, False]), IAE),
    ([True, False], TypeError),
    ("ab", TypeError),
    (None, TypeError),
    (np.array([1 + 1j, 2]), TypeError),
], ids=["f64-tensor", "i32-tensor", "bool-tensor", "bool-list", "str", "None", "complex"])
def test_variable_assign_of_another_dtype_raises_and_keeps_value(method, value, exc):
    v = tf.Variable([1.0, 2.0])
    with pytest.raises(exc) as info:
        getattr(v, method)(value)
    assert names(f"Variable.{method}", info.value), info.value
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("value", [[1.5, 2.5], np.array([1.0, 2.0]), tf.constant([1.0, 2.0])],
                         ids=["float-list", "float-ndarray", "float-tensor"])
def test_int_variable_rejects_floats(value):
    v = tf.Variable([1, 2])
    with pytest.raises((TypeError, IAE), match="Variable.assign"):
        v.assign(value)
    np.testing.assert_array_equal(v.numpy(), [1, 2])


def test_variable_assign_accepts_what_converts_losslessly():
    v = tf.Variable([1.0, 2.0])
    v.assign(np.array([3.0, 4.0]))          # an ndarray is converted to the variable's dtype (TF)
    v.assign([5, 6])                         # Python ints into float
    v.assign_add(np.array([1, 1], np.int8))
    np.testing.assert_array_equal(v.numpy(), [6.0, 7.0])
    assert v.dtype == tf.float32


@pytest.mark.parametrize("value", [[2**40, 1], np.array([2**40, 1]), np.int64(-2**40), 2**31],
                         ids=["list", "ndarray", "np-scalar", "py-int"])
def test_int32_variable_assign_out_of_range_raises(value):
    v = tf.Variable([1, 2])
    with pytest.raises(IAE, match="Variable.assign.*out of range for int32"):
        v.assign(value)
    np.testing.assert_array_equal(v.numpy(), [1, 2])


@pytest.mark.parametrize("value", [[2**40, 1], np.array([2**40]), [[1], [-2**31 - 1]]], ids=["list", "ndarray", "nested"])
def test_constant_out_of_int32_range_raises(value):
    with pytest.raises(IAE, match="out of range for int32"):
        tf.constant(value, dtype=tf.int32)


@pytest.mark.parametrize("shape", [[3], [1, 1], []])
def test_variable_shape_argument_incompatible_raises(shape):
    with pytest.raises(ValueError, match="shape"):
        tf.Variable([1.0], shape=shape)


def test_variable_shape_argument_compatible_is_accepted():
    assert tf.Variable([1.0, 2.0], shape=[2]).shape == (2,)
    assert tf.Variable([1.0, 2.0], shape=[None]).shape == (2,)


def test_variable_shape_argument_unknown_rank():
    assert tf.Variable([1.0, 2.0], shape=tf.TensorShape(None)).shape == (2,)


def test_assign_after_recording_does_not_change_what_backward_sees():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(v * v)
    v.assign([10.0, 20.0])
    with pytest.raises(IAE):
        v.assign([1.0])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])


# ---- 2.4 gradient() on a target from another tape, and other tape misuse ------------------------------------
def test_gradient_of_a_target_from_another_tape_is_none_as_in_tf():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape_a:
        ya = tf.reduce_sum(x * 3.0)
    with tf.GradientTape() as tape_b:
        yb = tf.reduce_sum(x * 5.0)
    assert tape_b.gradient(ya, x) is None
    np.testing.assert_array_equal(tape_a.gradient(ya, x).numpy(), [3.0, 3.0])
    del yb


def test_gradient_of_a_target_from_another_tape_raise_and_explain():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape_a:
        ya = tf.reduce_sum(x * 3.0)
    with tf.GradientTape(persistent=True) as tape_b:
        tf.reduce_sum(x * 5.0)
    text = tape_b.explain(ya, x)
    assert "None" in text and "Variable" in text, text
    with pytest.raises(tf.errors.UnconnectedGradientError) as info:
        tape_b.gradient(ya, x, unconnected_gradients="raise")
    assert isinstance(info.value, ValueError)
    assert str(info.value) == text
    g = tape_b.gradient(ya, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])
    assert tape_a.gradient(ya, x) is not None


def test_gradient_of_a_target_from_an_inner_tape_on_the_outer_tape():
    x = tf.Variable(2.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x * x * x
        dy = inner.gradient(y, x)   # 3x^2, recorded on the outer tape
    assert float(outer.gradient(dy, x)) == 12.0


@pytest.mark.parametrize("sources", ["abc", 3.0, [None], {"a": 1.0}], ids=["str", "float", "None", "dict-float"])
def test_gradient_with_sources_that_are_not_tensors_raises(sources):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * x
    with pytest.raises(TypeError, match="GradientTape.gradient"):
        tape.gradient(y, sources)


def test_gradient_output_gradients_count_shape_and_dtype():
    x = tf.Variable([1.0, 2.0])
    for og, exc in ([tf.ones([3]), IAE], [[1.0, 2.0], ValueError], [tf.constant(1.0, tf.float64), IAE]):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(x * x)
        with pytest.raises(exc):
            tape.gradient(y, x, output_gradients=og)


@pytest.mark.parametrize("mode", ["bogus", 3, None])
def test_gradient_unknown_unconnected_gradients_value_raises(mode):
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = x * 2.0
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients=mode)


def test_used_non_persistent_tape_raises_tf_text():
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = x * 2.0
    tape.gradient(y, x)
    text = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"
    for again in (lambda: tape.gradient(y, x), lambda: tape.jacobian(y, x)):
        with pytest.raises(RuntimeError) as info:
            again()
        assert str(info.value) == text


def test_tape_misuse_errors():
    with pytest.raises(RuntimeError, match="not recording"):
        with tf.GradientTape().stop_recording():
            pass
    with pytest.raises(ValueError, match="not tf.Tensor or tf.Variable"):
        tf.GradientTape().watch("a")
    tape = tf.GradientTape()
    with tape:
        with pytest.raises(RuntimeError, match="already active"):
            tape.__enter__()
    assert tf._core.tapes_active() == 0


def test_custom_gradient_bad_grad_fn_results():
    a, b = tf.constant(2.0), tf.constant(3.0)

    @tf.custom_gradient
    def too_few(p, q):
        return p * q, lambda dy: dy

    @tf.custom_gradient
    def bad_shape(p):
        return p * 2.0, lambda dy: tf.ones([3])

    @tf.custom_gradient
    def raises(p):
        def g(dy):
            raise KeyError("grad_fn failed")
        return p * 2.0, g

    with tf.GradientTape() as t:
        t.watch([a, b])
        z = too_few(a, b)
    with pytest.raises(ValueError, match="custom_gradient"):
        t.gradient(z, [a, b])
    with tf.GradientTape() as t:
        t.watch(a)
        z = bad_shape(a)
    with pytest.raises(IAE, match="custom_gradient"):
        t.gradient(z, a)
    with tf.GradientTape() as t:
        t.watch(a)
        z = raises(a)
    with pytest.raises(KeyError, match="grad_fn failed"):  # the user's own exception comes through unchanged
        t.gradient(z, a)
    assert tf._core.tapes_active() == 0


# ---- 2.5 apply_gradients with mismatched shapes and other bad pairs -----------------------------------------
OPTIMIZERS = {
    "sgd": lambda: tf.keras.optimizers.SGD(0.1),
    "sgd-momentum": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd-nesterov": lambda: tf.keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: tf.keras.optimizers.Adam(0.1),
    "adam-amsgrad": lambda: tf.keras.optimizers.Adam(0.1, amsgrad=True),
}


def _state(opt, variables):
    return [v.numpy().copy() for v in variables] + [s.numpy().copy() for s in opt.variables]


@pytest.mark.parametrize("grad", [tf.ones([3]), tf.ones([2, 1]), tf.ones([]), tf.ones([1]), tf.ones([1, 2])],
                         ids=["len3", "2x1", "scalar", "len1", "1x2"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_apply_gradients_shape_mismatch_raises_and_changes_nothing(name, grad):
    v = tf.Variable([1.0, 2.0])
    opt = OPTIMIZERS[name]()
    opt.apply_gradients([(tf.ones([2]), v)])  # built, one step taken
    before = _state(opt, [v])
    with pytest.raises(IAE) as info:
        opt.apply_gradients([(grad, v)])
    msg = str(info.value)
    assert names(f"{type(opt).__name__}.apply_gradients", info.value), msg
    assert "[2]" in msg and str(list(grad.shape)).replace(" ", "") in msg.replace(" ", ""), msg
    after = _state(opt, [v])
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_apply_gradients_mismatch_in_second_pair_changes_nothing(name):
    # all-or-nothing (before 1b89c15 the first variable and its slots were updated, iterations not)
    v, w = tf.Variable([1.0, 2.0]), tf.Variable([[1.0]])
    opt = OPTIMIZERS[name]()
    opt.build([v, w])
    before = _state(opt, [v, w])
    with pytest.raises(IAE):
        opt.apply_gradients([(tf.ones([2]), v), (tf.ones([2]), w)])
    for b, a in zip(before, _state(opt, [v, w])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_apply_gradients_dtype_and_type_errors(name):
    v = tf.Variable([1.0, 2.0])
    opt = OPTIMIZERS[name]()
    cls = type(opt).__name__
    with pytest.raises(IAE, match=f"{cls}.apply_gradients"):
        opt.apply_gradients([(tf.ones([2], dtype=tf.int32), v)])
    with pytest.raises(TypeError, match=f"{cls}.apply_gradients"):
        opt.apply_gradients([("ab", v)])
    with pytest.raises(TypeError, match=f"{cls}.apply_gradients"):
        opt.apply_gradients([(tf.ones([2]), tf.constant([1.0, 2.0]))])  # a Tensor, not a Variable
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])
    assert int(opt.iterations.numpy()) == 0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_apply_gradients_unknown_variable_and_none_gradients(name):
    v, w = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
    opt = OPTIMIZERS[name]()
    opt.apply_gradients([(tf.ones([2]), v)])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(tf.ones([1]), w)])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, v)])
    opt2 = OPTIMIZERS[name]()
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['Variable:0'\]"):
        opt2.apply_gradients([(tf.ones([2]), v), (None, w)])
    np.testing.assert_array_equal(w.numpy(), [3.0])


def test_apply_gradients_none_gradients_error_explains_why():
    x = tf.Variable([1.0, 2.0], name="w")
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.stop_gradient(x * 2.0))
    grads = tape.gradient(y, [x])
    with pytest.raises(ValueError) as info:
        tf.keras.optimizers.Adam().apply_gradients(zip(grads, [x]))
    assert "No gradients provided for any variable" in str(info.value)
    assert "stop_gradient" in str(info.value), info.value


def test_apply_gradients_from_a_generator_with_a_bad_pair():
    v = tf.Variable([1.0, 2.0])
    opt = tf.keras.optimizers.SGD(0.1)
    with pytest.raises(ValueError):
        opt.apply_gradients(p for p in [(tf.ones([2]),)])  # a 1-tuple: not a (gradient, variable) pair
    with pytest.raises(IAE):
        opt.apply_gradients((g, v) for g in [tf.ones([5])])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


# ---- 2.6 Found on the way -----------------------------------------------------------------------------------
def test_dtype_none_is_not_float64():
    # np.dtype(None) is float64: before 1b89c15 dtype=None silently meant float64
    with pytest.raises(TypeError, match="None"):
        tf.cast(tf.constant([1.0]), None)
    with pytest.raises(TypeError, match="None"):
        tf.as_dtype(None)
    assert tf.zeros([2], dtype=None).dtype == tf.float32  # the default, as for Python floats
    assert tf.ones([2], dtype=None).dtype == tf.float32


def test_comparison_operators_with_unconvertible_objects_follow_tf():
    t = tf.constant([1.0, 2.0])
    assert (t == "a") is False and (t != "a") is True
    assert (t == None) is False  # noqa: E711
    assert (t == object()) is False


def test_argmax_axis_none_and_tensor():
    # (list/float/str axes raise: tests/test_fuzz/test_reduce.py::test_argmax_bad_axis_type_raises)
    x = tf.constant([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(tf.argmax(x, axis=None).numpy(), [1, 0, 1])
    np.testing.assert_array_equal(tf.argmax(x, axis=tf.constant(1)).numpy(), [1, 0])
    np.testing.assert_array_equal(tf.argmax(x, axis=np.int64(-1)).numpy(), [1, 0])


def test_errors_leave_no_tape_and_the_library_usable():
    x = tf.Variable([1.0, 2.0])
    for _ in range(20):
        for bad in (lambda: tf.matmul(x, x), lambda: x.assign([1.0]), lambda: tf.reshape(x, [3]),
                    lambda: L.SparseCategoricalCrossentropy()(tf.constant([5]), tf.ones([1, 3]) / 3)):
            try:
                with tf.GradientTape():
                    bad()
            except (ValueError, TypeError):
                pass
    assert tf._core.tapes_active() == 0
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(x * x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0])


# ---- 2.7 the fast-call module functions (matmul, reduce_*, where): Python's argument rules -------------------
_A = np.arange(6, dtype=np.float32).reshape(2, 3)
_B = np.arange(12, dtype=np.float32).reshape(3, 4) - 5


@pytest.mark.parametrize("call, exc, match", [
    (lambda: tf.matmul(_A), TypeError, r"matmul\(\) missing required argument 'b'"),
    (lambda: tf.matmul(_A, _B, transpose_c=True), TypeError, "unexpected keyword argument 'transpose_c'"),
    (lambda: tf.matmul(_A, _B, a=_A), TypeError, "multiple values for argument 'a'"),
    (lambda: tf.matmul(_A, _B, False, False, False, False, None, 1), TypeError, r"at most 7 arguments \(8 given\)"),
    (lambda: tf.reduce_sum(), TypeError, "missing required argument 'input_tensor'"),
    (lambda: tf.reduce_mean(_A, axis=0, keep_dims=True), TypeError, "unexpected keyword argument 'keep_dims'"),
    (lambda: tf.reduce_max(_A, 0, True, None, 5), TypeError, "at most 4 arguments"),
    (lambda: tf.reduce_min(_A, axis="0"), TypeError, "axis must be"),
    (lambda: tf.reduce_sum(_A, axis=2), IAE, "reduce_sum"),
    (lambda: tf.where(_A > 1, x=_A), ValueError, "x and y must both be non-None or both be None"),
    (lambda: tf.where(condition=_A > 1, x=_A, y=_A, z=1), TypeError, "unexpected keyword argument 'z'"),
    (lambda: tf.matmul(_A, _A), IAE, "matmul"),
    (lambda: tf.matmul(_A, _B, transpose_a=_Boom()), ZeroDivisionError, "division"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_fast_call_functions_reject_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


class _Boom:
    def __bool__(self):
        return 1 / 0


@pytest.mark.parametrize("call, want", [
    (lambda: tf.matmul(a=_A, b=_B), _A @ _B),
    (lambda: tf.matmul(_B, _A, True, True), _B.T @ _A.T),
    (lambda: tf.matmul(_B, _A, adjoint_a=True, adjoint_b=np.bool_(True)), _B.T @ _A.T),
    (lambda: tf.matmul(_A, _A, transpose_b=1, name="mm"), _A @ _A.T),
    (lambda: tf.reduce_sum(input_tensor=_A, axis=[0, 1], keepdims=True), _A.sum(keepdims=True)),
    (lambda: tf.reduce_mean(_A, 1, None, "m"), _A.mean(1)),
    (lambda: tf.reduce_max(_A, axis=(0,)), _A.max(0)),
    (lambda: tf.reduce_min(_A, -1, keepdims=True), _A.min(-1, keepdims=True)),
    (lambda: tf.where(_A > 2, _A, 0.5), np.where(_A > 2, _A, np.float32(0.5))),
    (lambda: tf.where(condition=_A > 2, y=_A, x=-1.0), np.where(_A > 2, np.float32(-1), _A)),
], ids=[str(i) for i in range(10)])
def test_fast_call_functions_accept_what_tf_accepts(call, want):
    got = call()
    assert got.shape == want.shape and got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
