"""Analytic NumPy float64 gradients (vector-Jacobian products) for every op with a backward rule, and a
central-difference helper. Independent of pyfast_tape: nothing here imports it.

Each ``<op>_grad(..., dy)`` returns the gradient of ``sum(op(...) * dy)`` with respect to each input,
already summed back to that input's shape (NumPy broadcasting). Tie and kink conventions are
TensorFlow's: ``abs'(0) = 0``, ``relu'(0) = 0``, ``maximum`` sends ties to x (``x >= y``), ``minimum``
likewise (``x <= y``), ``reduce_max``/``reduce_min`` split the gradient evenly between tied extrema,
``pow``'s exponent gradient is 0 where the base is not positive.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

Axis = Union[None, int, Sequence[int]]


# ---- helpers ---------------------------------------------------------------------------------------------
def unbroadcast(g: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """Sums `g` (of a broadcast shape) back to `shape`: leading extra dims, then dims where shape has 1."""
    g = np.asarray(g, dtype=np.float64)
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead > 0:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _axes(axis: Axis, ndim: int) -> Tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = [int(axis)]
    return tuple(sorted(int(a) % ndim for a in axis)) if ndim else ()


def _keep(dy: np.ndarray, x_shape: Tuple[int, ...], axis: Axis) -> np.ndarray:
    """Reshapes a reduction's upstream gradient to keepdims form, so it broadcasts against x."""
    axes = _axes(axis, len(x_shape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(x_shape))
    return np.asarray(dy, dtype=np.float64).reshape(kept)


# ---- NumPy float64 forwards (for central differences of the references themselves) ----------------------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def relu(x):
    return np.maximum(x, 0.0)


def rsqrt(x):
    return 1.0 / np.sqrt(x)


def matmul(a, b, transpose_a=False, transpose_b=False):
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


FORWARD = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "negative": np.negative, "abs": np.abs, "square": np.square, "sqrt": np.sqrt, "exp": np.exp,
    "log": np.log, "log1p": np.log1p, "tanh": np.tanh, "sigmoid": sigmoid, "reciprocal": np.reciprocal, "rsqrt": rsqrt,
    "relu": relu, "identity": lambda x: np.array(x, copy=True),
}


# ---- elementwise binary ----------------------------------------------------------------------------------
def add_grad(x, y, dy):
    return unbroadcast(dy, np.shape(x)), unbroadcast(dy, np.shape(y))


def subtract_grad(x, y, dy):
    return unbroadcast(dy, np.shape(x)), unbroadcast(-np.asarray(dy), np.shape(y))


def multiply_grad(x, y, dy):
    return unbroadcast(dy * y, np.shape(x)), unbroadcast(dy * x, np.shape(y))


def divide_grad(x, y, dy):
    # z = x / y: dz/dx = 1/y, dz/dy = -x / y^2
    return unbroadcast(dy / y, np.shape(x)), unbroadcast(-dy * x / (y * y), np.shape(y))


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


def maximum_grad(x, y, dy):
    mask = np.asarray(x) >= np.asarray(y)  # ties go to x (TF)
    dy = np.broadcast_to(dy, np.broadcast_shapes(np.shape(x), np.shape(y)))
    return unbroadcast(np.where(mask, dy, 0.0), np.shape(x)), unbroadcast(np.where(mask, 0.0, dy), np.shape(y))


def minimum_grad(x, y, dy):
    mask = np.asarray(x) <= np.asarray(y)  # ties go to x (TF)
    dy = np.broadcast_to(dy, np.broadcast_shapes(np.shape(x), np.shape(y)))
    return unbroadcast(np.where(mask, dy, 0.0), np.shape(x)), unbroadcast(np.where(mask, 0.0, dy), np.shape(y))


def where_grad(cond, x, y, dy):
    """out = where(cond, x, y) (all three broadcast): the gradient goes to x where cond, to y elsewhere."""
    shape = np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y))
    dy = np.broadcast_to(dy, shape)
    c = np.broadcast_to(cond, shape)
    return unbroadcast(np.where(c, dy, 0.0), np.shape(x)), unbroadcast(np.where(c, 0.0, dy), np.shape(y))


BINARY_GRAD = {
    "add": add_grad, "subtract": subtract_grad, "multiply": multiply_grad, "divide": divide_grad,
    "pow": pow_grad, "maximum": maximum_grad, "minimum": minimum_grad,
}


