"""No input crashes the process: checked size arithmetic, empty extents, integer arithmetic without UB.

Each call here killed the process (or returned a tensor over unowned memory) before sizes were
checked: a shape's element count, byte count, strides and allocation size are products that must not
wrap. Overflow is an InvalidArgumentError naming the op and the shape; a representable size too large to
allocate is a ResourceExhaustedError. Under the CI's sanitizer build (UBSan: signed-integer-overflow,
float-cast-overflow) any wrapped product or undefined cast in these paths aborts the run.
"""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

import pyfast_tape as tf

I64_MAX = 2**63 - 1
BIG = 2**62

# (call, op named in the message, a part of the message). Element-count or byte-count overflow.
OVERFLOW = [
    (lambda: tf.zeros([BIG]), "fill", "2**63 bytes"),
    (lambda: tf.ones([BIG]), "fill", "2**63 bytes"),
    (lambda: tf.zeros([BIG], tf.int64), "fill", "2**63 bytes"),
    (lambda: tf.ones([2**61], tf.float64), "fill", "2**63 bytes"),
    (lambda: tf.fill([BIG], 7.0), "broadcast_to", "2**63 bytes"),
    (lambda: tf.range(BIG, dtype=tf.int64), "range", "2**63 bytes"),
    (lambda: tf.range(1e30), "range", "more than 2**63 - 1"),
    (lambda: tf.range(0.0, 1.0, 1e-300), "range", "more than 2**63 - 1"),
    (lambda: tf.one_hot([0], BIG), "one_hot", "2**63 bytes"),
    (lambda: tf.one_hot([[0] * 3] * 2, 2**61), "one_hot", "more than 2**63 - 1"),
    (lambda: tf.random.normal([BIG]), "random.normal", "2**63 bytes"),
    (lambda: tf.random.uniform([BIG]), "random.uniform", "2**63 bytes"),
    (lambda: tf.broadcast_to(1.0, [BIG]), "broadcast_to", "2**63 bytes"),
    (lambda: tf.broadcast_to(1.0, [I64_MAX]), "broadcast_to", "2**63 bytes"),
    (lambda: tf.reduce_min(tf.broadcast_to(1.0, [I64_MAX])), "broadcast_to", "2**63 bytes"),
    (lambda: tf.reduce_sum(tf.zeros([BIG, 4]), axis=1), "fill", "more than 2**63 - 1"),
    (lambda: tf.zeros([2**32, 2**32]), "fill", "more than 2**63 - 1"),
    (lambda: tf.zeros([2**32, 2**32, 0]), "fill", "more than 2**63 - 1"),
    (lambda: tf.zeros([0, 2**32, 2**32]), "fill", "more than 2**63 - 1"),
    (lambda: tf.reshape(tf.zeros([0]), [2**32, 2**32]), "reshape", "overflows int64"),
    (lambda: tf.reshape(tf.zeros([0]), [2**32, 0, 2**32]), "reshape", "more than 2**63 - 1"),
    (lambda: tf.reshape(tf.zeros([0]), [-1, 2**32, 2**32]), "reshape", "overflows int64"),
    (lambda: tf.matmul(tf.zeros([2**32, 0]), tf.zeros([0, 2**32])), "matmul", "more than 2**63 - 1"),
    # Empty operands (no memory) whose broadcast output's non-zero dimensions overflow.
    (lambda: tf.zeros([2**33, 0, 1]) + tf.zeros([1, 0, 2**32]), "add", "more than 2**63 - 1"),
    (lambda: tf.where(tf.zeros([2**33, 0, 1], tf.bool), tf.zeros([1, 0, 2**32]), 0.0), "where", "more than 2**63 - 1"),
]


@pytest.mark.parametrize("call,op,text", OVERFLOW, ids=[f"{i}-{c[1]}" for i, c in enumerate(OVERFLOW)])
def test_size_overflow_is_invalid_argument(call, op, text):
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(op + ":"), msg
    assert text in msg, msg


