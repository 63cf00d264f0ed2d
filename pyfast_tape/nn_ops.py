"""``tf.nn`` functions written as TensorFlow defines them, from native differentiable ops (so their gradients
of any order come from the tape): relu6, leaky_relu, elu, selu, gelu, silu/swish, dropout, l2_loss, moments,
bias_add, sigmoid_cross_entropy_with_logits, embedding_lookup, and the clipping functions clip_by_norm,
clip_by_global_norm, global_norm.
"""
from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from . import _core
from ._pyops import as_tensor as _t


def _c(v: float, like: Any) -> Any:
    """A scalar constant of `like`'s dtype."""
    return _core.convert(v, like.dtype)


def _float(op: str, x: Any) -> Any:
    x = _t(x)
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: expected a float32 or float64 tensor, got {x.dtype.name} (use tf.cast first)")
    return x


def relu6(features: Any, name: Optional[str] = None) -> Any:
    """min(max(x, 0), 6)."""
    x = _float("relu6", features)
    return _core.minimum(_core.relu(x), _c(6.0, x))


def leaky_relu(features: Any, alpha: float = 0.2, name: Optional[str] = None) -> Any:
    """x where x > 0, alpha * x elsewhere (TF's default alpha is 0.2)."""
    x = _float("leaky_relu", features)
    return _core.where(_core.greater(x, _c(0.0, x)), x, _core.multiply(x, _c(alpha, x)))


