"""Elementwise ops forward against tests/reference.py: unary, broadcasting binary ops, comparisons,
where, softmax/log_softmax; float32 and float64 everywhere, integers where the op supports them."""
from __future__ import annotations

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import FLOAT_DTYPES, assert_close

INT_DTYPES = [np.int32, np.int64]

# ---- data ------------------------------------------------------------------------------------------


def make(rng, shape, dtype, kind="any"):
    """Random data of `shape` and `dtype` inside an op's domain."""
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    if dtype.kind in "iu":
        lo, hi = {"any": (-20, 21), "nonneg": (0, 5), "small": (-3, 4), "nonzero": (1, 9)}.get(kind, (-20, 21))
        a = rng.integers(lo, hi, size=shape)
        if kind == "nonzero":
            a = a * rng.choice([-1, 1], size=shape)
        return np.asarray(a, dtype=dtype)
    if kind == "pos":
        a = rng.uniform(0.1, 3.0, size=shape)
    elif kind == "nonzero":
        a = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    elif kind == "ties":  # halves in [-2, 2]: many exact ties between operands
        a = rng.integers(-4, 5, size=shape) / 2.0
    else:
        a = rng.standard_normal(size=shape) * 2.0
    return np.asarray(a, dtype=dtype)


# ---- shape tables ----------------------------------------------------------------------------------

# Pairs NumPy broadcasts: scalars, size-1 dims, empty dims, rank up to 4.
BROADCAST_OK = [
    ((), ()),
    ((), (3,)),
    ((3,), ()),
    ((4,), (4,)),
    ((1,), (5,)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 1), (1, 3)),
    ((2, 3, 4), (3, 1)),
    ((4, 1, 3), (1, 5, 1)),
    ((2, 1, 4, 1), (3, 1, 5)),
    ((2, 3, 4, 5), (2, 3, 4, 5)),
    ((2, 3, 4, 5), (1, 1, 1, 1)),
    ((1, 3, 1, 5), (2, 1, 4, 1)),
    ((0,), ()),
    ((0,), (1,)),
    ((0, 3), (1, 3)),
    ((2, 0, 3), (1, 3)),
    ((1, 0), (5, 1)),
    ((65, 130), (130,)),  # big enough for the threaded kernels
    ((257, 1, 31), (1, 129, 1)),
]
# (Pairs that do not broadcast, which every op must reject naming itself: tests/test_bad_input.py, BINARY.)
UNARY_SHAPES = [(), (0,), (7,), (3, 4), (2, 1, 3), (2, 3, 4, 5), (0, 4), (1000,), (67, 129)]


def _id(v):
    return str(v).replace(" ", "")


# ---- unary -----------------------------------------------------------------------------------------