# A dimension beyond int64 (2**63 and up, or below -2**63) names the op; no pybind11 cast text.
@pytest.mark.parametrize("call,op", [
    (lambda: tf.zeros([2**63]), "fill"),
    (lambda: tf.ones([2**64, 1]), "fill"),
    (lambda: tf.random.normal([2**63]), "random.normal"),
    (lambda: tf.broadcast_to(1.0, [2**63]), "broadcast_to"),
    (lambda: tf.reshape(tf.zeros([4]), [2**63]), "reshape"),
    (lambda: tf.reduce_sum(tf.zeros([2]), axis=2**63), "reduce_sum"),
])
def test_dimension_beyond_int64(call, op):
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        call()
    msg = str(e.value)
    assert msg.startswith(op + ":") and "int64" in msg and "range" in msg, msg
    assert "Unable to cast" not in msg


def test_representable_but_too_large_is_resource_exhausted():
    # 2**45 float32 elements = 128 TiB: a valid size, beyond any machine's address space.
    with pytest.raises(tf.errors.ResourceExhaustedError):
        tf.zeros([2**45])
    # The process is still usable.
    assert float(tf.reduce_sum(tf.ones([3]))) == 3.0


# ---- empty extents: return at once, whatever the other dimensions are --------------------------------
EMPTY = [
    # (call, expected shape, expected values or None)
    (lambda: tf.reduce_min(tf.zeros([2**40, 0, 0]), axis=0), (0, 0), None),
    (lambda: tf.reduce_sum(tf.zeros([2**40, 0]), axis=0), (0,), None),
    (lambda: tf.reduce_max(tf.zeros([0, 2**40])), (), -np.inf),
    (lambda: tf.reduce_sum(tf.zeros([3, 0]), axis=1), (3,), np.zeros(3)),
    (lambda: tf.reduce_min(tf.zeros([2, 0], tf.int32), axis=1), (2,), np.full(2, 2**31 - 1)),
    (lambda: tf.reduce_max(tf.zeros([2, 0], tf.int64), axis=1), (2,), np.full(2, -2**63)),
    (lambda: tf.reduce_mean(tf.zeros([2**45, 0]), axis=1), (2**45,), "skip"),  # allocation: see below
    (lambda: tf.argmax(tf.zeros([0, 3]), axis=1), (0,), None),
    (lambda: tf.argmax(tf.zeros([2**40, 0, 3]), axis=2), (2**40, 0), None),
    (lambda: tf.nn.softmax(tf.zeros([2**40, 0])), (2**40, 0), None),
    (lambda: tf.nn.log_softmax(tf.zeros([0, 2**40]), axis=0), (0, 2**40), None),
    (lambda: tf.one_hot(tf.zeros([0], tf.int32), 2**40), (0, 2**40), None),
    (lambda: tf.one_hot(tf.zeros([2**40, 0], tf.int32), 3), (2**40, 0, 3), None),
    (lambda: tf.transpose(tf.zeros([2**40, 0, 7])), (7, 0, 2**40), None),
    (lambda: tf.matmul(tf.zeros([2**40, 3, 0]), tf.zeros([2**40, 0, 0])), (2**40, 3, 0), None),
    (lambda: tf.zeros([2**40, 0]) * 2.0, (2**40, 0), None),
    (lambda: tf.exp(tf.zeros([0, 2**40])), (0, 2**40), None),
    (lambda: tf.cast(tf.zeros([2**40, 0]), tf.int32), (2**40, 0), None),
    (lambda: tf.zeros([2**40, 0, 0])[5:, :, :], (2**40 - 5, 0, 0), None),
]


@pytest.mark.parametrize("call,shape,values", EMPTY, ids=[str(i) for i in range(len(EMPTY))])
def test_empty_extents(call, shape, values):
    if isinstance(values, str):  # the output has 2**45 elements (128 TiB): its allocation fails cleanly
        with pytest.raises(tf.errors.ResourceExhaustedError):
            call()
        return
    r = call()
    assert tuple(r.shape) == shape
    if values is not None:
        np.testing.assert_array_equal(r.numpy(), values)