def elu(features: Any, name: Optional[str] = None) -> Any:
    """x where x > 0, exp(x) - 1 elsewhere (TF's kernel: exp - 1, not expm1)."""
    x = _float("elu", features)
    return _core.where(_core.greater(x, _c(0.0, x)), x, _core.subtract(_core.exp(x), _c(1.0, x)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features: Any, name: Optional[str] = None) -> Any:
    """scale * (x where x > 0, alpha * (exp(x) - 1) elsewhere), TF's constants."""
    x = _float("selu", features)
    neg = _core.multiply(_c(_SELU_ALPHA, x), _core.subtract(_core.exp(x), _c(1.0, x)))
    return _core.multiply(_c(_SELU_SCALE, x), _core.where(_core.greater(x, _c(0.0, x)), x, neg))


def gelu(features: Any, approximate: bool = False, name: Optional[str] = None) -> Any:
    """TF's gelu: 0.5 x (1 + erf(x / sqrt(2))), or with approximate=True
    0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    x = _float("gelu", features)
    half_x = _core.multiply(_c(0.5, x), x)
    if approximate:
        inner = _core.multiply(_c(math.sqrt(2.0 / math.pi), x),
                               _core.add(x, _core.multiply(_c(0.044715, x), _core.pow(x, _c(3.0, x)))))
        return _core.multiply(half_x, _core.add(_c(1.0, x), _core.tanh(inner)))
    erf = getattr(_core, "erf", None)
    if erf is None:
        raise NotImplementedError("gelu: the exact form needs tf.math.erf, which this build lacks; use approximate=True")
    return _core.multiply(half_x, _core.add(_c(1.0, x), erf(_core.multiply(x, _c(1.0 / math.sqrt(2.0), x)))))


def silu(features: Any, beta: float = 1.0, name: Optional[str] = None) -> Any:
    """x * sigmoid(beta * x) (tf.nn.silu, tf.nn.swish)."""
    x = _float("silu", features)
    bx = x if beta == 1.0 else _core.multiply(_c(beta, x), x)
    return _core.multiply(x, _core.sigmoid(bx))


swish = silu


def dropout(x: Any, rate: Any, noise_shape: Optional[Sequence[int]] = None, seed: Optional[int] = None,
            name: Optional[str] = None) -> Any:
    """Zeroes elements with probability `rate` and scales the others by 1 / (1 - rate), TF's rule: keep where
    uniform[0, 1) >= rate."""
    from . import random as _random
    t = _float("dropout", x)
    r = float(rate.numpy()) if isinstance(rate, (_core.Tensor, _core.VariableBase)) else float(rate)
    if not 0.0 <= r < 1.0:
        raise ValueError(f"dropout: rate must be a scalar tensor or a float in the range [0, 1), got {r}")
    if r == 0.0:
        return _core.identity(t)
    shape = list(t.shape) if noise_shape is None else [int(d) if d is not None else int(t.shape[i])
                                                      for i, d in enumerate(noise_shape)]
    u = _random.uniform(shape, dtype=t.dtype, seed=seed)
    keep = _core.cast(_core.greater_equal(u, _c(r, t)), t.dtype)
    return _core.multiply(_core.multiply(t, _c(1.0 / (1.0 - r), t)), keep)


def l2_loss(t: Any, name: Optional[str] = None) -> Any:
    """sum(t ** 2) / 2."""
    x = _float("l2_loss", t)
    return _core.multiply(_core.reduce_sum(_core.square(x)), _c(0.5, x))


def moments(x: Any, axes: Sequence[int], shift: Any = None, keepdims: bool = False,
            name: Optional[str] = None) -> Tuple[Any, Any]:
    """(mean, variance) over `axes`; the variance uses the mean with its gradient stopped, as TF's."""
    t = _float("moments", x)
    axes = list(axes)
    mean = _core.reduce_mean(t, axis=axes, keepdims=True)
    var = _core.reduce_mean(_core.square(_core.subtract(t, _core.stop_gradient(mean))), axis=axes, keepdims=True)
    if not keepdims:
        keep = [d for i, d in enumerate(t.shape) if i not in [a % len(t.shape) for a in axes]]
        mean, var = _core.reshape(mean, keep), _core.reshape(var, keep)
    return mean, var


def bias_add(value: Any, bias: Any, data_format: Optional[str] = None, name: Optional[str] = None) -> Any:
    """value + bias along the last axis (NHWC), or axis 1 for data_format 'NC...'."""
    v, b = _t(value), _t(bias)
    if len(b.shape) != 1:
        raise ValueError(f"bias_add: bias must be 1-D, got shape {tuple(b.shape)}")
    if len(v.shape) < 2:
        raise ValueError(f"bias_add: value must have rank >= 2, got shape {tuple(v.shape)}")
    if data_format is not None and data_format.startswith("NC"):
        if int(v.shape[1]) != int(b.shape[0]):
            raise ValueError(f"bias_add: bias of size {int(b.shape[0])} does not match dimension 1 of {tuple(v.shape)}")
        return _core.add(v, _core.reshape(b, [int(b.shape[0])] + [1] * (len(v.shape) - 2)))
    if int(v.shape[-1]) != int(b.shape[0]):
        raise ValueError(f"bias_add: bias of size {int(b.shape[0])} does not match the last dimension of "
                         f"{tuple(v.shape)}")
    return _core.add(v, b)


def sigmoid_cross_entropy_with_logits(labels: Any = None, logits: Any = None, name: Optional[str] = None) -> Any:
    """max(x, 0) - x * z + log(1 + exp(-|x|)), TF's stable form."""
    x = _float("sigmoid_cross_entropy_with_logits", logits)
    z = _t(labels)
    if z.dtype != x.dtype:
        raise ValueError(f"sigmoid_cross_entropy_with_logits: logits and labels must have the same dtype, got "
                         f"{x.dtype.name} and {z.dtype.name}")
    if tuple(z.shape) != tuple(x.shape):
        raise ValueError(f"sigmoid_cross_entropy_with_logits: logits and labels must have the same shape "
                         f"({tuple(x.shape)} vs {tuple(z.shape)})")
    softplus_neg_abs = _core.log1p(_core.exp(_core.negative(_core.abs(x))))
    return _core.add(_core.subtract(_core.relu(x), _core.multiply(x, z)), softplus_neg_abs)


def weighted_cross_entropy_with_logits(labels: Any, logits: Any, pos_weight: Any, name: Optional[str] = None) -> Any:
    """TF's: (1 - z) x + (1 + (q - 1) z) (log1p(exp(-|x|)) + max(-x, 0))."""
    x = _float("weighted_cross_entropy_with_logits", logits)
    z = _t(labels)
    q = _core.convert(pos_weight, x.dtype) if not isinstance(pos_weight, _core.Tensor) else pos_weight
    log_weight = _core.add(_c(1.0, x), _core.multiply(_core.subtract(q, _c(1.0, x)), z))
    tail = _core.add(_core.log1p(_core.exp(_core.negative(_core.abs(x)))), _core.relu(_core.negative(x)))
    return _core.add(_core.multiply(_core.subtract(_c(1.0, x), z), x), _core.multiply(log_weight, tail))


def embedding_lookup(params: Any, ids: Any, max_norm: Any = None, name: Optional[str] = None) -> Any:
    """The rows of `params` at `ids` (tf.gather on axis 0); differentiable with respect to params."""
    if max_norm is not None:
        raise NotImplementedError("embedding_lookup: max_norm is not supported")
    from . import array_ops
    return array_ops.gather(params, ids)


# ---- clipping ------------------------------------------------------------------------------------------------
def clip_by_norm(t: Any, clip_norm: Any, axes: Any = None, name: Optional[str] = None) -> Any:
    """t * clip_norm / max(l2norm(t, axes), clip_norm), TF's formula (a zero tensor stays zero)."""
    x = _float("clip_by_norm", t)
    cn = _core.convert(clip_norm, x.dtype) if not isinstance(clip_norm, _core.Tensor) else clip_norm
    l2sum = _core.reduce_sum(_core.square(x), axis=axes, keepdims=True)
    pred = _core.greater(l2sum, _c(0.0, x))
    l2sum_safe = _core.where(pred, l2sum, _core.fill_like(l2sum, 1.0, None))
    l2norm = _core.where(pred, _core.sqrt(l2sum_safe), l2sum)
    return _core.divide(_core.multiply(x, cn), _core.maximum(l2norm, cn))


def global_norm(t_list: Sequence[Any], name: Optional[str] = None) -> Any:
    """sqrt(sum of l2_loss(t) * 2 over the list) (None entries are skipped)."""
    ts = [_t(t) for t in t_list if t is not None]
    if not ts:
        raise ValueError("global_norm: t_list must contain at least one tensor")
    half_sq = [l2_loss(t) for t in ts]
    total = half_sq[0]
    for h in half_sq[1:]:
        total = _core.add(total, _core.cast(h, total.dtype))
    return _core.sqrt(_core.multiply(total, _c(2.0, total)))


def clip_by_global_norm(t_list: Sequence[Any], clip_norm: Any, use_norm: Any = None,
                        name: Optional[str] = None) -> Tuple[List[Any], Any]:
    """(list scaled by clip_norm / max(global_norm, clip_norm), global_norm), TF's formula: a non-finite
    norm makes every output NaN."""
    if isinstance(t_list, (_core.Tensor, _core.VariableBase)) or not isinstance(t_list, (list, tuple)):
        raise TypeError("clip_by_global_norm: t_list should be a sequence")
    gn = global_norm(t_list) if use_norm is None else _t(use_norm)
    cn = _core.convert(clip_norm, gn.dtype) if not isinstance(clip_norm, _core.Tensor) else clip_norm
    one = _c(1.0, gn)
    scale_finite = _core.multiply(cn, _core.minimum(_core.divide(one, gn), _core.divide(one, cn)))
    scale = _core.add(scale_finite, _core.subtract(gn, gn))  # NaN when the norm is not finite
    out = [None if t is None else _core.multiply(_t(t), _core.cast(scale, _t(t).dtype)) for t in t_list]
    return out, gn


__all__ = ["relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "dropout", "l2_loss", "moments",
           "bias_add", "sigmoid_cross_entropy_with_logits", "weighted_cross_entropy_with_logits", "embedding_lookup",
           "clip_by_norm", "global_norm", "clip_by_global_norm"]
