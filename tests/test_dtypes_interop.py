"""TF's dtype rules (Python floats -> float32, ints -> int32, NumPy keeps its dtype, scalars take the
tensor's dtype, no promotion between tensors), NumPy interop (zero-copy in and out, lifetimes, views,
__array__, operators with ndarrays), Tensor's Python protocol, and importing in a fresh interpreter."""
from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import pyfast_tape as tf
import reference as ref
from conftest import assert_close

ALL_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
NUMERIC = [np.float32, np.float64, np.int32, np.int64]


def _name(d):
    return np.dtype(d).name


# ---- default dtypes --------------------------------------------------------------------------------

_NP_F64_SCALAR_BUG = ()  # fixed: NumPy scalars keep their dtype

DEFAULT_DTYPES = [
    # (value, expected dtype, id)
    (1.5, np.float32, "py-float"),
    (1, np.int32, "py-int"),
    (True, np.bool_, "py-bool"),
    (2**40, np.int64, "py-int-beyond-int32"),
    ([1.0, 2], np.float32, "list-mixed"),
    ([1, 2], np.int32, "list-int"),
    ([[1, 2], [3, 4]], np.int32, "nested-int"),
    ([1, 2**40], np.int64, "list-int-beyond-int32"),
    ([True, False], np.bool_, "list-bool"),
    ((0.5, 1.5), np.float32, "tuple-float"),
    ([], np.float32, "empty-list"),
    (np.array([1.0, 2.0], np.float32), np.float32, "ndarray-f32"),
    (np.array([1.0, 2.0], np.float64), np.float64, "ndarray-f64"),
    (np.array([1, 2], np.int32), np.int32, "ndarray-i32"),
    (np.array([1, 2], np.int64), np.int64, "ndarray-i64"),
    (np.array([True]), np.bool_, "ndarray-bool"),
    (np.array(2.5), np.float64, "ndarray-0d-f64"),
    (np.float32(2.5), np.float32, "np.float32"),
    (np.float64(2.5), np.float64, "np.float64"),
    (np.int32(3), np.int32, "np.int32"),
    (np.int64(3), np.int64, "np.int64"),
    (np.bool_(True), np.bool_, "np.bool_"),
]


@pytest.mark.parametrize("value,dtype", [pytest.param(v, d, id=name, marks=_NP_F64_SCALAR_BUG if name == "np.float64"
                                                      else ()) for v, d, name in DEFAULT_DTYPES])
def test_constant_default_dtype(value, dtype):
    t = tf.constant(value)
    assert t.dtype == getattr(tf, _name(dtype))
    assert_close(t, np.asarray(value).astype(dtype), dtype=dtype)


@pytest.mark.parametrize("value,dtype", [(1, tf.float32), (1, tf.float64), ([1, 2], tf.float64), (2, tf.int64),
                                         (1.5, tf.float64), (np.array([1.0, 2.0]), tf.float32),
                                         (np.array([1, 2]), tf.float64), (np.array([1, 2], np.int32), tf.int64),
                                         (True, tf.bool), ([0.5], "float64"), ([3], np.int64)],
                         ids=lambda v: str(v).replace(" ", ""))
def test_constant_explicit_dtype(value, dtype):
    t = tf.constant(value, dtype=dtype)
    want = np.dtype(tf.as_dtype(dtype).as_numpy_dtype)
    assert_close(t, np.asarray(value).astype(want), dtype=want)


@pytest.mark.parametrize("value,dtype", [(1.5, tf.int32), ([1.5, 2], tf.int64), (np.array([1.5]), tf.int32),
                                         (1, tf.bool), (1.0, tf.bool)],
                         ids=lambda v: str(v).replace(" ", ""))
def test_constant_lossy_explicit_dtype_raises_type_error(value, dtype):
    with pytest.raises(TypeError):
        tf.constant(value, dtype=dtype)


