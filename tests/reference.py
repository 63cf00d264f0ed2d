"""NumPy references for every pyfast_tape op: the independent answer the tests compare against.

One module, float64 NumPy, nothing imported from pyfast_tape. Each op's forward is named like the op
(``reference.softmax``) and its backward sits right below it as ``<op>_grad(inputs..., dy)``: the gradient
of ``sum(op(inputs) * dy)`` with respect to each input, already summed back to that input's shape (NumPy
broadcasting). Families, in order: elementwise unary, binary, comparisons and where, softmax family and
the fused activations, reductions, linalg, shape and creation, the fused ops (dense, cross-entropies,
pointwise losses), Keras losses and optimizers, and last the one finite-difference helper
(:func:`central_difference`) that checks these references and the library against each other.

Forward conventions: floating inputs are computed in float64 whatever their dtype; integer inputs stay
integer (int64), so integer semantics (truncating division in means, integer powers) are exact; bools stay
bool. Backward conventions are TensorFlow's: ``abs'(0) = 0``, ``relu'(0) = 0``, ``maximum`` sends ties to x
(``x >= y``), ``minimum`` likewise (``x <= y``), ``reduce_max``/``reduce_min`` split the gradient evenly
between tied extrema, ``pow``'s exponent gradient is 0 where the base is not positive.

The Keras optimizer references run "in the variable's dtype" (float32 or float64) with Keras's operation
order, so a float32 trajectory can be compared tightly; everything else is float64.
"""
from __future__ import annotations

import builtins
from typing import Callable, List, Optional, Sequence, Tuple, Union

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
    "broadcast_shape", "as_ref", "unbroadcast", "central_difference",
]

Axis = Union[None, int, Sequence[int]]
F64 = np.float64


# =====================================================================================================
# Helpers
# =====================================================================================================
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


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=F64)


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


