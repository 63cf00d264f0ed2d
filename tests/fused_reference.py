"""Independent NumPy references for the fused ops and the Keras pieces built on them.

Everything here is plain NumPy written from the math (and from Keras 3's source formulas), never from
pyfast_tape. Forward and backward of the fused ops are computed in float64; the Keras optimizer
references run "in the variable's dtype" (float32 or float64) with Keras's operation order, so a
float32 trajectory can be compared tightly.

Fused ops (activations by their Keras names, the keys of ``tf._core.ACTIVATIONS``):

* ``dense_fwd(x, W, b, act)`` / ``dense_bwd(x, W, b, act, dy)`` -> (dx, dW, db)
* ``softmax_xent_fwd(y, z, s)`` / ``softmax_xent_bwd(y, z, s, dloss)`` -> dz  (per-row loss, rows = all
  but the last axis; labels smoothed to ``y*(1-s) + s/C``)
* ``sparse_xent_fwd(labels, z)`` / ``sparse_xent_bwd(labels, z, dloss)``
* ``pointwise_fwd(kind, t, p, param)`` / ``pointwise_bwd(kind, t, p, param, dloss)`` -> dp, kind the
  loss's name (its ``tf._core`` function): MSE, HUBER (param delta), BCE_PROB (clip to [eps, 1-eps]),
  BCE_LOGIT, LOG_COSH; per-sample mean over the last axis.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

F64 = np.float64
KERAS_EPSILON = 1e-7


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=F64)


# ---- activations ------------------------------------------------------------------------------------
def sigmoid(z):
    z = _f(z)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def logsumexp(z, axis=-1, keepdims=False):
    z = _f(z)
    m = np.max(z, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def softmax(z, axis=-1):
    z = _f(z)
    return np.exp(z - logsumexp(z, axis=axis, keepdims=True))


def log_softmax(z, axis=-1):
    z = _f(z)
    return z - logsumexp(z, axis=axis, keepdims=True)


def activate(z, act: str):
    z = _f(z)
    if act == "linear":
        return z
    if act == "relu":
        return np.maximum(z, 0.0)
    if act == "sigmoid":
        return sigmoid(z)
    if act == "tanh":
        return np.tanh(z)
    if act == "softmax":
        return softmax(z)
    raise ValueError(act)


def activation_vjp(z, act: str, dy):
    """d/dz of activate(z) contracted with dy (softmax along the last axis)."""
    z, dy = _f(z), _f(dy)
    if act == "linear":
        return dy
    if act == "relu":
        return dy * (z > 0)
    if act == "sigmoid":
        s = sigmoid(z)
        return dy * s * (1 - s)
    if act == "tanh":
        return dy * (1 - np.tanh(z) ** 2)
    if act == "softmax":
        s = softmax(z)
        return s * (dy - np.sum(dy * s, axis=-1, keepdims=True))
    raise ValueError(act)


# ---- dense ---------------------------------------------------------------------------------------------
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
    dz = activation_vjp(z, act, dy)
    D, K = W.shape
    x2 = x.reshape(-1, D)
    dz2 = dz.reshape(-1, K)
    dx = (dz2 @ W.T).reshape(x.shape)
    dW = x2.T @ dz2
    db = dz2.sum(axis=0) if b is not None else None
    return dx, dW, db


# ---- softmax cross-entropy ---------------------------------------------------------------------------------
def smooth_labels(y, s: float):
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


def one_hot(labels, C: int):
    labels = np.asarray(labels)
    out = np.zeros(labels.shape + (C,), F64)
    np.put_along_axis(out, labels[..., None].astype(np.int64), 1.0, axis=-1)
    return out


def sparse_xent_fwd(labels, z):
    z = _f(z)
    return softmax_xent_fwd(one_hot(labels, z.shape[-1]), z)


def sparse_xent_bwd(labels, z, dloss):
    z = _f(z)
    return softmax_xent_bwd(one_hot(labels, z.shape[-1]), z, 0.0, dloss)


# ---- pointwise losses ---------------------------------------------------------------------------------------
MSE, HUBER, LOG_COSH = "mean_squared_error", "huber", "log_cosh"
BCE_PROB, BCE_LOGIT = "binary_crossentropy", "binary_crossentropy_from_logits"
POINTWISE_LOSSES = (MSE, HUBER, BCE_PROB, BCE_LOGIT, LOG_COSH)


def _clip_bounds(eps: float, clip_dtype=None):
    """[eps, 1 - eps] as the dtype `clip_dtype` represents them (Keras clips a float32 tensor to
    float32(1e-7) and float32(1 - 1e-7) = 0.99999988)."""
    if clip_dtype is None:
        return eps, 1.0 - eps
    T = np.dtype(clip_dtype).type
    return float(T(eps)), float(T(1.0 - eps))


def _pointwise_elem(kind: str, t, p, param: float, clip_dtype=None):
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


# ---- numerical helpers -------------------------------------------------------------------------------------
def numeric_grad(f: Callable[[np.ndarray], float], x, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of a scalar float64 function (used to check the references themselves)."""
    x = _f(x).copy()
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def directional_derivative(g: Callable[[List[np.ndarray]], List[np.ndarray]], params: Sequence[np.ndarray],
                           direction: Sequence[np.ndarray], h: float = 1e-5) -> List[np.ndarray]:
    """(g(params + h v) - g(params - h v)) / 2h for a list-valued function g (a Hessian-vector product
    when g is a gradient)."""
    plus = g([_f(p) + h * _f(v) for p, v in zip(params, direction)])
    minus = g([_f(p) - h * _f(v) for p, v in zip(params, direction)])
    return [None if a is None else (a - b) / (2 * h) for a, b in zip(plus, minus)]


# ---- Keras losses (Keras 3 numerics) ------------------------------------------------------------------------
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


# ---- Keras optimizers (in the variable's dtype, Keras's operation order) ------------------------------------
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


# ---- a small MLP in float64 (Dense relu -> Dense softmax -> CCE via logits, Adam) ------------------------
def mlp_loss_and_grads(params: List[np.ndarray], X, Y):
    """params = [W1, b1, W2, b2]; loss = mean CCE of softmax(relu(X W1 + b1) W2 + b2) (the fused logits path)."""
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