def test_constant_shape_argument():
    assert_close(tf.constant([1, 2, 3, 4], shape=[2, 2]), np.array([[1, 2], [3, 4]]), dtype=np.int32)
    assert_close(tf.constant(0.5, shape=(2, 3)), np.full((2, 3), 0.5), dtype=np.float32)


@pytest.mark.parametrize("dtype", NUMERIC, ids=_name)
def test_python_scalar_takes_the_tensor_dtype(dtype, rng):
    x = np.asarray(rng.integers(1, 5, size=(3,)), dtype=dtype)
    t = tf.constant(x)
    for got in (t + 2, 2 + t, t * 3, t - 1, tf.maximum(t, 2), tf.add(t, 1), tf.add(1, t)):
        assert got.dtype == t.dtype
    if np.dtype(dtype).kind == "f":
        for got in (t + 0.5, 0.5 * t, tf.multiply(0.5, t)):
            assert got.dtype == t.dtype


def test_float64_tensor_keeps_python_float_precision():
    # 0.1 is converted straight to float64, not through float32.
    t = tf.constant(np.array([1.0]))
    assert (t + 0.1).numpy()[0] == 1.0 + 0.1
    assert (t * 0.1).numpy()[0] == 0.1
    assert tf.constant(0.1, dtype=tf.float64).numpy() == 0.1


def test_two_python_scalars_take_the_first_ones_dtype():
    # TF's args_to_matching_eager: the first value fixes the dtype, the second is converted to it.
    assert tf.add(1.5, 2).dtype == tf.float32
    assert tf.add(2, 3).dtype == tf.int32
    with pytest.raises(TypeError):
        tf.add(2, 1.5)


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=_name)
def test_float_scalar_on_integer_tensor_raises(dtype):
    t = tf.constant(np.array([1, 2], dtype=dtype))
    with pytest.raises(TypeError, match=r"\badd\b"):
        t + 1.5  # noqa: B018
    with pytest.raises(TypeError, match=r"\bmultiply\b"):
        tf.multiply(0.5, t)


def test_int_scalar_out_of_range_for_int32_tensor_raises():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\badd\b"):
        tf.constant([1, 2]) + 2**40


PAIRS = [(a, b) for a in ALL_DTYPES for b in ALL_DTYPES if a != b]


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{_name(p[0])}-{_name(p[1])}")
def test_tensors_of_different_dtypes_never_promote(pair):
    a = tf.constant(np.ones((2,), dtype=pair[0]))
    b = tf.constant(np.ones((2,), dtype=pair[1]))
    for op in ("add", "multiply", "maximum", "equal", "less"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=rf"\b{op}\b"):
            getattr(tf, op)(a, b)


@pytest.mark.parametrize("dtype", [np.int32, np.int64], ids=_name)
def test_integer_division_is_float64(dtype):
    x, y = np.array([7, -7, 1], dtype=dtype), np.array([2, 2, 3], dtype=dtype)
    assert_close(tf.constant(x) / tf.constant(y), ref.divide(x, y), dtype=np.float64)
    assert_close(tf.divide(tf.constant(x), 2), ref.divide(x, np.int64(2)), dtype=np.float64)


@pytest.mark.parametrize("dtype", NUMERIC, ids=_name)
def test_comparisons_return_bool(dtype):
    t = tf.constant(np.array([1, 2, 3], dtype=dtype))
    for got in (t < 2, t <= 2, t > 2, t >= 2, t == 2, t != 2, tf.equal(t, t), tf.less(t, t)):
        assert got.dtype == tf.bool and got.numpy().dtype == np.bool_


def test_argmax_one_hot_range_default_dtypes():
    assert tf.argmax(tf.constant([1.0, 3.0])).dtype == tf.int64
    assert tf.one_hot([0, 1], 2).dtype == tf.float32
    assert tf.range(3).dtype == tf.int32 and tf.range(3.0).dtype == tf.float32
    assert tf.zeros([1]).dtype == tf.float32 and tf.ones([1]).dtype == tf.float32