def unbroadcast(g: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Sums `g` (of a broadcast shape) back to `shape`: leading extra dims, then dims where shape has 1."""
    g = np.asarray(g, dtype=np.float64)
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(builtins.range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _grad_axes(axis: Axis, ndim: int) -> Tuple[int, ...]:
    """A reduction's axes for its backward: sorted, non-negative (the forward has validated them)."""
    if axis is None:
        return tuple(builtins.range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = [int(axis)]
    return tuple(sorted(int(a) % ndim for a in axis)) if ndim else ()


def _keep(dy: np.ndarray, x_shape: Tuple[int, ...], axis: Axis) -> np.ndarray:
    """Reshapes a reduction's upstream gradient to keepdims form, so it broadcasts against x."""
    axes = _grad_axes(axis, len(x_shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(x_shape))
    return np.asarray(dy, dtype=np.float64).reshape(kept)


# =====================================================================================================
# Elementwise: unary (forward, then backward; dy has x's shape)
# =====================================================================================================
def negative(x):
    return -as_ref(x)


def negative_grad(x, dy):
    return -dy


def abs(x):  # noqa: A001  (TF's name)
    return np.abs(as_ref(x))


def abs_grad(x, dy):
    return dy * np.sign(x)  # 0 at x == 0


def square(x):
    x = as_ref(x)
    return x * x


def square_grad(x, dy):
    return dy * 2.0 * x


def sqrt(x):
    return np.sqrt(as_ref(x))


def sqrt_grad(x, dy):
    return dy * 0.5 / np.sqrt(x)


def exp(x):
    return np.exp(as_ref(x))


def exp_grad(x, dy):
    return dy * np.exp(x)


def log(x):
    return np.log(as_ref(x))


def log_grad(x, dy):
    return dy / x


def log1p(x):
    return np.log1p(as_ref(x))


def log1p_grad(x, dy):
    return dy / (1.0 + x)


def tanh(x):
    return np.tanh(as_ref(x))


def tanh_grad(x, dy):
    t = np.tanh(x)
    return dy * (1.0 - t * t)


def sigmoid(x):
    # Stable in both tails: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0.
    x = as_ref(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(x, dy):
    s = sigmoid(x)
    return dy * s * (1.0 - s)


def sign(x):
    return np.sign(as_ref(x))


def sign_grad(x, dy):
    return np.zeros(np.shape(x))  # piecewise constant: zeros, not None (TF)


def reciprocal(x):
    return 1.0 / as_ref(x)


def reciprocal_grad(x, dy):
    return -dy / (x * x)


def rsqrt(x):
    return 1.0 / np.sqrt(as_ref(x))


def rsqrt_grad(x, dy):
    return -0.5 * dy * np.power(x, -1.5)


def relu(x):  # NaN propagates, as in TF (max(x, 0) with NaN in, NaN out)
    x = as_ref(x)
    return np.where(x < 0, np.zeros_like(x), x)


def relu_grad(x, dy):
    return np.where(np.asarray(x) > 0, dy, 0.0)  # 0 at x == 0


def identity(x):
    return as_ref(x).copy()


def identity_grad(x, dy):
    return np.array(dy, dtype=np.float64)


UNARY_GRAD = {
    "negative": negative_grad, "abs": abs_grad, "square": square_grad, "sqrt": sqrt_grad, "exp": exp_grad,
    "log": log_grad, "log1p": log1p_grad, "tanh": tanh_grad, "sigmoid": sigmoid_grad, "reciprocal": reciprocal_grad,
    "rsqrt": rsqrt_grad, "relu": relu_grad, "identity": identity_grad,
}

# second derivatives f''(x), for checking nested tapes
UNARY_SECOND = {
    "square": lambda x: np.full_like(x, 2.0),
    "exp": np.exp,
    "log": lambda x: -1.0 / (x * x),
    "log1p": lambda x: -1.0 / ((1.0 + x) * (1.0 + x)),
    "sqrt": lambda x: -0.25 * np.power(x, -1.5),
    "tanh": lambda x: -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2),
    "sigmoid": lambda x: sigmoid(x) * (1.0 - sigmoid(x)) * (1.0 - 2.0 * sigmoid(x)),
    "reciprocal": lambda x: 2.0 / x ** 3,
    "rsqrt": lambda x: 0.75 * np.power(x, -2.5),
    "negative": lambda x: np.zeros_like(x),
    "abs": lambda x: np.zeros_like(x),
}


# =====================================================================================================
# Elementwise: binary (the gradients summed back to each input's shape)
# =====================================================================================================
def add(x, y):
    return as_ref(x) + as_ref(y)


def add_grad(x, y, dy):
    return unbroadcast(dy, np.shape(x)), unbroadcast(dy, np.shape(y))


def subtract(x, y):
    return as_ref(x) - as_ref(y)


def subtract_grad(x, y, dy):
    return unbroadcast(dy, np.shape(x)), unbroadcast(-np.asarray(dy), np.shape(y))


def multiply(x, y):
    return as_ref(x) * as_ref(y)


def multiply_grad(x, y, dy):
    return unbroadcast(dy * y, np.shape(x)), unbroadcast(dy * x, np.shape(y))


def divide(x, y):
    # TF's truediv: integers are divided as float64.
    return as_ref(x).astype(np.float64) / as_ref(y).astype(np.float64)


def divide_grad(x, y, dy):
    # z = x / y: dz/dx = 1/y, dz/dy = -x / y^2
    return unbroadcast(dy / y, np.shape(x)), unbroadcast(-dy * x / (y * y), np.shape(y))


def pow(x, y):  # noqa: A001  (TF's name)
    x, y = as_ref(x), as_ref(y)
    if x.dtype.kind == "i" and y.dtype.kind == "i":
        if np.any(y < 0):
            raise ValueError("integers to negative integer powers are not allowed")
        return np.power(x, y)
    return np.power(x.astype(np.float64), y.astype(np.float64))


def pow_grad(x, y, dy):
    # z = x^y: dz/dx = y x^(y-1); dz/dy = z log x where x > 0, else 0 (TF's convention)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    z = np.power(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        gx = dy * y * np.power(x, y - 1.0)
        log_x = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
    gy = dy * z * log_x
    return unbroadcast(gx, x.shape), unbroadcast(gy, y.shape)


def maximum(x, y):
    return np.maximum(as_ref(x), as_ref(y))


def maximum_grad(x, y, dy):
    mask = np.asarray(x) >= np.asarray(y)  # ties go to x (TF)
    dy = np.broadcast_to(dy, np.broadcast_shapes(np.shape(x), np.shape(y)))
    return unbroadcast(np.where(mask, dy, 0.0), np.shape(x)), unbroadcast(np.where(mask, 0.0, dy), np.shape(y))


def minimum(x, y):
    return np.minimum(as_ref(x), as_ref(y))


def minimum_grad(x, y, dy):
    mask = np.asarray(x) <= np.asarray(y)  # ties go to x (TF)
    dy = np.broadcast_to(dy, np.broadcast_shapes(np.shape(x), np.shape(y)))
    return unbroadcast(np.where(mask, dy, 0.0), np.shape(x)), unbroadcast(np.where(mask, 0.0, dy), np.shape(y))


BINARY_GRAD = {
    "add": add_grad, "subtract": subtract_grad, "multiply": multiply_grad, "divide": divide_grad,
    "pow": pow_grad, "maximum": maximum_grad, "minimum": minimum_grad,
}


# ---- comparisons (bool results, no gradient) and where ------------------------------------------------
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


def where_grad(cond, x, y, dy):
    """out = where(cond, x, y) (all three broadcast): the gradient goes to x where cond, to y elsewhere."""
    shape = np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y))
    dy = np.broadcast_to(dy, shape)
    c = np.broadcast_to(cond, shape)
    return unbroadcast(np.where(c, dy, 0.0), np.shape(x)), unbroadcast(np.where(c, 0.0, dy), np.shape(y))


# =====================================================================================================
# Softmax family, and the activations of the fused dense op (by their Keras names)
# =====================================================================================================
def softmax(x, axis=-1):
    x = as_ref(x).astype(np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_grad(x, dy, axis=-1):
    s = softmax(x, axis)
    return (dy - np.sum(dy * s, axis=axis, keepdims=True)) * s


def log_softmax(x, axis=-1):
    # (x - max) - log(sum(exp(x - max))): the max never meets the log-sum (stable for huge logits)
    x = as_ref(x).astype(np.float64)
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def log_softmax_grad(x, dy, axis=-1):
    return dy - softmax(x, axis) * np.sum(dy, axis=axis, keepdims=True)


def activate(z, act: str):
    """The fused dense op's activation, by its Keras name (softmax along the last axis)."""
    z = _f(z)
    if act == "linear":
        return z
    if act == "relu":
        return relu(z)
    if act == "sigmoid":
        return sigmoid(z)
    if act == "tanh":
        return tanh(z)
    if act == "softmax":
        return softmax(z)
    raise ValueError(act)


def activate_grad(z, act: str, dy):
    """d/dz of activate(z) contracted with dy."""
    z, dy = _f(z), _f(dy)
    if act == "linear":
        return dy
    if act == "relu":
        return relu_grad(z, dy)
    if act == "sigmoid":
        return sigmoid_grad(z, dy)
    if act == "tanh":
        return tanh_grad(z, dy)
    if act == "softmax":
        return softmax_grad(z, dy)
    raise ValueError(act)


# =====================================================================================================
# Reductions
# =====================================================================================================
def _reduce(fn, x, axis, keepdims, **kw):
    x = as_ref(x)
    axes = _norm_axes(axis, x.ndim)
    return np.asarray(fn(x, axis=axes, keepdims=keepdims, **kw))


def reduce_sum(x, axis=None, keepdims=False):
    return _reduce(np.sum, x, axis, keepdims)


def reduce_sum_grad(x, dy, axis=None):
    return np.broadcast_to(_keep(dy, np.shape(x), axis), np.shape(x)).astype(np.float64)


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


def reduce_mean_grad(x, dy, axis=None):
    axes = _grad_axes(axis, np.ndim(x))
    n = int(np.prod([np.shape(x)[a] for a in axes])) if axes else 1
    return reduce_sum_grad(x, dy, axis) / n


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _extremum_grad(x, dy, axis, fn):
    x = np.asarray(x, dtype=np.float64)
    axes = _grad_axes(axis, x.ndim)
    y = fn(x, axis=axes, keepdims=True)
    ind = (x == y).astype(np.float64)
    return ind / ind.sum(axis=axes, keepdims=True) * _keep(dy, x.shape, axis)


def reduce_max(x, axis=None, keepdims=False):
    # An empty reduction gives the identity of max: -inf, or the lowest value of the integer dtype (TF).
    init = _lowest(np.asarray(x).dtype)
    return _reduce(np.max, x, axis, keepdims, initial=init)


def reduce_max_grad(x, dy, axis=None):
    """Ties split evenly between all maximal elements (TF)."""
    return _extremum_grad(x, dy, axis, np.max)


def reduce_min(x, axis=None, keepdims=False):
    init = _highest(np.asarray(x).dtype)
    return _reduce(np.min, x, axis, keepdims, initial=init)


def reduce_min_grad(x, dy, axis=None):
    return _extremum_grad(x, dy, axis, np.min)


def argmax(x, axis=0):
    # The first index of the maximum along `axis` (TF's choice on ties).
    return np.argmax(as_ref(x), axis=axis).astype(np.int64)


def argmin(x, axis=0):
    return np.argmin(as_ref(x), axis=axis).astype(np.int64)


# =====================================================================================================
# Linalg
# =====================================================================================================
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


def matmul_grad(a, b, dy, transpose_a=False, transpose_b=False):
    """Batched matmul with broadcast batch dims; returns gradients in a's and b's own (stored) layout."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    A = np.swapaxes(a, -1, -2) if transpose_a else a
    B = np.swapaxes(b, -1, -2) if transpose_b else b
    dA = np.matmul(dy, np.swapaxes(B, -1, -2))  # dL/dA = dy B^T
    dB = np.matmul(np.swapaxes(A, -1, -2), dy)  # dL/dB = A^T dy
    if transpose_a:
        dA = np.swapaxes(dA, -1, -2)
    if transpose_b:
        dB = np.swapaxes(dB, -1, -2)
    return unbroadcast(dA, a.shape), unbroadcast(dB, b.shape)


# =====================================================================================================
# Shape and creation
# =====================================================================================================
def transpose(x, perm=None):
    x = as_ref(x)
    if perm is None:
        perm = tuple(builtins.range(x.ndim))[::-1]
    return np.transpose(x, perm)


def transpose_grad(x, dy, perm=None):
    nd = np.ndim(x)
    perm = list(builtins.range(nd))[::-1] if perm is None else list(perm)
    return np.transpose(dy, np.argsort(perm))


def reshape(x, shape):
    return np.reshape(as_ref(x), tuple(shape))


def reshape_grad(x, dy):
    return np.reshape(dy, np.shape(x))


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


def cast_grad(x, dy):
    return np.asarray(dy, dtype=np.float64)


def one_hot(indices, depth, on_value=1.0, off_value=0.0, axis=-1):
    """Indices outside [0, depth) give an all-`off_value` row (TF's rule). Also the one-hot rows of integer
    class labels for the cross-entropy references (float64 by default)."""
    idx = np.asarray(indices).astype(np.int64)
    hot = idx[..., None] == np.arange(depth, dtype=np.int64)
    out = np.where(hot, on_value, off_value)
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return out


def broadcast_to(x, shape):
    return np.broadcast_to(as_ref(x), tuple(shape)).copy()


def broadcast_to_grad(x, dy):
    return unbroadcast(dy, np.shape(x))


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
# Fused ops (tf._core): dense, softmax cross-entropy (dense and sparse labels), pointwise losses
# =====================================================================================================
# ---- dense: activation(x @ W + b), x of any rank >= 1 ------------------------------------------------
def dense_pre(x, W, b=None):
    z = _f(x) @ _f(W)
    if b is not None:
        z = z + _f(b)
    return z


def dense_fwd(x, W, b=None, act: str = "linear"):
    return activate(dense_pre(x, W, b), act)


def dense_bwd(x, W, b, act: str, dy):
    """(dx, dW, db) of sum(dy * dense(x, W, b, act)); x may have any rank >= 1."""
    x, W = _f(x), _f(W)
    z = dense_pre(x, W, b)
    dz = activate_grad(z, act, dy)
    D, K = W.shape
    x2 = x.reshape(-1, D)
    dz2 = dz.reshape(-1, K)
    dx = (dz2 @ W.T).reshape(x.shape)
    dW = x2.T @ dz2
    db = dz2.sum(axis=0) if b is not None else None
    return dx, dW, db


# ---- softmax cross-entropy: per-row loss, rows = all but the last axis ----------------------------------
def smooth_labels(y, s: float):
    """Labels smoothed to y*(1-s) + s/C."""
    y = _f(y)
    if s:
        return y * (1.0 - s) + s / y.shape[-1]
    return y


def softmax_xent_fwd(y, z, s: float = 0.0):
    return -np.sum(smooth_labels(y, s) * log_softmax(z), axis=-1)


def softmax_xent_bwd(y, z, s: float, dloss):
    """Gradient w.r.t. the logits of sum(dloss * loss): (softmax * sum(y) - y) * dloss (exact for any y)."""
    ys = smooth_labels(y, s)
    return (softmax(z) * ys.sum(-1, keepdims=True) - ys) * _f(dloss)[..., None]


def softmax_xent_bwd_labels(y, z, s: float, dloss):
    """Gradient w.r.t. the (unsmoothed) labels: -(1 - s) * log_softmax(z) * dloss."""
    return -(1.0 - s) * log_softmax(z) * _f(dloss)[..., None]


def sparse_xent_fwd(labels, z):
    z = _f(z)
    return softmax_xent_fwd(one_hot(labels, z.shape[-1]), z)


def sparse_xent_bwd(labels, z, dloss):
    z = _f(z)
    return softmax_xent_bwd(one_hot(labels, z.shape[-1]), z, 0.0, dloss)


# ---- pointwise losses: per-sample mean over the last axis; kind = the loss's tf._core function -------------
MSE, HUBER, LOG_COSH = "mean_squared_error", "huber", "log_cosh"
BCE_PROB, BCE_LOGIT = "binary_crossentropy", "binary_crossentropy_from_logits"
POINTWISE_LOSSES = (MSE, HUBER, BCE_PROB, BCE_LOGIT, LOG_COSH)
KERAS_EPSILON = 1e-7


def _clip_bounds(eps: float, clip_dtype=None):
    """[eps, 1 - eps] as the dtype `clip_dtype` represents them (Keras clips a float32 tensor to
    float32(1e-7) and float32(1 - 1e-7) = 0.99999988)."""
    if clip_dtype is None:
        return eps, 1.0 - eps
    T = np.dtype(clip_dtype).type
    return float(T(eps)), float(T(1.0 - eps))


def _pointwise_elem(kind: str, t, p, param: float, clip_dtype=None):
    """The per-element loss. param: Huber's delta, or BCE_PROB's clipping epsilon."""
    t, p = _f(t), _f(p)
    if kind == MSE:
        return (p - t) ** 2
    if kind == HUBER:
        e = p - t
        a = np.abs(e)
        return np.where(a <= param, 0.5 * e * e, param * a - 0.5 * param * param)
    if kind == BCE_PROB:
        lo, hi = _clip_bounds(param, clip_dtype)
        pc = np.clip(p, lo, hi)
        return -(t * np.log(pc) + (1 - t) * np.log(1 - pc))
    if kind == BCE_LOGIT:
        return np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
    if kind == LOG_COSH:  # log(cosh(e)), written stably: |e| + log1p(exp(-2|e|)) - log 2
        a = np.abs(p - t)
        return a + np.log1p(np.exp(-2 * a)) - np.log(2.0)
    raise ValueError(kind)


def _pointwise_elem_grad(kind: str, t, p, param: float, clip_dtype=None):
    t, p = _f(t), _f(p)
    if kind == MSE:
        return 2 * (p - t)
    if kind == HUBER:
        return np.clip(p - t, -param, param)
    if kind == BCE_PROB:
        lo, hi = _clip_bounds(param, clip_dtype)
        inside = (p >= lo) & (p <= hi)
        pc = np.clip(p, lo, hi)
        return np.where(inside, -t / pc + (1 - t) / (1 - pc), 0.0)
    if kind == BCE_LOGIT:
        return sigmoid(p) - t
    if kind == LOG_COSH:
        return np.tanh(p - t)
    raise ValueError(kind)


def pointwise_fwd(kind: str, t, p, param: float = 0.0, clip_dtype=None):
    return np.mean(_pointwise_elem(kind, t, p, param, clip_dtype), axis=-1)


def pointwise_bwd(kind: str, t, p, param: float, dloss, clip_dtype=None):
    """Gradient w.r.t. y_pred of sum(dloss * loss)."""
    p = _f(p)
    D = p.shape[-1] if p.ndim else 1
    return _pointwise_elem_grad(kind, t, p, param, clip_dtype) * _f(dloss)[..., None] / D


def pointwise_bwd_target(kind: str, t, p, param: float, dloss):
    """Gradient w.r.t. y_true (MSE: -2e/D; Huber: -clip(e)/D; BCE probs: -(log p - log(1-p))/D; logits: -x/D)."""
    t, p = _f(t), _f(p)
    D = p.shape[-1]
    if kind == MSE:
        g = -2 * (p - t)
    elif kind == HUBER:
        g = -np.clip(p - t, -param, param)
    elif kind == BCE_PROB:
        pc = np.clip(p, param, 1.0 - param)
        g = -(np.log(pc) - np.log(1 - pc))
    elif kind == LOG_COSH:
        g = -np.tanh(p - t)
    elif kind == BCE_LOGIT:
        g = -p
    else:
        raise ValueError(kind)
    return g * _f(dloss)[..., None] / D


# =====================================================================================================
# Keras losses (Keras 3 numerics, from Keras's source formulas)
# =====================================================================================================
def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    x1, x2 = np.asarray(x1), np.asarray(x2)
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    values = _f(values)
    if sample_weight is not None:
        sw = _f(sample_weight)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        values = values * sw
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = np.sum(values)
    if reduction == "sum":
        return total
    return total / values.size if values.size else 0.0


def mse_per_sample(y_true, y_pred):
    return pointwise_fwd(MSE, y_true, y_pred)


def huber_per_sample(y_true, y_pred, delta=1.0):
    return pointwise_fwd(HUBER, y_true, y_pred, delta)


def log_cosh_per_sample(y_true, y_pred):
    """Keras's log_cosh, as written there: mean(x + softplus(-2x) - log 2) over the last axis, x = y_pred - y_true."""
    x = _f(y_pred) - _f(y_true)
    return np.mean(x + np.logaddexp(0.0, -2.0 * x) - np.log(2.0), axis=-1)


def bce_per_sample(y_true, y_pred, from_logits=False, label_smoothing=0.0, clip_dtype=np.float32):
    y_true = _f(y_true)
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    return pointwise_fwd(BCE_LOGIT if from_logits else BCE_PROB, y_true, y_pred, KERAS_EPSILON, clip_dtype)


def cce_per_sample(y_true, y_pred, from_logits=False, label_smoothing=0.0, clip_dtype=np.float32):
    """Keras categorical_crossentropy. On probabilities: renormalise rows, clip to [eps, 1-eps]."""
    y_true = smooth_labels(y_true, label_smoothing)
    if from_logits:
        return softmax_xent_fwd(y_true, y_pred)
    p = _f(y_pred)
    p = p / p.sum(-1, keepdims=True)
    p = np.clip(p, *_clip_bounds(KERAS_EPSILON, clip_dtype))
    return -np.sum(y_true * np.log(p), axis=-1)


def sparse_cce_per_sample(y_true, y_pred, from_logits=False, clip_dtype=np.float32):
    """Keras sparse_categorical_crossentropy. On probabilities: log(clip(p)) taken as logits."""
    y_true = np.asarray(y_true)
    p = _f(y_pred)
    if y_true.ndim == p.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if not from_logits:
        p = np.log(np.clip(p, *_clip_bounds(KERAS_EPSILON, clip_dtype)))
    return sparse_xent_fwd(y_true.astype(np.int64), p)


def keras_loss(kind: str, y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size", **kw):
    fn = {"mse": mse_per_sample, "huber": huber_per_sample, "bce": bce_per_sample, "cce": cce_per_sample,
          "scce": sparse_cce_per_sample, "log_cosh": log_cosh_per_sample}[kind]
    yt, yp = np.asarray(y_true, F64), np.asarray(y_pred, F64)
    if kind != "scce":
        yt, yp = squeeze_or_expand_to_same_rank(yt, yp)
    return reduce_weighted_values(fn(yt, yp, **kw), sample_weight, reduction)


# =====================================================================================================
# Keras optimizers (in the variable's dtype, Keras's operation order)
# =====================================================================================================
def keras_lr(lr: float, dtype) -> np.generic:
    """Keras keeps the learning rate in a float32 variable, then casts it to the variable's dtype."""
    return np.dtype(dtype).type(np.float32(lr))


class NumpySGD:
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        self.lr, self.momentum, self.nesterov = learning_rate, momentum, nesterov
        self.m: Optional[List[np.ndarray]] = None

    def step(self, params: List[np.ndarray], grads: List[np.ndarray]) -> None:
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
        for p, g, m in zip(params, grads, self.m):
            T = p.dtype.type
            lr = keras_lr(self.lr, p.dtype)
            g = g.astype(p.dtype)
            if self.momentum != 0:
                mu = T(self.momentum)
                m[...] = m * mu - g * lr
                if self.nesterov:
                    p[...] = p + (m * mu - g * lr)
                else:
                    p[...] = p + m
            else:
                p[...] = p - g * lr


class NumpyAdam:
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        self.lr, self.b1, self.b2, self.eps, self.amsgrad = learning_rate, beta_1, beta_2, epsilon, amsgrad
        self.t = 0
        self.m = self.v = self.vhat = None

    def step(self, params: List[np.ndarray], grads: List[np.ndarray]) -> None:
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self.vhat = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v, vh in zip(params, grads, self.m, self.v, self.vhat):
            T = p.dtype.type
            lr = keras_lr(self.lr, p.dtype)
            g = g.astype(p.dtype)
            step = T(self.t)
            b1p = np.power(T(self.b1), step)
            b2p = np.power(T(self.b2), step)
            alpha = lr * np.sqrt(T(1) - b2p) / (T(1) - b1p)
            m[...] = m + (g - m) * T(1 - self.b1)
            v[...] = v + (g * g - v) * T(1 - self.b2)
            vv = v
            if self.amsgrad:
                vh[...] = np.maximum(vh, v)
                vv = vh
            p[...] = p - (m * alpha) / (np.sqrt(vv) + T(self.eps))


def mlp_loss_and_grads(params: List[np.ndarray], X, Y):
    """A small MLP in float64: params = [W1, b1, W2, b2]; loss = mean CCE of softmax(relu(X W1 + b1) W2 + b2)
    (the fused logits path) and its gradients."""
    W1, b1, W2, b2 = [_f(p) for p in params]
    X, Y = _f(X), _f(Y)
    z1 = X @ W1 + b1
    h = np.maximum(z1, 0)
    z2 = h @ W2 + b2
    per = softmax_xent_fwd(Y, z2)
    N = X.shape[0]
    loss = per.mean()
    dz2 = softmax_xent_bwd(Y, z2, 0.0, np.full(N, 1.0 / N))
    dW2 = h.T @ dz2
    db2 = dz2.sum(0)
    dh = dz2 @ W2.T
    dz1 = dh * (z1 > 0)
    dW1 = X.T @ dz1
    db1 = dz1.sum(0)
    return loss, [dW1, db1, dW2, db2]


# =====================================================================================================
# Finite differences: the one numerical-derivative helper
# =====================================================================================================
def central_difference(f: Callable[..., np.ndarray], inputs: Sequence[np.ndarray], dy: Optional[np.ndarray] = None,
                       eps: float = 1e-6, wrt: Optional[Sequence[int]] = None,
                       direction: Optional[Sequence[np.ndarray]] = None) -> List[Optional[np.ndarray]]:
    """Central differences in float64 of ``f(*inputs)`` (`f` maps float64 arrays to an array or a scalar).

    Without `direction`: the numerical gradient of ``sum(f(*inputs) * dy)`` (dy defaults to ones) with respect
    to each input, ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` per element; None for inputs not in `wrt`.

    With `direction` (one array per input): the directional derivative ``(f(x + eps v) - f(x - eps v)) / 2 eps``
    of a list-valued `f` (a Hessian-vector product when `f` is a gradient); None where `f` gives None."""
    inputs = [np.array(v, dtype=np.float64) for v in inputs]
    if direction is not None:
        plus = f(*[x + eps * _f(v) for x, v in zip(inputs, direction)])
        minus = f(*[x - eps * _f(v) for x, v in zip(inputs, direction)])
        return [None if a is None else (a - b) / (2 * eps) for a, b in zip(plus, minus)]
    out0 = np.asarray(f(*inputs), dtype=np.float64)
    w = np.ones_like(out0) if dy is None else np.broadcast_to(np.asarray(dy, dtype=np.float64), out0.shape)

    def loss(args):
        return float(np.sum(np.asarray(f(*args), dtype=np.float64) * w))

    grads: List[Optional[np.ndarray]] = []
    for k, v in enumerate(inputs):
        if wrt is not None and k not in wrt:
            grads.append(None)
            continue
        g = np.zeros_like(v)
        flat = v.reshape(-1)
        gflat = g.reshape(-1)
        for i in builtins.range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            lp = loss(inputs)
            flat[i] = orig - eps
            lm = loss(inputs)
            flat[i] = orig
            gflat[i] = (lp - lm) / (2.0 * eps)
        grads.append(g)
    return grads
