"""NumPy references for every pyfast_tape op: the independent answer the tests compare against.

Floating inputs are computed in float64 whatever their dtype; integer inputs stay integer (int64), so
integer semantics (truncating division in means, integer powers) are exact; bools stay bool. Nothing
here imports pyfast_tape. Each op's forward is named like the op (``reference.softmax``); the backward
references go in the second section, in the same order (STYLE.md item 1).
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    # elementwise: unary
    "negative", "abs", "square", "sqrt", "exp", "log", "log1p", "tanh", "sigmoid", "sign", "reciprocal", "rsqrt", "relu",
    # elementwise: binary, comparisons, where
    "add", "subtract", "multiply", "divide", "pow", "maximum", "minimum",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "where",
    # softmax family
    "softmax", "log_softmax",
    # reduce
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "argmax", "argmin",
    # linalg
    "matmul",
    # shape and creation
    "transpose", "reshape", "cast", "one_hot", "identity", "broadcast_to",
    "zeros", "ones", "zeros_like", "ones_like", "fill", "range",
    # helpers
    "broadcast_shape", "as_ref",
]


def as_ref(x) -> np.ndarray:
    """The value as a NumPy array for reference math: floats as float64, integers as int64, bools as bool."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "b":
        return a.astype(np.bool_)
    raise TypeError(f"reference: unsupported dtype {a.dtype}")


def broadcast_shape(*shapes):
    """NumPy's broadcast result shape, or ValueError when the shapes are incompatible."""
    return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))


def _norm_axes(axis, ndim):
    if axis is None:
        return tuple(builtins.range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} out of range for rank {ndim}")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError("repeated axis")
    return tuple(sorted(out))


# =====================================================================================================
# Forward
# =====================================================================================================

# ---- elementwise: unary --------------------------------------------------------------------------------
def negative(x):
    return -as_ref(x)


def abs(x):  # noqa: A001  (TF's name)
    return np.abs(as_ref(x))


def square(x):
    x = as_ref(x)
    return x * x


def sqrt(x):
    return np.sqrt(as_ref(x))


def exp(x):
    return np.exp(as_ref(x))


def log(x):
    return np.log(as_ref(x))


def log1p(x):
    return np.log1p(as_ref(x))


def tanh(x):
    return np.tanh(as_ref(x))


