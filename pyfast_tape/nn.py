"""``tf.nn``: activations and softmax cross-entropies."""
from __future__ import annotations

from typing import Any, Optional

from . import _core
from ._core import log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401


def softmax_cross_entropy_with_logits(labels: Any, logits: Any, axis: int = -1,
                                      name: Optional[str] = None) -> _core.Tensor:
    """Per-example cross-entropy ``-sum(labels * log_softmax(logits))`` along `axis`."""
    logits = _core.convert(logits)
    labels = _core.convert(labels, logits.dtype)
    return _core.negative(_core.reduce_sum(_core.multiply(labels, _core.log_softmax(logits, axis)), axis))


def sparse_softmax_cross_entropy_with_logits(labels: Any, logits: Any,
                                             name: Optional[str] = None) -> _core.Tensor:
    """Per-example cross-entropy of integer class labels against logits (last axis)."""
    logits = _core.convert(logits)
    labels = _core.convert(labels)
    if not labels.dtype.is_integer:
        raise TypeError(f"sparse_softmax_cross_entropy_with_logits: labels must be int32 or int64, got {labels.dtype}")
    depth = logits.shape[-1]
    import numpy as np
    lab = np.asarray(labels)
    if lab.size and (lab.min() < 0 or lab.max() >= depth):
        raise _core.InvalidArgumentError(
            f"sparse_softmax_cross_entropy_with_logits: received a label value of {int(lab.max() if lab.max() >= depth else lab.min())} "
            f"which is outside the valid range of [0, {depth})")
    onehot = _core.one_hot(labels, depth, dtype=logits.dtype)
    return softmax_cross_entropy_with_logits(onehot, logits)


__all__ = ["log_softmax", "relu", "sigmoid", "softmax", "tanh", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits"]