# ---- elementwise unary (dy has x's shape) ----------------------------------------------------------------
def negative_grad(x, dy):
    return -dy


def abs_grad(x, dy):
    return dy * np.sign(x)  # 0 at x == 0


def square_grad(x, dy):
    return dy * 2.0 * x


def sqrt_grad(x, dy):
    return dy * 0.5 / np.sqrt(x)


def exp_grad(x, dy):
    return dy * np.exp(x)


def log_grad(x, dy):
    return dy / x


def tanh_grad(x, dy):
    t = np.tanh(x)
    return dy * (1.0 - t * t)


def sigmoid_grad(x, dy):
    s = sigmoid(x)
    return dy * s * (1.0 - s)


def reciprocal_grad(x, dy):
    return -dy / (x * x)


def log1p_grad(x, dy):
    return dy / (1.0 + x)


def rsqrt_grad(x, dy):
    return -0.5 * dy * np.power(x, -1.5)


def relu_grad(x, dy):
    return np.where(np.asarray(x) > 0, dy, 0.0)  # 0 at x == 0


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


# ---- softmax family ----------------------------------------------------------------------------------------
def softmax_grad(x, dy, axis=-1):
    s = softmax(x, axis)
    return (dy - np.sum(dy * s, axis=axis, keepdims=True)) * s


def log_softmax_grad(x, dy, axis=-1):
    return dy - softmax(x, axis) * np.sum(dy, axis=axis, keepdims=True)


# ---- reductions --------------------------------------------------------------------------------------------
def reduce_sum_grad(x, dy, axis=None):
    return np.broadcast_to(_keep(dy, np.shape(x), axis), np.shape(x)).astype(np.float64)


def reduce_mean_grad(x, dy, axis=None):
    axes = _axes(axis, np.ndim(x))
    n = int(np.prod([np.shape(x)[a] for a in axes])) if axes else 1
    return reduce_sum_grad(x, dy, axis) / n


def _extremum_grad(x, dy, axis, fn):
    x = np.asarray(x, dtype=np.float64)
    axes = _axes(axis, x.ndim)
    y = fn(x, axis=axes, keepdims=True)
    ind = (x == y).astype(np.float64)
    return ind / ind.sum(axis=axes, keepdims=True) * _keep(dy, x.shape, axis)


def reduce_max_grad(x, dy, axis=None):
    """Ties split evenly between all maximal elements (TF)."""
    return _extremum_grad(x, dy, axis, np.max)


def reduce_min_grad(x, dy, axis=None):
    return _extremum_grad(x, dy, axis, np.min)


# ---- linear algebra and shape ----------------------------------------------------------------------------
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


def transpose_grad(x, dy, perm=None):
    nd = np.ndim(x)
    perm = list(range(nd))[::-1] if perm is None else list(perm)
    return np.transpose(dy, np.argsort(perm))


def reshape_grad(x, dy):
    return np.reshape(dy, np.shape(x))


def broadcast_to_grad(x, dy):
    return unbroadcast(dy, np.shape(x))


def cast_grad(x, dy):
    return np.asarray(dy, dtype=np.float64)


# ---- central differences -----------------------------------------------------------------------------------
def central_difference(f: Callable[..., np.ndarray], inputs: Sequence[np.ndarray], dy: Optional[np.ndarray] = None,
                       eps: float = 1e-6, wrt: Optional[Sequence[int]] = None) -> List[np.ndarray]:
    """Numerical gradient of ``sum(f(*inputs) * dy)`` with respect to each input (float64):
    ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` per element. `f` maps float64 arrays to an array."""
    inputs = [np.array(v, dtype=np.float64) for v in inputs]
    out0 = np.asarray(f(*inputs), dtype=np.float64)
    w = np.ones_like(out0) if dy is None else np.broadcast_to(np.asarray(dy, dtype=np.float64), out0.shape)

    def loss(args):
        return float(np.sum(np.asarray(f(*args), dtype=np.float64) * w))

    grads = []
    for k, v in enumerate(inputs):
        if wrt is not None and k not in wrt:
            grads.append(None)
            continue
        g = np.zeros_like(v)
        flat = v.reshape(-1)
        gflat = g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            lp = loss(inputs)
            flat[i] = orig - eps
            lm = loss(inputs)
            flat[i] = orig
            gflat[i] = (lp - lm) / (2.0 * eps)
        grads.append(g)
    return grads