# op name -> (input domain, float32 rtol): transcendental kernels get a little more room in float32.
UNARY = {
    "negative": ("any", None),
    "abs": ("any", None),
    "square": ("any", None),
    "sqrt": ("pos", None),
    "exp": ("any", 2e-5),
    "log": ("pos", 2e-5),
    "log1p": ("pos", 2e-5),
    "tanh": ("any", 2e-5),
    "sigmoid": ("any", 2e-5),
    "sign": ("any", None),
    "reciprocal": ("nonzero", None),
    "rsqrt": ("pos", 2e-5),
}
INT_UNARY = ["negative", "abs", "square", "sign"]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_float(op, dtype, shape, rng):
    kind, rtol32 = UNARY[op]
    x = make(rng, shape, dtype, kind)
    got = getattr(tf.math, op)(tf.constant(x))
    rtol = rtol32 if (dtype == np.float32 and rtol32) else None
    assert_close(got, getattr(ref, op)(x), dtype=dtype, rtol=rtol)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_float(dtype, rng):
    x = make(rng, (5, 7), dtype)
    x[0, :3] = [0.0, -0.0, 1e-30]
    assert_close(tf.nn.relu(tf.constant(x)), ref.relu(x), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_relu_propagates_nan_like_tf(dtype):
    x = np.array([NAN, -INF, -1.0, -0.0, 0.0, 2.0, INF], dtype)
    got = tf.nn.relu(tf.constant(x)).numpy()
    assert np.isnan(got[0]), f"relu(NaN) gave {got[0]}, TF gives NaN"
    np.testing.assert_array_equal(got[1:], [0.0, 0.0, 0.0, 0.0, 2.0, INF])
    assert_close(got, ref.relu(x), dtype=dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", INT_UNARY + ["relu"])
def test_unary_int(op, dtype, rng):
    x = make(rng, (4, 6), dtype)
    x[0, 0] = 0
    fn = tf.nn.relu if op == "relu" else getattr(tf, op)
    assert_close(fn(tf.constant(x)), getattr(ref, op)(x), dtype=dtype)


INF, NAN = np.inf, np.nan
# Edges each kernel must get right: infinities, NaN, signed zeros, overflow and underflow.
SPECIAL = {
    "exp": [-INF, -1000.0, -100.0, -0.0, 0.0, 50.0, 1000.0, INF, NAN],
    "log": [0.0, -0.0, -1.0, 1e-30, 1.0, INF, NAN],
    "log1p": [-1.0, -2.0, -0.0, 0.0, 1e-30, -1e-30, 1e-10, 1.0, INF, NAN],
    "sqrt": [-1.0, -0.0, 0.0, 1e-30, INF, NAN],
    "rsqrt": [0.0, 1e-30, 1.0, INF, NAN, -1.0],
    "reciprocal": [0.0, -0.0, INF, -INF, 1e-3, NAN],
    "tanh": [-INF, -50.0, -20.0, -0.0, 0.0, 20.0, 50.0, INF, NAN],
    "sigmoid": [-INF, -1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0, INF, NAN],
    "abs": [-INF, -0.0, INF, NAN],
    "negative": [-INF, 0.0, INF, NAN],
    "square": [-INF, 1e30, 1e200, NAN],
    "sign": [-INF, -0.0, 0.0, 1e-30, -1e-30, INF],
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(SPECIAL))
def test_unary_special_values(op, dtype):
    with np.errstate(all="ignore"):
        x = np.array(SPECIAL[op], dtype=dtype)
        want = getattr(ref, op)(x).astype(dtype)  # rounded to the dtype: float32 overflow gives inf too
    assert_close(getattr(tf.math, op)(tf.constant(x)), want, dtype=dtype)


# ---- binary ----------------------------------------------------------------------------------------

# op name -> (x domain, y domain) for float data; integer data is drawn separately.
BINARY = {
    "add": ("any", "any"),
    "subtract": ("any", "any"),
    "multiply": ("any", "any"),
    "divide": ("any", "nonzero"),
    "pow": ("pos", "any"),
    "maximum": ("ties", "ties"),
    "minimum": ("ties", "ties"),
}
INT_BINARY = {
    "add": ("any", "any"),
    "subtract": ("any", "any"),
    "multiply": ("any", "any"),
    "divide": ("any", "nonzero"),
    "pow": ("small", "nonneg"),
    "maximum": ("any", "any"),
    "minimum": ("any", "any"),
}


def _binary_rtol(op, dtype):
    return 2e-5 if (op == "pow" and np.dtype(dtype) == np.float32) else None


@pytest.mark.parametrize("shapes", BROADCAST_OK, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_broadcast_float(op, dtype, shapes, rng):
    kx, ky = BINARY[op]
    x, y = make(rng, shapes[0], dtype, kx), make(rng, shapes[1], dtype, ky)
    got = getattr(tf, op)(tf.constant(x), tf.constant(y))
    want = getattr(ref, op)(x, y)
    assert want.shape == ref.broadcast_shape(*shapes)
    assert_close(got, want, dtype=dtype, rtol=_binary_rtol(op, dtype))


@pytest.mark.parametrize("shapes", BROADCAST_OK[:14], ids=_id)
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(INT_BINARY))
def test_binary_broadcast_int(op, dtype, shapes, rng):
    kx, ky = INT_BINARY[op]
    x, y = make(rng, shapes[0], dtype, kx), make(rng, shapes[1], dtype, ky)
    got = getattr(tf, op)(tf.constant(x), tf.constant(y))
    # TF's truediv divides integers as float64; every other op keeps the integer dtype.
    out_dtype = np.float64 if op == "divide" else dtype
    assert_close(got, getattr(ref, op)(x, y), dtype=out_dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("scalar", [1.5, 2, -0.75], ids=["float", "int", "negfloat"])
def test_binary_python_scalar_either_side(op, dtype, scalar, rng):
    kx, ky = BINARY[op]
    x = make(rng, (3, 4), dtype, "pos" if op == "pow" else kx)
    t = tf.constant(x)
    s_left = abs(scalar) if op == "pow" else scalar  # pow's base must be positive for real results
    right = getattr(tf, op)(t, scalar)
    left = getattr(tf, op)(s_left, t)
    # A Python scalar takes the tensor's dtype: the reference sees it rounded to that dtype.
    sc = np.asarray(scalar, dtype=dtype)
    sl = np.asarray(s_left, dtype=dtype)
    rtol = _binary_rtol(op, dtype)
    assert_close(right, getattr(ref, op)(x, sc), dtype=dtype, rtol=rtol)
    assert_close(left, getattr(ref, op)(sl, x), dtype=dtype, rtol=rtol)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "maximum", "minimum", "pow", "divide"])
def test_binary_python_int_scalar_on_int_tensor(op, dtype, rng):
    x = make(rng, (2, 5), dtype, "small" if op == "pow" else "nonzero")
    t = tf.constant(x)
    out_dtype = np.float64 if op == "divide" else dtype
    assert_close(getattr(tf, op)(t, 3), getattr(ref, op)(x, np.asarray(3, dtype)), dtype=out_dtype)
    assert_close(getattr(tf, op)(3, t if op != "pow" else tf.abs(t)),
                 getattr(ref, op)(np.asarray(3, dtype), x if op != "pow" else np.abs(x)), dtype=out_dtype)


# Operators: (expression on tensors, reference on arrays, needs positive x)
OPERATORS = {
    "t+u": (lambda a, b: a + b, ref.add),
    "t-u": (lambda a, b: a - b, ref.subtract),
    "t*u": (lambda a, b: a * b, ref.multiply),
    "t/u": (lambda a, b: a / b, ref.divide),
    "t**u": (lambda a, b: a ** b, ref.pow),
}


@pytest.mark.parametrize("shapes", [((), ()), ((3, 1), (4,)), ((2, 3, 4), (2, 3, 4)), ((0, 2), (1, 2))], ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("expr", sorted(OPERATORS))
def test_operators(expr, dtype, shapes, rng):
    fn, rfn = OPERATORS[expr]
    x = make(rng, shapes[0], dtype, "pos")
    y = make(rng, shapes[1], dtype, "nonzero")
    assert_close(fn(tf.constant(x), tf.constant(y)), rfn(x, y), dtype=dtype, rtol=2e-5 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_operators_with_python_scalars(dtype, rng):
    x = make(rng, (2, 3), dtype, "pos")
    t = tf.constant(x)
    c = lambda v: np.asarray(v, dtype=dtype)  # noqa: E731
    cases = [
        (t + 2, ref.add(x, c(2))), (2 + t, ref.add(c(2), x)),
        (t - 1.5, ref.subtract(x, c(1.5))), (1.5 - t, ref.subtract(c(1.5), x)),
        (t * 3, ref.multiply(x, c(3))), (3 * t, ref.multiply(c(3), x)),
        (t / 4.0, ref.divide(x, c(4.0))), (4.0 / t, ref.divide(c(4.0), x)),
        (t ** 2, ref.pow(x, c(2))), (2.0 ** t, ref.pow(c(2.0), x)), (t ** 0.5, ref.pow(x, c(0.5))),
        (-t, ref.negative(x)), (abs(-t), ref.abs(x)),
    ]
    for got, want in cases:
        assert_close(got, want, dtype=dtype, rtol=2e-5 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_int_operators(dtype, rng):
    x = make(rng, (3, 4), dtype, "nonzero")
    y = make(rng, (4,), dtype, "nonzero")
    t, u = tf.constant(x), tf.constant(y)
    assert_close(t + u, x + y, dtype=dtype)
    assert_close(t - u, x - y, dtype=dtype)
    assert_close(t * u, x * y, dtype=dtype)
    assert_close(t / u, ref.divide(x, y), dtype=np.float64)
    assert_close(t ** 2, x ** 2, dtype=dtype)
    assert_close(-t, -x, dtype=dtype)
    assert_close(abs(t), np.abs(x), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_binary_special_values(dtype):
    x = np.array([INF, -INF, NAN, 0.0, -0.0, 1.0, INF, 0.0], dtype=dtype)
    y = np.array([INF, 1.0, 1.0, 0.0, 1.0, NAN, -INF, -0.0], dtype=dtype)
    with np.errstate(all="ignore"):
        for op in ["add", "subtract", "multiply", "divide"]:
            assert_close(getattr(tf, op)(tf.constant(x), tf.constant(y)), getattr(ref, op)(x, y).astype(dtype),
                         dtype=dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_int_divide_by_zero_is_float64_inf_and_nan(dtype):
    x, y = np.array([1, -1, 0, 6], dtype=dtype), np.array([0, 0, 0, 3], dtype=dtype)
    with np.errstate(all="ignore"):
        assert_close(tf.divide(tf.constant(x), tf.constant(y)), ref.divide(x, y), dtype=np.float64)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_pow_edge_cases(dtype):
    # x^0 = 1 for every x (NaN included), 0^y = 0 for y > 0, negative bases with integral exponents.
    x = np.array([0.0, 0.0, -2.0, -2.0, 3.0, NAN, -8.0, 4.0], dtype=dtype)
    y = np.array([0.0, 2.0, 2.0, 3.0, 0.0, 0.0, 1.0 / 3.0, -0.5], dtype=dtype)
    with np.errstate(all="ignore"):
        want = ref.pow(x, y).astype(dtype)
    assert_close(tf.pow(tf.constant(x), tf.constant(y)), want, dtype=dtype)


# ---- comparisons -----------------------------------------------------------------------------------

COMPARISONS = ["less", "less_equal", "greater", "greater_equal", "equal", "not_equal"]
CMP_SHAPES = [((), ()), ((5,), ()), ((), (5,)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((2, 1, 3, 1), (4, 1, 5)),
              ((0, 3), (3,)), ((33, 70), (33, 70))]


@pytest.mark.parametrize("shapes", CMP_SHAPES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison(op, dtype, shapes, rng):
    # Small integers (as any dtype) so that ties, where < and <= differ, are common.
    x = np.asarray(rng.integers(-2, 3, size=shapes[0]), dtype=dtype)
    y = np.asarray(rng.integers(-2, 3, size=shapes[1]), dtype=dtype)
    got = getattr(tf, op)(tf.constant(x), tf.constant(y))
    assert got.dtype == tf.bool
    assert_close(got, getattr(ref, op)(x, y), dtype=np.bool_)


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparison_nan(op):
    x = np.array([NAN, NAN, 1.0, INF, -INF], dtype=np.float32)
    y = np.array([NAN, 1.0, NAN, INF, INF], dtype=np.float32)
    assert_close(getattr(tf, op)(tf.constant(x), tf.constant(y)), getattr(ref, op)(x, y), dtype=np.bool_)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_comparison_operators_and_scalars(dtype, rng):
    x = rng.integers(-2, 3, size=(3, 4)).astype(dtype)
    y = rng.integers(-2, 3, size=(4,)).astype(dtype)
    t, u = tf.constant(x), tf.constant(y)
    cases = [
        (t < u, x < y), (t <= u, x <= y), (t > u, x > y), (t >= u, x >= y), (t == u, x == y), (t != u, x != y),
        (t < 1, x < 1), (1 < t, 1 < x), (t >= 0, x >= 0), (0 >= t, 0 >= x), (t == 1, x == 1), (t != 1, x != 1),
        (tf.less(1, t), 1 < x), (tf.greater_equal(t, 0), x >= 0), (tf.equal(0, t), x == 0),
    ]
    for got, want in cases:
        assert_close(got, want, dtype=np.bool_)


def test_comparison_float_scalar_is_rounded_to_the_tensor_dtype():
    # 0.1 becomes float32(0.1) when compared with a float32 tensor (TF converts the scalar first).
    t = tf.constant(np.array([0.1], dtype=np.float32))
    assert bool((t == 0.1).numpy()[0])
    assert not bool((tf.constant(np.array([0.1], np.float64)) == float(np.float32(0.1))).numpy()[0])


@pytest.mark.parametrize("op", ["equal", "not_equal"])
def test_bool_equality(op, rng):
    x = rng.integers(0, 2, size=(3, 4)).astype(bool)
    y = rng.integers(0, 2, size=(4,)).astype(bool)
    assert_close(getattr(tf, op)(tf.constant(x), tf.constant(y)), getattr(ref, op)(x, y), dtype=np.bool_)


# ---- where -----------------------------------------------------------------------------------------

WHERE_SHAPES = [
    ((), (), ()),
    ((5,), (5,), (5,)),
    ((5,), (), ()),
    ((), (3,), (3,)),
    ((2, 3), (3,), (2, 1)),
    ((1, 4), (3, 1), ()),
    ((2, 1, 4), (3, 1), (1, 3, 4)),
    ((2, 3, 1, 5), (1, 4, 5), (3, 1, 1)),
    ((0, 3), (3,), (1, 3)),
    ((100, 50), (100, 50), (50,)),
]


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_where(dtype, shapes, rng):
    c = rng.integers(0, 2, size=shapes[0]).astype(bool)
    x, y = make(rng, shapes[1], dtype), make(rng, shapes[2], dtype)
    got = tf.where(tf.constant(c), tf.constant(x), tf.constant(y))
    assert_close(got, ref.where(c, x, y), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_where_with_comparison_and_python_scalars(dtype, rng):
    x = make(rng, (4, 5), dtype)
    t = tf.constant(x)
    assert_close(tf.where(t > 0, t, 0.0), ref.where(x > 0, x, np.zeros((), dtype)), dtype=dtype)
    assert_close(tf.where(t > 0, -1.5, t), ref.where(x > 0, np.asarray(-1.5, dtype), x), dtype=dtype)
    assert_close(tf.where(x > 0, t, t * 2), ref.where(x > 0, x, x * dtype(2)), dtype=dtype)  # NumPy bool condition


# ---- softmax / log_softmax -------------------------------------------------------------------------

SOFTMAX_CASES = [((5,), -1), ((5,), 0), ((3, 4), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1),
                 ((2, 3, 4), -1), ((2, 3, 4), 0), ((2, 3, 4, 5), 2), ((4, 1), -1), ((1, 7), 0), ((0, 5), -1),
                 ((64, 1000), -1), ((300, 17), 0)]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=_id)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(op, dtype, case, rng):
    shape, axis = case
    x = make(rng, shape, dtype) * 3
    got = getattr(tf.nn, op)(tf.constant(x), axis=axis)
    assert_close(got, getattr(ref, op)(x, axis=axis), dtype=dtype, rtol=2e-5 if dtype == np.float32 else None,
                 atol=2e-6 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_default_axis_and_aliases(op, dtype, rng):
    x = make(rng, (3, 6), dtype)
    want = getattr(ref, op)(x, axis=-1)
    for fn in (getattr(tf.nn, op), getattr(tf.math, op), getattr(tf, op)):
        assert_close(fn(tf.constant(x)), want, dtype=dtype, rtol=2e-5 if dtype == np.float32 else None)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_softmax_is_stable_for_large_logits(dtype):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    p = tf.nn.softmax(tf.constant(x))
    lp = tf.nn.log_softmax(tf.constant(x))
    assert np.all(np.isfinite(p.numpy())) and np.all(np.isfinite(lp.numpy()))
    assert_close(p, ref.softmax(x), dtype=dtype, atol=1e-6)
    assert_close(lp, ref.log_softmax(x), dtype=dtype, rtol=2e-5 if dtype == np.float32 else None)


# ---- aliases ---------------------------------------------------------------------------------------

MATH_ALIASES = ["abs", "add", "divide", "equal", "exp", "greater", "greater_equal", "less", "less_equal", "log",
                "log1p",
                "maximum", "minimum", "multiply", "negative", "not_equal", "pow", "reciprocal", "rsqrt", "sigmoid",
                "sign", "sqrt", "square", "subtract", "tanh"]


@pytest.mark.parametrize("name", MATH_ALIASES)
def test_math_aliases_compute_the_op(name, rng):
    fn = getattr(tf.math, name)
    x = make(rng, (2, 3), np.float64, "pos")
    if name in BINARY or name in COMPARISONS:
        y = make(rng, (3,), np.float64, "pos")
        got, want = fn(tf.constant(x), tf.constant(y)), getattr(ref, name)(x, y)
    else:
        got, want = fn(tf.constant(x)), getattr(ref, name)(x)
    assert_close(got, want)


def test_truediv_and_nn_aliases(rng):
    x = make(rng, (2, 3), np.float64, "nonzero")
    assert_close(tf.math.truediv(tf.constant(x), 2.0), x / 2.0)
    assert_close(tf.truediv(tf.constant(x), 2.0), x / 2.0)
    assert_close(tf.nn.sigmoid(tf.constant(x)), ref.sigmoid(x))
    assert_close(tf.nn.tanh(tf.constant(x)), ref.tanh(x))
