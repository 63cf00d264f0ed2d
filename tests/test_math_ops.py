"""TensorFlow's math ops beyond the basic arithmetic: trigonometric and hyperbolic functions, expm1, softplus,
softsign, erf/erfc, the rounding ops, reciprocal_no_nan; the binary atan2, floordiv, floormod, truncatediv,
squared_difference, divide_no_nan, xlogy, xdivy; the predicates is_nan/is_inf/is_finite and the logical ops.

Each op against a float64 NumPy reference (``math.erf`` through np.vectorize for erf/erfc), its gradient
against the analytic derivative (TF's formula from math_grad.py / nn_grad.py) and central differences, second
order (the composed backward rule under an outer tape) against differences of the analytic derivative, the
fused unary backward kernel against the composed rule bit for bit, broadcasting, TF's dtype rules (float-only
ops raise TypeError naming the op; integer floordiv/floormod/truncatediv wrap and reject a zero divisor with
InvalidArgumentError "Integer division by zero"; logical ops take bool only), and NaN/inf/signed-zero edges.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import pyfast_tape as tf
from conftest import FLOAT_DTYPES, assert_close
from reference import central_difference, unbroadcast

RNG_SEED = 20240611
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sigmoid(x):
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _recip_no_nan(x):
    with np.errstate(divide="ignore"):
        return np.where(x == 0, 0.0, 1.0 / np.where(x == 0, 1.0, x))


# ---- unary: name -> (tf function, forward reference, derivative reference or None, input range) ----------
# The derivative is None for the rounding ops: TF registers a None gradient for Floor/Ceil/Round/Rint.
UNARY = {
    "sin": (tf.math.sin, np.sin, np.cos, (-3.0, 3.0)),
    "cos": (tf.math.cos, np.cos, lambda x: -np.sin(x), (-3.0, 3.0)),
    "tan": (tf.math.tan, np.tan, lambda x: 1.0 / np.cos(x) ** 2, (-1.3, 1.3)),
    "asin": (tf.math.asin, np.arcsin, lambda x: 1.0 / np.sqrt(1.0 - x * x), (-0.95, 0.95)),
    "acos": (tf.math.acos, np.arccos, lambda x: -1.0 / np.sqrt(1.0 - x * x), (-0.95, 0.95)),
    "atan": (tf.math.atan, np.arctan, lambda x: 1.0 / (1.0 + x * x), (-5.0, 5.0)),
    "sinh": (tf.math.sinh, np.sinh, np.cosh, (-3.0, 3.0)),
    "cosh": (tf.math.cosh, np.cosh, np.sinh, (-3.0, 3.0)),
    "asinh": (tf.math.asinh, np.arcsinh, lambda x: 1.0 / np.sqrt(1.0 + x * x), (-5.0, 5.0)),
    "acosh": (tf.math.acosh, np.arccosh, lambda x: 1.0 / np.sqrt(x * x - 1.0), (1.1, 5.0)),
    "atanh": (tf.math.atanh, np.arctanh, lambda x: 1.0 / (1.0 - x * x), (-0.9, 0.9)),
    "expm1": (tf.math.expm1, np.expm1, np.exp, (-3.0, 3.0)),
    "softplus": (tf.math.softplus, lambda x: np.logaddexp(0.0, x), _sigmoid, (-20.0, 20.0)),
    "softsign": (tf.math.softsign, lambda x: x / (1.0 + np.abs(x)), lambda x: 1.0 / (1.0 + np.abs(x)) ** 2,
                 (-5.0, 5.0)),
    "erf": (tf.math.erf, _erf, lambda x: TWO_OVER_SQRT_PI * np.exp(-x * x), (-3.0, 3.0)),
    "erfc": (tf.math.erfc, _erfc, lambda x: -TWO_OVER_SQRT_PI * np.exp(-x * x), (-3.0, 3.0)),
    "reciprocal_no_nan": (tf.math.reciprocal_no_nan, _recip_no_nan, lambda x: -_recip_no_nan(x) ** 2, (0.3, 3.0)),
    "floor": (tf.math.floor, np.floor, None, (-5.0, 5.0)),
    "ceil": (tf.math.ceil, np.ceil, None, (-5.0, 5.0)),
    "round": (tf.math.round, np.round, None, (-5.0, 5.0)),  # NumPy's round is half to even, as TF's
    "rint": (tf.math.rint, np.rint, None, (-5.0, 5.0)),
}
DIFFERENTIABLE = [n for n, u in UNARY.items() if u[2] is not None]
ROUNDING = [n for n, u in UNARY.items() if u[2] is None]
FLOAT_ONLY_UNARY = [n for n in UNARY if n != "round"]


def _inputs(name, dtype, shape=(4, 33), seed=0):
    lo, hi = UNARY[name][3]
    rng = np.random.default_rng(RNG_SEED + seed)
    x = rng.uniform(lo, hi, size=shape)
    if name == "reciprocal_no_nan":
        x *= rng.choice([-1.0, 1.0], size=shape)
    if name in ROUNDING:  # exact halves (ties) and values next to them
        x.flat[:8] = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -3.5]
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward(name, dtype):
    fn, ref = UNARY[name][:2]
    x = _inputs(name, dtype)
    assert_close(fn(tf.constant(x)), ref(x.astype(np.float64)), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_unary_gradient_matches_formula(name, dtype):
    fn, _, dref, _ = UNARY[name]
    x = _inputs(name, dtype, seed=1)
    w = np.random.default_rng(3).uniform(0.5, 1.5, size=x.shape).astype(dtype)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(v) * tf.constant(w))
    g = tape.gradient(y, v)
    want = dref(x.astype(np.float64)) * w
    assert_close(g, want, dtype=dtype, tol="grad", scale=float(np.max(np.abs(want))))


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_unary_gradient_matches_finite_differences(name):
    fn = UNARY[name][0]
    x = _inputs(name, np.float64, shape=(3, 5), seed=2)
    w = np.random.default_rng(4).uniform(0.5, 1.5, size=x.shape)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(v) * tf.constant(w))
    g = tape.gradient(y, v)
    (fd,) = central_difference(lambda a: fn(tf.constant(a)).numpy(), [x], dy=w)
    assert_close(g, fd, tol="fd")


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_unary_second_order(name):
    """The composed backward rule (what an outer tape records) differentiates again: d2y/dx2 against central
    differences of the analytic first derivative."""
    fn, _, dref, _ = UNARY[name]
    x = _inputs(name, np.float64, shape=(2, 7), seed=5)
    v = tf.Variable(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(fn(v))
        g = inner.gradient(y, v)
        s = tf.reduce_sum(g)
    h = outer.gradient(s, v)
    assert_close(g, dref(x), tol="grad")
    eps = 1e-6
    want = (dref(x + eps) - dref(x - eps)) / (2 * eps)
    assert_close(h, want, tol="fd", scale=float(np.max(np.abs(want))) + 1.0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_fused_unary_backward_matches_composition(name, dtype):
    """One tape: the fused backward kernel. Under an outer tape: the composed rule. Same float operations."""
    fn = UNARY[name][0]
    x = _inputs(name, dtype, shape=(5, 37), seed=6)
    if name == "reciprocal_no_nan":
        x.flat[::7] = 0.0  # the zero branch too
    w = tf.constant(np.random.default_rng(11).uniform(0.5, 1.5, size=x.shape).astype(dtype))
    v = tf.Variable(x)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(fn(v) * w)
    fused = t.gradient(y, v).numpy()
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(fn(v) * w)
        composed = inner.gradient(y, v)
    assert outer._num_entries > 0  # the composed rule ran (recorded by `outer`)
    np.testing.assert_array_equal(fused, composed.numpy())


@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_ops_have_no_gradient(name):
    fn = UNARY[name][0]
    v = tf.Variable(np.array([0.3, 1.5, -2.5], dtype=np.float32))
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(fn(v))
        z = tf.reduce_sum(fn(v) + v * 2.0)
    assert tape.gradient(y, v) is None  # TF: RegisterGradient returns [None]
    zero = tape.gradient(y, v, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert_close(zero, np.zeros(3), dtype=np.float32)
    assert_close(tape.gradient(z, v), np.full(3, 2.0), dtype=np.float32)


def test_round_is_half_to_even():
    x32 = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 1e8 + 1, 8388609.0, -0.0, 0.4, 2.6], np.float32)
    got = tf.math.round(tf.constant(x32)).numpy()
    np.testing.assert_array_equal(got, np.array([0, 2, 2, -0, -2, -2, 0, 1e8 + 1, 8388609, -0, 0, 3], np.float32))
    assert np.signbit(got[3]) and np.signbit(got[9])  # -0.5 rounds to -0 (rint), -0 stays -0
    x64 = np.array([2.5, 3.5, -4.5, 4503599627370497.0, 0.49999999999999994], np.float64)
    np.testing.assert_array_equal(tf.round(tf.constant(x64)).numpy(), [2.0, 4.0, -4.0, 4503599627370497.0, 0.0])
    np.testing.assert_array_equal(tf.math.rint(tf.constant(x64)).numpy(), np.rint(x64))
    np.testing.assert_array_equal(tf.math.round(tf.constant([2.5, -3.5], tf.float32)).numpy(), [2.0, -4.0])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_round_of_integers_is_the_identity(dtype):
    x = np.array([-3, 0, 7, np.iinfo(dtype).min, np.iinfo(dtype).max], dtype=dtype)
    assert_close(tf.math.round(tf.constant(x)), x, dtype=dtype)


NAN, INF = float("nan"), float("inf")
SPECIAL_X = np.array([NAN, INF, -INF, 0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_nan_inf_signed_zero(name, dtype):
    """NaN, infinities, signed zeros and extreme values: the float64 reference evaluated at the rounded input,
    NaN where it is NaN and infinities of its sign; the sign of a zero result where the reference has one."""
    fn, ref = UNARY[name][:2]
    x = SPECIAL_X.astype(dtype)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    got = fn(tf.constant(x)).numpy()
    assert got.dtype == dtype
    assert_close(got, want, dtype=dtype, range_edge=True)
    zero = (want == 0) & (got == 0)
    np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]), err_msg=f"{name}: sign of zero")


def test_unary_special_values_exact():
    f = tf.constant
    sp = tf.math.softplus(f([INF, -INF, 100.0, -100.0], tf.float64)).numpy().tolist()
    assert sp == [INF, 0.0, 100.0, math.exp(-100.0)]  # TF's thresholds: x above, e^x below
    assert tf.math.erf(f([INF, -INF])).numpy().tolist() == [1.0, -1.0]
    assert tf.math.erfc(f([INF, -INF])).numpy().tolist() == [0.0, 2.0]
    assert tf.math.expm1(f([-INF, 0.0])).numpy().tolist() == [-1.0, 0.0]
    assert np.isnan(tf.math.asin(f([1.5])).numpy()).all() and np.isnan(tf.math.acosh(f([0.5])).numpy()).all()
    assert tf.math.atanh(f([1.0, -1.0])).numpy().tolist() == [INF, -INF]
    r = tf.math.reciprocal_no_nan(f([0.0, -0.0, INF, 2.0])).numpy()
    assert r.tolist() == [0.0, 0.0, 0.0, 0.5] and not np.signbit(r[1])  # div_no_nan: +0 where x == 0
    assert np.isnan(tf.math.reciprocal_no_nan(f([NAN])).numpy()).all()


def test_unary_gradient_edges():
    # softplus's gradient sigmoid(x) stays finite at the extremes; reciprocal_no_nan's is 0 at x == 0
    v = tf.Variable(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.nn.softplus(v))
    assert_close(t.gradient(y, v), _sigmoid(v.numpy()))
    v = tf.Variable(np.array([0.0, -0.0, 2.0, -4.0], np.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.math.reciprocal_no_nan(v))
    assert_close(t.gradient(y, v), [0.0, 0.0, -0.25, -1 / 16], dtype=np.float32)
    v = tf.Variable(np.array([1.0, -1.0]))  # atanh's gradient 1/(1 - x^2) is infinite at +-1
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.math.atanh(v))
    assert t.gradient(y, v).numpy().tolist() == [INF, INF]


@pytest.mark.parametrize("name", FLOAT_ONLY_UNARY)
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.bool])
def test_float_only_unary_rejects_integer_and_bool(name, dtype):
    x = tf.cast(tf.constant([1, 0, 1]), dtype)
    with pytest.raises(TypeError, match=name):
        UNARY[name][0](x)


def test_round_rejects_bool():
    with pytest.raises(TypeError, match="round"):
        tf.math.round(tf.constant([True]))


def test_unary_accepts_python_values_and_keeps_shape():
    assert_close(tf.math.sin([[0.0, 1.0]]), np.sin([[0.0, 1.0]]).astype(np.float32), dtype=np.float32)
    assert tf.math.cos(tf.zeros([0, 3])).shape == (0, 3)
    assert_close(tf.math.tan(2.0), np.float32(np.tan(np.float32(2.0))), dtype=np.float32)


# ---- binary ---------------------------------------------------------------------------------------------------
def _floordiv(x, y):
    with np.errstate(all="ignore"):
        return np.floor(x / y)


def _floormod(x, y):  # TF's floor_fmod: fmod, moved to the divisor's sign
    with np.errstate(all="ignore"):
        r = np.fmod(x, y)
        return np.where((r != 0) & ((y < 0) != (r < 0)), r + y, r)


def _div_no_nan(x, y):
    with np.errstate(all="ignore"):
        return np.where(y == 0, 0.0, x / np.where(y == 0, 1.0, y))


def _xlogy(x, y):
    with np.errstate(all="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _xdivy(x, y):
    with np.errstate(all="ignore"):
        return np.where(x == 0, 0.0, x / np.where(x == 0, 1.0, y))


def _atan2_grad(y, x):
    r = x * x + y * y
    return x / r, -y / r


# name -> (tf function, forward reference, (d/da, d/db) reference or None, range of a, range of b)
BINARY = {
    "atan2": (tf.math.atan2, np.arctan2, _atan2_grad, (-2.0, 2.0), (-2.0, 2.0)),
    "floordiv": (tf.math.floordiv, _floordiv, None, (-5.0, 5.0), (0.3, 2.0)),
    "floormod": (tf.math.floormod, _floormod, lambda a, b: (np.ones_like(a), -np.floor(a / b)), (-5.0, 5.0),
                 (0.3, 2.0)),
    "truncatediv": (tf.math.truncatediv, lambda a, b: np.trunc(a / b), None, (-5.0, 5.0), (0.3, 2.0)),
    "squared_difference": (tf.math.squared_difference, lambda a, b: (a - b) ** 2,
                           lambda a, b: (2 * (a - b), -2 * (a - b)), (-3.0, 3.0), (-3.0, 3.0)),
    "divide_no_nan": (tf.math.divide_no_nan, _div_no_nan,
                      lambda a, b: (_div_no_nan(1.0, b), _div_no_nan(_div_no_nan(-a, b), b)), (-3.0, 3.0),
                      (0.3, 2.0)),
    "xlogy": (tf.math.xlogy, _xlogy, lambda a, b: (np.where(a == 0, 0.0, np.log(b)), _xdivy(a, b)), (-3.0, 3.0),
              (0.2, 3.0)),
    "xdivy": (tf.math.xdivy, _xdivy, lambda a, b: (_xdivy((a != 0) * 1.0, b), _xdivy(-a, b * b)), (-3.0, 3.0),
              (0.3, 2.0)),
}
BINARY_DIFF = [n for n, b in BINARY.items() if b[2] is not None]
SIGNED_B = {"atan2", "squared_difference"}  # the others take b in (lo, hi) with a random sign (nonzero)


def _pair(name, dtype, sa, sb, seed=0):
    _, _, _, (alo, ahi), (blo, bhi) = BINARY[name]
    rng = np.random.default_rng(RNG_SEED + 100 + seed)
    a = rng.uniform(alo, ahi, size=sa)
    b = rng.uniform(blo, bhi, size=sb)
    if name not in SIGNED_B and name != "xlogy":
        b = b * rng.choice([-1.0, 1.0], size=sb)
    if name in ("xlogy", "xdivy") and a.size > 2:
        a.flat[::5] = 0.0  # x == 0 gives 0 (and a zero gradient)
    return a.astype(dtype), b.astype(dtype)


SHAPES = [((4, 9), (4, 9)), ((3, 4), (4,)), ((2, 1, 5), (3, 1)), ((), (3,)), ((3, 1), (1, 4)), ((0, 3), (3,))]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_forward_broadcasting(name, sa, sb, dtype):
    fn, ref = BINARY[name][:2]
    a, b = _pair(name, dtype, sa, sb)
    want = ref(a.astype(np.float64), b.astype(np.float64))
    if name in ("floordiv", "truncatediv"):  # float32's quotient rounds before the floor / trunc
        with np.errstate(all="ignore"):
            want = ref(a, b).astype(np.float64)
    got = fn(tf.constant(a), tf.constant(b))
    assert_close(got, want, dtype=dtype, shape=np.broadcast_shapes(sa, sb))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}-{b}" for a, b in SHAPES])
@pytest.mark.parametrize("name", BINARY_DIFF)
def test_binary_gradient_matches_formula(name, sa, sb, dtype):
    fn, _, dref = BINARY[name][:3]
    a, b = _pair(name, dtype, sa, sb, seed=1)
    out = np.broadcast_shapes(sa, sb)
    w = np.random.default_rng(5).uniform(0.5, 1.5, size=out).astype(dtype)
    va, vb = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(va, vb) * tf.constant(w))
    ga, gb = tape.gradient(y, [va, vb])
    a64, b64 = np.broadcast_arrays(a.astype(np.float64), b.astype(np.float64))
    if name == "floormod":  # -floor(a / b) with the quotient rounded in the input dtype, as the op computes it
        with np.errstate(all="ignore"):
            da, db = np.ones(out), -np.floor(np.broadcast_to(a, out) / np.broadcast_to(b, out)).astype(np.float64)
    else:
        da, db = dref(a64, b64)
    for g, d, shape in ((ga, da, sa), (gb, db, sb)):
        want = unbroadcast(np.asarray(d) * w, shape)
        assert_close(g, want, dtype=dtype, tol="grad", scale=float(np.max(np.abs(want), initial=1.0)))


@pytest.mark.parametrize("name", BINARY_DIFF)
def test_binary_gradient_matches_finite_differences(name):
    fn = BINARY[name][0]
    a, b = _pair(name, np.float64, (3, 4), (4,), seed=2)
    if name in ("xlogy", "xdivy"):
        a = np.where(a == 0, 0.7, a)  # x == 0 is a kink of xlogy/xdivy in x
    w = np.random.default_rng(6).uniform(0.5, 1.5, size=(3, 4))
    va, vb = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(va, vb) * tf.constant(w))
    ga, gb = tape.gradient(y, [va, vb])
    fa, fb = central_difference(lambda x, z: fn(tf.constant(x), tf.constant(z)).numpy(), [a, b], dy=w)
    assert_close(ga, fa, tol="fd")
    assert_close(gb, fb, tol="fd")


@pytest.mark.parametrize("name", BINARY_DIFF)
def test_binary_second_order_matches_finite_differences(name):
    """The backward rules are ops an outer tape records: the gradient of sum(grad) against differences."""
    fn = BINARY[name][0]
    a, b = _pair(name, np.float64, (2, 3), (3,), seed=3)
    if name in ("xlogy", "xdivy"):
        a = np.where(a == 0, 0.7, a)

    def first(x, z):
        va, vb = tf.Variable(x), tf.Variable(z)
        with tf.GradientTape() as t:
            y = tf.reduce_sum(fn(va, vb))
        return [g.numpy() for g in t.gradient(y, [va, vb])]

    va, vb = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(fn(va, vb))
        ga, gb = inner.gradient(y, [va, vb])
        s = tf.reduce_sum(ga) + tf.reduce_sum(gb)
    ha, hb = outer.gradient(s, [va, vb], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    # d/da sum(first(a, b)) by central differences, input by input
    fa, fb = central_difference(lambda x, z: np.array(sum(float(g.sum()) for g in first(x, z))), [a, b])
    assert_close(ha, fa, tol="fd", scale=10.0)
    assert_close(hb, fb, tol="fd", scale=10.0)


@pytest.mark.parametrize("name", ["floordiv", "truncatediv"])
def test_floordiv_truncatediv_have_no_gradient(name):
    fn = BINARY[name][0]
    va, vb = tf.Variable([3.0, -7.5]), tf.Variable([2.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(fn(va, vb))
    assert tape.gradient(y, [va, vb]) == [None, None]  # TF's gradient: (None, None)


def test_atan2_argument_order_and_quadrants():
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, -0.0, 0.0])
    x = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 0.0])
    got = tf.math.atan2(tf.constant(y), tf.constant(x))
    np.testing.assert_array_equal(got.numpy(), np.arctan2(y, x))  # atan2(-0, -1) = -pi, atan2(0, 0) = 0
    assert_close(tf.atan2(y=tf.constant([1.0]), x=tf.constant([0.0])), [math.pi / 2], dtype=np.float32)


def test_binary_float_special_values():
    f = tf.constant
    # divide_no_nan: 0 wherever the divisor is 0, even for NaN/inf numerators
    assert tf.math.divide_no_nan(f([NAN, INF, 1.0, 0.0]), f([0.0, 0.0, -0.0, 0.0])).numpy().tolist() == [0.0] * 4
    assert tf.math.divide_no_nan(f([1.0]), f([INF])).numpy().tolist() == [0.0]
    # xlogy / xdivy: 0 where x == 0, whatever y is
    assert tf.math.xlogy(f([0.0, 0.0, 0.0]), f([0.0, NAN, INF])).numpy().tolist() == [0.0, 0.0, 0.0]
    assert tf.math.xlogy(f([1.0, 2.0]), f([0.0, -1.0])).numpy()[0] == -INF
    assert np.isnan(tf.math.xlogy(f([2.0]), f([-1.0])).numpy()).all()
    assert tf.math.xdivy(f([0.0, 1.0]), f([0.0, 0.0])).numpy().tolist() == [0.0, INF]
    # float floordiv / floormod by zero: inf / NaN like TF, no error
    fd = tf.math.floordiv(f([1.0, -1.0, 0.0]), f([0.0, 0.0, 0.0])).numpy()
    assert fd[0] == INF and fd[1] == -INF and np.isnan(fd[2])
    assert np.isnan(tf.math.floormod(f([1.0, INF]), f([0.0, 2.0])).numpy()).all()
    # floormod takes the divisor's sign; floor(1 / 0.1) is floor(10.0) = 10 (TF's floor(x / y))
    assert tf.math.floormod(f([-7.0, 7.0, -7.0, 7.5]), f([3.0, -3.0, -3.0, 2.0])).numpy().tolist() == [2, -2, -1, 1.5]
    assert tf.math.floordiv(f([1.0], tf.float64), f([0.1], tf.float64)).numpy().tolist() == [10.0]
    assert tf.math.truncatediv(f([-7.0, 7.0]), f([2.0, -2.0])).numpy().tolist() == [-3.0, -3.0]
    assert np.isnan(tf.math.atan2(f([NAN]), f([1.0])).numpy()).all()
    assert tf.math.squared_difference(f([INF]), f([1.0])).numpy().tolist() == [INF]


def test_binary_gradient_edges():
    # divide_no_nan: no gradient through a zero divisor; xlogy at x == 0: zero for both (TF's xlogy/xdivy)
    va, vb = tf.Variable([1.0, 2.0, 0.0]), tf.Variable([0.0, 4.0, 0.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.math.divide_no_nan(va, vb))
    ga, gb = t.gradient(y, [va, vb])
    assert ga.numpy().tolist() == [0.0, 0.25, 0.0] and gb.numpy().tolist() == [0.0, -0.125, 0.0]
    va, vb = tf.Variable([0.0, 0.0, 2.0]), tf.Variable([0.0, 3.0, 4.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.math.xlogy(va, vb))
    ga, gb = t.gradient(y, [va, vb])
    assert_close(ga, [0.0, 0.0, math.log(4.0)], dtype=np.float32)
    assert gb.numpy().tolist() == [0.0, 0.0, 0.5]


# ---- integer behaviour --------------------------------------------------------------------------------------
def _py_floordiv(a, b):
    return a // b


def _py_floormod(a, b):
    return a % b


def _py_truncdiv(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


INT_OPS = {"floordiv": (tf.math.floordiv, _py_floordiv), "floormod": (tf.math.floormod, _py_floormod),
           "truncatediv": (tf.math.truncatediv, _py_truncdiv),
           "squared_difference": (tf.math.squared_difference, lambda a, b: (a - b) ** 2)}


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("name", list(INT_OPS))
def test_integer_binary_ops(name, dtype):
    fn, ref = INT_OPS[name]
    bits = np.iinfo(dtype).bits
    lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    a = np.array([7, -7, 7, -7, 0, 6, -6, 1, lo, lo, hi, hi, lo + 1, 123456], dtype=dtype)
    b = np.array([2, 2, -2, -2, 3, 3, -3, 5, -1, 1, -1, 7, -3, -1000], dtype=dtype)
    got = fn(tf.constant(a), tf.constant(b))
    want = np.array([_wrap(ref(int(x), int(y)), bits) for x, y in zip(a, b)], dtype=dtype)
    assert_close(got, want, dtype=dtype)  # exact; min // -1 wraps to min, min % -1 is 0
    # broadcasting a scalar divisor, and the Python-scalar operand takes the tensor's dtype
    got = fn(tf.constant(a[:8]), 3)
    assert_close(got, [_wrap(ref(int(x), 3), bits) for x in a[:8]], dtype=dtype)


@pytest.mark.parametrize("name", ["floordiv", "floormod", "truncatediv"])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_integer_division_by_zero_raises(name, dtype):
    fn = INT_OPS[name][0]
    with pytest.raises(tf.errors.InvalidArgumentError, match=rf"{name}.*Integer division by zero"):
        fn(tf.constant([1, 2, 3], dtype), tf.constant([1, 0, 2], dtype))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        fn(tf.constant([[1], [2]], dtype), tf.constant(0, dtype))  # a broadcast zero
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError, as in TF
        fn(tf.constant([5], dtype), tf.constant([0], dtype))


def test_squared_difference_integer_wraps():
    a, b = np.array([2**31 - 1, -(2**31)], np.int32), np.array([-(2**31), 2**31 - 1], np.int32)
    want = [_wrap((int(x) - int(y)) ** 2, 32) for x, y in zip(a, b)]
    assert_close(tf.math.squared_difference(tf.constant(a), tf.constant(b)), want, dtype=np.int32)


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_divide_no_nan_of_integers_is_float64(dtype):
    got = tf.math.divide_no_nan(tf.constant([1, 7, -3], dtype), tf.constant([0, 2, 4], dtype))
    assert got.dtype == tf.float64
    assert_close(got, [0.0, 3.5, -0.75], dtype=np.float64)


@pytest.mark.parametrize("name", ["atan2", "xlogy", "xdivy"])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_float_only_binary_rejects_integers(name, dtype):
    with pytest.raises(TypeError, match=name):
        BINARY[name][0](tf.constant([1, 2], dtype), tf.constant([3, 4], dtype))


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_rejects_bool_and_mixed_dtypes(name):
    fn = BINARY[name][0]
    with pytest.raises(TypeError, match=name):
        fn(tf.constant([True]), tf.constant([False]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=name):
        fn(tf.constant([1.0], tf.float32), tf.constant([2.0], tf.float64))
    with pytest.raises(tf.errors.InvalidArgumentError, match=name):
        fn(tf.zeros([2, 3]), tf.zeros([4]))  # shapes that do not broadcast


# ---- predicates and logical ops -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_is_nan_is_inf_is_finite(dtype):
    x = np.array([[NAN, INF, -INF], [0.0, -1.5, 3e38]], dtype=dtype)
    for fn, ref in ((tf.math.is_nan, np.isnan), (tf.math.is_inf, np.isinf), (tf.math.is_finite, np.isfinite)):
        got = fn(tf.constant(x))
        assert got.dtype == tf.bool and got.shape == (2, 3)
        np.testing.assert_array_equal(got.numpy(), ref(x))


@pytest.mark.parametrize("name", ["is_nan", "is_inf", "is_finite"])
@pytest.mark.parametrize("dtype", [tf.int32, tf.int64, tf.bool])
def test_predicates_reject_non_float(name, dtype):
    with pytest.raises(TypeError, match=name):
        getattr(tf.math, name)(tf.cast(tf.constant([1, 0]), dtype))


def test_predicates_are_not_differentiable():
    v = tf.Variable([1.0, NAN])
    with tf.GradientTape() as tape:
        m = tf.math.is_nan(v)
        y = tf.reduce_sum(tf.where(m, tf.zeros_like(v), v))
    assert m.dtype == tf.bool
    assert_close(tape.gradient(y, v), [1.0, 0.0], dtype=np.float32)


LOGICAL = {"logical_and": (tf.math.logical_and, np.logical_and), "logical_or": (tf.math.logical_or, np.logical_or),
           "logical_xor": (tf.math.logical_xor, np.logical_xor)}


@pytest.mark.parametrize("sa,sb", [((4,), (4,)), ((2, 1), (1, 2)), ((), (3,)), ((0,), (1,))])
@pytest.mark.parametrize("name", list(LOGICAL))
def test_logical_binary(name, sa, sb):
    fn, ref = LOGICAL[name]
    rng = np.random.default_rng(9)
    a, b = rng.random(sa) < 0.5, rng.random(sb) < 0.5
    if sa == (4,):
        a, b = np.array([False, False, True, True]), np.array([False, True, False, True])
    got = fn(tf.constant(a), tf.constant(b))
    assert got.dtype == tf.bool
    np.testing.assert_array_equal(got.numpy(), ref(a, b))
    np.testing.assert_array_equal(fn(tf.constant(a), True).numpy(), ref(a, True))  # a Python bool operand


def test_logical_not():
    x = np.array([[True, False], [False, False]])
    got = tf.math.logical_not(tf.constant(x))
    assert got.dtype == tf.bool
    np.testing.assert_array_equal(got.numpy(), ~x)
    np.testing.assert_array_equal(tf.logical_not(tf.math.is_nan(tf.constant([NAN, 1.0]))).numpy(), [False, True])


@pytest.mark.parametrize("name", list(LOGICAL) + ["logical_not"])
@pytest.mark.parametrize("dtype", [tf.int32, tf.float32])
def test_logical_ops_reject_non_bool(name, dtype):
    fn = getattr(tf.math, name)
    args = [tf.constant([1, 0], dtype)] * (1 if name == "logical_not" else 2)
    with pytest.raises(TypeError, match=name):
        fn(*args)
    if name != "logical_not":
        with pytest.raises(TypeError, match=name):  # bool with a non-bool
            fn(tf.constant([True, False]), tf.constant([1, 0], dtype))


# ---- the Python API ---------------------------------------------------------------------------------------------
MATH_NAMES = (list(UNARY) + list(BINARY) + ["is_nan", "is_inf", "is_finite", "logical_and", "logical_or",
                                             "logical_not", "logical_xor", "mod", "softplus", "softsign"])
# TF 2's top-level aliases of these (tensorflow/tools/api/golden/v2/tensorflow.pbtxt)
TOP_LEVEL = ["acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "floor", "logical_and",
             "logical_not", "logical_or", "round", "sin", "sinh", "tan", "truncatediv"]
NOT_TOP_LEVEL = ["ceil", "rint", "erf", "erfc", "expm1", "softplus", "softsign", "floordiv", "floormod", "mod",
                 "xlogy", "xdivy", "divide_no_nan", "squared_difference", "is_nan", "is_inf", "is_finite",
                 "logical_xor", "reciprocal_no_nan"]


def test_exports():
    for n in MATH_NAMES:
        assert callable(getattr(tf.math, n)), n
        assert n in tf.math.__all__, n
    for n in TOP_LEVEL:
        assert getattr(tf, n) is getattr(tf.math, n), n
        assert n in tf.__all__, n
    for n in NOT_TOP_LEVEL:
        assert not hasattr(tf, n), n
    assert tf.math.mod is tf.math.floormod
    assert tf.nn.softplus is tf.math.softplus and tf.nn.softsign is tf.math.softsign
    assert "softplus" in tf.nn.__all__ and "softsign" in tf.nn.__all__


def test_keyword_arguments_use_tf_names():
    x = tf.constant([1.0, -2.0])
    assert_close(tf.nn.softplus(features=x), np.logaddexp(0, [1.0, -2.0]).astype(np.float32), dtype=np.float32)
    assert_close(tf.nn.softsign(features=x, name="s"), [0.5, -2.0 / 3.0], dtype=np.float32)
    assert_close(tf.math.floormod(x=x, y=1.5), [1.0, 1.0], dtype=np.float32)
    assert_close(tf.math.sin(x=x, name="n"), np.sin([1.0, -2.0]).astype(np.float32), dtype=np.float32)
    assert tf.math.logical_and(x=True, y=False).numpy() == np.False_


def test_variables_and_devices():
    v = tf.Variable([0.5, -0.5])
    assert_close(tf.math.atan2(v, 1.0), np.arctan2([0.5, -0.5], 1.0).astype(np.float32), dtype=np.float32)
    with tf.device("/CPU:0"):
        assert_close(tf.math.erf(v), _erf(np.float32([0.5, -0.5]).astype(np.float64)), dtype=np.float32)


# ---- Python operators on tensors: // % & | ^ ~ (TF: floordiv, floormod, logical_and/or/xor/not) ---------------
def test_operators_floordiv_mod_logical():
    a = tf.constant([7, -7, 6])
    np.testing.assert_array_equal((a // 2).numpy(), [3, -4, 3])
    np.testing.assert_array_equal((a % 3).numpy(), [1, 2, 0])
    np.testing.assert_array_equal((-7 // tf.constant(2)).numpy(), -4)
    x = tf.constant([7.5, -7.5])
    np.testing.assert_array_equal((x // 2.0).numpy(), [3.0, -4.0])
    np.testing.assert_array_equal((x % 2.0).numpy(), [1.5, 0.5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero"):
        a // 0
    p, q = tf.constant([True, True, False]), tf.constant([True, False, False])
    np.testing.assert_array_equal((p & q).numpy(), [True, False, False])
    np.testing.assert_array_equal((p | q).numpy(), [True, True, False])
    np.testing.assert_array_equal((p ^ q).numpy(), [False, True, False])
    np.testing.assert_array_equal((~p).numpy(), [False, False, True])
    with pytest.raises(TypeError, match="logical_and"):
        tf.constant([1, 2]) & tf.constant([1, 0])
    v = tf.Variable([4.0, 9.0])
    with tf.GradientTape() as tape:
        r = tf.reduce_sum(v % 2.5)
    np.testing.assert_array_equal(tape.gradient(r, v).numpy(), [1.0, 1.0])