def sigmoid(x):
    # Stable in both tails: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0.
    x = as_ref(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sign(x):
    return np.sign(as_ref(x))


def reciprocal(x):
    return 1.0 / as_ref(x)


def rsqrt(x):
    return 1.0 / np.sqrt(as_ref(x))


def relu(x):  # NaN propagates, as in TF (max(x, 0) with NaN in, NaN out)
    x = as_ref(x)
    return np.where(x < 0, np.zeros_like(x), x)


# ---- elementwise: binary -------------------------------------------------------------------------------
def add(x, y):
    return as_ref(x) + as_ref(y)


def subtract(x, y):
    return as_ref(x) - as_ref(y)


def multiply(x, y):
    return as_ref(x) * as_ref(y)


def divide(x, y):
    # TF's truediv: integers are divided as float64.
    return as_ref(x).astype(np.float64) / as_ref(y).astype(np.float64)


def pow(x, y):  # noqa: A001  (TF's name)
    x, y = as_ref(x), as_ref(y)
    if x.dtype.kind == "i" and y.dtype.kind == "i":
        if np.any(y < 0):
            raise ValueError("integers to negative integer powers are not allowed")
        return np.power(x, y)
    return np.power(x.astype(np.float64), y.astype(np.float64))


def maximum(x, y):
    return np.maximum(as_ref(x), as_ref(y))


def minimum(x, y):
    return np.minimum(as_ref(x), as_ref(y))


# ---- comparisons (bool results) and where ------------------------------------------------------------
def less(x, y):
    return np.less(as_ref(x), as_ref(y))


def less_equal(x, y):
    return np.less_equal(as_ref(x), as_ref(y))


def greater(x, y):
    return np.greater(as_ref(x), as_ref(y))


def greater_equal(x, y):
    return np.greater_equal(as_ref(x), as_ref(y))


def equal(x, y):
    return np.equal(as_ref(x), as_ref(y))


def not_equal(x, y):
    return np.not_equal(as_ref(x), as_ref(y))


def where(condition, x, y):
    return np.where(np.asarray(condition, dtype=bool), as_ref(x), as_ref(y))


# ---- softmax family ------------------------------------------------------------------------------------
def softmax(x, axis=-1):
    x = as_ref(x).astype(np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = as_ref(x).astype(np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


# ---- reduce --------------------------------------------------------------------------------------------
def _reduce(fn, x, axis, keepdims, **kw):
    x = as_ref(x)
    axes = _norm_axes(axis, x.ndim)
    return np.asarray(fn(x, axis=axes, keepdims=keepdims, **kw))


def reduce_sum(x, axis=None, keepdims=False):
    return _reduce(np.sum, x, axis, keepdims)


def reduce_mean(x, axis=None, keepdims=False):
    x = as_ref(x)
    axes = _norm_axes(axis, x.ndim)
    s = np.sum(x, axis=axes, keepdims=keepdims)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if x.dtype.kind == "i":
        # TF divides integer sums by the count with C++ integer division (truncation toward zero).
        if n == 0:
            return np.asarray(s)
        return np.asarray(np.sign(s) * (np.abs(s) // n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(s / np.float64(n))  # an empty reduction is 0/0 = nan, as in TF


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def reduce_max(x, axis=None, keepdims=False):
    # An empty reduction gives the identity of max: -inf, or the lowest value of the integer dtype (TF).
    init = _lowest(np.asarray(x).dtype)
    return _reduce(np.max, x, axis, keepdims, initial=init)


def reduce_min(x, axis=None, keepdims=False):
    init = _highest(np.asarray(x).dtype)
    return _reduce(np.min, x, axis, keepdims, initial=init)


def argmax(x, axis=0):
    # The first index of the maximum along `axis` (TF's choice on ties).
    return np.argmax(as_ref(x), axis=axis).astype(np.int64)


def argmin(x, axis=0):
    return np.argmin(as_ref(x), axis=axis).astype(np.int64)


# ---- linalg --------------------------------------------------------------------------------------------
def matmul(a, b, transpose_a=False, transpose_b=False):
    a, b = as_ref(a), as_ref(b)
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    if a.dtype.kind == "f":
        # Plain float64 products and sums, not BLAS, so the reference shares no code with the library.
        return np.einsum("...ik,...kj->...ij", a, b, optimize=False)
    return np.matmul(a, b)


# ---- shape and creation --------------------------------------------------------------------------------
def transpose(x, perm=None):
    x = as_ref(x)
    if perm is None:
        perm = tuple(builtins.range(x.ndim))[::-1]
    return np.transpose(x, perm)


def reshape(x, shape):
    return np.reshape(as_ref(x), tuple(shape))


_NP_DTYPES = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64, "bool": np.bool_}


def cast(x, dtype):
    """TF's cast: float -> int truncates toward zero, anything -> bool is `x != 0`, bool -> number is 0/1.
    `dtype` is a name ('float32', ...) or a NumPy dtype; the result has that dtype."""
    dt = np.dtype(_NP_DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    x = np.asarray(x)
    if dt.kind == "b":
        return x != 0
    if dt.kind == "i" and x.dtype.kind == "f":
        return np.trunc(x).astype(dt)
    return x.astype(dt)


def one_hot(indices, depth, on_value=1.0, off_value=0.0, axis=-1):
    """Indices outside [0, depth) give an all-`off_value` row (TF's rule)."""
    idx = np.asarray(indices).astype(np.int64)
    hot = idx[..., None] == np.arange(depth, dtype=np.int64)
    out = np.where(hot, on_value, off_value)
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


def identity(x):
    return as_ref(x).copy()


def broadcast_to(x, shape):
    return np.broadcast_to(as_ref(x), tuple(shape)).copy()


def zeros(shape):
    return np.zeros(tuple(shape), dtype=np.float64)


def ones(shape):
    return np.ones(tuple(shape), dtype=np.float64)


def zeros_like(x):
    return np.zeros_like(as_ref(x))


def ones_like(x):
    return np.ones_like(as_ref(x))


def fill(dims, value):
    return np.full(tuple(dims), value)


def range(start, limit=None, delta=1):  # noqa: A001  (TF's name)
    """Like Python's range, for floats too: ceil((limit - start) / delta) elements."""
    if limit is None:
        start, limit = 0, start
    n = builtins.max(0, int(np.ceil((limit - start) / delta)))
    return start + delta * np.arange(n, dtype=np.float64)


# =====================================================================================================
# Backward (vector-Jacobian products), in the same order as the forward section above.
# =====================================================================================================