def test_dtype_objects():
    assert tf.float32 == np.float32 and tf.float64 == "float64" and tf.int32 == np.dtype("int32")
    assert tf.as_dtype("float64") is tf.float64 and tf.as_dtype(np.int64) is tf.int64 and tf.as_dtype(bool) is tf.bool
    assert tf.float32.as_numpy_dtype is np.float32 and tf.double is tf.float64
    assert tf.float32.is_floating and tf.int64.is_integer and not tf.bool.is_floating
    assert tf.constant(1.0).dtype.as_numpy_dtype is np.float32


# ---- NumPy in and out ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=_name)
def test_constant_from_c_contiguous_array_is_zero_copy(dtype, rng):
    arr = np.ascontiguousarray(np.asarray(rng.integers(0, 2, size=(4, 5)), dtype=dtype))
    t = tf.constant(arr)
    out = t.numpy()
    assert np.shares_memory(arr, out)
    assert np.shares_memory(arr, np.asarray(t))
    assert_close(t, arr, dtype=dtype)


def test_float32_round_trip_is_zero_copy():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.shares_memory(arr, tf.constant(arr).numpy())


def test_numpy_result_outlives_the_tensor(rng):
    x = rng.standard_normal((64, 64)).astype(np.float32)
    t = tf.constant(x) * 2.0  # memory owned by the library, not by NumPy
    out = t.numpy()
    del t
    gc.collect()
    junk = [tf.ones([64, 64]) * 7.0 for _ in range(20)]  # reuse freed memory if it was freed
    assert_close(out, ref.multiply(x, np.float32(2.0)), dtype=np.float32)
    del junk


def test_numpy_result_of_a_zero_copy_tensor_outlives_both(rng):
    arr = rng.standard_normal((8, 8)).astype(np.float32)
    want = arr.copy()
    t = tf.constant(arr)
    out = t.numpy()
    del t, arr
    gc.collect()
    _ = [np.full((8, 8), 9.0, np.float32) for _ in range(20)]
    np.testing.assert_array_equal(out, want)


def test_tensor_outlives_its_source_array(rng):
    arr = rng.standard_normal((16,)).astype(np.float32)
    want = arr.copy()
    t = tf.constant(arr)
    del arr
    gc.collect()
    _ = [np.full((16,), 9.0, np.float32) for _ in range(20)]
    assert_close(t + 0.0, want, dtype=np.float32)


@pytest.mark.parametrize("layout", ["transposed", "strided", "fortran", "negative-stride", "unaligned"])
def test_non_contiguous_arrays_convert_by_value(layout, rng):
    base = rng.standard_normal((6, 8))
    arr = {
        "transposed": base.T,
        "strided": base[:, ::2],
        "fortran": np.asfortranarray(base),
        "negative-stride": base[::-1, ::-3],
        "unaligned": np.frombuffer(b"\0" + base.astype(np.float64).tobytes(), dtype=np.float64, offset=1)[:48]
        .reshape(6, 8),
    }[layout]
    assert_close(tf.constant(arr), np.array(arr), dtype=np.float64)
    assert_close(tf.reduce_sum(tf.constant(arr), axis=0), ref.reduce_sum(np.array(arr), axis=0), dtype=np.float64)


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i4", ">i8"])
def test_non_native_byte_order_converts_by_value(dtype):
    arr = np.array([1.0, 2.0, -3.0], dtype=dtype)
    assert_close(tf.constant(arr), arr.astype(np.dtype(dtype).newbyteorder("=")))


@pytest.mark.parametrize("dtype,values,want", [
    (np.float16, [1.5, -2.25], np.float32),
    (np.int8, [-128, 127], np.int32),
    (np.int16, [-300, 300], np.int32),
    (np.uint8, [0, 255], np.int32),
    (np.uint16, [0, 65535], np.int32),
    (np.uint32, [0, 2**32 - 1], np.int64),
], ids=lambda v: str(v).replace(" ", "")[:20])
def test_small_numpy_dtypes_widen_by_value(dtype, values, want):
    # TF has these dtypes natively; pyfast_tape widens them to a supported dtype, values intact.
    t = tf.constant(np.array(values, dtype=dtype))
    assert_close(t, np.array(values).astype(want), dtype=want)