# ---- integer arithmetic wraps as TF's (two's complement), with no undefined behaviour --------------------
I32_MIN, I32_MAX = -2**31, 2**31 - 1
I64_MIN = -2**63


def _wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >= 1 << (bits - 1) else v


@pytest.mark.parametrize("dt,bits", [(tf.int32, 32), (tf.int64, 64)])
def test_integer_wraparound(dt, bits):
    lo, hi = -2**(bits - 1), 2**(bits - 1) - 1
    a_vals = [hi, lo, hi, lo, 3, -7, hi // 2 + 1]
    b_vals = [1, -1, hi, lo, hi, lo, 2]
    a, b = tf.constant(a_vals, dt), tf.constant(b_vals, dt)
    exp_add = [_wrap(x + y, bits) for x, y in zip(a_vals, b_vals)]
    exp_sub = [_wrap(x - y, bits) for x, y in zip(a_vals, b_vals)]
    exp_mul = [_wrap(x * y, bits) for x, y in zip(a_vals, b_vals)]
    np.testing.assert_array_equal((a + b).numpy(), exp_add)
    np.testing.assert_array_equal((a - b).numpy(), exp_sub)
    np.testing.assert_array_equal((a * b).numpy(), exp_mul)
    np.testing.assert_array_equal(tf.negative(a).numpy(), [_wrap(-x, bits) for x in a_vals])
    np.testing.assert_array_equal(tf.abs(a).numpy(), [_wrap(abs(x), bits) for x in a_vals])
    np.testing.assert_array_equal(tf.square(a).numpy(), [_wrap(x * x, bits) for x in a_vals])
    np.testing.assert_array_equal(tf.pow(a, tf.constant([3] * 7, dt)).numpy(), [_wrap(x ** 3, bits) for x in a_vals])
    # Reductions wrap too (short and long runs, rows and columns).
    assert int(tf.reduce_sum(a)) == _wrap(sum(a_vals), bits)
    long = [hi] * 1000 + [lo + 5] * 333
    assert int(tf.reduce_sum(tf.constant(long, dt))) == _wrap(sum(long), bits)
    cols = np.array([[hi, lo], [hi, lo], [7, 9]] * 20, dtype=np.int64)
    np.testing.assert_array_equal(tf.reduce_sum(tf.constant(cols.tolist(), dt), axis=0).numpy(),
                                  [_wrap(int(s), bits) for s in cols.sum(axis=0, dtype=object)])
    # Integer matmul accumulates with the same wraparound.
    m = tf.constant([[hi, hi], [lo, 1]], dt)
    mm = [[_wrap(hi * hi + hi * lo, bits), _wrap(hi * hi + hi * 1, bits)],
          [_wrap(lo * hi + 1 * lo, bits), _wrap(lo * hi + 1 * 1, bits)]]
    np.testing.assert_array_equal(tf.matmul(m, m).numpy(), mm)


# Float -> integer casts as TF's x86 CPU kernels give them: truncation toward zero, and the integer
# minimum for NaN and anything outside the range (TF 2.x on the CPU: tf.cast(nan, tf.int32) == -2**31).
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_float_to_int_cast_out_of_range(src):
    vals = np.array([np.nan, np.inf, -np.inf, 1e10, -1e10, 3.7, -3.7, 0.0, -0.0, 2.0**31, -2.0**31,
                     2.0**63, -2.0**63, 1e30], dtype=src)
    x = tf.constant(vals)
    r32 = tf.cast(x, tf.int32).numpy()
    r64 = tf.cast(x, tf.int64).numpy()

    def expect(v, bits):
        lo, hi = -2**(bits - 1), 2**(bits - 1) - 1
        if np.isnan(v) or np.isinf(v):
            return lo
        t = int(np.trunc(v))
        return t if lo <= t <= hi else lo

    np.testing.assert_array_equal(r32, [expect(v, 32) for v in vals])
    np.testing.assert_array_equal(r64, [expect(v, 64) for v in vals])
    # Values just inside the range convert exactly.
    assert int(tf.cast(tf.constant(2147483647.0, tf.float64), tf.int32)) == 2**31 - 1
    assert int(tf.cast(tf.constant(-2147483648.9, tf.float64), tf.int32)) == -2**31


def test_int_fill_values_out_of_range_are_defined():
    # one_hot's on/off values and fills are converted by the same defined rule.
    r = tf.one_hot([1], 3, on_value=5, off_value=-2)
    np.testing.assert_array_equal(r.numpy(), [[-2, 5, -2]])
    assert r.dtype == tf.int32


# ---- strided views: huge steps and offsets ------------------------------------------------------------
def test_slice_with_huge_step():
    x = tf.constant(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(x[::2**62].numpy(), x.numpy()[::2**62])
    np.testing.assert_array_equal(x[1:2, ::2**62].numpy(), x.numpy()[1:2, ::2**62])
    np.testing.assert_array_equal(x[::-2**62].numpy(), x.numpy()[::-2**62])
    with pytest.raises((IndexError, tf.errors.InvalidArgumentError)):
        x[2**63 - 1]


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int), ("dtype", _DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


def _legacy_capsule(shape, ndim=None, keep=[]):
    """A hostile producer's legacy "dltensor" capsule over 16 bytes, claiming `shape` (no deleter)."""
    buf = (ctypes.c_float * 4)()
    dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
    mt = _DLManagedTensor()
    mt.dl_tensor.data = ctypes.addressof(buf)
    mt.dl_tensor.device = _DLDevice(1, 0)
    mt.dl_tensor.ndim = len(shape) if ndim is None else ndim
    mt.dl_tensor.dtype = _DLDataType(2, 32, 1)
    mt.dl_tensor.shape = dims
    keep.append((buf, dims, mt))  # the memory outlives the capsule (the test process)
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(ctypes.addressof(mt), b"dltensor", None)


@pytest.mark.parametrize("shape,ndim,text", [
    ([2**32, 2**32], None, "more than 2**63 - 1"),
    ([BIG], None, "2**63 bytes"),
    ([4, -1], None, "negative dimension"),
    ([4], -3, "outside [0, 8]"),
    ([1] * 9, None, "outside [0, 8]"),
])
def test_dlpack_import_checks_shape(shape, ndim, text):
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        tf.from_dlpack(_legacy_capsule(shape, ndim))
    assert str(e.value).startswith("from_dlpack:") and text in str(e.value), str(e.value)
    # A well-formed capsule over the same kind of memory is read zero-copy.
    t = tf.from_dlpack(_legacy_capsule([2, 2]))
    assert tuple(t.shape) == (2, 2)


def test_integer_range_bounds():
    # TF converts start/limit/delta to the dtype first; values outside it are an error, not a wrapped cast
    with pytest.raises(tf.errors.InvalidArgumentError, match="range: .* is out of range for dtype int32"):
        tf.range(2**40, 2**40 + 3, dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range for dtype int32"):
        tf.range(0, 5, 2**33, dtype=tf.int32)
    np.testing.assert_array_equal(tf.range(2**40, 2**40 + 3, dtype=tf.int64).numpy(), [2**40, 2**40 + 1, 2**40 + 2])
    np.testing.assert_array_equal(tf.range(-3, 3, 2, dtype=tf.int32).numpy(), [-3, -1, 1])


def test_empty_shapes_whose_extent_overflows_in_bytes():
    # Empty, and its non-zero dimensions fit in int64 elements, but not in bytes: NumPy's strides of a view
    # (products of trailing dimensions times the item size) would overflow. Fuzzer finding (atheris).
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-zero dimensions span more than 2\\*\\*63 bytes"):
        tf.ones([0, 1, 1, 2**62])
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.zeros([0, 2**31 - 1, 2**31])
    t = tf.zeros([0, 2**40, 3])  # fits: a view is fine
    assert t.numpy().shape == (0, 2**40, 3)


def test_one_hot_empty_with_huge_depth_returns_at_once():
    # Fuzzer finding: the kernel looped over depth although the output is empty.
    r = tf.one_hot(tf.constant(np.array([], np.int32)), 2**40, axis=0)
    assert tuple(r.shape) == (2**40, 0)