def test_uint64_out_of_int64_range_raises():
    with pytest.raises((TypeError, ValueError)):
        tf.constant(np.array([2**64 - 1], dtype=np.uint64))


def test_numpy_scalar_for_rank_0(rng):
    for dtype in ALL_DTYPES:
        v = tf.constant(np.asarray(1, dtype=dtype)).numpy()
        assert isinstance(v, np.generic) and v.dtype == dtype


def test_array_protocol_dtype_and_copy(rng):
    x = rng.standard_normal((3, 2)).astype(np.float32)
    t = tf.constant(x)
    assert_close(np.asarray(t, dtype=np.float64), x.astype(np.float64), dtype=np.float64)
    c = np.array(t, copy=True)
    assert not np.shares_memory(c, t.numpy())
    c[0, 0] = 123.0  # a copy is writable and independent
    assert t.numpy()[0, 0] == x[0, 0]


def test_numpy_ufuncs_and_ndarray_operators(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    t = tf.constant(x)
    e = np.exp(t)
    assert isinstance(e, np.ndarray)
    assert_close(e, ref.exp(x), dtype=np.float32, rtol=2e-6)
    y = rng.standard_normal((3,)).astype(np.float32)
    for got, want in ((y + t, ref.add(y, x)), (t + y, ref.add(x, y)), (y * t, ref.multiply(y, x)),
                      (y - t, ref.subtract(y, x)), (y / t, ref.divide(y, x)), (y < t, ref.less(y, x))):
        assert isinstance(got, tf.Tensor), type(got)
        assert_close(got, want, dtype=want.dtype if want.dtype == np.bool_ else np.float32)


def test_python_lists_as_op_inputs():
    assert_close(tf.add([1.0, 2.0], [3.0, 4.0]), np.array([4.0, 6.0]), dtype=np.float32)
    assert_close(tf.multiply([[1, 2]], [3]), np.array([[3, 6]]), dtype=np.int32)
    assert_close(tf.exp([0.0, 1.0]), ref.exp([0.0, 1.0]), dtype=np.float32)
    assert_close(tf.reduce_sum([[1, 2], [3, 4]], axis=1), np.array([3, 7]), dtype=np.int32)


# ---- the Tensor's Python protocol ------------------------------------------------------------------


def test_tensor_attributes(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float64)
    t = tf.constant(x)
    assert t.shape == (2, 3, 4) and t.shape == [2, 3, 4] and isinstance(t.shape, tuple)
    assert t.shape.as_list() == [2, 3, 4] and t.shape.rank == 3
    assert t.dtype == tf.float64 and t.ndim == 3 and len(t) == 2
    assert tf.constant(1.0).shape == () and tf.constant(1.0).ndim == 0
    with pytest.raises(TypeError):
        len(tf.constant(1.0))


def test_scalar_conversions():
    assert float(tf.constant(2.5)) == 2.5 and isinstance(float(tf.constant(2.5)), float)
    assert int(tf.constant(7)) == 7 and int(tf.constant(2.7)) == 2 and int(tf.constant(-2.7)) == -2
    assert int(tf.constant(2**40)) == 2**40
    assert bool(tf.constant(True)) and not bool(tf.constant(0.0)) and bool(tf.constant([3]))
    assert float(tf.constant([[1.5]])) == 1.5
    with pytest.raises(TypeError):
        float(tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError):
        bool(tf.constant([1.0, 2.0]))
    assert [10, 20, 30][tf.constant(1)] == 20  # __index__ of an integer scalar


def test_repr_and_str_follow_tf():
    want = "<tf.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>"
    assert repr(tf.constant([1.0, 2.0])) == want
    assert str(tf.constant([1, 2])) == "tf.Tensor([1 2], shape=(2,), dtype=int32)"
    assert str(tf.constant(1.5)) == "tf.Tensor(1.5, shape=(), dtype=float32)"
    assert repr(tf.constant([[1, 2]])).startswith("<tf.Tensor: shape=(1, 2), dtype=int32, numpy=")


def test_repr_of_scalar_follows_tf():
    assert repr(tf.constant(1.5)) == "<tf.Tensor: shape=(), dtype=float32, numpy=1.5>"


def test_tensor_is_unhashable_and_compares_with_none():
    t = tf.constant([1.0])
    with pytest.raises(TypeError):
        hash(t)
    assert (t == None) is False  # noqa: E711  (TF: comparing with None is False, not an error)
    assert (t != None) is True  # noqa: E711


def test_convert_to_tensor_returns_tensors_unchanged():
    t = tf.constant([1.0])
    assert tf.convert_to_tensor(t) is t
    assert tf.convert_to_tensor([1, 2], dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(np.array([1.0])).dtype == tf.float64


# ---- Python float operands (the constant cache) ------------------------------------------------------
def test_python_float_operands_keep_their_value_sign_and_dtype():
    """Python-float operands come from a small constant cache: every value (-0.0 against 0.0,
    NaN, values that collide in the cache) and every dtype must still give its own constant."""
    x32 = tf.constant([1.0, -2.0, 3.5])
    x64 = tf.constant([1.0, -2.0, 3.5], dtype=tf.float64)
    np.testing.assert_array_equal(np.signbit((x32 * -0.0).numpy()), np.signbit(np.float32([1, -2, 3.5]) * -0.0))
    np.testing.assert_array_equal(np.signbit((x32 * 0.0).numpy()), np.signbit(np.float32([1, -2, 3.5]) * 0.0))
    assert np.isnan((x32 + float("nan")).numpy()).all()
    rng = np.random.default_rng(0)
    for v in list(rng.standard_normal(200)) + [1e30, -1e-30, 0.1, 0.1]:
        v = float(v)
        for x, dt in ((x32, np.float32), (x64, np.float64)):
            got = (v * x).numpy()
            assert got.dtype == dt
            np.testing.assert_array_equal(got, dt(v) * x.numpy().astype(dt))
            np.testing.assert_array_equal((x - v).numpy(), x.numpy() - dt(v))


def test_python_float_operands_are_not_shared_with_user_tensors():
    """A watched user tensor holding the same value as a literal operand gets no gradient through it."""
    c = tf.constant(0.5)
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        tape.watch(x)
        y = tf.reduce_sum(0.5 * x * x)  # the literal 0.5 is not `c`
        z = tf.reduce_sum(c * x)
    assert tape.gradient(y, c) is None
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [1.0, 2.0])
    np.testing.assert_allclose(tape.gradient(z, c).numpy(), 3.0)
    v = tf.Variable(0.5)
    v.assign_add(1.0)  # copy-on-write: the cached constants are shared storage
    np.testing.assert_allclose((0.5 * x).numpy(), [0.5, 1.0])
    np.testing.assert_allclose(v.numpy(), 1.5)


# ---- import ----------------------------------------------------------------------------------------


def test_import_in_a_fresh_interpreter(tmp_path):
    # The inherited environment as it is (no extra settings), from a directory without the source tree, so
    # the installed package (not ./pyfast_tape) is what imports.
    code = ("import pyfast_tape as tf, numpy as np\n"
            "t = tf.matmul(tf.constant([[1.0, 2.0]]), tf.constant([[3.0], [4.0]]))\n"
            "assert t.numpy().tolist() == [[11.0]], t\n"
            "assert tf.reduce_sum(tf.ones([1000, 100])).numpy() == 100000.0\n"
            "print('ok', tf.__version__)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
